//! `UnixDgram`: a cable made of a Unix datagram socket pair.
//!
//! Each datagram is one Ethernet frame. Unlike the in-memory `Wire`, it has
//! a real file descriptor, so the poll loop can sleep on it: tests use it as
//! the fake device of the real-time loop, and two threads (or processes)
//! can each run a stack on one end.

use crate::Device;
use stack::wire::ethernet::ETH_HLEN;
use stack::{Instant, SkBuff};
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;

pub struct UnixDgram {
    sock: UnixDatagram,
    frame_room: usize,
}

impl UnixDgram {
    /// Two connected ends, non-blocking, for frames up to MTU 1500.
    pub fn pair() -> io::Result<(UnixDgram, UnixDgram)> {
        let (a, b) = UnixDatagram::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        let room = 1500 + ETH_HLEN + 4;
        Ok((UnixDgram { sock: a, frame_room: room }, UnixDgram { sock: b, frame_room: room }))
    }
}

impl Device for UnixDgram {
    fn recv(&mut self, _now: Instant) -> io::Result<Option<SkBuff>> {
        let mut skb = SkBuff::with_capacity(self.frame_room);
        match self.sock.recv(skb.tailroom_mut()) {
            Ok(n) => {
                skb.put(n);
                Ok(Some(skb))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn send(&mut self, _now: Instant, skb: &SkBuff) -> io::Result<()> {
        self.sock.send(skb.data()).map(|_| ())
    }
    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.sock.as_raw_fd())
    }
}
