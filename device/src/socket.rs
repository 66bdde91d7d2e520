//! Blocking BSD-style socket calls over the poll loop.
//!
//! The stack's socket calls never block: they return `EAGAIN` when they
//! would. A blocking call is that call plus waiting, and waiting means
//! *running the network*: this is the kernel's split between process
//! context (the call, `sk_wait_data`) and softirq (the loop, which brings
//! the data). So every call here takes a `Net` — the real `NetLoop` on a
//! TAP, or one side of a virtual-time `Sim` — and, when the stack says
//! `EAGAIN`, turns the loop until `poll_socket` reports the socket ready or
//! the timeout passes, then tries again.
//!
//! Linux behaviours kept:
//! - `O_NONBLOCK` (`SockOpt::NonBlocking`, kept by the stack) and
//!   `MSG_DONTWAIT` mean: never wait, `EAGAIN` instead.
//! - `recv` on a stream returns as soon as *some* bytes are there (a partial
//!   read); `MSG_WAITALL` waits for the whole buffer, unless EOF, an error
//!   or a timeout comes first — then it returns what it has.
//! - A blocking `send` on a stream sends everything; if it must stop early
//!   (timeout, error) after sending some, it returns the count sent.
//! - Timeouts (`SO_RCVTIMEO` / `SO_SNDTIMEO`) end a wait with `EAGAIN`; a
//!   blocking `connect` that times out returns `EINPROGRESS`, as on Linux.
//! - A signal during the wait ends it with `EINTR` (after a partial
//!   transfer, the count so far), as a call without `SA_RESTART` would.
//!
//! The calls are the same for every socket kind: they only look at the
//! readiness bits (`poll_socket`), for UDP and TCP alike.

use crate::poll_loop::NetLoop;
use crate::Device;
use stack::{Close, SocketHandle, Stack};
use stack::{Duration, Errno, Instant, MsgFlags, PollFlags, Shutdown, SockOpt, SockOptName, SockType};
use std::fmt;
use std::io;
use std::net::SocketAddrV4;

/// The network a blocking call waits on.
pub trait Net {
    fn stack(&mut self) -> &mut Stack;
    fn now(&mut self) -> Instant;
    /// Let the network run until something may have changed (a frame came,
    /// a timer ran), or until `deadline`. May return early; never spins.
    fn wait(&mut self, deadline: Option<Instant>) -> io::Result<()>;
}

impl<D: Device> Net for NetLoop<D> {
    fn stack(&mut self) -> &mut Stack {
        &mut self.stack
    }
    fn now(&mut self) -> Instant {
        NetLoop::now(self)
    }
    /// A signal that interrupts the sleep ends the wait with `Interrupted`,
    /// which the blocking call returns as `EINTR`, as Linux does.
    fn wait(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        let woke = self.poll_once(&[], deadline)?;
        if woke.interrupted {
            return Err(io::ErrorKind::Interrupted.into());
        }
        Ok(())
    }
}

/// Why a blocking call failed: the stack said no (an errno), or the device
/// under the loop failed.
#[derive(Debug)]
pub enum SockError {
    Errno(Errno),
    Device(io::Error),
}

impl SockError {
    pub fn errno(&self) -> Option<Errno> {
        match self {
            SockError::Errno(e) => Some(*e),
            SockError::Device(_) => None,
        }
    }
}

impl From<Errno> for SockError {
    fn from(e: Errno) -> Self {
        SockError::Errno(e)
    }
}
impl From<io::Error> for SockError {
    fn from(e: io::Error) -> Self {
        SockError::Device(e)
    }
}
impl PartialEq<Errno> for SockError {
    fn eq(&self, e: &Errno) -> bool {
        self.errno() == Some(*e)
    }
}
impl fmt::Display for SockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockError::Errno(e) => write!(f, "{e}"),
            SockError::Device(e) => write!(f, "device: {e}"),
        }
    }
}
impl std::error::Error for SockError {}

pub type Result<T> = std::result::Result<T, SockError>;

/// A socket used with blocking calls, like a file descriptor in a
/// program that never set `O_NONBLOCK` (unless it does, with `set_nonblocking`).
#[derive(Debug)]
pub struct BlockingSocket {
    handle: SocketHandle,
    ty: SockType,
    /// SO_RCVTIMEO: how long recv/accept wait (None: forever).
    read_timeout: Option<Duration>,
    /// SO_SNDTIMEO: how long send/connect wait.
    write_timeout: Option<Duration>,
}

impl BlockingSocket {
    /// `socket(AF_INET, ty, 0)`.
    pub fn socket(net: &mut impl Net, ty: SockType) -> Result<BlockingSocket> {
        let handle = net.stack().socket(ty)?;
        Ok(BlockingSocket::from_handle(handle, ty))
    }
    /// Wrap a handle that exists (e.g. one `accept` returned).
    pub fn from_handle(handle: SocketHandle, ty: SockType) -> BlockingSocket {
        BlockingSocket { handle, ty, read_timeout: None, write_timeout: None }
    }
    pub fn handle(&self) -> SocketHandle {
        self.handle
    }
    pub fn set_read_timeout(&mut self, t: Option<Duration>) {
        self.read_timeout = t;
    }
    pub fn set_write_timeout(&mut self, t: Option<Duration>) {
        self.write_timeout = t;
    }
    /// `fcntl(O_NONBLOCK)`: kept in the stack as `SockOpt::NonBlocking`.
    pub fn set_nonblocking(&self, net: &mut impl Net, on: bool) -> Result<()> {
        let now = net.now();
        Ok(net.stack().setsockopt(now, self.handle, SockOpt::NonBlocking(on))?)
    }
    pub fn nonblocking(&self, net: &mut impl Net) -> bool {
        matches!(net.stack().getsockopt(self.handle, SockOptName::NonBlocking), Ok(SockOpt::NonBlocking(true)))
    }

    pub fn bind(&self, net: &mut impl Net, addr: SocketAddrV4) -> Result<()> {
        Ok(net.stack().bind(self.handle, addr)?)
    }
    pub fn listen(&self, net: &mut impl Net, backlog: usize) -> Result<()> {
        Ok(net.stack().listen(self.handle, backlog)?)
    }
    pub fn local_addr(&self, net: &mut impl Net) -> Result<SocketAddrV4> {
        Ok(net.stack().getsockname(self.handle)?)
    }
    pub fn peer_addr(&self, net: &mut impl Net) -> Result<SocketAddrV4> {
        Ok(net.stack().getpeername(self.handle)?)
    }

    /// `connect(2)`. A stream socket waits for the handshake to finish
    /// (POLLOUT), then reports its outcome (SO_ERROR).
    pub fn connect(&self, net: &mut impl Net, remote: SocketAddrV4) -> Result<()> {
        let now = net.now();
        match net.stack().connect(now, self.handle, remote) {
            Err(Errno::EINPROGRESS) if !self.nonblocking(net) => {
                let deadline = self.write_timeout.map(|t| now + t);
                match wait_ready(net, self.handle, PollFlags::POLLOUT, deadline) {
                    Err(SockError::Errno(Errno::EAGAIN)) => Err(Errno::EINPROGRESS.into()),
                    Err(e) => Err(e),
                    Ok(()) => match net.stack().take_error(self.handle) {
                        Some(e) => Err(e.into()),
                        None => Ok(()),
                    },
                }
            }
            r => Ok(r?),
        }
    }

    /// `accept(2)`: waits for a connection in the accept queue.
    pub fn accept(&self, net: &mut impl Net) -> Result<(BlockingSocket, SocketAddrV4)> {
        let dontwait = self.nonblocking(net);
        let deadline = self.deadline(net, self.read_timeout);
        loop {
            let now = net.now();
            match net.stack().accept(now, self.handle) {
                Ok((h, peer)) => return Ok((BlockingSocket::from_handle(h, self.ty), peer)),
                Err(Errno::EAGAIN) if !dontwait => wait_ready(net, self.handle, PollFlags::POLLIN, deadline)?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `send(2)`. See the module comment for what blocking means here.
    pub fn send(&self, net: &mut impl Net, buf: &[u8], flags: MsgFlags) -> Result<usize> {
        self.send_inner(net, buf, flags, None)
    }

    /// `sendto(2)`: a datagram to `to` (UDP never waits for buffer room here).
    pub fn sendto(&self, net: &mut impl Net, buf: &[u8], to: SocketAddrV4) -> Result<usize> {
        self.send_inner(net, buf, MsgFlags::NONE, Some(to))
    }

    fn send_inner(&self, net: &mut impl Net, buf: &[u8], flags: MsgFlags, to: Option<SocketAddrV4>) -> Result<usize> {
        let dontwait = flags.contains(MsgFlags::MSG_DONTWAIT) || self.nonblocking(net);
        let deadline = self.deadline(net, self.write_timeout);
        let mut sent = 0;
        loop {
            let now = net.now();
            let r = match to {
                Some(_) => net.stack().sendto(now, self.handle, &buf[sent..], to),
                None => net.stack().send(now, self.handle, &buf[sent..], flags),
            };
            match r {
                Ok(n) => {
                    sent += n;
                    // A datagram goes whole or not at all; a stream may take part.
                    if self.ty == SockType::Dgram || sent >= buf.len() || dontwait {
                        return Ok(sent);
                    }
                }
                Err(Errno::EAGAIN) if !dontwait => match wait_ready(net, self.handle, PollFlags::POLLOUT, deadline) {
                    Ok(()) => {}
                    Err(_) if sent > 0 => return Ok(sent),
                    Err(e) => return Err(e),
                },
                Err(_) if sent > 0 => return Ok(sent),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `recv(2)`. A stream returns what is there once something is
    /// (`Ok(0)`: the peer closed); `MSG_WAITALL` waits to fill `buf`.
    pub fn recv(&self, net: &mut impl Net, buf: &mut [u8], flags: MsgFlags) -> Result<usize> {
        let waitall =
            flags.contains(MsgFlags::MSG_WAITALL) && !flags.contains(MsgFlags::MSG_PEEK) && self.ty == SockType::Stream;
        // `recv(MSG_OOB)` never blocks (Linux `tcp_recv_urg`).
        let dontwait =
            flags.contains(MsgFlags::MSG_DONTWAIT) || flags.contains(MsgFlags::MSG_OOB) || self.nonblocking(net);
        let deadline = self.deadline(net, self.read_timeout);
        // Linux `tcp_recvmsg` copies until `target` bytes (`sock_rcvlowat`:
        // all with MSG_WAITALL, else min(SO_RCVLOWAT, len)); a peek returns
        // what is there.
        let target = match flags.contains(MsgFlags::MSG_PEEK) {
            true => 1,
            false => net.stack().sock_rcvlowat(self.handle, waitall, buf.len()),
        };
        let mut got = 0;
        loop {
            let now = net.now();
            match net.stack().recv(now, self.handle, &mut buf[got..], flags) {
                Ok(0) if self.ty == SockType::Stream => return Ok(got),
                Ok(n) => {
                    got += n;
                    if dontwait || got >= target || got >= buf.len() {
                        return Ok(got);
                    }
                }
                Err(Errno::EAGAIN) if !dontwait => match wait_ready(net, self.handle, PollFlags::POLLIN, deadline) {
                    Ok(()) => {}
                    Err(_) if got > 0 => return Ok(got),
                    Err(e) => return Err(e),
                },
                Err(_) if got > 0 => return Ok(got),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `recvfrom(2)`: waits for a datagram (or stream bytes) and says who sent it.
    pub fn recvfrom(&self, net: &mut impl Net, buf: &mut [u8], flags: MsgFlags) -> Result<(usize, SocketAddrV4)> {
        let dontwait = flags.contains(MsgFlags::MSG_DONTWAIT) || self.nonblocking(net);
        let deadline = self.deadline(net, self.read_timeout);
        loop {
            let now = net.now();
            match net.stack().recvfrom(now, self.handle, buf, flags) {
                Err(Errno::EAGAIN) if !dontwait => wait_ready(net, self.handle, PollFlags::POLLIN, deadline)?,
                r => return Ok(r?),
            }
        }
    }

    pub fn shutdown(&self, net: &mut impl Net, how: Shutdown) -> Result<()> {
        let now = net.now();
        Ok(net.stack().shutdown(now, self.handle, how)?)
    }

    /// `close(2)`. With SO_LINGER set to a time, it waits (running the
    /// network) until our FIN is acknowledged or the time runs out, then
    /// returns `Ok` either way, as Linux's `sk_stream_wait_close`; a signal
    /// ends the wait early, the close done all the same.
    pub fn close(self, net: &mut impl Net) -> Result<()> {
        let now = net.now();
        let Close::Lingering(l) = net.stack().close(now, self.handle)? else { return Ok(()) };
        loop {
            let now = net.now();
            if !net.stack().lingering(&l, now) {
                return Ok(());
            }
            match net.wait(Some(l.until)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn deadline(&self, net: &mut impl Net, timeout: Option<Duration>) -> Option<Instant> {
        timeout.map(|t| net.now() + t)
    }
}

/// The call just said `EAGAIN`: run the network until the socket reports
/// one of `events` (or an error or hang-up), or `deadline` passes (`EAGAIN`).
/// It always lets the network turn at least once: the socket was not ready.
pub fn wait_ready(net: &mut impl Net, h: SocketHandle, events: PollFlags, deadline: Option<Instant>) -> Result<()> {
    let wanted = events | PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
    loop {
        if deadline.is_some_and(|d| net.now() >= d) {
            return Err(Errno::EAGAIN.into());
        }
        match net.wait(deadline) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(Errno::EINTR.into()),
            Err(e) => return Err(e.into()),
        }
        if net.stack().poll_socket(h).intersects(wanted) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dgram::UnixDgram;
    use crate::sim::Sim;
    use crate::wire::{Faults, Side};
    use stack::{Config, MacAddr};

    fn a_cfg() -> Config {
        Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() }
    }
    const B_ECHO: &str = "10.0.0.2:7";

    /// B answers each datagram on port 7 after `delay` of virtual time,
    /// in `chunks` pieces.
    fn sim_with_delayed_echo(delay: Duration) -> Sim {
        let faults = Faults { latency: Duration::from_millis(1), ..Faults::default() };
        let mut sim = Sim::new(a_cfg(), Config::default(), faults);
        let b = sim.stack(Side::B);
        let h = b.socket(SockType::Dgram).unwrap();
        b.bind(h, "0.0.0.0:7".parse().unwrap()).unwrap();
        struct Echo {
            h: SocketHandle,
            queued: Vec<(Instant, Vec<u8>, SocketAddrV4)>,
            delay: Duration,
        }
        impl crate::Service for Echo {
            fn poll(&mut self, st: &mut Stack, now: Instant) {
                let mut buf = [0u8; 2048];
                while let Ok((n, from)) = st.recvfrom(now, self.h, &mut buf, MsgFlags::NONE) {
                    self.queued.push((now + self.delay, buf[..n].to_vec(), from));
                }
                let (due, later): (Vec<_>, Vec<_>) = self.queued.drain(..).partition(|q| q.0 <= now);
                self.queued = later;
                for (_, data, to) in due {
                    st.sendto(now, self.h, &data, Some(to)).unwrap();
                }
            }
            fn poll_at(&self) -> Option<Instant> {
                self.queued.iter().map(|q| q.0).min()
            }
        }
        sim.add_service(Side::B, Echo { h, queued: Vec::new(), delay });
        sim
    }

    /// B runs a TCP echo server on port 7 that answers in pieces of
    /// `piece` bytes, one piece per 10 ms of virtual time, and closes when
    /// the client does; the wire takes 1 ms.
    fn sim_with_tcp_echo(piece: usize) -> Sim {
        sim_with_tcp_echo_on(Duration::from_millis(1), piece, Duration::from_millis(10))
    }

    /// The same on a wire of `latency`, one piece per `beat`.
    fn sim_with_tcp_echo_on(latency: Duration, piece: usize, beat: Duration) -> Sim {
        let faults = Faults { latency, ..Faults::default() };
        let mut sim = Sim::new(a_cfg(), Config::default(), faults);
        let b = sim.stack(Side::B);
        let l = b.socket(SockType::Stream).unwrap();
        b.bind(l, "0.0.0.0:7".parse().unwrap()).unwrap();
        b.listen(l, 4).unwrap();
        struct TcpEcho {
            l: SocketHandle,
            conns: Vec<(SocketHandle, Vec<u8>, bool)>,
            piece: usize,
            beat: Duration,
            next: Instant,
        }
        impl crate::Service for TcpEcho {
            fn poll(&mut self, st: &mut Stack, now: Instant) {
                while let Ok((c, _)) = st.accept(now, self.l) {
                    self.conns.push((c, Vec::new(), false));
                }
                let mut buf = [0u8; 65536];
                for (c, pending, eof) in &mut self.conns {
                    loop {
                        match st.recv(now, *c, &mut buf, MsgFlags::NONE) {
                            Ok(0) => *eof = true,
                            Ok(n) => {
                                pending.extend_from_slice(&buf[..n]);
                                continue;
                            }
                            Err(_) => {}
                        }
                        break;
                    }
                    if now >= self.next && !pending.is_empty() {
                        let n = pending.len().min(self.piece);
                        if let Ok(sent) = st.send(now, *c, &pending[..n], MsgFlags::NONE) {
                            pending.drain(..sent);
                        }
                    }
                    if *eof && pending.is_empty() {
                        let _ = st.close(now, *c);
                    }
                }
                self.conns.retain(|(_, p, eof)| !(*eof && p.is_empty()));
                if now >= self.next {
                    self.next = now + self.beat;
                }
            }
            fn poll_at(&self) -> Option<Instant> {
                self.conns.iter().any(|c| !c.1.is_empty()).then_some(self.next)
            }
        }
        sim.add_service(Side::B, TcpEcho { l, conns: Vec::new(), piece, beat, next: Instant::ZERO });
        sim
    }

    #[test]
    fn tcp_partial_reads_waitall_and_eof() {
        let mut sim = sim_with_tcp_echo(1000);
        let mut net = sim.host(Side::A);
        let s = BlockingSocket::socket(&mut net, SockType::Stream).unwrap();
        s.connect(&mut net, B_ECHO.parse().unwrap()).expect("blocking connect completes the handshake");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        assert_eq!(s.send(&mut net, &data, MsgFlags::NONE).unwrap(), data.len());
        // A plain recv returns as soon as some bytes are there: one 1000-byte piece.
        let mut buf = vec![0u8; 10_000];
        let n = s.recv(&mut net, &mut buf, MsgFlags::NONE).unwrap();
        assert!(n > 0 && n <= 1000, "a partial read, got {n}");
        // MSG_WAITALL waits for the whole rest, piece after piece.
        let rest = s.recv(&mut net, &mut buf[n..], MsgFlags::MSG_WAITALL).unwrap();
        assert_eq!(n + rest, data.len());
        assert_eq!(buf, data);
        // Our FIN; the server closes; recv says end of stream.
        s.shutdown(&mut net, Shutdown::Write).unwrap();
        assert_eq!(s.recv(&mut net, &mut buf, MsgFlags::NONE).unwrap(), 0);
        s.close(&mut net).unwrap();
    }

    #[test]
    fn so_rcvlowat_makes_a_blocking_recv_wait_for_the_mark() {
        let mut sim = sim_with_tcp_echo(1000);
        let mut net = sim.host(Side::A);
        let s = BlockingSocket::socket(&mut net, SockType::Stream).unwrap();
        s.connect(&mut net, B_ECHO.parse().unwrap()).unwrap();
        let lowat = SockOpt::RcvLowat(3000);
        let now = net.now();
        net.stack().setsockopt(now, s.handle(), lowat).unwrap();
        let data = vec![5u8; 10_000];
        assert_eq!(s.send(&mut net, &data, MsgFlags::NONE).unwrap(), data.len());
        // The echo comes 1000 bytes per 10 ms: without the mark the first
        // recv would return 1000 (tcp_partial_reads_waitall_and_eof).
        let mut buf = vec![0u8; 10_000];
        let n = s.recv(&mut net, &mut buf, MsgFlags::NONE).unwrap();
        assert!(n >= 3000, "waits for 3000 bytes, got {n}");
        // A buffer smaller than the mark waits only for itself.
        let n = s.recv(&mut net, &mut buf[..500], MsgFlags::NONE).unwrap();
        assert_eq!(n, 500);
    }

    #[test]
    fn so_linger_close_waits_for_the_ack_of_our_fin() {
        let mut sim = sim_with_tcp_echo_on(Duration::from_millis(50), 1000, Duration::from_millis(10));
        let mut net = sim.host(Side::A);
        let s = BlockingSocket::socket(&mut net, SockType::Stream).unwrap();
        s.connect(&mut net, B_ECHO.parse().unwrap()).unwrap();
        let now = net.now();
        let h = s.handle();
        net.stack().setsockopt(now, h, SockOpt::Linger(stack::Linger { onoff: true, secs: 5 })).unwrap();
        let start = net.now();
        s.close(&mut net).unwrap();
        // Our FIN out, its ACK back: one round trip of 2 x 50 ms.
        let waited = net.now() - start;
        assert!(waited >= Duration::from_millis(100) && waited < Duration::from_secs(1), "{waited:?}");
    }

    /// The instants at which, driven by `run_until` (which looks after every
    /// round), A's connect to the echo server completes and the echo of 1000
    /// bytes sent right then becomes readable.
    fn connect_and_echo_instants(mut sim: Sim) -> (Instant, Instant) {
        let now = sim.now();
        let a = sim.stack(Side::A);
        let s = a.socket(SockType::Stream).unwrap();
        assert_eq!(a.connect(now, s, B_ECHO.parse().unwrap()), Err(Errno::EINPROGRESS));
        let ready = |ev: PollFlags| move |sim: &mut Sim| sim.stack(Side::A).poll_socket(s).intersects(ev);
        let connected = sim.run_until(ready(PollFlags::POLLOUT), Duration::from_secs(60)).unwrap();
        let now = sim.now();
        assert_eq!(sim.stack(Side::A).send(now, s, &[7u8; 1000], MsgFlags::NONE), Ok(1000));
        let readable = sim.run_until(ready(PollFlags::POLLIN), Duration::from_secs(60)).unwrap();
        (connected, readable)
    }

    /// The same connect, send and recv as blocking calls: the instants at
    /// which the connect and the recv return.
    fn blocking_connect_and_echo(mut sim: Sim) -> (Instant, Instant) {
        let mut net = sim.host(Side::A);
        let s = BlockingSocket::socket(&mut net, SockType::Stream).unwrap();
        s.connect(&mut net, B_ECHO.parse().unwrap()).unwrap();
        let connected = net.now();
        assert_eq!(s.send(&mut net, &[7u8; 1000], MsgFlags::NONE).unwrap(), 1000);
        let mut buf = [0u8; 1000];
        assert!(s.recv(&mut net, &mut buf, MsgFlags::NONE).unwrap() > 0);
        (connected, net.now())
    }

    #[test]
    fn blocking_calls_return_when_their_condition_becomes_true() {
        // On a 1 ms wire: B's gratuitous ARP resolves B for A at 1 ms, so the
        // SYN leaves then and the SYN-ACK is back at 3 ms; the data reaches B
        // at 4 ms, B's echo answers on its 10 ms beat, and is back at 11 ms.
        let slow = || sim_with_tcp_echo(1000);
        assert_eq!(connect_and_echo_instants(slow()), (Instant::from_millis(3), Instant::from_millis(11)));
        assert_eq!(blocking_connect_and_echo(slow()), (Instant::from_millis(3), Instant::from_millis(11)));
        // On a wire without latency, to an echo that answers at once, all of
        // it happens at t=0, in the very turn of the network the blocking
        // call waits on. The call returns then, not at the next unrelated
        // deadline (an ARP entry going stale at 30 s, a delayed ACK).
        let instant = || sim_with_tcp_echo_on(Duration::ZERO, 1000, Duration::ZERO);
        assert_eq!(connect_and_echo_instants(instant()), (Instant::ZERO, Instant::ZERO));
        assert_eq!(blocking_connect_and_echo(instant()), (Instant::ZERO, Instant::ZERO));
    }

    #[test]
    fn tcp_connect_refused_and_nonblocking_connect() {
        let mut sim = sim_with_tcp_echo(1000);
        let mut net = sim.host(Side::A);
        let s = BlockingSocket::socket(&mut net, SockType::Stream).unwrap();
        let e = s.connect(&mut net, "10.0.0.2:9".parse().unwrap()).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::ECONNREFUSED));
        let s = BlockingSocket::socket(&mut net, SockType::Stream).unwrap();
        s.set_nonblocking(&mut net, true).unwrap();
        let e = s.connect(&mut net, B_ECHO.parse().unwrap()).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::EINPROGRESS));
        let mut buf = [0u8; 8];
        assert_eq!(s.recv(&mut net, &mut buf, MsgFlags::NONE).unwrap_err().errno(), Some(Errno::EAGAIN));
        wait_ready(&mut net, s.handle(), PollFlags::POLLOUT, None).unwrap();
        assert!(net.stack().take_error(s.handle()).is_none(), "connected");
    }

    #[test]
    fn recvfrom_blocks_until_the_datagram_arrives() {
        let mut sim = sim_with_delayed_echo(Duration::from_secs(3));
        let mut net = sim.host(Side::A);
        let s = BlockingSocket::socket(&mut net, SockType::Dgram).unwrap();
        s.sendto(&mut net, b"are you there?", B_ECHO.parse().unwrap()).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = s.recvfrom(&mut net, &mut buf, MsgFlags::NONE).unwrap();
        assert_eq!(&buf[..n], b"are you there?");
        assert_eq!(from, B_ECHO.parse().unwrap());
        // ARP there and back, the datagram there, 3 s in B, the answer back.
        let t = net.now();
        assert!(t >= Instant::from_secs(3) && t < Instant::from_millis(3010), "{t}");
    }

    #[test]
    fn timeouts_dontwait_and_nonblocking_say_eagain() {
        let mut sim = sim_with_delayed_echo(Duration::from_secs(3));
        let mut net = sim.host(Side::A);
        let mut s = BlockingSocket::socket(&mut net, SockType::Dgram).unwrap();
        s.sendto(&mut net, b"slow", B_ECHO.parse().unwrap()).unwrap();
        let mut buf = [0u8; 64];

        // MSG_DONTWAIT: no waiting at all.
        let t0 = net.now();
        assert!(s.recvfrom(&mut net, &mut buf, MsgFlags::MSG_DONTWAIT).unwrap_err() == Errno::EAGAIN);
        assert_eq!(net.now(), t0);

        // O_NONBLOCK likewise.
        s.set_nonblocking(&mut net, true).unwrap();
        assert!(s.recv(&mut net, &mut buf, MsgFlags::NONE).unwrap_err() == Errno::EAGAIN);
        assert_eq!(net.now(), t0);
        s.set_nonblocking(&mut net, false).unwrap();

        // SO_RCVTIMEO of 1 s: EAGAIN after exactly 1 s of virtual time.
        s.set_read_timeout(Some(Duration::from_secs(1)));
        assert!(s.recvfrom(&mut net, &mut buf, MsgFlags::NONE).unwrap_err() == Errno::EAGAIN);
        assert_eq!(net.now(), t0 + Duration::from_secs(1));

        // Longer: the echo arrives.
        s.set_read_timeout(Some(Duration::from_secs(10)));
        let n = s.recv(&mut net, &mut buf, MsgFlags::NONE).unwrap();
        assert_eq!(&buf[..n], b"slow");
    }

    #[test]
    fn waitall_is_for_streams_a_datagram_comes_whole() {
        let mut sim = sim_with_delayed_echo(Duration::from_millis(10));
        let mut net = sim.host(Side::A);
        let s = BlockingSocket::socket(&mut net, SockType::Dgram).unwrap();
        s.sendto(&mut net, b"abc", B_ECHO.parse().unwrap()).unwrap();
        s.sendto(&mut net, b"defg", B_ECHO.parse().unwrap()).unwrap();
        let mut buf = [0u8; 64];
        // Linux ignores MSG_WAITALL on datagram sockets: one datagram per call.
        assert_eq!(s.recv(&mut net, &mut buf, MsgFlags::MSG_WAITALL).unwrap(), 3);
        // MSG_PEEK leaves it queued; a short buffer truncates.
        let mut two = [0u8; 2];
        assert_eq!(s.recv(&mut net, &mut two, MsgFlags::MSG_PEEK).unwrap(), 2);
        assert_eq!(&two, b"de");
        assert_eq!(s.recv(&mut net, &mut buf, MsgFlags::NONE).unwrap(), 4);
        assert_eq!(&buf[..4], b"defg");
    }

    #[test]
    fn errors_come_through() {
        let mut sim = Sim::new(a_cfg(), Config::default(), Faults::default());
        let mut net = sim.host(Side::A);
        // No one on B's port 9: ICMP port unreachable, reported on the
        // connected socket's next call.
        let s = BlockingSocket::socket(&mut net, SockType::Dgram).unwrap();
        s.connect(&mut net, "10.0.0.2:9".parse().unwrap()).unwrap();
        s.send(&mut net, b"anyone?", MsgFlags::NONE).unwrap();
        let mut buf = [0u8; 16];
        let e = s.recv(&mut net, &mut buf, MsgFlags::NONE).unwrap_err();
        assert!(e == Errno::ECONNREFUSED, "{e}");
    }

    /// A signal while a call sleeps in the real loop ends it with EINTR.
    #[test]
    fn a_signal_interrupts_a_blocking_call() {
        extern "C" fn ignore(_: libc::c_int) {}
        // SAFETY: a handler that does nothing, for SIGUSR2, without
        // SA_RESTART; sigaction is zeroed then filled as C expects.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ignore as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut()), 0);
        }
        let (dev, _peer) = UnixDgram::pair().unwrap();
        let mut net = NetLoop::new(dev, a_cfg());
        let mut s = BlockingSocket::socket(&mut net, SockType::Dgram).unwrap();
        s.bind(&mut net, "0.0.0.0:5000".parse().unwrap()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5)));
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done2 = done.clone();
        // Signal every 50 ms until the call returns: one that lands outside
        // ppoll (the thread was not asleep yet) is simply followed by another.
        let t = std::thread::spawn(move || {
            while !done2.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(50));
                // SAFETY: the test thread is alive until it joins us.
                unsafe { libc::pthread_kill(me, libc::SIGUSR2) };
            }
        });
        let start = std::time::Instant::now();
        let mut buf = [0u8; 16];
        let r = s.recvfrom(&mut net, &mut buf, MsgFlags::NONE);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        t.join().unwrap();
        let e = r.unwrap_err();
        assert!(e == Errno::EINTR, "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(4));
    }

    /// The same calls over the real-time loop: B's stack runs in a thread
    /// on the other end of a datagram-socket cable, echoing.
    #[test]
    fn over_the_real_poll_loop() {
        let (dev_a, dev_b) = UnixDgram::pair().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let b = std::thread::spawn(move || {
            let mut net = NetLoop::new(dev_b, Config::default());
            let h = net.stack.socket(SockType::Dgram).unwrap();
            net.stack.bind(h, "0.0.0.0:7".parse().unwrap()).unwrap();
            let give_up = net.now() + Duration::from_secs(10);
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) && net.now() < give_up {
                let wake = net.now() + Duration::from_millis(20);
                net.poll_once(&[], Some(wake)).unwrap();
                let now = net.now();
                let mut buf = [0u8; 1500];
                while let Ok((n, from)) = net.stack.recvfrom(now, h, &mut buf, MsgFlags::NONE) {
                    net.stack.sendto(now, h, &buf[..n], Some(from)).unwrap();
                }
            }
        });
        let mut net = NetLoop::new(dev_a, a_cfg());
        let mut s = BlockingSocket::socket(&mut net, SockType::Dgram).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5)));
        s.sendto(&mut net, b"hello over the loop", B_ECHO.parse().unwrap()).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = s.recvfrom(&mut net, &mut buf, MsgFlags::NONE).unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        b.join().unwrap();
        assert_eq!(&buf[..n], b"hello over the loop");
        assert_eq!(from, B_ECHO.parse().unwrap());
    }
}
