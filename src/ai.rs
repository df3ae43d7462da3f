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
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::{Ctx, Failure, print_json, usage_error};
use paios_core::brains::adapter::{self, Adapter, BrainEvent, RunRequest, RunResult};
use paios_core::brains::{Brain, claude::Claude, codex::Codex, openclaw::OpenClaw};
use paios_core::events::{Event, kind};
use paios_core::paths::Paths;
use paios_core::router::config::RouterConfig;
use paios_core::router::{BrainState, Decision, LiveState, Router};

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

/// What can be known cheaply about each brain: installed (file checks), and for the gateway
/// whether it is up (the daemon's watchdog, or one bounded connect).
pub fn live_state(paths: &Paths) -> LiveState {
    let mut live = LiveState::all_usable();
    for brain in Brain::ALL {
        if paios_core::brains::resolve(paths, brain).is_none() {
            live = live.with(brain, BrainState::missing());
        } else if brain == Brain::Openclaw {
            let health = paios_core::brains::openclaw::gateway_health(paths);
            if !health.ok {
                live = live.with(
                    brain,
                    BrainState {
                        unhealthy: Some(health.detail),
                        ..Default::default()
                    },
                );
            }
        }
    }
    // Budgets: consulted only when a limit is set, since the first read of a large log tree
    // takes a moment (later reads only look at what was appended).
    if let Ok(config) = paios_core::config::Config::load(&paths.config_file())
        && config.budgets.has_limits()
    {
        match paios_core::usage::budget_state(paths, &config) {
            Ok(budgets) => {
                for brain in Brain::ALL {
                    if let Some(why) = budgets.reason(brain.name()) {
                        let mut state = live.state(brain);
                        state.over_budget = Some(why);
                        live = live.with(brain, state);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the usage ledger for budgets"),
        }
    }
    live
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

/// `ai --json`'s answer: the last attempt, the decision and every attempt; with no attempt (no
/// brain could run) the same fields, empty, and `not_run` as the error.
fn run_json(decision: &Decision, attempts: &[RunResult], not_run: &str) -> Value {
    let all = attempts
        .iter()
        .map(|a| {
            json!({
                "brain": a.brain,
                "outcome": a.outcome(),
                "duration_ms": a.duration_ms,
                "error": a.error,
            })
        })
        .collect::<Vec<_>>();
    let mut answer = match attempts.last() {
        Some(last) => json!({
            "brain": last.brain,
            "outcome": last.outcome(),
            "text": last.text,
            "usage": last.usage,
            "tokens": last.usage.total(),
            "cost_usd": last.cost_usd,
            "duration_ms": last.duration_ms,
            "error": last.error,
        }),
        None => json!({
            "brain": null,
            "outcome": "no_brain",
            "text": null,
            "usage": null,
            "tokens": 0,
            "cost_usd": null,
            "duration_ms": 0,
            "error": not_run,
        }),
    };
    answer["category"] = json!(decision.category.name());
    answer["decision"] = decision.to_json();
    answer["attempts"] = json!(all);
    answer
}

/// The adapter of a brain.
pub fn adapter_for(paths: &Paths, brain: Brain) -> Box<dyn Adapter> {
    match brain {
        Brain::Claude => Box::new(Claude::new(paths)),
        Brain::Codex => Box::new(Codex::new(paths)),
        Brain::Openclaw => Box::new(OpenClaw::new(paths)),
    }
}

fn run_event(kind: &str, brain: Brain, data: Value) -> Event {
    Event::new(kind, "router").subject(brain.name()).data(data)
}

fn run(ctx: &Ctx, args: RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = args.cwd.as_ref().filter(|d| !d.is_dir()) {
        return Err(usage_error(format!(
            "--cwd {}: no such folder",
            dir.display()
        )));
    }
    let task = read_task(&args.task)?;
    let (config, router) = router_config(ctx)?;
    let live = live_state(&ctx.paths);
    let decision = decide(&router, &task, args.brain.as_deref(), &live)?;
    let task_id = uuid::Uuid::now_v7().to_string();
    let mut decided = decision.to_json();
    decided["task_id"] = json!(task_id);
    decided["task_chars"] = json!(task.chars().count());
    paios_core::client::emit_quietly(
        &ctx.paths,
        &run_event(kind::ROUTE_DECIDED, decision.brain, decided),
    );

    if !decision.runnable {
        let why = decision
            .skipped
            .iter()
            .map(|(_, why)| why.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let error = format!("no brain can take this task: {why}");
        if args.json {
            // A script reading the JSON gets an answer of the same shape, with nothing run.
            print_json(&run_json(&decision, &[], &error));
        }
        return Err(crate::failed(error));
    }

    adapter::install_interrupt_handler();
    // Both are at least 1 s: clap and the config validation check the range.
    let timeout = Duration::from_secs(args.timeout.unwrap_or(config.timeout_s));
    let mut request = RunRequest::new(task, timeout);
    request.append_system_prompt = args.append_system_prompt.clone();
    request.cwd = args.cwd.clone();

    let mut order = vec![decision.brain];
    if config.fallback && !args.no_fallback {
        order.extend(decision.fallbacks.iter().copied());
    }
    let quiet = args.json;
    eprintln!("ai: {} — {}", decision.brain, decision.reason);

    let mut attempts: Vec<RunResult> = Vec::new();
    for (i, &brain) in order.iter().enumerate() {
        if i > 0 {
            let previous = &attempts[i - 1];
            let why = previous
                .error
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_default();
            eprintln!(
                "ai: {} failed ({why}); falling back to {brain}",
                order[i - 1]
            );
            paios_core::client::emit_quietly(
                &ctx.paths,
                &run_event(
                    kind::ROUTE_FALLBACK,
                    brain,
                    json!({
                        "task_id": task_id,
                        "from": order[i - 1].name(),
                        "to": brain.name(),
                        "reason": why,
                        "outcome": previous.outcome(),
                        "category": decision.category.name(),
                    }),
                ),
            );
        }
        paios_core::client::emit_quietly(
            &ctx.paths,
            &run_event(
                kind::TASK_STARTED,
                brain,
                json!({
                    "task_id": task_id,
                    "brain": brain.name(),
                    "category": decision.category.name(),
                    "attempt": i + 1,
                    "timeout_s": timeout.as_secs(),
                }),
            ),
        );
        let started = Instant::now();
        let mut printed_any = false;
        let mut on_event = |event: &BrainEvent| match event {
            BrainEvent::Text(text) if !quiet => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
                printed_any = true;
            }
            BrainEvent::Tool { name, detail } => {
                eprintln!("ai: [{brain}] {name} {detail}");
            }
            BrainEvent::Progress(text) => eprintln!("ai: [{brain}] {text}"),
            _ => {}
        };
        let mut result = adapter_for(&ctx.paths, brain).run(&request, &mut on_event);
        result.duration_ms = started.elapsed().as_millis() as u64;
        if printed_any && !quiet {
            outln!();
        }
        paios_core::client::emit_quietly(
            &ctx.paths,
            &run_event(
                kind::TASK_FINISHED,
                brain,
                json!({
                    "task_id": task_id,
                    "brain": brain.name(),
                    "category": decision.category.name(),
                    "duration_ms": result.duration_ms,
                    "tokens": result.usage.total(),
                    "usage": result.usage,
                    "cost_usd": result.cost_usd,
                    "outcome": result.outcome(),
                    "error": result.error.as_ref().map(|e| e.message().to_string()),
                    "session": result.session,
                }),
            ),
        );
        let failure = result.error.clone();
        attempts.push(result);
        match failure {
            None => break,
            Some(f) if !f.falls_back() => break,
            Some(_) => {}
        }
    }

    let last = attempts.last().expect("at least one attempt");
    if args.json {
        print_json(&run_json(&decision, &attempts, ""));
    }
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
            if attempts.len() < order.len() || order.len() == 1 {
                Ok(ExitCode::from(1))
            } else {
                eprintln!("ai: every brain failed ({} tried)", attempts.len());
                Ok(ExitCode::from(1))
            }
        }
    }
}
