//! Claude Code adapter: `claude -p --output-format stream-json --verbose
//! --include-partial-messages [--append-system-prompt TEXT]` with the prompt on stdin.
//!
//! Every stdout line is one JSON event: `system` (init, status), `stream_event` (the raw
//! Messages API stream: text deltas arrive here, so the answer is printed as it is written),
//! `assistant` / `user` (whole messages, tool calls and results), and the final `result`,
//! which carries `usage`, `total_cost_usd` and `is_error`. Only `is_error` says whether the run
//! failed (the exit code alone does not); `api_error_status` (529, 429, …) says why.
//!
//! This module never changes Claude Code's settings; it runs whatever the environment selects.

use std::process::ExitStatus;

use serde_json::Value;

use super::Brain;
use super::adapter::{
    BrainEvent, CliBrain, CliRun, Failure, LineParser, RunRequest, RunResult, Usage, stderr_summary,
};
use crate::paths::Paths;

/// Runs tasks on Claude Code.
pub struct Claude {
    paths: Paths,
}

impl Claude {
    /// An adapter that runs the copy of Claude Code this home resolves to ([`super::resolve`]).
    pub fn new(paths: &Paths) -> Self {
        Self {
            paths: paths.clone(),
        }
    }

    /// The arguments of a run (the prompt itself goes to stdin).
    pub fn args(request: &RunRequest) -> Vec<String> {
        let mut args: Vec<String> = [
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
        ]
        .map(String::from)
        .to_vec();
        if let Some(system) = &request.append_system_prompt {
            args.push("--append-system-prompt".into());
            args.push(system.clone());
        }
        args
    }
}

impl CliBrain for Claude {
    const BRAIN: Brain = Brain::Claude;
    fn home(&self) -> &Paths {
        &self.paths
    }
    fn cli_run(&self, request: &RunRequest) -> CliRun {
        let parser = Box::new(StreamParser::default());
        CliRun::new(
            Self::args(request),
            request.prompt.clone().into_bytes(),
            parser,
        )
    }
}

/// Parser of `--output-format stream-json` lines.
#[derive(Debug, Default)]
pub struct StreamParser {
    session: Option<String>,
    /// Text streamed so far (deltas of top-level messages).
    streamed: String,
    /// The last top-level assistant message's text (for runs without partial messages).
    last_message_text: String,
    /// Whether text deltas arrived for the current message (then its whole copy is not
    /// printed again).
    saw_delta_in_message: bool,
    result: Option<Value>,
    /// An API error reported inside a (synthetic) assistant message.
    api_error: Option<String>,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn u64_at(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn usage_of(v: &Value) -> Usage {
    Usage {
        input_tokens: u64_at(v, "input_tokens"),
        output_tokens: u64_at(v, "output_tokens"),
        cache_creation_tokens: u64_at(v, "cache_creation_input_tokens"),
        cache_read_tokens: u64_at(v, "cache_read_input_tokens"),
    }
}

impl LineParser for StreamParser {
    fn line(&mut self, line: &str) -> Vec<BrainEvent> {
        let Ok(event) = serde_json::from_str::<Value>(line.trim()) else {
            return Vec::new();
        };
        let top_level = event.get("parent_tool_use_id").is_none_or(Value::is_null);
        match event.get("type").and_then(Value::as_str) {
            Some("system") if event.get("subtype").and_then(Value::as_str) == Some("init") => {
                self.session = str_at(&event, &["session_id"]).map(String::from);
                vec![BrainEvent::Started {
                    session: self.session.clone(),
                }]
            }
            Some("stream_event") if top_level => {
                let inner = event.get("event").unwrap_or(&Value::Null);
                match inner.get("type").and_then(Value::as_str) {
                    Some("message_start") => {
                        self.saw_delta_in_message = false;
                        // Separate the text of successive messages (turns around tool calls).
                        if !self.streamed.is_empty() && !self.streamed.ends_with('\n') {
                            self.streamed.push('\n');
                            return vec![BrainEvent::Text("\n".into())];
                        }
                        Vec::new()
                    }
                    Some("content_block_delta") => match str_at(inner, &["delta", "text"]) {
                        Some(text) if str_at(inner, &["delta", "type"]) == Some("text_delta") => {
                            self.saw_delta_in_message = true;
                            self.streamed.push_str(text);
                            vec![BrainEvent::Text(text.to_string())]
                        }
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                }
            }
            Some("assistant") => {
                let message = event.get("message").unwrap_or(&Value::Null);
                let synthetic = str_at(message, &["model"]) == Some("<synthetic>")
                    || event.get("is_api_error_message").and_then(Value::as_bool) == Some(true);
                let content = message.get("content").and_then(Value::as_array);
                let mut out = Vec::new();
                let mut text = String::new();
                for block in content.into_iter().flatten() {
                    match block.get("type").and_then(Value::as_str) {
                        Some("text") => text.push_str(str_at(block, &["text"]).unwrap_or("")),
                        Some("tool_use") => out.push(BrainEvent::Tool {
                            name: str_at(block, &["name"]).unwrap_or("tool").to_string(),
                            detail: block
                                .get("input")
                                .map(|i| truncate(&i.to_string(), 200))
                                .unwrap_or_default(),
                        }),
                        _ => {}
                    }
                }
                if synthetic {
                    if !text.is_empty() {
                        self.api_error = Some(text);
                    }
                    return out;
                }
                if top_level && !text.is_empty() {
                    self.last_message_text = text.clone();
                    if !self.saw_delta_in_message {
                        // No partial messages for this one: print the whole message now.
                        if !self.streamed.is_empty() && !self.streamed.ends_with('\n') {
                            self.streamed.push('\n');
                            out.insert(0, BrainEvent::Text("\n".into()));
                        }
                        self.streamed.push_str(&text);
                        out.push(BrainEvent::Text(text));
                    }
                }
                out
            }
            Some("result") => {
                self.result = Some(event);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn finish(self: Box<Self>, exit: Option<ExitStatus>, stderr_tail: &str) -> RunResult {
        let mut result = RunResult::new(Brain::Claude, self.session.clone());
        let Some(event) = self.result else {
            // No `result` event: the CLI died or never started its turn.
            let detail = [self.api_error.clone(), Some(stderr_summary(stderr_tail))]
                .into_iter()
                .flatten()
                .find(|s| !s.is_empty())
                .unwrap_or_else(|| match exit {
                    Some(status) => format!("claude exited ({status}) without a result"),
                    None => "claude was stopped before it answered".into(),
                });
            result.error = Some(Failure::from_message(detail));
            return result;
        };
        result.usage = event.get("usage").map(usage_of).unwrap_or_default();
        result.cost_usd = event.get("total_cost_usd").and_then(Value::as_f64);
        if let Some(session) = str_at(&event, &["session_id"]) {
            result.session = Some(session.to_string());
        }
        let is_error = event
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || event
                .get("subtype")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("error"));
        let message = str_at(&event, &["result"]).unwrap_or("").to_string();
        if is_error {
            let status = event.get("api_error_status").and_then(Value::as_u64);
            let kind = str_at(&event, &["api_error_type"]).unwrap_or("");
            let detail = if message.is_empty() {
                format!(
                    "claude reported an error ({})",
                    str_at(&event, &["subtype"]).unwrap_or("unknown")
                )
            } else {
                message
            };
            result.error = Some(match (status, kind) {
                (Some(529 | 503), _) | (_, "overloaded_error") => Failure::Overloaded(detail),
                (Some(429), _) | (_, "rate_limit_error") => Failure::RateLimited(detail),
                _ => Failure::from_message(detail),
            });
        } else {
            result.text = if message.is_empty() {
                self.last_message_text
            } else {
                message
            };
        }
        result
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    /// Recorded from Claude Code 2.1.332 against a fake Messages API (ids shortened).
    const OK: &str = r#"{"type":"system","subtype":"init","cwd":"/w","session_id":"d82e","tools":["Bash"],"mcp_servers":[],"model":"claude-opus-5-5","permissionMode":"default"}
{"type":"system","subtype":"status","status":"requesting","session_id":"d82e","uuid":"4135"}
{"type":"stream_event","event":{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-5-5","content":[],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}},"session_id":"d82e","parent_tool_use_id":null,"uuid":"0206"}
{"type":"stream_event","event":{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},"session_id":"d82e","parent_tool_use_id":null,"uuid":"6665"}
{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Rust never sleeps,"}},"session_id":"d82e","parent_tool_use_id":null,"uuid":"8b30"}
{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" borrow checker hums."}},"session_id":"d82e","parent_tool_use_id":null,"uuid":"5f07"}
{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-5-5","content":[{"type":"text","text":"Rust never sleeps, borrow checker hums."}],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}},"parent_tool_use_id":null,"session_id":"d82e","uuid":"a332"}
{"type":"stream_event","event":{"type":"content_block_stop","index":0},"session_id":"d82e","parent_tool_use_id":null,"uuid":"c6f3"}
{"type":"stream_event","event":{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}},"session_id":"d82e","parent_tool_use_id":null,"uuid":"a30d"}
{"type":"stream_event","event":{"type":"message_stop"},"session_id":"d82e","parent_tool_use_id":null,"uuid":"8a02"}
{"duration_api_ms":103,"stop_reason":"end_turn","session_id":"d82e","total_cost_usd":0.000228,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9,"service_tier":"standard"},"permission_denials":[],"terminal_reason":"completed","is_error":false,"num_turns":1,"subtype":"success","api_error_status":null,"result":"Rust never sleeps, borrow checker hums.","type":"result","duration_ms":362}"#;

    /// The same CLI when the API answers 529 overloaded.
    const OVERLOADED: &str = r#"{"type":"system","subtype":"init","cwd":"/w","session_id":"34cd","tools":[],"mcp_servers":[],"model":"claude-opus-5-5"}
{"type":"system","subtype":"status","status":"requesting","session_id":"34cd","uuid":"611e"}
{"type":"assistant","message":{"id":"c099","model":"<synthetic>","role":"assistant","stop_reason":"stop_sequence","type":"message","usage":{"input_tokens":0,"output_tokens":0},"content":[{"type":"text","text":"API Error: 529 Overloaded. This is a server-side issue, usually temporary."}]},"parent_tool_use_id":null,"session_id":"34cd","error":"server_error","is_api_error_message":true,"api_error_status":529,"api_error_type":"overloaded_error"}
{"duration_api_ms":0,"stop_reason":"stop_sequence","session_id":"34cd","total_cost_usd":0,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0},"permission_denials":[],"terminal_reason":"api_error","is_error":true,"num_turns":1,"subtype":"success","api_error_status":529,"api_error_type":"overloaded_error","result":"API Error: 529 Overloaded. This is a server-side issue, usually temporary.","type":"result","duration_ms":163}"#;

    fn parse(lines: &str) -> (Vec<BrainEvent>, RunResult) {
        let mut parser = Box::new(StreamParser::default());
        let mut events = Vec::new();
        for line in lines.lines() {
            events.extend(parser.line(line));
        }
        (events, parser.finish(None, ""))
    }

    #[test]
    fn a_successful_run_streams_its_text_once_and_reports_usage_and_cost() {
        let (events, result) = parse(OK);
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                BrainEvent::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "Rust never sleeps, borrow checker hums.");
        assert!(matches!(&events[0], BrainEvent::Started { session: Some(s) } if s == "d82e"));
        assert_eq!(result.text, "Rust never sleeps, borrow checker hums.");
        assert_eq!(result.usage.input_tokens, 12);
        assert_eq!(result.usage.output_tokens, 9);
        assert_eq!(result.cost_usd, Some(0.000228));
        assert!(result.error.is_none());
    }

    #[test]
    fn is_error_in_the_result_is_trusted_and_529_means_overloaded() {
        let (events, result) = parse(OVERLOADED);
        assert!(
            !events.iter().any(|e| matches!(e, BrainEvent::Text(_))),
            "the API error must not be printed as the answer: {events:?}"
        );
        assert!(
            matches!(result.error, Some(Failure::Overloaded(_))),
            "{result:?}"
        );
        assert!(result.text.is_empty());
    }

    #[test]
    fn a_run_without_partial_messages_still_prints_whole_messages() {
        let lines: String = OK
            .lines()
            .filter(|l| !l.contains("stream_event"))
            .collect::<Vec<_>>()
            .join("\n");
        let (events, result) = parse(&lines);
        assert!(events.contains(&BrainEvent::Text(
            "Rust never sleeps, borrow checker hums.".into()
        )));
        assert!(result.error.is_none());
    }

    #[test]
    fn no_result_event_is_an_error_with_stderr() {
        let mut parser = Box::new(StreamParser::default());
        parser.line("not json at all");
        let result = parser.finish(None, "Error: Invalid API key\n");
        assert_eq!(
            result.error,
            Some(Failure::Error("Error: Invalid API key".into()))
        );
    }

    #[test]
    fn append_system_prompt_is_passed_as_an_argument_and_the_prompt_is_not() {
        let mut request = RunRequest::new("the secret task", Duration::from_secs(1));
        request.append_system_prompt = Some("be brief".into());
        let args = Claude::args(&request);
        assert!(
            args.windows(2)
                .any(|w| w == ["--append-system-prompt", "be brief"])
        );
        assert!(!args.iter().any(|a| a.contains("secret task")));
    }

    proptest! {
        #[test]
        fn garbage_lines_never_panic(lines in proptest::collection::vec("\\PC{0,200}", 0..20)) {
            let _ = super::super::adapter::feed(Box::new(StreamParser::default()), &lines);
        }

        #[test]
        fn json_with_wrong_types_never_panics(t in "(system|stream_event|assistant|result|user)", v in "(null|1|\"x\"|\\[\\]|\\{\\})") {
            let mut parser = Box::new(StreamParser::default());
            for line in [
                format!(r#"{{"type":"{t}","event":{v},"message":{v},"result":{v},"usage":{v},"is_error":{v}}}"#),
                format!(r#"{{"type":"{t}","message":{{"content":{v}}},"event":{{"type":"content_block_delta","delta":{v}}}}}"#),
            ] {
                parser.line(&line);
            }
            let _ = parser.finish(None, "");
        }
    }
}
