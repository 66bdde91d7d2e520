//! `synack replay`: a recorded run, again, on a virtual clock.
//!
//! The recording (`synack up --record DIR`, see `device/src/replay.rs`)
//! gives the `up` arguments, the instants of every turn of the poll loop
//! and every prompt line; the capture gives the host's frames. This builds
//! the same stack, the same services and the same device middleware (the
//! fault script included) over a `ReplayDevice`, and runs each recorded
//! turn with `NetLoop::run_turn`, the code a live turn runs, then the
//! services, as `up` does. No clock is read and nothing is slept: a
//! 60-second TIME_WAIT replays in microseconds.
//!
//! `probes` is the same replay with the stack's `tcp_probe` on, for
//! `synack plot` (plot/cmd.rs).
//!
//! With `--check` the frames the stack sends are compared with the ones it
//! sent when recorded, in order and byte for byte; the first differences
//! are printed field by field and the exit status is 1.

use crate::args::{stack_config, UpArgs};
use crate::output::{print_event, print_fault, print_frame, say, say_text};
use clap::{Args, Parser};
use device::replay::{self, Event, Frame, Recording, ReplayDevice};
use device::{Clock, Device, Direction, NetLoop, Tracer};
use stack::tcp::TcpProbe;
use stack::EventKind;
use stack::{Duration, Instant, Stack};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use synack_apps::ladder::LadderFrame;
use synack_apps::ping::PingJob;
use synack_apps::reactor::Reactor;
use synack_apps::shell::{Action, Shell};

#[derive(Args)]
pub struct ReplayArgs {
    /// A recording directory (`synack up --record DIR`), or a pcap file.
    path: PathBuf,
    /// Compare what the stack sends with what it sent when recorded; exit 1
    /// with a field-by-field diff if anything differs.
    #[arg(long)]
    check: bool,
    /// Print a line per frame in and out (the default without --check).
    #[arg(long)]
    frames: bool,
    /// Also print the stack's trace events under the frames.
    #[arg(short, long)]
    verbose: bool,
    /// Print TCP sequence numbers as they are (tcpdump's -S).
    #[arg(short = 'S', long = "absolute-tcp-sequence-numbers")]
    absolute: bool,
    /// Mismatches to print at most with --check.
    #[arg(long, default_value_t = 5)]
    max_diffs: usize,
}

/// `up`'s arguments alone, to parse a recording's `arg` lines.
#[derive(Parser)]
#[command(name = "synack up")]
struct Up {
    #[command(flatten)]
    up: UpArgs,
}

/// What a replay found.
pub struct Outcome {
    pub frames_in: usize,
    /// The host's frames, as captured.
    pub inbound: Vec<Frame>,
    /// The stack's frames as captured, and as the replay sent them.
    pub recorded: Vec<Frame>,
    pub replayed: Vec<Frame>,
    /// What the stack itself received and sent, above the fault script (a
    /// frame the script dropped is here and not on the wire), and its TCP
    /// state changes, in the order they happened.
    pub at_stack: Vec<Seen>,
}

type Log = Rc<RefCell<Vec<Seen>>>;

/// One thing the stack did, as a replay sees it.
pub enum Seen {
    Frame(Direction, Frame),
    /// A TCP connection (local, remote) entered a state.
    State(SocketAddrV4, SocketAddrV4, &'static str),
    /// The applications run (what they change comes after the frames).
    Apps,
}

/// `10.0.0.2:23 10.0.0.1:5000: LISTEN -> SYN_RECEIVED` (tcp/output.rs
/// `set_state`) as (local, remote, new state).
fn parse_state_event(text: &str) -> Option<(SocketAddrV4, SocketAddrV4, &'static str)> {
    let (addrs, change) = text.split_once(": ")?;
    let (l, r) = addrs.split_once(' ')?;
    let (_, new) = change.split_once(" -> ")?;
    Some((l.parse().ok()?, r.parse().ok()?, synack_apps::step::state_name(new)?))
}

pub fn replay(a: ReplayArgs) -> io::Result<ExitCode> {
    let (rec, capture, dynamic) = load(&a.path)?;
    let up = Up::try_parse_from(std::iter::once("up".to_string()).chain(rec.args.iter().cloned()))
        .map_err(|e| io::Error::other(format!("the recorded arguments do not parse: {e}")))?
        .up;
    let show_frames = a.frames || a.verbose || !a.check;
    synack_apps::frames::set_absolute(a.absolute || up.iface.absolute);
    let out = run(&rec, &capture, dynamic, &up, show_frames, a.verbose, None)?;
    if !a.check {
        return Ok(ExitCode::SUCCESS);
    }
    let mismatches = replay::compare(&out.recorded, &out.replayed);
    let what = format!(
        "{} frames in, {} out recorded, {} out replayed",
        out.frames_in,
        out.recorded.len(),
        out.replayed.len()
    );
    if mismatches.is_empty() {
        say(format!("replay: {}: {what}: every frame out is byte-equal", a.path.display()));
        return Ok(ExitCode::SUCCESS);
    }
    say(format!("replay: {}: {what}: {} frame(s) differ", a.path.display(), mismatches.len()));
    for m in mismatches.iter().take(a.max_diffs) {
        say_text(&m.to_string());
    }
    if mismatches.len() > a.max_diffs {
        say(format!("… and {} more", mismatches.len() - a.max_diffs));
    }
    Ok(ExitCode::FAILURE)
}

/// The recording and the capture's path; for a bare pcap, a recording with
/// the default arguments, its first frame as time zero, and no turns
/// (`dynamic`: a turn at each frame and each deadline).
fn load(path: &Path) -> io::Result<(Recording, PathBuf, bool)> {
    if path.is_dir() {
        let rec = Recording::load(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.join(replay::SIDECAR).display())))?;
        return Ok((rec, path.join(replay::CAPTURE), false));
    }
    let first = device::PcapReader::open(path)?.next().transpose()?;
    let epoch = first.map(|f| f.timestamp).unwrap_or_default();
    let rec = Recording { ifname: "tap0".into(), epoch, ident: 1, ..Recording::default() };
    Ok((rec, path.to_path_buf(), true))
}

/// Replay `rec` over the frames of `capture`.
pub fn run(
    rec: &Recording,
    capture: &Path,
    dynamic: bool,
    up: &UpArgs,
    show_frames: bool,
    verbose: bool,
    mut probes: Option<&mut dyn FnMut(&TcpProbe)>,
) -> io::Result<Outcome> {
    // GRO as the recorded run had it (main.rs `start`).
    let config = stack::Config { gro: up.iface.gro_on(!up.quiet), ..stack_config(&up.iface) };
    let (inbound, recorded) = replay::split_capture(capture, config.mac, rec.epoch)?;
    let frames_in = inbound.len();
    let last_frame = inbound.last().map(|f| f.at);
    let host = ReplayDevice::new(inbound.clone());
    let sent = host.sent();

    // The same middleware as `up` (build_device), over the replay device.
    let mut dev: Box<dyn Device> = Box::new(host);
    if let Some(spec) = up.iface.link.clone() {
        dev = Box::new(device::Lossy::new(dev, spec)); // seeded: the same faults again
    }
    if let Some(script) = up.iface.faults.clone().filter(|s| !s.is_empty()) {
        let mut d = device::Scripted::new(dev, script);
        if show_frames {
            d = d.on_fault(print_fault);
        }
        dev = Box::new(d);
    }
    let at_stack: Log = Rc::default();
    let seen = at_stack.clone();
    dev = Box::new(Tracer::new(dev, move |dir, at, data: &[u8]| {
        seen.borrow_mut().push(Seen::Frame(dir, Frame { at, data: data.to_vec() }));
        if show_frames {
            print_frame(dir, at, data);
        }
    }));
    // The trace is on either way: its state changes go into `at_stack`.
    let mut stack = Stack::new(config, rec.start);
    stack.trace_mut().set_enabled(true);
    // `synack plot`: the `tcp_probe` samples, handed on after each step.
    stack.tcp_probe_mut().set_enabled(probes.is_some());
    let mut net = NetLoop::with_stack(dev, stack, Clock::new());
    let mut drain = |stack: &mut Stack| {
        if let Some(sink) = probes.as_mut() {
            while let Some(p) = stack.poll_probe() {
                sink(&p);
            }
        }
    };
    let seen = at_stack.clone();
    net.on_event(move |ev| {
        if ev.kind == EventKind::TcpState {
            if let Some((l, r, st)) = parse_state_event(&ev.text) {
                seen.borrow_mut().push(Seen::State(l, r, st));
            }
        }
        if verbose {
            print_event(ev);
        }
    });

    let (reactor, errors) = Reactor::with_services(&mut net.stack, rec.start, &rec.ifname);
    if let Some(e) = errors.first() {
        return Err(io::Error::other(format!("service not started: {e}")));
    }
    up.tcp.apply(&mut net.stack).map_err(io::Error::other)?;
    net.transmit(rec.start); // the gratuitous ARP
    drain(&mut net.stack);
    let mut apps = Apps { reactor, shell: Shell::new(&rec.ifname, rec.ident), ping: None, print: show_frames };

    if dynamic {
        // A turn whenever something is due: the next frame, a timer of the
        // stack, the device or a service. Bounded: past the last frame,
        // only as long as TCP could still be retransmitting.
        let end = last_frame.unwrap_or(rec.start) + Duration::from_secs(300);
        for _ in 0..10_000_000 {
            let due = [net.stack.poll_timeout(), net.device().poll_at(), apps.poll_at()].into_iter().flatten().min();
            let Some(t) = due.filter(|&t| t <= end) else { break };
            turn(&mut net, &mut apps, t, &at_stack)?;
            drain(&mut net.stack);
        }
    } else {
        for ev in &rec.events {
            match ev {
                Event::Turn(t) => turn(&mut net, &mut apps, *t, &at_stack)?,
                Event::Line(t, line) => {
                    at_stack.borrow_mut().push(Seen::Apps);
                    apps.line(&mut net.stack, *t, line);
                    net.transmit(*t);
                }
                Event::Close(t) => {
                    apps.reactor.close(&mut net.stack, *t);
                    net.transmit(*t);
                    drain(&mut net.stack);
                    break;
                }
            }
            drain(&mut net.stack);
        }
    }
    drop(net);
    let replayed = sent.borrow().clone();
    let at_stack = std::mem::take(&mut *at_stack.borrow_mut());
    Ok(Outcome { frames_in, inbound, recorded, replayed, at_stack })
}

/// One turn as `up` runs it: the turn's frames, timers and transmit, then
/// the services, then what they queued goes out (live, the next
/// `poll_once` sends it before it sleeps, microseconds later: a fault
/// script that delays it counts from then).
fn turn(net: &mut NetLoop<Box<dyn Device>>, apps: &mut Apps, now: Instant, log: &Log) -> io::Result<()> {
    net.run_turn(now, true)?;
    log.borrow_mut().push(Seen::Apps);
    apps.after_turn(&mut net.stack, now);
    net.transmit(now);
    Ok(())
}

/// The applications `up` runs between turns: the services' reactor, the
/// prompt and its ping.
struct Apps {
    reactor: Reactor,
    shell: Shell,
    ping: Option<PingJob>,
    print: bool,
}

impl Apps {
    fn poll_at(&self) -> Option<Instant> {
        stack::time::earliest(self.ping.as_ref().and_then(|p| p.poll_at()), self.reactor.poll_at())
    }

    fn after_turn(&mut self, stack: &mut Stack, now: Instant) {
        self.reactor.run_once(stack, now);
        if let Some(job) = self.ping.as_mut() {
            job.poll(stack, now);
            let lines = job.take_lines();
            if job.is_done() {
                self.ping = None;
            }
            self.show(lines);
        }
    }

    fn line(&mut self, stack: &mut Stack, now: Instant, line: &str) {
        if self.print {
            say(format!("{:>11} $ {line}", now.to_string()));
        }
        let r = self.shell.execute(line, stack, now);
        if self.print {
            say_text(&r.text);
        }
        if let Action::Ping(mut job) = r.action {
            self.show(job.take_lines());
            self.ping = Some(job);
        }
    }

    fn show(&self, lines: Vec<String>) {
        if self.print {
            for l in lines {
                say(l);
            }
        }
    }
}

/// The frames of a recording for a ladder diagram, as the stack met them:
/// each frame it received or sent, in that order and at that time, with the
/// state of its end after it (from its own trace, not inferred); a frame it
/// sent that the fault script dropped is marked lost, and a frame of the
/// host's that the script dropped before the stack got it is put in at its
/// time on the wire, marked lost.
pub fn ladder_frames(dir: &Path) -> io::Result<Vec<LadderFrame>> {
    let (rec, capture, dynamic) = load(dir)?;
    let up = Up::try_parse_from(std::iter::once("up".to_string()).chain(rec.args.iter().cloned()))
        .map_err(|e| io::Error::other(format!("the recorded arguments do not parse: {e}")))?
        .up;
    let out = run(&rec, &capture, dynamic, &up, false, false, None)?;

    // Take a frame equal to `data` from `pool`, in any order (a delay or a
    // reorder moves frames, a drop removes them).
    fn take(pool: &mut Vec<Frame>, data: &[u8]) -> bool {
        match pool.iter().position(|f| f.data == data) {
            Some(i) => {
                pool.remove(i);
                true
            }
            None => false,
        }
    }
    let mut wire_out = out.replayed;
    let mut never_delivered = out.inbound;
    let mut states: HashMap<(SocketAddrV4, SocketAddrV4), &'static str> = HashMap::new();
    let mut v: Vec<LadderFrame> = Vec::new();
    // The frame whose state is not settled yet: its state is its end's
    // after the state changes it caused, before the next frame or the
    // applications' turn.
    let mut open: Option<(usize, Direction)> = None;
    let settle = |v: &mut Vec<LadderFrame>, open: Option<(usize, Direction)>, states: &HashMap<_, _>| {
        if let Some((i, dir)) = open {
            v[i].stack_state = tuple(&v[i].data, dir).and_then(|k| states.get(&k).copied());
        }
    };
    for seen in out.at_stack {
        match seen {
            Seen::State(l, r, st) => {
                states.insert((l, r), st);
            }
            Seen::Apps => settle(&mut v, open.take(), &states),
            Seen::Frame(dir, f) => {
                settle(&mut v, open.take(), &states);
                let stack_sent = dir == Direction::Out;
                let lost = if stack_sent {
                    !take(&mut wire_out, &f.data)
                } else {
                    take(&mut never_delivered, &f.data);
                    false
                };
                v.push(LadderFrame { t_us: f.at.total_micros(), data: f.data, lost, stack_sent, stack_state: None });
                open = Some((v.len() - 1, dir));
            }
        }
    }
    settle(&mut v, open, &states);
    for f in never_delivered {
        let t_us = f.at.total_micros();
        let at = v.iter().position(|x| x.t_us > t_us).unwrap_or(v.len());
        v.insert(at, LadderFrame { t_us, data: f.data, lost: true, stack_sent: false, stack_state: None });
    }
    Ok(v)
}

/// `synack plot`'s replay (plot/cmd.rs): replay `path` (a recording or a
/// pcap, as `synack replay` takes them) quietly, with every `tcp_probe`
/// sample handed to `sink` as it is taken.
pub fn probes(path: &Path, sink: &mut dyn FnMut(&TcpProbe)) -> io::Result<()> {
    let (rec, capture, dynamic) = load(path)?;
    let up = Up::try_parse_from(std::iter::once("up".to_string()).chain(rec.args.iter().cloned()))
        .map_err(|e| io::Error::other(format!("the recorded arguments do not parse: {e}")))?
        .up;
    run(&rec, &capture, dynamic, &up, false, false, Some(sink))?;
    Ok(())
}

/// A TCP frame's (local, remote) seen from the stack.
fn tuple(frame: &[u8], dir: Direction) -> Option<(SocketAddrV4, SocketAddrV4)> {
    let t = synack_apps::ladder::parse_tcp(frame)?;
    Some(if dir == Direction::Out { (t.src, t.dst) } else { (t.dst, t.src) })
}
