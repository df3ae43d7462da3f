//! MCP: PAIOS's own MCP server, and the mesh that links the three brains through it.
//!
//! * [`tools`] — the tools (schemas, descriptions, safety annotations) and the read-only ones'
//!   implementations over a home;
//! * [`bridge`] — `ask_claude` / `ask_codex`: a task for another brain through the router's run
//!   path and the approval gate, each call an `mcp.called` event;
//! * [`server`] — the rmcp handler, with the daemon ([`server::Backend::Core`]) or the stdio
//!   shim ([`server::Backend::Shim`]) behind it;
//! * [`http`] — streamable HTTP at `/mcp` in the daemon (bearer token and Origin/Host checks of
//!   the API, body limit, bounded sessions that expire when idle);
//! * [`stdio`] — `paios mcp`: the shim a brain starts (cheap to start, dies cleanly on SIGTERM
//!   or end of input, degraded read-only answers when the daemon is down);
//! * [`mesh`] — `paios mesh install|uninstall|check`: the links between the brains and PAIOS,
//!   through each CLI's own `mcp add`, with backups and an exact restore;
//! * [`probe`] — an MCP client that starts a server as registered and lists its tools;
//! * [`watch`] — the `mcp` module: the servers registered in the brains probed on a schedule,
//!   the periodic mesh check, their incidents;
//! * [`api`] — the `mcp.*` operations of the control API.
//!
//! Architecture invariants: state lives in the daemon (the shim holds none beyond one socket
//! connection); no MCP result carries a secret (results pass the approvals' redaction); every
//! tool name fits Claude Code's 64-character `mcp__paios__<tool>` limit.

pub mod api;
pub mod bridge;
pub mod config;
pub mod http;
pub mod mesh;
pub mod probe;
pub mod server;
pub mod stdio;
pub mod tools;
pub mod watch;

/// The name PAIOS's server is registered under in the brains (`mcp__paios__…`).
pub const SERVER_NAME: &str = "paios";
