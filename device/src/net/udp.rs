//! `UdpSocket`, as `std::net` has it, on the stack thread (mod.rs).
//!
//! Read first: `std::net::UdpSocket`, RFC 768, and Linux's `udp_sendmsg`,
//! `udp_recvmsg`, `ip4_datagram_connect`. A datagram goes whole or not at
//! all; `recv_from` into a short buffer keeps the start and drops the rest,
//! as Linux does without `MSG_TRUNC`. `connect` fixes the peer for `send`
//! and `recv` (and filters what arrives to that peer). Dropped: closed.

use super::{check_timeout, v4, Net, Opts, Wait};
use stack::{MsgFlags, SockOpt, SockType, SocketHandle};
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The stack's UDP socket, shared by `try_clone`s; the last drop closes it.
struct Sock {
    net: Net,
    h: SocketHandle,
    opts: Mutex<Opts>,
}

impl Drop for Sock {
    fn drop(&mut self) {
        self.net.close_on_drop(self.h);
    }
}

/// A UDP socket.
pub struct UdpSocket {
    sock: Arc<Sock>,
}

impl UdpSocket {
    /// `socket(AF_INET, SOCK_DGRAM)` + `bind` (port 0: an ephemeral port).
    pub fn bind(net: &Net, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let addr = v4(addr)?;
        let h = net.call(Wait::Never, ErrorKind::WouldBlock, |s, _| s.socket(SockType::Dgram))?;
        let sock = Arc::new(Sock { net: net.clone(), h, opts: Mutex::new(Opts::default()) });
        net.call(Wait::Never, ErrorKind::WouldBlock, move |s, _| s.bind(h, addr))?;
        Ok(UdpSocket { sock })
    }

    fn opts(&self) -> MutexGuard<'_, Opts> {
        self.sock.opts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `sendto(2)`: one datagram to `addr`.
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let to = v4(addr)?;
        self.send_inner(buf, Some(to))
    }

    /// `send(2)` to the peer `connect` set.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_inner(buf, None)
    }

    fn send_inner(&self, buf: &[u8], to: Option<std::net::SocketAddrV4>) -> io::Result<usize> {
        let h = self.sock.h;
        let data = buf.to_vec();
        let wait = self.opts().write_wait();
        self.sock.net.call(wait, ErrorKind::WouldBlock, move |s, now| s.sendto(now, h, &data, to))
    }

    /// `recvfrom(2)`: the next datagram and who sent it.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let h = self.sock.h;
        let cap = buf.len();
        let wait = self.opts().read_wait();
        let mut first = true;
        let (data, from) = self.sock.net.call(wait, ErrorKind::WouldBlock, move |s, now| {
            // A retry while not readable: no buffer to make (tcp.rs).
            if !std::mem::take(&mut first) && !s.poll_socket(h).intersects(super::tcp::READABLE) {
                return Err(stack::Errno::EAGAIN);
            }
            let mut tmp = vec![0u8; cap];
            let (n, from) = s.recvfrom(now, h, &mut tmp, MsgFlags::NONE)?;
            tmp.truncate(n.min(cap));
            Ok((tmp, from))
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok((data.len(), SocketAddr::V4(from)))
    }

    /// `recv(2)` on a connected socket.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// `connect(2)` on UDP: no packet, just the default peer.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let to = v4(addr)?;
        let h = self.sock.h;
        self.sock.net.call(Wait::Never, ErrorKind::WouldBlock, move |s, now| s.connect(now, h, to))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let h = self.sock.h;
        self.sock.net.call(Wait::Never, ErrorKind::WouldBlock, move |s, _| s.getsockname(h)).map(SocketAddr::V4)
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let h = self.sock.h;
        self.sock.net.call(Wait::Never, ErrorKind::WouldBlock, move |s, _| s.getpeername(h)).map(SocketAddr::V4)
    }

    /// `SO_RCVTIMEO`: `recv_from` that waits longer gives `WouldBlock`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        self.opts().read_timeout = t;
        Ok(())
    }

    /// `SO_SNDTIMEO`.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        self.opts().write_timeout = t;
        Ok(())
    }

    /// `O_NONBLOCK`: `recv_from` gives `WouldBlock` when nothing is queued.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.opts().nonblocking = on;
        let h = self.sock.h;
        self.sock
            .net
            .call(Wait::Never, ErrorKind::WouldBlock, move |s, now| s.setsockopt(now, h, SockOpt::NonBlocking(on)))
    }

    /// Another handle on the same socket.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket { sock: self.sock.clone() })
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket").field("handle", &self.sock.h).finish()
    }
}

impl super::Source for UdpSocket {
    fn socket_handle(&self) -> SocketHandle {
        self.sock.h
    }
}
