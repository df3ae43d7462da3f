//! The real brains calling PAIOS's tools over MCP, after `paios mesh install`, against the local
//! fake model servers: the fake asks for a tool, the brain calls it through `paios mcp`, and the
//! fake receives the tool's real result.

use paios_testkit as support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::env::BrainEnv;
use support::fake_anthropic::{FakeAnthropic, Reply};
use support::fake_openai::{FakeOpenAi, Reply as OaReply};

const RUN: Duration = Duration::from_secs(240);

struct Mesh {
    env: BrainEnv,
    daemon: Child,
}

impl Mesh {
    fn new(env: BrainEnv, brain: &str) -> Self {
        std::fs::write(
            env.paios_home().join("paios.toml"),
            "[api]\nport = 0\n[alerts]\ndesktop = false\n[mcp]\nprobe_interval_s = 0\nmesh_check_interval_s = 0\n",
        )
        .unwrap();
        let daemon = env.spawn(
            env.paios()
                .arg("daemon")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let socket = env.paios_home().join("paios.sock");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "the daemon did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = env.run(env.paios().args(["mesh", "install", "--brain", brain]), RUN);
        assert_eq!(out.code, Some(0), "mesh install: {}", out.stderr);
        Mesh { env, daemon }
    }

    fn events(&self, kind: &str) -> Vec<Value> {
        let out = self.env.run(
            self.env
                .paios()
                .args(["events", "--json", "--kind", kind, "--limit", "100"]),
            RUN,
        );
        serde_json::from_str::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        // SAFETY: plain syscall on our own child.
        unsafe { libc::kill(self.daemon.id() as i32, libc::SIGTERM) };
        let _ = self.daemon.wait();
    }
}

fn claude_p(env: &BrainEnv, allowed: &str) -> std::process::Command {
    let mut cmd = env.claude();
    cmd.args([
        "-p",
        "use the tool",
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        allowed,
    ]);
    cmd
}

fn result_event(out: &support::env::Finished) -> Value {
    out.json_lines()
        .into_iter()
        .find(|l| l["type"] == "result")
        .unwrap_or_else(|| panic!("no result event: {}\n{}", out.stdout, out.stderr))
}

fn tool_result_text(result: &Value) -> String {
    match &result["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}

#[test]
fn claude_calls_paios_status_and_the_model_receives_the_daemons_real_status() {
    let fake = FakeAnthropic::start();
    let mut env = BrainEnv::new();
    env.connect_anthropic(&fake);
    let mesh = Mesh::new(env, "claude");
    fake.push(Reply::tool_use("mcp__paios__paios_status", json!({})));
    fake.push(Reply::text("all healthy"));
    let out = mesh
        .env
        .run(&mut claude_p(&mesh.env, "mcp__paios__paios_status"), RUN);
    let result = result_event(&out);
    assert_eq!(result["is_error"], false, "{result}\n{}", out.stderr);
    let results = fake.tool_results();
    assert_eq!(results.len(), 1, "{results:?}");
    let text = tool_result_text(&results[0]);
    let status: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(status["daemon"]["pid"], json!(mesh.daemon.id()), "{status}");
    assert_eq!(
        status["daemon"]["home"],
        json!(mesh.env.paios_home().display().to_string())
    );
}

#[test]
fn codex_calls_a_paios_tool_and_the_model_receives_its_result() {
    let fake = FakeOpenAi::start();
    let mut env = BrainEnv::new();
    env.connect_openai(&fake);
    let mesh = Mesh::new(env, "codex");
    let exec = |mesh: &Mesh| {
        let mut cmd = mesh.env.codex();
        cmd.args(["exec", "--json", "--skip-git-repo-check", "use the tool"]);
        mesh.env.run(&mut cmd, RUN)
    };
    // First, learn the name Codex gives PAIOS's classify tool (it lists its tools to the model).
    fake.push(OaReply::text("looking"));
    let out = exec(&mesh);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let request = &fake.calls()[0].body;
    // Codex defers MCP tools: the model sees the `mcp__paios` namespace and calls into it.
    let text = request.to_string();
    assert!(
        text.contains("mcp__paios"),
        "Codex does not offer PAIOS's tools"
    );
    fake.push(OaReply::namespaced_call(
        "mcp__paios",
        "paios_classify",
        json!({"command": "rm -rf /"}),
    ));
    fake.push(OaReply::text("refused, as it should be"));
    let out = exec(&mesh);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let outputs = fake.function_call_outputs();
    let output = outputs
        .iter()
        .map(|o| o["output"].to_string())
        .find(|o| o.contains("shell.rm-critical"))
        .unwrap_or_else(|| panic!("the model never got the verdict: {outputs:?}"));
    assert!(output.contains("never"), "{output}");
}

#[test]
fn claude_asks_codex_through_paios_and_gets_codexs_answer() {
    let anthropic = FakeAnthropic::start();
    let openai = FakeOpenAi::start();
    let mut env = BrainEnv::new();
    env.connect_anthropic(&anthropic);
    env.connect_openai(&openai);
    let mesh = Mesh::new(env, "claude");
    anthropic.push(Reply::tool_use(
        "mcp__paios__ask_codex",
        json!({"prompt": "what is six times seven?", "timeout_s": 120}),
    ));
    anthropic.push(Reply::text("Codex says 42"));
    openai.push(OaReply::text("forty-two, from codex"));
    let out = mesh
        .env
        .run(&mut claude_p(&mesh.env, "mcp__paios__ask_codex"), RUN);
    let result = result_event(&out);
    assert_eq!(result["is_error"], false, "{result}\n{}", out.stderr);
    // Codex really ran: the OpenAI fake saw its request with the task.
    let requests = openai.calls();
    assert!(
        requests
            .iter()
            .any(|r| r.body.to_string().contains("what is six times seven?")),
        "Codex never asked its model: {requests:?}"
    );
    // Claude's model got Codex's answer as the tool result.
    let results = anthropic.tool_results();
    assert_eq!(results.len(), 1, "{results:?}");
    let text = tool_result_text(&results[0]);
    assert!(text.contains("forty-two, from codex"), "{text}");
    assert_ne!(results[0]["is_error"], true, "{}", results[0]);
    // The call is recorded: caller, tool, outcome, and the task run it made.
    let called = mesh.events("mcp.called");
    assert_eq!(called.len(), 1, "{called:?}");
    let data = &called[0]["data"];
    assert_eq!(data["tool"], "ask_codex");
    assert_eq!(data["brain"], "codex");
    assert_eq!(data["outcome"], "ok", "{data}");
    assert!(
        data["caller"].as_str().unwrap().contains("claude"),
        "{data}"
    );
    let finished = mesh.events("task.finished");
    assert!(
        finished
            .iter()
            .any(|e| e["source"] == "mcp" && e["data"]["task_id"] == data["task_id"]),
        "{finished:?}"
    );
}
