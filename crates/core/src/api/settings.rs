//! `core.config_get`, `core.config_check`, `core.config_set`: the settings window's access to
//! `paios.toml`, over [`crate::config::edit`] (which owns redaction, revisions and the
//! compare-and-swap write). This adapter only maps JSON in and out and reloads the daemon's
//! config after a save.
//!
//! Must never: send a secret to the client (the library hides them before this sees the text).

use serde_json::{Value, json};

use super::ApiError;
use crate::config::ConfigError;
use crate::config::edit::{self, EditError};
use crate::core::Core;

/// Run `core.<verb>` for one of the three settings verbs. A missing argument or an invalid
/// text is `bad_request`, a save against a stale revision `conflict`, a file that cannot be read
/// or written `internal`; `config_check` answers an invalid text as `{"ok": false, "error"}`.
pub(crate) async fn handle(core: &Core, verb: &str, args: Value) -> Result<Value, ApiError> {
    let path = core.paths().config_file();
    match verb {
        "config_get" => {
            let opened = edit::open(&path).map_err(api_error)?;
            Ok(json!({
                "path": path.display().to_string(),
                "exists": opened.exists,
                "text": opened.text,
                "revision": opened.revision,
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
        "config_check" => match edit::check(&path, text_arg(&args)?).map_err(api_error)? {
            Ok(()) => Ok(json!({"ok": true})),
            Err(e) => Ok(json!({"ok": false, "error": error_json(&e)})),
        },
        "config_set" => {
            let base = args["revision"].as_str().ok_or_else(|| {
                ApiError::bad_request("config_set needs the revision the edit started from")
            })?;
            let revision = edit::save(&path, base, text_arg(&args)?).map_err(api_error)?;
            let changed = core.reload_config().await;
            Ok(json!({"ok": true, "revision": revision, "changed": changed}))
        }
        _ => Err(ApiError::unknown_op("core", verb)),
    }
}

fn api_error(e: EditError) -> ApiError {
    match e {
        EditError::Conflict { .. } => ApiError::new("conflict", e.to_string()),
        EditError::StrayPlaceholder { .. } | EditError::Invalid(_) => {
            ApiError::bad_request(e.to_string())
        }
        EditError::Io { .. } => ApiError::internal(e.to_string()),
    }
}

fn text_arg(args: &Value) -> Result<&str, ApiError> {
    args["text"]
        .as_str()
        .ok_or_else(|| ApiError::bad_request("missing \"text\": the new paios.toml"))
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
