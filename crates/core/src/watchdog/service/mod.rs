//! One supervised service: a task that owns the child process and walks it through
//! `starting → running → (exited | hung) → backoff → starting …`, until it is stopped, or
//! `failed` (crash loop, or an exit code that means restarting cannot help).
//!
//! The task is the only owner of the child and of the service's state; everything else talks
//! to it over a bounded command channel and reads a snapshot of its [`Status`].
//! Children run in their own process group, so stopping or killing one takes its helpers too.
//!
//! This file owns the handle, the commands and the task's state loop: each state of `Flow` is
//! one method returning the next, in the file of its concept —
//! - `status`: what `paios status` shows about a service (the only shared state);
//! - `spawn`: adopt a copy that already runs, or start a child of ours;
//! - `running`: the probe loop of a child of ours, hang detection, stopping it;
//! - `exit`: what an exit means (backoff, restart, or `failed`), as the restart machine says;
//! - `adopted`: watching a copy that runs outside PAIOS;
//! - `output`: the child's pipes into its log; `mcp_stdio`: pings over a stdio MCP server's pipes.
//!
//! It never decides when to restart (the pure [`super::machine`] does), never writes SQLite
//! (every change goes out as an event through the core), and never lets anyone but the task
//! touch the child.

mod adopted;
mod exit;
mod mcp_stdio;
mod output;
mod running;
mod spawn;
mod status;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

use super::adopt;
use super::config::ServiceConfig;
use super::logs::{ServiceLog, SharedLog};
use super::machine::RestartPolicy;
use crate::alerts::{self, Alert, AlertKind};
use crate::core::Core;
use crate::events::payload::ServiceRestarted;
use crate::events::{Event, Payload};

pub use output::strip_ansi;
pub use status::{LastExit, State, Status};

/// Requests to a service's task. Each carries where to answer.
pub enum Command {
    /// Start it now if it is stopped, failed or waiting out a backoff, forgetting its past
    /// exits; a running or adopted service is left alone.
    Start(oneshot::Sender<()>),
    /// Stop it (an adopted copy through its manager, when it has one) and keep it stopped
    /// until a `Start` or `Restart`.
    Stop(oneshot::Sender<()>),
    /// Stop it and start it again now, forgetting its past exits; an adopted copy with a
    /// manager is restarted through the manager.
    Restart(oneshot::Sender<()>),
    /// Stop supervising: children of ours are stopped, adopted services are left alone.
    Shutdown(oneshot::Sender<()>),
}

/// The handle the registry keeps for one service.
pub struct ServiceHandle {
    /// The `[[service]]` table it runs with (a changed table means a new handle).
    pub config: ServiceConfig,
    /// Commands to its supervisor task (see [`ServiceHandle::request`]).
    pub tx: mpsc::Sender<Command>,
    /// Its live status; only its supervisor task writes it.
    pub status: Arc<Mutex<Status>>,
    /// The supervisor task; it ends after `Shutdown`.
    pub task: tokio::task::JoinHandle<()>,
}

impl ServiceHandle {
    /// Start supervising the service of `config` on a task of its own (which starts it or
    /// adopts a running copy as the configuration says). Its output goes to
    /// `logs/services/<name>.log`, or to a file in the temporary folder when that folder
    /// cannot be created.
    pub fn spawn(core: &Core, config: ServiceConfig) -> Self {
        let (tx, rx) = mpsc::channel(16);
        let status = Arc::new(Mutex::new(Status {
            discovered: config.discovered.clone(),
            ..Status::new()
        }));
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

    /// A copy of its status now.
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

/// Whom an idle task waits for: it serves commands until one moves the service on.
enum Waiting {
    /// Stopped or failed: a person's `start` or `restart`.
    Person,
    /// A copy adopted with a process probe, which PAIOS cannot probe: its manager runs it (if it
    /// has one), and `stop` and `restart` go through that manager.
    Manager(Option<String>),
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
                Flow::Idle => self.idle(Waiting::Person).await,
                Flow::Exit => return,
            };
        }
    }

    /// Nothing to watch: serve commands until one moves the service on (see [`Waiting`]).
    async fn idle(&mut self, waiting: Waiting) -> Flow {
        if let Waiting::Person = waiting {
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
        }
        loop {
            let Some(command) = self.rx.recv().await else {
                return Flow::Exit;
            };
            // Each arm does its work before the answer goes back, so a caller that waited for
            // the answer sees its effect.
            let (reply, next) = match (command, &waiting) {
                (Command::Shutdown(reply), _) => (reply, Some(Flow::Exit)),
                (Command::Stop(reply), Waiting::Person) => (reply, None),
                (Command::Stop(reply), Waiting::Manager(manager)) => {
                    if let Some(m) = manager {
                        let _ = adopt::stop(m).await;
                    }
                    (reply, Some(Flow::Idle))
                }
                (Command::Start(reply) | Command::Restart(reply), Waiting::Person) => {
                    self.policy.reset();
                    self.update(|s| s.error = None);
                    if alerts::is_open(&self.core, self.name()) {
                        self.recovering_since = Some(Instant::now());
                    }
                    (reply, Some(Flow::Begin))
                }
                (Command::Start(reply), Waiting::Manager(_)) => (reply, None),
                (Command::Restart(reply), Waiting::Manager(manager)) => {
                    if let Some(m) = manager {
                        let result = adopt::restart(m).await;
                        self.restarted_through(m, "manual", result).await;
                    }
                    (reply, None)
                }
            };
            let _ = reply.send(());
            if let Some(flow) = next {
                return flow;
            }
        }
    }

    /// Count and report a restart done by an adopted copy's manager.
    async fn restarted_through(&self, manager: &str, reason: &str, result: Result<(), String>) {
        self.update(|s| s.restarts += 1);
        self.emit(&ServiceRestarted {
            reason: reason.into(),
            via: Some(manager.to_string()),
            ok: Some(result.is_ok()),
            error: result.err(),
            ..Default::default()
        })
        .await;
    }
}
