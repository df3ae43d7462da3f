//! The approval policy as data: a TOML file of rules, each deciding **safe**, **ask** or
//! **never** for a shape of tool call.
//!
//! PAIOS ships a built-in policy (`default_policy.toml`, embedded). The user's
//! `$PAIOS_HOME/policy.toml` extends it: its rules are added, its named sets are appended to, its
//! `[defaults]` replace the built-in ones, and `disable = ["id", …]` switches off built-in rules
//! that are not `never` rules (a `never` rule cannot be disabled: that is the point of it).
//!
//! Rule kinds:
//! * `[[shell]]` — one simple command of a shell command line (see [`super::shell`]): program,
//!   subcommand, flags, arguments (and how many), what it is piped from, what wraps it;
//! * `[[cli]]` — how a command-line program's words read (program, subcommand path, verb, flags;
//!   see [`super::classify`]): words and options of its own that only read, destroy or change,
//!   and options that take a value. Programs no `[[shell]]` rule names are read this way with
//!   the vocabulary of the `verbs_*` and `flags_*` sets, so `describe` is safe and `delete` asks;
//! * `[[path]]` — files read or written (file tools, shell redirections, arguments of programs
//!   that write);
//! * `[[web]]` — domains fetched (web tools, URLs given to network programs);
//! * `[[tool]]` — tool names (`Read`, `mcp__server__tool`, …).
//!
//! Patterns are globs (`*`, `?`, `[…]`); `~` at the start of a path pattern is the home
//! directory; `@name` in a list refers to the named set `[sets] name = […]`. Every pattern and
//! set is compiled once, when the policy is loaded: a literal is looked up in a hash set, only
//! real globs are matched one by one.
//!
//! This module parses and validates; it does no I/O except reading the files it is asked to load.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use glob::{MatchOptions, Pattern};
use serde::{Deserialize, Serialize};

/// The built-in policy, embedded at build time.
pub const DEFAULT_POLICY: &str = include_str!("default_policy.toml");

/// What the gate does with a tool call. Ordered: `Safe < Ask < Never` ("strictest wins").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Allowed without asking.
    Safe,
    /// Needs a person's approval before it runs.
    Ask,
    /// Refused outright, without asking.
    Never,
}

impl Decision {
    /// The lowercase name used in policy files and JSON: `safe`, `ask` or `never`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Safe => "safe",
            Decision::Ask => "ask",
            Decision::Never => "never",
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file exists but could not be read.
    #[error("cannot read policy {path}: {source}")]
    Io {
        /// The policy file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The text is not valid TOML or does not fit the policy format (unknown key, bad value).
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file's name as given to [`parse_file`] (a path, or `built-in policy`).
        path: String,
        /// The 1-based line of the error; 0 when the parser gave no position.
        line: usize,
        /// The 1-based column (in characters) of the error; 0 when the parser gave no position.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A rule, set or `disable` entry is invalid (empty or duplicate id, unknown `@set`, bad
    /// glob, no condition, a `never` rule disabled, …).
    #[error("{path}: rule `{rule}`: {message}")]
    Rule {
        /// The file the offending entry is in (a path, or `built-in policy`).
        path: String,
        /// The rule's id (or the id named in `disable`), `cli #N` for the N-th `[[cli]]` entry, or
        /// `[sets] NAME` for a set.
        rule: String,
        /// What is wrong with it.
        message: String,
    },
}

/// `[defaults]`: decisions when no rule matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    /// A simple command no `[[shell]]` rule matches.
    pub shell: Decision,
    /// A tool no rule knows.
    pub tool: Decision,
    /// A domain no `[[web]]` rule matches.
    pub web: Decision,
    /// Writing a file inside the project (the session's working directory) or a temp folder.
    pub write_inside_project: Decision,
    /// Writing a file anywhere else.
    pub write_outside_project: Decision,
    /// Deleting files inside the project (inside a temporary folder it is safe; anywhere else
    /// `write_outside_project`).
    pub delete_inside_project: Decision,
    /// A program no `[[shell]]` rule names whose words change something without destroying it
    /// (`flags create`, `kv put`, `publish`, `cp`); see the `verbs_*` sets.
    pub cli_change: Decision,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            shell: Decision::Ask,
            tool: Decision::Ask,
            web: Decision::Ask,
            write_inside_project: Decision::Safe,
            write_outside_project: Decision::Ask,
            delete_inside_project: Decision::Ask,
            cli_change: Decision::Ask,
        }
    }
}

/// Which file accesses a `[[path]]` rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Only accesses that read.
    Read,
    /// Only accesses that write or delete.
    Write,
    /// Every access (the default).
    #[default]
    Any,
}

/// `[[shell]]`: a decision for the simple commands that meet all of its conditions (an empty
/// list or `false` is no condition; a rule must have at least one).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellRule {
    /// Unique rule id (`shell.rm-critical`), shown in verdicts and named by `disable`.
    pub id: String,
    /// The decision when the rule matches.
    pub decision: Decision,
    /// Why, shown to the user with the verdict (empty when not given).
    #[serde(default)]
    pub reason: String,
    /// Program base names (globs or `@set`). Empty: any program.
    #[serde(default)]
    pub programs: Vec<String>,
    /// The first non-option argument (`git push`, `systemctl stop`).
    #[serde(default)]
    pub subcommands: Vec<String>,
    /// Any of these options present. A one-letter `-x` also matches inside bundles (`-rf`).
    #[serde(default)]
    pub flags: Vec<String>,
    /// None of these options present (same matching as `flags`).
    #[serde(default)]
    pub unless_flags: Vec<String>,
    /// Options that take a value (the next word): that word is not an argument.
    #[serde(default)]
    pub options_with_value: Vec<String>,
    /// At least this many non-option arguments (the subcommand counts).
    #[serde(default)]
    pub min_args: Option<usize>,
    /// At most this many non-option arguments (the subcommand counts).
    #[serde(default)]
    pub max_args: Option<usize>,
    /// Any non-option argument matches (as written, or as a normalised absolute path).
    #[serde(default)]
    pub args: Vec<String>,
    /// Any word at all matches (options included).
    #[serde(default)]
    pub words: Vec<String>,
    /// An earlier command of the same pipeline is one of these programs.
    #[serde(default)]
    pub piped_from: Vec<String>,
    /// An earlier command of the same pipeline has a non-option argument matching one of these.
    #[serde(default)]
    pub piped_from_args: Vec<String>,
    /// Requires one of these wrappers (`sudo`, `xargs`, …).
    #[serde(default)]
    pub wrapped_by: Vec<String>,
    /// Requires an argument only known at run time (`$VAR`, `$(…)`, xargs input).
    #[serde(default)]
    pub dynamic_args: bool,
    /// Requires that there are no non-option arguments (`sudo -i`, `bash` reading stdin).
    #[serde(default)]
    pub no_args: bool,
    /// Sets one of these variables, for itself (`X=1 cmd`, `env X=1 cmd`) or for the rest of
    /// the shell (`X=1`, `export X=1`). Matches bare assignments too (there is no program).
    #[serde(default)]
    pub env: Vec<String>,
    /// Requires that its standard input is a pipe, a here-document, a here-string or a file.
    #[serde(default)]
    pub reads_input: bool,
}

/// `[[path]]`: a decision for reading or writing files that match `paths`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    /// Unique rule id, shown in verdicts and named by `disable`.
    pub id: String,
    /// The decision when the rule matches.
    pub decision: Decision,
    /// Why, shown to the user with the verdict (empty when not given).
    #[serde(default)]
    pub reason: String,
    /// Path globs (`~/…`, `$VAR/…` and `@set` allowed); a `$VAR` entry is left out when the
    /// variable is unset or empty.
    pub paths: Vec<String>,
    /// Paths among `paths` the rule does not cover (`~/.ssh/*.pub`: a public key is no secret).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    /// Which accesses the rule applies to: `read`, `write` (writes and deletes) or `any` (the
    /// default).
    #[serde(default)]
    pub access: Access,
}

/// `[[web]]`: a decision for requests to the domains that match `domains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebRule {
    /// Unique rule id, shown in verdicts and named by `disable`.
    pub id: String,
    /// The decision when the rule matches.
    pub decision: Decision,
    /// Why, shown to the user with the verdict (empty when not given).
    #[serde(default)]
    pub reason: String,
    /// Host name globs or `@set` (`*.github.com`).
    pub domains: Vec<String>,
    /// `write`: only requests that send or change something (not a GET or HEAD from a shell
    /// command); `any` (the default): every request.
    #[serde(default)]
    pub access: Access,
}

/// `[[cli]]`: what the words and options of one or more command-line programs mean, beyond
/// the shared vocabulary (`[sets] verbs_read`, `verbs_destructive`, `verbs_write`, `flags_read`,
/// `flags_destructive`, `flags_dry_run`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CliRule {
    /// Program base names (globs or `@set`).
    pub programs: Vec<String>,
    /// Subcommand words that only read or print (`snapshots` for restic).
    #[serde(default)]
    pub read: Vec<String>,
    /// Subcommand words that delete or destroy (`forget` for restic).
    #[serde(default)]
    pub destructive: Vec<String>,
    /// Subcommand words that change something (they keep a command from reading as read-only).
    #[serde(default)]
    pub write: Vec<String>,
    /// The decision for its words that change something (`[defaults] cli_change` when absent):
    /// `ask` for `gh`, whose changes are on GitHub for everyone to see.
    #[serde(default)]
    pub change: Option<Decision>,
    /// Words that are only names of things for this program, whatever the shared vocabulary
    /// says (`restore` and `backup` for velero: `velero restore describe` only reads).
    #[serde(default)]
    pub nouns: Vec<String>,
    /// Options that make the command only read (`-t` for nginx, `-l` for ssh-add).
    #[serde(default)]
    pub read_flags: Vec<String>,
    /// Options that make it destroy (`-D` for ssh-add).
    #[serde(default)]
    pub destructive_flags: Vec<String>,
    /// Options that take a value (the next word is not a subcommand).
    #[serde(default)]
    pub options_with_value: Vec<String>,
}

/// `[[tool]]`: a decision for calls to the tools whose names match `tools`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRule {
    /// Unique rule id, shown in verdicts and named by `disable`.
    pub id: String,
    /// The decision when the rule matches.
    pub decision: Decision,
    /// Why, shown to the user with the verdict (empty when not given).
    #[serde(default)]
    pub reason: String,
    /// Tool name globs or `@set` (`Read`, `mcp__server__*`).
    pub tools: Vec<String>,
}

/// A policy file as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// `[defaults]`; `None` when the file has none (a user file then keeps the built-in
    /// defaults).
    #[serde(default)]
    pub defaults: Option<Defaults>,
    /// Built-in rule ids to switch off (only in a user file; never rules cannot be disabled).
    #[serde(default)]
    pub disable: Vec<String>,
    /// Named lists usable as `@name` in rules.
    #[serde(default)]
    pub sets: BTreeMap<String, Vec<String>>,
    /// `[[shell]]` rules, in file order.
    #[serde(default)]
    pub shell: Vec<ShellRule>,
    /// `[[path]]` rules, in file order.
    #[serde(default)]
    pub path: Vec<PathRule>,
    /// `[[web]]` rules, in file order.
    #[serde(default)]
    pub web: Vec<WebRule>,
    /// `[[tool]]` rules, in file order.
    #[serde(default)]
    pub tool: Vec<ToolRule>,
    /// `[[cli]]` entries, in file order.
    #[serde(default)]
    pub cli: Vec<CliRule>,
}

/// A list of compiled globs: literals in a hash set, the rest compiled once.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    literals: HashSet<String>,
    globs: Vec<Pattern>,
}

impl Patterns {
    fn push(&mut self, text: &str) -> Result<(), glob::PatternError> {
        if text.contains(['*', '?', '[']) {
            self.globs.push(Pattern::new(text)?);
        } else {
            self.literals.insert(text.to_string());
        }
        Ok(())
    }
    /// No pattern at all (so nothing matches).
    pub fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.globs.is_empty()
    }
    /// `*` stays within one path component; `**` spans components.
    pub fn matches(&self, text: &str) -> bool {
        self.literals.contains(text) || self.globs.iter().any(|p| p.matches_with(text, STRICT))
    }
    /// `*` matches anything, `/` included (for `words` patterns such as `*id_rsa*`).
    pub fn matches_loose(&self, text: &str) -> bool {
        self.literals.contains(text) || self.globs.iter().any(|p| p.matches_with(text, LOOSE))
    }
}

const STRICT: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

const LOOSE: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// A [`ShellRule`] with its `@set`s expanded and its patterns compiled.
#[derive(Debug, Clone)]
pub struct CompiledShellRule {
    /// Unique rule id.
    pub id: String,
    /// The decision when the rule matches.
    pub decision: Decision,
    /// Why, shown with the verdict (empty when not given).
    pub reason: String,
    /// Program base names; empty: any program.
    pub programs: Patterns,
    /// Patterns for the first non-option argument; empty: no condition.
    pub subcommands: Patterns,
    /// One-letter short options (matched inside bundles).
    pub short_flags: Vec<char>,
    /// Long options (`--force`, globs); with `short_flags`, any one present is required unless
    /// both are empty.
    pub long_flags: Patterns,
    /// One-letter options of `unless_flags` (matched inside bundles).
    pub unless_short_flags: Vec<char>,
    /// Long options of `unless_flags`: none of these (nor of `unless_short_flags`) may be present.
    pub unless_long_flags: Patterns,
    /// Options whose next word is their value, not an argument.
    pub options_with_value: Vec<String>,
    /// At least this many non-option arguments (the subcommand counts); `None`: no minimum.
    pub min_args: Option<usize>,
    /// At most this many non-option arguments (the subcommand counts); `None`: no maximum.
    pub max_args: Option<usize>,
    /// Non-option argument patterns (`~` and `$VAR` expanded); empty: no condition.
    pub args: Patterns,
    /// Patterns for any word, options included (matched loosely: `*` crosses `/`).
    pub words: Patterns,
    /// Programs of an earlier command in the same pipeline.
    pub piped_from: Patterns,
    /// Argument patterns of an earlier command in the same pipeline (paths expanded).
    pub piped_from_args: Patterns,
    /// Wrappers the command must run under (`sudo`, `xargs`, …).
    pub wrapped_by: Patterns,
    /// Requires an argument only known at run time (`$VAR`, `$(…)`, xargs input).
    pub dynamic_args: bool,
    /// Requires that there are no non-option arguments.
    pub no_args: bool,
    /// Variable names the command must set (for itself or for the rest of the shell).
    pub env: Patterns,
    /// Requires that standard input is a pipe, a here-document, a here-string or a file.
    pub reads_input: bool,
}

/// A compiled `[[path]]`, `[[web]]` or `[[tool]]` rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// Unique rule id.
    pub id: String,
    /// The decision when the rule matches.
    pub decision: Decision,
    /// Why, shown with the verdict (empty when not given).
    pub reason: String,
    /// Paths (with `~` and `$VAR` expanded), domains or tool names the rule is about.
    pub patterns: Patterns,
    /// What the rule leaves out of `patterns` (path rules' `except`).
    pub except: Patterns,
    /// Which accesses it applies to (always `any` for tool rules; web rules treat `read` like
    /// `any`).
    pub access: Access,
}

impl CompiledRule {
    /// The rule covers `text`: one of its patterns matches and none of its exceptions.
    pub fn covers(&self, text: &str) -> bool {
        self.patterns.matches(text) && !self.except.matches(text)
    }
}

/// A `[[cli]]` entry, compiled.
#[derive(Debug, Clone, Default)]
pub struct CompiledCli {
    /// Program base names the entry is about.
    pub programs: Patterns,
    /// Subcommand words that only read or print.
    pub read: Patterns,
    /// Subcommand words that delete or destroy.
    pub destructive: Patterns,
    /// Subcommand words that change something.
    pub write: Patterns,
    /// Words that are only names of things for these programs, whatever the shared vocabulary says.
    pub nouns: Patterns,
    /// The decision for words that change something; `None`: `[defaults] cli_change`.
    pub change: Option<Decision>,
    /// Options that make the command only read.
    pub read_flags: Flags,
    /// Options that make the command destroy.
    pub destructive_flags: Flags,
    /// Options whose next word is their value, not a subcommand.
    pub options_with_value: Vec<String>,
}

/// Options as a rule names them: one-letter ones (also found inside bundles such as `-rf`) and
/// long ones (globs; `--x=value` matches `--x`).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// One-letter options, without the dash (`r` for `-r`); also found inside bundles (`-rf`).
    pub short: Vec<char>,
    /// Long options, as globs (`--force`, `--no-*`).
    pub long: Patterns,
}

impl Flags {
    /// No option at all (so nothing matches).
    pub fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }
    /// `option` (one word starting with `-`) is one of these.
    pub fn matches(&self, option: &str) -> bool {
        (!option.starts_with("--")
            && option.len() > 1
            && option[1..].chars().any(|c| self.short.contains(&c)))
            || self.long.matches(option)
            || self
                .long
                .matches(option.split('=').next().unwrap_or(option))
    }
}

/// A policy ready to classify with: the built-in rules plus the user's, compiled.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `[defaults]`: the user's when given, otherwise the built-in ones.
    pub defaults: Defaults,
    /// `[[shell]]` rules in order, built-in first, disabled ones left out.
    pub shell: Vec<CompiledShellRule>,
    /// `[[path]]` rules in order, built-in first, disabled ones left out.
    pub path: Vec<CompiledRule>,
    /// `[[web]]` rules in order, built-in first, disabled ones left out.
    pub web: Vec<CompiledRule>,
    /// `[[tool]]` rules in order, built-in first, disabled ones left out.
    pub tool: Vec<CompiledRule>,
    /// `[[cli]]` entries in order, built-in first.
    pub cli: Vec<CompiledCli>,
    /// Named sets after merging (used by the classifier: `writers`, `network`, …).
    pub sets: BTreeMap<String, Vec<String>>,
    /// The same sets compiled, for matching.
    compiled_sets: BTreeMap<String, Patterns>,
    /// Where the rules came from, for `paios policy show`.
    pub sources: Vec<String>,
}

/// The home directory used to expand `~` in path patterns.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// [`DEFAULT_POLICY`] as JSON, made by the build script: the hook reads it on every tool call,
/// and serde_json reads it several times faster than the TOML parser reads the source.
const DEFAULT_POLICY_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/default_policy.json"));

static BUILTIN_FILE: LazyLock<PolicyFile> = LazyLock::new(|| {
    serde_json::from_str(DEFAULT_POLICY_JSON).expect("the built-in policy is valid")
});

/// Parse a policy file's text; `origin` names it in errors.
pub fn parse_file(text: &str, origin: &str) -> Result<PolicyFile, PolicyError> {
    let file: PolicyFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        PolicyError::Syntax {
            path: origin.to_string(),
            line,
            column,
            message: e.message().to_string(),
        }
    })?;
    Ok(file)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

impl Policy {
    /// The built-in policy alone.
    pub fn builtin() -> Result<Policy, PolicyError> {
        Self::merge(
            &BUILTIN_FILE,
            None,
            "built-in policy",
            home_dir().as_deref(),
        )
    }

    /// The built-in policy with `~` meaning `home` (tests, other users' homes).
    pub fn builtin_for_home(home: &Path) -> Result<Policy, PolicyError> {
        Self::merge(&BUILTIN_FILE, None, "built-in policy", Some(home))
    }

    /// The built-in policy extended by the user's file at `path`, if it exists.
    pub fn load(user_file: &Path) -> Result<Policy, PolicyError> {
        match std::fs::read_to_string(user_file) {
            Ok(text) => {
                let origin = user_file.display().to_string();
                let user = parse_file(&text, &origin)?;
                Self::merge(&BUILTIN_FILE, Some(&user), &origin, home_dir().as_deref())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::builtin(),
            Err(source) => Err(PolicyError::Io {
                path: user_file.to_path_buf(),
                source,
            }),
        }
    }

    /// Check a policy file on its own terms (for `paios policy check FILE`).
    pub fn check_text(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let user = parse_file(text, origin)?;
        Self::merge(&BUILTIN_FILE, Some(&user), origin, home_dir().as_deref())
    }

    fn merge(
        builtin: &PolicyFile,
        user: Option<&PolicyFile>,
        user_origin: &str,
        home: Option<&Path>,
    ) -> Result<Policy, PolicyError> {
        let mut sets = builtin.sets.clone();
        let mut defaults = builtin.defaults.clone().unwrap_or_default();
        let mut disabled: HashSet<&str> = HashSet::new();
        let mut sources = vec!["built-in policy".to_string()];
        if let Some(user) = user {
            sources.push(user_origin.to_string());
            for (name, items) in &user.sets {
                sets.entry(name.clone())
                    .or_default()
                    .extend(items.iter().cloned());
            }
            if let Some(d) = &user.defaults {
                defaults = d.clone();
            }
            for id in &user.disable {
                let rule_decision = builtin
                    .shell
                    .iter()
                    .map(|r| (&r.id, r.decision))
                    .chain(builtin.path.iter().map(|r| (&r.id, r.decision)))
                    .chain(builtin.web.iter().map(|r| (&r.id, r.decision)))
                    .chain(builtin.tool.iter().map(|r| (&r.id, r.decision)))
                    .find(|(rid, _)| *rid == id)
                    .map(|(_, d)| d);
                match rule_decision {
                    None => {
                        return Err(PolicyError::Rule {
                            path: user_origin.into(),
                            rule: id.clone(),
                            message: "`disable` names no built-in rule; see `paios policy show`"
                                .into(),
                        });
                    }
                    Some(Decision::Never) => {
                        return Err(PolicyError::Rule {
                            path: user_origin.into(),
                            rule: id.clone(),
                            message: "is a `never` rule and cannot be disabled".into(),
                        });
                    }
                    Some(_) => {
                        disabled.insert(id.as_str());
                    }
                }
            }
        }
        let files: Vec<(&PolicyFile, &str)> = std::iter::once((builtin, "built-in policy"))
            .chain(user.map(|u| (u, user_origin)))
            .collect();
        let mut policy = Policy {
            defaults,
            shell: Vec::new(),
            path: Vec::new(),
            web: Vec::new(),
            tool: Vec::new(),
            cli: Vec::new(),
            sets: BTreeMap::new(),
            compiled_sets: BTreeMap::new(),
            sources,
        };
        let mut seen: HashSet<String> = HashSet::new();
        for (file, origin) in files {
            let ctx = Compiler {
                sets: &sets,
                origin,
                home,
            };
            for r in &file.shell {
                ctx.check_id(&r.id, &mut seen)?;
                if disabled.contains(r.id.as_str()) {
                    continue;
                }
                policy.shell.push(ctx.shell(r)?);
            }
            for r in &file.path {
                ctx.check_id(&r.id, &mut seen)?;
                if disabled.contains(r.id.as_str()) {
                    continue;
                }
                let patterns = ctx.patterns(&r.id, &r.paths, true)?;
                let except = ctx.patterns(&r.id, &r.except, true)?;
                policy.path.push(CompiledRule {
                    id: r.id.clone(),
                    decision: r.decision,
                    reason: r.reason.clone(),
                    patterns,
                    except,
                    access: r.access,
                });
            }
            for r in &file.web {
                ctx.check_id(&r.id, &mut seen)?;
                if disabled.contains(r.id.as_str()) {
                    continue;
                }
                let patterns = ctx.patterns(&r.id, &r.domains, false)?;
                policy.web.push(CompiledRule {
                    id: r.id.clone(),
                    decision: r.decision,
                    reason: r.reason.clone(),
                    patterns,
                    except: Patterns::default(),
                    access: r.access,
                });
            }
            for r in &file.tool {
                ctx.check_id(&r.id, &mut seen)?;
                if disabled.contains(r.id.as_str()) {
                    continue;
                }
                let patterns = ctx.patterns(&r.id, &r.tools, false)?;
                policy.tool.push(CompiledRule {
                    id: r.id.clone(),
                    decision: r.decision,
                    reason: r.reason.clone(),
                    patterns,
                    except: Patterns::default(),
                    access: Access::Any,
                });
            }
            for (i, r) in file.cli.iter().enumerate() {
                policy.cli.push(ctx.cli(&format!("cli #{}", i + 1), r)?);
            }
        }
        for (name, items) in &sets {
            let ctx = Compiler {
                sets: &sets,
                origin: user_origin,
                home,
            };
            let patterns = ctx.patterns(&format!("[sets] {name}"), items, false)?;
            policy.compiled_sets.insert(name.clone(), patterns);
        }
        policy.sets = sets;
        Ok(policy)
    }

    /// A named set (empty when absent).
    pub fn set(&self, name: &str) -> &[String] {
        self.sets.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `text` is in the named set (an entry equal to it, or a glob matching it).
    pub fn in_set(&self, name: &str, text: &str) -> bool {
        self.compiled_sets
            .get(name)
            .is_some_and(|p| p.matches(text))
    }

    /// Every rule as JSON, for `paios policy show`.
    pub fn to_json(&self) -> serde_json::Value {
        let shell: Vec<_> = self
            .shell
            .iter()
            .map(|r| serde_json::json!({"kind": "shell", "id": r.id, "decision": r.decision, "reason": r.reason}))
            .collect();
        let others = [("path", &self.path), ("web", &self.web), ("tool", &self.tool)]
            .into_iter()
            .flat_map(|(kind, rules)| {
                rules.iter().map(move |r| {
                    serde_json::json!({"kind": kind, "id": r.id, "decision": r.decision, "reason": r.reason})
                })
            });
        serde_json::json!({
            "sources": self.sources,
            "defaults": self.defaults,
            "rules": shell.into_iter().chain(others).collect::<Vec<_>>(),
            "sets": self.sets,
            "cli": self.cli.len(),
        })
    }
}

struct Compiler<'a> {
    sets: &'a BTreeMap<String, Vec<String>>,
    origin: &'a str,
    home: Option<&'a Path>,
}

impl Compiler<'_> {
    fn err(&self, rule: &str, message: impl Into<String>) -> PolicyError {
        PolicyError::Rule {
            path: self.origin.to_string(),
            rule: rule.to_string(),
            message: message.into(),
        }
    }

    fn check_id(&self, id: &str, seen: &mut HashSet<String>) -> Result<(), PolicyError> {
        if id.trim().is_empty() {
            return Err(self.err(id, "every rule needs a non-empty `id`"));
        }
        if !seen.insert(id.to_string()) {
            return Err(self.err(id, "this id is used by another rule; ids must be unique"));
        }
        Ok(())
    }

    /// Expand `@set` references and compile the globs.
    fn patterns(&self, rule: &str, items: &[String], paths: bool) -> Result<Patterns, PolicyError> {
        let mut out = Patterns::default();
        for item in items {
            let expanded: Vec<String> = match item.strip_prefix('@') {
                Some(name) => self
                    .sets
                    .get(name)
                    .cloned()
                    .ok_or_else(|| self.err(rule, format!("unknown set `@{name}`")))?,
                None => vec![item.clone()],
            };
            for text in expanded {
                let text = if paths {
                    // `$NAME/…`: under the folder the variable names; left out when it is unset.
                    match expand_var(&text) {
                        Some(text) => expand_home(&text, self.home),
                        None => continue,
                    }
                } else {
                    text
                };
                out.push(&text)
                    .map_err(|e| self.err(rule, format!("bad pattern {text:?}: {e}")))?;
            }
        }
        Ok(out)
    }

    /// One-letter options and long option patterns.
    fn flags(&self, rule: &str, items: &[String]) -> Result<Flags, PolicyError> {
        let mut short = Vec::new();
        let mut long = Vec::new();
        for f in items {
            let mut chars = f.chars();
            match (chars.next(), chars.next(), chars.next()) {
                (Some('-'), Some(c), None) if c != '-' => short.push(c),
                (Some('-'), Some(_), _) => long.push(f.clone()),
                _ => return Err(self.err(rule, format!("flag {f:?} must start with '-'"))),
            }
        }
        Ok(Flags {
            short,
            long: self.patterns(rule, &long, false)?,
        })
    }

    fn cli(&self, rule: &str, r: &CliRule) -> Result<CompiledCli, PolicyError> {
        if r.programs.is_empty() {
            return Err(self.err(rule, "a [[cli]] entry needs `programs`"));
        }
        Ok(CompiledCli {
            programs: self.patterns(rule, &r.programs, false)?,
            read: self.patterns(rule, &r.read, false)?,
            destructive: self.patterns(rule, &r.destructive, false)?,
            write: self.patterns(rule, &r.write, false)?,
            nouns: self.patterns(rule, &r.nouns, false)?,
            change: r.change,
            read_flags: self.flags(rule, &r.read_flags)?,
            destructive_flags: self.flags(rule, &r.destructive_flags)?,
            options_with_value: r.options_with_value.clone(),
        })
    }

    fn shell(&self, r: &ShellRule) -> Result<CompiledShellRule, PolicyError> {
        let conditions = [
            &r.programs,
            &r.subcommands,
            &r.flags,
            &r.unless_flags,
            &r.args,
            &r.words,
            &r.piped_from,
            &r.piped_from_args,
            &r.wrapped_by,
            &r.env,
        ];
        if conditions.iter().all(|c| c.is_empty())
            && !r.dynamic_args
            && !r.no_args
            && !r.reads_input
            && r.min_args.is_none()
            && r.max_args.is_none()
        {
            return Err(self.err(
                &r.id,
                "a rule with no condition would match every command; give it `programs` (or another condition)",
            ));
        }
        let flags = self.flags(&r.id, &r.flags)?;
        let unless = self.flags(&r.id, &r.unless_flags)?;
        Ok(CompiledShellRule {
            id: r.id.clone(),
            decision: r.decision,
            reason: r.reason.clone(),
            programs: self.patterns(&r.id, &r.programs, false)?,
            subcommands: self.patterns(&r.id, &r.subcommands, false)?,
            short_flags: flags.short,
            long_flags: flags.long,
            unless_short_flags: unless.short,
            unless_long_flags: unless.long,
            options_with_value: r.options_with_value.clone(),
            min_args: r.min_args,
            max_args: r.max_args,
            args: self.patterns(&r.id, &r.args, true)?,
            words: self.patterns(&r.id, &r.words, false)?,
            piped_from: self.patterns(&r.id, &r.piped_from, false)?,
            piped_from_args: self.patterns(&r.id, &r.piped_from_args, true)?,
            wrapped_by: self.patterns(&r.id, &r.wrapped_by, false)?,
            dynamic_args: r.dynamic_args,
            no_args: r.no_args,
            env: self.patterns(&r.id, &r.env, false)?,
            reads_input: r.reads_input,
        })
    }
}

/// `$NAME/x` → the folder in the environment variable `NAME` (`None` when it is unset or
/// empty); any other text unchanged.
fn expand_var(text: &str) -> Option<String> {
    let Some(rest) = text.strip_prefix('$') else {
        return Some(text.to_string());
    };
    let (name, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    Some(format!("{}{tail}", value.trim_end_matches('/')))
}

/// `~` or `~/x` → the home directory (when known).
pub fn expand_home(text: &str, home: Option<&Path>) -> String {
    if (text == "~" || text.starts_with("~/"))
        && let Some(home) = home
    {
        let home = home.display().to_string();
        let home = home.trim_end_matches('/');
        return format!("{home}{}", &text[1..]);
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_policy_read_from_json_is_its_toml_source() {
        let from_toml = parse_file(DEFAULT_POLICY, "built-in policy").unwrap();
        assert_eq!(
            serde_json::to_value(&from_toml).unwrap(),
            serde_json::to_value(&*BUILTIN_FILE).unwrap()
        );
        assert!(!from_toml.shell.is_empty());
    }

    #[test]
    fn a_shell_rule_without_a_condition_is_refused() {
        let text = "[[shell]]\nid = \"my.everything\"\ndecision = \"safe\"\n";
        let e = Policy::check_text(text, "policy.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("my.everything") && e.contains("no condition"),
            "{e}"
        );
    }

    #[test]
    fn path_patterns_may_start_with_a_folder_from_the_environment() {
        assert_eq!(expand_var("~/x").as_deref(), Some("~/x"));
        assert_eq!(expand_var("$PAIOS_TEST_SURELY_UNSET_VARIABLE/x"), None);
        if let Ok(home) = std::env::var("HOME")
            && !home.is_empty()
        {
            let want = format!("{}/x", home.trim_end_matches('/'));
            assert_eq!(expand_var("$HOME/x"), Some(want));
        }
    }

    #[test]
    fn the_builtin_policy_compiles() {
        let p = Policy::builtin().unwrap();
        assert!(p.shell.len() > 20);
        assert!(p.shell.iter().any(|r| r.decision == Decision::Never));
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let e = Policy::check_text("[[shell]]\nid = \"x\"\ndecision = \"maybe\"\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:3:"), "{e}");
        assert!(e.contains("maybe"), "{e}");
    }

    #[test]
    fn never_rules_cannot_be_disabled_and_unknown_sets_are_errors() {
        let never = Policy::builtin()
            .unwrap()
            .shell
            .iter()
            .find(|r| r.decision == Decision::Never)
            .unwrap()
            .id
            .clone();
        let e = Policy::check_text(&format!("disable = [{never:?}]"), "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be disabled"), "{e}");
        let e = Policy::check_text(
            "[[shell]]\nid = \"x\"\ndecision = \"ask\"\nprograms = [\"@nope\"]\n",
            "p.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown set `@nope`"), "{e}");
    }

    #[test]
    fn user_rules_and_sets_extend_the_builtin_ones() {
        let p = Policy::check_text(
            "[sets]\nsafe_programs = [\"mytool\"]\n[[tool]]\nid = \"my.tool\"\ndecision = \"safe\"\ntools = [\"mcp__mine__*\"]\n",
            "p.toml",
        )
        .unwrap();
        assert!(p.set("safe_programs").iter().any(|s| s == "mytool"));
        assert!(p.tool.iter().any(|r| r.id == "my.tool"));
    }
}
