//! Control-API operations of this module (`usage.*`):
//!
//! * `usage.summary` → `{today:{total,by_brain}, month:{…}, budgets:{…}, last_14_days:[…]}`
//!   for the panel;
//! * `usage.budgets` → the budget state per brain (what the router consults).

use serde_json::Value;

use crate::api::ApiError;
use crate::core::Core;

/// Run `usage.<verb>` (`summary` or `budgets`): bring the ledger up to date, then answer;
/// an unknown verb is an unknown-operation error, a ledger failure an internal one.
pub async fn handle(core: &Core, verb: &str, _args: Value) -> Result<Value, ApiError> {
    let paths = core.paths().clone();
    let config = core.config();
    let job = match verb {
        "summary" => Job::Summary,
        "budgets" => Job::Budgets,
        _ => return Err(ApiError::unknown_op("usage", verb)),
    };
    tokio::task::spawn_blocking(move || {
        let fresh =
            super::refresh(&paths, &config).map_err(|e| ApiError::internal(e.to_string()))?;
        match job {
            Job::Summary => super::summary_json(&fresh.ledger, &config),
            Job::Budgets => {
                super::summary_json(&fresh.ledger, &config).map(|s| s["budgets"].clone())
            }
        }
        .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

enum Job {
    Summary,
    Budgets,
}
