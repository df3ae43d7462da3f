//! The watchdog supervising small real services (shell, python's http.server) under a real
//! `paios daemon`: restarts, backoff, crash-loop breaker, hang detection, adoption, config edits,
//! the `service`/`incidents`/`runbook` commands.

use paios_testkit as support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::daemon::TestHome;
use support::env::free_port;
use support::services::{ExternalHttpServer, QUIET_HEAD, python_http_service};

fn service_status(home: &TestHome, name: &str) -> Value {
    let (code, out, err) = home.run(&["status", "--json"]);
    assert_eq!(code, 0, "paios status failed: {err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no service {name} in {status}"))
}

fn wait_for_state(home: &TestHome, name: &str, state: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let s = service_status(home, name);
        if s["state"] == state {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not reach {state} within {timeout:?}; last status {s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn events_for(home: &TestHome, kind: &str, subject: &str) -> Vec<Value> {
    home.events(kind)
        .into_iter()
        .filter(|e| e["subject"] == subject)
        .collect()
}

fn ts_ms(ev: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(ev["ts"].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

fn alive(pid: u64) -> bool {
    // A zombie is not alive for our purposes.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z"))
        .unwrap_or(false)
}

fn home_with(services: &str) -> TestHome {
    let mut home = TestHome::new();
    home.write_config(&format!("{QUIET_HEAD}{services}"));
    home.start_daemon();
    home
}

#[test]
fn a_service_that_exits_at_once_fails_after_max_exits_with_growing_backoff() {
    let home = home_with(
        r#"
[[service]]
name = "flaky"
command = ["sh", "-c", "echo 'boom: cannot open widget' >&2; exit 3"]
[service.restart]
initial_backoff_ms = 100
crash_loop = { max_exits = 4, window_s = 60 }
"#,
    );
    let failed = wait_for_state(&home, "flaky", "failed", Duration::from_secs(20));
    assert_eq!(failed["last_exit"]["code"], 3);
    let started = events_for(&home, "service.started", "flaky");
    let exited = events_for(&home, "service.exited", "flaky");
    assert_eq!(started.len(), 4, "{started:?}");
    assert_eq!(exited.len(), 4);
    assert!(exited.iter().all(|e| e["data"]["code"] == 3));
    assert!(
        exited[0]["data"]["stderr_tail"]
            .as_str()
            .unwrap()
            .contains("boom: cannot open widget")
    );
    // Backoff visible in the timestamps: ~100, ~200, ~400 ms between exit and next start.
    let gaps: Vec<i64> = (0..3)
        .map(|i| ts_ms(&started[i + 1]) - ts_ms(&exited[i]))
        .collect();
    assert!(
        gaps[0] >= 75 && gaps[1] >= 155 && gaps[2] >= 315,
        "gaps {gaps:?}"
    );
    assert!(gaps[2] > gaps[0], "backoff did not grow: {gaps:?}");
    assert_eq!(events_for(&home, "service.crash_loop", "flaky").len(), 1);
    // No restart after failing.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(events_for(&home, "service.started", "flaky").len(), 4);
    // One incident: the first exit raised it, later exits were folded in, the crash loop
    // escalated it.
    let alerts = events_for(&home, "alert.raised", "flaky");
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["data"]["severity"], "warning");
    assert_eq!(alerts[0]["data"]["incident"], alerts[1]["data"]["incident"]);
    let last = alerts.last().unwrap();
    assert_eq!(last["data"]["severity"], "critical");
    assert_eq!(last["data"]["runbook"], "services");
    assert!(
        last["data"]["message"]
            .as_str()
            .unwrap()
            .contains("boom: cannot open widget")
    );
}

#[test]
fn a_do_not_restart_exit_code_fails_at_once_quoting_the_error() {
    let home = home_with(
        r#"
[[service]]
name = "badconf"
command = ["sh", "-c", "echo 'Invalid config: unrecognized key \"bogus\"' >&2; exit 78"]
"#,
    );
    let s = wait_for_state(&home, "badconf", "failed", Duration::from_secs(10));
    assert_eq!(s["last_exit"]["code"], 78);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(events_for(&home, "service.started", "badconf").len(), 1);
    let alert = home.wait_for_event("alert.raised", Duration::from_secs(5), |e| {
        e["subject"] == "badconf"
    });
    // The control API the panel uses answers the same.
    let mut client =
        paios_core::client::Client::connect(&paios_core::paths::Paths::at(home.path())).unwrap();
    let incidents = client
        .call("watchdog.incidents", serde_json::json!({"limit": 5}))
        .unwrap();
    assert_eq!(incidents[0]["service"], "badconf");
    assert_eq!(incidents[0]["message"], alert["data"]["message"]);
    let services = client.call("watchdog.status", Value::Null).unwrap();
    assert_eq!(services[0]["state"], "failed");
    assert!(
        alert["data"]["message"]
            .as_str()
            .unwrap()
            .contains("unrecognized key \"bogus\""),
        "{alert}"
    );
    assert_eq!(alert["data"]["severity"], "critical");
    // `paios incidents --json` lists it as open, with its runbook.
    let (code, out, _) = home.run(&["incidents", "--json"]);
    assert_eq!(code, 0);
    let incidents: Value = serde_json::from_str(&out).unwrap();
    let inc = &incidents[0];
    assert_eq!(inc["service"], "badconf");
    assert!(inc["resolved_at"].is_null());
    let (code, text, _) = home.run(&["runbook", inc["runbook"].as_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(text.contains("## Recover"));
}

#[test]
fn kill_9_is_noticed_restarted_and_recovered() {
    let home = home_with(
        r#"
[[service]]
name = "sleeper"
command = ["sh", "-c", "echo hello from sleeper; exec sleep 1000"]
[service.probe]
interval_ms = 200
"#,
    );
    let s = wait_for_state(&home, "sleeper", "running", Duration::from_secs(10));
    let pid = s["pid"].as_u64().unwrap();
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let exited = home.wait_for_event("service.exited", Duration::from_secs(10), |e| {
        e["subject"] == "sleeper"
    });
    assert_eq!(exited["data"]["signal"], 9);
    assert!(exited["data"]["code"].is_null());
    home.wait_for_event("service.recovered", Duration::from_secs(10), |e| {
        e["subject"] == "sleeper"
    });
    let s = wait_for_state(&home, "sleeper", "running", Duration::from_secs(10));
    assert_ne!(s["pid"].as_u64().unwrap(), pid);
    assert_eq!(s["restarts"], 1);
    assert_eq!(s["last_exit"]["signal"], 9);
    // The incident opened by the crash is resolved by the recovery.
    home.wait_for_event("alert.resolved", Duration::from_secs(5), |e| {
        e["subject"] == "sleeper"
    });
    let (_, logs, _) = home.run(&["service", "logs", "sleeper"]);
    assert!(logs.contains("hello from sleeper"), "{logs}");
}

#[test]
fn a_stopped_http_server_is_detected_as_hung_killed_and_restarted() {
    let port = free_port();
    let home = home_with(&python_http_service(
        "web",
        port,
        "interval_ms = 300\ntimeout_ms = 250\nfailures = 3\nstartup_grace_ms = 10000",
    ));
    let s = wait_for_state(&home, "web", "running", Duration::from_secs(20));
    assert_eq!(s["probe"]["ok"], true);
    let pid = s["pid"].as_u64().unwrap();
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    let hung = home.wait_for_event("service.hung", Duration::from_secs(10), |e| {
        e["subject"] == "web"
    });
    // Declared hung after exactly the configured 3 failed probes (how fast that is, is
    // `paios bench watchdog`'s to measure, not a test's).
    assert_eq!(hung["data"]["failures"], 3, "{hung}");
    assert!(
        hung["data"]["error"].as_str().unwrap().contains("250 ms"),
        "{hung}"
    );
    home.wait_for_event("service.recovered", Duration::from_secs(20), |e| {
        e["subject"] == "web"
    });
    assert!(!alive(pid), "the hung process {pid} is still there");
    let s = wait_for_state(&home, "web", "running", Duration::from_secs(5));
    assert_ne!(s["pid"].as_u64().unwrap(), pid);
}

#[test]
fn a_service_already_listening_is_adopted_not_started_twice_then_taken_over() {
    let port = free_port();
    let mut external = ExternalHttpServer::start(port);
    let home = home_with(&python_http_service(
        "web",
        port,
        "interval_ms = 200\ntimeout_ms = 500\nfailures = 2",
    ));
    let s = wait_for_state(&home, "web", "adopted", Duration::from_secs(10));
    assert!(s["pid"].is_null());
    assert_eq!(s["managed_by"], "external");
    std::thread::sleep(Duration::from_millis(600));
    assert!(events_for(&home, "service.started", "web").is_empty());
    assert_eq!(events_for(&home, "service.adopted", "web").len(), 1);
    // The external copy dies: PAIOS takes over with its own.
    external.kill();
    home.wait_for_event("service.recovered", Duration::from_secs(20), |e| {
        e["subject"] == "web"
    });
    let s = wait_for_state(&home, "web", "running", Duration::from_secs(10));
    assert!(s["pid"].as_u64().is_some());
}

#[test]
fn config_edits_restart_only_the_changed_service() {
    let two = |greeting: &str| {
        format!(
            r#"{QUIET_HEAD}[[service]]
name = "a"
command = ["sleep", "1000"]
[[service]]
name = "b"
command = ["sleep", "1000"]
env = {{ GREETING = "{greeting}" }}
"#
        )
    };
    let mut home = TestHome::new();
    home.write_config(&two("hi"));
    home.start_daemon();
    let a = wait_for_state(&home, "a", "running", Duration::from_secs(10))["pid"].clone();
    let b = wait_for_state(&home, "b", "running", Duration::from_secs(10))["pid"].clone();
    home.write_config(&two("hello"));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let nb = service_status(&home, "b");
        if nb["state"] == "running" && nb["pid"] != b {
            break;
        }
        assert!(Instant::now() < deadline, "b was not restarted: {nb}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(service_status(&home, "a")["pid"], a, "a was restarted");
    assert!(!alive(b.as_u64().unwrap()), "old b still runs");
}

#[test]
fn service_stop_and_start_commands_and_graceful_daemon_stop() {
    let mut home = home_with(
        r#"
[[service]]
name = "s"
command = ["sh", "-c", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done"]
"#,
    );
    let pid = wait_for_state(&home, "s", "running", Duration::from_secs(10))["pid"]
        .as_u64()
        .unwrap();
    let (code, _, err) = home.run(&["service", "stop", "s"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(service_status(&home, "s")["state"], "stopped");
    assert!(!alive(pid));
    let (_, logs, _) = home.run(&["service", "logs", "s"]);
    assert!(logs.contains("got TERM"), "{logs}");
    let (code, _, _) = home.run(&["service", "start", "s"]);
    assert_eq!(code, 0);
    let pid = wait_for_state(&home, "s", "running", Duration::from_secs(10))["pid"]
        .as_u64()
        .unwrap();
    let (code, _, err) = home.run(&["service", "restart", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no service named \"nope\""), "{err}");
    assert_eq!(home.stop_daemon(), Some(0));
    assert!(!alive(pid), "the daemon left its child {pid} running");
}

#[test]
fn runbooks_and_daemon_install_print() {
    let home = TestHome::new();
    let (code, list, _) = home.run(&["runbook"]);
    assert_eq!(code, 0);
    for id in [
        "openclaw-gateway",
        "mcp-servers",
        "claude",
        "codex",
        "paios-daemon",
        "sqlite-store",
        "configs",
        "credentials",
    ] {
        assert!(list.lines().any(|l| l == id), "{id} missing from {list}");
    }
    let (code, _, err) = home.run(&["runbook", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("openclaw-gateway"));
    let (code, unit, _) = home.run(&["daemon", "install", "--print"]);
    assert_eq!(code, 0);
    assert!(unit.contains("Restart=always"));
    assert!(unit.contains(&home.path().display().to_string()));
    // Without --print it writes the user unit under $XDG_CONFIG_HOME (or ~/.config).
    let user = tempfile::tempdir().unwrap();
    let out = home
        .paios()
        .args(["daemon", "install"])
        .env("HOME", user.path())
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert!(out.status.success());
    let written =
        std::fs::read_to_string(user.path().join(".config/systemd/user/paios.service")).unwrap();
    assert_eq!(written, unit);
}

#[test]
fn service_logs_follow_prints_new_lines() {
    let home = home_with(
        r#"
[[service]]
name = "ticker"
command = ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
"#,
    );
    wait_for_state(&home, "ticker", "running", Duration::from_secs(10));
    let mut follow = home
        .paios()
        .args(["service", "logs", "ticker", "-f", "-n", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut seen = Vec::new();
    for _ in 0..6 {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        seen.push(line);
    }
    follow.kill().unwrap();
    follow.wait().unwrap();
    let ticks: Vec<u32> = seen
        .iter()
        .filter_map(|l| l.split("tick ").nth(1)?.trim().parse().ok())
        .collect();
    assert!(ticks.len() >= 5, "{seen:?}");
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{ticks:?}");
}

#[test]
fn a_child_left_by_a_killed_daemon_is_stopped_not_duplicated() {
    let mut home = home_with(
        r#"
[[service]]
name = "lone"
command = ["sleep", "1000"]
"#,
    );
    let old = wait_for_state(&home, "lone", "running", Duration::from_secs(10))["pid"]
        .as_u64()
        .unwrap();
    home.kill_daemon();
    assert!(
        alive(old),
        "the child died with the daemon; nothing to test"
    );
    home.start_daemon();
    let new = wait_for_state(&home, "lone", "running", Duration::from_secs(10))["pid"]
        .as_u64()
        .unwrap();
    assert_ne!(new, old);
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(old) {
        assert!(Instant::now() < deadline, "the orphan {old} still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
    home.wait_for_event("service.stopped", Duration::from_secs(5), |e| {
        e["subject"] == "lone" && e["data"]["by"] == "orphan"
    });
}

#[test]
fn an_incident_left_open_closes_when_the_fixed_service_runs_after_a_daemon_restart() {
    let mut home = home_with(
        r#"
[[service]]
name = "svc"
command = ["sh", "-c", "echo 'bad setting' >&2; exit 78"]
"#,
    );
    wait_for_state(&home, "svc", "failed", Duration::from_secs(10));
    home.wait_for_event("alert.raised", Duration::from_secs(5), |e| {
        e["subject"] == "svc"
    });
    assert_eq!(home.stop_daemon(), Some(0));
    home.write_config(
        "[api]\nport = 0\n[alerts]\ndesktop = false\n[[service]]\nname = \"svc\"\ncommand = [\"sleep\", \"1000\"]\n",
    );
    home.start_daemon();
    home.wait_for_event("alert.resolved", Duration::from_secs(10), |e| {
        e["subject"] == "svc"
    });
    let (_, out, _) = home.run(&["incidents", "--json"]);
    let incidents: Value = serde_json::from_str(&out).unwrap();
    assert!(incidents[0]["resolved_at"].is_string(), "{incidents}");
}
