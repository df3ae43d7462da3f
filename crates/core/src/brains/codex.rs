//! Codex adapter: `codex exec --json --skip-git-repo-check -`, the prompt on stdin (`-` makes
//! Codex read it there).
//!
//! Every stdout line is one JSON event: `thread.started`, `turn.started`,
//! `item.started|updated|completed` (items: `agent_message` — the answer —, `reasoning`,
//! `command_execution`, `file_change`, `mcp_tool_call`, `web_search`, `todo_list`, and `error`
//! items, which are non-fatal warnings), `turn.completed` (with `usage`; its input count
//! includes cached tokens), and on failure `error` and `turn.failed`.
//!
//! Codex does not report a cost; the usage ledger prices its tokens. This module never edits
//! Codex's configuration.

use std::process::ExitStatus;

use serde_json::Value;

use super::Brain;
use super::adapter::{
    BrainEvent, CliBrain, CliRun, Failure, LineParser, RunRequest, RunResult, Usage, no_answer,
};
use crate::paths::Paths;

/// Runs tasks on Codex.
pub struct Codex {
    paths: Paths,
}

impl Codex {
    /// An adapter that runs the copy of Codex this home resolves to ([`super::resolve`]).
    pub fn new(paths: &Paths) -> Self {
        Self {
            paths: paths.clone(),
        }
    }

    /// The arguments of a run (the prompt goes to stdin).
    pub fn args() -> Vec<String> {
        ["exec", "--json", "--skip-git-repo-check", "-"]
            .map(String::from)
            .to_vec()
    }

    /// Codex has no system-prompt flag for `exec`: extra instructions lead the prompt.
    pub fn stdin(request: &RunRequest) -> String {
        match &request.append_system_prompt {
            Some(system) => format!("{system}\n\n{}", request.prompt),
            None => request.prompt.clone(),
        }
    }
}

impl CliBrain for Codex {
    const BRAIN: Brain = Brain::Codex;
    fn home(&self) -> &Paths {
        &self.paths
    }
    fn cli_run(&self, request: &RunRequest) -> CliRun {
        let parser = Box::new(JsonParser::default());
        CliRun::new(Self::args(), Self::stdin(request).into_bytes(), parser)
    }
}

/// Parser of `codex exec --json` lines.
#[derive(Debug, Default)]
pub struct JsonParser {
    thread: Option<String>,
    /// Agent messages, in order; the last one is the answer.
    messages: Vec<String>,
    usage: Usage,
    turn_completed: bool,
    failure: Option<String>,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

impl LineParser for JsonParser {
    fn line(&mut self, line: &str) -> Vec<BrainEvent> {
        let Ok(event) = serde_json::from_str::<Value>(line.trim()) else {
            return Vec::new();
        };
        match event.get("type").and_then(Value::as_str) {
            Some("thread.started") => {
                self.thread = str_at(&event, &["thread_id"]).map(String::from);
                vec![BrainEvent::Started {
                    session: self.thread.clone(),
                }]
            }
            Some("item.started") => {
                let item = event.get("item").unwrap_or(&Value::Null);
                match str_at(item, &["type"]) {
                    Some("command_execution") => vec![BrainEvent::Tool {
                        name: "shell".into(),
                        detail: str_at(item, &["command"]).unwrap_or("").to_string(),
                    }],
                    Some("mcp_tool_call") => vec![BrainEvent::Tool {
                        name: format!(
                            "{}.{}",
                            str_at(item, &["server"]).unwrap_or("mcp"),
                            str_at(item, &["tool"]).unwrap_or("tool")
                        ),
                        detail: String::new(),
                    }],
                    _ => Vec::new(),
                }
            }
            Some("item.completed") => {
                let item = event.get("item").unwrap_or(&Value::Null);
                match str_at(item, &["type"]) {
                    Some("agent_message") => {
                        let text = str_at(item, &["text"]).unwrap_or("").to_string();
                        if text.is_empty() {
                            return Vec::new();
                        }
                        let mut out = Vec::new();
                        if !self.messages.is_empty() {
                            out.push(BrainEvent::Text("\n".into()));
                        }
                        self.messages.push(text.clone());
                        out.push(BrainEvent::Text(text));
                        out
                    }
                    Some("file_change") => vec![BrainEvent::Tool {
                        name: "edit".into(),
                        detail: item
                            .get("changes")
                            .and_then(Value::as_array)
                            .map(|changes| {
                                changes
                                    .iter()
                                    .filter_map(|c| str_at(c, &["path"]))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                            .unwrap_or_default(),
                    }],
                    // Non-fatal warnings (e.g. unknown model metadata).
                    Some("error") => vec![BrainEvent::Progress(format!(
                        "warning: {}",
                        str_at(item, &["message"]).unwrap_or("")
                    ))],
                    _ => Vec::new(),
                }
            }
            Some("turn.completed") => {
                self.turn_completed = true;
                let usage = event.get("usage").unwrap_or(&Value::Null);
                let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
                // Codex's input count includes the cached part; split it like Claude's.
                let cached = n("cached_input_tokens");
                self.usage.input_tokens += n("input_tokens").saturating_sub(cached);
                self.usage.cache_read_tokens += cached;
                self.usage.cache_creation_tokens += n("cache_write_input_tokens");
                self.usage.output_tokens += n("output_tokens");
                Vec::new()
            }
            Some("turn.failed") => {
                self.failure = str_at(&event, &["error", "message"])
                    .map(String::from)
                    .or(self.failure.take())
                    .or(Some("codex reported a failed turn".into()));
                Vec::new()
            }
            Some("error") => {
                if let Some(message) = str_at(&event, &["message"]) {
                    self.failure = Some(message.to_string());
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn finish(self: Box<Self>, exit: Option<ExitStatus>, stderr_tail: &str) -> RunResult {
        let mut result = RunResult {
            usage: self.usage,
            ..RunResult::new(Brain::Codex, self.thread)
        };
        let exited_ok = exit.is_some_and(|s| s.success());
        if let Some(message) = self.failure {
            result.error = Some(Failure::from_message(message));
        } else if !self.turn_completed || !exited_ok {
            result.error = Some(no_answer(
                Brain::Codex,
                exit,
                stderr_tail,
                "without finishing its turn",
            ));
        } else {
            result.text = self.messages.last().cloned().unwrap_or_default();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;

    /// Recorded from Codex 0.169.0 against a fake Responses API.
    const OK: &str = r#"{"type":"thread.started","thread_id":"01a2"}
{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `gpt-5-codex` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc 'cargo test'","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Fixed the test."}}
{"type":"turn.completed","usage":{"input_tokens":20,"cached_input_tokens":4,"cache_write_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0}}"#;

    /// The same CLI when the API answers 500 "overloaded".
    const FAILED: &str = r#"{"type":"thread.started","thread_id":"01a2"}
{"type":"turn.started"}
{"type":"error","message":"We’re currently experiencing high demand, which may cause temporary errors."}
{"type":"turn.failed","error":{"message":"We’re currently experiencing high demand, which may cause temporary errors."}}"#;

    fn parse(lines: &str, code: i32) -> (Vec<BrainEvent>, RunResult) {
        let mut parser = Box::new(JsonParser::default());
        let mut events = Vec::new();
        for line in lines.lines() {
            events.extend(parser.line(line));
        }
        let status = ExitStatus::from_raw(code << 8);
        (events, parser.finish(Some(status), ""))
    }

    #[test]
    fn a_completed_turn_gives_the_last_agent_message_and_usage() {
        let (events, result) = parse(OK, 0);
        assert!(events.contains(&BrainEvent::Text("Fixed the test.".into())));
        assert!(events.iter().any(
            |e| matches!(e, BrainEvent::Tool { name, detail } if name == "shell" && detail.contains("cargo test"))
        ));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, BrainEvent::Progress(p) if p.starts_with("warning")))
        );
        assert_eq!(result.text, "Fixed the test.");
        assert_eq!(result.usage.input_tokens, 16);
        assert_eq!(result.usage.cache_read_tokens, 4);
        assert_eq!(result.usage.output_tokens, 5);
        assert!(result.error.is_none(), "{result:?}");
    }

    #[test]
    fn turn_failed_is_an_error_and_high_demand_is_overload() {
        let (_, result) = parse(FAILED, 1);
        assert!(
            matches!(result.error, Some(Failure::Overloaded(_))),
            "{result:?}"
        );
        assert!(result.text.is_empty());
    }

    #[test]
    fn an_exit_without_a_completed_turn_is_an_error_with_stderr() {
        let mut parser = Box::new(JsonParser::default());
        parser.line(r#"{"type":"thread.started","thread_id":"x"}"#);
        let result = parser.finish(
            Some(ExitStatus::from_raw(1 << 8)),
            "Error: config.toml: unknown provider\n",
        );
        assert!(
            result
                .error
                .as_ref()
                .is_some_and(|e| e.message().contains("unknown provider")),
            "{result:?}"
        );
    }

    #[test]
    fn the_prompt_goes_to_stdin_with_system_text_first() {
        let mut request = RunRequest::new("fix it", Duration::from_secs(1));
        request.append_system_prompt = Some("context".into());
        assert_eq!(Codex::stdin(&request), "context\n\nfix it");
        assert!(!Codex::args().iter().any(|a| a.contains("fix it")));
        assert_eq!(Codex::args().last().map(String::as_str), Some("-"));
    }

    proptest! {
        #[test]
        fn garbage_lines_never_panic(lines in proptest::collection::vec("\\PC{0,200}", 0..20)) {
            let _ = super::super::adapter::feed(Box::new(JsonParser::default()), &lines);
        }

        #[test]
        fn json_with_wrong_types_never_panics(t in "(thread.started|item.started|item.completed|turn.completed|turn.failed|error)", v in "(null|1|\"x\"|\\[\\]|\\{\\})") {
            let mut parser = Box::new(JsonParser::default());
            parser.line(&format!(r#"{{"type":"{t}","item":{v},"usage":{v},"error":{v},"message":{v}}}"#));
            parser.line(&format!(r#"{{"type":"{t}","item":{{"type":"file_change","changes":{v}}}}}"#));
            let _ = parser.finish(None, "");
        }
    }
}
