//! Whole-stack TCP simulations: two synack stacks (10.0.0.1 and 10.0.0.2 on
//! one /24) on the in-memory wire, on the virtual clock, every run seeded.
//!
//! The applications are closure services next to each stack (`Endpoint`):
//! they make only non-blocking socket calls, the way a program around
//! `poll(2)` would, and the simulation jumps time from event to event. What
//! is checked: 10 MB each way at once on one connection through loss,
//! reordering and duplication (SHA-256 of both streams, retransmissions,
//! a clean close); the same seed gives the same run; simultaneous open and
//! close; half-close; ECONNREFUSED and ETIMEDOUT on connect; the listen
//! backlog.

use device::{Faults, Side, Sim, WireStats};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use stack::tcp::TcpInfo;
use stack::{
    Config, Counter, DropReason, Duration, Errno, Instant, MacAddr, MsgFlags, PollFlags, Shutdown, SockType,
    SocketHandle, Stack,
};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Bytes generated (and offered to `send`) at a time.
const CHUNK: usize = 64 * 1024;

/// Each way in the big transfers: the full 10 MB in release (what CI runs),
/// 1 MB in debug builds so `cargo test` stays quick.
fn big() -> usize {
    if cfg!(debug_assertions) {
        1 << 20
    } else {
        10 << 20
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(side: Side, seed: u64) -> Config {
    let (addr, last) = match side {
        Side::A => (A_IP, 1),
        Side::B => (B_IP, 2),
    };
    Config { addr, prefix_len: 24, gateway: None, mac: MacAddr([2, 0, 0, 0, 0x0a, last]), seed, ..Config::default() }
}

fn ip(side: Side) -> Ipv4Addr {
    match side {
        Side::A => A_IP,
        Side::B => B_IP,
    }
}

// ------------------------------------------------------------------ data

/// A pseudo-random byte stream from a seed, made `CHUNK` bytes at a time;
/// hashes what `send` accepted.
struct Source {
    rng: StdRng,
    total: usize,
    made: usize,
    chunk: Vec<u8>,
    /// Bytes of `chunk` already accepted by `send`.
    off: usize,
    sent: usize,
    hash: Sha256,
    first_at: Option<Instant>,
}

impl Source {
    fn new(seed: u64, total: usize) -> Source {
        Source {
            rng: StdRng::seed_from_u64(seed),
            total,
            made: 0,
            chunk: Vec::new(),
            off: 0,
            sent: 0,
            hash: Sha256::new(),
            first_at: None,
        }
    }
    /// The bytes not yet accepted by `send` (the next chunk when needed).
    fn pending(&mut self) -> &[u8] {
        if self.off == self.chunk.len() && self.made < self.total {
            let n = CHUNK.min(self.total - self.made);
            self.chunk.resize(n, 0);
            self.rng.fill_bytes(&mut self.chunk);
            self.made += n;
            self.off = 0;
        }
        &self.chunk[self.off..]
    }
    fn consumed(&mut self, now: Instant, n: usize) {
        self.hash.update(&self.chunk[self.off..self.off + n]);
        self.off += n;
        self.sent += n;
        self.first_at.get_or_insert(now);
    }
    fn done(&self) -> bool {
        self.sent == self.total
    }
    fn digest(&self) -> [u8; 32] {
        digest_of(&self.hash)
    }
}

fn digest_of(h: &Sha256) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&h.clone().finalize());
    out
}

/// SHA-256 of the stream `Source::new(seed, total)` produces, computed
/// apart from any socket.
fn expected_digest(seed: u64, total: usize) -> [u8; 32] {
    let mut s = Source::new(seed, total);
    while !s.done() {
        let n = s.pending().len();
        s.consumed(Instant::ZERO, n);
    }
    s.digest()
}

fn hex(d: &[u8; 32]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// What arrived: its hash, its length, when.
struct Sink {
    hash: Sha256,
    got: usize,
    first_at: Option<Instant>,
    eof_at: Option<Instant>,
}

// ----------------------------------------------------------- application

/// One side's application: streams its `Source` out and reads everything
/// in, with non-blocking calls only, every time its stack has done a round.
struct Endpoint {
    name: &'static str,
    /// Accept the connection from here when `sock` is not set yet.
    listener: Option<SocketHandle>,
    sock: Option<SocketHandle>,
    tx: Source,
    rx: Sink,
    /// Send nothing before the peer's FIN was read (a server answering a
    /// request that ends with a half-close).
    send_after_eof: bool,
    /// `shutdown(SHUT_WR)` as soon as the whole stream is queued.
    shut_when_sent: bool,
    shut_at: Option<Instant>,
    /// Connection states (RFC names) seen while data came in.
    rx_states: BTreeSet<&'static str>,
    /// Our socket's `tcp_info` row, last seen (sampled once per instant).
    info: Option<TcpInfo>,
    sampled_at: Option<Instant>,
    buf: Vec<u8>,
}

impl Endpoint {
    fn new(name: &'static str, sock: Option<SocketHandle>, listener: Option<SocketHandle>, tx: Source) -> Endpoint {
        Endpoint {
            name,
            listener,
            sock,
            tx,
            rx: Sink { hash: Sha256::new(), got: 0, first_at: None, eof_at: None },
            send_after_eof: false,
            shut_when_sent: true,
            shut_at: None,
            rx_states: BTreeSet::new(),
            info: None,
            sampled_at: None,
            buf: vec![0; CHUNK],
        }
    }

    /// Everything sent (and shut down, if asked), everything read up to EOF.
    fn finished(&self) -> bool {
        self.tx.done() && (!self.shut_when_sent || self.shut_at.is_some()) && self.rx.eof_at.is_some()
    }

    fn poll(&mut self, st: &mut Stack, now: Instant) {
        let name = self.name;
        let h = match (self.sock, self.listener) {
            (Some(h), _) => h,
            (None, Some(l)) => match st.accept(now, l) {
                Ok((h, _)) => *self.sock.insert(h),
                Err(Errno::EAGAIN) => return,
                Err(e) => panic!("{name}: accept: {e} at t={now}"),
            },
            (None, None) => return,
        };
        if self.sampled_at != Some(now) {
            self.sampled_at = Some(now);
            if let Some(i) = info_of(st, now, h) {
                self.info = Some(i);
            }
        }
        if self.finished() {
            return;
        }
        let mut got_data = false;
        while self.rx.eof_at.is_none() {
            match st.recv(now, h, &mut self.buf, MsgFlags::NONE) {
                Ok(0) => self.rx.eof_at = Some(now),
                Ok(n) => {
                    self.rx.hash.update(&self.buf[..n]);
                    self.rx.got += n;
                    self.rx.first_at.get_or_insert(now);
                    got_data = true;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("{name}: recv: {e} at t={now} after {} bytes", self.rx.got),
            }
        }
        if got_data {
            if let Some(i) = info_of(st, now, h) {
                self.rx_states.insert(i.state.rfc_name());
            }
        }
        if self.send_after_eof && self.rx.eof_at.is_none() {
            return;
        }
        while !self.tx.done() {
            match st.send(now, h, self.tx.pending(), MsgFlags::NONE) {
                Ok(n) => self.tx.consumed(now, n),
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("{name}: send: {e} at t={now} after {} bytes", self.tx.sent),
            }
        }
        if self.tx.done() && self.shut_when_sent && self.shut_at.is_none() {
            st.shutdown(now, h, Shutdown::Write).unwrap_or_else(|e| panic!("{name}: shutdown: {e} at t={now}"));
            self.shut_at = Some(now);
        }
    }
}

/// Run `ep` next to `side`'s stack; the test keeps a handle to look at it.
fn serve(sim: &mut Sim, side: Side, ep: Endpoint) -> Rc<RefCell<Endpoint>> {
    let ep = Rc::new(RefCell::new(ep));
    let e = ep.clone();
    sim.add_service(side, move |st: &mut Stack, now: Instant| e.borrow_mut().poll(st, now));
    ep
}

// --------------------------------------------------------------- helpers

fn tcp_index(h: SocketHandle) -> usize {
    match h {
        SocketHandle::Tcp(i) => i,
        SocketHandle::Udp(_) => panic!("not a TCP socket: {h:?}"),
    }
}

/// The `tcp_info` row of an application's socket (absent once CLOSED).
fn info_of(st: &Stack, now: Instant, h: SocketHandle) -> Option<TcpInfo> {
    let i = tcp_index(h);
    st.tcp_info(now).into_iter().find(|r| r.handle == Some(i))
}

/// The RFC state of the connection `local`–`remote`, handle or not.
fn state_of(st: &Stack, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> Option<&'static str> {
    st.tcp_info(now).into_iter().find(|r| r.local == local && r.remote == remote).map(|r| r.state.rfc_name())
}

/// Every row of both stacks, the wire and the drops: what a failure message needs.
fn dump(sim: &mut Sim) -> String {
    let now = sim.now();
    let mut s = format!("t={now}\n");
    for side in [Side::A, Side::B] {
        let st = sim.stack(side);
        for r in st.tcp_info(now) {
            s += &format!(
                "  {side:?}: {} {} -> {} recv_q {} send_q {} syn_q {} acc_q {} una {} nxt {} wnd {} cwnd {} rto {:?} retrans {}/{} timer {:?}\n",
                r.state.rfc_name(),
                r.local,
                r.remote,
                r.recv_q,
                r.send_q,
                r.syn_queue,
                r.accept_queue,
                r.snd_una,
                r.snd_nxt,
                r.snd_wnd,
                r.cwnd,
                r.rto,
                r.retransmits,
                r.total_retrans,
                r.timer
            );
        }
        s += &format!("  {side:?} drops: {:?}\n", st.stats().nonzero_drops().collect::<Vec<_>>());
    }
    if let Some(w) = sim.wire() {
        s += &format!("  wire: {:?}, {} in flight\n", w.stats(), w.in_flight());
    }
    s
}

/// `sim.run_until`, failing the test with the state of both stacks.
fn run(sim: &mut Sim, what: &str, max: Duration, cond: impl FnMut(&mut Sim) -> bool) -> Instant {
    match sim.run_until(cond, max) {
        Ok(t) => t,
        Err(e) => panic!("{what}: {e}\n{}", dump(sim)),
    }
}

/// A listener on `side` (backlog `backlog`), bound to every address.
fn listen(sim: &mut Sim, side: Side, port: u16, backlog: usize) -> SocketHandle {
    let st = sim.stack(side);
    let l = st.socket(SockType::Stream).unwrap();
    st.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).unwrap();
    st.listen(l, backlog).unwrap();
    l
}

/// A new socket on `side` connecting to `to`: EINPROGRESS.
fn connect(sim: &mut Sim, side: Side, to: SocketAddrV4) -> SocketHandle {
    let now = sim.now();
    let st = sim.stack(side);
    let c = st.socket(SockType::Stream).unwrap();
    assert_eq!(st.connect(now, c, to), Err(Errno::EINPROGRESS));
    c
}

fn retransmits(sim: &mut Sim) -> [u64; 2] {
    [Side::A, Side::B].map(|s| sim.stack(s).stats().get(Counter::TcpRetransmits))
}

/// Resolve both sides' neighbour entries (A pings B: B learns A from the
/// request, A learns B from the reply), so from then on a segment leaves
/// the instant it is made.
fn settle_arp(sim: &mut Sim) {
    let now = sim.now();
    sim.stack(Side::A).ping_send(now, B_IP, 1, 1, 8).unwrap();
    run(sim, "ARP and ping", Duration::from_secs(5), |s| s.stack(Side::A).ping_recv().is_some());
    let now = sim.now();
    for side in [Side::A, Side::B] {
        let peer = ip(side.other());
        let known = sim.stack(side).arp_entries(now).iter().any(|e| e.ip == peer && e.mac.is_some());
        assert!(known, "{side:?} has not learned {peer}'s MAC");
    }
}

// ------------------------------------------------------ 1. full duplex

/// What a full-duplex transfer did. Equal values mean the run was reproduced.
#[derive(Debug, PartialEq, Eq)]
struct Transfer {
    /// Both applications have read the other's whole stream and its FIN.
    done_at: Instant,
    /// Both connections were TIME_WAIT or gone.
    closed_at: Instant,
    /// The last connection left the tables.
    gone_at: Instant,
    /// `Counter::TcpRetransmits` of A and of B.
    retransmits: [u64; 2],
    /// `tcp_info` `total_retrans` of A's and B's socket, last seen.
    total_retrans: [u64; 2],
    /// Which side went through TIME_WAIT.
    time_wait: [bool; 2],
    wire: WireStats,
    /// Every dropped frame of A and of B, by reason.
    drops: [Vec<(DropReason, u64)>; 2],
    /// SACK recoveries, timeouts, spurious ones undone, D-SACKs received: A, B.
    recovery: [[u64; 4]; 2],
    steps: u64,
    /// SHA-256 of what B received from A, and of what A received from B.
    up: [u8; 32],
    down: [u8; 32],
}

/// `size` bytes from A to B and `size` bytes from B to A at the same time on
/// one connection; each side shuts down writing when it has queued its last
/// byte and reads until the other's FIN. Then both close.
fn transfer(name: &str, faults: Faults, size: usize, seed: u64) -> Transfer {
    let wall = std::time::Instant::now();
    let mut sim = Sim::new(config(Side::A, seed), config(Side::B, seed + 1), faults);
    let (up_seed, down_seed) = (seed * 1000 + 1, seed * 1000 + 2);
    let port = 5001;
    let l = listen(&mut sim, Side::B, port, 8);
    let c = connect(&mut sim, Side::A, SocketAddrV4::new(B_IP, port));
    let start = sim.now();
    let a = serve(&mut sim, Side::A, Endpoint::new("A", Some(c), None, Source::new(up_seed, size)));
    let b = serve(&mut sim, Side::B, Endpoint::new("B", None, Some(l), Source::new(down_seed, size)));

    let done_at = run(&mut sim, &format!("{name}: transfer"), Duration::from_secs(3600), |_| {
        a.borrow().finished() && b.borrow().finished()
    });

    // Every byte, in order, each way.
    let up = expected_digest(up_seed, size);
    let down = expected_digest(down_seed, size);
    let (ea, eb) = (a.borrow(), b.borrow());
    assert_eq!((ea.tx.sent, eb.rx.got), (size, size), "{name}: A -> B byte counts");
    assert_eq!((eb.tx.sent, ea.rx.got), (size, size), "{name}: B -> A byte counts");
    assert_eq!(hex(&ea.tx.digest()), hex(&up), "{name}: A did not send the stream it was given");
    assert_eq!(hex(&digest_of(&eb.rx.hash)), hex(&up), "{name}: B received other bytes than A sent");
    assert_eq!(hex(&eb.tx.digest()), hex(&down), "{name}: B did not send the stream it was given");
    assert_eq!(hex(&digest_of(&ea.rx.hash)), hex(&down), "{name}: A received other bytes than B sent");
    let total_retrans = [&ea, &eb].map(|e| e.info.as_ref().map_or(0, |i| i.total_retrans));
    let s = eb.sock.expect("B accepted");
    drop((ea, eb));

    // The clean close: both FINs are sent and acknowledged, so each socket is
    // TIME_WAIT (it closed first or at the same time) or CLOSED (LAST_ACK done).
    let a_addr = sim.stack(Side::A).getsockname(c).unwrap();
    let b_addr = SocketAddrV4::new(B_IP, port);
    let mut time_wait = [false; 2];
    let closed_at = run(&mut sim, &format!("{name}: close"), Duration::from_secs(600), |sim| {
        let now = sim.now();
        let sa = state_of(sim.stack(Side::A), now, a_addr, b_addr);
        let sb = state_of(sim.stack(Side::B), now, b_addr, a_addr);
        time_wait[0] |= sa == Some("TIME_WAIT");
        time_wait[1] |= sb == Some("TIME_WAIT");
        [sa, sb].iter().all(|s| s.is_none() || *s == Some("TIME_WAIT"))
    });
    assert!(time_wait.iter().any(|&t| t), "{name}: nobody went through TIME_WAIT\n{}", dump(&mut sim));
    let now = sim.now();
    for (side, h) in [(Side::A, c), (Side::B, s)] {
        let st = sim.stack(side);
        let mut buf = [0u8; 16];
        assert_eq!(st.recv(now, h, &mut buf, MsgFlags::NONE), Ok(0), "{name}: {side:?} reads EOF after the FIN");
        let p = st.poll_socket(h);
        assert!(p.contains(PollFlags::POLLHUP) && !p.contains(PollFlags::POLLERR), "{name}: {side:?} poll {p:?}");
        assert_eq!(st.take_error(h), None, "{name}: {side:?} has an error");
        st.close(now, h).unwrap();
    }
    // TIME_WAIT lasts 2 × MSL, then only B's listener is left.
    let msl = sim.stack(Side::A).tcp().config().msl;
    let gone_at = run(&mut sim, &format!("{name}: TIME_WAIT"), 2 * msl + ms(1), |sim| {
        let now = sim.now();
        let rows =
            |sim: &mut Sim, side| sim.stack(side).tcp_info(now).iter().map(|r| r.state.rfc_name()).collect::<Vec<_>>();
        rows(sim, Side::A).is_empty() && rows(sim, Side::B) == ["LISTEN"]
    });

    let t = Transfer {
        done_at,
        closed_at,
        gone_at,
        retransmits: retransmits(&mut sim),
        total_retrans,
        time_wait,
        wire: sim.wire().unwrap().stats(),
        drops: [Side::A, Side::B].map(|s| sim.stack(s).stats().nonzero_drops().collect()),
        recovery: [Side::A, Side::B].map(|s| {
            let st = sim.stack(s).stats();
            [Counter::TcpSackRecovery, Counter::TcpRtoRecovery, Counter::TcpSpuriousUndo, Counter::TcpDsackRecv]
                .map(|c| st.get(c))
        }),
        steps: sim.steps(),
        up: digest_of(&b.borrow().rx.hash),
        down: digest_of(&a.borrow().rx.hash),
    };
    let virt = (done_at - start).as_secs_f64();
    println!(
        "{name}: {} KiB each way in {virt:.3} s virtual ({:.3} MB/s each way), {:.2?} real; \
         closed at t={closed_at}, gone at t={gone_at}; retransmissions A {} B {} (tcp_info {} / {}); \
         TIME_WAIT {:?}; wire {:?}; drops A {:?} B {:?}; {} clock jumps; \
         recoveries (SACK, RTO, undone, D-SACKs) A {:?} B {:?}",
        size >> 10,
        size as f64 / virt / 1e6,
        wall.elapsed(),
        t.retransmits[0],
        t.retransmits[1],
        t.total_retrans[0],
        t.total_retrans[1],
        t.time_wait,
        t.wire,
        t.drops[0],
        t.drops[1],
        t.steps,
        t.recovery[0],
        t.recovery[1],
    );
    t
}

/// Some latency, no jitter: a perfect wire.
fn clean(seed: u64) -> Faults {
    Faults { latency: ms(1), seed, ..Faults::default() }
}

/// Loss, with half as much duplication, as much reordering (held back 3
/// ms, about an RTT), and jitter; 20 % loss also flips a bit in 1 % of the
/// frames, for the checksums to catch.
fn lossy(loss: f64, seed: u64) -> Faults {
    Faults {
        corrupt: if loss >= 0.2 { 0.01 } else { 0.0 },
        loss,
        duplicate: loss / 2.0,
        reorder: loss,
        reorder_delay: ms(3),
        latency: ms(2),
        jitter: Duration::from_micros(if loss >= 0.2 { 2000 } else { 300 }),
        seed,
        ..Faults::default()
    }
}

#[test]
/// The link of the robustness issue (10 % loss, 25 % reordering, 5 %
/// duplication, 20 ms ± 10 ms each way), synack to synack in memory.
fn full_duplex_issue_link() {
    let spec = device::LinkSpec::parse("loss 10%, reorder 25%, dup 5%, delay 20ms±10ms, seed 7").unwrap();
    let size = 4 << 20;
    let t = transfer("issue link", spec.faults, size, 7);
    // Deterministic (seeded wire, virtual clock): a floor on the speed, and
    // most losses repaired by SACK recovery rather than by a timeout.
    let secs = (t.done_at - Instant::from_secs(0)).as_secs_f64();
    assert!(size as f64 / secs > 50_000.0, "{} B/s", size as f64 / secs);
    for r in t.recovery {
        let [sack, rto, _undone, dsacks] = r;
        assert!(sack > 2 * rto, "SACK recoveries {sack}, timeouts {rto}");
        assert!(dsacks > 0);
    }
}

#[test]
fn full_duplex_clean_wire() {
    let t = transfer("0% loss", clean(1), big(), 1);
    assert_eq!(t.wire.lost + t.wire.duplicated + t.wire.reordered, 0);
    assert_eq!(t.retransmits, [0, 0], "retransmissions on a perfect wire");
    assert_eq!(t.total_retrans, [0, 0]);
    // Nothing was dropped but each side's gratuitous ARP at the other.
    for d in &t.drops {
        assert_eq!(d, &[(DropReason::ArpNotForUs, 1)]);
    }
}

#[test]
fn full_duplex_5_percent_loss_reordering_duplication() {
    let t = transfer("5% loss", lossy(0.05, 2), big(), 2);
    assert!(t.wire.lost > 0 && t.wire.duplicated > 0 && t.wire.reordered > 0, "{:?}", t.wire);
    assert!(t.retransmits.iter().all(|&n| n > 0), "no retransmissions under loss: {t:?}");
    assert!(t.total_retrans.iter().all(|&n| n > 0), "tcp_info shows no retransmissions: {t:?}");
}

#[test]
fn full_duplex_20_percent_loss_reordering_duplication_jitter_corruption() {
    let t = transfer("20% loss", lossy(0.2, 3), big(), 3);
    assert!(t.wire.lost > 0 && t.wire.duplicated > 0 && t.wire.reordered > 0, "{:?}", t.wire);
    // The flipped bits were caught by the IP and TCP checksums (the data matched above).
    let caught: u64 = t
        .drops
        .iter()
        .flatten()
        .filter(|(r, _)| matches!(r, DropReason::IpBadChecksum | DropReason::TcpBadChecksum))
        .map(|(_, n)| n)
        .sum();
    assert!(t.wire.corrupted > 0 && caught > 0, "corrupted {}, caught {caught}: {:?}", t.wire.corrupted, t.drops);
    assert!(t.retransmits.iter().all(|&n| n > 0), "no retransmissions under loss: {t:?}");
    assert!(t.total_retrans.iter().all(|&n| n > 0), "tcp_info shows no retransmissions: {t:?}");
}

// ---------------------------------------------------------- 2. determinism

#[test]
fn same_seed_same_run() {
    let size = 1 << 20;
    let first = transfer("seed 7, run 1", lossy(0.2, 7), size, 7);
    // Again on another thread: std's HashMaps there are keyed differently,
    // so nothing may depend on their iteration order.
    let again = std::thread::spawn(move || transfer("seed 7, run 2", lossy(0.2, 7), size, 7)).join().unwrap();
    assert_eq!(first, again, "the same seed gave another run");
    // And the outcome does depend on the seed (the comparison above is not
    // comparing constants).
    let other = transfer("seed 8", lossy(0.2, 8), size, 7);
    assert_ne!(first.done_at, other.done_at);
    assert_ne!(first.wire, other.wire);
    assert_eq!((first.up, first.down), (other.up, other.down), "same data, another wire");
}

// ------------------------------------------- 3. simultaneous open and close

/// Both sides' RFC states of one connection, each time one of them changes.
#[derive(Default)]
struct History {
    seen: [Vec<&'static str>; 2],
    /// When each side entered TIME_WAIT, and when its row disappeared.
    time_wait_at: [Option<Instant>; 2],
    gone_at: [Option<Instant>; 2],
}

impl History {
    fn record(&mut self, sim: &mut Sim, socks: [SocketHandle; 2]) {
        let now = sim.now();
        for (k, side) in [Side::A, Side::B].into_iter().enumerate() {
            match info_of(sim.stack(side), now, socks[k]) {
                Some(i) => {
                    if self.seen[k].last() != Some(&i.state.rfc_name()) {
                        self.seen[k].push(i.state.rfc_name());
                        if i.state.rfc_name() == "TIME_WAIT" {
                            self.time_wait_at[k] = Some(now);
                        }
                    }
                }
                None => {
                    if !self.seen[k].is_empty() && self.gone_at[k].is_none() {
                        self.gone_at[k] = Some(now);
                    }
                }
            }
        }
    }
}

#[test]
fn simultaneous_open_and_simultaneous_close() {
    let latency = ms(3);
    let mut sim = Sim::new(config(Side::A, 31), config(Side::B, 32), Faults { latency, seed: 31, ..Faults::default() });
    settle_arp(&mut sim);
    let addr = [SocketAddrV4::new(A_IP, 6001), SocketAddrV4::new(B_IP, 6002)];
    let mut socks = [SocketHandle::Tcp(usize::MAX); 2];
    for (k, side) in [Side::A, Side::B].into_iter().enumerate() {
        let st = sim.stack(side);
        socks[k] = st.socket(SockType::Stream).unwrap();
        st.bind(socks[k], addr[k]).unwrap();
    }
    // Both connect at the same instant, each to the other's bound port: no listener anywhere.
    let t0 = sim.now();
    for (k, side) in [Side::A, Side::B].into_iter().enumerate() {
        assert_eq!(sim.stack(side).connect(t0, socks[k], addr[1 - k]), Err(Errno::EINPROGRESS));
    }
    let mut h = History::default();
    let t = run(&mut sim, "simultaneous open", Duration::from_secs(10), |sim| {
        h.record(sim, socks);
        [Side::A, Side::B].into_iter().enumerate().all(|(k, side)| {
            h.seen[k].last() == Some(&"ESTABLISHED")
                && sim.stack(side).poll_socket(socks[k]).contains(PollFlags::POLLOUT)
        })
    });
    // RFC 9293 figure 8: SYN-SENT -> SYN-RECEIVED (the SYNs cross) -> ESTABLISHED (the SYN-ACKs cross).
    for k in 0..2 {
        assert_eq!(h.seen[k], ["SYN_SENT", "SYN_RECEIVED", "ESTABLISHED"], "side {k}");
    }
    // Figure 8 (and Linux): the crossing SYN-ACKs complete the handshake,
    // two crossings after the SYNs left; nothing is dropped on the way.
    assert_eq!(t, t0 + 2 * latency, "established after {:?}", t - t0);
    for side in [Side::A, Side::B] {
        assert_eq!(sim.stack(side).stats().drops(DropReason::TcpNotAcceptable), 0, "{side:?}");
    }
    let now = sim.now();
    let ia = info_of(sim.stack(Side::A), now, socks[0]).unwrap();
    let ib = info_of(sim.stack(Side::B), now, socks[1]).unwrap();
    assert_eq!((ia.iss, ia.irs), (ib.irs, ib.iss), "each side synchronized to the other's ISN");
    assert_eq!((ia.local, ia.remote, ib.local, ib.remote), (addr[0], addr[1], addr[1], addr[0]));
    for (k, side) in [Side::A, Side::B].into_iter().enumerate() {
        let st = sim.stack(side);
        let opens = (st.stats().get(Counter::TcpActiveOpens), st.stats().get(Counter::TcpPassiveOpens));
        assert_eq!(opens, (1, 0), "{side:?}: (active, passive) opens");
        assert_eq!(st.getpeername(socks[k]), Ok(addr[1 - k]));
    }

    // Data both ways on the connection nobody accepted.
    let size = 300_000;
    let mut ea = Endpoint::new("A", Some(socks[0]), None, Source::new(41, size));
    let mut eb = Endpoint::new("B", Some(socks[1]), None, Source::new(42, size));
    ea.shut_when_sent = false;
    eb.shut_when_sent = false;
    let (ea, eb) = (serve(&mut sim, Side::A, ea), serve(&mut sim, Side::B, eb));
    run(&mut sim, "data after simultaneous open", Duration::from_secs(60), |sim| {
        let acked = |sim: &mut Sim, side, h| {
            let now = sim.now();
            info_of(sim.stack(side), now, h).is_some_and(|i| i.send_q == 0 && i.snd_una == i.snd_nxt)
        };
        ea.borrow().rx.got == size
            && eb.borrow().rx.got == size
            && acked(sim, Side::A, socks[0])
            && acked(sim, Side::B, socks[1])
    });
    assert_eq!(digest_of(&eb.borrow().rx.hash), expected_digest(41, size), "A -> B");
    assert_eq!(digest_of(&ea.borrow().rx.hash), expected_digest(42, size), "B -> A");

    // Simultaneous close: both FINs leave at the same instant and cross.
    let t1 = sim.now();
    for (k, side) in [Side::A, Side::B].into_iter().enumerate() {
        sim.stack(side).shutdown(t1, socks[k], Shutdown::Write).unwrap();
    }
    let mut h = History::default();
    let msl = sim.stack(Side::A).tcp().config().msl;
    run(&mut sim, "simultaneous close", 2 * msl + Duration::from_secs(10), |sim| {
        h.record(sim, socks);
        h.gone_at.iter().all(|g| g.is_some())
    });
    for k in 0..2 {
        // RFC 9293 figure 13: FIN-WAIT-1 -> CLOSING (the FINs cross) -> TIME-WAIT (the ACKs cross).
        assert_eq!(h.seen[k], ["FIN_WAIT_1", "CLOSING", "TIME_WAIT"], "side {k}");
        let tw = h.time_wait_at[k].unwrap();
        assert_eq!(tw, t1 + 2 * latency, "side {k} entered TIME_WAIT");
        // RFC 9293 §3.10.8: the TCB goes when the time-wait timeout (2 × MSL) expires.
        assert_eq!(h.gone_at[k].unwrap() - tw, 2 * msl, "side {k}: TIME_WAIT lasted 2 x MSL");
    }
    println!(
        "simultaneous open in {:?}, simultaneous close: TIME_WAIT at t={} for {:?}, gone at t={}",
        t - t0,
        h.time_wait_at[0].unwrap(),
        2 * msl,
        h.gone_at[0].unwrap()
    );
    // Both applications read the FIN; the sockets are closed, the tables are empty.
    let now = sim.now();
    for (k, side) in [Side::A, Side::B].into_iter().enumerate() {
        let st = sim.stack(side);
        let mut buf = [0u8; 8];
        assert_eq!(st.recv(now, socks[k], &mut buf, MsgFlags::NONE), Ok(0));
        assert!(st.poll_socket(socks[k]).contains(PollFlags::POLLHUP));
        st.close(now, socks[k]).unwrap();
        assert!(st.tcp_info(now).is_empty(), "{side:?}: {:?}", st.tcp_info(now));
        assert_eq!(st.tcp().poll_timeout(), None, "{side:?}: a TCP timer is left");
    }
    assert_eq!(retransmits(&mut sim), [0, 0]);
}

// ------------------------------------------------------------ 4. half-close

#[test]
fn half_close_then_reply_after_fin() {
    let faults = Faults {
        loss: 0.02,
        reorder: 0.02,
        latency: ms(2),
        jitter: Duration::from_micros(500),
        seed: 44,
        ..Faults::default()
    };
    let mut sim = Sim::new(config(Side::A, 44), config(Side::B, 45), faults);
    let port = 8080;
    let l = listen(&mut sim, Side::B, port, 4);
    let c = connect(&mut sim, Side::A, SocketAddrV4::new(B_IP, port));
    let (req, reply) = (50_000, 1 << 20);
    // The client sends its request and shuts down writing; the server reads
    // to EOF, then answers with 1 MB and closes its side.
    let client = serve(&mut sim, Side::A, Endpoint::new("client", Some(c), None, Source::new(51, req)));
    let mut server = Endpoint::new("server", None, Some(l), Source::new(52, reply));
    server.send_after_eof = true;
    let server = serve(&mut sim, Side::B, server);
    let t = run(&mut sim, "half-close exchange", Duration::from_secs(600), |_| {
        client.borrow().finished() && server.borrow().finished()
    });
    let (ec, es) = (client.borrow(), server.borrow());
    assert_eq!((es.rx.got, digest_of(&es.rx.hash)), (req, expected_digest(51, req)), "request");
    assert_eq!((ec.rx.got, digest_of(&ec.rx.hash)), (reply, expected_digest(52, reply)), "reply");
    let fin = ec.shut_at.unwrap();
    let eof = es.rx.eof_at.unwrap();
    assert!(eof > fin, "the server saw EOF at t={eof}, before the client's FIN at t={fin}");
    let first = ec.rx.first_at.unwrap();
    assert!(first > fin, "the reply began at t={first}, before the client's FIN at t={fin}");
    // Every byte of the reply reached a client whose FIN was already
    // acknowledged (FIN_WAIT_2), and the server sent it in CLOSE_WAIT.
    // (The last segment may be read with the FIN behind it: TIME_WAIT.)
    assert_eq!(ec.rx_states.first(), Some(&"FIN_WAIT_2"), "{:?}", ec.rx_states);
    assert!(ec.rx_states.iter().all(|s| ["FIN_WAIT_2", "TIME_WAIT"].contains(s)), "{:?}", ec.rx_states);
    let s = es.sock.unwrap();
    drop((ec, es));
    println!(
        "half-close: {req} B request, {reply} B reply after the FIN, done at t={t}, retransmissions {:?}",
        retransmits(&mut sim)
    );

    // Both close: the client (FIN first) waits in TIME_WAIT, the server's LAST_ACK ends in CLOSED.
    let a_addr = sim.stack(Side::A).getsockname(c).unwrap();
    let b_addr = SocketAddrV4::new(B_IP, port);
    let now = sim.now();
    // The client read the server's FIN this instant; its ACK is still on the wire.
    assert_eq!(state_of(sim.stack(Side::A), now, a_addr, b_addr), Some("TIME_WAIT"));
    assert_eq!(state_of(sim.stack(Side::B), now, b_addr, a_addr), Some("LAST_ACK"));
    sim.stack(Side::A).close(now, c).unwrap();
    sim.stack(Side::B).close(now, s).unwrap();
    let mut client_tw = false;
    run(&mut sim, "close after half-close", Duration::from_secs(300), |sim| {
        let now = sim.now();
        client_tw |= state_of(sim.stack(Side::A), now, a_addr, b_addr) == Some("TIME_WAIT");
        sim.stack(Side::A).tcp_info(now).is_empty() && sim.stack(Side::B).tcp_info(now).len() == 1
    });
    assert!(client_tw, "the client did not go through TIME_WAIT");
}

// ------------------------------------------------ 5. refused and timed out

/// Run until `c`'s connect has an outcome (POLLOUT or POLLERR); returns the
/// pending error, taken, and when.
fn connect_outcome(sim: &mut Sim, side: Side, c: SocketHandle, max: Duration) -> (Option<Errno>, Instant) {
    let t = run(sim, "connect outcome", max, |sim| {
        sim.stack(side).poll_socket(c).intersects(PollFlags::POLLOUT | PollFlags::POLLERR)
    });
    let p = sim.stack(side).poll_socket(c);
    let err = sim.stack(side).take_error(c);
    assert_eq!(p.contains(PollFlags::POLLERR), err.is_some(), "poll {p:?} and SO_ERROR {err:?} disagree");
    (err, t)
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let latency = ms(2);
    let mut sim = Sim::new(config(Side::A, 51), config(Side::B, 52), Faults { latency, seed: 51, ..Faults::default() });
    settle_arp(&mut sim);
    // B listens on 80; A knocks on 81.
    listen(&mut sim, Side::B, 80, 4);
    let t0 = sim.now();
    let c = connect(&mut sim, Side::A, SocketAddrV4::new(B_IP, 81));
    let (err, t) = connect_outcome(&mut sim, Side::A, c, Duration::from_secs(10));
    assert_eq!(err, Some(Errno::ECONNREFUSED));
    assert_eq!(t - t0, 2 * latency, "SYN there, RST back");
    assert_eq!(sim.stack(Side::B).stats().get(Counter::TcpRstTx), 1);
    assert_eq!(sim.stack(Side::B).stats().drops(DropReason::TcpNoSocket), 1);
    assert_eq!(retransmits(&mut sim), [0, 0]);
    let now = sim.now();
    let st = sim.stack(Side::A);
    assert!(st.poll_socket(c).contains(PollFlags::POLLHUP));
    assert_eq!(st.take_error(c), None, "SO_ERROR is cleared by reading it");
    assert!(st.tcp_info(now).is_empty(), "{:?}", st.tcp_info(now));
    // Linux `sk_stream_wait_connect`: a failed connect leaves a socket that says EPIPE.
    assert_eq!(st.send(now, c, b"x", MsgFlags::NONE), Err(Errno::EPIPE));
    println!("refused after {:?}", t - t0);
}

/// `tcp_syn_retries` + `tcp_syn_linear_timeouts` retransmissions, the RTO
/// doubling from `rto_initial` after the linear ones, then one more RTO of
/// waiting: 1+1+1+1+1+2+…+64 = 131 s by default.
fn syn_give_up_time(sim: &mut Sim) -> Duration {
    // Linux 6.5+: `tcp_syn_retries` + `tcp_syn_linear_timeouts` retransmissions,
    // the first `tcp_syn_linear_timeouts` of them without backoff.
    let cfg = sim.stack(Side::A).tcp().config().clone();
    let linear = cfg.syn_linear_timeouts;
    (0..=cfg.syn_retries + linear)
        .map(|k| (cfg.rto_initial * 2u32.pow(k.saturating_sub(linear))).min(cfg.rto_max))
        .sum()
}

#[test]
fn connect_to_a_silent_on_link_host_is_unreachable() {
    let mut sim = Sim::new(config(Side::A, 61), config(Side::B, 62), Faults { latency: ms(1), ..Faults::default() });
    let wall = std::time::Instant::now();
    let t0 = sim.now();
    // 10.0.0.99 is on the link but nobody answers its ARP requests. As on
    // Linux, the neighbour fails after 3 requests 1 s apart, and the SYNs
    // waiting for it come back to the socket as "host unreachable", which
    // aborts a connect in SYN_SENT (`tcp_v4_err`).
    let c = connect(&mut sim, Side::A, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 99), 80));
    let (err, t) = connect_outcome(&mut sim, Side::A, c, Duration::from_secs(600));
    assert_eq!(err, Some(Errno::EHOSTUNREACH));
    assert_eq!(t - t0, Duration::from_secs(3), "after the third ARP request went unanswered");
    assert!(retransmits(&mut sim)[0] <= 2, "at most the SYN retransmissions of the first 3 s");
    let a = sim.stack(Side::A).stats();
    assert!(a.drops(DropReason::ArpUnresolved) > 0, "the SYNs waited for ARP and were dropped");
    assert_eq!(a.get(Counter::ArpRequestsTx), 1 + 3, "the gratuitous ARP, then 3 who-has 10.0.0.99");
    // Not a single IP packet left A: B saw only broadcasts (ARP).
    assert_eq!(sim.stack(Side::B).stats().get(Counter::IpRx), 0);
    let now = sim.now();
    assert!(sim.stack(Side::A).tcp_info(now).is_empty());
    println!("no such host: EHOSTUNREACH after {:?} virtual ({:.2?} real)", t - t0, wall.elapsed());
}

#[test]
fn connect_over_a_dead_wire_times_out() {
    let mut sim =
        Sim::new(config(Side::A, 71), config(Side::B, 72), Faults { latency: ms(1), seed: 71, ..Faults::default() });
    settle_arp(&mut sim);
    let l = listen(&mut sim, Side::B, 80, 4);
    // Cut the cable: every frame is lost from now on.
    let wire = sim.wire().unwrap().clone();
    wire.set_faults(Faults { loss: 1.0, ..wire.faults() });
    let lost_before = wire.stats().lost;
    let t0 = sim.now();
    let c = connect(&mut sim, Side::A, SocketAddrV4::new(B_IP, 80));
    let (err, t) = connect_outcome(&mut sim, Side::A, c, Duration::from_secs(600));
    assert_eq!(err, Some(Errno::ETIMEDOUT));
    assert_eq!(t - t0, syn_give_up_time(&mut sim), "ETIMEDOUT after the SYN retries");
    let cfg = sim.stack(Side::A).tcp().config().clone();
    let retries = (cfg.syn_retries + cfg.syn_linear_timeouts) as u64;
    assert_eq!(retransmits(&mut sim), [retries, 0]);
    // Every SYN went onto the wire and was lost; B heard nothing.
    assert!(wire.stats().lost - lost_before > retries, "{:?}", wire.stats());
    assert_eq!(sim.stack(Side::B).stats().get(Counter::TcpRx), 0);
    let now = sim.now();
    let li = info_of(sim.stack(Side::B), now, l).unwrap();
    assert_eq!((li.syn_queue, li.accept_queue), (0, 0));
    println!("dead wire: ETIMEDOUT after {:?} virtual", t - t0);
}

// ---------------------------------------------------------------- 6. backlog

#[test]
fn listen_backlog_holds_backlog_plus_one_until_accept() {
    // The queues alone, as with `tcp_syncookies = 0`: with cookies, the
    // SYNs beyond the SYN queue would be answered and those clients would
    // sit ESTABLISHED rather than retrying in SYN_SENT (stack's
    // `syn_flood_is_answered_with_cookies_and_a_real_client_gets_in`).
    let mut b = config(Side::B, 82);
    b.tcp.syncookies = false;
    let mut sim = Sim::new(config(Side::A, 81), b, Faults { latency: ms(1), seed: 81, ..Faults::default() });
    settle_arp(&mut sim);
    let backlog = 2;
    let l = listen(&mut sim, Side::B, 80, backlog);
    let t0 = sim.now();
    let clients: Vec<SocketHandle> = (0..6).map(|_| connect(&mut sim, Side::A, SocketAddrV4::new(B_IP, 80))).collect();
    let locals: BTreeSet<SocketAddrV4> = clients.iter().map(|&c| sim.stack(Side::A).getsockname(c).unwrap()).collect();
    assert_eq!(locals.len(), 6);

    // Nobody accepts for 10 s.
    let (mut max_accept, mut max_syn) = (0, 0);
    let quiet = Duration::from_secs(10);
    let r = sim.run_until(
        |sim| {
            let now = sim.now();
            let li = info_of(sim.stack(Side::B), now, l).unwrap();
            max_accept = max_accept.max(li.accept_queue);
            max_syn = max_syn.max(li.syn_queue);
            false
        },
        quiet,
    );
    assert!(matches!(r, Err(device::SimError::Timeout { .. })), "{r:?}");
    let now = sim.now();
    let li = info_of(sim.stack(Side::B), now, l).unwrap();
    let rows = sim.stack(Side::A).tcp_info(now);
    let waiting: Vec<&TcpInfo> = rows.iter().filter(|r| r.state.rfc_name() == "SYN_SENT").collect();
    println!(
        "backlog {backlog}, 6 clients, no accept for {quiet:?}: accept queue {} (max {max_accept}), SYN queue {} (max {max_syn}), \
         {} clients still in SYN_SENT with {:?} SYN retransmissions; B dropped {} SYNs (accept queue full) and {} (SYN queue full)",
        li.accept_queue,
        li.syn_queue,
        waiting.len(),
        waiting.iter().map(|r| r.total_retrans).collect::<Vec<_>>(),
        sim.stack(Side::B).stats().drops(DropReason::TcpAcceptQueueFull),
        sim.stack(Side::B).stats().drops(DropReason::TcpSynQueueFull),
    );
    // Linux's rule: the accept queue holds backlog + 1, and gets there.
    assert_eq!(max_accept, backlog + 1, "accept queue");
    assert_eq!(li.accept_queue, backlog + 1);
    assert!(max_syn <= backlog, "SYN queue went to {max_syn}");
    // Those that did not get in keep retrying their SYNs.
    assert!(waiting.len() >= 6 - (backlog + 1) - max_syn, "{waiting:?}");
    assert!(waiting.iter().all(|r| r.total_retrans >= 2), "{waiting:?}");
    assert!(sim.stack(Side::B).stats().drops(DropReason::TcpAcceptQueueFull) > 0);

    // Now B accepts everything that comes; each client says which it is.
    let accepted: Rc<RefCell<Vec<(SocketHandle, SocketAddrV4)>>> = Rc::default();
    let acc = accepted.clone();
    sim.add_service(Side::B, move |st: &mut Stack, now: Instant| {
        while let Ok(x) = st.accept(now, l) {
            acc.borrow_mut().push(x);
        }
    });
    let mut said = [false; 6];
    let t = run(&mut sim, "accepting the waiting clients", Duration::from_secs(100), |sim| {
        let now = sim.now();
        for (k, &c) in clients.iter().enumerate() {
            let st = sim.stack(Side::A);
            if !said[k] && st.poll_socket(c).contains(PollFlags::POLLOUT) {
                assert_eq!(st.send(now, c, &[k as u8], MsgFlags::NONE), Ok(1));
                said[k] = true;
            }
        }
        accepted.borrow().len() == 6
    });
    let got = run(&mut sim, "a byte from each client", Duration::from_secs(60), |sim| {
        let now = sim.now();
        accepted.borrow().iter().all(|&(s, _)| {
            let mut b = [0u8; 4];
            sim.stack(Side::B).recv(now, s, &mut b, MsgFlags::MSG_PEEK) == Ok(1)
        })
    });
    let now = sim.now();
    for &(s, peer) in accepted.borrow().iter() {
        let mut b = [0u8; 4];
        assert_eq!(sim.stack(Side::B).recv(now, s, &mut b, MsgFlags::NONE), Ok(1));
        let k = b[0] as usize;
        assert_eq!(sim.stack(Side::A).getsockname(clients[k]), Ok(peer), "the byte came from its own client");
    }
    let peers: BTreeSet<SocketAddrV4> = accepted.borrow().iter().map(|&(_, p)| p).collect();
    assert_eq!(peers, locals, "every client was accepted, once");
    for &c in &clients {
        assert_eq!(sim.stack(Side::A).take_error(c), None);
    }
    println!("all 6 accepted by t={t} ({:?} after the first SYNs); bytes read by t={got}", t - t0);
}

#[test]
#[ignore]
/// For tuning loss recovery (not in CI): the issue's link over eight
/// seeds, 2 MB each way, the mean time. `cargo test --release -p
/// synack-tests --test tcp_sim issue_link_eight_seeds -- --ignored --nocapture`
fn issue_link_eight_seeds() {
    let mut tot = 0.0;
    let mut rto = [0u64; 2];
    for seed in 1..=8u64 {
        let mut spec = device::LinkSpec::parse("loss 10%, reorder 25%, dup 5%, delay 20ms±10ms").unwrap();
        spec.faults.seed = seed;
        let t = transfer("seeds", spec.faults, 2 << 20, seed);
        tot += (t.done_at - Instant::from_secs(0)).as_secs_f64();
        rto[0] += t.recovery[0][1];
        rto[1] += t.recovery[0][0];
    }
    eprintln!("MEAN {:.2} s per 2 MB; A: {} RTO, {} SACK recoveries", tot / 8.0, rto[0], rto[1]);
}
