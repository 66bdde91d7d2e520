//! ARP and the neighbour cache: which MAC address answers for an IPv4 address.
//!
//! Read first: RFC 826 (the packet and "Packet Reception"), RFC 1122 §2.3.2
//! (cache timeouts, queueing while unresolved, flooding limits), RFC 5227 §3
//! (gratuitous ARP). Linux calls this the neighbour subsystem (`neigh_*`,
//! net/core/neighbour.c) with states INCOMPLETE, REACHABLE, STALE, …; we keep
//! three of them:
//!
//! ```text
//!   (none) --packet to send--> INCOMPLETE --reply--> REACHABLE
//!                                  |  3 requests, 1 s apart, no reply:
//!                                  v  entry and queued packets dropped
//!   REACHABLE --reachable_time passes--> STALE --gc_time passes--> (none)
//!   STALE --used--> request sent again (the MAC is still used meanwhile)
//! ```
//!
//! Packets waiting for an INCOMPLETE entry sit in a small bounded queue per
//! neighbour (Linux `unres_qlen`) and go out when the reply arrives.

use crate::ethernet::MacAddr;
use crate::hash::FlowHash;
use crate::skbuff::SkBuff;
use crate::stats::DropReason;
use crate::time::{Duration, Instant};
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

pub const ARP_LEN: usize = 28;
pub const ARPHRD_ETHER: u16 = 1;
pub const ARPOP_REQUEST: u16 = 1;
pub const ARPOP_REPLY: u16 = 2;

#[derive(Clone, Debug)]
pub struct ArpConfig {
    /// How long a reply keeps an entry REACHABLE (Linux `base_reachable_time` 30 s).
    pub reachable_time: Duration,
    /// How long an unused STALE entry lives before it is forgotten (Linux `gc_stale_time` 60 s).
    pub gc_time: Duration,
    /// RFC 1122 §2.3.2.1: at most one request per second per address.
    pub retrans_time: Duration,
    /// Requests sent before giving up (Linux `mcast_solicit` 3).
    pub max_probes: u8,
    /// Packets queued per unresolved neighbour (RFC 1122 §2.3.2.2 says at least one).
    pub pending_max: usize,
    /// The most neighbours remembered at once.
    pub max_entries: usize,
}

impl Default for ArpConfig {
    fn default() -> Self {
        ArpConfig {
            reachable_time: Duration::from_secs(30),
            gc_time: Duration::from_secs(60),
            retrans_time: Duration::from_secs(1),
            max_probes: 3,
            pending_max: 16,
            max_entries: 256,
        }
    }
}

/// An Ethernet/IPv4 ARP packet (RFC 826), the only kind we speak.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct ArpPacket {
    pub op: u16,
    pub sha: MacAddr,
    pub spa: Ipv4Addr,
    pub tha: MacAddr,
    pub tpa: Ipv4Addr,
}

impl ArpPacket {
    /// Parse, checking every fixed field; anything else is dropped by reason.
    pub fn parse(b: &[u8]) -> Result<ArpPacket, DropReason> {
        if b.len() < ARP_LEN {
            return Err(DropReason::ArpTruncated);
        }
        let htype = u16::from_be_bytes([b[0], b[1]]);
        let ptype = u16::from_be_bytes([b[2], b[3]]);
        if htype != ARPHRD_ETHER || b[4] != 6 {
            return Err(DropReason::ArpBadHardware);
        }
        if ptype != crate::ethernet::ETHERTYPE_IPV4 || b[5] != 4 {
            return Err(DropReason::ArpBadProtocol);
        }
        let op = u16::from_be_bytes([b[6], b[7]]);
        if op != ARPOP_REQUEST && op != ARPOP_REPLY {
            return Err(DropReason::ArpBadOpcode);
        }
        let mac = |o: usize| MacAddr([b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5]]);
        let ip = |o: usize| Ipv4Addr::new(b[o], b[o + 1], b[o + 2], b[o + 3]);
        Ok(ArpPacket { op, sha: mac(8), spa: ip(14), tha: mac(18), tpa: ip(24) })
    }

    /// Write the 28 bytes into `b`.
    pub fn emit(&self, b: &mut [u8]) {
        b[0..2].copy_from_slice(&ARPHRD_ETHER.to_be_bytes());
        b[2..4].copy_from_slice(&crate::ethernet::ETHERTYPE_IPV4.to_be_bytes());
        b[4] = 6;
        b[5] = 4;
        b[6..8].copy_from_slice(&self.op.to_be_bytes());
        b[8..14].copy_from_slice(&self.sha.0);
        b[14..18].copy_from_slice(&self.spa.octets());
        b[18..24].copy_from_slice(&self.tha.0);
        b[24..28].copy_from_slice(&self.tpa.octets());
    }
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum NeighState {
    /// Request sent, no reply yet; packets wait in the pending queue.
    Incomplete,
    /// Confirmed by a reply within `reachable_time`.
    Reachable,
    /// Not confirmed lately: still used, re-requested on use.
    Stale,
}

impl NeighState {
    pub fn name(self) -> &'static str {
        match self {
            NeighState::Incomplete => "INCOMPLETE",
            NeighState::Reachable => "REACHABLE",
            NeighState::Stale => "STALE",
        }
    }
}

#[derive(Debug)]
struct Neighbour {
    state: NeighState,
    mac: MacAddr,
    /// When the entry was last confirmed (or created).
    confirmed: Instant,
    /// When it was last used to send.
    used: Instant,
    probes: u8,
    /// When to send the next request (INCOMPLETE, or STALE being re-probed).
    next_probe: Option<Instant>,
    /// Packets waiting for resolution: data starts at the IP header.
    pending: VecDeque<SkBuff>,
}

/// What `arp -n` shows for one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighbourView {
    pub ip: Ipv4Addr,
    pub mac: Option<MacAddr>,
    pub state: NeighState,
    /// Time since confirmed.
    pub age: Duration,
    pub pending: usize,
}

/// The result of asking the cache for a next hop's MAC.
#[derive(Debug)]
pub enum Resolve {
    /// Known: send now; with `revalidate`, also send a request (the entry was stale).
    Ready { mac: MacAddr, skb: SkBuff, revalidate: bool },
    /// Queued; send an ARP request for the address if `request` is set.
    Queued { request: bool },
    /// Not queued (queue or cache full).
    Dropped(DropReason),
}

/// What the timers decided.
#[derive(Debug, Default)]
pub struct ArpTimeouts {
    /// Addresses to send a request for now.
    pub requests: Vec<Ipv4Addr>,
    /// Packets dropped because their neighbour never answered (data at the
    /// IP header), so the stack can tell their senders: host unreachable.
    pub unresolved: Vec<SkBuff>,
    /// Entries that changed state, for the trace: (ip, old, new or None if removed).
    pub changes: Vec<(Ipv4Addr, NeighState, Option<NeighState>)>,
}

#[derive(Debug)]
pub struct ArpCache {
    config: ArpConfig,
    entries: HashMap<Ipv4Addr, Neighbour, FlowHash>,
    /// Unresolved entries evicted to make room, with the packets that were
    /// waiting on them (`take_evicted`): the stack counts those as dropped.
    evicted: Vec<(Ipv4Addr, Vec<SkBuff>)>,
}

impl ArpCache {
    pub fn new(config: ArpConfig) -> ArpCache {
        ArpCache { config, entries: HashMap::default(), evicted: Vec::new() }
    }

    /// The unresolved neighbours evicted since the last call (a full table),
    /// each with the packets that were waiting for it.
    pub fn take_evicted(&mut self) -> Vec<(Ipv4Addr, Vec<SkBuff>)> {
        std::mem::take(&mut self.evicted)
    }

    /// `neigh_resolve_output`: the MAC for `ip`, or queue `skb` until it is known.
    pub fn resolve(&mut self, now: Instant, ip: Ipv4Addr, skb: SkBuff) -> Resolve {
        let cfg = self.config.clone();
        if let Some(n) = self.entries.get_mut(&ip) {
            n.used = now;
            return match n.state {
                NeighState::Reachable if now.saturating_since(n.confirmed) < cfg.reachable_time => {
                    Resolve::Ready { mac: n.mac, skb, revalidate: false }
                }
                NeighState::Reachable | NeighState::Stale => {
                    // RFC 1122 §2.3.2.1: keep using the entry, but revalidate it
                    // with a request now and (by the timer) up to max_probes more.
                    n.state = NeighState::Stale;
                    let revalidate = n.next_probe.is_none();
                    if revalidate {
                        n.probes = 1;
                        n.next_probe = Some(now + cfg.retrans_time);
                    }
                    Resolve::Ready { mac: n.mac, skb, revalidate }
                }
                NeighState::Incomplete => {
                    if n.pending.len() >= cfg.pending_max {
                        return Resolve::Dropped(DropReason::ArpQueueFull);
                    }
                    n.pending.push_back(skb);
                    Resolve::Queued { request: false }
                }
            };
        }
        if self.entries.len() >= cfg.max_entries && !self.evict_one() {
            return Resolve::Dropped(DropReason::ArpQueueFull);
        }
        let mut pending = VecDeque::new();
        pending.push_back(skb);
        self.entries.insert(
            ip,
            Neighbour {
                state: NeighState::Incomplete,
                mac: MacAddr::ZERO,
                confirmed: now,
                used: now,
                probes: 1,
                next_probe: Some(now + cfg.retrans_time),
                pending,
            },
        );
        Resolve::Queued { request: true }
    }

    /// Forget the least recently used entry that has nothing queued.
    /// Make room in a full table (Linux `neigh_forced_gc`). An unresolved
    /// entry goes first, the oldest: a flood from spoofed on-link sources
    /// makes one per source, and they must not push out the neighbours that
    /// did answer (the host, the gateway), or nothing reaches those until
    /// the flood stops. Its waiting packets are dropped (`take_evicted`).
    /// Without one, the least recently used entry that has nothing waiting.
    fn evict_one(&mut self) -> bool {
        let unresolved = self
            .entries
            .iter()
            .filter(|(_, n)| n.state == NeighState::Incomplete)
            .min_by_key(|(_, n)| n.confirmed)
            .map(|(ip, _)| *ip);
        let victim = unresolved.or_else(|| {
            self.entries.iter().filter(|(_, n)| n.pending.is_empty()).min_by_key(|(_, n)| n.used).map(|(ip, _)| *ip)
        });
        match victim.and_then(|ip| self.entries.remove(&ip).map(|n| (ip, n))) {
            Some((ip, n)) => {
                if n.state == NeighState::Incomplete {
                    self.evicted.push((ip, n.pending.into_iter().collect()));
                }
                true
            }
            None => false,
        }
    }

    /// RFC 826 "Packet Reception": learn `sender` -> `mac`. If we already
    /// know the sender, update it (the merge flag); otherwise add it only if
    /// `for_us` (the packet targets our address). Returns the packets that
    /// were waiting for this neighbour, and the state change if any.
    pub fn learn(
        &mut self,
        now: Instant,
        sender: Ipv4Addr,
        mac: MacAddr,
        for_us: bool,
    ) -> (Vec<SkBuff>, Option<(Option<NeighState>, NeighState)>) {
        if let Some(n) = self.entries.get_mut(&sender) {
            let old = n.state;
            n.mac = mac;
            n.state = NeighState::Reachable;
            n.confirmed = now;
            n.probes = 0;
            n.next_probe = None;
            let released = n.pending.drain(..).collect();
            let change = (old != NeighState::Reachable).then_some((Some(old), NeighState::Reachable));
            return (released, change);
        }
        if for_us && (self.entries.len() < self.config.max_entries || self.evict_one()) {
            self.entries.insert(
                sender,
                Neighbour {
                    state: NeighState::Reachable,
                    mac,
                    confirmed: now,
                    used: now,
                    probes: 0,
                    next_probe: None,
                    pending: VecDeque::new(),
                },
            );
            return (Vec::new(), Some((None, NeighState::Reachable)));
        }
        (Vec::new(), None)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let cfg = &self.config;
        self.entries
            .values()
            .map(|n| match (n.next_probe, n.state) {
                (Some(t), _) => t,
                (None, NeighState::Reachable) => n.confirmed + cfg.reachable_time,
                (None, _) => n.used.max(n.confirmed) + cfg.gc_time,
            })
            .min()
    }

    /// Retransmit requests, give up on silent neighbours, age entries.
    pub fn handle_timeout(&mut self, now: Instant) -> ArpTimeouts {
        let cfg = self.config.clone();
        let mut out = ArpTimeouts::default();
        self.entries.retain(|&ip, n| {
            if let Some(t) = n.next_probe {
                if now >= t {
                    if n.probes >= cfg.max_probes {
                        n.next_probe = None;
                        if n.state == NeighState::Incomplete {
                            // RFC 1122 §2.3.2.2 leaves the rest to us: drop the queue.
                            out.unresolved.extend(n.pending.drain(..));
                            out.changes.push((ip, n.state, None));
                            return false;
                        }
                    } else {
                        n.probes += 1;
                        n.next_probe = Some(now + cfg.retrans_time);
                        out.requests.push(ip);
                    }
                }
            }
            if n.state == NeighState::Reachable && now.saturating_since(n.confirmed) >= cfg.reachable_time {
                n.state = NeighState::Stale;
                out.changes.push((ip, NeighState::Reachable, Some(NeighState::Stale)));
            }
            if n.state == NeighState::Stale
                && n.next_probe.is_none()
                && now.saturating_since(n.used.max(n.confirmed)) >= cfg.gc_time
            {
                out.changes.push((ip, NeighState::Stale, None));
                return false;
            }
            true
        });
        out
    }

    pub fn entries(&self, now: Instant) -> Vec<NeighbourView> {
        let mut v: Vec<NeighbourView> = self
            .entries
            .iter()
            .map(|(&ip, n)| NeighbourView {
                ip,
                mac: (n.state != NeighState::Incomplete).then_some(n.mac),
                state: n.state,
                age: now.saturating_since(n.confirmed),
                pending: n.pending.len(),
            })
            .collect();
        v.sort_by_key(|e| e.ip);
        v
    }

    /// Where the payload of the first packet queued for `ip` lives (after a
    /// 20-byte IP and 8-byte UDP header): lets a test prove no copy happens.
    #[cfg(test)]
    pub(crate) fn pending_payload_addr_for_test(&self, ip: Ipv4Addr) -> Option<usize> {
        self.entries.get(&ip)?.pending.front().map(|skb| skb.data()[28..].as_ptr() as usize)
    }

    pub fn lookup(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.entries.get(&ip).filter(|n| n.state != NeighState::Incomplete).map(|n| n.mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ARP request captured from `arping -I tap0 10.0.0.2` (after the
    /// Ethernet header): who-has 10.0.0.2 tell 10.0.0.1.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02,
    ];

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn wire_round_trip() {
        let p = ArpPacket::parse(&REQUEST).unwrap();
        assert_eq!(p.op, ARPOP_REQUEST);
        assert_eq!(p.spa, ip("10.0.0.1"));
        assert_eq!(p.tpa, ip("10.0.0.2"));
        assert_eq!(p.sha, "52:54:00:12:34:56".parse().unwrap());
        let mut b = [0xa5u8; 28];
        p.emit(&mut b);
        assert_eq!(b, REQUEST);
    }

    #[test]
    fn bogus_packets_have_reasons() {
        assert_eq!(ArpPacket::parse(&REQUEST[..27]), Err(DropReason::ArpTruncated));
        let mut b = REQUEST;
        b[1] = 6;
        assert_eq!(ArpPacket::parse(&b), Err(DropReason::ArpBadHardware));
        let mut b = REQUEST;
        b[5] = 16;
        assert_eq!(ArpPacket::parse(&b), Err(DropReason::ArpBadProtocol));
        let mut b = REQUEST;
        b[7] = 9;
        assert_eq!(ArpPacket::parse(&b), Err(DropReason::ArpBadOpcode));
    }

    #[test]
    fn pending_queue_released_on_reply() {
        let mut c = ArpCache::new(ArpConfig { pending_max: 2, ..Default::default() });
        let t0 = Instant::from_secs(1);
        let gw = ip("10.0.0.1");
        assert!(matches!(c.resolve(t0, gw, SkBuff::from_frame(b"one")), Resolve::Queued { request: true }));
        assert!(matches!(c.resolve(t0, gw, SkBuff::from_frame(b"two")), Resolve::Queued { request: false }));
        assert!(matches!(c.resolve(t0, gw, SkBuff::from_frame(b"three")), Resolve::Dropped(DropReason::ArpQueueFull)));
        assert_eq!(c.entries(t0)[0].state, NeighState::Incomplete);
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        let (released, change) = c.learn(t0, gw, mac, true);
        assert_eq!(
            released.iter().map(|s| s.data().to_vec()).collect::<Vec<_>>(),
            vec![b"one".to_vec(), b"two".to_vec()]
        );
        assert_eq!(change, Some((Some(NeighState::Incomplete), NeighState::Reachable)));
        assert!(matches!(c.resolve(t0, gw, SkBuff::from_frame(b"x")), Resolve::Ready { mac: m, .. } if m == mac));
    }

    #[test]
    fn a_full_table_evicts_the_unresolved_before_the_answered() {
        let mut c = ArpCache::new(ArpConfig { max_entries: 4, ..Default::default() });
        let t0 = Instant::from_secs(1);
        let gw = ip("10.0.0.1");
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        c.learn(t0, gw, mac, true);
        // A flood of silent sources: each new one pushes out the oldest
        // unresolved entry (with what waited on it), never the gateway.
        for i in 0..20u8 {
            let t = t0 + Duration::from_millis(u64::from(i));
            let r = c.resolve(t, Ipv4Addr::new(10, 0, 9, i), SkBuff::from_frame(b"syn-ack"));
            assert!(matches!(r, Resolve::Queued { request: true }), "{i}: {r:?}");
        }
        let evicted = c.take_evicted();
        assert_eq!(evicted.len(), 17);
        assert_eq!(evicted[0].0, ip("10.0.9.0"));
        assert!(evicted.iter().all(|(_, p)| p.len() == 1));
        assert!(c.take_evicted().is_empty());
        let t = t0 + Duration::from_millis(30);
        assert!(matches!(c.resolve(t, gw, SkBuff::from_frame(b"x")), Resolve::Ready { mac: m, .. } if m == mac));
        assert_eq!(c.entries(t).len(), 4);
    }

    #[test]
    fn three_requests_one_second_apart_then_give_up() {
        let mut c = ArpCache::new(ArpConfig::default());
        let t0 = Instant::from_secs(10);
        let host = ip("10.0.0.9");
        assert!(matches!(c.resolve(t0, host, SkBuff::from_frame(b"p")), Resolve::Queued { request: true }));
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        let r = c.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(r.requests, vec![host]);
        let r = c.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(r.requests, vec![host]);
        let r = c.handle_timeout(t0 + Duration::from_secs(3));
        assert!(r.requests.is_empty());
        assert_eq!(r.unresolved.len(), 1);
        assert_eq!(r.unresolved[0].data(), b"p");
        assert!(c.entries(t0).is_empty());
    }

    #[test]
    fn reachable_goes_stale_then_expires() {
        let mut c = ArpCache::new(ArpConfig::default());
        let t0 = Instant::from_secs(0);
        let h = ip("10.0.0.1");
        c.learn(t0, h, MacAddr([2, 0, 0, 0, 0, 1]), true);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(30)));
        let r = c.handle_timeout(t0 + Duration::from_secs(30));
        assert_eq!(r.changes, vec![(h, NeighState::Reachable, Some(NeighState::Stale))]);
        assert_eq!(c.entries(t0)[0].state, NeighState::Stale);
        let r = c.handle_timeout(t0 + Duration::from_secs(60));
        assert_eq!(r.changes, vec![(h, NeighState::Stale, None)]);
        assert!(c.entries(t0).is_empty());
    }

    #[test]
    fn learns_only_when_targeted_or_known() {
        let mut c = ArpCache::new(ArpConfig::default());
        let t0 = Instant::ZERO;
        c.learn(t0, ip("10.0.0.7"), MacAddr([2, 0, 0, 0, 0, 7]), false);
        assert!(c.entries(t0).is_empty());
        c.learn(t0, ip("10.0.0.7"), MacAddr([2, 0, 0, 0, 0, 7]), true);
        assert_eq!(c.lookup(ip("10.0.0.7")), Some(MacAddr([2, 0, 0, 0, 0, 7])));
    }
}
