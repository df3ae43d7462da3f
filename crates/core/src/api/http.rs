//! The loopback HTTP transport (axum): the panel's files and the JSON API.
//!
//! Security model: binds 127.0.0.1 only; every `/api/*` request needs the bearer token (header
//! `Authorization: Bearer …`, or `?token=` for `EventSource`, which cannot set headers); any
//! request whose `Host` is not a loopback name, or whose `Origin` is not this server (or the
//! Tauri app), is refused with 403 before anything else runs — this defeats DNS rebinding and
//! cross-site requests from pages in the user's browser.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::Stream;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{ApiError, EventsArgs, dispatch};
use crate::core::Core;

#[derive(Clone)]
struct AppState {
    core: Core,
    token: String,
    port: u16,
}

/// Read the API token, creating it (0600, random) on first start.
pub fn load_or_create_token(path: &std::path::Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let token: String = {
        use rand::RngExt;
        let mut rng = rand::rng();
        (0..32)
            .map(|_| format!("{:02x}", rng.random::<u8>()))
            .collect()
    };
    crate::atomic::write_atomic(
        path,
        token.as_bytes(),
        crate::atomic::Mode::Set(crate::atomic::PRIVATE),
    )?;
    Ok(token)
}

/// Bind 127.0.0.1:`port` (0 = any free port).
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
}

/// Where the panel's files are: `PAIOS_UI_DIR`, else the `ui/` folder this binary was built from.
pub fn ui_dir() -> PathBuf {
    std::env::var_os("PAIOS_UI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui")))
}

/// The HTTP application: `/api/*` and the MCP endpoint behind the bearer `token`, the panel's
/// files for every other path, and the Origin/Host checks (for loopback `port`) on everything.
pub(crate) fn router(core: Core, token: String, port: u16) -> Router {
    let state = AppState { core, token, port };
    let api = Router::new()
        .route("/status", get(status))
        .route("/events", get(events))
        .route("/stream", get(stream))
        .route("/rpc/{op}", post(rpc))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    // MCP over streamable HTTP: the same token and Origin/Host checks as the API.
    let mcp = crate::mcp::http::router(state.core.clone())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .nest("/api", api)
        .merge(mcp)
        .fallback_service(tower_http::services::ServeDir::new(ui_dir()))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            check_origin_and_host,
        ))
        .with_state(state)
}

/// Serve until `shutdown` is cancelled.
pub async fn serve(core: Core, listener: TcpListener, token: String, shutdown: CancellationToken) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let app = router(core, token, port);
    // Without TCP_NODELAY a kept-alive client (a browser, most MCP clients) waits for the
    // delayed ACK of a response's first segment: about 40 ms per request on Linux.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an API connection");
        }
    });
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "HTTP server stopped");
    }
}

fn forbidden(why: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({"error": {"code": "forbidden", "message": why}})),
    )
        .into_response()
}

fn host_is_loopback(host: &str, port: u16) -> bool {
    let allowed = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    allowed.iter().any(|a| a.eq_ignore_ascii_case(host))
}

fn origin_allowed(origin: &str, port: u16) -> bool {
    let origin = origin.trim_end_matches('/');
    if matches!(
        origin,
        "tauri://localhost" | "http://tauri.localhost" | "https://tauri.localhost"
    ) {
        return true;
    }
    origin
        .strip_prefix("http://")
        .is_some_and(|hostport| host_is_loopback(hostport, port))
}

async fn check_origin_and_host(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !host_is_loopback(host, st.port) {
        return forbidden("this server only answers requests addressed to 127.0.0.1 or localhost");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .map(|o| origin_allowed(o, st.port))
            .unwrap_or(false);
        if !ok {
            return forbidden("cross-origin requests are refused");
        }
    }
    next.run(req).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn query_token(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(|t| t.to_string())
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn token_matches(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn require_token(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let given = bearer(req.headers())
        .map(str::to_string)
        .or_else(|| query_token(req.uri().query()));
    match given {
        Some(t) if token_matches(&t, &st.token) => next.run(req).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({"error": {"code": "unauthorized", "message": "missing or wrong bearer token (see $PAIOS_HOME/token)"}})),
        )
            .into_response(),
    }
}

fn api_error(e: ApiError) -> Response {
    let status = match e.code.as_str() {
        "bad_request" => StatusCode::BAD_REQUEST,
        "not_found" | "unknown_op" => StatusCode::NOT_FOUND,
        "conflict" => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({"error": e}))).into_response()
}

async fn status(State(st): State<AppState>) -> Response {
    Json(st.core.status_json()).into_response()
}

/// The `core.events` filters of a query string, parsed as the socket parses its arguments; a
/// malformed one is a JSON bad request like the socket's, not a plain-text rejection.
fn events_args(query: Result<Query<EventsArgs>, QueryRejection>) -> Result<EventsArgs, ApiError> {
    query
        .map(|Query(args)| args)
        .map_err(|e| ApiError::bad_request(format!("bad event filters: {}", e.body_text())))
}

async fn events(
    State(st): State<AppState>,
    query: Result<Query<EventsArgs>, QueryRejection>,
) -> Response {
    let p = match events_args(query) {
        Ok(p) => p,
        Err(e) => return api_error(e),
    };
    let args = serde_json::to_value(p).unwrap_or_default();
    match dispatch(&st.core, "core.events", args).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => api_error(e),
    }
}

async fn rpc(
    State(st): State<AppState>,
    UrlPath(op): UrlPath<String>,
    body: Option<Json<Value>>,
) -> Response {
    let args = body.map(|Json(v)| v).unwrap_or(Value::Null);
    match dispatch(&st.core, &op, args).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => api_error(e),
    }
}

/// Server-sent events: every committed event that passes the `core.events` filters (`kind`
/// prefix, `subject`, …; the limit does not apply), live.
async fn stream(
    State(st): State<AppState>,
    query: Result<Query<EventsArgs>, QueryRejection>,
) -> Response {
    let filter = match events_args(query).and_then(EventsArgs::into_query) {
        Ok(q) => q,
        Err(e) => return api_error(e),
    };
    let mut rx = st.core.subscribe();
    let shutdown = st.core.shutdown_token();
    let s = async_stream(move |tx| async move {
        loop {
            let ev = tokio::select! {
                _ = shutdown.cancelled() => break,
                ev = rx.recv() => ev,
            };
            match ev {
                Ok(ev) if filter.matches(&ev) => {
                    // Each event says which views it changes: the panel re-reads those and
                    // never keeps a list of kinds of its own.
                    let mut json = ev.to_contract_json();
                    json["views"] = serde_json::json!(ev.views());
                    let data = json.to_string();
                    let sse = SseEvent::default()
                        .event("event")
                        .id(ev.id.unwrap_or_default().to_string())
                        .data(data);
                    if tx.send(Ok(sse)).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    // Tell the client to resynchronise from the API rather than silently miss events.
                    let sse = SseEvent::default().event("lagged").data(n.to_string());
                    if tx.send(Ok(sse)).await.is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    Sse::new(s)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// A stream fed by a task (keeps the dependency list short).
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<SseEvent, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_and_origins_pass() {
        assert!(host_is_loopback("127.0.0.1:7878", 7878));
        assert!(host_is_loopback("localhost:7878", 7878));
        assert!(!host_is_loopback("evil.example:7878", 7878));
        assert!(!host_is_loopback("127.0.0.1:80", 7878));
        assert!(origin_allowed("http://127.0.0.1:7878", 7878));
        assert!(origin_allowed("tauri://localhost", 7878));
        assert!(!origin_allowed("http://evil.example", 7878));
        assert!(!origin_allowed("https://127.0.0.1:7878.evil.example", 7878));
    }

    #[test]
    fn token_comparison() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
    }
}
