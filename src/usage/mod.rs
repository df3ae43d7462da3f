//! Usage and cost ledger built from the Claude Code and Codex logs; budgets.
pub mod api;
pub mod config;

use crate::core::Core;

/// Start background work (called once by `Core::start`).
pub async fn start(_core: &Core) -> anyhow::Result<()> {
    Ok(())
}
