//! `paios statusline`: the one line Claude Code shows under its prompt — today's cost, the
//! active 5-hour window's use and reset, and the current brain's headroom.
//!
//! Claude Code runs the status line command often (after each message), with a JSON object on
//! stdin (`session_id`, `model.{id,display_name}`, `workspace.{current_dir,project_dir}`,
//! `cost.total_cost_usd`, and for subscribers `rate_limits.five_hour.{used_percentage,
//! resets_at}`, …). [`Input::parse`] takes what it can from it and ignores the rest: a field
//! missing, of another type, or input that is not JSON at all only leaves that fact unknown.
//!
//! Owns: reading the ledger as it stands ([`super::Ledger::open_warm`]) and turning it, with
//! the input, into [`Facts`]. Never reads the brains' logs and never waits for an ingest: the
//! daemon keeps the ledger fresh, and a status line that blocked would hold up Claude Code.
//! When there is no ledger yet, the line says so and shows what the input alone tells.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::ledger::{Ledger, LedgerError, Source};
use super::quota;
use super::report::{self, Zone};
use crate::config::Config;

/// What Claude Code's status line input says that the line uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    /// `session_id`: the Claude Code session the line is drawn for.
    pub session_id: Option<String>,
    /// `model.display_name`, else `model.id`.
    pub model: Option<String>,
    /// `cost.total_cost_usd`: this session's cost as Claude Code counts it.
    pub session_cost_usd: Option<f64>,
    /// `rate_limits.five_hour.used_percentage` (0-100), for subscribers.
    pub five_hour_used: Option<f64>,
    /// `rate_limits.five_hour.resets_at` (epoch seconds, or RFC 3339), as epoch ms.
    pub five_hour_resets_ms: Option<i64>,
}

impl Input {
    /// Read the input; anything it cannot make out is left unknown (never an error).
    pub fn parse(bytes: &[u8]) -> Input {
        let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
            return Input::default();
        };
        let text = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let number = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_f64)
                .filter(|n| n.is_finite())
        };
        let resets = v
            .pointer("/rate_limits/five_hour/resets_at")
            .and_then(|r| match r {
                Value::Number(n) => n.as_f64().filter(|s| s.is_finite() && *s > 0.0).map(|s| {
                    // Seconds, as Claude Code passes them; a value already in ms is taken as is.
                    if s < 1e11 { s * 1000.0 } else { s }
                }),
                Value::String(s) => super::parse::parse_ts(s).map(|ms| ms as f64),
                _ => None,
            })
            .map(|ms| ms as i64);
        Input {
            session_id: text("/session_id"),
            model: text("/model/display_name").or_else(|| text("/model/id")),
            session_cost_usd: number("/cost/total_cost_usd").filter(|c| *c >= 0.0),
            five_hour_used: number("/rate_limits/five_hour/used_percentage")
                .map(|p| p.clamp(0.0, 100.0)),
            five_hour_resets_ms: resets,
        }
    }
}

/// The active 5-hour window, as the line shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowFacts {
    /// 0-100, when a limit is known (Claude Code's own figure, or `claude_window_tokens`).
    pub used_percent: Option<f64>,
    /// Tokens the ledger counted in the window.
    pub tokens: Option<u64>,
    /// When the window resets, `YYYY-MM-DDTHH:MM:SSZ`; `None` when unknown.
    pub resets_at: Option<String>,
    /// The same reset, epoch milliseconds.
    #[serde(skip)]
    pub resets_at_ms: Option<i64>,
    /// Where the figure comes from: `claude code` (its input) or `ledger`.
    pub from: &'static str,
}

/// Everything the status line says, for `--json` and for the line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    /// The ledger was there to read (figures from it are as of its last ingest).
    pub warm: bool,
    /// The brain the line is for (Claude Code's).
    pub brain: &'static str,
    /// The model, as Claude Code names it in its input.
    pub model: Option<String>,
    /// The Claude Code session, from its input.
    pub session_id: Option<String>,
    /// This session's cost, as Claude Code counts it.
    pub session_cost_usd: Option<f64>,
    /// Every brain's cost today (local day), from the ledger.
    pub today_cost_usd: Option<f64>,
    /// The active 5-hour window; `None` when nothing is known of it.
    pub window: Option<WindowFacts>,
    /// 100 minus the fullest window's share, when it is known.
    pub headroom_percent: Option<f64>,
    /// Why tasks go elsewhere until a reset, if they do.
    pub limited: Option<String>,
}

/// The facts for `input` at `now` (epoch ms), from the ledger in `cache_dir` as it stands.
pub fn facts(
    cache_dir: &Path,
    config: &Config,
    input: &Input,
    now: i64,
) -> Result<Facts, LedgerError> {
    let mut facts = Facts {
        warm: false,
        brain: Source::Claude.name(),
        model: input.model.clone(),
        session_id: input.session_id.clone(),
        session_cost_usd: input.session_cost_usd,
        today_cost_usd: None,
        window: None,
        headroom_percent: None,
        limited: None,
    };
    if let Some(ledger) = Ledger::open_warm(cache_dir)? {
        facts.warm = true;
        let zone = Zone::Local;
        // Today's cost needs only the last two days' rows, whatever the time zone.
        let recent = ledger.rows_since(None, now - 2 * 24 * 3_600_000)?;
        let spend = report::spend(&recent, zone, zone.today());
        facts.today_cost_usd = Some(report::SpendSummary::total(&spend.today));
        let brains = quota::quota(&ledger, &config.usage.quota, now, true)?;
        if let Some(claude) = brains.into_iter().find(|b| b.brain == facts.brain) {
            if let Some(w) = claude.windows.iter().find(|w| w.name == "5h") {
                facts.window = Some(WindowFacts {
                    used_percent: w.used_percent,
                    tokens: w.tokens,
                    resets_at: w.resets_at.clone(),
                    resets_at_ms: w.resets_at_ms,
                    from: "ledger",
                });
            }
            facts.headroom_percent = claude.headroom_percent;
            facts.limited = claude.limited;
        }
    }
    // Claude Code's own numbers, when it passes them, are the plan's real window.
    if let Some(used) = input.five_hour_used {
        let tokens = facts.window.as_ref().and_then(|w| w.tokens);
        let resets = input
            .five_hour_resets_ms
            .filter(|r| *r > now)
            .or_else(|| facts.window.as_ref().and_then(|w| w.resets_at_ms));
        facts.window = Some(WindowFacts {
            used_percent: Some(used),
            tokens,
            resets_at: resets.map(quota::stamp),
            resets_at_ms: resets,
            from: "claude code",
        });
        let headroom = 100.0 - used;
        facts.headroom_percent = Some(facts.headroom_percent.map_or(headroom, |h| h.min(headroom)));
    }
    Ok(facts)
}

/// The one line: `$4.20 today · 5h 37% (1.2M tok) resets 16:40 · claude headroom 63%`.
pub fn line(facts: &Facts) -> String {
    let mut parts = Vec::new();
    match (facts.today_cost_usd, facts.session_cost_usd) {
        (Some(today), Some(session)) => {
            parts.push(format!("${today:.2} today (session ${session:.2})"))
        }
        (Some(today), None) => parts.push(format!("${today:.2} today")),
        (None, Some(session)) => parts.push(format!("session ${session:.2}")),
        (None, None) => {}
    }
    if let Some(w) = &facts.window {
        let mut window = "5h".to_string();
        if let Some(p) = w.used_percent {
            window.push_str(&format!(" {p:.0}%"));
        }
        if let Some(t) = w.tokens.filter(|t| *t > 0) {
            window.push_str(&format!(" ({} tok)", short_count(t)));
        }
        match w.resets_at_ms {
            Some(r) => window.push_str(&format!(" resets {}", Zone::Local.format_hm(r))),
            None if w.used_percent.is_none() && w.tokens.is_none_or(|t| t == 0) => {
                window.push_str(" idle")
            }
            None => {}
        }
        parts.push(window);
    }
    if let Some(h) = facts.headroom_percent {
        parts.push(format!("{} headroom {h:.0}%", facts.brain));
    }
    if let Some(why) = &facts.limited {
        parts.push(format!("limited: {why}"));
    }
    if !facts.warm {
        parts.push("no usage ledger yet (run paios usage daily)".into());
    }
    parts.join(" · ")
}

/// `1234` → `1.2k`, `3_400_000` → `3.4M`.
fn short_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_gives_what_it_has_and_garbage_gives_nothing() {
        let full = br#"{"session_id":"abc","model":{"id":"claude-opus-4-5","display_name":"Opus"},"workspace":{"current_dir":"/w"},"cost":{"total_cost_usd":1.25},"rate_limits":{"five_hour":{"used_percentage":42.5,"resets_at":1790000000}}}"#;
        let input = Input::parse(full);
        assert_eq!(input.session_id.as_deref(), Some("abc"));
        assert_eq!(input.model.as_deref(), Some("Opus"));
        assert_eq!(input.session_cost_usd, Some(1.25));
        assert_eq!(input.five_hour_used, Some(42.5));
        assert_eq!(input.five_hour_resets_ms, Some(1_790_000_000_000));
        let odd = br#"{"session_id":5,"model":"x","cost":{"total_cost_usd":"1"},"rate_limits":{"five_hour":{"used_percentage":500,"resets_at":"2026-11-01T10:00:00Z"}}}"#;
        let input = Input::parse(odd);
        assert_eq!(
            (input.session_id, input.model, input.session_cost_usd),
            (None, None, None)
        );
        assert_eq!(input.five_hour_used, Some(100.0));
        assert!(input.five_hour_resets_ms.is_some());
        for garbage in [
            &b""[..],
            b"not json",
            b"{\"session_id\":",
            b"[1,2]",
            b"\xff\xfe",
        ] {
            assert_eq!(Input::parse(garbage), Input::default());
        }
    }

    #[test]
    fn without_a_ledger_the_line_says_so_and_shows_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let input = Input {
            session_cost_usd: Some(0.5),
            five_hour_used: Some(30.0),
            ..Default::default()
        };
        let facts = facts(dir.path(), &Config::default(), &input, 0).unwrap();
        assert!(!facts.warm);
        assert_eq!(facts.headroom_percent, Some(70.0));
        let line = line(&facts);
        assert!(line.contains("session $0.50"), "{line}");
        assert!(line.contains("5h 30%"), "{line}");
        assert!(line.contains("no usage ledger yet"), "{line}");
        assert!(!dir.path().join("usage.db").exists(), "nothing was created");
    }
}
