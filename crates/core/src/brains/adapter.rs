//! One interface to run a task on any brain: [`Adapter`], its typed [`BrainEvent`] stream and
//! its [`RunResult`].
//!
//! Every run is a child process (the brain's own CLI) started in its **own process group**,
//! with the prompt written to its stdin (never argv: prompts can be longer than the OS allows
//! for arguments). [`run_process`] enforces the run's timeout and stops the whole group (TERM,
//! then KILL after a grace period) on timeout, on Ctrl-C ([`install_interrupt_handler`]), and
//! after the brain exits, so no helper process it started is left behind. On Linux the direct
//! child also gets `PR_SET_PDEATHSIG`, so it dies if `ai` itself is killed.
//!
//! This module never interprets a brain's output: each adapter (`claude`, `codex`, `openclaw`)
//! parses its own event lines into [`BrainEvent`]s.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Brain;

/// Token counts of one run, as the brain reported them (0 for what it did not report). The
/// four counts do not overlap: a brain whose input count includes cached tokens (Codex) is
/// split by its parser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Input tokens neither written to nor read from the prompt cache.
    pub input_tokens: u64,
    /// Output tokens (reasoning included where the brain counts it there).
    pub output_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_creation_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
}

impl Usage {
    /// All four counts added up.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens
    }
}

/// Something a brain did while working, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum BrainEvent {
    /// The brain started a session.
    Started {
        /// The brain's own session id, when it reports one.
        session: Option<String>,
    },
    /// A piece of the answer (print it as it comes).
    Text(String),
    /// A tool call or a command the brain runs.
    Tool {
        /// The tool: the brain's own tool name, `shell`, `edit`, or `SERVER.TOOL` for MCP.
        name: String,
        /// One line about the call (the command, the files, the input, shortened); may be
        /// empty.
        detail: String,
    },
    /// Anything else worth a line of progress (a status, a non-fatal warning).
    Progress(String),
}

/// Why a run did not produce an answer. [`Failure::falls_back`] says whether another brain
/// should be tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum Failure {
    /// The model service is overloaded (HTTP 529/503, "overloaded", "high demand").
    Overloaded(String),
    /// Rate-limited or out of quota (HTTP 429, usage limits).
    RateLimited(String),
    /// The run took longer than its timeout and was stopped.
    Timeout(String),
    /// The user interrupted the run (Ctrl-C).
    Cancelled(String),
    /// The brain is not installed, or could not be started.
    Unavailable(String),
    /// Any other error the brain reported.
    Error(String),
}

impl Failure {
    /// The failure's text for people (the brain's own error where there is one).
    pub fn message(&self) -> &str {
        match self {
            Failure::Overloaded(m)
            | Failure::RateLimited(m)
            | Failure::Timeout(m)
            | Failure::Cancelled(m)
            | Failure::Unavailable(m)
            | Failure::Error(m) => m,
        }
    }

    /// The outcome word recorded in `task.finished`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Failure::Overloaded(_) => "overloaded",
            Failure::RateLimited(_) => "rate_limited",
            Failure::Timeout(_) => "timeout",
            Failure::Cancelled(_) => "cancelled",
            Failure::Unavailable(_) => "unavailable",
            Failure::Error(_) => "error",
        }
    }

    /// Whether the next brain should be tried: yes unless the user asked to stop.
    pub fn falls_back(&self) -> bool {
        !matches!(self, Failure::Cancelled(_))
    }

    /// Classify an error text from a brain or its model service.
    pub fn from_message(message: impl Into<String>) -> Self {
        let message = message.into();
        let lower = message.to_lowercase();
        if lower.contains("529")
            || lower.contains("overloaded")
            || lower.contains("high demand")
            || lower.contains("503")
        {
            Failure::Overloaded(message)
        } else if lower.contains("429")
            || lower.contains("rate limit")
            || lower.contains("rate_limit")
            || lower.contains("quota")
            || lower.contains("usage limit")
        {
            Failure::RateLimited(message)
        } else {
            Failure::Error(message)
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.outcome(), self.message())
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    /// The brain's name ([`Brain::name`]).
    pub brain: &'static str,
    /// The final answer (empty on failure).
    pub text: String,
    /// Tokens the run used, as far as the brain reported them.
    pub usage: Usage,
    /// Cost in USD when the brain reports it (Claude Code does; Codex does not).
    pub cost_usd: Option<f64>,
    /// Wall-clock time of the run, in milliseconds, from before the process started.
    pub duration_ms: u64,
    /// The brain's session id, when it reported one.
    pub session: Option<String>,
    /// Why there is no answer; `None` when the run succeeded.
    pub error: Option<Failure>,
}

impl RunResult {
    /// A result of `brain` with nothing in it yet (no answer, no usage, no error).
    pub fn new(brain: Brain, session: Option<String>) -> Self {
        Self {
            brain: brain.name(),
            text: String::new(),
            usage: Usage::default(),
            cost_usd: None,
            duration_ms: 0,
            session,
            error: None,
        }
    }

    /// A run of `brain` that failed with `error` after `duration`, with no answer or usage.
    pub fn failed(brain: Brain, error: Failure, duration: Duration) -> Self {
        Self {
            duration_ms: duration.as_millis() as u64,
            error: Some(error),
            ..Self::new(brain, None)
        }
    }

    /// `ok`, or the failure's outcome word ([`Failure::outcome`]), as `task.finished` records it.
    pub fn outcome(&self) -> &'static str {
        self.error.as_ref().map_or("ok", Failure::outcome)
    }
}

/// One task for a brain.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The task, written to the brain's stdin (OpenClaw: to a private temporary file).
    pub prompt: String,
    /// Extra system instructions (Claude Code's `--append-system-prompt`; other brains get it
    /// prepended to the prompt).
    pub append_system_prompt: Option<String>,
    /// How long the run may take before the brain's process group is stopped
    /// ([`Failure::Timeout`]).
    pub timeout: Duration,
    /// Working directory of the brain (default: the current one).
    pub cwd: Option<std::path::PathBuf>,
    /// Set by the caller to stop the run (the brain's process group is stopped and the run
    /// ends [`Failure::Cancelled`]); Ctrl-C does the same for the `ai` command.
    pub cancel: Option<std::sync::Arc<AtomicBool>>,
}

impl RunRequest {
    /// A request for `prompt` limited to `timeout`, with no extra instructions, in the current
    /// folder, not cancellable except by Ctrl-C.
    pub fn new(prompt: impl Into<String>, timeout: Duration) -> Self {
        Self {
            prompt: prompt.into(),
            append_system_prompt: None,
            timeout,
            cwd: None,
            cancel: None,
        }
    }
}

/// Whether a brain can be run at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Availability {
    /// Whether a managed copy or one on PATH exists.
    pub installed: bool,
    /// The executable that would run; `None` when not installed.
    pub path: Option<String>,
    /// The managed copy's version; `None` for a copy on PATH (known only by running it).
    pub version: Option<String>,
    /// Whether it is PAIOS's managed copy.
    pub managed: bool,
}

/// Whether a brain can take work now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// It can take work.
    pub ok: bool,
    /// What was checked and, when not ok, what is wrong and what to do.
    pub detail: String,
}

/// A brain PAIOS can run tasks on.
pub trait Adapter {
    /// Which brain this adapter runs.
    fn brain(&self) -> Brain;
    /// The home whose managed installs it runs.
    fn paths(&self) -> &crate::paths::Paths;
    /// Installed? Where, which version? Cheap: no process is started.
    fn availability(&self) -> Availability {
        availability(self.paths(), self.brain())
    }
    /// Can it take work now? Cheap for the CLIs (can it be started); the gateway overrides it
    /// with a probe bounded by a timeout.
    fn health(&self) -> Health {
        cli_health(self.paths(), self.brain())
    }
    /// Run one task, reporting events as they happen. Never panics; every failure is in
    /// [`RunResult::error`].
    fn run(&self, request: &RunRequest, on_event: &mut dyn FnMut(&BrainEvent)) -> RunResult;
}

/// Turns a brain's stdout lines into events and, at the end, a result.
pub trait LineParser {
    /// One line of stdout (without its newline). Must accept any text.
    fn line(&mut self, line: &str) -> Vec<BrainEvent>;
    /// The process ended (`exit` is `None` when it was killed by PAIOS); `stderr_tail` is the
    /// end of what it wrote to stderr.
    fn finish(self: Box<Self>, exit: Option<ExitStatus>, stderr_tail: &str) -> RunResult;
}

/// Installed? Where, which version? (No process is started.)
pub fn availability(paths: &crate::paths::Paths, brain: Brain) -> Availability {
    match super::resolve(paths, brain) {
        Some(resolved) => Availability {
            installed: true,
            path: Some(resolved.path.display().to_string()),
            version: resolved.version,
            managed: resolved.managed,
        },
        None => Availability {
            installed: false,
            path: None,
            version: None,
            managed: false,
        },
    }
}

/// The cheap health check of a CLI brain: it can be started (installed, with a Node it can
/// run on). Whether its model service answers is only known by running it; the router learns
/// that from failures (overloaded, rate-limited) and falls back.
pub fn cli_health(paths: &crate::paths::Paths, brain: Brain) -> Health {
    match super::command(paths, brain) {
        Ok(command) => Health {
            ok: true,
            detail: format!("{} can be started", command.get_program().to_string_lossy()),
        },
        Err(e) => Health {
            ok: false,
            detail: e.to_string(),
        },
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Make Ctrl-C (SIGINT) and SIGTERM stop the running brain instead of killing `ai` at once:
/// the running [`run_process`] sees the flag, stops the brain's process group and returns
/// [`Failure::Cancelled`].
pub fn install_interrupt_handler() {
    extern "C" fn on_signal(_: libc::c_int) {
        INTERRUPTED.store(true, Ordering::SeqCst);
    }
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// Whether the user interrupted (Ctrl-C) since the handler was installed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// How long a stopped brain gets between TERM and KILL.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How much of stderr is kept for error messages.
const STDERR_TAIL: usize = 4096;

/// How a process run ended.
#[derive(Debug)]
pub struct ProcessEnd {
    /// `None` when PAIOS killed it (timeout, Ctrl-C) or it could not be waited for.
    pub exit: Option<ExitStatus>,
    /// The last 4 KiB (at most) of what it wrote to stderr, lossily decoded.
    pub stderr_tail: String,
    /// Why PAIOS ended the run: it could not be started, timed out, or was interrupted or
    /// cancelled; `None` when the process ended by itself (whatever its exit status).
    pub failure: Option<Failure>,
}

/// Run `command` in its own process group with `stdin` as input, feeding each stdout line to
/// `on_line`, until it exits, `timeout` passes, the user interrupts, or `cancel` is set. The
/// whole group is stopped before this returns.
pub fn run_process(
    mut command: Command,
    stdin: &[u8],
    timeout: Duration,
    cancel: Option<&AtomicBool>,
    on_line: &mut dyn FnMut(&str),
) -> ProcessEnd {
    use std::os::unix::process::CommandExt;
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return ProcessEnd {
                exit: None,
                stderr_tail: String::new(),
                failure: Some(Failure::Unavailable(format!("cannot start {program}: {e}"))),
            };
        }
    };
    let group = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;

    // Feed stdin from a thread: a brain that does not read it must not block us.
    if let Some(mut input) = child.stdin.take() {
        let data = stdin.to_vec();
        std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
    }
    let stderr = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            let start = tail.len().saturating_sub(STDERR_TAIL);
            String::from_utf8_lossy(&tail[start..]).into_owned()
        })
    });
    let (lines_tx, lines) = mpsc::channel::<String>();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line);
                        let text = text.trim_end_matches(['\n', '\r']).to_string();
                        if lines_tx.send(text).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }

    let mut failure = None;
    let mut exit = None;
    let mut stdout_open = true;
    let mut exited_at: Option<Instant> = None;
    loop {
        if interrupted() {
            failure = Some(Failure::Cancelled("interrupted by the user".into()));
            break;
        }
        if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
            failure = Some(Failure::Cancelled("cancelled by the caller".into()));
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            failure = Some(Failure::Timeout(format!(
                "no answer within {}s; stopped it",
                timeout.as_secs()
            )));
            break;
        }
        if stdout_open {
            let wait = (deadline - now).min(Duration::from_millis(100));
            match lines.recv_timeout(wait) {
                Ok(line) => {
                    on_line(&line);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => stdout_open = false,
            }
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
        if exit.is_none()
            && let Ok(Some(status)) = child.try_wait()
        {
            exit = Some(status);
            exited_at = Some(Instant::now());
        }
        if let Some(status) = exit {
            // Done once its output is drained; a helper that keeps stdout open past a short
            // grace is stopped with the rest of the group below.
            let lingering = exited_at.is_some_and(|t| t.elapsed() > Duration::from_millis(500));
            if !stdout_open || lingering {
                exit = Some(status);
                break;
            }
        }
    }
    // Drain lines that arrived before the end.
    while let Ok(line) = lines.try_recv() {
        on_line(&line);
    }
    stop_group(group, &mut child, exit.is_some());
    let exit = if failure.is_some() { None } else { exit };
    let stderr_tail = stderr
        .and_then(|h| join_with_timeout(h, Duration::from_secs(1)))
        .unwrap_or_default();
    ProcessEnd {
        exit,
        stderr_tail,
        failure,
    }
}

/// Stop every process in the group: TERM, wait up to the grace period, then KILL. When the
/// leader already exited, whatever is left of its group is killed at once.
fn stop_group(group: libc::pid_t, child: &mut std::process::Child, leader_exited: bool) {
    // SAFETY: plain syscalls on a process group we created.
    unsafe {
        if !leader_exited {
            libc::kill(-group, libc::SIGTERM);
            let until = Instant::now() + KILL_GRACE;
            while Instant::now() < until {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        libc::kill(-group, libc::SIGKILL);
    }
    let _ = child.wait();
}

fn join_with_timeout<T: Send + 'static>(
    handle: std::thread::JoinHandle<T>,
    timeout: Duration,
) -> Option<T> {
    let until = Instant::now() + timeout;
    while !handle.is_finished() {
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    handle.join().ok()
}

/// How a CLI brain runs one request: its arguments, what it reads on stdin, the parser of its
/// output, and how much past the request's own time limit PAIOS lets it run (a brain with a
/// deadline of its own gets a moment to report it).
pub struct CliRun {
    /// Arguments after the brain's executable.
    pub args: Vec<String>,
    /// Bytes written to its stdin (then closed); may be empty.
    pub stdin: Vec<u8>,
    /// The parser of its stdout lines.
    pub parser: Box<dyn LineParser>,
    /// Time allowed past the request's timeout before the process is stopped.
    pub grace: Duration,
}

impl CliRun {
    /// A run stopped at the request's own deadline (no grace).
    pub fn new(args: Vec<String>, stdin: Vec<u8>, parser: Box<dyn LineParser>) -> Self {
        Self {
            args,
            stdin,
            parser,
            grace: Duration::ZERO,
        }
    }
}

/// A brain driven through its own command-line program (Claude Code, Codex): it only says how
/// a request becomes a [`CliRun`]; starting, feeding, stopping and parsing are [`run_cli`]'s.
pub trait CliBrain {
    /// Which brain it is.
    const BRAIN: Brain;
    /// The home whose managed installs it runs.
    fn home(&self) -> &crate::paths::Paths;
    /// How `request` is run: arguments, stdin, parser, grace.
    fn cli_run(&self, request: &RunRequest) -> CliRun;
}

impl<T: CliBrain> Adapter for T {
    fn brain(&self) -> Brain {
        T::BRAIN
    }
    fn paths(&self) -> &crate::paths::Paths {
        self.home()
    }
    fn run(&self, request: &RunRequest, on_event: &mut dyn FnMut(&BrainEvent)) -> RunResult {
        run_cli(
            self.home(),
            T::BRAIN,
            request,
            self.cli_run(request),
            on_event,
        )
    }
}

/// Run `request` on a CLI brain: the shared body of the adapters' `run` (start the brain's own
/// command in the request's folder, feed it, parse it, stop it at the deadline or on cancel).
pub fn run_cli(
    paths: &crate::paths::Paths,
    brain: Brain,
    request: &RunRequest,
    run: CliRun,
    on_event: &mut dyn FnMut(&BrainEvent),
) -> RunResult {
    let started = Instant::now();
    let mut command = match super::command(paths, brain) {
        Ok(c) => c,
        Err(e) => {
            return RunResult::failed(brain, Failure::Unavailable(e.to_string()), Duration::ZERO);
        }
    };
    command.args(&run.args);
    if let Some(cwd) = &request.cwd {
        command.current_dir(cwd);
    }
    let mut parser = run.parser;
    let end = run_process(
        command,
        &run.stdin,
        request.timeout + run.grace,
        request.cancel.as_deref(),
        &mut |line| {
            for event in parser.line(line) {
                on_event(&event);
            }
        },
    );
    let mut result = parser.finish(end.exit, &end.stderr_tail);
    if let Some(failure) = end.failure {
        result.error = Some(failure);
        result.text.clear();
    }
    result.brain = brain.name();
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// Why a brain that ended without an answer failed: the last lines of its stderr, or else how
/// it ended (`missing`: what it did not give, e.g. "without finishing its turn").
pub fn no_answer(
    brain: Brain,
    exit: Option<ExitStatus>,
    stderr_tail: &str,
    missing: &str,
) -> Failure {
    let stderr = stderr_summary(stderr_tail);
    Failure::from_message(if !stderr.is_empty() {
        stderr
    } else {
        match exit {
            Some(status) => format!("{brain} exited ({status}) {missing}"),
            None => format!("{brain} was stopped before it answered"),
        }
    })
}

/// The last non-empty lines of a stderr tail, for an error message.
pub fn stderr_summary(stderr_tail: &str) -> String {
    let lines: Vec<&str> = stderr_tail
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(3);
    lines[start..].join(" | ")
}

/// Feed `lines` to `parser` and finish it as a process that was killed: what the parsers'
/// "garbage never panics" property tests share.
#[cfg(test)]
pub fn feed(mut parser: Box<dyn LineParser>, lines: &[String]) -> RunResult {
    for line in lines {
        parser.line(line);
    }
    parser.finish(None, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn lines_are_delivered_in_order_and_stdin_reaches_the_process() {
        let mut seen = Vec::new();
        let end = run_process(
            sh("cat; echo done"),
            b"one\ntwo\n",
            Duration::from_secs(10),
            None,
            &mut |l| seen.push(l.to_string()),
        );
        assert_eq!(seen, ["one", "two", "done"]);
        assert!(end.exit.unwrap().success());
        assert!(end.failure.is_none());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_hanging_process_and_its_children_are_killed_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let script = format!(
            "sleep 300 & echo $! > {p}; echo $$ >> {p}; echo started; wait",
            p = pidfile.display()
        );
        let end = run_process(
            sh(&script),
            b"",
            Duration::from_millis(500),
            None,
            &mut |_| {},
        );
        assert!(matches!(end.failure, Some(Failure::Timeout(_))), "{end:?}");
        let pids = std::fs::read_to_string(&pidfile).unwrap();
        for pid in pids.split_whitespace() {
            // Gone, or a zombie waiting for init to reap it (it no longer runs). SIGKILL is
            // delivered asynchronously: on a loaded machine the process may need a moment to die.
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let state = stat
                    .rsplit(')')
                    .next()
                    .and_then(|s| s.split_whitespace().next());
                if state.is_none() || state == Some("Z") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "process {pid} survived the timeout: {stat}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    #[test]
    fn a_run_is_cancelled_when_its_caller_sets_the_flag() {
        let cancel = std::sync::Arc::new(AtomicBool::new(false));
        let setter = cancel.clone();
        let mut seen = Vec::new();
        let end = run_process(
            sh("echo started; sleep 300"),
            b"",
            Duration::from_secs(600),
            Some(&cancel),
            &mut |l| {
                seen.push(l.to_string());
                setter.store(true, Ordering::SeqCst);
            },
        );
        assert_eq!(seen, ["started"]);
        assert!(
            matches!(end.failure, Some(Failure::Cancelled(_))),
            "{end:?}"
        );
        assert!(
            end.exit.is_none(),
            "the process was stopped, not waited for"
        );
    }

    #[test]
    fn a_missing_program_is_unavailable_not_a_panic() {
        let end = run_process(
            Command::new("/nonexistent/brain"),
            b"",
            Duration::from_secs(1),
            None,
            &mut |_| {},
        );
        assert!(matches!(end.failure, Some(Failure::Unavailable(_))));
    }

    #[test]
    fn stderr_tail_is_kept() {
        let end = run_process(
            sh("echo boom >&2; exit 3"),
            b"",
            Duration::from_secs(10),
            None,
            &mut |_| {},
        );
        assert_eq!(end.exit.unwrap().code(), Some(3));
        assert_eq!(stderr_summary(&end.stderr_tail), "boom");
    }

    #[test]
    fn error_texts_are_classified() {
        assert!(matches!(
            Failure::from_message("API Error: 529 Overloaded"),
            Failure::Overloaded(_)
        ));
        assert!(matches!(
            Failure::from_message("We're currently experiencing high demand"),
            Failure::Overloaded(_)
        ));
        assert!(matches!(
            Failure::from_message("429 Too Many Requests"),
            Failure::RateLimited(_)
        ));
        assert!(matches!(
            Failure::from_message("invalid api key"),
            Failure::Error(_)
        ));
        assert!(!Failure::Cancelled("x".into()).falls_back());
        assert!(Failure::Timeout("x".into()).falls_back());
    }
}
