//! `synack-bench`: how fast synack is, against ceilings measured in the
//! same run on the same machine.
//!
//! Every row is the median, min and max of several runs: the raw TAP
//! ceilings (a tiny prober, no stack), synack ↔ host over TAP both ways,
//! the same client and server code Linux ↔ Linux over veth, two synack
//! stacks in memory (bulk and handshakes), ping RTT over TAP vs veth, bulk
//! transfer through an impaired link (synack and Linux as senders), and
//! connect latency during a spoofed SYN flood (synack and Linux).
//! Then the issue's targets as ratios, met or missed and by how much.
//! Each row that needs one makes its own network namespace and deletes it.
//!
//! ```sh
//! cargo build --release -p synack-apps
//! sudo target/release/synack-bench                 # the full run (~7 min)
//! sudo target/release/synack-bench --smoke         # every row, small (~1 min)
//! sudo target/release/synack-bench --only synack,tap --markdown out.md
//! ```
//!
//! A slow figure is never an error: the exit status says only whether
//! every row could be measured.

#[path = "../bench/mod.rs"]
mod bench;

use bench::{Plan, Results, ROWS};
use clap::{Parser, ValueEnum};
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Copy, Clone, PartialEq, Eq, Debug, ValueEnum)]
enum Group {
    /// The TAP write and read ceilings (prober, no stack).
    Tap,
    /// synack -> host and host -> synack over TAP.
    Synack,
    /// The same with the TAP's offloads (virtio-net header, TSO, GRO).
    Offload,
    /// Linux -> Linux over veth, both ways.
    Veth,
    /// Two synack stacks in memory: bulk throughput.
    Mem,
    /// Two synack stacks in memory: handshakes per second.
    Handshakes,
    /// ping RTT to synack over TAP and Linux to Linux over veth.
    Ping,
    /// Bulk transfer through an impaired link: synack and Linux as senders.
    Impaired,
    /// Connect latency during a spoofed SYN flood: synack and Linux.
    Flood,
}

const ALL: [Group; 9] = [
    Group::Tap,
    Group::Synack,
    Group::Offload,
    Group::Veth,
    Group::Mem,
    Group::Handshakes,
    Group::Ping,
    Group::Impaired,
    Group::Flood,
];

#[derive(Parser)]
#[command(name = "synack-bench", about = "synack's benchmark: throughput, handshakes and RTT against ceilings")]
struct Args {
    /// About 20 s in all: small sizes, 3 runs, still every row.
    #[arg(long)]
    smoke: bool,
    /// Only these groups (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Group>,
    /// Runs per row (at least 3 in a full run).
    #[arg(long)]
    runs: Option<usize>,
    /// Also write the tables as Markdown to FILE.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
}

fn needs_root(g: Group) -> bool {
    !matches!(g, Group::Mem | Group::Handshakes)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn run_group(g: Group, plan: &Plan, r: &mut Results) -> io::Result<()> {
    match g {
        Group::Tap => bench::tap(plan, r),
        Group::Synack => bench::synack(plan, r),
        Group::Offload => bench::offload(plan, r),
        Group::Veth => bench::veth(plan, r),
        Group::Mem => bench::mem(plan, r),
        Group::Handshakes => bench::handshakes(plan, r),
        Group::Ping => bench::ping(plan, r),
        Group::Impaired => bench::impaired::impaired(plan, r),
        Group::Flood => bench::flood::flood(plan, r),
    }
}

/// A figure with about three significant digits.
fn num(v: f64) -> String {
    // The bounds allow for rounding: 9.996 prints as 10.0, not 10.00.
    match v.abs() {
        a if a >= 99.95 => format!("{v:.0}"),
        a if a >= 9.995 => format!("{v:.1}"),
        a if a >= 0.9995 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}

/// One target: the figure it is about, the bound, and which way.
struct Target {
    name: &'static str,
    value: Option<f64>,
    bound: f64,
    at_least: bool,
    unit: &'static str,
}

impl Target {
    /// "met" or "missed", and by how much, relative to the bound.
    fn verdict(&self) -> String {
        let Some(v) = self.value else { return "not measured".into() };
        let margin = if self.at_least { (v - self.bound) / self.bound } else { (self.bound - v) / self.bound };
        if margin >= 0.0 {
            format!("met, by {:.0}%", margin * 100.0)
        } else {
            format!("MISSED, by {:.0}%", -margin * 100.0)
        }
    }
}

fn targets(r: &Results) -> Vec<Target> {
    let payload_ceiling = |key: &str| r.median(key).map(|kfps| kfps * 1e3 * bench::PAYLOAD_PER_FRAME * 8.0 / 1e9);
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    vec![
        Target {
            name: "synack -> host / TAP write ceiling (as payload: frames/s x 1460 B)",
            value: ratio(r.median("synack_tx"), payload_ceiling("tap_write_kfps")),
            bound: 0.90,
            at_least: true,
            unit: "",
        },
        Target {
            name: "host -> synack / TAP read ceiling (as payload), 1 MiB rcvbuf",
            value: ratio(r.median("synack_rx"), payload_ceiling("tap_read_kfps")),
            bound: 0.80,
            at_least: true,
            unit: "",
        },
        Target {
            name: "the same with the TAP's offloads (--offload), synack -> host",
            value: ratio(r.median("synack_tx_gso"), payload_ceiling("tap_write_kfps")),
            bound: 0.90,
            at_least: true,
            unit: "",
        },
        Target {
            name: "the same with the TAP's offloads (--offload), host -> synack",
            value: ratio(r.median("synack_rx_gso"), payload_ceiling("tap_read_kfps")),
            bound: 0.80,
            at_least: true,
            unit: "",
        },
        Target {
            name: "synack -> host over TAP with offloads (stretch)",
            value: r.median("synack_tx_gso"),
            bound: 15.0,
            at_least: true,
            unit: " Gbit/s",
        },
        Target {
            name: "synack -> synack in memory, one core",
            value: r.median("mem_bulk"),
            bound: 20.0,
            at_least: true,
            unit: " Gbit/s",
        },
        Target {
            name: "handshakes in memory (connect+accept+close)",
            value: r.median("mem_handshakes").map(|k| k * 1e3),
            bound: 100_000.0,
            at_least: true,
            unit: "/s",
        },
        Target {
            name: "impaired link: synack sending / Linux CUBIC sending (same link, same run)",
            value: r.median("impaired_ratio"),
            bound: 0.8,
            at_least: true,
            unit: "",
        },
        Target {
            name: "connect to synack during a spoofed SYN flood, median",
            value: r.median("flood_synack_median"),
            bound: 50.0,
            at_least: false,
            unit: " ms",
        },
        Target {
            name: "connect to synack during a spoofed SYN flood, slowest of every run",
            value: r.summary("flood_synack_max").map(|(_, _, max)| max),
            bound: 1000.0,
            at_least: false,
            unit: " ms",
        },
        Target {
            name: "ping RTT over TAP / Linux-Linux over veth (medians)",
            value: ratio(r.median("ping_synack"), r.median("ping_veth")),
            bound: 1.2,
            at_least: false,
            unit: "",
        },
        Target {
            name: "the same, synack busy polling (a core spinning)",
            value: ratio(r.median("ping_synack_busy"), r.median("ping_veth")),
            bound: 1.2,
            at_least: false,
            unit: "",
        },
    ]
}

fn tables(r: &Results, errors: &[(Group, String)], markdown: bool) -> String {
    let mut s = String::new();
    let w = ROWS.iter().map(|(_, l, _)| l.len()).max().unwrap_or(10);
    if markdown {
        s.push_str("| row | median | min | max | unit |\n|---|---:|---:|---:|---|\n");
    } else {
        let _ = writeln!(s, "{:<w$}  {:>9}  {:>9}  {:>9}  unit", "row", "median", "min", "max");
    }
    for (key, label, unit) in ROWS {
        let Some((med, min, max)) = r.summary(key) else { continue };
        let (med, min, max) = (num(med), num(min), num(max));
        if markdown {
            let _ = writeln!(s, "| {label} | {med} | {min} | {max} | {unit} |");
        } else {
            let _ = writeln!(s, "{label:<w$}  {med:>9}  {min:>9}  {max:>9}  {unit}");
        }
    }
    s.push('\n');
    let ts = targets(r);
    let tw = ts.iter().map(|t| t.name.len()).max().unwrap_or(10);
    if markdown {
        s.push_str("| target | value | bound | result |\n|---|---:|---:|---|\n");
    } else {
        let _ = writeln!(s, "{:<tw$}  {:>10}  {:>12}  result", "target", "value", "bound");
    }
    for t in &ts {
        let value = t.value.map_or("-".to_string(), |v| format!("{}{}", num(v), t.unit));
        let bound = format!("{} {}{}", if t.at_least { ">=" } else { "<=" }, num(t.bound), t.unit);
        let verdict = t.verdict();
        if markdown {
            let _ = writeln!(s, "| {} | {value} | {bound} | {verdict} |", t.name);
        } else {
            let _ = writeln!(s, "{:<tw$}  {value:>10}  {bound:>12}  {verdict}", t.name);
        }
    }
    if !errors.is_empty() {
        s.push('\n');
        for (g, e) in errors {
            let _ = writeln!(s, "error in {g:?}: {e}");
        }
    }
    s
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut plan = if args.smoke { Plan::smoke() } else { Plan::full() };
    if let Some(n) = args.runs {
        plan.runs = n.max(1);
    }
    let groups: Vec<Group> = if args.only.is_empty() { ALL.to_vec() } else { args.only.clone() };
    if let Err(e) = bench::install_interrupts() {
        eprintln!("synack-bench: cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    if groups.iter().any(|&g| needs_root(g)) {
        if !is_root() {
            eprintln!(
                "synack-bench: the TAP, veth and ping rows need root (network namespaces); try --only mem,handshakes"
            );
            return ExitCode::FAILURE;
        }
        bench::netns::sweep_stale();
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "synack-bench: {} run, {} runs per row, {:?} per transfer, {cpus} CPUs",
        if args.smoke { "smoke" } else { "full" },
        plan.runs,
        plan.transfer
    );
    let start = Instant::now();
    let mut results = Results::default();
    let mut errors = Vec::new();
    for g in groups {
        let t = Instant::now();
        let res = run_group(g, &plan, &mut results);
        eprintln!("synack-bench: {g:?} done in {:.1} s", t.elapsed().as_secs_f64());
        if let Err(e) = res {
            eprintln!("synack-bench: {g:?}: {e}");
            let interrupted = e.kind() == io::ErrorKind::Interrupted;
            errors.push((g, e.to_string()));
            if interrupted {
                break;
            }
        }
    }
    println!();
    print!("{}", tables(&results, &errors, false));
    println!("\n({:.0} s in all)", start.elapsed().as_secs_f64());
    if let Some(path) = &args.markdown {
        if let Err(e) = std::fs::write(path, tables(&results, &errors, true)) {
            eprintln!("synack-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
