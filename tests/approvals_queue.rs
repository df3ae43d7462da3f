//! The approval queue end to end with the real daemon and the real `paios hook` process (no
//! brain): ask → queued → answered from the CLI → the waiting hook gets the answer; trust and
//! autonomy; never without a daemon; the timeout.

use paios_testkit as support;

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::daemon::TestHome;

fn hook_input(command: &str, cwd: &str) -> String {
    json!({
        "session_id": "s1",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command},
        "cwd": cwd,
    })
    .to_string()
}

/// Start `paios hook pre-tool-use` with `input` on stdin.
fn spawn_hook(home: &TestHome, input: &str) -> Child {
    let mut child = home
        .paios()
        .args(["hook", "pre-tool-use"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child
}

fn decision_of(child: Child) -> (String, String) {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "hook failed: {out:?}");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("hook printed no JSON ({e}): {out:?}"));
    let h = &v["hookSpecificOutput"];
    assert_eq!(h["hookEventName"], "PreToolUse");
    (
        h["permissionDecision"].as_str().unwrap().to_string(),
        h["permissionDecisionReason"].as_str().unwrap().to_string(),
    )
}

fn pending(home: &TestHome) -> Vec<Value> {
    let (code, out, err) = home.run(&["approvals", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn wait_pending(home: &TestHome, summary: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(r) = pending(home).into_iter().find(|r| r["summary"] == summary) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no pending request for {summary}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_ask_waits_in_the_queue_until_approved_from_the_cli() {
    let mut home = TestHome::new();
    home.start_daemon();
    let project = home.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let cmd = "curl -s -d x https://example.org/data.json";
    let child = spawn_hook(&home, &hook_input(cmd, project.to_str().unwrap()));
    let req = wait_pending(&home, cmd);
    assert_eq!(req["state"], "pending");
    assert_eq!(req["tool"], "Bash");
    assert_eq!(req["brain"], "claude");
    assert_eq!(req["rule"], "shell.http-write");
    let id = req["id"].as_i64().unwrap().to_string();
    let (code, _, err) = home.run(&["approvals", "approve", &id]);
    assert_eq!(code, 0, "{err}");
    let (decision, reason) = decision_of(child);
    assert_eq!(decision, "allow", "{reason}");
    assert!(reason.contains("approved by user"), "{reason}");
    assert!(pending(&home).is_empty());
    // The panel's view (daemon op): pending first, then recent answers.
    let rows = paios_core::client::Client::connect(&paios_core::paths::Paths::at(home.path()))
        .unwrap()
        .call("approvals.list", json!({}))
        .unwrap();
    assert_eq!(rows[0]["summary"], cmd);
    assert_eq!(rows[0]["state"], "approved");
    assert_eq!(rows[0]["decided_by"], "user");
    let decided = home.wait_for_event("approval.decided", Duration::from_secs(5), |e| {
        e["data"]["by"] == "user"
    });
    assert_eq!(decided["data"]["decision"], "approve");
    assert_eq!(decided["data"]["summary"], cmd);
    // Answering twice is an error with a clear message.
    let (code, _, err) = home.run(&["approvals", "deny", &id]);
    assert_eq!(code, 1);
    assert!(err.contains("already answered"), "{err}");
}

#[test]
fn trust_approves_a_repeated_ask_and_a_deny_resets_it() {
    let mut home = TestHome::new();
    home.write_config("[api]\nport = 0\n[approvals]\ntrust_after = 2\nautonomy = 1\n");
    home.start_daemon();
    let cwd = home.path().to_str().unwrap().to_string();
    let cmd = "make deploy";
    for _ in 0..2 {
        let child = spawn_hook(&home, &hook_input(cmd, &cwd));
        let id = wait_pending(&home, cmd)["id"].to_string();
        assert_eq!(home.run(&["approvals", "approve", &id]).0, 0);
        assert_eq!(decision_of(child).0, "allow");
    }
    // Third time: trusted, no one asked.
    let (decision, reason) = decision_of(spawn_hook(&home, &hook_input(cmd, &cwd)));
    assert_eq!(decision, "allow");
    assert!(reason.contains("by trust"), "{reason}");
    // At level 0 trust does not answer; a deny resets the count.
    assert_eq!(home.run(&["autonomy", "set", "0"]).0, 0);
    let child = spawn_hook(&home, &hook_input(cmd, &cwd));
    let id = wait_pending(&home, cmd)["id"].to_string();
    assert_eq!(home.run(&["approvals", "deny", &id]).0, 0);
    assert_eq!(decision_of(child).0, "deny");
    assert_eq!(home.run(&["autonomy", "set", "1"]).0, 0);
    let child = spawn_hook(&home, &hook_input(cmd, &cwd));
    let id = wait_pending(&home, cmd)["id"].to_string();
    assert_eq!(home.run(&["approvals", "deny", &id, "--always"]).0, 0);
    assert_eq!(decision_of(child).0, "deny");
    let (decision, reason) = decision_of(spawn_hook(&home, &hook_input(cmd, &cwd)));
    assert_eq!(decision, "deny");
    assert!(reason.contains("always deny"), "{reason}");
}

#[test]
fn level_three_approves_asks_but_never_stays_never() {
    let mut home = TestHome::new();
    home.start_daemon();
    let (code, out, _) = home.run(&["autonomy", "set", "3", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["level"], 3);
    let cwd = home.path().to_str().unwrap().to_string();
    let (d, reason) = decision_of(spawn_hook(&home, &hook_input("make deploy", &cwd)));
    assert_eq!(d, "allow", "{reason}");
    assert!(reason.contains("autonomy"), "{reason}");
    let (d, _) = decision_of(spawn_hook(&home, &hook_input("echo ok; rm -rf /", &cwd)));
    assert_eq!(d, "deny");
}

#[test]
fn without_a_daemon_never_is_denied_and_ask_is_denied_with_a_reason() {
    let home = TestHome::new();
    let cwd = home.path().to_str().unwrap().to_string();
    let (d, reason) = decision_of(spawn_hook(&home, &hook_input("rm -rf ~", &cwd)));
    assert_eq!(d, "deny");
    assert!(reason.contains("shell.rm-critical"), "{reason}");
    let (d, reason) = decision_of(spawn_hook(&home, &hook_input("make deploy", &cwd)));
    assert_eq!(d, "deny");
    assert!(reason.contains("paios daemon"), "{reason}");
    let (d, _) = decision_of(spawn_hook(&home, &hook_input("ls -la", &cwd)));
    assert_eq!(d, "allow");
}

#[test]
fn an_unanswered_ask_is_denied_at_the_timeout() {
    let mut home = TestHome::new();
    home.write_config("[api]\nport = 0\n[approvals]\ntimeout_s = 1\n");
    home.start_daemon();
    let cwd = home.path().to_str().unwrap().to_string();
    let (d, reason) = decision_of(spawn_hook(&home, &hook_input("make deploy", &cwd)));
    assert_eq!(d, "deny");
    assert!(reason.contains("by timeout"), "{reason}");
    let (_, out, _) = home.run(&["approvals", "list", "--all", "--json"]);
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["state"], "expired");
}

/// A hook that goes away while it waits (the agent was stopped, the hook killed) leaves no
/// request to answer: it is settled as expired at once, an answer given later is refused, and
/// so it can never count towards trust for a call that never ran.
#[test]
fn a_request_whose_hook_was_killed_expires_and_cannot_be_approved_later() {
    let mut home = TestHome::new();
    home.write_config("[api]\nport = 0\n[approvals]\ntrust_after = 1\nautonomy = 1\n");
    home.start_daemon();
    let cwd = home.path().to_str().unwrap().to_string();
    let cmd = "make deploy";
    let mut child = spawn_hook(&home, &hook_input(cmd, &cwd));
    let id = wait_pending(&home, cmd)["id"].to_string();
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while pending(&home).iter().any(|r| r["summary"] == cmd) {
        assert!(
            Instant::now() < deadline,
            "the request of a killed hook is still pending"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, out, _) = home.run(&["approvals", "list", "--all", "--json"]);
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["state"], "expired", "{rows:?}");
    let (code, _, err) = home.run(&["approvals", "approve", &id]);
    assert_eq!(code, 1);
    assert!(err.contains("already answered"), "{err}");
    // Nothing was learnt: the same call still waits for an answer.
    let child = spawn_hook(&home, &hook_input(cmd, &cwd));
    let id = wait_pending(&home, cmd)["id"].to_string();
    assert_eq!(home.run(&["approvals", "deny", &id]).0, 0);
    assert_eq!(decision_of(child).0, "deny");
}
