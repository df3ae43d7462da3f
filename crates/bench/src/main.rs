//! `paios-bench TARGET` (also reached as `paios bench TARGET`): performance figures, printed and
//! never asserted. Each target measures the real thing — the release `paios` and `ai` binaries
//! beside this one, a real core in a throw-away home — and, where there is one, the peer in the
//! same run (ccusage for the ledger, supervisord for the watchdog).
//!
//! This binary is its own crate so that the product's library and command-line programs carry
//! no benchmark code and no test scaffolding (the log generator lives in `paios-testkit`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

mod approvals;
mod hook;
mod json;
mod mcp;
mod router;
mod store;
mod usage;
mod watchdog;

#[derive(Debug, Parser)]
#[command(name = "paios-bench", version = paios_core::VERSION, about = "PAIOS benchmarks (figures, never asserted)")]
struct Cli {
    /// PAIOS home to read the configuration and tools from (default: $PAIOS_HOME or the
    /// platform folder). Benchmarks run their cores in throw-away homes of their own.
    #[arg(long, global = true, env = "PAIOS_HOME")]
    home: Option<PathBuf>,
    /// What to measure.
    #[arg(value_enum)]
    target: Target,
    /// Events per in-process run (store bench).
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// A folder with `dangerous.txt` and `benign.txt`, one command a line (approvals bench).
    #[arg(long, value_name = "DIR", required_if_eq("target", "approvals"))]
    corpus: Option<PathBuf>,
    /// Another `paios` binary to time in the same run, alternating with this one (approvals
    /// bench).
    #[arg(long, value_name = "BIN")]
    compare: Option<PathBuf>,
    /// Hook processes per corpus line and binary; 0 skips the hook timing (approvals bench).
    #[arg(long, default_value_t = 1)]
    hook_runs: usize,
    /// Also list every benign line that asks, with its rule (approvals bench).
    #[arg(long)]
    verbose: bool,
    /// Write the per-line verdicts as JSON lines to this file (approvals bench).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Timed `tools/call`s per server and transport, after a warm-up of a tenth (mcp bench).
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    /// Timed process start-ups of `paios mcp`; server-everything gets a fifth (mcp bench).
    #[arg(long, default_value_t = 200)]
    starts: usize,
    /// Print the figures as JSON instead of a table (mcp bench).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Target {
    /// Event store: in-process appends and appends through the socket.
    Store,
    /// Watchdog: crash→respawn latency and hang detection, against supervisord.
    Watchdog,
    /// Router decision latency and `ai route --dry-run` as a process.
    Router,
    /// `paios hook pre-tool-use` latency and classify throughput.
    Hook,
    /// The approval gate on a labelled corpus (`--corpus DIR`): never/ask/safe table, the rules
    /// that still ask, and hook process latency.
    Approvals,
    /// Usage ledger against ccusage.
    Usage,
    /// The usage ledger's JSON decoding of log lines: the product's decoder (serde_json) against
    /// simd-json and sonic-rs, per line and on the real cold ingest.
    Json,
    /// MCP: `tools/call` round trips over stdio (`paios mcp` → daemon) and HTTP (`/mcp`), and
    /// `paios mcp` start-up, against server-everything's `echo` in the same run.
    Mcp,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = match &cli.home {
        Some(home) => paios_core::paths::Paths::at(home),
        None => match paios_core::paths::Paths::from_env() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("paios-bench: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let result = match cli.target {
        Target::Store => store::run(cli.events),
        Target::Watchdog => watchdog::run(),
        Target::Router => router::run(&paths),
        Target::Hook => hook::run(&paths),
        Target::Approvals => approvals::run(
            &paths,
            &approvals::Options {
                corpus: cli.corpus.clone().unwrap_or_default(),
                compare: cli.compare.clone(),
                hook_runs: cli.hook_runs,
                verbose: cli.verbose,
                out: cli.out.clone(),
            },
        ),
        Target::Usage => usage::run(&paths),
        Target::Json => json::run(),
        Target::Mcp => mcp::run(&mcp::Options {
            calls: cli.calls.max(1),
            starts: cli.starts.max(1),
            json: cli.json,
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("paios-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// p-th percentile of sorted durations, in microseconds.
pub fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx].as_secs_f64() * 1e6
}

/// A program built beside this one (`paios`, `ai`): benchmarks time the real binaries.
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .map(|d| d.join(name))
        .filter(|p| p.exists())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no `{name}` beside {}: build it first (cargo build --release --bin {name})",
                exe.display()
            )
        })?;
    Ok(path)
}
