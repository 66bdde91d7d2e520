//! The UDP header: a view over the bytes (`UdpPacket`) and the parsed header
//! (`UdpRepr`), the same type parsed and emitted.
//!
//! Read first: RFC 768 (the header; the checksum over a pseudo-header, zero
//! meaning none, a computed zero sent as all ones).
//!
//! ```text
//!  RFC 768:
//!                   0      7 8     15 16    23 24    31
//!                  +--------+--------+--------+--------+
//!                  |     Source      |   Destination   |
//!                  |      Port       |      Port       |
//!                  +--------+--------+--------+--------+
//!                  |                 |                 |
//!                  |     Length      |    Checksum     |
//!                  +--------+--------+--------+--------+
//!                  |
//!                  |          data octets ...
//!                  +---------------- ...
//! ```

use crate::checksum;
use crate::stats::DropReason;
use crate::wire::ipv4::PROTO_UDP;
use std::net::Ipv4Addr;

/// Byte ranges of the header.
pub mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

pub const UDP_HLEN: usize = 8;

/// A read-only (`&[u8]`) or read-write (`&mut [u8]`) view of a datagram.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// A view with no check: the accessors panic on a buffer too short.
    pub const fn new_unchecked(buffer: T) -> UdpPacket<T> {
        UdpPacket { buffer }
    }
    /// A view of a buffer that holds the header and the `length` it claims
    /// (at least the header).
    pub fn new_checked(buffer: T) -> Result<UdpPacket<T>, DropReason> {
        if buffer.as_ref().len() < UDP_HLEN {
            return Err(DropReason::UdpTooShort);
        }
        let p = UdpPacket { buffer };
        let length = p.len();
        if length < UDP_HLEN || length > p.buffer.as_ref().len() {
            return Err(DropReason::UdpBadLength);
        }
        Ok(p)
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }
    pub fn src_port(&self) -> u16 {
        self.be16(field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        self.be16(field::DST_PORT)
    }
    /// The length field: header and data.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.be16(field::LENGTH) as usize
    }
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }
    /// The data, up to `len()`.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[UDP_HLEN..self.len()]
    }
    /// The checksum over the pseudo-header and the datagram (`len()` bytes)
    /// sums to zero.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        checksum::transport_checksum(src, dst, PROTO_UDP, &self.buffer.as_ref()[..self.len()]) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_len(&mut self, v: usize) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&(v as u16).to_be_bytes());
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }
    /// Compute the checksum over the pseudo-header and the whole buffer (the
    /// field zero while summing) and write it; a computed zero is sent as
    /// all ones (RFC 768).
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let mut c = checksum::transport_checksum(src, dst, PROTO_UDP, self.buffer.as_ref());
        if c == 0 {
            c = 0xffff;
        }
        self.set_checksum(c);
    }
}

/// A UDP header, parsed or to be sent: the same type both ways.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    /// Header and data.
    pub length: usize,
}

impl UdpRepr {
    /// Check the checksum unless it is zero (RFC 768: the sender computed
    /// none) or `verify` is false (the device checked it,
    /// `skb_csum_unnecessary`), and parse the header.
    pub fn parse<T: AsRef<[u8]>>(
        p: &UdpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        verify: bool,
    ) -> Result<UdpRepr, DropReason> {
        if p.checksum() != 0 && verify && !p.verify_checksum(src, dst) {
            return Err(DropReason::UdpBadChecksum);
        }
        Ok(UdpRepr { src_port: p.src_port(), dst_port: p.dst_port(), length: p.len() })
    }
    /// Bytes of header `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        UDP_HLEN
    }
    /// Write the header and the checksum over `src`, `dst` and the whole
    /// datagram: the data must already be in place behind the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut UdpPacket<T>, src: Ipv4Addr, dst: Ipv4Addr) {
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(self.length);
        p.fill_checksum(src, dst);
    }
}
