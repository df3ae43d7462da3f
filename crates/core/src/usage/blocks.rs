//! Claude's 5-hour windows ("session blocks"), computed exactly as ccusage 20 computes them,
//! from the ledger's requests in time order:
//!
//! * a window starts at the hour (UTC) of its first request and lasts `length` (5 hours);
//! * a request more than `length` after the window's start, or more than `length` after the
//!   request before it, starts a new window (and after such a silence a *gap* window stands for
//!   the time between the two: from the last request plus `length` to the next request);
//! * the window holding the latest request is *active* while less than `length` has passed
//!   since that request and the window has not ended; it has a burn rate (tokens per minute and
//!   cost per hour between its first and last request) and a projection to its end at that rate.
//!
//! Pure: no I/O, `now` is given.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::ledger::{AggRow, BUCKET_MS, Cost, Request, Source};
use super::parse::{SYNTHETIC_MODEL, Tokens};

/// The length of a window, as Anthropic bills Claude subscriptions.
pub const WINDOW_MS: i64 = 5 * 3_600_000;
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;
/// ccusage's warning threshold for a projected use against a token limit.
const WARNING_SHARE: f64 = 0.8;

/// One window (or the gap between two).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// When the window starts, epoch ms: the hour (UTC) of its first request; for a gap, its
    /// last request plus the window length.
    pub start: i64,
    /// When it ends, epoch ms: its start plus the window length; for a gap, the next request.
    pub end: i64,
    /// The time of its last request (`None` for a gap).
    pub actual_end: Option<i64>,
    /// The time of its first request, epoch ms (a gap: its start).
    pub first: i64,
    /// Whether it is the window now running (see the module docs).
    pub active: bool,
    /// Whether it stands for a silence between two windows rather than for requests.
    pub gap: bool,
    /// The number of requests in it (0 for a gap).
    pub entries: u64,
    /// The tokens of its requests, by kind.
    pub tokens: Tokens,
    /// The cost of its requests, in US dollars.
    pub cost: f64,
    /// In the order they were first used.
    pub models: Vec<String>,
}

/// Tokens per minute and cost per hour between a window's first and last request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRate {
    /// All tokens (cache included) per minute.
    pub tokens_per_minute: f64,
    /// Input and output only (ccusage's indicator leaves the cache out).
    pub tokens_per_minute_for_indicator: f64,
    /// US dollars per hour.
    pub cost_per_hour: f64,
}

/// Where the active window ends up if the burn rate holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    /// The tokens the window will have used by its end.
    pub total_tokens: u64,
    /// The cost the window will have reached by its end, US dollars rounded to the cent.
    pub total_cost: f64,
    /// Whole minutes from now to the window's end (0 once it has passed).
    pub remaining_minutes: u64,
}

fn floor_hour(ts: i64) -> i64 {
    ts.div_euclid(HOUR_MS) * HOUR_MS
}

/// The windows of `requests` (in time order), by start time (as ccusage sorts them: a gap that
/// starts after the window that follows it, which starts at its hour, comes after it).
pub fn blocks(requests: &[Request], now: i64, length: i64) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for r in requests {
        if let Some(block) = &current {
            let last = block.actual_end.unwrap_or(block.start);
            let since_start = r.ts - block.start;
            let since_last = r.ts - last;
            if since_start > length || since_last > length {
                out.push(finish(current.take().expect("checked"), now, length));
                if since_last > length {
                    out.push(gap(last, r.ts, length));
                }
            }
        }
        let block = current.get_or_insert_with(|| Block::opening(r.ts, length));
        block.count(r.ts, 1, &r.tokens, r.cost);
        if r.model != SYNTHETIC_MODEL && !block.models.contains(&r.model) {
            block.models.push(r.model.clone());
        }
    }
    if let Some(block) = current {
        out.push(finish(block, now, length));
    }
    out.sort_by_key(|b| b.start);
    out
}

/// The active window found from the quarter-hour rollups alone (a few thousand rows) instead of
/// every stored request: what the status line and the router's headroom need on every call.
/// `Some(None)`: no window is active; `Some(Some(b))`: the active window (`first` is its first
/// request's quarter hour, the only figure not exact); `None`: the rollups cannot tell — a
/// silence between two quarter hours of 4¾ to 5¼ hours since the last certain gap — and the
/// caller reads the requests ([`blocks`]).
///
/// Exact because every window boundary falls between two quarter hours: a window starts at an
/// hour and ends a whole number of hours later, and a gap of more than `length` cannot fall
/// inside one quarter hour. The one approximation: a request logged at exactly the millisecond a
/// window ends belongs to that window (ccusage's rule is "more than `length` after the
/// start"), and here it counts in the next one.
///
/// `complete`: `rows` are the whole history; otherwise only the last hours, and a window chain
/// that reaches back past them cannot be told. Requests logged after `now` (a clock ahead) make
/// several windows look active at once: those cannot be told either.
pub fn active_from_rollups(
    rows: &[AggRow],
    now: i64,
    length: i64,
    complete: bool,
) -> Option<Option<Block>> {
    use std::collections::BTreeMap;
    // Per quarter hour: tokens, cost, requests, the time of the last request.
    let mut quarters: BTreeMap<i64, (Tokens, i64, u64, i64)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.source == Source::Claude) {
        let q = quarters.entry(r.bucket).or_default();
        q.0.input += r.tokens.input;
        q.0.output += r.tokens.output;
        q.0.cache_write += r.tokens.cache_write;
        q.0.cache_read += r.tokens.cache_read;
        q.1 += r.cost.0;
        q.2 += r.requests;
        q.3 = q.3.max(r.last_ts);
    }
    let quarters: Vec<(i64, (Tokens, i64, u64, i64))> = quarters
        .into_iter()
        .filter(|(_, q)| q.2 > 0)
        .map(|(b, q)| (b * BUCKET_MS, q))
        .collect();
    let Some(&(_, (_, _, _, latest))) = quarters.last() else {
        return if complete { Some(None) } else { None };
    };
    if latest > now {
        return None;
    }
    if now - latest >= length {
        return Some(None);
    }
    // The chain of windows starts over after the last silence that is surely longer than
    // `length` (the next quarter hour starts more than `length` after the last request).
    let from = match (1..quarters.len())
        .rev()
        .find(|&i| quarters[i].0 - quarters[i - 1].1.3 > length)
    {
        Some(i) => i,
        None if complete => 0,
        None => return None,
    };
    let mut block: Option<Block> = None;
    let mut last = 0;
    for &(start, (tokens, cost, requests, last_ts)) in &quarters[from..] {
        if let Some(b) = &block {
            // The first request of this quarter hour is in [start, start + BUCKET_MS).
            let (least, most) = (start - last, start + BUCKET_MS - 1 - last);
            if least <= length && most > length {
                return None;
            }
            if least > length || start >= b.end {
                block = None;
            }
        }
        block
            .get_or_insert_with(|| Block::opening(start, length))
            .count(last_ts, requests, &tokens, Cost(cost).usd());
        last = last_ts;
    }
    Some(block.map(|b| finish(b, now, length)).filter(|b| b.active))
}

fn finish(mut block: Block, now: i64, length: i64) -> Block {
    block.active = block
        .actual_end
        .is_some_and(|last| now - last < length && now < block.end);
    block
}

fn gap(last: i64, next: i64, length: i64) -> Block {
    Block {
        start: last + length,
        end: next,
        actual_end: None,
        first: last + length,
        active: false,
        gap: true,
        entries: 0,
        tokens: Tokens::default(),
        cost: 0.0,
        models: Vec::new(),
    }
}

impl Block {
    /// A window opened by a request at `first`: from its hour, `length` long, still empty.
    fn opening(first: i64, length: i64) -> Block {
        Block {
            start: floor_hour(first),
            end: floor_hour(first) + length,
            actual_end: None,
            first,
            active: false,
            gap: false,
            entries: 0,
            tokens: Tokens::default(),
            cost: 0.0,
            models: Vec::new(),
        }
    }

    /// Count `entries` requests (the last of them at `last`) with these tokens and cost.
    fn count(&mut self, last: i64, entries: u64, tokens: &Tokens, cost: f64) {
        self.actual_end = Some(last);
        self.entries += entries;
        self.tokens.input += tokens.input;
        self.tokens.output += tokens.output;
        self.tokens.cache_write += tokens.cache_write;
        self.tokens.cache_read += tokens.cache_read;
        self.cost += cost;
    }

    /// The burn rate between its first and last request; `None` for a gap, or when those two
    /// are at the same time.
    pub fn burn_rate(&self) -> Option<BurnRate> {
        if self.gap || self.entries == 0 {
            return None;
        }
        let minutes = (self.actual_end? - self.first) as f64 / MINUTE_MS as f64;
        if minutes <= 0.0 {
            return None;
        }
        Some(BurnRate {
            tokens_per_minute: self.tokens.total() as f64 / minutes,
            tokens_per_minute_for_indicator: (self.tokens.input + self.tokens.output) as f64
                / minutes,
            cost_per_hour: self.cost / minutes * 60.0,
        })
    }

    /// Where the window ends up at its burn rate, seen at `now` (epoch ms); `None` unless it is
    /// active and has a burn rate.
    pub fn projection(&self, now: i64) -> Option<Projection> {
        if !self.active || self.gap {
            return None;
        }
        let burn = self.burn_rate()?;
        let remaining = ((self.end - now) as f64 / MINUTE_MS as f64).round();
        let tokens = self.tokens.total() as f64 + burn.tokens_per_minute * remaining;
        let cost = self.cost + burn.cost_per_hour / 60.0 * remaining;
        Some(Projection {
            total_tokens: tokens.round() as u64,
            total_cost: (cost * 100.0).round() / 100.0,
            remaining_minutes: remaining.max(0.0) as u64,
        })
    }

    /// The share of `limit` tokens the window has used, in percent.
    pub fn percent_of(&self, limit: u64) -> f64 {
        if limit == 0 {
            return 0.0;
        }
        self.tokens.total() as f64 / limit as f64 * 100.0
    }

    /// ccusage's `blocks --json` entry; `limit`: the token limit asked for.
    pub fn to_json(&self, now: i64, limit: Option<u64>) -> Value {
        let stamp = |ts: i64| {
            Utc.timestamp_millis_opt(ts)
                .single()
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        };
        let burn = if self.active { self.burn_rate() } else { None };
        let projection = self.projection(now);
        let id = if self.gap {
            format!("gap-{}", stamp(self.start))
        } else {
            stamp(self.start)
        };
        let mut v = json!({
            "id": id,
            "startTime": stamp(self.start),
            "endTime": stamp(self.end),
            "actualEndTime": self.actual_end.map(stamp),
            "isActive": self.active,
            "isGap": self.gap,
            "entries": self.entries,
            "tokenCounts": {
                "inputTokens": self.tokens.input,
                "outputTokens": self.tokens.output,
                "cacheCreationInputTokens": self.tokens.cache_write,
                "cacheReadInputTokens": self.tokens.cache_read,
            },
            "totalTokens": self.tokens.total(),
            "costUSD": self.cost,
            "models": self.models,
            "burnRate": burn.map(|b| json!({
                "tokensPerMinute": b.tokens_per_minute,
                "tokensPerMinuteForIndicator": b.tokens_per_minute_for_indicator,
                "costPerHour": b.cost_per_hour,
            })),
            "projection": projection.map(|p| json!({
                "totalTokens": p.total_tokens,
                "totalCost": p.total_cost,
                "remainingMinutes": p.remaining_minutes,
            })),
        });
        if let (Some(limit), Some(p)) = (limit, projection) {
            let status = if p.total_tokens > limit {
                "exceeds"
            } else if p.total_tokens as f64 > limit as f64 * WARNING_SHARE {
                "warning"
            } else {
                "ok"
            };
            v["tokenLimitStatus"] = json!({
                "limit": limit,
                "projectedUsage": p.total_tokens,
                "percentUsed": p.total_tokens as f64 / limit as f64 * 100.0,
                "status": status,
            });
        }
        v
    }
}

/// The largest number of tokens a finished window used (ccusage's `--token-limit max`).
pub fn max_tokens(blocks: &[Block]) -> u64 {
    blocks
        .iter()
        .filter(|b| !b.gap && !b.active)
        .map(|b| b.tokens.total())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: i64, output: u64, model: &str) -> Request {
        Request {
            ts,
            model: model.into(),
            tokens: Tokens {
                output,
                ..Tokens::default()
            },
            cost: output as f64 / 1000.0,
        }
    }

    const H: i64 = HOUR_MS;

    #[test]
    fn a_window_starts_at_the_hour_and_a_long_silence_leaves_a_gap() {
        let base = 1_800_000_000_000 - 1_800_000_000_000 % H;
        let requests = [
            at(base + 10 * MINUTE_MS, 10, "a"),
            at(base + 2 * H, 20, "b"),
            // Exactly five hours after the window's start: still in it.
            at(base + 5 * H, 5, "a"),
            // Past the window's end: a new window, from its own hour.
            at(base + 5 * H + 1, 7, "c"),
            // More than five hours of silence: a gap, then a window.
            at(base + 11 * H + 30 * MINUTE_MS, 1, "a"),
        ];
        let b = blocks(&requests, base + 100 * H, WINDOW_MS);
        let starts: Vec<i64> = b.iter().map(|b| b.start - base).collect();
        assert_eq!(starts, [0, 5 * H, 5 * H + 1 + WINDOW_MS, 11 * H], "{b:#?}");
        assert_eq!(b[0].entries, 3);
        assert_eq!(b[0].models, ["a", "b"]);
        assert!(b[2].gap && b[2].end == base + 11 * H + 30 * MINUTE_MS);
        assert!(b.iter().all(|b| !b.active));
    }

    #[test]
    fn the_latest_window_is_active_with_a_burn_rate_and_a_projection() {
        let base = 1_800_000_000_000 - 1_800_000_000_000 % H;
        let requests = [at(base, 600, "a"), at(base + 60 * MINUTE_MS, 600, "a")];
        let now = base + 2 * H;
        let b = blocks(&requests, now, WINDOW_MS);
        assert_eq!(b.len(), 1);
        assert!(b[0].active);
        let burn = b[0].burn_rate().unwrap();
        assert_eq!(burn.tokens_per_minute, 20.0);
        let p = b[0].projection(now).unwrap();
        assert_eq!(p.remaining_minutes, 180);
        assert_eq!(p.total_tokens, 1200 + 20 * 180);
        // Five hours after its last request a window is no longer active.
        let later = blocks(&requests, base + 60 * MINUTE_MS + WINDOW_MS, WINDOW_MS);
        assert!(!later[0].active);
    }

    #[test]
    fn the_rollups_do_not_guess_over_a_clock_ahead_or_a_partial_history() {
        let row = |ts: i64| AggRow {
            source: Source::Claude,
            bucket: ts.div_euclid(BUCKET_MS),
            session: "s".into(),
            model: "m".into(),
            tokens: Tokens {
                output: 10,
                ..Tokens::default()
            },
            cost: Cost(0),
            requests: 1,
            last_ts: ts,
        };
        let now = 100 * HOUR_MS;
        // A request after `now`: several windows would look active.
        assert_eq!(
            active_from_rollups(&[row(now + 60_000)], now, WINDOW_MS, true),
            None
        );
        // The last hours only, with no silence in them: the chain may reach further back.
        let busy: Vec<AggRow> = (0..8).map(|i| row(now - i * 1_800_000)).collect();
        assert_eq!(active_from_rollups(&busy, now, WINDOW_MS, false), None);
        let whole = active_from_rollups(&busy, now, WINDOW_MS, true).expect("told");
        assert_eq!(whole.map(|b| (b.entries, b.tokens.output)), Some((8, 80)));
        // Nothing in the last hours and nothing known before: no window.
        assert_eq!(active_from_rollups(&[], now, WINDOW_MS, true), Some(None));
        assert_eq!(active_from_rollups(&[], now, WINDOW_MS, false), None);
    }
}
