//! `[approvals]` section of paios.toml.

use serde::{Deserialize, Serialize};

/// The `[approvals]` settings; a missing key takes its default, an unknown one is an error.
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

/// The longest an `ask` may wait for an answer: a day.
pub const MAX_TIMEOUT_S: u64 = 24 * 3600;

impl ApprovalsConfig {
    /// Checks serde cannot express. Returns (key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.autonomy > 3 {
            return Err((
                "approvals.autonomy".into(),
                format!("the autonomy level is 0, 1, 2 or 3, not {}", self.autonomy),
            ));
        }
        if !(1..=MAX_TIMEOUT_S).contains(&self.timeout_s) {
            return Err((
                "approvals.timeout_s".into(),
                format!(
                    "an approval waits from 1 to {MAX_TIMEOUT_S} seconds (a day), not {}",
                    self.timeout_s
                ),
            ));
        }
        if self.trust_after == 0 {
            return Err((
                "approvals.trust_after".into(),
                "trust is earned after at least 1 approval, not 0".into(),
            ));
        }
        Ok(())
    }
}
