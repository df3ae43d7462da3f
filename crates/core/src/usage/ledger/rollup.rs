//! The ledger's rollups: sums per (source, quarter-hour, session, model) in the `agg` table,
//! kept current by deltas as requests are ingested or replaced, and exact costs ([`Cost`]).

use std::collections::HashMap;
use std::hash::Hasher;

use rusqlite::params;

use crate::usage::entries::Entry;
use crate::usage::parse;
use crate::usage::source::Source;

/// Quarter-hours: every time zone in use is a whole number of them away from UTC.
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

/// Sums for one (source, quarter-hour, session, model).
#[derive(Debug, Clone)]
pub struct AggRow {
    /// The tool the usage came from.
    pub source: Source,
    /// The quarter-hour: epoch milliseconds divided by `BUCKET_MS`, rounded down.
    pub bucket: i64,
    /// The session id, as the log names it.
    pub session: String,
    /// The model name.
    pub model: String,
    /// The tokens summed, by kind.
    pub tokens: parse::Tokens,
    /// The cost summed, exactly.
    pub cost: Cost,
    /// The number of requests summed.
    pub requests: u64,
    /// The latest request's time, epoch milliseconds.
    pub last_ts: i64,
}

/// A sum of costs, kept exact: whole billionths of a dollar. A sum of floats depends on the
/// order its terms are added in (two builds of one ledger, whose readers finish files in
/// different orders, reported costs differing in the last digits); a sum of integers does not.
/// A request's cost is rounded once, to a billionth of a dollar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cost(pub i64);

impl Cost {
    /// A cost in US dollars, rounded to a billionth of a dollar (NaN is 0; out of range saturates).
    pub fn of_usd(usd: f64) -> Cost {
        // `as` saturates, and makes NaN 0.
        Cost((usd * 1e9).round() as i64)
    }

    /// This cost in US dollars.
    pub fn usd(self) -> f64 {
        self.0 as f64 / 1e9
    }

    pub(super) fn times(self, k: i64) -> Cost {
        Cost(self.0.saturating_mul(k))
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Cost) {
        self.0 = self.0.saturating_add(other.0);
    }
}

/// A multiply-mix hasher (as in FxHash) for maps keyed by request keys (already hashes) and by
/// agg cells (tuples of small ids): far cheaper than SipHash, and nothing here is untrusted.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

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
pub(super) struct AggDelta {
    pub(super) input: i64,
    pub(super) output: i64,
    pub(super) cache_write: i64,
    pub(super) cache_read: i64,
    pub(super) reasoning: i64,
    pub(super) cost: Cost,
    pub(super) requests: i64,
    pub(super) last_ts: i64,
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
    pub(super) fn add(&mut self, e: &Entry, sign: i64) {
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

    pub(super) fn absorb(&mut self, o: &AggDelta) {
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
pub(super) type Cell = (Source, i64, i64, i64);

pub(super) fn cell_of(e: &Entry) -> Cell {
    (e.source, e.ts.div_euclid(BUCKET_MS), e.session, e.model)
}

/// Changes to `agg` rows. Requests read in file order mostly fall in the cell of the one before
/// ([`AggDeltas::add_in_order`] keeps that cell aside); the others go to the map.
#[derive(Default)]
pub(super) struct AggDeltas {
    pub(super) cells: HashMap<Cell, AggDelta, std::hash::BuildHasherDefault<KeyHasher>>,
    pub(super) last: Option<(Cell, AggDelta)>,
}

impl AggDeltas {
    pub(super) fn add(&mut self, e: &Entry, sign: i64) {
        self.cells.entry(cell_of(e)).or_default().add(e, sign);
    }

    /// Add a request, cheaply when it falls in the same cell as the previous one.
    pub(super) fn add_in_order(&mut self, e: &Entry) {
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
    pub(super) fn absorb(&mut self, mut other: AggDeltas) {
        other.flush();
        self.flush();
        for (cell, o) in &other.cells {
            self.cells.entry(*cell).or_default().absorb(o);
        }
    }

    pub(super) fn flush(&mut self) {
        if let Some((c, d)) = self.last.take() {
            self.cells.entry(c).or_default().absorb(&d);
        }
    }

    /// Every changed cell.
    pub(super) fn into_cells(mut self) -> impl Iterator<Item = (Cell, AggDelta)> {
        self.flush();
        self.cells.into_iter()
    }
}

/// Add changes to the `agg` rows (creating the rows they are the first of).
pub(super) fn apply_deltas(tx: &rusqlite::Transaction, total: AggDeltas) -> rusqlite::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn agg_cost_sums_do_not_depend_on_the_order_requests_arrive_in() {
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
}
