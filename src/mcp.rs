//! `paios mcp` (the stdio MCP server a brain starts) and `paios mesh install|uninstall|check`.

use std::process::ExitCode;

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct McpArgs {}

/// `paios mcp`: serve MCP on stdin/stdout until the client closes it or a signal comes.
pub fn mcp(ctx: &Ctx, _a: McpArgs) -> anyhow::Result<ExitCode> {
    paios_core::mcp::stdio::run(ctx.paths.clone())?;
    Ok(ExitCode::SUCCESS)
}
