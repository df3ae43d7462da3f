//! Browser tests of the panel the daemon serves: a real `paios daemon`, the real Chromium driven by
//! Playwright (`tests/ui/panel.spec.mjs`), the real hook and the real usage ledger.
//!
//! Needs Node, Chromium (`CHROMIUM`, default `/usr/bin/chromium`) and `playwright-core`
//! (`npm install --prefix tests/ui`); a missing piece fails the test with the command to fix it.
use paios_testkit as support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::daemon::{TestHome, paios_bin};

fn ui_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fail clearly when the browser tooling is missing (CI installs it; see the README).
fn require_browser_tooling() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "the panel tests need Node.js on PATH (Debian: `apt-get install nodejs`)"
    );
    assert!(
        chromium().exists(),
        "the panel tests need Chromium at {} (Debian: `apt-get install chromium`, or set CHROMIUM)",
        chromium().display()
    );
    assert!(
        ui_tests_dir()
            .join("node_modules/playwright-core/package.json")
            .exists(),
        "the panel tests need playwright-core: run `npm install --prefix tests/ui`"
    );
}

fn run_scenario_with(home: &TestHome, scenario: &str, vars: &[(&str, &str)]) {
    let vars: Vec<(&str, &Path)> = vars.iter().map(|(k, v)| (*k, Path::new(*v))).collect();
    run_scenario(home, scenario, &vars, "");
}

/// Run one scenario of panel.spec.mjs against `home`'s daemon; panic with its output on failure.
fn run_scenario(home: &TestHome, scenario: &str, extra_env: &[(&str, &Path)], service: &str) {
    let url = format!(
        "http://127.0.0.1:{}/#token={}",
        home.api_port(),
        home.token()
    );
    let mut cmd = Command::new("node");
    cmd.arg(ui_tests_dir().join("panel.spec.mjs"))
        .arg(scenario)
        .current_dir(home.path())
        .env("PAIOS_PANEL_URL", url)
        .env("PAIOS_HOME", home.path())
        .env("PAIOS_BIN", paios_bin())
        .env("PAIOS_SERVICE", service)
        .env("CHROMIUM", chromium());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("cannot run node");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "panel scenario {scenario} failed:\n{stderr}\n{}\ndaemon log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        home.daemon_stderr()
    );
}

#[test]
fn panel_loads_live_and_explains_a_wrong_token() {
    require_browser_tooling();
    let mut home = TestHome::new();
    home.start_daemon();
    run_scenario(&home, "smoke", &[], "");
}

#[test]
fn killed_service_turns_red_then_green_without_reload() {
    require_browser_tooling();
    let mut home = TestHome::new();
    // A long first backoff keeps the service visibly down for a moment after the kill.
    home.write_config(
        r#"
[api]
port = 0

[[service]]
name = "sleeper"
command = ["sleep", "3600"]
[service.probe]
kind = "process"
interval_ms = 200
[service.restart]
initial_backoff_ms = 2500
max_backoff_ms = 2500
"#,
    );
    home.start_daemon();
    run_scenario(&home, "services", &[], "sleeper");
}

#[test]
fn approving_in_the_panel_answers_the_waiting_hook() {
    require_browser_tooling();
    let mut home = TestHome::new();
    home.start_daemon();
    run_scenario(&home, "approvals", &[], "");
}

#[test]
fn settings_validate_save_and_keep_secrets_out_of_the_page() {
    require_browser_tooling();
    let mut home = TestHome::new();
    let secret = "s3cret-value-never-in-the-ui";
    home.write_config(&format!(
        "[api]\nport = 0\n\n[[service]]\nname = \"quiet\"\ncommand = [\"sleep\", \"3600\"]\nautostart = false\nenv = {{ QUIET_API_TOKEN = \"{secret}\" }}\n"
    ));
    home.start_daemon();
    run_scenario_with(&home, "settings", &[("PAIOS_TEST_SECRET", secret)]);
}

/// A gateway-shaped listener (200 to every request, as `/readyz` answers) on the gateway's port,
/// and no `[[service]]` table: the panel shows the row the watchdog found, marked so.
#[test]
fn a_gateway_found_running_is_marked_so_in_the_panel() {
    require_browser_tooling();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
            );
        }
    });
    let mut home = TestHome::new();
    home.write_config("[api]\nport = 0\n\n[watchdog]\ndiscover_interval_s = 1\n");
    home.start_daemon_with(|cmd| {
        cmd.env("OPENCLAW_GATEWAY_PORT", port.to_string());
    });
    let shot = std::env::var_os("PAIOS_SCREENSHOT_DIR")
        .map(|d| PathBuf::from(d).join("panel-discovered.png"))
        .unwrap_or_else(|| home.path().join("panel-discovered.png"));
    run_scenario(
        &home,
        "discovered",
        &[("PAIOS_SCREENSHOT", shot.as_path())],
        "",
    );
    assert!(shot.exists(), "no screenshot at {}", shot.display());
}

/// The MCP servers the user registered in a brain are shown in the panel's mesh card, each
/// green or red with its reason, and a failing one makes the overall health amber.
#[test]
fn the_mesh_card_shows_each_registered_server_green_or_red_with_its_reason() {
    require_browser_tooling();
    let mut home = TestHome::new();
    home.write_config("[api]\nport = 0\n\n[mcp]\nprobe_interval_s = 1\n");
    let claude = home.path().join("brains/claude");
    std::fs::create_dir_all(&claude).unwrap();
    let registrations = serde_json::json!({"mcpServers": {
        "selfcheck": {"type": "stdio", "command": paios_bin(), "args": ["mcp"]},
        "broken": {"type": "stdio", "command": "no-such-mcp-server", "args": []}
    }});
    std::fs::write(claude.join(".claude.json"), registrations.to_string()).unwrap();
    home.start_daemon();
    let shot = std::env::var_os("PAIOS_SCREENSHOT_DIR")
        .map(|d| PathBuf::from(d).join("panel-mesh.png"))
        .unwrap_or_else(|| home.path().join("panel-mesh.png"));
    run_scenario(&home, "mesh", &[("PAIOS_SCREENSHOT", shot.as_path())], "");
    assert!(shot.exists(), "no screenshot at {}", shot.display());
}

/// One Claude Code assistant message, logged the way Claude Code logs it (compact JSON).
fn claude_log_line(id: &str, at: &str, input: u64, output: u64) -> String {
    serde_json::json!({
        "type": "assistant",
        "timestamp": at,
        "sessionId": "ui-costs",
        "requestId": format!("req_{id}"),
        "cwd": "/project",
        "message": {
            "id": format!("msg_{id}"),
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "ok"}],
            "usage": {
                "input_tokens": input,
                "output_tokens": output,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0
            }
        }
    })
    .to_string()
}

#[test]
fn cost_card_shows_the_ledger_totals() {
    require_browser_tooling();
    let logs = tempfile::tempdir().unwrap();
    let claude = logs.path().join("claude");
    let codex = logs.path().join("codex");
    let project = claude.join("projects/-project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(codex.join("sessions")).unwrap();
    let now = chrono::Utc::now();
    let lines = [
        claude_log_line("a", &now.to_rfc3339(), 120_000, 40_000),
        claude_log_line(
            "b",
            &(now - chrono::Duration::minutes(5)).to_rfc3339(),
            300_000,
            90_000,
        ),
    ];
    std::fs::write(project.join("ui-costs.jsonl"), lines.join("\n") + "\n").unwrap();

    let mut home = TestHome::new();
    let (claude_dir, codex_dir) = (claude.clone(), codex.clone());
    home.start_daemon_with(move |cmd| {
        cmd.env("CLAUDE_CONFIG_DIR", &claude_dir)
            .env("CODEX_HOME", &codex_dir);
    });
    run_scenario(
        &home,
        "costs",
        &[("CLAUDE_CONFIG_DIR", &claude), ("CODEX_HOME", &codex)],
        "",
    );
}
