//! One program socket in `synack up`: a stack socket and our end of the
//! socketpair whose other end is the program's fd, and the relay between
//! them (docs/architecture.md, "Programs on synack").
//!
//! ```text
//!   program fd ══ socketpair ══ our end ──relay──> Stack::send      (tcp_sendmsg)
//!                                       <──relay── Stack::recv      (tcp_recvmsg)
//! ```
//!
//! The socketpair's buffers are the socket's buffers: when the program
//! does not read, its end fills, the relay stops taking from the stack,
//! and TCP's window closes (backpressure, as a full `sk_rcvbuf`); when the
//! stack's send buffer is full, the relay stops reading our end, and the
//! program's `write` blocks (a full `sk_sndbuf`). Nothing is copied twice
//! or held beyond `RELAY_CHUNK` per direction.
//!
//! The program's end says what the program did, in the kernel's own words:
//! end of file on ours is its `shutdown(SHUT_WR)` or last `close` (then
//! TCP's FIN, `tcp_shutdown`/`tcp_close`); `ECONNRESET` on a read of ours
//! is a close with unread data (unix(7)'s `unix_release_sock` sets it), for
//! which Linux's `tcp_close` would send a RST.

use super::sys;
use stack::{EpollFlags, Errno, Instant, MsgFlags, Shutdown, SocketHandle, Stack};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// The most bytes held in the relay per direction (read and not yet
/// written on): one read's worth.
pub const RELAY_CHUNK: usize = 64 * 1024;

/// Each socketpair end's `SO_SNDBUF`: how much the relay keeps in the
/// kernel per direction, next to the stack's own buffers (as Linux's
/// default `tcp_rmem`/`tcp_wmem` are some hundreds of KiB).
pub const PAIR_BUF: i32 = 256 * 1024;

/// What the socket is.
#[derive(Debug)]
pub enum Mode {
    /// Made by `socket`, neither connecting nor listening.
    Fresh,
    /// A listener: its fd holds a byte while the accept queue has a connection.
    Listening,
    /// `connect` sent the SYN; `filler` bytes sit in our end, written into
    /// the program's end (`prog`, held until ESTABLISHED) so that it polls
    /// unwritable, as a connecting socket does on Linux.
    Connecting { filler: usize, prog: OwnedFd, sndbuf: i32 },
    /// A connection: both directions relayed.
    Stream,
    /// `connect` failed; `SO_ERROR` tells the program why.
    Failed,
}

pub struct Relay {
    /// The stack's socket; `None` once closed.
    pub h: Option<SocketHandle>,
    /// Our end of the socketpair (non-blocking).
    pub ours: OwnedFd,
    pub mode: Mode,
    /// The program that made it or accepted it: pid and name (`ss -p`).
    pub pid: u32,
    pub comm: std::rc::Rc<str>,
    /// A pending error for `getsockopt(SO_ERROR)` (`sk_err`).
    pub so_error: Option<Errno>,
    /// Read from the stack, not yet written into our end.
    to_prog: Vec<u8>,
    to_prog_off: usize,
    /// Read from our end, not yet taken by the stack.
    to_stack: Vec<u8>,
    to_stack_off: usize,
    /// The stack's FIN reached the program (`shutdown(ours, SHUT_WR)`).
    pub fin_to_prog: bool,
    /// The program's end of file reached TCP (`Stack::shutdown(Write)`).
    pub fin_to_stack: bool,
    /// Our end said the program closed its last copy.
    pub prog_gone: bool,
    /// The program closed with data unread: RST (`tcp_close`).
    pub unread_at_close: bool,
    /// The interests now registered: the kernel epoll's, the stack's.
    pub k_interest: u32,
    pub s_interest: EpollFlags,
}

impl Relay {
    pub fn new(h: SocketHandle, ours: OwnedFd, pid: u32, comm: std::rc::Rc<str>) -> Relay {
        Relay {
            h: Some(h),
            ours,
            mode: Mode::Fresh,
            pid,
            comm,
            so_error: None,
            to_prog: Vec::new(),
            to_prog_off: 0,
            to_stack: Vec::new(),
            to_stack_off: 0,
            fin_to_prog: false,
            fin_to_stack: false,
            prog_gone: false,
            unread_at_close: false,
            k_interest: 0,
            s_interest: EpollFlags::NONE,
        }
    }

    fn fd(&self) -> i32 {
        self.ours.as_raw_fd()
    }

    /// The interests this socket needs now: (kernel epoll on our end, stack epoll).
    pub fn interests(&self) -> (u32, EpollFlags) {
        match self.mode {
            Mode::Stream => {
                let mut k = 0;
                if !self.fin_to_stack && !self.prog_gone && self.to_stack_off >= self.to_stack.len() {
                    k |= libc::EPOLLIN as u32;
                }
                if self.to_prog_off < self.to_prog.len() {
                    k |= libc::EPOLLOUT as u32;
                }
                let mut s = EpollFlags::NONE;
                if !self.fin_to_prog && self.to_prog_off >= self.to_prog.len() {
                    s |= EpollFlags::EPOLLIN;
                }
                if self.to_stack_off < self.to_stack.len() {
                    s |= EpollFlags::EPOLLOUT;
                }
                (k, s)
            }
            // Edge-triggered: one wake-up per connection that arrives.
            Mode::Listening => (0, EpollFlags::EPOLLIN | EpollFlags::EPOLLET),
            Mode::Connecting { .. } => (0, EpollFlags::EPOLLOUT),
            Mode::Fresh | Mode::Failed => (0, EpollFlags::NONE),
        }
    }

    /// Whether the socket is finished: the relay can be dropped.
    pub fn done(&self) -> bool {
        match self.mode {
            Mode::Stream => {
                let drained = self.to_stack_off >= self.to_stack.len();
                // Both ways closed (the program's close then changes nothing
                // on the wire), or the program gone and its bytes delivered.
                (self.fin_to_prog && self.fin_to_stack && drained)
                    || (self.prog_gone && (self.fin_to_stack || self.unread_at_close) && drained)
                    || self.h.is_none()
            }
            _ => self.prog_gone,
        }
    }

    /// Take the filler back out of our end: the program's end is
    /// writable again, with its own send buffer.
    fn unfill(&mut self) {
        if let Mode::Connecting { filler, prog, sndbuf } = std::mem::replace(&mut self.mode, Mode::Stream) {
            let mut left = filler;
            let mut junk = [0u8; 4096];
            while left > 0 {
                match sys::read(self.fd(), &mut junk[..left.min(4096)]) {
                    Ok(n) if n > 0 => left -= n,
                    _ => break,
                }
            }
            let _ = sys::set_int_opt(prog.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, sndbuf / 2);
        }
    }

    /// `connect` sent: fill the program's end until it polls unwritable.
    pub fn start_connect(&mut self, prog: OwnedFd) {
        let p = prog.as_raw_fd();
        let mut sndbuf: libc::c_int = PAIR_BUF * 2;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes one int we own.
        unsafe {
            libc::getsockopt(
                p,
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                &mut sndbuf as *mut i32 as *mut libc::c_void,
                &mut len,
            )
        };
        let _ = sys::set_int_opt(p, libc::SOL_SOCKET, libc::SO_SNDBUF, 1);
        let zeros = [0u8; 1024];
        let mut filler = 0;
        // The smallest send buffer is a few KiB (SOCK_MIN_SNDBUF): a few writes.
        for _ in 0..64 {
            match sys::write(p, &zeros) {
                Ok(n) if n > 0 => filler += n,
                _ => break,
            }
        }
        self.mode = Mode::Connecting { filler, prog, sndbuf };
    }

    /// The connecting socket's handshake ended: ESTABLISHED, or failed.
    pub fn connect_done(&mut self, stack: &mut Stack) {
        let Some(h) = self.h else { return };
        let err = stack.take_error(h);
        self.unfill();
        match err {
            None => self.mode = Mode::Stream,
            Some(e) => {
                self.so_error = Some(e);
                self.mode = Mode::Failed;
            }
        }
    }

    /// Move what can move, both ways, without blocking.
    pub fn pump(&mut self, stack: &mut Stack, now: Instant, buf: &mut [u8]) {
        if !matches!(self.mode, Mode::Stream) {
            return;
        }
        let Some(h) = self.h else { return };
        let fd = self.fd();
        // The stack to the program (tcp_recvmsg into the pair).
        loop {
            if self.to_prog_off < self.to_prog.len() {
                match sys::write(fd, &self.to_prog[self.to_prog_off..]) {
                    Ok(n) => self.to_prog_off += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // The program shut its reading side or is gone: what
                    // TCP delivers is dropped, as after SHUT_RD.
                    Err(_) => self.to_prog_off = self.to_prog.len(),
                }
                continue;
            }
            if self.fin_to_prog {
                break;
            }
            let n = RELAY_CHUNK.min(buf.len());
            match stack.recv(now, h, &mut buf[..n], MsgFlags::NONE) {
                Ok(0) => {
                    sys::shutdown(fd, libc::SHUT_WR);
                    self.fin_to_prog = true;
                }
                Ok(n) => {
                    self.to_prog.clear();
                    self.to_prog.extend_from_slice(&buf[..n]);
                    self.to_prog_off = 0;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => {
                    // RST or a timeout: the program reads its end of file
                    // and its writes fail (EPIPE).
                    self.so_error = Some(e);
                    self.reset_pair();
                    return;
                }
            }
        }
        // The program to the stack (its writes into tcp_sendmsg).
        loop {
            if self.to_stack_off < self.to_stack.len() {
                match stack.send(now, h, &self.to_stack[self.to_stack_off..], MsgFlags::NONE) {
                    Ok(n) => self.to_stack_off += n,
                    Err(Errno::EAGAIN) => break,
                    Err(e) => {
                        self.so_error = Some(e);
                        self.reset_pair();
                        return;
                    }
                }
                continue;
            }
            if self.fin_to_stack || self.unread_at_close {
                break;
            }
            let n = RELAY_CHUNK.min(buf.len());
            match sys::read(fd, &mut buf[..n]) {
                Ok(0) => {
                    // SHUT_WR or the last close: FIN after the data.
                    let _ = stack.shutdown(now, h, Shutdown::Write);
                    self.fin_to_stack = true;
                }
                Ok(n) => {
                    self.to_stack.clear();
                    self.to_stack.extend_from_slice(&buf[..n]);
                    self.to_stack_off = 0;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                    self.unread_at_close = true;
                    self.prog_gone = true;
                }
                Err(_) => {
                    self.prog_gone = true;
                    self.fin_to_stack = true;
                }
            }
        }
    }

    /// The connection is over on TCP's side: close the stack socket and
    /// shut our end both ways (the program reads 0, its writes fail).
    fn reset_pair(&mut self) {
        sys::shutdown(self.fd(), libc::SHUT_RDWR);
        self.fin_to_prog = true;
        self.fin_to_stack = true;
        self.to_prog.clear();
        self.to_prog_off = 0;
        self.to_stack.clear();
        self.to_stack_off = 0;
    }
}
