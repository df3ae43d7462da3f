//! Line parsers for the Claude Code and Codex session logs.
//!
//! Each parser takes one raw line (any bytes) and returns what it means for the ledger; it never
//! panics and never allocates for lines that cannot carry usage (a `memchr` prefilter rejects
//! them before JSON parsing). Only the fields the ledger needs are deserialised, borrowed from
//! the line where possible. Any valid JSON object is accepted however it is spaced.
//!
//! Token fields mean what ccusage means: `input` is input *not* read from the cache,
//! `cache_read` is the cached part, `cache_write` the tokens written to the cache (of which
//! `cache_write_1h` were written with the one-hour lifetime).
//!
//! This module does no I/O and keeps no state except the small per-file Codex state
//! ([`CodexState`]) the caller carries from one line to the next (and across runs).

use std::borrow::Cow;

use memchr::memmem;
use serde::{Deserialize, Serialize};

/// Token counts of one model request, in ccusage's meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_write: u64,
    /// Part of `cache_write` written with the one-hour lifetime (billed at twice the input rate).
    pub cache_write_1h: u64,
    pub cache_read: u64,
    /// Reasoning tokens (Codex); already included in `output`.
    pub reasoning: u64,
}

impl Tokens {
    /// ccusage's `totalTokens`: input + output + cache write + cache read.
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_write)
            .saturating_add(self.cache_read)
    }
    pub fn is_zero(&self) -> bool {
        self.total() == 0 && self.reasoning == 0
    }
}

/// One usage record found in a log line.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Milliseconds since the Unix epoch (UTC).
    pub ts_ms: i64,
    /// The model as logged; `None` when the line names none.
    pub model: Option<String>,
    /// Claude: the `sessionId` field (else the caller uses the file name). Codex: `None`.
    pub session: Option<String>,
    /// Claude's (message id, request id) used to count a message once across all files.
    pub dedupe_key: Option<(String, Option<String>)>,
    pub tokens: Tokens,
    /// A cost the log itself recorded (`costUSD`), used instead of the price table.
    pub cost_usd: Option<f64>,
}

/// What a line turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A usage record.
    Usage(Record),
    /// Valid, but carries no usage we count (other event types, zero usage, `<synthetic>`).
    Ignored,
    /// Looked like usage but could not be parsed (truncated, not JSON, wrong types).
    Malformed,
}

/// Parse an RFC 3339 timestamp to epoch milliseconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

fn looks_like_json_object(line: &[u8]) -> bool {
    line.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

// ---- Claude Code -----------------------------------------------------------------------------

#[derive(Deserialize)]
struct ClaudeLine<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "sessionId")]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "requestId")]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(rename = "costUSD")]
    cost_usd: Option<f64>,
    #[serde(borrow)]
    message: Option<ClaudeMessage<'a>>,
}

#[derive(Deserialize)]
struct ClaudeMessage<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    usage: Option<ClaudeUsage>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClaudeUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

/// `"usage"` appears in every line that can carry usage; most lines (user turns, tool results)
/// are rejected by this search alone.
fn has_usage_key(line: &[u8]) -> bool {
    static FINDER: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"\"usage\""));
    FINDER.find(line).is_some()
}

/// A version must look like a semver (`2.1.0…`); ccusage drops lines whose version does not.
fn is_semver_prefix(v: &str) -> bool {
    let mut parts = v.splitn(3, '.');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let major = parts.next();
    let minor = parts.next();
    let patch = parts.next().map(|p| {
        let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
        &p[..end]
    });
    ok(major) && ok(minor) && ok(patch)
}

/// Parse one line of a Claude Code session log.
pub fn parse_claude_line(line: &[u8]) -> Line {
    if !has_usage_key(line) {
        return Line::Ignored;
    }
    if !looks_like_json_object(line) {
        return Line::Malformed;
    }
    let Ok(parsed) = serde_json::from_slice::<ClaudeLine>(line) else {
        return Line::Malformed;
    };
    let Some(message) = parsed.message else {
        return Line::Ignored;
    };
    let Some(usage) = message.usage else {
        return Line::Ignored;
    };
    let Some(ts_ms) = parsed.timestamp.as_deref().and_then(parse_ts) else {
        return Line::Malformed;
    };
    let empty = |s: &Option<Cow<str>>| s.as_deref().is_some_and(str::is_empty);
    if parsed
        .version
        .as_deref()
        .is_some_and(|v| !is_semver_prefix(v))
        || empty(&parsed.session_id)
        || empty(&parsed.request_id)
        || empty(&message.id)
        || empty(&message.model)
    {
        return Line::Ignored;
    }
    // Client-side errors Claude Code logs itself: not API use.
    if message.model.as_deref() == Some("<synthetic>") {
        return Line::Ignored;
    }
    let cache_write = usage.cache_creation_input_tokens.unwrap_or(0);
    let (cache_write, cache_write_1h) = match usage.cache_creation {
        Some(c) => {
            let m5 = c.ephemeral_5m_input_tokens.unwrap_or(0);
            let h1 = c.ephemeral_1h_input_tokens.unwrap_or(0);
            // The breakdown, when present, is what is billed; the total is kept as logged.
            (cache_write.max(m5.saturating_add(h1)), h1)
        }
        None => (cache_write, 0),
    };
    let tokens = Tokens {
        input: usage.input_tokens.unwrap_or(0),
        output: usage.output_tokens.unwrap_or(0),
        cache_write,
        cache_write_1h,
        cache_read: usage.cache_read_input_tokens.unwrap_or(0),
        reasoning: 0,
    };
    Line::Usage(Record {
        ts_ms,
        model: message.model.map(Cow::into_owned),
        session: parsed.session_id.map(Cow::into_owned),
        dedupe_key: message
            .id
            .map(|id| (id.into_owned(), parsed.request_id.map(Cow::into_owned))),
        tokens,
        cost_usd: parsed.cost_usd,
    })
}

// ---- Codex -----------------------------------------------------------------------------------

/// Codex's raw usage as logged (`input_tokens` *includes* the cached part).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CodexUsage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
    pub total_tokens: u64,
}

impl CodexUsage {
    fn minus(&self, prev: Option<&CodexUsage>) -> CodexUsage {
        let Some(p) = prev else { return *self };
        CodexUsage {
            input_tokens: self.input_tokens.saturating_sub(p.input_tokens),
            cached_input_tokens: self
                .cached_input_tokens
                .saturating_sub(p.cached_input_tokens),
            output_tokens: self.output_tokens.saturating_sub(p.output_tokens),
            reasoning_output_tokens: self
                .reasoning_output_tokens
                .saturating_sub(p.reasoning_output_tokens),
            total_tokens: self.total_tokens.saturating_sub(p.total_tokens),
        }
    }

    /// Into ccusage's meaning: uncached input, cached input as cache reads.
    fn tokens(&self) -> Tokens {
        let cached = self.cached_input_tokens.min(self.input_tokens);
        Tokens {
            input: self.input_tokens - cached,
            output: self.output_tokens,
            cache_write: 0,
            cache_write_1h: 0,
            cache_read: cached,
            reasoning: self.reasoning_output_tokens,
        }
    }
}

/// What a Codex session file has said so far that later lines depend on. Persisted with the
/// file's offset so an incremental read continues exactly where the last one stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodexState {
    /// The last cumulative `total_token_usage` seen.
    pub previous_totals: Option<CodexUsage>,
    /// The model named by the last `turn_context` (or token count).
    pub model: Option<String>,
}

/// Model assumed for Codex usage logged before any line named one (as ccusage does).
pub const CODEX_FALLBACK_MODEL: &str = "gpt-5";

#[derive(Deserialize)]
struct CodexLine<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload: Option<CodexPayload<'a>>,
}

#[derive(Deserialize)]
struct CodexPayload<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    info: Option<CodexInfo<'a>>,
}

#[derive(Deserialize)]
struct CodexInfo<'a> {
    total_token_usage: Option<CodexUsage>,
    last_token_usage: Option<CodexUsage>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
}

fn codex_may_matter(line: &[u8]) -> bool {
    static TOKEN_COUNT: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"token_count"));
    static TURN_CONTEXT: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"turn_context"));
    TOKEN_COUNT.find(line).is_some() || TURN_CONTEXT.find(line).is_some()
}

/// Parse one line of a Codex session log, updating the file's running state.
///
/// `token_count` events carry both the cumulative `total_token_usage` and the last turn's
/// `last_token_usage`. Like ccusage: an event whose cumulative total did not advance is a
/// repeat and counts nothing; otherwise the last turn's usage counts (or, when it is missing,
/// the difference between this total and the previous one).
pub fn parse_codex_line(line: &[u8], state: &mut CodexState) -> Line {
    if !codex_may_matter(line) {
        return Line::Ignored;
    }
    if !looks_like_json_object(line) {
        return Line::Malformed;
    }
    let Ok(parsed) = serde_json::from_slice::<CodexLine>(line) else {
        return Line::Malformed;
    };
    let Some(payload) = parsed.payload else {
        return Line::Ignored;
    };
    match parsed.kind.as_deref() {
        Some("turn_context") => {
            if let Some(model) = payload.model.filter(|m| !m.trim().is_empty()) {
                state.model = Some(model.into_owned());
            }
            Line::Ignored
        }
        Some("event_msg") if payload.kind.as_deref() == Some("token_count") => {
            let Some(ts_ms) = parsed.timestamp.as_deref().and_then(parse_ts) else {
                return Line::Ignored;
            };
            let Some(info) = payload.info else {
                return Line::Ignored;
            };
            let total = info.total_token_usage;
            let advanced = total.is_none_or(|t| state.previous_totals != Some(t));
            let raw = info
                .last_token_usage
                .filter(|_| advanced)
                .or_else(|| total.map(|t| t.minus(state.previous_totals.as_ref())));
            if let Some(t) = total {
                state.previous_totals = Some(t);
            }
            let Some(raw) = raw else {
                return Line::Ignored;
            };
            let tokens = raw.tokens();
            if tokens.is_zero() {
                return Line::Ignored;
            }
            let named = payload
                .model
                .or(info.model)
                .filter(|m| !m.trim().is_empty())
                .map(Cow::into_owned);
            if let Some(model) = &named {
                state.model = Some(model.clone());
            }
            let model = named
                .or_else(|| state.model.clone())
                .unwrap_or_else(|| CODEX_FALLBACK_MODEL.to_string());
            Line::Usage(Record {
                ts_ms,
                model: Some(model),
                session: None,
                dedupe_key: None,
                tokens,
                cost_usd: None,
            })
        }
        _ => Line::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claude(line: &str) -> Record {
        match parse_claude_line(line.as_bytes()) {
            Line::Usage(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn claude_usage_line_however_spaced() {
        let compact = r#"{"timestamp":"2026-11-01T10:00:00Z","sessionId":"s","requestId":"r","message":{"id":"m","model":"claude-sonnet-4-5","usage":{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":3,"cache_read_input_tokens":4}}}"#;
        let spaced = r#"{ "timestamp" : "2026-11-01T10:00:00Z", "sessionId": "s", "requestId": "r",
            "message": { "id": "m", "model": "claude-sonnet-4-5", "usage": { "input_tokens": 1, "output_tokens": 2, "cache_creation_input_tokens": 3, "cache_read_input_tokens": 4 } } }"#;
        let a = claude(compact);
        assert_eq!(a, claude(spaced));
        assert_eq!(a.tokens.total(), 10);
        assert_eq!(a.dedupe_key, Some(("m".into(), Some("r".into()))));
    }

    #[test]
    fn claude_one_hour_cache_writes_are_kept_apart() {
        let r = claude(
            r#"{"timestamp":"2026-11-01T10:00:00Z","message":{"id":"m","model":"x","usage":{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":20,"cache_creation":{"ephemeral_5m_input_tokens":5,"ephemeral_1h_input_tokens":15}}}}"#,
        );
        assert_eq!((r.tokens.cache_write, r.tokens.cache_write_1h), (20, 15));
    }

    #[test]
    fn claude_synthetic_and_non_usage_lines_are_ignored() {
        let synthetic = r#"{"timestamp":"2026-11-01T10:00:00Z","message":{"model":"<synthetic>","usage":{"input_tokens":1}}}"#;
        assert_eq!(parse_claude_line(synthetic.as_bytes()), Line::Ignored);
        assert_eq!(
            parse_claude_line(br#"{"type":"user","message":{"content":"hi"}}"#),
            Line::Ignored
        );
        assert_eq!(
            parse_claude_line(br#"{"type":"assistant","message":{"usage":{"input_tok"#),
            Line::Malformed
        );
    }

    fn codex(lines: &[&str]) -> Vec<Record> {
        let mut state = CodexState::default();
        lines
            .iter()
            .filter_map(|l| match parse_codex_line(l.as_bytes(), &mut state) {
                Line::Usage(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn codex_counts_each_turn_once_and_splits_cached_input() {
        let tc = |total: &str, last: &str| {
            format!(
                r#"{{"timestamp":"2026-11-01T10:00:00Z","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{total}{last}}}}}}}"#
            )
        };
        let u = |i, c, o| {
            format!(
                r#"{{"input_tokens":{i},"cached_input_tokens":{c},"output_tokens":{o},"reasoning_output_tokens":0,"total_tokens":{}}}"#,
                i + o
            )
        };
        let lines = [
            r#"{"timestamp":"2026-11-01T09:00:00Z","type":"turn_context","payload":{"model":"gpt-5-codex"}}"#.to_string(),
            tc(&u(100, 40, 10), &format!(r#","last_token_usage":{}"#, u(100, 40, 10))),
            tc(&u(100, 40, 10), &format!(r#","last_token_usage":{}"#, u(100, 40, 10))),
            tc(&u(300, 100, 30), ""),
        ];
        let records = codex(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].model.as_deref(), Some("gpt-5-codex"));
        assert_eq!(
            (records[0].tokens.input, records[0].tokens.cache_read),
            (60, 40)
        );
        assert_eq!(
            (
                records[1].tokens.input,
                records[1].tokens.cache_read,
                records[1].tokens.output
            ),
            (140, 60, 20)
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse_claude_line(&bytes);
            let mut state = CodexState::default();
            let _ = parse_codex_line(&bytes, &mut state);
        }

        #[test]
        fn json_like_lines_never_panic(text in r#"\{("(usage|message|timestamp|type|payload|info|token_count|turn_context|total_token_usage|last_token_usage|input_tokens|model|id)"|:|,|\{|\}|\[|\]|-?[0-9]{1,22}|"[a-z0-9:.T-]{0,24}"|null|true| ){0,40}"#) {
            let _ = parse_claude_line(text.as_bytes());
            let mut state = CodexState::default();
            let _ = parse_codex_line(text.as_bytes(), &mut state);
        }
    }
}
