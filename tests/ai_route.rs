//! `ai route --dry-run --json` against the contract of DESIGN.md §3, the policy in paios.toml,
//! and how the live state (which brains are installed) changes the choice.

use paios_testkit as support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::daemon::TestHome;

/// `ai` with a home and a tools folder of our choosing, and no brain on PATH.
fn ai(home: &TestHome, tools: &std::path::Path) -> Command {
    let mut cmd = home.ai();
    cmd.env("PAIOS_TOOLS_DIR", tools)
        .env("PATH", "/usr/bin:/bin")
        .env("OPENCLAW_GATEWAY_PORT", "9");
    cmd
}

fn route_json(home: &TestHome, tools: &std::path::Path, task: &str) -> Value {
    let out = ai(home, tools)
        .args(["route", "--dry-run", "--json", task])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn no_tools() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A folder with executables named like the brains, to put on PATH: installed, as far as
/// `ai route` can tell (it never runs them).
fn tools_with(brains: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for brain in brains {
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let exe = bin.join(brain);
        std::fs::write(&exe, "#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

#[test]
fn the_json_matches_the_contract() {
    let home = TestHome::new();
    let tools = no_tools();
    let d = route_json(&home, tools.path(), "refactor the parser module");
    let brains = ["claude", "codex", "openclaw"];
    assert!(brains.contains(&d["brain"].as_str().unwrap()), "{d}");
    assert!(brains.contains(&d["preferred"].as_str().unwrap()), "{d}");
    assert!(d["category"].is_string(), "{d}");
    let confidence = d["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence), "{d}");
    assert!(!d["reason"].as_str().unwrap().is_empty(), "{d}");
    assert!(d["fallbacks"].is_array(), "{d}");
    let scores = d["scores"].as_object().unwrap();
    assert_eq!(scores.len(), 3, "{d}");
    let sum: f64 = brains.iter().map(|b| scores[*b].as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 0.01, "scores sum to {sum}: {d}");
}

#[test]
fn with_no_brain_installed_the_preferred_brain_is_still_meaningful() {
    let home = TestHome::new();
    let tools = no_tools();
    let d = route_json(&home, tools.path(), "fix the segfault in the image decoder");
    assert_eq!(d["preferred"], "codex", "{d}");
    assert_eq!(d["brain"], "codex", "{d}");
    assert_eq!(d["runnable"], false, "{d}");
    assert_eq!(d["fallbacks"], serde_json::json!([]), "{d}");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("paios brains install codex"),
        "{d}"
    );
}

#[test]
fn ai_json_answers_in_json_when_no_brain_can_run() {
    let home = TestHome::new();
    let tools = no_tools();
    let out = ai(&home, tools.path())
        .args(["--json", "fix the segfault in the image decoder"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v["outcome"], "no_brain", "{v}");
    assert_eq!(v["brain"], Value::Null, "{v}");
    assert_eq!(v["attempts"], serde_json::json!([]), "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("paios brains install"),
        "{v}"
    );
    assert_eq!(v["decision"]["runnable"], false, "{v}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no brain can take this task"), "{stderr}");
}

#[test]
fn the_task_is_read_from_stdin_with_a_dash() {
    let home = TestHome::new();
    let tools = no_tools();
    let mut child = ai(&home, tools.path())
        .args(["route", "--dry-run", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"remind me to water the plants every sunday at 10am\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["category"], "schedule", "{d}");
    assert_eq!(d["preferred"], "openclaw", "{d}");
}

#[test]
fn the_policy_in_paios_toml_changes_the_preferred_brain() {
    let home = TestHome::new();
    home.write_config("[api]\nport = 0\n\n[router.policy]\nwriting = \"codex\"\n");
    let tools = no_tools();
    let d = route_json(
        &home,
        tools.path(),
        "write a short poem about autumn leaves",
    );
    assert_eq!(d["category"], "writing", "{d}");
    assert_eq!(d["preferred"], "codex", "{d}");
}

#[test]
fn a_bad_policy_is_a_usage_error_naming_file_line_and_key() {
    let home = TestHome::new();
    home.write_config("[api]\nport = 0\n\n[router.policy]\ncooking = \"claude\"\n");
    let tools = no_tools();
    let out = ai(&home, tools.path())
        .args(["route", "--dry-run", "--json", "anything"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("paios.toml:5"), "{stderr}");
    assert!(stderr.contains("cooking"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn installed_brains_become_the_choice_and_the_fallbacks() {
    let home = TestHome::new();
    let tools = no_tools();
    let bin = tools_with(&["claude", "codex"]);
    let mut cmd = ai(&home, tools.path());
    cmd.env(
        "PATH",
        format!("{}:/usr/bin:/bin", bin.path().join("bin").display()),
    );
    let out = cmd
        .args([
            "route",
            "--dry-run",
            "--json",
            "send a message to the team channel that the release is out",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["preferred"], "openclaw", "{d}");
    assert_ne!(d["brain"], "openclaw", "openclaw is not installed: {d}");
    assert_eq!(d["runnable"], true, "{d}");
    let fallbacks: Vec<&str> = d["fallbacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(fallbacks.len(), 1, "{d}");
    assert!(!fallbacks.contains(&d["brain"].as_str().unwrap()));
}

#[test]
fn a_forced_brain_is_reported_as_such() {
    let home = TestHome::new();
    let tools = no_tools();
    let out = ai(&home, tools.path())
        .args([
            "route",
            "--dry-run",
            "--json",
            "--brain",
            "claude",
            "fix the build",
        ])
        .output()
        .unwrap();
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["brain"], "claude", "{d}");
    assert_eq!(d["forced"], true, "{d}");
}

#[test]
fn no_task_is_a_usage_error() {
    let home = TestHome::new();
    let tools = no_tools();
    let out = ai(&home, tools.path()).arg("   ").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no task given"));
}

#[test]
fn a_brain_over_its_budget_is_skipped_with_the_reason() {
    let home = TestHome::new();
    home.write_config("[api]\nport = 0\n[budgets.claude]\ndaily_usd = 0.01\n");
    let tools = no_tools();
    let bin = tools_with(&["claude", "codex"]);
    // Today, claude spent well over a cent (1M output tokens of Sonnet).
    let claude_dir = tempfile::tempdir().unwrap();
    let project = claude_dir.path().join("projects/-home-u-proj");
    std::fs::create_dir_all(&project).unwrap();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let line = support::usage_logs::claude_line(
        &now,
        "s1",
        "req1",
        "msg1",
        "claude-sonnet-4-5-20250929",
        10,
        1_000_000,
        0,
        0,
        None,
        0,
    );
    std::fs::write(project.join("s1.jsonl"), format!("{line}\n")).unwrap();
    let empty_codex = tempfile::tempdir().unwrap();
    let out = ai(&home, tools.path())
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", bin.path().join("bin").display()),
        )
        .env("CLAUDE_CONFIG_DIR", claude_dir.path())
        .env("CODEX_HOME", empty_codex.path())
        .args([
            "route",
            "--dry-run",
            "--json",
            "write a short essay on the history of the printing press",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["preferred"], "claude", "{d}");
    assert_eq!(d["brain"], "codex", "claude is over budget: {d}");
    assert!(d["reason"].as_str().unwrap().contains("over budget"), "{d}");
}

#[test]
fn a_missing_working_folder_or_an_absurd_time_limit_is_a_usage_error_before_anything_runs() {
    let home = TestHome::new();
    let tools = home.path().join("tools");
    let missing = home.path().join("no-such-folder");
    for args in [
        vec!["--cwd", missing.to_str().unwrap(), "write a poem"],
        vec!["--timeout", "18446744073709551615", "write a poem"],
        vec!["--timeout", "0", "write a poem"],
    ] {
        let out = ai(&home, &tools).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "ai {args:?}: {stderr}");
        assert!(
            stderr.contains(args[0]) && !stderr.contains("panicked") && !stderr.contains("failed"),
            "ai {args:?}: {stderr}"
        );
    }
}
