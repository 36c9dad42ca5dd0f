//! The engine's import structure, read from its sources: no cycle among its files, and the
//! core (tensors, layouts, kernels, operations, autograd) never reaches the debugging and
//! checking tools, which observe autograd through `autograd::observer` instead.
//!
//! Every `crate::` path in code (not comments) counts, in `use` lines and inline alike. A path
//! is resolved to the file of the deepest module it names (`crate::autograd::rules::Op` is
//! `autograd/rules.rs`, `crate::autograd::grad` is `autograd/mod.rs`). The crate root's
//! re-exports (`crate::Tensor`) name the facade `lib.rs`, which is not followed: it declares
//! every module, and the types that refer to each other by construction (a tensor owns the
//! graph node that produced it, a node owns its input tensors) meet only there.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level modules that make up the core.
const CORE: &[&str] = &["tensor", "layout", "kernels", "ops", "autograd", "float"];
/// Tools the core must not import.
const TOOLS: &[&str] = &["check", "anomaly", "trace", "gradcheck"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as module paths (`autograd::rules`) with their text.
fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            let mut p = prefix.to_vec();
            p.push(stem);
            modules(&path, &p, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut p = prefix.to_vec();
            if stem != "mod" && stem != "lib" {
                p.push(stem);
            }
            out.insert(p, fs::read_to_string(&path).unwrap());
        }
    }
}

/// The code of `text` without comments (line comments, doc comments; block comments are not
/// used in the engine).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let (head, rest) = (&tree[..open], &tree[open + 1..tree.len() - 1]);
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&rest[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&rest[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |e| format!("{head}{e}")))
        .collect()
}

/// Every `crate::` path used in `code`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        // The identifiers and `::` that follow, and a `{...}` group if one comes next.
        let mut end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(after.len());
        if after[end..].starts_with('{') {
            let mut depth = 0;
            for (j, c) in after[end..].char_indices() {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                if depth == 0 {
                    end += j + 1;
                    break;
                }
            }
        }
        let text = &after[..end];
        for p in expand(text) {
            let segments: Vec<String> = p
                .split("::")
                .filter(|s| !s.is_empty() && *s != "self")
                .map(str::to_string)
                .collect();
            paths.push(segments);
        }
        rest = &after[end..];
    }
    paths
}

/// The module file a path names: its longest prefix that is a module.
fn resolve(path: &[String], modules: &BTreeMap<Vec<String>, String>) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains_key(p))
        .unwrap_or_default()
}

fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = BTreeMap::new();
    modules(&src(), &[], &mut files);
    let mut edges = BTreeMap::new();
    for (module, text) in &files {
        let targets: BTreeSet<Vec<String>> = crate_paths(&code(text))
            .iter()
            .map(|p| resolve(p, &files))
            .filter(|t| !t.is_empty() && t != module)
            .collect();
        edges.insert(module.clone(), targets);
    }
    edges
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "lib".to_string()
    } else {
        m.join("::")
    }
}

#[test]
fn the_path_reader_understands_groups_and_inline_paths() {
    let paths = crate_paths(
        "use crate::autograd::{grad, rules::{Op, Rule}};\nlet x = crate::anomaly::check(1);",
    );
    let joined: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        joined,
        [
            "autograd::grad",
            "autograd::rules::Op",
            "autograd::rules::Rule",
            "anomaly::check"
        ]
    );
}

#[test]
fn no_import_cycle_among_engine_files() {
    let edges = graph();
    assert!(edges.len() > 20, "read only {} files", edges.len());
    // Depth-first search for a back edge; the path on the stack is the cycle.
    fn visit(
        m: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        match state.get(m) {
            Some(2) => return None,
            Some(1) => {
                let from = stack.iter().position(|s| s == m).unwrap();
                let mut cycle = stack[from..].to_vec();
                cycle.push(m.clone());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            if next.is_empty() {
                continue; // the crate root's re-exports
            }
            if let Some(cycle) = visit(next, edges, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        if let Some(cycle) = visit(m, &edges, &mut state, &mut Vec::new()) {
            let names: Vec<String> = cycle.iter().map(|m| name(m)).collect();
            panic!("import cycle among engine files: {}", names.join(" -> "));
        }
    }
}

#[test]
fn the_core_does_not_import_the_tools() {
    let mut offences = Vec::new();
    for (module, targets) in graph() {
        let Some(top) = module.first() else { continue };
        if !CORE.contains(&top.as_str()) {
            continue;
        }
        for t in targets {
            if t.first().is_some_and(|t| TOOLS.contains(&t.as_str())) {
                offences.push(format!("{} uses {}", name(&module), name(&t)));
            }
        }
    }
    assert!(offences.is_empty(), "core -> tool imports: {offences:?}");
}
