//! Quota: Codex's own rate-limit snapshots (in its session logs) and the windows they describe,
//! as `paios usage quota` shows them and as the router steers by them.

use paios_testkit as support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::daemon::TestHome;
use support::usage_logs::lines::{CodexRateLimits, CodexReset, CodexWindow};
use support::usage_logs::write_codex_tree_with;

/// A folder with executables named like the brains, to put on PATH: installed, as far as
/// `ai route` can tell (it never runs them).
fn fake_brains(brains: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for brain in brains {
        let exe = dir.path().join(brain);
        std::fs::write(&exe, "#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Codex logs whose token counts say the 5-hour window is `percent` used until `resets_at`
/// (epoch seconds), and the weekly one 40%.
fn codex_logs(percent: f64, resets_at: i64) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    write_codex_tree_with(home.path(), 3, 2, 4, |_, turn| {
        Some(CodexRateLimits {
            primary: Some(CodexWindow {
                used_percent: percent - 3.0 + turn as f64,
                window_minutes: 300,
                reset: CodexReset::At(resets_at),
            }),
            secondary: Some(CodexWindow {
                used_percent: 40.0,
                window_minutes: 10080,
                reset: CodexReset::At(resets_at + 86_400),
            }),
        })
    });
    home
}

fn with_logs(cmd: &mut Command, bin: &Path, codex: &Path, claude: &Path) {
    cmd.env("PAIOS_TOOLS_DIR", bin.join("no-managed-tools"))
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("OPENCLAW_GATEWAY_PORT", "9")
        .env("CODEX_HOME", codex)
        .env("CLAUDE_CONFIG_DIR", claude);
}

fn json_of(out: std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn codex_near_its_five_hour_limit_sends_code_to_claude_until_the_reset() {
    let home = TestHome::new();
    let bin = fake_brains(&["claude", "codex"]);
    let claude = tempfile::tempdir().unwrap();
    let resets_at = chrono::Utc::now().timestamp() + 4;
    let codex = codex_logs(97.0, resets_at);
    let task = "fix the failing unit test in the rust parser module";
    let route = || {
        let mut cmd = home.ai();
        with_logs(&mut cmd, bin.path(), codex.path(), claude.path());
        json_of(
            cmd.args(["route", "--dry-run", "--json", task])
                .output()
                .unwrap(),
        )
    };
    let d = route();
    assert_eq!(d["preferred"], "codex", "a code task prefers codex: {d}");
    assert_eq!(d["brain"], "claude", "codex's window is 97% used: {d}");
    let reason = d["reason"].as_str().unwrap();
    assert!(
        reason.contains("codex is rate-limited: 5h window 97% used"),
        "{d}"
    );

    let mut cmd = home.paios();
    with_logs(&mut cmd, bin.path(), codex.path(), claude.path());
    let q = json_of(cmd.args(["usage", "quota", "--json"]).output().unwrap());
    let codex_quota = q["brains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["brain"] == "codex")
        .unwrap()
        .clone();
    assert_eq!(codex_quota["windows"][0]["name"], "5h", "{q}");
    assert_eq!(codex_quota["windows"][0]["used_percent"], 97.0, "{q}");
    assert_eq!(codex_quota["windows"][1]["name"], "weekly", "{q}");
    assert_eq!(codex_quota["headroom_percent"], 3.0, "{q}");

    // Once the window has reset, codex takes code again.
    let wait = resets_at * 1000 - chrono::Utc::now().timestamp_millis() + 200;
    std::thread::sleep(Duration::from_millis(wait.max(0) as u64));
    let d = route();
    assert_eq!(d["brain"], "codex", "the window reset: {d}");
}

#[test]
fn a_window_with_room_leaves_the_choice_alone() {
    let home = TestHome::new();
    let bin = fake_brains(&["claude", "codex"]);
    let claude = tempfile::tempdir().unwrap();
    let codex = codex_logs(60.0, chrono::Utc::now().timestamp() + 3600);
    let mut cmd = home.ai();
    with_logs(&mut cmd, bin.path(), codex.path(), claude.path());
    let d = json_of(
        cmd.args([
            "route",
            "--dry-run",
            "--json",
            "fix the failing unit test in the rust parser module",
        ])
        .output()
        .unwrap(),
    );
    assert_eq!(d["brain"], "codex", "{d}");
}

/// The real `claude` against the fake Anthropic server answering 429 "usage limit reached":
/// `ai` falls back to the real `codex` at once, and Claude counts as rate-limited until the
/// reset the error named (the next route passes it over, with the reason).
#[test]
fn a_claude_run_that_hits_its_usage_limit_falls_back_and_marks_claude_until_the_reset() {
    use support::env::{BrainEnv, free_port};
    use support::fake_anthropic::{self, FakeAnthropic};
    use support::fake_openai::{self, FakeOpenAi};
    let reset = chrono::Utc::now().timestamp() + 2 * 3600;
    let anthropic = FakeAnthropic::start();
    anthropic.set_fallback(fake_anthropic::Reply::error_with(
        429,
        "rate_limit_error",
        &format!("Claude AI usage limit reached|{reset}"),
    ));
    let openai = FakeOpenAi::start();
    openai.set_fallback(fake_openai::Reply::text("Here is the outline."));
    let mut env = BrainEnv::new();
    env.connect_anthropic(&anthropic);
    env.connect_openai(&openai);
    let mut config = support::env::minimal_openclaw_config();
    config["gateway"]["port"] = serde_json::json!(free_port());
    env.write_openclaw_config(&config);
    std::fs::write(env.paios_home().join("paios.toml"), "[api]\nport = 0\n").unwrap();
    let task = "write a blog post about our migration to kubernetes";
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ai"));
    env.apply(&mut cmd);
    cmd.arg(task);
    let out = env.run(&mut cmd, Duration::from_secs(180));
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stdout.contains("Here is the outline."),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("falling back to codex"),
        "{}",
        out.stderr
    );

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ai"));
    env.apply(&mut cmd);
    cmd.args(["route", "--dry-run", "--json", task]);
    let out = env.run(&mut cmd, Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let d: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(d["preferred"], "claude", "{d}");
    assert_eq!(d["brain"], "codex", "claude is rate-limited: {d}");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("claude is rate-limited: a run hit its rate limit, until"),
        "{d}"
    );

    let out = env.run(
        env.paios().args(["usage", "quota", "--json"]),
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let q: Value = serde_json::from_str(&out.stdout).unwrap();
    let claude = q["brains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["brain"] == "claude")
        .unwrap()
        .clone();
    let until = chrono::DateTime::parse_from_rfc3339(claude["limited_until"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert_eq!(until, reset, "{q}");
}
