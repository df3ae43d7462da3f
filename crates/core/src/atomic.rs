//! Whole-file writes that a crash, a full disk or a kill -9 can never leave half done.
//!
//! Every file PAIOS writes in one piece — its own files (`token`, `api.port`, `paios.toml`, the
//! brains' pointer files, service units) and the brains' settings it edits (hooks, MCP
//! registrations) — goes through [`write_atomic`]: the bytes go to a temporary file in the same
//! folder, which is flushed to disk (`fsync`), renamed over the target, and the folder itself is
//! flushed so that the rename survives a power cut. A reader sees the old file or the new one,
//! never a mix; on any error the target is untouched and the temporary file is removed.
//!
//! Owns: the write protocol and the file mode of what it writes. Never: decides what to write,
//! takes locks (callers that must not race another writer hold their own), or follows a
//! symbolic link at the target — a link is replaced by a regular file, as `rename` does.

use std::io::Write;
use std::path::Path;

/// The mode a new file gets: private to the user, since most of what PAIOS writes is either a
/// secret (the API token) or a configuration a secret may sit in.
pub const PRIVATE: u32 = 0o600;

/// What mode the written file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The mode of the file being replaced, or [`PRIVATE`] for a new file: editing someone's
    /// settings never changes who may read them.
    Keep,
    /// Exactly this mode (e.g. [`PRIVATE`] for the token, whatever the old file had).
    Set(u32),
}

/// Write `bytes` to `path` atomically (see the module docs); the file's mode follows `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> std::io::Result<()> {
    let (dir, tmp) = prepared(path, bytes, mode)?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// Write `bytes` to `path` only if no file is there: `Ok(false)` when one already exists (it is
/// never replaced, even if it appears between the check and the write). The new file is
/// complete before it becomes visible.
pub fn create_new_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    let (dir, tmp) = prepared(path, bytes, Mode::Set(mode))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {
            sync_dir(dir);
            Ok(true)
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error),
    }
}

/// The temporary file beside `path`, written, with its mode set and flushed to disk.
fn prepared<'a>(
    path: &'a Path,
    bytes: &[u8],
    mode: Mode,
) -> std::io::Result<(&'a Path, tempfile::NamedTempFile)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.as_deref().unwrap_or("file")))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let bits = match mode {
            Mode::Set(bits) => bits,
            Mode::Keep => std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or(PRIVATE),
        };
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(bits))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok((dir, tmp))
}

/// Flush the folder entry of a rename; a folder that cannot be opened (or a platform where
/// folders cannot be synced) only loses the power-cut guarantee, never the write.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_file_is_private_and_a_replaced_one_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.json");
        write_atomic(&new, b"{}", Mode::Keep).unwrap();
        assert_eq!(std::fs::read(&new).unwrap(), b"{}");
        assert_eq!(mode_of(&new), 0o600);

        let shared = dir.path().join("shared.json");
        std::fs::write(&shared, b"old").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&shared, b"new", Mode::Keep).unwrap();
        assert_eq!(std::fs::read(&shared).unwrap(), b"new");
        assert_eq!(mode_of(&shared), 0o644);

        write_atomic(&shared, b"secret", Mode::Set(PRIVATE)).unwrap();
        assert_eq!(mode_of(&shared), 0o600);
    }

    #[test]
    fn nothing_is_left_beside_the_file_and_a_failed_write_leaves_the_target_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"kept").unwrap();
        write_atomic(&file, b"next", Mode::Keep).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f")]);

        // A target that is a folder cannot be replaced: the error is reported, the folder and
        // the files beside it stay as they were.
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("inside"), b"x").unwrap();
        assert!(write_atomic(&folder, b"y", Mode::Keep).is_err());
        assert_eq!(std::fs::read(folder.join("inside")).unwrap(), b"x");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn create_new_never_replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("paios.toml");
        assert!(create_new_atomic(&file, b"first", 0o600).unwrap());
        assert!(!create_new_atomic(&file, b"second", 0o600).unwrap());
        assert_eq!(std::fs::read(&file).unwrap(), b"first");
    }
}
