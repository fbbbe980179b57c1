//! The runtime crate's top-level modules depend on each other one way: no module reaches, through
//! any chain of `crate::` paths, back to itself. So `layer` uses `login`, `guard` uses `login`,
//! features use the core, and `error` uses none of them; a new import that closes a cycle fails
//! here with the chain it closes.
//!
//! Read from the source: `crate::module::...` paths, `crate::{module::..., ...}` groups, and
//! `crate::Name` for a name the crate root re-exports from a module (`crate::AuthError` is a
//! use of `error`). Comments are skipped.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn top_level_modules_depend_on_each_other_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../axum-login/src");
    let root_names =
        root_reexports(&fs::read_to_string(src.join("lib.rs")).expect("axum-login/src/lib.rs"));
    let mut graph = Graph::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).expect("a file under src");
        let module = relative
            .components()
            .next()
            .expect("a path under src")
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "__private" {
            continue;
        }
        let code = without_comments(&fs::read_to_string(&file).expect("a source file"));
        let uses = graph.entry(module.clone()).or_default();
        for name in crate_paths(&code) {
            let target = root_names.get(&name).cloned().unwrap_or(name);
            if target != module {
                uses.insert(target);
            }
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for uses in graph.values_mut() {
        uses.retain(|target| modules.contains(target));
    }
    // The layering this test is about must be visible to it at all.
    assert!(graph["layer"].contains("login"), "{graph:#?}");
    assert!(graph["guard"].contains("login"), "{graph:#?}");
    for module in graph.keys() {
        if let Some(cycle) = path_back(&graph, module) {
            panic!(
                "module `{module}` depends on itself through {}; the whole graph: {graph:#?}",
                cycle.join(" -> ")
            );
        }
    }
}

/// A chain of dependencies from `start` back to `start`, if there is one.
fn path_back(graph: &Graph, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().expect("a path is never empty");
        for next in graph.get(last).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

fn without_comments(code: &str) -> String {
    code.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segment after every `crate::`, including each item of a `crate::{...}` group.
fn crate_paths(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            names.extend(group_items(group).into_iter().map(first_segment));
        } else {
            names.push(first_segment(rest));
        }
    }
    names.retain(|name| !name.is_empty());
    names
}

/// The items of a `{...}` group up to its closing brace, split at its top-level commas.
fn group_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0_usize, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// What `pub use crate::{module::Name, ...}` at the crate root maps each name to.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let code = without_comments(lib);
    for (at, _) in code.match_indices("pub use crate::") {
        let rest = &code[at + "pub use crate::".len()..];
        let items = match rest.strip_prefix('{') {
            Some(group) => group_items(group),
            None => vec![rest.split(';').next().unwrap_or("")],
        };
        for item in items {
            let item = item.trim();
            let Some((module, tail)) = item.split_once("::") else {
                continue;
            };
            let tail = tail.trim();
            let exported: Vec<&str> = match tail.strip_prefix('{') {
                Some(inner) => group_items(inner),
                None => vec![tail],
            };
            for name in exported {
                let name = name.trim().rsplit("::").next().unwrap_or("").trim();
                if !name.is_empty() {
                    names.insert(name.to_owned(), module.trim().to_owned());
                }
            }
        }
    }
    names
}
