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
//! Every answer is an `approval.decided` event whose `data.by` says who answered
//! (`policy`, `trust`, `autonomy`, `user`, `timeout`). Waiting requests learn of answers through
//! the event bus, so an answer given through any transport (socket, HTTP panel) wakes them.
//! Rows are written only through the store's writer (`Store::write`).

use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::classify::{Context, Verdict};
use super::policy::{Decision, Policy};
use crate::api::ApiError;
use crate::core::Core;
use crate::events::{Event, format_ts, kind};

pub async fn handle(core: &Core, verb: &str, args: Value) -> Result<Value, ApiError> {
    match verb {
        "request" => request(core, args).await,
        "list" => list(core, args).await,
        "decide" => decide(core, args).await,
        "autonomy_get" => autonomy_get(core).await,
        "autonomy_set" => autonomy_set(core, args).await,
        _ => Err(ApiError::unknown_op("approvals", verb)),
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
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

/// The autonomy levels (documented in docs/approvals.md).
pub const LEVELS: [&str; 4] = [
    "0 supervised: every ask waits for you",
    "1 learning: an ask is approved by itself after `trust_after` approvals of the same rule, brain and project",
    "2 trusting: an ask is approved by itself after one approval of the same rule, brain and project",
    "3 autonomous: every ask is approved (never rules still refuse)",
];

/// Approvals needed before trust answers, at `level`. `None`: trust never answers.
pub fn trust_threshold(level: u8, trust_after: u32) -> Option<u32> {
    match level {
        0 => None,
        1 => Some(trust_after.max(1)),
        2 => Some(1),
        _ => Some(0),
    }
}

/// A one-line description of the call, for people (the command, the path, the URL).
pub fn summarize(tool: &str, input: &Value) -> String {
    let text = [
        "command",
        "file_path",
        "notebook_path",
        "url",
        "path",
        "pattern",
    ]
    .iter()
    .find_map(|k| match input.get(*k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    })
    .unwrap_or_else(|| {
        if input.is_null() {
            tool.to_string()
        } else {
            super::redact::redact_json(input).to_string()
        }
    });
    if text.chars().count() > 300 {
        text.chars().take(300).collect::<String>() + "…"
    } else {
        text
    }
}

fn decided_event(
    id: Option<i64>,
    approve: bool,
    verdict_class: &str,
    rule: &str,
    reason: &str,
    by: &str,
    call: &Value,
) -> Event {
    let mut data = json!({
        "id": id,
        "decision": if approve { "approve" } else { "deny" },
        "class": verdict_class,
        "rule": rule,
        "reason": reason,
        "by": by,
    });
    if let (Some(d), Some(c)) = (data.as_object_mut(), call.as_object()) {
        for (k, v) in c {
            d.entry(k.clone()).or_insert(v.clone());
        }
    }
    Event::new(kind::APPROVAL_DECIDED, "approvals")
        .subject(id.map(|i| i.to_string()).unwrap_or_default())
        .data(data)
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

fn autonomy_level(conn: &rusqlite::Connection, default: u8) -> Result<u8, rusqlite::Error> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM approval_settings WHERE key = 'autonomy'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(default).min(3))
}

/// What trust and autonomy say about an ask: `Some((approve, by, why))` or `None` (ask the user).
fn trust_answer(
    conn: &rusqlite::Connection,
    rules: &[String],
    brain: &str,
    project: &str,
    level: u8,
    trust_after: u32,
) -> Result<Option<(bool, &'static str, String)>, rusqlite::Error> {
    let mut stmt = conn.prepare(
        "SELECT approvals, always FROM approval_trust WHERE rule = ?1 AND brain = ?2 AND project = ?3",
    )?;
    let mut rows = Vec::new();
    for rule in rules {
        let row: Option<(u32, Option<String>)> = stmt
            .query_row(params![rule, brain, project], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        rows.push((rule, row.unwrap_or((0, None))));
    }
    if let Some((rule, _)) = rows
        .iter()
        .find(|(_, (_, always))| always.as_deref() == Some("deny"))
    {
        return Ok(Some((
            false,
            "trust",
            format!("you chose to always deny {rule} for {brain} in {project}"),
        )));
    }
    if !rows.is_empty()
        && rows
            .iter()
            .all(|(_, (_, always))| always.as_deref() == Some("approve"))
    {
        return Ok(Some((
            true,
            "trust",
            "you chose to always approve this for this brain and project".into(),
        )));
    }
    match trust_threshold(level, trust_after) {
        Some(0) => Ok(Some((
            true,
            "autonomy",
            "autonomy level 3 approves every ask".into(),
        ))),
        Some(n) if rows.iter().all(|(_, (count, _))| *count >= n) => Ok(Some((
            true,
            "trust",
            format!(
                "approved {n}+ times before for this brain and project (autonomy level {level})"
            ),
        ))),
        _ => Ok(None),
    }
}

async fn request(core: &Core, args: Value) -> Result<Value, ApiError> {
    let a: RequestArgs = serde_json::from_value(args)
        .map_err(|e| ApiError::bad_request(format!("approvals.request: {e}")))?;
    let brain = a.brain.unwrap_or_else(|| "claude".into());
    let project = a.project.or(a.cwd).unwrap_or_default();
    let session = a.session.unwrap_or_default();
    let summary = summarize(&a.tool, &a.input);
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
                cwd: (!project.is_empty()).then(|| project.clone().into()),
                home: super::policy::home_dir(),
                paios_home: Some(core.paths().home().to_path_buf()),
            };
            let (tool, input) = (a.tool.clone(), a.input.clone());
            tokio::task::spawn_blocking(move || {
                Policy::load(&file).map(|p| p.classify_tool(&tool, &input, &ctx))
            })
            .await
            .map_err(internal)?
            .map_err(|e| ApiError::new("policy_invalid", e.to_string()))?
        }
    };
    let call = json!({
        "tool": a.tool, "summary": summary, "brain": brain, "project": project, "session": session,
    });
    if verdict.decision != Decision::Ask {
        let approve = verdict.decision == Decision::Safe;
        core.emit(decided_event(
            None,
            approve,
            verdict.decision.as_str(),
            &verdict.rule,
            &verdict.reason,
            "policy",
            &call,
        ))
        .await;
        return Ok(json!({
            "id": null, "decision": if approve { "approve" } else { "deny" },
            "rule": verdict.rule, "reason": verdict.reason, "by": "policy",
        }));
    }

    let config = core.config().approvals.clone();
    let mut bus = core.subscribe();
    let rules = verdict.ask_rules.clone();
    let (b, p, r) = (brain.clone(), project.clone(), rules.clone());
    let default_level = config.autonomy;
    let trust_after = config.trust_after;
    let (level, auto) = read(core, move |conn| {
        let level = autonomy_level(conn, default_level)?;
        Ok((level, trust_answer(conn, &r, &b, &p, level, trust_after)?))
    })
    .await?;

    let now = format_ts(&chrono::Utc::now());
    let row = (
        now,
        brain.clone(),
        project.clone(),
        session.clone(),
        a.tool.clone(),
        summary.clone(),
        verdict.rule.clone(),
        serde_json::to_string(&rules).unwrap_or_else(|_| "[]".into()),
        verdict.reason.clone(),
    );
    let id = core
        .store()
        .write(move |tx| {
            tx.execute(
                "INSERT INTO approval_requests (ts, brain, project, session, tool, summary, rule, rules, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8],
            )?;
            Ok(json!(tx.last_insert_rowid()))
        })
        .await
        .map_err(internal)?
        .as_i64()
        .ok_or_else(|| ApiError::internal("no request id"))?;
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
        let mut requested = call.clone();
        if let Some(o) = requested.as_object_mut() {
            o.insert("id".into(), json!(id));
            o.insert("rule".into(), json!(verdict.rule));
            o.insert("rules".into(), json!(rules));
            o.insert("reason".into(), json!(verdict.reason));
            o.insert("autonomy".into(), json!(level));
        }
        core.emit(
            Event::new(kind::APPROVAL_REQUESTED, "approvals")
                .subject(id.to_string())
                .data(requested),
        )
        .await;

        if let Some((approve, by, why)) = auto
            && let Some(answer) = settle(core, id, approve, by, &why, &verdict, &call).await? {
                return Ok(answer);
            }

        let timeout = Duration::from_secs(config.timeout_s);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let shutdown = core.shutdown_token();
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    let why = format!("no answer within {} s", timeout.as_secs());
                    if let Some(answer) = settle(core, id, false, "timeout", &why, &verdict, &call).await? {
                        return Ok(answer);
                    }
                    return current_answer(core, id).await;
                }
                _ = shutdown.cancelled() => {
                    let why = "the PAIOS daemon stopped before an answer".to_string();
                    if let Some(answer) = settle(core, id, false, "timeout", &why, &verdict, &call).await? {
                        return Ok(answer);
                    }
                    return current_answer(core, id).await;
                }
                ev = bus.recv() => match ev {
                    Ok(ev) if ev.kind == kind::APPROVAL_DECIDED
                        && ev.data.get("id").and_then(Value::as_i64) == Some(id) => {
                        return Ok(json!({
                            "id": id,
                            "decision": ev.data.get("decision").cloned().unwrap_or(json!("deny")),
                            "rule": verdict.rule,
                            "reason": ev.data.get("reason").cloned().unwrap_or(json!("")),
                            "by": ev.data.get("by").cloned().unwrap_or(json!("user")),
                        }));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        let answer = current_answer(core, id).await?;
                        if answer.get("decision").is_some_and(|d| !d.is_null()) {
                            return Ok(answer);
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
    call: Value,
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
            let _ = settle(&core, id, false, "gone", why, &verdict, &call).await;
        });
    }
}

/// Decide a still-pending request (first answer wins). `None` when someone answered first.
async fn settle(
    core: &Core,
    id: i64,
    approve: bool,
    by: &'static str,
    why: &str,
    verdict: &Verdict,
    call: &Value,
) -> Result<Option<Value>, ApiError> {
    let now = format_ts(&chrono::Utc::now());
    let state = if approve {
        "approved"
    } else if by == "timeout" || by == "gone" {
        "expired"
    } else {
        "denied"
    };
    let changed = core
        .store()
        .write(move |tx| {
            let n = tx.execute(
                "UPDATE approval_requests SET state = ?2, decided_at = ?3, decided_by = ?4
                 WHERE id = ?1 AND state = 'pending'",
                params![id, state, now, by],
            )?;
            Ok(json!(n))
        })
        .await
        .map_err(internal)?;
    if changed.as_u64() != Some(1) {
        return Ok(None);
    }
    let reason = format!("{why} — {}", verdict.reason);
    core.emit(decided_event(
        Some(id),
        approve,
        "ask",
        &verdict.rule,
        &reason,
        by,
        call,
    ))
    .await;
    Ok(Some(json!({
        "id": id, "decision": if approve { "approve" } else { "deny" },
        "rule": verdict.rule, "reason": reason, "by": by,
    })))
}

async fn current_answer(core: &Core, id: i64) -> Result<Value, ApiError> {
    read(core, move |conn| {
        conn.query_row(
            "SELECT state, rule, reason, decided_by FROM approval_requests WHERE id = ?1",
            [id],
            |r| {
                let state: String = r.get(0)?;
                let decision = match state.as_str() {
                    "approved" => json!("approve"),
                    "pending" => Value::Null,
                    _ => json!("deny"),
                };
                Ok(json!({
                    "id": id, "decision": decision, "rule": r.get::<_, String>(1)?,
                    "reason": r.get::<_, String>(2)?, "by": r.get::<_, Option<String>>(3)?,
                }))
            },
        )
    })
    .await
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

/// Pending requests (oldest first), then recent answered ones (newest first).
pub fn list_requests(
    conn: &rusqlite::Connection,
    all: bool,
    limit: usize,
) -> Result<Vec<Value>, rusqlite::Error> {
    let sql = if all {
        "SELECT id, ts, brain, project, session, tool, summary, rule, reason, state, decided_at, decided_by
         FROM approval_requests ORDER BY (state = 'pending') DESC,
              CASE WHEN state = 'pending' THEN id ELSE -id END LIMIT ?1"
    } else {
        "SELECT id, ts, brain, project, session, tool, summary, rule, reason, state, decided_at, decided_by
         FROM approval_requests WHERE state = 'pending' ORDER BY id LIMIT ?1"
    };
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(json!({
            "id": r.get::<_, i64>(0)?,
            "ts": r.get::<_, String>(1)?,
            "brain": r.get::<_, String>(2)?,
            "project": r.get::<_, String>(3)?,
            "session": r.get::<_, String>(4)?,
            "tool": r.get::<_, String>(5)?,
            "summary": r.get::<_, String>(6)?,
            "rule": r.get::<_, String>(7)?,
            "reason": r.get::<_, String>(8)?,
            "state": r.get::<_, String>(9)?,
            "decided_at": r.get::<_, Option<String>>(10)?,
            "decided_by": r.get::<_, Option<String>>(11)?,
        }))
    })?;
    rows.collect()
}

async fn list(core: &Core, args: Value) -> Result<Value, ApiError> {
    let a: ListArgs = serde_json::from_value(args).unwrap_or_default();
    let limit = a.limit.unwrap_or(100).min(10_000);
    let rows = read(core, move |conn| list_requests(conn, a.all, limit)).await?;
    Ok(Value::Array(rows))
}

/// state, rules, brain, project, rule, reason, tool, summary, session
type RequestRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

#[derive(Debug, Deserialize)]
struct DecideArgs {
    id: i64,
    decision: String,
    #[serde(default)]
    always: bool,
}

async fn decide(core: &Core, args: Value) -> Result<Value, ApiError> {
    let a: DecideArgs = serde_json::from_value(args)
        .map_err(|e| ApiError::bad_request(format!("approvals.decide: {e}")))?;
    let approve = match a.decision.as_str() {
        "approve" | "allow" | "yes" => true,
        "deny" | "no" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "decision must be \"approve\" or \"deny\", not {other:?}"
            )));
        }
    };
    let (id, always) = (a.id, a.always);
    let now = format_ts(&chrono::Utc::now());
    let row = core
        .store()
        .write(move |tx| {
            let found: Option<RequestRow> = tx
                .query_row(
                    "SELECT state, rules, brain, project, rule, reason, tool, summary, session
                     FROM approval_requests WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?)),
                )
                .optional()?;
            let Some((state, rules, brain, project, rule, reason, tool, summary, session)) = found else {
                return Ok(json!({"error": "not_found"}));
            };
            if state != "pending" {
                return Ok(json!({"error": "not_pending", "state": state}));
            }
            tx.execute(
                "UPDATE approval_requests SET state = ?2, decided_at = ?3, decided_by = 'user' WHERE id = ?1",
                params![id, if approve { "approved" } else { "denied" }, now],
            )?;
            let rules: Vec<String> = serde_json::from_str(&rules).unwrap_or_default();
            for r in &rules {
                if approve {
                    tx.execute(
                        "INSERT INTO approval_trust (rule, brain, project, approvals, always, updated_at)
                         VALUES (?1, ?2, ?3, 1, ?4, ?5)
                         ON CONFLICT (rule, brain, project) DO UPDATE SET
                           approvals = approvals + 1,
                           always = COALESCE(excluded.always, CASE WHEN always = 'deny' THEN NULL ELSE always END),
                           updated_at = excluded.updated_at",
                        params![r, brain, project, always.then_some("approve"), now],
                    )?;
                } else {
                    tx.execute(
                        "INSERT INTO approval_trust (rule, brain, project, approvals, always, updated_at)
                         VALUES (?1, ?2, ?3, 0, ?4, ?5)
                         ON CONFLICT (rule, brain, project) DO UPDATE SET
                           approvals = 0, always = excluded.always, updated_at = excluded.updated_at",
                        params![r, brain, project, always.then_some("deny"), now],
                    )?;
                }
            }
            Ok(json!({"rule": rule, "reason": reason, "tool": tool, "summary": summary,
                      "brain": brain, "project": project, "session": session}))
        })
        .await
        .map_err(internal)?;
    match row.get("error").and_then(Value::as_str) {
        Some("not_found") => {
            return Err(ApiError::not_found(format!(
                "no approval request {id}; see `paios approvals list`"
            )));
        }
        Some(_) => {
            return Err(ApiError::new(
                "not_pending",
                format!(
                    "approval request {id} was already answered ({}); see `paios approvals list --all`",
                    row.get("state").and_then(Value::as_str).unwrap_or("?")
                ),
            ));
        }
        None => {}
    }
    let s = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let call = json!({"tool": s("tool"), "summary": s("summary"), "brain": s("brain"),
                      "project": s("project"), "session": s("session"), "always": always});
    let reason = if approve {
        "approved by you"
    } else {
        "denied by you"
    };
    core.emit(decided_event(
        Some(id),
        approve,
        "ask",
        &s("rule"),
        reason,
        "user",
        &call,
    ))
    .await;
    Ok(json!({"id": id, "decision": if approve { "approve" } else { "deny" }, "always": always}))
}

async fn autonomy_get(core: &Core) -> Result<Value, ApiError> {
    let config = core.config().approvals.clone();
    let default = config.autonomy;
    let level = read(core, move |conn| autonomy_level(conn, default)).await?;
    Ok(json!({
        "level": level,
        "description": LEVELS[level as usize],
        "trust_after": config.trust_after,
        "levels": LEVELS,
    }))
}

async fn autonomy_set(core: &Core, args: Value) -> Result<Value, ApiError> {
    let level = args
        .get("level")
        .and_then(Value::as_u64)
        .filter(|l| *l <= 3)
        .ok_or_else(|| ApiError::bad_request("level must be 0, 1, 2 or 3"))? as u8;
    core.store()
        .write(move |tx| {
            tx.execute(
                "INSERT INTO approval_settings (key, value) VALUES ('autonomy', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [level.to_string()],
            )?;
            Ok(Value::Null)
        })
        .await
        .map_err(internal)?;
    core.emit(
        Event::new("approval.autonomy_changed", "approvals")
            .data(json!({"level": level, "description": LEVELS[level as usize]})),
    )
    .await;
    autonomy_get(core).await
}

/// Requests left pending by a daemon that stopped: their hooks are gone; close them.
pub async fn expire_orphans(core: &Core) -> Result<(), ApiError> {
    let now = format_ts(&chrono::Utc::now());
    let ids = core
        .store()
        .write(move |tx| {
            let mut stmt = tx.prepare(
                "UPDATE approval_requests SET state = 'expired', decided_at = ?1, decided_by = 'timeout'
                 WHERE state = 'pending' RETURNING id, rule",
            )?;
            let rows = stmt
                .query_map([now], |r| Ok(json!([r.get::<_, i64>(0)?, r.get::<_, String>(1)?])))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Array(rows))
        })
        .await
        .map_err(internal)?;
    for row in ids.as_array().into_iter().flatten() {
        let id = row.get(0).and_then(Value::as_i64);
        let rule = row.get(1).and_then(Value::as_str).unwrap_or("");
        core.emit(decided_event(
            id,
            false,
            "ask",
            rule,
            "the PAIOS daemon restarted while this request waited",
            "timeout",
            &Value::Null,
        ))
        .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_levels() {
        assert_eq!(trust_threshold(0, 3), None);
        assert_eq!(trust_threshold(1, 3), Some(3));
        assert_eq!(trust_threshold(1, 0), Some(1));
        assert_eq!(trust_threshold(2, 3), Some(1));
        assert_eq!(trust_threshold(3, 3), Some(0));
    }

    #[test]
    fn summaries_show_the_command_or_path() {
        assert_eq!(summarize("Bash", &json!({"command": "ls -la"})), "ls -la");
        assert_eq!(
            summarize("Write", &json!({"file_path": "/a/b", "content": "x"})),
            "/a/b"
        );
    }
}
