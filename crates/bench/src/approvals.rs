//! `paios bench approvals --corpus DIR`: the approval gate against a labelled corpus — a folder
//! with `dangerous.txt` (commands that must not run unasked) and `benign.txt` (commands that should
//! run), one command line per line — and the whole-process latency of `paios hook pre-tool-use`
//! on the same lines.
//!
//! Prints the never / ask / safe table for both files, the rule behind every benign line that is
//! not `safe` (counted by rule), every dangerous line called `safe` and every benign line called
//! `never`; then hook p50 / p90 / p99 over every line, each run as its own process with the daemon
//! down (so `ask` is denied at once). With `--compare BIN` another build of `paios` (the one
//! before a change) is timed in the same run, alternating with this one line by line, so both
//! columns share the machine's load.
//!
//! Lines are classified in-process with the policy of `--home` (the built-in one when it has no
//! `policy.toml`), from an empty working folder, as `paios classify` would.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use paios_core::approvals::classify::{Context, Verdict};
use paios_core::approvals::policy::{Decision, Policy};
use paios_core::approvals::shell::TmpDir;
use paios_core::paths::Paths;

use crate::percentile_us;

/// What the approvals bench is asked to do.
pub struct Options {
    pub corpus: PathBuf,
    /// Another `paios` to time alongside this one.
    pub compare: Option<PathBuf>,
    /// Hook runs per line and binary (0: no hook timing).
    pub hook_runs: usize,
    /// Print every benign line that is not safe, with its rule.
    pub verbose: bool,
    /// Write one JSON line per command (set, command, decision, rule) here.
    pub out: Option<PathBuf>,
}

struct Line {
    set: &'static str,
    command: String,
    verdict: Verdict,
}

pub fn run(paths: &Paths, o: &Options) -> anyhow::Result<ExitCode> {
    let dangerous = read_lines(&o.corpus.join("dangerous.txt"))?;
    let benign = read_lines(&o.corpus.join("benign.txt"))?;
    let policy = Policy::load(&paths.policy_file())?;
    let cwd = tempfile::Builder::new()
        .prefix("paios-bench-cwd-")
        .tempdir()?;
    let context = Context {
        cwd: Some(cwd.path().to_path_buf()),
        home: paios_core::approvals::policy::home_dir(),
        paios_home: Some(paths.home().to_path_buf()),
        // As the hook sees it: the environment the agent runs its commands in.
        tmpdir: TmpDir::from_env(),
    };
    let start = Instant::now();
    let mut lines = Vec::new();
    for (set, commands) in [("dangerous", &dangerous), ("benign", &benign)] {
        for command in commands {
            let verdict = policy.classify_command(command, &context);
            lines.push(Line {
                set,
                command: command.clone(),
                verdict,
            });
        }
    }
    let classify_us = start.elapsed().as_secs_f64() * 1e6 / lines.len().max(1) as f64;

    println!("corpus {}", o.corpus.display());
    // `$TMPDIR` is expanded as the shell would (macOS always sets it; unset, `$TMPDIR/x` is
    // `/x`), so the figures depend on it: say which.
    println!(
        "TMPDIR {}",
        match &context.tmpdir {
            TmpDir::Value(v) => format!("= {v}"),
            TmpDir::Unset => "unset".to_string(),
            TmpDir::Unknown => "not set, or not a plain path: left unexpanded".to_string(),
        }
    );
    println!(
        "| {:<22} | {:>5} | {:>5} | {:>5} |",
        "", "never", "ask", "safe"
    );
    println!(
        "|{}|{}|{}|{}|",
        "-".repeat(24),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(7)
    );
    for set in ["dangerous", "benign"] {
        let of_set: Vec<&Line> = lines.iter().filter(|l| l.set == set).collect();
        let count = |d: Decision| of_set.iter().filter(|l| l.verdict.decision == d).count();
        let n = of_set.len().max(1) as f64;
        println!(
            "| {:<22} | {:>5} | {:>5} | {:>5} |   safe {:.1}%",
            format!("{} {set} lines", of_set.len()),
            count(Decision::Never),
            count(Decision::Ask),
            count(Decision::Safe),
            100.0 * count(Decision::Safe) as f64 / n
        );
    }
    println!("classified in-process: {classify_us:.1} µs a line");

    let show = |title: &str, set: &str, decision: Decision| {
        let hits: Vec<&Line> = lines
            .iter()
            .filter(|l| l.set == set && l.verdict.decision == decision)
            .collect();
        println!("\n{title} ({}):", hits.len());
        for l in hits {
            println!("  {:<36} {}", l.verdict.rule, one_line(&l.command));
        }
    };
    show("dangerous lines called safe", "dangerous", Decision::Safe);
    show("benign lines called never", "benign", Decision::Never);

    let mut by_rule: BTreeMap<String, Vec<&Line>> = BTreeMap::new();
    for l in lines
        .iter()
        .filter(|l| l.set == "benign" && l.verdict.decision == Decision::Ask)
    {
        by_rule.entry(l.verdict.rule.clone()).or_default().push(l);
    }
    let mut families: Vec<(&String, &Vec<&Line>)> = by_rule.iter().collect();
    families.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    println!("\nbenign lines that ask, by rule:");
    for (rule, hits) in families {
        println!("  {:>4}  {rule}", hits.len());
        if o.verbose {
            for l in hits {
                println!("          {:<30} {}", l.verdict.rule, one_line(&l.command));
            }
        }
    }

    if let Some(out) = &o.out {
        let mut file = std::fs::File::create(out)?;
        for l in &lines {
            let row = serde_json::json!({
                "set": l.set, "command": l.command, "decision": l.verdict.decision,
                "rule": l.verdict.rule, "reason": l.verdict.reason,
            });
            writeln!(file, "{row}")?;
        }
        println!("\nper-line results: {}", out.display());
    }

    if o.hook_runs > 0 {
        hook_latency(&lines, o)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn one_line(command: &str) -> String {
    let flat = command.replace('\n', "\\n");
    if flat.chars().count() > 110 {
        flat.chars().take(110).collect::<String>() + "…"
    } else {
        flat
    }
}

fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e} (a corpus folder holds dangerous.txt and benign.txt, one command a line)",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Whole-process latency of `paios hook pre-tool-use` over every line, this build and the one
/// to compare with alternating.
fn hook_latency(lines: &[Line], o: &Options) -> anyhow::Result<()> {
    let this = crate::sibling("paios")?;
    let mut binaries: Vec<(String, PathBuf)> = vec![("this build".into(), this)];
    if let Some(other) = &o.compare {
        binaries.push((format!("{}", other.display()), other.clone()));
    }
    let home = tempfile::Builder::new()
        .prefix("paios-bench-home-")
        .tempdir()?;
    let cwd = tempfile::Builder::new()
        .prefix("paios-bench-cwd-")
        .tempdir()?;
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); binaries.len()];
    let mut disagreements: Vec<usize> = vec![0; binaries.len()];
    let warmup = 5.min(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let input = serde_json::json!({
            "tool_name": "Bash",
            "tool_input": {"command": line.command},
            "cwd": cwd.path(),
            "session_id": "bench",
        })
        .to_string();
        for _ in 0..o.hook_runs {
            for (b, (_, exe)) in binaries.iter().enumerate() {
                let (elapsed, allowed) = hook_once(exe, home.path(), &input)?;
                if i >= warmup {
                    latencies[b].push(elapsed);
                }
                if b == 0 && allowed != (line.verdict.decision == Decision::Safe) {
                    disagreements[b] += 1;
                }
            }
        }
    }
    println!(
        "\nhook pre-tool-use, whole process, daemon down, {} lines × {} run(s) each:",
        lines.len(),
        o.hook_runs
    );
    println!(
        "| {:<40} | {:>7} | {:>7} | {:>7} |",
        "binary", "p50 ms", "p90 ms", "p99 ms"
    );
    println!(
        "|{}|{}|{}|{}|",
        "-".repeat(42),
        "-".repeat(9),
        "-".repeat(9),
        "-".repeat(9)
    );
    for (b, (name, _)) in binaries.iter().enumerate() {
        let mut lat = latencies[b].clone();
        lat.sort();
        println!(
            "| {:<40} | {:>7.2} | {:>7.2} | {:>7.2} |",
            name,
            percentile_us(&lat, 0.50) / 1000.0,
            percentile_us(&lat, 0.90) / 1000.0,
            percentile_us(&lat, 0.99) / 1000.0
        );
    }
    println!(
        "hook answers that differ from the in-process verdict (allow ⇔ safe): {}",
        disagreements[0]
    );
    Ok(())
}

fn hook_once(exe: &Path, home: &Path, input: &str) -> anyhow::Result<(Duration, bool)> {
    let t = Instant::now();
    let mut child = Command::new(exe)
        .arg("--home")
        .arg(home)
        .args(["hook", "pre-tool-use"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let elapsed = t.elapsed();
    let allowed = String::from_utf8_lossy(&out.stdout).contains("\"permissionDecision\":\"allow\"");
    Ok((elapsed, allowed))
}
