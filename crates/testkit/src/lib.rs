//! The PAIOS test kit: what the integration tests and the benchmarks share, and the product
//! never ships — throw-away homes with a real daemon, hermetic environments for the real brains,
//! the local fake model servers (the only stand-ins in the suite), the one log generator and the
//! one seeded random generator.
//!
//! Architecture invariant: nothing in `paios-core` or in the `paios`/`ai` programs depends on
//! this crate (tests/architecture.rs).
#![allow(dead_code)]

pub mod daemon;
pub mod env;
pub mod fake_anthropic;
pub mod fake_http;
pub mod fake_openai;
pub mod mcp;
pub mod rng;
pub mod services;
pub mod usage_logs;

use std::path::PathBuf;

/// A program of this workspace, as built for the running test or benchmark: `paios`, `ai`,
/// `paios-bench` (beside the test binary's `deps/` folder, as cargo lays them out), or from
/// `PAIOS_BIN_DIR` when set.
pub fn bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("PAIOS_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let exe = std::env::current_exe().expect("the test's own path");
    let mut dir = exe.parent().expect("a folder").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}
