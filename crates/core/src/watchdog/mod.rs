//! The watchdog: supervises `[[service]]`s — spawn, probes, backoff, crash-loop breaker, hang
//! detection, adoption — and raises alerts.
//!
//! Shape: one task per service ([`service`]) owns its child process and state; this module's
//! [`Watchdog`] (one per core, a [`crate::module::Module`]) holds those tasks, applies
//! configuration changes (only services whose table changed are restarted), and answers
//! `paios status`. The restart policy is a pure state
//! machine ([`machine`]); probes are in [`probe`]; adoption of copies run by systemd/launchd or
//! by hand is in [`adopt`]; a gateway supervised with no `[[service]]` table is found by
//! [`discover`].
//!
//! Architecture invariants: the watchdog never writes SQLite itself (every state change is an
//! event appended through the store); it never leaves a child of its own running after
//! its [`Module::stop`](crate::module::Module::stop); it never starts a second copy of a service that already answers its probe.

pub mod adopt;
pub mod api;
pub mod config;
pub mod discover;
pub mod install;
pub mod logs;
pub mod machine;
pub mod probe;
pub mod runbooks;
pub mod service;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
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

/// The watchdog of `core`.
pub fn get(core: &Core) -> Arc<Watchdog> {
    core.modules().watchdog.clone()
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

    /// A service that is the OpenClaw gateway is supervised (configured or discovered).
    fn supervises_a_gateway(&self) -> bool {
        self.services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|h| discover::is_gateway(&h.config))
    }

    /// The names of the services it supervises now, sorted.
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

/// The configured services, and a gateway found running without a table of its own (kept once
/// found, so a discovered gateway that dies is restarted rather than forgotten).
async fn with_discovered(
    watchdog: &Watchdog,
    config: &crate::config::Config,
) -> Vec<ServiceConfig> {
    let mut wanted = config.services.clone();
    let kept = watchdog
        .service(discover::GATEWAY_SERVICE)
        .map(|h| h.config.clone())
        .filter(|c| c.discovered.is_some());
    if config.watchdog.adopt_gateway && !wanted.iter().any(discover::is_gateway) {
        if let Some(kept) = kept {
            wanted.push(kept);
        } else if let Some(found) = discover::gateway(&wanted, true).await {
            tracing::info!(service = %found.name, how = ?found.discovered, "adopting the gateway");
            wanted.push(found);
        }
    }
    wanted
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

impl crate::module::Module for Watchdog {
    fn name(&self) -> &'static str {
        "watchdog"
    }

    /// Start supervising the configured services, and follow configuration changes.
    fn start<'a>(
        &'a self,
        core: &'a Core,
    ) -> BoxFuture<'a, Result<(), crate::module::ModuleError>> {
        Box::pin(async move {
            let watchdog = get(core);
            let config = core.config();
            let wanted = with_discovered(&watchdog, &config).await;
            watchdog.apply(core, &wanted).await;
            let mut configs = core.watch_config();
            configs.mark_unchanged();
            let shutdown = core.shutdown_token();
            let core = core.clone();
            let every = Duration::from_secs(config.watchdog.discover_interval_s.max(1));
            let mut discover = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            discover.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        changed = configs.changed() => {
                            if changed.is_err() {
                                return;
                            }
                            let config = configs.borrow_and_update().clone();
                            let wanted = with_discovered(&watchdog, &config).await;
                            watchdog.apply(&core, &wanted).await;
                        }
                        _ = discover.tick() => {
                            let config = core.config();
                            // Only while no gateway is supervised: one found stays supervised
                            // (adopted, restarted) until the configuration changes.
                            if !watchdog.supervises_a_gateway() {
                                let wanted = with_discovered(&watchdog, &config).await;
                                if wanted.len() > config.services.len() {
                                    watchdog.apply(&core, &wanted).await;
                                }
                            }
                        }
                    }
                }
            });
            Ok(())
        })
    }

    /// Stop every child gracefully, before the store is flushed.
    fn stop<'a>(&'a self, _core: &'a Core) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut stopped = self.reconcile.lock().await;
            *stopped = true;
            let handles: Vec<_> =
                std::mem::take(&mut *self.services.lock().unwrap_or_else(|e| e.into_inner()))
                    .into_values()
                    .collect();
            stop_all(handles).await;
        })
    }

    fn detail(&self) -> Option<String> {
        Some(match self.names().len() {
            0 => "no services to supervise".to_string(),
            1 => "1 service".to_string(),
            n => format!("{n} services"),
        })
    }
}

/// Every service's name and status, by name.
pub fn statuses(core: &Core) -> Vec<(String, service::Status)> {
    let watchdog = get(core);
    let services = watchdog.services.lock().unwrap_or_else(|e| e.into_inner());
    services
        .iter()
        .map(|(name, h)| (name.clone(), h.snapshot()))
        .collect()
}

/// The `services` array of `paios status --json`.
pub fn status_json(core: &Core) -> Value {
    let watchdog = get(core);
    let services = watchdog.services.lock().unwrap_or_else(|e| e.into_inner());
    Value::Array(
        services
            .iter()
            .map(|(name, h)| h.snapshot().to_json(name))
            .collect(),
    )
}
