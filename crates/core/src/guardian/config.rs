//! `[[watch]]` tables and the `[guardian]` section of paios.toml, and the built-in list of the
//! brains' own files watched when they exist.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How a watched file is parsed for its syntax check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Strict JSON.
    Json,
    /// JSON5 (comments, trailing commas, unquoted keys: OpenClaw's config).
    Json5,
    /// TOML.
    Toml,
}

/// What the guardian does when a watched file turns invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RollbackMode {
    /// Restore the last good version at once (the bad one is kept as a snapshot).
    #[default]
    Auto,
    /// Report it and leave the restore to `paios guard rollback NAME` (no approval is queued
    /// yet: `ask` behaves as `off` plus the alert's one-command fix).
    Ask,
    /// Only report it.
    Off,
}

/// One `[[watch]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// A short unique name (`paios guard diff NAME`).
    pub name: String,
    /// The file; a leading `~/` is the user's home.
    pub path: String,
    /// How it is parsed.
    pub format: Format,
    /// An external validator run after the syntax check (argv; exit 0 = valid).
    #[serde(default)]
    pub validate: Option<Vec<String>>,
    /// The `[[service]]` that reads the file: restarted after a rollback, and the file is good
    /// only once that service ran healthy with it.
    #[serde(default)]
    pub service: Option<String>,
    /// What to do when the file turns invalid.
    #[serde(default)]
    pub rollback: RollbackMode,
}

/// `[guardian]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardianConfig {
    /// Watch the brains' own files (openclaw.json, Claude Code's settings.json and .claude.json,
    /// Codex's config.toml, paios.toml) when they exist and no `[[watch]]` table names them.
    pub defaults: bool,
    /// Changes closer together than this are taken as one, in milliseconds.
    pub debounce_ms: u64,
    /// A version whose service ran healthy this long with it is the last good one, in seconds.
    pub healthy_s: u64,
    /// How long an external validator may run before it counts as failed, in seconds.
    pub validate_timeout_s: u64,
    /// Snapshots kept per file (the last good one is always kept).
    pub keep_snapshots: usize,
}

impl Default for GuardianConfig {
    fn default() -> Self {
        Self {
            defaults: true,
            debounce_ms: 300,
            healthy_s: 30,
            validate_timeout_s: 30,
            keep_snapshots: 50,
        }
    }
}

impl GuardianConfig {
    /// Checks serde cannot express. Returns (key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let range = |key: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err((format!("guardian.{key}"), format!("use {lo}–{hi}, not {v}")))
            }
        };
        range("debounce_ms", self.debounce_ms, 10, 60_000)?;
        range("healthy_s", self.healthy_s, 0, 86_400)?;
        range("validate_timeout_s", self.validate_timeout_s, 1, 600)?;
        range("keep_snapshots", self.keep_snapshots as u64, 2, 10_000)?;
        Ok(())
    }
}

/// Cross-checks of the `[[watch]]` tables; keys are `watch.N.key` (from 1).
pub fn validate_watches(watches: &[WatchConfig]) -> Result<(), (String, String)> {
    let mut names = std::collections::HashSet::new();
    for (i, w) in watches.iter().enumerate() {
        let at = |key: &str| format!("watch.{}.{key}", i + 1);
        if !valid_name(&w.name) {
            return Err((
                at("name"),
                "a watch name is 1–64 letters, digits, `-`, `_` or `.`".into(),
            ));
        }
        if !names.insert(w.name.as_str()) {
            return Err((
                at("name"),
                format!("two [[watch]] tables are named {:?}", w.name),
            ));
        }
        if w.path.trim().is_empty() {
            return Err((at("path"), "path is empty".into()));
        }
        if w.validate.as_ref().is_some_and(|v| v.is_empty()) {
            return Err((
                at("validate"),
                "validate is a command and its arguments: not empty".into(),
            ));
        }
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A `[[watch]]` path with `~/` expanded.
pub fn expand(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(path)
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> Option<PathBuf> {
    env_dir("HOME")
}

/// The OpenClaw config file: `OPENCLAW_CONFIG_PATH`, else `$OPENCLAW_STATE_DIR/openclaw.json`,
/// else `~/.openclaw/openclaw.json`.
pub fn openclaw_config_path() -> Option<PathBuf> {
    env_dir("OPENCLAW_CONFIG_PATH")
        .or_else(|| env_dir("OPENCLAW_STATE_DIR").map(|d| d.join("openclaw.json")))
        .or_else(|| home().map(|h| h.join(".openclaw").join("openclaw.json")))
}

/// The built-in watches for the brains' files, whether or not they exist (the caller keeps
/// those that do). `gateway` is the name of the supervised OpenClaw gateway service, if any.
pub fn builtin(paios_toml: &Path, gateway: Option<&str>) -> Vec<WatchConfig> {
    let mut out = Vec::new();
    let file = |name: &str, path: PathBuf, format: Format| WatchConfig {
        name: name.into(),
        path: path.to_string_lossy().into_owned(),
        format,
        validate: None,
        service: None,
        rollback: RollbackMode::Auto,
    };
    if let Some(p) = openclaw_config_path() {
        let mut w = file("openclaw", p, Format::Json5);
        w.validate = Some(
            ["openclaw", "config", "validate", "--json"]
                .map(String::from)
                .to_vec(),
        );
        w.service = gateway.map(String::from);
        out.push(w);
    }
    let claude_dir = env_dir("CLAUDE_CONFIG_DIR").or_else(|| home().map(|h| h.join(".claude")));
    if let Some(d) = &claude_dir {
        out.push(file(
            "claude-settings",
            d.join("settings.json"),
            Format::Json,
        ));
    }
    // `.claude.json` sits inside CLAUDE_CONFIG_DIR when that is set, else in the home.
    let claude_json = match env_dir("CLAUDE_CONFIG_DIR") {
        Some(d) => Some(d.join(".claude.json")),
        None => home().map(|h| h.join(".claude.json")),
    };
    if let Some(p) = claude_json {
        out.push(file("claude-json", p, Format::Json));
    }
    let codex = env_dir("CODEX_HOME").or_else(|| home().map(|h| h.join(".codex")));
    if let Some(d) = codex {
        out.push(file("codex", d.join("config.toml"), Format::Toml));
    }
    // paios.toml is snapshotted, not rolled back: the daemon already keeps its last good
    // configuration in force and reports an invalid edit (`config.invalid` from the core).
    let mut paios = file("paios", paios_toml.to_path_buf(), Format::Toml);
    paios.rollback = RollbackMode::Off;
    out.push(paios);
    out
}

/// Every file to watch: the `[[watch]]` tables, then the built-in ones that exist and whose
/// name and path no table already uses (when `[guardian] defaults` is on).
pub fn resolve(config: &crate::config::Config, paths: &crate::paths::Paths) -> Vec<WatchConfig> {
    let mut out = config.watch.clone();
    if !config.guardian.defaults {
        return out;
    }
    let gateway = config
        .services
        .iter()
        .find(|s| crate::watchdog::discover::is_gateway(s))
        .map(|s| s.name.clone());
    for w in builtin(&paths.config_file(), gateway.as_deref()) {
        let taken = out
            .iter()
            .any(|o| o.name == w.name || expand(&o.path) == expand(&w.path));
        if !taken && expand(&w.path).is_file() {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_table_is_refused_with_its_line_when_wrong() {
        let text = "[[watch]]\nname = \"a\"\npath = \"/x\"\nformat = \"yaml\"\n";
        let err = crate::config::Config::parse_str(Path::new("paios.toml"), text).unwrap_err();
        assert!(err.to_string().starts_with("paios.toml:4:"), "{err}");

        let text = "[[watch]]\nname = \"a\"\npath = \"/x\"\nformat = \"json\"\n\n[[watch]]\nname = \"a\"\npath = \"/y\"\nformat = \"toml\"\n";
        let err = crate::config::Config::parse_str(Path::new("paios.toml"), text).unwrap_err();
        assert!(err.to_string().starts_with("paios.toml:7:"), "{err}");

        let text =
            "[[watch]]\nname = \"a\"\npath = \"/x\"\nformat = \"json\"\nrollbak = \"auto\"\n";
        let err = crate::config::Config::parse_str(Path::new("paios.toml"), text).unwrap_err();
        assert!(err.to_string().contains("rollbak"), "{err}");

        let text = "[guardian]\nkeep_snapshots = 1\n";
        let err = crate::config::Config::parse_str(Path::new("paios.toml"), text).unwrap_err();
        assert!(err.to_string().starts_with("paios.toml:2:"), "{err}");

        let text = "[[watch]]\nname = \"oc\"\npath = \"~/.openclaw/openclaw.json\"\nformat = \"json5\"\nvalidate = [\"openclaw\", \"config\", \"validate\", \"--json\"]\nservice = \"gw\"\nrollback = \"ask\"\n";
        let config = crate::config::Config::parse_str(Path::new("paios.toml"), text).unwrap();
        assert_eq!(config.watch[0].rollback, RollbackMode::Ask);
        assert_eq!(config.watch[0].format, Format::Json5);
    }
}
