//! The guardian on watched JSON and TOML files: broken files restored by the daemon, valid
//! edits kept, and `paios guard check|snapshot|diff|history|rollback --to|undo` on the files
//! directly (no daemon); a rollback killed with SIGKILL never leaves a partly written file.

use paios_testkit as support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::daemon::TestHome;
use support::services::QUIET_HEAD;

const GOOD_JSON: &str =
    "{\n  \"server\": {\"port\": 8080, \"token\": \"planted-secret-1\"},\n  \"debug\": false\n}\n";
const GOOD_TOML: &str = "[server]\nport = 8080\nname = \"svc\"\n";

fn setup(home: &TestHome) -> (PathBuf, PathBuf) {
    let dir = home.path().join("watched");
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("app.json");
    let toml = dir.join("app.toml");
    std::fs::write(&json, GOOD_JSON).unwrap();
    std::fs::set_permissions(&json, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(&toml, GOOD_TOML).unwrap();
    home.write_config(&format!(
        "{QUIET_HEAD}[guardian]\nhealthy_s = 0\n\n[[watch]]\nname = \"app-json\"\npath = \"{}\"\nformat = \"json\"\n\n[[watch]]\nname = \"app-toml\"\npath = \"{}\"\nformat = \"toml\"\n",
        json.display(),
        toml.display()
    ));
    (json, toml)
}

fn check(home: &TestHome) -> Value {
    let (_, out, err) = home.run(&["guard", "check", "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"))
}

fn file_row<'a>(check: &'a Value, name: &str) -> &'a Value {
    check["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {check}"))
}

fn rolled_back(home: &TestHome, name: &str, after: i64) -> Value {
    home.wait_for_event("config.rolled_back", Duration::from_secs(20), |e| {
        e["subject"] == name && e["id"].as_i64().unwrap() > after
    })
}

fn last_id(home: &TestHome) -> i64 {
    home.events("")
        .last()
        .and_then(|e| e["id"].as_i64())
        .unwrap_or(0)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn broken_files_are_restored_and_a_valid_edit_is_kept() {
    let mut home = TestHome::new();
    let (json, toml) = setup(&home);
    home.start_daemon();
    // The daemon takes both files as their first good versions.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let c = check(&home);
        if !file_row(&c, "app-json")["last_good"].is_null()
            && !file_row(&c, "app-toml")["last_good"].is_null()
        {
            assert_eq!(c["ok"], true, "{c}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no last good: {c}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Truncated JSON: restored, its mode kept, the bad version kept as a snapshot.
    let at = last_id(&home);
    std::fs::write(&json, &GOOD_JSON[..GOOD_JSON.len() / 2]).unwrap();
    let ev = rolled_back(&home, "app-json", at);
    assert_eq!(std::fs::read_to_string(&json).unwrap(), GOOD_JSON);
    assert_eq!(mode(&json), 0o640);
    let invalid = home.events("config.invalid");
    let inv = invalid
        .iter()
        .find(|e| e["subject"] == "app-json" && e["id"].as_i64().unwrap() > at)
        .expect("config.invalid before the rollback");
    assert!(inv["id"].as_i64() < ev["id"].as_i64());
    assert!(
        inv["data"]["error"].as_str().unwrap().contains("line"),
        "{inv}"
    );
    let alert = home.wait_for_event("alert.raised", Duration::from_secs(5), |e| {
        e["subject"] == "app-json"
    });
    assert_eq!(alert["data"]["runbook"], "configs", "{alert}");

    // Emptied TOML: restored.
    let at = last_id(&home);
    std::fs::write(&toml, "").unwrap();
    rolled_back(&home, "app-toml", at);
    assert_eq!(std::fs::read_to_string(&toml).unwrap(), GOOD_TOML);

    // A broken TOML put in place by a rename (as editors save): restored.
    let at = last_id(&home);
    let tmp = toml.with_extension("toml.swp");
    std::fs::write(&tmp, "[server\nport = 1\n").unwrap();
    std::fs::rename(&tmp, &toml).unwrap();
    rolled_back(&home, "app-toml", at);
    assert_eq!(std::fs::read_to_string(&toml).unwrap(), GOOD_TOML);

    // The folder vanishing and coming back with a broken file: still watched, restored.
    let at = last_id(&home);
    let dir = json.parent().unwrap().to_path_buf();
    let aside = home.path().join("aside");
    std::fs::rename(&dir, &aside).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::rename(&aside, &dir).unwrap();
    std::fs::write(&json, "{\"server\": ").unwrap();
    rolled_back(&home, "app-json", at);
    assert_eq!(std::fs::read_to_string(&json).unwrap(), GOOD_JSON);

    // A valid edit is kept and snapshotted; config.changed names the key, never the value.
    let at = last_id(&home);
    let edited = GOOD_JSON.replace("false", "true");
    std::fs::write(&json, &edited).unwrap();
    let changed = home.wait_for_event("config.changed", Duration::from_secs(20), |e| {
        e["subject"] == "app-json" && e["id"].as_i64().unwrap() > at
    });
    assert_eq!(changed["data"]["keys"], serde_json::json!(["debug"]));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(std::fs::read_to_string(&json).unwrap(), edited);
    let (code, out, _) = home.run(&["guard", "history", "app-json", "--json"]);
    assert_eq!(code, 0);
    let history: Value = serde_json::from_str(&out).unwrap();
    let last = history["snapshots"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["valid"], true, "{history}");
    assert_eq!(last["good"], true, "{history}");

    // No secret value in any event.
    let all = serde_json::to_string(&home.events("")).unwrap();
    assert!(!all.contains("planted-secret-1"));
}

#[test]
fn guard_commands_work_on_the_files_without_the_daemon() {
    let home = TestHome::new();
    let (json, _toml) = setup(&home);
    let (code, out, err) = home.run(&["guard", "snapshot", "--json"]);
    assert_eq!(code, 0, "{err}");
    let snaps: Value = serde_json::from_str(&out).unwrap();
    let first = snaps["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "app-json")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // A valid edit: diff names the key.
    let edited = GOOD_JSON.replace("8080", "9090");
    std::fs::write(&json, &edited).unwrap();
    let (code, out, _) = home.run(&["guard", "diff", "app-json", "--json"]);
    assert_eq!(code, 1, "a difference exits 1: {out}");
    let diff: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(diff["keys"], serde_json::json!(["server.port"]));
    assert_eq!(diff["last_good"], first.as_str());
    assert!(!out.contains("9090") && !out.contains("planted"));

    // Snapshot the edit, then roll back to the first version by id, then undo.
    home.run(&["guard", "snapshot"]);
    let (code, out, err) = home.run(&[
        "guard",
        "rollback",
        "app-json",
        "--to",
        &first[..8],
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["restored"], first.as_str());
    assert_eq!(std::fs::read_to_string(&json).unwrap(), GOOD_JSON);
    assert_eq!(mode(&json), 0o640);
    let (code, _, err) = home.run(&["guard", "undo"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&json).unwrap(), edited);
    let (code, _, err) = home.run(&["guard", "undo"]);
    assert_eq!(code, 1, "nothing left to undo: {err}");

    // An invalid file: check says where, exits 1; rollback restores the last good version.
    std::fs::write(&json, "{\n  \"server\": {\n}").unwrap();
    let (code, out, _) = home.run(&["guard", "check", "--json"]);
    assert_eq!(code, 1);
    let c: Value = serde_json::from_str(&out).unwrap();
    let row = file_row(&c, "app-json");
    assert_eq!(row["valid"], false);
    assert!(
        row["error"].as_str().unwrap().starts_with("line 3"),
        "{row}"
    );
    let (code, _, err) = home.run(&["guard", "rollback", "app-json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&json).unwrap(), edited);

    let (code, _, err) = home.run(&["guard", "diff", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope"));
    // Every rollback and undo was recorded (spooled: no daemon).
    let (code, _, _) = home.run(&["guard", "rollback", "app-json", "--to", "ffffffffffff"]);
    assert_eq!(code, 1);
}

#[test]
fn a_rollback_killed_at_any_moment_leaves_the_old_file_or_the_new_one() {
    let home = TestHome::new();
    let (json, _) = setup(&home);
    // A big valid file as the good version, a small one in place.
    let big: String = format!(
        "{{\"items\": [{}]}}",
        (0..20000)
            .map(|i| format!("\"item-{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    std::fs::write(&json, &big).unwrap();
    assert_eq!(home.run(&["guard", "snapshot"]).0, 0);
    let small = "{\"items\": []}";
    let mut rng = 0x9e3779b97f4a7c15u64;
    for _ in 0..12 {
        std::fs::write(&json, small).unwrap();
        let mut child = home
            .paios()
            .args(["guard", "rollback", "app-json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_micros(rng % 30_000));
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        let now = std::fs::read_to_string(&json).unwrap();
        assert!(
            now == small || now == big,
            "a partly written file: {} bytes",
            now.len()
        );
        // The store is still usable after the kill.
        let (code, _, err) = home.run(&["guard", "history", "app-json"]);
        assert_eq!(code, 0, "{err}");
    }
}
