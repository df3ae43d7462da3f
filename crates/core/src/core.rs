//! `Core`: the running PAIOS — store, event bus, live configuration, and every module's
//! background work. The headless daemon and the menu-bar app both run exactly this.
//!
//! Architecture invariants:
//! * one `Core` per `PAIOS_HOME` at a time, enforced by an exclusive lock on `daemon.lock`
//!   held for the Core's whole life (a second daemon or app fails with [`CoreError::AlreadyRunning`]);
//! * the Core owns the only writer of `paios.db`;
//! * shutdown is one path: cancel → modules stop their children → the store drains and closes.

use std::fs::File;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::events::Event;
use crate::events::payload::{
    ConfigChanged, ConfigInvalid, DaemonStarted, DaemonStopped, SpoolCorrupt, SpoolReplayed,
};
use crate::paths::Paths;
use crate::store::{Store, StoreError, StoreWriter};

/// Why a core could not start.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Another process holds this home's `daemon.lock`.
    #[error(
        "another PAIOS (pid {pid}) is already running for {home}; stop it first, or use it: `paios status`"
    )]
    AlreadyRunning {
        /// The pid the holder wrote into the lock file (empty if it could not be read).
        pid: String,
        /// The home folder.
        home: String,
    },
    /// The home, its sub-folders or its lock file could not be created or opened.
    #[error("cannot prepare {home}: {source}")]
    Home {
        /// The home folder.
        home: String,
        /// The file-system error.
        source: std::io::Error,
    },
    /// The event store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Inner {
    paths: Paths,
    store: Store,
    writer: Mutex<Option<StoreWriter>>,
    bus: broadcast::Sender<Event>,
    config: watch::Sender<Arc<Config>>,
    shutdown: CancellationToken,
    started: Instant,
    started_at: DateTime<Utc>,
    modules: crate::module::Modules,
    _lock: File,
}

/// Handle to the running core. Clone freely.
#[derive(Clone)]
pub struct Core(Arc<Inner>);

impl Core {
    /// Take the home's lock, open the store, replay the spool, and start every module.
    pub async fn start(paths: Paths, config: Config) -> Result<Core, CoreError> {
        Self::start_with(paths, config, Default::default()).await
    }

    /// [`Core::start`] with the host's choices (the app brings its own notifier).
    pub async fn start_with(
        paths: Paths,
        config: Config,
        options: crate::module::ModuleOptions,
    ) -> Result<Core, CoreError> {
        paths.ensure().map_err(|source| CoreError::Home {
            home: paths.home().display().to_string(),
            source,
        })?;
        let lock = acquire_lock(&paths)?;
        let (bus, _) = broadcast::channel(4096);
        let (store, writer) = Store::open(&paths.database(), bus.clone())?;
        let (config_tx, _) = watch::channel(Arc::new(config));
        let core = Core(Arc::new(Inner {
            paths,
            store,
            writer: Mutex::new(Some(writer)),
            bus,
            config: config_tx,
            shutdown: CancellationToken::new(),
            started: Instant::now(),
            started_at: Utc::now(),
            modules: crate::module::Modules::new(options),
            _lock: lock,
        }));
        core.replay_spool().await;
        let started = DaemonStarted {
            pid: std::process::id(),
            version: crate::VERSION.into(),
        };
        core.emit(Event::of("core", "", &started)).await;
        // Clients that could not reach us while we were starting spool; pick those up too.
        let this = core.clone();
        tokio::spawn(async move { this.spool_sweeper().await });
        core.0.modules.start_all(&core).await;
        Ok(core)
    }

    /// The home this core runs for.
    pub fn paths(&self) -> &Paths {
        &self.0.paths
    }
    /// The event store (readers for queries; appends go through the one writer).
    pub fn store(&self) -> &Store {
        &self.0.store
    }
    /// The core's modules (the one list, see [`crate::module`]).
    pub fn modules(&self) -> &crate::module::Modules {
        &self.0.modules
    }
    /// The last good configuration.
    pub fn config(&self) -> Arc<Config> {
        self.0.config.borrow().clone()
    }
    /// Follow configuration changes (only valid configurations are ever published).
    pub fn watch_config(&self) -> watch::Receiver<Arc<Config>> {
        self.0.config.subscribe()
    }
    /// Every committed event, live.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.bus.subscribe()
    }
    /// Cancelled when the core begins shutting down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.0.shutdown.clone()
    }
    /// How long since this core started (monotonic clock).
    pub fn uptime(&self) -> Duration {
        self.0.started.elapsed()
    }
    /// When this core started (wall clock).
    pub fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }

    /// Record an event; failures are logged (the store only fails when the disk does).
    pub async fn emit(&self, event: Event) -> Option<Event> {
        match self.0.store.append(event).await {
            Ok(ev) => Some(ev),
            Err(e) => {
                tracing::error!(error = %e, "could not store an event");
                None
            }
        }
    }

    /// Re-read paios.toml: a valid file replaces the configuration (`config.changed`); an invalid
    /// one is reported (`config.invalid`) and the last good configuration stays in force.
    /// Returns whether the configuration in force changed.
    pub async fn reload_config(&self) -> bool {
        let path = self.0.paths.config_file();
        match Config::load(&path) {
            Ok(new) => {
                let changed = *self.config() != new;
                if changed {
                    self.0.config.send_replace(Arc::new(new));
                    self.emit(Event::of(
                        "core",
                        path.display().to_string(),
                        &ConfigChanged::default(),
                    ))
                    .await;
                }
                changed
            }
            Err(e) => {
                tracing::warn!(error = %e, "paios.toml is invalid; keeping the last good configuration");
                let invalid = ConfigInvalid {
                    error: e.to_string(),
                    ..Default::default()
                };
                self.emit(Event::of("core", path.display().to_string(), &invalid))
                    .await;
                false
            }
        }
    }

    /// The overall health, as `paios status`, the panel and the tray show it.
    pub fn health(&self) -> crate::status::Health {
        let pending = self
            .0
            .store
            .reader()
            .ok()
            .and_then(|conn| crate::approvals::pending_count(&conn).ok())
            .unwrap_or(0);
        let mcp = &self.0.modules.mcp;
        let mesh = mcp.mesh();
        let mesh = crate::status::mesh_health(
            crate::mcp::mesh::is_installed(&self.0.paths),
            mesh.as_ref().map(|m| (m.checked_at.as_str(), &m.report)),
            &mcp.servers(),
        );
        crate::status::health(
            &crate::watchdog::statuses(self),
            pending,
            self.0.modules.alerts.open_count(),
            mesh,
        )
    }

    /// `paios status --json`.
    pub fn status_json(&self) -> Value {
        json!({
            "health": self.health(),
            "daemon": {
                "pid": std::process::id(),
                "uptime_s": self.uptime().as_secs(),
                "version": crate::VERSION,
                "home": self.0.paths.home().display().to_string(),
                "started_at": crate::events::format_ts(&self.0.started_at),
            },
            "services": crate::watchdog::status_json(self),
            "modules": self.0.modules.status(),
        })
    }

    /// Replay every spooled event exactly once (idempotent on uid), quarantining bad lines.
    pub async fn replay_spool(&self) {
        let dir = self.0.paths.spool_dir();
        let claimed = match crate::spool::claim(&dir) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim the spool");
                return;
            }
        };
        for file in claimed {
            let (events, corrupt) = match crate::spool::read_claimed(&file) {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!(file = %file.path.display(), error = %e, "cannot read spool file");
                    continue;
                }
            };
            let count = events.len();
            if let Err(e) = self.0.store.append_many(events).await {
                tracing::error!(error = %e, "spool replay failed; will retry on next start");
                continue;
            }
            if !corrupt.is_empty() {
                match crate::spool::quarantine(&dir, &file.path, &corrupt) {
                    Ok(q) => {
                        let payload = SpoolCorrupt {
                            lines: corrupt.iter().map(|c| c.line_number).collect(),
                            errors: corrupt.iter().take(5).map(|c| c.error.clone()).collect(),
                            quarantine: q.display().to_string(),
                        };
                        self.emit(Event::of("store", q.display().to_string(), &payload))
                            .await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot quarantine corrupt spool lines; keeping the spool file");
                        continue;
                    }
                }
            }
            if count > 0 {
                self.emit(Event::of("store", "", &SpoolReplayed { events: count }))
                    .await;
            }
            if let Err(e) = file.finish() {
                tracing::error!(error = %e, "cannot remove a replayed spool file");
            }
        }
    }

    async fn spool_sweeper(&self) {
        let live = self.0.paths.spool_dir().join(crate::spool::SPOOL_FILE);
        loop {
            tokio::select! {
                _ = self.0.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
            if live.exists() {
                self.replay_spool().await;
            }
        }
    }

    /// Graceful stop: modules stop their children, then the store drains and closes.
    pub async fn shutdown(self) {
        self.0.shutdown.cancel();
        self.0.modules.stop_all(&self).await;
        let stopped = DaemonStopped {
            pid: std::process::id(),
        };
        self.emit(Event::of("core", "", &stopped)).await;
        let writer = self.0.writer.lock().ok().and_then(|mut w| w.take());
        drop(self);
        if let Some(writer) = writer {
            // The writer writes what is queued (the stop event included) and exits; handles
            // still held elsewhere (the app's state, tasks finishing) get `Closed` from now on.
            let joined = tokio::task::spawn_blocking(move || writer.join());
            let _ = tokio::time::timeout(Duration::from_secs(10), joined).await;
        }
    }
}

/// Parts of the core that run on blocking threads (a task run by an MCP bridge tool or the
/// scheduler) record straight into the store. Never call it on an async worker thread: it
/// waits for the store's answer.
impl crate::events::EventSink for Core {
    fn emit(&self, event: Event) {
        if let Err(e) = self.0.store.append_blocking(vec![event]) {
            tracing::error!(error = %e, "could not store an event");
        }
    }
}

fn acquire_lock(paths: &Paths) -> Result<File, CoreError> {
    use std::io::{Read, Seek, Write};
    let path = paths.daemon_lock();
    let home = paths.home().display().to_string();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| CoreError::Home {
            home: home.clone(),
            source,
        })?;
    if file.try_lock().is_err() {
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        return Err(CoreError::AlreadyRunning {
            pid: pid.trim().to_string(),
            home,
        });
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    let _ = file.flush();
    Ok(file)
}
