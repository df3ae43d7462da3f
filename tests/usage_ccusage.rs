//! `paios usage daily --json` agrees with the real ccusage (pinned 20.0.24) on generated
//! Claude Code and Codex log trees and OpenClaw session trees: tokens exactly, cost to the cent.

use paios_testkit as support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::daemon::TestHome;
use support::usage_logs::{write_claude_tree, write_codex_tree, write_openclaw_tree};

const CCUSAGE_VERSION: &str = "20.0.24";

fn ccusage() -> PathBuf {
    let tools = std::env::var_os("PAIOS_TOOLS_DIR").filter(|d| !d.is_empty()).expect(
        "PAIOS_TOOLS_DIR is not set: point it at the managed tools folder and install ccusage there: \
         npm install --prefix \"$PAIOS_TOOLS_DIR/ccusage\" ccusage@20.0.24",
    );
    let bin = Path::new(&tools).join("ccusage/node_modules/.bin/ccusage");
    assert!(
        bin.exists(),
        "ccusage is not installed at {}: run npm install --prefix \"$PAIOS_TOOLS_DIR/ccusage\" ccusage@{CCUSAGE_VERSION}",
        bin.display()
    );
    bin
}

fn run_ccusage(agent: &str, env: (&str, &Path)) -> Value {
    let out = Command::new(ccusage())
        .args([agent, "daily", "--json", "--offline", "--timezone", "UTC"])
        .env(env.0, env.1)
        .env("HOME", env.1)
        .env_remove("CLAUDE_CONFIG_DIR")
        .env_remove("CODEX_HOME")
        .env_remove("OPENCLAW_DIR")
        .env_remove("OPENCLAW_STATE_DIR")
        .env(env.0, env.1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ccusage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run_paios(home: &TestHome, source: &str, env: (&str, &Path)) -> Value {
    let out = home
        .paios()
        .args([
            "usage",
            "daily",
            "--json",
            "--timezone",
            "UTC",
            "--source",
            source,
        ])
        .env_remove("CLAUDE_CONFIG_DIR")
        .env_remove("CODEX_HOME")
        .env_remove("OPENCLAW_DIR")
        .env_remove("OPENCLAW_STATE_DIR")
        .env("HOME", env.1)
        .env(env.0, env.1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "paios usage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_same(ours: &Value, theirs: &Value, cost_field: &str) {
    for field in [
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "totalTokens",
    ] {
        assert_eq!(
            ours["totals"][field], theirs["totals"][field],
            "totals.{field}: paios {} vs ccusage {}",
            ours["totals"], theirs["totals"]
        );
    }
    let (a, b) = (
        ours["totals"]["totalCost"].as_f64().unwrap(),
        theirs["totals"][cost_field].as_f64().unwrap(),
    );
    assert!(
        (a - b).abs() < 0.005,
        "total cost: paios {a} vs ccusage {b}"
    );
    assert!(b > 1.0, "the tree should cost something: {b}");
    // Day by day too.
    let ours_days = ours["daily"].as_array().unwrap();
    let theirs_days = theirs["daily"].as_array().unwrap();
    assert_eq!(ours_days.len(), theirs_days.len());
    for (o, t) in ours_days.iter().zip(theirs_days) {
        assert_eq!(o["date"], t["date"]);
        assert_eq!(o["totalTokens"], t["totalTokens"], "{}", o["date"]);
        let (a, b) = (
            o["totalCost"].as_f64().unwrap(),
            t[cost_field].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() < 0.005,
            "{}: paios {a} vs ccusage {b}",
            o["date"]
        );
    }
}

#[test]
fn claude_daily_totals_equal_ccusage() {
    let logs = tempfile::tempdir().unwrap();
    write_claude_tree(logs.path(), 7, 24, 60);
    let theirs = run_ccusage("claude", ("CLAUDE_CONFIG_DIR", logs.path()));
    let home = TestHome::new();
    let ours = run_paios(&home, "claude", ("CLAUDE_CONFIG_DIR", logs.path()));
    assert!(
        ours["ingest"]["malformedLines"].as_u64().unwrap() > 0,
        "the tree has malformed lines"
    );
    assert!(ours["daily"].as_array().unwrap().len() > 5, "several days");
    let months: std::collections::BTreeSet<_> = ours["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap()[..7].to_string())
        .collect();
    assert!(months.len() >= 2, "several months: {months:?}");
    assert_eq!(
        ours["totals"]["unpricedModels"],
        serde_json::json!(["claude-imaginary-9"])
    );
    assert_same(&ours, &theirs, "totalCost");
}

#[test]
fn codex_daily_totals_equal_ccusage() {
    let logs = tempfile::tempdir().unwrap();
    write_codex_tree(logs.path(), 11, 20, 30);
    let theirs = run_ccusage("codex", ("CODEX_HOME", logs.path()));
    let home = TestHome::new();
    let ours = run_paios(&home, "codex", ("CODEX_HOME", logs.path()));
    assert!(
        ours["ingest"]["malformedLines"].as_u64().unwrap() > 0,
        "the tree has malformed lines"
    );
    assert_same(&ours, &theirs, "costUSD");
}

/// The gateway's session files (archived copies, model changes and snapshots, costs it logged
/// itself, lines cut short) count as ccusage's `openclaw` source counts them, alone and among
/// all brains.
#[test]
fn openclaw_daily_totals_equal_ccusage() {
    let logs = tempfile::tempdir().unwrap();
    write_openclaw_tree(logs.path(), 5, 30, 25);
    let theirs = run_ccusage("openclaw", ("OPENCLAW_DIR", logs.path()));
    let home = TestHome::new();
    let ours = run_paios(&home, "openclaw", ("OPENCLAW_DIR", logs.path()));
    assert!(
        ours["ingest"]["malformedLines"].as_u64().unwrap() > 0,
        "the tree has malformed lines"
    );
    assert!(ours["daily"].as_array().unwrap().len() > 5, "several days");
    assert_same(&ours, &theirs, "totalCost");
    // Among all brains, the gateway's share is the same.
    let all = run_paios(&home, "all", ("OPENCLAW_DIR", logs.path()));
    assert_eq!(
        all["totals"]["bySource"]["openclaw"]["totalTokens"], theirs["totals"]["totalTokens"],
        "{}",
        all["totals"]
    );
}

/// The benchmark's own generated trees (every shape) count the same in paios and ccusage, so
/// the figures `paios bench usage` prints compare equal work.
#[test]
fn the_benchmark_trees_count_the_same_in_both_tools() {
    ccusage();
    for shape in ["quirks", "sessions", "dense", "busy", "many"] {
        let home = TestHome::new();
        let out = home
            .paios()
            .args(["bench", "usage"])
            .env("PAIOS_BENCH_USAGE_MB", "3")
            .env("PAIOS_BENCH_ROUNDS", "1")
            .env("PAIOS_BENCH_USAGE_SHAPE", shape)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "bench usage ({shape}) failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        // totals: paios N tokens $C (cold: N0 tokens), ccusage M tokens $D
        let line = stdout
            .lines()
            .find(|l| l.starts_with("totals: "))
            .unwrap_or_else(|| panic!("no totals line in:\n{stdout}"));
        let numbers: Vec<f64> = line
            .split([' ', '$', '(', ')', ','])
            .filter_map(|w| w.parse().ok())
            .collect();
        let [after_append, cost, cold, theirs, their_cost] = numbers[..] else {
            panic!("unexpected totals line: {line}");
        };
        assert!(cold > 1e6, "{shape}: too few tokens counted: {line}");
        assert_eq!(cold, theirs, "{shape}: {line}");
        // The appended message (10 input, 20 output tokens) is counted after the rerun.
        assert_eq!(after_append, cold + 30.0, "{shape}: {line}");
        // Costs are printed to the cent; the appended message costs a fraction of one.
        assert!((cost - their_cost).abs() < 0.015, "{shape}: {line}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("shape {shape}")), "{stderr}");
    }
}
