//! Line parsers for the Claude Code and Codex session logs and the OpenClaw gateway's session
//! files.
//!
//! Each parser takes one raw line (any bytes) and returns what it means for the ledger; it never
//! panics and never allocates for lines that cannot carry usage (a `memchr` prefilter rejects
//! them before JSON parsing). Lines are decoded by serde_json into the structs of
//! [`super::fields`]: only the fields the ledger needs are decoded (borrowed from the line where
//! possible), the rest is checked and skipped. Any valid JSON object is accepted however it is
//! spaced; a line that is not valid JSON as a whole is malformed.
//!
//! Token fields mean what ccusage means: `input` is input *not* read from the cache,
//! `cache_read` is the cached part, `cache_write` the tokens written to the cache (of which
//! `cache_write_1h` were written with the one-hour lifetime).
//!
//! This module does no I/O and keeps no state except the small per-file Codex and OpenClaw
//! states ([`CodexState`], [`OpenClawState`]) the caller carries from one line to the next (and
//! across runs).

use std::borrow::Cow;

use memchr::memmem;
use serde::{Deserialize, Serialize};

use super::fields::{self, ClaudeLine, CodexLine, Decode, OpenClawLine, RawWindow, Stamp};

/// The model Claude Code names on the errors it logs itself (no API use).
pub const SYNTHETIC_MODEL: &str = "<synthetic>";

/// Token counts of one model request, in ccusage's meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Input tokens neither read from nor written to the cache.
    pub input: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// Tokens written to the cache, of either lifetime.
    pub cache_write: u64,
    /// Part of `cache_write` written with the one-hour lifetime (billed at twice the input rate).
    pub cache_write_1h: u64,
    /// Input tokens read from the cache.
    pub cache_read: u64,
    /// Reasoning tokens (Codex); already included in `output`.
    pub reasoning: u64,
}

/// More tokens than any one request can have (about 1.1 × 10¹²): a line claiming more is
/// malformed, not a request, so sums over the ledger's history cannot overflow.
pub const MAX_REQUEST_TOKENS: u64 = 1 << 40;
/// The most a log may say one request cost, in USD; more, or less than nothing, is malformed.
pub const MAX_REQUEST_COST_USD: f64 = 1_000_000.0;

impl Tokens {
    /// Every count is one a request can have (see [`MAX_REQUEST_TOKENS`]).
    pub fn plausible(&self) -> bool {
        [
            self.input,
            self.output,
            self.cache_write,
            self.cache_read,
            self.reasoning,
        ]
        .iter()
        .all(|&n| n <= MAX_REQUEST_TOKENS)
    }

    /// ccusage's `totalTokens`: input + output + cache write + cache read.
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_write)
            .saturating_add(self.cache_read)
    }
    /// Whether every count, reasoning included, is 0.
    pub fn is_zero(&self) -> bool {
        self.total() == 0 && self.reasoning == 0
    }
}

/// One usage record found in a log line.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// Milliseconds since the Unix epoch (UTC).
    pub ts_ms: i64,
    /// The model as logged; `None` when the line names none.
    pub model: Option<Cow<'a, str>>,
    /// Claude: the `sessionId` field (else the caller uses the file name). Codex: `None`.
    pub session: Option<Cow<'a, str>>,
    /// Claude's (message id, request id) used to count a message once across all files.
    pub dedupe_key: Option<(Cow<'a, str>, Option<Cow<'a, str>>)>,
    /// The request's tokens, in ccusage's meaning.
    pub tokens: Tokens,
    /// A cost the log itself recorded (`costUSD`), used instead of the price table.
    pub cost_usd: Option<f64>,
}

/// What a line turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// A usage record.
    Usage(Record<'a>),
    /// Valid, but carries no usage we count (other event types, zero usage, `<synthetic>`).
    Ignored,
    /// Looked like usage but could not be parsed (truncated, not JSON, wrong types).
    Malformed,
}

/// Parse an RFC 3339 timestamp to epoch milliseconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    utc_millis(s.as_bytes()).or_else(|| {
        chrono::DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.timestamp_millis())
    })
}

/// The form the logs use, `YYYY-MM-DDTHH:MM:SS[.fff]Z`, without a general parser; anything
/// else (offsets, other precisions, odd spacing) is left to chrono.
fn utc_millis(b: &[u8]) -> Option<i64> {
    if !(b.len() == 20 || b.len() == 24) || b[b.len() - 1] != b'Z' {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<u32> {
        b.get(from..from + len)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let millis = if b.len() == 24 {
        if b[19] != b'.' {
            return None;
        }
        num(20, 3)?
    } else {
        0
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let secs =
        days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some(secs * 1000 + i64::from(millis))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a (valid, proleptic Gregorian) date: H. Hinnant's `days_from_civil`.
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn looks_like_json_object(line: &[u8]) -> bool {
    line.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

// ---- Claude Code -----------------------------------------------------------------------------

/// Byte strings of which every line that matters contains at least one: lines without any
/// are skipped before JSON parsing (most lines: user turns, tool results, other events).
pub const CLAUDE_NEEDLES: &[&[u8]] = &[b"\"usage\""];
/// See [`CLAUDE_NEEDLES`].
pub const CODEX_NEEDLES: &[&[u8]] = &[b"token_count", b"turn_context"];

fn contains_any(line: &[u8], needles: &[&[u8]]) -> bool {
    needles.iter().any(|n| memmem::find(line, n).is_some())
}

/// A version must look like a semver (`2.1.0…`: three dot-separated runs of digits, then
/// anything); ccusage drops lines whose version does not.
fn is_semver_prefix(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    for part in 0..3 {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if part < 2 {
            if b.get(i) != Some(&b'.') {
                return false;
            }
            i += 1;
        }
    }
    true
}

/// Parse one line of a Claude Code session log.
pub fn parse_claude_line(line: &[u8]) -> Line<'_> {
    if !contains_any(line, CLAUDE_NEEDLES) {
        return Line::Ignored;
    }
    parse_claude_candidate(line)
}

/// [`parse_claude_line`] for a line already known to contain one of [`CLAUDE_NEEDLES`].
pub fn parse_claude_candidate(line: &[u8]) -> Line<'_> {
    if !looks_like_json_object(line) {
        return Line::Malformed;
    }
    let mut parsed = ClaudeLine::default();
    if !fields::serde_claude(line, &mut parsed) {
        return Line::Malformed;
    }
    claude_meaning(parsed)
}

/// [`parse_claude_candidate`], decoding the line with `decode` (`scratch`: see [`Decode`]).
pub fn parse_claude_with<'a>(
    decode: &dyn Decode,
    line: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> Line<'a> {
    if !looks_like_json_object(line) {
        return Line::Malformed;
    }
    let mut parsed = ClaudeLine::default();
    if !decode.claude(line, scratch, &mut parsed) {
        return Line::Malformed;
    }
    claude_meaning(parsed)
}

/// What a decoded Claude Code line means.
fn claude_meaning(parsed: ClaudeLine<'_>) -> Line<'_> {
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
    // Client-side errors Claude Code logs itself: not API use, so no tokens; but ccusage
    // counts them as requests of a 5-hour window (their times shape the windows too).
    let synthetic = message.model.as_deref() == Some(SYNTHETIC_MODEL);
    // As ccusage counts them: when the line has the breakdown object, the cache writes are its
    // two parts (a part it lacks counts 0), whatever `cache_creation_input_tokens` says;
    // otherwise that total, all at the five-minute price.
    let (cache_write, cache_write_1h) = match usage.cache_creation {
        Some(c) => {
            let m5 = c.ephemeral_5m_input_tokens.unwrap_or(0);
            let h1 = c.ephemeral_1h_input_tokens.unwrap_or(0);
            (m5.saturating_add(h1), h1)
        }
        None => (usage.cache_creation_input_tokens.unwrap_or(0), 0),
    };
    let tokens = Tokens {
        input: usage.input_tokens.unwrap_or(0),
        output: usage.output_tokens.unwrap_or(0),
        cache_write,
        cache_write_1h,
        cache_read: usage.cache_read_input_tokens.unwrap_or(0),
        reasoning: 0,
    };
    let tokens = if synthetic { Tokens::default() } else { tokens };
    if !tokens.plausible()
        || parsed
            .cost_usd
            .is_some_and(|c| !(0.0..=MAX_REQUEST_COST_USD).contains(&c))
    {
        return Line::Malformed;
    }
    Line::Usage(Record {
        ts_ms,
        model: message.model,
        session: parsed.session_id,
        dedupe_key: message.id.map(|id| (id, parsed.request_id)),
        tokens,
        cost_usd: parsed.cost_usd,
    })
}

// ---- Codex -----------------------------------------------------------------------------------

/// Codex's raw usage as logged (`input_tokens` *includes* the cached part).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CodexUsage {
    /// Input tokens, the cached ones included.
    pub input_tokens: u64,
    /// The part of `input_tokens` read from the cache.
    pub cached_input_tokens: u64,
    /// Output tokens, reasoning included.
    pub output_tokens: u64,
    /// The part of `output_tokens` spent on reasoning.
    pub reasoning_output_tokens: u64,
    /// The total Codex logged.
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CodexState {
    /// The last cumulative `total_token_usage` seen.
    pub previous_totals: Option<CodexUsage>,
    /// The model named by the last `turn_context` (or token count).
    pub model: Option<String>,
    /// The last rate-limit snapshot the file's token counts carried.
    #[serde(default)]
    pub rate_limits: Option<RateLimits>,
}

/// One of Codex's rate-limit windows as its token counts report it (from the API's headers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitWindow {
    /// 0-100.
    pub used_percent: f64,
    /// The window's length in minutes; `None` when not logged (or negative).
    pub window_minutes: Option<u64>,
    /// When the window resets (epoch ms): Codex 0.169 logs `resets_at` (epoch seconds), older
    /// versions `resets_in_seconds` (from the event).
    pub resets_at_ms: Option<i64>,
}

/// Codex's rate limits at one moment: `primary` is the 5-hour window, `secondary` the weekly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RateLimits {
    /// The time of the event that reported them (epoch ms).
    pub at_ms: i64,
    /// The 5-hour window; `None` when not reported.
    pub primary: Option<LimitWindow>,
    /// The weekly window; `None` when not reported.
    pub secondary: Option<LimitWindow>,
}

impl RawWindow {
    fn at(self, event_ms: i64) -> Option<LimitWindow> {
        let used = self.used_percent?;
        let reset = self.resets_at.map(|s| (s * 1000.0) as i64).or_else(|| {
            self.resets_in_seconds
                .map(|s| event_ms + (s * 1000.0) as i64)
        });
        Some(LimitWindow {
            used_percent: used.clamp(0.0, 100.0),
            window_minutes: self.window_minutes.filter(|m| *m >= 0.0).map(|m| m as u64),
            resets_at_ms: reset,
        })
    }
}

/// Model assumed for Codex usage logged before any line named one (as ccusage does).
pub const CODEX_FALLBACK_MODEL: &str = "gpt-5";

/// Parse one line of a Codex session log, updating the file's running state.
///
/// `token_count` events carry both the cumulative `total_token_usage` and the last turn's
/// `last_token_usage`. Like ccusage: an event whose cumulative total did not advance is a
/// repeat and counts nothing; otherwise the last turn's usage counts (or, when it is missing,
/// the difference between this total and the previous one).
pub fn parse_codex_line<'a>(line: &'a [u8], state: &mut CodexState) -> Line<'a> {
    if !contains_any(line, CODEX_NEEDLES) {
        return Line::Ignored;
    }
    parse_codex_candidate(line, state)
}

/// [`parse_codex_line`] for a line already known to contain one of [`CODEX_NEEDLES`].
pub fn parse_codex_candidate<'a>(line: &'a [u8], state: &mut CodexState) -> Line<'a> {
    if !looks_like_json_object(line) {
        return Line::Malformed;
    }
    let mut parsed = CodexLine::default();
    if !fields::serde_codex(line, &mut parsed) {
        return Line::Malformed;
    }
    codex_meaning(parsed, state)
}

/// [`parse_codex_candidate`], decoding the line with `decode` (`scratch`: see [`Decode`]).
pub fn parse_codex_with<'a>(
    decode: &dyn Decode,
    line: &'a [u8],
    scratch: &'a mut Vec<u8>,
    state: &mut CodexState,
) -> Line<'a> {
    if !looks_like_json_object(line) {
        return Line::Malformed;
    }
    let mut parsed = CodexLine::default();
    if !decode.codex(line, scratch, &mut parsed) {
        return Line::Malformed;
    }
    codex_meaning(parsed, state)
}

/// What a decoded Codex line means, given the file's state so far (which it updates).
fn codex_meaning<'a>(parsed: CodexLine<'a>, state: &mut CodexState) -> Line<'a> {
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
            if let Some((primary, secondary)) = payload.rate_limits
                && state.rate_limits.is_none_or(|r| r.at_ms <= ts_ms)
            {
                let limits = RateLimits {
                    at_ms: ts_ms,
                    primary: primary.and_then(|w| w.at(ts_ms)),
                    secondary: secondary.and_then(|w| w.at(ts_ms)),
                };
                if limits.primary.is_some() || limits.secondary.is_some() {
                    state.rate_limits = Some(limits);
                }
            }
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
            if !tokens.plausible() {
                return Line::Malformed;
            }
            let named = payload
                .model
                .or(info.model)
                .filter(|m| !m.trim().is_empty());
            if let Some(model) = &named {
                state.model = Some(model.to_string());
            }
            let model = named
                .or_else(|| state.model.clone().map(Cow::Owned))
                .unwrap_or(Cow::Borrowed(CODEX_FALLBACK_MODEL));
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

// ---- OpenClaw --------------------------------------------------------------------------------

/// See [`CLAUDE_NEEDLES`]: an OpenClaw line that matters is a message with usage, or a line
/// naming the model the next messages run on.
pub const OPENCLAW_NEEDLES: &[&[u8]] = &[b"\"usage\"", b"model_change", b"model-snapshot"];

/// The model of OpenClaw usage logged before any line named one (ccusage's name for it).
pub const OPENCLAW_UNKNOWN_MODEL: &str = "unknown";

/// What an OpenClaw session file has said so far that later lines depend on: the model of its
/// last model change or snapshot. Persisted with the file's offset, like [`CodexState`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenClawState {
    /// The model of the last model change or snapshot; `None` before any.
    pub model: Option<String>,
}

/// Parse one line of an OpenClaw session file, updating the file's running state.
///
/// As ccusage 20.0.24 reads these files (each rule checked against it):
/// * a `model_change` line (`modelId`, else `model`) or a `custom` line of `customType`
///   `model-snapshot` (`data.modelId`, else `data.model`) sets the model of the messages after
///   it; an empty name changes nothing;
/// * a `message` whose `message.role` is `assistant` and that has a `message.usage` object is a
///   request: `input`, `output`, `cacheRead`, `cacheWrite` tokens (a count that is not a whole
///   number from 0 up reads as 0); with all four 0, a `totalTokens` above 0 counts as output,
///   and otherwise the message counts nothing;
/// * its time is `message.timestamp` (milliseconds since the epoch, or RFC 3339), else the
///   line's `timestamp`; its model is `message.model` (not kept for later lines), else the
///   file's, else `unknown`; its cost is `usage.cost.total` when that is a number, else the
///   price table's.
///
/// The record's dedupe key is everything that makes a request: its time, model, tokens and
/// logged cost. The caller adds the session (the file's name before `.jsonl`), so a message
/// also kept in an archived copy of its session (`.jsonl.reset.…`) counts once, as in ccusage.
pub fn parse_openclaw_line<'a>(line: &'a [u8], state: &mut OpenClawState) -> Line<'a> {
    if !contains_any(line, OPENCLAW_NEEDLES) {
        return Line::Ignored;
    }
    if !looks_like_json_object(line) {
        return Line::Malformed;
    }
    let mut parsed = OpenClawLine::default();
    if !fields::serde_openclaw(line, &mut parsed) {
        return Line::Malformed;
    }
    openclaw_meaning(parsed, state)
}

/// [`parse_openclaw_line`] for a line already known to contain one of [`OPENCLAW_NEEDLES`],
/// decoding it with `decode` (`scratch`: see [`Decode`]).
pub fn parse_openclaw_with<'a>(
    decode: &dyn Decode,
    line: &'a [u8],
    scratch: &'a mut Vec<u8>,
    state: &mut OpenClawState,
) -> Line<'a> {
    if !looks_like_json_object(line) {
        return Line::Malformed;
    }
    let mut parsed = OpenClawLine::default();
    if !decode.openclaw(line, scratch, &mut parsed) {
        return Line::Malformed;
    }
    openclaw_meaning(parsed, state)
}

fn named(name: &Option<Cow<'_, str>>) -> Option<String> {
    name.as_deref()
        .filter(|m| !m.is_empty())
        .map(str::to_string)
}

/// Epoch milliseconds of an OpenClaw time; `None` when it is not one.
fn openclaw_ms(stamp: &Stamp) -> Option<i64> {
    match stamp {
        Stamp::Millis(ms) if ms.is_finite() && *ms > 0.0 && *ms < 1e15 => Some(*ms as i64),
        Stamp::Millis(_) => None,
        Stamp::Text(text) => parse_ts(text),
    }
}

/// What a decoded OpenClaw line means.
fn openclaw_meaning<'a>(parsed: OpenClawLine<'a>, state: &mut OpenClawState) -> Line<'a> {
    match parsed.kind.as_deref() {
        Some("model_change") => {
            if let Some(model) = named(&parsed.model_id).or_else(|| named(&parsed.model)) {
                state.model = Some(model);
            }
            return Line::Ignored;
        }
        Some("custom") if parsed.custom_type.as_deref() == Some("model-snapshot") => {
            if let Some(model) = parsed
                .data
                .and_then(|d| named(&d.model_id).or_else(|| named(&d.model)))
            {
                state.model = Some(model);
            }
            return Line::Ignored;
        }
        Some("message") => {}
        _ => return Line::Ignored,
    }
    let Some(message) = parsed.message else {
        return Line::Ignored;
    };
    if message.role.as_deref() != Some("assistant") {
        return Line::Ignored;
    }
    let Some(usage) = message.usage else {
        return Line::Ignored;
    };
    let mut tokens = Tokens {
        input: usage.input.unwrap_or(0),
        output: usage.output.unwrap_or(0),
        cache_write: usage.cache_write.unwrap_or(0),
        cache_write_1h: 0,
        cache_read: usage.cache_read.unwrap_or(0),
        reasoning: 0,
    };
    if tokens.is_zero() {
        match usage.total_tokens {
            Some(total) if total > 0 => tokens.output = total,
            _ => return Line::Ignored,
        }
    }
    let ts = match &message.timestamp {
        Some(stamp) => openclaw_ms(stamp),
        None => parsed.timestamp.as_ref().and_then(openclaw_ms),
    };
    let Some(ts_ms) = ts else {
        return Line::Malformed;
    };
    if !tokens.plausible()
        || usage
            .cost
            .is_some_and(|c| !(0.0..=MAX_REQUEST_COST_USD).contains(&c))
    {
        return Line::Malformed;
    }
    let model = match message.model.filter(|m| !m.is_empty()) {
        Some(m) => m,
        None => Cow::Owned(
            state
                .model
                .clone()
                .unwrap_or_else(|| OPENCLAW_UNKNOWN_MODEL.to_string()),
        ),
    };
    let cost = usage.cost.map(f64::to_bits).unwrap_or(u64::MAX);
    let key = format!(
        "openclaw\u{1f}{ts_ms}\u{1f}{model}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{cost:x}",
        tokens.input, tokens.output, tokens.cache_read, tokens.cache_write
    );
    Line::Usage(Record {
        ts_ms,
        model: Some(model),
        session: None,
        dedupe_key: Some((Cow::Owned(key), None)),
        tokens,
        cost_usd: usage.cost,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_check_agrees_with_its_definition() {
        // The definition, written plainly: major and minor all digits, patch starting with one.
        fn by_parts(v: &str) -> bool {
            let mut parts = v.splitn(3, '.');
            let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            let (Some(major), Some(minor), Some(patch)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            let patch = &patch[..patch
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(patch.len())];
            digits(major) && digits(minor) && digits(patch)
        }
        let alphabet = ['1', '0', '.', 'a', '-', '9'];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in 0..12 {
            for _ in 0..2000 {
                let v: String = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect();
                assert_eq!(is_semver_prefix(&v), by_parts(&v), "{v:?}");
            }
        }
        assert!(is_semver_prefix("2.0.30"));
        assert!(is_semver_prefix("1.0.3-beta"));
        assert!(!is_semver_prefix("2.1"));
    }

    fn claude(line: &str) -> Record<'_> {
        match parse_claude_line(line.as_bytes()) {
            Line::Usage(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_day_of_four_centuries_converts_as_chrono_converts_it() {
        use chrono::Datelike;
        let mut day = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
        let mut n = 0;
        while day.year() < 2300 {
            let ts = format!("{}T23:59:58.250Z", day.format("%Y-%m-%d"));
            let want = day.and_hms_milli_opt(23, 59, 58, 250).unwrap().and_utc();
            assert_eq!(
                utc_millis(ts.as_bytes()),
                Some(want.timestamp_millis()),
                "{ts}"
            );
            day = day.succ_opt().unwrap();
            n += 1;
        }
        assert_eq!(n, 146_097);
        // Days that do not exist are refused, not rolled over.
        for ts in [
            "1900-02-29",
            "2100-02-29",
            "2023-02-29",
            "2026-04-31",
            "2026-00-10",
        ] {
            assert_eq!(
                utc_millis(format!("{ts}T00:00:00Z").as_bytes()),
                None,
                "{ts}"
            );
        }
        assert!(utc_millis(b"2000-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn timestamps_in_the_usual_form_parse_as_chrono_parses_them() {
        for ts in [
            "2026-11-01T10:00:00Z",
            "2026-11-01T10:00:00.123Z",
            "2024-02-29T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
        ] {
            let chrono = chrono::DateTime::parse_from_rfc3339(ts).unwrap();
            assert_eq!(
                utc_millis(ts.as_bytes()),
                Some(chrono.timestamp_millis()),
                "{ts}"
            );
        }
        for ts in [
            "2026-13-01T10:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-11-01T24:00:00Z",
            "2026-11-01 10:00:00Z",
            "2026-11-01T10:00:00.12Z",
            "2026-11-01T10:00:00+01:00",
            "2026-11-01T10:00:0xZ",
        ] {
            assert_eq!(utc_millis(ts.as_bytes()), None, "{ts}");
        }
        // Other forms still parse, through chrono.
        assert_eq!(
            parse_ts("2026-11-01T11:00:00+01:00"),
            parse_ts("2026-11-01T10:00:00Z")
        );
        assert_eq!(
            parse_ts("2026-11-01T10:00:60Z"),
            None.or(parse_ts("2026-11-01T10:00:60Z"))
        );
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
    fn impossible_counts_and_costs_are_malformed_lines_not_requests() {
        let line = |input: &str, cost: &str| {
            format!(
                r#"{{"timestamp":"2026-11-01T10:00:00Z","costUSD":{cost},"message":{{"id":"m","model":"x","usage":{{"input_tokens":{input},"output_tokens":2}}}}}}"#
            )
        };
        let plausible = MAX_REQUEST_TOKENS.to_string();
        assert!(matches!(
            parse_claude_line(line(&plausible, "1.5").as_bytes()),
            Line::Usage(_)
        ));
        for (input, cost) in [
            ("18446744073709551615", "1.5"),
            ("5000000000000000000", "1.5"),
            (&*(MAX_REQUEST_TOKENS + 1).to_string(), "1.5"),
            ("10", "-0.01"),
            ("10", "1e300"),
        ] {
            assert!(
                matches!(
                    parse_claude_line(line(input, cost).as_bytes()),
                    Line::Malformed
                ),
                "{input} tokens, ${cost}"
            );
        }
    }

    #[test]
    fn claude_one_hour_cache_writes_are_kept_apart() {
        let r = claude(
            r#"{"timestamp":"2026-11-01T10:00:00Z","message":{"id":"m","model":"x","usage":{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":20,"cache_creation":{"ephemeral_5m_input_tokens":5,"ephemeral_1h_input_tokens":15}}}}"#,
        );
        assert_eq!((r.tokens.cache_write, r.tokens.cache_write_1h), (20, 15));
    }

    /// ccusage 20.0.24, given a line whose breakdown disagrees with its total, counts the
    /// breakdown (checked against it by hand: `{}` → 0, `null` → the total).
    #[test]
    fn claude_cache_writes_are_the_breakdown_when_the_line_has_one() {
        let with = |cache: &str| {
            let line = format!(
                r#"{{"timestamp":"2026-11-01T10:00:00Z","message":{{"id":"m","model":"x","usage":{{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":100{cache}}}}}}}"#
            );
            let r = claude(&line);
            (r.tokens.cache_write, r.tokens.cache_write_1h)
        };
        assert_eq!(with(""), (100, 0));
        assert_eq!(with(r#","cache_creation":null"#), (100, 0));
        assert_eq!(with(r#","cache_creation":{}"#), (0, 0));
        assert_eq!(
            with(
                r#","cache_creation":{"ephemeral_5m_input_tokens":30,"ephemeral_1h_input_tokens":20}"#
            ),
            (50, 20)
        );
        assert_eq!(
            with(
                r#","cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200}"#
            ),
            (300, 200)
        );
        assert_eq!(
            with(r#","cache_creation":{"ephemeral_1h_input_tokens":7}"#),
            (7, 7)
        );
    }

    #[test]
    fn claude_synthetic_lines_are_requests_without_tokens_and_other_lines_are_ignored() {
        let synthetic = r#"{"timestamp":"2026-11-01T10:00:00Z","message":{"model":"<synthetic>","usage":{"input_tokens":1}}}"#;
        let r = claude(synthetic);
        assert_eq!(
            (r.model.as_deref(), r.tokens),
            (Some(SYNTHETIC_MODEL), Tokens::default())
        );
        assert_eq!(
            parse_claude_line(br#"{"type":"user","message":{"content":"hi"}}"#),
            Line::Ignored
        );
        assert_eq!(
            parse_claude_line(br#"{"type":"assistant","message":{"usage":{"input_tok"#),
            Line::Malformed
        );
    }

    #[test]
    fn codex_rate_limits_are_kept_with_their_reset_times_and_odd_ones_cost_no_usage() {
        let line = |limits: &str| {
            format!(
                r#"{{"timestamp":"2026-11-01T10:00:00Z","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":10,"output_tokens":5}}}},"rate_limits":{limits}}}}}"#
            )
        };
        let at = parse_ts("2026-11-01T10:00:00Z").unwrap();
        let mut state = CodexState::default();
        let new = line(
            r#"{"primary":{"used_percent":97.0,"window_minutes":300,"resets_at":1793530800},"secondary":{"used_percent":40,"window_minutes":10080,"resets_at":1794000000},"plan_type":"pro"}"#,
        );
        assert!(matches!(
            parse_codex_line(new.as_bytes(), &mut state),
            Line::Usage(_)
        ));
        let limits = state.rate_limits.unwrap();
        assert_eq!(limits.at_ms, at);
        let primary = limits.primary.unwrap();
        assert_eq!(
            (
                primary.used_percent,
                primary.window_minutes,
                primary.resets_at_ms
            ),
            (97.0, Some(300), Some(1_793_530_800_000))
        );
        assert_eq!(limits.secondary.unwrap().used_percent, 40.0);
        // Older Codex: seconds from the event.
        let mut state = CodexState::default();
        let old = line(
            r#"{"primary":{"used_percent":12.5,"window_minutes":299,"resets_in_seconds":600},"secondary":null}"#,
        );
        assert!(matches!(
            parse_codex_line(old.as_bytes(), &mut state),
            Line::Usage(_)
        ));
        let limits = state.rate_limits.unwrap();
        assert_eq!(limits.primary.unwrap().resets_at_ms, Some(at + 600_000));
        assert_eq!(limits.secondary, None);
        // Shapes not understood: no snapshot, and the usage is still counted.
        for odd in [
            r#""soon""#,
            r#"{"primary":"full"}"#,
            r#"{"primary":{"used_percent":"x"}}"#,
            "null",
        ] {
            let mut state = CodexState::default();
            assert!(
                matches!(
                    parse_codex_line(line(odd).as_bytes(), &mut state),
                    Line::Usage(_)
                ),
                "{odd}"
            );
            assert_eq!(state.rate_limits, None, "{odd}");
        }
    }

    fn codex<'a>(lines: &[&'a str]) -> Vec<Record<'a>> {
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

    fn openclaw_records<'a>(lines: &[&'a str]) -> Vec<Line<'a>> {
        let mut state = OpenClawState::default();
        lines
            .iter()
            .map(|l| parse_openclaw_line(l.as_bytes(), &mut state))
            .collect()
    }

    fn openclaw_usage(line: Line<'_>) -> Record<'_> {
        match line {
            Line::Usage(r) => r,
            other => panic!("{other:?}"),
        }
    }

    /// Each rule here was checked against ccusage 20.0.24's `openclaw` source.
    #[test]
    fn openclaw_messages_take_their_model_time_and_cost_as_ccusage_reads_them() {
        let msg = |extra: &str, usage: &str| {
            format!(
                r#"{{"type":"message","id":"a","timestamp":"2026-10-01T10:00:02.000Z","message":{{"role":"assistant","usage":{usage}{extra}}}}}"#
            )
        };
        let plain =
            r#"{"input":1000,"output":100,"cacheRead":500,"cacheWrite":7,"totalTokens":1607}"#;
        let change = r#"{"type":"model_change","provider":"openai","modelId":"gpt-5"}"#;
        let snapshot = r#"{"type":"custom","customType":"model-snapshot","data":{"provider":"openai","model":"gpt-5-mini"}}"#;
        let own_model = msg(
            r#","model":"claude-sonnet-4-5","timestamp":1790000000000"#,
            plain,
        );
        let after_own = msg("", plain);
        let before_any = msg("", plain);
        let dated = msg(r#","timestamp":"2026-08-01T00:00:00.000Z""#, plain);
        let records = openclaw_records(&[
            &before_any,
            change,
            &own_model,
            &after_own,
            snapshot,
            &dated,
        ]);
        let models: Vec<String> = records
            .iter()
            .filter_map(|l| match l {
                Line::Usage(r) => Some(r.model.as_deref().unwrap().to_string()),
                _ => None,
            })
            .collect();
        // Before any change: unknown; a message's own model is not kept for the next.
        assert_eq!(
            models,
            ["unknown", "claude-sonnet-4-5", "gpt-5", "gpt-5-mini"]
        );
        let own = openclaw_usage(records[2].clone());
        assert_eq!(own.ts_ms, 1_790_000_000_000, "the message's own time wins");
        assert_eq!(
            (
                own.tokens.input,
                own.tokens.output,
                own.tokens.cache_read,
                own.tokens.cache_write
            ),
            (1000, 100, 500, 7)
        );
        let line_time = openclaw_usage(records[3].clone());
        assert_eq!(line_time.ts_ms, parse_ts("2026-10-01T10:00:02Z").unwrap());
        assert_eq!(
            openclaw_usage(records[5].clone()).ts_ms,
            parse_ts("2026-08-01T00:00:00Z").unwrap()
        );
        // The gateway's own cost, when it is a number; not otherwise.
        let mut state = OpenClawState::default();
        let with_cost = msg(
            "",
            r#"{"input":1,"output":2,"cost":{"input":0,"total":0.5}}"#,
        );
        assert_eq!(
            openclaw_usage(parse_openclaw_line(with_cost.as_bytes(), &mut state)).cost_usd,
            Some(0.5)
        );
        for odd in [r#"{"total":"0.5"}"#, "0.5", "null", r#"{"input":0.1}"#] {
            let line = msg("", &format!(r#"{{"input":1,"output":2,"cost":{odd}}}"#));
            let r = openclaw_usage(parse_openclaw_line(line.as_bytes(), &mut state));
            assert_eq!(r.cost_usd, None, "{odd}");
        }
        // Counts that are not whole numbers read as 0; the rest of the line counts.
        for odd in ["-5", "10.5", r#""10""#, "null", "[1]"] {
            let line = msg("", &format!(r#"{{"input":{odd},"output":100}}"#));
            let r = openclaw_usage(parse_openclaw_line(line.as_bytes(), &mut state));
            assert_eq!((r.tokens.input, r.tokens.output), (0, 100), "{odd}");
        }
        // Nothing but a total: it is output. Nothing at all: no request.
        let total_only = msg("", r#"{"input":0,"output":0,"totalTokens":50}"#);
        let r = openclaw_usage(parse_openclaw_line(total_only.as_bytes(), &mut state));
        assert_eq!(r.tokens.output, 50);
        let zero = msg(
            "",
            r#"{"input":0,"output":0,"totalTokens":0,"cost":{"total":1}}"#,
        );
        assert_eq!(
            parse_openclaw_line(zero.as_bytes(), &mut state),
            Line::Ignored
        );
    }

    #[test]
    fn openclaw_lines_that_are_not_assistant_usage_count_nothing() {
        let mut state = OpenClawState::default();
        for line in [
            r#"{"type":"message","timestamp":"2026-10-01T10:00:02.000Z","message":{"role":"user","usage":{"input":5}}}"#,
            r#"{"type":"other","timestamp":"2026-10-01T10:00:02.000Z","message":{"role":"assistant","usage":{"input":5}}}"#,
            r#"{"type":"message","timestamp":"2026-10-01T10:00:02.000Z","message":{"usage":{"input":5}}}"#,
            r#"{"type":"message","timestamp":"2026-10-01T10:00:02.000Z","message":{"role":"assistant","usage":5}}"#,
            r#"{"type":"custom","customType":"other","data":{"modelId":"gpt-5"}}"#,
            r#"{"type":"model_change","modelId":""}"#,
        ] {
            assert_eq!(
                parse_openclaw_line(line.as_bytes(), &mut state),
                Line::Ignored,
                "{line}"
            );
        }
        assert_eq!(state.model, None, "an empty or foreign name sets no model");
        // Cut short, not JSON, or with no time it could be placed at: malformed.
        for line in [
            r#"{"type":"message","message":{"role":"assistant","usage":{"input":12"#,
            r#"not json "usage""#,
            r#"{"type":"message","message":{"role":"assistant","usage":{"input":12}}}"#,
            r#"{"type":"message","message":{"role":"assistant","usage":{"input":12},"timestamp":-5}}"#,
            r#"{"type":"message","message":{"role":"assistant","usage":{"input":12},"timestamp":"yesterday"}}"#,
        ] {
            assert_eq!(
                parse_openclaw_line(line.as_bytes(), &mut state),
                Line::Malformed,
                "{line}"
            );
        }
    }

    /// One request logged again (an archived copy of its session) has the same key; any
    /// difference in what it was makes another.
    #[test]
    fn openclaw_dedupe_keys_are_what_the_request_was() {
        let key = |ts: &str, usage: &str| {
            let line = format!(
                r#"{{"type":"message","id":"{ts}","message":{{"role":"assistant","model":"gpt-5","usage":{usage},"timestamp":{ts}}}}}"#
            );
            let mut state = OpenClawState::default();
            let record = openclaw_usage(parse_openclaw_line(line.as_bytes(), &mut state));
            record.dedupe_key.map(|(k, _)| k.into_owned())
        };
        let plain = r#"{"input":1,"output":2}"#;
        assert_eq!(key("1790000000000", plain), key("1790000000000", plain));
        assert_ne!(key("1790000000000", plain), key("1790000000001", plain));
        assert_ne!(
            key("1790000000000", plain),
            key("1790000000000", r#"{"input":1,"output":3}"#)
        );
        assert_ne!(
            key("1790000000000", plain),
            key(
                "1790000000000",
                r#"{"input":1,"output":2,"cost":{"total":0.1}}"#
            )
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse_claude_line(&bytes);
            let mut state = CodexState::default();
            let _ = parse_codex_line(&bytes, &mut state);
            let mut state = OpenClawState::default();
            let _ = parse_openclaw_line(&bytes, &mut state);
        }

        #[test]
        fn json_like_lines_never_panic(text in r#"\{("(usage|message|timestamp|type|payload|info|token_count|turn_context|total_token_usage|last_token_usage|input_tokens|model|id|role|assistant|input|cacheRead|totalTokens|cost|total|model_change|modelId|custom|customType|model-snapshot|data)"|:|,|\{|\}|\[|\]|-?[0-9]{1,22}|-?[0-9]{1,5}\.[0-9]{1,3}|"[a-z0-9:.T-]{0,24}"|null|true| ){0,40}"#) {
            let _ = parse_claude_line(text.as_bytes());
            let mut state = CodexState::default();
            let _ = parse_codex_line(text.as_bytes(), &mut state);
            let mut state = OpenClawState::default();
            let _ = parse_openclaw_line(text.as_bytes(), &mut state);
        }
    }
}
