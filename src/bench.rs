//! `paios bench TARGET …`: runs `paios-bench` (built beside `paios`) with the same arguments.
//! The benchmarks are their own program so that `paios` carries none of their code.

use std::process::ExitCode;

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The target and its options (`paios-bench --help` lists them: store, watchdog, router,
    /// hook, approvals, usage, json, mcp).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

pub fn run(ctx: &Ctx, a: BenchArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe()?;
    let bench = exe.with_file_name("paios-bench");
    if !bench.exists() {
        return Err(crate::failed(format!(
            "the benchmarks are not built beside {}: cargo build --release -p paios-bench",
            exe.display()
        )));
    }
    let status = std::process::Command::new(&bench)
        .args(&a.args)
        .env("PAIOS_HOME", ctx.paths.home())
        .status()?;
    Ok(match status.code() {
        Some(code) => ExitCode::from(code.clamp(0, 255) as u8),
        None => ExitCode::FAILURE,
    })
}
