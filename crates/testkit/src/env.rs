//! A hermetic environment for running the real brains in a test.
//!
//! Each [`BrainEnv`] owns a temp folder with its own `HOME`, `PAIOS_HOME`, `CLAUDE_CONFIG_DIR`,
//! `CODEX_HOME` (whose `config.toml` points Codex at a local provider), `OPENCLAW_STATE_DIR` and
//! `OPENCLAW_CONFIG_PATH` (a minimal valid gateway config), and a project folder used as the
//! working directory. Commands it builds get a cleared environment plus the switches that keep
//! the CLIs offline; model traffic goes to the fake servers you connect (or to a closed port).
//! Every process started through it runs in its own process group, killed on drop.
//!
//! The brains come from the managed installs in `PAIOS_TOOLS_DIR` (as set for the test run),
//! else from PATH; a missing brain fails the test with the command that installs it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use paios_core::brains::Brain;
use paios_core::paths::Paths;

use crate::fake_anthropic::FakeAnthropic;
use crate::fake_openai::FakeOpenAi;

/// The API key the brains are given; the fakes accept anything.
pub const FAKE_KEY: &str = "sk-test-fake-key";
/// The gateway token written into the test's OpenClaw config.
pub const GATEWAY_TOKEN: &str = "test-gateway-token";
/// A port nothing listens on: model traffic without a connected fake fails fast and locally.
const CLOSED_URL: &str = "http://127.0.0.1:9";

/// Variables kept from the test's own environment: locale, the managed tools, and
/// the machine's certificate and proxy settings (npm needs them to reach the registry). The
/// fakes are always reached directly: `NO_PROXY` is extended with loopback below.
const PASSED_THROUGH: &[&str] = &[
    "LANG",
    "LC_ALL",
    "TERM",
    "PAIOS_TOOLS_DIR",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// A finished process.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Whether it was killed because it ran past the timeout.
    pub timed_out: bool,
}

impl Finished {
    /// stdout split into JSON lines (non-JSON lines skipped).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

pub struct BrainEnv {
    pub dir: tempfile::TempDir,
    anthropic_url: String,
    openai_url: String,
    codex_extra: String,
    extra_env: Vec<(String, String)>,
    groups: Mutex<Vec<i32>>,
}

impl Default for BrainEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl BrainEnv {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("paios-brains-")
            .tempdir()
            .unwrap();
        let env = Self {
            dir,
            anthropic_url: CLOSED_URL.into(),
            openai_url: CLOSED_URL.into(),
            codex_extra: String::new(),
            extra_env: Vec::new(),
            groups: Mutex::new(Vec::new()),
        };
        for d in [
            env.home(),
            env.paios_home(),
            env.claude_config_dir(),
            env.codex_home(),
            env.openclaw_state_dir(),
            env.project_dir(),
            env.tmp_dir(),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        env.write_codex_config();
        env.write_openclaw_config(&minimal_openclaw_config());
        env
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }
    pub fn paios_home(&self) -> PathBuf {
        self.root().join("paios")
    }
    pub fn claude_config_dir(&self) -> PathBuf {
        self.home().join(".claude")
    }
    pub fn codex_home(&self) -> PathBuf {
        self.home().join(".codex")
    }
    pub fn openclaw_state_dir(&self) -> PathBuf {
        self.home().join(".openclaw")
    }
    pub fn openclaw_config_path(&self) -> PathBuf {
        self.openclaw_state_dir().join("openclaw.json")
    }
    /// The working directory of every brain command.
    pub fn project_dir(&self) -> PathBuf {
        self.root().join("project")
    }
    /// `TMPDIR` of every command (so sockets and scratch files stay inside the environment).
    pub fn tmp_dir(&self) -> PathBuf {
        self.root().join("tmp")
    }
    /// PAIOS paths for this environment (the tools folder follows `PAIOS_TOOLS_DIR`).
    pub fn paths(&self) -> Paths {
        Paths::at(self.paios_home())
    }

    /// Send Claude Code's model traffic to this fake.
    pub fn connect_anthropic(&mut self, fake: &FakeAnthropic) {
        self.anthropic_url = fake.url();
    }

    /// Send Codex's model traffic to this fake (rewrites `$CODEX_HOME/config.toml`).
    pub fn connect_openai(&mut self, fake: &FakeOpenAi) {
        self.openai_url = format!("{}/v1", fake.url());
        self.write_codex_config();
    }

    /// Add TOML to Codex's `config.toml` (e.g. `[mcp_servers.NAME]` tables); kept when the
    /// file is rewritten.
    pub fn add_codex_config(&mut self, toml: &str) {
        self.codex_extra.push('\n');
        self.codex_extra.push_str(toml);
        self.write_codex_config();
    }

    /// Write Claude Code's user settings (`$CLAUDE_CONFIG_DIR/settings.json`: hooks, permissions…).
    pub fn write_claude_settings(&self, settings: &serde_json::Value) {
        std::fs::write(
            self.claude_config_dir().join("settings.json"),
            serde_json::to_string_pretty(settings).unwrap(),
        )
        .unwrap();
    }

    /// An extra variable for every command built from now on.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.into(), value.into()));
    }

    fn write_codex_config(&self) {
        let config = format!(
            r#"model = "gpt-6.1-sol"
model_provider = "local"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.local]
name = "local"
base_url = "{url}"
wire_api = "responses"
env_key = "LOCAL_KEY"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false
{extra}"#,
            url = self.openai_url,
            extra = self.codex_extra
        );
        std::fs::write(self.codex_home().join("config.toml"), config).unwrap();
    }

    /// Replace the gateway config (JSON).
    pub fn write_openclaw_config(&self, config: &serde_json::Value) {
        std::fs::write(
            self.openclaw_config_path(),
            serde_json::to_string_pretty(config).unwrap(),
        )
        .unwrap();
    }

    /// `brain` as a ready command with this environment; panics with the install command when
    /// the brain is missing.
    pub fn brain(&self, brain: Brain) -> Command {
        let mut cmd = paios_core::brains::command(&self.paths(), brain).unwrap_or_else(|e| {
            panic!(
                "{e}\n(the brain tests need the real {brain}: run `paios brains install` and set \
                 PAIOS_TOOLS_DIR to its tools folder, or put {brain} on PATH)"
            )
        });
        self.apply(&mut cmd);
        cmd
    }

    pub fn claude(&self) -> Command {
        self.brain(Brain::Claude)
    }
    pub fn codex(&self) -> Command {
        self.brain(Brain::Codex)
    }
    pub fn openclaw(&self) -> Command {
        self.brain(Brain::Openclaw)
    }

    /// The built `paios` binary with this environment (its `PAIOS_HOME` is this environment's).
    pub fn paios(&self) -> Command {
        let mut cmd = Command::new(crate::bin("paios"));
        self.apply(&mut cmd);
        cmd
    }

    /// `openclaw gateway run` on loopback at `port`.
    pub fn gateway(&self, port: u16) -> Command {
        let mut cmd = self.openclaw();
        cmd.args(["gateway", "run", "--bind", "loopback", "--port"])
            .arg(port.to_string());
        cmd
    }

    /// Give `cmd` this environment: a cleared environment, the temp homes, the offline switches,
    /// the fakes' addresses, the project folder as working directory, its own process group.
    pub fn apply(&self, cmd: &mut Command) {
        // Keep the PATH the brains module chose (it puts the gateway's Node first).
        let path = cmd
            .get_envs()
            .find(|(k, _)| *k == "PATH")
            .and_then(|(_, v)| v.map(|v| v.to_owned()))
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        cmd.env_clear();
        cmd.env("PATH", path);
        for key in PASSED_THROUGH {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        // npm (used by `paios brains upgrade`) keeps its download cache across test homes.
        let npm_cache = std::env::var_os("npm_config_cache").or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".npm").into_os_string())
        });
        if let Some(cache) = npm_cache {
            cmd.env("npm_config_cache", cache);
        }
        let home = self.home();
        cmd.env("HOME", &home)
            .env("USER", "paios-test")
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("TMPDIR", self.tmp_dir())
            .env("PAIOS_HOME", self.paios_home())
            .env("CLAUDE_CONFIG_DIR", self.claude_config_dir())
            .env("CODEX_HOME", self.codex_home())
            .env("OPENCLAW_STATE_DIR", self.openclaw_state_dir())
            .env("OPENCLAW_CONFIG_PATH", self.openclaw_config_path())
            // Claude Code: local fake, no retries, no side traffic.
            .env("ANTHROPIC_BASE_URL", &self.anthropic_url)
            .env("ANTHROPIC_API_KEY", FAKE_KEY)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("CLAUDE_CODE_MAX_RETRIES", "0")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            // Codex: the provider in config.toml reads its key from here.
            .env("LOCAL_KEY", FAKE_KEY)
            // OpenClaw: no channels, no mDNS, no respawn, no update checks.
            .env("OPENCLAW_SKIP_CHANNELS", "1")
            .env("OPENCLAW_DISABLE_BONJOUR", "1")
            .env("OPENCLAW_NO_RESPAWN", "1")
            .env("OPENCLAW_NO_AUTO_UPDATE", "1")
            .env("DO_NOT_TRACK", "1")
            .env("NO_COLOR", "1")
            .env("NO_PROXY", no_proxy())
            .env("no_proxy", no_proxy())
            .current_dir(self.project_dir());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }

    /// Start `cmd` (built by this environment); its process group is killed on drop.
    pub fn spawn(&self, cmd: &mut Command) -> Child {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
        self.groups.lock().unwrap().push(child.id() as i32);
        child
    }

    /// Start `paios daemon` in this environment and wait (up to 30 s) for its socket and API
    /// port; its process group is killed on drop, like [`BrainEnv::spawn`]'s.
    pub fn start_daemon(&self) -> Child {
        let mut cmd = self.paios();
        cmd.arg("daemon")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut daemon = self.spawn(&mut cmd);
        let home = self.paios_home();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !(home.join("api.port").exists()
            && std::os::unix::net::UnixStream::connect(home.join("paios.sock")).is_ok())
        {
            if let Ok(Some(status)) = daemon.try_wait() {
                panic!("the daemon exited early: {status}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    /// Run `cmd` to completion with captured output, killing its process group after `timeout`
    /// (and, when it finished, any background process it left).
    pub fn run(&self, cmd: &mut Command, timeout: Duration) -> Finished {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self.spawn(cmd);
        let pgid = child.id() as i32;
        let out = read_in_background(child.stdout.take());
        let err = read_in_background(child.stderr.take());
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                timed_out = true;
                kill_group(pgid);
                break child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        kill_group(pgid);
        Finished {
            code: status.and_then(|s| s.code()),
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
            timed_out,
        }
    }
}

impl Drop for BrainEnv {
    fn drop(&mut self) {
        for pgid in self.groups.lock().unwrap().drain(..) {
            kill_group(pgid);
        }
    }
}

/// The machine's `NO_PROXY` plus loopback, so the fakes are never reached through a proxy.
fn no_proxy() -> String {
    let mut hosts: Vec<String> = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default()
        .split(',')
        .filter(|h| !h.trim().is_empty())
        .map(str::to_string)
        .collect();
    hosts.extend(["127.0.0.1".into(), "localhost".into(), "::1".into()]);
    hosts.join(",")
}

fn kill_group(pgid: i32) {
    // SAFETY: plain syscall; a group that no longer exists just yields ESRCH.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The smallest config the gateway accepts: local mode, a token, no update check.
pub fn minimal_openclaw_config() -> serde_json::Value {
    serde_json::json!({
        "gateway": { "mode": "local", "auth": { "token": GATEWAY_TOKEN } },
        "update": { "checkOnStart": false }
    })
}

/// A free loopback port (bind :0, read it, release it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain `GET http://127.0.0.1:port/path` → (status, body); `None` when nothing answers.
pub fn http_get(port: u16, path: &str, timeout: Duration) -> Option<(u16, String)> {
    use std::io::Write;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
