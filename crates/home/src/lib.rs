//! The Warden home: `warden.toml`, the instance's ledger signing key (`ledger.key`, mode 0600),
//! its verifier key (`ledger.pub`), the latest checkpoint that key signed (`ledger.checkpoint`,
//! kept outside the database so that a deleted, emptied or swapped database is noticed rather
//! than silently started afresh) and, by default, the SQLite database (`warden.db`).
//!
//! This crate is where Warden is put together: it reads the configuration, opens the database
//! with every capability's migrations ([`Home::open_stores`]) and hands each surface the stores
//! it needs.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use warden_eval::store::EvalStore;
use warden_gateway::config::GatewayConfig;
use warden_gateway::store::DecisionStore;
use warden_ledger::log::{Ledger, LedgerError, Witness};
use warden_ledger::note::{NoteError, NoteSigner};
use warden_store::{Db, StoreError};

/// Every capability's migrations, in the one history of a home's database.
pub static MIGRATIONS: [&warden_store::Migrations; 3] = [
    &warden_ledger::store::MIGRATIONS,
    &warden_eval::store::MIGRATIONS,
    &warden_gateway::store::MIGRATIONS,
];

pub const CONFIG_FILE: &str = "warden.toml";
pub const KEY_FILE: &str = "ledger.key";
pub const VERIFIER_FILE: &str = "ledger.pub";
pub const DATABASE_FILE: &str = "warden.db";
/// The latest signed checkpoint, as a signed note.
pub const CHECKPOINT_FILE: &str = "ledger.checkpoint";
/// Default API address: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8440";
/// Default largest request body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default largest file upload.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 512 * 1024 * 1024;

/// `warden.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub ledger: LedgerConfig,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub gate: GateConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    /// `[gateway]`: the guard gateway's routes, filters and labels.
    #[serde(default, skip_serializing_if = "GatewayConfig::is_default")]
    pub gateway: GatewayConfig,
}

/// `[tls]`: outbound HTTPS trust beyond the system's root certificates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file of private CA certificates to trust as well (like `SSL_CERT_FILE`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// `[gate]`: who hears when a threshold is crossed or a model is paused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// URLs that get a JSON POST for each notification (e.g. the regulator's or the board's).
    #[serde(default)]
    pub notify_webhooks: Vec<String>,
    /// A folder that gets one JSON file per notification.
    #[serde(default)]
    pub notify_dir: Option<PathBuf>,
}

/// `[model]`: the local GGUF model `warden serve` offers at `/v1/chat/completions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Path of the GGUF file (relative paths are from the working directory); unset serves no model.
    pub gguf: Option<PathBuf>,
    /// CPU threads; 0 uses every core.
    #[serde(default)]
    pub threads: u32,
    /// Context length in tokens; 0 uses the model's default of 2048.
    #[serde(default)]
    pub context_tokens: u32,
    /// Generations decoded together in one batch (each with its own context); 0 uses 8.
    #[serde(default)]
    pub parallel: u32,
}

/// `[ledger]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// The checkpoint origin line and signing key name, unique to this instance.
    pub origin: String,
    /// A folder (another disk, a synced share) that gets every signed checkpoint as
    /// `checkpoint-SIZE.txt`, so people who do not share the database's disk can spot a split view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_dir: Option<PathBuf>,
}

/// `[server]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_addr")]
    pub addr: String,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Largest file the upload routes (labels) accept; uploads are streamed to disk.
    #[serde(default = "default_max_upload")]
    pub max_upload_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: default_addr(),
            max_body_bytes: default_max_body(),
            max_upload_bytes: default_max_upload(),
        }
    }
}

fn default_addr() -> String {
    DEFAULT_ADDR.to_owned()
}

fn default_max_body() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

fn default_max_upload() -> usize {
    DEFAULT_MAX_UPLOAD_BYTES
}

/// `[database]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` to use PostgreSQL; unset means the embedded SQLite file.
    pub url: Option<String>,
}

/// What is wrong with a home.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("no Warden home at {0}: run `warden init --home {0}` first (or set WARDEN_HOME)")]
    NotInitialized(String),
    #[error(
        "{0} already holds a Warden home; nothing was changed (use another --home to start afresh)"
    )]
    AlreadyInitialized(String),
    #[error(
        "{path} is not a valid Warden config: {detail}; fix the file or restore it from a backup"
    )]
    BadConfig { path: String, detail: String },
    #[error(
        "the ledger key {path} is unusable: {detail}; restore it from a backup (without it no checkpoint can be signed)"
    )]
    BadKey { path: String, detail: String },
    #[error(
        "the ledger key {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    InsecureKey { path: String, mode: u32 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid origin: {0}")]
    BadOrigin(NoteError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HomeError + '_ {
    move |source| HomeError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// An initialised Warden home.
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
    config: Config,
}

impl Home {
    /// Create a home at `root` with a fresh signing key. Refuses to touch an existing home.
    pub fn init(
        root: &Path,
        origin: Option<String>,
        database_url: Option<String>,
    ) -> Result<Self, HomeError> {
        let config_path = root.join(CONFIG_FILE);
        if config_path.exists() || root.join(KEY_FILE).exists() {
            return Err(HomeError::AlreadyInitialized(root.display().to_string()));
        }
        fs::create_dir_all(root).map_err(io(root))?;
        let origin =
            origin.unwrap_or_else(|| format!("warden.local/{}", uuid::Uuid::now_v7().simple()));
        let signer = NoteSigner::generate(&origin).map_err(HomeError::BadOrigin)?;
        let key_path = root.join(KEY_FILE);
        let mut key_file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .map_err(io(&key_path))?;
        writeln!(key_file, "{}", signer.private_key()).map_err(io(&key_path))?;
        key_file.sync_all().map_err(io(&key_path))?;
        let verifier_path = root.join(VERIFIER_FILE);
        fs::write(&verifier_path, format!("{}\n", signer.verifier()))
            .map_err(io(&verifier_path))?;
        let config = Config {
            ledger: LedgerConfig {
                origin,
                publish_dir: None,
            },
            server: ServerConfig::default(),
            database: DatabaseConfig { url: database_url },
            model: ModelConfig::default(),
            gate: GateConfig::default(),
            tls: TlsConfig::default(),
            gateway: GatewayConfig::default(),
        };
        let text = toml::to_string_pretty(&config).map_err(|e| HomeError::BadConfig {
            path: config_path.display().to_string(),
            detail: e.to_string(),
        })?;
        let text = text.replace(
            "[model]\n",
            "[model]\n# gguf = \".models/SmolLM2-135M-Instruct.Q4_1.gguf\"  # serve a local model at /v1/chat/completions\n",
        );
        fs::write(
            &config_path,
            format!("# Warden configuration. Environment variables override these values.\n{text}"),
        )
        .map_err(io(&config_path))?;
        Ok(Self {
            root: root.to_owned(),
            config,
        })
    }

    /// Open an existing home, checking its config and key.
    pub fn open(root: &Path) -> Result<Self, HomeError> {
        let config_path = root.join(CONFIG_FILE);
        if !config_path.exists() {
            return Err(HomeError::NotInitialized(root.display().to_string()));
        }
        let text = fs::read_to_string(&config_path).map_err(io(&config_path))?;
        let config: Config = toml::from_str(&text).map_err(|e| HomeError::BadConfig {
            path: config_path.display().to_string(),
            detail: e.to_string(),
        })?;
        let home = Self {
            root: root.to_owned(),
            config,
        };
        home.signer()?;
        Ok(home)
    }

    /// The home folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The parsed `warden.toml`.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Path of the verifier key file to hand to auditors.
    pub fn verifier_path(&self) -> PathBuf {
        self.root.join(VERIFIER_FILE)
    }

    /// The database URL: `url_override` (from `WARDEN_DATABASE_URL`), else `[database] url`, else
    /// the embedded SQLite file.
    pub fn database_url(&self, url_override: Option<&str>) -> String {
        url_override
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .or_else(|| self.config.database.url.clone())
            .unwrap_or_else(|| format!("sqlite://{}", self.root.join(DATABASE_FILE).display()))
    }

    /// The instance signing key, refusing one that other users can read.
    pub fn signer(&self) -> Result<NoteSigner, HomeError> {
        let path = self.root.join(KEY_FILE);
        let display = path.display().to_string();
        let metadata = fs::metadata(&path).map_err(|e| HomeError::BadKey {
            path: display.clone(),
            detail: e.to_string(),
        })?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(HomeError::InsecureKey {
                path: display,
                mode,
            });
        }
        let text = fs::read_to_string(&path).map_err(|e| HomeError::BadKey {
            path: display.clone(),
            detail: e.to_string(),
        })?;
        let signer = NoteSigner::from_private_key(&text).map_err(|e| HomeError::BadKey {
            path: display.clone(),
            detail: e.to_string(),
        })?;
        if signer.name() != self.config.ledger.origin {
            return Err(HomeError::BadKey {
                path: display,
                detail: format!(
                    "its name `{}` is not the configured origin `{}`",
                    signer.name(),
                    self.config.ledger.origin
                ),
            });
        }
        Ok(signer)
    }

    /// Open the database with every capability's migrations, and the stores on it: the ledger
    /// (checked as [`Home::open_ledger`] checks it) and the evaluation store.
    pub async fn open_stores(&self, url_override: Option<&str>) -> Result<Stores, HomeError> {
        let db = warden_store::connect(&self.database_url(url_override), &MIGRATIONS).await?;
        let ledger = self.ledger_on(&db)?;
        ledger.check_continuity().await?;
        Ok(Stores {
            eval: warden_eval::store::open(&db),
            decisions: warden_gateway::store::open(&db),
            ledger,
            db,
        })
    }

    /// Connect to the store (applying migrations), start the ledger service and check that the
    /// database holds the tree this home's key has signed: a missing, emptied, swapped or rolled
    /// back database is a [`LedgerError::Fork`], never a fresh start.
    pub async fn open_ledger(&self, url_override: Option<&str>) -> Result<Ledger, HomeError> {
        Ok(self.open_stores(url_override).await?.ledger)
    }

    /// [`Home::open_ledger`] without the continuity check, for `warden ledger accept-rollback`.
    pub async fn open_ledger_unchecked(
        &self,
        url_override: Option<&str>,
    ) -> Result<Ledger, HomeError> {
        let db = warden_store::connect(&self.database_url(url_override), &MIGRATIONS).await?;
        self.ledger_on(&db)
    }

    fn ledger_on(&self, db: &Db) -> Result<Ledger, HomeError> {
        let witness = HomeWitness {
            path: self.root.join(CHECKPOINT_FILE),
            publish_dir: self.config.ledger.publish_dir.clone(),
        };
        Ok(Ledger::new(
            warden_ledger::store::open(db),
            self.signer()?,
            self.config.ledger.origin.clone(),
        )
        .with_witness(Arc::new(witness)))
    }
}

/// The stores of an open home.
#[derive(Clone)]
pub struct Stores {
    pub db: Db,
    pub ledger: Ledger,
    pub eval: Arc<dyn EvalStore>,
    /// The guard gateway's decision records.
    pub decisions: Arc<dyn DecisionStore>,
}

/// The home's record of what its key signed, and the publication of each new checkpoint.
#[derive(Debug)]
struct HomeWitness {
    path: PathBuf,
    publish_dir: Option<PathBuf>,
}

impl Witness for HomeWitness {
    fn latest(&self) -> Result<Option<String>, String> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", self.path.display())),
        }
    }

    fn record(&self, size: u64, note: &str) -> Result<(), String> {
        write_atomically(&self.path, note.as_bytes())
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        if let Some(dir) = &self.publish_dir {
            let published = dir.join(format!("checkpoint-{size}.txt"));
            fs::create_dir_all(dir)
                .and_then(|()| write_atomically(&published, note.as_bytes()))
                .map_err(|e| format!("publishing to {}: {e}", published.display()))?;
        }
        Ok(())
    }
}

/// Write `bytes` to `path` through a temporary file in the same folder and a rename, so a reader
/// (or a crash) never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_open_round_trips_and_protects_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("home");
        let home = Home::init(&root, Some("warden.test/log".into()), None).unwrap();
        let mode = fs::metadata(root.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let opened = Home::open(&root).unwrap();
        assert_eq!(opened.config(), home.config());
        assert!(opened.database_url(None).starts_with("sqlite://"));
        assert_eq!(
            opened.database_url(Some("postgres://x/y")),
            "postgres://x/y"
        );
        assert!(matches!(
            Home::init(&root, None, None),
            Err(HomeError::AlreadyInitialized(_))
        ));
    }

    #[test]
    fn broken_homes_get_errors_that_name_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Home::open(&dir.path().join("nope")).unwrap_err();
        assert!(missing.to_string().contains("warden init"), "{missing}");

        let root = dir.path().join("home");
        Home::init(&root, None, None).unwrap();
        fs::set_permissions(root.join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        let insecure = Home::open(&root).unwrap_err();
        assert!(insecure.to_string().contains("chmod 600"), "{insecure}");

        fs::set_permissions(root.join(KEY_FILE), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(root.join(KEY_FILE), "garbage").unwrap();
        assert!(matches!(Home::open(&root), Err(HomeError::BadKey { .. })));

        fs::write(
            root.join(CONFIG_FILE),
            "[ledger]\norigin = \"x\"\ncolour = 1\n",
        )
        .unwrap();
        let bad = Home::open(&root).unwrap_err();
        assert!(bad.to_string().contains("colour"), "{bad}");
    }
}
