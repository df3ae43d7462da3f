//! `paios guard check|snapshot|diff|rollback|undo|history`: the watched configuration files.
//! Works on the files directly (daemon or not), under the lock the daemon's guardian shares;
//! a rollback or undo is recorded as a `config.rolled_back` event (through the daemon, or the
//! spool when it is down).

use std::process::ExitCode;

use paios_core::events::Event;
use paios_core::events::payload::ConfigRolledBack;
use paios_core::guardian::{config, ops};
use serde_json::json;

use crate::{Ctx, print_json};

#[derive(Debug, clap::Args)]
pub struct GuardArgs {
    #[command(subcommand)]
    pub command: GuardCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum GuardCommand {
    /// Validate every watched file (syntax, then its validator). Exit 1 when one is invalid.
    Check(JsonFlag),
    /// Snapshot every watched file now; each valid one becomes its last good version.
    Snapshot(JsonFlag),
    /// The keys that differ between a file's last good version and the file now (never
    /// values).
    Diff(NameArgs),
    /// Restore a file to its last good version, or to snapshot `--to ID`, after a protective
    /// snapshot of the file now.
    Rollback(RollbackArgs),
    /// Put back what the last rollback replaced.
    Undo(JsonFlag),
    /// The snapshots of one file, oldest first.
    History(NameArgs),
}

#[derive(Debug, clap::Args)]
pub struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// The watch's name (see `paios guard check`).
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The watch's name (see `paios guard check`).
    pub name: String,
    /// The snapshot to restore (an id or its prefix, from `paios guard history NAME`).
    #[arg(long, value_name = "ID")]
    pub to: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn err(e: ops::GuardError) -> anyhow::Error {
    match e {
        ops::GuardError::UnknownName(_) => crate::usage_error(e.to_string()),
        _ => crate::failed(e.to_string()),
    }
}

/// `paios guard …`.
pub fn guard(ctx: &Ctx, a: GuardArgs) -> anyhow::Result<ExitCode> {
    let cfg = ctx.config()?;
    let watches = config::resolve(&cfg, &ctx.paths);
    match a.command {
        GuardCommand::Check(f) => {
            let files = runtime()?
                .block_on(ops::check_all(&ctx.paths, &cfg, &watches))
                .map_err(err)?;
            let ok = files.iter().all(|f| f.valid);
            if f.json {
                print_json(&json!({"ok": ok, "files": files}));
            } else {
                for f in &files {
                    outln!(
                        "{:<16} {:<7} {}{}",
                        f.name,
                        if f.valid { "valid" } else { "INVALID" },
                        f.path,
                        f.error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        GuardCommand::Snapshot(f) => {
            let taken = runtime()?
                .block_on(ops::snapshot_all(&ctx.paths, &cfg, &watches))
                .map_err(err)?;
            if f.json {
                let rows: Vec<_> = taken
                    .iter()
                    .map(|(name, id, valid)| json!({"name": name, "id": id, "valid": valid}))
                    .collect();
                print_json(&json!({"snapshots": rows}));
            } else {
                for (name, id, valid) in &taken {
                    outln!(
                        "{name:<16} {id} {}",
                        if *valid { "good" } else { "invalid" }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        GuardCommand::Diff(n) => {
            let watch = ops::find(&watches, &n.name).map_err(err)?;
            let (good, keys) = ops::diff(&ctx.paths, watch).map_err(err)?;
            if n.json {
                let (keys, error) = match &keys {
                    Ok(k) => (Some(k.clone()), None),
                    Err(e) => (None, Some(e.clone())),
                };
                print_json(
                    &json!({"name": n.name, "last_good": good, "keys": keys, "error": error}),
                );
            } else {
                match (&good, &keys) {
                    (_, Err(e)) => outln!("{}: {e}", n.name),
                    (Some(id), Ok(k)) if k.is_empty() => {
                        outln!("{}: same as the last good version {id}", n.name)
                    }
                    (Some(id), Ok(k)) => {
                        outln!("{}: changed since the last good version {id}:", n.name);
                        for key in k {
                            outln!("  {key}");
                        }
                    }
                    (None, Ok(_)) => {}
                }
            }
            Ok(match keys {
                Ok(k) if k.is_empty() => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            })
        }
        GuardCommand::Rollback(r) => {
            let watch = ops::find(&watches, &r.name).map_err(err)?;
            let restored = ops::rollback(&ctx.paths, &cfg, watch, r.to.as_deref()).map_err(err)?;
            report(ctx, &restored, "request", watch.service.as_deref(), r.json);
            Ok(ExitCode::SUCCESS)
        }
        GuardCommand::Undo(f) => {
            let restored = ops::undo(&ctx.paths, &cfg, &watches).map_err(err)?;
            let service = ops::find(&watches, &restored.name)
                .ok()
                .and_then(|w| w.service.clone());
            report(ctx, &restored, "undo", service.as_deref(), f.json);
            Ok(ExitCode::SUCCESS)
        }
        GuardCommand::History(n) => {
            ops::find(&watches, &n.name).map_err(err)?;
            let store = paios_core::guardian::snapshots::Store::open(&ctx.paths)
                .map_err(|e| crate::failed(format!("the snapshot store: {e}")))?;
            let history: Vec<_> = store.history(&n.name).into_iter().cloned().collect();
            if n.json {
                print_json(&json!({"name": n.name, "snapshots": history}));
            } else {
                for e in &history {
                    outln!(
                        "{} {} {:<16} {}{}",
                        e.id,
                        paios_core::events::format_ts(&e.at),
                        e.reason,
                        if e.valid { "valid" } else { "invalid" },
                        if e.good { " good" } else { "" }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report(ctx: &Ctx, r: &ops::Restored, reason: &str, service: Option<&str>, json_out: bool) {
    let payload = ConfigRolledBack {
        path: r.path.clone(),
        restored: r.restored.clone(),
        before: r.before.clone(),
        keys: r.keys.clone(),
        reason: reason.into(),
    };
    let event = Event::of("guardian", &r.name, &payload);
    if let Err(e) = paios_core::client::emit(&ctx.paths, &event) {
        eprintln!("paios: the rollback is done but could not be recorded: {e}");
    }
    if json_out {
        print_json(&json!({
            "name": r.name, "path": r.path, "restored": r.restored,
            "before": r.before, "keys": r.keys,
        }));
    } else {
        outln!(
            "{}: restored snapshot {} (the replaced version is snapshot {}; `paios guard undo` puts it back)",
            r.path,
            r.restored,
            r.before
        );
        if let Some(s) = service {
            outln!("restart the service that reads it: paios service restart {s}");
        }
    }
}
