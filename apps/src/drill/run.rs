//! Running one script against a fresh synack stack on a virtual clock
//! (packetdrill's `run.c`, without threads or a real clock).
//!
//! The clock starts at 0 and moves only forward, to the next thing that
//! happens: the script's next event, or the stack's next timer when the
//! script waits for a packet or a blocked call. Times follow packetdrill:
//! a relative time (`+0.1`) counts from *now* when the event starts (after
//! the previous event finished); a packet the stack sent is checked against
//! its expected time within the tolerance (4 ms by default); a blocking call
//! (`+0...0.2 read(…)`) starts at its time, lets the script go on, and must
//! return at its end time.
//!
//! One connection is *under test* at a time, as in packetdrill: `listen`
//! makes the next inbound packet open a new one (its remote port fresh, its
//! ISN the packet's seq), `connect` opens one to 192.0.2.1:8080. Packets
//! synack sends on other connections are not the script's business; ARP
//! requests are answered at once, out of the script's sight.

use super::ast::{Action, Direction, Event, EventTime, Expr, Micros, PacketBody, PacketSpec, Script, SyscallSpec};
use super::code::{self, Outcome};
use super::packet::{self, Flow, Link, Seen, SeenTcp, SeenText, SpecText};
use super::syscall::{Addrs, CallError, Calls, Effect, Progress, Step};
use super::sysctl;
use crate::step::{self as tcb, Tcb};
use stack::tcp::TcpConfig;
use stack::tcpdump::Printer;
use stack::time::earliest;
use stack::wire::arp::{ArpRepr, ARPOP_REPLY};
use stack::wire::ethernet::MacAddr;
use stack::wire::frame::arp_frame;
use stack::{Config, Errno, Instant, Offloads, SkBuff, Stack};
use std::collections::VecDeque;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;

/// packetdrill's default `--tolerance_usecs`.
pub const DEFAULT_TOLERANCE: Micros = 4_000;
/// packetdrill's default `--tolerance_percent`.
pub const DEFAULT_TOLERANCE_PERCENT: f64 = 12.5;
/// How long past its expected time the runner waits for an outbound packet
/// (packetdrill: 2 s) before it says none came.
const SNIFF_SLACK: Micros = 2_000_000;
/// A blocked call or a `*` packet waits at most this long of virtual time.
const LONGEST_WAIT: Micros = 3_600_000_000;
/// Timer runs at one instant before the runner calls it a livelock.
const MAX_ROUNDS_AT_ONE_INSTANT: usize = 10_000;

/// synack's side and the script's side (packetdrill's defaults: the local
/// address in 192.168.0.0/16 behind gateway 192.168.0.1, the remote in
/// TEST-NET-1, port 8080).
pub const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 2);
pub const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
pub const REMOTE_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const PORT: u16 = 8080;
/// The first remote port of passive connections (packetdrill's ephemeral range).
const FIRST_REMOTE_PORT: u16 = 40_000;
const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

#[derive(Clone, Debug)]
pub struct Options {
    pub tolerance: Micros,
    pub seed: u64,
    /// Print every event with synack's trace and the TCB's changes.
    pub verbose: bool,
    /// packetdrill's `--tolerance_percent`: a late or early event is also
    /// fine within this share of the time since the previous event.
    pub tolerance_percent: f64,
    /// Stop before each line of the script until Enter (implies `verbose`).
    pub step: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tolerance: DEFAULT_TOLERANCE,
            tolerance_percent: DEFAULT_TOLERANCE_PERCENT,
            seed: 0x5eed_cafe,
            verbose: false,
            step: false,
        }
    }
}

/// How a script ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// The line and packetdrill-style message (more lines may follow).
    Fail {
        line: usize,
        message: String,
    },
    /// Something synack drill cannot run: the line and the reason.
    Skip {
        line: usize,
        reason: String,
    },
}

/// packetdrill's socket under test: what the next inbound packet belongs
/// to. `socket()` makes its new socket the one under test; `listen` on
/// *that* socket makes the next inbound packet open a new connection (a
/// `listen` on another descriptor changes nothing, as in packetdrill).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum UnderTest {
    Nothing,
    Fresh(i64),
    Listening(i64),
    Flow,
}

/// A call that blocked, as packetdrill's system-call thread holds it.
struct Pending {
    line: usize,
    call: SyscallSpec,
    progress: Progress,
    time: EventTime,
    /// When it started and the script time it must return at, if the
    /// script gave one.
    end: Option<(Micros, Micros)>,
}

/// Stop the script: fail or skip at a line.
type Stop = Verdict;

/// A call that returned: its value or errno, and an output argument that
/// was not what the script expects.
type Returned = (Result<i64, Errno>, Option<String>);

fn fail<T>(line: usize, message: impl Into<String>) -> Result<T, Stop> {
    Err(Verdict::Fail { line, message: message.into() })
}

struct Runner<'a> {
    stack: Stack,
    now: Instant,
    calls: Calls,
    flow: Option<Flow>,
    under_test: UnderTest,
    next_remote_port: u16,
    /// Frames synack sent that the script has not consumed: (when, what).
    sent: VecDeque<(Instant, Seen)>,
    pending: Option<Pending>,
    /// An error found while the network ran (a blocked call that returned
    /// wrong), reported at the next event boundary.
    deferred: Option<Stop>,
    tcp: TcpConfig,
    link: Link,
    addrs: Addrs,
    dir: &'a Path,
    opts: &'a Options,
    out: &'a mut dyn Write,
    printer: Printer,
    tcb: Option<Tcb>,
    /// The script time of the previous event (packetdrill's `last_event`).
    last_event: Option<Micros>,
    /// The script time of the event running now.
    event_start: Micros,
    source: &'a str,
    /// Step mode's input ended: run the rest without stopping.
    stepping_stopped: bool,
}

/// Run `script` (`source` is its text, shown in step mode; `dir` resolves
/// the paths of its shell lines).
pub fn run(script: &Script, source: &str, dir: &Path, opts: &Options, out: &mut dyn Write) -> Verdict {
    let opts = &Options { verbose: opts.verbose || opts.step, ..opts.clone() };
    // A stock Linux's settings where synack's defaults differ: the window
    // scale that covers tcp_rmem[2], a restart after idle, as
    // `tcp_slow_start_after_idle=1` (a script's `defaults.sh` may change them).
    let tcp = TcpConfig { rcvbuf_max: 6_291_456, slow_start_after_idle: true, ..TcpConfig::default() };
    let config = Config {
        addr: LOCAL_IP,
        prefix_len: 16,
        gateway: Some(GATEWAY_IP),
        seed: opts.seed,
        gratuitous_arp: false,
        // Linux hands packetdrill's tun its TSO segments: so does synack here.
        offloads: Offloads::memory_gso(),
        tcp: tcp.clone(),
        ..Config::default()
    };
    let stack = Stack::new(config.clone(), Instant::ZERO);
    let mut r = Runner {
        stack,
        now: Instant::ZERO,
        calls: Calls::default(),
        flow: None,
        under_test: UnderTest::Nothing,
        next_remote_port: FIRST_REMOTE_PORT,
        sent: VecDeque::new(),
        pending: None,
        deferred: None,
        tcp,
        link: Link { stack_mac: config.mac, peer_mac: PEER_MAC },
        addrs: Addrs { bind: SocketAddrV4::new(LOCAL_IP, PORT), connect: SocketAddrV4::new(REMOTE_IP, PORT) },
        dir,
        opts,
        out,
        printer: Printer::new(),
        tcb: None,
        last_event: None,
        event_start: 0,
        source,
        stepping_stopped: false,
    };
    r.stack.trace_mut().set_enabled(opts.verbose);
    match r.run_events(&script.events) {
        Ok(()) => Verdict::Pass,
        Err(v) => v,
    }
}

impl Runner<'_> {
    fn run_events(&mut self, events: &[Event]) -> Result<(), Stop> {
        for ev in events {
            if self.opts.step && !self.stepping_stopped {
                let text = self.source.lines().nth(ev.line.saturating_sub(1)).unwrap_or("").trim();
                let _ = write!(self.out, "\n{:>4} | {text}\n[Enter: run this line] ", ev.line);
                let _ = self.out.flush();
                let mut answer = String::new();
                if std::io::stdin().read_line(&mut answer).unwrap_or(0) == 0 {
                    self.stepping_stopped = true;
                }
            }
            self.event_start = self.times(ev.time).0;
            if self.opts.verbose {
                let at = self.times(ev.time).0 as f64 / 1e6;
                let _ = writeln!(self.out, "{at:>10.6} line {}: {}", ev.line, describe(&ev.action));
            }
            match &ev.action {
                Action::Packet(p) => self.packet(ev, p)?,
                Action::Syscall(c) => self.syscall(ev, c)?,
                Action::Command(cmd) => {
                    let (start, _) = self.times(ev.time);
                    self.advance_to(start, ev.line)?;
                    if let Err(reason) = sysctl::apply_command(cmd, self.dir, &mut self.tcp) {
                        return Err(Verdict::Skip { line: ev.line, reason });
                    }
                    self.stack.set_tcp_config(self.tcp.clone());
                }
                Action::Code(text) => {
                    let (start, _) = self.times(ev.time);
                    self.advance_to(start, ev.line)?;
                    self.code(ev.line, text)?;
                }
            }
            self.check_deferred()?;
            self.show_tcb();
            self.last_event = Some(self.event_start);
        }
        // The script is over: a call still blocked must still return in time.
        if let Some(p) = &self.pending {
            let line = p.line;
            self.wait_for_pending(line)?;
        }
        self.check_deferred()
    }

    fn micros(&self) -> Micros {
        self.now.total_micros() as Micros
    }

    fn instant(t: Micros) -> Instant {
        Instant::from_micros(t.max(0) as u64)
    }

    /// The event's expected start and end, in script time, counted as
    /// packetdrill counts them: relative times from now.
    fn times(&self, t: EventTime) -> (Micros, Micros) {
        let now = self.micros();
        match t {
            EventTime::Absolute(a) => (a, a),
            EventTime::Relative(d) => (now + d, now + d),
            EventTime::Any => (now, now + LONGEST_WAIT),
            EventTime::AbsoluteRange(a, b) => (a, b),
            EventTime::RelativeRange(a, b) => (now + a, now + b),
        }
    }

    /// packetdrill's `verify_time`.
    /// The tolerance: `--tolerance_usecs`, or `--tolerance_percent` of
    /// the time since the previous event (`since`), whichever is larger.
    fn verify_time(
        &self,
        kind: EventTime,
        (start, end): (Micros, Micros),
        since: Option<Micros>,
        actual: Micros,
        what: &str,
    ) -> Option<String> {
        let dynamic = since.map_or(0, |t| ((start - t).max(0) as f64 * self.opts.tolerance_percent / 100.0) as Micros);
        let tol = self.opts.tolerance.max(dynamic);
        let secs = |t: Micros| t as f64 / 1e6;
        match kind {
            EventTime::Any => None,
            EventTime::AbsoluteRange(..) | EventTime::RelativeRange(..) => (actual < start - tol || actual > end + tol)
                .then(|| {
                    format!(
                        "timing error: expected {what} in time range {:.6}~{:.6} sec but happened at {:.6} sec",
                        secs(start),
                        secs(end),
                        secs(actual)
                    )
                }),
            _ => ((actual - start).abs() > tol).then(|| {
                format!(
                    "timing error: expected {what} at {:.6} sec but happened at {:.6} sec; tolerance {:.6} sec",
                    secs(start),
                    secs(actual),
                    secs(tol)
                )
            }),
        }
    }

    // ------------------------------------------------------------ the network

    /// Run the stack's timers up to `t` and move the clock there.
    fn advance_to(&mut self, t: Micros, line: usize) -> Result<(), Stop> {
        let t = Self::instant(t);
        while self.step_network(t, line)? {}
        if t > self.now {
            self.now = t;
        }
        self.after_change(line)
    }

    /// Run the next timer (the stack's or a blocked call's) if it is due by
    /// `limit`. False when nothing is due.
    fn step_network(&mut self, limit: Instant, line: usize) -> Result<bool, Stop> {
        let call_deadline = self.pending.as_ref().and_then(|p| p.progress.deadline);
        let Some(due) = earliest(self.stack.poll_timeout(), call_deadline) else { return Ok(false) };
        if due > limit {
            return Ok(false);
        }
        if due > self.now {
            self.now = due;
        }
        let mut rounds = 0;
        while self.stack.poll_timeout().is_some_and(|d| d <= self.now) {
            rounds += 1;
            if rounds > MAX_ROUNDS_AT_ONE_INSTANT {
                return fail(line, format!("livelock: synack's timers kept running at {} s", self.now));
            }
            self.stack.handle_timeout(self.now);
            self.drain(line)?;
        }
        self.after_change(line)?;
        Ok(true)
    }

    /// After the stack moved: collect what it sent, retry a blocked call.
    fn after_change(&mut self, line: usize) -> Result<(), Stop> {
        self.drain(line)?;
        self.retry_pending()
    }

    /// Take every frame synack sent: answer ARP, keep the rest for the script.
    fn drain(&mut self, line: usize) -> Result<(), Stop> {
        let mut rounds = 0;
        while let Some(skb) = self.stack.poll_transmit(self.now) {
            rounds += 1;
            if rounds > 100_000 {
                return fail(line, "livelock: synack kept sending at one instant");
            }
            if self.opts.verbose {
                let _ = writeln!(self.out, "           > {}", self.printer.format(skb.data()));
            }
            let seen = match packet::read_frame(skb.data(), skb.csum_partial().is_some()) {
                Ok(s) => s,
                Err(e) => return fail(line, format!("synack sent a bad frame: {e}")),
            };
            match seen {
                Seen::ArpRequest { target, sender, sender_mac } => {
                    let reply = ArpRepr { op: ARPOP_REPLY, sha: PEER_MAC, spa: target, tha: sender_mac, tpa: sender };
                    let frame = arp_frame(sender_mac, &reply);
                    self.stack.handle_frame(self.now, SkBuff::from_frame(&frame));
                }
                Seen::Other(_) => {}
                seen => self.sent.push_back((self.now, seen)),
            }
        }
        self.show_trace();
        Ok(())
    }

    fn inject(&mut self, frame: &[u8], line: usize) -> Result<(), Stop> {
        if self.opts.verbose {
            let _ = writeln!(self.out, "           < {}", self.printer.format(frame));
        }
        self.stack.handle_frame(self.now, SkBuff::from_frame(frame));
        self.after_change(line)
    }

    // ------------------------------------------------------------ packets

    fn packet(&mut self, ev: &Event, p: &PacketSpec) -> Result<(), Stop> {
        match p.direction {
            Direction::Inbound => {
                if matches!(ev.time, EventTime::Any | EventTime::AbsoluteRange(..) | EventTime::RelativeRange(..)) {
                    return fail(ev.line, "`*` and time ranges are for outbound packets");
                }
                let (start, _) = self.times(ev.time);
                self.advance_to(start, ev.line)?;
                let frame = match &p.body {
                    PacketBody::Tcp(spec) => {
                        if self.flow.is_none()
                            || matches!(self.under_test, UnderTest::Nothing | UnderTest::Listening(_))
                        {
                            let remote = SocketAddrV4::new(REMOTE_IP, self.next_remote_port);
                            self.next_remote_port = self.next_remote_port.wrapping_add(1).max(FIRST_REMOTE_PORT);
                            self.flow = Some(Flow::new(self.addrs.bind, remote, spec.seq));
                            self.under_test = UnderTest::Flow;
                        }
                        let flow = self.flow.as_ref().expect("set above");
                        packet::inbound_tcp(&self.link, flow, spec).or_else(|e| fail(ev.line, e))?
                    }
                    PacketBody::Udp { len } => {
                        let from = self.flow.as_ref().map_or(self.addrs.connect, |f| f.remote);
                        packet::inbound_udp(&self.link, from, self.addrs.bind, *len)
                    }
                    PacketBody::Icmp(_) => {
                        return Err(Verdict::Skip { line: ev.line, reason: "inbound ICMP packets".into() })
                    }
                };
                self.inject(&frame, ev.line)
            }
            Direction::Outbound => self.expect_outbound(ev, p),
        }
    }

    /// Wait for synack's next packet on the connection under test and
    /// compare it with the script's.
    fn expect_outbound(&mut self, ev: &Event, p: &PacketSpec) -> Result<(), Stop> {
        let (start, end) = self.times(ev.time);
        let limit = Self::instant(end.max(start) + self.opts.tolerance + SNIFF_SLACK);
        loop {
            while let Some((at, seen)) = self.sent.pop_front() {
                if let Some(result) = self.match_outbound(ev, p, at, &seen, start, end) {
                    return result;
                }
            }
            if !self.step_network(limit, ev.line)? {
                let what = match &p.body {
                    PacketBody::Tcp(spec) => format!("{}", SpecText(spec)),
                    PacketBody::Udp { len } => format!("udp ({len})"),
                    PacketBody::Icmp(i) => format!("icmp {}", i.icmp_type),
                };
                return fail(
                    ev.line,
                    format!(
                        "timed out waiting for outbound packet: synack sent nothing by {:.6} sec\nscript packet: {:>9.6} {what}",
                        limit.total_micros() as f64 / 1e6,
                        start as f64 / 1e6
                    ),
                );
            }
        }
    }

    /// `Some(result)` if `seen` is the script's business (it is then the
    /// packet compared), `None` to skip it.
    fn match_outbound(
        &mut self,
        ev: &Event,
        p: &PacketSpec,
        at: Instant,
        seen: &Seen,
        start: Micros,
        end: Micros,
    ) -> Option<Result<(), Stop>> {
        let at_us = at.total_micros() as Micros;
        let secs = |t: Micros| t as f64 / 1e6;
        let mut shown = None;
        let diff = match (&p.body, seen) {
            (PacketBody::Tcp(spec), Seen::Tcp(tcp)) => {
                let flow = self.flow.as_mut()?;
                if !flow.claim(tcp) {
                    return None;
                }
                let (script_space, diff) = flow.check_outbound(tcp, spec);
                let d = diff.map(|d| packet_report(&d, start, spec, at_us, &script_space));
                shown = Some(script_space);
                d
            }
            (PacketBody::Udp { len }, Seen::Udp { len: got, .. }) => {
                (*len as usize != *got).then(|| format!("live packet field udp_len: expected: {len} vs actual: {got}"))
            }
            (PacketBody::Icmp(spec), Seen::Icmp { icmp_type, code, .. }) => icmp_diff(spec, *icmp_type, *code),
            (_, Seen::Tcp(tcp)) if self.flow.as_ref().is_some_and(|f| f.remote == tcp.dst) => {
                Some(format!("expected a non-TCP packet but synack sent TCP {}", SeenText(tcp)))
            }
            (_, Seen::Tcp(_)) => return None,
            (_, other) => Some(format!("synack sent another kind of packet: {other:?}")),
        };
        if let Some(d) = diff {
            return Some(fail(ev.line, d));
        }
        if let Some(t) = self.verify_time(ev.time, (start, end), self.last_event, at_us, "outbound packet") {
            let actual = match &shown {
                Some(tcp) => format!("\nactual packet: {:>9.6} {}", secs(at_us), SeenText(tcp)),
                None => String::new(),
            };
            return Some(fail(ev.line, format!("{t}{actual}")));
        }
        Some(Ok(()))
    }

    // ------------------------------------------------------------ system calls

    fn syscall(&mut self, ev: &Event, call: &SyscallSpec) -> Result<(), Stop> {
        if matches!(ev.time, EventTime::Any | EventTime::AbsoluteRange(..) | EventTime::RelativeRange(..)) {
            return fail(ev.line, "`*` and time ranges are for outbound packets");
        }
        // packetdrill makes a new call only once a blocked one has returned.
        if let Some(p) = &self.pending {
            let line = p.line;
            self.wait_for_pending(line)?;
            self.check_deferred()?;
        }
        let (start, _) = self.times(ev.time);
        self.advance_to(start, ev.line)?;
        let end = call.end.map(|e| match ev.time {
            EventTime::Relative(d) => (start, start - d + e),
            _ => (start, e),
        });
        let mut progress = Progress::default();
        match self.attempt(ev.line, call, &mut progress)? {
            Some((ret, mismatch)) => {
                self.finish_call(ev.line, call, ret, mismatch, ev.time, end)?;
            }
            None => {
                self.pending = Some(Pending { line: ev.line, call: call.clone(), progress, time: ev.time, end });
                if call.end.is_none() {
                    // The script does not expect this call to block: it runs
                    // to its end before the script goes on (the network turns
                    // meanwhile, as the kernel's does under a blocked process).
                    self.wait_for_pending(ev.line)?;
                }
            }
        }
        Ok(())
    }

    /// One try of a call: `Some` if it returned.
    fn attempt(&mut self, line: usize, call: &SyscallSpec, progress: &mut Progress) -> Result<Option<Returned>, Stop> {
        let mut effect = Effect::None;
        let step = self.calls.attempt(&mut self.stack, self.now, call, progress, &self.addrs, &mut effect);
        match effect {
            Effect::None => {}
            Effect::NewSocket(fd) => self.under_test = UnderTest::Fresh(fd),
            Effect::Listening(fd) => {
                if matches!(self.under_test, UnderTest::Nothing | UnderTest::Fresh(_))
                    || self.under_test == UnderTest::Listening(fd)
                {
                    self.under_test = UnderTest::Listening(fd);
                }
            }
            Effect::Connecting(remote) => {
                self.flow = Some(Flow::new(SocketAddrV4::new(LOCAL_IP, 0), remote, 0));
                self.under_test = UnderTest::Flow;
            }
        }
        let step = match step {
            Ok(s) => s,
            Err(CallError::Unsupported(what)) => {
                return Err(Verdict::Skip { line, reason: format!("{what} (not supported by synack drill)") })
            }
            Err(CallError::Script(m)) => return fail(line, format!("{}: {m}", call.name)),
        };
        // The call may have sent something (a SYN, data).
        self.drain(line)?;
        Ok(match step {
            Step::Done { ret, mismatch } => Some((ret, mismatch)),
            Step::Blocked { .. } => None,
        })
    }

    /// Try the blocked call again; if it returned, check it.
    fn retry_pending(&mut self) -> Result<(), Stop> {
        let Some(mut p) = self.pending.take() else { return Ok(()) };
        match self.attempt(p.line, &p.call, &mut p.progress)? {
            Some((ret, mismatch)) => {
                if let Err(stop) = self.finish_call(p.line, &p.call, ret, mismatch, p.time, p.end) {
                    self.deferred.get_or_insert(stop);
                }
            }
            None => self.pending = Some(p),
        }
        Ok(())
    }

    /// Run the network until the blocked call returns.
    fn wait_for_pending(&mut self, line: usize) -> Result<(), Stop> {
        let limit = Self::instant(self.micros() + LONGEST_WAIT);
        while self.pending.is_some() {
            if !self.step_network(limit, line)? {
                let p = self.pending.take().expect("checked");
                return fail(
                    p.line,
                    format!(
                        "{} blocked and nothing could release it (synack had no timer left, and the script sends nothing while a call it does not mark `...END` blocks)",
                        p.call.name
                    ),
                );
            }
        }
        Ok(())
    }

    fn check_deferred(&mut self) -> Result<(), Stop> {
        match self.deferred.take() {
            Some(stop) => Err(stop),
            None => Ok(()),
        }
    }

    /// Compare a returned call with the script: its value or errno, its
    /// output arguments, and a blocking call's return time.
    fn finish_call(
        &mut self,
        line: usize,
        call: &SyscallSpec,
        ret: Result<i64, Errno>,
        mismatch: Option<String>,
        time: EventTime,
        end: Option<(Micros, Micros)>,
    ) -> Result<(), Stop> {
        if self.opts.verbose {
            let r = match ret {
                Ok(v) => v.to_string(),
                Err(e) => format!("-1 {} ({})", e.name(), e.text()),
            };
            let _ = writeln!(self.out, "{:>10.6} line {line}: {} returned {r}", self.micros() as f64 / 1e6, call.name);
        }
        let expected = match &call.result {
            Expr::Ellipsis => None,
            e => match result_value(e) {
                Some(v) => Some(v),
                None => return fail(line, format!("cannot read the expected result {e:?}")),
            },
        };
        match ret {
            Ok(v) => {
                if let Some(errno) = &call.errno {
                    return fail(line, format!("Expected errno {errno} but {} returned {v}", call.name));
                }
                if expected.is_some_and(|e| e != v) {
                    return fail(line, format!("Expected result {} but got {v}", expected.unwrap_or_default()));
                }
            }
            Err(e) => {
                let same = |n: &str| n == e.name() || (n == "EWOULDBLOCK" && e == Errno::EAGAIN);
                if expected != Some(-1) || !call.errno.as_deref().is_some_and(same) {
                    let want = match (&expected, &call.errno) {
                        (Some(v), Some(n)) => format!("{v} {n}"),
                        (Some(v), None) => v.to_string(),
                        (None, _) => "...".into(),
                    };
                    return fail(
                        line,
                        format!("Expected result {want} but got -1 with errno {} ({})", e.name(), e.text()),
                    );
                }
            }
        }
        if let Some(m) = mismatch {
            return fail(line, m);
        }
        if let Some((started, end)) = end {
            if let Some(t) = self.verify_time(time, (end, end), Some(started), self.micros(), "system call return") {
                return fail(line, t);
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ code

    fn code(&mut self, line: usize, text: &str) -> Result<(), Stop> {
        let infos = self.stack.tcp_info(self.now);
        let info = self.flow.as_ref().and_then(|f| infos.iter().find(|i| i.local == f.local && i.remote == f.remote));
        let Some(info) = info else {
            return fail(line, "no connection under test to take tcp_info from");
        };
        match code::evaluate(text, info) {
            Outcome::Holds => Ok(()),
            Outcome::Fails(m) => fail(line, m),
            Outcome::Unsupported(reason) => Err(Verdict::Skip { line, reason }),
        }
    }

    // ------------------------------------------------------------ -v

    fn show_trace(&mut self) {
        while let Some(ev) = self.stack.poll_event() {
            if self.opts.verbose {
                let _ = write!(self.out, "       {}", tcb::event_line(&ev));
            }
        }
    }

    /// `-v`: the connection's TCB after each event, changed fields marked.
    fn show_tcb(&mut self) {
        if !self.opts.verbose {
            return;
        }
        let Some(flow) = &self.flow else { return };
        let now = Tcb::of(&self.stack.tcp_info(self.now), flow.local, flow.remote);
        if self.tcb.as_ref() != Some(&now) {
            let text = tcb::render_tcb("tcb", &now, self.tcb.as_ref(), tcb::Style::Plain);
            for l in text.lines() {
                let _ = writeln!(self.out, "           {l}");
            }
            self.tcb = Some(now);
        }
    }
}

/// The result a script expects, as a number.
fn result_value(e: &Expr) -> Option<i64> {
    match e {
        Expr::Int(v) => Some(*v),
        Expr::Word(w) => super::syscall::symbol(w),
        Expr::BitOr(parts) => parts.iter().map(result_value).try_fold(0, |acc, v| v.map(|v| acc | v)),
        _ => None,
    }
}

fn packet_report(diff: &str, start: Micros, spec: &super::ast::TcpSpec, at: Micros, seen: &SeenTcp) -> String {
    format!(
        "{diff}\nscript packet: {:>9.6} {}\nactual packet: {:>9.6} {}",
        start as f64 / 1e6,
        SpecText(spec),
        at as f64 / 1e6,
        SeenText(seen)
    )
}

fn icmp_diff(spec: &super::ast::IcmpSpec, icmp_type: u8, code: u8) -> Option<String> {
    let want_type = match spec.icmp_type.as_str() {
        "echo_reply" => 0,
        "unreachable" => 3,
        "echo_request" => 8,
        "time_exceeded" => 11,
        other => return Some(format!("ICMP type `{other}` is not one synack drill knows")),
    };
    let want_code = spec.code.as_deref().map(|c| match c {
        "net_unreachable" => 0,
        "host_unreachable" => 1,
        "protocol_unreachable" => 2,
        "port_unreachable" => 3,
        "frag_needed" => 4,
        _ => 255,
    });
    if want_type != icmp_type || want_code.is_some_and(|c| c != code) {
        return Some(format!(
            "bad outbound ICMP: expected type {want_type} code {want_code:?}, got type {icmp_type} code {code}"
        ));
    }
    None
}

/// One line for `-v`.
fn describe(a: &Action) -> String {
    match a {
        Action::Packet(p) => match &p.body {
            PacketBody::Tcp(t) => {
                format!("{} {}", if p.direction == Direction::Inbound { "<" } else { ">" }, SpecText(t))
            }
            PacketBody::Udp { len } => format!("udp ({len})"),
            PacketBody::Icmp(i) => format!("icmp {}", i.icmp_type),
        },
        Action::Syscall(c) => format!("{}(…)", c.name),
        Action::Command(c) => format!("`{c}`"),
        Action::Code(_) => "%{ … }%".into(),
    }
}
