//! `paios.toml`: the model, loading, and precise errors.
//!
//! Every key has a default, so a file with only the sections you need is valid. Unknown keys,
//! wrong types and syntax errors are reported with file, line, column and the offending key;
//! loading never panics. Each feature module owns the struct of its own section (see the
//! `config` sub-module of `watchdog`, `router`, `approvals`, `usage`, `brains`) and its part of
//! the commented default file written by `paios init`.
//!
//! This module never writes `paios.toml` except through [`write_default`], which refuses to
//! overwrite an existing file, and [`edit::save`], which refuses a stale or invalid edit.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod edit;

/// The whole `paios.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[api]`: the daemon's listeners.
    pub api: ApiConfig,
    /// `[log]`: the daemon's own logs.
    pub log: LogConfig,
    /// `[[service]]` tables: what the watchdog supervises.
    #[serde(rename = "service")]
    pub services: Vec<crate::watchdog::config::ServiceConfig>,
    /// `[watchdog]`: whether, and how often, a gateway running without a `[[service]]` table is
    /// looked for and adopted.
    pub watchdog: crate::watchdog::config::WatchdogConfig,
    /// `[alerts]`: whether alerts reach the desktop.
    pub alerts: crate::watchdog::config::AlertsConfig,
    /// `[brains]`: no keys yet (an empty table is accepted).
    pub brains: crate::brains::config::BrainsConfig,
    /// `[router]`: which brain each kind of task goes to, and how long a run may take.
    pub router: crate::router::config::RouterConfig,
    /// `[approvals]`: how long an approval waits, when PAIOS trusts by itself, the autonomy
    /// level.
    pub approvals: crate::approvals::config::ApprovalsConfig,
    /// `[usage]`: where the brains' usage logs are and how prices are adjusted.
    pub usage: crate::usage::config::UsageConfig,
    /// `[budgets]`: USD limits per day and month, overall and per brain.
    pub budgets: crate::usage::config::BudgetsConfig,
    /// `[mcp]`: PAIOS's own MCP server over HTTP, the probes of the servers registered in the
    /// brains, and the mesh check.
    pub mcp: crate::mcp::config::McpConfig,
    /// `[[watch]]` tables: configuration files the guardian validates, snapshots and rolls
    /// back.
    pub watch: Vec<crate::guardian::config::WatchConfig>,
    /// `[guardian]`: built-in watches, debounce, when a version counts as good, retention.
    pub guardian: crate::guardian::config::GuardianConfig,
}

/// `[api]`: the daemon's listeners.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Loopback HTTP port; `0` picks a free one (always written to `api.port`).
    pub port: u16,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { port: 7878 }
    }
}

/// `[log]`: the daemon's own logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `paios=debug,info`.
    pub level: String,
    /// How many daily log files to keep.
    pub keep_files: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            keep_files: 7,
        }
    }
}

/// Why a `paios.toml` could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The file exists but could not be read (a missing file is not an error: defaults apply).
    Io {
        /// The file.
        path: PathBuf,
        /// The OS's error text.
        message: String,
    },
    /// The text is not valid UTF-8 or TOML, or does not fit the model, or fails a cross-field
    /// check ([`Config::validate`]).
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error (of the key, for a failed check).
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The offending key (or the source text at the error), when known.
        key: Option<String>,
        /// What is wrong; never contains the value (it may be a secret).
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, message } => {
                write!(f, "cannot read {}: {message}", path.display())
            }
            ConfigError::Invalid {
                path,
                line,
                column,
                key,
                message,
            } => {
                write!(f, "{}:{line}:{column}: ", path.display())?;
                if let Some(key) = key {
                    write!(f, "key `{key}`: ")?;
                }
                write!(f, "{message}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Load `path`; a missing file means "all defaults".
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read(path) {
            Ok(bytes) => Self::parse_bytes(path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(ConfigError::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        }
    }

    /// Parse raw bytes (any bytes: invalid UTF-8 is an error, never a panic).
    pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Self, ConfigError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let (line, column) = line_col(&String::from_utf8_lossy(bytes), e.valid_up_to());
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                key: None,
                message: "the file is not valid UTF-8".into(),
            }
        })?;
        Self::parse_str(path, text)
    }

    /// Parse TOML text and validate it.
    pub fn parse_str(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let span = e.span();
            let (line, column) = span
                .as_ref()
                .map(|s| line_col(text, s.start))
                .unwrap_or((1, 1));
            let key = span
                .and_then(|s| key_at(text, s))
                .filter(|s| !s.is_empty() && s.len() <= 80 && !s.contains('\n'))
                .or_else(|| quoted_key(e.message()));
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                key,
                message: without_values(e.message().trim()),
            }
        })?;
        config.validate().map_err(|(key, message)| {
            let (line, column) = find_key(text, &key);
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                key: Some(key),
                message,
            }
        })?;
        Ok(config)
    }

    /// Cross-field checks that serde cannot express. Returns (key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let mut names = std::collections::HashSet::new();
        // Keys of the n-th `[[service]]` table are `service.n.key` (from 1), so an error points
        // at that table's line.
        for (i, service) in self.services.iter().enumerate() {
            let at = |key: &str| format!("service.{}.{key}", i + 1);
            if !names.insert(service.name.as_str()) {
                return Err((
                    at("name"),
                    format!("two [[service]] tables are named {:?}", service.name),
                ));
            }
            service
                .validate()
                .map_err(|(key, message)| (at(&key), message))?;
        }
        if self.log.keep_files == 0 {
            return Err((
                "log.keep_files".into(),
                "keep_files is how many daily log files to keep: at least 1".into(),
            ));
        }
        self.budgets.validate()?;
        self.router.validate()?;
        self.approvals.validate()?;
        self.usage.validate()?;
        self.mcp.validate()?;
        self.guardian.validate()?;
        crate::guardian::config::validate_watches(&self.watch)?;
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|p| p + 1)
        .unwrap_or(0);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// The key an error's span is about. A span in a value's place (after its `=`) names the key
/// before that `=`, never the value: the value may be a secret (an unquoted token), and errors
/// are logged, recorded as events and shown in the panel.
fn key_at(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let line_start = text.get(..span.start)?.rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..span.start];
    match before.rfind('=') {
        Some(eq) => {
            let left = before[..eq].trim_end();
            let start = left
                .rfind(|c: char| c.is_whitespace() || c == '{' || c == ',')
                .map_or(0, |i| i + 1);
            Some(left[start..].to_string())
        }
        None => text.get(span).map(|s| s.trim().to_string()),
    }
}

/// A parser message without the value it quotes (`invalid type: string "…", expected u16`
/// becomes `invalid type: string, expected u16`): see [`key_at`] for why.
fn without_values(message: &str) -> String {
    let (head, tail) = match message.find(", expected") {
        Some(i) if message.starts_with("invalid type") || message.starts_with("invalid value") => {
            message.split_at(i)
        }
        _ => return message.to_string(),
    };
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in head.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '`' => quote = Some(c),
            None => out.push(c),
        }
    }
    format!("{}{tail}", out.trim_end())
}

/// First "`key`" in an error message (serde names the missing/unknown field that way).
fn quoted_key(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

/// Where a key is first assigned, for errors found after parsing. A dotted key
/// (`budgets.claude.daily_usd`) is looked for under its own table header (`[budgets.claude]`);
/// a bare one anywhere.
fn find_key(text: &str, key: &str) -> (usize, usize) {
    let (table, key) = match key.rsplit_once('.') {
        Some((table, key)) => (Some(table), key),
        None => (None, key),
    };
    let mut current = String::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(header) = trimmed.strip_prefix('[') {
            let array = header.starts_with('[');
            let header = header.trim_start_matches('[');
            current = header
                .split(']')
                .next()
                .unwrap_or("")
                .replace([' ', '"'], "");
            if array {
                // The n-th `[[name]]` table is `name.n` (from 1).
                let n = seen.entry(current.clone()).or_default();
                *n += 1;
                current = format!("{current}.{n}");
            } else if let Some((parent, sub)) = current.split_once('.')
                && let Some(n) = seen.get(parent)
            {
                // `[service.probe]` after the n-th `[[service]]` belongs to it: `service.n.probe`.
                current = format!("{parent}.{n}.{sub}");
            }
            continue;
        }
        if table.is_some_and(|t| t.replace('"', "") != current) {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return (i + 1, line.len() - trimmed.len() + 1);
        }
    }
    (1, 1)
}

/// The commented default `paios.toml`, assembled from each module's own section.
pub fn default_file_text() -> String {
    [
        include_str!("default_head.toml"),
        include_str!("../watchdog/default.toml"),
        include_str!("../brains/default.toml"),
        include_str!("../router/default.toml"),
        include_str!("../approvals/default.toml"),
        include_str!("../usage/default.toml"),
        include_str!("../mcp/default.toml"),
        include_str!("../guardian/default.toml"),
    ]
    .join("\n")
}

/// Write the default file unless one exists. Returns `false` when it already existed.
pub fn write_default(path: &Path) -> std::io::Result<bool> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::paths::create_private_dir(dir)?;
    // Written whole beside it, then put in place only if no file is there: a full disk or a
    // crash never leaves a half-written paios.toml that a later `init` would keep, and an
    // existing file (another `init` meanwhile) is never replaced.
    crate::atomic::create_new_atomic(path, default_file_text().as_bytes(), crate::atomic::PRIVATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_str(Path::new("paios.toml"), text)
    }

    #[test]
    fn out_of_range_values_are_refused_at_their_line_not_clamped() {
        let service = "[[service]]\nname = \"a\"\ncommand = [\"true\"]\n";
        let cases = [
            ("[log]\nkeep_files = 0\n".to_string(), "log.keep_files", 2),
            (
                "[usage]\ndebounce_ms = 10\n".to_string(),
                "usage.debounce_ms",
                2,
            ),
            (
                format!("{service}[service.restart]\ninitial_backoff_ms = 0\n"),
                "service.1.restart.initial_backoff_ms",
                5,
            ),
            (
                format!(
                    "{service}[service.restart]\ninitial_backoff_ms = 500\nmax_backoff_ms = 100\n"
                ),
                "service.1.restart.max_backoff_ms",
                6,
            ),
            (
                format!(
                    "{service}[service.restart]\ncrash_loop = {{ max_exits = 0, window_s = 60 }}\n"
                ),
                "service.1.restart.crash_loop",
                5,
            ),
            (
                format!(
                    "{service}{}[service.probe]\ntimeout_ms = 0\n",
                    service.replace("\"a\"", "\"b\"")
                ),
                "service.2.probe.timeout_ms",
                8,
            ),
        ];
        for (text, key, line) in cases {
            match parse(&text) {
                Err(ConfigError::Invalid {
                    key: Some(k),
                    line: l,
                    ..
                }) => {
                    assert_eq!((k.as_str(), l), (key, line), "{text}");
                }
                other => panic!("{text}: expected {key} refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_default_file_is_valid() {
        parse(&default_file_text()).unwrap();
    }

    #[test]
    fn init_writes_the_whole_file_once_and_never_replaces_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paios.toml");
        assert!(write_default(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), default_file_text());
        std::fs::write(&path, "[api]\nport = 1\n").unwrap();
        assert!(!write_default(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[api]\nport = 1\n");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    /// (line, key) of a configuration error.
    fn error_at(text: &str) -> (usize, String) {
        match parse(text).unwrap_err() {
            ConfigError::Invalid { line, key, .. } => (line, key.unwrap_or_default()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_key_never_the_value() {
        // Errors are logged, recorded and shown: a secret typed in the wrong place stays out.
        for text in [
            "[[service]]\nname = \"gw\"\ncommand = [\"x\"]\nenv = { OPENAI_API_KEY = sk-live-SECRET123 }\n",
            "[api]\nport = \"gw-SECRET-abc123\"\n",
            "[api]\nport = sk-SECRET\n",
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(!err.contains("SECRET"), "{err}");
        }
        let err = parse("[api]\nport = \"gw-SECRET-abc123\"\n").unwrap_err();
        let ConfigError::Invalid { key, message, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(key.as_deref(), Some("port"));
        assert!(message.contains("expected u16"), "{message}");
    }

    #[test]
    fn a_bad_value_in_a_nested_table_is_found_in_that_table() {
        let text =
            "[budgets]\nmonthly_usd = 10.0\ndaily_usd = 5.0\n[budgets.claude]\ndaily_usd = -3\n";
        assert_eq!(error_at(text), (5, "budgets.claude.daily_usd".into()));
        let text = "[usage.prices.\"claude-3.5\"]\noutput = 1\ninput = -3.0\n";
        assert_eq!(
            error_at(text),
            (3, "usage.prices.\"claude-3.5\".input".into())
        );
    }

    #[test]
    fn out_of_range_settings_are_refused_not_clamped() {
        for (text, line, key) in [
            ("[approvals]\nautonomy = 9\n", 2, "approvals.autonomy"),
            (
                "[approvals]\ntimeout_s = 18446744073709551615\n",
                2,
                "approvals.timeout_s",
            ),
            ("[approvals]\ntrust_after = 0\n", 2, "approvals.trust_after"),
            (
                "\n[router]\ntimeout_s = 9999999999\n",
                3,
                "router.timeout_s",
            ),
            (
                "[usage.prices.x]\ninput = nan\n",
                2,
                "usage.prices.\"x\".input",
            ),
            (
                "[usage.prices.x]\ninput = inf\n",
                2,
                "usage.prices.\"x\".input",
            ),
            (
                "[[service]]\nname = \"a\\u0000b\"\ncommand = [\"x\"]\n",
                2,
                "service.1.name",
            ),
            (
                "[[service]]\nname = \"a\"\ncommand = [\"x\"]\n\n[[service]]\nname = \"b\"\ncommand = []\n",
                7,
                "service.2.command",
            ),
            (
                "[[service]]\nname = \"a\"\ncommand = [\"x\"]\n[[service]]\nname = \"a\"\ncommand = [\"y\"]\n",
                5,
                "service.2.name",
            ),
        ] {
            let (l, k) = error_at(text);
            assert_eq!(k, key, "{text}");
            assert_eq!(l, line, "{text}");
        }
    }

    #[test]
    fn unknown_key_names_line_column_and_key() {
        let err = parse("[api]\nport = 1\nbogus = 3\n").unwrap_err();
        let ConfigError::Invalid {
            line, column, key, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((*line, *column), (3, 1));
        assert_eq!(key.as_deref(), Some("bogus"));
        assert!(
            err.to_string().starts_with("paios.toml:3:1: key `bogus`"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_is_reported() {
        let err = parse("[api]\nport = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("paios.toml:2:"), "{err}");
    }

    #[test]
    fn syntax_error_is_reported() {
        let err = parse("[api\n").unwrap_err();
        assert!(err.to_string().starts_with("paios.toml:1:"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = Config::parse_bytes(Path::new("p.toml"), &bytes);
        }

        #[test]
        fn arbitrary_toml_like_text_never_panics(text in "(\\[[a-z]{0,8}\\]\n|[a-z_]{1,8} = (\"[a-z]*\"|[0-9]{1,6}|true|\\[\\])\n|\\[\\[service\\]\\]\n){0,12}") {
            let _ = Config::parse_str(Path::new("p.toml"), &text);
        }
    }
}
