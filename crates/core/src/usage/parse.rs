//! Line parsers for the Claude Code and Codex session logs.
//!
//! Each parser takes one raw line (any bytes) and returns what it means for the ledger; it never
//! panics and never allocates for lines that cannot carry usage (a `memchr` prefilter rejects
//! them before JSON parsing). Lines are read with [`super::json::Reader`]: only the fields the
//! ledger needs are decoded (borrowed from the line where possible), the rest is checked and
//! skipped at memory speed. Any valid JSON object is accepted however it is spaced; a line that
//! is not valid JSON as a whole is malformed.
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

use super::json::{self, Reader};

/// The model Claude Code names on the errors it logs itself (no API use).
pub const SYNTHETIC_MODEL: &str = "<synthetic>";

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

// The fields read from a line. In tests the same structs derive `Deserialize`, and serde_json
// serves as the oracle the hand-written readers are checked against.

#[cfg_attr(test, derive(Deserialize, Debug, PartialEq))]
#[derive(Default)]
struct ClaudeLine<'a> {
    #[cfg_attr(test, serde(borrow))]
    timestamp: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(borrow, rename = "sessionId"))]
    session_id: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(borrow, rename = "requestId"))]
    request_id: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(borrow))]
    version: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "costUSD"))]
    cost_usd: Option<f64>,
    #[cfg_attr(test, serde(borrow))]
    message: Option<ClaudeMessage<'a>>,
}

#[cfg_attr(test, derive(Deserialize, Debug, PartialEq))]
#[derive(Default)]
struct ClaudeMessage<'a> {
    #[cfg_attr(test, serde(borrow))]
    id: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(borrow))]
    model: Option<Cow<'a, str>>,
    usage: Option<ClaudeUsage>,
}

#[cfg_attr(test, derive(Deserialize, Debug, PartialEq))]
#[cfg_attr(test, serde(default))]
#[derive(Default)]
struct ClaudeUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
}

#[cfg_attr(test, derive(Deserialize, Debug, PartialEq))]
#[cfg_attr(test, serde(default))]
#[derive(Default)]
struct CacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

#[cfg(test)]
fn read_claude(line: &[u8]) -> json::Result<ClaudeLine<'_>> {
    let mut out = ClaudeLine::default();
    read_claude_into(line, &mut out)?;
    Ok(out)
}

/// [`read_claude`] into `out` (a default one): the nested parts are filled where they lie, not
/// built aside and moved in (a measurable share of a line's cost).
fn read_claude_into<'a>(line: &'a [u8], out: &mut ClaudeLine<'a>) -> json::Result<()> {
    let keys: [&[u8]; _] = [
        b"timestamp",
        b"sessionId",
        b"requestId",
        b"version",
        b"costUSD",
        b"message",
    ];
    json::read_object(line, &keys, |r, i| {
        match i {
            0 => out.timestamp = r.string()?,
            1 => out.session_id = r.string()?,
            2 => out.request_id = r.string()?,
            3 => out.version = r.string()?,
            4 => out.cost_usd = r.f64()?,
            _ => fill(&mut out.message, |m| read_claude_message(r, m))?,
        }
        Ok(())
    })
}

/// Read an object (or `null`, which leaves `None`) into `slot`, filled where it lies: `read`
/// gets a default value to fill and says whether the object was there.
#[inline(always)]
fn fill<T: Default>(
    slot: &mut Option<T>,
    read: impl FnOnce(&mut T) -> json::Result<bool>,
) -> json::Result<()> {
    if !read(slot.insert(T::default()))? {
        *slot = None;
    }
    Ok(())
}

/// The `message` object into `out`; `false` for `null`.
fn read_claude_message<'a>(r: &mut Reader<'a>, out: &mut ClaudeMessage<'a>) -> json::Result<bool> {
    r.fields(&[b"id", b"model", b"usage"], |r, i| {
        match i {
            0 => out.id = r.string()?,
            1 => out.model = r.string()?,
            _ => {
                let keys: [&[u8]; _] = [
                    b"input_tokens",
                    b"output_tokens",
                    b"cache_creation_input_tokens",
                    b"cache_read_input_tokens",
                    b"cache_creation",
                ];
                fill(&mut out.usage, |u| {
                    r.fields(&keys, |r, i| {
                        match i {
                            0 => u.input_tokens = r.u64()?,
                            1 => u.output_tokens = r.u64()?,
                            2 => u.cache_creation_input_tokens = r.u64()?,
                            3 => u.cache_read_input_tokens = r.u64()?,
                            _ => {
                                let keys: [&[u8]; _] =
                                    [b"ephemeral_5m_input_tokens", b"ephemeral_1h_input_tokens"];
                                fill(&mut u.cache_creation, |c| {
                                    r.fields(&keys, |r, i| {
                                        match i {
                                            0 => c.ephemeral_5m_input_tokens = r.u64()?,
                                            _ => c.ephemeral_1h_input_tokens = r.u64()?,
                                        }
                                        Ok(())
                                    })
                                })?;
                            }
                        }
                        Ok(())
                    })
                })?;
            }
        }
        Ok(())
    })
}

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
    if read_claude_into(line, &mut parsed).is_err() {
        return Line::Malformed;
    }
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
    pub primary: Option<LimitWindow>,
    pub secondary: Option<LimitWindow>,
}

/// A window as logged, before its reset is put in absolute time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct RawWindow {
    used_percent: Option<f64>,
    window_minutes: Option<f64>,
    resets_at: Option<f64>,
    resets_in_seconds: Option<f64>,
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

fn read_window(r: &mut Reader) -> json::Result<Option<RawWindow>> {
    let mut w = RawWindow::default();
    let keys: [&[u8]; _] = [
        b"used_percent",
        b"window_minutes",
        b"resets_at",
        b"resets_in_seconds",
    ];
    let present = r.fields(&keys, |r, i| {
        let v = r.number_or_skip()?;
        match i {
            0 => w.used_percent = v,
            1 => w.window_minutes = v,
            2 => w.resets_at = v,
            _ => w.resets_in_seconds = v,
        }
        Ok(())
    })?;
    Ok(present.then_some(w))
}

/// Model assumed for Codex usage logged before any line named one (as ccusage does).
pub const CODEX_FALLBACK_MODEL: &str = "gpt-5";

#[cfg_attr(test, derive(Deserialize, Debug, PartialEq))]
#[derive(Default)]
struct CodexLine<'a> {
    #[cfg_attr(test, serde(borrow))]
    timestamp: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(borrow, rename = "type"))]
    kind: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(borrow))]
    payload: Option<CodexPayload<'a>>,
}

#[cfg_attr(test, derive(Deserialize, Debug, PartialEq))]
#[derive(Default)]
struct CodexPayload<'a> {
    #[cfg_attr(test, serde(borrow, rename = "type"))]
    kind: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(borrow))]
    model: Option<Cow<'a, str>>,
    info: Option<CodexInfo<'a>>,
    #[cfg_attr(test, serde(skip))]
    rate_limits: Option<(Option<RawWindow>, Option<RawWindow>)>,
}

#[cfg_attr(test, derive(Deserialize, Debug, PartialEq))]
#[derive(Default)]
struct CodexInfo<'a> {
    total_token_usage: Option<CodexUsage>,
    last_token_usage: Option<CodexUsage>,
    #[cfg_attr(test, serde(borrow))]
    model: Option<Cow<'a, str>>,
}

fn read_codex(line: &[u8]) -> json::Result<CodexLine<'_>> {
    let mut out = CodexLine::default();
    json::read_object(line, &[b"timestamp", b"type", b"payload"], |r, i| {
        match i {
            0 => out.timestamp = r.string()?,
            1 => out.kind = r.string()?,
            _ => {
                let mut p = CodexPayload::default();
                let present = r.fields(&[b"type", b"model", b"info", b"rate_limits"], |r, i| {
                    match i {
                        0 => p.kind = r.string()?,
                        1 => p.model = r.string()?,
                        // A snapshot of another shape is passed over, not the line's usage.
                        3 if !r.at_object() => r.skip()?,
                        3 => {
                            let mut windows = (None, None);
                            r.fields(&[b"primary", b"secondary"], |r, i| {
                                let w = if r.at_object() {
                                    read_window(r)?
                                } else {
                                    r.skip()?;
                                    None
                                };
                                if i == 0 {
                                    windows.0 = w;
                                } else {
                                    windows.1 = w;
                                }
                                Ok(())
                            })?;
                            p.rate_limits = Some(windows);
                        }
                        _ => {
                            let mut info = CodexInfo::default();
                            let keys: [&[u8]; _] =
                                [b"total_token_usage", b"last_token_usage", b"model"];
                            let present = r.fields(&keys, |r, i| {
                                match i {
                                    0 => info.total_token_usage = read_codex_usage(r)?,
                                    1 => info.last_token_usage = read_codex_usage(r)?,
                                    _ => info.model = r.string()?,
                                }
                                Ok(())
                            })?;
                            p.info = present.then_some(info);
                        }
                    }
                    Ok(())
                })?;
                out.payload = present.then_some(p);
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// The usage object; its fields default to 0 when absent but may not be `null`.
fn read_codex_usage(r: &mut Reader) -> json::Result<Option<CodexUsage>> {
    let mut u = CodexUsage::default();
    let keys: [&[u8]; _] = [
        b"input_tokens",
        b"cached_input_tokens",
        b"output_tokens",
        b"reasoning_output_tokens",
        b"total_tokens",
    ];
    let present = r.fields(&keys, |r, i| {
        let slot = match i {
            0 => &mut u.input_tokens,
            1 => &mut u.cached_input_tokens,
            2 => &mut u.output_tokens,
            3 => &mut u.reasoning_output_tokens,
            _ => &mut u.total_tokens,
        };
        *slot = r.u64()?.ok_or(json::Invalid)?;
        Ok(())
    })?;
    Ok(present.then_some(u))
}

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
    let Ok(parsed) = read_codex(line) else {
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

    /// JSON values built from the keys the readers look for, so that generated lines often
    /// carry usage and often have the wrong types in the right places.
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        const KEYS: &[&str] = &[
            "timestamp",
            "sessionId",
            "requestId",
            "version",
            "costUSD",
            "message",
            "id",
            "model",
            "usage",
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "cache_creation",
            "ephemeral_5m_input_tokens",
            "ephemeral_1h_input_tokens",
            "type",
            "payload",
            "info",
            "total_token_usage",
            "last_token_usage",
            "cached_input_tokens",
            "reasoning_output_tokens",
            "total_tokens",
            "content",
            "other",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0u64..5000).prop_map(Value::from),
            Just(Value::from(u64::MAX)),
            (-5i64..0).prop_map(Value::from),
            (-1e3f64..1e3).prop_map(Value::from),
            prop::sample::select(vec![
                "2026-11-01T10:00:00Z",
                "2026-11-01T10:00:00.123+01:00",
                "2.1.3",
                "x.y",
                "claude-sonnet-4-5",
                "<synthetic>",
                "gpt-5",
                "token_count",
                "turn_context",
                "event_msg",
                "",
                "a \"quoted\" \\ line\n\u{e9} 😀",
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(KEYS), inner), 0..7).prop_map(
                    |fields| {
                        Value::Object(
                            fields
                                .into_iter()
                                .map(|(k, v)| (k.to_string(), v))
                                .collect(),
                        )
                    }
                ),
            ]
        })
    }

    /// serde's derived readers also accept a struct written as an array of its fields; the log
    /// readers (like ccusage's schema) want objects. True when `value` has an array at one of
    /// the `paths` where a struct is expected: the oracle does not apply there.
    fn array_for_struct(value: &serde_json::Value, paths: &[&[&str]]) -> bool {
        paths.iter().any(|path| {
            let mut v = value;
            for key in *path {
                match v.get(key) {
                    Some(inner) => v = inner,
                    None => return false,
                }
            }
            v.is_array()
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]
        /// The hand-written readers decode exactly what serde_json decodes into the same
        /// structs, and refuse exactly what it refuses: whole lines, pretty-printed lines,
        /// lines with a repeated key, and every truncation of them.
        #[test]
        fn readers_agree_with_serde_json(value in json_value(), pretty: bool, cut in 0usize..400, dup: bool) {
            let mut text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            if dup && text.starts_with("{\"") {
                // A repeated key: `{"timestamp":null,` + the rest.
                text = format!("{{\"timestamp\":null,{}", &text[1..]);
            }
            const CLAUDE_STRUCTS: &[&[&str]] =
                &[&[], &["message"], &["message", "usage"], &["message", "usage", "cache_creation"]];
            const CODEX_STRUCTS: &[&[&str]] = &[
                &[],
                &["payload"],
                &["payload", "info"],
                &["payload", "info", "total_token_usage"],
                &["payload", "info", "last_token_usage"],
            ];
            for line in [text.as_bytes(), &text.as_bytes()[..cut.min(text.len())]] {
                if !array_for_struct(&value, CLAUDE_STRUCTS) {
                    let theirs = serde_json::from_slice::<ClaudeLine>(line).ok();
                    proptest::prop_assert_eq!(read_claude(line).ok(), theirs);
                }
                if !array_for_struct(&value, CODEX_STRUCTS) {
                    let theirs = serde_json::from_slice::<CodexLine>(line).ok();
                    proptest::prop_assert_eq!(read_codex(line).ok(), theirs);
                }
            }
        }
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
