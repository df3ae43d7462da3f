//! `paios brains install|status|upgrade|rollback`: flags and printing only; the work is in
//! `paios_core::brains`.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::{Ctx, failed, print_json, usage_error};
use paios_core::brains::install::{self, Installed, Upgraded};
use paios_core::brains::{self, Brain};

#[derive(Debug, Args)]
pub struct BrainsArgs {
    #[command(subcommand)]
    pub command: BrainsCommand,
}

#[derive(Debug, Subcommand)]
pub enum BrainsCommand {
    /// Install the known-good (pinned) versions from the npm registry (all three by default).
    ///
    /// Installs into $PAIOS_HOME/tools (or $PAIOS_TOOLS_DIR), plus a Node for the gateway when
    /// the system's is older than it needs. An interrupted install leaves the previous one working.
    Install {
        /// Brains to install: claude, codex, openclaw.
        names: Vec<String>,
    },
    /// Show which copy of each brain PAIOS runs, its version, and whether it starts.
    Status {
        /// Brains to check (all by default).
        names: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Install another version side by side, check it, and switch to it only if it works.
    Upgrade {
        /// The brain: claude, codex or openclaw.
        name: String,
        /// The version to install (default: the newest on the registry).
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Switch back to the version that was current before the last upgrade.
    Rollback {
        /// The brain: claude, codex or openclaw.
        name: String,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_names(names: &[String]) -> anyhow::Result<Vec<Brain>> {
    if names.is_empty() {
        return Ok(Brain::ALL.to_vec());
    }
    let mut brains = Vec::new();
    for name in names {
        let brain: Brain = name.parse().map_err(|e| usage_error(format!("{e}")))?;
        if !brains.contains(&brain) {
            brains.push(brain);
        }
    }
    Ok(brains)
}

fn progress(line: &str) {
    eprintln!("paios: {line}");
}

pub fn run(ctx: &Ctx, args: BrainsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        BrainsCommand::Install { names } => {
            let brains = parse_names(&names)?;
            let done = install::install(&ctx.paths, &brains, &progress)
                .map_err(|e| failed(e.to_string()))?;
            for (brain, outcome) in done {
                if let Installed::Switched { version, from } = outcome {
                    match from {
                        Some(from) if from != version => {
                            progress(&format!("{brain}: now {version} (was {from})"))
                        }
                        _ => progress(&format!("{brain}: now {version}")),
                    }
                }
            }
            let report = brains::status::status(&ctx.paths, &brains);
            for line in &report.brains {
                if let Some(error) = &line.error {
                    progress(&format!("{}: {error}", line.name));
                }
            }
            if report.all_ok() {
                Ok(ExitCode::SUCCESS)
            } else {
                Err(failed("installed, but not every brain starts (see above)"))
            }
        }
        BrainsCommand::Status { names, json } => {
            let brains = parse_names(&names)?;
            let report = brains::status::status(&ctx.paths, &brains);
            if json {
                print_json(&serde_json::to_value(&report)?);
            } else {
                // The table is the command's output (stdout), so it can be piped.
                for b in &report.brains {
                    let state = if b.ok { "ok" } else { "NOT OK" };
                    let from = match (&b.path, b.managed) {
                        (None, _) => "not installed",
                        (Some(_), true) => "managed",
                        (Some(_), false) => "PATH",
                    };
                    outln!(
                        "{:<9} {:<7} {:<12} pinned {:<12} {} {}",
                        b.name,
                        state,
                        b.version.as_deref().unwrap_or("-"),
                        b.pinned.as_deref().unwrap_or("-"),
                        from,
                        b.path.as_deref().unwrap_or(""),
                    );
                    if let Some(e) = &b.error {
                        outln!("          {e}");
                    }
                }
                outln!(
                    "node      {} {}",
                    report.node.version.as_deref().unwrap_or("-"),
                    report.node.path.as_deref().unwrap_or("(none)")
                );
            }
            Ok(if report.all_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        BrainsCommand::Upgrade { name, to, json } => {
            let brain: Brain = name.parse().map_err(|e| usage_error(format!("{e}")))?;
            match install::upgrade(&ctx.paths, brain, to.as_deref(), &progress) {
                Ok(Upgraded::AlreadyCurrent(version)) => {
                    progress(&format!("{brain} is already at {version}"));
                    if json {
                        print_json(
                            &serde_json::json!({"brain": brain.name(), "from": version, "to": version, "changed": false}),
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Ok(Upgraded::Switched { from, to }) => {
                    progress(&format!(
                        "{brain}: upgraded to {to} (was {}); `paios brains rollback {brain}` switches back",
                        from.as_deref().unwrap_or("not managed")
                    ));
                    if json {
                        print_json(
                            &serde_json::json!({"brain": brain.name(), "from": from, "to": to, "changed": true}),
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    let current = brains::resolve(&ctx.paths, brain)
                        .map(|r| match r.version {
                            Some(v) => format!("{brain} {v} stays current"),
                            None => format!("{brain} on PATH stays in use"),
                        })
                        .unwrap_or_else(|| format!("{brain} stays not installed"));
                    Err(failed(format!("upgrade failed: {e}; {current}")))
                }
            }
        }
        BrainsCommand::Rollback { name, json } => {
            let brain: Brain = name.parse().map_err(|e| usage_error(format!("{e}")))?;
            let (from, to) = install::rollback(&ctx.paths, brain, &progress)
                .map_err(|e| failed(format!("rollback failed: {e}")))?;
            progress(&format!(
                "{brain}: rolled back to {to} (was {})",
                from.as_deref().unwrap_or("-")
            ));
            if json {
                print_json(&serde_json::json!({"brain": brain.name(), "from": from, "to": to}));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
