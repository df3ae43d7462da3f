//! The `ai` command: route a task to the best brain and run it.

use std::process::ExitCode;

/// Entry point of the `ai` binary.
pub fn main() -> ExitCode {
    eprintln!("ai: error: unrecognized subcommand: the router is not built yet");
    ExitCode::from(2)
}

/// `paios bench router`.
pub fn bench(_ctx: &super::Ctx) -> anyhow::Result<ExitCode> {
    super::not_yet("bench router")
}
