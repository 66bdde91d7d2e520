//! `Wire`: an in-memory Ethernet cable between two stacks, with faults.
//!
//! The wire has two ends, `Side::A` and `Side::B`; each end is a `Device`
//! (`WirePort`). A frame sent at one end arrives at the other after the
//! wire's latency (plus jitter), unless the wire's faults decide otherwise:
//!
//! - **loss**: the frame vanishes;
//! - **duplication**: it arrives twice (the copy with its own delay);
//! - **reordering**: it is held back by `reorder_delay`, so frames sent
//!   after it overtake it;
//! - **corruption**: one bit after the Ethernet header flips (there is no
//!   FCS here, so the stack's IP/ICMP/UDP/TCP checksums must catch it).
//!
//! The wire has no clock of its own: it works on the time it is given
//! (`now` in `send` and `recv`), and says when its next frame is due
//! (`poll_at`), so a simulation jumps time straight there. Every decision
//! comes from one RNG seeded from `Faults::seed`, drawing the same numbers
//! for every frame whatever the probabilities: the same seed and the same
//! traffic give the same losses, run after run.

use crate::Device;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stack::wire::ethernet::ETH_HLEN;
use stack::{Duration, Instant, SkBuff};
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::rc::Rc;

/// One end of a two-ended link (a wire, a simulation).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// What can go wrong on the wire. `Faults::default()` is a perfect cable
/// with no delay.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Probability (0.0 ..= 1.0) that a frame is lost.
    pub loss: f64,
    /// Probability that a frame arrives twice.
    pub duplicate: f64,
    /// Probability that a frame is held back by `reorder_delay`.
    pub reorder: f64,
    pub reorder_delay: Duration,
    /// Probability that one bit of the frame (after the Ethernet header) flips.
    pub corrupt: f64,
    /// One-way delay of every frame.
    pub latency: Duration,
    /// Extra delay, uniform in `0..=jitter`. The link stays first-in
    /// first-out, like a real one: a frame is never delivered before one
    /// sent earlier in the same direction (only `reorder` reorders).
    pub jitter: Duration,
    /// Frames in flight per direction; more are dropped (a full queue).
    pub queue_limit: usize,
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(10),
            corrupt: 0.0,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            queue_limit: 10_000,
            seed: 1,
        }
    }
}

impl Faults {
    /// A lossy wire: `loss` probability, everything else perfect.
    pub fn lossy(loss: f64, seed: u64) -> Faults {
        Faults { loss, seed, ..Faults::default() }
    }
}

/// What the wire did, in one direction (or both, added up).
#[derive(Copy, Clone, Default, PartialEq, Eq, Debug)]
pub struct WireStats {
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
    /// Dropped because `queue_limit` frames were already in flight.
    pub overflowed: u64,
}

impl WireStats {
    fn add(self, o: WireStats) -> WireStats {
        WireStats {
            sent: self.sent + o.sent,
            delivered: self.delivered + o.delivered,
            lost: self.lost + o.lost,
            duplicated: self.duplicated + o.duplicated,
            reordered: self.reordered + o.reordered,
            corrupted: self.corrupted + o.corrupted,
            overflowed: self.overflowed + o.overflowed,
        }
    }
}

/// A frame on its way: ordered by arrival time, then by when it was sent.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Instant,
    seq: u64,
    frame: Vec<u8>,
}

struct WireState {
    faults: Faults,
    rng: StdRng,
    seq: u64,
    /// Frames travelling *to* each side (index: `Side::index`), earliest first.
    to: [BinaryHeap<Reverse<InFlight>>; 2],
    /// When the last in-order frame travelling to each side arrives (FIFO).
    last_at: [Instant; 2],
    /// Statistics of frames sent *from* each side.
    stats: [WireStats; 2],
}

/// The wire itself: a cheap handle (clone it freely) shared by its two ports.
#[derive(Clone)]
pub struct Wire(Rc<RefCell<WireState>>);

impl Wire {
    pub fn new(faults: Faults) -> Wire {
        let rng = StdRng::seed_from_u64(faults.seed);
        Wire(Rc::new(RefCell::new(WireState {
            faults,
            rng,
            seq: 0,
            to: [BinaryHeap::new(), BinaryHeap::new()],
            last_at: [Instant::ZERO; 2],
            stats: [WireStats::default(); 2],
        })))
    }

    /// The device at one end.
    pub fn port(&self, side: Side) -> WirePort {
        WirePort { wire: self.clone(), side }
    }

    /// Change the faults from now on (cut the cable, heal it). The RNG goes on.
    pub fn set_faults(&self, faults: Faults) {
        self.0.borrow_mut().faults = faults;
    }
    pub fn faults(&self) -> Faults {
        self.0.borrow().faults.clone()
    }

    /// Both directions added up.
    pub fn stats(&self) -> WireStats {
        let s = self.0.borrow();
        s.stats[0].add(s.stats[1])
    }
    /// Frames sent from `side`.
    pub fn stats_from(&self, side: Side) -> WireStats {
        self.0.borrow().stats[side.index()]
    }
    /// Frames in flight, both directions.
    pub fn in_flight(&self) -> usize {
        let s = self.0.borrow();
        s.to[0].len() + s.to[1].len()
    }

    /// Put a frame on the wire at `from`'s end.
    fn transmit(&self, now: Instant, from: Side, frame: &[u8]) {
        let mut guard = self.0.borrow_mut();
        let s = &mut *guard;
        let dir = from.other().index();
        let mut lane = Lane { q: std::mem::take(&mut s.to[dir]), last_at: s.last_at[dir] };
        apply_faults(&s.faults, &mut s.rng, &mut s.seq, &mut lane, &mut s.stats[from.index()], now, frame);
        s.to[dir] = lane.q;
        s.last_at[dir] = lane.last_at;
    }

    /// The next frame arriving at `side`, if it is due by `now`.
    fn arrive(&self, now: Instant, side: Side) -> Option<Vec<u8>> {
        let mut s = self.0.borrow_mut();
        let q = &mut s.to[side.index()];
        if q.peek().is_some_and(|Reverse(f)| f.at <= now) {
            let Reverse(f) = q.pop().expect("peeked");
            s.stats[side.other().index()].delivered += 1;
            Some(f.frame)
        } else {
            None
        }
    }

    fn next_arrival(&self, side: Side) -> Option<Instant> {
        self.0.borrow().to[side.index()].peek().map(|Reverse(f)| f.at)
    }
}

/// One direction of a link: the frames on their way, earliest first, and
/// when the last in-order one arrives (the link is FIFO but for `reorder`).
#[derive(Default)]
pub(crate) struct Lane {
    q: BinaryHeap<Reverse<InFlight>>,
    last_at: Instant,
}

impl Lane {
    /// The next frame, if it is due by `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.q.peek().is_some_and(|Reverse(f)| f.at <= now) {
            self.q.pop().map(|Reverse(f)| f.frame)
        } else {
            None
        }
    }
    pub(crate) fn next_at(&self) -> Option<Instant> {
        self.q.peek().map(|Reverse(f)| f.at)
    }
    pub(crate) fn len(&self) -> usize {
        self.q.len()
    }
}

/// Put `frame`, sent at `now`, on `lane` as `f` says: lost, delayed,
/// reordered, corrupted, duplicated; counted in `st`. The wire and the
/// `link::Lossy` middleware share it. The same numbers are drawn from
/// `rng`, in the same order, for every frame.
pub(crate) fn apply_faults(
    f: &Faults,
    rng: &mut StdRng,
    seq: &mut u64,
    lane: &mut Lane,
    st: &mut WireStats,
    now: Instant,
    frame: &[u8],
) {
    let (u_loss, u_dup, u_reorder, u_corrupt): (f64, f64, f64, f64) = (rng.gen(), rng.gen(), rng.gen(), rng.gen());
    let jitter_us = f.jitter.as_micros() as u64;
    let (j1, j2) = (rng.gen_range(0..=jitter_us), rng.gen_range(0..=jitter_us));
    let bit: u64 = rng.gen();

    st.sent += 1;
    if u_loss < f.loss {
        st.lost += 1;
        return;
    }
    // FIFO: jitter stretches the gaps between frames but never swaps them.
    let fifo = |at: Instant, last: &mut Instant| {
        let at = at.max(*last);
        *last = at;
        at
    };
    let mut at = fifo(now + f.latency + Duration::from_micros(j1), &mut lane.last_at);
    if u_reorder < f.reorder {
        st.reordered += 1;
        at += f.reorder_delay; // held back: later frames overtake it
    }
    let mut frame = frame.to_vec();
    if u_corrupt < f.corrupt && frame.len() > ETH_HLEN {
        st.corrupted += 1;
        let body = (frame.len() - ETH_HLEN) as u64 * 8;
        let b = ETH_HLEN as u64 * 8 + bit % body;
        frame[(b / 8) as usize] ^= 1 << (b % 8);
    }
    let mut copies = vec![(at, frame)];
    if u_dup < f.duplicate {
        st.duplicated += 1;
        let again = copies[0].1.clone();
        copies.push((fifo(now + f.latency + Duration::from_micros(j2), &mut lane.last_at), again));
    }
    for (at, frame) in copies {
        if lane.q.len() >= f.queue_limit {
            st.overflowed += 1;
            continue;
        }
        *seq += 1;
        lane.q.push(Reverse(InFlight { at, seq: *seq, frame }));
    }
}

/// One end of a `Wire`, as a `Device`.
pub struct WirePort {
    wire: Wire,
    side: Side,
}

impl WirePort {
    pub fn side(&self) -> Side {
        self.side
    }
    pub fn wire(&self) -> &Wire {
        &self.wire
    }
}

impl Device for WirePort {
    fn recv(&mut self, now: Instant) -> io::Result<Option<SkBuff>> {
        Ok(self.wire.arrive(now, self.side).map(|f| SkBuff::from_frame(&f)))
    }
    fn send(&mut self, now: Instant, skb: &SkBuff) -> io::Result<()> {
        self.wire.transmit(now, self.side, skb.data());
        Ok(())
    }
    fn poll_at(&self) -> Option<Instant> {
        self.wire.next_arrival(self.side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Send `n` numbered frames from A, one per millisecond, and collect
    /// what arrives at B: (arrival time, number).
    fn run(faults: Faults, n: u32) -> (Vec<(Instant, u32)>, WireStats) {
        let wire = Wire::new(faults);
        let (mut a, mut b) = (wire.port(Side::A), wire.port(Side::B));
        for i in 0..n {
            let mut frame = vec![0u8; 60];
            frame[14..18].copy_from_slice(&i.to_be_bytes());
            a.send(Instant::from_millis(i as u64), &SkBuff::from_frame(&frame)).unwrap();
        }
        let mut got = Vec::new();
        while let Some(t) = b.poll_at() {
            while let Some(skb) = b.recv(t).unwrap() {
                let d = skb.data();
                got.push((t, u32::from_be_bytes([d[14], d[15], d[16], d[17]])));
            }
        }
        (got, wire.stats())
    }

    #[test]
    fn jitter_keeps_the_link_fifo() {
        // 5 ms of jitter on frames 1 ms apart: gaps stretch, order holds.
        let faults = Faults {
            latency: Duration::from_millis(2),
            jitter: Duration::from_millis(5),
            seed: 3,
            ..Faults::default()
        };
        let (got, _) = run(faults, 200);
        assert_eq!(got.len(), 200);
        assert!(got.windows(2).all(|w| w[0].1 < w[1].1), "delivered out of order");
        assert!(got.windows(2).any(|w| w[1].0 - w[0].0 > Duration::from_millis(1)), "jitter had no effect");
    }

    #[test]
    fn perfect_wire_delivers_in_order_after_latency() {
        let (got, st) = run(Faults { latency: Duration::from_millis(5), ..Faults::default() }, 10);
        assert_eq!(got.len(), 10);
        for (i, (t, n)) in got.iter().enumerate() {
            assert_eq!(*n, i as u32);
            assert_eq!(*t, Instant::from_millis(i as u64 + 5));
        }
        assert_eq!(st, WireStats { sent: 10, delivered: 10, ..WireStats::default() });
    }

    #[test]
    fn nothing_arrives_early() {
        let wire = Wire::new(Faults { latency: Duration::from_millis(5), ..Faults::default() });
        let (mut a, mut b) = (wire.port(Side::A), wire.port(Side::B));
        a.send(Instant::ZERO, &SkBuff::from_frame(&[1; 60])).unwrap();
        assert!(b.recv(Instant::from_millis(4)).unwrap().is_none());
        assert!(a.recv(Instant::from_millis(9)).unwrap().is_none(), "nothing comes back to the sender");
        assert_eq!(b.poll_at(), Some(Instant::from_millis(5)));
        assert!(b.recv(Instant::from_millis(5)).unwrap().is_some());
        assert_eq!(b.poll_at(), None);
    }

    fn nasty(seed: u64) -> Faults {
        Faults {
            loss: 0.2,
            duplicate: 0.1,
            reorder: 0.1,
            reorder_delay: Duration::from_millis(3),
            corrupt: 0.05,
            latency: Duration::from_millis(2),
            jitter: Duration::from_micros(1500),
            seed,
            ..Faults::default()
        }
    }

    #[test]
    fn faults_are_deterministic_per_seed() {
        let (got1, st1) = run(nasty(42), 1000);
        let (got2, st2) = run(nasty(42), 1000);
        assert_eq!(got1, got2);
        assert_eq!(st1, st2);
        let (got3, _) = run(nasty(43), 1000);
        assert_ne!(got1, got3, "another seed, another run");
    }

    #[test]
    fn fault_rates_are_about_right() {
        let (got, st) = run(nasty(7), 10_000);
        assert_eq!(st.sent, 10_000);
        assert!((1800..2200).contains(&st.lost), "lost {}", st.lost);
        let survivors = st.sent - st.lost;
        assert!((survivors * 8 / 100..survivors * 12 / 100).contains(&st.duplicated), "dup {}", st.duplicated);
        assert!((survivors * 8 / 100..survivors * 12 / 100).contains(&st.reordered));
        assert!((survivors * 3 / 100..survivors * 7 / 100).contains(&st.corrupted));
        assert_eq!(got.len() as u64, survivors + st.duplicated);
        assert_eq!(st.delivered, survivors + st.duplicated);
        // Some frames were overtaken.
        assert!(got.windows(2).any(|w| w[1].1 < w[0].1));
    }

    #[test]
    fn corruption_flips_one_bit_after_the_ethernet_header() {
        let wire = Wire::new(Faults { corrupt: 1.0, seed: 3, ..Faults::default() });
        let (mut a, mut b) = (wire.port(Side::A), wire.port(Side::B));
        let frame = [0u8; 60];
        a.send(Instant::ZERO, &SkBuff::from_frame(&frame)).unwrap();
        let got = b.recv(Instant::ZERO).unwrap().unwrap();
        let diff: u32 = got.data().iter().zip(&frame).map(|(x, y)| (x ^ y).count_ones()).sum();
        assert_eq!(diff, 1);
        assert_eq!(&got.data()[..ETH_HLEN], &frame[..ETH_HLEN]);
    }

    #[test]
    fn a_full_queue_drops() {
        let wire = Wire::new(Faults { latency: Duration::from_secs(1), queue_limit: 3, ..Faults::default() });
        let mut a = wire.port(Side::A);
        for _ in 0..5 {
            a.send(Instant::ZERO, &SkBuff::from_frame(&[0; 60])).unwrap();
        }
        assert_eq!(wire.in_flight(), 3);
        assert_eq!(wire.stats_from(Side::A).overflowed, 2);
    }
}
