//! `paios bench watchdog`.
use std::process::ExitCode;

use crate::cli::Ctx;

pub fn run(_ctx: &Ctx) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
