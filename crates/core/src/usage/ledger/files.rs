//! Finding the logs and recognising them again: discovery (each file once, links followed,
//! loops ended) and a file's identity (device, inode, a hash of its head, the offset read to).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::hash::hash_of;
use crate::usage::source::{LogDirs, Source};

/// Bytes of a file's head hashed to recognise it.
pub(super) const HEAD_BYTES: usize = 1024;

pub(super) struct Discovered {
    pub(super) path: PathBuf,
    pub(super) source: Source,
    /// The folder it was found under (for Codex session names).
    pub(super) root: PathBuf,
    pub(super) dev: i64,
    pub(super) ino: i64,
    /// A file's size; an OpenClaw transcript database's highest event `rowid`.
    pub(super) size: u64,
    /// A transcript database that could not be opened or queried now (garbage, locked).
    pub(super) unreadable: bool,
}

/// Every log under `dirs`, each file once: a folder or file reached again through a link (or a
/// second root naming the same folder) is not counted twice, and a link loop ends. Folders are
/// walked in name order, so which path stands for a linked file does not change between runs.
pub(super) fn discover(dirs: &LogDirs) -> Vec<Discovered> {
    let mut out = Vec::new();
    let mut folders = HashSet::new();
    let mut files = HashSet::new();
    let sources = [
        (Source::Claude, &dirs.claude),
        (Source::Codex, &dirs.codex),
        (Source::OpenClaw, &dirs.openclaw),
    ];
    for (source, roots) in sources {
        for root in roots {
            walk(root, source, &mut folders, &mut |path, meta| {
                if files.insert((meta.dev(), meta.ino())) {
                    let (size, unreadable) = if super::transcripts::is_db(path) {
                        match super::transcripts::open(path)
                            .and_then(|c| super::transcripts::high_water(&c))
                        {
                            Ok(rows) => (rows, false),
                            Err(e) => {
                                tracing::debug!(path = %path.display(), error = %e,
                                    "cannot read an OpenClaw transcript database");
                                (0, true)
                            }
                        }
                    } else {
                        (meta.len(), false)
                    };
                    out.push(Discovered {
                        path: path.to_path_buf(),
                        source,
                        root: root.clone(),
                        dev: meta.dev() as i64,
                        ino: meta.ino() as i64,
                        size,
                        unreadable,
                    })
                }
            });
        }
    }
    out
}

/// Whether a file of that name under one of `source`'s folders is one of its logs: a `.jsonl`
/// file, and for OpenClaw also the archived copies of a session the gateway keeps
/// (`<session>.jsonl.deleted.<when>`, `<session>.jsonl.reset.<when>`), as ccusage reads them,
/// and the current gateway's per-agent transcript databases (see [`super::transcripts`]).
pub(super) fn is_log(source: Source, name: &std::ffi::OsStr) -> bool {
    if source == Source::OpenClaw && super::transcripts::is_db_name(name) {
        return true;
    }
    let name = name.as_encoded_bytes();
    if name.ends_with(b".jsonl") {
        return true;
    }
    source == Source::OpenClaw
        && [&b".jsonl.deleted."[..], b".jsonl.reset."]
            .iter()
            .any(|mark| memchr::memmem::find(name, mark).is_some())
}

/// The session a log's file name stands for: the name up to `.jsonl` (OpenClaw's archived
/// copies of a session name the session they copy).
pub(super) fn session_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    match name.find(".jsonl") {
        Some(at) => name[..at].to_string(),
        None => name.into_owned(),
    }
}

pub(super) fn walk(
    dir: &Path,
    source: Source,
    folders: &mut HashSet<(u64, u64)>,
    found: &mut dyn FnMut(&Path, &std::fs::Metadata),
) {
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    if !folders.insert((meta.dev(), meta.ino())) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<std::fs::DirEntry> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, source, folders, found);
        } else if meta.is_file() && is_log(source, &entry.file_name()) {
            found(&path, &meta);
        }
    }
}

pub(super) struct KnownFile {
    pub(super) id: i64,
    pub(super) path: PathBuf,
    pub(super) dev: i64,
    pub(super) ino: i64,
    pub(super) offset: u64,
    pub(super) head_len: usize,
    pub(super) head_hash: i64,
    pub(super) state: Option<String>,
    pub(super) missing: bool,
}

pub(super) enum FileCheck {
    Unchanged,
    Grown,
    Replaced(&'static str),
    /// It cannot be opened now (permissions): left as it is, looked at again next run.
    Unreadable,
}

impl KnownFile {
    pub(super) fn check(&self, file: &Discovered) -> FileCheck {
        if (self.dev, self.ino) != (file.dev, file.ino) {
            return FileCheck::Replaced("was replaced");
        }
        if file.size < self.offset {
            return FileCheck::Replaced("was truncated");
        }
        if super::transcripts::is_db(&file.path) {
            // A database's "offset" is the rowid read to and its "head" that row's identity.
            let mark = super::transcripts::open(&file.path)
                .and_then(|c| super::transcripts::mark(&c, self.offset));
            return match mark {
                Err(_) => FileCheck::Unreadable,
                Ok(hash) if hash != self.head_hash => FileCheck::Replaced("was rewritten"),
                Ok(_) if file.size == self.offset && !self.missing => FileCheck::Unchanged,
                Ok(_) => FileCheck::Grown,
            };
        }
        if file.size == self.offset && !self.missing {
            return FileCheck::Unchanged;
        }
        let head = read_head(&file.path, self.head_len);
        if head.is_err() && File::open(&file.path).is_err() {
            return FileCheck::Unreadable;
        }
        match head {
            Ok((len, hash)) if len == self.head_len && hash == self.head_hash => {
                // A file back from missing is "grown" by nothing: its row is refreshed.
                if file.size == self.offset && !self.missing {
                    FileCheck::Unchanged
                } else {
                    FileCheck::Grown
                }
            }
            _ => FileCheck::Replaced("was rewritten"),
        }
    }
}

pub(super) fn read_head(path: &Path, len: usize) -> io::Result<(usize, i64)> {
    let mut buf = vec![0u8; len];
    let mut file = File::open(path)?;
    let mut filled = 0;
    while filled < len {
        let n = file.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok((filled, hash_of(&[&buf[..filled]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn a_log_that_cannot_be_opened_is_left_as_it_is_not_taken_for_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let known = KnownFile {
            id: 1,
            path: dir.path().join("gone.jsonl"),
            dev: 1,
            ino: 2,
            offset: 10,
            head_len: 10,
            head_hash: 3,
            state: None,
            missing: false,
        };
        let grown = Discovered {
            path: known.path.clone(),
            source: Source::Claude,
            root: dir.path().to_path_buf(),
            dev: 1,
            ino: 2,
            size: 20,
            unreadable: false,
        };
        // Opening fails (here: it vanished after discovery; for a user, its permissions).
        assert!(matches!(known.check(&grown), FileCheck::Unreadable));
    }

    #[test]
    pub(super) fn discovery_finds_the_logs_through_links_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("projects");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(root.join("p/sub")).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(root.join("p/a.jsonl"), "{}\n").unwrap();
        std::fs::write(root.join("p/sub/b.jsonl"), "{}\n{}\n").unwrap();
        std::fs::write(root.join("p/notes.txt"), "x").unwrap();
        std::fs::write(elsewhere.join("c.jsonl"), "{}\n{}\n{}\n").unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("linked-folder")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("c.jsonl"), root.join("p/d.jsonl")).unwrap();
        std::os::unix::fs::symlink(root.join("gone"), root.join("p/dangling.jsonl")).unwrap();
        // A link back up: a loop the walk must leave.
        std::os::unix::fs::symlink(&root, root.join("p/sub/loop")).unwrap();
        let dirs = LogDirs {
            claude: vec![root.clone()],
            codex: vec![],
            openclaw: vec![],
        };
        let mut found: Vec<(String, u64)> = discover(&dirs)
            .into_iter()
            .map(|d| {
                let name = d.path.strip_prefix(&root).unwrap().display().to_string();
                (name, d.size)
            })
            .collect();
        found.sort();
        // `p/d.jsonl` is `linked-folder/c.jsonl` again: counted once, under the first name.
        let want = [
            ("linked-folder/c.jsonl", 9),
            ("p/a.jsonl", 3),
            ("p/sub/b.jsonl", 6),
        ];
        let want: Vec<(String, u64)> = want.iter().map(|(n, s)| (n.to_string(), *s)).collect();
        assert_eq!(found, want);
    }
}
