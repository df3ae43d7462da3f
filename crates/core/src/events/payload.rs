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
    /// Process id of the core that started.
    pub pid: u32,
    /// The PAIOS version it runs (the core crate's version).
    pub version: String,
}
payload!(DaemonStarted => DaemonStarted);

/// `daemon.stopped`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DaemonStopped {
    /// Process id of the core that stopped.
    pub pid: u32,
}
payload!(DaemonStopped => DaemonStopped);

/// `config.changed`: the file (the event's subject: a watch's name, or `paios.toml`) is in
/// force now.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigChanged {
    /// The file's path (empty for the daemon's own reload).
    pub path: String,
    /// The dotted keys added, removed or changed since the version before: never values.
    pub keys: Vec<String>,
    /// The guardian's snapshot id of the new version.
    pub snapshot: Option<String>,
}
payload!(ConfigChanged => ConfigChanged);

/// `config.invalid`: where the file is wrong (file:line:column, the key, never the value).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigInvalid {
    /// Why the file was rejected, as the parser or the validation said it.
    pub error: String,
    /// The file's path (empty when the subject says it).
    pub path: String,
    /// The external validator's own issues (`key.path: message`), when it gave any.
    pub issues: Vec<String>,
}
payload!(ConfigInvalid => ConfigInvalid);

/// `config.rolled_back`: the file (subject: the watch's name) was restored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigRolledBack {
    /// The file's path.
    pub path: String,
    /// The snapshot restored.
    pub restored: String,
    /// The protective snapshot of what was replaced (`paios guard undo` brings it back).
    pub before: String,
    /// The dotted keys that differ between the two (never values; empty when the replaced
    /// file did not parse).
    pub keys: Vec<String>,
    /// `invalid` (the guardian's own rollback), `request` (`paios guard rollback`), `undo`.
    pub reason: String,
}
payload!(ConfigRolledBack => ConfigRolledBack);

/// `store.spool_replayed`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpoolReplayed {
    /// Events read from one spool file and handed to the store (one it already held, by uid,
    /// is not stored again).
    pub events: usize,
}
payload!(SpoolReplayed => StoreSpoolReplayed);

/// `store.spool_corrupt`: lines set aside into `quarantine`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpoolCorrupt {
    /// Line numbers (from 1) in the spool file of the lines that could not be read.
    pub lines: Vec<usize>,
    /// Why, for the first five of those lines, in the same order.
    pub errors: Vec<String>,
    /// Path of the quarantine file the lines were appended to (also the event's subject).
    pub quarantine: String,
}
payload!(SpoolCorrupt => StoreSpoolCorrupt);

/// `service.started`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceStarted {
    /// Process id of the service's new process.
    pub pid: u32,
    /// Whether this start is a restart (the watchdog's, or one asked for).
    pub restart: bool,
}
payload!(ServiceStarted => ServiceStarted);

/// `service.exited` (the contract: at least `code`, `signal`, `stderr_tail`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceExited {
    /// Process id of the process that ended.
    pub pid: u32,
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Number of the signal that ended it; `None` when it exited by itself.
    pub signal: Option<i32>,
    /// The run's last stderr lines (at most [`crate::watchdog::logs::TAIL_LINES`]), oldest
    /// first, joined by newlines; empty when it wrote nothing to stderr.
    pub stderr_tail: String,
    /// How long the process ran, from spawn to exit, in milliseconds.
    pub uptime_ms: u64,
    /// `hung` when the watchdog killed it for failing its probe.
    pub killed_for: Option<String>,
}
payload!(ServiceExited => ServiceExited);

/// `service.restarted`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceRestarted {
    /// Process id of the service's new process; `None` when it was restarted through its
    /// manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Why: `exited`, `hung`, `manual`, ….
    pub reason: String,
    /// How many restarts in a row this one makes, as the restart policy counts them (the count
    /// starts again once the service stays up); 0 for a restart asked for or a takeover, `None`
    /// when restarted through a manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// How long the watchdog waited before this start, in milliseconds; 0 for a restart asked
    /// for or a takeover, `None` when restarted through a manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_ms: Option<u64>,
    /// For an adopted service: the manager it was restarted through (`systemd`, `launchd`);
    /// `None` for a process of PAIOS's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Whether the manager carried out the restart; set only with `via`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// The manager's error when `ok` is false; `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
payload!(ServiceRestarted => ServiceRestarted);

/// `service.hung`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceHung {
    /// Process id of the process killed for hanging; `None` for an adopted copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Failed probes in a row that made it count as hung; `None` for an adopted copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
    /// The last failed probe's error.
    pub error: String,
    /// Set for a copy run by a service manager (then `manager` names it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,
    /// The manager that runs an adopted copy (`systemd`, `launchd`, `external`); `None` for a
    /// process of PAIOS's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
}
payload!(ServiceHung => ServiceHung);

/// `service.recovered`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceRecovered {
    /// Process id of the process that answers; `None` for an adopted copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Milliseconds from when the trouble began (an exit, a hang, or a start asked for while its
    /// incident was open) to the probe that passed.
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
    /// Exits counted within the window.
    pub exits: u32,
    /// The crash-loop window, in seconds (the service's `crash_loop.window_s`).
    pub window_s: u64,
}
payload!(ServiceCrashLoop => ServiceCrashLoop);

/// `service.failed`: the service is not restarted any more.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceFailed {
    /// `spawn`, `no_restart_exit_code` or `crash_loop`.
    pub reason: String,
    /// The message shown to the user; set for `spawn` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The exit code that means "do not restart"; set for `no_restart_exit_code` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// Exits counted within the crash-loop window; set for `crash_loop` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exits: Option<u32>,
    /// The crash-loop window, in seconds; set for `crash_loop` only.
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
    /// Process id of the process stopped; `None` when PAIOS had no process of its own to stop
    /// (an adopted copy, or a service waiting to restart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `request`, `shutdown` or `orphan` (a copy left by a previous daemon).
    pub by: String,
    /// The manager that runs an adopted copy (`systemd`, `launchd`, `external`); `None` for a
    /// process of PAIOS's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
}
payload!(ServiceStopped => ServiceStopped);

/// `alert.raised` (the contract: `severity`, `message`, `runbook`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertRaised {
    /// Id of the incident the alert opened or escalated (`inc-` and a UUID v7 in hex).
    pub incident: String,
    /// The alert kind (`service_exited`, `budget_exceeded`, …).
    pub alert: String,
    /// `warning` or `critical`.
    pub severity: String,
    /// What is wrong, for people, with the component's own error text where there is one.
    pub message: String,
    /// The runbook to follow: an id for `paios runbook ID`, or a URL.
    pub runbook: String,
    /// A more severe alert raised again for an open incident.
    pub escalated: bool,
}
payload!(AlertRaised => AlertRaised);

/// `alert.resolved`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertResolved {
    /// Id of the incident closed.
    pub incident: String,
    /// Why it is resolved, for people (e.g. "… answers its probe again").
    pub message: String,
}
payload!(AlertResolved => AlertResolved);

/// `route.fallback`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteFallback {
    /// The task's id (a UUID v7), shared by its `route.decided` and `task.*` events.
    pub task_id: String,
    /// The brain whose attempt failed (`claude`, `codex`, `openclaw`).
    pub from: String,
    /// The brain tried next.
    pub to: String,
    /// The failed attempt's error, as `outcome: message`.
    pub reason: String,
    /// The failed attempt's outcome (`error`, `timeout`, `rate_limited`, …).
    pub outcome: String,
    /// The category the router gave the task (`code`, `debug`, …).
    pub category: String,
}
payload!(RouteFallback => RouteFallback);

/// `task.started`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskStarted {
    /// The task's id (a UUID v7), shared by its `route.*` and `task.*` events.
    pub task_id: String,
    /// The brain that works on it (`claude`, `codex`, `openclaw`).
    pub brain: String,
    /// The category the router gave the task (`code`, `debug`, …).
    pub category: String,
    /// Which attempt this is, from 1; each fallback to another brain adds one.
    pub attempt: usize,
    /// How long the brain may take before it is stopped, in seconds.
    pub timeout_s: u64,
}
payload!(TaskStarted => TaskStarted);

/// `task.finished`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskFinished {
    /// The task's id (a UUID v7), shared by its `route.*` and `task.*` events.
    pub task_id: String,
    /// The brain that worked on it (`claude`, `codex`, `openclaw`).
    pub brain: String,
    /// The category the router gave the task (`code`, `debug`, …).
    pub category: String,
    /// How long this brain's attempt took, in milliseconds.
    pub duration_ms: u64,
    /// All tokens of the attempt: the sum of the four counts in `usage`.
    pub tokens: u64,
    /// The token counts the brain reported (zero where it reported none).
    pub usage: TaskUsage,
    /// Cost in US dollars as the brain reported it; `None` when it does not report one (Codex).
    pub cost_usd: Option<f64>,
    /// `ok`, or why not: `error`, `timeout`, `rate_limited`, `overloaded`, `cancelled`, ….
    pub outcome: String,
    /// The failure's message; `None` when the outcome is `ok`.
    pub error: Option<String>,
    /// The brain's session id; `None` when it reported none.
    pub session: Option<String>,
}
payload!(TaskFinished => TaskFinished);

/// Token counts of a task, as `task.finished` records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskUsage {
    /// Input tokens not served from the prompt cache.
    pub input_tokens: u64,
    /// Tokens the model generated.
    pub output_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_creation_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
}

/// `usage.recorded`: what one ingest of the brains' logs added.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageRecorded {
    /// Model requests newly recorded in the usage ledger (0 when only prices changed and
    /// costs were computed again).
    pub requests: u64,
    /// Brain log files this ingest read (new or grown ones, or all of them after a rebuild).
    pub files: u64,
}
payload!(UsageRecorded => UsageRecorded);

/// `mcp.called`: one bridge tool call of PAIOS's MCP server (the tool is the event's subject).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct McpCalled {
    /// Who called it: the brain or client the MCP session said it is.
    pub caller: String,
    /// The tool (`ask_claude`, `ask_codex`, …).
    pub tool: String,
    /// The brain that answered; `None` when none could run.
    pub brain: Option<String>,
    /// The router's task id of the run; `None` when none started.
    pub task_id: Option<String>,
    /// How long the call took, in ms.
    pub duration_ms: u64,
    /// `ok`, `failed`, `refused`, `cancelled`, `timed_out`, `no_brain`, ….
    pub outcome: String,
    /// What the run cost in dollars, when the brain reported it.
    pub cost_usd: Option<f64>,
    /// Tokens the run used.
    pub tokens: u64,
}
payload!(McpCalled => McpCalled);

/// `mesh.checked`: the mesh check (or the probe of the MCP servers registered in the brains)
/// found something different from the last time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MeshChecked {
    /// Links of installed brains checked.
    pub links: usize,
    /// Those that fail, as `brain → server`.
    pub broken_links: Vec<String>,
    /// Registered MCP servers probed.
    pub servers: usize,
    /// Those that fail, as `brain:server`.
    pub failing_servers: Vec<String>,
}
payload!(MeshChecked => MeshChecked);
