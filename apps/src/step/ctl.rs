//! Step mode's controller: `StepCtl` holds the TCP frames (`StepDevice`, the
//! device middleware), shows each with its TCB before and after, takes the
//! keys (`StepCtl::intercept`) and runs the steps between turns of the loop
//! (`StepCtl::turn`, `StepCtl::run`); `Waker` is what it needs of the
//! loop's services (the reactor, reactor.rs, implements it).
//!
//! Read first: step/mod.rs (how step mode works), and the kernel's
//! `tcp_v4_rcv` / `tcp_transmit_skb`, the two places a segment is stopped.

use super::filter::{Filter, Seg};
use super::tcb::{event_line, render_tcb, Style, Tcb};
use device::{Device, Direction, NetLoop};
use stack::{Instant, SkBuff, SocketHandle, Stack};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddrV4;
use std::os::unix::io::RawFd;
use std::rc::Rc;

/// Frames held at most (both directions); more are dropped and counted.
pub const MAX_HELD: usize = 1024;
/// The prompt while a segment waits.
pub const STEP_PROMPT: &str = "step> ";

/// The step keys, as `step on`, `h` and a bad `b` list them.
pub const KEYS: &str = "\
step keys: Enter = next segment, c = continue (to a breakpoint), b FILTER = break on
  port N | syn | fin | rst | ack | data | host A.B.C.D | state NAME (e.g. b state TIME_WAIT),
  b = list breakpoints, b clear, step off; any other line is a prompt command (ss, netstat -l)
";

// ------------------------------------------------------------ the control

/// What `StepCtl::turn` needs of the services next to the stack (the
/// reactor, reactor.rs, implements it): a turn of theirs, and a wake-up for
/// the telnet session that controls stepping when step output waits for it
/// (no socket event tells the session so).
pub trait Waker {
    /// Serve what is ready now (the reactor's `run_once`).
    fn run(&mut self, stack: &mut Stack, now: Instant);
    /// Run the session on `sock` now, as if its socket were ready.
    fn wake(&mut self, stack: &mut Stack, now: Instant, sock: SocketHandle);
}

/// Who drives the stepping.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Who {
    Console,
    /// The telnet session on this socket.
    Telnet(SocketHandle),
    /// The web page (`synack up --web-control`, apps/src/web/): its POSTs
    /// send the keys, its event stream shows the output. Every connection
    /// to this (local) port is exempt: a browser opens several, and
    /// stepping the one that carries the next key would wait forever.
    Web(u16),
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
    /// The controller's prompt (shell.rs), printed after step output when
    /// a person types the keys; `None` for a script.
    prompt: Option<&'static str>,
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
            prompt: None,
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
        device::wrap_device(dev, |d| Box::new(self.device(d)));
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

    /// Start stepping, driven by `who`; `exempt` is its own connection;
    /// `prompt` is its prompt if a person types the keys (printed after
    /// step output). Tracing is switched on (the step shows the events)
    /// until `stop`.
    pub fn start(
        &self,
        who: Who,
        exempt: Option<(SocketAddrV4, SocketAddrV4)>,
        prompt: Option<&'static str>,
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
        st.prompt = prompt;
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
        if matches!(st.who, Who::Web(port) if seg.ends(dir).0.port() == port) {
            return false;
        }
        if st.held.len() >= MAX_HELD {
            st.dropped += 1;
            return true; // dropped: TCP will send it again
        }
        st.held.push_back(Held { dir, frame: frame.to_vec(), seg });
        true
    }

    /// One turn of `synack up`'s loop: `run`, then let the services (the
    /// reactor) serve what the steps made ready, and repeat while that
    /// makes progress. Returns the text for the console; a telnet
    /// controller's session is woken to send its text.
    pub fn turn<D: Device>(&self, net: &mut NetLoop<D>, services: &mut impl Waker) -> String {
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
            services.run(&mut net.stack, now);
            net.transmit(now);
        }
        match self.take_output() {
            (Who::Console, text) => console.push_str(&text),
            (Who::Telnet(sock), text) if !text.is_empty() => {
                self.0.borrow_mut().out = text; // the session takes it when it runs
                let now = net.now();
                services.wake(&mut net.stack, now, sock);
            }
            // The web's state takes it after the turn (web/mod.rs, `Web::turn`).
            (Who::Web(_), text) if !text.is_empty() => self.0.borrow_mut().out = text,
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
                if !keyed && !printed && st.prompt.is_some() {
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
        if printed && st.prompt.is_some() {
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

/// The prompt that follows step output: none for a script, `step> ` while
/// a segment waits, else the controller's own.
fn prompt_after(st: &State) -> String {
    match st.prompt {
        None => String::new(),
        Some(_) if st.current.is_some() => STEP_PROMPT.to_string(),
        Some(prompt) => prompt.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use device::NullDevice;
    use stack::tcp::SeqNumber;
    use stack::wire::{TcpFlags, TcpRepr};

    #[test]
    fn keys_are_taken_only_from_the_controller_while_stepping() {
        let ctl = StepCtl::new();
        let mut stack = Stack::new(stack::Config::default(), Instant::ZERO);
        assert!(ctl.start(Who::Console, None, None, Style::Plain, &mut stack).contains("not available"));
        let _dev = ctl.device(NullDevice);
        assert_eq!(ctl.intercept(Who::Console, "c"), None, "off: everything is a prompt command");
        assert!(ctl.start(Who::Console, None, None, Style::Plain, &mut stack).starts_with("step mode on"));
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
        let mut dev = ctl.device(NullDevice);
        let exempt = ("10.0.0.2:23".parse().unwrap(), "10.0.0.1:5000".parse().unwrap());
        ctl.start(Who::Telnet(stack::SocketHandle::Tcp(1)), Some(exempt), Some("> "), Style::Plain, &mut stack);
        let tcp = |sport: u16, dport: u16| {
            let (src, dst) =
                (SocketAddrV4::new([10, 0, 0, 2].into(), sport), SocketAddrV4::new([10, 0, 0, 1].into(), dport));
            let t = TcpRepr::new(0, 0, SeqNumber(0), None, TcpFlags::SYN | TcpFlags::ACK, 0);
            SkBuff::from_frame(&stack::wire::frame::tcp_frame(src, dst, &t, &[]))
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
        // Driven from the web page: every connection of its port passes.
        ctl.start(Who::Web(80), None, None, Style::Plain, &mut stack);
        dev.send(Instant::ZERO, &tcp(80, 5003)).unwrap();
        dev.send(Instant::ZERO, &tcp(80, 5004)).unwrap();
        assert_eq!(ctl.held(), 1, "the web's own port is never stepped");
        dev.send(Instant::ZERO, &tcp(23, 5005)).unwrap();
        assert_eq!(ctl.held(), 2);
    }
}
