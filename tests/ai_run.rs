//! `ai "TASK"` end to end: the real `claude` and `codex` (managed installs found through
//! `PAIOS_TOOLS_DIR`, see `paios brains install`) against the fake model servers, a real
//! daemon recording the events, and checks that no brain process outlives a run.

use paios_testkit as support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::env::{BrainEnv, Finished, free_port};
use support::fake_anthropic::{self, FakeAnthropic};
use support::fake_openai::{self, FakeOpenAi};

const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// A hermetic environment connected to both fakes, with the gateway pointed at a closed port.
fn environment(anthropic: &FakeAnthropic, openai: &FakeOpenAi) -> BrainEnv {
    let mut env = BrainEnv::new();
    env.connect_anthropic(anthropic);
    env.connect_openai(openai);
    let mut config = support::env::minimal_openclaw_config();
    config["gateway"]["port"] = serde_json::json!(free_port());
    env.write_openclaw_config(&config);
    std::fs::write(env.paios_home().join("paios.toml"), "[api]\nport = 0\n").unwrap();
    env
}

/// `ai ARGS` with the environment.
fn ai(env: &BrainEnv, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ai"));
    env.apply(&mut cmd);
    cmd.args(args);
    cmd
}

fn run_ai(env: &BrainEnv, args: &[&str]) -> Finished {
    env.run(&mut ai(env, args), RUN_TIMEOUT)
}

/// `paios events --json --kind PREFIX` of the environment.
fn events(env: &BrainEnv, prefix: &str) -> Vec<Value> {
    let out = env.run(
        env.paios()
            .args(["events", "--json", "--kind", prefix, "--limit", "1000"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(0), "paios events: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// Processes still running with this environment's HOME (brains and anything they started).
fn leftover_processes(env: &BrainEnv) -> Vec<String> {
    let marker = format!("HOME={}", env.home().display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            == Some("Z");
        if !zombie && environ.split(|&b| b == 0).any(|v| v == marker.as_bytes()) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

fn assert_no_leftovers(env: &BrainEnv) {
    // The daemon belongs to the test; everything else must be gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<String> = leftover_processes(env)
            .into_iter()
            .filter(|p| !p.contains(" daemon") && !p.contains("paios daemon"))
            .filter(|p| !p.contains("/paios daemon"))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left behind: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_writing_task_runs_on_the_real_claude_and_streams_its_answer() {
    let anthropic = FakeAnthropic::start();
    anthropic.set_fallback(fake_anthropic::Reply::text(
        "Borrowed light, returned —\nthe compiler, satisfied,\nlets the loop run free.",
    ));
    let openai = FakeOpenAi::start();
    let env = environment(&anthropic, &openai);

    let out = run_ai(&env, &["write a haiku about rust"]);

    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stdout.contains("the compiler, satisfied,"),
        "stdout: {}",
        out.stdout
    );
    assert!(out.stderr.contains("claude"), "stderr: {}", out.stderr);
    assert!(openai.calls().is_empty(), "codex must not run");
    // The task reached the model (through stdin: it is in no process's arguments).
    let sent = anthropic.calls();
    assert!(
        sent.iter()
            .any(|r| r.body["messages"].to_string().contains("haiku about rust")),
        "the task did not reach the model"
    );
    assert_no_leftovers(&env);
}

#[test]
fn a_coding_task_runs_on_the_real_codex() {
    let anthropic = FakeAnthropic::start();
    let openai = FakeOpenAi::start();
    openai.set_fallback(
        fake_openai::Reply::text("The assertion compared bytes to chars; fixed parser.rs.")
            .with_usage(fake_openai::Usage::new(300, 40).with_cached(100)),
    );
    let env = environment(&anthropic, &openai);

    let out = run_ai(&env, &["--json", "fix the failing unit test in parser.rs"]);

    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    let result: Value = serde_json::from_str(&out.stdout).expect("one JSON result");
    assert_eq!(result["brain"], "codex", "{result}");
    assert_eq!(result["outcome"], "ok");
    assert_eq!(
        result["text"],
        "The assertion compared bytes to chars; fixed parser.rs."
    );
    assert_eq!(result["usage"]["output_tokens"], 40, "{result}");
    assert_eq!(result["usage"]["cache_read_tokens"], 100, "{result}");
    assert!(anthropic.calls().is_empty(), "claude must not run");
    assert!(
        openai.calls().iter().any(|r| r
            .body
            .to_string()
            .contains("failing unit test in parser.rs")),
        "the task did not reach the model"
    );
}

#[test]
fn an_overloaded_claude_falls_back_to_codex_and_the_fallback_is_recorded() {
    let anthropic = FakeAnthropic::start();
    anthropic.set_fallback(fake_anthropic::Reply::error(529));
    let openai = FakeOpenAi::start();
    openai.set_fallback(fake_openai::Reply::text(
        "Here is the outline of the blog post.",
    ));
    let env = environment(&anthropic, &openai);
    let mut daemon = env.start_daemon();

    let out = run_ai(
        &env,
        &["write a blog post about our migration to kubernetes"],
    );

    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stdout.contains("Here is the outline of the blog post."),
        "stdout: {}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("Overloaded"),
        "the API error is not the answer: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains("falling back to codex"),
        "stderr: {}",
        out.stderr
    );

    let fallbacks = events(&env, "route.fallback");
    assert_eq!(fallbacks.len(), 1, "{fallbacks:#?}");
    assert_eq!(fallbacks[0]["data"]["from"], "claude");
    assert_eq!(fallbacks[0]["data"]["to"], "codex");
    assert_eq!(fallbacks[0]["data"]["outcome"], "overloaded");

    let decided = events(&env, "route.decided");
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0]["data"]["brain"], "claude");
    assert_eq!(decided[0]["data"]["category"], "writing");

    let finished = events(&env, "task.finished");
    let outcomes: Vec<(&str, &str)> = finished
        .iter()
        .map(|e| {
            (
                e["data"]["brain"].as_str().unwrap_or(""),
                e["data"]["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(outcomes, [("claude", "overloaded"), ("codex", "ok")]);
    for e in &finished {
        for key in [
            "brain",
            "category",
            "duration_ms",
            "tokens",
            "cost_usd",
            "outcome",
        ] {
            assert!(
                e["data"].get(key).is_some(),
                "task.finished lacks {key}: {e}"
            );
        }
    }
    assert_eq!(events(&env, "task.started").len(), 2);
    let _ = daemon.kill();
    let _ = daemon.wait();
}

#[test]
fn a_brain_that_hangs_is_killed_at_the_timeout_leaving_no_process() {
    let anthropic = FakeAnthropic::start();
    anthropic.set_fallback(fake_anthropic::Reply::hang());
    let openai = FakeOpenAi::start();
    let env = environment(&anthropic, &openai);

    let out = run_ai(
        &env,
        &[
            "--timeout",
            "8",
            "--no-fallback",
            "write a poem about the sea",
        ],
    );
    assert_eq!(out.code, Some(1), "stderr: {}", out.stderr);
    assert!(out.stderr.contains("timeout"), "stderr: {}", out.stderr);
    assert!(
        !out.timed_out,
        "ai did not stop by itself after its 8 s timeout"
    );
    assert!(
        !anthropic.calls().is_empty(),
        "claude should have reached the model before hanging"
    );
    assert_no_leftovers(&env);
}

#[test]
fn a_hanging_brain_and_the_processes_it_started_are_all_stopped() {
    let anthropic = FakeAnthropic::start();
    // The model first has claude start a long-running command, then never answers again.
    anthropic.push(fake_anthropic::Reply::tool_use(
        "Bash",
        serde_json::json!({"command": "sleep 300", "description": "Wait", "run_in_background": true}),
    ));
    anthropic.set_fallback(fake_anthropic::Reply::hang());
    let openai = FakeOpenAi::start();
    let env = environment(&anthropic, &openai);
    env.write_claude_settings(&serde_json::json!({"permissions": {"allow": ["Bash"]}}));

    let out = run_ai(
        &env,
        &[
            "--timeout",
            "15",
            "--no-fallback",
            "write a poem about the sea",
        ],
    );

    assert_eq!(out.code, Some(1), "stderr: {}", out.stderr);
    assert!(out.stderr.contains("timeout"), "stderr: {}", out.stderr);
    assert!(
        anthropic.calls().len() >= 2,
        "claude should have run the command and gone back to the model"
    );
    assert_no_leftovers(&env);
}

#[test]
fn ctrl_c_stops_the_brain_and_leaves_no_process() {
    let anthropic = FakeAnthropic::start();
    anthropic.set_fallback(fake_anthropic::Reply::hang());
    let openai = FakeOpenAi::start();
    let env = environment(&anthropic, &openai);

    let mut cmd = ai(&env, &["write a poem about the sea"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = env.spawn(&mut cmd);
    // Wait until claude is talking to the (hanging) model, then interrupt `ai`.
    anthropic.wait_for_calls(1, Duration::from_secs(120));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "ai did not stop after Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    assert!(openai.calls().is_empty(), "no fallback after Ctrl-C");
    assert_no_leftovers(&env);
}

#[test]
fn a_gateway_that_is_down_is_reported_at_once() {
    let anthropic = FakeAnthropic::start();
    let openai = FakeOpenAi::start();
    let env = environment(&anthropic, &openai);

    let out = run_ai(
        &env,
        &[
            "--brain",
            "openclaw",
            "--no-fallback",
            "tell the team on slack that the build is green",
        ],
    );

    assert_eq!(out.code, Some(1), "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("gateway is not running"),
        "stderr: {}",
        out.stderr
    );
    // Reported from the gateway check alone: no model was asked, nothing waited on one.
    assert!(!out.timed_out);
    assert!(anthropic.calls().is_empty() && openai.calls().is_empty());
}
