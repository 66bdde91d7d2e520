//! GRO, generic receive offload, in software: consecutive in-order TCP
//! segments of one flow that arrive in one batch of frames are glued into
//! one large segment before TCP sees it, so that TCP runs once (and ACKs
//! once) per batch instead of once per frame.
//!
//! Read first: Linux `napi_gro_receive` and `dev_gro_receive`
//! (net/core/gro.c), `inet_gro_receive` (net/ipv4/af_inet.c),
//! `tcp_gro_receive` and `tcp4_gro_receive` (net/ipv4/tcp_offload.c,
//! tcp_ipv4.c), `napi_gro_flush` (net/core/gro.c). No RFC defines GRO;
//! what it must keep is what the segments mean to TCP (RFC 9293): the
//! bytes, their order, and every flag and option a receiver acts on. So
//! only segments that differ in nothing but their sequence number (and
//! PSH or FIN on the last) are merged, as Linux's rules say:
//!
//! - **the same flow**: the same Ethernet header, IPv4 addresses, TCP
//!   ports; IPv4 without options or fragments, the same TOS, TTL and DF,
//!   and an IP ID that counts up by one per segment (or, with DF, stays
//!   fixed: `inet_gro_receive`'s `flush_id`);
//! - **in order**: the segment starts where the held one ends;
//! - **the same TCP header** (`tcp_gro_receive`): ACK number, data offset,
//!   window, and every option byte (a timestamp that moved stops the merge)
//!   equal; flags equal but for CWR, PSH and FIN; a CWR stops it;
//! - **no larger than the first** (`gso_size`, the flow's MSS): a longer
//!   segment stops the merge, a shorter one is merged and ends it, as do
//!   PSH, FIN, URG, RST and SYN (the held segment is then handed up at once);
//! - **a good checksum**: a segment the device did not vouch for is
//!   checked here (Linux checks it in `tcp4_gro_receive`, by then
//!   `CHECKSUM_COMPLETE`); the glued segment is `CHECKSUM_UNNECESSARY`. A bad
//!   one is handed up as it is, and TCP drops it by its reason
//!   (`tcp_bad_checksum`);
//! - **at most 64 KiB** of IP packet (`GRO_MAX_SIZE`), and at most
//!   `MAX_GRO_SKBS` = 8 flows held at once (the oldest is flushed).
//!
//! A segment without payload (a pure ACK) is never held. Whatever is held
//! goes up at the end of the batch (`Stack::napi_gro_flush`, Linux's
//! `napi_complete_done` → `napi_gro_flush`): the driver (device/src/poll_loop.rs
//! `run_turn`, device/src/sim.rs, replay) calls it once per batch, so
//! nothing waits longer than the frames read in one wake-up.
//!
//! The glued segment carries `gso_size` (the first segment's payload) and
//! `SKB_GSO_TCPV4`, exactly like a frame a TAP with offloads delivers. TCP
//! counts its bytes for the ACK decision (`__tcp_ack_snd_check`: more than
//! one full segment unacknowledged → ACK now), so one ACK answers the
//! batch, as a Linux receiver behind GRO sends; IP's `tcp_rx` counts the
//! wire segments in it (`gso_segs`, Linux's TcpInSegs). (Linux's
//! `tcp_measure_rcv_mss` also learns the peer's MSS from `gso_size`;
//! synack's takes the length capped at its own MSS, so 1460 where Linux
//! learns 1448 behind timestamps: one reason more to ACK, never one less.)

use crate::checksum;
use crate::skbuff::{IpSummed, SkBuff, MAX_FRAME};
use crate::wire::ethernet::{MacAddr, ETH_HLEN};
use crate::wire::ipv4::{MAX_DATAGRAM, PROTO_TCP};
use std::net::Ipv4Addr;

/// `MAX_GRO_SKBS`: flows held at once.
pub const MAX_GRO_SKBS: usize = 8;

/// IPv4 header without options: the only kind merged.
const IP_HLEN: usize = 20;
/// TCP flag bits (byte 13 of the header).
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const URG: u8 = 0x20;
const CWR: u8 = 0x80;

/// A segment handed up by GRO: the skb, and how many wire segments it holds.
pub struct GroSkb {
    pub skb: SkBuff,
    pub segs: u16,
}

/// What one frame did (`napi_gro_receive`'s `gro_result_t`): hand up
/// `flushed` (a held segment that ends here) first, then `pass` (a frame
/// GRO does not keep: `GRO_NORMAL`); either may be absent (`GRO_HELD`,
/// `GRO_MERGED`).
#[derive(Default)]
pub struct GroOut {
    pub flushed: Option<GroSkb>,
    pub pass: Option<SkBuff>,
}

/// The fields of a TCP/IPv4 frame that GRO compares.
struct Seg {
    /// Source and destination address, source and destination port.
    key: [u8; 12],
    seq: u32,
    /// Where the TCP header starts in the frame, and its length.
    th: usize,
    thlen: usize,
    payload: usize,
    flags: u8,
    ip_id: u16,
    df: bool,
}

/// One flow's held segment (Linux's `napi->gro_hash` entry).
struct Held {
    skb: SkBuff,
    key: [u8; 12],
    /// The sequence number the next segment must start at.
    next_seq: u32,
    /// `gso_size`: the first segment's payload.
    mss: usize,
    segs: u16,
    first_id: u16,
    df: bool,
    th: usize,
    thlen: usize,
}

/// The GRO state of one receive queue (Linux's `struct gro_node` in a NAPI).
#[derive(Default)]
pub struct Gro {
    held: Vec<Held>,
}

impl Gro {
    /// Flows held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// `dev_gro_receive`: merge `skb` (a whole frame, Ethernet header first)
    /// into a held segment of its flow, hold it, or pass it on. `mac`: ours.
    pub fn receive(&mut self, skb: SkBuff, mac: MacAddr) -> GroOut {
        let Some(seg) = parse(&skb, mac) else {
            return GroOut { flushed: None, pass: Some(skb) };
        };
        let pos = self.held.iter().position(|h| h.key == seg.key);
        // Not a candidate at all (a pure ACK, SYN, RST, URG, an unchecked
        // bad checksum): the flow's held segment goes first, then this one,
        // in the order they came.
        let candidate = seg.payload > 0
            && seg.flags & (SYN | RST | URG) == 0
            && (skb.ip_summed() == IpSummed::Unnecessary || tcp_csum_ok(&skb, &seg));
        if !candidate {
            let flushed = pos.map(|i| self.take(i));
            return GroOut { flushed, pass: Some(skb) };
        }
        let mut out = GroOut::default();
        if let Some(i) = pos {
            if can_merge(&self.held[i], &skb, &seg) {
                let h = &mut self.held[i];
                if h.skb.tailroom() < seg.payload {
                    // The first merge: move the held frame into a buffer
                    // that takes 64 KiB (a device buffer of one MTU
                    // does not), once per glued segment.
                    let mut big = SkBuff::with_capacity(MAX_FRAME);
                    big.put_slice(h.skb.data());
                    h.skb = big;
                }
                let from = seg.th + seg.thlen;
                h.skb.put_slice(&skb.data()[from..from + seg.payload]);
                // `tcp_flag_word(th2) |= flags & (TCP_FLAG_FIN | TCP_FLAG_PSH)`.
                h.skb.data_mut()[h.th + 13] |= seg.flags & (FIN | PSH);
                h.next_seq = seg.seq.wrapping_add(seg.payload as u32);
                h.segs += 1;
                // A short segment or PSH/FIN ends the merge: up it goes.
                if seg.payload < h.mss || seg.flags & (PSH | FIN) != 0 {
                    out.flushed = Some(self.take(i));
                }
                return out;
            }
            // Same flow, but not the next piece of it: what is held goes
            // up first (`pp = p`), and this segment starts afresh.
            out.flushed = Some(self.take(i));
        }
        if seg.flags & (PSH | FIN | CWR) != 0 {
            // Nothing could follow it into the same segment. Its checksum
            // was verified above (`skb_gro_checksum_validate` marks it so):
            // TCP need not sum it again.
            let mut skb = skb;
            skb.set_ip_summed(IpSummed::Unnecessary);
            out.pass = Some(skb);
            return out;
        }
        if self.held.len() >= MAX_GRO_SKBS {
            // `gro_flush_oldest`. (Only when this flow held nothing, so
            // `out.flushed` is still free.)
            debug_assert!(out.flushed.is_none());
            out.flushed = Some(self.take(0));
        }
        self.held.push(hold(skb, &seg));
        out
    }

    /// `napi_gro_flush`: everything held, oldest first, to hand up.
    pub fn flush(&mut self) -> impl Iterator<Item = GroSkb> + '_ {
        self.held.drain(..).map(finish)
    }

    fn take(&mut self, i: usize) -> GroSkb {
        finish(self.held.remove(i))
    }
}

/// Read the frame's TCP/IPv4 fields, or `None` when it is no candidate:
/// not IPv4 to our MAC, IP options or a fragment, a bad IP header
/// checksum, not TCP, an already glued frame, or a `CHECKSUM_PARTIAL` one
/// (what the rest of the stack makes of such frames is its business).
fn parse(skb: &SkBuff, mac: MacAddr) -> Option<Seg> {
    if skb.is_gso() || skb.ip_summed() == IpSummed::Partial {
        return None;
    }
    let f = skb.data();
    if f.len() < ETH_HLEN + IP_HLEN + 20 || f[..6] != mac.0 || f[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &f[ETH_HLEN..];
    let tot = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    if ip[0] != 0x45 || ip[9] != PROTO_TCP || frag & 0x3fff != 0 || tot > ip.len() || tot < IP_HLEN + 20 {
        return None;
    }
    if checksum::ip_fast_csum(&ip[..IP_HLEN]) != 0 {
        return None;
    }
    let tcp = &ip[IP_HLEN..tot];
    let thlen = (tcp[12] >> 4) as usize * 4;
    if thlen < 20 || thlen > tcp.len() {
        return None;
    }
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&ip[12..20]);
    key[8..].copy_from_slice(&tcp[..4]);
    Some(Seg {
        key,
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        th: ETH_HLEN + IP_HLEN,
        thlen,
        payload: tcp.len() - thlen,
        flags: tcp[13],
        ip_id: u16::from_be_bytes([ip[4], ip[5]]),
        df: frag & 0x4000 != 0,
    })
}

/// The TCP checksum of the frame's segment verifies (`tcp4_gro_receive`'s
/// `skb_gro_checksum_validate`).
fn tcp_csum_ok(skb: &SkBuff, seg: &Seg) -> bool {
    let f = skb.data();
    let ip = &f[ETH_HLEN..];
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    checksum::transport_checksum(src, dst, PROTO_TCP, &f[seg.th..seg.th + seg.thlen + seg.payload]) == 0
}

/// `inet_gro_receive` and `tcp_gro_receive`'s comparisons: may `skb`
/// (parsed as `seg`) be appended to `h`?
fn can_merge(h: &Held, skb: &SkBuff, seg: &Seg) -> bool {
    let (a, b) = (h.skb.data(), skb.data());
    // `compare_ether_header`.
    if a[..ETH_HLEN] != b[..ETH_HLEN] {
        return false;
    }
    // `inet_gro_receive`: TOS and TTL (`iph->ttl ^ iph2->ttl`, `tos`), DF,
    // and the ID: counting up by one per segment, or fixed under DF.
    let (ia, ib) = (&a[ETH_HLEN..], &b[ETH_HLEN..]);
    let id_ok = seg.ip_id == h.first_id.wrapping_add(h.segs) || (seg.df && seg.ip_id == h.first_id);
    if ia[1] != ib[1] || ia[8] != ib[8] || seg.df != h.df || !id_ok {
        return false;
    }
    // `tcp_gro_receive`.
    let (ta, tb) = (&a[h.th..h.th + h.thlen], &b[seg.th..seg.th + seg.thlen]);
    if seg.thlen != h.thlen
        || seg.flags & CWR != 0
        || (ta[13] ^ tb[13]) & !(CWR | FIN | PSH) != 0
        || ta[14..16] != tb[14..16]
        || ta[8..12] != tb[8..12]
        || ta[20..] != tb[20..]
    {
        return false;
    }
    // The held segment ended its run (PSH/FIN went straight up), so only
    // the order and the sizes are left.
    seg.seq == h.next_seq && seg.payload <= h.mss && h.skb.len() + seg.payload <= ETH_HLEN + MAX_DATAGRAM
}

/// Keep `skb` as the first segment of its flow (in its own buffer until a
/// second segment comes).
fn hold(skb: SkBuff, seg: &Seg) -> Held {
    let ip = &skb.data()[ETH_HLEN..];
    let first_id = u16::from_be_bytes([ip[4], ip[5]]);
    // Trim Ethernet padding (a short frame's tail beyond the IP packet).
    let mut skb = skb;
    skb.trim(seg.th + seg.thlen + seg.payload);
    Held {
        skb,
        key: seg.key,
        next_seq: seg.seq.wrapping_add(seg.payload as u32),
        mss: seg.payload,
        segs: 1,
        first_id,
        df: seg.df,
        th: seg.th,
        thlen: seg.thlen,
    }
}

/// `napi_gro_complete` → `inet_gro_complete`, `tcp_gro_complete`: a held
/// segment alone goes up as it came (its checksum checked); glued ones get
/// their IP total length and header checksum anew, `gso_size` and
/// `CHECKSUM_UNNECESSARY`.
fn finish(h: Held) -> GroSkb {
    let mut skb = h.skb;
    skb.set_ip_summed(IpSummed::Unnecessary);
    if h.segs > 1 {
        let tot = (skb.len() - ETH_HLEN) as u16;
        let ip = &mut skb.data_mut()[ETH_HLEN..ETH_HLEN + IP_HLEN];
        ip[2..4].copy_from_slice(&tot.to_be_bytes());
        ip[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::ip_fast_csum(ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        skb.set_gso_tcpv4(h.mss as u16);
    }
    GroSkb { skb, segs: h.segs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Counter;
    use crate::time::Instant;
    use crate::wire::arp::{ArpRepr, ARPOP_REQUEST};
    use crate::wire::frame::{arp_frame, ipv4_frame};

    use crate::wire::tcp::{finish_checksum, SeqNumber, TcpFlags, TcpOptions, TcpRepr};
    use crate::{Config, SockType, Stack};
    use std::net::SocketAddrV4;

    /// The stack's MAC (`Config::default`) and the peer's.
    const US: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
    const PEER: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// A segment from the peer's port `sport` to port 5001: `len` bytes of
    /// a pattern that tells offsets apart, ACK 7, window 1000, `ts` if any.
    struct S {
        sport: u16,
        seq: u32,
        ack: u32,
        len: usize,
        flags: TcpFlags,
        ts: Option<(u32, u32)>,
        ip_id: u16,
    }

    fn s(seq: u32, len: usize) -> S {
        S { sport: 40000, seq, ack: 7, len, flags: TcpFlags::ACK, ts: Some((100, 50)), ip_id: 0 }
    }

    fn payload(seq: u32, len: usize) -> Vec<u8> {
        (0..len).map(|i| (seq as usize + i) as u8).collect()
    }

    fn frame(x: &S) -> SkBuff {
        let options = TcpOptions { timestamp: x.ts, ..TcpOptions::default() };
        let tcp =
            TcpRepr { options, ..TcpRepr::new(x.sport, 5001, SeqNumber(x.seq), Some(SeqNumber(x.ack)), x.flags, 1000) };
        let mut seg = vec![0u8; tcp.hdr_len() + x.len];
        tcp.emit(&mut crate::wire::tcp::TcpPacket::new_unchecked(&mut seg[..]));
        seg[tcp.hdr_len()..].copy_from_slice(&payload(x.seq, x.len));
        finish_checksum(PEER_IP, OUR_IP, &mut seg);
        let mut f = ipv4_frame(PEER, US, PEER_IP, OUR_IP, PROTO_TCP, &seg);
        if x.ip_id != 0 {
            f[ETH_HLEN + 4..ETH_HLEN + 6].copy_from_slice(&x.ip_id.to_be_bytes());
            let ip = &mut f[ETH_HLEN..ETH_HLEN + IP_HLEN];
            ip[10..12].copy_from_slice(&[0, 0]);
            let c = checksum::ip_fast_csum(ip);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
        SkBuff::from_frame(&f)
    }

    /// Feed the frames; what came out, in order, as (segments, frame).
    fn run(g: &mut Gro, segs: &[S]) -> Vec<(u16, SkBuff)> {
        let mut out = Vec::new();
        for x in segs {
            let o = g.receive(frame(x), US);
            if let Some(f) = o.flushed {
                out.push((f.segs, f.skb));
            }
            if let Some(p) = o.pass {
                out.push((0, p));
            }
        }
        out
    }

    fn flushed(g: &mut Gro) -> Vec<(u16, SkBuff)> {
        g.flush().map(|f| (f.segs, f.skb)).collect()
    }

    /// (seq, payload, flags byte) of a frame, its IP header checksum and
    /// total length checked.
    fn tcp_of(skb: &SkBuff) -> (u32, Vec<u8>, u8) {
        let f = skb.data();
        let ip = &f[ETH_HLEN..];
        assert_eq!(checksum::ip_fast_csum(&ip[..IP_HLEN]), 0, "IP header checksum");
        let tot = u16::from_be_bytes([ip[2], ip[3]]) as usize;
        assert_eq!(tot, f.len() - ETH_HLEN, "IP total length");
        let tcp = &ip[IP_HLEN..tot];
        let thlen = (tcp[12] >> 4) as usize * 4;
        (u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]), tcp[thlen..].to_vec(), tcp[13])
    }

    #[test]
    fn in_order_segments_are_glued_into_one() {
        let mut g = Gro::default();
        let segs: Vec<S> = (0..4).map(|i| s(1000 + i * 1448, 1448)).collect();
        assert!(run(&mut g, &segs).is_empty(), "all held");
        let out = flushed(&mut g);
        assert_eq!(out.len(), 1);
        let (n, skb) = &out[0];
        assert_eq!(*n, 4);
        assert!(skb.is_gso());
        assert_eq!(skb.gso_size(), 1448);
        assert_eq!(skb.ip_summed(), IpSummed::Unnecessary);
        let (seq, data, flags) = tcp_of(skb);
        assert_eq!(seq, 1000);
        assert_eq!(data, payload(1000, 4 * 1448), "the bytes in order");
        assert_eq!(flags, 0x10, "ACK only");
        assert_eq!(g.held(), 0);
    }

    #[test]
    fn a_lone_segment_goes_up_as_it_came() {
        let mut g = Gro::default();
        assert!(run(&mut g, &[s(1, 100)]).is_empty());
        let out = flushed(&mut g);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 1);
        assert!(!out[0].1.is_gso());
        assert_eq!(out[0].1.data(), frame(&s(1, 100)).data());
    }

    #[test]
    fn a_hole_ends_the_merge() {
        let mut g = Gro::default();
        let out = run(&mut g, &[s(0, 1000), s(1000, 1000), s(3000, 1000)]);
        assert_eq!(out.len(), 1, "the first two go up when the third does not follow");
        assert_eq!(out[0].0, 2);
        assert_eq!(tcp_of(&out[0].1).0, 0);
        let rest = flushed(&mut g);
        assert_eq!((rest[0].0, tcp_of(&rest[0].1).0), (1, 3000));
    }

    #[test]
    fn psh_and_fin_end_the_merge_and_ride_on_it() {
        for (flag, bit) in [(TcpFlags::PSH, PSH), (TcpFlags::FIN, FIN)] {
            let mut g = Gro::default();
            let last = S { flags: TcpFlags::ACK | flag, ..s(2000, 500) };
            let out = run(&mut g, &[s(0, 1000), s(1000, 1000), last]);
            assert_eq!(out.len(), 1, "{flag:?} sends the glued segment up at once");
            assert_eq!(out[0].0, 3);
            let (_, data, flags) = tcp_of(&out[0].1);
            assert_eq!(data.len(), 2500);
            assert_eq!(flags, 0x10 | bit);
            assert_eq!(g.held(), 0);
        }
    }

    #[test]
    fn urg_syn_rst_are_never_glued() {
        for flag in [TcpFlags::URG, TcpFlags::RST, TcpFlags::SYN] {
            let mut g = Gro::default();
            let odd = S { flags: TcpFlags::ACK | flag, ..s(1000, 1000) };
            let out = run(&mut g, &[s(0, 1000), odd]);
            assert_eq!(out.len(), 2, "{flag:?}: the held segment, then this one alone");
            assert_eq!((out[0].0, out[1].0), (1, 0));
            assert_eq!(g.held(), 0);
        }
    }

    #[test]
    fn a_short_segment_is_glued_and_ends_it_a_longer_one_is_not() {
        let mut g = Gro::default();
        let out = run(&mut g, &[s(0, 1000), s(1000, 600)]);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].0, tcp_of(&out[0].1).1.len()), (2, 1600));
        let out = run(&mut g, &[s(1600, 600), s(2200, 1000)]);
        assert_eq!(out.len(), 1, "larger than the first: not glued");
        assert_eq!(out[0].0, 1);
        assert_eq!(g.held(), 1);
    }

    #[test]
    fn flows_are_kept_apart() {
        let mut g = Gro::default();
        let other = |seq| S { sport: 40001, ..s(seq, 1000) };
        let segs = [s(0, 1000), other(5000), s(1000, 1000), other(6000), s(2000, 1000)];
        assert!(run(&mut g, &segs).is_empty());
        let out = flushed(&mut g);
        let got: Vec<_> = out.iter().map(|(n, skb)| (*n, tcp_of(skb).0)).collect();
        assert_eq!(got, vec![(3, 0), (2, 5000)]);
    }

    #[test]
    fn at_most_eight_flows_are_held() {
        let mut g = Gro::default();
        let segs: Vec<S> = (0..9).map(|i| S { sport: 40000 + i, ..s(0, 1000) }).collect();
        let out = run(&mut g, &segs);
        assert_eq!(out.len(), 1, "the oldest flow goes up for the ninth");
        assert_eq!(g.held(), MAX_GRO_SKBS);
    }

    #[test]
    fn a_bad_checksum_is_handed_up_unglued_for_tcp_to_drop() {
        let mut g = Gro::default();
        let mut bad = frame(&s(1000, 1000));
        let n = bad.len();
        bad.data_mut()[n - 1] ^= 0xff;
        assert!(g.receive(frame(&s(0, 1000)), US).flushed.is_none());
        let o = g.receive(bad, US);
        assert_eq!(o.flushed.map(|f| f.segs), Some(1), "the held segment first");
        let p = o.pass.expect("the bad one, as it came");
        assert_eq!(p.ip_summed(), IpSummed::None, "TCP checks it again, and drops it");
        assert_eq!(g.held(), 0);
    }

    #[test]
    fn a_different_timestamp_or_ack_ends_the_merge() {
        let mut g = Gro::default();
        let later = S { ts: Some((101, 50)), ..s(1000, 1000) };
        let out = run(&mut g, &[s(0, 1000), later]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 1);
        assert_eq!(g.held(), 1, "the new timestamp starts a new segment");
        let acked = S { ack: 8, ts: Some((101, 50)), ..s(2000, 1000) };
        assert_eq!(run(&mut g, &[acked]).len(), 1);
    }

    #[test]
    fn ip_ids_must_count_up_or_stay_fixed() {
        let mut g = Gro::default();
        let id = |i, seq| S { ip_id: i, ..s(seq, 1000) };
        assert!(run(&mut g, &[id(10, 0), id(11, 1000), id(12, 2000)]).is_empty());
        let out = run(&mut g, &[id(20, 3000)]);
        assert_eq!(out[0].0, 3, "a jump in the IP ID ends it (inet_gro_receive flush_id)");
    }

    #[test]
    fn pure_acks_and_other_frames_pass() {
        let mut g = Gro::default();
        let out = run(&mut g, &[s(0, 0)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 0);
        let arp = ArpRepr { op: ARPOP_REQUEST, sha: PEER, spa: PEER_IP, tha: MacAddr::ZERO, tpa: OUR_IP };
        let o = g.receive(SkBuff::from_frame(&arp_frame(MacAddr::BROADCAST, &arp)), US);
        assert!(o.pass.is_some() && o.flushed.is_none());
    }

    // ------------------------------------------------ through the stack

    /// A stack with an accepted connection from 10.0.0.1:40000 to port
    /// 5001 (the peer's ISN 999, no options); our ISN + 1.
    fn connected(gro: bool) -> (Stack, u32) {
        let now = Instant::ZERO;
        let mut st = Stack::new(Config { gratuitous_arp: false, gro, ..Config::default() }, now);
        let arp = ArpRepr { op: ARPOP_REQUEST, sha: PEER, spa: PEER_IP, tha: MacAddr::ZERO, tpa: OUR_IP };
        st.handle_frame(now, SkBuff::from_frame(&arp_frame(MacAddr::BROADCAST, &arp)));
        while st.poll_transmit(now).is_some() {}
        let l = st.socket(SockType::Stream).unwrap();
        st.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5001)).unwrap();
        st.listen(l, 8).unwrap();
        let syn = S { seq: 999, ack: 0, flags: TcpFlags::SYN, ts: None, ..s(0, 0) };
        let mut f = frame(&syn);
        // No ACK bit on a SYN: rewrite the ACK number to 0 is not needed;
        // TcpRepr emits it only with ACK.
        st.handle_frame(now, std::mem::replace(&mut f, SkBuff::with_capacity(0)));
        let synack = st.poll_transmit(now).expect("SYN-ACK");
        let iss = tcp_of(&synack).0;
        st.handle_frame(now, frame(&S { seq: 1000, ack: iss + 1, ts: None, ..s(0, 0) }));
        st.accept(now, l).expect("accepted");
        (st, iss + 1)
    }

    /// TCP segments the stack sends for one batch of `n` data segments.
    fn acks_for_a_batch(gro: bool, n: u32) -> Vec<(u32, u8)> {
        let (mut st, snd) = connected(gro);
        let now = Instant::from_millis(1);
        for i in 0..n {
            st.napi_gro_receive(now, frame(&S { ack: snd, ts: None, ..s(1000 + i * 1000, 1000) }));
        }
        st.napi_gro_flush(now);
        let merged = st.stats().get(Counter::GroMergedSegments);
        assert_eq!(merged, if gro { n as u64 } else { 0 });
        std::iter::from_fn(|| st.poll_transmit(now))
            .map(|f| {
                let t = &f.data()[ETH_HLEN + IP_HLEN..];
                (u32::from_be_bytes([t[8], t[9], t[10], t[11]]), t[13])
            })
            .collect()
    }

    #[test]
    fn one_ack_per_batch_with_gro_one_per_segment_without() {
        // The first data of a connection is in quick-ACK mode (delack.rs):
        // without GRO every segment is ACKed at once; with it, the batch is
        // one segment to TCP, and gets one ACK, as from Linux behind GRO.
        let with = acks_for_a_batch(true, 10);
        assert_eq!(with, vec![(11_000, 0x10)], "one ACK for all 10,000 bytes");
        let without = acks_for_a_batch(false, 10);
        assert!(without.len() >= 5, "{without:?}");
        assert_eq!(without.last().unwrap().0, 11_000);
    }
}
