//! The Rust front door: `TcpListener`, `TcpStream` and `UdpSocket` shaped
//! like `std::net`'s, over a stack that runs in its own thread.
//!
//! Read first: `std::net`, and the kernel's split between *process context*
//! (a program's thread inside a system call) and *softirq* (the code that
//! brings frames in and runs timers). Here the softirq is a thread of its
//! own (`thread.rs`, the `StackThread`) that owns the stack and runs the
//! poll loop unchanged; a program's threads are process context. A socket
//! call travels to the stack thread over a channel, the stack thread is
//! woken by an eventfd it polls next to the device, tries the call on the
//! stack, and answers at once, or — the stack said `EAGAIN` and the socket
//! blocks — parks the call and tries it again after each turn of the loop
//! (a frame came, a timer ran: only then can readiness change), until it
//! succeeds or its timeout passes (the kernel's `sk_wait_data`). No thread
//! spins: the caller sleeps on its reply channel, the stack thread in
//! ppoll(2).
//!
//! ```text
//!   program threads            channel + eventfd          stack thread
//!   TcpStream::read  ─── Call { attempt, timeout } ───▶  tcp_recvmsg → EAGAIN?
//!        (asleep on reply)  ◀──────── reply ──────────   park, retry per turn
//! ```
//!
//! Files: mod.rs (the `Net` handle and the call plumbing), thread.rs (the
//! stack thread on a TAP's `NetLoop` or on a real-time `Sim`), tcp.rs
//! (`TcpListener`, `TcpStream`), udp.rs (`UdpSocket`), epoll.rs (`Epoll`,
//! for a non-blocking reactor). Every socket holds a
//! `Net`, so the stack lives while any socket does; a socket's `Drop` sends
//! `close` without waiting (a TCP socket with nothing unread sends FIN).

mod epoll;
mod tcp;
mod thread;
mod udp;

pub use epoll::{Epoll, Source, EPOLL_MAX_EVENTS};
pub use stack::{EpollEvent, EpollFlags};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

use stack::{Duration, Errno, Instant, SocketHandle, Stack};
use std::io;
use std::net::{SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use thread::{Call, Shared};

/// The backlog `TcpListener::bind` listens with (`std::net` uses 128, as
/// Linux's `SOMAXCONN` did).
pub const LISTEN_BACKLOG: usize = 128;

/// A handle on a stack running in its own thread. Cheap to clone; every
/// clone and every socket made from it keeps the stack thread alive, and
/// the thread stops when the last one is dropped.
#[derive(Clone)]
pub struct Net {
    shared: Arc<Shared>,
    /// Which stack of the thread this handle's sockets live on (a `Sim`
    /// has two, A = 0 and B = 1; a TAP one).
    side: usize,
}

/// How long a call may wait when the stack says `EAGAIN`.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Wait {
    /// Non-blocking: `EAGAIN` comes back as `WouldBlock`.
    Never,
    /// Blocking, at most this long (`None`: forever). A timeout ends the
    /// call with `timeout_kind`.
    For(Option<Duration>),
}

impl Net {
    /// A stack on a TAP: `make` runs in the new stack thread and returns
    /// the loop (a TAP's device is made there, since a `Box<dyn Device>` is
    /// not `Send`). `synack_apps::iface::bring_up` is such a `make`.
    pub fn spawn_loop<F>(make: F) -> io::Result<Net>
    where
        F: FnOnce() -> io::Result<crate::NetLoop<Box<dyn crate::Device>>> + Send + 'static,
    {
        Ok(Net { shared: thread::spawn_loop(make)?, side: 0 })
    }

    /// Two stacks on an in-memory wire (`Sim`), run in real time: no TAP,
    /// no root. Returns a handle on A and one on B.
    pub fn sim(a: stack::Config, b: stack::Config) -> io::Result<(Net, Net)> {
        let shared = thread::spawn_sim(a, b)?;
        Ok((Net { shared: shared.clone(), side: 0 }, Net { shared, side: 1 }))
    }

    /// Run `attempt` on the stack thread until it returns something other
    /// than `EAGAIN`, or `wait` ends it. `attempt` gets the stack and the
    /// stack's `now`; it may be called many times.
    pub(crate) fn call<T, F>(&self, wait: Wait, timeout_kind: io::ErrorKind, attempt: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut Stack, Instant) -> Result<T, Errno> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let mut attempt = attempt;
        let step = Box::new(move |stack: &mut Stack, now: Instant, timed_out: bool| {
            if timed_out {
                let _ = tx.send(Err(io::Error::from(timeout_kind)));
                return true;
            }
            match attempt(stack, now) {
                Err(Errno::EAGAIN) if !matches!(wait, Wait::Never) => false,
                r => {
                    let _ = tx.send(r.map_err(errno_to_io));
                    true
                }
            }
        });
        let timeout = match wait {
            Wait::Never => None,
            Wait::For(t) => t,
        };
        self.shared.submit(Call { side: self.side, step, timeout })?;
        rx.recv().map_err(|_| stopped())?
    }

    /// Run `f` on the stack thread without waiting for it (a socket's
    /// `Drop`: close).
    pub(crate) fn fire(&self, f: impl FnOnce(&mut Stack, Instant) + Send + 'static) {
        let mut f = Some(f);
        let step = Box::new(move |stack: &mut Stack, now: Instant, _timed_out: bool| {
            if let Some(f) = f.take() {
                f(stack, now);
            }
            true
        });
        let _ = self.shared.submit(Call { side: self.side, step, timeout: None });
    }

    /// `close(2)` on drop, for the socket types.
    pub(crate) fn close_on_drop(&self, h: SocketHandle) {
        self.fire(move |stack, now| {
            let _ = stack.close(now, h);
        });
    }
}

/// The stack's errno as the `io::Error` std would give for it (same
/// numbers: `ErrorKind` follows from the code).
pub(crate) fn errno_to_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.code())
}

/// The stack thread is gone (it failed, or the program is ending).
fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the stack thread has stopped")
}

/// The first IPv4 address of `addr` (the stack speaks IPv4 only; an IPv6
/// address is `Unsupported`, as `EAFNOSUPPORT`).
pub(crate) fn v4(addr: impl ToSocketAddrs) -> io::Result<SocketAddrV4> {
    for a in addr.to_socket_addrs()? {
        if let SocketAddr::V4(a) = a {
            return Ok(a);
        }
    }
    Err(io::Error::new(io::ErrorKind::Unsupported, "synack speaks IPv4 only"))
}

/// A per-socket setting kept on the program's side (`SO_RCVTIMEO`,
/// `SO_SNDTIMEO`, `O_NONBLOCK` as `std::net` asks for them).
#[derive(Default)]
pub(crate) struct Opts {
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
    pub nonblocking: bool,
}

impl Opts {
    pub fn read_wait(&self) -> Wait {
        if self.nonblocking {
            Wait::Never
        } else {
            Wait::For(self.read_timeout)
        }
    }
    pub fn write_wait(&self) -> Wait {
        if self.nonblocking {
            Wait::Never
        } else {
            Wait::For(self.write_timeout)
        }
    }
}

/// `std::net` refuses a zero timeout with `InvalidInput`.
pub(crate) fn check_timeout(t: Option<Duration>) -> io::Result<()> {
    if t == Some(Duration::ZERO) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot set a 0 duration timeout"));
    }
    Ok(())
}
