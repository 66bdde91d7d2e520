//! Hostile input fed straight into a `Stack`: one test per class of
//! malformed frame, each dropped with its named reason, and a seeded mutation
//! fuzz over valid frames. After every case the stack must still answer ping.

use rand::{Rng, SeedableRng};
use stack::checksum;
use stack::{Config, Counter, DropReason, Instant, SkBuff, Stack};

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

struct Lab {
    stack: Stack,
    now: Instant,
    seq: u16,
}

impl Lab {
    fn new() -> Lab {
        let mut stack = Stack::new(Config::default(), Instant::ZERO);
        while stack.poll_transmit(Instant::ZERO).is_some() {}
        let mut lab = Lab { stack, now: Instant::from_millis(1), seq: 0 };
        lab.feed(&eth(0x0806, &arp(1, [10, 0, 0, 2])));
        lab.drain();
        lab
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
        self.assert_pings();
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
    lab.assert_pings();
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
    lab.assert_pings();
}
