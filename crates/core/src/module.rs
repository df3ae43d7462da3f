//! One lifecycle for every part of the core that does work in the background.
//!
//! A [`Module`] is started once by [`crate::Core::start`], after the store is open and the spool
//! replayed, in the order of [`Modules::in_start_order`]; it is stopped once on shutdown, in the
//! reverse order, before the store drains; and it says how it is doing for `paios status`.
//! [`Modules`] is the one list of them, built in one place and owned by the core: a module's
//! state lives in its own value here, never in a global registry keyed by the home, so two
//! cores in one process (the tests, the app's attach/host switch) never see each other.
//!
//! Adding a module: give it a field in [`Modules`], build it in [`Modules::new`], and put it
//! in [`Modules::in_start_order`] after the modules it uses (everything may raise alerts, so
//! `alerts` starts first and stops last).
//!
//! Owns: start/stop order and each module's lifecycle state. Never: does a module's work.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use serde::Serialize;

use crate::core::Core;

/// Why a module could not start (the core still runs; the module reports `failed`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ModuleError(pub String);

impl ModuleError {
    /// An error with `message` as the text `paios status` shows.
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self(message.to_string())
    }
}

/// A part of the core with background work (see the module docs).
pub trait Module: Send + Sync {
    /// A short, stable name (`watchdog`, `alerts`, …), as `paios status --json` shows it.
    fn name(&self) -> &'static str;
    /// Start the module's background work. Called once.
    fn start<'a>(&'a self, core: &'a Core) -> BoxFuture<'a, Result<(), ModuleError>>;
    /// Stop it, and every child process it started, before the store closes. Called once;
    /// the default has nothing to stop.
    fn stop<'a>(&'a self, _core: &'a Core) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    /// One line on what it is doing, for `paios status` (`None`: nothing worth saying).
    fn detail(&self) -> Option<String> {
        None
    }
}

/// Where a module is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleState {
    /// Not started yet.
    Idle,
    /// Started successfully and not stopped yet.
    Running,
    /// Its start failed; the error is in [`ModuleStatus::error`].
    Failed,
    /// Stopped on shutdown (only a running module is stopped).
    Stopped,
}

/// One module in `paios status --json` (`modules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleStatus {
    /// [`Module::name`].
    pub name: &'static str,
    /// Where it is in its life.
    pub state: ModuleState,
    /// Why its start failed; `None` unless `state` is [`ModuleState::Failed`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// [`Module::detail`] at the time of asking; `None` when it has nothing to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The core's modules: the one list (see the module docs).
pub struct Modules {
    /// Open incidents and the desktop notifier; starts first, stops last.
    pub alerts: Arc<crate::alerts::Alerts>,
    /// Supervision of the configured services.
    pub watchdog: Arc<crate::watchdog::Watchdog>,
    /// The approvals queue (its state lives in the store).
    pub approvals: Arc<crate::approvals::Approvals>,
    /// Usage-log ingestion and budget alerts.
    pub usage: Arc<crate::usage::UsageWatch>,
    /// Probes of the MCP servers registered in the brains, and the mesh check.
    pub mcp: Arc<crate::mcp::watch::McpWatch>,
    /// Validation, snapshots and rollback of the watched configuration files.
    pub guardian: Arc<crate::guardian::Guardian>,
    states: Mutex<Vec<(&'static str, ModuleState, Option<String>)>>,
}

/// What the host of the core chooses about its modules.
#[derive(Clone)]
pub struct ModuleOptions {
    /// How alerts reach the user's desktop (the app passes its own; the daemon uses the
    /// platform's notification service).
    pub notifier: Arc<dyn crate::alerts::Notifier>,
}

impl Default for ModuleOptions {
    fn default() -> Self {
        Self {
            notifier: Arc::new(crate::alerts::DesktopNotifier),
        }
    }
}

impl Modules {
    /// Build every module (none started yet: all report [`ModuleState::Idle`]).
    pub fn new(options: ModuleOptions) -> Self {
        let modules = Self {
            alerts: Arc::new(crate::alerts::Alerts::new(options.notifier)),
            watchdog: Arc::new(crate::watchdog::Watchdog::default()),
            approvals: Arc::new(crate::approvals::Approvals),
            usage: Arc::new(crate::usage::UsageWatch),
            mcp: Arc::new(crate::mcp::watch::McpWatch::default()),
            guardian: Arc::new(crate::guardian::Guardian::default()),
            states: Mutex::new(Vec::new()),
        };
        let names = modules
            .in_start_order()
            .iter()
            .map(|m| (m.name(), ModuleState::Idle, None))
            .collect();
        *modules.states.lock().unwrap_or_else(|e| e.into_inner()) = names;
        modules
    }

    /// Every module, in the order they start (they stop in the reverse order).
    pub fn in_start_order(&self) -> Vec<Arc<dyn Module>> {
        vec![
            self.alerts.clone(),
            self.watchdog.clone(),
            self.guardian.clone(),
            self.approvals.clone(),
            self.usage.clone(),
            self.mcp.clone(),
        ]
    }

    /// Start every module in order; a module that fails to start is logged and reported as
    /// `failed`, and the others still start.
    pub async fn start_all(&self, core: &Core) {
        for module in self.in_start_order() {
            let result = module.start(core).await;
            if let Err(e) = &result {
                tracing::error!(module = module.name(), error = %e, "module failed to start");
            }
            self.set(
                module.name(),
                match &result {
                    Ok(()) => ModuleState::Running,
                    Err(_) => ModuleState::Failed,
                },
                result.err().map(|e| e.to_string()),
            );
        }
    }

    /// Stop every running module, in the reverse order.
    pub async fn stop_all(&self, core: &Core) {
        for module in self.in_start_order().into_iter().rev() {
            if self.state(module.name()) == Some(ModuleState::Running) {
                module.stop(core).await;
                self.set(module.name(), ModuleState::Stopped, None);
            }
        }
    }

    /// Every module's state, in start order.
    pub fn status(&self) -> Vec<ModuleStatus> {
        let states = self
            .states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.in_start_order()
            .iter()
            .zip(states)
            .map(|(module, (name, state, error))| ModuleStatus {
                name,
                state,
                error,
                detail: module.detail(),
            })
            .collect()
    }

    fn state(&self, name: &str) -> Option<ModuleState> {
        let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states.iter().find(|(n, ..)| *n == name).map(|(_, s, _)| *s)
    }

    fn set(&self, name: &'static str, state: ModuleState, error: Option<String>) {
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = states.iter_mut().find(|(n, ..)| *n == name) {
            entry.1 = state;
            entry.2 = error;
        }
    }
}
