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
    /// GB 45438-2025 AI-generated content labels: embed, read, verify, propagate.
    #[command(subcommand)]
    Label(LabelCommand),
    /// The local GGUF model runtime: generate, benchmark, serve.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Safety evaluations: suites, runs against any target, attacks, judges, reports.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// The responsible-scaling gate: policies as code, assessments on eval evidence, sign-offs,
    /// decisions and pauses recorded in the ledger.
    #[command(subcommand)]
    Gate(GateCommand),
    /// The guard gateway: an OpenAI-compatible proxy that filters what users send and what
    /// models answer, enforces gate decisions, and has a kill switch and rollback. Without a
    /// subcommand it runs the gateway.
    Gateway(GatewayArgs),
    /// The content filters on their own: check text, report the lexicon's coverage.
    #[command(subcommand)]
    Guard(GuardCommand),
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GatewayArgs {
    #[command(subcommand)]
    pub command: Option<GatewayCommand>,
    #[command(flatten)]
    pub run: GatewayRun,
}

/// `warden gateway` (run).
#[derive(Args, Debug, Clone, Default)]
pub struct GatewayRun {
    /// Address to listen on (default: [gateway] addr in warden.toml, 127.0.0.1:8450).
    #[arg(long)]
    pub addr: Option<String>,
    /// An OpenAI-compatible base URL (…/v1) whose models become ungated routes, when
    /// warden.toml configures no routes; its key, if any, from WARDEN_UPSTREAM_KEY.
    #[arg(long)]
    pub upstream: Option<String>,
    /// A file of terms to block, one per line, on top of the lexicons.
    #[arg(long)]
    pub block_terms: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum GatewayCommand {
    /// Stop serving a model on every gateway that shares this home's database (the kill
    /// switch), recorded in the ledger with who did it.
    Withdraw {
        /// The model, as clients name it.
        #[arg(long)]
        model: String,
        /// Why, for the record.
        #[arg(long, default_value = "withdrawn by an operator")]
        reason: String,
    },
    /// Serve a withdrawn model again: needs the signing key of a person with the admin or
    /// security role, whose signed statement names the withdrawal it ends.
    Restore {
        /// The model.
        #[arg(long)]
        model: String,
        /// Your private signing key file (`warden keys signer new`).
        #[arg(long)]
        signing_key: PathBuf,
    },
    /// Route a model to a known-good version from warden.toml (or back to its current one).
    Rollback {
        /// The model, as clients name it.
        #[arg(long)]
        model: String,
        /// The version to serve; it must be `known_good` and allowed by the gate.
        #[arg(long, conflicts_with = "current", required_unless_present = "current")]
        to: Option<String>,
        /// Go back to the version warden.toml marks current.
        #[arg(long)]
        current: bool,
    },
    /// Which models are withdrawn or rolled back, from the ledger.
    Status,
    /// Decision records, newest first (JSON lines).
    Decisions {
        /// Only records from the last this many hours.
        #[arg(long, default_value_t = 24)]
        hours: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// The misuse report: requests per action and per category over a period.
    Report {
        /// The period, in hours back from now.
        #[arg(long, default_value_t = 24 * 7)]
        hours: u64,
    },
    /// Delete decision records older than the retention period ([gateway] retention_days).
    Prune,
    /// Destroy the key that pseudonymises end users: stored records can no longer be linked
    /// to anyone, and later requests record no user. Recorded in the ledger.
    ForgetUsers,
    /// Assign an end user a trust tier from [[gateway.tiers]] (recorded in the ledger).
    Tier {
        /// The end user's id as applications send it (`user` or `x-warden-user`).
        #[arg(long)]
        user: String,
        /// The tier's name.
        #[arg(long, conflicts_with = "clear", required_unless_present = "clear")]
        tier: Option<String>,
        /// Back to the default tier.
        #[arg(long)]
        clear: bool,
    },
    /// Appeals against abuse escalations, with their texts and decisions.
    Appeals,
    /// Decide an appeal with your signing key (you must hold the reviewer, safety-officer or
    /// admin role); `overturned` ends the escalation and restarts the user's points.
    DecideAppeal {
        /// The appeal id.
        id: String,
        /// upheld or overturned.
        #[arg(long, value_parser = ["upheld", "overturned"])]
        outcome: String,
        /// Your private signing key file.
        #[arg(long)]
        signing_key: PathBuf,
    },
    /// The review queue: sampled requests with their text (unlabelled ones unless --all).
    Reviews {
        /// Include labelled ones.
        #[arg(long)]
        all: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Label a sampled request in the review queue.
    Label {
        /// The decision id of the sampled request.
        id: String,
        /// harmful or benign.
        #[arg(long, value_parser = ["harmful", "benign"])]
        label: String,
    },
    /// Each filter's false-positive and false-negative rates from reviewers' labels, with
    /// Wilson 95 % intervals.
    FilterRates,
    /// Write the labelled reviews as JSONL training data for `warden guard train`.
    ExportLabels {
        /// Where to write the JSONL.
        #[arg(long)]
        out: PathBuf,
    },
    /// A kill-switch drill: withdraw the model, time until every listed gateway refuses it,
    /// restore it, time until every gateway serves it, and record the drill.
    Drill {
        /// The model to drill on.
        #[arg(long)]
        model: String,
        /// Base URL of a running gateway (repeat for several processes).
        #[arg(long = "gateway", required = true)]
        gateways: Vec<String>,
        /// A Warden API key to call the gateways with (or WARDEN_API_KEY).
        #[arg(long, env = "WARDEN_API_KEY", hide_env_values = true)]
        key: String,
        /// Your private signing key file, to restore the model after the drill.
        #[arg(long)]
        signing_key: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum GuardCommand {
    /// Check a text (argument or standard input) with the shipped lexicon and PII detectors;
    /// prints the verdict and the text as the gateway would pass it. Exit 1 when it blocks.
    Check {
        /// The text; read from standard input when absent.
        text: Option<String>,
        /// A file of terms to block, one per line, on top of the lexicons.
        #[arg(long)]
        block_terms: Option<PathBuf>,
    },
    /// Shipped and active lexicon entries per GB/T 45654 Appendix A risk, against the
    /// standard's reference values.
    Lexicon,
    /// Train the n-gram classifier on labelled JSONL (`{"text": …, "label": true}` per line,
    /// e.g. reviewed decisions) and write the model file `[gateway] classifier` names.
    Train {
        /// Training data, JSONL (repeat for several files).
        #[arg(long = "data", required = true)]
        data: Vec<PathBuf>,
        /// Where to write the model (JSON).
        #[arg(long)]
        out: PathBuf,
        /// Hold out this share of the data to choose the decision threshold (best F1); the
        /// model is trained on the rest.
        #[arg(long)]
        calibrate: Option<f64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum GateCommand {
    /// Check policy files; every problem as FILE:LINE:COLUMN: message (exit 2 when any).
    Lint {
        /// Policy files (TOML) to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Assess a checkpoint against a policy from the latest eval runs made with
    /// `--series MODEL --checkpoint C`: one determination per threshold (below, alert, crossed,
    /// cannot_rule_out), safeguards per stage, the scorecard. Recorded in the ledger.
    Assess {
        /// The model series (the `--series` its eval runs were tagged with).
        #[arg(long)]
        model: String,
        /// The checkpoint to assess (the `--checkpoint` its eval runs were tagged with).
        #[arg(long)]
        checkpoint: String,
        /// The policy file (TOML), e.g. policies/gbt45654.toml.
        #[arg(long)]
        policy: PathBuf,
        /// Evidence older than this many days cannot rule anything out.
        #[arg(long, default_value_t = 90)]
        max_age_days: u32,
        /// Effective compute of this checkpoint over the last assessed one, for the policy's
        /// re-assessment triggers (unknown counts as due).
        #[arg(long)]
        compute_ratio: Option<f64>,
        /// How to print the scorecard: md (terminal), json or html.
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
    },
    /// Propose an action for a model at a stage; it becomes a decision when every role the
    /// policy names has signed. A stage the model's latest assessment halts opens for no action
    /// or reason; `--override` asks for the policy's override roles as well, where it has any.
    Propose {
        /// The model (the eval series name its checkpoints were assessed under).
        #[arg(long)]
        model: String,
        /// continued-training, internal-use, api-deployment, tool-access or open-weights.
        #[arg(long)]
        stage: String,
        /// proceed, proceed-with-conditions, pause-training, restrict-deployment or
        /// withdraw-deployment.
        #[arg(long)]
        action: String,
        /// The policy whose `[signoff]` roles must sign.
        #[arg(long)]
        policy: PathBuf,
        /// Why, and for proceed-with-conditions the conditions; recorded in the ledger.
        #[arg(long, default_value = "")]
        reason: String,
        /// Override a halt: the policy's `[signoff] override_roles` must sign too; recorded as
        /// an override.
        #[arg(long = "override")]
        is_override: bool,
        /// Who proposes (default: local:$USER); the proposer cannot sign their own proposal.
        #[arg(long = "as")]
        actor: Option<String>,
    },
    /// Sign a pending proposal for one role with your own signing key (made by
    /// `warden keys signer new`). You must hold the role through a live key.
    Sign {
        /// The proposal id.
        id: String,
        /// The role to sign for.
        #[arg(long)]
        role: String,
        /// Your private signing key file.
        #[arg(long)]
        signing_key: PathBuf,
        /// Print the signed note for `POST /v1/gate/proposals/{id}/signoffs` instead of
        /// recording the sign-off here.
        #[arg(long)]
        print_note: bool,
    },
    /// Record that a safeguard is in place (a document, an eval run, an attestation).
    Attest {
        /// The model series the safeguard protects.
        #[arg(long)]
        model: String,
        /// The safeguard's id, as the policy names it (e.g. security-assessment).
        #[arg(long)]
        safeguard: String,
        /// The stage it covers (default: every stage).
        #[arg(long)]
        stage: Option<String>,
        /// Where the evidence is.
        #[arg(long)]
        link: String,
        /// Who attests (default: local:$USER).
        #[arg(long = "as")]
        actor: Option<String>,
    },
    /// Pause a model at once, at one stage or every stage; notifies the configured recipients.
    Pause {
        /// The model to pause.
        #[arg(long)]
        model: String,
        /// The stage to pause (default: every stage).
        #[arg(long)]
        stage: Option<String>,
        /// Why, for the record (required).
        #[arg(long)]
        reason: String,
        /// Who pauses (default: local:$USER).
        #[arg(long = "as")]
        actor: Option<String>,
    },
    /// What a model may do at each stage, the pending proposals, and every gate entry the
    /// replay rejected (forged or out-of-order sign-offs, proposals on halted stages).
    Status {
        /// The model.
        #[arg(long)]
        model: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// List the shipped suites, or check user suite files (JSONL) and count their items.
    Suites {
        /// User suite files to check instead of listing the shipped suites.
        files: Vec<PathBuf>,
    },
    /// Run a suite against a target (any OpenAI-compatible URL, or `local` for the runtime),
    /// journalling every call so an interrupted run resumes with --resume.
    Run(Box<EvalRunArgs>),
    /// Print a run's report.
    Report {
        /// The run id (`warden eval runs` lists them).
        id: String,
        /// md (terminal), json or html.
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
    },
    /// List a run's samples: prompt, answer, scorer and verdict (the evidence behind a report).
    Samples {
        /// The run id (`warden eval runs` lists them).
        id: String,
        /// Only samples with this outcome.
        #[arg(long, value_enum)]
        outcome: Option<SampleOutcome>,
        /// Only samples of this category (as the report names it).
        #[arg(long)]
        category: Option<String>,
        /// table (terminal, texts clipped) or jsonl (one JSON object per sample, texts whole).
        #[arg(long, value_enum, default_value = "table")]
        format: SampleFormat,
    },
    /// Items whose outcome changed between two runs (e.g. two checkpoints of a series), matched
    /// by item id and epoch.
    Diff {
        /// The earlier run.
        first: String,
        /// The later run.
        second: String,
        /// table (terminal, texts clipped) or jsonl (one JSON object per changed item).
        #[arg(long, value_enum, default_value = "table")]
        format: SampleFormat,
    },
    /// List the runs in this home, newest first.
    Runs,
    /// Pass rates per checkpoint of a model series (runs made with --series).
    Trend {
        /// The series name given to `warden eval run --series`.
        series: String,
        /// md (terminal), json or html.
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
    },
    /// Measure refusal scorers against labelled answers (XSTest's English completions of five
    /// models, Warden's Chinese set) per source model: accuracy, Cohen's κ and confusion
    /// matrices for the rules, the n-gram classifier (leave-one-model-out) and, with
    /// --judge-target, a judge.
    Calibrate {
        #[command(flatten)]
        judge: JudgeArgs,
        /// Calibrate on N labelled answers of each set, spread over its models (default: all).
        #[arg(long)]
        limit: Option<usize>,
        /// Judge requests in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Train the refusal detector's classifier on XSTest's labelled completions and write it
    /// with its provenance into DIR: how the shipped model in crates/eval/data/refusal is made.
    TrainRefusal {
        /// The folder to write the models into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Attacker-driven red teaming: PAIR (refine one prompt) or crescendo (escalate over turns)
    /// against the should-refuse items of a suite, each goal under a query and token budget.
    Attack {
        /// A shipped suite or JSONL file; its open-ended should-refuse items are the goals.
        #[arg(long)]
        suite: String,
        /// pair (refine one prompt) or crescendo (escalate over turns).
        #[arg(long, value_enum, default_value = "pair")]
        method: AttackMethod,
        #[command(flatten)]
        target: TargetArgs,
        /// The attacker model's URL, or `local`.
        #[arg(long)]
        attacker: String,
        /// The attacker's model name (default for `local`: the loaded model's id).
        #[arg(long)]
        attacker_model: Option<String>,
        /// Environment variable holding the attacker's API key.
        #[arg(long)]
        attacker_api_key_env: Option<String>,
        /// A judge model scoring responses 1–10 (URL or `local`); default: the string-match
        /// refusal detector (an answer that is not a refusal counts as a success).
        #[arg(long)]
        judge_target: Option<String>,
        /// The judge's model name (default for `local`: the loaded model's id).
        #[arg(long)]
        judge_model: Option<String>,
        /// Goals to attack, spread over the suite's categories.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Most model calls per goal (target, attacker and judge together).
        #[arg(long, default_value_t = 30)]
        max_queries: u32,
        /// Most tokens per goal (prompt + completion, all calls).
        #[arg(long, default_value_t = 100_000)]
        max_tokens: u64,
        /// Crescendo: most conversation turns.
        #[arg(long, default_value_t = 6)]
        max_turns: u32,
        /// Goals attacked at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// The run's id (default: generated); the run and every attempt are kept under it.
        #[arg(long)]
        run_id: Option<String>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// GB/T 45654-2025 refusal assessment: build should-refuse and should-not-refuse banks from
    /// the shipped Chinese data, run them, and compare refusal rates with the reference
    /// thresholds; also report bank coverage per Appendix A risk against the required minimums.
    Compliance(ComplianceArgs),
}

/// `warden eval compliance`.
#[derive(Args, Debug)]
pub struct ComplianceArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Questions in all, half from each bank (default: every question of both banks).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Most tokens per answer.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
    /// Report format: md (terminal), json or html.
    #[arg(long, value_enum, default_value = "md")]
    pub format: ReportFormat,
    #[command(flatten)]
    pub model: ModelArgs,
    /// The model series this run is evidence for (`warden gate assess --model`).
    #[arg(long, requires = "checkpoint")]
    pub series: Option<String>,
    /// The checkpoint of the series.
    #[arg(long, requires = "series")]
    pub checkpoint: Option<String>,
    /// Largest share of error outcomes before the run is marked failed (and is no evidence).
    #[arg(long, default_value_t = 0.1)]
    pub max_error_rate: f64,
    /// Also run the generated-content assessment (9.3): judge the same answers for harm with
    /// this rubric (harmbench or strongreject) on --judge-target.
    #[arg(long, requires = "judge_target")]
    pub content_judge: Option<String>,
    #[command(flatten)]
    pub judge: JudgeArgs,
}

/// A judge model and how to reach it.
#[derive(Args, Debug, Clone)]
pub struct JudgeArgs {
    /// The judge's URL, or `local`.
    #[arg(long)]
    pub judge_target: Option<String>,
    /// The judge's model name (default for `local`: the loaded model's id).
    #[arg(long)]
    pub judge_model: Option<String>,
    /// Environment variable holding the judge's API key.
    #[arg(long)]
    pub judge_api_key_env: Option<String>,
}

impl JudgeArgs {
    /// The judge as a target with `timeout` seconds per call, when one is named.
    pub fn target(&self, timeout: u64) -> Option<TargetArgs> {
        self.judge_target.as_ref().map(|url| TargetArgs {
            target: url.clone(),
            model: self.judge_model.clone(),
            api_key_env: self.judge_api_key_env.clone(),
            timeout,
        })
    }
}

/// Attacker-driven attack methods.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackMethod {
    Pair,
    Crescendo,
}

/// Which samples `warden eval samples` lists.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleOutcome {
    Pass,
    Fail,
    Error,
}

/// How samples are printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleFormat {
    Table,
    Jsonl,
}

/// Report formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Md,
    Json,
    Html,
}

/// Where the model under test is.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// The target's base URL (http://host:port/v1) or `local` for Warden's runtime (--gguf).
    #[arg(long, default_value = "local")]
    pub target: String,
    /// The model name sent to the target (default for `local`: the loaded model's id).
    #[arg(long)]
    pub model: Option<String>,
    /// Environment variable holding the target's API key (never stored or logged).
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// Seconds before one request times out.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

impl TargetArgs {
    /// The endpoint as a run stores it (an unnamed model is empty).
    pub fn spec(&self) -> warden_eval::target::TargetSpec {
        warden_eval::target::TargetSpec {
            url: self.target.clone(),
            model: self.model.clone().unwrap_or_default(),
            api_key_env: self.api_key_env.clone(),
            timeout_secs: self.timeout,
        }
    }
}

/// `warden eval run`.
#[derive(Args, Debug)]
pub struct EvalRunArgs {
    /// A shipped suite (`warden eval suites`) or a JSONL suite file.
    #[arg(long, required_unless_present = "resume")]
    pub suite: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Only N items, spread evenly over the suite's categories.
    #[arg(long)]
    pub limit: Option<usize>,
    /// The new run's id (default: generated).
    #[arg(long, conflicts_with = "resume")]
    pub run_id: Option<String>,
    /// Resume an interrupted run: answered calls come from the journal, only the rest are sent.
    #[arg(long)]
    pub resume: Option<String>,
    /// Samples per item (use with --temperature above 0).
    #[arg(long, default_value_t = 1)]
    pub epochs: u32,
    /// Sampling temperature sent to the target (0: greedy).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Most tokens per answer; an answer cut off here is an error, not a score.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: u32,
    /// Sampling seed sent to the target.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Extra request body fields as KEY=JSON (e.g. top_p=0.9); repeat for several.
    #[arg(long = "param", value_name = "KEY=JSON")]
    pub params: Vec<String>,
    /// Requests per minute to the target (default: unlimited).
    #[arg(long)]
    pub rpm: Option<u32>,
    /// Tokens per minute to the target (prompt estimate + max tokens; default: unlimited).
    #[arg(long)]
    pub tpm: Option<u64>,
    /// Retries of a call after 429/5xx/timeouts before it is an error.
    #[arg(long, default_value_t = 6)]
    pub max_retries: u32,
    /// Attack transforms to apply to every item besides the original; repeat or comma-separate
    /// (base64, rot13, leetspeak, homoglyph, zero-width, prefix-injection, refusal-suppression,
    /// role-play, payload-splitting, many-shot, language-switch).
    #[arg(long = "attack", value_delimiter = ',')]
    pub attacks: Vec<String>,
    /// Grade open-ended answers with a judge model: refusal, harmbench or strongreject.
    #[arg(long)]
    pub judge: Option<String>,
    /// The judge's URL or `local` (default: the target).
    #[arg(long)]
    pub judge_target: Option<String>,
    /// The judge's model name (default for `local`: the loaded model's id).
    #[arg(long)]
    pub judge_model: Option<String>,
    /// Environment variable holding the judge's API key.
    #[arg(long)]
    pub judge_api_key_env: Option<String>,
    /// Largest share of error outcomes before the run is marked failed (exit code 1).
    #[arg(long, default_value_t = 0.1)]
    pub max_error_rate: f64,
    /// A model series this run belongs to, for `warden eval trend`.
    #[arg(long, requires = "checkpoint")]
    pub series: Option<String>,
    /// Which checkpoint of the series the target serves (e.g. step-2000).
    #[arg(long, requires = "series")]
    pub checkpoint: Option<String>,
    /// Whether the target runs with safety mitigations: `pre` or `post` (for scorecard policies).
    #[arg(long, value_parser = ["pre", "post"])]
    pub mitigation: Option<String>,
    /// Report format printed when the run ends.
    #[arg(long, value_enum, default_value = "md")]
    pub format: ReportFormat,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Which model file and how to run it.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// The GGUF model file (default: `[model] gguf` in the home's warden.toml, else
    /// .models/SmolLM2-135M-Instruct.Q4_1.gguf, which scripts/fetch-model.sh fetches).
    #[arg(long)]
    pub gguf: Option<PathBuf>,
    /// CPU threads (0: every core).
    #[arg(long, default_value_t = 0)]
    pub threads: u32,
    /// Context length in tokens (per generation).
    #[arg(long, default_value_t = 2048)]
    pub context: u32,
    /// Generations decoded together in one batch when served (`model serve`, `--target local`).
    #[arg(long, default_value_t = 8)]
    pub parallel: u32,
}

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Generate a reply to a prompt (rendered with the model's chat template unless --raw).
    Generate {
        #[command(flatten)]
        model: ModelArgs,
        /// The user's message (or, with --raw, the whole prompt).
        #[arg(long)]
        prompt: String,
        /// Send the prompt as-is, without the chat template.
        #[arg(long)]
        raw: bool,
        /// Sampling temperature; 0 is greedy.
        #[arg(long, default_value_t = 0.0)]
        temperature: f32,
        /// Nucleus sampling: keep the smallest set of tokens with this total probability (1: off).
        #[arg(long, default_value_t = 1.0)]
        top_p: f32,
        /// Keep only the K most likely tokens (0: off).
        #[arg(long, default_value_t = 0)]
        top_k: u32,
        /// Penalty on tokens already generated (1: off).
        #[arg(long, default_value_t = 1.0)]
        repetition_penalty: f32,
        /// Seed of the sampler's random draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Most tokens to generate.
        #[arg(long, default_value_t = 128)]
        max_tokens: u32,
        /// Stop before this string; repeat for several. The escapes \n (newline), \t (tab) and
        /// \\ (backslash) are understood, so --stop "\n\n" stops at a blank line.
        #[arg(long)]
        stop: Vec<String>,
    },
    /// Measure prompt processing and greedy decode speed (tokens/s) on a fixed prompt.
    Bench {
        #[command(flatten)]
        model: ModelArgs,
        /// Tokens to decode.
        #[arg(long, default_value_t = 128)]
        tokens: u32,
        /// Repetitions; the best is reported.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Print the rendered benchmark prompt and exit (to feed the same text to another engine).
        #[arg(long)]
        show_prompt: bool,
        /// Also measure aggregate throughput with this many generations at once, batched
        /// (comma-separated, e.g. 1,2,4,8).
        #[arg(long, value_delimiter = ',')]
        streams: Vec<u32>,
    },
    /// Serve /v1/chat/completions and /v1/models for one model, without keys (loopback by default).
    Serve {
        #[command(flatten)]
        model: ModelArgs,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8441")]
        addr: String,
    },
}

/// The Annex E `Label` value.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum GeneratedArg {
    /// "1": is AI-generated (a provider labelling its own output).
    Is,
    /// "2": possibly AI-generated (e.g. the uploader declared it).
    Possibly,
    /// "3": suspected AI-generated (e.g. detected by the platform).
    Suspected,
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Where to write the labelled copy (written atomically).
    #[arg(short = 'o', long, conflicts_with = "in_place")]
    pub output: Option<PathBuf>,
    /// Replace the input file itself (atomically, via a temporary file and rename).
    #[arg(long)]
    pub in_place: bool,
}

/// The visible label added with `--explicit`.
#[derive(Args, Debug, Clone)]
pub struct ExplicitArgs {
    /// Also add the explicit (visible) label: text drawn on images, the Morse "AI" cue on WAV
    /// audio, a mark on Markdown and text.
    #[arg(long)]
    pub explicit: bool,
    /// Image: where the text goes.
    #[arg(
        long,
        value_enum,
        default_value = "bottom-right",
        requires = "explicit"
    )]
    pub position: PositionArg,
    /// Image: text height as a fraction of the shortest side (at least 0.05).
    #[arg(long, default_value_t = 0.05, requires = "explicit")]
    pub height_fraction: f32,
    /// Wording of the image text or text mark (must contain AI/人工智能 and 生成/合成).
    #[arg(long, requires = "explicit")]
    pub wording: Option<String>,
    /// Audio: put the cue before or after the content.
    #[arg(long, value_enum, default_value = "start", requires = "explicit")]
    pub cue: CueArg,
    /// Text: where the mark goes.
    #[arg(long, value_enum, default_value = "prefix", requires = "explicit")]
    pub text_mark: TextMarkArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum PositionArg {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
    Top,
    Bottom,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum CueArg {
    Start,
    End,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum TextMarkArg {
    Prefix,
    Suffix,
    Corner,
}

#[derive(Subcommand, Debug)]
pub enum LabelCommand {
    /// Embed the implicit (metadata) label, replacing any existing one.
    Embed {
        /// The file to label: PNG, JPEG, WebP, WAV, MP3, MP4/M4A, DOCX/XLSX/PPTX, PDF, .md or .txt.
        input: PathBuf,
        #[command(flatten)]
        output: OutputArgs,
        /// ContentProducer: the provider's name or code (Annex E characters only).
        #[arg(long)]
        producer: String,
        /// ProduceID: the provider's unique id for this content.
        #[arg(long)]
        produce_id: String,
        /// The Label value.
        #[arg(long, value_enum, default_value = "is")]
        label: GeneratedArg,
        /// ReservedCode1: the provider's integrity data (signature or hash), if any.
        #[arg(long)]
        reserved_code1: Option<String>,
        #[command(flatten)]
        explicit: ExplicitArgs,
    },
    /// Mark generated text read from standard input (prefix, suffix or corner mark), or print the
    /// persistent UI notice for chat surfaces with --ui-notice.
    Text {
        /// Where the mark goes: prefix, suffix or corner.
        #[arg(long, value_enum, default_value = "prefix")]
        mark: TextMarkArg,
        /// Custom wording (must contain AI/人工智能 and 生成/合成; a corner mark needs only "AI").
        #[arg(long)]
        wording: Option<String>,
        /// Print the UI notice string instead of marking text.
        #[arg(long)]
        ui_notice: bool,
    },
    /// Print a file's label: the seven Annex E keys (exit 1 when it has none).
    Read {
        /// The file to read.
        file: PathBuf,
    },
    /// Check files against GB 45438 rule by rule; exit 1 unless every file conforms.
    Verify {
        /// The files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The uploader declared the content AI-generated (platform duty: "possibly").
        #[arg(long)]
        declared: bool,
        /// The platform's own detection flags the content (platform duty: "suspected").
        #[arg(long)]
        detected: bool,
    },
    /// As a propagating platform, write your own fields (ContentPropagator, PropagateID,
    /// ReservedCode2), keeping the producer's; label unlabelled content as "possibly" or
    /// "suspected" when --declared or --detected says so.
    Propagate {
        /// The file to propagate.
        input: PathBuf,
        #[command(flatten)]
        output: OutputArgs,
        /// ContentPropagator: your platform's name or code (Annex E characters only).
        #[arg(long)]
        propagator: String,
        /// PropagateID: your platform's unique id for this content.
        #[arg(long)]
        propagate_id: String,
        /// ReservedCode2: your integrity data (signature or hash), if any.
        #[arg(long)]
        reserved_code2: Option<String>,
        /// The uploader declared the content AI-generated (labels unlabelled content "possibly").
        #[arg(long)]
        declared: bool,
        /// Your detection flags the content (labels unlabelled content "suspected").
        #[arg(long)]
        detected: bool,
    },
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
        /// The person the key is issued to (default: the key's name). Compared case-folded: one
        /// person's keys count once in sign-offs, however many they hold.
        #[arg(long)]
        person: Option<String>,
        /// Who is granting it, for the ledger (default: local:$USER).
        #[arg(long)]
        actor: Option<String>,
    },
    /// List keys (never secrets).
    List,
    /// People's signing keys: a gate sign-off must be signed by the signer's own key, registered
    /// here, so nobody with database access can sign in someone else's name.
    #[command(subcommand)]
    Signer(SignerCommand),
    /// Revoke a key by id.
    Revoke {
        /// The key's id (`warden keys list` shows it).
        id: String,
        /// Who is revoking it, for the ledger (default: local:$USER).
        #[arg(long)]
        actor: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SignerCommand {
    /// Make a signing key for a person: writes the private key to --out (mode 0600; give it to
    /// that person only) and registers the public key in the ledger.
    New {
        /// The person the key belongs to.
        #[arg(long)]
        person: String,
        /// Where to write the private key; it must not exist yet.
        #[arg(long)]
        out: PathBuf,
        /// Who is registering it, for the ledger (default: local:$USER).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Register a public key the person made themselves (a C2SP note verifier key,
    /// `name+hexid+base64`, or @FILE holding one).
    Add {
        /// The person the key belongs to.
        #[arg(long)]
        person: String,
        /// The verifier key text, or @FILE.
        #[arg(long)]
        verifier: String,
        /// Who is registering it, for the ledger (default: local:$USER).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Withdraw a signing key (lost or leaked); its later signatures do not count.
    Revoke {
        /// The person the key belongs to.
        #[arg(long)]
        person: String,
        /// The verifier key text, or @FILE.
        #[arg(long)]
        verifier: String,
        /// Who is revoking it, for the ledger (default: local:$USER).
        #[arg(long)]
        actor: Option<String>,
    },
    /// List registered signing keys and whether each is live.
    List,
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Append an entry and print its index. With --jsonl, append every line of a file in one
    /// transaction (each line: {"kind":…,"subject":…,"payload":…}).
    Append {
        /// Event kind, e.g. note.incident (gate.*, eval.* and access.* belong to their commands).
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
    /// Print entries in index order, optionally only some kinds or one subject.
    Log {
        /// First index to read from.
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// Most entries to print (all of them are printed, however many; pages are read as needed).
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// Only this kind; a value ending in `.` (e.g. `gate.`) matches every kind under it.
        #[arg(long)]
        kind: Option<String>,
        /// Only entries about this subject (exact match).
        #[arg(long)]
        subject: Option<String>,
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
        /// A signed checkpoint you kept from earlier (a file): the bundle must prove from it
        /// (`warden ledger proof --since SIZE`), so a log shown to you in two versions is caught.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Print the verifier key to give auditors.
    Key,
    /// Accept that the database is older than the latest checkpoint this home's key signed (a
    /// backup was restored on purpose). Recorded in the ledger with the abandoned checkpoint;
    /// without it Warden refuses to open such a database.
    AcceptRollback {
        /// Why the older state is accepted, for the record.
        #[arg(long)]
        reason: String,
        /// Who accepts it (default: local:$USER).
        #[arg(long = "as")]
        actor: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// Every argument of every command, `[path]` first, that has no help text.
    fn undocumented(command: &clap::Command, path: &str, out: &mut Vec<String>) {
        let path = format!("{path} {}", command.get_name());
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("{path}: --{id}"));
            }
        }
        for sub in command.get_subcommands() {
            if sub.get_name() != "help" {
                undocumented(sub, &path, out);
            }
        }
    }

    #[test]
    fn issue_10_every_argument_has_help_text() {
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        undocumented(&command, "", &mut missing);
        assert!(
            missing.is_empty(),
            "add a doc comment to these arguments in args.rs:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
