//! The ICMP header: a view over the bytes (`IcmpPacket`) and the parsed
//! header (`IcmpRepr`), the same type parsed and emitted.
//!
//! Read first: RFC 792 (the messages; every one starts with type, code and
//! checksum, and echo adds an identifier and a sequence number).
//!
//! ```text
//!  RFC 792, Echo or Echo Reply Message:
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |     Type      |     Code      |          Checksum             |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |           Identifier          |        Sequence Number        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |     Data ...
//!    +-+-+-+-+-
//!
//!  Destination Unreachable: the second word is unused (zero) and the data
//!  is the offending datagram's IP header and its first 64 bits.
//! ```

use crate::checksum;
use crate::stats::DropReason;

/// Byte ranges of the header.
pub mod field {
    use core::ops::{Range, RangeFrom};
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Echo: identifier; unused (zero) in the errors we send.
    pub const ECHO_IDENT: Range<usize> = 4..6;
    /// Echo: sequence number.
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    /// The rest of the message (echo data, or an error's quoted datagram).
    pub const DATA: RangeFrom<usize> = 8..;
}

pub const ICMP_ECHO_REPLY: u8 = 0;
pub const ICMP_DEST_UNREACH: u8 = 3;
pub const ICMP_ECHO_REQUEST: u8 = 8;
pub const ICMP_TIME_EXCEEDED: u8 = 11;
/// Destination-unreachable codes (RFC 792).
pub const CODE_PROTO_UNREACH: u8 = 2;
pub const CODE_PORT_UNREACH: u8 = 3;
pub const ICMP_HLEN: usize = 8;

/// A read-only (`&[u8]`) or read-write (`&mut [u8]`) view of an ICMP message.
#[derive(Debug, Clone)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// A view with no check: the accessors panic on a buffer too short.
    pub const fn new_unchecked(buffer: T) -> IcmpPacket<T> {
        IcmpPacket { buffer }
    }
    /// A view of a buffer that holds the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<IcmpPacket<T>, DropReason> {
        if buffer.as_ref().len() < ICMP_HLEN {
            return Err(DropReason::IcmpTooShort);
        }
        Ok(IcmpPacket { buffer })
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }
    pub fn echo_ident(&self) -> u16 {
        self.be16(field::ECHO_IDENT)
    }
    pub fn echo_seq_no(&self) -> u16 {
        self.be16(field::ECHO_SEQNO)
    }
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA]
    }
    /// The whole message sums to zero (RFC 792).
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }
    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_echo_ident(&mut self, v: u16) {
        self.buffer.as_mut()[field::ECHO_IDENT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_echo_seq_no(&mut self, v: u16) {
        self.buffer.as_mut()[field::ECHO_SEQNO].copy_from_slice(&v.to_be_bytes());
    }
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }
    /// Compute the checksum over the whole message (the field zero while
    /// summing) and write it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
}

/// An ICMP header (the data stays in the buffer), parsed or to be sent.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct IcmpRepr {
    pub icmp_type: u8,
    pub code: u8,
    /// Identifier and sequence for echo; zero (unused) for errors.
    pub ident: u16,
    pub seq: u16,
}

impl IcmpRepr {
    /// Check the checksum of the message (header and data) and parse the header.
    pub fn parse<T: AsRef<[u8]>>(p: &IcmpPacket<T>) -> Result<IcmpRepr, DropReason> {
        if !p.verify_checksum() {
            return Err(DropReason::IcmpBadChecksum);
        }
        Ok(IcmpRepr { icmp_type: p.msg_type(), code: p.msg_code(), ident: p.echo_ident(), seq: p.echo_seq_no() })
    }
    /// Bytes of header `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        ICMP_HLEN
    }
    /// Write the header and the checksum over the whole message: the data
    /// must already be in place behind the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut IcmpPacket<T>) {
        p.set_msg_type(self.icmp_type);
        p.set_msg_code(self.code);
        p.set_echo_ident(self.ident);
        p.set_echo_seq_no(self.seq);
        p.fill_checksum();
    }
}
