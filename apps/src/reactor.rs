//! The reactor: one thread, non-blocking sockets, epoll to find the sockets
//! with work, and one handler per socket to do it (docs/reactor.md).
//!
//! Read first: the Reactor pattern (Schmidt, "Reactor: An Object Behavioral
//! Pattern for Demultiplexing and Dispatching Handles for Synchronous
//! Events"), epoll(7), and stack/src/epoll.rs.
//!
//! ```text
//!   loop {
//!       run the timers that are due                 (on_timer)
//!       events = epoll_wait(ep)                     demultiplex: which are ready
//!       for (token, what) in events {
//!           next = handlers[token].on_ready(what)   dispatch: do what can be
//!           match next {                            done without blocking,
//!               Wait(interest) => epoll_ctl(MOD)    then say what to wait for
//!               Close          => close, forget the handler
//!           }
//!       }
//!       register the handlers the acceptors made    (epoll_ctl(ADD))
//!   }
//! ```
//!
//! The classic services (echo, discard, chargen), UDP echo and the telnet
//! server are handlers here, so `synack up` serves them all on one epoll: a
//! wake-up touches only the sockets that are ready, never the whole list of
//! connections, which is what lets it hold 10,000 of them (C10K).
//!
//! Interest is level-triggered: a handler that leaves a condition it does
//! not consume (a listener at its connection limit, a telnet session not
//! reading during a ping) must stop watching it, or every wait reports it
//! again. The handlers say so in their `Next`.

use crate::services::{self, Conn, Kind, ServiceConfig, CHARGEN_PORT, DISCARD_PORT, ECHO_PORT};
use crate::step::StepCtl;
use crate::telnetd::{self, Session, MAX_SESSIONS, TELNET_PORT};
use stack::tcp::SOMAXCONN;
use stack::Stack;
use stack::{Duration, EpollEvent, EpollFlags, EpollHandle, EpollOp, Errno, Instant, MsgFlags, SockOpt, SocketHandle};
use std::collections::{BTreeSet, HashMap};

/// Which handler an event is for: the `epoll_data` given to `epoll_ctl`.
pub type Token = u64;

/// Events taken from the ready list per `epoll_wait`.
pub const MAX_EVENTS: usize = 256;
/// Waits per `run_once`: enough to empty the ready list in a normal turn
/// (a batch, then the level-triggered entries looked at once more).
const MAX_BATCHES: usize = 8;
/// How often a telnet session with a running ping looks for replies (ICMP
/// replies are not socket events).
const PING_TICK: Duration = Duration::from_millis(10);
/// The most connections per TCP service on the reactor.
pub const MAX_CONNS: usize = 60_000;

const IN: EpollFlags = EpollFlags::EPOLLIN;
const OUT: EpollFlags = EpollFlags::EPOLLOUT;
const RDHUP: EpollFlags = EpollFlags::EPOLLRDHUP;

/// What a handler wants after it ran.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Next {
    /// Keep it: watch its socket for `interest` (`EpollFlags::NONE`: for
    /// nothing, until a timer or a child's end), and call `on_timer` at `timer`.
    Wait { interest: EpollFlags, timer: Option<Instant> },
    /// Done: the reactor closes the socket and drops the handler.
    Close,
}

impl Next {
    pub fn on(interest: EpollFlags) -> Next {
        Next::Wait { interest, timer: None }
    }
}

/// What a handler gets while it runs: the stack, the time, a read buffer
/// shared by all handlers, and a way to hand new handlers to the reactor.
pub struct Ctx<'a> {
    pub stack: &'a mut Stack,
    pub now: Instant,
    pub buf: &'a mut [u8],
    spawned: &'a mut Vec<Box<dyn Handler>>,
}

impl Ctx<'_> {
    /// Register `h` once the current batch of events is dispatched; the
    /// running handler becomes its parent (told when it closes).
    pub fn spawn(&mut self, h: Box<dyn Handler>) {
        self.spawned.push(h);
    }
}

/// An event handler: owns one socket and serves it.
pub trait Handler {
    fn socket(&self) -> SocketHandle;
    /// What to watch for from the start.
    fn interest(&self) -> EpollFlags;
    /// The socket is ready for `events` (or a timer ran, with no events):
    /// do what can be done without blocking.
    fn on_ready(&mut self, cx: &mut Ctx, events: EpollFlags) -> Next;
    fn on_timer(&mut self, cx: &mut Ctx) -> Next {
        self.on_ready(cx, EpollFlags::NONE)
    }
    /// A handler this one spawned has closed. `Some` changes what this one waits for.
    fn on_child_closed(&mut self, _cx: &mut Ctx) -> Option<Next> {
        None
    }
}

struct Slot {
    handler: Box<dyn Handler>,
    interest: EpollFlags,
    timer: Option<Instant>,
    parent: Option<Token>,
}

/// What the reactor has done: how much work each wake-up cost.
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq)]
pub struct ReactorStats {
    /// `run_once` calls.
    pub turns: u64,
    /// `epoll_wait` calls.
    pub waits: u64,
    /// Events dispatched to handlers.
    pub events: u64,
    /// Timer calls.
    pub timers: u64,
    pub registered: u64,
    pub closed: u64,
}

pub struct Reactor {
    ep: EpollHandle,
    /// Step mode's controller, handed to each telnet session (step/ctl.rs).
    step: StepCtl,
    slots: HashMap<Token, Slot>,
    next_token: Token,
    /// Timers in deadline order (a timer wheel would do, too).
    timers: BTreeSet<(Instant, Token)>,
    events: Vec<EpollEvent>,
    buf: Vec<u8>,
    /// Entries left on the ready list after the last turn: run again at once.
    more_ready: bool,
    stats: ReactorStats,
}

impl Reactor {
    pub fn new(stack: &mut Stack) -> Reactor {
        Reactor {
            ep: stack.epoll_create(),
            step: StepCtl::new(),
            slots: HashMap::new(),
            next_token: 1,
            timers: BTreeSet::new(),
            events: Vec::with_capacity(MAX_EVENTS),
            buf: vec![0; 64 * 1024],
            more_ready: false,
            stats: ReactorStats::default(),
        }
    }

    pub fn stats(&self) -> ReactorStats {
        self.stats
    }
    /// Handlers registered now.
    pub fn handlers(&self) -> usize {
        self.slots.len()
    }
    pub fn epoll(&self) -> EpollHandle {
        self.ep
    }

    /// The step controller the telnet sessions share (`step on`).
    pub fn step(&self) -> StepCtl {
        self.step.clone()
    }

    /// Run the handler of `sock` now, as if it were ready (step mode hands
    /// a telnet session its output this way: no socket event says so).
    pub fn wake_socket(&mut self, stack: &mut Stack, now: Instant, sock: SocketHandle) {
        let token = self.slots.iter().find(|(_, s)| s.handler.socket() == sock).map(|(&t, _)| t);
        if let Some(t) = token {
            self.dispatch(stack, now, t, Some(EpollFlags::NONE));
        }
    }

    /// Watch `h`'s socket with its interest (`epoll_ctl(ADD)`).
    pub fn register(&mut self, stack: &mut Stack, h: Box<dyn Handler>) -> Result<Token, Errno> {
        self.register_child(stack, h, None)
    }

    fn register_child(
        &mut self,
        stack: &mut Stack,
        h: Box<dyn Handler>,
        parent: Option<Token>,
    ) -> Result<Token, Errno> {
        let token = self.next_token;
        let interest = h.interest();
        stack.epoll_ctl(self.ep, EpollOp::Add, h.socket(), interest, token)?;
        self.next_token += 1;
        self.slots.insert(token, Slot { handler: h, interest, timer: None, parent });
        self.stats.registered += 1;
        Ok(token)
    }

    /// When to run again without a frame: a handler's timer, or now if the
    /// ready list still had entries.
    pub fn poll_at(&self) -> Option<Instant> {
        let t = self.timers.first().map(|&(t, _)| t);
        if self.more_ready {
            Some(Instant::ZERO)
        } else {
            t
        }
    }

    /// One turn: due timers, then events until the ready list is empty.
    /// Returns the number of handler calls.
    pub fn run_once(&mut self, stack: &mut Stack, now: Instant) -> usize {
        self.stats.turns += 1;
        let mut calls = 0;
        // The timers due now; one a handler sets for now or earlier runs
        // next turn (so a handler cannot keep this loop going).
        let later = self.timers.split_off(&(now + Duration::from_micros(1), 0));
        let due = std::mem::replace(&mut self.timers, later);
        for (_, token) in due {
            if let Some(slot) = self.slots.get_mut(&token) {
                slot.timer = None;
            }
            self.stats.timers += 1;
            self.dispatch(stack, now, token, None);
            calls += 1;
        }
        self.more_ready = false;
        for _ in 0..MAX_BATCHES {
            let mut events = std::mem::take(&mut self.events);
            let n = stack.epoll_wait(self.ep, &mut events, MAX_EVENTS).unwrap_or(0);
            self.stats.waits += 1;
            for ev in &events {
                self.dispatch(stack, now, ev.token, Some(ev.events));
            }
            self.events = events;
            self.stats.events += n as u64;
            calls += n;
            if n == 0 {
                return calls;
            }
        }
        self.more_ready = stack.epolls().ready_len(self.ep) > 0;
        calls
    }

    /// Call one handler (for `events`, or its timer) and apply its answer.
    fn dispatch(&mut self, stack: &mut Stack, now: Instant, token: Token, events: Option<EpollFlags>) {
        let Some(slot) = self.slots.get_mut(&token) else { return };
        let mut spawned = Vec::new();
        let mut cx = Ctx { stack: &mut *stack, now, buf: &mut self.buf, spawned: &mut spawned };
        let next = match events {
            Some(ev) => slot.handler.on_ready(&mut cx, ev),
            None => slot.handler.on_timer(&mut cx),
        };
        self.apply(stack, now, token, next);
        for h in spawned {
            let sock = h.socket();
            if self.register_child(stack, h, Some(token)).is_err() {
                let _ = stack.close(now, sock);
            }
        }
    }

    fn apply(&mut self, stack: &mut Stack, now: Instant, token: Token, next: Next) {
        let Some(slot) = self.slots.get_mut(&token) else { return };
        match next {
            Next::Wait { interest, timer } => {
                if interest != slot.interest {
                    let sock = slot.handler.socket();
                    if stack.epoll_ctl(self.ep, EpollOp::Mod, sock, interest, token).is_ok() {
                        slot.interest = interest;
                    }
                }
                if timer != slot.timer {
                    if let Some(old) = slot.timer {
                        self.timers.remove(&(old, token));
                    }
                    if let Some(t) = timer {
                        self.timers.insert((t, token));
                    }
                    slot.timer = timer;
                }
            }
            Next::Close => {
                let Some(slot) = self.slots.remove(&token) else { return };
                if let Some(t) = slot.timer {
                    self.timers.remove(&(t, token));
                }
                // close(2) takes the socket off the interest list too.
                let _ = stack.close(now, slot.handler.socket());
                self.stats.closed += 1;
                if let Some(p) = slot.parent {
                    self.child_closed(stack, now, p);
                }
            }
        }
    }

    fn child_closed(&mut self, stack: &mut Stack, now: Instant, parent: Token) {
        let Some(slot) = self.slots.get_mut(&parent) else { return };
        let mut spawned = Vec::new();
        let mut cx = Ctx { stack: &mut *stack, now, buf: &mut self.buf, spawned: &mut spawned };
        if let Some(next) = slot.handler.on_child_closed(&mut cx) {
            self.apply(stack, now, parent, next);
        }
    }

    /// Close every socket and the epoll instance (at shutdown).
    pub fn close(self, stack: &mut Stack, now: Instant) {
        for (_, slot) in self.slots {
            let _ = stack.close(now, slot.handler.socket());
        }
        let _ = stack.epoll_close(self.ep);
    }

    // ------------------------------------------------------------ services

    /// `synack up`'s services on one reactor: UDP echo, TCP echo, discard
    /// and chargen (listen backlog SOMAXCONN, up to `MAX_CONNS` each) and
    /// the telnet server. What cannot start is reported and skipped.
    pub fn with_services(stack: &mut Stack, now: Instant, ifname: &str) -> (Reactor, Vec<String>) {
        let cfg = ServiceConfig { backlog: SOMAXCONN, max_conns: MAX_CONNS, ..ServiceConfig::default() };
        let mut r = Reactor::new(stack);
        let mut errors = r.add_services(stack, now, &cfg);
        if let Err(e) = r.add_telnet(stack, now, TELNET_PORT, ifname) {
            errors.push(format!("telnet on port {TELNET_PORT}: {e}"));
        }
        (r, errors)
    }

    /// The classic services of `cfg`.
    pub fn add_services(&mut self, stack: &mut Stack, now: Instant, cfg: &ServiceConfig) -> Vec<String> {
        let mut errors = Vec::new();
        if cfg.udp_echo {
            let r =
                services::udp_bind(stack, ECHO_PORT).and_then(|sock| self.register(stack, Box::new(UdpEcho { sock })));
            if let Err(e) = r {
                errors.push(format!("udp echo on port {ECHO_PORT}: {e}"));
            }
        }
        for (on, port, kind) in [
            (cfg.tcp_echo, ECHO_PORT, Kind::Echo),
            (cfg.discard, DISCARD_PORT, Kind::Discard),
            (cfg.chargen, CHARGEN_PORT, Kind::Chargen),
        ] {
            if !on {
                continue;
            }
            let make: MakeHandler = Box::new(move |_stack: &mut Stack, _now: Instant, sock: SocketHandle| {
                Box::new(ConnHandler(Conn::new(sock, kind))) as Box<dyn Handler>
            });
            if let Err(e) = self.add_listener(stack, now, port, cfg.backlog, cfg.max_conns, make) {
                errors.push(format!("tcp {kind:?} on port {port}: {e}"));
            }
        }
        errors
    }

    /// The telnet server on `port` (at most `MAX_SESSIONS` sessions).
    pub fn add_telnet(&mut self, stack: &mut Stack, now: Instant, port: u16, ifname: &str) -> Result<Token, Errno> {
        let ifname = ifname.to_string();
        let mut next_ident: u16 = 0x5400;
        let step = self.step.clone();
        let make: MakeHandler = Box::new(move |stack: &mut Stack, now: Instant, sock: SocketHandle| {
            next_ident = next_ident.wrapping_add(0x10);
            let mut session = Session::new(stack, now, sock, &ifname, next_ident);
            session.set_step(step.clone());
            Box::new(TelnetHandler(session)) as Box<dyn Handler>
        });
        self.add_listener(stack, now, port, 16, MAX_SESSIONS, make)
    }

    /// A non-blocking listener on `port` whose connections `make` serves.
    pub fn add_listener(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        port: u16,
        backlog: usize,
        max_conns: usize,
        make: MakeHandler,
    ) -> Result<Token, Errno> {
        let listener = services::tcp_listen(stack, now, port, backlog)?;
        let acceptor = Acceptor { listener, make, live: 0, max_conns: max_conns.max(1) };
        self.register(stack, Box::new(acceptor)).inspect_err(|_| {
            let _ = stack.close(now, listener);
        })
    }
}

/// Makes the handler for an accepted connection.
pub type MakeHandler = Box<dyn FnMut(&mut Stack, Instant, SocketHandle) -> Box<dyn Handler>>;

/// The acceptor: `accept` until `EAGAIN` (the listener is non-blocking, so
/// a connection the peer reset between the wake-up and the `accept` cannot
/// leave the loop stuck in a blocking accept), one handler per connection.
struct Acceptor {
    listener: SocketHandle,
    make: MakeHandler,
    live: usize,
    max_conns: usize,
}

impl Acceptor {
    fn next(&self) -> Next {
        // At the limit, stop watching: the accept queue stays non-empty and
        // a level-triggered EPOLLIN would report it on every wait.
        Next::on(if self.live < self.max_conns { IN } else { EpollFlags::NONE })
    }
}

impl Handler for Acceptor {
    fn socket(&self) -> SocketHandle {
        self.listener
    }
    fn interest(&self) -> EpollFlags {
        IN
    }
    fn on_ready(&mut self, cx: &mut Ctx, _events: EpollFlags) -> Next {
        while self.live < self.max_conns {
            match cx.stack.accept(cx.now, self.listener) {
                Ok((sock, _peer)) => {
                    let _ = cx.stack.setsockopt(cx.now, sock, SockOpt::NonBlocking(true));
                    let h = (self.make)(cx.stack, cx.now, sock);
                    cx.spawn(h);
                    self.live += 1;
                }
                Err(_) => break, // EAGAIN: the accept queue is empty
            }
        }
        self.next()
    }
    fn on_child_closed(&mut self, _cx: &mut Ctx) -> Option<Next> {
        self.live = self.live.saturating_sub(1);
        Some(self.next())
    }
}

/// Echo, discard or chargen on one connection (the serving code is
/// services.rs's; the reactor only decides when to run it).
struct ConnHandler(Conn);

impl Handler for ConnHandler {
    fn socket(&self) -> SocketHandle {
        self.0.sock()
    }
    fn interest(&self) -> EpollFlags {
        match self.0.kind() {
            Kind::Chargen => IN | OUT,
            Kind::Echo | Kind::Discard => IN | RDHUP,
        }
    }
    fn on_ready(&mut self, cx: &mut Ctx, _events: EpollFlags) -> Next {
        match services::serve(cx.stack, cx.now, &mut self.0, cx.buf) {
            Err(_) => Next::Close,
            // Echo with output the send buffer refused: stop reading until
            // it has gone (backpressure), wait for room.
            Ok(_) if self.0.unsent() > 0 && self.0.kind() != Kind::Chargen => Next::on(OUT),
            Ok(_) => Next::on(self.interest()),
        }
    }
}

/// RFC 862 over UDP: each datagram back to its sender.
struct UdpEcho {
    sock: SocketHandle,
}

impl Handler for UdpEcho {
    fn socket(&self) -> SocketHandle {
        self.sock
    }
    fn interest(&self) -> EpollFlags {
        IN
    }
    fn on_ready(&mut self, cx: &mut Ctx, _events: EpollFlags) -> Next {
        while let Ok((n, from)) = cx.stack.recvfrom(cx.now, self.sock, cx.buf, MsgFlags::NONE) {
            let _ = cx.stack.sendto(cx.now, self.sock, &cx.buf[..n], Some(from));
        }
        Next::on(IN)
    }
}

/// One telnet session: the prompt over TCP (telnetd.rs serves it).
struct TelnetHandler(Session);

impl TelnetHandler {
    fn next(&self, now: Instant) -> Next {
        let mut interest = EpollFlags::NONE;
        if self.0.reading() {
            interest |= IN | RDHUP;
        }
        if self.0.unsent() > 0 {
            interest |= OUT;
        }
        let timer = self.0.ping_running().then(|| self.0.ping_poll_at().unwrap_or(now).min(now + PING_TICK));
        Next::Wait { interest, timer }
    }
}

impl Handler for TelnetHandler {
    fn socket(&self) -> SocketHandle {
        self.0.sock()
    }
    fn interest(&self) -> EpollFlags {
        IN | RDHUP | OUT // the greeting is waiting to go
    }
    fn on_ready(&mut self, cx: &mut Ctx, _events: EpollFlags) -> Next {
        match telnetd::serve(cx.stack, cx.now, &mut self.0, cx.buf) {
            Ok(_) => self.next(cx.now),
            Err(_) => Next::Close,
        }
    }
}

/// Step mode's services (step/ctl.rs, `StepCtl::turn`): a turn of the
/// reactor, and a wake-up for the session that controls stepping.
impl crate::step::Waker for Reactor {
    fn run(&mut self, stack: &mut Stack, now: Instant) {
        self.run_once(stack, now);
    }
    fn wake(&mut self, stack: &mut Stack, now: Instant, sock: SocketHandle) {
        self.wake_socket(stack, now, sock);
    }
}

/// The reactor runs next to a stack like any service: in `Sim`, or in a
/// loop that calls `poll` after each turn of the network.
impl device::Service for Reactor {
    fn poll(&mut self, stack: &mut Stack, now: Instant) {
        self.run_once(stack, now);
    }
    fn poll_at(&self) -> Option<Instant> {
        Reactor::poll_at(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use device::{BlockingSocket, Faults, Net, Side, Sim};
    use stack::{Config, MacAddr, SockType};
    use std::cell::RefCell;
    use std::net::SocketAddrV4;
    use std::rc::Rc;

    fn sim_with_reactor(faults: Faults) -> (Sim, Rc<RefCell<Reactor>>) {
        let a = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), seed: 3, ..Config::default() };
        let mut sim = Sim::new(a, Config::default(), faults);
        let now = sim.now();
        let (r, errors) = Reactor::with_services(sim.stack(Side::B), now, "tap0");
        assert!(errors.is_empty(), "{errors:?}");
        let r = Rc::new(RefCell::new(r));
        sim.add_service(Side::B, Shared(r.clone()));
        (sim, r)
    }

    /// The reactor as B's service, still reachable from the test.
    struct Shared(Rc<RefCell<Reactor>>);

    impl device::Service for Shared {
        fn poll(&mut self, stack: &mut Stack, now: Instant) {
            self.0.borrow_mut().run_once(stack, now);
        }
        fn poll_at(&self) -> Option<Instant> {
            self.0.borrow().poll_at()
        }
    }

    /// Read from `s` until the text holds `needle` (or a virtual minute passes).
    fn read_until(net: &mut impl Net, s: &mut BlockingSocket, needle: &str) -> String {
        s.set_read_timeout(Some(Duration::from_secs(60)));
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&text).contains(needle) {
            let n = s
                .recv(net, &mut buf, MsgFlags::NONE)
                .unwrap_or_else(|e| panic!("recv: {e} after {:?}", String::from_utf8_lossy(&text)));
            assert!(n > 0, "EOF before {needle:?}: {}", String::from_utf8_lossy(&text));
            text.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    #[test]
    fn serves_telnet_and_echo_concurrently() {
        let faults = Faults { latency: Duration::from_millis(1), loss: 0.02, seed: 7, ..Faults::default() };
        let (mut sim, reactor) = sim_with_reactor(faults);
        let mut host = sim.host(Side::A);
        let server = |port| SocketAddrV4::new([10, 0, 0, 2].into(), port);

        // A telnet session and 40 echo connections, all open at once.
        let mut telnet = BlockingSocket::socket(&mut host, SockType::Stream).unwrap();
        telnet.connect(&mut host, server(TELNET_PORT)).unwrap();
        let mut echoes = Vec::new();
        for _ in 0..40 {
            let s = BlockingSocket::socket(&mut host, SockType::Stream).unwrap();
            s.connect(&mut host, server(ECHO_PORT)).unwrap();
            echoes.push(s);
        }
        read_until(&mut host, &mut telnet, "synack> ");
        // Interleaved: a command on the telnet session, a message on each echo.
        telnet.send(&mut host, b"netstat\r\n", MsgFlags::NONE).unwrap();
        for (i, s) in echoes.iter().enumerate() {
            let msg = format!("message {i} for echo\n");
            assert_eq!(s.send(&mut host, msg.as_bytes(), MsgFlags::NONE).unwrap(), msg.len());
        }
        for (i, s) in echoes.iter_mut().enumerate() {
            let want = format!("message {i} for echo\n");
            assert_eq!(read_until(&mut host, s, "\n"), want);
        }
        let out = read_until(&mut host, &mut telnet, "synack> ");
        let established = out.lines().filter(|l| l.contains("ESTABLISHED")).count();
        assert_eq!(established, 41, "netstat over telnet shows every connection:\n{out}");
        // A ping from the prompt runs on the reactor's timers (its replies
        // are not socket events) while the echo connections stay open.
        telnet.send(&mut host, b"ping 10.0.0.1 -c 3 -i 0.2\r\n", MsgFlags::NONE).unwrap();
        let out = read_until(&mut host, &mut telnet, "packet loss");
        assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
        // UDP echo on the same reactor.
        let u = BlockingSocket::socket(&mut host, SockType::Dgram).unwrap();
        u.sendto(&mut host, b"datagram", server(ECHO_PORT)).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = u.recvfrom(&mut host, &mut buf, MsgFlags::NONE).unwrap();
        assert_eq!((&buf[..n], from), (&b"datagram"[..], server(ECHO_PORT)));
        // quit closes the session; closing the echo clients closes theirs.
        telnet.send(&mut host, b"quit\r\n", MsgFlags::NONE).unwrap();
        assert!(read_until(&mut host, &mut telnet, "bye").contains("bye"));
        for s in echoes {
            s.close(&mut host).unwrap();
        }
        sim.run_for(Duration::from_secs(5)).unwrap();
        let r = reactor.borrow();
        // The UDP socket and four listeners are all that is left.
        assert_eq!(r.handlers(), 5, "{:?}", r.stats());
        assert_eq!(r.stats().closed, 41);
    }

    /// At its connection limit an acceptor stops watching its listener (the
    /// accept queue stays non-empty: level-triggered, it would be reported
    /// on every wait), and starts again when one of its connections closes.
    #[test]
    fn an_acceptor_at_its_limit_pauses_without_spinning() {
        let a = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() };
        let mut sim = Sim::new(a, Config::default(), Faults::default());
        let now = sim.now();
        let mut r = Reactor::new(sim.stack(Side::B));
        let make: MakeHandler = Box::new(|_: &mut Stack, _: Instant, sock: SocketHandle| {
            Box::new(ConnHandler(Conn::new(sock, Kind::Echo))) as Box<dyn Handler>
        });
        r.add_listener(sim.stack(Side::B), now, 7, 8, 2, make).unwrap();
        let r = Rc::new(RefCell::new(r));
        sim.add_service(Side::B, Shared(r.clone()));
        let mut host = sim.host(Side::A);
        let mut conns = Vec::new();
        for _ in 0..3 {
            let s = BlockingSocket::socket(&mut host, SockType::Stream).unwrap();
            s.connect(&mut host, SocketAddrV4::new([10, 0, 0, 2].into(), 7)).unwrap();
            conns.push(s);
        }
        sim.run_for(Duration::from_secs(2)).unwrap();
        let s1 = r.borrow().stats();
        assert_eq!(r.borrow().handlers(), 1 + 2, "two served, the third waits in the accept queue");
        sim.run_for(Duration::from_secs(2)).unwrap();
        let s2 = r.borrow().stats();
        assert_eq!(s2.events, s1.events, "no event while paused: {s1:?} -> {s2:?}");
        // One closes: its handler goes, the third is accepted and served.
        let mut host = sim.host(Side::A);
        conns.remove(0).close(&mut host).unwrap();
        conns[1].send(&mut host, b"third\n", MsgFlags::NONE).unwrap();
        assert_eq!(read_until(&mut host, &mut conns[1], "\n"), "third\n");
        assert_eq!(r.borrow().handlers(), 1 + 2);
    }

    /// A wake-up costs what is ready, not what is open: with 300 idle
    /// connections registered, one message on one of them is one event.
    #[test]
    fn a_wakeup_touches_only_ready_sockets() {
        let (mut sim, reactor) = sim_with_reactor(Faults::default());
        let mut host = sim.host(Side::A);
        let mut conns = Vec::new();
        for _ in 0..300 {
            let s = BlockingSocket::socket(&mut host, SockType::Stream).unwrap();
            s.connect(&mut host, SocketAddrV4::new([10, 0, 0, 2].into(), ECHO_PORT)).unwrap();
            conns.push(s);
        }
        sim.run_for(Duration::from_secs(1)).unwrap();
        assert_eq!(reactor.borrow().handlers(), 300 + 5);
        let before = reactor.borrow().stats();
        let mut host = sim.host(Side::A);
        conns[123].send(&mut host, b"just me\n", MsgFlags::NONE).unwrap();
        assert_eq!(read_until(&mut host, &mut conns[123], "\n"), "just me\n");
        sim.run_for(Duration::from_secs(1)).unwrap();
        let after = reactor.borrow().stats();
        assert_eq!(after.events - before.events, 1, "{before:?} -> {after:?}");
    }
}
