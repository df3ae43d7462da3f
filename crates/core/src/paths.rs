//! Where PAIOS keeps its state.
//!
//! `PAIOS_HOME` relocates *everything* (config, database, socket, token, spool, logs, snapshots,
//! managed tools). Without it, the platform's directories are used (macOS: Application Support;
//! Linux: XDG data dir). This module only computes paths and creates folders; it never reads or
//! writes file contents.

use std::io;
use std::path::{Path, PathBuf};

/// Every path PAIOS owns, derived from one home folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    home: PathBuf,
}

impl Paths {
    /// Resolve the home from `PAIOS_HOME`, else the platform data directory.
    pub fn from_env() -> io::Result<Self> {
        if let Some(home) = std::env::var_os("PAIOS_HOME").filter(|h| !h.is_empty()) {
            return Ok(Self::at(PathBuf::from(home)));
        }
        let dirs = directories::ProjectDirs::from("ai", "paios", "paios").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "cannot determine a home directory for PAIOS; set PAIOS_HOME",
            )
        })?;
        Ok(Self::at(dirs.data_dir().to_path_buf()))
    }

    /// Use an explicit home folder (tests, `--home`).
    pub fn at(home: impl Into<PathBuf>) -> Self {
        let home = home.into();
        // Make the home absolute so a daemon that changes directory keeps working.
        let home = if home.is_absolute() {
            home
        } else {
            std::env::current_dir()
                .map(|d| d.join(&home))
                .unwrap_or(home)
        };
        Self { home }
    }

    /// The home folder itself (always absolute).
    pub fn home(&self) -> &Path {
        &self.home
    }
    /// The user's configuration, `paios.toml` (may not exist: defaults apply).
    pub fn config_file(&self) -> PathBuf {
        self.home.join("paios.toml")
    }
    /// The SQLite event store, `paios.db`.
    pub fn database(&self) -> PathBuf {
        self.home.join("paios.db")
    }
    /// The unix socket the running core's local API listens on, `paios.sock`.
    pub fn socket(&self) -> PathBuf {
        self.home.join("paios.sock")
    }
    /// The bearer token the loopback HTTP API requires (owner-only file, `token`).
    pub fn token_file(&self) -> PathBuf {
        self.home.join("token")
    }
    /// The user's approval policy (extends the built-in one).
    pub fn policy_file(&self) -> PathBuf {
        self.home.join("policy.toml")
    }
    /// Where the running core writes the HTTP port it bound, `api.port` (decimal text).
    pub fn api_port_file(&self) -> PathBuf {
        self.home.join("api.port")
    }
    /// Lock file held for the whole life of the one process that supervises this home.
    pub fn daemon_lock(&self) -> PathBuf {
        self.home.join("daemon.lock")
    }
    /// The spool folder: events written while the daemon is down, and their quarantine (see
    /// [`crate::spool`]).
    pub fn spool_dir(&self) -> PathBuf {
        self.home.join("spool")
    }
    /// The core's own daily-rotated logs (`paios.*.log`), and the sub-folders of other logs.
    pub fn logs_dir(&self) -> PathBuf {
        self.home.join("logs")
    }
    /// What launchd captures of the daemon's own stdout/stderr (macOS LaunchAgent).
    pub fn launchd_log(&self) -> PathBuf {
        self.logs_dir().join("launchd.log")
    }
    /// Per-service stdout/stderr logs of supervised services.
    pub fn service_logs_dir(&self) -> PathBuf {
        self.home.join("logs").join("services")
    }
    /// The guardian's snapshots of watched configuration files (created by [`Paths::ensure`]).
    pub fn snapshots_dir(&self) -> PathBuf {
        self.home.join("snapshots")
    }
    /// Content-addressed snapshot blobs, one file per SHA-256 of the content.
    pub fn snapshot_objects_dir(&self) -> PathBuf {
        self.snapshots_dir().join("objects")
    }
    /// The snapshot index (`index.json`): which version of which file, when, valid, good.
    pub fn snapshot_index(&self) -> PathBuf {
        self.snapshots_dir().join("index.json")
    }
    /// Held (`flock`) by whoever changes the snapshots or restores a watched file: the
    /// daemon's guardian and `paios guard` without the daemon.
    pub fn snapshot_lock(&self) -> PathBuf {
        self.snapshots_dir().join("lock")
    }
    /// The MCP mesh's record of the brains' files it changed, with their backups.
    pub fn mesh_dir(&self) -> PathBuf {
        self.home.join("mesh")
    }
    /// PAIOS's plugins for the OpenClaw gateway, one folder each (`openclaw-plugin/<id>/`).
    pub fn openclaw_plugins_dir(&self) -> PathBuf {
        self.home.join("openclaw-plugin")
    }
    /// Managed brain installs: `tools/<name>/<version>/`. `PAIOS_TOOLS_DIR` moves them elsewhere
    /// (tests share one install across many throw-away homes).
    pub fn tools_dir(&self) -> PathBuf {
        match std::env::var_os("PAIOS_TOOLS_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => self.home.join("tools"),
        }
    }
    /// Derived, rebuildable data (e.g. the usage ledger) that is not part of the event log.
    pub fn cache_dir(&self) -> PathBuf {
        self.home.join("cache")
    }

    /// Create the home and its sub-folders (owner-only permissions on Unix).
    pub fn ensure(&self) -> io::Result<()> {
        for dir in [
            self.home.clone(),
            self.spool_dir(),
            self.logs_dir(),
            self.snapshots_dir(),
        ] {
            create_private_dir(&dir)?;
        }
        Ok(())
    }
}

/// `mkdir -p` with mode 0700 for folders we create.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Expand a leading `~/` to the user's home directory.
pub fn expand_tilde(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    } else if path == "~"
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home);
    }
    PathBuf::from(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_lives_under_the_home() {
        let p = Paths::at("/tmp/x");
        for path in [
            p.config_file(),
            p.database(),
            p.socket(),
            p.token_file(),
            p.api_port_file(),
            p.spool_dir(),
            p.logs_dir(),
            p.snapshots_dir(),
        ] {
            assert!(path.starts_with("/tmp/x"), "{path:?}");
        }
    }
}
