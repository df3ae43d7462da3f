//! `[approvals]` section of paios.toml.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// How long an `ask` waits for an answer before it is denied.
    pub timeout_s: u64,
    /// At autonomy level 1, approvals of the same (rule, brain, project) after which PAIOS
    /// approves it by itself.
    pub trust_after: u32,
    /// Autonomy level (0–3) until one is set with `paios autonomy set N`.
    pub autonomy: u8,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            timeout_s: 300,
            trust_after: 3,
            autonomy: 1,
        }
    }
}
