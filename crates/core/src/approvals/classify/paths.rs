//! Paths: the one normaliser every path rule and every temporary-folder check goes through
//! (`~`, `~user`, the working folder, `.` and `..`), the path rules for files read, written and
//! deleted, and the project and temporary-folder boundaries.
//!
//! A path that starts inside a temporary folder and climbs out of it with `..`
//! (`/var/tmp/../etc`, `$TMPDIR/../etc`) is a way around the temporary-folder rules, whatever it
//! resolves to: deleting it is `never`.

use std::path::{Component, Path, PathBuf};

use super::rules::{clip, positional};
use super::{Context, Hit, SimpleCommand, Word, hit};
use crate::approvals::policy::{Access, Decision, Policy};

/// What a command does to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Read,
    Write,
    Delete,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Op::Read => "reads",
            Op::Write => "writes",
            Op::Delete => "deletes",
        }
    }

    fn deletes(self) -> bool {
        self == Op::Delete
    }
}

/// A path as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resolved {
    /// Absolute, `~` expanded, `.` and `..` removed lexically.
    pub path: String,
    /// It went into this temporary folder and climbed back out of it with `..`.
    pub left_temp: Option<String>,
}

/// The `$TMPDIR` spellings a word may start with.
const TMPDIR_PREFIXES: &[&str] = &[
    "${TMPDIR:-/tmp}",
    "${TMPDIR:-/tmp/}",
    "${TMPDIR-/tmp}",
    "${TMPDIR}",
    "$TMPDIR",
];

impl Policy {
    /// The temporary folders: the policy's `temp_dirs` and `$TMPDIR`.
    fn temp_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.set("temp_dirs").iter().map(PathBuf::from).collect();
        if let Some(t) = std::env::var_os("TMPDIR").filter(|t| !t.is_empty()) {
            dirs.push(PathBuf::from(t));
        }
        dirs
    }

    /// `path` is a temporary folder or inside one.
    fn in_temp(&self, path: &Path) -> Option<PathBuf> {
        self.temp_dirs().into_iter().find(|t| path.starts_with(t))
    }

    /// Resolve `raw` like [`normalize`], noting whether it went into a temporary folder and
    /// climbed out of it.
    pub(super) fn resolve(
        &self,
        raw: &str,
        cwd: Option<&Path>,
        home: Option<&Path>,
    ) -> Option<Resolved> {
        let expanded = expand(raw, cwd, home)?;
        let Some(expanded) = expanded else {
            // A relative path without a known working folder stays as written.
            return Some(Resolved {
                path: raw.to_string(),
                left_temp: None,
            });
        };
        let mut parts: Vec<String> = Vec::new();
        let mut entered: Option<PathBuf> = None;
        for c in expanded.components() {
            match c {
                Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
                Component::ParentDir => {
                    parts.pop();
                }
                Component::Normal(s) => {
                    parts.push(s.to_string_lossy().into_owned());
                    if entered.is_none() {
                        let so_far = PathBuf::from(format!("/{}", parts.join("/")));
                        entered = self.in_temp(&so_far);
                    }
                }
            }
        }
        let path = format!("/{}", parts.join("/"));
        let left_temp = entered
            .filter(|t| !Path::new(&path).starts_with(t))
            .map(|t| t.display().to_string());
        Some(Resolved { path, left_temp })
    }

    /// Hits for reading, writing or deleting one path.
    pub(super) fn path_hits(
        &self,
        raw: &str,
        dynamic: bool,
        op: Op,
        ctx: &Context,
        cwd: Option<&Path>,
    ) -> Vec<Hit> {
        let verb = op.verb();
        if dynamic {
            if op.deletes() && climbs_out_of_tmpdir(raw) {
                return vec![temp_escape(raw)];
            }
            return if op == Op::Read {
                Vec::new()
            } else {
                vec![hit(
                    Decision::Ask,
                    "path.dynamic",
                    format!("{verb} a file whose name is only known when it runs: {raw}"),
                )]
            };
        }
        let Some(resolved) = self.resolve(raw, cwd, ctx.home.as_deref()) else {
            return vec![hit(
                Decision::Ask,
                "path.unknown",
                format!("{verb} {raw}, which cannot be resolved"),
            )];
        };
        let mut hits = Vec::new();
        if op.deletes() && resolved.left_temp.is_some() {
            hits.push(temp_escape(raw));
        }
        let path = resolved.path;
        hits.extend(self.hits_at(&path, op, ctx, cwd));
        // Through links that exist now (`ln -s ~ h`, then `h/.ssh/…`): the place it really is
        // is judged too, against the project folder's own real place.
        if let Some(real) = through_links(&path) {
            let real_cwd = cwd.and_then(|c| std::fs::canonicalize(c).ok());
            let mut real_hits = self.hits_at(&real, op, ctx, real_cwd.as_deref().or(cwd));
            // A temporary folder may itself be a link (`/tmp` → `/private/tmp` on macOS).
            let in_real_temp = || {
                self.temp_dirs()
                    .into_iter()
                    .filter_map(|t| std::fs::canonicalize(t).ok())
                    .any(|t| Path::new(&real).starts_with(t))
            };
            real_hits.retain(|h| {
                h.decision > Decision::Safe
                    && !(matches!(
                        h.rule.as_str(),
                        "path.outside-project" | "path.delete-inside-project"
                    ) && in_real_temp())
            });
            hits.extend(real_hits);
        }
        hits
    }

    /// The path rules for one normalised path, and the project boundary for a write or delete.
    fn hits_at(&self, path: &str, op: Op, ctx: &Context, cwd: Option<&Path>) -> Vec<Hit> {
        let changes = op != Op::Read;
        let mut hits: Vec<Hit> = self
            .path
            .iter()
            .filter(|r| match r.access {
                Access::Any => true,
                Access::Write => changes,
                Access::Read => !changes,
            })
            .filter(|r| r.covers(path))
            .map(|r| hit(r.decision, &r.id, format!("{}: {path}", r.reason)))
            .collect();
        if !changes {
            return hits;
        }
        if let Some(state) = &ctx.paios_home
            && Path::new(path).starts_with(state)
        {
            hits.push(hit(
                Decision::Never,
                "path.paios-state",
                format!("changes PAIOS's own state (would bypass this gate): {path}"),
            ));
        }
        if !hits.is_empty() {
            return hits;
        }
        let p = Path::new(path);
        let below_temp = self.in_temp(p).is_some_and(|t| p != t);
        let in_project = cwd.is_some_and(|c| p.starts_with(c));
        hits.push(match op {
            // The project first: a project may itself live in a temporary folder.
            Op::Delete if in_project => hit(
                self.defaults.delete_inside_project,
                "path.delete-inside-project",
                format!("deletes inside the project: {path}"),
            ),
            Op::Delete if below_temp => hit(
                Decision::Safe,
                "path.delete-temp",
                format!("deletes inside a temporary folder: {path}"),
            ),
            Op::Write if self.inside_project(path, cwd) => hit(
                self.defaults.write_inside_project,
                "path.inside-project",
                format!("writes inside the project: {path}"),
            ),
            _ => hit(
                self.defaults.write_outside_project,
                "path.outside-project",
                format!("{} outside the project: {path}", op.verb()),
            ),
        });
        hits
    }

    /// Inside the session's folder or a temporary folder: where the agent writes freely.
    pub(super) fn inside_project(&self, path: &str, cwd: Option<&Path>) -> bool {
        let path = Path::new(path);
        cwd.is_some_and(|c| path.starts_with(c)) || self.in_temp(path).is_some()
    }

    /// The read rules (secrets) for an argument a command reads.
    pub(super) fn read_hits(&self, w: &Word, ctx: &Context, cwd: Option<&Path>) -> Vec<Hit> {
        let mut hits = Vec::new();
        for text in brace_alternatives(&w.text) {
            if let Some(p) = normalize(&text, cwd, ctx.home.as_deref()) {
                for r in &self.path {
                    if r.access != Access::Write && r.covers(&p) {
                        hits.push(hit(r.decision, &r.id, format!("{}: {}", r.reason, w.text)));
                    }
                }
            }
        }
        hits
    }

    /// A deleting program (`rm`, `rmdir`, `unlink`, `shred`, `truncate`): each file it deletes,
    /// judged by where it is.
    pub(super) fn delete_hits(
        &self,
        cmd: &SimpleCommand,
        program: &str,
        text: &str,
        ctx: &Context,
        cwd: Option<&Path>,
    ) -> Vec<Hit> {
        let with_value = self.options_with_value(program);
        let targets = positional(cmd, &with_value);
        if targets.is_empty() {
            return vec![hit(
                Decision::Safe,
                "shell.delete-nothing",
                format!("names nothing to delete: {}", clip(text)),
            )];
        }
        let mut hits = Vec::new();
        for w in targets {
            for path in brace_alternatives(&w.text) {
                hits.extend(self.path_hits(&path, w.dynamic, Op::Delete, ctx, cwd));
            }
        }
        // `rmdir` only ever removes empty folders: inside the project nothing is lost.
        if program == "rmdir" {
            for h in hits
                .iter_mut()
                .filter(|h| h.rule == "path.delete-inside-project")
            {
                *h = hit(
                    Decision::Safe,
                    "path.rmdir-inside-project",
                    format!("removes empty folders inside the project: {}", clip(text)),
                );
            }
        }
        hits
    }

    /// `PATH=…` with a folder the agent can write first (the project, a temporary folder, a
    /// relative folder or one only known when it runs): any program name could then run a
    /// file the agent wrote, so `PATH=.:$PATH ls` is not `ls`.
    pub(super) fn search_path_hit(
        &self,
        cmd: &SimpleCommand,
        ctx: &Context,
        cwd: Option<&Path>,
    ) -> Option<Hit> {
        let value = &cmd.env.iter().rfind(|a| a.name == "PATH")?.value;
        let writable = value.text.split(':').find(|entry| match *entry {
            "$PATH" | "${PATH}" => false,
            e if e.contains(['$', '`']) || !(e.starts_with('/') || e.starts_with('~')) => true,
            e => {
                normalize(e, cwd, ctx.home.as_deref()).is_none_or(|p| self.inside_project(&p, cwd))
            }
        })?;
        Some(hit(
            Decision::Ask,
            "shell.search-path",
            format!(
                "puts a folder the agent can write, or one only known when it runs, on PATH: {}",
                clip(if writable.is_empty() {
                    "(the current folder)"
                } else {
                    writable
                })
            ),
        ))
    }
}

fn temp_escape(raw: &str) -> Hit {
    hit(
        Decision::Never,
        "path.delete-temp-escape",
        format!(
            "deletes a path that climbs out of a temporary folder with `..`: {}",
            clip(raw)
        ),
    )
}

/// `$TMPDIR/../etc`, `${TMPDIR:-/tmp}/a/../../x`: a word that starts in the temporary folder
/// (whatever it is when the command runs) and climbs out of it.
fn climbs_out_of_tmpdir(raw: &str) -> bool {
    let raw = raw.trim_matches('"');
    let Some(rest) = TMPDIR_PREFIXES.iter().find_map(|p| raw.strip_prefix(p)) else {
        return false;
    };
    if !(rest.is_empty() || rest.starts_with('/')) || rest.contains(['$', '`']) {
        return false;
    }
    let mut depth: i64 = 0;
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// `~`, `~/x`, `~user/x`, absolute or relative to `cwd`: `Some(None)` when a relative path has
/// no known base; `None` when the user is unknown.
fn expand(raw: &str, cwd: Option<&Path>, home: Option<&Path>) -> Option<Option<PathBuf>> {
    Some(Some(if raw == "~" {
        home?.to_path_buf()
    } else if let Some(rest) = raw.strip_prefix("~/") {
        home?.join(rest)
    } else if let Some(named) = raw.strip_prefix('~') {
        // `~user/…`: that user's home folder, from the user database.
        let (user, rest) = named.split_once('/').unwrap_or((named, ""));
        let home = nix::unistd::User::from_name(user).ok().flatten()?.dir;
        home.join(rest)
    } else if raw.starts_with('/') {
        PathBuf::from(raw)
    } else {
        match cwd {
            Some(c) => c.join(raw),
            None => return Some(None),
        }
    }))
}

/// Resolve `~` and `~user`, make relative paths absolute against `cwd`, and remove `.`/`..`
/// lexically. `None` when the user is unknown; a relative path without a known base stays as
/// written.
pub fn normalize(raw: &str, cwd: Option<&Path>, home: Option<&Path>) -> Option<String> {
    let Some(expanded) = expand(raw, cwd, home)? else {
        return Some(raw.to_string());
    };
    let mut parts: Vec<String> = Vec::new();
    for c in expanded.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

pub(super) fn is_harmless_device(path: &str) -> bool {
    matches!(
        path,
        "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/stdin" | "/dev/tty" | "-"
    ) || path.starts_with("/dev/fd/")
}

/// The words bash's brace expansion makes of `text` (`a{b,c}d` → `abd`, `acd`; nested and
/// repeated braces too), at most [`MAX_ALTERNATIVES`]; `text` itself when it has none.
pub(super) fn brace_alternatives(text: &str) -> Vec<String> {
    const MAX_ALTERNATIVES: usize = 256;
    let mut done = Vec::new();
    let mut todo = vec![text.to_string()];
    while let Some(word) = todo.pop() {
        match first_brace_list(&word) {
            Some((open, close, commas))
                if done.len() + todo.len() + commas.len() < MAX_ALTERNATIVES =>
            {
                let (prefix, suffix) = (&word[..open], &word[close + 1..]);
                let mut start = open + 1;
                for end in commas.into_iter().chain([close]) {
                    todo.push(format!("{prefix}{}{suffix}", &word[start..end]));
                    start = end + 1;
                }
            }
            _ => done.push(word),
        }
    }
    done
}

/// The first `{…,…}` of `text`: its braces' and top-level commas' byte offsets.
fn first_brace_list(text: &str) -> Option<(usize, usize, Vec<usize>)> {
    let bytes = text.as_bytes();
    for open in (0..bytes.len()).filter(|&i| bytes[i] == b'{') {
        let (mut depth, mut commas) = (0usize, Vec::new());
        for (i, &b) in bytes.iter().enumerate().skip(open) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        if !commas.is_empty() {
                            return Some((open, i, commas));
                        }
                        break;
                    }
                }
                b',' if depth == 1 => commas.push(i),
                _ => {}
            }
        }
    }
    None
}

/// Where `path` really is when a folder on its way is a link (the longest part of it that
/// exists, resolved, with the rest appended); `None` when that is `path` itself.
fn through_links(path: &str) -> Option<String> {
    let path = Path::new(path);
    let mut existing = path;
    let mut rest = Vec::new();
    while !existing.exists() {
        rest.push(existing.file_name()?);
        existing = existing.parent()?;
    }
    let mut real = std::fs::canonicalize(existing).ok()?;
    for part in rest.iter().rev() {
        real.push(part);
    }
    let real = real.to_string_lossy().into_owned();
    (real != path.to_string_lossy()).then_some(real)
}

/// The program is named bare (found on PATH) or by a path in one of the system's program
/// folders.
pub(super) fn from_a_system_folder(cmd: &SimpleCommand) -> bool {
    const FOLDERS: &[&str] = &[
        "/bin/",
        "/sbin/",
        "/usr/bin/",
        "/usr/sbin/",
        "/usr/local/bin/",
        "/opt/homebrew/bin/",
    ];
    cmd.argv.first().is_none_or(|w| {
        !w.text.contains('/')
            || FOLDERS.iter().any(|f| {
                w.text
                    .strip_prefix(f)
                    .is_some_and(|rest| !rest.contains('/'))
            })
    })
}
