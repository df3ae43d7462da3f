//! The unified `ai` CLI. All logic lives in the library.
fn main() -> std::process::ExitCode {
    paios::cli::ai::main()
}
