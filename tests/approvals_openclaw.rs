//! The approval gate enforced on the real OpenClaw gateway through `paios hooks install --brain
//! openclaw`: the fake Anthropic server (a custom provider of the gateway) asks for `exec` tool
//! calls, the PAIOS plugin hands each command to `paios hook pre-tool-use` and the gateway runs
//! only what PAIOS allows.

use paios_testkit as support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::env::{BrainEnv, minimal_openclaw_config};
use support::fake_anthropic::{FakeAnthropic, Reply};

const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// A hermetic gateway home whose default model is the fake, with OpenClaw's own exec policy
/// wide open (so whatever is refused, PAIOS refused) and PAIOS's gateway gate installed.
struct Gateway {
    env: BrainEnv,
    fake: FakeAnthropic,
}

impl Gateway {
    fn new() -> Self {
        let fake = FakeAnthropic::start();
        let env = BrainEnv::new();
        let mut config = minimal_openclaw_config();
        config["models"] = json!({"providers": {"fake": {
            "baseUrl": fake.url(),
            "apiKey": support::env::FAKE_KEY,
            "api": "anthropic-messages",
            "models": [{"id": "fake-model", "name": "Fake", "reasoning": false,
                        "input": ["text"], "contextWindow": 200000, "maxTokens": 4096}],
        }}});
        config["agents"] = json!({"defaults": {"model": {"primary": "fake/fake-model"}}});
        config["tools"] = json!({"exec": {"security": "full", "ask": "off"}});
        env.write_openclaw_config(&config);
        let gate = Gateway { env, fake };
        let out = gate.paios(&["hooks", "install", "--brain", "openclaw", "--json"]);
        assert_eq!(out[0]["brain"], "openclaw");
        assert_eq!(out[0]["changed"], true);
        gate
    }

    fn paios(&self, args: &[&str]) -> Value {
        let out = self.env.run(self.env.paios().args(args), RUN_TIMEOUT);
        assert_eq!(out.code, Some(0), "paios {args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
    }

    fn openclaw_json(&self, args: &[&str]) -> Value {
        let out = self.env.run(self.env.openclaw().args(args), RUN_TIMEOUT);
        assert_eq!(out.code, Some(0), "openclaw {args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
    }

    /// One agent turn in which the model runs `command` with the exec tool, then says "done".
    /// Returns the text of the tool result the model got back.
    fn turn_running(&self, command: &str) -> String {
        self.fake
            .push(Reply::tool_use("exec", json!({ "command": command })))
            .push(Reply::text("done"));
        let out = self.env.run(
            self.env.openclaw().args([
                "agent", "--local", "--agent", "main", "-m", "tidy up", "--json",
            ]),
            RUN_TIMEOUT,
        );
        assert_eq!(out.code, Some(0), "openclaw agent: {}", out.stderr);
        let results = self.fake.tool_results();
        assert_eq!(results.len(), 1, "one exec call, one result: {results:?}");
        let content = &results[0]["content"];
        match content {
            Value::String(s) => s.clone(),
            other => other
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn workspace(&self) -> PathBuf {
        self.env.openclaw_state_dir().join("workspace")
    }
}

#[test]
fn the_gateway_refuses_a_never_command_and_the_model_is_told_why() {
    let gate = Gateway::new();
    let documents = gate.env.home().join("Documents");
    std::fs::create_dir_all(&documents).unwrap();
    std::fs::write(documents.join("thesis.txt"), "keep me").unwrap();

    let result = gate.turn_running("rm -rf ~/Documents");

    assert_eq!(
        std::fs::read_to_string(documents.join("thesis.txt")).unwrap(),
        "keep me"
    );
    assert!(
        result.contains("PAIOS refused this (shell.rm-critical)") && result.contains("never"),
        "{result}"
    );
}

#[test]
fn the_gateway_runs_a_safe_command_in_its_workspace() {
    let gate = Gateway::new();

    let result = gate.turn_running("touch marker");

    assert!(gate.workspace().join("marker").exists(), "{result}");
    assert!(!result.contains("PAIOS"), "{result}");
}

#[test]
fn the_gateway_loads_the_plugin_and_uninstall_takes_out_only_what_install_added() {
    let gate = Gateway::new();
    let before: Value =
        serde_json::from_str(&std::fs::read_to_string(gate.env.openclaw_config_path()).unwrap())
            .unwrap();
    // Installing again changes nothing.
    let again = gate.paios(&["hooks", "install", "--brain", "openclaw", "--json"]);
    assert_eq!(again[0]["changed"], false);

    let inspect = gate.openclaw_json(&["plugins", "inspect", "paios-gate", "--runtime", "--json"]);
    assert_eq!(inspect["plugin"]["status"], "loaded", "{inspect}");
    let hooks: Vec<&str> = inspect["typedHooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["name"].as_str())
        .collect();
    assert_eq!(hooks, ["before_tool_call"]);
    let check = gate.paios(&["policy", "check", "--json"]);
    assert_eq!(check["gateway"]["state"], "current", "{check}");
    // The budget OpenClaw gives the hook covers PAIOS's approval timeout (300 s by default).
    let entry = &before["plugins"]["entries"]["paios-gate"];
    assert_eq!(entry["hooks"]["timeouts"]["before_tool_call"], 345_000);

    let removed = gate.paios(&["hooks", "uninstall", "--brain", "openclaw", "--json"]);
    assert_eq!(removed[0]["changed"], true);
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(gate.env.openclaw_config_path()).unwrap())
            .unwrap();
    assert!(
        after["plugins"]["entries"].get("paios-gate").is_none(),
        "{after}"
    );
    assert!(after["plugins"]["load"].get("paths").is_none(), "{after}");
    assert_eq!(after["models"], before["models"]);
    assert!(
        !gate
            .env
            .paios_home()
            .join("openclaw-plugin/paios-gate")
            .exists()
    );
    let check = gate.paios(&["policy", "check", "--json"]);
    assert_eq!(check["gateway"]["state"], "absent", "{check}");
    let backup = gate
        .env
        .openclaw_state_dir()
        .join("openclaw.json.paios-backup");
    assert!(backup.exists());
}

/// An `ask` from the gateway waits in PAIOS's queue, attributed to `openclaw`, and runs once
/// the user approves it from the CLI (as from the panel or a popup).
#[test]
fn an_ask_from_the_gateway_waits_in_paios_queue_and_runs_once_approved() {
    use std::process::Stdio;
    use std::time::Instant;
    let gate = Gateway::new();
    let mut daemon = gate.env.start_daemon();
    // Deleting a file inside the agent's workspace asks (`[defaults] delete_inside_project`).
    let old = gate.workspace().join("old-notes.txt");
    std::fs::create_dir_all(gate.workspace()).unwrap();
    std::fs::write(&old, "stale").unwrap();
    let command = "rm old-notes.txt";
    gate.fake
        .push(Reply::tool_use("exec", json!({ "command": command })))
        .push(Reply::text("done"));
    let mut turn = gate.env.spawn(
        gate.env
            .openclaw()
            .args([
                "agent", "--local", "--agent", "main", "-m", "tidy up", "--json",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let deadline = Instant::now() + RUN_TIMEOUT;
    let request = loop {
        let list = gate.paios(&["approvals", "list", "--json"]);
        if let Some(r) = list
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["summary"] == command)
        {
            break r.clone();
        }
        assert!(
            turn.try_wait().unwrap().is_none(),
            "the turn ended with no request in PAIOS's queue"
        );
        assert!(
            Instant::now() < deadline,
            "no pending request for {command}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(request["state"], "pending", "{request}");
    assert_eq!(request["brain"], "openclaw", "{request}");
    assert!(old.exists(), "nothing runs before the answer");
    let id = request["id"].to_string();
    let out = gate.env.run(
        gate.env.paios().args(["approvals", "approve", &id]),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "approve: {}", out.stderr);
    let status = loop {
        if let Some(status) = turn.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the turn did not finish after the approval"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "openclaw agent: {status}");
    assert!(!old.exists(), "the approved command ran");
    let results = gate.fake.tool_results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(
        !results[0].to_string().contains("PAIOS refused"),
        "{results:?}"
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
}
