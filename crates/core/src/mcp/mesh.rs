//! The mesh: PAIOS registered as an MCP server in each brain, and the brains registered in each
//! other where they can serve (`claude mcp serve` into Codex and OpenClaw, `openclaw mcp serve`
//! into Claude Code and Codex — Codex has no MCP server, so it is reached through PAIOS's
//! `ask_codex`).
//!
//! Owns: which links exist ([`wanted`]), reading each brain's registrations from its own config
//! file, `paios mesh install|uninstall|check`, and the backups of the files it touched
//! (`$PAIOS_HOME/mesh/`). Registrations are made through each CLI's own command
//! (`claude mcp add-json --scope user`, `codex mcp add`, `openclaw mcp add`), so each file keeps
//! its owner's format and validation; a link already registered as wanted is left alone (a
//! second install touches nothing). Uninstall restores a file byte for byte from the backup
//! when nothing changed it since PAIOS did; otherwise it removes only PAIOS's entries, through
//! the CLI, and keeps the later changes.
//!
//! Never: edits a brain's config file by hand, or registers a server that cannot start
//! (the commands are absolute paths).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::probe::{self, HttpSpec, NotProbed, ProbeResult, StdioSpec};
use crate::brains::Brain;
use crate::paths::Paths;

/// Errors of install / uninstall (check reports in its result instead).
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// A brain's config file or one of PAIOS's backups could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file that could not be read.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A backup, the mesh state or a restored config file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory that could not be written.
        path: String,
        /// Why it could not be written.
        source: std::io::Error,
    },
    /// One of the brain's own `mcp` commands failed, timed out or could not start.
    #[error("{brain}: `{command}` failed: {message}")]
    Cli {
        /// The brain whose CLI was run.
        brain: Brain,
        /// The command as shown to the user (`<brain> mcp add …`).
        command: String,
        /// Its output (stderr then stdout, secrets redacted) or why it did not run.
        message: String,
    },
    /// Anything else: the brain's CLI could not be located, or its config could not be read or
    /// parsed.
    #[error("{0}")]
    Other(String),
}

/// One link: `server` registered in `brain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The brain whose config holds the registration.
    pub brain: Brain,
    /// The registration's name (`mcp__<name>__<tool>` in Claude Code: keep it short).
    pub server: &'static str,
    /// How the brain is to start the server (an absolute command, its arguments and env).
    pub spec: StdioSpec,
}

/// The MCP servers the brains themselves provide.
fn brain_server(paths: &Paths, brain: Brain) -> Option<StdioSpec> {
    let cmd = crate::brains::command(paths, brain).ok()?;
    let mut spec = StdioSpec {
        command: cmd.get_program().to_string_lossy().into_owned(),
        args: cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        ..Default::default()
    };
    spec.args.extend(["mcp".into(), "serve".into()]);
    Some(spec)
}

/// PAIOS's own server: this program's `paios mcp`, for this home.
pub fn paios_spec(paths: &Paths, paios: &Path) -> StdioSpec {
    StdioSpec::new(
        paios.display().to_string(),
        &["--home", &paths.home().display().to_string(), "mcp"],
    )
}

/// Every link wanted between the installed brains (`only`: just those into that brain).
pub fn wanted(paths: &Paths, paios: &Path, only: Option<Brain>) -> Vec<Link> {
    let installed: Vec<Brain> = Brain::ALL
        .into_iter()
        .filter(|b| crate::brains::resolve(paths, *b).is_some())
        .collect();
    let mut links = Vec::new();
    for &brain in &installed {
        if only.is_some_and(|o| o != brain) {
            continue;
        }
        links.push(Link {
            brain,
            server: super::SERVER_NAME,
            spec: paios_spec(paths, paios),
        });
        // The other brains that can serve MCP.
        for (server, provider) in [("claude", Brain::Claude), ("openclaw", Brain::Openclaw)] {
            if provider == brain || !installed.contains(&provider) {
                continue;
            }
            if let Some(spec) = brain_server(paths, provider) {
                links.push(Link {
                    brain,
                    server,
                    spec,
                });
            }
        }
    }
    links
}

/// The file where `brain` keeps its MCP registrations.
pub fn config_file(brain: Brain) -> PathBuf {
    let home = crate::approvals::policy::home_dir().unwrap_or_default();
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    match brain {
        Brain::Claude => var("CLAUDE_CONFIG_DIR")
            .map(|d| d.join(".claude.json"))
            .unwrap_or_else(|| home.join(".claude.json")),
        Brain::Codex => var("CODEX_HOME")
            .unwrap_or_else(|| home.join(".codex"))
            .join("config.toml"),
        Brain::Openclaw => var("OPENCLAW_CONFIG_PATH").unwrap_or_else(|| {
            var("OPENCLAW_STATE_DIR")
                .unwrap_or_else(|| home.join(".openclaw"))
                .join("openclaw.json")
        }),
    }
}

/// Every MCP server registered in `brain`'s config (name → how it starts or where it answers),
/// read from the file itself (no brain is run).
pub fn registered(brain: Brain) -> Result<BTreeMap<String, Registration>, String> {
    let path = config_file(brain);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let table: Value = match brain {
        Brain::Codex => {
            let v: toml::Value = toml::from_str(&text)
                .map_err(|e| format!("{} is not valid TOML: {e}", path.display()))?;
            serde_json::to_value(
                v.get("mcp_servers")
                    .cloned()
                    .unwrap_or(toml::Value::Table(Default::default())),
            )
            .unwrap_or_default()
        }
        Brain::Claude | Brain::Openclaw => {
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
            match brain {
                Brain::Claude => v.get("mcpServers").cloned().unwrap_or_default(),
                _ => v
                    .get("mcp")
                    .and_then(|m| m.get("servers"))
                    .cloned()
                    .unwrap_or_default(),
            }
        }
    };
    let mut out = BTreeMap::new();
    for (name, entry) in table.as_object().into_iter().flatten() {
        out.insert(name.clone(), Registration::from_json(brain, entry));
    }
    Ok(out)
}

/// One registration as found in a brain's config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    /// Set for stdio servers.
    pub stdio: Option<StdioSpec>,
    /// Set for HTTP servers (registered by `url`).
    pub http: Option<HttpSpec>,
    /// False when the entry says `"enabled": false` or `"disabled": true`; true otherwise.
    pub enabled: bool,
}

/// A JSON object of strings (headers, environment) as a map; other values as their JSON text.
fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, x)| {
                    (
                        k.clone(),
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Registration {
    /// One entry of `brain`'s server table. The three CLIs' keys do not collide, so one reader
    /// serves them all: Claude Code's `type`/`headers`/`headersHelper`, Codex's
    /// `http_headers`/`env_http_headers`/`bearer_token_env_var`, OpenClaw's
    /// `transport`/`headers`/`auth`.
    fn from_json(brain: Brain, v: &Value) -> Self {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let stdio = s("command").map(|command| StdioSpec {
            command,
            args: v
                .get("args")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            x.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| x.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default(),
            env: string_map(v.get("env")),
            cwd: s("cwd"),
        });
        let http = s("url").filter(|_| stdio.is_none()).map(|url| {
            let transport = s("type").or_else(|| s("transport")).unwrap_or_default();
            let not_probed = match transport.as_str() {
                "" | "http" | "streamable-http" | "streamableHttp" | "streamable_http" => None,
                "sse" => Some(
                    "uses the legacy SSE transport, which PAIOS's client does not speak: not \
                     probed"
                        .to_string(),
                ),
                other => Some(format!(
                    "uses the `{}` transport, which PAIOS's client does not speak: not probed",
                    crate::text::printable(other)
                )),
            }
            .or_else(|| {
                (s("auth").as_deref() == Some("oauth")).then(|| {
                    "logs in with OAuth (the tokens are the brain's own): not probed".to_string()
                })
            })
            .or_else(|| {
                s("headersHelper").map(|_| {
                    "takes its headers from a helper command (headersHelper), which PAIOS does \
                     not run: not probed"
                        .to_string()
                })
            });
            let mut headers = string_map(v.get("headers"));
            headers.extend(string_map(v.get("http_headers")));
            HttpSpec {
                url,
                headers,
                env_headers: string_map(v.get("env_http_headers")),
                bearer_token_env_var: s("bearer_token_env_var"),
                expand_env: brain != Brain::Codex,
                not_probed,
            }
        });
        Registration {
            stdio,
            http,
            enabled: v.get("enabled").and_then(Value::as_bool) != Some(false)
                && v.get("disabled").and_then(Value::as_bool) != Some(true),
        }
    }

    fn matches(&self, spec: &StdioSpec) -> bool {
        self.stdio
            .as_ref()
            .is_some_and(|s| s.command == spec.command && s.args == spec.args && s.env == spec.env)
            && self.enabled
    }
}

/// What install or uninstall did to one link.
#[derive(Debug, Clone, Serialize)]
pub struct LinkChange {
    /// The brain's name (`claude`, `codex`, `openclaw`).
    pub brain: &'static str,
    /// The registration's name in that brain.
    pub server: String,
    /// `added`, `updated`, `unchanged`, `removed`, `absent`, `restored`, `failed`.
    pub action: &'static str,
    /// The brain's config file the change concerns.
    pub file: String,
    /// Why the change failed; `None` unless `action` is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `$PAIOS_HOME/mesh/state.json`: the files PAIOS touched, with their backups.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// brain name → file record.
    files: BTreeMap<String, FileRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileRecord {
    path: PathBuf,
    /// Whether the file existed before PAIOS first changed it.
    existed: bool,
    /// Registrations PAIOS made in it.
    servers: Vec<String>,
}

/// Whether `paios mesh install` has registered anything (and uninstall not removed it all).
pub fn is_installed(paths: &Paths) -> bool {
    load_state(paths)
        .files
        .values()
        .any(|f| !f.servers.is_empty())
}

fn mesh_dir(paths: &Paths) -> PathBuf {
    paths.mesh_dir()
}

fn load_state(paths: &Paths) -> State {
    std::fs::read(mesh_dir(paths).join("state.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn save_state(paths: &Paths, state: &State) -> Result<(), MeshError> {
    let dir = mesh_dir(paths);
    crate::paths::create_private_dir(&dir).map_err(|source| MeshError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let path = dir.join("state.json");
    let bytes = serde_json::to_vec_pretty(state).unwrap_or_default();
    crate::atomic::write_atomic(
        &path,
        &bytes,
        crate::atomic::Mode::Set(crate::atomic::PRIVATE),
    )
    .map_err(|source| MeshError::Write {
        path: path.display().to_string(),
        source,
    })
}

fn backup(paths: &Paths, brain: Brain, suffix: &str) -> PathBuf {
    mesh_dir(paths).join(format!("{}.{suffix}", brain.name()))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), MeshError> {
    if let Some(dir) = path.parent() {
        crate::paths::create_private_dir(dir).map_err(|source| MeshError::Write {
            path: dir.display().to_string(),
            source,
        })?;
    }
    crate::atomic::write_atomic(
        path,
        bytes,
        crate::atomic::Mode::Set(crate::atomic::PRIVATE),
    )
    .map_err(|source| MeshError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Run one of `brain`'s own commands (`mcp add`, `mcp remove`).
fn brain_cli(paths: &Paths, brain: Brain, args: &[String]) -> Result<(), MeshError> {
    let mut cmd =
        crate::brains::command(paths, brain).map_err(|e| MeshError::Other(e.to_string()))?;
    cmd.args(args).stdin(std::process::Stdio::null());
    let shown = format!("{} {}", brain.name(), args.join(" "));
    let out = crate::brains::install::run_with_timeout(cmd, Duration::from_secs(120)).map_err(
        |message| MeshError::Cli {
            brain,
            command: shown.clone(),
            message,
        },
    )?;
    if out.success {
        return Ok(());
    }
    let text = format!("{}{}", out.stderr, out.stdout);
    Err(MeshError::Cli {
        brain,
        command: shown,
        message: crate::approvals::redact::redact(text.trim()),
    })
}

fn add_args(brain: Brain, server: &str, spec: &StdioSpec) -> Vec<String> {
    let mut args: Vec<String> = vec!["mcp".into()];
    match brain {
        Brain::Claude => {
            let mut entry = json!({"type": "stdio", "command": spec.command, "args": spec.args, "env": spec.env});
            if spec.env.is_empty() {
                entry["env"] = json!({});
            }
            args.extend([
                "add-json".into(),
                "--scope".into(),
                "user".into(),
                server.into(),
                entry.to_string(),
            ]);
        }
        Brain::Codex => {
            args.extend(["add".into(), server.into()]);
            for (k, v) in &spec.env {
                args.extend(["--env".into(), format!("{k}={v}")]);
            }
            args.push("--".into());
            args.push(spec.command.clone());
            args.extend(spec.args.iter().cloned());
        }
        Brain::Openclaw => {
            args.extend([
                "add".into(),
                server.into(),
                "--command".into(),
                spec.command.clone(),
            ]);
            for a in &spec.args {
                // `--arg=VALUE`: a value that starts with `-` is not taken for a flag.
                args.push(format!("--arg={a}"));
            }
            for (k, v) in &spec.env {
                args.push(format!("--env={k}={v}"));
            }
            args.push("--no-probe".into());
        }
    }
    args
}

fn remove_args(brain: Brain, server: &str) -> Vec<String> {
    match brain {
        Brain::Claude => vec![
            "mcp".into(),
            "remove".into(),
            "--scope".into(),
            "user".into(),
            server.into(),
        ],
        Brain::Codex => vec!["mcp".into(), "remove".into(), server.into()],
        Brain::Openclaw => vec!["mcp".into(), "unset".into(), server.into()],
    }
}

/// `paios mesh install`: register every wanted link that is not registered as wanted.
pub fn install(
    paths: &Paths,
    paios: &Path,
    only: Option<Brain>,
) -> Result<Vec<LinkChange>, MeshError> {
    let mut state = load_state(paths);
    let mut changes = Vec::new();
    let links = wanted(paths, paios, only);
    let mut by_brain: BTreeMap<&'static str, Vec<Link>> = BTreeMap::new();
    for link in links {
        by_brain.entry(link.brain.name()).or_default().push(link);
    }
    for (_, links) in by_brain {
        let brain = links[0].brain;
        let file = config_file(brain);
        let current = registered(brain).map_err(MeshError::Other)?;
        let todo: Vec<&Link> = links
            .iter()
            .filter(|l| !current.get(l.server).is_some_and(|r| r.matches(&l.spec)))
            .collect();
        for l in links.iter().filter(|l| !todo.contains(l)) {
            changes.push(LinkChange {
                brain: brain.name(),
                server: l.server.into(),
                action: "unchanged",
                file: file.display().to_string(),
                error: None,
            });
        }
        if todo.is_empty() {
            continue;
        }
        // The original, once: the first time PAIOS changes this file.
        if !state.files.contains_key(brain.name()) {
            let original = match std::fs::read(&file) {
                Ok(b) => Some(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => {
                    return Err(MeshError::Read {
                        path: file.display().to_string(),
                        source,
                    });
                }
            };
            if let Some(bytes) = &original {
                write_private(&backup(paths, brain, "orig"), bytes)?;
            }
            state.files.insert(
                brain.name().into(),
                FileRecord {
                    path: file.clone(),
                    existed: original.is_some(),
                    servers: Vec::new(),
                },
            );
            save_state(paths, &state)?;
        }
        for link in todo {
            let exists = current.contains_key(link.server);
            let result = (|| {
                if exists {
                    brain_cli(paths, brain, &remove_args(brain, link.server))?;
                }
                brain_cli(paths, brain, &add_args(brain, link.server, &link.spec))
            })();
            let record = state.files.get_mut(brain.name()).expect("recorded above");
            if !record.servers.iter().any(|s| s == link.server) {
                record.servers.push(link.server.into());
            }
            changes.push(LinkChange {
                brain: brain.name(),
                server: link.server.into(),
                action: match (&result, exists) {
                    (Err(_), _) => "failed",
                    (Ok(()), true) => "updated",
                    (Ok(()), false) => "added",
                },
                file: file.display().to_string(),
                error: result.err().map(|e| e.to_string()),
            });
        }
        // What the file is right after PAIOS's changes: uninstall restores the original only
        // when the file is still exactly this.
        if let Ok(bytes) = std::fs::read(&file) {
            write_private(&backup(paths, brain, "installed"), &bytes)?;
        }
        save_state(paths, &state)?;
    }
    Ok(changes)
}

/// `paios mesh uninstall`: undo what install did.
pub fn uninstall(paths: &Paths, only: Option<Brain>) -> Result<Vec<LinkChange>, MeshError> {
    let mut state = load_state(paths);
    let mut changes = Vec::new();
    let names: Vec<String> = state.files.keys().cloned().collect();
    for name in names {
        let Ok(brain) = name.parse::<Brain>() else {
            continue;
        };
        if only.is_some_and(|o| o != brain) {
            continue;
        }
        let record = state.files[&name].clone();
        let file_text = record.path.display().to_string();
        let installed = std::fs::read(backup(paths, brain, "installed")).ok();
        let now = std::fs::read(&record.path).ok();
        if installed.is_some() && installed == now {
            // Untouched since: put the original back exactly.
            if record.existed {
                let original = std::fs::read(backup(paths, brain, "orig")).map_err(|source| {
                    MeshError::Read {
                        path: backup(paths, brain, "orig").display().to_string(),
                        source,
                    }
                })?;
                crate::atomic::write_atomic(&record.path, &original, crate::atomic::Mode::Keep)
                    .map_err(|source| MeshError::Write {
                        path: file_text.clone(),
                        source,
                    })?;
            } else {
                let _ = std::fs::remove_file(&record.path);
            }
            for server in &record.servers {
                changes.push(LinkChange {
                    brain: brain.name(),
                    server: server.clone(),
                    action: "restored",
                    file: file_text.clone(),
                    error: None,
                });
            }
        } else {
            // Changed since (by the brain or by hand): remove only PAIOS's entries.
            let current = registered(brain).unwrap_or_default();
            for server in &record.servers {
                let (action, error) = if current.contains_key(server) {
                    match brain_cli(paths, brain, &remove_args(brain, server)) {
                        Ok(()) => ("removed", None),
                        Err(e) => ("failed", Some(e.to_string())),
                    }
                } else {
                    ("absent", None)
                };
                changes.push(LinkChange {
                    brain: brain.name(),
                    server: server.clone(),
                    action,
                    file: file_text.clone(),
                    error,
                });
            }
        }
        if changes.iter().all(|c| c.action != "failed") {
            for suffix in ["orig", "installed"] {
                let _ = std::fs::remove_file(backup(paths, brain, suffix));
            }
            state.files.remove(&name);
        }
        save_state(paths, &state)?;
    }
    Ok(changes)
}

/// One link as checked.
#[derive(Debug, Clone, Serialize)]
pub struct LinkCheck {
    /// The brain's name (`claude`, `codex`, `openclaw`).
    pub brain: &'static str,
    /// The registration's name in that brain.
    pub server: String,
    /// The brain's config has an entry of that name.
    pub registered: bool,
    /// Registered, probed and listing tools (for PAIOS's own server: every one of its tools).
    pub ok: bool,
    /// How long the probe took, in ms; `None` when it was not probed (not registered).
    pub latency_ms: Option<u64>,
    /// How many tools the probe listed; 0 when it was not probed or failed.
    pub tools: usize,
    /// Why the link is not ok; `None` when it is.
    pub error: Option<String>,
}

/// Probe `server` as registered in `brain`: started exactly as the config says (OpenClaw:
/// through its own `openclaw mcp probe NAME --json`).
pub fn probe_link(
    paths: &Paths,
    brain: Brain,
    server: &str,
    reg: &Registration,
    timeout: Duration,
) -> ProbeResult {
    if brain == Brain::Openclaw {
        return openclaw_probe(paths, server, timeout);
    }
    match (&reg.stdio, &reg.http) {
        (Some(spec), _) => probe::stdio_blocking(spec, timeout),
        (None, Some(spec)) => match spec.resolve() {
            Ok(target) => probe::http_blocking(spec, &target, timeout),
            Err(NotProbed::Skipped(why) | NotProbed::Invalid(why)) => ProbeResult {
                ok: false,
                latency_ms: 0,
                server: None,
                tools: Vec::new(),
                error: Some(format!("HTTP server {}: {why}", spec.display())),
            },
        },
        (None, None) => ProbeResult {
            ok: false,
            latency_ms: 0,
            server: None,
            tools: Vec::new(),
            error: Some("the registration has neither a command nor a url".into()),
        },
    }
}

/// `openclaw mcp probe NAME --json`: OpenClaw connects to the server as it would and lists tools.
pub fn openclaw_probe(paths: &Paths, server: &str, timeout: Duration) -> ProbeResult {
    let started = std::time::Instant::now();
    let failed = |e: String| ProbeResult {
        ok: false,
        latency_ms: started.elapsed().as_millis() as u64,
        server: None,
        tools: Vec::new(),
        error: Some(e),
    };
    let mut cmd = match crate::brains::command(paths, Brain::Openclaw) {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    cmd.args(["mcp", "probe", server, "--json"]);
    let out = match crate::brains::install::run_with_timeout(cmd, timeout + Duration::from_secs(30))
    {
        Ok(o) => o,
        Err(e) => return failed(format!("openclaw mcp probe {server}: {e}")),
    };
    let v: Value = match serde_json::from_str(&out.stdout) {
        Ok(v) => v,
        Err(_) => {
            return failed(format!(
                "openclaw mcp probe {server} did not answer JSON: {}",
                crate::text::printable(out.stderr.trim())
            ));
        }
    };
    // OpenClaw names them `<server>__<tool>`.
    let prefix = format!("{server}__");
    let tools = find_tools(&v).map(|t| {
        t.into_iter()
            .map(|name| {
                name.strip_prefix(&prefix)
                    .map(str::to_string)
                    .unwrap_or(name)
            })
            .collect::<Vec<_>>()
    });
    let diagnostics = v
        .get("diagnostics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty());
    if v.get("ok").and_then(Value::as_bool) == Some(false)
        || tools.is_none()
        || diagnostics.is_some() && tools.as_ref().is_some_and(Vec::is_empty)
    {
        let msg = v
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| diagnostics.map(|d| Value::Array(d.clone()).to_string()))
            .unwrap_or_else(|| v.to_string());
        return failed(format!(
            "openclaw mcp probe {server}: {}",
            crate::approvals::redact::redact(&msg)
        ));
    }
    ProbeResult {
        ok: true,
        latency_ms: started.elapsed().as_millis() as u64,
        server: None,
        tools: tools.unwrap_or_default(),
        error: None,
    }
}

/// The tool names in a probe's JSON (wherever its `tools` array is).
fn find_tools(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(tools)) = m.get("tools") {
                return Some(
                    tools
                        .iter()
                        .filter_map(|t| t.get("name").and_then(Value::as_str).or(t.as_str()))
                        .map(str::to_string)
                        .collect(),
                );
            }
            m.values().find_map(find_tools)
        }
        Value::Array(a) => a.iter().find_map(find_tools),
        _ => None,
    }
}

/// One brain's registrations and what probing each wanted link found.
type BrainProbes = (
    Brain,
    Result<BTreeMap<String, Registration>, String>,
    Vec<(Link, Option<ProbeResult>)>,
);

/// `paios mesh check --json`: every brain and every link, as checked.
#[derive(Debug, Clone, Serialize)]
pub struct MeshReport {
    /// Every link of every installed brain works.
    pub ok: bool,
    /// One entry per brain checked (all three, or only the one asked for).
    pub brains: Vec<BrainCheck>,
    /// Every wanted link of those brains, as checked.
    pub links: Vec<LinkCheck>,
}

/// One brain in [`MeshReport`].
#[derive(Debug, Clone, Serialize)]
pub struct BrainCheck {
    /// The brain's name (`claude`, `codex`, `openclaw`).
    pub name: &'static str,
    /// PAIOS can find the brain's executable (its managed copy or one on PATH).
    pub installed: bool,
    /// The managed copy's version; `None` when not installed or when the copy is on PATH.
    pub version: Option<String>,
    /// PAIOS is registered in its config.
    pub mcp_registered: bool,
    /// The brain really gets PAIOS's tools from the server it has registered.
    pub tools_visible: bool,
    /// The first problem found (unreadable config, PAIOS's link failing, not installed);
    /// `None` when there is none.
    pub error: Option<String>,
    /// The config file its registrations are read from.
    pub config: String,
}

/// `paios mesh check`.
pub fn check(paths: &Paths, paios: &Path, only: Option<Brain>, timeout: Duration) -> MeshReport {
    let links = wanted(paths, paios, only);
    let ours: Vec<String> = super::tools::list()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    let mut brains_out = Vec::new();
    let mut all_links = Vec::new();
    let mut ok = true;
    // Probes start processes: run each brain's in parallel, its own links one after another.
    let results: Vec<BrainProbes> = std::thread::scope(|s| {
        let handles: Vec<_> = Brain::ALL
            .into_iter()
            .filter(|b| only.is_none_or(|o| o == *b))
            .map(|brain| {
                let links: Vec<Link> = links.iter().filter(|l| l.brain == brain).cloned().collect();
                s.spawn(move || {
                    let regs = registered(brain);
                    let probed = links
                        .into_iter()
                        .map(|l| {
                            let result = regs
                                .as_ref()
                                .ok()
                                .and_then(|r| r.get(l.server))
                                .map(|reg| probe_link(paths, brain, l.server, reg, timeout));
                            (l, result)
                        })
                        .collect();
                    (brain, regs, probed)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for (brain, regs, probed) in results {
        let resolved = crate::brains::resolve(paths, brain);
        let installed = resolved.is_some();
        let file = config_file(brain);
        let mut error: Option<String> = None;
        let mut registered_paios = false;
        let mut tools_visible = false;
        if let Err(e) = &regs {
            error = Some(e.clone());
        }
        for (link, result) in &probed {
            let reg = regs.as_ref().ok().and_then(|r| r.get(link.server));
            let (link_ok, why) = match (reg, result) {
                (None, _) => (
                    false,
                    Some(format!(
                        "{} is not registered in {} ({}): run `paios mesh install --brain {}`",
                        link.server,
                        brain.name(),
                        file.display(),
                        brain.name()
                    )),
                ),
                (Some(_), Some(r)) if !r.ok => (false, r.error.clone()),
                (Some(_), Some(r)) if link.server == super::SERVER_NAME => {
                    let missing: Vec<&String> =
                        ours.iter().filter(|t| !r.tools.contains(t)).collect();
                    if missing.is_empty() {
                        (true, None)
                    } else {
                        (
                            false,
                            Some(format!("{} lists no {:?}", link.server, missing)),
                        )
                    }
                }
                (Some(_), Some(r)) if r.tools.is_empty() => {
                    (false, Some(format!("{} lists no tools", link.server)))
                }
                (Some(_), Some(_)) => (true, None),
                (Some(_), None) => (false, Some("not probed".into())),
            };
            if link.server == super::SERVER_NAME {
                registered_paios = reg.is_some();
                tools_visible = link_ok;
                if !link_ok && error.is_none() {
                    error = why.clone();
                }
            }
            ok &= link_ok;
            all_links.push(LinkCheck {
                brain: brain.name(),
                server: link.server.to_string(),
                registered: reg.is_some(),
                ok: link_ok,
                latency_ms: result.as_ref().map(|r| r.latency_ms),
                tools: result.as_ref().map(|r| r.tools.len()).unwrap_or(0),
                error: why,
            });
        }
        if installed && error.is_some() {
            ok = false;
        }
        brains_out.push(BrainCheck {
            name: brain.name(),
            installed,
            version: resolved.and_then(|r| r.version),
            mcp_registered: registered_paios,
            tools_visible,
            error: if installed {
                error
            } else {
                Some(format!(
                    "{} is not installed (`paios brains install {}`)",
                    brain.name(),
                    brain.name()
                ))
            },
            config: file.display().to_string(),
        });
    }
    MeshReport {
        ok,
        brains: brains_out,
        links: all_links,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_registrations_of_the_three_brains_are_read_with_their_credentials() {
        let claude = Registration::from_json(
            Brain::Claude,
            &json!({"type": "http", "url": "http://127.0.0.1:1/mcp",
                    "headers": {"Authorization": "Bearer ${T}"}}),
        );
        let http = claude.http.unwrap();
        assert!(claude.stdio.is_none() && http.expand_env && http.not_probed.is_none());
        assert_eq!(http.headers["Authorization"], "Bearer ${T}");

        let codex: toml::Value = toml::from_str(
            "url = 'http://127.0.0.1:1/mcp'\nbearer_token_env_var = 'TOK'\n\
             http_headers = { X-Team = 'a' }\nenv_http_headers = { X-Key = 'KEY_VAR' }\n",
        )
        .unwrap();
        let codex = Registration::from_json(Brain::Codex, &serde_json::to_value(codex).unwrap());
        let http = codex.http.unwrap();
        assert_eq!(http.bearer_token_env_var.as_deref(), Some("TOK"));
        assert_eq!(http.headers["X-Team"], "a");
        assert_eq!(http.env_headers["X-Key"], "KEY_VAR");
        assert!(!http.expand_env, "Codex does not expand ${{VAR}}");

        for (entry, says) in [
            (json!({"url": "http://h/sse", "transport": "sse"}), "SSE"),
            (json!({"url": "http://h/mcp", "type": "sse"}), "SSE"),
            (json!({"url": "http://h/mcp", "auth": "oauth"}), "OAuth"),
            (
                json!({"url": "http://h/mcp", "headersHelper": "x"}),
                "headersHelper",
            ),
            (json!({"url": "http://h/mcp", "type": "ws"}), "`ws`"),
        ] {
            let reg = Registration::from_json(Brain::Openclaw, &entry);
            let why = reg.http.unwrap().not_probed.unwrap_or_default();
            assert!(why.contains(says), "{entry}: {why}");
        }
        // A command wins over a url: a stdio server.
        let both =
            Registration::from_json(Brain::Claude, &json!({"command": "x", "url": "http://h"}));
        assert!(both.stdio.is_some() && both.http.is_none());
    }
}
