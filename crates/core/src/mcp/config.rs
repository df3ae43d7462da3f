//! `[mcp]` section of paios.toml: PAIOS's own MCP server and the supervision of the MCP
//! servers registered in the brains' configs.

use serde::{Deserialize, Serialize};

/// `[mcp]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// Serve streamable HTTP at `/mcp` on the daemon's loopback port.
    pub http: bool,
    /// An HTTP session nobody used for this long is closed (the client starts a new one).
    pub session_idle_s: u64,
    /// At most this many HTTP sessions at once; a new client beyond that gets HTTP 503.
    pub max_sessions: usize,
    /// The largest JSON-RPC request body accepted over HTTP, in bytes.
    pub max_body_bytes: usize,
    /// Probe the MCP servers registered in the brains' configs this often (0 = never).
    pub probe_interval_s: u64,
    /// How long one probe (`initialize` + `tools/list`) may take.
    pub probe_timeout_s: u64,
    /// At most this many probes run at once (each may start a server's process).
    pub max_concurrent_probes: usize,
    /// Check the mesh (each brain sees PAIOS's tools) this often (0 = never).
    pub mesh_check_interval_s: u64,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            http: true,
            session_idle_s: 1800,
            max_sessions: 64,
            max_body_bytes: 1024 * 1024,
            probe_interval_s: 300,
            probe_timeout_s: 20,
            max_concurrent_probes: 2,
            mesh_check_interval_s: 3600,
        }
    }
}

impl McpConfig {
    /// Checks serde cannot express. Returns (key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let range = |key: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err((format!("mcp.{key}"), format!("use {lo}–{hi}, not {v}")))
            }
        };
        range("session_idle_s", self.session_idle_s, 1, 7 * 86_400)?;
        range("max_sessions", self.max_sessions as u64, 1, 10_000)?;
        range("max_body_bytes", self.max_body_bytes as u64, 4096, 64 << 20)?;
        if self.probe_interval_s != 0 {
            range("probe_interval_s", self.probe_interval_s, 1, 86_400)?;
        }
        range("probe_timeout_s", self.probe_timeout_s, 1, 600)?;
        range(
            "max_concurrent_probes",
            self.max_concurrent_probes as u64,
            1,
            64,
        )?;
        if self.mesh_check_interval_s != 0 {
            range(
                "mesh_check_interval_s",
                self.mesh_check_interval_s,
                10,
                7 * 86_400,
            )?;
        }
        Ok(())
    }
}
