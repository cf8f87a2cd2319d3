//! The scripted upstream double as a process, for benchmarks that put a gateway (Warden's, or a
//! peer's) in front of an upstream that costs nothing. Prints its base URL on the first line.
//!
//! `cargo run --release -p warden-gateway --features testing --example scripted-upstream --
//! [--port P] [--reply TEXT] [--chunk-chars N]`

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark helper has nothing to do but stop when a step fails"
)]

use std::time::Duration;

use warden_gateway::testing::{self, Script};

#[tokio::main]
async fn main() {
    let mut script = Script {
        reply:
            "今天天气很好，我们去公园散步吧。The weather is fine today; let us walk in the park."
                .to_owned(),
        chunk_chars: 8,
        chunk_delay: Duration::ZERO,
        fault: None,
    };
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().expect("every flag takes a value");
        match flag.as_str() {
            "--port" => port = value.parse().expect("--port takes a number"),
            "--reply" => script.reply = value,
            "--chunk-chars" => {
                script.chunk_chars = value.parse().expect("--chunk-chars takes a number")
            }
            other => panic!("unknown flag {other}"),
        }
    }
    let upstream = testing::start_on(port, script).await.expect("bind");
    println!("{}", upstream.base());
    std::future::pending::<()>().await;
}
