//! Repository hygiene, checked as ordinary tests (the rust-analyzer way).

use std::path::Path;

use crate::support::repo_root;

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("crates"), &mut files);
    rust_files(&repo_root().join("src"), &mut files);
    rust_files(&repo_root().join("tests"), &mut files);
    assert!(files.len() > 20);
    let undocumented: Vec<String> = files
        .iter()
        .filter(|path| !std::fs::read_to_string(path).unwrap().starts_with("//!"))
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        undocumented.is_empty(),
        "add a `//!` module doc to: {undocumented:#?}"
    );
}

#[test]
fn docs_name_every_crate() {
    let architecture = std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).unwrap();
    for entry in std::fs::read_dir(repo_root().join("crates")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            architecture.contains(&format!("crates/{name}")),
            "ARCHITECTURE.md must describe crates/{name}"
        );
    }
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(readme.contains("scripts/quickstart") && readme.contains("scripts/test"));
    let ci = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(
        ci.contains("scripts/test"),
        ".ci/run must call the README's test command"
    );
}

/// `cargo metadata` for this workspace, resolved for this platform only.
fn metadata(no_deps: bool) -> serde_json::Value {
    let mut command = std::process::Command::new(env!("CARGO"));
    command
        .current_dir(repo_root())
        .args(["metadata", "--format-version", "1", "--locked"]);
    if no_deps {
        command.arg("--no-deps");
    } else {
        command.args(["--filter-platform", "x86_64-unknown-linux-gnu"]);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The dependency rule of ARCHITECTURE.md, as data: which Warden crates each crate may use.
/// A practice crate uses another's public API only where the data flows that way.
const ALLOWED: &[(&str, &[&str])] = &[
    ("warden-core", &[]),
    ("warden-net", &[]),
    ("warden-gguf", &[]),
    ("warden-store", &[]),
    ("warden-ledger", &["warden-core", "warden-store"]),
    ("warden-mark", &["warden-core"]),
    ("warden-guard", &["warden-core"]),
    ("warden-runtime", &["warden-core", "warden-gguf"]),
    (
        "warden-eval",
        &[
            "warden-core",
            "warden-guard",
            "warden-ledger",
            "warden-net",
            "warden-store",
        ],
    ),
    (
        "warden-gate",
        &[
            "warden-core",
            "warden-ledger",
            "warden-eval",
            "warden-net",
            "warden-store",
        ],
    ),
    (
        "warden-gateway",
        &[
            "warden-core",
            "warden-gate",
            "warden-guard",
            "warden-ledger",
            "warden-net",
            "warden-store",
        ],
    ),
    (
        "warden-home",
        &[
            "warden-core",
            "warden-ledger",
            "warden-eval",
            "warden-gateway",
            "warden-store",
        ],
    ),
    (
        "warden-server",
        &[
            "warden-core",
            "warden-ledger",
            "warden-mark",
            "warden-runtime",
            "warden-gate",
            "warden-guard",
        ],
    ),
    (
        "warden-cli",
        &[
            "warden-core",
            "warden-store",
            "warden-ledger",
            "warden-home",
            "warden-mark",
            "warden-runtime",
            "warden-eval",
            "warden-gate",
            "warden-gateway",
            "warden-guard",
            "warden-net",
            "warden-server",
        ],
    ),
    ("warden", &["warden-cli"]),
];

#[test]
fn issue_10_crates_keep_the_dependency_rule() {
    let metadata = metadata(true);
    let mut broken = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        let allowed = ALLOWED
            .iter()
            .find(|(crate_name, _)| *crate_name == name)
            .unwrap_or_else(|| {
                panic!("add {name} to the dependency rule in tidy.rs and ARCHITECTURE.md")
            })
            .1;
        for dependency in package["dependencies"].as_array().unwrap() {
            let dep = dependency["name"].as_str().unwrap();
            let normal = dependency["kind"].is_null();
            if normal && dep.starts_with("warden") && !allowed.contains(&dep) {
                broken.push(format!("{name} depends on {dep}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the dependency rule is broken: {broken:#?}"
    );
}

/// Every file under `dir` with one of `extensions`, skipping test folders.
fn source_files(dir: &Path, extensions: &[&str], found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "tests" | "benches" | "target" | "data") {
                source_files(&path, extensions, found);
            }
        } else if path
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == *x))
        {
            found.push(path);
        }
    }
}

#[test]
fn issue_10_no_code_updates_or_deletes_ledger_rows() {
    let mut files = Vec::new();
    source_files(&repo_root().join("crates"), &["rs", "sql"], &mut files);
    let mut offending = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        // Test modules tamper with rows the way an attacker would; they are not code paths.
        let code = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .to_uppercase();
        for table in ["LEDGER_ENTRIES", "LEDGER_NODES", "LEDGER_CHECKPOINTS"] {
            for statement in [format!("UPDATE {table}"), format!("DELETE FROM {table}")] {
                if code.contains(&statement) {
                    offending.push(format!("{}: {statement}", path.display()));
                }
            }
        }
    }
    assert!(
        offending.is_empty(),
        "ledger rows are append-only: {offending:#?}"
    );
}

/// Licences every dependency may carry (SPDX ids); any other needs a decision recorded here.
const LICENCES: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "CC0-1.0",
    "0BSD",
    "BSL-1.0",
    "MPL-2.0",
    "Unlicense",
    "CDLA-Permissive-2.0",
    "OFL-1.1",
    "bzip2-1.0.6",
];
/// Crates that must not enter the build: OpenSSL (Warden uses rustls), and C toolchains that
/// would need a network or cmake at build time beyond llama.cpp's.
const BANNED: &[&str] = &[
    "openssl",
    "openssl-sys",
    "native-tls",
    "aws-lc-sys",
    "aws-lc-rs",
];

/// Whether an SPDX expression is satisfied by the allowed licences: an `OR` needs one allowed
/// side, an `AND` needs both.
fn licence_ok(expression: &str) -> bool {
    let expression = expression
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')');
    if let Some((left, right)) = expression.split_once(" OR ") {
        return licence_ok(left) || licence_ok(right);
    }
    if let Some((left, right)) = expression.split_once(" AND ") {
        return licence_ok(left) && licence_ok(right);
    }
    let id = expression.trim().trim_matches(|c| c == '(' || c == ')');
    LICENCES.contains(&id) || id.split('/').all(|part| LICENCES.contains(&part.trim()))
}

#[test]
fn issue_10_dependencies_have_allowed_licences_and_sources() {
    for (expression, ok) in [
        ("MIT OR Apache-2.0", true),
        ("(MIT OR Apache-2.0) AND Unicode-3.0", true),
        ("MIT/Apache-2.0", true),
        ("GPL-3.0", false),
        ("MIT AND GPL-3.0", false),
    ] {
        assert_eq!(licence_ok(expression), ok, "{expression}");
    }
    let metadata = metadata(false);
    let mut problems = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        let version = package["version"].as_str().unwrap();
        if BANNED.contains(&name) {
            problems.push(format!("{name} {version} is banned"));
        }
        match package["source"].as_str() {
            None => {}
            Some(source) if source.starts_with("registry+") => {}
            Some(source) => problems.push(format!("{name} {version} comes from {source}")),
        }
        match package["license"].as_str() {
            Some(licence) if licence_ok(licence) => {}
            Some(licence) => problems.push(format!("{name} {version}: licence {licence}")),
            None if package["source"].is_null() => {}
            None => problems.push(format!("{name} {version}: no licence declared")),
        }
    }
    assert!(problems.is_empty(), "dependency policy: {problems:#?}");
}

#[test]
fn issue_10_the_test_command_enforces_format_and_lints() {
    let script = std::fs::read_to_string(repo_root().join("scripts/test")).unwrap();
    let fmt = script
        .find("cargo fmt --all --check")
        .expect("scripts/test checks formatting");
    let clippy = script
        .find("cargo clippy --workspace --all-targets --locked -- -D warnings")
        .expect("scripts/test runs clippy with warnings as errors");
    let tests = script.find("cargo nextest run").unwrap();
    assert!(
        fmt < tests && clippy < tests,
        "lints run before the tests, so a failure stops CI"
    );
    assert!(script.contains("set -euo pipefail"));
}
