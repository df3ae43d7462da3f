//! What `paios status` shows about one service: its [`State`] (the contract's states), pid,
//! restarts, last exit, last probe and why it failed, and the JSON shape of all that.
//!
//! This module only describes a service; it never changes one (the service's task is the only
//! writer of its [`Status`]) and never decides anything.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::events::format_ts;
use crate::watchdog::probe::ProbeOutcome;

/// The states of the `paios status --json` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Started by PAIOS; no probe has passed yet.
    Starting,
    /// Started by PAIOS, and its probe passed.
    Running,
    /// It exited; waiting out the backoff before it is started again.
    Backoff,
    /// Alive but failing its probe: being stopped, to be started again.
    Hung,
    /// Given up on (crash loop, a no-restart exit code, or it could not be started): only a
    /// person's start brings it back.
    Failed,
    /// Not running: never started (`autostart = false`), or stopped on request.
    Stopped,
    /// A copy PAIOS did not start (a systemd unit, a launchd job, another process answering
    /// the probe) is watched instead of run.
    Adopted,
}

/// How the last process of a service ended.
#[derive(Debug, Clone)]
pub struct LastExit {
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it; `None` when it exited by itself.
    pub signal: Option<i32>,
    /// When the supervisor saw it end.
    pub at: DateTime<Utc>,
}

/// What `paios status` shows about one service.
#[derive(Debug, Clone)]
pub struct Status {
    /// Where the service is in its life.
    pub state: State,
    /// The pid of the process PAIOS started for it; `None` when no child of ours runs.
    pub pid: Option<u32>,
    /// How many times it was started again (after an exit, a hang, a request, or through an
    /// adopted copy's manager) since the core began supervising it.
    pub restarts: u32,
    /// How its last process ended; `None` until one has.
    pub last_exit: Option<LastExit>,
    /// The last probe's outcome; `None` until one has run.
    pub probe: Option<ProbeOutcome>,
    /// When it entered `state`.
    pub since: DateTime<Utc>,
    /// Why it is `failed` (or the last trouble), for people.
    pub error: Option<String>,
    /// `systemd:UNIT`, `launchd:LABEL` or `external` while adopted.
    pub managed_by: Option<String>,
    /// How the watchdog found a service that has no `[[service]]` table.
    pub discovered: Option<String>,
}

impl Status {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Stopped,
            pid: None,
            restarts: 0,
            last_exit: None,
            probe: None,
            since: Utc::now(),
            error: None,
            managed_by: None,
            discovered: None,
        }
    }

    /// The contract shape (DESIGN.md §3), plus `since`, `error`, `managed_by` and, for a
    /// service found without a table, `discovered`.
    pub fn to_json(&self, name: &str) -> Value {
        json!({
            "name": name,
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "last_exit": self.last_exit.as_ref().map(|e| json!({
                "code": e.code,
                "signal": e.signal,
                "at": format_ts(&e.at),
            })),
            "probe": self.probe.as_ref().map(ProbeOutcome::to_json),
            "since": format_ts(&self.since),
            "error": self.error,
            "managed_by": self.managed_by,
            "discovered": self.discovered,
        })
    }
}
