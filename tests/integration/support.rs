//! Helpers: a temporary home and a handle on the built `warden` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary cargo built for these tests.
pub fn warden_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_warden"))
}

/// A temporary folder holding one Warden home.
pub struct TestHome {
    pub dir: tempfile::TempDir,
}

impl TestHome {
    /// A folder with no home in it yet.
    pub fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// An initialised home.
    pub fn init() -> Self {
        let home = Self::empty();
        let out = home.run(&["init", "--origin", "warden.test/cli"]);
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        home
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A `warden` command with this home and no inherited Warden settings.
    pub fn command(&self) -> Command {
        let mut command = Command::new(warden_bin());
        command
            .env_remove("WARDEN_DATABASE_URL")
            .env_remove("WARDEN_ADDR")
            .env("WARDEN_HOME", self.path())
            .env("USER", "tester");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    pub fn database(&self) -> String {
        format!("sqlite://{}", self.path().join("warden.db").display())
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
