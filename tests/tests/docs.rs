//! Docs true to the code: every reference the docs make to the code names
//! something that exists.
//!
//! - Every `path/file.rs` (or `file.rs`) in the docs is a file of the tree.
//! - Every `module::item`, `file.rs::item` and `Type::member` in backticks,
//!   in the docs and in the module comments (`//!`) of the sources, names a
//!   module, type, function, constant, field or variant defined where it
//!   says: `arp::arp_rcv` must be defined in `arp.rs` (or `arp/`),
//!   `Stack::ip_output` in a file that has `impl … Stack`.
//! - `docs/architecture.md`'s file map names every source file of
//!   `stack/`, `device/` and `apps/`, and only files that exist.
//!
//! The check reads text, not Rust: a definition is `fn NAME`, `struct NAME`,
//! `enum NAME`, `const NAME`, `static NAME`, `type NAME`, `trait NAME`,
//! `mod NAME`, a field `NAME:` or a variant `NAME,` / `NAME(` / `NAME {`.
//! References into other crates (`std::net`, `libc::…`, the `FOREIGN`
//! list) and to types that are not ours are not checked; a lowercase first
//! segment that is neither a module of ours nor a foreign crate is an error
//! (a module that was renamed or removed).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use synack_tests::tree::{files_under, workspace_root as root};

/// Source folders whose files the docs may name.
const SOURCE_DIRS: &[&str] = &[
    "stack/src",
    "stack/tests",
    "device/src",
    "device/tests",
    "apps/src",
    "apps/tests",
    "apps/preload/src",
    "tests/src",
    "tests/tests",
    "fuzz/src",
    "fuzz/fuzz_targets",
];

/// The crates by the names the docs and code call them.
const CRATES: &[(&str, &str)] = &[
    ("stack", "stack/"),
    ("synack_stack", "stack/"),
    ("device", "device/"),
    ("synack_device", "device/"),
    ("synack_apps", "apps/"),
    ("synack_preload", "apps/preload/"),
];

/// Crates that are not ours, whose paths the docs may name.
const FOREIGN: &[&str] = &[
    "std",
    "core",
    "alloc",
    "libc",
    "rand",
    "bytes",
    "etherparse",
    "pcap_file",
    "clap",
    "signal_hook",
    "sha2",
    "proptest",
    "libfuzzer_sys",
    "smoltcp",
];

struct Tree {
    /// Relative path ("stack/src/arp.rs") → text.
    sources: BTreeMap<String, String>,
    /// Every file of the tree (for `file.rs` references), relative.
    files: BTreeSet<String>,
}

impl Tree {
    fn load() -> Tree {
        let root = root();
        let mut sources = BTreeMap::new();
        let mut files = BTreeSet::new();
        for d in SOURCE_DIRS {
            let mut v = Vec::new();
            v.extend(files_under(&root.join(d)));
            for p in v {
                let rel = p.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
                if rel.ends_with(".rs") {
                    sources.insert(rel.clone(), fs::read_to_string(&p).unwrap());
                }
                files.insert(rel);
            }
        }
        for d in ["docs", "pcaps", "tests", "fuzz", ".ci"] {
            let mut v = Vec::new();
            v.extend(files_under(&root.join(d)));
            for p in v {
                let rel = p.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
                if !rel.contains("/target/") && !rel.contains("/corpus/") {
                    files.insert(rel);
                }
            }
        }
        Tree { sources, files }
    }

    /// Does `name` (a path or a bare file name) name a file of the tree?
    fn has_file(&self, name: &str) -> bool {
        let name = name.trim_start_matches("./");
        self.files.iter().any(|f| f == name || f.ends_with(&format!("/{name}")))
    }

    /// Source files that are module `m`: `m.rs`, `m/mod.rs`, `m/*.rs`, or a
    /// crate's files when `m` is a crate name.
    fn module_files(&self, m: &str) -> Vec<&str> {
        if let Some((_, dir)) = CRATES.iter().find(|(c, _)| *c == m) {
            return self.sources.keys().filter(|k| k.starts_with(dir)).map(|k| k.as_str()).collect();
        }
        let file = format!("/{m}.rs");
        let dir = format!("/{m}/");
        self.sources.keys().filter(|k| k.ends_with(&file) || k.contains(&dir)).map(|k| k.as_str()).collect()
    }

    /// Source files with `struct T`, `enum T`, `trait T` or `impl … T`.
    fn type_files(&self, t: &str) -> Vec<&str> {
        self.sources
            .iter()
            .filter(|(_, text)| {
                text.lines().any(|l| {
                    let l = l.trim_start();
                    let l = l.strip_prefix("pub(crate) ").or_else(|| l.strip_prefix("pub ")).unwrap_or(l);
                    ["struct ", "enum ", "trait ", "type "]
                        .iter()
                        .any(|kw| l.strip_prefix(kw).is_some_and(|r| ident_at(r) == t))
                        || (l.starts_with("impl") && l.split(|c: char| !is_ident(c)).any(|w| w == t))
                })
            })
            .map(|(k, _)| k.as_str())
            .collect()
    }

    fn defines(&self, files: &[&str], name: &str) -> bool {
        files.iter().any(|f| defines(&self.sources[*f], name))
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// Is `name` defined in `text` (see the module comment for what counts)?
fn defines(text: &str, name: &str) -> bool {
    const KW: &[&str] =
        &["fn ", "struct ", "enum ", "const ", "static ", "type ", "trait ", "mod ", "macro_rules! ", "let "];
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with("//") {
            continue;
        }
        // Definitions by keyword, anywhere on the line (`pub(crate) fn x`, `const fn x`).
        for kw in KW {
            let mut rest = l;
            while let Some(i) = rest.find(kw) {
                let before_ok = i == 0 || !is_ident(rest[..i].chars().last().unwrap());
                if before_ok && ident_at(&rest[i + kw.len()..]) == name {
                    return true;
                }
                rest = &rest[i + kw.len()..];
            }
        }
        // `impl Name` or `impl Trait for Name`: the file adds to a type.
        if let Some(rest) = l.strip_prefix("impl") {
            let rest = rest.split(" for ").last().unwrap_or(rest);
            let rest = rest.trim_start_matches(|c: char| c == '<' || c.is_whitespace());
            let rest = if rest.starts_with(|c: char| c.is_ascii_uppercase()) {
                rest
            } else {
                rest.split_once("> ").map_or(rest, |(_, r)| r)
            };
            if ident_at(rest.trim_start()) == name {
                return true;
            }
        }
        // A field `name: T` or a variant `Name,` / `Name(` / `Name {` / `Name =`.
        let l = l.strip_prefix("pub(crate) ").or_else(|| l.strip_prefix("pub(super) ")).unwrap_or(l);
        let l = l.strip_prefix("pub(in crate::tcp) ").or_else(|| l.strip_prefix("pub ")).unwrap_or(l);
        if ident_at(l) == name {
            let after = l[name.len()..].trim_start();
            if after.is_empty()
                || [":", ",", "(", "{", "="].iter().any(|p| after.starts_with(p) && !after.starts_with("::"))
            {
                return true;
            }
        }
    }
    false
}

/// The backticked spans of a text, and the lines of its fenced blocks
/// (the diagrams of the paths through the code).
fn code_spans(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        let bare = line.trim_start().trim_start_matches("//!").trim_start();
        if bare.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            out.push(line);
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let Some(span) = parts.next() {
            out.push(span);
            parts.next();
        }
    }
    out
}

/// `a::b::c` paths (and `file.rs::item`) inside a span.
fn paths_in(span: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let chars: Vec<char> = span.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':' || chars[i - 1] == '.')) {
            let start = i;
            // A `/` belongs to a file path before any `::`; after one it
            // separates alternatives (`Stack::epoll_create/epoll_ctl`).
            let mut seen_colons = false;
            while i < chars.len()
                && (is_ident(chars[i]) || chars[i] == ':' || chars[i] == '.' || (chars[i] == '/' && !seen_colons))
            {
                seen_colons |= chars[i] == ':';
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let word = word.trim_end_matches([':', '.']);
            if word.contains("::") {
                out.push(word.split("::").map(str::to_string).collect());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Check one `a::b::c` reference; `Err` says what is missing.
fn check_path(tree: &Tree, segs: &[String]) -> Result<(), String> {
    let first = segs[0].as_str();
    let mut files: Vec<&str> = if let Some(file) = first.strip_suffix(".rs") {
        // `apps/src/services.rs::chargen_line` or `services.rs::chargen_line`
        let want = format!("{file}.rs");
        let v: Vec<&str> = tree
            .sources
            .keys()
            .filter(|k| *k == &want || k.ends_with(&format!("/{want}")))
            .map(|k| k.as_str())
            .collect();
        if v.is_empty() {
            return Err(format!("no file {want}"));
        }
        v
    } else if first.contains('/') || first.contains('.') {
        return Ok(());
    } else if first.chars().next().unwrap().is_ascii_uppercase() {
        let v = tree.type_files(first);
        if v.is_empty() {
            // Not one of our types (or an associated item of a foreign one).
            return Ok(());
        }
        v
    } else {
        let v = tree.module_files(first);
        if v.is_empty() {
            // std::…, libc::…: another crate's path; anything else names a
            // module that does not exist (any more).
            return if FOREIGN.contains(&first) { Ok(()) } else { Err(format!("no module {first}")) };
        }
        v
    };
    for seg in &segs[1..] {
        let seg = seg.as_str();
        if seg.is_empty() || seg == "tests" && tree.defines(&files, "tests") {
            continue;
        }
        // A nested module narrows the files; a type moves to its impls.
        let sub = tree.module_files(seg);
        let sub: Vec<&str> = sub.into_iter().filter(|f| files.contains(f)).collect();
        if !sub.is_empty() && !tree.defines(&files, seg) {
            files = sub;
            continue;
        }
        if !tree.defines(&files, seg) {
            // `stack::Config` re-exported from the crate root: look in the crate.
            return Err(format!("`{seg}` is not defined in {}", files.join(", ")));
        }
        if seg.chars().next().unwrap().is_ascii_uppercase() {
            let t = tree.type_files(seg);
            if !t.is_empty() {
                files = t;
            }
        }
    }
    Ok(())
}

/// The texts to check: docs, READMEs, and the module comments of the sources.
fn texts(tree: &Tree) -> Vec<(String, String)> {
    let root = root();
    let mut out = Vec::new();
    let mut docs = Vec::new();
    docs.extend(files_under(&root.join("docs")));
    for extra in ["README.md", "DEVELOPERS.md", "pcaps/README.md"] {
        docs.push(root.join(extra));
    }
    for p in docs {
        if p.extension().is_some_and(|e| e == "md") {
            let rel = p.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            out.push((rel, fs::read_to_string(&p).unwrap()));
        }
    }
    for (rel, text) in &tree.sources {
        if rel.contains("/src/") {
            let header: String =
                text.lines().filter_map(|l| l.trim_start().strip_prefix("//!")).map(|l| format!("{l}\n")).collect();
            out.push((rel.clone(), header));
        }
    }
    out
}

#[test]
fn every_file_the_docs_name_exists() {
    let tree = Tree::load();
    let mut missing = Vec::new();
    for (doc, text) in texts(&tree) {
        for span in code_spans(&text) {
            for word in span.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')') {
                let word = word.split("::").next().unwrap().trim_end_matches(['.', ':', ';']);
                if word.ends_with(".rs") && !word.contains('*') && !word.contains('<') && !tree.has_file(word) {
                    missing.push(format!("{doc}: `{word}`"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "files the docs name that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn every_code_path_the_docs_name_is_defined() {
    let tree = Tree::load();
    let mut bad = BTreeSet::new();
    for (doc, text) in texts(&tree) {
        for span in code_spans(&text) {
            for segs in paths_in(span) {
                if let Err(why) = check_path(&tree, &segs) {
                    bad.insert(format!("{doc}: `{}`: {why}", segs.join("::")));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} references name nothing:\n{}",
        bad.len(),
        bad.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_file_map_is_the_tree() {
    let tree = Tree::load();
    let arch = fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let mut unmapped = Vec::new();
    for rel in tree.sources.keys() {
        let in_crate_src =
            ["stack/src/", "device/src/", "apps/src/", "apps/preload/src/"].iter().any(|d| rel.starts_with(d));
        if !in_crate_src || rel.ends_with("/tests.rs") {
            continue;
        }
        // Named by its path, or by its name in the table of its folder
        // (`stack/src/tcp/` then `sock.rs`), or its folder as a whole.
        let path = Path::new(rel);
        let name = path.file_name().unwrap().to_string_lossy();
        let dir = format!("{}/", path.parent().unwrap().to_string_lossy());
        let by_path = arch.contains(&format!("`{rel}`")) || arch.contains(&format!("{rel}`"));
        let by_folder = arch.contains(&format!("`{dir}`")) && arch.contains(&format!("`{name}`"));
        if !by_path && !by_folder {
            unmapped.push(rel.clone());
        }
    }
    assert!(
        unmapped.is_empty(),
        "source files docs/architecture.md's file map does not name:\n{}",
        unmapped.join("\n")
    );
}
