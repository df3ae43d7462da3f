//! The watchdog: supervises `[[service]]`s — spawn, probes, backoff, crash-loop breaker, hang
//! detection, adoption — and raises alerts.
//!
//! It never writes SQLite itself: every state change is an event appended through the store.

pub mod api;
pub mod config;

use crate::core::Core;

/// Start supervising the configured services (called once by `Core::start`).
pub async fn start(_core: &Core) -> anyhow::Result<()> {
    Ok(())
}

/// Stop every child gracefully (called once on shutdown, before the store is flushed).
pub async fn stop(_core: &Core) {}

/// The `services` array of `paios status --json`.
pub fn status_json(_core: &Core) -> serde_json::Value {
    serde_json::Value::Array(vec![])
}
