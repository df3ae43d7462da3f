//! The conditions of a `[[shell]]` rule, checked against one simple command, and the helpers
//! that read a command's words (arguments, options, the words a rule looks at).

use std::path::Path;

use super::paths::{brace_alternatives, from_a_system_folder, normalize};
use super::{Context, SimpleCommand, Word};
use crate::approvals::policy::{CompiledShellRule, Decision, Patterns, Policy};

impl Policy {
    pub(super) fn shell_rule_matches(
        &self,
        rule: &CompiledShellRule,
        cmd: &SimpleCommand,
        all: &[SimpleCommand],
        ctx: &Context,
        cwd: Option<&Path>,
    ) -> bool {
        let program = cmd.program();
        if !rule.programs.is_empty() && !program.is_some_and(|p| rule.programs.matches(p)) {
            return false;
        }
        // A program named by a path outside the system's folders (`./ls`, `/tmp/x/cat`) is
        // whatever that file is: rules may still find it dangerous by its name, never safe.
        if rule.decision == Decision::Safe && !from_a_system_folder(cmd) {
            return false;
        }
        let args = positional(cmd, &rule.options_with_value);
        if !rule.subcommands.is_empty()
            && !args
                .first()
                .is_some_and(|w| !w.dynamic && rule.subcommands.matches(&w.text))
        {
            return false;
        }
        let has_flag = |short: &[char], long: &Patterns| {
            options_with(cmd, &rule.options_with_value).any(|o| {
                (!o.starts_with("--") && bundle_has(o, short, &rule.options_with_value))
                    || long.matches(o)
                    || long.matches(o.split('=').next().unwrap_or(o))
            })
        };
        if (!rule.short_flags.is_empty() || !rule.long_flags.is_empty())
            && !has_flag(&rule.short_flags, &rule.long_flags)
        {
            return false;
        }
        if (!rule.unless_short_flags.is_empty() || !rule.unless_long_flags.is_empty())
            && has_flag(&rule.unless_short_flags, &rule.unless_long_flags)
        {
            return false;
        }
        if rule.min_args.is_some_and(|n| args.len() < n)
            || rule.max_args.is_some_and(|n| args.len() > n)
        {
            return false;
        }
        // `rm -rf {/,build}` runs `rm -rf / build`: every brace alternative is an argument.
        let arg_matches = |patterns: &Patterns, w: &Word| {
            brace_alternatives(&w.text).iter().any(|text| {
                patterns.matches(text)
                    || (!w.dynamic
                        && normalize(text, cwd, ctx.home.as_deref())
                            .is_some_and(|p| patterns.matches(&p)))
            })
        };
        if !rule.args.is_empty() && !args.iter().any(|w| arg_matches(&rule.args, w)) {
            return false;
        }
        if !rule.words.is_empty() && !rule_words(cmd).any(|w| rule.words.matches_loose(&w.text)) {
            return false;
        }
        if !rule.piped_from.is_empty() || !rule.piped_from_args.is_empty() {
            let upstream: Vec<&SimpleCommand> = all
                .iter()
                .filter(|c| c.pipeline == cmd.pipeline && c.stage < cmd.stage)
                .collect();
            if !rule.piped_from.is_empty()
                && !upstream
                    .iter()
                    .any(|c| c.program().is_some_and(|p| rule.piped_from.matches(p)))
            {
                return false;
            }
            if !rule.piped_from_args.is_empty()
                && !upstream.iter().any(|c| {
                    positional(c, &[])
                        .iter()
                        .any(|w| arg_matches(&rule.piped_from_args, w))
                        || c.redirects
                            .iter()
                            .any(|r| !r.write && arg_matches(&rule.piped_from_args, &r.target))
                })
            {
                return false;
            }
        }
        if !rule.wrapped_by.is_empty() && !cmd.wrappers.iter().any(|w| rule.wrapped_by.matches(w)) {
            return false;
        }
        if rule.dynamic_args && !cmd.argv[1..].iter().any(|w| w.dynamic) {
            return false;
        }
        if rule.no_args && !args.is_empty() {
            return false;
        }
        if !rule.env.is_empty() && !cmd.env.iter().any(|a| rule.env.matches(&a.name)) {
            return false;
        }
        if rule.reads_input && !cmd.reads_input() {
            return false;
        }
        true
    }

    /// The options of `program` that take a value, as the `[[cli]]` entries naming it teach.
    pub(super) fn options_with_value(&self, program: &str) -> Vec<String> {
        self.cli
            .iter()
            .filter(|c| c.programs.matches(program))
            .flat_map(|c| c.options_with_value.iter().cloned())
            .collect()
    }
}

/// The variables a command sets, for messages: the value only of those a rule is about (so
/// `TOKEN=… LD_PRELOAD=x.so ls` shows `TOKEN LD_PRELOAD=x.so`), clipped.
pub(super) fn env_text(cmd: &SimpleCommand, shown: Option<&Patterns>) -> String {
    let text = cmd
        .env
        .iter()
        .map(|a| match shown {
            Some(p) if p.matches(&a.name) => format!("{}={}", a.name, a.value.text),
            _ => a.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    clip(&text)
}

pub(super) fn clip(s: &str) -> String {
    if s.chars().count() > 160 {
        s.chars().take(160).collect::<String>() + "…"
    } else {
        s.to_string()
    }
}

/// The words a rule's `words` condition looks at: all of them, except the identity file given
/// to `ssh`, `scp` or `sftp` (`-i key`, `-ikey`, `-o IdentityFile=key`), which logs in with the
/// key and does not send it.
pub(super) fn rule_words(cmd: &SimpleCommand) -> impl Iterator<Item = &Word> {
    let ssh = matches!(cmd.program(), Some("ssh" | "scp" | "sftp"));
    let mut skip_next = false;
    cmd.argv.iter().filter(move |w| {
        if std::mem::take(&mut skip_next) {
            return false;
        }
        if !ssh || w.dynamic {
            return true;
        }
        let t = w.text.as_str();
        if t == "-i" || t == "-o" {
            // `-o` takes any option; only an identity file is left out.
            skip_next = t == "-i";
            return true;
        }
        let lower = t.to_ascii_lowercase();
        !(t.starts_with("-i") && t.len() > 2
            || lower.starts_with("identityfile=")
            || lower.starts_with("-oidentityfile="))
    })
}

/// Non-option arguments (everything after `--` counts as an argument); the word after an option
/// of `with_value` is that option's value, not an argument.
pub(super) fn positional<'a>(cmd: &'a SimpleCommand, with_value: &[String]) -> Vec<&'a Word> {
    let mut out = Vec::new();
    let mut rest_positional = false;
    let mut skip = false;
    for w in cmd.argv.iter().skip(1) {
        if std::mem::take(&mut skip) {
            continue;
        }
        if rest_positional || w.dynamic || !w.text.starts_with('-') || w.text == "-" {
            out.push(w);
        } else if w.text == "--" {
            rest_positional = true;
        } else if with_value.contains(&w.text) {
            skip = true;
        }
    }
    out
}

/// A one-letter option of `short` in the bundle `-abc`; the rest of a bundle after an option
/// that takes a value is that value (`-bfeature` is `-b feature`, not `-f`).
fn bundle_has(option: &str, short: &[char], with_value: &[String]) -> bool {
    for c in option.chars().skip(1) {
        if short.contains(&c) {
            return true;
        }
        if with_value.iter().any(|o| o.len() == 2 && o.ends_with(c)) {
            return false;
        }
    }
    false
}

/// Option words (before `--`), without the values of `with_value` options (`find -name -delete`
/// names files called `-delete`).
fn options_with<'a>(
    cmd: &'a SimpleCommand,
    with_value: &'a [String],
) -> impl Iterator<Item = &'a str> {
    let mut skip = false;
    cmd.argv
        .iter()
        .skip(1)
        .take_while(|w| w.text != "--")
        .filter(move |w| {
            if std::mem::take(&mut skip) {
                return false;
            }
            let option = !w.dynamic && w.text.starts_with('-') && w.text.len() > 1;
            skip = option && with_value.contains(&w.text);
            option
        })
        .map(|w| w.text.as_str())
}
