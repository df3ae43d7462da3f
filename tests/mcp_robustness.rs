//! `paios mcp` and `/mcp` under input no well-behaved client sends: malformed JSON-RPC, unknown
//! methods, oversized and truncated messages, a client that goes away mid-call, SIGTERM. The
//! answer is always a JSON-RPC error or a clean close — never a panic, a hang or a dead server.

use paios_testkit as support;

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use support::daemon::TestHome;
use support::mcp::{HttpClient, StdioClient, http_post};

const WAIT: Duration = Duration::from_secs(20);

fn shim(home: &TestHome) -> StdioClient {
    let mut cmd = home.paios();
    cmd.arg("mcp");
    let mut client = StdioClient::start(cmd);
    client.initialize();
    client
}

fn ping(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
}

fn assert_alive(client: &mut StdioClient, id: u64) {
    client.send(&ping(id));
    let pong = client
        .answer(id, WAIT)
        .expect("the shim still answers after bad input");
    assert_eq!(pong["result"], json!({}), "{pong}");
}

#[test]
fn malformed_messages_get_json_rpc_errors_and_the_shim_keeps_serving() {
    let home = TestHome::new();
    let mut c = shim(&home);
    // Not JSON at all: there is no id to answer (the official SDKs ignore such lines).
    c.send_raw(b"this is not json\n");
    c.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\n");
    assert_alive(&mut c, 2);
    // JSON, but not JSON-RPC: Invalid Request.
    c.send_raw(b"{\"hello\":\"world\"}\n");
    let m = c.recv(WAIT).expect("an error for a non-JSON-RPC object");
    assert_eq!(m["error"]["code"], -32600, "{m}");
    // Unknown method: Method not found, with its id.
    c.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "no/such/method"}));
    let m = c.answer(3, WAIT).unwrap();
    assert_eq!(m["error"]["code"], -32601, "{m}");
    // Unknown tool and wrong argument types: Invalid params.
    c.send(&support::mcp::call(4, "no_such_tool", json!({})));
    assert_eq!(c.answer(4, WAIT).unwrap()["error"]["code"], -32602);
    c.send(&support::mcp::call(
        5,
        "paios_events",
        json!({"limit": "many"}),
    ));
    let m = c.answer(5, WAIT).unwrap();
    assert_eq!(m["error"]["code"], -32602, "{m}");
    assert!(
        m["error"]["message"].as_str().unwrap().contains("limit")
            || m["error"]["message"].as_str().unwrap().contains("u32"),
        "{m}"
    );
    assert_alive(&mut c, 6);
}

#[test]
fn an_oversized_line_is_dropped_and_the_next_request_is_served() {
    let home = TestHome::new();
    let mut c = shim(&home);
    let mut huge = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"paios_classify","arguments":{"command":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 5 * 1024 * 1024));
    huge.extend(b"\"}}}\n");
    c.send_raw(&huge);
    assert_alive(&mut c, 8);
}

#[test]
fn a_truncated_message_at_end_of_input_is_a_clean_close() {
    let home = TestHome::new();
    let mut c = shim(&home);
    c.send_raw(br#"{"jsonrpc":"2.0","id":9,"method":"tools/ca"#);
    c.close_input();
    let status = c.wait_exit(Duration::from_secs(5)).expect("exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigterm_stops_the_shim_cleanly() {
    let home = TestHome::new();
    let mut c = shim(&home);
    assert_alive(&mut c, 1);
    // SAFETY: plain syscall on our own child.
    unsafe { libc::kill(c.child.id() as i32, libc::SIGTERM) };
    let status = c
        .wait_exit(Duration::from_secs(5))
        .expect("exits on SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn sigterm_before_initialize_also_stops_it() {
    let home = TestHome::new();
    let mut cmd = home.paios();
    cmd.arg("mcp");
    let mut c = StdioClient::start(cmd);
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: plain syscall on our own child.
    unsafe { libc::kill(c.child.id() as i32, libc::SIGTERM) };
    let status = c
        .wait_exit(Duration::from_secs(5))
        .expect("exits on SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_daemon_going_away_mid_session_degrades_instead_of_failing() {
    let mut home = TestHome::new();
    home.start_daemon();
    let mut c = shim(&home);
    c.send(&support::mcp::call(1, "paios_status", json!({})));
    let live = c.answer(1, WAIT).unwrap();
    assert!(
        live["result"]["structuredContent"]["daemon"]["pid"].is_number(),
        "{live}"
    );
    home.stop_daemon();
    c.send(&support::mcp::call(2, "paios_status", json!({})));
    let down = c.answer(2, WAIT).unwrap();
    assert!(
        down["result"]["structuredContent"]["daemon"].is_null(),
        "{down}"
    );
    home.start_daemon();
    c.send(&support::mcp::call(3, "paios_status", json!({})));
    let back = c.answer(3, WAIT).unwrap();
    assert_eq!(
        back["result"]["structuredContent"]["daemon"]["pid"],
        json!(home.daemon_pid().unwrap()),
        "the shim reconnects to a restarted daemon: {back}"
    );
}

#[test]
fn http_rejects_malformed_bodies_with_errors_and_keeps_serving() {
    let mut home = TestHome::new();
    home.start_daemon();
    let port = home.api_port();
    let auth = format!("Bearer {}", home.token());
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    for body in [
        &b"not json"[..],
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":",
        b"[]",
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}",
        b"\xff\xfe\x00",
    ] {
        let answer =
            http_post(port, "/mcp", &headers, body).expect("an answer, not a dropped connection");
        assert!(
            (400..500).contains(&answer.status),
            "{:?} → {answer:?}",
            String::from_utf8_lossy(body)
        );
    }
    // A client that sends half a body and disconnects.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"jsonrpc\""
        )
        .unwrap();
    }
    let mut client = HttpClient::new(port, &home.token());
    client.initialize();
    let answer = client.call(2, "paios_status", json!({}));
    assert_eq!(answer.status, 200, "{answer:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]

    /// Whatever lines arrive, every line the shim writes is one JSON-RPC message and it still
    /// answers a ping afterwards.
    #[test]
    fn any_input_lines_leave_the_shim_answering(
        lines in proptest::collection::vec(
            prop_oneof![
                "[ -~]{0,200}",
                "\\{\"jsonrpc\":\"2.0\",\"id\":[0-9]{1,3},\"method\":\"[a-z/]{0,20}\"(,\"params\":\\{\\})?\\}",
                "\\{\"jsonrpc\":\"2.0\",\"id\":[0-9]{1,3},\"method\":\"tools/call\",\"params\":\\{\"name\":\"paios_[a-z]{0,10}\",\"arguments\":\\{\"[a-z]{1,6}\":[0-9a-z\"]{0,8}\\}\\}\\}",
            ],
            1..40,
        )
    ) {
        let home = TestHome::new();
        let mut c = shim(&home);
        for line in &lines {
            let mut bytes = line.clone().into_bytes();
            bytes.retain(|&b| b != b'\n');
            bytes.push(b'\n');
            c.send_raw(&bytes);
        }
        c.send(&ping(100_000));
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let m = c.recv(left).expect("the shim answers the ping");
            prop_assert_eq!(&m["jsonrpc"], "2.0");
            if m["id"] == json!(100_000) {
                prop_assert_eq!(&m["result"], &json!({}));
                break;
            }
        }
    }
}
