//! Streamable HTTP at `/mcp` in the daemon (rmcp's `StreamableHttpService`).
//!
//! The API's own layers run first (`api/http.rs`): loopback `Host` and same-origin `Origin`
//! only (DNS rebinding), and the bearer token. This module adds what is MCP's: a request body
//! limit (413 beyond `[mcp] max_body_bytes`), sessions that close after `[mcp] session_idle_s`
//! without use (the client's next request gets 404 and, as the protocol says, it initializes
//! again), and at most `[mcp] max_sessions` sessions (a new client beyond that gets 503), so
//! sessions cannot pile up over days. rmcp checks `Host` again on its side.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;

use super::server::{Backend, PaiosMcp};
use crate::core::Core;

/// The path PAIOS serves MCP at.
pub const PATH: &str = "/mcp";

/// The `/mcp` route, for the API's router (its state type is the caller's).
pub fn router<S: Clone + Send + Sync + 'static>(core: Core) -> axum::Router<S> {
    let cfg = core.config().mcp.clone();
    let mut session = SessionConfig::default();
    session.keep_alive = Some(Duration::from_secs(cfg.session_idle_s));
    let mut manager = LocalSessionManager::default();
    manager.session_config = session;
    let sessions = Arc::new(manager);
    let config = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(cfg.max_body_bytes)
        .with_cancellation_token(core.shutdown_token().child_token());
    let for_sessions = core.clone();
    let service = StreamableHttpService::new(
        move || Ok(PaiosMcp::new(Backend::Core(for_sessions.clone()))),
        sessions.clone(),
        config,
    );
    let guard = Guard { core, sessions };
    axum::Router::new()
        .route_service(PATH, service)
        .route_layer(middleware::from_fn(move |req: Request, next: Next| {
            let guard = guard.clone();
            async move { guard.check(req, next).await }
        }))
}

#[derive(Clone)]
struct Guard {
    core: Core,
    sessions: Arc<LocalSessionManager>,
}

impl Guard {
    async fn check(&self, req: Request, next: Next) -> Response {
        let cfg = &self.core.config().mcp;
        if !cfg.http {
            return refuse(
                StatusCode::NOT_FOUND,
                "MCP over HTTP is off ([mcp] http = false in paios.toml)",
            );
        }
        let new_session =
            req.method() == Method::POST && !req.headers().contains_key("mcp-session-id");
        if new_session && self.sessions.sessions.read().await.len() >= cfg.max_sessions {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "PAIOS already serves {} MCP sessions ([mcp] max_sessions); close one \
                     (HTTP DELETE with its Mcp-Session-Id) or wait until idle ones expire",
                    cfg.max_sessions
                ),
            );
        }
        next.run(req).await
    }
}

/// A JSON-RPC error body with an HTTP status (no request id: the request was not read).
fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": message}})
            .to_string(),
    )
        .into_response()
}

/// How many HTTP sessions are open (for status and tests).
pub async fn session_count(sessions: &LocalSessionManager) -> usize {
    sessions.sessions.read().await.len()
}
