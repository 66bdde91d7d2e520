//! IPv4 reassembly with bounded memory.
//!
//! Read first: RFC 791 §3.2 ("Fragmentation and Reassembly"), RFC 815 (hole
//! descriptors), RFC 1122 §3.3.2 (a reassembly timeout of 60 s or less; we
//! use 30 s like Linux `ipfrag_time`). Linux: net/ipv4/ip_fragment.c.
//!
//! Safety rules, as Linux applies them since the "FragmentSmack" fixes:
//! - a fragment that overlaps another with different bounds poisons the
//!   whole datagram, which is discarded (overlaps are how teardrop-style
//!   attacks rewrite headers); an exact duplicate is ignored;
//! - a datagram that would exceed 65,535 bytes is discarded;
//! - all queues together hold at most `mem_limit` bytes; past it new
//!   fragments are dropped (`ipfrag_high_thresh`);
//! - an incomplete datagram is discarded `timeout` after its first fragment.

use crate::stats::DropReason;
use crate::time::{Duration, Instant};
use crate::wire::ipv4::MAX_DATAGRAM;
use crate::wire::Ipv4Repr;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

/// RFC 791: fragments of one datagram share source, destination, protocol and identification.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct FragKey {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ident: u16,
}

/// Bookkeeping cost charged per queue, on top of the payload bytes.
const QUEUE_OVERHEAD: usize = 256;

#[derive(Debug)]
struct FragQueue {
    /// Fragment payloads by offset; never overlapping.
    pieces: BTreeMap<usize, Vec<u8>>,
    /// Known once the last fragment (MF = 0) arrives.
    total_len: Option<usize>,
    received: usize,
    expires: Instant,
    /// The first fragment's header, for the reassembled datagram.
    first: Option<Ipv4Repr>,
}

#[derive(Debug)]
pub struct Reassembly {
    queues: HashMap<FragKey, FragQueue>,
    timeout: Duration,
    mem_limit: usize,
    mem: usize,
}

/// What happened to one fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum FragResult {
    /// Kept; the datagram is still incomplete.
    Queued,
    /// The last hole filled: the header of the first fragment and the whole payload.
    Complete(Ipv4Repr, Vec<u8>),
}

impl Reassembly {
    pub fn new(timeout: Duration, mem_limit: usize) -> Reassembly {
        Reassembly { queues: HashMap::new(), timeout, mem_limit, mem: 0 }
    }

    /// Bytes held by incomplete datagrams (payload plus overhead).
    pub fn mem(&self) -> usize {
        self.mem
    }
    pub fn queues(&self) -> usize {
        self.queues.len()
    }

    /// `ip_defrag`: add one fragment (`hdr` and its payload).
    pub fn insert(&mut self, now: Instant, hdr: &Ipv4Repr, payload: &[u8]) -> Result<FragResult, DropReason> {
        let key = FragKey { src: hdr.src, dst: hdr.dst, protocol: hdr.protocol, ident: hdr.ident };
        let start = hdr.frag_offset;
        let end = start + payload.len();
        if end > MAX_DATAGRAM - hdr.header_len {
            self.discard(&key);
            return Err(DropReason::FragTooBig);
        }
        if hdr.more_fragments && (payload.is_empty() || !payload.len().is_multiple_of(8)) {
            // RFC 791: every fragment but the last carries a multiple of 8 bytes.
            self.discard(&key);
            return Err(DropReason::FragBadLength);
        }
        if !self.queues.contains_key(&key) {
            if self.mem + QUEUE_OVERHEAD + payload.len() > self.mem_limit {
                return Err(DropReason::FragMemory);
            }
            self.mem += QUEUE_OVERHEAD;
            self.queues.insert(
                key,
                FragQueue {
                    pieces: BTreeMap::new(),
                    total_len: None,
                    received: 0,
                    expires: now + self.timeout,
                    first: None,
                },
            );
        } else if self.mem + payload.len() > self.mem_limit {
            return Err(DropReason::FragMemory);
        }
        let q = self.queues.get_mut(&key).expect("queue exists");

        // The last fragment fixes the length; a second, different one, or data beyond it, is bogus.
        let bad_len = match (hdr.more_fragments, q.total_len) {
            (false, Some(t)) => t != end,
            (false, None) => q.pieces.range(..).next_back().is_some_and(|(&o, p)| o + p.len() > end),
            (true, Some(t)) => end > t,
            (true, None) => false,
        };
        if bad_len {
            self.discard(&key);
            return Err(DropReason::FragBadLength);
        }

        // Overlap check against the neighbours on each side.
        let before = q.pieces.range(..=start).next_back().map(|(&o, p)| (o, p.len()));
        let after = q.pieces.range(start..).next().map(|(&o, p)| (o, p.len()));
        for (o, len) in [before, after].into_iter().flatten() {
            if o == start && len == payload.len() {
                return Err(DropReason::FragDuplicate);
            }
            if o < end && start < o + len {
                self.discard(&key);
                return Err(DropReason::FragOverlap);
            }
        }

        let q = self.queues.get_mut(&key).expect("queue exists");
        q.pieces.insert(start, payload.to_vec());
        q.received += payload.len();
        self.mem += payload.len();
        if !hdr.more_fragments {
            q.total_len = Some(end);
        }
        if start == 0 {
            q.first = Some(*hdr);
        }
        match (q.total_len, q.first) {
            (Some(total), Some(first)) if q.received == total => {
                let q = self.queues.remove(&key).expect("queue exists");
                self.mem -= QUEUE_OVERHEAD + total;
                let mut data = Vec::with_capacity(total);
                for (_, p) in q.pieces {
                    data.extend_from_slice(&p);
                }
                let hdr =
                    Ipv4Repr { more_fragments: false, frag_offset: 0, total_len: first.header_len + total, ..first };
                Ok(FragResult::Complete(hdr, data))
            }
            _ => Ok(FragResult::Queued),
        }
    }

    fn discard(&mut self, key: &FragKey) {
        if let Some(q) = self.queues.remove(key) {
            self.mem -= QUEUE_OVERHEAD + q.received;
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queues.values().map(|q| q.expires).min()
    }

    /// Discard datagrams whose time is up; one `FragTimeout` per datagram.
    pub fn expire(&mut self, now: Instant) -> Vec<DropReason> {
        let expired: Vec<FragKey> = self.queues.iter().filter(|(_, q)| q.expires <= now).map(|(k, _)| *k).collect();
        for k in &expired {
            self.discard(k);
        }
        vec![DropReason::FragTimeout; expired.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(offset: usize, more: bool, payload_len: usize) -> Ipv4Repr {
        Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: 1,
            ttl: 64,
            tos: 0,
            ident: 42,
            dont_fragment: false,
            more_fragments: more,
            frag_offset: offset,
            header_len: 20,
            total_len: 20 + payload_len,
        }
    }

    fn data(range: std::ops::Range<usize>) -> Vec<u8> {
        range.map(|i| i as u8).collect()
    }

    #[test]
    fn reorders_and_completes() {
        let mut r = Reassembly::new(Duration::from_secs(30), 1 << 20);
        let t = Instant::ZERO;
        assert_eq!(r.insert(t, &frag(16, false, 4), &data(16..20)), Ok(FragResult::Queued));
        assert_eq!(r.insert(t, &frag(0, true, 8), &data(0..8)), Ok(FragResult::Queued));
        assert_eq!(r.insert(t, &frag(0, true, 8), &data(0..8)), Err(DropReason::FragDuplicate));
        match r.insert(t, &frag(8, true, 8), &data(8..16)).unwrap() {
            FragResult::Complete(h, d) => {
                assert_eq!(d, data(0..20));
                assert_eq!(h.total_len, 40);
                assert!(!h.is_fragment());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((r.queues(), r.mem()), (0, 0));
    }

    #[test]
    fn overlap_discards_datagram() {
        let mut r = Reassembly::new(Duration::from_secs(30), 1 << 20);
        let t = Instant::ZERO;
        r.insert(t, &frag(0, true, 16), &data(0..16)).unwrap();
        assert_eq!(r.insert(t, &frag(8, true, 16), &data(8..24)), Err(DropReason::FragOverlap));
        assert_eq!((r.queues(), r.mem()), (0, 0));
        // The rest of that datagram starts a new, never-completed queue.
        r.insert(t, &frag(24, false, 8), &data(24..32)).unwrap();
        assert_eq!(r.expire(t + Duration::from_secs(30)), vec![DropReason::FragTimeout]);
        assert_eq!((r.queues(), r.mem()), (0, 0));
    }

    #[test]
    fn too_big_and_bad_lengths() {
        let mut r = Reassembly::new(Duration::from_secs(30), 1 << 20);
        let t = Instant::ZERO;
        assert_eq!(r.insert(t, &frag(65_528, false, 16), &data(0..16)), Err(DropReason::FragTooBig));
        assert_eq!(r.insert(t, &frag(0, true, 7), &data(0..7)), Err(DropReason::FragBadLength));
        r.insert(t, &frag(0, true, 8), &data(0..8)).unwrap();
        r.insert(t, &frag(16, false, 8), &data(16..24)).unwrap();
        // A second "last" fragment with another end.
        assert_eq!(r.insert(t, &frag(8, false, 4), &data(8..12)), Err(DropReason::FragBadLength));
        assert_eq!(r.mem(), 0);
    }

    #[test]
    fn memory_is_bounded() {
        let mut r = Reassembly::new(Duration::from_secs(30), 4096);
        let t = Instant::ZERO;
        let mut dropped = 0;
        for id in 0..100u16 {
            let mut h = frag(0, true, 1024);
            h.ident = id;
            if r.insert(t, &h, &[0; 1024]) == Err(DropReason::FragMemory) {
                dropped += 1;
            }
            assert!(r.mem() <= 4096);
        }
        assert_eq!(dropped, 97);
    }
}
