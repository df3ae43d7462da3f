//! The `ai` command: route a task to the best brain and run it.
//!
//! `ai "TASK"` streams the answer to stdout (progress on stderr) and falls back to the next
//! brain when the chosen one fails; `ai --brain NAME "TASK"` forces a brain;
//! `ai route --dry-run --json "TASK"` prints the decision only (DESIGN.md §3); `-` reads the
//! task from stdin. Every run records `route.decided`, `task.started`, `task.finished` and, on a
//! fallback, `route.fallback`, through the daemon or the spool.
//!
//! Startup stays lean for `ai route`: no async runtime, no database, no brain process; the
//! live state is gathered with file checks and, for the gateway, one bounded connect.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::{Ctx, Failure, print_json, usage_error};
use paios_core::brains::Brain;
use paios_core::brains::adapter::{self, BrainEvent};
use paios_core::router::config::RouterConfig;
use paios_core::router::run::{self, Progress, TaskRequest, live_state};
use paios_core::router::{Decision, LiveState, Router};

#[derive(Debug, Parser)]
#[command(
    name = "ai",
    version = paios_core::VERSION,
    about = "Send a task to the best brain (claude, codex, openclaw) and stream its answer",
    long_about = "Routes a task to the brain that suits it — code, debugging, tests and shell work to \
                  codex; design, writing, research and analysis to claude; messages and reminders to \
                  openclaw (see [router] in paios.toml) — runs it, and streams the answer to stdout. \
                  If the brain fails (error, timeout, overload) the next one is tried.",
    after_help = "Examples:\n  ai \"write a haiku about rust\"\n  ai --brain codex \"fix the failing test\"\n  \
                  git diff | ai -\n  ai route --dry-run --json \"refactor the parser\"",
    args_conflicts_with_subcommands = true
)]
struct AiCli {
    /// Use this folder for all PAIOS state instead of $PAIOS_HOME.
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<AiCommand>,

    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum AiCommand {
    /// Show which brain a task would go to, and why, without running it.
    Route(RouteArgs),
}

#[derive(Debug, Args)]
struct RouteArgs {
    /// Only decide (the default; kept for scripts that say it explicitly).
    #[arg(long)]
    dry_run: bool,
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
    /// Pretend the user forced this brain.
    #[arg(long, value_name = "NAME")]
    brain: Option<String>,
    /// The task (`-` reads it from stdin).
    #[arg(value_name = "TASK", required = true)]
    task: Vec<String>,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Run on this brain (claude, codex, openclaw) instead of the router's choice.
    #[arg(long, value_name = "NAME")]
    brain: Option<String>,
    /// Print one JSON result at the end instead of streaming the answer.
    #[arg(long)]
    json: bool,
    /// Stop a brain after this many seconds, at most a week (default: [router] timeout_s).
    #[arg(long, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=paios_core::router::config::MAX_TIMEOUT_S))]
    timeout: Option<u64>,
    /// Do not try another brain when the chosen one fails.
    #[arg(long)]
    no_fallback: bool,
    /// Extra instructions for the brain (Claude Code's --append-system-prompt).
    #[arg(long, value_name = "TEXT")]
    append_system_prompt: Option<String>,
    /// Run the brain in this directory.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// The task (`-` reads it from stdin).
    #[arg(value_name = "TASK")]
    task: Vec<String>,
}

/// Entry point of the `ai` binary.
pub fn main() -> ExitCode {
    let (cli, ctx) = match crate::parse_args::<AiCli>(|cli| cli.home.as_deref()) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let result = match cli.command {
        Some(AiCommand::Route(args)) => route(&ctx, args),
        None => run(&ctx, cli.run),
    };
    match result {
        Ok(code) => code,
        Err(e) => report(e),
    }
}

fn report(e: anyhow::Error) -> ExitCode {
    if crate::reader_gone(&e) {
        return ExitCode::SUCCESS;
    }
    let code = e.downcast_ref::<Failure>().map(|f| f.code).unwrap_or(1);
    eprintln!("ai: error: {e:#}");
    ExitCode::from(code)
}

/// The task from the arguments, or stdin for `-`.
fn read_task(words: &[String]) -> anyhow::Result<String> {
    let task = if words.len() == 1 && words[0] == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| usage_error(format!("cannot read the task from stdin: {e}")))?;
        text
    } else {
        words.join(" ")
    };
    if task.trim().is_empty() {
        return Err(usage_error(
            "no task given: `ai \"TASK\"`, or `ai -` to read it from stdin (see `ai --help`)",
        ));
    }
    Ok(task)
}

fn parse_brain(name: &str) -> anyhow::Result<Brain> {
    name.parse::<Brain>()
        .map_err(|e| usage_error(format!("--brain: {e}")))
}

fn router_config(ctx: &Ctx) -> anyhow::Result<(RouterConfig, Router)> {
    let config = ctx.config()?.router;
    let policy = config.policy().map_err(|(key, message)| {
        usage_error(format!(
            "{}: key `{key}`: {message}",
            ctx.paths.config_file().display()
        ))
    })?;
    Ok((config, Router::new(policy)))
}

fn decide(
    router: &Router,
    task: &str,
    brain: Option<&str>,
    live: &LiveState,
) -> anyhow::Result<Decision> {
    Ok(match brain {
        Some(name) => router.force(task, parse_brain(name)?, live),
        None => router.decide(task, live),
    })
}

fn route(ctx: &Ctx, args: RouteArgs) -> anyhow::Result<ExitCode> {
    let task = read_task(&args.task)?;
    let (_, router) = router_config(ctx)?;
    let live = live_state(&ctx.paths);
    let decision = decide(&router, &task, args.brain.as_deref(), &live)?;
    if args.json {
        print_json(&decision.to_json());
    } else {
        outln!("{} ({})", decision.brain, decision.reason);
        outln!(
            "category {} · confidence {:.2} · scores claude {:.2} codex {:.2} openclaw {:.2}",
            decision.category,
            decision.confidence,
            decision.scores[&Brain::Claude],
            decision.scores[&Brain::Codex],
            decision.scores[&Brain::Openclaw]
        );
        if !decision.fallbacks.is_empty() {
            let names: Vec<&str> = decision.fallbacks.iter().map(|b| b.name()).collect();
            outln!("fallbacks: {}", names.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run(ctx: &Ctx, args: RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = args.cwd.as_ref().filter(|d| !d.is_dir()) {
        return Err(usage_error(format!(
            "--cwd {}: no such folder",
            dir.display()
        )));
    }
    let mut request = TaskRequest::new(read_task(&args.task)?);
    request.brain = args.brain.as_deref().map(parse_brain).transpose()?;
    request.timeout = args.timeout.map(Duration::from_secs);
    request.fallback = !args.no_fallback;
    request.append_system_prompt = args.append_system_prompt.clone();
    request.cwd = args.cwd.clone();
    let (config, router) = router_config(ctx)?;

    adapter::install_interrupt_handler();
    let quiet = args.json;
    let mut printed_any = false;
    let outcome = run::run(
        &ctx.paths,
        &config,
        &router,
        &request,
        &ctx.paths,
        &mut |progress| match progress {
            Progress::Decided(decision) if decision.runnable => {
                eprintln!("ai: {} — {}", decision.brain, decision.reason);
            }
            Progress::Decided(_) => {}
            Progress::FallingBack { from, to, reason } => {
                if printed_any && !quiet {
                    outln!();
                    printed_any = false;
                }
                eprintln!("ai: {from} failed ({reason}); falling back to {to}");
            }
            Progress::Brain(_, BrainEvent::Text(text)) if !quiet => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
                printed_any = true;
            }
            Progress::Brain(brain, BrainEvent::Tool { name, detail }) => {
                eprintln!("ai: [{brain}] {name} {detail}");
            }
            Progress::Brain(brain, BrainEvent::Progress(text)) => {
                eprintln!("ai: [{brain}] {text}");
            }
            Progress::Brain(..) => {}
        },
    );
    if printed_any && !quiet {
        outln!();
    }
    if args.json {
        // A script reading the JSON gets an answer of the same shape, even with nothing run.
        print_json(&outcome.to_json());
    }
    let Some(last) = outcome.last() else {
        return Err(crate::failed(outcome.not_run().unwrap_or_default()));
    };
    match &last.error {
        None => {
            if std::io::stderr().is_terminal() {
                let cost = last
                    .cost_usd
                    .map(|c| format!(", ${c:.4}"))
                    .unwrap_or_default();
                eprintln!(
                    "ai: done by {} in {:.1}s ({} tokens{cost})",
                    last.brain,
                    last.duration_ms as f64 / 1000.0,
                    last.usage.total()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(adapter::Failure::Cancelled(_)) => {
            eprintln!("ai: interrupted; {} was stopped", last.brain);
            Ok(ExitCode::from(130))
        }
        Some(error) => {
            if !args.json {
                eprintln!("ai: {} failed: {error}", last.brain);
            }
            if outcome.attempts.len() == outcome.planned && outcome.planned > 1 {
                eprintln!("ai: every brain failed ({} tried)", outcome.attempts.len());
            }
            Ok(ExitCode::from(1))
        }
    }
}
