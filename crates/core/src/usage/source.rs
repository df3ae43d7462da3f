//! Which brain a log belongs to, and where each brain's logs are.

use std::path::PathBuf;

use serde::Serialize;

/// Which brain a log belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Claude = 0,
    Codex = 1,
}

impl Source {
    pub const ALL: [Source; 2] = [Source::Claude, Source::Codex];
    pub fn name(self) -> &'static str {
        match self {
            Source::Claude => "claude",
            Source::Codex => "codex",
        }
    }
    pub(crate) fn from_i64(v: i64) -> Source {
        if v == 1 {
            Source::Codex
        } else {
            Source::Claude
        }
    }
}

/// Where the logs are.
#[derive(Debug, Clone, Default)]
pub struct LogDirs {
    /// Claude Code `projects/` folders.
    pub claude: Vec<PathBuf>,
    /// Codex `sessions/` folders.
    pub codex: Vec<PathBuf>,
}

impl LogDirs {
    /// From paios.toml, else `$CLAUDE_CONFIG_DIR` / `$CODEX_HOME`, else `~/.claude`, `~/.codex`.
    /// `$CLAUDE_CONFIG_DIR` may list several folders separated by commas (as ccusage reads it),
    /// unless the whole value is an existing folder; `$CODEX_HOME` is one folder, as Codex reads
    /// it, commas and all.
    pub fn from_config(config: &super::config::UsageConfig) -> LogDirs {
        let pick = |configured: &Option<String>, env: &str, default: &str, list: bool| {
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
                _ => vec![crate::paths::expand_tilde(default)],
            }
        };
        LogDirs {
            claude: pick(&config.claude_dir, "CLAUDE_CONFIG_DIR", "~/.claude", true)
                .into_iter()
                .map(|d| d.join("projects"))
                .collect(),
            codex: pick(&config.codex_dir, "CODEX_HOME", "~/.codex", false)
                .into_iter()
                .map(|d| d.join("sessions"))
                .collect(),
        }
    }
}
