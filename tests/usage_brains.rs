//! Logs written by the real `claude` and `codex` CLIs, run against the fake model servers with
//! known usage numbers, are read back by `paios usage` as exactly those numbers.

use paios_testkit as support;

use std::time::Duration;

use serde_json::{Value, json};
use support::env::BrainEnv;
use support::fake_anthropic::{self, FakeAnthropic};
use support::fake_openai::{self, FakeOpenAi};

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn paios_usage(env: &BrainEnv, source: &str) -> Value {
    let out = env.run(
        env.paios().args([
            "usage",
            "daily",
            "--json",
            "--timezone",
            "UTC",
            "--source",
            source,
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(0), "paios usage failed: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn claude_logs_are_read_as_the_usage_the_api_reported() {
    let fake = FakeAnthropic::start();
    // A tool call, then the answer: two API calls with different usage.
    fake.push(
        fake_anthropic::Reply::tool_use(
            "Bash",
            json!({"command": "echo hi", "description": "Say hi"}),
        )
        .with_usage(fake_anthropic::Usage::new(1200, 340).with_cache(5000, 20000)),
    );
    fake.push(
        fake_anthropic::Reply::text("Done.")
            .with_usage(fake_anthropic::Usage::new(800, 60).with_cache(300, 25000)),
    );
    let mut env = BrainEnv::new();
    env.connect_anthropic(&fake);
    let out = env.run(
        env.claude().args([
            "-p",
            "say hi with a tool",
            "--model",
            "claude-sonnet-4-5-20250929",
            "--allowedTools",
            "Bash",
            "--output-format",
            "stream-json",
            "--verbose",
        ]),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "claude failed: {}", out.stderr);
    assert_eq!(fake.calls().len(), 2, "two model calls");

    let report = paios_usage(&env, "claude");
    let totals = &report["totals"];
    assert_eq!(totals["inputTokens"], 2000, "{report}");
    assert_eq!(totals["outputTokens"], 400, "{report}");
    assert_eq!(totals["cacheCreationTokens"], 5300, "{report}");
    assert_eq!(totals["cacheReadTokens"], 45000, "{report}");
    assert_eq!(totals["totalTokens"], 52700, "{report}");
    // Sonnet 4.5: $3/M input, $15/M output, $3.75/M cache write, $0.30/M cache read.
    let expected = 2000.0 * 3e-6 + 400.0 * 15e-6 + 5300.0 * 3.75e-6 + 45000.0 * 0.3e-6;
    let cost = totals["totalCost"].as_f64().unwrap();
    assert!((cost - expected).abs() < 1e-9, "{cost} vs {expected}");
    assert_eq!(
        report["daily"][0]["modelsUsed"],
        json!(["claude-sonnet-4-5-20250929"])
    );
}

#[test]
fn codex_logs_are_read_as_the_usage_the_api_reported() {
    let fake = FakeOpenAi::start();
    fake.push(
        fake_openai::Reply::function_call("shell", json!({"command": ["bash", "-lc", "echo hi"]}))
            .with_usage(fake_openai::Usage::new(9000, 150).with_cached(4000)),
    );
    fake.push(
        fake_openai::Reply::text("Done.")
            .with_usage(fake_openai::Usage::new(9500, 40).with_cached(8800)),
    );
    let mut env = BrainEnv::new();
    env.connect_openai(&fake);
    let out = env.run(
        env.codex().args([
            "exec",
            "--json",
            "--skip-git-repo-check",
            "-m",
            "gpt-5-codex",
            "say hi with a tool",
        ]),
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "codex failed: {}", out.stderr);

    let report = paios_usage(&env, "codex");
    let totals = &report["totals"];
    // Codex's input counts include the cached part; ccusage's (and ours) do not.
    assert_eq!(
        totals["inputTokens"],
        (9000 - 4000) + (9500 - 8800),
        "{report}"
    );
    assert_eq!(totals["cacheReadTokens"], 4000 + 8800, "{report}");
    assert_eq!(totals["outputTokens"], 190, "{report}");
    assert_eq!(totals["cacheCreationTokens"], 0, "{report}");
    assert_eq!(totals["totalTokens"], 9000 + 150 + 9500 + 40, "{report}");
    // gpt-5-codex: $1.25/M input, $0.125/M cached input, $10/M output.
    let expected = 5700.0 * 1.25e-6 + 12800.0 * 0.125e-6 + 190.0 * 10e-6;
    let cost = totals["totalCost"].as_f64().unwrap();
    assert!((cost - expected).abs() < 1e-9, "{cost} vs {expected}");
    assert_eq!(report["daily"][0]["modelsUsed"], json!(["gpt-5-codex"]));
}
