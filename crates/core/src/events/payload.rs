//! Typed payloads: the `data` of PAIOS's own events, one struct per kind. Writers build them
//! ([`super::Event::of`]); readers decode them ([`super::Event::decode`]), so no module passes
//! `serde_json::Value` to another to say what happened. JSON appears only where an event is
//! stored or sent.
//!
//! Decoding is lenient the way readers of an old log need: a field that is missing takes its
//! default, an extra field is ignored. A payload may carry more than its struct says (alerts
//! carry their kind's details); readers that need those look at the JSON at the edge.

use serde::{Deserialize, Serialize};

use super::Kind;

/// The typed `data` of one kind of event.
pub trait Payload: Serialize + for<'de> Deserialize<'de> {
    /// The kind this payload is the data of.
    const KIND: Kind;
}

macro_rules! payload {
    ($name:ident => $kind:ident) => {
        impl Payload for $name {
            const KIND: Kind = Kind::$kind;
        }
    };
}

/// `daemon.started`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DaemonStarted {
    pub pid: u32,
    pub version: String,
}
payload!(DaemonStarted => DaemonStarted);

/// `daemon.stopped`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DaemonStopped {
    pub pid: u32,
}
payload!(DaemonStopped => DaemonStopped);

/// `config.changed`: the file (the event's subject) is in force now.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigChanged {}
payload!(ConfigChanged => ConfigChanged);

/// `config.invalid`: where the file is wrong (file:line:column, the key, never the value).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigInvalid {
    pub error: String,
}
payload!(ConfigInvalid => ConfigInvalid);

/// `store.spool_replayed`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpoolReplayed {
    pub events: usize,
}
payload!(SpoolReplayed => StoreSpoolReplayed);

/// `store.spool_corrupt`: lines set aside into `quarantine`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpoolCorrupt {
    pub lines: Vec<usize>,
    pub errors: Vec<String>,
    pub quarantine: String,
}
payload!(SpoolCorrupt => StoreSpoolCorrupt);

/// `service.started`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceStarted {
    pub pid: u32,
    /// Whether this start is a restart (the watchdog's, or one asked for).
    pub restart: bool,
}
payload!(ServiceStarted => ServiceStarted);

/// `service.exited` (the contract: at least `code`, `signal`, `stderr_tail`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceExited {
    pub pid: u32,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stderr_tail: String,
    pub uptime_ms: u64,
    /// `hung` when the watchdog killed it for failing its probe.
    pub killed_for: Option<String>,
}
payload!(ServiceExited => ServiceExited);

/// `service.restarted`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceRestarted {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Why: `exited`, `hung`, `manual`, ….
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_ms: Option<u64>,
    /// For an adopted service: the manager it was restarted through, and whether that worked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
payload!(ServiceRestarted => ServiceRestarted);

/// `service.hung`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceHung {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
    pub error: String,
    /// Set for a copy run by a service manager (then `manager` names it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
}
payload!(ServiceHung => ServiceHung);

/// `service.recovered`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceRecovered {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub down_ms: u64,
    /// The probe that passed, as `paios status` shows probes.
    pub probe: serde_json::Value,
    /// For an adopted service: the manager that runs it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
}
payload!(ServiceRecovered => ServiceRecovered);

/// `service.crash_loop`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceCrashLoop {
    pub exits: u32,
    pub window_s: u64,
}
payload!(ServiceCrashLoop => ServiceCrashLoop);

/// `service.failed`: the service is not restarted any more.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceFailed {
    /// `spawn`, `no_restart_exit_code` or `crash_loop`.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exits: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_s: Option<u64>,
}
payload!(ServiceFailed => ServiceFailed);

/// `service.adopted`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceAdopted {
    /// `systemd`, `launchd`, or `external` (a copy started by hand).
    pub manager: String,
}
payload!(ServiceAdopted => ServiceAdopted);

/// `service.stopped`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceStopped {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `request`, `shutdown` or `orphan` (a copy left by a previous daemon).
    pub by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
}
payload!(ServiceStopped => ServiceStopped);

/// `alert.raised` (the contract: `severity`, `message`, `runbook`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertRaised {
    pub incident: String,
    /// The alert kind (`service_exited`, `budget_exceeded`, …).
    pub alert: String,
    pub severity: String,
    pub message: String,
    pub runbook: String,
    /// A more severe alert raised again for an open incident.
    pub escalated: bool,
}
payload!(AlertRaised => AlertRaised);

/// `alert.resolved`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertResolved {
    pub incident: String,
    pub message: String,
}
payload!(AlertResolved => AlertResolved);

/// `route.fallback`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteFallback {
    pub task_id: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    /// The failed attempt's outcome (`error`, `timeout`, `rate_limited`, …).
    pub outcome: String,
    pub category: String,
}
payload!(RouteFallback => RouteFallback);

/// `task.started`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskStarted {
    pub task_id: String,
    pub brain: String,
    pub category: String,
    pub attempt: usize,
    pub timeout_s: u64,
}
payload!(TaskStarted => TaskStarted);

/// `task.finished`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskFinished {
    pub task_id: String,
    pub brain: String,
    pub category: String,
    pub duration_ms: u64,
    pub tokens: u64,
    pub usage: TaskUsage,
    pub cost_usd: Option<f64>,
    /// `ok`, or why not: `error`, `timeout`, `rate_limited`, `overloaded`, `cancelled`, ….
    pub outcome: String,
    pub error: Option<String>,
    pub session: Option<String>,
}
payload!(TaskFinished => TaskFinished);

/// Token counts of a task, as `task.finished` records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cache_read_tokens: u64,
}

/// `usage.recorded`: what one ingest of the brains' logs added.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageRecorded {
    pub requests: u64,
    pub files: u64,
}
payload!(UsageRecorded => UsageRecorded);
