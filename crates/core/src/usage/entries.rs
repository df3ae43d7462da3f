//! Counted requests as the ledger keeps them, and the requests one ingest has read before they
//! are merged into the stored ones.
//!
//! * [`Entry`]: one counted request. The ledger stores them packed into [`SHARDS`] shards by the
//!   top byte of their key, one blob per shard, sorted by key ([`encode`], [`decode`]): the
//!   number of records, then each record as variable-length integers (the key as the distance
//!   from the previous one), a flags byte (source, a cost taken from the log, one-hour cache
//!   writes) and the cost as 8 bytes — about 40 bytes a request instead of 81.
//! * [`Pending`]: this ingest's requests, by shard. Memory stays bounded however many an ingest
//!   reads (a first run over years of logs reads millions): past a limit, the held requests are
//!   written, per shard as they came, as a *run* to an unnamed temporary file beside the ledger
//!   (gone with the process, even a killed one), and read back shard by shard at the end
//!   ([`Spilled::take`]), where they are sorted once.
//!
//! Of several requests with one key, the one kept is the largest by total tokens, and of equal
//! ones the earliest ([`dedupe`]). Never touches SQLite: the ledger stores what this produces.

use std::fs::File;
use std::io;
use std::path::Path;

use super::parse::Tokens;
use super::source::Source;

/// Shards of the `entries` table: a cold ingest writes a few hundred rows instead of one per
/// request, and a later one rewrites only the shards its requests fall in.
pub const SHARDS: usize = 256;
/// Requests held in memory before they are spilled (about 6 MB of them).
pub const HELD_LIMIT: usize = 1 << 16;

/// One counted request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entry {
    /// The tool the request was logged by.
    pub source: Source,
    /// When the request was made, epoch milliseconds.
    pub ts: i64,
    /// Database id of its session name.
    pub session: i64,
    /// Database id of its model name.
    pub model: i64,
    /// Its tokens, by kind.
    pub tokens: Tokens,
    /// Its cost in US dollars: as logged when `logged_cost`, else from the prices.
    pub cost: f64,
    /// The cost is the one the log recorded (`costUSD`), not one computed from the prices: a
    /// change of prices leaves it as it is.
    pub logged_cost: bool,
}

/// Flags in a record's source byte (the source itself is the low bits).
const LOGGED_COST: u8 = 0x80;
/// A sixth count follows the five: the one-hour cache writes. Records written before it
/// existed lack it (read as 0).
const HAS_1H: u8 = 0x40;

impl Entry {
    /// Its total tokens, in ccusage's meaning (see [`Tokens::total`]).
    pub fn total(&self) -> u64 {
        self.tokens.total()
    }
}

/// The shard a request's key falls in: the key's top byte.
pub fn shard_of(key: i64) -> usize {
    (key as u64 >> 56) as usize
}

/// Append `entries` to `out` as one blob: their number, then the records. Keys are stored as
/// the (wrapping) distance from the previous one, so sorted keys take 6 or 7 bytes, not 8.
pub fn encode(entries: &[(i64, Entry)], out: &mut Vec<u8>) {
    out.reserve(10 + entries.len() * 44);
    put_varint(out, entries.len() as u64);
    let mut prev = 0i64;
    for (key, e) in entries {
        let t = &e.tokens;
        put_varint(out, key.wrapping_sub(prev) as u64);
        prev = *key;
        put_varint(out, zigzag(e.ts));
        put_varint(out, zigzag(e.session));
        put_varint(out, zigzag(e.model));
        let logged = if e.logged_cost { LOGGED_COST } else { 0 };
        out.push(e.source as u8 | HAS_1H | logged);
        for v in [
            t.input,
            t.output,
            t.cache_write,
            t.cache_read,
            t.reasoning,
            t.cache_write_1h,
        ] {
            put_varint(out, v);
        }
        out.extend_from_slice(&e.cost.to_le_bytes());
    }
}

/// How many records a blob says it holds (0 for an empty or unreadable one).
pub fn count(blob: &[u8]) -> usize {
    let mut at = 0;
    get_varint(blob, &mut at).map_or(0, |n| n as usize)
}

/// Append the records in `blob` to `out`. A blob cut short or damaged yields the records
/// before the damage (never a panic).
pub fn decode_into(blob: &[u8], out: &mut Vec<(i64, Entry)>) {
    let mut at = 0;
    let Some(n) = get_varint(blob, &mut at) else {
        return;
    };
    // The count is only a hint: never reserve more than the bytes could hold.
    out.reserve((n as usize).min(blob.len() / 16));
    let mut prev = 0i64;
    for _ in 0..n {
        let Some(record) = read_record(blob, &mut at, prev) else {
            return;
        };
        prev = record.0;
        out.push(record);
    }
}

fn read_record(blob: &[u8], at: &mut usize, prev: i64) -> Option<(i64, Entry)> {
    let key = prev.wrapping_add(get_varint(blob, at)? as i64);
    let ts = unzigzag(get_varint(blob, at)?);
    let session = unzigzag(get_varint(blob, at)?);
    let model = unzigzag(get_varint(blob, at)?);
    let flags = *blob.get(*at)?;
    let source = Source::from_i64(i64::from(flags & !(LOGGED_COST | HAS_1H)));
    *at += 1;
    let mut counts = [0u64; 6];
    let n = if flags & HAS_1H != 0 { 6 } else { 5 };
    for c in &mut counts[..n] {
        *c = get_varint(blob, at)?;
    }
    let cost = f64::from_le_bytes(blob.get(*at..*at + 8)?.try_into().ok()?);
    *at += 8;
    let [
        input,
        output,
        cache_write,
        cache_read,
        reasoning,
        cache_write_1h,
    ] = counts;
    let tokens = Tokens {
        input,
        output,
        cache_write,
        cache_write_1h,
        cache_read,
        reasoning,
    };
    let entry = Entry {
        source,
        ts,
        session,
        model,
        tokens,
        cost,
        logged_cost: flags & LOGGED_COST != 0,
    };
    Some((key, entry))
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// LEB128: seven bits a byte, low first, the high bit set on all but the last.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The varint at `*at` (moving past it); `None` if cut short or longer than a u64's.
fn get_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// The records in `blob`, as [`decode_into`] reads them.
pub fn decode(blob: &[u8]) -> Vec<(i64, Entry)> {
    let mut out = Vec::new();
    decode_into(blob, &mut out);
    out
}

/// Sort by key and keep one request per key: the largest, and of equal ones the earliest.
/// `lost` is called with each request left out.
pub fn dedupe(v: &mut Vec<(i64, Entry)>, mut lost: impl FnMut(&Entry)) {
    // Keys are hashes, so a key is rarely repeated: sort by key alone (the cheapest comparison)
    // and pick the winner within each run of one key.
    v.sort_unstable_by_key(|(key, _)| *key);
    let wins = |a: &Entry, b: &Entry| {
        (a.total(), std::cmp::Reverse(a.ts)) > (b.total(), std::cmp::Reverse(b.ts))
    };
    let mut kept = 0;
    let mut i = 0;
    while i < v.len() {
        let mut best = i;
        let mut end = i + 1;
        while end < v.len() && v[end].0 == v[i].0 {
            if wins(&v[end].1, &v[best].1) {
                best = end;
            }
            end += 1;
        }
        for (at, (_, e)) in v[i..end].iter().enumerate() {
            if i + at != best {
                lost(e);
            }
        }
        // Slots before `i` that are not kept hold leftovers of earlier runs: overwrite one.
        v.swap(kept, best);
        kept += 1;
        i = end;
    }
    v.truncate(kept);
}

/// The requests an ingest has read so far.
pub struct Pending {
    held: Vec<Vec<(i64, Entry)>>,
    count: usize,
    limit: usize,
    dir: std::path::PathBuf,
    spilled: Option<Spilled>,
}

/// Runs written to the temporary file: per shard, where each run is (offset, length, records).
pub struct Spilled {
    file: File,
    len: u64,
    runs: Vec<Vec<(u64, usize, usize)>>,
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

    /// Add a request under `key`; spilling the held ones to the temporary file may fail.
    pub fn push(&mut self, key: i64, entry: Entry) -> io::Result<()> {
        self.held[shard_of(key)].push((key, entry));
        self.count += 1;
        if self.count >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Write every held request to the temporary file, one run per shard. Runs are not sorted
    /// (the end sorts each shard once, with what it held).
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
            buf.clear();
            encode(held, &mut buf);
            spilled.file.write_all_at(&buf, spilled.len)?;
            spilled.runs[shard].push((spilled.len, buf.len(), held.len()));
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
        self.runs[shard]
            .iter()
            .map(|&(_, _, records)| records)
            .sum()
    }

    /// Add `shard`'s spilled requests to `held` (unsorted: the caller's [`dedupe`] sorts).
    pub fn take(&self, shard: usize, held: &mut Vec<(i64, Entry)>) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut buf = Vec::new();
        for &(offset, len, _) in &self.runs[shard] {
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

    /// Every request of `pending`, per shard sorted and one per key (`lost` sees the others).
    fn drain(pending: Pending, mut lost: impl FnMut(&Entry)) -> io::Result<Vec<Vec<(i64, Entry)>>> {
        let (mut held, spilled) = pending.finish();
        for (shard, v) in held.iter_mut().enumerate() {
            if let Some(s) = &spilled {
                s.take(shard, v)?;
            }
            dedupe(v, &mut lost);
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
            logged_cost: false,
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
                cache_write_1h: 2,
                cache_read: 4,
                reasoning: 5,
            },
            cost: 0.25,
            logged_cost: true,
        };
        let mut blob = Vec::new();
        let records = [
            (42, e),
            (-1, entry(3, 4, 5)),
            (i64::MIN, entry(i64::MAX, u64::MAX, -7)),
        ];
        encode(&records, &mut blob);
        assert_eq!(count(&blob), 3);
        assert_eq!(decode(&blob), records);
        // A torn last record: the ones before it.
        blob.pop();
        assert_eq!(decode(&blob), records[..2]);
        assert!(decode(&[]).is_empty());
    }

    /// Records written before the flags existed (source byte 0 or 1, five counts) still read.
    #[test]
    fn records_of_the_earlier_format_read_as_priced_without_one_hour_writes() {
        let mut blob = Vec::new();
        put_varint(&mut blob, 1);
        put_varint(&mut blob, 42);
        for v in [zigzag(-5), zigzag(7), zigzag(9)] {
            put_varint(&mut blob, v);
        }
        blob.push(Source::Codex as u8);
        for v in [1, 2, 3, 4, 5] {
            put_varint(&mut blob, v);
        }
        blob.extend_from_slice(&0.25f64.to_le_bytes());
        let [(key, e)] = decode(&blob)[..] else {
            panic!("one record")
        };
        assert_eq!(
            (key, e.source, e.ts, e.session, e.model),
            (42, Source::Codex, -5, 7, 9)
        );
        assert_eq!(
            (
                e.tokens.cache_write,
                e.tokens.cache_write_1h,
                e.tokens.reasoning
            ),
            (3, 0, 5)
        );
        assert_eq!((e.cost, e.logged_cost), (0.25, false));
    }

    /// The sizes the format is for: a shard's sorted keys and a busy day's counts.
    #[test]
    fn a_typical_record_takes_about_half_the_fixed_size() {
        let mut records: Vec<(i64, Entry)> = (0..1000i64)
            .map(|n| {
                let spread = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8;
                let key = (7i64 << 56) | spread as i64;
                let mut e = entry(1_764_000_000_000 + n * 997, 700 + n as u64, 4000 + n % 50);
                e.tokens.input = 12;
                e.tokens.cache_write = 2_489;
                e.tokens.cache_read = 113_263;
                (key, e)
            })
            .collect();
        records.sort_by_key(|(k, _)| *k);
        let mut blob = Vec::new();
        encode(&records, &mut blob);
        assert_eq!(decode(&blob), records);
        let per_record = blob.len() / records.len();
        assert!(per_record <= 40, "{per_record} bytes a record");
    }

    proptest! {
        /// Whatever the bytes (a damaged ledger), decoding returns without panicking.
        #[test]
        fn any_blob_decodes_without_panicking(blob in prop::collection::vec(any::<u8>(), 0..400)) {
            let got = decode(&blob);
            prop_assert!(got.len() <= blob.len() / 16 + 1);
        }

        #[test]
        fn any_records_round_trip(
            records in prop::collection::vec(
                (any::<i64>(), any::<i64>(), any::<i64>(), any::<u64>(), any::<u64>(), any::<f64>()),
                0..50,
            ),
        ) {
            let records: Vec<(i64, Entry)> = records
                .into_iter()
                .map(|(key, ts, session, input, output, cost)| {
                    let mut e = entry(ts, output, session);
                    e.tokens.input = input;
                    e.model = -session;
                    e.cost = cost;
                    (key, e)
                })
                .collect();
            let mut blob = Vec::new();
            encode(&records, &mut blob);
            let got = decode(&blob);
            prop_assert_eq!(got.len(), records.len());
            for ((k1, a), (k2, b)) in got.iter().zip(&records) {
                prop_assert_eq!(k1, k2);
                // Bit for bit, NaN included.
                prop_assert_eq!(a.cost.to_bits(), b.cost.to_bits());
                prop_assert_eq!((a.ts, a.session, a.model, a.tokens), (b.ts, b.session, b.model, b.tokens));
            }
        }

        /// Spilled or not, at any limit, what comes out is for each key its largest request
        /// (the earliest of equal ones), as a map computed directly says; and every request
        /// pushed either comes out or is reported lost, once (the ledger's sums rely on it).
        #[test]
        fn spilling_keeps_the_largest_request_of_each_key(
            requests in prop::collection::vec((0u8..40, 0u64..6, 0i64..5), 0..300),
            limit in 1usize..50,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut pending = Pending::new(dir.path(), limit);
            let mut expected: HashMap<i64, Entry> = HashMap::new();
            let (mut pushed, mut lost) = ((0usize, 0u64), (0usize, 0u64));
            for (n, output, ts) in requests {
                // Keys spread over a few shards (top byte) and several keys per shard.
                let key = (i64::from(n % 4) << 56) | i64::from(n);
                let e = entry(ts, output, i64::from(n));
                pushed = (pushed.0 + 1, pushed.1 + output);
                pending.push(key, e).unwrap();
                let best = expected.entry(key).or_insert(e);
                if (e.total(), std::cmp::Reverse(e.ts)) > (best.total(), std::cmp::Reverse(best.ts)) {
                    *best = e;
                }
            }
            let shards = drain(pending, |l| lost = (lost.0 + 1, lost.1 + l.tokens.output)).unwrap();
            let mut got: Vec<(i64, Entry)> = shards.into_iter().flatten().collect();
            let kept: u64 = got.iter().map(|(_, e)| e.tokens.output).sum();
            prop_assert_eq!((got.len() + lost.0, kept + lost.1), pushed);
            got.sort_by_key(|(k, _)| *k);
            let mut want: Vec<(i64, Entry)> = expected.into_iter().collect();
            want.sort_by_key(|(k, _)| *k);
            prop_assert_eq!(got, want);
            // Nothing is left in the folder: the spill file has no name.
            prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }
}
