//! The guardian: watched configuration files (the `[[watch]]` tables and the brains' own
//! files) validated on every change, snapshotted, and rolled back before a bad edit becomes a
//! crash loop.
//!
//! Shape: [`config`] (the tables and the built-in list), [`check`] (syntax with line and
//! column, the brain's own validator with a timeout, the keys that changed), [`snapshots`]
//! (the content-addressed store and its index), [`ops`] (check / snapshot / diff / rollback /
//! undo, shared by `paios guard` and the daemon, under one lock). [`Guardian`] is the daemon's
//! [`Module`]: it watches the files' folders with `notify` (so an editor that replaces the
//! file by a rename, or a folder that vanishes and returns, is seen) and also looks at every
//! file once a second, debounces, validates, emits `config.changed` / `config.invalid`, and —
//! `rollback = "auto"` — restores an invalid, emptied or truncated file to its last good
//! version, raises an alert (runbook `configs`) and restarts the linked service through the
//! watchdog. A linked service that fails with a "do not restart" exit code (OpenClaw's 78)
//! makes it look at that service's files at once.
//!
//! A valid edit is never undone: it is snapshotted, becomes good once its service ran healthy
//! with it for `[guardian] healthy_s` (at once when no service uses it), and stays even if the
//! service then fails — the alert names `paios guard rollback NAME`. A deleted file is
//! reported by `paios guard check` but not recreated.
//!
//! Owns: watching, validating, snapshotting and restoring the watched files. Never: writes a
//! watched file except by restoring a snapshot, shows or records a value from one (only key
//! names), fights OpenClaw's own guards (its `.bak` ring, `*.rejected.*`, `*.clobbered.*` files
//! are left alone), or touches OpenClaw's SQLite state.

pub mod check;
pub mod config;
pub mod ops;
pub mod snapshots;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use notify::Watcher;
use serde_json::Value;

use crate::alerts::{self, Alert, AlertKind};
use crate::core::Core;
use crate::events::payload::{ConfigChanged, ConfigInvalid, ConfigRolledBack};
use crate::events::{Event, Kind};
use crate::module::{Module, ModuleError};
use config::{RollbackMode, WatchConfig, expand};
use snapshots::{Store, mode_of, sha256};

/// What the guardian last saw of one file.
#[derive(Default)]
struct Seen {
    /// SHA-256 of the content last handled (`None`: missing).
    sha: Option<String>,
    /// Its parsed tree, when it was valid (for the changed keys of the next version).
    tree: Option<Value>,
    /// A valid version waiting to become good: (snapshot id, since).
    pending: Option<(String, Instant)>,
}

/// The daemon's guardian (see the module docs).
#[derive(Default)]
pub struct Guardian {
    state: Mutex<(usize, usize)>,
}

impl Module for Guardian {
    fn name(&self) -> &'static str {
        "guardian"
    }

    fn start<'a>(&'a self, core: &'a Core) -> BoxFuture<'a, Result<(), ModuleError>> {
        Box::pin(async move {
            let core = core.clone();
            tokio::spawn(async move { run(core).await });
            Ok(())
        })
    }

    fn detail(&self) -> Option<String> {
        let (files, invalid) = *self.state.lock().unwrap_or_else(|e| e.into_inner());
        match (files, invalid) {
            (0, _) => None,
            (n, 0) => Some(format!("{n} watched files valid")),
            (n, bad) => Some(format!("{bad} of {n} watched files invalid")),
        }
    }
}

async fn run(core: Core) {
    let shutdown = core.shutdown_token();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
        let _ = tx.send(());
    });
    let mut watcher = match watcher {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "no file notifications: looking once a second only");
            None
        }
    };
    let mut watched_dirs: Vec<PathBuf> = Vec::new();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut events = core.subscribe();
    let mut first = true;
    loop {
        let config = core.config();
        let watches = config::resolve(&config, core.paths());
        // Watch each file's folder (a rename over the file replaces its inode); folders that
        // vanished and came back are watched again.
        if let Some(w) = watcher.as_mut() {
            let mut dirs: Vec<PathBuf> = watches
                .iter()
                .filter_map(|w| expand(&w.path).parent().map(PathBuf::from))
                .filter(|d| d.is_dir())
                .collect();
            dirs.sort();
            dirs.dedup();
            if dirs != watched_dirs {
                for d in &watched_dirs {
                    let _ = w.unwatch(d);
                }
                for d in &dirs {
                    if let Err(e) = w.watch(d, notify::RecursiveMode::NonRecursive) {
                        tracing::debug!(dir = %d.display(), error = %e, "cannot watch");
                    }
                }
                watched_dirs = dirs;
            }
        }
        let mut forced: Vec<String> = Vec::new();
        if !first {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = rx.recv() => {
                    // Debounce: take everything that arrives within the window as one change.
                    let window = Duration::from_millis(config.guardian.debounce_ms);
                    tokio::time::sleep(window).await;
                    while rx.try_recv().is_ok() {}
                }
                ev = events.recv() => {
                    if let Ok(ev) = ev
                        && ev.kind() == Some(Kind::ServiceFailed)
                    {
                        forced.push(ev.subject.clone());
                    }
                }
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        let mut invalid = 0;
        for w in &watches {
            let force = w.service.as_ref().is_some_and(|s| forced.contains(s));
            let entry = seen.entry(w.name.clone()).or_default();
            if !look(&core, w, entry, first, force).await {
                invalid += 1;
            }
            promote(&core, w, entry);
        }
        *core
            .modules()
            .guardian
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = (watches.len(), invalid);
        seen.retain(|name, _| watches.iter().any(|w| &w.name == name));
        first = false;
    }
}

/// Look at one file; handle it if it changed (or `force`). Returns whether it is valid (a
/// missing file counts as valid here: `paios guard check` reports it).
async fn look(core: &Core, w: &WatchConfig, seen: &mut Seen, first: bool, force: bool) -> bool {
    let path = expand(&w.path);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(_) => {
            seen.sha = None;
            return true;
        }
    };
    let sha = sha256(&bytes);
    if seen.sha.as_deref() == Some(sha.as_str()) && !force {
        return seen.tree.is_some();
    }
    let config = core.config();
    let timeout = Duration::from_secs(config.guardian.validate_timeout_s);
    let result = ops::validate(core.paths(), w, &path, &bytes, timeout).await;
    // The validator ran for a while: judge only the content it saw.
    if std::fs::read(&path).map(|b| sha256(&b)).ok().as_deref() != Some(sha.as_str()) {
        return true;
    }
    seen.sha = Some(sha);
    match result {
        Ok(tree) => {
            let id = add(core, w, &path, &bytes, true);
            let keys = seen
                .tree
                .as_ref()
                .map(|old| check::changed_keys(old, &tree))
                .unwrap_or_default();
            let changed = seen.tree.is_some() && !keys.is_empty();
            seen.tree = Some(tree);
            if let Some(id) = id {
                seen.pending = Some((id.clone(), Instant::now()));
                if changed && !first {
                    let payload = ConfigChanged {
                        path: path.to_string_lossy().into_owned(),
                        keys,
                        snapshot: Some(id),
                    };
                    core.emit(Event::of("guardian", &w.name, &payload)).await;
                }
            }
            true
        }
        Err(invalid) => {
            seen.tree = None;
            seen.pending = None;
            add(core, w, &path, &bytes, false);
            // paios.toml's invalid edits are reported by the core's own reload.
            if path != core.paths().config_file() {
                let payload = ConfigInvalid {
                    error: invalid.error.clone(),
                    path: path.to_string_lossy().into_owned(),
                    issues: invalid.issues.clone(),
                };
                core.emit(Event::of("guardian", &w.name, &payload)).await;
            }
            match w.rollback {
                RollbackMode::Auto => auto_rollback(core, w, seen, &invalid.error).await,
                RollbackMode::Ask | RollbackMode::Off => {
                    if w.rollback == RollbackMode::Ask {
                        let message = format!(
                            "{} is invalid: {}. Restore the last good version: paios guard rollback {}",
                            path.display(),
                            invalid.error,
                            w.name
                        );
                        let alert =
                            Alert::new(&w.name, AlertKind::ConfigInvalid, message, "configs");
                        alerts::raise(core, alert).await;
                    }
                    false
                }
            }
        }
    }
}

/// Snapshot the file as seen (under the store's lock); its id, or `None` when the store
/// cannot be written (logged).
fn add(
    core: &Core,
    w: &WatchConfig,
    path: &std::path::Path,
    bytes: &[u8],
    valid: bool,
) -> Option<String> {
    let keep = core.config().guardian.keep_snapshots;
    let result = Store::open(core.paths()).and_then(|mut store| {
        let id = store.add(&w.name, path, bytes, mode_of(path), "seen", valid, keep)?;
        store.save()?;
        Ok(id)
    });
    match result {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(watch = %w.name, error = %e, "cannot snapshot");
            None
        }
    }
}

/// Restore the last good version of an invalid file and restart its service. Returns whether
/// the file is valid afterwards.
async fn auto_rollback(core: &Core, w: &WatchConfig, seen: &mut Seen, why: &str) -> bool {
    let config = core.config();
    let restored = match ops::rollback(core.paths(), &config, w, None) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("{} is invalid ({why}) and cannot be restored: {e}", w.path);
            let alert = Alert::new(&w.name, AlertKind::ConfigInvalid, message, "configs");
            alerts::raise(core, alert).await;
            return false;
        }
    };
    let path = expand(&w.path);
    if let Ok(bytes) = std::fs::read(&path) {
        seen.sha = Some(sha256(&bytes));
        seen.tree = check::parse(w.format, &bytes).ok();
    }
    let payload = ConfigRolledBack {
        path: restored.path.clone(),
        restored: restored.restored.clone(),
        before: restored.before.clone(),
        keys: restored.keys.clone(),
        reason: "invalid".into(),
    };
    core.emit(Event::of("guardian", &w.name, &payload)).await;
    // About the service that reads the file when there is one: the incident closes when it
    // answers again after the restart.
    let component = w.service.clone().unwrap_or_else(|| w.name.clone());
    let mut alert = Alert::new(
        component,
        AlertKind::ConfigRolledBack,
        format!(
            "{} was invalid ({why}); restored snapshot {} (the bad version is snapshot {}: `paios guard undo` puts it back)",
            restored.path, restored.restored, restored.before
        ),
        "configs",
    );
    alert
        .details
        .insert("restored".into(), Value::String(restored.restored.clone()));
    alert
        .details
        .insert("before".into(), Value::String(restored.before.clone()));
    alert
        .details
        .insert("file".into(), Value::String(w.name.clone()));
    alerts::raise(core, alert).await;
    if let Some(service) = &w.service
        && let Some(handle) = crate::watchdog::get(core).service(service)
    {
        let failed = handle.snapshot().state == crate::watchdog::service::State::Failed;
        let command = if failed {
            crate::watchdog::service::Command::Start
        } else {
            crate::watchdog::service::Command::Restart
        };
        handle.request(command).await;
    }
    true
}

/// Mark a pending valid version good once its service ran healthy with it long enough (at
/// once when it has no supervised service).
fn promote(core: &Core, w: &WatchConfig, seen: &mut Seen) {
    let Some((id, since)) = seen.pending.clone() else {
        return;
    };
    let healthy_for = Duration::from_secs(core.config().guardian.healthy_s);
    let ready = match w
        .service
        .as_ref()
        .and_then(|s| crate::watchdog::get(core).service(s))
    {
        None => true,
        Some(handle) => {
            let state = handle.snapshot().state;
            let healthy = matches!(
                state,
                crate::watchdog::service::State::Running | crate::watchdog::service::State::Adopted
            );
            if !healthy {
                // Wait for a healthy stretch that starts now.
                seen.pending = Some((id.clone(), Instant::now()));
                return;
            }
            since.elapsed() >= healthy_for
        }
    };
    if !ready {
        return;
    }
    let marked = Store::open(core.paths()).and_then(|mut store| {
        store.mark_good(&w.name, &id);
        store.save()
    });
    if let Err(e) = marked {
        tracing::warn!(watch = %w.name, error = %e, "cannot mark the snapshot good");
        return;
    }
    seen.pending = None;
}
