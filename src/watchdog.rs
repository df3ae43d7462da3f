//! `paios service`, `paios incidents`, `paios runbook`, `paios bench watchdog`,
//! `paios daemon install`.

use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use crate::{Ctx, failed, print_json, usage_error};
use paios_core::client::{Client, ClientError};
use paios_core::watchdog::{install, logs, runbooks};

#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub action: ServiceAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServiceAction {
    /// Start a stopped or failed service (clears its crash-loop count).
    Start(NameArgs),
    /// Stop a service: SIGTERM to its process group, SIGKILL after its grace.
    Stop(NameArgs),
    /// Stop and start a service (or restart it through its manager when adopted).
    Restart(NameArgs),
    /// Print a service's output log (stdout and stderr, stamped).
    Logs(LogsArgs),
}

#[derive(Debug, clap::Args)]
pub struct NameArgs {
    /// The service's `name` in paios.toml.
    pub name: String,
    /// Print the service's status afterwards as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The service's `name` in paios.toml.
    pub name: String,
    /// Keep printing new lines as they are written.
    #[arg(short, long)]
    pub follow: bool,
    /// How many of the last lines to print first.
    #[arg(short = 'n', long, default_value_t = 100)]
    pub lines: usize,
}

pub fn service(ctx: &Ctx, a: ServiceArgs) -> anyhow::Result<ExitCode> {
    let (verb, args) = match a.action {
        ServiceAction::Logs(l) => return service_logs(ctx, l),
        ServiceAction::Start(n) => ("start", n),
        ServiceAction::Stop(n) => ("stop", n),
        ServiceAction::Restart(n) => ("restart", n),
    };
    let mut client = match Client::connect(&ctx.paths) {
        Ok(c) => c,
        Err(e @ ClientError::NotRunning { .. }) => return Err(failed(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let status = match client.call(&format!("watchdog.{verb}"), json!({"name": args.name})) {
        Ok(s) => s,
        Err(ClientError::Api(e)) if e.code == "not_found" || e.code == "bad_request" => {
            return Err(usage_error(e.message));
        }
        Err(e) => return Err(e.into()),
    };
    if args.json {
        print_json(&status);
    } else {
        eprintln!(
            "{}: {}{}",
            args.name,
            status["state"].as_str().unwrap_or("?"),
            status["pid"]
                .as_u64()
                .map(|p| format!(" (pid {p})"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn service_logs(ctx: &Ctx, a: LogsArgs) -> anyhow::Result<ExitCode> {
    if a.name.contains(['/', '\\']) || a.name.starts_with('.') {
        return Err(usage_error(format!("{:?} is not a service name", a.name)));
    }
    let path = logs::log_path(&ctx.paths.service_logs_dir(), &a.name);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(failed(format!(
                "no log for service {:?} at {} (has it ever been started? `paios status`)",
                a.name,
                path.display()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    // Last N lines: read the tail (bounded) and print its last N lines.
    let len = file.metadata()?.len();
    let window = (a.lines as u64).saturating_add(1).saturating_mul(512);
    file.seek(SeekFrom::Start(len.saturating_sub(window)))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    let mut lines: Vec<&str> = text.lines().collect();
    if len > window && !lines.is_empty() {
        lines.remove(0); // probably a partial line
    }
    let start = lines.len().saturating_sub(a.lines);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in &lines[start..] {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    if !a.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut pos = len;
    let mut reader = std::io::BufReader::new(file);
    reader.seek(SeekFrom::Start(pos))?;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        if n > 0 {
            pos += n as u64;
            write!(out, "{line}")?;
            out.flush()?;
            continue;
        }
        std::thread::sleep(Duration::from_millis(200));
        // Rotated (or truncated): start over on the new file.
        let current = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if current < pos
            && let Ok(f) = std::fs::File::open(&path)
        {
            reader = std::io::BufReader::new(f);
            pos = 0;
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct IncidentsArgs {
    /// Print JSON: open incidents first, then recent resolved ones.
    #[arg(long)]
    pub json: bool,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

pub fn incidents(ctx: &Ctx, a: IncidentsArgs) -> anyhow::Result<ExitCode> {
    // Straight from the event log, so it works with the daemon down.
    let db = ctx.paths.database();
    let incidents = if db.exists() {
        let conn = paios_core::store::open_reader(&db)?;
        paios_core::alerts::list_incidents(&conn, a.limit)?
    } else {
        Vec::new()
    };
    if a.json {
        print_json(&json!(incidents));
        return Ok(ExitCode::SUCCESS);
    }
    if incidents.is_empty() {
        outln!("no incidents");
    }
    for i in incidents {
        outln!(
            "{} {:<8} {:<20} {}  raised {}{}\n    {}\n    runbook: paios runbook {}",
            if i.resolved_at.is_none() {
                "OPEN    "
            } else {
                "resolved"
            },
            i.severity,
            i.component,
            i.id,
            i.raised_at,
            i.resolved_at
                .map(|r| format!(", resolved {r}"))
                .unwrap_or_default(),
            i.message.replace('\n', "\n    "),
            i.runbook
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct RunbookArgs {
    /// The runbook's id (see the list without a name), e.g. `openclaw-gateway`.
    pub name: Option<String>,
}

pub fn runbook(_ctx: &Ctx, a: RunbookArgs) -> anyhow::Result<ExitCode> {
    let names: Vec<&str> = runbooks::RUNBOOKS.iter().map(|(n, _)| *n).collect();
    match a.name {
        None => {
            for n in names {
                outln!("{n}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(name) => match runbooks::get(&name) {
            Some(text) => {
                out!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            None => Err(usage_error(format!(
                "no runbook named {name:?}; there are: {}",
                names.join(", ")
            ))),
        },
    }
}

/// `paios daemon install [--print]`: a launchd agent / systemd user unit for the daemon.
pub fn daemon_install(ctx: &Ctx, print: bool) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe()?;
    let (path, text) = install::for_this_platform(&exe, ctx.paths.home())?;
    if print {
        out!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A unit or agent file, read by the service manager: readable by all, like its neighbours.
    paios_core::atomic::write_atomic(&path, text.as_bytes(), paios_core::atomic::Mode::Set(0o644))?;
    eprintln!("wrote {}", path.display());
    if cfg!(target_os = "macos") {
        eprintln!(
            "load it with: launchctl bootstrap gui/$(id -u) {}",
            path.display()
        );
    } else {
        eprintln!(
            "enable it with: systemctl --user daemon-reload && systemctl --user enable --now {}",
            install::SYSTEMD_UNIT
        );
    }
    Ok(ExitCode::SUCCESS)
}
