//! Interop: the host's own ping, arping, nc and tshark against synack on a
//! TAP device, each test in a network namespace it creates and deletes.
//! Also: hostile frames injected from the host side of tap0, each class
//! counted under its drop reason, with synack still answering ping after.
//!
//! Run as root (`tests/run.sh`); without root every test here prints a loud
//! SKIPPED message, except under `CI=true`, where that is a failure.

use std::io;
use std::net::{SocketAddrV4, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};
use synack_tests::frames::{self, SYNACK_IP};
use synack_tests::{interop_allowed, mac_of, require_tool, synack_ns, tshark, Netns, RawSocket, StatsSnapshot, Synack};

const T: Duration = Duration::from_secs(20);

/// `N received` from ping's summary line.
fn received(ping_output: &str) -> Option<u32> {
    let line = ping_output.lines().find(|l| l.contains("packets transmitted"))?;
    let part = line.split(", ").find(|p| p.ends_with(" received"))?;
    part.trim_end_matches(" received").trim().parse().ok()
}

fn ping_ok(ns: &Netns, s: &Synack, args: &[&str]) -> String {
    require_tool("ping");
    let out = ns.exec("ping", args, T);
    assert!(out.success(), "ping {args:?} failed:\n{}\n--- synack:\n{}", out.text(), s.output());
    out.stdout
}

#[test]
fn host_ping_gets_five_replies() {
    if !interop_allowed("host_ping_gets_five_replies") {
        return;
    }
    let (ns, s) = synack_ns(&[]);
    let out = ping_ok(&ns, &s, &["-c", "5", "-i", "0.2", "-W", "2", "10.0.0.2"]);
    assert_eq!(received(&out), Some(5), "{out}");
    assert_eq!(out.matches("bytes from 10.0.0.2: icmp_seq=").count(), 5, "{out}");
    let st = s.stats();
    assert!(st.counter("icmp_echo_replies_tx") >= 5, "{st:?}");
}

#[test]
fn fragmented_ping_both_ways() {
    if !interop_allowed("fragmented_ping_both_ways") {
        return;
    }
    let (ns, s) = synack_ns(&[]);
    let out = ping_ok(&ns, &s, &["-c", "3", "-i", "0.2", "-W", "2", "-s", "4000", "10.0.0.2"]);
    assert_eq!(received(&out), Some(3), "{out}");
    assert!(out.contains("4008 bytes from 10.0.0.2"), "{out}");
    let st = s.stats();
    // 4028-byte datagrams: 3 fragments each at MTU 1500, in and out.
    assert!(st.counter("ip_datagrams_reassembled") >= 3, "{st:?}");
    assert!(st.counter("ip_frags_rx") >= 9, "{st:?}");
    assert!(st.counter("ip_frags_tx") >= 9, "{st:?}");
}

#[test]
fn arping_gets_answers() {
    if !interop_allowed("arping_gets_answers") {
        return;
    }
    // iputils' arping (its wording, `-w` as a deadline): `ns.exec` runs the
    // implementation `require_tool` found, whatever `arping` is here.
    require_tool("arping");
    let (ns, s) = synack_ns(&[]);
    let out = ns.exec("arping", &["-c", "3", "-w", "10", "-I", "tap0", "10.0.0.2"], T);
    assert!(out.success(), "{}\n--- synack:\n{}", out.text(), s.output());
    let replies = out.stdout.lines().filter(|l| l.contains("reply from 10.0.0.2 [02:00:00:00:00:02]")).count();
    assert_eq!(replies, 3, "{}", out.stdout);
    assert!(s.stats().counter("arp_replies_tx") >= 3);
}

#[test]
fn synack_pings_the_host() {
    if !interop_allowed("synack_pings_the_host") {
        return;
    }
    let ns = Netns::create();
    let mut p = Synack::spawn(&ns, &["ping", "10.0.0.1", "-c", "3", "-i", "0.2"]);
    let (status, killed) = p.wait_exit(T);
    let out = p.output();
    assert!(!killed, "synack ping did not finish:\n{out}");
    assert!(status.is_some_and(|s| s.success()), "synack ping failed ({status:?}):\n{out}");
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    assert_eq!(out.lines().filter(|l| l.contains("bytes from 10.0.0.1")).count(), 3, "{out}");
}

#[test]
fn udp_echo_answers_nc() {
    if !interop_allowed("udp_echo_answers_nc") {
        return;
    }
    require_tool("nc");
    let (ns, s) = synack_ns(&[]);
    let out = ns.exec("sh", &["-c", "printf 'hello synack\\n' | nc -u -w1 10.0.0.2 7"], T);
    assert_eq!(out.stdout, "hello synack\n", "{}\n--- synack:\n{}", out.text(), s.output());
    assert!(s.stats().counter("udp_rx") >= 1);
}

/// A UDP socket of the host's kernel, connected to `to` (created inside the namespace).
fn host_udp_socket(ns: &Netns, to: SocketAddrV4) -> UdpSocket {
    ns.run_in(move || {
        let u = UdpSocket::bind("10.0.0.1:0")?;
        u.connect(to)?;
        u.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(u)
    })
    .expect("UDP socket in the namespace")
}

#[test]
fn udp_to_closed_port_is_refused() {
    if !interop_allowed("udp_to_closed_port_is_refused") {
        return;
    }
    let (ns, s) = synack_ns(&[]);
    let u = host_udp_socket(&ns, SocketAddrV4::new(SYNACK_IP.into(), 9999));
    // The port unreachable comes back as ECONNREFUSED on the connected
    // socket (RFC 1122 §4.1.3.3); a second try covers a lost first reply.
    let mut result = None;
    for _ in 0..3 {
        u.send(b"anyone there?").expect("send");
        let mut buf = [0u8; 64];
        match u.recv(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                result = Some(e);
                break;
            }
            other => eprintln!("no refusal yet: {other:?}"),
        }
    }
    assert!(result.is_some(), "no ECONNREFUSED\n--- synack:\n{}", s.output());
    let st = s.stats();
    assert!(st.dropped("udp_no_socket") >= 1, "{st:?}");
    assert!(st.counter("icmp_dest_unreach_tx") >= 1, "{st:?}");
}

#[test]
fn pcap_is_clean_in_tshark_and_matches_tcpdump() {
    if !interop_allowed("pcap_is_clean_in_tshark_and_matches_tcpdump") {
        return;
    }
    require_tool("tshark");
    require_tool("tcpdump");
    require_tool("nc");
    let ns = Netns::create();
    let dir = std::env::temp_dir().join(format!("{}-pcap", ns.name()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let _cleanup = RemoveDir(dir.clone());
    let pcap = dir.join("synack.pcap");
    let pcap_s = pcap.to_str().expect("utf-8 path");
    // Not quiet: stdout carries one tcpdump-style line per frame.
    let mut s = Synack::up(&ns, &["--pcap", pcap_s]);
    ping_ok(&ns, &s, &["-c", "2", "-i", "0.2", "-W", "2", "10.0.0.2"]);
    ping_ok(&ns, &s, &["-c", "1", "-W", "2", "-s", "4000", "10.0.0.2"]);
    let echo = ns.exec("sh", &["-c", "printf 'hi\\n' | nc -u -w1 10.0.0.2 7"], T);
    assert_eq!(echo.stdout, "hi\n", "{}", echo.text());
    let u = host_udp_socket(&ns, SocketAddrV4::new(SYNACK_IP.into(), 9999));
    let _ = u.send(b"closed");
    let _ = u.recv(&mut [0u8; 16]);
    assert!(s.stop().is_some_and(|st| st.success()), "synack did not exit cleanly:\n{}", s.output());

    // tshark, with every checksum check on: what is in the capture, and
    // no malformed frame, bad checksum or expert info at all.
    let mut cmd = std::process::Command::new("tshark");
    cmd.args(["-n", "-r", pcap_s, "-V"]);
    let out = synack_tests::run_bounded(cmd, Duration::from_secs(60)).expect("tshark runs");
    assert!(out.success(), "{}", out.text());
    assert!(out.stdout.contains("Echo (ping) reply"), "no ping replies in the capture:\n{}", out.stdout);
    assert!(out.stdout.contains("IPv4 Fragments ("), "no fragments in the capture");
    assert!(out.stdout.contains("Port unreachable"), "no port unreachable in the capture");
    tshark::report(&pcap).assert_clean("ping, fragments and UDP", &[]);

    // synack's own frame lines say what tcpdump -S says about the same frames.
    let mut cmd = std::process::Command::new("tcpdump");
    cmd.args(["-n", "-S", "-r", pcap_s]);
    let td = synack_tests::run_bounded(cmd, Duration::from_secs(30)).expect("tcpdump runs");
    assert!(td.success(), "{}", td.text());
    let theirs: Vec<&str> = td.stdout.lines().filter_map(|l| l.split_once(' ').map(|(_, rest)| rest)).collect();
    let lines = s.lines();
    let ours: Vec<&str> = lines
        .iter()
        .filter_map(|l| {
            let rest = l.trim_start();
            let (_time, rest) = rest.split_once(' ')?;
            rest.strip_prefix("< ").or_else(|| rest.strip_prefix("> "))
        })
        .collect();
    assert!(theirs.len() >= 10, "too few frames captured: {}", td.stdout);
    assert_eq!(ours, theirs, "synack's trace and tcpdump differ");
}

/// Removes a temporary directory on Drop.
struct RemoveDir(std::path::PathBuf);
impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ------------------------------------------------------------- bad input

/// Poll `stats()` until `done` holds (bounded), returning the last snapshot.
fn stats_until(s: &Synack, done: impl Fn(&StatsSnapshot) -> bool) -> StatsSnapshot {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let st = s.stats();
        if done(&st) || Instant::now() >= deadline {
            return st;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Inject `frames`, then check that each named drop counter grew by exactly
/// its amount, and that synack still answers the host's ping.
fn inject_class(ns: &Netns, s: &Synack, raw: &RawSocket, class: &str, frames: &[Vec<u8>], want: &[(&str, u64)]) {
    let before = s.stats();
    for f in frames {
        raw.send(f).unwrap_or_else(|e| panic!("{class}: send {} bytes: {e}", f.len()));
    }
    let after = stats_until(s, |st| want.iter().all(|&(r, n)| st.dropped(r) >= before.dropped(r) + n));
    for &(reason, n) in want {
        assert_eq!(
            after.dropped(reason) - before.dropped(reason),
            n,
            "{class}: {reason} should grow by {n}\nbefore {before:?}\nafter {after:?}"
        );
    }
    assert!(after.counter("frames_rx") >= before.counter("frames_rx") + frames.len() as u64, "{class}: frames_rx");
    let out = ns.exec("ping", &["-c", "1", "-W", "2", "10.0.0.2"], T);
    assert!(out.success(), "{class}: no ping reply afterwards:\n{}\n--- synack:\n{}", out.text(), s.output());
}

#[test]
fn bad_input_is_dropped_by_reason_and_synack_survives() {
    if !interop_allowed("bad_input_is_dropped_by_reason_and_synack_survives") {
        return;
    }
    require_tool("ping");
    let (ns, s) = synack_ns(&[]);
    let host = mac_of(&ns, "tap0");
    let raw = RawSocket::open(&ns, "tap0").expect("AF_PACKET socket on tap0");
    let ping = frames::ping_frame(host, 1);
    assert_eq!(ping.len(), 98);

    // Every prefix of a valid ping frame. The kernel refuses to send frames
    // shorter than the Ethernet header from a packet socket
    // (dev_validate_header: EINVAL below 14 bytes, CAP_SYS_RAWIO or not, for
    // Ethernet's min_header_len of 14), so eth_too_short cannot be reached
    // from the host: those lengths must fail to send, and the rest arrive.
    let before = s.stats();
    let mut refused = Vec::new();
    let mut sent = 0;
    for len in 0..ping.len() {
        match raw.send(&ping[..len]) {
            Ok(()) => sent += 1,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "length {len}: {e}");
                refused.push(len);
            }
        }
    }
    assert_eq!(refused, (0..14).collect::<Vec<_>>(), "the kernel refuses exactly the lengths below 14");
    // 14..=33: no room for an IPv4 header; 34..=97: total length 84 beyond the frame.
    let after = stats_until(&s, |st| st.counter("frames_rx") >= before.counter("frames_rx") + sent);
    let grew = |r: &str| after.dropped(r) - before.dropped(r);
    assert_eq!(grew("eth_too_short"), 0);
    assert_eq!(grew("ip_too_short"), 20, "{after:?}");
    assert_eq!(grew("ip_bad_total_length"), 64, "{after:?}");
    assert_eq!(after.counter("icmp_echo_replies_tx"), before.counter("icmp_echo_replies_tx"));
    let out = ns.exec("ping", &["-c", "1", "-W", "2", "10.0.0.2"], T);
    assert!(out.success(), "no ping reply after the truncation sweep:\n{}", out.text());

    let ip_frame = |ip: Vec<u8>| frames::eth(host, 0x0800, &ip);
    let echo = frames::echo_request(0x5a5a, 7, 56);

    let mut bad_sum = frames::ipv4(1, 100, 0, 64, &echo);
    bad_sum[10] ^= 0x5a;
    inject_class(&ns, &s, &raw, "bad IP checksum", &vec![ip_frame(bad_sum); 5], &[("ip_bad_checksum", 5)]);

    let mut ihl4 = frames::ipv4(1, 101, 0, 64, &echo);
    ihl4[0] = 0x44;
    frames::fix_ip_checksum(&mut ihl4);
    inject_class(&ns, &s, &raw, "IHL 4", &vec![ip_frame(ihl4); 3], &[("ip_bad_ihl", 3)]);

    let mut long = frames::ipv4(1, 102, 0, 64, &echo);
    long[2..4].copy_from_slice(&400u16.to_be_bytes());
    frames::fix_ip_checksum(&mut long);
    inject_class(
        &ns,
        &s,
        &raw,
        "total length beyond the frame",
        &vec![ip_frame(long); 3],
        &[("ip_bad_total_length", 3)],
    );

    let ttl0 = frames::ipv4(1, 103, 0, 0, &echo);
    inject_class(&ns, &s, &raw, "TTL 0", &vec![ip_frame(ttl0); 3], &[("ip_ttl_zero", 3)]);

    let arp = frames::arp_request(host);
    let mut bad_hw = arp.clone();
    bad_hw[1] = 6; // hardware type 6 (IEEE 802)
    let mut bad_op = arp.clone();
    bad_op[7] = 7;
    let arp_frame = |a: &[u8]| frames::eth(host, 0x0806, a);
    inject_class(&ns, &s, &raw, "ARP hardware type 6", &[arp_frame(&bad_hw)], &[("arp_bad_hardware", 1)]);
    inject_class(&ns, &s, &raw, "ARP opcode 7", &[arp_frame(&bad_op)], &[("arp_bad_opcode", 1)]);
    inject_class(&ns, &s, &raw, "ARP truncated", &[arp_frame(&arp[..20])], &[("arp_truncated", 1)]);

    // Overlapping fragments (RFC 5722's rule, applied to IPv4 as Linux does):
    // bytes 0..16 and then 8..24 of the same datagram.
    let data: Vec<u8> = (0..64).collect();
    let mf = 0x2000;
    let a = frames::ipv4(1, 104, mf, 64, &data[0..16]);
    let b = frames::ipv4(1, 104, mf | 1, 64, &data[8..24]);
    inject_class(&ns, &s, &raw, "overlapping fragments", &[ip_frame(a), ip_frame(b)], &[("frag_overlap", 1)]);

    // A last fragment at offset 65,520 with 64 bytes: past 65,535.
    let far = frames::ipv4(1, 105, 8190, 64, &data);
    inject_class(&ns, &s, &raw, "fragment past 65,535", &[ip_frame(far)], &[("frag_too_big", 1)]);
}
