//! ICMP: echo (ping) both ways, and destination-unreachable errors.
//!
//! Read first: RFC 792 (messages), RFC 1122 §3.2.2 (when a host must not send
//! an error: never about an ICMP error, a broadcast, or a non-first
//! fragment), RFC 1812 §4.3.2.8 (rate limiting). Linux: net/ipv4/icmp.c,
//! `icmp_rcv`, `icmp_echo`, `icmp_send`, and the token bucket behind
//! `icmp_ratelimit`. The message's bytes are read and written by
//! `wire/icmp.rs` (`IcmpPacket`, `IcmpRepr`).
//!
//! ICMP's state is `Icmp` (the error rate limiter, the ping client's
//! requests and replies); its path is methods of `Icmp` taking a `Cx`
//! (cx.rs), as TCP's are, called by `ipv4.rs::ip_local_deliver`:
//! `Icmp::icmp_rcv` (echo request answered in place, echo reply,
//! unreachable), `Icmp::icmp_unreach_rcv` (the `TransportError` an
//! unreachable reports, returned to the caller, which passes it up with
//! `Stack::transport_error`, RFC 1122 §4.1.3.3, §4.2.3.9), and
//! `Icmp::icmp_send_unreach` (Linux `icmp_send(ICMP_DEST_UNREACH)`).

use crate::cx::{Cx, L4Xmit};
use crate::errno::Errno;
use crate::skbuff::{IpSummed, SkBuff};
use crate::stats::{Counter, DropReason};
use crate::time::{Duration, Instant};
use crate::trace::EventKind;
use crate::wire::icmp::{
    CODE_PORT_UNREACH, CODE_PROTO_UNREACH, ICMP_DEST_UNREACH, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_HLEN,
};
use crate::wire::ipv4::{IPV4_HLEN, PROTO_ICMP};
use crate::wire::udp::UDP_HLEN;
use crate::wire::{IcmpPacket, IcmpRepr, Ipv4Packet, Ipv4Repr, UdpPacket};
use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

#[derive(Clone, Debug)]
pub struct IcmpConfig {
    /// Token bucket for errors we send: this many at once...
    pub error_burst: u32,
    /// ...refilled one token per interval (Linux: `icmp_ratelimit`, 1 s per
    /// destination, with a global `icmp_msgs_per_sec`).
    pub error_interval: Duration,
    /// Echo replies the stack's ping client keeps waiting to be read.
    pub max_replies: usize,
}

impl Default for IcmpConfig {
    fn default() -> Self {
        IcmpConfig { error_burst: 10, error_interval: Duration::from_millis(100), max_replies: 64 }
    }
}

/// An echo reply that answered `Stack::ping_send`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingReply {
    pub from: Ipv4Addr,
    pub ident: u16,
    pub seq: u16,
    pub ttl: u8,
    /// ICMP bytes (header + data), as `ping` prints them.
    pub bytes: usize,
    /// Round-trip time, if the request was ours.
    pub rtt: Option<Duration>,
}

/// Rewrite a received echo request, in place, into its reply (`icmp_echo`):
/// the type becomes 0 and the checksum is recomputed; the data is untouched.
pub fn echo_request_to_reply(msg: &mut [u8]) {
    let mut p = IcmpPacket::new_unchecked(msg);
    p.set_msg_type(ICMP_ECHO_REPLY);
    p.fill_checksum();
}

#[derive(Debug)]
pub struct Icmp {
    config: IcmpConfig,
    tokens: u32,
    last_refill: Instant,
    /// Echo requests we sent and not yet answered: (ident, seq) -> when.
    outstanding: HashMap<(u16, u16), Instant>,
    replies: VecDeque<PingReply>,
}

impl Icmp {
    pub fn new(config: IcmpConfig) -> Icmp {
        Icmp {
            tokens: config.error_burst,
            last_refill: Instant::ZERO,
            config,
            outstanding: HashMap::new(),
            replies: VecDeque::new(),
        }
    }

    /// Build an echo request: data is a counting pattern, like `ping -p`.
    pub fn echo_request(&mut self, now: Instant, ident: u16, seq: u16, payload_len: usize) -> SkBuff {
        let mut skb = SkBuff::for_xmit(ICMP_HLEN + payload_len);
        let mut m = IcmpPacket::new_unchecked(skb.put(ICMP_HLEN + payload_len));
        for (i, b) in m.data_mut().iter_mut().enumerate() {
            *b = (i % 256) as u8;
        }
        IcmpRepr { icmp_type: ICMP_ECHO_REQUEST, code: 0, ident, seq }.emit(&mut m);
        if self.outstanding.len() >= 1024 {
            self.outstanding.clear();
        }
        self.outstanding.insert((ident, seq), now);
        skb
    }

    /// An echo reply arrived: queue it for `ping_recv` if we asked for it.
    pub fn echo_reply_rcv(
        &mut self,
        now: Instant,
        from: Ipv4Addr,
        ttl: u8,
        hdr: &IcmpRepr,
        bytes: usize,
    ) -> Result<(), DropReason> {
        let sent = self.outstanding.remove(&(hdr.ident, hdr.seq)).ok_or(DropReason::IcmpNoPingWaiting)?;
        if self.replies.len() >= self.config.max_replies {
            self.replies.pop_front();
        }
        self.replies.push_back(PingReply { from, ident: hdr.ident, seq: hdr.seq, ttl, bytes, rtt: Some(now - sent) });
        Ok(())
    }

    pub fn pop_reply(&mut self) -> Option<PingReply> {
        self.replies.pop_front()
    }

    /// The oldest reply for one identifier (so two pings can run at once).
    pub fn pop_reply_for(&mut self, ident: u16) -> Option<PingReply> {
        let i = self.replies.iter().position(|r| r.ident == ident)?;
        self.replies.remove(i)
    }

    /// RFC 1812 §4.3.2.8: a token bucket for the errors we send.
    pub fn error_allowed(&mut self, now: Instant) -> bool {
        let interval = self.config.error_interval.as_micros().max(1) as u64;
        let elapsed = now.saturating_since(self.last_refill).as_micros() as u64;
        let new = (elapsed / interval).min(u32::MAX as u64) as u32;
        if new > 0 {
            self.tokens = (self.tokens.saturating_add(new)).min(self.config.error_burst);
            self.last_refill = now;
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            true
        } else {
            false
        }
    }

    /// `icmp_send(ICMP_DEST_UNREACH, code)`: the message quotes the offending
    /// IP header and the first 8 bytes of its payload (RFC 792).
    pub fn dest_unreach(code: u8, offending: &[u8]) -> SkBuff {
        let ihl = Ipv4Packet::new_unchecked(offending).header_len().min(offending.len());
        let quote = &offending[..(ihl + 8).min(offending.len())];
        let mut skb = SkBuff::for_xmit(ICMP_HLEN + quote.len());
        let mut m = IcmpPacket::new_unchecked(skb.put(ICMP_HLEN + quote.len()));
        m.data_mut().copy_from_slice(quote);
        IcmpRepr { icmp_type: ICMP_DEST_UNREACH, code, ident: 0, seq: 0 }.emit(&mut m);
        skb
    }
}

/// RFC 1122 §3.2.2: never answer these with an ICMP error.
pub fn is_error_type(icmp_type: u8) -> bool {
    !matches!(icmp_type, ICMP_ECHO_REPLY | ICMP_ECHO_REQUEST | 13 | 14 | 15 | 16 | 17 | 18)
}

// ------------------------------------------------------------- ICMP path
//
// Linux net/ipv4/icmp.c, as methods of `Icmp` with a `Cx`: `icmp_rcv`
// answers echo requests and takes echo replies and unreachables; an
// unreachable about one of our packets goes back to the caller as a
// `TransportError` (Linux `icmp_unreach` → `ipprot->err_handler`), which
// the stack hands to the UDP or TCP socket (`Stack::transport_error`,
// stack.rs); `icmp_send_unreach` sends a destination unreachable.

/// An ICMP error about a packet we sent, for the transport that sent it
/// (Linux: the arguments of `ipprot->err_handler`, `udp_err` / `tcp_v4_err`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    /// IP protocol of the packet (6 TCP, 17 UDP; others go nowhere).
    pub protocol: u8,
    /// Our port, the packet's source.
    pub local_port: u16,
    /// The packet's destination.
    pub remote: SocketAddrV4,
    pub err: Errno,
}

impl TransportError {
    /// The error `err` about `packet` (an IP header and at least 8 bytes of
    /// its transport header, as an ICMP error quotes it or as a packet
    /// waited for its neighbour); None if it is too short to say whose.
    pub fn about(packet: &[u8], err: Errno) -> Option<TransportError> {
        if packet.len() < IPV4_HLEN {
            return None;
        }
        let ip = Ipv4Packet::new_unchecked(packet);
        let ihl = ip.header_len();
        if ihl < IPV4_HLEN || packet.len() < ihl + UDP_HLEN {
            return None;
        }
        // The first 8 bytes of a UDP and of a TCP header alike: the ports.
        let ports = UdpPacket::new_unchecked(&packet[ihl..]);
        let remote = SocketAddrV4::new(ip.dst_addr(), ports.dst_port());
        Some(TransportError { protocol: ip.protocol(), local_port: ports.src_port(), remote, err })
    }
}

impl Icmp {
    /// `icmp_rcv`: a message for `local` (our address). Returns the error an
    /// unreachable reports about one of our packets, for the caller to pass
    /// up to its socket.
    pub fn icmp_rcv(&mut self, cx: &mut Cx, local: Ipv4Addr, ip: &Ipv4Repr, mut skb: SkBuff) -> Option<TransportError> {
        cx.stats.inc(Counter::IcmpRx);
        let h = match IcmpPacket::new_checked(skb.data()).and_then(|p| IcmpRepr::parse(&p)) {
            Ok(h) => h,
            Err(reason) => {
                cx.drop_packet(reason, "", || "icmp".into());
                return None;
            }
        };
        match h.icmp_type {
            ICMP_ECHO_REQUEST if ip.dst == local => {
                // `icmp_echo`: turn the request into the reply in place and send it back.
                cx.stats.inc(Counter::IcmpEchoRequestsRx);
                cx.stats.inc(Counter::IcmpEchoRepliesTx);
                echo_request_to_reply(skb.data_mut());
                // What the device said about the request is not true of the
                // reply (its checksum is whole, written just now).
                skb.set_ip_summed(IpSummed::None);
                skb.set_gso_tcpv4(0);
                cx.out.push_back(L4Xmit { src: ip.dst, dst: ip.src, protocol: PROTO_ICMP, skb, ttl: None, tos: 0 });
                None
            }
            ICMP_ECHO_REPLY => {
                if let Err(reason) = self.echo_reply_rcv(cx.now, ip.src, ip.ttl, &h, skb.len()) {
                    cx.drop_packet(reason, "", || format!("echo reply id {} seq {}", h.ident, h.seq));
                }
                None
            }
            ICMP_DEST_UNREACH => Self::icmp_unreach_rcv(cx, &h, skb.data()),
            t => {
                cx.drop_packet(DropReason::IcmpUnhandledType, "", || format!("type {t} code {}", h.code));
                None
            }
        }
    }

    /// RFC 1122 §4.1.3.3 / §4.2.3.9: an unreachable is passed up to the
    /// socket it is about (quoted IP header + 8 bytes of its transport
    /// header): here, the error it reports (Linux `icmp_unreach`).
    fn icmp_unreach_rcv(cx: &mut Cx, h: &IcmpRepr, msg: &[u8]) -> Option<TransportError> {
        let quoted = &msg[ICMP_HLEN..];
        let ip = Ipv4Packet::new_unchecked(quoted);
        if quoted.len() < IPV4_HLEN + UDP_HLEN || ip.version() != 4 {
            cx.drop_packet(DropReason::IcmpTooShort, "", || "unreachable quotes too little".into());
            return None;
        }
        let ihl = ip.header_len();
        if ihl < IPV4_HLEN || quoted.len() < ihl + UDP_HLEN {
            cx.drop_packet(DropReason::IcmpTooShort, "", || "unreachable quotes too little".into());
            return None;
        }
        let err = match h.code {
            CODE_PORT_UNREACH | CODE_PROTO_UNREACH => Errno::ECONNREFUSED,
            0 => Errno::ENETUNREACH,
            4 => Errno::EMSGSIZE,
            _ => Errno::EHOSTUNREACH,
        };
        let code = h.code;
        cx.trace.emit(cx.now, EventKind::Icmp, "RFC 1122 §4.1.3.3", || format!("unreachable code {code} received"));
        TransportError::about(quoted, err)
    }

    /// `icmp_send(ICMP_DEST_UNREACH)` about the packet in `skb` (its IP
    /// header `hdr`, still in the buffer), with RFC 1122 §3.2.2's exceptions
    /// (only about a packet to `local`, our address) and a rate limit.
    pub fn icmp_send_unreach(&mut self, cx: &mut Cx, local: Ipv4Addr, hdr: &Ipv4Repr, skb: &SkBuff, code: u8) {
        if hdr.dst != local || hdr.frag_offset != 0 {
            return;
        }
        let Some(offending) = skb.network_header() else { return };
        if hdr.protocol == PROTO_ICMP && skb.data().first().is_some_and(|&t| is_error_type(t)) {
            return;
        }
        if !self.error_allowed(cx.now) {
            return cx.drop_packet(DropReason::IcmpRateLimited, "", || "dest unreachable not sent".into());
        }
        let msg = Icmp::dest_unreach(code, offending);
        cx.stats.inc(Counter::IcmpUnreachTx);
        cx.out.push_back(L4Xmit { src: hdr.dst, dst: hdr.src, protocol: PROTO_ICMP, skb: msg, ttl: None, tos: 0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum;

    fn icmp_parse(b: &[u8]) -> Result<IcmpRepr, DropReason> {
        IcmpRepr::parse(&IcmpPacket::new_checked(b)?)
    }

    /// An echo request captured from `ping -c1 -s 8 -p 6162636465666768 10.0.0.2` (ICMP part).
    const ECHO: [u8; 16] =
        [0x08, 0x00, 0x53, 0xc4, 0x12, 0xa5, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68];

    #[test]
    fn echo_round_trip_and_reply() {
        let h = icmp_parse(&ECHO).unwrap();
        assert_eq!((h.icmp_type, h.code, h.ident, h.seq), (8, 0, 4773, 1));
        let mut m = ECHO;
        echo_request_to_reply(&mut m);
        assert_eq!(m[0], 0);
        assert_eq!(checksum::checksum(&m), 0);
        assert_eq!(&m[4..], &ECHO[4..]);
    }

    #[test]
    fn too_short_and_bad_checksum() {
        assert_eq!(icmp_parse(&ECHO[..7]), Err(DropReason::IcmpTooShort));
        let mut m = ECHO;
        m[9] ^= 0xff;
        assert_eq!(icmp_parse(&m), Err(DropReason::IcmpBadChecksum));
    }

    #[test]
    fn ping_client_matches_replies() {
        let mut icmp = Icmp::new(IcmpConfig::default());
        let t0 = Instant::from_millis(100);
        let mut req = icmp.echo_request(t0, 7, 1, 56);
        assert_eq!(checksum::checksum(req.data()), 0);
        echo_request_to_reply(req.data_mut());
        let h = icmp_parse(req.data()).unwrap();
        let from = Ipv4Addr::new(10, 0, 0, 1);
        icmp.echo_reply_rcv(t0 + Duration::from_millis(3), from, 64, &h, 64).unwrap();
        assert_eq!(icmp.echo_reply_rcv(t0, from, 64, &h, 64), Err(DropReason::IcmpNoPingWaiting));
        let r = icmp.pop_reply().unwrap();
        assert_eq!((r.seq, r.rtt), (1, Some(Duration::from_millis(3))));
    }

    #[test]
    fn errors_are_rate_limited() {
        let mut icmp = Icmp::new(IcmpConfig { error_burst: 2, error_interval: Duration::from_secs(1), max_replies: 4 });
        let t = Instant::from_secs(5);
        assert!(icmp.error_allowed(t));
        assert!(icmp.error_allowed(t));
        assert!(!icmp.error_allowed(t));
        assert!(icmp.error_allowed(t + Duration::from_secs(1)));
    }

    /// A port unreachable quoting a datagram we sent from port 5000 to
    /// 10.0.0.1:53 comes back from `icmp_rcv` as the error for that socket
    /// (the caller passes it up); nothing is sent, nothing dropped.
    #[test]
    fn unreachable_about_our_datagram_is_returned_to_the_caller() {
        use crate::stats::Stats;
        use crate::trace::Trace;
        use rand::SeedableRng;
        let (us, host) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1));
        let mut ours = vec![0x45u8, 0, 0, 30, 0, 1, 0, 0, 64, 17, 0, 0];
        ours.extend_from_slice(&us.octets());
        ours.extend_from_slice(&host.octets());
        ours.extend_from_slice(&[0x13, 0x88, 0, 53, 0, 10, 0, 0, b'h', b'i']);
        let msg = Icmp::dest_unreach(CODE_PORT_UNREACH, &ours);
        let ip = Ipv4Repr {
            src: host,
            dst: us,
            protocol: PROTO_ICMP,
            ttl: 64,
            tos: 0,
            ident: 9,
            dont_fragment: false,
            more_fragments: false,
            frag_offset: 0,
            header_len: 20,
            total_len: 20 + msg.len(),
        };
        let (mut stats, mut trace, mut out) = (Stats::default(), Trace::default(), VecDeque::new());
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut probe = crate::tcp::ProbeQueue::default();
        let mut cx = Cx {
            now: Instant::ZERO,
            stats: &mut stats,
            trace: &mut trace,
            probe: &mut probe,
            rng: &mut rng,
            out: &mut out,
        };
        let mut icmp = Icmp::new(IcmpConfig::default());
        let e = icmp.icmp_rcv(&mut cx, us, &ip, msg);
        let remote = SocketAddrV4::new(host, 53);
        assert_eq!(e, Some(TransportError { protocol: 17, local_port: 5000, remote, err: Errno::ECONNREFUSED }));
        assert!(out.is_empty());
        assert_eq!(stats.get(Counter::IcmpRx), 1);
        assert_eq!(TransportError::about(&ours[..27], Errno::EHOSTUNREACH), None, "too short to say whose");
    }

    #[test]
    fn unreachable_quotes_header_and_8_bytes() {
        let mut offending = vec![0x45u8; 20];
        offending.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let skb = Icmp::dest_unreach(CODE_PORT_UNREACH, &offending);
        assert_eq!(skb.len(), 8 + 28);
        assert_eq!(&skb.data()[..2], &[3, 3]);
        assert_eq!(checksum::checksum(skb.data()), 0);
    }
}
