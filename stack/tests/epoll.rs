//! epoll's readiness rules and modes against real sockets: two stacks, A
//! (10.0.0.1, the client) and B (10.0.0.2, the server), joined by handing
//! frames across by hand on a virtual clock. One test per rule of epoll(7):
//! a listener is EPOLLIN while its accept queue is not empty; EPOLLOUT at
//! the send buffer's low-water mark; the peer's FIN gives EPOLLIN|EPOLLRDHUP;
//! a reset EPOLLERR|EPOLLHUP; level-triggered reports again while data
//! remains, edge-triggered once per arrival, one-shot disarms until MOD.

use stack::{Config, Duration, EpollEvent, EpollFlags, EpollHandle, EpollOp, Errno, Instant, MacAddr};
use stack::{MsgFlags, Shutdown, SkBuff, SockOpt, SockType, SocketHandle, Stack};
use std::net::SocketAddrV4;

const IN: EpollFlags = EpollFlags::EPOLLIN;
const OUT: EpollFlags = EpollFlags::EPOLLOUT;
const ET: EpollFlags = EpollFlags::EPOLLET;
const ONESHOT: EpollFlags = EpollFlags::EPOLLONESHOT;
const RDHUP: EpollFlags = EpollFlags::EPOLLRDHUP;
const ERR: EpollFlags = EpollFlags::EPOLLERR;
const HUP: EpollFlags = EpollFlags::EPOLLHUP;

struct Pair {
    a: Stack,
    b: Stack,
    now: Instant,
}

impl Pair {
    fn new() -> Pair {
        let a_cfg =
            Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), seed: 1, ..Config::default() };
        let mut p = Pair {
            a: Stack::new(a_cfg, Instant::ZERO),
            b: Stack::new(Config::default(), Instant::ZERO),
            now: Instant::ZERO,
        };
        // A ping, so each side knows the other's MAC (nothing waits on ARP later).
        p.a.ping_send(p.now, [10, 0, 0, 2].into(), 1, 1, 8).unwrap();
        p.settle();
        assert!(p.a.ping_recv().is_some());
        p
    }

    /// Hand frames across until neither side has anything to send.
    fn shuttle(&mut self) {
        let now = self.now;
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(f) = self.a.poll_transmit(now) {
                self.b.handle_frame(now, SkBuff::from_frame(f.data()));
                moved = true;
            }
            while let Some(f) = self.b.poll_transmit(now) {
                self.a.handle_frame(now, SkBuff::from_frame(f.data()));
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("frames never stopped");
    }

    /// Shuttle, then run every timer due in the next 300 ms (delayed ACKs,
    /// window updates): the network as it is once things have calmed down.
    fn settle(&mut self) {
        self.shuttle();
        let horizon = self.now + Duration::from_millis(300);
        for _ in 0..1000 {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()].into_iter().flatten().min();
            match next {
                Some(t) if t <= horizon => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                    self.shuttle();
                }
                _ => return,
            }
        }
    }

    /// B listens on `port`; returns the listener.
    fn listen(&mut self, port: u16) -> SocketHandle {
        let l = self.b.socket(SockType::Stream).unwrap();
        self.b.bind(l, SocketAddrV4::new([0, 0, 0, 0].into(), port)).unwrap();
        self.b.listen(l, 16).unwrap();
        l
    }

    /// A connects to B's `port`; returns A's socket once the handshake is done.
    fn connect(&mut self, port: u16) -> SocketHandle {
        let c = self.a.socket(SockType::Stream).unwrap();
        let r = self.a.connect(self.now, c, SocketAddrV4::new([10, 0, 0, 2].into(), port));
        assert_eq!(r, Err(Errno::EINPROGRESS));
        self.settle();
        c
    }

    /// An established connection: (A's end, B's accepted end).
    fn established(&mut self) -> (SocketHandle, SocketHandle, SocketHandle) {
        let l = self.listen(7);
        let c = self.connect(7);
        let (s, _) = self.b.accept(self.now, l).unwrap();
        (l, c, s)
    }

    fn a_sends(&mut self, c: SocketHandle, data: &[u8]) {
        assert_eq!(self.a.send(self.now, c, data, MsgFlags::NONE), Ok(data.len()));
        self.settle();
    }

    fn b_reads(&mut self, s: SocketHandle, n: usize) -> usize {
        let mut buf = vec![0; n];
        let r = self.b.recv(self.now, s, &mut buf, MsgFlags::NONE).unwrap();
        self.settle();
        r
    }

    /// B's epoll_wait (zero timeout): (token, events) pairs.
    fn wait(&mut self, ep: EpollHandle) -> Vec<(u64, EpollFlags)> {
        let mut v: Vec<EpollEvent> = Vec::new();
        self.b.epoll_wait(ep, &mut v, 64).unwrap();
        v.iter().map(|e| (e.token, e.events)).collect()
    }
}

#[test]
fn listener_is_readable_while_its_accept_queue_is_not_empty() {
    let mut p = Pair::new();
    let ep = p.b.epoll_create();
    let l = p.listen(7);
    p.b.epoll_ctl(ep, EpollOp::Add, l, IN, 100).unwrap();
    assert_eq!(p.wait(ep), vec![], "empty accept queue");
    p.connect(7);
    p.connect(7);
    assert_eq!(p.wait(ep), vec![(100, IN)], "two children waiting");
    assert_eq!(p.wait(ep), vec![(100, IN)], "level-triggered: still not accepted");
    // Non-blocking accept until EAGAIN empties the queue; then nothing.
    p.b.accept(p.now, l).unwrap();
    assert_eq!(p.wait(ep), vec![(100, IN)]);
    p.b.accept(p.now, l).unwrap();
    assert_eq!(p.b.accept(p.now, l), Err(Errno::EAGAIN));
    assert_eq!(p.wait(ep), vec![]);
}

#[test]
fn level_triggered_reports_again_while_data_remains() {
    let mut p = Pair::new();
    let (_, c, s) = p.established();
    let ep = p.b.epoll_create();
    p.b.epoll_ctl(ep, EpollOp::Add, s, IN, 1).unwrap();
    assert_eq!(p.wait(ep), vec![]);
    p.a_sends(c, b"hello, world");
    assert_eq!(p.wait(ep), vec![(1, IN)]);
    assert_eq!(p.wait(ep), vec![(1, IN)], "nothing read: reported again");
    assert_eq!(p.b_reads(s, 5), 5);
    assert_eq!(p.wait(ep), vec![(1, IN)], "seven bytes remain");
    assert_eq!(p.b_reads(s, 100), 7);
    assert_eq!(p.wait(ep), vec![], "read dry: no longer reported");
}

#[test]
fn edge_triggered_reports_once_per_new_arrival() {
    let mut p = Pair::new();
    let (_, c, s) = p.established();
    let ep = p.b.epoll_create();
    p.b.epoll_ctl(ep, EpollOp::Add, s, IN | ET, 1).unwrap();
    p.a_sends(c, b"first");
    assert_eq!(p.wait(ep), vec![(1, IN)]);
    assert_eq!(p.wait(ep), vec![], "the same data is not news twice");
    assert_eq!(p.b_reads(s, 2), 2);
    assert_eq!(p.wait(ep), vec![], "a partial read re-arms nothing");
    p.a_sends(c, b"second");
    assert_eq!(p.wait(ep), vec![(1, IN)], "new data: a new edge");
    assert_eq!(p.wait(ep), vec![]);
    assert_eq!(p.b_reads(s, 100), 9, "both arrivals were waiting");
    // Send space freed by ACKs is not an edge for an EPOLLIN-only watcher.
    let big = vec![7u8; 20_000];
    assert_eq!(p.b.send(p.now, s, &big, MsgFlags::NONE), Ok(20_000));
    p.settle();
    assert_eq!(p.wait(ep), vec![]);
}

#[test]
fn oneshot_reports_once_then_stays_disarmed_until_mod() {
    let mut p = Pair::new();
    let (_, c, s) = p.established();
    let ep = p.b.epoll_create();
    p.b.epoll_ctl(ep, EpollOp::Add, s, IN | ONESHOT, 9).unwrap();
    p.a_sends(c, b"one");
    assert_eq!(p.wait(ep), vec![(9, IN)]);
    p.a_sends(c, b"two");
    assert_eq!(p.wait(ep), vec![], "disarmed: new data reports nothing");
    assert_eq!(p.b.epolls().interest(ep, s), Some(ONESHOT), "still registered, no events left");
    // MOD re-arms, and looks at the socket at once: the data is there.
    p.b.epoll_ctl(ep, EpollOp::Mod, s, IN | ONESHOT, 10).unwrap();
    assert_eq!(p.wait(ep), vec![(10, IN)]);
    assert_eq!(p.wait(ep), vec![]);
    // Once it has fired, not even the peer's FIN gets through.
    p.a.close(p.now, c).unwrap();
    p.settle();
    assert_eq!(p.wait(ep), vec![]);
}

#[test]
fn out_once_connected_and_at_the_low_water_mark() {
    let mut p = Pair::new();
    // B is the client here: its connect completes with EPOLLOUT.
    let l = p.a.socket(SockType::Stream).unwrap();
    p.a.bind(l, "0.0.0.0:9".parse().unwrap()).unwrap();
    p.a.listen(l, 4).unwrap();
    let s = p.b.socket(SockType::Stream).unwrap();
    p.b.setsockopt(p.now, s, SockOpt::SndBuf(8192)).unwrap();
    let ep = p.b.epoll_create();
    assert_eq!(p.b.connect(p.now, s, "10.0.0.1:9".parse().unwrap()), Err(Errno::EINPROGRESS));
    p.b.epoll_ctl(ep, EpollOp::Add, s, OUT | ET, 3).unwrap();
    assert_eq!(p.wait(ep), vec![], "SYN_SENT: not writable yet");
    p.settle();
    assert_eq!(p.wait(ep), vec![(3, OUT)], "connected");
    assert_eq!(p.wait(ep), vec![], "edge-triggered: once");
    let (peer, _) = p.a.accept(p.now, l).unwrap();
    // Fill the send buffer, without letting the wire run.
    let chunk = vec![1u8; 4096];
    let mut queued = 0;
    while let Ok(n) = p.b.send(p.now, s, &chunk, MsgFlags::NONE) {
        queued += n;
    }
    assert_eq!(queued, 16384, "SO_SNDBUF 8192: Linux doubles it");
    assert_eq!(p.wait(ep), vec![]);
    // The peer ACKs (and its application reads): space comes back above
    // the low-water mark, a new edge.
    p.settle();
    let mut buf = vec![0; 65536];
    while p.a.recv(p.now, peer, &mut buf, MsgFlags::NONE).is_ok() {}
    p.settle();
    assert_eq!(p.wait(ep), vec![(3, OUT)]);
    assert_eq!(p.wait(ep), vec![]);
}

#[test]
fn peer_fin_gives_in_and_rdhup() {
    let mut p = Pair::new();
    let (_, c, s) = p.established();
    let ep = p.b.epoll_create();
    p.b.epoll_ctl(ep, EpollOp::Add, s, IN | RDHUP | ET, 5).unwrap();
    p.a.shutdown(p.now, c, Shutdown::Write).unwrap();
    p.settle();
    assert_eq!(p.wait(ep), vec![(5, IN | RDHUP)]);
    assert_eq!(p.b_reads(s, 10), 0, "end of stream");
}

#[test]
fn reset_gives_err_and_hup_even_unasked() {
    let mut p = Pair::new();
    let (_, c, s) = p.established();
    let ep = p.b.epoll_create();
    // Watch for nothing but writability: EPOLLERR and EPOLLHUP come anyway.
    p.b.epoll_ctl(ep, EpollOp::Add, s, OUT | ET, 5).unwrap();
    assert_eq!(p.wait(ep), vec![(5, OUT)]);
    // B sends, A never reads and closes: Linux resets (RFC 2525 §2.17).
    assert_eq!(p.b.send(p.now, s, b"unread", MsgFlags::NONE), Ok(6));
    p.settle();
    assert_eq!(p.wait(ep), vec![], "an ACK is no edge while still writable");
    p.a.close(p.now, c).unwrap();
    p.settle();
    let got = p.wait(ep);
    assert_eq!(got.len(), 1);
    assert!(got[0].1.contains(ERR | HUP), "{got:?}");
    assert_eq!(p.b.take_error(s), Some(Errno::ECONNRESET));
}

#[test]
fn udp_datagrams_wake_the_socket() {
    let mut p = Pair::new();
    let u = p.b.socket(SockType::Dgram).unwrap();
    p.b.bind(u, "0.0.0.0:7".parse().unwrap()).unwrap();
    let ep = p.b.epoll_create();
    p.b.epoll_ctl(ep, EpollOp::Add, u, IN | ET, 7).unwrap();
    let a = p.a.socket(SockType::Dgram).unwrap();
    for _ in 0..3 {
        p.a.sendto(p.now, a, b"datagram", Some("10.0.0.2:7".parse().unwrap())).unwrap();
    }
    p.settle();
    assert_eq!(p.wait(ep), vec![(7, IN)], "three arrivals before the wait: one event");
    assert_eq!(p.wait(ep), vec![]);
    p.a.sendto(p.now, a, b"datagram", Some("10.0.0.2:7".parse().unwrap())).unwrap();
    p.settle();
    assert_eq!(p.wait(ep), vec![(7, IN)]);
}

#[test]
fn a_closed_socket_leaves_the_interest_list() {
    let mut p = Pair::new();
    let (l, c, s) = p.established();
    let ep = p.b.epoll_create();
    p.b.epoll_ctl(ep, EpollOp::Add, s, IN, 1).unwrap();
    p.b.epoll_ctl(ep, EpollOp::Add, l, IN, 2).unwrap();
    assert_eq!(p.b.epolls().watched(ep), 2);
    p.a_sends(c, b"x");
    p.b.close(p.now, s).unwrap();
    p.settle();
    assert_eq!(p.b.epolls().watched(ep), 1);
    assert_eq!(p.wait(ep), vec![], "the closed socket is not reported");
    // Its slot may be reused by a new connection: no registration carries over.
    let c2 = p.connect(7);
    let (s2, _) = p.b.accept(p.now, l).unwrap();
    p.a_sends(c2, b"y");
    assert_eq!(p.b.epolls().interest(ep, s2), None);
    assert_eq!(p.wait(ep), vec![]);
    assert_eq!(p.b.epoll_ctl(ep, EpollOp::Del, s2, IN, 0), Err(Errno::ENOENT));
}

/// The point of epoll: with 300 connections watched and data on three,
/// the ready list holds three entries and the wait reports exactly them.
#[test]
fn the_ready_list_holds_only_what_was_woken() {
    let mut p = Pair::new();
    let l = p.listen(7);
    p.b.listen(l, 512).unwrap();
    let ep = p.b.epoll_create();
    let mut clients = Vec::new();
    for i in 0..300u64 {
        let c = p.a.socket(SockType::Stream).unwrap();
        let _ = p.a.connect(p.now, c, "10.0.0.2:7".parse().unwrap());
        clients.push(c);
        if i % 50 == 49 {
            p.settle();
        }
    }
    p.settle();
    // Token = the client's index, found by its port.
    let port_of: std::collections::HashMap<u16, u64> =
        clients.iter().enumerate().map(|(k, &c)| (p.a.getsockname(c).unwrap().port(), k as u64)).collect();
    let mut servers = Vec::new();
    while let Ok((s, peer)) = p.b.accept(p.now, l) {
        p.b.epoll_ctl(ep, EpollOp::Add, s, IN | ET, port_of[&peer.port()]).unwrap();
        servers.push(s);
    }
    assert_eq!(servers.len(), 300);
    assert_eq!(p.wait(ep), vec![]);
    for k in [17usize, 123, 299] {
        p.a.send(p.now, clients[k], b"ping", MsgFlags::NONE).unwrap();
    }
    p.settle();
    let mut got: Vec<u64> = p.wait(ep).into_iter().map(|(t, _)| t).collect();
    got.sort();
    assert_eq!(got, vec![17, 123, 299]);
    assert_eq!(p.b.epolls().ready_len(ep), 0, "edge-triggered entries left the list");
    assert_eq!(p.b.epolls().watched(ep), 300);
}
