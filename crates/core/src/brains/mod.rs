//! The three brains — Claude Code (`claude`), Codex (`codex`) and the OpenClaw gateway
//! (`openclaw`): which copy PAIOS runs, and how to start it.
//!
//! PAIOS prefers its *managed* copy (installed by `paios brains install` under
//! [`Paths::tools_dir`], at the known-good versions pinned in `data/brains.toml`) and falls back
//! to the program on `PATH`. The gateway needs a newer Node than many systems have, so a managed
//! Node is used for it (and only for it) when the system's is too old.
//!
//! This module owns: the pins ([`pins`]), the on-disk layout and npm installs ([`install`]),
//! the status report ([`status`]). It never talks to a model and never changes the user's own
//! brain configuration; the adapters that run tasks on a brain live beside it.

pub mod adapter;
pub mod claude;
pub mod codex;
pub mod config;
pub mod install;
pub mod openclaw;
pub mod pins;
pub mod status;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use crate::paths::Paths;

pub use install::Layout;
pub use status::{BrainStatus, NodeStatus, StatusReport};

/// One of the three brains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Brain {
    /// Anthropic's Claude Code CLI (`claude`).
    Claude,
    /// OpenAI's Codex CLI (`codex`).
    Codex,
    /// The OpenClaw gateway (`openclaw`), which needs a recent Node.
    Openclaw,
}

impl Brain {
    /// All brains, in the order PAIOS lists them.
    pub const ALL: [Brain; 3] = [Brain::Claude, Brain::Codex, Brain::Openclaw];

    /// The name used in commands, events and JSON (`claude`, `codex`, `openclaw`).
    pub fn name(self) -> &'static str {
        match self {
            Brain::Claude => "claude",
            Brain::Codex => "codex",
            Brain::Openclaw => "openclaw",
        }
    }

    /// Whether this brain must run on a Node at least as new as the pinned minimum.
    pub fn needs_new_node(self) -> bool {
        pins::pins().brain(self).node.is_some()
    }
}

impl std::fmt::Display for Brain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Brain {
    type Err = BrainsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "claude" | "claude-code" => Ok(Brain::Claude),
            "codex" => Ok(Brain::Codex),
            "openclaw" | "openclaw-gateway" => Ok(Brain::Openclaw),
            _ => Err(BrainsError::UnknownBrain(s.to_string())),
        }
    }
}

/// Errors of the brains module. Every message says what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum BrainsError {
    /// A name that is none of the brains (the text given).
    #[error("unknown brain `{0}`: expected one of claude, codex, openclaw")]
    UnknownBrain(String),
    /// Neither a managed copy nor one on `PATH` exists.
    #[error(
        "{brain} is not installed (no managed copy in {tools} and none on PATH): run `paios brains install {brain}`"
    )]
    NotInstalled {
        /// The brain asked for.
        brain: Brain,
        /// Where managed copies would be ([`Paths::tools_dir`]).
        tools: PathBuf,
    },
    /// The brain needs a newer Node than the one found (or none was found).
    #[error(
        "{brain} needs Node {needed}, but {found}: run `paios brains install {brain}` to install a Node for it"
    )]
    NodeTooOld {
        /// The brain to run.
        brain: Brain,
        /// The pinned npm-style range it needs (e.g. `>=24.16.0`).
        needed: String,
        /// What was found: "`<node executable>` is `<version>`", or that no `node` was found.
        found: String,
    },
    /// `npm` is not on `PATH` or could not be started (the OS's error text).
    #[error("npm is not available ({0}): install Node.js with npm, then retry")]
    NpmMissing(String),
    /// An install failed: npm failed, the version is malformed, or the package lacks its
    /// executable.
    #[error("npm could not install {spec}: {detail}")]
    Npm {
        /// `package@version`.
        spec: String,
        /// The gist of npm's error, or what was wrong.
        detail: String,
    },
    /// `npm view PACKAGE version` failed or answered something that is not a version.
    #[error("npm view {package}: {detail}")]
    NpmView {
        /// The npm package asked about.
        package: String,
        /// The gist of npm's error.
        detail: String,
    },
    /// An installed version did not start, reported another version, or (the gateway) refused
    /// the user's current config.
    #[error("{brain} {version} failed its smoke check: {detail}")]
    SmokeFailed {
        /// The brain checked.
        brain: Brain,
        /// The version checked.
        version: String,
        /// What went wrong, with the end of its output.
        detail: String,
    },
    /// A rollback was asked for, but no earlier version was ever current.
    #[error("{brain}: no previous version to roll back to (in {dir})")]
    NoPrevious {
        /// The brain.
        brain: Brain,
        /// Its folder of managed versions.
        dir: PathBuf,
    },
    /// The previous version is recorded but its files are gone.
    #[error("{brain} {version} is not installed in {dir}")]
    VersionMissing {
        /// The brain.
        brain: Brain,
        /// The version looked for.
        version: String,
        /// Its folder of managed versions.
        dir: PathBuf,
    },
    /// No Node download is pinned for this OS and CPU (the platform's name).
    #[error("no Node build is pinned for this platform ({0}); install Node >= 24.16 yourself")]
    NoNodeForPlatform(String),
    /// Another `paios brains` command held this tool's lock, and waiting for it failed (the
    /// tool's folder).
    #[error("another `paios brains` command is changing {0}; wait for it to finish")]
    Busy(PathBuf),
    /// A file or folder of the managed installs could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS's error.
        #[source]
        source: std::io::Error,
    },
}

impl BrainsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BrainsError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Where a brain's executable is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The executable (for a managed copy: its npm `.bin` entry).
    pub path: PathBuf,
    /// The version: known without running it for a managed copy, `None` for one on PATH.
    pub version: Option<String>,
    /// Whether this is PAIOS's managed copy (else: found on PATH).
    pub managed: bool,
}

/// The copy of `brain` PAIOS runs: the managed one when there is one, else the one on PATH.
pub fn resolve(paths: &Paths, brain: Brain) -> Option<Resolved> {
    let layout = Layout::new(paths);
    if let Some(version) = layout.current(brain) {
        let path = layout.bin(brain, &version);
        if path.exists() {
            return Some(Resolved {
                path,
                version: Some(version),
                managed: true,
            });
        }
    }
    find_on_path(pins::pins().brain(brain).bin.as_str()).map(|path| Resolved {
        path,
        version: None,
        managed: false,
    })
}

/// The Node that runs Node-only brains (the gateway): the managed one first, else the system's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRuntime {
    /// The `node` executable.
    pub path: PathBuf,
    /// Its version without the `v` (`24.16.0`); `None` when a system Node did not say.
    pub version: Option<String>,
    /// Whether it is PAIOS's managed Node (else: found on PATH).
    pub managed: bool,
}

/// The managed Node if installed, else `node` on PATH (with its reported version).
pub fn node(paths: &Paths) -> Option<NodeRuntime> {
    let layout = Layout::new(paths);
    if let Some(version) = layout.current_node() {
        let path = layout.node_bin(&version);
        if path.exists() {
            return Some(NodeRuntime {
                path,
                version: Some(version),
                managed: true,
            });
        }
    }
    let path = find_on_path("node")?;
    let version = Command::new(&path)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| parse_version(&String::from_utf8_lossy(&o.stdout)));
    Some(NodeRuntime {
        path,
        version,
        managed: false,
    })
}

/// A ready-to-run `Command` for `brain`'s executable (add arguments and environment).
///
/// For the gateway the command runs the program's script with a Node new enough for it (the
/// managed one when installed) and puts that Node first on `PATH`, so the processes it starts
/// use it too.
pub fn command(paths: &Paths, brain: Brain) -> Result<Command, BrainsError> {
    let resolved = resolve(paths, brain).ok_or_else(|| BrainsError::NotInstalled {
        brain,
        tools: paths.tools_dir(),
    })?;
    command_for(paths, brain, &resolved.path)
}

/// Like [`command`], for a given executable of `brain` (e.g. a version not yet current).
pub fn command_for(paths: &Paths, brain: Brain, exe: &Path) -> Result<Command, BrainsError> {
    let Some(needed) = pins::pins().brain(brain).node.clone() else {
        return Ok(Command::new(exe));
    };
    let runtime = node(paths);
    let fits = runtime
        .as_ref()
        .and_then(|n| n.version.as_deref())
        .is_some_and(|v| version_satisfies(v, &needed));
    let Some(runtime) = runtime.filter(|_| fits) else {
        return Err(BrainsError::NodeTooOld {
            brain,
            needed,
            found: match node(paths) {
                Some(n) => format!(
                    "{} is {}",
                    n.path.display(),
                    n.version.as_deref().unwrap_or("of unknown version")
                ),
                None => "no `node` was found".into(),
            },
        });
    };
    // Run the script itself with the chosen Node: its `#!/usr/bin/env node` line would pick
    // whatever `node` comes first on the user's PATH.
    let script = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
    let mut cmd = Command::new(&runtime.path);
    cmd.arg(script);
    if let Some(bin_dir) = runtime.path.parent() {
        cmd.env("PATH", prepend_path(bin_dir));
    }
    Ok(cmd)
}

/// `dir` followed by the current `PATH`.
pub(crate) fn prepend_path(dir: &Path) -> OsString {
    let mut parts = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(parts).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

/// The first executable file called `name` on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The first version-looking token (`2.1.3`, `v24.1.0`, `2026.9.6`) in a program's output.
pub fn parse_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .map(|word| word.trim_start_matches('v'))
        .find(|word| {
            let mut parts = word.split('.');
            let numeric = |p: Option<&str>| {
                p.is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            };
            numeric(parts.next()) && numeric(parts.next())
        })
        .map(str::to_string)
}

/// Compare dotted numeric versions (`24.21.0` ≥ `24.16.0`); pre-release suffixes are ignored.
pub fn version_at_least(version: &str, minimum: &str) -> bool {
    fn numbers(v: &str) -> Vec<u64> {
        v.trim_start_matches('v')
            .split(['.', '-', '+'])
            .map_while(|p| p.parse().ok())
            .collect()
    }
    let (mut a, mut b) = (numbers(version), numbers(minimum));
    let len = a.len().max(b.len());
    a.resize(len, 0);
    b.resize(len, 0);
    a >= b
}

/// Whether `version` matches an npm-style range such as `>=24.16.0 <25 || >=26.1.0`
/// (alternatives separated by `||`, each a list of `>=`, `>`, `<=`, `<`, `=` comparators; a bare
/// version means `>=`). An unparsable range matches nothing.
pub fn version_satisfies(version: &str, range: &str) -> bool {
    range.split("||").any(|alternative| {
        let comparators: Vec<&str> = alternative.split_whitespace().collect();
        !comparators.is_empty()
            && comparators.iter().all(|c| {
                let (op, bound) = match c.find(|ch: char| ch.is_ascii_digit() || ch == 'v') {
                    Some(i) => c.split_at(i),
                    None => return false,
                };
                let at_least = version_at_least(version, bound);
                let at_most = version_at_least(bound, version);
                match op {
                    "" | ">=" => at_least,
                    ">" => at_least && !at_most,
                    "<=" => at_most,
                    "<" => at_most && !at_least,
                    "=" => at_least && at_most,
                    _ => false,
                }
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip() {
        for brain in Brain::ALL {
            assert_eq!(brain.name().parse::<Brain>().unwrap(), brain);
        }
        assert!("gpt".parse::<Brain>().is_err());
    }

    #[test]
    fn versions_are_found_in_cli_output() {
        assert_eq!(
            parse_version("2.1.332 (Claude Code)").as_deref(),
            Some("2.1.332")
        );
        assert_eq!(
            parse_version("codex-cli 0.169.0").as_deref(),
            Some("0.169.0")
        );
        assert_eq!(parse_version("v24.21.0\n").as_deref(), Some("24.21.0"));
        assert_eq!(
            parse_version("OpenClaw 2026.9.6 (abc123)").as_deref(),
            Some("2026.9.6")
        );
        assert_eq!(parse_version("no version here"), None);
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("24.21.0", "24.16.0"));
        assert!(version_at_least("v26.1.0", "24.16"));
        assert!(!version_at_least("20.20.2", "24.16.0"));
        assert!(!version_at_least("24.9.0", "24.16.0"));
    }

    #[test]
    fn node_ranges_follow_the_gateway_engines_field() {
        let range = ">=24.16.0 <25 || >=26.1.0";
        assert!(version_satisfies("24.21.0", range));
        assert!(version_satisfies("26.10.0", range));
        assert!(!version_satisfies("25.2.0", range), "Node 25 is excluded");
        assert!(!version_satisfies("26.0.0", range));
        assert!(!version_satisfies("20.20.2", range));
        assert!(version_satisfies("24.16.0", "24.16.0"));
        assert!(!version_satisfies("24.16.0", "~>junk"));
    }

    proptest! {
        #[test]
        fn ranges_survive_garbage(v in ".*", r in ".*") {
            let _ = version_satisfies(&v, &r);
        }

        #[test]
        fn version_parsing_survives_garbage(s in ".*") {
            let _ = parse_version(&s);
            let _ = version_at_least(&s, "24.16.0");
        }
    }
}
