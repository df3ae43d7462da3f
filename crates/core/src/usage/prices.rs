//! The price table and the cost of one request.
//!
//! Prices come from `prices.json` next to this file, generated from LiteLLM's model price table
//! by `scripts/update-prices.py` (the snapshot date is in the file), plus the user's overrides
//! from `[usage.prices."MODEL"]` in paios.toml. Costs are computed the way ccusage computes
//! them, so the two agree to the cent:
//!
//! * one-hour cache writes cost twice the input rate;
//! * a model without a cache-write price (most OpenAI models) has its cache writes priced at
//!   1.25 times its input rate;
//! * `*_above_200k` prices apply *marginally* per token bucket: the first 200k tokens of a
//!   bucket at the base rate, the rest at the higher one;
//! * `*_above_272k` prices (long-context tiers of newer OpenAI models) switch the *whole*
//!   request once its context (input + cache reads + cache writes) exceeds 272k tokens.
//!
//! This module does no I/O.

use std::collections::HashMap;

use serde::Deserialize;

use super::config::PriceOverride;
use super::parse::Tokens;

/// Where the embedded table came from and when.
pub const EMBEDDED: &str = include_str!("prices.json");

const MARGINAL_THRESHOLD: u64 = 200_000;
const WHOLE_REQUEST_THRESHOLD: u64 = 272_000;

/// Per-token USD prices of one model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ModelPrice {
    /// USD per input token.
    pub input: f64,
    /// USD per output token.
    pub output: f64,
    /// USD per token written to the five-minute cache; `None` prices it at 1.25 times `input`.
    pub cache_write: Option<f64>,
    /// USD per token read from the cache; `None` makes cache reads free.
    pub cache_read: Option<f64>,
    /// USD per input token beyond a request's first 200k input tokens; `None`: the base rate.
    pub input_above_200k: Option<f64>,
    /// USD per output token beyond the first 200k; `None`: the base rate.
    pub output_above_200k: Option<f64>,
    /// USD per five-minute cache-write token beyond the first 200k; `None`: the base rate.
    pub cache_write_above_200k: Option<f64>,
    /// USD per cache-read token beyond the first 200k; `None`: the base rate.
    pub cache_read_above_200k: Option<f64>,
    /// USD per input token for a whole request whose context exceeds 272k tokens.
    pub input_above_272k: Option<f64>,
    /// USD per output token for a whole request whose context exceeds 272k tokens.
    pub output_above_272k: Option<f64>,
    /// USD per cache-write token for a whole request whose context exceeds 272k tokens.
    pub cache_write_above_272k: Option<f64>,
    /// USD per cache-read token for a whole request whose context exceeds 272k tokens.
    pub cache_read_above_272k: Option<f64>,
}

#[derive(Deserialize)]
struct Table {
    source: String,
    snapshot: String,
    models: HashMap<String, ModelPrice>,
}

/// The prices in force: the embedded snapshot plus overrides.
#[derive(Debug, Clone)]
pub struct Prices {
    models: HashMap<String, ModelPrice>,
    /// The table the embedded prices were generated from (LiteLLM's, with its version).
    pub source: String,
    /// The date of the embedded snapshot, `YYYY-MM-DD`.
    pub snapshot: String,
    /// Changes whenever any price changes (the ledger rebuilds its costs then).
    pub fingerprint: u64,
}

impl Prices {
    /// The embedded table with `overrides` (USD per million tokens) applied.
    pub fn load(overrides: &std::collections::BTreeMap<String, PriceOverride>) -> Prices {
        let table: Table = serde_json::from_str(EMBEDDED).expect("embedded prices.json is valid");
        let mut models = table.models;
        for (name, o) in overrides {
            let entry = models.entry(name.clone()).or_default();
            let per_token = |v: f64| v / 1_000_000.0;
            if let Some(v) = o.input {
                entry.input = per_token(v);
            }
            if let Some(v) = o.output {
                entry.output = per_token(v);
            }
            if let Some(v) = o.cache_write {
                entry.cache_write = Some(per_token(v));
            }
            if let Some(v) = o.cache_read {
                entry.cache_read = Some(per_token(v));
            }
        }
        // Stored in the ledger (a change of prices rebuilds it), so it is the ledger's own
        // fixed hash, never std's `DefaultHasher`, which may change with the compiler.
        let overrides_json = serde_json::to_string(overrides).expect("overrides serialise");
        let fingerprint =
            super::ledger::hash_of(&[EMBEDDED.as_bytes(), overrides_json.as_bytes()]) as u64;
        Prices {
            models,
            source: table.source,
            snapshot: table.snapshot,
            fingerprint,
        }
    }

    /// The price of `model`: exact name, then without a provider prefix (`anthropic/…`), then
    /// without a trailing date (`-20250929`) or `@date`.
    pub fn find(&self, model: &str) -> Option<&ModelPrice> {
        if let Some(p) = self.models.get(model) {
            return Some(p);
        }
        let bare = model.rsplit('/').next().unwrap_or(model);
        if let Some(p) = self.models.get(bare) {
            return Some(p);
        }
        let undated = bare.split('@').next().unwrap_or(bare);
        let undated = match undated.rsplit_once('-') {
            Some((head, tail)) if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) => {
                head
            }
            _ => undated,
        };
        self.models.get(undated)
    }

    /// Cost in USD of one request; `None` when the model has no price.
    pub fn cost(&self, model: &str, t: &Tokens) -> Option<f64> {
        self.find(model).map(|p| p.cost(t))
    }
}

impl ModelPrice {
    /// Cost in USD of one request at these prices.
    pub fn cost(&self, t: &Tokens) -> f64 {
        cost_with(self, t)
    }
}

fn cost_with(p: &ModelPrice, t: &Tokens) -> f64 {
    let cache_write = p.cache_write.unwrap_or(p.input * 1.25);
    let cache_read = p.cache_read.unwrap_or(0.0);
    let write_1h = t.cache_write_1h.min(t.cache_write);
    let write_5m = t.cache_write - write_1h;
    let has_whole_request_tier = p.input_above_272k.is_some()
        || p.output_above_272k.is_some()
        || p.cache_read_above_272k.is_some()
        || p.cache_write_above_272k.is_some();
    if has_whole_request_tier {
        let context = t
            .input
            .saturating_add(t.cache_read)
            .saturating_add(t.cache_write);
        let long = context > WHOLE_REQUEST_THRESHOLD;
        let rate = |base: f64, above: Option<f64>| if long { above.unwrap_or(base) } else { base };
        return t.input as f64 * rate(p.input, p.input_above_272k)
            + t.output as f64 * rate(p.output, p.output_above_272k)
            + write_5m as f64 * rate(cache_write, p.cache_write_above_272k)
            + write_1h as f64 * rate(p.input * 2.0, p.input_above_272k.map(|c| c * 2.0))
            + t.cache_read as f64 * rate(cache_read, p.cache_read_above_272k);
    }
    tiered(t.input, p.input, p.input_above_200k)
        + tiered(t.output, p.output, p.output_above_200k)
        + tiered(write_5m, cache_write, p.cache_write_above_200k)
        + tiered(write_1h, p.input * 2.0, p.input_above_200k.map(|c| c * 2.0))
        + tiered(t.cache_read, cache_read, p.cache_read_above_200k)
}

fn tiered(tokens: u64, base: f64, above: Option<f64>) -> f64 {
    match above {
        Some(above) if tokens > MARGINAL_THRESHOLD => {
            MARGINAL_THRESHOLD as f64 * base + (tokens - MARGINAL_THRESHOLD) as f64 * above
        }
        _ => tokens as f64 * base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices() -> Prices {
        Prices::load(&Default::default())
    }

    #[test]
    fn the_embedded_table_has_the_brains_models_and_a_date() {
        let p = prices();
        assert!(p.snapshot.len() == 10, "{}", p.snapshot);
        for m in [
            "claude-sonnet-4-5-20250929",
            "gpt-5-codex",
            "anthropic/claude-haiku-4-5",
        ] {
            assert!(p.find(m).is_some(), "{m}");
        }
        assert!(p.find("no-such-model").is_none());
    }

    #[test]
    fn above_200k_is_marginal_per_bucket() {
        let p = prices();
        let t = Tokens {
            input: 300_000,
            output: 1_000,
            ..Default::default()
        };
        // 200k × $3/M + 100k × $6/M + 1k × $15/M
        let cost = p.cost("claude-sonnet-4-5-20250929", &t).unwrap();
        assert!((cost - 1.215).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn above_272k_switches_the_whole_request() {
        let p = prices();
        let t = Tokens {
            input: 300_000,
            output: 1_000,
            ..Default::default()
        };
        let cost = p.cost("gpt-5.4", &t).unwrap();
        assert!((cost - 1.5225).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn one_hour_cache_writes_cost_twice_the_input_rate() {
        let p = prices();
        let t = Tokens {
            input: 7,
            output: 9,
            cache_write: 20,
            cache_write_1h: 15,
            cache_read: 30,
            reasoning: 0,
        };
        let cost = p.cost("claude-opus-4-5-20251101", &t).unwrap();
        assert!((cost - 0.00045625).abs() < 1e-12, "{cost}");
    }

    /// ccusage 20.0.24 charges 1,000,000 cache-write tokens of gpt-5 (no cache-write price in
    /// the table) $1.5625: 1.25 times the input rate.
    #[test]
    fn cache_writes_without_a_price_cost_a_quarter_more_than_input() {
        let t = Tokens {
            cache_write: 1_000_000,
            ..Default::default()
        };
        let cost = prices().cost("gpt-5", &t).unwrap();
        assert!((cost - 1.5625).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn overrides_are_per_million_tokens() {
        let mut o = std::collections::BTreeMap::new();
        o.insert(
            "my-model".to_string(),
            PriceOverride {
                input: Some(1.0),
                output: Some(2.0),
                ..Default::default()
            },
        );
        let p = Prices::load(&o);
        let t = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            ..Default::default()
        };
        assert!((p.cost("my-model", &t).unwrap() - 3.0).abs() < 1e-9);
        assert_ne!(p.fingerprint, prices().fingerprint);
    }
}
