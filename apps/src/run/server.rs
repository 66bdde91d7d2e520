//! `synack up`'s side of `synack run`: the control socket the preloaded
//! library talks to (proto.rs), and every program socket (relay.rs),
//! served from `synack up`'s own loop without ever blocking it.
//!
//! One kernel epoll watches the control socket, each program's control
//! connection and our end of every socketpair; the loop's `poll_once`
//! waits on that one fd next to the TAP (`RunServer::fd`). One stack
//! epoll (stack/src/epoll.rs) watches the stack's side of the same
//! sockets. Each turn looks at both without waiting (`RunServer::turn`).
//!
//! A listener's fd holds one byte while its accept queue has a connection:
//! the program's `poll`/`epoll`/blocking `accept` wait on the kernel's own
//! readiness, and `accept` (`inet_csk_accept`) is a request that takes the
//! byte and the connection. A connecting socket's fd is kept unwritable
//! until the handshake ends (relay.rs `start_connect`), so a non-blocking
//! `connect`'s `poll(POLLOUT)` then `getsockopt(SO_ERROR)` work as on Linux.

use super::proto::{Op, Reply, Req, Unsupported, REQ_LEN};
use super::relay::{Mode, Relay, PAIR_BUF};
use super::sys::{self, Epoll};
use stack::tcp::SOMAXCONN;
use stack::{EpollEvent, EpollFlags, EpollHandle, EpollOp, Errno, Instant, SockOpt, SockOptName, SockType, Stack};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::rc::Rc;

/// The most programs' control connections at once (one per thread).
pub const MAX_CLIENTS: usize = 1024;
/// The most program sockets at once (each holds a socketpair end here).
pub const MAX_SOCKETS: usize = 16_384;
/// Requests served per connection per turn: a busy program cannot
/// keep the loop from the network.
const MAX_REQS_PER_TURN: usize = 16;
/// Events taken per look at either epoll.
const MAX_EVENTS: usize = 256;
/// Errors of connections already gone, kept for the read that finds
/// their end of file (`Op::PendingError`); the oldest go first.
pub const MAX_PENDING_ERRORS: usize = 1024;
/// The control socket's `listen` backlog.
const CTL_BACKLOG: i32 = 128;

const LISTENER: u64 = u64::MAX;
const CLIENT: u64 = 1 << 62;

struct Client {
    fd: OwnedFd,
    pid: u32,
    /// Its name (`/proc/PID/comm`), as `ss -p` shows it.
    comm: Rc<str>,
}

/// What `synack run`'s programs have done (the prompt's `stats`).
#[derive(Copy, Clone, Default, Debug)]
pub struct RunStats {
    pub clients: u64,
    pub sockets: u64,
    /// Sockets closed because their program closed its last fd or exited.
    pub closed_by_program: u64,
    /// Calls refused as unsupported (each with a trace line).
    pub unsupported: u64,
}

pub struct RunServer {
    path: PathBuf,
    listener: OwnedFd,
    kep: Epoll,
    sep: EpollHandle,
    clients: HashMap<u64, Client>,
    next_client: u64,
    relays: HashMap<u64, Relay>,
    /// Relays whose kernel epoll entry exists (dropped once the program is gone).
    in_kep: std::collections::HashSet<u64>,
    /// Sockets whose connection failed and whose relay is gone while the
    /// program still holds the fd: their error until a read takes it
    /// (`Op::PendingError`), then `None` (calls on them: `ENOTCONN`).
    pending_errors: HashMap<u64, Option<Errno>>,
    pending_order: std::collections::VecDeque<u64>,
    buf: Vec<u8>,
    more: bool,
    lines: Vec<String>,
    stats: RunStats,
}

impl RunServer {
    /// Listen at `path` (super::socket_path). A socket file nobody answers
    /// on is a crashed `synack up`'s: removed and replaced. One somebody
    /// answers on is another `synack up`'s for the same TAP: an error.
    pub fn start(stack: &mut Stack, path: PathBuf) -> io::Result<RunServer> {
        if let Some(dir) = path.parent() {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            // The base traversable by all (each namespace's own is not).
            if let Some(base) = dir.parent() {
                std::fs::DirBuilder::new().recursive(true).mode(0o755).create(base)?;
            }
            std::fs::create_dir_all(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        if path.exists() {
            match sys::seqpacket_connect(&path) {
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("{} is served by another synack up", path.display()),
                    ))
                }
                Err(_) => std::fs::remove_file(&path)?,
            }
        }
        let listener = sys::seqpacket_listen(&path, CTL_BACKLOG)?;
        // `sudo synack up`: the user who ran sudo started it, and may
        // `synack run` without sudo; nobody else (but root) may.
        if let Some((uid, gid)) = sudo_user() {
            for p in [path.parent(), Some(path.as_path())].into_iter().flatten() {
                std::os::unix::fs::chown(p, Some(uid), Some(gid))?;
            }
        }
        let kep = Epoll::new()?;
        kep.ctl(libc::EPOLL_CTL_ADD, listener.as_raw_fd(), libc::EPOLLIN as u32, LISTENER)?;
        Ok(RunServer {
            path,
            listener,
            kep,
            sep: stack.epoll_create(),
            clients: HashMap::new(),
            next_client: 0,
            relays: HashMap::new(),
            in_kep: Default::default(),
            pending_errors: HashMap::new(),
            pending_order: Default::default(),
            buf: vec![0; super::relay::RELAY_CHUNK],
            more: false,
            lines: Vec::new(),
            stats: RunStats::default(),
        })
    }

    /// The fd for the loop to wait on (readable: something to do).
    pub fn fd(&self) -> i32 {
        self.kep.fd()
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// When to run again without an event: now, if a turn left work.
    pub fn poll_at(&self) -> Option<Instant> {
        self.more.then_some(Instant::ZERO)
    }

    /// Trace lines since the last call.
    pub fn take_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.lines)
    }

    pub fn stats(&self) -> RunStats {
        self.stats
    }

    /// Who owns which TCP socket, for `netstat -p` and `ss -p`.
    pub fn owners(&self) -> crate::netstat::Owners {
        let mut o = crate::netstat::Owners::new();
        for r in self.relays.values() {
            if let Some(stack::SocketHandle::Tcp(i)) = r.h {
                o.insert(i, (r.pid, r.comm.to_string()));
            }
        }
        o
    }

    /// The line `stats` prints about the programs.
    pub fn stats_line(&self) -> String {
        let s = self.stats;
        format!(
            "synack run: {} program connections ({} now), {} sockets ({} now), {} closed by their program's close or exit, {} unsupported calls\n",
            s.clients,
            self.clients.len(),
            s.sockets,
            self.relays.len(),
            s.closed_by_program,
            s.unsupported
        )
    }

    /// One look at everything, without waiting.
    pub fn turn(&mut self, stack: &mut Stack, now: Instant) {
        self.more = false;
        let mut touched = Vec::new();
        let mut evs = Vec::new();
        self.kep.ready(&mut evs, MAX_EVENTS);
        self.more |= evs.len() == MAX_EVENTS;
        for &(tok, ev) in &evs {
            if tok == LISTENER {
                self.accept_clients();
            } else if tok & CLIENT != 0 {
                self.serve_client(stack, now, tok, &mut touched);
            } else if let Some(r) = self.relays.get_mut(&tok) {
                let gone = ev & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
                if gone && !r.fin_to_prog && !matches!(r.mode, Mode::Connecting { .. }) {
                    r.prog_gone = true;
                }
                touched.push(tok);
            }
        }
        let mut sevs: Vec<EpollEvent> = Vec::new();
        let n = stack.epoll_wait(self.sep, &mut sevs, MAX_EVENTS).unwrap_or(0);
        self.more |= n == MAX_EVENTS;
        for ev in &sevs {
            if let Some(r) = self.relays.get_mut(&ev.token) {
                if matches!(r.mode, Mode::Connecting { .. }) {
                    r.connect_done(stack);
                }
                touched.push(ev.token);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for tok in touched {
            self.settle(stack, now, tok);
        }
    }

    /// Relay what can move, then update the interests, or finish the socket.
    fn settle(&mut self, stack: &mut Stack, now: Instant, tok: u64) {
        let Some(r) = self.relays.get_mut(&tok) else { return };
        r.pump(stack, now, &mut self.buf);
        if matches!(r.mode, Mode::Listening) {
            ensure_token(stack, r);
        }
        if r.done() {
            self.finish(stack, now, tok);
            return;
        }
        let (k, s) = r.interests();
        if self.in_kep.contains(&tok) {
            if r.prog_gone {
                // What is left in our end is read as the stack takes it;
                // the hang-up would be reported on every look.
                let _ = self.kep.ctl(libc::EPOLL_CTL_DEL, r.ours.as_raw_fd(), 0, tok);
                self.in_kep.remove(&tok);
            } else if k != r.k_interest {
                let _ = self.kep.ctl(libc::EPOLL_CTL_MOD, r.ours.as_raw_fd(), k, tok);
                r.k_interest = k;
            }
        }
        if let Some(h) = r.h {
            if s != r.s_interest {
                let op = if r.s_interest == EpollFlags::NONE { EpollOp::Add } else { EpollOp::Mod };
                let op = if s == EpollFlags::NONE { EpollOp::Del } else { op };
                let _ = stack.epoll_ctl(self.sep, op, h, s, tok);
                r.s_interest = s;
            }
        }
    }

    /// Forget a socket: close the stack's side as Linux closes a socket
    /// whose last fd is gone (`tcp_close`: FIN after the data, RST if data
    /// was left unread), and our end of the pair.
    fn finish(&mut self, stack: &mut Stack, now: Instant, tok: u64) {
        let Some(r) = self.relays.remove(&tok) else { return };
        if self.in_kep.remove(&tok) {
            let _ = self.kep.ctl(libc::EPOLL_CTL_DEL, r.ours.as_raw_fd(), 0, tok);
        }
        if let Some(h) = r.h {
            if r.s_interest != EpollFlags::NONE {
                let _ = stack.epoll_ctl(self.sep, EpollOp::Del, h, EpollFlags::NONE, tok);
            }
            if r.unread_at_close {
                let _ = stack.close_reset(now, h);
            } else {
                let _ = stack.close(now, h);
            }
        }
        if r.prog_gone {
            self.stats.closed_by_program += 1;
        } else if let Some(e) = r.so_error {
            // The program still holds the fd: its next read finds the end
            // of file and asks for this.
            if self.pending_order.len() >= MAX_PENDING_ERRORS {
                if let Some(old) = self.pending_order.pop_front() {
                    self.pending_errors.remove(&old);
                }
            }
            self.pending_order.push_back(tok);
            self.pending_errors.insert(tok, Some(e));
        }
    }

    fn accept_clients(&mut self) {
        while self.clients.len() < MAX_CLIENTS {
            match sys::accept(self.listener.as_raw_fd()) {
                Ok(Some(fd)) => {
                    let pid = sys::peer_pid(fd.as_raw_fd()).unwrap_or(0);
                    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                    let comm: Rc<str> = Rc::from(comm.trim_end());
                    let tok = CLIENT | self.next_client;
                    self.next_client += 1;
                    if self.kep.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), libc::EPOLLIN as u32, tok).is_ok() {
                        self.clients.insert(tok, Client { fd, pid, comm });
                        self.stats.clients += 1;
                    }
                }
                _ => return,
            }
        }
        // Full: the rest wait in the backlog until a program leaves.
        self.more = true;
    }

    fn drop_client(&mut self, tok: u64) {
        if let Some(c) = self.clients.remove(&tok) {
            let _ = self.kep.ctl(libc::EPOLL_CTL_DEL, c.fd.as_raw_fd(), 0, tok);
        }
    }

    fn serve_client(&mut self, stack: &mut Stack, now: Instant, tok: u64, touched: &mut Vec<u64>) {
        let mut rec = [0u8; REQ_LEN + 1];
        for _ in 0..MAX_REQS_PER_TURN {
            let Some(c) = self.clients.get(&tok) else { return };
            let (fd, pid, comm) = (c.fd.as_raw_fd(), c.pid, c.comm.clone());
            let (n, passed) = match sys::recv_msg(fd, &mut rec) {
                Ok((0, _)) => return self.drop_client(tok),
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.drop_client(tok),
            };
            let Some(req) = Req::decode(&rec[..n]) else {
                self.lines.push(format!("synack run: pid {pid}: a control message of another version: dropped"));
                return self.drop_client(tok);
            };
            let (mut reply, fd_out) = self.handle(stack, now, (pid, comm), &req, passed, touched);
            reply.op = req.op;
            if sys::send_msg(fd, &reply.encode(), fd_out.as_ref().map(|f| f.as_raw_fd())).is_err() {
                // It does not read its replies: it cannot be served.
                return self.drop_client(tok);
            }
        }
        self.more = true;
    }

    fn handle(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        (pid, comm): (u32, Rc<str>),
        req: &Req,
        passed: Option<OwnedFd>,
        touched: &mut Vec<u64>,
    ) -> (Reply, Option<OwnedFd>) {
        let err = |e: i32| (Reply { errno: e, ..Reply::default() }, None);
        let Some(op) = Op::from_u16(req.op) else { return err(libc::EOPNOTSUPP) };
        if op == Op::Socket {
            return match self.new_socket(stack, (pid, comm), None) {
                Ok((ino, prog)) => (Reply { ino, ..Reply::default() }, Some(prog)),
                Err(e) => err(e),
            };
        }
        let ino = req.ino;
        if op == Op::Unsupported {
            let call = Unsupported::from_i64(req.arg1).map_or("an unknown call", |u| u.call());
            let errno =
                if req.arg0 == libc::EOPNOTSUPP as i64 { "EOPNOTSUPP".to_string() } else { req.arg0.to_string() };
            self.stats.unsupported += 1;
            self.lines.push(format!("synack run: pid {pid}: {call} is not supported on synack's sockets: {errno}"));
            return (Reply::default(), None);
        }
        if op == Op::PendingError {
            // sock_error: read once, then gone.
            let e = match self.relays.get_mut(&ino) {
                Some(r) => r.so_error.take(),
                None => self.pending_errors.get_mut(&ino).and_then(|e| e.take()),
            };
            return (Reply { ret: e.map_or(0, |e| e.code() as i64), ..Reply::default() }, None);
        }
        let Some(r) = self.relays.get_mut(&ino) else {
            return match (op, self.pending_errors.contains_key(&ino)) {
                (Op::Whois, true) => (Reply::default(), None),
                (_, true) => err(libc::ENOTCONN),
                _ => err(libc::ENOTSOCK),
            };
        };
        let Some(h) = r.h else { return err(libc::ENOTCONN) };
        touched.push(ino);
        let addr = SocketAddrV4::new(Ipv4Addr::from(req.addr), req.port);
        let code = |e: Errno| e.code();
        match op {
            Op::Socket | Op::PendingError | Op::Unsupported => unreachable!("handled above"),
            Op::Whois => (Reply::default(), None),
            Op::Bind => match stack.bind(h, addr) {
                Ok(()) => (Reply::default(), None),
                Err(e) => err(code(e)),
            },
            Op::Listen => {
                // Linux clamps the backlog to net.core.somaxconn.
                let backlog = (req.arg0.max(0) as usize).min(SOMAXCONN);
                match stack.listen(h, backlog) {
                    Ok(()) => {
                        r.mode = Mode::Listening;
                        (Reply::default(), None)
                    }
                    Err(e) => err(code(e)),
                }
            }
            Op::Accept => {
                if !matches!(r.mode, Mode::Listening) {
                    return err(libc::EINVAL);
                }
                match stack.accept(now, h) {
                    Ok((child, peer)) => match self.new_socket(stack, (pid, comm), Some(child)) {
                        Ok((cino, prog)) => {
                            touched.push(cino);
                            let reply =
                                Reply { ino: cino, addr: peer.ip().octets(), port: peer.port(), ..Reply::default() };
                            (reply, Some(prog))
                        }
                        Err(e) => {
                            let _ = stack.close(now, child);
                            err(e)
                        }
                    },
                    Err(e) => err(code(e)),
                }
            }
            Op::Connect => {
                match r.mode {
                    Mode::Stream => return err(libc::EISCONN),
                    Mode::Connecting { .. } => return err(libc::EALREADY),
                    Mode::Listening | Mode::Failed => return err(libc::EINVAL),
                    Mode::Fresh => {}
                }
                let Some(prog) = passed.filter(|p| sys::inode(p.as_raw_fd()).ok() == Some(ino)) else {
                    return err(libc::EBADF);
                };
                match stack.connect(now, h, addr) {
                    Ok(()) | Err(Errno::EINPROGRESS) => {
                        r.start_connect(prog);
                        err(libc::EINPROGRESS)
                    }
                    Err(e) => err(code(e)),
                }
            }
            Op::GetSockName | Op::GetPeerName => {
                let a = if op == Op::GetSockName { stack.getsockname(h) } else { stack.getpeername(h) };
                match a {
                    Ok(a) => (Reply { addr: a.ip().octets(), port: a.port(), ..Reply::default() }, None),
                    Err(e) => err(code(e)),
                }
            }
            Op::SetSockOpt => match setsockopt(stack, now, h, req) {
                Some(Ok(())) => (Reply::default(), None),
                Some(Err(e)) => err(code(e)),
                None => {
                    self.unsupported(pid, "setsockopt", req);
                    err(libc::ENOPROTOOPT)
                }
            },
            Op::GetSockOpt => match getsockopt(stack, r, h, req) {
                Some(Ok(v)) => (Reply { ret: v, ..Reply::default() }, None),
                Some(Err(e)) => err(code(e)),
                None => {
                    self.unsupported(pid, "getsockopt", req);
                    err(libc::ENOPROTOOPT)
                }
            },
        }
    }

    fn unsupported(&mut self, pid: u32, call: &str, req: &Req) {
        self.stats.unsupported += 1;
        self.lines.push(format!(
            "synack run: pid {pid}: {call}(level {}, option {}) is not supported on synack's sockets: ENOPROTOOPT",
            req.arg0, req.arg1
        ));
    }

    /// A socket for a program: the stack's (new, or an accepted child),
    /// a socketpair, our end watched. Returns the program's end and its inode.
    fn new_socket(
        &mut self,
        stack: &mut Stack,
        (pid, comm): (u32, Rc<str>),
        child: Option<stack::SocketHandle>,
    ) -> Result<(u64, OwnedFd), i32> {
        if self.relays.len() >= MAX_SOCKETS {
            // synack's table is full, not the process's: "in system".
            return Err(libc::ENFILE);
        }
        let h = match child {
            Some(c) => c,
            None => stack.socket(SockType::Stream).map_err(|e| e.code())?,
        };
        let made = (|| {
            let (prog, ours) = sys::stream_pair()?;
            for fd in [prog.as_raw_fd(), ours.as_raw_fd()] {
                sys::set_int_opt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, PAIR_BUF)?;
                sys::set_int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, PAIR_BUF)?;
            }
            let ino = sys::inode(prog.as_raw_fd())?;
            Ok::<_, io::Error>((prog, ours, ino))
        })();
        let (prog, ours, ino) = match made {
            Ok(m) => m,
            Err(e) => {
                if child.is_none() {
                    let _ = stack.close(Instant::ZERO, h);
                }
                return Err(e.raw_os_error().unwrap_or(libc::ENOBUFS));
            }
        };
        let mut r = Relay::new(h, ours, pid, comm);
        if child.is_some() {
            r.mode = Mode::Stream;
        }
        let (k, _) = r.interests();
        if self.kep.ctl(libc::EPOLL_CTL_ADD, r.ours.as_raw_fd(), k, ino).is_ok() {
            self.in_kep.insert(ino);
        }
        r.k_interest = k;
        self.relays.insert(ino, r);
        self.stats.sockets += 1;
        Ok((ino, prog))
    }

    /// `synack up` is going down: every program socket closes (its
    /// programs read end of file), and the socket file goes.
    pub fn close(mut self, stack: &mut Stack, now: Instant) {
        let toks: Vec<u64> = self.relays.keys().copied().collect();
        for t in toks {
            self.finish(stack, now, t);
        }
        let _ = stack.epoll_close(self.sep);
        let _ = std::fs::remove_file(&self.path);
        // The namespace's directory too, if this was its last synack up
        // (remove_dir fails on a directory still holding a socket).
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The user behind `sudo` (`SUDO_UID`, `SUDO_GID`), when running as root.
fn sudo_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let id = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u32>().ok());
    Some((id("SUDO_UID")?, id("SUDO_GID")?))
}

/// A listener's readiness byte: there while the accept queue has a
/// connection (`SIOCOUTQ` on our end says whether the program's end still
/// holds one; the library takes it before each `accept`).
fn ensure_token(stack: &mut Stack, r: &mut Relay) {
    let Some(h) = r.h else { return };
    let ready = stack.poll_socket(h).0 & stack::PollFlags::POLLIN.0 != 0;
    if ready && sys::outq(r.ours.as_raw_fd()) == 0 {
        let _ = sys::write(r.ours.as_raw_fd(), b"a");
    }
}

/// `setsockopt` for the int options the stack has; `None`: not supported.
fn setsockopt(stack: &mut Stack, now: Instant, h: stack::SocketHandle, req: &Req) -> Option<Result<(), Errno>> {
    let (level, name, v) = (req.arg0 as i32, req.arg1 as i32, req.arg2);
    let on = v != 0;
    let opt = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => SockOpt::ReuseAddr(on),
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => SockOpt::KeepAlive(on),
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => SockOpt::SndBuf(v.max(0) as usize),
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => SockOpt::RcvBuf(v.max(0) as usize),
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => SockOpt::NoDelay(on),
        (libc::IPPROTO_TCP, libc::TCP_CORK) => SockOpt::Cork(on),
        (libc::SOL_SOCKET, libc::SO_RCVLOWAT) => SockOpt::RcvLowat(v.max(0) as usize),
        (libc::SOL_SOCKET, libc::SO_SNDLOWAT) => SockOpt::SndLowat(v.max(0) as usize),
        (libc::SOL_SOCKET, libc::SO_OOBINLINE) => SockOpt::OobInline(on),
        // Out of range (negative): the stack's range check says EINVAL.
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => SockOpt::KeepIdle(u32::try_from(v).unwrap_or(0)),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => SockOpt::KeepIntvl(u32::try_from(v).unwrap_or(0)),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => SockOpt::KeepCnt(u32::try_from(v).unwrap_or(0)),
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => SockOpt::MaxSeg(u32::try_from(v).unwrap_or(u32::MAX)),
        (libc::IPPROTO_IP, libc::IP_TTL) => SockOpt::Ttl(i32::try_from(v).unwrap_or(0)),
        (libc::IPPROTO_IP, libc::IP_TOS) => SockOpt::Tos(v as u8),
        _ => return None,
    };
    Some(stack.setsockopt(now, h, opt))
}

/// `getsockopt` for what synack knows; `None`: not supported.
fn getsockopt(stack: &mut Stack, r: &mut Relay, h: stack::SocketHandle, req: &Req) -> Option<Result<i64, Errno>> {
    let (level, name) = (req.arg0 as i32, req.arg1 as i32);
    let asked = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_ERROR) => {
            // sock_error: read and clear sk_err.
            let e = r.so_error.take().or_else(|| stack.take_error(h));
            return Some(Ok(e.map_or(0, |e| e.code() as i64)));
        }
        (libc::SOL_SOCKET, libc::SO_TYPE) => return Some(Ok(libc::SOCK_STREAM as i64)),
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => return Some(Ok(libc::AF_INET as i64)),
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => return Some(Ok(libc::IPPROTO_TCP as i64)),
        (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => return Some(Ok(matches!(r.mode, Mode::Listening) as i64)),
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => SockOptName::ReuseAddr,
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => SockOptName::KeepAlive,
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => SockOptName::SndBuf,
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => SockOptName::RcvBuf,
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => SockOptName::NoDelay,
        (libc::IPPROTO_TCP, libc::TCP_CORK) => SockOptName::Cork,
        (libc::SOL_SOCKET, libc::SO_RCVLOWAT) => SockOptName::RcvLowat,
        (libc::SOL_SOCKET, libc::SO_SNDLOWAT) => SockOptName::SndLowat,
        (libc::SOL_SOCKET, libc::SO_OOBINLINE) => SockOptName::OobInline,
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => SockOptName::KeepIdle,
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => SockOptName::KeepIntvl,
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => SockOptName::KeepCnt,
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => SockOptName::MaxSeg,
        (libc::IPPROTO_IP, libc::IP_TTL) => SockOptName::Ttl,
        (libc::IPPROTO_IP, libc::IP_TOS) => SockOptName::Tos,
        _ => return None,
    };
    Some(stack.getsockopt(h, asked).map(|o| match o {
        SockOpt::ReuseAddr(b) | SockOpt::KeepAlive(b) | SockOpt::NoDelay(b) | SockOpt::Cork(b) => b as i64,
        SockOpt::NonBlocking(b) => b as i64,
        SockOpt::SndBuf(n) | SockOpt::RcvBuf(n) | SockOpt::RcvLowat(n) | SockOpt::SndLowat(n) => n as i64,
        SockOpt::OobInline(b) | SockOpt::AcceptConn(b) => b as i64,
        SockOpt::KeepIdle(n) | SockOpt::KeepIntvl(n) | SockOpt::KeepCnt(n) | SockOpt::MaxSeg(n) => n as i64,
        SockOpt::Ttl(n) | SockOpt::Domain(n) => n as i64,
        SockOpt::Tos(n) => n as i64,
        // Not int-valued; not asked for above (SO_LINGER and TCP_CONGESTION
        // are structs or strings, answered ENOPROTOOPT by the caller).
        SockOpt::Congestion(_) | SockOpt::Linger(_) | SockOpt::Type(_) => 0,
    }))
}
