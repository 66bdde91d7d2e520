//! Hostile input fed straight into a `Stack`: one test per class of
//! malformed frame, each dropped with its named reason (or answered as the
//! RFC says, and counted), and a seeded mutation fuzz over valid frames.
//! After every case the stack must still answer ping and complete a TCP
//! handshake to its listener on port 80.

use rand::{Rng, SeedableRng};
use stack::checksum;
use stack::{Config, Counter, DropReason, Instant, SkBuff, SockType, SocketHandle, Stack};
use std::net::SocketAddrV4;

const HOST_MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = OUR_MAC.to_vec();
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn arp(op: u16, tpa: [u8; 4]) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4];
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&HOST_MAC);
    a.extend_from_slice(&[10, 0, 0, 1]);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&tpa);
    a
}

/// An IPv4 header (with a correct checksum unless changed later) + payload.
fn ipv4(protocol: u8, ident: u16, flags_frag: u16, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut h = vec![0x45, 0, (total >> 8) as u8, total as u8];
    h.extend_from_slice(&ident.to_be_bytes());
    h.extend_from_slice(&flags_frag.to_be_bytes());
    h.extend_from_slice(&[64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    fix_ip_checksum(&mut h);
    h.extend_from_slice(payload);
    h
}

fn fix_ip_checksum(h: &mut [u8]) {
    let hl = (((h[0] & 0x0f) as usize) * 4).clamp(20, h.len());
    h[10] = 0;
    h[11] = 0;
    let c = checksum::checksum(&h[..hl]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

fn echo_request(seq: u16, data_len: usize) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0, 0x12, 0x34, (seq >> 8) as u8, seq as u8];
    m.extend((0..data_len).map(|i| i as u8));
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

fn udp(dport: u16, data: &[u8]) -> Vec<u8> {
    let len = 8 + data.len();
    let mut u = vec![0x9c, 0x40, (dport >> 8) as u8, dport as u8, (len >> 8) as u8, len as u8, 0, 0];
    u.extend_from_slice(data);
    let c = checksum::transport_checksum([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 17, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// A TCP segment from 10.0.0.1 to 10.0.0.2 (checksum right), header
/// options `opts` (padded by the caller to a multiple of 4).
fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, opts: &[u8], data: &[u8]) -> Vec<u8> {
    let doff = (20 + opts.len()) / 4;
    let mut t = sport.to_be_bytes().to_vec();
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[(doff as u8) << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(opts);
    t.extend_from_slice(data);
    fix_tcp_checksum(&mut t);
    t
}

fn fix_tcp_checksum(t: &mut [u8]) {
    t[16] = 0;
    t[17] = 0;
    let c = checksum::transport_checksum([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 6, t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
}

/// The TCP segments in frames we sent: (flags, seq, ack, options, payload length).
fn tcp_out(frames: &[Vec<u8>]) -> Vec<(u8, u32, u32, Vec<u8>, usize)> {
    frames
        .iter()
        .filter(|f| f.len() >= 54 && f[12..14] == [8, 0] && f[23] == 6)
        .map(|f| {
            let t = &f[34..];
            let be32 = |i: usize| u32::from_be_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
            let hl = (t[12] >> 4) as usize * 4;
            (t[13], be32(4), be32(8), t[20..hl].to_vec(), t.len() - hl)
        })
        .collect()
}

/// One established connection from the host's port `sport` to our port 80,
/// from the host's point of view.
#[derive(Copy, Clone, Debug)]
struct Conn {
    sport: u16,
    /// The host's SND.NXT.
    snd: u32,
    /// The host's RCV.NXT (our SND.NXT).
    rcv: u32,
    h: SocketHandle,
}

struct Lab {
    stack: Stack,
    now: Instant,
    seq: u16,
    listener: SocketHandle,
    next_port: u16,
}

impl Lab {
    fn new() -> Lab {
        let mut stack = Stack::new(Config::default(), Instant::ZERO);
        while stack.poll_transmit(Instant::ZERO).is_some() {}
        let listener = stack.socket(SockType::Stream).unwrap();
        stack.bind(listener, SocketAddrV4::new([0, 0, 0, 0].into(), 80)).unwrap();
        stack.listen(listener, 128).unwrap();
        let mut lab = Lab { stack, now: Instant::from_millis(1), seq: 0, listener, next_port: 20000 };
        lab.feed(&eth(0x0806, &arp(1, [10, 0, 0, 2])));
        lab.drain();
        lab
    }

    /// The host connects to our port 80 and we accept: a completed handshake.
    fn handshake(&mut self) -> Conn {
        self.next_port = if self.next_port >= 30000 { 20000 } else { self.next_port + 1 };
        let sport = self.next_port;
        let iss = 0xffff_fff0u32;
        // MSS 1460, NOP, window scale 7.
        self.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(sport, 80, iss, 0, SYN, &[2, 4, 5, 0xb4, 1, 3, 3, 7], &[]))));
        let out = tcp_out(&self.drain());
        let synack = out.iter().find(|s| s.0 == SYN | ACK).unwrap_or_else(|| panic!("no SYN-ACK: {out:?}"));
        assert_eq!(synack.2, iss.wrapping_add(1));
        let c = Conn { sport, snd: iss.wrapping_add(1), rcv: synack.1.wrapping_add(1), h: self.listener };
        self.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(sport, 80, c.snd, c.rcv, ACK, &[], &[]))));
        self.drain();
        let (h, peer) = self.stack.accept(self.now, self.listener).expect("the handshake completed");
        assert_eq!(peer.port(), sport);
        Conn { h, ..c }
    }

    /// Still alive: answers a ping, and a handshake completes (the
    /// connection is then closed and reset, so nothing piles up).
    fn assert_alive(&mut self) {
        self.assert_pings();
        let c = self.handshake();
        self.stack.close(self.now, c.h).unwrap();
        self.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(c.sport, 80, c.snd, 0, RST, &[], &[]))));
        self.drain();
    }

    fn feed(&mut self, frame: &[u8]) {
        self.now += stack::Duration::from_millis(1);
        self.stack.handle_frame(self.now, SkBuff::from_frame(frame));
        if self.stack.poll_timeout().is_some_and(|t| t <= self.now) {
            self.stack.handle_timeout(self.now);
        }
    }

    fn drain(&mut self) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.stack.poll_transmit(self.now)).map(|s| s.data().to_vec()).collect()
    }

    /// Feed `frame`, expect exactly `reason` to have been counted once more.
    fn expect_drop(&mut self, frame: &[u8], reason: DropReason) {
        let before = self.stack.stats().drops(reason);
        let total = self.stack.stats().total_drops();
        self.feed(frame);
        self.drain();
        assert_eq!(self.stack.stats().drops(reason), before + 1, "{reason} for {frame:02x?}");
        assert_eq!(self.stack.stats().total_drops(), total + 1, "only {reason} for {frame:02x?}");
        self.assert_alive();
    }

    fn assert_pings(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        self.feed(&eth(0x0800, &ipv4(1, seq, 0, &echo_request(seq, 16))));
        let out = self.drain();
        assert!(
            out.iter().any(|f| f.len() >= 42 && f[23] == 1 && f[34] == 0 && f[40..42] == seq.to_be_bytes()),
            "the stack stopped answering ping: {out:02x?}"
        );
    }
}

#[test]
fn ethernet_frames_shorter_than_a_header() {
    let mut lab = Lab::new();
    let full = eth(0x0800, &ipv4(1, 1, 0, &echo_request(1, 8)));
    for len in 0..14 {
        lab.expect_drop(&full[..len], DropReason::EthTooShort);
    }
}

#[test]
fn ping_truncated_at_every_length() {
    let mut lab = Lab::new();
    let full = eth(0x0800, &ipv4(1, 1, 0, &echo_request(1, 8)));
    for len in 14..full.len() {
        let want = match len - 14 {
            0..=19 => DropReason::IpTooShort,
            _ => DropReason::IpBadTotalLength,
        };
        lab.expect_drop(&full[..len], want);
    }
}

#[test]
fn frames_for_someone_else_and_unknown_ethertypes() {
    let mut lab = Lab::new();
    let mut f = eth(0x0800, &ipv4(1, 1, 0, &echo_request(1, 8)));
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    lab.expect_drop(&f, DropReason::EthNotForUs);
    lab.expect_drop(&eth(0x86dd, &[0x60; 40]), DropReason::EthUnknownType);
    lab.expect_drop(&eth(0x8100, &[0; 46]), DropReason::EthUnknownType);
    lab.expect_drop(&eth(0x0800, &[0x45; 1600]), DropReason::EthOversize);
}

#[test]
fn bogus_arp() {
    let mut lab = Lab::new();
    let good = arp(1, [10, 0, 0, 2]);
    lab.expect_drop(&eth(0x0806, &good[..27]), DropReason::ArpTruncated);
    let mut a = good.clone();
    a[1] = 6; // hardware type IEEE 802
    lab.expect_drop(&eth(0x0806, &a), DropReason::ArpBadHardware);
    let mut a = good.clone();
    a[4] = 8; // hardware length 8
    lab.expect_drop(&eth(0x0806, &a), DropReason::ArpBadHardware);
    let mut a = good.clone();
    a[2] = 0x86; // protocol IPv6
    lab.expect_drop(&eth(0x0806, &a), DropReason::ArpBadProtocol);
    let mut a = good.clone();
    a[5] = 16;
    lab.expect_drop(&eth(0x0806, &a), DropReason::ArpBadProtocol);
    let mut a = good.clone();
    a[7] = 3; // RARP request
    lab.expect_drop(&eth(0x0806, &a), DropReason::ArpBadOpcode);
    let mut a = good.clone();
    a[8..14].copy_from_slice(&[0xff; 6]);
    lab.expect_drop(&eth(0x0806, &a), DropReason::ArpBadSender);
    let mut a = good.clone();
    a[14..18].copy_from_slice(&[10, 0, 0, 2]); // claims our address
    lab.expect_drop(&eth(0x0806, &a), DropReason::ArpBadSender);
    lab.expect_drop(&eth(0x0806, &arp(1, [10, 0, 0, 77])), DropReason::ArpNotForUs);
}

#[test]
fn bad_ipv4_headers() {
    let mut lab = Lab::new();
    let good = ipv4(1, 1, 0, &echo_request(1, 8));
    let mut h = good.clone();
    h[0] = 0x65;
    fix_ip_checksum(&mut h);
    lab.expect_drop(&eth(0x0800, &h), DropReason::IpBadVersion);
    for ihl in 0..5u8 {
        let mut h = good.clone();
        h[0] = 0x40 | ihl;
        lab.expect_drop(&eth(0x0800, &h), DropReason::IpBadIhl);
    }
    let mut h = good.clone();
    h[0] = 0x4f; // 60-byte header in a 36-byte packet
    fix_ip_checksum(&mut h);
    lab.expect_drop(&eth(0x0800, &h), DropReason::IpBadIhl);
    let mut h = good.clone();
    h[11] ^= 0x55;
    lab.expect_drop(&eth(0x0800, &h), DropReason::IpBadChecksum);
    let mut h = good.clone();
    h[2] = 0x40; // total length beyond the frame
    fix_ip_checksum(&mut h);
    lab.expect_drop(&eth(0x0800, &h), DropReason::IpBadTotalLength);
    let mut h = good.clone();
    h[3] = 12; // total length shorter than the header
    fix_ip_checksum(&mut h);
    lab.expect_drop(&eth(0x0800, &h), DropReason::IpBadTotalLength);
    let mut h = good.clone();
    h[8] = 0;
    fix_ip_checksum(&mut h);
    lab.expect_drop(&eth(0x0800, &h), DropReason::IpTtlZero);
    let mut h = good.clone();
    h[12..16].copy_from_slice(&[224, 0, 0, 1]);
    fix_ip_checksum(&mut h);
    lab.expect_drop(&eth(0x0800, &h), DropReason::IpBadSource);
    let mut h = good.clone();
    h[16..20].copy_from_slice(&[10, 0, 0, 3]);
    fix_ip_checksum(&mut h);
    lab.expect_drop(&eth(0x0800, &h), DropReason::IpNotForUs);
    for opts in [[0x44u8, 0, 0, 0], [0x07, 1, 0, 0], [0x83, 9, 0, 0]] {
        let mut h = good.clone();
        h[0] = 0x46;
        h[3] += 4;
        h.splice(20..20, opts);
        fix_ip_checksum(&mut h);
        lab.expect_drop(&eth(0x0800, &h), DropReason::IpBadOptions);
    }
    lab.expect_drop(&eth(0x0800, &ipv4(99, 1, 0, b"whatever")), DropReason::IpUnknownProtocol);
}

#[test]
fn bad_fragments() {
    let mut lab = Lab::new();
    let msg = echo_request(1, 64);
    // Overlapping: 0..32 then 16..48.
    lab.feed(&eth(0x0800, &ipv4(1, 500, 0x2000, &msg[..32])));
    lab.expect_drop(&eth(0x0800, &ipv4(1, 500, 0x2000 | 2, &msg[16..48])), DropReason::FragOverlap);
    // Duplicated.
    lab.feed(&eth(0x0800, &ipv4(1, 501, 0x2000, &msg[..32])));
    lab.expect_drop(&eth(0x0800, &ipv4(1, 501, 0x2000, &msg[..32])), DropReason::FragDuplicate);
    // Past 65,535 bytes.
    lab.expect_drop(&eth(0x0800, &ipv4(1, 502, 8189, &[0; 64])), DropReason::FragTooBig);
    // A middle fragment whose length is not a multiple of 8.
    lab.expect_drop(&eth(0x0800, &ipv4(1, 503, 0x2000, &msg[..30])), DropReason::FragBadLength);
    // Never completed: timed out after 30 s, memory returned.
    lab.feed(&eth(0x0800, &ipv4(1, 504, 0x2000, &msg[..32])));
    let before = lab.stack.stats().drops(DropReason::FragTimeout);
    let mut t = lab.now;
    while let Some(d) = lab.stack.poll_timeout() {
        if d > lab.now + stack::Duration::from_secs(31) {
            break;
        }
        t = d;
        lab.stack.handle_timeout(t);
    }
    lab.now = t;
    assert!(lab.stack.stats().drops(DropReason::FragTimeout) >= before + 2, "504 and 500's leftovers expire");
    lab.drain();
    lab.assert_alive();
}

#[test]
fn bad_icmp_and_udp() {
    let mut lab = Lab::new();
    lab.expect_drop(&eth(0x0800, &ipv4(1, 1, 0, &[8, 0, 0])), DropReason::IcmpTooShort);
    let mut m = echo_request(1, 8);
    m[10] ^= 1;
    lab.expect_drop(&eth(0x0800, &ipv4(1, 1, 0, &m)), DropReason::IcmpBadChecksum);
    let mut m = vec![42, 0, 0, 0, 0, 0, 0, 0];
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    lab.expect_drop(&eth(0x0800, &ipv4(1, 1, 0, &m)), DropReason::IcmpUnhandledType);
    let mut m = echo_request(1, 8);
    m[0] = 0; // an echo reply nobody asked for
    m[2] = 0;
    m[3] = 0;
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    lab.expect_drop(&eth(0x0800, &ipv4(1, 1, 0, &m)), DropReason::IcmpNoPingWaiting);

    lab.expect_drop(&eth(0x0800, &ipv4(17, 1, 0, &[0x9c, 0x40, 0, 7])), DropReason::UdpTooShort);
    let mut u = udp(7, b"hello");
    u[5] = 200;
    lab.expect_drop(&eth(0x0800, &ipv4(17, 1, 0, &u)), DropReason::UdpBadLength);
    let mut u = udp(7, b"hello");
    u[5] = 7;
    lab.expect_drop(&eth(0x0800, &ipv4(17, 1, 0, &u)), DropReason::UdpBadLength);
    let mut u = udp(7, b"hello");
    u[9] ^= 1;
    lab.expect_drop(&eth(0x0800, &ipv4(17, 1, 0, &u)), DropReason::UdpBadChecksum);
    let before = lab.stack.stats().get(Counter::IcmpUnreachTx);
    lab.expect_drop(&eth(0x0800, &ipv4(17, 1, 0, &udp(9999, b"x"))), DropReason::UdpNoSocket);
    assert_eq!(lab.stack.stats().get(Counter::IcmpUnreachTx), before + 1);
}

#[test]
fn icmp_errors_are_rate_limited() {
    let mut lab = Lab::new();
    for _ in 0..100 {
        lab.feed(&eth(0x0800, &ipv4(17, 1, 0, &udp(9999, b"x"))));
    }
    lab.drain();
    assert!(lab.stack.stats().get(Counter::IcmpUnreachTx) < 50);
    assert!(lab.stack.stats().drops(DropReason::IcmpRateLimited) > 50);
}

/// Random mutations of valid frames: no panic, and ping still works.
#[test]
fn mutation_fuzz_never_panics() {
    let mut lab = Lab::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let seeds = [
        eth(0x0800, &ipv4(1, 1, 0, &echo_request(1, 24))),
        eth(0x0806, &arp(1, [10, 0, 0, 2])),
        eth(0x0800, &ipv4(17, 1, 0, &udp(7, b"hello world"))),
        eth(0x0800, &ipv4(1, 9, 0x2000, &echo_request(1, 24)[..16])),
        eth(0x0800, &ipv4(6, 1, 0, &[0x9c, 0x40, 0, 23, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2, 0xff, 0xff, 0, 0, 0, 0])),
    ];
    let rounds = if cfg!(debug_assertions) { 20_000 } else { 200_000 };
    for i in 0..rounds {
        let mut f = seeds[i % seeds.len()].clone();
        for _ in 0..rng.gen_range(1..4) {
            match rng.gen_range(0..4) {
                0 if !f.is_empty() => {
                    let j = rng.gen_range(0..f.len());
                    f[j] = rng.gen();
                }
                1 => f.truncate(rng.gen_range(0..=f.len())),
                2 => f.extend((0..rng.gen_range(0..64)).map(|_| rng.gen::<u8>())),
                _ if f.len() > 24 => {
                    // Keep the IP checksum right so the mutation reaches the layer above.
                    let j = rng.gen_range(14..f.len());
                    f[j] = rng.gen();
                    if f.len() >= 34 && f[12..14] == [8, 0] {
                        fix_ip_checksum(&mut f[14..]);
                    }
                }
                _ => {}
            }
        }
        lab.feed(&f);
        lab.drain();
    }
    lab.assert_alive();
}

/// What a class of TCP segment must lead to.
#[derive(Copy, Clone, Debug)]
enum Want {
    /// Dropped with this reason, nothing sent back.
    Drop(DropReason),
    /// Dropped with this reason and answered with an ACK (RFC 9293
    /// §3.10.7.4 first and fifth steps, RFC 5961 challenge ACKs).
    DropAck(DropReason),
    /// Dropped with this reason and answered with a RST (§3.10.7.1, §3.10.7.2).
    DropRst(DropReason),
    /// Not dropped: answered as the RFC says (a SYN-ACK) and this counter counted.
    Counted(Counter),
}

impl Lab {
    /// Feed one class of segment and check it against `want`, then check
    /// the stack is still alive. Failure messages name the class.
    fn check(&mut self, class: &str, frame: &[u8], want: Want) {
        let stats = self.stack.stats().clone();
        self.feed(frame);
        let out = tcp_out(&self.drain());
        let st = self.stack.stats();
        let (reason, reply) = match want {
            Want::Drop(r) => (Some(r), None),
            Want::DropAck(r) => (Some(r), Some(ACK)),
            Want::DropRst(r) => (Some(r), Some(RST)),
            Want::Counted(c) => {
                assert_eq!(st.get(c), stats.get(c) + 1, "{class}: {c} not counted");
                (None, Some(SYN | ACK))
            }
        };
        if let Some(r) = reason {
            assert_eq!(st.drops(r), stats.drops(r) + 1, "{class}: not dropped as {r}");
        }
        assert_eq!(st.total_drops(), stats.total_drops() + u64::from(reason.is_some()), "{class}: other drops");
        match reply {
            None => assert!(out.is_empty(), "{class}: answered {out:?}"),
            Some(f) => assert!(
                out.len() == 1 && (out[0].0 == f || (f == RST && out[0].0 & RST != 0)),
                "{class}: wanted flags {f:#04x}, sent {out:?}"
            ),
        }
        self.assert_alive();
    }
}

/// One row per class of hostile TCP segment: to the listener on port 80, to
/// a closed port, and to an established connection.
#[test]
fn bad_tcp_segments_one_class_each() {
    let mut lab = Lab::new();
    let c = lab.handshake();
    let ip = |t: Vec<u8>| eth(0x0800, &ipv4(6, 1, 0, &t));
    let with = |mut t: Vec<u8>, f: &dyn Fn(&mut Vec<u8>)| {
        f(&mut t);
        fix_tcp_checksum(&mut t);
        t
    };
    let syn = |sport: u16, opts: &[u8]| tcp(sport, 80, 7_000, 0, SYN, opts, &[]);
    // To the connection: in-window sequence number c.snd unless said otherwise.
    let on_conn = |seq: u32, ack: u32, flags: u8, data: &[u8]| tcp(c.sport, 80, seq, ack, flags, &[], data);
    let mut bcast = ipv4(6, 1, 0, &syn(41000, &[]));
    bcast[16..20].copy_from_slice(&[10, 0, 0, 255]);
    fix_ip_checksum(&mut bcast);

    use DropReason::*;
    use Want::*;
    let cases: Vec<(&str, Vec<u8>, Want)> = vec![
        ("segment shorter than a header", ip(syn(41001, &[])[..19].to_vec()), Drop(TcpTooShort)),
        ("data offset 0", ip(with(syn(41002, &[]), &|t| t[12] = 0x00)), Drop(TcpBadDataOffset)),
        ("data offset 4 (< 5)", ip(with(syn(41003, &[]), &|t| t[12] = 0x40)), Drop(TcpBadDataOffset)),
        ("data offset past the segment", ip(with(syn(41004, &[]), &|t| t[12] = 0xf0)), Drop(TcpBadDataOffset)),
        (
            "bad checksum",
            ip(with(syn(41005, &[]), &|_| ())
                .into_iter()
                .enumerate()
                .map(|(i, b)| if i == 17 { b ^ 1 } else { b })
                .collect()),
            Drop(TcpBadChecksum),
        ),
        ("SYN+FIN", ip(tcp(41006, 80, 1, 0, SYN | FIN, &[], &[])), Drop(TcpBadFlags)),
        ("SYN+RST", ip(tcp(41007, 80, 1, 0, SYN | RST, &[], &[])), Drop(TcpBadFlags)),
        ("SYN+FIN on a connection", ip(on_conn(c.snd, c.rcv, SYN | FIN | ACK, &[])), Drop(TcpBadFlags)),
        ("no flags to a listener", ip(tcp(41008, 80, 1, 0, 0, &[], b"x")), Drop(TcpListenNoSyn)),
        ("no flags on a connection", ip(on_conn(c.snd, 0, 0, b"x")), Drop(TcpNoAck)),
        ("option length 0", ip(syn(41009, &[8, 0, 0, 0])), Drop(TcpBadOptions)),
        ("option length 1", ip(syn(41010, &[30, 1, 0, 0])), Drop(TcpBadOptions)),
        ("option past the header", ip(syn(41011, &[2, 8, 5, 0xb4])), Drop(TcpBadOptions)),
        ("option kind without its length byte", ip(syn(41012, &[1, 1, 1, 2])), Drop(TcpBadOptions)),
        ("MSS option of the wrong length", ip(syn(41013, &[2, 3, 5, 0])), Drop(TcpBadOptions)),
        ("MSS 0", ip(syn(41014, &[2, 4, 0, 0])), Counted(Counter::TcpOptMssZero)),
        ("window scale 15", ip(syn(41015, &[1, 3, 3, 15])), Counted(Counter::TcpOptWscaleClamped)),
        ("window scale 255", ip(syn(41016, &[1, 3, 3, 255])), Counted(Counter::TcpOptWscaleClamped)),
        ("RST to a listener", ip(tcp(41017, 80, 1, 0, RST, &[], &[])), Drop(TcpRstInvalid)),
        ("ACK to a listener", ip(tcp(41018, 80, 1, 99, ACK, &[], &[])), DropRst(TcpListenNoSyn)),
        ("SYN to a closed port", ip(tcp(41019, 81, 1, 0, SYN, &[], &[])), DropRst(TcpNoSocket)),
        ("RST to a closed port", ip(tcp(41020, 81, 1, 0, RST, &[], &[])), Drop(TcpNoSocket)),
        ("TCP to the broadcast address", eth(0x0800, &bcast), Drop(IpNotForUs)),
        (
            "data wholly beyond the window",
            ip(on_conn(c.snd.wrapping_add(1 << 30), c.rcv, ACK, b"late")),
            DropAck(TcpNotAcceptable),
        ),
        (
            "data wholly before the window",
            ip(on_conn(c.snd.wrapping_sub(1000), c.rcv, ACK, b"0123456789")),
            DropAck(TcpNotAcceptable),
        ),
        ("RST beyond the window", ip(on_conn(c.snd.wrapping_add(1 << 30), 0, RST, &[])), Drop(TcpNotAcceptable)),
        ("RST in the window, not exact", ip(on_conn(c.snd.wrapping_add(100), 0, RST, &[])), DropAck(TcpRstInvalid)),
        ("SYN on an established connection", ip(on_conn(c.snd, 0, SYN, &[])), DropAck(TcpSynInWindow)),
        ("ACK for data never sent", ip(on_conn(c.snd, c.rcv.wrapping_add(5000), ACK, &[])), DropAck(TcpAckUnsent)),
        (
            "ACK for data never sent, with data",
            ip(on_conn(c.snd, c.rcv.wrapping_add(5000), ACK | PSH, b"zz")),
            DropAck(TcpAckUnsent),
        ),
        (
            "ACK older than SND.UNA - MAX.SND.WND",
            ip(on_conn(c.snd, c.rcv.wrapping_sub(1 << 30), ACK, b"zz")),
            DropAck(TcpOldAck),
        ),
    ];
    assert!(cases.len() >= 30);
    for (class, frame, want) in cases {
        lab.check(class, &frame, want);
        if let Want::Counted(_) = want {
            // The SYN made a half-open child; reset it (exact RCV.NXT).
            let sport = u16::from_be_bytes([frame[34], frame[35]]);
            lab.feed(&ip(tcp(sport, 80, 7_001, 0, RST, &[], &[])));
            lab.drain();
        }
    }
    // The connection took none of it.
    let mut buf = [0u8; 64];
    assert_eq!(lab.stack.recv(lab.now, c.h, &mut buf, stack::MsgFlags::NONE), Err(stack::Errno::EAGAIN));
    let info = lab.stack.tcp_info(lab.now).into_iter().find(|i| i.remote.port() == c.sport).unwrap();
    assert_eq!((info.state.rfc_name(), info.rcv_nxt, info.snd_una), ("ESTABLISHED", c.snd, c.rcv));
}

/// MSS 0 is ignored: the connection uses the RFC 9293 §3.7.1 default, 536.
#[test]
fn mss_zero_means_the_default_mss() {
    let mut lab = Lab::new();
    lab.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(42000, 80, 5, 0, SYN, &[2, 4, 0, 0], &[]))));
    let out = tcp_out(&lab.drain());
    assert_eq!(out[0].0, SYN | ACK);
    lab.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(42000, 80, 6, out[0].1.wrapping_add(1), ACK, &[], &[]))));
    let info = lab.stack.tcp_info(lab.now).into_iter().find(|i| i.remote.port() == 42000).unwrap();
    assert_eq!((info.state.rfc_name(), info.mss), ("ESTABLISHED", 536));
}

/// An IP total length shorter than the frame is Ethernet padding: trimmed,
/// and the packet is answered (RFC 894; Linux `ip_rcv_core` `pskb_trim_rcsum`).
#[test]
fn ip_total_length_shorter_than_the_frame_is_padding() {
    let mut lab = Lab::new();
    let mut f = eth(0x0800, &ipv4(1, 7, 0, &echo_request(7, 8)));
    f.extend_from_slice(&[0xee; 12]);
    let drops = lab.stack.stats().total_drops();
    lab.feed(&f);
    let out = lab.drain();
    assert_eq!(lab.stack.stats().total_drops(), drops);
    let reply = out.iter().find(|f| f.len() >= 42 && f[23] == 1 && f[34] == 0).expect("an echo reply");
    assert_eq!(u16::from_be_bytes([reply[16], reply[17]]), 36, "the padding is not echoed");
    lab.assert_alive();
}

/// An ICMP error quoting less than an IP header and 8 bytes is truncated.
#[test]
fn icmp_error_quoting_too_little() {
    let mut lab = Lab::new();
    let mut m = vec![3, 3, 0, 0, 0, 0, 0, 0, 0x45, 0, 0, 28];
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    lab.expect_drop(&eth(0x0800, &ipv4(1, 1, 0, &m)), DropReason::IcmpTooShort);
}

// ------------------------------------------------------------ resource caps
//
// Each cap on memory a peer can make us spend, hit on purpose: the excess
// is dropped with its named reason, the holdings stay at the cap, and the
// stack stays alive.

fn lab_with(f: impl FnOnce(&mut Config)) -> Lab {
    let mut cfg = Config::default();
    f(&mut cfg);
    let mut lab = Lab::new();
    let mut stack = Stack::new(cfg, Instant::ZERO);
    while stack.poll_transmit(Instant::ZERO).is_some() {}
    let listener = stack.socket(SockType::Stream).unwrap();
    stack.bind(listener, SocketAddrV4::new([0, 0, 0, 0].into(), 80)).unwrap();
    stack.listen(listener, 128).unwrap();
    lab.stack = stack;
    lab.listener = listener;
    lab.feed(&eth(0x0806, &arp(1, [10, 0, 0, 2])));
    lab.drain();
    lab
}

#[test]
fn cap_sockets() {
    let mut lab = lab_with(|c| {
        c.tcp.max_sockets = 8;
        c.tcp.syncookies = false;
    });
    // The listener is one; SYNs make children until the table is full.
    for port in 0..20u16 {
        lab.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(43000 + port, 80, 1, 0, SYN, &[], &[]))));
    }
    lab.drain();
    assert_eq!(lab.stack.tcp().sockets_in_use(), 8);
    assert_eq!(lab.stack.stats().drops(DropReason::TcpTooManySockets), 13);
    assert_eq!(lab.stack.socket(SockType::Stream), Err(stack::Errno::EMFILE));
    // Reset the children: room again, and a handshake completes.
    for port in 0..7u16 {
        lab.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(43000 + port, 80, 2, 0, RST, &[], &[]))));
    }
    assert_eq!(lab.stack.tcp().sockets_in_use(), 1);
    lab.assert_alive();
}

#[test]
fn cap_tcp_receive_buffer() {
    let mut lab = Lab::new();
    lab.stack.setsockopt(lab.now, lab.listener, stack::SockOpt::RcvBuf(4096)).unwrap();
    let c = lab.handshake();
    let mut seq = c.snd;
    let mut zero_window = false;
    for _ in 0..20 {
        lab.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(c.sport, 80, seq, c.rcv, ACK | PSH, &[], &[0x55; 512]))));
        let out = tcp_out(&lab.drain());
        // Whatever was taken is ACKed; the sender moves on from there.
        if let Some(a) = out.iter().rev().find(|s| s.0 & ACK != 0) {
            seq = a.2;
        }
        zero_window |= lab.stack.tcp_info(lab.now).iter().any(|i| i.remote.port() == c.sport && i.rcv_wnd == 0);
    }
    let info = lab.stack.tcp_info(lab.now).into_iter().find(|i| i.remote.port() == c.sport).unwrap();
    assert!(zero_window && info.recv_q <= 4096, "{info:?}");
    assert!(lab.stack.stats().drops(DropReason::TcpRcvBufFull) > 0);
    lab.assert_alive();
}

#[test]
fn cap_out_of_order_queue_entries() {
    let mut lab = Lab::new();
    let c = lab.handshake();
    // 1,100 one-byte segments, each past a hole: the queue keeps 1,024.
    for k in 0..1100u32 {
        let seq = c.snd.wrapping_add(2 + 2 * k);
        lab.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(c.sport, 80, seq, c.rcv, ACK, &[], b"x"))));
    }
    lab.drain();
    assert_eq!(lab.stack.stats().drops(DropReason::TcpOfoQueueFull), 1100 - 1024);
    lab.assert_alive();
}

#[test]
fn cap_out_of_order_queue_bytes() {
    let mut lab = lab_with(|c| c.tcp.max_ofo_bytes = 1000);
    let c = lab.handshake();
    for k in 0..20u32 {
        let seq = c.snd.wrapping_add(1 + 200 * k);
        lab.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(c.sport, 80, seq, c.rcv, ACK, &[], &[7; 100]))));
    }
    lab.drain();
    let info = lab.stack.tcp_info(lab.now).into_iter().find(|i| i.remote.port() == c.sport).unwrap();
    assert_eq!(info.ofo_bytes, 1000);
    assert_eq!(lab.stack.stats().drops(DropReason::TcpOfoQueueFull), 10);
    lab.assert_alive();
}

#[test]
fn cap_ip_reassembly_memory() {
    let mut lab = lab_with(|c| c.frag_mem_limit = 4096);
    // First fragments of 20 datagrams that never complete, 512 bytes each.
    for id in 0..20u16 {
        lab.feed(&eth(0x0800, &ipv4(17, 1000 + id, 0x2000, &[0; 512])));
    }
    lab.drain();
    // 256 bytes of bookkeeping per datagram: 5 fit in 4,096.
    assert_eq!(lab.stack.stats().drops(DropReason::FragMemory), 15);
    lab.assert_alive();
}

#[test]
fn cap_arp_pending_queue() {
    let mut lab = lab_with(|c| c.arp.max_entries = 32);
    let u = lab.stack.socket(SockType::Dgram).unwrap();
    // 20 datagrams to a silent neighbour: 16 wait for its MAC (`unres_qlen`).
    for _ in 0..20 {
        lab.stack.sendto(lab.now, u, b"anyone?", Some(SocketAddrV4::new([10, 0, 0, 77].into(), 9))).unwrap();
    }
    lab.drain();
    assert_eq!(lab.stack.stats().drops(DropReason::ArpQueueFull), 4);
    // And neighbours being resolved: the table holds 32; one datagram to
    // each of 100 silent addresses. A full table forgets the oldest
    // unresolved entries down to 16 in one pass (10.0.0.77 first, with its
    // 16), never the host's, which is in use (it pings, synack answers): a
    // flood of spoofed sources cannot cut synack off from its real
    // neighbours. Full at the 31st newcomer and every 16th after: 5 passes
    // of 16, and 22 entries left (the host and 21 being resolved).
    lab.assert_pings();
    for i in 0..100u8 {
        let ip = [10, 0, 0, 100 + i];
        lab.now += stack::Duration::from_millis(1);
        lab.stack.sendto(lab.now, u, b"?", Some(SocketAddrV4::new(ip.into(), 9))).unwrap();
    }
    lab.drain();
    assert_eq!(lab.stack.arp_entries(lab.now).len(), 22);
    assert_eq!(lab.stack.stats().drops(DropReason::ArpQueueFull), 4);
    assert_eq!(lab.stack.stats().drops(DropReason::ArpUnresolved), 16 + 79);
    assert_eq!(lab.stack.stats().get(Counter::ArpEvictedUnresolved), 80);
    let host = lab.stack.arp_entries(lab.now).into_iter().find(|n| n.ip == std::net::Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(host.map(|n| n.state), Some(stack::neighbour::NeighState::Reachable));
    lab.assert_alive();
    // Three requests, then the waiting packets go as unresolved.
    for _ in 0..5 {
        lab.now += stack::Duration::from_secs(1);
        lab.stack.handle_timeout(lab.now);
    }
    lab.drain();
    assert_eq!(lab.stack.stats().drops(DropReason::ArpUnresolved), 16 + 79 + 21);
    lab.feed(&eth(0x0806, &arp(1, [10, 0, 0, 2])));
    lab.drain();
    lab.assert_alive();
}

#[test]
fn cap_udp_receive_buffer() {
    let mut lab = lab_with(|c| c.udp_rcvbuf = 1000);
    let u = lab.stack.socket(SockType::Dgram).unwrap();
    lab.stack.bind(u, SocketAddrV4::new([0, 0, 0, 0].into(), 7)).unwrap();
    for _ in 0..10 {
        lab.feed(&eth(0x0800, &ipv4(17, 1, 0, &udp(7, &[1; 300]))));
    }
    lab.drain();
    assert_eq!(lab.stack.udp_info()[0].2, 900);
    assert_eq!(lab.stack.stats().drops(DropReason::UdpRcvBufFull), 7);
    lab.assert_alive();
}
