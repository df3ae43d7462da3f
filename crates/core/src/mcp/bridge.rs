//! The bridge tools: `ask_claude` and `ask_codex` give a task to another brain through the
//! router's run path — the same loop `ai --brain NAME` uses (`route.decided`, `task.started`,
//! `task.finished` events, the brain's timeout, its process group stopped on cancel) — after the
//! approval gate has classified the call.
//!
//! Owns: turning a tool call into a [`TaskRequest`] (brain forced, no fallback, `source = "mcp"`),
//! the gate's verdict for the call, and the `mcp.called` event (caller, tool, duration, outcome,
//! cost). Never: parses a brain's output (the adapters do) or picks a brain.
//! Blocking: [`run()`] waits for the brain; callers run it on a blocking thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::tools::{AskArgs, ToolError};
use crate::approvals::classify::{Context, Verdict};
use crate::approvals::policy::Policy;
use crate::brains::Brain;
use crate::config::Config;
use crate::events::payload::McpCalled;
use crate::events::{Event, EventSink};
use crate::paths::Paths;
use crate::router::run::{self, Progress, TaskRequest};

/// The brain a bridge tool runs.
pub fn brain_of(tool: &str) -> Option<Brain> {
    match tool {
        "ask_claude" => Some(Brain::Claude),
        "ask_codex" => Some(Brain::Codex),
        _ => None,
    }
}

/// What the gate says about this call (the policy alone: `safe`, `ask` or `never`).
pub fn classify(paths: &Paths, tool: &str, arguments: &Value) -> Result<Verdict, ToolError> {
    let policy_file = paths.policy_file();
    let policy = Policy::load(&policy_file).map_err(|e| {
        ToolError::Failed(format!(
            "PAIOS refuses bridge calls while the approval policy {} is invalid: {e}",
            policy_file.display()
        ))
    })?;
    let mut ctx = Context::from_env();
    ctx.paios_home = Some(paths.home().to_path_buf());
    if let Some(cwd) = arguments.get("cwd").and_then(Value::as_str) {
        ctx.cwd = Some(cwd.into());
    }
    Ok(policy.classify_tool(&format!("mcp__paios__{tool}"), arguments, &ctx))
}

/// The refusal for a `never` verdict.
pub fn refused(verdict: &Verdict) -> ToolError {
    ToolError::Failed(format!(
        "PAIOS refused this ({}): {}. This is a `never` rule: no approval can allow it.",
        verdict.rule, verdict.reason
    ))
}

/// One bridge call, decoded and checked.
#[derive(Debug, Clone)]
pub struct Call {
    /// The tool called (`ask_claude` or `ask_codex`).
    pub tool: String,
    /// The brain that tool runs.
    pub brain: Brain,
    /// The task for the brain; never empty or only whitespace.
    pub prompt: String,
    /// The brain's working folder (an existing folder); `None`: the folder PAIOS runs in.
    pub cwd: Option<PathBuf>,
    /// Time limit of the run (1–3600 s); `None`: the router's `timeout_s`.
    pub timeout: Option<Duration>,
    /// Who asked (the MCP client's name, from its `initialize`).
    pub caller: String,
}

impl Call {
    /// Decode and check the arguments of a call to `tool` made by `caller`: an error for a tool
    /// that is not a bridge tool, or for arguments that are malformed, an empty prompt, a time
    /// limit outside 1–3600 s or a `cwd` that is not a folder.
    pub fn parse(tool: &str, arguments: &Value, caller: &str) -> Result<Call, ToolError> {
        let brain = brain_of(tool).ok_or_else(|| ToolError::Unknown(tool.into()))?;
        let a: AskArgs = super::tools::args(tool, arguments)?;
        let bad = |message: String| ToolError::InvalidArgs {
            tool: tool.into(),
            message,
        };
        if a.prompt.trim().is_empty() {
            return Err(bad("prompt is empty".into()));
        }
        if let Some(t) = a.timeout_s
            && !(1..=3600).contains(&t)
        {
            return Err(bad(format!("timeout_s {t}: use 1–3600 seconds")));
        }
        let cwd = a.cwd.map(PathBuf::from);
        if let Some(dir) = cwd.as_ref().filter(|d| !d.is_dir()) {
            return Err(bad(format!("cwd {}: no such folder", dir.display())));
        }
        Ok(Call {
            tool: tool.into(),
            brain,
            prompt: a.prompt,
            cwd,
            timeout: a.timeout_s.map(Duration::from_secs),
            caller: caller.into(),
        })
    }
}

/// Run `call` to its end (answer, failure, timeout or `cancel`), reporting what the brain does
/// through `progress`, and record it. Blocking.
pub fn run(
    paths: &Paths,
    config: &Config,
    call: &Call,
    cancel: Arc<AtomicBool>,
    events: &dyn EventSink,
    progress: &mut dyn FnMut(String),
) -> Result<Value, ToolError> {
    let started = Instant::now();
    let policy = config.router.policy().map_err(|(key, message)| {
        ToolError::Failed(format!(
            "the [router] section of paios.toml is invalid: key `{key}`: {message}"
        ))
    })?;
    let router = crate::router::Router::new(policy);
    let mut request = TaskRequest::new(call.prompt.clone());
    request.brain = Some(call.brain);
    request.fallback = false;
    request.timeout = call.timeout;
    request.cwd = call.cwd.clone();
    request.source = "mcp".into();
    request.cancel = Some(cancel);
    let brain = call.brain.name();
    let outcome = run::run(
        paths,
        &config.router,
        &router,
        &request,
        events,
        &mut |p| match p {
            Progress::Decided(d) if !d.runnable => {}
            Progress::Decided(_) => progress(format!("{brain} started")),
            Progress::FallingBack { .. } => {}
            Progress::Brain(_, e) => match e {
                crate::brains::adapter::BrainEvent::Started { .. } => {}
                crate::brains::adapter::BrainEvent::Text(_) => {
                    progress(format!("{brain} is answering"))
                }
                crate::brains::adapter::BrainEvent::Tool { name, .. } => {
                    progress(format!("{brain} runs {name}"))
                }
                crate::brains::adapter::BrainEvent::Progress(text) => {
                    progress(format!("{brain}: {}", crate::text::printable(text)))
                }
            },
        },
    );
    let answer = outcome.to_json();
    let last = outcome.last();
    let outcome_name = if outcome.not_run().is_some() {
        "no_brain"
    } else {
        last.map(|r| r.outcome()).unwrap_or("no_brain")
    };
    let called = McpCalled {
        caller: call.caller.clone(),
        tool: call.tool.clone(),
        brain: Some(brain.to_string()),
        task_id: Some(outcome.task_id.clone()),
        duration_ms: started.elapsed().as_millis() as u64,
        outcome: outcome_name.to_string(),
        cost_usd: last.and_then(|r| r.cost_usd),
        tokens: last.map(|r| r.usage.total()).unwrap_or(0),
    };
    events.emit(Event::of("mcp", call.tool.clone(), &called));
    if let Some(why) = outcome.not_run() {
        return Err(ToolError::Failed(why));
    }
    if !outcome.succeeded() {
        let why = last
            .and_then(|r| r.error.as_ref())
            .map(|e| e.to_string())
            .unwrap_or_else(|| "no answer".into());
        return Err(ToolError::Failed(format!("{brain} failed: {why}")));
    }
    Ok(json!({
        "brain": answer["brain"],
        "text": answer["text"],
        "outcome": answer["outcome"],
        "cost_usd": answer["cost_usd"],
        "tokens": answer["tokens"],
        "duration_ms": answer["duration_ms"],
        "task_id": answer["task_id"],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::policy::Decision;

    #[test]
    fn calls_are_checked_before_anything_runs() {
        assert!(matches!(
            Call::parse("ask_codex", &json!({"prompt": "  "}), "t"),
            Err(ToolError::InvalidArgs { .. })
        ));
        assert!(matches!(
            Call::parse("ask_codex", &json!({"prompt": "hi", "timeout_s": 0}), "t"),
            Err(ToolError::InvalidArgs { .. })
        ));
        assert!(matches!(
            Call::parse(
                "ask_codex",
                &json!({"prompt": "hi", "cwd": "/no/such/dir"}),
                "t"
            ),
            Err(ToolError::InvalidArgs { .. })
        ));
        let call =
            Call::parse("ask_claude", &json!({"prompt": "hi", "timeout_s": 5}), "t").unwrap();
        assert_eq!(call.brain, Brain::Claude);
        assert_eq!(call.timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn the_bridge_tools_are_safe_by_default_like_a_subagent() {
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::at(home.path());
        let v = classify(&paths, "ask_codex", &json!({"prompt": "review"})).unwrap();
        assert_eq!(v.decision, Decision::Safe, "{v:?}");
    }
}
