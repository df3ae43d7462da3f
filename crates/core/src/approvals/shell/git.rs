//! git's own options: `-C`, `-c key=value`, `--config-env`, aliases. git is looked through like a
//! wrapper because its settings can run commands (`core.pager`, `alias.x=!…`, …).

use super::walker::Walker;
use super::{Problem, Word};

impl Walker {
    /// Drop git's global options so its subcommand is the first argument (`git -C dir push` →
    /// `git push`), and judge what its `-c`/`--config-env` settings run: a setting whose value is
    /// a command (`core.fsmonitor`, `core.pager`, `alias.x=!…`, …) is analysed as a script, one
    /// that loads code from elsewhere (`include.path`, `core.hooksPath`) is dynamic code, and an
    /// alias used as the subcommand (`-c alias.st='push --force' st`) is replaced by its value.
    pub(super) fn git(
        &mut self,
        words: Vec<Word>,
        pipeline: usize,
        stage: usize,
        depth: usize,
        wrappers: &[String],
    ) -> Vec<Word> {
        let is_git = words
            .first()
            .is_some_and(|w| !w.dynamic && w.text.rsplit('/').next() == Some("git"));
        if !is_git {
            return words;
        }
        let mut settings: Vec<(String, Word)> = Vec::new();
        let mut setting = |w: &Word, from_env: bool| {
            let (key, value) = w.text.split_once('=').unwrap_or((&w.text, "true"));
            let value = if from_env {
                Word {
                    text: format!("${value}"),
                    dynamic: true,
                }
            } else {
                Word {
                    text: value.to_string(),
                    dynamic: w.dynamic,
                }
            };
            settings.push((key.to_ascii_lowercase(), value));
        };
        let mut i = 1;
        while i < words.len() {
            let t = words[i].text.as_str();
            if t == "-c" || t == "--config-env" {
                if let Some(w) = words.get(i + 1) {
                    setting(w, t == "--config-env");
                }
                i += 2;
            } else if let Some(v) = t.strip_prefix("--config-env=") {
                setting(
                    &Word {
                        text: v.to_string(),
                        dynamic: words[i].dynamic,
                    },
                    true,
                );
                i += 1;
            } else if matches!(t, "-C" | "--git-dir" | "--work-tree" | "--namespace") {
                i += 2;
            } else if t.starts_with('-') && !words[i].dynamic {
                i += 1;
            } else {
                break;
            }
        }
        let mut git_wrappers = wrappers.to_vec();
        git_wrappers.push("git -c".into());
        let mut rest: Vec<Word> = words.get(i..).unwrap_or_default().to_vec();
        // Aliases may name other aliases; git refuses loops, a bound is enough here.
        for _ in 0..8 {
            let Some(first) = rest.first().filter(|w| !w.dynamic) else {
                break;
            };
            let name = format!("alias.{}", first.text.to_ascii_lowercase());
            let Some((_, value)) = settings.iter().rev().find(|(k, _)| *k == name) else {
                break;
            };
            if let Some(command) = value.text.strip_prefix('!') {
                // A shell alias runs with the remaining arguments appended.
                let mut text = command.to_string();
                for w in &rest[1..] {
                    text.push(' ');
                    text.push_str(&w.text);
                }
                let dynamic = value.dynamic || rest[1..].iter().any(|w| w.dynamic);
                self.script(&text, dynamic, pipeline, stage, depth, &git_wrappers);
                rest.clear();
                break;
            }
            let mut replaced: Vec<Word> = value
                .text
                .split_whitespace()
                .map(|t| Word {
                    text: t.to_string(),
                    dynamic: value.dynamic,
                })
                .collect();
            replaced.extend(rest.drain(1..));
            rest = replaced;
        }
        for (key, value) in &settings {
            if git_key_matches(key, GIT_COMMAND_SETTINGS) {
                let bool_like = matches!(
                    value.text.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "on" | "off" | "1" | "0" | ""
                );
                if !bool_like || value.dynamic {
                    let text = value.text.strip_prefix('!').unwrap_or(&value.text);
                    self.script(text, value.dynamic, pipeline, stage, depth, &git_wrappers);
                }
            } else if git_key_matches(key, GIT_CODE_SETTINGS) {
                self.problems
                    .push(Problem::DynamicCode(format!("git -c {key}={}", value.text)));
            }
        }
        let mut out = vec![words[0].clone()];
        out.extend(rest);
        out
    }
}

/// git settings whose value is a command git runs through the shell (`*` stands for any
/// subsection).
const GIT_COMMAND_SETTINGS: &[&str] = &[
    "core.fsmonitor",
    "core.pager",
    "core.editor",
    "core.sshcommand",
    "core.askpass",
    "core.gitproxy",
    "core.alternaterefscommand",
    "sequence.editor",
    "pager.*",
    "diff.external",
    "diff.*.textconv",
    "diff.*.command",
    "difftool.*.cmd",
    "mergetool.*.cmd",
    "merge.*.driver",
    "filter.*.clean",
    "filter.*.smudge",
    "filter.*.process",
    "credential.helper",
    "credential.*.helper",
    "gpg.program",
    "gpg.*.program",
    "uploadpack.packobjectshook",
    "remote.*.uploadpack",
    "remote.*.receivepack",
    "sendemail.tocmd",
    "sendemail.cccmd",
    "sendemail.sendmailcmd",
    "browser.*.cmd",
    "man.*.cmd",
];

/// git settings that make it load code or settings from elsewhere.
const GIT_CODE_SETTINGS: &[&str] = &[
    "include.path",
    "includeif.*.path",
    "core.hookspath",
    "init.templatedir",
    "protocol.allow",
    "protocol.*.allow",
];

fn git_key_matches(key: &str, patterns: &[&str]) -> bool {
    patterns.iter().any(|p| match p.split_once('*') {
        Some((prefix, suffix)) => {
            key.len() > prefix.len() + suffix.len()
                && key.starts_with(prefix)
                && key.ends_with(suffix)
        }
        None => key == *p,
    })
}
