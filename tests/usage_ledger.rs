//! The usage ledger: incremental reads, truncation, deleted files, concurrent runs, kill -9,
//! budgets and the daemon's summary.

use paios_testkit as support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::daemon::TestHome;
use support::usage_logs::{NowTree, claude_line, write_claude_tree, write_codex_tree};

fn usage(home: &TestHome, logs: &Path, extra: &[&str]) -> Value {
    usage_from(home, logs.as_os_str(), &logs.join("no-codex"), extra)
}

/// `paios usage daily --json` with these `CLAUDE_CONFIG_DIR` and `CODEX_HOME`.
fn usage_from(home: &TestHome, claude: &std::ffi::OsStr, codex: &Path, extra: &[&str]) -> Value {
    let out = home
        .paios()
        .args(["usage", "daily", "--json", "--timezone", "UTC"])
        .args(extra)
        .env("CLAUDE_CONFIG_DIR", claude)
        .env("CODEX_HOME", codex)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "paios usage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Same tokens exactly, same cost up to float summation order.
fn assert_same_totals(a: &Value, b: &Value) {
    for field in [
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "totalTokens",
    ] {
        assert_eq!(a["totals"][field], b["totals"][field], "{field}");
    }
    let (x, y) = (
        a["totals"]["totalCost"].as_f64().unwrap(),
        b["totals"]["totalCost"].as_f64().unwrap(),
    );
    assert!((x - y).abs() < 1e-6, "{x} vs {y}");
}

fn total(v: &Value, field: &str) -> u64 {
    v["totals"][field].as_u64().unwrap()
}

fn some_session_file(logs: &Path) -> std::path::PathBuf {
    let project = logs.join("projects/-home-u-proj1");
    std::fs::read_dir(&project)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn a_rerun_reads_only_the_appended_line() {
    let logs = tempfile::tempdir().unwrap();
    write_claude_tree(logs.path(), 3, 6, 20);
    let home = TestHome::new();
    let first = usage(&home, logs.path(), &[]);
    assert!(first["ingest"]["bytesRead"].as_u64().unwrap() > 10_000);

    let again = usage(&home, logs.path(), &[]);
    assert_eq!(again["ingest"]["bytesRead"], 0, "nothing new: nothing read");
    assert_same_totals(&again, &first);

    let line = claude_line(
        "2026-11-02T10:00:00.000Z",
        "s",
        "req_new",
        "msg_new",
        "claude-haiku-4-5-20251001",
        1000,
        500,
        0,
        0,
        None,
        5,
    ) + "\n";
    let file = some_session_file(logs.path());
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let after = usage(&home, logs.path(), &[]);
    assert_eq!(after["ingest"]["bytesRead"], line.len() as u64);
    assert_eq!(after["ingest"]["rebuilt"], false);
    assert_eq!(
        total(&after, "inputTokens"),
        total(&first, "inputTokens") + 1000
    );
    assert_eq!(
        total(&after, "outputTokens"),
        total(&first, "outputTokens") + 500
    );
    let cost_delta = after["totals"]["totalCost"].as_f64().unwrap()
        - first["totals"]["totalCost"].as_f64().unwrap();
    // haiku 4.5: $1/M input, $5/M output.
    assert!((cost_delta - 0.0035).abs() < 1e-9, "{cost_delta}");

    // The same message logged again with a larger final usage replaces, never adds.
    let bigger = claude_line(
        "2026-11-02T10:00:01.000Z",
        "s",
        "req_new",
        "msg_new",
        "claude-haiku-4-5-20251001",
        1000,
        800,
        0,
        0,
        None,
        5,
    ) + "\n";
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(bigger.as_bytes())
        .unwrap();
    let replaced = usage(&home, logs.path(), &[]);
    assert_eq!(
        total(&replaced, "outputTokens"),
        total(&first, "outputTokens") + 800
    );
}

#[test]
fn an_unterminated_last_line_waits_for_its_newline() {
    let logs = tempfile::tempdir().unwrap();
    write_claude_tree(logs.path(), 4, 2, 5);
    let home = TestHome::new();
    let first = usage(&home, logs.path(), &[]);
    let line = claude_line(
        "2026-11-03T10:00:00.000Z",
        "s",
        "r9",
        "m9",
        "claude-haiku-4-5-20251001",
        10,
        20,
        0,
        0,
        None,
        5,
    );
    let file = some_session_file(logs.path());
    let (head, tail) = line.split_at(line.len() / 2);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(head.as_bytes())
        .unwrap();
    let partial = usage(&home, logs.path(), &[]);
    assert_eq!(
        partial["totals"]["inputTokens"],
        first["totals"]["inputTokens"]
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(format!("{tail}\n").as_bytes())
        .unwrap();
    let done = usage(&home, logs.path(), &[]);
    assert_eq!(
        total(&done, "inputTokens"),
        total(&first, "inputTokens") + 10
    );
}

#[test]
fn truncation_rebuilds_and_deleted_files_keep_their_history() {
    let logs = tempfile::tempdir().unwrap();
    write_claude_tree(logs.path(), 5, 6, 10);
    let home = TestHome::new();
    let first = usage(&home, logs.path(), &[]);
    let file = some_session_file(logs.path());

    std::fs::remove_file(&file).unwrap();
    let after_delete = usage(&home, logs.path(), &[]);
    assert_eq!(
        after_delete["totals"], first["totals"],
        "a pruned log keeps its usage"
    );
    assert_eq!(after_delete["ingest"]["filesMissing"], 1);

    // Another file is truncated: the ledger rebuilds from what is on disk.
    let other = some_session_file(logs.path());
    std::fs::write(&other, "").unwrap();
    let rebuilt = usage(&home, logs.path(), &[]);
    assert_eq!(rebuilt["ingest"]["rebuilt"], true);
    assert!(
        rebuilt["ingest"]["rebuildReason"]
            .as_str()
            .unwrap()
            .contains("truncated")
    );
    assert!(total(&rebuilt, "totalTokens") < total(&first, "totalTokens"));
}

#[test]
fn two_processes_ingesting_at_once_agree() {
    let logs = tempfile::tempdir().unwrap();
    write_claude_tree(logs.path(), 6, 30, 40);
    let home = TestHome::new();
    let spawn = || {
        home.paios()
            .args(["usage", "daily", "--json", "--timezone", "UTC"])
            .env("CLAUDE_CONFIG_DIR", logs.path())
            .env("CODEX_HOME", logs.path().join("none"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let (a, b): (Value, Value) = (
        serde_json::from_slice(&a.stdout).unwrap(),
        serde_json::from_slice(&b.stdout).unwrap(),
    );
    assert_same_totals(&a, &b);
    let fresh = TestHome::new();
    assert_same_totals(&usage(&fresh, logs.path(), &[]), &a);
}

#[test]
fn kill_9_mid_ingest_loses_nothing() {
    let logs = tempfile::tempdir().unwrap();
    write_claude_tree(logs.path(), 8, 60, 400);
    let expected = usage(&TestHome::new(), logs.path(), &[]);
    let home = TestHome::new();
    for delay_ms in [5u64, 30, 80] {
        let mut child = home
            .paios()
            .args(["usage", "daily", "--json"])
            .env("CLAUDE_CONFIG_DIR", logs.path())
            .env("CODEX_HOME", logs.path().join("none"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_same_totals(&usage(&home, logs.path(), &[]), &expected);
}

#[test]
fn budgets_raise_alerts_once_and_the_daemon_summarises() {
    // sonnet 4.5: 100k output tokens = $1.50.
    let logs = NowTree::with_one_message(100_000);
    let mut home = TestHome::new();
    home.write_config(&format!(
        "[api]\nport = 0\n{}[budgets]\ndaily_usd = 10.0\n[budgets.claude]\ndaily_usd = 1.0\n",
        logs.usage_table()
    ));
    home.start_daemon();
    let alert = home.wait_for_event("alert.raised", Duration::from_secs(20), |e| {
        e["subject"] == "budget:claude"
    });
    assert_eq!(alert["data"]["severity"], "critical");
    assert_eq!(alert["data"]["runbook"], "budgets");
    assert!(
        alert["data"]["message"].as_str().unwrap().contains("$1.50"),
        "{alert}"
    );

    // Running the report again does not repeat the alert.
    let out = home.run(&["usage", "daily", "--json"]);
    assert_eq!(out.0, 0, "{}", out.2);
    std::thread::sleep(Duration::from_millis(500));
    let alerts: Vec<_> = home
        .events("alert.raised")
        .into_iter()
        .filter(|e| e["subject"] == "budget:claude")
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");

    // The daemon follows the logs: a new line shows up in the summary without a CLI run.
    logs.append(2, 200_000);
    let mut client_summary = Value::Null;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        let paths = paios_core::paths::Paths::at(home.path());
        client_summary = paios_core::client::Client::connect(&paths)
            .and_then(|mut c| c.call("usage.summary", serde_json::json!({})))
            .unwrap();
        let today = client_summary
            .pointer("/today/by_brain/claude")
            .and_then(Value::as_f64);
        if today.is_some_and(|c| (c - 4.5).abs() < 1e-9) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let summary = client_summary;
    assert!(
        (summary["today"]["by_brain"]["claude"].as_f64().unwrap() - 4.5).abs() < 1e-9,
        "{summary}"
    );
    assert_eq!(summary["budgets"]["brains"]["claude"]["over"], true);
    assert_eq!(summary["budgets"]["brains"]["codex"]["over"], false);
    assert_eq!(summary["last_14_days"].as_array().unwrap().len(), 14);
}

#[test]
fn a_range_that_ends_before_it_starts_is_a_usage_error() {
    let home = TestHome::new();
    let logs = home.path().join("logs");
    let out = home
        .paios()
        .args([
            "usage", "daily", "--since", "20261102", "--until", "20261101",
        ])
        .env("CLAUDE_CONFIG_DIR", &logs)
        .env("CODEX_HOME", &logs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--since"), "{stderr}");
}

/// `$CODEX_HOME` is one folder even with a comma in its name (Codex reads it so), and so is a
/// `$CLAUDE_CONFIG_DIR` that names an existing folder; a comma list of folders still works.
#[test]
fn log_folders_with_a_comma_in_their_name_are_read() {
    let root = tempfile::tempdir().unwrap();
    let claude = root.path().join("claude,work");
    let codex = root.path().join("codex,home");
    write_claude_tree(&claude, 2, 2, 5);
    write_codex_tree(&codex, 7, 2, 3);
    let home = TestHome::new();
    let run = |claude_env: &std::ffi::OsStr, source: &str| {
        usage_from(&home, claude_env, &codex, &["--source", source])
    };
    let claude_tokens = total(&run(claude.as_os_str(), "claude"), "totalTokens");
    assert!(claude_tokens > 0);
    assert!(total(&run(claude.as_os_str(), "codex"), "totalTokens") > 0);
    // A list of folders (one missing) still counts the ones that exist.
    let plain = root.path().join("plain");
    std::fs::rename(&claude, &plain).unwrap();
    let list = format!(
        "{},{}",
        root.path().join("missing").display(),
        plain.display()
    );
    let listed = run(std::ffi::OsStr::new(&list), "claude");
    assert_eq!(total(&listed, "totalTokens"), claude_tokens, "{listed}");
}
