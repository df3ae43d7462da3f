//! The approval queue as types: a request (the call and its verdict), its state, the answer
//! and who gave it, the rows of `approval_requests` and the `approval.*` event payloads, with
//! the SQL that stores them. JSON appears only where a type is stored (the rules list), sent
//! (events, the `approvals.*` answers) or read from a caller ([`super::api`]).
//!
//! Rows are written only through the store's writer: every function here that changes a row
//! takes the writer's transaction.

use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::classify::Verdict;
use super::policy::Decision;
use crate::events::{Kind, Payload};

/// An answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    /// Let the call run.
    Approve,
    /// Refuse the call.
    Deny,
}

impl Answer {
    /// Whether this answer lets the call run.
    pub fn approves(self) -> bool {
        self == Answer::Approve
    }

    /// What a person may type: `approve`/`allow`/`yes`, `deny`/`no`.
    pub fn parse(text: &str) -> Option<Answer> {
        match text {
            "approve" | "allow" | "yes" => Some(Answer::Approve),
            "deny" | "no" => Some(Answer::Deny),
            _ => None,
        }
    }
}

/// Where a request is (the `state` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for an answer.
    Pending,
    /// Approved: the call may run.
    Approved,
    /// Denied by someone who answered (not by the clock or a departed hook).
    Denied,
    /// No answer in time, the daemon stopped, or the asking hook went away.
    Expired,
}

impl State {
    /// The name stored in the `state` column: `pending`, `approved`, `denied` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Expired => "expired",
        }
    }

    fn parse(text: &str) -> State {
        match text {
            "pending" => State::Pending,
            "approved" => State::Approved,
            "denied" => State::Denied,
            _ => State::Expired,
        }
    }

    /// The answer a settled request carries (`None` while pending).
    pub fn answer(self) -> Option<Answer> {
        match self {
            State::Pending => None,
            State::Approved => Some(Answer::Approve),
            State::Denied | State::Expired => Some(Answer::Deny),
        }
    }
}

/// Who answered (`data.by` of `approval.decided`, the `decided_by` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    /// The policy decided (safe or never): nobody was asked.
    Policy,
    /// Learned trust or a standing `--always` answer.
    Trust,
    /// The autonomy level.
    Autonomy,
    /// A person, from the CLI or the panel.
    User,
    /// No answer in time, or the daemon stopped.
    Timeout,
    /// The asking hook went away.
    Gone,
    /// The daemon could not be reached (recorded by the hook).
    Unavailable,
}

impl By {
    /// The name stored in `decided_by` and sent as `data.by`.
    pub fn as_str(self) -> &'static str {
        match self {
            By::Policy => "policy",
            By::Trust => "trust",
            By::Autonomy => "autonomy",
            By::User => "user",
            By::Timeout => "timeout",
            By::Gone => "gone",
            By::Unavailable => "unavailable",
        }
    }

    /// The state an answer by `self` leaves a request in.
    pub fn settles(self, answer: Answer) -> State {
        match (answer, self) {
            (Answer::Approve, _) => State::Approved,
            (Answer::Deny, By::Timeout | By::Gone) => State::Expired,
            (Answer::Deny, _) => State::Denied,
        }
    }
}

/// The tool call a request is about, as people see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Call {
    /// The tool's name as the brain reports it (`Bash`, `Write`, …).
    pub tool: String,
    /// One line: the command, path or URL, secrets masked.
    pub summary: String,
    /// The brain (agent) that made the call, e.g. `claude`.
    pub brain: String,
    /// The project directory the call was made in.
    pub project: String,
    /// The brain's session id.
    pub session: String,
}

/// `approval.requested`: an `ask` waits (its `id` is the request's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Requested {
    #[serde(flatten)]
    /// The tool, summary, brain, project and session, flattened into the payload.
    pub call: Call,
    /// The request's id in `approval_requests`.
    pub id: i64,
    /// The id of the rule that asked (the first of the strictest).
    pub rule: String,
    /// Every ask rule involved.
    pub rules: Vec<String>,
    /// Why the rule asks, for people.
    pub reason: String,
    /// The autonomy level it was asked at.
    pub autonomy: u8,
}

impl Payload for Requested {
    const KIND: Kind = Kind::ApprovalRequested;
}

/// `approval.decided`: a call was answered — by the policy (`id` is null) or in the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    /// The request's id; `None` when the policy decided without queueing.
    pub id: Option<i64>,
    /// Whether the call may run.
    pub decision: Answer,
    /// The verdict's decision: `safe`, `ask` or `never`.
    pub class: Decision,
    /// The id of the rule that decided.
    pub rule: String,
    /// Why that rule decided as it did, for people.
    pub reason: String,
    /// Who gave the answer.
    pub by: By,
    #[serde(flatten)]
    /// The call answered, flattened into the payload.
    pub call: Call,
    /// For a person's answer: whether it also stands for later calls of its kind (`--always`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always: Option<bool>,
}

impl Payload for Decided {
    const KIND: Kind = Kind::ApprovalDecided;
}

/// The answer to `approvals.request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The request's id; `None` when the policy decided and nothing was queued.
    pub id: Option<i64>,
    /// `None` only while a request is still pending.
    pub decision: Option<Answer>,
    /// The id of the rule that decided.
    pub rule: String,
    /// Why that rule decided as it did, for people.
    pub reason: String,
    /// Who answered; `None` while pending.
    pub by: Option<By>,
}

/// One row of `approval_requests`, as `paios approvals list` and the panel show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The request's id (its rowid).
    pub id: i64,
    /// When it was asked (RFC 3339, UTC).
    pub ts: String,
    /// The brain (agent) that made the call.
    pub brain: String,
    /// The project directory the call was made in.
    pub project: String,
    /// The brain's session id.
    pub session: String,
    /// The tool's name.
    pub tool: String,
    /// One line: the command, path or URL, secrets masked.
    pub summary: String,
    /// The id of the rule that asked.
    pub rule: String,
    /// Why the rule asks, for people.
    pub reason: String,
    /// Where the request is now.
    pub state: State,
    /// When it was settled (RFC 3339, UTC); `None` while pending.
    pub decided_at: Option<String>,
    /// Who settled it ([`By::as_str`]); `None` while pending.
    pub decided_by: Option<String>,
}

/// What an answer in the queue needs of a stored request.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Where the request is now.
    pub state: State,
    /// The id of the rule that asked.
    pub rule: String,
    /// Every ask rule involved (empty if the stored list would not parse).
    pub rules: Vec<String>,
    /// Why the rule asks, for people.
    pub reason: String,
    /// The call the request is about.
    pub call: Call,
    /// Who settled it ([`By::as_str`]); `None` while pending.
    pub decided_by: Option<String>,
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

/// Record a new pending request; its id.
pub fn insert(
    tx: &Transaction<'_>,
    ts: &str,
    call: &Call,
    verdict: &Verdict,
) -> rusqlite::Result<i64> {
    let rules = serde_json::to_string(&verdict.ask_rules).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "INSERT INTO approval_requests (ts, brain, project, session, tool, summary, rule, rules, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            ts,
            call.brain,
            call.project,
            call.session,
            call.tool,
            call.summary,
            verdict.rule,
            rules,
            verdict.reason
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Settle a still-pending request. `false` when it was not pending any more (someone answered
/// first).
pub fn settle(
    tx: &Transaction<'_>,
    id: i64,
    state: State,
    ts: &str,
    by: By,
) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "UPDATE approval_requests SET state = ?2, decided_at = ?3, decided_by = ?4
         WHERE id = ?1 AND state = 'pending'",
        params![id, state.as_str(), ts, by.as_str()],
    )?;
    Ok(n == 1)
}

/// A stored request, if there is one with this id.
pub fn load(conn: &rusqlite::Connection, id: i64) -> rusqlite::Result<Option<Stored>> {
    conn.query_row(
        "SELECT state, rules, brain, project, rule, reason, tool, summary, session, decided_by
         FROM approval_requests WHERE id = ?1",
        [id],
        |r| {
            let rules: String = r.get(1)?;
            Ok(Stored {
                state: State::parse(&r.get::<_, String>(0)?),
                rules: serde_json::from_str(&rules).unwrap_or_default(),
                rule: r.get(4)?,
                reason: r.get(5)?,
                call: Call {
                    brain: r.get(2)?,
                    project: r.get(3)?,
                    tool: r.get(6)?,
                    summary: r.get(7)?,
                    session: r.get(8)?,
                },
                decided_by: r.get(9)?,
            })
        },
    )
    .optional()
}

/// Pending requests (oldest first), then recent answered ones (newest first) when `all`.
pub fn list(conn: &rusqlite::Connection, all: bool, limit: usize) -> rusqlite::Result<Vec<Row>> {
    let sql = if all {
        "SELECT id, ts, brain, project, session, tool, summary, rule, reason, state, decided_at, decided_by
         FROM approval_requests ORDER BY (state = 'pending') DESC,
              CASE WHEN state = 'pending' THEN id ELSE -id END LIMIT ?1"
    } else {
        "SELECT id, ts, brain, project, session, tool, summary, rule, reason, state, decided_at, decided_by
         FROM approval_requests WHERE state = 'pending' ORDER BY id LIMIT ?1"
    };
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([limit.min(i64::MAX as usize) as i64], |r| {
        Ok(Row {
            id: r.get(0)?,
            ts: r.get(1)?,
            brain: r.get(2)?,
            project: r.get(3)?,
            session: r.get(4)?,
            tool: r.get(5)?,
            summary: r.get(6)?,
            rule: r.get(7)?,
            reason: r.get(8)?,
            state: State::parse(&r.get::<_, String>(9)?),
            decided_at: r.get(10)?,
            decided_by: r.get(11)?,
        })
    })?;
    rows.collect()
}

/// Close every pending request (a previous daemon left them: their hooks are gone); the ids
/// and rules closed.
pub fn expire_pending(tx: &Transaction<'_>, ts: &str) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = tx.prepare(
        "UPDATE approval_requests SET state = 'expired', decided_at = ?1, decided_by = 'timeout'
         WHERE state = 'pending' RETURNING id, rule",
    )?;
    let rows = stmt.query_map([ts], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deny_by_the_clock_or_a_departed_hook_expires_and_a_person_s_deny_denies() {
        assert_eq!(By::Timeout.settles(Answer::Deny), State::Expired);
        assert_eq!(By::Gone.settles(Answer::Deny), State::Expired);
        assert_eq!(By::User.settles(Answer::Deny), State::Denied);
        assert_eq!(By::Trust.settles(Answer::Approve), State::Approved);
        assert_eq!(State::Expired.answer(), Some(Answer::Deny));
        assert_eq!(State::Pending.answer(), None);
    }

    #[test]
    fn answers_are_read_as_people_type_them() {
        assert_eq!(Answer::parse("allow"), Some(Answer::Approve));
        assert_eq!(Answer::parse("no"), Some(Answer::Deny));
        assert_eq!(Answer::parse("maybe"), None);
    }

    #[test]
    fn the_decided_payload_keeps_its_json_shape() {
        let d = Decided {
            id: Some(3),
            decision: Answer::Approve,
            class: Decision::Ask,
            rule: "shell.x".into(),
            reason: "r".into(),
            by: By::User,
            call: Call {
                tool: "Bash".into(),
                summary: "ls".into(),
                brain: "claude".into(),
                project: "/p".into(),
                session: "s".into(),
            },
            always: None,
        };
        let v = serde_json::to_value(&d).unwrap();
        for key in [
            "id", "decision", "class", "rule", "reason", "by", "tool", "summary", "brain",
            "project", "session",
        ] {
            assert!(v.get(key).is_some(), "{key} in {v}");
        }
        assert_eq!(v["decision"], "approve");
        assert_eq!(v["class"], "ask");
        assert!(v.get("always").is_none());
    }

    #[test]
    fn summaries_show_the_command_or_path() {
        use serde_json::json;
        assert_eq!(summarize("Bash", &json!({"command": "ls -la"})), "ls -la");
        assert_eq!(
            summarize("Write", &json!({"file_path": "/a/b", "content": "x"})),
            "/a/b"
        );
    }
}
