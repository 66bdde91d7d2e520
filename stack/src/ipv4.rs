//! IPv4: header checks on input, header push and fragmentation on output.
//!
//! Read first: RFC 791 (the header, fragmentation), RFC 1122 §3.2.1 (what a
//! host must check and silently discard), RFC 1812 §5.3.1 for TTL. Linux:
//! `ip_rcv` / `ip_rcv_core` (checks), `ip_local_deliver` (reassembly, then the
//! protocol handler), `ip_queue_xmit` / `ip_fragment` on the way out.
//!
//! The stack's IPv4 path is at the end of this file, on `Stack`: `ip_rcv`
//! (checks, reassembly by ip_frag.rs), `ip_local_deliver` (to
//! `icmp.rs::icmp_rcv`, `udp.rs::udp_rcv` or `Tcp::tcp_v4_rcv`), and
//! `ip_output` (Linux `ip_queue_xmit`: route, header, fragments, then
//! `arp.rs::neigh_output`).

use crate::checksum;
use crate::skbuff::SkBuff;
use crate::stats::DropReason;
use std::net::Ipv4Addr;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const IPV4_HLEN: usize = 20;
/// RFC 791: the largest datagram.
pub const MAX_DATAGRAM: usize = 65_535;
/// RFC 1700 / Linux `ip_default_ttl`.
pub const DEFAULT_TTL: u8 = 64;

/// The protocol field, as an enum with an arm for everything else.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum IpProto {
    Icmp,
    Tcp,
    Udp,
    Unknown(u8),
}

impl From<u8> for IpProto {
    fn from(v: u8) -> Self {
        match v {
            PROTO_ICMP => IpProto::Icmp,
            PROTO_TCP => IpProto::Tcp,
            PROTO_UDP => IpProto::Udp,
            n => IpProto::Unknown(n),
        }
    }
}

/// The fields of a received header that the layers above need.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Ipv4Hdr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    /// Fragment offset in bytes.
    pub frag_offset: usize,
    pub header_len: usize,
    pub total_len: usize,
}

impl Ipv4Hdr {
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.frag_offset != 0
    }
}

/// `ip_rcv_core`: validate the header, trim link-layer padding, remember the
/// network header and pull it, leaving `data` at the payload. The checks run
/// in the order RFC 1122 §3.2.1 lists them; each failure has its reason.
pub fn ip_rcv_parse(skb: &mut SkBuff) -> Result<Ipv4Hdr, DropReason> {
    let b = skb.data();
    if b.len() < IPV4_HLEN {
        return Err(DropReason::IpTooShort);
    }
    if b[0] >> 4 != 4 {
        return Err(DropReason::IpBadVersion);
    }
    let header_len = (b[0] & 0x0f) as usize * 4;
    if header_len < IPV4_HLEN || header_len > b.len() {
        return Err(DropReason::IpBadIhl);
    }
    if checksum::ip_fast_csum(&b[..header_len]) != 0 {
        return Err(DropReason::IpBadChecksum);
    }
    let total_len = u16::from_be_bytes([b[2], b[3]]) as usize;
    if total_len < header_len || total_len > b.len() {
        return Err(DropReason::IpBadTotalLength);
    }
    let ttl = b[8];
    if ttl == 0 {
        // RFC 1812 §5.3.1 / RFC 1122 §3.2.1.7: a TTL of 0 never travels a link.
        return Err(DropReason::IpTtlZero);
    }
    check_options(&b[IPV4_HLEN..header_len])?;
    let flags_frag = u16::from_be_bytes([b[6], b[7]]);
    let hdr = Ipv4Hdr {
        src: Ipv4Addr::new(b[12], b[13], b[14], b[15]),
        dst: Ipv4Addr::new(b[16], b[17], b[18], b[19]),
        protocol: b[9],
        ttl,
        tos: b[1],
        ident: u16::from_be_bytes([b[4], b[5]]),
        dont_fragment: flags_frag & 0x4000 != 0,
        more_fragments: flags_frag & 0x2000 != 0,
        frag_offset: (flags_frag & 0x1fff) as usize * 8,
        header_len,
        total_len,
    };
    if hdr.src.is_broadcast() || hdr.src.is_multicast() {
        // RFC 1122 §3.2.1.3: a source address must be a unicast address.
        return Err(DropReason::IpBadSource);
    }
    skb.trim(total_len);
    skb.reset_network_header();
    skb.pull(header_len);
    skb.reset_transport_header();
    Ok(hdr)
}

/// RFC 791 options: each is EOL (0), NOP (1) or type-length-value with a
/// length of at least 2 that stays inside the header. We act on none of them
/// (RFC 1122 §3.2.1.8 lets a host ignore unknown options) but refuse to
/// read past a malformed one.
fn check_options(mut opts: &[u8]) -> Result<(), DropReason> {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return Ok(()),
            1 => opts = &opts[1..],
            _ => {
                let len = *opts.get(1).ok_or(DropReason::IpBadOptions)? as usize;
                if len < 2 || len > opts.len() {
                    return Err(DropReason::IpBadOptions);
                }
                opts = &opts[len..];
            }
        }
    }
    Ok(())
}

/// Fields of a header we send.
#[derive(Copy, Clone, Debug)]
pub struct IpOut {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub ident: u16,
    pub dont_fragment: bool,
}

/// Push a 20-byte header in front of the payload at `skb.data()`.
pub fn ip_push_header(skb: &mut SkBuff, o: &IpOut, more_fragments: bool, frag_offset: usize) {
    let total = skb.len() + IPV4_HLEN;
    debug_assert!(total <= MAX_DATAGRAM);
    let h = skb.push(IPV4_HLEN);
    h[0] = 0x45;
    h[1] = 0;
    h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    h[4..6].copy_from_slice(&o.ident.to_be_bytes());
    let mut ff = (frag_offset / 8) as u16;
    if o.dont_fragment {
        ff |= 0x4000;
    }
    if more_fragments {
        ff |= 0x2000;
    }
    h[6..8].copy_from_slice(&ff.to_be_bytes());
    h[8] = o.ttl;
    h[9] = o.protocol;
    h[10..12].copy_from_slice(&[0, 0]);
    h[12..16].copy_from_slice(&o.src.octets());
    h[16..20].copy_from_slice(&o.dst.octets());
    let c = checksum::ip_fast_csum(h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
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
// `icmp.rs::icmp_rcv`, `udp.rs::udp_rcv` or `tcp::Tcp::tcp_v4_rcv`;
// `ip_output` routes, pushes the header (fragmenting above the MTU) and hands
// the packet to `arp.rs::neigh_output`.

use crate::cx::L4Xmit;
use crate::icmp;
use crate::ip_frag::FragResult;
use crate::stack::Stack;
use crate::stats::Counter;
use crate::time::Instant;

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

    /// Hand the payload to ICMP, UDP or TCP. `skb.data()` is the transport
    /// header; for unreassembled packets the IP header is still in the buffer
    /// (`network_header`) for ICMP errors to quote.
    fn ip_local_deliver(&mut self, now: Instant, hdr: Ipv4Hdr, skb: SkBuff, to_us: bool) {
        self.stats.inc(Counter::IpDelivered);
        match IpProto::from(hdr.protocol) {
            IpProto::Icmp => self.icmp_rcv(now, &hdr, skb),
            IpProto::Udp => self.udp_rcv(now, &hdr, skb, to_us),
            IpProto::Tcp if to_us => {
                self.stats.inc(Counter::TcpRx);
                self.with_tcp(now, |tcp, cx| tcp.tcp_v4_rcv(cx, hdr.src, hdr.dst, skb));
            }
            IpProto::Tcp => self.drop_packet(now, DropReason::IpNotForUs, || "TCP to a broadcast address".into()),
            IpProto::Unknown(p) => {
                self.drop_packet(now, DropReason::IpUnknownProtocol, || format!("protocol {p}"));
                if to_us {
                    self.icmp_send_unreach(now, &hdr, &skb, icmp::CODE_PROTO_UNREACH);
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
            ttl: DEFAULT_TTL,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let o = IpOut { src: h.src, dst: h.dst, protocol: h.protocol, ttl: h.ttl, ident: h.ident, dont_fragment: true };
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
