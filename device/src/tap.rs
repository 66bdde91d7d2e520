//! `Tap`: a Linux TAP device, the Ethernet cable between synack and the host.
//!
//! Read first: the kernel's Documentation/networking/tuntap.rst. Opening
//! `/dev/net/tun` with `IFF_TAP | IFF_NO_PI` creates (or attaches to) an
//! interface such as `tap0`; every frame the host's kernel sends out of
//! `tap0` becomes one `read(2)` on our descriptor, and every `write(2)` we
//! make arrives at the host as a frame received on `tap0`. A TAP that we
//! create is not persistent: closing the descriptor (dropping the `Tap`)
//! removes the interface.

use crate::Device;
use stack::ethernet::ETH_HLEN;
use stack::{Instant, SkBuff};
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::Path;
use tun_tap::{Iface, Mode};

/// Room for a VLAN tag on top of MTU + Ethernet header.
const VLAN_SLACK: usize = 4;

pub struct Tap {
    iface: Iface,
    /// Bytes allocated for each received frame.
    frame_room: usize,
    /// Whether the interface existed before we opened it (then we did not
    /// create it, and closing does not remove it if it is persistent).
    existed: bool,
}

impl Tap {
    /// Create (or attach to) the TAP interface `name`, in non-blocking mode.
    /// `mtu` sizes the receive buffers: MTU + Ethernet header (+ a VLAN tag).
    pub fn open(name: &str, mtu: usize) -> io::Result<Tap> {
        let existed = !name.is_empty() && Path::new("/sys/class/net").join(name).exists();
        let iface = Iface::without_packet_info(name, Mode::Tap)?;
        set_nonblocking(iface.as_raw_fd())?;
        Ok(Tap { iface, frame_room: mtu.max(576) + ETH_HLEN + VLAN_SLACK, existed })
    }

    /// The interface's real name (the kernel may choose it, e.g. for `tap%d`).
    pub fn name(&self) -> &str {
        self.iface.name()
    }

    /// True if the interface was there before `open` (we attached to it).
    pub fn existed_before(&self) -> bool {
        self.existed
    }
}

impl Device for Tap {
    /// One `read(2)`, straight into a fresh buffer's tailroom: no copy.
    fn recv(&mut self, _now: Instant) -> io::Result<Option<SkBuff>> {
        let mut skb = SkBuff::with_capacity(self.frame_room);
        loop {
            match self.iface.recv(skb.tailroom_mut()) {
                Ok(n) => {
                    let n = n.min(self.frame_room);
                    skb.put(n);
                    return Ok(Some(skb));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// One `write(2)` of the frame's bytes, where they lie in the buffer.
    fn send(&mut self, _now: Instant, skb: &SkBuff) -> io::Result<()> {
        loop {
            match self.iface.send(skb.data()) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.iface.as_raw_fd())
    }
}

/// `fcntl(fd, F_SETFL, flags | O_NONBLOCK)`.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own; F_GETFL/F_SETFL take plain ints.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
