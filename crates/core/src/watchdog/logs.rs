//! Per-service output logs: `logs/services/<name>.log`, one line per output line, stamped and
//! tagged with the stream (`out` or `err`), rotated by size (`<name>.log.1` … `.N`).
//!
//! Also keeps the last stderr lines in memory for `service.exited` events and alerts.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Rotate when the file reaches this size.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Rotated files kept.
pub const KEEP: usize = 3;
/// Stderr lines kept for `stderr_tail`.
pub const TAIL_LINES: usize = 30;

/// The log file of one service.
pub fn log_path(dir: &Path, service: &str) -> PathBuf {
    dir.join(format!("{service}.log"))
}

/// A size-rotated log file shared by the stdout and stderr pumps of one service.
pub struct ServiceLog {
    path: PathBuf,
    file: Option<File>,
    written: u64,
    max_bytes: u64,
    keep: usize,
    tail: VecDeque<String>,
}

/// One service's log, shared by its output pumps and its supervisor.
pub type SharedLog = Arc<Mutex<ServiceLog>>;

impl ServiceLog {
    /// The log of `service` in `dir` (created, mode 0700, if missing), with the standard
    /// limits ([`MAX_BYTES`], [`KEEP`]). The file itself is opened on the first write.
    pub fn open(dir: &Path, service: &str) -> io::Result<SharedLog> {
        crate::paths::create_private_dir(dir)?;
        Ok(Arc::new(Mutex::new(Self::with_limits(
            log_path(dir, service),
            MAX_BYTES,
            KEEP,
        ))))
    }

    /// A log at `path` rotated when it reaches `max_bytes`, keeping `keep` rotated files.
    /// Nothing is opened or created until the first write.
    pub fn with_limits(path: PathBuf, max_bytes: u64, keep: usize) -> Self {
        Self {
            path,
            file: None,
            written: 0,
            max_bytes,
            keep,
            tail: VecDeque::new(),
        }
    }

    fn ensure_open(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.written = file.metadata().map(|m| m.len()).unwrap_or(0);
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("just opened"))
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let numbered = |n: usize| PathBuf::from(format!("{}.{n}", self.path.display()));
        let _ = std::fs::remove_file(numbered(self.keep));
        for n in (1..self.keep).rev() {
            let _ = std::fs::rename(numbered(n), numbered(n + 1));
        }
        if self.keep > 0 {
            std::fs::rename(&self.path, numbered(1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        self.written = 0;
        Ok(())
    }

    /// Append one output line (`stream` is `out`, `err` or `paios` for the watchdog's own notes).
    pub fn line(&mut self, stream: &str, text: &str) {
        if stream == "err" {
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(text.to_string());
        }
        let stamped = format!(
            "{} {stream:<5} {text}\n",
            crate::events::format_ts(&chrono::Utc::now())
        );
        // Logging must never take the supervisor down: errors are reported once per line.
        let result = (|| -> io::Result<()> {
            if self.written >= self.max_bytes {
                self.rotate()?;
            }
            let file = self.ensure_open()?;
            file.write_all(stamped.as_bytes())?;
            self.written += stamped.len() as u64;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write a service log");
            self.file = None;
        }
    }

    /// The last stderr lines, oldest first.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    /// Forget the stderr tail (a new run starts).
    pub fn clear_tail(&mut self) {
        self.tail.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("svc.log");
        let mut log = ServiceLog::with_limits(path.clone(), 200, 2);
        for i in 0..50 {
            log.line("out", &format!("line {i}"));
        }
        assert!(path.exists());
        assert!(dir.path().join("svc.log.1").exists());
        assert!(dir.path().join("svc.log.2").exists());
        assert!(!dir.path().join("svc.log.3").exists());
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.contains("line 49"), "{newest}");
        assert!(std::fs::metadata(&path).unwrap().len() < 400);
    }

    #[test]
    fn keeps_only_the_last_stderr_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ServiceLog::with_limits(dir.path().join("s.log"), MAX_BYTES, 1);
        for i in 0..100 {
            log.line("err", &format!("e{i}"));
            log.line("out", &format!("o{i}"));
        }
        let tail = log.stderr_tail();
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail.last().unwrap(), "e99");
    }
}
