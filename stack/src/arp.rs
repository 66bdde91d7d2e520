//! ARP: asking the link which MAC address answers for an IPv4 address, and
//! answering for ours.
//!
//! Read first: RFC 826 (the packet and "Packet Reception"), RFC 1122 §2.3.2
//! (flooding limits, queueing while unresolved), RFC 5227 §3 (gratuitous
//! ARP). Linux: net/ipv4/arp.c (`arp_rcv`, `arp_process`, `arp_send`,
//! `arp_solicit`) over the neighbour table of net/core/neighbour.c, which is
//! our neighbour.rs (`ArpCache`, its states and its GC).
//!
//! The stack's ARP path, on `Stack`: `arp_rcv` (RFC 826 "Packet Reception",
//! then the reply), `arp_xmit`, `arp_request`, `send_gratuitous_arp`,
//! `arp_timers`, `arp_gc_events`; and beside it the neighbour output
//! (net/core/neighbour.c): `neigh_output`, which `ipv4.rs::ip_output` calls,
//! and `neigh_link_failure`, which hands a silent neighbour's packets to
//! `Stack::transport_error` (stack.rs) as host unreachable. Frames go out
//! through `ethernet.rs::eth_xmit`.
//!
//! The packet's bytes are read and written by `wire/arp.rs` (`ArpPacket`,
//! `ArpRepr`).

use crate::errno::Errno;
use crate::ethernet::eth_xmit;
use crate::icmp::TransportError;
use crate::neighbour::{GcEvent, GcKind, Resolve};
use crate::skbuff::SkBuff;
use crate::stack::Stack;
use crate::stats::{Counter, DropReason};
use crate::time::Instant;
use crate::trace::EventKind;
use crate::wire::arp::{ARPOP_REPLY, ARPOP_REQUEST, ARP_LEN};
use crate::wire::ethernet::{EtherType, MacAddr};
use crate::wire::{ArpPacket, ArpRepr};
use std::net::Ipv4Addr;

// --------------------------------------------------------------- ARP path
//
// The stack's ARP, on `Stack` (Linux net/ipv4/arp.c): `arp_rcv` learns the
// sender and answers a request for our address, `arp_request` and
// `send_gratuitous_arp` send, `arp_timers` retries and expires entries,
// `arp_gc_events` counts what a full table did (neighbour.rs's table:
// `self.arp`).

impl Stack {
    /// RFC 826 "Packet Reception", then answer requests for our address.
    pub(crate) fn arp_rcv(&mut self, now: Instant, skb: SkBuff) {
        self.stats.inc(Counter::ArpRx);
        let pkt = match ArpPacket::new_checked(skb.data()).and_then(|p| ArpRepr::parse(&p)) {
            Ok(p) => p,
            Err(reason) => return self.drop_packet(now, reason, || "arp".into()),
        };
        if pkt.sha.is_multicast() || pkt.sha == MacAddr::ZERO {
            return self.drop_packet(now, DropReason::ArpBadSender, || format!("sender MAC {}", pkt.sha));
        }
        if pkt.spa == self.config.addr && pkt.sha != self.config.mac {
            // RFC 5227 §2.4: someone else claims our address; keep it, say so.
            return self.drop_packet(now, DropReason::ArpBadSender, || {
                format!("address conflict: {} claims {}", pkt.sha, pkt.spa)
            });
        }
        let for_us = pkt.tpa == self.config.addr;
        if !pkt.spa.is_unspecified() {
            let (released, change) = self.arp.learn(now, pkt.spa, pkt.sha, for_us);
            if let Some((old, new)) = change {
                let old = old.map_or("(none)", |s| s.name());
                self.trace.emit(now, EventKind::Arp, "RFC 826", || {
                    format!("neigh {} {} -> {} ({})", pkt.spa, old, new.name(), pkt.sha)
                });
            }
            for skb in released {
                eth_xmit(&mut self.txq, self.config.mac, pkt.sha, EtherType::Ipv4, skb);
            }
            self.arp_gc_events(now);
        }
        if !for_us {
            return self.drop_packet(now, DropReason::ArpNotForUs, || format!("who-has {}", pkt.tpa));
        }
        if pkt.op == ARPOP_REQUEST {
            let reply =
                ArpRepr { op: ARPOP_REPLY, sha: self.config.mac, spa: self.config.addr, tha: pkt.sha, tpa: pkt.spa };
            self.arp_xmit(reply, pkt.sha);
            self.stats.inc(Counter::ArpRepliesTx);
        }
    }

    fn arp_xmit(&mut self, pkt: ArpRepr, dst: MacAddr) {
        let mut skb = SkBuff::for_xmit(ARP_LEN);
        pkt.emit(&mut ArpPacket::new_unchecked(skb.put(ARP_LEN)));
        self.stats.inc(Counter::ArpTx);
        eth_xmit(&mut self.txq, self.config.mac, dst, EtherType::Arp, skb);
    }

    fn arp_request(&mut self, target: Ipv4Addr) {
        let req =
            ArpRepr { op: ARPOP_REQUEST, sha: self.config.mac, spa: self.config.addr, tha: MacAddr::ZERO, tpa: target };
        self.stats.inc(Counter::ArpRequestsTx);
        self.arp_xmit(req, MacAddr::BROADCAST);
    }

    /// RFC 5227 §3: an announcement, sender and target both our address.
    pub(crate) fn send_gratuitous_arp(&mut self, now: Instant) {
        let addr = self.config.addr;
        self.trace.emit(now, EventKind::Arp, "RFC 5227 §3", || format!("gratuitous ARP for {addr}"));
        self.arp_request(addr);
    }

    pub(crate) fn arp_timers(&mut self, now: Instant) {
        let t = self.arp.handle_timeout(now);
        for ip in t.requests {
            self.arp_request(ip);
        }
        for skb in t.unresolved {
            self.drop_packet(now, DropReason::ArpUnresolved, || "no ARP reply after 3 requests".into());
            self.neigh_link_failure(now, &skb);
        }
        for (ip, old, new) in t.changes {
            let new = new.map_or("(removed)", |s| s.name());
            self.trace
                .emit(now, EventKind::Arp, "RFC 1122 §2.3.2.1", || format!("neigh {ip} {} -> {new}", old.name()));
        }
    }

    /// Count what a full neighbour table did. An evicted unresolved
    /// neighbour's waiting packets are dropped, as if it had never answered.
    fn arp_gc_events(&mut self, now: Instant) {
        for event in self.arp.take_gc_events() {
            match event {
                GcEvent::Evicted { ip, state, kind, pending } => {
                    self.stats.inc(match kind {
                        GcKind::Unused => Counter::ArpEvictedUnused,
                        GcKind::Unresolved => Counter::ArpEvictedUnresolved,
                        GcKind::Idle => Counter::ArpEvictedIdle,
                    });
                    self.trace.emit(now, EventKind::Arp, "RFC 1122 §2.3.2.2", || {
                        format!(
                            "neigh {ip} {} -> (evicted: table full, {}), {} packet(s) dropped",
                            state.name(),
                            kind.name(),
                            pending.len()
                        )
                    });
                    for _ in pending {
                        self.drop_packet(now, DropReason::ArpUnresolved, || {
                            format!("neigh {ip} evicted before it answered")
                        });
                    }
                }
                GcEvent::NotCached { ip } => {
                    self.stats.inc(Counter::ArpSenderNotCached);
                    self.trace.emit(now, EventKind::Arp, "RFC 826", || {
                        format!("neigh {ip} not remembered: table full of neighbours in use")
                    });
                }
            }
        }
    }
}

// ------------------------------------------------------- neighbour output
//
// Linux net/core/neighbour.c: `neigh_output` sends a packet to a next hop's
// MAC or queues it while ARP asks; `neigh_link_failure` reports a neighbour
// that never answered.

impl Stack {
    /// `neigh_output`: a known MAC sends now; an unknown one queues the
    /// packet and sends an ARP request.
    pub(crate) fn neigh_output(&mut self, now: Instant, next_hop: Ipv4Addr, skb: SkBuff) {
        if next_hop.is_broadcast() || next_hop == self.iface().broadcast {
            return eth_xmit(&mut self.txq, self.config.mac, MacAddr::BROADCAST, EtherType::Ipv4, skb);
        }
        match self.arp.resolve(now, next_hop, skb) {
            Resolve::Ready { mac, skb, revalidate } => {
                eth_xmit(&mut self.txq, self.config.mac, mac, EtherType::Ipv4, skb);
                if revalidate {
                    self.arp_request(next_hop);
                }
            }
            Resolve::Queued { request } => {
                if request {
                    self.trace.emit(now, EventKind::Arp, "RFC 826", || {
                        format!("neigh {next_hop} (none) -> INCOMPLETE, who-has sent")
                    });
                    self.arp_request(next_hop);
                }
            }
            Resolve::Dropped(reason) => self.drop_packet(now, reason, || format!("next hop {next_hop}")),
        }
        self.arp_gc_events(now);
    }

    /// The neighbour never answered: like Linux (`arp_error_report` →
    /// `ipv4_link_failure`), report "host unreachable" to the packet's
    /// sender, so a `connect` to a silent on-link host fails with
    /// `EHOSTUNREACH` after the ARP retries instead of waiting out its SYN
    /// retries.
    pub(crate) fn neigh_link_failure(&mut self, now: Instant, skb: &SkBuff) {
        let dst = skb.data().get(16..20).map(|d| Ipv4Addr::new(d[0], d[1], d[2], d[3]));
        self.trace.emit(now, EventKind::Arp, "RFC 1122 §2.3.2.2", || {
            format!("neighbour for {} failed: host unreachable", dst.unwrap_or(Ipv4Addr::UNSPECIFIED))
        });
        if let Some(e) = TransportError::about(skb.data(), Errno::EHOSTUNREACH) {
            self.transport_error(now, e);
        }
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

    fn parse(b: &[u8]) -> Result<ArpRepr, DropReason> {
        ArpRepr::parse(&ArpPacket::new_checked(b)?)
    }

    #[test]
    fn wire_round_trip() {
        let p = parse(&REQUEST).unwrap();
        assert_eq!(p.op, ARPOP_REQUEST);
        assert_eq!(p.spa, ip("10.0.0.1"));
        assert_eq!(p.tpa, ip("10.0.0.2"));
        assert_eq!(p.sha, "52:54:00:12:34:56".parse().unwrap());
        let mut b = [0xa5u8; 28];
        p.emit(&mut ArpPacket::new_unchecked(&mut b[..]));
        assert_eq!(b, REQUEST);
    }

    #[test]
    fn bogus_packets_have_reasons() {
        assert_eq!(parse(&REQUEST[..27]), Err(DropReason::ArpTruncated));
        let mut b = REQUEST;
        b[1] = 6;
        assert_eq!(parse(&b), Err(DropReason::ArpBadHardware));
        let mut b = REQUEST;
        b[5] = 16;
        assert_eq!(parse(&b), Err(DropReason::ArpBadProtocol));
        let mut b = REQUEST;
        b[7] = 9;
        assert_eq!(parse(&b), Err(DropReason::ArpBadOpcode));
    }
}
