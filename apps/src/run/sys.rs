//! The kernel calls `synack up`'s side of `synack run` makes, wrapped once:
//! socketpairs, non-blocking reads and writes on them, the control
//! socket's messages with an fd attached (`SCM_RIGHTS`, unix(7)), and the
//! kernel epoll that watches every socketpair end (epoll(7)).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn cvt_size(r: isize) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// `socketpair(AF_UNIX, SOCK_STREAM)`, close-on-exec: (the program's end,
/// blocking; ours, non-blocking).
pub fn stream_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: socketpair writes two fds we then own.
    unsafe {
        cvt(libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()))?;
        let (prog, ours) = (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]));
        set_nonblocking(ours.as_raw_fd())?;
        Ok((prog, ours))
    }
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd the caller holds.
    unsafe {
        let fl = cvt(libc::fcntl(fd, libc::F_GETFL))?;
        cvt(libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK))?;
    }
    Ok(())
}

pub fn set_int_opt(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: setsockopt reads one int we own.
    cvt(unsafe { libc::setsockopt(fd, level, name, &v as *const libc::c_int as *const libc::c_void, len) })?;
    Ok(())
}

/// The inode of a socket fd: the name of a synack socket (proto.rs).
pub fn inode(fd: RawFd) -> io::Result<u64> {
    // SAFETY: fstat writes into a stat we own.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        cvt(libc::fstat(fd, &mut st))?;
        Ok(st.st_ino)
    }
}

/// `read(2)` without blocking (the fd is non-blocking).
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: reads into a buffer we own, at most its length.
    cvt_size(unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) })
}

/// `send(2)` without blocking and without SIGPIPE.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    // SAFETY: sends from a buffer we own.
    cvt_size(unsafe { libc::send(fd, buf.as_ptr() as *const libc::c_void, buf.len(), flags) })
}

pub fn shutdown(fd: RawFd, how: libc::c_int) {
    // SAFETY: shutdown on an fd we hold; its failure (already shut) is harmless.
    unsafe { libc::shutdown(fd, how) };
}

/// Bytes we wrote into `fd` that its peer has not read yet
/// (`SIOCOUTQ`; for a Unix socket, the memory they hold: non-zero iff any).
pub fn outq(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: the ioctl writes one int we own.
    let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) };
    if r < 0 {
        0
    } else {
        n.max(0) as usize
    }
}

/// Send one message on a `SOCK_SEQPACKET` socket, with `fd` attached.
pub fn send_msg(sock: RawFd, data: &[u8], fd: Option<RawFd>) -> io::Result<()> {
    // SAFETY: a msghdr over our buffer and a cmsg area sized for one fd.
    unsafe {
        let mut cbuf = [0u64; 4];
        let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if let Some(f) = fd {
            msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut libc::c_int, f);
        }
        let n = cvt_size(libc::sendmsg(sock, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL))?;
        if n != data.len() {
            return Err(io::Error::other("short control message"));
        }
    }
    Ok(())
}

/// Receive one message into `buf`: its length and the first fd attached
/// (any more are closed). `Ok((0, _))` at the end of the connection.
pub fn recv_msg(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    // SAFETY: a msghdr over our buffer and cmsg area; the fds in it are
    // ours from here on.
    unsafe {
        let mut cbuf = [0u64; 4];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        let n = cvt_size(libc::recvmsg(sock, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC))?;
        let mut got = None;
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let k = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
                for i in 0..k {
                    let f = OwnedFd::from_raw_fd(std::ptr::read_unaligned((libc::CMSG_DATA(c) as *const i32).add(i)));
                    if got.is_none() {
                        got = Some(f);
                    }
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        if msg.msg_flags & libc::MSG_TRUNC != 0 {
            return Err(io::Error::other("control message too long"));
        }
        Ok((n, got))
    }
}

/// The process at the other end of a Unix socket (`SO_PEERCRED`).
pub fn peer_pid(sock: RawFd) -> Option<u32> {
    let mut cred: libc::ucred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the kernel writes a ucred we own.
    let r = unsafe {
        libc::getsockopt(
            sock,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut libc::c_void,
            &mut len,
        )
    };
    (r == 0).then_some(cred.pid as u32)
}

/// A kernel epoll (epoll(7)), level-triggered, with a u64 per fd.
pub struct Epoll(OwnedFd);

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 returns a new fd we own.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: just created, ours.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    pub fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: epoll_ctl reads one event we own.
        cvt(unsafe { libc::epoll_ctl(self.fd(), op, fd, &mut ev) })?;
        Ok(())
    }

    /// The ready fds now, without waiting: (token, events).
    pub fn ready(&self, out: &mut Vec<(u64, u32)>, max: usize) {
        out.clear();
        let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; max];
        // SAFETY: epoll_wait writes at most `max` events into our vector.
        let n = unsafe { libc::epoll_wait(self.fd(), evs.as_mut_ptr(), max as libc::c_int, 0) };
        for ev in evs.iter().take(n.max(0) as usize) {
            out.push((ev.u64, ev.events));
        }
    }
}

fn unix_addr(path: &std::path::Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: a zeroed sockaddr_un is valid.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let b = path.as_os_str().as_bytes();
    if b.len() >= sa.sun_path.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (d, &s) in sa.sun_path.iter_mut().zip(b) {
        *d = s as libc::c_char;
    }
    Ok((sa, std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t))
}

fn seqpacket() -> io::Result<OwnedFd> {
    // SAFETY: a new socket we own.
    let fd = cvt(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: just made.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Connect to a control socket (`synack run`, and `synack up` checking
/// whether a socket file is someone's or stale).
pub fn seqpacket_connect(path: &std::path::Path) -> io::Result<OwnedFd> {
    let s = seqpacket()?;
    let (sa, len) = unix_addr(path)?;
    // SAFETY: connect with a sockaddr_un we own.
    cvt(unsafe { libc::connect(s.as_raw_fd(), &sa as *const libc::sockaddr_un as *const libc::sockaddr, len) })?;
    Ok(s)
}

/// A non-blocking listening control socket at `path`, mode 0600.
pub fn seqpacket_listen(path: &std::path::Path, backlog: i32) -> io::Result<OwnedFd> {
    use std::os::unix::fs::PermissionsExt;
    let s = seqpacket()?;
    let (sa, len) = unix_addr(path)?;
    // SAFETY: bind/listen with a sockaddr_un we own.
    unsafe {
        cvt(libc::bind(s.as_raw_fd(), &sa as *const libc::sockaddr_un as *const libc::sockaddr, len))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    // SAFETY: listen on our socket.
    cvt(unsafe { libc::listen(s.as_raw_fd(), backlog) })?;
    set_nonblocking(s.as_raw_fd())?;
    Ok(s)
}

/// `accept4` without blocking: `Ok(None)` when no one is waiting.
pub fn accept(listener: RawFd) -> io::Result<Option<OwnedFd>> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: accept4 without an address.
    let fd = unsafe { libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), flags) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
    }
    // SAFETY: a new fd we own.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}
