//! The bulk-transfer protocol every throughput row speaks, with the Linux
//! client and server (std::net, blocking) and synack's server (non-blocking,
//! on the stack's socket calls).
//!
//! ```text
//!   client -> server   header: 'B', dir (0 up: client sends, 1 down: server
//!                      sends), 0, 0, duration in ms (u32, big-endian)
//!   sender -> receiver the pattern bytes from offset 0, for that long;
//!                      then shutdown(SHUT_WR)
//!   receiver -> sender report: bytes received (u64), 1 if every byte matched
//!                      the pattern (u64); then close
//! ```
//!
//! The pattern is a pseudo-random sequence with a period of 65,521 bytes (a
//! prime: a segment that lands at the wrong offset never matches), so the
//! receiver checks every byte with a `memcmp` against the pattern at its
//! offset, cheaper than any checksum. The sender checks the report.

use stack::{Errno, Instant as StackInstant, MsgFlags, Shutdown, SockType, SocketHandle, Stack};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const PORT: u16 = 5001;
const PERIOD: usize = 65_521;
const MAGIC: u8 = b'B';
const CHUNK: usize = 64 * 1024;
/// How long a blocking call may wait before the run counts as failed. The
/// impaired link's senders wait this long for the report while their send
/// buffer (212,992 bytes) drains at as little as 30-70 kB/s, RTO backoffs
/// included: 30 s, not 10.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Which way the bytes go, seen from the client.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

pub struct Pattern(Vec<u8>);

/// The pattern, twice over so that any window of up to one period is one slice.
pub fn pattern() -> &'static Pattern {
    static P: OnceLock<Pattern> = OnceLock::new();
    P.get_or_init(|| {
        let mut x: u32 = 0x9e37_79b9;
        let mut v: Vec<u8> = (0..PERIOD)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        v.extend_from_within(..);
        Pattern(v)
    })
}

impl Pattern {
    /// The bytes at stream offset `off`, at most `max` (and one period).
    pub fn chunk(&self, off: u64, max: usize) -> &[u8] {
        let s = (off % PERIOD as u64) as usize;
        &self.0[s..s + max.min(PERIOD)]
    }
    /// Whether `data` is what the pattern holds at `off`.
    pub fn check(&self, mut off: u64, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            let want = self.chunk(off, data.len());
            if want != &data[..want.len()] {
                return false;
            }
            data = &data[want.len()..];
            off += want.len() as u64;
        }
        true
    }
}

fn header(dir: Dir, dur: Duration) -> [u8; 8] {
    let ms = dur.as_millis().min(u32::MAX as u128) as u32;
    let mut h = [MAGIC, (dir == Dir::Down) as u8, 0, 0, 0, 0, 0, 0];
    h[4..].copy_from_slice(&ms.to_be_bytes());
    h
}

fn parse_header(h: &[u8; 8]) -> io::Result<(Dir, Duration)> {
    if h[0] != MAGIC || h[1] > 1 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad bench header"));
    }
    let dir = if h[1] == 1 { Dir::Down } else { Dir::Up };
    Ok((dir, Duration::from_millis(u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as u64)))
}

fn report(bytes: u64, ok: bool) -> [u8; 16] {
    let mut r = [0u8; 16];
    r[..8].copy_from_slice(&bytes.to_be_bytes());
    r[8..].copy_from_slice(&(ok as u64).to_be_bytes());
    r
}

/// The sender's check of the receiver's report.
fn check_report(r: &[u8; 16], sent: u64) -> io::Result<()> {
    let got = u64::from_be_bytes(r[..8].try_into().expect("8 bytes"));
    let ok = u64::from_be_bytes(r[8..].try_into().expect("8 bytes")) == 1;
    if got != sent {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("sent {sent} bytes, receiver got {got}")));
    }
    if !ok {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "receiver saw bytes that differ from the pattern"));
    }
    Ok(())
}

/// One transfer as the client saw it.
#[derive(Copy, Clone, Debug)]
pub struct Transfer {
    pub bytes: u64,
    pub secs: f64,
}

impl Transfer {
    pub fn gbit_s(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.secs / 1e9
    }
}

// ------------------------------------------------- Linux side (std::net)

/// Send the pattern for `dur`, then half-close and check the report.
fn send_for(s: &mut TcpStream, dur: Duration) -> io::Result<u64> {
    let p = pattern();
    let start = Instant::now();
    let mut off = 0u64;
    while start.elapsed() < dur {
        let n = s.write(p.chunk(off, CHUNK))?;
        off += n as u64;
    }
    s.shutdown(std::net::Shutdown::Write)?;
    let mut r = [0u8; 16];
    s.read_exact(&mut r)?;
    check_report(&r, off)?;
    Ok(off)
}

/// Receive to end of file, checking each byte; then report.
fn sink(s: &mut TcpStream) -> io::Result<(u64, bool)> {
    let p = pattern();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut off, mut ok) = (0u64, true);
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok((off, ok));
        }
        ok &= p.check(off, &buf[..n]);
        off += n as u64;
    }
}

fn timeouts(s: &TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))
}

/// The client: connect, ask for `dir` for `dur`, and time it from the
/// header to the end (the report for an upload, end of file for a download).
pub fn client(to: SocketAddr, dir: Dir, dur: Duration) -> io::Result<Transfer> {
    let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
    timeouts(&s)?;
    let t0 = Instant::now();
    s.write_all(&header(dir, dur))?;
    let bytes = match dir {
        Dir::Up => send_for(&mut s, dur)?,
        Dir::Down => {
            let (n, ok) = sink(&mut s)?;
            let secs = t0.elapsed().as_secs_f64();
            s.write_all(&report(n, ok))?;
            if !ok {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "download differs from the pattern"));
            }
            return Ok(Transfer { bytes: n, secs });
        }
    };
    Ok(Transfer { bytes, secs: t0.elapsed().as_secs_f64() })
}

/// The Linux server: accept `conns` connections one after the other and
/// serve each. An accept waits at most until `deadline`, and not at all
/// once `give_up` is set (the client has stopped).
pub fn serve(l: TcpListener, conns: usize, deadline: Instant, give_up: &AtomicBool) -> io::Result<()> {
    l.set_nonblocking(true)?;
    for _ in 0..conns {
        let mut s = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if give_up.load(Ordering::Relaxed) {
                        return Err(io::Error::other("the client stopped"));
                    }
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "no client came"));
                    }
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => return Err(e),
            }
        };
        s.set_nonblocking(false)?;
        timeouts(&s)?;
        let mut h = [0u8; 8];
        s.read_exact(&mut h)?;
        match parse_header(&h)? {
            (Dir::Up, _) => {
                let (n, ok) = sink(&mut s)?;
                s.write_all(&report(n, ok))?;
            }
            (Dir::Down, dur) => {
                send_for(&mut s, dur)?;
            }
        }
    }
    Ok(())
}

// ------------------------------------------- synack side (non-blocking)

enum Phase {
    Header {
        buf: [u8; 8],
        got: usize,
    },
    /// Receiving (an upload), checking against the pattern.
    Sink {
        off: u64,
        ok: bool,
    },
    /// Writing the report, then close.
    Report {
        buf: [u8; 16],
        sent: usize,
    },
    /// Sending (a download) until `until`.
    Source {
        off: u64,
        until: StackInstant,
    },
    /// Half-closed; reading the client's report.
    AwaitReport {
        buf: [u8; 16],
        got: usize,
        sent: u64,
    },
}

/// The server on synack's sockets: one connection at a time, driven by
/// `poll` between turns of the poll loop.
pub struct SynServer {
    listener: SocketHandle,
    conn: Option<(SocketHandle, Phase)>,
    buf: Vec<u8>,
    pub served: usize,
}

impl SynServer {
    pub fn listen(stack: &mut Stack, port: u16) -> io::Result<SynServer> {
        let e = |e: Errno| io::Error::other(format!("synack listener: {}", e.text()));
        let l = stack.socket(SockType::Stream).map_err(e)?;
        stack.bind(l, std::net::SocketAddrV4::new([0, 0, 0, 0].into(), port)).map_err(e)?;
        stack.listen(l, 16).map_err(e)?;
        Ok(SynServer { listener: l, conn: None, buf: vec![0u8; 256 * 1024], served: 0 })
    }

    /// Do what can be done now. Returns when to be called again even if no
    /// frame comes (the end of a download).
    pub fn poll(&mut self, stack: &mut Stack, now: StackInstant) -> io::Result<Option<StackInstant>> {
        let e = |what: &str, e: Errno| io::Error::other(format!("synack {what}: {}", e.text()));
        if self.conn.is_none() {
            match stack.accept(now, self.listener) {
                Ok((h, _)) => self.conn = Some((h, Phase::Header { buf: [0; 8], got: 0 })),
                Err(Errno::EAGAIN) => return Ok(None),
                Err(x) => return Err(e("accept", x)),
            }
        }
        let p = pattern();
        let Some((h, phase)) = self.conn.as_mut() else { return Ok(None) };
        let h = *h;
        loop {
            match phase {
                Phase::Header { buf, got } => match stack.recv(now, h, &mut buf[*got..], MsgFlags::NONE) {
                    Ok(0) => return Err(io::Error::other("client closed before the header")),
                    Ok(n) => {
                        *got += n;
                        if *got == 8 {
                            *phase = match parse_header(buf)? {
                                (Dir::Up, _) => Phase::Sink { off: 0, ok: true },
                                (Dir::Down, d) => Phase::Source { off: 0, until: now + d },
                            };
                        }
                    }
                    Err(Errno::EAGAIN) => return Ok(None),
                    Err(x) => return Err(e("recv", x)),
                },
                Phase::Sink { off, ok } => match stack.recv(now, h, &mut self.buf, MsgFlags::NONE) {
                    Ok(0) => *phase = Phase::Report { buf: report(*off, *ok), sent: 0 },
                    Ok(n) => {
                        *ok &= p.check(*off, &self.buf[..n]);
                        *off += n as u64;
                    }
                    Err(Errno::EAGAIN) => return Ok(None),
                    Err(x) => return Err(e("recv", x)),
                },
                Phase::Report { buf, sent } => match stack.send(now, h, &buf[*sent..], MsgFlags::NONE) {
                    Ok(n) => {
                        *sent += n;
                        if *sent == 16 {
                            stack.close(now, h).map_err(|x| e("close", x))?;
                            self.conn = None;
                            self.served += 1;
                            return Ok(None);
                        }
                    }
                    Err(Errno::EAGAIN) => return Ok(None),
                    Err(x) => return Err(e("send", x)),
                },
                Phase::Source { off, until } => {
                    if now >= *until {
                        stack.shutdown(now, h, Shutdown::Write).map_err(|x| e("shutdown", x))?;
                        *phase = Phase::AwaitReport { buf: [0; 16], got: 0, sent: *off };
                        continue;
                    }
                    match stack.send(now, h, p.chunk(*off, CHUNK), MsgFlags::NONE) {
                        Ok(n) => *off += n as u64,
                        Err(Errno::EAGAIN) => return Ok(Some(*until)),
                        Err(x) => return Err(e("send", x)),
                    }
                }
                Phase::AwaitReport { buf, got, sent } => match stack.recv(now, h, &mut buf[*got..], MsgFlags::NONE) {
                    Ok(0) if *got == 16 => {
                        check_report(buf, *sent)?;
                        stack.close(now, h).map_err(|x| e("close", x))?;
                        self.conn = None;
                        self.served += 1;
                        return Ok(None);
                    }
                    Ok(0) => return Err(io::Error::other("client closed without its report")),
                    Ok(n) => *got += n,
                    Err(Errno::EAGAIN) => return Ok(None),
                    Err(x) => return Err(e("recv", x)),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_checks_any_split() {
        let p = pattern();
        let mut stream = Vec::new();
        let mut off = 0u64;
        while stream.len() < 300_000 {
            let c = p.chunk(off, 7_000);
            stream.extend_from_slice(c);
            off += c.len() as u64;
        }
        assert!(p.check(0, &stream));
        assert!(p.check(1_000, &stream[1_000..140_000]));
        assert!(!p.check(1_001, &stream[1_000..140_000]), "a shifted segment fails");
        let mut bad = stream.clone();
        bad[200_000] ^= 1;
        assert!(!p.check(0, &bad));
    }
}
