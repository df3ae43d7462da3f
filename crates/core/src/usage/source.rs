//! Which brain a log belongs to, and where each brain's logs are.
//!
//! Never reads a log: it only names folders (from paios.toml, the brains' own environment
//! variables, or their default homes).

use std::path::PathBuf;

use serde::Serialize;

/// Which brain a log belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Claude Code's session logs.
    Claude = 0,
    /// Codex's session logs.
    Codex = 1,
    /// The OpenClaw gateway's session files.
    #[serde(rename = "openclaw")]
    OpenClaw = 2,
}

impl Source {
    /// Every source, in the order reports list them.
    pub const ALL: [Source; 3] = [Source::Claude, Source::Codex, Source::OpenClaw];
    /// The brain's name, as budgets, reports and the router name it.
    pub fn name(self) -> &'static str {
        match self {
            Source::Claude => "claude",
            Source::Codex => "codex",
            Source::OpenClaw => "openclaw",
        }
    }
    /// The source stored as `v` (an unknown value reads as Claude, the first source).
    pub(crate) fn from_i64(v: i64) -> Source {
        match v {
            1 => Source::Codex,
            2 => Source::OpenClaw,
            _ => Source::Claude,
        }
    }
}

/// The folders ccusage reads OpenClaw's sessions from when none is named: the gateway's home
/// and the ones its earlier names used.
pub const OPENCLAW_DEFAULT_DIRS: &[&str] =
    &["~/.openclaw", "~/.clawdbot", "~/.moltbot", "~/.moldbot"];

/// Where the logs are.
#[derive(Debug, Clone, Default)]
pub struct LogDirs {
    /// Claude Code `projects/` folders.
    pub claude: Vec<PathBuf>,
    /// Codex `sessions/` folders.
    pub codex: Vec<PathBuf>,
    /// OpenClaw state folders (walked whole: the gateway keeps its sessions under
    /// `agents/<agent>/sessions/`, older versions elsewhere).
    pub openclaw: Vec<PathBuf>,
}

impl LogDirs {
    /// From paios.toml, else `$CLAUDE_CONFIG_DIR` / `$CODEX_HOME` / `$OPENCLAW_DIR`, else
    /// `~/.claude`, `~/.codex` and OpenClaw's homes ([`OPENCLAW_DEFAULT_DIRS`], every one, as
    /// ccusage reads them; `$OPENCLAW_STATE_DIR`, the gateway's own setting, before them when
    /// it is set). `$CLAUDE_CONFIG_DIR` and `$OPENCLAW_DIR` may list several folders separated
    /// by commas (as ccusage reads them), unless the whole value is an existing folder;
    /// `$CODEX_HOME` is one folder, as Codex reads it, commas and all.
    pub fn from_config(config: &super::config::UsageConfig) -> LogDirs {
        let pick = |configured: &Option<String>, env: &str, default: &[String], list: bool| {
            if let Some(dir) = configured {
                return vec![crate::paths::expand_tilde(dir)];
            }
            match std::env::var(env) {
                Ok(v) if !v.trim().is_empty() => {
                    let whole = crate::paths::expand_tilde(v.trim());
                    if !list || whole.is_dir() {
                        return vec![whole];
                    }
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(crate::paths::expand_tilde)
                        .collect()
                }
                _ => default
                    .iter()
                    .map(|d| crate::paths::expand_tilde(d))
                    .collect(),
            }
        };
        LogDirs {
            claude: pick(
                &config.claude_dir,
                "CLAUDE_CONFIG_DIR",
                &["~/.claude".into()],
                true,
            )
            .into_iter()
            .map(|d| d.join("projects"))
            .collect(),
            codex: pick(&config.codex_dir, "CODEX_HOME", &["~/.codex".into()], false)
                .into_iter()
                .map(|d| d.join("sessions"))
                .collect(),
            openclaw: pick(
                &config.openclaw_dir,
                "OPENCLAW_DIR",
                &openclaw_defaults(),
                true,
            ),
        }
    }
}

/// OpenClaw's homes when neither paios.toml nor `$OPENCLAW_DIR` names one.
fn openclaw_defaults() -> Vec<String> {
    let state = std::env::var("OPENCLAW_STATE_DIR")
        .ok()
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    state
        .into_iter()
        .chain(OPENCLAW_DEFAULT_DIRS.iter().map(|d| d.to_string()))
        .collect()
}
