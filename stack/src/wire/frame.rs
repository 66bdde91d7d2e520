//! Whole frames built from the headers' representations: an Ethernet II /
//! IPv4 / TCP frame (`tcp_frame`) or an ARP frame (`arp_frame`) in one call, for tests and tools that make frames (the
//! stack itself builds its frames layer by layer, in an `SkBuff`).
//!
//! Read first: `ethernet.rs`, `ipv4.rs`, `tcp.rs` (the reprs this emits).

use crate::wire::arp::{ArpPacket, ArpRepr};
use crate::wire::ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr, ETH_HLEN};
use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr, IPV4_HLEN, PROTO_TCP};
use crate::wire::tcp::{TcpPacket, TcpRepr};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The source MAC of `tcp_frame`'s frames.
pub const FRAME_SRC_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
/// The destination MAC of `tcp_frame`'s frames.
pub const FRAME_DST_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

/// The frame `src > dst` carrying `tcp` and `payload`: Ethernet from
/// `FRAME_SRC_MAC` to `FRAME_DST_MAC`, IPv4 with TTL 64, DF, ident 0 and
/// its checksum, the TCP header with its checksum left zero (fill it with
/// `tcp::finish_checksum` on the IP payload when it matters).
pub fn tcp_frame(src: SocketAddrV4, dst: SocketAddrV4, tcp: &TcpRepr, payload: &[u8]) -> Vec<u8> {
    let tcp = TcpRepr { src_port: src.port(), dst_port: dst.port(), ..*tcp };
    let mut seg = vec![0u8; tcp.hdr_len() + payload.len()];
    tcp.emit(&mut TcpPacket::new_unchecked(&mut seg[..]));
    seg[tcp.hdr_len()..].copy_from_slice(payload);
    ipv4_frame(FRAME_SRC_MAC, FRAME_DST_MAC, *src.ip(), *dst.ip(), PROTO_TCP, &seg)
}

/// The frame `src_mac > dst_mac` carrying the transport segment `seg` (its
/// checksum as the caller left it) in an IPv4 packet `src > dst` of
/// `protocol`: TTL 64, DF, ident 0, the IP header's checksum.
pub fn ipv4_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    seg: &[u8],
) -> Vec<u8> {
    let ip = Ipv4Repr {
        src,
        dst,
        protocol,
        ttl: 64,
        tos: 0,
        ident: 0,
        dont_fragment: true,
        more_fragments: false,
        frag_offset: 0,
        header_len: IPV4_HLEN,
        total_len: IPV4_HLEN + seg.len(),
    };
    let mut f = vec![0u8; ETH_HLEN + ip.total_len];
    let mut frame = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr { dst: dst_mac, src: src_mac, ethertype: EtherType::Ipv4 }.emit(&mut frame);
    let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
    ip.emit(&mut packet);
    packet.into_inner()[IPV4_HLEN..].copy_from_slice(seg);
    f
}

/// The ARP packet `arp` in an Ethernet frame from its sender (`arp.sha`)
/// to `dst` (broadcast for a request), unpadded: 42 bytes.
pub fn arp_frame(dst: MacAddr, arp: &ArpRepr) -> Vec<u8> {
    let mut f = vec![0u8; ETH_HLEN + arp.buffer_len()];
    let mut frame = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr { dst, src: arp.sha, ethertype: EtherType::Arp }.emit(&mut frame);
    arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::SeqNumber;
    use crate::wire::tcp::TcpFlags;

    #[test]
    fn a_frame_reads_back_through_the_views() {
        let src: SocketAddrV4 = "10.0.0.2:23".parse().unwrap();
        let dst: SocketAddrV4 = "10.0.0.1:5000".parse().unwrap();
        let t = TcpRepr::new(0, 0, SeqNumber(7), Some(SeqNumber(9)), TcpFlags::PSH | TcpFlags::ACK, 512);
        let f = tcp_frame(src, dst, &t, b"hi");
        assert_eq!(f.len(), 14 + 20 + 20 + 2);
        let eth = EthernetRepr::parse(&EthernetFrame::new_checked(&f[..]).unwrap());
        assert_eq!((eth.src, eth.dst, eth.ethertype), (FRAME_SRC_MAC, FRAME_DST_MAC, EtherType::Ipv4));
        let p = Ipv4Packet::new_checked(&f[14..]).unwrap();
        let ip = Ipv4Repr::parse(&p).unwrap();
        assert_eq!((ip.src, ip.dst, ip.protocol, ip.total_len), (*src.ip(), *dst.ip(), PROTO_TCP, 42));
        let seg = TcpPacket::new_checked(p.payload()).unwrap();
        assert_eq!((seg.src_port(), seg.dst_port(), seg.checksum()), (23, 5000, 0));
        let h = TcpRepr::parse(&seg, ip.src, ip.dst, false).unwrap();
        assert_eq!(h, TcpRepr { src_port: 23, dst_port: 5000, ..t });
        assert_eq!(seg.payload(), b"hi");
    }

    #[test]
    fn an_arp_frame_reads_back() {
        use crate::wire::arp::ARPOP_REQUEST;
        let a = ArpRepr {
            op: ARPOP_REQUEST,
            sha: FRAME_DST_MAC,
            spa: [10, 0, 0, 1].into(),
            tha: MacAddr::ZERO,
            tpa: [10, 0, 0, 2].into(),
        };
        let f = arp_frame(MacAddr::BROADCAST, &a);
        assert_eq!(f.len(), 42);
        let eth = EthernetRepr::parse(&EthernetFrame::new_checked(&f[..]).unwrap());
        assert_eq!((eth.dst, eth.src, eth.ethertype), (MacAddr::BROADCAST, FRAME_DST_MAC, EtherType::Arp));
        assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(&f[14..]).unwrap()), Ok(a));
    }
}
