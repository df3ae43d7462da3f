//! What `paios guard` and the daemon's guardian do to watched files: check, snapshot, diff,
//! roll back, undo. Each runs under the snapshot store's lock, so the CLI (with or without the
//! daemon) and the daemon never interleave; a restore is one [`crate::atomic::write_atomic`]
//! (a reader, or a kill -9, sees the old file or the restored one, never a mix), taken after a
//! protective snapshot of what it replaces.
//!
//! Owns: the order of those steps. Never: restarts a service (the daemon does, through the
//! watchdog), emits events (the callers do), or prints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::check::{self, Invalid};
use super::config::{WatchConfig, expand};
use super::snapshots::{Store, mode_of};
use crate::atomic::{Mode, write_atomic};
use crate::config::Config;
use crate::paths::Paths;

/// Why a guard operation could not be done (every one is the user's to fix, said plainly).
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// No watch has that name.
    #[error("no watched file is named `{0}` (see `paios guard check`)")]
    UnknownName(String),
    /// Nothing to restore.
    #[error("`{0}` has no {1} snapshot to restore")]
    NoSnapshot(String, &'static str),
    /// No rollback to undo.
    #[error("there is no rollback to undo")]
    NothingToUndo,
    /// A file or the store could not be read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> GuardError {
    let what = what.to_string();
    move |e| GuardError::Io(what, e)
}

/// One row of `paios guard check --json`.
#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    /// The watch's name.
    pub name: String,
    /// The file.
    pub path: String,
    /// It parses and its validator accepts it.
    pub valid: bool,
    /// Why not (`None` when valid).
    pub error: Option<String>,
    /// The last good snapshot's id.
    pub last_good: Option<String>,
}

/// The result of a rollback or an undo.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// The watch's name.
    pub name: String,
    /// The file.
    pub path: String,
    /// The snapshot now in the file.
    pub restored: String,
    /// The protective snapshot of what it replaced.
    pub before: String,
    /// Keys that differ between the two (never values).
    pub keys: Vec<String>,
}

/// Where a brain named as a validator's program is (`openclaw` → the managed copy), with the
/// `PATH` it needs (its Node first).
fn resolve_program(paths: &Paths, argv: &[String]) -> (Vec<String>, Option<std::ffi::OsString>) {
    let mut argv = argv.to_vec();
    let Some(first) = argv.first() else {
        return (argv, None);
    };
    let Ok(brain) = first.parse::<crate::brains::Brain>() else {
        return (argv, None);
    };
    let Some(found) = crate::brains::resolve(paths, brain) else {
        return (argv, None);
    };
    argv[0] = found.path.to_string_lossy().into_owned();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(node) = crate::brains::node(paths)
        && let Some(dir) = node.path.parent()
    {
        dirs.push(dir.to_path_buf());
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    (argv, std::env::join_paths(dirs).ok())
}

/// Validate `bytes` as the content of `watch`'s file at `path`: syntax, then its validator
/// (which reads the file itself, so `bytes` must be what is on disk). Returns the parsed tree.
pub async fn validate(
    paths: &Paths,
    watch: &WatchConfig,
    path: &Path,
    bytes: &[u8],
    timeout: Duration,
) -> Result<Value, Invalid> {
    let tree = check::parse(watch.format, bytes)?;
    if let Some(argv) = &watch.validate {
        let (argv, path_var) = resolve_program(paths, argv);
        check::external(&argv, path, path_var.as_deref(), timeout).await?;
    }
    Ok(tree)
}

/// The watch named `name`.
pub fn find<'a>(watches: &'a [WatchConfig], name: &str) -> Result<&'a WatchConfig, GuardError> {
    watches
        .iter()
        .find(|w| w.name == name)
        .ok_or_else(|| GuardError::UnknownName(name.into()))
}

/// Check every watched file (`paios guard check`), snapshotting each valid one it has not
/// seen (a valid file no service uses is good at once).
pub async fn check_all(
    paths: &Paths,
    config: &Config,
    watches: &[WatchConfig],
) -> Result<Vec<FileCheck>, GuardError> {
    let timeout = Duration::from_secs(config.guardian.validate_timeout_s);
    let mut out = Vec::new();
    for w in watches {
        let path = expand(&w.path);
        let result = match std::fs::read(&path) {
            Ok(bytes) => validate(paths, w, &path, &bytes, timeout)
                .await
                .map(|_| bytes)
                .map_err(|i| i.error),
            Err(e) => Err(format!("cannot read it: {e}")),
        };
        let mut store = Store::open(paths).map_err(io("the snapshot store"))?;
        if let Ok(bytes) = &result {
            let id = store
                .add(
                    &w.name,
                    &path,
                    bytes,
                    mode_of(&path),
                    "seen",
                    true,
                    config.guardian.keep_snapshots,
                )
                .map_err(io("the snapshot store"))?;
            if w.service.is_none() {
                store.mark_good(&w.name, &id);
            }
            store.save().map_err(io("the snapshot index"))?;
        }
        out.push(FileCheck {
            name: w.name.clone(),
            path: path.to_string_lossy().into_owned(),
            valid: result.is_ok(),
            error: result.err(),
            last_good: store.last_good(&w.name).map(|e| e.id.clone()),
        });
    }
    Ok(out)
}

/// `paios guard snapshot`: snapshot every watched file that exists; each valid one becomes its
/// last good version (the user says it is). Returns (name, id, valid) per file.
pub async fn snapshot_all(
    paths: &Paths,
    config: &Config,
    watches: &[WatchConfig],
) -> Result<Vec<(String, String, bool)>, GuardError> {
    let timeout = Duration::from_secs(config.guardian.validate_timeout_s);
    let mut out = Vec::new();
    for w in watches {
        let path = expand(&w.path);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let valid = validate(paths, w, &path, &bytes, timeout).await.is_ok();
        let mut store = Store::open(paths).map_err(io("the snapshot store"))?;
        let id = store
            .add(
                &w.name,
                &path,
                &bytes,
                mode_of(&path),
                "manual",
                valid,
                config.guardian.keep_snapshots,
            )
            .map_err(io("the snapshot store"))?;
        if valid {
            store.mark_good(&w.name, &id);
        }
        store.save().map_err(io("the snapshot index"))?;
        out.push((w.name.clone(), id, valid));
    }
    Ok(out)
}

/// The last good snapshot's id, and the changed keys or why they cannot be known.
pub type Diff = (Option<String>, Result<Vec<String>, String>);

/// `paios guard diff NAME`: the keys that differ between the last good version and the file
/// now (`None` for the file's side when it does not parse).
pub fn diff(paths: &Paths, watch: &WatchConfig) -> Result<Diff, GuardError> {
    let path = expand(&watch.path);
    let store = Store::open(paths).map_err(io("the snapshot store"))?;
    let Some(good) = store.last_good(&watch.name).cloned() else {
        return Ok((None, Err("no good snapshot yet".into())));
    };
    let old = store.read(&good).map_err(io("the snapshot"))?;
    drop(store);
    let now = std::fs::read(&path).unwrap_or_default();
    let keys = match (
        check::parse(watch.format, &old),
        check::parse(watch.format, &now),
    ) {
        (Ok(a), Ok(b)) => Ok(check::changed_keys(&a, &b)),
        (_, Err(e)) => Err(e.error),
        (Err(e), _) => Err(format!("the snapshot does not parse: {}", e.error)),
    };
    Ok((Some(good.id), keys))
}

/// Restore `watch`'s file to snapshot `to` (a prefix of its id), or to its last good version:
/// a protective snapshot of the file now first, then one atomic write with the snapshot's
/// mode; the rollback is recorded for [`undo`].
pub fn rollback(
    paths: &Paths,
    config: &Config,
    watch: &WatchConfig,
    to: Option<&str>,
) -> Result<Restored, GuardError> {
    let mut store = Store::open(paths).map_err(io("the snapshot store"))?;
    let target = match to {
        Some(id) => store
            .find(&watch.name, id)
            .cloned()
            .ok_or(GuardError::NoSnapshot(watch.name.clone(), "such"))?,
        None => store
            .last_good(&watch.name)
            .cloned()
            .ok_or(GuardError::NoSnapshot(watch.name.clone(), "good"))?,
    };
    restore(paths, config, &mut store, watch, &target.id)
}

/// `paios guard undo`: put back what the last rollback replaced (itself after a protective
/// snapshot, so an undo can be rolled back too).
pub fn undo(
    paths: &Paths,
    config: &Config,
    watches: &[WatchConfig],
) -> Result<Restored, GuardError> {
    let mut store = Store::open(paths).map_err(io("the snapshot store"))?;
    let last = store
        .index
        .last_rollback
        .clone()
        .ok_or(GuardError::NothingToUndo)?;
    let watch = find(watches, &last.name)?;
    let restored = restore(paths, config, &mut store, watch, &last.before)?;
    store.index.last_rollback = None;
    store.save().map_err(io("the snapshot index"))?;
    Ok(restored)
}

fn restore(
    paths: &Paths,
    config: &Config,
    store: &mut Store,
    watch: &WatchConfig,
    id: &str,
) -> Result<Restored, GuardError> {
    let _ = paths;
    let path = expand(&watch.path);
    let target = store
        .find(&watch.name, id)
        .cloned()
        .ok_or(GuardError::NoSnapshot(watch.name.clone(), "such"))?;
    let bytes = store.read(&target).map_err(io("the snapshot"))?;
    let current = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(GuardError::Io(path.display().to_string(), e)),
    };
    let current_valid = check::parse(watch.format, &current).is_ok();
    let before = store
        .add(
            &watch.name,
            &path,
            &current,
            mode_of(&path),
            "before-rollback",
            current_valid,
            config.guardian.keep_snapshots,
        )
        .map_err(io("the snapshot store"))?;
    // The protective snapshot is in the index before the file changes.
    store.save().map_err(io("the snapshot index"))?;
    write_atomic(&path, &bytes, Mode::Set(target.mode)).map_err(io(path.display().to_string()))?;
    let keys = match (
        current_valid
            .then(|| check::parse(watch.format, &current).ok())
            .flatten(),
        check::parse(watch.format, &bytes).ok(),
    ) {
        (Some(a), Some(b)) => check::changed_keys(&a, &b),
        _ => Vec::new(),
    };
    // The restored version is the newest one seen again.
    store
        .add(
            &watch.name,
            &path,
            &bytes,
            target.mode,
            "restored",
            target.valid,
            config.guardian.keep_snapshots,
        )
        .map_err(io("the snapshot store"))?;
    if target.good {
        store.mark_good(&watch.name, &target.id);
    }
    store.index.last_rollback = Some(super::snapshots::LastRollback {
        name: watch.name.clone(),
        before: before.clone(),
        restored: target.id.clone(),
    });
    store.save().map_err(io("the snapshot index"))?;
    Ok(Restored {
        name: watch.name.clone(),
        path: path.to_string_lossy().into_owned(),
        restored: target.id,
        before,
        keys,
    })
}
