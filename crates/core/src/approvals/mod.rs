//! The approval gate: every tool call of every brain is classified **safe** (runs), **ask**
//! (waits for the user, trust or the autonomy level) or **never** (refused, always).
//!
//! * [`policy`] — the rules as data (built-in `default_policy.toml` + `$PAIOS_HOME/policy.toml`);
//! * [`shell`] — a real shell parser (brush-parser) that turns a command line into the simple
//!   commands it would run;
//! * [`classify`] — policy + tool call → verdict (strictest part wins; unparseable → ask);
//! * [`hook`] — `paios hook …`: Claude Code's (and Codex's) hook protocol, fast and fail-closed;
//! * [`queue`] — the queue as types: requests, states, answers, who answered, the rows and the
//!   `approval.*` payloads, with their SQL;
//! * [`trust`] — trust and autonomy: what answers an ask before anyone is asked;
//! * [`api`] — the daemon's `approvals.*` operations (JSON at this edge only);
//! * [`install`] — `paios hooks install|uninstall` for Claude Code and Codex;
//! * [`gateway`] — the same gate in front of the OpenClaw gateway's `exec` tool (its plugin);
//! * [`redact`] — secret-looking values masked in whatever is recorded or shown.
//!
//! Architecture invariants: `never` is decided from the policy alone and cannot be overridden
//! by trust, autonomy or a user file; the hook never opens the database and never starts an
//! async runtime; only the daemon writes approval rows (through the store's writer).
pub mod api;
pub mod classify;
pub mod config;
pub mod gateway;
pub mod hook;
pub mod install;
pub mod policy;
pub mod queue;
pub mod redact;
pub mod shell;
pub mod trust;

use futures_util::future::BoxFuture;

use crate::core::Core;
use crate::module::{Module, ModuleError};

/// How many requests wait for an answer.
pub fn pending_count(conn: &rusqlite::Connection) -> rusqlite::Result<usize> {
    conn.query_row(
        "SELECT count(*) FROM approval_requests WHERE state = 'pending'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n.max(0) as usize)
}

/// The approvals module of a core (its queue lives in the store).
pub struct Approvals;

impl Module for Approvals {
    fn name(&self) -> &'static str {
        "approvals"
    }

    /// Close the requests a previous daemon left pending (their hooks are gone).
    fn start<'a>(&'a self, core: &'a Core) -> BoxFuture<'a, Result<(), ModuleError>> {
        Box::pin(async move {
            api::expire_orphans(core)
                .await
                .map_err(|e| ModuleError::new(format!("cannot close stale approval requests: {e}")))
        })
    }
}
