//! The three brains: managed installs (`paios brains`) and adapters (`run`, health, version).

pub mod config;
