//! The approval gate: safe/ask/never policy, queue, trust, autonomy levels, hook protocol.
pub mod api;
pub mod config;

use crate::core::Core;

/// Start background work (called once by `Core::start`).
pub async fn start(_core: &Core) -> anyhow::Result<()> {
    Ok(())
}
