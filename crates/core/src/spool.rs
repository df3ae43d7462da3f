//! The spool: where events go when the daemon is down.
//!
//! Short-lived clients append one JSON event per line to `spool/events.jsonl`, under an
//! exclusive `flock`, and `fsync` before reporting success. The daemon claims the file by
//! renaming it (under the same lock) and replays it through the store; because every event
//! carries its creation-time `uid`, a replay interrupted by a crash and repeated stores each
//! event exactly once. Lines that are not valid events are kept in `spool/quarantine.jsonl`
//! and reported, never dropped silently.
//!
//! This module never talks to the daemon and never opens the database.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use crate::events::Event;

/// File name, inside the spool folder, of the live spool that clients append to.
pub const SPOOL_FILE: &str = "events.jsonl";
/// File name, inside the spool folder, where lines that were not valid events are kept.
pub const QUARANTINE_FILE: &str = "quarantine.jsonl";

/// Append one event to the spool and make it durable.
pub fn append(spool_dir: &Path, event: &Event) -> io::Result<()> {
    append_many(spool_dir, std::slice::from_ref(event))
}

/// Append events (one line each) with a single write, then fsync.
pub fn append_many(spool_dir: &Path, events: &[Event]) -> io::Result<()> {
    crate::paths::create_private_dir(spool_dir)?;
    let path = spool_dir.join(SPOOL_FILE);
    let mut buf = Vec::with_capacity(256 * events.len());
    for ev in events {
        serde_json::to_writer(&mut buf, ev).map_err(io::Error::other)?;
        buf.push(b'\n');
    }
    loop {
        let mut file = open_append(&path)?;
        file.lock()?;
        // The daemon may have renamed the file between our open and our lock: write only into
        // the file that is still at `path`, or the event would land in one already replayed.
        if !same_file(&file, &path)? {
            let _ = file.unlock();
            continue;
        }
        let result = write_whole_lines(&mut file, &buf);
        let _ = file.unlock();
        return result;
    }
}

/// Append `lines` as whole lines and sync. A line an earlier writer left unfinished (killed
/// mid-write, a full disk) is ended first, so these events are not glued to it and quarantined
/// with it; and a write that fails here is cut back off, leaving no fragment for the next one.
fn write_whole_lines(file: &mut File, lines: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let len = file.metadata()?.len();
    let mut last = [b'\n'];
    if len > 0 {
        file.read_exact_at(&mut last, len - 1)?;
    }
    let mut buf = Vec::with_capacity(lines.len() + 1);
    if last[0] != b'\n' {
        buf.push(b'\n');
    }
    buf.extend_from_slice(lines);
    let written = file.write_all(&buf).and_then(|()| file.sync_data());
    if written.is_err() {
        let _ = file.set_len(len);
    }
    written
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    // Readable too: the last byte is checked before appending (see `write_whole_lines`).
    opts.create(true).append(true).read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let a = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(b) => Ok(a.dev() == b.dev() && a.ino() == b.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> io::Result<bool> {
    Ok(path.exists())
}

/// A spool file claimed for replay. Call [`Claimed::finish`] after its events are stored.
pub struct Claimed {
    /// Where the claimed file now lives: `replay-<uuid>.jsonl` in the spool folder.
    pub path: PathBuf,
}

/// Atomically take every pending spool file: the live one (renamed under its lock) and any
/// claimed earlier but never finished (a crash during replay). Returns them oldest first.
pub fn claim(spool_dir: &Path) -> io::Result<Vec<Claimed>> {
    crate::paths::create_private_dir(spool_dir)?;
    let live = spool_dir.join(SPOOL_FILE);
    if live.exists() {
        let file = open_append(&live)?;
        file.lock()?;
        let target = spool_dir.join(format!("replay-{}.jsonl", uuid::Uuid::now_v7().simple()));
        let renamed = std::fs::rename(&live, &target);
        let _ = file.unlock();
        renamed?;
    }
    let mut claimed: Vec<PathBuf> = std::fs::read_dir(spool_dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("replay-") && n.ends_with(".jsonl"))
        })
        .collect();
    claimed.sort();
    Ok(claimed.into_iter().map(|path| Claimed { path }).collect())
}

/// One line that could not be parsed as an event.
#[derive(Debug, Clone, PartialEq)]
pub struct CorruptLine {
    /// 1-based line number in the spool file.
    pub line_number: usize,
    /// Why the line was refused: the JSON parse error or the event validation error.
    pub error: String,
    /// The line's raw bytes, without its newline (not necessarily UTF-8).
    pub bytes: Vec<u8>,
}

/// Parse spool bytes into events and corrupt lines. Never panics, whatever the bytes.
pub fn parse(bytes: &[u8]) -> (Vec<Event>, Vec<CorruptLine>) {
    let mut events = Vec::new();
    let mut corrupt = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match serde_json::from_slice::<Event>(line)
            .map_err(|e| e.to_string())
            .and_then(|ev| ev.validate().map(|_| ev))
        {
            Ok(mut ev) => {
                ev.id = None;
                events.push(ev);
            }
            Err(error) => corrupt.push(CorruptLine {
                line_number: i + 1,
                error,
                bytes: line.to_vec(),
            }),
        }
    }
    (events, corrupt)
}

/// Read a claimed file.
pub fn read_claimed(claimed: &Claimed) -> io::Result<(Vec<Event>, Vec<CorruptLine>)> {
    let bytes = std::fs::read(&claimed.path)?;
    Ok(parse(&bytes))
}

/// Keep corrupt lines in the quarantine file (one JSON record each, with the raw line lossily
/// decoded and base64-free for readability).
pub fn quarantine(spool_dir: &Path, from: &Path, lines: &[CorruptLine]) -> io::Result<PathBuf> {
    let path = spool_dir.join(QUARANTINE_FILE);
    let mut file = open_append(&path)?;
    let mut buf = Vec::new();
    for l in lines {
        serde_json::to_writer(
            &mut buf,
            &serde_json::json!({
                "from": from.file_name().map(|n| n.to_string_lossy().into_owned()),
                "line": l.line_number,
                "error": l.error,
                "raw": String::from_utf8_lossy(&l.bytes),
            }),
        )
        .map_err(io::Error::other)?;
        buf.push(b'\n');
    }
    file.write_all(&buf)?;
    file.sync_data()?;
    Ok(path)
}

impl Claimed {
    /// The events are stored (and corrupt lines quarantined): remove the file.
    pub fn finish(self) -> io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}

/// Count pending spooled lines (for `paios status`), without claiming.
pub fn pending(spool_dir: &Path) -> usize {
    let Ok(file) = File::open(spool_dir.join(SPOOL_FILE)) else {
        return 0;
    };
    io::BufReader::new(file).split(b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spooled_events_are_claimed_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = Event::new("a.a", "t");
        append(dir.path(), &a).unwrap();
        append(dir.path(), &Event::new("b.b", "t")).unwrap();
        let claimed = claim(dir.path()).unwrap();
        assert_eq!(claimed.len(), 1);
        let (events, corrupt) = read_claimed(&claimed[0]).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].uid, a.uid);
        assert!(corrupt.is_empty());
        // An unfinished claim is offered again (crash during replay) …
        assert_eq!(claim(dir.path()).unwrap().len(), 1);
        // … and a finished one never.
        for c in claim(dir.path()).unwrap() {
            c.finish().unwrap();
        }
        assert!(claim(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn an_event_after_a_torn_write_is_not_glued_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = Event::new("a.a", "t");
        append(dir.path(), &first).unwrap();
        // A writer killed mid-write (or a full disk) left half a line.
        let mut torn = OpenOptions::new()
            .append(true)
            .open(dir.path().join(SPOOL_FILE))
            .unwrap();
        torn.write_all(br#"{"uid":"partial"#).unwrap();
        let after = Event::new("b.b", "t");
        append(dir.path(), &after).unwrap();
        let claimed = claim(dir.path()).unwrap();
        let (events, corrupt) = read_claimed(&claimed[0]).unwrap();
        let uids: Vec<_> = events.iter().map(|e| e.uid.clone()).collect();
        assert_eq!(uids, vec![first.uid, after.uid]);
        assert_eq!(corrupt.len(), 1, "the fragment alone is quarantined");
    }

    #[test]
    fn corrupt_lines_are_reported_not_dropped() {
        let good = serde_json::to_string(&Event::new("a.a", "t")).unwrap();
        let bytes = format!("{good}\n{{not json\n\n{good}");
        let (events, corrupt) = parse(bytes.as_bytes());
        assert_eq!(events.len(), 2);
        assert_eq!(corrupt.len(), 1);
        assert_eq!(corrupt[0].line_number, 2);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let (events, corrupt) = parse(&bytes);
            let lines = bytes.split(|&b| b == b'\n').filter(|l| !l.iter().all(|b| b.is_ascii_whitespace())).count();
            proptest::prop_assert_eq!(events.len() + corrupt.len(), lines);
        }
    }
}
