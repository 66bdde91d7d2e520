//! UDP: datagram sockets.
//!
//! Read first: RFC 768 (the header and checksum), RFC 1122 §4.1 (a host must
//! check a non-zero checksum, send ICMP port unreachable for a closed port,
//! and pass ICMP errors up). Linux: net/ipv4/udp.c, `udp_rcv`,
//! `__udp4_lib_lookup`, `udp_sendmsg`, the `sk_rcvbuf` limit behind
//! `SO_RCVBUF` and the `UDP_MIB_RCVBUFERRORS` counter. The header's bytes are
//! read and written by `wire/udp.rs` (`UdpPacket`, `UdpRepr`).
//!
//! UDP's state is `Udp` (the sockets and the port table). Its receive path
//! is `Udp::udp_rcv` at the end of this file, a method taking a `Cx`
//! (cx.rs) as TCP's are, called by `ipv4.rs::ip_local_deliver`: check,
//! deliver, or hand the datagram back for the caller's ICMP port
//! unreachable. The way down is `Stack::sendto` (stack.rs) → `Udp::sendto`
//! here.

use crate::cx::{Cx, L4Xmit};
use crate::errno::Errno;
use crate::skbuff::SkBuff;
use crate::socket::{ip_ttl_value, Linger, MsgFlags, PollFlags, Shutdown, SockOpt, SockOptName, SockType, WakeQueue};
use crate::socket::{AF_INET, IP_DEFAULT_TTL};
use crate::stats::{Counter, DropReason};
use crate::wire::ipv4::PROTO_UDP;
use crate::wire::udp::UDP_HLEN;
use crate::wire::{Ipv4Repr, UdpPacket, UdpRepr};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Linux `ip_local_port_range`.
pub const EPHEMERAL_PORTS: core::ops::RangeInclusive<u16> = 32768..=60999;

/// Check the header, length and checksum of the datagram at `skb.data()`
/// (`UdpPacket::new_checked`, then `UdpRepr::parse`), trim to the UDP
/// length and pull the header.
pub fn udp_parse(src: Ipv4Addr, dst: Ipv4Addr, skb: &mut SkBuff) -> Result<UdpRepr, DropReason> {
    // RFC 768: a zero checksum means the sender computed none. A device
    // that checked it already says so (`skb_csum_unnecessary`).
    let hdr = UdpRepr::parse(&UdpPacket::new_checked(skb.data())?, src, dst, !skb.csum_unnecessary())?;
    skb.trim(hdr.length);
    skb.pull(UDP_HLEN);
    Ok(hdr)
}

/// Push a UDP header with its checksum in front of the payload.
pub fn udp_push_header(skb: &mut SkBuff, src: SocketAddrV4, dst: SocketAddrV4) {
    let length = skb.len() + UDP_HLEN;
    skb.push(UDP_HLEN);
    let repr = UdpRepr { src_port: src.port(), dst_port: dst.port(), length };
    repr.emit(&mut UdpPacket::new_unchecked(skb.data_mut()), *src.ip(), *dst.ip());
}

#[derive(Debug)]
struct UdpSocket {
    local: Option<SocketAddrV4>,
    peer: Option<SocketAddrV4>,
    /// Received datagrams: the source and the buffer with `data` at the payload.
    rxq: VecDeque<(SocketAddrV4, SkBuff)>,
    rx_bytes: usize,
    rcvbuf: usize,
    sndbuf: usize,
    error: Option<Errno>,
    shut_rd: bool,
    shut_wr: bool,
    reuse_addr: bool,
    nonblocking: bool,
    /// SO_RCVLOWAT and SO_LINGER: kept for `getsockopt`; a datagram
    /// socket's readiness and close ignore them, as Linux's
    /// (`datagram_poll`, `udp_destroy_sock`).
    rcvlowat: usize,
    linger: Linger,
    /// SO_OOBINLINE: a flag of every socket, meaningless for datagrams.
    oobinline: bool,
    /// IP_TTL (`None`: the stack's) and IP_TOS, for the datagrams' IP headers.
    ttl: Option<u8>,
    tos: u8,
}

#[derive(Debug)]
pub struct Udp {
    sockets: Vec<Option<UdpSocket>>,
    /// Bound port -> socket (`udp_table`).
    ports: HashMap<u16, usize>,
    rcvbuf: usize,
    max_sockets: usize,
    /// Sockets whose readiness may have changed, for epoll.
    wakeups: WakeQueue,
}

impl Udp {
    pub fn new(rcvbuf: usize, max_sockets: usize) -> Udp {
        Udp { sockets: Vec::new(), ports: HashMap::new(), rcvbuf, max_sockets, wakeups: WakeQueue::default() }
    }

    /// Hand every (socket, key) woken since the last call to `f`, emptying the queue.
    pub fn drain_wakeups(&mut self, f: impl FnMut(usize, PollFlags)) {
        self.wakeups.drain(f);
    }

    fn get(&self, i: usize) -> Result<&UdpSocket, Errno> {
        self.sockets.get(i).and_then(|s| s.as_ref()).ok_or(Errno::EBADF)
    }
    fn get_mut(&mut self, i: usize) -> Result<&mut UdpSocket, Errno> {
        self.sockets.get_mut(i).and_then(|s| s.as_mut()).ok_or(Errno::EBADF)
    }

    pub fn socket(&mut self) -> Result<usize, Errno> {
        let s = UdpSocket {
            local: None,
            peer: None,
            rxq: VecDeque::new(),
            rx_bytes: 0,
            rcvbuf: self.rcvbuf,
            sndbuf: 212_992,
            error: None,
            shut_rd: false,
            shut_wr: false,
            reuse_addr: false,
            nonblocking: false,
            rcvlowat: 1,
            linger: Linger::default(),
            oobinline: false,
            ttl: None,
            tos: 0,
        };
        if let Some(i) = self.sockets.iter().position(|s| s.is_none()) {
            self.sockets[i] = Some(s);
            return Ok(i);
        }
        if self.sockets.len() >= self.max_sockets {
            return Err(Errno::EMFILE);
        }
        self.sockets.push(Some(s));
        Ok(self.sockets.len() - 1)
    }

    pub fn bind(&mut self, i: usize, addr: SocketAddrV4, rng: &mut StdRng) -> Result<(), Errno> {
        if self.get(i)?.local.is_some() {
            return Err(Errno::EINVAL);
        }
        let port = match addr.port() {
            0 => self.ephemeral_port(rng)?,
            p if self.ports.contains_key(&p) => return Err(Errno::EADDRINUSE),
            p => p,
        };
        self.ports.insert(port, i);
        self.get_mut(i)?.local = Some(SocketAddrV4::new(*addr.ip(), port));
        Ok(())
    }

    fn ephemeral_port(&self, rng: &mut StdRng) -> Result<u16, Errno> {
        // Random start, then linear probe (Linux `__inet_hash_connect` does similar).
        let (lo, hi) = (*EPHEMERAL_PORTS.start(), *EPHEMERAL_PORTS.end());
        let n = (hi - lo) as u32 + 1;
        let start = rng.gen_range(0..n);
        (0..n).map(|k| lo + ((start + k) % n) as u16).find(|p| !self.ports.contains_key(p)).ok_or(Errno::EADDRNOTAVAIL)
    }

    fn autobind(&mut self, i: usize, local_ip: Ipv4Addr, rng: &mut StdRng) -> Result<SocketAddrV4, Errno> {
        if let Some(l) = self.get(i)?.local {
            return Ok(l);
        }
        self.bind(i, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0), rng)?;
        let port = self.get(i)?.local.expect("bound").port();
        let _ = local_ip;
        Ok(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
    }

    pub fn connect(
        &mut self,
        i: usize,
        local_ip: Ipv4Addr,
        remote: SocketAddrV4,
        rng: &mut StdRng,
    ) -> Result<(), Errno> {
        self.autobind(i, local_ip, rng)?;
        self.get_mut(i)?.peer = Some(remote);
        Ok(())
    }

    pub fn peer(&self, i: usize) -> Option<SocketAddrV4> {
        self.get(i).ok().and_then(|s| s.peer)
    }

    /// `udp_sendmsg`: build the datagram; the caller sends it down to IP.
    pub fn sendto(
        &mut self,
        i: usize,
        src_ip: Ipv4Addr,
        dst: SocketAddrV4,
        buf: &[u8],
        rng: &mut StdRng,
    ) -> Result<L4Xmit, Errno> {
        if self.get(i)?.shut_wr {
            return Err(Errno::EPIPE);
        }
        if let Some(e) = self.get_mut(i)?.error.take() {
            return Err(e);
        }
        let local = self.autobind(i, src_ip, rng)?;
        let mut skb = SkBuff::for_xmit(buf.len());
        skb.put_slice(buf);
        udp_push_header(&mut skb, SocketAddrV4::new(src_ip, local.port()), dst);
        let s = self.get(i)?;
        Ok(L4Xmit { src: src_ip, dst: *dst.ip(), protocol: PROTO_UDP, skb, ttl: s.ttl, tos: s.tos })
    }

    /// `udp_rcv` after parsing: find the socket and queue the payload.
    /// On failure the buffer comes back (its network header still in view)
    /// so the caller can quote it in an ICMP port unreachable.
    pub fn deliver(&mut self, src: SocketAddrV4, dst: SocketAddrV4, skb: SkBuff) -> Result<(), (DropReason, SkBuff)> {
        let Some(&i) = self.ports.get(&dst.port()) else {
            return Err((DropReason::UdpNoSocket, skb));
        };
        let Some(s) = self.sockets[i].as_mut() else {
            return Err((DropReason::UdpNoSocket, skb));
        };
        let wrong_ip = s.local.is_some_and(|l| !l.ip().is_unspecified() && l.ip() != dst.ip());
        // A connected socket takes datagrams from its peer only.
        let wrong_peer = s.peer.is_some_and(|p| p != src);
        if wrong_ip || wrong_peer {
            return Err((DropReason::UdpNoSocket, skb));
        }
        if s.shut_rd || s.rx_bytes + skb.len() > s.rcvbuf {
            return Err((DropReason::UdpRcvBufFull, skb));
        }
        s.rx_bytes += skb.len();
        s.rxq.push_back((src, skb));
        // `sk_data_ready`.
        self.wakeups.wake(i, PollFlags::POLLIN);
        Ok(())
    }

    /// An ICMP error about a datagram we sent from `local` to `remote`
    /// (RFC 1122 §4.1.3.3): a connected socket reports it on its next call.
    pub fn icmp_error(&mut self, local_port: u16, remote: SocketAddrV4, err: Errno) {
        if let Some(&i) = self.ports.get(&local_port) {
            if let Some(s) = self.sockets[i].as_mut() {
                if s.peer == Some(remote) {
                    s.error = Some(err);
                    // `sk_error_report`.
                    self.wakeups.wake(i, PollFlags::POLLERR);
                }
            }
        }
    }

    pub fn recvfrom(&mut self, i: usize, buf: &mut [u8], flags: MsgFlags) -> Result<(usize, SocketAddrV4), Errno> {
        let s = self.get_mut(i)?;
        if let Some(e) = s.error.take() {
            return Err(e);
        }
        let (from, skb) = match s.rxq.front() {
            Some(x) => x,
            None if s.shut_rd => return Ok((0, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))),
            None => return Err(Errno::EAGAIN),
        };
        let from = *from;
        let n = skb.len().min(buf.len());
        buf[..n].copy_from_slice(&skb.data()[..n]);
        if !flags.contains(MsgFlags::MSG_PEEK) {
            let (_, skb) = s.rxq.pop_front().expect("front exists");
            s.rx_bytes -= skb.len();
            if s.rxq.is_empty() {
                s.rxq = VecDeque::new(); // an idle socket holds no queue memory
            }
        }
        Ok((n, from))
    }

    pub fn shutdown(&mut self, i: usize, how: Shutdown) -> Result<(), Errno> {
        let s = self.get_mut(i)?;
        if s.peer.is_none() {
            return Err(Errno::ENOTCONN);
        }
        match how {
            Shutdown::Read => s.shut_rd = true,
            Shutdown::Write => s.shut_wr = true,
            Shutdown::Both => {
                s.shut_rd = true;
                s.shut_wr = true;
            }
        }
        Ok(())
    }

    pub fn close(&mut self, i: usize) -> Result<(), Errno> {
        let s = self.sockets.get_mut(i).and_then(|s| s.take()).ok_or(Errno::EBADF)?;
        if let Some(l) = s.local {
            self.ports.remove(&l.port());
        }
        Ok(())
    }

    pub fn getsockname(&self, i: usize) -> Result<SocketAddrV4, Errno> {
        Ok(self.get(i)?.local.unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)))
    }

    pub fn setsockopt(&mut self, i: usize, opt: SockOpt) -> Result<(), Errno> {
        let s = self.get_mut(i)?;
        match opt {
            // Linux doubles the value to allow for bookkeeping; we count payload only.
            SockOpt::RcvBuf(n) => s.rcvbuf = n.clamp(256, 16 << 20),
            SockOpt::SndBuf(n) => s.sndbuf = n.clamp(256, 16 << 20),
            SockOpt::ReuseAddr(b) => s.reuse_addr = b,
            SockOpt::NonBlocking(b) => s.nonblocking = b,
            // Linux `sk_setsockopt` SO_RCVLOWAT: 0 means 1.
            SockOpt::RcvLowat(n) => s.rcvlowat = n.max(1),
            SockOpt::OobInline(b) => s.oobinline = b,
            SockOpt::Ttl(v) => s.ttl = ip_ttl_value(v)?,
            SockOpt::Tos(t) => s.tos = t,
            SockOpt::Linger(l) => {
                s.linger.onoff = l.onoff;
                if l.onoff {
                    s.linger.secs = l.secs;
                }
            }
            SockOpt::KeepAlive(_) | SockOpt::NoDelay(_) | SockOpt::Cork(_) | SockOpt::Congestion(_) => {
                return Err(Errno::ENOPROTOOPT)
            }
            // SOL_TCP options on a UDP socket: `ip_setsockopt` says ENOPROTOOPT.
            SockOpt::KeepIdle(_) | SockOpt::KeepIntvl(_) | SockOpt::KeepCnt(_) | SockOpt::MaxSeg(_) => {
                return Err(Errno::ENOPROTOOPT)
            }
            // SO_SNDLOWAT cannot be set on Linux; the rest are read-only.
            SockOpt::SndLowat(_) | SockOpt::Type(_) | SockOpt::AcceptConn(_) | SockOpt::Domain(_) => {
                return Err(Errno::ENOPROTOOPT)
            }
        }
        Ok(())
    }

    pub fn getsockopt(&mut self, i: usize, name: SockOptName) -> Result<SockOpt, Errno> {
        let s = self.get_mut(i)?;
        Ok(match name {
            SockOptName::RcvBuf => SockOpt::RcvBuf(s.rcvbuf),
            SockOptName::SndBuf => SockOpt::SndBuf(s.sndbuf),
            SockOptName::ReuseAddr => SockOpt::ReuseAddr(s.reuse_addr),
            SockOptName::NonBlocking => SockOpt::NonBlocking(s.nonblocking),
            SockOptName::Error => return s.error.take().map_or(Ok(SockOpt::NonBlocking(s.nonblocking)), Err),
            SockOptName::RcvLowat => SockOpt::RcvLowat(s.rcvlowat),
            SockOptName::SndLowat => SockOpt::SndLowat(1),
            SockOptName::Linger => SockOpt::Linger(s.linger),
            SockOptName::OobInline => SockOpt::OobInline(s.oobinline),
            SockOptName::Ttl => SockOpt::Ttl(i32::from(s.ttl.unwrap_or(IP_DEFAULT_TTL))),
            SockOptName::Tos => SockOpt::Tos(s.tos),
            SockOptName::Type => SockOpt::Type(SockType::Dgram),
            SockOptName::AcceptConn => SockOpt::AcceptConn(false),
            SockOptName::Domain => SockOpt::Domain(AF_INET),
            SockOptName::KeepAlive | SockOptName::NoDelay | SockOptName::Cork | SockOptName::Congestion => {
                return Err(Errno::ENOPROTOOPT)
            }
            SockOptName::KeepIdle | SockOptName::KeepIntvl | SockOptName::KeepCnt | SockOptName::MaxSeg => {
                return Err(Errno::ENOPROTOOPT)
            }
        })
    }

    /// Readable with a datagram queued (or an error); always writable.
    pub fn poll(&self, i: usize) -> PollFlags {
        let Ok(s) = self.get(i) else { return PollFlags::POLLNVAL };
        let mut r = PollFlags::POLLOUT;
        if !s.rxq.is_empty() || s.shut_rd {
            r |= PollFlags::POLLIN;
        }
        if s.error.is_some() {
            r |= PollFlags::POLLERR;
        }
        r
    }

    pub fn info(&self) -> Vec<(SocketAddrV4, Option<SocketAddrV4>, usize)> {
        self.sockets.iter().flatten().filter_map(|s| s.local.map(|l| (l, s.peer, s.rx_bytes))).collect()
    }
}

// -------------------------------------------------------------- UDP path
//
// Linux net/ipv4/udp.c, `udp_rcv`, as a method of `Udp` with a `Cx`:
// check the header and deliver to a socket. A datagram no socket wants goes
// back to the caller (ipv4.rs), which answers port unreachable through
// `Icmp::icmp_send_unreach` (Linux's `udp_rcv` calls `icmp_send` itself).
// The way down is `Stack::sendto` (stack.rs) → `Udp::sendto` above.

impl Udp {
    /// `udp_rcv`: check the datagram at `skb.data()` and queue it on its
    /// socket. Returns the datagram (its network header still in view) when
    /// no socket is bound to it, for the caller to quote in an ICMP port
    /// unreachable; every other drop is counted here.
    pub fn udp_rcv(&mut self, cx: &mut Cx, ip: &Ipv4Repr, mut skb: SkBuff) -> Option<SkBuff> {
        cx.stats.inc(Counter::UdpRx);
        let h = match udp_parse(ip.src, ip.dst, &mut skb) {
            Ok(h) => h,
            Err(reason) => {
                cx.drop_packet(reason, "", || "udp".into());
                return None;
            }
        };
        let src = SocketAddrV4::new(ip.src, h.src_port);
        let dst = SocketAddrV4::new(ip.dst, h.dst_port);
        match self.deliver(src, dst, skb) {
            Ok(()) => None,
            Err((DropReason::UdpNoSocket, skb)) => {
                cx.drop_packet(DropReason::UdpNoSocket, "", || format!("{src} > {dst}"));
                Some(skb)
            }
            Err((reason, _)) => {
                cx.drop_packet(reason, "", || format!("{src} > {dst}"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn a(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    #[test]
    fn header_round_trip_and_checks() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut udp = Udp::new(1000, 8);
        let s = udp.socket().unwrap();
        udp.bind(s, a("0.0.0.0:5000"), &mut rng).unwrap();
        let x = udp.sendto(s, "10.0.0.2".parse().unwrap(), a("10.0.0.1:7"), b"hello", &mut rng).unwrap();
        let bytes = x.skb.data().to_vec();
        assert_eq!(&bytes[..6], &[0x13, 0x88, 0, 7, 0, 13]);
        let (src, dst) = (x.src, x.dst);
        let mut skb = SkBuff::from_frame(&bytes);
        let h = udp_parse(src, dst, &mut skb).unwrap();
        assert_eq!((h.src_port, h.dst_port, h.length), (5000, 7, 13));
        assert_eq!(skb.data(), b"hello");

        let mut bad = bytes.clone();
        bad[9] ^= 1;
        assert_eq!(udp_parse(src, dst, &mut SkBuff::from_frame(&bad)), Err(DropReason::UdpBadChecksum));
        let mut bad = bytes.clone();
        bad[5] = 40;
        assert_eq!(udp_parse(src, dst, &mut SkBuff::from_frame(&bad)), Err(DropReason::UdpBadLength));
        assert_eq!(udp_parse(src, dst, &mut SkBuff::from_frame(&bytes[..7])), Err(DropReason::UdpTooShort));
        let mut nocsum = bytes.clone();
        nocsum[6] = 0;
        nocsum[7] = 0;
        nocsum[9] ^= 1;
        assert!(udp_parse(src, dst, &mut SkBuff::from_frame(&nocsum)).is_ok());
    }

    #[test]
    fn bounded_receive_queue_and_peek() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut udp = Udp::new(10, 8);
        let s = udp.socket().unwrap();
        udp.bind(s, a("0.0.0.0:7"), &mut rng).unwrap();
        let from = a("10.0.0.1:4000");
        let to = a("10.0.0.2:7");
        udp.deliver(from, to, SkBuff::from_frame(b"123456")).unwrap();
        assert_eq!(udp.deliver(from, to, SkBuff::from_frame(b"123456")).unwrap_err().0, DropReason::UdpRcvBufFull);
        assert_eq!(
            udp.deliver(from, a("10.0.0.2:8"), SkBuff::from_frame(b"x")).unwrap_err().0,
            DropReason::UdpNoSocket
        );
        assert!(udp.poll(s).contains(PollFlags::POLLIN));
        let mut buf = [0u8; 4];
        assert_eq!(udp.recvfrom(s, &mut buf, MsgFlags::MSG_PEEK).unwrap(), (4, from));
        assert_eq!(udp.recvfrom(s, &mut buf, MsgFlags::NONE).unwrap(), (4, from));
        assert_eq!(&buf, b"1234");
        assert_eq!(udp.recvfrom(s, &mut buf, MsgFlags::NONE), Err(Errno::EAGAIN));
    }

    #[test]
    fn bind_conflicts_and_ephemeral_ports() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut udp = Udp::new(1000, 8);
        let s1 = udp.socket().unwrap();
        let s2 = udp.socket().unwrap();
        udp.bind(s1, a("0.0.0.0:53"), &mut rng).unwrap();
        assert_eq!(udp.bind(s2, a("0.0.0.0:53"), &mut rng), Err(Errno::EADDRINUSE));
        udp.connect(s2, "10.0.0.2".parse().unwrap(), a("10.0.0.1:53"), &mut rng).unwrap();
        assert!(EPHEMERAL_PORTS.contains(&udp.getsockname(s2).unwrap().port()));
        udp.close(s1).unwrap();
        let s3 = udp.socket().unwrap();
        assert_eq!(s3, s1);
        udp.bind(s3, a("0.0.0.0:53"), &mut rng).unwrap();
    }
}
