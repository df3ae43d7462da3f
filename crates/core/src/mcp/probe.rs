//! Probing an MCP server the way a brain would reach it: start it exactly as registered (command,
//! arguments, environment, folder), `initialize`, `tools/list`, and stop it — its whole process
//! group, so nothing it started is left behind — all within a time limit.
//!
//! A real health check is `initialize` + `tools/list`, not "the process is alive": a server that
//! starts but never answers is a hang, one that answers with no tools is misconfigured.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

/// How a stdio MCP server is started (as the brains' configs say it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StdioSpec {
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

impl StdioSpec {
    pub fn new(command: impl Into<String>, args: &[&str]) -> Self {
        StdioSpec {
            command: command.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: BTreeMap::new(),
            cwd: None,
        }
    }

    /// The command line, for messages.
    pub fn display(&self) -> String {
        std::iter::once(self.command.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    pub ok: bool,
    /// From start to the tool list.
    pub latency_ms: u64,
    /// The server's name from `initialize`.
    pub server: Option<String>,
    pub tools: Vec<String>,
    pub error: Option<String>,
}

impl ProbeResult {
    fn failed(started: Instant, error: String) -> Self {
        ProbeResult {
            ok: false,
            latency_ms: started.elapsed().as_millis() as u64,
            server: None,
            tools: Vec::new(),
            error: Some(error),
        }
    }
}

/// Probe a stdio server. Never panics; a failure is in the result.
pub async fn stdio(spec: &StdioSpec, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let program = resolve_program(&spec.command);
    let Some(program) = program else {
        return ProbeResult::failed(
            started,
            format!(
                "cannot start {}: `{}` is not on PATH or not executable",
                spec.display(),
                spec.command
            ),
        );
    };
    if let Some(cwd) = spec.cwd.as_deref()
        && !std::path::Path::new(cwd).is_dir()
    {
        return ProbeResult::failed(started, format!("its folder {cwd} does not exist"));
    }
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&spec.args)
        .envs(&spec.env)
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    let (transport, stderr) = match TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(t) => t,
        Err(e) => {
            return ProbeResult::failed(started, format!("cannot start {}: {e}", spec.display()));
        }
    };
    let pgid = transport.id();
    // Keep the last of what it says on stderr: the reason, when it fails.
    let tail = tokio::spawn(async move {
        let mut buf = Vec::new();
        if let Some(mut err) = stderr {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = err.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 16 * 1024 {
                    buf.drain(..buf.len() - 8 * 1024);
                }
            }
        }
        buf
    });
    let session = async {
        let client = ().serve(transport).await.map_err(|e| format!("initialize failed: {e}"))?;
        let server = client
            .peer_info()
            .and_then(|i| i.server_info.as_ref().map(|s| s.name.clone()));
        let tools = client
            .list_all_tools()
            .await
            .map_err(|e| format!("tools/list failed: {e}"))?;
        let _ = client.cancel().await;
        Ok::<_, String>((server, tools))
    };
    let outcome = tokio::time::timeout(timeout, session).await;
    if let Some(pid) = pgid {
        kill_group(pid);
    }
    let stderr_tail = match tokio::time::timeout(Duration::from_millis(500), tail).await {
        Ok(Ok(bytes)) => last_line(&String::from_utf8_lossy(&bytes)),
        _ => None,
    };
    let with_stderr = |e: String| match &stderr_tail {
        Some(line) => format!("{e} (its last words: {line})"),
        None => e,
    };
    match outcome {
        Err(_) => ProbeResult::failed(
            started,
            with_stderr(format!(
                "{} did not answer initialize + tools/list within {} s (hung?)",
                spec.display(),
                timeout.as_secs()
            )),
        ),
        Ok(Err(e)) => ProbeResult::failed(started, with_stderr(format!("{}: {e}", spec.display()))),
        Ok(Ok((server, tools))) => ProbeResult {
            ok: true,
            latency_ms: started.elapsed().as_millis() as u64,
            server,
            tools: tools.into_iter().map(|t| t.name.to_string()).collect(),
            error: None,
        },
    }
}

/// Blocking [`stdio`] (its own small runtime), for callers on plain threads.
pub fn stdio_blocking(spec: &StdioSpec, timeout: Duration) -> ProbeResult {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(stdio(spec, timeout)),
        Err(e) => ProbeResult::failed(Instant::now(), format!("cannot start a runtime: {e}")),
    }
}

/// `command` as the brain would find it: a path as given, else the first match on PATH.
pub fn resolve_program(command: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &std::path::Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if command.contains('/') {
        let p = PathBuf::from(command);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(command))
        .find(|p| executable(p))
}

fn last_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| crate::approvals::redact::redact(&crate::text::printable(l)))
        .map(|l| l.chars().take(300).collect())
}

fn kill_group(pid: u32) {
    // SAFETY: plain syscall on the process group the probe created; ESRCH when it is gone.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named() {
        let r = stdio_blocking(
            &StdioSpec::new("/no/such/server", &["--x"]),
            Duration::from_secs(5),
        );
        assert!(!r.ok);
        assert!(r.error.unwrap().contains("/no/such/server"));
    }

    #[test]
    fn a_server_that_never_answers_is_a_hang_and_is_stopped() {
        let r = stdio_blocking(
            &StdioSpec::new("sh", &["-c", "echo starting >&2; exec sleep 60"]),
            Duration::from_secs(1),
        );
        assert!(!r.ok);
        let e = r.error.unwrap();
        assert!(e.contains("within 1 s"), "{e}");
        assert!(e.contains("starting"), "{e}");
    }

    #[test]
    fn a_server_that_exits_at_once_says_why() {
        let r = stdio_blocking(
            &StdioSpec::new("sh", &["-c", "echo 'no API key' >&2; exit 3"]),
            Duration::from_secs(5),
        );
        assert!(!r.ok);
        assert!(r.error.unwrap().contains("no API key"));
    }
}
