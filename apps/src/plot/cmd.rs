//! `synack plot RECORDING [--conn N] [--from S --to S] -o DIR`: the four plots and the CSV
//! of each connection of a recorded run, for a finished run and for the book.
//!
//! The recording (`synack up --record DIR`) is replayed as `synack replay`
//! does (the binary's replay_cmd.rs, passed in as `replay`), with the
//! stack's `tcp_probe` on (stack/src/tcp/probe.rs): the inside state
//! (cwnd, RTO, queues) is the replayed stack's, which is the recorded
//! one's since a replay is deterministic. Every sample goes into a
//! `History` with room for every point of a recording
//! (`PLOT_POINTS_PER_CONN`), then each connection's plots go to
//! `DIR/conn-N-{tseq,cwnd,rtt,buffers}.svg` and its data to `DIR/conn-N.csv`.
//! A bare pcap file is replayed the same way, against synack with default
//! arguments (`synack replay FILE` does the same): its inside state is
//! that replay's, true only if the capture was of synack run so.

use super::{render_svg_window, History, HistoryLimits, PlotKind};
use clap::Args;
use stack::tcp::TcpProbe;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Points per connection for `synack plot`: a recording is finite and the
/// plot is made once, so far more than the live view keeps (2^18 points,
/// ~36 MB per connection at most); beyond it the older half is decimated
/// as in the live view.
pub const PLOT_POINTS_PER_CONN: usize = 1 << 18;
/// Connections kept for `synack plot`: the first this many (by first sample).
pub const PLOT_CONNS: usize = 1024;

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// A recording directory (`synack up --record DIR`), or a pcap file
    /// (replayed against synack with default arguments).
    pub recording: PathBuf,
    /// Only connection N (ids count from 1 in the order connections first
    /// appear; without --conn every connection is plotted).
    #[arg(long = "conn", value_name = "N")]
    pub conn: Option<u64>,
    /// Directory for conn-N-{tseq,cwnd,rtt,buffers}.svg and conn-N.csv (made if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Zoom: draw from this many seconds after the connection's first
    /// segment (with --to; the CSV keeps every point).
    #[arg(long, value_name = "SECONDS", requires = "to")]
    pub from: Option<f64>,
    /// Zoom: draw up to this many seconds after the connection's first segment.
    #[arg(long, value_name = "SECONDS", requires = "from")]
    pub to: Option<f64>,
}

/// Replay `a.recording` through `replay` (which calls its sink for every
/// sample), then write the plots. Prints one line per connection written.
pub fn plot(
    a: PlotArgs,
    replay: impl FnOnce(&Path, &mut dyn FnMut(&TcpProbe)) -> io::Result<()>,
) -> io::Result<ExitCode> {
    if !a.recording.exists() {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("{}: no such recording", a.recording.display())));
    }
    let mut history =
        History::new(HistoryLimits { points_per_conn: PLOT_POINTS_PER_CONN, conns: PLOT_CONNS, budget: usize::MAX });
    replay(&a.recording, &mut |p| history.record(p))?;
    let window = a.from.zip(a.to);
    let written = write_plots(&history, a.conn, &a.out, window)?;
    if written.is_empty() {
        let what = a.conn.map_or("no TCP connection".to_string(), |n| format!("no connection {n}"));
        eprintln!("synack plot: {}: {what} in the recording", a.recording.display());
        return Ok(ExitCode::FAILURE);
    }
    for (id, points) in written {
        println!("conn {id}: {points} points: {}", a.out.join(format!("conn-{id}-*.svg")).display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Write the plots and CSV of connection `only` (or all) of `h` into
/// `dir`, the plots of the time `window` only if given (seconds since each
/// connection's first segment); returns (id, points) of each connection written.
pub fn write_plots(
    h: &History,
    only: Option<u64>,
    dir: &Path,
    window: Option<(f64, f64)>,
) -> io::Result<Vec<(u64, usize)>> {
    std::fs::create_dir_all(dir)?;
    let mut done = Vec::new();
    for s in h.conns() {
        if only.is_some_and(|n| n != s.id) {
            continue;
        }
        let Some(c) = h.get(s.id) else { continue };
        for kind in PlotKind::ALL {
            std::fs::write(dir.join(format!("conn-{}-{}.svg", s.id, kind.name())), render_svg_window(kind, c, window))?;
        }
        std::fs::write(dir.join(format!("conn-{}.csv", s.id)), c.to_csv())?;
        done.push((s.id, s.points));
    }
    Ok(done)
}
