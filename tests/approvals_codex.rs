//! The approval gate on the real Codex CLI through `paios hooks install --brain codex`
//! (`$CODEX_HOME/hooks.json`): Codex's PreToolUse hook can only deny, which is what `never` needs.
//! Codex runs a newly added hook only once the user has trusted it (its hook review); the test
//! stands in for that review with `--dangerously-bypass-hook-trust`.

use paios_testkit as support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use support::env::BrainEnv;
use support::fake_openai::{FakeOpenAi, Reply};

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn codex_is_refused_a_never_command_and_still_runs_safe_commands() {
    let fake = FakeOpenAi::start();
    let mut env = BrainEnv::new();
    env.connect_openai(&fake);
    std::fs::write(env.paios_home().join("paios.toml"), "[api]\nport = 0\n").unwrap();
    let mut daemon = env.spawn(
        env.paios()
            .arg("daemon")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(env.paios_home().join("paios.sock")).is_err() {
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = env.run(
        env.paios().args(["hooks", "install", "--brain", "codex"]),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    let sentinel = env.home().join("sentinel.txt");
    std::fs::write(&sentinel, "still here").unwrap();
    fake.push(Reply::function_call(
        "exec_command",
        json!({"cmd": "chmod -R 000 \"$HOME\""}),
    ));
    fake.push(Reply::function_call(
        "exec_command",
        json!({"cmd": "echo hi > safe.txt"}),
    ));
    fake.push(Reply::text("done"));
    let out = env.run(
        env.codex().args([
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--dangerously-bypass-hook-trust",
            "clean up",
        ]),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sentinel).unwrap().permissions().mode() & 0o777;
    assert_ne!(
        mode, 0,
        "codex ran chmod -R 000 on HOME; stdout: {}",
        out.stdout
    );
    let outputs = fake.function_call_outputs();
    // Codex sends the whole history each turn: the refusal is in the later requests too.
    assert!(
        outputs[0]["output"]
            .as_str()
            .unwrap_or("")
            .contains("PAIOS refused this (shell.mass-permissions)"),
        "{outputs:?}"
    );
    assert_eq!(
        std::fs::read_to_string(env.project_dir().join("safe.txt")).unwrap_or_default(),
        "hi\n",
        "the safe command did not run: {:?}",
        outputs
    );
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let _ = daemon.wait();
}
