//! The tools PAIOS serves over MCP: their names, JSON schemas, descriptions and safety
//! annotations, and the read-only ones' implementations.
//!
//! The read-only tools are plain functions over a home ([`Paths`]): they read SQLite (WAL
//! readers never block the daemon's writer), the policy files, the router's live state and the
//! usage ledger, so the daemon (HTTP `/mcp`, and the `mcp.call` operation the stdio shim
//! forwards to) and a shim whose daemon is down answer the same way — only `paios_status`
//! needs the daemon, which passes its status in. The bridge tools (`ask_claude`, `ask_codex`)
//! are in [`super::bridge`].
//!
//! Every result passes through the approvals' redaction before it leaves (no secret in an MCP
//! result), and is bounded in size (a brain's context is not a log viewer).

use std::sync::OnceLock;

use rmcp::model::Tool;
use rmcp::schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::approvals::classify::Context;
use crate::approvals::policy::Policy;
use crate::config::Config;
use crate::paths::Paths;

/// The longest tool result PAIOS sends (characters of JSON); longer ones are cut with a note.
pub const MAX_RESULT_CHARS: usize = 200_000;

/// A tool call that cannot be answered: bad arguments (the caller's fault, a JSON-RPC
/// `invalid_params`) or a failure while running it (a tool-level error the caller reads).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// No tool of that name (the name as called).
    #[error("unknown tool {0:?} (see tools/list)")]
    Unknown(String),
    /// The arguments do not fit the tool's schema or its limits.
    #[error("invalid arguments for {tool}: {message}")]
    InvalidArgs {
        /// The tool called.
        tool: String,
        /// What is wrong with the arguments.
        message: String,
    },
    /// The tool ran and failed; the reason, for the caller's model to read.
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    fn failed(e: impl std::fmt::Display) -> Self {
        ToolError::Failed(e.to_string())
    }
}

/// Tools that only read: safe to call at any time, from any brain.
pub const READ_ONLY: &[&str] = &[
    "paios_status",
    "paios_events",
    "paios_route",
    "paios_classify",
    "paios_usage",
    "paios_incidents",
];

/// Tools that run a brain (through the router's run path).
pub const BRIDGE: &[&str] = &["ask_claude", "ask_codex"];

/// `paios_events` arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct EventsArgs {
    /// Only kinds starting with this prefix, e.g. `service.`, `alert.raised`, `task.`.
    pub kind: Option<String>,
    /// Only events about this subject (a service name, a brain, a file).
    pub subject: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z).
    pub since: Option<String>,
    /// At most this many, the newest ones (1–500, default 50).
    pub limit: Option<u32>,
}

/// `paios_route` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct RouteArgs {
    /// The task, in plain words, as you would give it to `ai`.
    pub task: String,
}

/// `paios_classify` arguments: a shell command, or a tool call.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ClassifyArgs {
    /// A shell command line to classify, e.g. `rm -rf build/`.
    pub command: Option<String>,
    /// Instead of a command: a tool name as a brain calls it (`Write`, `mcp__x__y`, …).
    pub tool: Option<String>,
    /// The tool's input (with `tool`).
    pub input: Option<Value>,
    /// The project folder the call would run in (paths are judged relative to it).
    pub cwd: Option<String>,
}

/// `paios_usage` arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct UsageArgs {
    /// `summary` (today, this month, budgets, last 14 days; the default), or a report:
    /// `daily`, `monthly`, `session`.
    pub period: Option<String>,
    /// First day of a report (YYYYMMDD).
    pub since: Option<String>,
    /// Last day of a report (YYYYMMDD).
    pub until: Option<String>,
    /// Which brain's logs: `claude`, `codex` or `all` (default).
    pub source: Option<String>,
}

/// `paios_incidents` arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct IncidentsArgs {
    /// Only incidents still open.
    pub open_only: Option<bool>,
    /// At most this many (1–200, default 20).
    pub limit: Option<u32>,
}

/// `ask_claude` / `ask_codex` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct AskArgs {
    /// The task or question for the other brain, self-contained (it does not see your
    /// conversation).
    pub prompt: String,
    /// The folder it works in (default: the folder PAIOS runs in).
    pub cwd: Option<String>,
    /// Time limit in seconds (1–3600; default: the router's `timeout_s`).
    pub timeout_s: Option<u64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
struct NoArgs {}

/// Every tool PAIOS serves, as `tools/list` answers (built once).
pub fn list() -> &'static [Tool] {
    static TOOLS: OnceLock<Vec<Tool>> = OnceLock::new();
    TOOLS.get_or_init(build_list)
}

/// The definition of one tool.
pub fn get(name: &str) -> Option<&'static Tool> {
    list().iter().find(|t| t.name == name)
}

fn schema<T: JsonSchema + 'static>() -> Value {
    let schema = rmcp::handler::server::common::schema_for_type::<T>();
    Value::Object((*schema).clone())
}

fn read_only(title: &str) -> Value {
    json!({"title": title, "readOnlyHint": true, "destructiveHint": false,
           "idempotentHint": true, "openWorldHint": false})
}

fn build_list() -> Vec<Tool> {
    let bridge = |title: &str| {
        json!({"title": title, "readOnlyHint": false, "destructiveHint": true,
               "idempotentHint": false, "openWorldHint": true})
    };
    let tools = [
        json!({
            "name": "paios_status",
            "description": "The PAIOS daemon and every service it supervises (state, pid, restarts, \
                last exit, last probe) — the same JSON as `paios status --json`. Use it to check that \
                the gateway, MCP servers and other services are healthy before relying on them.",
            "inputSchema": schema::<NoArgs>(),
            "annotations": read_only("PAIOS status"),
        }),
        json!({
            "name": "paios_events",
            "description": "Recent PAIOS events, oldest first (service starts and exits, alerts, \
                routing decisions, tasks, approvals, usage, config changes), as `paios events --json`. \
                Filter by kind prefix, subject and time.",
            "inputSchema": schema::<EventsArgs>(),
            "annotations": read_only("PAIOS events"),
        }),
        json!({
            "name": "paios_route",
            "description": "Which brain (claude, codex or openclaw) PAIOS's router would give a task \
                to, with the category, confidence, scores, fallbacks and the reason — without running \
                it (`ai route --dry-run --json`).",
            "inputSchema": schema::<RouteArgs>(),
            "annotations": read_only("Route a task (dry run)"),
        }),
        json!({
            "name": "paios_classify",
            "description": "Ask PAIOS's approval gate whether a shell command or a tool call is safe \
                (runs), ask (needs the user) or never (refused), with the rule that decided and why \
                (`paios classify --json`). Give `command`, or `tool` with `input`.",
            "inputSchema": schema::<ClassifyArgs>(),
            "annotations": read_only("Classify a command"),
        }),
        json!({
            "name": "paios_usage",
            "description": "Token usage and cost of Claude Code and Codex from their logs: a summary \
                (today, this month, budgets, last 14 days) or a daily / monthly / per-session report \
                (`paios usage … --json`, ccusage's field names).",
            "inputSchema": schema::<UsageArgs>(),
            "annotations": read_only("Usage and cost"),
        }),
        json!({
            "name": "paios_incidents",
            "description": "Open incidents first, then recent resolved ones: what is in trouble, how \
                badly, since when, and the runbook to fix it (`paios incidents --json`).",
            "inputSchema": schema::<IncidentsArgs>(),
            "annotations": read_only("Incidents"),
        }),
        json!({
            "name": "ask_claude",
            "description": "Give a task to Claude Code (`claude -p`) through PAIOS's router and \
                approval gate, and get its answer. Claude works on its own in the given folder and \
                may read and edit files there. Takes seconds to minutes; reports progress.",
            "inputSchema": schema::<AskArgs>(),
            "annotations": bridge("Ask Claude Code"),
        }),
        json!({
            "name": "ask_codex",
            "description": "Give a task to Codex (`codex exec`) through PAIOS's router and approval \
                gate, and get its answer. Codex works on its own in the given folder and may read and \
                edit files there. Takes seconds to minutes; reports progress.",
            "inputSchema": schema::<AskArgs>(),
            "annotations": bridge("Ask Codex"),
        }),
    ];
    tools
        .into_iter()
        .map(|t| serde_json::from_value(t).expect("the tool definitions are valid"))
        .collect()
}

/// Decode a tool's arguments (absent = `{}`), naming the tool and the field on error.
pub fn args<T: serde::de::DeserializeOwned>(tool: &str, arguments: &Value) -> Result<T, ToolError> {
    let value = if arguments.is_null() {
        json!({})
    } else {
        arguments.clone()
    };
    serde_json::from_value(value).map_err(|e| ToolError::InvalidArgs {
        tool: tool.into(),
        message: e.to_string(),
    })
}

/// Run a read-only tool on `paths`'s home. `status` is the daemon's status (`None` when it is
/// not running). Blocking (SQLite, log files): async callers run it on a blocking thread.
pub fn call_read_only(
    paths: &Paths,
    config: &Config,
    status: Option<Value>,
    tool: &str,
    arguments: &Value,
) -> Result<Value, ToolError> {
    let result = match tool {
        "paios_status" => {
            let _: NoArgs = args(tool, arguments)?;
            Ok(status.unwrap_or_else(|| {
                json!({
                    "daemon": null,
                    "services": [],
                    "error": format!(
                        "the PAIOS daemon is not running for {} (start it with `paios daemon`); \
                         events, incidents, routing, classification and usage still work",
                        paths.home().display()
                    ),
                })
            }))
        }
        "paios_events" => events(paths, args(tool, arguments)?),
        "paios_route" => route(paths, config, args(tool, arguments)?),
        "paios_classify" => classify(paths, args(tool, arguments)?),
        "paios_usage" => usage(paths, config, args(tool, arguments)?),
        "paios_incidents" => incidents(paths, args(tool, arguments)?),
        other => Err(ToolError::Unknown(other.to_string())),
    }?;
    Ok(crate::approvals::redact::redact_json(&result))
}

fn events(paths: &Paths, a: EventsArgs) -> Result<Value, ToolError> {
    let since = a
        .since
        .as_deref()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|e| ToolError::InvalidArgs {
                    tool: "paios_events".into(),
                    message: format!("since: {s:?} is not an RFC 3339 time ({e})"),
                })
        })
        .transpose()?;
    let limit = a.limit.unwrap_or(50).clamp(1, 500) as usize;
    let query = crate::store::EventQuery {
        kind_prefix: a.kind,
        subject: a.subject,
        since,
        until: None,
        after_id: None,
        limit,
    };
    let db = paths.database();
    if !db.exists() {
        return Ok(json!([]));
    }
    let conn = crate::store::open_reader(&db).map_err(ToolError::failed)?;
    let events = crate::store::query_events(&conn, &query).map_err(ToolError::failed)?;
    Ok(Value::Array(
        events
            .iter()
            .map(crate::events::Event::to_contract_json)
            .collect(),
    ))
}

fn route(paths: &Paths, config: &Config, a: RouteArgs) -> Result<Value, ToolError> {
    if a.task.trim().is_empty() {
        return Err(ToolError::InvalidArgs {
            tool: "paios_route".into(),
            message: "task is empty".into(),
        });
    }
    let policy = config.router.policy().map_err(|(key, message)| {
        ToolError::Failed(format!(
            "the [router] section of paios.toml is invalid: key `{key}`: {message}"
        ))
    })?;
    let router = crate::router::Router::new(policy);
    let live = crate::router::run::live_state(paths);
    Ok(router.decide(&a.task, &live).to_json())
}

fn classify(paths: &Paths, a: ClassifyArgs) -> Result<Value, ToolError> {
    let policy_file = paths.policy_file();
    let policy = Policy::load(&policy_file).map_err(|e| {
        ToolError::Failed(format!(
            "the approval policy {} is invalid: {e}",
            policy_file.display()
        ))
    })?;
    let mut ctx = Context::from_env();
    ctx.paios_home = Some(paths.home().to_path_buf());
    if let Some(cwd) = a.cwd.as_deref() {
        ctx.cwd = Some(cwd.into());
    }
    let verdict = match (a.command, a.tool) {
        (Some(command), None) => policy.classify_command(&command, &ctx),
        (None, Some(tool)) => {
            policy.classify_tool(&tool, a.input.as_ref().unwrap_or(&Value::Null), &ctx)
        }
        _ => {
            return Err(ToolError::InvalidArgs {
                tool: "paios_classify".into(),
                message: "give either `command` (a shell command line) or `tool` with `input`"
                    .into(),
            });
        }
    };
    Ok(json!({"decision": verdict.decision, "rule": verdict.rule, "reason": verdict.reason}))
}

fn usage(paths: &Paths, config: &Config, a: UsageArgs) -> Result<Value, ToolError> {
    use crate::usage::report::{self, Options, Period, Zone};
    let bad = |message: String| ToolError::InvalidArgs {
        tool: "paios_usage".into(),
        message,
    };
    let period = match a.period.as_deref().unwrap_or("summary") {
        "summary" => None,
        "daily" => Some(Period::Daily),
        "monthly" => Some(Period::Monthly),
        "session" => Some(Period::Session),
        other => {
            return Err(bad(format!(
                "period {other:?}: use summary, daily, monthly or session"
            )));
        }
    };
    let source = match a.source.as_deref().unwrap_or("all") {
        "all" => None,
        "claude" => Some(crate::usage::Source::Claude),
        "codex" => Some(crate::usage::Source::Codex),
        other => return Err(bad(format!("source {other:?}: use claude, codex or all"))),
    };
    let date = |s: &Option<String>, what: &str| {
        s.as_deref()
            .map(|s| report::parse_date(s).map_err(|e| bad(format!("{what}: {e}"))))
            .transpose()
    };
    let since = date(&a.since, "since")?;
    let until = date(&a.until, "until")?;
    let fresh = crate::usage::refresh(paths, config).map_err(ToolError::failed)?;
    let Some(period) = period else {
        return crate::usage::summary_json(&fresh.ledger, config).map_err(ToolError::failed);
    };
    let zone = Zone::parse(None).map_err(ToolError::Failed)?;
    let rows = fresh.ledger.rows(source).map_err(ToolError::failed)?;
    let options = Options {
        period,
        since,
        until,
        zone,
    };
    Ok(report::build(&rows, &options, &fresh.prices).to_json(zone))
}

fn incidents(paths: &Paths, a: IncidentsArgs) -> Result<Value, ToolError> {
    let limit = a.limit.unwrap_or(20).clamp(1, 200) as usize;
    let db = paths.database();
    if !db.exists() {
        return Ok(json!([]));
    }
    let conn = crate::store::open_reader(&db).map_err(ToolError::failed)?;
    let mut list = crate::alerts::list_incidents(&conn, limit).map_err(ToolError::failed)?;
    if a.open_only == Some(true) {
        list.retain(|i| i.resolved_at.is_none());
    }
    Ok(json!(list))
}

/// A result as the text a brain reads: compact JSON, cut at [`MAX_RESULT_CHARS`].
pub fn result_text(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= MAX_RESULT_CHARS {
        return text;
    }
    let mut cut = MAX_RESULT_CHARS;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}… [cut: the result has {} characters; ask for fewer with `limit` or a filter]",
        &text[..cut],
        text.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_schema_a_description_and_safety_annotations() {
        let names: Vec<&str> = list().iter().map(|t| t.name.as_ref()).collect();
        for name in READ_ONLY.iter().chain(BRIDGE) {
            assert!(names.contains(name), "{name} is not listed");
        }
        for tool in list() {
            assert!(tool.description.as_ref().is_some_and(|d| d.len() > 40));
            assert_eq!(tool.input_schema.get("type"), Some(&json!("object")));
            let a = tool.annotations.as_ref().expect("annotations");
            let ro = READ_ONLY.contains(&tool.name.as_ref());
            assert_eq!(a.read_only_hint, Some(ro), "{}", tool.name);
            assert_eq!(a.destructive_hint, Some(!ro), "{}", tool.name);
            // Claude Code refuses `mcp__<server>__<tool>` names over 64 characters.
            assert!(format!("mcp__paios__{}", tool.name).len() <= 64);
        }
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_invalid_arguments() {
        let e = args::<EventsArgs>("paios_events", &json!({"limit": "ten"})).unwrap_err();
        assert!(matches!(e, ToolError::InvalidArgs { .. }), "{e}");
        let e = args::<EventsArgs>("paios_events", &json!({"nope": 1})).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        assert!(args::<EventsArgs>("paios_events", &Value::Null).is_ok());
    }

    #[test]
    fn classify_needs_exactly_one_of_command_and_tool() {
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::at(home.path());
        let config = Config::default();
        let v = call_read_only(
            &paths,
            &config,
            None,
            "paios_classify",
            &json!({"command": "rm -rf /"}),
        )
        .unwrap();
        assert_eq!(v["decision"], "never");
        let v = call_read_only(
            &paths,
            &config,
            None,
            "paios_classify",
            &json!({"command": "ls -la"}),
        )
        .unwrap();
        assert_eq!(v["decision"], "safe");
        let e = call_read_only(&paths, &config, None, "paios_classify", &json!({})).unwrap_err();
        assert!(matches!(e, ToolError::InvalidArgs { .. }));
    }

    #[test]
    fn status_without_a_daemon_says_so() {
        let home = tempfile::tempdir().unwrap();
        let v = call_read_only(
            &Paths::at(home.path()),
            &Config::default(),
            None,
            "paios_status",
            &json!({}),
        )
        .unwrap();
        assert!(v["daemon"].is_null());
        assert!(v["error"].as_str().unwrap().contains("paios daemon"));
    }

    #[test]
    fn long_results_are_cut_with_a_note() {
        let big = json!("x".repeat(MAX_RESULT_CHARS * 2));
        let text = result_text(&big);
        assert!(text.len() < MAX_RESULT_CHARS + 200);
        assert!(text.contains("[cut"));
    }
}
