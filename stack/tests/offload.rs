//! The offloads seen from the stack: a device's word on a checksum
//! (`IpSummed`), checksum offload on the way out (`CHECKSUM_PARTIAL`), and
//! TSO/GRO segments larger than the MTU. Two stacks in memory, A
//! (10.0.0.1) and B (10.0.0.2), frames handed across by the test.

use stack::gso::tcp_gso_segment;
use stack::{
    checksum, Config, DropReason, Errno, Instant, IpSummed, MacAddr, MsgFlags, Offloads, SkBuff, SockType,
    SocketHandle, Stack,
};
use std::net::SocketAddrV4;

const T: Instant = Instant::ZERO;

fn pair(offloads: Offloads) -> (Stack, Stack) {
    // No Nagle: the last runt goes without waiting for a delayed ACK (the
    // clock here stands still).
    let tcp = stack::tcp::TcpConfig { sndbuf: 1 << 20, rcvbuf: 1 << 20, nagle: false, ..Default::default() };
    let a = Config {
        addr: [10, 0, 0, 1].into(),
        mac: MacAddr([2, 0, 0, 0, 0, 1]),
        gateway: None,
        seed: 1,
        tcp: tcp.clone(),
        offloads,
        ..Config::default()
    };
    let b = Config { gateway: None, seed: 2, tcp, offloads, ..Config::default() };
    (Stack::new(a, T), Stack::new(b, T))
}

/// Hand every frame across until both are quiet; `seen` gets A's frames.
fn shuttle(a: &mut Stack, b: &mut Stack, mut seen: impl FnMut(&SkBuff)) {
    for _ in 0..100_000 {
        let mut moved = false;
        while let Some(f) = a.poll_transmit(T) {
            seen(&f);
            b.handle_frame(T, f);
            moved = true;
        }
        while let Some(f) = b.poll_transmit(T) {
            a.handle_frame(T, f);
            moved = true;
        }
        if !moved {
            return;
        }
    }
    panic!("the stacks never went quiet");
}

/// A connected pair of sockets: (A's client, B's accepted end).
fn connect(a: &mut Stack, b: &mut Stack) -> (SocketHandle, SocketHandle) {
    let l = b.socket(SockType::Stream).unwrap();
    b.bind(l, SocketAddrV4::new([0, 0, 0, 0].into(), 5001)).unwrap();
    b.listen(l, 4).unwrap();
    let c = a.socket(SockType::Stream).unwrap();
    match a.connect(T, c, "10.0.0.2:5001".parse().unwrap()) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(e) => panic!("connect: {e:?}"),
    }
    shuttle(a, b, |_| {});
    let (s, _) = b.accept(T, l).unwrap();
    (c, s)
}

fn data(len: usize) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect()
}

/// Send `bytes` from A to B through `shuttle`, reading as it comes; returns
/// what B read and A's frames (copies, with their metadata).
fn transfer(a: &mut Stack, b: &mut Stack, c: SocketHandle, s: SocketHandle, bytes: &[u8]) -> (Vec<u8>, Vec<SkBuff>) {
    let (mut sent, mut got, mut frames) = (0, Vec::new(), Vec::new());
    let mut buf = vec![0u8; 1 << 16];
    for _ in 0..10_000 {
        if sent < bytes.len() {
            match a.send(T, c, &bytes[sent..], MsgFlags::NONE) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => {}
                Err(e) => panic!("send: {e:?}"),
            }
        }
        shuttle(a, b, |f| frames.push(f.clone()));
        loop {
            match b.recv(T, s, &mut buf, MsgFlags::NONE) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("recv: {e:?}"),
            }
        }
        if got.len() == bytes.len() {
            return (got, frames);
        }
    }
    panic!("transfer stalled at {} of {} bytes", got.len(), bytes.len());
}

/// A's data segments (TCP with payload).
fn data_frames(frames: &[SkBuff]) -> Vec<&SkBuff> {
    frames.iter().filter(|f| f.len() > 54 && f.data()[23] == 6).collect()
}

#[test]
fn a_bad_checksum_is_dropped_unless_the_device_vouched_for_it() {
    let (mut a, mut b) = pair(Offloads::default());
    let (c, s) = connect(&mut a, &mut b);
    a.send(T, c, b"hello", MsgFlags::NONE).unwrap();
    let mut f = a.poll_transmit(T).expect("the data segment");
    assert_eq!(f.ip_summed(), IpSummed::None, "no offload: the checksum is whole");
    assert_eq!(checksum::transport_checksum([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 6, &f.data()[34..]), 0);
    f.data_mut()[50] ^= 0x5a; // the TCP checksum field
    let bad = f.clone();

    b.handle_frame(T, f);
    assert_eq!(b.stats().drops(DropReason::TcpBadChecksum), 1, "checked in software and dropped");
    let mut buf = [0u8; 16];
    assert_eq!(b.recv(T, s, &mut buf, MsgFlags::NONE), Err(Errno::EAGAIN));

    // The same bytes, from a device that says it checked them.
    let mut vouched = bad;
    vouched.set_ip_summed(IpSummed::Unnecessary);
    b.handle_frame(T, vouched);
    assert_eq!(b.stats().drops(DropReason::TcpBadChecksum), 1, "not checked again");
    assert_eq!(b.recv(T, s, &mut buf, MsgFlags::NONE), Ok(5));
    assert_eq!(&buf[..5], b"hello");
}

#[test]
fn checksum_offload_leaves_the_pseudo_header_sum() {
    let (mut a, mut b) = pair(Offloads::memory());
    let (c, s) = connect(&mut a, &mut b);
    let bytes = data(300_000);
    let (got, frames) = transfer(&mut a, &mut b, c, s, &bytes);
    assert!(got == bytes, "B read what A sent");
    let segs = data_frames(&frames);
    assert!(segs.len() >= 300_000 / 1460);
    for f in segs {
        assert_eq!(f.ip_summed(), IpSummed::Partial);
        assert_eq!(f.csum_partial(), Some((34, 16)), "TCP checksum: from the TCP header, field at 16");
        assert!(f.len() <= 1514, "no offload of segmentation: MSS-sized");
        let tcp = &f.data()[34..];
        let pseudo = checksum::pseudo_header([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 6, tcp.len()) as u16;
        assert_eq!(u16::from_be_bytes([tcp[16], tcp[17]]), pseudo, "the field holds the pseudo-header sum");
        let mut whole = f.clone();
        whole.checksum_help();
        assert_eq!(checksum::transport_checksum([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 6, &whole.data()[34..]), 0);
    }
    assert_eq!(b.stats().drops(DropReason::TcpBadChecksum), 0);
}

/// Ethernet, IPv4 (20) and TCP headers with their options: where the payload starts.
fn headers(f: &SkBuff) -> usize {
    34 + (f.data()[34 + 12] >> 4) as usize * 4
}

#[test]
fn tso_segments_cross_whole_and_cut_into_wire_frames() {
    let (mut a, mut b) = pair(Offloads::memory_gso());
    let (c, s) = connect(&mut a, &mut b);
    let bytes = data(1_000_000);
    let (got, frames) = transfer(&mut a, &mut b, c, s, &bytes);
    assert!(got == bytes, "B read what A sent");
    let segs = data_frames(&frames);
    let big: Vec<_> = segs.iter().filter(|f| f.len() > 1514).collect();
    assert!(big.len() >= 10, "most data goes in segments above the MTU: {} of {}", big.len(), segs.len());
    for f in &big {
        assert!(f.is_gso());
        assert_eq!(f.gso_size(), 1448, "the MSS less the 12 bytes of timestamps on every segment");
        assert!(f.len() <= 14 + 65_535, "an IP packet at most");
        assert_eq!(u16::from_be_bytes([f.data()[16], f.data()[17]]) as usize, f.len() - 14, "IP total length");
    }
    // What a device does with one: MTU-sized frames with whole checksums,
    // the same payload.
    let f = (*big[0]).clone();
    let payload = f.data()[headers(&f)..].to_vec();
    let pieces = tcp_gso_segment(f);
    assert_eq!(pieces.len(), payload.len().div_ceil(1448));
    let mut joined = Vec::new();
    for mut p in pieces {
        p.checksum_help();
        assert!(p.len() <= 1514);
        assert_eq!(checksum::checksum(&p.data()[14..34]), 0);
        assert_eq!(checksum::transport_checksum([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 6, &p.data()[34..]), 0);
        joined.extend_from_slice(&p.data()[headers(&p)..]);
    }
    assert_eq!(joined, payload);
}

#[test]
fn a_frame_above_the_mtu_needs_the_gso_mark() {
    let (mut a, mut b) = pair(Offloads::memory_gso());
    let (c, s) = connect(&mut a, &mut b);
    a.send(T, c, &data(20_000), MsgFlags::NONE).unwrap();
    let mut f = a.poll_transmit(T).expect("a segment");
    assert!(f.is_gso() && f.len() > 1514, "{f:?}");
    let unmarked = {
        let mut u = f.clone();
        u.set_gso_tcpv4(0);
        u
    };
    b.handle_frame(T, unmarked);
    assert_eq!(b.stats().drops(DropReason::EthOversize), 1, "too long for the MTU, and no GRO said otherwise");
    f.set_ip_summed(IpSummed::Unnecessary);
    let len = f.len() - headers(&f);
    b.handle_frame(T, f);
    let mut buf = vec![0u8; 1 << 16];
    assert_eq!(b.recv(T, s, &mut buf, MsgFlags::NONE), Ok(len));
}

#[test]
fn udp_checksum_follows_the_device_too() {
    let (mut a, mut b) = pair(Offloads::default());
    let u = b.socket(SockType::Dgram).unwrap();
    b.bind(u, SocketAddrV4::new([0, 0, 0, 0].into(), 7000)).unwrap();
    let h = a.socket(SockType::Dgram).unwrap();
    a.sendto(T, h, b"ping", Some("10.0.0.2:7000".parse().unwrap())).unwrap();
    shuttle(&mut a, &mut b, |_| {}); // ARP
    let mut buf = [0u8; 8];
    assert_eq!(b.recvfrom(T, u, &mut buf, MsgFlags::NONE).map(|r| r.0), Ok(4));
    a.sendto(T, h, b"pong", None).ok();
    a.sendto(T, h, b"pong", Some("10.0.0.2:7000".parse().unwrap())).unwrap();
    let mut f = a.poll_transmit(T).unwrap();
    f.data_mut()[40] ^= 0xff; // the UDP checksum
    let bad = f.clone();
    b.handle_frame(T, f);
    assert_eq!(b.stats().drops(DropReason::UdpBadChecksum), 1);
    let mut vouched = bad;
    vouched.set_ip_summed(IpSummed::Unnecessary);
    b.handle_frame(T, vouched);
    assert_eq!(b.recvfrom(T, u, &mut buf, MsgFlags::NONE).map(|r| r.0), Ok(4));
}

#[test]
fn an_echo_reply_does_not_inherit_the_requests_offload_marks() {
    let (mut a, mut b) = pair(Offloads::memory_gso());
    a.ping_send(T, [10, 0, 0, 2].into(), 7, 1, 56).unwrap();
    shuttle(&mut a, &mut b, |_| {}); // ARP, then the first request and reply
    assert!(a.ping_recv().is_some());
    a.ping_send(T, [10, 0, 0, 2].into(), 7, 2, 56).unwrap();
    let mut req = a.poll_transmit(T).expect("the echo request");
    // As if a device had marked it (the reply is built in the same buffer).
    req.set_csum_partial(34, 2);
    req.set_gso_tcpv4(1460);
    b.handle_frame(T, req);
    let reply = b.poll_transmit(T).expect("the echo reply");
    assert_eq!(reply.data()[34], 0, "an echo reply");
    assert_eq!(reply.ip_summed(), IpSummed::None, "its checksum is whole");
    assert!(!reply.is_gso());
    assert_eq!(checksum::checksum(&reply.data()[34..]), 0);
}
