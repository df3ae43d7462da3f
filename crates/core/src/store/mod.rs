//! The event store: SQLite in WAL mode, written by exactly one writer thread.
//!
//! Callers hold a cheap, cloneable [`Store`] handle and send it work over a bounded channel; the
//! writer batches whatever is queued into one transaction, commits, answers each caller, and
//! only then publishes the committed events on the in-process bus (the panel's live stream).
//! Appends are idempotent on the event's `uid`, so replaying a spool or retrying a send can never
//! duplicate an event.
//!
//! Architecture invariant: nothing else in PAIOS opens `paios.db` for writing. Readers open their
//! own read-only connections ([`open_reader`]); WAL lets them run beside the writer.

mod migrate;
mod query;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, params};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::events::{Event, format_ts};

pub use migrate::{SCHEMA_VERSION, migrate};
pub use query::{EventQuery, query_events};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused to open, configure or migrate the database.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was migrated by a newer PAIOS than this one.
    #[error(
        "database {path} has schema version {found}, but this paios only knows up to {known}: \
         it was written by a newer PAIOS. Upgrade paios, or move the database aside to start fresh."
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The schema version recorded in it (SQLite's `user_version`).
        found: u32,
        /// The newest version this build knows ([`SCHEMA_VERSION`]).
        known: u32,
    },
    /// The writer has stopped ([`StoreWriter::join`]): nothing more can be written.
    #[error("the store has shut down")]
    Closed,
    /// The writer could not carry out this operation (SQLite's error text, prefixed with the
    /// database path when the whole batch's transaction failed), or its thread could not be
    /// started.
    #[error("{0}")]
    Write(String),
}

impl StoreError {
    fn sqlite(path: &Path, source: rusqlite::Error) -> Self {
        StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Work run inside the writer's transaction by [`Store::write`]; its `Value` is the caller's
/// answer.
pub type WriteFn = Box<dyn FnOnce(&Transaction<'_>) -> Result<Value, rusqlite::Error> + Send>;

enum Op {
    Append {
        events: Vec<Event>,
        reply: oneshot::Sender<Result<Vec<Event>, String>>,
    },
    Write {
        f: WriteFn,
        reply: oneshot::Sender<Result<Value, String>>,
    },
    /// Stop taking operations: those already queued are written, later ones fail (`Closed`).
    Close,
}

/// Handle to the one writer. Clone freely.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Op>,
    path: PathBuf,
}

/// Owns the writer thread; [`StoreWriter::join`] flushes everything queued and stops it.
pub struct StoreWriter {
    thread: Option<std::thread::JoinHandle<()>>,
    tx: mpsc::Sender<Op>,
}

impl StoreWriter {
    /// Write what is queued, then stop the writer and wait for it. [`Store`] handles still held
    /// elsewhere (a task that has not finished yet) do not keep it waiting: their writes from
    /// now on fail with [`StoreError::Closed`].
    pub fn join(mut self) {
        // Queued behind every operation sent before it; fails only if the writer is gone.
        let _ = self.tx.blocking_send(Op::Close);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Most operations the writer folds into one transaction.
const MAX_BATCH: usize = 4096;

/// Open (creating if needed) a connection with PAIOS's pragmas.
pub fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| StoreError::sqlite(path, e))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| StoreError::sqlite(path, e))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )
    .map_err(|e| StoreError::sqlite(path, e))?;
    Ok(conn)
}

/// A read-only connection for queries (CLI, API). Fails if the database does not exist.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::sqlite(path, e))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| StoreError::sqlite(path, e))?;
    migrate::check_not_newer(&conn, path)?;
    Ok(conn)
}

impl Store {
    /// Open the database, apply migrations, and start the writer thread. Committed events are
    /// published on `bus`.
    pub fn open(
        path: &Path,
        bus: broadcast::Sender<Event>,
    ) -> Result<(Store, StoreWriter), StoreError> {
        let mut conn = open_connection(path)?;
        migrate(&mut conn, path)?;
        let (tx, rx) = mpsc::channel::<Op>(8192);
        let thread_path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("paios-store".into())
            .spawn(move || writer_loop(conn, rx, bus, thread_path))
            .map_err(|e| StoreError::Write(format!("cannot start the store thread: {e}")))?;
        Ok((
            Store {
                tx: tx.clone(),
                path: path.to_path_buf(),
            },
            StoreWriter {
                thread: Some(thread),
                tx: tx.clone(),
            },
        ))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one event; returns it with its store id once committed.
    pub async fn append(&self, event: Event) -> Result<Event, StoreError> {
        let mut v = self.append_many(vec![event]).await?;
        Ok(v.pop().expect("one event in, one out"))
    }

    /// Append several events in one transaction.
    pub async fn append_many(&self, events: Vec<Event>) -> Result<Vec<Event>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Op::Append { events, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await
            .map_err(|_| StoreError::Closed)?
            .map_err(StoreError::Write)
    }

    /// Blocking variant for non-async callers (benchmarks, threads).
    pub fn append_blocking(&self, events: Vec<Event>) -> Result<Vec<Event>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Op::Append { events, reply })
            .map_err(|_| StoreError::Closed)?;
        rx.blocking_recv()
            .map_err(|_| StoreError::Closed)?
            .map_err(StoreError::Write)
    }

    /// Run `f` inside the writer's transaction (for module tables such as approvals).
    /// Keep it short: every other writer waits for it.
    pub async fn write<F>(&self, f: F) -> Result<Value, StoreError>
    where
        F: FnOnce(&Transaction<'_>) -> Result<Value, rusqlite::Error> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Op::Write {
                f: Box::new(f),
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await
            .map_err(|_| StoreError::Closed)?
            .map_err(StoreError::Write)
    }

    /// A read-only connection to the same database.
    pub fn reader(&self) -> Result<Connection, StoreError> {
        open_reader(&self.path)
    }
}

fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Op>,
    bus: broadcast::Sender<Event>,
    path: PathBuf,
) {
    let mut batch: Vec<Op> = Vec::with_capacity(64);
    while let Some(first) = rx.blocking_recv() {
        // After `Close` the channel takes nothing new; what is buffered is still written.
        match first {
            Op::Close => rx.close(),
            op => batch.push(op),
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Op::Close) => rx.close(),
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            run_batch(&mut conn, &mut batch, &bus, &path);
        }
    }
    // Every handle is gone: checkpoint so the next start opens quickly.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
}

/// Per-op outcome inside a batch transaction.
enum Outcome {
    Appended(Vec<Event>),
    Wrote(Value),
    Failed(String),
}

fn run_batch(
    conn: &mut Connection,
    batch: &mut Vec<Op>,
    bus: &broadcast::Sender<Event>,
    path: &Path,
) {
    let result = (|| -> Result<Vec<Outcome>, rusqlite::Error> {
        let tx = conn.transaction()?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for op in batch.iter_mut() {
            let outcome = match op {
                Op::Append { events, .. } => match insert_events(&tx, std::mem::take(events)) {
                    Ok(stored) => Outcome::Appended(stored),
                    Err(e) => Outcome::Failed(e.to_string()),
                },
                Op::Write { f, .. } => {
                    let f = std::mem::replace(f, Box::new(|_| Ok(Value::Null)));
                    // A savepoint isolates a failing module write from the rest of the batch.
                    tx.execute_batch("SAVEPOINT op")?;
                    match f(&tx) {
                        Ok(v) => {
                            tx.execute_batch("RELEASE op")?;
                            Outcome::Wrote(v)
                        }
                        Err(e) => {
                            tx.execute_batch("ROLLBACK TO op; RELEASE op")?;
                            Outcome::Failed(e.to_string())
                        }
                    }
                }
                // Never batched: the writer loop takes it out.
                Op::Close => Outcome::Failed(String::new()),
            };
            outcomes.push(outcome);
        }
        tx.commit()?;
        Ok(outcomes)
    })();
    match result {
        Ok(outcomes) => {
            for (op, outcome) in batch.drain(..).zip(outcomes) {
                match (op, outcome) {
                    (Op::Append { reply, .. }, Outcome::Appended(stored)) => {
                        if bus.receiver_count() > 0 {
                            for ev in &stored {
                                let _ = bus.send(ev.clone());
                            }
                        }
                        let _ = reply.send(Ok(stored));
                    }
                    (Op::Append { reply, .. }, Outcome::Failed(e)) => {
                        let _ = reply.send(Err(e));
                    }
                    (Op::Write { reply, .. }, Outcome::Wrote(v)) => {
                        let _ = reply.send(Ok(v));
                    }
                    (Op::Write { reply, .. }, Outcome::Failed(e)) => {
                        let _ = reply.send(Err(e));
                    }
                    _ => unreachable!("outcome kind always matches its op"),
                }
            }
        }
        Err(e) => {
            let msg = format!("database {}: {e}", path.display());
            tracing::error!(error = %msg, "store transaction failed");
            for op in batch.drain(..) {
                match op {
                    Op::Append { reply, .. } => {
                        let _ = reply.send(Err(msg.clone()));
                    }
                    Op::Write { reply, .. } => {
                        let _ = reply.send(Err(msg.clone()));
                    }
                    Op::Close => {}
                }
            }
        }
    }
}

/// Insert events, skipping ones whose uid is already stored (returned with their existing id).
fn insert_events(tx: &Transaction<'_>, events: Vec<Event>) -> Result<Vec<Event>, rusqlite::Error> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (uid, ts, kind, source, subject, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(uid) DO NOTHING",
    )?;
    let mut existing = tx.prepare_cached("SELECT id FROM events WHERE uid = ?1")?;
    let mut out = Vec::with_capacity(events.len());
    for mut ev in events {
        let data = serde_json::to_string(&ev.data).unwrap_or_else(|_| "{}".into());
        let changed = insert.execute(params![
            ev.uid,
            format_ts(&ev.ts),
            ev.kind,
            ev.source,
            ev.subject,
            data
        ])?;
        ev.id = Some(if changed == 1 {
            tx.last_insert_rowid()
        } else {
            existing.query_row([&ev.uid], |r| r.get(0))?
        });
        out.push(ev);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_temp() -> (
        tempfile::TempDir,
        Store,
        StoreWriter,
        broadcast::Receiver<Event>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (bus, rx) = broadcast::channel(1024);
        let (store, writer) = Store::open(&dir.path().join("t.db"), bus).unwrap();
        (dir, store, writer, rx)
    }

    #[tokio::test]
    async fn append_assigns_ids_and_publishes_after_commit() {
        let (_dir, store, _w, mut rx) = open_temp();
        let a = store.append(Event::new("a.b", "test")).await.unwrap();
        let b = store.append(Event::new("a.c", "test")).await.unwrap();
        assert!(b.id.unwrap() > a.id.unwrap());
        assert_eq!(rx.recv().await.unwrap().uid, a.uid);
        let conn = store.reader().unwrap();
        let all = query_events(&conn, &EventQuery::default()).unwrap();
        assert_eq!(all.len(), 2);
    }

    #[tokio::test]
    async fn a_live_filter_keeps_exactly_the_events_the_stored_query_returns() {
        let (_dir, store, _w, _rx) = open_temp();
        let mut stored = Vec::new();
        for (kind, subject) in [
            ("service.exited", "gw"),
            ("service.started", "gw"),
            ("service.started", "mcp"),
            ("alert.raised", "gw"),
            ("servicex.odd", "gw"),
        ] {
            stored.push(
                store
                    .append(Event::new(kind, "test").subject(subject))
                    .await
                    .unwrap(),
            );
        }
        let middle = stored[2].ts;
        let queries = [
            EventQuery::default(),
            EventQuery {
                kind_prefix: Some("service.".into()),
                ..Default::default()
            },
            EventQuery {
                subject: Some("gw".into()),
                ..Default::default()
            },
            EventQuery {
                since: Some(middle),
                ..Default::default()
            },
            EventQuery {
                until: Some(middle),
                ..Default::default()
            },
            EventQuery {
                after_id: stored[1].id,
                ..Default::default()
            },
            EventQuery {
                kind_prefix: Some("service".into()),
                subject: Some("gw".into()),
                after_id: stored[0].id,
                ..Default::default()
            },
        ];
        let conn = store.reader().unwrap();
        for q in queries {
            let from_sql: Vec<_> = query_events(&conn, &q)
                .unwrap()
                .into_iter()
                .map(|e| e.uid)
                .collect();
            let live: Vec<_> = stored
                .iter()
                .filter(|e| q.matches(e))
                .map(|e| e.uid.clone())
                .collect();
            assert_eq!(live, from_sql, "{q:?}");
        }
    }

    #[tokio::test]
    async fn the_same_uid_is_stored_once() {
        let (_dir, store, _w, _rx) = open_temp();
        let ev = Event::new("x.y", "test");
        let first = store.append(ev.clone()).await.unwrap();
        let again = store.append(ev).await.unwrap();
        assert_eq!(first.id, again.id);
        let conn = store.reader().unwrap();
        assert_eq!(
            query_events(&conn, &EventQuery::default()).unwrap().len(),
            1
        );
    }

    #[tokio::test]
    async fn a_failing_module_write_does_not_lose_other_appends() {
        let (_dir, store, _w, _rx) = open_temp();
        let bad = store.write(|tx| {
            tx.execute("INSERT INTO no_such_table VALUES (1)", [])?;
            Ok(Value::Null)
        });
        let good = store.append(Event::new("ok.ok", "test"));
        let (bad, good) = tokio::join!(bad, good);
        assert!(bad.is_err());
        assert!(good.is_ok());
    }

    /// A task still holding a handle (the app's state, a feed not yet finished) must not keep
    /// shutdown waiting: join writes what was queued before it, and later writes fail.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn join_stops_the_writer_while_handles_are_still_held() {
        let (dir, store, writer, _rx) = open_temp();
        let queued: Vec<_> = (0..50)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move { s.append(Event::new("q.q", "t")).await })
            })
            .collect();
        for q in queued {
            q.await.unwrap().unwrap();
        }
        let joined = tokio::task::spawn_blocking(move || writer.join());
        tokio::time::timeout(std::time::Duration::from_secs(30), joined)
            .await
            .expect("join waited for a handle that is still held")
            .unwrap();
        assert!(matches!(
            store.append(Event::new("late.late", "t")).await,
            Err(StoreError::Closed)
        ));
        let conn = open_reader(&dir.path().join("t.db")).unwrap();
        let all = EventQuery {
            limit: 1000,
            ..Default::default()
        };
        assert_eq!(query_events(&conn, &all).unwrap().len(), 50);
    }

    #[tokio::test]
    async fn dropping_handles_flushes_and_stops_the_writer() {
        let (dir, store, writer, _rx) = open_temp();
        let pending: Vec<_> = (0..100)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move { s.append(Event::new("f.f", "t")).await })
            })
            .collect();
        for p in pending {
            p.await.unwrap().unwrap();
        }
        drop(store);
        tokio::task::spawn_blocking(move || writer.join())
            .await
            .unwrap();
        let conn = open_reader(&dir.path().join("t.db")).unwrap();
        assert_eq!(
            query_events(
                &conn,
                &EventQuery {
                    limit: 1000,
                    ..Default::default()
                }
            )
            .unwrap()
            .len(),
            100
        );
    }
}
