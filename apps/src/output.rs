//! What the `synack` command prints: lines on standard output, flushed at
//! once (tests read it through a pipe), and one line per frame, trace
//! event and scripted fault, in the columns tcpdump uses.

use device::Direction;
use stack::{Instant, TraceEvent};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Print one line and flush: tests read stdout through a pipe. A closed
/// stdout is not an error worth dying for.
pub(crate) fn say(line: impl AsRef<str>) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{}", line.as_ref());
    let _ = out.flush();
}

pub(crate) fn say_text(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// One tcpdump-style line per frame: `  1.234567 < ARP, Request who-has …`.
/// Frame lines go to standard error when standard output carries data
/// (`synack connect`), to standard output otherwise.
pub(crate) static FRAMES_TO_STDERR: AtomicBool = AtomicBool::new(false);

pub(crate) fn print_frame(dir: Direction, now: Instant, frame: &[u8]) {
    let line = format!("{:>11} {} {}", now.to_string(), dir.marker(), synack_apps::frames::line(frame));
    if FRAMES_TO_STDERR.load(Ordering::Relaxed) {
        eprintln!("{line}");
    } else {
        say(line);
    }
}

/// A trace event, indented under the frame that caused it, with the
/// clause it follows: `    ↳ 10.0.0.2:23 10.0.0.1:5000: LISTEN -> SYN_RECEIVED  [RFC 9293 §3.10.7.2]`.
pub(crate) fn print_event(ev: &TraceEvent) {
    if ev.rfc.is_empty() {
        say(format!("{:>11}   ↳ {}", "", ev.text));
    } else {
        say(format!("{:>11}   ↳ {}  [{}]", "", ev.text, ev.rfc));
    }
}

/// A scripted fault, in the frame column: `  1.234567 ! fault: drop out …`.
pub(crate) fn print_fault(ev: &device::FaultEvent) {
    say(format!("{:>11} ! {ev}", ev.at.to_string()));
}
