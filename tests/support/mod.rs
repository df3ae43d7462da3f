//! Shared helpers for the integration tests: throw-away PAIOS homes with a real daemon, and
//! hermetic environments for the real brains with fake model servers.
#![allow(dead_code)]

pub mod daemon;
pub mod env;
pub mod fake_anthropic;
pub mod fake_http;
pub mod fake_openai;
pub mod usage_logs;
