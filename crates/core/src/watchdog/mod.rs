//! The watchdog: supervises `[[service]]`s — spawn, probes, backoff, crash-loop breaker, hang
//! detection, adoption — and raises alerts.
//!
//! Shape: one task per service ([`service`]) owns its child process and state; this module keeps
//! the per-core registry of those tasks, applies configuration changes (only services whose
//! table changed are restarted), and answers `paios status`. The restart policy is a pure state
//! machine ([`machine`]); probes are in [`probe`]; adoption of copies run by systemd/launchd or
//! by hand is in [`adopt`].
//!
//! Architecture invariants: the watchdog never writes SQLite itself (every state change is an
//! event appended through the store); it never leaves a child of its own running after
//! [`stop`]; it never starts a second copy of a service that already answers its probe.

pub mod adopt;
pub mod api;
pub mod config;
pub mod install;
pub mod logs;
pub mod machine;
pub mod probe;
pub mod runbooks;
pub mod service;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::core::Core;
use config::ServiceConfig;
use service::ServiceHandle;

/// The running watchdog of one core.
#[derive(Default)]
pub struct Watchdog {
    services: Mutex<BTreeMap<String, Arc<ServiceHandle>>>,
    /// Serialises configuration changes and shutdown.
    reconcile: tokio::sync::Mutex<bool>,
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<Watchdog>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Arc<Watchdog>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The watchdog of `core`, if it runs.
pub fn get(core: &Core) -> Option<Arc<Watchdog>> {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(core.paths().home())
        .cloned()
}

impl Watchdog {
    /// The handle of one service.
    pub fn service(&self, name: &str) -> Option<Arc<ServiceHandle>> {
        self.services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Bring the running services in line with `wanted`: start new ones, stop removed ones,
    /// restart changed ones, leave the rest alone.
    async fn apply(&self, core: &Core, wanted: &[ServiceConfig]) {
        let stopped = self.reconcile.lock().await;
        if *stopped {
            return;
        }
        let mut to_stop = Vec::new();
        {
            let mut services = self.services.lock().unwrap_or_else(|e| e.into_inner());
            let names: Vec<String> = services.keys().cloned().collect();
            for name in names {
                let keep = wanted
                    .iter()
                    .any(|w| w.name == name && services[&name].config == *w);
                if !keep {
                    to_stop.extend(services.remove(&name));
                }
            }
        }
        stop_all(to_stop).await;
        let mut services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        for cfg in wanted {
            if !services.contains_key(&cfg.name) {
                tracing::info!(service = %cfg.name, "supervising");
                services.insert(
                    cfg.name.clone(),
                    Arc::new(ServiceHandle::spawn(core, cfg.clone())),
                );
            }
        }
    }
}

async fn stop_all(handles: Vec<Arc<ServiceHandle>>) {
    let tasks = handles.into_iter().map(|h| async move {
        match Arc::try_unwrap(h) {
            Ok(h) => h.shutdown().await,
            Err(shared) => {
                shared.request(service::Command::Shutdown).await;
            }
        }
    });
    futures_util::future::join_all(tasks).await;
}

/// Start supervising the configured services (called once by `Core::start`).
pub async fn start(core: &Core) -> anyhow::Result<()> {
    crate::alerts::init(core);
    let watchdog = Arc::new(Watchdog::default());
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(core.paths().home().to_path_buf(), watchdog.clone());
    watchdog.apply(core, &core.config().services).await;
    let mut configs = core.watch_config();
    configs.mark_unchanged();
    let shutdown = core.shutdown_token();
    let core = core.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = configs.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let services = configs.borrow_and_update().services.clone();
                    watchdog.apply(&core, &services).await;
                }
            }
        }
    });
    Ok(())
}

/// Stop every child gracefully (called once on shutdown, before the store is flushed).
pub async fn stop(core: &Core) {
    let Some(watchdog) = registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(core.paths().home())
    else {
        return;
    };
    let mut stopped = watchdog.reconcile.lock().await;
    *stopped = true;
    let handles: Vec<_> =
        std::mem::take(&mut *watchdog.services.lock().unwrap_or_else(|e| e.into_inner()))
            .into_values()
            .collect();
    stop_all(handles).await;
    crate::alerts::forget(core);
}

/// The `services` array of `paios status --json`.
pub fn status_json(core: &Core) -> Value {
    let Some(watchdog) = get(core) else {
        return Value::Array(vec![]);
    };
    let services = watchdog.services.lock().unwrap_or_else(|e| e.into_inner());
    Value::Array(
        services
            .iter()
            .map(|(name, h)| h.snapshot().to_json(name))
            .collect(),
    )
}
