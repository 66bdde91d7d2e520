//! The BSD-socket-like vocabulary shared by UDP, TCP and epoll: handles,
//! flags, options (with `CongAlgo` for `TCP_CONGESTION`), `poll` readiness
//! bits with their Linux meanings and values, and the `WakeQueue` through
//! which the protocols tell epoll which sockets changed.
//!
//! Read first: socket(2), poll(2), send(2), setsockopt(2), tcp(7) (the Linux
//! man pages). This module imports nothing from the crate but `Errno`
//! (errno.rs, which imports nothing): every protocol and epoll.rs depend on
//! it, it depends on none of them.
//!
//! The calls themselves (`Stack::socket`, `bind`, `connect`, `sendto`, …)
//! live on `Stack` in stack.rs and dispatch to udp.rs or tcp/.

use crate::errno::Errno;
use std::net::SocketAddrV4;

/// `socket(AF_INET, type, 0)`.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum SockType {
    /// SOCK_STREAM: TCP.
    Stream,
    /// SOCK_DGRAM: UDP.
    Dgram,
}

/// A socket, like a file descriptor. The variant says which table owns it.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum SocketHandle {
    Udp(usize),
    Tcp(usize),
}

/// `poll(2)` event bits, with Linux's values.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct PollFlags(pub u16);

impl PollFlags {
    pub const NONE: PollFlags = PollFlags(0);
    /// Data to read, a connection to accept, or the peer's FIN (read returns 0).
    pub const POLLIN: PollFlags = PollFlags(0x001);
    pub const POLLPRI: PollFlags = PollFlags(0x002);
    /// Room in the send buffer.
    pub const POLLOUT: PollFlags = PollFlags(0x004);
    /// A pending error (read it with `take_error` / SO_ERROR).
    pub const POLLERR: PollFlags = PollFlags(0x008);
    /// Both directions are closed (reset, or FIN both ways).
    pub const POLLHUP: PollFlags = PollFlags(0x010);
    pub const POLLNVAL: PollFlags = PollFlags(0x020);
    /// The peer shut down its writing half (sent FIN).
    pub const POLLRDHUP: PollFlags = PollFlags(0x2000);

    pub fn contains(self, other: PollFlags) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
    pub fn intersects(self, other: PollFlags) -> bool {
        self.0 & other.0 != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for PollFlags {
    type Output = PollFlags;
    fn bitor(self, o: PollFlags) -> PollFlags {
        PollFlags(self.0 | o.0)
    }
}
impl core::ops::BitOrAssign for PollFlags {
    fn bitor_assign(&mut self, o: PollFlags) {
        self.0 |= o.0;
    }
}
impl core::ops::BitAnd for PollFlags {
    type Output = PollFlags;
    fn bitand(self, o: PollFlags) -> PollFlags {
        PollFlags(self.0 & o.0)
    }
}

impl core::fmt::Debug for PollFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names = [
            (Self::POLLIN, "POLLIN"),
            (Self::POLLPRI, "POLLPRI"),
            (Self::POLLOUT, "POLLOUT"),
            (Self::POLLERR, "POLLERR"),
            (Self::POLLHUP, "POLLHUP"),
            (Self::POLLNVAL, "POLLNVAL"),
            (Self::POLLRDHUP, "POLLRDHUP"),
        ];
        let set: Vec<&str> = names.iter().filter(|(b, _)| self.contains(*b)).map(|(_, n)| *n).collect();
        if set.is_empty() {
            f.write_str("0")
        } else {
            f.write_str(&set.join("|"))
        }
    }
}

/// `send`/`recv` flags, with Linux's values.
#[derive(Copy, Clone, PartialEq, Eq, Default, Debug)]
pub struct MsgFlags(pub u32);

impl MsgFlags {
    pub const NONE: MsgFlags = MsgFlags(0);
    /// Urgent data: send marks the urgent pointer, recv reads the one
    /// out-of-band byte (tcp/urgent.rs).
    pub const MSG_OOB: MsgFlags = MsgFlags(0x1);
    /// Return data without removing it from the receive queue.
    pub const MSG_PEEK: MsgFlags = MsgFlags(0x2);
    /// Do not block: `EAGAIN` instead (the blocking adapter honours it).
    pub const MSG_DONTWAIT: MsgFlags = MsgFlags(0x40);
    /// Block until the whole buffer is filled (the blocking adapter honours it).
    pub const MSG_WAITALL: MsgFlags = MsgFlags(0x100);
    /// No SIGPIPE for a broken stream: the stack never signals, it says
    /// `EPIPE`; `sigpipe_due` tells the caller whether Linux would have
    /// raised SIGPIPE too.
    pub const MSG_NOSIGNAL: MsgFlags = MsgFlags(0x4000);
    /// More data follows: hold a partial segment as TCP_CORK would, for
    /// this write only (Linux `tcp_push` with `TCP_NAGLE_CORK`).
    pub const MSG_MORE: MsgFlags = MsgFlags(0x8000);

    pub fn contains(self, other: MsgFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Whether Linux would send SIGPIPE to a program whose send on a socket of
/// type `ty` with `flags` failed with `err` (Linux `sk_stream_error`: a
/// stream socket, `EPIPE`, and no `MSG_NOSIGNAL`). The stack only returns
/// the errno; a library that runs programs on synack raises the signal.
pub fn sigpipe_due(ty: SockType, flags: MsgFlags, err: Errno) -> bool {
    ty == SockType::Stream && err == Errno::EPIPE && !flags.contains(MsgFlags::MSG_NOSIGNAL)
}

impl core::ops::BitOr for MsgFlags {
    type Output = MsgFlags;
    fn bitor(self, o: MsgFlags) -> MsgFlags {
        MsgFlags(self.0 | o.0)
    }
}

/// `shutdown(2)`'s `how`.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Shutdown {
    /// SHUT_RD
    Read,
    /// SHUT_WR: send FIN, keep receiving (half-close).
    Write,
    /// SHUT_RDWR
    Both,
}

/// Socket options for `setsockopt` / `getsockopt`.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum SockOpt {
    /// SO_REUSEADDR: allow `bind` to an address held by a TIME_WAIT socket.
    ReuseAddr(bool),
    /// SO_SNDBUF in bytes.
    SndBuf(usize),
    /// SO_RCVBUF in bytes.
    RcvBuf(usize),
    /// SO_KEEPALIVE
    KeepAlive(bool),
    /// TCP_NODELAY: turn Nagle's algorithm off.
    NoDelay(bool),
    /// TCP_CORK: hold partial segments (up to 200 ms).
    Cork(bool),
    /// O_NONBLOCK on the descriptor (the blocking adapter reads it).
    NonBlocking(bool),
    /// TCP_CONGESTION: the congestion control algorithm (tcp/cong.rs).
    Congestion(CongAlgo),
    /// SO_RCVLOWAT: a stream socket is readable (POLLIN, a blocking `recv`
    /// returns) once this many bytes are queued, or at EOF or an error
    /// (Linux `sock_rcvlowat`, `tcp_set_rcvlowat`; tcp/lowat.rs). 0 means 1.
    RcvLowat(usize),
    /// SO_SNDLOWAT: Linux cannot change it (`setsockopt` says
    /// `ENOPROTOOPT`); `getsockopt` says 1.
    SndLowat(usize),
    /// SO_LINGER (`struct linger`): what `close` does with data still to send
    /// (Linux `sock_setsockopt`, `tcp_close`; tcp/linger.rs).
    Linger(Linger),
    /// SO_TYPE (read only): SOCK_STREAM or SOCK_DGRAM.
    Type(SockType),
    /// SO_ACCEPTCONN (read only): the socket is listening.
    AcceptConn(bool),
    /// SO_DOMAIN (read only): always `AF_INET`.
    Domain(i32),
    /// SO_OOBINLINE: urgent data stays in the stream (tcp/urgent.rs).
    OobInline(bool),
    /// TCP_KEEPIDLE, TCP_KEEPINTVL (seconds), TCP_KEEPCNT (probes): this
    /// socket's keepalive, over the stack's (tcp/keepalive.rs).
    KeepIdle(u32),
    KeepIntvl(u32),
    KeepCnt(u32),
    /// TCP_MAXSEG: set (before the handshake), the most MSS this socket
    /// announces and sends with (0: no limit); read, the MSS in use
    /// (tcp/sockopt.rs).
    MaxSeg(u32),
    /// IP_TTL: this socket's TTL, 1 to 255 (`-1`: back to the stack's 64;
    /// getsockopt says the TTL in use).
    Ttl(i32),
    /// IP_TOS: this socket's TOS byte; on TCP the two ECN bits stay the
    /// stack's (Linux `ip_sock_set_tos`).
    Tos(u8),
}

/// `struct linger` of SO_LINGER.
///
/// - `onoff: false`: `close` returns at once; queued data and our FIN go
///   out in the background (the default).
/// - `onoff: true, secs: 0`: `close` aborts: a RST goes to the peer and
///   queued data is thrown away (Linux `tcp_close` → `tcp_disconnect`).
/// - `onoff: true, secs: t`: as the default, but `close` waits up to `t`
///   seconds for our FIN to be acknowledged (Linux `sk_stream_wait_close`);
///   the sans-IO stack cannot wait, so `Stack::close` says
///   `Close::Lingering` and the caller waits (device/src/socket.rs does).
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub struct Linger {
    pub onoff: bool,
    pub secs: u32,
}

/// Linux `sysctl_ip_default_ttl` (`IPDEFTTL`): IP_TTL's value until set.
pub const IP_DEFAULT_TTL: u8 = 64;
/// The two ECN bits of the TOS byte (`INET_ECN_MASK`).
pub const INET_ECN_MASK: u8 = 3;

/// Linux `do_ip_setsockopt` IP_TTL: -1 is the default, 1 to 255 a TTL,
/// anything else `EINVAL`. `Ok(None)`: the default.
pub fn ip_ttl_value(v: i32) -> Result<Option<u8>, Errno> {
    match v {
        -1 => Ok(None),
        1..=255 => Ok(Some(v as u8)),
        _ => Err(Errno::EINVAL),
    }
}

/// `AF_INET`, what SO_DOMAIN reports.
pub const AF_INET: i32 = 2;

/// The name of an option, for `getsockopt`.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum SockOptName {
    ReuseAddr,
    SndBuf,
    RcvBuf,
    KeepAlive,
    NoDelay,
    Cork,
    NonBlocking,
    Congestion,
    /// SO_ERROR: read and clear the pending error (returned as `Err`).
    Error,
    RcvLowat,
    SndLowat,
    Linger,
    Type,
    AcceptConn,
    Domain,
    OobInline,
    KeepIdle,
    KeepIntvl,
    KeepCnt,
    MaxSeg,
    Ttl,
    Tos,
}

/// The algorithms a socket can use (`TCP_CONGESTION`), with Linux's names.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum CongAlgo {
    /// RFC 5681 slow start and congestion avoidance (Linux `reno`; with
    /// fast recovery by RFC 6582 NewReno or RFC 6675 SACK).
    Reno,
    /// RFC 9438 CUBIC (Linux `cubic`, its default since 2.6.19).
    #[default]
    Cubic,
}

impl CongAlgo {
    /// Every algorithm, for help texts.
    pub const ALL: [CongAlgo; 2] = [CongAlgo::Reno, CongAlgo::Cubic];

    /// The name `ss -i` prints and `TCP_CONGESTION` takes.
    pub fn name(self) -> &'static str {
        match self {
            CongAlgo::Reno => "reno",
            CongAlgo::Cubic => "cubic",
        }
    }
    pub fn from_name(s: &str) -> Option<CongAlgo> {
        match s.to_ascii_lowercase().as_str() {
            "reno" | "newreno" => Some(CongAlgo::Reno),
            "cubic" => Some(CongAlgo::Cubic),
            _ => None,
        }
    }
}

impl core::fmt::Display for CongAlgo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.pad(self.name())
    }
}

/// Sockets whose readiness may have changed since epoll last looked, with
/// the key of each change (which events it concerns: `POLLIN` for new data,
/// `POLLOUT` for freed send space, everything for a state change). A
/// protocol calls `wake` where the kernel would call the socket's
/// `sk_data_ready` / `sk_write_space` / `sk_state_change` callbacks.
///
/// Each socket is in the queue at most once (its key accumulates), so the
/// queue is bounded by the socket table however fast the wire changes things.
#[derive(Debug, Default)]
pub struct WakeQueue {
    /// Accumulated key per socket index; non-zero = queued.
    keys: Vec<u16>,
    queue: Vec<usize>,
}

impl WakeQueue {
    /// Socket `i` may have changed in the ways `key` says.
    pub fn wake(&mut self, i: usize, key: PollFlags) {
        if key.is_empty() {
            return;
        }
        if i >= self.keys.len() {
            self.keys.resize(i + 1, 0);
        }
        if self.keys[i] == 0 {
            self.queue.push(i);
        }
        self.keys[i] |= key.0;
    }

    /// Hand every queued (socket, key) to `f`, emptying the queue.
    pub fn drain(&mut self, mut f: impl FnMut(usize, PollFlags)) {
        for i in self.queue.drain(..) {
            let key = std::mem::take(&mut self.keys[i]);
            f(i, PollFlags(key));
        }
    }

    /// Sockets queued now.
    pub fn len(&self) -> usize {
        self.queue.len()
    }
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// The key a state change wakes with: every event (Linux's
/// `sk_state_change` wakes with no key, which every watcher takes).
pub const WAKE_ALL: PollFlags = PollFlags(0xffff);

/// A received datagram's source, as `recvfrom` reports it.
pub type From = SocketAddrV4;
