//! Control-API operations of this module (`approvals.*`), run inside the daemon:
//!
//! * `approvals.request {tool, input, brain, project|cwd, session, verdict?}` — the hook's
//!   blocking call for an `ask`: records the request (row + `approval.requested`), lets trust or
//!   the autonomy level answer, otherwise waits for `approvals.decide` or the timeout (→ deny).
//!   Answers `{decision: "approve"|"deny", reason, rule, id, by}`.
//! * `approvals.list {all?, limit?}` — pending requests first, then recent answered ones
//!   (`all: false` for pending only).
//! * `approvals.decide {id, decision: "approve"|"deny", always}` — the user's answer.
//! * `approvals.autonomy_get` / `approvals.autonomy_set {level}`.
//!
//! This file is the edge: it reads the callers' JSON into the queue's types ([`super::queue`],
//! [`super::trust`]) and writes their answers back as JSON. Every answer is an
//! `approval.decided` event whose `by` says who answered (`policy`, `trust`, `autonomy`, `user`,
//! `timeout`, `gone`). Waiting requests learn of answers through the event bus, so an answer
//! given through any transport (socket, HTTP panel) wakes them. Rows are written only through
//! the store's writer (`Store::write`).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::classify::{Context, Verdict};
use super::policy::{Decision, Policy};
use super::queue::{self, Answer, By, Call, Decided, Outcome, Requested, Row, State};
use super::trust::{self, AutoAnswer};
use crate::api::ApiError;
use crate::core::Core;
use crate::events::{Event, format_ts, kind};

pub use super::queue::summarize;
pub use super::trust::{LEVELS, trust_threshold};

/// Answer one `approvals.<verb>` call: `request`, `list`, `decide`, `autonomy_get` or
/// `autonomy_set`, with its JSON arguments. Errors: bad arguments, an unknown verb or request
/// id, an invalid policy, or a store failure.
pub async fn handle(core: &Core, verb: &str, args: Value) -> Result<Value, ApiError> {
    match verb {
        "request" => {
            let a: RequestArgs = serde_json::from_value(args)
                .map_err(|e| ApiError::bad_request(format!("approvals.request: {e}")))?;
            to_json(&request(core, a).await?)
        }
        "list" => {
            let a: ListArgs = serde_json::from_value(args).unwrap_or_default();
            let limit = a.limit.unwrap_or(100).min(10_000);
            let rows = read(core, move |conn| queue::list(conn, a.all, limit)).await?;
            to_json(&rows)
        }
        "decide" => {
            let a: DecideArgs = serde_json::from_value(args)
                .map_err(|e| ApiError::bad_request(format!("approvals.decide: {e}")))?;
            let answer = Answer::parse(&a.decision).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "decision must be \"approve\" or \"deny\", not {:?}",
                    a.decision
                ))
            })?;
            decide(core, a.id, answer, a.always).await?;
            Ok(json!({"id": a.id, "decision": answer, "always": a.always}))
        }
        "autonomy_get" => autonomy_get(core).await,
        "autonomy_set" => {
            let level = args
                .get("level")
                .and_then(Value::as_u64)
                .filter(|l| *l <= 3)
                .ok_or_else(|| ApiError::bad_request("level must be 0, 1, 2 or 3"))?
                as u8;
            autonomy_set(core, level).await
        }
        _ => Err(ApiError::unknown_op("approvals", verb)),
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

fn to_json(value: &impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(internal)
}

#[derive(Debug, Deserialize)]
struct RequestArgs {
    tool: String,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    brain: Option<String>,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    session: Option<String>,
    /// The hook's own classification (it has the same policy); classified here when absent.
    #[serde(default)]
    verdict: Option<VerdictArgs>,
}

#[derive(Debug, Deserialize)]
struct VerdictArgs {
    decision: Decision,
    rule: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    ask_rules: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct ListArgs {
    /// Include answered requests (newest first) after the pending ones; the panel's default.
    all: bool,
    limit: Option<usize>,
}

impl Default for ListArgs {
    fn default() -> Self {
        Self {
            all: true,
            limit: None,
        }
    }
}

#[derive(Debug, Deserialize)]
struct DecideArgs {
    id: i64,
    decision: String,
    #[serde(default)]
    always: bool,
}

/// Pending requests (oldest first), then recent answered ones (newest first).
pub fn list_requests(
    conn: &rusqlite::Connection,
    all: bool,
    limit: usize,
) -> Result<Vec<Row>, rusqlite::Error> {
    queue::list(conn, all, limit)
}

async fn read<T: Send + 'static>(
    core: &Core,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, rusqlite::Error> + Send + 'static,
) -> Result<T, ApiError> {
    let store = core.store().clone();
    tokio::task::spawn_blocking(move || {
        let conn = store.reader().map_err(internal)?;
        f(&conn).map_err(internal)
    })
    .await
    .map_err(internal)?
}

/// Run `f` in the store's writer; its typed result travels through the store as JSON.
async fn write<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static>(
    core: &Core,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, rusqlite::Error> + Send + 'static,
) -> Result<T, ApiError> {
    let value = core
        .store()
        .write(move |tx| {
            let out = f(tx)?;
            Ok(serde_json::to_value(out).unwrap_or(Value::Null))
        })
        .await
        .map_err(internal)?;
    serde_json::from_value(value).map_err(internal)
}

fn now() -> String {
    format_ts(&chrono::Utc::now())
}

fn decided(
    id: Option<i64>,
    answer: Answer,
    class: Decision,
    verdict: &Verdict,
    reason: String,
    by: By,
    call: &Call,
) -> Decided {
    Decided {
        id,
        decision: answer,
        class,
        rule: verdict.rule.clone(),
        reason,
        by,
        call: call.clone(),
        always: None,
    }
}

async fn emit_decided(core: &Core, d: &Decided) {
    let subject = d.id.map(|i| i.to_string()).unwrap_or_default();
    core.emit(Event::of("approvals", subject, d)).await;
}

async fn request(core: &Core, a: RequestArgs) -> Result<Outcome, ApiError> {
    let call = Call {
        summary: summarize(&a.tool, &a.input),
        tool: a.tool.clone(),
        brain: a.brain.unwrap_or_else(|| "claude".into()),
        project: a.project.or(a.cwd).unwrap_or_default(),
        session: a.session.unwrap_or_default(),
    };
    let verdict = match a.verdict {
        Some(v) => Verdict {
            decision: v.decision,
            ask_rules: if v.ask_rules.is_empty() {
                vec![v.rule.clone()]
            } else {
                v.ask_rules
            },
            rule: v.rule,
            reason: v.reason,
        },
        None => {
            let file = core.paths().policy_file();
            let ctx = Context {
                cwd: (!call.project.is_empty()).then(|| call.project.clone().into()),
                home: super::policy::home_dir(),
                paios_home: Some(core.paths().home().to_path_buf()),
                // The daemon's environment is not the agent's.
                tmpdir: Default::default(),
            };
            let (tool, input) = (a.tool, a.input);
            tokio::task::spawn_blocking(move || {
                Policy::load(&file).map(|p| p.classify_tool(&tool, &input, &ctx))
            })
            .await
            .map_err(internal)?
            .map_err(|e| ApiError::new("policy_invalid", e.to_string()))?
        }
    };
    if verdict.decision != Decision::Ask {
        let answer = if verdict.decision == Decision::Safe {
            Answer::Approve
        } else {
            Answer::Deny
        };
        let d = decided(
            None,
            answer,
            verdict.decision,
            &verdict,
            verdict.reason.clone(),
            By::Policy,
            &call,
        );
        emit_decided(core, &d).await;
        return Ok(Outcome {
            id: None,
            decision: Some(answer),
            rule: verdict.rule,
            reason: verdict.reason,
            by: Some(By::Policy),
        });
    }

    let config = core.config().approvals.clone();
    let mut bus = core.subscribe();
    let (rules, brain, project) = (
        verdict.ask_rules.clone(),
        call.brain.clone(),
        call.project.clone(),
    );
    let (default_level, trust_after) = (config.autonomy, config.trust_after);
    let (level, auto) = read(core, move |conn| {
        let level = trust::autonomy_level(conn, default_level)?;
        let held = trust::held(conn, &rules, &brain, &project)?;
        Ok((
            level,
            trust::answer(&held, &brain, &project, level, trust_after),
        ))
    })
    .await?;

    let (row_call, row_verdict, ts) = (call.clone(), verdict.clone(), now());
    let id = write(core, move |tx| {
        queue::insert(tx, &ts, &row_call, &row_verdict)
    })
    .await?;
    // A hook that goes away (the agent stopped, the hook was killed) drops this future: the
    // request is then settled as expired, so a later answer in the panel cannot count as
    // trust for a call that never ran.
    let mut guard = Abandoned {
        core: core.clone(),
        id,
        verdict: verdict.clone(),
        call: call.clone(),
        armed: true,
    };
    let answer = async {
        let requested = Requested {
            call: call.clone(),
            id,
            rule: verdict.rule.clone(),
            rules: verdict.ask_rules.clone(),
            reason: verdict.reason.clone(),
            autonomy: level,
        };
        core.emit(Event::of("approvals", id.to_string(), &requested))
            .await;

        if let Some(AutoAnswer { answer, by, why }) = auto
            && let Some(outcome) = settle(core, id, answer, by, &why, &verdict, &call).await?
        {
            return Ok(outcome);
        }

        let timeout = Duration::from_secs(config.timeout_s);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let shutdown = core.shutdown_token();
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    let why = format!("no answer within {} s", timeout.as_secs());
                    if let Some(o) = settle(core, id, Answer::Deny, By::Timeout, &why, &verdict, &call).await? {
                        return Ok(o);
                    }
                    return current_answer(core, id).await;
                }
                _ = shutdown.cancelled() => {
                    let why = "the PAIOS daemon stopped before an answer";
                    if let Some(o) = settle(core, id, Answer::Deny, By::Timeout, why, &verdict, &call).await? {
                        return Ok(o);
                    }
                    return current_answer(core, id).await;
                }
                ev = bus.recv() => match ev {
                    Ok(ev) if ev.kind == kind::APPROVAL_DECIDED.as_str() => {
                        if let Some(d) = ev.decode::<Decided>().filter(|d| d.id == Some(id)) {
                            return Ok(Outcome {
                                id: Some(id),
                                decision: Some(d.decision),
                                rule: verdict.rule.clone(),
                                reason: d.reason,
                                by: Some(d.by),
                            });
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        let outcome = current_answer(core, id).await?;
                        if outcome.decision.is_some() {
                            return Ok(outcome);
                        }
                    }
                    Err(RecvError::Closed) => return current_answer(core, id).await,
                }
            }
        }
    }
    .await;
    guard.armed = false;
    answer
}

/// Settles a pending request as expired if the wait for its answer is dropped before the end.
struct Abandoned {
    core: Core,
    id: i64,
    verdict: Verdict,
    call: Call,
    armed: bool,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (core, id, verdict, call) = (
            self.core.clone(),
            self.id,
            self.verdict.clone(),
            self.call.clone(),
        );
        runtime.spawn(async move {
            let why = "the agent stopped waiting for an answer";
            let _ = settle(&core, id, Answer::Deny, By::Gone, why, &verdict, &call).await;
        });
    }
}

/// Decide a still-pending request (first answer wins). `None` when someone answered first.
async fn settle(
    core: &Core,
    id: i64,
    answer: Answer,
    by: By,
    why: &str,
    verdict: &Verdict,
    call: &Call,
) -> Result<Option<Outcome>, ApiError> {
    let (state, ts) = (by.settles(answer), now());
    let changed = write(core, move |tx| queue::settle(tx, id, state, &ts, by)).await?;
    if !changed {
        return Ok(None);
    }
    let reason = format!("{why} — {}", verdict.reason);
    let d = decided(
        Some(id),
        answer,
        Decision::Ask,
        verdict,
        reason.clone(),
        by,
        call,
    );
    emit_decided(core, &d).await;
    Ok(Some(Outcome {
        id: Some(id),
        decision: Some(answer),
        rule: verdict.rule.clone(),
        reason,
        by: Some(by),
    }))
}

async fn current_answer(core: &Core, id: i64) -> Result<Outcome, ApiError> {
    let stored = read(core, move |conn| queue::load(conn, id)).await?;
    let stored = stored.ok_or_else(|| ApiError::not_found(format!("no approval request {id}")))?;
    Ok(Outcome {
        id: Some(id),
        decision: stored.state.answer(),
        rule: stored.rule,
        reason: stored.reason,
        by: stored
            .decided_by
            .as_deref()
            .and_then(|b| serde_json::from_value(Value::String(b.to_string())).ok()),
    })
}

/// What became of a person's answer in the writer.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Taken {
    /// Settled; the request's rule and call, for the event.
    Yes {
        rule: String,
        call: Call,
    },
    NotFound,
    NotPending(State),
}

async fn decide(core: &Core, id: i64, answer: Answer, always: bool) -> Result<(), ApiError> {
    let ts = now();
    let taken = write(core, move |tx| {
        Ok(match queue::load(tx, id)? {
            None => Taken::NotFound,
            Some(s) if s.state != State::Pending => Taken::NotPending(s.state),
            Some(s) => {
                queue::settle(tx, id, By::User.settles(answer), &ts, By::User)?;
                trust::learn(
                    tx,
                    &s.rules,
                    &s.call.brain,
                    &s.call.project,
                    answer,
                    always,
                    &ts,
                )?;
                Taken::Yes {
                    rule: s.rule,
                    call: s.call,
                }
            }
        })
    })
    .await?;
    let (rule, call) = match taken {
        Taken::Yes { rule, call } => (rule, call),
        Taken::NotFound => {
            return Err(ApiError::not_found(format!(
                "no approval request {id}; see `paios approvals list`"
            )));
        }
        Taken::NotPending(state) => {
            return Err(ApiError::new(
                "not_pending",
                format!(
                    "approval request {id} was already answered ({}); see `paios approvals list --all`",
                    state.as_str()
                ),
            ));
        }
    };
    let reason = if answer.approves() {
        "approved by you"
    } else {
        "denied by you"
    };
    let d = Decided {
        id: Some(id),
        decision: answer,
        class: Decision::Ask,
        rule,
        reason: reason.into(),
        by: By::User,
        call,
        always: Some(always),
    };
    emit_decided(core, &d).await;
    Ok(())
}

async fn autonomy_get(core: &Core) -> Result<Value, ApiError> {
    let config = core.config().approvals.clone();
    let default = config.autonomy;
    let level = read(core, move |conn| trust::autonomy_level(conn, default)).await?;
    Ok(json!({
        "level": level,
        "description": LEVELS[level as usize],
        "trust_after": config.trust_after,
        "levels": LEVELS,
    }))
}

async fn autonomy_set(core: &Core, level: u8) -> Result<Value, ApiError> {
    write(core, move |tx| trust::set_autonomy_level(tx, level)).await?;
    core.emit(
        Event::new(kind::APPROVAL_AUTONOMY_CHANGED, "approvals")
            .data(json!({"level": level, "description": LEVELS[level as usize]})),
    )
    .await;
    autonomy_get(core).await
}

/// Requests left pending by a daemon that stopped: their hooks are gone; close them.
pub async fn expire_orphans(core: &Core) -> Result<(), ApiError> {
    let ts = now();
    let closed = write(core, move |tx| queue::expire_pending(tx, &ts)).await?;
    for (id, rule) in closed {
        let d = Decided {
            id: Some(id),
            decision: Answer::Deny,
            class: Decision::Ask,
            rule,
            reason: "the PAIOS daemon restarted while this request waited".into(),
            by: By::Timeout,
            call: Call::default(),
            always: None,
        };
        emit_decided(core, &d).await;
    }
    Ok(())
}
