//! `paios hooks install|uninstall`: add PAIOS's hooks to Claude Code's `settings.json`
//! (`$CLAUDE_CONFIG_DIR`, default `~/.claude`) and Codex's `hooks.json` (`$CODEX_HOME`, default
//! `~/.codex`), and take them out again.
//!
//! Rules: idempotent (installing twice changes nothing); the user's other settings and hooks are
//! kept as they are; the first change keeps a backup next to the file (`*.paios-backup`); every
//! write is atomic (temp file + rename in the same folder), so a crash leaves the old or the new
//! file, never half of one. Uninstall removes exactly the entries PAIOS added.
//!
//! With `--statusline`, install also sets Claude Code's `statusLine` to `paios statusline`
//! ([`install_statusline`]); a status line of the user's own is never replaced. Uninstall takes
//! PAIOS's status line out with its hooks, and leaves anyone else's.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// Marks the hook commands PAIOS owns (the command line always contains it).
const MARK: &str = " hook ";

/// Why `paios hooks install|uninstall` could not update a settings file. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// The file is not JSON, or not of the shape PAIOS can add to (its top level or `hooks` is
    /// not an object, or a hooked event is not a list); PAIOS leaves it to the user.
    #[error(
        "{path} is not valid JSON ({message}); fix or move it, then run `paios hooks install` again"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The setting is the user's own (a `statusLine` that is not PAIOS's) and is not replaced.
    #[error("{path}: {message}")]
    Taken {
        /// The file.
        path: PathBuf,
        /// Which setting is taken and what it runs.
        message: String,
    },
    /// The folder, the backup or the new file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file (the link's target when the settings file is a symlink).
        path: PathBuf,
        /// The write error.
        source: std::io::Error,
    },
}

/// Which brain's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Claude Code: `settings.json` in `$CLAUDE_CONFIG_DIR`, default `~/.claude`.
    Claude,
    /// Codex: `hooks.json` in `$CODEX_HOME`, default `~/.codex`.
    Codex,
}

impl Target {
    /// The brain's name, as passed to `paios hook --brain`: `claude` or `codex`.
    pub fn name(self) -> &'static str {
        match self {
            Target::Claude => "claude",
            Target::Codex => "codex",
        }
    }

    /// The file this target's hooks live in.
    pub fn settings_file(self) -> Option<PathBuf> {
        let env_dir = |var: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = super::policy::home_dir();
        match self {
            Target::Claude => env_dir("CLAUDE_CONFIG_DIR")
                .or_else(|| home.map(|h| h.join(".claude")))
                .map(|d| d.join("settings.json")),
            Target::Codex => env_dir("CODEX_HOME")
                .or_else(|| home.map(|h| h.join(".codex")))
                .map(|d| d.join("hooks.json")),
        }
    }

    /// Events PAIOS hooks, and the `paios hook` sub-command for each.
    fn events(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Target::Claude => &[
                ("PreToolUse", "pre-tool-use"),
                ("PostToolUse", "post-tool-use"),
                ("SessionStart", "session-start"),
                ("Stop", "stop"),
            ],
            Target::Codex => &[
                ("PreToolUse", "pre-tool-use"),
                ("PostToolUse", "post-tool-use"),
                ("SessionStart", "session-start"),
                ("Stop", "stop"),
            ],
        }
    }
}

/// What install/uninstall did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The file looked at; when it was changed through a symlink, the link's target.
    pub path: PathBuf,
    /// Whether the file was written (`false`: it already said what it should, or was absent on
    /// uninstall).
    pub changed: bool,
    /// The backup made by this run; `None` when nothing changed, the file did not exist before,
    /// or a backup from an earlier change was already there.
    pub backup: Option<PathBuf>,
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command line a hook runs: `'<paios>' --home '<home>' hook <event> --brain <brain>`.
pub fn hook_command(paios: &Path, home: &Path, sub: &str, target: Target) -> String {
    format!(
        "{} --home {}{MARK}{sub} --brain {}",
        shell_quote(&paios.display().to_string()),
        shell_quote(&home.display().to_string()),
        target.name()
    )
}

/// The command Claude Code's status line runs: `'<paios>' --home '<home>' statusline`.
pub fn statusline_command(paios: &Path, home: &Path) -> String {
    format!(
        "{} --home {}{STATUSLINE_MARK}",
        shell_quote(&paios.display().to_string()),
        shell_quote(&home.display().to_string()),
    )
}

/// Ends the status line command PAIOS owns.
const STATUSLINE_MARK: &str = " statusline";

fn is_our_statusline(setting: &Value) -> bool {
    setting
        .get("command")
        .and_then(Value::as_str)
        .is_some_and(|c| c.ends_with(STATUSLINE_MARK) && c.contains("paios"))
}

fn is_ours(handler: &Value) -> bool {
    handler
        .get("command")
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains(MARK) && c.contains("--brain") && c.contains("paios"))
}

fn read_json(path: &Path) -> Result<Option<Value>, InstallError> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(Some(json!({}))),
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| InstallError::Invalid {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(InstallError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Remove PAIOS's handlers from a settings object; returns whether anything was removed. Only
/// what PAIOS's removal empties goes with them: the user's own entries, even empty ones, stay.
fn strip(settings: &mut Value) -> bool {
    let mut removed = false;
    if settings.get("statusLine").is_some_and(is_our_statusline)
        && let Some(o) = settings.as_object_mut()
    {
        o.remove("statusLine");
        removed = true;
    }
    strip_hooks(settings) || removed
}

fn strip_hooks(settings: &mut Value) -> bool {
    let Some(hooks) = settings.get_mut("hooks").and_then(Value::as_object_mut) else {
        return false;
    };
    let mut removed = false;
    let mut emptied_events = Vec::new();
    for (event, groups) in hooks.iter_mut() {
        let Some(groups) = groups.as_array_mut() else {
            continue;
        };
        let mut emptied = vec![false; groups.len()];
        for (group, emptied) in groups.iter_mut().zip(&mut emptied) {
            if let Some(handlers) = group.get_mut("hooks").and_then(Value::as_array_mut) {
                let before = handlers.len();
                handlers.retain(|h| !is_ours(h));
                if handlers.len() != before {
                    removed = true;
                    *emptied = handlers.is_empty();
                }
            }
        }
        let mut emptied = emptied.into_iter();
        let had_groups = !groups.is_empty();
        groups.retain(|_| !emptied.next().unwrap_or(false));
        if had_groups && groups.is_empty() {
            emptied_events.push(event.clone());
        }
    }
    for event in &emptied_events {
        hooks.remove(event);
    }
    if hooks.is_empty()
        && !emptied_events.is_empty()
        && let Some(o) = settings.as_object_mut()
    {
        o.remove("hooks");
    }
    removed
}

/// The settings' `hooks` must be an object of arrays for PAIOS to add to it; anything else is
/// the user's to sort out, not PAIOS's to replace.
fn check_shape(file: &Path, settings: &Value, events: &[(&str, &str)]) -> Result<(), InstallError> {
    let invalid = |message: String| InstallError::Invalid {
        path: file.to_path_buf(),
        message,
    };
    let Some(hooks) = settings.get("hooks") else {
        return Ok(());
    };
    let Some(hooks) = hooks.as_object() else {
        return Err(invalid(
            "`hooks` is not an object; PAIOS will not replace it (fix or remove it, then run this again)"
                .into(),
        ));
    };
    for (event, _) in events {
        if hooks.get(*event).is_some_and(|list| !list.is_array()) {
            return Err(invalid(format!(
                "`hooks.{event}` is not a list; PAIOS will not replace it (fix or remove it, then run this again)"
            )));
        }
    }
    Ok(())
}

/// Add PAIOS's hooks (replacing older PAIOS entries) to the target's file.
pub fn install(
    target: Target,
    file: &Path,
    paios: &Path,
    home: &Path,
    timeout_s: u64,
) -> Result<Outcome, InstallError> {
    let original = read_json(file)?;
    let mut settings = original.clone().unwrap_or_else(|| json!({}));
    if !settings.is_object() {
        return Err(InstallError::Invalid {
            path: file.to_path_buf(),
            message: "the top level is not an object".into(),
        });
    }
    check_shape(file, &settings, target.events())?;
    strip_hooks(&mut settings);
    let hooks = settings
        .as_object_mut()
        .expect("checked above")
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .expect("checked by check_shape");
    for (event, sub) in target.events() {
        // PreToolUse may wait for a person: give it the approval timeout plus a margin.
        let timeout = if *sub == "pre-tool-use" {
            timeout_s.saturating_add(60)
        } else {
            30
        };
        let group = json!({
            "matcher": "*",
            "hooks": [{
                "type": "command",
                "command": hook_command(paios, home, sub, target),
                "timeout": timeout,
            }]
        });
        hooks
            .entry(event.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .expect("checked by check_shape")
            .push(group);
    }
    write_if_changed(file, original.as_ref(), &settings)
}

/// Set Claude Code's `statusLine` in `file` to `paios statusline` (keeping every other
/// setting; a PAIOS status line already there is brought up to date). A status line of the
/// user's own is left as it is and refused with an error naming it.
pub fn install_statusline(file: &Path, paios: &Path, home: &Path) -> Result<Outcome, InstallError> {
    let original = read_json(file)?;
    let mut settings = original.clone().unwrap_or_else(|| json!({}));
    let Some(object) = settings.as_object_mut() else {
        return Err(InstallError::Invalid {
            path: file.to_path_buf(),
            message: "the top level is not an object".into(),
        });
    };
    if let Some(theirs) = object.get("statusLine").filter(|s| !is_our_statusline(s)) {
        let command = theirs.get("command").and_then(Value::as_str).unwrap_or("?");
        return Err(InstallError::Taken {
            path: file.to_path_buf(),
            message: format!(
                "`statusLine` already runs `{command}`; PAIOS will not replace it (remove it, then run this again)"
            ),
        });
    }
    object.insert(
        "statusLine".into(),
        json!({"type": "command", "command": statusline_command(paios, home)}),
    );
    write_if_changed(file, original.as_ref(), &settings)
}

/// Remove PAIOS's hooks (and its status line) from the target's file.
pub fn uninstall(file: &Path) -> Result<Outcome, InstallError> {
    let Some(original) = read_json(file)? else {
        return Ok(Outcome {
            path: file.to_path_buf(),
            changed: false,
            backup: None,
        });
    };
    let mut settings = original.clone();
    strip(&mut settings);
    write_if_changed(file, Some(&original), &settings)
}

fn write_if_changed(
    file: &Path,
    original: Option<&Value>,
    new: &Value,
) -> Result<Outcome, InstallError> {
    if original == Some(new) {
        return Ok(Outcome {
            path: file.to_path_buf(),
            changed: false,
            backup: None,
        });
    }
    // A settings file kept elsewhere (dotfiles) and linked here is updated where it lives;
    // replacing the link with a file would leave the user's copy behind.
    let resolved;
    let file = if std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink()) {
        resolved = std::fs::canonicalize(file).map_err(|source| InstallError::Write {
            path: file.to_path_buf(),
            source,
        })?;
        resolved.as_path()
    } else {
        file
    };
    let err = |source| InstallError::Write {
        path: file.to_path_buf(),
        source,
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut backup = None;
    if original.is_some() {
        let name = format!(
            "{}.paios-backup",
            file.file_name().unwrap_or_default().to_string_lossy()
        );
        let b = dir.join(name);
        if !b.exists() {
            std::fs::copy(file, &b).map_err(err)?;
            backup = Some(b);
        }
    }
    let mut text = serde_json::to_string_pretty(new).expect("JSON values serialise");
    text.push('\n');
    crate::atomic::write_atomic(file, text.as_bytes(), crate::atomic::Mode::Keep).map_err(err)?;
    Ok(Outcome {
        path: file.to_path_buf(),
        changed: true,
        backup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_is_idempotent_keeps_other_hooks_and_uninstall_restores() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        let user = json!({
            "model": "x",
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "my-check"}]}]}
        });
        std::fs::write(&file, serde_json::to_string(&user).unwrap()).unwrap();
        let paios = Path::new("/opt/paios bin/paios");
        let home = Path::new("/h");
        let first = install(Target::Claude, &file, paios, home, 300).unwrap();
        assert!(first.changed && first.backup.is_some());
        let after: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(after["model"], "x");
        let pre = after["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(pre.len(), 2);
        assert_eq!(pre[0]["hooks"][0]["command"], "my-check");
        assert!(
            pre[1]["hooks"][0]["command"]
                .as_str()
                .unwrap()
                .starts_with("'/opt/paios bin/paios' --home /h hook pre-tool-use")
        );
        let again = install(Target::Claude, &file, paios, home, 300).unwrap();
        assert!(!again.changed);
        let out = uninstall(&file).unwrap();
        assert!(out.changed);
        let restored: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(restored, user);
    }

    #[test]
    fn settings_that_are_not_json_or_of_another_shape_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        for (text, said) in [
            ("{ nope", "not valid JSON"),
            (r#"{"hooks": "oops"}"#, "will not replace it"),
            (
                r#"{"hooks": {"PreToolUse": {"matcher": "Bash", "hooks": []}}}"#,
                "will not replace it",
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            let paios = Path::new("paios");
            let e = install(Target::Claude, &file, paios, Path::new("/h"), 1)
                .unwrap_err()
                .to_string();
            assert!(e.contains(said), "{e}");
            assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        }
    }

    #[test]
    fn the_status_line_is_set_once_keeps_other_settings_and_goes_with_uninstall() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        let user = json!({"model": "opus", "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}});
        std::fs::write(&file, serde_json::to_string(&user).unwrap()).unwrap();
        let (paios, home) = (Path::new("/opt/paios bin/paios"), Path::new("/h"));
        let first = install_statusline(&file, paios, home).unwrap();
        assert!(first.changed);
        assert!(first.backup.is_some(), "the first change keeps a backup");
        let after: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(after["model"], "opus");
        assert_eq!(after["hooks"], user["hooks"]);
        assert_eq!(after["statusLine"]["type"], "command");
        assert_eq!(
            after["statusLine"]["command"],
            "'/opt/paios bin/paios' --home /h statusline"
        );
        let text = std::fs::read_to_string(&file).unwrap();
        let again = install_statusline(&file, paios, home).unwrap();
        assert!(!again.changed, "installing twice changes nothing");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        // With the hooks too, then out again: the user's file as it was.
        install(Target::Claude, &file, paios, home, 300).unwrap();
        assert!(uninstall(&file).unwrap().changed);
        let back: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(back, user);
        // Someone else's status line is theirs.
        let theirs = json!({"statusLine": {"type": "command", "command": "~/bin/line.sh"}});
        std::fs::write(&file, theirs.to_string()).unwrap();
        let err = install_statusline(&file, paios, home)
            .unwrap_err()
            .to_string();
        assert!(err.contains("~/bin/line.sh"), "{err}");
        assert!(!uninstall(&file).unwrap().changed);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), theirs.to_string());
    }

    #[test]
    fn uninstall_keeps_the_users_own_empty_entries() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.json");
        let user =
            json!({"hooks": {"Notification": [], "PostToolUse": [{"matcher": "x", "hooks": []}]}});
        std::fs::write(&file, user.to_string()).unwrap();
        install(
            Target::Claude,
            &file,
            Path::new("paios"),
            Path::new("/h"),
            1,
        )
        .unwrap();
        uninstall(&file).unwrap();
        let after: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(after, user);
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_settings_file_is_updated_where_it_lives() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles").join("settings.json");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, r#"{"model": "x"}"#).unwrap();
        let link = dir.path().join("settings.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        install(
            Target::Claude,
            &link,
            Path::new("paios"),
            Path::new("/h"),
            1,
        )
        .unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let after: Value = serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
        assert_eq!(after["model"], "x");
        assert!(after["hooks"]["PreToolUse"].is_array());
    }
}
