//! The hook side of the gate: what `paios hook pre-tool-use` (and friends) answer to Claude Code
//! (and Codex, which speaks a subset of the same protocol).
//!
//! It runs before *every* tool call, so it is built to be fast and to fail closed:
//! * safe and never are decided here, from the policy files alone — no async runtime, no
//!   database; the decision is recorded as an `approval.decided` event through the daemon (or
//!   the spool when it is down);
//! * ask goes to the daemon's queue (`approvals.request`) and waits for the answer; when the
//!   daemon cannot be reached the call is denied with a reason saying how to fix it;
//! * unreadable input or an invalid user policy → deny, with the reason.
//!
//! Secrets: event data carries a one-line summary with token-looking values masked, never the
//! tool's full input (file contents, for instance).

use std::time::Duration;

use serde_json::{Value, json};

use super::classify::{Context, Verdict};
use super::policy::{Decision, Policy};
use crate::client::Client;
use crate::events::{Event, kind};
use crate::paths::Paths;

/// Which protocol dialect to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Claude Code: allow / deny / ask.
    Claude,
    /// Codex: only deny is understood; "allow" is expressed by answering nothing, which hands
    /// the call to Codex's own approval policy.
    Codex,
}

/// The answer to print (JSON), or `None` for "print nothing".
#[derive(Debug, Clone, PartialEq)]
pub struct HookAnswer {
    /// Whether the call may run.
    pub allow: bool,
    /// Why, for the agent and the person (`permissionDecisionReason`).
    pub reason: String,
}

impl HookAnswer {
    fn deny(reason: impl Into<String>) -> Self {
        HookAnswer {
            allow: false,
            reason: reason.into(),
        }
    }

    /// Claude Code's / Codex's PreToolUse output.
    pub fn to_json(&self, dialect: Dialect) -> Option<Value> {
        match (dialect, self.allow) {
            (Dialect::Codex, true) => None,
            _ => Some(json!({
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": if self.allow { "allow" } else { "deny" },
                    "permissionDecisionReason": self.reason,
                }
            })),
        }
    }
}

/// The parts of Claude Code's hook input PAIOS uses.
#[derive(Debug, Clone, Default)]
pub struct HookInput {
    /// The tool called (`tool_name`).
    pub tool: String,
    /// The tool's arguments (`tool_input`); `Null` when absent.
    pub input: Value,
    /// The agent's session id (`session_id`); empty when absent.
    pub session: String,
    /// The directory the agent works in (`cwd`), when given.
    pub cwd: Option<String>,
}

/// Read the hook's JSON input. The error, for the deny reason, says what is wrong: not JSON,
/// or no `tool_name`.
pub fn parse_input(stdin: &[u8]) -> Result<HookInput, String> {
    let v: Value =
        serde_json::from_slice(stdin).map_err(|e| format!("the hook input is not JSON ({e})"))?;
    let tool = v
        .get("tool_name")
        .and_then(Value::as_str)
        .ok_or("the hook input has no tool_name")?
        .to_string();
    Ok(HookInput {
        tool,
        input: v.get("tool_input").cloned().unwrap_or(Value::Null),
        session: v
            .get("session_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        cwd: v.get("cwd").and_then(Value::as_str).map(str::to_string),
    })
}

/// Decide a PreToolUse call.
pub fn pre_tool_use(paths: &Paths, stdin: &[u8], brain: &str) -> HookAnswer {
    let call = match parse_input(stdin) {
        Ok(c) => c,
        Err(e) => return HookAnswer::deny(format!("PAIOS: {e}; refusing the tool call")),
    };
    let policy_file = paths.policy_file();
    let policy = match Policy::load(&policy_file) {
        Ok(p) => p,
        Err(e) => {
            return HookAnswer::deny(format!(
                "PAIOS: the approval policy is invalid, so every tool call is refused until it is \
                 fixed: {e}. Check it with `paios policy check {}`.",
                policy_file.display()
            ));
        }
    };
    let ctx = Context {
        cwd: call.cwd.as_ref().map(Into::into),
        home: super::policy::home_dir(),
        paios_home: Some(paths.home().to_path_buf()),
        // The hook runs in the environment the agent runs its commands in.
        tmpdir: crate::approvals::shell::TmpDir::from_env(),
    };
    let verdict = policy.classify_tool(&call.tool, &call.input, &ctx);
    decide(paths, &call, &verdict, brain)
}

fn call_data(call: &HookInput, brain: &str) -> Value {
    json!({
        "tool": call.tool,
        "summary": redact(&super::queue::summarize(&call.tool, &call.input)),
        "brain": brain,
        "project": call.cwd.clone().unwrap_or_default(),
        "session": call.session,
    })
}

fn record(
    paths: &Paths,
    call: &HookInput,
    verdict: &Verdict,
    brain: &str,
    approve: bool,
    by: &str,
) {
    let mut data = call_data(call, brain);
    if let Some(d) = data.as_object_mut() {
        d.insert("id".into(), Value::Null);
        d.insert(
            "decision".into(),
            json!(if approve { "approve" } else { "deny" }),
        );
        d.insert("class".into(), json!(verdict.decision.as_str()));
        d.insert("rule".into(), json!(verdict.rule));
        d.insert("reason".into(), json!(verdict.reason));
        d.insert("by".into(), json!(by));
    }
    let event = Event::new(kind::APPROVAL_DECIDED, "hook").data(data);
    // Recording must never change the decision.
    crate::client::emit_quietly(paths, &event);
}

fn decide(paths: &Paths, call: &HookInput, verdict: &Verdict, brain: &str) -> HookAnswer {
    match verdict.decision {
        Decision::Safe => {
            record(paths, call, verdict, brain, true, "policy");
            HookAnswer {
                allow: true,
                reason: format!("PAIOS: safe ({}): {}", verdict.rule, verdict.reason),
            }
        }
        Decision::Never => {
            record(paths, call, verdict, brain, false, "policy");
            HookAnswer::deny(format!(
                "PAIOS refused this ({}): {}. This is a `never` rule: no approval can allow it.",
                verdict.rule, verdict.reason
            ))
        }
        Decision::Ask => ask(paths, call, verdict, brain),
    }
}

fn ask(paths: &Paths, call: &HookInput, verdict: &Verdict, brain: &str) -> HookAnswer {
    let timeout_s = crate::config::Config::load(&paths.config_file())
        .map(|c| c.approvals.timeout_s)
        .unwrap_or(300);
    let mut client = match Client::connect_with_timeout(paths, Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => {
            record(paths, call, verdict, brain, false, "unavailable");
            return HookAnswer::deny(format!(
                "PAIOS: this needs your approval ({}: {}), but {e}. Denied.",
                verdict.rule, verdict.reason
            ));
        }
    };
    let _ = client.set_timeout(Some(Duration::from_secs(timeout_s.saturating_add(30))));
    let mut args = call_data(call, brain);
    if let Some(a) = args.as_object_mut() {
        // The daemon summarises again from the input; send only what is needed for that.
        a.insert("input".into(), summary_input(&call.tool, &call.input));
        a.insert(
            "verdict".into(),
            json!({"decision": "ask", "rule": verdict.rule, "reason": verdict.reason,
                   "ask_rules": verdict.ask_rules}),
        );
    }
    match client.call("approvals.request", args) {
        Ok(answer) => {
            let approve = answer.get("decision").and_then(Value::as_str) == Some("approve");
            let by = answer.get("by").and_then(Value::as_str).unwrap_or("user");
            let id = answer.get("id").and_then(Value::as_i64).unwrap_or(0);
            let reason = answer
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or(&verdict.reason);
            HookAnswer {
                allow: approve,
                reason: format!(
                    "PAIOS request {id} {} by {by} ({}): {reason}",
                    if approve { "approved" } else { "denied" },
                    verdict.rule
                ),
            }
        }
        Err(e) => HookAnswer::deny(format!(
            "PAIOS: this needs your approval ({}: {}), but the daemon did not answer: {e}. Denied.",
            verdict.rule, verdict.reason
        )),
    }
}

/// The fields of a tool input that [`super::queue::summarize`] reads, with secrets masked.
fn summary_input(tool: &str, input: &Value) -> Value {
    json!({"command": redact(&super::queue::summarize(tool, input))})
}

/// Record a PostToolUse / SessionStart / Stop notification. Never fails the brain.
pub fn notify(paths: &Paths, event_kind: &str, stdin: &[u8], brain: &str) {
    let v: Value = serde_json::from_slice(stdin).unwrap_or(Value::Null);
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut data = json!({"brain": brain, "session": s("session_id"), "project": s("cwd")});
    if let Some(tool) = v.get("tool_name").and_then(Value::as_str) {
        let input = v.get("tool_input").cloned().unwrap_or(Value::Null);
        data["tool"] = json!(tool);
        data["summary"] = json!(redact(&super::queue::summarize(tool, &input)));
    }
    let event = Event::new(event_kind, "hook")
        .subject(s("session_id"))
        .data(data);
    crate::client::emit_quietly(paths, &event);
}

pub use super::redact::redact;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_use_claude_codes_fields() {
        let a = HookAnswer::deny("no");
        let j = a.to_json(Dialect::Claude).unwrap();
        assert_eq!(j["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(j["hookSpecificOutput"]["hookEventName"], "PreToolUse");
        assert_eq!(j["hookSpecificOutput"]["permissionDecisionReason"], "no");
        let ok = HookAnswer {
            allow: true,
            reason: "fine".into(),
        };
        assert!(ok.to_json(Dialect::Codex).is_none());
    }

    #[test]
    fn bad_input_is_denied() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        assert!(!pre_tool_use(&paths, b"not json", "claude").allow);
        assert!(!pre_tool_use(&paths, b"{}", "claude").allow);
    }

    #[test]
    fn never_is_denied_without_a_daemon_and_ask_is_denied_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let never = br#"{"tool_name":"Bash","tool_input":{"command":"rm -rf /"},"cwd":"/tmp"}"#;
        let a = pre_tool_use(&paths, never, "claude");
        assert!(!a.allow && a.reason.contains("never"), "{a:?}");
        let ask = br#"{"tool_name":"Bash","tool_input":{"command":"curl -d x https://example.org"},"cwd":"/tmp"}"#;
        let a = pre_tool_use(&paths, ask, "claude");
        assert!(!a.allow && a.reason.contains("paios daemon"), "{a:?}");
        let safe = br#"{"tool_name":"Bash","tool_input":{"command":"ls -la"},"cwd":"/tmp"}"#;
        assert!(pre_tool_use(&paths, safe, "claude").allow);
    }
}
