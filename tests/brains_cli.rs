//! `paios brains` without network: the status contract and clear errors when nothing is installed.

use paios_testkit as support;

use serde_json::Value;
use support::daemon::TestHome;

/// `paios brains …` with an empty tools folder and a PATH that holds no brain.
fn run_without_brains(home: &TestHome, args: &[&str]) -> (i32, String, String) {
    let empty_bin = home.path().join("empty-bin");
    std::fs::create_dir_all(&empty_bin).unwrap();
    let out = home
        .paios()
        .args(args)
        .env("PAIOS_TOOLS_DIR", home.path().join("tools"))
        .env("PATH", &empty_bin)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn status_json_lists_every_brain_as_missing_with_the_fix() {
    let home = TestHome::new();
    let (code, stdout, _) = run_without_brains(&home, &["brains", "status", "--json"]);
    assert_eq!(code, 1, "missing brains are a failed check");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let brains = report["brains"].as_array().unwrap();
    let names: Vec<&str> = brains.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["claude", "codex", "openclaw"]);
    for b in brains {
        for key in [
            "installed",
            "managed",
            "path",
            "version",
            "pinned",
            "ok",
            "error",
        ] {
            assert!(b.get(key).is_some(), "{key} missing in {b}");
        }
        assert_eq!(b["installed"], false);
        assert_eq!(b["ok"], false);
        assert!(b["pinned"].is_string());
        let error = b["error"].as_str().unwrap();
        assert!(error.contains("paios brains install"), "{error}");
    }
    assert!(report["node"].get("path").is_some() && report["node"].get("version").is_some());
}

#[test]
fn unknown_brain_is_a_usage_error() {
    let home = TestHome::new();
    let (code, _, stderr) = run_without_brains(&home, &["brains", "status", "gpt"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown brain `gpt`"), "{stderr}");
}

#[test]
fn rollback_without_a_previous_version_fails_clearly() {
    let home = TestHome::new();
    let (code, _, stderr) = run_without_brains(&home, &["brains", "rollback", "codex"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no previous version"), "{stderr}");
}

/// The acceptance check: after `paios brains install`, status shows all three installed,
/// managed, working, at the pinned versions, and the gateway's Node suits it. (With
/// `PAIOS_TOOLS_DIR` pointing at an installed folder this re-checks it and downloads nothing.)
#[test]
fn install_then_status_shows_every_brain_managed_and_working() {
    let home = TestHome::new();
    let mut install = home.paios();
    install.args(["brains", "install"]);
    let out = install.output().unwrap();
    assert!(
        out.status.success(),
        "paios brains install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (code, stdout, stderr) = home.run(&["brains", "status", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    for b in report["brains"].as_array().unwrap() {
        assert_eq!(b["installed"], true, "{b}");
        assert_eq!(b["managed"], true, "{b}");
        assert_eq!(b["ok"], true, "{b}");
        assert_eq!(b["version"], b["pinned"], "{b}");
        assert!(b["error"].is_null(), "{b}");
    }
    let node_version = report["node"]["version"]
        .as_str()
        .expect("a node for the gateway");
    let range = paios_core::brains::pins::pins()
        .brain(paios_core::brains::Brain::Openclaw)
        .node
        .clone()
        .unwrap();
    assert!(
        paios_core::brains::version_satisfies(node_version, &range),
        "gateway Node {node_version} does not satisfy {range}"
    );
}
