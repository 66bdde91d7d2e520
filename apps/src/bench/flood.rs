//! Connect latency during a spoofed SYN flood (group `flood`): synack and
//! Linux side by side, the same flood generator, the same client.
//!
//! - **synack**: a stack as `synack up` makes it (defaults, SYN cookies on,
//!   `tcp_syncookies = 1` semantics), on `tap0` in a namespace of its own
//!   (synack 10.0.0.2/16, the host's side 10.0.0.1/16 with the `txqueuelen`
//!   `synack up` gives it, `synack_apps::TAP_TXQUEUELEN`), driven by
//!   `device::NetLoop` in the bench's main thread; a listener on port
//!   `PORT` with a backlog of `BACKLOG`, every connection accepted and closed.
//! - **Linux**: a `std::net` listener in namespace B (10.0.0.2/16, default
//!   route via 10.0.0.1), backlog `BACKLOG` (`listen(2)` again on the bound
//!   socket), `net.ipv4.tcp_syncookies = 1`; namespace A (10.0.0.1/16) holds
//!   the client and the flood's socket, joined to B by a veth pair.
//!
//! The flood: one thread with an `AF_PACKET` socket on the host's side of the
//! link (qdisc bypassed), writing SYNs with MSS 1460 to `PORT` from spoofed
//! random sources, half on-link (10.0.x.y, which nobody answers ARP for)
//! and half off-link (10.1.x.y, routed to the host, which does not forward),
//! random ports and sequence numbers, as fast as the one thread can; the
//! same frames for both but for the destination MAC. While it runs, the
//! host's kernel TCP (a thread in the client's namespace) `connect()`s
//! `connects` times, 50 ms apart, each bounded by `CONNECT_LIMIT`; a
//! connect that times out counts as `CONNECT_LIMIT`. Then the flood stops.
//! A run gives the median and the slowest connect and the SYNs per second
//! the flood thread wrote.

use super::netns::{self, join, must, Netns};
use super::{check_interrupt, Plan, Results};
use device::{NetLoop, Tap};
use stack::checksum::{checksum, transport_checksum};
use stack::{Config, Errno, SockType, SocketHandle, Stack};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The port the listeners (and the flood) use.
pub const PORT: u16 = 5002;
/// The listeners' backlog: small, so the SYN queue is full at once and
/// every flood SYN is answered with a cookie, as on a server under attack.
pub const BACKLOG: i32 = 8;
/// The longest one connect may take before it counts as failed (the
/// host's SYN retransmissions go at 1 s and 3 s).
pub const CONNECT_LIMIT: Duration = Duration::from_secs(3);
/// How long the flood runs before the first connect: the queues fill.
const LEAD: Duration = Duration::from_millis(300);

/// What one flood did.
pub struct FloodRun {
    pub connects: Vec<Duration>,
    pub sent: u64,
    pub refused: u64,
    pub secs: f64,
}

impl FloodRun {
    pub fn median_ms(&self) -> f64 {
        let mut v: Vec<f64> = self.connects.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        if n == 0 {
            return f64::NAN;
        }
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    pub fn max_ms(&self) -> f64 {
        self.connects.iter().max().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    }
    pub fn ksyn_s(&self) -> f64 {
        self.sent as f64 / self.secs / 1e3
    }
}

/// An `AF_PACKET` socket bound to `ifname` in `ns`, send only, qdisc bypassed.
pub fn packet_socket(ns: &Netns, ifname: &'static str) -> io::Result<OwnedFd> {
    ns.run(move || {
        // SAFETY: plain socket(2); protocol 0 so that it receives nothing.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: we own the new descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let name = std::ffi::CString::new(ifname).expect("no NUL");
        // SAFETY: a NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a zeroed sockaddr_ll is valid; we fill the fields bind needs.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: bind with a sockaddr_ll of the right size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        let one: libc::c_int = 1;
        // SAFETY: an int option; without it the frames only go through the qdisc.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            );
        }
        Ok(fd)
    })
}

/// An interface's MAC (`SIOCGIFHWADDR`), asked inside `ns` (sysfs would
/// show the bench's own namespace: a thread's `setns` does not remount it).
pub fn mac_of(ns: &Netns, ifname: &'static str) -> io::Result<[u8; 6]> {
    ns.run(move || {
        // SAFETY: a plain datagram socket, only for the ioctl.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: we own the new descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: a zeroed ifreq is valid; the name is copied in below.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req.ifr_name.iter_mut().zip(ifname.bytes()) {
            *d = s as libc::c_char;
        }
        // SAFETY: SIOCGIFHWADDR fills the ifreq we pass.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req as *mut libc::ifreq) } < 0 {
            return Err(io::Error::new(io::Error::last_os_error().kind(), format!("{ifname}: no MAC")));
        }
        // SAFETY: the kernel filled ifru_hwaddr.
        let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
        let mut mac = [0u8; 6];
        for (m, b) in mac.iter_mut().zip(sa.sa_data.iter()) {
            *m = *b as u8;
        }
        Ok(mac)
    })
}

/// xorshift64*: fast and good enough to scatter sources, ports and ISNs.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const SYN_LEN: usize = 14 + 20 + 24;

/// One spoofed SYN (Ethernet, IPv4, TCP with MSS 1460) into `f`.
fn spoofed_syn(f: &mut [u8; SYN_LEN], rng: &mut Rng, dst_mac: [u8; 6], src_mac: [u8; 6], dst: Ipv4Addr, id: u16) {
    let r = rng.next();
    let b = r.to_be_bytes();
    let src = if b[0] & 1 == 0 { Ipv4Addr::new(10, 0, b[1], 3 + b[2] % 252) } else { Ipv4Addr::new(10, 1, b[1], b[2]) };
    let sport = 1024 + (u16::from_be_bytes([b[3], b[4]]) % 64_000);
    let seq = (rng.next() >> 32) as u32;
    f[0..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&src_mac);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip.copy_from_slice(&[0x45, 0, 0, 44, 0, 0, 0x40, 0, 64, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut f[34..58];
    t.fill(0);
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&PORT.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 6 << 4; // data offset: 24 bytes
    t[13] = 0x02; // SYN
    t[14..16].copy_from_slice(&64_240u16.to_be_bytes());
    t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    let c = transport_checksum(src, dst, 6, t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
}

/// Start the flood thread: spoofed SYNs to `dst` (MAC `dst_mac`) on `sock`,
/// until `stop` is set or `max` has passed. Returns (sent, refused, secs).
fn start_flood(
    sock: OwnedFd,
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    dst: Ipv4Addr,
    seed: u64,
    stop: Arc<AtomicBool>,
    max: Duration,
) -> std::thread::JoinHandle<io::Result<(u64, u64, f64)>> {
    std::thread::spawn(move || {
        let mut rng = Rng(seed | 1);
        let mut f = [0u8; SYN_LEN];
        let (mut sent, mut refused) = (0u64, 0u64);
        let t0 = Instant::now();
        let mut i = 0u16;
        while !stop.load(Ordering::Relaxed) && t0.elapsed() < max {
            for _ in 0..64 {
                spoofed_syn(&mut f, &mut rng, dst_mac, src_mac, dst, i);
                i = i.wrapping_add(1);
                // SAFETY: write(2) of a live buffer to a socket we own.
                let n = unsafe { libc::write(sock.as_raw_fd(), f.as_ptr().cast(), f.len()) };
                if n < 0 {
                    // ENOBUFS: the device's queue is full; the SYN is lost.
                    refused += 1;
                } else {
                    sent += 1;
                }
            }
        }
        Ok((sent, refused, t0.elapsed().as_secs_f64()))
    })
}

/// The client: after `LEAD`, `n` connects to `to`, 50 ms apart; each timed
/// from `connect()` to its return, closed at once.
fn connects(to: SocketAddr, n: usize) -> io::Result<Vec<Duration>> {
    std::thread::sleep(LEAD);
    let mut out = Vec::new();
    for _ in 0..n {
        check_interrupt()?;
        let t = Instant::now();
        match TcpStream::connect_timeout(&to, CONNECT_LIMIT) {
            Ok(s) => {
                out.push(t.elapsed());
                drop(s);
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => out.push(CONNECT_LIMIT),
            Err(e) => return Err(io::Error::new(e.kind(), format!("connect to {to} during the flood: {e}"))),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(out)
}

/// Floods per row: one in `--smoke` (a connect whose SYN and its first
/// retransmission are lost takes 3 s, ten of them would be half a minute).
fn runs(plan: &Plan) -> usize {
    if plan.transfer < Duration::from_secs(1) {
        1
    } else {
        plan.runs
    }
}

fn connects_per_run(plan: &Plan) -> usize {
    if plan.transfer < Duration::from_secs(1) {
        10
    } else {
        15
    }
}

/// The longest a flood may run: the connects, each at worst `CONNECT_LIMIT`.
fn flood_limit(n: usize) -> Duration {
    LEAD + (CONNECT_LIMIT + Duration::from_millis(60)) * n as u32 + Duration::from_secs(2)
}

/// synack's listener: accept and close whatever completes.
struct Acceptor(SocketHandle);

impl Acceptor {
    fn listen(stack: &mut Stack) -> io::Result<Acceptor> {
        let e = |e: Errno| io::Error::other(format!("synack listener: {}", e.text()));
        let l = stack.socket(SockType::Stream).map_err(e)?;
        stack.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)).map_err(e)?;
        stack.listen(l, BACKLOG as usize).map_err(e)?;
        Ok(Acceptor(l))
    }
    fn poll(&mut self, stack: &mut Stack, now: stack::Instant) {
        while let Ok((h, _)) = stack.accept(now, self.0) {
            let _ = stack.close(now, h);
        }
    }
}

/// The host's side of synack's TAP as `synack up --addr 10.0.0.2/16
/// --host-addr 10.0.0.1/16` sets it up.
fn open_tap(ns: &Netns) -> io::Result<Tap> {
    let tap = ns.run(|| {
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
        Tap::open("tap0", 1500)
    })?;
    ns.ip(&["addr", "add", "10.0.0.1/16", "dev", "tap0"])?;
    ns.ip(&["link", "set", "tap0", "txqueuelen", &synack_apps::TAP_TXQUEUELEN.to_string()])?;
    ns.ip(&["link", "set", "tap0", "up"])?;
    Ok(tap)
}

/// One flood against synack: the loop runs here, the client and the flood
/// on threads.
pub fn synack_flood(plan: &Plan, r: &mut Results) -> io::Result<()> {
    let ns = netns::create("fs")?;
    let tap = open_tap(&ns)?;
    let config = Config { prefix_len: 16, ..Config::default() };
    let mut net = NetLoop::new(tap, config);
    let mut acc = Acceptor::listen(&mut net.stack)?;
    let host_mac = mac_of(&ns, "tap0")?;
    let dst_mac = net.stack.iface().mac.0;
    let n = connects_per_run(plan);
    let to: SocketAddr = ([10, 0, 0, 2], PORT).into();
    // A first connect without the flood: the host learns synack's MAC.
    let warm = ns.spawn(move || connects(to, 1));
    drive(&mut net, &mut acc, warm, Duration::from_secs(10))?;
    for run in 0..runs(plan) {
        check_interrupt()?;
        let before = net.stack.stats().get(stack::stats::Counter::SyncookiesSent);
        let drops0 = tap_drops(&ns);
        let stop = Arc::new(AtomicBool::new(false));
        let sock = packet_socket(&ns, "tap0")?;
        let flood = start_flood(
            sock,
            dst_mac,
            host_mac,
            [10, 0, 0, 2].into(),
            0xf100d + run as u64,
            stop.clone(),
            flood_limit(n),
        );
        let client = ns.spawn(move || connects(to, n));
        let got = drive(&mut net, &mut acc, client, flood_limit(n));
        stop.store(true, Ordering::Relaxed);
        let (sent, refused, secs) = join(flood)?;
        // Let the queued flood drain before the next run.
        let calm = std::time::Instant::now() + Duration::from_millis(300);
        while std::time::Instant::now() < calm {
            let cap = net.now() + Duration::from_millis(10);
            net.poll_once(&[], Some(cap))?;
            let now = net.now();
            acc.poll(&mut net.stack, now);
        }
        let f = FloodRun { connects: got?, sent, refused, secs };
        let cookies = net.stack.stats().get(stack::stats::Counter::SyncookiesSent).saturating_sub(before);
        let dropped = tap_drops(&ns).saturating_sub(drops0);
        eprintln!(
            "synack-bench: flood synack run {run}: {:.0} kSYN/s ({} refused, {} dropped by the TAP), {} cookies; \
             connects (ms): {:?}",
            f.ksyn_s(),
            f.refused,
            dropped,
            cookies,
            f.connects.iter().map(|d| (d.as_secs_f64() * 1e4).round() / 10.0).collect::<Vec<_>>()
        );
        r.push("flood_synack_median", f.median_ms());
        r.push("flood_synack_max", f.max_ms());
        r.push("flood_synack_rate", f.ksyn_s());
    }
    Ok(())
}

/// tap0's `tx_dropped` on the host's side: frames the kernel dropped
/// because synack's queue was full (`ip netns exec` mounts the namespace's
/// sysfs; a thread's `setns` would not).
fn tap_drops(ns: &Netns) -> u64 {
    ns.exec("cat", &["/sys/class/net/tap0/statistics/tx_dropped"], Duration::from_secs(5))
        .ok()
        .and_then(|o| o.stdout.trim().parse().ok())
        .unwrap_or(0)
}

fn drive<T>(
    net: &mut NetLoop<Tap>,
    acc: &mut Acceptor,
    worker: std::thread::JoinHandle<io::Result<T>>,
    limit: Duration,
) -> io::Result<T> {
    let deadline = Instant::now() + limit + Duration::from_secs(5);
    while !worker.is_finished() {
        check_interrupt()?;
        if Instant::now() > deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the flood's client did not finish in time"));
        }
        let cap = net.now() + Duration::from_millis(10);
        net.poll_once(&[], Some(cap))?;
        let now = net.now();
        acc.poll(&mut net.stack, now);
    }
    join(worker)
}

/// The same flood and client against Linux over veth.
pub fn linux_flood(plan: &Plan, r: &mut Results) -> io::Result<()> {
    let (a, b) = (netns::create("fa")?, netns::create("fb")?);
    must("ip", &["-n", a.name(), "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", b.name()])?;
    for (ns, addr) in [(&a, "10.0.0.1/16"), (&b, "10.0.0.2/16")] {
        ns.ip(&["addr", "add", addr, "dev", "veth0"])?;
        ns.ip(&["link", "set", "veth0", "mtu", "1500", "up"])?;
    }
    b.ip(&["route", "add", "default", "via", "10.0.0.1"])?;
    b.run(|| std::fs::write("/proc/sys/net/ipv4/tcp_syncookies", "1"))?;
    let l = b.run(|| {
        let l = TcpListener::bind(("10.0.0.2", PORT))?;
        // listen(2) again: the backlog of `BACKLOG`, as synack's listener.
        // SAFETY: listen on a socket we own.
        if unsafe { libc::listen(l.as_raw_fd(), BACKLOG) } != 0 {
            return Err(io::Error::last_os_error());
        }
        l.set_nonblocking(true)?;
        Ok(l)
    })?;
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let server = b.spawn(move || {
        while !d.load(Ordering::Relaxed) {
            match l.accept() {
                Ok((s, _)) => drop(s),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    let dst_mac = mac_of(&b, "veth0")?;
    let src_mac = mac_of(&a, "veth0")?;
    let n = connects_per_run(plan);
    let to: SocketAddr = ([10, 0, 0, 2], PORT).into();
    let mut result = Ok(());
    for run in 0..runs(plan) {
        if let Err(e) = check_interrupt() {
            result = Err(e);
            break;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let sock = match packet_socket(&a, "veth0") {
            Ok(s) => s,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        let flood = start_flood(
            sock,
            dst_mac,
            src_mac,
            [10, 0, 0, 2].into(),
            0xf100d + run as u64,
            stop.clone(),
            flood_limit(n),
        );
        let got = join(a.spawn(move || connects(to, n)));
        stop.store(true, Ordering::Relaxed);
        let (sent, refused, secs) = join(flood)?;
        let f = match got {
            Ok(c) => FloodRun { connects: c, sent, refused, secs },
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        eprintln!(
            "synack-bench: flood Linux run {run}: {:.0} kSYN/s ({} refused); connects (ms): {:?}",
            f.ksyn_s(),
            f.refused,
            f.connects.iter().map(|d| (d.as_secs_f64() * 1e4).round() / 10.0).collect::<Vec<_>>()
        );
        r.push("flood_linux_median", f.median_ms());
        r.push("flood_linux_max", f.max_ms());
        r.push("flood_linux_rate", f.ksyn_s());
        std::thread::sleep(Duration::from_millis(300));
    }
    done.store(true, Ordering::Relaxed);
    join(server)?;
    result
}

/// Group `flood`: Linux first, then synack (each in namespaces of its own).
pub fn flood(plan: &Plan, r: &mut Results) -> io::Result<()> {
    linux_flood(plan, r)?;
    synack_flood(plan, r)
}
