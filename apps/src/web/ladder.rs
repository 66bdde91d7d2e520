//! The live ladder of `synack up --web`: for each TCP connection on the
//! wire, its first and its last `LADDER_HALF` segments, kept as the fields
//! a ladder needs (apps/src/ladder.rs `TcpSeen`), not as frames. Drawn on
//! request (`LiveLadder::svg`) by building those segments back into frames
//! for `ladder::connections` and `ladder::render_svg`.
//!
//! Read first: apps/src/ladder.rs (the ladder, and `Recorder`, which keeps
//! whole frames for `--ladder FILE.svg` and stops at 64 MiB: right for one
//! drawing at exit, wrong for a page left open all day, where every new
//! connection must have its ladder). Bounded: at most `LADDER_CONNS`
//! connections (the least recently seen forgotten first), each at most
//! `2 × LADDER_HALF` segments of a few dozen bytes.

use crate::ladder::{connections, parse_tcp, render_svg, TcpSeen};
use stack::tcp::SeqNumber;
use stack::wire::{TcpFlags, TcpRepr};
use stack::Instant;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddrV4;
use std::rc::Rc;

/// Connections kept at most.
pub const LADDER_CONNS: usize = 256;
/// Segments kept from the start of a connection, and from its end.
pub const LADDER_HALF: usize = 200;

/// A connection's segments, by its two ends in a fixed order.
type Key = (SocketAddrV4, SocketAddrV4);

#[derive(Default)]
struct Conn {
    first: Vec<(u64, TcpSeen)>,
    last: VecDeque<(u64, TcpSeen)>,
    /// Segments between `first` and `last` not kept.
    skipped: u64,
    touched: u64,
}

#[derive(Default)]
struct Inner {
    conns: HashMap<Key, Conn>,
    clock: u64,
}

/// The segments the page draws ladders from; cloned handles share them.
#[derive(Clone, Default)]
pub struct LiveLadder(Rc<RefCell<Inner>>);

fn key(a: SocketAddrV4, b: SocketAddrV4) -> Key {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl LiveLadder {
    /// Wrap `dev` in a tracer that feeds the live ladder (below step
    /// mode's device: it sees the wire, as `ladder::Recorder` does).
    pub fn install(dev: &mut Box<dyn device::Device>) -> LiveLadder {
        let live = LiveLadder::default();
        let l = live.clone();
        device::wrap_device(dev, move |inner| {
            Box::new(device::Tracer::new(inner, move |_dir, now: Instant, frame: &[u8]| l.record(now, frame)))
        });
        live
    }

    /// One frame off the wire (anything but TCP is ignored).
    pub fn record(&self, now: Instant, frame: &[u8]) {
        let Some(seg) = parse_tcp(frame) else { return };
        let mut inner = self.0.borrow_mut();
        inner.clock += 1;
        let touched = inner.clock;
        let k = key(seg.src, seg.dst);
        // A SYN opens a new incarnation of the 4-tuple: start afresh.
        let fresh = seg.flags.has(TcpFlags::SYN) && !seg.flags.has(TcpFlags::ACK);
        if !inner.conns.contains_key(&k) && inner.conns.len() >= LADDER_CONNS {
            let oldest = inner.conns.iter().min_by_key(|(_, c)| c.touched).map(|(k, _)| *k);
            if let Some(o) = oldest {
                inner.conns.remove(&o);
            }
        }
        let c = inner.conns.entry(k).or_default();
        if fresh && !c.first.is_empty() && c.first[0].1.seq != seg.seq {
            *c = Conn::default();
        }
        c.touched = touched;
        let t = now.total_micros();
        if c.first.len() < LADDER_HALF {
            c.first.push((t, seg));
            return;
        }
        if c.last.len() == LADDER_HALF {
            c.last.pop_front();
            c.skipped += 1;
        }
        c.last.push_back((t, seg));
    }

    /// The ladder of the connection between `a` and `b` whose first
    /// segment (its SYN) carries one of `isns`, as SVG: its first segments
    /// and its last ones. `None` if the wire has shown none, or only
    /// another incarnation's.
    pub fn svg(&self, a: SocketAddrV4, b: SocketAddrV4, isns: [u32; 2]) -> Option<String> {
        let inner = self.0.borrow();
        let c = inner.conns.get(&key(a, b))?;
        if !c.first.first().is_some_and(|(_, s)| isns.contains(&s.seq)) {
            return None;
        }
        let frames: Vec<(u64, Vec<u8>)> = c.first.iter().chain(c.last.iter()).map(|(t, s)| (*t, frame_of(s))).collect();
        Some(render_svg(&connections(&frames)))
    }

    /// Segments kept (all connections): what the memory bound counts.
    pub fn segments(&self) -> usize {
        self.0.borrow().conns.values().map(|c| c.first.len() + c.last.len()).sum()
    }
}

/// A frame that parses back to `s` (its payload zeros of the right length).
fn frame_of(s: &TcpSeen) -> Vec<u8> {
    let ack = s.flags.has(TcpFlags::ACK).then_some(SeqNumber(s.ack));
    let repr = TcpRepr::new(s.src.port(), s.dst.port(), SeqNumber(s.seq), ack, s.flags, s.win);
    stack::wire::frame::tcp_frame(s.src, s.dst, &repr, &vec![0; s.len as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(from_client: bool, flags: TcpFlags, seq: u32, ack: u32, len: usize) -> Vec<u8> {
        let (c, s): (SocketAddrV4, SocketAddrV4) = ("10.0.0.1:51234".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        let ack = flags.has(TcpFlags::ACK).then_some(SeqNumber(ack));
        let t = TcpRepr::new(src.port(), dst.port(), SeqNumber(seq), ack, flags, 512);
        stack::wire::frame::tcp_frame(src, dst, &t, &vec![7; len])
    }

    #[test]
    fn a_frame_built_back_parses_to_the_same_segment() {
        let f = seg(true, TcpFlags::PSH | TcpFlags::ACK, 1001, 2002, 300);
        let s = parse_tcp(&f).unwrap();
        assert_eq!(parse_tcp(&frame_of(&s)), Some(s));
    }

    /// A long connection keeps its first and last segments; a new SYN on
    /// the same 4-tuple starts a new ladder; connections are bounded.
    #[test]
    fn first_and_last_segments_bounded() {
        let live = LiveLadder::default();
        let (c, s): (SocketAddrV4, SocketAddrV4) = ("10.0.0.1:51234".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
        live.record(Instant::ZERO, &seg(true, TcpFlags::SYN, 1000, 0, 0));
        live.record(Instant::ZERO, &seg(false, TcpFlags::SYN | TcpFlags::ACK, 5000, 1001, 0));
        for i in 0..5000u32 {
            live.record(Instant::from_micros(u64::from(i)), &seg(true, TcpFlags::ACK, 1001 + i * 100, 5001, 100));
        }
        assert_eq!(live.segments(), 2 * LADDER_HALF);
        assert!(live.svg(s, c, [1, 2]).is_none(), "another incarnation's ISNs");
        let svg = live.svg(s, c, [5000, 1000]).unwrap();
        let doc = svg.matches("<line").count();
        assert!(doc > 2 * LADDER_HALF - 10, "{doc} lines");
        assert!(svg.contains("S."), "the handshake is kept: {}", &svg[..500]);
        // A new incarnation: its own ladder.
        live.record(Instant::from_micros(9_000_000), &seg(true, TcpFlags::SYN, 77_000, 0, 0));
        assert_eq!(live.segments(), 1);
        // Many connections: the oldest go.
        for p in 0..(LADDER_CONNS as u16 + 50) {
            let f = stack::wire::frame::tcp_frame(
                SocketAddrV4::new([10, 0, 0, 1].into(), 10_000 + p),
                s,
                &TcpRepr::new(0, 0, SeqNumber(1), None, TcpFlags::SYN, 512),
                &[],
            );
            live.record(Instant::from_micros(10_000_000), &f);
        }
        assert_eq!(live.0.borrow().conns.len(), LADDER_CONNS);
        assert!(live.svg(s, c, [77_000, 0]).is_none(), "the least recently seen was forgotten");
    }
}
