//! `paios statusline`: Claude Code's status line input on stdin, one line out, its figures the
//! ones `paios usage` reports from the same ledger; `paios hooks install --statusline` sets it.

use paios_testkit as support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::daemon::TestHome;
use support::usage_logs::NowTree;

const INPUT: &str = r#"{"session_id":"5f1c","transcript_path":"/t.jsonl","cwd":"/w","model":{"id":"claude-sonnet-4-5","display_name":"Sonnet 4.5"},"workspace":{"current_dir":"/w","project_dir":"/w"},"version":"2.1.332","cost":{"total_cost_usd":0.75,"total_duration_ms":1000},"exceeds_200k_tokens":false}"#;

fn with_stdin(mut cmd: Command, stdin: &[u8]) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn statusline(home: &TestHome, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut cmd = home.paios();
    cmd.arg("statusline").args(args).env("TZ", "UTC");
    with_stdin(cmd, stdin)
}

fn json_of(home: &TestHome, args: &[&str]) -> Value {
    let out = home.paios().args(args).env("TZ", "UTC").output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_status_line_shows_what_paios_usage_reports() {
    // Sonnet 4.5: 100k output tokens = $1.50, plus 200k more = $3.00 more.
    let logs = NowTree::with_one_message(100_000);
    logs.append(2, 200_000);
    let home = TestHome::new();
    home.write_config(&format!(
        "[api]\nport = 0\n{}[usage.quota]\nclaude_window_tokens = 1000000\n",
        logs.usage_table()
    ));

    // Before any report the ledger is cold: the line says so, from the input alone.
    let (code, line, err) = statusline(&home, &[], INPUT.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(line.contains("session $0.75"), "{line}");
    assert!(line.contains("no usage ledger yet"), "{line}");

    // A report warms it; the status line then gives the same figures.
    let daily = json_of(&home, &["usage", "daily", "--json", "--timezone", "UTC"]);
    let blocks = json_of(&home, &["usage", "blocks", "--active", "--json"]);
    let today = daily["daily"].as_array().unwrap().last().unwrap().clone();
    let active = &blocks["blocks"][0];
    let (code, out, err) = statusline(&home, &["--json"], INPUT.as_bytes());
    assert_eq!(code, 0, "{err}");
    let facts: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(facts["warm"], true, "{facts}");
    assert_eq!(facts["model"], "Sonnet 4.5");
    assert_eq!(facts["session_id"], "5f1c");
    let cost = facts["today_cost_usd"].as_f64().unwrap();
    assert!(
        (cost - today["totalCost"].as_f64().unwrap()).abs() < 1e-9,
        "{facts} vs {today}"
    );
    assert!((cost - 4.5).abs() < 1e-9, "{cost}");
    assert_eq!(facts["window"]["tokens"], active["totalTokens"], "{facts}");
    assert_eq!(facts["window"]["tokens"], 300_000);
    assert_eq!(facts["window"]["from"], "ledger");
    // 300,000 of 1,000,000 tokens: 30% used, 70% headroom.
    let used = facts["window"]["used_percent"].as_f64().unwrap();
    assert!((used - 30.0).abs() < 1e-9, "{facts}");
    let headroom = facts["headroom_percent"].as_f64().unwrap();
    assert!((headroom - (100.0 - used)).abs() < 1e-9, "{facts}");
    let end = active["endTime"].as_str().unwrap();
    assert_eq!(
        facts["window"]["resets_at"].as_str().unwrap()[..16],
        end[..16]
    );

    let (code, line, err) = statusline(&home, &[], INPUT.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.starts_with("$4.50 today (session $0.75)"), "{line}");
    assert!(line.contains("5h 30% (300.0k tok) resets "), "{line}");
    assert!(line.contains(&end[11..16]), "resets at {end}: {line}");
    assert!(line.contains("claude headroom 70%"), "{line}");

    // Claude Code's own window figures, when it passes them, win over the ledger's.
    let with_limits = INPUT.trim_end_matches('}').to_string()
        + r#","rate_limits":{"five_hour":{"used_percentage":81,"resets_at":4102444800}}}"#;
    let (_, out, _) = statusline(&home, &["--json"], with_limits.as_bytes());
    let facts: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(facts["window"]["used_percent"], 81.0);
    assert_eq!(facts["window"]["resets_at"], "2100-01-01T00:00:00Z");
    assert_eq!(facts["headroom_percent"], 19.0);

    // Garbage, nothing, or half an object on stdin: still one line, from the ledger.
    for garbage in [&b"not json"[..], b"", b"{\"session_id\":", b"\xff\xfe\x00"] {
        let (code, line, err) = statusline(&home, &[], garbage);
        assert_eq!(code, 0, "{err}");
        assert!(line.starts_with("$4.50 today · 5h 30%"), "{line}");
    }
}

#[test]
fn hooks_install_sets_the_status_line_once_and_uninstall_takes_it_out() {
    let home = TestHome::new();
    let settings = home.path().join("brains/claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"model":"opus","env":{"A":"1"}}"#).unwrap();
    let install = ["hooks", "install", "--statusline", "--json"];
    let (code, out, err) = home.run(&install);
    assert_eq!(code, 0, "{err}");
    let done: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(done[0]["statusline_changed"], true, "{done}");
    let text = std::fs::read_to_string(&settings).unwrap();
    let after: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(after["model"], "opus");
    assert_eq!(after["env"]["A"], "1");
    let command = after["statusLine"]["command"].as_str().unwrap();
    assert!(command.ends_with(" statusline"), "{command}");
    assert!(
        settings
            .with_file_name("settings.json.paios-backup")
            .exists(),
        "backed up"
    );

    // The command Claude Code will run works as it is written.
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(command);
    let (code, line, err) = with_stdin(sh, INPUT.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(line.contains("session $0.75"), "{line}");

    // Twice: nothing changes.
    let (code, out, _) = home.run(&install);
    assert_eq!(code, 0);
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again[0]["changed"], false, "{again}");
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), text);

    // Uninstall: the user's settings as they were.
    let (code, _, err) = home.run(&["hooks", "uninstall"]);
    assert_eq!(code, 0, "{err}");
    let back: Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(
        back,
        serde_json::json!({"model": "opus", "env": {"A": "1"}})
    );
}
