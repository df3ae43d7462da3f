//! Masking of values that look like secrets, in what the gate records and shows: a command
//! line (`TOKEN=…`, `--password …`, `Authorization: Bearer …`, `-u user:pass`, `-pPASS`,
//! `https://user:pass@host`, well-known token prefixes) and a tool call's JSON input (the
//! values of secret-looking keys).
//!
//! Owns: what counts as secret-looking. Never: decides anything — the classifier sees the
//! command as it is; only what is stored, sent as an event or shown goes through here.

use serde_json::Value;

/// Parts of a key or option name that mark its value as a secret.
const KEYS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "apikey",
    "api_key",
    "api-key",
    "auth",
    "credential",
    "private",
];

/// Prefixes of well-known token formats (masked wherever they appear, if long enough).
const PREFIXES: &[&str] = &[
    "sk-",
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "glpat-",
    "AIza",
];

fn secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    KEYS.iter().any(|k| lower.contains(k))
}

/// Mask values that look like secrets in a command line (or any text).
pub fn redact(text: &str) -> String {
    let mut out = Vec::new();
    let mut mask_next = false;
    for word in text.split(' ') {
        let lower = word.to_ascii_lowercase();
        let bare = word.trim_matches(|c| c == '"' || c == '\'');
        if mask_next && !word.is_empty() {
            // `Authorization: Bearer TOKEN`: the scheme is shown, the credential after it not.
            if matches!(
                bare.to_ascii_lowercase().as_str(),
                "bearer" | "basic" | "token"
            ) {
                out.push(word.to_string());
            } else {
                out.push("***".to_string());
                mask_next = false;
            }
            continue;
        }
        let option = lower.starts_with('-');
        // `--password x`, `-u user:pass` (curl), `X-Api-Key: x`, `Bearer x`.
        if lower == "bearer"
            || (option && secret_name(&lower) && !lower.contains('='))
            || matches!(bare, "-u" | "--user" | "--proxy-user")
            || (bare.ends_with(':') && secret_name(bare))
        {
            mask_next = true;
            out.push(word.to_string());
            continue;
        }
        // `-pPASS` (mysql and friends): a password glued to its option.
        if let Some(rest) = bare.strip_prefix("-p")
            && !rest.is_empty()
            && !bare.starts_with("--")
            && !rest.starts_with('=')
        {
            out.push("-p***".to_string());
            continue;
        }
        if let Some((key, _)) = word.split_once('=')
            && secret_name(key)
        {
            out.push(format!("{key}=***"));
            continue;
        }
        if bare.len() >= 16 && PREFIXES.iter().any(|p| bare.starts_with(p)) {
            out.push("***".to_string());
            continue;
        }
        out.push(url_userinfo(word));
    }
    out.join(" ")
}

/// `scheme://user:pass@host…` → `scheme://user:***@host…`; anything else unchanged.
fn url_userinfo(word: &str) -> String {
    let Some(scheme_end) = word.find("://") else {
        return word.to_string();
    };
    let rest = &word[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return word.to_string();
    };
    let userinfo = &rest[..at];
    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
    format!("{}{user}:***{}", &word[..scheme_end + 3], &rest[at..])
}

/// A copy of a tool call's input with the values of secret-looking keys masked (and every
/// string masked as a command line would be).
pub fn redact_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let masked = if secret_name(k) && !v.is_object() && !v.is_array() {
                        Value::String("***".into())
                    } else {
                        redact_json(v)
                    };
                    (k.clone(), masked)
                })
                .collect(),
        ),
        // An argument vector: an element after `--token` and the like is the secret.
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let after_secret_option = i > 0
                        && matches!((&items[i - 1], item), (Value::String(prev), Value::String(_))
                            if redact(&format!("{prev} x")).ends_with(" ***"));
                    if after_secret_option {
                        Value::String("***".into())
                    } else {
                        redact_json(item)
                    }
                })
                .collect(),
        ),
        Value::String(s) => Value::String(redact(s)),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_in_command_lines_are_masked() {
        for (text, masked) in [
            (
                "curl -H 'Authorization: Bearer abc' -u x --password hunter2 API_TOKEN=zzz",
                "curl -H 'Authorization: Bearer *** -u *** --password *** API_TOKEN=***",
            ),
            ("echo sk-abcdefghijklmnopqrstu", "echo ***"),
            (
                "curl -H \"Authorization: Bearer SEKRIT_BEARER_123\" https://example.org",
                "curl -H \"Authorization: Bearer *** https://example.org",
            ),
            (
                "export API_TOKEN=SEKRIT && ls",
                "export API_TOKEN=*** && ls",
            ),
            (
                "git clone https://bob:ghp_SEKRIT@github.com/x/y",
                "git clone https://bob:***@github.com/x/y",
            ),
            (
                "curl -u bob:SEKRIT https://e.org",
                "curl -u *** https://e.org",
            ),
            ("mysql -uroot -pSEKRIT db", "mysql -uroot -p*** db"),
            (
                "curl -H \"X-Api-Key: SEKRIT\" https://e.org",
                "curl -H \"X-Api-Key: *** https://e.org",
            ),
        ] {
            assert_eq!(redact(text), masked, "{text}");
        }
    }

    #[test]
    fn ordinary_commands_are_left_alone() {
        for text in [
            "ls -la",
            "git push origin main",
            "cargo test -p paios",
            "curl https://example.org/a@b",
            "python3 -c 'print(1)'",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn secret_keys_in_tool_input_are_masked() {
        let input = json!({"sql": "select 1", "password": "SEKRIT4",
                           "nested": {"apiKey": "SEKRIT5", "args": ["--token", "SEKRIT6"]}});
        let text = redact_json(&input).to_string();
        assert!(!text.contains("SEKRIT"), "{text}");
        assert!(text.contains("select 1"), "{text}");
    }
}
