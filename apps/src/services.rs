//! The classic small services, written as a student would write them on a
//! real kernel: non-blocking sockets, `recv` until `EAGAIN`, `send` what
//! fits and keep the rest. This file says what a connection gets
//! (`services.rs::serve`); the reactor (reactor.rs) says when, accepts the
//! connections and answers UDP echo.
//!
//! Read first: RFC 862 (echo), RFC 863 (discard), RFC 864 (character
//! generator). Each service is bounded: a connection holds at most one read
//! buffer of unsent data (echo stops reading until it has written it back:
//! backpressure), and at most `ServiceConfig::max_conns` connections are
//! served at once.

use stack::{Errno, Instant, MsgFlags, SockType, SocketHandle, Stack};
use std::net::{Ipv4Addr, SocketAddrV4};

pub const ECHO_PORT: u16 = 7;
pub const DISCARD_PORT: u16 = 9;
pub const CHARGEN_PORT: u16 = 19;

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Kind {
    Echo,
    Discard,
    Chargen,
}

/// One connection of a TCP service (served by the reactor, reactor.rs, `ConnHandler`).
pub(crate) struct Conn {
    sock: SocketHandle,
    kind: Kind,
    /// Bytes waiting to be sent (echo: data read; chargen: the next lines).
    pending: Vec<u8>,
    sent: usize,
    /// Chargen: the next byte's offset in the pattern's 95-line period.
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

/// Serve one connection as far as it goes without blocking. `Err` means the
/// connection is finished (closed cleanly or failed) and should be closed.
pub(crate) fn serve(stack: &mut Stack, now: Instant, c: &mut Conn, buf: &mut [u8]) -> Result<bool, Errno> {
    let mut did = false;
    loop {
        // First write what is pending.
        did |= send_pending(stack, now, c.sock, &c.pending, &mut c.sent)?;
        if c.sent < c.pending.len() {
            return Ok(did); // EAGAIN: the send buffer is full
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
                // Send straight from the pattern made once
                // (`rfc864_pattern`): no per-byte work, no buffer of our
                // own; `line` is where in the pattern's period the next
                // byte is (the line, and since a send may stop mid-line,
                // the byte in it).
                let pattern = rfc864_pattern();
                let period = 95 * LINE;
                loop {
                    let off = c.line;
                    match stack.send(now, c.sock, &pattern[off..off + CHARGEN_BATCH * LINE], MsgFlags::NONE) {
                        Ok(n) => {
                            c.line = (off + n) % period;
                            did = true;
                        }
                        Err(Errno::EAGAIN) => return Ok(did),
                        Err(e) => return Err(e),
                    }
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

/// `send` `buf[*sent..]` until it has all gone or the send buffer is full
/// (`EAGAIN`), counting in `sent`; whether anything went.
pub(crate) fn send_pending(
    stack: &mut Stack,
    now: Instant,
    sock: SocketHandle,
    buf: &[u8],
    sent: &mut usize,
) -> Result<bool, Errno> {
    let mut did = false;
    while *sent < buf.len() {
        match stack.send(now, sock, &buf[*sent..], MsgFlags::NONE) {
            Ok(n) => {
                *sent += n;
                did = true;
            }
            Err(Errno::EAGAIN) => return Ok(did),
            Err(e) => return Err(e),
        }
    }
    Ok(did)
}

/// RFC 864's pattern: 72 printable characters starting one further along
/// each line, then CR LF.
pub fn chargen_line(start: usize, out: &mut Vec<u8>) {
    out.extend((0..72).map(|i| b' ' + ((start + i) % 95) as u8));
    out.extend_from_slice(b"\r\n");
}

/// One line of RFC 864's pattern, CR LF included.
const LINE: usize = 74;
/// Lines chargen makes at a time.
const CHARGEN_BATCH: usize = 64;

/// The whole RFC 864 pattern, made once: its 95 lines (the pattern
/// repeats after 95), followed by the first `CHARGEN_BATCH` of them again,
/// so that any `CHARGEN_BATCH` lines from any starting line are one slice.
/// Making the pattern byte by byte for every line cost synack's thread half
/// its time when it sent to the host (the issue's `perf` profile); copying
/// a slice costs what a `memcpy` does.
fn rfc864_pattern() -> &'static [u8] {
    static PATTERN: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut v = Vec::with_capacity((95 + CHARGEN_BATCH) * LINE);
        for line in 0..95 + CHARGEN_BATCH {
            chargen_line(line % 95, &mut v);
        }
        v
    })
}

/// `socket`, `bind` to the port on every address: a UDP server's preamble.
pub fn udp_bind(stack: &mut Stack, port: u16) -> Result<SocketHandle, Errno> {
    let h = stack.socket(SockType::Dgram)?;
    if let Err(e) = stack.bind(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)) {
        let _ = stack.close(Instant::ZERO, h);
        return Err(e);
    }
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
    fn the_precomputed_pattern_is_the_line_by_line_one() {
        let p = rfc864_pattern();
        for start in [0, 1, 30, 94] {
            let mut v = Vec::new();
            for l in start..start + CHARGEN_BATCH {
                chargen_line(l % 95, &mut v);
            }
            assert_eq!(&p[start * LINE..(start + CHARGEN_BATCH) * LINE], &v[..], "from line {start}");
        }
    }
}
