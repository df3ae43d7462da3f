//! The approval gate enforced on the real Claude Code CLI through `paios hooks install`: the fake
//! Anthropic server asks for Bash tool calls and the PAIOS hooks decide them.

use paios_testkit as support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::env::BrainEnv;
use support::fake_anthropic::{FakeAnthropic, Reply};

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// A hermetic brain environment with a running PAIOS daemon and PAIOS's hooks installed in its
/// Claude Code settings.
struct Gate {
    env: BrainEnv,
    fake: FakeAnthropic,
    daemon: Child,
}

impl Gate {
    fn new(paios_toml: &str) -> Self {
        let fake = FakeAnthropic::start();
        let mut env = BrainEnv::new();
        env.connect_anthropic(&fake);
        std::fs::write(env.paios_home().join("paios.toml"), paios_toml).unwrap();
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
        let out = env.run(env.paios().args(["hooks", "install"]), RUN_TIMEOUT);
        assert_eq!(out.code, Some(0), "hooks install: {}", out.stderr);
        Gate { env, fake, daemon }
    }

    fn claude(&self, allow_bash: bool) -> std::process::Command {
        let mut cmd = self.env.claude();
        cmd.args([
            "-p",
            "do the task",
            "--output-format",
            "stream-json",
            "--verbose",
        ]);
        if allow_bash {
            cmd.args(["--allowedTools", "Bash"]);
        }
        cmd
    }

    fn paios_json(&self, args: &[&str]) -> Value {
        let out = self.env.run(self.env.paios().args(args), RUN_TIMEOUT);
        assert_eq!(out.code, Some(0), "paios {args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    }

    fn decided_events(&self) -> Vec<Value> {
        self.paios_json(&[
            "events",
            "--json",
            "--kind",
            "approval.decided",
            "--limit",
            "1000",
        ])
        .as_array()
        .unwrap()
        .clone()
    }

    fn wait_for_decision(&self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(e) = self.decided_events().into_iter().find(|e| pred(e)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no matching approval.decided event"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        unsafe { libc::kill(self.daemon.id() as i32, libc::SIGTERM) };
        let _ = self.daemon.wait();
    }
}

fn result_event(stdout: &str) -> Value {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["type"] == "result")
        .unwrap_or_else(|| panic!("no result event in {stdout}"))
}

fn tool_result_text(result: &Value) -> String {
    match &result["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

#[test]
fn rm_rf_home_is_denied_by_the_hook_and_the_sentinel_survives() {
    let gate = Gate::new("[api]\nport = 0\n");
    let sentinel = gate.env.home().join("sentinel.txt");
    std::fs::write(&sentinel, "still here").unwrap();
    gate.fake.push(Reply::tool_use(
        "Bash",
        json!({"command": "rm -rf \"$HOME\""}),
    ));
    gate.fake.push(Reply::text("done"));
    // Bash is allowed by Claude Code's own permissions: only the PAIOS hook stands in the way.
    let out = gate.env.run(&mut gate.claude(true), RUN_TIMEOUT);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&sentinel).unwrap_or_default(),
        "still here",
        "the sentinel in HOME was deleted"
    );
    let results = gate.fake.tool_results();
    assert_eq!(results.len(), 1, "{results:?}");
    let text = tool_result_text(&results[0]);
    assert!(text.contains("PAIOS refused"), "{text}");
    assert!(text.contains("shell.rm-critical"), "{text}");
    let ev = gate.wait_for_decision(|e| e["data"]["rule"] == "shell.rm-critical");
    assert_eq!(ev["data"]["decision"], "deny");
    assert_eq!(ev["data"]["class"], "never");
    assert_eq!(ev["data"]["by"], "policy");
    assert_eq!(ev["data"]["brain"], "claude");
}

#[test]
fn a_safe_command_runs_without_any_claude_permission() {
    let gate = Gate::new("[api]\nport = 0\n");
    std::fs::write(gate.env.project_dir().join("visible.txt"), "x").unwrap();
    gate.fake
        .push(Reply::tool_use("Bash", json!({"command": "ls -la"})));
    gate.fake.push(Reply::text("listed"));
    // No --allowedTools: Claude Code would refuse Bash in print mode; the hook's allow runs it.
    let out = gate.env.run(&mut gate.claude(false), RUN_TIMEOUT);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let results = gate.fake.tool_results();
    assert_eq!(results.len(), 1, "{results:?}");
    let text = tool_result_text(&results[0]);
    assert!(text.contains("visible.txt"), "ls did not run: {text}");
    gate.wait_for_decision(|e| {
        e["data"]["rule"] == "shell.read-only" && e["data"]["decision"] == "approve"
    });
    assert_eq!(result_event(&out.stdout)["is_error"], false);
}

fn spawn_claude(gate: &Gate) -> Child {
    let mut cmd = gate.claude(false);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    gate.env.spawn(&mut cmd)
}

fn wait_pending(gate: &Gate, summary: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = gate.paios_json(&["approvals", "list", "--json"]);
        if let Some(r) = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["summary"] == summary)
        {
            assert_eq!(r["brain"], "claude");
            assert_eq!(r["tool"], "Bash");
            return r["id"].as_i64().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the request never appeared in `paios approvals list`"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "claude failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_ask_waits_for_approval_from_the_cli_and_trust_answers_the_next_one() {
    let gate =
        Gate::new("[api]\nport = 0\n[approvals]\ntimeout_s = 90\ntrust_after = 1\nautonomy = 1\n");
    // Inline interpreter code is an `ask`.
    let made = gate.env.project_dir().join("made.txt");
    let command = r#"perl -e 'open(my $f, ">", "made.txt") or die; print $f "x"'"#.to_string();
    gate.fake
        .push(Reply::tool_use("Bash", json!({"command": command})));
    gate.fake.push(Reply::text("made"));
    let child = spawn_claude(&gate);
    let id = wait_pending(&gate, &command);
    assert!(!made.exists(), "the command ran before it was approved");
    let out = gate.env.run(
        gate.env
            .paios()
            .args(["approvals", "approve", &id.to_string()]),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let stdout = finish(child);
    assert_eq!(result_event(&stdout)["is_error"], false, "{stdout}");
    assert!(made.exists(), "approved, yet it did not run");
    gate.wait_for_decision(|e| e["data"]["id"] == id && e["data"]["by"] == "user");

    // The same request again: one approval is enough at trust_after = 1, level 1.
    std::fs::remove_file(&made).unwrap();
    gate.fake
        .push(Reply::tool_use("Bash", json!({"command": command})));
    gate.fake.push(Reply::text("made again"));
    let out = gate.env.run(&mut gate.claude(false), RUN_TIMEOUT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(made.exists(), "the trusted call did not run");
    let ev = gate.wait_for_decision(|e| e["data"]["by"] == "trust");
    assert_eq!(ev["data"]["decision"], "approve");
    assert_eq!(ev["data"]["summary"], command);
}
