//! The MCP server handler (rmcp), one for both places PAIOS serves MCP:
//!
//! * [`Backend::Core`] — inside the daemon, behind HTTP `/mcp`: tools run against the live core;
//! * [`Backend::Shim`] — `paios mcp`, the stdio server a brain starts: a thin process that
//!   forwards read-only calls to the daemon over its socket (`mcp.call`), and answers them itself,
//!   degraded (no live status), when the daemon is down. Bridge calls run in the shim (so their
//!   progress reaches the caller), recording through the daemon or its spool.
//!
//! Errors: an unknown tool or bad arguments are JSON-RPC `invalid_params`; a tool that ran and
//! failed is a tool result with `isError: true` and the reason (what the caller's model reads).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::bridge;
use super::tools::{self, ToolError};
use crate::approvals::policy::Decision;
use crate::client::{Client, ClientError};
use crate::config::Config;
use crate::core::Core;
use crate::events::EventSink;
use crate::paths::Paths;

/// Where tools run.
#[derive(Clone)]
pub enum Backend {
    /// In the daemon: tools run against its live core.
    Core(Core),
    /// In `paios mcp`: read-only tools are forwarded to the daemon, bridge calls run here.
    Shim(Arc<Shim>),
}

/// The stdio shim's state: its home, one reused connection to the daemon, and the flags of the
/// bridge calls running (set on shutdown so their brains are stopped).
pub struct Shim {
    /// The PAIOS home it serves (the daemon's socket, config and policy are found from it).
    pub paths: Paths,
    client: Mutex<Option<Client>>,
    /// Each running bridge call: its cancel flag, and a token its thread holds until it ends.
    running: Mutex<Vec<(Arc<AtomicBool>, Weak<()>)>>,
}

impl Shim {
    /// A shim for this home, not yet connected (it connects on the first forwarded call).
    pub fn new(paths: Paths) -> Arc<Self> {
        Arc::new(Shim {
            paths,
            client: Mutex::new(None),
            running: Mutex::new(Vec::new()),
        })
    }

    /// Ask the daemon to run a read-only tool. `Ok(None)`: the daemon is not reachable.
    fn forward(&self, tool: &str, arguments: &Value) -> Result<Option<Value>, ToolError> {
        let args = json!({"tool": tool, "arguments": arguments});
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        // A reused connection may have been closed by a restarted daemon: one fresh try.
        for _ in 0..2 {
            if slot.is_none() {
                match Client::connect_with_timeout(&self.paths, Duration::from_secs(30)) {
                    Ok(c) => *slot = Some(c),
                    Err(_) => return Ok(None),
                }
            }
            let client = slot.as_mut().expect("connected above");
            match client.call("mcp.call", args.clone()) {
                Ok(v) => return Ok(Some(v)),
                Err(ClientError::Api(e)) => {
                    return Err(match e.code.as_str() {
                        "invalid_params" => ToolError::InvalidArgs {
                            tool: tool.into(),
                            message: e.message,
                        },
                        "unknown_tool" => ToolError::Unknown(tool.into()),
                        _ => ToolError::Failed(e.message),
                    });
                }
                Err(_) => *slot = None,
            }
        }
        Ok(None)
    }

    /// Stop every running bridge call (their brains' process groups are stopped).
    pub fn cancel_all(&self) {
        for (flag, _) in self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// How many bridge calls are running.
    pub fn running(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, alive)| alive.strong_count() > 0)
            .count()
    }
}

/// PAIOS's MCP server.
#[derive(Clone)]
pub struct PaiosMcp {
    backend: Backend,
    /// The client's name from its `initialize` (one handler per stdio process or HTTP session).
    caller: Arc<Mutex<Option<String>>>,
}

impl PaiosMcp {
    /// A handler whose tools run on `backend`; the caller is unknown until `initialize`.
    pub fn new(backend: Backend) -> Self {
        PaiosMcp {
            backend,
            caller: Arc::default(),
        }
    }

    fn paths(&self) -> Paths {
        match &self.backend {
            Backend::Core(core) => core.paths().clone(),
            Backend::Shim(shim) => shim.paths.clone(),
        }
    }

    fn config(&self) -> Arc<Config> {
        match &self.backend {
            Backend::Core(core) => core.config(),
            Backend::Shim(shim) => {
                Arc::new(Config::load(&shim.paths.config_file()).unwrap_or_default())
            }
        }
    }

    async fn read_only(&self, tool: &str, arguments: Value) -> Result<Value, ToolError> {
        match &self.backend {
            Backend::Core(core) => call_in_core(core, tool, arguments).await,
            Backend::Shim(shim) => {
                let shim = shim.clone();
                let tool = tool.to_string();
                tokio::task::spawn_blocking(move || {
                    if let Some(v) = shim.forward(&tool, &arguments)? {
                        return Ok(v);
                    }
                    let config = Config::load(&shim.paths.config_file()).unwrap_or_default();
                    tools::call_read_only(&shim.paths, &config, None, &tool, &arguments)
                })
                .await
                .map_err(|e| ToolError::Failed(format!("the tool crashed: {e}")))?
            }
        }
    }

    async fn bridge(
        &self,
        tool: &str,
        arguments: Value,
        context: &RequestContext<RoleServer>,
    ) -> Result<Value, ToolError> {
        let caller = context
            .meta
            .client_info()
            .map(|i| {
                crate::text::printable(&i.name)
                    .chars()
                    .take(64)
                    .collect::<String>()
            })
            .or_else(|| {
                self.caller
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
            })
            .or_else(|| context.peer.peer_info().map(|i| i.client_info.name.clone()))
            .unwrap_or_else(|| "unknown".into());
        let call = bridge::Call::parse(tool, &arguments, &caller)?;
        let paths = self.paths();
        let verdict = {
            let (paths, tool, arguments) = (paths.clone(), tool.to_string(), arguments.clone());
            tokio::task::spawn_blocking(move || bridge::classify(&paths, &tool, &arguments))
                .await
                .map_err(|e| ToolError::Failed(e.to_string()))??
        };
        match verdict.decision {
            Decision::Safe => {}
            Decision::Never => return Err(bridge::refused(&verdict)),
            Decision::Ask => self.ask_user(&call, &verdict).await?,
        }
        let config = self.config();
        let cancel = Arc::new(AtomicBool::new(false));
        let alive = Arc::new(());
        if let Backend::Shim(shim) = &self.backend {
            let mut running = shim.running.lock().unwrap_or_else(|e| e.into_inner());
            running.retain(|(_, alive)| alive.strong_count() > 0);
            running.push((cancel.clone(), Arc::downgrade(&alive)));
        }
        // The caller's cancellation (or its going away) stops the brain.
        let watcher = {
            let (ct, cancel) = (context.ct.clone(), cancel.clone());
            tokio::spawn(async move {
                ct.cancelled().await;
                cancel.store(true, Ordering::SeqCst);
            })
        };
        let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let notifier = context.meta.get_progress_token().map(|token| {
            let peer = context.peer.clone();
            tokio::spawn(async move {
                let mut n = 0.0;
                while let Some(message) = progress_rx.recv().await {
                    n += 1.0;
                    let mut p = ProgressNotificationParam::new(token.clone(), n);
                    p.message = Some(message);
                    if peer.notify_progress(p).await.is_err() {
                        break;
                    }
                }
            })
        });
        let backend = self.backend.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _alive = alive;
            let sink: Box<dyn EventSink> = match &backend {
                Backend::Core(core) => Box::new(core.clone()),
                Backend::Shim(shim) => Box::new(shim.paths.clone()),
            };
            let mut progress = |m: String| {
                let _ = progress_tx.send(m);
            };
            bridge::run(&paths, &config, &call, cancel, sink.as_ref(), &mut progress)
        })
        .await
        .map_err(|e| ToolError::Failed(format!("the bridge call crashed: {e}")));
        watcher.abort();
        if let Some(n) = notifier {
            // Let the last progress messages out before the answer.
            let _ = tokio::time::timeout(Duration::from_millis(200), n).await;
        }
        result?
    }

    /// An `ask` verdict: the call waits in the daemon's approval queue for the user (or trust,
    /// or the autonomy level) like any brain's tool call.
    async fn ask_user(
        &self,
        call: &bridge::Call,
        verdict: &crate::approvals::classify::Verdict,
    ) -> Result<(), ToolError> {
        let args = json!({
            "tool": format!("mcp__paios__{}", call.tool),
            "input": {"command": crate::approvals::redact::redact(&call.prompt)},
            "summary": crate::approvals::redact::redact(&format!("{}: {}", call.tool, call.prompt)),
            "brain": call.caller,
            "project": call.cwd.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "session": "",
            "verdict": {"decision": "ask", "rule": verdict.rule, "reason": verdict.reason,
                        "ask_rules": verdict.ask_rules},
        });
        let answer = match &self.backend {
            Backend::Core(core) => crate::approvals::api::handle(core, "request", args)
                .await
                .map_err(|e| ToolError::Failed(e.message)),
            Backend::Shim(shim) => {
                let paths = shim.paths.clone();
                tokio::task::spawn_blocking(move || {
                    let mut client = Client::connect_with_timeout(&paths, Duration::from_secs(10))
                        .map_err(|e| {
                            ToolError::Failed(format!(
                                "this call needs your approval, but {e}. Denied."
                            ))
                        })?;
                    let _ = client.set_timeout(None);
                    client
                        .call("approvals.request", args)
                        .map_err(|e| ToolError::Failed(e.to_string()))
                })
                .await
                .map_err(|e| ToolError::Failed(e.to_string()))?
            }
        }?;
        if answer.get("decision").and_then(Value::as_str) == Some("approve") {
            Ok(())
        } else {
            Err(ToolError::Failed(format!(
                "PAIOS: the user denied this call ({}): {}",
                verdict.rule,
                answer
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or(&verdict.reason)
            )))
        }
    }
}

/// Run a read-only tool inside the daemon (the `mcp.call` operation and HTTP `/mcp`).
pub async fn call_in_core(core: &Core, tool: &str, arguments: Value) -> Result<Value, ToolError> {
    if tool == "paios_status" {
        // The hot path (a brain checking health): no thread hop, no file access.
        let _: Value = tools::args::<Value>(tool, &arguments)?;
        if arguments.as_object().is_some_and(|o| !o.is_empty()) {
            return Err(ToolError::InvalidArgs {
                tool: tool.into(),
                message: "paios_status takes no arguments".into(),
            });
        }
        return Ok(status(core));
    }
    if !tools::READ_ONLY.contains(&tool) {
        return Err(ToolError::Unknown(tool.into()));
    }
    let (paths, config, tool) = (core.paths().clone(), core.config(), tool.to_string());
    let status = status(core);
    tokio::task::spawn_blocking(move || {
        tools::call_read_only(&paths, &config, Some(status), &tool, &arguments)
    })
    .await
    .map_err(|e| ToolError::Failed(format!("the tool crashed: {e}")))?
}

/// `paios_status`: the daemon's status, as `paios status --json`.
fn status(core: &Core) -> Value {
    crate::approvals::redact::redact_json(&core.status_json())
}

fn to_response(result: Result<Value, ToolError>) -> Result<CallToolResponse, McpError> {
    match result {
        Ok(value) => {
            let mut r =
                CallToolResult::success(vec![ContentBlock::text(tools::result_text(&value))]);
            if value.is_object() {
                r.structured_content = Some(value);
            }
            Ok(r.into())
        }
        Err(e @ (ToolError::InvalidArgs { .. } | ToolError::Unknown(_))) => {
            Err(McpError::invalid_params(e.to_string(), None))
        }
        Err(ToolError::Failed(message)) => {
            Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into())
        }
    }
}

impl ServerHandler for PaiosMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("paios", crate::VERSION).with_title("PAIOS"),
            )
            .with_instructions(
                "PAIOS supervises, routes and gates the user's AI brains (Claude Code, Codex, the \
                 OpenClaw gateway). Read-only tools: paios_status (services' health), paios_events, \
                 paios_incidents, paios_route (which brain suits a task), paios_classify (would the \
                 approval gate allow a command), paios_usage (tokens and cost). ask_claude and \
                 ask_codex hand a self-contained task to the other brain and return its answer.",
            )
    }

    async fn initialize(
        &self,
        request: rmcp::model::InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::InitializeResult, McpError> {
        *self.caller.lock().unwrap_or_else(|e| e.into_inner()) = Some(
            crate::text::printable(&request.client_info.name)
                .chars()
                .take(64)
                .collect(),
        );
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools::list().to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        tools::get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let tool = request.name.to_string();
        let arguments = request.arguments.map(Value::Object).unwrap_or(Value::Null);
        let result = if tools::READ_ONLY.contains(&tool.as_str()) {
            self.read_only(&tool, arguments).await
        } else if tools::BRIDGE.contains(&tool.as_str()) {
            self.bridge(&tool, arguments, &context).await
        } else {
            Err(ToolError::Unknown(tool))
        };
        to_response(result)
    }
}
