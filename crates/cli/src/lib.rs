//! The `warden` command line. Argument definitions live in [`args`]; each command module turns
//! parsed arguments into calls on the library crates and prints text or, with `--json`, JSON.
//!
//! Exit codes are part of the contract (scripts rely on them):
//! 0 success; 1 a check failed (`ledger verify`, `ledger verify-proof`); 2 bad usage or input;
//! 3 the environment failed (home missing or corrupt, database unreachable, IO).

mod args;
mod attack;
mod commands;
mod compliance;
mod eval;
mod exit;
mod gate;
mod gateway;
mod label;
mod model;
mod samples;
mod signer;

use std::process::ExitCode;

use clap::Parser as _;

pub use exit::Failure;

/// Parse the command line, run the command, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("warden: cannot start the async runtime: {error}");
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("warden: {failure}");
            ExitCode::from(failure.code)
        }
    }
}

/// `warden … | head`: when the reader closes the pipe, stop without a panic message. Rust ignores
/// SIGPIPE, so `println!` fails with EPIPE and panics; that one panic becomes a quiet exit 0 (the
/// reader has all it wanted), and every other panic keeps the default report.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload_as_str().unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(i32::from(exit::OK));
        }
        default(info);
    }));
}
