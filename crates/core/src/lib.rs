//! PAIOS — a personal AI operating system.
//!
//! The core library: everything that matters lives here; the `paios` and `ai` binaries and the
//! menu-bar app (`src-tauri/`) are thin adapters over it. See ARCHITECTURE.md for the map.

#[warn(missing_docs)]
pub mod alerts;
#[warn(missing_docs)]
pub mod api;
#[warn(missing_docs)]
pub mod approvals;
#[warn(missing_docs)]
pub mod atomic;
#[warn(missing_docs)]
pub mod brains;
#[warn(missing_docs)]
pub mod client;
#[warn(missing_docs)]
pub mod config;
#[warn(missing_docs)]
pub mod core;
#[warn(missing_docs)]
pub mod daemon;
#[warn(missing_docs)]
pub mod events;
#[warn(missing_docs)]
pub mod mcp;
#[warn(missing_docs)]
pub mod module;
#[warn(missing_docs)]
pub mod paths;
#[warn(missing_docs)]
pub mod router;
#[warn(missing_docs)]
pub mod spool;
#[warn(missing_docs)]
pub mod status;
#[warn(missing_docs)]
pub mod store;
#[warn(missing_docs)]
pub mod text;
pub mod usage;
#[warn(missing_docs)]
pub mod watchdog;

pub use crate::core::Core;

/// This build's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
