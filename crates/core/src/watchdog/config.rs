//! `[[service]]` and `[alerts]` sections of paios.toml (contract: DESIGN.md §3 "Services").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One supervised service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Unique among the services; names its log file, so it may not be empty, contain `/`, `\`
    /// or control characters, start with `.`, or be longer than 200 bytes.
    pub name: String,
    /// argv; the first element is looked up on PATH (managed brains first).
    pub command: Vec<String>,
    /// Variables set for the command on top of the environment the daemon inherited.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (default: the PAIOS home).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Exit codes after which restarting cannot help (OpenClaw: 78 = config error).
    #[serde(default = "default_no_restart")]
    pub no_restart_exit_codes: Vec<i32>,
    /// `[service.probe]`: how the watchdog tells the service works (default: it is alive).
    #[serde(default)]
    pub probe: ProbeConfig,
    /// `[service.restart]`: backoff, crash-loop breaker and stop grace.
    #[serde(default)]
    pub restart: RestartConfig,
    /// Start it with the daemon (default true).
    #[serde(default = "yes")]
    pub autostart: bool,
    /// Runbook id quoted by this service's alerts (default: chosen from the command and probe).
    #[serde(default)]
    pub runbook: Option<String>,
    /// A systemd user unit that may already run this service (Linux). When it is active, the
    /// watchdog adopts it and restarts it with `systemctl --user restart UNIT`.
    #[serde(default)]
    pub systemd_unit: Option<String>,
    /// A launchd label that may already run this service (macOS), e.g. `ai.openclaw.gateway`;
    /// restarted with `launchctl kickstart -k`.
    #[serde(default)]
    pub launchd_label: Option<String>,
    /// Not from `paios.toml`: how the watchdog found this service when it has no table
    /// ([`super::discover`]), shown by `paios status`.
    #[serde(skip)]
    pub discovered: Option<String>,
}

fn default_no_restart() -> Vec<i32> {
    vec![78]
}
fn yes() -> bool {
    true
}

impl ServiceConfig {
    /// Returns (key, message) on a semantic error.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.name.trim().is_empty() {
            return Err(("name".into(), "a service needs a non-empty name".into()));
        }
        if self.name.chars().any(char::is_control) || self.name.len() > 200 {
            return Err((
                "name".into(),
                format!(
                    "service name {:?} may not contain control characters or be longer than 200 bytes (it names its log and pid files)",
                    self.name
                ),
            ));
        }
        if self.name.contains(['/', '\\']) || self.name.starts_with('.') {
            return Err((
                "name".into(),
                format!(
                    "service name {:?} may not contain '/' or '\\' or start with '.' (it names its log file)",
                    self.name
                ),
            ));
        }
        if self.command.is_empty() {
            return Err((
                "command".into(),
                format!("service {:?} has an empty command", self.name),
            ));
        }
        let probe = &self.probe;
        let needs = match probe.kind {
            ProbeKind::Http | ProbeKind::Openclaw if probe.url.is_none() => Some("url"),
            ProbeKind::Tcp if probe.address.is_none() => Some("address"),
            _ => None,
        };
        if let Some(key) = needs {
            return Err((
                "kind".into(),
                format!(
                    "service {:?}: a {:?} probe needs `{key}` in [service.probe]",
                    self.name, probe.kind
                ),
            ));
        }
        for (key, value) in [
            ("interval_ms", probe.interval_ms),
            ("timeout_ms", probe.timeout_ms),
            ("failures", u64::from(probe.failures)),
        ] {
            if value == 0 {
                return Err((
                    format!("probe.{key}"),
                    format!("service {:?}: probe {key} must be above 0", self.name),
                ));
            }
        }
        self.restart.validate(&self.name)
    }
}

impl RestartConfig {
    /// Out-of-range values are refused, never clamped: what the file says is what runs.
    pub fn validate(&self, service: &str) -> Result<(), (String, String)> {
        if self.initial_backoff_ms == 0 {
            return Err((
                "restart.initial_backoff_ms".into(),
                format!("service {service:?}: initial_backoff_ms must be at least 1"),
            ));
        }
        if self.max_backoff_ms < self.initial_backoff_ms {
            return Err((
                "restart.max_backoff_ms".into(),
                format!(
                    "service {service:?}: max_backoff_ms ({}) is below initial_backoff_ms ({})",
                    self.max_backoff_ms, self.initial_backoff_ms
                ),
            ));
        }
        if self.crash_loop.max_exits == 0 || self.crash_loop.window_s == 0 {
            return Err((
                "restart.crash_loop".into(),
                format!(
                    "service {service:?}: crash_loop max_exits and window_s must be at least 1"
                ),
            ));
        }
        Ok(())
    }
}

/// What a probe checks (`[service.probe] kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// The process is alive and not stopped; nothing is asked of it.
    #[default]
    Process,
    /// A TCP connection to `address` is accepted.
    Tcp,
    /// A GET of `url` answers the expected status and, when set, a body containing
    /// `body_contains`.
    Http,
    /// The MCP server answers `initialize` and `ping`: over streamable HTTP at `url`, or over
    /// the process's stdin/stdout when there is no `url`.
    Mcp,
    /// The OpenClaw gateway's `/readyz` answers 200 and its WebSocket handshake succeeds.
    Openclaw,
}

/// `[service.probe]`: how and how often the service's health is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// What is checked.
    pub kind: ProbeKind,
    /// `http`/`openclaw`: URL to GET (openclaw: base URL or `/readyz` URL). `mcp`: the
    /// streamable-HTTP endpoint (none: the server is asked over its stdio).
    pub url: Option<String>,
    /// `tcp`: host:port.
    pub address: Option<String>,
    /// `http`: expected status (default: any 2xx).
    pub status: Option<u16>,
    /// `http`: substring the body must contain.
    pub body_contains: Option<String>,
    /// `openclaw`: gateway auth token for the WebSocket handshake.
    pub token: Option<String>,
    /// Time between probes, in milliseconds (above 0).
    pub interval_ms: u64,
    /// How long one probe may take before it counts as failed, in milliseconds (above 0).
    pub timeout_ms: u64,
    /// Consecutive failures (with the process alive) that make the service `hung`.
    pub failures: u32,
    /// Grace after (re)start before failures count, in milliseconds.
    pub startup_grace_ms: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            kind: ProbeKind::Process,
            url: None,
            address: None,
            status: None,
            body_contains: None,
            token: None,
            interval_ms: 2000,
            timeout_ms: 1000,
            failures: 3,
            startup_grace_ms: 15000,
        }
    }
}

/// `[service.restart]`: when and how fast a service that exited is started again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestartConfig {
    /// Delay before the first restart, in milliseconds (at least 1); it doubles with each
    /// consecutive short run, ±20% jitter.
    pub initial_backoff_ms: u64,
    /// The longest that delay grows, in milliseconds (not below `initial_backoff_ms`).
    pub max_backoff_ms: u64,
    /// Uptime, in seconds, after which the backoff resets.
    pub stable_after_s: u64,
    /// The same in milliseconds; wins over `stable_after_s` when set.
    pub stable_after_ms: Option<u64>,
    /// `[service.restart.crash_loop]`: when to stop restarting altogether.
    pub crash_loop: CrashLoopConfig,
    /// SIGTERM → SIGKILL grace when stopping, in milliseconds.
    pub stop_grace_ms: u64,
}

impl Default for RestartConfig {
    fn default() -> Self {
        Self {
            initial_backoff_ms: 100,
            max_backoff_ms: 30000,
            stable_after_s: 60,
            stable_after_ms: None,
            crash_loop: CrashLoopConfig::default(),
            stop_grace_ms: 5000,
        }
    }
}

/// The crash-loop breaker: `max_exits` exits within `window_s` seconds make the service
/// `failed`, with a `service_crash_loop` alert, and it is not restarted again by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrashLoopConfig {
    /// Exits (the latest included) that trip the breaker; at least 1.
    pub max_exits: u32,
    /// The window those exits are counted in, in seconds; at least 1.
    pub window_s: u64,
}

impl Default for CrashLoopConfig {
    fn default() -> Self {
        Self {
            max_exits: 5,
            window_s: 60,
        }
    }
}

/// `[watchdog]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchdogConfig {
    /// With no `[[service]]` for the OpenClaw gateway, supervise the one that runs anyway (its
    /// systemd/launchd unit, or whatever answers its port) — see [`super::discover`].
    pub adopt_gateway: bool,
    /// How often to look for such a gateway while none is supervised (seconds).
    pub discover_interval_s: u64,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        Self {
            adopt_gateway: true,
            discover_interval_s: 30,
        }
    }
}

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Show desktop notifications where a notification service exists.
    pub desktop: bool,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self { desktop: true }
    }
}
