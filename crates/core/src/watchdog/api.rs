//! Control-API operations of the watchdog (`watchdog.*`): `status`, `start`, `stop`, `restart`
//! (`{"name"}`) and `incidents` (`{"limit"}`). Thin: the work is in the service tasks.

use serde_json::{Value, json};

use super::service::Command;
use crate::api::ApiError;
use crate::core::Core;

/// Run `watchdog.<verb>`. `start`/`stop`/`restart` answer the service's status after the
/// supervisor took the command; an unknown service is `not_found`, a missing name
/// `bad_request`.
pub(crate) async fn handle(core: &Core, verb: &str, args: Value) -> Result<Value, ApiError> {
    match verb {
        "status" => Ok(super::status_json(core)),
        "start" | "stop" | "restart" => {
            let name = args.get("name").and_then(Value::as_str).ok_or_else(|| {
                ApiError::bad_request(format!("watchdog.{verb} needs {{\"name\": SERVICE}}"))
            })?;
            let watchdog = super::get(core);
            let handle = watchdog.service(name).ok_or_else(|| {
                let names = watchdog.names();
                ApiError::not_found(format!(
                    "no service named {name:?} (configured: {}); services are [[service]] tables in paios.toml",
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                ))
            })?;
            let make = match verb {
                "start" => Command::Start,
                "stop" => Command::Stop,
                _ => Command::Restart,
            };
            if !handle.request(make).await {
                return Err(ApiError::internal(format!(
                    "the supervisor of {name:?} is gone"
                )));
            }
            Ok(handle.snapshot().to_json(name))
        }
        "incidents" => {
            let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(50) as usize;
            let store = core.store().clone();
            let incidents = tokio::task::spawn_blocking(move || {
                let conn = store
                    .reader()
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                crate::alerts::list_incidents(&conn, limit)
                    .map_err(|e| ApiError::internal(e.to_string()))
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
            Ok(json!(incidents))
        }
        _ => Err(ApiError::unknown_op("watchdog", verb)),
    }
}
