//! The layout the docs promise, held by a test.
//!
//! - No import cycles between the files of a crate: the module graph of
//!   `stack/src`, `device/src` and `apps/src` (an arrow from a file to
//!   every file it takes a name from, by `use` or by path) has no cycle.
//!   The crate roots (`lib.rs`, `main.rs`) assemble their modules and are
//!   left out, as are the arrows between a module and its own submodules
//!   (`tcp/mod.rs` and `tcp/input.rs`); test modules (`#[cfg(test)] mod tests { … }`) too.
//! - No source file over 1,000 lines outside tests.
//! - The stack stays sans-IO: no clock, sleep, thread, file, socket or libc
//!   in `stack/src`.
//!
//! The graph is read from the text (`crate::a::b`, `super::a`, `self::a`,
//! `synack_apps::a`, `use crate::{a, b::c}`, a child module's `a::` in a
//! `mod.rs`), as a reader follows names.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use synack_tests::tree::{rust_files_under, workspace_root as root};

/// The module path of a file relative to its crate's `src/`
/// (`tcp/mod.rs` → `["tcp"]`, `tcp/input.rs` → `["tcp", "input"]`).
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.trim_end_matches(".rs").split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The text without comments and without the trailing test module.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") && lines.peek().is_some_and(|n| n.trim_start().starts_with("mod tests {")) {
            break;
        }
        let code = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every `a::b::c` path in `code`, with what stands before it.
fn paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            let mut segs = Vec::new();
            let mut j = i;
            loop {
                let s = j;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                segs.push(chars[s..j].iter().collect::<String>());
                if j + 2 < chars.len() && chars[j] == ':' && chars[j + 1] == ':' {
                    j += 2;
                    // `crate::{a, b::c}`: each item of the group continues the path.
                    if chars[j] == '{' {
                        let mut depth = 0;
                        let start = j + 1;
                        let mut k = j;
                        while k < chars.len() {
                            match chars[k] {
                                '{' => depth += 1,
                                '}' => {
                                    depth -= 1;
                                    if depth == 0 {
                                        break;
                                    }
                                }
                                _ => {}
                            }
                            k += 1;
                        }
                        let group: String = chars[start..k.min(chars.len())].iter().collect();
                        let mut d = 0;
                        let mut item = String::new();
                        for c in group.chars().chain(std::iter::once(',')) {
                            match c {
                                '{' => d += 1,
                                '}' => d -= 1,
                                ',' if d == 0 => {
                                    for mut p in paths(item.trim()) {
                                        let mut full = segs.clone();
                                        full.append(&mut p);
                                        out.push(full);
                                    }
                                    let name: String = item.trim().chars().take_while(|c| is_ident(*c)).collect();
                                    if !name.is_empty() {
                                        let mut full = segs.clone();
                                        full.push(name);
                                        out.push(full);
                                    }
                                    item.clear();
                                    continue;
                                }
                                _ => {}
                            }
                            item.push(c);
                        }
                        j = k + 1;
                        segs.clear();
                        break;
                    }
                    if j < chars.len() && is_ident(chars[j]) {
                        continue;
                    }
                }
                break;
            }
            if segs.len() > 1 {
                out.push(segs);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The cycles of one crate's module graph, as lists of files.
fn cycles(src: &Path, alias: &str) -> (usize, Vec<Vec<String>>) {
    let mut files = Vec::new();
    files.extend(rust_files_under(src));
    let files: BTreeMap<String, String> = files
        .into_iter()
        .map(|p| (p.strip_prefix(src).unwrap().to_string_lossy().into_owned(), fs::read_to_string(&p).unwrap()))
        .filter(|(rel, _)| !rel.starts_with("bin/"))
        .collect();
    let modules: BTreeMap<Vec<String>, String> = files.keys().map(|rel| (module_path(rel), rel.clone())).collect();
    let resolve =
        |parts: &[String]| -> Option<&String> { (1..=parts.len()).rev().find_map(|n| modules.get(&parts[..n])) };
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (rel, text) in &files {
        let me = module_path(rel);
        let is_root = me.is_empty();
        // `super` is the parent module, from `tcp/mod.rs` as from `tcp/input.rs`.
        let parent: Vec<String> = me[..me.len().saturating_sub(1)].to_vec();
        let from = edges.entry(rel.as_str()).or_default();
        if is_root {
            continue;
        }
        for p in paths(&code_of(text)) {
            let target: Vec<String> = match p[0].as_str() {
                "crate" => p[1..].to_vec(),
                a if a == alias => p[1..].to_vec(),
                "super" => {
                    let mut base = parent.clone();
                    let mut rest = &p[1..];
                    while rest.first().is_some_and(|s| s == "super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    base.into_iter().chain(rest.iter().cloned()).collect()
                }
                "self" => me.iter().chain(p[1..].iter()).cloned().collect(),
                child => {
                    // A child module named without `self::` (from a mod.rs).
                    let mut c = me.clone();
                    c.push(child.to_string());
                    if modules.contains_key(&c) {
                        me.iter().cloned().chain(p.iter().cloned()).collect()
                    } else {
                        continue;
                    }
                }
            };
            if let Some(t) = resolve(&target) {
                // A module and its own submodules (`tcp/mod.rs` and
                // `tcp/input.rs`, `faults.rs` and `faults/frame.rs`) are
                // one module seen from outside: it assembles them.
                let tp = module_path(t);
                let family = tp.starts_with(&me) || me.starts_with(&tp);
                if t != rel && !tp.is_empty() && !family {
                    from.insert(t.as_str());
                }
            }
        }
    }
    // Tarjan's strongly connected components.
    struct S<'a> {
        edges: &'a BTreeMap<&'a str, BTreeSet<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        n: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut S<'a>, v: &'a str) {
        s.index.insert(v, s.n);
        s.low.insert(v, s.n);
        s.n += 1;
        s.stack.push(v);
        s.on.insert(v);
        for &w in &s.edges[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = S {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        n: 0,
        out: Vec::new(),
    };
    for &v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    (files.len(), s.out)
}

#[test]
fn no_import_cycles() {
    let mut report = Vec::new();
    for (src, alias) in [("stack/src", "stack"), ("device/src", "device"), ("apps/src", "synack_apps")] {
        let (n, cycles) = cycles(&root().join(src), alias);
        assert!(n > 5, "{src}: only {n} files read");
        for c in cycles {
            report.push(format!("{src}: {}", c.join(" ")));
        }
    }
    assert!(report.is_empty(), "import cycles:\n{}", report.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    // The checker itself: two files that name each other.
    let dir = std::env::temp_dir().join(format!("synack-layout-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\npub mod d;\n").unwrap();
    fs::write(dir.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    fs::write(dir.join("b.rs"), "use crate::{a::{A}, c};\npub struct B;\n").unwrap();
    fs::write(dir.join("c.rs"), "pub fn f() {}\n").unwrap();
    fs::write(dir.join("d.rs"), "pub fn g() { super::a::A; }\n").unwrap();
    let (_, cycles) = cycles(&dir, "x");
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(cycles, vec![vec!["a.rs".to_string(), "b.rs".to_string()]]);
}

#[test]
fn no_source_file_over_1000_lines() {
    let mut long = Vec::new();
    for src in ["stack/src", "device/src", "apps/src", "apps/preload/src", "tests/src", "fuzz/src"] {
        let mut files = Vec::new();
        files.extend(rust_files_under(&root().join(src)));
        for p in files {
            if p.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let n = fs::read_to_string(&p).unwrap().lines().count();
            if n > 1000 {
                long.push(format!("{} ({n} lines)", p.strip_prefix(root()).unwrap().display()));
            }
        }
    }
    assert!(long.is_empty(), "files over 1,000 lines:\n{}", long.join("\n"));
}

#[test]
fn the_stack_is_sans_io() {
    const FORBIDDEN: &[&str] = &[
        "Instant::now",
        "SystemTime::now",
        "thread::spawn",
        "thread::sleep",
        "std::fs",
        "std::net::TcpStream",
        "std::net::TcpListener",
        "std::net::UdpSocket",
        "libc::",
        "std::process",
    ];
    let mut files = Vec::new();
    files.extend(rust_files_under(&root().join("stack/src")));
    let mut hits = Vec::new();
    for p in files {
        let code = code_of(&fs::read_to_string(&p).unwrap());
        for f in FORBIDDEN {
            if code.contains(f) {
                hits.push(format!("{}: {f}", p.strip_prefix(root()).unwrap().display()));
            }
        }
    }
    assert!(hits.is_empty(), "I/O in the sans-IO stack:\n{}", hits.join("\n"));
}
