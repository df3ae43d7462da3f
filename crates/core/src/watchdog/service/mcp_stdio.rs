//! The probe of a stdio MCP server: JSON-RPC over the child's own pipes — `initialize` once,
//! then one `ping` per probe, matched to its answer by id.
//!
//! This module owns only the child's stdin and the answers the output pump hands it; it never
//! reads the child's stdout itself (the pump in `output` does, and logs every line), never
//! spawns or kills anything, and never judges the answer (a failed ping is the probe loop's
//! business).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use tokio::sync::{mpsc, oneshot};

use crate::watchdog::probe::{self, ProbeOutcome};

/// JSON-RPC over a stdio MCP server's pipes: `initialize` once, then `ping` per probe.
pub(super) struct McpStdio {
    requests: mpsc::Sender<oneshot::Sender<Result<(), String>>>,
}

impl McpStdio {
    pub(super) fn start(mut stdin: ChildStdin, mut responses: mpsc::Receiver<Value>) -> Self {
        let (tx, mut rx) = mpsc::channel::<oneshot::Sender<Result<(), String>>>(4);
        tokio::spawn(async move {
            let mut next_id = 1u64;
            let mut initialized = false;
            while let Some(reply) = rx.recv().await {
                let result = async {
                    if !initialized {
                        let id = next_id;
                        next_id += 1;
                        send_line(&mut stdin, &probe::mcp_initialize(id)).await?;
                        wait_for(&mut responses, id).await?;
                        send_line(
                            &mut stdin,
                            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                        )
                        .await?;
                        initialized = true;
                    }
                    let id = next_id;
                    next_id += 1;
                    send_line(
                        &mut stdin,
                        &json!({"jsonrpc": "2.0", "id": id, "method": "ping"}),
                    )
                    .await?;
                    wait_for(&mut responses, id).await
                }
                .await;
                let _ = reply.send(result);
            }
        });
        Self { requests: tx }
    }

    /// One probe: a `ping` (after `initialize`, the first time), answered within `timeout_ms`.
    pub(super) fn ping(&self, timeout_ms: u64) -> impl Future<Output = ProbeOutcome> + 'static {
        let requests = self.requests.clone();
        async move {
            let started = Instant::now();
            let timeout = Duration::from_millis(timeout_ms);
            let (tx, rx) = oneshot::channel();
            let result = match tokio::time::timeout(timeout, async {
                requests
                    .send(tx)
                    .await
                    .map_err(|_| "the MCP server's stdin is closed".to_string())?;
                rx.await
                    .map_err(|_| "the MCP server's stdin is closed".to_string())?
            })
            .await
            {
                Ok(r) => r,
                Err(_) => Err(format!("no answer to ping within {timeout_ms} ms")),
            };
            ProbeOutcome::new(started, result)
        }
    }
}

async fn send_line(stdin: &mut ChildStdin, v: &Value) -> Result<(), String> {
    let mut line = v.to_string();
    line.push('\n');
    stdin
        .write_all(line.as_bytes())
        .await
        .map_err(|e| format!("cannot write to the MCP server: {e}"))?;
    stdin
        .flush()
        .await
        .map_err(|e| format!("cannot write to the MCP server: {e}"))
}

async fn wait_for(responses: &mut mpsc::Receiver<Value>, id: u64) -> Result<(), String> {
    while let Some(v) = responses.recv().await {
        if v.get("id").and_then(Value::as_u64) != Some(id) {
            continue; // a late answer to a probe that already timed out
        }
        if let Some(err) = v.get("error") {
            return Err(format!("the MCP server answered an error: {err}"));
        }
        return Ok(());
    }
    Err("the MCP server closed its output".into())
}
