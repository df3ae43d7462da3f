//! Requests and file transfers, judged by what they send and where.
//!
//! HTTP clients (`curl`, `wget`, HTTPie's `http`/`https`, `xh`/`xhs`, `gh api`, `glab api`): a
//! GET or HEAD without a body or an upload is safe — to any host the `[[web]]` rules do not
//! forbid (cloud metadata stays `never`; rules with `access = "write"`, such as local services,
//! only judge writes) — unless it sends a value from a variable whose name says it is a secret
//! (`$GITHUB_TOKEN`, `[sets] secret_variables`) or reads its options from a file. Any other
//! method, a body (`-d`, `-F`, `--json`, `field=value`) or an upload (`-T`) asks; a DELETE asks
//! under a rule of its own. Files a client writes (`-o`, `--output`) are judged where they land;
//! `file://` URLs are reads of local files; other protocols ask. Piping the answer into a shell
//! is `never` by the policy's own rule.
//!
//! `scp` / `rsync`: a copy to another machine asks; a copy to this machine (from anywhere) is
//! judged where it writes; `--delete`, `--remove-source-files` ask; a dry run only lists.

use std::path::Path;

use super::paths::Op;
use super::rules::{clip, positional};
use super::web::{self, Request as WebRequest};
use super::{Context, Hit, SimpleCommand, Word, hit};
use crate::approvals::policy::{Decision, Policy};

/// One request an HTTP client command makes.
#[derive(Debug, Default)]
pub(super) struct Request {
    /// The method given (`-X DELETE`, `http POST …`); `None` for the client's default.
    method: Option<String>,
    /// A body or form data (which makes the default method POST).
    body: bool,
    /// An upload of a file.
    upload: bool,
    /// `-G`: data goes into the query string of a GET.
    force_get: bool,
    /// `--offline`: the request is only printed.
    offline: bool,
    /// The URLs, with a scheme when the text had none.
    urls: Vec<(String, bool)>,
    /// Files it writes.
    outputs: Vec<Word>,
    /// It reads options or URLs from a file (`curl -K`, `wget -i`, `wget -e`).
    from_file: bool,
    /// Variables it sends that may hold secrets.
    secret_variables: Vec<String>,
}

impl Request {
    fn method(&self) -> String {
        match &self.method {
            Some(m) => m.to_ascii_uppercase(),
            None if self.force_get => "GET".into(),
            None if self.body || self.upload => "POST".into(),
            None => "GET".into(),
        }
    }

    fn writes(&self) -> bool {
        !matches!(self.method().as_str(), "GET" | "HEAD" | "OPTIONS")
            || (self.body && !self.force_get)
            || self.upload
    }
}

/// The request `cmd` makes, when `program` is an HTTP client (or `gh api` / `glab api`).
pub(super) fn request(policy: &Policy, cmd: &SimpleCommand, program: &str) -> Option<Request> {
    let args = &cmd.argv[1..];
    let mut r = Request::default();
    match program {
        "curl" => curl(args, &mut r),
        "wget" => wget(args, &mut r),
        "http" | "https" | "xh" | "xhs" => httpie(program, args, &mut r),
        "gh" | "glab" => {
            let first = positional(cmd, &[]).first().map(|w| w.text.as_str());
            if first != Some("api") {
                return None;
            }
            api(program, args, &mut r);
        }
        _ if policy.in_set("http_clients", program) => curl(args, &mut r),
        _ => return None,
    }
    let secret = |name: &str| policy.in_set("secret_variables", name);
    for w in args.iter().filter(|w| w.dynamic) {
        for name in variable_names(&w.text) {
            if secret(&name) && !r.secret_variables.contains(&name) {
                r.secret_variables.push(name);
            }
        }
    }
    Some(r)
}

impl Policy {
    pub(super) fn http_hits(
        &self,
        r: &Request,
        text: &str,
        ctx: &Context,
        cwd: Option<&Path>,
    ) -> Vec<Hit> {
        let mut hits = Vec::new();
        let method = r.method();
        // A search API's POST only reads (`POST /index/_search`, `POST /indexes/x/search`).
        let read_endpoint = method == "POST"
            && !r.upload
            && !r.urls.is_empty()
            && r.urls.iter().all(|(url, dynamic)| {
                !dynamic
                    && url::Url::parse(url).is_ok_and(|u| {
                        u.path_segments()
                            .and_then(|mut s| s.next_back())
                            .is_some_and(|last| self.in_set("http_read_endpoints", last))
                    })
            });
        let writes = r.writes() && !r.offline && !read_endpoint;
        if r.from_file {
            hits.push(hit(
                Decision::Ask,
                "shell.http-from-file",
                format!("reads its options or addresses from a file: {}", clip(text)),
            ));
        }
        for (url, dynamic) in &r.urls {
            if *dynamic {
                hits.push(hit(
                    Decision::Ask,
                    "shell.http-dynamic-url",
                    format!(
                        "sends a request to an address only known when it runs: {}",
                        clip(url)
                    ),
                ));
                continue;
            }
            let scheme = url
                .split_once("://")
                .map(|(s, _)| s.to_ascii_lowercase())
                .unwrap_or_default();
            if scheme == "file" {
                let path = url.split_once("://").map(|(_, p)| p).unwrap_or("");
                let word = Word {
                    text: path.to_string(),
                    dynamic: false,
                };
                hits.extend(self.read_hits(&word, ctx, cwd));
                continue;
            }
            if web::url_host(url).is_none() && !scheme.is_empty() {
                hits.push(hit(
                    Decision::Ask,
                    "shell.http-protocol",
                    format!("uses a protocol other than HTTP: {}", clip(url)),
                ));
                continue;
            }
            let request = if writes {
                WebRequest::Write
            } else {
                WebRequest::Read
            };
            hits.extend(self.web_hit(url, request));
        }
        if !r.secret_variables.is_empty() {
            hits.push(hit(
                Decision::Ask,
                "shell.http-secret",
                format!(
                    "sends a variable that may hold a secret (${}): {}",
                    r.secret_variables.join(", $"),
                    clip(text)
                ),
            ));
        }
        for w in &r.outputs {
            if w.text == "-" || super::paths::is_harmless_device(&w.text) {
                continue;
            }
            hits.extend(self.path_hits(&w.text, w.dynamic, Op::Write, ctx, cwd));
        }
        hits.push(if !writes {
            hit(
                Decision::Safe,
                "shell.http-read",
                format!("only fetches ({method}): {}", clip(text)),
            )
        } else if method == "DELETE" {
            hit(
                Decision::Ask,
                "shell.http-delete",
                format!("sends a DELETE request: {}", clip(text)),
            )
        } else {
            let what = if r.upload {
                "uploads a file"
            } else if r.body {
                "sends data"
            } else {
                "sends a request that may change something"
            };
            hit(
                Decision::Ask,
                "shell.http-write",
                format!("{what} ({method}): {}", clip(text)),
            )
        });
        hits
    }

    /// `scp` / `rsync`: by direction, deletion and dry run.
    pub(super) fn transfer_hits(
        &self,
        cmd: &SimpleCommand,
        program: &str,
        text: &str,
        ctx: &Context,
        cwd: Option<&Path>,
    ) -> Vec<Hit> {
        let rsync = program == "rsync";
        let with_value: Vec<String> = if rsync {
            RSYNC_OPTIONS_WITH_VALUE
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            SCP_OPTIONS_WITH_VALUE
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        let args = positional(cmd, &with_value);
        let options: Vec<&str> = cmd.argv[1..]
            .iter()
            .take_while(|w| w.text != "--")
            .filter(|w| !w.dynamic && w.text.starts_with('-') && w.text.len() > 1)
            .map(|w| w.text.as_str())
            .collect();
        let short = |c: char| {
            options
                .iter()
                .any(|o| !o.starts_with("--") && o[1..].contains(c))
        };
        let long = |name: &str| {
            options
                .iter()
                .any(|o| *o == name || o.starts_with(&format!("{name}=")))
        };
        let mut hits = Vec::new();
        for w in args.iter().filter(|w| !w.dynamic && is_remote(&w.text)) {
            if let Some(url) = web::bare_url(&w.text, false) {
                hits.extend(self.web_hit(&url, WebRequest::Write));
            }
        }
        let dry = rsync && (short('n') || long("--dry-run") || long("--list-only"));
        if dry || args.len() < 2 {
            hits.push(hit(
                Decision::Safe,
                "shell.transfer-list",
                format!("only lists what it would copy: {}", clip(text)),
            ));
            return hits;
        }
        if rsync
            && options
                .iter()
                .any(|o| o.starts_with("--del") || o.starts_with("--remove-source-files"))
        {
            hits.push(hit(
                Decision::Ask,
                "shell.transfer-delete",
                format!(
                    "deletes files at the destination or the sources: {}",
                    clip(text)
                ),
            ));
        }
        if rsync && long("--rsync-path") {
            hits.push(hit(
                Decision::Ask,
                "shell.transfer-remote-command",
                format!(
                    "runs a command of its own on the other machine: {}",
                    clip(text)
                ),
            ));
        }
        let dest = args[args.len() - 1];
        if dest.dynamic || is_remote(&dest.text) {
            hits.push(hit(
                Decision::Ask,
                "shell.upload",
                format!("copies files to another machine: {}", clip(text)),
            ));
        } else {
            hits.extend(self.path_hits(&dest.text, false, Op::Write, ctx, cwd));
        }
        for source in &args[..args.len() - 1] {
            if !source.dynamic && !is_remote(&source.text) {
                hits.extend(self.read_hits(source, ctx, cwd));
            }
        }
        hits
    }
}

/// `host:path`, `user@host:path`, `host::module`, `rsync://…`: a place on another machine.
fn is_remote(text: &str) -> bool {
    if text.starts_with("rsync://") || text.contains("::") {
        return true;
    }
    match text.split_once(':') {
        Some((before, _)) => {
            !before.is_empty() && !before.contains('/') && !text.starts_with(['/', '.', '~'])
        }
        None => false,
    }
}

const SCP_OPTIONS_WITH_VALUE: &[&str] =
    &["-P", "-i", "-o", "-F", "-l", "-c", "-S", "-J", "-D", "-X"];

const RSYNC_OPTIONS_WITH_VALUE: &[&str] = &[
    "-e",
    "--rsh",
    "-f",
    "--filter",
    "--exclude",
    "--include",
    "--exclude-from",
    "--include-from",
    "--files-from",
    "-T",
    "--temp-dir",
    "--log-file",
    "--password-file",
    "--port",
    "--chmod",
    "--chown",
    "-B",
    "--block-size",
    "--info",
    "--debug",
    "--bwlimit",
    "--partial-dir",
    "--compare-dest",
    "--copy-dest",
    "--link-dest",
    "--max-size",
    "--min-size",
    "--timeout",
    "--contimeout",
    "--out-format",
    "--rsync-path",
    "--backup-dir",
    "--suffix",
    "--usermap",
    "--groupmap",
    "-M",
    "--remote-option",
    "--iconv",
    "--max-delete",
    "--modify-window",
    "--skip-compress",
    "--compress-level",
];

/// `$NAME` and `${NAME…}` in a word.
fn variable_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let start = if chars.get(i + 1) == Some(&'{') {
                i + 2
            } else {
                i + 1
            };
            let mut end = start;
            while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            if end > start {
                out.push(chars[start..end].iter().collect());
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// `Some(value)` of an option that takes one: the rest of the word (`-XPOST`, `--x=v`) or the
/// next word.
fn value_of<'a>(args: &'a [Word], i: &mut usize, inline: Option<&str>) -> Option<&'a Word> {
    if inline.is_some() {
        return args.get(*i);
    }
    *i += 1;
    args.get(*i)
}

/// Add a URL given without a scheme as `http://` (HTTPie's `:port/path` is localhost).
fn push_url(r: &mut Request, w: &Word, default_scheme: &str) {
    let text = w.text.trim();
    let url = if text.contains("://") {
        text.to_string()
    } else if let Some(rest) = text.strip_prefix(':') {
        format!("{default_scheme}://localhost:{rest}")
    } else {
        format!("{default_scheme}://{text}")
    };
    r.urls.push((url, w.dynamic));
}

const CURL_SHORT_WITH_VALUE: &str = "AbcCdDeEFHKmorTuUwxXyYzQt";
const CURL_LONG_WITH_VALUE: &[&str] = &[
    "data",
    "data-raw",
    "data-binary",
    "data-ascii",
    "data-urlencode",
    "form",
    "form-string",
    "json",
    "header",
    "request",
    "user",
    "user-agent",
    "referer",
    "cookie",
    "cookie-jar",
    "output",
    "output-dir",
    "dump-header",
    "upload-file",
    "config",
    "max-time",
    "connect-timeout",
    "retry",
    "retry-delay",
    "retry-max-time",
    "proxy",
    "proxy-user",
    "resolve",
    "connect-to",
    "cacert",
    "capath",
    "cert",
    "key",
    "url",
    "url-query",
    "unix-socket",
    "abstract-unix-socket",
    "oauth2-bearer",
    "trace",
    "trace-ascii",
    "stderr",
    "limit-rate",
    "range",
    "write-out",
    "interface",
    "local-port",
    "max-redirs",
    "max-filesize",
    "netrc-file",
    "aws-sigv4",
    "variable",
    "expect100-timeout",
    "keepalive-time",
    "continue-at",
    "time-cond",
    "quote",
    "telnet-option",
    "mail-from",
    "mail-rcpt",
];

fn curl(args: &[Word], r: &mut Request) {
    let mut i = 0;
    let mut rest_urls = false;
    while i < args.len() {
        let w = &args[i];
        let t = w.text.as_str();
        if rest_urls || !t.starts_with('-') || t == "-" {
            push_url(r, w, "http");
        } else if t == "--" {
            rest_urls = true;
        } else if let Some(long) = t.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            if CURL_LONG_WITH_VALUE.contains(&name) {
                let value = match inline {
                    Some(_) => Some(w),
                    None => value_of(args, &mut i, None),
                };
                curl_option(name, value, inline, r);
            } else {
                curl_option(name, None, None, r);
            }
        } else {
            let chars: Vec<char> = t[1..].chars().collect();
            for (j, c) in chars.iter().enumerate() {
                if CURL_SHORT_WITH_VALUE.contains(*c) {
                    let attached: String = chars[j + 1..].iter().collect();
                    let (value, inline) = if attached.is_empty() {
                        (value_of(args, &mut i, None), None)
                    } else {
                        (Some(w), Some(attached))
                    };
                    curl_option(&c.to_string(), value, inline.as_deref(), r);
                    break;
                }
                curl_option(&c.to_string(), None, None, r);
            }
        }
        i += 1;
    }
}

/// One curl option; `value` is the word holding its value and `inline` the value when it was
/// attached to the option (`-XPOST`, `--request=POST`).
fn curl_option(name: &str, value: Option<&Word>, inline: Option<&str>, r: &mut Request) {
    let text = |v: Option<&Word>| -> Option<String> {
        inline
            .map(str::to_string)
            .or_else(|| v.map(|w| w.text.clone()))
    };
    match name {
        "X" | "request" => r.method = text(value),
        "I" | "head" => r.method = Some("HEAD".into()),
        "G" | "get" => r.force_get = true,
        "d" | "data" | "data-raw" | "data-binary" | "data-ascii" | "data-urlencode" | "F"
        | "form" | "form-string" | "json" => r.body = true,
        "T" | "upload-file" => r.upload = true,
        "K" | "config" => r.from_file = true,
        "o" | "output" | "D" | "dump-header" | "c" | "cookie-jar" | "trace" | "trace-ascii"
        | "stderr" | "output-dir" => {
            if let Some(w) = value {
                r.outputs.push(Word {
                    text: text(Some(w)).unwrap_or_default(),
                    dynamic: w.dynamic,
                });
            }
        }
        "url" => {
            if let Some(w) = value {
                let word = Word {
                    text: text(Some(w)).unwrap_or_default(),
                    dynamic: w.dynamic,
                };
                push_url(r, &word, "http");
            }
        }
        _ => {}
    }
}

const WGET_SHORT_WITH_VALUE: &str = "OoaPieTtUBQlwDARIX";

fn wget(args: &[Word], r: &mut Request) {
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        let t = w.text.as_str();
        if !t.starts_with('-') || t == "-" {
            push_url(r, w, "http");
        } else if let Some(long) = t.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let takes_value = matches!(
                name,
                "method"
                    | "post-data"
                    | "post-file"
                    | "body-data"
                    | "body-file"
                    | "header"
                    | "user"
                    | "password"
                    | "http-user"
                    | "http-password"
                    | "output-document"
                    | "output-file"
                    | "append-output"
                    | "directory-prefix"
                    | "input-file"
                    | "execute"
                    | "user-agent"
                    | "tries"
                    | "timeout"
                    | "wait"
                    | "level"
                    | "load-cookies"
                    | "save-cookies"
                    | "ca-certificate"
                    | "referer"
            );
            let value = if takes_value && inline.is_none() {
                value_of(args, &mut i, None)
            } else {
                None
            };
            match name {
                "method" => r.method = inline.map(str::to_string).or(value.map(|v| v.text.clone())),
                "post-data" | "post-file" | "body-data" | "body-file" => r.body = true,
                "output-document" | "output-file" | "append-output" | "save-cookies"
                | "directory-prefix" => {
                    if let Some(text) = inline.map(str::to_string).or(value.map(|v| v.text.clone()))
                    {
                        r.outputs.push(Word {
                            text,
                            dynamic: value.is_some_and(|v| v.dynamic) || w.dynamic,
                        });
                    }
                }
                "input-file" | "execute" => r.from_file = true,
                _ => {}
            }
            if name == "post-data" || name == "post-file" {
                r.method.get_or_insert("POST".into());
            }
        } else {
            let chars: Vec<char> = t[1..].chars().collect();
            for (j, c) in chars.iter().enumerate() {
                if WGET_SHORT_WITH_VALUE.contains(*c) {
                    let attached: String = chars[j + 1..].iter().collect();
                    let value = if attached.is_empty() {
                        value_of(args, &mut i, None).cloned()
                    } else {
                        Some(Word {
                            text: attached,
                            dynamic: w.dynamic,
                        })
                    };
                    match c {
                        'O' | 'o' | 'a' | 'P' => r.outputs.extend(value),
                        'i' | 'e' => r.from_file = true,
                        _ => {}
                    }
                    break;
                }
            }
        }
        i += 1;
    }
}

fn httpie(program: &str, args: &[Word], r: &mut Request) {
    let scheme = if matches!(program, "https" | "xhs") {
        "https"
    } else {
        "http"
    };
    let with_value = [
        "-a",
        "--auth",
        "-A",
        "--auth-type",
        "--session",
        "--session-read-only",
        "-o",
        "--output",
        "--verify",
        "--cert",
        "--cert-key",
        "--proxy",
        "--timeout",
        "--pretty",
        "-s",
        "--style",
        "-p",
        "--print",
        "--format-options",
        "--max-redirects",
        "--bearer",
    ];
    let mut positional: Vec<&Word> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        let t = w.text.as_str();
        if t.starts_with('-') && t.len() > 1 && !w.dynamic {
            let name = t.split('=').next().unwrap_or(t);
            match name {
                "-f" | "--form" | "--multipart" | "--raw" => r.body = true,
                "--offline" => r.offline = true,
                _ => {}
            }
            if with_value.contains(&name) && !t.contains('=') {
                if matches!(name, "-o" | "--output") {
                    r.outputs.extend(args.get(i + 1).cloned());
                }
                i += 1;
            }
        } else {
            positional.push(w);
        }
        i += 1;
    }
    let mut rest = positional.into_iter();
    let mut first = rest.next();
    if let Some(m) = first.filter(|w| {
        !w.dynamic && !w.text.is_empty() && w.text.chars().all(|c| c.is_ascii_uppercase())
    }) {
        r.method = Some(m.text.clone());
        first = rest.next();
    }
    if let Some(url) = first {
        push_url(r, url, scheme);
    }
    for item in rest {
        let t = item.text.as_str();
        if t.contains("==") {
            continue;
        }
        if t.contains(":=") || t.contains('=') || t.contains('@') {
            r.body = true;
            if t.contains('@') && !t.contains('=') {
                r.upload = true;
            }
        }
    }
}

fn api(program: &str, args: &[Word], r: &mut Request) {
    let with_value = [
        "-X",
        "--method",
        "-H",
        "--header",
        "-f",
        "--raw-field",
        "-F",
        "--field",
        "--input",
        "-q",
        "--jq",
        "-t",
        "--template",
        "--hostname",
        "-p",
        "--preview",
        "--cache",
        "-R",
        "--repo",
    ];
    let mut hostname: Option<String> = None;
    let mut endpoint: Option<&Word> = None;
    let mut seen_api = false;
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        let t = w.text.as_str();
        if t.starts_with('-') && t.len() > 1 && !w.dynamic {
            let (name, inline) = match t.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (t, None),
            };
            let value = if with_value.contains(&name) && inline.is_none() {
                i += 1;
                args.get(i).map(|v| v.text.clone())
            } else {
                inline.map(str::to_string)
            };
            match name {
                "-X" | "--method" => r.method = value,
                "-f" | "--raw-field" | "-F" | "--field" | "--input" => r.body = true,
                "--hostname" => hostname = value,
                _ if name.starts_with("-X") => r.method = Some(name[2..].to_string()),
                _ => {}
            }
        } else if !seen_api && t == "api" {
            seen_api = true;
        } else if seen_api && endpoint.is_none() {
            endpoint = Some(w);
        }
        i += 1;
    }
    let host = hostname.unwrap_or_else(|| {
        if program == "gh" {
            "api.github.com".into()
        } else {
            "gitlab.com".into()
        }
    });
    if let Some(e) = endpoint {
        let word = Word {
            text: format!("https://{host}/{}", e.text.trim_start_matches('/')),
            dynamic: e.dynamic,
        };
        push_url(r, &word, "https");
    }
}
