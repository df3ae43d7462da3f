//! `paios brains upgrade` and `rollback` with real npm installs, in a private tools folder that
//! borrows the shared install of the pinned claude (so the shared one is never switched).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::daemon::TestHome;
use support::env::{BrainEnv, Finished};

const TIMEOUT: Duration = Duration::from_secs(300);
/// A real published version of Claude Code other than the pinned one.
const OTHER_CLAUDE: &str = "2.1.331";

/// The pinned claude version, from the data file this build ships.
fn pinned_claude() -> String {
    let pins: toml::Value = toml::from_str(paios::brains::pins::PINS_TOML).unwrap();
    pins["brains"]["claude"]["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A private tools folder whose current claude is the shared managed install (linked).
fn private_tools(env: &BrainEnv) -> PathBuf {
    let shared = paios::brains::resolve(&env.paths(), paios::brains::Brain::Claude)
        .filter(|r| r.managed)
        .unwrap_or_else(|| {
            panic!(
                "the upgrade tests need the managed claude: run `paios brains install claude` \
                 with PAIOS_TOOLS_DIR set for the test run"
            )
        });
    let version = shared.version.clone().unwrap();
    // …/claude/<version>/node_modules/.bin/claude → …/claude/<version>
    let version_dir = shared.path.ancestors().nth(3).unwrap().to_path_buf();
    let tools = env.root().join("tools");
    std::fs::create_dir_all(tools.join("claude")).unwrap();
    std::os::unix::fs::symlink(&version_dir, tools.join("claude").join(&version)).unwrap();
    std::fs::write(tools.join("claude/current"), format!("{version}\n")).unwrap();
    tools
}

fn paios(env: &BrainEnv, tools: &Path, home: Option<&Path>, args: &[&str]) -> Finished {
    let mut cmd = env.paios();
    cmd.env("PAIOS_TOOLS_DIR", tools).args(args);
    if let Some(home) = home {
        cmd.env("PAIOS_HOME", home);
    }
    env.run(&mut cmd, TIMEOUT)
}

fn claude_status(env: &BrainEnv, tools: &Path) -> Value {
    let out = paios(env, tools, None, &["brains", "status", "claude", "--json"]);
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("status JSON: {e}: {} {}", out.stdout, out.stderr));
    report["brains"][0].clone()
}

#[test]
fn upgrading_to_a_version_that_does_not_exist_fails_and_keeps_the_current_one() {
    let env = BrainEnv::new();
    let tools = private_tools(&env);
    let before = claude_status(&env, &tools);
    assert_eq!(before["ok"], true, "{before}");

    let out = paios(
        &env,
        &tools,
        None,
        &["brains", "upgrade", "claude", "--to", "999.0.0"],
    );

    assert_eq!(out.code, Some(1), "stderr: {}", out.stderr);
    assert!(out.stderr.contains("upgrade failed"), "{}", out.stderr);
    assert!(out.stderr.contains("999.0.0"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("claude {} stays current", pinned_claude())),
        "{}",
        out.stderr
    );
    let after = claude_status(&env, &tools);
    assert_eq!(after["ok"], true, "{after}");
    assert_eq!(after["version"], before["version"]);
    assert!(
        !tools.join("claude/999.0.0").exists(),
        "no half-installed folder is left"
    );
    let leftovers: Vec<_> = std::fs::read_dir(tools.join("claude"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".installing-"))
        .collect();
    assert!(leftovers.is_empty(), "temp folders left: {leftovers:?}");
}

#[test]
fn upgrade_then_rollback_switches_versions_and_records_events() {
    let env = BrainEnv::new();
    let tools = private_tools(&env);
    let mut home = TestHome::new();
    home.start_daemon();
    let pinned = pinned_claude();

    let out = paios(
        &env,
        &tools,
        Some(home.path()),
        &[
            "brains",
            "upgrade",
            "claude",
            "--to",
            OTHER_CLAUDE,
            "--json",
        ],
    );
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let outcome: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(outcome["to"], OTHER_CLAUDE);
    assert_eq!(outcome["from"], pinned.as_str());
    let status = claude_status(&env, &tools);
    assert_eq!(status["version"], OTHER_CLAUDE, "{status}");
    assert_eq!(status["ok"], true, "{status}");
    assert!(
        tools.join("claude").join(&pinned).exists(),
        "the previous one is kept"
    );
    let upgraded = home.wait_for_event("brain.upgraded", Duration::from_secs(10), |_| true);
    assert_eq!(upgraded["subject"], "claude");
    assert_eq!(upgraded["data"]["to"], OTHER_CLAUDE);

    let out = paios(
        &env,
        &tools,
        Some(home.path()),
        &["brains", "rollback", "claude"],
    );
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let status = claude_status(&env, &tools);
    assert_eq!(status["version"], pinned.as_str(), "{status}");
    assert_eq!(status["ok"], true, "{status}");
    let rolled = home.wait_for_event("brain.rolled_back", Duration::from_secs(10), |_| true);
    assert_eq!(rolled["data"]["from"], OTHER_CLAUDE);
    assert_eq!(rolled["data"]["to"], pinned.as_str());
}

#[test]
fn a_failed_upgrade_is_recorded_as_an_event() {
    let env = BrainEnv::new();
    let tools = private_tools(&env);
    let mut home = TestHome::new();
    home.start_daemon();

    let out = paios(
        &env,
        &tools,
        Some(home.path()),
        &["brains", "upgrade", "claude", "--to", "not-a-version"],
    );

    assert_eq!(out.code, Some(1), "stderr: {}", out.stderr);
    let failed = home.wait_for_event("brain.upgrade_failed", Duration::from_secs(10), |_| true);
    assert_eq!(failed["subject"], "claude");
    assert!(
        failed["data"]["error"]
            .as_str()
            .unwrap()
            .contains("not a valid version"),
        "{failed}"
    );
}
