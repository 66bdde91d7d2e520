//! The socket's ioctls and read-only questions (`Stack`'s methods for
//! them, kept out of stack.rs): how much a blocking `recv` waits for
//! (`sock_rcvlowat`), `SIOCATMARK` (`sockatmark`), `FIONREAD` (`tcp_inq`),
//! `TCP_INFO` (`tcp_get_info`), and whether a lingering `close` still
//! waits (`lingering`). Each names the Linux function it stands for.

use super::Stack;
use crate::errno::Errno;
use crate::socket::SocketHandle;
use crate::tcp::{Lingering, LinuxTcpInfo};
use crate::time::Instant;

impl Stack {
    /// How many bytes a blocking `recv` of `len` bytes waits for (Linux
    /// `sock_rcvlowat`): all of them with `waitall`, else SO_RCVLOWAT's mark
    /// capped at `len`. A datagram socket: 1 (a datagram comes whole).
    pub fn sock_rcvlowat(&self, h: SocketHandle, waitall: bool, len: usize) -> usize {
        match h {
            SocketHandle::Udp(_) => 1,
            SocketHandle::Tcp(i) => self.tcp.sock_rcvlowat(i, waitall, len).unwrap_or(1),
        }
    }

    /// `ioctl(SIOCATMARK)`: the next read starts at the urgent byte
    /// (tcp/urgent.rs). A datagram socket has no such ioctl: `ENOTTY`.
    pub fn sockatmark(&self, h: SocketHandle) -> Result<bool, Errno> {
        match h {
            SocketHandle::Udp(_) => Err(Errno::ENOTTY),
            SocketHandle::Tcp(i) => self.tcp.sockatmark(i),
        }
    }

    /// `ioctl(FIONREAD)` on a TCP socket: bytes to read, up to an urgent
    /// byte still ahead (Linux `tcp_inq`).
    pub fn tcp_inq(&self, h: SocketHandle) -> Result<usize, Errno> {
        match h {
            SocketHandle::Udp(_) => Err(Errno::EOPNOTSUPP),
            SocketHandle::Tcp(i) => self.tcp.tcp_inq(i),
        }
    }

    /// `getsockopt(TCP_INFO)`: the socket's `struct tcp_info`
    /// (tcp/tcp_info.rs; `LinuxTcpInfo::tcp_info_bytes` lays it out).
    pub fn tcp_get_info(&self, h: SocketHandle, now: Instant) -> Result<LinuxTcpInfo, Errno> {
        match h {
            // SOL_TCP on a UDP socket: `ip_getsockopt` says ENOPROTOOPT.
            SocketHandle::Udp(_) => Err(Errno::ENOPROTOOPT),
            SocketHandle::Tcp(i) => self.tcp.tcp_get_info(i, now),
        }
    }

    /// A lingering `close` should still wait: our FIN is not yet
    /// acknowledged and the SO_LINGER time has not run out (Linux
    /// `sk_stream_wait_close`).
    pub fn lingering(&self, l: &Lingering, now: Instant) -> bool {
        self.tcp.lingering(l, now)
    }
}
