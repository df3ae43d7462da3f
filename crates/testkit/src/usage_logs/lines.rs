//! The one writer of log lines: each kind of line the brains write, as compact JSON (as the real
//! CLIs write it; ccusage skips lines that are not compact), appended to a `String` with its
//! newline. Text given here is JSON string contents already escaped ([`escape`] makes it so).
//!
//! The generator (`super`) decides what to write; this module only knows how each line looks.

use std::fmt::Write as _;

/// JSON string contents for `text`.
pub fn escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).expect("a string serialises");
    quoted[1..quoted.len() - 1].to_string()
}

// ---- Claude Code ------------------------------------------------------------------------------

/// The fields every line of one Claude Code session repeats.
#[derive(Debug, Clone)]
pub struct ClaudeSession {
    pub session: String,
    pub cwd: String,
    pub version: String,
}

impl ClaudeSession {
    fn common(&self, out: &mut String) {
        let _ = write!(
            out,
            r#""isSidechain":false,"userType":"external","cwd":"{}","sessionId":"{}","version":"{}","gitBranch":"main""#,
            self.cwd, self.session, self.version
        );
    }
}

/// How a line reports its cache writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheBreakdown {
    /// Only `cache_creation_input_tokens`.
    Absent,
    /// A `cache_creation` object splitting them into five-minute and one-hour writes.
    Split { five_minute: u64, one_hour: u64 },
    /// A `cache_creation` object given as is (it may disagree with the total).
    Raw(&'static str),
}

/// One API request's usage as Claude Code logs it.
#[derive(Debug, Clone, Copy)]
pub struct ClaudeUsage {
    pub input: u64,
    pub output: u64,
    pub cache_write: u64,
    pub cache_read: u64,
    pub breakdown: CacheBreakdown,
}

/// One assistant line: a content block of a response, with the response's usage so far.
#[derive(Debug, Clone, Copy)]
pub struct Assistant<'a> {
    pub parent: &'a str,
    pub uuid: &'a str,
    pub timestamp: &'a str,
    pub message: &'a str,
    pub request: &'a str,
    pub model: &'a str,
    /// The content block, as JSON.
    pub block: &'a str,
    /// `stop_reason`, as JSON (`null`, `"tool_use"`, `"end_turn"`).
    pub stop: &'a str,
    pub usage: ClaudeUsage,
}

pub fn claude_assistant(out: &mut String, s: &ClaudeSession, a: &Assistant) {
    let u = &a.usage;
    let breakdown = match u.breakdown {
        CacheBreakdown::Absent => String::new(),
        CacheBreakdown::Split {
            five_minute,
            one_hour,
        } => format!(
            r#","cache_creation":{{"ephemeral_5m_input_tokens":{five_minute},"ephemeral_1h_input_tokens":{one_hour}}}"#
        ),
        CacheBreakdown::Raw(raw) => format!(r#","cache_creation":{raw}"#),
    };
    let _ = write!(out, r#"{{"parentUuid":"{}","#, a.parent);
    s.common(out);
    let _ = writeln!(
        out,
        r#","message":{{"model":"{}","id":"{}","type":"message","role":"assistant","content":[{}],"stop_reason":{},"stop_sequence":null,"usage":{{"input_tokens":{},"cache_creation_input_tokens":{},"cache_read_input_tokens":{}{breakdown},"output_tokens":{},"service_tier":"standard"}}}},"requestId":"{}","type":"assistant","uuid":"{}","timestamp":"{}"}}"#,
        a.model,
        a.message,
        a.block,
        a.stop,
        u.input,
        u.cache_write,
        u.cache_read,
        u.output,
        a.request,
        a.uuid,
        a.timestamp
    );
}

/// A user prompt (no usage).
pub fn claude_prompt(
    out: &mut String,
    s: &ClaudeSession,
    parent: &str,
    uuid: &str,
    timestamp: &str,
    text: &str,
) {
    let _ = write!(out, r#"{{"parentUuid":"{parent}","#);
    s.common(out);
    let _ = writeln!(
        out,
        r#","type":"user","message":{{"role":"user","content":"{text}"}},"uuid":"{uuid}","timestamp":"{timestamp}","thinkingMetadata":{{"level":"high","disabled":false,"triggers":[]}},"todos":[]}}"#
    );
}

/// A tool's result, answered as a user line (no usage); `result` is `toolUseResult`, as JSON.
#[allow(clippy::too_many_arguments)]
pub fn claude_tool_result(
    out: &mut String,
    s: &ClaudeSession,
    parent: &str,
    uuid: &str,
    timestamp: &str,
    tool_use_id: &str,
    text: &str,
    result: &str,
) {
    let _ = write!(out, r#"{{"parentUuid":"{parent}","#);
    s.common(out);
    let _ = writeln!(
        out,
        r#","type":"user","message":{{"role":"user","content":[{{"tool_use_id":"{tool_use_id}","type":"tool_result","content":"{text}","is_error":false}}]}},"uuid":"{uuid}","timestamp":"{timestamp}","toolUseResult":{result}}}"#
    );
}

pub fn claude_summary(out: &mut String, summary: &str, leaf: &str) {
    let _ = writeln!(
        out,
        r#"{{"type":"summary","summary":"{summary}","leafUuid":"{leaf}"}}"#
    );
}

pub fn claude_file_snapshot(out: &mut String, message: &str, timestamp: &str) {
    let _ = writeln!(
        out,
        r#"{{"type":"file-history-snapshot","messageId":"{message}","snapshot":{{"messageId":"{message}","trackedFileBackups":{{}},"timestamp":"{timestamp}"}},"isSnapshotUpdate":false}}"#
    );
}

pub fn claude_compacted(
    out: &mut String,
    s: &ClaudeSession,
    parent: &str,
    uuid: &str,
    timestamp: &str,
) {
    let _ = write!(out, r#"{{"parentUuid":"{parent}","#);
    s.common(out);
    let _ = writeln!(
        out,
        r#","type":"system","subtype":"informational","content":"Conversation compacted","isMeta":false,"timestamp":"{timestamp}","uuid":"{uuid}","level":"info"}}"#
    );
}

/// A client-side error Claude Code logs as a `<synthetic>` assistant message (no API use).
pub fn claude_synthetic(out: &mut String, session: &str, timestamp: &str, message: &str) {
    let _ = writeln!(
        out,
        r#"{{"type":"assistant","sessionId":"{session}","timestamp":"{timestamp}","message":{{"id":"{message}","model":"<synthetic>","usage":{{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}}}}"#
    );
}

/// Lines a reader must count as malformed and pass over: cut short, or not JSON at all.
pub const CLAUDE_MALFORMED: &[&str] = &[
    "{\"type\":\"assistant\",\"message\":{\"usage\":{\"input_tokens\":12\n",
    "not json at all \"usage\"\n",
];

/// One assistant line with a single text block, from its parts (the tests' shorthand).
#[allow(clippy::too_many_arguments)]
pub fn claude_line(
    timestamp: &str,
    session: &str,
    request: &str,
    message: &str,
    model: &str,
    input: u64,
    output: u64,
    cache_write: u64,
    cache_read: u64,
    one_hour: Option<u64>,
    padding: usize,
) -> String {
    let s = ClaudeSession {
        session: session.to_string(),
        cwd: "/home/u/proj".to_string(),
        version: "2.1.3".to_string(),
    };
    let block = format!(r#"{{"type":"text","text":"{}"}}"#, "x".repeat(padding));
    let uuid = format!("u-{message}-{output}");
    let mut out = String::new();
    claude_assistant(
        &mut out,
        &s,
        &Assistant {
            parent: "p",
            uuid: &uuid,
            timestamp,
            message,
            request,
            model,
            block: &block,
            stop: "null",
            usage: ClaudeUsage {
                input,
                output,
                cache_write,
                cache_read,
                breakdown: match one_hour {
                    Some(h) => CacheBreakdown::Split {
                        five_minute: cache_write - h,
                        one_hour: h,
                    },
                    None => CacheBreakdown::Absent,
                },
            },
        },
    );
    out.pop();
    out
}

// ---- Codex ------------------------------------------------------------------------------------

/// Codex's usage as logged (`input_tokens` includes the cached part).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodexUsage {
    pub input: u64,
    pub cached: u64,
    pub output: u64,
    pub reasoning: u64,
}

impl CodexUsage {
    pub fn add(&mut self, o: &CodexUsage) {
        self.input += o.input;
        self.cached += o.cached;
        self.output += o.output;
        self.reasoning += o.reasoning;
    }
    fn json(&self) -> String {
        format!(
            r#"{{"input_tokens":{},"cached_input_tokens":{},"output_tokens":{},"reasoning_output_tokens":{},"total_tokens":{}}}"#,
            self.input,
            self.cached,
            self.output,
            self.reasoning,
            self.input + self.output
        )
    }
}

/// One of Codex's rate-limit windows, as its token-count events report it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodexWindow {
    pub used_percent: f64,
    pub window_minutes: u64,
    /// The reset as Codex 0.169 writes it (Unix seconds), else as older versions did (seconds
    /// from the event).
    pub reset: CodexReset,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CodexReset {
    At(i64),
    InSeconds(u64),
}

impl CodexWindow {
    fn json(&self) -> String {
        let reset = match self.reset {
            CodexReset::At(at) => format!(r#""resets_at":{at}"#),
            CodexReset::InSeconds(s) => format!(r#""resets_in_seconds":{s}"#),
        };
        format!(
            r#"{{"used_percent":{:?},"window_minutes":{},{reset}}}"#,
            self.used_percent, self.window_minutes
        )
    }
}

/// Codex's `rate_limits`: `primary` is the 5-hour window, `secondary` the weekly one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodexRateLimits {
    pub primary: Option<CodexWindow>,
    pub secondary: Option<CodexWindow>,
}

pub fn codex_session_meta(out: &mut String, timestamp: &str, id: &str, version: &str) {
    let _ = writeln!(
        out,
        r#"{{"timestamp":"{timestamp}","type":"session_meta","payload":{{"id":"{id}","cwd":"/home/u/proj","cli_version":"{version}"}}}}"#
    );
}

pub fn codex_turn_context(out: &mut String, timestamp: &str, model: &str) {
    let _ = writeln!(
        out,
        r#"{{"timestamp":"{timestamp}","type":"turn_context","payload":{{"cwd":"/home/u/proj","approval_policy":"never","model":"{model}","summary":"auto"}}}}"#
    );
}

pub fn codex_reply(out: &mut String, timestamp: &str, text: &str) {
    let _ = writeln!(
        out,
        r#"{{"timestamp":"{timestamp}","type":"response_item","payload":{{"type":"message","role":"assistant","content":[{{"type":"output_text","text":"{text}"}}]}}}}"#
    );
}

/// A token-count event: the cumulative usage, the last turn's (when given) and the rate limits.
pub fn codex_token_count(
    out: &mut String,
    timestamp: &str,
    total: &CodexUsage,
    last: Option<&CodexUsage>,
    limits: Option<&CodexRateLimits>,
) {
    let last = last
        .map(|l| format!(r#","last_token_usage":{}"#, l.json()))
        .unwrap_or_default();
    let limits = match limits {
        None => "null".to_string(),
        Some(l) => {
            let window = |w: &Option<CodexWindow>| w.map_or("null".to_string(), |w| w.json());
            format!(
                r#"{{"primary":{},"secondary":{},"credits":null,"plan_type":"pro"}}"#,
                window(&l.primary),
                window(&l.secondary)
            )
        }
    };
    let _ = writeln!(
        out,
        r#"{{"timestamp":"{timestamp}","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{}{last},"model_context_window":400000}},"rate_limits":{limits}}}}}"#,
        total.json()
    );
}

/// A token-count line cut short (malformed).
pub const CODEX_MALFORMED: &str = "{\"timestamp\":\"x\",\"type\":\"event_msg\",\"payload\":{\"type\":\"token_count\",\"info\":{\"total\n";

// ---- OpenClaw ---------------------------------------------------------------------------------

/// An OpenClaw session's model change (the model later messages that name none were run on).
pub fn openclaw_model_change(out: &mut String, timestamp: &str, provider: &str, model: &str) {
    let _ = writeln!(
        out,
        r#"{{"type":"model_change","id":"mc-{timestamp}","timestamp":"{timestamp}","provider":"{provider}","modelId":"{model}"}}"#
    );
}

/// An OpenClaw session's model snapshot (a `custom` line; it sets the model as a change does).
pub fn openclaw_model_snapshot(out: &mut String, timestamp: &str, provider: &str, model: &str) {
    let _ = writeln!(
        out,
        r#"{{"type":"custom","customType":"model-snapshot","id":"ms-{timestamp}","timestamp":"{timestamp}","data":{{"provider":"{provider}","modelId":"{model}"}}}}"#
    );
}

/// Lines of an OpenClaw session that neither tool counts: not JSON, and a message with usage
/// cut short.
pub const OPENCLAW_MALFORMED: [&str; 2] = [
    "not json at all\n",
    "{\"type\":\"message\",\"id\":\"cut\",\"message\":{\"role\":\"assistant\",\"usage\":{\"input\":12\n",
];

/// A user message in an OpenClaw session (no usage).
pub fn openclaw_user(out: &mut String, id: &str, timestamp: &str, text: &str) {
    let _ = writeln!(
        out,
        r#"{{"type":"message","id":"{id}","timestamp":"{timestamp}","message":{{"role":"user","content":[{{"type":"text","text":"{text}"}}]}}}}"#
    );
}

/// An OpenClaw assistant message's usage.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenClawUsage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// The cost the gateway recorded (`usage.cost.total`).
    pub cost: Option<f64>,
}

/// An assistant message in an OpenClaw session; `model` `None` leaves it to the last model
/// change; `epoch_ms` writes the message's own timestamp as a number, as the gateway does.
pub fn openclaw_assistant(
    out: &mut String,
    id: &str,
    timestamp: &str,
    epoch_ms: i64,
    model: Option<&str>,
    usage: &OpenClawUsage,
) {
    let model = model
        .map(|m| format!(r#","model":"{m}""#))
        .unwrap_or_default();
    let cost = usage
        .cost
        .map(|c| {
            format!(
                r#","cost":{{"input":0,"output":0,"cacheRead":0,"cacheWrite":0,"total":{c:?}}}"#
            )
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        r#"{{"type":"message","id":"{id}","timestamp":"{timestamp}","message":{{"role":"assistant","content":[{{"type":"text","text":"done"}}]{model},"usage":{{"input":{},"output":{},"cacheRead":{},"cacheWrite":{},"totalTokens":{}{cost}}},"stopReason":"stop","timestamp":{epoch_ms}}}}}"#,
        usage.input,
        usage.output,
        usage.cache_read,
        usage.cache_write,
        usage.input + usage.output + usage.cache_read + usage.cache_write
    );
}
