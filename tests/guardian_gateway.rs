//! The guardian with the real OpenClaw gateway supervised by a real `paios daemon`: an unknown
//! key written into the gateway's config is caught by OpenClaw's own validator, the file is
//! restored to its last good version, and the gateway restarted and healthy again.

use paios_testkit as support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::daemon::TestHome;
use support::env::{BrainEnv, GATEWAY_TOKEN, free_port};
use support::services::QUIET_HEAD;

/// One gateway at a time across all test processes (the lock the watchdog's tests use).
struct GatewayLock(std::fs::File);

fn gateway_lock() -> GatewayLock {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("paios-test-openclaw-gateway.lock"))
        .unwrap();
    file.lock().unwrap();
    GatewayLock(file)
}

impl Drop for GatewayLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

const READY: Duration = Duration::from_secs(120);

fn config(env: &BrainEnv, port: u16) -> String {
    let table = support::services::env_table(&env.gateway(port));
    format!(
        r#"{QUIET_HEAD}
[guardian]
healthy_s = 1

[[watch]]
name = "openclaw"
path = "{path}"
format = "json5"
validate = ["openclaw", "config", "validate", "--json"]
service = "openclaw-gateway"
rollback = "auto"

[[service]]
name = "openclaw-gateway"
command = ["openclaw", "gateway", "run", "--bind", "loopback", "--port", "{port}"]
no_restart_exit_codes = [78]
[service.env]
{table}
[service.probe]
kind = "openclaw"
url = "http://127.0.0.1:{port}/readyz"
token = "{GATEWAY_TOKEN}"
interval_ms = 1000
timeout_ms = 3000
failures = 3
startup_grace_ms = 120000
[service.restart]
initial_backoff_ms = 100
stop_grace_ms = 5000
"#,
        path = env.openclaw_config_path().display()
    )
}

fn status(home: &TestHome) -> Value {
    let (_, out, _) = home.run(&["status", "--json"]);
    serde_json::from_str::<Value>(&out).unwrap()["services"][0].clone()
}

fn wait(what: &str, timeout: Duration, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !pred() {
        assert!(Instant::now() < deadline, "not {what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_unknown_key_in_the_gateway_config_is_rolled_back_and_the_gateway_recovers() {
    let _lock = gateway_lock();
    let env = BrainEnv::new();
    env.write_openclaw_config(&support::env::minimal_openclaw_config());
    let good = std::fs::read_to_string(env.openclaw_config_path()).unwrap();
    let port = free_port();
    let mut home = TestHome::new();
    home.write_config(&config(&env, port));
    home.start_daemon();
    wait("running", READY, || {
        let s = status(&home);
        s["state"] == "running" && s["probe"]["ok"] == true
    });
    // The file becomes good once the gateway ran healthy with it.
    wait("a good snapshot", Duration::from_secs(60), || {
        let (_, out, _) = home.run(&["guard", "history", "openclaw", "--json"]);
        serde_json::from_str::<Value>(&out).is_ok_and(|h| {
            h["snapshots"]
                .as_array()
                .is_some_and(|s| s.iter().any(|e| e["good"] == true))
        })
    });
    let before = home.events("").last().unwrap()["id"].as_i64().unwrap();

    let mut bad = support::env::minimal_openclaw_config();
    bad["bogusGuardianKey"] = Value::from(1);
    std::fs::write(
        env.openclaw_config_path(),
        serde_json::to_string_pretty(&bad).unwrap(),
    )
    .unwrap();

    let recovered = home.wait_for_event("service.recovered", READY, |e| {
        e["subject"] == "openclaw-gateway" && e["id"].as_i64().unwrap() > before
    });
    assert_eq!(
        std::fs::read_to_string(env.openclaw_config_path()).unwrap(),
        good
    );
    let s = status(&home);
    assert_eq!(s["state"], "running", "{s}");

    // The story, in order.
    let after: Vec<Value> = home
        .events("")
        .into_iter()
        .filter(|e| e["id"].as_i64().unwrap() > before)
        .collect();
    let pos = |kind: &str| {
        after
            .iter()
            .position(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {after:?}"))
    };
    let invalid = &after[pos("config.invalid")];
    assert!(
        invalid["data"]["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i.as_str().unwrap().contains("bogusGuardianKey")),
        "{invalid}"
    );
    assert!(pos("config.invalid") < pos("config.rolled_back"));
    assert!(pos("config.rolled_back") < pos("service.restarted"));
    assert!(
        pos("service.restarted")
            < after
                .iter()
                .position(|e| e["id"] == recovered["id"])
                .unwrap()
    );
    // The bad version is kept as a snapshot, and `guard undo` would bring it back.
    let (_, out, _) = home.run(&["guard", "history", "openclaw", "--json"]);
    let h: Value = serde_json::from_str(&out).unwrap();
    assert!(
        h["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["valid"] == false),
        "{h}"
    );
}
