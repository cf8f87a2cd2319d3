//! Integration tests: they drive the real `warden` binary in temporary homes, the way a user or a
//! script does. Modules:
//! - `cli`: init, keys, ledger commands, exit codes, `--json` contracts, bad input.
//! - `label`: GB 45438 labels on files through `warden label`.
//! - `gateway`: `warden gateway` in front of the local model and of a scripted upstream, called by
//!   the `openai` Python client; the kill switch and rollback from the command line.
//! - `model`: the local runtime served over loopback, called by the `openai` Python client.
//! - `papercuts`: issue 10's regression tests (pipes, limits, duplicate keys, paths, ids, logs).
//! - `serve`: the server started by `warden serve`, used over loopback HTTP, shut down by signal.
//! - `tidy`: repository hygiene checks (module docs, changelog).

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod eval;
mod gate;
mod gateway;
mod label;
mod model;
mod papercuts;
mod serve;
mod support;
mod tidy;
mod trust;
mod upgrade;
