//! Counted requests as the ledger keeps them, and the requests one ingest has read before they
//! are merged into the stored ones.
//!
//! * [`Entry`]: one counted request. The ledger stores them packed into [`SHARDS`] shards by the
//!   top byte of their key, one blob of fixed-size records ([`RECORD`] bytes) per shard, sorted
//!   by key ([`encode`], [`decode`]).
//! * [`Pending`]: this ingest's requests, by shard. Memory stays bounded however many an ingest
//!   reads (a first run over years of logs reads millions): past a limit, the held requests are
//!   written, per shard sorted by key and one per key, as a *run* to an unnamed temporary file
//!   beside the ledger (gone with the process, even a killed one), and read back shard by shard
//!   at the end ([`Spilled::take`]).
//!
//! Of several requests with one key, the one kept is the largest by total tokens, and of equal
//! ones the earliest ([`dedupe`]). Never touches SQLite: the ledger stores what this produces.

use std::fs::File;
use std::io;
use std::path::Path;

use super::ledger::Source;
use super::parse::Tokens;

/// Shards of the `entries` table: a cold ingest writes a few hundred rows instead of one per
/// request, and a later one rewrites only the shards its requests fall in.
pub const SHARDS: usize = 256;
/// key, ts, session, model (i64 each), source (u8), five token counts (u64), cost (f64).
pub const RECORD: usize = 4 * 8 + 1 + 5 * 8 + 8;
/// Requests held in memory before they are spilled (about 6 MB of them).
pub const HELD_LIMIT: usize = 1 << 16;

/// One counted request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entry {
    pub source: Source,
    pub ts: i64,
    /// Database ids of its session and model names.
    pub session: i64,
    pub model: i64,
    pub tokens: Tokens,
    pub cost: f64,
}

impl Entry {
    pub fn total(&self) -> u64 {
        self.tokens.total()
    }
}

pub fn shard_of(key: i64) -> usize {
    (key as u64 >> 56) as usize
}

/// Append `entries` to `out` as records.
pub fn encode(entries: &[(i64, Entry)], out: &mut Vec<u8>) {
    out.reserve(entries.len() * RECORD);
    for (key, e) in entries {
        let t = &e.tokens;
        for v in [*key, e.ts, e.session, e.model] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(e.source as u8);
        for v in [t.input, t.output, t.cache_write, t.cache_read, t.reasoning] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&e.cost.to_le_bytes());
    }
}

/// Append the records in `blob` to `out` (a trailing partial record is ignored).
pub fn decode_into(blob: &[u8], out: &mut Vec<(i64, Entry)>) {
    out.reserve(blob.len() / RECORD);
    out.extend(blob.chunks_exact(RECORD).map(|r| {
        let word = |i: usize| {
            let at = if i < 4 { i * 8 } else { i * 8 + 1 };
            let mut b = [0u8; 8];
            b.copy_from_slice(&r[at..at + 8]);
            b
        };
        let int = |i| i64::from_le_bytes(word(i));
        let count = |i| u64::from_le_bytes(word(i));
        let entry = Entry {
            source: Source::from_i64(i64::from(r[32])),
            ts: int(1),
            session: int(2),
            model: int(3),
            tokens: Tokens {
                input: count(4),
                output: count(5),
                cache_write: count(6),
                cache_write_1h: 0,
                cache_read: count(7),
                reasoning: count(8),
            },
            cost: f64::from_le_bytes(word(9)),
        };
        (int(0), entry)
    }));
}

pub fn decode(blob: &[u8]) -> Vec<(i64, Entry)> {
    let mut out = Vec::new();
    decode_into(blob, &mut out);
    out
}

/// Sort by key and keep one request per key: the largest, and of equal ones the earliest.
pub fn dedupe(v: &mut Vec<(i64, Entry)>) {
    v.sort_unstable_by(|(ka, a), (kb, b)| {
        ka.cmp(kb)
            .then(b.total().cmp(&a.total()))
            .then(a.ts.cmp(&b.ts))
    });
    v.dedup_by_key(|(key, _)| *key);
}

/// The requests an ingest has read so far.
pub struct Pending {
    held: Vec<Vec<(i64, Entry)>>,
    count: usize,
    limit: usize,
    dir: std::path::PathBuf,
    spilled: Option<Spilled>,
}

/// Runs written to the temporary file: per shard, where each run is (offset, length).
pub struct Spilled {
    file: File,
    len: u64,
    runs: Vec<Vec<(u64, usize)>>,
}

impl Pending {
    /// Hold at most `limit` requests in memory; spill to a temporary file in `dir` beyond.
    pub fn new(dir: &Path, limit: usize) -> Pending {
        Pending {
            held: (0..SHARDS).map(|_| Vec::new()).collect(),
            count: 0,
            limit: limit.max(1),
            dir: dir.to_path_buf(),
            spilled: None,
        }
    }

    pub fn push(&mut self, key: i64, entry: Entry) -> io::Result<()> {
        self.held[shard_of(key)].push((key, entry));
        self.count += 1;
        if self.count >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Write every held request to the temporary file, one sorted run per shard.
    fn spill(&mut self) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let spilled = match &mut self.spilled {
            Some(s) => s,
            None => self.spilled.insert(Spilled {
                file: tempfile::tempfile_in(&self.dir)?,
                len: 0,
                runs: (0..SHARDS).map(|_| Vec::new()).collect(),
            }),
        };
        let mut buf = Vec::new();
        for (shard, held) in self.held.iter_mut().enumerate() {
            if held.is_empty() {
                continue;
            }
            dedupe(held);
            buf.clear();
            encode(held, &mut buf);
            spilled.file.write_all_at(&buf, spilled.len)?;
            spilled.runs[shard].push((spilled.len, buf.len()));
            spilled.len += buf.len() as u64;
            held.clear();
        }
        self.count = 0;
        Ok(())
    }

    /// How many requests are held in memory at most.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Requests held now, and the runs spilled so far.
    pub fn finish(self) -> (Vec<Vec<(i64, Entry)>>, Option<Spilled>) {
        (self.held, self.spilled)
    }
}

impl Spilled {
    /// How many requests were spilled for `shard` (some may share a key).
    pub fn count(&self, shard: usize) -> usize {
        self.runs[shard].iter().map(|(_, len)| len / RECORD).sum()
    }

    /// Add `shard`'s spilled requests to `held`, then sort and keep one per key.
    pub fn take(&self, shard: usize, held: &mut Vec<(i64, Entry)>) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut buf = Vec::new();
        for &(offset, len) in &self.runs[shard] {
            buf.resize(len, 0);
            self.file.read_exact_at(&mut buf, offset)?;
            decode_into(&buf, held);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Every request of `pending`, per shard sorted and one per key.
    fn drain(pending: Pending) -> io::Result<Vec<Vec<(i64, Entry)>>> {
        let (mut held, spilled) = pending.finish();
        for (shard, v) in held.iter_mut().enumerate() {
            if let Some(s) = &spilled {
                s.take(shard, v)?;
            }
            dedupe(v);
        }
        Ok(held)
    }

    fn entry(ts: i64, output: u64, session: i64) -> Entry {
        Entry {
            source: Source::Claude,
            ts,
            session,
            model: 1,
            tokens: Tokens {
                output,
                ..Tokens::default()
            },
            cost: output as f64 / 1000.0,
        }
    }

    #[test]
    fn records_round_trip() {
        let e = Entry {
            source: Source::Codex,
            ts: -5,
            session: 7,
            model: 9,
            tokens: Tokens {
                input: 1,
                output: 2,
                cache_write: 3,
                cache_write_1h: 0,
                cache_read: 4,
                reasoning: 5,
            },
            cost: 0.25,
        };
        let mut blob = Vec::new();
        encode(&[(42, e), (-1, entry(3, 4, 5))], &mut blob);
        assert_eq!(blob.len(), 2 * RECORD);
        blob.push(0xff); // a torn record is ignored
        assert_eq!(decode(&blob), vec![(42, e), (-1, entry(3, 4, 5))]);
    }

    proptest! {
        /// Spilled or not, at any limit, what comes out is for each key its largest request
        /// (the earliest of equal ones), as a map computed directly says.
        #[test]
        fn spilling_keeps_the_largest_request_of_each_key(
            requests in prop::collection::vec((0u8..40, 0u64..6, 0i64..5), 0..300),
            limit in 1usize..50,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut pending = Pending::new(dir.path(), limit);
            let mut expected: HashMap<i64, Entry> = HashMap::new();
            for (n, output, ts) in requests {
                // Keys spread over a few shards (top byte) and several keys per shard.
                let key = (i64::from(n % 4) << 56) | i64::from(n);
                let e = entry(ts, output, i64::from(n));
                pending.push(key, e).unwrap();
                let best = expected.entry(key).or_insert(e);
                if (e.total(), std::cmp::Reverse(e.ts)) > (best.total(), std::cmp::Reverse(best.ts)) {
                    *best = e;
                }
            }
            let shards = drain(pending).unwrap();
            let mut got: Vec<(i64, Entry)> = shards.into_iter().flatten().collect();
            got.sort_by_key(|(k, _)| *k);
            let mut want: Vec<(i64, Entry)> = expected.into_iter().collect();
            want.sort_by_key(|(k, _)| *k);
            prop_assert_eq!(got, want);
            // Nothing is left in the folder: the spill file has no name.
            prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }
}
