//! The fake model servers drive the real CLIs through failures: API errors, hangs, and the
//! non-streaming form. (The happy paths are in `brains_smoke.rs`.)

use paios_testkit as support;

use std::time::Duration;

use serde_json::{Value, json};
use support::env::BrainEnv;
use support::fake_anthropic::{self, FakeAnthropic};
use support::fake_openai::{self, FakeOpenAi};

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn claude_print(env: &BrainEnv, prompt: &str) -> (support::env::Finished, Value) {
    let out = env.run(
        env.claude()
            .args(["-p", prompt, "--output-format", "stream-json", "--verbose"]),
        RUN_TIMEOUT,
    );
    let result = out
        .json_lines()
        .into_iter()
        .find(|e| e["type"] == "result")
        .unwrap_or_else(|| panic!("no result event: {} / {}", out.stdout, out.stderr));
    (out, result)
}

#[test]
fn claude_reports_an_overloaded_api_as_an_error() {
    let fake = FakeAnthropic::start();
    fake.set_fallback(fake_anthropic::Reply::error(529));
    let mut env = BrainEnv::new();
    env.connect_anthropic(&fake);

    let (out, result) = claude_print(&env, "hello");

    assert_ne!(out.code, Some(0));
    assert_eq!(result["is_error"], true, "{result}");
    assert_eq!(result["api_error_status"], 529, "{result}");
    assert!(!fake.calls().is_empty());
}

#[test]
fn claude_reports_a_rate_limit_as_an_error() {
    let fake = FakeAnthropic::start();
    fake.set_fallback(fake_anthropic::Reply::error(429));
    let mut env = BrainEnv::new();
    env.connect_anthropic(&fake);

    let (_, result) = claude_print(&env, "hello");

    assert_eq!(result["is_error"], true, "{result}");
    assert_eq!(result["api_error_status"], 429, "{result}");
}

#[test]
fn claude_gives_up_on_a_hanging_api_after_its_timeout() {
    let fake = FakeAnthropic::start();
    fake.set_fallback(fake_anthropic::Reply::hang());
    let mut env = BrainEnv::new();
    env.connect_anthropic(&fake);
    env.set_env("API_TIMEOUT_MS", "3000");

    let (out, result) = claude_print(&env, "hello");

    assert_eq!(result["is_error"], true, "{result}");
    assert!(!out.timed_out, "claude did not time out by itself");
    assert!(!fake.wait_for_calls(1, Duration::ZERO).is_empty());
}

#[test]
fn codex_reports_a_server_error_as_a_failed_turn() {
    let fake = FakeOpenAi::start();
    fake.set_fallback(fake_openai::Reply::error(500));
    let mut env = BrainEnv::new();
    env.connect_openai(&fake);

    let out = env.run(
        env.codex()
            .args(["exec", "--json", "--skip-git-repo-check", "hello"]),
        RUN_TIMEOUT,
    );

    assert_ne!(out.code, Some(0), "{}", out.stdout);
    let events = out.json_lines();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "turn.failed" || e["type"] == "error"),
        "{}",
        out.stdout
    );
    assert!(!fake.calls().is_empty());
}

#[test]
fn codex_reports_a_failed_response_event() {
    let fake = FakeOpenAi::start();
    fake.set_fallback(fake_openai::Reply::failed(
        "context_length_exceeded",
        "Your input exceeds the context window of this model.",
    ));
    let mut env = BrainEnv::new();
    env.connect_openai(&fake);

    let out = env.run(
        env.codex()
            .args(["exec", "--json", "--skip-git-repo-check", "hello"]),
        RUN_TIMEOUT,
    );

    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stdout.contains("turn.failed"), "{}", out.stdout);
}

#[test]
fn the_fake_anthropic_api_answers_non_streaming_requests_and_records_them() {
    let fake = FakeAnthropic::start();
    fake.push(
        fake_anthropic::Reply::tool_use("Write", json!({"file_path": "a.txt", "content": "x"}))
            .with_usage(fake_anthropic::Usage::new(3, 4)),
    );
    let port = fake.url().rsplit(':').next().unwrap().parse().unwrap();
    let body = json!({"model": "claude-test", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let (status, text) = post_json(port, "/v1/messages", &body);

    assert_eq!(status, 200);
    let message: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(message["content"][0]["name"], "Write");
    assert_eq!(message["content"][0]["input"]["file_path"], "a.txt");
    assert_eq!(message["usage"]["output_tokens"], 4);
    assert_eq!(message["model"], "claude-test");
    assert_eq!(fake.calls()[0].body, body);
}

/// A minimal HTTP/1.1 POST over a plain socket.
fn post_json(port: u16, path: &str, body: &Value) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// A stalled stream sends its first event and then nothing, keeping the connection open.
/// (Seen with Claude Code 2.1.332: `claude -p` waits on such a stream for minutes even with
/// `API_TIMEOUT_MS`, so supervisors need their own deadline.)
#[test]
fn the_fake_anthropic_api_can_stall_a_stream_after_message_start() {
    use std::io::{Read, Write};
    let fake = FakeAnthropic::start();
    fake.push(fake_anthropic::Reply::text("never sent").stall_after_start());
    let port: u16 = fake.url().rsplit(':').next().unwrap().parse().unwrap();
    let body = json!({"model": "m", "max_tokens": 5, "stream": true,
                      "messages": [{"role": "user", "content": "hi"}]})
    .to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let stalled = loop {
        match stream.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                break true;
            }
            Err(e) => panic!("{e}"),
        }
    };
    let text = String::from_utf8_lossy(&received);
    assert!(stalled, "the stream ended: {text}");
    assert!(text.contains("event: message_start"), "{text}");
    assert!(
        !text.contains("never sent") && !text.contains("message_stop"),
        "{text}"
    );
}
