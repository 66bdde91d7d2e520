//! The TCP header and its options, parsed from and written to the wire.
//!
//! Read first: RFC 9293 §3.1 (header format), §3.2 (options: End of Option
//! List, No-Operation, MSS), RFC 7323 §2 (Window Scale), RFC 7323 §3
//! (Timestamps), RFC 2018 §2-§3 (SACK-Permitted and SACK blocks), RFC 2883
//! (a duplicate reported as the first SACK block). Linux:
//! `tcp_parse_options()` in net/ipv4/tcp_input.c, `tcp_options_write()` in
//! net/ipv4/tcp_output.c (whose byte layout we copy, so a capture of ours
//! reads like one of Linux's).

use super::seq::SeqNumber;
use crate::checksum;
use crate::stats::DropReason;
use std::net::Ipv4Addr;

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

    pub fn has(self, f: TcpFlags) -> bool {
        self.0 & f.0 == f.0
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
    /// skips it: the peer gets the default 536, RFC 9293 §3.7.1).
    pub mss_zero: bool,
    /// A Window Scale shift above 14 was seen and used as 14 (RFC 7323 §2.3).
    pub wscale_clamped: bool,
}

/// A parsed TCP header. `ack` is `Some` exactly when the ACK bit is set.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct TcpHdr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNumber,
    pub ack: Option<SeqNumber>,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    /// Header length in bytes (data offset × 4).
    pub hdr_len: usize,
    pub options: TcpOptions,
}

impl TcpOptions {
    /// The SACK blocks the segment carried.
    pub fn sack_blocks(&self) -> &[SackBlock] {
        &self.sack[..self.sack_n as usize]
    }
}

impl TcpHdr {
    pub fn syn(&self) -> bool {
        self.flags.has(TcpFlags::SYN)
    }
    pub fn fin(&self) -> bool {
        self.flags.has(TcpFlags::FIN)
    }
    pub fn rst(&self) -> bool {
        self.flags.has(TcpFlags::RST)
    }
}

/// Check the checksum, data offset, flags and options of the segment at
/// `seg` (header + payload) and parse its header (`tcp_v4_rcv`'s checks).
/// (The receive path itself goes through `tcp_parse_skb`; the tests read
/// the segments the stack sends with this one.)
#[cfg_attr(not(test), allow(dead_code))]
pub fn tcp_parse(src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8]) -> Result<TcpHdr, DropReason> {
    parse(src, dst, seg, true)
}

/// `tcp_parse` of the segment at `skb.data()`, with the checksum checked
/// only if the device has not (`skb_csum_unnecessary`, `IpSummed`).
pub fn tcp_parse_skb(src: Ipv4Addr, dst: Ipv4Addr, skb: &crate::SkBuff) -> Result<TcpHdr, DropReason> {
    parse(src, dst, skb.data(), !skb.csum_unnecessary())
}

fn parse(src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8], verify: bool) -> Result<TcpHdr, DropReason> {
    if seg.len() < TCP_HLEN {
        return Err(DropReason::TcpTooShort);
    }
    if verify && checksum::transport_checksum(src, dst, crate::ipv4::PROTO_TCP, seg) != 0 {
        return Err(DropReason::TcpBadChecksum);
    }
    let hdr_len = (seg[12] >> 4) as usize * 4;
    if hdr_len < TCP_HLEN || hdr_len > seg.len() {
        return Err(DropReason::TcpBadDataOffset);
    }
    let flags = TcpFlags(seg[13] & 0x3f);
    // SYN+FIN and SYN+RST are nonsense in every state (scanners send them).
    if flags.has(TcpFlags::SYN) && (flags.has(TcpFlags::FIN) || flags.has(TcpFlags::RST)) {
        return Err(DropReason::TcpBadFlags);
    }
    let be16 = |i: usize| u16::from_be_bytes([seg[i], seg[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([seg[i], seg[i + 1], seg[i + 2], seg[i + 3]]);
    let options = parse_options(&seg[TCP_HLEN..hdr_len])?;
    Ok(TcpHdr {
        src_port: be16(0),
        dst_port: be16(2),
        seq: SeqNumber(be32(4)),
        ack: flags.has(TcpFlags::ACK).then(|| SeqNumber(be32(8))),
        flags,
        window: be16(14),
        urgent: be16(18),
        hdr_len,
        options,
    })
}

/// RFC 9293 §3.2: kinds 0 and 1 are one byte; every other option has a length
/// byte that counts itself and the kind, so a bad length is a bad segment.
pub fn parse_options(mut b: &[u8]) -> Result<TcpOptions, DropReason> {
    let mut o = TcpOptions::default();
    while let Some(&kind) = b.first() {
        match kind {
            OPT_EOL => break,
            OPT_NOP => {
                b = &b[1..];
                continue;
            }
            _ => {}
        }
        let len = *b.get(1).ok_or(DropReason::TcpBadOptions)? as usize;
        if len < 2 || len > b.len() {
            return Err(DropReason::TcpBadOptions);
        }
        let body = &b[2..len];
        match (kind, len) {
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
            // RFC 2018 §3: 2 + 8·n bytes, n from 1 to 4. Linux ignores a SACK
            // option of another length rather than the segment, and so do we.
            (OPT_SACK, _) if (len - 2).is_multiple_of(8) && len > 2 => {
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
        b = &b[len..];
    }
    Ok(o)
}

/// The fields of a segment we are about to send.
#[derive(Copy, Clone, Debug)]
pub struct OutHdr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNumber,
    pub ack: SeqNumber,
    pub flags: TcpFlags,
    pub window: u16,
    /// Sent on SYN and SYN-ACK only.
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    /// SACK-Permitted (SYN and SYN-ACK only).
    pub sack_perm: bool,
    /// (TSval, TSecr), on every segment once both SYNs carried it.
    pub ts: Option<(u32, u32)>,
    /// SACK blocks (on ACKs while the out-of-order queue holds data).
    pub sack: [SackBlock; MAX_SACK_BLOCKS],
    pub sack_n: u8,
}

impl OutHdr {
    /// A header with no options.
    pub fn new(src_port: u16, dst_port: u16, seq: SeqNumber, ack: SeqNumber, flags: TcpFlags, window: u16) -> OutHdr {
        OutHdr {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window,
            mss: None,
            wscale: None,
            sack_perm: false,
            ts: None,
            sack: Default::default(),
            sack_n: 0,
        }
    }

    /// Bytes of options, laid out as Linux's `tcp_options_write` does:
    /// MSS; SACK-Permitted and Timestamps together (`sackOK,TS`), or each
    /// behind two NOPs; NOP + Window Scale; NOP, NOP + SACK blocks.
    pub fn options_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.ts.is_some() {
            n += TS_OPT_LEN;
        } else if self.sack_perm {
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

    /// Header length with the options this header carries.
    pub fn hdr_len(&self) -> usize {
        TCP_HLEN + self.options_len()
    }
    /// Write the header into `h` (exactly `self.hdr_len()` bytes) with a zero
    /// checksum; `finish_checksum` fills it in once the payload is behind it.
    pub fn write(&self, h: &mut [u8]) {
        h[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        h[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        h[4..8].copy_from_slice(&self.seq.0.to_be_bytes());
        h[8..12].copy_from_slice(&self.ack.0.to_be_bytes());
        h[12] = ((self.hdr_len() / 4) as u8) << 4;
        h[13] = self.flags.0;
        h[14..16].copy_from_slice(&self.window.to_be_bytes());
        h[16..20].copy_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
        let mut o = TCP_HLEN;
        if let Some(mss) = self.mss {
            h[o..o + 2].copy_from_slice(&[OPT_MSS, 4]);
            h[o + 2..o + 4].copy_from_slice(&mss.to_be_bytes());
            o += 4;
        }
        if let Some((val, ecr)) = self.ts {
            // With SACK-Permitted its two bytes take the place of the NOPs.
            let lead = if self.sack_perm { [OPT_SACK_PERM, 2] } else { [OPT_NOP, OPT_NOP] };
            h[o..o + 4].copy_from_slice(&[lead[0], lead[1], OPT_TIMESTAMP, 10]);
            h[o + 4..o + 8].copy_from_slice(&val.to_be_bytes());
            h[o + 8..o + 12].copy_from_slice(&ecr.to_be_bytes());
            o += TS_OPT_LEN;
        } else if self.sack_perm {
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

/// Fill in the checksum of the segment at `seg` (header written, checksum zero).
pub fn finish_checksum(src: Ipv4Addr, dst: Ipv4Addr, seg: &mut [u8]) {
    let c = checksum::transport_checksum(src, dst, crate::ipv4::PROTO_TCP, seg);
    seg[16..18].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(h.hdr_len, 40);
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
        let o = OutHdr {
            mss: Some(1460),
            wscale: Some(7),
            ..OutHdr::new(
                80,
                42012,
                SeqNumber(0xffff_fff0),
                SeqNumber(0x6b8b_4568),
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
        let syn = OutHdr {
            mss: Some(1460),
            wscale: Some(7),
            sack_perm: true,
            ts: Some((0x9d2c_118e, 0)),
            ..OutHdr::new(42012, 80, SeqNumber(0x6b8b_4567), SeqNumber(0), TcpFlags::SYN, 64240)
        };
        let mut buf = vec![0xa5; syn.hdr_len()];
        syn.write(&mut buf);
        finish_checksum(SRC, DST, &mut buf);
        // Linux writes NOP, WS 7 where our layout does too: the same 40 bytes.
        assert_eq!(buf, linux_syn());
        // SACK-Permitted without timestamps: NOP, NOP, sackOK.
        let o = OutHdr { sack_perm: true, ..OutHdr::new(1, 2, SeqNumber(0), SeqNumber(0), TcpFlags::SYN, 0) };
        let mut b = vec![0; o.hdr_len()];
        o.write(&mut b);
        assert_eq!(&b[20..], &[1, 1, 4, 2]);
        // A data ACK: NOP, NOP, TS, then NOP, NOP, SACK with three blocks: 60 bytes.
        let blocks = [(SeqNumber(100), SeqNumber(200)), (SeqNumber(300), SeqNumber(400)), (SeqNumber(7), SeqNumber(9))];
        let mut d =
            OutHdr { ts: Some((5, 6)), sack_n: 3, ..OutHdr::new(1, 2, SeqNumber(1), SeqNumber(2), TcpFlags::ACK, 9) };
        d.sack[..3].copy_from_slice(&blocks);
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
    fn sack_option_lengths() {
        // Four blocks (34 bytes) parse; a length that is not 2 + 8n is ignored.
        let mut four = vec![5u8, 34];
        for i in 0..8u32 {
            four.extend_from_slice(&(i * 10).to_be_bytes());
        }
        let o = parse_options(&four).unwrap();
        assert_eq!(o.sack_n, 4);
        assert_eq!(o.sack_blocks()[3], (SeqNumber(60), SeqNumber(70)));
        let o = parse_options(&[5, 6, 0, 0, 0, 1]).unwrap();
        assert_eq!(o.sack_n, 0);
        assert_eq!(parse_options(&[5, 2]).unwrap().sack_n, 0);
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
            assert_eq!(parse_options(opts), Err(DropReason::TcpBadOptions), "{opts:?}");
        }
        assert_eq!(parse_options(&[1, 1, 0, 77]).unwrap(), TcpOptions::default());
        assert_eq!(parse_options(&[30, 4, 9, 9]).unwrap(), TcpOptions::default());
        assert_eq!(parse_options(&[3, 3, 200, 0]).unwrap().wscale, Some(14));
        assert!(parse_options(&[3, 3, 200, 0]).unwrap().wscale_clamped);
        assert!(!parse_options(&[3, 3, 14, 0]).unwrap().wscale_clamped);
        let o = parse_options(&[2, 4, 0, 0]).unwrap();
        assert_eq!((o.mss, o.mss_zero), (None, true));
    }
}
