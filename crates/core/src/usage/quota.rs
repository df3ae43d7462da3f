//! Each brain's rate-limit windows: how full they are, when they reset, and whether a task
//! should stay away from the brain until then.
//!
//! * Codex: the real numbers, from the last `rate_limits` snapshot its logs carry (`primary` is
//!   the 5-hour window, `secondary` the weekly one); a window whose reset time has passed counts
//!   as empty again.
//! * Claude: its active 5-hour window (see [`super::blocks`]) against
//!   `[usage.quota] claude_window_tokens` when set.
//! * Any brain: a limit one of its runs hit (a 429 / "usage limit reached"), until the reset the
//!   error named ([`Ledger::mark_limited`]).
//!
//! Pure but for reading the ledger; alerts are events the caller emits.

use chrono::{TimeZone, Utc};
use serde::Serialize;
use serde_json::json;

use super::blocks::{self, WINDOW_MS};
use super::config::QuotaConfig;
use super::ledger::{Ledger, LedgerError};
use super::parse::LimitWindow;
use super::source::Source;
use crate::alerts::{Alert, AlertKind};

/// One window of one brain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// `5h` or `weekly`.
    pub name: &'static str,
    /// 0-100; `None` when no limit is known (a Claude window without `claude_window_tokens`).
    pub used_percent: Option<f64>,
    /// Tokens the ledger counted in the window; `None` for Codex's windows (Codex logs only the
    /// share used).
    pub tokens: Option<u64>,
    /// When the window resets, `YYYY-MM-DDTHH:MM:SSZ`; `None` when unknown or already past.
    pub resets_at: Option<String>,
    /// The same reset, epoch milliseconds.
    #[serde(skip)]
    pub resets_at_ms: Option<i64>,
    /// Where the figure comes from.
    pub from: &'static str,
}

/// One brain's windows and what they mean for the router.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrainQuota {
    /// The brain: `claude`, `codex` or `openclaw`.
    pub brain: &'static str,
    /// Its windows: Claude's 5-hour one; Codex's as last logged (none before any); none for
    /// OpenClaw.
    pub windows: Vec<Window>,
    /// 100 minus the fullest window's share (`None`: nothing known).
    pub headroom_percent: Option<f64>,
    /// Why tasks should go elsewhere until the window resets, if they should.
    pub limited: Option<String>,
    /// When `limited` ends, `YYYY-MM-DDTHH:MM:SSZ`; `None` when not limited or the end is unknown.
    pub limited_until: Option<String>,
}

/// A time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn stamp(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn short_time(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .with_timezone(&chrono::Local)
        .format("%H:%M")
        .to_string()
}

fn codex_window(name: &'static str, w: &LimitWindow, now: i64) -> Window {
    // Past its reset the window starts empty again.
    let reset_passed = w.resets_at_ms.is_some_and(|r| r <= now);
    Window {
        name,
        used_percent: Some(if reset_passed { 0.0 } else { w.used_percent }),
        tokens: None,
        resets_at: w.resets_at_ms.filter(|_| !reset_passed).map(stamp),
        resets_at_ms: w.resets_at_ms.filter(|_| !reset_passed),
        from: "codex rate_limits",
    }
}

/// Every brain's windows at `now` (epoch ms). Claude's window is worked out (from every Claude
/// request in the ledger) only when a limit is set or `detail` asks for it.
pub fn quota(
    ledger: &Ledger,
    config: &QuotaConfig,
    now: i64,
    detail: bool,
) -> Result<Vec<BrainQuota>, LedgerError> {
    let marks = ledger.limits()?;
    let mut out = Vec::new();
    // Claude: the active window.
    let active = if detail || config.claude_window_tokens.is_some() {
        // The last two days' rollups tell in nearly every case (a night's sleep restarts the
        // chain of windows); else the whole history's; else every stored request.
        let recent = ledger.rows_since(Some(Source::Claude), now - 2 * 24 * 3_600_000)?;
        let fast = blocks::active_from_rollups(&recent, now, WINDOW_MS, false).or_else(|| {
            ledger
                .rows(Some(Source::Claude))
                .ok()
                .and_then(|all| blocks::active_from_rollups(&all, now, WINDOW_MS, true))
        });
        match fast {
            Some(active) => active,
            None => blocks::blocks(&ledger.requests(Source::Claude)?, now, WINDOW_MS)
                .into_iter()
                .find(|b| b.active),
        }
    } else {
        None
    };
    let claude_window = Window {
        name: "5h",
        used_percent: config
            .claude_window_tokens
            .map(|limit| active.as_ref().map_or(0.0, |b| b.percent_of(limit))),
        tokens: Some(active.as_ref().map_or(0, |b| b.tokens.total())),
        resets_at: active.as_ref().map(|b| stamp(b.end)),
        resets_at_ms: active.as_ref().map(|b| b.end),
        from: "claude 5-hour window",
    };
    out.push(brain_quota(
        "claude",
        vec![claude_window],
        &marks,
        config,
        now,
    ));
    // Codex: its own numbers.
    let mut windows = Vec::new();
    if let Some(limits) = ledger.codex_rate_limits()? {
        if let Some(w) = &limits.primary {
            windows.push(codex_window("5h", w, now));
        }
        if let Some(w) = &limits.secondary {
            windows.push(codex_window("weekly", w, now));
        }
    }
    out.push(brain_quota("codex", windows, &marks, config, now));
    out.push(brain_quota("openclaw", Vec::new(), &marks, config, now));
    Ok(out)
}

fn brain_quota(
    brain: &'static str,
    windows: Vec<Window>,
    marks: &[(String, i64, String)],
    config: &QuotaConfig,
    now: i64,
) -> BrainQuota {
    let fullest = windows
        .iter()
        .filter_map(|w| w.used_percent.map(|p| (p, w)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let headroom_percent = fullest.map(|(p, _)| (100.0 - p).max(0.0));
    let mut limited = None;
    let mut until = None;
    if let Some((_, at, why)) = marks.iter().find(|(b, at, _)| b == brain && *at > now) {
        limited = Some(format!("{why}, until {}", short_time(*at)));
        until = Some(*at);
    } else if let Some((p, w)) = fullest
        && p >= config.avoid_percent
    {
        let resets = w
            .resets_at_ms
            .map(|r| format!(", resets {}", short_time(r)))
            .unwrap_or_default();
        limited = Some(format!("{} window {p:.0}% used{resets}", w.name));
        until = w.resets_at_ms;
    }
    BrainQuota {
        brain,
        windows,
        headroom_percent,
        limited,
        limited_until: until.map(stamp),
    }
}

/// How long a limit a run hit lasts when its error names no reset.
pub const UNNAMED_RESET_MS: i64 = 15 * 60_000;

/// The reset a rate-limit error names, in epoch ms: Claude Code's `usage limit reached|EPOCH`,
/// an RFC 3339 time after "reset", or "retry after / try again in N seconds|minutes|hours".
pub fn reset_named(message: &str, now: i64) -> Option<i64> {
    // `…|1767225600`: epoch seconds after a bar.
    if let Some((_, tail)) = message.rsplit_once('|') {
        let digits: String = tail
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if (9..=11).contains(&digits.len())
            && let Ok(secs) = digits.parse::<i64>()
        {
            return Some(secs * 1000);
        }
    }
    let lower = message.to_lowercase();
    if let Some(at) = lower.find("reset") {
        for word in message[at..].split_whitespace().skip(1).take(3) {
            let word =
                word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != ':' && c != '-');
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(word) {
                return Some(t.timestamp_millis());
            }
        }
    }
    for phrase in ["retry after", "try again in", "retry in"] {
        let Some(at) = lower.find(phrase) else {
            continue;
        };
        let mut words = lower[at + phrase.len()..].split_whitespace();
        let n: f64 = words.next()?.parse().ok()?;
        let unit = words.next().unwrap_or("seconds");
        let ms = if unit.starts_with("hour") {
            3_600_000.0
        } else if unit.starts_with("min") {
            60_000.0
        } else {
            1000.0
        };
        return Some(now + (n * ms) as i64);
    }
    None
}

/// Quota alerts not raised yet: one per window, threshold and reset (keys for
/// [`Ledger::mark_alert`]).
pub fn alerts(quotas: &[BrainQuota], config: &QuotaConfig) -> Vec<(String, Alert)> {
    let mut out = Vec::new();
    for q in quotas {
        for w in &q.windows {
            let Some(p) = w.used_percent else { continue };
            let Some(threshold) = config
                .alert_percent
                .iter()
                .copied()
                .filter(|t| p >= *t)
                .max_by(f64::total_cmp)
            else {
                continue;
            };
            let resets = w
                .resets_at_ms
                .map(|r| format!(", resets {}", short_time(r)))
                .unwrap_or_default();
            let message = format!("{} {} window {p:.0}% used{resets}", q.brain, w.name);
            // The alerts module's kinds for a limit running out (budget ones: a window is a
            // budget of tokens the plan sets).
            let kind = if threshold >= config.avoid_percent {
                AlertKind::BudgetExceeded
            } else {
                AlertKind::BudgetWarning
            };
            let key = format!(
                "quota:{}:{}:{}:{threshold}",
                q.brain,
                w.name,
                w.resets_at_ms.unwrap_or_default()
            );
            let mut alert = Alert::new(format!("quota:{}", q.brain), kind, message, "budgets");
            if let serde_json::Value::Object(details) = json!({
                "scope": q.brain,
                "window": w.name,
                "percent": p,
                "threshold": threshold,
                "resets_at": w.resets_at,
            }) {
                alert.details = details;
            }
            out.push((key, alert));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_error_names_its_reset_in_the_forms_brains_use() {
        let now = 1_800_000_000_000;
        assert_eq!(
            reset_named("Claude AI usage limit reached|1800003600", now),
            Some(1_800_003_600_000)
        );
        assert_eq!(
            reset_named("rate limited; resets at 2027-01-15T10:00:00Z.", now),
            Some(
                chrono::DateTime::parse_from_rfc3339("2027-01-15T10:00:00Z")
                    .unwrap()
                    .timestamp_millis()
            )
        );
        assert_eq!(
            reset_named("429: please try again in 20 minutes", now),
            Some(now + 1_200_000)
        );
        assert_eq!(
            reset_named("Retry after 30 seconds", now),
            Some(now + 30_000)
        );
        assert_eq!(reset_named("429 Too Many Requests", now), None);
        assert_eq!(reset_named("usage limit reached|soon", now), None);
    }
}
