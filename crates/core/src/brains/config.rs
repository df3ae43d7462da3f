//! `[brains]` section of paios.toml.

use serde::{Deserialize, Serialize};

/// `[brains]`: no keys yet; an empty table is accepted, any key is refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrainsConfig {}
