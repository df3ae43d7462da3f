//! One supervised service: a task that owns the child process and walks it through
//! `starting → running → (exited | hung) → backoff → starting …`, until it is stopped, or
//! `failed` (crash loop, or an exit code that means restarting cannot help).
//!
//! The task is the only owner of the child and of the service's state; everything else talks
//! to it over a bounded command channel and reads a snapshot of its [`Status`].
//! Children run in their own process group, so stopping or killing one takes its helpers too.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::{mpsc, oneshot};

use super::config::{ProbeKind, ServiceConfig};
use super::logs::{ServiceLog, SharedLog};
use super::machine::{Decision, FailReason, RestartPolicy};
use super::probe::{self, ProbeOutcome};
use crate::alerts::{self, Alert, AlertKind};
use crate::brains::Brain;
use crate::core::Core;
use crate::events::payload::{
    ServiceAdopted, ServiceCrashLoop, ServiceExited, ServiceFailed, ServiceHung, ServiceRecovered,
    ServiceRestarted, ServiceStarted, ServiceStopped,
};
use crate::events::{Event, Payload, format_ts};

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
        }
    }

    /// The contract shape (DESIGN.md §3), plus `since`, `error` and `managed_by`.
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
        })
    }
}

/// Requests to a service's task. Each carries where to answer.
pub enum Command {
    Start(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
    Restart(oneshot::Sender<()>),
    /// Stop supervising: children of ours are stopped, adopted services are left alone.
    Shutdown(oneshot::Sender<()>),
}

/// The handle the registry keeps for one service.
pub struct ServiceHandle {
    pub config: ServiceConfig,
    pub tx: mpsc::Sender<Command>,
    pub status: Arc<Mutex<Status>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl ServiceHandle {
    pub fn spawn(core: &Core, config: ServiceConfig) -> Self {
        let (tx, rx) = mpsc::channel(16);
        let status = Arc::new(Mutex::new(Status::new()));
        let log = ServiceLog::open(&core.paths().service_logs_dir(), &config.name).unwrap_or_else(
            |e| {
                tracing::warn!(service = %config.name, error = %e, "cannot open the service log folder");
                Arc::new(Mutex::new(ServiceLog::with_limits(
                    std::env::temp_dir().join(format!("paios-{}.log", config.name)),
                    super::logs::MAX_BYTES,
                    1,
                )))
            },
        );
        let supervisor = Supervisor {
            core: core.clone(),
            policy: RestartPolicy::new(&config.restart, &config.no_restart_exit_codes),
            runbook: super::runbooks::for_service(&config),
            cfg: config.clone(),
            rx,
            status: status.clone(),
            log,
            epoch: Instant::now(),
            recovering_since: None,
        };
        let task = tokio::spawn(supervisor.run());
        Self {
            config,
            tx,
            status,
            task,
        }
    }

    pub fn snapshot(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Send a command and wait for its answer (false when the task is gone).
    pub async fn request(&self, make: impl FnOnce(oneshot::Sender<()>) -> Command) -> bool {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(make(reply)).await.is_err() {
            return false;
        }
        rx.await.is_ok()
    }

    /// Stop supervising and wait for the task to end.
    pub async fn shutdown(self) {
        self.request(Command::Shutdown).await;
        let _ = self.task.await;
    }
}

/// Why a service is being started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Exited,
    Hung,
    Manual,
    Takeover,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Exited => "exited",
            Reason::Hung => "hung",
            Reason::Manual => "manual",
            Reason::Takeover => "takeover",
        }
    }
}

/// What the task does next.
enum Flow {
    /// Check for a copy to adopt, else spawn.
    Begin,
    Spawn(Option<Reason>, Option<(u32, Duration)>),
    Backoff {
        until: tokio::time::Instant,
        reason: Reason,
        attempt: u32,
        delay: Duration,
    },
    Adopted(Option<String>),
    /// Stopped or failed: wait for a person.
    Idle,
    Exit,
}

struct Supervisor {
    core: Core,
    cfg: ServiceConfig,
    rx: mpsc::Receiver<Command>,
    status: Arc<Mutex<Status>>,
    log: SharedLog,
    policy: RestartPolicy,
    runbook: String,
    /// Monotonic clock origin for the restart policy.
    epoch: Instant,
    /// Set after a crash or hang: the next passing probe is a `service.recovered`.
    recovering_since: Option<Instant>,
}

/// How a running child ended.
enum Ended {
    Exited(ExitStatus),
    /// Killed by us for hanging; carries the probe error.
    Hung(ExitStatus, String),
}

impl Supervisor {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn update(&self, f: impl FnOnce(&mut Status)) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s);
    }

    fn set_state(&self, state: State) {
        self.update(|s| {
            if s.state != state {
                s.state = state;
                s.since = Utc::now();
            }
        });
    }

    async fn emit<P: Payload>(&self, payload: &P) -> Option<Event> {
        self.core
            .emit(Event::of("watchdog", self.name(), payload))
            .await
    }

    async fn alert(&self, kind: AlertKind, message: String) {
        let alert = Alert::new(
            self.cfg.name.clone(),
            kind,
            message,
            kind.runbook(&self.runbook),
        );
        alerts::raise(&self.core, alert).await;
    }

    fn note(&self, text: &str) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .line("paios", text);
    }

    async fn run(mut self) {
        // An incident left open by an earlier run closes once the service answers again.
        if alerts::is_open(&self.core, self.name()) {
            self.recovering_since = Some(Instant::now());
        }
        let mut flow = if self.cfg.autostart {
            Flow::Begin
        } else {
            Flow::Idle
        };
        loop {
            flow = match flow {
                Flow::Begin => self.begin().await,
                Flow::Spawn(reason, backoff) => self.spawn_and_watch(reason, backoff).await,
                Flow::Backoff {
                    until,
                    reason,
                    attempt,
                    delay,
                } => self.backoff(until, reason, attempt, delay).await,
                Flow::Adopted(manager) => self.watch_adopted(manager).await,
                Flow::Idle => self.idle().await,
                Flow::Exit => return,
            };
        }
    }

    /// Stopped or failed: wait for start/restart.
    async fn idle(&mut self) -> Flow {
        {
            let s = self.status.lock().unwrap_or_else(|e| e.into_inner());
            if s.state != State::Failed {
                drop(s);
                self.set_state(State::Stopped);
            }
        }
        self.update(|s| {
            s.pid = None;
            s.managed_by = None;
        });
        loop {
            match self.rx.recv().await {
                None => return Flow::Exit,
                Some(Command::Shutdown(reply)) => {
                    let _ = reply.send(());
                    return Flow::Exit;
                }
                Some(Command::Stop(reply)) => {
                    let _ = reply.send(());
                }
                Some(Command::Start(reply)) | Some(Command::Restart(reply)) => {
                    self.policy.reset();
                    self.update(|s| s.error = None);
                    if alerts::is_open(&self.core, self.name()) {
                        self.recovering_since = Some(Instant::now());
                    }
                    let _ = reply.send(());
                    return Flow::Begin;
                }
            }
        }
    }

    /// Adopt a copy that already runs (managed by systemd/launchd, or answering the probe).
    async fn begin(&mut self) -> Flow {
        self.stop_orphan().await;
        if let Some(manager) = super::adopt::active_manager(&self.cfg).await {
            return Flow::Adopted(Some(manager));
        }
        if probe::answers_without_pid(&self.cfg.probe) {
            let outcome = probe::run_network(&self.cfg.probe).await;
            if outcome.ok {
                self.update(|s| s.probe = Some(outcome));
                return Flow::Adopted(None);
            }
        }
        Flow::Spawn(None, None)
    }

    fn pid_file(&self) -> std::path::PathBuf {
        self.core
            .paths()
            .service_logs_dir()
            .join(format!("{}.pid", self.cfg.name))
    }

    /// A child left running by an earlier PAIOS that was killed without stopping it (its pid
    /// file survived). Stopped, so the service never runs twice; one that answers a network
    /// probe is adopted instead by the caller.
    async fn stop_orphan(&mut self) {
        let Ok(text) = std::fs::read_to_string(self.pid_file()) else {
            return;
        };
        // The pid file goes only once its process is known to be gone (or not ours to stop):
        // a PAIOS killed while it waits for the orphan to exit must find it again next time.
        let forget = || {
            let _ = std::fs::remove_file(self.pid_file());
        };
        let mut parts = text.split_whitespace();
        let (Some(pid), Some(start)) = (
            parts.next().and_then(|p| p.parse::<u32>().ok()),
            parts.next().and_then(|p| p.parse::<u64>().ok()),
        ) else {
            forget();
            return;
        };
        if process_start_time(pid) != Some(start) {
            forget();
            return; // gone, or the pid now belongs to someone else
        }
        if probe::answers_without_pid(&self.cfg.probe)
            && probe::run_network(&self.cfg.probe).await.ok
        {
            forget();
            return; // it works: adopted by `begin`
        }
        self.note(&format!(
            "stopping pid {pid}, left running by an earlier PAIOS"
        ));
        super::adopt::terminate_group(pid, Duration::from_millis(self.cfg.restart.stop_grace_ms))
            .await;
        forget();
        self.emit(&ServiceStopped {
            pid: Some(pid),
            by: "orphan".into(),
            manager: None,
        })
        .await;
    }

    async fn backoff(
        &mut self,
        until: tokio::time::Instant,
        reason: Reason,
        attempt: u32,
        delay: Duration,
    ) -> Flow {
        self.set_state(State::Backoff);
        self.update(|s| s.pid = None);
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {
                Flow::Spawn(Some(reason), Some((attempt, delay)))
            }
            cmd = self.rx.recv() => match cmd {
                None => Flow::Exit,
                Some(Command::Shutdown(reply)) => { let _ = reply.send(()); Flow::Exit }
                Some(Command::Stop(reply)) => {
                    self.emit(&ServiceStopped { by: "request".into(), ..Default::default() }).await;
                    let _ = reply.send(());
                    Flow::Idle
                }
                Some(Command::Start(reply)) | Some(Command::Restart(reply)) => {
                    self.policy.reset();
                    let _ = reply.send(());
                    Flow::Spawn(Some(Reason::Manual), None)
                }
            }
        }
    }

    /// The child's command. A bare `claude`, `codex` or `openclaw` runs PAIOS's managed copy
    /// (with the Node it needs) when there is one, like everywhere else in PAIOS.
    fn build_command(&self) -> Result<tokio::process::Command, String> {
        let program = &self.cfg.command[0];
        let brain = match program.as_str() {
            "claude" => Some(Brain::Claude),
            "codex" => Some(Brain::Codex),
            "openclaw" => Some(Brain::Openclaw),
            _ => None,
        };
        let mut cmd = match brain {
            Some(brain) => tokio::process::Command::from(
                crate::brains::command(self.core.paths(), brain).map_err(|e| e.to_string())?,
            ),
            None => tokio::process::Command::new(program),
        };
        cmd.args(&self.cfg.command[1..])
            .envs(&self.cfg.env)
            .current_dir(
                self.cfg
                    .cwd
                    .as_deref()
                    .map(crate::paths::expand_tilde)
                    .unwrap_or_else(|| self.core.paths().home().to_path_buf()),
            )
            .stdin(if self.is_stdio_mcp() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        Ok(cmd)
    }

    fn is_stdio_mcp(&self) -> bool {
        self.cfg.probe.kind == ProbeKind::Mcp && self.cfg.probe.url.is_none()
    }

    async fn spawn_and_watch(
        &mut self,
        reason: Option<Reason>,
        backoff: Option<(u32, Duration)>,
    ) -> Flow {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear_tail();
        let spawned = self
            .build_command()
            .and_then(|mut cmd| cmd.spawn().map_err(|e| e.to_string()));
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let message = format!(
                    "cannot start service {:?}: `{}`: {e} (check `command` in its [[service]] table; \
                     for a brain, `paios brains install`)",
                    self.name(),
                    self.cfg.command[0]
                );
                self.note(&message);
                self.update(|s| {
                    s.state = State::Failed;
                    s.since = Utc::now();
                    s.error = Some(message.clone());
                });
                self.emit(&ServiceFailed {
                    reason: "spawn".into(),
                    error: Some(message.clone()),
                    ..Default::default()
                })
                .await;
                self.alert(AlertKind::ServiceSpawnFailed, message).await;
                return Flow::Idle;
            }
        };
        let pid = child.id().unwrap_or_default();
        if let Some(start) = process_start_time(pid) {
            let _ = std::fs::write(self.pid_file(), format!("{pid} {start}\n"));
        }
        // The program only: arguments may carry tokens, and logs never hold secrets.
        self.note(&format!("started pid {pid}: {}", self.cfg.command[0]));
        self.update(|s| {
            s.pid = Some(pid);
            s.error = None;
            s.managed_by = None;
            if reason.is_some() {
                s.restarts += 1;
            }
        });
        self.set_state(State::Starting);
        self.emit(&ServiceStarted {
            pid,
            restart: reason.is_some(),
        })
        .await;
        if let Some(reason) = reason {
            let (attempt, delay) = backoff.unwrap_or((0, Duration::ZERO));
            self.emit(&ServiceRestarted {
                pid: Some(pid),
                reason: reason.as_str().into(),
                attempt: Some(attempt),
                backoff_ms: Some(delay.as_millis() as u64),
                ..Default::default()
            })
            .await;
        }

        // Output pumps; for a stdio MCP server, stdout is its JSON-RPC channel.
        let mut pumps = Vec::new();
        let (responses_tx, responses_rx) = mpsc::channel::<Value>(64);
        if let Some(out) = child.stdout.take() {
            let tx = self.is_stdio_mcp().then_some(responses_tx);
            pumps.push(tokio::spawn(pump(out, "out", self.log.clone(), tx)));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(err, "err", self.log.clone(), None)));
        }
        let mcp = match (self.is_stdio_mcp(), child.stdin.take()) {
            (true, Some(stdin)) => Some(McpStdio::start(stdin, responses_rx)),
            _ => None,
        };

        let run_started = Instant::now();
        let ended = self.watch(&mut child, pid, mcp.as_ref()).await;
        let ended = match ended {
            Ok(ended) => ended,
            Err(flow) => {
                let _ = std::fs::remove_file(self.pid_file());
                finish_pumps(pumps).await;
                return flow;
            }
        };
        let _ = std::fs::remove_file(self.pid_file());
        // Anything left in the group (helpers of a crashed parent) would hold ports and pipes.
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        finish_pumps(pumps).await;
        self.after_exit(pid, ended, run_started).await
    }

    /// Watch a running child: exits, probes and commands. `Err(flow)` when a command ended it.
    async fn watch(
        &mut self,
        child: &mut Child,
        pid: u32,
        mcp: Option<&McpStdio>,
    ) -> Result<Ended, Flow> {
        let started = Instant::now();
        let probe_cfg = self.cfg.probe.clone();
        let grace = Duration::from_millis(probe_cfg.startup_grace_ms);
        let mut ticker = tokio::time::interval(Duration::from_millis(probe_cfg.interval_ms));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut inflight: Option<BoxFuture<'static, ProbeOutcome>> = None;
        let mut failures = 0u32;
        loop {
            tokio::select! {
                status = child.wait() => {
                    return Ok(Ended::Exited(status.unwrap_or_else(|_| ExitStatus::from_raw(0))));
                }
                _ = ticker.tick(), if inflight.is_none() => {
                    inflight = Some(self.make_probe(pid, mcp));
                }
                outcome = async { inflight.as_mut().expect("guarded").await }, if inflight.is_some() => {
                    inflight = None;
                    let ok = outcome.ok;
                    let error = outcome.error.clone().unwrap_or_default();
                    self.update(|s| s.probe = Some(outcome.clone()));
                    let starting = self.status.lock().map(|s| s.state == State::Starting).unwrap_or(false);
                    if ok {
                        failures = 0;
                        if starting {
                            self.set_state(State::Running);
                        }
                        // A probe that passes a moment after spawning proves little (a
                        // process probe passes for a program about to exit): count recovery
                        // only once the service has stayed up for a probe period (≤ 1 s).
                        let settled = started.elapsed()
                            >= Duration::from_millis(probe_cfg.interval_ms.min(1000));
                        let recovered_since = if settled { self.recovering_since.take() } else { None };
                        if let Some(since) = recovered_since {
                            self.emit(&ServiceRecovered {
                                pid: Some(pid),
                                down_ms: since.elapsed().as_millis() as u64,
                                probe: outcome.to_json(),
                                manager: None,
                            }).await;
                            alerts::resolve(&self.core, self.name(), &format!("{} is running again and answers its probe", self.name())).await;
                        }
                    } else if starting && started.elapsed() < grace {
                        // Still starting up: failures do not count yet.
                    } else {
                        failures += 1;
                        if failures >= probe_cfg.failures {
                            let status = self.kill_hung(child, pid, failures, &error).await;
                            return Ok(Ended::Hung(status, error));
                        }
                    }
                }
                cmd = self.rx.recv() => match cmd {
                    Some(Command::Start(reply)) => { let _ = reply.send(()); }
                    Some(Command::Stop(reply)) => {
                        self.stop_child(child, pid).await;
                        self.emit(&ServiceStopped { pid: Some(pid), by: "request".into(), manager: None }).await;
                        let _ = reply.send(());
                        return Err(Flow::Idle);
                    }
                    Some(Command::Restart(reply)) => {
                        self.stop_child(child, pid).await;
                        self.policy.reset();
                        let _ = reply.send(());
                        return Err(Flow::Spawn(Some(Reason::Manual), None));
                    }
                    Some(Command::Shutdown(reply)) => {
                        self.stop_child(child, pid).await;
                        self.emit(&ServiceStopped { pid: Some(pid), by: "shutdown".into(), manager: None }).await;
                        let _ = reply.send(());
                        return Err(Flow::Exit);
                    }
                    None => {
                        self.stop_child(child, pid).await;
                        return Err(Flow::Exit);
                    }
                }
            }
        }
    }

    fn make_probe(&self, pid: u32, mcp: Option<&McpStdio>) -> BoxFuture<'static, ProbeOutcome> {
        let cfg = self.cfg.probe.clone();
        match (cfg.kind, mcp) {
            (ProbeKind::Process, _) => {
                let started = Instant::now();
                let result = probe::process(pid);
                Box::pin(async move { ProbeOutcome::new(started, result) })
            }
            (ProbeKind::Mcp, Some(mcp)) => {
                let requests = mcp.requests.clone();
                Box::pin(async move {
                    let started = Instant::now();
                    let timeout = Duration::from_millis(cfg.timeout_ms);
                    let (tx, rx) = oneshot::channel();
                    let result = match tokio::time::timeout(timeout, async {
                        requests
                            .send(tx)
                            .await
                            .map_err(|_| "the MCP server's stdin is closed".to_string())?;
                        rx.await
                            .map_err(|_| "the MCP server's stdin is closed".to_string())?
                    })
                    .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(format!("no answer to ping within {} ms", cfg.timeout_ms)),
                    };
                    ProbeOutcome::new(started, result)
                })
            }
            _ => Box::pin(async move { probe::run_network(&cfg).await }),
        }
    }

    async fn kill_hung(
        &mut self,
        child: &mut Child,
        pid: u32,
        failures: u32,
        error: &str,
    ) -> ExitStatus {
        self.set_state(State::Hung);
        self.note(&format!(
            "hung: {failures} failed probes ({error}); killing"
        ));
        self.emit(&ServiceHung {
            pid: Some(pid),
            failures: Some(failures),
            error: error.to_string(),
            ..Default::default()
        })
        .await;
        self.alert(
            AlertKind::ServiceHung,
            format!(
                "{} is alive but failed {failures} probes in a row ({error}); killing and restarting it",
                self.name()
            ),
        )
        .await;
        self.recovering_since.get_or_insert_with(Instant::now);
        terminate(
            child,
            pid,
            Duration::from_millis(self.cfg.restart.stop_grace_ms),
        )
        .await
    }

    async fn stop_child(&mut self, child: &mut Child, pid: u32) {
        self.note(&format!("stopping pid {pid}"));
        let status = terminate(
            child,
            pid,
            Duration::from_millis(self.cfg.restart.stop_grace_ms),
        )
        .await;
        self.update(|s| {
            s.pid = None;
            s.last_exit = Some(exit_info(&status));
        });
    }

    async fn after_exit(&mut self, pid: u32, ended: Ended, run_started: Instant) -> Flow {
        let exited_at = tokio::time::Instant::now();
        let (status, hung_error) = match ended {
            Ended::Exited(s) => (s, None),
            Ended::Hung(s, e) => (s, Some(e)),
        };
        let info = exit_info(&status);
        let uptime_ms = run_started.elapsed().as_millis() as u64;
        let tail = self
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stderr_tail();
        let stderr_tail = tail.join("\n");
        self.note(&format!(
            "pid {pid} ended: code {:?}, signal {:?}",
            info.code, info.signal
        ));
        self.update(|s| {
            s.pid = None;
            s.last_exit = Some(info.clone());
        });
        self.emit(&ServiceExited {
            pid,
            code: info.code,
            signal: info.signal,
            stderr_tail: stderr_tail.clone(),
            uptime_ms,
            killed_for: hung_error.as_ref().map(|_| "hung".to_string()),
        })
        .await;
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        let run_ms = if hung_error.is_some() { 0 } else { uptime_ms };
        let decision = self
            .policy
            .on_exit(now_ms, run_ms, info.code, rand::random::<f64>());
        let what = describe_exit(&info);
        let own_words = own_words(&tail);
        match decision {
            Decision::Restart { delay, attempt } => {
                if hung_error.is_none() {
                    self.recovering_since.get_or_insert_with(Instant::now);
                    self.alert(
                        AlertKind::ServiceExited,
                        format!(
                            "{} {what}; restarting in {} ms{own_words}",
                            self.name(),
                            delay.as_millis()
                        ),
                    )
                    .await;
                }
                Flow::Backoff {
                    until: exited_at + delay,
                    reason: if hung_error.is_some() {
                        Reason::Hung
                    } else {
                        Reason::Exited
                    },
                    attempt,
                    delay,
                }
            }
            Decision::Fail(FailReason::NoRestartCode(code)) => {
                let message = format!(
                    "{} {what}, which means restarting cannot help (for OpenClaw: a configuration error); \
                     not restarting. Fix the cause, then `paios service start {}`{own_words}",
                    self.name(),
                    self.name()
                );
                self.fail(
                    message.clone(),
                    ServiceFailed {
                        reason: "no_restart_exit_code".into(),
                        code: Some(code),
                        ..Default::default()
                    },
                )
                .await;
                self.alert(AlertKind::ServiceConfigError, message).await;
                Flow::Idle
            }
            Decision::Fail(FailReason::CrashLoop { exits, window_s }) => {
                self.emit(&ServiceCrashLoop { exits, window_s }).await;
                let message = format!(
                    "{} is crash-looping ({exits} exits within {window_s} s, last: {what}); stopped restarting it. \
                     Fix the cause, then `paios service start {}`{own_words}",
                    self.name(),
                    self.name()
                );
                self.fail(
                    message.clone(),
                    ServiceFailed {
                        reason: "crash_loop".into(),
                        exits: Some(exits),
                        window_s: Some(window_s),
                        ..Default::default()
                    },
                )
                .await;
                self.alert(AlertKind::ServiceCrashLoop, message).await;
                Flow::Idle
            }
        }
    }

    async fn fail(&mut self, message: String, data: ServiceFailed) {
        self.note(&message);
        self.update(|s| {
            s.state = State::Failed;
            s.since = Utc::now();
            s.error = Some(message);
        });
        self.emit(&data).await;
    }

    /// Monitor a copy that runs outside PAIOS; restart it through its manager (or take it over).
    async fn watch_adopted(&mut self, manager: Option<String>) -> Flow {
        let label = manager.clone().unwrap_or_else(|| "external".into());
        self.update(|s| {
            s.pid = None;
            s.managed_by = Some(label.clone());
        });
        self.set_state(State::Adopted);
        self.note(&format!("adopted a copy already running ({label})"));
        self.emit(&ServiceAdopted {
            manager: label.clone(),
        })
        .await;
        if !probe::answers_without_pid(&self.cfg.probe) {
            // Only the manager can tell whether it runs; trust it.
            return self.idle_adopted(manager).await;
        }
        let grace = Duration::from_millis(self.cfg.probe.startup_grace_ms);
        let mut ticker = tokio::time::interval(Duration::from_millis(self.cfg.probe.interval_ms));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failures = 0u32;
        let mut grace_until: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    let outcome = probe::run_network(&self.cfg.probe).await;
                    let error = outcome.error.clone().unwrap_or_default();
                    let ok = outcome.ok;
                    self.update(|s| s.probe = Some(outcome.clone()));
                    if ok {
                        failures = 0;
                        grace_until = None;
                        if let Some(since) = self.recovering_since.take() {
                            self.emit(&ServiceRecovered {
                                pid: None,
                                down_ms: since.elapsed().as_millis() as u64,
                                probe: outcome.to_json(),
                                manager: Some(label.clone()),
                            }).await;
                            alerts::resolve(&self.core, self.name(), &format!("{} answers its probe again", self.name())).await;
                        }
                        continue;
                    }
                    if grace_until.is_some_and(|g| Instant::now() < g) {
                        continue;
                    }
                    failures += 1;
                    if failures < self.cfg.probe.failures {
                        continue;
                    }
                    failures = 0;
                    self.recovering_since.get_or_insert_with(Instant::now);
                    self.emit(&ServiceHung { adopted: true, manager: Some(label.clone()), error: error.to_string(), ..Default::default() }).await;
                    match &manager {
                        Some(m) => {
                            let result = super::adopt::restart(m).await;
                            self.alert(AlertKind::ServiceUnreachable, format!(
                                "{} (run by {m}) stopped answering its probe ({error}); restarting it through {m}{}",
                                self.name(),
                                result.as_ref().err().map(|e| format!(" — which failed: {e}")).unwrap_or_default(),
                            )).await;
                            self.update(|s| s.restarts += 1);
                            self.emit(&ServiceRestarted { reason: "hung".into(), via: Some(m.to_string()), ok: Some(result.is_ok()), error: result.err(), ..Default::default() }).await;
                            grace_until = Some(Instant::now() + grace);
                        }
                        None => {
                            self.alert(AlertKind::ServiceUnreachable, format!(
                                "{} was running outside PAIOS and stopped answering its probe ({error}); PAIOS takes it over",
                                self.name()
                            )).await;
                            if let Some(pid) = self.cfg.probe.address.as_deref().or(self.cfg.probe.url.as_deref()).and_then(super::adopt::listener_pid) {
                                self.note(&format!("stopping the unresponsive external copy (pid {pid})"));
                                super::adopt::terminate_pid(pid, Duration::from_millis(self.cfg.restart.stop_grace_ms)).await;
                            }
                            return Flow::Spawn(Some(Reason::Takeover), None);
                        }
                    }
                }
                cmd = self.rx.recv() => match cmd {
                    None => return Flow::Exit,
                    Some(Command::Shutdown(reply)) => { let _ = reply.send(()); return Flow::Exit; }
                    Some(Command::Start(reply)) => { let _ = reply.send(()); }
                    Some(Command::Stop(reply)) => {
                        if let Some(m) = &manager {
                            let _ = super::adopt::stop(m).await;
                        }
                        self.emit(&ServiceStopped { pid: None, by: "request".into(), manager: Some(label.clone()) }).await;
                        let _ = reply.send(());
                        return Flow::Idle;
                    }
                    Some(Command::Restart(reply)) => {
                        match &manager {
                            Some(m) => {
                                let result = super::adopt::restart(m).await;
                                self.update(|s| s.restarts += 1);
                                self.emit(&ServiceRestarted { reason: "manual".into(), via: Some(m.to_string()), ok: Some(result.is_ok()), error: result.err(), ..Default::default() }).await;
                                grace_until = Some(Instant::now() + grace);
                                let _ = reply.send(());
                            }
                            None => {
                                let _ = reply.send(());
                                return Flow::Spawn(Some(Reason::Takeover), None);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adopted with a process probe: nothing to probe; serve commands through the manager.
    async fn idle_adopted(&mut self, manager: Option<String>) -> Flow {
        loop {
            match self.rx.recv().await {
                None => return Flow::Exit,
                Some(Command::Shutdown(reply)) => {
                    let _ = reply.send(());
                    return Flow::Exit;
                }
                Some(Command::Start(reply)) => {
                    let _ = reply.send(());
                }
                Some(Command::Stop(reply)) => {
                    if let Some(m) = &manager {
                        let _ = super::adopt::stop(m).await;
                    }
                    let _ = reply.send(());
                    return Flow::Idle;
                }
                Some(Command::Restart(reply)) => {
                    if let Some(m) = &manager {
                        let result = super::adopt::restart(m).await;
                        self.update(|s| s.restarts += 1);
                        self.emit(&ServiceRestarted {
                            reason: "manual".into(),
                            via: Some(m.to_string()),
                            ok: Some(result.is_ok()),
                            error: result.err(),
                            ..Default::default()
                        })
                        .await;
                    }
                    let _ = reply.send(());
                }
            }
        }
    }
}

fn exit_info(status: &ExitStatus) -> LastExit {
    LastExit {
        code: status.code(),
        signal: status.signal(),
        at: Utc::now(),
    }
}

fn describe_exit(info: &LastExit) -> String {
    match (info.code, info.signal) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => {
            let name = Signal::try_from(sig)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| sig.to_string());
            format!("was killed by signal {sig} ({name})")
        }
        _ => "exited".into(),
    }
}

/// The service's last stderr lines, quoted for an alert.
fn own_words(tail: &[String]) -> String {
    let lines: Vec<&str> = tail
        .iter()
        .map(|l| l.trim_end())
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(12);
    let mut text = lines[start..].join("\n");
    if text.len() > 3000 {
        let cut = text.len() - 3000;
        let cut = (cut..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text = format!("…{}", &text[cut..]);
    }
    format!(". Its last error output:\n{text}")
}

/// When process `pid` started (clock ticks since boot; Linux), to tell it from a reused pid.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    // Fields after the command: state is field 3, starttime field 22.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// TERM the group (and CONT it, so a stopped process can act on the TERM), KILL after `grace`.
async fn terminate(child: &mut Child, pid: u32, grace: Duration) -> ExitStatus {
    let group = Pid::from_raw(pid as i32);
    let _ = killpg(group, Signal::SIGTERM);
    let _ = killpg(group, Signal::SIGCONT);
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => status,
        _ => {
            let _ = killpg(group, Signal::SIGKILL);
            child
                .wait()
                .await
                .unwrap_or_else(|_| ExitStatus::from_raw(libc::SIGKILL))
        }
    };
    let _ = killpg(group, Signal::SIGKILL);
    status
}

/// Copy lines of a child's output into its log (and JSON-RPC lines to `rpc`, for MCP).
async fn pump(
    stream: impl AsyncRead + Unpin,
    tag: &'static str,
    log: SharedLog,
    rpc: Option<mpsc::Sender<Value>>,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = strip_ansi(&String::from_utf8_lossy(&buf));
                let line = line.trim_end_matches(['\n', '\r']);
                if let Some(rpc) = &rpc
                    && let Ok(v) = serde_json::from_str::<Value>(line)
                    && v.get("id").is_some()
                {
                    let _ = rpc.try_send(v);
                }
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .line(tag, line);
            }
        }
    }
}

/// Drop terminal colour codes (`ESC [ … letter`): logs and alerts are read as plain text.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Let the pumps drain what the dead process wrote (bounded: a leftover grandchild may keep a
/// pipe open).
async fn finish_pumps(pumps: Vec<tokio::task::JoinHandle<()>>) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    for p in pumps {
        let abort = p.abort_handle();
        if tokio::time::timeout_at(deadline, p).await.is_err() {
            abort.abort();
        }
    }
}

/// JSON-RPC over a stdio MCP server's pipes: `initialize` once, then `ping` per probe.
struct McpStdio {
    requests: mpsc::Sender<oneshot::Sender<Result<(), String>>>,
}

impl McpStdio {
    fn start(mut stdin: ChildStdin, mut responses: mpsc::Receiver<Value>) -> Self {
        let (tx, mut rx) = mpsc::channel::<oneshot::Sender<Result<(), String>>>(4);
        tokio::spawn(async move {
            let mut next_id = 1u64;
            let mut initialized = false;
            while let Some(reply) = rx.recv().await {
                let result = async {
                    if !initialized {
                        let id = next_id;
                        next_id += 1;
                        send_line(&mut stdin, &probe::mcp_initialize(id)).await?;
                        wait_for(&mut responses, id).await?;
                        send_line(
                            &mut stdin,
                            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                        )
                        .await?;
                        initialized = true;
                    }
                    let id = next_id;
                    next_id += 1;
                    send_line(
                        &mut stdin,
                        &json!({"jsonrpc": "2.0", "id": id, "method": "ping"}),
                    )
                    .await?;
                    wait_for(&mut responses, id).await
                }
                .await;
                let _ = reply.send(result);
            }
        });
        Self { requests: tx }
    }
}

async fn send_line(stdin: &mut ChildStdin, v: &Value) -> Result<(), String> {
    let mut line = v.to_string();
    line.push('\n');
    stdin
        .write_all(line.as_bytes())
        .await
        .map_err(|e| format!("cannot write to the MCP server: {e}"))?;
    stdin
        .flush()
        .await
        .map_err(|e| format!("cannot write to the MCP server: {e}"))
}

async fn wait_for(responses: &mut mpsc::Receiver<Value>, id: u64) -> Result<(), String> {
    while let Some(v) = responses.recv().await {
        if v.get("id").and_then(Value::as_u64) != Some(id) {
            continue; // a late answer to a probe that already timed out
        }
        if let Some(err) = v.get("error") {
            return Err(format!("the MCP server answered an error: {err}"));
        }
        return Ok(());
    }
    Err("the MCP server closed its output".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[90m2026\u{1b}[39m [gateway] ok"),
            "2026 [gateway] ok"
        );
        assert_eq!(strip_ansi("plain é"), "plain é");
    }

    proptest::proptest! {
        #[test]
        fn strip_ansi_never_panics_and_never_grows(s in "(\u{1b}|\\[|[a-z0-9 ]|é){0,80}") {
            proptest::prop_assert!(strip_ansi(&s).len() <= s.len());
        }
    }

    #[test]
    fn exit_descriptions() {
        let at = Utc::now();
        assert_eq!(
            describe_exit(&LastExit {
                code: Some(78),
                signal: None,
                at
            }),
            "exited with code 78"
        );
        assert!(
            describe_exit(&LastExit {
                code: None,
                signal: Some(9),
                at
            })
            .contains("SIGKILL")
        );
    }

    #[test]
    fn own_words_quote_the_last_lines_and_stay_bounded() {
        assert_eq!(own_words(&[]), "");
        let tail: Vec<String> = (0..30)
            .map(|i| format!("line {i} {}", "é".repeat(300)))
            .collect();
        let w = own_words(&tail);
        assert!(w.contains("line 29"));
        assert!(w.len() < 3200);
    }
}
