//! The `paios` admin CLI and daemon. All logic lives in the library.
fn main() -> std::process::ExitCode {
    paios::cli::paios_main()
}
