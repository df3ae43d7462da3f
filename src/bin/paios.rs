//! The `paios` admin CLI and daemon: a thin adapter over `paios-core` (see `src/lib.rs`).
fn main() -> std::process::ExitCode {
    paios_cli::paios_main()
}
