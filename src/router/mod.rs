//! Task routing: classify a task, choose a brain by policy and live state, explain why.

pub mod config;
