//! A child's output: the pumps that copy its stdout and stderr line by line into its log
//! (colour codes stripped), and hand a stdio MCP server's JSON-RPC answers to its prober.
//!
//! This module never writes to the child, never interprets a line beyond "is it a JSON-RPC
//! answer", and never outlives the child for long (`finish_pumps` bounds the drain).

use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use crate::watchdog::logs::SharedLog;

/// Copy lines of a child's output into its log (and JSON-RPC lines to `rpc`, for MCP).
pub(super) async fn pump(
    stream: impl AsyncRead + Unpin,
    tag: &'static str,
    log: SharedLog,
    rpc: Option<mpsc::Sender<Value>>,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = strip_ansi(&String::from_utf8_lossy(&buf));
                let line = line.trim_end_matches(['\n', '\r']);
                if let Some(rpc) = &rpc
                    && let Ok(v) = serde_json::from_str::<Value>(line)
                    && v.get("id").is_some()
                {
                    let _ = rpc.try_send(v);
                }
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .line(tag, line);
            }
        }
    }
}

/// Drop terminal colour codes (`ESC [ … letter`): logs and alerts are read as plain text.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Let the pumps drain what the dead process wrote (bounded: a leftover grandchild may keep a
/// pipe open).
pub(super) async fn finish_pumps(pumps: Vec<tokio::task::JoinHandle<()>>) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    for p in pumps {
        let abort = p.abort_handle();
        if tokio::time::timeout_at(deadline, p).await.is_err() {
            abort.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[90m2026\u{1b}[39m [gateway] ok"),
            "2026 [gateway] ok"
        );
        assert_eq!(strip_ansi("plain é"), "plain é");
    }

    proptest::proptest! {
        #[test]
        fn strip_ansi_never_panics_and_never_grows(s in "(\u{1b}|\\[|[a-z0-9 ]|é){0,80}") {
            proptest::prop_assert!(strip_ansi(&s).len() <= s.len());
        }
    }
}
