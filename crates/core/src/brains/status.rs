//! `paios brains status`: which copy of each brain PAIOS would run, its version, and whether it
//! starts. The JSON shape is a fixed contract (DESIGN.md §3); fields may only be added.
//!
//! Checking runs each brain's `--version` (in parallel: the gateway's CLI takes seconds); it
//! never starts a session or talks to a model.

use std::time::Duration;

use serde::Serialize;

use super::install::run_with_timeout;
use super::{Brain, pins};
use crate::paths::Paths;

const VERSION_TIMEOUT: Duration = Duration::from_secs(60);

/// One brain's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrainStatus {
    /// The brain's name (`claude`, `codex`, `openclaw`).
    pub name: String,
    /// Whether a managed copy or one on PATH was found.
    pub installed: bool,
    /// Whether the copy found is PAIOS's managed one.
    pub managed: bool,
    /// The executable that would run; `None` when not installed.
    pub path: Option<String>,
    /// The version it reported with `--version` (else the managed copy's recorded one);
    /// `None` when unknown.
    pub version: Option<String>,
    /// The known-good version pinned in this build.
    pub pinned: Option<String>,
    /// Installed, starts, and (managed copy) reports the version that was installed.
    pub ok: bool,
    /// Why it is not `ok`, with what to do; `None` when it is.
    pub error: Option<String>,
}

/// The Node the gateway runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// The `node` executable used; `None` when there is none (managed or on PATH).
    pub path: Option<String>,
    /// Its version (`24.16.0`); `None` when there is no Node or it did not say.
    pub version: Option<String>,
    /// Whether it is PAIOS's managed Node (added field).
    pub managed: bool,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// One line per brain checked, in the order asked (all three: [`Brain::ALL`] order).
    pub brains: Vec<BrainStatus>,
    /// The Node the gateway would run on.
    pub node: NodeStatus,
}

impl StatusReport {
    /// Whether every listed brain is installed and starts.
    pub fn all_ok(&self) -> bool {
        self.brains.iter().all(|b| b.ok)
    }
}

/// Check `brains` (all three when empty).
pub fn status(paths: &Paths, brains: &[Brain]) -> StatusReport {
    let brains: Vec<Brain> = if brains.is_empty() {
        Brain::ALL.to_vec()
    } else {
        brains.to_vec()
    };
    let lines = std::thread::scope(|scope| {
        let handles: Vec<_> = brains
            .iter()
            .map(|&brain| scope.spawn(move || check(paths, brain)))
            .collect();
        handles
            .into_iter()
            .zip(&brains)
            .map(|(h, &brain)| {
                h.join().unwrap_or_else(|_| BrainStatus {
                    error: Some("internal error while checking".into()),
                    ..empty(brain)
                })
            })
            .collect()
    });
    let node = super::node(paths);
    StatusReport {
        brains: lines,
        node: NodeStatus {
            path: node.as_ref().map(|n| n.path.display().to_string()),
            version: node.as_ref().and_then(|n| n.version.clone()),
            managed: node.is_some_and(|n| n.managed),
        },
    }
}

fn empty(brain: Brain) -> BrainStatus {
    BrainStatus {
        name: brain.name().to_string(),
        installed: false,
        managed: false,
        path: None,
        version: None,
        pinned: Some(pins::pins().brain(brain).version.clone()),
        ok: false,
        error: None,
    }
}

fn check(paths: &Paths, brain: Brain) -> BrainStatus {
    let mut line = empty(brain);
    let Some(resolved) = super::resolve(paths, brain) else {
        line.error = Some(format!("not installed: run `paios brains install {brain}`"));
        return line;
    };
    line.installed = true;
    line.managed = resolved.managed;
    line.path = Some(resolved.path.display().to_string());
    line.version = resolved.version.clone();
    let mut cmd = match super::command_for(paths, brain, &resolved.path) {
        Ok(cmd) => cmd,
        Err(e) => {
            line.error = Some(e.to_string());
            return line;
        }
    };
    cmd.arg("--version");
    match run_with_timeout(cmd, VERSION_TIMEOUT) {
        Ok(out) if out.success => match super::parse_version(&out.stdout) {
            Some(reported) => {
                match &resolved.version {
                    Some(expected) if *expected != reported => {
                        line.error = Some(format!(
                            "the managed copy reports {reported}, but {expected} was installed: run `paios brains install {brain}` again"
                        ));
                    }
                    _ => line.ok = true,
                }
                line.version = Some(reported);
            }
            None => {
                line.error = Some(format!(
                    "`{brain} --version` printed no version: {:?}",
                    out.stdout.trim()
                ))
            }
        },
        Ok(out) => {
            line.error = Some(format!(
                "`{brain} --version` failed: {}",
                last_line(&out.stderr)
            ))
        }
        Err(e) => line.error = Some(e),
    }
    line
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no output)")
        .trim()
        .to_string()
}
