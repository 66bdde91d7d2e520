//! TCP tests, two kinds:
//!
//! 1. Packet dialogues from state fixtures: a `Lab` holds one `Tcp`; the
//!    test plays the remote peer with `send(seg)` and checks what comes back
//!    with `expect()`, on an explicit virtual clock. The remote's sequence
//!    numbers start just below 2^32 so every dialogue crosses the wrap.
//! 2. Two `Tcp`s joined by a seeded lossy, reordering, duplicating link
//!    (`Net`), on a virtual clock that jumps to the next event.

use super::seq::SeqNumber;
use super::*;
use crate::cx::L4Xmit;
use crate::skbuff::SkBuff;
use crate::socket::{SockOpt, SockOptName};
use crate::stats::{DropReason, Stats};
use crate::trace::Trace;
use crate::wire::tcp::{finish_checksum, tcp_parse, TcpFlags, TcpOptions, TcpRepr};
use rand::SeedableRng;
use std::collections::VecDeque;

/// Socket options as packet dialogues (SO_RCVLOWAT, SO_LINGER, …).
mod sockopt;
/// Urgent data (MSG_OOB) as packet dialogues.
mod urgent;

const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const THEM: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The remote's ISN: 16 bytes below 2^32.
const RISS: u32 = 0xffff_fff0;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ------------------------------------------------------------------ the lab

struct Lab {
    tcp: Tcp,
    now: Instant,
    stats: Stats,
    trace: Trace,
    probe: ProbeQueue,
    rng: StdRng,
    out: VecDeque<L4Xmit>,
}

/// A segment as the remote peer sends it.
#[derive(Clone, Debug)]
struct Seg {
    sport: u16,
    dport: u16,
    seq: u32,
    ack: Option<u32>,
    flags: TcpFlags,
    window: u16,
    mss: Option<u16>,
    wscale: Option<u8>,
    sack_perm: bool,
    ts: Option<(u32, u32)>,
    sack: Vec<(u32, u32)>,
    data: Vec<u8>,
    /// The urgent pointer (with URG in `flags`).
    urgent: u16,
}

impl Seg {
    fn sack_perm(mut self) -> Seg {
        self.sack_perm = true;
        self
    }
    fn ts(mut self, val: u32, ecr: u32) -> Seg {
        self.ts = Some((val, ecr));
        self
    }
    fn sack(mut self, blocks: &[(u32, u32)]) -> Seg {
        self.sack = blocks.to_vec();
        self
    }
    fn flags(mut self, f: TcpFlags) -> Seg {
        self.flags = f;
        self
    }
    fn seq(mut self, s: u32) -> Seg {
        self.seq = s;
        self
    }
    fn ack(mut self, a: u32) -> Seg {
        self.ack = Some(a);
        self.flags = self.flags | TcpFlags::ACK;
        self
    }
    fn no_ack(mut self) -> Seg {
        self.ack = None;
        self.flags = TcpFlags(self.flags.0 & !TcpFlags::ACK.0);
        self
    }
    fn window(mut self, w: u16) -> Seg {
        self.window = w;
        self
    }
    fn data(mut self, d: &[u8]) -> Seg {
        self.data = d.to_vec();
        self
    }
    fn mss(mut self, m: Option<u16>) -> Seg {
        self.mss = m;
        self
    }
    fn wscale(mut self, w: Option<u8>) -> Seg {
        self.wscale = w;
        self
    }
    fn bytes(&self) -> Vec<u8> {
        self.bytes_from(THEM)
    }
    /// The segment as sent from address `src` (a spoofed one, say).
    fn bytes_from(&self, src: Ipv4Addr) -> Vec<u8> {
        let mut h = TcpRepr {
            options: TcpOptions {
                mss: self.mss,
                wscale: self.wscale,
                sack_permitted: self.sack_perm,
                timestamp: self.ts,
                sack_n: self.sack.len() as u8,
                ..TcpOptions::default()
            },
            ..TcpRepr::new(
                self.sport,
                self.dport,
                SeqNumber(self.seq),
                self.ack.map(SeqNumber),
                self.flags,
                self.window,
            )
        };
        for (k, &(a, z)) in self.sack.iter().enumerate() {
            h.options.sack[k] = (SeqNumber(a), SeqNumber(z));
        }
        h.urgent = self.urgent;
        let mut b = vec![0u8; h.hdr_len()];
        h.write(&mut b);
        b.extend_from_slice(&self.data);
        finish_checksum(src, US, &mut b);
        b
    }
}

/// A segment we sent, parsed.
#[derive(Debug)]
struct Out {
    h: TcpRepr,
    data: Vec<u8>,
}

impl Out {
    fn seq(&self) -> u32 {
        self.h.seq.0
    }
    fn ack(&self) -> u32 {
        self.h.ack.expect("ACK bit").0
    }
    fn is(&self, f: TcpFlags) -> bool {
        self.h.flags == f
    }
}

use crate::wire::tcp::flags::{ACK, FIN, PSH, RST, SYN};

impl Lab {
    fn new() -> Lab {
        Lab::with(TcpConfig::default())
    }
    fn with(cfg: TcpConfig) -> Lab {
        let mut rng = StdRng::seed_from_u64(7);
        let tcp = Tcp::new(cfg, &mut rng);
        let mut trace = Trace::default();
        trace.set_enabled(true);
        Lab {
            tcp,
            now: Instant::from_secs(1000),
            stats: Stats::default(),
            trace,
            probe: ProbeQueue::default(),
            rng,
            out: VecDeque::new(),
        }
    }
    fn parts(&mut self) -> (&mut Tcp, Cx<'_>) {
        let cx = Cx {
            now: self.now,
            stats: &mut self.stats,
            trace: &mut self.trace,
            probe: &mut self.probe,
            rng: &mut self.rng,
            out: &mut self.out,
        };
        (&mut self.tcp, cx)
    }
    /// A template for the remote peer on `sport` talking to our `dport`.
    fn seg(&self, sport: u16, dport: u16) -> Seg {
        Seg {
            sport,
            dport,
            seq: RISS,
            ack: None,
            flags: ACK,
            window: 65535,
            mss: None,
            wscale: None,
            sack_perm: false,
            ts: None,
            sack: vec![],
            data: vec![],
            urgent: 0,
        }
    }
    fn send(&mut self, s: &Seg) {
        self.send_from(THEM, s);
    }
    fn send_from(&mut self, src: Ipv4Addr, s: &Seg) {
        let skb = SkBuff::from_frame(&s.bytes_from(src));
        let (tcp, mut cx) = self.parts();
        tcp.tcp_v4_rcv(&mut cx, src, US, skb);
    }
    /// Everything queued for IP, to anyone, parsed: (destination, segment).
    fn drain_any(&mut self) -> Vec<(Ipv4Addr, Out)> {
        self.out
            .drain(..)
            .map(|x| {
                let h = tcp_parse(x.src, x.dst, x.skb.data()).expect("we send valid segments");
                (x.dst, Out { data: x.skb.data()[h.hdr_len()..].to_vec(), h })
            })
            .collect()
    }
    fn count(&self, c: Counter) -> u64 {
        self.stats.get(c)
    }
    fn try_expect(&mut self) -> Option<Out> {
        let x = self.out.pop_front()?;
        assert_eq!((x.src, x.dst, x.protocol), (US, THEM, 6));
        let h = tcp_parse(x.src, x.dst, x.skb.data()).expect("we send valid segments");
        Some(Out { data: x.skb.data()[h.hdr_len()..].to_vec(), h })
    }
    #[track_caller]
    fn expect(&mut self) -> Out {
        self.try_expect().expect("a segment")
    }
    #[track_caller]
    fn expect_none(&mut self) {
        if let Some(o) = self.try_expect() {
            panic!("unexpected segment {:?} seq {} ack {:?} len {}", o.h.flags, o.seq(), o.h.ack, o.data.len());
        }
    }
    fn drain(&mut self) -> Vec<Out> {
        std::iter::from_fn(|| self.try_expect()).collect()
    }
    /// Move the clock forward by `d`, running timers on the way.
    fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(t) = self.tcp.poll_timeout() {
            if t > target {
                break;
            }
            self.now = self.now.max(t);
            let (tcp, mut cx) = self.parts();
            tcp.handle_timeout(&mut cx);
        }
        self.now = target;
    }
    /// Jump to the next timer and run it; returns how long that was.
    fn next_timer(&mut self) -> Duration {
        let t = self.tcp.poll_timeout().expect("a timer");
        let d = t - self.now;
        self.now = self.now.max(t);
        let (tcp, mut cx) = self.parts();
        tcp.handle_timeout(&mut cx);
        d
    }
    fn socket(&mut self) -> usize {
        self.tcp.socket().unwrap()
    }
    fn listen(&mut self, port: u16, backlog: usize) -> usize {
        let h = self.socket();
        self.tcp.bind(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port), &mut self.rng).unwrap();
        self.tcp.listen(h, backlog, &mut self.rng).unwrap();
        h
    }
    fn connect(&mut self, h: usize, port: u16) -> Result<(), Errno> {
        let (tcp, mut cx) = self.parts();
        tcp.connect(&mut cx, h, US, SocketAddrV4::new(THEM, port))
    }
    fn accept(&mut self, h: usize) -> Result<(usize, SocketAddrV4), Errno> {
        let (tcp, mut cx) = self.parts();
        tcp.accept(&mut cx, h)
    }
    fn send_data(&mut self, h: usize, b: &[u8]) -> Result<usize, Errno> {
        let (tcp, mut cx) = self.parts();
        tcp.send(&mut cx, h, b, MsgFlags::NONE)
    }
    fn recv(&mut self, h: usize, n: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0; n];
        let (tcp, mut cx) = self.parts();
        let k = tcp.recv(&mut cx, h, &mut buf, MsgFlags::NONE)?;
        buf.truncate(k);
        Ok(buf)
    }
    fn close(&mut self, h: usize) {
        let (tcp, mut cx) = self.parts();
        tcp.close(&mut cx, h).unwrap();
    }
    fn shutdown(&mut self, h: usize, how: Shutdown) {
        let (tcp, mut cx) = self.parts();
        tcp.shutdown(&mut cx, h, how).unwrap();
    }
    fn setopt(&mut self, h: usize, o: SockOpt) {
        let (tcp, mut cx) = self.parts();
        tcp.setsockopt(&mut cx, h, o).unwrap();
    }
    fn state_of(&self, local_port: u16, remote_port: u16) -> Option<&'static str> {
        self.tcp
            .info(self.now)
            .into_iter()
            .find(|i| i.local.port() == local_port && i.remote.port() == remote_port)
            .map(|i| i.state.rfc_name())
    }
    fn info_of(&self, h: usize) -> TcpInfo {
        self.tcp.info(self.now).into_iter().find(|i| i.handle == Some(h)).expect("socket in info")
    }
    fn sock(&self, h: usize) -> &TcpSock {
        self.tcp.socks[h].as_ref().expect("socket")
    }
    fn drops(&self, r: DropReason) -> u64 {
        self.stats.drops(r)
    }
    fn traced(&mut self, needle: &str) -> bool {
        let mut found = false;
        while let Some(e) = self.trace.pop() {
            found |= e.text.contains(needle);
        }
        found
    }
}

/// The remote's view of one connection: the next sequence number it sends
/// and the next one it expects from us.
#[derive(Copy, Clone, Debug)]
struct Peer {
    h: usize,
    lport: u16,
    rport: u16,
    /// Remote SND.NXT.
    snd: u32,
    /// Remote RCV.NXT (what it ACKs).
    rcv: u32,
}

impl Peer {
    fn seg(&self, lab: &Lab) -> Seg {
        lab.seg(self.rport, self.lport).seq(self.snd).ack(self.rcv)
    }
}

/// Fixture: a passive open to our port 80 completed and accepted.
fn established_passive(lab: &mut Lab) -> (usize, Peer) {
    let l = lab.listen(80, 8);
    lab.send(&lab.seg(40000, 80).flags(SYN).mss(Some(1460)));
    let synack = lab.expect();
    assert!(synack.is(SYN | ACK));
    assert_eq!(synack.ack(), RISS.wrapping_add(1));
    let p = Peer { h: 0, lport: 80, rport: 40000, snd: RISS.wrapping_add(1), rcv: synack.seq().wrapping_add(1) };
    lab.send(&p.seg(lab));
    lab.expect_none();
    let (h, peer) = lab.accept(l).unwrap();
    assert_eq!(peer, SocketAddrV4::new(THEM, 40000));
    (l, Peer { h, ..p })
}

/// Fixture: an active open from us to the remote's port 7000 completed.
fn established_active(lab: &mut Lab) -> Peer {
    let h = lab.socket();
    assert_eq!(lab.connect(h, 7000), Err(Errno::EINPROGRESS));
    let syn = lab.expect();
    assert!(syn.is(SYN));
    let lport = lab.tcp.getsockname(h).unwrap().port();
    let p = Peer { h, lport, rport: 7000, snd: RISS.wrapping_add(1), rcv: syn.seq().wrapping_add(1) };
    lab.send(&lab.seg(7000, lport).flags(SYN | ACK).ack(p.rcv).mss(Some(1460)));
    let ack = lab.expect();
    assert!(ack.is(ACK));
    assert_eq!(ack.ack(), p.snd);
    p
}

/// Fixture: ESTABLISHED, then we close: FIN_WAIT_1 (our FIN not yet acked).
fn fin_wait_1(lab: &mut Lab) -> Peer {
    let mut p = established_active(lab);
    lab.shutdown(p.h, Shutdown::Write);
    let fin = lab.expect();
    assert!(fin.is(FIN | ACK));
    assert_eq!(fin.seq(), p.rcv);
    p.rcv = p.rcv.wrapping_add(1);
    assert_eq!(lab.state_of(p.lport, p.rport), Some("FIN_WAIT_1"));
    p
}

/// Fixture: FIN_WAIT_2 (our FIN acked, the peer's not sent).
fn fin_wait_2(lab: &mut Lab) -> Peer {
    let p = fin_wait_1(lab);
    lab.send(&p.seg(lab));
    lab.expect_none();
    assert_eq!(lab.state_of(p.lport, p.rport), Some("FIN_WAIT_2"));
    p
}

/// Fixture: CLOSE_WAIT (the peer's FIN arrived).
fn close_wait(lab: &mut Lab) -> Peer {
    let mut p = established_active(lab);
    lab.send(&p.seg(lab).flags(FIN | ACK));
    p.snd = p.snd.wrapping_add(1);
    // Linux `tcp_fin`: the ACK of a FIN in ESTABLISHED is a delayed ACK
    // (in case our FIN can carry it); no data came before, so `ato` is 0
    // and the timer is due at once.
    lab.expect_none();
    lab.advance(Duration::ZERO);
    let a = lab.expect();
    assert_eq!(a.ack(), p.snd);
    assert_eq!(lab.state_of(p.lport, p.rport), Some("CLOSE_WAIT"));
    p
}

/// Fixture: LAST_ACK (CLOSE_WAIT, then we sent our FIN).
fn last_ack(lab: &mut Lab) -> Peer {
    let mut p = close_wait(lab);
    lab.shutdown(p.h, Shutdown::Write);
    assert!(lab.expect().is(FIN | ACK));
    p.rcv = p.rcv.wrapping_add(1);
    assert_eq!(lab.state_of(p.lport, p.rport), Some("LAST_ACK"));
    p
}

/// Fixture: CLOSING (both FINs crossed, ours not yet acked).
fn closing(lab: &mut Lab) -> Peer {
    let mut p = fin_wait_1(lab);
    // The peer's FIN acks only up to before our FIN.
    lab.send(&p.seg(lab).flags(FIN | ACK).ack(p.rcv.wrapping_sub(1)));
    p.snd = p.snd.wrapping_add(1);
    assert_eq!(lab.expect().ack(), p.snd);
    assert_eq!(lab.state_of(p.lport, p.rport), Some("CLOSING"));
    p
}

/// Fixture: TIME_WAIT after an active close.
fn time_wait(lab: &mut Lab) -> Peer {
    let mut p = fin_wait_2(lab);
    lab.send(&p.seg(lab).flags(FIN | ACK));
    p.snd = p.snd.wrapping_add(1);
    assert_eq!(lab.expect().ack(), p.snd);
    assert_eq!(lab.state_of(p.lport, p.rport), Some("TIME_WAIT"));
    p
}

fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut r = StdRng::seed_from_u64(seed);
    (0..n).map(|_| r.gen()).collect()
}

// ------------------------------------------------------------ handshakes

#[test]
fn passive_open_goes_through_syn_and_accept_queues() {
    let mut lab = Lab::new();
    let l = lab.listen(80, 4);
    assert_eq!(lab.tcp.poll(l), PollFlags::NONE);
    lab.send(&lab.seg(40000, 80).flags(SYN).mss(Some(1000)).wscale(Some(7)));
    let synack = lab.expect();
    assert!(synack.is(SYN | ACK));
    assert_eq!(synack.ack(), RISS.wrapping_add(1));
    assert_eq!(synack.h.options.mss, Some(1460));
    assert!(synack.h.options.wscale.is_some());
    let li = lab.tcp.info(lab.now).into_iter().find(|i| i.state == TcpState::Listen).unwrap();
    assert_eq!((li.syn_queue, li.accept_queue, li.recv_q, li.backlog), (1, 0, 0, 4));
    assert_eq!(lab.state_of(80, 40000), Some("SYN_RECEIVED"));
    assert_eq!(lab.accept(l), Err(Errno::EAGAIN));
    lab.send(&lab.seg(40000, 80).seq(RISS.wrapping_add(1)).ack(synack.seq().wrapping_add(1)));
    let li = lab.tcp.info(lab.now).into_iter().find(|i| i.state == TcpState::Listen).unwrap();
    assert_eq!((li.syn_queue, li.accept_queue, li.recv_q), (0, 1, 1));
    assert_eq!(lab.tcp.poll(l), PollFlags::POLLIN);
    assert!(lab.traced("LISTEN -> SYN_RECEIVED"));
    let (c, peer) = lab.accept(l).unwrap();
    assert_eq!(peer, SocketAddrV4::new(THEM, 40000));
    let i = lab.info_of(c);
    assert_eq!(i.state, TcpState::Established);
    assert_eq!(i.mss, 1000);
    assert_eq!(i.snd_wscale, 7);
    assert!(lab.tcp.poll(c).contains(PollFlags::POLLOUT));
    assert_eq!(lab.tcp.getpeername(c).unwrap(), peer);
    assert_eq!(lab.tcp.getsockname(c).unwrap(), SocketAddrV4::new(US, 80));
    assert_eq!(lab.stats.get(Counter::TcpPassiveOpens), 1);
}

#[test]
fn active_open_and_connect_errors() {
    let mut lab = Lab::new();
    let p = established_active(&mut lab);
    assert!(EPHEMERAL_PORTS.contains(&p.lport));
    assert_eq!(lab.tcp.poll(p.h), PollFlags::POLLOUT);
    assert_eq!(lab.connect(p.h, 7000), Err(Errno::EISCONN));
    assert_eq!(lab.tcp.getsockopt(p.h, SockOptName::Error), Ok(SockOpt::NonBlocking(false)));
    assert_eq!(lab.info_of(p.h).state, TcpState::Established);
    // The RTT of the handshake was measured (zero here, kept as 1 µs): RTO
    // is SRTT plus the 200 ms floor of the variance term.
    assert_eq!(lab.info_of(p.h).rto, ms(200) + Duration::from_micros(1));
}

#[test]
fn connect_refused_by_rst() {
    let mut lab = Lab::new();
    let h = lab.socket();
    assert_eq!(lab.connect(h, 7000), Err(Errno::EINPROGRESS));
    assert_eq!(lab.connect(h, 7000), Err(Errno::EALREADY));
    let syn = lab.expect();
    assert_eq!(lab.tcp.poll(h), PollFlags::NONE);
    let lport = lab.tcp.getsockname(h).unwrap().port();
    // A RST whose ACK is not acceptable is dropped…
    lab.send(&lab.seg(7000, lport).seq(0).flags(RST | ACK).ack(syn.seq()));
    assert_eq!(lab.drops(DropReason::TcpAckUnsent), 1);
    // …an acceptable one refuses the connection.
    lab.send(&lab.seg(7000, lport).seq(0).flags(RST | ACK).ack(syn.seq().wrapping_add(1)));
    lab.expect_none();
    assert!(lab.tcp.poll(h).contains(PollFlags::POLLERR | PollFlags::POLLHUP));
    assert_eq!(lab.tcp.getsockopt(h, SockOptName::Error), Err(Errno::ECONNREFUSED));
    assert_eq!(lab.tcp.getsockopt(h, SockOptName::Error), Ok(SockOpt::NonBlocking(false)));
    assert_eq!(lab.tcp.poll_timeout(), None);
}

#[test]
fn connect_refused_by_icmp_port_unreachable() {
    let mut lab = Lab::new();
    let h = lab.socket();
    let _ = lab.connect(h, 7000);
    lab.expect();
    let lport = lab.tcp.getsockname(h).unwrap().port();
    let (tcp, mut cx) = lab.parts();
    tcp.icmp_error(&mut cx, lport, SocketAddrV4::new(THEM, 7000), Errno::ECONNREFUSED);
    assert_eq!(lab.tcp.getsockopt(h, SockOptName::Error), Err(Errno::ECONNREFUSED));
}

#[test]
fn connect_times_out_after_syn_retries_with_backoff() {
    // Linux 6.5+: tcp_syn_retries 6 plus tcp_syn_linear_timeouts 4, the
    // first 4 backoffs skipped: 10 retransmissions, ETIMEDOUT after 131 s.
    // Without the linear timeouts: RFC 6298's doubling from the first.
    for (linear, want) in [(4, &[1, 1, 1, 1, 1, 2, 4, 8, 16, 32][..]), (0, &[1, 2, 4, 8, 16, 32][..])] {
        let mut lab = Lab::with(TcpConfig { syn_linear_timeouts: linear, ..TcpConfig::default() });
        let h = lab.socket();
        let _ = lab.connect(h, 7000);
        let first = lab.expect();
        let mut gaps = vec![];
        for _ in 0..want.len() {
            gaps.push(lab.next_timer().as_secs());
            let again = lab.expect();
            assert!(again.is(SYN));
            assert_eq!(again.seq(), first.seq());
        }
        assert_eq!(gaps, want);
        assert_eq!(lab.next_timer().as_secs(), 64);
        lab.expect_none();
        assert_eq!(lab.tcp.getsockopt(h, SockOptName::Error), Err(Errno::ETIMEDOUT));
        assert!(lab.traced("ETIMEDOUT"));
    }
}

#[test]
fn syn_ack_retransmitted_with_backoff_then_child_dropped() {
    let mut lab = Lab::new();
    let l = lab.listen(80, 8);
    lab.send(&lab.seg(40000, 80).flags(SYN));
    let first = lab.expect();
    // A retransmitted SYN gets the same SYN-ACK again.
    lab.send(&lab.seg(40000, 80).flags(SYN));
    assert_eq!(lab.expect().seq(), first.seq());
    let mut gaps = vec![];
    for _ in 0..5 {
        gaps.push(lab.next_timer().as_secs());
        let o = lab.expect();
        assert!(o.is(SYN | ACK));
        assert_eq!(o.seq(), first.seq());
    }
    assert_eq!(gaps, [1, 2, 4, 8, 16]);
    lab.next_timer();
    lab.expect_none();
    assert_eq!(lab.state_of(80, 40000), None);
    let li = lab.info_of(l);
    assert_eq!((li.state, li.syn_queue), (TcpState::Listen, 0));
    assert_eq!(lab.tcp.poll_timeout(), None);
}

#[test]
fn accept_queue_full_drops_syn_until_accept() {
    let mut lab = Lab::new();
    let l = lab.listen(80, 1); // the accept queue holds backlog + 1 = 2
    for port in [40001, 40002] {
        lab.send(&lab.seg(port, 80).flags(SYN));
        let sa = lab.expect();
        lab.send(&lab.seg(port, 80).seq(RISS.wrapping_add(1)).ack(sa.seq().wrapping_add(1)));
    }
    assert_eq!(lab.info_of(l).accept_queue, 2);
    lab.send(&lab.seg(40003, 80).flags(SYN));
    lab.expect_none();
    assert_eq!(lab.drops(DropReason::TcpAcceptQueueFull), 1);
    lab.accept(l).unwrap();
    // The client's retransmitted SYN now gets in.
    lab.send(&lab.seg(40003, 80).flags(SYN));
    assert!(lab.expect().is(SYN | ACK));
    assert_eq!(lab.info_of(l).syn_queue, 1);
}

#[test]
fn final_ack_dropped_while_accept_queue_full() {
    let mut lab = Lab::new();
    let l = lab.listen(80, 2); // accept queue holds 3, SYN queue 2
    let mut synacks = vec![];
    for port in 40001..=40004 {
        if port == 40003 {
            // Complete the first two handshakes before the next SYNs.
            for (p, sa) in &synacks {
                lab.send(&lab.seg(*p, 80).seq(RISS.wrapping_add(1)).ack(*sa));
            }
        }
        lab.send(&lab.seg(port, 80).flags(SYN));
        synacks.push((port, lab.expect().seq().wrapping_add(1)));
    }
    let ack = |lab: &mut Lab, i: usize| {
        let (p, sa) = synacks[i];
        lab.send(&lab.seg(p, 80).seq(RISS.wrapping_add(1)).ack(sa));
    };
    ack(&mut lab, 2);
    assert_eq!(lab.info_of(l).accept_queue, 3);
    // The accept queue is full: the last handshake's ACK is dropped, the child waits.
    ack(&mut lab, 3);
    assert_eq!(lab.drops(DropReason::TcpAcceptQueueFull), 1);
    assert_eq!(lab.state_of(80, 40004), Some("SYN_RECEIVED"));
    lab.accept(l).unwrap();
    ack(&mut lab, 3);
    assert_eq!(lab.state_of(80, 40004), Some("ESTABLISHED"));
    assert_eq!(lab.info_of(l).accept_queue, 3);
}

#[test]
fn closed_port_answers_with_rst() {
    let mut lab = Lab::new();
    lab.send(&lab.seg(40000, 81).flags(SYN).data(b"hi"));
    let r = lab.expect();
    assert!(r.is(RST | ACK));
    assert_eq!((r.seq(), r.ack()), (0, RISS.wrapping_add(3)));
    lab.send(&lab.seg(40000, 81).ack(1234));
    let r = lab.expect();
    assert!(r.is(RST));
    assert_eq!(r.seq(), 1234);
    lab.send(&lab.seg(40000, 81).flags(RST));
    lab.expect_none();
    assert_eq!(lab.drops(DropReason::TcpNoSocket), 3);
    assert_eq!(lab.stats.get(Counter::TcpRstTx), 2);
}

#[test]
fn listener_resets_acks_and_ignores_rsts() {
    let mut lab = Lab::new();
    lab.listen(80, 8);
    lab.send(&lab.seg(40000, 80).ack(777));
    let r = lab.expect();
    assert!(r.is(RST));
    assert_eq!(r.seq(), 777);
    lab.send(&lab.seg(40000, 80).flags(RST));
    lab.send(&lab.seg(40000, 80).flags(FIN));
    lab.expect_none();
    assert_eq!(lab.drops(DropReason::TcpRstInvalid), 1);
    assert_eq!(lab.drops(DropReason::TcpListenNoSyn), 2);
}

#[test]
fn simultaneous_open() {
    let mut lab = Lab::new();
    let h = lab.socket();
    lab.tcp.bind(h, SocketAddrV4::new(US, 5000), &mut lab.rng).unwrap();
    let _ = lab.connect(h, 5000);
    let syn = lab.expect();
    // Their SYN crosses ours: SYN_SENT -> SYN_RECEIVED, we send SYN-ACK.
    lab.send(&lab.seg(5000, 5000).flags(SYN).mss(Some(1200)));
    let sa = lab.expect();
    assert!(sa.is(SYN | ACK));
    assert_eq!((sa.seq(), sa.ack()), (syn.seq(), RISS.wrapping_add(1)));
    assert_eq!(lab.state_of(5000, 5000), Some("SYN_RECEIVED"));
    // Their SYN-ACK (RFC 9293 Figure 8, line 6): its ACK of our SYN takes
    // us to ESTABLISHED at once; its SYN, already known, is a duplicate
    // that Linux answers at once (with a D-SACK where SACK is on).
    lab.send(&lab.seg(5000, 5000).flags(SYN | ACK).ack(syn.seq().wrapping_add(1)));
    assert_eq!(lab.state_of(5000, 5000), Some("ESTABLISHED"));
    let a = lab.expect();
    assert!(a.is(ACK));
    assert_eq!(a.ack(), RISS.wrapping_add(1));
    lab.expect_none();
    // A retransmission of it later is a SYN in a synchronized state: a
    // challenge ACK (RFC 5961 §4.2), state kept.
    lab.send(&lab.seg(5000, 5000).flags(SYN | ACK).ack(syn.seq().wrapping_add(1)));
    assert!(lab.expect().is(ACK));
    assert_eq!(lab.state_of(5000, 5000), Some("ESTABLISHED"));
    assert!(lab.tcp.poll(h).contains(PollFlags::POLLOUT));
    assert_eq!(lab.info_of(h).mss, 1200);
}

// ------------------------------------------------------------ data transfer

#[test]
fn data_both_ways_across_the_wrap() {
    let mut lab = Lab::new();
    let (_, mut p) = established_passive(&mut lab);
    let msg = pattern(100, 1);
    // 100 bytes from RISS+1 = 0xfffffff1 cross 2^32.
    lab.send(&p.seg(&lab).flags(ACK | PSH).data(&msg));
    p.snd = p.snd.wrapping_add(100);
    assert!(p.snd < RISS);
    assert!(lab.tcp.poll(p.h).contains(PollFlags::POLLIN));
    let mut peek = [0u8; 10];
    {
        let (tcp, mut cx) = lab.parts();
        assert_eq!(tcp.recv(&mut cx, p.h, &mut peek, MsgFlags::MSG_PEEK), Ok(10));
    }
    assert_eq!(&peek, &msg[..10]);
    assert_eq!(lab.recv(p.h, 1000).unwrap(), msg);
    assert_eq!(lab.recv(p.h, 1000), Err(Errno::EAGAIN));
    // The first data segment of a connection is ACKed at once (Linux's
    // quick ACKs, `tcp_event_data_recv`), no delayed-ACK timer.
    assert_eq!(lab.expect().ack(), p.snd);
    lab.expect_none();
    // Our data to them.
    assert_eq!(lab.send_data(p.h, b"hello"), Ok(5));
    let o = lab.expect();
    assert!(o.is(ACK | PSH));
    assert_eq!((o.seq(), o.ack(), o.data.as_slice()), (p.rcv, p.snd, &b"hello"[..]));
    p.rcv = p.rcv.wrapping_add(5);
    lab.send(&p.seg(&lab));
    assert_eq!(lab.info_of(p.h).send_q, 0);
    assert_eq!(lab.tcp.poll_timeout(), None);
}

#[test]
fn ack_every_second_full_segment() {
    let mut lab = Lab::new();
    let (_, mut p) = established_passive(&mut lab);
    let d = pattern(1460, 2);
    // The first segments use up the quick ACKs (Linux `tcp_incr_quickack`:
    // 16 here), each ACKed at once.
    for _ in 0..16 {
        lab.send(&p.seg(&lab).data(&d));
        p.snd = p.snd.wrapping_add(1460);
        assert_eq!(lab.expect().ack(), p.snd);
    }
    // Then a second full segment is ACKed at once only if the window would
    // not shrink (`__tcp_ack_snd_check`); nobody reads here, so each one
    // narrows the window and both wait for the delayed-ACK timer, as
    // Linux does (tests/drill/ack/every-second-full-segment.pkt).
    lab.send(&p.seg(&lab).data(&d));
    p.snd = p.snd.wrapping_add(1460);
    lab.expect_none();
    lab.send(&p.seg(&lab).data(&d));
    p.snd = p.snd.wrapping_add(1460);
    lab.expect_none();
    assert_eq!(lab.next_timer(), ms(40));
    assert_eq!(lab.expect().ack(), p.snd);
}

#[test]
fn never_sends_beyond_the_peer_window_and_honours_mss() {
    let mut lab = Lab::new();
    let mut p = established_active(&mut lab);
    lab.send(&p.seg(&lab).window(3000));
    let data = pattern(10_000, 3);
    assert_eq!(lab.send_data(p.h, &data), Ok(10_000));
    let segs = lab.drain();
    let sizes: Vec<usize> = segs.iter().map(|o| o.data.len()).collect();
    assert_eq!(sizes, [1460, 1460]); // the 80-byte runt waits (sender SWS avoidance)
    p.rcv = p.rcv.wrapping_add(2920);
    lab.send(&p.seg(&lab).window(3000));
    let sizes: Vec<usize> = lab.drain().iter().map(|o| o.data.len()).collect();
    assert_eq!(sizes, [1460, 1460]);
    // A peer that sent no MSS option gets 536-byte segments (RFC 9293 §3.7.1).
    let mut lab = Lab::new();
    let h = lab.socket();
    let _ = lab.connect(h, 7000);
    let syn = lab.expect();
    let lport = lab.tcp.getsockname(h).unwrap().port();
    lab.send(&lab.seg(7000, lport).flags(SYN | ACK).ack(syn.seq().wrapping_add(1)));
    lab.expect();
    lab.send_data(h, &data).unwrap();
    assert!(lab.drain().iter().all(|o| o.data.len() == 536));
}

#[test]
fn zero_window_probe_then_reopen() {
    let mut lab = Lab::new();
    let mut p = established_active(&mut lab);
    lab.send(&p.seg(&lab).window(0));
    lab.send_data(p.h, b"stuck").unwrap();
    lab.expect_none();
    // Persist timer: probes with SEQ = SND.UNA - 1, backing off.
    let mut gaps = vec![];
    for _ in 0..3 {
        gaps.push(lab.next_timer().as_millis());
        let probe = lab.expect();
        assert!(probe.is(ACK));
        assert_eq!(probe.seq(), p.rcv.wrapping_sub(1));
        assert!(probe.data.is_empty());
        lab.send(&p.seg(&lab).window(0));
    }
    assert_eq!(gaps, [200, 400, 800]);
    assert!(lab.traced("zero window: probe"));
    // The window opens: the data goes at once.
    lab.send(&p.seg(&lab).window(1000));
    let o = lab.expect();
    assert_eq!((o.seq(), o.data.as_slice()), (p.rcv, &b"stuck"[..]));
    p.rcv = p.rcv.wrapping_add(5);
    lab.send(&p.seg(&lab));
    assert_eq!(lab.tcp.poll_timeout(), None);
}

#[test]
fn receive_window_closes_and_reopens_after_read() {
    let mut lab = Lab::new();
    let l = lab.listen(80, 8);
    lab.setopt(l, SockOpt::RcvBuf(4000));
    lab.send(&lab.seg(40000, 80).flags(SYN));
    let sa = lab.expect();
    // Linux: the 4000 of the (doubled) buffer's window share, in whole segments.
    assert_eq!(sa.h.window, 2920);
    let mut p = Peer { h: 0, lport: 80, rport: 40000, snd: RISS.wrapping_add(1), rcv: sa.seq().wrapping_add(1) };
    lab.send(&p.seg(&lab));
    p.h = lab.accept(l).unwrap().0;
    let d = pattern(1000, 4);
    for _ in 0..4 {
        lab.send(&p.seg(&lab).data(&d));
        p.snd = p.snd.wrapping_add(1000);
    }
    // One quick ACK (`rcv_wnd / (2 · rcv_mss)` = 2920 / 2000), then the
    // rest waits for one delayed ACK, which shows the window shut: the
    // window grew as the segments came (`tcp_grow_window`) to 3920 bytes,
    // what the buffer holds, and the text past it was trimmed away.
    let acks = lab.drain();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].ack(), p.snd.wrapping_sub(3000));
    assert_eq!(lab.next_timer(), ms(40));
    let a = lab.expect();
    p.snd = p.snd.wrapping_sub(4000 - 3920);
    assert_eq!((a.ack(), a.h.window), (p.snd, 0));
    // Beyond the window: trimmed away; at RCV.NXT with a zero window: ACKed, text dropped.
    lab.send(&p.seg(&lab).data(&d));
    let a = lab.expect();
    assert_eq!((a.ack(), a.h.window), (p.snd, 0));
    // Reading 100 bytes is too little to reopen (receiver SWS avoidance)…
    assert_eq!(lab.recv(p.h, 100).unwrap().len(), 100);
    lab.expect_none();
    // …reading 2000 sends a window update.
    assert_eq!(lab.recv(p.h, 1900).unwrap().len(), 1900);
    let u = lab.expect();
    assert_eq!((u.ack(), u.h.window), (p.snd, 2000));
    assert!(lab.traced("window update"));
}

#[test]
fn nagle_nodelay_and_cork() {
    let mut lab = Lab::new();
    let mut p = established_active(&mut lab);
    lab.send_data(p.h, b"a").unwrap();
    assert_eq!(lab.expect().data, b"a");
    // Nagle: while "a" is unacknowledged, small writes wait and coalesce.
    lab.send_data(p.h, b"b").unwrap();
    lab.send_data(p.h, b"c").unwrap();
    lab.expect_none();
    p.rcv = p.rcv.wrapping_add(1);
    lab.send(&p.seg(&lab));
    assert_eq!(lab.expect().data, b"bc");
    p.rcv = p.rcv.wrapping_add(2);
    // TCP_NODELAY: each write goes at once.
    lab.setopt(p.h, SockOpt::NoDelay(true));
    lab.send_data(p.h, b"d").unwrap();
    lab.send_data(p.h, b"e").unwrap();
    assert_eq!(lab.drain().len(), 2);
    p.rcv = p.rcv.wrapping_add(2);
    lab.send(&p.seg(&lab));
    // TCP_CORK: partial segments wait, at most 200 ms.
    lab.setopt(p.h, SockOpt::Cork(true));
    lab.send_data(p.h, b"f").unwrap();
    lab.expect_none();
    assert_eq!(lab.next_timer(), ms(200));
    assert_eq!(lab.expect().data, b"f");
    p.rcv = p.rcv.wrapping_add(1);
    lab.send(&p.seg(&lab));
    lab.send_data(p.h, b"g").unwrap();
    lab.expect_none();
    lab.setopt(p.h, SockOpt::Cork(false));
    assert_eq!(lab.expect().data, b"g");
}

// ------------------------------------------------------------ retransmission

#[test]
fn rto_backs_off_and_karn_ignores_retransmitted_samples() {
    let mut lab = Lab::new();
    let h = lab.socket();
    let _ = lab.connect(h, 7000);
    let syn = lab.expect();
    let lport = lab.tcp.getsockname(h).unwrap().port();
    // RTT 100 ms on the handshake: SRTT 100, RTTVAR 50, RTO = 100 + max(G, 4 × 50) = 300 ms.
    lab.advance(ms(100));
    lab.send(&lab.seg(7000, lport).flags(SYN | ACK).ack(syn.seq().wrapping_add(1)));
    lab.expect();
    let mut p = Peer { h, lport, rport: 7000, snd: RISS.wrapping_add(1), rcv: syn.seq().wrapping_add(1) };
    let i = lab.info_of(p.h);
    assert_eq!((i.srtt, i.rttvar, i.rto), (ms(100), ms(50), ms(300)));
    // A second sample of 100 ms: RTTVAR = 3/4 × 50 + 1/4 × 0 = 37.5 ms.
    lab.send_data(p.h, b"x").unwrap();
    lab.expect();
    lab.advance(ms(100));
    p.rcv = p.rcv.wrapping_add(1);
    lab.send(&p.seg(&lab));
    let i = lab.info_of(p.h);
    // RTO = SRTT + max(4 × RTTVAR, 200 ms) = 300 ms, as Linux (not 250).
    assert_eq!((i.srtt, i.rttvar, i.rto), (ms(100), Duration::from_micros(37_500), ms(300)));
    lab.send_data(p.h, b"y").unwrap();
    lab.expect();
    let mut gaps = vec![];
    for _ in 0..3 {
        gaps.push(lab.next_timer().as_millis());
        let o = lab.expect();
        assert_eq!((o.seq(), o.data.as_slice()), (p.rcv, &b"y"[..]));
    }
    assert_eq!(gaps, [300, 600, 1200]);
    assert_eq!(lab.info_of(p.h).retransmits, 3);
    assert!(lab.traced("RTO backed off"));
    // The ACK comes late: Karn's rule, no sample from a retransmitted segment.
    lab.advance(ms(1000));
    p.rcv = p.rcv.wrapping_add(1);
    lab.send(&p.seg(&lab));
    let i = lab.info_of(p.h);
    assert_eq!((i.srtt, i.retransmits, i.total_retrans), (ms(100), 0, 3));
    assert_eq!(lab.tcp.poll_timeout(), None);
}

#[test]
fn gives_up_after_retries2() {
    let mut lab = Lab::with(TcpConfig { retries2: 3, ..TcpConfig::default() });
    let p = established_active(&mut lab);
    lab.send_data(p.h, b"x").unwrap();
    lab.expect();
    // Linux's budget for 3 is 0.2 s · (2^4 - 1) = 3 s from the first
    // retransmission (at 0.2 s): the fourth, at 3.0 s, is still within it
    // (`retransmits_timed_out`); the timeout at 6.2 s is not.
    for _ in 0..4 {
        lab.next_timer();
        lab.expect();
    }
    // The RTO backed off four times: 16 × (SRTT 1 µs + 200 ms).
    assert_eq!(lab.next_timer(), (ms(200) + Duration::from_micros(1)) * 16);
    lab.expect_none();
    assert!(lab.tcp.poll(p.h).contains(PollFlags::POLLERR | PollFlags::POLLHUP));
    assert_eq!(lab.send_data(p.h, b"x"), Err(Errno::ETIMEDOUT));
    assert_eq!(lab.send_data(p.h, b"x"), Err(Errno::EPIPE));
}

#[test]
fn fast_retransmit_and_newreno_recovery() {
    // Reno's numbers (ssthresh = FlightSize / 2); CUBIC's are in cong.rs.
    let mut lab = Lab::with(TcpConfig { congestion: CongAlgo::Reno, ..TcpConfig::default() });
    let mut p = established_active(&mut lab);
    let data = pattern(10 * 1460, 5);
    lab.send_data(p.h, &data).unwrap();
    let segs = lab.drain();
    assert_eq!(segs.len(), 10); // initial window: 10 segments
    let base = p.rcv;
    let cwnd0 = lab.info_of(p.h).cwnd;
    assert_eq!(cwnd0, 14600);
    // Segment 0 and 4 are lost; the peer sends duplicate ACKs for 0.
    for _ in 0..2 {
        lab.send(&p.seg(&lab));
        lab.expect_none();
    }
    lab.send(&p.seg(&lab));
    let rt = lab.expect();
    assert_eq!((rt.seq(), rt.data.len()), (base, 1460));
    let i = lab.info_of(p.h);
    assert!(i.in_recovery);
    assert_eq!((i.ssthresh, i.cwnd), (7300, 7300 + 3 * 1460));
    assert!(lab.traced("fast retransmit"));
    // Partial ACK up to segment 4: retransmit segment 4 at once (NewReno).
    p.rcv = base.wrapping_add(4 * 1460);
    lab.send(&p.seg(&lab));
    let rt = lab.drain();
    assert_eq!(rt[0].seq(), p.rcv);
    assert!(lab.info_of(p.h).in_recovery);
    // Full ACK: recovery ends with cwnd <= ssthresh.
    p.rcv = base.wrapping_add(10 * 1460);
    lab.send(&p.seg(&lab));
    let i = lab.info_of(p.h);
    assert!(!i.in_recovery);
    assert!(i.cwnd <= 7300);
}

// ------------------------------------------------------------ out of order

#[test]
fn out_of_order_segments_with_holes_and_overlaps() {
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    let d = pattern(500, 6);
    let at = |off: usize, len: usize| (p.snd.wrapping_add(off as u32), &d[off..off + len]);
    let send = |lab: &mut Lab, off: usize, len: usize| {
        let (s, b) = at(off, len);
        lab.send(&p.seg(lab).seq(s).data(b));
    };
    // Pieces: [300,400) then [100,200) then [150,350) overlapping both, then [450,500).
    for (off, len) in [(300, 100), (100, 100), (150, 200), (450, 50)] {
        send(&mut lab, off, len);
        // Every out-of-order arrival gets an immediate duplicate ACK for the hole.
        let a = lab.expect();
        assert_eq!(a.ack(), p.snd);
    }
    assert_eq!(lab.recv(p.h, 1000), Err(Errno::EAGAIN));
    assert_eq!(lab.sock(p.h).q.out_of_order_queue.len(), 2);
    assert_eq!(lab.info_of(p.h).ofo_bytes, 350);
    // Fill [0,100): [0,400) is delivered.
    send(&mut lab, 0, 100);
    assert_eq!(lab.expect().ack(), p.snd.wrapping_add(400));
    assert_eq!(lab.recv(p.h, 1000).unwrap(), &d[..400]);
    // A duplicate of old data: ACK at once.
    send(&mut lab, 0, 50);
    assert_eq!(lab.expect().ack(), p.snd.wrapping_add(400));
    // [400,460) overlaps the last piece: all 500 delivered.
    send(&mut lab, 400, 60);
    assert_eq!(lab.expect().ack(), p.snd.wrapping_add(500));
    assert_eq!(lab.recv(p.h, 1000).unwrap(), &d[400..]);
    assert_eq!(lab.info_of(p.h).ofo_bytes, 0);
}

#[test]
fn out_of_order_fin_waits_for_the_hole() {
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.send(&p.seg(&lab).seq(p.snd.wrapping_add(5)).flags(FIN | ACK).data(b"world"));
    assert_eq!(lab.expect().ack(), p.snd);
    assert_eq!(lab.state_of(80, 40000), Some("ESTABLISHED"));
    lab.send(&p.seg(&lab).data(b"hello"));
    assert_eq!(lab.expect().ack(), p.snd.wrapping_add(11));
    assert_eq!(lab.state_of(80, 40000), Some("CLOSE_WAIT"));
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"helloworld");
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"");
}

// ------------------------------------------------------------ closing

#[test]
fn active_close_through_fin_wait_and_time_wait() {
    let mut lab = Lab::new();
    let mut p = time_wait(&mut lab);
    assert!(lab.traced("FIN_WAIT_2 -> TIME_WAIT"));
    // A retransmitted FIN is ACKed again and restarts the 2 MSL timer.
    lab.advance(Duration::from_secs(30));
    lab.send(&p.seg(&lab).seq(p.snd.wrapping_sub(1)).flags(FIN | ACK));
    assert_eq!(lab.expect().ack(), p.snd);
    assert_eq!(lab.next_timer(), Duration::from_secs(60));
    assert_eq!(lab.state_of(p.lport, p.rport), None);
    // The application still holds the handle: CLOSED, read gives EOF.
    assert_eq!(lab.recv(p.h, 10).unwrap(), b"");
    assert!(lab.tcp.poll(p.h).contains(PollFlags::POLLHUP));
    lab.close(p.h);
    p.h = usize::MAX;
    let _ = p;
}

#[test]
fn fin_wait_1_fin_and_ack_together() {
    let mut lab = Lab::new();
    let mut p = fin_wait_1(&mut lab);
    lab.send(&p.seg(&lab).flags(FIN | ACK));
    p.snd = p.snd.wrapping_add(1);
    assert_eq!(lab.expect().ack(), p.snd);
    assert_eq!(lab.state_of(p.lport, p.rport), Some("TIME_WAIT"));
}

#[test]
fn passive_close_through_close_wait_and_last_ack() {
    let mut lab = Lab::new();
    let p = close_wait(&mut lab);
    assert_eq!(lab.tcp.poll(p.h), PollFlags::POLLIN | PollFlags::POLLRDHUP | PollFlags::POLLOUT);
    assert_eq!(lab.recv(p.h, 10).unwrap(), b"");
    // Half-closed: we can still send.
    lab.send_data(p.h, b"bye").unwrap();
    assert_eq!(lab.expect().data, b"bye");
    let mut p = p;
    p.rcv = p.rcv.wrapping_add(3);
    lab.close(p.h);
    let fin = lab.expect();
    assert!(fin.is(FIN | ACK));
    assert_eq!(lab.state_of(p.lport, p.rport), Some("LAST_ACK"));
    lab.send(&p.seg(&lab).ack(p.rcv.wrapping_add(1)));
    assert_eq!(lab.state_of(p.lport, p.rport), None);
    assert_eq!(lab.tcp.poll(p.h), PollFlags::POLLNVAL);
    assert_eq!(lab.tcp.poll_timeout(), None);
}

#[test]
fn simultaneous_close_through_closing() {
    let mut lab = Lab::new();
    let p = closing(&mut lab);
    lab.send(&p.seg(&lab));
    assert_eq!(lab.state_of(p.lport, p.rport), Some("TIME_WAIT"));
    assert!(lab.traced("CLOSING -> TIME_WAIT"));
}

#[test]
fn half_close_keeps_receiving() {
    let mut lab = Lab::new();
    let mut p = fin_wait_2(&mut lab);
    assert_eq!(lab.send_data(p.h, b"x"), Err(Errno::EPIPE));
    assert!(lab.tcp.poll(p.h).contains(PollFlags::POLLOUT));
    lab.send(&p.seg(&lab).data(b"still talking"));
    p.snd = p.snd.wrapping_add(13);
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"still talking");
    lab.send(&p.seg(&lab).flags(FIN | ACK));
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"");
    assert_eq!(lab.state_of(p.lport, p.rport), Some("TIME_WAIT"));
}

#[test]
fn orphaned_fin_wait_2_times_out() {
    let mut lab = Lab::new();
    let p = fin_wait_2(&mut lab);
    lab.close(p.h);
    assert_eq!(lab.next_timer(), Duration::from_secs(60));
    assert_eq!(lab.state_of(p.lport, p.rport), None);
}

#[test]
fn close_with_unread_data_sends_rst() {
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.send(&p.seg(&lab).data(b"unread"));
    lab.close(p.h);
    let r = lab.drain();
    assert!(r.last().unwrap().h.rst());
    assert_eq!(lab.state_of(80, 40000), None);
}

#[test]
fn close_reset_sends_rst_though_the_stack_holds_nothing_unread() {
    // The data was read out of the stack (by synack run's relay) but lost
    // by the program: tcp_close's RST all the same.
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.send(&p.seg(&lab).data(b"read here, lost there"));
    lab.drain();
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"read here, lost there");
    let (tcp, mut cx) = lab.parts();
    tcp.close_reset(&mut cx, p.h).unwrap();
    let r = lab.drain();
    assert!(r.last().unwrap().h.rst());
    assert_eq!(lab.state_of(80, 40000), None);
    // Once closed, the handle is gone.
    let (tcp, mut cx) = lab.parts();
    assert_eq!(tcp.close_reset(&mut cx, p.h), Err(Errno::EBADF));
}

#[test]
fn close_reset_of_a_connection_in_time_wait_is_a_plain_close() {
    let mut lab = Lab::new();
    let p = time_wait(&mut lab);
    let (tcp, mut cx) = lab.parts();
    tcp.close_reset(&mut cx, p.h).unwrap();
    lab.expect_none();
}

// ------------------------------------------------------------ resets

#[test]
fn rst_in_every_synchronized_state() {
    type Fixture = fn(&mut Lab) -> Peer;
    let cases: [(Fixture, Option<Errno>); 7] = [
        (established_active, Some(Errno::ECONNRESET)),
        (fin_wait_1, Some(Errno::ECONNRESET)),
        (fin_wait_2, Some(Errno::ECONNRESET)),
        (close_wait, Some(Errno::EPIPE)), // Linux `tcp_reset`: the peer had said it was done
        (closing, None),
        (last_ack, None),
        (time_wait, None),
    ];
    for (fixture, err) in cases {
        let mut lab = Lab::new();
        let p = fixture(&mut lab);
        let state = lab.state_of(p.lport, p.rport).unwrap();
        // Out of the window: dropped without an answer (RFC 9293 first check).
        lab.send(&p.seg(&lab).seq(p.snd.wrapping_add(1 << 30)).flags(RST));
        lab.expect_none();
        // In the window but not exact: a challenge ACK (RFC 5961 §3.2).
        if state != "TIME_WAIT" {
            lab.send(&p.seg(&lab).seq(p.snd.wrapping_add(10)).flags(RST));
            let c = lab.expect();
            assert!(c.is(ACK), "{state}");
            assert_eq!(c.ack(), p.snd, "{state}");
            assert_eq!(lab.state_of(p.lport, p.rport), Some(state));
        }
        // Exact: the connection is reset.
        lab.send(&p.seg(&lab).flags(RST));
        lab.expect_none();
        assert_eq!(lab.state_of(p.lport, p.rport), None, "{state}");
        assert_eq!(lab.tcp.getsockopt(p.h, SockOptName::Error).err(), err, "{state}");
        assert!(lab.tcp.poll(p.h).contains(PollFlags::POLLHUP), "{state}");
        if err.is_some() {
            assert_eq!(lab.send_data(p.h, b"x"), Err(Errno::EPIPE));
        }
    }
}

#[test]
fn rst_in_syn_received_returns_to_listen() {
    let mut lab = Lab::new();
    let l = lab.listen(80, 8);
    lab.send(&lab.seg(40000, 80).flags(SYN));
    lab.expect();
    lab.send(&lab.seg(40000, 80).seq(RISS.wrapping_add(1)).flags(RST));
    assert_eq!(lab.state_of(80, 40000), None);
    assert_eq!(lab.info_of(l).syn_queue, 0);
    assert_eq!(lab.info_of(l).state, TcpState::Listen);
}

#[test]
fn syn_in_window_gets_a_challenge_ack() {
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.send(&p.seg(&lab).flags(SYN).no_ack());
    let c = lab.expect();
    assert!(c.is(ACK));
    assert_eq!(c.ack(), p.snd);
    assert_eq!(lab.drops(DropReason::TcpSynInWindow), 1);
    assert_eq!(lab.state_of(80, 40000), Some("ESTABLISHED"));
}

#[test]
fn ack_of_unsent_data_is_answered_and_dropped() {
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.send(&p.seg(&lab).ack(p.rcv.wrapping_add(1000)).data(b"zz"));
    assert_eq!(lab.expect().ack(), p.snd);
    assert_eq!(lab.drops(DropReason::TcpAckUnsent), 1);
    assert_eq!(lab.recv(p.h, 10), Err(Errno::EAGAIN));
}

// ------------------------------------------------------------ RFC 5961

/// An off-path attacker who knows the 4-tuple but not the sequence numbers
/// sprays RSTs, SYNs and data with guessed numbers: nothing resets the
/// connection, no byte of theirs reaches the application, and the real peer
/// carries on.
#[test]
fn blind_attacks_with_guessed_sequence_numbers_leave_the_connection_alone() {
    let mut lab = Lab::new();
    let (_, mut p) = established_passive(&mut lab);
    let mut r = StdRng::seed_from_u64(5961);
    let (mut rsts, mut syns, mut data) = (0, 0, 0);
    for i in 0..6000u32 {
        // Guesses: half anywhere in the space, half close to RCV.NXT, in
        // the window but never exact.
        let guess = if (i / 3) % 2 == 0 { p.snd.wrapping_add(r.gen_range(1..60_000)) } else { r.gen::<u32>() };
        if guess == p.snd {
            continue;
        }
        match i % 3 {
            0 => {
                lab.send(&p.seg(&lab).seq(guess).flags(RST).no_ack());
                rsts += 1;
            }
            1 => {
                lab.send(&p.seg(&lab).seq(guess).flags(SYN).no_ack());
                syns += 1;
            }
            _ => {
                // Data with a guessed ACK outside [SND.UNA - MAX.SND.WND, SND.NXT].
                let ack = p.rcv.wrapping_add(r.gen_range(1..(1u32 << 31) - 70_000));
                lab.send(&p.seg(&lab).seq(guess).ack(ack).data(b"EVIL"));
                data += 1;
            }
        }
        for o in lab.drain() {
            assert!(o.is(ACK), "only (challenge) ACKs answer a blind segment: {:?}", o.h.flags);
            assert_eq!((o.seq(), o.ack()), (p.rcv, p.snd));
        }
    }
    assert!(rsts > 1900 && syns > 1900 && data > 1900, "{rsts} {syns} {data}");
    assert_eq!(lab.state_of(80, 40000), Some("ESTABLISHED"));
    assert_eq!(lab.recv(p.h, 100), Err(Errno::EAGAIN), "no injected byte was delivered");
    // Every challenge ACK counted, and no more than the limit in this second.
    let sent = lab.count(Counter::TcpChallengeAcks);
    assert!(sent > 0 && sent <= 1000, "{sent} challenge ACKs");
    assert!(lab.drops(DropReason::TcpRstInvalid) > 0);
    assert!(lab.drops(DropReason::TcpSynInWindow) > 0);
    assert!(lab.drops(DropReason::TcpAckUnsent) + lab.drops(DropReason::TcpOldAck) > 0);
    // The real peer is still heard, both ways.
    lab.advance(Duration::from_secs(1));
    lab.drain();
    lab.send(&p.seg(&lab).flags(ACK | PSH).data(b"hello"));
    p.snd = p.snd.wrapping_add(5);
    assert_eq!(lab.expect().ack(), p.snd, "the first data: a quick ACK");
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"hello");
    assert_eq!(lab.send_data(p.h, b"world"), Ok(5));
    let o = lab.expect();
    assert_eq!((o.data.as_slice(), o.ack()), (&b"world"[..], p.snd));
}

#[test]
fn challenge_acks_are_rate_limited_per_second() {
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    // 1,500 in-window RSTs at one instant: 1,000 answered, 500 not.
    for k in 0..1500u32 {
        lab.send(&p.seg(&lab).seq(p.snd.wrapping_add(1 + k)).flags(RST).no_ack());
    }
    assert_eq!(lab.drain().len(), 1000);
    assert_eq!(lab.count(Counter::TcpChallengeAcks), 1000);
    assert_eq!(lab.count(Counter::TcpChallengeAckLimited), 500);
    assert_eq!(lab.drops(DropReason::TcpRstInvalid), 1500);
    assert!(lab.traced("challenge ACK not sent"));
    // A SYN in the same second: dropped, unanswered.
    lab.send(&p.seg(&lab).flags(SYN).no_ack());
    lab.expect_none();
    assert_eq!(lab.count(Counter::TcpChallengeAckLimited), 501);
    // The next second has a fresh budget.
    lab.now = Instant::from_secs(lab.now.total_micros() / 1_000_000 + 1);
    lab.send(&p.seg(&lab).flags(SYN).no_ack());
    assert_eq!(lab.expect().ack(), p.snd);
    assert_eq!(lab.count(Counter::TcpChallengeAcks), 1001);
    assert_eq!(lab.state_of(80, 40000), Some("ESTABLISHED"));
}

/// RFC 5961 §5.2: SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT, else
/// discard and ACK; the left edge itself is still acceptable.
#[test]
fn acks_outside_the_acceptable_range_are_dropped() {
    let mut lab = Lab::new();
    let (_, mut p) = established_passive(&mut lab);
    let max_wnd = lab.sock(p.h).snd.max_wnd as u32;
    assert_eq!(max_wnd, 65535);
    // One below the left edge, with data: dropped, data and all, and ACKed.
    lab.send(&p.seg(&lab).ack(p.rcv.wrapping_sub(max_wnd + 1)).data(b"old"));
    assert_eq!(lab.expect().ack(), p.snd);
    assert_eq!(lab.drops(DropReason::TcpOldAck), 1);
    // One past SND.NXT: the same.
    lab.send(&p.seg(&lab).ack(p.rcv.wrapping_add(1)).data(b"new"));
    assert_eq!(lab.expect().ack(), p.snd);
    assert_eq!(lab.drops(DropReason::TcpAckUnsent), 1);
    assert_eq!(lab.recv(p.h, 10), Err(Errno::EAGAIN));
    assert_eq!(lab.count(Counter::TcpChallengeAcks), 2);
    // Exactly the left edge: acceptable (an old duplicate), data kept.
    lab.send(&p.seg(&lab).flags(ACK | PSH).ack(p.rcv.wrapping_sub(max_wnd)).data(b"ok"));
    p.snd = p.snd.wrapping_add(2);
    assert_eq!(lab.recv(p.h, 10).unwrap(), b"ok");
    assert_eq!(lab.stats.total_drops(), 2);
}

// ------------------------------------------------------------ SYN cookies

/// A spoofed source for flood segment `i`: 198.18.0.0/15 (RFC 2544's benchmark range).
fn spoofed(i: u32) -> (Ipv4Addr, u16) {
    (Ipv4Addr::new(198, 18 + (i >> 16) as u8 % 2, (i >> 8) as u8, i as u8), 1024 + (i % 60_000) as u16)
}

#[test]
fn syn_flood_is_answered_with_cookies_and_a_real_client_gets_in() {
    let mut lab = Lab::new();
    let l = lab.listen(80, 1);
    let baseline = lab.tcp.sockets_in_use();
    let mut max_sockets = 0;
    let mut flood = |lab: &mut Lab, range: core::ops::Range<u32>| {
        for i in range {
            let (ip, port) = spoofed(i);
            lab.send_from(ip, &lab.seg(port, 80).seq(i.wrapping_mul(7919)).flags(SYN).no_ack().mss(Some(1460)));
            for (dst, o) in lab.drain_any() {
                assert_eq!(dst, ip);
                assert!(o.is(SYN | ACK));
            }
            max_sockets = max_sockets.max(lab.tcp.sockets_in_use());
        }
    };
    flood(&mut lab, 0..3000);
    // backlog 1: one SYN on the SYN queue, every other one a cookie.
    assert_eq!(lab.info_of(l).syn_queue, 1);
    assert_eq!(lab.count(Counter::SyncookiesSent), 2999);
    assert_eq!(lab.drops(DropReason::TcpSynQueueFull), 0);

    // The real client: SYN, SYN-ACK with a cookie, ACK (with data).
    lab.send(&lab.seg(50000, 80).flags(SYN).no_ack().mss(Some(1400)).wscale(Some(7)));
    let synack = lab.expect();
    assert!(synack.is(SYN | ACK));
    assert_eq!(synack.ack(), RISS.wrapping_add(1));
    assert_eq!(synack.h.options.mss, Some(1460), "our MSS");
    assert_eq!(synack.h.options.wscale, None, "a cookie keeps no window scale");
    flood(&mut lab, 3000..5000);
    assert!(max_sockets <= baseline + 1, "{max_sockets} sockets during the flood");
    let p = Peer { h: 0, lport: 80, rport: 50000, snd: RISS.wrapping_add(1), rcv: synack.seq().wrapping_add(1) };
    lab.send(&p.seg(&lab).flags(ACK | PSH).data(b"hi"));
    assert_eq!(lab.count(Counter::SyncookiesRecv), 1);
    let (h, peer) = lab.accept(l).unwrap();
    assert_eq!(peer, SocketAddrV4::new(THEM, 50000));
    assert_eq!(lab.recv(h, 10).unwrap(), b"hi");
    let i = lab.info_of(h);
    assert_eq!((i.state, i.mss, i.snd_wscale, i.rcv_wscale), (TcpState::Established, 1300, 0, 0), "MSS from msstab");
    assert_eq!(lab.send_data(h, b"hello"), Ok(5));
    let o = lab.drain().into_iter().find(|o| !o.data.is_empty()).unwrap();
    assert_eq!((o.seq(), o.ack(), o.data.as_slice()), (p.rcv, p.snd.wrapping_add(2), &b"hello"[..]));
    lab.close(h);
    assert!(lab.expect().is(FIN | ACK));

    // A forged cookie is refused: counted, reset, no socket.
    let before = lab.tcp.sockets_in_use();
    let (ip, port) = spoofed(9999);
    lab.send_from(ip, &lab.seg(port, 80).seq(1234).ack(0xdead_beef));
    let out = lab.drain_any();
    assert_eq!(out.len(), 1);
    assert!(out[0].1.is(RST) && out[0].1.seq() == 0xdead_beef);
    assert_eq!(lab.count(Counter::SyncookiesFailed), 1);
    assert_eq!(lab.drops(DropReason::TcpSyncookieBad), 1);
    assert_eq!(lab.tcp.sockets_in_use(), before);

    // After the flood every half-open and closed child is gone.
    lab.send(&lab.seg(50000, 80).seq(p.snd.wrapping_add(2)).flags(RST).no_ack());
    lab.advance(Duration::from_secs(200));
    lab.drain_any();
    assert_eq!(lab.tcp.sockets_in_use(), baseline);
    assert_eq!(lab.info_of(l).syn_queue, 0);
}

#[test]
fn cookies_respect_a_full_accept_queue_and_can_be_turned_off() {
    let mut lab = Lab::new();
    let l = lab.listen(80, 1);
    // Fill the SYN queue with one half-open child.
    lab.send(&lab.seg(40000, 80).flags(SYN).no_ack());
    lab.expect();
    // Three clients get cookies.
    let mut cookies = vec![];
    for port in [50001, 50002, 50003] {
        lab.send(&lab.seg(port, 80).flags(SYN).no_ack());
        cookies.push((port, lab.expect().seq()));
    }
    assert_eq!(lab.count(Counter::SyncookiesSent), 3);
    // The first two complete into the accept queue (it holds backlog + 1 = 2)...
    for &(port, c) in &cookies[..2] {
        lab.send(&lab.seg(port, 80).seq(RISS.wrapping_add(1)).ack(c.wrapping_add(1)));
        lab.expect_none();
    }
    assert_eq!(lab.info_of(l).accept_queue, 2);
    // ...the third's valid cookie finds it full: dropped, no socket, no RST.
    let n = lab.tcp.sockets_in_use();
    let (port, c) = cookies[2];
    lab.send(&lab.seg(port, 80).seq(RISS.wrapping_add(1)).ack(c.wrapping_add(1)));
    lab.expect_none();
    assert_eq!(lab.count(Counter::SyncookiesRecv), 3);
    assert_eq!(lab.drops(DropReason::TcpAcceptQueueFull), 1);
    assert_eq!(lab.tcp.sockets_in_use(), n);
    // A new SYN is dropped too, cookie or not (Linux: ListenOverflows).
    lab.send(&lab.seg(50004, 80).flags(SYN).no_ack());
    lab.expect_none();
    assert_eq!(lab.drops(DropReason::TcpAcceptQueueFull), 2);
    // Once accept makes room, the third client's retransmitted ACK gets in.
    lab.accept(l).unwrap();
    lab.send(&lab.seg(port, 80).seq(RISS.wrapping_add(1)).ack(c.wrapping_add(1)));
    assert_eq!(lab.info_of(l).accept_queue, 2);

    // tcp_syncookies = 0: a full SYN queue drops the SYN.
    let mut lab = Lab::with(TcpConfig { syncookies: false, ..TcpConfig::default() });
    lab.listen(80, 1);
    lab.send(&lab.seg(40000, 80).flags(SYN).no_ack());
    lab.expect();
    lab.send(&lab.seg(40001, 80).flags(SYN).no_ack());
    lab.expect_none();
    assert_eq!(lab.drops(DropReason::TcpSynQueueFull), 1);
    assert_eq!(lab.count(Counter::SyncookiesSent), 0);
}

/// Without a recent overflow an ACK to a listener is not looked at as a
/// cookie: RST, as RFC 9293 §3.10.7.2 says.
#[test]
fn ack_to_a_quiet_listener_is_reset_not_checked_as_a_cookie() {
    let mut lab = Lab::new();
    lab.listen(80, 8);
    lab.send(&lab.seg(40000, 80).ack(12345));
    assert!(lab.expect().is(RST));
    assert_eq!(lab.drops(DropReason::TcpListenNoSyn), 1);
    assert_eq!(lab.count(Counter::SyncookiesFailed), 0);
}

// ------------------------------------------------------------ ports

#[test]
fn time_wait_holds_the_port_unless_reuseaddr() {
    let mut lab = Lab::new();
    // The server closes first, so the server side ends in TIME_WAIT.
    let (l, mut p) = established_passive(&mut lab);
    lab.close(p.h);
    p.rcv = lab.expect().seq().wrapping_add(1);
    lab.send(&p.seg(&lab).flags(FIN | ACK));
    lab.expect();
    lab.close(l);
    assert_eq!(lab.state_of(80, 40000), Some("TIME_WAIT"));
    let s = lab.socket();
    let any80 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80);
    assert_eq!(lab.tcp.bind(s, any80, &mut lab.rng), Err(Errno::EADDRINUSE));
    let r = lab.socket();
    lab.setopt(r, SockOpt::ReuseAddr(true));
    lab.tcp.bind(r, any80, &mut lab.rng).unwrap();
    lab.tcp.listen(r, 8, &mut lab.rng).unwrap();
    // A second listener on the port is refused even with SO_REUSEADDR.
    let t = lab.socket();
    lab.setopt(t, SockOpt::ReuseAddr(true));
    assert_eq!(lab.tcp.bind(t, any80, &mut lab.rng), Err(Errno::EADDRINUSE));
    // A new SYN above the old sequence space ends TIME_WAIT early (RFC 6191).
    lab.send(&lab.seg(40000, 80).seq(p.snd.wrapping_add(100_000)).flags(SYN));
    assert!(lab.expect().is(SYN | ACK));
    assert_eq!(lab.state_of(80, 40000), Some("SYN_RECEIVED"));
    lab.close(r);
    // After 2 MSL the port is free for anyone.
    lab.advance(Duration::from_secs(61));
    lab.tcp.bind(s, any80, &mut lab.rng).unwrap();
}

#[test]
fn listener_port_with_children_is_in_use() {
    let mut lab = Lab::new();
    let (l, _p) = established_passive(&mut lab);
    let s = lab.socket();
    lab.setopt(s, SockOpt::ReuseAddr(true));
    let any80 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80);
    assert_eq!(lab.tcp.bind(s, any80, &mut lab.rng), Err(Errno::EADDRINUSE));
    // With the listener closed, its established child still holds the port…
    lab.close(l);
    let t = lab.socket();
    assert_eq!(lab.tcp.bind(t, any80, &mut lab.rng), Err(Errno::EADDRINUSE));
    // …except for SO_REUSEADDR.
    lab.tcp.bind(s, any80, &mut lab.rng).unwrap();
}

#[test]
fn ephemeral_ports_are_random_and_distinct() {
    let mut lab = Lab::new();
    let mut ports = std::collections::HashSet::new();
    for _ in 0..50 {
        let h = lab.socket();
        let _ = lab.connect(h, 7000);
        let port = lab.tcp.getsockname(h).unwrap().port();
        assert!(EPHEMERAL_PORTS.contains(&port));
        assert!(ports.insert(port));
    }
    lab.drain();
}

#[test]
fn isn_differs_per_connection() {
    let mut lab = Lab::new();
    let a = established_active(&mut lab);
    let b = established_active(&mut lab);
    assert_ne!(a.rcv.wrapping_sub(b.rcv), 0);
    assert_ne!(lab.info_of(a.h).iss, lab.info_of(b.h).iss);
}

#[test]
fn bad_segments_are_dropped_with_reasons() {
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    let mut b = p.seg(&lab).data(b"abc").bytes();
    b[20] ^= 0xff;
    let (tcp, mut cx) = lab.parts();
    tcp.tcp_v4_rcv(&mut cx, THEM, US, SkBuff::from_frame(&b));
    tcp.tcp_v4_rcv(&mut cx, THEM, US, SkBuff::from_frame(&b[..10]));
    assert_eq!(lab.drops(DropReason::TcpBadChecksum), 1);
    assert_eq!(lab.drops(DropReason::TcpTooShort), 1);
    lab.send(&p.seg(&lab).no_ack().data(b"x"));
    assert_eq!(lab.drops(DropReason::TcpNoAck), 1);
    // Random bytes never panic.
    let mut r = StdRng::seed_from_u64(99);
    for _ in 0..2000 {
        let mut v = p.seg(&lab).data(b"payload").bytes();
        for _ in 0..r.gen_range(1..4) {
            let i = r.gen_range(0..v.len());
            v[i] = r.gen();
        }
        if r.gen_bool(0.5) {
            // Half the time, a valid checksum so the mutation reaches the state machine.
            v[16] = 0;
            v[17] = 0;
            finish_checksum(THEM, US, &mut v);
        }
        let (tcp, mut cx) = lab.parts();
        tcp.tcp_v4_rcv(&mut cx, THEM, US, SkBuff::from_frame(&v));
        lab.advance(ms(r.gen_range(0..100)));
        lab.drain();
    }
}

// ------------------------------------------------------------ two stacks

/// One end of the test network.
struct End {
    tcp: Tcp,
    ip: Ipv4Addr,
    stats: Stats,
    trace: Trace,
    probe: ProbeQueue,
    rng: StdRng,
    out: VecDeque<L4Xmit>,
}

/// Two `Tcp`s joined by a link with latency, seeded loss, reordering and duplication.
struct Net {
    ends: [End; 2],
    now: Instant,
    /// (deliver at, to end, packet)
    wire: Vec<(Instant, usize, L4Xmit)>,
    rng: StdRng,
    loss: f64,
    dup: f64,
    reorder: f64,
    latency: Duration,
    delivered: u64,
    lost: u64,
    /// Drop the n-th segment carrying data that end e sends (e, n from 1),
    /// and note its sequence number: a scripted loss.
    drop_data: Option<(usize, usize)>,
    data_sent: [usize; 2],
    dropped_seq: Option<u32>,
}

impl Net {
    fn new(seed: u64, loss: f64) -> Net {
        Net::with(seed, loss, TcpConfig::default())
    }
    fn with(seed: u64, loss: f64, cfg: TcpConfig) -> Net {
        let end = |ip: Ipv4Addr, s: u64| {
            let mut rng = StdRng::seed_from_u64(s);
            End {
                tcp: Tcp::new(cfg.clone(), &mut rng),
                ip,
                stats: Stats::default(),
                trace: Trace::default(),
                probe: ProbeQueue::default(),
                rng,
                out: VecDeque::new(),
            }
        };
        Net {
            ends: [end(Ipv4Addr::new(10, 0, 0, 1), seed), end(Ipv4Addr::new(10, 0, 0, 2), seed + 1)],
            now: Instant::from_secs(1),
            wire: Vec::new(),
            rng: StdRng::seed_from_u64(seed ^ 0x5eed),
            loss,
            dup: loss / 4.0,
            reorder: loss / 2.0,
            latency: ms(5),
            delivered: 0,
            lost: 0,
            drop_data: None,
            data_sent: [0; 2],
            dropped_seq: None,
        }
    }
    fn call<R>(&mut self, e: usize, f: impl FnOnce(&mut Tcp, &mut Cx) -> R) -> R {
        let now = self.now;
        let end = &mut self.ends[e];
        let mut cx = Cx {
            now,
            stats: &mut end.stats,
            trace: &mut end.trace,
            probe: &mut end.probe,
            rng: &mut end.rng,
            out: &mut end.out,
        };
        let r = f(&mut end.tcp, &mut cx);
        self.collect();
        r
    }
    /// Move what each end sent onto the wire, with loss, duplication and reordering.
    fn collect(&mut self) {
        for e in 0..2 {
            while let Some(x) = self.ends[e].out.pop_front() {
                let d = x.skb.data();
                if d.len() > usize::from(d[12] >> 4) * 4 {
                    self.data_sent[e] += 1;
                    if self.drop_data == Some((e, self.data_sent[e])) {
                        self.dropped_seq = Some(u32::from_be_bytes([d[4], d[5], d[6], d[7]]));
                        self.lost += 1;
                        continue;
                    }
                }
                if self.rng.gen_bool(self.loss) {
                    self.lost += 1;
                    continue;
                }
                let mut at = self.now + self.latency;
                if self.rng.gen_bool(self.reorder) {
                    at += Duration::from_micros(self.rng.gen_range(0..3000));
                }
                if self.rng.gen_bool(self.dup) {
                    let copy = L4Xmit {
                        src: x.src,
                        dst: x.dst,
                        protocol: x.protocol,
                        skb: x.skb.clone(),
                        ttl: x.ttl,
                        tos: x.tos,
                    };
                    self.wire.push((at + ms(1), 1 - e, copy));
                }
                self.wire.push((at, 1 - e, x));
            }
        }
    }
    /// Run until `done` or the time limit; each step jumps to the next event.
    fn run(&mut self, limit: Duration, mut app: impl FnMut(&mut Net) -> bool) -> bool {
        let end_time = self.now + limit;
        for _ in 0..5_000_000 {
            if app(self) {
                return true;
            }
            let next_pkt = self.wire.iter().map(|w| w.0).min();
            let next_timer = crate::time::earliest(self.ends[0].tcp.poll_timeout(), self.ends[1].tcp.poll_timeout());
            // The application also acts every 50 ms of virtual time (a slow
            // reader needs turns even when the network is quiet).
            let next = crate::time::earliest(next_pkt, next_timer).unwrap_or(Instant::from_micros(u64::MAX));
            let next = next.min(self.now + ms(50));
            if next > end_time {
                return false;
            }
            self.now = self.now.max(next);
            // Deliver every packet due now, in arrival order.
            let mut due: Vec<_> = Vec::new();
            let mut k = 0;
            while k < self.wire.len() {
                if self.wire[k].0 <= self.now {
                    due.push(self.wire.swap_remove(k));
                } else {
                    k += 1;
                }
            }
            due.sort_by_key(|d| d.0);
            for (_, to, x) in due {
                self.delivered += 1;
                self.call(to, |tcp, cx| tcp.tcp_v4_rcv(cx, x.src, x.dst, x.skb));
            }
            for e in 0..2 {
                if self.ends[e].tcp.poll_timeout().is_some_and(|t| t <= self.now) {
                    self.call(e, |tcp, cx| tcp.handle_timeout(cx));
                }
            }
        }
        false
    }
    fn addr(&self, e: usize, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(self.ends[e].ip, port)
    }
    fn listen(&mut self, e: usize, port: u16) -> usize {
        let end = &mut self.ends[e];
        let h = end.tcp.socket().unwrap();
        end.tcp.bind(h, SocketAddrV4::new(end.ip, port), &mut end.rng).unwrap();
        end.tcp.listen(h, 16, &mut end.rng).unwrap();
        h
    }
    fn connect(&mut self, e: usize, h: usize, to: SocketAddrV4) {
        let ip = self.ends[e].ip;
        let r = self.call(e, |tcp, cx| tcp.connect(cx, h, ip, to));
        assert_eq!(r, Err(Errno::EINPROGRESS));
    }
    fn poll(&self, e: usize, h: usize) -> PollFlags {
        self.ends[e].tcp.poll(h)
    }
}

/// Stream `data` from `s` on end `se` to `r` on end `re`, a step at a time.
struct Stream {
    /// Most bytes read per step (a slow reader closes the window).
    read_cap: usize,
    data: Vec<u8>,
    sent: usize,
    got: Vec<u8>,
    eof: bool,
    closed: bool,
}

impl Stream {
    fn new(n: usize, seed: u64) -> Stream {
        Stream { read_cap: usize::MAX, data: pattern(n, seed), sent: 0, got: Vec::new(), eof: false, closed: false }
    }
    /// Push and pull what the sockets take now; shut down writing when all is queued.
    fn step(&mut self, net: &mut Net, se: usize, s: usize, re: usize, r: usize) {
        while self.sent < self.data.len() {
            let chunk = &self.data[self.sent..(self.sent + 65536).min(self.data.len())];
            match net.call(se, |tcp, cx| tcp.send(cx, s, chunk, MsgFlags::NONE)) {
                Ok(n) => self.sent += n,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        if self.sent == self.data.len() && !self.closed {
            net.call(se, |tcp, cx| tcp.shutdown(cx, s, Shutdown::Write)).unwrap();
            self.closed = true;
        }
        let mut buf = vec![0u8; 65536.min(self.read_cap)];
        let mut read = 0;
        while !self.eof && read < self.read_cap {
            match net.call(re, |tcp, cx| tcp.recv(cx, r, &mut buf, MsgFlags::NONE)) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.got.extend_from_slice(&buf[..n]);
                    read += n;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => {
                    for end in net.ends.iter_mut() {
                        let mut v = vec![];
                        while let Some(ev) = end.trace.pop() {
                            v.push(format!("{} {}", ev.at, ev.text));
                        }
                        for l in v.iter().rev().take(60).rev() {
                            eprintln!("{l}");
                        }
                        eprintln!("-----");
                    }
                    panic!("recv: {e}")
                }
            }
        }
    }
}

/// A connection from end 0 to a listener on end 1, accepted: (client, server).
fn net_connect(net: &mut Net) -> (usize, usize) {
    let l = net.listen(1, 80);
    let c = net.ends[0].tcp.socket().unwrap();
    let to = net.addr(1, 80);
    net.connect(0, c, to);
    let mut server = None;
    let ok = net.run(Duration::from_secs(300), |net| {
        if server.is_none() {
            server = net.call(1, |tcp, cx| tcp.accept(cx, l)).ok().map(|(h, _)| h);
        }
        server.is_some() && net.poll(0, c).contains(PollFlags::POLLOUT)
    });
    assert!(
        ok,
        "handshake did not complete: {:?} {:?} {:?}",
        net.ends[0].tcp.info(net.now),
        net.ends[1].tcp.info(net.now),
        net.ends[0].tcp.getsockopt(c, SockOptName::Error)
    );
    (c, server.unwrap())
}

fn transfer_both_ways(seed: u64, loss: f64) {
    transfer_both_ways_with(seed, loss, TcpConfig::default());
}

/// `transfer_both_ways` with a configuration (cong.rs runs it under each
/// congestion control algorithm): returns how long the transfer took and
/// the retransmissions of both ends.
pub(super) fn transfer_both_ways_with(seed: u64, loss: f64, cfg: TcpConfig) -> (Duration, u64) {
    let size = if cfg!(debug_assertions) { 2 << 20 } else { 8 << 20 };
    let algo = SockOpt::Congestion(cfg.congestion);
    let mut net = Net::with(seed, loss, cfg);
    net.ends[0].trace.set_enabled(true);
    net.ends[1].trace.set_enabled(true);
    let (c, s) = net_connect(&mut net);
    assert_eq!(net.ends[0].tcp.getsockopt(c, SockOptName::Congestion), Ok(algo));
    assert_eq!(net.ends[1].tcp.getsockopt(s, SockOptName::Congestion), Ok(algo), "from the listener");
    let start = net.now;
    let mut up = Stream::new(size, seed + 10);
    let mut down = Stream::new(size, seed + 20);
    let ok = net.run(Duration::from_secs(3600), |net| {
        up.step(net, 0, c, 1, s);
        down.step(net, 1, s, 0, c);
        up.eof && down.eof
    });
    assert!(ok, "transfer stalled at {} / {} bytes (loss {loss})", up.got.len(), down.got.len());
    assert!(up.got == up.data, "client -> server bytes differ");
    assert!(down.got == down.data, "server -> client bytes differ");
    let took = net.now - start;
    // Both sides close; everything ends in TIME_WAIT / CLOSED and then goes away.
    net.call(0, |tcp, cx| tcp.close(cx, c)).unwrap();
    net.call(1, |tcp, cx| tcp.close(cx, s)).unwrap();
    let ok = net.run(Duration::from_secs(600), |net| {
        net.ends.iter().all(|e| e.tcp.info(net.now).iter().all(|i| i.state == TcpState::Listen))
    });
    assert!(ok, "connections did not finish closing: {:?}", net.ends[0].tcp.info(net.now));
    let retransmits = net.ends[0].stats.get(Counter::TcpRetransmits) + net.ends[1].stats.get(Counter::TcpRetransmits);
    if loss > 0.0 {
        assert!(net.lost > 0);
        assert!(retransmits > 0);
    }
    (took, retransmits)
}

#[test]
fn transfer_both_ways_no_loss() {
    transfer_both_ways(1, 0.0);
}

#[test]
fn transfer_both_ways_5_percent_loss() {
    transfer_both_ways(2, 0.05);
}

#[test]
fn transfer_both_ways_20_percent_loss() {
    transfer_both_ways(3, 0.20);
}

#[test]
fn net_simultaneous_open() {
    let mut net = Net::new(4, 0.0);
    let a = net.ends[0].tcp.socket().unwrap();
    let b = net.ends[1].tcp.socket().unwrap();
    for (e, h) in [(0, a), (1, b)] {
        let end = &mut net.ends[e];
        end.tcp.bind(h, SocketAddrV4::new(end.ip, 6000), &mut end.rng).unwrap();
    }
    let (ta, tb) = (net.addr(1, 6000), net.addr(0, 6000));
    net.connect(0, a, ta);
    net.connect(1, b, tb);
    let ok = net.run(Duration::from_secs(60), |net| {
        net.poll(0, a).contains(PollFlags::POLLOUT) && net.poll(1, b).contains(PollFlags::POLLOUT)
    });
    assert!(ok);
    let mut st = Stream::new(10_000, 9);
    assert!(net.run(Duration::from_secs(60), |net| {
        st.step(net, 0, a, 1, b);
        st.eof
    }));
    assert_eq!(st.got, st.data);
}

#[test]
fn net_simultaneous_close() {
    let mut net = Net::new(5, 0.0);
    let (c, s) = net_connect(&mut net);
    // Both FINs leave before either arrives.
    net.call(0, |tcp, cx| tcp.close(cx, c)).unwrap();
    net.call(1, |tcp, cx| tcp.close(cx, s)).unwrap();
    let states =
        |net: &Net, e: usize| net.ends[e].tcp.info(net.now).iter().map(|i| i.state.rfc_name()).collect::<Vec<_>>();
    assert!(net.run(Duration::from_secs(10), |net| states(net, 0).contains(&"TIME_WAIT")));
    assert!(states(&net, 1).contains(&"TIME_WAIT"));
    net.ends[0].trace.set_enabled(false);
    assert!(net.run(Duration::from_secs(120), |net| states(net, 0).is_empty() && states(net, 1) == ["LISTEN"]));
}

#[test]
fn net_half_close() {
    let mut net = Net::new(6, 0.0);
    let (c, s) = net_connect(&mut net);
    net.call(0, |tcp, cx| tcp.shutdown(cx, c, Shutdown::Write)).unwrap();
    let mut buf = [0u8; 100];
    assert!(net
        .run(Duration::from_secs(10), |net| net.call(1, |tcp, cx| tcp.recv(cx, s, &mut buf, MsgFlags::NONE)) == Ok(0)));
    // The server keeps sending; the half-closed client keeps receiving.
    let mut st = Stream::new(300_000, 11);
    assert!(net.run(Duration::from_secs(60), |net| {
        st.step(net, 1, s, 0, c);
        st.eof
    }));
    assert_eq!(st.got, st.data);
}

#[test]
/// Many seeds, with and without tiny buffers, a tiny MSS and slow readers
/// (zero windows, persist probes, SWS avoidance) under loss.
fn transfer_many_seeds_small_buffers_slow_readers() {
    let seeds = if cfg!(debug_assertions) { 100..110u64 } else { 100..160u64 };
    for seed in seeds {
        for loss in [0.05, 0.2, 0.3] {
            let size = if cfg!(debug_assertions) { 100_000 } else { 300_000 };
            let small = seed % 2 == 0;
            // At 30 % loss each way a retransmission and its ACK both get
            // through half the time; 15 tries in a row can fail (seed 110
            // once lost 12 of 15 copies and the 3 ACKs), and `tcp_retries2`
            // then gives up as it should. This test is about the bytes, so
            // it allows more tries.
            let base = TcpConfig { retries2: 30, ..TcpConfig::default() };
            let cfg = if small {
                TcpConfig { sndbuf: 5000, rcvbuf: 3000 + seed as usize * 10, mss: 536 + seed as u16, ..base }
            } else {
                base
            };
            let mut net = Net::with(seed, 0.0, cfg);
            let (c, s) = net_connect(&mut net);
            (net.loss, net.dup, net.reorder) = (loss, loss / 4.0, loss / 2.0);
            let mut up = Stream::new(size, seed + 10);
            let mut down = Stream::new(size, seed + 20);
            if small {
                up.read_cap = 700;
                down.read_cap = 1 + seed as usize;
            }
            let ok = net.run(Duration::from_secs(3600), |net| {
                up.step(net, 0, c, 1, s);
                down.step(net, 1, s, 0, c);
                up.eof && down.eof
            });
            if !ok {
                for e in 0..2 {
                    for i in net.ends[e].tcp.info(net.now) {
                        eprintln!("{e}: {i:?}");
                    }
                }
                eprintln!("now {} wire {}", net.now, net.wire.len());
            }
            assert!(ok, "seed {seed} loss {loss}: stalled at {} / {}", up.got.len(), down.got.len());
            assert!(up.got == up.data && down.got == down.data, "seed {seed}");
            net.call(0, |tcp, cx| tcp.close(cx, c)).unwrap();
            net.call(1, |tcp, cx| tcp.close(cx, s)).unwrap();
            let ok = net.run(Duration::from_secs(600), |net| {
                net.ends.iter().all(|e| e.tcp.info(net.now).iter().all(|i| i.state == TcpState::Listen))
            });
            assert!(
                ok,
                "seed {seed} loss {loss}: close {:?}",
                net.ends[0].tcp.info(net.now).iter().map(|i| i.state.rfc_name()).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn keepalive_probes_then_times_out() {
    let mut lab = Lab::new();
    let p = established_active(&mut lab);
    lab.setopt(p.h, SockOpt::KeepAlive(true));
    assert_eq!(lab.next_timer(), Duration::from_secs(7200));
    let probe = lab.expect();
    assert_eq!((probe.seq(), probe.data.len()), (p.rcv.wrapping_sub(1), 0));
    // The peer answers: the connection stays; the next probe is 7200 s after that.
    lab.send(&p.seg(&lab));
    assert_eq!(lab.next_timer(), Duration::from_secs(75));
    lab.expect_none();
    assert_eq!(lab.next_timer(), Duration::from_secs(7200 - 75));
    lab.expect();
    // Silence: 9 probes 75 s apart, then a RST (Linux `tcp_keepalive_timer`)
    // and ETIMEDOUT.
    for _ in 0..8 {
        assert_eq!(lab.next_timer(), Duration::from_secs(75));
        lab.expect();
    }
    lab.next_timer();
    let rst = lab.expect();
    assert!(rst.is(RST | ACK));
    assert_eq!(rst.seq(), p.rcv);
    lab.expect_none();
    assert_eq!(lab.tcp.getsockopt(p.h, SockOptName::Error), Err(Errno::ETIMEDOUT));
}

#[test]
fn close_during_handshake_sends_fin_after_it() {
    let mut lab = Lab::new();
    let h = lab.socket();
    lab.tcp.bind(h, SocketAddrV4::new(US, 5000), &mut lab.rng).unwrap();
    let _ = lab.connect(h, 5000);
    let syn = lab.expect();
    lab.send(&lab.seg(5000, 5000).flags(SYN));
    lab.expect(); // SYN-ACK: SYN_RECEIVED by simultaneous open
    lab.shutdown(h, Shutdown::Write);
    lab.expect_none();
    lab.send(&lab.seg(5000, 5000).seq(RISS.wrapping_add(1)).ack(syn.seq().wrapping_add(1)));
    let fin = lab.expect();
    assert!(fin.is(FIN | ACK));
    assert_eq!(fin.seq(), syn.seq().wrapping_add(1));
    assert_eq!(lab.state_of(5000, 5000), Some("FIN_WAIT_1"));
}

/// The whole path: two `Stack`s joined frame by frame (ARP, IPv4, TCP).
#[test]
fn two_stacks_over_ethernet() {
    use crate::socket::{SockType, SocketHandle};
    use crate::stack::{Config, Stack};
    use crate::wire::MacAddr;
    let now = Instant::from_secs(1);
    let mut server = Stack::new(Config::default(), now);
    let client_cfg = Config {
        mac: MacAddr([2, 0, 0, 0, 0, 1]),
        addr: Ipv4Addr::new(10, 0, 0, 1),
        gateway: None,
        seed: 77,
        ..Config::default()
    };
    let mut client = Stack::new(client_cfg, now);
    let shuttle = |a: &mut Stack, b: &mut Stack| {
        let mut n = 0;
        loop {
            let mut moved = false;
            while let Some(f) = a.poll_transmit(now) {
                b.handle_frame(now, SkBuff::from_frame(f.data()));
                moved = true;
                n += 1;
            }
            while let Some(f) = b.poll_transmit(now) {
                a.handle_frame(now, SkBuff::from_frame(f.data()));
                moved = true;
                n += 1;
            }
            if !moved || n > 10_000 {
                break;
            }
        }
    };
    let l = server.socket(SockType::Stream).unwrap();
    server.bind(l, "0.0.0.0:80".parse().unwrap()).unwrap();
    server.listen(l, 8).unwrap();
    let c = client.socket(SockType::Stream).unwrap();
    assert_eq!(client.connect(now, c, "10.0.0.2:80".parse().unwrap()), Err(Errno::EINPROGRESS));
    shuttle(&mut client, &mut server);
    assert!(client.poll_socket(c).contains(PollFlags::POLLOUT));
    let (s, peer) = server.accept(now, l).unwrap();
    assert!(matches!(s, SocketHandle::Tcp(_)));
    assert_eq!(*peer.ip(), Ipv4Addr::new(10, 0, 0, 1));
    let data = pattern(200_000, 8);
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    for _ in 0..1000 {
        if sent < data.len() {
            if let Ok(n) = client.send(now, c, &data[sent..], MsgFlags::NONE) {
                sent += n;
            }
        }
        shuttle(&mut client, &mut server);
        while let Ok(n) = server.recv(now, s, &mut buf, MsgFlags::NONE) {
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data);
    client.close(now, c).unwrap();
    shuttle(&mut client, &mut server);
    assert_eq!(server.recv(now, s, &mut buf, MsgFlags::NONE), Ok(0));
    server.close(now, s).unwrap();
    shuttle(&mut client, &mut server);
    let states: Vec<_> = client.tcp_info(now).into_iter().map(|i| i.state).collect();
    assert_eq!(states, [TcpState::TimeWait]);
}

#[test]
fn partial_writes_fill_the_send_buffer() {
    let mut lab = Lab::new();
    let mut p = established_active(&mut lab);
    // Linux doubles the value asked for.
    lab.setopt(p.h, SockOpt::SndBuf(3000));
    assert_eq!(lab.tcp.getsockopt(p.h, SockOptName::SndBuf), Ok(SockOpt::SndBuf(6000)));
    lab.send(&p.seg(&lab).window(0));
    assert_eq!(lab.send_data(p.h, &pattern(8000, 1)), Ok(6000));
    assert_eq!(lab.send_data(p.h, b"more"), Err(Errno::EAGAIN));
    assert!(!lab.tcp.poll(p.h).contains(PollFlags::POLLOUT));
    assert_eq!(lab.info_of(p.h).send_q, 6000);
    lab.send(&p.seg(&lab).window(10_000));
    let sent: usize = lab.drain().iter().map(|o| o.data.len()).sum();
    // Linux's Nagle is Minshall's: the 160-byte runt goes too, as no
    // small segment is unacknowledged.
    assert_eq!(sent, 6000);
    p.rcv = p.rcv.wrapping_add(6000);
    lab.send(&p.seg(&lab).window(10_000));
    assert!(lab.tcp.poll(p.h).contains(PollFlags::POLLOUT));
    assert_eq!(lab.send_data(p.h, b"more"), Ok(4));
}

#[test]
fn segments_straddling_the_window_edges_are_trimmed() {
    let mut lab = Lab::new();
    let l = lab.listen(80, 8);
    // Linux's smallest buffer (SOCK_MIN_RCVBUF, 2304: a 1152-byte window
    // share), less than a segment.
    lab.setopt(l, SockOpt::RcvBuf(1000));
    lab.send(&lab.seg(40000, 80).flags(SYN));
    let sa = lab.expect();
    assert_eq!(sa.h.window, 1152);
    let mut p = Peer { h: 0, lport: 80, rport: 40000, snd: RISS.wrapping_add(1), rcv: sa.seq().wrapping_add(1) };
    lab.send(&p.seg(&lab));
    p.h = lab.accept(l).unwrap().0;
    let d = pattern(2000, 12);
    lab.send(&p.seg(&lab).data(&d[..100]));
    // Starts 50 bytes before RCV.NXT and ends 798 bytes past the right edge.
    lab.send(&p.seg(&lab).seq(p.snd.wrapping_add(50)).data(&d[50..1950]));
    // The first is quick-ACKed (a budget of 1152 / (2 · 576) = 1,
    // `tcp_incr_quickack`); the second fills the window, and its ACK, which
    // would not reopen it, waits for the delayed-ACK timer.
    let acks = lab.drain();
    assert_eq!(acks.len(), 1);
    assert_eq!((acks[0].ack(), acks[0].h.window), (p.snd.wrapping_add(100), 1052));
    assert_eq!(lab.next_timer(), ms(40));
    let a = lab.expect();
    assert_eq!(a.ack(), p.snd.wrapping_add(1152));
    assert_eq!(a.h.window, 0);
    assert_eq!(lab.recv(p.h, 2000).unwrap(), &d[..1152]);
}

#[test]
fn close_in_syn_sent_and_listen_frees_everything() {
    let mut lab = Lab::new();
    let h = lab.socket();
    let _ = lab.connect(h, 7000);
    lab.expect();
    lab.close(h);
    assert_eq!(lab.tcp.poll(h), PollFlags::POLLNVAL);
    assert_eq!(lab.tcp.poll_timeout(), None);
    // A listener with a half-open child: both go, nothing is left behind.
    let l = lab.listen(80, 8);
    lab.send(&lab.seg(40000, 80).flags(SYN));
    lab.expect();
    lab.close(l);
    lab.expect_none();
    assert!(lab.tcp.info(lab.now).is_empty());
    assert_eq!(lab.tcp.poll_timeout(), None);
    let s = lab.socket();
    lab.tcp.bind(s, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), &mut lab.rng).unwrap();
}

// ------------------------------------------------------------ property tests

/// One step of a hostile network or of the applications.
#[derive(Clone, Debug)]
enum Act {
    /// End `from` writes `len` more bytes of its stream.
    Send { from: usize, len: usize },
    /// End `at` reads what it can (up to 3,000 bytes).
    Recv { at: usize },
    /// Deliver the packet at this position on the wire (any order: reordering).
    Deliver(usize),
    /// Lose it.
    Lose(usize),
    /// Deliver a copy now and keep the original on the wire.
    Duplicate(usize),
    /// Flip bits of one byte of it (the checksum must catch it), then deliver.
    Corrupt(usize, usize, u8),
    /// Let time pass, running timers (retransmissions, delayed ACKs, probes).
    Tick(u64),
}

fn act() -> impl proptest::strategy::Strategy<Value = Act> {
    use proptest::prelude::*;
    prop_oneof![
        2 => (0..2usize, 1..3000usize).prop_map(|(from, len)| Act::Send { from, len }),
        2 => (0..2usize).prop_map(|at| Act::Recv { at }),
        6 => any::<usize>().prop_map(Act::Deliver),
        1 => any::<usize>().prop_map(Act::Lose),
        1 => any::<usize>().prop_map(Act::Duplicate),
        1 => (any::<usize>(), any::<usize>(), 1..=255u8).prop_map(|(i, p, v)| Act::Corrupt(i, p, v)),
        2 => (1..400u64).prop_map(Act::Tick),
    ]
}

/// The byte stream end `e` sends: position-dependent, so a misplaced byte shows.
fn stream_byte(e: usize, i: usize) -> u8 {
    (i.wrapping_mul(31).wrapping_add(i >> 8).wrapping_add(e * 101) & 0xff) as u8
}

/// Two connected ends, the bytes each application wrote and read.
struct Duplex {
    net: Net,
    h: [usize; 2],
    sent: [Vec<u8>; 2],
    got: [Vec<u8>; 2],
}

impl Duplex {
    fn new() -> Duplex {
        let cfg = TcpConfig { sndbuf: 8192, rcvbuf: 4096, ..TcpConfig::default() };
        let mut net = Net::with(11, 0.0, cfg);
        let (c, s) = net_connect(&mut net);
        Duplex { net, h: [c, s], sent: Default::default(), got: Default::default() }
    }

    fn step(&mut self, a: &Act) {
        let net = &mut self.net;
        match *a {
            Act::Send { from, len } => {
                let off = self.sent[from].len();
                let buf: Vec<u8> = (off..off + len).map(|i| stream_byte(from, i)).collect();
                let h = self.h[from];
                if let Ok(n) = net.call(from, |tcp, cx| tcp.send(cx, h, &buf, MsgFlags::NONE)) {
                    self.sent[from].extend_from_slice(&buf[..n]);
                }
            }
            Act::Recv { at } => {
                let mut buf = vec![0; 3000];
                let h = self.h[at];
                if let Ok(n) = net.call(at, |tcp, cx| tcp.recv(cx, h, &mut buf, MsgFlags::NONE)) {
                    self.got[at].extend_from_slice(&buf[..n]);
                }
            }
            Act::Deliver(i) | Act::Lose(i) | Act::Duplicate(i) | Act::Corrupt(i, ..) if !net.wire.is_empty() => {
                let k = i % net.wire.len();
                let (_, to, x) = if matches!(a, Act::Duplicate(_)) {
                    let (t, to, x) = &net.wire[k];
                    (
                        *t,
                        *to,
                        L4Xmit {
                            src: x.src,
                            dst: x.dst,
                            protocol: x.protocol,
                            skb: x.skb.clone(),
                            ttl: x.ttl,
                            tos: x.tos,
                        },
                    )
                } else {
                    net.wire.swap_remove(k)
                };
                if matches!(a, Act::Lose(_)) {
                    return;
                }
                let mut skb = x.skb;
                if let Act::Corrupt(_, p, v) = *a {
                    let n = skb.len();
                    skb.data_mut()[p % n] ^= v;
                }
                net.call(to, |tcp, cx| tcp.tcp_v4_rcv(cx, x.src, x.dst, skb));
            }
            Act::Tick(ms_) => {
                let target = net.now + ms(ms_);
                while let Some(t) =
                    crate::time::earliest(net.ends[0].tcp.poll_timeout(), net.ends[1].tcp.poll_timeout())
                {
                    if t > target {
                        break;
                    }
                    net.now = net.now.max(t);
                    for e in 0..2 {
                        if net.ends[e].tcp.poll_timeout().is_some_and(|t| t <= net.now) {
                            net.call(e, |tcp, cx| tcp.handle_timeout(cx));
                        }
                    }
                }
                net.now = target;
            }
            _ => {}
        }
    }

    /// The invariants, on every socket of both ends.
    fn check(&self) -> Result<(), String> {
        for (e, end) in self.net.ends.iter().enumerate() {
            let cfg = end.tcp.config();
            for sk in end.tcp.socks.iter().flatten().filter(|s| s.listen.is_none()) {
                let who = format!("end {e} {} {}", sk.local, sk.state.rfc_name());
                if !(sk.snd.una.before_eq(sk.snd.nxt) && sk.snd.nxt.before_eq(sk.snd.max)) {
                    return Err(format!("{who}: snd_una {} snd_nxt {} snd_max {}", sk.snd.una, sk.snd.nxt, sk.snd.max));
                }
                // The window is rounded up to the scale's granularity
                // (Linux `tcp_select_window`), which may promise more than
                // the window's share of the buffer (`rcvbuf`, half of
                // SO_RCVBUF); the whole buffer takes text while it has
                // room, so it may end one segment beyond that.
                let rcv_limit = 2 * sk.q.rcvbuf + cfg.mss as usize;
                if sk.q.snd_buf.len() > sk.q.sndbuf || sk.q.rcv_buf.len() > rcv_limit {
                    return Err(format!("{who}: snd_buf {} rcv_buf {}", sk.q.snd_buf.len(), sk.q.rcv_buf.len()));
                }
                let ofo: usize = sk.q.out_of_order_queue.iter().map(|s| s.data.len()).sum();
                if ofo != sk.q.ofo_bytes || ofo > cfg.max_ofo_bytes || sk.q.out_of_order_queue.len() > MAX_OFO_SEGMENTS
                {
                    return Err(format!("{who}: ofo {ofo} bytes (counted {})", sk.q.ofo_bytes));
                }
            }
        }
        for e in 0..2 {
            let (got, sent) = (&self.got[e], &self.sent[1 - e]);
            if got.len() > sent.len() || got[..] != sent[..got.len()] {
                let at = got.iter().zip(sent.iter()).position(|(a, b)| a != b).unwrap_or(sent.len());
                return Err(format!(
                    "end {e} read {} bytes, not a prefix of the {} sent (first difference at {at})",
                    got.len(),
                    sent.len()
                ));
            }
        }
        Ok(())
    }

    /// A quiet network from now on: everything written must arrive.
    fn heal(&mut self) -> bool {
        let (h, want) = (self.h, [self.sent[1].len(), self.sent[0].len()]);
        let got = std::cell::RefCell::new(std::mem::take(&mut self.got));
        let ok = self.net.run(Duration::from_secs(900), |net| {
            let mut g = got.borrow_mut();
            for e in 0..2 {
                let mut buf = vec![0; 8192];
                while let Ok(n @ 1..) = net.call(e, |tcp, cx| tcp.recv(cx, h[e], &mut buf, MsgFlags::NONE)) {
                    g[e].extend_from_slice(&buf[..n]);
                }
            }
            g[0].len() >= want[0] && g[1].len() >= want[1]
        });
        self.got = got.into_inner();
        ok
    }
}

proptest::proptest! {
    /// Random segment sequences (loss, duplication, reordering, corrupted
    /// bytes) between two connected ends while both applications write and
    /// read: after every step `snd_una <= snd_nxt <= snd_max` (wrapping),
    /// buffers and the out-of-order queue within their bounds, and what each
    /// application read is exactly a prefix of what the other wrote. Then,
    /// on a quiet network, everything written arrives.
    #[test]
    fn hostile_network_keeps_the_invariants(acts in proptest::collection::vec(act(), 1..150)) {
        let mut d = Duplex::new();
        for (i, a) in acts.iter().enumerate() {
            d.step(a);
            if let Err(e) = d.check() {
                proptest::prop_assert!(false, "after step {i} {a:?}: {e}");
            }
        }
        proptest::prop_assert!(d.heal(), "not everything arrived: read {}/{} and {}/{}", d.got[0].len(), d.sent[1].len(), d.got[1].len(), d.sent[0].len());
        proptest::prop_assert!(d.check().is_ok(), "{:?}", d.check());
    }
}

// ------------------------------------------------- RFC 7323 timestamps, SACK

/// Fixture: a passive open from a peer whose SYN offers what Linux's does
/// (MSS 1460, SACK-Permitted, Timestamps, window scale 7), accepted. The
/// peer's clock starts at 100 ms and `Peer::rcv` is our next sequence number.
fn established_linux_peer(lab: &mut Lab) -> (Peer, u32) {
    let l = lab.listen(80, 8);
    lab.send(&lab.seg(40000, 80).flags(SYN).mss(Some(1460)).sack_perm().ts(100, 0).wscale(Some(7)));
    let synack = lab.expect();
    assert!(synack.is(SYN | ACK));
    let o = synack.h.options;
    assert!(o.sack_permitted, "SACK-Permitted echoed");
    let (our_ts, echo) = o.timestamp.expect("Timestamps echoed");
    assert_eq!(echo, 100, "TSecr = the SYN's TSval");
    assert_eq!(o.mss, Some(1460));
    let p = Peer { h: 0, lport: 80, rport: 40000, snd: RISS.wrapping_add(1), rcv: synack.seq().wrapping_add(1) };
    lab.send(&p.seg(lab).ts(101, our_ts));
    lab.expect_none();
    let (h, _) = lab.accept(l).unwrap();
    (Peer { h, ..p }, our_ts)
}

#[test]
fn timestamps_on_every_segment_and_mss_less_twelve() {
    let mut lab = Lab::new();
    let (p, _) = established_linux_peer(&mut lab);
    assert!(lab.sock(p.h).ts.ok && lab.sock(p.h).sack.ok);
    // RFC 7323 §3.2: 12 bytes of every segment are the option: 1448 of payload.
    assert_eq!(lab.sock(p.h).snd.mss, 1448);
    lab.advance(ms(30));
    lab.send_data(p.h, &[7u8; 2896]).unwrap();
    let segs = lab.drain();
    assert_eq!(segs.iter().map(|o| o.data.len()).collect::<Vec<_>>(), vec![1448, 1448]);
    for o in &segs {
        let (val, ecr) = o.h.options.timestamp.expect("TS on data");
        assert_eq!(ecr, 101, "TSecr = TS.Recent, the peer's last in-order TSval");
        assert_eq!(o.h.hdr_len(), 32);
        let _ = val;
    }
    // Our clock ticks in ms: 30 ms later, TSval is 30 more than on the SYN-ACK.
    let v0 = segs[0].h.options.timestamp.unwrap().0;
    lab.advance(ms(40));
    // No ACK for 40 ms (over 2·SRTT): a tail loss probe resent the last segment (RFC 8985 §7.3).
    let probe = lab.drain();
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].seq(), p.rcv.wrapping_add(1448));
    let probe_ts = probe[0].h.options.timestamp.unwrap().0;
    assert_eq!(probe_ts, v0 + 2, "PTO: 2·SRTT + 2 ms (Linux tcp_schedule_loss_probe, TCP_TIMEOUT_MIN)");
    lab.send(&p.seg(&lab).ack(p.rcv.wrapping_add(2896)).ts(150, probe_ts));
    lab.send_data(p.h, b"x").unwrap();
    let o = lab.expect();
    assert_eq!(o.h.options.timestamp, Some((v0 + 40, 150)));
    // The ACK covers resent data, so Karn forbids timing it by our clock;
    // the echo of the probe's TSval times it (RFC 7323 §4): 38 ms, folded
    // into the handshake's ~0 ms sample: SRTT = 7/8·0 + 1/8·38 ms.
    assert_eq!(lab.info_of(p.h).srtt, Duration::from_micros(4750));
}

#[test]
fn paws_drops_an_old_duplicate() {
    let mut lab = Lab::new();
    let (p, our) = established_linux_peer(&mut lab);
    lab.send(&p.seg(&lab).ts(500, our).data(b"new"));
    lab.advance(ms(50));
    let ack = lab.expect();
    assert_eq!(ack.ack(), p.snd.wrapping_add(3));
    assert_eq!(ack.h.options.timestamp.unwrap().1, 500);
    // In the window by its sequence number, but its timestamp is older than
    // TS.Recent: an old duplicate from a previous wrap (RFC 7323 §5.3 R1).
    lab.send(&p.seg(&lab).seq(p.snd.wrapping_add(3)).ts(400, our).data(b"old"));
    assert_eq!(lab.drops(DropReason::TcpPawsRejected), 1);
    let ack = lab.expect();
    assert!(ack.is(ACK), "an ACK in reply (R1)");
    assert_eq!(ack.ack(), p.snd.wrapping_add(3), "its text was not taken");
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"new");
    // A RST is exempt from PAWS, and resets if exact.
    lab.send(&p.seg(&lab).seq(p.snd.wrapping_add(3)).flags(RST).ts(1, 0));
    assert_eq!(lab.state_of(80, 40000), None);
}

#[test]
fn sack_blocks_most_recent_first_and_dsack() {
    let mut lab = Lab::new();
    let (p, our) = established_linux_peer(&mut lab);
    let base = p.snd;
    let at = |k: u32| base.wrapping_add(1000 * k);
    let d = vec![1u8; 1000];
    lab.send(&p.seg(&lab).seq(at(0)).ts(200, our).data(&d));
    lab.send(&p.seg(&lab).seq(at(2)).ts(201, our).data(&d));
    let a = lab.drain();
    let last = a.last().unwrap();
    assert_eq!(last.ack(), at(1));
    let blocks = |o: &Out| o.h.options.sack_blocks().iter().map(|b| (b.0 .0, b.1 .0)).collect::<Vec<_>>();
    assert_eq!(blocks(last), vec![(at(2), at(3))]);
    lab.send(&p.seg(&lab).seq(at(4)).ts(202, our).data(&d));
    let a = lab.expect();
    // RFC 2018 §4: the block with the latest segment first, then the others.
    assert_eq!(blocks(&a), vec![(at(4), at(5)), (at(2), at(3))]);
    // A duplicate of what we already have in order: D-SACK (RFC 2883 §4).
    lab.send(&p.seg(&lab).seq(at(0)).ts(203, our).data(&d));
    let a = lab.expect();
    assert_eq!(blocks(&a), vec![(at(0), at(1)), (at(4), at(5)), (at(2), at(3))]);
    assert_eq!(lab.count(Counter::TcpDsackSent), 1);
    // A duplicate of what we hold out of order: D-SACK too.
    lab.send(&p.seg(&lab).seq(at(2)).ts(204, our).data(&d));
    let a = lab.expect();
    assert_eq!(blocks(&a)[0], (at(2), at(3)));
    // The hole fills: no blocks any more.
    lab.send(&p.seg(&lab).seq(at(1)).ts(205, our).data(&d));
    lab.send(&p.seg(&lab).seq(at(3)).ts(206, our).data(&d));
    let a = lab.drain();
    assert_eq!(a.last().unwrap().ack(), at(5));
    assert!(blocks(a.last().unwrap()).is_empty());
}

#[test]
fn sack_recovery_repairs_two_holes_without_a_timeout() {
    let mut lab = Lab::new();
    let (p, our) = established_linux_peer(&mut lab);
    lab.advance(ms(10));
    let mss = 1448u32;
    lab.send_data(p.h, &vec![3u8; 10 * mss as usize]).unwrap();
    let sent = lab.drain();
    assert_eq!(sent.len(), 10, "initial window of 10");
    let at = |k: u32| p.rcv.wrapping_add(mss * k);
    // Segments 0 and 4 are lost. The peer SACKs the others as they come.
    let mut ranges: Vec<(u32, u32)> = vec![];
    let mut retransmitted = vec![];
    let mut rtx_ts = vec![];
    for k in [1u32, 2, 3, 5, 6, 7, 8, 9] {
        match ranges.iter_mut().find(|r| r.1 == at(k)) {
            Some(r) => r.1 = at(k + 1),
            None => ranges.push((at(k), at(k + 1))),
        }
        let mut b = ranges.clone();
        b.reverse();
        lab.advance(ms(1));
        lab.send(&p.seg(&lab).ack(at(0)).ts(300 + k, our).sack(&b));
        for o in lab.drain() {
            retransmitted.push(o.seq());
            rtx_ts.push(o.h.options.timestamp.unwrap().0);
        }
    }
    // The third duplicate ACK starts recovery with segment 0; once three
    // segments are SACKed above it, segment 4 is deemed lost and resent.
    assert_eq!(retransmitted, vec![at(0), at(4)]);
    assert!(lab.sock(p.h).cong.in_recovery);
    assert_eq!(lab.count(Counter::TcpSackRecovery), 1);
    // Segment 0's copy arrives: a partial ACK up to the second hole,
    // echoing the retransmission's TSval (so it was needed: RFC 3522). Then all.
    lab.send(&p.seg(&lab).ack(at(4)).ts(320, rtx_ts[0]).sack(&[(at(5), at(10))]));
    assert!(lab.sock(p.h).cong.in_recovery);
    lab.send(&p.seg(&lab).ack(at(10)).ts(321, rtx_ts[1]));
    assert!(!lab.sock(p.h).cong.in_recovery);
    let s = lab.sock(p.h);
    // Recovery ends with cwnd = ssthresh; the same ACK, past recovery,
    // then grows it in congestion avoidance (CUBIC, less than a segment),
    // since the window it ACKs was cwnd-limited (`tcp_is_cwnd_limited`):
    // Linux too (drill recovery/fast-retransmit-sack.pkt: 7 -> 8).
    assert!(s.cong.cwnd > s.cong.ssthresh && s.cong.cwnd < s.cong.ssthresh + mss as usize, "{}", s.cong.cwnd);
    assert!(s.sack.sacked.is_empty());
    assert_eq!(lab.count(Counter::TcpRtoRecovery), 0);
    assert_eq!(lab.count(Counter::TcpRetransmits), 2);
}

#[test]
fn after_a_timeout_sacked_data_is_not_sent_again() {
    // RFC 6675's DupThresh (Linux `tcp_recovery=0`): two SACKs start no
    // recovery. With RACK they would, at once on this zero-RTT lab.
    let mut lab = Lab::with(TcpConfig { recovery_rack: false, ..TcpConfig::default() });
    let (p, our) = established_linux_peer(&mut lab);
    let mss = 1448u32;
    lab.send_data(p.h, &vec![3u8; 4 * mss as usize]).unwrap();
    assert_eq!(lab.drain().len(), 4);
    let at = |k: u32| p.rcv.wrapping_add(mss * k);
    // Segments 0 and 2 lost; 1 and 3 SACKed: two duplicate ACKs, no recovery.
    lab.send(&p.seg(&lab).ack(at(0)).ts(300, our).sack(&[(at(1), at(2))]));
    lab.send(&p.seg(&lab).ack(at(0)).ts(301, our).sack(&[(at(3), at(4)), (at(1), at(2))]));
    lab.expect_none();
    // First the tail loss probe (RFC 8985): the last segment again.
    lab.next_timer();
    assert_eq!(lab.expect().seq(), at(3), "loss probe");
    assert_eq!(lab.count(Counter::TcpLossProbes), 1);
    lab.next_timer();
    let rtx = lab.expect();
    assert_eq!(rtx.seq(), at(0), "RTO: the head again");
    lab.expect_none();
    // Segment 0's copy arrives; the go-back-N resend skips the SACKed segment 1.
    let echo = rtx.h.options.timestamp.unwrap().0;
    lab.send(&p.seg(&lab).ack(at(1)).ts(302, echo).sack(&[(at(3), at(4)), (at(1), at(2))]));
    let o = lab.drain();
    assert_eq!(o.iter().map(|o| o.seq()).collect::<Vec<_>>(), vec![at(2)]);
    assert_eq!(lab.count(Counter::TcpRtoRecovery), 1);
}

#[test]
fn sack_and_timestamps_off_by_config() {
    let mut lab = Lab::with(TcpConfig { timestamps: false, sack: false, ..TcpConfig::default() });
    let _l = lab.listen(80, 8);
    lab.send(&lab.seg(40000, 80).flags(SYN).mss(Some(1460)).sack_perm().ts(100, 0).wscale(Some(7)));
    let synack = lab.expect();
    assert!(!synack.h.options.sack_permitted);
    assert_eq!(synack.h.options.timestamp, None);
}

#[test]
/// A bulk transfer over a lossy link: SACK recovers most losses without a
/// timeout, and finishes sooner than the same link without SACK.
fn sack_beats_newreno_on_a_lossy_link() {
    let run = |sack: bool| {
        let cfg = TcpConfig { sack, ..TcpConfig::default() };
        let mut net = Net::with(42, 0.0, cfg);
        let (c, s) = net_connect(&mut net);
        (net.loss, net.dup, net.reorder) = (0.05, 0.0, 0.0);
        let start = net.now;
        let mut st = Stream::new(2_000_000, 9);
        assert!(net.run(Duration::from_secs(3600), |net| {
            st.step(net, 0, c, 1, s);
            st.eof
        }));
        assert_eq!(st.got, st.data);
        let e = &net.ends[0].stats;
        (net.now - start, e.get(Counter::TcpRtoRecovery), e.get(Counter::TcpSackRecovery))
    };
    let (t_sack, rto_sack, rec_sack) = run(true);
    let (t_reno, rto_reno, _) = run(false);
    eprintln!("SACK: {t_sack:?}, {rto_sack} timeouts, {rec_sack} recoveries; NewReno: {t_reno:?}, {rto_reno} timeouts");
    assert!(rec_sack > 0);
    assert!(rto_sack < rto_reno, "SACK {rto_sack} timeouts vs NewReno {rto_reno}");
    assert!(t_sack < t_reno, "SACK {t_sack:?} vs NewReno {t_reno:?}");
}

#[test]
/// RFC 3522: the ACK after a fast retransmit echoes the original's TSval,
/// so the original arrived (it was only reordered): the cwnd cut is undone.
fn eifel_undoes_a_spurious_fast_retransmit() {
    let mut lab = Lab::new();
    let (p, our) = established_linux_peer(&mut lab);
    let mss = 1448u32;
    lab.advance(ms(10));
    lab.send_data(p.h, &vec![3u8; 10 * mss as usize]).unwrap();
    let sent = lab.drain();
    let orig_ts = sent[0].h.options.timestamp.unwrap().0;
    let at = |k: u32| p.rcv.wrapping_add(mss * k);
    let cwnd = lab.sock(p.h).cong.cwnd;
    // (Less than the probe timeout: 2·SRTT + 2 ms, SRTT ~0 here.)
    lab.advance(ms(1));
    // Segment 0 is late; 1..4 arrive: SACKs, recovery, segment 0 resent.
    for k in 1..5u32 {
        lab.send(&p.seg(&lab).ack(at(0)).ts(300 + k, our).sack(&[(at(1), at(k + 1))]));
    }
    let rtx = lab.drain();
    assert_eq!(rtx[0].seq(), at(0));
    assert!(lab.sock(p.h).cong.in_recovery && lab.sock(p.h).cong.cwnd < cwnd);
    // Then the original arrives: the receiver's TS.Recent is its TSval.
    lab.send(&p.seg(&lab).ack(at(5)).ts(310, orig_ts));
    let s = lab.sock(p.h);
    assert!(!s.cong.in_recovery);
    assert!(s.cong.cwnd >= cwnd, "cwnd {} restored to at least {cwnd}", s.cong.cwnd);
    assert_eq!(lab.count(Counter::TcpSpuriousUndo), 1);
}

// ------------------------------------------------------------ RACK-TLP, PRR

/// An accepted connection whose handshake took 100 ms (SRTT 100 ms, RTO
/// 300 ms, min_rtt/4 = 25 ms), SACK agreed, MSS 1000, no timestamps.
fn rack_peer(lab: &mut Lab) -> Peer {
    let l = lab.listen(80, 8);
    lab.send(&lab.seg(40000, 80).flags(SYN).mss(Some(1000)).sack_perm().wscale(Some(7)));
    let synack = lab.expect();
    let p = Peer { h: 0, lport: 80, rport: 40000, snd: RISS.wrapping_add(1), rcv: synack.seq().wrapping_add(1) };
    lab.advance(ms(100));
    lab.send(&p.seg(lab));
    let (h, _) = lab.accept(l).unwrap();
    assert!(lab.sock(h).sack.ok);
    Peer { h, ..p }
}

#[test]
/// RFC 8985 §6.2-§6.3: one SACKed segment above three unacknowledged ones
/// (no DupThresh); they are lost only once RACK.rtt + reo_wnd (min_rtt/4 =
/// 25 ms) has passed since they left: the reorder timer fires then, and
/// recovery retransmits the first (PRR lets one segment go).
fn rack_marks_lost_by_time_when_the_reorder_timer_fires() {
    let mut lab = Lab::new();
    let p = rack_peer(&mut lab);
    let at = |k: u32| p.rcv.wrapping_add(1000 * k);
    lab.send_data(p.h, &[1u8; 4000]).unwrap();
    assert_eq!(lab.drain().len(), 4);
    lab.advance(ms(100));
    lab.send(&p.seg(&lab).ack(at(0)).sack(&[(at(3), at(4))]));
    lab.expect_none();
    assert!(lab.sock(p.h).rack.reo_armed, "reorder timer armed");
    assert!(lab.traced("reorder timer set for 27.0 ms"));
    // Within the window: nothing yet.
    lab.advance(ms(20));
    lab.expect_none();
    lab.advance(ms(10));
    let o = lab.drain();
    assert_eq!(o.iter().map(|o| o.seq()).collect::<Vec<_>>(), vec![at(0)]);
    assert_eq!(lab.count(Counter::TcpRackReoTimeout), 1);
    assert_eq!(lab.count(Counter::TcpRackLost), 3);
    assert_eq!(lab.count(Counter::TcpSackRecovery), 1);
    assert!(lab.traced("sent 0.0 ms before the last delivered, RACK.rtt 100.0 ms + reo_wnd 25.0 ms passed: lost"));
    assert_eq!(lab.count(Counter::TcpRtoRecovery), 0);
}

#[test]
/// Reordering below the window: the late original arrives before the
/// reorder timer: nothing is lost, nothing sent again, and the path is
/// now known to reorder (reo_wnd no longer falls to 0 at three SACKs).
fn rack_reordering_within_the_window_is_not_loss() {
    let mut lab = Lab::new();
    let p = rack_peer(&mut lab);
    let at = |k: u32| p.rcv.wrapping_add(1000 * k);
    lab.send_data(p.h, &[1u8; 4000]).unwrap();
    lab.drain();
    lab.advance(ms(100));
    lab.send(&p.seg(&lab).ack(at(0)).sack(&[(at(3), at(4))]));
    lab.advance(ms(10));
    lab.send(&p.seg(&lab).ack(at(4)));
    lab.advance(ms(100));
    lab.expect_none();
    let s = lab.sock(p.h);
    assert!(s.rack.reord_seen && !s.rack.reo_armed);
    assert_eq!((lab.count(Counter::TcpRackLost), lab.count(Counter::TcpRetransmits)), (0, 0));
}

#[test]
/// RFC 8985 §6.2 step 4: once reordering has been seen, a D-SACK for a
/// retransmission (the original was only late) widens reo_wnd by one
/// min_rtt/4 step, applied on the next ACK that delivers data.
fn rack_dsack_widens_the_reordering_window() {
    let mut lab = Lab::new();
    let p = rack_peer(&mut lab);
    let at = |k: u32| p.rcv.wrapping_add(1000 * k);
    // Reordering seen: 0..2 late, 3 SACKed first.
    lab.send_data(p.h, &[1u8; 4000]).unwrap();
    lab.drain();
    lab.advance(ms(100));
    lab.send(&p.seg(&lab).ack(at(0)).sack(&[(at(3), at(4))]));
    lab.advance(ms(5));
    lab.send(&p.seg(&lab).ack(at(4)));
    let w1 = lab.sock(p.h).tcp_rack_reo_wnd();
    assert!(lab.sock(p.h).rack.reord_seen);
    // Next flight: 4..7 late by more than the window; 4 is retransmitted.
    lab.send_data(p.h, &[2u8; 4000]).unwrap();
    lab.drain();
    lab.advance(ms(100));
    lab.send(&p.seg(&lab).ack(at(4)).sack(&[(at(7), at(8))]));
    lab.advance(ms(40));
    assert_eq!(lab.drain().iter().map(|o| o.seq()).collect::<Vec<_>>(), vec![at(4)]);
    // The originals arrive, then the copy: a D-SACK for it.
    lab.send(&p.seg(&lab).ack(at(8)));
    lab.send(&p.seg(&lab).ack(at(8)).sack(&[(at(4), at(5))]));
    assert_eq!(lab.count(Counter::TcpDsackRecv), 1);
    // The next delivery applies it: two steps of min_rtt/4.
    lab.send_data(p.h, &[3u8; 1000]).unwrap();
    lab.drain();
    lab.advance(ms(100));
    lab.send(&p.seg(&lab).ack(at(9)));
    let s = lab.sock(p.h);
    assert_eq!(s.rack.reo_wnd_steps, 2);
    assert_eq!(lab.count(Counter::TcpRackReoWndUp), 1);
    assert!(s.tcp_rack_reo_wnd() > w1, "{} > {w1}", s.tcp_rack_reo_wnd());
    // And every retransmission of that recovery proved needless: undone.
    assert_eq!(lab.count(Counter::TcpDsackUndo), 1);
}

#[test]
/// RFC 8985 §7: the tail segment is lost and no ACK would tell. The probe
/// (PTO capped at the RTO, one segment out) repeats the last segment; its
/// ACK repairs the tail: no timeout, no backoff.
fn tlp_recovers_a_tail_loss_without_an_rto() {
    let mut lab = Lab::new();
    let p = rack_peer(&mut lab);
    let at = |k: u32| p.rcv.wrapping_add(1000 * k);
    lab.send_data(p.h, &[1u8; 2000]).unwrap();
    assert_eq!(lab.drain().len(), 2);
    lab.advance(ms(100));
    lab.send(&p.seg(&lab).ack(at(1)));
    lab.expect_none();
    // 2·SRTT + 200 ms (one segment out) is past the RTO: the probe goes at the RTO's time.
    let d = lab.next_timer();
    assert_eq!(d, lab.sock(p.h).rtt.rto, "PTO capped by the RTO");
    let probe = lab.expect();
    assert_eq!((probe.seq(), probe.data.len()), (at(1), 1000));
    assert_eq!(lab.count(Counter::TcpLossProbes), 1);
    assert_eq!(lab.sock(p.h).rtt.retransmits, 0, "a probe is no timeout");
    lab.advance(ms(100));
    lab.send(&p.seg(&lab).ack(at(2)));
    assert_eq!(lab.sock(p.h).flight_size(), 0);
    assert_eq!(lab.count(Counter::TcpRtoRecovery), 0);
}

#[test]
/// RFC 8985 §7.3: with unsent data the probe is a new segment, past a full cwnd.
fn tlp_sends_new_data_past_cwnd() {
    let mut lab = Lab::new();
    let p = rack_peer(&mut lab);
    let at = |k: u32| p.rcv.wrapping_add(1000 * k);
    lab.send_data(p.h, &[1u8; 12000]).unwrap();
    assert_eq!(lab.drain().len(), 10, "cwnd 10");
    let d = lab.next_timer();
    assert_eq!(d, ms(202), "PTO = 2·SRTT + 2 ms");
    let probe = lab.expect();
    assert_eq!((probe.seq(), probe.data.len()), (at(10), 1000));
    assert_eq!(lab.sock(p.h).rack.tlp_high_seq, Some(SeqNumber(at(11))));
    assert!(!lab.sock(p.h).rack.tlp_retrans);
    // One probe per episode: the next expiry is the RTO.
    lab.next_timer();
    assert_eq!(lab.expect().seq(), at(0));
    assert_eq!(lab.count(Counter::TcpLossProbes), 1);
    assert_eq!(lab.count(Counter::TcpRtoRecovery), 1);
}

#[test]
/// RFC 6937 §3, proportional part: 20 segments out, one lost; while pipe
/// stays above ssthresh (14) each ACK lets out ssthresh/prior_cwnd = 0.7
/// of what it delivered: 7 segments for 10 delivered.
fn prr_sends_in_proportion_while_pipe_is_above_ssthresh() {
    let mut lab = Lab::with(TcpConfig { init_cwnd_segs: 20, ..TcpConfig::default() });
    let p = rack_peer(&mut lab);
    let at = |k: u32| p.rcv.wrapping_add(1000 * k);
    lab.send_data(p.h, &[1u8; 40000]).unwrap();
    assert_eq!(lab.drain().len(), 20);
    lab.advance(ms(100));
    let mut sent = vec![];
    for k in 1..=12u32 {
        lab.send(&p.seg(&lab).ack(at(0)).sack(&[(at(1), at(k + 1))]));
        sent.push(lab.drain().len());
    }
    // Before recovery the SACKs free cwnd room: new data (Disorder). Recovery
    // starts at the third SACKed segment (reo_wnd 0: no reordering seen).
    assert_eq!(&sent[..2], &[1, 1]);
    assert_eq!(lab.sock(p.h).cong.ssthresh, 14_000);
    assert_eq!(sent[2..].iter().sum::<usize>(), 7, "PRR: 0.7 × 10 delivered, {sent:?}");
    assert!(lab.count(Counter::TcpPrrProportional) >= 10);
    assert_eq!(lab.count(Counter::TcpPrrSsrb), 0);
    assert!(lab.traced("PRR: delivered"));
}

#[test]
/// RFC 6937 §3, slow start reduction bound: 10 of 20 segments lost, pipe
/// (7) falls below ssthresh (14): PRR sends what was delivered, as slow
/// start would (one more when SND.UNA advances), up to ssthresh.
fn prr_slow_start_reduction_bound_when_pipe_is_below_ssthresh() {
    let mut lab = Lab::with(TcpConfig { init_cwnd_segs: 20, ..TcpConfig::default() });
    let p = rack_peer(&mut lab);
    let at = |k: u32| p.rcv.wrapping_add(1000 * k);
    lab.send_data(p.h, &[1u8; 40000]).unwrap();
    assert_eq!(lab.drain().len(), 20);
    lab.advance(ms(100));
    // Three SACKed at once: 0..9 lost; pipe 20 - 3 - 10 = 7 < 14: 3 go.
    lab.send(&p.seg(&lab).ack(at(0)).sack(&[(at(10), at(13))]));
    assert_eq!(lab.drain().iter().map(|o| o.seq()).collect::<Vec<_>>(), vec![at(0), at(1), at(2)]);
    assert_eq!(lab.count(Counter::TcpPrrSsrb), 1);
    // One more delivered: one more sent.
    lab.send(&p.seg(&lab).ack(at(0)).sack(&[(at(10), at(14))]));
    assert_eq!(lab.drain().len(), 1);
    // The first retransmission and 14..19 delivered (7), SND.UNA advanced
    // and nothing newly lost: max(prr_delivered - prr_out, 7) + 1 = 8,
    // under ssthresh - pipe = 14 - 3.
    lab.advance(ms(100));
    lab.send(&p.seg(&lab).ack(at(1)).sack(&[(at(10), at(20))]));
    assert_eq!(lab.drain().len(), 8);
    assert_eq!(lab.count(Counter::TcpPrrProportional), 0);
}

#[test]
/// RFC 8985 §7.4: the probe (the last segment again) is SACKed; the hole
/// below it, sent before the probe and past RACK.rtt + reo_wnd, is lost:
/// recovery repairs it at once, no RTO.
fn tlp_sack_makes_rack_repair_the_hole() {
    let mut lab = Lab::new();
    let p = rack_peer(&mut lab);
    let at = |k: u32| p.rcv.wrapping_add(1000 * k);
    lab.send_data(p.h, &[1u8; 3000]).unwrap();
    assert_eq!(lab.drain().len(), 3);
    lab.advance(ms(100));
    lab.send(&p.seg(&lab).ack(at(1)));
    lab.next_timer();
    let probe = lab.expect();
    assert_eq!(probe.seq(), at(2));
    lab.advance(ms(100));
    lab.send(&p.seg(&lab).ack(at(1)).sack(&[(at(2), at(3))]));
    let o = lab.drain();
    assert_eq!(o.iter().map(|o| o.seq()).collect::<Vec<_>>(), vec![at(1)], "the hole, at once");
    assert_eq!(lab.count(Counter::TcpRtoRecovery), 0);
}

/// `tcp_probe` (probe.rs) over a transfer of `size` bytes from end 1 to
/// end 0 whose `drop`-th data segment is lost, sampling on end 1 only when
/// `probe` is set: the samples, the dropped sequence number, and what the
/// run looked like on the wire (segments delivered, the time it ended,
/// end 1's retransmissions).
fn probe_run(size: usize, drop: usize, probe: bool) -> (Vec<TcpProbe>, u32, (u64, Instant, u64)) {
    let mut net = Net::new(40, 0.0);
    net.ends[1].probe.set_enabled(probe);
    let (c, s) = net_connect(&mut net);
    net.drop_data = Some((1, drop));
    let mut down = Stream::new(size, 41);
    let ok = net.run(Duration::from_secs(600), |net| {
        down.step(net, 1, s, 0, c);
        down.eof
    });
    assert!(ok && down.got == down.data, "transfer failed");
    let mut v = Vec::new();
    while let Some(p) = net.ends[1].probe.pop() {
        v.push(p);
    }
    assert!(net.ends[0].probe.is_empty(), "end 0 never enabled sampling");
    let wire = (net.delivered, net.now, net.ends[1].stats.get(Counter::TcpRetransmits));
    (v, net.dropped_seq.expect("the segment was dropped"), wire)
}

#[test]
fn tcp_probe_shows_the_retransmission_and_the_cwnd_cut() {
    let (v, lost, _) = probe_run(400_000, 40, true);
    let server = v.iter().find(|p| p.kind == ProbeKind::Tx).expect("Tx samples").local;
    assert!(v.iter().all(|p| p.local == server), "samples of end 1's connection only");
    // State samples: the handshake of the passive side.
    let states: Vec<TcpState> = v.iter().filter(|p| p.kind == ProbeKind::State).map(|p| p.state).collect();
    assert_eq!(&states[..2], &[TcpState::SynReceived, TcpState::Established]);
    // The dropped segment went once as new data and then again, marked.
    let at_seq: Vec<&TcpProbe> = v.iter().filter(|p| p.kind == ProbeKind::Tx && p.seq == lost && p.len > 0).collect();
    assert!(at_seq.len() >= 2, "sent {} times", at_seq.len());
    assert!(!at_seq[0].retrans && at_seq[1..].iter().all(|p| p.retrans), "{at_seq:?}");
    assert_eq!(v.iter().filter(|p| p.retrans).count(), v.iter().filter(|p| p.retrans && p.seq == lost).count());
    // The cut: an Rx sample whose cwnd is below the previous Rx sample's
    // (RACK's reorder timer may have cut it between them), in recovery,
    // with ssthresh = β·cwnd before the loss (CUBIC: β = 0.7, RFC 9438 §4.6).
    let rx: Vec<&TcpProbe> = v.iter().filter(|p| p.kind == ProbeKind::Rx).collect();
    let cut = rx.windows(2).find(|w| w[1].cwnd < w[0].cwnd).expect("a cwnd cut");
    let before = cut[0].cwnd;
    assert_eq!(cut[1].ca_state, CaState::Recovery);
    assert!(cut[0].ssthresh > u32::MAX / 2, "no ssthresh before the first loss");
    assert!((f64::from(cut[1].ssthresh) - 0.7 * f64::from(before)).abs() < 2.0, "{before} {}", cut[1].ssthresh);
    assert!(cut[1].cwnd <= cut[1].ssthresh);
    // The retransmission was sent between the two and carries the cut cwnd.
    assert!(at_seq[1].at >= cut[0].at && at_seq[1].at <= cut[1].at && at_seq[1].cwnd == cut[1].cwnd);
    assert_eq!(cut[1].w_max, Some(f64::from(before)), "CUBIC's W_max: the window at the loss");
    // The ACKs of the holes carry SACK blocks above the lost segment.
    assert!(v.iter().any(|p| p.kind == ProbeKind::Rx && p.nsack > 0 && p.sack[0].0 != lost));
    // RTT samples are there, and SRTT follows them.
    assert!(v.iter().any(|p| p.rtt_sample_us.is_some()));
    assert!(v.last().unwrap().srtt_us > 0);
}

#[test]
fn tcp_probe_is_off_by_default_and_changes_nothing_on_the_wire() {
    let (on, _, wire_on) = probe_run(200_000, 30, true);
    let (off, _, wire_off) = probe_run(200_000, 30, false);
    assert!(!on.is_empty());
    assert!(off.is_empty(), "no samples unless enabled");
    assert_eq!(wire_on, wire_off, "sampling changed the run");
}

#[test]
fn tcp_probe_queue_is_bounded() {
    let mut q = ProbeQueue::default();
    let (v, _, _) = probe_run(50_000, 5, true);
    for i in 0..MAX_PROBES + 11 {
        let mut p = v[0].clone();
        p.seq = i as u32;
        q.push(p);
    }
    assert_eq!(q.len(), MAX_PROBES);
    assert_eq!(q.dropped(), 11);
    assert_eq!(q.pop().unwrap().seq, 11, "the oldest went first");
    q.set_enabled(false);
    assert!(q.is_empty(), "turning it off empties it");
}

#[test]
fn tcp_probe_rto_samples_back_off() {
    let mut net = Net::new(42, 0.0);
    net.ends[1].probe.set_enabled(true);
    let (c, s) = net_connect(&mut net);
    let mut down = Stream::new(300_000, 43);
    // Some data through, then the link goes dead for 5 s: timeouts.
    net.run(Duration::from_millis(30), |net| {
        down.step(net, 1, s, 0, c);
        false
    });
    net.loss = 1.0;
    net.run(Duration::from_secs(5), |net| {
        down.step(net, 1, s, 0, c);
        false
    });
    net.loss = 0.0;
    assert!(net.run(Duration::from_secs(120), |net| {
        down.step(net, 1, s, 0, c);
        down.eof
    }));
    let mut rtos = Vec::new();
    while let Some(p) = net.ends[1].probe.pop() {
        if p.kind == ProbeKind::Rto {
            rtos.push(p);
        }
    }
    assert!(rtos.len() >= 2, "{} timeouts", rtos.len());
    for w in rtos.windows(2) {
        assert_eq!(w[1].backoff, w[0].backoff + 1);
        assert_eq!(w[1].rto_us, 2 * w[0].rto_us, "RFC 6298 (5.5): doubled");
        assert_eq!(w[1].ca_state, CaState::Loss);
    }
    assert_eq!(rtos[0].backoff, 1);
}

#[test]
fn tcp_probe_samples_a_syn_recv_child_but_not_a_syn_cookie() {
    let mut lab = Lab::new();
    lab.probe.set_enabled(true);
    lab.listen(80, 1);
    // The first SYN makes a child (SYN_RECEIVED): its state change, the
    // SYN it processed, the SYN-ACK it sent.
    lab.send(&lab.seg(50000, 80).flags(SYN).no_ack().mss(Some(1460)));
    assert!(lab.expect().is(SYN | ACK));
    let mut kinds = Vec::new();
    while let Some(p) = lab.probe.pop() {
        assert_eq!(p.remote, SocketAddrV4::new(THEM, 50000));
        assert_eq!(p.state, TcpState::SynReceived);
        kinds.push(p.kind);
    }
    assert_eq!(kinds, [ProbeKind::State, ProbeKind::Rx, ProbeKind::Tx]);
    // The SYN queue (backlog 1) is full: the next SYNs get cookies and
    // leave no TCB, and no sample.
    for i in 0..10 {
        let (ip, port) = spoofed(i);
        lab.send_from(ip, &lab.seg(port, 80).seq(i).flags(SYN).no_ack().mss(Some(1460)));
        assert!(lab.drain_any().iter().all(|(_, o)| o.is(SYN | ACK)));
    }
    assert_eq!(lab.count(Counter::SyncookiesSent), 10);
    assert!(lab.probe.is_empty(), "no samples of SYN cookies");
    assert!(lab.probe.enabled(), "sampling goes on");
}
