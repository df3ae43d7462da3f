//! PAIOS — a personal AI operating system.
//!
//! The core library: everything that matters lives here; the `paios` and `ai` binaries and the
//! menu-bar app (`src-tauri/`) are thin adapters over it. See ARCHITECTURE.md for the map.

#![warn(missing_docs)]

pub mod alerts;
pub mod api;
pub mod approvals;
pub mod atomic;
pub mod brains;
pub mod client;
pub mod config;
pub mod core;
pub mod daemon;
pub mod events;
pub mod guardian;
pub mod mcp;
pub mod module;
pub mod paths;
pub mod router;
pub mod spool;
pub mod status;
pub mod store;
pub mod text;
pub mod usage;
pub mod watchdog;

pub use crate::core::Core;

/// This build's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
