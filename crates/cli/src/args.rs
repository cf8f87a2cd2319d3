//! Command-line definitions. `--help` text is written here, next to the flags it explains.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use warden_core::Role;

/// Warden: frontier-AI safety practices as running software.
///
/// Exit codes: 0 success; 1 a check failed; 2 bad usage or input; 3 environment failure
/// (home missing or corrupt, database unreachable).
#[derive(Parser, Debug)]
#[command(
    name = "warden",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The Warden home folder (config, instance key, embedded database).
    #[arg(long, global = true, env = "WARDEN_HOME", default_value = ".warden")]
    pub home: PathBuf,
    /// Use this database instead of the embedded SQLite file, e.g. postgres://user@host/db.
    #[arg(
        long,
        global = true,
        env = "WARDEN_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Print JSON instead of text, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a Warden home: config, Ed25519 instance key (mode 0600) and database.
    Init {
        /// The ledger's origin line and key name (default: warden.local/<random id>).
        #[arg(long)]
        origin: Option<String>,
    },
    /// Serve the HTTP API (binds to loopback unless told otherwise).
    Serve {
        /// Address to listen on (default: [server] addr in warden.toml, 127.0.0.1:8440).
        #[arg(long, env = "WARDEN_ADDR")]
        addr: Option<String>,
    },
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The transparency ledger: append, read, prove and verify.
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key. The secret is printed once and stored only as a hash.
    Create {
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
        /// A role to grant; repeat for several (admin, safety-officer, evaluator, reviewer,
        /// security, auditor, researcher, external-evaluator, user).
        #[arg(long = "role", required = true)]
        roles: Vec<Role>,
        /// Who is granting it, for the ledger (default: local:$USER).
        #[arg(long)]
        actor: Option<String>,
    },
    /// List keys (never secrets).
    List,
    /// Revoke a key by id.
    Revoke {
        id: String,
        #[arg(long)]
        actor: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Append an entry and print its index. With --jsonl, append every line of a file in one
    /// transaction (each line: {"kind":…,"subject":…,"payload":…}).
    Append {
        /// Event kind, e.g. gate.decision.
        #[arg(long, required_unless_present = "jsonl")]
        kind: Option<String>,
        /// What the event is about.
        #[arg(long, required_unless_present = "jsonl")]
        subject: Option<String>,
        /// Event details as JSON (default: {}).
        #[arg(long, conflicts_with = "jsonl")]
        payload: Option<String>,
        /// Append every line of this JSON Lines file, all or nothing.
        #[arg(long, conflicts_with_all = ["kind", "subject"])]
        jsonl: Option<PathBuf>,
        /// Who caused the event (default: local:$USER).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Print entries.
    Log {
        #[arg(long, default_value_t = 0)]
        start: u64,
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Print the signed checkpoint (C2SP signed note) at the current size.
    Checkpoint,
    /// Print a proof bundle (JSON) that outsiders verify with `warden ledger verify-proof`.
    Proof {
        /// Inclusion proof for this entry.
        #[arg(long, required_unless_present = "since", conflicts_with = "since")]
        index: Option<u64>,
        /// Consistency proof from this older tree size.
        #[arg(long)]
        since: Option<u64>,
        /// Tree size to prove against (default: current).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Recompute the whole ledger from its rows; exit 1 naming the first bad index if damaged.
    Verify,
    /// Check a proof bundle with the log's verifier key alone (no home or database needed).
    VerifyProof {
        /// The verifier key (name+id+key), or @FILE to read it from a file such as ledger.pub.
        #[arg(long)]
        key: String,
        /// The proof bundle file, or - for standard input.
        #[arg(long)]
        proof: PathBuf,
        /// Also require this origin.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Print the verifier key to give auditors.
    Key,
}
