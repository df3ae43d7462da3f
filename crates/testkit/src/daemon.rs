//! A throw-away `PAIOS_HOME` with a real `paios daemon` process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The built `paios` binary.
pub fn paios_bin() -> PathBuf {
    crate::bin("paios")
}
/// The built `ai` binary.
pub fn ai_bin() -> PathBuf {
    crate::bin("ai")
}

/// A temp PAIOS home; the daemon (if started) is killed on drop.
pub struct TestHome {
    pub dir: tempfile::TempDir,
    daemon: Option<Child>,
    /// The OpenClaw gateway port this home's `paios` looks at: a free one, so a test daemon
    /// never finds (and adopts) a gateway the machine's user runs on the default port.
    gateway_port: u16,
}

impl Default for TestHome {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHome {
    /// A new home whose paios.toml picks a free API port.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("paios-test-")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("paios.toml"), "[api]\nport = 0\n").unwrap();
        Self {
            dir,
            daemon: None,
            gateway_port: crate::env::free_port(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.path().join("paios.toml"), toml).unwrap();
    }

    /// `paios …` with this home. The brains' config folders point into the home too (empty
    /// until a test writes them), so the daemon never reads the user's own registrations, and
    /// the gateway port is one nothing listens on.
    pub fn paios(&self) -> Command {
        let mut c = Command::new(paios_bin());
        c.env("PAIOS_HOME", self.path())
            .env_remove("PAIOS_LOG")
            .env("CLAUDE_CONFIG_DIR", self.path().join("brains/claude"))
            .env("CODEX_HOME", self.path().join("brains/codex"))
            .env("OPENCLAW_STATE_DIR", self.path().join("brains/openclaw"))
            .env_remove("OPENCLAW_CONFIG_PATH")
            .env("OPENCLAW_GATEWAY_PORT", self.gateway_port.to_string());
        c
    }

    /// `ai …` with this home.
    pub fn ai(&self) -> Command {
        let mut c = Command::new(ai_bin());
        c.env("PAIOS_HOME", self.path());
        c
    }

    /// Run `paios ARGS` and return (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.paios().args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Start `paios daemon` and wait until its socket and HTTP port are up.
    pub fn start_daemon(&mut self) {
        self.start_daemon_with(|_| {});
    }

    /// Like [`start_daemon`], with extra settings on the command (env for the brains, …).
    pub fn start_daemon_with(&mut self, tweak: impl FnOnce(&mut Command)) {
        assert!(self.daemon.is_none(), "daemon already started");
        let _ = std::fs::remove_file(self.path().join("api.port"));
        let log = std::fs::File::create(self.path().join("daemon.stderr")).unwrap();
        let mut cmd = self.paios();
        cmd.arg("daemon")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        tweak(&mut cmd);
        let child = cmd.spawn().unwrap();
        self.daemon = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.path().join("api.port").exists()
                && std::os::unix::net::UnixStream::connect(self.socket()).is_ok()
            {
                return;
            }
            if let Some(status) = self.daemon.as_mut().unwrap().try_wait().unwrap() {
                panic!("daemon exited early ({status}): {}", self.daemon_stderr());
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not come up: {}",
                self.daemon_stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(|c| c.id())
    }

    pub fn daemon_stderr(&self) -> String {
        std::fs::read_to_string(self.path().join("daemon.stderr")).unwrap_or_default()
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn stop_daemon(&mut self) -> Option<i32> {
        self.stop_daemon_with(libc::SIGTERM)
    }

    /// Send `signal` and wait; returns the exit code.
    pub fn stop_daemon_with(&mut self, signal: i32) -> Option<i32> {
        let mut child = self.daemon.take()?;
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("daemon did not stop within 30 s of signal {signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, no cleanup (a crash).
    pub fn kill_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.path().join("paios.sock")
    }

    pub fn api_port(&self) -> u16 {
        std::fs::read_to_string(self.path().join("api.port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.path().join("token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// `paios events --json --kind PREFIX --limit 100000`.
    pub fn events(&self, kind_prefix: &str) -> Vec<Value> {
        let (code, out, err) = self.run(&[
            "events",
            "--json",
            "--kind",
            kind_prefix,
            "--limit",
            "100000",
        ]);
        assert_eq!(code, 0, "paios events failed: {err}");
        serde_json::from_str(&out).unwrap()
    }

    /// Poll `paios events` until one of `kind` matches `pred`, or panic after `timeout`.
    pub fn wait_for_event(
        &self,
        kind: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(ev) = self.events(kind).into_iter().find(|e| pred(e)) {
                return ev;
            }
            assert!(
                Instant::now() < deadline,
                "no {kind} event within {timeout:?}; daemon log: {}",
                self.daemon_stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestHome {
    fn drop(&mut self) {
        if let Some(child) = self.daemon.as_mut() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
