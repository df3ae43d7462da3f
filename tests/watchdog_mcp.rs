//! The `mcp` probe against a real stdio MCP server (`claude mcp serve`, run hermetically):
//! the watchdog spawns it, talks JSON-RPC over its pipes (`initialize`, then `ping`), and treats
//! a server that stops answering as hung.

use paios_testkit as support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::daemon::TestHome;
use support::env::BrainEnv;

fn status(home: &TestHome) -> Value {
    let (code, out, err) = home.run(&["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<Value>(&out).unwrap()["services"][0].clone()
}

#[test]
fn a_stdio_mcp_server_is_pinged_and_a_stopped_one_is_restarted() {
    let env = BrainEnv::new();
    let cmd = env.claude();
    let table = support::services::env_table(&cmd);
    let mut home = TestHome::new();
    home.write_config(&format!(
        r#"[api]
port = 0
[alerts]
desktop = false
[[service]]
name = "claude-mcp"
command = ["claude", "mcp", "serve"]
cwd = {}
[service.env]
{table}
[service.probe]
kind = "mcp"
interval_ms = 500
timeout_ms = 3000
failures = 3
startup_grace_ms = 60000
"#,
        toml::Value::String(env.project_dir().display().to_string())
    ));
    home.start_daemon();
    let deadline = Instant::now() + Duration::from_secs(90);
    let s = loop {
        let s = status(&home);
        if s["state"] == "running" && s["probe"]["ok"] == true {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "claude mcp serve never answered ping: {s}\n{}",
            home.run(&["service", "logs", "claude-mcp"]).1
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let pid = s["pid"].as_u64().unwrap();
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    let hung = home.wait_for_event("service.hung", Duration::from_secs(30), |e| {
        e["subject"] == "claude-mcp"
    });
    assert!(
        hung["data"]["error"].as_str().unwrap().contains("ping"),
        "{hung}"
    );
    home.wait_for_event("service.recovered", Duration::from_secs(90), |e| {
        e["subject"] == "claude-mcp"
    });
    let alert = home.wait_for_event("alert.raised", Duration::from_secs(5), |e| {
        e["subject"] == "claude-mcp"
    });
    assert_eq!(alert["data"]["runbook"], "mcp-servers");
}
