//! The unified `ai` CLI: a thin adapter over `paios-core` (see `src/ai.rs`).
fn main() -> std::process::ExitCode {
    paios_cli::ai::main()
}
