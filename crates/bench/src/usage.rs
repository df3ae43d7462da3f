//! `paios bench usage`: the ledger against ccusage on generated Claude Code logs.

use std::process::ExitCode;

use paios_core::paths::Paths;
use paios_testkit::usage_logs::{self as bench_logs, Shape, Size};

/// `paios bench usage`: ~1 GB of generated Claude Code logs (`PAIOS_BENCH_USAGE_MB` to change
/// it, `PAIOS_BENCH_USAGE_SHAPE=sessions|dense|busy|many|quirks` for their shape, see [`bench_logs`]);
/// `paios usage daily --json` cold, unchanged, and after a one-line append, against
/// `ccusage claude daily --json --offline` on the same tree (cold runs of both interleaved,
/// `PAIOS_BENCH_ROUNDS` times, default 3; medians). Prints wall time, CPU time and peak RSS.
/// `PAIOS_BENCH_USAGE_DIR` keeps the tree in that folder and reuses it on the next run.
pub fn run(paths: &Paths) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let megabytes: u64 = std::env::var("PAIOS_BENCH_USAGE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let shape: Shape = match std::env::var("PAIOS_BENCH_USAGE_SHAPE") {
        Ok(v) => v.parse().map_err(anyhow::Error::msg)?,
        Err(_) => Shape::Sessions,
    };
    let dir = tempfile::Builder::new()
        .prefix("paios-bench-usage-")
        .tempdir()?;
    // PAIOS_BENCH_USAGE_DIR keeps the generated tree there (and reuses it) for profiling.
    let kept = std::env::var_os("PAIOS_BENCH_USAGE_DIR").map(std::path::PathBuf::from);
    let logs = kept.clone().unwrap_or_else(|| dir.path().join("claude"));
    let home = dir.path().join("home");
    let started = std::time::Instant::now();
    if kept.is_some() && logs.join("projects").is_dir() {
        eprintln!("reusing the logs in {}", logs.display());
    } else {
        let w = bench_logs::write_claude(&logs, shape, 1, Size::Bytes(megabytes << 20))?;
        eprintln!(
            "generated {:.0} MB of Claude Code logs, shape {} ({} files, {} messages) in {:.1}s",
            w.bytes as f64 / 1048576.0,
            shape.name(),
            w.files,
            w.messages,
            started.elapsed().as_secs_f64()
        );
    }
    // Both tools read the same files: start both from a warm page cache (the first reader
    // would otherwise pay for reading the tree from disk).
    let warmed = warm_page_cache(&logs.join("projects"))?;
    eprintln!(
        "read {:.0} MB once to warm the page cache",
        warmed as f64 / 1048576.0
    );
    let paios = crate::sibling("paios")?;
    let run_paios = || -> anyhow::Result<(Measured, serde_json::Value)> {
        let mut cmd = std::process::Command::new(&paios);
        cmd.args(["usage", "daily", "--json"])
            .env("PAIOS_HOME", &home)
            .env("CLAUDE_CONFIG_DIR", &logs)
            .env("CODEX_HOME", dir.path().join("no-codex"));
        measure(cmd)
    };
    let tools = paths.tools_dir();
    let ccusage = tools.join("ccusage/node_modules/.bin/ccusage");
    if !ccusage.exists() {
        eprintln!(
            "ccusage not found at {}: npm install --prefix \"$PAIOS_TOOLS_DIR/ccusage\" ccusage@20.0.24",
            ccusage.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let run_ccusage = || {
        let mut cmd = std::process::Command::new(&ccusage);
        cmd.args(["claude", "daily", "--json", "--offline"])
            .env("CLAUDE_CONFIG_DIR", &logs);
        measure(cmd)
    };
    // Cold runs of both, interleaved, so that whatever else the machine does weighs on both.
    let rounds: usize = std::env::var("PAIOS_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let (mut colds, mut theirs_runs) = (Vec::new(), Vec::new());
    let (mut cold_json, mut theirs_json) = (serde_json::Value::Null, serde_json::Value::Null);
    for _ in 0..rounds {
        let _ = std::fs::remove_dir_all(home.join("cache"));
        let (m, json) = run_paios()?;
        colds.push(m);
        cold_json = json;
        let (m, json) = run_ccusage()?;
        theirs_runs.push(m);
        theirs_json = json;
    }
    let (warm, _) = run_paios()?;
    let appended = bench_logs::append_one(&logs)?;
    let (append, append_json) = run_paios()?;
    let cold = median(&mut colds);
    let theirs = median(&mut theirs_runs);
    report_line(
        &format!("paios usage daily --json, cold (empty ledger), median of {rounds}"),
        &cold,
    );
    report_line("paios usage daily --json, nothing new", &warm);
    report_line(
        &format!(
            "paios usage daily --json, after a {appended}-byte append (read {} bytes)",
            append_json["ingest"]["bytesRead"]
        ),
        &append,
    );
    report_line(
        &format!("ccusage claude daily --json --offline (every run), median of {rounds}"),
        &theirs,
    );
    let secs = |v: &[Measured]| {
        v.iter()
            .map(|m| format!("{:.3}", m.wall.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "cold runs: paios {}; ccusage {}",
        secs(&colds),
        secs(&theirs_runs)
    );
    println!(
        "cold speed-up {:.1}x; after an append {:.0}x; ledger {:.0} MB",
        theirs.wall.as_secs_f64() / cold.wall.as_secs_f64(),
        theirs.wall.as_secs_f64() / append.wall.as_secs_f64(),
        ["cache/usage.db", "cache/usage.db-wal"]
            .iter()
            .map(|f| std::fs::metadata(home.join(f)).map_or(0, |m| m.len()))
            .sum::<u64>() as f64
            / 1048576.0
    );
    let field = |v: &serde_json::Value, f: &str| v["totals"][f].as_u64().unwrap_or(0);
    let (ours, theirs_tokens) = (
        field(&append_json, "totalTokens"),
        field(&theirs_json, "totalTokens"),
    );
    println!(
        "totals: paios {ours} tokens ${:.2} (cold: {} tokens), ccusage {theirs_tokens} tokens ${:.2}",
        append_json["totals"]["totalCost"].as_f64().unwrap_or(0.0),
        field(&cold_json, "totalTokens"),
        theirs_json["totals"]["totalCost"].as_f64().unwrap_or(0.0),
    );
    std::io::stdout().flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Read every file under `dir` once; returns the bytes read.
fn warm_page_cache(dir: &std::path::Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            total += warm_page_cache(&path)?;
        } else {
            total += std::io::copy(&mut std::fs::File::open(&path)?, &mut std::io::sink())?;
        }
    }
    Ok(total)
}

#[derive(Clone, Copy)]
struct Measured {
    wall: std::time::Duration,
    /// User plus system CPU time of the process and its children.
    cpu: std::time::Duration,
    max_rss_kb: i64,
}

/// The run with the median wall time (sorts `runs`).
fn median(runs: &mut [Measured]) -> Measured {
    runs.sort_by_key(|m| m.wall);
    runs[runs.len() / 2]
}

fn report_line(what: &str, m: &Measured) {
    println!(
        "{what}: {:.3}s wall, {:.3}s CPU, peak RSS {:.1} MB",
        m.wall.as_secs_f64(),
        m.cpu.as_secs_f64(),
        m.max_rss_kb as f64 / 1024.0
    );
}

/// Run to completion; wall time, and the CPU time and peak RSS of it and its children (wait4).
fn measure(mut cmd: std::process::Command) -> anyhow::Result<(Measured, serde_json::Value)> {
    use std::io::Read;
    let start = std::time::Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut stdout = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout)?;
    }
    let mut status = 0;
    // SAFETY: rusage is plain data, fully written by wait4 on success.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    anyhow::ensure!(pid > 0, "wait4 failed: {}", std::io::Error::last_os_error());
    anyhow::ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed (status {status})"
    );
    let json = serde_json::from_slice(&stdout).unwrap_or(serde_json::Value::Null);
    Ok((
        Measured {
            wall,
            cpu: [usage.ru_utime, usage.ru_stime]
                .iter()
                .map(|t| std::time::Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000))
                .sum(),
            max_rss_kb: usage.ru_maxrss,
        },
        json,
    ))
}
