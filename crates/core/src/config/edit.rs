//! Editing `paios.toml` without losing an edit or leaking a secret: the one implementation the
//! settings window (through the API) and any other editor use.
//!
//! * [`open`]: the file's text with secret values hidden behind numbered placeholders
//!   (`token = "<hidden:0>"`) and a revision (a fingerprint of the content on disk);
//! * [`check`]: would this edited text be a valid `paios.toml`? (the same parser the daemon
//!   loads with, so file:line:column errors are the daemon's own);
//! * [`save`]: refuse if the file changed since the revision the edit started from (no lost
//!   edits), put the hidden secrets back from the file on disk, validate, then replace the file
//!   atomically ([`crate::atomic::write_atomic`]: temp file, fsync, rename, fsync folder).
//!
//! Secrets are the values of keys whose name contains token, secret, password, api key or
//! credential (top-level, table or inline-table keys); a placeholder that comes back unchanged
//! is replaced by the value from the file on disk; one that matches no secret is refused.
//!
//! Owns: redaction, revisions, the compare-and-swap write. Never does: reload the daemon (the
//! caller does, after a successful [`save`]), write an invalid file, or return a secret.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// `paios.toml` as an editor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Whether the file exists (when not, `text` is the default file `paios init` writes).
    pub exists: bool,
    /// The text with every secret value hidden.
    pub text: String,
    /// The fingerprint to hand back to [`save`].
    pub revision: String,
}

/// Why an edit could not be checked or saved. Nothing was written in any case.
#[derive(Debug)]
pub enum EditError {
    /// The file changed on disk since the edit started.
    Conflict {
        /// The config file.
        path: PathBuf,
    },
    /// A `<hidden:N>` placeholder that matches no secret of the file on disk.
    StrayPlaceholder {
        /// 1-based line of the edited text.
        line: usize,
    },
    /// The edited text is not a valid `paios.toml`.
    Invalid(ConfigError),
    /// The file could not be read or written.
    Io {
        /// The config file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::Conflict { path } => write!(
                f,
                "{} changed on disk since it was opened; reload it and apply your edit again",
                path.display()
            ),
            EditError::StrayPlaceholder { line } => write!(
                f,
                "line {line}: a hidden value does not match any secret in the file on disk; type the value again"
            ),
            EditError::Invalid(e) => e.fmt(f),
            EditError::Io { path, source } => {
                write!(f, "cannot access {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for EditError {}

/// Read `path` for editing: secrets hidden, with its revision.
pub fn open(path: &Path) -> Result<Opened, EditError> {
    let current = read(path)?;
    Ok(Opened {
        exists: current.is_some(),
        text: redact(current.as_deref().unwrap_or(&super::default_file_text())),
        revision: revision(current.as_deref()),
    })
}

/// Validate an edited text (placeholders restored from the file on disk) without writing.
/// `Ok(Err(e))` is an invalid text, with the daemon's own error.
pub fn check(path: &Path, edited: &str) -> Result<Result<(), ConfigError>, EditError> {
    let current = read(path)?;
    let text = restore(edited, current.as_deref().unwrap_or(""))?;
    Ok(Config::parse_str(path, &text).map(|_| ()))
}

/// Replace `path` with the edited text if the file is still at `base_revision` and the text is
/// valid; returns the new revision. The caller reloads the daemon's config afterwards.
pub fn save(path: &Path, base_revision: &str, edited: &str) -> Result<String, EditError> {
    let current = read(path)?;
    if base_revision != revision(current.as_deref()) {
        return Err(EditError::Conflict {
            path: path.to_path_buf(),
        });
    }
    let text = restore(edited, current.as_deref().unwrap_or(""))?;
    Config::parse_str(path, &text).map_err(EditError::Invalid)?;
    crate::atomic::write_atomic(path, text.as_bytes(), crate::atomic::Mode::Keep).map_err(
        |source| EditError::Io {
            path: path.to_path_buf(),
            source,
        },
    )?;
    Ok(revision(Some(&text)))
}

fn read(path: &Path) -> Result<Option<String>, EditError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(EditError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A short fingerprint of the file's content (FNV-1a 64), `"none"` when there is no file.
pub fn revision(text: Option<&str>) -> String {
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
pub fn restore(edited: &str, original: &str) -> Result<String, EditError> {
    let secrets = find_secrets(original);
    let mut out = edited.to_string();
    // Highest numbers first, so "<hidden:1>" is never mistaken for part of "<hidden:10>".
    for (n, range) in secrets.iter().enumerate().rev() {
        out = out.replace(&placeholder(n), &original[range.clone()]);
    }
    if let Some(at) = out.find("\"<hidden:") {
        let line = out[..at].matches('\n').count() + 1;
        return Err(EditError::StrayPlaceholder { line });
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
        assert!(
            matches!(err, EditError::StrayPlaceholder { line: 1 }),
            "{err}"
        );
    }

    #[test]
    fn revision_tracks_content() {
        assert_eq!(revision(None), "none");
        assert_ne!(revision(Some("a")), revision(Some("b")));
        assert_eq!(revision(Some("a")), revision(Some("a")));
    }

    #[test]
    fn a_save_from_a_stale_revision_is_refused_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paios.toml");
        let service = "[[service]]\nname = \"gw\"\ncommand = [\"gw\"]\n[service.env]\nGW_TOKEN = \"s3cret\"\n";
        std::fs::write(&path, format!("[api]\nport = 7878\n{service}")).unwrap();
        let opened = open(&path).unwrap();
        assert!(
            opened.exists && !opened.text.contains("s3cret"),
            "{}",
            opened.text
        );
        // Someone else edits the file meanwhile.
        std::fs::write(&path, format!("[api]\nport = 7000\n{service}")).unwrap();
        let edited = opened.text.replace("7878", "7879");
        let err = save(&path, &opened.revision, &edited).unwrap_err();
        assert!(matches!(err, EditError::Conflict { .. }), "{err}");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("port = 7000")
        );
        // From the fresh revision it saves, secret put back.
        let opened = open(&path).unwrap();
        let revision = save(
            &path,
            &opened.revision,
            &opened.text.replace("7000", "7879"),
        )
        .unwrap();
        let on_disk = std::fs::read_to_string(&path).unwrap();
        assert!(
            on_disk.contains("port = 7879") && on_disk.contains("\"s3cret\""),
            "{on_disk}"
        );
        assert_eq!(revision, open(&path).unwrap().revision);
    }

    #[test]
    fn an_invalid_edit_is_reported_where_it_is_and_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paios.toml");
        let opened = open(&path).unwrap();
        assert!(!opened.exists);
        let bad = "[api]\nport = \"seven\"\n";
        let Ok(Err(ConfigError::Invalid { line, .. })) = check(&path, bad) else {
            panic!("an invalid port was accepted");
        };
        assert_eq!(line, 2);
        assert!(matches!(
            save(&path, &opened.revision, bad),
            Err(EditError::Invalid(_))
        ));
        assert!(!path.exists());
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
