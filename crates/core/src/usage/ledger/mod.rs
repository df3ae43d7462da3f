//! The usage ledger: an incremental, rebuildable SQLite file (`cache/usage.db`) fed from the
//! Claude Code and Codex logs and the OpenClaw gateway's session files.
//!
//! * Each log file is remembered by identity (device, inode, and a hash of its first bytes)
//!   and by the offset up to which it was read. A rerun reads only appended bytes. A file that
//!   shrank or was replaced makes the ledger rebuild from the logs on disk; a deleted file keeps
//!   the usage it had (the ledger is history: Claude Code prunes old logs).
//! * Every counted request is kept in `entries` (packed by key into shards: one row holds
//!   a few hundred requests), keyed so that a Claude message logged several times, in one file
//!   or many, counts once, with its largest usage (by (message id, request id)). `agg` holds
//!   per quarter-hour (UTC) sums by source, session and model, kept up to date by each ingest
//!   (a replaced request's old usage is taken out, the new put in), so reports in any time
//!   zone read a few thousand rows. Costs are summed in whole billionths of a dollar ([`Cost`]):
//!   a report does not depend on the order files were read in.
//! * Rows and offsets are committed in one transaction: a process killed mid-ingest leaves the
//!   previous state, and the next run reads the same bytes again.
//! * Two processes never ingest at once: an exclusive lock on `cache/usage.lock` serialises
//!   them (and SQLite's busy timeout covers readers).
//! * Costs are computed at ingest with the prices in force; when prices change (a new table or
//!   new overrides) the stored requests are re-priced in place (not rebuilt from the logs,
//!   which Claude Code prunes); a cost the log itself recorded is kept.
//!
//! Never writes paios.db and never writes the logs.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::entries::{self, Pending, SHARDS};
use super::parse;
use super::prices::Prices;
pub use super::source::{LogDirs, Source};

mod files;
mod hash;
mod read;
mod rollup;
mod scan;
#[cfg(test)]
mod tests;
mod transcripts;
mod write;

use files::{FileCheck, KnownFile, discover};
pub(crate) use hash::hash_of;
use read::Work;
use rollup::{AggDeltas, apply_deltas};
pub use rollup::{AggRow, BUCKET_MS, Cost};
pub use scan::{MAX_LINE_BYTES, exit_cleanly_on_sigbus};
use write::{WriteError, write_all};

/// Bump when the schema or the meaning of stored rows changes: the ledger then rebuilds.
const SCHEMA_VERSION: &str = "9";
/// Earlier versions whose stored requests this one reads (their ledgers are re-priced and kept,
/// not rebuilt).
const READABLE_VERSIONS: &[&str] = &["8", "7"];
/// Files at least this large are mapped rather than read when mapping is on.
const MAP_MIN: u64 = 1 << 20;
/// A WAL larger than this is checkpointed before the next ingest.
const WAL_LIMIT: u64 = 64 << 20;

/// Why the usage ledger could not be opened, read or written; the message names its file.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    // The cause is part of the message, and not also a `source` that a chain would print again.
    /// The SQLite database failed.
    #[error("usage ledger {path}: {cause}")]
    Db {
        /// The ledger file the error is about.
        path: String,
        /// What SQLite reported.
        cause: rusqlite::Error,
    },
    /// A file other than the database (the cache directory, the lock, a temporary file) failed.
    #[error("usage ledger {path}: {cause}")]
    Io {
        /// The file the error is about.
        path: String,
        /// What the system reported.
        cause: io::Error,
    },
}

/// One counted request, as the 5-hour windows need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// When the request was made, epoch milliseconds.
    pub ts: i64,
    /// The model that served it.
    pub model: String,
    /// Its tokens, by kind.
    pub tokens: parse::Tokens,
    /// Its cost in US dollars, as logged or computed from the prices.
    pub cost: f64,
}

/// What one ingest did (exposed in `--json` as `ingest`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestStats {
    /// Logs found on disk in this run.
    pub files_seen: u64,
    /// Files read at all in this run (new, grown, or all of them after a rebuild).
    pub files_read: u64,
    /// Known files that are gone from disk (their usage stays in the ledger).
    pub files_missing: u64,
    /// Bytes of log read in this run.
    pub bytes_read: u64,
    /// Lines that could carry usage and were parsed (the others are passed over unparsed).
    pub lines_parsed: u64,
    /// Requests found in the lines parsed and written to the ledger.
    pub usage_records: u64,
    /// Lines that could carry usage but did not parse.
    pub malformed_lines: u64,
    /// Lines longer than `MAX_LINE_BYTES`, counted and skipped.
    pub oversized_lines: u64,
    /// Logs that could not be opened this run (permissions): left as they were in the ledger,
    /// read when they can be.
    pub unreadable: Vec<PathBuf>,
    /// Whether the ledger was rebuilt from scratch (first run, truncated/replaced file, new
    /// format).
    pub rebuilt: bool,
    /// Why the ledger was rebuilt; `None` when it was not.
    pub rebuild_reason: Option<String>,
    /// Requests whose cost was computed again because the prices changed (the ledger keeps
    /// them, with the usage of logs pruned since).
    pub repriced: u64,
    /// How long the ingest took, in milliseconds.
    pub elapsed_ms: u64,
}

/// An open, locked ledger.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    /// The lock on `usage.lock` (`None` for a ledger opened only to read, see
    /// [`Ledger::open_warm`]).
    _lock: Option<File>,
    map_files: bool,
    decode: &'static dyn crate::usage::fields::Decode,
    /// Requests held in memory during an ingest before they are spilled (see `entries`).
    held_limit: usize,
    /// Why `open` emptied a ledger that had been built before (told by the next ingest).
    reset_reason: Option<&'static str>,
    /// Requests `open` re-priced (told by the next ingest).
    repriced: u64,
}

/// Whether another process holds the ledger's lock right now (it is updating the ledger, and
/// [`Ledger::open`] would wait for it).
pub fn is_busy(cache_dir: &Path) -> bool {
    let Ok(lock) = std::fs::OpenOptions::new()
        .write(true)
        .open(cache_dir.join("usage.lock"))
    else {
        return false;
    };
    match lock.try_lock() {
        Ok(()) => {
            let _ = lock.unlock();
            false
        }
        Err(e) => matches!(e, std::fs::TryLockError::WouldBlock),
    }
}

/// What `open` records as the previous version when it replaced a damaged file.
const DAMAGED: &str = "damaged";

/// Open the database with the ledger's settings; returns it and its stored version.
fn open_db(path: &Path) -> rusqlite::Result<(Connection, Option<String>)> {
    let conn = Connection::open(path)?;
    // A report does not wait for the WAL to be copied into the database and synced: that
    // is left to `checkpoint` (the daemon, after it ingests) or to a WAL grown past
    // WAL_LIMIT (checked before each ingest).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    conn.execute_batch(
        "PRAGMA page_size=65536; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;
         PRAGMA cache_size=-4000; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=0;
         CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS alerts_sent(key TEXT PRIMARY KEY, at TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS limits(brain TEXT PRIMARY KEY, until INTEGER NOT NULL, why TEXT NOT NULL);",
    )?;
    let version = conn
        .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?;
    Ok((conn, version))
}

/// The file is not an SQLite database, or a damaged one.
fn damaged(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

impl Ledger {
    /// The ledger as it is, to read only, without waiting for an ingest under way and without
    /// creating, rebuilding or re-pricing anything: `None` when there is no ledger of this
    /// version yet (nothing has read the logs). Reads see the last committed ingest.
    pub fn open_warm(cache_dir: &Path) -> Result<Option<Ledger>, LedgerError> {
        let path = cache_dir.join("usage.db");
        if !path.exists() {
            return Ok(None);
        }
        let db_err = |cause| LedgerError::Db {
            path: path.display().to_string(),
            cause,
        };
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err)?;
        conn.execute_batch("PRAGMA busy_timeout=200;")
            .map_err(db_err)?;
        let version = conn
            .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional();
        let version = match version {
            Ok(v) => v,
            // An empty file, or one another process is creating: nothing to read yet.
            Err(_) => return Ok(None),
        };
        let schema = version.as_deref().and_then(|v| v.split(':').next());
        if schema != Some(SCHEMA_VERSION) {
            return Ok(None);
        }
        Ok(Some(Ledger {
            conn,
            path,
            _lock: None,
            map_files: false,
            decode: crate::usage::fields::DEFAULT,
            held_limit: entries::HELD_LIMIT,
            reset_reason: None,
            repriced: 0,
        }))
    }

    /// Open (creating) `cache/usage.db`, waiting for any other process's ingest to finish.
    pub fn open(cache_dir: &Path, prices: &Prices) -> Result<Ledger, LedgerError> {
        let io_err = |path: &Path| {
            let path = path.display().to_string();
            move |cause| LedgerError::Io { path, cause }
        };
        crate::paths::create_private_dir(cache_dir).map_err(io_err(cache_dir))?;
        let lock_path = cache_dir.join("usage.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        lock.lock().map_err(io_err(&lock_path))?;
        let path = cache_dir.join("usage.db");
        let db_err = |cause| LedgerError::Db {
            path: path.display().to_string(),
            cause,
        };
        // The ledger is derived from the logs: a damaged file is set aside (for a look, if
        // wanted) and the ledger rebuilt, instead of every report failing until it is removed.
        let (conn, had) = match open_db(&path) {
            Err(e) if damaged(&e) => {
                let aside = cache_dir.join("usage.db.damaged");
                tracing::warn!(error = %e, aside = %aside.display(), "the usage ledger was damaged; rebuilding it");
                std::fs::rename(&path, &aside).map_err(io_err(&path))?;
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(cache_dir.join(format!("usage.db{suffix}")));
                }
                let (conn, _) = open_db(&path).map_err(db_err)?;
                (conn, Some(DAMAGED.to_string()))
            }
            other => other.map_err(db_err)?,
        };
        let mut ledger = Ledger {
            conn,
            path,
            _lock: Some(lock),
            map_files: false,
            decode: crate::usage::fields::DEFAULT,
            held_limit: entries::HELD_LIMIT,
            reset_reason: None,
            repriced: 0,
        };
        let want = format!("{SCHEMA_VERSION}:{}", prices.fingerprint);
        let (had_schema, had_prices) = had
            .as_deref()
            .and_then(|h| h.split_once(':'))
            .unwrap_or_default();
        let readable = had_schema == SCHEMA_VERSION || READABLE_VERSIONS.contains(&had_schema);
        if had.as_deref() != Some(want.as_str()) && readable {
            // Claude Code prunes old logs, so a ledger rebuilt from them would lose that usage:
            // the stored requests are kept, and re-priced when the prices changed.
            if had_prices != prices.fingerprint.to_string() {
                ledger.repriced = ledger.reprice(prices)?;
            }
            ledger.set_meta("version", &want)?;
        } else if had.as_deref() != Some(want.as_str()) {
            ledger.reset()?;
            ledger.set_meta("version", &want)?;
            ledger.reset_reason = had.map(|old| {
                if old == DAMAGED {
                    "the ledger file was damaged (set aside as usage.db.damaged)"
                } else {
                    "the ledger's format changed"
                }
            });
        }
        Ok(ledger)
    }

    fn db_err(&self) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        move |cause| LedgerError::Db {
            path: self.path.display().to_string(),
            cause,
        }
    }

    /// The ledger's SQLite connection, for queries of its own.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(drop)
            .map_err(self.db_err())
    }

    /// Compute again the cost of every stored request that was priced from the table (not
    /// those whose log recorded its cost), and the `agg` sums from them, in one transaction.
    /// Returns how many requests were re-priced.
    fn reprice(&mut self, prices: &Prices) -> Result<u64, LedgerError> {
        let path = self.path.display().to_string();
        let db = |cause| LedgerError::Db {
            path: path.clone(),
            cause,
        };
        let tx = self.conn.transaction().map_err(db)?;
        let repriced = (|| -> rusqlite::Result<u64> {
            let mut name_of = tx.prepare("SELECT name FROM names WHERE id = ?1")?;
            let mut load = tx.prepare("SELECT data FROM entries WHERE shard = ?1")?;
            let mut store = tx.prepare("UPDATE entries SET data = ?2 WHERE shard = ?1")?;
            let mut price_of: HashMap<i64, Option<super::prices::ModelPrice>> = HashMap::new();
            let mut deltas = AggDeltas::default();
            let mut repriced = 0u64;
            let mut records = Vec::new();
            let mut blob = Vec::new();
            for shard in 0..SHARDS as i64 {
                let Some(data) = load
                    .query_row([shard], |r| r.get::<_, Vec<u8>>(0))
                    .optional()?
                else {
                    continue;
                };
                records.clear();
                entries::decode_into(&data, &mut records);
                for (_, e) in &mut records {
                    if !e.logged_cost {
                        let price = match price_of.get(&e.model) {
                            Some(p) => *p,
                            None => {
                                let name: Option<String> =
                                    name_of.query_row([e.model], |r| r.get(0)).optional()?;
                                let p = name.and_then(|n| prices.find(&n).copied());
                                price_of.insert(e.model, p);
                                p
                            }
                        };
                        e.cost = price.map_or(0.0, |p| p.cost(&e.tokens));
                        repriced += 1;
                    }
                    deltas.add(e, 1);
                }
                blob.clear();
                entries::encode(&records, &mut blob);
                store.execute(params![shard, blob])?;
            }
            tx.execute("DELETE FROM agg", [])?;
            apply_deltas(&tx, deltas)?;
            Ok(repriced)
        })()
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(repriced)
    }

    /// Drop every derived table and recreate it empty.
    fn reset(&mut self) -> Result<(), LedgerError> {
        self.conn
            .execute_batch(
                "BEGIN;
                 DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS names;
                 DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS agg;
                 CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
                   source INTEGER NOT NULL, dev INTEGER NOT NULL, ino INTEGER NOT NULL,
                   offset INTEGER NOT NULL, head_len INTEGER NOT NULL, head_hash INTEGER NOT NULL,
                   state TEXT, missing INTEGER NOT NULL DEFAULT 0);
                 CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                 CREATE TABLE entries(shard INTEGER PRIMARY KEY, data BLOB NOT NULL);
                 CREATE TABLE agg(source INTEGER NOT NULL, bucket INTEGER NOT NULL,
                   session INTEGER NOT NULL, model INTEGER NOT NULL,
                   input INTEGER NOT NULL, output INTEGER NOT NULL, cache_write INTEGER NOT NULL,
                   cache_read INTEGER NOT NULL, reasoning INTEGER NOT NULL, cost_nanos INTEGER NOT NULL,
                   requests INTEGER NOT NULL, last_ts INTEGER NOT NULL,
                   PRIMARY KEY(source, bucket, session, model)) WITHOUT ROWID;
                 COMMIT;",
            )
            .map_err(self.db_err())
    }

    /// Read new files from their start through a memory map instead of `read`: no copy, which
    /// makes a cold ingest much cheaper. A file truncated while it is mapped raises SIGBUS, so
    /// only a short-lived command that has called [`exit_cleanly_on_sigbus`] turns this on (the
    /// daemon never does: it reads with `read`).
    pub fn map_files(&mut self, on: bool) {
        self.map_files = on;
    }

    /// Decode the logs' lines with `decode` instead of [`fields::DEFAULT`](crate::usage::fields::DEFAULT)
    /// (the benchmark compares decoders on the real ingest; the product never calls this).
    pub fn decode_with(&mut self, decode: &'static dyn crate::usage::fields::Decode) {
        self.decode = decode;
    }

    /// Hold at most this many requests in memory during an ingest (tests make it small).
    #[cfg(test)]
    fn hold_at_most(&mut self, limit: usize) {
        self.held_limit = limit;
    }

    /// Copy the WAL into the database file and empty it (for the daemon, after an ingest).
    pub fn checkpoint(&self) -> Result<(), LedgerError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(self.db_err())
    }

    /// Bring the ledger up to date with the logs in `dirs`.
    pub fn ingest(&mut self, dirs: &LogDirs, prices: &Prices) -> Result<IngestStats, LedgerError> {
        let started = Instant::now();
        let wal = self.path.with_extension("db-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LIMIT) {
            self.checkpoint()?;
        }
        let mut stats = IngestStats {
            repriced: std::mem::take(&mut self.repriced),
            ..IngestStats::default()
        };
        let discovered = discover(dirs);
        stats.files_seen = discovered.len() as u64;
        let known = self.known_files()?;
        let mut plan: Vec<Work> = Vec::new();
        let mut rebuild: Option<String> = None;
        let seen: HashSet<&PathBuf> = discovered.iter().map(|d| &d.path).collect();
        let mut unreadable: HashSet<&PathBuf> = HashSet::new();
        for file in &discovered {
            if file.unreadable {
                unreadable.insert(&file.path);
                continue;
            }
            match known.get(&file.path) {
                None => {
                    if File::open(&file.path).is_ok() {
                        plan.push(Work::new(file, None));
                    } else {
                        unreadable.insert(&file.path);
                    }
                }
                Some(k) => match k.check(file) {
                    FileCheck::Unchanged => {}
                    FileCheck::Unreadable => {
                        unreadable.insert(&file.path);
                    }
                    FileCheck::Grown => plan.push(Work::new(file, Some(k))),
                    FileCheck::Replaced(why) => {
                        rebuild.get_or_insert(format!("{} {why}", file.path.display()));
                    }
                },
            }
        }
        let gone: Vec<i64> = known
            .values()
            .filter(|k| !k.missing && !seen.contains(&k.path))
            .map(|k| k.id)
            .collect();
        stats.files_missing =
            known.values().filter(|k| k.missing).count() as u64 + gone.len() as u64;
        if known.is_empty() && !discovered.is_empty() {
            let why = self.reset_reason.take().unwrap_or("first run");
            rebuild.get_or_insert_with(|| why.into());
        }
        if let Some(reason) = &rebuild {
            if !known.is_empty() {
                self.reset()?;
            }
            stats.rebuilt = true;
            stats.rebuild_reason = Some(reason.clone());
            stats.files_missing = 0;
            plan = discovered
                .iter()
                .filter(|f| !unreadable.contains(&f.path) && !f.unreadable)
                .map(|f| Work::new(f, None))
                .collect();
        }
        stats.unreadable = unreadable.iter().map(|p| (*p).clone()).collect();
        stats.unreadable.sort();
        let fresh = known.is_empty() || rebuild.is_some();
        stats.files_read = plan.len() as u64;
        let tx = self.conn.transaction().map_err(|cause| LedgerError::Db {
            path: self.path.display().to_string(),
            cause,
        })?;
        for work in &mut plan {
            work.map = self.map_files && work.start == 0 && work.size >= MAP_MIN;
            work.decode = self.decode;
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let pending = Pending::new(dir, self.held_limit);
        let result = write_all(&tx, plan, prices, pending, fresh, &mut stats);
        let db_path = self.path.display().to_string();
        let db = |cause| LedgerError::Db {
            path: db_path.clone(),
            cause,
        };
        result.map_err(|e| match e {
            WriteError::Db(source) => db(source),
            WriteError::Spill(cause) => LedgerError::Io {
                path: format!("{} (temporary file)", dir.display()),
                cause,
            },
        })?;
        if rebuild.is_none() {
            for id in gone {
                tx.execute("UPDATE files SET missing = 1 WHERE id = ?1", [id])
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        stats.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(stats)
    }

    fn known_files(&self) -> Result<HashMap<PathBuf, KnownFile>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, path, source, dev, ino, offset, head_len, head_hash, state, missing FROM files")
            .map_err(self.db_err())?;
        let rows = stmt
            .query_map([], |r| {
                let path: String = r.get(1)?;
                Ok(KnownFile {
                    id: r.get(0)?,
                    path: PathBuf::from(path),
                    dev: r.get(3)?,
                    ino: r.get(4)?,
                    offset: r.get::<_, i64>(5)? as u64,
                    head_len: r.get::<_, i64>(6)? as usize,
                    head_hash: r.get(7)?,
                    state: r.get(8)?,
                    missing: r.get::<_, i64>(9)? != 0,
                })
            })
            .map_err(self.db_err())?;
        let mut out = HashMap::new();
        for row in rows {
            let row = row.map_err(self.db_err())?;
            out.insert(row.path.clone(), row);
        }
        Ok(out)
    }

    /// Remember that an alert with this key was raised; false if it already was.
    pub fn mark_alert(&self, key: &str) -> Result<bool, LedgerError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO alerts_sent(key, at) VALUES(?1, ?2)",
                params![key, crate::events::format_ts(&chrono::Utc::now())],
            )
            .map(|n| n == 1)
            .map_err(self.db_err())
    }

    /// Remember that `brain` hit a rate limit that lasts until `until` (epoch ms), and why.
    pub fn mark_limited(&self, brain: &str, until: i64, why: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO limits(brain, until, why) VALUES(?1, ?2, ?3)
                 ON CONFLICT(brain) DO UPDATE SET until = excluded.until, why = excluded.why",
                params![brain, until, why],
            )
            .map(drop)
            .map_err(self.db_err())
    }

    /// The limits runs hit: (brain, until epoch ms, why).
    pub fn limits(&self) -> Result<Vec<(String, i64, String)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT brain, until, why FROM limits")
            .map_err(self.db_err())?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.db_err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.db_err())
    }

    /// Every counted request of `source`, in time order (for the 5-hour windows, which depend
    /// on each request's time). Reads the whole `entries` table: a report over the ledger's
    /// whole history, not one for every command.
    pub fn requests(&self, source: Source) -> Result<Vec<Request>, LedgerError> {
        let names = self.names()?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM entries")
            .map_err(self.db_err())?;
        let mut rows = stmt.query([]).map_err(self.db_err())?;
        let mut out = Vec::new();
        let mut records = Vec::new();
        while let Some(row) = rows.next().map_err(self.db_err())? {
            let blob = row.get_ref(0).map_err(self.db_err())?;
            let blob = blob.as_blob().map_err(|e| self.db_err()(e.into()))?;
            records.clear();
            entries::decode_into(blob, &mut records);
            out.extend(
                records
                    .iter()
                    .filter(|(_, e)| e.source == source)
                    .map(|(_, e)| Request {
                        ts: e.ts,
                        model: names.get(&e.model).cloned().unwrap_or_default(),
                        tokens: e.tokens,
                        cost: e.cost,
                    }),
            );
        }
        // Equal times keep a stable order (by model), so a window's models list is the same run
        // after run.
        out.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.model.cmp(&b.model)));
        Ok(out)
    }

    /// The latest rate-limit snapshot any Codex log carried (by the time of its event).
    pub fn codex_rate_limits(&self) -> Result<Option<parse::RateLimits>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state FROM files WHERE source = ?1 AND state IS NOT NULL")
            .map_err(self.db_err())?;
        let states = stmt
            .query_map([Source::Codex as i64], |r| r.get::<_, String>(0))
            .map_err(self.db_err())?;
        let mut latest: Option<parse::RateLimits> = None;
        for state in states {
            let state = state.map_err(self.db_err())?;
            let Ok(state) = serde_json::from_str::<parse::CodexState>(&state) else {
                continue;
            };
            if let Some(l) = state.rate_limits
                && latest.is_none_or(|x| x.at_ms < l.at_ms)
            {
                latest = Some(l);
            }
        }
        Ok(latest)
    }

    fn names(&self) -> Result<HashMap<i64, String>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name FROM names")
            .map_err(self.db_err())?;
        stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.db_err())?
            .collect::<Result<HashMap<i64, String>, _>>()
            .map_err(self.db_err())
    }

    /// All aggregate rows (optionally of one source), for reports.
    pub fn rows(&self, source: Option<Source>) -> Result<Vec<AggRow>, LedgerError> {
        self.rows_since(source, i64::MIN)
    }

    /// The aggregate rows (optionally of one source) of the quarter hours from the one holding
    /// `since_ms` on: what a view of the last hours reads, not the whole history.
    pub fn rows_since(
        &self,
        source: Option<Source>,
        since_ms: i64,
    ) -> Result<Vec<AggRow>, LedgerError> {
        // Names are few (sessions and models): one read of them, not a join per row.
        let mut names_stmt = self
            .conn
            .prepare_cached("SELECT id, name FROM names")
            .map_err(self.db_err())?;
        let names = names_stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.db_err())?
            .collect::<Result<HashMap<i64, String>, _>>()
            .map_err(self.db_err())?;
        let name = |id: i64| names.get(&id).cloned().unwrap_or_default();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT source, bucket, session, model, input, output, cache_write,
                        cache_read, reasoning, cost_nanos, requests, last_ts
                 FROM agg WHERE (?1 IS NULL OR source = ?1) AND bucket >= ?2",
            )
            .map_err(self.db_err())?;
        let since = since_ms.div_euclid(BUCKET_MS);
        let rows = stmt
            .query_map(rusqlite::params![source.map(|s| s as i64), since], |r| {
                Ok(AggRow {
                    source: Source::from_i64(r.get(0)?),
                    bucket: r.get(1)?,
                    session: name(r.get(2)?),
                    model: name(r.get(3)?),
                    tokens: parse::Tokens {
                        input: r.get::<_, i64>(4)? as u64,
                        output: r.get::<_, i64>(5)? as u64,
                        cache_write: r.get::<_, i64>(6)? as u64,
                        cache_write_1h: 0,
                        cache_read: r.get::<_, i64>(7)? as u64,
                        reasoning: r.get::<_, i64>(8)? as u64,
                    },
                    cost: Cost(r.get(9)?),
                    requests: r.get::<_, i64>(10)? as u64,
                    last_ts: r.get(11)?,
                })
            })
            .map_err(self.db_err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db_err())
    }
}
