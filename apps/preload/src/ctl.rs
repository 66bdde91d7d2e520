//! The library's side of the control socket: one `SOCK_SEQPACKET`
//! connection to `synack up` per thread (so threads blocked in calls on
//! different sockets never queue behind each other), made again in a
//! forked child, and which fds are synack's sockets.
//!
//! Nothing here calls a function this library intercepts through libc (it
//! would come back here): the sockets and options it needs go through
//! `syscall(2)` directly.

use crate::proto::{Op, Reply, Req, REPLY_LEN};
use libc::{c_int, c_void};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::{Mutex, OnceLock};

/// The fds the library knows about, by inode: `true` synack's, `false` a
/// Unix stream socket of the program's own. Filled by `socket`/`accept`
/// and by asking `synack up` (`Op::Whois`) for an inode never seen (one
/// inherited across `exec`). Kept across `fork`: the child shares the sockets.
static KNOWN: Mutex<Option<HashMap<u64, bool>>> = Mutex::new(None);

/// How often, and how long apart, to try a `synack up` whose control
/// socket's backlog is full: 5 s in all, then `ENOBUFS`.
const CONNECT_TRIES: u32 = 500;
const CONNECT_PAUSE_NS: libc::c_long = 10_000_000;

/// The most inodes remembered; past it the table starts again (a miss
/// costs one `Whois`, never a wrong answer).
const MAX_KNOWN: usize = 65_536;

/// The control socket's path (`SYNACK_CTL`, set by `synack run`), read once.
fn ctl_path() -> Option<&'static CString> {
    static PATH: OnceLock<Option<CString>> = OnceLock::new();
    PATH.get_or_init(|| std::env::var_os("SYNACK_CTL").and_then(|p| CString::new(p.into_encoded_bytes()).ok())).as_ref()
}

/// Whether `synack run` started this program (else every call is libc's).
pub fn enabled() -> bool {
    ctl_path().is_some()
}

pub fn set_errno(e: c_int) {
    // SAFETY: __errno_location returns this thread's errno.
    unsafe { *libc::__errno_location() = e };
}

pub fn errno() -> c_int {
    // SAFETY: as in set_errno.
    unsafe { *libc::__errno_location() }
}

/// The inode of a socket fd (`None` for a bad fd or a non-socket).
pub fn sock_ino(fd: c_int) -> Option<u64> {
    // SAFETY: fstat writes into a stat we own.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return None;
        }
        Some(st.st_ino)
    }
}

/// `getsockopt(fd, level, name)` for an int option, by system call.
pub fn sockopt_int(fd: c_int, level: c_int, name: c_int) -> Option<c_int> {
    let mut v: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `v`.
    let r =
        unsafe { libc::syscall(libc::SYS_getsockopt, fd, level, name, &mut v as *mut c_int as *mut c_void, &mut len) };
    (r == 0).then_some(v)
}

pub fn remember(ino: u64, ours: bool) {
    let mut k = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    let m = k.get_or_insert_with(HashMap::new);
    if m.len() >= MAX_KNOWN {
        m.clear();
    }
    m.insert(ino, ours);
}

/// The synack socket behind `fd`, by its inode; `None` for every other
/// fd (then the call goes to libc untouched).
pub fn synack_ino(fd: c_int) -> Option<u64> {
    if !enabled() {
        return None;
    }
    let ino = sock_ino(fd)?;
    if let Some(&ours) = KNOWN.lock().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(|m| m.get(&ino)) {
        return ours.then_some(ino);
    }
    // Only a Unix stream socket can be one of synack's ends.
    if sockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN) != Some(libc::AF_UNIX)
        || sockopt_int(fd, libc::SOL_SOCKET, libc::SO_TYPE) != Some(libc::SOCK_STREAM)
    {
        return None;
    }
    let ours = match rpc(&Req::new(Op::Whois, ino), None) {
        Ok((r, _)) => r.errno == 0,
        Err(_) => return None,
    };
    remember(ino, ours);
    ours.then_some(ino)
}

/// This thread's control connection: the process it was made in (a
/// forked child makes its own), the fd, and the fd's inode (a program
/// that closed our fd and opened something else on its number is noticed).
struct Ctl {
    pid: libc::pid_t,
    fd: c_int,
    ino: u64,
}

impl Drop for Ctl {
    fn drop(&mut self) {
        // SAFETY: getpid and close of our own fd.
        unsafe {
            if self.fd >= 0 && self.pid == libc::getpid() && sock_ino(self.fd) == Some(self.ino) {
                libc::syscall(libc::SYS_close, self.fd);
            }
        }
    }
}

thread_local! {
    static CTL: RefCell<Ctl> = const { RefCell::new(Ctl { pid: 0, fd: -1, ino: 0 }) };
}

/// Connect to `synack up`'s control socket.
fn ctl_connect() -> Result<(c_int, u64), c_int> {
    let path = ctl_path().ok_or(libc::ENETDOWN)?;
    // SAFETY: socket and connect by system call on a sockaddr_un we fill.
    unsafe {
        let fd = libc::syscall(libc::SYS_socket, libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) as c_int;
        if fd < 0 {
            return Err(errno());
        }
        let mut sa: libc::sockaddr_un = std::mem::zeroed();
        sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let bytes = path.as_bytes();
        if bytes.len() >= sa.sun_path.len() {
            libc::syscall(libc::SYS_close, fd);
            return Err(libc::ENAMETOOLONG);
        }
        for (d, &s) in sa.sun_path.iter_mut().zip(bytes) {
            *d = s as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        // Non-blocking: a `synack up` whose backlog is full (MAX_CLIENTS
        // connections) answers EAGAIN; try again for a bounded time rather
        // than hang this thread.
        libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
        let mut tries = 0;
        loop {
            if libc::syscall(libc::SYS_connect, fd, &sa as *const libc::sockaddr_un, len) == 0 {
                break;
            }
            let e = errno();
            if e == libc::EAGAIN && tries < CONNECT_TRIES {
                tries += 1;
                let pause = libc::timespec { tv_sec: 0, tv_nsec: CONNECT_PAUSE_NS };
                libc::nanosleep(&pause, std::ptr::null_mut());
                continue;
            }
            libc::syscall(libc::SYS_close, fd);
            // No synack up to talk to (or none that will take us): the
            // network is down for this program.
            return Err(if e == libc::EAGAIN { libc::ENOBUFS } else { libc::ENETDOWN });
        }
        libc::fcntl(fd, libc::F_SETFL, 0);
        let ino = sock_ino(fd).unwrap_or(0);
        Ok((fd, ino))
    }
}

/// This thread's control fd, made (again) if needed.
fn ctl_fd(fresh: bool) -> Result<c_int, c_int> {
    CTL.try_with(|c| {
        let mut c = c.borrow_mut();
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let stale = c.fd < 0 || c.pid != pid || fresh || sock_ino(c.fd) != Some(c.ino);
        if stale {
            if c.fd >= 0 && sock_ino(c.fd) == Some(c.ino) {
                // A forked child's copy of the parent's connection, or one
                // that failed: ours to close.
                // SAFETY: closing the fd we made.
                unsafe { libc::syscall(libc::SYS_close, c.fd) };
            }
            c.fd = -1;
            let (fd, ino) = ctl_connect()?;
            *c = Ctl { pid, fd, ino };
        }
        Ok(c.fd)
    })
    .unwrap_or(Err(libc::ENETDOWN))
}

/// Ask `synack up`: send `req` (with `pass` as `SCM_RIGHTS`), wait for the
/// reply and the fd it may carry (received close-on-exec). `Err(errno)`
/// when the control socket fails.
pub fn rpc(req: &Req, pass: Option<c_int>) -> Result<(Reply, Option<c_int>), c_int> {
    let mut fresh = false;
    loop {
        let fd = ctl_fd(fresh)?;
        match exchange(fd, req, pass) {
            Ok(r) => return Ok(r),
            // The connection broke (synack up restarted, or a fork
            // raced): once more on a new one.
            Err(e) if !fresh && matches!(e, libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN | libc::EBADF) => {
                fresh = true
            }
            Err(e) => return Err(e),
        }
    }
}

fn exchange(fd: c_int, req: &Req, pass: Option<c_int>) -> Result<(Reply, Option<c_int>), c_int> {
    let out = req.encode();
    // SAFETY: sendmsg/recvmsg on buffers and a cmsg area we own, sized
    // with CMSG_SPACE for one fd.
    unsafe {
        let mut cbuf = [0u64; 4]; // CMSG_SPACE(4) is 24 bytes on 64-bit
        let mut iov = libc::iovec { iov_base: out.as_ptr() as *mut c_void, iov_len: out.len() };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if let Some(p) = pass {
            msg.msg_control = cbuf.as_mut_ptr() as *mut c_void;
            msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut c_int, p);
        }
        loop {
            let r = libc::syscall(libc::SYS_sendmsg, fd, &msg as *const libc::msghdr, libc::MSG_NOSIGNAL) as isize;
            if r == out.len() as isize {
                break;
            }
            if r < 0 && errno() == libc::EINTR {
                continue;
            }
            return Err(if r < 0 { errno() } else { libc::EPROTO });
        }
        let mut inb = [0u8; REPLY_LEN + 1];
        let mut cbuf = [0u64; 4];
        loop {
            let mut iov = libc::iovec { iov_base: inb.as_mut_ptr() as *mut c_void, iov_len: inb.len() };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr() as *mut c_void;
            msg.msg_controllen = std::mem::size_of_val(&cbuf);
            let r =
                libc::syscall(libc::SYS_recvmsg, fd, &mut msg as *mut libc::msghdr, libc::MSG_CMSG_CLOEXEC) as isize;
            if r < 0 && errno() == libc::EINTR {
                continue;
            }
            if r <= 0 {
                return Err(if r == 0 { libc::ECONNRESET } else { errno() });
            }
            let mut got = None;
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let n = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
                    for i in 0..n {
                        let f = std::ptr::read_unaligned((libc::CMSG_DATA(c) as *const c_int).add(i));
                        if got.is_none() {
                            got = Some(f);
                        } else {
                            libc::syscall(libc::SYS_close, f);
                        }
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
            let reply = Reply::decode(&inb[..r as usize]).filter(|p| p.op == req.op);
            return match reply {
                Some(p) => Ok((p, got)),
                None => {
                    if let Some(f) = got {
                        libc::syscall(libc::SYS_close, f);
                    }
                    Err(libc::EPROTO)
                }
            };
        }
    }
}
