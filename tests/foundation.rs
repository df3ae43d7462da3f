//! Foundation acceptance: a lossless event store under concurrency and crashes, the spool, the
//! daemon's security checks, single instance, configuration errors and reloads.
use paios_testkit as support;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use support::daemon::TestHome;

/// Emit `kind` with `{"c": c, "n": n}` through the real CLI; returns (success, stderr).
fn emit(home: &TestHome, kind: &str, c: usize, n: usize) -> (bool, String) {
    let data = format!(r#"{{"c":{c},"n":{n}}}"#);
    let out = home
        .paios()
        .args(["emit", kind, "--data", &data])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn keys(events: &[Value]) -> Vec<(u64, u64)> {
    events
        .iter()
        .map(|e| {
            (
                e["data"]["c"].as_u64().unwrap(),
                e["data"]["n"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn eight_concurrent_client_processes_store_every_event_exactly_once() {
    let mut home = TestHome::new();
    home.start_daemon();
    let home = Arc::new(home);
    let workers: Vec<_> = (0..8)
        .map(|c| {
            let home = home.clone();
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                for n in 0..500 {
                    let (ok, err) = emit(&home, "load.concurrent", c, n);
                    if !ok || !err.is_empty() {
                        errors.push(err);
                    }
                }
                errors
            })
        })
        .collect();
    let errors: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        errors.is_empty(),
        "some emits failed or complained: {:?}",
        &errors[..errors.len().min(3)]
    );
    let events = home.events("load.concurrent");
    let keys = keys(&events);
    let unique: HashSet<_> = keys.iter().collect();
    assert_eq!(events.len(), 4000, "expected exactly 4000 events");
    assert_eq!(unique.len(), 4000, "duplicated events");
    let log = std::fs::read_dir(home.path().join("logs"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .collect::<String>()
        + &home.daemon_stderr();
    assert!(
        !log.contains("database is locked"),
        "the daemon logged a lock error"
    );
}

#[test]
fn sigkill_while_clients_emit_loses_no_acknowledged_event() {
    let mut home = TestHome::new();
    home.start_daemon();
    let stop = Arc::new(AtomicBool::new(false));
    let home_path = home.path().to_path_buf();
    let workers: Vec<_> = (0..4)
        .map(|c| {
            let stop = stop.clone();
            let home_path = home_path.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let data = format!(r#"{{"c":{c},"n":{n}}}"#);
                    let out = std::process::Command::new(support::daemon::paios_bin())
                        .env("PAIOS_HOME", &home_path)
                        .args(["emit", "crash.test", "--data", &data])
                        .output()
                        .unwrap();
                    if out.status.success() {
                        acked.push((c as u64, n as u64));
                    }
                    n += 1;
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    home.kill_daemon();
    // Clients keep going while the daemon is dead: they must spool.
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<(u64, u64)> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        acked.len() > 20,
        "too few emits to be meaningful: {}",
        acked.len()
    );
    assert!(
        home.socket().exists(),
        "a killed daemon leaves its socket behind (the next start must cope)"
    );
    home.start_daemon();
    let events = home.events("crash.test");
    let stored = keys(&events);
    let stored_set: HashSet<_> = stored.iter().copied().collect();
    assert_eq!(stored.len(), stored_set.len(), "an event was stored twice");
    let missing: Vec<_> = acked.iter().filter(|k| !stored_set.contains(k)).collect();
    assert!(missing.is_empty(), "acknowledged events lost: {missing:?}");
}

#[test]
fn spooled_events_are_replayed_exactly_once() {
    let mut home = TestHome::new();
    for n in 0..100 {
        let (ok, err) = emit(&home, "spool.test", 0, n);
        assert!(ok, "emit with the daemon down must succeed: {err}");
        assert!(
            err.contains("spooled"),
            "the user is told the event was spooled: {err}"
        );
    }
    assert!(home.events("spool.test").is_empty());
    home.start_daemon();
    assert_eq!(home.events("spool.test").len(), 100);
    assert_eq!(home.stop_daemon(), Some(0));
    home.start_daemon();
    assert_eq!(
        home.events("spool.test").len(),
        100,
        "a second start must not replay again"
    );
    assert!(home.events("store.spool_replayed").len() == 1);
}

#[test]
fn corrupt_spool_lines_are_quarantined_not_dropped() {
    let mut home = TestHome::new();
    for n in 0..3 {
        assert!(emit(&home, "spool.mixed", 0, n).0);
    }
    let spool = home.path().join("spool/events.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&spool)
        .unwrap();
    f.write_all(b"{\"this is\": not an event\n\xff\xfe binary junk\n")
        .unwrap();
    drop(f);
    home.start_daemon();
    assert_eq!(home.events("spool.mixed").len(), 3);
    let corrupt = home.events("store.spool_corrupt");
    assert_eq!(corrupt.len(), 1);
    assert_eq!(corrupt[0]["data"]["lines"], serde_json::json!([4, 5]));
    let quarantine = std::fs::read_to_string(home.path().join("spool/quarantine.jsonl")).unwrap();
    assert!(quarantine.contains("not an event"), "{quarantine}");
    assert_eq!(quarantine.lines().count(), 2);
}

/// A raw HTTP/1.1 GET so the test controls every header.
fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let code = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, resp)
}

#[test]
fn the_daemon_guards_its_socket_and_http_api() {
    use std::os::unix::fs::PermissionsExt;
    let mut home = TestHome::new();
    home.start_daemon();
    let mode = std::fs::metadata(home.socket())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "socket mode");
    let token_mode = std::fs::metadata(home.path().join("token"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(token_mode, 0o600, "token file mode");

    let port = home.api_port();
    let token = home.token();
    let bearer = format!("Bearer {token}");
    assert_eq!(http_get(port, "/api/status", &[]).0, 401);
    assert_eq!(
        http_get(port, "/api/status", &[("Authorization", "Bearer wrong")]).0,
        401
    );
    let (code, body) = http_get(port, "/api/status", &[("Authorization", &bearer)]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"daemon\""));
    assert_eq!(
        http_get(
            port,
            "/api/status",
            &[
                ("Authorization", &bearer),
                ("Origin", "http://evil.example")
            ]
        )
        .0,
        403
    );
    assert_eq!(
        http_get(
            port,
            "/api/status",
            &[("Authorization", &bearer), ("Host", "evil.example")]
        )
        .0,
        403
    );
    let origin = format!("http://127.0.0.1:{port}");
    assert_eq!(
        http_get(
            port,
            "/api/status",
            &[("Authorization", &bearer), ("Origin", &origin)]
        )
        .0,
        200
    );

    // A second daemon on the same home refuses, clearly, and leaves the first one working.
    let out = home.paios().arg("daemon").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already running"), "{err}");
    assert_eq!(home.run(&["status", "--json"]).0, 0);
}

#[test]
fn sigterm_stops_cleanly_and_a_stale_socket_does_not_block_the_next_start() {
    let mut home = TestHome::new();
    home.start_daemon();
    assert_eq!(home.stop_daemon(), Some(0));
    assert!(!home.socket().exists(), "a clean stop removes its socket");
    assert_eq!(home.events("daemon.stopped").len(), 1);
    home.start_daemon();
    home.kill_daemon();
    assert!(home.socket().exists());
    home.start_daemon();
    assert_eq!(home.run(&["status", "--json"]).0, 0);
}

#[test]
fn closing_the_daemons_terminal_stops_it_cleanly_too() {
    // SIGHUP (the terminal of a foreground `paios daemon` closed) and SIGQUIT.
    for signal in [libc::SIGHUP, libc::SIGQUIT] {
        let mut home = TestHome::new();
        home.write_config(
            "[api]\nport = 0\n[[service]]\nname = \"sleeper\"\ncommand = [\"sleep\", \"600\"]\n",
        );
        home.start_daemon();
        home.wait_for_event("service.started", Duration::from_secs(10), |_| true);
        assert_eq!(home.stop_daemon_with(signal), Some(0), "signal {signal}");
        assert_eq!(home.events("daemon.stopped").len(), 1, "signal {signal}");
        assert_eq!(home.events("service.stopped").len(), 1, "signal {signal}");
        assert!(!home.socket().exists());
    }
}

#[test]
fn an_event_for_a_daemon_that_does_not_answer_is_spooled_and_stored_once_it_does() {
    let mut home = TestHome::new();
    home.start_daemon();
    let pid = home.daemon_pid().unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let (code, out, err) = home.run(&["emit", "qa.while_stopped", "--json"]);
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert_eq!(code, 0, "{err}");
    let answer: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(answer["spooled"], true, "{out}");
    home.wait_for_event("qa.while_stopped", Duration::from_secs(20), |_| true);
    home.wait_for_event("store.spool_replayed", Duration::from_secs(20), |_| true);
    assert_eq!(home.events("qa.while_stopped").len(), 1);
}

/// Send one request line straight to the daemon's socket (shutting down the writing side after
/// it when `half_close`) and read the answer line; the rest of the stream is left to read.
fn raw_socket_call(
    home: &TestHome,
    request: &[u8],
    half_close: bool,
) -> (Value, std::io::BufReader<std::os::unix::net::UnixStream>) {
    use std::io::BufRead;
    let mut socket = std::os::unix::net::UnixStream::connect(home.socket()).unwrap();
    socket.write_all(request).unwrap();
    if half_close {
        socket.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut answer = String::new();
    let mut reader = std::io::BufReader::new(socket);
    reader.read_line(&mut answer).unwrap();
    (serde_json::from_str(&answer).unwrap(), reader)
}

#[test]
fn a_malformed_events_filter_is_refused_not_ignored() {
    let mut home = TestHome::new();
    home.start_daemon();
    let (answer, _) = raw_socket_call(
        &home,
        b"{\"op\":\"core.events\",\"args\":{\"kind\":\"daemon.started\",\"limit\":\"5\"}}\n",
        false,
    );
    assert_eq!(answer["ok"], false, "{answer}");
    assert_eq!(answer["error"]["code"], "bad_request", "{answer}");

    // Over HTTP the same filters are parsed the same way, for the list and the live stream:
    // a JSON bad request, not a plain-text rejection or a stream with the filter dropped.
    let port = home.api_port();
    let bearer = format!("Bearer {}", home.token());
    for path in ["/api/events?limit=five", "/api/stream?since=yesterday"] {
        let (code, body) = http_get(port, path, &[("Authorization", &bearer)]);
        assert_eq!(code, 400, "{path}: {body}");
        let json = body.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let json: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        assert_eq!(json["error"]["code"], "bad_request", "{path}: {body}");
    }
}

/// A client that shuts down its writing side after its request (as `socat` does) still gets
/// the answer: only a client that closed its socket is taken for gone.
#[test]
fn a_request_from_a_half_closed_socket_is_answered() {
    let mut home = TestHome::new();
    home.start_daemon();
    let (answer, mut rest) = raw_socket_call(
        &home,
        b"{\"op\":\"core.events\",\"args\":{\"limit\":1}}\n",
        true,
    );
    assert_eq!(answer["ok"], true, "{answer}");
    let mut after = Vec::new();
    std::io::Read::read_to_end(&mut rest, &mut after).unwrap();
    assert!(after.is_empty());
}

#[test]
fn a_broken_config_exits_2_with_file_line_and_column() {
    let home = TestHome::new();
    home.write_config("[api]\nport = 0\nbogus_key = 1\n");
    let (code, _, err) = home.run(&["daemon"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("paios.toml:3:1"), "{err}");
    assert!(err.contains("bogus_key"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    home.write_config("[api]\nport = \"seven\"\n");
    let (code, _, err) = home.run(&["daemon"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("paios.toml:2:"), "{err}");

    home.write_config("[api\nport = 0\n");
    let (code, _, err) = home.run(&["daemon"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("paios.toml:1:"), "{err}");
}

#[test]
fn a_running_daemon_keeps_its_last_good_config_when_the_file_breaks() {
    let mut home = TestHome::new();
    home.start_daemon();
    home.write_config("[api]\nport = 0\n[log]\nlevel = \"debug\"\n");
    home.wait_for_event("config.changed", Duration::from_secs(10), |_| true);
    home.write_config("[api]\nport = 0\nnot_a_key = true\n");
    let ev = home.wait_for_event("config.invalid", Duration::from_secs(10), |_| true);
    let msg = ev["data"]["error"].as_str().unwrap();
    assert!(msg.contains(":3:1") && msg.contains("not_a_key"), "{msg}");
    // Still serving.
    assert_eq!(home.run(&["status", "--json"]).0, 0);
    assert_eq!(home.run(&["emit", "still.alive"]).0, 0);
}

#[test]
fn init_writes_a_valid_default_and_never_overwrites() {
    let home = TestHome::new();
    std::fs::remove_file(home.path().join("paios.toml")).unwrap();
    let (code, _, err) = home.run(&["init"]);
    assert_eq!(code, 0, "{err}");
    let written = std::fs::read_to_string(home.path().join("paios.toml")).unwrap();
    assert!(written.contains("[api]") && written.contains('#'));
    std::fs::write(home.path().join("paios.toml"), "# mine\n").unwrap();
    let (code, _, err) = home.run(&["init"]);
    assert_eq!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(home.path().join("paios.toml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn events_can_be_filtered_by_kind_subject_and_time() {
    let mut home = TestHome::new();
    home.start_daemon();
    let before = chrono::Utc::now().to_rfc3339();
    for (kind, subject) in [("f.a", "x"), ("f.b", "y"), ("g.a", "x")] {
        assert_eq!(home.run(&["emit", kind, "--subject", subject]).0, 0);
    }
    let (_, out, _) = home.run(&["events", "--json", "--kind", "f.", "--subject", "x"]);
    let v: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["kind"], "f.a");
    let (_, out, _) = home.run(&["events", "--json", "--since", &before, "--limit", "2"]);
    let v: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v.iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["f.b", "g.a"]
    );
    let (code, _, err) = home.run(&["events", "--since", "yesterday"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn the_live_stream_delivers_committed_events_and_the_panel_needs_no_token() {
    let mut home = TestHome::new();
    home.start_daemon();
    let port = home.api_port();
    let token = home.token();
    assert_eq!(http_get(port, "/api/stream", &[]).0, 401);

    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "GET /api/stream?kind=live.&token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    // Wait for the response head, so the subscription exists before we emit.
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "stream closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).contains("text/event-stream"));
    assert_eq!(home.run(&["emit", "other.kind"]).0, 0);
    assert_eq!(
        home.run(&["emit", "live.one", "--subject", "streamed"]).0,
        0
    );
    while !String::from_utf8_lossy(&seen).contains("live.one") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "stream closed before the event arrived");
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("\"subject\":\"streamed\""), "{text}");
    assert!(
        !text.contains("other.kind"),
        "the kind filter let another kind through: {text}"
    );

    // The panel itself (GET /) is served without the token; only the API needs it.
    let (code, body) = http_get(port, "/", &[]);
    assert_eq!(code, 200, "{body}");
    assert!(body.to_lowercase().contains("<html"), "{body}");
}

#[test]
fn output_into_a_pipe_whose_reader_has_gone_ends_quietly() {
    // `paios … | head`: the reader closes before the command writes. Rust ignores SIGPIPE, so a
    // plain `println!` would panic here (exit 101).
    let home = TestHome::new();
    let logs = home.path().join("no-logs");
    for args in [
        &["version"][..],
        &["usage", "daily", "--json"][..],
        &["runbook", "openclaw-gateway"][..],
    ] {
        let mut child = home
            .paios()
            .args(args)
            .env("CLAUDE_CONFIG_DIR", &logs)
            .env("CODEX_HOME", &logs)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(
            status.success() && stderr.is_empty(),
            "paios {args:?} into a closed pipe: {status}, stderr: {stderr}"
        );
    }
}
