//! The approval gate: every tool call of every brain is classified **safe** (runs), **ask**
//! (waits for the user, trust or the autonomy level) or **never** (refused, always).
//!
//! * [`policy`] — the rules as data (built-in `default_policy.toml` + `$PAIOS_HOME/policy.toml`);
//! * [`shell`] — a real shell parser (brush-parser) that turns a command line into the simple
//!   commands it would run;
//! * [`classify`] — policy + tool call → verdict (strictest part wins; unparseable → ask);
//! * [`hook`] — `paios hook …`: Claude Code's (and Codex's) hook protocol, fast and fail-closed;
//! * [`api`] — the daemon's queue: requests, answers, trust, autonomy (`approvals.*` ops);
//! * [`install`] — `paios hooks install|uninstall` for Claude Code and Codex;
//! * [`redact`] — secret-looking values masked in whatever is recorded or shown.
//!
//! Architecture invariants: `never` is decided from the policy alone and cannot be overridden
//! by trust, autonomy or a user file; the hook never opens the database and never starts an
//! async runtime; only the daemon writes approval rows (through the store's writer).
pub mod api;
pub mod classify;
pub mod config;
pub mod hook;
pub mod install;
pub mod policy;
pub mod redact;
pub mod shell;

use crate::core::Core;

/// Start background work (called once by `Core::start`): close requests a previous daemon left
/// pending (their hooks are gone).
pub async fn start(core: &Core) -> anyhow::Result<()> {
    api::expire_orphans(core)
        .await
        .map_err(|e| anyhow::anyhow!("cannot close stale approval requests: {e}"))
}
