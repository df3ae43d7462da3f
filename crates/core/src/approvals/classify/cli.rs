//! Command structure: most command-line programs read as program, subcommand path, verb,
//! flags (`aws s3api list-objects-v2 --bucket b`, `velero backup delete nightly --confirm`,
//! `kafka-topics --bootstrap-server h:9092 --delete --topic t`). A program no `[[shell]]` rule
//! names is judged by the words it is given:
//!
//! * a dry-run flag (`--dry-run`, `--dryrun`, …) → safe: it only shows what it would do; so
//!   does `--help` (or a program's own read-only flag: `nginx -t`);
//! * a destructive word or flag — in the program's name, its subcommand path or a long flag's
//!   name (`delete`, `purge`, `rb`, `delete-bucket`, `--delete-config`, `--force`) → ask;
//!   Overwriting counts as destroying (`sync`, `mirror`, `move`, `restore`, `roll`), and so does
//!   a value that names a destructive operation in capitals or camel case (an SQL `DROP`, a JSON
//!   `"Action":"DELETE"`, an API call `deleteEntity`);
//! * a word that changes something (`create`, `update-status`, `--alter`) →
//!   `[defaults] cli_change`;
//! * a read-only word (`list`, `describe`, `get-object`, `cluster_status`, `--describe`,
//!   `--help`) → safe;
//! * nothing recognised → `[defaults] shell`.
//!
//! Words are split at `-`, `_`, `:` and `.` (`list-objects-v2` reads as `list`, `delete-batch`
//! as `delete`); a read-only word counts when it starts or ends the word, a changing one when it
//! starts it, a destructive one anywhere in it. The subcommand path is the first few arguments
//! that look like words, up to the first that does not (a path, a URL, a quoted value); option
//! values the policy knows of are skipped. A flag's read-only word counts only when every
//! subcommand word is a known verb, so `mytool nuke --list` is not read-only (`--help` always
//! is).
//!
//! The vocabulary is data: `[sets] verbs_read`, `verbs_destructive`, `verbs_write`,
//! `flags_read`, `flags_destructive`, `flags_dry_run`, and `[[cli]]` entries that teach one
//! program its own words and options.

use super::paths::from_a_system_folder;
use super::rules::clip;
use super::{Hit, SimpleCommand, hit};
use crate::approvals::policy::{CompiledCli, Decision, Patterns, Policy};

/// How many words of the subcommand path are read.
const MAX_PATH_WORDS: usize = 5;
/// Longer words are values, not verbs.
const MAX_WORD_LEN: usize = 48;

/// What the words of a command say it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reading {
    /// Shows what it would do (the flag).
    DryRun(String),
    /// Deletes, destroys or overwrites (the word).
    Destructive(String),
    /// Changes something without destroying it (the word).
    Change(String),
    /// Only reads (the word).
    Read(String),
    /// Nothing recognised.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Read,
    Write,
    Destructive,
}

impl Policy {
    /// The hit for a program no `[[shell]]` rule names.
    pub(super) fn structure_hit(&self, cmd: &SimpleCommand, program: &str, text: &str) -> Hit {
        // A program named by a path outside the system's folders is whatever that file is.
        let system = from_a_system_folder(cmd);
        match self.reading(cmd, program) {
            Reading::DryRun(flag) if system => hit(
                Decision::Safe,
                "shell.cli-dry-run",
                format!("only shows what it would do ({flag}): {}", clip(text)),
            ),
            Reading::Destructive(word) => hit(
                Decision::Ask,
                format!("shell.cli-destructive:{program}"),
                format!("deletes or destroys ({word}): {}", clip(text)),
            ),
            Reading::Read(word) if system => hit(
                Decision::Safe,
                "shell.cli-read",
                format!("only reads ({word}): {}", clip(text)),
            ),
            Reading::Change(word) if system => hit(
                self.cli
                    .iter()
                    .filter(|c| c.programs.matches(program))
                    .find_map(|c| c.change)
                    .unwrap_or(self.defaults.cli_change),
                format!("shell.cli-change:{program}"),
                format!(
                    "changes something, destroys nothing ({word}): {}",
                    clip(text)
                ),
            ),
            _ => hit(
                self.defaults.shell,
                format!("shell.default:{program}"),
                format!("no rule for the program {program}: {}", clip(text)),
            ),
        }
    }

    /// For a program a `[[cli]]` entry names and a `[[shell]]` rule judged too (`gh`,
    /// `kubectl`, …): its destructive words still ask.
    pub(super) fn taught_destructive_hit(
        &self,
        cmd: &SimpleCommand,
        program: &str,
        text: &str,
    ) -> Option<Hit> {
        if !self.cli.iter().any(|c| c.programs.matches(program)) {
            return None;
        }
        match self.reading(cmd, program) {
            Reading::Destructive(word) => Some(hit(
                Decision::Ask,
                format!("shell.cli-destructive:{program}"),
                format!("deletes or destroys ({word}): {}", clip(text)),
            )),
            _ => None,
        }
    }

    /// What `cmd`'s words say it does.
    pub(super) fn reading(&self, cmd: &SimpleCommand, program: &str) -> Reading {
        let taught: Vec<&CompiledCli> = self
            .cli
            .iter()
            .filter(|c| c.programs.matches(program))
            .collect();
        let with_value = |word: &str| {
            taught
                .iter()
                .any(|c| c.options_with_value.iter().any(|o| o == word))
        };
        let mut dry_run: Option<String> = None;
        let mut destructive: Option<String> = None;
        let mut changes: Option<String> = None;
        let mut read_word: Option<String> = None;
        let mut read_flag: Option<String> = None;
        // `--help` and `--version`: read-only whatever the words before them are.
        let mut help_flag: Option<String> = None;
        let mut unknown_words = false;
        // The program's own name: `kafka-delete-records`, `pg_dump` (`ssh-add` is not "add").
        if program.contains(['-', '_']) {
            match self.verb(program, &taught) {
                Some(Verb::Destructive) => destructive = Some(program.to_string()),
                Some(Verb::Read) => read_word = Some(program.to_string()),
                Some(Verb::Write) | None => {}
            }
        }
        let mut path_words = 0;
        let mut path_done = false;
        let mut skip = false;
        let words = &cmd.argv[1..];
        for (i, w) in words.iter().enumerate() {
            if std::mem::take(&mut skip) {
                continue;
            }
            if w.dynamic {
                path_done = true;
                continue;
            }
            let t = w.text.as_str();
            if t == "--" {
                break;
            }
            if let Some(long) = t.strip_prefix("--").filter(|l| !l.is_empty()) {
                let (name, value) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (long, None),
                };
                let flag = format!("--{name}");
                if self.in_set("flags_dry_run", &flag)
                    && !matches!(value, Some("none" | "false" | "0" | "no"))
                {
                    dry_run.get_or_insert(flag.clone());
                }
                if self.in_set("flags_destructive", &flag)
                    || taught.iter().any(|c| c.destructive_flags.matches(t))
                {
                    destructive.get_or_insert(flag.clone());
                }
                // `--version 1` is an option with a value, not a question.
                let followed_by_value = value.is_none()
                    && words
                        .get(i + 1)
                        .is_some_and(|next| !next.text.starts_with('-'));
                if self.in_set("flags_read", &flag) && !(flag == "--version" && followed_by_value) {
                    help_flag.get_or_insert(flag.clone());
                } else if taught.iter().any(|c| c.read_flags.matches(t)) {
                    read_flag.get_or_insert(flag.clone());
                }
                // `--no-delete` is the opposite of `--delete`.
                if !name.starts_with("no-") {
                    match self.verb(name, &taught) {
                        Some(Verb::Destructive) => {
                            destructive.get_or_insert(flag.clone());
                        }
                        Some(Verb::Write) => {
                            changes.get_or_insert(flag.clone());
                        }
                        Some(Verb::Read) => {
                            read_flag.get_or_insert(flag.clone());
                        }
                        None => {}
                    }
                }
                if let Some(v) = value
                    && let Some(marker) = destructive_marker(v)
                {
                    destructive.get_or_insert(marker);
                }
                if value.is_none() && with_value(t) {
                    skip = true;
                }
            } else if t.len() > 1 && t.starts_with('-') {
                if taught.iter().any(|c| c.destructive_flags.matches(t)) {
                    destructive.get_or_insert(t.to_string());
                } else if taught.iter().any(|c| c.read_flags.matches(t)) {
                    read_flag.get_or_insert(t.to_string());
                }
                if with_value(t) {
                    skip = true;
                }
            } else {
                if let Some(marker) = destructive_marker(t) {
                    destructive.get_or_insert(marker);
                }
                if path_done || path_words >= MAX_PATH_WORDS {
                    continue;
                }
                if !word_like(t) {
                    path_done = true;
                    continue;
                }
                path_words += 1;
                match self.verb(t, &taught) {
                    Some(Verb::Destructive) => {
                        destructive.get_or_insert(t.to_string());
                    }
                    Some(Verb::Write) => {
                        changes.get_or_insert(t.to_string());
                    }
                    Some(Verb::Read) => {
                        read_word.get_or_insert(t.to_string());
                    }
                    None => unknown_words = true,
                }
            }
        }
        if let Some(flag) = dry_run {
            return Reading::DryRun(flag);
        }
        if let Some(flag) = help_flag {
            return Reading::Read(flag);
        }
        if let Some(word) = destructive {
            return Reading::Destructive(word);
        }
        if let Some(word) = changes {
            return Reading::Change(word);
        }
        match (read_word, read_flag) {
            (Some(word), _) => Reading::Read(word),
            (None, Some(flag)) if !unknown_words => Reading::Read(flag),
            _ => Reading::Other,
        }
    }

    /// What one word (a subcommand, a long flag's name, a program name) says.
    fn verb(&self, word: &str, taught: &[&CompiledCli]) -> Option<Verb> {
        let lower = word.to_ascii_lowercase();
        if taught.iter().any(|c| c.nouns.matches(&lower)) {
            return None;
        }
        // `restore-2025-01-01` names a restore for velero, whose nouns include `restore`.
        let tokens: Vec<&str> = lower
            .split(['-', '_', ':', '.'])
            .filter(|t| !t.is_empty() && !taught.iter().any(|c| c.nouns.matches(t)))
            .collect();
        let is = |set: &str, pick: fn(&CompiledCli) -> &Patterns, t: &str| {
            self.in_set(set, t) || taught.iter().any(|c| pick(c).matches(t))
        };
        let destructive = |t: &str| is("verbs_destructive", |c| &c.destructive, t);
        if destructive(&lower) || tokens.iter().any(|t| destructive(t)) {
            return Some(Verb::Destructive);
        }
        let write = |t: &str| is("verbs_write", |c| &c.write, t);
        if write(&lower) || tokens.first().is_some_and(|t| write(t)) {
            return Some(Verb::Write);
        }
        let read = |t: &str| is("verbs_read", |c| &c.read, t);
        if read(&lower)
            || tokens.first().is_some_and(|t| read(t))
            || tokens.last().is_some_and(|t| read(t))
        {
            return Some(Verb::Read);
        }
        None
    }
}

/// Destructive operations a value names in capitals (SQL, JSON: `DROP TABLE`,
/// `"Action":"DELETE"`) or in camel case (API calls: `deleteEntity`, `dropIndex`).
const MARKERS: &[&str] = &[
    "delete", "drop", "truncate", "destroy", "purge", "remove", "wipe",
];

/// The destructive operation a value names, if any (lower-case words are prose: `--notes
/// "example: rm -rf"` names none).
fn destructive_marker(value: &str) -> Option<String> {
    if value.len() > 4096 {
        return None;
    }
    value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|token| {
            MARKERS.iter().any(|m| {
                let upper = m.to_ascii_uppercase();
                *token == upper
                    || token
                        .strip_prefix(m)
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
            })
        })
        .map(str::to_string)
}

/// A word that can be a subcommand: letters first, then letters, digits, `-`, `_`, `:`, `.`.
fn word_like(text: &str) -> bool {
    text.len() <= MAX_WORD_LEN
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}
