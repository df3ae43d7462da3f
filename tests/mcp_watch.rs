//! The daemon's supervision of the MCP servers registered in the brains' own configs: each is
//! probed as its brain would start it, and a hanging, missing or misconfigured one is an
//! incident from the first round that sees it, resolved when the registration is fixed.

use paios_testkit as support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::daemon::TestHome;

/// `paios mesh servers --json` once the daemon has completed at least `rounds` rounds.
fn servers_after(home: &TestHome, rounds: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, out, err) = home.run(&["mesh", "servers", "--json"]);
        assert!(
            code == 0 || code == 1,
            "mesh servers failed ({code}): {err}"
        );
        let report: Value = serde_json::from_str(&out).unwrap();
        if report["rounds"].as_u64().unwrap() >= rounds {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "no probe round {rounds}: {}",
            home.daemon_stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The hanging server's `sleep` argument: unique to this test, so `pgrep` finds only its copies.
const MARK: &str = "637.25";

fn hanging_servers() -> usize {
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("^sleep {MARK}$")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn server<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no server {name} in {report}"))
}

fn incidents(home: &TestHome) -> Vec<Value> {
    let (code, out, err) = home.run(&["incidents", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .cloned()
        .or_else(|| v["incidents"].as_array().cloned())
        .unwrap_or_default()
}

fn incident<'a>(all: &'a [Value], component: &str) -> Option<&'a Value> {
    all.iter().find(|i| i["component"] == component)
}

#[test]
fn registered_servers_are_probed_and_a_hanging_one_is_an_incident_from_the_first_round() {
    let mut home = TestHome::new();
    home.write_config("[api]\nport = 0\n[mcp]\nprobe_interval_s = 1\nprobe_timeout_s = 2\n");
    let claude_dir = home.path().join("brains/claude");
    std::fs::create_dir_all(&claude_dir).unwrap();
    let paios = support::daemon::paios_bin();
    let home_dir = home.path().to_path_buf();
    let registrations = |with_broken: bool| {
        let mut servers = json!({
            // A real MCP server: PAIOS's own stdio shim, under another name.
            "pa": {"type": "stdio", "command": paios, "args": ["mcp"],
                   "env": {"PAIOS_HOME": home_dir}},
        });
        if with_broken {
            servers["hangs"] = json!({"type": "stdio", "command": "sh",
                                      "args": ["-c", format!("echo starting >&2; exec sleep {MARK}")]});
            servers["gone"] = json!({"command": "no-such-mcp-server-anywhere"});
            servers["old-codex"] = json!({"command": "codex", "args": ["mcp-server"]});
        }
        let file = json!({"numStartups": 3, "mcpServers": servers});
        std::fs::write(
            claude_dir.join(".claude.json"),
            serde_json::to_vec_pretty(&file).unwrap(),
        )
        .unwrap();
    };
    registrations(true);
    home.start_daemon();

    // After the first completed round every server has been probed and judged.
    let report = servers_after(&home, 1);
    let good = server(&report, "pa");
    assert_eq!(good["ok"], true, "{report}");
    assert!(
        good["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "paios_status"),
        "{report}"
    );
    let hangs = server(&report, "hangs");
    assert_eq!(hangs["ok"], false, "{report}");
    for (name, says) in [
        ("hangs", "within 2 s"),
        ("gone", "no-such-mcp-server-anywhere"),
        ("old-codex", "0.154.0"),
    ] {
        let error = server(&report, name)["error"].as_str().unwrap();
        assert!(error.contains(says), "{name}: {report}");
    }
    // `mesh servers` says failing with its exit code.
    assert_eq!(home.run(&["mesh", "servers"]).0, 1);

    let all = incidents(&home);
    let hang = incident(&all, "mcp:claude:hangs").unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(hang["kind"], "mcp_server_failing", "{hang}");
    assert_eq!(hang["runbook"], "mcp-servers", "{hang}");
    assert_eq!(
        incident(&all, "mcp:claude:gone").unwrap()["kind"],
        "mcp_server_misconfigured"
    );
    assert!(incident(&all, "mcp:claude:old-codex").is_some());
    assert!(incident(&all, "mcp:claude:pa").is_none(), "{all:?}");
    assert!(hang["resolved_at"].is_null(), "{hang}");

    // Each probe stops its server: at most the one being probed now is running.
    assert!(hanging_servers() <= 1, "hanging servers were left running");

    // Fixed: the broken registrations removed; the next full round resolves their incidents.
    let seen = report["rounds"].as_u64().unwrap();
    registrations(false);
    let report = servers_after(&home, seen + 2);
    assert_eq!(report["servers"].as_array().unwrap().len(), 1, "{report}");
    let all = incidents(&home);
    for component in [
        "mcp:claude:hangs",
        "mcp:claude:gone",
        "mcp:claude:old-codex",
    ] {
        let i = incident(&all, component).unwrap();
        assert!(i["resolved_at"].is_string(), "{i}");
    }
    assert_eq!(home.run(&["mesh", "servers"]).0, 0);
    // None of the servers probed over the rounds is left behind.
    assert_eq!(hanging_servers(), 0, "hanging servers were left running");
    home.stop_daemon();
}

/// Accepts TCP connections and holds them open without reading or answering, for the test's
/// life: a server that hangs after the connection.
fn silent_listener() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    port
}

#[test]
fn servers_registered_by_url_are_probed_over_http_with_their_tokens() {
    let mut home = TestHome::new();
    home.write_config("[api]\nport = 0\n[mcp]\nprobe_interval_s = 1\nprobe_timeout_s = 2\n");
    // The daemon's own token, known in advance, so registrations can carry it.
    let token = "5e1f0c0ffee0123456789abcdef0123456789abcdef0123456789abcdef01234";
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(home.path().join("token"))
            .unwrap();
        f.write_all(token.as_bytes()).unwrap();
    }
    let wrong = "wrong-secret-b7d1e9";
    home.start_daemon_with(|cmd| {
        cmd.env("PAIOS_TEST_MCP_TOKEN", token)
            .env_remove("PAIOS_TEST_UNSET_TOKEN");
    });
    let own = format!("http://127.0.0.1:{}/mcp", home.api_port());
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let silent = silent_listener();
    let brains = home.path().join("brains");
    for dir in ["claude", "codex", "openclaw"] {
        std::fs::create_dir_all(brains.join(dir)).unwrap();
    }
    // Claude Code: the daemon's own /mcp, its token from the environment (`${VAR}`), and once
    // with a wrong token.
    let claude = json!({"mcpServers": {
        "own-http": {"type": "http", "url": own,
                     "headers": {"Authorization": "Bearer ${PAIOS_TEST_MCP_TOKEN}"}},
        "wrong-token": {"type": "http", "url": own,
                        "headers": {"Authorization": format!("Bearer {wrong}")}},
    }});
    std::fs::write(
        brains.join("claude/.claude.json"),
        serde_json::to_vec_pretty(&claude).unwrap(),
    )
    .unwrap();
    // Codex: the token named by `bearer_token_env_var`; a closed port; a variable PAIOS lacks.
    std::fs::write(
        brains.join("codex/config.toml"),
        format!(
            "[mcp_servers.own-codex]\nurl = \"{own}\"\nbearer_token_env_var = \"PAIOS_TEST_MCP_TOKEN\"\n\n\
             [mcp_servers.closed]\nurl = \"http://127.0.0.1:{closed}/mcp\"\n\n\
             [mcp_servers.needs-env]\nurl = \"{own}\"\nbearer_token_env_var = \"PAIOS_TEST_UNSET_TOKEN\"\n"
        ),
    )
    .unwrap();
    // OpenClaw: a server that accepts the connection and never answers.
    let openclaw = json!({"mcp": {"servers": {
        "silent": {"url": format!("http://127.0.0.1:{silent}/mcp"), "transport": "streamable-http"},
    }}});
    std::fs::write(
        brains.join("openclaw/openclaw.json"),
        serde_json::to_vec_pretty(&openclaw).unwrap(),
    )
    .unwrap();

    // Two full rounds after the files were written: the second certainly read them.
    let seen = servers_after(&home, 1)["rounds"].as_u64().unwrap();
    let report = servers_after(&home, seen + 2);
    for name in ["own-http", "own-codex"] {
        let s = server(&report, name);
        assert_eq!(s["ok"], true, "{name}: {report}");
        assert!(
            s["tools"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "paios_status"),
            "{name}: {report}"
        );
        assert_eq!(s["target"], own.as_str(), "{report}");
    }
    for (name, says) in [
        ("wrong-token", "HTTP 401"),
        ("closed", &*format!("nothing listens on 127.0.0.1:{closed}")),
        ("silent", "within 2 s"),
    ] {
        let s = server(&report, name);
        assert_eq!(s["ok"], false, "{name}: {report}");
        let error = s["error"].as_str().unwrap();
        assert!(error.contains(says), "{name}: {error}");
    }
    let skipped = server(&report, "needs-env");
    assert!(skipped["ok"].is_null(), "{report}");
    assert!(
        skipped["error"]
            .as_str()
            .unwrap()
            .contains("$PAIOS_TEST_UNSET_TOKEN"),
        "{report}"
    );

    let all = incidents(&home);
    for component in [
        "mcp:codex:closed",
        "mcp:openclaw:silent",
        "mcp:claude:wrong-token",
    ] {
        let i = incident(&all, component).unwrap_or_else(|| panic!("{component}: {all:?}"));
        assert_eq!(i["kind"], "mcp_server_failing", "{i}");
        assert_eq!(i["runbook"], "mcp-servers", "{i}");
    }
    for component in [
        "mcp:claude:own-http",
        "mcp:codex:own-codex",
        "mcp:codex:needs-env",
    ] {
        assert!(incident(&all, component).is_none(), "{component}: {all:?}");
    }

    // No registration's token is shown or stored: not in the report, the incidents, the events
    // or the daemon's log (whose start-up banner prints the panel's own link, with the daemon's
    // token, by design: that one is checked everywhere else).
    let (_, events, _) = home.run(&["events", "--json", "--limit", "100000"]);
    let said = format!("{report} {all:?} {events}");
    for secret in [token, wrong] {
        assert!(!said.contains(secret), "a token was shown: {said}");
    }
    assert!(
        !home.daemon_stderr().contains(wrong),
        "{}",
        home.daemon_stderr()
    );
    home.stop_daemon();
}
