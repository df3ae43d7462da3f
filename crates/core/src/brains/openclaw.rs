//! OpenClaw adapter: one agent turn through the running gateway, with the CLI the installed
//! version documents for it: `openclaw agent --agent ID --message-file FILE --json --timeout S`
//! (the task goes through a private temp file, never argv).
//!
//! The CLI answers with one JSON document: on success the reply `payloads[].text` (plus `meta`
//! with usage and cost when the gateway reports them); on failure the envelope
//! `{"ok": false, "error": {"type", "message"}}`. It takes seconds to start, so before running it
//! the adapter checks the gateway itself: the daemon's watchdog state when the daemon runs,
//! else a TCP connect to the gateway's port. A gateway that is down is reported at once, with
//! what to do, instead of after the CLI's own retries.
//!
//! This module never starts, stops or configures the gateway (the watchdog supervises it).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Brain;
use super::adapter::{
    Adapter, BrainEvent, CliRun, Failure, Health, LineParser, RunRequest, RunResult, Usage,
    no_answer, run_cli, stderr_summary,
};
use crate::paths::Paths;

/// The gateway's port when its config names none.
pub const DEFAULT_GATEWAY_PORT: u16 = 18789;

/// Runs tasks on the OpenClaw gateway.
pub struct OpenClaw {
    paths: Paths,
    agent: String,
}

impl OpenClaw {
    /// An adapter that sends turns to the gateway's `main` agent, through the copy of the
    /// `openclaw` CLI this home resolves to ([`super::resolve`]).
    pub fn new(paths: &Paths) -> Self {
        Self {
            paths: paths.clone(),
            agent: "main".into(),
        }
    }

    /// Which OpenClaw agent runs the turns (default `main`).
    pub fn with_agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = agent.into();
        self
    }

    /// The arguments of a run: `agent --agent AGENT --message-file FILE --json --timeout S`
    /// (the task is in `message_file`; the time limit in whole seconds, at least 1).
    pub fn args(&self, message_file: &std::path::Path, timeout: Duration) -> Vec<String> {
        vec![
            "agent".into(),
            "--agent".into(),
            self.agent.clone(),
            "--message-file".into(),
            message_file.display().to_string(),
            "--json".into(),
            "--timeout".into(),
            timeout.as_secs().max(1).to_string(),
        ]
    }
}

/// The gateway's config file: `$OPENCLAW_CONFIG_PATH`, else `$OPENCLAW_STATE_DIR/openclaw.json`,
/// else `~/.openclaw/openclaw.json`.
pub fn gateway_config_file() -> PathBuf {
    if let Some(path) = std::env::var_os("OPENCLAW_CONFIG_PATH") {
        return PathBuf::from(path);
    }
    if let Some(dir) = std::env::var_os("OPENCLAW_STATE_DIR") {
        return PathBuf::from(dir).join("openclaw.json");
    }
    crate::paths::expand_tilde("~/.openclaw/openclaw.json")
}

/// The gateway's loopback port: `$OPENCLAW_GATEWAY_PORT`, else `gateway.port` in its config
/// (plain JSON; a JSON5 file that serde cannot read falls back to the default), else 18789.
pub fn gateway_port() -> u16 {
    if let Some(port) = std::env::var("OPENCLAW_GATEWAY_PORT")
        .ok()
        .and_then(|p| p.trim().parse().ok())
    {
        return port;
    }
    std::fs::read(gateway_config_file())
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|config| config.pointer("/gateway/port").and_then(Value::as_u64))
        .and_then(|port| u16::try_from(port).ok())
        .unwrap_or(DEFAULT_GATEWAY_PORT)
}

/// Is the gateway up? The daemon's watchdog knows best (it probes the gateway's readiness);
/// without a daemon, a TCP connect to its port (bounded to 300 ms) tells at least whether
/// anything listens.
pub fn gateway_health(paths: &Paths) -> Health {
    if let Some(health) = watchdog_view(paths) {
        return health;
    }
    let port = gateway_port();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    match TcpStream::connect_timeout(&address, Duration::from_millis(300)) {
        Ok(_) => Health {
            ok: true,
            detail: format!("the gateway listens on {address}"),
        },
        Err(e) => Health {
            ok: false,
            detail: format!(
                "the OpenClaw gateway is not running ({address}: {e}); start it with \
                 `paios service start openclaw-gateway` (or `openclaw gateway run`)"
            ),
        },
    }
}

/// What the daemon's watchdog says about a supervised gateway service, if there is a daemon
/// and it supervises one.
fn watchdog_view(paths: &Paths) -> Option<Health> {
    if !paths.socket().exists() {
        return None;
    }
    let mut client =
        crate::client::Client::connect_with_timeout(paths, Duration::from_millis(500)).ok()?;
    let status = client.call("core.status", Value::Null).ok()?;
    let service = status.get("services")?.as_array()?.iter().find(|s| {
        s.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.contains("openclaw"))
    })?;
    let name = service
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("openclaw");
    let state = service
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let probe_ok = service
        .pointer("/probe/ok")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let ok = matches!(state, "running" | "adopted") && probe_ok;
    let detail = if ok {
        format!("service {name} is {state} (watchdog)")
    } else {
        let error = service
            .pointer("/probe/error")
            .and_then(Value::as_str)
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        format!(
            "service {name} is {state}{error} (watchdog); see `paios status` and `paios runbook {name}`"
        )
    };
    Some(Health { ok, detail })
}

impl Adapter for OpenClaw {
    fn brain(&self) -> Brain {
        Brain::Openclaw
    }

    fn paths(&self) -> &Paths {
        &self.paths
    }

    fn health(&self) -> Health {
        gateway_health(&self.paths)
    }

    fn run(&self, request: &RunRequest, on_event: &mut dyn FnMut(&BrainEvent)) -> RunResult {
        let started = Instant::now();
        let health = self.health();
        if !health.ok {
            return RunResult::failed(
                Brain::Openclaw,
                Failure::Unavailable(health.detail),
                started.elapsed(),
            );
        }
        // The task goes in a private temp file (0600), removed when the run ends.
        let message = match &request.append_system_prompt {
            Some(system) => format!("{system}\n\n{}", request.prompt),
            None => request.prompt.clone(),
        };
        let file = tempfile::Builder::new()
            .prefix("paios-task-")
            .suffix(".md")
            .tempfile()
            .and_then(|mut f| f.write_all(message.as_bytes()).map(|_| f));
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                return RunResult::failed(
                    Brain::Openclaw,
                    Failure::Error(format!("cannot write the task to a temp file: {e}")),
                    started.elapsed(),
                );
            }
        };
        // The CLI's own deadline is the request's; ours is a little later so it can report.
        let run = CliRun {
            args: self.args(file.path(), request.timeout),
            stdin: Vec::new(),
            parser: Box::new(JsonParser::default()),
            grace: Duration::from_secs(5),
        };
        let result = run_cli(&self.paths, Brain::Openclaw, request, run, on_event);
        if !result.text.is_empty() {
            on_event(&BrainEvent::Text(result.text.clone()));
        }
        result
    }
}

/// Parser of `openclaw agent --json` output: one (pretty-printed) JSON document.
#[derive(Debug, Default)]
pub struct JsonParser {
    output: String,
}

impl LineParser for JsonParser {
    fn line(&mut self, line: &str) -> Vec<BrainEvent> {
        // Bound memory on a runaway output; the envelope is small.
        if self.output.len() < 16 * 1024 * 1024 {
            self.output.push_str(line);
            self.output.push('\n');
        }
        Vec::new()
    }

    fn finish(self: Box<Self>, exit: Option<ExitStatus>, stderr_tail: &str) -> RunResult {
        let mut result = RunResult::new(Brain::Openclaw, None);
        // Diagnostics go to stderr, but be tolerant of a line before the JSON.
        let json = self
            .output
            .find('{')
            .map(|i| &self.output[i..])
            .unwrap_or("");
        let Ok(doc) = serde_json::from_str::<Value>(json.trim()) else {
            result.error = Some(no_answer(
                Brain::Openclaw,
                exit,
                stderr_tail,
                "without a JSON answer",
            ));
            return result;
        };
        let meta = doc.get("meta").unwrap_or(&Value::Null);
        let agent_meta = meta.get("agentMeta").unwrap_or(&Value::Null);
        let usage = doc
            .get("usage")
            .or_else(|| agent_meta.get("usage"))
            .unwrap_or(&Value::Null);
        let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        result.usage = Usage {
            input_tokens: n("input"),
            output_tokens: n("output"),
            cache_creation_tokens: n("cacheWrite"),
            cache_read_tokens: n("cacheRead"),
        };
        result.cost_usd = doc
            .get("costUsd")
            .or_else(|| agent_meta.get("costUsd"))
            .and_then(Value::as_f64);
        result.session = doc
            .get("sessionId")
            .or_else(|| agent_meta.get("sessionId"))
            .and_then(Value::as_str)
            .map(String::from);
        let status = doc.get("status").and_then(Value::as_str);
        let failed = doc.get("ok").and_then(Value::as_bool) == Some(false)
            || matches!(status, Some("error" | "timeout" | "in_flight"));
        if failed {
            let message = doc
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| {
                    format!("openclaw reported status {}", status.unwrap_or("error"))
                });
            result.error = Some(if status == Some("timeout") {
                Failure::Timeout(message)
            } else if message.contains("not reachable") || message.contains("ECONNREFUSED") {
                Failure::Unavailable(message)
            } else {
                Failure::from_message(message)
            });
            return result;
        }
        let payloads = doc
            .get("payloads")
            .or_else(|| doc.pointer("/result/payloads"))
            .and_then(Value::as_array);
        let text: Vec<&str> = payloads
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .filter(|t| !t.is_empty())
            .collect();
        result.text = if text.is_empty() {
            doc.get("final")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        } else {
            text.join("\n")
        };
        if exit.is_some_and(|s| !s.success()) && result.text.is_empty() {
            result.error = Some(Failure::Error(format!(
                "openclaw failed: {}",
                stderr_summary(stderr_tail)
            )));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(output: &str, stderr: &str) -> RunResult {
        let mut parser = Box::new(JsonParser::default());
        for line in output.lines() {
            parser.line(line);
        }
        parser.finish(None, stderr)
    }

    /// Recorded from OpenClaw 2026.9.6 with no gateway listening.
    const DOWN: &str = r#"{
  "ok": false,
  "error": {
    "type": "cli_error",
    "message": "Gateway not reachable at ws://127.0.0.1:18799 (ECONNREFUSED).\nStart it with `openclaw gateway run` or check `openclaw gateway status`."
  }
}"#;

    #[test]
    fn a_gateway_that_is_down_is_unavailable() {
        let result = parse(DOWN, "");
        assert!(
            matches!(&result.error, Some(Failure::Unavailable(m)) if m.contains("not reachable")),
            "{result:?}"
        );
    }

    #[test]
    fn a_reply_gives_its_payload_text_usage_and_cost() {
        // The documented envelope of `openclaw agent --json` (docs/cli/agent.md).
        let result = parse(
            r#"{"payloads":[{"text":"Sent to #general.","mediaUrl":null}],
                "meta":{"durationMs":1200,"agentMeta":{"usage":{"input":120,"output":8,"total":128},"costUsd":0.0021,"sessionId":"019a"}}}"#,
            "",
        );
        assert_eq!(result.text, "Sent to #general.");
        assert_eq!(result.usage.input_tokens, 120);
        assert_eq!(result.usage.output_tokens, 8);
        assert_eq!(result.cost_usd, Some(0.0021));
        assert_eq!(result.session.as_deref(), Some("019a"));
        assert!(result.error.is_none());
    }

    #[test]
    fn a_timeout_status_is_a_timeout() {
        let result = parse(
            r#"{"ok":true,"status":"timeout","error":{"message":"turn timed out"}}"#,
            "",
        );
        assert!(matches!(result.error, Some(Failure::Timeout(_))));
    }

    #[test]
    fn no_json_is_an_error_with_stderr() {
        let result = parse("", "Error: config invalid\n");
        assert!(result.error.unwrap().message().contains("config invalid"));
    }

    #[test]
    fn the_task_is_never_an_argument() {
        let adapter = OpenClaw::new(&Paths::at("/nonexistent"));
        let args = adapter.args(std::path::Path::new("task.md"), Duration::from_secs(30));
        assert!(args.windows(2).any(|w| w == ["--message-file", "task.md"]));
        assert!(!args.iter().any(|a| a == "--message" || a == "-m"));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(lines in proptest::collection::vec("\\PC{0,200}", 0..10)) {
            let _ = super::super::adapter::feed(Box::new(JsonParser::default()), &lines);
        }

        #[test]
        fn wrong_types_never_panic(v in "(null|1|\"x\"|\\[\\]|\\{\\}|true)") {
            let doc = format!(r#"{{"ok":{v},"status":{v},"error":{v},"payloads":{v},"meta":{{"agentMeta":{{"usage":{v}}}}},"usage":{v},"costUsd":{v}}}"#);
            let _ = parse(&doc, "");
        }
    }
}
