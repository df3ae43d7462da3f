//! Supervised-service fixtures shared by the watchdog tests and the watchdog benchmark: the
//! `paios.toml` fragments they supervise and the small real programs behind them.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The head of a test `paios.toml`: an API on a free port and no desktop notifications.
pub const QUIET_HEAD: &str = "[api]\nport = 0\n[alerts]\ndesktop = false\n";

/// A `[[service]]` table running python's `http.server` on `port` (loopback), probed over
/// HTTP on `/`; `probe` adds lines to `[service.probe]` (interval, timeout, failures, …) and may
/// open further tables after them (`[service.restart]`, …).
pub fn python_http_service(name: &str, port: u16, probe: &str) -> String {
    format!(
        r#"
[[service]]
name = "{name}"
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
[service.probe]
kind = "http"
url = "http://127.0.0.1:{port}/"
{probe}
"#
    )
}

/// The environment a command was given, as the lines of a TOML `env` table (so a supervised
/// service runs in exactly the hermetic environment the test harness built for a brain).
pub fn env_table(cmd: &Command) -> String {
    let mut table = String::new();
    for (k, v) in cmd.get_envs() {
        if let (Some(k), Some(v)) = (k.to_str(), v.and_then(|v| v.to_str())) {
            table.push_str(&format!(
                "{} = {}\n",
                toml::Value::String(k.into()),
                toml::Value::String(v.into())
            ));
        }
    }
    table
}

/// A python `http.server` started outside PAIOS (to be adopted); killed when dropped.
pub struct ExternalHttpServer {
    child: Child,
}

impl ExternalHttpServer {
    /// Start it on `port` and wait until it accepts connections.
    pub fn start(port: u16) -> Self {
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the external server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }

    /// Kill it now and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ExternalHttpServer {
    fn drop(&mut self) {
        self.kill();
    }
}
