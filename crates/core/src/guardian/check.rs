//! Is a watched file valid: its syntax (with line and column), then the brain's own validator
//! (off the hot path, with a timeout); and which keys changed between two versions.
//!
//! Never: returns a value of the file in an error or a key list (values may be secrets).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::config::Format;

/// A file that is not valid: the first error, and the validator's own issues (key paths and
/// messages) when it gave any.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// One line for people (`line 3, column 7: …`, or the validator's first issue).
    pub error: String,
    /// The external validator's issues, `path: message` each.
    pub issues: Vec<String>,
}

/// Parse `bytes` as `format` into a JSON tree (TOML too), or say where it is wrong. An empty
/// file is invalid for every format (a watched config is never meant to be empty).
pub fn parse(format: Format, bytes: &[u8]) -> Result<Value, Invalid> {
    let fail = |error: String| Invalid {
        error,
        issues: Vec::new(),
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(fail("the file is empty".into()));
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| fail("the file is not valid UTF-8".into()))?;
    match format {
        Format::Json => serde_json::from_str::<Value>(text).map_err(|e| {
            fail(format!(
                "line {}, column {}: {}",
                e.line(),
                e.column(),
                redact_serde(&e.to_string())
            ))
        }),
        Format::Json5 => json5::from_str::<Value>(text).map_err(|e| match e {
            json5::Error::Message { msg, location } => {
                let at = location
                    .map(|l| format!("line {}, column {}: ", l.line, l.column))
                    .unwrap_or_default();
                fail(format!("{at}{}", first_line(&msg)))
            }
        }),
        Format::Toml => {
            let doc: toml::Table = toml::from_str(text).map_err(|e| {
                let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
                fail(format!(
                    "line {line}, column {column}: {}",
                    e.message().trim()
                ))
            })?;
            serde_json::to_value(doc).map_err(|e| fail(e.to_string()))
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// serde_json's messages quote no values except in `invalid type` errors; drop those quotes.
fn redact_serde(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    match message.find(": string \"") {
        Some(i) => format!("{}: string", &message[..i]),
        None => message.to_string(),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// Run the external validator `argv` on `file` (the file's path goes in the environment
/// variables the brains read: `OPENCLAW_CONFIG_PATH`, and `PAIOS_GUARD_FILE` for any
/// validator), with `timeout`. `Ok` when it exits 0.
pub async fn external(
    argv: &[String],
    file: &Path,
    tools_path: Option<&std::ffi::OsStr>,
    timeout: Duration,
) -> Result<(), Invalid> {
    let Some((program, args)) = argv.split_first() else {
        return Ok(());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env("OPENCLAW_CONFIG_PATH", file)
        .env("PAIOS_GUARD_FILE", file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(path) = tools_path {
        cmd.env("PATH", path);
    }
    let fail = |error: String| Invalid {
        error,
        issues: Vec::new(),
    };
    let child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot run the validator `{program}`: {e}")))?;
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(fail(format!("the validator `{program}` failed: {e}"))),
        Err(_) => {
            return Err(fail(format!(
                "the validator `{program}` took longer than {} s",
                timeout.as_secs()
            )));
        }
    };
    if out.status.success() {
        return Ok(());
    }
    let issues = issues_of(&String::from_utf8_lossy(&out.stdout));
    let error = match issues.first() {
        Some(first) => first.clone(),
        None => format!(
            "the validator `{program}` refused the file (exit {})",
            out.status
                .code()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "by signal".into())
        ),
    };
    Err(Invalid { error, issues })
}

/// `openclaw config validate --json`'s `issues[{path,message}]` as `path: message` lines.
pub fn issues_of(stdout: &str) -> Vec<String> {
    let Some(start) = stdout.find('{') else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<Value>(&stdout[start..]) else {
        return Vec::new();
    };
    v.get("issues")
        .and_then(Value::as_array)
        .map(|issues| {
            issues
                .iter()
                .take(20)
                .map(|i| {
                    let path = i.get("path").and_then(Value::as_str).unwrap_or("");
                    let msg = i
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("invalid");
                    let msg: String = msg.chars().take(200).collect();
                    if path.is_empty() {
                        msg
                    } else {
                        format!("{path}: {msg}")
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The dotted key paths whose value differs between `old` and `new` (added, removed or
/// changed), sorted; arrays count as one value. Never the values themselves.
pub fn changed_keys(old: &Value, new: &Value) -> Vec<String> {
    let mut out = BTreeSet::new();
    walk("", old, new, &mut out);
    out.into_iter().collect()
}

fn walk(prefix: &str, old: &Value, new: &Value, out: &mut BTreeSet<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let key = join(prefix, k);
                match b.get(k) {
                    Some(vb) => walk(&key, va, vb, out),
                    None => {
                        out.insert(key);
                    }
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.insert(join(prefix, k));
            }
        }
        (a, b) if a == b => {}
        _ => {
            out.insert(if prefix.is_empty() {
                "(root)".into()
            } else {
                prefix.to_string()
            });
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn syntax_errors_have_a_line_and_column_and_no_value() {
        let e = parse(Format::Json, b"{\n  \"a\": 1,\n  \"b\": \"sk-secret\" x\n}").unwrap_err();
        assert!(e.error.starts_with("line 3, column"), "{}", e.error);
        assert!(!e.error.contains("sk-secret"));
        let e = parse(Format::Toml, b"a = 1\nb = = 2\n").unwrap_err();
        assert!(e.error.starts_with("line 2, column"), "{}", e.error);
        let e = parse(Format::Json5, b"{\n a: 1,\n b: }\n").unwrap_err();
        assert!(e.error.starts_with("line 3"), "{}", e.error);
        assert!(parse(Format::Json5, b"{ // c\n a: 1, }").is_ok());
        assert_eq!(
            parse(Format::Json, b"  \n").unwrap_err().error,
            "the file is empty"
        );
    }

    #[test]
    fn changed_keys_name_keys_never_values() {
        let old = serde_json::json!({"gateway": {"port": 1, "token": "s1"}, "x": [1]});
        let new = serde_json::json!({"gateway": {"port": 1, "token": "s2"}, "y": true});
        assert_eq!(changed_keys(&old, &new), ["gateway.token", "x", "y"]);
    }

    #[test]
    fn validator_issues_are_read_from_its_json() {
        let out = "{\"valid\":false,\"issues\":[{\"path\":\"gateway.bogus\",\"message\":\"Unrecognized key\"}]}";
        assert_eq!(issues_of(out), ["gateway.bogus: Unrecognized key"]);
        assert!(issues_of("garbage").is_empty());
    }

    proptest! {
        #[test]
        fn parsing_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for f in [Format::Json, Format::Json5, Format::Toml] {
                let _ = parse(f, &bytes);
            }
        }
    }
}
