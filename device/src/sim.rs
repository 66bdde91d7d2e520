//! `Sim`: two stacks on an in-memory `Wire`, on a virtual clock.
//!
//! This is how whole-stack behaviour is tested without a TAP, a network
//! namespace or a single real second: the driver does what the poll loop
//! does (frames in, timers, services, frames out), and when nothing more can
//! happen *now* it jumps the clock straight to the earliest deadline — a
//! stack's timer, a frame's arrival on the wire, a service's timer. A
//! two-minute TIME_WAIT passes in microseconds, and with a seeded wire the
//! whole run is a pure function of its inputs.
//!
//! ```
//! use device::{Faults, Side, Sim};
//! use stack::{Config, Duration, MacAddr};
//! let a = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() };
//! let mut sim = Sim::new(a, Config::default(), Faults::default());
//! let now = sim.now();
//! sim.stack(Side::A).ping_send(now, [10, 0, 0, 2].into(), 1, 1, 56).unwrap();
//! sim.run_until(|s| s.stack(Side::A).ping_recv().is_some(), Duration::from_secs(5)).unwrap();
//! ```

use crate::faults::{FaultLog, FaultScript, Scripted};
use crate::socket::Net;
use crate::wire::{Faults, Side, Wire};
use crate::{Device, Service};
use stack::time::earliest;
use stack::{Config, Duration, Instant, Stack};
use std::fmt;
use std::io;

/// Rounds of "frames in, timers, frames out" at one instant before the
/// simulation calls it a livelock (two stacks answering each other forever).
const MAX_ROUNDS: usize = 100_000;
/// Clock jumps in one `run_until` / `run_for`.
const MAX_STEPS: u64 = 10_000_000;

#[derive(Debug)]
pub enum SimError {
    /// The virtual time limit passed and the condition never held.
    Timeout { now: Instant },
    /// Nothing is scheduled any more (no timer, nothing on the wire), and
    /// the condition does not hold: waiting longer cannot help.
    Idle { now: Instant },
    /// Frames or timers kept coming at one instant without end.
    Livelock { now: Instant },
    /// Too many clock jumps.
    StepLimit { now: Instant },
    /// A device failed (only devices other than the wire can).
    Device(io::Error),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Timeout { now } => write!(f, "simulation timed out at t={now}"),
            SimError::Idle { now } => write!(f, "simulation went idle at t={now} with the condition still false"),
            SimError::Livelock { now } => write!(f, "livelock at t={now}: work at one instant never ended"),
            SimError::StepLimit { now } => write!(f, "step limit reached at t={now}"),
            SimError::Device(e) => write!(f, "device error: {e}"),
        }
    }
}

impl std::error::Error for SimError {}

impl From<io::Error> for SimError {
    fn from(e: io::Error) -> Self {
        SimError::Device(e)
    }
}

struct Node {
    stack: Stack,
    dev: Box<dyn Device>,
    services: Vec<Box<dyn Service>>,
}

pub struct Sim {
    now: Instant,
    nodes: [Node; 2],
    wire: Option<Wire>,
    /// The fault reports of each side's `Scripted` port (`Sim::scripted`).
    fault_logs: [Option<FaultLog>; 2],
    /// Clock jumps so far.
    steps: u64,
}

impl Sim {
    /// Two stacks, A and B, on a new wire with `faults`, at time zero.
    pub fn new(a: Config, b: Config, faults: Faults) -> Sim {
        let wire = Wire::new(faults);
        let mut sim =
            Sim::with_devices(a, Box::new(wire.port(Side::A)), b, Box::new(wire.port(Side::B)), Instant::ZERO);
        sim.wire = Some(wire);
        sim
    }

    /// Two stacks on a new wire with `faults`, each port behind a fault
    /// script (`faults::Scripted`): `in` and `out` are seen from that side's
    /// stack, so `script_a = "drop out tcp data #3"` drops A's third data
    /// segment. `fault_log(side)` says what each script did.
    pub fn scripted(a: Config, b: Config, faults: Faults, script_a: FaultScript, script_b: FaultScript) -> Sim {
        let wire = Wire::new(faults);
        let port_a = Scripted::new(wire.port(Side::A), script_a);
        let port_b = Scripted::new(wire.port(Side::B), script_b);
        let logs = [Some(port_a.log()), Some(port_b.log())];
        let mut sim = Sim::with_devices(a, Box::new(port_a), b, Box::new(port_b), Instant::ZERO);
        sim.wire = Some(wire);
        sim.fault_logs = logs;
        sim
    }

    /// The faults `side`'s script applied so far (`Sim::scripted` only).
    pub fn fault_log(&self, side: Side) -> Option<&FaultLog> {
        self.fault_logs[side as usize].as_ref()
    }

    /// Two stacks on devices of your choice (say a `PcapWriter<WirePort>`),
    /// starting at `start`.
    pub fn with_devices(a: Config, dev_a: Box<dyn Device>, b: Config, dev_b: Box<dyn Device>, start: Instant) -> Sim {
        let node = |cfg, dev| Node { stack: Stack::new(cfg, start), dev, services: Vec::new() };
        Sim { now: start, nodes: [node(a, dev_a), node(b, dev_b)], wire: None, fault_logs: [None, None], steps: 0 }
    }

    pub fn now(&self) -> Instant {
        self.now
    }
    pub fn stack(&mut self, side: Side) -> &mut Stack {
        &mut self.node(side).stack
    }
    /// Both stacks at once (A, B).
    pub fn stacks(&mut self) -> (&mut Stack, &mut Stack) {
        let [a, b] = &mut self.nodes;
        (&mut a.stack, &mut b.stack)
    }
    /// The wire, when the simulation made it (`Sim::new`).
    pub fn wire(&self) -> Option<&Wire> {
        self.wire.as_ref()
    }
    /// Clock jumps made so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }
    /// Run `service` next to `side`'s stack, after every round.
    pub fn add_service(&mut self, side: Side, service: impl Service + 'static) {
        self.node(side).services.push(Box::new(service));
    }
    /// Take the devices back (A, B), e.g. to flush a capture.
    pub fn into_devices(self) -> (Box<dyn Device>, Box<dyn Device>) {
        let [a, b] = self.nodes;
        (a.dev, b.dev)
    }

    fn node(&mut self, side: Side) -> &mut Node {
        match side {
            Side::A => &mut self.nodes[0],
            Side::B => &mut self.nodes[1],
        }
    }

    /// Do everything that is due at the current instant, until nothing
    /// moves: for each stack, frames in, timers, services, frames out — the
    /// same order as the real poll loop.
    pub fn poll(&mut self) -> Result<(), SimError> {
        self.poll_moved().map(|_| ())
    }

    /// `poll`, and whether anything moved (a frame in or out, a timer ran):
    /// only then can a socket's readiness have changed at this instant.
    fn poll_moved(&mut self) -> Result<bool, SimError> {
        let now = self.now;
        let mut moved = false;
        for _ in 0..MAX_ROUNDS {
            let mut busy = false;
            for n in &mut self.nodes {
                // A batch, as the poll loop reads one (poll_loop.rs
                // `run_turn`): GRO may glue a flow's segments until the flush.
                while let Some(skb) = n.dev.recv(now)? {
                    n.stack.napi_gro_receive(now, skb);
                    busy = true;
                }
                n.stack.napi_gro_flush(now);
                if n.stack.poll_timeout().is_some_and(|t| t <= now) {
                    n.stack.handle_timeout(now);
                    busy = true;
                }
                for s in &mut n.services {
                    s.poll(&mut n.stack, now);
                }
                while let Some(skb) = n.stack.poll_transmit(now) {
                    n.dev.send(now, &skb)?;
                    busy = true;
                }
            }
            if !busy {
                return Ok(moved);
            }
            moved = true;
        }
        Err(SimError::Livelock { now })
    }

    /// The earliest time anything is scheduled: a stack timer, a frame due
    /// on a device, a service timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut t = None;
        for n in &self.nodes {
            t = earliest(t, n.stack.poll_timeout());
            t = earliest(t, n.dev.poll_at());
            for s in &n.services {
                t = earliest(t, s.poll_at());
            }
        }
        t
    }

    /// Do what is due now, then jump to the next deadline (never past
    /// `limit`). Returns false when nothing is scheduled at all.
    fn step(&mut self, limit: Instant) -> Result<bool, SimError> {
        self.poll()?;
        let Some(next) = self.next_deadline() else { return Ok(false) };
        self.steps += 1;
        // A deadline already passed (a service that did not act on its
        // timer) still moves the clock on by a microsecond: no spinning.
        let next = next.max(self.now + Duration::from_micros(1));
        self.now = next.min(limit);
        Ok(true)
    }

    /// Run until `cond` holds, at most `max` of virtual time from now.
    /// Returns the virtual time at which it held.
    pub fn run_until(&mut self, mut cond: impl FnMut(&mut Sim) -> bool, max: Duration) -> Result<Instant, SimError> {
        let limit = self.now + max;
        for _ in 0..MAX_STEPS {
            self.poll()?;
            if cond(self) {
                return Ok(self.now);
            }
            if self.now >= limit {
                return Err(SimError::Timeout { now: self.now });
            }
            if !self.step(limit)? {
                return Err(SimError::Idle { now: self.now });
            }
        }
        Err(SimError::StepLimit { now: self.now })
    }

    /// Let `d` of virtual time pass, doing everything scheduled in it.
    pub fn run_for(&mut self, d: Duration) -> Result<(), SimError> {
        let limit = self.now + d;
        for _ in 0..MAX_STEPS {
            if !self.step(limit)? {
                self.now = limit;
            }
            if self.now >= limit {
                return self.poll();
            }
        }
        Err(SimError::StepLimit { now: self.now })
    }

    /// Jump the clock forward by `d` without running anything in between
    /// (frames and timers that fell due are handled at the new time, late).
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }
}

/// One side of a simulation, as the network a blocking socket call waits
/// on (`socket::Net`): waiting runs the whole simulation in virtual time.
pub struct SimHost<'a> {
    sim: &'a mut Sim,
    side: Side,
}

impl Sim {
    /// `side`'s view for blocking socket calls.
    pub fn host(&mut self, side: Side) -> SimHost<'_> {
        SimHost { sim: self, side }
    }
}

impl SimHost<'_> {
    pub fn sim(&mut self) -> &mut Sim {
        self.sim
    }
}

impl Net for SimHost<'_> {
    fn stack(&mut self) -> &mut Stack {
        self.sim.stack(self.side)
    }
    fn now(&mut self) -> Instant {
        self.sim.now
    }
    /// Do what is due now; if that moved anything (the call just queued a
    /// SYN, a frame came), return at this instant so the caller looks at its
    /// socket before time moves on: a blocking call returns at the virtual
    /// instant its condition became true. Otherwise jump to the next deadline
    /// (at most `deadline`) and do what is due then. With nothing scheduled
    /// and no deadline, the call would wait forever: that is an error in a
    /// simulation.
    fn wait(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        let limit = deadline.unwrap_or(Instant::from_micros(u64::MAX));
        let to_io = |e: SimError| match e {
            SimError::Device(e) => e,
            other => io::Error::other(other.to_string()),
        };
        if self.sim.poll_moved().map_err(to_io)? {
            return Ok(());
        }
        let moved = self.sim.step(limit).map_err(to_io)?;
        if !moved {
            match deadline {
                Some(d) => self.sim.now = self.sim.now.max(d),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!("simulation idle at t={}: this call would block forever", self.sim.now),
                    ))
                }
            }
        }
        self.sim.poll().map_err(to_io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::{MacAddr, MsgFlags, SockType};
    use std::net::SocketAddrV4;

    fn a_cfg() -> Config {
        Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), seed: 11, ..Config::default() }
    }

    #[test]
    fn ping_across_a_slow_wire_takes_virtual_time_only() {
        let faults = Faults { latency: Duration::from_millis(200), ..Faults::default() };
        let mut sim = Sim::new(a_cfg(), Config::default(), faults);
        let wall = std::time::Instant::now();
        let now = sim.now();
        sim.stack(Side::A).ping_send(now, [10, 0, 0, 2].into(), 1, 1, 56).unwrap();
        let mut reply = None;
        let t = sim
            .run_until(
                |s| {
                    reply = s.stack(Side::A).ping_recv();
                    reply.is_some()
                },
                Duration::from_secs(120),
            )
            .unwrap();
        // A's ARP request is still on its way when B's gratuitous ARP (sent
        // at t=0) arrives at 200 ms and resolves B for A: the echo request
        // leaves then, and its reply is back after two more crossings.
        assert_eq!(t, Instant::from_millis(600));
        assert_eq!(reply.unwrap().rtt, Some(Duration::from_millis(600)));
        // Long timers pass in no real time: the ARP entry goes stale after 30 s.
        sim.run_for(Duration::from_secs(600)).unwrap();
        assert_eq!(sim.now(), Instant::from_secs(600) + Duration::from_millis(600));
        assert!(wall.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn run_until_times_out_and_goes_idle() {
        let mut sim = Sim::new(a_cfg(), Config::default(), Faults::default());
        sim.run_for(Duration::from_secs(1)).unwrap();
        assert_eq!(sim.now(), Instant::from_secs(1));
        // Nothing scheduled and nothing will be: idle, not a hang.
        match sim.run_until(|_| false, Duration::from_secs(3600)) {
            Err(SimError::Idle { .. }) => {}
            other => panic!("expected Idle, got {other:?}"),
        }
        // A service with a timer every second keeps time moving; the limit stops it.
        struct Tick(Instant);
        impl Service for Tick {
            fn poll(&mut self, _: &mut Stack, now: Instant) {
                if now >= self.0 {
                    self.0 = now + Duration::from_secs(1);
                }
            }
            fn poll_at(&self) -> Option<Instant> {
                Some(self.0)
            }
        }
        sim.add_service(Side::B, Tick(Instant::ZERO));
        let start = sim.now();
        match sim.run_until(|_| false, Duration::from_secs(10)) {
            Err(SimError::Timeout { now }) => assert_eq!(now, start + Duration::from_secs(10)),
            other => panic!("expected Timeout, got {other:?}"),
        }
    }

    #[test]
    fn services_run_next_to_their_stack() {
        let mut sim = Sim::new(a_cfg(), Config::default(), Faults::default());
        // B: a UDP echo written as a closure service.
        let h = sim.stack(Side::B).socket(SockType::Dgram).unwrap();
        sim.stack(Side::B).bind(h, "0.0.0.0:7".parse().unwrap()).unwrap();
        sim.add_service(Side::B, move |st: &mut Stack, now: Instant| {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = st.recvfrom(now, h, &mut buf, MsgFlags::NONE) {
                st.sendto(now, h, &buf[..n], Some(from)).unwrap();
            }
        });
        let (a, _) = sim.stacks();
        let c = a.socket(SockType::Dgram).unwrap();
        let to: SocketAddrV4 = "10.0.0.2:7".parse().unwrap();
        a.sendto(Instant::ZERO, c, b"hello", Some(to)).unwrap();
        let mut buf = [0u8; 64];
        let mut got = None;
        sim.run_until(
            |s| {
                let now = s.now();
                got = s.stack(Side::A).recvfrom(now, c, &mut buf, MsgFlags::NONE).ok();
                got.is_some()
            },
            Duration::from_secs(1),
        )
        .unwrap();
        let (n, from) = got.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from, to);
    }
}
