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
//!   subcommand, flags, arguments, what it is piped from, what wraps it;
//! * `[[path]]` — files read or written (file tools, shell redirections, arguments of programs
//!   that write);
//! * `[[web]]` — domains fetched (web tools, URLs given to network programs);
//! * `[[tool]]` — tool names (`Read`, `mcp__server__tool`, …).
//!
//! Patterns are globs (`*`, `?`, `[…]`); `~` at the start of a path pattern is the home
//! directory; `@name` in a list refers to the named set `[sets] name = […]`.
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
    Safe,
    Ask,
    Never,
}

impl Decision {
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
    #[error("cannot read policy {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: rule `{rule}`: {message}")]
    Rule {
        path: String,
        rule: String,
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
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            shell: Decision::Ask,
            tool: Decision::Ask,
            web: Decision::Ask,
            write_inside_project: Decision::Safe,
            write_outside_project: Decision::Ask,
        }
    }
}

/// Which file accesses a `[[path]]` rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Write,
    #[default]
    Any,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellRule {
    pub id: String,
    pub decision: Decision,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    pub id: String,
    pub decision: Decision,
    #[serde(default)]
    pub reason: String,
    pub paths: Vec<String>,
    #[serde(default)]
    pub access: Access,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebRule {
    pub id: String,
    pub decision: Decision,
    #[serde(default)]
    pub reason: String,
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRule {
    pub id: String,
    pub decision: Decision,
    #[serde(default)]
    pub reason: String,
    pub tools: Vec<String>,
}

/// A policy file as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    #[serde(default)]
    pub defaults: Option<Defaults>,
    /// Built-in rule ids to switch off (only in a user file; never rules cannot be disabled).
    #[serde(default)]
    pub disable: Vec<String>,
    /// Named lists usable as `@name` in rules.
    #[serde(default)]
    pub sets: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub shell: Vec<ShellRule>,
    #[serde(default)]
    pub path: Vec<PathRule>,
    #[serde(default)]
    pub web: Vec<WebRule>,
    #[serde(default)]
    pub tool: Vec<ToolRule>,
}

/// A list of compiled globs.
#[derive(Debug, Clone, Default)]
pub struct Patterns(Vec<Pattern>);

impl Patterns {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `*` stays within one path component; `**` spans components.
    pub fn matches(&self, text: &str) -> bool {
        self.0.iter().any(|p| p.matches_with(text, STRICT))
    }
    /// `*` matches anything, `/` included (for `words` patterns such as `*id_rsa*`).
    pub fn matches_loose(&self, text: &str) -> bool {
        self.0.iter().any(|p| p.matches_with(text, LOOSE))
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

#[derive(Debug, Clone)]
pub struct CompiledShellRule {
    pub id: String,
    pub decision: Decision,
    pub reason: String,
    pub programs: Patterns,
    pub subcommands: Patterns,
    /// One-letter short options (matched inside bundles).
    pub short_flags: Vec<char>,
    pub long_flags: Patterns,
    pub args: Patterns,
    pub words: Patterns,
    pub piped_from: Patterns,
    pub piped_from_args: Patterns,
    pub wrapped_by: Patterns,
    pub dynamic_args: bool,
    pub no_args: bool,
    pub env: Patterns,
    pub reads_input: bool,
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub id: String,
    pub decision: Decision,
    pub reason: String,
    pub patterns: Patterns,
    pub access: Access,
}

/// A policy ready to classify with: the built-in rules plus the user's, compiled.
#[derive(Debug, Clone)]
pub struct Policy {
    pub defaults: Defaults,
    pub shell: Vec<CompiledShellRule>,
    pub path: Vec<CompiledRule>,
    pub web: Vec<CompiledRule>,
    pub tool: Vec<CompiledRule>,
    /// Named sets after merging (used by the classifier: `writers`, `network`, …).
    pub sets: BTreeMap<String, Vec<String>>,
    /// Where the rules came from, for `paios policy show`.
    pub sources: Vec<String>,
}

/// The home directory used to expand `~` in path patterns.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

static BUILTIN_FILE: LazyLock<PolicyFile> = LazyLock::new(|| {
    parse_file(DEFAULT_POLICY, "built-in policy").expect("the built-in policy is valid")
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
            sets: BTreeMap::new(),
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
                policy.path.push(CompiledRule {
                    id: r.id.clone(),
                    decision: r.decision,
                    reason: r.reason.clone(),
                    patterns,
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
                    access: Access::Any,
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
                    access: Access::Any,
                });
            }
        }
        policy.sets = sets;
        Ok(policy)
    }

    /// A named set (empty when absent).
    pub fn set(&self, name: &str) -> &[String] {
        self.sets.get(name).map(Vec::as_slice).unwrap_or(&[])
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
        let mut out = Vec::new();
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
                let p = Pattern::new(&text)
                    .map_err(|e| self.err(rule, format!("bad pattern {text:?}: {e}")))?;
                out.push(p);
            }
        }
        Ok(Patterns(out))
    }

    fn shell(&self, r: &ShellRule) -> Result<CompiledShellRule, PolicyError> {
        let conditions = [
            &r.programs,
            &r.subcommands,
            &r.flags,
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
        {
            return Err(self.err(
                &r.id,
                "a rule with no condition would match every command; give it `programs` (or another condition)",
            ));
        }
        let mut short_flags = Vec::new();
        let mut long = Vec::new();
        for f in &r.flags {
            let mut chars = f.chars();
            match (chars.next(), chars.next(), chars.next()) {
                (Some('-'), Some(c), None) if c != '-' => short_flags.push(c),
                (Some('-'), Some(_), _) => long.push(f.clone()),
                _ => return Err(self.err(&r.id, format!("flag {f:?} must start with '-'"))),
            }
        }
        Ok(CompiledShellRule {
            id: r.id.clone(),
            decision: r.decision,
            reason: r.reason.clone(),
            programs: self.patterns(&r.id, &r.programs, false)?,
            subcommands: self.patterns(&r.id, &r.subcommands, false)?,
            short_flags,
            long_flags: self.patterns(&r.id, &long, false)?,
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
