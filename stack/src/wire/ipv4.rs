//! The IPv4 header: a view over the bytes (`Ipv4Packet`) and the parsed
//! header (`Ipv4Repr`), the same type parsed and emitted.
//!
//! Read first: RFC 791 §3.1 (the header, options), RFC 1122 §3.2.1 (what a
//! host must check and silently discard), RFC 1812 §5.3.1 for TTL. Linux:
//! `ip_rcv_core` (the checks, in the order `Ipv4Packet::new_checked` and
//! `Ipv4Repr::parse` make them).
//!
//! ```text
//!  RFC 791 §3.1:
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |Version|  IHL  |Type of Service|          Total Length         |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |         Identification        |Flags|      Fragment Offset    |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |  Time to Live |    Protocol   |         Header Checksum       |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                       Source Address                          |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                    Destination Address                        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                    Options                    |    Padding    |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//!    Flags: bit 0 reserved, bit 1 DF (don't fragment), bit 2 MF (more
//!    fragments); Fragment Offset in units of 8 bytes.
//! ```

use crate::checksum;
use crate::stats::DropReason;
use std::net::Ipv4Addr;

/// Byte ranges of the fixed header.
pub mod field {
    use core::ops::Range;
    /// Version in the high nibble, IHL (header length / 4) in the low one.
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    /// Flags in the top three bits, the fragment offset / 8 below them.
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
    /// Options, up to IHL × 4.
    pub const OPTIONS_START: usize = 20;
}

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const IPV4_HLEN: usize = 20;
/// RFC 791: the largest datagram.
pub const MAX_DATAGRAM: usize = 65_535;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// The protocol field, as an enum with an arm for everything else.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum IpProto {
    Icmp,
    Tcp,
    Udp,
    Unknown(u8),
}

impl From<u8> for IpProto {
    fn from(v: u8) -> Self {
        match v {
            PROTO_ICMP => IpProto::Icmp,
            PROTO_TCP => IpProto::Tcp,
            PROTO_UDP => IpProto::Udp,
            n => IpProto::Unknown(n),
        }
    }
}

/// A read-only (`&[u8]`) or read-write (`&mut [u8]`) view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// A view with no check: the accessors panic on a buffer too short.
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// A view of a buffer that holds a whole IPv4 header: long enough for the
    /// fixed header, version 4, and an IHL from 5 to the buffer's end (the
    /// first three checks of `ip_rcv_core`; `Ipv4Repr::parse` makes the rest).
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>, DropReason> {
        let b = buffer.as_ref();
        if b.len() < IPV4_HLEN {
            return Err(DropReason::IpTooShort);
        }
        let p = Ipv4Packet { buffer };
        if p.version() != 4 {
            return Err(DropReason::IpBadVersion);
        }
        let hl = p.header_len();
        if hl < IPV4_HLEN || hl > p.buffer.as_ref().len() {
            return Err(DropReason::IpBadIhl);
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
    fn addr(&self, r: core::ops::Range<usize>) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[r];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }
    /// IHL × 4.
    pub fn header_len(&self) -> usize {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) as usize * 4
    }
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }
    pub fn total_len(&self) -> usize {
        self.be16(field::LENGTH) as usize
    }
    pub fn ident(&self) -> u16 {
        self.be16(field::IDENT)
    }
    pub fn dont_frag(&self) -> bool {
        self.be16(field::FLG_OFF) & FLAG_DF != 0
    }
    pub fn more_frags(&self) -> bool {
        self.be16(field::FLG_OFF) & FLAG_MF != 0
    }
    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> usize {
        (self.be16(field::FLG_OFF) & OFFSET_MASK) as usize * 8
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }
    pub fn src_addr(&self) -> Ipv4Addr {
        self.addr(field::SRC_ADDR)
    }
    pub fn dst_addr(&self) -> Ipv4Addr {
        self.addr(field::DST_ADDR)
    }
    /// The option bytes (between the fixed header and IHL × 4).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS_START..self.header_len()]
    }
    /// The header (IHL × 4 bytes) sums to zero.
    pub fn verify_checksum(&self) -> bool {
        checksum::ip_fast_csum(&self.buffer.as_ref()[..self.header_len()]) == 0
    }
    /// The bytes after the header, up to the total length (or the buffer's
    /// end if shorter).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[self.header_len()..self.total_len().clamp(self.header_len(), b.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn put(&mut self, r: core::ops::Range<usize>, v: &[u8]) {
        self.buffer.as_mut()[r].copy_from_slice(v);
    }
    /// Version 4 and the header length (a multiple of 4).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | (header_len / 4) as u8;
    }
    pub fn set_tos(&mut self, v: u8) {
        self.buffer.as_mut()[field::TOS] = v;
    }
    pub fn set_total_len(&mut self, v: usize) {
        self.put(field::LENGTH, &(v as u16).to_be_bytes());
    }
    pub fn set_ident(&mut self, v: u16) {
        self.put(field::IDENT, &v.to_be_bytes());
    }
    /// The flags and the fragment offset (in bytes, a multiple of 8).
    pub fn set_flags_and_offset(&mut self, dont_frag: bool, more_frags: bool, offset: usize) {
        let mut ff = (offset / 8) as u16 & OFFSET_MASK;
        if dont_frag {
            ff |= FLAG_DF;
        }
        if more_frags {
            ff |= FLAG_MF;
        }
        self.put(field::FLG_OFF, &ff.to_be_bytes());
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.put(field::CHECKSUM, &v.to_be_bytes());
    }
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.put(field::SRC_ADDR, &a.octets());
    }
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.put(field::DST_ADDR, &a.octets());
    }
    /// Compute the header checksum (the field zero while summing) and write it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::ip_fast_csum(&self.buffer.as_ref()[..self.header_len()]);
        self.set_checksum(c);
    }
}

/// RFC 791 options: each is EOL (0), NOP (1) or type-length-value with a
/// length of at least 2 that stays inside the header. We act on none of them
/// (RFC 1122 §3.2.1.8 lets a host ignore unknown options) but refuse to
/// read past a malformed one.
pub fn check_options(mut opts: &[u8]) -> Result<(), DropReason> {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return Ok(()),
            1 => opts = &opts[1..],
            _ => {
                let len = *opts.get(1).ok_or(DropReason::IpBadOptions)? as usize;
                if len < 2 || len > opts.len() {
                    return Err(DropReason::IpBadOptions);
                }
                opts = &opts[len..];
            }
        }
    }
    Ok(())
}

/// An IPv4 header, parsed or to be sent: the same type both ways.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    /// Fragment offset in bytes.
    pub frag_offset: usize,
    /// IHL × 4. We send no options: 20 in every header we build.
    pub header_len: usize,
    pub total_len: usize,
}

impl Ipv4Repr {
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.frag_offset != 0
    }

    /// The checks of `ip_rcv_core` after `Ipv4Packet::new_checked`'s, in
    /// order: checksum, total length, TTL, options, source address.
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Result<Ipv4Repr, DropReason> {
        if !p.verify_checksum() {
            return Err(DropReason::IpBadChecksum);
        }
        let header_len = p.header_len();
        let total_len = p.total_len();
        if total_len < header_len || total_len > p.buffer.as_ref().len() {
            return Err(DropReason::IpBadTotalLength);
        }
        if p.ttl() == 0 {
            // RFC 1812 §5.3.1 / RFC 1122 §3.2.1.7: a TTL of 0 never travels a link.
            return Err(DropReason::IpTtlZero);
        }
        check_options(p.options())?;
        let hdr = Ipv4Repr {
            src: p.src_addr(),
            dst: p.dst_addr(),
            protocol: p.protocol(),
            ttl: p.ttl(),
            tos: p.tos(),
            ident: p.ident(),
            dont_fragment: p.dont_frag(),
            more_fragments: p.more_frags(),
            frag_offset: p.frag_offset(),
            header_len,
            total_len,
        };
        if hdr.src.is_broadcast() || hdr.src.is_multicast() {
            // RFC 1122 §3.2.1.3: a source address must be a unicast address.
            return Err(DropReason::IpBadSource);
        }
        Ok(hdr)
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        self.header_len
    }

    /// Write the fixed header and its checksum. Options (when `header_len`
    /// is over 20) must already be in place behind it: the checksum covers
    /// them.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Ipv4Packet<T>) {
        p.set_version_and_header_len(self.header_len);
        p.set_tos(self.tos);
        p.set_total_len(self.total_len);
        p.set_ident(self.ident);
        p.set_flags_and_offset(self.dont_fragment, self.more_fragments, self.frag_offset);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
        p.fill_checksum();
    }
}
