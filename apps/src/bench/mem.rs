//! Two stacks in memory on one core, no device at all: each frame one
//! stack transmits is handed, as the very `SkBuff`, to the other's
//! `handle_frame` (a zero-latency, zero-copy cable). What is left is the
//! stacks' own cost per segment and per connection.

use super::proto::{pattern, Transfer};
use device::Clock;
use stack::tcp::TcpConfig;
use stack::{Config, Errno, Instant, MacAddr, MsgFlags, Offloads, SockType, Stack};
use std::io;
use std::net::SocketAddrV4;
use std::time::Duration;

const MIB: usize = 1 << 20;

fn err(what: &str) -> impl Fn(Errno) -> io::Error + '_ {
    move |e| io::Error::other(format!("in-memory {what}: {}", e.text()))
}

/// A (10.0.0.1) and B (10.0.0.2), with 1 MiB socket buffers, ARP resolved,
/// on a "device" with `offloads`: memory, which never corrupts a frame
/// (like the kernel's loopback, it needs no checksum either way).
fn pair(now: Instant, offloads: Offloads) -> (Stack, Stack) {
    let tcp = TcpConfig { sndbuf: MIB, rcvbuf: MIB, ..TcpConfig::default() };
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
    let (mut a, mut b) = (Stack::new(a, now), Stack::new(b, now));
    let _ = a.ping_send(now, [10, 0, 0, 2].into(), 1, 1, 8);
    shuttle(&mut a, &mut b, now);
    while a.ping_recv().is_some() {}
    (a, b)
}

/// Hand frames across until neither stack has anything to send.
fn shuttle(a: &mut Stack, b: &mut Stack, now: Instant) {
    // Bounded: a stack answers a frame with a bounded number of frames,
    // and the window bounds data; 1,000,000 rounds is far past either.
    for _ in 0..1_000_000 {
        let mut moved = false;
        while let Some(f) = a.poll_transmit(now) {
            b.handle_frame(now, f);
            moved = true;
        }
        while let Some(f) = b.poll_transmit(now) {
            a.handle_frame(now, f);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn timers(a: &mut Stack, b: &mut Stack, now: Instant) {
    if a.poll_timeout().is_some_and(|t| t <= now) {
        a.handle_timeout(now);
    }
    if b.poll_timeout().is_some_and(|t| t <= now) {
        b.handle_timeout(now);
    }
}

/// A sends the pattern to B for `dur`; B checks every byte.
pub fn bulk(dur: Duration, offloads: Offloads) -> io::Result<Transfer> {
    let clock = Clock::new();
    let mut now = clock.now();
    let (mut a, mut b) = pair(now, offloads);
    let l = b.socket(SockType::Stream).map_err(err("socket"))?;
    b.bind(l, SocketAddrV4::new([0, 0, 0, 0].into(), 5001)).map_err(err("bind"))?;
    b.listen(l, 16).map_err(err("listen"))?;
    let c = a.socket(SockType::Stream).map_err(err("socket"))?;
    match a.connect(now, c, "10.0.0.2:5001".parse().expect("address")) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(e) => return Err(err("connect")(e)),
    }
    shuttle(&mut a, &mut b, now);
    let (s, _) = b.accept(now, l).map_err(err("accept"))?;

    let p = pattern();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut sent, mut got, mut ok) = (0u64, 0u64, true);
    let start = std::time::Instant::now();
    let limit = dur.as_secs_f64();
    loop {
        now = clock.now();
        if start.elapsed().as_secs_f64() >= limit {
            break;
        }
        loop {
            match a.send(now, c, p.chunk(sent, 64 * 1024), MsgFlags::NONE) {
                Ok(n) => sent += n as u64,
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(err("send")(e)),
            }
        }
        shuttle(&mut a, &mut b, now);
        loop {
            match b.recv(now, s, &mut buf, MsgFlags::NONE) {
                Ok(0) => return Err(io::Error::other("in-memory: end of file too early")),
                Ok(n) => {
                    ok &= p.check(got, &buf[..n]);
                    got += n as u64;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(err("recv")(e)),
            }
        }
        timers(&mut a, &mut b, now);
        shuttle(&mut a, &mut b, now);
    }
    let secs = start.elapsed().as_secs_f64();
    if !ok {
        return Err(io::Error::other("in-memory: received bytes differ from the pattern"));
    }
    if got == 0 {
        return Err(io::Error::other("in-memory: nothing arrived"));
    }
    Ok(Transfer { bytes: got, secs })
}

/// `n` connections one after the other: connect, accept, the client
/// closes, the server closes. Returns handshakes per second.
pub fn handshakes(n: usize) -> io::Result<f64> {
    let clock = Clock::new();
    let (mut a, mut b) = pair(clock.now(), Offloads::memory());
    let l = b.socket(SockType::Stream).map_err(err("socket"))?;
    b.bind(l, SocketAddrV4::new([0, 0, 0, 0].into(), 7)).map_err(err("bind"))?;
    b.listen(l, 128).map_err(err("listen"))?;
    let to: SocketAddrV4 = "10.0.0.2:7".parse().expect("address");
    let start = std::time::Instant::now();
    for _ in 0..n {
        let now = clock.now();
        let c = a.socket(SockType::Stream).map_err(err("socket"))?;
        match a.connect(now, c, to) {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => return Err(err("connect")(e)),
        }
        shuttle(&mut a, &mut b, now);
        let (s, _) = b.accept(now, l).map_err(err("accept"))?;
        a.close(now, c).map_err(err("close"))?;
        shuttle(&mut a, &mut b, now);
        b.close(now, s).map_err(err("close"))?;
        shuttle(&mut a, &mut b, now);
    }
    let secs = start.elapsed().as_secs_f64();
    // Every connection went through: the client's ends wait in TIME_WAIT,
    // the server's are gone.
    let open = b.tcp_info(clock.now()).len();
    if open > 1 {
        return Err(io::Error::other(format!("in-memory handshakes: {} server sockets left open", open - 1)));
    }
    Ok(n as f64 / secs)
}
