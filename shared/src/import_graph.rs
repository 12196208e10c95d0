//! The crate's modules depend on each other one way: no module reaches, through a `crate::` or
//! `super::` path, a module that reaches back to it. A cycle is how areas start deciding for
//! each other (login calling into badges, badges into ingestion, and back); reactions across
//! areas go through the bus instead (`docs/architecture.md`, "Dependencies run one way").
//!
//! The graph is read from the source itself, so it cannot drift: every `crate::a::b::c` or
//! `super::b` path outside test code is an edge from the file's module to the deepest module
//! the path names (through `pub use` re-exports to the module that defines the item). Two
//! modules stand outside it: the crate root and `app`, the composition root whose `App`
//! every capability takes and which holds each area's shared state.
//!
//! The rule: no cycle between areas, and none among a domain area's own modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules outside the graph (by path; the crate root is "").
const OUTSIDE: &[&str] = &["", "app"];

/// Every module's code with comments and test-only items removed, by module path.
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path
                .strip_prefix(&root)
                .expect("under src")
                .with_extension("");
            let mut segments: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
                segments.pop();
            }
            // Test-only modules (`#[cfg(test)] mod tests;`) may import anything.
            if segments.last().is_some_and(|s| s == "tests") {
                continue;
            }
            let code = std::fs::read_to_string(&path).expect("a source file is readable");
            found.insert(segments.join("::"), production_code(&code));
        }
    }
    found
}

/// The code without `//` comments and without the items marked `#[cfg(test)]`.
fn production_code(code: &str) -> String {
    let mut out = String::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        if line.trim_end() == "#[cfg(test)]" {
            // Skip the marked item: one line ending in `;`, or up to its closing brace at the
            // marker's indentation.
            let indent = &line[..line.len() - line.trim_start().len()];
            for item in lines.by_ref() {
                if item.trim_end().ends_with(';') && !item.contains('{') {
                    break;
                }
                if item.trim_end() == format!("{indent}}}") {
                    break;
                }
            }
            continue;
        }
        let code_part = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        out.push_str(code_part);
        out.push('\n');
    }
    out
}

/// The paths of one use tree starting at `text` (just after `crate::` or `super::`), as
/// segment lists: `a::{b, c::{d, e as f}}` gives `a::b`, `a::c::d`, `a::c::e`.
fn use_tree(text: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let mut out = Vec::new();
    parse_tree(&chars, &mut at, Vec::new(), &mut out);
    out
}

fn skip_space(chars: &[char], at: &mut usize) {
    while *at < chars.len() && chars[*at].is_whitespace() {
        *at += 1;
    }
}

fn ident(chars: &[char], at: &mut usize) -> String {
    let start = *at;
    while *at < chars.len() && (chars[*at].is_alphanumeric() || chars[*at] == '_') {
        *at += 1;
    }
    chars[start..*at].iter().collect()
}

fn parse_tree(chars: &[char], at: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        skip_space(chars, at);
        if chars.get(*at) == Some(&'{') {
            *at += 1;
            loop {
                parse_tree(chars, at, path.clone(), out);
                skip_space(chars, at);
                match chars.get(*at) {
                    Some(',') => *at += 1,
                    Some('}') => {
                        *at += 1;
                        return;
                    }
                    _ => return,
                }
                skip_space(chars, at);
                if chars.get(*at) == Some(&'}') {
                    *at += 1;
                    return;
                }
            }
        }
        let name = ident(chars, at);
        if name.is_empty() || name == "self" || name == "*" {
            if chars.get(*at) == Some(&'*') {
                *at += 1;
            }
            out.push(path);
            return;
        }
        path.push(name);
        if chars.get(*at) == Some(&':') && chars.get(*at + 1) == Some(&':') {
            *at += 2;
            continue;
        }
        out.push(path);
        // An `as` rename names nothing the graph needs.
        skip_space(chars, at);
        if chars[*at..].starts_with(&['a', 's']) {
            *at += 2;
            skip_space(chars, at);
            ident(chars, at);
        }
        return;
    }
}

/// Every path a module's code names, absolute (segments from the crate root), with whether it
/// is a `pub use` re-export.
fn paths_of(module: &str, code: &str) -> Vec<(Vec<String>, bool)> {
    let here: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let mut found = Vec::new();
    for (start, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        let preceded_by_ident = code[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        if preceded_by_ident {
            continue;
        }
        let is_super = code[start..].starts_with("super::");
        let rest = &code[start + 7..];
        let base: Vec<String> = if is_super {
            here[..here.len().saturating_sub(1)].to_vec()
        } else {
            Vec::new()
        };
        let line_start = code[..start].rfind('\n').map_or(0, |n| n + 1);
        let reexport = code[line_start..start].trim_start().starts_with("pub use");
        for path in use_tree(rest) {
            let mut absolute = base.clone();
            absolute.extend(path);
            found.push((absolute, reexport));
        }
    }
    // Names a `use` brought in, used as a path later: `use crate::accounts;` then
    // `accounts::users::set_role(..)` names `accounts::users`.
    let imported = found.clone();
    for (path, _) in &imported {
        let Some(name) = path.last() else { continue };
        let pattern = format!("{name}::");
        for (start, _) in code.match_indices(&pattern) {
            let preceded_by_ident = code[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            if preceded_by_ident {
                continue;
            }
            for tail in use_tree(&code[start + pattern.len()..]) {
                let mut absolute = path.clone();
                absolute.extend(tail);
                found.push((absolute, false));
            }
        }
    }
    // Relative re-exports of a module's own children: `pub use records::{UserRecord}`.
    for (start, _) in code.match_indices("pub use ") {
        let rest = &code[start + 8..];
        if rest.starts_with("crate::") || rest.starts_with("super::") {
            continue;
        }
        for path in use_tree(rest) {
            let mut absolute = here.clone();
            absolute.extend(path);
            found.push((absolute, true));
        }
    }
    found
}

/// The module a path lands in: the longest prefix that is a module, followed through the
/// re-exports of that module.
fn resolve(
    path: &[String],
    modules: &BTreeMap<String, String>,
    reexports: &BTreeMap<String, BTreeMap<String, String>>,
) -> String {
    for length in (0..=path.len()).rev() {
        let candidate = path[..length].join("::");
        if !modules.contains_key(&candidate) {
            continue;
        }
        if let Some(item) = path.get(length)
            && let Some(target) = reexports.get(&candidate).and_then(|r| r.get(item))
        {
            return target.clone();
        }
        return candidate;
    }
    String::new()
}

/// The edges of the graph: for each module, the modules it names, each with one example path.
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let modules = modules();
    let paths: BTreeMap<&String, Vec<(Vec<String>, bool)>> = modules
        .iter()
        .map(|(module, code)| (module, paths_of(module, code)))
        .collect();
    // Re-exports first (twice, so a re-export of a re-export lands too).
    let mut reexports: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for _ in 0..2 {
        for (module, found) in &paths {
            for (path, reexport) in found {
                if !reexport || path.is_empty() {
                    continue;
                }
                let target = resolve(&path[..path.len() - 1], &modules, &reexports);
                let target = match modules.contains_key(&path.join("::")) {
                    true => path.join("::"),
                    false => target,
                };
                reexports
                    .entry((*module).clone())
                    .or_default()
                    .insert(path[path.len() - 1].clone(), target);
            }
        }
    }
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (module, found) in &paths {
        if OUTSIDE.contains(&module.as_str()) {
            continue;
        }
        for (path, _) in found {
            let target = resolve(path, &modules, &reexports);
            if target == **module || OUTSIDE.contains(&target.as_str()) {
                continue;
            }
            edges
                .entry((*module).clone())
                .or_default()
                .entry(target)
                .or_insert_with(|| path.join("::"));
        }
    }
    edges
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<BTreeSet<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeMap<String, String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            let edges = self.edges;
            for next in edges.get(node).into_iter().flat_map(|e| e.keys()) {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = BTreeSet::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.insert(member.to_string());
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    walk.found
}

#[test]
fn use_trees_expand_groups_and_renames() {
    let paths = use_tree("a::{b, c::{d, e as f}, self};");
    let joined: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(joined, ["a::b", "a::c::d", "a::c::e", "a"]);
}

#[test]
fn a_cycle_is_found_and_a_chain_is_not() {
    let edge = |a: &str, b: &str| {
        (
            a.to_string(),
            BTreeMap::from([(b.to_string(), String::new())]),
        )
    };
    let chain = BTreeMap::from([edge("a", "b"), edge("b", "c")]);
    assert!(cycles(&chain).is_empty());
    let cycle = BTreeMap::from([edge("a", "b"), edge("b", "c"), edge("c", "a")]);
    assert_eq!(cycles(&cycle).len(), 1);
}

#[test]
fn the_graph_reads_known_edges() {
    let edges = graph();
    // A `use` group, a `super::` path and a re-export followed to the defining module.
    let of = |module: &str| edges.get(module).cloned().unwrap_or_default();
    assert!(
        of("auth::login").contains_key("auth::limits"),
        "{:?}",
        of("auth::login")
    );
    assert!(of("badges::progress").contains_key("badges::criteria"));
    assert!(of("auth::login").contains_key("accounts::records"));
}

/// The areas whose modules must not form cycles even among themselves: the domain.
const DOMAIN: &[&str] = &[
    "access",
    "accounts",
    "activity",
    "auth",
    "badges",
    "notifications",
    "profiles",
    "social",
    "tasks",
];

fn area(module: &str) -> &str {
    module.split("::").next().unwrap_or_default()
}

#[test]
fn modules_depend_on_each_other_one_way() {
    let edges = graph();
    let found = cycles(&edges);
    let mut report = String::new();
    for component in &found {
        let areas: BTreeSet<&str> = component.iter().map(|m| area(m)).collect();
        // Inside one area of the plumbing (http, store, model), a module and its children may
        // know each other; across areas, or inside a domain area, nothing may.
        if areas.len() == 1 && !areas.iter().any(|a| DOMAIN.contains(a)) {
            continue;
        }
        report.push_str("a cycle:\n");
        for module in component {
            for (target, example) in edges.get(module).into_iter().flatten() {
                if component.contains(target) {
                    report.push_str(&format!("  {module} -> {target} (names {example})\n"));
                }
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

#[test]
fn sign_in_and_activity_reach_the_badges_only_through_the_bus() {
    // A login, a visit or an ingested event records in `activity` and publishes; the badge
    // evaluator listens. Neither area names a badges module.
    let edges = graph();
    let reaching: Vec<String> = edges
        .iter()
        .filter(|(module, _)| matches!(area(module), "auth" | "activity"))
        .flat_map(|(module, targets)| {
            targets
                .iter()
                .filter(|(target, _)| area(target) == "badges")
                .map(move |(target, example)| format!("{module} -> {target} ({example})"))
        })
        .collect();
    assert!(reaching.is_empty(), "{reaching:#?}");
}
