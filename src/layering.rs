//! The floor plan, checked: every room of both crates has a rank, and a
//! file may import only from rooms of a lower rank (or its own room); the
//! files of one room import each other without a circle. ARCHITECTURE.md
//! states the same order. Test-only: it reads the source files as text
//! (`use`/path expressions naming `crate::…` and `super::…`), which is
//! enough because every cross-room reference in this code base is written
//! as such a path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The core's rooms, lowest first.
const CORE: &[(&str, u8)] = &[
    ("text", 0),
    ("ratelimit", 0),
    ("delta", 0),
    ("intern", 0),
    // Subscribers and the address rules, which config checks
    // `digest.seed` with.
    ("subscriber", 1),
    ("Settings", 2),
    ("Article", 2),
    ("ArticleError", 2),
    ("Category", 2),
    ("Catalog", 5),
    ("Scope", 5),
    ("article", 2),
    ("dates", 2),
    ("config", 2),
    ("tokens", 2),
    ("templates", 2),
    ("report", 2),
    ("store", 3),
    ("identity", 4),
    ("catalog", 5),
    ("feeds", 6),
    ("digest", 6),
    ("cache", 7),
    ("mail", 7),
    ("negotiate", 8),
];

/// The daemon's rooms, lowest first; what the daemon re-exports from the
/// core (and the crate root's re-exports) is rank 0.
const DAEMON: &[(&str, u8)] = &[
    ("article", 0),
    ("cache", 0),
    ("catalog", 0),
    ("dates", 0),
    ("delta", 0),
    ("digest", 0),
    ("feeds", 0),
    ("ratelimit", 0),
    ("subscriber", 0),
    ("templates", 0),
    ("text", 0),
    ("Settings", 0),
    ("Catalog", 0),
    ("Article", 0),
    ("ArticleError", 0),
    ("Category", 0),
    ("Scope", 0),
    ("now_in", 0),
    // The core's settings and the daemon's reading of the file.
    ("config", 0),
    ("store", 1),
    ("state", 1),
    ("tls", 1),
    ("metrics", 1),
    ("systemd", 1),
    ("malloc", 1),
    ("tokens", 2),
    ("live", 2),
    ("websub", 2),
    ("export", 2),
    ("mail", 3),
    // Reports received by mail: above state/tokens, below serve.
    ("bounces", 3),
    ("newsletter", 4),
    ("bounces", 3),
    ("shared", 5),
    ("http", 6),
    ("subscription", 6),
    // The admin API: beside the public routes, below serve, which mounts it.
    ("admin", 6),
    // The digest archive's pages: the subscription pages' languages and frame.
    ("archive", 7),
    ("serve", 8),
];

/// A source file: its room, its module path inside the crate and the text
/// that counts (comments and the unit tests at its end left out).
struct Source {
    room: String,
    module: Vec<String>,
    code: String,
}

fn sources(root: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = module_of(root, &path);
                if module.is_empty() || matches!(module[0].as_str(), "main" | "cli" | "args" | "layering") {
                    continue; // the crate roots, the binary's files and this check
                }
                let code = strip(&std::fs::read_to_string(&path).unwrap());
                out.push(Source { room: module[0].clone(), module, code });
            }
        }
    }
    out
}

fn module_of(root: &Path, path: &Path) -> Vec<String> {
    let rel: PathBuf = path.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The code without line comments and without the `#[cfg(test)]` module.
fn strip(text: &str) -> String {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    code.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every path that starts with `crate::` or `super::`, as segments, with
/// `use crate::{a, b::c}` groups expanded to `crate::a`, `crate::b::c`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        for (at, _) in code.match_indices(start) {
            if code[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let head = &start[..start.len() - 2];
            let rest = &code[at + start.len()..];
            for tail in expand(rest) {
                let mut p = vec![head.to_string()];
                p.extend(tail);
                out.push(p);
            }
        }
    }
    out
}

/// `a::b::X`, or the first names of each member of a `{…}` group.
fn expand(rest: &str) -> Vec<Vec<String>> {
    if let Some(group) = rest.strip_prefix('{') {
        let end = matching_brace(group);
        return split_top(&group[..end]).iter().flat_map(|m| expand(m.trim())).collect();
    }
    let mut segs = Vec::new();
    let mut s = rest;
    loop {
        let name: String = s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            if let Some(group) = s.strip_prefix('{') {
                let end = matching_brace(group);
                return split_top(&group[..end])
                    .iter()
                    .flat_map(|m| expand(m.trim()))
                    .map(|t| segs.iter().cloned().chain(t).collect())
                    .collect();
            }
            break;
        }
        s = &s[name.len()..];
        segs.push(name);
        match s.strip_prefix("::") {
            Some(r) => s = r,
            None => break,
        }
    }
    vec![segs]
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut from) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[from..]);
    out
}

/// The crate-level module a path names (`crate::mail::smtp` → `[mail, smtp]`),
/// resolving `super::` against the file's own module.
fn target(source: &Source, path: &[String]) -> Vec<String> {
    if path[0] == "crate" {
        return path[1..].to_vec();
    }
    // `super::` from a `mod.rs` or `name.rs` is the parent of the module.
    let mut base = source.module.clone();
    let mut rest = path;
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    base
}

/// Upward imports (`file: room → room`) and circles between the files of
/// one room.
fn violations(root: &Path, ranks: &[(&str, u8)]) -> Vec<String> {
    let rank: BTreeMap<&str, u8> = ranks.iter().copied().collect();
    let files = sources(root);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut bad = Vec::new();
    let mut within: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for f in &files {
        let Some(&own) = rank.get(f.room.as_str()) else {
            bad.push(format!("{}: the room {} has no rank in src/layering.rs", f.module.join("::"), f.room));
            continue;
        };
        for p in paths(&f.code) {
            let t = target(f, &p);
            let Some(room) = t.first() else { continue };
            if *room == f.room {
                // The longest module prefix that is a file of this room.
                let file = (1..=t.len()).rev().map(|n| t[..n].to_vec()).find(|m| modules.contains(m));
                if let Some(file) = file
                    && file != f.module
                    && file.len() == f.module.len()
                {
                    within.entry(f.module.clone()).or_default().insert(file);
                }
                continue;
            }
            match rank.get(room.as_str()) {
                Some(&r) if r < own => {}
                Some(_) => bad.push(format!("{} imports {} (rank not below its own)", f.module.join("::"), t.join("::"))),
                None => bad.push(format!("{} imports {}, which has no rank", f.module.join("::"), t.join("::"))),
            }
        }
    }
    bad.extend(circles(&within));
    bad
}

fn circles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<String> {
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        done: &mut BTreeSet<Vec<String>>,
        path: &mut Vec<Vec<String>>,
        out: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|n| n == node) {
            let names: Vec<String> = path[at..].iter().chain([node]).map(|n| n.join("::")).collect();
            out.push(format!("import circle: {}", names.join(" → ")));
            return;
        }
        if !done.insert(node.clone()) {
            return;
        }
        path.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, done, path, out);
        }
        path.pop();
    }
    let (mut done, mut out) = (BTreeSet::new(), Vec::new());
    for node in edges.keys() {
        visit(node, edges, &mut done, &mut Vec::new(), &mut out);
    }
    out
}

#[test]
fn every_import_goes_down_and_no_room_has_a_circle() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bad = violations(&repo.join("crates/bantin-core/src"), CORE);
    bad.extend(violations(&repo.join("src"), DAEMON));
    assert!(bad.is_empty(), "the floor plan is broken:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_sees_an_upward_import_and_a_circle() {
    let dir = std::env::temp_dir().join(format!("bantin-layering-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("high")).unwrap();
    std::fs::write(dir.join("low.rs"), "use crate::high::Thing;\n").unwrap();
    std::fs::write(dir.join("high/mod.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(dir.join("high/a.rs"), "use super::b::X;\n").unwrap();
    std::fs::write(dir.join("high/b.rs"), "use crate::{low, high::a::Y};\n").unwrap();
    let bad = violations(&dir, &[("low", 0), ("high", 1)]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(bad.iter().any(|b| b.contains("low imports high::Thing")), "{bad:?}");
    assert!(bad.iter().any(|b| b.starts_with("import circle")), "{bad:?}");
    assert_eq!(bad.len(), 2, "{bad:?}");
}
