//! The app's view of PAIOS through the loopback API — the same API the panel uses, in both the
//! hosted and the attached mode: one code path, whatever runs the core.
//!
//! Owns: JSON calls (`/api/status`, `/api/rpc/{op}`), following `/api/stream` (server-sent
//! events, reconnecting with backoff), and the [`Snapshot`] the tray is drawn from.
//! Never: polls on a timer, or interprets events beyond choosing what to re-read.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::backend::Backend;

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(backend: &Backend) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: backend.base_url(),
            token: backend.token.clone(),
        }
    }

    pub async fn status(&self) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(format!("{}/api/status", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json().await?)
    }

    /// Run a daemon operation; `Ok(None)` when this daemon does not offer it (`unknown_op`).
    pub async fn rpc(&self, op: &str, args: Value) -> anyhow::Result<Option<Value>> {
        let response = self
            .http
            .post(format!("{}/api/rpc/{op}", self.base))
            .bearer_auth(&self.token)
            .json(&args)
            .timeout(Duration::from_secs(10))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Some(body));
        }
        if status == reqwest::StatusCode::NOT_FOUND && body["error"]["code"] == "unknown_op" {
            return Ok(None);
        }
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .to_string();
        anyhow::bail!("{op} failed ({status}): {message}")
    }

    /// Forward every committed event to `tx` until it is closed. `Value::Null` is sent after
    /// each (re)connection, meaning "you may have missed events: re-read everything".
    pub async fn follow(self, tx: mpsc::Sender<Value>) {
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.stream_once(&tx).await {
                Ok(()) => return, // the receiver is gone: the app is quitting
                Err(e) => tracing::debug!(error = %e, "event stream interrupted; reconnecting"),
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn stream_once(&self, tx: &mpsc::Sender<Value>) -> anyhow::Result<()> {
        let response = self
            .http
            .get(format!("{}/api/stream", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?
            .error_for_status()?;
        if tx.send(Value::Null).await.is_err() {
            return Ok(());
        }
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(chunk) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk?));
            while let Some(end) = buffer.find("\n\n") {
                let message: String = buffer.drain(..end + 2).collect();
                let event = parse_sse(&message);
                if let Some(event) = event
                    && tx.send(event).await.is_err()
                {
                    return Ok(());
                }
            }
        }
        anyhow::bail!("the daemon closed the event stream")
    }
}

/// One server-sent event → the PAIOS event it carries (`lagged` becomes `Null`: re-read all).
fn parse_sse(message: &str) -> Option<Value> {
    let mut kind = "message";
    let mut data = String::new();
    for line in message.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            kind = v.trim();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    match kind {
        "event" => serde_json::from_str(&data).ok(),
        "lagged" => Some(Value::Null),
        _ => None,
    }
}

/// What the tray shows: services and the approvals that wait for the user.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub services: Vec<Value>,
    /// The core's reading of the health (`paios status --json` → `health`).
    pub health: Value,
    pub pending: Vec<Value>,
    pub reachable: bool,
}

impl Snapshot {
    pub async fn read(api: &Api) -> Snapshot {
        let status = api.status().await;
        let reachable = status.is_ok();
        let status = status.unwrap_or_default();
        let services = status["services"].as_array().cloned().unwrap_or_default();
        let health = status["health"].clone();
        let pending = match api.rpc("approvals.list", json!({})).await {
            Ok(Some(list)) => items(&list, "approvals")
                .into_iter()
                .filter(|r| r["state"].as_str().is_none_or(|s| s == "pending"))
                .collect(),
            _ => Vec::new(),
        };
        Snapshot {
            services,
            health,
            pending,
            reachable,
        }
    }
}

/// A list answer, bare (`[…]`) or wrapped (`{"key":[…]}`).
pub fn items(value: &Value, key: &str) -> Vec<Value> {
    value
        .as_array()
        .or_else(|| value[key].as_array())
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_messages_become_events() {
        let ev = parse_sse("event: event\nid: 7\ndata: {\"kind\":\"service.exited\"}\n\n");
        assert_eq!(ev.unwrap()["kind"], "service.exited");
        assert_eq!(parse_sse("event: lagged\ndata: 12\n\n"), Some(Value::Null));
        assert_eq!(parse_sse(": keep-alive\n\n"), None);
        assert_eq!(parse_sse("event: event\ndata: {not json\n\n"), None);
    }

    #[test]
    fn list_answers_bare_or_wrapped() {
        assert_eq!(items(&json!([1, 2]), "x").len(), 2);
        assert_eq!(items(&json!({"x": [1]}), "x").len(), 1);
        assert!(items(&json!({"y": 1}), "x").is_empty());
    }
}
