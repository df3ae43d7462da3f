//! Managed installs: the on-disk layout under the tools folder, npm installs, and the
//! install / upgrade / rollback operations.
//!
//! Layout (`Paths::tools_dir()`, usually `$PAIOS_HOME/tools`):
//!
//! ```text
//! tools/<name>/<version>/            an npm prefix: node_modules/.bin/<bin>
//! tools/<name>/current               the version PAIOS runs (one line)
//! tools/<name>/previous              the version `rollback` returns to
//! tools/<name>/.lock                 held while a command changes this brain
//! tools/node/<version>/              a Node build for the gateway, same shape
//! ```
//!
//! Invariants: a version folder appears only complete (npm installs into a temp folder beside
//! it, which is renamed once npm succeeded); `current`/`previous` are replaced atomically
//! (write a temp file, then rename), so an interrupted command leaves the previous state
//! working. This module never deletes the version `current` or `previous` points at.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::pins::{self, Pins};
use super::{Brain, BrainsError};
use crate::events::{Event, kind as kinds};
use crate::paths::Paths;

/// How long a smoke check (`--version`, config validation) may take.
const SMOKE_TIMEOUT: Duration = Duration::from_secs(90);

/// Something PAIOS installs with npm: a brain, or the Node that runs the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// One of the brains, from its pinned npm package.
    Brain(Brain),
    /// The Node build that runs the gateway when the system's is too old.
    Node,
}

impl Tool {
    /// The folder name under the tools folder.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Brain(b) => b.name(),
            Tool::Node => "node",
        }
    }

    /// The executable the package puts in `node_modules/.bin`.
    fn bin(self, pins: &Pins) -> &str {
        match self {
            Tool::Brain(b) => &pins.brain(b).bin,
            Tool::Node => "node",
        }
    }
}

/// Paths of the managed installs.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of the home's tools folder ([`Paths::tools_dir`], which `PAIOS_TOOLS_DIR`
    /// moves).
    pub fn new(paths: &Paths) -> Self {
        Self {
            root: paths.tools_dir(),
        }
    }

    /// The layout of an explicit tools folder.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The tools folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `tools/<name>`: a tool's versions, its `current`/`previous` pointers and its lock.
    pub fn tool_dir(&self, tool: Tool) -> PathBuf {
        self.root.join(tool.name())
    }

    /// `tools/<name>/<version>`: the npm prefix of one version (whether or not it exists).
    pub fn version_dir(&self, tool: Tool, version: &str) -> PathBuf {
        self.tool_dir(tool).join(version)
    }

    fn tool_bin(&self, tool: Tool, version: &str) -> PathBuf {
        self.version_dir(tool, version)
            .join("node_modules")
            .join(".bin")
            .join(tool.bin(pins::pins()))
    }

    /// The executable of `brain` at `version` (whether or not it is installed).
    pub fn bin(&self, brain: Brain, version: &str) -> PathBuf {
        self.tool_bin(Tool::Brain(brain), version)
    }

    /// The managed Node's executable at `version`.
    pub fn node_bin(&self, version: &str) -> PathBuf {
        self.tool_bin(Tool::Node, version)
    }

    fn pointer(&self, tool: Tool, which: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.tool_dir(tool).join(which)).ok()?;
        let version = text.trim();
        valid_version(version).then(|| version.to_string())
    }

    /// The version PAIOS runs, if a managed copy was installed.
    pub fn current(&self, brain: Brain) -> Option<String> {
        self.pointer(Tool::Brain(brain), "current")
    }

    /// The version `rollback` returns to.
    pub fn previous(&self, brain: Brain) -> Option<String> {
        self.pointer(Tool::Brain(brain), "previous")
    }

    /// The managed Node's current version, if one was installed.
    pub fn current_node(&self) -> Option<String> {
        self.pointer(Tool::Node, "current")
    }

    fn is_installed(&self, tool: Tool, version: &str) -> bool {
        self.tool_bin(tool, version).exists()
    }

    /// Replace a pointer file atomically.
    fn set_pointer(&self, tool: Tool, which: &str, version: &str) -> Result<(), BrainsError> {
        let dir = self.tool_dir(tool);
        let target = dir.join(which);
        crate::atomic::write_atomic(
            &target,
            format!(
                "{version}
"
            )
            .as_bytes(),
            crate::atomic::Mode::Keep,
        )
        .map_err(|e| BrainsError::io(&target, e))?;
        Ok(())
    }

    /// Make `version` current, remembering the old current as `previous`.
    fn switch(&self, tool: Tool, version: &str) -> Result<Option<String>, BrainsError> {
        let old = self.pointer(tool, "current");
        if let Some(old) = old.as_deref().filter(|old| *old != version) {
            self.set_pointer(tool, "previous", old)?;
        }
        self.set_pointer(tool, "current", version)?;
        Ok(old)
    }

    /// Remove installed versions other than `current` and `previous` (each can be hundreds of
    /// megabytes); returns the removed versions.
    fn prune(&self, tool: Tool) -> Vec<String> {
        let keep = [
            self.pointer(tool, "current"),
            self.pointer(tool, "previous"),
        ];
        let Ok(entries) = std::fs::read_dir(self.tool_dir(tool)) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if valid_version(&name)
                && !keep.iter().any(|k| k.as_deref() == Some(name.as_str()))
                && remove_version_dir(&entry.path()).is_ok()
            {
                removed.push(name);
            }
        }
        removed.sort();
        removed
    }

    /// Hold the tool's lock for the life of the guard (waits for another command to finish).
    fn lock(&self, tool: Tool, progress: &dyn Fn(&str)) -> Result<File, BrainsError> {
        let dir = self.tool_dir(tool);
        crate::paths::create_private_dir(&dir).map_err(|e| BrainsError::io(&dir, e))?;
        let path = dir.join(".lock");
        let file = File::create(&path).map_err(|e| BrainsError::io(&path, e))?;
        if file.try_lock().is_err() {
            progress(&format!(
                "waiting for another `paios brains` command working on {}…",
                tool.name()
            ));
            file.lock().map_err(|_| BrainsError::Busy(dir.clone()))?;
        }
        Ok(file)
    }
}

/// Remove a version folder (or, for a linked one, just the link).
fn remove_version_dir(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        std::fs::remove_file(path)
    } else {
        std::fs::remove_dir_all(path)
    }
}

/// A version string we accept as a folder name (npm versions: digits, letters, `.`, `-`, `+`).
pub fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 64
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
}

/// What `install` did for one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// Already current at that version.
    AlreadyCurrent(String),
    /// Installed (or found installed) and made current.
    Switched {
        /// The version now current.
        version: String,
        /// The version current before, now `previous`; `None` if there was none.
        from: Option<String>,
    },
}

/// `paios brains install [NAME…]`: install the pinned versions and make them current, plus a
/// Node for the gateway when the system's is too old.
pub fn install(
    paths: &Paths,
    brains: &[Brain],
    progress: &dyn Fn(&str),
) -> Result<Vec<(Brain, Installed)>, BrainsError> {
    let pins = pins::pins();
    let layout = Layout::new(paths);
    crate::paths::create_private_dir(layout.root())
        .map_err(|e| BrainsError::io(layout.root(), e))?;
    if brains.iter().any(|b| b.needs_new_node()) {
        ensure_node(paths, progress)?;
    }
    let mut done = Vec::new();
    for &brain in brains {
        let pin = pins.brain(brain);
        let tool = Tool::Brain(brain);
        let _lock = layout.lock(tool, progress)?;
        let outcome = if layout.current(brain).as_deref() == Some(pin.version.as_str())
            && layout.is_installed(tool, &pin.version)
        {
            progress(&format!("{brain} {} is installed", pin.version));
            Installed::AlreadyCurrent(pin.version.clone())
        } else {
            let node_dir = node_dir_for(paths, tool);
            install_version(
                &layout,
                tool,
                &pin.package,
                &pin.version,
                node_dir.as_deref(),
                progress,
            )?;
            let from = layout.switch(tool, &pin.version)?;
            report_pruned(tool, layout.prune(tool), progress);
            Installed::Switched {
                version: pin.version.clone(),
                from,
            }
        };
        done.push((brain, outcome));
    }
    Ok(done)
}

fn report_pruned(tool: Tool, removed: Vec<String>, progress: &dyn Fn(&str)) {
    for version in removed {
        progress(&format!(
            "removed {} {version} (neither current nor previous)",
            tool.name()
        ));
    }
}

/// Install the pinned Node when the gateway could not run on the system's.
fn ensure_node(paths: &Paths, progress: &dyn Fn(&str)) -> Result<(), BrainsError> {
    let pins = pins::pins();
    let needed = pins.brain(Brain::Openclaw).node.clone().unwrap_or_default();
    let layout = Layout::new(paths);
    let pin = pins
        .node_for_this_platform()
        .map_err(BrainsError::NoNodeForPlatform);
    if let Some(system) = system_node_version()
        && super::version_satisfies(&system, &needed)
    {
        progress(&format!(
            "system Node {system} suits the gateway ({needed})"
        ));
        return Ok(());
    }
    let pin = pin?;
    let _lock = layout.lock(Tool::Node, progress)?;
    if layout.current_node().as_deref() == Some(pin.version.as_str())
        && layout.is_installed(Tool::Node, &pin.version)
    {
        progress(&format!(
            "Node {} (for the gateway) is installed",
            pin.version
        ));
        return Ok(());
    }
    install_version(
        &layout,
        Tool::Node,
        &pin.package,
        &pin.version,
        None,
        progress,
    )?;
    layout.switch(Tool::Node, &pin.version)?;
    report_pruned(Tool::Node, layout.prune(Tool::Node), progress);
    Ok(())
}

/// The version of `node` on PATH, if there is one.
fn system_node_version() -> Option<String> {
    let node = super::find_on_path("node")?;
    let out = Command::new(node).arg("--version").output().ok()?;
    super::parse_version(&String::from_utf8_lossy(&out.stdout))
}

/// The folder of the Node that npm must run a tool's install scripts with (the gateway's
/// scripts refuse an old Node), when it is not the system's.
fn node_dir_for(paths: &Paths, tool: Tool) -> Option<PathBuf> {
    match tool {
        Tool::Brain(brain) if brain.needs_new_node() => super::node(paths)
            .filter(|n| n.managed)
            .and_then(|n| n.path.parent().map(Path::to_path_buf)),
        _ => None,
    }
}

/// npm-install `package@version` as `tools/<tool>/<version>/` unless it is already there
/// (with `node_dir` first on PATH for install scripts). Returns whether anything was installed.
fn install_version(
    layout: &Layout,
    tool: Tool,
    package: &str,
    version: &str,
    node_dir: Option<&Path>,
    progress: &dyn Fn(&str),
) -> Result<bool, BrainsError> {
    if !valid_version(version) {
        return Err(BrainsError::Npm {
            spec: format!("{package}@{version}"),
            detail: "not a valid version (expected something like 1.2.3)".into(),
        });
    }
    if layout.is_installed(tool, version) {
        progress(&format!("{} {version} is already installed", tool.name()));
        return Ok(false);
    }
    let final_dir = layout.version_dir(tool, version);
    let parent = layout.tool_dir(tool);
    crate::paths::create_private_dir(&parent).map_err(|e| BrainsError::io(&parent, e))?;
    remove_stale_installs(&parent);
    // A folder from an older, interrupted run would block the rename.
    if std::fs::symlink_metadata(&final_dir).is_ok() {
        remove_version_dir(&final_dir).map_err(|e| BrainsError::io(&final_dir, e))?;
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".installing-{version}-"))
        .tempdir_in(&parent)
        .map_err(|e| BrainsError::io(&parent, e))?;
    let spec = format!("{package}@{version}");
    progress(&format!(
        "installing {} {version} ({spec}) with npm…",
        tool.name()
    ));
    let started = Instant::now();
    npm_install(tmp.path(), &spec, node_dir)?;
    if !tmp
        .path()
        .join("node_modules/.bin")
        .join(tool.bin(pins::pins()))
        .exists()
    {
        return Err(BrainsError::Npm {
            spec,
            detail: format!(
                "the package has no `{}` executable after installing",
                tool.bin(pins::pins())
            ),
        });
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, &final_dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&kept);
        BrainsError::io(&final_dir, e)
    })?;
    progress(&format!(
        "installed {} {version} in {:.0} s",
        tool.name(),
        started.elapsed().as_secs_f64()
    ));
    Ok(true)
}

/// Remove temp folders left by installs that were killed. Callers hold the tool's lock, so no
/// other install can be using one.
fn remove_stale_installs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(".installing-")
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Run npm, keeping its output off stdout (which carries JSON).
fn npm_install(prefix: &Path, spec: &str, node_dir: Option<&Path>) -> Result<(), BrainsError> {
    let mut cmd = npm()?;
    if let Some(dir) = node_dir {
        cmd.env("PATH", super::prepend_path(dir));
    }
    cmd.args(["install", "--prefix"])
        .arg(prefix)
        .args([
            "--no-fund",
            "--no-audit",
            "--no-update-notifier",
            "--loglevel=error",
            spec,
        ])
        .stdin(Stdio::null());
    die_with_parent(&mut cmd);
    let out = cmd
        .output()
        .map_err(|e| BrainsError::NpmMissing(e.to_string()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(BrainsError::Npm {
        spec: spec.to_string(),
        detail: npm_error_summary(&String::from_utf8_lossy(&out.stderr), out.status),
    })
}

/// The lines of npm's error output that say what went wrong.
fn npm_error_summary(stderr: &str, status: std::process::ExitStatus) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(|l| l.trim_start_matches("npm error").trim())
        .filter(|l| {
            !l.is_empty() && !l.starts_with("A complete log") && !l.starts_with("Note that")
        })
        .take(6)
        .collect();
    if lines.is_empty() {
        format!("npm exited with {status}")
    } else {
        lines.join("; ")
    }
}

/// On Linux, have the kernel kill npm when PAIOS dies (kill -9 included), so an interrupted
/// install does not keep writing into a folder the next run removes.
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

fn npm() -> Result<Command, BrainsError> {
    let npm = super::find_on_path("npm")
        .ok_or_else(|| BrainsError::NpmMissing("no `npm` on PATH".into()))?;
    let mut cmd = Command::new(npm);
    cmd.env("npm_config_update_notifier", "false");
    Ok(cmd)
}

/// The newest version of `brain` on the npm registry.
pub fn latest_version(brain: Brain) -> Result<String, BrainsError> {
    let package = &pins::pins().brain(brain).package;
    let out = npm()?
        .args(["view", package, "version"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BrainsError::NpmMissing(e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !valid_version(&text) {
        return Err(BrainsError::NpmView {
            package: package.clone(),
            detail: npm_error_summary(&String::from_utf8_lossy(&out.stderr), out.status),
        });
    }
    Ok(text)
}

/// What `upgrade` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgraded {
    /// The asked-for (or newest) version is already current and installed; nothing changed.
    AlreadyCurrent(String),
    /// The new version passed its smoke check and is now current.
    Switched {
        /// The version current before, now `previous`; `None` if there was none.
        from: Option<String>,
        /// The version now current.
        to: String,
    },
}

/// `paios brains upgrade NAME [--to VERSION]`: install side by side, smoke-check, switch only
/// on success (keeping the old one as `previous`). Records `brain.upgraded` or
/// `brain.upgrade_failed`.
pub fn upgrade(
    paths: &Paths,
    brain: Brain,
    to: Option<&str>,
    progress: &dyn Fn(&str),
) -> Result<Upgraded, BrainsError> {
    let layout = Layout::new(paths);
    let from = layout.current(brain);
    let result = (|| {
        let target = match to {
            Some(v) => v.trim().trim_start_matches('v').to_string(),
            None => {
                progress(&format!("looking up the newest {brain}…"));
                latest_version(brain)?
            }
        };
        let _lock = layout.lock(Tool::Brain(brain), progress)?;
        if from.as_deref() == Some(target.as_str())
            && layout.is_installed(Tool::Brain(brain), &target)
        {
            return Ok(Upgraded::AlreadyCurrent(target));
        }
        if brain.needs_new_node() {
            ensure_node(paths, progress)?;
        }
        let pin = pins::pins().brain(brain);
        let node_dir = node_dir_for(paths, Tool::Brain(brain));
        let fresh = install_version(
            &layout,
            Tool::Brain(brain),
            &pin.package,
            &target,
            node_dir.as_deref(),
            progress,
        )?;
        progress(&format!("checking {brain} {target}…"));
        if let Err(e) = smoke_check(paths, brain, &target, true) {
            // Drop a copy we just installed and that does not work; keep ones the user had.
            if fresh && from.as_deref() != Some(target.as_str()) {
                let _ = remove_version_dir(&layout.version_dir(Tool::Brain(brain), &target));
            }
            return Err(e);
        }
        let from = layout.switch(Tool::Brain(brain), &target)?;
        report_pruned(
            Tool::Brain(brain),
            layout.prune(Tool::Brain(brain)),
            progress,
        );
        Ok(Upgraded::Switched { from, to: target })
    })();
    match &result {
        Ok(Upgraded::Switched { from, to }) => record(
            paths,
            Event::new(kinds::BRAIN_UPGRADED, "brains")
                .subject(brain.name())
                .data(json!({ "from": from, "to": to })),
        ),
        Ok(Upgraded::AlreadyCurrent(_)) => {}
        Err(e) => record(
            paths,
            Event::new(kinds::BRAIN_UPGRADE_FAILED, "brains")
                .subject(brain.name())
                .data(json!({ "from": from, "to": to, "error": e.to_string() })),
        ),
    }
    result
}

/// `paios brains rollback NAME`: switch back to the previous version (after checking it still
/// starts). Records `brain.rolled_back`.
pub fn rollback(
    paths: &Paths,
    brain: Brain,
    progress: &dyn Fn(&str),
) -> Result<(Option<String>, String), BrainsError> {
    let layout = Layout::new(paths);
    let tool = Tool::Brain(brain);
    let _lock = layout.lock(tool, progress)?;
    let previous = layout
        .previous(brain)
        .ok_or_else(|| BrainsError::NoPrevious {
            brain,
            dir: layout.tool_dir(tool),
        })?;
    if !layout.is_installed(tool, &previous) {
        return Err(BrainsError::VersionMissing {
            brain,
            version: previous,
            dir: layout.tool_dir(tool),
        });
    }
    progress(&format!("checking {brain} {previous}…"));
    smoke_check(paths, brain, &previous, false)?;
    let from = layout.switch(tool, &previous)?;
    record(
        paths,
        Event::new(kinds::BRAIN_ROLLED_BACK, "brains")
            .subject(brain.name())
            .data(json!({ "from": from, "to": previous })),
    );
    Ok((from, previous))
}

fn record(paths: &Paths, event: Event) {
    crate::client::emit_quietly(paths, &event);
}

/// Check that the installed `version` of `brain` starts and reports that version; for the
/// gateway (with `validate_config`) also that it accepts the user's current config.
pub fn smoke_check(
    paths: &Paths,
    brain: Brain,
    version: &str,
    validate_config: bool,
) -> Result<(), BrainsError> {
    let fail = |detail: String| BrainsError::SmokeFailed {
        brain,
        version: version.to_string(),
        detail,
    };
    let exe = Layout::new(paths).bin(brain, version);
    let mut cmd = super::command_for(paths, brain, &exe)?;
    cmd.arg("--version");
    let out = run_with_timeout(cmd, SMOKE_TIMEOUT).map_err(&fail)?;
    let reported = super::parse_version(&out.stdout);
    if !out.success {
        return Err(fail(format!(
            "`{brain} --version` failed: {}",
            tail(&out.stderr)
        )));
    }
    if reported.as_deref() != Some(version) {
        return Err(fail(format!(
            "`{brain} --version` reported {:?}, expected {version}",
            out.stdout.trim()
        )));
    }
    if brain == Brain::Openclaw && validate_config {
        let config = openclaw_config_path();
        if config.as_ref().is_some_and(|c| c.exists()) {
            let mut cmd = super::command_for(paths, brain, &exe)?;
            cmd.args(["config", "validate", "--json"]);
            let out = run_with_timeout(cmd, SMOKE_TIMEOUT).map_err(&fail)?;
            if !out.success {
                return Err(fail(format!(
                    "it rejects the current gateway config {}: {}",
                    config.unwrap_or_default().display(),
                    tail(&format!("{}\n{}", out.stdout, out.stderr))
                )));
            }
        }
    }
    Ok(())
}

/// The gateway config the user runs with (`OPENCLAW_CONFIG_PATH`, else the default location).
fn openclaw_config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OPENCLAW_CONFIG_PATH").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(dir) = std::env::var_os("OPENCLAW_STATE_DIR").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(dir).join("openclaw.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".openclaw/openclaw.json"))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(8);
    let joined = lines[start..].join(" | ");
    if joined.is_empty() {
        "(no output)".into()
    } else {
        joined
    }
}

/// A finished process's output.
#[derive(Debug, Clone)]
pub struct Output {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output, lossily decoded as UTF-8.
    pub stdout: String,
    /// Its standard error, lossily decoded as UTF-8.
    pub stderr: String,
}

/// Run a command with no stdin, capturing its output; kill it after `timeout`.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let stdout = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} did not finish within {} s",
                    timeout.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    Ok(Output {
        success: status.success(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pointers_switch_and_remember_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::at(dir.path());
        let tool = Tool::Brain(Brain::Codex);
        std::fs::create_dir_all(layout.tool_dir(tool)).unwrap();
        assert_eq!(layout.current(Brain::Codex), None);
        layout.switch(tool, "0.1.0").unwrap();
        assert_eq!(layout.current(Brain::Codex).as_deref(), Some("0.1.0"));
        assert_eq!(layout.previous(Brain::Codex), None);
        layout.switch(tool, "0.2.0").unwrap();
        assert_eq!(layout.current(Brain::Codex).as_deref(), Some("0.2.0"));
        assert_eq!(layout.previous(Brain::Codex).as_deref(), Some("0.1.0"));
    }

    #[test]
    fn pruning_keeps_only_current_and_previous() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::at(dir.path());
        let tool = Tool::Brain(Brain::Codex);
        for v in ["0.1.0", "0.2.0", "0.3.0"] {
            std::fs::create_dir_all(layout.version_dir(tool, v)).unwrap();
            layout.switch(tool, v).unwrap();
        }
        std::fs::create_dir_all(layout.tool_dir(tool).join("not-a-version")).unwrap();
        assert_eq!(layout.prune(tool), ["0.1.0"]);
        assert!(layout.version_dir(tool, "0.2.0").exists());
        assert!(layout.version_dir(tool, "0.3.0").exists());
        assert!(layout.tool_dir(tool).join("not-a-version").exists());
    }

    #[test]
    fn a_garbled_pointer_counts_as_no_install() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::at(dir.path());
        std::fs::create_dir_all(dir.path().join("claude")).unwrap();
        std::fs::write(dir.path().join("claude/current"), "../../etc\n").unwrap();
        assert_eq!(layout.current(Brain::Claude), None);
    }

    #[test]
    fn npm_errors_are_summarised() {
        let stderr = "npm error code ETARGET\nnpm error notarget No matching version found for x@9.9.9.\nnpm error A complete log of this run can be found in: somewhere\n";
        let summary = npm_error_summary(stderr, std::process::ExitStatus::default());
        assert!(summary.contains("No matching version"), "{summary}");
        assert!(!summary.contains("complete log"), "{summary}");
    }

    proptest! {
        #[test]
        fn only_plain_versions_become_folder_names(s in ".*") {
            if valid_version(&s) {
                prop_assert!(!s.contains('/') && !s.starts_with('.'));
            }
        }
    }
}
