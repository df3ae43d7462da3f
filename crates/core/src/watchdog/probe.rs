//! Health probes: `process`, `tcp`, `http`, `mcp` and `openclaw`.
//!
//! Every probe runs under its own timeout and answers a [`ProbeOutcome`]; a probe never panics
//! and never blocks the supervisor. Error texts are meant for people ("HTTP 503 from …: body").
//! The stdio flavour of the `mcp` probe lives in `service.rs`, because it talks over the pipes
//! the supervisor owns.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::config::{ProbeConfig, ProbeKind};

/// The result of one probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    /// The service answered as the probe requires.
    pub ok: bool,
    /// How long the probe took, in milliseconds (up to the timeout when it got no answer).
    pub latency_ms: u64,
    /// When the probe finished.
    pub at: DateTime<Utc>,
    /// Why it failed, for people; `None` when `ok`.
    pub error: Option<String>,
}

impl ProbeOutcome {
    /// The outcome of a probe begun at `started` that ended now with `result`.
    pub fn new(started: Instant, result: Result<(), String>) -> Self {
        Self {
            ok: result.is_ok(),
            latency_ms: started.elapsed().as_millis() as u64,
            at: Utc::now(),
            error: result.err(),
        }
    }

    /// `{"ok", "latency_ms", "at", "error"}`, as `paios status --json` shows a service's last
    /// probe.
    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok,
            "latency_ms": self.latency_ms,
            "at": crate::events::format_ts(&self.at),
            "error": self.error,
        })
    }
}

/// Whether this probe can tell, without a child of ours, that the service answers (and so
/// whether a copy already running outside PAIOS can be adopted).
pub fn answers_without_pid(cfg: &ProbeConfig) -> bool {
    match cfg.kind {
        ProbeKind::Tcp | ProbeKind::Http | ProbeKind::Openclaw => true,
        ProbeKind::Mcp => cfg.url.is_some(),
        ProbeKind::Process => false,
    }
}

/// Run a network probe (`tcp`, `http`, `openclaw`, `mcp` over HTTP) with its timeout.
/// `process` and stdio `mcp` are answered by the supervisor itself.
pub async fn run_network(cfg: &ProbeConfig) -> ProbeOutcome {
    let started = Instant::now();
    let timeout = Duration::from_millis(cfg.timeout_ms);
    let fut = async {
        match cfg.kind {
            ProbeKind::Tcp => tcp(cfg.address.as_deref().unwrap_or_default()).await,
            ProbeKind::Http => http(cfg, timeout).await,
            ProbeKind::Openclaw => openclaw(cfg, timeout).await,
            ProbeKind::Mcp => mcp_http(cfg.url.as_deref().unwrap_or_default(), timeout).await,
            ProbeKind::Process => Ok(()),
        }
    };
    let result = match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    };
    ProbeOutcome::new(started, result)
}

/// `process`: alive and not stopped (a `kill -STOP`ped process is alive but cannot work).
pub fn process(pid: u32) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => {
                // The state follows the parenthesised command name, which may contain spaces.
                let state = stat
                    .rfind(')')
                    .and_then(|i| stat[i + 1..].split_whitespace().next())
                    .unwrap_or("?");
                match state {
                    "T" | "t" => Err(format!("process {pid} is stopped (state {state})")),
                    "Z" | "X" => Err(format!("process {pid} has exited")),
                    _ => Ok(()),
                }
            }
            Err(_) => Err(format!("process {pid} is gone")),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None) {
            Ok(()) => Ok(()),
            Err(e) => Err(format!("process {pid} is gone ({e})")),
        }
    }
}

async fn tcp(address: &str) -> Result<(), String> {
    tokio::net::TcpStream::connect(address)
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot connect to {address}: {e}"))
}

fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())
}

/// Text of a body for an error message: one line, bounded.
fn excerpt(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: String = one_line.chars().take(200).collect();
    if one_line.chars().count() > 200 {
        s.push('…');
    }
    s
}

/// The decision of an HTTP probe, separated from the network for testing.
pub fn judge_http(cfg: &ProbeConfig, url: &str, status: u16, body: &str) -> Result<(), String> {
    let status_ok = match cfg.status {
        Some(want) => status == want,
        None => (200..300).contains(&status),
    };
    if !status_ok {
        return Err(format!("HTTP {status} from {url}: {}", excerpt(body)));
    }
    if let Some(needle) = &cfg.body_contains
        && !body.contains(needle.as_str())
    {
        return Err(format!(
            "HTTP {status} from {url}, but the body lacks {needle:?}: {}",
            excerpt(body)
        ));
    }
    Ok(())
}

async fn get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    let describe = |e: reqwest::Error| {
        if e.is_timeout() {
            format!("GET {url}: no answer within {} ms", timeout.as_millis())
        } else {
            format!("GET {url}: {}", error_chain(&e))
        }
    };
    let resp = client(timeout)?.get(url).send().await.map_err(describe)?;
    let status = resp.status().as_u16();
    // Bound what we read: a probe must not be turned into a download.
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(describe)?;
        body.extend_from_slice(&chunk);
        if body.len() > 64 * 1024 {
            break;
        }
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

async fn http(cfg: &ProbeConfig, timeout: Duration) -> Result<(), String> {
    let url = cfg.url.as_deref().unwrap_or_default();
    let (status, body) = get(url, timeout).await?;
    judge_http(cfg, url, status, &body)
}

/// `scheme://host:port` of a URL (drops any path), for the gateway's `/readyz` and WebSocket.
fn origin(url: &str) -> Result<(String, String), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("bad probe url {url:?}: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("probe url {url:?} has no host"))?;
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| format!("probe url {url:?} has no port"))?;
    let ws_scheme = if parsed.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    Ok((
        format!("{}://{host}:{port}", parsed.scheme()),
        format!("{ws_scheme}://{host}:{port}"),
    ))
}

/// `openclaw`: `/readyz` must answer 200, then the WebSocket handshake must reach `hello-ok`.
async fn openclaw(cfg: &ProbeConfig, timeout: Duration) -> Result<(), String> {
    let (http_base, ws_base) = origin(cfg.url.as_deref().unwrap_or_default())?;
    let readyz = format!("{http_base}/readyz");
    let (status, body) = get(&readyz, timeout).await?;
    if status != 200 {
        return Err(format!(
            "gateway not ready: HTTP {status} from {readyz}: {}",
            excerpt(&body)
        ));
    }
    openclaw_handshake(&ws_base, cfg.token.as_deref()).await
}

/// The gateway's WebSocket handshake: `connect.challenge` → `connect` → `hello-ok`.
pub async fn openclaw_handshake(ws_url: &str, token: Option<&str>) -> Result<(), String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .map_err(|e| format!("WebSocket {ws_url}: {e}"))?;
    let mut sent = false;
    let request_id = uuid::Uuid::now_v7().to_string();
    while let Some(msg) = ws.next().await {
        let msg = msg.map_err(|e| format!("WebSocket {ws_url}: {e}"))?;
        let text = match msg {
            Message::Text(t) => t.to_string(),
            Message::Close(frame) => {
                return Err(format!(
                    "the gateway closed the WebSocket{}",
                    frame
                        .map(|f| format!(": {} {}", u16::from(f.code), f.reason))
                        .unwrap_or_default()
                ));
            }
            _ => continue,
        };
        let frame: Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "the gateway sent a non-JSON frame ({e}): {}",
                excerpt(&text)
            )
        })?;
        match frame["type"].as_str() {
            Some("event") if frame["event"] == "connect.challenge" && !sent => {
                let connect = json!({
                    "type": "req",
                    "id": request_id,
                    "method": "connect",
                    "params": {
                        "minProtocol": 3,
                        "maxProtocol": 4,
                        "client": {
                            "id": "gateway-client",
                            "version": crate::VERSION,
                            "platform": std::env::consts::OS,
                            "mode": "backend",
                        },
                        "role": "operator",
                        "scopes": ["operator.read"],
                        "caps": [],
                        "auth": {"token": token.unwrap_or_default()},
                        "userAgent": format!("paios-watchdog/{}", crate::VERSION),
                    }
                });
                ws.send(Message::Text(connect.to_string().into()))
                    .await
                    .map_err(|e| format!("WebSocket {ws_url}: {e}"))?;
                sent = true;
            }
            Some("res") if frame["id"] == request_id.as_str() => {
                let _ = ws.close(None).await;
                if frame["ok"] == true && frame["payload"]["type"] == "hello-ok" {
                    return Ok(());
                }
                return Err(format!(
                    "the gateway refused the WebSocket handshake: {}",
                    excerpt(&frame["error"].to_string())
                ));
            }
            _ => {}
        }
    }
    Err("the gateway closed the WebSocket before hello-ok".into())
}

/// `mcp` over streamable HTTP: `initialize`, then `ping`.
async fn mcp_http(url: &str, timeout: Duration) -> Result<(), String> {
    let client = client(timeout)?;
    let post = |body: Value, session: Option<String>| {
        let mut req = client
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        req.send()
    };
    let init = post(mcp_initialize(1), None)
        .await
        .map_err(|e| format!("MCP {url}: {}", error_chain(&e)))?;
    if !init.status().is_success() {
        return Err(format!(
            "MCP {url}: initialize answered HTTP {}",
            init.status()
        ));
    }
    let session = init
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let _ = init.bytes().await;
    let _ = post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        session.clone(),
    )
    .await;
    let resp = post(
        json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        session,
    )
    .await
    .map_err(|e| format!("MCP {url}: ping: {}", error_chain(&e)))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!(
            "MCP {url}: ping answered HTTP {status}: {}",
            excerpt(&body)
        ));
    }
    // The answer is JSON or one server-sent event carrying JSON.
    let json_text = body
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap_or(&body);
    match serde_json::from_str::<Value>(json_text.trim()) {
        Ok(v) if v.get("result").is_some() => Ok(()),
        Ok(v) => Err(format!(
            "MCP {url}: ping failed: {}",
            excerpt(&v.to_string())
        )),
        Err(_) => Err(format!(
            "MCP {url}: ping answer is not JSON-RPC: {}",
            excerpt(&body)
        )),
    }
}

/// The JSON-RPC `initialize` request a probe sends to an MCP server.
pub fn mcp_initialize(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "paios-watchdog", "version": crate::VERSION},
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_cfg(status: Option<u16>, body: Option<&str>) -> ProbeConfig {
        ProbeConfig {
            kind: ProbeKind::Http,
            url: Some("http://127.0.0.1:1/x".into()),
            status,
            body_contains: body.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn http_judgement() {
        let u = "http://h/readyz";
        assert!(judge_http(&http_cfg(None, None), u, 204, "").is_ok());
        let err = judge_http(&http_cfg(None, None), u, 503, "{\"ready\":false}").unwrap_err();
        assert!(err.contains("503") && err.contains("ready"), "{err}");
        assert!(judge_http(&http_cfg(Some(404), None), u, 404, "").is_ok());
        assert!(
            judge_http(
                &http_cfg(None, Some("\"ok\":true")),
                u,
                200,
                "{\"ok\":true}"
            )
            .is_ok()
        );
        assert!(judge_http(&http_cfg(None, Some("ready")), u, 200, "nope").is_err());
    }

    #[test]
    fn origin_drops_the_path() {
        let (h, w) = origin("http://127.0.0.1:18789/readyz").unwrap();
        assert_eq!(h, "http://127.0.0.1:18789");
        assert_eq!(w, "ws://127.0.0.1:18789");
        assert!(origin("not a url").is_err());
    }

    #[tokio::test]
    async fn tcp_probe_fails_on_a_closed_port_within_its_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cfg = ProbeConfig {
            kind: ProbeKind::Tcp,
            address: Some(addr.clone()),
            timeout_ms: 500,
            ..Default::default()
        };
        assert!(run_network(&cfg).await.ok);
        drop(listener);
        let out = run_network(&cfg).await;
        assert!(!out.ok);
        assert!(out.error.unwrap().contains(&addr));
    }

    /// A minimal streamable-HTTP MCP endpoint: answers every request with `result`, or with a
    /// JSON-RPC error when `fail` is set.
    async fn mcp_server(fail: bool) -> String {
        use axum::{Json, Router, routing::post};
        let app = Router::new().route(
            "/mcp",
            post(move |Json(req): Json<Value>| async move {
                if fail {
                    Json(json!({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32601, "message": "no ping here"}}))
                } else {
                    Json(json!({"jsonrpc": "2.0", "id": req["id"], "result": {}}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn mcp_http_probe_pings() {
        let cfg = |url: String| ProbeConfig {
            kind: ProbeKind::Mcp,
            url: Some(url),
            timeout_ms: 2000,
            ..Default::default()
        };
        let ok = run_network(&cfg(mcp_server(false).await)).await;
        assert!(ok.ok, "{ok:?}");
        let bad = run_network(&cfg(mcp_server(true).await)).await;
        assert!(!bad.ok);
        assert!(bad.error.unwrap().contains("no ping here"));
    }

    #[test]
    fn our_own_process_is_alive() {
        assert!(process(std::process::id()).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn excerpt_is_bounded(s in ".{0,1000}") {
            proptest::prop_assert!(excerpt(&s).chars().count() <= 201);
        }
    }
}
