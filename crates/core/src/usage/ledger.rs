//! The usage ledger: an incremental, rebuildable SQLite file (`cache/usage.db`) fed from the
//! Claude Code and Codex logs.
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
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::entries::{self, Entry, Pending, SHARDS, Spilled};
use super::parse::{self, CodexState, Line, Record};
use super::prices::Prices;

/// Bump when the schema or the meaning of stored rows changes: the ledger then rebuilds.
const SCHEMA_VERSION: &str = "8";
/// Earlier versions whose stored requests this one reads (their ledgers are re-priced and kept,
/// not rebuilt).
const READABLE_VERSIONS: &[&str] = &["7"];
/// Lines longer than this are counted and skipped without being held in memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Files at least this large are mapped rather than read when mapping is on.
const MAP_MIN: u64 = 1 << 20;
/// A WAL larger than this is checkpointed before the next ingest.
const WAL_LIMIT: u64 = 64 << 20;
/// Bytes of a file's head hashed to recognise it.
const HEAD_BYTES: usize = 1024;
/// Quarter-hours: every time zone in use is a whole number of them away from UTC.
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    // The cause is part of the message, and not also a `source` that a chain would print again.
    #[error("usage ledger {path}: {cause}")]
    Db {
        path: String,
        cause: rusqlite::Error,
    },
    #[error("usage ledger {path}: {cause}")]
    Io { path: String, cause: io::Error },
}

/// Which brain a log belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Claude = 0,
    Codex = 1,
}

impl Source {
    pub const ALL: [Source; 2] = [Source::Claude, Source::Codex];
    pub fn name(self) -> &'static str {
        match self {
            Source::Claude => "claude",
            Source::Codex => "codex",
        }
    }
    pub(crate) fn from_i64(v: i64) -> Source {
        if v == 1 {
            Source::Codex
        } else {
            Source::Claude
        }
    }
}

/// Where the logs are.
#[derive(Debug, Clone, Default)]
pub struct LogDirs {
    /// Claude Code `projects/` folders.
    pub claude: Vec<PathBuf>,
    /// Codex `sessions/` folders.
    pub codex: Vec<PathBuf>,
}

impl LogDirs {
    /// From paios.toml, else `$CLAUDE_CONFIG_DIR` / `$CODEX_HOME`, else `~/.claude`, `~/.codex`.
    /// `$CLAUDE_CONFIG_DIR` may list several folders separated by commas (as ccusage reads it),
    /// unless the whole value is an existing folder; `$CODEX_HOME` is one folder, as Codex reads
    /// it, commas and all.
    pub fn from_config(config: &super::config::UsageConfig) -> LogDirs {
        let pick = |configured: &Option<String>, env: &str, default: &str, list: bool| {
            if let Some(dir) = configured {
                return vec![crate::paths::expand_tilde(dir)];
            }
            match std::env::var(env) {
                Ok(v) if !v.trim().is_empty() => {
                    let whole = crate::paths::expand_tilde(v.trim());
                    if !list || whole.is_dir() {
                        return vec![whole];
                    }
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(crate::paths::expand_tilde)
                        .collect()
                }
                _ => vec![crate::paths::expand_tilde(default)],
            }
        };
        LogDirs {
            claude: pick(&config.claude_dir, "CLAUDE_CONFIG_DIR", "~/.claude", true)
                .into_iter()
                .map(|d| d.join("projects"))
                .collect(),
            codex: pick(&config.codex_dir, "CODEX_HOME", "~/.codex", false)
                .into_iter()
                .map(|d| d.join("sessions"))
                .collect(),
        }
    }
}

/// What one ingest did (exposed in `--json` as `ingest`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestStats {
    pub files_seen: u64,
    /// Files read at all in this run (new, grown, or all of them after a rebuild).
    pub files_read: u64,
    /// Known files that are gone from disk (their usage stays in the ledger).
    pub files_missing: u64,
    pub bytes_read: u64,
    /// Lines that could carry usage and were parsed (the others are passed over unparsed).
    pub lines_parsed: u64,
    pub usage_records: u64,
    pub malformed_lines: u64,
    pub oversized_lines: u64,
    /// Logs that could not be opened this run (permissions): left as they were in the ledger,
    /// read when they can be.
    pub unreadable: Vec<PathBuf>,
    /// Whether the ledger was rebuilt from scratch (first run, truncated/replaced file, new
    /// format).
    pub rebuilt: bool,
    pub rebuild_reason: Option<String>,
    /// Requests whose cost was computed again because the prices changed (the ledger keeps
    /// them, with the usage of logs pruned since).
    pub repriced: u64,
    pub elapsed_ms: u64,
}

/// An open, locked ledger.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    _lock: File,
    map_files: bool,
    /// Requests held in memory during an ingest before they are spilled (see `entries`).
    held_limit: usize,
    /// Why `open` emptied a ledger that had been built before (told by the next ingest).
    reset_reason: Option<&'static str>,
    /// Requests `open` re-priced (told by the next ingest).
    repriced: u64,
}

/// A 64-bit hash of `parts` (each prefixed with its length), eight bytes at a step, with a
/// final avalanche (so the top byte, which picks a key's shard, depends on every input bit).
/// Keys and file identities are stored, so the hash must never change between builds (std's
/// `DefaultHasher` may); changing it means bumping [`SCHEMA_VERSION`], so that ledgers rebuild.
pub(crate) fn hash_of(parts: &[&[u8]]) -> i64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    // Each step is a bijection of `h` for a given word, so inputs of one length that differ
    // in a single word never collide.
    let mut mix = |word: u64| h = (h ^ word).wrapping_mul(K).rotate_left(29);
    for p in parts {
        mix(p.len() as u64);
        let mut words = p.chunks_exact(8);
        for w in &mut words {
            mix(u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            mix(u64::from_le_bytes(last));
        }
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b53f_e1a8_5ec3);
    h ^= h >> 33;
    h as i64
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
         CREATE TABLE IF NOT EXISTS alerts_sent(key TEXT PRIMARY KEY, at TEXT NOT NULL);",
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
            _lock: lock,
            map_files: false,
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
                .filter(|f| !unreadable.contains(&f.path))
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

    /// All aggregate rows (optionally of one source), for reports.
    pub fn rows(&self, source: Option<Source>) -> Result<Vec<AggRow>, LedgerError> {
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
                 FROM agg WHERE ?1 IS NULL OR source = ?1",
            )
            .map_err(self.db_err())?;
        let rows = stmt
            .query_map([source.map(|s| s as i64)], |r| {
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

/// Sums for one (source, quarter-hour, session, model).
#[derive(Debug, Clone)]
pub struct AggRow {
    pub source: Source,
    pub bucket: i64,
    pub session: String,
    pub model: String,
    pub tokens: parse::Tokens,
    pub cost: Cost,
    pub requests: u64,
    pub last_ts: i64,
}

/// A sum of costs, kept exact: whole billionths of a dollar. A sum of floats depends on the
/// order its terms are added in (two builds of one ledger, whose readers finish files in
/// different orders, reported costs differing in the last digits); a sum of integers does not.
/// A request's cost is rounded once, to a billionth of a dollar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cost(pub i64);

impl Cost {
    pub fn of_usd(usd: f64) -> Cost {
        // `as` saturates, and makes NaN 0.
        Cost((usd * 1e9).round() as i64)
    }

    pub fn usd(self) -> f64 {
        self.0 as f64 / 1e9
    }

    fn times(self, k: i64) -> Cost {
        Cost(self.0.saturating_mul(k))
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Cost) {
        self.0 = self.0.saturating_add(other.0);
    }
}

// ---- discovery and file identity -------------------------------------------------------------

struct Discovered {
    path: PathBuf,
    source: Source,
    /// The folder it was found under (for Codex session names).
    root: PathBuf,
    dev: i64,
    ino: i64,
    size: u64,
}

/// Every log under `dirs`, each file once: a folder or file reached again through a link (or a
/// second root naming the same folder) is not counted twice, and a link loop ends. Folders are
/// walked in name order, so which path stands for a linked file does not change between runs.
fn discover(dirs: &LogDirs) -> Vec<Discovered> {
    let mut out = Vec::new();
    let mut folders = HashSet::new();
    let mut files = HashSet::new();
    for (source, roots) in [(Source::Claude, &dirs.claude), (Source::Codex, &dirs.codex)] {
        for root in roots {
            walk(root, &mut folders, &mut |path, meta| {
                if files.insert((meta.dev(), meta.ino())) {
                    out.push(Discovered {
                        path: path.to_path_buf(),
                        source,
                        root: root.clone(),
                        dev: meta.dev() as i64,
                        ino: meta.ino() as i64,
                        size: meta.len(),
                    })
                }
            });
        }
    }
    out
}

fn walk(
    dir: &Path,
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
            walk(&path, folders, found);
        } else if meta.is_file() && path.extension().is_some_and(|e| e == "jsonl") {
            found(&path, &meta);
        }
    }
}

struct KnownFile {
    id: i64,
    path: PathBuf,
    dev: i64,
    ino: i64,
    offset: u64,
    head_len: usize,
    head_hash: i64,
    state: Option<String>,
    missing: bool,
}

enum FileCheck {
    Unchanged,
    Grown,
    Replaced(&'static str),
    /// It cannot be opened now (permissions): left as it is, looked at again next run.
    Unreadable,
}

impl KnownFile {
    fn check(&self, file: &Discovered) -> FileCheck {
        if (self.dev, self.ino) != (file.dev, file.ino) {
            return FileCheck::Replaced("was replaced");
        }
        if file.size < self.offset {
            return FileCheck::Replaced("was truncated");
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

fn read_head(path: &Path, len: usize) -> io::Result<(usize, i64)> {
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

// ---- reading (parallel) ----------------------------------------------------------------------

struct Work {
    id: Option<i64>,
    path: PathBuf,
    source: Source,
    start: u64,
    size: u64,
    dev: i64,
    ino: i64,
    /// Claude: file stem; Codex: path under `sessions/` without extension.
    session: String,
    /// Read through a memory map (see [`Ledger::map_files`]).
    map: bool,
    codex: CodexState,
}

impl Work {
    fn new(file: &Discovered, known: Option<&KnownFile>) -> Work {
        let session = match file.source {
            Source::Claude => file
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Source::Codex => file
                .path
                .strip_prefix(&file.root)
                .unwrap_or(&file.path)
                .with_extension("")
                .to_string_lossy()
                .into_owned(),
        };
        Work {
            id: known.map(|k| k.id),
            path: file.path.clone(),
            source: file.source,
            start: known.map(|k| k.offset).unwrap_or(0),
            size: file.size,
            dev: file.dev,
            ino: file.ino,
            session,
            map: false,
            codex: known
                .and_then(|k| k.state.as_deref())
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
        }
    }
}

/// A request as a reader thread prepares it: everything but the database ids of its names,
/// which are indexes into its batch's `names`.
struct Prepared {
    key: i64,
    ts: i64,
    session: u32,
    model: u32,
    tokens: parse::Tokens,
    cost: f64,
    /// `cost` is the log's own (`costUSD`).
    logged: bool,
}

impl Prepared {
    fn total(&self) -> u64 {
        self.tokens.total()
    }
}

/// Requests read from one file, with the names they use.
#[derive(Default)]
struct Batch {
    names: Vec<String>,
    index: HashMap<String, u32>,
    entries: Vec<Prepared>,
}

impl Batch {
    fn name(&mut self, name: &str) -> u32 {
        // Lines of one file mostly repeat the names of the line before.
        if let Some(i) = self.names.iter().rev().take(2).position(|n| n == name) {
            return (self.names.len() - 1 - i) as u32;
        }
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }
}

enum Msg {
    Records(usize, Batch),
    Done(usize, FileDone),
}

/// A reader thread's messages to the writer, sent together once they hold about [`BATCH`]
/// requests: most files hold a few hundred, and a wake-up of the writer per file (twice: its
/// requests, then its end) cost more than handling them.
struct Outbox {
    tx: mpsc::SyncSender<Vec<Msg>>,
    msgs: Vec<Msg>,
    requests: usize,
}

impl Outbox {
    /// Queue `msg`, sending the queue when it is full; `false` once the writer has stopped
    /// listening.
    fn push(&mut self, msg: Msg) -> bool {
        if let Msg::Records(_, batch) = &msg {
            self.requests += batch.entries.len();
        }
        self.msgs.push(msg);
        self.requests < BATCH && self.msgs.len() < 64 || self.flush()
    }

    /// Send what is queued; `false` once the writer has stopped listening.
    fn flush(&mut self) -> bool {
        self.requests = 0;
        self.msgs.is_empty() || self.tx.send(std::mem::take(&mut self.msgs)).is_ok()
    }
}

struct FileDone {
    end: u64,
    codex: CodexState,
    head_len: usize,
    head_hash: i64,
    bytes_read: u64,
    lines_parsed: u64,
    malformed: u64,
    oversized: u64,
}

const BATCH: usize = 4096;

/// The key a request is counted under. Claude: its message and request ids (a message logged
/// again, in this file or another, has the same key). Codex: its place in its file.
fn request_key(work: &Work, offset: u64, r: &Record, session: &str) -> i64 {
    match &r.dedupe_key {
        Some((id, req)) => hash_of(&[
            id.as_bytes(),
            req.as_deref().unwrap_or("").as_bytes(),
            if req.is_none() {
                session.as_bytes()
            } else {
                b""
            },
        ]),
        None => hash_of(&[
            work.path.as_os_str().as_encoded_bytes(),
            &offset.to_le_bytes(),
        ]),
    }
}

/// Read one file from where the ledger stopped, sending its requests in batches.
/// Read one file's new lines (`buf`: the reader thread's buffer, kept from file to file).
fn read_file(
    work: &Work,
    index: usize,
    prices: &Prices,
    buf: &mut Vec<u8>,
    out: &mut Outbox,
) -> FileDone {
    let mut codex = work.codex.clone();
    let mut done = FileDone {
        end: work.start,
        codex: CodexState::default(),
        head_len: 0,
        head_hash: 0,
        bytes_read: 0,
        lines_parsed: 0,
        malformed: 0,
        oversized: 0,
    };
    let mut batch = Batch::default();
    // Prices of the models this file names (a handful).
    let mut price_of: Vec<(String, Option<&super::prices::ModelPrice>)> = Vec::new();
    let needles: Vec<memchr::memmem::Finder> = match work.source {
        Source::Claude => parse::CLAUDE_NEEDLES,
        Source::Codex => parse::CODEX_NEEDLES,
    }
    .iter()
    .map(memchr::memmem::Finder::new)
    .collect();
    let result = scan_lines(
        &work.path,
        work.start,
        &mut done,
        work.map,
        buf,
        &needles,
        |line, offset, done| {
            done.lines_parsed += 1;
            let parsed = match work.source {
                Source::Claude => parse::parse_claude_candidate(line),
                Source::Codex => parse::parse_codex_candidate(line, &mut codex),
            };
            let r = match parsed {
                Line::Usage(r) => r,
                Line::Malformed => return done.malformed += 1,
                Line::Ignored => return,
            };
            let session = r.session.as_deref().unwrap_or(&work.session);
            let key = request_key(work, offset, &r, session);
            // Claude Code logs a streamed message on consecutive lines with the same ids: keep the
            // largest here, so the writer sees each message about once.
            if let Some(last) = batch.entries.last()
                && last.key == key
                && last.total() >= r.tokens.total()
            {
                return;
            }
            let model = r.model.as_deref().unwrap_or("unknown");
            let prepared = Prepared {
                key,
                ts: r.ts_ms,
                session: batch.name(session),
                model: batch.name(model),
                tokens: r.tokens,
                logged: r.cost_usd.is_some(),
                cost: r
                    .cost_usd
                    .or_else(|| {
                        let price = match price_of.iter().find(|(m, _)| m == model) {
                            Some((_, p)) => *p,
                            None => {
                                let p = prices.find(model);
                                price_of.push((model.to_string(), p));
                                p
                            }
                        };
                        price.map(|p| p.cost(&r.tokens))
                    })
                    .unwrap_or(0.0),
            };
            match batch.entries.last_mut() {
                Some(last) if last.key == key => *last = prepared,
                _ => batch.entries.push(prepared),
            }
            if batch.entries.len() >= BATCH {
                out.push(Msg::Records(index, std::mem::take(&mut batch)));
            }
        },
    );
    if result.is_err() {
        // Unreadable now (permissions, vanished): keep what was read; retry next run.
        tracing::debug!(path = %work.path.display(), "could not read a usage log");
    }
    if !batch.entries.is_empty() {
        out.push(Msg::Records(index, batch));
    }
    done.codex = codex;
    let head_len = (done.end as usize).min(HEAD_BYTES);
    let (len, hash) = read_head(&work.path, head_len).unwrap_or((0, 0));
    done.head_len = len;
    done.head_hash = hash;
    done
}

/// Call `on_line` for every complete line from `start` that contains one of `needles` (with
/// its offset in the file); `done.end` ends up after the last complete line (an unterminated
/// tail is left for the next run: it may still be being written).
///
/// The needles are searched in whole buffers rather than line by line, so the many lines
/// without any cost one vector scan and no per-line work. Files are read with `read`, not
/// mapped: a log truncated while mapped would kill the process (SIGBUS).
fn scan_lines(
    path: &Path,
    start: u64,
    done: &mut FileDone,
    map: bool,
    buf: &mut Vec<u8>,
    needles: &[memchr::memmem::Finder],
    mut on_line: impl FnMut(&[u8], u64, &mut FileDone),
) -> io::Result<()> {
    if map {
        return scan_mapped(path, start, done, needles, on_line);
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    // Zeroed once per reader thread, not per file; a long line's room is not kept.
    buf.resize(1 << 18, 0);
    buf.shrink_to(1 << 18);
    let mut filled = 0usize;
    // Offset in the file of buf[0].
    let mut base = start;
    let mut skipping = false;
    loop {
        if filled == buf.len() {
            if buf.len() < MAX_LINE_BYTES {
                buf.resize((buf.len() * 2).min(MAX_LINE_BYTES), 0);
            } else {
                // One line fills the largest buffer: skip it up to its newline.
                done.oversized += 1;
                skipping = true;
                base += filled as u64;
                filled = 0;
            }
        }
        let n = file.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        done.bytes_read += n as u64;
        let chunk_start = filled;
        filled += n;
        let mut line_start = 0usize;
        if skipping {
            match memchr::memchr(b'\n', &buf[chunk_start..filled]) {
                Some(i) => {
                    line_start = chunk_start + i + 1;
                    skipping = false;
                    done.end = base + line_start as u64;
                }
                None => {
                    base += filled as u64;
                    filled = 0;
                    continue;
                }
            }
        }
        // The complete lines: up to the last newline (only the new bytes can hold one).
        let from = chunk_start.max(line_start);
        if let Some(last) = memchr::memrchr(b'\n', &buf[from..filled]) {
            let end = from + last + 1;
            let region = &buf[line_start..end];
            each_line_with(region, needles, |at, line| {
                on_line(line, base + (line_start + at) as u64, done)
            });
            line_start = end;
            done.end = base + end as u64;
        }
        if line_start > 0 {
            buf.copy_within(line_start..filled, 0);
            filled -= line_start;
            base += line_start as u64;
        }
        if buf.len() > (1 << 18) && filled < (1 << 17) {
            buf.truncate(1 << 18);
            buf.shrink_to_fit();
        }
    }
    Ok(())
}

/// [`scan_lines`] through memory-mapped windows of the file. Lines longer than
/// [`MAX_LINE_BYTES`] are counted and skipped as there.
fn scan_mapped(
    path: &Path,
    start: u64,
    done: &mut FileDone,
    needles: &[memchr::memmem::Finder],
    mut on_line: impl FnMut(&[u8], u64, &mut FileDone),
) -> io::Result<()> {
    // Windows bound the mapped (resident) part of a large file. A line that does not fit in
    // one is looked at again in a window that holds any line of the largest size that is read.
    const WINDOW: u64 = 8 << 20;
    const WIDE: u64 = 2 * MAX_LINE_BYTES as u64;
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut pos = start;
    let mut skipping = false;
    let mut want = WINDOW;
    while pos < len {
        let size = (len - pos).min(want);
        // SAFETY: the map is read-only and dropped before this function returns. The logs are
        // only ever appended to; a file truncated meanwhile raises SIGBUS, which the callers
        // that turn mapping on handle by exiting (see `Ledger::map_files`).
        let window = unsafe {
            memmap2::MmapOptions::new()
                .offset(pos)
                .len(size as usize)
                .map(&file)?
        };
        #[cfg(unix)]
        let _ = window.advise(memmap2::Advice::Sequential);
        let bytes = &window[..];
        let mut from = 0usize;
        if skipping {
            match memchr::memchr(b'\n', bytes) {
                Some(i) => {
                    from = i + 1;
                    skipping = false;
                }
                None => {
                    pos += size;
                    done.bytes_read += size;
                    continue;
                }
            }
        }
        let Some(last) = memchr::memrchr(b'\n', &bytes[from..]).map(|i| from + i) else {
            if size == want && want < WIDE {
                want = WIDE;
                continue;
            }
            if size == want {
                // No newline in a wide window: a line longer than any that is read.
                want = WINDOW;
                done.oversized += 1;
                skipping = true;
                pos += size;
                done.bytes_read += size;
                continue;
            }
            break; // an unterminated tail: left for the next run
        };
        want = WINDOW;
        let region = &bytes[from..=last];
        each_line_with(region, needles, |at, line| {
            if line.len() > MAX_LINE_BYTES {
                done.oversized += 1;
            } else {
                on_line(line, pos + (from + at) as u64, done)
            }
        });
        pos += last as u64 + 1;
        done.bytes_read += last as u64 + 1;
        done.end = pos;
    }
    Ok(())
}

/// Make SIGBUS (a log truncated while it was mapped, see [`Ledger::map_files`]) end the
/// process with a clear message and exit code 1 instead of a crash. Nothing is lost: the
/// ingest's transaction was not committed, and the next run reads the same bytes again.
pub fn exit_cleanly_on_sigbus() {
    extern "C" fn on_sigbus(_: libc::c_int) {
        const MSG: &[u8] = b"paios: a usage log changed size while it was being read; nothing was recorded, run the command again\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(1);
        }
    }
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_sigbus),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    // SAFETY: the handler only calls async-signal-safe functions.
    if let Err(e) =
        unsafe { nix::sys::signal::sigaction(nix::sys::signal::Signal::SIGBUS, &action) }
    {
        tracing::debug!(error = %e, "could not install the SIGBUS handler");
    }
}

/// Call `found(offset, line)` for each line of `region` (whole lines, ending with a newline)
/// that contains one of `needles`, in order, once. A trailing `\r` is not part of the line.
fn each_line_with(
    region: &[u8],
    needles: &[memchr::memmem::Finder],
    mut found: impl FnMut(usize, &[u8]),
) {
    // Next occurrence of each needle at or after `pos` (None: no more).
    let mut next: Vec<Option<usize>> = needles.iter().map(|f| f.find(region)).collect();
    let mut pos = 0;
    while let Some(hit) = next.iter().flatten().copied().min() {
        let line_from = pos + memchr::memrchr(b'\n', &region[pos..hit]).map_or(0, |i| i + 1);
        let line_end = hit + memchr::memchr(b'\n', &region[hit..]).unwrap_or(region.len() - hit);
        let mut line = &region[line_from..line_end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        found(line_from, line);
        pos = (line_end + 1).min(region.len());
        for (slot, finder) in next.iter_mut().zip(needles) {
            if slot.is_some_and(|at| at < pos) {
                *slot = finder.find(&region[pos..]).map(|at| pos + at);
            }
        }
    }
}

// ---- writing ---------------------------------------------------------------------------------

struct Names<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    cache: HashMap<String, i64>,
}

impl Names<'_> {
    fn id(&mut self, name: &str) -> rusqlite::Result<i64> {
        if let Some(&id) = self.cache.get(name) {
            return Ok(id);
        }
        // Statements compiled once: a cold ingest names thousands of sessions.
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO names(name) VALUES(?1)")?
            .execute([name])?;
        let id = self
            .tx
            .prepare_cached("SELECT id FROM names WHERE name = ?1")?
            .query_row([name], |r| r.get(0))?;
        self.cache.insert(name.to_string(), id);
        Ok(id)
    }
}

/// A multiply-mix hasher (as in FxHash) for maps keyed by request keys (already hashes) and by
/// agg cells (tuples of small ids): far cheaper than SipHash, and nothing here is untrusted.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.0 = (self.0.rotate_left(5) ^ v as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_u8(&mut self, v: u8) {
        self.write_i64(i64::from(v));
    }
    fn write_isize(&mut self, v: isize) {
        self.write_i64(v as i64);
    }
}

/// A change to one `agg` row: sums to add (negative when a request was replaced).
struct AggDelta {
    input: i64,
    output: i64,
    cache_write: i64,
    cache_read: i64,
    reasoning: i64,
    cost: Cost,
    requests: i64,
    last_ts: i64,
}

impl Default for AggDelta {
    fn default() -> Self {
        AggDelta {
            input: 0,
            output: 0,
            cache_write: 0,
            cache_read: 0,
            reasoning: 0,
            cost: Cost::default(),
            requests: 0,
            last_ts: i64::MIN,
        }
    }
}

impl AggDelta {
    fn add(&mut self, e: &Entry, sign: i64) {
        let t = &e.tokens;
        self.input += sign * t.input as i64;
        self.output += sign * t.output as i64;
        self.cache_write += sign * t.cache_write as i64;
        self.cache_read += sign * t.cache_read as i64;
        self.reasoning += sign * t.reasoning as i64;
        self.cost += Cost::of_usd(e.cost).times(sign);
        self.requests += sign;
        if sign > 0 {
            self.last_ts = self.last_ts.max(e.ts);
        }
    }

    fn absorb(&mut self, o: &AggDelta) {
        self.input += o.input;
        self.output += o.output;
        self.cache_write += o.cache_write;
        self.cache_read += o.cache_read;
        self.reasoning += o.reasoning;
        self.cost += o.cost;
        self.requests += o.requests;
        self.last_ts = self.last_ts.max(o.last_ts);
    }
}

/// An `agg` row's key: source, quarter-hour bucket, session id, model id.
type Cell = (Source, i64, i64, i64);

fn cell_of(e: &Entry) -> Cell {
    (e.source, e.ts.div_euclid(BUCKET_MS), e.session, e.model)
}

/// Changes to `agg` rows. Requests read in file order mostly fall in the cell of the one before
/// ([`AggDeltas::add_in_order`] keeps that cell aside); the others go to the map.
#[derive(Default)]
struct AggDeltas {
    cells: HashMap<Cell, AggDelta, std::hash::BuildHasherDefault<KeyHasher>>,
    last: Option<(Cell, AggDelta)>,
}

impl AggDeltas {
    fn add(&mut self, e: &Entry, sign: i64) {
        self.cells.entry(cell_of(e)).or_default().add(e, sign);
    }

    /// Add a request, cheaply when it falls in the same cell as the previous one.
    fn add_in_order(&mut self, e: &Entry) {
        let cell = cell_of(e);
        match &mut self.last {
            Some((c, d)) if *c == cell => d.add(e, 1),
            last => {
                let mut d = AggDelta::default();
                d.add(e, 1);
                if let Some((c, previous)) = last.replace((cell, d)) {
                    self.cells.entry(c).or_default().absorb(&previous);
                }
            }
        }
    }

    /// Add another set of changes to these.
    fn absorb(&mut self, mut other: AggDeltas) {
        other.flush();
        self.flush();
        for (cell, o) in &other.cells {
            self.cells.entry(*cell).or_default().absorb(o);
        }
    }

    fn flush(&mut self) {
        if let Some((c, d)) = self.last.take() {
            self.cells.entry(c).or_default().absorb(&d);
        }
    }

    /// Every changed cell.
    fn into_cells(mut self) -> impl Iterator<Item = (Cell, AggDelta)> {
        self.flush();
        self.cells.into_iter()
    }
}

/// Why writing an ingest's requests failed.
enum WriteError {
    Db(rusqlite::Error),
    /// The temporary file requests spill to (see `entries`).
    Spill(io::Error),
}

impl From<rusqlite::Error> for WriteError {
    fn from(e: rusqlite::Error) -> Self {
        WriteError::Db(e)
    }
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        WriteError::Spill(e)
    }
}

fn write_all(
    tx: &rusqlite::Transaction,
    plan: Vec<Work>,
    prices: &Prices,
    mut pending: Pending,
    fresh: bool,
    stats: &mut IngestStats,
) -> Result<(), WriteError> {
    if plan.is_empty() {
        return Ok(());
    }
    // Every request read, as it arrives (in file order, so mostly in the cell of the one before).
    let mut deltas = AggDeltas::default();
    let mut names = Names {
        tx,
        cache: HashMap::new(),
    };
    // Biggest first, so two readers finish together.
    let mut order: Vec<usize> = (0..plan.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(plan[i].size.saturating_sub(plan[i].start)));
    let next = AtomicUsize::new(0);
    // One reader more than the cores used: the writer takes a share of a core, and a reader
    // waiting for a page the cache had dropped leaves its core to another.
    let workers = (cores() + 1).min(plan.len());
    let (sender, receiver) = mpsc::sync_channel::<Vec<Msg>>(4);
    let mut failure: Option<WriteError> = None;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let (plan, order, next) = (&plan, &order, &next);
            scope.spawn(move || {
                let mut buf = Vec::new();
                let mut out = Outbox {
                    tx: sender,
                    msgs: Vec::new(),
                    requests: 0,
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&index) = order.get(i) else { break };
                    let done = read_file(&plan[index], index, prices, &mut buf, &mut out);
                    if !out.push(Msg::Done(index, done)) {
                        return;
                    }
                }
                out.flush();
            });
        }
        drop(sender);
        for msg in receiver.into_iter().flatten() {
            if failure.is_some() {
                continue;
            }
            let result = match msg {
                Msg::Records(index, batch) => (|| -> Result<(), WriteError> {
                    let source = plan[index].source;
                    let ids = batch
                        .names
                        .iter()
                        .map(|n| names.id(n))
                        .collect::<rusqlite::Result<Vec<i64>>>()?;
                    stats.usage_records += batch.entries.len() as u64;
                    for p in batch.entries {
                        let entry = Entry {
                            source,
                            ts: p.ts,
                            session: ids[p.session as usize],
                            model: ids[p.model as usize],
                            tokens: p.tokens,
                            cost: p.cost,
                            logged_cost: p.logged,
                        };
                        deltas.add_in_order(&entry);
                        pending.push(p.key, entry)?;
                    }
                    Ok(())
                })(),
                // Written while the readers work (the transaction makes it all or nothing).
                Msg::Done(index, done) => {
                    record_file(tx, &plan[index], &done, stats).map_err(WriteError::Db)
                }
            };
            if let Err(e) = result {
                failure = Some(e);
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    write_entries(tx, pending, deltas, fresh)?;
    Ok(())
}

/// Cores to use (at most four).
fn cores() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 4)
}

/// Record how far a file was read (its row in `files`), and its counts in `stats`.
fn record_file(
    tx: &rusqlite::Transaction,
    work: &Work,
    done: &FileDone,
    stats: &mut IngestStats,
) -> rusqlite::Result<()> {
    stats.bytes_read += done.bytes_read;
    stats.lines_parsed += done.lines_parsed;
    stats.malformed_lines += done.malformed;
    stats.oversized_lines += done.oversized;
    let state = match work.source {
        Source::Codex => Some(serde_json::to_string(&done.codex).unwrap_or_default()),
        Source::Claude => None,
    };
    tx.prepare_cached(
        "INSERT INTO files(id, path, source, dev, ino, offset, head_len, head_hash, state, missing)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0)
         ON CONFLICT(path) DO UPDATE SET dev = excluded.dev, ino = excluded.ino,
           offset = excluded.offset, head_len = excluded.head_len,
           head_hash = excluded.head_hash, state = excluded.state, missing = 0",
    )?
    .execute(params![
        work.id,
        work.path.to_string_lossy(),
        work.source as i64,
        work.dev,
        work.ino,
        done.end as i64,
        done.head_len as i64,
        done.head_hash,
        state
    ])?;
    Ok(())
}

/// Merge this run's requests (sorted by key) into a shard's stored ones (sorted by key). A
/// request already stored with at least as much usage changes nothing; a larger one replaces
/// it (its old sums are taken out of `agg`, the new ones put in).
fn merge(
    stored: Vec<(i64, Entry)>,
    new: Vec<(i64, Entry)>,
    deltas: &mut AggDeltas,
) -> Vec<(i64, Entry)> {
    // A shard new to the ledger (every shard of a first run) keeps this run's requests as they are.
    if stored.is_empty() {
        return new;
    }
    let mut out = Vec::with_capacity(stored.len() + new.len());
    let mut stored = stored.into_iter().peekable();
    for (key, e) in new {
        while let Some(s) = stored.next_if(|(k, _)| *k < key) {
            out.push(s);
        }
        // `e` is already counted in `agg` (as it was read): take out whichever loses.
        match stored.next_if(|(k, _)| *k == key) {
            Some((_, old)) if old.total() >= e.total() => {
                deltas.add(&e, -1);
                out.push((key, old));
            }
            Some((_, old)) => {
                deltas.add(&old, -1);
                out.push((key, e));
            }
            None => out.push((key, e)),
        }
    }
    out.extend(stored);
    out
}

/// A shard to merge: its number, this run's requests held in memory, its stored records.
type ShardWork = (usize, Vec<(i64, Entry)>, Vec<u8>);

/// One thread's share of a group of shards: the encoded shards.
type ShardsWritten = Vec<(usize, Vec<u8>)>;

/// Store the requests read in this run and bring `agg` up to date with them.
///
/// Shards are merged a group at a time, each group holding about half as many requests as
/// [`Pending`] holds at most, so memory stays bounded by that limit however large the ledger.
fn write_entries(
    tx: &rusqlite::Transaction,
    pending: Pending,
    read_deltas: AggDeltas,
    fresh: bool,
) -> Result<(), WriteError> {
    let limit = pending.limit();
    let (mut held, spilled) = pending.finish();
    let spilled_count = |shard: usize| spilled.as_ref().map_or(0, |s| s.count(shard));
    let touched: Vec<usize> = (0..SHARDS)
        .filter(|&s| !held[s].is_empty() || spilled_count(s) > 0)
        .collect();
    let mut load = tx.prepare("SELECT data FROM entries WHERE shard = ?1")?;
    let mut store = tx.prepare(
        "INSERT INTO entries(shard, data) VALUES(?1, ?2)
         ON CONFLICT(shard) DO UPDATE SET data = excluded.data",
    )?;
    let threads = cores();
    // The requests read are already in `read_deltas`; merging takes out those that lose to
    // another of the same key. One set of such changes per merging thread, kept from group to
    // group.
    let mut deltas: Vec<AggDeltas> = (0..threads).map(|_| AggDeltas::default()).collect();
    let mut group: Vec<ShardWork> = Vec::new();
    let mut group_size = 0;
    for (i, &shard) in touched.iter().enumerate() {
        // What the shard holds now (nothing on a fresh ledger).
        let stored = if fresh {
            Vec::new()
        } else {
            load.query_row([shard as i64], |r| r.get::<_, Vec<u8>>(0))
                .optional()?
                .unwrap_or_default()
        };
        let new = std::mem::take(&mut held[shard]);
        group_size += entries::count(&stored) + new.len() + spilled_count(shard);
        group.push((shard, new, stored));
        if group_size < limit / 2 && i + 1 < touched.len() {
            continue;
        }
        for blobs in merge_group(std::mem::take(&mut group), &spilled, &mut deltas)? {
            for (shard, blob) in blobs {
                store.execute(params![shard as i64, blob])?;
            }
        }
        group_size = 0;
    }
    if fresh {
        tx.execute("DELETE FROM agg", [])?;
    }
    let mut total = read_deltas;
    for part in deltas {
        total.absorb(part);
    }
    apply_deltas(tx, total)?;
    // A cell whose only request moved elsewhere (a replacement in another quarter-hour).
    tx.execute("DELETE FROM agg WHERE requests <= 0", [])?;
    Ok(())
}

/// Add changes to the `agg` rows (creating the rows they are the first of).
fn apply_deltas(tx: &rusqlite::Transaction, total: AggDeltas) -> rusqlite::Result<()> {
    let mut apply = tx.prepare(
        "INSERT INTO agg(source, bucket, session, model, input, output, cache_write, cache_read,
           reasoning, cost_nanos, requests, last_ts) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)
         ON CONFLICT(source, bucket, session, model) DO UPDATE SET
           input = input + excluded.input, output = output + excluded.output,
           cache_write = cache_write + excluded.cache_write,
           cache_read = cache_read + excluded.cache_read,
           reasoning = reasoning + excluded.reasoning,
           cost_nanos = cost_nanos + excluded.cost_nanos,
           requests = requests + excluded.requests, last_ts = max(last_ts, excluded.last_ts)",
    )?;
    let mut cells: Vec<_> = total.into_cells().collect();
    cells.sort_unstable_by_key(|(k, _)| *k);
    for ((source, bucket, session, model), d) in cells {
        apply.execute(params![
            source as i64,
            bucket,
            session,
            model,
            d.input,
            d.output,
            d.cache_write,
            d.cache_read,
            d.reasoning,
            d.cost.0,
            d.requests,
            d.last_ts
        ])?;
    }
    Ok(())
}

/// Merge a group of shards, split across as many threads as there are `deltas` (each thread
/// adds its `agg` changes to its own): each shard's new requests (held and spilled) are sorted,
/// one kept per key, and merged into what the shard stored (raw records).
fn merge_group(
    group: Vec<ShardWork>,
    spilled: &Option<Spilled>,
    deltas: &mut [AggDeltas],
) -> io::Result<Vec<ShardsWritten>> {
    let mut parts: Vec<Vec<_>> = (0..deltas.len().min(group.len()).max(1))
        .map(|_| Vec::new())
        .collect();
    let count = parts.len();
    for (i, shard) in group.into_iter().enumerate() {
        parts[i % count].push(shard);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .zip(deltas.iter_mut())
            .map(|(part, deltas)| {
                scope.spawn(move || -> io::Result<ShardsWritten> {
                    let mut blobs = Vec::with_capacity(part.len());
                    for (shard, mut new, stored) in part {
                        if let Some(s) = spilled {
                            s.take(shard, &mut new)?;
                        }
                        entries::dedupe(&mut new, |lost| deltas.add(lost, -1));
                        let merged = merge(entries::decode(&stored), new, deltas);
                        drop(stored);
                        let mut blob = Vec::new();
                        entries::encode(&merged, &mut blob);
                        blobs.push((shard, blob));
                    }
                    Ok(blobs)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a shard writer panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::entries::shard_of;

    /// Prices, and the log folders of a throw-away tree with Claude logs under `claude/`.
    fn claude_tree(root: &Path) -> (Prices, LogDirs) {
        let dirs = LogDirs {
            claude: vec![root.join("claude/projects")],
            codex: vec![],
        };
        (Prices::load(&Default::default()), dirs)
    }

    fn line(id: &str, output: u64) -> String {
        format!(
            r#"{{"timestamp":"2026-11-01T10:00:00Z","requestId":"r-{id}","message":{{"id":"{id}","model":"claude-haiku-4-5","usage":{{"input_tokens":1,"output_tokens":{output}}}}}}}"#
        )
    }

    /// Every `agg` row, each as text, sorted: two ledgers that counted alike give equal lists.
    fn sorted_rows(ledger: &Ledger) -> Vec<String> {
        let mut rows: Vec<String> = ledger
            .rows(None)
            .unwrap()
            .into_iter()
            .map(|r| {
                format!(
                    "{:?}",
                    (r.bucket, r.session, r.model, r.tokens, r.requests, r.cost)
                )
            })
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn sigbus_ends_the_process_with_a_message_and_exit_code_1() {
        use std::io::Read;
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        // SAFETY: the child only calls async-signal-safe functions (dup2, sigaction, raise,
        // and, in the handler, write and _exit) before it ends.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => unsafe {
                libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&write_end), 2);
                exit_cleanly_on_sigbus();
                libc::raise(libc::SIGBUS);
                libc::_exit(99);
            },
            nix::unistd::ForkResult::Parent { child } => {
                drop(write_end);
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                let mut said = String::new();
                std::fs::File::from(read_end)
                    .read_to_string(&mut said)
                    .unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 1));
                assert!(
                    said.contains("changed size while it was being read"),
                    "{said}"
                );
            }
        }
    }

    #[test]
    fn a_ledger_being_updated_elsewhere_is_seen_as_busy() {
        let dir = tempfile::tempdir().unwrap();
        let (prices, _) = claude_tree(dir.path());
        let cache = dir.path().join("cache");
        assert!(!is_busy(&cache), "no ledger yet");
        let ledger = Ledger::open(&cache, &prices).unwrap();
        assert!(is_busy(&cache));
        drop(ledger);
        assert!(!is_busy(&cache));
    }

    #[test]
    fn a_damaged_ledger_file_is_set_aside_and_rebuilt_from_the_logs() {
        let dir = tempfile::tempdir().unwrap();
        let (prices, dirs) = claude_tree(dir.path());
        let logs = dir.path().join("claude/projects/p");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("a.jsonl"), format!("{}\n", line("a1", 100))).unwrap();
        let cache = dir.path().join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("usage.db"), "not a database, just text").unwrap();
        let mut ledger = Ledger::open(&cache, &prices).unwrap();
        let stats = ledger.ingest(&dirs, &prices).unwrap();
        assert!(stats.rebuilt);
        assert!(
            stats.rebuild_reason.as_deref().unwrap().contains("damaged"),
            "{:?}",
            stats.rebuild_reason
        );
        assert_eq!(stats.usage_records, 1);
        assert_eq!(
            std::fs::read_to_string(cache.join("usage.db.damaged")).unwrap(),
            "not a database, just text"
        );
    }

    #[test]
    fn a_log_that_cannot_be_opened_is_left_as_it_is_not_taken_for_rewritten() {
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
        };
        // Opening fails (here: it vanished after discovery; for a user, its permissions).
        assert!(matches!(known.check(&grown), FileCheck::Unreadable));
    }

    /// Permissions do not stop root, so this one runs for other users only.
    #[test]
    fn an_unreadable_log_keeps_its_usage_and_is_read_once_it_can_be() {
        use std::os::unix::fs::PermissionsExt;
        if nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (prices, dirs) = claude_tree(dir.path());
        let logs = dir.path().join("claude/projects/p");
        std::fs::create_dir_all(&logs).unwrap();
        let a = logs.join("a.jsonl");
        std::fs::write(&a, format!("{}\n", line("a1", 100))).unwrap();
        std::fs::write(logs.join("b.jsonl"), format!("{}\n", line("b1", 10))).unwrap();
        let mut ledger = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
        ledger.ingest(&dirs, &prices).unwrap();
        let before = sorted_rows(&ledger);
        // It grows, and cannot be read any more.
        std::fs::write(&a, format!("{}\n{}\n", line("a1", 100), line("a2", 5))).unwrap();
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o000)).unwrap();
        let stats = ledger.ingest(&dirs, &prices).unwrap();
        assert!(!stats.rebuilt, "{:?}", stats.rebuild_reason);
        assert_eq!(stats.unreadable, vec![a.clone()]);
        assert_eq!(sorted_rows(&ledger), before, "a's usage so far is kept");
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o644)).unwrap();
        let stats = ledger.ingest(&dirs, &prices).unwrap();
        assert!(stats.unreadable.is_empty() && !stats.rebuilt);
        assert_eq!(stats.usage_records, 1, "only the new line is read");
    }

    #[test]
    fn discovery_finds_the_logs_through_links_and_nothing_else() {
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

    #[test]
    fn stored_hashes_are_stable() {
        // Fixed values, computed independently: a change here needs a SCHEMA_VERSION bump, or
        // every ledger would count old messages again.
        assert_eq!(hash_of(&[]), 0xd8f9_afb3_6db0_d9af_u64 as i64);
        assert_eq!(hash_of(&[b"a"]), 0x0592_c3f4_96c3_429f_u64 as i64);
        assert_eq!(
            hash_of(&[b"msg_01fJO11UqBxhEIxFmB9MAm8D", b"req_011C"]),
            0x7619_32e3_a338_fa51_u64 as i64
        );
        assert_ne!(hash_of(&[b"ab", b"c"]), hash_of(&[b"a", b"bc"]));
        assert_ne!(hash_of(&[b"a"]), hash_of(&[b"a\0"]));
        // Keys that differ in one byte differ in the byte that picks their shard, mostly.
        let shards: HashSet<usize> = (0..1000u32)
            .map(|n| shard_of(hash_of(&[format!("msg_{n:05}").as_bytes()])))
            .collect();
        assert!(shards.len() > 240, "{} shards used", shards.len());
    }

    #[test]
    fn enormous_lines_are_counted_and_skipped_without_losing_their_neighbours() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("claude/projects/p");
        std::fs::create_dir_all(&project).unwrap();
        let huge = format!(
            r#"{{"message":{{"usage":{{"input_tokens":1}},"content":"{}"}}}}"#,
            "x".repeat(MAX_LINE_BYTES + 10)
        );
        let text = format!("{}\n{huge}\n{}\n", line("a", 2), line("b", 3));
        std::fs::write(project.join("s.jsonl"), text).unwrap();
        let (prices, dirs) = claude_tree(dir.path());
        let mut ledger = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
        let stats = ledger.ingest(&dirs, &prices).unwrap();
        assert_eq!(stats.oversized_lines, 1);
        assert_eq!(stats.usage_records, 2);
        let rows = ledger.rows(None).unwrap();
        let output: u64 = rows.iter().map(|r| r.tokens.output).sum();
        assert_eq!(output, 5);
    }

    #[test]
    fn a_message_seen_again_in_a_later_run_replaces_its_smaller_self() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("claude/projects/p");
        std::fs::create_dir_all(&project).unwrap();
        let at = |id: &str, output: u64, time: &str| {
            line(id, output).replace("2026-11-01T10:00:00Z", &format!("2026-11-01T{time}Z"))
        };
        std::fs::write(
            project.join("one.jsonl"),
            format!("{}\n{}\n", at("a", 2, "10:00:00"), at("b", 4, "10:00:00")),
        )
        .unwrap();
        let (prices, dirs) = claude_tree(dir.path());
        let mut ledger = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
        ledger.ingest(&dirs, &prices).unwrap();
        // Later: `a` again with more output, logged in another quarter-hour of another file;
        // `b` again with less; and a new `c`.
        std::fs::write(
            project.join("two.jsonl"),
            format!(
                "{}\n{}\n{}\n",
                at("a", 9, "11:00:00"),
                at("b", 1, "11:00:00"),
                at("c", 5, "11:00:00")
            ),
        )
        .unwrap();
        let stats = ledger.ingest(&dirs, &prices).unwrap();
        assert!(!stats.rebuilt);
        let rows = ledger.rows(None).unwrap();
        let sum = |f: &dyn Fn(&AggRow) -> u64| rows.iter().map(f).sum::<u64>();
        assert_eq!(sum(&|r| r.tokens.output), 9 + 4 + 5);
        assert_eq!(sum(&|r| r.requests), 3);
        // `a` left the 10:00 quarter-hour: only `b` is counted there.
        let ten = rows
            .iter()
            .find(|r| r.bucket * BUCKET_MS % 86_400_000 == 36_000_000);
        assert_eq!(ten.map(|r| (r.requests, r.tokens.output)), Some((1, 4)));
        // A rebuild from scratch agrees.
        drop(ledger);
        std::fs::remove_dir_all(dir.path().join("cache")).unwrap();
        let mut fresh = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
        fresh.ingest(&dirs, &prices).unwrap();
        let again = fresh.rows(None).unwrap();
        assert_eq!(again.iter().map(|r| r.tokens.output).sum::<u64>(), 18);
        assert_eq!(again.len(), rows.len());
    }

    #[test]
    fn mapped_and_read_files_give_the_same_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("claude/projects/p");
        std::fs::create_dir_all(&project).unwrap();
        let filler = format!(
            r#"{{"type":"user","message":{{"content":"{}"}}}}"#,
            "x".repeat(900)
        );
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&line(&format!("m{i}"), i % 7 + 1));
            text.push_str(if i % 5 == 0 { "\r\n" } else { "\n" });
            text.push_str(&filler);
            text.push('\n');
        }
        let huge = format!(
            r#"{{"message":{{"usage":{{"input_tokens":1}},"content":"{}"}}}}"#,
            "x".repeat(MAX_LINE_BYTES + 10)
        );
        // Longer than a map window, shorter than the longest line that is read.
        let big = line("big", 6).replace(
            r#""input_tokens""#,
            &format!(r#""note":"{}","input_tokens""#, "y".repeat(10 << 20)),
        );
        text.push_str(&big);
        text.push('\n');
        text.push_str(&huge);
        text.push('\n');
        text.push_str(&line("last", 3));
        text.push('\n');
        // An unterminated tail waits for its newline.
        text.push_str(&line("tail", 4));
        std::fs::write(project.join("s.jsonl"), &text).unwrap();
        assert!(text.len() as u64 > MAP_MIN);
        let (prices, dirs) = claude_tree(dir.path());
        let ingest = |cache: &str, map: bool| {
            let mut ledger = Ledger::open(&dir.path().join(cache), &prices).unwrap();
            ledger.map_files(map);
            let stats = ledger.ingest(&dirs, &prices).unwrap();
            let rows = sorted_rows(&ledger);
            let end: i64 = ledger
                .connection()
                .query_row("SELECT offset FROM files", [], |r| r.get(0))
                .unwrap();
            (rows, end, stats)
        };
        let (mapped, mapped_end, mapped_stats) = ingest("mapped", true);
        let (read, read_end, read_stats) = ingest("read", false);
        assert_eq!(mapped, read);
        assert_eq!(mapped_end, read_end);
        assert_eq!(mapped_end as usize, text.len() - line("tail", 4).len());
        assert_eq!(
            (mapped_stats.usage_records, mapped_stats.oversized_lines),
            (read_stats.usage_records, read_stats.oversized_lines)
        );
        assert_eq!(mapped_stats.usage_records, 3002);
        assert_eq!(mapped_stats.oversized_lines, 1);
    }

    #[test]
    fn an_ingest_that_spills_requests_to_disk_counts_like_one_that_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("claude/projects/p");
        std::fs::create_dir_all(&project).unwrap();
        let at = |id: usize, output: usize, minute: usize| {
            line(&format!("m{id}"), output as u64).replace(
                "2026-11-01T10:00:00Z",
                &format!("2026-11-{:02}T10:{:02}:00Z", 1 + id % 3, minute % 60),
            )
        };
        // Messages logged again with growing usage, in the same file and in others.
        let mut files = vec![String::new(); 3];
        for id in 0..300 {
            for copy in 0..1 + id % 3 {
                files[(id + copy * 2) % 3].push_str(&(at(id, id % 11 + copy * 5, id) + "\n"));
            }
        }
        for (n, text) in files.iter().enumerate() {
            std::fs::write(project.join(format!("{n}.jsonl")), text).unwrap();
        }
        let (prices, dirs) = claude_tree(dir.path());
        let mut held = Ledger::open(&dir.path().join("held"), &prices).unwrap();
        let mut spilled = Ledger::open(&dir.path().join("spilled"), &prices).unwrap();
        spilled.hold_at_most(7);
        let state = |ledger: &Ledger| {
            let rows = sorted_rows(ledger);
            let mut blobs = ledger
                .connection()
                .prepare("SELECT data FROM entries")
                .unwrap();
            let stored: usize = blobs
                .query_map([], |r| r.get::<_, Vec<u8>>(0))
                .unwrap()
                .map(|blob| entries::decode(&blob.unwrap()).len())
                .sum();
            (rows, stored)
        };
        held.ingest(&dirs, &prices).unwrap();
        spilled.ingest(&dirs, &prices).unwrap();
        assert_eq!(state(&spilled), state(&held));
        assert_eq!(state(&held).1, 300);
        // A later run: known messages again (larger and smaller) and new ones.
        let more: String = (250..400)
            .map(|id| at(id, 20 - id % 3 * 10, id) + "\n")
            .collect();
        std::fs::write(project.join("3.jsonl"), more).unwrap();
        held.ingest(&dirs, &prices).unwrap();
        let stats = spilled.ingest(&dirs, &prices).unwrap();
        assert!(!stats.rebuilt);
        assert_eq!(state(&spilled), state(&held));
        assert_eq!(state(&held).1, 400);
        // Nothing but the ledger's own files is left beside it.
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("spilled"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["usage.db", "usage.db-shm", "usage.db-wal", "usage.lock"]
        );
    }

    #[test]
    fn a_streamed_message_counts_once_with_its_largest_usage() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("claude/projects/p");
        std::fs::create_dir_all(&project).unwrap();
        let text = format!("{}\n{}\n{}\n", line("a", 2), line("a", 9), line("a", 5));
        std::fs::write(project.join("one.jsonl"), &text).unwrap();
        // The same message again in another file (a resumed session).
        std::fs::write(project.join("two.jsonl"), line("a", 7) + "\n").unwrap();
        let (prices, dirs) = claude_tree(dir.path());
        let mut ledger = Ledger::open(&dir.path().join("cache"), &prices).unwrap();
        ledger.ingest(&dirs, &prices).unwrap();
        let rows = ledger.rows(None).unwrap();
        assert_eq!(rows.iter().map(|r| r.tokens.output).sum::<u64>(), 9);
        assert_eq!(rows.iter().map(|r| r.requests).sum::<u64>(), 1);
    }

    #[test]
    fn agg_cost_sums_do_not_depend_on_the_order_requests_arrive_in() {
        // As floats, (0.1 + 0.2) + 0.3 and (0.3 + 0.2) + 0.1 differ in the last digit.
        let sums = |costs: [f64; 3]| {
            let mut deltas = AggDeltas::default();
            for (i, cost) in costs.into_iter().enumerate() {
                deltas.add_in_order(&Entry {
                    source: Source::Claude,
                    ts: i as i64,
                    session: 1,
                    model: 2,
                    tokens: parse::Tokens::default(),
                    cost,
                    logged_cost: false,
                });
            }
            let cells: Vec<_> = deltas.into_cells().map(|(_, d)| d.cost).collect();
            assert_eq!(cells.len(), 1);
            cells[0]
        };
        let forward = sums([0.1, 0.2, 0.3]);
        assert_eq!(forward, sums([0.3, 0.2, 0.1]));
        assert_eq!(forward.usd(), 0.6);
    }

    /// Claude Code prunes old logs: new prices re-price the requests the ledger holds instead
    /// of rebuilding it from the logs left, so the pruned logs' usage stays, at the new prices
    /// (a cost the log recorded stays as it was; one-hour cache writes keep their own rate).
    #[test]
    fn new_prices_reprice_the_stored_requests_and_keep_the_usage_of_pruned_logs() {
        let dir = tempfile::tempdir().unwrap();
        let write_logs = |root: &Path| {
            let project = root.join("claude/projects/p");
            std::fs::create_dir_all(&project).unwrap();
            std::fs::write(project.join("one.jsonl"), line("a", 1000) + "\n").unwrap();
            let cached = r#"{"timestamp":"2026-11-01T11:00:00Z","requestId":"r-c","message":{"id":"c","model":"claude-haiku-4-5","usage":{"input_tokens":5,"output_tokens":7,"cache_creation_input_tokens":300,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200}}}}"#;
            let logged = r#"{"timestamp":"2026-11-01T12:00:00Z","costUSD":0.5,"requestId":"r-d","message":{"id":"d","model":"claude-haiku-4-5","usage":{"input_tokens":1,"output_tokens":9}}}"#;
            std::fs::write(
                project.join("two.jsonl"),
                format!("{}\n{cached}\n{logged}\n", line("b", 2000)),
            )
            .unwrap();
        };
        write_logs(dir.path());
        let (old, dirs) = claude_tree(dir.path());
        let cache = dir.path().join("cache");
        Ledger::open(&cache, &old)
            .unwrap()
            .ingest(&dirs, &old)
            .unwrap();
        std::fs::remove_file(dir.path().join("claude/projects/p/one.jsonl")).unwrap();
        Ledger::open(&cache, &old)
            .unwrap()
            .ingest(&dirs, &old)
            .unwrap();

        let mut overrides = std::collections::BTreeMap::new();
        overrides.insert(
            "claude-haiku-4-5".to_string(),
            crate::usage::config::PriceOverride {
                input: Some(3.0),
                output: Some(20.0),
                ..Default::default()
            },
        );
        let new = Prices::load(&overrides);
        let mut ledger = Ledger::open(&cache, &new).unwrap();
        let stats = ledger.ingest(&dirs, &new).unwrap();
        assert!(!stats.rebuilt, "{:?}", stats.rebuild_reason);
        assert_eq!(stats.repriced, 3, "a, b and c; d's cost is the log's");

        // The same as a ledger built at the new prices from all the logs.
        let whole = tempfile::tempdir().unwrap();
        write_logs(whole.path());
        let (_, whole_dirs) = claude_tree(whole.path());
        let mut fresh = Ledger::open(&whole.path().join("cache"), &new).unwrap();
        fresh.ingest(&whole_dirs, &new).unwrap();
        assert_eq!(sorted_rows(&ledger), sorted_rows(&fresh));
        let total = |l: &Ledger| {
            l.rows(None)
                .unwrap()
                .iter()
                .map(|r| r.requests)
                .sum::<u64>()
        };
        assert_eq!(total(&ledger), 4);
        // And the prices did change the costs.
        let mut before = Ledger::open(&whole.path().join("old-cache"), &old).unwrap();
        before.ingest(&whole_dirs, &old).unwrap();
        assert_ne!(sorted_rows(&before), sorted_rows(&fresh));
        drop((ledger, fresh, before));

        // A ledger of the previous format is read, re-priced and kept too.
        {
            let ledger = Ledger::open(&cache, &new).unwrap();
            ledger
                .set_meta("version", &format!("7:{}", old.fingerprint))
                .unwrap();
        }
        let mut ledger = Ledger::open(&cache, &new).unwrap();
        let stats = ledger.ingest(&dirs, &new).unwrap();
        assert!(!stats.rebuilt && stats.repriced == 3, "{stats:?}");
        assert_eq!(total(&ledger), 4);
    }

    #[test]
    fn a_rebuild_says_why_the_ledger_was_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("claude/projects/p");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("one.jsonl"), line("a", 2) + "\n").unwrap();
        let (prices, dirs) = claude_tree(dir.path());
        let cache = dir.path().join("cache");
        let reason = |prices: &Prices| {
            let mut ledger = Ledger::open(&cache, prices).unwrap();
            ledger.ingest(&dirs, prices).unwrap().rebuild_reason
        };
        assert_eq!(reason(&prices).as_deref(), Some("first run"));
        assert_eq!(reason(&prices), None);
        let mut overrides = std::collections::BTreeMap::new();
        overrides.insert(
            "claude-haiku-4-5".to_string(),
            crate::usage::config::PriceOverride {
                input: Some(1.0),
                ..Default::default()
            },
        );
        // New prices re-price what the ledger holds: no rebuild.
        assert_eq!(reason(&Prices::load(&overrides)), None);
        // A ledger written by a build with another record format.
        {
            let ledger = Ledger::open(&cache, &prices).unwrap();
            ledger
                .set_meta("version", &format!("0:{}", prices.fingerprint))
                .unwrap();
        }
        assert_eq!(
            reason(&prices).as_deref(),
            Some("the ledger's format changed")
        );
    }
}
