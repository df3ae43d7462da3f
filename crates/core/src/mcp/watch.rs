//! Supervision of the MCP servers the user registered in the brains, and the periodic mesh
//! check: the `mcp` module of the core.
//!
//! Every `[mcp] probe_interval_s` it reads the registrations in Claude Code's, Codex's and
//! OpenClaw's own config files ([`super::mesh::registered`]; no brain is run), and probes each
//! enabled server as that brain would reach it (`initialize` + `tools/list`, at most
//! `max_concurrent_probes` at once, each within `probe_timeout_s`): a stdio server is started
//! as registered and its process group stopped after; an HTTP server is asked at its URL with
//! the headers and bearer token its registration names (an https URL, OAuth, legacy SSE, a
//! headers helper, or a token variable PAIOS's environment lacks are listed as not probed,
//! with the reason). A server that cannot start, refuses the connection, exits, hangs, lists
//! no tools, is registered in a way the
//! brain cannot use (the removed `codex mcp-server`, a name that overflows Claude Code's
//! 64-character tool names), or whose tool list changed is an incident of component
//! `mcp:<brain>:<server>` with the `mcp-servers` runbook — before a brain trips over it. A probe
//! that passes again, or a registration that is gone, resolves it.
//!
//! Every `mesh_check_interval_s`, once `paios mesh install` has been run, it runs the mesh check
//! and raises `mcp_link_broken` (component `mesh:<brain>:<server>`, runbook `mcp-mesh`) for each
//! link of an installed brain that fails.
//!
//! Owns: the last health of each discovered server (for `paios status` and `mcp.servers`).
//! Never: edits a brain's config, keeps a probed server running, or probes PAIOS's own
//! registration (the mesh check does).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;

use super::mesh::{self, MeshReport, Registration};
use super::probe::{self, ProbeResult};
use crate::alerts::{self, Alert, AlertKind};
use crate::brains::Brain;
use crate::core::Core;
use crate::events::Event;
use crate::events::payload::MeshChecked;
use crate::module::{Module, ModuleError};

/// Claude Code refuses tool names longer than this (`mcp__<server>__<tool>`).
pub const CLAUDE_TOOL_NAME_MAX: usize = 64;

/// The runbook of a discovered server's incidents.
const SERVERS_RUNBOOK: &str = "mcp-servers";
/// The runbook of a broken mesh link.
const MESH_RUNBOOK: &str = "mcp-mesh";

/// One discovered server as last probed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerHealth {
    /// The brain whose config registers it.
    pub brain: &'static str,
    /// Its name there.
    pub name: String,
    /// How it starts (the command line, or the URL of an HTTP server).
    pub target: String,
    /// `None`: not probed (disabled, or an HTTP server PAIOS cannot reach as the brain would;
    /// `error` says why).
    pub ok: Option<bool>,
    /// How long its probe took, in ms; `None` when it was not probed (or was refused before
    /// being started: a registration the brain cannot use).
    pub latency_ms: Option<u64>,
    /// The tool names its probe listed; empty when it was not probed or failed.
    pub tools: Vec<String>,
    /// Why it is not ok, or why it was not probed.
    pub error: Option<String>,
    /// RFC 3339.
    pub checked_at: String,
}

impl ServerHealth {
    /// The incident component of this server.
    pub fn component(&self) -> String {
        component(self.brain, &self.name)
    }
}

fn component(brain: &str, name: &str) -> String {
    format!("mcp:{brain}:{name}")
}

/// The last mesh check, as `paios status`, the panel and the tray show it.
#[derive(Debug, Clone, Serialize)]
pub struct MeshSnapshot {
    /// When it ran (RFC 3339).
    pub checked_at: String,
    /// What it found.
    pub report: MeshReport,
}

/// The `mcp` module (see the module docs).
#[derive(Default)]
pub struct McpWatch {
    servers: Mutex<BTreeMap<String, ServerHealth>>,
    rounds: AtomicU64,
    mesh: Mutex<Option<MeshSnapshot>>,
    /// Held while a mesh check runs, so the periodic one and one asked for never overlap.
    checking: tokio::sync::Mutex<()>,
}

impl McpWatch {
    /// Every discovered server as last probed, by brain then name.
    pub fn servers(&self) -> Vec<ServerHealth> {
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// How many probe rounds have completed since start.
    pub fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }

    /// The last mesh check since start; `None` before the first, or when the mesh is not
    /// installed.
    pub fn mesh(&self) -> Option<MeshSnapshot> {
        self.mesh.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What `mesh.checked` says about the current state, to tell whether a round changed it.
    fn summary(&self) -> MeshChecked {
        let mesh = self.mesh();
        let servers = self.servers();
        let installed_brains: BTreeSet<&str> = mesh
            .iter()
            .flat_map(|m| {
                m.report
                    .brains
                    .iter()
                    .filter(|b| b.installed)
                    .map(|b| b.name)
            })
            .collect();
        let links: Vec<&mesh::LinkCheck> = mesh
            .iter()
            .flat_map(|m| m.report.links.iter())
            .filter(|l| installed_brains.contains(l.brain))
            .collect();
        MeshChecked {
            links: links.len(),
            broken_links: links
                .iter()
                .filter(|l| !l.ok)
                .map(|l| format!("{} → {}", l.brain, l.server))
                .collect(),
            servers: servers.iter().filter(|s| s.ok.is_some()).count(),
            failing_servers: servers
                .iter()
                .filter(|s| s.ok == Some(false))
                .map(|s| format!("{}:{}", s.brain, s.name))
                .collect(),
        }
    }
}

/// Record `mesh.checked` when a round changed what the mesh looks like.
async fn emit_if_changed(core: &Core, before: MeshChecked) {
    let after = core.modules().mcp.summary();
    if after != before {
        core.emit(Event::of("mcp", "mesh", &after)).await;
    }
}

impl Module for McpWatch {
    fn name(&self) -> &'static str {
        "mcp"
    }

    fn start<'a>(&'a self, core: &'a Core) -> BoxFuture<'a, Result<(), ModuleError>> {
        Box::pin(async move {
            let probes = core.clone();
            tokio::spawn(async move { probe_loop(probes).await });
            let checks = core.clone();
            tokio::spawn(async move { mesh_loop(checks).await });
            Ok(())
        })
    }

    fn detail(&self) -> Option<String> {
        let servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        if servers.is_empty() {
            return None;
        }
        let probed = servers.values().filter(|s| s.ok.is_some()).count();
        let failing = servers.values().filter(|s| s.ok == Some(false)).count();
        Some(match failing {
            0 => format!("{probed} registered MCP servers answer"),
            n => format!("{n} of {probed} registered MCP servers failing"),
        })
    }
}

async fn probe_loop(core: Core) {
    let shutdown = core.shutdown_token();
    loop {
        let interval = core.config().mcp.probe_interval_s;
        if interval > 0 {
            round(&core).await;
        }
        let wait = Duration::from_secs(if interval == 0 { 60 } else { interval });
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One discovered registration, before it is probed.
struct Found {
    brain: Brain,
    name: String,
    registration: Registration,
}

/// Probe every registered server once; raise and resolve their incidents.
pub async fn round(core: &Core) {
    let config = core.config().mcp.clone();
    let mut found = Vec::new();
    let mut unreadable = Vec::new();
    for brain in Brain::ALL {
        match tokio::task::spawn_blocking(move || mesh::registered(brain)).await {
            Ok(Ok(regs)) => found.extend(regs.into_iter().filter_map(|(name, registration)| {
                (name != super::SERVER_NAME).then_some(Found {
                    brain,
                    name,
                    registration,
                })
            })),
            Ok(Err(e)) => unreadable.push((brain, e)),
            Err(_) => {}
        }
    }
    let limit = Arc::new(tokio::sync::Semaphore::new(
        config.max_concurrent_probes.max(1),
    ));
    let timeout = Duration::from_secs(config.probe_timeout_s);
    let mut tasks = tokio::task::JoinSet::new();
    for f in found {
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.ok();
            let health = check_one(&f, timeout).await;
            (f.brain, health)
        });
    }
    let mut now: BTreeMap<String, ServerHealth> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((_, health)) = joined {
            now.insert(health.component(), health);
        }
    }
    let watch = &core.modules().mcp;
    // The last round's health stays readable (`mesh servers`) until this one replaces it.
    let before = watch
        .servers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for (component, health) in &now {
        let previous = before.get(component);
        match health.ok {
            Some(false) => {
                let error = health.error.clone().unwrap_or_default();
                let kind = if health.latency_ms.is_none() {
                    AlertKind::McpServerMisconfigured
                } else {
                    AlertKind::McpServerFailing
                };
                let message = format!(
                    "MCP server `{}` (registered in {}) {error}",
                    health.name, health.brain
                );
                alerts::raise(core, alert(component, kind, message, health)).await;
            }
            Some(true) => {
                let changed = previous
                    .filter(|p| p.ok == Some(true))
                    .map(|p| tools_change(&p.tools, &health.tools))
                    .filter(|c| !c.is_empty());
                match changed {
                    Some(change) => {
                        let message = format!(
                            "MCP server `{}` (registered in {}) changed its tools: {change}",
                            health.name, health.brain
                        );
                        alerts::raise(
                            core,
                            alert(component, AlertKind::McpToolsChanged, message, health),
                        )
                        .await;
                    }
                    None => {
                        // A tools-changed incident stays open for one round, so it is seen.
                        if previous.is_some() {
                            alerts::resolve(
                                core,
                                component,
                                &format!("answers with {} tools", health.tools.len()),
                            )
                            .await;
                        }
                    }
                }
            }
            None => {}
        }
    }
    for component in before.keys().filter(|c| !now.contains_key(*c)) {
        alerts::resolve(core, component, "no longer registered").await;
    }
    for (brain, error) in unreadable {
        let component = format!("mcp:{}", brain.name());
        let message = format!("cannot read {}'s MCP servers: {error}", brain.name());
        alerts::raise(
            core,
            Alert::new(
                component,
                AlertKind::McpServerMisconfigured,
                message,
                SERVERS_RUNBOOK,
            ),
        )
        .await;
    }
    let summary = watch.summary();
    *watch.servers.lock().unwrap_or_else(|e| e.into_inner()) = now;
    watch.rounds.fetch_add(1, Ordering::Relaxed);
    emit_if_changed(core, summary).await;
}

fn alert(component: &str, kind: AlertKind, message: String, health: &ServerHealth) -> Alert {
    let mut a = Alert::new(component, kind, message, SERVERS_RUNBOOK);
    a.details
        .insert("brain".into(), serde_json::Value::from(health.brain));
    a.details.insert(
        "server".into(),
        serde_json::Value::from(health.name.clone()),
    );
    a.details.insert(
        "target".into(),
        serde_json::Value::from(health.target.clone()),
    );
    a
}

/// What changed between two tool lists, for people (`""`: nothing).
pub fn tools_change(before: &[String], after: &[String]) -> String {
    let b: BTreeSet<&String> = before.iter().collect();
    let a: BTreeSet<&String> = after.iter().collect();
    let added: Vec<&str> = a.difference(&b).map(|s| s.as_str()).collect();
    let removed: Vec<&str> = b.difference(&a).map(|s| s.as_str()).collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed {}", removed.join(", ")));
    }
    parts.join("; ")
}

/// What is wrong with a registration before anything is started (`None`: nothing seen).
pub fn static_problem(brain: Brain, name: &str, reg: &Registration) -> Option<String> {
    if brain == Brain::Claude && format!("mcp__{name}__").len() >= CLAUDE_TOOL_NAME_MAX {
        return Some(format!(
            "has a name too long for Claude Code: `mcp__{name}__<tool>` must fit in \
             {CLAUDE_TOOL_NAME_MAX} characters; register it under a shorter name"
        ));
    }
    if let Some(Err(probe::NotProbed::Invalid(why))) = reg
        .http
        .as_ref()
        .filter(|_| reg.stdio.is_none())
        .map(|h| h.resolve())
    {
        return Some(why);
    }
    let spec = reg.stdio.as_ref()?;
    let program = std::path::Path::new(&spec.command)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if program == "codex" && spec.args.first().map(String::as_str) == Some("mcp-server") {
        return Some(
            "runs `codex mcp-server`, which Codex removed in 0.154.0 (Codex takes the word as a \
             prompt and the connection closes); remove this registration and reach Codex through \
             PAIOS's `ask_codex`"
                .into(),
        );
    }
    if probe::resolve_program(&spec.command).is_none() {
        return Some(format!(
            "cannot start: `{}` is not an executable file or on PATH",
            spec.command
        ));
    }
    None
}

/// The tools whose `mcp__<server>__<tool>` Claude Code would refuse.
pub fn overlong_tools(name: &str, tools: &[String]) -> Vec<String> {
    tools
        .iter()
        .filter(|t| format!("mcp__{name}__{t}").len() > CLAUDE_TOOL_NAME_MAX)
        .cloned()
        .collect()
}

async fn check_one(f: &Found, timeout: Duration) -> ServerHealth {
    let checked_at = crate::events::format_ts(&chrono::Utc::now());
    let target = match (&f.registration.stdio, &f.registration.http) {
        (Some(spec), _) => spec.display(),
        (None, Some(spec)) => spec.display(),
        (None, None) => String::new(),
    };
    let mut health = ServerHealth {
        brain: f.brain.name(),
        name: f.name.clone(),
        target,
        ok: None,
        latency_ms: None,
        tools: Vec::new(),
        error: None,
        checked_at,
    };
    if !f.registration.enabled {
        health.error = Some("disabled in the brain's config: not probed".into());
        return health;
    }
    if let Some(problem) = static_problem(f.brain, &f.name, &f.registration) {
        health.ok = Some(false);
        health.error = Some(problem);
        return health;
    }
    let result: ProbeResult = match (&f.registration.stdio, &f.registration.http) {
        (Some(spec), _) => probe::stdio(spec, timeout).await,
        (None, Some(spec)) => match spec.resolve() {
            Ok(target) => probe::http(spec, &target, timeout).await,
            Err(probe::NotProbed::Skipped(why)) => {
                health.error = Some(why);
                return health;
            }
            Err(probe::NotProbed::Invalid(why)) => {
                health.ok = Some(false);
                health.error = Some(why);
                return health;
            }
        },
        (None, None) => {
            health.ok = Some(false);
            health.error = Some("the registration has neither a command nor a url".into());
            return health;
        }
    };
    health.latency_ms = Some(result.latency_ms);
    health.tools = result.tools;
    if !result.ok {
        health.ok = Some(false);
        health.error = Some(result.error.unwrap_or_else(|| "failed its probe".into()));
    } else if health.tools.is_empty() {
        health.ok = Some(false);
        health.error = Some("answers but lists no tools".into());
    } else if f.brain == Brain::Claude && !overlong_tools(&f.name, &health.tools).is_empty() {
        health.ok = Some(false);
        health.error = Some(format!(
            "lists tools Claude Code refuses (`mcp__{}__<tool>` over {CLAUDE_TOOL_NAME_MAX} \
             characters): {}",
            f.name,
            overlong_tools(&f.name, &health.tools).join(", ")
        ));
    } else {
        health.ok = Some(true);
    }
    health
}

async fn mesh_loop(core: Core) {
    let shutdown = core.shutdown_token();
    // Let the daemon settle before starting brains' servers.
    let mut wait = Duration::from_secs(30);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let interval = core.config().mcp.mesh_check_interval_s;
        if interval > 0 {
            mesh_round(&core).await;
        }
        wait = Duration::from_secs(if interval == 0 { 60 } else { interval });
    }
}

/// The `paios` program the mesh registers: this one when it is `paios`, else the one beside it.
fn paios_program() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    if exe.file_name().is_some_and(|n| n == "paios") {
        return Some(exe);
    }
    let sibling = exe.with_file_name("paios");
    sibling.is_file().then_some(sibling)
}

/// Run the mesh check once (when the mesh is installed), keep its result for the status, and
/// raise or resolve each link's incident. `None` when the mesh is not installed (or no `paios`
/// program is there to check it with).
pub async fn mesh_round(core: &Core) -> Option<MeshSnapshot> {
    let watch = &core.modules().mcp;
    let _one_at_a_time = watch.checking.lock().await;
    let before = watch.summary();
    let snapshot = check_mesh(core).await;
    *watch.mesh.lock().unwrap_or_else(|e| e.into_inner()) = snapshot.clone();
    emit_if_changed(core, before).await;
    let report = &snapshot.as_ref()?.report;
    for link in &report.links {
        let installed = report
            .brains
            .iter()
            .any(|b| b.name == link.brain && b.installed);
        if !installed {
            continue;
        }
        let component = format!("mesh:{}:{}", link.brain, link.server);
        if link.ok {
            alerts::resolve(core, &component, "the link answers again").await;
        } else {
            let why = link.error.as_deref().unwrap_or("failed");
            let message = format!(
                "{} cannot reach `{}` over MCP: {why}",
                link.brain, link.server
            );
            alerts::raise(
                core,
                Alert::new(component, AlertKind::McpLinkBroken, message, MESH_RUNBOOK),
            )
            .await;
        }
    }
    snapshot
}

async fn check_mesh(core: &Core) -> Option<MeshSnapshot> {
    let paths = core.paths().clone();
    if !mesh::is_installed(&paths) {
        return None;
    }
    let paios = paios_program()?;
    let timeout = Duration::from_secs(core.config().mcp.probe_timeout_s);
    let report = tokio::task::spawn_blocking(move || mesh::check(&paths, &paios, None, timeout))
        .await
        .ok()?;
    Some(MeshSnapshot {
        checked_at: crate::events::format_ts(&chrono::Utc::now()),
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::probe::StdioSpec;

    fn reg(command: &str, args: &[&str]) -> Registration {
        Registration {
            stdio: Some(StdioSpec::new(command, args)),
            http: None,
            enabled: true,
        }
    }

    #[test]
    fn the_removed_codex_server_is_named_before_anything_starts() {
        let why = static_problem(Brain::Claude, "codex", &reg("codex", &["mcp-server"])).unwrap();
        assert!(why.contains("0.154.0"), "{why}");
        let why = static_problem(
            Brain::Openclaw,
            "cx",
            &reg("/opt/bin/codex", &["mcp-server", "--x"]),
        )
        .unwrap();
        assert!(why.contains("codex mcp-server"), "{why}");
        // `codex mcp` (the client commands) is not the removed server.
        assert!(
            static_problem(Brain::Claude, "cx", &reg("sh", &["-c", "codex mcp list"])).is_none()
        );
    }

    #[test]
    fn a_program_not_on_path_and_an_overlong_name_are_misconfigurations() {
        let why = static_problem(Brain::Codex, "x", &reg("no-such-mcp-server-xyz", &[])).unwrap();
        assert!(why.contains("no-such-mcp-server-xyz"), "{why}");
        let long = "a".repeat(60);
        let why = static_problem(Brain::Claude, &long, &reg("sh", &[])).unwrap();
        assert!(why.contains("64"), "{why}");
        // Only Claude Code has the limit.
        assert!(static_problem(Brain::Codex, &long, &reg("sh", &[])).is_none());
        assert_eq!(
            overlong_tools("srv", &["ok".into(), "t".repeat(60)]),
            vec!["t".repeat(60)]
        );
    }

    #[test]
    fn tool_changes_are_said_both_ways() {
        let a = vec!["read".to_string(), "write".to_string()];
        let b = vec!["read".to_string(), "search".to_string()];
        assert_eq!(tools_change(&a, &b), "added search; removed write");
        assert_eq!(tools_change(&a, &a), "");
    }
}
