//! The TAP offloads against the real kernel, each test in a network
//! namespace it creates and deletes:
//!
//! 1. the kernel as the oracle of segmentation: a 64 KiB-style TCP segment
//!    written with a virtio-net header (GSO_TCPV4, NEEDS_CSUM) into one TAP
//!    is forwarded by the host out of a second, plain TAP, which cannot take
//!    it whole, so the kernel cuts it (`tcp_gso_segment`) and finishes the
//!    checksums; the frames read there must be, byte for byte, what
//!    `stack::gso::tcp_gso_segment` makes of the same segment;
//! 2. `synack up --offload` with the host's TCP: bytes through echo both
//!    ways at once, SHA-256 equal, in far fewer frames than 1460-byte
//!    segments would take (TSO out, GRO in), no checksum drop.
//!
//! Run as root (`tests/run.sh`); without root every test here prints a loud
//! SKIPPED message, except under `CI=true`, where that is a failure.

use device::tap::{Tap, VirtioNetHdr};
use device::Device;
use sha2::{Digest, Sha256};
use stack::checksum;
use stack::ethernet::eth_push;
use stack::gso::tcp_gso_segment;
use stack::ipv4::{ip_push_header, IpOut};
use stack::wire::EtherType;
use stack::{Instant, MacAddr, SkBuff};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant as StdInstant};
use synack_tests::{interop_allowed, pseudo_random, require_tool, running, Netns, Synack};

const T: Duration = Duration::from_secs(20);

fn ip(ns: &Netns, args: &[&str]) {
    let out = ns.exec("ip", args, T);
    assert!(out.success(), "ip {}: {}", args.join(" "), out.text());
}

const A_HOST: MacAddr = MacAddr([2, 0, 0, 0, 1, 1]);
const A_PEER: MacAddr = MacAddr([2, 0, 0, 0, 1, 2]);
const B_PEER: MacAddr = MacAddr([2, 0, 0, 0, 2, 2]);

/// A TCP/IPv4 segment from 10.9.1.2 to 10.9.2.2 with `len` bytes of payload,
/// as synack's TCP leaves it with TSO: pseudo-header checksum (Partial),
/// gso_size = `mss`, DF, PSH|ACK, in an Ethernet frame to the host's tapa.
fn gso_frame(len: usize, mss: u16, seq: u32, ident: u16) -> SkBuff {
    let payload = pseudo_random(len, 7);
    let mut skb = SkBuff::for_xmit(len);
    skb.put_slice(&payload);
    let t = skb.push(20);
    t[..4].copy_from_slice(&[0xc3, 0x50, 0x13, 0x89]); // 50000 -> 5001
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    t[12..20].copy_from_slice(&[0x50, 0x18, 0x7f, 0xff, 0, 0, 0, 0]);
    let (src, dst) = ([10, 9, 1, 2].into(), [10, 9, 2, 2].into());
    stack::skbuff::set_partial(&mut skb, src, dst, 6, 16);
    skb.set_gso_tcpv4(mss);
    let o = IpOut { src, dst, protocol: 6, ttl: 64, tos: 0, ident, dont_fragment: true };
    ip_push_header(&mut skb, &o, false, 0);
    eth_push(&mut skb, A_HOST, A_PEER, EtherType::Ipv4);
    skb
}

/// The IP packet of a frame with the TTL one lower (the host forwarded it)
/// and the header checksum fixed accordingly.
fn forwarded(frame: &[u8]) -> Vec<u8> {
    let mut p = frame[14..].to_vec();
    p[8] -= 1;
    p[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

#[test]
fn the_kernel_cuts_a_gso_segment_as_tcp_gso_segment_does() {
    if !interop_allowed("the_kernel_cuts_a_gso_segment_as_tcp_gso_segment_does") {
        return;
    }
    require_tool("ip");
    let ns = Netns::create();
    ns.sysctl("net.ipv6.conf.default.disable_ipv6=1");
    ns.sysctl("net.ipv6.conf.all.disable_ipv6=1");
    ns.sysctl("net.ipv4.ip_forward=1");
    let (mut a, mut b) = ns
        .run_in(|| Ok((Tap::open_offload("tapa", 1500)?, Tap::open("tapb", 1500)?)))
        .expect("open two TAPs in the namespace");
    let a_mac = format!("{A_HOST}");
    ip(&ns, &["link", "set", "tapa", "address", &a_mac]);
    ip(&ns, &["addr", "add", "10.9.1.1/24", "dev", "tapa"]);
    ip(&ns, &["addr", "add", "10.9.2.1/24", "dev", "tapb"]);
    ip(&ns, &["link", "set", "tapa", "up"]);
    ip(&ns, &["link", "set", "tapb", "up"]);
    ip(&ns, &["neigh", "add", "10.9.1.2", "lladdr", &format!("{A_PEER}"), "dev", "tapa", "nud", "permanent"]);
    ip(&ns, &["neigh", "add", "10.9.2.2", "lladdr", &format!("{B_PEER}"), "dev", "tapb", "nud", "permanent"]);

    // 10,000 bytes at 1460: six full pieces and one of 1240; the sequence
    // number and the IP identification wrap inside the segment.
    let (len, mss) = (10_000, 1460u16);
    let big = gso_frame(len, mss, 0xffff_f000, 0xfffd);
    let hdr = VirtioNetHdr::from_skb(&big);
    assert_eq!((hdr.gso_type, hdr.gso_size, hdr.csum_start, hdr.csum_offset), (1, 1460, 34, 16));
    a.send(Instant::ZERO, &big).expect("write the GSO frame to tapa");

    // What the kernel forwards out of tapb.
    let mut got: Vec<Vec<u8>> = Vec::new();
    let until = StdInstant::now() + Duration::from_secs(5);
    while got.len() < 7 && StdInstant::now() < until {
        match b.recv(Instant::ZERO).expect("read tapb") {
            Some(f) if f.len() > 34 && f.data()[12..14] == [8, 0] && f.data()[23] == 6 => got.push(f.data().to_vec()),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    assert_eq!(got.len(), 7, "the kernel forwarded {} TCP frames, not 7", got.len());

    // What tcp_gso_segment makes of the same frame, checksums finished.
    let ours: Vec<Vec<u8>> = tcp_gso_segment(big)
        .into_iter()
        .map(|mut p| {
            p.checksum_help();
            p.data().to_vec()
        })
        .collect();
    assert_eq!(ours.len(), 7);
    for (i, (k, o)) in got.iter().zip(&ours).enumerate() {
        assert_eq!(&k[..6], &B_PEER.0, "piece {i}: to the neighbour on tapb");
        assert!(k.len() <= 1514, "piece {i}: {} bytes", k.len());
        let kt = &k[34..];
        assert_eq!(checksum::transport_checksum([10, 9, 1, 2].into(), [10, 9, 2, 2].into(), 6, kt), 0);
        let o = forwarded(o);
        assert_eq!(k[14..54], o[..40], "piece {i}: the kernel's IP and TCP headers differ from ours");
        assert!(k[54..] == o[40..], "piece {i}: the kernel's payload differs from ours");
    }
}

#[test]
fn synack_up_offload_moves_bytes_both_ways_in_big_segments() {
    if !interop_allowed("synack_up_offload_moves_bytes_both_ways_in_big_segments") {
        return;
    }
    require_tool("ip");
    let ns = Netns::create();
    ns.sysctl("net.ipv6.conf.default.disable_ipv6=1");
    let s = Synack::up(&ns, &["--quiet", "--offload"]);
    let link = ns.exec("ip", &["-d", "link", "show", "tap0"], T);
    assert!(link.stdout.contains("vnet_hdr on"), "tap0 has no virtio-net header:\n{}", link.stdout);
    let before = s.stats();

    // 20 MB through echo (port 7), written and read at once.
    const N: usize = 20 << 20;
    let data = pseudo_random(N, 42);
    let want = Sha256::digest(&data);
    let stream = ns
        .run_in(|| {
            let s = TcpStream::connect_timeout(&"10.0.0.2:7".parse().unwrap(), T)?;
            s.set_read_timeout(Some(T))?;
            s.set_write_timeout(Some(T))?;
            Ok(s)
        })
        .expect("connect to synack's echo");
    let mut w = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        w.write_all(&data)?;
        w.shutdown(std::net::Shutdown::Write)
    });
    let mut r = stream;
    let mut back = Vec::with_capacity(N);
    r.read_to_end(&mut back).expect("read the echo");
    writer.join().unwrap().expect("write to echo");
    assert_eq!(back.len(), N, "echoed {} of {N} bytes", back.len());
    assert!(Sha256::digest(&back) == want, "the echo differs from what was sent");

    let after = s.stats();
    let rx = after.counter("frames_rx") - before.counter("frames_rx");
    let tx = after.counter("frames_tx") - before.counter("frames_tx");
    // 20 MB in 1460-byte segments is 14,364 frames each way (plus ACKs).
    assert!(rx < 14_364 / 3, "{rx} frames in for 20 MB: no GRO from the host");
    assert!(tx < 14_364 / 3, "{tx} frames out for 20 MB: no TSO");
    assert_eq!(after.dropped("tcp_bad_checksum"), 0);
    assert!(running(s.pid()), "synack exited:\n{}", s.output());
    let out = ns.exec("ping", &["-c", "1", "-W", "2", "10.0.0.2"], T);
    assert!(out.success(), "no ping after the transfer: {}", out.text());
}
