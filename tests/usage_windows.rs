//! `paios usage blocks` and `paios usage weekly` agree with the real ccusage (pinned 20.0.24) on
//! generated Claude Code trees: the same 5-hour windows (starts, ends, last requests, gaps,
//! requests, tokens, models) and cost to the cent; the same weeks.

use paios_testkit as support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::daemon::TestHome;
use support::usage_logs::{Shape, Size, write_claude, write_claude_tree};

fn ccusage() -> PathBuf {
    let tools = std::env::var_os("PAIOS_TOOLS_DIR")
        .filter(|d| !d.is_empty())
        .expect("PAIOS_TOOLS_DIR is not set: point it at the managed tools folder, with ccusage@20.0.24 installed under ccusage/");
    let bin = Path::new(&tools).join("ccusage/node_modules/.bin/ccusage");
    assert!(
        bin.exists(),
        "ccusage is not installed at {}",
        bin.display()
    );
    bin
}

fn json_of(out: std::process::Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn theirs(logs: &Path, args: &[&str]) -> Value {
    let out = Command::new(ccusage())
        .args(args)
        .args(["--json", "--offline", "--timezone", "UTC"])
        .env("CLAUDE_CONFIG_DIR", logs)
        .env("HOME", logs)
        .env_remove("CODEX_HOME")
        .output()
        .unwrap();
    json_of(out, "ccusage")
}

fn ours(home: &TestHome, logs: &Path, args: &[&str]) -> Value {
    let out = home
        .paios()
        .arg("usage")
        .args(args)
        .args(["--json", "--timezone", "UTC"])
        .env("CLAUDE_CONFIG_DIR", logs)
        .env("CODEX_HOME", logs.join("no-codex"))
        .output()
        .unwrap();
    json_of(out, "paios usage")
}

fn assert_same_blocks(ours: &Value, theirs: &Value, tree: &str) {
    let (a, b) = (
        ours["blocks"].as_array().unwrap(),
        theirs["blocks"].as_array().unwrap(),
    );
    assert!(b.len() > 5, "{tree}: the tree should make several windows");
    assert!(
        b.iter().any(|b| b["isGap"] == true),
        "{tree}: and gaps between them"
    );
    assert_eq!(a.len(), b.len(), "{tree}: number of windows");
    for (x, y) in a.iter().zip(b) {
        for field in [
            "id",
            "startTime",
            "endTime",
            "actualEndTime",
            "isActive",
            "isGap",
            "entries",
            "tokenCounts",
            "totalTokens",
            "models",
        ] {
            assert_eq!(x[field], y[field], "{tree}: window {}: {field}", y["id"]);
        }
        let (c, d) = (
            x["costUSD"].as_f64().unwrap(),
            y["costUSD"].as_f64().unwrap(),
        );
        assert!(
            (c - d).abs() < 0.005,
            "{tree}: window {}: cost {c} vs {d}",
            y["id"]
        );
    }
}

#[test]
fn five_hour_windows_equal_ccusage_blocks() {
    let quirks = tempfile::tempdir().unwrap();
    write_claude_tree(quirks.path(), 13, 30, 60);
    let many = tempfile::tempdir().unwrap();
    write_claude(many.path(), Shape::Many, 5, Size::Bytes(4 << 20)).unwrap();
    for (tree, logs) in [("quirks", quirks.path()), ("many", many.path())] {
        let home = TestHome::new();
        assert_same_blocks(
            &ours(&home, logs, &["blocks"]),
            &theirs(logs, &["blocks"]),
            tree,
        );
    }
}

#[test]
fn weekly_totals_equal_ccusage_weekly() {
    let logs = tempfile::tempdir().unwrap();
    write_claude_tree(logs.path(), 17, 30, 50);
    let home = TestHome::new();
    let a = ours(&home, logs.path(), &["weekly", "--source", "claude"]);
    let b = theirs(logs.path(), &["claude", "weekly"]);
    let (x, y) = (
        a["weekly"].as_array().unwrap(),
        b["weekly"].as_array().unwrap(),
    );
    assert!(y.len() >= 5, "several weeks");
    assert_eq!(x.len(), y.len());
    for (x, y) in x.iter().zip(y) {
        assert_eq!(x["week"], y["week"]);
        for field in [
            "inputTokens",
            "outputTokens",
            "cacheCreationTokens",
            "cacheReadTokens",
            "totalTokens",
        ] {
            assert_eq!(x[field], y[field], "week {}: {field}", y["week"]);
        }
        let (c, d) = (
            x["totalCost"].as_f64().unwrap(),
            y["totalCost"].as_f64().unwrap(),
        );
        assert!((c - d).abs() < 0.005, "week {}: cost {c} vs {d}", y["week"]);
        let set = |v: &Value| {
            let mut m: Vec<String> = v["modelsUsed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_string())
                .collect();
            m.sort();
            m
        };
        assert_eq!(set(x), set(y), "week {}: models", y["week"]);
    }
    assert_eq!(a["totals"]["totalTokens"], b["totals"]["totalTokens"]);
    // Weeks can start on another day.
    let monday = ours(
        &home,
        logs.path(),
        &["weekly", "--source", "claude", "--start-of-week", "monday"],
    );
    let first = monday["weekly"][0]["week"].as_str().unwrap();
    let day = chrono::NaiveDate::parse_from_str(first, "%Y-%m-%d").unwrap();
    assert_eq!(chrono::Datelike::weekday(&day), chrono::Weekday::Mon);
}
