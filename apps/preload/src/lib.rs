//! `libsynack_preload.so`: what `synack run -- CMD` preloads into CMD
//! (`LD_PRELOAD`) so that its IPv4 TCP sockets are synack's.
//!
//! Every synack socket is a real fd: the program's end of an
//! `AF_UNIX`/`SOCK_STREAM` socketpair whose other end `synack up` holds
//! (apps/src/run/server.rs). `read`, `write`, `send`, `recv`, `readv`,
//! `writev`, `sendfile`, `poll`, `select`, `epoll`, `dup`, `fcntl`,
//! `fork`, `exec` and `close` then need nothing from here: the kernel does
//! them on the socketpair, and `synack up` relays its end to and from TCP.
//! Only the calls that make or steer a TCP socket are taken here and asked
//! of `synack up` over the control socket (proto.rs):
//!
//! | call | Linux function it stands for |
//! |---|---|
//! | `socket(AF_INET, SOCK_STREAM)` | `__sys_socket` → `inet_create` |
//! | `bind` | `inet_bind` |
//! | `listen` | `inet_listen` |
//! | `accept`, `accept4` | `inet_csk_accept` |
//! | `connect` | `tcp_v4_connect` (`__inet_stream_connect`) |
//! | `getsockname`, `getpeername` | `inet_getname` |
//! | `setsockopt`, `getsockopt` | `sock_setsockopt`, `do_tcp_setsockopt`… |
//!
//! A read that finds end of file on a synack socket (`read`, `readv`,
//! `recv`, `recvfrom`, `recvmsg` and their `_chk` forms) asks once whether
//! the connection ended with an error, so a RST reads as `ECONNRESET` as
//! on Linux; reads that return data are the kernel's alone.
//!
//! `sendto`/`sendmsg` drop the address on a synack socket (Linux's TCP
//! ignores it); `MSG_OOB` and `MSG_FASTOPEN` fail with `EOPNOTSUPP` and a
//! line in `synack up`'s output.
//!
//! Every other fd, and every other family (`AF_INET6`, `AF_UNIX`,
//! netlink…), goes to libc's function untouched (`dlsym(RTLD_NEXT)`).
//! `socket(AF_INET, SOCK_DGRAM)` fails with `EPROTONOSUPPORT` for now:
//! UDP is not relayed yet, and it must not silently reach the kernel.

// `real!` runs inside safe and unsafe fns alike: its unsafe blocks are
// needed in the former only.
#![allow(unused_unsafe)]

#[path = "../../src/run/proto.rs"]
#[allow(dead_code)]
mod proto;

mod ctl;

use ctl::{enabled, errno, remember, rpc, set_errno, synack_ino};
use libc::{c_int, c_void, sockaddr, socklen_t};
use proto::{Op, Reply, Req};
use std::sync::atomic::{AtomicUsize, Ordering};

/// libc's own `$name`, found once with `dlsym(RTLD_NEXT)`.
macro_rules! real {
    ($name:ident : fn($($t:ty),*) -> $r:ty) => {{
        static P: AtomicUsize = AtomicUsize::new(0);
        let mut p = P.load(Ordering::Relaxed);
        if p == 0 {
            // SAFETY: dlsym with a NUL-terminated name.
            p = unsafe { libc::dlsym(libc::RTLD_NEXT, concat!(stringify!($name), "\0").as_ptr().cast()) } as usize;
            assert!(p != 0, concat!("synack_preload: no libc ", stringify!($name)));
            P.store(p, Ordering::Relaxed);
        }
        // SAFETY: the symbol is libc's function of this signature.
        unsafe { std::mem::transmute::<usize, unsafe extern "C" fn($($t),*) -> $r>(p) }
    }};
}

/// Fail a call with `e`, as libc does.
fn fail(e: c_int) -> c_int {
    set_errno(e);
    -1
}

/// Ask, and turn the reply's errno into libc's `-1`/`errno`.
fn ask(req: Req, pass: Option<c_int>) -> Result<(Reply, Option<c_int>), c_int> {
    match rpc(&req, pass) {
        Ok((r, fd)) if r.errno == 0 => Ok((r, fd)),
        Ok((r, fd)) => {
            if let Some(f) = fd {
                // SAFETY: an fd that came with a failure is ours to close.
                unsafe { libc::syscall(libc::SYS_close, f) };
            }
            Err(r.errno)
        }
        Err(e) => Err(e),
    }
}

/// A `sockaddr_in` from the program: (address, port) in host order.
///
/// # Safety
/// `addr` points to `len` readable bytes (or is null).
unsafe fn read_sin(addr: *const sockaddr, len: socklen_t) -> Result<([u8; 4], u16), c_int> {
    if addr.is_null() {
        return Err(libc::EFAULT);
    }
    if (len as usize) < std::mem::size_of::<libc::sockaddr_in>() {
        return Err(libc::EINVAL);
    }
    let sin = std::ptr::read_unaligned(addr as *const libc::sockaddr_in);
    if sin.sin_family as c_int != libc::AF_INET {
        // `inet_bind`/`tcp_v4_connect` refuse another family so.
        return Err(libc::EAFNOSUPPORT);
    }
    Ok((sin.sin_addr.s_addr.to_ne_bytes(), u16::from_be(sin.sin_port)))
}

/// Write a `sockaddr_in` back as the kernel does (`move_addr_to_user`):
/// at most `*len` bytes, `*len` set to the full size.
///
/// # Safety
/// `addr`/`len` are null or point to writable memory of `*len` bytes.
unsafe fn write_sin(addr: *mut sockaddr, len: *mut socklen_t, ip: [u8; 4], port: u16) {
    if addr.is_null() || len.is_null() {
        return;
    }
    let mut sin: libc::sockaddr_in = std::mem::zeroed();
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_port = port.to_be();
    sin.sin_addr.s_addr = u32::from_ne_bytes(ip);
    let full = std::mem::size_of::<libc::sockaddr_in>();
    let n = (*len as usize).min(full);
    std::ptr::copy_nonoverlapping(&sin as *const libc::sockaddr_in as *const u8, addr as *mut u8, n);
    *len = full as socklen_t;
}

/// Set the fd flags a `socket`/`accept4` asked for on a received fd
/// (which arrives close-on-exec and blocking).
fn apply_type_flags(fd: c_int, flags: c_int) {
    // SAFETY: fcntl on an fd we just received (libc's fcntl: not ours).
    unsafe {
        if flags & libc::SOCK_CLOEXEC == 0 {
            libc::fcntl(fd, libc::F_SETFD, 0);
        }
        if flags & libc::SOCK_NONBLOCK != 0 {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
}

fn nonblocking(fd: c_int) -> bool {
    // SAFETY: F_GETFL has no memory arguments.
    unsafe { libc::fcntl(fd, libc::F_GETFL) & libc::O_NONBLOCK != 0 }
}

/// Sleep until `fd` has `events` (the kernel's own wait: no busy polling).
/// `Err(EINTR)` if a signal came.
fn wait_for(fd: c_int, events: libc::c_short) -> Result<(), c_int> {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one pollfd we own (libc's poll: this library has none).
    let r = unsafe { libc::poll(&mut p, 1, -1) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

// ------------------------------------------------------------ the calls

/// `socket(2)`.
#[no_mangle]
pub extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let base = ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    if !enabled() || domain != libc::AF_INET {
        // SAFETY: libc's socket, with the caller's arguments.
        return unsafe { real!(socket: fn(c_int, c_int, c_int) -> c_int)(domain, ty, protocol) };
    }
    match base {
        libc::SOCK_STREAM if protocol == 0 || protocol == libc::IPPROTO_TCP => {}
        // UDP (and raw sockets) are not synack's yet: refuse them rather
        // than let them reach the kernel's stack.
        _ => return fail(libc::EPROTONOSUPPORT),
    }
    let mut req = Req::new(Op::Socket, 0);
    req.arg0 = ty as i64;
    match ask(req, None) {
        Ok((r, Some(fd))) => {
            remember(r.ino, true);
            apply_type_flags(fd, ty);
            fd
        }
        Ok((_, None)) => fail(libc::EPROTO),
        Err(e) => fail(e),
    }
}

/// `bind(2)`.
///
/// # Safety
/// As bind(2): `addr` points to `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let Some(ino) = synack_ino(fd) else {
        return real!(bind: fn(c_int, *const sockaddr, socklen_t) -> c_int)(fd, addr, len);
    };
    let (ip, port) = match read_sin(addr, len) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let req = Req { addr: ip, port, ..Req::new(Op::Bind, ino) };
    match ask(req, None) {
        Ok(_) => 0,
        Err(e) => fail(e),
    }
}

/// `listen(2)`.
#[no_mangle]
pub extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    let Some(ino) = synack_ino(fd) else {
        // SAFETY: libc's listen, with the caller's arguments.
        return unsafe { real!(listen: fn(c_int, c_int) -> c_int)(fd, backlog) };
    };
    let req = Req { arg0: backlog as i64, ..Req::new(Op::Listen, ino) };
    match ask(req, None) {
        Ok(_) => 0,
        Err(e) => fail(e),
    }
}

/// `accept4(2)`: blocking unless the listener is `O_NONBLOCK`. A listener's
/// fd holds a byte while its accept queue has a connection (server.rs),
/// so the wait is the kernel's `poll` on it, and so is the program's own
/// `poll`/`epoll` on a listener.
///
/// # Safety
/// As accept4(2).
#[no_mangle]
pub unsafe extern "C" fn accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int {
    let Some(ino) = synack_ino(fd) else {
        return real!(accept4: fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int)(fd, addr, len, flags);
    };
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return fail(libc::EINVAL);
    }
    loop {
        // Take the readiness byte(s) first: `synack up` puts one back after
        // this accept if the queue still holds a connection.
        let mut junk = [0u8; 64];
        let (p, n) = (junk.as_mut_ptr(), junk.len());
        libc::syscall(libc::SYS_recvfrom, fd, p, n, libc::MSG_DONTWAIT, 0usize, 0usize);
        match ask(Req::new(Op::Accept, ino), None) {
            Ok((r, Some(child))) => {
                remember(r.ino, true);
                apply_type_flags(child, flags);
                write_sin(addr, len, r.addr, r.port);
                return child;
            }
            Ok((_, None)) => return fail(libc::EPROTO),
            Err(libc::EAGAIN) if !nonblocking(fd) => {
                if let Err(e) = wait_for(fd, libc::POLLIN) {
                    return fail(e);
                }
            }
            Err(e) => return fail(e),
        }
    }
}

/// `accept(2)`.
///
/// # Safety
/// As accept(2).
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    if synack_ino(fd).is_none() {
        return real!(accept: fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int)(fd, addr, len);
    }
    accept4(fd, addr, len, 0)
}

/// `connect(2)`. `synack up` keeps the fd unwritable until the handshake
/// ends, so a non-blocking connect (`EINPROGRESS`) is waited for with the
/// kernel's `poll(POLLOUT)`, then `getsockopt(SO_ERROR)`, as on Linux; a
/// blocking one does just that here.
///
/// # Safety
/// As connect(2).
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let Some(ino) = synack_ino(fd) else {
        return real!(connect: fn(c_int, *const sockaddr, socklen_t) -> c_int)(fd, addr, len);
    };
    let (ip, port) = match read_sin(addr, len) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    // The fd goes along: `synack up` fills it to keep it unwritable.
    let req = Req { addr: ip, port, ..Req::new(Op::Connect, ino) };
    match ask(req, Some(fd)) {
        Ok(_) => return 0,
        Err(libc::EINPROGRESS) if !nonblocking(fd) => {}
        Err(e) => return fail(e),
    }
    if let Err(e) = wait_for(fd, libc::POLLOUT) {
        return fail(e);
    }
    let req = Req { arg0: libc::SOL_SOCKET as i64, arg1: libc::SO_ERROR as i64, ..Req::new(Op::GetSockOpt, ino) };
    match ask(req, None) {
        Ok((r, _)) if r.ret == 0 => 0,
        Ok((r, _)) => fail(r.ret as c_int),
        Err(e) => fail(e),
    }
}

/// `getsockname(2)` and `getpeername(2)`.
unsafe fn getname(op: Op, ino: u64, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    if addr.is_null() || len.is_null() {
        return fail(libc::EFAULT);
    }
    match ask(Req::new(op, ino), None) {
        Ok((r, _)) => {
            write_sin(addr, len, r.addr, r.port);
            0
        }
        Err(e) => fail(e),
    }
}

/// `getsockname(2)`.
///
/// # Safety
/// As getsockname(2).
#[no_mangle]
pub unsafe extern "C" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    match synack_ino(fd) {
        Some(ino) => getname(Op::GetSockName, ino, addr, len),
        None => real!(getsockname: fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int)(fd, addr, len),
    }
}

/// `getpeername(2)`.
///
/// # Safety
/// As getpeername(2).
#[no_mangle]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    match synack_ino(fd) {
        Some(ino) => getname(Op::GetPeerName, ino, addr, len),
        None => real!(getpeername: fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int)(fd, addr, len),
    }
}

/// `setsockopt(2)`: the int options synack has (server.rs says which);
/// another fails with `ENOPROTOOPT` and a line in `synack up`'s trace.
///
/// # Safety
/// As setsockopt(2).
#[no_mangle]
pub unsafe extern "C" fn setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int {
    let Some(ino) = synack_ino(fd) else {
        return real!(setsockopt: fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int)(
            fd, level, name, val, len,
        );
    };
    if val.is_null() {
        return fail(libc::EFAULT);
    }
    // Every option synack has is an int (SO_LINGER's struct is not yet).
    if (len as usize) < std::mem::size_of::<c_int>() {
        return fail(libc::EINVAL);
    }
    let v = std::ptr::read_unaligned(val as *const c_int);
    let req = Req { arg0: level as i64, arg1: name as i64, arg2: v as i64, ..Req::new(Op::SetSockOpt, ino) };
    match ask(req, None) {
        Ok(_) => 0,
        Err(e) => fail(e),
    }
}

/// `getsockopt(2)`.
///
/// # Safety
/// As getsockopt(2).
#[no_mangle]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    let Some(ino) = synack_ino(fd) else {
        return real!(getsockopt: fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int)(
            fd, level, name, val, len,
        );
    };
    if val.is_null() || len.is_null() {
        return fail(libc::EFAULT);
    }
    let req = Req { arg0: level as i64, arg1: name as i64, ..Req::new(Op::GetSockOpt, ino) };
    match ask(req, None) {
        Ok((r, _)) => {
            // As the kernel's sock_getsockopt: an int, cut to what fits.
            let v = (r.ret as c_int).to_ne_bytes();
            let n = (*len as usize).min(v.len());
            std::ptr::copy_nonoverlapping(v.as_ptr(), val as *mut u8, n);
            *len = n as socklen_t;
            0
        }
        Err(e) => fail(e),
    }
}

// ------------------------------------------- reads that find end of file

/// A read on a synack socket returned 0 (end of file): if the connection
/// ended with an error (a RST, a timeout), return it once instead, as
/// Linux's `tcp_recvmsg` returns `sock_error` (then 0 on later reads).
/// Reads that return data never come here: they are the kernel's alone.
fn eof_or_error(fd: c_int, r: isize, asked: bool) -> isize {
    if r != 0 || !asked || !enabled() {
        return r;
    }
    let Some(ino) = synack_ino(fd) else { return r };
    match rpc(&Req::new(Op::PendingError, ino), None) {
        Ok((p, _)) if p.errno == 0 && p.ret != 0 => {
            set_errno(p.ret as c_int);
            -1
        }
        _ => r,
    }
}

/// `MSG_OOB` on a synack socket: not yet (a Unix socket's own urgent
/// byte is not TCP's).
fn recv_refused(fd: c_int, flags: c_int) -> Option<isize> {
    if flags & libc::MSG_OOB == 0 {
        return None;
    }
    synack_ino(fd).map(|ino| refuse(ino, proto::Unsupported::RecvOob))
}

/// `read(2)`.
///
/// # Safety
/// As read(2).
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize {
    let r = real!(read: fn(c_int, *mut c_void, usize) -> isize)(fd, buf, n);
    eof_or_error(fd, r, n > 0)
}

/// `__read_chk`: `read` as `_FORTIFY_SOURCE` compiles it.
///
/// # Safety
/// As read(2).
#[no_mangle]
pub unsafe extern "C" fn __read_chk(fd: c_int, buf: *mut c_void, n: usize, buflen: usize) -> isize {
    let r = real!(__read_chk: fn(c_int, *mut c_void, usize, usize) -> isize)(fd, buf, n, buflen);
    eof_or_error(fd, r, n > 0)
}

/// `readv(2)`.
///
/// # Safety
/// As readv(2).
#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const libc::iovec, cnt: c_int) -> isize {
    let r = real!(readv: fn(c_int, *const libc::iovec, c_int) -> isize)(fd, iov, cnt);
    let asked = !iov.is_null() && cnt > 0 && (0..cnt as usize).any(|i| (*iov.add(i)).iov_len > 0);
    eof_or_error(fd, r, asked)
}

/// `recv(2)`: flags (`MSG_PEEK`, `MSG_DONTWAIT`, `MSG_WAITALL`) work on
/// the socketpair as on TCP.
///
/// # Safety
/// As recv(2).
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, n: usize, flags: c_int) -> isize {
    if let Some(r) = recv_refused(fd, flags) {
        return r;
    }
    let r = real!(recv: fn(c_int, *mut c_void, usize, c_int) -> isize)(fd, buf, n, flags);
    eof_or_error(fd, r, n > 0)
}

/// `__recv_chk`.
///
/// # Safety
/// As recv(2).
#[no_mangle]
pub unsafe extern "C" fn __recv_chk(fd: c_int, buf: *mut c_void, n: usize, buflen: usize, flags: c_int) -> isize {
    if let Some(r) = recv_refused(fd, flags) {
        return r;
    }
    let r = real!(__recv_chk: fn(c_int, *mut c_void, usize, usize, c_int) -> isize)(fd, buf, n, buflen, flags);
    eof_or_error(fd, r, n > 0)
}

/// `recvfrom(2)`: on a connected TCP socket the address is left empty
/// (`*len` = 0), as on the socketpair.
///
/// # Safety
/// As recvfrom(2).
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    n: usize,
    flags: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> isize {
    if let Some(r) = recv_refused(fd, flags) {
        return r;
    }
    let f = real!(recvfrom: fn(c_int, *mut c_void, usize, c_int, *mut sockaddr, *mut socklen_t) -> isize);
    eof_or_error(fd, f(fd, buf, n, flags, addr, len), n > 0)
}

/// `__recvfrom_chk`.
///
/// # Safety
/// As recvfrom(2).
#[no_mangle]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    n: usize,
    buflen: usize,
    flags: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> isize {
    if let Some(r) = recv_refused(fd, flags) {
        return r;
    }
    let f = real!(__recvfrom_chk: fn(c_int, *mut c_void, usize, usize, c_int, *mut sockaddr, *mut socklen_t) -> isize);
    eof_or_error(fd, f(fd, buf, n, buflen, flags, addr, len), n > 0)
}

/// `recvmsg(2)`.
///
/// # Safety
/// As recvmsg(2).
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> isize {
    if let Some(r) = recv_refused(fd, flags) {
        return r;
    }
    let r = real!(recvmsg: fn(c_int, *mut libc::msghdr, c_int) -> isize)(fd, msg, flags);
    let asked = !msg.is_null()
        && !(*msg).msg_iov.is_null()
        && (0..(*msg).msg_iovlen).any(|i| (*(*msg).msg_iov.add(i)).iov_len > 0);
    eof_or_error(fd, r, asked)
}

// ------------------------------------------------ sends, and what is refused

/// Refuse a call on synack socket `ino` with `EOPNOTSUPP`, and have
/// `synack up` trace it.
fn refuse(ino: u64, what: proto::Unsupported) -> isize {
    let req = Req { arg0: libc::EOPNOTSUPP as i64, arg1: what as i64, ..Req::new(Op::Unsupported, ino) };
    let _ = rpc(&req, None);
    fail(libc::EOPNOTSUPP) as isize
}

/// What a send's flags ask that the socketpair cannot do as TCP does.
fn send_refused(fd: c_int, flags: c_int) -> Option<isize> {
    if flags & (libc::MSG_OOB | libc::MSG_FASTOPEN) == 0 {
        return None;
    }
    let ino = synack_ino(fd)?;
    let what = if flags & libc::MSG_OOB != 0 { proto::Unsupported::SendOob } else { proto::Unsupported::FastOpen };
    Some(refuse(ino, what))
}

/// `send(2)`: the kernel's on the socketpair, except urgent data.
///
/// # Safety
/// As send(2).
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, n: usize, flags: c_int) -> isize {
    if let Some(r) = send_refused(fd, flags) {
        return r;
    }
    real!(send: fn(c_int, *const c_void, usize, c_int) -> isize)(fd, buf, n, flags)
}

/// `sendto(2)`: on a connected TCP socket Linux ignores the address
/// (`tcp_sendmsg`); a Unix stream socket would refuse it (`EISCONN`), so
/// it is dropped here.
///
/// # Safety
/// As sendto(2).
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: usize,
    flags: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> isize {
    if let Some(r) = send_refused(fd, flags) {
        return r;
    }
    let f = real!(sendto: fn(c_int, *const c_void, usize, c_int, *const sockaddr, socklen_t) -> isize);
    if !addr.is_null() && synack_ino(fd).is_some() {
        return f(fd, buf, n, flags, std::ptr::null(), 0);
    }
    f(fd, buf, n, flags, addr, len)
}

/// `sendmsg(2)`: as `sendto`, the address of a TCP socket is ignored.
///
/// # Safety
/// As sendmsg(2).
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> isize {
    if let Some(r) = send_refused(fd, flags) {
        return r;
    }
    let f = real!(sendmsg: fn(c_int, *const libc::msghdr, c_int) -> isize);
    if !msg.is_null() && !(*msg).msg_name.is_null() && synack_ino(fd).is_some() {
        let mut m = *msg;
        m.msg_name = std::ptr::null_mut();
        m.msg_namelen = 0;
        return f(fd, &m, flags);
    }
    f(fd, msg, flags)
}
