//! `paios-bench json`: how the usage ledger decodes its log lines' JSON, the product's decoder
//! (serde_json) against simd-json and sonic-rs on the same extraction (the same structs,
//! [`paios_core::usage::fields`]). The ledger once had a hand-written JSON reader; on this
//! benchmark it was 1.19-1.49x faster than serde_json end to end, short of the 1.5x that would
//! have justified keeping hand-written code, so it was removed.
//!
//! For each log shape of the generator (and a Codex tree): (a) per-line throughput of the line
//! parsers on the lines that reach JSON decoding (after the `memchr` prefilter, as the ledger
//! reads them), one thread; (b) the real cold ingest end to end, in this process: a fresh
//! ledger, [`Ledger::ingest`] with that decoder, the daily report as JSON — what
//! `paios usage daily --json` does on an empty cache (which is also timed, as a process, for the
//! product's decoder). A crate whose report differs from the product's is flagged and left out
//! of "vs best" (see the tests for where each crate reads differently from JSON.parse).
//!
//! `PAIOS_BENCH_JSON_MB` (default 256) sizes each Claude tree, `PAIOS_BENCH_JSON_SHAPES`
//! (default `sessions,busy,many,dense`) picks the shapes, `PAIOS_BENCH_ROUNDS` (default 5) the
//! rounds (decoders interleaved within a round; medians reported).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use paios_core::usage::fields::{self, ClaudeLine, CodexLine, Decode};
use paios_core::usage::parse::{self, CodexState, Line};
use paios_core::usage::report::{self, Options, Period, Zone};
use paios_core::usage::{Ledger, LogDirs, Prices};
use paios_testkit::usage_logs::{self as logs, Shape, Size};

/// simd-json's serde deserializer (the line copied first: it decodes in place), buffers reused.
pub struct SimdJson;

thread_local! {
    static SIMD_BUFFERS: std::cell::RefCell<simd_json::Buffers> =
        std::cell::RefCell::new(simd_json::Buffers::with_max_depth(4096, 128));
}

impl SimdJson {
    fn decode<'a, T: serde::Deserialize<'a>>(
        line: &[u8],
        scratch: &'a mut Vec<u8>,
        out: &mut T,
    ) -> bool {
        scratch.clear();
        scratch.extend_from_slice(line);
        SIMD_BUFFERS.with_borrow_mut(|buffers| {
            match simd_json::Deserializer::from_slice_with_buffers(scratch, buffers) {
                Ok(mut de) => match fields::from_object(&mut de) {
                    Ok(v) => {
                        *out = v;
                        true
                    }
                    Err(_) => false,
                },
                Err(_) => false,
            }
        })
    }
}

impl Decode for SimdJson {
    fn name(&self) -> &'static str {
        "simd-json"
    }
    fn claude<'a>(
        &self,
        line: &'a [u8],
        scratch: &'a mut Vec<u8>,
        out: &mut ClaudeLine<'a>,
    ) -> bool {
        Self::decode(line, scratch, out)
    }
    fn codex<'a>(&self, line: &'a [u8], scratch: &'a mut Vec<u8>, out: &mut CodexLine<'a>) -> bool {
        Self::decode(line, scratch, out)
    }
}

/// sonic-rs's serde deserializer, strings borrowed from the line.
pub struct SonicRs;

/// `T`, read only from an object (see [`fields::from_object`]).
struct Object<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fields::from_object(d).map(Object)
    }
}

impl SonicRs {
    fn decode<'a, T: serde::Deserialize<'a>>(line: &'a [u8], out: &mut T) -> bool {
        // `from_slice` checks the trailing bytes and the UTF-8 of the whole line.
        match sonic_rs::from_slice::<Object<T>>(line) {
            Ok(v) => {
                *out = v.0;
                true
            }
            Err(_) => false,
        }
    }
}

impl Decode for SonicRs {
    fn name(&self) -> &'static str {
        "sonic-rs"
    }
    fn claude<'a>(&self, line: &'a [u8], _: &'a mut Vec<u8>, out: &mut ClaudeLine<'a>) -> bool {
        Self::decode(line, out)
    }
    fn codex<'a>(&self, line: &'a [u8], _: &'a mut Vec<u8>, out: &mut CodexLine<'a>) -> bool {
        Self::decode(line, out)
    }
}

/// The product's decoder (serde_json) first, then the crates it was measured against.
pub const DECODERS: [&dyn Decode; 3] = [&fields::SerdeJson, &SimdJson, &SonicRs];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A file's bytes and the ranges of its lines that reach JSON decoding.
type Candidates = (Vec<u8>, Vec<(usize, usize)>);

/// One generated tree to measure.
struct Tree {
    name: String,
    dirs: LogDirs,
    source: paios_core::usage::Source,
    files: u64,
    bytes: u64,
    lines: u64,
    /// Each file's bytes and the ranges of its lines that reach JSON decoding.
    candidates: Vec<Candidates>,
    candidate_bytes: u64,
    candidate_lines: u64,
}

pub fn run() -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let megabytes: u64 = env_or("PAIOS_BENCH_JSON_MB", 256);
    let rounds: usize = env_or("PAIOS_BENCH_ROUNDS", 5usize).max(1);
    let shapes: Vec<Shape> = env_or(
        "PAIOS_BENCH_JSON_SHAPES",
        "sessions,busy,many,dense".to_string(),
    )
    .split(',')
    .map(str::parse)
    .collect::<Result<_, _>>()
    .map_err(anyhow::Error::msg)?;
    let dir = tempfile::Builder::new()
        .prefix("paios-bench-json-")
        .tempdir()?;
    let mut trees = Vec::new();
    for shape in &shapes {
        let root = dir.path().join(shape.name());
        let w = logs::write_claude(&root, *shape, 1, Size::Bytes(megabytes << 20))?;
        let projects = root.join("projects");
        trees.push(tree(
            shape.name(),
            LogDirs {
                claude: vec![projects.clone()],
                ..Default::default()
            },
            paios_core::usage::Source::Claude,
            &projects,
            (w.files, w.bytes, w.lines),
        )?);
    }
    // Codex: sessions of 60 turns, a token count with rate limits each turn.
    let codex_home = dir.path().join("codex");
    let sessions = (megabytes as usize * 4).max(8);
    logs::write_codex_tree_with(&codex_home, 7, sessions, 60, codex_limits);
    let sessions_dir = codex_home.join("sessions");
    let (files, bytes, lines) = count(&sessions_dir)?;
    trees.push(tree(
        "codex",
        LogDirs {
            codex: vec![sessions_dir.clone()],
            ..Default::default()
        },
        paios_core::usage::Source::Codex,
        &sessions_dir,
        (files, bytes, lines),
    )?);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load.trim());
    println!(
        "decoders: {}; {rounds} rounds, medians",
        DECODERS.map(|d| d.name()).join(", ")
    );
    let prices = Prices::load(&Default::default());
    let paios = crate::sibling("paios").ok();
    for t in &trees {
        println!(
            "\n{}: {} files, {:.0} MB, {} lines; {} lines ({:.0} MB) reach JSON decoding",
            t.name,
            t.files,
            t.bytes as f64 / 1048576.0,
            t.lines,
            t.candidate_lines,
            t.candidate_bytes as f64 / 1048576.0
        );
        // (a) Per line.
        let mut per_line = vec![Vec::new(); DECODERS.len()];
        let mut e2e = vec![Vec::new(); DECODERS.len()];
        let mut e2e_cpu = vec![Vec::new(); DECODERS.len()];
        let mut process = Vec::new();
        let mut reference: Option<String> = None;
        let mut differs = vec![false; DECODERS.len()];
        for round in 0..rounds {
            for k in 0..DECODERS.len() {
                let i = (k + round) % DECODERS.len();
                per_line[i].push(parse_all(t, DECODERS[i]));
            }
            for k in 0..DECODERS.len() {
                let i = (k + round) % DECODERS.len();
                let (wall, cpu, report) = ingest(t, DECODERS[i], &prices, dir.path())?;
                e2e[i].push(wall);
                e2e_cpu[i].push(cpu);
                if i == 0 {
                    // The product's decoder is the reference (it reads as ccusage does).
                    if let Some(r) = &reference {
                        anyhow::ensure!(
                            *r == report,
                            "{}: the product's report changed between rounds",
                            t.name
                        );
                    }
                    reference = Some(report);
                } else if let Some(r) = &reference {
                    differs[i] |= *r != report;
                }
            }
            if let Some(paios) = &paios {
                process.push(run_paios(paios, t, dir.path())?);
            }
        }
        println!(
            "{:<13} {:>9} {:>11} {:>10} {:>12} {:>9}",
            "decoder", "MB/s", "lines/s", "ingest s", "ingest CPU s", "vs best"
        );
        let medians: Vec<Duration> = e2e.iter_mut().map(|v| median(v)).collect();
        // The best crate among those that read the same report as the product.
        let best_crate = (1..DECODERS.len())
            .filter(|&i| !differs[i])
            .map(|i| medians[i])
            .min()
            .unwrap_or_default();
        for (i, d) in DECODERS.iter().enumerate() {
            let secs = median(&mut per_line[i]).as_secs_f64();
            println!(
                "{:<13} {:>9.0} {:>11.0} {:>10.3} {:>12.3} {:>8.2}x{}",
                d.name(),
                t.candidate_bytes as f64 / 1048576.0 / secs,
                t.candidate_lines as f64 / secs,
                medians[i].as_secs_f64(),
                median(&mut e2e_cpu[i]).as_secs_f64(),
                best_crate.as_secs_f64() / medians[i].as_secs_f64(),
                if differs[i] {
                    "  (report differs from the product's: not comparable)"
                } else {
                    ""
                },
            );
        }
        if !process.is_empty() {
            println!(
                "`paios usage daily --json` cold, as a process ({}): {:.3}s",
                DECODERS[0].name(),
                median(&mut process).as_secs_f64()
            );
        }
        println!(
            "ingest runs (s): {}",
            DECODERS
                .iter()
                .zip(&e2e)
                .map(|(d, v)| format!(
                    "{} {}",
                    d.name(),
                    v.iter()
                        .map(|t| format!("{:.3}", t.as_secs_f64()))
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        std::io::stdout().flush()?;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nload average after: {}", load.trim());
    Ok(ExitCode::SUCCESS)
}

/// Rate limits as Codex 0.169 logs them (reset times) and older ones did (seconds from the
/// event), now and then none.
pub fn codex_limits(session: usize, turn: usize) -> Option<logs::lines::CodexRateLimits> {
    use logs::lines::{CodexRateLimits, CodexReset, CodexWindow};
    if (session + turn) % 7 == 3 {
        return None;
    }
    let reset = if session.is_multiple_of(2) {
        CodexReset::At(1_794_000_000 + turn as i64 * 60)
    } else {
        CodexReset::InSeconds(600 + turn as u64)
    };
    Some(CodexRateLimits {
        primary: Some(CodexWindow {
            used_percent: ((session * 7 + turn) % 100) as f64 + 0.5,
            window_minutes: 300,
            reset,
        }),
        secondary: (!turn.is_multiple_of(3)).then_some(CodexWindow {
            used_percent: 40.0,
            window_minutes: 10080,
            reset,
        }),
    })
}

fn tree(
    name: &str,
    dirs: LogDirs,
    source: paios_core::usage::Source,
    root: &Path,
    (files, bytes, lines): (u64, u64, u64),
) -> anyhow::Result<Tree> {
    let needles = match source {
        paios_core::usage::Source::Claude => parse::CLAUDE_NEEDLES,
        paios_core::usage::Source::Codex => parse::CODEX_NEEDLES,
        paios_core::usage::Source::OpenClaw => parse::OPENCLAW_NEEDLES,
    };
    let mut candidates = Vec::new();
    let (mut candidate_bytes, mut candidate_lines) = (0, 0);
    for path in files_under(root)? {
        let text = std::fs::read(&path)?;
        let mut ranges = Vec::new();
        let mut start = 0;
        for end in memchr_iter(&text) {
            let line = &text[start..end];
            if needles
                .iter()
                .any(|n| memchr::memmem::find(line, n).is_some())
            {
                ranges.push((start, end));
                candidate_bytes += line.len() as u64 + 1;
                candidate_lines += 1;
            }
            start = end + 1;
        }
        candidates.push((text, ranges));
    }
    Ok(Tree {
        name: name.to_string(),
        dirs,
        source,
        files,
        bytes,
        lines,
        candidates,
        candidate_bytes,
        candidate_lines,
    })
}

fn memchr_iter(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr_iter(b'\n', text)
}

fn files_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files_under(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn count(dir: &Path) -> std::io::Result<(u64, u64, u64)> {
    let (mut files, mut bytes, mut lines) = (0, 0, 0);
    for path in files_under(dir)? {
        let text = std::fs::read(path)?;
        files += 1;
        bytes += text.len() as u64;
        lines += memchr::memchr_iter(b'\n', &text).count() as u64;
    }
    Ok((files, bytes, lines))
}

/// Parse every candidate line of `t` with `decode`, one thread; the time it took.
fn parse_all(t: &Tree, decode: &dyn Decode) -> Duration {
    let mut scratch = Vec::new();
    let mut usage = 0u64;
    let started = Instant::now();
    for (text, ranges) in &t.candidates {
        let mut state = CodexState::default();
        let mut openclaw = parse::OpenClawState::default();
        for &(a, b) in ranges {
            let line = &text[a..b];
            let parsed = match t.source {
                paios_core::usage::Source::Claude => {
                    parse::parse_claude_with(decode, line, &mut scratch)
                }
                paios_core::usage::Source::Codex => {
                    parse::parse_codex_with(decode, line, &mut scratch, &mut state)
                }
                paios_core::usage::Source::OpenClaw => {
                    parse::parse_openclaw_with(decode, line, &mut scratch, &mut openclaw)
                }
            };
            if let Line::Usage(r) = parsed {
                usage = usage.wrapping_add(r.tokens.total());
            }
        }
    }
    let took = started.elapsed();
    std::hint::black_box(usage);
    took
}

/// A cold ingest of `t` with `decode` and the daily report, as `paios usage daily --json`
/// does them: wall time, this process's CPU time, the report.
fn ingest(
    t: &Tree,
    decode: &'static dyn Decode,
    prices: &Prices,
    scratch_dir: &Path,
) -> anyhow::Result<(Duration, Duration, String)> {
    let cache = scratch_dir.join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    paios_core::usage::ledger::exit_cleanly_on_sigbus();
    let cpu = cpu_time();
    let started = Instant::now();
    let mut ledger = Ledger::open(&cache, prices)?;
    ledger.map_files(true);
    ledger.decode_with(decode);
    ledger.ingest(&t.dirs, prices)?;
    let rows = ledger.rows(None)?;
    let zone = Zone::parse(Some("UTC")).map_err(anyhow::Error::msg)?;
    let options = Options {
        period: Period::Daily,
        since: None,
        until: None,
        zone,
    };
    let report = report::build(&rows, &options, prices)
        .to_json(zone)
        .to_string();
    drop(ledger);
    let wall = started.elapsed();
    Ok((wall, cpu_time().saturating_sub(cpu), report))
}

/// `paios usage daily --json` on an empty cache, as a process.
fn run_paios(paios: &Path, t: &Tree, scratch_dir: &Path) -> anyhow::Result<Duration> {
    let home = scratch_dir.join("home");
    let _ = std::fs::remove_dir_all(home.join("cache"));
    let none = scratch_dir.join("none");
    let claude = t
        .dirs
        .claude
        .first()
        .and_then(|p| p.parent())
        .unwrap_or(&none);
    let codex = t
        .dirs
        .codex
        .first()
        .and_then(|p| p.parent())
        .unwrap_or(&none);
    let started = Instant::now();
    let out = std::process::Command::new(paios)
        .args(["usage", "daily", "--json", "--timezone", "UTC"])
        .env("PAIOS_HOME", &home)
        .env("CLAUDE_CONFIG_DIR", claude)
        .env("CODEX_HOME", codex)
        .stderr(std::process::Stdio::null())
        .output()?;
    let wall = started.elapsed();
    anyhow::ensure!(
        out.status.success(),
        "paios usage daily failed: {:?}",
        out.status
    );
    Ok(wall)
}

fn cpu_time() -> Duration {
    // SAFETY: rusage is plain data, fully written by getrusage on success.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    [usage.ru_utime, usage.ru_stime]
        .iter()
        .map(|t| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000))
        .sum()
}

fn median(runs: &mut [Duration]) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

#[cfg(test)]
mod tests;
