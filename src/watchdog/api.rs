//! Control-API operations of the watchdog (`watchdog.*`).

use serde_json::Value;

use crate::api::ApiError;
use crate::core::Core;

pub async fn handle(_core: &Core, verb: &str, _args: Value) -> Result<Value, ApiError> {
    Err(ApiError::unknown_op("watchdog", verb))
}
