//! `TcpListener` and `TcpStream`, as `std::net` has them, on the stack
//! thread (mod.rs).
//!
//! Read first: `std::net::{TcpListener, TcpStream}`, and Linux's
//! `inet_listen`, `inet_csk_accept`, `tcp_v4_connect`, `tcp_recvmsg`,
//! `tcp_sendmsg`, `tcp_close`. What a call does on the stack is the
//! stack's own function (`Stack::accept`, `send`, `recv`…); what it does
//! when the stack says `EAGAIN` is mod.rs's: wait (blocking, with
//! `set_read_timeout`/`set_write_timeout`) or `WouldBlock`
//! (`set_nonblocking`). `read` returns what is there (a partial read),
//! `write` what the send buffer took (a partial write, as `write(2)` on a
//! non-blocking socket; `write_all` loops). Dropping the last handle on a
//! socket closes it: FIN, or RST if unread data was left (`tcp_close`).

use super::{check_timeout, v4, Net, Opts, Wait};
use stack::{Errno, MsgFlags, PollFlags, Shutdown as StackShutdown, SockOpt, SockType, SocketHandle};
use std::io::{self, ErrorKind};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What makes a `recv` worth trying: data or FIN (POLLIN), an error, a
/// hang-up, a bad handle (the same set `socket::wait_ready` waits for).
pub(crate) const READABLE: PollFlags =
    PollFlags(PollFlags::POLLIN.0 | PollFlags::POLLERR.0 | PollFlags::POLLHUP.0 | PollFlags::POLLNVAL.0);

/// One stack socket and its program-side options, shared by `try_clone`s;
/// the last one dropped closes the socket.
struct Sock {
    net: Net,
    h: SocketHandle,
    opts: Mutex<Opts>,
}

impl Sock {
    fn new(net: Net, h: SocketHandle) -> Arc<Sock> {
        Arc::new(Sock { net, h, opts: Mutex::new(Opts::default()) })
    }
    fn opts(&self) -> MutexGuard<'_, Opts> {
        self.opts.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn now_call<T: Send + 'static>(
        &self,
        f: impl FnMut(&mut stack::Stack, stack::Instant) -> Result<T, Errno> + Send + 'static,
    ) -> io::Result<T> {
        self.net.call(Wait::Never, ErrorKind::WouldBlock, f)
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        let h = self.h;
        self.now_call(move |s, _| s.getsockname(h)).map(SocketAddr::V4)
    }
    /// `fcntl(O_NONBLOCK)`: kept here and in the stack (`SockOpt::NonBlocking`).
    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.opts().nonblocking = on;
        let h = self.h;
        self.now_call(move |s, now| s.setsockopt(now, h, SockOpt::NonBlocking(on)))
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        self.net.close_on_drop(self.h);
    }
}

/// `socket(AF_INET, SOCK_STREAM)` made on the stack thread.
fn stream_socket(net: &Net) -> io::Result<Arc<Sock>> {
    let h = net.call(Wait::Never, ErrorKind::WouldBlock, |s, _| s.socket(SockType::Stream))?;
    Ok(Sock::new(net.clone(), h))
}

/// A listening socket: `bind` + `listen`, then `accept`.
pub struct TcpListener {
    sock: Arc<Sock>,
}

impl TcpListener {
    /// `socket`, `bind`, `listen(LISTEN_BACKLOG)`, as `std`'s `bind` does.
    /// Port 0 picks an ephemeral port (`local_addr` says which).
    pub fn bind(net: &Net, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let addr = v4(addr)?;
        let sock = stream_socket(net)?;
        let h = sock.h;
        sock.now_call(move |s, _| {
            s.bind(h, addr)?;
            s.listen(h, super::LISTEN_BACKLOG)
        })?;
        Ok(TcpListener { sock })
    }

    /// `accept(2)`: the next connection from the accept queue, waiting for
    /// one unless non-blocking.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let h = self.sock.h;
        let wait = self.sock.opts().read_wait();
        let (c, peer) = self.sock.net.call(wait, ErrorKind::WouldBlock, move |s, now| s.accept(now, h))?;
        Ok((TcpStream { sock: Sock::new(self.sock.net.clone(), c) }, SocketAddr::V4(peer)))
    }

    /// Connections as they come: `accept` in a loop, never ending.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Non-blocking `accept`: `WouldBlock` when the accept queue is empty.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.sock.set_nonblocking(on)
    }

    /// Another handle on the same listening socket.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener { sock: self.sock.clone() })
    }
}

/// `TcpListener::incoming`'s iterator.
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection.
pub struct TcpStream {
    sock: Arc<Sock>,
}

impl TcpStream {
    /// `connect(2)`, blocking until the handshake ends (each address of
    /// `addr` in turn, as `std` does).
    pub fn connect(net: &Net, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        TcpStream::connect_inner(net, v4(addr)?, None)
    }

    /// `connect` that gives up after `timeout` (`TimedOut`).
    pub fn connect_timeout(net: &Net, addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        check_timeout(Some(timeout))?;
        TcpStream::connect_inner(net, v4(addr)?, Some(timeout))
    }

    fn connect_inner(net: &Net, addr: SocketAddrV4, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let sock = stream_socket(net)?;
        let h = sock.h;
        let mut started = false;
        // First attempt: tcp_v4_connect (SYN out, EINPROGRESS); then wait
        // for POLLOUT (established) or an error, and report SO_ERROR.
        net.call(Wait::For(timeout), ErrorKind::TimedOut, move |s, now| {
            if !started {
                started = true;
                match s.connect(now, h, addr) {
                    Err(Errno::EINPROGRESS) => return Err(Errno::EAGAIN),
                    r => return r,
                }
            }
            let ready = s.poll_socket(h);
            if !ready.intersects(PollFlags::POLLOUT | PollFlags::POLLERR | PollFlags::POLLHUP) {
                return Err(Errno::EAGAIN);
            }
            match s.take_error(h) {
                Some(e) => Err(e),
                None if ready.contains(PollFlags::POLLOUT) => Ok(()),
                None => Err(Errno::ECONNREFUSED),
            }
        })?;
        Ok(TcpStream { sock })
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let h = self.sock.h;
        self.sock.now_call(move |s, _| s.getpeername(h)).map(SocketAddr::V4)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// `shutdown(2)`: `Write` sends FIN, `Read` discards what comes.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let how = match how {
            Shutdown::Read => StackShutdown::Read,
            Shutdown::Write => StackShutdown::Write,
            Shutdown::Both => StackShutdown::Both,
        };
        let h = self.sock.h;
        self.sock.now_call(move |s, now| s.shutdown(now, h, how))
    }

    /// `SO_RCVTIMEO`: a `read` that waits longer ends with `WouldBlock`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        self.sock.opts().read_timeout = t;
        Ok(())
    }

    /// `SO_SNDTIMEO`: a `write` that waits longer ends with `WouldBlock`.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        check_timeout(t)?;
        self.sock.opts().write_timeout = t;
        Ok(())
    }

    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.sock.opts().read_timeout)
    }

    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.sock.opts().write_timeout)
    }

    /// `TCP_NODELAY`: no Nagle (send small segments at once).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        let h = self.sock.h;
        self.sock.now_call(move |s, now| s.setsockopt(now, h, SockOpt::NoDelay(on)))
    }

    /// `O_NONBLOCK`: `read`, `write` give `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.sock.set_nonblocking(on)
    }

    /// Another handle on the same connection (like `dup(2)`: the connection
    /// closes when the last handle is dropped). One thread may read while
    /// another writes.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream { sock: self.sock.clone() })
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let h = self.sock.h;
        let cap = buf.len();
        let wait = self.sock.opts().read_wait();
        let mut first = true;
        let data = self.sock.net.call(wait, ErrorKind::WouldBlock, move |s, now| {
            // A retry while not readable (no data, no FIN, no error): no
            // buffer to make. The first try always asks the stack itself.
            if !std::mem::take(&mut first) && !s.poll_socket(h).intersects(READABLE) {
                return Err(Errno::EAGAIN);
            }
            let mut tmp = vec![0u8; cap];
            let n = s.recv(now, h, &mut tmp, MsgFlags::NONE)?;
            tmp.truncate(n);
            Ok(tmp)
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let h = self.sock.h;
        let data = buf.to_vec();
        let wait = self.sock.opts().write_wait();
        self.sock.net.call(wait, ErrorKind::WouldBlock, move |s, now| s.send(now, h, &data, MsgFlags::NONE))
    }
}

impl io::Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf)
    }
}

impl io::Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf)
    }
    /// Nothing to flush: what `write` took is the stack's to send.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf)
    }
}

impl io::Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream").field("handle", &self.sock.h).finish()
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener").field("handle", &self.sock.h).finish()
    }
}

impl super::Source for TcpStream {
    fn socket_handle(&self) -> SocketHandle {
        self.sock.h
    }
}

impl super::Source for TcpListener {
    fn socket_handle(&self) -> SocketHandle {
        self.sock.h
    }
}
