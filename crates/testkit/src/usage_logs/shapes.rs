//! Generated Claude Code logs of the shapes real users have, for `paios bench usage`. Four
//! shapes:
//!
//! - `sessions` (the default): what Claude Code writes during agentic work. A turn is a prompt
//!   line, then one to eight API requests; each request is logged as one line per content block
//!   (thinking, text, tool calls) with the same message and request ids and growing usage, and
//!   each tool call is answered by a tool-result line (mostly under 2 KB, a tenth of them 8-40 KB
//!   of file contents or command output, with the escapes such text has). Ids are UUIDs and
//!   Anthropic-style ids; there are summary, system and file-history lines that carry no usage.
//!   ccusage spends about 1.9 ms and 0.18 MB of memory per MB of these logs here.
//! - `dense`: the same sessions with short tool results only (80% under 1 KB, the rest under
//!   4 KB), so about twice the messages per MB (ccusage: 3.5 ms and 0.34 MB per MB).
//! - `busy`: the same sessions with everything short (tool results of 40-440 bytes, short
//!   prompts, replies and edits, thinking in a tenth of the requests): about 400,000 messages per
//!   GB. Of the four it is the closest to the workload behind the issue's reference figure for
//!   ccusage (522 MB in 3.4 s, 403 MB peak, i.e. 6.5 ms and 0.77 MB per MB): ccusage spends about
//!   6 ms and 0.55 MB per MB here.
//! - `uniform`: the first generator: a 0.5-7.5 KB tool result and one to three assistant lines
//!   of plain words per message, fewer and longer lines. Kept so figures stay comparable.
//!
//! All are deterministic (a fixed xorshift seed), so runs on one machine read the same tree.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::rng::Rng;

/// Which kind of tree [`write_tree`] writes (`PAIOS_BENCH_USAGE_SHAPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Sessions,
    Dense,
    Busy,
    Uniform,
}

impl std::str::FromStr for Shape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sessions" => Ok(Shape::Sessions),
            "dense" => Ok(Shape::Dense),
            "busy" => Ok(Shape::Busy),
            "uniform" => Ok(Shape::Uniform),
            other => Err(format!(
                "unknown log shape {other:?} (expected sessions, dense, busy or uniform)"
            )),
        }
    }
}

/// Write about `target` bytes of logs under `root/projects`; returns (bytes, files, messages).
pub fn write_tree(root: &Path, target: u64, shape: Shape) -> std::io::Result<(u64, u64, u64)> {
    match shape {
        Shape::Sessions | Shape::Dense | Shape::Busy => write_sessions(root, target, shape),
        Shape::Uniform => write_uniform(root, target),
    }
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

/// A tool result's size: mostly small, a tenth large (file contents, build output).
fn result_len(rng: &mut Rng, shape: Shape) -> (usize, u64) {
    match shape {
        Shape::Busy => return (40, 400),
        Shape::Dense => {
            return match rng.below(100) {
                0..80 => (80, 900),
                _ => (1000, 3000),
            };
        }
        _ => {}
    }
    match rng.below(100) {
        0..60 => (80, 900),
        60..90 => (1000, 6000),
        _ => (8000, 32000),
    }
}

fn write_sessions(root: &Path, target: u64, shape: Shape) -> std::io::Result<(u64, u64, u64)> {
    let busy = shape == Shape::Busy;
    let mut rng = Rng::new(0x9e3779b97f4a7c15);
    let (mut bytes, mut files, mut messages) = (0u64, 0u64, 0u64);
    while bytes < target {
        let slug = format!("-home-u-proj{}", files % 20);
        let project = root.join("projects").join(&slug);
        std::fs::create_dir_all(&project)?;
        let session = rng.uuid();
        let path = project.join(format!("{session}.jsonl"));
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        let mut emit = |line: &str, bytes: &mut u64| -> std::io::Result<()> {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            *bytes += line.len() as u64 + 1;
            Ok(())
        };
        let cwd = format!("/home/u/proj{}", files % 20);
        let common = format!(
            r#""isSidechain":false,"userType":"external","cwd":"{cwd}","sessionId":"{session}","version":"2.0.{}","gitBranch":"main""#,
            30 + files % 30
        );
        let day = rng.below(90);
        let mut second = rng.below(36_000);
        let mut stamp = |rng: &mut Rng| {
            second += 1 + rng.below(20);
            format!(
                "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                8 + day / 30,
                1 + day % 28,
                (second / 3600) % 24,
                (second / 60) % 60,
                second % 60,
                rng.below(1000)
            )
        };
        let summary = prose(&mut rng, 40, 0);
        emit(
            &format!(
                r#"{{"type":"summary","summary":"{summary}","leafUuid":"{}"}}"#,
                rng.uuid()
            ),
            &mut bytes,
        )?;
        let model = MODELS[rng.below(MODELS.len() as u64) as usize];
        let mut parent = rng.uuid();
        let mut context = 8000 + rng.below(20000);
        let turns = 5 + rng.below(60);
        for _ in 0..turns {
            let uuid = rng.uuid();
            let prompt = prose(&mut rng, 40, if busy { 150 } else { 600 });
            let ts = stamp(&mut rng);
            emit(
                &format!(
                    r#"{{"parentUuid":"{parent}",{common},"type":"user","message":{{"role":"user","content":"{prompt}"}},"uuid":"{uuid}","timestamp":"{ts}","thinkingMetadata":{{"level":"high","disabled":false,"triggers":[]}},"todos":[]}}"#
                ),
                &mut bytes,
            )?;
            parent = uuid;
            if rng.chance(10) {
                let uuid = rng.uuid();
                emit(
                    &format!(
                        r#"{{"type":"file-history-snapshot","messageId":"{uuid}","snapshot":{{"messageId":"{uuid}","trackedFileBackups":{{}},"timestamp":"{ts}"}},"isSnapshotUpdate":false}}"#
                    ),
                    &mut bytes,
                )?;
            }
            let requests = 1 + rng.below(8);
            for request in 0..requests {
                let id = format!("msg_01{}", rng.base62(22));
                let request_id = format!("req_011C{}", rng.base62(18));
                let last = request + 1 == requests;
                // Content blocks of this response, each logged on its own line.
                let mut blocks = Vec::new();
                if rng.chance(if busy { 10 } else { 40 }) {
                    let thinking = prose(&mut rng, 100, if busy { 300 } else { 1500 });
                    let signature = {
                        let len = 200 + rng.below(if busy { 200 } else { 800 }) as usize;
                        rng.base62(len)
                    };
                    blocks.push(format!(
                        r#"{{"type":"thinking","thinking":"{thinking}","signature":"{signature}"}}"#
                    ));
                }
                if last || rng.chance(50) {
                    let text = prose(&mut rng, 20, if busy { 150 } else { 800 });
                    blocks.push(format!(r#"{{"type":"text","text":"{text}"}}"#));
                }
                let mut tools = Vec::new();
                if !last {
                    for _ in 0..1 + rng.below(100) / 80 {
                        let tool_id = format!("toolu_01{}", rng.base62(22));
                        let file = format!("{cwd}/src/{}.rs", rng.below(40));
                        let (name, input) = match rng.below(4) {
                            0 => ("Read", format!(r#"{{"file_path":"{file}"}}"#)),
                            1 => (
                                "Edit",
                                format!(
                                    r#"{{"file_path":"{file}","old_string":"{}","new_string":"{}"}}"#,
                                    code_text(&mut rng, 60, if busy { 100 } else { 600 }),
                                    code_text(&mut rng, 60, if busy { 100 } else { 600 })
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
                    let text = prose(&mut rng, 20, 300);
                    blocks.push(format!(r#"{{"type":"text","text":"{text}"}}"#));
                }
                let (input, cache_write, output) =
                    (1 + rng.below(10), rng.below(3000), 20 + rng.below(2000));
                let cache_read = context;
                context += cache_write + rng.below(2000);
                if context > 180_000 {
                    context = 10_000 + rng.below(20_000); // compacted
                }
                let ts = stamp(&mut rng);
                let parts = blocks.len() as u64;
                for (k, block) in blocks.iter().enumerate() {
                    let uuid = rng.uuid();
                    let shown = (output * (k as u64 + 1) / parts).max(1);
                    let stop = if k as u64 + 1 == parts && last {
                        r#""end_turn""#
                    } else if k as u64 + 1 == parts {
                        r#""tool_use""#
                    } else {
                        "null"
                    };
                    emit(
                        &format!(
                            r#"{{"parentUuid":"{parent}",{common},"message":{{"model":"{model}","id":"{id}","type":"message","role":"assistant","content":[{block}],"stop_reason":{stop},"stop_sequence":null,"usage":{{"input_tokens":{input},"cache_creation_input_tokens":{cache_write},"cache_read_input_tokens":{cache_read},"cache_creation":{{"ephemeral_5m_input_tokens":{cache_write},"ephemeral_1h_input_tokens":0}},"output_tokens":{shown},"service_tier":"standard"}}}},"requestId":"{request_id}","type":"assistant","uuid":"{uuid}","timestamp":"{ts}"}}"#
                        ),
                        &mut bytes,
                    )?;
                    parent = uuid;
                }
                messages += 1;
                for (tool_id, name) in tools {
                    let uuid = rng.uuid();
                    let (min, spread) = result_len(&mut rng, shape);
                    let text = code_text(&mut rng, min, spread);
                    let len = text.len();
                    let result = match name {
                        "Read" => format!(
                            r#"{{"type":"text","file":{{"filePath":"{cwd}/src/lib.rs","content":"{text}","numLines":{},"startLine":1,"totalLines":{}}}}}"#,
                            len / 60,
                            len / 60
                        ),
                        _ => format!(
                            r#"{{"stdout":"{text}","stderr":"","interrupted":false,"isImage":false}}"#
                        ),
                    };
                    let ts = stamp(&mut rng);
                    emit(
                        &format!(
                            r#"{{"parentUuid":"{parent}",{common},"type":"user","message":{{"role":"user","content":[{{"tool_use_id":"{tool_id}","type":"tool_result","content":"{text}","is_error":false}}]}},"uuid":"{uuid}","timestamp":"{ts}","toolUseResult":{result}}}"#
                        ),
                        &mut bytes,
                    )?;
                    parent = uuid;
                }
            }
            if rng.chance(5) {
                let uuid = rng.uuid();
                let ts = stamp(&mut rng);
                emit(
                    &format!(
                        r#"{{"parentUuid":"{parent}",{common},"type":"system","subtype":"informational","content":"Conversation compacted","isMeta":false,"timestamp":"{ts}","uuid":"{uuid}","level":"info"}}"#
                    ),
                    &mut bytes,
                )?;
                parent = uuid;
            }
        }
        out.flush()?;
        files += 1;
    }
    Ok((bytes, files, messages))
}

const MODELS: &[&str] = &[
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-5-20251101",
    "claude-haiku-4-5-20251001",
];

fn write_uniform(root: &Path, target: u64) -> std::io::Result<(u64, u64, u64)> {
    let mut rng = Rng::new(0x9e3779b97f4a7c15);
    let filler = "lorem ipsum dolor sit amet consectetur ".repeat(400);
    let (mut bytes, mut files, mut messages) = (0u64, 0u64, 0u64);
    while bytes < target {
        let project = root
            .join("projects")
            .join(format!("-home-u-proj{}", files % 20));
        std::fs::create_dir_all(&project)?;
        let session = format!("5f1c{files:08}-aaaa-bbbb-cccc-{:012}", rng.below(1 << 40));
        let path = project.join(format!("{session}.jsonl"));
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        let day = rng.below(90);
        let per_file = 200 + rng.below(1800);
        for m in 0..per_file {
            let ts = format!(
                "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                8 + day / 30,
                1 + day % 28,
                (m / 60 / 60) % 24,
                (m / 60) % 60,
                m % 60,
                rng.below(1000)
            );
            let result = &filler[..(500 + rng.below(7000)) as usize];
            let line = format!(
                r#"{{"parentUuid":"p{m}","isSidechain":false,"userType":"external","cwd":"/home/u/proj","sessionId":"{session}","version":"2.1.3","gitBranch":"main","type":"user","message":{{"role":"user","content":[{{"tool_use_id":"toolu_{m}","type":"tool_result","content":"{result}","is_error":false}}]}},"uuid":"u{m}","timestamp":"{ts}","toolUseResult":{{"stdout":"{}","stderr":"","interrupted":false}}}}"#,
                &result[..result.len() / 2]
            );
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            bytes += line.len() as u64 + 1;
            let model = MODELS[rng.below(MODELS.len() as u64) as usize];
            let (input, cw, cr, output) = (
                rng.below(3000),
                rng.below(20000),
                rng.below(150000),
                1 + rng.below(3000),
            );
            let parts = 1 + rng.below(3);
            for p in 1..=parts {
                let text = &filler[..(200 + rng.below(1200)) as usize];
                let line = format!(
                    r#"{{"parentUuid":"u{m}","isSidechain":false,"userType":"external","cwd":"/home/u/proj","sessionId":"{session}","version":"2.1.3","gitBranch":"main","message":{{"id":"msg_{files}_{m}","type":"message","role":"assistant","model":"{model}","content":[{{"type":"text","text":"{text}"}}],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":{input},"cache_creation_input_tokens":{cw},"cache_read_input_tokens":{cr},"cache_creation":{{"ephemeral_5m_input_tokens":{cw},"ephemeral_1h_input_tokens":0}},"output_tokens":{},"service_tier":"standard"}}}},"requestId":"req_{files}_{m}","type":"assistant","uuid":"a{m}{p}","timestamp":"{ts}"}}"#,
                    (output * p / parts).max(1)
                );
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
                bytes += line.len() as u64 + 1;
            }
            messages += 1;
        }
        out.flush()?;
        files += 1;
    }
    Ok((bytes, files, messages))
}

/// Append one new assistant message to the first session file; returns its length.
pub fn append_one(root: &Path) -> std::io::Result<usize> {
    let project = root.join("projects").join("-home-u-proj0");
    let file = std::fs::read_dir(&project)?
        .flatten()
        .map(|e| e.path())
        .min()
        .ok_or_else(|| std::io::Error::other("no session file"))?;
    let line = r#"{"sessionId":"appended","version":"2.1.3","message":{"id":"msg_appended","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":20}},"requestId":"req_appended","type":"assistant","timestamp":"2026-11-20T10:00:00.000Z"}"#.to_string() + "\n";
    std::fs::OpenOptions::new()
        .append(true)
        .open(file)?
        .write_all(line.as_bytes())?;
    Ok(line.len())
}
