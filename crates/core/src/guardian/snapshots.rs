//! The snapshot store: content-addressed blobs (`snapshots/objects/<sha256>`) and one index
//! (`snapshots/index.json`) of which version of which watched file was seen when, whether it
//! was valid, and which one is the last known good. Every write goes through
//! [`crate::atomic`], so a kill -9 leaves the old index or the new one; a blob is complete
//! before the index names it.
//!
//! Owns: the store's layout, retention, and the record of the last rollback (for
//! `paios guard undo`). Never: writes a watched file (see [`super::ops`]), stores anything
//! outside the PAIOS home, or keeps a version of OpenClaw's SQLite state.

use std::fs::File;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atomic::{self, Mode, PRIVATE};
use crate::paths::Paths;

/// One version of one watched file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Short id (`paios guard rollback NAME --to ID`): the first 12 hex digits of the hash.
    pub id: String,
    /// The watch's name.
    pub name: String,
    /// The file's path when it was taken.
    pub path: String,
    /// SHA-256 of the content (the blob's file name).
    pub sha256: String,
    /// The file's permission bits.
    pub mode: u32,
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// Why: `seen` (a change), `manual` (`paios guard snapshot`), `before-rollback` (the
    /// protective snapshot of what a rollback replaced).
    pub reason: String,
    /// It passed validation.
    pub valid: bool,
    /// It is known good (its service ran healthy with it, or it passed validation and no
    /// service uses it).
    pub good: bool,
}

/// The last rollback, so it can be undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRollback {
    /// The watch's name.
    pub name: String,
    /// The snapshot of what the rollback replaced.
    pub before: String,
    /// The snapshot it restored.
    pub restored: String,
}

/// The index file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Index {
    /// Every kept version, oldest first.
    pub entries: Vec<Entry>,
    /// The last rollback not yet undone.
    pub last_rollback: Option<LastRollback>,
}

/// The store of one PAIOS home, held under its lock while open (see [`Store::open`]).
pub struct Store {
    paths: Paths,
    _lock: File,
    /// The index as read (change it, then [`Store::save`]).
    pub index: Index,
}

/// SHA-256 of `bytes`, hex.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The permission bits of `path` (0o600 when unknown).
pub fn mode_of(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(PRIVATE)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        PRIVATE
    }
}

impl Store {
    /// Take the store's lock (blocking until the other holder lets go) and read the index. An
    /// unreadable index is set aside as `index.json.corrupt` and a new one started: the blobs
    /// stay.
    pub fn open(paths: &Paths) -> std::io::Result<Self> {
        std::fs::create_dir_all(paths.snapshot_objects_dir())?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(paths.snapshot_lock())?;
        lock.lock()?;
        let index = match std::fs::read(paths.snapshot_index()) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(index) => index,
                Err(e) => {
                    tracing::warn!(error = %e, "snapshot index unreadable: set aside");
                    let _ = std::fs::rename(
                        paths.snapshot_index(),
                        paths.snapshots_dir().join("index.json.corrupt"),
                    );
                    Index::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Index::default(),
            Err(e) => return Err(e),
        };
        Ok(Self {
            paths: paths.clone(),
            _lock: lock,
            index,
        })
    }

    /// Write the index (atomically).
    pub fn save(&self) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.index).map_err(std::io::Error::other)?;
        atomic::write_atomic(&self.paths.snapshot_index(), &bytes, Mode::Set(PRIVATE))
    }

    /// The content of a snapshot.
    pub fn read(&self, entry: &Entry) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.paths.snapshot_objects_dir().join(&entry.sha256))
    }

    /// Record `bytes` as the newest version of `name` (the blob first, then the entry; the
    /// caller saves). The newest entry of `name` with the same content is reused (its flags
    /// kept, `valid` updated). Returns the entry's id.
    #[allow(clippy::too_many_arguments)] // one version's facts, all needed, none optional
    pub fn add(
        &mut self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        reason: &str,
        valid: bool,
        keep: usize,
    ) -> std::io::Result<String> {
        let sha = sha256(bytes);
        atomic::create_new_atomic(
            &self.paths.snapshot_objects_dir().join(&sha),
            bytes,
            PRIVATE,
        )?;
        let id = sha[..12].to_string();
        if let Some(last) = self.index.entries.iter_mut().rev().find(|e| e.name == name)
            && last.sha256 == sha
            && last.mode == mode
        {
            // A protective snapshot only knows the syntax: it never overrides what a full
            // validation said of the same content.
            if reason != "before-rollback" {
                last.valid = valid;
                if !valid {
                    last.good = false;
                }
            }
            return Ok(id);
        }
        self.index.entries.push(Entry {
            id: id.clone(),
            name: name.into(),
            path: path.to_string_lossy().into_owned(),
            sha256: sha,
            mode,
            at: Utc::now(),
            reason: reason.into(),
            valid,
            good: false,
        });
        self.prune(name, keep);
        Ok(id)
    }

    /// Mark the newest entry of `name` with this id good.
    pub fn mark_good(&mut self, name: &str, id: &str) -> bool {
        match self
            .index
            .entries
            .iter_mut()
            .rev()
            .find(|e| e.name == name && e.id == id)
        {
            Some(e) if e.valid => {
                e.good = true;
                true
            }
            _ => false,
        }
    }

    /// The newest good version of `name`.
    pub fn last_good(&self, name: &str) -> Option<&Entry> {
        self.index
            .entries
            .iter()
            .rev()
            .find(|e| e.name == name && e.good)
    }

    /// The newest entry of `name` whose id starts with `id`.
    pub fn find(&self, name: &str, id: &str) -> Option<&Entry> {
        self.index
            .entries
            .iter()
            .rev()
            .find(|e| e.name == name && !id.is_empty() && e.id.starts_with(id))
    }

    /// The versions of `name`, oldest first.
    pub fn history(&self, name: &str) -> Vec<&Entry> {
        self.index
            .entries
            .iter()
            .filter(|e| e.name == name)
            .collect()
    }

    /// Keep at most `keep` entries of `name` (the newest good one always stays), and remove
    /// blobs no entry names.
    fn prune(&mut self, name: &str, keep: usize) {
        let good = self.last_good(name).map(|e| e.sha256.clone());
        let count = self.index.entries.iter().filter(|e| e.name == name).count();
        let mut excess = count.saturating_sub(keep);
        if excess == 0 {
            return;
        }
        let mut dropped = Vec::new();
        self.index.entries.retain(|e| {
            if excess > 0 && e.name == name && Some(&e.sha256) != good.as_ref() {
                excess -= 1;
                dropped.push(e.sha256.clone());
                false
            } else {
                true
            }
        });
        for sha in dropped {
            if !self.index.entries.iter().any(|e| e.sha256 == sha) {
                let _ = std::fs::remove_file(self.paths.snapshot_objects_dir().join(sha));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_kept_deduplicated_pruned_and_the_good_one_survives() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::at(dir.path());
        let file = dir.path().join("c.json");
        let mut store = Store::open(&paths).unwrap();
        let first = store
            .add("c", &file, b"{}", 0o600, "seen", true, 3)
            .unwrap();
        assert!(store.mark_good("c", &first));
        assert_eq!(
            store
                .add("c", &file, b"{}", 0o600, "seen", true, 3)
                .unwrap(),
            first
        );
        for i in 0..5 {
            store
                .add(
                    "c",
                    &file,
                    format!("{{\"a\":{i}}}").as_bytes(),
                    0o644,
                    "seen",
                    true,
                    3,
                )
                .unwrap();
        }
        assert_eq!(store.history("c").len(), 3);
        assert_eq!(store.last_good("c").unwrap().id, first);
        store.save().unwrap();
        drop(store);
        let store = Store::open(&paths).unwrap();
        let good = store.last_good("c").unwrap();
        assert_eq!(store.read(good).unwrap(), b"{}");
        let objects = std::fs::read_dir(paths.snapshot_objects_dir())
            .unwrap()
            .count();
        assert_eq!(objects, 3);
    }
}
