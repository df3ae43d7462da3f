//! The control API: one operation dispatcher behind two transports.
//!
//! * [`socket`]: `$PAIOS_HOME/paios.sock` (mode 0600), newline-delimited JSON — for the local CLIs
//!   and hooks: `{"op":"core.emit","args":{…}}` → `{"ok":true,"result":…}` or
//!   `{"ok":false,"error":{"code":"…","message":"…"}}`.
//! * [`http`]: axum on `127.0.0.1:<port>` — bearer token, Origin/Host checks, the panel's static
//!   files, `GET /api/status`, `GET /api/events`, `GET /api/stream` (SSE) and
//!   `POST /api/rpc/{op}` for the same operations as the socket.
//!
//! Operations are named `<module>.<verb>`; each module owns its verbs in its own `api.rs`.
//! Nothing here holds business logic.

pub mod http;
pub mod settings;
pub mod socket;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::Core;
use crate::events::Event;
use crate::store::EventQuery;

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// Machine-readable, snake case: `bad_request`, `not_found`, `unknown_op`, `conflict`,
    /// `internal`, or a module's own code. The HTTP transport maps it to a status.
    pub code: String,
    /// For people: what went wrong and, where there is one, what to do.
    pub message: String,
}

impl ApiError {
    /// An error with any `code`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
    /// The arguments are malformed or refused (HTTP 400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new("bad_request", message)
    }
    /// What the arguments name does not exist (HTTP 404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("not_found", message)
    }
    /// The core failed to carry out a valid request (a store error, …; HTTP 500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("internal", message)
    }
    /// No operation `module.verb` exists (HTTP 404).
    pub fn unknown_op(module: &str, verb: &str) -> Self {
        Self::new("unknown_op", format!("unknown operation {module}.{verb}"))
    }
}

/// A request on either transport.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The operation, `module.verb` (`core.emit`, `watchdog.restart`, …).
    pub op: String,
    /// Its arguments, an object whose fields the operation defines; `null` when absent.
    #[serde(default)]
    pub args: Value,
}

/// Run one operation.
pub async fn dispatch(core: &Core, op: &str, args: Value) -> Result<Value, ApiError> {
    let (module, verb) = op.split_once('.').ok_or_else(|| {
        ApiError::bad_request(format!("operation {op:?} must look like module.verb"))
    })?;
    match module {
        "core" => core_op(core, verb, args).await,
        "watchdog" => crate::watchdog::api::handle(core, verb, args).await,
        "approvals" => crate::approvals::api::handle(core, verb, args).await,
        "usage" => crate::usage::api::handle(core, verb, args).await,
        "mcp" => crate::mcp::api::handle(core, verb, args).await,
        _ => Err(ApiError::unknown_op(module, verb)),
    }
}

/// Filters of `core.events` (and of `GET /api/events`, as query parameters).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EventsArgs {
    /// A kind prefix ([`EventQuery::kind_prefix`]).
    pub kind: Option<String>,
    /// An exact subject.
    pub subject: Option<String>,
    /// RFC 3339 time, inclusive lower bound.
    pub since: Option<String>,
    /// RFC 3339 time, exclusive upper bound.
    pub until: Option<String>,
    /// Only events after this store id, oldest first (tailing).
    pub after_id: Option<i64>,
    /// At most this many events: 100 when absent, never more than 100 000.
    pub limit: Option<usize>,
}

impl EventsArgs {
    /// The filters as a query; a malformed time is a bad request (never a dropped filter).
    pub fn into_query(self) -> Result<EventQuery, ApiError> {
        let ts = |s: Option<String>, what: &str| -> Result<_, ApiError> {
            s.map(|s| {
                chrono::DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|e| {
                        ApiError::bad_request(format!("{what}: {s:?} is not RFC 3339: {e}"))
                    })
            })
            .transpose()
        };
        Ok(EventQuery {
            kind_prefix: self.kind,
            subject: self.subject,
            since: ts(self.since, "since")?,
            until: ts(self.until, "until")?,
            after_id: self.after_id,
            limit: self.limit.unwrap_or(100).min(100_000),
        })
    }
}

async fn core_op(core: &Core, verb: &str, args: Value) -> Result<Value, ApiError> {
    match verb {
        "ping" => Ok(json!({"pong": true, "pid": std::process::id()})),
        "config_get" | "config_check" | "config_set" => settings::handle(core, verb, args).await,
        "status" => Ok(core.status_json()),
        "emit" => {
            let event: Event = serde_json::from_value(args.get("event").cloned().unwrap_or(args))
                .map_err(|e| ApiError::bad_request(format!("not an event: {e}")))?;
            event.validate().map_err(ApiError::bad_request)?;
            let stored = core
                .store()
                .append(event)
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!({"id": stored.id}))
        }
        "emit_many" => {
            let events: Vec<Event> =
                serde_json::from_value(args.get("events").cloned().unwrap_or(Value::Null))
                    .map_err(|e| ApiError::bad_request(format!("not a list of events: {e}")))?;
            for ev in &events {
                ev.validate().map_err(ApiError::bad_request)?;
            }
            let stored = core
                .store()
                .append_many(events)
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!({"ids": stored.iter().map(|e| e.id).collect::<Vec<_>>()}))
        }
        "events" => {
            // A malformed filter is an error, not a reason to drop every filter.
            let q: EventsArgs = if args.is_null() {
                EventsArgs::default()
            } else {
                serde_json::from_value(args).map_err(|e| {
                    ApiError::bad_request(format!("bad arguments for core.events: {e}"))
                })?
            };
            let query = q.into_query()?;
            let store = core.store().clone();
            let events = tokio::task::spawn_blocking(move || {
                let conn = store
                    .reader()
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                crate::store::query_events(&conn, &query)
                    .map_err(|e| ApiError::internal(e.to_string()))
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
            Ok(Value::Array(
                events.iter().map(Event::to_contract_json).collect(),
            ))
        }
        _ => Err(ApiError::unknown_op("core", verb)),
    }
}
