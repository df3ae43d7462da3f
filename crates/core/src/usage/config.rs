//! `[usage]` and `[budgets]` sections of paios.toml.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[usage]`: where the logs are and how prices are adjusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageConfig {
    /// Claude Code's config folder (its logs are in `projects/`). Default: `$CLAUDE_CONFIG_DIR`,
    /// else `~/.claude`.
    pub claude_dir: Option<String>,
    /// Codex's home (its logs are in `sessions/`). Default: `$CODEX_HOME`, else `~/.codex`.
    pub codex_dir: Option<String>,
    /// OpenClaw's state folder (its session files are under it, in `agents/<agent>/sessions/`).
    /// Default: `$OPENCLAW_DIR` (commas separate several), else `$OPENCLAW_STATE_DIR` and
    /// `~/.openclaw`, `~/.clawdbot`, `~/.moltbot`, `~/.moldbot`.
    pub openclaw_dir: Option<String>,
    /// The daemon re-reads the logs this long after the last change it saw.
    pub debounce_ms: u64,
    /// Price overrides in USD per million tokens, by model name:
    /// `[usage.prices."claude-sonnet-4-5"] input = 3.0`.
    pub prices: BTreeMap<String, PriceOverride>,
    /// `[usage.quota]`: the brains' rate-limit windows.
    pub quota: QuotaConfig,
}

/// `[usage.quota]`: when a brain's window counts as full, and when to say so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaConfig {
    /// Tokens Claude may use in a 5-hour window (the plan's limit is not in its logs; unset:
    /// Claude's windows are shown without a share, and only a limit its runs hit counts).
    pub claude_window_tokens: Option<u64>,
    /// A window at least this full (percent) keeps tasks away from its brain until it resets.
    pub avoid_percent: f64,
    /// Alerts are raised as a window passes each of these (percent).
    pub alert_percent: Vec<f64>,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            claude_window_tokens: None,
            avoid_percent: 95.0,
            alert_percent: vec![85.0, 95.0],
        }
    }
}

/// The highest price accepted, in USD per million tokens (today's dearest models cost $150).
pub const MAX_PRICE: f64 = 1_000_000.0;

/// The range of `[usage] debounce_ms`: quicker re-reads a burst of writes many times; slower
/// leaves the panel's costs behind.
pub const MIN_DEBOUNCE_MS: u64 = 50;
/// The slowest `[usage] debounce_ms` accepted: one minute.
pub const MAX_DEBOUNCE_MS: u64 = 60_000;

impl UsageConfig {
    /// Checks serde cannot express. Returns (key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(MIN_DEBOUNCE_MS..=MAX_DEBOUNCE_MS).contains(&self.debounce_ms) {
            return Err((
                "usage.debounce_ms".into(),
                format!(
                    "the logs are read {MIN_DEBOUNCE_MS} to {MAX_DEBOUNCE_MS} ms after they change, not {}",
                    self.debounce_ms
                ),
            ));
        }
        let q = &self.quota;
        let percent = |v: f64| v.is_finite() && (0.0..=100.0).contains(&v);
        if !percent(q.avoid_percent) {
            return Err((
                "usage.quota.avoid_percent".into(),
                format!(
                    "a share of a window, from 0 to 100, not {}",
                    q.avoid_percent
                ),
            ));
        }
        if let Some(v) = q.alert_percent.iter().find(|v| !percent(**v)) {
            return Err((
                "usage.quota.alert_percent".into(),
                format!("shares of a window, from 0 to 100, not {v}"),
            ));
        }
        if q.claude_window_tokens == Some(0) {
            return Err((
                "usage.quota.claude_window_tokens".into(),
                "a window of 0 tokens is always full: leave it unset for no limit".into(),
            ));
        }
        for (model, p) in &self.prices {
            let fields = [
                ("input", p.input),
                ("output", p.output),
                ("cache_write", p.cache_write),
                ("cache_read", p.cache_read),
            ];
            for (field, value) in fields {
                if let Some(v) = value
                    && !(v.is_finite() && (0.0..=MAX_PRICE).contains(&v))
                {
                    return Err((
                        format!("usage.prices.\"{model}\".{field}"),
                        format!(
                            "a price is USD per million tokens, from 0 to {MAX_PRICE}, not {v}"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            claude_dir: None,
            codex_dir: None,
            openclaw_dir: None,
            debounce_ms: 1000,
            prices: BTreeMap::new(),
            quota: QuotaConfig::default(),
        }
    }
}

/// One model's prices, USD per million tokens; unset fields keep the table's price.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriceOverride {
    /// USD per million input tokens.
    pub input: Option<f64>,
    /// USD per million output tokens.
    pub output: Option<f64>,
    /// USD per million tokens written to the five-minute cache.
    pub cache_write: Option<f64>,
    /// USD per million tokens read from the cache.
    pub cache_read: Option<f64>,
}

/// `[budgets]`: USD limits, overall and per brain. Unset means no limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetsConfig {
    /// Limit for all brains together, per local calendar day.
    pub daily_usd: Option<f64>,
    /// Limit for all brains together, per local calendar month.
    pub monthly_usd: Option<f64>,
    /// Warn (a `warning` alert) at this share of a limit, in percent; 100% raises `critical`.
    pub warn_percent: f64,
    /// `[budgets.claude]`.
    pub claude: BrainBudget,
    /// `[budgets.codex]`.
    pub codex: BrainBudget,
    /// `[budgets.openclaw]`: the gateway's own usage.
    pub openclaw: BrainBudget,
}

impl Default for BudgetsConfig {
    fn default() -> Self {
        Self {
            daily_usd: None,
            monthly_usd: None,
            warn_percent: 80.0,
            claude: BrainBudget::default(),
            codex: BrainBudget::default(),
            openclaw: BrainBudget::default(),
        }
    }
}

/// Limits for one brain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrainBudget {
    /// The most the brain may spend in one day, in USD; `None`: no limit.
    pub daily_usd: Option<f64>,
    /// The most the brain may spend in one calendar month, in USD; `None`: no limit.
    pub monthly_usd: Option<f64>,
}

impl BudgetsConfig {
    /// Whether any limit is set at all.
    pub fn has_limits(&self) -> bool {
        [
            self.daily_usd,
            self.monthly_usd,
            self.claude.daily_usd,
            self.claude.monthly_usd,
            self.codex.daily_usd,
            self.codex.monthly_usd,
            self.openclaw.daily_usd,
            self.openclaw.monthly_usd,
        ]
        .iter()
        .any(Option::is_some)
    }

    /// Checks serde cannot express. Returns (key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let limits = [
            ("budgets.daily_usd", self.daily_usd),
            ("budgets.monthly_usd", self.monthly_usd),
            ("budgets.claude.daily_usd", self.claude.daily_usd),
            ("budgets.claude.monthly_usd", self.claude.monthly_usd),
            ("budgets.codex.daily_usd", self.codex.daily_usd),
            ("budgets.codex.monthly_usd", self.codex.monthly_usd),
            ("budgets.openclaw.daily_usd", self.openclaw.daily_usd),
            ("budgets.openclaw.monthly_usd", self.openclaw.monthly_usd),
        ];
        for (key, value) in limits {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                return Err((
                    key.into(),
                    format!("a budget must be a positive amount in USD, not {v}"),
                ));
            }
        }
        if !(self.warn_percent > 0.0 && self.warn_percent < 100.0) {
            return Err((
                "budgets.warn_percent".into(),
                format!(
                    "warn_percent must be between 0 and 100, not {}",
                    self.warn_percent
                ),
            ));
        }
        Ok(())
    }
}
