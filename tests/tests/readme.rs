//! The README names files of the repository as places to read or run; each must exist, so that a
//! renamed or deleted file cannot leave the README pointing at nothing.

use std::path::{Path, PathBuf};

/// Where a path of the repository starts: the top-level folders the README points into.
const ROOTS: &[&str] = &[
    "axum-login-macros/",
    "axum-login/",
    "examples/",
    "tests/",
    "ui-tests/",
    ".ci/",
];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package sits in the repository")
        .to_path_buf()
}

/// Every repository path in `text`: a run of path characters that starts with one of
/// [`ROOTS`] right after a character that cannot be part of a path.
fn paths(text: &str) -> Vec<String> {
    let is_path_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '*' | '-');
    let mut found = Vec::new();
    for (start, _) in text.char_indices() {
        let before = text[..start].chars().next_back();
        if before.is_some_and(is_path_char) {
            continue;
        }
        let rest = &text[start..];
        if !ROOTS.iter().any(|root| rest.starts_with(root)) {
            continue;
        }
        let end = rest.find(|c: char| !is_path_char(c)).unwrap_or(rest.len());
        found.push(rest[..end].trim_end_matches(['.', '/']).to_owned());
    }
    found
}

/// Whether `path` names something in the repository: a file or folder, a test case named
/// without its `.rs`, or, with a `*` in its last part, at least one file that matches.
fn exists(root: &Path, path: &str) -> bool {
    let full = root.join(path);
    if full.exists() || root.join(format!("{path}.rs")).exists() {
        return true;
    }
    let (Some(folder), Some(pattern)) = (full.parent(), full.file_name()) else {
        return false;
    };
    let pattern = pattern.to_string_lossy();
    let Some((prefix, suffix)) = pattern.split_once('*') else {
        return false;
    };
    std::fs::read_dir(folder).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.len() >= prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        })
    })
}

#[test]
fn every_path_the_readme_names_exists() {
    let root = repository();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let named = paths(&readme);
    assert!(
        named.len() > 20,
        "the README names repository paths; found only {named:?}"
    );
    let missing: Vec<&String> = named.iter().filter(|path| !exists(&root, path)).collect();
    assert!(
        missing.is_empty(),
        "the README names paths that do not exist: {missing:?}"
    );
}

#[test]
fn the_path_finder_finds_what_a_reader_would_follow() {
    let text = "see `tests/tests/guard.rs`, [`examples/api`](examples/api) and \
                `tests/tests/security*.rs`; not my-tests/x or axum-login-macros-x.";
    assert_eq!(
        paths(text),
        [
            "tests/tests/guard.rs",
            "examples/api",
            "examples/api",
            "tests/tests/security*.rs",
        ]
    );
    let root = repository();
    assert!(exists(&root, "tests/tests/security*.rs"));
    assert!(!exists(&root, "tests/tests/common/mod.rs"));
    assert!(!exists(&root, "tests/tests/nothing*.rs"));
}
