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

    /// A person with a key holding `roles` and a registered signing key; returns the key's
    /// secret and the path of the private signing key.
    pub fn person(&self, name: &str, roles: &[&str]) -> (String, PathBuf) {
        let mut command = self.command();
        command.args(["keys", "create", "--name", name, "--person", name]);
        for role in roles {
            command.args(["--role", role]);
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let secret = stdout(&out).trim().to_owned();
        let key = self.dir.path().join(format!("{name}.signing-key"));
        let out = self.run(&[
            "keys",
            "signer",
            "new",
            "--person",
            name,
            "--out",
            key.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        (secret, key)
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

/// A `warden … serve` process on a loopback port, killed when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`, from the first stderr line that names an address.
    pub base: String,
}

impl ServerProcess {
    /// Spawn `command` (already holding its `serve` arguments) and wait for its address.
    pub fn start(mut command: Command) -> Self {
        use std::io::{BufRead as _, BufReader};
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.split_whitespace()
                    .find(|word| word.starts_with("http://"))
                    .map(|url| url.trim_end_matches("/v1").to_owned())
            })
            .unwrap_or_else(|| panic!("the server printed no address"));
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base }
    }

    /// Send SIGTERM and wait for the process to exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
