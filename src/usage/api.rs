//! Control-API operations of this module (`usage.*`).

use serde_json::Value;

use crate::api::ApiError;
use crate::core::Core;

pub async fn handle(_core: &Core, verb: &str, _args: Value) -> Result<Value, ApiError> {
    Err(ApiError::unknown_op("usage", verb))
}
