//! What an idle established connection costs in memory, counted by a global
//! allocator that keeps the number of live heap bytes: two stacks open 2,000
//! connections, send a message each way on each, read everything, and go
//! idle. Buffers are allocated on demand and released when empty, so what
//! is left per connection is its control block and its table entries.
//!
//! (This test is alone in its binary: the counter sees every allocation of
//! the process, and no other test runs beside it.)

use stack::{Config, Duration, Errno, Instant, MacAddr, MsgFlags, SkBuff, SockType, Stack};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter only adds up the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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

#[test]
fn an_idle_established_connection_costs_its_control_block_only() {
    const N: usize = 2000;
    let a_cfg = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), seed: 1, ..Config::default() };
    let mut a = Stack::new(a_cfg, Instant::ZERO);
    let mut b = Stack::new(Config::default(), Instant::ZERO);
    let mut now = Instant::ZERO;
    a.ping_send(now, [10, 0, 0, 2].into(), 1, 1, 8).unwrap();
    shuttle(&mut a, &mut b, now);
    let l = b.socket(SockType::Stream).unwrap();
    b.bind(l, "0.0.0.0:7".parse().unwrap()).unwrap();
    b.listen(l, 4096).unwrap();

    let mut clients = Vec::with_capacity(N);
    let mut servers = Vec::with_capacity(N);
    let mut buf = vec![0u8; 4096];
    // The skb pool (skbuff.rs `pool`) keeps up to a fixed number of
    // buffers for reuse whatever the number of connections: not counted.
    let pooled = || stack::skbuff::pool::held_bytes() as isize;
    let before = LIVE.load(Ordering::Relaxed) - pooled();
    for i in 0..N {
        let c = a.socket(SockType::Stream).unwrap();
        assert_eq!(a.connect(now, c, "10.0.0.2:7".parse().unwrap()), Err(Errno::EINPROGRESS));
        clients.push(c);
        if i % 100 == 99 {
            shuttle(&mut a, &mut b, now);
            while let Ok((s, _)) = b.accept(now, l) {
                servers.push(s);
            }
        }
    }
    assert_eq!(servers.len(), N);
    // A 2,000-byte message each way on every connection, read to the end
    // (kept, the buffers would hold 4 KiB per end).
    let msg = [b'x'; 2000];
    for (&c, &s) in clients.iter().zip(&servers) {
        a.send(now, c, &msg, MsgFlags::NONE).unwrap();
        b.send(now, s, &msg, MsgFlags::NONE).unwrap();
    }
    for _ in 0..20 {
        now += Duration::from_millis(50); // delayed ACKs
        a.handle_timeout(now);
        b.handle_timeout(now);
        shuttle(&mut a, &mut b, now);
    }
    for (&c, &s) in clients.iter().zip(&servers) {
        assert_eq!(a.recv(now, c, &mut buf, MsgFlags::NONE), Ok(2000));
        assert_eq!(b.recv(now, s, &mut buf, MsgFlags::NONE), Ok(2000));
    }
    shuttle(&mut a, &mut b, now);
    let idle = LIVE.load(Ordering::Relaxed) - pooled();
    let per_end = (idle - before) as f64 / (2 * N) as f64;
    let info = b.tcp_info(now);
    assert!(info
        .iter()
        .filter(|t| t.state == stack::tcp::TcpState::Established)
        .all(|t| t.recv_q == 0 && t.send_q == 0));
    println!("{N} idle established connections: {per_end:.0} bytes of heap per end (control block and table entries)");
    assert!(per_end < 2048.0, "{per_end} bytes per idle connection end");
    drop(servers);
}
