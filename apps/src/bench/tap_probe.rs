//! The raw TAP ceilings: how fast the kernel takes `write(2)`s of
//! 1514-byte frames, and how fast `read(2)` drains them, with no stack in
//! the way: the most a userspace stack on one TAP could ever move.
//!
//! - **write**: frames addressed to a MAC that is not the interface's
//!   (`PACKET_OTHERHOST`), so the kernel takes each through
//!   `tun_get_user` → `netif_receive_skb` → `ip_rcv`, where it is dropped
//!   at once: the per-frame cost of the write path and no more.
//! - **read**: the host side queues frames on the TAP with an `AF_PACKET`
//!   socket (qdisc bypassed, queue raised to `FILL` frames); then, with
//!   nobody writing, `read(2)` drains the queue, timed. Repeated until the
//!   run's time is spent.

use super::netns::{must, Netns};
use device::Tap;
use stack::wire::ethernet::{ETHERTYPE_IPV4, ETH_HLEN};
use stack::wire::ipv4::{IPV4_HLEN, PROTO_UDP};
use stack::wire::{EthernetFrame, EthernetRepr, Ipv4Packet, Ipv4Repr, MacAddr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

pub const FRAME: usize = 1514;
/// IEEE 802's Local Experimental EtherType: no protocol on the host takes
/// the frames the read test queues.
const ETHERTYPE_LOCAL_EXPERIMENTAL: u16 = 0x88b5;
/// Frames queued on the TAP before each timed drain.
const FILL: usize = 20_000;

/// frames/s of one run.
pub struct Rate {
    pub frames: u64,
    pub secs: f64,
}

impl Rate {
    pub fn per_sec(&self) -> f64 {
        self.frames as f64 / self.secs
    }
}

/// A TAP of the prober's own in `ns`, up, host side 10.0.0.1/24.
pub fn open_probe_tap(ns: &Netns) -> io::Result<Tap> {
    let tap = ns.run(|| {
        // No IPv6 chatter (router solicitations, MLD) in the queue.
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
        Tap::open("tap0", 1500)
    })?;
    ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "tap0"])?;
    ns.ip(&["link", "set", "tap0", "txqueuelen", &(FILL + 1000).to_string()])?;
    ns.ip(&["link", "set", "tap0", "up"])?;
    Ok(tap)
}

fn frame(dst: MacAddr, ethertype: u16) -> Vec<u8> {
    let mut f = vec![0u8; FRAME];
    let eth = EthernetRepr { dst, src: MacAddr([2, 0, 0, 0, 0, 0x77]), ethertype: ethertype.into() };
    let mut e = EthernetFrame::new_unchecked(&mut f[..]);
    eth.emit(&mut e);
    // An IPv4 header, so the frame gets as far as ip_rcv.
    let ip = Ipv4Repr {
        src: [10, 0, 0, 2].into(),
        dst: [10, 0, 0, 1].into(),
        protocol: PROTO_UDP,
        ttl: 64,
        tos: 0,
        ident: 0,
        dont_fragment: false,
        more_fragments: false,
        frag_offset: 0,
        header_len: IPV4_HLEN,
        total_len: FRAME - ETH_HLEN,
    };
    ip.emit(&mut Ipv4Packet::new_unchecked(e.payload_mut()));
    f
}

fn write_fd(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: write from a live slice to a descriptor we own.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: read into a live mutable slice from a descriptor we own.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Write frames to the kernel for `dur`: one `write(2)` each.
pub fn write_ceiling(tap: &Tap, dur: Duration) -> io::Result<Rate> {
    let fd = device::Device::raw_fd(tap).expect("a TAP has a descriptor");
    // To 02:00:00:00:00:99, which is nobody: PACKET_OTHERHOST, dropped in ip_rcv.
    let f = frame(MacAddr([2, 0, 0, 0, 0, 0x99]), ETHERTYPE_IPV4);
    let start = Instant::now();
    let mut frames = 0u64;
    loop {
        for _ in 0..256 {
            match write_fd(fd, &f) {
                Ok(_) => frames += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io::Error::new(e.kind(), format!("TAP write: {e}"))),
            }
        }
        let secs = start.elapsed().as_secs_f64();
        if secs >= dur.as_secs_f64() {
            return Ok(Rate { frames, secs });
        }
    }
}

/// An AF_PACKET socket on the host side of `tap0` in `ns`, sending only
/// (flood.rs `packet_socket`; failing to bypass the qdisc only slows the fill).
pub fn host_injector(ns: &Netns) -> io::Result<OwnedFd> {
    super::flood::packet_socket(ns, "tap0")
}

/// Drain what the host queued, `FILL` frames at a time, for `dur` of reading.
pub fn read_ceiling(tap: &Tap, injector: &OwnedFd, dur: Duration) -> io::Result<(Rate, u64)> {
    let fd = device::Device::raw_fd(tap).expect("a TAP has a descriptor");
    let f = frame(MacAddr([2, 0, 0, 0, 0, 2]), ETHERTYPE_LOCAL_EXPERIMENTAL);
    let mut buf = vec![0u8; 2048];
    let (mut frames, mut secs, mut lost) = (0u64, 0f64, 0u64);
    let stop = Instant::now() + dur * 10 + Duration::from_secs(5);
    // Anything already queued (the kernel's own frames) goes first, untimed.
    while read_fd(fd, &mut buf).is_ok() {}
    while secs < dur.as_secs_f64() && Instant::now() < stop {
        let mut queued = 0u64;
        for _ in 0..FILL {
            if write_fd(injector.as_raw_fd(), &f).is_ok() {
                queued += 1;
            }
        }
        let t = Instant::now();
        let mut n = 0u64;
        loop {
            match read_fd(fd, &mut buf) {
                Ok(_) => n += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io::Error::new(e.kind(), format!("TAP read: {e}"))),
            }
        }
        secs += t.elapsed().as_secs_f64();
        frames += n;
        lost += queued.saturating_sub(n);
        if n == 0 {
            return Err(io::Error::other("TAP read ceiling: the host's frames never reached the TAP"));
        }
    }
    Ok((Rate { frames, secs }, lost))
}

/// The TAP synack runs on: `tap0` in `ns`, host 10.0.0.1/24, up; with
/// `offload`, opened with the virtio-net header and offloads.
pub fn open_synack_tap(ns: &Netns, offload: bool) -> io::Result<Tap> {
    let tap = ns.run(move || {
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
        if offload {
            Tap::open_offload("tap0", 1500)
        } else {
            Tap::open("tap0", 1500)
        }
    })?;
    ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "tap0"])?;
    ns.ip(&["link", "set", "tap0", "up"])?;
    Ok(tap)
}

/// Two namespaces joined by a veth pair (MTU 1500): 10.1.0.1 in `a`,
/// 10.1.0.2 in `b`.
pub fn veth_pair(a: &Netns, b: &Netns) -> io::Result<()> {
    must("ip", &["-n", a.name(), "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", b.name()])?;
    for (ns, addr) in [(a, "10.1.0.1/24"), (b, "10.1.0.2/24")] {
        ns.ip(&["addr", "add", addr, "dev", "veth0"])?;
        ns.ip(&["link", "set", "veth0", "mtu", "1500", "up"])?;
    }
    Ok(())
}
