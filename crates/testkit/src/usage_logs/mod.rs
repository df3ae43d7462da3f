//! Generated Claude Code and Codex log trees for the usage tests and the benchmark's twin:
//! several projects, sessions, months and models; messages logged several times with growing
//! usage; resumed sessions that copy earlier messages; malformed and synthetic lines. Lines are
//! compact JSON, as the real CLIs write them.

use std::fmt::Write as _;
use std::path::Path;

pub use crate::rng::Rng;

pub const CLAUDE_MODELS: &[&str] = &[
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-5-20251101",
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-20250514",
];

fn ts(day_offset: u64, second: u64) -> String {
    let base = chrono::NaiveDate::from_ymd_opt(2026, 9, 20)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let t =
        base + chrono::Duration::days(day_offset as i64) + chrono::Duration::seconds(second as i64);
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One assistant line.
#[allow(clippy::too_many_arguments)]
pub fn claude_line(
    timestamp: &str,
    session: &str,
    request: &str,
    message: &str,
    model: &str,
    input: u64,
    output: u64,
    cache_write: u64,
    cache_read: u64,
    one_hour: Option<u64>,
    padding: usize,
) -> String {
    let cache = match one_hour {
        Some(h) => format!(
            r#","cache_creation":{{"ephemeral_5m_input_tokens":{},"ephemeral_1h_input_tokens":{h}}}"#,
            cache_write - h
        ),
        None => String::new(),
    };
    format!(
        r#"{{"parentUuid":"p","isSidechain":false,"userType":"external","cwd":"/home/u/proj","sessionId":"{session}","version":"2.1.3","type":"assistant","message":{{"id":"{message}","type":"message","role":"assistant","model":"{model}","content":[{{"type":"text","text":"{}"}}],"stop_reason":null,"usage":{{"input_tokens":{input},"cache_creation_input_tokens":{cache_write},"cache_read_input_tokens":{cache_read},"output_tokens":{output}{cache},"service_tier":"standard"}}}},"requestId":"{request}","uuid":"u-{message}-{output}","timestamp":"{timestamp}"}}"#,
        "x".repeat(padding)
    )
}

/// Write a Claude `projects/` tree under `config_dir`; returns the number of lines written.
pub fn write_claude_tree(
    config_dir: &Path,
    seed: u64,
    sessions: usize,
    messages_per_session: usize,
) -> usize {
    let mut rng = Rng::new(seed);
    let mut lines_total = 0;
    let mut previous: Vec<String> = Vec::new();
    for s in 0..sessions {
        let project = config_dir
            .join("projects")
            .join(format!("-home-u-proj{}", s % 3));
        std::fs::create_dir_all(&project).unwrap();
        let session = format!("sess-{seed}-{s}");
        let mut out = String::new();
        // A resumed session starts with copies of the previous session's last messages.
        if s % 4 == 3 {
            for line in previous.iter().rev().take(3) {
                out.push_str(line);
                out.push('\n');
            }
        }
        previous.clear();
        let day = rng.below(75);
        for m in 0..messages_per_session {
            let second = m as u64 * 97 + rng.below(60);
            let t = ts(day, second);
            let model = CLAUDE_MODELS[rng.below(CLAUDE_MODELS.len() as u64) as usize];
            let long = model.starts_with("claude-sonnet") && rng.below(25) == 0;
            let input = if long {
                200_000 + rng.below(300_000)
            } else {
                rng.below(5_000)
            };
            let cache_write = rng.below(20_000);
            let cache_read = rng.below(150_000);
            let output = 1 + rng.below(4_000);
            let one_hour = (rng.below(4) == 0).then(|| rng.below(cache_write + 1));
            let id = format!("msg_{seed}_{s}_{m}");
            let req = format!("req_{seed}_{s}_{m}");
            // User turn (no usage).
            let _ = writeln!(
                out,
                r#"{{"type":"user","sessionId":"{session}","message":{{"role":"user","content":"do thing {m}"}},"timestamp":"{t}"}}"#
            );
            // Streamed: partial lines first, the final (largest) usage last.
            let parts = 1 + rng.below(3);
            for p in 1..=parts {
                let partial = output * p / parts;
                let line = claude_line(
                    &t,
                    &session,
                    &req,
                    &id,
                    model,
                    input,
                    partial.max(1),
                    cache_write,
                    cache_read,
                    one_hour,
                    40 + rng.below(200) as usize,
                );
                out.push_str(&line);
                out.push('\n');
                if p == parts {
                    previous.push(line);
                }
            }
            match rng.below(20) {
                0 => out.push_str(
                    "{\"type\":\"assistant\",\"message\":{\"usage\":{\"input_tokens\":12\n",
                ),
                1 => {
                    let _ = writeln!(
                        out,
                        r#"{{"type":"assistant","sessionId":"{session}","timestamp":"{t}","message":{{"id":"syn_{s}_{m}","model":"<synthetic>","usage":{{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}}}}"#
                    );
                }
                2 => out.push_str("not json at all \"usage\"\n"),
                _ => {}
            }
        }
        // Cache writes whose breakdown disagrees with the logged total (1,000): ccusage counts
        // the breakdown, and an empty breakdown as none.
        if s % 5 == 1 {
            let breakdown = if s % 10 == 1 {
                r#"{"ephemeral_5m_input_tokens":250,"ephemeral_1h_input_tokens":700}"#
            } else {
                "{}"
            };
            let line = claude_line(
                &ts(day, 80_000),
                &session,
                &format!("req_cache_{s}"),
                &format!("msg_cache_{s}"),
                CLAUDE_MODELS[s % CLAUDE_MODELS.len()],
                100,
                10,
                1000,
                0,
                None,
                10,
            );
            let tier = r#","service_tier""#;
            assert!(line.contains(tier));
            out.push_str(&line.replace(tier, &format!(r#","cache_creation":{breakdown}{tier}"#)));
            out.push('\n');
        }
        // A model PAIOS (and ccusage) has no price for.
        if s == 0 {
            out.push_str(&claude_line(
                &ts(day, 90_000),
                &session,
                "req_unknown",
                "msg_unknown",
                "claude-imaginary-9",
                1000,
                100,
                0,
                0,
                None,
                10,
            ));
            out.push('\n');
        }
        lines_total += out.lines().count();
        std::fs::write(project.join(format!("{session}.jsonl")), out).unwrap();
    }
    lines_total
}

pub const CODEX_MODELS: &[&str] = &["gpt-5-codex", "gpt-5", "gpt-5.4"];

fn codex_usage(input: u64, cached: u64, output: u64, reasoning: u64) -> String {
    format!(
        r#"{{"input_tokens":{input},"cached_input_tokens":{cached},"output_tokens":{output},"reasoning_output_tokens":{reasoning},"total_tokens":{}}}"#,
        input + output
    )
}

/// Write a Codex `sessions/` tree under `codex_home`.
pub fn write_codex_tree(codex_home: &Path, seed: u64, sessions: usize, turns: usize) {
    let mut rng = Rng::new(seed);
    for s in 0..sessions {
        let day = rng.below(75);
        let start = ts(day, rng.below(40_000));
        let date = &start[..10];
        let dir = codex_home
            .join("sessions")
            .join(&date[..4])
            .join(&date[5..7])
            .join(&date[8..10]);
        std::fs::create_dir_all(&dir).unwrap();
        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"{{"timestamp":"{start}","type":"session_meta","payload":{{"id":"s{s}","cwd":"/home/u/proj","cli_version":"0.169.0"}}}}"#
        );
        let (mut ti, mut tc, mut to, mut tr) = (0u64, 0u64, 0u64, 0u64);
        let skip_first_context = s % 5 == 4;
        for t in 0..turns {
            let at = ts(day, 40_000 + (t as u64) * 300 + rng.below(200));
            if t % 3 == 0 && !(skip_first_context && t == 0) {
                let model = CODEX_MODELS[rng.below(CODEX_MODELS.len() as u64) as usize];
                let _ = writeln!(
                    out,
                    r#"{{"timestamp":"{at}","type":"turn_context","payload":{{"cwd":"/home/u/proj","approval_policy":"never","model":"{model}","summary":"auto"}}}}"#
                );
            }
            let _ = writeln!(
                out,
                r#"{{"timestamp":"{at}","type":"response_item","payload":{{"type":"message","role":"assistant","content":[{{"type":"output_text","text":"done {t}"}}]}}}}"#
            );
            let long = rng.below(15) == 0;
            let input = if long {
                280_000 + rng.below(100_000)
            } else {
                1_000 + rng.below(30_000)
            };
            let cached = rng.below(input);
            let output = 10 + rng.below(3_000);
            let reasoning = rng.below(output);
            ti += input;
            tc += cached;
            to += output;
            tr += reasoning;
            let with_last = rng.below(6) != 0;
            let last = if with_last {
                format!(
                    r#","last_token_usage":{}"#,
                    codex_usage(input, cached, output, reasoning)
                )
            } else {
                String::new()
            };
            let line = format!(
                r#"{{"timestamp":"{at}","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{}{last},"model_context_window":400000}},"rate_limits":null}}}}"#,
                codex_usage(ti, tc, to, tr)
            );
            out.push_str(&line);
            out.push('\n');
            // Codex repeats a token count now and then without new usage.
            if rng.below(5) == 0 {
                out.push_str(&line);
                out.push('\n');
            }
            if rng.below(25) == 0 {
                out.push_str("{\"timestamp\":\"x\",\"type\":\"event_msg\",\"payload\":{\"type\":\"token_count\",\"info\":{\"total\n");
            }
        }
        std::fs::write(
            dir.join(format!(
                "rollout-{}-s{seed}x{s}.jsonl",
                start.replace(':', "-")
            )),
            out,
        )
        .unwrap();
    }
}

/// The large trees of the shapes users have, for the usage benchmark.
pub mod shapes;
