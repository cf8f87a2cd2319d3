//! `cargo run -p warden-gate --example gate-lint -- FILE...`: lint policy files the way
//! `warden gate lint` will, printing `file:line:column: message` and exiting non-zero on any problem.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        match std::fs::read_to_string(&path) {
            Err(err) => {
                eprintln!("{path}: {err}");
                failed = true;
            }
            Ok(text) => match warden_gate::lint(&path, &text) {
                Ok(policy) => println!(
                    "{path}: ok ({} {}, {} thresholds)",
                    policy.policy.id.get_ref(),
                    policy.policy.version.get_ref(),
                    policy.thresholds.len()
                ),
                Err(diagnostics) => {
                    for d in diagnostics {
                        eprintln!("{d}");
                    }
                    failed = true;
                }
            },
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
