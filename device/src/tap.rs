//! `Tap`: a Linux TAP device, the Ethernet cable between synack and the host.
//!
//! Read first: the kernel's Documentation/networking/tuntap.rst. Opening
//! `/dev/net/tun` with `IFF_TAP | IFF_NO_PI` creates (or attaches to) an
//! interface such as `tap0`; every frame the host's kernel sends out of
//! `tap0` becomes one `read(2)` on our descriptor, and every `write(2)` we
//! make arrives at the host as a frame received on `tap0`. A TAP that we
//! create is not persistent: closing the descriptor (dropping the `Tap`)
//! removes the interface.
//!
//! ## Offloads (`Tap::open_offload`, `synack up --offload`)
//!
//! The plain TAP moves one 1514-byte frame per system call, and every
//! checksum is computed in software on both sides. Opened with
//! `IFF_VNET_HDR`, every frame read or written starts with a 10-byte
//! virtio-net header (`VirtioNetHdr`, include/uapi/linux/virtio_net.h), the
//! one a virtual machine's NIC exchanges with its host, and
//! `TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4)` tells the kernel that we take
//! frames with the checksum left undone and TCP segments of up to 64 KiB:
//!
//! ```text
//!   read:   [virtio_net_hdr][Ethernet][IP][TCP][ up to 64 KiB ]
//!           flags NEEDS_CSUM: the TCP checksum holds only the pseudo-header
//!           sum (the host never computed the rest: nothing was on a wire)
//!           flags DATA_VALID: the host checked the checksum
//!           gso_type TCPV4, gso_size 1448: the host's TCP sent one big segment
//!   write:  the same, from synack: one write(2) per 64 KiB instead of per
//!           1460 bytes; the host's kernel treats it as one received segment
//!           (GRO) or cuts it per gso_size if it has to forward it (GSO)
//! ```
//!
//! The device turns the header into the `SkBuff`'s metadata and back
//! (`ip_summed`, `gso_size`, `virtio_net_hdr_to_skb` and
//! `virtio_net_hdr_from_skb` in the kernel), and tells the stack what it
//! may count on (`Tap::offloads` → `stack::Config::offloads`).

use crate::Device;
use stack::skbuff::{pool, MAX_FRAME};
use stack::wire::ethernet::ETH_HLEN;
use stack::wire::tcp::{self, TCP_HLEN};
use stack::wire::TcpPacket;
use stack::{Instant, IpSummed, Offloads, SkBuff};
use std::ffi::CStr;
use std::io;
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Room for a VLAN tag on top of MTU + Ethernet header.
const VLAN_SLACK: usize = 4;

/// `sizeof(struct virtio_net_hdr)`: no `num_buffers` (that is the 12-byte
/// header of mergeable receive buffers, which a TAP does not need).
pub const VNET_HDR_LEN: usize = 10;

/// Byte ranges of `struct virtio_net_hdr` (the device's own header, in the
/// style of `stack::wire`'s `field` modules).
pub mod vnet_field {
    use core::ops::Range;
    pub const FLAGS: usize = 0;
    pub const GSO_TYPE: usize = 1;
    pub const HDR_LEN: Range<usize> = 2..4;
    pub const GSO_SIZE: Range<usize> = 4..6;
    pub const CSUM_START: Range<usize> = 6..8;
    pub const CSUM_OFFSET: Range<usize> = 8..10;
}

/// The virtio-net header in front of every frame on a TAP opened with
/// `IFF_VNET_HDR` (legacy virtio: the 16-bit fields in the machine's byte
/// order, which is what the kernel expects unless told otherwise with
/// `TUNSETVNETLE`/`TUNSETVNETBE`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct VirtioNetHdr {
    /// `NEEDS_CSUM`, `DATA_VALID`.
    pub flags: u8,
    /// `GSO_NONE`, `GSO_TCPV4` (| `GSO_ECN`), ...
    pub gso_type: u8,
    /// Bytes of headers (Ethernet + IP + TCP) in front of the payload.
    pub hdr_len: u16,
    /// Payload bytes per segment once cut (the MSS).
    pub gso_size: u16,
    /// With `NEEDS_CSUM`: where the checksummed bytes start (from the
    /// Ethernet header) and where the checksum field is, from there.
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    pub const F_NEEDS_CSUM: u8 = 1;
    pub const F_DATA_VALID: u8 = 2;
    pub const GSO_NONE: u8 = 0;
    pub const GSO_TCPV4: u8 = 1;
    pub const GSO_UDP: u8 = 3;
    pub const GSO_TCPV6: u8 = 4;
    pub const GSO_ECN: u8 = 0x80;

    pub fn parse(b: &[u8; VNET_HDR_LEN]) -> VirtioNetHdr {
        let u16_at = |r: Range<usize>| u16::from_ne_bytes([b[r.start], b[r.start + 1]]);
        VirtioNetHdr {
            flags: b[vnet_field::FLAGS],
            gso_type: b[vnet_field::GSO_TYPE],
            hdr_len: u16_at(vnet_field::HDR_LEN),
            gso_size: u16_at(vnet_field::GSO_SIZE),
            csum_start: u16_at(vnet_field::CSUM_START),
            csum_offset: u16_at(vnet_field::CSUM_OFFSET),
        }
    }

    pub fn to_bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[vnet_field::FLAGS] = self.flags;
        b[vnet_field::GSO_TYPE] = self.gso_type;
        b[vnet_field::HDR_LEN].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[vnet_field::GSO_SIZE].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[vnet_field::CSUM_START].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[vnet_field::CSUM_OFFSET].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// `virtio_net_hdr_from_skb`: the header for a frame to write
    /// (`skb.data()` at the Ethernet header).
    pub fn from_skb(skb: &SkBuff) -> VirtioNetHdr {
        let mut h = VirtioNetHdr::default();
        if let Some((start, offset)) = skb.csum_partial() {
            h.flags = Self::F_NEEDS_CSUM;
            h.csum_start = start as u16;
            h.csum_offset = offset;
            if skb.is_gso() {
                // The TCP header starts at csum_start; its data offset gives
                // its length.
                let seg = skb.data().get(start..).filter(|t| t.len() > tcp::field::DATA_OFFSET);
                let thl = seg.map_or(TCP_HLEN, |t| TcpPacket::new_unchecked(t).header_len());
                h.gso_type = Self::GSO_TCPV4;
                h.gso_size = skb.gso_size() as u16;
                h.hdr_len = (start + thl) as u16;
            }
        }
        h
    }

    /// `virtio_net_hdr_to_skb`: what a received header says about the frame
    /// in `skb` (`data()` at the Ethernet header). A header that points
    /// outside the frame is ignored (the checksum is then verified in
    /// software, and a frame above the MTU is dropped): the stack never
    /// trusts more than the bytes can hold.
    pub fn to_skb(&self, skb: &mut SkBuff) {
        let len = skb.len();
        if self.flags & Self::F_NEEDS_CSUM != 0 {
            let (start, offset) = (self.csum_start as usize, self.csum_offset);
            if start + offset as usize + 2 <= len {
                skb.set_csum_partial(start, offset);
            }
        } else if self.flags & Self::F_DATA_VALID != 0 {
            skb.set_ip_summed(IpSummed::Unnecessary);
        }
        if self.gso_type & !Self::GSO_ECN == Self::GSO_TCPV4 && self.gso_size > 0 {
            skb.set_gso_tcpv4(self.gso_size);
        }
    }
}

pub struct Tap {
    fd: OwnedFd,
    name: String,
    /// Bytes allocated for each received frame.
    frame_room: usize,
    /// Whether the interface existed before we opened it (then we did not
    /// create it, and closing does not remove it if it is persistent).
    existed: bool,
    /// Opened with `IFF_VNET_HDR` and offloads.
    vnet: bool,
}

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags.
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

impl Tap {
    /// Create (or attach to) the TAP interface `name`, in non-blocking mode.
    /// `mtu` sizes the receive buffers: MTU + Ethernet header (+ a VLAN tag).
    pub fn open(name: &str, mtu: usize) -> io::Result<Tap> {
        Tap::open_with(name, mtu, false)
    }

    /// The same with a virtio-net header on every frame and the checksum and
    /// TCP segmentation offloads on (the module comment): frames of up to
    /// 64 KiB both ways.
    pub fn open_offload(name: &str, mtu: usize) -> io::Result<Tap> {
        Tap::open_with(name, mtu, true)
    }

    fn open_with(name: &str, mtu: usize, vnet: bool) -> io::Result<Tap> {
        if name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("interface name too long: {name}")));
        }
        let existed = !name.is_empty() && Path::new("/sys/class/net").join(name).exists();
        let path = c"/dev/net/tun";
        // SAFETY: open(2) of a NUL-terminated path.
        let raw = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor we just opened and own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = IfReq { name: [0; libc::IFNAMSIZ], flags: 0, _pad: [0; 22] };
        for (d, s) in req.name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        req.flags = (libc::IFF_TAP | libc::IFF_NO_PI | if vnet { libc::IFF_VNET_HDR } else { 0 }) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes a struct ifreq, which IfReq lays out.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut IfReq) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel wrote a NUL-terminated name into the array.
        let name = unsafe { CStr::from_ptr(req.name.as_ptr()) }.to_string_lossy().into_owned();
        let mut frame_room = mtu.max(576) + ETH_HLEN + VLAN_SLACK;
        if vnet {
            let sz: libc::c_int = VNET_HDR_LEN as libc::c_int;
            // SAFETY: TUNSETVNETHDRSZ reads an int.
            if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETVNETHDRSZ, &sz as *const libc::c_int) } < 0 {
                return Err(io::Error::last_os_error());
            }
            let offload = libc::TUN_F_CSUM | libc::TUN_F_TSO4;
            // SAFETY: TUNSETOFFLOAD takes the flags as its argument.
            if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETOFFLOAD, offload as libc::c_ulong) } < 0 {
                return Err(io::Error::last_os_error());
            }
            // A GSO frame of up to 64 KiB behind its header.
            frame_room = VNET_HDR_LEN + MAX_FRAME + VLAN_SLACK;
        }
        Ok(Tap { fd, name, frame_room, existed, vnet })
    }

    /// The interface's real name (the kernel may choose it, e.g. for `tap%d`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True if the interface was there before `open` (we attached to it).
    pub fn existed_before(&self) -> bool {
        self.existed
    }

    /// What the stack may count on: with `open_offload`, the host finishes
    /// our checksums and takes 64 KiB TCP segments; plain, nothing.
    pub fn offloads(&self) -> Offloads {
        if self.vnet {
            Offloads { tx_csum: true, gso_max_size: stack::wire::ipv4::MAX_DATAGRAM }
        } else {
            Offloads::default()
        }
    }

    /// One `read(2)` into `skb`'s tailroom; `Ok(None)` when nothing waits.
    fn read_into(&self, skb: &mut SkBuff) -> io::Result<Option<usize>> {
        loop {
            let room = skb.tailroom_mut();
            // SAFETY: read into a live mutable slice from a descriptor we own.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), room.as_mut_ptr().cast(), room.len()) };
            if n >= 0 {
                return Ok(Some(n as usize));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return Ok(None),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
    }
}

/// Frames up to this size are copied out of a 64 KiB receive buffer into a
/// small one (a driver's `rx_copybreak`): a queued ACK or datagram then
/// holds 2 KiB, not 64, and the big buffer serves the next read.
const COPYBREAK: usize = pool::SMALL - 64;

impl Device for Tap {
    /// One `read(2)`, straight into a buffer's tailroom: no copy (with
    /// offloads, a small frame is copied out of the 64 KiB buffer).
    fn recv(&mut self, _now: Instant) -> io::Result<Option<SkBuff>> {
        let mut skb = SkBuff::with_capacity(self.frame_room);
        let Some(n) = self.read_into(&mut skb)? else { return Ok(None) };
        skb.put(n.min(self.frame_room));
        if !self.vnet {
            return Ok(Some(skb));
        }
        if skb.len() < VNET_HDR_LEN {
            // Never from the kernel; the stack drops it (eth_too_short).
            skb.trim(0);
            return Ok(Some(skb));
        }
        let hdr = VirtioNetHdr::parse(skb.pull(VNET_HDR_LEN).try_into().expect("10 bytes"));
        if skb.len() <= COPYBREAK {
            skb = SkBuff::from_frame(skb.data());
        }
        hdr.to_skb(&mut skb);
        Ok(Some(skb))
    }

    /// One `write(2)` of the frame's bytes, where they lie in the buffer
    /// (with offloads, `writev(2)` of the virtio-net header and the frame).
    fn send(&mut self, _now: Instant, skb: &SkBuff) -> io::Result<()> {
        let hdr = VirtioNetHdr::from_skb(skb).to_bytes();
        let iov = [
            libc::iovec { iov_base: hdr.as_ptr() as *mut libc::c_void, iov_len: hdr.len() },
            libc::iovec { iov_base: skb.data().as_ptr() as *mut libc::c_void, iov_len: skb.len() },
        ];
        let iov = if self.vnet { &iov[..] } else { &iov[1..] };
        loop {
            // SAFETY: writev from live buffers the iovecs describe.
            let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
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

#[cfg(test)]
mod tests {
    use super::*;
    use stack::skbuff;
    use stack::tcp::SeqNumber;
    use stack::wire::frame::tcp_frame;
    use stack::wire::ipv4::{IPV4_HLEN, PROTO_TCP};
    use stack::wire::{TcpFlags, TcpRepr};

    /// A TCP/IPv4 frame from 10.0.0.1 to 10.0.0.2 with `payload` bytes and
    /// a 20-byte TCP header, checksum field as given.
    fn frame(payload: usize, tcp_csum: u16) -> SkBuff {
        let t = TcpRepr::new(0, 0, SeqNumber(1), Some(SeqNumber(1)), TcpFlags::ACK, 0xffff);
        let (src, dst) = ("10.0.0.1:5001".parse().unwrap(), "10.0.0.2:40000".parse().unwrap());
        let mut f = tcp_frame(src, dst, &t, &vec![0x61; payload]);
        TcpPacket::new_unchecked(&mut f[ETH_HLEN + IPV4_HLEN..]).set_checksum(tcp_csum);
        SkBuff::from_frame(&f)
    }

    #[test]
    fn header_bytes_round_trip_in_the_kernels_layout() {
        let h = VirtioNetHdr {
            flags: VirtioNetHdr::F_NEEDS_CSUM,
            gso_type: VirtioNetHdr::GSO_TCPV4,
            hdr_len: 54,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let b = h.to_bytes();
        // struct virtio_net_hdr { u8 flags; u8 gso_type; __virtio16 hdr_len,
        // gso_size, csum_start, csum_offset; }, legacy: native byte order.
        let mut want = vec![1u8, 1];
        for v in [54u16, 1448, 34, 16] {
            want.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(b.to_vec(), want);
        assert_eq!(VirtioNetHdr::parse(&b), h);
    }

    #[test]
    fn a_received_header_becomes_skb_metadata() {
        // NEEDS_CSUM + TCPV4: a GRO'd segment whose checksum the host left undone.
        let mut skb = frame(5000, 0x1234);
        let h = VirtioNetHdr {
            flags: VirtioNetHdr::F_NEEDS_CSUM,
            gso_type: VirtioNetHdr::GSO_TCPV4 | VirtioNetHdr::GSO_ECN,
            hdr_len: 54,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        h.to_skb(&mut skb);
        assert_eq!(skb.ip_summed(), IpSummed::Partial);
        assert!(skb.csum_unnecessary());
        assert_eq!(skb.csum_partial(), Some((34, 16)));
        assert!(skb.is_gso());
        assert_eq!(skb.gso_size(), 1448);

        // DATA_VALID: checked by the host.
        let mut skb = frame(100, 0x1234);
        VirtioNetHdr { flags: VirtioNetHdr::F_DATA_VALID, ..Default::default() }.to_skb(&mut skb);
        assert_eq!(skb.ip_summed(), IpSummed::Unnecessary);
        assert!(!skb.is_gso());

        // No flags: software checks. A checksum field past the frame: ignored.
        let mut skb = frame(100, 0x1234);
        VirtioNetHdr::default().to_skb(&mut skb);
        assert_eq!(skb.ip_summed(), IpSummed::None);
        let mut skb = frame(10, 0x1234);
        let bad =
            VirtioNetHdr { flags: VirtioNetHdr::F_NEEDS_CSUM, csum_start: 60, csum_offset: 16, ..Default::default() };
        bad.to_skb(&mut skb);
        assert_eq!(skb.ip_summed(), IpSummed::None, "a header pointing past the frame is not trusted");
        // A GSO type we did not ask for (UDP, IPv6) marks nothing.
        let mut skb = frame(5000, 0);
        VirtioNetHdr { gso_type: VirtioNetHdr::GSO_TCPV6, gso_size: 1440, ..Default::default() }.to_skb(&mut skb);
        assert!(!skb.is_gso());
    }

    #[test]
    fn the_header_for_a_frame_to_send() {
        // Whole checksum, MSS-sized: no flags at all.
        let skb = frame(1460, 0x1234);
        assert_eq!(VirtioNetHdr::from_skb(&skb), VirtioNetHdr::default());

        // Partial, one MSS: NEEDS_CSUM with start and offset, no GSO.
        let mut skb = SkBuff::for_xmit(1000);
        skb.put(1000).fill(1);
        TcpRepr::new(1, 2, SeqNumber(0), None, TcpFlags::ACK, 1).write(skb.push(TCP_HLEN));
        let csum_at = tcp::field::CHECKSUM.start as u16;
        skbuff::set_partial(&mut skb, [10, 0, 0, 2].into(), [10, 0, 0, 1].into(), PROTO_TCP, csum_at);
        skb.push(ETH_HLEN + IPV4_HLEN).fill(0); // IP and Ethernet
        let h = VirtioNetHdr::from_skb(&skb);
        assert_eq!(
            h,
            VirtioNetHdr { flags: VirtioNetHdr::F_NEEDS_CSUM, csum_start: 34, csum_offset: 16, ..Default::default() }
        );

        // And a TSO segment: GSO_TCPV4, gso_size the MSS, hdr_len to the payload.
        skb.set_gso_tcpv4(1460);
        let h = VirtioNetHdr::from_skb(&skb);
        assert_eq!((h.gso_type, h.gso_size, h.hdr_len), (VirtioNetHdr::GSO_TCPV4, 1460, 54));
    }
}
