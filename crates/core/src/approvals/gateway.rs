//! The OpenClaw gateway's side of the gate: `paios hooks install` puts PAIOS's gateway plugin
//! (`paios-gate`) in front of the gateway's `exec` tool, so the commands the gateway runs for its
//! agents are decided by the same policy, queue and popups as Claude Code's and Codex's.
//!
//! Why a plugin: the gateway's own exec approvals are an allowlist of executables (no deny list),
//! so PAIOS's `never` rules cannot be written into them. Its plugins, though, can register a
//! `before_tool_call` hook that blocks a call; a failing or late hook blocks too (fail closed).
//! The plugin (`openclaw_plugin/`, embedded here) runs `paios hook pre-tool-use --brain openclaw`
//! for every `exec` call and blocks what PAIOS denies.
//!
//! Owns: writing the plugin's files into `$PAIOS_HOME/openclaw-plugin/paios-gate/`, and the three
//! places of the gateway's config PAIOS touches — its folder in `plugins.load.paths`, its entry
//! `plugins.entries.paios-gate` (the paios program, the PAIOS home, the time a decision may take,
//! and the gateway's budget for the hook `hooks.timeouts.before_tool_call`), and its id in
//! `plugins.allow` when the user keeps an allowlist. Every change goes through the gateway's own
//! CLI (`openclaw config get|patch`), which validates and guards its own writes; the first
//! change keeps a copy of the config file next to it (`*.paios-backup`).
//! Never does: write the gateway's SQLite state or its exec approvals, remove or reorder the
//! user's own plugins, paths or allowlist entries, or enable a plugin the user has denied.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::brains::{self, Brain};
use crate::paths::Paths;

/// The plugin's id (its manifest's and its config entry's).
pub const PLUGIN_ID: &str = "paios-gate";
/// The plugin's code, as written out.
pub const PLUGIN_INDEX: &str = include_str!("openclaw_plugin/index.js");
/// The plugin's manifest, as written out.
pub const PLUGIN_MANIFEST: &str = include_str!("openclaw_plugin/openclaw.plugin.json");

/// The largest hook budget the gateway accepts (`hooks.timeouts.*`, in ms).
const MAX_BUDGET_MS: u64 = 600_000;
/// How long one `openclaw` CLI call may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(90);

/// Errors of installing or removing the gateway gate.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A file could not be written: the plugin's files, the config's backup, or the patch
    /// handed to the gateway's CLI.
    #[error("cannot write the PAIOS gateway plugin in {path}: {source}")]
    Write {
        /// The file or folder that could not be written.
        path: PathBuf,
        /// The write error.
        source: std::io::Error,
    },
    /// An `openclaw` CLI call could not be started, timed out, failed, or printed what PAIOS
    /// could not read.
    #[error("`openclaw {args}` failed: {detail}")]
    Cli {
        /// The call's arguments after `openclaw`.
        args: String,
        /// Why it failed: the first line of its error output, or what went wrong running it.
        detail: String,
    },
    /// A `plugins` list PAIOS would add to (`load.paths` or `allow`) is there but not a list.
    #[error(
        "the gateway's `plugins.{key}` is not a list; PAIOS will not replace it (fix it, then run this again)"
    )]
    Shape {
        /// The key under `plugins`: `load.paths` or `allow`.
        key: &'static str,
    },
}

/// Where the plugin's files live.
pub fn plugin_dir(paths: &Paths) -> PathBuf {
    paths.openclaw_plugins_dir().join(PLUGIN_ID)
}

/// The hook budget the gateway gives the plugin, and the time the plugin gives PAIOS, in ms:
/// the approval timeout plus a margin (the hook's own connection to the daemon allows 30 s
/// more), within the gateway's maximum.
pub fn budgets(approval_timeout_s: u64) -> (u64, u64) {
    let budget = approval_timeout_s
        .saturating_mul(1000)
        .saturating_add(45_000)
        .min(MAX_BUDGET_MS);
    (budget, budget.saturating_sub(10_000).max(1000))
}

/// The `plugins.entries.paios-gate` PAIOS wants.
pub fn wanted_entry(paios: &Path, home: &Path, approval_timeout_s: u64) -> Value {
    let (budget, decision) = budgets(approval_timeout_s);
    json!({
        "enabled": true,
        "config": {
            "paios": paios.display().to_string(),
            "home": home.display().to_string(),
            "timeoutMs": decision,
        },
        "hooks": { "timeouts": { "before_tool_call": budget } },
    })
}

/// Whether every value in `want` is in `have` (objects compared key by key, the rest equal).
fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| contains(hv, v))),
        _ => have == want,
    }
}

fn string_list<'a>(
    plugins: Option<&'a Value>,
    pointer: &str,
    key: &'static str,
) -> Result<Option<&'a Vec<Value>>, GatewayError> {
    match plugins.and_then(|p| p.pointer(pointer)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(GatewayError::Shape { key }),
    }
}

/// The `openclaw config patch` that installs the gate over the current `plugins` section, or
/// `None` when it is already installed as wanted.
pub fn install_patch(
    plugins: Option<&Value>,
    dir: &Path,
    entry: &Value,
) -> Result<Option<Value>, GatewayError> {
    let dir_text = dir.display().to_string();
    let mut patch = serde_json::Map::new();
    let paths = string_list(plugins, "/load/paths", "load.paths")?;
    if !paths.is_some_and(|p| p.iter().any(|v| v.as_str() == Some(&dir_text))) {
        let mut list = paths.cloned().unwrap_or_default();
        list.push(json!(dir_text));
        patch.insert("load".into(), json!({ "paths": list }));
    }
    // An allowlist the user keeps must name the plugin, or the gateway will not load it.
    if let Some(allow) = string_list(plugins, "/allow", "allow")?
        && !allow.is_empty()
        && !allow.iter().any(|v| v.as_str() == Some(PLUGIN_ID))
    {
        let mut list = allow.clone();
        list.push(json!(PLUGIN_ID));
        patch.insert("allow".into(), Value::Array(list));
    }
    let have = plugins.and_then(|p| p.pointer(&format!("/entries/{PLUGIN_ID}")));
    if !have.is_some_and(|h| contains(h, entry)) {
        patch.insert("entries".into(), json!({ PLUGIN_ID: entry }));
    }
    Ok((!patch.is_empty()).then(|| json!({ "plugins": patch })))
}

/// The `openclaw config patch` that removes exactly what [`install_patch`] added, or `None`
/// when none of it is there.
pub fn uninstall_patch(plugins: Option<&Value>, dir: &Path) -> Option<Value> {
    let dir_text = dir.display().to_string();
    let mut patch = serde_json::Map::new();
    if let Some(Value::Array(paths)) = plugins.and_then(|p| p.pointer("/load/paths"))
        && paths.iter().any(|v| v.as_str() == Some(&dir_text))
    {
        let rest: Vec<Value> = paths
            .iter()
            .filter(|v| v.as_str() != Some(&dir_text))
            .cloned()
            .collect();
        let value = if rest.is_empty() {
            Value::Null
        } else {
            Value::Array(rest)
        };
        patch.insert("load".into(), json!({ "paths": value }));
    }
    if let Some(Value::Array(allow)) = plugins.and_then(|p| p.get("allow"))
        && allow.iter().any(|v| v.as_str() == Some(PLUGIN_ID))
    {
        let rest: Vec<Value> = allow
            .iter()
            .filter(|v| v.as_str() != Some(PLUGIN_ID))
            .cloned()
            .collect();
        patch.insert("allow".into(), Value::Array(rest));
    }
    if plugins
        .and_then(|p| p.pointer(&format!("/entries/{PLUGIN_ID}")))
        .is_some()
    {
        patch.insert("entries".into(), json!({ PLUGIN_ID: Value::Null }));
    }
    (!patch.is_empty()).then(|| json!({ "plugins": patch }))
}

/// The gateway's CLI for this PAIOS home.
struct Cli<'a> {
    paths: &'a Paths,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Result<brains::install::Output, GatewayError> {
        let failed = |detail: String| GatewayError::Cli {
            args: args.join(" "),
            detail,
        };
        let mut cmd =
            brains::command(self.paths, Brain::Openclaw).map_err(|e| failed(e.to_string()))?;
        cmd.args(args);
        brains::install::run_with_timeout(cmd, CLI_TIMEOUT).map_err(failed)
    }

    /// A config value, `None` when it is unset.
    fn get(&self, key: &str) -> Result<Option<Value>, GatewayError> {
        let out = self.run(&["config", "get", key, "--json"])?;
        let value: Option<Value> = serde_json::from_str(out.stdout.trim()).ok();
        if out.success {
            return value.map(Some).ok_or_else(|| GatewayError::Cli {
                args: format!("config get {key} --json"),
                detail: "its output is not JSON".into(),
            });
        }
        let message = value
            .as_ref()
            .and_then(|v| v.pointer("/error/message"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if message.contains("unset") {
            return Ok(None);
        }
        Err(GatewayError::Cli {
            args: format!("config get {key} --json"),
            detail: first_line(if message.is_empty() {
                &out.stderr
            } else {
                &message
            }),
        })
    }

    fn config_file(&self) -> Result<PathBuf, GatewayError> {
        let out = self.run(&["config", "file"])?;
        let line = out.stdout.lines().map(str::trim).rfind(|l| !l.is_empty());
        match line {
            Some(l) if out.success => Ok(crate::paths::expand_tilde(l)),
            _ => Err(GatewayError::Cli {
                args: "config file".into(),
                detail: first_line(&out.stderr),
            }),
        }
    }

    /// Apply a patch (one validated write), keeping a copy of the config file the first time.
    fn patch(&self, patch: &Value) -> Result<(), GatewayError> {
        let file = self.config_file()?;
        if file.exists() {
            let name = format!(
                "{}.paios-backup",
                file.file_name().unwrap_or_default().to_string_lossy()
            );
            let backup = file.with_file_name(name);
            if !backup.exists() {
                std::fs::copy(&file, &backup).map_err(|source| GatewayError::Write {
                    path: backup.clone(),
                    source,
                })?;
            }
        }
        let scratch = tempfile::NamedTempFile::new_in(self.paths.home()).map_err(|source| {
            GatewayError::Write {
                path: self.paths.home().to_path_buf(),
                source,
            }
        })?;
        std::fs::write(scratch.path(), patch.to_string()).map_err(|source| {
            GatewayError::Write {
                path: scratch.path().to_path_buf(),
                source,
            }
        })?;
        let file_arg = scratch.path().display().to_string();
        let out = self.run(&["config", "patch", "--file", &file_arg])?;
        if out.success {
            Ok(())
        } else {
            Err(GatewayError::Cli {
                args: "config patch".into(),
                detail: first_line(if out.stderr.trim().is_empty() {
                    &out.stdout
                } else {
                    &out.stderr
                }),
            })
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
        .to_string()
}

/// Whether the gateway is installed for this PAIOS home (managed copy or on `PATH`).
pub fn gateway_present(paths: &Paths) -> bool {
    brains::resolve(paths, Brain::Openclaw).is_some()
}

/// What install/uninstall did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayOutcome {
    /// The plugin's folder.
    pub plugin_dir: PathBuf,
    /// Whether the plugin's files or the gateway's config changed.
    pub changed: bool,
}

fn write_plugin(dir: &Path) -> Result<bool, GatewayError> {
    let err = |source| GatewayError::Write {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut changed = false;
    for (name, text) in [
        ("index.js", PLUGIN_INDEX),
        ("openclaw.plugin.json", PLUGIN_MANIFEST),
    ] {
        let file = dir.join(name);
        if std::fs::read_to_string(&file).ok().as_deref() != Some(text) {
            crate::atomic::write_atomic(&file, text.as_bytes(), crate::atomic::Mode::Set(0o644))
                .map_err(err)?;
            changed = true;
        }
    }
    Ok(changed)
}

/// Install (or bring up to date) the gateway gate: the plugin's files, then the gateway's
/// config. Idempotent.
pub fn install(
    paths: &Paths,
    paios: &Path,
    approval_timeout_s: u64,
) -> Result<GatewayOutcome, GatewayError> {
    let dir = plugin_dir(paths);
    let mut changed = write_plugin(&dir)?;
    let cli = Cli { paths };
    let plugins = cli.get("plugins")?;
    let entry = wanted_entry(paios, paths.home(), approval_timeout_s);
    if let Some(patch) = install_patch(plugins.as_ref(), &dir, &entry)? {
        cli.patch(&patch)?;
        changed = true;
    }
    Ok(GatewayOutcome {
        plugin_dir: dir,
        changed,
    })
}

/// Remove the gateway gate: PAIOS's parts of the gateway's config, then the plugin's files.
pub fn uninstall(paths: &Paths) -> Result<GatewayOutcome, GatewayError> {
    let dir = plugin_dir(paths);
    let cli = Cli { paths };
    let plugins = cli.get("plugins")?;
    let mut changed = false;
    if let Some(patch) = uninstall_patch(plugins.as_ref(), &dir) {
        cli.patch(&patch)?;
        changed = true;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|source| GatewayError::Write {
            path: dir.clone(),
            source,
        })?;
        changed = true;
    }
    Ok(GatewayOutcome {
        plugin_dir: dir,
        changed,
    })
}

/// Whether the gateway gate is in place, as `paios policy check` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GatewayStatus {
    /// `current` (installed as `paios hooks install` would install it now), `stale` (installed
    /// but out of date or switched off), `absent` (not installed), `no-gateway` (OpenClaw is not
    /// installed) or `unknown` (the gateway's config could not be read).
    pub state: &'static str,
    /// What is wrong, one line each (empty when current).
    pub problems: Vec<String>,
}

/// Compare the plugin's files and the gateway's config with what install would make them.
pub fn status(paths: &Paths, paios: &Path, approval_timeout_s: u64) -> GatewayStatus {
    if !gateway_present(paths) {
        return GatewayStatus {
            state: "no-gateway",
            problems: vec![],
        };
    }
    let plugins = match (Cli { paths }).get("plugins") {
        Ok(p) => p,
        Err(e) => {
            return GatewayStatus {
                state: "unknown",
                problems: vec![e.to_string()],
            };
        }
    };
    let dir = plugin_dir(paths);
    let entry = wanted_entry(paios, paths.home(), approval_timeout_s);
    status_of(plugins.as_ref(), &dir, &entry)
}

/// [`status`] over a given `plugins` section (the part that needs no gateway).
pub fn status_of(plugins: Option<&Value>, dir: &Path, entry: &Value) -> GatewayStatus {
    let dir_text = dir.display().to_string();
    let listed = plugins
        .and_then(|p| p.pointer("/load/paths"))
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(&dir_text)));
    let have = plugins.and_then(|p| p.pointer(&format!("/entries/{PLUGIN_ID}")));
    let configured = have.is_some_and(|h| h.pointer("/config/paios").is_some());
    if !listed && !configured {
        return GatewayStatus {
            state: "absent",
            problems: vec![
                "the PAIOS gateway plugin is not installed: run `paios hooks install`".into(),
            ],
        };
    }
    let mut problems = Vec::new();
    if !listed {
        problems.push(format!("plugins.load.paths does not list {dir_text}"));
    }
    if !have.is_some_and(|h| contains(h, entry)) {
        problems.push(format!(
            "plugins.entries.{PLUGIN_ID} differs from what PAIOS installs (paios program, home, timeouts or enabled)"
        ));
    }
    if let Some(Value::Array(deny)) = plugins.and_then(|p| p.get("deny"))
        && deny.iter().any(|v| v.as_str() == Some(PLUGIN_ID))
    {
        problems.push(format!(
            "plugins.deny names {PLUGIN_ID}: the gateway will not load it"
        ));
    }
    if plugins.and_then(|p| p.get("enabled")) == Some(&Value::Bool(false)) {
        problems.push("plugins.enabled is false: the gateway loads no plugin".into());
    }
    if let Some(Value::Array(allow)) = plugins.and_then(|p| p.get("allow"))
        && !allow.is_empty()
        && !allow.iter().any(|v| v.as_str() == Some(PLUGIN_ID))
    {
        problems.push(format!("plugins.allow does not name {PLUGIN_ID}"));
    }
    for (name, text) in [
        ("index.js", PLUGIN_INDEX),
        ("openclaw.plugin.json", PLUGIN_MANIFEST),
    ] {
        if std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(text) {
            problems.push(format!(
                "{} is missing or not this version's",
                dir.join(name).display()
            ));
        }
    }
    GatewayStatus {
        state: if problems.is_empty() {
            "current"
        } else {
            "stale"
        },
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Value {
        wanted_entry(Path::new("/bin/paios"), Path::new("/h"), 300)
    }

    #[test]
    fn install_appends_to_the_users_lists_and_then_has_nothing_to_do() {
        let dir = Path::new("/h/openclaw-plugin/paios-gate");
        let user = json!({
            "load": {"paths": ["/mine"]},
            "allow": ["other"],
            "entries": {"other": {"enabled": true}},
        });
        let patch = install_patch(Some(&user), dir, &entry()).unwrap().unwrap();
        assert_eq!(
            patch["plugins"]["load"]["paths"],
            json!(["/mine", "/h/openclaw-plugin/paios-gate"])
        );
        assert_eq!(patch["plugins"]["allow"], json!(["other", "paios-gate"]));
        assert!(patch["plugins"]["entries"].get("other").is_none());
        // The gateway reports the config after the patch, with defaults of its own added.
        let mut after = user.clone();
        after["load"]["paths"] = patch["plugins"]["load"]["paths"].clone();
        after["allow"] = patch["plugins"]["allow"].clone();
        let mut ours = entry();
        ours["hooks"]["allowConversationAccess"] = json!(false);
        after["entries"]["paios-gate"] = ours;
        assert_eq!(install_patch(Some(&after), dir, &entry()).unwrap(), None);
        assert_eq!(status_of(Some(&after), dir, &entry()).problems.len(), 2); // no files here
        let undo = uninstall_patch(Some(&after), dir).unwrap();
        assert_eq!(undo["plugins"]["load"]["paths"], json!(["/mine"]));
        assert_eq!(undo["plugins"]["allow"], json!(["other"]));
        assert_eq!(undo["plugins"]["entries"]["paios-gate"], Value::Null);
        assert!(undo["plugins"]["entries"].get("other").is_none());
    }

    #[test]
    fn a_missing_section_gets_only_what_the_gate_needs_and_no_allowlist() {
        let dir = Path::new("/d");
        let patch = install_patch(None, dir, &entry()).unwrap().unwrap();
        assert_eq!(patch["plugins"]["load"]["paths"], json!(["/d"]));
        assert!(patch["plugins"].get("allow").is_none());
        assert_eq!(
            patch["plugins"]["entries"]["paios-gate"]["config"]["paios"],
            "/bin/paios"
        );
        assert_eq!(uninstall_patch(None, dir), None);
        assert_eq!(status_of(None, dir, &entry()).state, "absent");
        // Taking out the only path deletes the list PAIOS created.
        let only = json!({"load": {"paths": ["/d"]}});
        let undo = uninstall_patch(Some(&only), dir).unwrap();
        assert_eq!(undo["plugins"]["load"]["paths"], Value::Null);
    }

    #[test]
    fn lists_of_another_shape_are_refused() {
        let bad = json!({"load": {"paths": "/x"}});
        let e = install_patch(Some(&bad), Path::new("/d"), &entry()).unwrap_err();
        assert!(e.to_string().contains("not a list"), "{e}");
    }

    #[test]
    fn a_changed_timeout_or_a_denied_plugin_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        write_plugin(dir.path()).unwrap();
        let mut plugins = json!({
            "load": {"paths": [dir.path().display().to_string()]},
            "entries": {"paios-gate": entry()},
        });
        assert_eq!(
            status_of(Some(&plugins), dir.path(), &entry()).state,
            "current"
        );
        let longer = wanted_entry(Path::new("/bin/paios"), Path::new("/h"), 400);
        let s = status_of(Some(&plugins), dir.path(), &longer);
        assert_eq!(s.state, "stale");
        plugins["deny"] = json!(["paios-gate"]);
        let s = status_of(Some(&plugins), dir.path(), &entry());
        assert!(s.problems[0].contains("plugins.deny"), "{s:?}");
    }

    #[test]
    fn budgets_leave_a_margin_and_stay_within_the_gateways_maximum() {
        assert_eq!(budgets(300), (345_000, 335_000));
        assert_eq!(budgets(3600), (600_000, 590_000));
        assert_eq!(budgets(0), (45_000, 35_000));
    }

    #[test]
    fn the_manifest_is_json_and_names_the_plugin() {
        let m: Value = serde_json::from_str(PLUGIN_MANIFEST).unwrap();
        assert_eq!(m["id"], PLUGIN_ID);
        assert!(PLUGIN_INDEX.contains(&format!("id: \"{PLUGIN_ID}\"")));
    }
}
