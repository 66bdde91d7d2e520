//! Hostile input from the host side of a live `synack up`, each test in a
//! namespace of its own (the robustness issue, its interop half):
//!
//! 1. `every_malformed_class_is_dropped_by_name`: one representative frame
//!    per class of malformed input (Ethernet, ARP, IPv4 header, fragments,
//!    ICMP, UDP, TCP header, flags and options), sent with an `AF_PACKET`
//!    socket on the host's side of `tap0`; each class's named drop reason
//!    (or counter) grows by exactly what it should; synack keeps running,
//!    and the host's `ping` and `nc` to echo still work.
//! 2. `blind_rsts_and_syns_do_not_kill_a_session` (RFC 5961): an `nc`
//!    session to synack's echo is open; the test reads its 4-tuple from the
//!    host's `ss` and the sequence numbers from synack's own `ss`, and
//!    injects RSTs and SYNs with in-window and out-of-window sequence
//!    numbers, data beyond the window and an ACK of data never sent; the
//!    session still echoes, and `tcp_challenge_acks` counted.
//! 3. `syn_flood_with_spoofed_sources`: 200,000 SYNs from random spoofed
//!    sources (on-link addresses nobody answers for, and off-link ones
//!    routed to the host, which does not forward) as fast as a raw socket
//!    sends them, then 200,000 more paced to what the TAP carries, while
//!    the host's kernel TCP connects to echo again and again: each connect
//!    completes and echoes (under the paced flood in under 1 s, the median
//!    under 50 ms; under the unpaced one in under 2 s, at most one SYN
//!    retransmission: see the test's comment); `syncookies_sent` counts; RSS
//!    (VmRSS of /proc/PID/status) 3 s after is back within 10 % + 4 MB of
//!    the baseline taken before the floods.
//! 4. `arp_flood_from_spoofed_senders`: 30,000 ARP requests for synack's
//!    address from random spoofed senders (addresses of synack's /16, random
//!    MACs), paced to what the TAP carries, while the host pings synack and
//!    an `nc` session echoes a line every 100 ms: every ping is answered
//!    and every echo comes back, quickly; synack never has to ask for the
//!    host's MAC again (`arp_requests_tx` and `arp_unresolved` do not grow);
//!    the flood shows in `arp_rx`, `arp_replies_tx` and
//!    `arp_evicted_unused`; the host's entry is still REACHABLE; RSS stays
//!    within 10 % + 4 MB of the baseline.
//!
//! Figures are printed (`--nocapture`). Run as root (`tests/run.sh`).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stack::checksum::{checksum, transport_checksum};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use synack_tests::frames::{self, HOST_IP, SYNACK_IP};
use synack_tests::{
    interop_allowed, mac_of, require_tool, running, synack_ns, synack_ns_with_stdin, Netns, RawSocket, StatsSnapshot,
    Synack,
};

const T: Duration = Duration::from_secs(20);

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

// ------------------------------------------------------------- helpers

fn report(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// synack runs, answers `ping`, and `nc` to its echo gets its line back.
fn assert_alive(ns: &Netns, s: &Synack, what: &str) {
    synack_tests::assert_alive(ns, s, what);
    let out = ns.exec("sh", &["-c", "printf 'still there\\n' | nc -N -w 5 10.0.0.2 7"], T);
    assert_eq!(out.stdout, "still there\n", "{what}: nc to echo:\n{}\n--- synack:\n{}", out.text(), s.output());
}

/// VmRSS of `pid`, in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmRSS kB")
}

/// Poll `stats()` until `done` holds (bounded), returning the last snapshot.
fn stats_until(s: &Synack, timeout: Duration, done: impl Fn(&StatsSnapshot) -> bool) -> StatsSnapshot {
    let deadline = Instant::now() + timeout;
    loop {
        let st = s.stats();
        if done(&st) || Instant::now() >= deadline {
            return st;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// An IPv4 packet from `src` to synack (checksum right).
fn ipv4_from(src: [u8; 4], protocol: u8, ident: u16, payload: &[u8]) -> Vec<u8> {
    let mut ip = frames::ipv4(protocol, ident, 0, 64, payload);
    ip[12..16].copy_from_slice(&src);
    frames::fix_ip_checksum(&mut ip);
    ip
}

/// A TCP segment from `src` to synack, checksum right.
#[allow(clippy::too_many_arguments)]
fn tcp_from(src: [u8; 4], sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, opts: &[u8], data: &[u8]) -> Vec<u8> {
    let mut t = sport.to_be_bytes().to_vec();
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[(((20 + opts.len()) / 4) as u8) << 4, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    t.extend_from_slice(opts);
    t.extend_from_slice(data);
    fix_tcp_checksum(src, &mut t);
    t
}

fn fix_tcp_checksum(src: [u8; 4], t: &mut [u8]) {
    t[16] = 0;
    t[17] = 0;
    let c = transport_checksum(src.into(), SYNACK_IP.into(), 6, t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
}

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, opts: &[u8], data: &[u8]) -> Vec<u8> {
    tcp_from(HOST_IP, sport, dport, seq, ack, flags, opts, data)
}

fn udp(dport: u16, data: &[u8]) -> Vec<u8> {
    let len = (8 + data.len()) as u16;
    let mut u = 40000u16.to_be_bytes().to_vec();
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let c = transport_checksum(HOST_IP.into(), SYNACK_IP.into(), 17, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

/// What a class must do to the stats: each name grows by exactly its count
/// (drop reasons first looked up as drops, then as counters).
struct Class {
    name: &'static str,
    frames: Vec<Vec<u8>>,
    want: Vec<(&'static str, u64)>,
}

fn grew(before: &StatsSnapshot, after: &StatsSnapshot, name: &str) -> u64 {
    (after.dropped(name) + after.counter(name)) - (before.dropped(name) + before.counter(name))
}

// --------------------------------------------------------------- tests

#[test]
fn every_malformed_class_is_dropped_by_name() {
    if !interop_allowed("every_malformed_class_is_dropped_by_name") {
        return;
    }
    require_tool("ping");
    require_tool("nc");
    let (ns, s) = synack_ns(&[]);
    let host = mac_of(&ns, "tap0");
    let raw = RawSocket::open(&ns, "tap0").expect("AF_PACKET socket on tap0");
    let eth = |ip: Vec<u8>| frames::eth(host, 0x0800, &ip);
    let ip = |proto: u8, payload: &[u8]| eth(frames::ipv4(proto, 0x100, 0, 64, payload));
    let echo = frames::echo_request(0x5a5a, 7, 56);
    let good_ip = frames::ipv4(1, 0x200, 0, 64, &echo);
    let with_ip = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut h = good_ip.clone();
        f(&mut h);
        frames::fix_ip_checksum(&mut h);
        eth(h)
    };
    let arp = frames::arp_request(host);
    let with_arp = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut a = arp.clone();
        f(&mut a);
        frames::eth(host, 0x0806, &a)
    };
    let with_tcp = |mut t: Vec<u8>, f: &dyn Fn(&mut Vec<u8>)| {
        f(&mut t);
        fix_tcp_checksum(HOST_IP, &mut t);
        ip(6, &t)
    };
    let syn = |sport: u16, opts: &[u8]| tcp(sport, 7, 9_000, 0, SYN, opts, &[]);
    let data: Vec<u8> = (0..64).collect();
    let frag = |id: u16, off_flags: u16, d: &[u8]| eth(frames::ipv4(1, id, off_flags, 64, d));
    let mf = 0x2000;

    // The fragment that never completes goes first: its 30 s timer runs
    // while the other classes are checked.
    let t_never = Instant::now();
    let before_all = s.stats();
    raw.send(&frag(0x3333, mf, &data[..16])).expect("send the never-completed fragment");

    let classes = vec![
        // Ethernet. (Frames under 14 bytes: the kernel refuses to send them
        // from a packet socket, see interop_foundation.rs; over the MTU: so
        // does it, EMSGSIZE. Both classes are covered in stack/tests.)
        Class {
            name: "header only, IPv4",
            frames: vec![frames::eth(host, 0x0800, &[])],
            want: vec![("ip_too_short", 1)],
        },
        Class {
            name: "unknown EtherType",
            frames: vec![frames::eth(host, 0x88b5, &[0; 46])],
            want: vec![("eth_unknown_ethertype", 1)],
        },
        Class {
            name: "VLAN tag",
            frames: vec![frames::eth(host, 0x8100, &[0; 46])],
            want: vec![("eth_unknown_ethertype", 1)],
        },
        Class {
            name: "unicast to another MAC",
            frames: vec![{
                let mut f = eth(good_ip.clone());
                f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x99]);
                f
            }],
            want: vec![("eth_not_for_us", 1)],
        },
        // ARP.
        Class {
            name: "ARP truncated",
            frames: vec![frames::eth(host, 0x0806, &arp[..20])],
            want: vec![("arp_truncated", 1)],
        },
        Class {
            name: "ARP hardware type 6",
            frames: vec![with_arp(&|a| a[1] = 6)],
            want: vec![("arp_bad_hardware", 1)],
        },
        Class {
            name: "ARP protocol IPv6",
            frames: vec![with_arp(&|a| a[2] = 0x86)],
            want: vec![("arp_bad_protocol", 1)],
        },
        Class { name: "ARP opcode 7", frames: vec![with_arp(&|a| a[7] = 7)], want: vec![("arp_bad_opcode", 1)] },
        Class {
            name: "ARP sender claims our address",
            frames: vec![with_arp(&|a| a[14..18].copy_from_slice(&SYNACK_IP))],
            want: vec![("arp_bad_sender", 1)],
        },
        Class {
            name: "ARP sender broadcast MAC",
            frames: vec![with_arp(&|a| a[8..14].copy_from_slice(&[0xff; 6]))],
            want: vec![("arp_bad_sender", 1)],
        },
        Class {
            name: "ARP for someone else",
            frames: vec![with_arp(&|a| a[24..28].copy_from_slice(&[10, 0, 0, 77]))],
            want: vec![("arp_not_for_us", 1)],
        },
        // IPv4 header.
        Class {
            name: "IP header cut short",
            frames: vec![eth(good_ip[..12].to_vec())],
            want: vec![("ip_too_short", 1)],
        },
        Class { name: "IP version 6", frames: vec![with_ip(&|h| h[0] = 0x65)], want: vec![("ip_bad_version", 1)] },
        Class { name: "IHL 4", frames: vec![with_ip(&|h| h[0] = 0x44)], want: vec![("ip_bad_ihl", 1)] },
        Class {
            name: "IHL past the packet",
            frames: vec![eth({
                let mut h = frames::ipv4(1, 0x201, 0, 64, &echo[..8]);
                h[0] = 0x4f;
                frames::fix_ip_checksum(&mut h);
                h
            })],
            want: vec![("ip_bad_ihl", 1)],
        },
        Class {
            name: "IP bad checksum",
            frames: vec![eth({
                let mut h = good_ip.clone();
                h[10] ^= 0x5a;
                h
            })],
            want: vec![("ip_bad_checksum", 1)],
        },
        Class {
            name: "total length beyond the frame",
            frames: vec![with_ip(&|h| h[2..4].copy_from_slice(&400u16.to_be_bytes()))],
            want: vec![("ip_bad_total_length", 1)],
        },
        Class {
            name: "total length under the header",
            frames: vec![with_ip(&|h| h[2..4].copy_from_slice(&12u16.to_be_bytes()))],
            want: vec![("ip_bad_total_length", 1)],
        },
        Class { name: "TTL 0", frames: vec![with_ip(&|h| h[8] = 0)], want: vec![("ip_ttl_zero", 1)] },
        Class {
            name: "multicast source",
            frames: vec![with_ip(&|h| h[12..16].copy_from_slice(&[224, 0, 0, 1]))],
            want: vec![("ip_bad_source", 1)],
        },
        Class {
            name: "for another address",
            frames: vec![with_ip(&|h| h[16..20].copy_from_slice(&[10, 0, 0, 3]))],
            want: vec![("ip_not_for_us", 1)],
        },
        Class {
            name: "bad IP options",
            frames: [[0x44u8, 0, 0, 0], [0x07, 1, 0, 0], [0x83, 9, 0, 0]]
                .iter()
                .map(|opts| {
                    with_ip(&|h| {
                        h[0] = 0x46;
                        h[3] += 4;
                        h.splice(20..20, *opts);
                    })
                })
                .collect(),
            want: vec![("ip_bad_options", 3)],
        },
        Class {
            name: "unknown protocol 99",
            frames: vec![ip(99, b"whatever")],
            want: vec![("ip_unknown_protocol", 1)],
        },
        // Fragments.
        Class {
            name: "overlapping fragments",
            frames: vec![frag(0x3001, mf, &data[..16]), frag(0x3001, mf | 1, &data[8..24])],
            want: vec![("frag_overlap", 1)],
        },
        Class {
            name: "duplicate fragment",
            frames: vec![frag(0x3002, mf, &data[..16]), frag(0x3002, mf, &data[..16])],
            want: vec![("frag_duplicate", 1)],
        },
        Class {
            name: "fragment past 65,535 bytes",
            frames: vec![frag(0x3003, 8190, &data)],
            want: vec![("frag_too_big", 1)],
        },
        Class {
            name: "middle fragment not a multiple of 8",
            frames: vec![frag(0x3004, mf, &data[..30])],
            want: vec![("frag_bad_length", 1)],
        },
        // ICMP.
        Class { name: "ICMP truncated", frames: vec![ip(1, &[8, 0, 0])], want: vec![("icmp_too_short", 1)] },
        Class {
            name: "ICMP bad checksum",
            frames: vec![ip(1, &{
                let mut m = echo.clone();
                m[10] ^= 1;
                m
            })],
            want: vec![("icmp_bad_checksum", 1)],
        },
        Class {
            name: "ICMP type 42",
            frames: vec![ip(1, &{
                let mut m = vec![42, 0, 0, 0, 0, 0, 0, 0];
                let c = checksum(&m);
                m[2..4].copy_from_slice(&c.to_be_bytes());
                m
            })],
            want: vec![("icmp_unhandled_type", 1)],
        },
        // UDP.
        Class { name: "UDP truncated", frames: vec![ip(17, &[0x9c, 0x40, 0, 7])], want: vec![("udp_too_short", 1)] },
        Class {
            name: "UDP length beyond the datagram",
            frames: vec![ip(17, &{
                let mut u = udp(7, b"hello");
                u[5] = 200;
                u
            })],
            want: vec![("udp_bad_length", 1)],
        },
        Class {
            name: "UDP length under its header",
            frames: vec![ip(17, &{
                let mut u = udp(7, b"hello");
                u[5] = 7;
                u
            })],
            want: vec![("udp_bad_length", 1)],
        },
        Class {
            name: "UDP bad checksum",
            frames: vec![ip(17, &{
                let mut u = udp(7, b"hello");
                u[9] ^= 1;
                u
            })],
            want: vec![("udp_bad_checksum", 1)],
        },
        Class {
            name: "UDP to a closed port",
            frames: vec![ip(17, &udp(9999, b"x"))],
            want: vec![("udp_no_socket", 1)],
        },
        // TCP header, flags, options (to echo's listener unless said).
        Class { name: "TCP truncated", frames: vec![ip(6, &syn(41001, &[])[..19])], want: vec![("tcp_too_short", 1)] },
        Class {
            name: "TCP data offset 4",
            frames: vec![with_tcp(syn(41002, &[]), &|t| t[12] = 0x40)],
            want: vec![("tcp_bad_data_offset", 1)],
        },
        Class {
            name: "TCP data offset past the segment",
            frames: vec![with_tcp(syn(41003, &[]), &|t| t[12] = 0xf0)],
            want: vec![("tcp_bad_data_offset", 1)],
        },
        Class {
            name: "TCP bad checksum",
            frames: vec![ip(6, &{
                let mut t = syn(41004, &[]);
                t[17] ^= 1;
                t
            })],
            want: vec![("tcp_bad_checksum", 1)],
        },
        Class {
            name: "SYN+FIN",
            frames: vec![ip(6, &tcp(41005, 7, 1, 0, SYN | FIN, &[], &[]))],
            want: vec![("tcp_bad_flags", 1)],
        },
        Class {
            name: "SYN+RST",
            frames: vec![ip(6, &tcp(41006, 7, 1, 0, SYN | RST, &[], &[]))],
            want: vec![("tcp_bad_flags", 1)],
        },
        Class {
            name: "no flags",
            frames: vec![ip(6, &tcp(41007, 7, 1, 0, 0, &[], b"x"))],
            want: vec![("tcp_listen_not_syn", 1)],
        },
        Class {
            name: "TCP option length 0",
            frames: vec![ip(6, &syn(41008, &[8, 0, 0, 0]))],
            want: vec![("tcp_bad_options", 1)],
        },
        Class {
            name: "TCP option length 1",
            frames: vec![ip(6, &syn(41009, &[30, 1, 0, 0]))],
            want: vec![("tcp_bad_options", 1)],
        },
        Class {
            name: "TCP option past the header",
            frames: vec![ip(6, &syn(41010, &[2, 8, 5, 0xb4]))],
            want: vec![("tcp_bad_options", 1)],
        },
        Class {
            name: "MSS option of length 3",
            frames: vec![ip(6, &syn(41011, &[2, 3, 5, 0]))],
            want: vec![("tcp_bad_options", 1)],
        },
        // Answered as RFC 9293 and RFC 7323 say (a SYN-ACK the host's kernel
        // then resets), and counted.
        Class {
            name: "MSS 0",
            frames: vec![ip(6, &syn(41012, &[2, 4, 0, 0]))],
            want: vec![("tcp_opt_mss_zero_ignored", 1)],
        },
        Class {
            name: "window scale 15",
            frames: vec![ip(6, &syn(41013, &[1, 3, 3, 15]))],
            want: vec![("tcp_opt_wscale_clamped", 1)],
        },
        Class {
            name: "SYN to a closed port",
            frames: vec![ip(6, &tcp(41014, 4444, 1, 0, SYN, &[], &[]))],
            want: vec![("tcp_no_socket", 1)],
        },
        Class {
            name: "RST to a listener",
            frames: vec![ip(6, &tcp(41015, 7, 1, 0, RST, &[], &[]))],
            want: vec![("tcp_rst_invalid", 1)],
        },
        Class {
            name: "ACK to a listener (no cookie)",
            frames: vec![ip(6, &tcp(41016, 7, 1, 99, ACK, &[], &[]))],
            want: vec![("tcp_listen_not_syn", 1)],
        },
    ];
    assert!(classes.len() >= 45, "{} classes", classes.len());
    let mut checked = Vec::new();
    for c in &classes {
        let before = s.stats();
        for f in &c.frames {
            raw.send(f).unwrap_or_else(|e| panic!("{}: send {} bytes: {e}", c.name, f.len()));
        }
        let after =
            stats_until(&s, Duration::from_secs(5), |st| c.want.iter().all(|&(r, n)| grew(&before, st, r) >= n));
        for &(reason, n) in &c.want {
            assert_eq!(grew(&before, &after, reason), n, "{}: {reason}\nbefore {before:?}\nafter {after:?}", c.name);
            checked.push(reason);
        }
        assert!(running(s.pid()), "{}: synack exited:\n{}", c.name, s.output());
    }
    assert_alive(&ns, &s, "after every class");

    // The fragment that never completed: dropped when its 30 s are up.
    let left = Duration::from_secs(40).saturating_sub(t_never.elapsed());
    let after = stats_until(&s, left, |st| st.dropped("frag_timeout") > before_all.dropped("frag_timeout"));
    assert!(
        after.dropped("frag_timeout") > before_all.dropped("frag_timeout"),
        "the never-completed fragment did not time out: {after:?}"
    );
    checked.push("frag_timeout");
    checked.sort();
    checked.dedup();
    report(&format!(
        "hostile: {} classes, {} named reasons counted ({}); frag_timeout after {:.1} s",
        classes.len() + 1,
        checked.len(),
        checked.join(" "),
        t_never.elapsed().as_secs_f64()
    ));
    assert_alive(&ns, &s, "at the end");
}

// ------------------------------------------------------- RFC 5961 session

/// `nc` with piped stdin and stdout, killed by PID on Drop.
struct Nc {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Nc {
    fn spawn(ns: &Netns, args: &[&str]) -> Nc {
        let mut cmd = ns.command("nc", args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn nc");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("piped");
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let o = out.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                o.lock().expect("out").extend_from_slice(&buf[..n]);
            }
        });
        Nc { child, stdin, out }
    }

    /// Write `line`, wait (bounded) until it has come back (echo).
    fn echo(&mut self, line: &str) -> bool {
        let start = self.out.lock().expect("out").len();
        let w = self.stdin.as_mut().expect("stdin");
        if w.write_all(format!("{line}\n").as_bytes()).and_then(|()| w.flush()).is_err() {
            return false;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let got = self.out.lock().expect("out")[start..].to_vec();
            if got == format!("{line}\n").as_bytes() {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Nc {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `word:N` in `line`.
fn field(line: &str, word: &str) -> Option<u32> {
    line.split_whitespace().find_map(|w| w.strip_prefix(word)?.strip_prefix(':')?.parse().ok())
}

#[test]
fn blind_rsts_and_syns_do_not_kill_a_session() {
    if !interop_allowed("blind_rsts_and_syns_do_not_kill_a_session") {
        return;
    }
    require_tool("nc");
    require_tool("ss");
    let (ns, mut s) = synack_ns_with_stdin(&[]);
    let host = mac_of(&ns, "tap0");
    let raw = RawSocket::open(&ns, "tap0").expect("AF_PACKET socket on tap0");
    let mut nc = Nc::spawn(&ns, &["10.0.0.2", "7"]);
    assert!(nc.echo("hello before"), "the session does not echo to begin with:\n{}", s.output());

    // The 4-tuple, from the host's side: its port.
    let ss = ns.exec("ss", &["-tni", "dst", "10.0.0.2:7"], T);
    let sport: u16 = ss
        .stdout
        .lines()
        .find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.first() == Some(&"ESTAB")).then(|| w[3].rsplit_once(':')?.1.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("no ESTAB line in ss:\n{}", ss.text()));
    // The sequence numbers, from synack's `ss`: its RCV.NXT is the host's
    // SND.NXT; its SND.NXT what the host acknowledges.
    let from = s.lines().len();
    s.send_line("ss");
    let at = s.wait_for(from, T, |l| l.contains(&format!("10.0.0.1:{sport}"))).expect("synack's ss shows the session");
    let info = s.wait_for(at, T, |l| l.contains("rcv_nxt:")).map(|i| s.lines()[i].clone()).expect("ss info line");
    let (rcv_nxt, snd_nxt) = (field(&info, "rcv_nxt").expect("rcv_nxt"), field(&info, "snd_nxt").expect("snd_nxt"));
    report(&format!("rfc5961: session 10.0.0.1:{sport} -> 10.0.0.2:7, host snd {rcv_nxt}, synack snd {snd_nxt}"));

    let seg = |seq: u32, ack: u32, flags: u8, data: &[u8]| {
        frames::eth(host, 0x0800, &frames::ipv4(6, 0x500, 0, 64, &tcp(sport, 7, seq, ack, flags, &[], data)))
    };
    let before = s.stats();
    let attacks: Vec<(&str, Vec<u8>)> = vec![
        ("RST in the window, not exact", seg(rcv_nxt.wrapping_add(1000), 0, RST, &[])),
        ("RST in the window, with ACK", seg(rcv_nxt.wrapping_add(20_000), snd_nxt, RST | ACK, &[])),
        ("RST beyond the window", seg(rcv_nxt.wrapping_add(1 << 30), 0, RST, &[])),
        ("RST before the window", seg(rcv_nxt.wrapping_sub(1 << 20), 0, RST, &[])),
        ("SYN in the window", seg(rcv_nxt.wrapping_add(500), 0, SYN, &[])),
        ("SYN beyond the window", seg(rcv_nxt.wrapping_add(1 << 30), 0, SYN, &[])),
        ("SYN at RCV.NXT", seg(rcv_nxt, 0, SYN, &[])),
        ("data beyond the window", seg(rcv_nxt.wrapping_add(1 << 30), snd_nxt, ACK | PSH, b"spoofed\n")),
        ("ACK of data never sent", seg(rcv_nxt, snd_nxt.wrapping_add(100_000), ACK | PSH, b"spoofed\n")),
        ("ACK older than the window", seg(rcv_nxt, snd_nxt.wrapping_sub(1 << 30), ACK | PSH, b"spoofed\n")),
    ];
    for (what, f) in &attacks {
        raw.send(f).unwrap_or_else(|e| panic!("{what}: {e}"));
        thread::sleep(Duration::from_millis(20));
    }
    let after = stats_until(&s, Duration::from_secs(5), |st| {
        st.counter("tcp_challenge_acks") + st.counter("tcp_challenge_ack_limited")
            >= before.counter("tcp_challenge_acks") + 3
    });
    let g = |n: &str| grew(&before, &after, n);
    report(&format!(
        "rfc5961: {} attacks; challenge ACKs {} (limited {}), rst_invalid {}, syn_in_window {}, \
         seq_not_acceptable {}, ack_unsent {}, ack_old {}",
        attacks.len(),
        g("tcp_challenge_acks"),
        g("tcp_challenge_ack_limited"),
        g("tcp_rst_invalid"),
        g("tcp_syn_in_window"),
        g("tcp_seq_not_acceptable"),
        g("tcp_ack_unsent_data"),
        g("tcp_ack_old")
    ));
    assert!(g("tcp_challenge_acks") >= 3, "challenge ACKs: {after:?}");
    assert!(g("tcp_rst_invalid") >= 2, "{after:?}");
    assert!(g("tcp_syn_in_window") >= 2, "{after:?}");
    assert!(g("tcp_seq_not_acceptable") >= 2, "{after:?}");
    assert_eq!(g("tcp_ack_unsent_data"), 1, "{after:?}");
    assert_eq!(g("tcp_rst_tx"), 0, "synack reset something: {after:?}");

    // The session took none of it: data flows both ways, nothing spoofed arrived.
    for i in 0..5 {
        let line = format!("hello after {i}");
        assert!(nc.echo(&line), "the session died after the attacks:\n{}", s.output());
    }
    let got = String::from_utf8_lossy(&nc.out.lock().expect("out")).into_owned();
    assert!(!got.contains("spoofed"), "spoofed data reached the application: {got:?}");
    let ss = ns.exec("ss", &["-tn", "state", "established", "dst", "10.0.0.2:7"], T);
    assert!(ss.stdout.contains(&format!(":{sport}")), "host's socket gone: {}", ss.text());
    assert_alive(&ns, &s, "after blind attacks");
}

// ------------------------------------------------------------- SYN flood

const FLOOD: usize = 200_000;

/// One spoofed SYN to synack's echo: random source (on-link 10.0.x.y of
/// synack's /16, which nobody answers ARP for: far more than its neighbour
/// table holds; or off-link 10.1.x.y, which synack routes to the host's
/// kernel, which does not forward), random port, sequence number.
fn spoofed_syn(rng: &mut rand::rngs::StdRng, host: [u8; 6], ident: u16) -> Vec<u8> {
    let src =
        if rng.gen_bool(0.5) { [10, 0, rng.gen(), rng.gen_range(3..=254)] } else { [10, 1, rng.gen(), rng.gen()] };
    let sport = rng.gen_range(1024..=65535);
    let opts = [2, 4, 5, 0xb4, 1, 3, 3, 7];
    let t = tcp_from(src, sport, 7, rng.gen(), 0, SYN, &opts, &[]);
    frames::eth(host, 0x0800, &ipv4_from(src, 6, ident, &t))
}

/// What one flood did.
struct Flood {
    sent: usize,
    refused: usize,
    took: Duration,
    /// The host's connect times to echo during the flood.
    connects: Vec<Duration>,
    /// Frames the TAP dropped on the way to synack (its queue was full).
    device_drops: u64,
    before: StatsSnapshot,
    after: StatsSnapshot,
}

/// tap0's tx_dropped on the host's side: frames the kernel dropped because
/// synack's queue on the TAP was full (synack never saw them).
fn tap_drops(ns: &Netns) -> u64 {
    let out = ns.exec("cat", &["/sys/class/net/tap0/statistics/tx_dropped"], T);
    out.stdout.trim().parse().unwrap_or(0)
}

/// Send FLOOD spoofed SYNs from a thread, in bursts of `burst` every
/// `gap` (zero: no pause, as fast as the raw socket sends), while the
/// host's kernel TCP connects to echo and talks, again and again.
fn flood(ns: &Netns, s: &Synack, host: [u8; 6], seed: u64, burst: usize, gap: Duration) -> Flood {
    let raw = RawSocket::open(ns, "tap0").expect("AF_PACKET socket on tap0");
    let before = s.stats();
    let drops0 = tap_drops(ns);
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let sender = thread::spawn(move || {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let t0 = Instant::now();
        let (mut sent, mut refused) = (0usize, 0usize);
        let mut i = 0;
        // Bounded: FLOOD frames, never past 60 s. A refused send (ENOBUFS)
        // is a lost SYN, never retried.
        while i < FLOOD && t0.elapsed() < Duration::from_secs(60) {
            for _ in 0..burst.min(FLOOD - i) {
                match raw.send(&spoofed_syn(&mut rng, host, i as u16)) {
                    Ok(()) => sent += 1,
                    Err(_) => refused += 1,
                }
                i += 1;
            }
            if !gap.is_zero() {
                thread::sleep(gap);
            }
        }
        d.store(true, Ordering::Relaxed);
        (sent, refused, t0.elapsed())
    });
    let mut connects = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while (!done.load(Ordering::Relaxed) || connects.is_empty()) && connects.len() < 40 && Instant::now() < deadline {
        let t = Instant::now();
        let r = ns.run_in(move || {
            let to: SocketAddr = "10.0.0.2:7".parse().expect("addr");
            let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
            let took = t.elapsed();
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            c.write_all(b"through the flood\n")?;
            let mut got = [0u8; 18];
            c.read_exact(&mut got)?;
            Ok((took, got == *b"through the flood\n"))
        });
        let (took, echoed) = r.unwrap_or_else(|e| panic!("connect during the flood: {e}\n{}", s.output()));
        assert!(echoed, "echo during the flood gave something else");
        connects.push(took);
        thread::sleep(Duration::from_millis(50));
    }
    let (sent, refused, took) = sender.join().expect("flood thread");
    let after = s.stats();
    Flood { sent, refused, took, connects, device_drops: tap_drops(ns) - drops0, before, after }
}

impl Flood {
    fn report(&self, what: &str) {
        let g = |n: &str| grew(&self.before, &self.after, n);
        let slow = self.connects.iter().filter(|d| **d >= Duration::from_secs(1)).count();
        let worst = self.connects.iter().max().copied().unwrap_or_default();
        report(&format!(
            "syn flood, {what}: {} SYNs sent ({} refused) in {:.2} s = {:.0}/s; the TAP dropped {} (queue full); \
             synack: tcp_rx +{}, syncookies_sent +{}, tcp_syn_queue_full +{}, arp_pending_queue_full +{}, \
             frames_tx +{}; {} host connects during it, {} of them 1 s or more, slowest {:.1} ms",
            self.sent,
            self.refused,
            self.took.as_secs_f64(),
            self.sent as f64 / self.took.as_secs_f64(),
            self.device_drops,
            g("tcp_rx"),
            g("syncookies_sent"),
            g("tcp_syn_queue_full"),
            g("arp_pending_queue_full"),
            g("frames_tx"),
            self.connects.len(),
            slow,
            worst.as_secs_f64() * 1000.0
        ));
    }
}

/// Two floods of 200,000 spoofed SYNs each. First as fast as the host
/// side sends them (about 200,000-500,000 a second here): more than synack
/// reads from the TAP on a shared core (~150,000), so the kernel drops part
/// of the flood at the TAP's queue, and with it, at times, the host's own
/// SYN, which its kernel sends again after 1 s: a flood of the link, which
/// no SYN-queue defence can help. Asserted: cookies answer, every connect
/// completes with at most one SYN retransmission (under 2 s), synack
/// survives (under 4 s if the flood itself lasted 0.9 s or more). Then
/// paced to what the TAP carries (bursts of 200 every 4 ms,
/// at most 50,000 a second): every connect during it completes in under
/// 1 s, the median under 50 ms. Afterwards RSS is back within 10 % + 4 MB
/// of the baseline taken before the floods.
#[test]
fn syn_flood_with_spoofed_sources() {
    if !interop_allowed("syn_flood_with_spoofed_sources") {
        return;
    }
    require_tool("nc");
    // A /16: the spoofed on-link sources are 65,000 addresses, each a
    // neighbour to resolve, against a table of 256.
    let (ns, s) = synack_ns(&["--addr", "10.0.0.2/16", "--host-addr", "10.0.0.1/16"]);
    let host = mac_of(&ns, "tap0");
    // Warm up (a connection, a ping), then the baseline.
    assert_alive(&ns, &s, "before the flood");
    thread::sleep(Duration::from_millis(500));
    let rss0 = rss_kb(s.pid());

    let full = flood(&ns, &s, host, 0xf100d, FLOOD, Duration::ZERO);
    full.report("unpaced");
    assert!(full.sent >= FLOOD / 2, "the host side could send only {} of {FLOOD}", full.sent);
    assert!(grew(&full.before, &full.after, "syncookies_sent") > 1000, "no SYN cookies: {:?}", full.after);
    // Unpaced, the flood may be over in under half a second, and a host SYN
    // the TAP queue dropped costs its 1 s retransmission: one connect is
    // all that fits for sure (the paced flood below asks for ten). A flood
    // faster than synack answers (~150,000 SYNs a second on a shared core)
    // keeps the TAP's queue full, and whatever arrives while it is full is
    // dropped by the host's kernel before synack can see it, the host's
    // SYN too: that first SYN may be lost; its retransmission 1 s later,
    // when the flood is over or synack has drained the queue
    // (`TAP_TXQUEUELEN`, 4096 frames, ~27 ms), never is: no connect needs
    // the second retransmission (3 s). Unless the flood itself lasts
    // that long (a slow flood on a busy machine: 1.2 s seen): then the
    // retransmission may meet it too, and 4 s is the bound. (Before the
    // neighbour table's batched forced GC, synack answered ~75,000 a second.)
    assert!(!full.connects.is_empty(), "no connect during the flood");
    let bound = if full.took < Duration::from_millis(900) { Duration::from_secs(2) } else { Duration::from_secs(4) };
    assert!(
        full.connects.iter().all(|d| *d < bound),
        "a connect took {bound:?} or more during a flood of {:?} (the TAP dropped {}): {:?}",
        full.took,
        full.device_drops,
        full.connects
    );
    assert_alive(&ns, &s, "after the unpaced flood");

    let paced = flood(&ns, &s, host, 0xbeef, 200, Duration::from_millis(4));
    paced.report("paced");
    assert!(grew(&paced.before, &paced.after, "syncookies_sent") > 1000, "no SYN cookies: {:?}", paced.after);
    assert!(paced.connects.len() >= 10, "only {} connects during the flood", paced.connects.len());
    let worst = paced.connects.iter().max().copied().unwrap_or_default();
    assert!(
        worst < Duration::from_secs(1),
        "a connect took {worst:?} during the paced flood (the TAP dropped {}): {:?}",
        paced.device_drops,
        paced.connects
    );
    // The target: the median connect under 50 ms (here ~1-5 ms).
    let mut sorted = paced.connects.clone();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    assert!(median < Duration::from_millis(50), "median connect {median:?} during the paced flood: {sorted:?}");

    // Afterwards: memory back near the baseline.
    thread::sleep(Duration::from_secs(3));
    assert_alive(&ns, &s, "after the floods");
    let rss1 = rss_kb(s.pid());
    report(&format!(
        "syn flood: VmRSS {rss0} kB before, {rss1} kB 3 s after both ({:+.1} %)",
        (rss1 as f64 - rss0 as f64) * 100.0 / rss0 as f64
    ));
    assert!(rss1 <= rss0 + rss0 / 10 + 4096, "RSS grew from {rss0} kB to {rss1} kB");
}

// ------------------------------------------------------------- ARP flood

const ARP_FLOOD: usize = 30_000;

/// An ARP request for synack's address from a random spoofed sender: an
/// address of synack's /16 outside 10.0.0.x (so never the host's or
/// synack's), and a random unicast, locally administered MAC, which is
/// also the frame's Ethernet source.
fn spoofed_arp_request(rng: &mut StdRng) -> Vec<u8> {
    let mut mac: [u8; 6] = rng.gen();
    mac[0] = (mac[0] & 0xfc) | 0x02;
    let mut a = frames::arp_request(mac);
    a[14..18].copy_from_slice(&[10, 0, rng.gen_range(1..=255), rng.gen_range(1..=254)]);
    frames::eth(mac, 0x0806, &a)
}

/// `time=0.123 ms` of each reply in `ping`'s output, and its
/// "N packets transmitted, M received" line.
fn ping_figures(out: &str) -> (Vec<f64>, Option<(u32, u32)>) {
    let times =
        out.lines().filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("time=")?.parse().ok())).collect();
    let counts = out.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        let tx = w.iter().position(|x| x.starts_with("transmitted"))?;
        let rx = w.iter().position(|x| x.starts_with("received"))?;
        Some((w.get(tx.checked_sub(2)?)?.parse().ok()?, w.get(rx.checked_sub(1)?)?.parse().ok()?))
    });
    (times, counts)
}

/// A flood of ARP requests for synack's address from spoofed senders
/// (RFC 826 makes synack remember each requester) must not push the host's
/// entry, which synack sends to all the time, out of its neighbour table of
/// 256: the host's ping and its `nc` session go on as if nothing happened,
/// and synack never has to resolve the host again.
#[test]
fn arp_flood_from_spoofed_senders() {
    if !interop_allowed("arp_flood_from_spoofed_senders") {
        return;
    }
    require_tool("ping");
    require_tool("nc");
    // A /16: 65,000 possible senders against a table of 256.
    let (ns, mut s) = synack_ns_with_stdin(&["--addr", "10.0.0.2/16", "--host-addr", "10.0.0.1/16"]);
    let mut nc = Nc::spawn(&ns, &["10.0.0.2", "7"]);
    assert!(nc.echo("before the flood"), "the session does not echo to begin with:\n{}", s.output());
    thread::sleep(Duration::from_millis(300));
    let rss0 = rss_kb(s.pid());
    let before = s.stats();
    let drops0 = tap_drops(&ns);
    let raw = RawSocket::open(&ns, "tap0").expect("AF_PACKET socket on tap0");

    let (ping, echoes, (sent, refused, took)) = thread::scope(|sc| {
        // 50 pings, 40 ms apart (2 s): from before the flood to after it.
        let ping = sc.spawn(|| ns.exec("ping", &["-n", "-i", "0.04", "-c", "50", "-W", "1", "10.0.0.2"], T));
        thread::sleep(Duration::from_millis(200));
        // Bursts of 100 every 4 ms: at most 25,000 a second, which the TAP
        // carries (see the SYN flood), so what is lost is synack's doing.
        let flood = sc.spawn(|| {
            let mut rng = StdRng::seed_from_u64(0xa4b);
            let t0 = Instant::now();
            let (mut sent, mut refused) = (0usize, 0usize);
            while sent + refused < ARP_FLOOD && t0.elapsed() < Duration::from_secs(30) {
                for _ in 0..100.min(ARP_FLOOD - sent - refused) {
                    match raw.send(&spoofed_arp_request(&mut rng)) {
                        Ok(()) => sent += 1,
                        Err(_) => refused += 1,
                    }
                }
                thread::sleep(Duration::from_millis(4));
            }
            (sent, refused, t0.elapsed())
        });
        // The session: a line every 100 ms while the flood lasts.
        let mut echoes = Vec::new();
        while !flood.is_finished() {
            let t = Instant::now();
            let ok = nc.echo(&format!("through the flood {}", echoes.len()));
            echoes.push((ok, t.elapsed()));
            thread::sleep(Duration::from_millis(100));
        }
        (ping.join().expect("ping thread"), echoes, flood.join().expect("flood thread"))
    });
    let after =
        stats_until(&s, Duration::from_secs(5), |st| st.counter("arp_rx") >= before.counter("arp_rx") + sent as u64);
    let device_drops = tap_drops(&ns) - drops0;
    let rss1 = rss_kb(s.pid());
    let g = |n: &str| grew(&before, &after, n);

    let (times, counts) = ping_figures(&ping.stdout);
    let worst_ping = times.iter().copied().fold(0.0, f64::max);
    let worst_echo = echoes.iter().map(|e| e.1).max().unwrap_or_default();
    report(&format!(
        "arp flood: {sent} requests sent ({refused} refused) in {:.2} s = {:.0}/s; the TAP dropped {device_drops}; \
         synack: arp_rx +{}, arp_replies_tx +{}, arp_evicted_unused +{}, arp_evicted_unresolved +{}, \
         arp_evicted_idle +{}, arp_sender_not_cached +{}, arp_requests_tx +{}, arp_unresolved +{}; \
         ping {:?} (transmitted, received), slowest {worst_ping:.2} ms; {} echoes, slowest {:.1} ms; \
         VmRSS {rss0} kB before, {rss1} kB after",
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64(),
        g("arp_rx"),
        g("arp_replies_tx"),
        g("arp_evicted_unused"),
        g("arp_evicted_unresolved"),
        g("arp_evicted_idle"),
        g("arp_sender_not_cached"),
        g("arp_requests_tx"),
        g("arp_unresolved"),
        counts,
        echoes.len(),
        worst_echo.as_secs_f64() * 1000.0
    ));

    // The host's traffic went on: every ping answered, every echo back, none slow.
    let (tx, rx) = counts.unwrap_or_else(|| panic!("no summary in ping's output:\n{}", ping.text()));
    assert!(tx >= 40 && rx == tx, "pings lost during the ARP flood:\n{}\n--- synack:\n{}", ping.text(), s.output());
    assert!(worst_ping < 200.0, "a ping took {worst_ping} ms during the ARP flood:\n{}", ping.stdout);
    assert!(echoes.len() >= 5, "only {} echoes during the flood", echoes.len());
    assert!(echoes.iter().all(|e| e.0), "an echo did not come back during the ARP flood: {echoes:?}");
    assert!(worst_echo < Duration::from_millis(500), "an echo took {worst_echo:?}: {echoes:?}");
    // synack never had to resolve the host again: no request sent, nothing
    // waiting for a reply dropped.
    assert_eq!(g("arp_requests_tx"), 0, "synack re-resolved a neighbour during the flood: {after:?}");
    assert_eq!(g("arp_unresolved"), 0, "{after:?}");
    // The flood reached synack, was answered, and churned through the table.
    assert!(sent >= ARP_FLOOD * 9 / 10, "the host side could send only {sent} of {ARP_FLOOD}");
    assert!(g("arp_rx") + device_drops >= sent as u64, "{after:?}");
    assert!(g("arp_replies_tx") + device_drops >= sent as u64, "{after:?}");
    // Each sender not in the table already (all but a few: they are
    // random) pushed out one that was never used.
    assert!(g("arp_evicted_unused") >= sent as u64 * 9 / 10, "{after:?}");
    assert!(rss1 <= rss0 + rss0 / 10 + 4096, "RSS grew from {rss0} kB to {rss1} kB");
    // The host's entry is still there, confirmed.
    let from = s.lines().len();
    s.send_line("arp");
    let at = s.wait_for(from, T, |l| l.starts_with("10.0.0.1 ")).expect("the host in synack's arp table");
    assert!(s.lines()[at].contains("REACHABLE"), "{}", s.lines()[at]);
    assert!(nc.echo("after the flood"), "the session died:\n{}", s.output());
    assert_alive(&ns, &s, "after the ARP flood");
}
