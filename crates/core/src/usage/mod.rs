//! Usage and cost ledger built from the Claude Code and Codex logs and the OpenClaw gateway's
//! session files; budgets.
//!
//! * [`parse`]: line parsers for the three brains' logs (no I/O).
//! * [`fields`]: the fields a log line yields, and the one seam through which its JSON is
//!   decoded into them.
//! * [`prices`]: the price table (generated from LiteLLM's, committed with its date) and the
//!   cost of one request, as ccusage computes it.
//! * [`ledger`]: the incremental SQLite ledger in `cache/usage.db` (derived data: deleting it
//!   only costs a re-read of the logs).
//! * [`entries`]: counted requests as the ledger stores them, and an ingest's requests before
//!   they are merged (held in bounded memory, spilled to a temporary file beyond).
//! * [`report`]: daily / weekly / monthly / session reports, JSON and table.
//! * [`blocks`]: Claude's 5-hour windows, as ccusage computes them.
//! * [`budget`]: limits, over-budget state for the router, alerts.
//! * [`statusline`]: Claude Code's status line, from the ledger as it stands (never a scan).
//! * [`quota`]: each brain's rate-limit windows (Codex's own numbers, Claude's windows against
//!   a limit), the headroom the router steers by, quota alerts.
//!
//! Everything works with the daemon down: the CLI ingests, then reports. The daemon keeps the
//! ledger fresh as the logs change ([`start`]) and raises budget alerts.
//!
//! This module never writes paios.db (events go through the store or the spool) and never
//! touches the brains' logs except to read them.

pub mod api;
pub mod blocks;
pub mod budget;
pub mod config;
pub mod entries;
pub mod fields;
pub mod ledger;
pub mod parse;
pub mod prices;
pub mod quota;
pub mod report;
pub mod source;
pub mod statusline;

use std::time::Duration;

use crate::alerts::Alert;
use crate::config::Config;
use crate::core::Core;
use crate::paths::Paths;

pub use budget::BudgetState;
pub use ledger::{IngestStats, Ledger, LedgerError, LogDirs, Source};
pub use prices::Prices;

/// An up-to-date, open ledger and the prices it was built with.
pub struct Fresh {
    /// The ledger, opened and brought up to date.
    pub ledger: Ledger,
    /// The prices the ledger's costs were computed with.
    pub prices: Prices,
    /// What the ingest that brought it up to date did.
    pub stats: IngestStats,
}

/// Open the ledger and read whatever the logs gained since the last run.
pub fn refresh(paths: &Paths, config: &Config) -> Result<Fresh, LedgerError> {
    refresh_with(paths, config, false)
}

/// [`refresh`] for a short-lived command: new files are read through memory maps (see
/// [`Ledger::map_files`]); a log truncated meanwhile ends the process with a clear message.
///
/// When another process is updating the ledger, says so on stderr before it waits for it.
pub fn refresh_mapped(paths: &Paths, config: &Config) -> Result<Fresh, LedgerError> {
    ledger::exit_cleanly_on_sigbus();
    if ledger::is_busy(&paths.cache_dir()) {
        eprintln!("paios: waiting for another process to finish updating the usage ledger…");
    }
    refresh_with(paths, config, true)
}

fn refresh_with(paths: &Paths, config: &Config, map: bool) -> Result<Fresh, LedgerError> {
    let prices = Prices::load(&config.usage.prices);
    let mut ledger = Ledger::open(&paths.cache_dir(), &prices)?;
    ledger.map_files(map);
    let stats = ledger.ingest(&LogDirs::from_config(&config.usage), &prices)?;
    Ok(Fresh {
        ledger,
        prices,
        stats,
    })
}

/// Budgets as they stand, per brain, in the local time zone (after reading new log lines).
pub fn budget_state(paths: &Paths, config: &Config) -> Result<BudgetState, LedgerError> {
    let fresh = refresh(paths, config)?;
    Ok(state_of(&fresh.ledger, config)?.0)
}

fn state_of(
    ledger: &Ledger,
    config: &Config,
) -> Result<(BudgetState, report::SpendSummary), LedgerError> {
    Ok(state_from(&ledger.rows(None)?, config))
}

/// Budgets from the ledger's rows (all sources).
fn state_from(rows: &[ledger::AggRow], config: &Config) -> (BudgetState, report::SpendSummary) {
    let zone = report::Zone::Local;
    let today = zone.today();
    let spend = report::spend(rows, zone, today);
    (budget::compute(&spend, &config.budgets, today), spend)
}

/// What the router needs from the usage ledger, from one read of the logs: the budgets (when a
/// limit is set) and each brain's quota.
pub fn router_view(
    paths: &Paths,
    config: &Config,
) -> Result<(Option<BudgetState>, Vec<quota::BrainQuota>), LedgerError> {
    let fresh = refresh(paths, config)?;
    let budgets = if config.budgets.has_limits() {
        Some(state_of(&fresh.ledger, config)?.0)
    } else {
        None
    };
    let now = chrono::Utc::now().timestamp_millis();
    let quotas = quota::quota(&fresh.ledger, &config.usage.quota, now, false)?;
    Ok((budgets, quotas))
}

/// Budget alerts not raised yet for this period, marked as raised in the ledger.
pub fn due_alerts(ledger: &Ledger, config: &Config) -> Result<Vec<Alert>, LedgerError> {
    due_alerts_from(ledger, &ledger.rows(None)?, config)
}

/// [`due_alerts`] from rows already read (`rows`: every source's).
pub fn due_alerts_from(
    ledger: &Ledger,
    rows: &[ledger::AggRow],
    config: &Config,
) -> Result<Vec<Alert>, LedgerError> {
    let (state, _) = state_from(rows, config);
    let mut out = Vec::new();
    let now = chrono::Utc::now().timestamp_millis();
    let quotas = quota::quota(ledger, &config.usage.quota, now, false)?;
    let due = budget::alerts(&state, &config.budgets)
        .into_iter()
        .chain(quota::alerts(&quotas, &config.usage.quota));
    for (key, event) in due {
        if ledger.mark_alert(&key)? {
            out.push(event);
        }
    }
    Ok(out)
}

/// The budget alerts `rows` call for, whether raised already or not (for a report to show;
/// only the daemon raises them, through the alerts module, so each is an incident once).
pub fn budget_warnings(rows: &[ledger::AggRow], config: &Config) -> Vec<Alert> {
    let (state, _) = state_from(rows, config);
    budget::alerts(&state, &config.budgets)
        .into_iter()
        .map(|(_, alert)| alert)
        .collect()
}

/// Every brain's rate-limit windows now (after reading new log lines).
/// `detail`: work out Claude's window even without a limit (for showing it).
pub fn quota_state(
    paths: &Paths,
    config: &Config,
    detail: bool,
) -> Result<Vec<quota::BrainQuota>, LedgerError> {
    let fresh = refresh(paths, config)?;
    quota::quota(
        &fresh.ledger,
        &config.usage.quota,
        chrono::Utc::now().timestamp_millis(),
        detail,
    )
}

/// Record that `brain` hit a rate limit lasting until `until` (epoch ms), so the router keeps
/// tasks away from it until then.
pub fn mark_limited(
    paths: &Paths,
    config: &Config,
    brain: &str,
    until: i64,
    why: &str,
) -> Result<(), LedgerError> {
    let prices = Prices::load(&config.usage.prices);
    Ledger::open(&paths.cache_dir(), &prices)?.mark_limited(brain, until, why)
}

/// `usage.summary` for the panel.
pub fn summary_json(ledger: &Ledger, config: &Config) -> Result<serde_json::Value, LedgerError> {
    let (state, spend) = state_of(ledger, config)?;
    let by_brain = |m: &std::collections::BTreeMap<Source, f64>| {
        let brains: serde_json::Map<String, serde_json::Value> = Source::ALL
            .iter()
            .map(|s| {
                (
                    s.name().to_string(),
                    m.get(s).copied().unwrap_or(0.0).into(),
                )
            })
            .collect();
        serde_json::Value::Object(brains)
    };
    let today = report::Zone::Local.today();
    let days: Vec<serde_json::Value> = spend
        .last_14_days
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let date = today - chrono::Duration::days(13 - i as i64);
            serde_json::json!({
                "date": date.format("%Y-%m-%d").to_string(),
                "cost": report::SpendSummary::total(m),
                "by_brain": by_brain(m),
            })
        })
        .collect();
    Ok(serde_json::json!({
        "today": {"total": report::SpendSummary::total(&spend.today), "by_brain": by_brain(&spend.today)},
        "month": {"total": report::SpendSummary::total(&spend.month), "by_brain": by_brain(&spend.month)},
        "budgets": state,
        "last_14_days": days,
    }))
}

/// The usage module of a core: it ingests the logs now, then whenever they change
/// (debounced), and raises budget alerts.
pub struct UsageWatch;

impl crate::module::Module for UsageWatch {
    fn name(&self) -> &'static str {
        "usage"
    }

    fn start<'a>(
        &'a self,
        core: &'a Core,
    ) -> futures_util::future::BoxFuture<'a, Result<(), crate::module::ModuleError>> {
        Box::pin(async move {
            let core = core.clone();
            let handle = tokio::runtime::Handle::current();
            std::thread::Builder::new()
                .name("paios-usage".into())
                .spawn(move || watch_loop(core, handle))
                .map_err(crate::module::ModuleError::new)?;
            Ok(())
        })
    }
}

fn watch_loop(core: Core, handle: tokio::runtime::Handle) {
    use notify::Watcher;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    })
    .ok();
    let mut watched: Vec<std::path::PathBuf> = Vec::new();
    let shutdown = core.shutdown_token();
    // Also re-check now and then: folders that do not exist yet cannot be watched.
    let poll = Duration::from_secs(60);
    let mut pending = true;
    let mut last_poll = std::time::Instant::now();
    loop {
        let config = core.config();
        let dirs = LogDirs::from_config(&config.usage);
        if let Some(w) = watcher.as_mut() {
            for dir in dirs.claude.iter().chain(&dirs.codex).chain(&dirs.openclaw) {
                if !watched.contains(dir)
                    && dir.is_dir()
                    && w.watch(dir, notify::RecursiveMode::Recursive).is_ok()
                {
                    watched.push(dir.clone());
                }
            }
        }
        if pending {
            pending = false;
            ingest_and_alert(&core, &handle, &config);
        }
        let debounce = Duration::from_millis(config.usage.debounce_ms);
        // Idle, this thread wakes only every few seconds (for shutdown and new folders).
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(()) => {
                // Debounce: wait until the logs have been quiet for `debounce`.
                while rx.recv_timeout(debounce).is_ok() {
                    if shutdown.is_cancelled() {
                        return;
                    }
                }
                pending = true;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(poll.min(Duration::from_secs(1)));
            }
        }
        if shutdown.is_cancelled() {
            return;
        }
        if last_poll.elapsed() >= poll {
            last_poll = std::time::Instant::now();
            pending = true;
        }
    }
}

fn ingest_and_alert(core: &Core, handle: &tokio::runtime::Handle, config: &Config) {
    let fresh = match refresh(core.paths(), config) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "usage ingest failed");
            return;
        }
    };
    tracing::debug!(stats = ?fresh.stats, "usage ingested");
    if fresh.stats.usage_records > 0 || fresh.stats.repriced > 0 {
        // The panel's costs and the budgets moved: say so (its views are re-read on this).
        let recorded = crate::events::payload::UsageRecorded {
            requests: fresh.stats.usage_records,
            files: fresh.stats.files_read,
        };
        handle.block_on(core.emit(crate::events::Event::of("usage", "", &recorded)));
    }
    for path in &fresh.stats.unreadable {
        tracing::warn!(path = %path.display(), "cannot read a usage log; its usage so far is kept");
    }
    if let Err(e) = fresh.ledger.checkpoint() {
        tracing::debug!(error = %e, "usage ledger checkpoint failed");
    }
    match due_alerts(&fresh.ledger, config) {
        Ok(alerts) => {
            drop(fresh);
            for alert in alerts {
                handle.block_on(crate::alerts::raise(core, alert));
            }
        }
        Err(e) => tracing::warn!(error = %e, "budget check failed"),
    }
}
