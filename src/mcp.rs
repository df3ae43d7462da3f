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

#[derive(Debug, clap::Args)]
pub struct MeshArgs {
    #[command(subcommand)]
    pub command: MeshCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum MeshCommand {
    /// Register PAIOS (`paios mcp`) in every installed brain, and the brains in each other
    /// (`claude mcp serve` into Codex and OpenClaw, `openclaw mcp serve` into Claude and Codex).
    /// Idempotent; keeps a backup of each file it changes.
    Install(MeshTarget),
    /// Undo `mesh install`: the originals come back exactly when nothing else changed them.
    Uninstall(MeshTarget),
    /// Prove every link: start each registered server as its brain would and list its tools.
    Check(MeshCheckArgs),
    /// The MCP servers registered in the brains, as the daemon last probed them (every
    /// `[mcp] probe_interval_s`). Exit 1 when one is failing.
    Servers(MeshServersArgs),
}

#[derive(Debug, clap::Args)]
pub struct MeshServersArgs {
    /// Print JSON: `{"rounds","servers":[{"brain","name","target","ok","latency_ms","tools",
    /// "error","checked_at"}]}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct MeshTarget {
    /// Only this brain's registrations (claude, codex or openclaw).
    #[arg(long, value_name = "NAME")]
    pub brain: Option<String>,
    /// Print what changed as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct MeshCheckArgs {
    /// Only this brain (claude, codex or openclaw).
    #[arg(long, value_name = "NAME")]
    pub brain: Option<String>,
    /// Print JSON: `{"ok","brains":[…],"links":[…]}`.
    #[arg(long)]
    pub json: bool,
    /// Time limit of each probe, in seconds.
    #[arg(long, default_value_t = 60, value_name = "S")]
    pub timeout: u64,
}

fn brain_arg(name: &Option<String>) -> anyhow::Result<Option<paios_core::brains::Brain>> {
    name.as_deref()
        .map(|n| {
            n.parse()
                .map_err(|e| crate::usage_error(format!("--brain: {e}")))
        })
        .transpose()
}

fn this_program() -> anyhow::Result<std::path::PathBuf> {
    std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| crate::failed(format!("cannot find this program's own path: {e}")))
}

fn print_changes(changes: &[paios_core::mcp::mesh::LinkChange], json: bool) -> ExitCode {
    if json {
        crate::print_json(&serde_json::json!({ "changes": changes }));
    } else if changes.is_empty() {
        eprintln!("paios: nothing to do (no installed brain, or nothing PAIOS registered)");
    }
    for c in changes {
        if !json {
            eprintln!(
                "{:<9} {:<9} {:<10} {}{}",
                c.brain,
                c.server,
                c.action,
                c.file,
                c.error
                    .as_deref()
                    .map(|e| format!("\n          {e}"))
                    .unwrap_or_default()
            );
        }
    }
    if changes.iter().any(|c| c.action == "failed") {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `paios mesh …`.
pub fn mesh(ctx: &Ctx, a: MeshArgs) -> anyhow::Result<ExitCode> {
    use paios_core::mcp::mesh;
    match a.command {
        MeshCommand::Install(t) => {
            let brain = brain_arg(&t.brain)?;
            let changes = mesh::install(&ctx.paths, &this_program()?, brain)?;
            Ok(print_changes(&changes, t.json))
        }
        MeshCommand::Uninstall(t) => {
            let brain = brain_arg(&t.brain)?;
            let changes = mesh::uninstall(&ctx.paths, brain)?;
            Ok(print_changes(&changes, t.json))
        }
        MeshCommand::Servers(a) => servers(ctx, a),
        MeshCommand::Check(c) => {
            let brain = brain_arg(&c.brain)?;
            if !(1..=600).contains(&c.timeout) {
                return Err(crate::usage_error("--timeout: use 1–600 seconds"));
            }
            let report = mesh::check(
                &ctx.paths,
                &this_program()?,
                brain,
                std::time::Duration::from_secs(c.timeout),
            );
            if c.json {
                crate::print_json(&serde_json::to_value(&report).unwrap_or_default());
            } else {
                for l in &report.links {
                    outln!(
                        "{:<9} → {:<9} {}",
                        l.brain,
                        l.server,
                        if l.ok {
                            format!(
                                "ok ({} tools, {} ms)",
                                l.tools,
                                l.latency_ms.unwrap_or_default()
                            )
                        } else {
                            format!("BROKEN: {}", l.error.as_deref().unwrap_or("?"))
                        }
                    );
                }
                for b in report.brains.iter().filter(|b| !b.installed) {
                    outln!("{:<9}   not installed", b.name);
                }
                outln!("{}", if report.ok { "mesh ok" } else { "mesh BROKEN" });
            }
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// `paios mesh servers`: asks the daemon (the probes run there, on a schedule).
fn servers(ctx: &Ctx, a: MeshServersArgs) -> anyhow::Result<ExitCode> {
    use paios_core::client::{Client, ClientError};
    let mut client = match Client::connect(&ctx.paths) {
        Ok(c) => c,
        Err(e @ ClientError::NotRunning { .. }) => {
            return Err(crate::failed(format!(
                "{e}; the MCP servers are probed by the daemon (`paios daemon`)"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let report = client.call("mcp.servers", serde_json::json!({}))?;
    let servers = report["servers"].as_array().cloned().unwrap_or_default();
    let failing = servers.iter().any(|s| s["ok"] == false);
    if a.json {
        crate::print_json(&report);
    } else if report["rounds"] == 0 {
        outln!("not probed yet (the first round runs when the daemon starts)");
    } else if servers.is_empty() {
        outln!("no MCP servers registered in the brains (besides PAIOS)");
    } else {
        for s in &servers {
            let state = match s["ok"].as_bool() {
                Some(true) => format!(
                    "ok ({} tools, {} ms)",
                    s["tools"].as_array().map_or(0, Vec::len),
                    s["latency_ms"]
                ),
                Some(false) => format!("FAILING: {}", s["error"].as_str().unwrap_or("?")),
                None => format!("- {}", s["error"].as_str().unwrap_or("not probed")),
            };
            outln!(
                "{:<9} {:<20} {state}",
                s["brain"].as_str().unwrap_or("?"),
                s["name"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
