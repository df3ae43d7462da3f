//! Shared helpers for the integration tests: throw-away PAIOS homes with a real daemon, and
//! (see the other files here) hermetic environments for the real brains and fake model servers.
#![allow(dead_code)]

pub mod daemon;
