//! Probing an MCP server the way a brain would reach it, within a time limit:
//!
//! * a stdio server ([`stdio`]) is started exactly as registered (command, arguments,
//!   environment, folder), asked `initialize` and `tools/list`, and stopped — its whole process
//!   group, so nothing it started is left behind;
//! * a streamable-HTTP server ([`http`]) is asked `initialize` and `tools/list` at its URL, with
//!   the headers and bearer token its registration names (taken from the environment when the
//!   registration says so), and its session is closed.
//!
//! A real health check is `initialize` + `tools/list`, not "the process is alive" or "the port
//! is open": a server that starts (or accepts the connection) but never answers is a hang, one
//! that answers with no tools is misconfigured.
//!
//! Never: shows, logs or stores a header value or a token ([`HttpSpec`]'s `Debug` and
//! `Serialize` carry header names only; a URL is shown without its user info and query).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

/// How a stdio MCP server is started (as the brains' configs say it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StdioSpec {
    /// The program: an absolute path, or a name looked up on PATH.
    pub command: String,
    /// Its arguments, in order.
    #[serde(default)]
    pub args: Vec<String>,
    /// Variables set for it on top of the inherited environment; empty when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The folder it starts in; `None`: the caller's current folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

impl StdioSpec {
    /// `command` with `args`, no extra environment and no folder of its own.
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

/// How a streamable-HTTP MCP server is reached, as a brain's config says: Claude Code's
/// `{"type":"http","url","headers"}`, Codex's `url`, `http_headers`, `env_http_headers` and
/// `bearer_token_env_var`, OpenClaw's `{"url","transport","headers"}`. Values are kept as
/// written (`${VAR}` unexpanded) and read from the environment only when probed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HttpSpec {
    /// The server's endpoint as written (may hold `${VAR}`, user info or a query: never shown
    /// whole).
    pub url: String,
    /// Header name → value as written (a secret: never shown).
    pub headers: BTreeMap<String, String>,
    /// Header name → the environment variable holding its value (Codex's `env_http_headers`).
    pub env_headers: BTreeMap<String, String>,
    /// The environment variable holding the bearer token (Codex's `bearer_token_env_var`).
    pub bearer_token_env_var: Option<String>,
    /// `${VAR}` and `${VAR:-default}` in the URL and header values are the environment's
    /// (Claude Code and OpenClaw expand them; Codex does not).
    pub expand_env: bool,
    /// Why PAIOS cannot reach it as the brain would (legacy SSE, OAuth, a headers helper).
    pub not_probed: Option<String>,
}

impl std::fmt::Debug for HttpSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSpec")
            .field("url", &display_url(&self.url))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("env_headers", &self.env_headers)
            .field("bearer_token_env_var", &self.bearer_token_env_var)
            .field("not_probed", &self.not_probed)
            .finish()
    }
}

impl Serialize for HttpSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("HttpSpec", 4)?;
        st.serialize_field("url", &display_url(&self.url))?;
        st.serialize_field("headers", &self.headers.keys().collect::<Vec<_>>())?;
        st.serialize_field("bearer_token_env_var", &self.bearer_token_env_var)?;
        st.serialize_field("not_probed", &self.not_probed)?;
        st.end()
    }
}

/// Why an HTTP registration is not probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotProbed {
    /// PAIOS cannot reach it as the brain would (a token only the brain's environment has,
    /// a transport or login PAIOS does not speak): not an incident.
    Skipped(String),
    /// The registration itself is wrong (no brain can use it): a misconfiguration.
    Invalid(String),
}

/// An [`HttpSpec`] with the environment applied: what a probe sends (secrets inside; never
/// shown, and dropped after the probe).
pub struct HttpTarget {
    url: String,
    headers: std::collections::HashMap<axum::http::HeaderName, axum::http::HeaderValue>,
    bearer: Option<String>,
}

impl HttpSpec {
    /// The URL for people: no user info, no query (either may carry a token).
    pub fn display(&self) -> String {
        display_url(&self.url)
    }

    /// What a probe would send, from this process's environment.
    pub fn resolve(&self) -> Result<HttpTarget, NotProbed> {
        self.resolve_with(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// [`resolve`](Self::resolve) with `env` as the environment.
    pub fn resolve_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<HttpTarget, NotProbed> {
        if let Some(why) = &self.not_probed {
            return Err(NotProbed::Skipped(why.clone()));
        }
        let expand = |what: &str, text: &str| -> Result<String, NotProbed> {
            if !self.expand_env {
                return Ok(text.to_string());
            }
            expand_vars(text, env).map_err(|var| {
                NotProbed::Skipped(format!(
                    "its {what} uses ${{{var}}}, which is not set in PAIOS's environment \
                     (the brain may have it): not probed"
                ))
            })
        };
        let url = expand("URL", &self.url)?;
        let parsed = url::Url::parse(&url).map_err(|e| {
            NotProbed::Invalid(format!(
                "has a URL that does not parse ({e}): {}",
                self.display()
            ))
        })?;
        match parsed.scheme() {
            "http" => {}
            "https" => {
                return Err(NotProbed::Skipped(
                    "an https server: PAIOS probes http:// servers only (this build has no TLS \
                     client): not probed"
                        .into(),
                ));
            }
            other => {
                return Err(NotProbed::Invalid(format!(
                    "has a URL with scheme `{other}:`; an MCP server over HTTP needs http:// or \
                     https://"
                )));
            }
        }
        let mut headers = std::collections::HashMap::new();
        let mut add = |name: &str, value: String| -> Result<(), NotProbed> {
            let name = axum::http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                NotProbed::Invalid(format!("has an invalid HTTP header name `{name}`"))
            })?;
            let mut value = axum::http::HeaderValue::from_str(value.trim()).map_err(|_| {
                NotProbed::Invalid(format!("has an invalid value for the HTTP header `{name}`"))
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
            Ok(())
        };
        for (name, value) in &self.headers {
            let value = expand(&format!("header `{name}`"), value)?;
            add(name, value)?;
        }
        for (name, var) in &self.env_headers {
            let value = env(var).ok_or_else(|| {
                NotProbed::Skipped(format!(
                    "its header `{name}` comes from ${var}, which is not set in PAIOS's \
                     environment (the brain may have it): not probed"
                ))
            })?;
            add(name, value)?;
        }
        let bearer = match &self.bearer_token_env_var {
            None => None,
            Some(var) => Some(env(var).ok_or_else(|| {
                NotProbed::Skipped(format!(
                    "its bearer token comes from ${var}, which is not set in PAIOS's environment \
                     (the brain may have it): not probed"
                ))
            })?),
        };
        // One Authorization header: an explicit one wins over the token variable.
        let bearer = bearer.filter(|_| !headers.contains_key(&axum::http::header::AUTHORIZATION));
        Ok(HttpTarget {
            url,
            headers,
            bearer,
        })
    }
}

/// `text` with `${VAR}` and `${VAR:-default}` replaced from `env`; `Err(VAR)` for the first
/// variable that is unset and has no default. A `$` not followed by `{` is kept.
pub fn expand_vars(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[at..]);
            return Ok(out);
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match env(name).or_else(|| default.map(str::to_string)) {
            Some(v) => out.push_str(&v),
            None => return Err(name.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A URL for messages: no user info and no query or fragment (tokens travel there).
pub fn display_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            let mut shown = u.to_string();
            if had_query {
                shown.push_str("?…");
            }
            shown
        }
        Err(_) => {
            let cut = text.split(['?', '#']).next().unwrap_or("");
            let cut = cut.rsplit_once('@').map_or(cut, |(_, host)| host);
            crate::text::printable(cut).chars().take(200).collect()
        }
    }
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    /// The server answered `initialize` and `tools/list` within the time limit.
    pub ok: bool,
    /// From start to the tool list (or to the failure), in ms; 0 when it was not probed at all.
    pub latency_ms: u64,
    /// The server's name from `initialize`; `None` when it failed or did not say.
    pub server: Option<String>,
    /// The names of the tools it listed; empty when it failed.
    pub tools: Vec<String>,
    /// What failed (for a stdio server, with its last stderr line if any); `None` when `ok`.
    pub error: Option<String>,
}

impl ProbeResult {
    fn answered(started: Instant, server: Option<String>, tools: Vec<String>) -> Self {
        ProbeResult {
            ok: true,
            latency_ms: started.elapsed().as_millis() as u64,
            server,
            tools,
            error: None,
        }
    }

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
    let outcome = tokio::time::timeout(timeout, list_tools(transport)).await;
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
        Ok(Ok((server, tools))) => ProbeResult::answered(started, server, tools),
    }
}

/// `initialize`, `tools/list` and the end of the session over any client transport: the
/// server's name and its tools' names, or what failed (each error's causes included).
async fn list_tools<T, E, A>(transport: T) -> Result<(Option<String>, Vec<String>), String>
where
    T: rmcp::transport::IntoTransport<rmcp::RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let client = ()
        .serve(transport)
        .await
        .map_err(|e| format!("initialize failed: {}", causes(&e)))?;
    let server = client
        .peer_info()
        .and_then(|i| i.server_info.as_ref().map(|s| s.name.clone()));
    let tools = client
        .list_all_tools()
        .await
        .map_err(|e| format!("tools/list failed: {}", causes(&e)))?;
    let _ = client.cancel().await;
    Ok((
        server,
        tools.into_iter().map(|t| t.name.to_string()).collect(),
    ))
}

/// An error and its sources, each said once (`a: b: c`).
fn causes(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
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

/// Probe a streamable-HTTP server: `initialize` + `tools/list` at its URL, the session closed
/// after. Never panics; a failure is in the result, said without the URL's secrets.
pub async fn http(spec: &HttpSpec, target: &HttpTarget, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let mut config = StreamableHttpClientTransportConfig::with_uri(target.url.clone())
        .custom_headers(target.headers.clone());
    if let Some(token) = &target.bearer {
        config = config.auth_header(token.clone());
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    let shown = spec.display();
    let scrub = |e: String| e.replace(&target.url, &shown);
    match tokio::time::timeout(timeout, list_tools(transport)).await {
        Err(_) => ProbeResult::failed(
            started,
            format!(
                "{shown} did not answer initialize + tools/list within {} s (hung?)",
                timeout.as_secs()
            ),
        ),
        Ok(Err(e)) => {
            // The client's error does not carry the connection's own (refused, unreachable):
            // ask the socket, which says it plainly.
            let left = timeout.saturating_sub(started.elapsed());
            let reason = match connect_error(&target.url, left.min(Duration::from_secs(2))).await {
                Some(why) => why,
                None => http_reason(&scrub(e)),
            };
            ProbeResult::failed(started, format!("{shown}: {reason}"))
        }
        Ok(Ok((server, tools))) => ProbeResult::answered(started, server, tools),
    }
}

/// Why a TCP connection to `url`'s host and port fails (`None`: it connects).
async fn connect_error(url: &str, limit: Duration) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = parsed.port_or_known_default()?;
    match tokio::time::timeout(limit, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_)) | Err(_) => None,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(format!(
            "nothing listens on {host}:{port} (connection refused)"
        )),
        Ok(Err(e)) => Some(format!("cannot connect to {host}:{port}: {e}")),
    }
}

/// Blocking [`http`] (its own small runtime), for callers on plain threads.
pub fn http_blocking(spec: &HttpSpec, target: &HttpTarget, timeout: Duration) -> ProbeResult {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(http(spec, target, timeout)),
        Err(e) => ProbeResult::failed(Instant::now(), format!("cannot start a runtime: {e}")),
    }
}

/// The client's error without its Rust type names, with what it means put first where it is a
/// common one.
fn http_reason(error: &str) -> String {
    let mut error = error.to_string();
    // `Transport [rmcp::transport::worker::WorkerTransport<…>] error: …`
    while let Some(at) = error.find("Transport [") {
        match error[at..].find("] error: ") {
            Some(end) => error.replace_range(at..at + end + "] error: ".len(), "transport error: "),
            None => break,
        }
    }
    let lower = error.to_ascii_lowercase();
    let meaning = if lower.contains("connection refused") {
        Some("nothing listens there (connection refused)")
    } else if lower.contains("auth required") || lower.contains("401") {
        Some("it refused the credentials (HTTP 401)")
    } else if lower.contains("insufficient scope") || lower.contains("403") {
        Some("it refused access (HTTP 403)")
    } else if lower.contains("dns error") || lower.contains("failed to lookup") {
        Some("its host name does not resolve")
    } else {
        None
    };
    let error = crate::approvals::redact::redact(&crate::text::printable(&error));
    let error: String = error.chars().take(400).collect();
    match meaning {
        Some(m) => format!("{m}; {error}"),
        None => error,
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

    fn http_spec(url: &str) -> HttpSpec {
        HttpSpec {
            url: url.into(),
            expand_env: true,
            ..Default::default()
        }
    }

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN_SET").then(|| "s3cret-value".to_string())
    }

    #[test]
    fn variables_expand_with_defaults_and_an_unset_one_is_named() {
        assert_eq!(
            expand_vars("Bearer ${TOKEN_SET}", &env).unwrap(),
            "Bearer s3cret-value"
        );
        assert_eq!(
            expand_vars("${NOPE:-x}/${TOKEN_SET}", &env).unwrap(),
            "x/s3cret-value"
        );
        assert_eq!(
            expand_vars("a $b ${unclosed", &env).unwrap(),
            "a $b ${unclosed"
        );
        assert_eq!(expand_vars("${NOPE}", &env).unwrap_err(), "NOPE");
    }

    #[test]
    fn a_url_is_shown_without_its_user_info_and_query() {
        assert_eq!(
            display_url("http://user:pw@127.0.0.1:9/mcp?key=abc#x"),
            "http://127.0.0.1:9/mcp?…"
        );
        assert_eq!(display_url("not a url?key=abc"), "not a url");
    }

    #[test]
    fn tokens_come_from_the_environment_and_are_never_shown() {
        let mut spec = http_spec("http://127.0.0.1:9/mcp");
        spec.headers
            .insert("Authorization".into(), "Bearer ${TOKEN_SET}".into());
        spec.bearer_token_env_var = Some("TOKEN_SET".into());
        let target = spec.resolve_with(&env).unwrap();
        assert_eq!(
            target.headers[&axum::http::header::AUTHORIZATION],
            "Bearer s3cret-value"
        );
        // The explicit header wins: one Authorization only.
        assert!(target.bearer.is_none());
        let shown = format!("{spec:?} {}", serde_json::to_string(&spec).unwrap());
        assert!(
            !shown.contains("s3cret") && !shown.contains("TOKEN_SET}"),
            "{shown}"
        );
        assert!(shown.contains("Authorization"), "{shown}");

        let mut codex = HttpSpec {
            url: "http://127.0.0.1:9/mcp".into(),
            bearer_token_env_var: Some("TOKEN_SET".into()),
            ..Default::default()
        };
        assert_eq!(
            codex.resolve_with(&env).unwrap().bearer.as_deref(),
            Some("s3cret-value")
        );
        codex.bearer_token_env_var = Some("UNSET_VAR".into());
        match codex.resolve_with(&env) {
            Err(NotProbed::Skipped(why)) => assert!(why.contains("$UNSET_VAR"), "{why}"),
            _ => panic!("an unset token variable is not probed"),
        }
    }

    #[test]
    fn a_bad_url_or_header_is_invalid_and_https_is_skipped() {
        for (url, header) in [
            ("ftp://h/x", None),
            ("::", None),
            ("http://h/", Some("bad name")),
        ] {
            let mut spec = http_spec(url);
            if let Some(h) = header {
                spec.headers.insert(h.into(), "v".into());
            }
            assert!(
                matches!(spec.resolve_with(&env), Err(NotProbed::Invalid(_))),
                "{url}"
            );
        }
        assert!(matches!(
            http_spec("https://example.org/mcp").resolve_with(&env),
            Err(NotProbed::Skipped(_))
        ));
    }

    #[test]
    fn a_closed_port_and_a_silent_listener_fail_with_their_reasons() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let spec = http_spec(&format!("http://127.0.0.1:{port}/mcp"));
        let r = http_blocking(&spec, &spec.resolve().unwrap(), Duration::from_secs(5));
        assert!(!r.ok);
        let e = r.error.unwrap();
        assert!(
            e.contains(&format!("nothing listens on 127.0.0.1:{port}")),
            "{e}"
        );

        // Accepts the connection, reads nothing, answers nothing.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let held = std::thread::spawn(move || {
            let (conn, _) = silent.accept().unwrap();
            std::thread::sleep(Duration::from_secs(3));
            drop(conn);
        });
        let spec = http_spec(&format!("http://127.0.0.1:{port}/mcp"));
        let started = Instant::now();
        let r = http_blocking(&spec, &spec.resolve().unwrap(), Duration::from_secs(1));
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(r.error.unwrap().contains("within 1 s"));
        held.join().unwrap();
    }
}
