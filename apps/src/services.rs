//! The classic small services, written as a student would write them on a
//! real kernel: non-blocking sockets, `accept` until `EAGAIN`, `recv` until
//! `EAGAIN`, `send` what fits and keep the rest.
//!
//! Read first: RFC 862 (echo), RFC 863 (discard), RFC 864 (character
//! generator). Each service is bounded: a connection holds at most one read
//! buffer of unsent data (echo stops reading until it has written it back:
//! backpressure), and at most `max_conns` connections are served at once.

use stack::{Errno, Instant, MsgFlags, PollFlags, SockType, SocketHandle, Stack};
use std::net::{Ipv4Addr, SocketAddrV4};

pub const ECHO_PORT: u16 = 7;
pub const DISCARD_PORT: u16 = 9;
pub const CHARGEN_PORT: u16 = 19;

/// Bytes read from a connection at a time.
const CHUNK: usize = 64 * 1024;

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Kind {
    Echo,
    Discard,
    Chargen,
}

/// One connection of a TCP service (also served by the reactor, reactor.rs).
pub(crate) struct Conn {
    sock: SocketHandle,
    kind: Kind,
    /// Bytes waiting to be sent (echo: data read; chargen: the next lines).
    pending: Vec<u8>,
    sent: usize,
    /// Chargen: where the rotating pattern starts on the next line.
    line: usize,
    /// The peer sent FIN (recv returned 0).
    eof: bool,
}

impl Conn {
    pub(crate) fn new(sock: SocketHandle, kind: Kind) -> Conn {
        Conn { sock, kind, pending: Vec::new(), sent: 0, line: 0, eof: false }
    }
    pub(crate) fn sock(&self) -> SocketHandle {
        self.sock
    }
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }
    /// Bytes read (echo) or made (chargen) and not yet sent.
    pub(crate) fn unsent(&self) -> usize {
        self.pending.len() - self.sent
    }
}

/// Which services to run; the ports are the well-known ones.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    pub udp_echo: bool,
    pub tcp_echo: bool,
    pub discard: bool,
    pub chargen: bool,
    pub backlog: usize,
    pub max_conns: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig { udp_echo: true, tcp_echo: true, discard: true, chargen: true, backlog: 128, max_conns: 1024 }
    }
}

pub struct Services {
    udp_echo: Option<SocketHandle>,
    listeners: Vec<(SocketHandle, Kind)>,
    conns: Vec<Conn>,
    max_conns: usize,
    buf: Vec<u8>,
}

impl Services {
    /// Open the sockets. A service that cannot start (its port
    /// taken) is reported in the returned list of errors and skipped.
    pub fn start(stack: &mut Stack, now: Instant, cfg: &ServiceConfig) -> (Services, Vec<String>) {
        let mut errors = Vec::new();
        let mut s = Services {
            udp_echo: None,
            listeners: Vec::new(),
            conns: Vec::new(),
            max_conns: cfg.max_conns,
            buf: vec![0; CHUNK],
        };
        if cfg.udp_echo {
            match udp_bind(stack, ECHO_PORT) {
                Ok(h) => s.udp_echo = Some(h),
                Err(e) => errors.push(format!("udp echo on port {ECHO_PORT}: {e}")),
            }
        }
        for (on, port, kind) in [
            (cfg.tcp_echo, ECHO_PORT, Kind::Echo),
            (cfg.discard, DISCARD_PORT, Kind::Discard),
            (cfg.chargen, CHARGEN_PORT, Kind::Chargen),
        ] {
            if !on {
                continue;
            }
            match tcp_listen(stack, now, port, cfg.backlog) {
                Ok(h) => s.listeners.push((h, kind)),
                Err(e) => errors.push(format!("tcp {kind:?} on port {port}: {e}")),
            }
        }
        (s, errors)
    }

    /// Connections being served.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Do all the work that can be done without blocking. Returns whether
    /// anything happened (so a caller can loop until quiet).
    pub fn poll(&mut self, stack: &mut Stack, now: Instant) -> bool {
        let mut busy = false;
        if let Some(h) = self.udp_echo {
            // RFC 862: send back each datagram as it came.
            while let Ok((n, from)) = stack.recvfrom(now, h, &mut self.buf, MsgFlags::NONE) {
                let _ = stack.sendto(now, h, &self.buf[..n], Some(from));
                busy = true;
            }
        }
        for &(l, kind) in &self.listeners {
            while self.conns.len() < self.max_conns {
                match stack.accept(now, l) {
                    Ok((sock, _peer)) => {
                        let _ = stack.setsockopt(now, sock, stack::SockOpt::NonBlocking(true));
                        self.conns.push(Conn::new(sock, kind));
                        busy = true;
                    }
                    Err(_) => break,
                }
            }
        }
        let buf = &mut self.buf;
        self.conns.retain_mut(|c| match serve(stack, now, c, buf) {
            Ok(did) => {
                busy |= did;
                true
            }
            Err(_) => {
                let _ = stack.close(now, c.sock);
                busy = true;
                false
            }
        });
        busy
    }

    /// Close everything (at shutdown).
    pub fn close(self, stack: &mut Stack, now: Instant) {
        for c in self.conns {
            let _ = stack.close(now, c.sock);
        }
        for (l, _) in self.listeners {
            let _ = stack.close(now, l);
        }
        if let Some(h) = self.udp_echo {
            let _ = stack.close(now, h);
        }
    }
}

/// Serve one connection as far as it goes without blocking. `Err` means the
/// connection is finished (closed cleanly or failed) and should be closed.
pub(crate) fn serve(stack: &mut Stack, now: Instant, c: &mut Conn, buf: &mut [u8]) -> Result<bool, Errno> {
    let mut did = false;
    loop {
        // First write what is pending.
        while c.sent < c.pending.len() {
            match stack.send(now, c.sock, &c.pending[c.sent..], MsgFlags::NONE) {
                Ok(n) => {
                    c.sent += n;
                    did = true;
                }
                Err(Errno::EAGAIN) => return Ok(did),
                Err(e) => return Err(e),
            }
        }
        // All sent: give the memory back (an idle connection holds no buffer).
        c.pending = Vec::new();
        c.sent = 0;
        if c.eof {
            // Everything echoed; close our side too.
            return Err(Errno::ESHUTDOWN);
        }
        match c.kind {
            Kind::Chargen => {
                // Drain (and ignore) input; stop at the peer's FIN.
                match stack.recv(now, c.sock, buf, MsgFlags::NONE) {
                    Ok(0) => return Err(Errno::ESHUTDOWN),
                    Ok(_) | Err(Errno::EAGAIN) => {}
                    Err(e) => return Err(e),
                }
                if !stack.poll_socket(c.sock).contains(PollFlags::POLLOUT) {
                    return Ok(did);
                }
                for _ in 0..64 {
                    chargen_line(c.line, &mut c.pending);
                    c.line = (c.line + 1) % 95;
                }
            }
            Kind::Echo | Kind::Discard => match stack.recv(now, c.sock, buf, MsgFlags::NONE) {
                Ok(0) => {
                    c.eof = true;
                    did = true;
                }
                Ok(n) => {
                    did = true;
                    if c.kind == Kind::Echo {
                        c.pending.extend_from_slice(&buf[..n]);
                    }
                }
                Err(Errno::EAGAIN) => return Ok(did),
                Err(e) => return Err(e),
            },
        }
    }
}

/// RFC 864's pattern: 72 printable characters starting one further along
/// each line, then CR LF.
pub fn chargen_line(start: usize, out: &mut Vec<u8>) {
    out.extend((0..72).map(|i| b' ' + ((start + i) % 95) as u8));
    out.extend_from_slice(b"\r\n");
}

fn udp_bind(stack: &mut Stack, port: u16) -> Result<SocketHandle, Errno> {
    let h = stack.socket(SockType::Dgram)?;
    stack.bind(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
    Ok(h)
}

/// `socket`, `SO_REUSEADDR`, `bind`, `listen`, non-blocking: the usual server preamble.
pub fn tcp_listen(stack: &mut Stack, now: Instant, port: u16, backlog: usize) -> Result<SocketHandle, Errno> {
    let h = stack.socket(SockType::Stream)?;
    let r = (|| {
        stack.setsockopt(now, h, stack::SockOpt::ReuseAddr(true))?;
        stack.setsockopt(now, h, stack::SockOpt::NonBlocking(true))?;
        stack.bind(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
        stack.listen(h, backlog)
    })();
    match r {
        Ok(()) => Ok(h),
        Err(e) => {
            let _ = stack.close(now, h);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::{Config, SkBuff};

    #[test]
    fn chargen_pattern() {
        let mut v = Vec::new();
        chargen_line(0, &mut v);
        chargen_line(1, &mut v);
        assert_eq!(&v[..3], b" !\"");
        assert_eq!(&v[72..74], b"\r\n");
        assert_eq!(&v[74..77], b"!\"#");
        assert_eq!(v.len(), 148);
    }

    #[test]
    fn udp_echo_answers() {
        let mut s = Stack::new(Config::default(), Instant::ZERO);
        while s.poll_transmit(Instant::ZERO).is_some() {}
        let (mut svc, _errors) = Services::start(&mut s, Instant::ZERO, &ServiceConfig::default());
        // Teach the stack the host's MAC, then send it a datagram for port 7.
        let mut other = Stack::new(
            Config { addr: [10, 0, 0, 1].into(), mac: stack::MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() },
            Instant::ZERO,
        );
        let t = Instant::from_millis(1);
        let h = other.socket(SockType::Dgram).unwrap();
        other.sendto(t, h, b"ping?", Some("10.0.0.2:7".parse().unwrap())).unwrap();
        // Shuttle frames both ways until quiet.
        for _ in 0..10 {
            while let Some(f) = other.poll_transmit(t) {
                s.handle_frame(t, SkBuff::from_frame(f.data()));
            }
            svc.poll(&mut s, t);
            while let Some(f) = s.poll_transmit(t) {
                other.handle_frame(t, SkBuff::from_frame(f.data()));
            }
        }
        let mut buf = [0u8; 16];
        let (n, from) = other.recvfrom(t, h, &mut buf, MsgFlags::NONE).unwrap();
        assert_eq!(&buf[..n], b"ping?");
        assert_eq!(from, "10.0.0.2:7".parse().unwrap());
    }
}
