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
    Starting,
    Running,
    Backoff,
    Hung,
    Failed,
    Stopped,
    Adopted,
}

#[derive(Debug, Clone)]
pub struct LastExit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub at: DateTime<Utc>,
}

/// What `paios status` shows about one service.
#[derive(Debug, Clone)]
pub struct Status {
    pub state: State,
    pub pid: Option<u32>,
    pub restarts: u32,
    pub last_exit: Option<LastExit>,
    pub probe: Option<ProbeOutcome>,
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
