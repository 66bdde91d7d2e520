//! The front door (device/src/net/) on a real-time `Sim`: two stacks on an
//! in-memory wire, no TAP, no root. Several threads block at once; read
//! timeouts end in `WouldBlock`; `Drop` closes with FIN (the peer reads
//! EOF); non-blocking calls give `WouldBlock`; UDP round trips.

use device::net::{Net, TcpListener, TcpStream, UdpSocket};
use stack::{Config, MacAddr};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

fn pair() -> (Net, Net) {
    let a = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() };
    let b = Config { addr: [10, 0, 0, 2].into(), mac: MacAddr([2, 0, 0, 0, 0, 2]), ..Config::default() };
    Net::sim(a, b).unwrap()
}

#[test]
fn echo_with_several_threads_blocked_at_once() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, "10.0.0.1:7").unwrap();
    // The server: a thread per connection, each blocked in read.
    let server = std::thread::spawn(move || {
        let mut workers = Vec::new();
        for _ in 0..4 {
            let (mut s, _) = listener.accept().unwrap();
            workers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                loop {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).unwrap();
                }
            }));
        }
        for w in workers {
            w.join().unwrap();
        }
    });
    // Four clients connect, then each thread sends and waits for its echo.
    let clients: Vec<_> = (0..4u8)
        .map(|i| {
            let b = b.clone();
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(&b, "10.0.0.1:7").unwrap();
                assert_eq!(c.peer_addr().unwrap().to_string(), "10.0.0.1:7");
                let msg = vec![b'a' + i; 100_000];
                let mut r = c.try_clone().unwrap();
                let reader = std::thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4096];
                    while got.len() < 100_000 {
                        let n = r.read(&mut buf).unwrap();
                        assert!(n > 0, "early EOF");
                        got.extend_from_slice(&buf[..n]);
                    }
                    got
                });
                c.write_all(&msg).unwrap();
                let got = reader.join().unwrap();
                assert_eq!(got, msg);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
}

#[test]
fn read_timeout_then_drop_sends_fin() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, "10.0.0.1:9000").unwrap();
    let c = TcpStream::connect(&b, "10.0.0.1:9000").unwrap();
    let (mut s, peer) = listener.accept().unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let t0 = Instant::now();
    let e = s.read(&mut [0u8; 10]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(190) && waited < Duration::from_secs(2), "{waited:?}");
    assert!(s.set_read_timeout(Some(Duration::ZERO)).is_err());
    // The client's last handle goes: FIN; the server reads EOF.
    drop(c);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(s.read(&mut [0u8; 10]).unwrap(), 0);
}

#[test]
fn nonblocking_gives_would_block() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, "10.0.0.1:9001").unwrap();
    listener.set_nonblocking(true).unwrap();
    assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    let mut c = TcpStream::connect(&b, "10.0.0.1:9001").unwrap();
    c.set_nodelay(true).unwrap();
    // The handshake is done on B's side; A's accept queue fills as its
    // stack sees the ACK: poll the non-blocking accept for a bounded time.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut s = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    s.set_nonblocking(true).unwrap();
    assert_eq!(s.read(&mut [0u8; 10]).unwrap_err().kind(), ErrorKind::WouldBlock);
    c.write_all(b"hello").unwrap();
    let mut buf = [0u8; 10];
    let n = loop {
        match s.read(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("read: {e}"),
        }
    };
    assert_eq!(&buf[..n], b"hello");
}

#[test]
fn connect_refused_and_timeout() {
    let (_a, b) = pair();
    // Nobody listens on A's port 1: RST, ECONNREFUSED.
    let e = TcpStream::connect(&b, "10.0.0.1:1").err().unwrap();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    // Nobody at all at 10.0.0.9 (ARP unanswered): the timeout ends it.
    let e = TcpStream::connect_timeout(&b, &"10.0.0.9:80".parse().unwrap(), Duration::from_millis(300)).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
}

#[test]
fn udp_round_trip() {
    let (a, b) = pair();
    let server = UdpSocket::bind(&a, "10.0.0.1:7").unwrap();
    let client = UdpSocket::bind(&b, "0.0.0.0:0").unwrap();
    client.connect("10.0.0.1:7").unwrap();
    client.send(b"ping").unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    server.send_to(b"pong", from).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(client.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"pong");
    client.set_nonblocking(true).unwrap();
    assert_eq!(client.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn epoll_edge_triggered_reports_once_per_arrival() {
    use device::net::{Epoll, EpollFlags};
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, "10.0.0.1:9002").unwrap();
    let mut c = TcpStream::connect(&b, "10.0.0.1:9002").unwrap();
    let (mut s, _) = listener.accept().unwrap();
    s.set_nonblocking(true).unwrap();
    let ep = Epoll::new(&a).unwrap();
    ep.add(&s, EpollFlags::EPOLLIN | EpollFlags::EPOLLET, 7).unwrap();
    let mut evs = Vec::new();
    // Nothing yet: a bounded wait times out with 0 events.
    let t0 = Instant::now();
    assert_eq!(ep.wait(&mut evs, Some(Duration::from_millis(100))).unwrap(), 0);
    assert!(t0.elapsed() >= Duration::from_millis(90));
    // A thread blocked in wait is woken by the arrival.
    let waiter = std::thread::spawn(move || {
        let mut evs = Vec::new();
        let n = ep.wait(&mut evs, Some(Duration::from_secs(5))).unwrap();
        (n, evs, ep)
    });
    std::thread::sleep(Duration::from_millis(50));
    c.write_all(b"x").unwrap();
    let (n, got, ep) = waiter.join().unwrap();
    assert_eq!(n, 1);
    assert_eq!(got[0].token, 7);
    assert!(got[0].events.contains(EpollFlags::EPOLLIN));
    // Edge-triggered: the byte is still unread, but no new edge: 0 events.
    assert_eq!(ep.wait(&mut evs, Some(Duration::from_millis(50))).unwrap(), 0);
    assert_eq!(s.read(&mut [0u8; 4]).unwrap(), 1);
    assert_eq!(s.read(&mut [0u8; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn the_sockets_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Net>();
    check::<TcpListener>();
    check::<TcpStream>();
    check::<UdpSocket>();
    check::<device::net::Epoll>();
}

#[test]
fn write_timeout_when_the_peer_does_not_read() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, "10.0.0.1:9003").unwrap();
    let mut c = TcpStream::connect(&b, "10.0.0.1:9003").unwrap();
    let (_s, _) = listener.accept().unwrap(); // accepted, never read
    c.set_write_timeout(Some(Duration::from_millis(200))).unwrap();
    let chunk = vec![7u8; 65536];
    let mut sent = 0usize;
    // The peer's receive window and our send buffer fill; then a write
    // waits 200 ms for room and gives up with WouldBlock.
    for _ in 0..1000 {
        let t0 = Instant::now();
        match c.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::WouldBlock);
                assert!(t0.elapsed() >= Duration::from_millis(190), "{:?}", t0.elapsed());
                assert!(sent > 0);
                return;
            }
        }
    }
    panic!("64 MB went into a connection nobody reads ({sent} bytes)");
}
