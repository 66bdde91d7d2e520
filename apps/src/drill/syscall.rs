//! A script's system calls on synack's sockets (packetdrill's
//! `run_system_call.c`): descriptors, arguments, blocking, results.
//!
//! - **Descriptors.** The script names them (`socket(…) = 3`, `accept(3,
//!   …) = 4`); the runner gives the new socket exactly that number, so the
//!   script's numbers are synack's.
//! - **Addresses.** packetdrill fills `...` sockaddrs with its own: `bind`
//!   takes synack's address and port 8080, `connect` goes to the script's
//!   side, 192.0.2.1:8080.
//! - **Blocking.** synack's calls never block; they say `EAGAIN`. A call on
//!   a blocking socket that says so is *blocked*: the runner keeps it and
//!   tries it again as the network runs (`Step::Blocked`), as the kernel
//!   wakes a process in `sk_wait_data`. A blocking `send` sends everything,
//!   a `recv` returns what is there, `MSG_WAITALL` waits for all, `connect`
//!   waits for the handshake (the same rules as `device::socket`).
//! - **Buffers.** `write(4, ..., 1000)` writes 1000 zero bytes, as
//!   packetdrill does; reads are checked for their count only.

use super::ast::{Expr, SyscallSpec};
use stack::socket::CongAlgo;
use stack::{Close, Linger, Lingering, SockOpt, SockOptName, SockType, SocketHandle, Stack};
use stack::{EpollEvent, EpollFlags, EpollHandle, EpollOp, Errno, Instant, MsgFlags, PollFlags, Shutdown};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

/// What a script descriptor stands for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fd {
    Socket(SocketHandle),
    Epoll(EpollHandle),
}

/// The addresses packetdrill puts behind `...`.
#[derive(Copy, Clone, Debug)]
pub struct Addrs {
    /// synack's address and the port `bind` takes.
    pub bind: SocketAddrV4,
    /// Where `connect` goes (and `sendto` sends).
    pub connect: SocketAddrV4,
}

/// A call that could not be made at all.
#[derive(Debug)]
pub enum CallError {
    /// A call or argument synack drill does not support: skip the script.
    Unsupported(String),
    /// The script is wrong (an unknown descriptor, a malformed argument).
    Script(String),
}

type CallResult<T> = Result<T, CallError>;

fn script<T>(m: impl Into<String>) -> CallResult<T> {
    Err(CallError::Script(m.into()))
}

fn unsupported<T>(m: impl Into<String>) -> CallResult<T> {
    Err(CallError::Unsupported(m.into()))
}

/// The result of one try of a call.
#[derive(Debug)]
pub enum Step {
    /// It returned: the value (or errno), and any output argument that did
    /// not hold what the script expects.
    Done { ret: Result<i64, Errno>, mismatch: Option<String> },
    /// It would block: try again when the network has moved, or at the deadline.
    Blocked { deadline: Option<Instant> },
}

fn done(ret: Result<i64, Errno>) -> Step {
    Step::Done { ret, mismatch: None }
}

/// What a blocked call has done so far (bytes moved, a connect under way,
/// its timeout).
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub bytes: usize,
    pub started: bool,
    pub deadline: Option<Instant>,
    /// A `close` waiting under SO_LINGER (stack/src/tcp/linger.rs).
    pub linger: Option<Lingering>,
}

/// What the runner must know after a call: a socket started listening or
/// connecting (packetdrill's "socket under test").
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// `socket()` made this descriptor: it is the one under test now.
    NewSocket(i64),
    /// `listen(fd)` succeeded.
    Listening(i64),
    Connecting(SocketAddrV4),
}

/// Linux's values for the names scripts use.
pub fn symbol(name: &str) -> Option<i64> {
    Some(match name {
        "AF_INET" | "PF_INET" => 2,
        "SOCK_STREAM" => 1,
        "SOCK_DGRAM" => 2,
        "SOCK_NONBLOCK" | "O_NONBLOCK" => 0o4000,
        "SOCK_CLOEXEC" => 0o2000000,
        "IPPROTO_IP" | "SOL_IP" => 0,
        "IP_TOS" => 1,
        "IP_TTL" => 2,
        "IPPROTO_TCP" => 6,
        "IPPROTO_UDP" => 17,
        "SOL_SOCKET" => 1,
        "SOL_TCP" => 6,
        "SO_REUSEADDR" => 2,
        "SO_ERROR" => 4,
        "SO_SNDBUF" => 7,
        "SO_RCVBUF" => 8,
        "SO_KEEPALIVE" => 9,
        "SO_TYPE" => 3,
        "SO_OOBINLINE" => 10,
        "SO_LINGER" => 13,
        "SO_RCVLOWAT" => 18,
        "SO_SNDLOWAT" => 19,
        "SO_ACCEPTCONN" => 30,
        "SO_DOMAIN" => 39,
        "TCP_NODELAY" => 1,
        "TCP_CORK" => 3,
        "TCP_MAXSEG" => 2,
        "TCP_KEEPIDLE" => 4,
        "TCP_KEEPINTVL" => 5,
        "TCP_KEEPCNT" => 6,
        "TCP_CONGESTION" => 13,
        "F_GETFL" => 3,
        "F_SETFL" => 4,
        "O_RDONLY" => 0,
        "O_WRONLY" => 1,
        "O_RDWR" => 2,
        "FIONREAD" | "SIOCINQ" => 0x541b,
        "SIOCATMARK" => 0x8905,
        "SHUT_RD" => 0,
        "SHUT_WR" => 1,
        "SHUT_RDWR" => 2,
        "MSG_OOB" => 0x1,
        "MSG_PEEK" => 0x2,
        "MSG_DONTWAIT" => 0x40,
        "MSG_WAITALL" => 0x100,
        "MSG_NOSIGNAL" => 0x4000,
        "MSG_MORE" => 0x8000,
        "POLLIN" | "EPOLLIN" => 0x1,
        "POLLPRI" | "EPOLLPRI" => 0x2,
        "POLLOUT" | "EPOLLOUT" => 0x4,
        "POLLERR" | "EPOLLERR" => 0x8,
        "POLLHUP" | "EPOLLHUP" => 0x10,
        "POLLNVAL" => 0x20,
        "POLLRDNORM" | "EPOLLRDNORM" => 0x40,
        "POLLWRNORM" | "EPOLLWRNORM" => 0x100,
        "POLLRDHUP" | "EPOLLRDHUP" => 0x2000,
        "EPOLLONESHOT" => 1 << 30,
        "EPOLLET" => 1 << 31,
        "EPOLL_CTL_ADD" => 1,
        "EPOLL_CTL_DEL" => 2,
        "EPOLL_CTL_MOD" => 3,
        "NULL" => 0,
        // Errno values, for SO_ERROR (`[ECONNREFUSED]`).
        "EPIPE" => 32,
        "EAGAIN" | "EWOULDBLOCK" => 11,
        "ENETUNREACH" => 101,
        "ECONNRESET" => 104,
        "ETIMEDOUT" => 110,
        "ECONNREFUSED" => 111,
        "ENOPROTOOPT" => 92,
        "EHOSTUNREACH" => 113,
        "EINPROGRESS" => 115,
        _ => return None,
    })
}

/// An argument's integer value; `None` for `...`.
fn int(e: &Expr) -> CallResult<Option<i64>> {
    Ok(Some(match e {
        Expr::Ellipsis => return Ok(None),
        Expr::Int(v) => *v,
        Expr::Word(w) => match symbol(w) {
            Some(v) => v,
            None => return unsupported(format!("symbol `{w}`")),
        },
        Expr::BitOr(parts) => {
            let mut v = 0;
            for p in parts {
                v |= int(p)?.unwrap_or(0);
            }
            v
        }
        Expr::Call(f, args) if (f == "htons" || f == "htonl" || f == "ntohs") && args.len() == 1 => {
            return int(&args[0]);
        }
        // `[1]`: the int an option points at.
        Expr::List(items) if items.len() == 1 => return int(&items[0]),
        other => return script(format!("expected a number, not {other:?}")),
    }))
}

fn need_int(e: &Expr, what: &str) -> CallResult<i64> {
    int(e)?.ok_or_else(|| CallError::Script(format!("{what} cannot be `...`")))
}

fn arg(call: &SyscallSpec, i: usize) -> CallResult<&Expr> {
    call.args.get(i).ok_or_else(|| CallError::Script(format!("{} needs at least {} arguments", call.name, i + 1)))
}

/// The descriptors of one script.
#[derive(Default)]
pub struct Calls {
    pub fds: BTreeMap<i64, Fd>,
}

impl Calls {
    fn socket_fd(&self, e: &Expr) -> CallResult<SocketHandle> {
        let n = need_int(e, "a descriptor")?;
        match self.fds.get(&n) {
            Some(Fd::Socket(h)) => Ok(*h),
            Some(Fd::Epoll(_)) => script(format!("fd {n} is an epoll instance, not a socket")),
            None => script(format!("fd {n} is not open")),
        }
    }

    /// Give `fd` (the number the script expects) to a new object.
    fn install(&mut self, expected: &Expr, fd: Fd) -> CallResult<i64> {
        let n = match int(expected)? {
            Some(n) if n >= 0 => n,
            _ => (3..).find(|n| !self.fds.contains_key(n)).unwrap_or(3),
        };
        if self.fds.contains_key(&n) {
            return script(format!("the script gives fd {n}, which is still open"));
        }
        self.fds.insert(n, fd);
        Ok(n)
    }

    /// The socket a listener or connect call made the one under test.
    pub fn handle_of(&self, fd: i64) -> Option<SocketHandle> {
        match self.fds.get(&fd) {
            Some(Fd::Socket(h)) => Some(*h),
            _ => None,
        }
    }

    /// Try `call` once at `now`.
    pub fn attempt(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        call: &SyscallSpec,
        p: &mut Progress,
        addrs: &Addrs,
        effect: &mut Effect,
    ) -> CallResult<Step> {
        let name = call.name.as_str();
        match name {
            "socket" => {
                let ty = need_int(arg(call, 1)?, "the type")?;
                let kind = match ty & 0xf {
                    1 => SockType::Stream,
                    2 => SockType::Dgram,
                    _ => return unsupported(format!("socket type {ty}")),
                };
                let h = match stack.socket(kind) {
                    Ok(h) => h,
                    Err(e) => return Ok(done(Err(e))),
                };
                if ty & symbol("SOCK_NONBLOCK").unwrap_or(0) != 0 {
                    let _ = stack.setsockopt(now, h, SockOpt::NonBlocking(true));
                }
                let fd = self.install(&call.result, Fd::Socket(h))?;
                *effect = Effect::NewSocket(fd);
                Ok(done(Ok(fd)))
            }
            "bind" => {
                let h = self.socket_fd(arg(call, 0)?)?;
                Ok(done(stack.bind(h, addrs.bind).map(|_| 0)))
            }
            "listen" => {
                let fd = need_int(arg(call, 0)?, "a descriptor")?;
                let h = self.socket_fd(arg(call, 0)?)?;
                let backlog = need_int(arg(call, 1)?, "the backlog")?.max(0) as usize;
                let r = stack.listen(h, backlog);
                if r.is_ok() {
                    *effect = Effect::Listening(fd);
                }
                Ok(done(r.map(|_| 0)))
            }
            "accept" | "accept4" => {
                let h = self.socket_fd(arg(call, 0)?)?;
                match stack.accept(now, h) {
                    Ok((child, _peer)) => Ok(done(Ok(self.install(&call.result, Fd::Socket(child))?))),
                    Err(Errno::EAGAIN) if !nonblocking(stack, h) => Ok(Step::Blocked { deadline: None }),
                    Err(e) => Ok(done(Err(e))),
                }
            }
            "connect" => {
                let h = self.socket_fd(arg(call, 0)?)?;
                if !p.started {
                    p.started = true;
                    let r = stack.connect(now, h, addrs.connect);
                    if matches!(h, SocketHandle::Tcp(_)) && matches!(r, Ok(()) | Err(Errno::EINPROGRESS)) {
                        *effect = Effect::Connecting(addrs.connect);
                    }
                    return match r {
                        Err(Errno::EINPROGRESS) if !nonblocking(stack, h) => Ok(Step::Blocked { deadline: None }),
                        r => Ok(done(r.map(|_| 0))),
                    };
                }
                let ready = stack.poll_socket(h);
                if !ready.intersects(PollFlags::POLLOUT | PollFlags::POLLERR | PollFlags::POLLHUP) {
                    return Ok(Step::Blocked { deadline: None });
                }
                Ok(done(stack.take_error(h).map_or(Ok(0), Err)))
            }
            "write" | "send" | "sendto" | "writev" | "sendmsg" => self.send(stack, now, call, p, addrs.connect),
            "read" | "recv" | "recvfrom" | "readv" | "recvmsg" => self.recv(stack, now, call, p),
            "shutdown" => {
                let h = self.socket_fd(arg(call, 0)?)?;
                let how = match need_int(arg(call, 1)?, "how")? {
                    0 => Shutdown::Read,
                    1 => Shutdown::Write,
                    2 => Shutdown::Both,
                    n => return script(format!("shutdown how {n}")),
                };
                Ok(done(stack.shutdown(now, h, how).map(|_| 0)))
            }
            "close" => {
                // A lingering close (SO_LINGER with a time) blocks until our
                // FIN is acknowledged or the time runs out, then returns 0.
                if let Some(l) = p.linger {
                    return Ok(match stack.lingering(&l, now) {
                        true => Step::Blocked { deadline: Some(l.until) },
                        false => done(Ok(0)),
                    });
                }
                let n = need_int(arg(call, 0)?, "a descriptor")?;
                let r = match self.fds.remove(&n) {
                    Some(Fd::Socket(h)) => stack.close(now, h),
                    Some(Fd::Epoll(ep)) => stack.epoll_close(ep).map(|()| Close::Closed),
                    None => Err(Errno::EBADF),
                };
                if let Ok(Close::Lingering(l)) = r {
                    p.linger = Some(l);
                    return Ok(Step::Blocked { deadline: Some(l.until) });
                }
                Ok(done(r.map(|_| 0)))
            }
            "setsockopt" => self.setsockopt(stack, now, call),
            "getsockopt" => self.getsockopt(stack, call),
            "fcntl" => {
                let h = self.socket_fd(arg(call, 0)?)?;
                match need_int(arg(call, 1)?, "the command")? {
                    3 => {
                        let nb = if nonblocking(stack, h) { symbol("O_NONBLOCK").unwrap_or(0) } else { 0 };
                        Ok(done(Ok(symbol("O_RDWR").unwrap_or(2) | nb)))
                    }
                    4 => {
                        let flags = need_int(arg(call, 2)?, "the flags")?;
                        let on = flags & symbol("O_NONBLOCK").unwrap_or(0) != 0;
                        Ok(done(stack.setsockopt(now, h, SockOpt::NonBlocking(on)).map(|_| 0)))
                    }
                    c => unsupported(format!("fcntl command {c}")),
                }
            }
            "ioctl" => {
                let h = self.socket_fd(arg(call, 0)?)?;
                let (what, got) = match need_int(arg(call, 1)?, "the request")? {
                    0x541b if matches!(h, SocketHandle::Udp(_)) => return unsupported("FIONREAD on a UDP socket"),
                    0x541b => ("FIONREAD", stack.tcp_inq(h).map(|n| n as i64)),
                    0x8905 => ("SIOCATMARK", stack.sockatmark(h).map(i64::from)),
                    _ => return unsupported("ioctl other than FIONREAD/SIOCINQ and SIOCATMARK"),
                };
                let got = match got {
                    Ok(v) => v,
                    Err(e) => return Ok(done(Err(e))),
                };
                let mismatch = check_value(arg(call, 2)?, got, what)?;
                Ok(Step::Done { ret: Ok(0), mismatch })
            }
            "getsockname" | "getpeername" => {
                let h = self.socket_fd(arg(call, 0)?)?;
                let r = if name == "getsockname" { stack.getsockname(h) } else { stack.getpeername(h) };
                Ok(done(r.map(|_| 0)))
            }
            "poll" => self.poll(stack, now, call, p),
            "epoll_create" | "epoll_create1" => {
                let ep = stack.epoll_create();
                Ok(done(Ok(self.install(&call.result, Fd::Epoll(ep))?)))
            }
            "epoll_ctl" => {
                let ep = self.epoll_fd(arg(call, 0)?)?;
                let op = match need_int(arg(call, 1)?, "the op")? {
                    1 => EpollOp::Add,
                    2 => EpollOp::Del,
                    3 => EpollOp::Mod,
                    o => return script(format!("epoll_ctl op {o}")),
                };
                let fd = need_int(arg(call, 2)?, "the descriptor")?;
                let h = self.socket_fd(arg(call, 2)?)?;
                let events = match call.args.get(3) {
                    Some(Expr::Struct(fields)) => {
                        field(fields, "events", 0).map(int).transpose()?.flatten().unwrap_or(0)
                    }
                    _ => 0,
                };
                Ok(done(stack.epoll_ctl(ep, op, h, EpollFlags(events as u32), fd as u64).map(|_| 0)))
            }
            "epoll_wait" => self.epoll_wait(stack, now, call, p),
            other => unsupported(format!("system call `{other}`")),
        }
    }

    fn epoll_fd(&self, e: &Expr) -> CallResult<EpollHandle> {
        let n = need_int(e, "a descriptor")?;
        match self.fds.get(&n) {
            Some(Fd::Epoll(ep)) => Ok(*ep),
            _ => script(format!("fd {n} is not an epoll instance")),
        }
    }

    /// write, send, sendto, writev: the length is the third argument (or
    /// the iovecs' sum); blocking sockets send it all.
    fn send(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        call: &SyscallSpec,
        p: &mut Progress,
        to: SocketAddrV4,
    ) -> CallResult<Step> {
        let h = self.socket_fd(arg(call, 0)?)?;
        let (len, flags) = len_and_flags(call)?;
        let dontwait = flags.contains(MsgFlags::MSG_DONTWAIT) || nonblocking(stack, h);
        let buf = vec![0u8; (len.max(0) as usize).saturating_sub(p.bytes)];
        let r = match (call.name.as_str(), h) {
            ("sendto", SocketHandle::Udp(_)) => stack.sendto(now, h, &buf, Some(to)),
            _ => stack.send(now, h, &buf, flags),
        };
        // A datagram goes whole or not at all; a stream may take part.
        let stream = matches!(h, SocketHandle::Tcp(_));
        Ok(transfer(p, r, dontwait, |p, _| stream && p.bytes < len as usize && !dontwait))
    }

    /// read, recv, recvfrom, readv: a stream returns what is there, or 0 at
    /// the end; `MSG_WAITALL` waits for the whole length.
    fn recv(&mut self, stack: &mut Stack, now: Instant, call: &SyscallSpec, p: &mut Progress) -> CallResult<Step> {
        let h = self.socket_fd(arg(call, 0)?)?;
        let (len, flags) = len_and_flags(call)?;
        let stream = matches!(h, SocketHandle::Tcp(_));
        let waitall = stream && flags.contains(MsgFlags::MSG_WAITALL) && !flags.contains(MsgFlags::MSG_PEEK);
        // `recv(MSG_OOB)` never blocks (Linux `tcp_recv_urg`).
        let dontwait =
            flags.contains(MsgFlags::MSG_DONTWAIT) || flags.contains(MsgFlags::MSG_OOB) || nonblocking(stack, h);
        let mut buf = vec![0u8; (len.max(0) as usize).saturating_sub(p.bytes)];
        let r = if call.name == "recvfrom" {
            stack.recvfrom(now, h, &mut buf, flags).map(|(n, _)| n)
        } else {
            stack.recv(now, h, &mut buf, flags)
        };
        // 0 on a stream is the end: return what there is. Otherwise a
        // blocking read copies until `sock_rcvlowat`'s target (all with
        // MSG_WAITALL, else SO_RCVLOWAT's mark); a peek returns what is there.
        let peek = flags.contains(MsgFlags::MSG_PEEK);
        let target = if peek { 1 } else { stack.sock_rcvlowat(h, waitall, len.max(0) as usize) };
        Ok(transfer(p, r, dontwait, |p, n| (waitall || !dontwait) && n > 0 && p.bytes < target))
    }

    fn setsockopt(&mut self, stack: &mut Stack, now: Instant, call: &SyscallSpec) -> CallResult<Step> {
        let h = self.socket_fd(arg(call, 0)?)?;
        let level = need_int(arg(call, 1)?, "the level")?;
        let name = need_int(arg(call, 2)?, "the option")?;
        let value = arg(call, 3)?;
        let on = || -> CallResult<bool> { Ok(need_int(value, "the value")? != 0) };
        let opt = match (level, name) {
            (1, 2) => SockOpt::ReuseAddr(on()?),
            (1, 7) => SockOpt::SndBuf(need_int(value, "the value")?.max(0) as usize),
            (1, 8) => SockOpt::RcvBuf(need_int(value, "the value")?.max(0) as usize),
            (1, 9) => SockOpt::KeepAlive(on()?),
            // Linux `sk_setsockopt`: a negative SO_RCVLOWAT is INT_MAX.
            (1, 18) => SockOpt::RcvLowat(usize::try_from(need_int(value, "the value")?).unwrap_or(i32::MAX as usize)),
            (1, 19) => SockOpt::SndLowat(need_int(value, "the value")?.max(0) as usize),
            (1, 13) => SockOpt::Linger(linger(value)?),
            (1, 3) => SockOpt::Type(SockType::Stream),
            (1, 30) => SockOpt::AcceptConn(on()?),
            (1, 39) => SockOpt::Domain(need_int(value, "the value")? as i32),
            (1, 10) => SockOpt::OobInline(on()?),
            (6, 1) => SockOpt::NoDelay(on()?),
            // Out of u32's range is out of Linux's too: EINVAL from the stack.
            (0, 1) => SockOpt::Tos(need_int(value, "the value")? as u8),
            (0, 2) => SockOpt::Ttl(i32::try_from(need_int(value, "the value")?).unwrap_or(0)),
            (6, 2) => SockOpt::MaxSeg(u32::try_from(need_int(value, "the value")?).unwrap_or(u32::MAX)),
            (6, 4) => SockOpt::KeepIdle(u32::try_from(need_int(value, "the value")?).unwrap_or(0)),
            (6, 5) => SockOpt::KeepIntvl(u32::try_from(need_int(value, "the value")?).unwrap_or(0)),
            (6, 6) => SockOpt::KeepCnt(u32::try_from(need_int(value, "the value")?).unwrap_or(0)),
            (6, 3) => SockOpt::Cork(on()?),
            (6, 13) => match value {
                Expr::Str(s) => match CongAlgo::from_name(s) {
                    Some(c) => SockOpt::Congestion(c),
                    None => return Ok(done(Err(Errno::ENOENT))),
                },
                _ => return script("TCP_CONGESTION takes a string"),
            },
            _ => return unsupported(format!("setsockopt level {level} option {name}")),
        };
        Ok(done(stack.setsockopt(now, h, opt).map(|_| 0)))
    }

    fn getsockopt(&mut self, stack: &mut Stack, call: &SyscallSpec) -> CallResult<Step> {
        let h = self.socket_fd(arg(call, 0)?)?;
        let level = need_int(arg(call, 1)?, "the level")?;
        let name = need_int(arg(call, 2)?, "the option")?;
        let expected = arg(call, 3)?;
        let opt = match (level, name) {
            (1, 4) => {
                let code = stack.take_error(h).map_or(0, |e| e.code() as i64);
                let mismatch = check_value(expected, code, "SO_ERROR")?;
                return Ok(Step::Done { ret: Ok(0), mismatch });
            }
            (1, 2) => SockOptName::ReuseAddr,
            (1, 7) => SockOptName::SndBuf,
            (1, 8) => SockOptName::RcvBuf,
            (1, 9) => SockOptName::KeepAlive,
            (1, 18) => SockOptName::RcvLowat,
            (1, 19) => SockOptName::SndLowat,
            (1, 13) => SockOptName::Linger,
            (1, 3) => SockOptName::Type,
            (1, 30) => SockOptName::AcceptConn,
            (1, 39) => SockOptName::Domain,
            (1, 10) => SockOptName::OobInline,
            (6, 1) => SockOptName::NoDelay,
            (0, 1) => SockOptName::Tos,
            (0, 2) => SockOptName::Ttl,
            (6, 2) => SockOptName::MaxSeg,
            (6, 4) => SockOptName::KeepIdle,
            (6, 5) => SockOptName::KeepIntvl,
            (6, 6) => SockOptName::KeepCnt,
            (6, 3) => SockOptName::Cork,
            (6, 13) => SockOptName::Congestion,
            _ => return unsupported(format!("getsockopt level {level} option {name}")),
        };
        let got = match stack.getsockopt(h, opt) {
            Ok(v) => v,
            Err(e) => return Ok(done(Err(e))),
        };
        let value = match got {
            SockOpt::ReuseAddr(b) | SockOpt::KeepAlive(b) | SockOpt::NoDelay(b) | SockOpt::Cork(b) => b as i64,
            SockOpt::NonBlocking(b) | SockOpt::AcceptConn(b) | SockOpt::OobInline(b) => b as i64,
            SockOpt::SndBuf(n) | SockOpt::RcvBuf(n) | SockOpt::RcvLowat(n) | SockOpt::SndLowat(n) => n as i64,
            SockOpt::Type(t) => match t {
                SockType::Stream => 1,
                SockType::Dgram => 2,
            },
            SockOpt::Domain(d) | SockOpt::Ttl(d) => d as i64,
            SockOpt::Tos(t) => t as i64,
            SockOpt::KeepIdle(n) | SockOpt::KeepIntvl(n) | SockOpt::KeepCnt(n) | SockOpt::MaxSeg(n) => n as i64,
            SockOpt::Linger(l) => {
                let Expr::Struct(fields) = expected else {
                    return script("SO_LINGER's value is `{onoff=…, linger=…}`");
                };
                let mut mismatch = None;
                for (name, pos, got) in [("onoff", 0, l.onoff as i64), ("linger", 1, l.secs as i64)] {
                    if let Some(w) = field(fields, name, pos).or_else(|| field(fields, &format!("l_{name}"), pos)) {
                        mismatch = mismatch.or(check_value(w, got, name)?);
                    }
                }
                return Ok(Step::Done { ret: Ok(0), mismatch });
            }
            SockOpt::Congestion(c) => {
                // The kernel copies at most optlen bytes of the name.
                let optlen = call.args.get(4).map(int).transpose()?.flatten().map_or(usize::MAX, |n| n.max(0) as usize);
                let got = &c.name()[..c.name().len().min(optlen)];
                let mismatch = match expected {
                    Expr::Str(s) if s != got => Some(format!("TCP_CONGESTION: expected \"{s}\" but got \"{got}\"")),
                    _ => None,
                };
                return Ok(Step::Done { ret: Ok(0), mismatch });
            }
        };
        let mismatch = check_value(expected, value, "the option's value")?;
        Ok(Step::Done { ret: Ok(0), mismatch })
    }

    /// `poll([{fd=4, events=POLLIN, revents=POLLIN}], 1, TIMEOUT)`.
    fn poll(&mut self, stack: &mut Stack, now: Instant, call: &SyscallSpec, p: &mut Progress) -> CallResult<Step> {
        let Expr::List(entries) = arg(call, 0)? else { return script("poll's first argument is a list of pollfds") };
        let timeout = need_int(arg(call, 2)?, "the timeout")?;
        let mut ready = 0;
        let mut mismatch = None;
        for e in entries {
            let Expr::Struct(fields) = e else { return script("a pollfd is `{fd=…, events=…, revents=…}`") };
            let fd = field(fields, "fd", 0).ok_or(CallError::Script("a pollfd needs fd".into()))?;
            let h = self.socket_fd(fd)?;
            let events = field(fields, "events", 1).map(int).transpose()?.flatten().unwrap_or(0) as u16;
            let always = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
            let revents = PollFlags(stack.poll_socket(h).0 & (events | always.0));
            if !revents.is_empty() {
                ready += 1;
            }
            if let Some(want) = field(fields, "revents", 2) {
                if mismatch.is_none() {
                    mismatch = check_flags(want, revents.0 as i64, "revents")?;
                }
            }
        }
        if ready == 0 {
            if let Some(blocked) = wait_for(p, now, timeout) {
                return Ok(blocked);
            }
        }
        Ok(Step::Done { ret: Ok(ready), mismatch })
    }

    /// `epoll_wait(5, {events=EPOLLIN, fd=4}, MAX, TIMEOUT)`: the first
    /// event must be the one the script gives.
    fn epoll_wait(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        call: &SyscallSpec,
        p: &mut Progress,
    ) -> CallResult<Step> {
        let ep = self.epoll_fd(arg(call, 0)?)?;
        let max = need_int(arg(call, 2)?, "maxevents")?.max(1) as usize;
        let timeout = need_int(arg(call, 3)?, "the timeout")?;
        let mut events: Vec<EpollEvent> = Vec::new();
        let n = match stack.epoll_wait(ep, &mut events, max) {
            Ok(n) => n,
            Err(e) => return Ok(done(Err(e))),
        };
        if n == 0 {
            if let Some(blocked) = wait_for(p, now, timeout) {
                return Ok(blocked);
            }
        }
        let mut mismatch = None;
        let wanted: Vec<&Expr> = match arg(call, 1)? {
            Expr::List(items) => items.iter().collect(),
            e @ Expr::Struct(_) => vec![e],
            _ => Vec::new(),
        };
        for (want, got) in wanted.iter().zip(&events) {
            let Expr::Struct(fields) = want else { continue };
            if let Some(w) = field(fields, "events", 0) {
                mismatch = mismatch.or(check_flags(w, got.events.0 as i64, "epoll events")?);
            }
            if let Some(w) = fields.iter().find(|(n, _)| matches!(n.as_deref(), Some("fd" | "u32" | "u64" | "ptr"))) {
                if let Some(v) = int(&w.1)? {
                    if v as u64 != got.token {
                        mismatch = mismatch.or(Some(format!("epoll event for fd {v} expected, got fd {}", got.token)));
                    }
                }
            }
        }
        Ok(Step::Done { ret: Ok(n as i64), mismatch })
    }
}

/// The length and flags of a read or write call: `read(fd, buf, LEN)`,
/// `readv(fd, IOVECS, n)`, `recv(fd, buf, LEN, FLAGS)` and their write twins.
fn len_and_flags(call: &SyscallSpec) -> CallResult<(i64, MsgFlags)> {
    let (len, flags) = match call.name.as_str() {
        "read" | "write" => (need_int(arg(call, 2)?, "the length")?, 0),
        "readv" | "writev" => (iovec_len(arg(call, 1)?)?, 0),
        // `sendmsg(fd, {msg_name(...)=..., msg_iov(1)=[{..., 50}], msg_flags=0}, FLAGS)`:
        // the iovecs' sum; ancillary data is not supported.
        "recvmsg" | "sendmsg" => {
            let Expr::Struct(fields) = arg(call, 1)? else { return script("a msghdr is `{msg_iov(N)=[…], …}`") };
            if fields.iter().any(|(n, _)| n.as_deref().is_some_and(|n| n.starts_with("msg_control"))) {
                return unsupported(format!("{} with ancillary data", call.name));
            }
            let iov = fields
                .iter()
                .find(|(n, _)| n.as_deref().is_some_and(|n| n.starts_with("msg_iov")))
                .ok_or_else(|| CallError::Script("a msghdr needs msg_iov".into()))?;
            (iovec_len(&iov.1)?, int(arg(call, 2)?)?.unwrap_or(0))
        }
        _ => (need_int(arg(call, 2)?, "the length")?, int(arg(call, 3)?)?.unwrap_or(0)),
    };
    Ok((len, MsgFlags(flags as u32)))
}

/// One try of a read or a write moved `r` bytes (or failed): does the call
/// return, or block for more (`more`, asked with the progress and the bytes
/// of this try)? An error after some bytes returns the count, as Linux's
/// calls do; `EAGAIN` blocks a blocking call.
fn transfer(
    p: &mut Progress,
    r: Result<usize, Errno>,
    dontwait: bool,
    more: impl FnOnce(&Progress, usize) -> bool,
) -> Step {
    match r {
        Ok(n) => {
            p.bytes += n;
            if more(p, n) {
                Step::Blocked { deadline: None }
            } else {
                done(Ok(p.bytes as i64))
            }
        }
        Err(Errno::EAGAIN) if !dontwait => Step::Blocked { deadline: None },
        Err(_) if p.bytes > 0 => done(Ok(p.bytes as i64)),
        Err(e) => done(Err(e)),
    }
}

/// `poll` or `epoll_wait` found nothing ready: with a timeout of 0 it
/// returns at once (`None`); else it blocks until its deadline (none for -1).
fn wait_for(p: &mut Progress, now: Instant, timeout_ms: i64) -> Option<Step> {
    if timeout_ms == 0 {
        return None;
    }
    if p.deadline.is_none() && timeout_ms > 0 {
        p.deadline = Some(now + stack::Duration::from_millis(timeout_ms as u64));
    }
    p.deadline.is_none_or(|d| now < d).then_some(Step::Blocked { deadline: p.deadline })
}

fn nonblocking(stack: &mut Stack, h: SocketHandle) -> bool {
    matches!(stack.getsockopt(h, SockOptName::NonBlocking), Ok(SockOpt::NonBlocking(true)))
}

/// A struct field by name, or else by position.
fn field<'a>(fields: &'a [(Option<String>, Expr)], name: &str, pos: usize) -> Option<&'a Expr> {
    fields
        .iter()
        .find(|(n, _)| n.as_deref() == Some(name))
        .map(|(_, e)| e)
        .or_else(|| fields.iter().all(|(n, _)| n.is_none()).then(|| fields.get(pos).map(|(_, e)| e)).flatten())
}

/// `[{..., 1000}, {iov_base=..., iov_len=2000}]`: the sum of the lengths.
fn iovec_len(e: &Expr) -> CallResult<i64> {
    let Expr::List(items) = e else { return script("an iovec is a list `[{..., LEN}]`") };
    let mut sum = 0;
    for it in items {
        let Expr::Struct(fields) = it else { return script("an iovec entry is `{..., LEN}`") };
        let len = field(fields, "iov_len", 1).ok_or(CallError::Script("an iovec entry needs a length".into()))?;
        sum += need_int(len, "iov_len")?;
    }
    Ok(sum)
}

/// `{onoff=1, linger=0}` (packetdrill's spelling; `l_onoff`, `l_linger`
/// and positional fields too): a `struct linger`. Linux takes a negative
/// time as "forever" (`MAX_SCHEDULE_TIMEOUT`).
fn linger(e: &Expr) -> CallResult<Linger> {
    let Expr::Struct(fields) = e else { return script("SO_LINGER's value is `{onoff=…, linger=…}`") };
    let get = |name: &str, pos| -> CallResult<i64> {
        let f = field(fields, name, pos).or_else(|| field(fields, &format!("l_{name}"), pos));
        need_int(f.ok_or_else(|| CallError::Script(format!("struct linger needs {name}")))?, name)
    };
    let secs = get("linger", 1)?;
    Ok(Linger { onoff: get("onoff", 0)? != 0, secs: u32::try_from(secs).unwrap_or(stack::tcp::MAX_LINGER_SECS) })
}

/// An output integer (`[0]`, `[1000]`) against what the call produced.
fn check_value(want: &Expr, got: i64, what: &str) -> CallResult<Option<String>> {
    Ok(match int(want)? {
        Some(w) if w != got => Some(format!("{what}: expected {w} but got {got}")),
        _ => None,
    })
}

fn check_flags(want: &Expr, got: i64, what: &str) -> CallResult<Option<String>> {
    Ok(match int(want)? {
        Some(w) if w != got => Some(format!("{what}: expected 0x{w:x} but got 0x{got:x}")),
        _ => None,
    })
}
