//! Budgets: daily and monthly USD limits, overall and per brain, and the alerts they raise.
//!
//! [`BudgetState`] says, per brain, whether it is over budget (its own limit or the overall
//! one); the router uses it to skip such brains. [`alerts`] turns a state into `alert.raised`
//! events at the warning share and at 100% of each limit; each threshold alerts once per
//! period (the ledger remembers what it raised).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use super::config::BudgetsConfig;
use super::report::SpendSummary;
use super::source::Source;
use crate::alerts::{Alert, AlertKind};

/// Spend against the limits of one scope (a brain, or all brains together).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScopeState {
    /// Spent on the day the state is for, in USD.
    pub today_usd: f64,
    /// Spent in that day's calendar month, in USD.
    pub month_usd: f64,
    /// The daily limit in USD; `None`: no limit.
    pub daily_limit_usd: Option<f64>,
    /// The monthly limit in USD; `None`: no limit.
    pub monthly_limit_usd: Option<f64>,
    /// At or above a limit.
    pub over: bool,
}

impl ScopeState {
    fn new(today: f64, month: f64, daily: Option<f64>, monthly: Option<f64>) -> ScopeState {
        let over = daily.is_some_and(|l| today >= l) || monthly.is_some_and(|l| month >= l);
        ScopeState {
            today_usd: today,
            month_usd: month,
            daily_limit_usd: daily,
            monthly_limit_usd: monthly,
            over,
        }
    }
}

/// Budgets as they stand now.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BudgetState {
    /// The local date the "today" figures are for.
    pub date: String,
    /// All brains together against the overall limits.
    pub overall: ScopeState,
    /// `claude`, `codex`, `openclaw`.
    pub brains: BTreeMap<String, ScopeState>,
}

impl BudgetState {
    /// Whether `brain` must not be used: over its own budget or over the overall one.
    pub fn is_over(&self, brain: &str) -> bool {
        self.overall.over || self.brains.get(brain).is_some_and(|s| s.over)
    }

    /// Why `brain` is over budget (for the router's explanation), or `None`.
    pub fn reason(&self, brain: &str) -> Option<String> {
        let scopes = [
            (brain, self.brains.get(brain)),
            ("all brains", Some(&self.overall)),
        ];
        scopes.into_iter().find_map(|(label, scope)| {
            let s = scope?;
            if let Some(l) = s.daily_limit_usd.filter(|l| s.today_usd >= *l) {
                return Some(format!(
                    "{label}: ${:.2} of the ${l:.2} daily budget spent",
                    s.today_usd
                ));
            }
            s.monthly_limit_usd.filter(|l| s.month_usd >= *l).map(|l| {
                format!(
                    "{label}: ${:.2} of the ${l:.2} monthly budget spent",
                    s.month_usd
                )
            })
        })
    }
}

/// The budgets on `day`: the spend of each brain and of all together against `config`'s limits.
pub fn compute(spend: &SpendSummary, config: &BudgetsConfig, day: NaiveDate) -> BudgetState {
    let mut brains = BTreeMap::new();
    for source in Source::ALL {
        let limits = match source {
            Source::Claude => &config.claude,
            Source::Codex => &config.codex,
            Source::OpenClaw => &config.openclaw,
        };
        brains.insert(
            source.name().to_string(),
            ScopeState::new(
                spend.today.get(&source).copied().unwrap_or(0.0),
                spend.month.get(&source).copied().unwrap_or(0.0),
                limits.daily_usd,
                limits.monthly_usd,
            ),
        );
    }
    BudgetState {
        date: day.format("%Y-%m-%d").to_string(),
        overall: ScopeState::new(
            SpendSummary::total(&spend.today),
            SpendSummary::total(&spend.month),
            config.daily_usd,
            config.monthly_usd,
        ),
        brains,
    }
}

/// Alerts due for `state`: (dedupe key, event). The key names scope, period, period start and
/// threshold, so each alerts once per day or month.
pub fn alerts(state: &BudgetState, config: &BudgetsConfig) -> Vec<(String, Alert)> {
    let mut out = Vec::new();
    let month = state.date.get(..7).unwrap_or(&state.date).to_string();
    let scopes = std::iter::once(("all brains".to_string(), "all", &state.overall)).chain(
        state
            .brains
            .iter()
            .map(|(name, s)| (name.clone(), name.as_str(), s)),
    );
    for (label, id, scope) in scopes {
        for (period, period_key, spent, limit) in [
            ("daily", &state.date, scope.today_usd, scope.daily_limit_usd),
            ("monthly", &month, scope.month_usd, scope.monthly_limit_usd),
        ] {
            let Some(limit) = limit else { continue };
            let percent = if limit > 0.0 {
                spent / limit * 100.0
            } else {
                100.0
            };
            // The warning's threshold is below 100 whatever `warn_percent` (< 100) is, so a
            // warning never passes for the exceeded alert nor takes its key.
            let threshold = if percent >= 100.0 {
                100
            } else if percent >= config.warn_percent {
                (config.warn_percent.floor() as u32).min(99)
            } else {
                continue;
            };
            let kind = if threshold >= 100 {
                AlertKind::BudgetExceeded
            } else {
                AlertKind::BudgetWarning
            };
            let message = if threshold >= 100 {
                format!(
                    "{label}: {period} budget exceeded: ${spent:.2} of ${limit:.2} ({percent:.0}%)"
                )
            } else {
                format!(
                    "{label}: {percent:.0}% of the {period} budget used: ${spent:.2} of ${limit:.2}"
                )
            };
            let key = format!("budget:{id}:{period}:{period_key}:{threshold}");
            let mut alert = Alert::new(format!("budget:{id}"), kind, message, "budgets");
            if let serde_json::Value::Object(details) = json!({
                "scope": id,
                "period": period,
                "period_start": period_key,
                "spent_usd": spent,
                "limit_usd": limit,
                "percent": percent,
                "threshold": threshold,
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
    use crate::alerts::Severity;

    fn spend(claude_today: f64, claude_month: f64) -> SpendSummary {
        let mut s = SpendSummary::default();
        s.today.insert(Source::Claude, claude_today);
        s.month.insert(Source::Claude, claude_month);
        s
    }

    #[test]
    fn a_brain_over_its_daily_limit_is_over_and_alerts_critical() {
        let mut config = BudgetsConfig::default();
        config.claude.daily_usd = Some(1.0);
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let state = compute(&spend(1.5, 1.5), &config, day);
        assert!(state.is_over("claude"));
        assert!(!state.is_over("codex"));
        assert_eq!(
            state.reason("claude").as_deref(),
            Some("claude: $1.50 of the $1.00 daily budget spent")
        );
        assert_eq!(state.reason("codex"), None);
        let alerts = alerts(&state, &config);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].0, "budget:claude:daily:2026-11-01:100");
        assert_eq!(alerts[0].1.severity, Severity::Critical);
        assert_eq!(alerts[0].1.runbook, "budgets");
    }

    #[test]
    fn eighty_percent_warns_without_being_over() {
        let config = BudgetsConfig {
            monthly_usd: Some(10.0),
            ..Default::default()
        };
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let state = compute(&spend(0.0, 8.5), &config, day);
        assert!(!state.is_over("claude"));
        let alerts = alerts(&state, &config);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].0, "budget:all:monthly:2026-11:80");
        assert_eq!(alerts[0].1.severity, Severity::Warning);
    }

    #[test]
    fn a_warning_just_under_100_percent_is_a_warning_and_the_limit_still_alerts() {
        let mut config = BudgetsConfig {
            warn_percent: 99.6,
            ..Default::default()
        };
        config.claude.daily_usd = Some(10.0);
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let warned = alerts(&compute(&spend(9.97, 9.97), &config, day), &config);
        assert_eq!(warned.len(), 1);
        assert_eq!(warned[0].1.severity, Severity::Warning);
        let over = alerts(&compute(&spend(10.5, 10.5), &config, day), &config);
        assert_eq!(over[0].1.severity, Severity::Critical);
        assert_ne!(warned[0].0, over[0].0, "the two alerts need their own keys");
    }
}
