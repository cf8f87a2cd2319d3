//! The instant, fault-injecting OpenAI-compatible upstream of `warden_eval::testing`, as a
//! process: a test double for harness benchmarks (`scripts/bench-eval`) and manual retry and
//! resume tests. Never point anything real at it.
//!
//! ```text
//! instant-upstream [--port N] [--stall-after N] [--fail-first N] [--server-errors-every N]
//!                  [--delay-ms N] [--reply TEXT]
//! ```
//!
//! Prints its base URL (`http://127.0.0.1:PORT/v1`) as the first line of stdout, then serves
//! until killed. `GET /stats` gives the counters as JSON.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use warden_eval::testing::{ReplyMode, UpstreamOptions, start_on};

const USAGE: &str = "usage: instant-upstream [--port N] [--stall-after N] [--fail-first N] \
[--server-errors-every N] [--delay-ms N] [--reply TEXT]";

fn parse_args() -> Result<(u16, UpstreamOptions), String> {
    let mut port = 0u16;
    let mut options = UpstreamOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |value: &str| -> Result<u64, String> {
            value
                .parse()
                .map_err(|_| format!("{flag} takes a whole number, not `{value}`"))
        };
        match flag.as_str() {
            "--port" => {
                port = u16::try_from(number(&value)?)
                    .map_err(|_| format!("--port {value} is not a port"))?;
            }
            "--stall-after" => options.stall_after = Some(number(&value)?),
            "--fail-first" => {
                options.fail_first = u32::try_from(number(&value)?)
                    .map_err(|_| format!("--fail-first {value} is too large"))?;
            }
            "--server-errors-every" => {
                options.server_errors_every = Some(
                    u32::try_from(number(&value)?)
                        .map_err(|_| format!("--server-errors-every {value} is too large"))?,
                );
            }
            "--delay-ms" => options.delay = Duration::from_millis(number(&value)?),
            "--reply" => options.reply = ReplyMode::Fixed(value),
            _ => return Err(format!("unknown flag `{flag}`\n{USAGE}")),
        }
    }
    Ok((port, options))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (port, options) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let upstream = match start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), options).await {
        Ok(upstream) => upstream,
        Err(error) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "{}", upstream.url)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    // Serve until killed; Ctrl-C stops it cleanly.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
    match upstream.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
