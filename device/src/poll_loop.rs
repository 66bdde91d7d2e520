//! `NetLoop`: the one poll loop. It plays the kernel's softirq.
//!
//! Read first: the kernel's `net_rx_action` (NAPI: a driver hands up frames
//! in batches of at most a *budget*), and poll(2). One turn of the loop:
//!
//! ```text
//!   transmit   what socket calls queued since the last turn (process context)
//!   sleep      in ppoll(2) on the device fd (+ the caller's fds, e.g. stdin
//!              or a signal pipe) until a frame arrives or the stack's next
//!              deadline — never longer; no busy spin unless asked for
//!              (`set_busy_poll`: ask the fds again without sleeping for a
//!              while first, as Linux's `net.core.busy_poll` does)
//!   receive    every readable frame (up to the budget): napi_gro_receive,
//!              then napi_gro_flush (GRO: a flow's in-order TCP segments
//!              of the batch glued into one, stack/src/gro.rs)
//!   timers     handle_timeout, if the deadline has passed
//!   transmit   everything the stack queued: poll_transmit -> device
//! ```
//!
//! The caller runs its services (a UDP echo, a ping client, the prompt)
//! between turns, with `now()` and `stack`, and asks for the next turn with
//! the fds and the wake-up time those services need. The OS clock is read
//! only through `Clock`, here.

use crate::clock::Clock;
use crate::Device;
use stack::time::earliest;
use stack::{Config, Duration, Instant, Stack, TraceEvent};
use std::io;
use std::os::unix::io::RawFd;

/// Frames handed to the stack per wake-up before transmit gets a turn
/// (NAPI's default weight is 64).
pub const RX_BUDGET: usize = 64;

/// What the loop has done since it started.
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq)]
pub struct LoopStats {
    /// Returns from ppoll(2).
    pub wakeups: u64,
    pub frames_in: u64,
    pub frames_out: u64,
    /// Calls of `handle_timeout`.
    pub timer_runs: u64,
    /// Frames the device refused to send (counted, then dropped, as a full
    /// NIC queue would).
    pub tx_errors: u64,
    /// Turns that found an fd ready while busy polling, before sleeping.
    pub busy_poll_hits: u64,
}

/// What one turn found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wakeup {
    /// The time after the sleep.
    pub now: Instant,
    /// The caller's extra fds that are readable (or hung up).
    pub readable: Vec<RawFd>,
    pub frames_in: usize,
    pub frames_out: usize,
    pub timer_ran: bool,
    /// ppoll was interrupted by a signal.
    pub interrupted: bool,
}

/// Where trace events go as they happen (`NetLoop::on_event`).
pub type EventSink = Box<dyn FnMut(&TraceEvent)>;

pub struct NetLoop<D: Device> {
    pub stack: Stack,
    pub dev: D,
    clock: Clock,
    stats: LoopStats,
    budget: usize,
    on_event: Option<EventSink>,
    last_tx_error: Option<io::Error>,
    busy_poll: Option<Duration>,
}

impl<D: Device> NetLoop<D> {
    /// A loop on `dev` with a new stack, its clock starting now.
    pub fn new(dev: D, config: Config) -> NetLoop<D> {
        let clock = Clock::new();
        let stack = Stack::new(config, clock.now());
        NetLoop::with_stack(dev, stack, clock)
    }

    /// A loop around a stack that already exists, on `clock`.
    pub fn with_stack(dev: D, stack: Stack, clock: Clock) -> NetLoop<D> {
        NetLoop {
            stack,
            dev,
            clock,
            stats: LoopStats::default(),
            budget: RX_BUDGET,
            on_event: None,
            last_tx_error: None,
            busy_poll: None,
        }
    }

    /// The stack's time now (reads the OS clock).
    pub fn now(&self) -> Instant {
        self.clock.now()
    }
    /// The device (for its `poll_at`, say).
    pub fn device(&self) -> &D {
        &self.dev
    }
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
    /// The clock, to freeze and thaw it (step mode, apps/src/step/ctl.rs).
    pub fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }
    pub fn stats(&self) -> LoopStats {
        self.stats
    }
    /// The last error the device gave on send, taken (the loop goes on after one).
    pub fn take_tx_error(&mut self) -> Option<io::Error> {
        self.last_tx_error.take()
    }
    pub fn set_rx_budget(&mut self, budget: usize) {
        self.budget = budget.max(1);
    }

    /// Busy polling (Linux `net.core.busy_poll`, `SO_BUSY_POLL`): before
    /// each sleep, ask the fds again with a zero timeout for up to `d`, so
    /// that a frame arriving meanwhile is read at once instead of after the
    /// scheduler wakes the thread (tens of µs on a virtual machine). It
    /// costs CPU: the thread spins for `d` after every turn, so a `d`
    /// longer than the gaps between frames keeps a core busy all the time.
    /// `None` (the default): always sleep.
    pub fn set_busy_poll(&mut self, d: Option<Duration>) {
        self.busy_poll = d.filter(|d| !d.is_zero());
    }

    /// Hand each of the stack's trace events to `f` as soon as it happens:
    /// after each frame in and each timer run, so the events print under the
    /// frame that caused them. Tracing must be on in the stack
    /// (`stack.trace_mut().set_enabled(true)`).
    pub fn on_event(&mut self, f: impl FnMut(&TraceEvent) + 'static) {
        self.on_event = Some(Box::new(f));
    }

    /// Hand the events queued so far to the `on_event` sink now (step
    /// mode does, before it takes a step's own events). Without a sink
    /// they stay queued.
    pub fn flush_events(&mut self) {
        self.drain_events();
    }

    fn drain_events(&mut self) {
        if let Some(f) = self.on_event.as_mut() {
            while let Some(ev) = self.stack.poll_event() {
                f(&ev);
            }
        }
    }

    /// Send every frame the stack has queued. Errors are counted and the
    /// frame dropped: a TAP whose link is down (EIO) or full (EAGAIN,
    /// ENOBUFS) loses frames, as a real NIC would, and TCP retransmits.
    pub fn transmit(&mut self, now: Instant) -> usize {
        // What process context did (a close, a send) reads before the
        // frames it made.
        self.drain_events();
        let mut n = 0;
        while let Some(skb) = self.stack.poll_transmit(now) {
            match self.dev.send(now, &skb) {
                Ok(()) => n += 1,
                Err(e) => {
                    self.stats.tx_errors += 1;
                    self.last_tx_error = Some(e);
                }
            }
        }
        self.stats.frames_out += n as u64;
        n
    }

    /// The work of a turn once awake at `now`: frames in (when `read`, up to
    /// the budget), the stack's timers if due, frames out. `poll_once` calls
    /// it after the sleep; a replay calls it at the recorded instants, so a
    /// replayed turn runs this very code. Returns (frames in, timer ran,
    /// frames out).
    pub fn run_turn(&mut self, now: Instant, read: bool) -> io::Result<(usize, bool, usize)> {
        let mut frames_in = 0;
        if read {
            // NAPI's poll: each frame to `napi_gro_receive` (which may hold
            // a TCP segment to glue the next ones of its flow to it), then
            // `napi_gro_flush` once the batch is read, so that TCP sees,
            // and ACKs, the batch's in-order data of a flow at once
            // (stack/src/gro.rs). An error ends the batch; what GRO holds
            // still goes up.
            let mut err = None;
            while frames_in < self.budget {
                let skb = match self.dev.recv(now) {
                    Ok(Some(skb)) => skb,
                    Ok(None) => break,
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                };
                self.stack.napi_gro_receive(now, skb);
                frames_in += 1;
                self.drain_events();
            }
            self.stack.napi_gro_flush(now);
            self.drain_events();
            if let Some(e) = err {
                self.stats.frames_in += frames_in as u64;
                return Err(e);
            }
        }
        self.stats.frames_in += frames_in as u64;

        // Timers.
        let timer_ran = self.stack.poll_timeout().is_some_and(|t| t <= now);
        if timer_ran {
            self.stack.handle_timeout(now);
            self.stats.timer_runs += 1;
            self.drain_events();
        }

        // Transmit.
        let frames_out = self.transmit(now);
        Ok((frames_in, timer_ran, frames_out))
    }

    /// One turn of the loop (see the module comment). Sleeps at most until
    /// the earliest of the stack's deadline, the device's `poll_at` and
    /// `wake_at`; with none of them, until a frame or an `extra_fds` event.
    pub fn poll_once(&mut self, extra_fds: &[RawFd], wake_at: Option<Instant>) -> io::Result<Wakeup> {
        // Process context may have queued frames (a sendto) and events.
        let now = self.clock.now();
        let mut frames_out = self.transmit(now);

        // Sleep. While the clock is frozen (step mode) the stack's and the
        // device's deadlines that lie ahead cannot come: sleep on the fds.
        let mut own = earliest(self.stack.poll_timeout(), self.dev.poll_at());
        if self.clock.is_frozen() {
            own = own.filter(|&t| t <= now);
        }
        let deadline = earliest(own, wake_at);
        let timeout = deadline.map(|d| d.saturating_since(now));
        let dev_fd = self.dev.raw_fd();
        let mut fds: Vec<libc::pollfd> =
            dev_fd.iter().chain(extra_fds).map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
        let spun = match self.busy_poll {
            Some(b) if !self.clock.is_frozen() && timeout.is_none_or(|t| !t.is_zero()) => {
                self.busy_poll(&mut fds, now + b.min(timeout.unwrap_or(b)))?
            }
            _ => false,
        };
        let interrupted = if spun {
            self.stats.busy_poll_hits += 1;
            false
        } else {
            let now_after = self.clock.now();
            let timeout = deadline.map(|d| d.saturating_since(now_after));
            match ppoll(&mut fds, timeout) {
                Ok(_) => false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
                Err(e) => return Err(e),
            }
        };
        self.stats.wakeups += 1;
        let now = self.clock.now();
        let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
        let readable = fds.iter().skip(dev_fd.is_some() as usize).filter(|p| ready(p)).map(|p| p.fd).collect();

        // Receive: with an fd, only when it polled readable (no wasted
        // read(2) on a timer wake-up) or the device itself asked to be
        // polled now (a middleware holding frames, `faults::Scripted`);
        // without one, ask the device.
        let dev_due = self.dev.poll_at().is_some_and(|t| t <= now);
        let read = dev_fd.is_none() || dev_due || fds.first().is_some_and(ready);
        let (frames_in, timer_ran, sent) = self.run_turn(now, read)?;
        frames_out += sent;
        Ok(Wakeup { now, readable, frames_in, frames_out, timer_ran, interrupted })
    }
}

impl<D: Device> NetLoop<D> {
    /// Ask `fds` with a zero timeout until one is ready (true) or `until`
    /// passes (false).
    fn busy_poll(&self, fds: &mut [libc::pollfd], until: Instant) -> io::Result<bool> {
        loop {
            match ppoll(fds, Some(Duration::ZERO)) {
                Ok(n) if n > 0 => return Ok(true),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
                Err(e) => return Err(e),
            }
            if self.clock.now() >= until {
                return Ok(false);
            }
            std::hint::spin_loop();
        }
    }
}

/// ppoll(2) with a microsecond-exact timeout (poll(2) rounds to
/// milliseconds, which would wake us early and spin). `None` sleeps until an
/// fd is ready or a signal arrives.
pub fn ppoll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    // Cap at a day: a longer sleep is the same as "until something happens".
    let ts = timeout.map(|d| {
        let d = d.min(Duration::from_secs(86_400));
        libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long }
    });
    let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `fds` is a valid slice of pollfd; `tsp` is null or points to a
    // timespec that lives until the call returns; a null sigmask keeps ours.
    let n = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, tsp, std::ptr::null()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dgram::UnixDgram;
    use stack::neighbour::ArpConfig;
    use stack::wire::arp::{ARPOP_REPLY, ARPOP_REQUEST};
    use stack::wire::ethernet::ETHERTYPE_ARP;
    use stack::wire::{ArpPacket, ArpRepr, EthernetFrame};
    use stack::MacAddr;
    use std::os::unix::io::AsRawFd;

    fn quiet_config() -> Config {
        Config { gratuitous_arp: false, ..Config::default() }
    }

    /// `who-has 10.0.0.2 tell 10.0.0.1`, broadcast from `host`.
    fn arp_request_from(host: MacAddr) -> stack::SkBuff {
        let a = ArpRepr {
            op: ARPOP_REQUEST,
            sha: host,
            spa: [10, 0, 0, 1].into(),
            tha: MacAddr::ZERO,
            tpa: [10, 0, 0, 2].into(),
        };
        stack::SkBuff::from_frame(&stack::wire::frame::arp_frame(MacAddr::BROADCAST, &a))
    }

    /// Frames the fake peer end received.
    fn drain(peer: &mut UnixDgram) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        while let Some(skb) = peer.recv(Instant::ZERO).unwrap() {
            v.push(skb.data().to_vec());
        }
        v
    }

    #[test]
    fn sleeps_until_the_stack_deadline_then_runs_the_timer() {
        let (dev, mut peer) = UnixDgram::pair().unwrap();
        let arp = ArpConfig { retrans_time: Duration::from_millis(50), ..ArpConfig::default() };
        let mut net = NetLoop::new(dev, Config { arp, ..quiet_config() });
        // Nobody answers 10.0.0.9: the stack sends an ARP request now and
        // sets a 50 ms retransmit timer.
        let now = net.now();
        net.stack.ping_send(now, [10, 0, 0, 9].into(), 1, 1, 56).unwrap();
        let deadline = net.stack.poll_timeout().expect("ARP retransmit timer");
        let start = std::time::Instant::now();
        let w = net.poll_once(&[], Some(now + Duration::from_secs(5))).unwrap();
        let slept = start.elapsed();
        assert!(w.timer_ran, "woke for the timer: {w:?}");
        assert!(w.now >= deadline);
        assert!(slept >= std::time::Duration::from_millis(45), "slept only {slept:?}");
        assert!(slept < std::time::Duration::from_secs(4), "overslept: {slept:?}");
        assert_eq!(w.frames_out, 2, "the first request before sleeping, the retransmit after");
        let frames = drain(&mut peer);
        assert_eq!(frames.len(), 2);
        let broadcast_arp = |f: &Vec<u8>| {
            let eth = EthernetFrame::new_checked(&f[..]).unwrap();
            eth.ethertype() == ETHERTYPE_ARP && eth.dst_addr().is_broadcast()
        };
        assert!(frames.iter().all(broadcast_arp));
    }

    #[test]
    fn does_not_spin_when_nothing_is_due() {
        let (dev, _peer) = UnixDgram::pair().unwrap();
        let mut net = NetLoop::new(dev, quiet_config());
        assert_eq!(net.stack.poll_timeout(), None);
        let until = net.now() + Duration::from_millis(60);
        let mut turns = 0;
        while net.now() < until {
            net.poll_once(&[], Some(until)).unwrap();
            turns += 1;
            assert!(turns < 10, "busy loop: {turns} turns in 60 ms");
        }
        assert!(turns >= 1);
    }

    #[test]
    fn wakes_for_an_extra_fd_and_reports_it() {
        let (dev, _peer) = UnixDgram::pair().unwrap();
        let mut net = NetLoop::new(dev, quiet_config());
        let (rd, mut wr) = std::os::unix::net::UnixStream::pair().unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            std::io::Write::write_all(&mut wr, b"x").unwrap();
            wr
        });
        let safety = net.now() + Duration::from_secs(5);
        let mut w = Wakeup::default();
        for _ in 0..100 {
            w = net.poll_once(&[rd.as_raw_fd()], Some(safety)).unwrap();
            if !w.readable.is_empty() {
                break;
            }
        }
        assert_eq!(w.readable, vec![rd.as_raw_fd()]);
        assert!(w.now < safety);
        t.join().unwrap();
    }

    #[test]
    fn answers_frames_in_a_batch() {
        let (dev, mut peer) = UnixDgram::pair().unwrap();
        let mut net = NetLoop::new(dev, quiet_config());
        // Three ARP requests for 10.0.0.2 from 10.0.0.1.
        let host = MacAddr([2, 0, 0, 0, 0, 1]);
        for _ in 0..3 {
            peer.send(Instant::ZERO, &arp_request_from(host)).unwrap();
        }
        let safety = net.now() + Duration::from_secs(5);
        let w = net.poll_once(&[], Some(safety)).unwrap();
        assert_eq!((w.frames_in, w.frames_out), (3, 3));
        let replies = drain(&mut peer);
        assert_eq!(replies.len(), 3);
        let is_reply_to_host = |f: &Vec<u8>| {
            let eth = EthernetFrame::new_checked(&f[..]).unwrap();
            let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
            eth.dst_addr() == host && arp.op == ARPOP_REPLY
        };
        assert!(replies.iter().all(is_reply_to_host), "ARP replies to the host");
        assert_eq!(net.stats().frames_in, 3);
    }

    #[test]
    fn events_are_handed_over_as_they_happen() {
        let (dev, mut peer) = UnixDgram::pair().unwrap();
        let mut net = NetLoop::new(dev, quiet_config());
        net.stack.trace_mut().set_enabled(true);
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let s2 = seen.clone();
        net.on_event(move |ev| s2.borrow_mut().push(ev.text.clone()));
        // A frame of an unknown EtherType is dropped with a reason.
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5];
        f.extend_from_slice(&[0; 46]);
        peer.send(Instant::ZERO, &stack::SkBuff::from_frame(&f)).unwrap();
        net.poll_once(&[], Some(net.now() + Duration::from_secs(5))).unwrap();
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("eth_unknown_ethertype"), "{seen:?}");
    }

    #[test]
    fn busy_polling_finds_a_frame_without_sleeping() {
        let (dev, mut peer) = UnixDgram::pair().unwrap();
        let mut net = NetLoop::new(dev, quiet_config());
        let frame = arp_request_from(MacAddr([2, 0, 0, 0, 0, 1]));
        // Asleep (the default), the frame wakes ppoll: no busy-poll hit.
        let f2 = frame.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            peer.send(Instant::ZERO, &f2).unwrap();
            peer
        });
        let w = net.poll_once(&[], Some(net.now() + Duration::from_secs(5))).unwrap();
        let mut peer = t.join().unwrap();
        assert_eq!(w.frames_in, 1);
        assert_eq!(net.stats().busy_poll_hits, 0);
        // Busy polling for up to 1 s: the same frame is found by the spin.
        net.set_busy_poll(Some(Duration::from_secs(1)));
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            peer.send(Instant::ZERO, &frame).unwrap();
            peer
        });
        let start = std::time::Instant::now();
        let w = net.poll_once(&[], Some(net.now() + Duration::from_secs(5))).unwrap();
        let _peer = t.join().unwrap();
        assert_eq!(w.frames_in, 1);
        assert_eq!(net.stats().busy_poll_hits, 1, "found while spinning");
        assert!(start.elapsed() < std::time::Duration::from_millis(900), "did not wait out the spin");
        // Nothing comes: the spin ends at the deadline, not later.
        let start = std::time::Instant::now();
        let w = net.poll_once(&[], Some(net.now() + Duration::from_millis(30))).unwrap();
        assert_eq!(w.frames_in, 0);
        assert!(start.elapsed() >= std::time::Duration::from_millis(25), "{:?}", start.elapsed());
        assert!(start.elapsed() < std::time::Duration::from_millis(500), "{:?}", start.elapsed());
        assert_eq!(net.stats().busy_poll_hits, 1);
    }

    #[test]
    fn a_frozen_clock_runs_no_timer() {
        let (dev, mut peer) = UnixDgram::pair().unwrap();
        let arp = ArpConfig { retrans_time: Duration::from_millis(20), ..ArpConfig::default() };
        let mut net = NetLoop::new(dev, Config { arp, ..quiet_config() });
        let now = net.now();
        net.stack.ping_send(now, [10, 0, 0, 9].into(), 1, 1, 56).unwrap();
        net.clock_mut().freeze();
        let frozen = net.now();
        let start = std::time::Instant::now();
        // The ARP retransmit is due in 20 ms of stack time, which does not pass.
        let w = net.poll_once(&[], Some(frozen + Duration::from_millis(1))).unwrap();
        let w2 = net.poll_once(&[], Some(frozen + Duration::from_millis(1))).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(40));
        let w3 = net.poll_once(&[], Some(frozen + Duration::from_millis(1))).unwrap();
        assert!(start.elapsed() >= std::time::Duration::from_millis(40));
        assert!(!w.timer_ran && !w2.timer_ran && !w3.timer_ran);
        assert_eq!(net.now(), frozen);
        assert_eq!(drain(&mut peer).len(), 1, "only the first request");
        net.clock_mut().thaw();
        let w = net.poll_once(&[], Some(net.now() + Duration::from_secs(5))).unwrap();
        assert!(w.timer_ran, "the retransmit runs once time runs again");
        assert_eq!(drain(&mut peer).len(), 1);
    }
}
