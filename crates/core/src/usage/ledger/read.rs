//! The reader threads' side of an ingest: one file's new lines parsed into keyed, priced
//! requests, sent to the writer in batches.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;

use super::files::{Discovered, HEAD_BYTES, KnownFile, read_head};
use super::hash::hash_of;
use super::scan::scan_lines;
use crate::usage::fields::{self, Decode};
use crate::usage::parse::{self, CodexState, Line, OpenClawState, Record};
use crate::usage::prices::Prices;
use crate::usage::source::Source;

pub(super) struct Work {
    pub(super) id: Option<i64>,
    pub(super) path: PathBuf,
    pub(super) source: Source,
    pub(super) start: u64,
    /// The hash of its head the ledger knows (a transcript database: of its mark row).
    pub(super) head: i64,
    pub(super) size: u64,
    pub(super) dev: i64,
    pub(super) ino: i64,
    /// Claude: file stem; Codex: path under `sessions/` without extension; OpenClaw: the file
    /// name up to `.jsonl`.
    pub(super) session: String,
    /// Read through a memory map (see [`Ledger::map_files`](super::Ledger::map_files)).
    pub(super) map: bool,
    /// How its lines' JSON is decoded (see [`Ledger::decode_with`](super::Ledger::decode_with)).
    pub(super) decode: &'static dyn Decode,
    pub(super) codex: CodexState,
    pub(super) openclaw: OpenClawState,
}

impl Work {
    pub(super) fn new(file: &Discovered, known: Option<&KnownFile>) -> Work {
        let session = match file.source {
            Source::Claude => file
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Source::Codex => file
                .path
                .strip_prefix(&file.root)
                .unwrap_or(&file.path)
                .with_extension("")
                .to_string_lossy()
                .into_owned(),
            Source::OpenClaw => super::files::session_of(&file.path),
        };
        let state = known.and_then(|k| k.state.as_deref());
        Work {
            id: known.map(|k| k.id),
            path: file.path.clone(),
            source: file.source,
            start: known.map(|k| k.offset).unwrap_or(0),
            head: known.map(|k| k.head_hash).unwrap_or(0),
            size: file.size,
            dev: file.dev,
            ino: file.ino,
            session,
            map: false,
            decode: fields::DEFAULT,
            codex: (file.source == Source::Codex)
                .then(|| state.and_then(|s| serde_json::from_str(s).ok()))
                .flatten()
                .unwrap_or_default(),
            openclaw: (file.source == Source::OpenClaw)
                .then(|| state.and_then(|s| serde_json::from_str(s).ok()))
                .flatten()
                .unwrap_or_default(),
        }
    }
}

/// A request as a reader thread prepares it: everything but the database ids of its names,
/// which are indexes into its batch's `names`.
pub(super) struct Prepared {
    pub(super) key: i64,
    pub(super) ts: i64,
    pub(super) session: u32,
    pub(super) model: u32,
    pub(super) tokens: parse::Tokens,
    pub(super) cost: f64,
    /// `cost` is the log's own (`costUSD`).
    pub(super) logged: bool,
}

impl Prepared {
    pub(super) fn total(&self) -> u64 {
        self.tokens.total()
    }
}

/// Requests read from one file, with the names they use.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) names: Vec<String>,
    pub(super) index: HashMap<String, u32>,
    pub(super) entries: Vec<Prepared>,
}

impl Batch {
    pub(super) fn name(&mut self, name: &str) -> u32 {
        // Lines of one file mostly repeat the names of the line before.
        if let Some(i) = self.names.iter().rev().take(2).position(|n| n == name) {
            return (self.names.len() - 1 - i) as u32;
        }
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }
}

pub(super) enum Msg {
    Records(usize, Batch),
    Done(usize, FileDone),
}

/// A reader thread's messages to the writer, sent together once they hold about [`BATCH`]
/// requests: most files hold a few hundred, and a wake-up of the writer per file (twice: its
/// requests, then its end) cost more than handling them.
pub(super) struct Outbox {
    pub(super) tx: mpsc::SyncSender<Vec<Msg>>,
    pub(super) msgs: Vec<Msg>,
    pub(super) requests: usize,
}

impl Outbox {
    /// Queue `msg`, sending the queue when it is full; `false` once the writer has stopped
    /// listening.
    pub(super) fn push(&mut self, msg: Msg) -> bool {
        if let Msg::Records(_, batch) = &msg {
            self.requests += batch.entries.len();
        }
        self.msgs.push(msg);
        self.requests < BATCH && self.msgs.len() < 64 || self.flush()
    }

    /// Send what is queued; `false` once the writer has stopped listening.
    pub(super) fn flush(&mut self) -> bool {
        self.requests = 0;
        self.msgs.is_empty() || self.tx.send(std::mem::take(&mut self.msgs)).is_ok()
    }
}

pub(super) struct FileDone {
    pub(super) end: u64,
    pub(super) codex: CodexState,
    pub(super) openclaw: OpenClawState,
    pub(super) head_len: usize,
    pub(super) head_hash: i64,
    pub(super) bytes_read: u64,
    pub(super) lines_parsed: u64,
    pub(super) malformed: u64,
    pub(super) oversized: u64,
}

pub(super) const BATCH: usize = 4096;

/// The key a request is counted under. Claude: its message and request ids (a message logged
/// again, in this file or another, has the same key). Codex: its place in its file. OpenClaw:
/// its session and everything the request is (see [`parse::parse_openclaw_line`]).
pub(super) fn request_key(work: &Work, offset: u64, r: &Record, session: &str) -> i64 {
    match &r.dedupe_key {
        Some((id, req)) => hash_of(&[
            id.as_bytes(),
            req.as_deref().unwrap_or("").as_bytes(),
            if req.is_none() {
                session.as_bytes()
            } else {
                b""
            },
        ]),
        None => hash_of(&[
            work.path.as_os_str().as_encoded_bytes(),
            &offset.to_le_bytes(),
        ]),
    }
}

/// Read one file from where the ledger stopped, sending its requests in batches.
/// Read one file's new lines (`buf`: the reader thread's buffer, kept from file to file).
pub(super) fn read_file(
    work: &Work,
    index: usize,
    prices: &Prices,
    buf: &mut Vec<u8>,
    out: &mut Outbox,
) -> FileDone {
    let mut codex = work.codex.clone();
    let mut openclaw = work.openclaw.clone();
    let mut done = FileDone {
        end: work.start,
        codex: CodexState::default(),
        openclaw: OpenClawState::default(),
        head_len: 0,
        head_hash: 0,
        bytes_read: 0,
        lines_parsed: 0,
        malformed: 0,
        oversized: 0,
    };
    if work.source == Source::OpenClaw && super::transcripts::is_db(&work.path) {
        return read_db(work, index, prices, out);
    }
    let mut batch = Batch::default();
    let mut scratch = Vec::new();
    let mut pricer = Pricer {
        prices,
        known: Vec::new(),
    };
    let needles: Vec<memchr::memmem::Finder> = match work.source {
        Source::Claude => parse::CLAUDE_NEEDLES,
        Source::Codex => parse::CODEX_NEEDLES,
        Source::OpenClaw => parse::OPENCLAW_NEEDLES,
    }
    .iter()
    .map(memchr::memmem::Finder::new)
    .collect();
    let result = scan_lines(
        &work.path,
        work.start,
        &mut done,
        work.map,
        buf,
        &needles,
        |line, offset, done| {
            done.lines_parsed += 1;
            let parsed = match work.source {
                Source::Claude => parse::parse_claude_with(work.decode, line, &mut scratch),
                Source::Codex => {
                    parse::parse_codex_with(work.decode, line, &mut scratch, &mut codex)
                }
                Source::OpenClaw => {
                    parse::parse_openclaw_with(work.decode, line, &mut scratch, &mut openclaw)
                }
            };
            let r = match parsed {
                Line::Usage(r) => r,
                Line::Malformed => return done.malformed += 1,
                Line::Ignored => return,
            };
            let session = r.session.as_deref().unwrap_or(&work.session);
            let key = request_key(work, offset, &r, session);
            add(&r, key, session, &mut batch, &mut pricer);
            if batch.entries.len() >= BATCH {
                out.push(Msg::Records(index, std::mem::take(&mut batch)));
            }
        },
    );
    if result.is_err() {
        // Unreadable now (permissions, vanished): keep what was read; retry next run.
        tracing::debug!(path = %work.path.display(), "could not read a usage log");
    }
    if !batch.entries.is_empty() {
        out.push(Msg::Records(index, batch));
    }
    done.codex = codex;
    done.openclaw = openclaw;
    let head_len = (done.end as usize).min(HEAD_BYTES);
    let (len, hash) = read_head(&work.path, head_len).unwrap_or((0, 0));
    done.head_len = len;
    done.head_hash = hash;
    done
}

/// Prices of the models one file names (a handful), looked up once each.
struct Pricer<'p> {
    prices: &'p Prices,
    known: Vec<(String, Option<&'p crate::usage::prices::ModelPrice>)>,
}

/// Add one request to `batch`: priced (its logged cost, else the price table's), and merged
/// with the request before it when that has the same key.
fn add(r: &Record, key: i64, session: &str, batch: &mut Batch, pricer: &mut Pricer) {
    // Claude Code logs a streamed message on consecutive lines with the same ids: keep the
    // largest here, so the writer sees each message about once.
    if let Some(last) = batch.entries.last()
        && last.key == key
        && last.total() >= r.tokens.total()
    {
        return;
    }
    let model = r.model.as_deref().unwrap_or("unknown");
    let prepared = Prepared {
        key,
        ts: r.ts_ms,
        session: batch.name(session),
        model: batch.name(model),
        tokens: r.tokens,
        logged: r.cost_usd.is_some(),
        cost: r
            .cost_usd
            .or_else(|| {
                let price = match pricer.known.iter().find(|(m, _)| m == model) {
                    Some((_, p)) => *p,
                    None => {
                        let p = pricer.prices.find(model);
                        pricer.known.push((model.to_string(), p));
                        p
                    }
                };
                price.map(|p| p.cost(&r.tokens))
            })
            .unwrap_or(0.0),
    };
    match batch.entries.last_mut() {
        Some(last) if last.key == key => *last = prepared,
        _ => batch.entries.push(prepared),
    }
}

/// Read a transcript database's events after the mark (see [`super::transcripts`]): each
/// event's JSON is a session-file line, parsed and keyed as one, under the event's session (so
/// a message both in a session file and in the database is counted once).
fn read_db(work: &Work, index: usize, prices: &Prices, out: &mut Outbox) -> FileDone {
    let mut done = FileDone {
        end: work.start,
        codex: CodexState::default(),
        openclaw: OpenClawState::default(),
        head_len: 0,
        head_hash: 0,
        bytes_read: 0,
        lines_parsed: 0,
        malformed: 0,
        oversized: 0,
    };
    let mut batch = Batch::default();
    let mut scratch = Vec::new();
    let mut pricer = Pricer {
        prices,
        known: Vec::new(),
    };
    // Each session's model so far (the events of sessions interleave).
    let mut states: HashMap<String, OpenClawState> = HashMap::new();
    let result = super::transcripts::open(&work.path).and_then(|conn| {
        super::transcripts::each_event(&conn, work.start, &mut |event| {
            done.end = event.rowid;
            done.lines_parsed += 1;
            let Some(json) = event.json else {
                return done.oversized += 1;
            };
            done.bytes_read += json.len() as u64;
            let line = json.as_bytes();
            if !parse::OPENCLAW_NEEDLES
                .iter()
                .any(|n| memchr::memmem::find(line, n).is_some())
            {
                return;
            }
            let state = states.entry(event.session.clone()).or_default();
            let r = match parse::parse_openclaw_with(work.decode, line, &mut scratch, state) {
                Line::Usage(r) => r,
                Line::Malformed => return done.malformed += 1,
                Line::Ignored => return,
            };
            let key = request_key(work, event.rowid, &r, &event.session);
            add(&r, key, &event.session, &mut batch, &mut pricer);
            if batch.entries.len() >= BATCH {
                out.push(Msg::Records(index, std::mem::take(&mut batch)));
            }
        })?;
        done.head_hash = super::transcripts::mark(&conn, done.end)?;
        Ok(())
    });
    if let Err(e) = result {
        // Unreadable now (locked, damaged): keep what was read; retry next run.
        tracing::debug!(path = %work.path.display(), error = %e,
            "could not read an OpenClaw transcript database");
        done.end = work.start;
        done.head_hash = work.head;
        done.bytes_read = 0;
        return done;
    }
    if !batch.entries.is_empty() {
        out.push(Msg::Records(index, batch));
    }
    done
}
