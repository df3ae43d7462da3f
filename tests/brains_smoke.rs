//! Smoke tests: the real brains (installed by `paios brains install`, found through
//! `PAIOS_TOOLS_DIR`) answer from the fake model servers, run a tool, and the gateway starts.

use paios_testkit as support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::env::{BrainEnv, free_port, http_get};
use support::fake_anthropic::{self, FakeAnthropic};
use support::fake_openai::{self, FakeOpenAi};

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn claude_answers_from_the_fake_anthropic_api() {
    let fake = FakeAnthropic::start();
    fake.push(
        fake_anthropic::Reply::text("Hello from the fake")
            .with_usage(fake_anthropic::Usage::new(123, 45).with_cache(7, 11)),
    );
    let mut env = BrainEnv::new();
    env.connect_anthropic(&fake);

    let out = env.run(
        env.claude().args([
            "-p",
            "say hello",
            "--output-format",
            "stream-json",
            "--verbose",
        ]),
        RUN_TIMEOUT,
    );

    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let events = out.json_lines();
    let result = events
        .iter()
        .find(|e| e["type"] == "result")
        .unwrap_or_else(|| panic!("no result event in {}", out.stdout));
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["result"], "Hello from the fake");
    let usage = &result["usage"];
    assert_eq!(usage["input_tokens"], 123, "{usage}");
    assert_eq!(usage["output_tokens"], 45, "{usage}");
    assert_eq!(usage["cache_creation_input_tokens"], 7, "{usage}");
    assert_eq!(usage["cache_read_input_tokens"], 11, "{usage}");
    let assistant_text: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "assistant")
        .flat_map(|e| e["message"]["content"].as_array().into_iter().flatten())
        .filter_map(|block| block["text"].as_str())
        .collect();
    assert_eq!(assistant_text, ["Hello from the fake"]);

    let sent = fake.calls();
    assert_eq!(sent.len(), 1, "one model call expected");
    assert_eq!(sent[0].body["stream"], true);
    let prompt = sent[0].body["messages"].to_string();
    assert!(
        prompt.contains("say hello"),
        "the prompt reached the API: {prompt}"
    );
}

#[test]
fn claude_runs_a_tool_the_model_asks_for_and_sends_back_the_result() {
    let fake = FakeAnthropic::start();
    fake.push(fake_anthropic::Reply::tool_use(
        "Bash",
        json!({"command": "echo hi > made-by-claude.txt && echo done", "description": "Write a file"}),
    ));
    fake.push(fake_anthropic::Reply::text("The file is written."));
    let mut env = BrainEnv::new();
    env.connect_anthropic(&fake);

    let out = env.run(
        env.claude().args([
            "-p",
            "write a file",
            "--output-format",
            "stream-json",
            "--verbose",
            "--allowedTools",
            "Bash",
        ]),
        RUN_TIMEOUT,
    );

    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let written = env.project_dir().join("made-by-claude.txt");
    assert_eq!(
        std::fs::read_to_string(&written).unwrap_or_default(),
        "hi\n",
        "claude should have run the Bash tool; stdout: {}",
        out.stdout
    );
    let results = fake.tool_results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(
        !results[0]["is_error"].as_bool().unwrap_or(false),
        "{}",
        results[0]
    );
    assert!(results[0].to_string().contains("done"), "{}", results[0]);
    let result: Value = out
        .json_lines()
        .into_iter()
        .find(|e| e["type"] == "result")
        .expect("result event");
    assert_eq!(result["result"], "The file is written.");
}

#[test]
fn codex_answers_from_the_fake_openai_api() {
    let fake = FakeOpenAi::start();
    fake.push(
        fake_openai::Reply::text("Hi from the fake")
            .with_usage(fake_openai::Usage::new(200, 30).with_cached(50)),
    );
    let mut env = BrainEnv::new();
    env.connect_openai(&fake);

    let out = env.run(
        env.codex()
            .args(["exec", "--json", "--skip-git-repo-check", "say hi"]),
        RUN_TIMEOUT,
    );

    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let events = out.json_lines();
    let messages: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .filter_map(|e| e["item"]["text"].as_str())
        .collect();
    assert_eq!(messages, ["Hi from the fake"], "{}", out.stdout);
    let turn = events
        .iter()
        .find(|e| e["type"] == "turn.completed")
        .unwrap_or_else(|| panic!("no turn.completed in {}", out.stdout));
    assert_eq!(turn["usage"]["input_tokens"], 200, "{turn}");
    assert_eq!(turn["usage"]["cached_input_tokens"], 50, "{turn}");
    assert_eq!(turn["usage"]["output_tokens"], 30, "{turn}");
    let sent = fake.calls();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body["input"].to_string().contains("say hi"));
}

#[test]
fn codex_runs_a_function_call_and_returns_its_output() {
    let fake = FakeOpenAi::start();
    fake.push(fake_openai::Reply::function_call(
        "exec_command",
        json!({"cmd": "echo hi > made-by-codex.txt && echo done"}),
    ));
    fake.push(fake_openai::Reply::text("Written."));
    let mut env = BrainEnv::new();
    env.connect_openai(&fake);

    let out = env.run(
        env.codex()
            .args(["exec", "--json", "--skip-git-repo-check", "write a file"]),
        RUN_TIMEOUT,
    );

    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(env.project_dir().join("made-by-codex.txt")).unwrap_or_default(),
        "hi\n",
        "codex should have run the command; stdout: {}",
        out.stdout
    );
    let outputs = fake.function_call_outputs();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert!(outputs[0].to_string().contains("done"), "{}", outputs[0]);
    let messages: Vec<Value> = out
        .json_lines()
        .into_iter()
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .collect();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["item"]["text"], "Written.");
}

#[test]
fn the_gateway_starts_and_turns_ready() {
    let env = BrainEnv::new();
    let port = free_port();
    let mut child = env.spawn(
        env.gateway(port)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped()),
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last;
    let ready = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            use std::io::Read;
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!("the gateway exited ({status}) before it was ready: {stderr}");
        }
        match http_get(port, "/readyz", Duration::from_secs(2)) {
            Some((200, body)) => break body,
            Some((status, body)) => last = format!("HTTP {status}: {body}"),
            None => last = "connection refused".into(),
        }
        assert!(
            Instant::now() < deadline,
            "gateway not ready within 90 s: {last}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let body: Value = serde_json::from_str(&ready).expect("readyz answers JSON");
    assert_eq!(body["ready"], true, "{body}");
}
