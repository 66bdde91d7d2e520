//! The TCP header and its options: a view over the bytes (`TcpPacket`) and
//! the parsed header (`TcpRepr`), the same type parsed and emitted.
//!
//! Read first: RFC 9293 §3.1 (header format), §3.2 (options: End of Option
//! List, No-Operation, MSS), RFC 7323 §2 (Window Scale), RFC 7323 §3
//! (Timestamps), RFC 2018 §2-§3 (SACK-Permitted and SACK blocks), RFC 2883
//! (a duplicate reported as the first SACK block). Linux:
//! `tcp_parse_options()` in net/ipv4/tcp_input.c, `tcp_options_write()` in
//! net/ipv4/tcp_output.c (whose byte layout `TcpRepr::emit` copies, so a
//! capture of ours reads like one of Linux's). The sequence number type,
//! `SeqNumber`, compares modulo 2^32 as `before()`/`after()` in Linux's
//! include/net/tcp.h do (RFC 9293 §3.4, RFC 1982).
//!
//! ```text
//!  RFC 9293 §3.1:
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |          Source Port          |       Destination Port        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                        Sequence Number                        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                    Acknowledgment Number                      |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |  Data |       |C|E|U|A|P|R|S|F|                               |
//!    | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//!    |       |       |R|E|G|K|H|T|N|N|                               |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |           Checksum            |         Urgent Pointer        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                           [Options]                           |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                                                               :
//!    :                             Data                              :
//!    :                                                               |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::checksum;
use crate::stats::DropReason;
use crate::wire::ipv4::PROTO_TCP;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use std::net::Ipv4Addr;

/// Byte ranges of the fixed header.
pub mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    /// Data offset in the high nibble.
    pub const DATA_OFFSET: usize = 12;
    /// The control bits (CWR and ECE in the two high bits, unused here).
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
    /// Options, up to the data offset.
    pub const OPTIONS_START: usize = 20;
}

/// Header length without options.
pub const TCP_HLEN: usize = 20;

pub const OPT_EOL: u8 = 0;
pub const OPT_NOP: u8 = 1;
pub const OPT_MSS: u8 = 2;
pub const OPT_WSCALE: u8 = 3;
pub const OPT_SACK_PERM: u8 = 4;
pub const OPT_SACK: u8 = 5;
pub const OPT_TIMESTAMP: u8 = 8;

/// RFC 7323 §2.3: a shift above 14 is treated as 14.
pub const MAX_WSCALE: u8 = 14;

/// Bytes the Timestamps option takes on every segment once agreed: NOP,
/// NOP, kind, length, TSval, TSecr (RFC 7323 Appendix A's layout).
pub const TS_OPT_LEN: usize = 12;

/// RFC 2018 §3: at most four SACK blocks fit in the 40 bytes of options
/// (three next to timestamps).
pub const MAX_SACK_BLOCKS: usize = 4;

/// A TCP sequence number (RFC 9293 §3.4: compared modulo 2^32; RFC 1982),
/// the type of the header's sequence and acknowledgment fields.
/// Comparisons wrap: `a.before(b)` means `b` is less
/// than 2^31 ahead of `a`, exactly the kernel's `before(a, b)`. There is
/// deliberately no `PartialOrd`: a raw `<` on sequence numbers is a bug.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// `before(self, other)`: `self` comes strictly before `other`.
    pub fn before(self, other: SeqNumber) -> bool {
        (self.0.wrapping_sub(other.0) as i32) < 0
    }
    /// `after(self, other)`: `self` comes strictly after `other`.
    pub fn after(self, other: SeqNumber) -> bool {
        other.before(self)
    }
    pub fn before_eq(self, other: SeqNumber) -> bool {
        !self.after(other)
    }
    pub fn after_eq(self, other: SeqNumber) -> bool {
        !self.before(other)
    }
    /// `lo <= self < hi` in sequence space.
    pub fn in_range(self, lo: SeqNumber, hi: SeqNumber) -> bool {
        self.after_eq(lo) && self.before(hi)
    }
    /// Bytes from `earlier` up to `self`, zero if `self` is not after `earlier`.
    pub fn since(self, earlier: SeqNumber) -> usize {
        if self.after(earlier) {
            self.0.wrapping_sub(earlier.0) as usize
        } else {
            0
        }
    }
    /// The later of two sequence numbers.
    pub fn max_seq(self, other: SeqNumber) -> SeqNumber {
        if self.after(other) {
            self
        } else {
            other
        }
    }
    /// The earlier of two sequence numbers.
    pub fn min_seq(self, other: SeqNumber) -> SeqNumber {
        if self.before(other) {
            self
        } else {
            other
        }
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, n: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n as u32))
    }
}

impl AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, n: usize) {
        *self = *self + n;
    }
}

impl Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, n: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n as u32))
    }
}

/// Signed distance `self - other` (wrapping), like the kernel's `(s32)(a - b)`.
impl Sub<SeqNumber> for SeqNumber {
    type Output = i32;
    fn sub(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One SACK block: the bytes `[start, end)` the receiver holds (RFC 2018 §3:
/// "Left Edge of Block", "Right Edge of Block", the first sequence number
/// past it).
pub type SackBlock = (SeqNumber, SeqNumber);

/// The control bits, with their wire values.
#[derive(Copy, Clone, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// RFC 3168 (ECN): the two bits above URG, which `TcpPacket::flags`
    /// leaves out and `flags_byte` keeps.
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    pub fn has(self, f: TcpFlags) -> bool {
        self.0 & f.0 == f.0
    }
    /// Any of the bits of `f` is set.
    pub fn intersects(self, f: TcpFlags) -> bool {
        self.0 & f.0 != 0
    }
}

/// The control bits as plain names, to `use` and to match on
/// (`use stack::wire::tcp::flags::{ACK, SYN};`).
pub mod flags {
    use super::TcpFlags;
    pub const FIN: TcpFlags = TcpFlags::FIN;
    pub const SYN: TcpFlags = TcpFlags::SYN;
    pub const RST: TcpFlags = TcpFlags::RST;
    pub const PSH: TcpFlags = TcpFlags::PSH;
    pub const ACK: TcpFlags = TcpFlags::ACK;
    pub const URG: TcpFlags = TcpFlags::URG;
}

/// The bits set in both: `flags & (SYN | ACK) == SYN` is a SYN without ACK.
impl core::ops::BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, o: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & o.0)
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, o: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | o.0)
    }
}

/// tcpdump's spelling: `[S.]`, `[P.]`, `[F.]`, `[R]`.
impl core::fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut s = String::new();
        for (flag, c) in [
            (TcpFlags::SYN, 'S'),
            (TcpFlags::FIN, 'F'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ACK, '.'),
        ] {
            if self.has(flag) {
                s.push(c);
            }
        }
        if s.is_empty() {
            s.push_str("none");
        }
        write!(f, "[{s}]")
    }
}

/// A read-only (`&[u8]`) or read-write (`&mut [u8]`) view of a TCP segment.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// A view with no check: the accessors panic on a buffer too short.
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// A view of a buffer that holds at least the fixed header. The data
    /// offset is checked by `TcpRepr::parse`, after the checksum (the order
    /// `tcp_v4_rcv` checks in).
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>, DropReason> {
        if buffer.as_ref().len() < TCP_HLEN {
            return Err(DropReason::TcpTooShort);
        }
        Ok(TcpPacket { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }
    fn be32(&self, r: core::ops::Range<usize>) -> u32 {
        let b = &self.buffer.as_ref()[r];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    pub fn src_port(&self) -> u16 {
        self.be16(field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        self.be16(field::DST_PORT)
    }
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(self.be32(field::SEQ_NUM))
    }
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(self.be32(field::ACK_NUM))
    }
    /// Data offset × 4: the header length the segment claims.
    pub fn header_len(&self) -> usize {
        (self.buffer.as_ref()[field::DATA_OFFSET] >> 4) as usize * 4
    }
    /// The six control bits of RFC 793 (URG to FIN).
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS] & 0x3f)
    }
    /// The whole flags byte, CWR and ECE included.
    pub fn flags_byte(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    pub fn window_len(&self) -> u16 {
        self.be16(field::WINDOW)
    }
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }
    pub fn urgent_at(&self) -> u16 {
        self.be16(field::URGENT)
    }
    /// The option bytes (between the fixed header and the data offset).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS_START..self.header_len()]
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
    /// The checksum over the pseudo-header and the whole segment sums to
    /// zero (RFC 9293 §3.1).
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        checksum::transport_checksum(src, dst, PROTO_TCP, self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn put(&mut self, r: core::ops::Range<usize>, v: &[u8]) {
        self.buffer.as_mut()[r].copy_from_slice(v);
    }
    pub fn set_src_port(&mut self, v: u16) {
        self.put(field::SRC_PORT, &v.to_be_bytes());
    }
    pub fn set_dst_port(&mut self, v: u16) {
        self.put(field::DST_PORT, &v.to_be_bytes());
    }
    pub fn set_seq_number(&mut self, v: SeqNumber) {
        self.put(field::SEQ_NUM, &v.0.to_be_bytes());
    }
    pub fn set_ack_number(&mut self, v: SeqNumber) {
        self.put(field::ACK_NUM, &v.0.to_be_bytes());
    }
    /// Set the data offset (the reserved bits below it become zero).
    pub fn set_header_len(&mut self, len: usize) {
        self.buffer.as_mut()[field::DATA_OFFSET] = ((len / 4) as u8) << 4;
    }
    /// Set the whole flags byte.
    pub fn set_flags(&mut self, f: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = f.0;
    }
    pub fn set_window_len(&mut self, v: u16) {
        self.put(field::WINDOW, &v.to_be_bytes());
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.put(field::CHECKSUM, &v.to_be_bytes());
    }
    pub fn set_urgent_at(&mut self, v: u16) {
        self.put(field::URGENT, &v.to_be_bytes());
    }
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS_START..end]
    }
    /// Compute the checksum over the pseudo-header and the segment (the
    /// checksum field zero while summing) and write it.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let c = checksum::transport_checksum(src, dst, PROTO_TCP, self.buffer.as_ref());
        self.set_checksum(c);
    }
}

/// One option as it sits on the wire, for printers that show options in
/// the order they came (`tcpdump`); `TcpOptions::parse` folds them.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum TcpOption<'a> {
    EndOfList,
    NoOperation,
    /// Any other kind: its kind, and the bytes after the length byte
    /// (`len` counts kind and length too, RFC 9293 §3.2).
    Other {
        kind: u8,
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// The option at the start of `b` and the bytes after it, or `None`
    /// when its length byte is missing, below 2, or runs past `b`.
    pub fn parse(b: &'a [u8]) -> Option<(TcpOption<'a>, &'a [u8])> {
        match *b.first()? {
            OPT_EOL => Some((TcpOption::EndOfList, &b[1..])),
            OPT_NOP => Some((TcpOption::NoOperation, &b[1..])),
            kind => {
                let len = *b.get(1)? as usize;
                if len < 2 || len > b.len() {
                    return None;
                }
                Some((TcpOption::Other { kind, data: &b[2..len] }, &b[len..]))
            }
        }
    }
}

/// The options we understand. Unknown options are skipped by their length.
#[derive(Copy, Clone, PartialEq, Eq, Default, Debug)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    /// RFC 7323 §3: (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    /// RFC 2018 §3: the SACK blocks, `sack_n` of them.
    pub sack: [SackBlock; MAX_SACK_BLOCKS],
    pub sack_n: u8,
    /// An MSS option of 0 was seen and ignored (Linux `tcp_parse_options`
    /// skips it: the peer gets the default 536, RFC 9293 §3.7.1). Parse only.
    pub mss_zero: bool,
    /// A Window Scale shift above 14 was seen and used as 14 (RFC 7323
    /// §2.3). Parse only.
    pub wscale_clamped: bool,
}

impl TcpOptions {
    /// The SACK blocks the segment carried.
    pub fn sack_blocks(&self) -> &[SackBlock] {
        &self.sack[..self.sack_n as usize]
    }

    /// RFC 9293 §3.2: kinds 0 and 1 are one byte; every other option has a
    /// length byte that counts itself and the kind, so a bad length is a bad
    /// segment (`tcp_parse_options`).
    pub fn parse(mut b: &[u8]) -> Result<TcpOptions, DropReason> {
        let mut o = TcpOptions::default();
        while !b.is_empty() {
            let (opt, rest) = TcpOption::parse(b).ok_or(DropReason::TcpBadOptions)?;
            b = rest;
            let (kind, body) = match opt {
                TcpOption::EndOfList => break,
                TcpOption::NoOperation => continue,
                TcpOption::Other { kind, data } => (kind, data),
            };
            match (kind, body.len() + 2) {
                (OPT_MSS, 4) => match u16::from_be_bytes([body[0], body[1]]) {
                    // A zero MSS could carry no data; Linux ignores the option.
                    0 => o.mss_zero = true,
                    m => o.mss = Some(m),
                },
                (OPT_WSCALE, 3) => {
                    // RFC 7323 §2.3: "SHOULD log the error but MUST use 14 instead".
                    o.wscale_clamped = body[0] > MAX_WSCALE;
                    o.wscale = Some(body[0].min(MAX_WSCALE));
                }
                (OPT_SACK_PERM, 2) => o.sack_permitted = true,
                (OPT_TIMESTAMP, 10) => {
                    o.timestamp = Some((
                        u32::from_be_bytes([body[0], body[1], body[2], body[3]]),
                        u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
                    ))
                }
                // RFC 2018 §3: 2 + 8·n bytes, n from 1 to 4. Linux ignores a
                // SACK option of another length rather than the segment, and
                // so do we.
                (OPT_SACK, len) if (len - 2).is_multiple_of(8) && len > 2 => {
                    for (k, b) in body.chunks_exact(8).take(MAX_SACK_BLOCKS).enumerate() {
                        let start = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                        let end = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                        o.sack[k] = (SeqNumber(start), SeqNumber(end));
                        o.sack_n = k as u8 + 1;
                    }
                }
                (OPT_MSS | OPT_WSCALE | OPT_SACK_PERM | OPT_TIMESTAMP, _) => return Err(DropReason::TcpBadOptions),
                _ => {} // unknown kind: skipped by its length
            }
        }
        Ok(o)
    }

    /// Bytes of options `emit` writes, laid out as Linux's
    /// `tcp_options_write` does: MSS; SACK-Permitted and Timestamps together
    /// (`sackOK,TS`), or each behind two NOPs; NOP + Window Scale; NOP, NOP +
    /// SACK blocks.
    pub fn buffer_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.timestamp.is_some() {
            n += TS_OPT_LEN;
        } else if self.sack_permitted {
            n += 4;
        }
        if self.wscale.is_some() {
            n += 4;
        }
        if self.sack_n > 0 {
            n += 4 + 8 * self.sack_n as usize;
        }
        n
    }

    /// Write the options into `h` (exactly `buffer_len()` bytes).
    pub fn emit(&self, h: &mut [u8]) {
        let mut o = 0;
        if let Some(mss) = self.mss {
            h[o..o + 2].copy_from_slice(&[OPT_MSS, 4]);
            h[o + 2..o + 4].copy_from_slice(&mss.to_be_bytes());
            o += 4;
        }
        if let Some((val, ecr)) = self.timestamp {
            // With SACK-Permitted its two bytes take the place of the NOPs.
            let lead = if self.sack_permitted { [OPT_SACK_PERM, 2] } else { [OPT_NOP, OPT_NOP] };
            h[o..o + 4].copy_from_slice(&[lead[0], lead[1], OPT_TIMESTAMP, 10]);
            h[o + 4..o + 8].copy_from_slice(&val.to_be_bytes());
            h[o + 8..o + 12].copy_from_slice(&ecr.to_be_bytes());
            o += TS_OPT_LEN;
        } else if self.sack_permitted {
            h[o..o + 4].copy_from_slice(&[OPT_NOP, OPT_NOP, OPT_SACK_PERM, 2]);
            o += 4;
        }
        if let Some(ws) = self.wscale {
            // NOP pads the 3-byte option to a 4-byte boundary, as Linux does.
            h[o..o + 4].copy_from_slice(&[OPT_NOP, OPT_WSCALE, 3, ws]);
            o += 4;
        }
        if self.sack_n > 0 {
            let n = self.sack_n as usize;
            h[o..o + 4].copy_from_slice(&[OPT_NOP, OPT_NOP, OPT_SACK, (2 + 8 * n) as u8]);
            o += 4;
            for &(start, end) in &self.sack[..n] {
                h[o..o + 4].copy_from_slice(&start.0.to_be_bytes());
                h[o + 4..o + 8].copy_from_slice(&end.0.to_be_bytes());
                o += 8;
            }
        }
    }
}

/// A TCP header, parsed or to be sent: the same type both ways.
///
/// `ack` is `Some` on parse exactly when the ACK bit is set; on emit it is
/// written when `Some` (zero otherwise; the ACK bit is in `flags`).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNumber,
    pub ack: Option<SeqNumber>,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    pub options: TcpOptions,
}

impl TcpRepr {
    /// A header with no options.
    pub fn new(
        src_port: u16,
        dst_port: u16,
        seq: SeqNumber,
        ack: Option<SeqNumber>,
        flags: TcpFlags,
        window: u16,
    ) -> TcpRepr {
        TcpRepr { src_port, dst_port, seq, ack, flags, window, urgent: 0, options: TcpOptions::default() }
    }

    pub fn syn(&self) -> bool {
        self.flags.has(TcpFlags::SYN)
    }
    pub fn fin(&self) -> bool {
        self.flags.has(TcpFlags::FIN)
    }
    pub fn rst(&self) -> bool {
        self.flags.has(TcpFlags::RST)
    }

    /// Check the checksum (if `verify`), data offset, flags and options of
    /// the segment, in that order (`tcp_v4_rcv`'s checks), and parse it.
    pub fn parse<T: AsRef<[u8]>>(
        p: &TcpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        verify: bool,
    ) -> Result<TcpRepr, DropReason> {
        if verify && !p.verify_checksum(src, dst) {
            return Err(DropReason::TcpBadChecksum);
        }
        let hdr_len = p.header_len();
        if hdr_len < TCP_HLEN || hdr_len > p.buffer.as_ref().len() {
            return Err(DropReason::TcpBadDataOffset);
        }
        let flags = p.flags();
        // SYN+FIN and SYN+RST are nonsense in every state (scanners send them).
        if flags.has(TcpFlags::SYN) && (flags.has(TcpFlags::FIN) || flags.has(TcpFlags::RST)) {
            return Err(DropReason::TcpBadFlags);
        }
        let options = TcpOptions::parse(p.options())?;
        Ok(TcpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq_number(),
            ack: flags.has(TcpFlags::ACK).then(|| p.ack_number()),
            flags,
            window: p.window_len(),
            urgent: p.urgent_at(),
            options,
        })
    }

    /// Bytes of options `emit` writes.
    pub fn options_len(&self) -> usize {
        self.options.buffer_len()
    }
    /// Header length `emit` writes: the fixed header and the options.
    pub fn hdr_len(&self) -> usize {
        TCP_HLEN + self.options_len()
    }

    /// Write the header (`hdr_len()` bytes) with a zero checksum;
    /// `finish_checksum` fills it in once the payload is behind it.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut TcpPacket<T>) {
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq_number(self.seq);
        p.set_ack_number(self.ack.unwrap_or(SeqNumber(0)));
        p.set_header_len(self.hdr_len());
        p.set_flags(self.flags);
        p.set_window_len(self.window);
        p.set_checksum(0);
        p.set_urgent_at(self.urgent);
        self.options.emit(p.options_mut());
    }

    /// `emit` into the first `hdr_len()` bytes of `h`.
    pub fn write(&self, h: &mut [u8]) {
        self.emit(&mut TcpPacket::new_unchecked(h));
    }
}

/// Check and parse the segment at `seg` (header + payload), checksum
/// included. (The receive path goes through `tcp_parse_skb`; the tests read
/// the segments the stack sends with this one.)
pub fn tcp_parse(src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8]) -> Result<TcpRepr, DropReason> {
    TcpRepr::parse(&TcpPacket::new_checked(seg)?, src, dst, true)
}

/// `tcp_parse` of the segment at `skb.data()`, with the checksum checked
/// only if the device has not (`skb_csum_unnecessary`, `IpSummed`).
pub fn tcp_parse_skb(src: Ipv4Addr, dst: Ipv4Addr, skb: &crate::skbuff::SkBuff) -> Result<TcpRepr, DropReason> {
    TcpRepr::parse(&TcpPacket::new_checked(skb.data())?, src, dst, !skb.csum_unnecessary())
}

/// Fill in the checksum of the segment at `seg` (header written).
pub fn finish_checksum(src: Ipv4Addr, dst: Ipv4Addr, seg: &mut [u8]) {
    TcpPacket::new_unchecked(seg).fill_checksum(src, dst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_wrap() {
        let a = SeqNumber(u32::MAX - 10);
        let b = a + 20usize;
        assert_eq!(b.0, 9);
        assert!(a.before(b) && b.after(a));
        assert!(a.before_eq(a) && a.after_eq(a) && !a.before(a));
        assert_eq!(b - a, 20);
        assert_eq!(a - b, -20);
        assert_eq!(b.since(a), 20);
        assert_eq!(a.since(b), 0);
        assert!((a + 5usize).in_range(a, b));
        assert!(!b.in_range(a, b));
        assert_eq!(a.max_seq(b), b);
        assert_eq!(a.min_seq(b), a);
    }

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// A SYN as Linux 6.x sends it (`curl` to port 80): MSS 1460, SACK
    /// permitted, timestamps, NOP, window scale 7, window 64240.
    fn linux_syn() -> Vec<u8> {
        let mut s = vec![
            0xa4, 0x1c, 0x00, 0x50, // ports 42012 -> 80
            0x6b, 0x8b, 0x45, 0x67, // seq
            0x00, 0x00, 0x00, 0x00, // ack
            0xa0, 0x02, 0xfa, 0xf0, // doff 10, SYN, window 64240
            0x00, 0x00, 0x00, 0x00, // checksum, urgent
            0x02, 0x04, 0x05, 0xb4, // MSS 1460
            0x04, 0x02, // SACK permitted
            0x08, 0x0a, 0x9d, 0x2c, 0x11, 0x8e, 0x00, 0x00, 0x00, 0x00, // TS
            0x01, // NOP
            0x03, 0x03, 0x07, // WS 7
        ];
        finish_checksum(SRC, DST, &mut s);
        s
    }

    #[test]
    fn parses_a_linux_syn() {
        let h = tcp_parse(SRC, DST, &linux_syn()).unwrap();
        assert_eq!((h.src_port, h.dst_port), (42012, 80));
        assert_eq!(h.seq, SeqNumber(0x6b8b_4567));
        assert_eq!(h.ack, None);
        assert!(h.syn() && !h.fin() && !h.rst());
        assert_eq!(h.window, 64240);
        assert_eq!(h.hdr_len(), 40);
        assert_eq!(
            h.options,
            TcpOptions {
                mss: Some(1460),
                wscale: Some(7),
                sack_permitted: true,
                timestamp: Some((0x9d2c_118e, 0)),
                ..TcpOptions::default()
            }
        );
        assert_eq!(format!("{:?}", h.flags), "[S]");
    }

    #[test]
    fn emit_writes_every_byte() {
        // A SYN-ACK: every header byte must be written over the 0xa5 fill.
        let o = TcpRepr {
            options: TcpOptions { mss: Some(1460), wscale: Some(7), ..TcpOptions::default() },
            ..TcpRepr::new(
                80,
                42012,
                SeqNumber(0xffff_fff0),
                Some(SeqNumber(0x6b8b_4568)),
                TcpFlags::SYN | TcpFlags::ACK,
                65535,
            )
        };
        let mut buf = vec![0xa5; o.hdr_len()];
        o.write(&mut buf);
        assert_eq!(
            buf,
            [
                0, 80, 0xa4, 0x1c, 0xff, 0xff, 0xff, 0xf0, 0x6b, 0x8b, 0x45, 0x68, 0x70, 0x12, 0xff, 0xff, 0, 0, 0, 0,
                2, 4, 5, 0xb4, 1, 3, 3, 7
            ]
        );
        finish_checksum(DST, SRC, &mut buf);
        let h = tcp_parse(DST, SRC, &buf).unwrap();
        assert_eq!(h.ack, Some(SeqNumber(0x6b8b_4568)));
        assert_eq!(h.options.mss, Some(1460));
        assert_eq!(h.options.wscale, Some(7));
    }

    #[test]
    fn options_laid_out_as_linux_writes_them() {
        // A SYN with every option: exactly the option bytes of `linux_syn()`.
        let syn = TcpRepr {
            options: TcpOptions {
                mss: Some(1460),
                wscale: Some(7),
                sack_permitted: true,
                timestamp: Some((0x9d2c_118e, 0)),
                ..TcpOptions::default()
            },
            ..TcpRepr::new(42012, 80, SeqNumber(0x6b8b_4567), None, TcpFlags::SYN, 64240)
        };
        let mut buf = vec![0xa5; syn.hdr_len()];
        syn.write(&mut buf);
        finish_checksum(SRC, DST, &mut buf);
        // Linux writes NOP, WS 7 where our layout does too: the same 40 bytes.
        assert_eq!(buf, linux_syn());
        // SACK-Permitted without timestamps: NOP, NOP, sackOK.
        let o = TcpRepr {
            options: TcpOptions { sack_permitted: true, ..TcpOptions::default() },
            ..TcpRepr::new(1, 2, SeqNumber(0), None, TcpFlags::SYN, 0)
        };
        let mut b = vec![0; o.hdr_len()];
        o.write(&mut b);
        assert_eq!(&b[20..], &[1, 1, 4, 2]);
        // A data ACK: NOP, NOP, TS, then NOP, NOP, SACK with three blocks: 60 bytes.
        let blocks = [(SeqNumber(100), SeqNumber(200)), (SeqNumber(300), SeqNumber(400)), (SeqNumber(7), SeqNumber(9))];
        let mut d = TcpRepr {
            options: TcpOptions { timestamp: Some((5, 6)), sack_n: 3, ..TcpOptions::default() },
            ..TcpRepr::new(1, 2, SeqNumber(1), Some(SeqNumber(2)), TcpFlags::ACK, 9)
        };
        d.options.sack[..3].copy_from_slice(&blocks);
        assert_eq!(d.hdr_len(), 60);
        let mut b = vec![0xa5; d.hdr_len()];
        d.write(&mut b);
        finish_checksum(SRC, DST, &mut b);
        let h = tcp_parse(SRC, DST, &b).unwrap();
        assert_eq!(h.options.timestamp, Some((5, 6)));
        assert_eq!(h.options.sack_blocks(), &blocks);
        assert_eq!(&b[20..24], &[1, 1, 8, 10]);
        assert_eq!(&b[32..36], &[1, 1, 5, 26]);
    }

    #[test]
    fn flags_combine_and_test() {
        let synack = TcpFlags::SYN | TcpFlags::ACK;
        assert!(synack.has(TcpFlags::SYN) && synack.has(synack) && !synack.has(TcpFlags::SYN | TcpFlags::FIN));
        assert!(synack.intersects(TcpFlags::SYN | TcpFlags::FIN) && !synack.intersects(TcpFlags::RST));
        assert_eq!(synack & (TcpFlags::SYN | TcpFlags::FIN), TcpFlags::SYN);
        assert_eq!(TcpFlags::PSH & TcpFlags::ACK, TcpFlags::default());
        let ecn = TcpPacket::new_unchecked([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0xd2]);
        assert!(TcpFlags(ecn.flags_byte()).has(TcpFlags::ECE | TcpFlags::CWR));
        assert_eq!(ecn.flags(), TcpFlags::SYN | TcpFlags::ACK);
    }

    #[test]
    fn sack_option_lengths() {
        // Four blocks (34 bytes) parse; a length that is not 2 + 8n is ignored.
        let mut four = vec![5u8, 34];
        for i in 0..8u32 {
            four.extend_from_slice(&(i * 10).to_be_bytes());
        }
        let o = TcpOptions::parse(&four).unwrap();
        assert_eq!(o.sack_n, 4);
        assert_eq!(o.sack_blocks()[3], (SeqNumber(60), SeqNumber(70)));
        let o = TcpOptions::parse(&[5, 6, 0, 0, 0, 1]).unwrap();
        assert_eq!(o.sack_n, 0);
        assert_eq!(TcpOptions::parse(&[5, 2]).unwrap().sack_n, 0);
    }

    #[test]
    fn malformed_headers_have_reasons() {
        let good = linux_syn();
        assert_eq!(tcp_parse(SRC, DST, &good[..19]), Err(DropReason::TcpTooShort));
        let mut bad = good.clone();
        bad[30] ^= 1;
        assert_eq!(tcp_parse(SRC, DST, &bad), Err(DropReason::TcpBadChecksum));
        for doff in [0x40u8, 0xf0] {
            let mut bad = good.clone();
            bad[12] = doff;
            bad[16] = 0;
            bad[17] = 0;
            finish_checksum(SRC, DST, &mut bad);
            assert_eq!(tcp_parse(SRC, DST, &bad), Err(DropReason::TcpBadDataOffset));
        }
        let mut bad = good.clone();
        bad[13] = 0x03; // SYN+FIN
        bad[16] = 0;
        bad[17] = 0;
        finish_checksum(SRC, DST, &mut bad);
        assert_eq!(tcp_parse(SRC, DST, &bad), Err(DropReason::TcpBadFlags));
        // Option lengths: zero, one, past the end, wrong for the kind.
        for opts in [&[2u8, 0, 0, 0][..], &[8, 1, 0, 0], &[1, 1, 5, 9], &[2, 3, 5, 0]] {
            assert_eq!(TcpOptions::parse(opts), Err(DropReason::TcpBadOptions), "{opts:?}");
        }
        assert_eq!(TcpOptions::parse(&[1, 1, 0, 77]).unwrap(), TcpOptions::default());
        assert_eq!(TcpOptions::parse(&[30, 4, 9, 9]).unwrap(), TcpOptions::default());
        assert_eq!(TcpOptions::parse(&[3, 3, 200, 0]).unwrap().wscale, Some(14));
        assert!(TcpOptions::parse(&[3, 3, 200, 0]).unwrap().wscale_clamped);
        assert!(!TcpOptions::parse(&[3, 3, 14, 0]).unwrap().wscale_clamped);
        let o = TcpOptions::parse(&[2, 4, 0, 0]).unwrap();
        assert_eq!((o.mss, o.mss_zero), (None, true));
    }
}
