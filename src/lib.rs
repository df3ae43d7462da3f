//! Command-line definitions (clap) and their thin handlers. The binaries in `src/bin/` only
//! call [`paios_main`] / [`ai::main`]. Exit codes (DESIGN.md §3): 0 success, 1 the thing checked
//! failed, 2 bad usage or bad configuration.
//!
//! Each feature module's commands live in their own file here; handlers parse flags, call the
//! library, and print. No business logic.
//!
//! Command output goes through [`outln!`] / [`out!`], never `println!`: a reader that goes away
//! (`paios usage session | head`) ends the command quietly instead of a panic.

/// `println!` for a command's output (see [`write_stdout`]).
macro_rules! outln {
    () => { $crate::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
/// `print!` for a command's output (see [`write_stdout`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::write_stdout(format_args!($($arg)*)) };
}

pub mod ai;
pub mod approvals;
pub mod bench;
pub mod brains;
pub mod core;
pub mod guard;
pub mod mcp;
pub mod usage;
pub mod watchdog;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use paios_core::config::Config;
use paios_core::paths::Paths;

/// An error with the exit code it should produce.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

/// Exit 2: the user asked for something malformed.
pub fn usage_error(message: impl Into<String>) -> anyhow::Error {
    Failure {
        code: 2,
        message: message.into(),
    }
    .into()
}

/// Exit 1: the thing checked failed.
pub fn failed(message: impl Into<String>) -> anyhow::Error {
    Failure {
        code: 1,
        message: message.into(),
    }
    .into()
}

/// What every handler gets.
pub struct Ctx {
    pub paths: Paths,
}

impl Ctx {
    /// Load paios.toml; an invalid file is a usage error (exit 2) with file:line:column.
    pub fn config(&self) -> anyhow::Result<Config> {
        Config::load(&self.paths.config_file()).map_err(|e| usage_error(e.to_string()))
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "paios",
    version = paios_core::VERSION,
    about = "PAIOS — supervise, route and gate your AI brains (claude, codex, openclaw)",
    long_about = "PAIOS keeps the Claude Code CLI, the Codex CLI and the OpenClaw gateway healthy and \
                  working together: a daemon supervises services and records every event; the `ai` \
                  command routes tasks; an approval gate decides what agents may do.\n\n\
                  All state lives in $PAIOS_HOME (or the platform data folder).",
    after_help = "Start with `paios init`, then `paios daemon`. JSON goes to stdout, messages to stderr."
)]
pub struct Cli {
    /// Use this folder for all PAIOS state instead of $PAIOS_HOME.
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented default paios.toml (never overwrites an existing one).
    Init(core::InitArgs),
    /// Run the PAIOS core in the foreground (or `paios daemon install` to run it at login).
    Daemon(core::DaemonArgs),
    /// Show the daemon and every supervised service.
    Status(core::StatusArgs),
    /// List recorded events, oldest first.
    Events(core::EventsArgs),
    /// Record one event (through the daemon, or the spool when it is down).
    Emit(core::EmitArgs),
    /// Print the version.
    Version,
    /// Measure performance and print figures.
    Bench(bench::BenchArgs),

    /// Start, stop, restart a supervised service, or read its logs.
    Service(watchdog::ServiceArgs),
    /// List open and recent incidents (alerts).
    Incidents(watchdog::IncidentsArgs),
    /// Print the recovery procedure for a component.
    Runbook(watchdog::RunbookArgs),

    /// Install, check, upgrade and roll back the three brains (claude, codex, openclaw).
    Brains(brains::BrainsArgs),

    /// Classify a shell command or tool call as safe, ask or never.
    Classify(approvals::ClassifyArgs),
    /// Claude Code hook entry points (read the hook's JSON on stdin).
    Hook(approvals::HookArgs),
    /// Install or remove PAIOS's hooks in Claude Code's settings.
    Hooks(approvals::HooksArgs),
    /// List and answer pending approval requests.
    Approvals(approvals::ApprovalsArgs),
    /// Show or set the autonomy level (0–3).
    Autonomy(approvals::AutonomyArgs),
    /// Show or check approval policy files.
    Policy(approvals::PolicyArgs),

    /// Token usage and costs from the Claude Code, Codex and OpenClaw logs.
    Usage(usage::UsageArgs),
    /// One status line for Claude Code (its status line JSON on stdin): today's cost, the
    /// 5-hour window, the brain's headroom. `paios hooks install --statusline` sets it up.
    Statusline(usage::StatuslineArgs),

    /// Serve PAIOS's tools over MCP on stdin/stdout (what the brains start).
    Mcp(mcp::McpArgs),
    /// Register the brains with PAIOS and with each other over MCP, and check every link.
    Mesh(mcp::MeshArgs),

    /// Validate, snapshot, diff and roll back the watched configuration files.
    Guard(guard::GuardArgs),
}

/// Entry point of the `paios` binary.
pub fn paios_main() -> ExitCode {
    let (cli, ctx) = match parse_args::<Cli>(|cli| cli.home.as_deref()) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Init(a) => core::init(&ctx, a),
        Command::Daemon(a) => core::daemon(&ctx, a),
        Command::Status(a) => core::status(&ctx, a),
        Command::Events(a) => core::events(&ctx, a),
        Command::Emit(a) => core::emit(&ctx, a),
        Command::Version => {
            outln!("paios {}", paios_core::VERSION);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(a) => bench::run(&ctx, a),
        Command::Service(a) => watchdog::service(&ctx, a),
        Command::Incidents(a) => watchdog::incidents(&ctx, a),
        Command::Runbook(a) => watchdog::runbook(&ctx, a),
        Command::Brains(a) => brains::run(&ctx, a),
        Command::Classify(a) => approvals::classify(&ctx, a),
        Command::Hook(a) => approvals::hook(&ctx, a),
        Command::Hooks(a) => approvals::hooks(&ctx, a),
        Command::Approvals(a) => approvals::approvals(&ctx, a),
        Command::Autonomy(a) => approvals::autonomy(&ctx, a),
        Command::Policy(a) => approvals::policy(&ctx, a),
        Command::Usage(a) => usage::run(&ctx, a),
        Command::Statusline(a) => usage::statusline(&ctx, a),
        Command::Mcp(a) => mcp::mcp(&ctx, a),
        Command::Mesh(a) => mcp::mesh(&ctx, a),
        Command::Guard(a) => guard::guard(&ctx, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => report(e),
    }
}

/// What every entry point does first: parse argv (help/version exit 0, bad usage exit 2) and
/// resolve the PAIOS home from `--home` or the environment.
pub fn parse_args<P: Parser>(
    home: impl FnOnce(&P) -> Option<&std::path::Path>,
) -> Result<(P, Ctx), ExitCode> {
    let cli = P::try_parse().map_err(|e| {
        let _ = e.print();
        ExitCode::from(if e.use_stderr() { 2 } else { 0 })
    })?;
    let paths = match home(&cli) {
        Some(home) => Ok(Paths::at(home)),
        None => Paths::from_env(),
    };
    let paths = paths.map_err(|e| report(anyhow::Error::from(e)))?;
    Ok((cli, Ctx { paths }))
}

/// Print an error the way every PAIOS command does and pick its exit code.
pub fn report(e: anyhow::Error) -> ExitCode {
    if reader_gone(&e) {
        return ExitCode::SUCCESS;
    }
    let code = e.downcast_ref::<Failure>().map(|f| f.code).unwrap_or(1);
    eprintln!("paios: error: {e:#}");
    ExitCode::from(code)
}

pub use paios_core::text::printable;

/// The error is a write to a pipe whose reader has gone (see [`write_stdout`]).
pub fn reader_gone(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Placeholder arguments for commands whose module has not landed yet.
#[derive(Debug, Clone, clap::Args)]
pub struct NotYet {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

/// What a not-yet-built command answers (exit 2; "unrecognized" marks it as missing).
pub fn not_yet(what: &str) -> anyhow::Result<ExitCode> {
    Err(usage_error(format!(
        "unrecognized subcommand: `{what}` is not built yet"
    )))
}

/// Write a command's output to stdout. When the reader has gone (a closed pipe, as after
/// `| head`), there is nobody left to tell: the process ends at once with status 0, as ripgrep
/// and other Unix tools do (Rust ignores SIGPIPE, so `println!` would panic). Any other write
/// error (a full disk behind a redirection) ends it with a message and status 1.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("paios: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// Print JSON to stdout (pretty when stdout is a terminal).
pub fn print_json(value: &serde_json::Value) {
    use std::io::IsTerminal;
    let text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .unwrap_or_default();
    outln!("{text}");
}
