//! ARP for IPv4 over Ethernet: a view over the bytes (`ArpPacket`) and the
//! parsed packet (`ArpRepr`), the same type parsed and emitted.
//!
//! Read first: RFC 826 ("Packet format", "Packet Reception").
//!
//! ```text
//!  RFC 826, for Ethernet (hln 6) and IPv4 (pln 4):
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |         Hardware (hrd)        |         Protocol (pro)        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |   HLen (hln)  |   PLen (pln)  |         Operation (op)        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |              Sender hardware address (sha), 6 bytes           |
//!    +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                               |   Sender protocol addr (spa)  |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |      (spa, cont.)             |  Target hardware addr (tha)   |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//!    |                        (tha, cont.)                           |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                 Target protocol address (tpa)                 |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::stats::DropReason;
use crate::wire::ethernet::{MacAddr, ETHERTYPE_IPV4};
use std::net::Ipv4Addr;

/// Byte ranges of an Ethernet/IPv4 ARP packet.
pub mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

pub const ARP_LEN: usize = 28;
pub const ARPHRD_ETHER: u16 = 1;
pub const ARPOP_REQUEST: u16 = 1;
pub const ARPOP_REPLY: u16 = 2;

/// A read-only (`&[u8]`) or read-write (`&mut [u8]`) view of an ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

fn ip_at(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// A view with no check: the accessors panic on a buffer too short.
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }
    /// A view of a buffer that holds the 28 bytes of an Ethernet/IPv4 packet.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>, DropReason> {
        if buffer.as_ref().len() < ARP_LEN {
            return Err(DropReason::ArpTruncated);
        }
        Ok(ArpPacket { buffer })
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }
    pub fn hardware_type(&self) -> u16 {
        self.be16(field::HTYPE)
    }
    pub fn protocol_type(&self) -> u16 {
        self.be16(field::PTYPE)
    }
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }
    pub fn operation(&self) -> u16 {
        self.be16(field::OPER)
    }
    pub fn source_hardware_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::SHA])
    }
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        ip_at(&self.buffer.as_ref()[field::SPA])
    }
    pub fn target_hardware_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::THA])
    }
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        ip_at(&self.buffer.as_ref()[field::TPA])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    fn put(&mut self, r: core::ops::Range<usize>, v: &[u8]) {
        self.buffer.as_mut()[r].copy_from_slice(v);
    }
    pub fn set_hardware_type(&mut self, v: u16) {
        self.put(field::HTYPE, &v.to_be_bytes());
    }
    pub fn set_protocol_type(&mut self, v: u16) {
        self.put(field::PTYPE, &v.to_be_bytes());
    }
    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }
    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }
    pub fn set_operation(&mut self, v: u16) {
        self.put(field::OPER, &v.to_be_bytes());
    }
    pub fn set_source_hardware_addr(&mut self, a: MacAddr) {
        self.put(field::SHA, &a.0);
    }
    pub fn set_source_protocol_addr(&mut self, a: Ipv4Addr) {
        self.put(field::SPA, &a.octets());
    }
    pub fn set_target_hardware_addr(&mut self, a: MacAddr) {
        self.put(field::THA, &a.0);
    }
    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.put(field::TPA, &a.octets());
    }
}

/// An Ethernet/IPv4 ARP packet (RFC 826), the only kind we speak.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct ArpRepr {
    pub op: u16,
    pub sha: MacAddr,
    pub spa: Ipv4Addr,
    pub tha: MacAddr,
    pub tpa: Ipv4Addr,
}

impl ArpRepr {
    /// Check every fixed field (hardware, then protocol, then operation);
    /// anything else is dropped by reason.
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> Result<ArpRepr, DropReason> {
        if p.hardware_type() != ARPHRD_ETHER || p.hardware_len() != 6 {
            return Err(DropReason::ArpBadHardware);
        }
        if p.protocol_type() != ETHERTYPE_IPV4 || p.protocol_len() != 4 {
            return Err(DropReason::ArpBadProtocol);
        }
        let op = p.operation();
        if op != ARPOP_REQUEST && op != ARPOP_REPLY {
            return Err(DropReason::ArpBadOpcode);
        }
        Ok(ArpRepr {
            op,
            sha: p.source_hardware_addr(),
            spa: p.source_protocol_addr(),
            tha: p.target_hardware_addr(),
            tpa: p.target_protocol_addr(),
        })
    }
    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        ARP_LEN
    }
    /// Write the 28 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut ArpPacket<T>) {
        p.set_hardware_type(ARPHRD_ETHER);
        p.set_protocol_type(ETHERTYPE_IPV4);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(self.op);
        p.set_source_hardware_addr(self.sha);
        p.set_source_protocol_addr(self.spa);
        p.set_target_hardware_addr(self.tha);
        p.set_target_protocol_addr(self.tpa);
    }
}
