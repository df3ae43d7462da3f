//! The writer's side of an ingest: it collects the readers' requests, records how far each file
//! was read, merges the requests into the stored shards and brings the rollups up to date, all
//! in the ingest's transaction.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use rusqlite::{OptionalExtension, params};

use super::IngestStats;
use super::read::{FileDone, Msg, Outbox, Work, read_file};
use super::rollup::{AggDeltas, apply_deltas};
use crate::usage::entries::{self, Entry, Pending, SHARDS, Spilled};
use crate::usage::prices::Prices;
use crate::usage::source::Source;

pub(super) struct Names<'a> {
    pub(super) tx: &'a rusqlite::Transaction<'a>,
    pub(super) cache: HashMap<String, i64>,
}

impl Names<'_> {
    pub(super) fn id(&mut self, name: &str) -> rusqlite::Result<i64> {
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

/// Why writing an ingest's requests failed.
pub(super) enum WriteError {
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

pub(super) fn write_all(
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
pub(super) fn cores() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 4)
}

/// Record how far a file was read (its row in `files`), and its counts in `stats`.
pub(super) fn record_file(
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
        Source::OpenClaw => Some(serde_json::to_string(&done.openclaw).unwrap_or_default()),
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
pub(super) fn merge(
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
pub(super) type ShardWork = (usize, Vec<(i64, Entry)>, Vec<u8>);

/// One thread's share of a group of shards: the encoded shards.
pub(super) type ShardsWritten = Vec<(usize, Vec<u8>)>;

/// Store the requests read in this run and bring `agg` up to date with them.
///
/// Shards are merged a group at a time, each group holding about half as many requests as
/// [`Pending`] holds at most, so memory stays bounded by that limit however large the ledger.
pub(super) fn write_entries(
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

/// Merge a group of shards, split across as many threads as there are `deltas` (each thread
/// adds its `agg` changes to its own): each shard's new requests (held and spilled) are sorted,
/// one kept per key, and merged into what the shard stored (raw records).
pub(super) fn merge_group(
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
