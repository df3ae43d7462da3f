//! `paios classify`, `hook`, `hooks`, `approvals`, `autonomy`, `policy`, `bench hook`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::{Ctx, failed, print_json, usage_error};
use paios_core::approvals::classify::Context;
use paios_core::approvals::gateway;
use paios_core::approvals::hook::{self, Dialect};
use paios_core::approvals::install::{self, Target};
use paios_core::approvals::policy::Policy;
use paios_core::client::{Client, ClientError};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  paios classify --json -- rm -rf ~\n  \
                        paios classify --json --tool Write --input '{\"file_path\":\"/etc/hosts\"}'")]
pub struct ClassifyArgs {
    /// Print JSON: {"decision":"safe|ask|never","rule":"…","reason":"…"}.
    #[arg(long)]
    pub json: bool,
    /// Classify a tool call of this tool (Claude Code's tool name, e.g. Bash, Write, WebFetch).
    #[arg(long, requires = "input")]
    pub tool: Option<String>,
    /// The tool call's input as JSON.
    #[arg(long)]
    pub input: Option<String>,
    /// The project folder the call happens in (default: the current folder).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// The shell command (words are joined with spaces; quote it to keep it as one).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn load_policy(ctx: &Ctx) -> anyhow::Result<Policy> {
    Policy::load(&ctx.paths.policy_file()).map_err(|e| usage_error(e.to_string()))
}

pub fn classify(ctx: &Ctx, a: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let policy = load_policy(ctx)?;
    let mut context = Context::from_env();
    context.paios_home = Some(ctx.paths.home().to_path_buf());
    if let Some(cwd) = a.cwd {
        context.cwd = Some(std::path::absolute(cwd)?);
    }
    let verdict = match (&a.tool, &a.input) {
        (Some(tool), Some(input)) => {
            let input: Value = serde_json::from_str(input)
                .map_err(|e| usage_error(format!("--input is not JSON: {e}")))?;
            policy.classify_tool(tool, &input, &context)
        }
        _ if a.command.is_empty() => {
            return Err(usage_error(
                "give a command (`paios classify -- CMD…`) or a tool call (`--tool NAME --input JSON`)",
            ));
        }
        _ => policy.classify_command(&a.command.join(" "), &context),
    };
    if a.json {
        print_json(&json!({
            "decision": verdict.decision,
            "rule": verdict.rule,
            "reason": verdict.reason,
        }));
    } else {
        outln!(
            "{:<6} {}  {}",
            verdict.decision,
            verdict.rule,
            verdict.reason
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct HookArgs {
    #[arg(value_enum)]
    pub event: HookEvent,
    /// Which brain is calling (decides the answer's dialect and is recorded).
    #[arg(long, default_value = "claude")]
    pub brain: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HookEvent {
    /// Before a tool runs: allow, deny, or wait for an approval.
    PreToolUse,
    /// After a tool ran: recorded.
    PostToolUse,
    /// A session started: recorded; tells the agent about the gate.
    SessionStart,
    /// The agent stopped: recorded.
    Stop,
}

pub fn hook(ctx: &Ctx, a: HookArgs) -> anyhow::Result<ExitCode> {
    // Claude Code runs the tool when a hook crashes (any exit but 0 and 2 is a non-blocking
    // error); exit 2 blocks the call and shows the message. So a bug here fails closed.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("paios hook: internal error, the tool call is blocked: {info}");
        std::process::exit(2);
    }));
    let mut stdin = Vec::new();
    // A read error leaves the input empty, which the pre-tool-use hook refuses.
    let _ = std::io::stdin()
        .take(16 * 1024 * 1024)
        .read_to_end(&mut stdin);
    let dialect = if a.brain == "codex" {
        Dialect::Codex
    } else {
        Dialect::Claude
    };
    match a.event {
        HookEvent::PreToolUse => {
            let answer = hook::pre_tool_use(&ctx.paths, &stdin, &a.brain);
            if let Some(out) = answer.to_json(dialect) {
                outln!("{out}");
            }
        }
        HookEvent::PostToolUse => hook::notify(&ctx.paths, "tool.used", &stdin, &a.brain),
        HookEvent::SessionStart => {
            hook::notify(&ctx.paths, "session.started", &stdin, &a.brain);
            if dialect == Dialect::Claude {
                outln!(
                    "{}",
                    json!({"hookSpecificOutput": {
                        "hookEventName": "SessionStart",
                        "additionalContext": "Tool calls in this session pass through the PAIOS approval gate: \
                            some are refused outright (never rules), some wait for the user's approval. \
                            When a call is denied, read the reason and choose a safer way; do not retry it unchanged."
                    }})
                );
            }
        }
        HookEvent::Stop => hook::notify(&ctx.paths, "session.stopped", &stdin, &a.brain),
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct HooksArgs {
    #[arg(value_enum)]
    pub action: HooksAction,
    /// Whose hooks: claude (settings.json in $CLAUDE_CONFIG_DIR or ~/.claude), codex
    /// (hooks.json in $CODEX_HOME or ~/.codex), openclaw (the PAIOS plugin in front of the
    /// gateway's exec tool, set up through `openclaw config`), or all (openclaw when installed).
    #[arg(long, value_enum, default_value = "claude")]
    pub brain: HooksBrain,
    /// Use this file instead of the brain's default one.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// With install: also set Claude Code's status line to `paios statusline` (a status line
    /// of your own is not replaced). Uninstall always removes PAIOS's status line.
    #[arg(long)]
    pub statusline: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HooksAction {
    Install,
    Uninstall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HooksBrain {
    Claude,
    Codex,
    Openclaw,
    All,
}

pub fn hooks(ctx: &Ctx, a: HooksArgs) -> anyhow::Result<ExitCode> {
    let targets: &[Target] = match a.brain {
        HooksBrain::Claude => &[Target::Claude],
        HooksBrain::Codex => &[Target::Codex],
        HooksBrain::Openclaw => &[],
        HooksBrain::All => &[Target::Claude, Target::Codex],
    };
    let gateway = match a.brain {
        HooksBrain::Openclaw => true,
        HooksBrain::All => gateway::gateway_present(&ctx.paths),
        _ => false,
    };
    if a.file.is_some() && (targets.len() != 1 || gateway) {
        return Err(usage_error("--file needs one --brain: claude or codex"));
    }
    let timeout_s = ctx.config()?.approvals.timeout_s;
    let paios = std::env::current_exe()?;
    let mut results = Vec::new();
    for target in targets {
        let file = match a.file.clone().or_else(|| target.settings_file()) {
            Some(f) => f,
            None => return Err(failed("cannot find a home folder; pass --file")),
        };
        let mut outcome = match a.action {
            HooksAction::Install => {
                install::install(*target, &file, &paios, ctx.paths.home(), timeout_s)?
            }
            HooksAction::Uninstall => install::uninstall(&file)?,
        };
        let mut statusline = None;
        if a.statusline && matches!(a.action, HooksAction::Install) && *target == Target::Claude {
            let set = install::install_statusline(&file, &paios, ctx.paths.home())?;
            eprintln!(
                "{} {}",
                if set.changed {
                    "set Claude Code's status line to `paios statusline` in"
                } else {
                    "Claude Code's status line is already `paios statusline` in"
                },
                set.path.display()
            );
            outcome.changed |= set.changed;
            outcome.backup = outcome.backup.or(set.backup);
            statusline = Some(set.changed);
        }
        let verb = match (a.action, outcome.changed) {
            (HooksAction::Install, true) => "installed PAIOS hooks in",
            (HooksAction::Install, false) => "PAIOS hooks already installed in",
            (HooksAction::Uninstall, true) => "removed PAIOS hooks from",
            (HooksAction::Uninstall, false) => "no PAIOS hooks in",
        };
        eprintln!("{verb} {}", outcome.path.display());
        if let Some(b) = &outcome.backup {
            eprintln!("  backup of the previous file: {}", b.display());
        }
        results.push(json!({
            "brain": target.name(), "file": outcome.path, "changed": outcome.changed,
            "backup": outcome.backup, "statusline_changed": statusline,
        }));
    }
    if gateway {
        let outcome = match a.action {
            HooksAction::Install => gateway::install(&ctx.paths, &paios, timeout_s),
            HooksAction::Uninstall => gateway::uninstall(&ctx.paths),
        }
        .map_err(|e| failed(e.to_string()))?;
        let verb = match (a.action, outcome.changed) {
            (HooksAction::Install, true) => "installed the PAIOS gateway plugin",
            (HooksAction::Install, false) => "the PAIOS gateway plugin is already installed",
            (HooksAction::Uninstall, true) => "removed the PAIOS gateway plugin",
            (HooksAction::Uninstall, false) => "no PAIOS gateway plugin",
        };
        eprintln!(
            "{verb} ({}; OpenClaw's config is changed through `openclaw config`)",
            outcome.plugin_dir.display()
        );
        results.push(json!({
            "brain": "openclaw", "file": outcome.plugin_dir, "changed": outcome.changed,
            "backup": null,
        }));
    }
    if a.json {
        print_json(&Value::Array(results));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    pub action: Option<ApprovalsAction>,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ApprovalsAction {
    /// Pending requests (with --all: answered ones too, newest first).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Approve a pending request.
    Approve {
        id: i64,
        /// Also approve this kind of call (rule, brain, project) from now on.
        #[arg(long)]
        always: bool,
    },
    /// Deny a pending request.
    Deny {
        id: i64,
        /// Also deny this kind of call (rule, brain, project) from now on.
        #[arg(long)]
        always: bool,
    },
}

fn daemon(ctx: &Ctx) -> anyhow::Result<Client> {
    Client::connect(&ctx.paths).map_err(|e| match e {
        ClientError::NotRunning { .. } => failed(format!(
            "{e}. Approvals are answered by the daemon for {}",
            ctx.paths.home().display()
        )),
        other => other.into(),
    })
}

pub fn approvals(ctx: &Ctx, a: ApprovalsArgs) -> anyhow::Result<ExitCode> {
    match a.action.unwrap_or(ApprovalsAction::List {
        all: false,
        limit: 100,
    }) {
        ApprovalsAction::List { all, limit } => {
            // Read straight from SQLite: works with or without the daemon.
            let db = ctx.paths.database();
            let rows = if db.exists() {
                let conn = paios_core::store::open_reader(&db)?;
                match paios_core::approvals::api::list_requests(&conn, all, limit) {
                    Ok(rows) => rows,
                    // A database the daemon has not migrated yet has no approvals table.
                    Err(e) if e.to_string().contains("no such table") => Vec::new(),
                    Err(e) => return Err(e.into()),
                }
            } else {
                Vec::new()
            };
            if a.json {
                print_json(&serde_json::to_value(&rows)?);
            } else if rows.is_empty() {
                eprintln!("no pending approval requests");
            } else {
                for r in &rows {
                    // Agent-controlled text: control characters shown escaped, so a `\r` or
                    // an escape sequence cannot paint another command over this one.
                    let p = |t: &str| crate::printable(t).into_owned();
                    outln!(
                        "{:>5}  {:<8} {:<7} {:<6} {:<28} {}",
                        r.id,
                        r.state.as_str(),
                        p(&r.brain),
                        p(&r.tool),
                        p(&r.rule),
                        p(&r.summary)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ApprovalsAction::Approve { id, always } => decide(ctx, id, "approve", always, a.json),
        ApprovalsAction::Deny { id, always } => decide(ctx, id, "deny", always, a.json),
    }
}

fn decide(
    ctx: &Ctx,
    id: i64,
    decision: &str,
    always: bool,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let result = daemon(ctx)?
        .call(
            "approvals.decide",
            json!({"id": id, "decision": decision, "always": always}),
        )
        .map_err(|e| match e {
            ClientError::Api(api) => failed(api.message),
            other => other.into(),
        })?;
    if as_json {
        print_json(&result);
    } else {
        eprintln!(
            "request {id}: {}{}",
            if decision == "approve" {
                "approved"
            } else {
                "denied"
            },
            if always { " (and from now on)" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct AutonomyArgs {
    #[command(subcommand)]
    pub action: Option<AutonomyAction>,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum AutonomyAction {
    /// Set the level: 0 supervised, 1 learning, 2 trusting, 3 autonomous.
    Set {
        #[arg(value_parser = clap::value_parser!(u8).range(0..=3))]
        level: u8,
    },
}

pub fn autonomy(ctx: &Ctx, a: AutonomyArgs) -> anyhow::Result<ExitCode> {
    let mut client = daemon(ctx)?;
    let result = match a.action {
        Some(AutonomyAction::Set { level }) => {
            client.call("approvals.autonomy_set", json!({"level": level}))?
        }
        None => client.call("approvals.autonomy_get", Value::Null)?,
    };
    if a.json {
        print_json(&result);
    } else {
        outln!(
            "autonomy level {}",
            result
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("?")
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub action: PolicyAction,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyAction {
    /// Every rule in force (built-in + $PAIOS_HOME/policy.toml).
    Show,
    /// Validate a policy file (exit 1 with file:line:column when it is invalid). Without a
    /// file: the policy in force, and whether the OpenClaw gateway's PAIOS plugin is installed
    /// and current.
    Check { file: Option<PathBuf> },
}

pub fn policy(ctx: &Ctx, a: PolicyArgs) -> anyhow::Result<ExitCode> {
    match a.action {
        PolicyAction::Show => {
            let policy = load_policy(ctx)?;
            let v = policy.to_json();
            if a.json {
                print_json(&v);
            } else {
                outln!("# sources: {}", policy.sources.join(", "));
                for r in v["rules"].as_array().into_iter().flatten() {
                    outln!(
                        "{:<6} {:<5} {:<34} {}",
                        r["decision"].as_str().unwrap_or(""),
                        r["kind"].as_str().unwrap_or(""),
                        r["id"].as_str().unwrap_or(""),
                        r["reason"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyAction::Check { file: None } => check_in_force(ctx, a.json),
        PolicyAction::Check { file: Some(file) } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| failed(format!("cannot read {}: {e}", file.display())))?;
            match Policy::check_text(&text, &file.display().to_string()) {
                Ok(p) => {
                    if a.json {
                        print_json(
                            &json!({"ok": true, "rules": p.shell.len() + p.path.len() + p.web.len() + p.tool.len()}),
                        );
                    }
                    eprintln!("{}: ok", file.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    if a.json {
                        print_json(&json!({"ok": false, "error": e.to_string()}));
                    }
                    Err(failed(e.to_string()))
                }
            }
        }
    }
}

/// `paios policy check` without a file: the policy in force and the gateway gate.
fn check_in_force(ctx: &Ctx, as_json: bool) -> anyhow::Result<ExitCode> {
    let policy = match Policy::load(&ctx.paths.policy_file()) {
        Ok(p) => p,
        Err(e) => {
            if as_json {
                print_json(&json!({"ok": false, "error": e.to_string()}));
            }
            return Err(failed(e.to_string()));
        }
    };
    let timeout_s = ctx.config()?.approvals.timeout_s;
    let paios = std::env::current_exe()?;
    let gate = gateway::status(&ctx.paths, &paios, timeout_s);
    let rules = policy.shell.len() + policy.path.len() + policy.web.len() + policy.tool.len();
    if as_json {
        print_json(&json!({
            "ok": true, "rules": rules, "sources": policy.sources, "gateway": gate,
        }));
    }
    eprintln!("policy in force ({}): ok", policy.sources.join(", "));
    let gate_line = match gate.state {
        "current" => "installed and current".to_string(),
        "no-gateway" => "OpenClaw is not installed".to_string(),
        _ => gate.problems.join("; "),
    };
    eprintln!("OpenClaw gateway gate: {} — {gate_line}", gate.state);
    Ok(ExitCode::SUCCESS)
}
