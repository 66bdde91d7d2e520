//! `Tracer<D>`: a device middleware that shows every frame in and out
//! (`smoltcp::phy::Tracer`), the way `tcpdump -i tap0` would.
//!
//! It does not format anything itself: the caller passes a function, which
//! in `synack up` prints `stack::tcpdump::format_frame` with a timestamp and
//! a direction marker.

use crate::{Device, Direction};
use stack::{Instant, SkBuff};
use std::io;
use std::os::unix::io::RawFd;

/// What a `Tracer` calls for each frame: direction, time, the bytes.
pub type FrameSink = Box<dyn FnMut(Direction, Instant, &[u8])>;

pub struct Tracer<D> {
    inner: D,
    on_frame: FrameSink,
}

impl<D: Device> Tracer<D> {
    pub fn new(inner: D, on_frame: impl FnMut(Direction, Instant, &[u8]) + 'static) -> Tracer<D> {
        Tracer { inner, on_frame: Box::new(on_frame) }
    }
    pub fn inner(&self) -> &D {
        &self.inner
    }
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }
    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: Device> Device for Tracer<D> {
    fn recv(&mut self, now: Instant) -> io::Result<Option<SkBuff>> {
        let r = self.inner.recv(now)?;
        if let Some(skb) = &r {
            (self.on_frame)(Direction::In, now, skb.data());
        }
        Ok(r)
    }
    fn send(&mut self, now: Instant, skb: &SkBuff) -> io::Result<()> {
        (self.on_frame)(Direction::Out, now, skb.data());
        self.inner.send(now, skb)
    }
    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }
    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }
}
