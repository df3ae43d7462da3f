//! The classifier: a tool call (or a shell command line) + the policy → safe / ask / never,
//! with the rule that decided and why.
//!
//! Shell command lines are analysed into simple commands ([`super::shell`]); every command, every
//! file it reads, writes or deletes, every request it sends and every structural problem
//! (unparseable text, code built at run time, fork bombs, downloaded code) yields *hits*; the
//! strictest hit wins. Unparseable input is `ask`, never `safe`.
//!
//! A command is judged by the `[[shell]]` rules that name it and, beyond them, by what it is:
//! * a program no rule names is read as a command-line program — program, subcommand path,
//!   verb, flags ([`cli`]): read-only verbs and flags (`list`, `describe`, `--help`,
//!   `--dry-run`) are safe, destructive ones (`delete`, `purge`, `--force`) ask, anything else
//!   gets `[defaults] shell`; the vocabulary is policy data (`verbs_*`, `flags_*`, `[[cli]]`);
//! * an HTTP client (`curl`, `wget`, `http`, `xh`, `gh api`) by its method and target ([`http`]):
//!   a GET or HEAD without a body is safe unless it sends a secret, a write asks;
//! * `scp` / `rsync` by direction: an upload asks, a copy to this machine is judged where it
//!   writes;
//! * a deleting program (`rm`, …) by what it deletes ([`paths`]): inside a temporary folder is
//!   safe, inside the project asks (`[defaults] delete_inside_project`), a path that climbs out of
//!   a temporary folder with `..` is never;
//! * `PROG --help` / `PROG --version` alone only print.
//!
//! Files: `rules.rs` (the `[[shell]]` conditions), `cli.rs` (command structure), `http.rs`
//! (requests and file transfers), `paths.rs` (the one path normaliser and the path rules),
//! `web.rs` (hosts, with the `url` crate), `tool.rs` (tool inputs).
//!
//! Pure functions over the policy and the input: no clock, no environment reads except through
//! [`Context`] and `$TMPDIR`; the only I/O is resolving links of paths that exist.

mod cli;
mod http;
mod paths;
mod rules;
mod tool;
mod web;

#[cfg(test)]
mod tests;

pub use paths::normalize;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::policy::{Decision, Policy};
use super::shell::{self, Problem, SimpleCommand, Word};
use paths::Op;
use rules::{clip, env_text, positional};

/// Where the tool call happens.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The session's working directory: the project.
    pub cwd: Option<PathBuf>,
    /// The user's home (for `~`).
    pub home: Option<PathBuf>,
    /// PAIOS's own state folder: agents may never write there.
    pub paios_home: Option<PathBuf>,
    /// `$TMPDIR` where the command runs (unknown: it stays dynamic).
    pub tmpdir: shell::TmpDir,
}

impl Context {
    /// The current process's view: `$HOME`, `$TMPDIR`, the current directory.
    pub fn from_env() -> Self {
        Context {
            cwd: std::env::current_dir().ok(),
            home: super::policy::home_dir(),
            paios_home: None,
            tmpdir: shell::TmpDir::from_env(),
        }
    }
}

/// The outcome of classifying one tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// What the policy says: `safe` runs, `ask` waits for an answer, `never` is refused.
    pub decision: Decision,
    /// The id of the rule that decided (the first of the strictest).
    pub rule: String,
    /// Why that rule decided as it did, for people.
    pub reason: String,
    /// Every `ask` rule involved (trust must cover them all before it auto-approves).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ask_rules: Vec<String>,
}

/// One finding.
#[derive(Debug, Clone)]
struct Hit {
    decision: Decision,
    rule: String,
    reason: String,
}

fn hit(decision: Decision, rule: impl Into<String>, reason: impl Into<String>) -> Hit {
    Hit {
        decision,
        rule: rule.into(),
        reason: reason.into(),
    }
}

fn verdict(hits: Vec<Hit>) -> Verdict {
    let max = hits
        .iter()
        .map(|h| h.decision)
        .max()
        .unwrap_or(Decision::Ask);
    let first = hits.iter().find(|h| h.decision == max);
    let mut ask_rules: Vec<String> = Vec::new();
    if max == Decision::Ask {
        for h in hits.iter().filter(|h| h.decision == Decision::Ask) {
            if !ask_rules.contains(&h.rule) {
                ask_rules.push(h.rule.clone());
            }
        }
    }
    match first {
        Some(h) => Verdict {
            decision: max,
            rule: h.rule.clone(),
            // Reasons quote the command; they are stored, sent as events and shown.
            reason: super::redact::redact(&h.reason),
            ask_rules,
        },
        None => Verdict {
            decision: Decision::Ask,
            rule: "empty".into(),
            reason: "nothing to classify".into(),
            ask_rules: vec!["empty".into()],
        },
    }
}

/// Claude Code's and Codex's names for "run a shell command".
const SHELL_TOOLS: &[&str] = &[
    "Bash",
    "shell",
    "exec_command",
    "local_shell",
    "container.exec",
];
const WRITE_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit", "apply_patch"];
const READ_TOOLS: &[&str] = &["Read", "NotebookRead", "Glob", "Grep", "LS"];
const WEB_TOOLS: &[&str] = &["WebFetch"];

/// The words that, alone after a program, only print its help or version.
const HELP_WORDS: &[&str] = &["--help", "-help", "--usage", "--version", "help", "version"];
/// The same in short form; a shell or an interpreter given one reads a script from its input.
const SHORT_HELP_WORDS: &[&str] = &["-h", "-V", "-v"];

impl Policy {
    /// Classify a shell command line.
    pub fn classify_command(&self, command: &str, ctx: &Context) -> Verdict {
        verdict(self.command_hits(command, ctx))
    }

    /// Classify any tool call (`tool_name` + `tool_input` as Claude Code sends them).
    pub fn classify_tool(&self, tool: &str, input: &Value, ctx: &Context) -> Verdict {
        let mut hits: Vec<Hit> = self
            .tool
            .iter()
            .filter(|r| r.patterns.matches(tool))
            .map(|r| hit(r.decision, &r.id, &r.reason))
            .collect();
        let known_tool = !hits.is_empty();
        if SHELL_TOOLS.contains(&tool) {
            match tool::shell_text(input) {
                Some(cmd) => hits.extend(self.command_hits(&cmd, ctx)),
                None => hits.push(hit(
                    Decision::Ask,
                    "tool.shell-without-command",
                    "a shell tool call without a readable command",
                )),
            }
        } else if WRITE_TOOLS.contains(&tool) {
            let paths = tool::file_paths(input);
            if paths.is_empty() {
                hits.push(hit(
                    Decision::Ask,
                    "tool.write-without-path",
                    "a file edit without a readable path",
                ));
            }
            for p in paths {
                hits.extend(self.path_hits(&p, false, Op::Write, ctx, ctx.cwd.as_deref()));
            }
        } else if READ_TOOLS.contains(&tool) {
            for p in tool::file_paths(input) {
                hits.extend(self.path_hits(&p, false, Op::Read, ctx, ctx.cwd.as_deref()));
            }
        } else if WEB_TOOLS.contains(&tool) {
            match input.get("url").and_then(Value::as_str) {
                Some(url) => hits.extend(self.web_hit(url, web::Request::Fetch)),
                None => hits.push(hit(Decision::Ask, "web.no-url", "a fetch without a URL")),
            }
        } else if !known_tool {
            hits.push(hit(
                self.defaults.tool,
                format!("tool.default:{tool}"),
                format!("no rule for the tool {tool}"),
            ));
        }
        verdict(hits)
    }

    fn command_hits(&self, command: &str, ctx: &Context) -> Vec<Hit> {
        let analysis = shell::analyse_in(command, &ctx.tmpdir);
        let mut hits = Vec::new();
        for p in &analysis.problems {
            hits.push(match p {
                Problem::Unparseable(e) => hit(
                    Decision::Ask,
                    "shell.unparseable",
                    format!("cannot parse the command ({e})"),
                ),
                Problem::TooComplex => hit(
                    Decision::Ask,
                    "shell.too-complex",
                    "the command is too long or too deeply nested to analyse",
                ),
                Problem::SelfRecursiveFunction(name) => hit(
                    Decision::Never,
                    "shell.fork-bomb",
                    format!("the function {name} calls itself (fork bomb)"),
                ),
                Problem::DynamicCode(code) => hit(
                    Decision::Ask,
                    "shell.dynamic-code",
                    format!("runs code only known when it runs: {}", clip(code)),
                ),
            });
        }
        // Downloaded code run through a substitution: `bash -c "$(curl …)"`, `sh <(wget …)`.
        let downloads = analysis
            .commands
            .iter()
            .any(|c| c.program().is_some_and(|p| self.in_set("downloaders", p)));
        if downloads {
            let runs_dynamic = analysis
                .problems
                .iter()
                .any(|p| matches!(p, Problem::DynamicCode(_)))
                || analysis.commands.iter().any(|c| {
                    c.program().is_some_and(|p| {
                        self.in_set("shells", p)
                            || self.in_set("interpreters", p)
                            || p == "source"
                            || p == "."
                    }) && c.argv[1..].iter().any(|w| w.dynamic)
                });
            if runs_dynamic {
                hits.push(hit(
                    Decision::Never,
                    "shell.run-downloaded-code",
                    "runs code downloaded from the network",
                ));
            }
        }
        if analysis.commands.is_empty() && analysis.problems.is_empty() {
            hits.push(hit(Decision::Ask, "shell.empty", "an empty command"));
        }
        let mut cwd = ctx.cwd.clone();
        for cmd in &analysis.commands {
            self.simple_hits(cmd, &analysis.commands, ctx, cwd.as_deref(), &mut hits);
            // `cd DIR && …`: later relative paths are relative to DIR.
            if cmd.program() == Some("cd") {
                cwd = match positional(cmd, &[]).first() {
                    Some(w) if !w.dynamic => {
                        normalize(&w.text, cwd.as_deref(), ctx.home.as_deref()).map(PathBuf::from)
                    }
                    Some(_) => None,
                    None => ctx.home.clone(),
                };
            }
        }
        hits
    }

    fn simple_hits(
        &self,
        cmd: &SimpleCommand,
        all: &[SimpleCommand],
        ctx: &Context,
        cwd: Option<&Path>,
        hits: &mut Vec<Hit>,
    ) {
        let text = cmd.display();
        hits.extend(self.search_path_hit(cmd, ctx, cwd));
        let program = cmd.program();
        // Paths this command's own judgement has looked at already (not read or written again).
        let mut judged_paths = false;
        if !cmd.argv.is_empty() {
            let harmless = self.harmless(cmd);
            let help = harmless.is_some();
            let mut matched_rule = false;
            if program.is_none() {
                hits.push(hit(
                    Decision::Ask,
                    "shell.dynamic-program",
                    format!("the program is only known when it runs: {}", clip(&text)),
                ));
                matched_rule = true;
            }
            for rule in &self.shell {
                if self.shell_rule_matches(rule, cmd, all, ctx, cwd) {
                    // A rule about variables says nothing about the program itself.
                    let shown = if rule.env.is_empty() {
                        matched_rule = true;
                        // `PROG --help` prints and runs nothing: a rule that asks about what
                        // the program does has nothing to ask about.
                        if help && rule.decision == Decision::Ask {
                            continue;
                        }
                        clip(&text)
                    } else {
                        env_text(cmd, Some(&rule.env))
                    };
                    hits.push(hit(
                        rule.decision,
                        &rule.id,
                        format!("{}: {shown}", rule.reason),
                    ));
                }
            }
            if let Some(program) = program {
                if let Some((rule, what)) = harmless {
                    hits.push(hit(
                        Decision::Safe,
                        rule,
                        format!("{what}: {}", clip(&text)),
                    ));
                    matched_rule = true;
                } else if let Some(request) = http::request(self, cmd, program) {
                    hits.extend(self.http_hits(&request, &text, ctx, cwd));
                    matched_rule = true;
                    judged_paths = true;
                } else if self.in_set("file_transfer", program) {
                    hits.extend(self.transfer_hits(cmd, program, &text, ctx, cwd));
                    matched_rule = true;
                    judged_paths = true;
                } else if self.in_set("deleters", program) {
                    hits.extend(self.delete_hits(cmd, program, &text, ctx, cwd));
                    matched_rule = true;
                }
                if !matched_rule {
                    hits.push(self.structure_hit(cmd, program, &text));
                } else if !help && let Some(h) = self.taught_destructive_hit(cmd, program, &text) {
                    hits.push(h);
                }
            }
        }
        for r in &cmd.redirects {
            if paths::is_harmless_device(&r.target.text) {
                continue;
            }
            let op = if r.write { Op::Write } else { Op::Read };
            for target in paths::brace_alternatives(&r.target.text) {
                hits.extend(self.path_hits(&target, r.target.dynamic, op, ctx, cwd));
            }
        }
        if cmd.argv.is_empty() && !cmd.env.is_empty() {
            // A bare assignment (`X=1`): only the rules about variables can match.
            let before = hits.len();
            for rule in self.shell.iter().filter(|r| !r.env.is_empty()) {
                if self.shell_rule_matches(rule, cmd, all, ctx, cwd) {
                    hits.push(hit(
                        rule.decision,
                        &rule.id,
                        format!("{}: {}", rule.reason, env_text(cmd, Some(&rule.env))),
                    ));
                }
            }
            if hits.len() == before {
                hits.push(hit(
                    Decision::Safe,
                    "shell.assignment",
                    format!("sets shell variables: {}", env_text(cmd, None)),
                ));
            }
        }
        let Some(program) = program else { return };
        if judged_paths {
            return;
        }
        let with_value = self.options_with_value(program);
        let args = positional(cmd, &with_value);
        let written: Vec<&Word> = if self.in_set("writers_all", program) {
            match program {
                // The mode/owner comes first.
                "chmod" | "chown" | "chgrp" | "setfacl" | "chattr" => {
                    args.iter().skip(1).copied().collect()
                }
                _ => args.clone(),
            }
        } else if self.in_set("writers_last", program) {
            args.last().into_iter().copied().collect()
        } else {
            Vec::new()
        };
        for w in &written {
            for path in paths::brace_alternatives(&w.text) {
                hits.extend(self.path_hits(&path, w.dynamic, Op::Write, ctx, cwd));
            }
        }
        if program == "dd" {
            for w in &args {
                if let Some(target) = w.text.strip_prefix("of=") {
                    hits.extend(self.path_hits(target, w.dynamic, Op::Write, ctx, cwd));
                }
            }
        }
        // Reads: only the path rules about reading (secrets), not the project boundary.
        let deleting = self.in_set("deleters", program);
        for w in args
            .iter()
            .filter(|w| !deleting && !written.iter().any(|x| std::ptr::eq(*x, **w)))
        {
            if w.dynamic || w.text.contains("://") {
                continue;
            }
            hits.extend(self.read_hits(w, ctx, cwd));
        }
        if self.in_set("network", program) {
            for w in cmd.argv[1..].iter().filter(|w| !w.dynamic) {
                // `nc host 80`, `ssh user@host`: a host without a scheme is judged by the same
                // web rules.
                let url = match web::url_host(&w.text) {
                    Some(_) => Some(w.text.clone()),
                    None => web::bare_url(&w.text, self.in_set("downloaders", program)),
                };
                if let Some(url) = url {
                    hits.extend(self.web_hit(&url, web::Request::Write));
                }
            }
        }
    }

    /// A command that prints and runs nothing, whatever rules about the program say: `PROG
    /// --help`, `PROG --version`, `PROG -h` alone (not for the short forms with a shell or an
    /// interpreter, which would read a script from its input); inline code that only prints
    /// literals (`python -c "print('ok')"`); a shell given `-c` and no script. Never for a
    /// program named by a path outside the system's folders. Its rule id and what it does.
    fn harmless(&self, cmd: &SimpleCommand) -> Option<(&'static str, &'static str)> {
        let program = cmd.program()?;
        if !paths::from_a_system_folder(cmd) || cmd.argv[1..].iter().any(|w| w.dynamic) {
            return None;
        }
        if let [_, word] = cmd.argv.as_slice() {
            let t = word.text.as_str();
            let is_code_runner =
                self.in_set("shells", program) || self.in_set("interpreters", program);
            if HELP_WORDS.contains(&t) || (SHORT_HELP_WORDS.contains(&t) && !is_code_runner) {
                return Some(("shell.help", "only prints its help or version"));
            }
            if t == "-c" && self.in_set("shells", program) && !cmd.reads_input() {
                return Some(("shell.help", "is given no script to run"));
            }
        }
        let (language, code) = shell::inline::code_argument(program, &cmd.argv[1..])?;
        shell::inline::prints_only(language, &code.text)
            .then_some(("shell.inline-print", "runs code that only prints text"))
    }
}
