//! The service's modules depend on one another in one direction only (ARCHITECTURE.md):
//! `startup → http → graphql → (auth, ratelimit) → register → domain → (cache, db) →
//! (config, error, telemetry)`. This test reads every `crate::` and `super::` path of the
//! service's sources and fails on an import that runs against that order, and on any cycle:
//! between top-level modules, or between the modules directly inside one of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module's layer: a module may use modules of its own layer or below.
const LAYERS: &[(&str, u8)] = &[
    ("startup", 8),
    ("http", 7),
    ("graphql", 6),
    ("auth", 5),
    ("ratelimit", 5),
    ("register", 4),
    ("domain", 3),
    ("cache", 2),
    ("db", 2),
    ("config", 1),
    ("error", 1),
    ("telemetry", 1),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source folder") {
        let path = entry.expect("source entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a source file defines: `http/graphql.rs` is `["http", "graphql"]`, `http/mod.rs`
/// and `http.rs` are `["http"]`, `lib.rs` is `[]`.
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).expect("file under the root");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
    {
        parts.pop();
    }
    parts
}

/// The source without comments (line comments, doc comments and block comments).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else if rest.starts_with("//") {
            rest = rest.split_once('\n').map_or("", |(_, r)| r);
            out.push('\n');
        } else if rest.starts_with('"') {
            // A string literal: kept out, so a `//` inside it is no comment.
            let mut end = 1;
            let bytes = rest.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            rest = rest.get(end + 1..).unwrap_or("");
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The first path segment of every item of a `{ … }` group (nested groups included).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item = String::new();
    for c in group.chars() {
        match c {
            '{' => {
                depth += 1;
                item.push(c);
            }
            '}' => {
                depth -= 1;
                item.push(c);
            }
            ',' if depth == 0 => {
                heads.push(std::mem::take(&mut item));
            }
            _ => item.push(c),
        }
    }
    heads.push(item);
    heads
        .iter()
        .map(|i| {
            i.trim()
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .filter(|h| !h.is_empty() && h != "self")
        .collect()
}

/// The modules `text` (of module `module`) refers to by `crate::` and `super::` paths, as full
/// paths of at most two segments below the crate.
fn references(module: &[String], text: &str) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let code = strip_comments(text);
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let before_ok = i == 0 || !is_ident(bytes[i - 1]);
        let (base, after) = if before_ok && rest.starts_with("crate::") {
            (Vec::new(), &rest["crate::".len()..])
        } else if before_ok && rest.starts_with("super::") {
            let mut base = module.to_vec();
            let mut after = rest;
            while let Some(a) = after.strip_prefix("super::") {
                base.pop();
                after = a;
            }
            (base, after)
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let consumed = rest.len() - after.len();
        let paths: Vec<Vec<String>> = if let Some(group) = after.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(group.len(), |(j, _)| j);
            group_heads(&group[..end])
                .into_iter()
                .map(|h| vec![h])
                .collect()
        } else {
            let segments: Vec<String> = after
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect()
                })
                .take_while(|s: &String| !s.is_empty())
                .take(2)
                .collect();
            vec![segments]
        };
        for segments in paths {
            let mut full = base.clone();
            full.extend(segments);
            full.truncate(2);
            if !full.is_empty() {
                found.insert(full);
            }
        }
        i += consumed;
    }
    found
}

/// A cycle in `graph`, if there is one, as the nodes along it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, done, path) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn modules_depend_on_lower_layers_only_and_form_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let layer = |m: &str| LAYERS.iter().find(|(name, _)| *name == m).map(|(_, l)| *l);

    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut inner: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let mut upward = Vec::new();
    for file in &files {
        let module = module_of(&root, file);
        let Some(own) = module.first() else { continue };
        assert!(
            layer(own).is_some(),
            "`{own}` has no layer: give it one in LAYERS (and ARCHITECTURE.md)"
        );
        let text = std::fs::read_to_string(file).expect("read source");
        for target in references(&module, &text) {
            let other = &target[0];
            if other != own {
                if layer(other).is_none() {
                    // An item of the crate root (`crate::VERSION`), not a module.
                    continue;
                }
                if layer(other) > layer(own) {
                    upward.push(format!(
                        "{} uses {}",
                        file.strip_prefix(&root).unwrap_or(file).display(),
                        target.join("::")
                    ));
                }
                top.entry(own.clone()).or_default().insert(other.clone());
            } else if let (Some(from), Some(to)) = (module.get(1), target.get(1)) {
                if from != to {
                    inner
                        .entry(own.clone())
                        .or_default()
                        .entry(from.clone())
                        .or_default()
                        .insert(to.clone());
                }
            }
        }
    }
    assert!(
        top.len() >= 8,
        "the scan found the service's modules: {top:?}"
    );
    assert!(
        upward.is_empty(),
        "imports against the layer order:\n{}",
        upward.join("\n")
    );
    assert_eq!(cycle(&top), None, "a cycle between top-level modules");
    for (module, graph) in &inner {
        assert_eq!(cycle(graph), None, "a cycle inside `{module}`");
    }
}

#[test]
fn the_scan_sees_every_form_of_path() {
    let module = vec!["graphql".to_owned(), "area".to_owned()];
    let text = "use crate::domain::scope::Scope;\n\
                use crate::{cache, http::{a, b}};\n\
                use super::loaders;\n\
                // use crate::startup::Nothing;\n\
                let x = \"crate::config // not code\"; fn f() { super::super::error::E }";
    let found: Vec<String> = references(&module, text)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(
        found,
        [
            "cache",
            "domain::scope",
            "error::E",
            "graphql::loaders",
            "http"
        ]
    );
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert!(cycle(&graph).is_some());
    graph.insert("b".to_owned(), BTreeSet::new());
    assert_eq!(cycle(&graph), None);
}
