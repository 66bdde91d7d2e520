//! `synack drill SCRIPT.pkt…`: run packetdrill scripts against synack
//! (the library's `drill` module) and print packetdrill-style results.

use clap::Args;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use synack_apps::drill::{self, Options, Status};

#[derive(Args)]
pub struct DrillArgs {
    /// Scripts, or directories to search for `*.pkt` (recursively).
    #[arg(required = true)]
    scripts: Vec<PathBuf>,
    /// Print every event with synack's trace (RFC clauses) and the TCB's changes.
    #[arg(short, long)]
    verbose: bool,
    /// Stop before each script line until Enter (for class; implies -v).
    #[arg(long)]
    step: bool,
    /// How far a packet or a call may be from its time (packetdrill's default: 4000).
    #[arg(long = "tolerance_usecs", alias = "tolerance-usecs", default_value_t = drill::run::DEFAULT_TOLERANCE)]
    tolerance_usecs: i64,
    /// Or this share of the time since the previous event, if larger (packetdrill's default: 12.5).
    #[arg(long = "tolerance_percent", alias = "tolerance-percent", default_value_t = drill::run::DEFAULT_TOLERANCE_PERCENT)]
    tolerance_percent: f64,
    /// The stack's random seed (ISNs, ports): a run is a pure function of it.
    #[arg(long, default_value_t = Options::default().seed)]
    seed: u64,
}

fn collect(path: &Path, into: &mut Vec<PathBuf>) -> io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "pkt") {
                collect(&e, into)?;
            }
        }
    } else {
        into.push(path.to_path_buf());
    }
    Ok(())
}

pub fn drill(a: DrillArgs) -> io::Result<ExitCode> {
    let mut scripts = Vec::new();
    for p in &a.scripts {
        collect(p, &mut scripts)?;
    }
    let opts = Options {
        tolerance: a.tolerance_usecs,
        tolerance_percent: a.tolerance_percent,
        seed: a.seed,
        verbose: a.verbose,
        step: a.step,
    };
    let (mut passed, mut failed, mut skipped, mut differ) = (0, 0, 0, 0);
    let stdout = io::stdout();
    for path in &scripts {
        let mut out = stdout.lock();
        let status = drill::run_file(path, &opts, &mut out);
        let name = path.display();
        match status {
            Status::Ok => {
                passed += 1;
                writeln!(out, "ok      {name}")?;
            }
            Status::Fail(m) => {
                failed += 1;
                let (first, rest) = m.split_once('\n').unwrap_or((&m, ""));
                writeln!(out, "FAIL    {name}:{first}")?;
                for l in rest.lines() {
                    writeln!(out, "        {l}")?;
                }
            }
            Status::Skip(reason) => {
                skipped += 1;
                writeln!(out, "skip    {name}:{reason}")?;
            }
            Status::Differs { note, detail } => {
                differ += 1;
                let first = detail.lines().next().unwrap_or("");
                writeln!(out, "differs {name}: {note}\n        (synack, line {first})")?;
            }
        }
    }
    let mut summary = format!("{passed} passed, {failed} failed");
    if skipped > 0 {
        summary += &format!(", {skipped} skipped");
    }
    if differ > 0 {
        summary += &format!(", {differ} differ from Linux as documented");
    }
    println!("{summary}");
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
