//! The usage the current OpenClaw gateway records in its per-agent transcript database
//! (`agents/<agent>/agent/openclaw-agent.sqlite`, table `transcript_events`), counted by
//! `paios usage`: real agent turns of the pinned gateway against the fake Anthropic server.

use paios_testkit as support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::env::{BrainEnv, minimal_openclaw_config};
use support::fake_anthropic::{FakeAnthropic, Reply, Usage};

const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// A gateway home whose default model is the fake, priced (per million tokens) so the gateway
/// logs a cost: input 3, output 15, cache read 0.3, cache write 3.75.
fn gateway_env(fake: &FakeAnthropic) -> BrainEnv {
    let env = BrainEnv::new();
    let mut config = minimal_openclaw_config();
    config["models"] = json!({"providers": {"fake": {
        "baseUrl": fake.url(),
        "apiKey": support::env::FAKE_KEY,
        "api": "anthropic-messages",
        "models": [{"id": "fake-model", "name": "Fake", "reasoning": false,
                    "input": ["text"], "contextWindow": 200000, "maxTokens": 4096,
                    "cost": {"input": 3.0, "output": 15.0, "cacheRead": 0.3, "cacheWrite": 3.75}}],
    }}});
    config["agents"] = json!({"defaults": {"model": {"primary": "fake/fake-model"}}});
    env.write_openclaw_config(&config);
    env
}

fn turn(env: &BrainEnv, message: &str) {
    let out = env.run(
        env.openclaw().args([
            "agent", "--local", "--agent", "main", "-m", message, "--json",
        ]),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "openclaw agent: {}", out.stderr);
}

fn db(env: &BrainEnv) -> PathBuf {
    env.openclaw_state_dir()
        .join("agents/main/agent/openclaw-agent.sqlite")
}

/// `paios usage daily --json --source openclaw`'s totals, and its stderr.
fn totals(env: &BrainEnv, source: &str) -> (Value, String) {
    let out = env.run(
        env.paios()
            .args(["usage", "daily", "--json", "--source", source]),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "paios usage: {}", out.stderr);
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    (v["totals"].clone(), out.stderr)
}

const PER_M: f64 = 1_000_000.0;

fn cost_of(input: u64, output: u64, write: u64, read: u64) -> f64 {
    (input as f64 * 3.0 + output as f64 * 15.0 + write as f64 * 3.75 + read as f64 * 0.3) / PER_M
}

#[test]
fn a_real_gateway_turn_is_counted_from_its_transcript_database_once() {
    let fake = FakeAnthropic::start();
    let env = gateway_env(&fake);
    fake.push(Reply::text("hello").with_usage(Usage::new(1234, 56).with_cache(100, 200)));
    turn(&env, "say hi");
    assert!(
        db(&env).is_file(),
        "the gateway keeps its transcripts in {}",
        db(&env).display()
    );
    assert_eq!(fake.calls().len(), 1);

    let (t, _) = totals(&env, "openclaw");
    assert_eq!(t["inputTokens"], 1234, "{t}");
    assert_eq!(t["outputTokens"], 56, "{t}");
    assert_eq!(t["cacheCreationTokens"], 100, "{t}");
    assert_eq!(t["cacheReadTokens"], 200, "{t}");
    assert_eq!(t["totalTokens"], 1590, "{t}");
    let want = cost_of(1234, 56, 100, 200);
    let cost = t["totalCost"].as_f64().unwrap();
    assert!(
        (cost - want).abs() < 1e-9,
        "cost {cost}, the gateway's prices give {want}"
    );

    // Nothing new: nothing counted twice.
    let (again, _) = totals(&env, "openclaw");
    assert_eq!(again, t);

    // A second turn: only it is added.
    fake.push(Reply::text("again").with_usage(Usage::new(10, 20)));
    turn(&env, "once more");
    let (more, _) = totals(&env, "openclaw");
    assert_eq!(more["inputTokens"], 1244, "{more}");
    assert_eq!(more["outputTokens"], 76, "{more}");
    assert_eq!(more["totalTokens"], 1620, "{more}");
}

/// A copy of the gateway's session records as a session file too (as an older gateway kept
/// them): the same message is counted once.
#[test]
fn a_message_both_in_a_session_file_and_in_the_database_counts_once() {
    let fake = FakeAnthropic::start();
    let env = gateway_env(&fake);
    fake.push(Reply::text("hello").with_usage(Usage::new(300, 40)));
    turn(&env, "say hi");
    let conn =
        rusqlite::Connection::open_with_flags(db(&env), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT session_id, event_json FROM transcript_events ORDER BY session_id, seq")
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    drop(stmt);
    drop(conn);
    let session = rows[0].0.clone();
    let sessions = env.openclaw_state_dir().join("agents/main/sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let lines: String = rows.iter().map(|(_, j)| format!("{j}\n")).collect();
    std::fs::write(sessions.join(format!("{session}.jsonl")), lines).unwrap();

    let (t, _) = totals(&env, "openclaw");
    assert_eq!(t["inputTokens"], 300, "{t}");
    assert_eq!(t["outputTokens"], 40, "{t}");
}

/// A database that is garbage, or one the gateway holds locked, is warned about and never
/// stops the other sources (nor the other agents' databases) being counted.
#[test]
fn a_garbage_or_locked_database_is_a_warning_and_the_rest_still_counts() {
    let fake = FakeAnthropic::start();
    let env = gateway_env(&fake);
    fake.push(Reply::text("hello").with_usage(Usage::new(500, 50)));
    turn(&env, "say hi");
    // Another agent's database is garbage.
    let other = env
        .openclaw_state_dir()
        .join("agents/other/agent/openclaw-agent.sqlite");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(&other, b"this is not a database\n".repeat(200)).unwrap();
    // A Claude Code log, so another source has usage.
    let project = env.claude_config_dir().join("projects/p");
    std::fs::create_dir_all(&project).unwrap();
    let claude_line = json!({"type": "assistant", "timestamp": "2026-01-02T03:04:05.000Z",
        "sessionId": "s1", "requestId": "req_1",
        "message": {"id": "msg_1", "model": "claude-sonnet-4-5",
                    "usage": {"input_tokens": 7, "output_tokens": 3}}});
    std::fs::write(project.join("s1.jsonl"), format!("{claude_line}\n")).unwrap();

    let (t, stderr) = totals(&env, "all");
    assert!(
        stderr.contains("warning: cannot read") && stderr.contains(&other.display().to_string()),
        "{stderr}"
    );
    assert_eq!(t["inputTokens"], 507, "{t}");

    // The good database locked exclusively by a writer: a warning, what was counted is kept.
    let lock = rusqlite::Connection::open(db(&env)).unwrap();
    lock.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    let (locked, stderr) = totals(&env, "all");
    assert!(
        stderr.contains(&db(&env).display().to_string()),
        "a locked database is named: {stderr}"
    );
    assert_eq!(locked["inputTokens"], 507, "{locked}");
    lock.execute_batch("COMMIT;").unwrap();
    drop(lock);
    let (after, _) = totals(&env, "openclaw");
    assert_eq!(after["inputTokens"], 500, "{after}");
}
