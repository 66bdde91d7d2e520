//! `Epoll`: the stack's epoll (stack/src/epoll.rs) through the front door,
//! for a reactor over non-blocking `TcpListener`s, `TcpStream`s and
//! `UdpSocket`s — level- or edge-triggered (`EPOLLET`), as epoll(7) says.
//!
//! Read first: epoll(7), and Linux's `ep_poll` and `ep_poll_callback`. A
//! `wait` that finds nothing ready parks on the stack thread like any
//! blocking call (mod.rs) and is tried again after each turn of the loop,
//! so an idle reactor sleeps. The sockets must be on the same `Net` as the
//! epoll. Dropped: `close(epfd)`.

use super::{Net, Wait};
use stack::{EpollEvent, EpollFlags, EpollHandle, EpollOp, SocketHandle};
use std::io::{self, ErrorKind};
use std::time::Duration;

/// Events `Epoll::wait` returns at most per call (`maxevents`).
pub const EPOLL_MAX_EVENTS: usize = 1024;

/// Something an `Epoll` can watch: the front door's sockets.
pub trait Source {
    /// The stack's socket behind it.
    fn socket_handle(&self) -> SocketHandle;
}

/// An epoll instance on the stack (`epoll_create1(2)`).
pub struct Epoll {
    net: Net,
    ep: EpollHandle,
}

impl Epoll {
    pub fn new(net: &Net) -> io::Result<Epoll> {
        let ep = net.call(Wait::Never, ErrorKind::WouldBlock, |s, _| Ok(s.epoll_create()))?;
        Ok(Epoll { net: net.clone(), ep })
    }

    fn ctl(&self, op: EpollOp, src: &dyn Source, events: EpollFlags, token: u64) -> io::Result<()> {
        let (ep, h) = (self.ep, src.socket_handle());
        self.net.call(Wait::Never, ErrorKind::WouldBlock, move |s, _| s.epoll_ctl(ep, op, h, events, token))
    }

    /// `EPOLL_CTL_ADD`: watch `src` for `events` (add `EPOLLET` for
    /// edge-triggered); `token` comes back with each of its events.
    pub fn add(&self, src: &dyn Source, events: EpollFlags, token: u64) -> io::Result<()> {
        self.ctl(EpollOp::Add, src, events, token)
    }

    /// `EPOLL_CTL_MOD`.
    pub fn modify(&self, src: &dyn Source, events: EpollFlags, token: u64) -> io::Result<()> {
        self.ctl(EpollOp::Mod, src, events, token)
    }

    /// `EPOLL_CTL_DEL` (dropping a socket also removes it, as `close` does).
    pub fn delete(&self, src: &dyn Source) -> io::Result<()> {
        self.ctl(EpollOp::Del, src, EpollFlags::NONE, 0)
    }

    /// `epoll_wait(2)`: fills `events` (cleared first) with up to
    /// `EPOLL_MAX_EVENTS` ready sockets, waiting up to `timeout` (`None`:
    /// until one is ready) for the first. Returns how many; 0 on timeout.
    pub fn wait(&self, events: &mut Vec<EpollEvent>, timeout: Option<Duration>) -> io::Result<usize> {
        events.clear();
        let ep = self.ep;
        let wait = match timeout {
            Some(t) if t.is_zero() => Wait::Never,
            t => Wait::For(t),
        };
        let got = self.net.call(wait, ErrorKind::TimedOut, move |s, _| {
            let mut evs = Vec::new();
            match s.epoll_wait(ep, &mut evs, EPOLL_MAX_EVENTS)? {
                0 => Err(stack::Errno::EAGAIN),
                _ => Ok(evs),
            }
        });
        match got {
            Ok(evs) => {
                events.extend(evs);
                Ok(events.len())
            }
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => Ok(0),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        let ep = self.ep;
        self.net.fire(move |s, _| {
            let _ = s.epoll_close(ep);
        });
    }
}
