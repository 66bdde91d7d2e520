//! The neighbour table: which MAC address answers for an IPv4 address on
//! the link, and what to do while it is not known yet.
//!
//! Read first: RFC 1122 §2.3.2 (cache timeouts, queueing while unresolved,
//! flooding limits), RFC 4861 §7.3.2 (the NUD states, which Linux uses for
//! ARP too). Linux calls this the neighbour subsystem (`neigh_*`,
//! net/core/neighbour.c) with states INCOMPLETE, REACHABLE, STALE, DELAY,
//! PROBE, …; we keep three of them:
//!
//! ```text
//!   (none) --packet to send--> INCOMPLETE --reply--> REACHABLE
//!                                  |  3 requests, 1 s apart, no reply:
//!                                  v  entry and queued packets dropped
//!   (none) --a request for us (RFC 826 adds its sender)--> REACHABLE
//!   REACHABLE --reachable_time passes--> STALE --gc_time passes--> (none)
//!   STALE --used--> request sent again (the MAC is still used meanwhile)
//! ```
//!
//! Packets waiting for an INCOMPLETE entry sit in a small bounded queue per
//! neighbour (Linux `unres_qlen`) and go out when the reply arrives.
//!
//! The table holds at most `max_entries` (Linux `gc_thresh3`). Anyone on the
//! link can fill it: RFC 826 makes us remember the sender of every request
//! for our address, and a spoofed SYN makes us resolve its source. So when
//! it is full, `neigh_forced_gc` forgets the entry that is cheapest to lose,
//! and never one in use:
//!
//! 1. `Unused`: learned from a request, never used to send (oldest first).
//!    Forgetting it costs nothing; a flood of requests makes these.
//! 2. `Unresolved`: INCOMPLETE (oldest first); its waiting packets are
//!    dropped. A flood of spoofed SYNs makes these.
//! 3. `Idle`: used to send, but not in the last `GC_IN_USE` (least recently
//!    used first).
//!
//! An entry used to send in the last `GC_IN_USE` (the host, the gateway,
//! every peer of a live connection) stays; if every entry is such, the new
//! one is refused (Linux: "neighbor table overflow", `table_fulls`). Linux
//! decides alike: its forced GC (`neigh_forced_gc`) takes only entries
//! nobody holds a reference to that failed or were not updated in the last
//! 5 s, and `neigh_alloc` refuses the new entry when it frees none.
//!
//! This file holds the table (`ArpCache`, `ArpConfig`, `NeighState`,
//! `NeighbourView`, `Resolve`, `GcKind`, `GcEvent`, `ArpTimeouts`) and
//! nothing of the protocol: ARP's packets, and the neighbour output that
//! sends through the table (`arp.rs::neigh_output`), are in arp.rs; the
//! stack holds one `ArpCache` (stack.rs).

use crate::hash::FlowHash;
use crate::skbuff::SkBuff;
use crate::stats::DropReason;
use crate::time::{Duration, Instant};
use crate::wire::ethernet::MacAddr;
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

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
    /// The most neighbours remembered at once (Linux `gc_thresh3`, 1024).
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

/// A full table never forgets an entry used to send within this long
/// (Linux's forced GC spares entries updated in the last 5 s:
/// `tref = jiffies - 5 * HZ` in `neigh_forced_gc`).
pub const GC_IN_USE: Duration = Duration::from_secs(5);

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
    /// When it was last used to send; None if never (learned from a
    /// request for us, and not needed since).
    used: Option<Instant>,
    probes: u8,
    /// When to send the next request (INCOMPLETE, or STALE being re-probed).
    next_probe: Option<Instant>,
    /// Packets waiting for resolution: data starts at the IP header.
    pending: VecDeque<SkBuff>,
}

impl Neighbour {
    /// When it was last confirmed or used, whichever is later.
    fn last_active(&self) -> Instant {
        self.used.map_or(self.confirmed, |used| used.max(self.confirmed))
    }
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

/// Why `neigh_forced_gc` may forget an entry, cheapest to lose first.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum GcKind {
    /// Learned from a request for us, never used to send.
    Unused,
    /// INCOMPLETE: asked for, never answered.
    Unresolved,
    /// Used to send, but not in the last `GC_IN_USE`.
    Idle,
}

impl GcKind {
    pub fn name(self) -> &'static str {
        match self {
            GcKind::Unused => "never used",
            GcKind::Unresolved => "unresolved",
            GcKind::Idle => "idle",
        }
    }
}

/// What a full table did (`take_gc_events`), for the stack to count.
#[derive(Debug)]
pub enum GcEvent {
    /// `ip` was forgotten to make room; `pending` are the packets that
    /// were waiting for it (only an unresolved entry has any).
    Evicted { ip: Ipv4Addr, state: NeighState, kind: GcKind, pending: Vec<SkBuff> },
    /// The sender of a request for us was not remembered: every entry was
    /// in use. The request is still answered.
    NotCached { ip: Ipv4Addr },
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
    /// What the full table did since `take_gc_events` last ran: the stack
    /// counts each, and drops the packets evicted entries held.
    gc_events: Vec<GcEvent>,
}

impl ArpCache {
    pub fn new(config: ArpConfig) -> ArpCache {
        ArpCache { config, entries: HashMap::default(), gc_events: Vec::new() }
    }

    /// The entries a full table forgot, and the senders it did not
    /// remember, since the last call.
    pub fn take_gc_events(&mut self) -> Vec<GcEvent> {
        std::mem::take(&mut self.gc_events)
    }

    /// `neigh_resolve_output`: the MAC for `ip`, or queue `skb` until it is known.
    pub fn resolve(&mut self, now: Instant, ip: Ipv4Addr, skb: SkBuff) -> Resolve {
        let cfg = self.config.clone();
        if let Some(n) = self.entries.get_mut(&ip) {
            n.used = Some(now);
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
        if self.entries.len() >= cfg.max_entries && !self.neigh_forced_gc(now) {
            return Resolve::Dropped(DropReason::ArpTableFull);
        }
        let mut pending = VecDeque::new();
        pending.push_back(skb);
        self.entries.insert(
            ip,
            Neighbour {
                state: NeighState::Incomplete,
                mac: MacAddr::ZERO,
                confirmed: now,
                used: Some(now),
                probes: 1,
                next_probe: Some(now + cfg.retrans_time),
                pending,
            },
        );
        Resolve::Queued { request: true }
    }

    /// How cheap `n` is to forget from a full table (see the top of the
    /// file), and since when; None: it is in use and stays.
    fn gc_kind(n: &Neighbour, now: Instant) -> Option<(GcKind, Instant)> {
        if n.state == NeighState::Incomplete {
            return Some((GcKind::Unresolved, n.confirmed));
        }
        match n.used {
            None => Some((GcKind::Unused, n.confirmed)),
            Some(used) if now.saturating_since(used) >= GC_IN_USE => Some((GcKind::Idle, used)),
            Some(_) => None,
        }
    }

    /// Make room in a full table (Linux `neigh_forced_gc`): forget the
    /// cheapest entries, oldest first within their kind (the address breaks
    /// ties, so the choice does not depend on the hash map's order), down
    /// to half of `max_entries` in one pass, as Linux shrinks the table to
    /// `gc_thresh2` (half of `gc_thresh3`) and not by one: under a flood of
    /// new sources a pass over the whole table per newcomer was the most
    /// expensive thing synack did per spoofed SYN; one pass per half a
    /// table of newcomers costs a few entries each. False if every entry
    /// is in use.
    fn neigh_forced_gc(&mut self, now: Instant) -> bool {
        let mut victims: Vec<(GcKind, Instant, Ipv4Addr)> = self
            .entries
            .iter()
            .filter_map(|(&ip, n)| Self::gc_kind(n, now).map(|(kind, since)| (kind, since, ip)))
            .collect();
        if victims.is_empty() {
            return false;
        }
        let low = self.config.max_entries / 2;
        let k = self.entries.len().saturating_sub(low).clamp(1, victims.len());
        if k < victims.len() {
            victims.select_nth_unstable(k - 1);
            victims.truncate(k);
        }
        victims.sort_unstable();
        for (kind, _, ip) in victims {
            if let Some(n) = self.entries.remove(&ip) {
                self.gc_events.push(GcEvent::Evicted { ip, state: n.state, kind, pending: n.pending.into() });
            }
        }
        true
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
        if !for_us {
            return (Vec::new(), None);
        }
        if self.entries.len() >= self.config.max_entries && !self.neigh_forced_gc(now) {
            self.gc_events.push(GcEvent::NotCached { ip: sender });
            return (Vec::new(), None);
        }
        self.entries.insert(
            sender,
            Neighbour {
                state: NeighState::Reachable,
                mac,
                confirmed: now,
                used: None,
                probes: 0,
                next_probe: None,
                pending: VecDeque::new(),
            },
        );
        (Vec::new(), Some((None, NeighState::Reachable)))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let cfg = &self.config;
        self.entries
            .values()
            .map(|n| match (n.next_probe, n.state) {
                (Some(t), _) => t,
                (None, NeighState::Reachable) => n.confirmed + cfg.reachable_time,
                (None, _) => n.last_active() + cfg.gc_time,
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
                && now.saturating_since(n.last_active()) >= cfg.gc_time
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

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
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

    /// The kinds and addresses of what the table forgot since the last call.
    fn evictions(c: &mut ArpCache) -> Vec<(GcKind, Ipv4Addr, usize)> {
        c.take_gc_events()
            .into_iter()
            .map(|e| match e {
                GcEvent::Evicted { ip, kind, pending, .. } => (kind, ip, pending.len()),
                GcEvent::NotCached { ip } => panic!("{ip} not cached"),
            })
            .collect()
    }

    #[test]
    fn a_full_table_evicts_the_unresolved_before_a_neighbour_in_use() {
        let mut c = ArpCache::new(ArpConfig { max_entries: 4, ..Default::default() });
        let t0 = Instant::from_secs(1);
        let gw = ip("10.0.0.1");
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        c.learn(t0, gw, mac, true);
        assert!(matches!(c.resolve(t0, gw, SkBuff::from_frame(b"x")), Resolve::Ready { .. }));
        // A flood of silent sources: a full table forgets the oldest
        // unresolved entries (with what waited on them) down to half, in
        // one pass, never the gateway.
        for i in 0..20u8 {
            let t = t0 + Duration::from_millis(u64::from(i));
            let r = c.resolve(t, Ipv4Addr::new(10, 0, 9, i), SkBuff::from_frame(b"syn-ack"));
            assert!(matches!(r, Resolve::Queued { request: true }), "{i}: {r:?}");
        }
        let evicted = evictions(&mut c);
        // Full at the 4th entry (gw + 3), then every 2nd newcomer: 2 forgotten each time.
        assert_eq!(evicted.len(), 18);
        assert_eq!(evicted[0], (GcKind::Unresolved, ip("10.0.9.0"), 1));
        assert_eq!(evicted[1], (GcKind::Unresolved, ip("10.0.9.1"), 1));
        assert!(evicted.iter().all(|&(kind, _, pending)| kind == GcKind::Unresolved && pending == 1));
        assert!(c.take_gc_events().is_empty());
        let t = t0 + Duration::from_millis(30);
        assert!(matches!(c.resolve(t, gw, SkBuff::from_frame(b"x")), Resolve::Ready { mac: m, .. } if m == mac));
        assert_eq!(c.entries(t).len(), 3);
    }

    /// RFC 826 makes us remember the sender of every request for our
    /// address, so a flood of requests from spoofed senders fills the table
    /// with entries nobody sends to. They push out each other, never the
    /// host that we answer every 100 ms (like a ping), nor a neighbour we
    /// are resolving: traffic to the host always finds its MAC at once,
    /// and is never held for a new request.
    #[test]
    fn a_flood_of_requests_never_pushes_out_a_neighbour_in_use() {
        let mut c = ArpCache::new(ArpConfig::default());
        let max = ArpConfig::default().max_entries;
        let t0 = Instant::from_secs(1);
        let (host, host_mac) = (ip("10.0.0.1"), MacAddr([2, 0, 0, 0, 0, 1]));
        c.learn(t0, host, host_mac, true);
        let (new, new_mac) = (ip("10.0.0.9"), MacAddr([2, 0, 0, 0, 0, 9]));
        // 30,000 senders, one every 50 µs (1.5 s); the host's traffic every 100 ms.
        let flood = 30_000u32;
        for i in 0..flood {
            let t = t0 + Duration::from_micros(50 * u64::from(i));
            if i % 2_000 == 0 {
                let r = c.resolve(t, host, SkBuff::from_frame(b"echo reply"));
                assert!(
                    matches!(r, Resolve::Ready { mac, revalidate: false, .. } if mac == host_mac),
                    "request {i}: {r:?}"
                );
            }
            // Halfway, we start resolving a new neighbour; it answers 1 ms
            // (20 spoofed requests) later.
            if i == flood / 2 {
                assert!(matches!(c.resolve(t, new, SkBuff::from_frame(b"syn")), Resolve::Queued { request: true }));
            }
            if i == flood / 2 + 20 {
                let (released, _) = c.learn(t, new, new_mac, true);
                assert_eq!(released.len(), 1, "the resolving neighbour was evicted");
            }
            let spoofed = Ipv4Addr::from(u32::from(ip("10.1.0.0")) + i);
            c.learn(t, spoofed, MacAddr([2, 0xee, 0, 0, (i >> 8) as u8, i as u8]), true);
            assert!(c.entries.len() <= max);
        }
        let evicted = evictions(&mut c);
        // The table ends between half full and full: the host, the new
        // neighbour and the newest of the flood; the rest was forgotten.
        assert!((max / 2..=max).contains(&c.entries.len()), "{}", c.entries.len());
        assert_eq!(evicted.len(), flood as usize - (c.entries.len() - 2));
        assert!(evicted.iter().all(|&(kind, ip, _)| kind == GcKind::Unused && ip != host && ip != new));
        assert_eq!(c.lookup(host), Some(host_mac));
        assert_eq!(c.lookup(new), Some(new_mac));
    }

    /// When every entry was used to send in the last `GC_IN_USE`, a newcomer
    /// is refused (Linux: "neighbor table overflow"); after that, the least
    /// recently used goes first.
    #[test]
    fn a_table_of_neighbours_in_use_refuses_newcomers_until_one_is_idle() {
        let mut c = ArpCache::new(ArpConfig { max_entries: 4, ..Default::default() });
        let t0 = Instant::from_secs(1);
        for i in 1..=4u8 {
            c.learn(t0, Ipv4Addr::new(10, 0, 0, i), MacAddr([2, 0, 0, 0, 0, i]), true);
            assert!(matches!(
                c.resolve(t0, Ipv4Addr::new(10, 0, 0, i), SkBuff::from_frame(b"x")),
                Resolve::Ready { .. }
            ));
        }
        let t1 = t0 + Duration::from_secs(1);
        c.learn(t1, ip("10.0.0.50"), MacAddr([2, 0, 0, 0, 0, 50]), true);
        assert!(matches!(c.take_gc_events()[..], [GcEvent::NotCached { ip }] if ip == Ipv4Addr::new(10, 0, 0, 50)));
        let r = c.resolve(t1, ip("10.0.0.51"), SkBuff::from_frame(b"y"));
        assert!(matches!(r, Resolve::Dropped(DropReason::ArpTableFull)), "{r:?}");
        assert_eq!(c.entries(t1).len(), 4);
        // Three of them are used again; 10.0.0.3 is not, and GC_IN_USE later
        // it is the one that makes room.
        let t2 = t0 + Duration::from_secs(2);
        for i in [1, 2, 4] {
            assert!(matches!(
                c.resolve(t2, Ipv4Addr::new(10, 0, 0, i), SkBuff::from_frame(b"x")),
                Resolve::Ready { .. }
            ));
        }
        let t3 = t0 + GC_IN_USE;
        c.learn(t3, ip("10.0.0.50"), MacAddr([2, 0, 0, 0, 0, 50]), true);
        assert_eq!(evictions(&mut c), vec![(GcKind::Idle, ip("10.0.0.3"), 0)]);
        assert_eq!(c.lookup(ip("10.0.0.50")), Some(MacAddr([2, 0, 0, 0, 0, 50])));
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
