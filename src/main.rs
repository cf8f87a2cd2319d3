//! The `warden` binary: a thin shell over `warden-cli`, which holds the command definitions.

fn main() -> std::process::ExitCode {
    warden_cli::main()
}
