//! The one log generator: Claude Code, Codex and OpenClaw session trees for the usage tests and
//! the usage benchmark, deterministic (a seeded [`Rng`]), written with the one line writer
//! ([`lines`]).
//!
//! Claude Code trees come in shapes ([`Shape`]), all written by one session writer:
//!
//! - `quirks` (the tests'): short sessions over 75 days and two months, every oddity ccusage and
//!   PAIOS must agree on: messages streamed on several lines with growing usage, resumed
//!   sessions that start with copies of the previous session's last messages, malformed and
//!   `<synthetic>` lines, cache writes whose breakdown disagrees with their total, one-hour cache
//!   writes, requests past the 200k-token price step, a model without a price.
//! - `sessions` (the benchmark's default): what Claude Code writes during agentic work. A turn is
//!   a prompt, then one to eight API requests; each request is logged as one line per content
//!   block (thinking, text, tool calls) with the same message and request ids and growing usage,
//!   and each tool call is answered by a tool-result line (mostly under 2 KB, a tenth 8-40 KB of
//!   file contents or command output). Summary, system and file-history lines carry no usage.
//! - `dense`: the same with short tool results only (about twice the messages per MB).
//! - `busy`: everything short: about 400,000 messages per GB.
//! - `many`: the shape of a long-time user's history: thousands of shorter sessions (about 5,600
//!   in 1.1 GB) over half a year in 80 projects, a tenth of them resumed.
//!
//! Codex trees ([`write_codex_tree`]) carry cumulative and last-turn token counts, repeated
//! counts, turn contexts naming the model, and optionally `rate_limits` snapshots; OpenClaw
//! trees ([`write_openclaw_tree`]) are the gateway's per-agent session files.

use std::path::Path;

pub use crate::rng::Rng;

pub mod lines;

pub use lines::claude_line;
use lines::{
    Assistant, CacheBreakdown, ClaudeSession, ClaudeUsage, CodexRateLimits, CodexUsage,
    OpenClawUsage,
};

/// Models the Claude trees use (the last one only in the `quirks` shape).
pub const CLAUDE_MODELS: &[&str] = &[
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-5-20251101",
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-20250514",
];

/// A model neither PAIOS nor ccusage has a price for (in the `quirks` shape).
pub const UNPRICED_MODEL: &str = "claude-imaginary-9";

/// Which kind of Claude Code tree to write (`PAIOS_BENCH_USAGE_SHAPE` for the benchmark).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Quirks,
    Sessions,
    Dense,
    Busy,
    Many,
}

impl Shape {
    pub const ALL: [Shape; 5] = [
        Shape::Quirks,
        Shape::Sessions,
        Shape::Dense,
        Shape::Busy,
        Shape::Many,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Quirks => "quirks",
            Shape::Sessions => "sessions",
            Shape::Dense => "dense",
            Shape::Busy => "busy",
            Shape::Many => "many",
        }
    }
}

impl std::str::FromStr for Shape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Shape::ALL
            .into_iter()
            .find(|shape| shape.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown log shape {s:?} (expected {})",
                    Shape::ALL.map(Shape::name).join(", ")
                )
            })
    }
}

/// How much to write: about this many bytes, or this many sessions.
#[derive(Clone, Copy, Debug)]
pub enum Size {
    Bytes(u64),
    Sessions(usize),
}

/// What was written.
#[derive(Clone, Copy, Debug, Default)]
pub struct Written {
    pub bytes: u64,
    pub files: u64,
    /// API requests (messages), each counted once however many lines log it.
    pub messages: u64,
    pub lines: u64,
}

/// What a shape's sessions look like.
struct Profile {
    /// Turns per session: `min + below(spread)`; `None`: the caller's fixed number.
    turns: (u64, u64),
    /// API requests per turn.
    requests: (u64, u64),
    /// Percent of requests that think first.
    thinking: u64,
    /// Short prompts, replies, edits.
    short: bool,
    projects: u64,
    days: u64,
    /// Percent of sessions resumed (they start with copies of the previous one's last messages).
    resumed: u64,
    quirks: bool,
}

impl Shape {
    fn profile(self) -> Profile {
        let agentic = Profile {
            turns: (5, 60),
            requests: (1, 8),
            thinking: 40,
            short: false,
            projects: 20,
            days: 90,
            resumed: 0,
            quirks: false,
        };
        match self {
            Shape::Quirks => Profile {
                turns: (20, 1),
                requests: (1, 1),
                thinking: 0,
                short: true,
                projects: 3,
                days: 75,
                resumed: 25,
                quirks: true,
            },
            Shape::Sessions | Shape::Dense => agentic,
            Shape::Busy => Profile {
                thinking: 10,
                short: true,
                ..agentic
            },
            Shape::Many => Profile {
                turns: (2, 16),
                projects: 80,
                days: 180,
                resumed: 10,
                ..agentic
            },
        }
    }
}

/// A timestamp `second`s into day `day` of the trees (day 0 is 2026-09-20), with `millis`.
fn stamp(day: u64, second: u64, millis: u64) -> String {
    let base = chrono::NaiveDate::from_ymd_opt(2026, 9, 20)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let t = base
        + chrono::Duration::days(day as i64)
        + chrono::Duration::seconds(second as i64)
        + chrono::Duration::milliseconds(millis as i64);
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A small Claude Code log tree for the budget tests: `projects/p/s.jsonl` with messages of
/// Claude Sonnet 4.5 stamped now (100,000 output tokens cost $1.50), and the `[usage]` table
/// that points PAIOS at it (Codex at a folder that does not exist).
pub struct NowTree {
    /// The tree's root (what `CLAUDE_CONFIG_DIR` would be).
    pub dir: tempfile::TempDir,
    /// The messages' timestamp (RFC 3339, milliseconds, UTC).
    pub now: String,
}

impl NowTree {
    /// The tree with one message of `output_tokens` output tokens (request `r1`, message `m1`).
    pub fn with_one_message(output_tokens: u64) -> Self {
        let dir = tempfile::tempdir().expect("a temp folder");
        std::fs::create_dir_all(dir.path().join("projects/p")).expect("the project folder");
        let now = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let tree = Self { dir, now };
        tree.append(1, output_tokens);
        tree
    }

    /// Append message `n` (request `rN`, message `mN`) of `output_tokens` output tokens.
    pub fn append(&self, n: usize, output_tokens: u64) {
        use std::io::Write;
        let line = claude_line(
            &self.now,
            "s",
            &format!("r{n}"),
            &format!("m{n}"),
            "claude-sonnet-4-5-20250929",
            0,
            output_tokens,
            0,
            0,
            None,
            5,
        ) + "\n";
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("projects/p/s.jsonl"))
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .expect("append to the session file");
    }

    /// `[usage]` pointing at this tree (and at no Codex or OpenClaw logs), following it with a
    /// 100 ms debounce.
    pub fn usage_table(&self) -> String {
        let none = self.dir.path().join("none").display().to_string();
        format!(
            "[usage]\nclaude_dir = {:?}\ncodex_dir = {none:?}\nopenclaw_dir = {none:?}\ndebounce_ms = 100\n",
            self.dir.path().display().to_string(),
        )
    }
}

/// Write a Claude Code `projects/` tree under `config_dir`.
pub fn write_claude(
    config_dir: &Path,
    shape: Shape,
    seed: u64,
    size: Size,
) -> std::io::Result<Written> {
    write_claude_with(config_dir, shape, seed, size, None)
}

/// Write a `quirks` tree of `sessions` sessions of `messages_per_session` messages each under
/// `config_dir`; returns the number of lines written.
pub fn write_claude_tree(
    config_dir: &Path,
    seed: u64,
    sessions: usize,
    messages_per_session: usize,
) -> usize {
    write_claude_with(
        config_dir,
        Shape::Quirks,
        seed,
        Size::Sessions(sessions),
        Some(messages_per_session as u64),
    )
    .expect("writing the test logs")
    .lines as usize
}

fn write_claude_with(
    config_dir: &Path,
    shape: Shape,
    seed: u64,
    size: Size,
    turns: Option<u64>,
) -> std::io::Result<Written> {
    let profile = shape.profile();
    let mut rng = Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut written = Written::default();
    let mut previous: Vec<String> = Vec::new();
    let mut out = String::new();
    loop {
        let more = match size {
            Size::Bytes(b) => written.bytes < b,
            Size::Sessions(n) => written.files < n as u64,
        };
        if !more {
            return Ok(written);
        }
        let s = written.files;
        let project = config_dir
            .join("projects")
            .join(format!("-home-u-proj{}", s % profile.projects));
        std::fs::create_dir_all(&project)?;
        let session = if profile.quirks {
            format!("sess-{seed}-{s}")
        } else {
            rng.uuid()
        };
        out.clear();
        let resumed = s > 0 && rng.chance(profile.resumed);
        if resumed {
            for line in &previous {
                out.push_str(line);
            }
        }
        previous.clear();
        let turns = turns.unwrap_or(profile.turns.0 + rng.below(profile.turns.1));
        written.messages += write_session(
            &mut out,
            &mut rng,
            &profile,
            shape,
            &session,
            s,
            turns,
            &mut previous,
        );
        written.lines += out.bytes().filter(|&b| b == b'\n').count() as u64;
        written.bytes += out.len() as u64;
        written.files += 1;
        std::fs::write(project.join(format!("{session}.jsonl")), &out)?;
    }
}

/// One session's lines into `out`; returns its messages. `last` gets the final line of each of
/// its last three messages (what a resumed session copies).
#[allow(clippy::too_many_arguments)]
fn write_session(
    out: &mut String,
    rng: &mut Rng,
    p: &Profile,
    shape: Shape,
    session: &str,
    index: u64,
    turns: u64,
    last: &mut Vec<String>,
) -> u64 {
    let s = ClaudeSession {
        session: session.to_string(),
        cwd: format!("/home/u/proj{}", index % p.projects),
        version: if p.quirks {
            "2.1.3".to_string()
        } else {
            format!("2.0.{}", 30 + index % 30)
        },
    };
    let day = rng.below(p.days);
    let mut second = rng.below(if p.quirks { 12 * 3600 } else { 36_000 });
    let mut clock = |rng: &mut Rng, step: u64| {
        second += 1 + rng.below(step);
        stamp(day, second, rng.below(1000))
    };
    let mut messages = 0;
    let mut finals: Vec<String> = Vec::new();
    if !p.quirks {
        let summary = prose(rng, 40, 0);
        lines::claude_summary(out, &summary, &rng.uuid());
    }
    let model = CLAUDE_MODELS[rng.below(3) as usize];
    let mut parent = rng.uuid();
    let mut context = 8000 + rng.below(20000);
    for turn in 0..turns {
        let uuid = rng.uuid();
        let prompt = if p.quirks {
            format!("do thing {turn}")
        } else {
            prose(rng, 40, if p.short { 150 } else { 600 })
        };
        let ts = clock(rng, if p.quirks { 90 } else { 20 });
        lines::claude_prompt(out, &s, &parent, &uuid, &ts, &prompt);
        parent = uuid;
        if !p.quirks && rng.chance(10) {
            lines::claude_file_snapshot(out, &rng.uuid(), &ts);
        }
        let requests = p.requests.0 + rng.below(p.requests.1);
        for request in 0..requests {
            let final_request = request + 1 == requests;
            let (id, request_id) = if p.quirks {
                (
                    format!("msg_{index}_{turn}_{session}"),
                    format!("req_{index}_{turn}"),
                )
            } else {
                (
                    format!("msg_01{}", rng.base62(22)),
                    format!("req_011C{}", rng.base62(18)),
                )
            };
            // The request's content blocks, each logged on its own line.
            let mut blocks = Vec::new();
            let mut tools = Vec::new();
            let model = if p.quirks {
                CLAUDE_MODELS[rng.below(CLAUDE_MODELS.len() as u64) as usize]
            } else {
                model
            };
            let usage = if p.quirks {
                let long = model.starts_with("claude-sonnet") && rng.below(25) == 0;
                let input = if long {
                    200_000 + rng.below(300_000)
                } else {
                    rng.below(5_000)
                };
                let cache_write = rng.below(20_000);
                let cache_read = rng.below(150_000);
                let output = 1 + rng.below(4_000);
                let breakdown = if rng.below(4) == 0 {
                    let one_hour = rng.below(cache_write + 1);
                    CacheBreakdown::Split {
                        five_minute: cache_write - one_hour,
                        one_hour,
                    }
                } else {
                    CacheBreakdown::Absent
                };
                for _ in 0..1 + rng.below(3) {
                    blocks.push(format!(
                        r#"{{"type":"text","text":"{}"}}"#,
                        "x".repeat(40 + rng.below(200) as usize)
                    ));
                }
                ClaudeUsage {
                    input,
                    output,
                    cache_write,
                    cache_read,
                    breakdown,
                }
            } else {
                agentic_blocks(rng, p, &s.cwd, final_request, &mut blocks, &mut tools);
                let (input, cache_write, output) =
                    (1 + rng.below(10), rng.below(3000), 20 + rng.below(2000));
                let cache_read = context;
                context += cache_write + rng.below(2000);
                if context > 180_000 {
                    context = 10_000 + rng.below(20_000); // compacted
                }
                ClaudeUsage {
                    input,
                    output,
                    cache_write,
                    cache_read,
                    breakdown: CacheBreakdown::Split {
                        five_minute: cache_write,
                        one_hour: 0,
                    },
                }
            };
            let ts = clock(rng, 20);
            let parts = blocks.len() as u64;
            for (k, block) in blocks.iter().enumerate() {
                let uuid = rng.uuid();
                let last_part = k as u64 + 1 == parts;
                let stop = match (last_part, final_request) {
                    (true, true) if !p.quirks => r#""end_turn""#,
                    (true, false) if !p.quirks => r#""tool_use""#,
                    _ => "null",
                };
                let line_start = out.len();
                lines::claude_assistant(
                    out,
                    &s,
                    &Assistant {
                        parent: &parent,
                        uuid: &uuid,
                        timestamp: &ts,
                        message: &id,
                        request: &request_id,
                        model,
                        block,
                        stop,
                        usage: ClaudeUsage {
                            // Streamed: the output so far, the final count on the last line.
                            output: (usage.output * (k as u64 + 1) / parts).max(1),
                            ..usage
                        },
                    },
                );
                if last_part {
                    finals.push(out[line_start..].to_string());
                }
                parent = uuid;
            }
            messages += 1;
            for (tool_id, name) in tools {
                tool_result(out, rng, shape, &s, &mut parent, &tool_id, name, &ts);
            }
            if p.quirks {
                match rng.below(20) {
                    0 => out.push_str(lines::CLAUDE_MALFORMED[0]),
                    1 => lines::claude_synthetic(out, session, &ts, &format!("syn_{index}_{turn}")),
                    2 => out.push_str(lines::CLAUDE_MALFORMED[1]),
                    _ => {}
                }
            }
        }
        if !p.quirks && rng.chance(5) {
            let uuid = rng.uuid();
            let ts = clock(rng, 20);
            lines::claude_compacted(out, &s, &parent, &uuid, &ts);
            parent = uuid;
        }
    }
    if p.quirks {
        messages += quirks_tail(out, &s, index, day);
    }
    last.extend(finals.into_iter().rev().take(3));
    messages
}

/// The `quirks` shape's last lines of a session: cache writes whose breakdown disagrees with
/// the logged total (ccusage counts the breakdown, and an empty one as none), and a model
/// without a price.
fn quirks_tail(out: &mut String, s: &ClaudeSession, index: u64, day: u64) -> u64 {
    let mut messages = 0;
    let mut one = |out: &mut String, ts: &str, id: &str, model: &str, usage: ClaudeUsage| {
        let uuid = format!("u-{id}");
        lines::claude_assistant(
            out,
            s,
            &Assistant {
                parent: "p",
                uuid: &uuid,
                timestamp: ts,
                message: &format!("msg_{id}"),
                request: &format!("req_{id}"),
                model,
                block: r#"{"type":"text","text":"xxxxxxxxxx"}"#,
                stop: "null",
                usage,
            },
        );
        messages += 1;
    };
    if index % 5 == 1 {
        let breakdown = if index % 10 == 1 {
            r#"{"ephemeral_5m_input_tokens":250,"ephemeral_1h_input_tokens":700}"#
        } else {
            "{}"
        };
        one(
            out,
            &stamp(day, 80_000, 0),
            &format!("cache_{index}"),
            CLAUDE_MODELS[index as usize % CLAUDE_MODELS.len()],
            ClaudeUsage {
                input: 100,
                output: 10,
                cache_write: 1000,
                cache_read: 0,
                breakdown: CacheBreakdown::Raw(breakdown),
            },
        );
    }
    if index == 0 {
        one(
            out,
            &stamp(day, 80_100, 0),
            "unknown",
            UNPRICED_MODEL,
            ClaudeUsage {
                input: 1000,
                output: 100,
                cache_write: 0,
                cache_read: 0,
                breakdown: CacheBreakdown::Absent,
            },
        );
    }
    messages
}

/// An agentic request's content blocks (thinking, text, tool calls) and the tools it calls.
fn agentic_blocks(
    rng: &mut Rng,
    p: &Profile,
    cwd: &str,
    final_request: bool,
    blocks: &mut Vec<String>,
    tools: &mut Vec<(String, &'static str)>,
) {
    let short = p.short;
    if rng.chance(p.thinking) {
        let thinking = prose(rng, 100, if short { 300 } else { 1500 });
        let signature = {
            let len = 200 + rng.below(if short { 200 } else { 800 }) as usize;
            rng.base62(len)
        };
        blocks.push(format!(
            r#"{{"type":"thinking","thinking":"{thinking}","signature":"{signature}"}}"#
        ));
    }
    if final_request || rng.chance(50) {
        let text = prose(rng, 20, if short { 150 } else { 800 });
        blocks.push(format!(r#"{{"type":"text","text":"{text}"}}"#));
    }
    if !final_request {
        for _ in 0..1 + rng.below(100) / 80 {
            let tool_id = format!("toolu_01{}", rng.base62(22));
            let file = format!("{cwd}/src/{}.rs", rng.below(40));
            let (name, input) = match rng.below(4) {
                0 => ("Read", format!(r#"{{"file_path":"{file}"}}"#)),
                1 => (
                    "Edit",
                    format!(
                        r#"{{"file_path":"{file}","old_string":"{}","new_string":"{}"}}"#,
                        code_text(rng, 60, if short { 100 } else { 600 }),
                        code_text(rng, 60, if short { 100 } else { 600 })
                    ),
                ),
                2 => (
                    "Grep",
                    format!(
                        r#"{{"pattern":"fn {}","path":"{cwd}","output_mode":"content"}}"#,
                        rng.below(100)
                    ),
                ),
                _ => (
                    "Bash",
                    format!(
                        r#"{{"command":"cargo test -p paios {}","description":"Run the tests"}}"#,
                        rng.below(100)
                    ),
                ),
            };
            blocks.push(format!(
                r#"{{"type":"tool_use","id":"{tool_id}","name":"{name}","input":{input}}}"#
            ));
            tools.push((tool_id, name));
        }
    }
    if blocks.is_empty() {
        let text = prose(rng, 20, 300);
        blocks.push(format!(r#"{{"type":"text","text":"{text}"}}"#));
    }
}

#[allow(clippy::too_many_arguments)]
fn tool_result(
    out: &mut String,
    rng: &mut Rng,
    shape: Shape,
    s: &ClaudeSession,
    parent: &mut String,
    tool_id: &str,
    name: &str,
    ts: &str,
) {
    let uuid = rng.uuid();
    let (min, spread) = match shape {
        Shape::Busy => (40, 400),
        Shape::Dense | Shape::Many => match rng.below(100) {
            0..80 => (80, 900),
            _ => (1000, 3000),
        },
        _ => match rng.below(100) {
            0..60 => (80, 900),
            60..90 => (1000, 6000),
            _ => (8000, 32000),
        },
    };
    let text = code_text(rng, min, spread);
    let len = text.len();
    let cwd = &s.cwd;
    let result = match name {
        "Read" => format!(
            r#"{{"type":"text","file":{{"filePath":"{cwd}/src/lib.rs","content":"{text}","numLines":{},"startLine":1,"totalLines":{}}}}}"#,
            len / 60,
            len / 60
        ),
        _ => format!(r#"{{"stdout":"{text}","stderr":"","interrupted":false,"isImage":false}}"#),
    };
    lines::claude_tool_result(out, s, parent, &uuid, ts, tool_id, &text, &result);
    *parent = uuid;
}

/// JSON string contents (already escaped) that look like source code and command output: lines
/// of about 60 bytes joined by `\n`, with quotes and tabs escaped here and there.
fn code_text(rng: &mut Rng, min: usize, spread: u64) -> String {
    let len = min + rng.below(spread) as usize;
    const WORDS: &[&str] = &[
        "let",
        "mut",
        "fn",
        "pub",
        "self",
        "return",
        "Ok(())",
        "match",
        "if",
        "else",
        "for",
        "in",
        "impl",
        "struct",
        "use",
        "crate::usage",
        "&str",
        "String",
        "Vec<u8>",
        "=>",
        "assert_eq!",
        "None",
        "Some(x)",
        "error:",
        "warning:",
        "test",
        "passed",
        "{",
        "}",
        "config",
        "path",
        "line",
        "bytes",
        "0.273",
        "1028",
        "ledger",
        "parse",
        "request",
    ];
    let mut out = String::with_capacity(len + 16);
    let mut column = 0;
    while out.len() < len {
        match rng.below(40) {
            0 => out.push_str("\\\"quoted\\\""),
            1 => out.push_str("\\t"),
            _ => out.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]),
        }
        column += 6;
        if column > 60 {
            out.push_str("\\n");
            column = 0;
        } else {
            out.push(' ');
        }
    }
    out
}

/// Plain prose (a prompt, a reply, a model's thinking), with a paragraph break now and then.
fn prose(rng: &mut Rng, min: usize, spread: u64) -> String {
    let len = min + rng.below(spread) as usize;
    const WORDS: &[&str] = &[
        "the", "ledger", "reads", "only", "what", "was", "appended", "so", "a", "rerun", "is",
        "cheap", "check", "tests", "first", "then", "fix", "failing", "case", "and", "update",
        "docs", "I", "will", "look", "at", "file", "because", "error", "shows", "that",
    ];
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        out.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
        out.push_str(if rng.chance(3) { ".\\n\\n" } else { " " });
    }
    out
}

/// Append one new assistant message (10 input, 20 output tokens) to the first session file of
/// the first project; returns the bytes appended.
pub fn append_one(config_dir: &Path) -> std::io::Result<usize> {
    use std::io::Write;
    let project = config_dir.join("projects").join("-home-u-proj0");
    let file = std::fs::read_dir(&project)?
        .flatten()
        .map(|e| e.path())
        .min()
        .ok_or_else(|| std::io::Error::other("no session file"))?;
    let line = claude_line(
        "2026-11-20T10:00:00.000Z",
        "appended",
        "req_appended",
        "msg_appended",
        CLAUDE_MODELS[0],
        10,
        20,
        0,
        0,
        None,
        0,
    ) + "\n";
    std::fs::OpenOptions::new()
        .append(true)
        .open(file)?
        .write_all(line.as_bytes())?;
    Ok(line.len())
}

// ---- Codex ------------------------------------------------------------------------------------

pub const CODEX_MODELS: &[&str] = &["gpt-5-codex", "gpt-5", "gpt-5.4"];

/// Write a Codex `sessions/` tree under `codex_home`: `sessions` sessions of `turns` turns.
pub fn write_codex_tree(codex_home: &Path, seed: u64, sessions: usize, turns: usize) {
    write_codex_tree_with(codex_home, seed, sessions, turns, |_, _| None);
}

/// [`write_codex_tree`], each token count carrying the rate limits `limits(session, turn)`
/// gives (`None`: `"rate_limits":null`).
pub fn write_codex_tree_with(
    codex_home: &Path,
    seed: u64,
    sessions: usize,
    turns: usize,
    limits: impl Fn(usize, usize) -> Option<CodexRateLimits>,
) {
    let mut rng = Rng::new(seed);
    for s in 0..sessions {
        let day = rng.below(75);
        let start = stamp(day, rng.below(40_000), 0);
        let date = &start[..10];
        let dir = codex_home
            .join("sessions")
            .join(&date[..4])
            .join(&date[5..7])
            .join(&date[8..10]);
        std::fs::create_dir_all(&dir).unwrap();
        let mut out = String::new();
        lines::codex_session_meta(&mut out, &start, &format!("s{s}"), "0.169.0");
        let mut total = CodexUsage::default();
        let skip_first_context = s % 5 == 4;
        for t in 0..turns {
            let at = stamp(day, 40_000 + (t as u64) * 300 + rng.below(200), 0);
            if t % 3 == 0 && !(skip_first_context && t == 0) {
                let model = CODEX_MODELS[rng.below(CODEX_MODELS.len() as u64) as usize];
                lines::codex_turn_context(&mut out, &at, model);
            }
            lines::codex_reply(&mut out, &at, &format!("done {t}"));
            let long = rng.below(15) == 0;
            let input = if long {
                280_000 + rng.below(100_000)
            } else {
                1_000 + rng.below(30_000)
            };
            let output = 10 + rng.below(3_000);
            let turn = CodexUsage {
                input,
                cached: rng.below(input),
                output,
                reasoning: rng.below(output),
            };
            total.add(&turn);
            let with_last = rng.below(6) != 0;
            let limits = limits(s, t);
            let line_start = out.len();
            lines::codex_token_count(
                &mut out,
                &at,
                &total,
                with_last.then_some(&turn),
                limits.as_ref(),
            );
            // Codex repeats a token count now and then without new usage.
            if rng.below(5) == 0 {
                let line = out[line_start..].to_string();
                out.push_str(&line);
            }
            if rng.below(25) == 0 {
                out.push_str(lines::CODEX_MALFORMED);
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

// ---- OpenClaw ---------------------------------------------------------------------------------

/// Models the OpenClaw trees use, with their providers.
pub const OPENCLAW_MODELS: &[(&str, &str)] = &[
    ("openai", "gpt-5"),
    ("anthropic", "claude-sonnet-4-5"),
    ("openai", "gpt-5-mini"),
];

/// Write an OpenClaw state folder's session files under `state_dir`
/// (`agents/<agent>/sessions/<session>.jsonl`, two agents): `sessions` sessions of `messages`
/// assistant messages. Some messages carry the gateway's own cost, some name their model, the
/// others take the last model change's (or model snapshot's); a few sessions are archived
/// (`.jsonl.deleted.<when>`, `.jsonl.reset.<when>`), as the gateway keeps them, and some live
/// sessions also have an archived copy of their first messages (counted once). Some files hold
/// a line that is not JSON and a message cut short.
pub fn write_openclaw_tree(state_dir: &Path, seed: u64, sessions: usize, messages: usize) {
    let mut rng = Rng::new(seed);
    for s in 0..sessions {
        let agent = if s % 3 == 2 { "worker" } else { "main" };
        let dir = state_dir.join("agents").join(agent).join("sessions");
        std::fs::create_dir_all(&dir).unwrap();
        let day = rng.below(60);
        let mut second = rng.below(50_000);
        let mut out = String::new();
        let (provider, model) = OPENCLAW_MODELS[rng.below(OPENCLAW_MODELS.len() as u64) as usize];
        lines::openclaw_model_change(&mut out, &stamp(day, second, 0), provider, model);
        let mut first_half = String::new();
        for m in 0..messages {
            second += 20 + rng.below(400);
            let millis = rng.below(1000);
            let ts = stamp(day, second, millis);
            let epoch_ms = chrono::DateTime::parse_from_rfc3339(&ts)
                .unwrap()
                .timestamp_millis();
            if m == messages / 2 {
                first_half = out.clone();
                if s % 4 == 1 {
                    let (provider, model) =
                        OPENCLAW_MODELS[rng.below(OPENCLAW_MODELS.len() as u64) as usize];
                    lines::openclaw_model_snapshot(&mut out, &ts, provider, model);
                }
                if s % 5 == 3 {
                    out.push_str(lines::OPENCLAW_MALFORMED[0]);
                    out.push_str(lines::OPENCLAW_MALFORMED[1]);
                }
            }
            lines::openclaw_user(&mut out, &format!("u{s}-{m}"), &ts, "do the thing");
            let named = (rng.below(3) == 0)
                .then(|| OPENCLAW_MODELS[rng.below(OPENCLAW_MODELS.len() as u64) as usize].1);
            let usage = OpenClawUsage {
                input: 100 + rng.below(20_000),
                output: 10 + rng.below(2_000),
                cache_read: rng.below(50_000),
                cache_write: rng.below(4) * rng.below(3_000),
                cost: (rng.below(2) == 0).then(|| rng.below(50_000) as f64 / 1e6),
            };
            lines::openclaw_assistant(&mut out, &format!("a{s}-{m}"), &ts, epoch_ms, named, &usage);
        }
        let name = format!("s{seed}-{s}.jsonl");
        let archived = |what: &str| format!("{name}.{what}.2026-11-01T00-00-00.000Z");
        match s % 7 {
            5 => std::fs::write(dir.join(archived("deleted")), out).unwrap(),
            6 => std::fs::write(dir.join(archived("reset")), out).unwrap(),
            _ => {
                if s % 7 == 4 {
                    std::fs::write(dir.join(archived("reset")), &first_half).unwrap();
                }
                std::fs::write(dir.join(name), out).unwrap();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of every shape is JSON (but the malformed ones, on purpose), and one API
    /// request is counted once however many lines log it.
    #[test]
    fn every_shape_writes_json_lines() {
        for shape in Shape::ALL {
            let dir = tempfile::tempdir().unwrap();
            let written = write_claude(dir.path(), shape, 3, Size::Bytes(300_000)).unwrap();
            assert!(written.files > 0 && written.messages > 0, "{shape:?}");
            let mut ids = std::collections::HashSet::new();
            let mut lines_seen = 0;
            for project in std::fs::read_dir(dir.path().join("projects")).unwrap() {
                for file in std::fs::read_dir(project.unwrap().path()).unwrap() {
                    let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
                    for line in text.lines() {
                        lines_seen += 1;
                        if lines::CLAUDE_MALFORMED.iter().any(|m| m.trim_end() == line) {
                            continue;
                        }
                        let v: serde_json::Value = serde_json::from_str(line)
                            .unwrap_or_else(|e| panic!("{shape:?}: {e}: {line}"));
                        if v["message"]["usage"].is_object()
                            && v["message"]["model"] != "<synthetic>"
                        {
                            ids.insert((v["message"]["id"].clone(), v["requestId"].clone()));
                        }
                    }
                }
            }
            assert_eq!(lines_seen, written.lines, "{shape:?}");
            assert_eq!(ids.len() as u64, written.messages, "{shape:?}");
        }
    }
}
