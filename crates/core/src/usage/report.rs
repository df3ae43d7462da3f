//! Daily, monthly and per-session reports over the ledger, as JSON (the `paios usage` contract,
//! with ccusage's field names) and as a readable table.
//!
//! Reports group the ledger's quarter-hour sums by local date in the chosen time zone; they
//! never read the logs themselves.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use super::ledger::{AggRow, BUCKET_MS, Cost, Source};
use super::parse::{SYNTHETIC_MODEL, Tokens};
use super::prices::Prices;
use crate::text::printable;

/// The time zone dates are taken in.
#[derive(Debug, Clone, Copy)]
pub enum Zone {
    /// The machine's local time zone.
    Local,
    /// A named IANA time zone.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// `None` or `local` → the machine's local zone; otherwise an IANA name such as
    /// `Europe/Paris` or `UTC`, in any case (`utc`, `europe/paris`).
    pub fn parse(name: Option<&str>) -> Result<Zone, String> {
        match name {
            None => Ok(Zone::Local),
            Some(n) if n.eq_ignore_ascii_case("local") => Ok(Zone::Local),
            Some(n) => n
                .parse::<chrono_tz::Tz>()
                .ok()
                .or_else(|| {
                    chrono_tz::TZ_VARIANTS
                        .iter()
                        .copied()
                        .find(|tz| tz.name().eq_ignore_ascii_case(n))
                })
                .map(Zone::Named)
                .ok_or_else(|| {
                    format!("unknown time zone {n:?}: use an IANA name such as UTC or Europe/Paris")
                }),
        }
    }

    /// The date in this zone of a time in epoch milliseconds (1970-01-01 for a time out of range).
    pub fn date_of(&self, ts_ms: i64) -> NaiveDate {
        let utc = Utc.timestamp_millis_opt(ts_ms).single().unwrap_or_default();
        match self {
            Zone::Local => utc.with_timezone(&chrono::Local).date_naive(),
            Zone::Named(tz) => utc.with_timezone(tz).date_naive(),
        }
    }

    /// A time as `YYYY-MM-DD HH:MM` in this zone.
    pub fn format_time(&self, ts_ms: i64) -> String {
        self.format_with(ts_ms, "%Y-%m-%d %H:%M")
    }

    /// A time as `HH:MM` in this zone.
    pub fn format_hm(&self, ts_ms: i64) -> String {
        self.format_with(ts_ms, "%H:%M")
    }

    fn format_with(&self, ts_ms: i64, format: &str) -> String {
        let utc = Utc.timestamp_millis_opt(ts_ms).single().unwrap_or_default();
        match self {
            Zone::Local => utc.with_timezone(&chrono::Local).format(format).to_string(),
            Zone::Named(tz) => utc.with_timezone(tz).format(format).to_string(),
        }
    }

    /// Today's date in this zone.
    pub fn today(&self) -> NaiveDate {
        self.date_of(Utc::now().timestamp_millis())
    }
}

/// How a report groups the ledger's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One row per date (`YYYY-MM-DD`).
    Daily,
    /// Weeks starting on the given day (ccusage's default: Sunday).
    Weekly(chrono::Weekday),
    /// One row per month (`YYYY-MM`).
    Monthly,
    /// One row per session (`source:session`), kept when its last use falls in the date range.
    Session,
}

/// What to report.
#[derive(Debug, Clone)]
pub struct Options {
    /// How rows are grouped.
    pub period: Period,
    /// The first date reported, inclusive; `None` reports from the start.
    pub since: Option<NaiveDate>,
    /// The last date reported, inclusive; `None` reports up to now.
    pub until: Option<NaiveDate>,
    /// The time zone dates are taken in.
    pub zone: Zone,
}

/// Token and cost sums.
#[derive(Debug, Clone, Default)]
pub struct Sums {
    /// The tokens summed, by kind.
    pub tokens: Tokens,
    /// The cost summed, in nanodollars.
    pub cost: Cost,
    /// The number of requests summed.
    pub requests: u64,
}

impl Sums {
    fn add(&mut self, t: &Tokens, cost: Cost, requests: u64) {
        let sum = &mut self.tokens;
        sum.input = sum.input.saturating_add(t.input);
        sum.output = sum.output.saturating_add(t.output);
        sum.cache_write = sum.cache_write.saturating_add(t.cache_write);
        sum.cache_read = sum.cache_read.saturating_add(t.cache_read);
        sum.reasoning = sum.reasoning.saturating_add(t.reasoning);
        self.cost += cost;
        self.requests = self.requests.saturating_add(requests);
    }

    fn json(&self) -> serde_json::Map<String, Value> {
        let t = &self.tokens;
        let Value::Object(map) = json!({
            "inputTokens": t.input,
            "outputTokens": t.output,
            "cacheCreationTokens": t.cache_write,
            "cacheReadTokens": t.cache_read,
            "totalTokens": t.total(),
            "totalCost": self.cost.usd(),
        }) else {
            unreachable!()
        };
        map
    }
}

/// `map[key]`, made (empty) if missing; the key is copied only then (most rows add to an entry
/// already there).
fn entry<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

/// One row of a report: a day, a month or a session.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// The row's totals.
    pub sums: Sums,
    /// The row's sums per model name.
    pub by_model: BTreeMap<String, Sums>,
    /// The row's sums per tool the usage came from.
    pub by_source: BTreeMap<Source, Sums>,
    /// The latest use in the row, epoch milliseconds; 0 for an empty row.
    pub last_ts: i64,
}

impl Group {
    fn add(&mut self, row: &AggRow) {
        self.sums.add(&row.tokens, row.cost, row.requests);
        entry(&mut self.by_model, &row.model).add(&row.tokens, row.cost, row.requests);
        self.by_source
            .entry(row.source)
            .or_default()
            .add(&row.tokens, row.cost, row.requests);
        self.last_ts = self.last_ts.max(row.last_ts);
    }

    /// Models, most expensive first (then by name); not Claude Code's own errors (as ccusage).
    fn models_by_cost(&self) -> Vec<(&String, &Sums)> {
        let mut models: Vec<_> = self
            .by_model
            .iter()
            .filter(|(m, _)| *m != SYNTHETIC_MODEL)
            .collect();
        models.sort_by(|a, b| b.1.cost.cmp(&a.1.cost).then_with(|| a.0.cmp(b.0)));
        models
    }
}

/// A computed report.
#[derive(Debug, Clone)]
pub struct Report {
    /// How the groups were made.
    pub period: Period,
    /// Key (date, month or session) → row, in key order.
    pub groups: BTreeMap<String, Group>,
    /// The sums over every group in the report.
    pub totals: Group,
    /// Models without a price and the tokens they used.
    pub unpriced: BTreeMap<String, u64>,
}

/// A report of `rows` (the ledger's quarter-hour sums) grouped and filtered as `options` say;
/// `prices` only decides which models are listed as unpriced.
pub fn build(rows: &[AggRow], options: &Options, prices: &Prices) -> Report {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut totals = Group::default();
    let mut unpriced = BTreeMap::new();
    let in_range =
        |d: NaiveDate| options.since.is_none_or(|s| d >= s) && options.until.is_none_or(|u| d <= u);
    if options.period == Period::Session {
        let mut sessions: BTreeMap<(Source, String), Group> = BTreeMap::new();
        for row in rows {
            sessions
                .entry((row.source, row.session.clone()))
                .or_default()
                .add(row);
        }
        for ((source, session), group) in sessions {
            if !in_range(options.zone.date_of(group.last_ts)) {
                continue;
            }
            let key = format!("{}:{session}", source.name());
            for (model, sums) in &group.by_model {
                if prices.find(model).is_none() && sums.tokens.total() > 0 {
                    *unpriced.entry(model.clone()).or_default() += sums.tokens.total();
                }
            }
            merge(&mut totals, &group);
            groups.insert(key, group);
        }
    } else {
        // Rows come in bucket order, and most repeat the model of the row before: the day's key
        // and the price lookup are reused rather than made again for each of thousands of rows.
        let mut day: Option<(i64, Option<String>)> = None;
        let mut model: Option<(&str, bool)> = None;
        for row in rows {
            let key = match &day {
                Some((bucket, key)) if *bucket == row.bucket => key,
                _ => {
                    let date = options.zone.date_of(row.bucket * BUCKET_MS);
                    let key = in_range(date).then(|| match options.period {
                        Period::Monthly => date.format("%Y-%m").to_string(),
                        Period::Weekly(first) => {
                            let back = (date.weekday().num_days_from_monday() + 7
                                - first.num_days_from_monday())
                                % 7;
                            (date - chrono::Duration::days(i64::from(back)))
                                .format("%Y-%m-%d")
                                .to_string()
                        }
                        _ => date.format("%Y-%m-%d").to_string(),
                    });
                    &day.insert((row.bucket, key)).1
                }
            };
            let Some(key) = key else { continue };
            entry(&mut groups, key).add(row);
            totals.add(row);
            let priced = match model {
                Some((name, priced)) if name == row.model => priced,
                _ => {
                    let priced = prices.find(&row.model).is_some();
                    model = Some((&row.model, priced));
                    priced
                }
            };
            if !priced && row.tokens.total() > 0 {
                *unpriced.entry(row.model.clone()).or_default() += row.tokens.total();
            }
        }
    }
    Report {
        period: options.period,
        groups,
        totals,
        unpriced,
    }
}

fn merge(into: &mut Group, from: &Group) {
    into.sums
        .add(&from.sums.tokens, from.sums.cost, from.sums.requests);
    for (m, s) in &from.by_model {
        into.by_model
            .entry(m.clone())
            .or_default()
            .add(&s.tokens, s.cost, s.requests);
    }
    for (src, s) in &from.by_source {
        into.by_source
            .entry(*src)
            .or_default()
            .add(&s.tokens, s.cost, s.requests);
    }
    into.last_ts = into.last_ts.max(from.last_ts);
}

impl Report {
    /// The `--json` document.
    pub fn to_json(&self, zone: Zone) -> Value {
        let (list_key, key_name) = match self.period {
            Period::Daily => ("daily", "date"),
            Period::Weekly(_) => ("weekly", "week"),
            Period::Monthly => ("monthly", "month"),
            Period::Session => ("sessions", "sessionId"),
        };
        let rows: Vec<Value> = self
            .groups
            .iter()
            .map(|(key, g)| {
                let mut row = serde_json::Map::new();
                match self.period {
                    Period::Session => {
                        let (source, session) = key.split_once(':').unwrap_or(("", key));
                        row.insert(key_name.into(), json!(session));
                        row.insert("source".into(), json!(source));
                        row.insert(
                            "lastActivity".into(),
                            json!(zone.date_of(g.last_ts).format("%Y-%m-%d").to_string()),
                        );
                    }
                    _ => {
                        row.insert(key_name.into(), json!(key));
                    }
                }
                row.extend(g.sums.json());
                row.insert(
                    "modelsUsed".into(),
                    json!(
                        g.models_by_cost()
                            .iter()
                            .map(|(m, _)| m)
                            .collect::<Vec<_>>()
                    ),
                );
                row.insert("modelBreakdowns".into(), breakdowns(g));
                row.insert("bySource".into(), by_source(g));
                Value::Object(row)
            })
            .collect();
        let mut totals = self.totals.sums.json();
        totals.insert(
            "unpricedModels".into(),
            json!(self.unpriced.keys().collect::<Vec<_>>()),
        );
        totals.insert("bySource".into(), by_source(&self.totals));
        json!({
            list_key: rows,
            "totals": totals,
            "warnings": self.warnings(),
        })
    }

    /// Human-readable warnings (unpriced models with their tokens).
    pub fn warnings(&self) -> Vec<String> {
        self.unpriced
            .iter()
            .map(|(m, t)| format!("no price for model {m:?} ({t} tokens counted at $0); add one under [usage.prices.\"{m}\"] in paios.toml"))
            .collect()
    }

    /// A table like ccusage's.
    pub fn to_table(&self, breakdown: bool) -> String {
        let first = match self.period {
            Period::Daily => "Date",
            Period::Weekly(_) => "Week",
            Period::Monthly => "Month",
            Period::Session => "Session",
        };
        let header = [
            first,
            "Models",
            "Input",
            "Output",
            "Cache Create",
            "Cache Read",
            "Total Tokens",
            "Cost (USD)",
        ];
        let mut rows: Vec<[String; 8]> = Vec::new();
        let line = |label: String, models: String, s: &Sums| -> [String; 8] {
            [
                label,
                models,
                thousands(s.tokens.input),
                thousands(s.tokens.output),
                thousands(s.tokens.cache_write),
                thousands(s.tokens.cache_read),
                thousands(s.tokens.total()),
                format!("${:.2}", s.cost.usd()),
            ]
        };
        for (key, g) in &self.groups {
            let models: Vec<String> = g
                .models_by_cost()
                .iter()
                .map(|(m, _)| short_model(m))
                .collect();
            // Names come from the logs: escape what a terminal would act on.
            rows.push(line(
                printable(key).into_owned(),
                models.join(", "),
                &g.sums,
            ));
            if breakdown {
                for (m, s) in g.models_by_cost() {
                    rows.push(line(format!("  └─ {}", short_model(m)), String::new(), s));
                }
            }
        }
        let total = line("Total".into(), String::new(), &self.totals.sums);
        let mut widths = header.map(|h| h.chars().count());
        for r in rows.iter().chain(std::iter::once(&total)) {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let sep = |out: &mut String, l: &str, m: &str, r: &str| {
            out.push_str(l);
            let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
            out.push_str(&parts.join(m));
            out.push_str(r);
            out.push('\n');
        };
        let put = |out: &mut String, cells: &[String]| {
            out.push('│');
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                let pad = w - c.chars().count();
                if i < 2 {
                    out.push_str(&format!(" {c}{} │", " ".repeat(pad)));
                } else {
                    out.push_str(&format!(" {}{c} │", " ".repeat(pad)));
                }
            }
            out.push('\n');
        };
        sep(&mut out, "┌", "┬", "┐");
        put(&mut out, &header.map(String::from));
        sep(&mut out, "├", "┼", "┤");
        for r in &rows {
            put(&mut out, r);
        }
        sep(&mut out, "├", "┼", "┤");
        put(&mut out, &total);
        sep(&mut out, "└", "┴", "┘");
        out
    }
}

fn breakdowns(g: &Group) -> Value {
    Value::Array(
        g.models_by_cost()
            .into_iter()
            .map(|(m, s)| {
                let mut row = s.sums_json_for_model();
                row.insert("modelName".into(), json!(m));
                Value::Object(row)
            })
            .collect(),
    )
}

fn by_source(g: &Group) -> Value {
    let map: serde_json::Map<String, Value> = g
        .by_source
        .iter()
        .map(|(s, sums)| (s.name().to_string(), Value::Object(sums.json())))
        .collect();
    Value::Object(map)
}

impl Sums {
    fn sums_json_for_model(&self) -> serde_json::Map<String, Value> {
        let mut m = self.json();
        let cost = m.remove("totalCost").unwrap_or(json!(0.0));
        m.insert("cost".into(), cost);
        m
    }
}

/// A model's name for the table, without the `claude-` prefix or a date suffix, and with
/// control characters escaped.
fn short_model(m: &str) -> String {
    let m = m.strip_prefix("claude-").unwrap_or(m);
    let short = match m.rsplit_once('-') {
        Some((head, tail)) if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => m,
    };
    printable(short).into_owned()
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Dates of `--since`/`--until`: `YYYYMMDD` (or `YYYY-MM-DD`).
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .map_err(|_| format!("{s:?} is not a date: use YYYYMMDD, e.g. 20261101"))
}

/// Sums per source for one local date and one local month (for budgets and the panel).
pub fn spend(rows: &[AggRow], zone: Zone, day: NaiveDate) -> SpendSummary {
    // Summed exactly, then given in dollars.
    let mut today = BTreeMap::<Source, Cost>::new();
    let mut this_month = BTreeMap::<Source, Cost>::new();
    let mut days: [BTreeMap<Source, Cost>; 14] = Default::default();
    for row in rows {
        let date = zone.date_of(row.bucket * BUCKET_MS);
        if (date.year(), date.month()) == (day.year(), day.month()) {
            *this_month.entry(row.source).or_default() += row.cost;
            if date == day {
                *today.entry(row.source).or_default() += row.cost;
            }
        }
        if let Some(days_back) = (day - date)
            .num_days()
            .try_into()
            .ok()
            .filter(|d: &usize| *d < 14)
        {
            *days[13 - days_back].entry(row.source).or_default() += row.cost;
        }
    }
    let usd = |sums: BTreeMap<Source, Cost>| sums.into_iter().map(|(s, c)| (s, c.usd())).collect();
    SpendSummary {
        today: usd(today),
        month: usd(this_month),
        last_14_days: days.map(usd),
    }
}

/// Cost per source today, this month, and on each of the last 14 days (oldest first).
#[derive(Debug, Clone, Default)]
pub struct SpendSummary {
    /// Cost per source on the day summarised, in US dollars; a source with no use has no entry.
    pub today: BTreeMap<Source, f64>,
    /// Cost per source over that day's whole calendar month, in US dollars.
    pub month: BTreeMap<Source, f64>,
    /// Cost per source on each of the 14 days ending with that day, oldest first, in US dollars.
    pub last_14_days: [BTreeMap<Source, f64>; 14],
}

impl SpendSummary {
    /// The sum in US dollars over every source of one of the maps above.
    pub fn total(map: &BTreeMap<Source, f64>) -> f64 {
        map.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(100), "100");
    }

    #[test]
    fn model_names_from_logs_cannot_repaint_the_terminal() {
        assert_eq!(short_model("claude-sonnet-4-5-20250929"), "sonnet-4-5");
        assert_eq!(
            short_model("evil\u{1b}[2J\rmodel"),
            "evil\\u{1b}[2J\\rmodel"
        );
    }

    #[test]
    fn time_zones_are_named_in_any_case() {
        for (name, want) in [
            ("UTC", "UTC"),
            ("utc", "UTC"),
            ("europe/paris", "Europe/Paris"),
            ("AMERICA/NEW_YORK", "America/New_York"),
        ] {
            match Zone::parse(Some(name)) {
                Ok(Zone::Named(tz)) => assert_eq!(tz.name(), want, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(matches!(Zone::parse(Some("Local")), Ok(Zone::Local)));
        let err = Zone::parse(Some("Mars/Olympus")).unwrap_err();
        assert!(err.contains("Mars/Olympus"), "{err}");
    }

    #[test]
    fn spend_counts_today_this_month_and_the_last_14_days() {
        let utc = Zone::Named(chrono_tz::UTC);
        let row = |date: &str, source: Source, usd: f64| {
            let midday = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_millis();
            AggRow {
                source,
                bucket: midday / BUCKET_MS,
                session: "s".into(),
                model: "m".into(),
                tokens: Tokens::default(),
                cost: Cost::of_usd(usd),
                requests: 1,
                last_ts: midday,
            }
        };
        let rows = [
            row("2026-11-20", Source::Claude, 1.0),
            row("2026-11-20", Source::Codex, 0.5),
            row("2026-11-02", Source::Claude, 2.0),
            row("2026-10-31", Source::Claude, 4.0),
            row("2025-11-20", Source::Claude, 8.0),
            row("2026-11-07", Source::Claude, 16.0),
            row("2026-11-06", Source::Claude, 32.0),
        ];
        let s = spend(&rows, utc, NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
        assert_eq!(s.today[&Source::Claude], 1.0);
        assert_eq!(s.today[&Source::Codex], 0.5);
        // This November only: not last October, not November a year ago.
        assert_eq!(s.month[&Source::Claude], 51.0);
        // Today and the 13 days before it, oldest first.
        assert_eq!(s.last_14_days[13][&Source::Claude], 1.0);
        assert_eq!(s.last_14_days[0][&Source::Claude], 16.0);
        let days_with_spend = s.last_14_days.iter().filter(|d| !d.is_empty()).count();
        assert_eq!(days_with_spend, 2);
    }

    #[test]
    fn dates_accept_both_spellings() {
        assert_eq!(parse_date("20261101"), parse_date("2026-11-01"));
        assert!(parse_date("2026").is_err());
    }
}
