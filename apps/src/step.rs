//! Step mode: `synack up --step`, or `step on` at the prompt.
//!
//! Read first: a debugger's single step and breakpoints (gdb's `next`,
//! `continue`, `break`), and the kernel's `tcp_v4_rcv` / `tcp_transmit_skb`.
//! Linux has no such thing: its TCP runs in softirq context and cannot wait
//! for a person. The closest is `perf trace` / `bpftrace` on the tracepoints
//! `tcp:tcp_probe` and `sock:inet_sock_set_state`, which *show* each segment
//! with the socket's `snd_una`, `snd_nxt`, `snd_cwnd`, `srtt`… but never stop
//! it. A userspace stack can stop it.
//!
//! How it works:
//!
//! ```text
//!   wire ──► StepDevice::recv ──► held (a copy) ───────┐  (a TCP segment,
//!                 │ anything else: straight on          │   stepping on,
//!                 ▼                                     │   not exempt)
//!             NetLoop ─► Stack::handle_frame            │
//!                                                       ▼
//!   StepCtl::run, between turns ("process context"):  pop one held frame,
//!     show it: the tcpdump line and the TCB as it is ("before"), freeze
//!     the clock, wait for a key.  Enter: in  → Stack::handle_frame, show
//!     the trace events it caused and the TCB "after" (changes marked);
//!                                        out → on to the wire.
//!   Stack::poll_transmit ─► StepDevice::send ─► held (the stack's replies
//!     are stepped too, in order) or straight on.
//! ```
//!
//! - The clock (`device::Clock::freeze`) stands still while a segment waits
//!   for the user: no timer of the stack comes due during the pause, and
//!   on thaw time resumes from where it stopped (no burst of timers). The
//!   loop keeps running (stdin, the signal pipe and the TAP stay in ppoll),
//!   so the prompt and a controlling telnet session keep working.
//! - Only TCP is stepped: ARP, ICMP, UDP and IP fragments pass untouched
//!   (they would only get in the way of the handshake you came to watch).
//! - `step on` typed over telnet makes that session the controller: it gets
//!   the step output and drives it with the same keys, and its own
//!   connection is exempt (stepping the segments that carry your keys
//!   would wait forever).
//! - An outbound segment is shown with the TCB as it is: the stack counted
//!   it when it built it (`snd_nxt` has moved); the step holds its way out.
//! - At most `MAX_HELD` frames wait; beyond that a frame is dropped and
//!   counted (like a full NIC ring), and TCP retransmits it.
//!
//! Keys while stepping: Enter (or `n`) next, `c` continue until a
//! breakpoint, `b FILTER` break on `port N`, `syn`, `fin`, `rst`, `ack`,
//! `data`, `host A.B.C.D` or `state NAME` (a segment of a connection in that
//! state, or one that moves it there), `b` lists, `b clear`, `step off`.
//! Any other line is a prompt command (`ss`, `netstat -l` while paused).

use crate::ladder::{parse_tcp, ACK, FIN, PSH, RST, SYN};
use crate::reactor::Reactor;
use device::{Device, Direction, NetLoop};
use stack::tcp::{TcpInfo, TcpState};
use stack::{Duration, Instant, SkBuff, SocketHandle, Stack, TraceEvent};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::io::RawFd;
use std::rc::Rc;

/// Frames held at most (both directions); more are dropped and counted.
pub const MAX_HELD: usize = 1024;
/// The prompt while a segment waits.
pub const STEP_PROMPT: &str = "step> ";

pub const KEYS: &str = "\
step keys: Enter = next segment, c = continue (to a breakpoint), b FILTER = break on
  port N | syn | fin | rst | ack | data | host A.B.C.D | state NAME (e.g. b state TIME_WAIT),
  b = list breakpoints, b clear, step off; any other line is a prompt command (ss, netstat -l)
";

// ----------------------------------------------------------------- segments

/// The TCP header fields step mode looks at.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub flags: u8,
    pub len: u32,
}

impl Seg {
    pub fn parse(frame: &[u8]) -> Option<Seg> {
        let (src, dst, flags, _seq, _ack, len, _win) = parse_tcp(frame)?;
        Some(Seg { src, dst, flags, len })
    }
    /// (local, remote) as the stack sees the connection.
    pub fn ends(&self, dir: Direction) -> (SocketAddrV4, SocketAddrV4) {
        match dir {
            Direction::In => (self.dst, self.src),
            Direction::Out => (self.src, self.dst),
        }
    }
}

// -------------------------------------------------------------- breakpoints

/// One breakpoint: what `b FILTER` parses into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Either end's port.
    Port(u16),
    /// Any of these flag bits set (`syn`, `fin`, `rst`, `ack`, `psh`).
    Flag(u8),
    /// Carries payload.
    Data,
    /// Either end's address.
    Host(Ipv4Addr),
    /// The connection is in this state (RFC 9293 spelling), or the segment
    /// moves it there.
    State(&'static str),
}

/// A state name in RFC 9293's or netstat's spelling (`time-wait`,
/// `SYN_RECV`, `fin_wait1`…) to RFC 9293's.
pub fn state_name(s: &str) -> Option<&'static str> {
    TcpState::parse(s).map(TcpState::rfc_name)
}

impl Filter {
    /// `port 23`, `syn`, `fin`, `rst`, `ack`, `psh`, `data`, `host 10.0.0.1`, `state TIME_WAIT`.
    pub fn parse(words: &[&str]) -> Result<Filter, String> {
        let flag = |f| Ok(Filter::Flag(f));
        match words {
            ["port", p] => p.parse().map(Filter::Port).map_err(|_| format!("bad port {p:?}")),
            ["syn"] => flag(SYN),
            ["fin"] => flag(FIN),
            ["rst"] => flag(RST),
            ["ack"] => flag(ACK),
            ["psh"] => flag(PSH),
            ["data"] => Ok(Filter::Data),
            ["host", h] => h.parse().map(Filter::Host).map_err(|_| format!("bad address {h:?}")),
            ["state", s] => state_name(s)
                .map(Filter::State)
                .ok_or(format!("unknown state {s:?} (one of {})", TcpState::ALL.map(TcpState::rfc_name).join(" "))),
            _ => Err(format!("unknown filter {:?}", words.join(" "))),
        }
    }

    /// Does the segment match, given its connection's state before and
    /// (for an inbound segment already processed) after?
    pub fn matches(&self, seg: &Seg, before: &str, after: Option<&str>) -> bool {
        match *self {
            Filter::Port(p) => seg.src.port() == p || seg.dst.port() == p,
            Filter::Flag(f) => seg.flags & f != 0,
            Filter::Data => seg.len > 0,
            Filter::Host(h) => *seg.src.ip() == h || *seg.dst.ip() == h,
            Filter::State(s) => before == s || after == Some(s),
        }
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Filter::Port(p) => write!(f, "port {p}"),
            Filter::Flag(b) => {
                let name = [(SYN, "syn"), (FIN, "fin"), (RST, "rst"), (ACK, "ack"), (PSH, "psh")]
                    .iter()
                    .find(|(bit, _)| bit == b)
                    .map_or("flag", |x| x.1);
                f.write_str(name)
            }
            Filter::Data => f.write_str("data"),
            Filter::Host(h) => write!(f, "host {h}"),
            Filter::State(s) => write!(f, "state {s}"),
        }
    }
}

// ---------------------------------------------------------------- the TCB

/// A connection's control block as step mode shows it: named fields in
/// lines, so that two of them can be compared field by field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tcb {
    /// RFC 9293's state name; `CLOSED` when there is no socket.
    pub state: &'static str,
    /// Lines of (name, value).
    pub lines: Vec<Vec<(&'static str, String)>>,
}

fn ms(d: Duration) -> String {
    let us = d.as_micros();
    if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{:.3}ms", us as f64 / 1000.0)
    }
}

impl Tcb {
    /// The connection `(local, remote)` in `infos`, with the queues of the
    /// listener on its local port; the listener alone if the connection
    /// does not exist (yet).
    pub fn of(infos: &[TcpInfo], local: SocketAddrV4, remote: SocketAddrV4) -> Tcb {
        let conn = infos.iter().find(|i| i.local == local && i.remote == remote && i.state != TcpState::Listen);
        let listener = infos.iter().find(|i| i.state == TcpState::Listen && i.local.port() == local.port());
        let mut lines = Vec::new();
        let state = match (conn, listener) {
            (Some(c), _) => c.state.rfc_name(),
            (None, Some(_)) => "LISTEN",
            (None, None) => "CLOSED",
        };
        lines.push(vec![("state", state.to_string())]);
        if let Some(i) = conn {
            let n = |v: u32| v.to_string();
            lines.push(vec![
                ("iss", n(i.iss)),
                ("snd_una", n(i.snd_una)),
                ("snd_nxt", n(i.snd_nxt)),
                ("snd_wnd", i.snd_wnd.to_string()),
            ]);
            lines.push(vec![("irs", n(i.irs)), ("rcv_nxt", n(i.rcv_nxt)), ("rcv_wnd", i.rcv_wnd.to_string())]);
            // Like ss: no ssthresh until the first loss sets one.
            let ssthresh = if i.ssthresh < usize::MAX / 2 { i.ssthresh.to_string() } else { "-".to_string() };
            lines.push(vec![
                ("cc", i.congestion.to_string()),
                ("cwnd", i.cwnd.to_string()),
                ("ssthresh", ssthresh),
                ("srtt", ms(i.srtt)),
                ("rttvar", ms(i.rttvar)),
                ("rto", ms(i.rto)),
            ]);
            lines.push(vec![
                ("recv_q", i.recv_q.to_string()),
                ("send_q", i.send_q.to_string()),
                ("ofo", i.ofo_bytes.to_string()),
            ]);
        }
        if let Some(l) = listener {
            lines.push(vec![
                ("listener", l.local.to_string()),
                ("syn_queue", l.syn_queue.to_string()),
                ("accept_queue", l.accept_queue.to_string()),
                ("backlog", l.backlog.to_string()),
            ]);
        }
        Tcb { state, lines }
    }

    /// Whether a connection (not just its listener) is shown.
    pub fn has_conn(&self) -> bool {
        self.get("iss").is_some()
    }

    /// The connection is gone (freed at CLOSED): say so, keep the listener.
    pub fn closed(&mut self) {
        self.state = "CLOSED";
        self.lines[0] = vec![("state", "CLOSED".to_string())];
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.lines.iter().flatten().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// How changed fields are marked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Style {
    /// Bold inverse video (a terminal).
    Ansi,
    /// `*name old->new` (a pipe, telnet).
    Plain,
}

/// The TCB as indented lines under `label` (`before:`, `after:`, `tcb:`);
/// with `prev`, the fields that differ from it are marked.
pub fn render_tcb(label: &str, tcb: &Tcb, prev: Option<&Tcb>, style: Style) -> String {
    let mut s = String::new();
    for (k, line) in tcb.lines.iter().enumerate() {
        let _ = write!(s, "    {:<8}", if k == 0 { label } else { "" });
        for (j, (name, value)) in line.iter().enumerate() {
            if j > 0 {
                s.push_str("  ");
            }
            let old = prev.map(|p| p.get(name));
            match old {
                Some(old) if old != Some(value.as_str()) => match (style, old) {
                    (Style::Ansi, _) => {
                        let _ = write!(s, "\x1b[1;7m{name} {value}\x1b[0m");
                    }
                    (Style::Plain, Some(old)) => {
                        let _ = write!(s, "*{name} {old}->{value}");
                    }
                    (Style::Plain, None) => {
                        let _ = write!(s, "*{name} {value}");
                    }
                },
                _ => {
                    let _ = write!(s, "{name} {value}");
                }
            }
        }
        s.push('\n');
    }
    s
}

/// Names of the fields that differ (or appeared) from `a` to `b`.
pub fn changed(a: &Tcb, b: &Tcb) -> Vec<&'static str> {
    b.lines.iter().flatten().filter(|(n, v)| a.get(n) != Some(v.as_str())).map(|(n, _)| *n).collect()
}

/// A trace event as `-v` prints it: `↳ text  [clause]`.
pub fn event_line(ev: &TraceEvent) -> String {
    if ev.rfc.is_empty() {
        format!("    ↳ {}\n", ev.text)
    } else {
        format!("    ↳ {}  [{}]\n", ev.text, ev.rfc)
    }
}

// ------------------------------------------------------------ the control

/// Who drives the stepping.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Who {
    Console,
    /// The telnet session on this socket.
    Telnet(SocketHandle),
}

/// A key (or command) for the stepper, queued by the prompt and carried
/// out by `StepCtl::run`, which has the loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    Next,
    Continue,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Mode {
    Off,
    /// Stop at every segment.
    Pause,
    /// Stop at a breakpoint only.
    Run,
}

struct Held {
    dir: Direction,
    frame: Vec<u8>,
    seg: Seg,
}

struct State {
    installed: bool,
    mode: Mode,
    who: Who,
    interactive: bool,
    style: Style,
    /// The controller's own connection (local, remote): never stepped.
    exempt: Option<(SocketAddrV4, SocketAddrV4)>,
    held: VecDeque<Held>,
    /// The segment shown and waiting for a key.
    current: Option<Held>,
    /// The TCB shown as `before:` with the current segment.
    shown: Option<Tcb>,
    cmds: VecDeque<Cmd>,
    breaks: Vec<Filter>,
    out: String,
    /// Set while StepCtl itself sends a released frame through the device.
    releasing: bool,
    steps: u64,
    dropped: u64,
    trace_was: bool,
}

/// The step controller, shared by the device middleware that holds frames,
/// the prompts that send keys and the loop that runs the steps.
#[derive(Clone)]
pub struct StepCtl(Rc<RefCell<State>>);

impl Default for StepCtl {
    fn default() -> Self {
        StepCtl::new()
    }
}

impl StepCtl {
    pub fn new() -> StepCtl {
        StepCtl(Rc::new(RefCell::new(State {
            installed: false,
            mode: Mode::Off,
            who: Who::Console,
            interactive: false,
            style: Style::Plain,
            exempt: None,
            held: VecDeque::new(),
            current: None,
            shown: None,
            cmds: VecDeque::new(),
            breaks: Vec::new(),
            out: String::new(),
            releasing: false,
            steps: 0,
            dropped: 0,
            trace_was: false,
        })))
    }

    /// Wrap a device: its TCP frames are held while stepping.
    pub fn device<D: Device>(&self, inner: D) -> StepDevice<D> {
        self.0.borrow_mut().installed = true;
        StepDevice { inner, ctl: self.clone() }
    }

    /// Put a `StepDevice` around `dev` in place.
    pub fn install(&self, dev: &mut Box<dyn Device>) {
        wrap_device(dev, |d| Box::new(self.device(d)));
    }

    pub fn active(&self) -> bool {
        self.0.borrow().mode != Mode::Off
    }
    /// A segment is shown and waits for a key.
    pub fn pending(&self) -> bool {
        self.0.borrow().current.is_some()
    }
    /// Frames held behind the pending one.
    pub fn held(&self) -> usize {
        self.0.borrow().held.len()
    }
    pub fn controller(&self) -> Option<Who> {
        let st = self.0.borrow();
        (st.mode != Mode::Off).then_some(st.who)
    }
    pub fn breakpoints(&self) -> Vec<Filter> {
        self.0.borrow().breaks.clone()
    }

    /// Start stepping, driven by `who`; `exempt` is its own connection.
    /// Tracing is switched on (the step shows the events) until `stop`.
    pub fn start(
        &self,
        who: Who,
        exempt: Option<(SocketAddrV4, SocketAddrV4)>,
        interactive: bool,
        style: Style,
        stack: &mut Stack,
    ) -> String {
        let mut st = self.0.borrow_mut();
        if !st.installed {
            return "step: not available here (no stepping device on this loop)\n".to_string();
        }
        if st.mode == Mode::Off {
            st.trace_was = stack.trace_mut().enabled();
        }
        stack.trace_mut().set_enabled(true);
        let took_over = st.mode != Mode::Off && st.who != who;
        st.mode = Mode::Pause;
        st.who = who;
        st.exempt = exempt;
        st.interactive = interactive;
        st.style = style;
        let mut s = String::from(
            "step mode on: each TCP segment waits before the stack (in, <) or the wire (out, >) sees it\n",
        );
        if took_over {
            s.push_str("(control moves here)\n");
        }
        if exempt.is_some() {
            s.push_str("(this session's own connection is not stepped)\n");
        }
        s.push_str(KEYS);
        s
    }

    /// Stop stepping: what is held goes on at the next `run`.
    pub fn stop(&self, stack: &mut Stack) -> String {
        let mut st = self.0.borrow_mut();
        if st.mode == Mode::Off {
            return "step mode is off\n".to_string();
        }
        st.mode = Mode::Off;
        stack.trace_mut().set_enabled(st.trace_was);
        let n = st.held.len() + st.current.is_some() as usize;
        format!("step mode off: {n} held segment(s) go on\n")
    }

    /// `step` alone: where things are.
    pub fn status(&self) -> String {
        let st = self.0.borrow();
        let mut s = match st.mode {
            Mode::Off => "step mode off\n".to_string(),
            Mode::Pause => "step mode on: stopping at every TCP segment\n".to_string(),
            Mode::Run => "step mode on: continuing to a breakpoint\n".to_string(),
        };
        let _ = writeln!(
            s,
            "  {} step(s), {} waiting, {} held, {} dropped (queue full)",
            st.steps,
            st.current.is_some() as usize,
            st.held.len(),
            st.dropped
        );
        s.push_str(&list_breaks(&st.breaks));
        s
    }

    /// Queue a key; `run` carries it out.
    pub fn command(&self, cmd: Cmd) {
        self.0.borrow_mut().cmds.push_back(cmd);
    }

    /// A line typed by `who` while stepping: the step keys are taken (the
    /// answer comes from `run`, or is the returned text); anything else is
    /// `None`, for the prompt.
    pub fn intercept(&self, who: Who, line: &str) -> Option<String> {
        let mut st = self.0.borrow_mut();
        if st.mode == Mode::Off || st.who != who {
            return None;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] | ["n"] | ["next"] if st.current.is_some() => st.cmds.push_back(Cmd::Next),
            [] => return None,
            ["c"] | ["continue"] => st.cmds.push_back(Cmd::Continue),
            ["b" | "break"] => return Some(list_breaks(&st.breaks) + &prompt_after(&st)),
            ["b" | "break", "clear"] => {
                st.breaks.clear();
                return Some("breakpoints cleared\n".to_string() + &prompt_after(&st));
            }
            ["b" | "break", rest @ ..] => {
                let text = match Filter::parse(rest) {
                    Ok(f) => {
                        st.breaks.push(f.clone());
                        format!("breakpoint {}: {f}\n", st.breaks.len())
                    }
                    Err(e) => format!("b: {e}\n{KEYS}"),
                };
                return Some(text + &prompt_after(&st));
            }
            ["h"] if st.current.is_some() => return Some(KEYS.to_string() + &prompt_after(&st)),
            _ => return None,
        }
        Some(String::new())
    }

    /// Output waiting for the controller, taken.
    pub fn take_output(&self) -> (Who, String) {
        let mut st = self.0.borrow_mut();
        (st.who, std::mem::take(&mut st.out))
    }

    /// Output waiting for `who`, taken (none if `who` is not the controller).
    pub fn take_output_for(&self, who: Who) -> String {
        let mut st = self.0.borrow_mut();
        if st.who == who {
            std::mem::take(&mut st.out)
        } else {
            String::new()
        }
    }

    /// Should this frame be held? (Called by `StepDevice`.)
    fn hold(&self, dir: Direction, frame: &[u8]) -> bool {
        let mut st = self.0.borrow_mut();
        if st.mode == Mode::Off || st.releasing {
            return false;
        }
        let Some(seg) = Seg::parse(frame) else { return false };
        if st.exempt == Some(seg.ends(dir)) {
            return false;
        }
        if st.held.len() >= MAX_HELD {
            st.dropped += 1;
            return true; // dropped: TCP will send it again
        }
        st.held.push_back(Held { dir, frame: frame.to_vec(), seg });
        true
    }

    /// One turn of `synack up`'s loop: `run`, then let the reactor serve
    /// what the steps made ready, and repeat while that makes progress.
    /// Returns the text for the console; a telnet controller's session is
    /// woken to send its text.
    pub fn turn<D: Device>(&self, net: &mut NetLoop<D>, reactor: &mut Reactor) -> String {
        // A controlling session that has gone: stepping ends.
        let gone = {
            let st = self.0.borrow();
            match (st.mode, st.who, st.exempt) {
                (Mode::Off, ..) => false,
                (_, Who::Telnet(sock), Some((_, remote))) => net.stack.getpeername(sock) != Ok(remote),
                _ => false,
            }
        };
        let mut console = String::new();
        if gone {
            console.push_str("step: the controlling telnet session has gone\n");
            console.push_str(&self.stop(&mut net.stack));
        }
        for _ in 0..8 {
            if !self.run(net) {
                break;
            }
            let now = net.now();
            reactor.run_once(&mut net.stack, now);
            net.transmit(now);
        }
        match self.take_output() {
            (Who::Console, text) => console.push_str(&text),
            (Who::Telnet(sock), text) if !text.is_empty() => {
                self.0.borrow_mut().out = text; // the session takes it when it runs
                let now = net.now();
                reactor.wake_socket(&mut net.stack, now, sock);
            }
            _ => {}
        }
        console
    }

    /// Carry out the queued keys and step the held frames, until one waits
    /// for a key or none is left. Returns whether anything was done.
    pub fn run<D: Device>(&self, net: &mut NetLoop<D>) -> bool {
        let mut progressed = false;
        let mut printed = false;
        // A step shown unasked lands after a prompt: start on a new line.
        let mut keyed = false;
        loop {
            let cmd = self.0.borrow_mut().cmds.pop_front();
            if let Some(cmd) = cmd {
                keyed = true;
                if cmd == Cmd::Continue {
                    let mut st = self.0.borrow_mut();
                    if st.mode != Mode::Off {
                        st.mode = Mode::Run;
                        let n = st.breaks.len();
                        let _ = writeln!(st.out, "continuing ({n} breakpoint(s))");
                        printed = true;
                    }
                }
                let current = self.0.borrow_mut().current.take();
                if let Some(h) = current {
                    self.execute(net, h, None);
                    progressed = true;
                    printed = true;
                }
                continue;
            }
            let mode = self.0.borrow().mode;
            if mode == Mode::Off {
                // Everything held goes on, in order, unshown.
                loop {
                    let h = {
                        let mut st = self.0.borrow_mut();
                        st.current.take().or_else(|| st.held.pop_front())
                    };
                    let Some(h) = h else { break };
                    self.pass(net, h);
                    progressed = true;
                }
                net.clock_mut().thaw();
                return progressed;
            }
            if self.pending() {
                net.clock_mut().freeze();
                break;
            }
            let next = self.0.borrow_mut().held.pop_front();
            let Some(h) = next else {
                net.clock_mut().thaw();
                break;
            };
            progressed = true;
            let now = net.now();
            let before = Tcb::of(&net.stack.tcp_info(now), h.seg.ends(h.dir).0, h.seg.ends(h.dir).1);
            let hit = {
                let st = self.0.borrow();
                st.breaks.iter().position(|b| b.matches(&h.seg, before.state, None))
            };
            if mode == Mode::Pause || hit.is_some() {
                let mut st = self.0.borrow_mut();
                st.mode = Mode::Pause;
                st.steps += 1;
                let text = show(st.steps, &h, &before, hit.map(|i| (i + 1, &st.breaks[i])), st.style);
                if !keyed && !printed && st.interactive {
                    st.out.push('\n');
                }
                printed = true;
                st.out.push_str(&text);
                st.current = Some(h);
                st.shown = Some(before);
                drop(st);
                net.clock_mut().freeze();
                break;
            }
            // Continuing: step it unshown, unless it moves its connection
            // into a state a breakpoint waits for.
            printed |= self.execute(net, h, Some(before));
        }
        let mut st = self.0.borrow_mut();
        if printed && st.interactive {
            let p = prompt_after(&st);
            st.out.push_str(&p);
        }
        progressed
    }

    /// Send a held frame on its way without showing it.
    fn pass<D: Device>(&self, net: &mut NetLoop<D>, h: Held) {
        let now = net.now();
        match h.dir {
            Direction::In => {
                net.stack.handle_frame(now, SkBuff::from_frame(&h.frame));
                net.transmit(now);
            }
            Direction::Out => self.to_wire(net, now, &h.frame),
        }
    }

    fn to_wire<D: Device>(&self, net: &mut NetLoop<D>, now: Instant, frame: &[u8]) {
        self.0.borrow_mut().releasing = true;
        if net.dev.send(now, &SkBuff::from_frame(frame)).is_err() {
            // Like NetLoop::transmit: a refused frame is lost; TCP resends.
        }
        self.0.borrow_mut().releasing = false;
    }

    /// Process one held frame. `quiet_before`: it was not shown (continuing);
    /// it is shown after all if it reaches a state a breakpoint waits for.
    /// Returns whether it printed anything.
    fn execute<D: Device>(&self, net: &mut NetLoop<D>, h: Held, quiet_before: Option<Tcb>) -> bool {
        let now = net.now();
        let (local, remote) = h.seg.ends(h.dir);
        if h.dir == Direction::Out {
            self.to_wire(net, now, &h.frame);
            return false;
        }
        // Events from before this step go where they always go (the -v
        // printer, if any); the rest of the queue is this step's.
        net.flush_events();
        while net.stack.poll_event().is_some() {}
        let before = quiet_before.clone().unwrap_or_else(|| Tcb::of(&net.stack.tcp_info(now), local, remote));
        net.stack.handle_frame(now, SkBuff::from_frame(&h.frame));
        let mut events = String::new();
        while let Some(ev) = net.stack.poll_event() {
            events.push_str(&event_line(&ev));
        }
        let mut after = Tcb::of(&net.stack.tcp_info(now), local, remote);
        if before.has_conn() && !after.has_conn() {
            after.closed(); // freed at CLOSED: not the listener's LISTEN
        }
        let mut st = self.0.borrow_mut();
        let style = st.style;
        let printed = match quiet_before {
            None => {
                // While the segment waited, process context may have moved
                // the TCB (an accept, a send): show that apart, so `after:`
                // marks only what the segment did.
                if let Some(shown) = st.shown.take().filter(|s| *s != before) {
                    st.out.push_str("    (meanwhile the application ran)\n");
                    st.out.push_str(&render_tcb("now:", &before, Some(&shown), style));
                }
                st.out.push_str(&events);
                if after == before {
                    st.out.push_str("    after:  no change\n");
                } else {
                    st.out.push_str(&render_tcb("after:", &after, Some(&before), style));
                }
                true
            }
            Some(before) => {
                let hit = st
                    .breaks
                    .iter()
                    .position(|b| matches!(b, Filter::State(s) if *s == after.state && before.state != after.state));
                if let Some(i) = hit {
                    st.steps += 1;
                    let text = show(st.steps, &h, &before, Some((i + 1, &st.breaks[i])), style);
                    st.out.push_str(&text);
                    st.out.push_str(&events);
                    st.out.push_str(&render_tcb("after:", &after, Some(&before), style));
                    st.mode = Mode::Pause; // stop at the next segment
                }
                hit.is_some()
            }
        };
        drop(st);
        net.transmit(now);
        printed
    }
}

fn prompt_after(st: &State) -> String {
    if !st.interactive {
        String::new()
    } else if st.current.is_some() {
        STEP_PROMPT.to_string()
    } else {
        crate::telnetd::PROMPT.to_string()
    }
}

fn list_breaks(breaks: &[Filter]) -> String {
    if breaks.is_empty() {
        return "no breakpoints\n".to_string();
    }
    let mut s = String::new();
    for (i, b) in breaks.iter().enumerate() {
        let _ = writeln!(s, "breakpoint {}: {b}", i + 1);
    }
    s
}

/// The header of a step: `step 3  < IP 10.0.0.1.40000 > …`, the breakpoint
/// that stopped it, and the TCB as it is.
fn show(n: u64, h: &Held, tcb: &Tcb, hit: Option<(usize, &Filter)>, style: Style) -> String {
    let mut s = String::new();
    if let Some((i, f)) = hit {
        let _ = writeln!(s, "breakpoint {i} ({f})");
    }
    let _ = writeln!(s, "step {n}  {} {}", h.dir.marker(), crate::frames::line(&h.frame));
    let (local, remote) = h.seg.ends(h.dir);
    let _ = writeln!(s, "    tcb {local} {remote}");
    let label = if h.dir == Direction::In { "before:" } else { "now:" };
    s.push_str(&render_tcb(label, tcb, None, style));
    s
}

// ----------------------------------------------------------- the device

/// Device middleware: holds TCP frames in both directions while stepping.
pub struct StepDevice<D> {
    inner: D,
    ctl: StepCtl,
}

impl<D: Device> Device for StepDevice<D> {
    fn recv(&mut self, now: Instant) -> io::Result<Option<SkBuff>> {
        // Read everything that is there (a held frame is not returned, but
        // its fd must not stay readable), up to a bound per call.
        for _ in 0..MAX_HELD {
            let Some(skb) = self.inner.recv(now)? else { return Ok(None) };
            if !self.ctl.hold(Direction::In, skb.data()) {
                return Ok(Some(skb));
            }
        }
        Ok(None)
    }
    fn send(&mut self, now: Instant, skb: &SkBuff) -> io::Result<()> {
        if self.ctl.hold(Direction::Out, skb.data()) {
            return Ok(());
        }
        self.inner.send(now, skb)
    }
    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }
    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }
}

/// A device that is no device: the placeholder while `wrap_device` works.
struct NoDevice;

impl Device for NoDevice {
    fn recv(&mut self, _now: Instant) -> io::Result<Option<SkBuff>> {
        Ok(None)
    }
    fn send(&mut self, _now: Instant, _skb: &SkBuff) -> io::Result<()> {
        Ok(())
    }
}

/// Replace `dev` by `f(dev)`: add a middleware to a loop's device.
pub fn wrap_device(dev: &mut Box<dyn Device>, f: impl FnOnce(Box<dyn Device>) -> Box<dyn Device>) {
    let inner = std::mem::replace(dev, Box::new(NoDevice));
    *dev = f(inner);
}

/// Is standard output a terminal (ANSI highlighting)?
pub fn stdout_style() -> Style {
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(1) } == 1 {
        Style::Ansi
    } else {
        Style::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: &'static str, local: &str, remote: &str) -> TcpInfo {
        TcpInfo {
            handle: None,
            state: TcpState::parse(state).unwrap(),
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            recv_q: 0,
            send_q: 16,
            backlog: 16,
            syn_queue: 0,
            accept_queue: 0,
            iss: 100,
            irs: 0,
            snd_una: 100,
            snd_nxt: 101,
            snd_wnd: 0,
            rcv_nxt: 0,
            rcv_wnd: 65535,
            snd_wscale: 0,
            rcv_wscale: 0,
            mss: 1460,
            srtt: Duration::ZERO,
            rttvar: Duration::ZERO,
            rto: Duration::from_secs(1),
            cwnd: 14600,
            ssthresh: usize::MAX,
            congestion: "cubic",
            retransmits: 0,
            total_retrans: 0,
            in_recovery: false,
            ts_ok: false,
            sack_ok: false,
            sacked: 0,
            ofo_bytes: 0,
            timer: None,
        }
    }

    fn seg(flags: u8, len: u32) -> Seg {
        Seg { src: "10.0.0.1:40000".parse().unwrap(), dst: "10.0.0.2:23".parse().unwrap(), flags, len }
    }

    #[test]
    fn filters_parse_print_and_refuse_nonsense() {
        let p = |s: &str| Filter::parse(&s.split_whitespace().collect::<Vec<_>>());
        assert_eq!(p("port 23"), Ok(Filter::Port(23)));
        assert_eq!(p("syn"), Ok(Filter::Flag(SYN)));
        assert_eq!(p("fin"), Ok(Filter::Flag(FIN)));
        assert_eq!(p("rst"), Ok(Filter::Flag(RST)));
        assert_eq!(p("data"), Ok(Filter::Data));
        assert_eq!(p("host 10.0.0.1"), Ok(Filter::Host([10, 0, 0, 1].into())));
        assert_eq!(p("state TIME_WAIT"), Ok(Filter::State("TIME_WAIT")));
        assert_eq!(p("state time-wait"), Ok(Filter::State("TIME_WAIT")));
        assert_eq!(p("state SYN_RECV"), Ok(Filter::State("SYN_RECEIVED")));
        assert_eq!(p("state fin_wait1"), Ok(Filter::State("FIN_WAIT_1")));
        assert!(p("state NAPPING").unwrap_err().contains("unknown state"));
        assert!(p("port http").is_err());
        assert!(p("port 70000").is_err());
        assert!(p("urg").is_err());
        assert!(p("").is_err());
        for s in ["port 23", "syn", "fin", "rst", "ack", "data", "host 10.0.0.1", "state TIME_WAIT"] {
            assert_eq!(p(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn filters_match_ports_flags_data_and_states() {
        let syn = seg(SYN, 0);
        let data = seg(ACK | PSH, 10);
        assert!(Filter::Port(23).matches(&syn, "LISTEN", None));
        assert!(Filter::Port(40000).matches(&syn, "LISTEN", None));
        assert!(!Filter::Port(7).matches(&syn, "LISTEN", None));
        assert!(Filter::Flag(SYN).matches(&syn, "LISTEN", None));
        assert!(!Filter::Flag(FIN).matches(&syn, "LISTEN", None));
        assert!(!Filter::Data.matches(&syn, "LISTEN", None));
        assert!(Filter::Data.matches(&data, "ESTABLISHED", None));
        assert!(Filter::Host([10, 0, 0, 1].into()).matches(&syn, "LISTEN", None));
        assert!(!Filter::Host([10, 0, 0, 9].into()).matches(&syn, "LISTEN", None));
        // In that state, or moved into it.
        let tw = Filter::State("TIME_WAIT");
        assert!(tw.matches(&data, "TIME_WAIT", None));
        assert!(tw.matches(&data, "FIN_WAIT_2", Some("TIME_WAIT")));
        assert!(!tw.matches(&data, "FIN_WAIT_2", Some("FIN_WAIT_2")));
    }

    #[test]
    fn a_tcb_is_the_connection_or_its_listener() {
        let l = info("LISTEN", "0.0.0.0:23", "0.0.0.0:0");
        let c = info("SYN_RECEIVED", "10.0.0.2:23", "10.0.0.1:40000");
        let (local, remote) = ("10.0.0.2:23".parse().unwrap(), "10.0.0.1:40000".parse().unwrap());
        let before = Tcb::of(std::slice::from_ref(&l), local, remote);
        assert_eq!(before.state, "LISTEN");
        assert_eq!(before.get("iss"), None);
        assert_eq!(before.get("backlog"), Some("16"));
        let mut l2 = l.clone();
        l2.syn_queue = 1;
        let after = Tcb::of(&[l2, c], local, remote);
        assert_eq!(after.state, "SYN_RECEIVED");
        assert_eq!(after.get("ssthresh"), Some("-"));
        assert_eq!(after.get("cc"), Some("cubic"));
        assert_eq!(after.get("rto"), Some("1000ms"));
        let ch = changed(&before, &after);
        assert!(ch.contains(&"state") && ch.contains(&"syn_queue") && ch.contains(&"iss"), "{ch:?}");
        assert!(!ch.contains(&"backlog") && !ch.contains(&"accept_queue"), "{ch:?}");
        assert_eq!(Tcb::of(&[], local, remote).state, "CLOSED");
        // A connection freed by the step is CLOSED, not its listener's LISTEN.
        let mut gone = before.clone();
        assert!(after.has_conn() && !gone.has_conn());
        gone.closed();
        assert_eq!(gone.state, "CLOSED");
        assert!(render_tcb("after:", &gone, Some(&after), Style::Plain)
            .starts_with("    after:  *state SYN_RECEIVED->CLOSED\n"));
    }

    #[test]
    fn changed_fields_are_marked_in_either_style() {
        let (local, remote) = ("10.0.0.2:23".parse().unwrap(), "10.0.0.1:40000".parse().unwrap());
        let a = info("SYN_RECEIVED", "10.0.0.2:23", "10.0.0.1:40000");
        let mut b = a.clone();
        b.state = TcpState::Established;
        b.snd_una = 101;
        let (ta, tb) = (Tcb::of(&[a], local, remote), Tcb::of(&[b], local, remote));
        let plain = render_tcb("after:", &tb, Some(&ta), Style::Plain);
        assert!(plain.starts_with("    after:  *state SYN_RECEIVED->ESTABLISHED\n"), "{plain}");
        assert!(plain.contains("iss 100  *snd_una 100->101  snd_nxt 101"), "{plain}");
        assert_eq!(plain.matches('*').count(), 2, "only what changed: {plain}");
        let ansi = render_tcb("after:", &tb, Some(&ta), Style::Ansi);
        assert!(ansi.contains("\x1b[1;7mstate ESTABLISHED\x1b[0m"), "{ansi:?}");
        assert!(ansi.contains("\x1b[1;7msnd_una 101\x1b[0m"), "{ansi:?}");
        assert!(!ansi.contains("\x1b[1;7miss"), "{ansi:?}");
        // Without a previous TCB nothing is marked.
        let unmarked = render_tcb("before:", &ta, None, Style::Plain);
        assert!(!unmarked.contains('*') && unmarked.starts_with("    before: state SYN_RECEIVED\n"), "{unmarked}");
    }

    #[test]
    fn keys_are_taken_only_from_the_controller_while_stepping() {
        let ctl = StepCtl::new();
        let mut stack = Stack::new(stack::Config::default(), Instant::ZERO);
        assert!(ctl.start(Who::Console, None, false, Style::Plain, &mut stack).contains("not available"));
        let _dev = ctl.device(NoDevice);
        assert_eq!(ctl.intercept(Who::Console, "c"), None, "off: everything is a prompt command");
        assert!(ctl.start(Who::Console, None, false, Style::Plain, &mut stack).starts_with("step mode on"));
        assert!(stack.trace_mut().enabled());
        assert_eq!(ctl.intercept(Who::Telnet(stack::SocketHandle::Tcp(3)), "c"), None, "not the controller");
        assert_eq!(ctl.intercept(Who::Console, "ss"), None);
        assert_eq!(ctl.intercept(Who::Console, ""), None, "nothing waits: an empty line is nothing");
        assert_eq!(ctl.intercept(Who::Console, "b port 23").unwrap(), "breakpoint 1: port 23\n");
        assert_eq!(ctl.intercept(Who::Console, "b state time_wait").unwrap(), "breakpoint 2: state TIME_WAIT\n");
        assert!(ctl.intercept(Who::Console, "b bogus").unwrap().starts_with("b: unknown filter"));
        assert_eq!(ctl.intercept(Who::Console, "b").unwrap(), "breakpoint 1: port 23\nbreakpoint 2: state TIME_WAIT\n");
        assert_eq!(ctl.intercept(Who::Console, "c").unwrap(), "");
        assert_eq!(ctl.0.borrow().cmds.len(), 1);
        assert_eq!(ctl.intercept(Who::Console, "b clear").unwrap(), "breakpoints cleared\n");
        assert!(ctl.breakpoints().is_empty());
        assert!(ctl.stop(&mut stack).starts_with("step mode off"));
        assert!(!stack.trace_mut().enabled(), "tracing back as it was");
    }

    #[test]
    fn the_device_holds_tcp_only_and_never_the_exempt_connection() {
        let ctl = StepCtl::new();
        let mut stack = Stack::new(stack::Config::default(), Instant::ZERO);
        let mut dev = ctl.device(NoDevice);
        let exempt = ("10.0.0.2:23".parse().unwrap(), "10.0.0.1:5000".parse().unwrap());
        ctl.start(Who::Telnet(stack::SocketHandle::Tcp(1)), Some(exempt), true, Style::Plain, &mut stack);
        let tcp = |sport: u16, dport: u16| {
            let mut f = vec![0u8; 14 + 20 + 20];
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            f[14] = 0x45;
            f[16..18].copy_from_slice(&40u16.to_be_bytes());
            f[23] = 6;
            f[26..30].copy_from_slice(&[10, 0, 0, 2]);
            f[30..34].copy_from_slice(&[10, 0, 0, 1]);
            f[34..36].copy_from_slice(&sport.to_be_bytes());
            f[36..38].copy_from_slice(&dport.to_be_bytes());
            f[46] = 0x50;
            f[47] = SYN | ACK;
            SkBuff::from_frame(&f)
        };
        dev.send(Instant::ZERO, &tcp(23, 5000)).unwrap(); // the controller's own: passes
        assert_eq!(ctl.held(), 0);
        dev.send(Instant::ZERO, &tcp(23, 5001)).unwrap();
        assert_eq!(ctl.held(), 1);
        dev.send(Instant::ZERO, &SkBuff::from_frame(&[0xff; 60])).unwrap(); // not TCP
        assert_eq!(ctl.held(), 1);
        ctl.stop(&mut stack);
        dev.send(Instant::ZERO, &tcp(23, 5002)).unwrap();
        assert_eq!(ctl.held(), 1, "off: nothing more is held");
    }
}
