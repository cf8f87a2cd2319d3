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
