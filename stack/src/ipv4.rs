//! IPv4: header checks on input, header push and fragmentation on output.
//!
//! Read first: RFC 791 (the header, fragmentation), RFC 1122 §3.2.1 (what a
//! host must check and silently discard), RFC 1812 §5.3.1 for TTL. Linux:
//! `ip_rcv` / `ip_rcv_core` (checks), `ip_local_deliver` (reassembly, then the
//! protocol handler), `ip_queue_xmit` / `ip_fragment` on the way out. The
//! header's bytes are read and written by `wire/ipv4.rs` (`Ipv4Packet`,
//! `Ipv4Repr`, `check_options`).
//!
//! The stack's IPv4 path is at the end of this file, on `Stack`: `ip_rcv`
//! (checks, reassembly by ip_frag.rs), `ip_local_deliver` (the protocol
//! hub, Linux `ip_local_deliver_finish` → `inet_protos`: to
//! `Icmp::icmp_rcv`, `Udp::udp_rcv` or `Tcp::tcp_v4_rcv`, each with a `Cx`
//! built from the stack's fields; an ICMP error they report goes to
//! `Stack::transport_error`, a datagram or protocol nobody takes gets
//! `Icmp::icmp_send_unreach`), and `ip_output` (Linux `ip_queue_xmit`:
//! route, header, fragments, then `arp.rs::neigh_output`).

use crate::skbuff::SkBuff;
use crate::stats::DropReason;
use crate::wire::ipv4::{IPV4_HLEN, MAX_DATAGRAM, PROTO_ICMP, PROTO_TCP};
use crate::wire::{IpProto, Ipv4Packet, Ipv4Repr};
use std::net::Ipv4Addr;

/// RFC 1700 / Linux `ip_default_ttl`.
pub const DEFAULT_TTL: u8 = 64;

/// `ip_rcv_core`: validate the header, trim link-layer padding, remember the
/// network header and pull it, leaving `data` at the payload. The checks run
/// in the order RFC 1122 §3.2.1 lists them (`Ipv4Packet::new_checked`, then
/// `Ipv4Repr::parse`); each failure has its reason.
pub fn ip_rcv_parse(skb: &mut SkBuff) -> Result<Ipv4Repr, DropReason> {
    let hdr = Ipv4Repr::parse(&Ipv4Packet::new_checked(skb.data())?)?;
    let (total_len, header_len) = (hdr.total_len, hdr.header_len);
    skb.trim(total_len);
    skb.reset_network_header();
    skb.pull(header_len);
    skb.reset_transport_header();
    Ok(hdr)
}

/// Fields of a header we send.
#[derive(Copy, Clone, Debug)]
pub struct IpOut {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    /// The TOS byte (DSCP and ECN bits): the socket's IP_TOS.
    pub tos: u8,
    pub ident: u16,
    pub dont_fragment: bool,
}

/// Push a 20-byte header in front of the payload at `skb.data()`.
pub fn ip_push_header(skb: &mut SkBuff, o: &IpOut, more_fragments: bool, frag_offset: usize) {
    let total = skb.len() + IPV4_HLEN;
    debug_assert!(total <= MAX_DATAGRAM);
    let h = skb.push(IPV4_HLEN);
    let repr = Ipv4Repr {
        src: o.src,
        dst: o.dst,
        protocol: o.protocol,
        ttl: o.ttl,
        tos: o.tos,
        ident: o.ident,
        dont_fragment: o.dont_fragment,
        more_fragments,
        frag_offset,
        header_len: IPV4_HLEN,
        total_len: total,
    };
    repr.emit(&mut Ipv4Packet::new_unchecked(h));
    skb.reset_network_header();
}

/// `ip_fragment`: split a transport payload (data at the transport header)
/// into IP packets of at most `mtu` bytes, each with its header pushed. The
/// first fragment reuses `skb`; the others are copied into new buffers (the
/// kernel's slow path does the same). Fragment payloads are multiples of 8.
pub fn ip_fragment(mut skb: SkBuff, o: &IpOut, mtu: usize) -> Vec<SkBuff> {
    let per_frag = ((mtu - IPV4_HLEN) / 8) * 8;
    let total = skb.len();
    let mut out = Vec::with_capacity(total.div_ceil(per_frag));
    let mut offset = per_frag;
    while offset < total {
        let end = (offset + per_frag).min(total);
        let mut f = SkBuff::for_xmit(end - offset);
        f.put_slice(&skb.data()[offset..end]);
        ip_push_header(&mut f, o, end < total, offset);
        out.push(f);
        offset = end;
    }
    skb.trim(per_frag);
    ip_push_header(&mut skb, o, true, 0);
    out.insert(0, skb);
    out
}

// ------------------------------------------------------------- IPv4 path
//
// The stack's IPv4, on `Stack` (Linux net/ipv4/ip_input.c, ip_output.c):
// `ip_rcv` checks and reassembles, `ip_local_deliver` hands the payload to
// `Icmp::icmp_rcv`, `Udp::udp_rcv` or `Tcp::tcp_v4_rcv`; `ip_output`
// routes, pushes the header (fragmenting above the MTU) and hands the packet
// to `arp.rs::neigh_output`.

use crate::cx::{Cx, L4Xmit};
use crate::ip_frag::FragResult;
use crate::stack::Stack;
use crate::stats::Counter;
use crate::time::Instant;
use crate::wire::icmp::{CODE_PORT_UNREACH, CODE_PROTO_UNREACH};

impl Stack {
    /// `ip_rcv` → `ip_local_deliver`: checks, reassembly, then the protocol.
    pub(crate) fn ip_rcv(&mut self, now: Instant, mut skb: SkBuff) {
        self.stats.inc(Counter::IpRx);
        let hdr = match ip_rcv_parse(&mut skb) {
            Ok(h) => h,
            Err(reason) => return self.drop_packet(now, reason, || "ip".into()),
        };
        let bcast = self.iface().broadcast;
        let to_us = hdr.dst == self.config.addr;
        if !to_us && !hdr.dst.is_broadcast() && hdr.dst != bcast {
            // A host does not forward (RFC 1122 §3.3.1.5 makes it optional).
            return self.drop_packet(now, DropReason::IpNotForUs, || format!("to {}", hdr.dst));
        }
        if hdr.is_fragment() {
            self.stats.inc(Counter::FragsRx);
            match self.frags.insert(now, &hdr, skb.data()) {
                Ok(FragResult::Queued) => return,
                Ok(FragResult::Complete(full, payload)) => {
                    self.stats.inc(Counter::FragsReassembled);
                    let mut whole = SkBuff::for_xmit(payload.len());
                    whole.put_slice(&payload);
                    whole.reset_transport_header();
                    return self.ip_local_deliver(now, full, whole, to_us);
                }
                Err(reason) => {
                    return self.drop_packet(now, reason, || format!("fragment id {} from {}", hdr.ident, hdr.src))
                }
            }
        }
        self.ip_local_deliver(now, hdr, skb, to_us);
    }

    /// Hand the payload to ICMP, UDP or TCP (`ip_local_deliver_finish`).
    /// `skb.data()` is the transport header; for unreassembled packets the
    /// IP header is still in the buffer (`network_header`) for ICMP errors
    /// to quote. ICMP and UDP run with a `Cx` made of the stack's fields, TCP
    /// through `Stack::with_tcp`.
    fn ip_local_deliver(&mut self, now: Instant, hdr: Ipv4Repr, skb: SkBuff, to_us: bool) {
        self.stats.inc(Counter::IpDelivered);
        let local = self.config.addr;
        let mut cx = Cx {
            now,
            stats: &mut self.stats,
            trace: &mut self.trace,
            probe: &mut self.probe,
            rng: &mut self.rng,
            out: &mut self.l4_out,
        };
        match IpProto::from(hdr.protocol) {
            IpProto::Icmp => {
                if let Some(e) = self.icmp.icmp_rcv(&mut cx, local, &hdr, skb) {
                    self.transport_error(now, e);
                }
            }
            IpProto::Udp => {
                if let Some(skb) = self.udp.udp_rcv(&mut cx, &hdr, skb) {
                    if to_us {
                        self.icmp.icmp_send_unreach(&mut cx, local, &hdr, &skb, CODE_PORT_UNREACH);
                    }
                }
            }
            IpProto::Tcp if to_us => {
                // Linux `tcp_v4_rcv`: TcpInSegs counts the wire segments
                // a GRO/GSO segment holds (`max(1, gso_segs)`).
                self.stats.inc_by(Counter::TcpRx, gso_segs(&skb));
                self.with_tcp(now, |tcp, cx| tcp.tcp_v4_rcv(cx, hdr.src, hdr.dst, skb));
            }
            IpProto::Tcp => self.drop_packet(now, DropReason::IpNotForUs, || "TCP to a broadcast address".into()),
            IpProto::Unknown(p) => {
                cx.drop_packet(DropReason::IpUnknownProtocol, "", || format!("protocol {p}"));
                if to_us {
                    self.icmp.icmp_send_unreach(&mut cx, local, &hdr, &skb, CODE_PROTO_UNREACH);
                }
            }
        }
    }

    /// `ip_queue_xmit`: route, push the header (fragmenting above the MTU),
    /// then resolve the next hop.
    pub(crate) fn ip_output(&mut self, now: Instant, x: L4Xmit) {
        let Some(route) = self.routes.route_lookup(x.dst).copied() else {
            return self.drop_packet(now, DropReason::IpNoRoute, || format!("to {}", x.dst));
        };
        let next_hop = if x.dst.is_broadcast() { x.dst } else { route.next_hop(x.dst) };
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let o = IpOut {
            src: x.src,
            dst: x.dst,
            protocol: x.protocol,
            // IP_TTL and IP_TOS of the sending socket (`ip_select_ttl`, `inet->tos`).
            ttl: x.ttl.unwrap_or(DEFAULT_TTL),
            tos: x.tos,
            ident: self.ip_ident,
            // TCP does path-MTU discovery (RFC 1191): DF on its segments.
            dont_fragment: x.protocol == PROTO_TCP,
        };
        match x.protocol {
            PROTO_ICMP => self.stats.inc(Counter::IcmpTx),
            PROTO_TCP => self.stats.inc(Counter::TcpTx),
            _ => {}
        }
        let mtu = self.config.mtu;
        // A GSO segment goes whole: the device cuts it to the MTU.
        if x.skb.len() + IPV4_HLEN <= mtu || x.skb.is_gso() {
            let mut skb = x.skb;
            ip_push_header(&mut skb, &o, false, 0);
            self.stats.inc(Counter::IpTx);
            return self.neigh_output(now, next_hop, skb);
        }
        if o.dont_fragment {
            return self
                .drop_packet(now, DropReason::IpFragNeeded, || format!("{} bytes, MTU {mtu}", x.skb.len() + 20));
        }
        // A fragment cannot carry a partial checksum (`ip_fragment`
        // finishes it first).
        let mut skb = x.skb;
        skb.checksum_help();
        for skb in ip_fragment(skb, &o, mtu) {
            self.stats.inc(Counter::FragsTx);
            self.stats.inc(Counter::IpTx);
            self.neigh_output(now, next_hop, skb);
        }
    }
}

/// The wire segments a TCP segment (`skb` at its TCP header) stands for:
/// `max(1, gso_segs)`, its payload cut at `gso_size`.
fn gso_segs(skb: &SkBuff) -> u64 {
    let d = skb.data();
    if !skb.is_gso() || skb.gso_size() == 0 || d.len() < 20 {
        return 1;
    }
    let payload = d.len().saturating_sub((d[12] >> 4) as usize * 4);
    payload.div_ceil(skb.gso_size()).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum;

    /// An ICMP echo request captured from `ping -c1 -s 8 -p 6162636465666768 10.0.0.2`
    /// (IP header and ICMP message, Ethernet header removed).
    const PING: [u8; 36] = [
        0x45, 0x00, 0x00, 0x24, 0xe4, 0x52, 0x40, 0x00, 0x40, 0x01, 0x42, 0x84, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00,
        0x00, 0x02, 0x08, 0x00, 0x53, 0xc4, 0x12, 0xa5, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    ];

    fn fixed(mut b: Vec<u8>) -> Vec<u8> {
        b[10] = 0;
        b[11] = 0;
        let hl = (((b[0] & 0x0f) as usize) * 4).clamp(20, b.len());
        let c = checksum::checksum(&b[..hl]);
        b[10..12].copy_from_slice(&c.to_be_bytes());
        b
    }

    #[test]
    fn parse_real_header_and_emit_same_bytes() {
        let mut skb = SkBuff::from_frame(&PING);
        let h = ip_rcv_parse(&mut skb).expect("valid");
        assert_eq!((h.src, h.dst), (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!((h.protocol, h.ttl, h.ident, h.dont_fragment), (PROTO_ICMP, 64, 0xe452, true));
        assert_eq!(skb.data(), &PING[20..]);

        let mut out = SkBuff::with_capacity(36);
        out.buf_fill_for_test(0xa5);
        out.reserve(20);
        out.put_slice(&PING[20..]);
        let o = IpOut {
            src: h.src,
            dst: h.dst,
            protocol: h.protocol,
            ttl: h.ttl,
            tos: 0,
            ident: h.ident,
            dont_fragment: true,
        };
        ip_push_header(&mut out, &o, false, 0);
        assert_eq!(out.data(), &PING);
    }

    #[test]
    fn each_bad_header_has_its_reason() {
        let cases: Vec<(Vec<u8>, DropReason)> = vec![
            (PING[..19].to_vec(), DropReason::IpTooShort),
            (
                fixed({
                    let mut b = PING.to_vec();
                    b[0] = 0x65;
                    b
                }),
                DropReason::IpBadVersion,
            ),
            (
                fixed({
                    let mut b = PING.to_vec();
                    b[0] = 0x44;
                    b
                }),
                DropReason::IpBadIhl,
            ),
            (
                fixed({
                    let mut b = PING.to_vec();
                    b[0] = 0x4f;
                    b
                }),
                DropReason::IpBadIhl,
            ),
            (
                {
                    let mut b = PING.to_vec();
                    b[10] ^= 1;
                    b
                },
                DropReason::IpBadChecksum,
            ),
            (
                fixed({
                    let mut b = PING.to_vec();
                    b[3] = 0x40;
                    b
                }),
                DropReason::IpBadTotalLength,
            ),
            (
                fixed({
                    let mut b = PING.to_vec();
                    b[3] = 19;
                    b
                }),
                DropReason::IpBadTotalLength,
            ),
            (
                fixed({
                    let mut b = PING.to_vec();
                    b[8] = 0;
                    b
                }),
                DropReason::IpTtlZero,
            ),
            (
                fixed({
                    let mut b = PING.to_vec();
                    b[12] = 255;
                    b[13] = 255;
                    b[14] = 255;
                    b[15] = 255;
                    b
                }),
                DropReason::IpBadSource,
            ),
            (
                fixed({
                    let mut b = PING.to_vec();
                    b[0] = 0x46;
                    b[3] = 0x28;
                    b.splice(20..20, [7, 9, 0, 0]);
                    b
                }),
                DropReason::IpBadOptions,
            ),
            (
                fixed({
                    let mut b = PING.to_vec();
                    b[0] = 0x46;
                    b[3] = 0x28;
                    b.splice(20..20, [7, 1, 0, 0]);
                    b
                }),
                DropReason::IpBadOptions,
            ),
        ];
        for (bytes, want) in cases {
            let mut skb = SkBuff::from_frame(&bytes);
            assert_eq!(ip_rcv_parse(&mut skb), Err(want), "{bytes:02x?}");
        }
        // NOPs and EOL are fine.
        let b = fixed({
            let mut b = PING.to_vec();
            b[0] = 0x46;
            b[3] = 0x28;
            b.splice(20..20, [1, 1, 0, 0]);
            b
        });
        assert!(ip_rcv_parse(&mut SkBuff::from_frame(&b)).is_ok());
    }

    #[test]
    fn ethernet_padding_is_trimmed() {
        let mut b = PING.to_vec();
        b.extend_from_slice(&[0; 18]);
        let mut skb = SkBuff::from_frame(&b);
        ip_rcv_parse(&mut skb).unwrap();
        assert_eq!(skb.len(), 16);
    }

    #[test]
    fn fragment_output() {
        let mut skb = SkBuff::for_xmit(4008);
        for (i, b) in skb.put(4008).iter_mut().enumerate() {
            *b = i as u8;
        }
        let o = IpOut {
            src: Ipv4Addr::new(10, 0, 0, 2),
            dst: Ipv4Addr::new(10, 0, 0, 1),
            protocol: 1,
            ttl: 64,
            tos: 0,
            ident: 7,
            dont_fragment: false,
        };
        let frags = ip_fragment(skb, &o, 1500);
        assert_eq!(frags.len(), 3);
        let mut joined = Vec::new();
        for (i, f) in frags.into_iter().enumerate() {
            let mut f = f;
            let h = ip_rcv_parse(&mut f).unwrap();
            assert!(h.total_len <= 1500);
            assert_eq!(h.frag_offset, i * 1480);
            assert_eq!(h.more_fragments, i < 2);
            joined.extend_from_slice(f.data());
        }
        assert_eq!(joined.len(), 4008);
        assert!(joined.iter().enumerate().all(|(i, &b)| b == i as u8));
    }
}
