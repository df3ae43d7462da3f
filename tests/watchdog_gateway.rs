//! The watchdog supervising the real OpenClaw gateway (managed install from `paios brains`) in
//! a hermetic temp state dir, under a real `paios daemon`.
//!
//! The gateway needs ~1 GB of memory and 6–20 s to become ready, so these cases run one at a
//! time (a file lock shared by every test process) and each uses a fresh state dir (the gateway
//! keeps its own crash counter).

use paios_testkit as support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::daemon::TestHome;
use support::env::{BrainEnv, GATEWAY_TOKEN, free_port};
use support::services::QUIET_HEAD;

/// One gateway at a time across all test processes.
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

/// A `[[service]]` table for the gateway on `port`, with `env`'s hermetic environment.
fn gateway_service(env: &BrainEnv, port: u16, interval_ms: u64, timeout_ms: u64) -> String {
    // The environment the brains harness gives the gateway (temp HOME, state dir, config path,
    // offline switches, the PATH with the right Node), written into the service's env table.
    let cmd = env.gateway(port);
    let table = support::services::env_table(&cmd);
    format!(
        r#"{QUIET_HEAD}
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
interval_ms = {interval_ms}
timeout_ms = {timeout_ms}
failures = 3
startup_grace_ms = 120000
[service.restart]
initial_backoff_ms = 100
stop_grace_ms = 5000
"#
    )
}

fn gateway_status(home: &TestHome) -> Value {
    let (code, out, err) = home.run(&["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["services"][0].clone()
}

fn wait_for(
    home: &TestHome,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let s = gateway_status(home);
        if pred(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "gateway not {what} within {timeout:?}: {s}\nlog:\n{}",
            service_log(home)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn service_log(home: &TestHome) -> String {
    home.run(&["service", "logs", "openclaw-gateway", "-n", "40"])
        .1
}

fn gateway_events(home: &TestHome, kind: &str) -> Vec<Value> {
    home.events(kind)
        .into_iter()
        .filter(|e| e["subject"] == "openclaw-gateway")
        .collect()
}

fn running_with_passing_probe(s: &Value) -> bool {
    s["state"] == "running" && s["probe"]["ok"] == true
}

fn start(env: &BrainEnv, interval_ms: u64, timeout_ms: u64) -> (TestHome, u16) {
    let port = free_port();
    let mut home = TestHome::new();
    home.write_config(&gateway_service(env, port, interval_ms, timeout_ms));
    home.start_daemon();
    (home, port)
}

/// A gateway started by hand (not by PAIOS) on `port`, once it answers `/readyz`.
fn outside_gateway(env: &BrainEnv, port: u16) -> std::process::Child {
    let mut outside = env.spawn(env.gateway(port).stdout(std::process::Stdio::null()));
    let deadline = Instant::now() + READY;
    while support::env::http_get(port, "/readyz", Duration::from_secs(2)).map(|r| r.0) != Some(200)
    {
        if let Ok(Some(status)) = outside.try_wait() {
            panic!("the gateway exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "the outside gateway did not become ready"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    outside
}

const READY: Duration = Duration::from_secs(120);

#[test]
fn gateway_runs_and_recovers_from_kill_9() {
    let _lock = gateway_lock();
    let env = BrainEnv::new();
    let (home, _port) = start(&env, 1000, 3000);
    let s = wait_for(&home, "running", READY, running_with_passing_probe);
    assert!(s["probe"]["error"].is_null());
    let pid = s["pid"].as_u64().unwrap();

    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let exited = home.wait_for_event("service.exited", Duration::from_secs(15), |e| {
        e["subject"] == "openclaw-gateway"
    });
    assert_eq!(exited["data"]["signal"], 9);
    let recovered = home.wait_for_event("service.recovered", READY, |e| {
        e["subject"] == "openclaw-gateway"
    });
    assert_eq!(recovered["data"]["probe"]["ok"], true);
    let s = wait_for(
        &home,
        "running again",
        Duration::from_secs(10),
        running_with_passing_probe,
    );
    assert_ne!(s["pid"].as_u64().unwrap(), pid);
    assert_eq!(s["restarts"], 1);
    // The restart came before readiness: recovered only once /readyz passed.
    let restarted = gateway_events(&home, "service.restarted");
    assert_eq!(restarted.len(), 1);
    assert!(restarted[0]["id"].as_i64() < recovered["id"].as_i64());
}

#[test]
fn a_stopped_gateway_is_hung_killed_restarted_and_recovered() {
    let _lock = gateway_lock();
    let env = BrainEnv::new();
    let (interval_ms, timeout_ms) = (1000, 1000);
    let (home, _port) = start(&env, interval_ms, timeout_ms);
    let s = wait_for(&home, "running", READY, running_with_passing_probe);
    let pid = s["pid"].as_u64().unwrap();

    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    let hung = home.wait_for_event("service.hung", Duration::from_secs(30), |e| {
        e["subject"] == "openclaw-gateway"
    });
    // Declared hung after exactly the configured failed probes, i.e. within that many probe
    // periods (the time it takes is `paios bench watchdog`'s to measure).
    assert_eq!(hung["data"]["failures"], 3, "{hung}");
    assert_eq!(hung["data"]["pid"], pid);
    home.wait_for_event("service.recovered", READY, |e| {
        e["subject"] == "openclaw-gateway"
    });
    let s = wait_for(
        &home,
        "running again",
        Duration::from_secs(10),
        running_with_passing_probe,
    );
    assert_ne!(s["pid"].as_u64().unwrap(), pid);
    assert!(
        std::fs::metadata(format!("/proc/{pid}")).is_err()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z"),
        "the hung gateway {pid} was not killed"
    );
}

#[test]
fn an_unknown_config_key_fails_the_gateway_once_with_its_own_error() {
    let _lock = gateway_lock();
    let env = BrainEnv::new();
    let mut config = support::env::minimal_openclaw_config();
    config["bogusWatchdogKey"] = Value::from(1);
    env.write_openclaw_config(&config);
    let (home, _port) = start(&env, 1000, 3000);
    let s = wait_for(&home, "failed", READY, |s| s["state"] == "failed");
    assert_eq!(s["last_exit"]["code"], 78);
    let exited = gateway_events(&home, "service.exited");
    assert_eq!(exited.len(), 1);
    let tail = exited[0]["data"]["stderr_tail"].as_str().unwrap();
    assert!(tail.contains("bogusWatchdogKey"), "{tail}");
    let alert = home.wait_for_event("alert.raised", Duration::from_secs(5), |e| {
        e["subject"] == "openclaw-gateway"
    });
    let message = alert["data"]["message"].as_str().unwrap();
    assert!(
        message.contains("Unrecognized key") && message.contains("bogusWatchdogKey"),
        "{message}"
    );
    assert_eq!(alert["data"]["runbook"], "openclaw-gateway");
    // No restart loop.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(gateway_events(&home, "service.started").len(), 1);
    assert_eq!(gateway_status(&home)["state"], "failed");
}

#[test]
fn a_gateway_already_running_is_adopted_not_started_twice() {
    let _lock = gateway_lock();
    let env = BrainEnv::new();
    let port = free_port();
    let mut outside = outside_gateway(&env, port);
    let mut home = TestHome::new();
    home.write_config(&gateway_service(&env, port, 1000, 3000));
    home.start_daemon();
    let s = wait_for(&home, "adopted", Duration::from_secs(30), |s| {
        s["state"] == "adopted"
    });
    assert!(s["pid"].is_null());
    std::thread::sleep(Duration::from_secs(3));
    let s = gateway_status(&home);
    assert_eq!(s["state"], "adopted");
    assert_eq!(s["probe"]["ok"], true, "{s}");
    assert!(gateway_events(&home, "service.started").is_empty());
    home.stop_daemon();
    // PAIOS leaves a copy it did not start running.
    assert!(outside.try_wait().unwrap().is_none());
}

/// A new user's `paios.toml` supervises nothing, yet the gateway runs: the watchdog finds it on
/// its port, adopts it (says so in `paios status`), and when that copy dies takes it over.
#[test]
fn a_gateway_running_with_no_service_table_is_found_adopted_and_taken_over() {
    let _lock = gateway_lock();
    let env = BrainEnv::new();
    let port = free_port();
    let mut outside = outside_gateway(&env, port);
    let mut home = TestHome::new();
    home.write_config(&format!(
        "{QUIET_HEAD}\n[watchdog]\ndiscover_interval_s = 1\n"
    ));
    // The daemon sees the gateway's hermetic state, config and port, as the user's would.
    let gateway_cmd = env.gateway(port);
    let gateway_env: Vec<(std::ffi::OsString, std::ffi::OsString)> = gateway_cmd
        .get_envs()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            k.starts_with("OPENCLAW_") || k == "PATH" || k == "NO_PROXY" || k == "no_proxy"
        })
        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
        .collect();
    home.start_daemon_with(|cmd| {
        cmd.envs(gateway_env.iter().map(|(k, v)| (k, v)))
            .env("OPENCLAW_GATEWAY_PORT", port.to_string());
    });

    let s = wait_for(&home, "adopted", Duration::from_secs(30), |s| {
        s["state"] == "adopted"
    });
    assert_eq!(s["name"], "openclaw-gateway");
    assert_eq!(s["managed_by"], "external");
    let how = s["discovered"].as_str().unwrap_or_default();
    assert!(
        how.contains(&format!("answering on 127.0.0.1:{port}")) && how.contains("no [[service]]"),
        "{s}"
    );
    let (code, text, _) = home.run(&["status"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("openclaw-gateway") && text.contains("no [[service]] table"),
        "{text}"
    );
    assert!(
        gateway_events(&home, "service.started").is_empty(),
        "not started twice"
    );

    // The copy PAIOS found dies: that is an alert, and PAIOS runs the gateway itself.
    unsafe { libc::kill(outside.id() as i32, libc::SIGKILL) };
    let _ = outside.wait();
    let alert = home.wait_for_event("alert.raised", Duration::from_secs(60), |e| {
        e["subject"] == "openclaw-gateway"
    });
    assert_eq!(alert["data"]["alert"], "service_unreachable", "{alert}");
    let s = wait_for(&home, "taken over", READY, running_with_passing_probe);
    assert!(s["pid"].as_u64().is_some(), "{s}");
    home.stop_daemon();
}

/// With no table and no gateway running, nothing is invented: status says nothing is watched.
#[test]
fn with_no_service_table_and_no_gateway_nothing_is_watched() {
    let mut home = TestHome::new();
    home.write_config(QUIET_HEAD);
    let port = free_port();
    home.start_daemon_with(|cmd| {
        cmd.env("OPENCLAW_GATEWAY_PORT", port.to_string());
    });
    let (code, out, err) = home.run(&["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["services"], serde_json::json!([]), "{v}");
    assert_eq!(v["health"]["label"], "Nothing watched", "{v}");
    let (_, text, _) = home.run(&["status"]);
    assert!(text.contains("no OpenClaw gateway found running"), "{text}");
}
