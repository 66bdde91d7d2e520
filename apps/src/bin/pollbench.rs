//! `pollbench`: synack's `poll` (the scan) against its `epoll` (the ready
//! list), the way the classic select/poll/epoll table measures the kernel's
//! (TLPI §63.4.5): N connections watched, a few of them active per call.
//!
//! Two stacks in memory, A (client) and B (server), frames handed across by
//! hand. B holds N established connections, all watched for POLLIN: by
//! `Stack::poll` over an array of N `(socket, events)` (plus the scan of
//! `revents` for the ready ones, as a poll(2) program must), and by one
//! epoll instance with all N registered (level-triggered). Each round, A
//! sends a byte on `ACTIVE` connections picked at random; B then asks
//! `poll`, and asks `epoll_wait`, which must both find exactly those; only
//! these two calls are timed; then B reads the bytes.
//!
//! ```sh
//! cargo run --release -p synack-apps --bin pollbench
//! ```

use rand::{Rng, SeedableRng};
use stack::{Config, Duration, EpollEvent, EpollFlags, EpollOp, Errno, Instant, MacAddr, MsgFlags};
use stack::{PollFlags, SkBuff, SockType, SocketHandle, Stack};
use std::hint::black_box;

const COUNTS: [usize; 4] = [10, 100, 1_000, 10_000];
/// Connections with data per call.
const ACTIVE: usize = 5;
/// Calls per block; each N runs one untimed warm-up block, then `BLOCKS`
/// timed ones, and reports the best block (the machine is shared: the
/// best block is the one least disturbed by other work).
const ROUNDS: usize = 4_000;
const BLOCKS: usize = 5;

fn shuttle(a: &mut Stack, b: &mut Stack, now: Instant) {
    loop {
        let mut moved = false;
        while let Some(f) = a.poll_transmit(now) {
            b.handle_frame(now, SkBuff::from_frame(f.data()));
            moved = true;
        }
        while let Some(f) = b.poll_transmit(now) {
            a.handle_frame(now, SkBuff::from_frame(f.data()));
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn tick(a: &mut Stack, b: &mut Stack, now: &mut Instant) {
    *now += Duration::from_millis(1);
    a.handle_timeout(*now);
    b.handle_timeout(*now);
    shuttle(a, b, *now);
}

struct Row {
    n: usize,
    poll_us: f64,
    epoll_us: f64,
}

fn measure(n: usize, rng: &mut rand::rngs::StdRng) -> Row {
    // A sends each byte at once (no Nagle: a byte must not wait for the ACK of the last).
    let tcp = stack::tcp::TcpConfig { nagle: false, ..Default::default() };
    let a_cfg =
        Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), seed: 1, tcp, ..Config::default() };
    let mut a = Stack::new(a_cfg, Instant::ZERO);
    let mut b = Stack::new(Config::default(), Instant::ZERO);
    let mut now = Instant::ZERO;
    a.ping_send(now, [10, 0, 0, 2].into(), 1, 1, 8).expect("ping");
    shuttle(&mut a, &mut b, now);
    let l = b.socket(SockType::Stream).expect("socket");
    b.bind(l, "0.0.0.0:7".parse().expect("addr")).expect("bind");
    b.listen(l, 4096).expect("listen");

    // N established connections.
    let mut clients = Vec::with_capacity(n);
    let mut servers: Vec<SocketHandle> = Vec::with_capacity(n);
    for i in 0..n {
        let c = a.socket(SockType::Stream).expect("socket");
        assert_eq!(a.connect(now, c, "10.0.0.2:7".parse().expect("addr")), Err(Errno::EINPROGRESS));
        clients.push(c);
        if i % 200 == 199 || i == n - 1 {
            shuttle(&mut a, &mut b, now);
            while let Ok((s, _)) = b.accept(now, l) {
                servers.push(s);
            }
        }
    }
    assert_eq!(servers.len(), n, "all connections accepted");
    // Client k's server end, by port.
    let by_port: std::collections::HashMap<u16, usize> =
        clients.iter().enumerate().map(|(k, &c)| (a.getsockname(c).expect("name").port(), k)).collect();
    let mut server_of = vec![SocketHandle::Tcp(0); n];
    for &s in &servers {
        server_of[by_port[&b.getpeername(s).expect("peer").port()]] = s;
    }

    // Watch all N both ways.
    let fds: Vec<(SocketHandle, PollFlags)> = server_of.iter().map(|&s| (s, PollFlags::POLLIN)).collect();
    let mut revents = vec![PollFlags::NONE; n];
    let ep = b.epoll_create();
    for (k, &s) in server_of.iter().enumerate() {
        b.epoll_ctl(ep, EpollOp::Add, s, EpollFlags::EPOLLIN, k as u64).expect("epoll_ctl");
    }
    let mut events: Vec<EpollEvent> = Vec::with_capacity(64);
    let mut buf = [0u8; 64];

    let (mut best_poll, mut best_epoll) = (u128::MAX, u128::MAX);
    for block in 0..=BLOCKS {
        let (mut poll_ns, mut epoll_ns) = (0u128, 0u128);
        for _ in 0..ROUNDS {
            // A few connections get a byte.
            let mut active: Vec<usize> = Vec::with_capacity(ACTIVE);
            while active.len() < ACTIVE.min(n) {
                let k = rng.gen_range(0..n);
                if !active.contains(&k) {
                    active.push(k);
                }
            }
            for &k in &active {
                a.send(now, clients[k], b"x", MsgFlags::NONE).expect("send");
            }
            tick(&mut a, &mut b, &mut now);
            active.sort_unstable();

            // poll(2): hand over all N, then scan the N revents for the ready ones.
            let t = std::time::Instant::now();
            let ready = b.poll(black_box(&fds), &mut revents);
            let mut found: Vec<usize> = Vec::with_capacity(ready);
            for (k, r) in revents.iter().enumerate() {
                if !r.is_empty() {
                    found.push(k);
                }
            }
            poll_ns += t.elapsed().as_nanos();
            assert_eq!(found, active, "poll found the active connections");

            // epoll_wait: the ready list.
            let t = std::time::Instant::now();
            let got = b.epoll_wait(ep, black_box(&mut events), 64).expect("epoll_wait");
            epoll_ns += t.elapsed().as_nanos();
            let mut found: Vec<usize> = events[..got].iter().map(|e| e.token as usize).collect();
            found.sort_unstable();
            assert_eq!(found, active, "epoll_wait found the active connections");

            for &k in &active {
                while b.recv(now, server_of[k], &mut buf, MsgFlags::NONE).is_ok() {}
            }
            black_box(&revents);
        }
        if block > 0 {
            best_poll = best_poll.min(poll_ns);
            best_epoll = best_epoll.min(epoll_ns);
        }
    }
    let per_call = |ns: u128| ns as f64 / ROUNDS as f64 / 1000.0;
    Row { n, poll_us: per_call(best_poll), epoll_us: per_call(best_epoll) }
}

fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x9011);
    println!("synack: Stack::poll vs Stack::epoll_wait, {ACTIVE} active connections per call");
    println!("(µs per call: wall time of the call alone, mean over {ROUNDS} calls, best of {BLOCKS} blocks;");
    println!(" poll includes the scan of revents for the ready ones)");
    println!();
    println!("| watched (N) | poll µs/call | epoll_wait µs/call | poll / epoll |");
    println!("|------------:|-------------:|-------------------:|-------------:|");
    for n in COUNTS {
        let r = measure(n, &mut rng);
        println!("| {:>11} | {:>12.2} | {:>18.2} | {:>12.1} |", r.n, r.poll_us, r.epoll_us, r.poll_us / r.epoll_us);
    }
}
