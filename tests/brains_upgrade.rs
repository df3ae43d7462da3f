//! `paios brains upgrade` and `rollback` with real npm installs, in a private tools folder that
//! borrows the shared install of the pinned claude (so the shared one is never switched).

use paios_testkit as support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use paios_core::brains::Brain;
use serde_json::Value;
use support::daemon::TestHome;
use support::env::{BrainEnv, Finished};

const TIMEOUT: Duration = Duration::from_secs(300);
/// A real published version of Claude Code other than the pinned one.
const OTHER_CLAUDE: &str = "2.1.331";

/// The pinned claude version, from the data file this build ships.
fn pinned_claude() -> String {
    let pins: toml::Value = toml::from_str(paios_core::brains::pins::PINS_TOML).unwrap();
    pins["brains"]["claude"]["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A private tools folder whose current claude is the shared managed install (linked).
fn private_tools(env: &BrainEnv) -> PathBuf {
    let tools = env.root().join("tools");
    let version = borrow(env, &tools, Brain::Claude, None);
    std::fs::write(tools.join("claude/current"), format!("{version}\n")).unwrap();
    tools
}

/// Link the shared managed install of `brain` into `tools` (as `as_version`, default its own
/// version); returns its real version.
fn borrow(env: &BrainEnv, tools: &Path, brain: Brain, as_version: Option<&str>) -> String {
    let shared = paios_core::brains::resolve(&env.paths(), brain)
        .filter(|r| r.managed)
        .unwrap_or_else(|| {
            panic!(
                "the upgrade tests need the managed {brain}: run `paios brains install {brain}` \
                 with PAIOS_TOOLS_DIR set for the test run"
            )
        });
    let version = shared.version.clone().unwrap();
    // …/<brain>/<version>/node_modules/.bin/<bin> → …/<brain>/<version>
    let version_dir = shared.path.ancestors().nth(3).unwrap().to_path_buf();
    let dir = tools.join(brain.name());
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&version_dir, dir.join(as_version.unwrap_or(&version))).unwrap();
    version
}

/// Link the shared managed Node (when there is one) into `tools` and make it current.
fn borrow_node(env: &BrainEnv, tools: &Path) {
    let Some(node) = paios_core::brains::node(&env.paths()).filter(|n| n.managed) else {
        return;
    };
    let version = node.version.unwrap();
    let version_dir = node.path.ancestors().nth(3).unwrap().to_path_buf();
    std::fs::create_dir_all(tools.join("node")).unwrap();
    std::os::unix::fs::symlink(&version_dir, tools.join("node").join(&version)).unwrap();
    std::fs::write(tools.join("node/current"), format!("{version}\n")).unwrap();
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

/// The gateway's smoke check includes its own validation of the user's current config: a new
/// version that rejects it is not switched to. (The "new" version here is the shared install
/// linked under a second name, so no download is needed.)
#[test]
fn a_gateway_upgrade_is_refused_when_the_new_version_rejects_the_current_config() {
    let env = BrainEnv::new();
    let tools = env.root().join("tools");
    borrow_node(&env, &tools);
    let real = borrow(&env, &tools, Brain::Openclaw, None);
    borrow(&env, &tools, Brain::Openclaw, Some("2000.1.1"));
    std::fs::write(tools.join("openclaw/current"), "2000.1.1\n").unwrap();
    env.write_openclaw_config(&serde_json::json!({
        "gateway": {"mode": "local", "auth": {"token": "t"}},
        "update": {"checkOnStart": false},
        "notAnOpenclawSetting": true
    }));

    let out = paios(
        &env,
        &tools,
        None,
        &["brains", "upgrade", "openclaw", "--to", &real],
    );

    assert_eq!(
        out.code,
        Some(1),
        "stdout: {} stderr: {}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("rejects the current gateway config"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("notAnOpenclawSetting"),
        "its own error text is shown: {}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(tools.join("openclaw/current"))
            .unwrap()
            .trim(),
        "2000.1.1",
        "the current version stays"
    );

    // With a valid config the same upgrade goes through.
    env.write_openclaw_config(&support::env::minimal_openclaw_config());
    let out = paios(
        &env,
        &tools,
        None,
        &["brains", "upgrade", "openclaw", "--to", &real],
    );
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(tools.join("openclaw/current"))
            .unwrap()
            .trim(),
        real
    );
}

/// kill -9 in the middle of an install leaves the current version working, and the next
/// command clears the half-written folder.
#[test]
fn an_install_killed_midway_leaves_the_current_version_working() {
    let env = BrainEnv::new();
    let tools = env.root().join("tools");
    let current = borrow(&env, &tools, Brain::Codex, None);
    std::fs::write(tools.join("codex/current"), format!("{current}\n")).unwrap();

    let mut cmd = env.paios();
    cmd.env("PAIOS_TOOLS_DIR", &tools)
        .args(["brains", "upgrade", "codex", "--to", "0.166.0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = env.spawn(&mut cmd);
    let in_progress = || {
        std::fs::read_dir(tools.join("codex"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".installing-"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !in_progress() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the install ended before it could be killed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the install never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    assert_eq!(
        std::fs::read_to_string(tools.join("codex/current"))
            .unwrap()
            .trim(),
        current
    );
    assert!(
        !tools.join("codex/0.166.0").exists(),
        "no half-installed version folder"
    );
    let out = paios(&env, &tools, None, &["brains", "status", "codex", "--json"]);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["brains"][0]["ok"], true, "{report}");
    assert_eq!(report["brains"][0]["version"], current.as_str());

    // The next command that changes codex removes the leftover temp folder.
    let out = paios(
        &env,
        &tools,
        None,
        &["brains", "upgrade", "codex", "--to", "999.0.0"],
    );
    assert_eq!(out.code, Some(1));
    assert!(
        !in_progress(),
        "the killed install's temp folder is cleaned up"
    );
}
