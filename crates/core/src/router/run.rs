//! Running a task the way every caller does — the `ai` command, the MCP bridge tools, the
//! scheduler: gather the live state, decide, run on the chosen brain, fall back to the next one
//! when a brain fails in a way another might not (error, timeout, overload, rate limit), and
//! record every step as an event (`route.decided`, `task.started`, `route.fallback`,
//! `task.finished`, all carrying one `task_id`).
//!
//! Owns: the run loop, the order brains are tried in, and the answer's JSON (`ai --json`).
//! Never: prints (callers get [`Progress`] and render it), reads flags, or decides a brain by
//! itself ([`Router`] does, purely). Blocking: each attempt is a child process read line by
//! line; async callers run it on a blocking thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::config::RouterConfig;
use super::{BrainState, Decision, LiveState, Router};
use crate::brains::adapter::{Adapter, BrainEvent, Failure, RunRequest, RunResult};
use crate::brains::{Brain, claude::Claude, codex::Codex, openclaw::OpenClaw};
use crate::events::payload::{RouteFallback, TaskFinished, TaskStarted, TaskUsage};
use crate::events::{Event, EventSink, Kind};
use crate::paths::Paths;

/// What can be known cheaply about each brain: installed (file checks), for the gateway whether
/// it is up (the daemon's watchdog, or one bounded connect), and the budgets where limits are
/// set. Takes milliseconds: `ai route` calls it on every run.
pub fn live_state(paths: &Paths) -> LiveState {
    let mut live = LiveState::all_usable();
    for brain in Brain::ALL {
        if crate::brains::resolve(paths, brain).is_none() {
            live = live.with(brain, BrainState::missing());
        } else if brain == Brain::Openclaw {
            let health = crate::brains::openclaw::gateway_health(paths);
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
    // Budgets (where limits are set) and quota (a window nearly full, or a limit a run hit,
    // until it resets), from one read of the usage ledger (later reads only look at what the
    // logs gained).
    if let Ok(config) = crate::config::Config::load(&paths.config_file()) {
        match crate::usage::router_view(paths, &config) {
            Ok((budgets, quotas)) => {
                for brain in Brain::ALL {
                    let mut state = live.state(brain);
                    state.over_budget = budgets.as_ref().and_then(|b| b.reason(brain.name()));
                    state.rate_limited = quotas
                        .iter()
                        .find(|q| q.brain == brain.name())
                        .and_then(|q| q.limited.clone());
                    if state != live.state(brain) {
                        live = live.with(brain, state);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the usage ledger for budgets and quota")
            }
        }
    }
    live
}

/// The adapter that runs tasks on `brain`.
pub fn adapter_for(paths: &Paths, brain: Brain) -> Box<dyn Adapter> {
    match brain {
        Brain::Claude => Box::new(Claude::new(paths)),
        Brain::Codex => Box::new(Codex::new(paths)),
        Brain::Openclaw => Box::new(OpenClaw::new(paths)),
    }
}

/// One task to run.
#[derive(Debug, Clone)]
pub struct TaskRequest {
    /// The task's text, given to the brain as its prompt.
    pub task: String,
    /// Run on this brain instead of the router's choice (`ai --brain`).
    pub brain: Option<Brain>,
    /// Time limit of each attempt (default: `[router] timeout_s`).
    pub timeout: Option<Duration>,
    /// Try the next brain when one fails (also needs `[router] fallback`).
    pub fallback: bool,
    /// Extra instructions for the brain (Claude Code's `--append-system-prompt`).
    pub append_system_prompt: Option<String>,
    /// The brain's working folder.
    pub cwd: Option<PathBuf>,
    /// Who asked, recorded as the events' source: `router` for `ai`, `mcp`, `scheduler`, ….
    pub source: String,
    /// Set to stop the running brain (its process group is stopped; the attempt ends
    /// `cancelled` and nothing else is tried).
    pub cancel: Option<Arc<AtomicBool>>,
}

impl TaskRequest {
    /// A request for `task` with the defaults: the router chooses, the configured time limit,
    /// fallbacks allowed, no extra instructions, the current folder, source `router`.
    pub fn new(task: impl Into<String>) -> Self {
        Self {
            task: task.into(),
            brain: None,
            timeout: None,
            fallback: true,
            append_system_prompt: None,
            cwd: None,
            source: "router".into(),
            cancel: None,
        }
    }
}

/// What happens during a run, for the caller to show.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The decision, before anything runs.
    Decided(&'a Decision),
    /// `to` takes over after `from` failed with `reason`.
    FallingBack {
        /// The brain whose attempt failed.
        from: Brain,
        /// The next brain in line, about to run.
        to: Brain,
        /// The failed attempt's error text.
        reason: &'a str,
    },
    /// What the running brain did.
    Brain(Brain, &'a BrainEvent),
}

/// How a task ended.
#[derive(Debug, Clone)]
pub struct TaskOutcome {
    /// The run's id (a UUID v7), carried by every event of the run.
    pub task_id: String,
    /// The router's decision the run followed.
    pub decision: Decision,
    /// Every attempt, in order; empty when no brain could take the task.
    pub attempts: Vec<RunResult>,
    /// How many brains were in line (the chosen one and its fallbacks).
    pub planned: usize,
}

impl TaskOutcome {
    /// The attempt that ended the run.
    pub fn last(&self) -> Option<&RunResult> {
        self.attempts.last()
    }

    /// Why nothing ran, when no brain could take the task.
    pub fn not_run(&self) -> Option<String> {
        if self.decision.runnable {
            return None;
        }
        let why = self
            .decision
            .skipped
            .iter()
            .map(|(_, why)| why.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Some(format!("no brain can take this task: {why}"))
    }

    /// Whether the task got an answer.
    pub fn succeeded(&self) -> bool {
        self.last().is_some_and(|r| r.error.is_none())
    }

    /// `ai --json`'s answer: the last attempt, the decision and every attempt; with no attempt
    /// (no brain could run) the same fields, empty, with the reason as the error.
    pub fn to_json(&self) -> Value {
        let all = self
            .attempts
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
        let mut answer = match self.last() {
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
                "error": self.not_run().unwrap_or_default(),
            }),
        };
        answer["task_id"] = json!(self.task_id);
        answer["category"] = json!(self.decision.category.name());
        answer["decision"] = self.decision.to_json();
        answer["attempts"] = json!(all);
        answer
    }
}

/// Decide and run `request` (see the module docs). `events` records each step; `progress`
/// sees the decision, fallbacks and what the brain does, as it happens.
pub fn run(
    paths: &Paths,
    config: &RouterConfig,
    router: &Router,
    request: &TaskRequest,
    events: &dyn EventSink,
    progress: &mut dyn FnMut(Progress<'_>),
) -> TaskOutcome {
    let live = live_state(paths);
    let decision = match request.brain {
        Some(brain) => router.force(&request.task, brain, &live),
        None => router.decide(&request.task, &live),
    };
    run_decided(paths, config, request, decision, events, progress)
}

/// [`run`] with the decision already made (tests and callers that decided on another state).
pub fn run_decided(
    paths: &Paths,
    config: &RouterConfig,
    request: &TaskRequest,
    decision: Decision,
    events: &dyn EventSink,
    progress: &mut dyn FnMut(Progress<'_>),
) -> TaskOutcome {
    let task_id = uuid::Uuid::now_v7().to_string();
    let source = request.source.as_str();
    // The decision's own JSON is the payload of `route.decided` (the `ai route --json` shape).
    let mut decided = decision.to_json();
    decided["task_id"] = json!(task_id);
    decided["task_chars"] = json!(request.task.chars().count());
    events.emit(
        Event::new(Kind::RouteDecided, source)
            .subject(decision.brain.name())
            .data(decided),
    );
    progress(Progress::Decided(&decision));

    let mut order = vec![decision.brain];
    if config.fallback && request.fallback {
        order.extend(decision.fallbacks.iter().copied());
    }
    let mut outcome = TaskOutcome {
        task_id: task_id.clone(),
        planned: order.len(),
        decision,
        attempts: Vec::new(),
    };
    if !outcome.decision.runnable {
        return outcome;
    }
    // Both are at least 1 s: the flag parser and the config validation check the range.
    let timeout = request
        .timeout
        .unwrap_or(Duration::from_secs(config.timeout_s));
    let mut brain_request = RunRequest::new(request.task.clone(), timeout);
    brain_request.append_system_prompt = request.append_system_prompt.clone();
    brain_request.cwd = request.cwd.clone();
    brain_request.cancel = request.cancel.clone();
    let category = outcome.decision.category.name();

    for (i, &brain) in order.iter().enumerate() {
        if let Some(previous) = outcome.attempts.last() {
            let why = previous
                .error
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_default();
            progress(Progress::FallingBack {
                from: order[i - 1],
                to: brain,
                reason: &why,
            });
            let fallback = RouteFallback {
                task_id: task_id.clone(),
                from: order[i - 1].name().into(),
                to: brain.name().into(),
                reason: why.clone(),
                outcome: previous.outcome().into(),
                category: category.into(),
            };
            events.emit(Event::of(source, brain.name(), &fallback));
        }
        let started_event = TaskStarted {
            task_id: task_id.clone(),
            brain: brain.name().into(),
            category: category.into(),
            attempt: i + 1,
            timeout_s: timeout.as_secs(),
        };
        events.emit(Event::of(source, brain.name(), &started_event));
        let started = Instant::now();
        let mut result = adapter_for(paths, brain).run(&brain_request, &mut |e: &BrainEvent| {
            progress(Progress::Brain(brain, e))
        });
        result.duration_ms = started.elapsed().as_millis() as u64;
        let finished = TaskFinished {
            task_id: task_id.clone(),
            brain: brain.name().into(),
            category: category.into(),
            duration_ms: result.duration_ms,
            tokens: result.usage.total(),
            usage: TaskUsage {
                input_tokens: result.usage.input_tokens,
                output_tokens: result.usage.output_tokens,
                cache_creation_tokens: result.usage.cache_creation_tokens,
                cache_read_tokens: result.usage.cache_read_tokens,
            },
            cost_usd: result.cost_usd,
            outcome: result.outcome().into(),
            error: result.error.as_ref().map(|e| e.message().to_string()),
            session: result.session.clone(),
        };
        events.emit(Event::of(source, brain.name(), &finished));
        // A limit hit: keep tasks away from this brain until the reset the error names.
        if let Some(Failure::RateLimited(message)) = &result.error {
            mark_rate_limited(paths, brain, message);
        }
        let stop = match &result.error {
            None => true,
            Some(f) => !f.falls_back(),
        };
        outcome.attempts.push(result);
        if stop {
            break;
        }
    }
    outcome
}

/// Record in the usage ledger that `brain` is rate-limited until the reset `message` names (or
/// for [`crate::usage::quota::UNNAMED_RESET_MS`]).
fn mark_rate_limited(paths: &Paths, brain: Brain, message: &str) {
    use crate::usage::quota;
    let Ok(config) = crate::config::Config::load(&paths.config_file()) else {
        return;
    };
    let now = chrono::Utc::now().timestamp_millis();
    let until = quota::reset_named(message, now).unwrap_or(now + quota::UNNAMED_RESET_MS);
    let why = "a run hit its rate limit";
    if let Err(e) = crate::usage::mark_limited(paths, &config, brain.name(), until, why) {
        tracing::warn!(error = %e, "cannot record the rate limit in the usage ledger");
    }
}

/// Whether the run ended because it was cancelled.
pub fn cancelled(outcome: &TaskOutcome) -> bool {
    matches!(
        outcome.last().and_then(|r| r.error.as_ref()),
        Some(Failure::Cancelled(_))
    )
}
