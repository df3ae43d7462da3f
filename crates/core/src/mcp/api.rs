//! Control-API operations of this module (`mcp.*`):
//!
//! * `mcp.call {tool, arguments}` → the tool's result JSON: what the stdio shim forwards (errors:
//!   `invalid_params`, `unknown_tool`, `tool_failed`);
//! * `mcp.tools` → the tool definitions, as `tools/list` answers;
//! * `mcp.servers` → `{"rounds", "servers": [ServerHealth…]}`: the MCP servers registered in
//!   the brains as last probed (see [`super::watch`]);
//! * `mcp.check` → runs the mesh check now (as the daemon does on its schedule) and answers
//!   `{"installed", "checked_at", "report"}` (`report`: `paios mesh check --json`'s shape;
//!   `null` when the mesh is not installed); what the panel's "Check now" asks.

use serde_json::{Value, json};

use super::tools::ToolError;
use crate::api::ApiError;
use crate::core::Core;

/// Answer `mcp.<verb>` (`call`, `tools`, `servers` or `check`) against the live core; any other verb is
/// an `unknown_op` error.
pub async fn handle(core: &Core, verb: &str, args: Value) -> Result<Value, ApiError> {
    match verb {
        "call" => {
            let tool = args
                .get("tool")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::bad_request("mcp.call needs `tool` (a tool name)"))?;
            let arguments = args.get("arguments").cloned().unwrap_or(Value::Null);
            super::server::call_in_core(core, tool, arguments)
                .await
                .map_err(|e| match e {
                    ToolError::InvalidArgs { .. } => ApiError::new("invalid_params", e.to_string()),
                    ToolError::Unknown(_) => ApiError::new("unknown_tool", e.to_string()),
                    ToolError::Failed(m) => ApiError::new("tool_failed", m),
                })
        }
        "tools" => Ok(json!({"tools": super::tools::list()})),
        "servers" => {
            let watch = &core.modules().mcp;
            Ok(json!({"rounds": watch.rounds(), "servers": watch.servers()}))
        }
        "check" => {
            let snapshot = super::watch::mesh_round(core).await;
            Ok(json!({
                "installed": snapshot.is_some(),
                "checked_at": snapshot.as_ref().map(|s| s.checked_at.clone()),
                "report": snapshot.map(|s| s.report),
            }))
        }
        _ => Err(ApiError::unknown_op("mcp", verb)),
    }
}
