//! The teaching tools on two whole stacks: scripted faults (`Sim::scripted`,
//! `Scripted`), the run-time TCP tunables (`Stack::set_tcp_config`) and the
//! RFC-cited trace.
//!
//! A connects to B's sink on port 5000, sends a known byte pattern and
//! closes; B reads everything and closes when A's FIN arrives. Each side's
//! port records every frame its stack sends and receives (a `Tracer`
//! outside the `Scripted` device), so a test can compare what a stack sent
//! with what the other stack got.

use device::{Device, Direction, FaultLog, FaultScript, Faults, Scripted, Side, Sim, Tracer, Wire};
use stack::{Config, Counter, DropReason, Duration, Instant, MacAddr, MsgFlags, Shutdown, SockType, Stack};
use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 5000;

fn config(ip: Ipv4Addr, last: u8, seed: u64) -> Config {
    Config { addr: ip, prefix_len: 24, gateway: None, mac: MacAddr([2, 0, 0, 0, 0, last]), seed, ..Config::default() }
}

/// Frames a stack sent and received, in order: (direction, time, bytes).
type Frames = Rc<RefCell<Vec<(Direction, Instant, Vec<u8>)>>>;

struct Lab {
    sim: Sim,
    frames: [Frames; 2],
    logs: [FaultLog; 2],
    /// What B's sink has read.
    got: Rc<RefCell<Vec<u8>>>,
    /// B's sink saw end of stream.
    eof: Rc<RefCell<bool>>,
}

fn port(wire: &Wire, side: Side, script: &str) -> (Box<dyn Device>, Frames, FaultLog) {
    let dev = Scripted::new(wire.port(side), FaultScript::parse(script).unwrap());
    let log = dev.log();
    let frames: Frames = Rc::default();
    let rec = frames.clone();
    let dev = Tracer::new(dev, move |dir, now, f: &[u8]| rec.borrow_mut().push((dir, now, f.to_vec())));
    (Box::new(dev), frames, log)
}

/// Two stacks on a wire with 1 ms latency, each port behind a script; B
/// runs the sink on port 5000.
fn lab_with(script_a: &str, script_b: &str, tune: impl Fn(&mut Config)) -> Lab {
    let wire = Wire::new(Faults { latency: Duration::from_millis(1), ..Faults::default() });
    let (dev_a, fa, la) = port(&wire, Side::A, script_a);
    let (dev_b, fb, lb) = port(&wire, Side::B, script_b);
    let (mut ca, mut cb) = (config(A_IP, 1, 11), config(B_IP, 2, 22));
    tune(&mut ca);
    tune(&mut cb);
    let mut sim = Sim::with_devices(ca, dev_a, cb, dev_b, Instant::ZERO);
    let got: Rc<RefCell<Vec<u8>>> = Rc::default();
    let eof = Rc::new(RefCell::new(false));
    let b = sim.stack(Side::B);
    let l = b.socket(SockType::Stream).unwrap();
    b.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).unwrap();
    b.listen(l, 4).unwrap();
    let (g, e) = (got.clone(), eof.clone());
    let mut conn = None;
    sim.add_service(Side::B, move |st: &mut Stack, now: Instant| {
        if conn.is_none() {
            conn = st.accept(now, l).ok().map(|(c, _)| c);
        }
        let Some(c) = conn else { return };
        let mut buf = [0u8; 65536];
        loop {
            match st.recv(now, c, &mut buf, MsgFlags::NONE) {
                Ok(0) => {
                    if !*e.borrow() {
                        *e.borrow_mut() = true;
                        let _ = st.close(now, c);
                    }
                    break;
                }
                Ok(n) => g.borrow_mut().extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
    });
    Lab { sim, frames: [fa, fb], logs: [la, lb], got, eof }
}

fn lab(script_a: &str, script_b: &str) -> Lab {
    lab_with(script_a, script_b, |_| {})
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

impl Lab {
    /// A connects, and returns the virtual time the connection was up.
    fn connect(&mut self) -> (stack::SocketHandle, Instant) {
        let now = self.sim.now();
        let a = self.sim.stack(Side::A);
        let s = a.socket(SockType::Stream).unwrap();
        let _ = a.connect(now, s, SocketAddrV4::new(B_IP, PORT));
        let t = self
            .sim
            .run_until(
                |sim| {
                    sim.stack(Side::A)
                        .tcp_info(Instant::ZERO)
                        .iter()
                        .any(|i| i.state == stack::tcp::TcpState::Established)
                },
                Duration::from_secs(30),
            )
            .expect("connected");
        (s, t)
    }

    /// Send `data` over `s` (in send-buffer-sized pieces), close, and wait
    /// for B to have read it all and both sides to be closed.
    fn transfer(&mut self, s: stack::SocketHandle, data: &[u8]) {
        let mut off = 0;
        let mut closed = false;
        let eof = self.eof.clone();
        self.sim
            .run_until(
                |sim| {
                    let now = sim.now();
                    let a = sim.stack(Side::A);
                    while off < data.len() {
                        match a.send(now, s, &data[off..], MsgFlags::NONE) {
                            Ok(n) => off += n,
                            Err(_) => break,
                        }
                    }
                    if off == data.len() && !closed {
                        a.shutdown(now, s, Shutdown::Write).unwrap();
                        closed = true;
                    }
                    *eof.borrow()
                },
                Duration::from_secs(120),
            )
            .expect("transfer completes");
        assert_eq!(self.got.borrow().len(), data.len());
        assert!(*self.got.borrow() == data, "byte-exact");
    }

    /// TCP segments `side` sent (or received): (flags, seq, payload length).
    fn segments(&self, side: Side, dir: Direction) -> Vec<(u8, u32, usize)> {
        self.frames[side as usize].borrow().iter().filter(|f| f.0 == dir).filter_map(|f| tcp_of(&f.2)).collect()
    }
}

/// (flags, seq, payload length) of a TCP frame.
fn tcp_of(f: &[u8]) -> Option<(u8, u32, usize)> {
    if f.len() < 54 || f[12..14] != [8, 0] || f[23] != 6 {
        return None;
    }
    let ihl = (f[14] & 15) as usize * 4;
    let total = u16::from_be_bytes([f[16], f[17]]) as usize;
    let t = &f[14 + ihl..];
    let doff = (t[12] >> 4) as usize * 4;
    Some((t[13], u32::from_be_bytes([t[4], t[5], t[6], t[7]]), total - ihl - doff))
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

// ----------------------------------------------------------- scripted faults

#[test]
fn dropping_the_third_data_segment_makes_exactly_one_retransmission() {
    let mut lab = lab("drop out tcp data #3", "");
    let (s, _) = lab.connect();
    let data = pattern(20_000);
    lab.transfer(s, &data);

    let log = lab.logs[0].lines();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].starts_with("fault: drop out tcp data #3 (10.0.0.1."), "{log:?}");
    // MSS 1460 less the 12 bytes of the timestamps option: 1448 a segment.
    assert!(log[0].ends_with("[.] seq 2897:4345)"), "the third MSS-sized segment: {log:?}");

    // What A's stack sent: the third data segment twice (the original, which
    // the script dropped, and one retransmission); every other once.
    let sent: Vec<_> = lab.segments(Side::A, Direction::Out).into_iter().filter(|s| s.2 > 0).collect();
    let third = sent[2];
    assert_eq!(sent.iter().filter(|s| s.1 == third.1).count(), 2, "{sent:?}");
    let mut seqs: Vec<u32> = sent.iter().map(|s| s.1).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), sent.len() - 1, "no other segment was sent twice");
    assert_eq!(lab.sim.stack(Side::A).stats().get(Counter::TcpRetransmits), 1);
    // B got it once, after the segments behind it (held out of order).
    let got: Vec<_> = lab.segments(Side::B, Direction::In).into_iter().filter(|s| s.2 > 0).collect();
    assert_eq!(got.iter().filter(|s| s.1 == third.1).count(), 1);
    assert_eq!(got.len(), sent.len() - 1);
}

#[test]
fn delaying_the_syn_delays_the_handshake_by_exactly_that() {
    let (_, clean) = lab("", "").connect();
    let mut slow = lab("", "delay in syn 500ms");
    let (_, late) = slow.connect();
    assert_eq!(late - clean, Duration::from_millis(500));
    let log = slow.logs[1].lines();
    assert_eq!(log.len(), 1);
    assert!(log[0].starts_with("fault: delay in syn #1: held 500ms (10.0.0.1."), "{log:?}");
    // B saw the SYN 500 ms after A sent it (plus the wire's 1 ms).
    let sent = lab_frame_time(&slow, Side::A, Direction::Out, SYN);
    let got = lab_frame_time(&slow, Side::B, Direction::In, SYN);
    assert_eq!(got - sent, Duration::from_millis(501));
}

fn lab_frame_time(lab: &Lab, side: Side, dir: Direction, flags: u8) -> Instant {
    lab.frames[side as usize]
        .borrow()
        .iter()
        .find(|f| f.0 == dir && tcp_of(&f.2).is_some_and(|t| t.0 == flags))
        .map(|f| f.1)
        .expect("the frame")
}

#[test]
fn a_duplicate_synack_is_answered_with_an_ack_and_ignored() {
    let mut lab = lab("dup in synack", "");
    let (s, _) = lab.connect();
    lab.transfer(s, &pattern(5000));
    assert_eq!(lab.logs[0].lines().len(), 1);
    let got = lab.segments(Side::A, Direction::In);
    assert_eq!(got.iter().filter(|t| t.0 == SYN | ACK).count(), 2, "A received the SYN-ACK twice");
    // RFC 9293 §3.10.7.4 step 1: the copy is not acceptable (it is before
    // RCV.NXT): dropped, and answered with an ACK.
    let a = lab.sim.stack(Side::A);
    assert_eq!(a.stats().drops(DropReason::TcpNotAcceptable), 1);
    assert_eq!(a.stats().get(Counter::TcpRetransmits), 0);
    let sent = lab.segments(Side::A, Direction::Out);
    assert_eq!(sent[0].0, SYN);
    assert_eq!((sent[1].0, sent[1].2), (ACK, 0), "the handshake's ACK");
    assert_eq!((sent[2].0, sent[2].2), (ACK, 0), "the ACK for the duplicate");
    assert_eq!(sent[1].1, sent[2].1);
    // B took the extra ACK as a duplicate of nothing: no drop, no reset.
    let b = lab.sim.stack(Side::B);
    let tcp_drops: Vec<_> = b.stats().nonzero_drops().filter(|d| d.0.name().starts_with("tcp")).collect();
    assert_eq!(tcp_drops, vec![]);
    assert_eq!(b.stats().get(Counter::TcpRstTx), 0);
}

#[test]
fn reordering_out_5_6_swaps_them() {
    let mut lab = lab("reorder out 5,6", "");
    let (s, _) = lab.connect();
    lab.transfer(s, &pattern(10_000));
    let sent: Vec<Vec<u8>> =
        lab.frames[0].borrow().iter().filter(|f| f.0 == Direction::Out).map(|f| f.2.clone()).collect();
    let got: Vec<Vec<u8>> =
        lab.frames[1].borrow().iter().filter(|f| f.0 == Direction::In).map(|f| f.2.clone()).collect();
    assert_eq!(got.len(), sent.len());
    let mut want = sent.clone();
    want.swap(4, 5);
    assert!(got == want, "B got A's frames in order but for the 5th and 6th, swapped");
    let log = lab.logs[0].lines();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[0].starts_with("fault: reorder out #5: held for the next matching frame"), "{log:?}");
    assert!(log[1].starts_with("fault: reorder out #5: sent after #6"), "{log:?}");
}

#[test]
fn the_sim_takes_a_script_per_side() {
    let a = FaultScript::parse("drop out icmp #1").unwrap();
    let mut sim = Sim::scripted(config(A_IP, 1, 1), config(B_IP, 2, 2), Faults::default(), a, FaultScript::default());
    let now = sim.now();
    sim.stack(Side::A).ping_send(now, B_IP, 1, 1, 8).unwrap();
    sim.stack(Side::A).ping_send(now, B_IP, 1, 2, 8).unwrap();
    sim.run_until(|s| s.stack(Side::A).ping_recv().is_some_and(|r| r.seq == 2), Duration::from_secs(5)).unwrap();
    assert_eq!(sim.fault_log(Side::A).unwrap().len(), 1);
    assert!(sim.fault_log(Side::B).unwrap().is_empty());
    assert_eq!(sim.stack(Side::B).stats().get(Counter::IcmpEchoRequestsRx), 1);
}

// ------------------------------------------------------------ the tunables

impl Lab {
    /// Data segments `side` sent at exactly `t`.
    fn data_sent_at(&self, side: Side, t: Instant) -> usize {
        self.frames[side as usize]
            .borrow()
            .iter()
            .filter(|f| f.0 == Direction::Out && f.1 == t && tcp_of(&f.2).is_some_and(|s| s.2 > 0))
            .count()
    }
    /// Three one-byte writes at one instant; the data segments that left then.
    fn three_small_writes(&mut self, s: stack::SocketHandle) -> usize {
        let now = self.sim.now();
        for b in [b"a", b"b", b"c"] {
            self.sim.stack(Side::A).send(now, s, b, MsgFlags::NONE).unwrap();
        }
        self.sim.poll().unwrap();
        self.data_sent_at(Side::A, now)
    }
    fn established(&mut self, side: Side) -> usize {
        self.sim
            .stack(side)
            .tcp_info(Instant::ZERO)
            .iter()
            .filter(|i| i.state == stack::tcp::TcpState::Established)
            .count()
    }
}

#[test]
fn nagle_off_reaches_new_connections_only() {
    let mut lab = lab("", "");
    let (old, _) = lab.connect();
    lab.sim.run_for(Duration::from_millis(100)).unwrap();
    let mut c = lab.sim.stack(Side::A).tcp_config().clone();
    assert!(c.nagle);
    c.nagle = false;
    lab.sim.stack(Side::A).set_tcp_config(c);
    // The connection made before keeps Nagle: one small segment in flight,
    // the other two bytes wait for its ACK.
    assert_eq!(lab.three_small_writes(old), 1);
    lab.sim.run_for(Duration::from_millis(100)).unwrap();

    // A new connection has TCP_NODELAY: three segments at once.
    let now = lab.sim.now();
    let s = lab.sim.stack(Side::A).socket(SockType::Stream).unwrap();
    let _ = lab.sim.stack(Side::A).connect(now, s, SocketAddrV4::new(B_IP, PORT));
    lab.sim
        .run_until(|sim| sim.stack(Side::A).poll_socket(s).contains(stack::PollFlags::POLLOUT), Duration::from_secs(5))
        .unwrap();
    lab.sim.run_for(Duration::from_millis(100)).unwrap();
    assert_eq!(lab.established(Side::A), 2);
    assert_eq!(lab.three_small_writes(s), 3);
}

#[test]
fn delack_off_acks_at_once_on_an_existing_connection() {
    let mut lab = lab("", "");
    let (s, _) = lab.connect();
    lab.sim.run_for(Duration::from_millis(100)).unwrap();
    // B's pure ACKs after its data segment in: how long after.
    let ack_delay = |lab: &mut Lab| {
        lab.sim.run_for(Duration::from_millis(100)).unwrap();
        let now = lab.sim.now();
        lab.sim.stack(Side::A).send(now, s, b"x", MsgFlags::NONE).unwrap();
        lab.sim.run_for(Duration::from_millis(200)).unwrap();
        let frames = lab.frames[1].borrow();
        let rx =
            frames.iter().rev().find(|f| f.0 == Direction::In && tcp_of(&f.2).is_some_and(|t| t.2 == 1)).unwrap().1;
        let ack = frames
            .iter()
            .find(|f| f.0 == Direction::Out && f.1 >= rx && tcp_of(&f.2).is_some_and(|t| t.0 == ACK))
            .unwrap()
            .1;
        ack - rx
    };
    // B's end of the connection.
    let bc = lab
        .sim
        .stack(Side::B)
        .tcp_info(Instant::ZERO)
        .iter()
        .find_map(|i| i.handle.filter(|_| i.remote.port() != 0 && i.state == stack::tcp::TcpState::Established))
        .unwrap();
    // B answers a byte of A's at once: the connection is interactive
    // (Linux's pingpong mode), and B's ACKs wait for a reply to carry them.
    let interactive = |lab: &mut Lab| {
        let now = lab.sim.now();
        lab.sim.stack(Side::A).send(now, s, b"q", MsgFlags::NONE).unwrap();
        lab.sim.run_for(Duration::from_millis(5)).unwrap();
        let now = lab.sim.now();
        lab.sim.stack(Side::B).send(now, stack::SocketHandle::Tcp(bc), b"r", MsgFlags::NONE).unwrap();
    };
    interactive(&mut lab);
    assert_eq!(
        ack_delay(&mut lab),
        Duration::from_millis(40),
        "RFC 1122 §4.2.3.2: a lone segment waits for the delayed-ACK timer"
    );
    let mut c = lab.sim.stack(Side::B).tcp_config().clone();
    c.delayed_ack = false;
    lab.sim.stack(Side::B).set_tcp_config(c);
    interactive(&mut lab);
    assert_eq!(ack_delay(&mut lab), Duration::ZERO, "delack off: every segment ACKed at once, on the same connection");
}

#[test]
fn a_short_msl_shortens_time_wait() {
    let mut lab = lab("", "");
    let (s, _) = lab.connect();
    let mut c = lab.sim.stack(Side::A).tcp_config().clone();
    c.msl = Duration::from_secs(1);
    lab.sim.stack(Side::A).set_tcp_config(c);
    lab.transfer(s, &pattern(3000));
    let in_state = |sim: &mut Sim, st: &str| {
        sim.stack(Side::A).tcp_info(Instant::ZERO).iter().any(|i| i.state.netstat_name() == st)
    };
    let t1 = lab.sim.run_until(|sim| in_state(sim, "TIME_WAIT"), Duration::from_secs(5)).unwrap();
    let t2 = lab.sim.run_until(|sim| !in_state(sim, "TIME_WAIT"), Duration::from_secs(60)).unwrap();
    assert_eq!(t2 - t1, Duration::from_secs(2), "TIME_WAIT = 2 x MSL");
}

// ---------------------------------------------------------- the RFC trace

/// Events of one stack: (kind, text, clause).
fn events(sim: &mut Sim, side: Side) -> Vec<(stack::EventKind, String, &'static str)> {
    std::iter::from_fn(|| sim.stack(side).poll_event()).map(|e| (e.kind, e.text, e.rfc)).collect()
}

/// Each `(text, clause)` of `want` appears in `got`, in this order.
fn assert_in_order(got: &[(stack::EventKind, String, &'static str)], want: &[(&str, &str)]) {
    let mut at = 0;
    for (text, rfc) in want {
        match got[at..].iter().position(|e| e.1.contains(text) && e.2 == *rfc) {
            Some(i) => at += i + 1,
            None => {
                let all: Vec<String> = got.iter().map(|e| format!("{}  [{}]", e.1, e.2)).collect();
                panic!("{text:?} [{rfc}] not found after event {at}:\n{}", all.join("\n"));
            }
        }
    }
}

#[test]
fn every_trace_event_cites_its_clause_and_the_story_reads_in_order() {
    let mut lab = lab("", "");
    lab.sim.stack(Side::A).trace_mut().set_enabled(true);
    lab.sim.stack(Side::B).trace_mut().set_enabled(true);
    let (s, _) = lab.connect();
    lab.transfer(s, &pattern(10_000));
    lab.sim.run_for(Duration::from_secs(120)).unwrap(); // TIME_WAIT ends
    let a = events(&mut lab.sim, Side::A);
    let b = events(&mut lab.sim, Side::B);
    for (kind, text, rfc) in a.iter().chain(&b) {
        assert!(!rfc.is_empty(), "{kind:?} {text:?} has no clause");
    }
    // The client: active open, data, active close, TIME_WAIT.
    assert_in_order(
        &a,
        &[
            ("CLOSED -> SYN_SENT", "RFC 9293 §3.10.1"),
            ("retransmit timer set for 1000 ms", "RFC 6298 §5.1"),
            ("SYN_SENT -> ESTABLISHED", "RFC 9293 §3.10.7.3"),
            ("retransmit timer set", "RFC 6298 §5.1"),
            ("ESTABLISHED -> FIN_WAIT_1", "RFC 9293 §3.10.4"),
            ("retransmit timer cancelled: all data acknowledged", "RFC 6298 §5.2"),
            ("FIN_WAIT_1 -> FIN_WAIT_2", "RFC 9293 §3.10.7.4 step 5"),
            ("FIN_WAIT_2 -> TIME_WAIT", "RFC 9293 §3.10.7.4 step 8"),
            ("time-wait timer set for 60000 ms", "RFC 9293 §3.10.7.4 step 8"),
            ("time-wait timer fired", "RFC 9293 §3.10.8"),
            ("TIME_WAIT -> CLOSED", "RFC 9293 §3.10.8"),
        ],
    );
    // The server: the SYN queue, the accept queue, accept, passive close.
    assert_in_order(
        &b,
        &[
            ("LISTEN -> SYN_RECEIVED", "RFC 9293 §3.10.7.2"),
            ("on the SYN queue (1/4)", "RFC 9293 §3.10.7.2"),
            ("SYN_RECEIVED -> ESTABLISHED", "RFC 9293 §3.10.7.4 step 5"),
            ("SYN queue -> accept queue (syn 0, accept 1/5)", "RFC 9293 §3.10.7.4 step 5"),
            // A new connection's first data segments are ACKed at once (Linux's quick ACKs).
            ("now: quick ACK", "RFC 1122 §4.2.3.2"),
            // The whole burst, FIN included, arrives before the sink runs;
            // the FIN's ACK is delayed, and rides on our FIN when the sink closes.
            ("ESTABLISHED -> CLOSE_WAIT", "RFC 9293 §3.10.7.4 step 8"),
            ("delayed-ack timer set for 40 ms", "RFC 1122 §4.2.3.2"),
            ("accept queue -> accepted", "RFC 9293 §3.10.1"),
            ("CLOSE_WAIT -> LAST_ACK", "RFC 9293 §3.10.4"),
            ("delayed-ack timer cancelled: an ACK went out", "RFC 1122 §4.2.3.2"),
            ("LAST_ACK -> CLOSED", "RFC 9293 §3.10.7.4 step 5"),
        ],
    );
    // Drops cite their clause too: A's gratuitous ARP is not for B.
    assert!(b.iter().any(|e| e.1.starts_with("drop arp_not_for_us") && e.2 == "RFC 826 Packet Reception"), "{b:?}");
}

#[test]
fn a_dropped_segment_is_traced_with_its_retransmission_clause() {
    let mut lab = lab("drop out tcp data #3", "");
    lab.sim.stack(Side::A).trace_mut().set_enabled(true);
    lab.sim.stack(Side::B).trace_mut().set_enabled(true);
    let (s, _) = lab.connect();
    lab.transfer(s, &pattern(20_000));
    lab.sim.run_for(Duration::from_secs(1)).unwrap();
    let a = events(&mut lab.sim, Side::A);
    let b = events(&mut lab.sim, Side::B);
    assert_in_order(&b, &[("out-of-order", "RFC 9293 §3.10.7.4 step 7"), ("hole filled", "RFC 9293 §3.10.7.4 step 7")]);
    assert_in_order(
        &a,
        &[
            // RACK (RFC 8985, Linux's default) deems it lost, PRR (RFC 6937) paces the repair.
            ("lost", "RFC 8985 §6.2 step 5"),
            ("RACK deemed data lost", "RFC 8985 §6.1 (Linux tcp_time_to_recover)"),
            ("retransmit seq", "RFC 8985 §6.2 (Linux tcp_xmit_retransmit_queue)"),
            ("recovery point acknowledged", "RFC 6937 §3"),
        ],
    );
    assert!(a.iter().chain(&b).all(|e| !e.2.is_empty()));
}
