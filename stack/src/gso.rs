//! TCP segmentation offload (TSO/GSO): how big a segment TCP may build, and
//! how a big segment is cut into wire-sized ones.
//!
//! Read first: the kernel's Documentation/networking/segmentation-offloads.rst
//! and net/ipv4/tcp_offload.c (`tcp_gso_segment`), net/ipv4/af_inet.c
//! (`inet_gso_segment`), net/ipv4/tcp.c (`tcp_xmit_size_goal`).
//!
//! With TSO, TCP hands the device one segment of up to 64 KiB with
//! `gso_size` = the MSS; the device (a NIC, or the host's kernel behind a TAP
//! opened with a virtio-net header) cuts it into segments of `gso_size`
//! bytes of payload, each with its own IP and TCP header:
//!
//! ```text
//!   [eth][ip len=64292 id=7][tcp seq=S  PSH,FIN] [ 44 x 1460 bytes ]
//!      -> [eth][ip len=1500 id=7 ][tcp seq=S          ] [1460]
//!         [eth][ip len=1500 id=8 ][tcp seq=S+1460     ] [1460]
//!         ...
//!         [eth][ip len=...  id=50][tcp seq=S+43*1460 PSH,FIN] [rest]
//! ```
//!
//! The per-packet work of TCP, IP and the system call to the device is paid
//! once per 64 KiB instead of once per 1460 bytes. `tcp_gso_segment` below
//! does the cutting in software, exactly as the kernel does it (the
//! namespace test `tests/tests/offload.rs` compares it with the kernel's own
//! segments). synack's own devices never need it (TCP builds a GSO segment
//! only for a device that takes one): it is the reference for what the
//! device does.

use crate::checksum;
use crate::skbuff::{IpSummed, SkBuff};
use crate::wire::ethernet::{ETHERTYPE_IPV4, ETH_HLEN};
use crate::wire::ipv4::{IPV4_HLEN, MAX_DATAGRAM, PROTO_TCP};
use crate::wire::tcp::SeqNumber;
use crate::wire::tcp::{self, TcpFlags, TCP_HLEN};
use crate::wire::{EthernetFrame, Ipv4Packet, TcpPacket};

/// Room for a TCP header with every option (Linux `MAX_TCP_HEADER` is
/// larger because it counts the link layer too).
const MAX_TCP_HLEN: usize = 60;

/// TCP flags cleared on every piece but the last (FIN, PSH) or the first (CWR).
const FIN_PSH: u8 = TcpFlags::FIN.0 | TcpFlags::PSH.0;
const CWR: u8 = TcpFlags::CWR.0;

/// `tcp_xmit_size_goal`: the payload TCP may put in one segment. Without
/// GSO (`gso_max_size` 0) one MSS; with it, as many whole MSS as fit in an
/// IP packet of `gso_max_size` bytes, and no more than half the largest
/// window the peer has offered (`tcp_bound_to_half_wnd`: a segment that
/// fills the window leaves nothing in flight while it is acknowledged).
pub fn tcp_size_goal(mss: usize, gso_max_size: usize, max_snd_wnd: usize) -> usize {
    if gso_max_size == 0 || mss == 0 {
        return mss;
    }
    let most = gso_max_size.min(MAX_DATAGRAM).saturating_sub(IPV4_HLEN + MAX_TCP_HLEN);
    let half_wnd = if max_snd_wnd > 536 { max_snd_wnd / 2 } else { max_snd_wnd };
    let goal = most.min(half_wnd);
    (goal / mss * mss).max(mss)
}

/// `tcp_gso_segment` (+ `inet_gso_segment`): cut a TCP/IPv4 GSO frame
/// (`skb.data()` at the Ethernet header, `gso_size` set) into frames of at
/// most `gso_size` bytes of payload. Each piece has the headers of the
/// original with its own IP total length, identification (the original's,
/// plus one per piece), header checksum and TCP sequence number; FIN and
/// PSH only on the last piece, CWR only on the first. The TCP checksum is
/// left `Partial` (the pseudo-header sum for the piece's length, as the
/// kernel leaves it for a device that checksums); `SkBuff::checksum_help`
/// finishes it for one that does not. Returns the frame whole (one piece)
/// when it is no GSO frame or too short to cut.
pub fn tcp_gso_segment(skb: SkBuff) -> Vec<SkBuff> {
    let mss = skb.gso_size();
    let b = skb.data();
    let ok = skb.is_gso() && mss > 0 && b.len() >= ETH_HLEN + IPV4_HLEN && {
        let eth = EthernetFrame::new_unchecked(b);
        let ip = Ipv4Packet::new_unchecked(eth.payload());
        eth.ethertype() == ETHERTYPE_IPV4 && ip.version() == 4 && ip.protocol() == PROTO_TCP
    };
    if !ok {
        return vec![skb];
    }
    let ip = Ipv4Packet::new_unchecked(&b[ETH_HLEN..]);
    let ihl = ip.header_len();
    let l4 = ETH_HLEN + ihl;
    if ihl < IPV4_HLEN || b.len() < l4 + TCP_HLEN {
        return vec![skb];
    }
    let tcp = TcpPacket::new_unchecked(&b[l4..]);
    let thl = tcp.header_len();
    let hdrs = l4 + thl;
    if thl < TCP_HLEN || b.len() <= hdrs + mss {
        // Not more than one piece: no cutting (virtio_net_hdr_to_skb's rule).
        let mut skb = skb;
        skb.set_gso_tcpv4(0);
        return vec![skb];
    }
    let payload = &b[hdrs..];
    let ident = ip.ident();
    let seq = tcp.seq_number();
    let flags = tcp.flags_byte();
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let headroom = skb.headroom();
    let pieces = payload.len().div_ceil(mss);
    let mut out = Vec::with_capacity(pieces);
    for (i, chunk) in payload.chunks(mss).enumerate() {
        let mut f = SkBuff::with_capacity(headroom + hdrs + chunk.len());
        f.reserve(headroom);
        f.put_slice(&b[..hdrs]);
        f.put_slice(chunk);
        let (ip_hdr, seg) = f.data_mut()[ETH_HLEN..].split_at_mut(ihl);
        // IP: total length, identification, header checksum.
        let mut ip = Ipv4Packet::new_unchecked(ip_hdr);
        ip.set_total_len(ihl + thl + chunk.len());
        ip.set_ident(ident.wrapping_add(i as u16));
        ip.fill_checksum();
        // TCP: sequence number and flags.
        let mut t = TcpPacket::new_unchecked(seg);
        t.set_seq_number(SeqNumber(seq.0.wrapping_add((i * mss) as u32)));
        let mut fl = flags;
        if i + 1 < pieces {
            fl &= !FIN_PSH;
        }
        if i > 0 {
            fl &= !CWR;
        }
        t.set_flags(TcpFlags(fl));
        // The pseudo-header sum for this piece's length (the kernel adjusts
        // the original's by the difference; the result is the same).
        t.set_checksum(checksum::pseudo_header(src, dst, PROTO_TCP, thl + chunk.len()) as u16);
        f.set_csum_partial(l4, tcp::field::CHECKSUM.start as u16);
        out.push(f);
    }
    // A piece of a frame whose checksum was already whole (not Partial)
    // leaves whole too.
    if skb.ip_summed() != IpSummed::Partial {
        for f in &mut out {
            f.checksum_help();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn size_goal() {
        assert_eq!(tcp_size_goal(1460, 0, 1 << 20), 1460, "no GSO: one MSS");
        assert_eq!(tcp_size_goal(1460, 65_536, 1 << 20), 44 * 1460, "44 MSS fit in 64 KiB with headers");
        assert_eq!(tcp_size_goal(1460, 65_536, 20_000), 6 * 1460, "half the window, whole MSS");
        assert_eq!(tcp_size_goal(1460, 65_536, 2_000), 1460, "never below one MSS");
        assert_eq!(tcp_size_goal(536, 16_000, 1 << 20), 29 * 536);
    }

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    /// A GSO frame as synack's TCP builds it: Ethernet, IP (DF, id 0xfffe),
    /// TCP with PSH|FIN|ACK|CWR, `len` bytes of payload, Partial checksum.
    fn gso_frame(len: usize, mss: u16) -> SkBuff {
        let payload: Vec<u8> = (0..len as u32).map(|i| (i * 31 + 7) as u8).collect();
        let mut skb = SkBuff::for_xmit(len);
        skb.put_slice(&payload);
        let t = skb.push(20);
        t.copy_from_slice(&[
            0x30, 0x39, 0x00, 0x50, 0xff, 0xff, 0xff, 0x00, 0, 0, 0, 1, 0x50, 0x99, 0x10, 0, 0, 0, 0, 0,
        ]);
        crate::skbuff::set_partial(&mut skb, SRC, DST, PROTO_TCP, tcp::field::CHECKSUM.start as u16);
        skb.set_gso_tcpv4(mss);
        let o = crate::ipv4::IpOut {
            src: SRC,
            dst: DST,
            protocol: PROTO_TCP,
            ttl: 64,
            tos: 0,
            ident: 0xfffe,
            dont_fragment: true,
        };
        crate::ipv4::ip_push_header(&mut skb, &o, false, 0);
        crate::ethernet::eth_push(
            &mut skb,
            crate::wire::MacAddr([2, 0, 0, 0, 0, 1]),
            crate::wire::MacAddr([2, 0, 0, 0, 0, 2]),
            crate::wire::EtherType::Ipv4,
        );
        skb
    }

    #[test]
    fn cuts_per_gso_size_as_the_kernel_does() {
        let (len, mss) = (10_000, 1460u16);
        let big = gso_frame(len, mss);
        let whole = big.data().to_vec();
        let pieces = tcp_gso_segment(big);
        assert_eq!(pieces.len(), 7, "6 full pieces and one of 1240 bytes");
        let mut got = Vec::new();
        for (i, p) in pieces.into_iter().enumerate() {
            let mut p = p;
            assert_eq!(p.ip_summed(), IpSummed::Partial);
            p.checksum_help();
            let d = p.data();
            let n = if i < 6 { 1460 } else { 1240 };
            assert_eq!(d.len(), 14 + 20 + 20 + n);
            assert_eq!(&d[..14], &whole[..14], "Ethernet header copied");
            assert_eq!(u16::from_be_bytes([d[16], d[17]]) as usize, 40 + n, "IP total length");
            assert_eq!(u16::from_be_bytes([d[18], d[19]]), 0xfffeu16.wrapping_add(i as u16), "IP id + i (wraps)");
            assert_eq!(checksum::checksum(&d[14..34]), 0, "IP header checksum");
            let seq = u32::from_be_bytes([d[38], d[39], d[40], d[41]]);
            assert_eq!(seq, 0xffff_ff00u32.wrapping_add(i as u32 * 1460), "seq (wraps)");
            let flags = d[47];
            assert_eq!(flags & 0x10, 0x10, "ACK on every piece");
            assert_eq!(flags & FIN_PSH != 0, i == 6, "FIN and PSH on the last piece only");
            assert_eq!(flags & CWR != 0, i == 0, "CWR on the first piece only");
            assert_eq!(checksum::transport_checksum(SRC, DST, PROTO_TCP, &d[34..]), 0, "TCP checksum, piece {i}");
            got.extend_from_slice(&d[54..]);
        }
        assert_eq!(got, whole[54..], "the payload, in order, nothing lost");
    }

    #[test]
    fn one_piece_is_not_cut() {
        let f = gso_frame(1460, 1460);
        let v = tcp_gso_segment(f.clone());
        assert_eq!(v.len(), 1);
        assert!(!v[0].is_gso());
        assert_eq!(v[0].data(), f.data());
        // Not a GSO frame at all: returned as it was.
        let mut plain = gso_frame(3000, 1460);
        plain.set_gso_tcpv4(0);
        let v = tcp_gso_segment(plain.clone());
        assert_eq!(v, vec![plain]);
    }
}
