//! `synack drill`: packetdrill scripts run against synack on a virtual clock.
//!
//! packetdrill is how the Linux TCP developers test their stack: a script
//! is a dialogue of socket calls and packets with times. synack drill reads
//! the same language (`parse.rs`), runs it against a fresh synack stack
//! with no real clock and no device (`run.rs`), and says, per script, `ok`,
//! `FAIL` with the line and what differed, or `skip` with the reason when
//! the script needs something synack drill does not do.
//!
//! A script of synack's own suite (`tests/drill/`) that synack runs
//! differently from Linux *on purpose* says so in a comment line
//! `// synack-differs: REASON`; it is reported as `differs` while it fails
//! that way, and as a failure if it ever passes (the note would be stale).
//!
//! Read first: `ast.rs` (a script's shape), then `run.rs`.

pub mod ast;
pub mod code;
pub mod lexer;
pub mod packet;
pub mod parse;
pub mod run;
pub mod syscall;
pub mod sysctl;

use std::io::Write;
use std::path::Path;

pub use run::{Options, Verdict};

/// The comment that marks a script synack is known to run differently.
pub const DIFFERS_MARK: &str = "// synack-differs:";

/// One script's outcome, as the summary counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// The message, starting with `LINE: `.
    Fail(String),
    Skip(String),
    /// Failed as its `synack-differs` note says it would: the note, and what happened.
    Differs {
        note: String,
        detail: String,
    },
}

/// Read, parse and run the script at `path`.
pub fn run_file(path: &Path, opts: &Options, out: &mut dyn Write) -> Status {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Status::Fail(format!("0: cannot read the script: {e}")),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    run_text(&text, dir, opts, out)
}

/// Parse and run a script's text (`dir` resolves its shell lines' paths).
pub fn run_text(text: &str, dir: &Path, opts: &Options, out: &mut dyn Write) -> Status {
    let script = match parse::parse(text) {
        Ok(s) => s,
        Err(e) => return Status::Fail(format!("{}: {}", e.line, e.message)),
    };
    let mut opts = opts.clone();
    for o in &script.options {
        match (o.name.as_str(), o.value.as_deref()) {
            ("tolerance_usecs", Some(v)) => match v.parse() {
                Ok(t) => opts.tolerance = t,
                Err(_) => return Status::Fail(format!("{}: --tolerance_usecs={v} is not a number", o.line)),
            },
            ("tolerance_percent", Some(v)) => match v.parse() {
                Ok(t) => opts.tolerance_percent = t,
                Err(_) => return Status::Fail(format!("{}: --tolerance_percent={v} is not a number", o.line)),
            },
            ("ip_version", Some("ipv4")) => {}
            (name, value) => {
                let v = value.map(|v| format!("={v}")).unwrap_or_default();
                return Status::Skip(format!("{}: script option --{name}{v} (not supported by synack drill)", o.line));
            }
        }
    }
    let note = text.lines().find_map(|l| l.trim().strip_prefix(DIFFERS_MARK)).map(|n| n.trim().to_string());
    let verdict = run::run(&script, text, dir, &opts, out);
    match (verdict, note) {
        (Verdict::Pass, None) => Status::Ok,
        (Verdict::Pass, Some(note)) => {
            Status::Fail(format!("0: passes, but its note says synack differs ({note}): remove the note"))
        }
        (Verdict::Fail { line, message }, None) => Status::Fail(format!("{line}: {message}")),
        (Verdict::Fail { line, message }, Some(note)) => Status::Differs { note, detail: format!("{line}: {message}") },
        (Verdict::Skip { line, reason }, _) => Status::Skip(format!("{line}: {reason}")),
    }
}
