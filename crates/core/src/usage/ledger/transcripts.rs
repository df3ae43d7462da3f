//! The current gateway's transcripts: one SQLite database per agent,
//! `agents/<agent>/agent/openclaw-agent.sqlite` under its state folder, whose
//! `transcript_events` table holds, per session (`session_id`, `seq`), the same JSON events its
//! older versions wrote as session files (`event_json`; an assistant `message` carries its
//! `usage`). Large events the gateway stores zstd-compressed (`event_zstd`); those are
//! decompressed (pure-Rust `ruzstd`, at most [`MAX_EVENT_BYTES`] out, so a corrupt or hostile
//! frame cannot exhaust memory); one that does not decompress is counted as oversized.
//!
//! Owns: reading that table read-only, from a high-water mark (its `rowid`): the ledger keeps
//! the mark as the "offset" it read a file to, and a hash of the mark row's `(session_id, seq)`
//! as its "head", so a database replaced or vacuumed (the mark row gone or renumbered) is read
//! again from the start.
//!
//! Never: writes the database, takes a lock that would block the gateway (a read-only
//! connection, `query_only`, a short busy timeout; WAL readers do not block its writer).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::hash::hash_of;

/// The file name of an agent's database.
pub(super) const DB_NAME: &str = "openclaw-agent.sqlite";

/// How long a read waits for the gateway's own lock before the database counts as unreadable
/// for this run.
const BUSY: Duration = Duration::from_millis(500);

/// Whether `name` is an agent's transcript database.
pub(super) fn is_db_name(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes() == DB_NAME.as_bytes()
}

/// Whether the log at `path` is an agent's transcript database.
pub(super) fn is_db(path: &Path) -> bool {
    path.file_name().is_some_and(is_db_name)
}

/// A read-only connection to the database at `path`.
pub(super) fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// The highest `rowid` of its transcript events (0 when it has none).
pub(super) fn high_water(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT coalesce(max(rowid), 0) FROM transcript_events",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|v| v.max(0) as u64)
}

/// A hash of the event at `rowid` (its session and place in it); 0 for `rowid` 0, and a
/// different value when the row is gone.
pub(super) fn mark(conn: &Connection, rowid: u64) -> rusqlite::Result<i64> {
    if rowid == 0 {
        return Ok(0);
    }
    let row: Option<(String, i64)> = conn
        .query_row(
            "SELECT session_id, seq FROM transcript_events WHERE rowid = ?1",
            [rowid as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match row {
        Some((session, seq)) => hash_of(&[session.as_bytes(), &seq.to_le_bytes()]),
        None => 1,
    })
}

/// One event after the mark.
pub(super) struct Event {
    /// Its `rowid`.
    pub(super) rowid: u64,
    /// Its session.
    pub(super) session: String,
    /// Its JSON; `None` when the gateway stored it compressed.
    pub(super) json: Option<String>,
}

/// Every event after `after`, in `rowid` order, handed to `each`.
pub(super) fn each_event(
    conn: &Connection,
    after: u64,
    each: &mut dyn FnMut(Event),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT rowid, session_id, event_json, event_zstd FROM transcript_events \
         WHERE rowid > ?1 ORDER BY rowid",
    )?;
    let mut rows = stmt.query([after as i64])?;
    while let Some(row) = rows.next()? {
        let json: Option<String> = row.get(2)?;
        let json = match json {
            Some(j) => Some(j),
            None => row
                .get::<_, Option<Vec<u8>>>(3)
                .ok()
                .flatten()
                .and_then(|z| decompress(&z)),
        };
        each(Event {
            rowid: row.get::<_, i64>(0)?.max(0) as u64,
            session: row.get(1)?,
            json,
        });
    }
    Ok(())
}

/// The most one compressed event may decompress to; a larger one is not read.
pub const MAX_EVENT_BYTES: u64 = 16 << 20;

/// One compressed event's JSON; `None` when it is not a zstd frame of UTF-8 within
/// [`MAX_EVENT_BYTES`].
fn decompress(frame: &[u8]) -> Option<String> {
    use std::io::Read;
    let decoder = ruzstd::decoding::StreamingDecoder::new(frame).ok()?;
    let mut out = Vec::new();
    decoder
        .take(MAX_EVENT_BYTES + 1)
        .read_to_end(&mut out)
        .ok()?;
    if out.len() as u64 > MAX_EVENT_BYTES {
        return None;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_compressed_event_is_read_and_a_corrupt_one_is_not() {
        let json = r#"{"type":"message","message":{"role":"assistant","usage":{"input":5}}}"#;
        let frame = ruzstd::encoding::compress_to_vec(
            json.as_bytes(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(decompress(&frame).as_deref(), Some(json));
        assert_eq!(
            decompress(&frame[..frame.len() / 2]),
            None,
            "a truncated frame"
        );
        assert_eq!(decompress(b"not zstd at all"), None);
    }

    #[test]
    fn a_frame_that_decompresses_past_the_limit_is_not_read() {
        let big = vec![b'a'; MAX_EVENT_BYTES as usize + 10];
        let frame = ruzstd::encoding::compress_to_vec(
            &big[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert!(
            frame.len() < 1 << 20,
            "it compresses well: a small frame, a large output"
        );
        assert_eq!(decompress(&frame), None);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decompress(&bytes);
        }
    }
}
