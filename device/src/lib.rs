//! All of synack's I/O: devices, the clock, the poll loop, blocking sockets.
//!
//! The `stack` crate is sans-IO: it never reads a clock or touches a file
//! descriptor. This crate is the other half, the part the kernel calls the
//! driver and the softirq:
//!
//! ```text
//!   Device (tap.rs, wire.rs, dgram.rs)    frames in and out
//!     wrapped in middleware:              Tracer<Scripted<PcapWriter<Tap>>>
//!                                         (faults.rs: scripted faults for labs;
//!                                         link.rs: a randomly lossy link;
//!                                         lib.rs::wrap_device adds one in place)
//!   replay.rs                             record a run, replay it on a virtual
//!                                         clock, diff what the stack sent
//!   NetLoop (poll_loop.rs)                poll(2) until a frame or the next
//!                                         deadline; handle_frame,
//!                                         handle_timeout, poll_transmit
//!   blocking sockets (socket.rs)          recvfrom/accept/connect that wait
//!                                         by running the loop
//!   front door (net/)                    std::net-shaped TcpListener,
//!                                         TcpStream, UdpSocket; the stack
//!                                         in its own thread
//!   Sim (sim.rs)                          two stacks on an in-memory Wire,
//!                                         virtual clock, seeded faults
//! ```
//!
//! A device is *timestamp-aware*: `recv` and `send` get the current time, so
//! a middleware such as `PcapWriter` can stamp frames with the same clock the
//! stack sees (virtual time in a simulation, the OS clock on a TAP), and an
//! in-memory device can hold frames back until their delivery time
//! (`poll_at`).

pub mod clock;
pub mod dgram;
pub mod epoll;
pub mod faults;
pub mod link;
pub mod net;
pub mod netns;
pub mod pcap;
pub mod poll_loop;
pub mod replay;
pub mod sim;
pub mod socket;
pub mod tap;
pub mod tracer;
pub mod wire;

pub use clock::Clock;
pub use dgram::UnixDgram;
pub use epoll::epoll_wait;
pub use faults::{FaultEvent, FaultLog, FaultScript, Scripted};
pub use link::{LinkSpec, LinkStats, Lossy};
pub use pcap::{PcapFrame, PcapReader, PcapWriter};
pub use poll_loop::{LoopStats, NetLoop, Wakeup};
pub use sim::{Sim, SimError, SimHost};
pub use socket::{BlockingSocket, Net, SockError};
pub use tap::Tap;
pub use tracer::Tracer;
pub use wire::{Faults, Side, Wire, WirePort, WireStats};

use stack::{Instant, SkBuff, Stack};
use std::io;
use std::os::unix::io::RawFd;

/// Which way a frame went, seen from the stack: `In` from the wire to the
/// stack, `Out` from the stack to the wire.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    /// The marker printed in front of a frame line: `<` in, `>` out.
    pub fn marker(self) -> char {
        match self {
            Direction::In => '<',
            Direction::Out => '>',
        }
    }
}

/// A network device: frames in, frames out (the kernel's `net_device`).
///
/// `recv` never blocks: `Ok(None)` means nothing is waiting. A device with a
/// file descriptor (TAP) reports it in `raw_fd` so the poll loop can sleep in
/// `poll(2)` until a frame arrives; a device without one (the in-memory wire,
/// pcap replay) reports in `poll_at` when its next frame becomes ready.
pub trait Device {
    /// The next received frame, if one is ready at `now`.
    fn recv(&mut self, now: Instant) -> io::Result<Option<SkBuff>>;

    /// Put one frame on the wire (`ndo_start_xmit`). `skb.data()` starts at
    /// the Ethernet header.
    fn send(&mut self, now: Instant, skb: &SkBuff) -> io::Result<()>;

    /// A descriptor that polls readable when `recv` may have a frame.
    fn raw_fd(&self) -> Option<RawFd> {
        None
    }

    /// For devices without a descriptor: when the next frame will be ready.
    fn poll_at(&self) -> Option<Instant> {
        None
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn recv(&mut self, now: Instant) -> io::Result<Option<SkBuff>> {
        (**self).recv(now)
    }
    fn send(&mut self, now: Instant, skb: &SkBuff) -> io::Result<()> {
        (**self).send(now, skb)
    }
    fn raw_fd(&self) -> Option<RawFd> {
        (**self).raw_fd()
    }
    fn poll_at(&self) -> Option<Instant> {
        (**self).poll_at()
    }
}

/// Replace `dev` by `f(dev)`: add a middleware (a `Tracer`, a stepper, a
/// recorder) around a loop's device in place.
pub fn wrap_device(dev: &mut Box<dyn Device>, f: impl FnOnce(Box<dyn Device>) -> Box<dyn Device>) {
    let inner = std::mem::replace(dev, Box::new(NullDevice));
    *dev = f(inner);
}

/// A device that is no device: nothing to receive, and what it is given
/// goes nowhere. The placeholder while `wrap_device` works, and the device
/// under a middleware whose own output a test reads.
pub struct NullDevice;

impl Device for NullDevice {
    fn recv(&mut self, _now: Instant) -> io::Result<Option<SkBuff>> {
        Ok(None)
    }
    fn send(&mut self, _now: Instant, _skb: &SkBuff) -> io::Result<()> {
        Ok(())
    }
}

/// Something that runs next to the stack and uses its sockets: a UDP echo
/// server, a ping client. The poll loop (or `Sim`) calls `poll` after each
/// turn; `poll_at` asks to be called again at a time even if no frame comes
/// (a ping interval).
pub trait Service {
    /// Do what can be done without blocking.
    fn poll(&mut self, stack: &mut Stack, now: Instant);
    /// When this service next wants `poll` called, if it has a timer.
    fn poll_at(&self) -> Option<Instant> {
        None
    }
}

impl<F: FnMut(&mut Stack, Instant)> Service for F {
    fn poll(&mut self, stack: &mut Stack, now: Instant) {
        self(stack, now)
    }
}
