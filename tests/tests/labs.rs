//! The book's labs, run as the book says, so that they never rot.
//!
//! Every chapter of `docs/book/` may hold labs written for a student, in
//! the form `docs/book/labs.md` describes:
//!
//! - a ```` ```sh lab=NAME ```` block: the commands. The first is the
//!   `synack …` command of terminal 1 (host commands may come before it);
//!   then, in order, `synack> LINE` (typed at synack's prompt), `> LINE`
//!   (typed in terminal 1 where there is no prompt), `^D` (end of input)
//!   and `$ COMMAND` (run in terminal 2, the host's shell, to its end;
//!   `sh -c`, so `&`, pipes and `sleep` work). `#` lines are comments.
//! - a ```` ```text expect=NAME ```` block: what terminal 1 shows, and
//!   optionally a ```` ```text expect-host=NAME ```` block: what terminal 2
//!   shows (`$ COMMAND`, then its output).
//!
//! Expected lines must appear in that order; other lines may come between.
//! `…` in an expected line stands for any text (a timestamp, a port, a
//! sequence number); a line that is only `…` stands for lines left out.
//! Runs of spaces count as one, and the prompt `synack> ` that may start
//! a line of terminal 1 is not compared (it is what was typed there).
//!
//! `labs_are_listed_and_complete` checks the form (no root needed);
//! `labs_run_as_the_book_says` runs each lab in a network namespace of its
//! own with the real `target/release/synack` and the host's own tools
//! (`LAB=name1,name2` runs only those; `LAB_SHOW=1` prints what both
//! terminals showed, to write or update a lab's expected output). Before each step the runner waits
//! until synack's output has been quiet for a moment (as a student reads
//! before typing on), at most a few seconds.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};
use synack_tests::{interop_allowed, require_tool, synack_bin, Netns, Synack};

/// The labs' host commands and synack's start may take at most this long.
const T: Duration = Duration::from_secs(30);
/// Output quiet this long: the step is over.
const QUIET: Duration = Duration::from_millis(400);
/// Wait at most this long for quiet.
const SETTLE_MAX: Duration = Duration::from_secs(4);
/// The issue's minimum.
const MIN_LABS: usize = 8;

// ------------------------------------------------------------ the book

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// `synack ARGS…`: start synack in terminal 1 (at a terminal).
    Start(Vec<String>),
    /// `synack> LINE`: type at synack's prompt.
    Prompt(String),
    /// `> LINE`: type in terminal 1 where there is no prompt (`synack
    /// connect`'s input).
    Input(String),
    /// `^D`: end of input in terminal 1 (Ctrl-D).
    EndOfInput,
    /// `$ COMMAND`: run in terminal 2 to its end.
    Host(String),
}

/// A fenced block of the book: where it is and what it holds.
#[derive(Clone, Debug)]
struct Block {
    at: String,
    lines: Vec<String>,
}

#[derive(Debug, Default)]
struct Lab {
    name: String,
    commands: Option<Block>,
    expect: Option<Block>,
    expect_host: Option<Block>,
}

impl Lab {
    fn at(&self) -> &str {
        self.commands.as_ref().or(self.expect.as_ref()).map_or("?", |b| b.at.as_str())
    }
}

fn book_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/book")
}

/// Every lab in `docs/book/*.md`, in file order; errors for blocks that
/// say `lab=`/`expect=` twice for one name.
fn read_labs() -> (Vec<Lab>, Vec<String>) {
    let mut files: Vec<PathBuf> = fs::read_dir(book_dir())
        .expect("docs/book")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    let mut labs: Vec<Lab> = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).expect("read a chapter");
        let rel = format!("docs/book/{}", f.file_name().expect("name").to_string_lossy());
        for (kind, name, block) in fenced_blocks(&text, &rel) {
            let i = match labs.iter().position(|l| l.name == name) {
                Some(i) => i,
                None => {
                    labs.push(Lab { name: name.clone(), ..Lab::default() });
                    labs.len() - 1
                }
            };
            let slot = match kind {
                "lab" => &mut labs[i].commands,
                "expect" => &mut labs[i].expect,
                _ => &mut labs[i].expect_host,
            };
            if let Some(old) = slot {
                errors.push(format!("{}: a second {kind}={name} block (the first is at {})", block.at, old.at));
            }
            *slot = Some(block);
        }
    }
    (labs, errors)
}

/// The fenced blocks whose info string holds `lab=`, `expect=` or
/// `expect-host=`: (kind, name, block).
fn fenced_blocks(text: &str, file: &str) -> Vec<(&'static str, String, Block)> {
    let mut out = Vec::new();
    let mut open: Option<(&'static str, String, Block)> = None;
    let mut in_other_fence = false;
    for (n, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        if let Some((_, _, b)) = open.as_mut() {
            if fence {
                out.push(open.take().expect("open"));
            } else {
                b.lines.push(line.to_string());
            }
            continue;
        }
        if fence {
            if in_other_fence {
                in_other_fence = false;
                continue;
            }
            let info = line.trim_start().trim_start_matches('`');
            let found = info.split_whitespace().find_map(|w| {
                for kind in ["lab", "expect", "expect-host"] {
                    if let Some(name) = w.strip_prefix(kind).and_then(|r| r.strip_prefix('=')) {
                        return Some((kind, name.to_string()));
                    }
                }
                None
            });
            match found {
                Some((kind, name)) => {
                    open = Some((kind, name, Block { at: format!("{file}:{}", n + 1), lines: Vec::new() }))
                }
                None => in_other_fence = true,
            }
        }
    }
    out
}

/// Split a command line like a shell does for words: spaces separate,
/// '…' and "…" quote.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(cur.take()),
            (None, c) => cur.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("unbalanced quote in {s:?}"));
    }
    words.extend(cur);
    Ok(words)
}

/// The steps of a `lab=` block.
fn steps(b: &Block) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (i, raw) in b.lines.iter().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let step = if let Some(l) = line.strip_prefix("synack> ") {
            Step::Prompt(l.trim().to_string())
        } else if let Some(l) = line.strip_prefix("> ") {
            Step::Input(l.trim().to_string())
        } else if line == "^D" {
            Step::EndOfInput
        } else if let Some(c) = line.strip_prefix("$ ") {
            Step::Host(c.trim().to_string())
        } else if line.starts_with("synack ") {
            let words = split_words(line)?;
            Step::Start(words[1..].to_vec())
        } else {
            return Err(format!(
                "line {} of the block at {}: {line:?} is none of `synack …`, `synack> …`, `> …`, `^D`, `$ …`",
                i + 1,
                b.at
            ));
        };
        steps.push(step);
    }
    // Host commands may come first (a server synack connects to); then
    // one `synack …`; typing only after it.
    let start = steps.iter().position(|s| matches!(s, Step::Start(_)));
    let starts = steps.iter().filter(|s| matches!(s, Step::Start(_))).count();
    let typed_early =
        steps.iter().take(start.unwrap_or(0)).any(|s| matches!(s, Step::Prompt(_) | Step::Input(_) | Step::EndOfInput));
    if starts != 1 || typed_early {
        return Err(format!(
            "the block at {}: one `synack …` command, and nothing typed in terminal 1 before it",
            b.at
        ));
    }
    Ok(steps)
}

// ------------------------------------------------------------ matching

/// A line as compared: no `stderr: ` mark (the harness's), no leading
/// prompts, runs of spaces as one, no spaces at either end.
fn normalize(line: &str) -> String {
    let mut l = line.strip_prefix("stderr: ").unwrap_or(line).trim_start();
    while let Some(rest) = l.strip_prefix("synack> ") {
        l = rest.trim_start();
    }
    l.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Does `line` match `pattern`, where `…` stands for any text?
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').map(str::trim).collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || !line[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// Find the expected lines in `output`, in order. On failure: the line
/// not found and the output around where it was looked for.
fn match_in_order(expected: &[String], output: &[String]) -> Result<(), String> {
    let out: Vec<String> = output.iter().map(|l| normalize(l)).collect();
    let mut from = 0;
    let mut last: Option<(usize, String)> = None;
    for (k, e) in expected.iter().enumerate() {
        let want = normalize(e);
        if want.is_empty() || want == "…" {
            continue;
        }
        // Placeholders stand for text, so the spaces around them are loose.
        let want = want.replace(" …", "…").replace("… ", "…");
        let found = out[from..].iter().position(|l| line_matches(&want, l));
        match found {
            Some(i) => {
                last = Some((from + i, e.clone()));
                from += i + 1;
            }
            None => {
                let mut m = format!("expected line {} not found:\n    want: {}\n", k + 1, e.trim());
                match &last {
                    Some((at, l)) => {
                        let _ = writeln!(m, "  looked after output line {} (which matched `{}`):", at + 1, l.trim());
                    }
                    None => m.push_str("  looked from the first output line:\n"),
                }
                let lo = from.saturating_sub(3);
                let hi = (from + 25).min(output.len());
                for (j, l) in output.iter().enumerate().take(hi).skip(lo) {
                    let mark = if j == from { '>' } else { ' ' };
                    let _ = writeln!(m, "  {mark}{:>5} | {l}", j + 1);
                }
                if hi < output.len() {
                    let _ = writeln!(m, "        … {} more lines", output.len() - hi);
                }
                if output.is_empty() {
                    m.push_str("  (no output at all)\n");
                }
                return Err(m);
            }
        }
    }
    Ok(())
}

// -------------------------------------------------------------- running

/// Wait until synack's output has been quiet for `QUIET`, at most `SETTLE_MAX`.
fn settle(s: &Synack) {
    let deadline = Instant::now() + SETTLE_MAX;
    let mut n = s.lines().len();
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        let now_n = s.lines().len();
        if now_n != n {
            n = now_n;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= QUIET {
            return;
        }
    }
}

/// `sh -c COMMAND` in the namespace, to its end (at most `T`); its output,
/// stdout then stderr. Output goes to files, not pipes: a command that
/// leaves a process in the background (`&`) is over when `sh` exits.
fn host_command(ns: &Netns, lab: &str, cmd: &str) -> Result<Vec<String>, String> {
    let base = std::env::temp_dir().join(format!("synack-lab-{}-{lab}", std::process::id()));
    let (out_path, err_path) = (base.with_extension("out"), base.with_extension("err"));
    let files = File::create(&out_path).and_then(|o| Ok((o, File::create(&err_path)?)));
    let (out, err) = files.map_err(|e| format!("temporary files for {cmd:?}: {e}"))?;
    let mut c = ns.command("sh", &["-c", cmd]);
    c.stdin(Stdio::null()).stdout(out).stderr(err);
    let mut child = c.spawn().map_err(|e| format!("spawn sh -c {cmd:?}: {e}"))?;
    let deadline = Instant::now() + T;
    let mut timed_out = false;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                timed_out = true;
                break;
            }
        }
    }
    let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
    let text = read(&out_path) + &read(&err_path);
    let _ = fs::remove_file(&out_path);
    let _ = fs::remove_file(&err_path);
    if timed_out {
        return Err(format!("`$ {cmd}` did not end within {T:?}; its output:\n{text}"));
    }
    Ok(text.lines().map(str::to_string).collect())
}

/// Run one lab; the error says what differed.
fn run_lab(lab: &Lab) -> Result<(), String> {
    let steps = steps(lab.commands.as_ref().ok_or("no lab= block")?)?;
    let ns = Netns::create();
    let v6 = ns.exec("sysctl", &["-qw", "net.ipv6.conf.default.disable_ipv6=1"], T);
    if !v6.success() {
        return Err(format!("sysctl: {}", v6.text()));
    }
    let mut synack: Option<Synack> = None;
    let mut host: Vec<String> = Vec::new();
    for step in &steps {
        if let Some(s) = &synack {
            settle(s);
        }
        match step {
            Step::Start(args) => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let s = Synack::spawn_at_terminal(ns.command(synack_bin(), &args));
                if s.wait_for(0, T, |l| normalize(l).starts_with("synack is up:")).is_none() {
                    return Err(format!("synack did not come up:\n{}", s.output()));
                }
                synack = Some(s);
            }
            Step::Prompt(line) => synack.as_mut().expect("started first").type_line(line),
            Step::Input(line) => synack.as_mut().expect("started first").type_input(line),
            Step::EndOfInput => synack.as_mut().expect("started first").end_of_input(),
            Step::Host(cmd) => {
                host.push(format!("$ {cmd}"));
                host.extend(host_command(&ns, &lab.name, cmd)?);
            }
        }
    }
    let mut s = synack.expect("started");
    settle(&s);
    // A lab whose synack ends by itself (`synack> quit`, a `synack connect`
    // whose peer closed) has ended; else the runner stops it (Ctrl-C).
    if s.exited() {
        s.wait_exit(T);
    } else {
        s.stop();
    }
    let term1 = s.lines();
    if std::env::var_os("LAB_SHOW").is_some() {
        let _ = writeln_stderr(&format!(
            "--- lab {}: terminal 1\n{}\n--- terminal 2\n{}\n---",
            lab.name,
            term1.join("\n"),
            host.join("\n")
        ));
    }
    let mut errors = String::new();
    if let Some(e) = &lab.expect {
        if let Err(m) = match_in_order(&e.lines, &term1) {
            let _ = write!(errors, "terminal 1 (synack), expected at {}: {m}", e.at);
        }
    }
    if let Some(e) = &lab.expect_host {
        if let Err(m) = match_in_order(&e.lines, &host) {
            let _ = write!(errors, "terminal 2 (host), expected at {}: {m}", e.at);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn labs_are_listed_and_complete() {
    let (labs, mut errors) = read_labs();
    for l in &labs {
        match &l.commands {
            None => errors.push(format!("{}: expect={} without its lab={} block", l.at(), l.name, l.name)),
            Some(b) => {
                if let Err(e) = steps(b) {
                    errors.push(e);
                }
            }
        }
        if l.expect.is_none() {
            errors.push(format!("{}: lab={} has no expect={} block", l.at(), l.name, l.name));
        }
    }
    assert!(errors.is_empty(), "the book's labs:\n{}", errors.join("\n"));
    assert!(labs.len() >= MIN_LABS, "{} labs in docs/book, want at least {MIN_LABS}", labs.len());
    // The index lists every lab.
    let index = fs::read_to_string(book_dir().join("labs.md")).expect("docs/book/labs.md");
    for l in &labs {
        assert!(index.contains(&format!("`{}`", l.name)), "docs/book/labs.md does not list `{}`", l.name);
    }
}

#[test]
fn labs_run_as_the_book_says() {
    if !interop_allowed("labs_run_as_the_book_says") {
        return;
    }
    for tool in ["ip", "ss", "ping", "nc", "python3"] {
        require_tool(tool);
    }
    let (labs, errors) = read_labs();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let only: Option<Vec<String>> =
        std::env::var("LAB").ok().filter(|v| !v.is_empty()).map(|v| v.split(',').map(str::to_string).collect());
    let mut failed = Vec::new();
    let mut ran = 0;
    for lab in &labs {
        if only.as_ref().is_some_and(|o| !o.contains(&lab.name)) {
            continue;
        }
        let t = Instant::now();
        let r = run_lab(lab);
        ran += 1;
        let _ = writeln_stderr(&format!(
            "lab {:<16} {} ({:.1} s, {})",
            lab.name,
            if r.is_ok() { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64(),
            lab.at()
        ));
        if let Err(e) = r {
            failed.push(format!("=== lab {} ({}):\n{e}", lab.name, lab.at()));
        }
    }
    assert!(ran > 0, "no lab matched LAB={only:?}");
    assert!(failed.is_empty(), "{} of {ran} labs differ from the book:\n\n{}", failed.len(), failed.join("\n"));
}

fn writeln_stderr(s: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr(), "{s}")
}

#[test]
fn matching_is_in_order_with_placeholders() {
    let out: Vec<String> = [
        "+ ip link set tap0 up",
        "stderr: + ip addr add 10.0.0.1/24 dev tap0",
        "synack>    1.502713 < ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28",
        "              ↳ neigh 10.0.0.1 (none) -> REACHABLE",
        "   1.502713 > ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28",
        "synack> synack> tcp        0      0 10.0.0.2:23             10.0.0.1:53680          TIME_WAIT",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        match_in_order(
            &want(&[
                "+ ip addr add 10.0.0.1/24 dev tap0",
                "… < ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28",
                "…",
                "… > ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28",
                "tcp 0 0 10.0.0.2:23 10.0.0.1:… TIME_WAIT",
            ]),
            &out
        ),
        Ok(())
    );
    // Out of order: the reply cannot be found after the TIME_WAIT line.
    let e = match_in_order(&want(&["… TIME_WAIT", "… > ARP, Reply …"]), &out).unwrap_err();
    assert!(e.contains("expected line 2 not found"), "{e}");
    assert!(e.contains("want: … > ARP, Reply …"), "{e}");
    assert!(e.contains("looked after output line 6"), "{e}");
    // A whole line, not a part of one.
    assert!(match_in_order(&want(&["ARP, Reply 10.0.0.2"]), &out).is_err());
    assert!(line_matches("a…c…e", "abcde") && !line_matches("a…c…e", "abde"));
    assert_eq!(split_words(r#"synack up -v --faults "drop out tcp #1,2""#).unwrap()[4], "drop out tcp #1,2");
}
