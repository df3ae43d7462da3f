//! `core.config_get`, `core.config_check`, `core.config_set`: the settings window's access to
//! `paios.toml`.
//!
//! * get: the file's text with secret values hidden (`token = "<hidden:0>"`), a revision, and
//!   where PAIOS keeps its data;
//! * check: would this text be a valid paios.toml? (line, column, key and message if not);
//! * set: validate with the same parser the daemon loads with, refuse if the file changed since
//!   the given revision (no lost edits), then replace it atomically (temp file in the same
//!   folder, fsync, rename) and reload.
//!
//! Must never: send a secret to the client, write an invalid file, or write without the
//! revision check. Secrets are values of keys whose name contains token, secret, password,
//! api key or credential (top-level, table or inline-table keys); a hidden placeholder that
//! comes back unchanged is replaced by the value from the file on disk.

use std::ops::Range;
use std::path::Path;

use serde_json::{Value, json};

use super::ApiError;
use crate::config::{Config, ConfigError};
use crate::core::Core;

pub async fn handle(core: &Core, verb: &str, args: Value) -> Result<Value, ApiError> {
    let path = core.paths().config_file();
    match verb {
        "config_get" => {
            let current = read(&path)?;
            Ok(json!({
                "path": path.display().to_string(),
                "exists": current.is_some(),
                "text": redact(current.as_deref().unwrap_or(&crate::config::default_file_text())),
                "revision": revision(current.as_deref()),
                "paths": {
                    "home": core.paths().home().display().to_string(),
                    "config": path.display().to_string(),
                    "database": core.paths().database().display().to_string(),
                    "logs": core.paths().logs_dir().display().to_string(),
                },
                "sections": {
                    "approvals": serde_json::to_value(&core.config().approvals).unwrap_or(Value::Null),
                    "budgets": serde_json::to_value(&core.config().budgets).unwrap_or(Value::Null),
                },
            }))
        }
        "config_check" => {
            let current = read(&path)?;
            let text = restore(text_arg(&args)?, current.as_deref().unwrap_or(""))?;
            match Config::parse_str(&path, &text) {
                Ok(_) => Ok(json!({"ok": true})),
                Err(e) => Ok(json!({"ok": false, "error": error_json(&e)})),
            }
        }
        "config_set" => {
            let current = read(&path)?;
            let base = args["revision"].as_str().ok_or_else(|| {
                ApiError::bad_request("config_set needs the revision the edit started from")
            })?;
            if base != revision(current.as_deref()) {
                return Err(ApiError::new(
                    "conflict",
                    format!(
                        "{} changed on disk since it was opened; reload it and apply your edit again",
                        path.display()
                    ),
                ));
            }
            let text = restore(text_arg(&args)?, current.as_deref().unwrap_or(""))?;
            Config::parse_str(&path, &text).map_err(|e| ApiError::bad_request(e.to_string()))?;
            crate::atomic::write_atomic(&path, text.as_bytes(), crate::atomic::Mode::Keep)
                .map_err(|e| ApiError::internal(format!("cannot write {}: {e}", path.display())))?;
            let changed = core.reload_config().await;
            Ok(json!({"ok": true, "revision": revision(Some(&text)), "changed": changed}))
        }
        _ => Err(ApiError::unknown_op("core", verb)),
    }
}

fn text_arg(args: &Value) -> Result<&str, ApiError> {
    args["text"]
        .as_str()
        .ok_or_else(|| ApiError::bad_request("missing \"text\": the new paios.toml"))
}

fn read(path: &Path) -> Result<Option<String>, ApiError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ApiError::internal(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn error_json(e: &ConfigError) -> Value {
    match e {
        ConfigError::Invalid {
            line,
            column,
            key,
            message,
            ..
        } => {
            json!({"line": line, "column": column, "key": key, "message": message, "text": e.to_string()})
        }
        other => json!({"message": other.to_string(), "text": other.to_string()}),
    }
}

/// A short fingerprint of the file's content (FNV-1a 64), `"none"` when there is no file.
fn revision(text: Option<&str>) -> String {
    let Some(text) = text else {
        return "none".into();
    };
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

const SECRET_WORDS: [&str; 7] = [
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api_key",
    "credential",
];

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// Byte ranges of the quoted values (quotes included) of secret keys.
fn find_secrets(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => {
                let triple = [q, q, q];
                if b[i..].starts_with(&triple) {
                    // A multi-line string: hidden whole when a secret key holds it (one left
                    // open runs to the end of the text, and is hidden to the end).
                    let rest = &b[i + 3..];
                    let mut end = rest
                        .windows(3)
                        .position(|w| w == triple)
                        .map_or(b.len(), |p| i + 3 + p + 3);
                    // `"""a"""""` ends with up to two more quotes that belong to the string.
                    for _ in 0..2 {
                        if end < b.len() && b[end] == q {
                            end += 1;
                        }
                    }
                    if key_before(text, i).is_some_and(is_secret_key) {
                        out.push(i..end);
                    }
                    i = end;
                    continue;
                }
                let mut j = i + 1;
                let mut closed = false;
                while j < b.len() && b[j] != b'\n' {
                    if q == b'"' && b[j] == b'\\' {
                        j += 2;
                        continue;
                    }
                    if b[j] == q {
                        closed = true;
                        break;
                    }
                    j += 1;
                }
                let end = (j + 1).min(b.len());
                if closed && key_before(text, i).is_some_and(is_secret_key) {
                    out.push(i..end);
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// The key of `key = <value at i>`, if the value at byte `i` is assigned to one.
fn key_before(text: &str, i: usize) -> Option<&str> {
    let before = text[..i].trim_end().strip_suffix('=')?.trim_end();
    let key = if let Some(quoted) = before
        .strip_suffix('"')
        .or_else(|| before.strip_suffix('\''))
    {
        let open = quoted.rfind(['"', '\''])?;
        &quoted[open + 1..]
    } else {
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .map_or(0, |(p, c)| p + c.len_utf8());
        &before[start..]
    };
    let key = key.rsplit('.').next().unwrap_or(key);
    (!key.is_empty()).then_some(key)
}

fn placeholder(n: usize) -> String {
    format!("\"<hidden:{n}>\"")
}

/// Hide every secret value behind a numbered placeholder.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (n, range) in find_secrets(text).into_iter().enumerate() {
        out.push_str(&text[last..range.start]);
        out.push_str(&placeholder(n));
        last = range.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Put back the secret values `redact` hid, taken from `original` (the file on disk).
pub fn restore(edited: &str, original: &str) -> Result<String, ApiError> {
    let secrets = find_secrets(original);
    let mut out = edited.to_string();
    // Highest numbers first, so "<hidden:1>" is never mistaken for part of "<hidden:10>".
    for (n, range) in secrets.iter().enumerate().rev() {
        out = out.replace(&placeholder(n), &original[range.clone()]);
    }
    if let Some(at) = out.find("\"<hidden:") {
        let line = out[..at].matches('\n').count() + 1;
        return Err(ApiError::bad_request(format!(
            "line {line}: a hidden value does not match any secret in the file on disk; type the value again"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = r#"
[api]
port = 7878 # "token" = "not a key"

[[service]]
name = "gw"
command = ["openclaw", "--token", "visible-arg"]
env = { OPENCLAW_GATEWAY_TOKEN = "s3cret-1", HOME = "/home/x" }
[service.probe]
kind = "openclaw"
token = 's3cret-2'
"api-key" = "s3cret-3\"x"
"#;

    #[test]
    fn secrets_are_hidden_and_restored() {
        let hidden = redact(SAMPLE);
        assert!(!hidden.contains("s3cret"), "{hidden}");
        assert!(hidden.contains("OPENCLAW_GATEWAY_TOKEN = \"<hidden:0>\""));
        assert!(hidden.contains("token = \"<hidden:1>\""));
        assert!(hidden.contains("\"api-key\" = \"<hidden:2>\""));
        assert!(hidden.contains("\"/home/x\"") && hidden.contains("visible-arg"));
        assert_eq!(restore(&hidden, SAMPLE).unwrap(), SAMPLE);
        // The hidden text is still a valid config with the same shape.
        let edited = hidden.replace("port = 7878", "port = 7879");
        let back = restore(&edited, SAMPLE).unwrap();
        assert!(back.contains("s3cret-2") && back.contains("port = 7879"));
    }

    #[test]
    fn multi_line_secrets_are_hidden_whole() {
        let text = "[x]\ntoken = \"\"\"\nline-one-s3cret\nline-two-s3cret\"\"\"\nnote = '''\nplain\n'''\napi_key = '''s3cret-3'''\n";
        let hidden = redact(text);
        assert!(!hidden.contains("s3cret"), "{hidden}");
        assert!(hidden.contains("token = \"<hidden:0>\""), "{hidden}");
        assert!(hidden.contains("'''\nplain\n'''"), "{hidden}");
        assert_eq!(restore(&hidden, text).unwrap(), text);
        let open = "password = \"\"\"never closed s3cret\n";
        assert!(!redact(open).contains("s3cret"));
    }

    #[test]
    fn a_stray_placeholder_is_refused() {
        let err = restore("token = \"<hidden:9>\"", "").unwrap_err();
        assert_eq!(err.code, "bad_request");
    }

    #[test]
    fn revision_tracks_content() {
        assert_eq!(revision(None), "none");
        assert_ne!(revision(Some("a")), revision(Some("b")));
        assert_eq!(revision(Some("a")), revision(Some("a")));
    }

    proptest! {
        #[test]
        fn redact_then_restore_is_identity(text in ".{0,400}") {
            let hidden = redact(&text);
            if !text.contains("<hidden:") {
                prop_assert_eq!(restore(&hidden, &text).unwrap(), text);
            }
        }

        #[test]
        fn secret_assignments_never_leak(value in "[a-zA-Z0-9]{6,20}", key in "(token|api_key|db_password|CLIENT_SECRET)") {
            let text = format!("[x]\n{key} = \"{value}\"\nother = \"{value}x\"\n");
            let hidden = redact(&text);
            let quoted = format!("\"{}\"", value);
            prop_assert!(!hidden.contains(&quoted), "{} leaked in {}", quoted, hidden);
        }
    }
}
