//! `paios init`, `daemon`, `status`, `events`, `emit`.

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::{Ctx, failed, print_json, usage_error};
use paios_core::client::{Client, ClientError, Delivery};
use paios_core::events::Event;
use paios_core::store::{EventQuery, open_reader, query_events};

#[derive(Debug, clap::Args)]
pub struct InitArgs {}

pub fn init(ctx: &Ctx, _a: InitArgs) -> anyhow::Result<ExitCode> {
    ctx.paths.ensure()?;
    let path = ctx.paths.config_file();
    let written = paios_core::config::write_default(&path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    if written {
        eprintln!("wrote {}", path.display());
    } else {
        eprintln!("{} already exists; left it unchanged", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DaemonArgs {
    /// Also log to stderr.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(subcommand)]
    pub action: Option<DaemonAction>,
}

#[derive(Debug, clap::Subcommand)]
pub enum DaemonAction {
    /// Install a login service for the daemon (launchd on macOS, systemd --user on Linux).
    Install {
        /// Print the unit/agent instead of writing it.
        #[arg(long)]
        print: bool,
    },
}

pub fn daemon(ctx: &Ctx, a: DaemonArgs) -> anyhow::Result<ExitCode> {
    if let Some(DaemonAction::Install { print }) = a.action {
        return crate::watchdog::daemon_install(ctx, print);
    }
    let config = ctx.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("paios")
        .build()?;
    let options = paios_core::daemon::DaemonOptions { verbose: a.verbose };
    runtime.block_on(paios_core::daemon::run(ctx.paths.clone(), config, options))?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print JSON (the `paios status --json` contract).
    #[arg(long)]
    pub json: bool,
}

pub fn status(ctx: &Ctx, a: StatusArgs) -> anyhow::Result<ExitCode> {
    let status =
        match Client::connect(&ctx.paths).and_then(|mut c| c.call("core.status", Value::Null)) {
            Ok(s) => s,
            Err(ClientError::NotRunning { .. }) => {
                if a.json {
                    print_json(&json!({"daemon": null, "services": []}));
                }
                return Err(failed(format!(
                    "the PAIOS daemon is not running for {} (start it with `paios daemon`)",
                    ctx.paths.home().display()
                )));
            }
            Err(e) => return Err(e.into()),
        };
    if a.json {
        print_json(&status);
        return Ok(ExitCode::SUCCESS);
    }
    let d = &status["daemon"];
    if let Some(label) = status["health"]["label"].as_str() {
        outln!(
            "{label}: {}",
            status["health"]["summary"].as_str().unwrap_or("")
        );
    }
    outln!(
        "daemon  pid {}  up {}s  version {}",
        d["pid"],
        d["uptime_s"],
        d["version"].as_str().unwrap_or("?")
    );
    let services = status["services"].as_array().cloned().unwrap_or_default();
    if services.is_empty() {
        outln!("nothing supervised: no [[service]] tables, and no OpenClaw gateway found running");
    }
    for s in services {
        let probe = &s["probe"];
        outln!(
            "{:<24} {:<9} pid {:<8} restarts {:<3} probe {}",
            s["name"].as_str().unwrap_or("?"),
            s["state"].as_str().unwrap_or("?"),
            s["pid"],
            s["restarts"],
            if probe.is_null() {
                "-".to_string()
            } else if probe["ok"].as_bool() == Some(true) {
                format!("ok ({} ms)", probe["latency_ms"])
            } else {
                format!("FAIL: {}", probe["error"].as_str().unwrap_or("?"))
            }
        );
        if let Some(how) = s["discovered"].as_str() {
            outln!("{:<24} {how}", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Print JSON (an array, oldest first).
    #[arg(long)]
    pub json: bool,
    /// Only kinds starting with this prefix, e.g. `service.` or `alert.raised`.
    #[arg(long, value_name = "PREFIX")]
    pub kind: Option<String>,
    /// Only events about this subject (a service name, a brain, …).
    #[arg(long)]
    pub subject: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// At most this many (the newest ones).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

fn parse_ts(
    s: &Option<String>,
    flag: &str,
) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    s.as_ref()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|e| usage_error(format!("--{flag} {s:?}: not an RFC 3339 time ({e})")))
        })
        .transpose()
}

pub fn events(ctx: &Ctx, a: EventsArgs) -> anyhow::Result<ExitCode> {
    let query = EventQuery {
        kind_prefix: a.kind.clone(),
        subject: a.subject.clone(),
        since: parse_ts(&a.since, "since")?,
        until: parse_ts(&a.until, "until")?,
        after_id: None,
        limit: a.limit.max(1),
    };
    let db = ctx.paths.database();
    // Reads go straight to SQLite (WAL readers never block the writer), so this works whether
    // or not the daemon is running.
    let events = if db.exists() {
        let conn = open_reader(&db)?;
        query_events(&conn, &query)?
    } else {
        Vec::new()
    };
    if a.json {
        print_json(&Value::Array(
            events.iter().map(Event::to_contract_json).collect(),
        ));
    } else {
        for e in &events {
            outln!(
                "{:>6}  {}  {:<22} {:<10} {:<20} {}",
                e.id.unwrap_or_default(),
                paios_core::events::format_ts(&e.ts),
                e.kind,
                e.source,
                e.subject,
                e.data
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct EmitArgs {
    /// Event kind, e.g. `note.added`.
    pub kind: String,
    /// What the event is about.
    #[arg(long, default_value = "")]
    pub subject: String,
    /// Event details as a JSON value.
    #[arg(long, default_value = "{}")]
    pub data: String,
    /// Who is recording it.
    #[arg(long, default_value = "cli")]
    pub source: String,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn emit(ctx: &Ctx, a: EmitArgs) -> anyhow::Result<ExitCode> {
    let data: Value = serde_json::from_str(&a.data)
        .map_err(|e| usage_error(format!("--data is not valid JSON: {e}")))?;
    let event = Event::new(a.kind, a.source).subject(a.subject).data(data);
    event.validate().map_err(usage_error)?;
    let outcome = paios_core::client::emit(&ctx.paths, &event)?;
    match outcome {
        Delivery::Stored(id) => {
            if a.json {
                print_json(&json!({"id": id, "uid": event.uid, "spooled": false}));
            }
        }
        Delivery::Spooled => {
            if a.json {
                print_json(&json!({"id": null, "uid": event.uid, "spooled": true}));
            }
            eprintln!(
                "paios: the daemon is not running; the event was spooled and will be recorded when it starts"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
