//! tcpdump's TCP line (print-tcp.c): flags, sequence numbers relative to
//! each connection's first ones, options, and the telnet option talk that
//! print-telnet.c decodes.
//!
//! Read first: RFC 9293 §3.1 (the header), RFC 7323 and RFC 2018 (the
//! options), RFC 854 and RFC 855 (telnet commands and options).

use super::{be16, be32, Printer, TcpConnKey, TcpSeqBase, Truncated, MAX_TCP_CONNS};
use std::fmt::Write;
use std::net::IpAddr;

impl Printer {
    // ----------------------------------------------------------------- TCP

    pub(super) fn tcp(&mut self, t: &[u8], length: usize, src: IpAddr, dst: IpAddr, out: &mut String) {
        let (Some(sport), Some(dport)) = (be16(t, 0), be16(t, 2)) else {
            let _ = write!(out, "{src} > {dst}: [|tcp]");
            return;
        };
        let _ = write!(out, "{src}.{sport} > {dst}.{dport}: ");
        if t.len() < 20 {
            return out.push_str(" [|tcp]");
        }
        let hlen = usize::from(t[12] >> 4) * 4;
        if hlen < 20 {
            let _ = write!(out, " tcp {} [bad hdr length {hlen} - too short, < 20]", length.saturating_sub(hlen));
            return;
        }
        let mut seq = be32(t, 4).unwrap_or(0);
        let mut ack = be32(t, 8).unwrap_or(0);
        let win = be16(t, 14).unwrap_or(0);
        let urp = be16(t, 18).unwrap_or(0);
        let flags = t[13];
        let _ = write!(out, "Flags [{}]", tcp_flags(flags));

        // Relative sequence numbers (print-tcp.c): only segments with ACK
        // set create or use the connection's entry; a SYN starts it over.
        let (mut base_seq, mut base_ack, mut rev) = (0, 0, false);
        if !self.absolute && flags & TH_ACK != 0 {
            rev = sport > dport || (sport == dport && ip_bytes(src) > ip_bytes(dst));
            let key = if rev {
                TcpConnKey { src: dst, dst: src, sport: dport, dport: sport }
            } else {
                TcpConnKey { src, dst, sport, dport }
            };
            let base = match self.conns.get(&key) {
                Some(b) if flags & TH_SYN == 0 => {
                    if rev {
                        seq = seq.wrapping_sub(b.ack);
                        ack = ack.wrapping_sub(b.seq);
                    } else {
                        seq = seq.wrapping_sub(b.seq);
                        ack = ack.wrapping_sub(b.ack);
                    }
                    *b
                }
                _ => {
                    let b = if rev {
                        TcpSeqBase { ack: seq, seq: ack.wrapping_sub(1) }
                    } else {
                        TcpSeqBase { seq, ack: ack.wrapping_sub(1) }
                    };
                    if self.conns.len() >= MAX_TCP_CONNS && !self.conns.contains_key(&key) {
                        self.conns.clear();
                    }
                    self.conns.insert(key, b);
                    b
                }
            };
            (base_seq, base_ack) = (base.seq, base.ack);
        }

        if hlen > length {
            let _ = write!(out, " [bad hdr length {hlen} - too long, > {length}]");
            return;
        }
        let data_len = length - hlen;
        if data_len > 0 || flags & (TH_SYN | TH_FIN | TH_RST) != 0 {
            let _ = write!(out, ", seq {seq}");
            if data_len > 0 {
                let _ = write!(out, ":{}", seq.wrapping_add(data_len as u32));
            }
        }
        if flags & TH_ACK != 0 {
            let _ = write!(out, ", ack {ack}");
        }
        let _ = write!(out, ", win {win}");
        if flags & TH_URG != 0 {
            let _ = write!(out, ", urg {urp}");
        }
        if hlen > 20 {
            out.push_str(", options [");
            let sack_base = if rev { base_seq } else { base_ack };
            if tcp_options(&t[20..], hlen - 20, sack_base, out).is_err() {
                return;
            }
            out.push(']');
        }
        let _ = write!(out, ", length {data_len}");
        // print-tcp.c hands the payload to a printer chosen by port; of
        // those, synack's captures meet telnet's (RFC 854 option talk).
        if data_len > 0 && (sport == TELNET_PORT || dport == TELNET_PORT) {
            let data = t.get(hlen..).unwrap_or(&[]);
            telnet(&data[..data.len().min(data_len)], out);
        }
    }
}

const TELNET_PORT: u16 = 23;
const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
/// Telnet commands from `xEOF` (236) to IAC (255), as arpa/telnet.h names them.
const TELCMDS: [&str; 20] = [
    "EOF", "SUSP", "ABORT", "EOR", "SE", "NOP", "DMARK", "BRK", "IP", "AO", "AYT", "EC", "EL", "GA", "SB", "WILL",
    "WONT", "DO", "DONT", "IAC",
];
/// Telnet options 0..=39, as arpa/telnet.h names them.
const TELOPTS: [&str; 40] = [
    "BINARY",
    "ECHO",
    "RCP",
    "SUPPRESS GO AHEAD",
    "NAME",
    "STATUS",
    "TIMING MARK",
    "RCTE",
    "NAOL",
    "NAOP",
    "NAOCRD",
    "NAOHTS",
    "NAOHTD",
    "NAOFFD",
    "NAOVTS",
    "NAOVTD",
    "NAOLFD",
    "EXTEND ASCII",
    "LOGOUT",
    "BYTE MACRO",
    "DATA ENTRY TERMINAL",
    "SUPDUP",
    "SUPDUP OUTPUT",
    "SEND LOCATION",
    "TERMINAL TYPE",
    "END OF RECORD",
    "TACACS UID",
    "OUTPUT MARKING",
    "TTYLOC",
    "3270 REGIME",
    "X.3 PAD",
    "NAWS",
    "TSPEED",
    "LFLOW",
    "LINEMODE",
    "XDISPLOC",
    "OLD-ENVIRON",
    "AUTHENTICATION",
    "ENCRYPT",
    "NEW-ENVIRON",
];
/// Sub-negotiation verbs (`IAC SB TERMINAL-TYPE SEND IAC SE`).
const SB_CMDS: [&str; 3] = ["IS", "SEND", "INFO"];

/// print-telnet.c: while the data starts with IAC, each command in
/// brackets, `[telnet WILL SUPPRESS GO AHEAD, DO ECHO]`; the first thing
/// that is not a whole command ends it.
fn telnet(mut d: &[u8], out: &mut String) {
    let mut first = true;
    while d.first() == Some(&IAC) {
        let Some((text, used)) = telnet_command(d) else { break };
        out.push_str(if first { " [telnet " } else { ", " });
        out.push_str(&text);
        first = false;
        d = &d[used..];
    }
    if !first {
        out.push(']');
    }
}

/// One command at the start of `d` (which starts with IAC): its text and length.
fn telnet_command(d: &[u8]) -> Option<(String, usize)> {
    let c = *d.get(1)?;
    if c == IAC {
        return Some(("IAC IAC".into(), 2));
    }
    let name = TELCMDS.get(usize::from(c).checked_sub(236)?)?;
    if !matches!(c, 251..=254 | SB) {
        return Some((name.to_string(), 2));
    }
    let x = *d.get(2)?;
    let mut text = match TELOPTS.get(usize::from(x)) {
        Some(opt) => format!("{name} {opt}"),
        None => format!("{name} {x:#x}"),
    };
    if c != SB {
        return Some((text, 3));
    }
    // IAC SB option ... IAC SE: the verb by name, the rest in hex.
    let body = &d[3..];
    let end = body.windows(2).position(|w| w == [IAC, SE])?;
    let mut rest = &body[..end];
    if let Some((&verb, tail)) = rest.split_first() {
        match SB_CMDS.get(usize::from(verb)) {
            Some(v) if x != 37 && x != 38 => text.push_str(&format!(" {v}")),
            _ => text.push_str(&format!(" {verb}")),
        }
        rest = tail;
    }
    for b in rest {
        text.push_str(&if *b == 0 { " 0".to_string() } else { format!(" {b:#x}") });
    }
    text.push_str(" SE");
    Some((text, 3 + end + 2))
}

const TH_FIN: u8 = 0x01;
const TH_SYN: u8 = 0x02;
const TH_RST: u8 = 0x04;
const TH_ACK: u8 = 0x10;
const TH_URG: u8 = 0x20;

fn ip_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// `[S.]`: one letter per flag in tcpdump's order, `none` when there are none.
fn tcp_flags(flags: u8) -> String {
    const NAMES: [(u8, char); 8] =
        [(0x01, 'F'), (0x02, 'S'), (0x04, 'R'), (0x08, 'P'), (0x10, '.'), (0x20, 'U'), (0x40, 'E'), (0x80, 'W')];
    let s: String = NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|&(_, c)| c).collect();
    if s.is_empty() {
        "none".to_string()
    } else {
        s
    }
}

/// The option list between `options [` and `]` (RFC 9293 §3.1, RFC 7323,
/// RFC 2018). `Err` when tcpdump stops the line (truncated or bad option);
/// its mark is already written.
fn tcp_options(opts: &[u8], hdr_len: usize, sack_base: u32, out: &mut String) -> Result<(), Truncated> {
    let mut remaining = hdr_len;
    let mut i = 0;
    let mut first = true;
    let trunc = |out: &mut String, mark: &str| {
        out.push_str(mark);
        Err(Truncated)
    };
    while remaining > 0 {
        if !first {
            out.push(',');
        }
        let first_opt = first;
        first = false;
        let Some(&kind) = opts.get(i) else { return trunc(out, " [|tcp]") };
        i += 1;
        let len = if kind <= 1 {
            1
        } else {
            let Some(&l) = opts.get(i) else { return trunc(out, " [|tcp]") };
            i += 1;
            let l = usize::from(l);
            if l < 2 || l > remaining {
                return bad_opt(out, first_opt);
            }
            remaining -= 1;
            l
        };
        remaining -= 1;
        let name = match kind {
            0 => "eol".to_string(),
            1 => "nop".to_string(),
            2 => "mss".to_string(),
            3 => "wscale".to_string(),
            4 => "sackOK".to_string(),
            5 => "sack".to_string(),
            6 => "echo".to_string(),
            7 => "echoreply".to_string(),
            8 => "TS".to_string(),
            19 => "md5".to_string(),
            28 => "uto".to_string(),
            29 => "tcp-ao".to_string(),
            30 => "mptcp".to_string(),
            34 => "tfo".to_string(),
            253 | 254 => "exp".to_string(),
            k => format!("unknown-{k}"),
        };
        out.push_str(&name);
        // Bytes the option's printer reads, and the mark when they are missing.
        let (datalen, mark) = match kind {
            0 | 1 | 4 => (0, " [|tcp]"),
            2 => (2, " [|tcp]"),
            3 => (1, " [|tcp]>"),
            6 | 7 => (4, " [|tcp]"),
            8 => (8, " [|tcp]>"),
            _ => (len.saturating_sub(2), " [|tcp]"),
        };
        if datalen > len.max(1) && kind > 1 {
            return bad_opt(out, first_opt);
        }
        let Some(data) = opts.get(i..i + datalen) else { return trunc(out, mark) };
        match kind {
            2 => {
                let _ = write!(out, " {}", u16::from_be_bytes([data[0], data[1]]));
            }
            3 => {
                let _ = write!(out, " {}", data[0]);
            }
            6 | 7 => {
                let _ = write!(out, " {}", be32(data, 0).unwrap_or(0));
            }
            8 => {
                let _ = write!(out, " val {} ecr {}", be32(data, 0).unwrap_or(0), be32(data, 4).unwrap_or(0));
            }
            5 => {
                if datalen % 8 != 0 {
                    out.push_str(" invalid sack");
                } else {
                    let _ = write!(out, " {} ", datalen / 8);
                    for block in data.chunks_exact(8) {
                        let s = be32(block, 0).unwrap_or(0).wrapping_sub(sack_base);
                        let e = be32(block, 4).unwrap_or(0).wrapping_sub(sack_base);
                        let _ = write!(out, "{{{s}:{e}}}");
                    }
                }
            }
            0 | 1 | 4 => {}
            _ => {
                if !data.is_empty() {
                    out.push_str(" 0x");
                    for b in data {
                        let _ = write!(out, "{b:02x}");
                    }
                }
            }
        }
        i += datalen;
        remaining = remaining.saturating_sub(datalen);
        let expected = datalen + if kind <= 1 { 1 } else { 2 };
        if expected != len {
            let _ = write!(out, "[len {len}]");
        }
        if kind == 0 {
            break;
        }
    }
    Ok(())
}

/// print-tcp.c's `bad:` label: the mark, and the list's `]` unless the bad
/// option was the first.
fn bad_opt(out: &mut String, first_opt: bool) -> Result<(), Truncated> {
    out.push_str(if first_opt { "[bad opt]" } else { "[bad opt]]" });
    Err(Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(d: &[u8]) -> String {
        let mut s = String::new();
        telnet(d, &mut s);
        s
    }

    #[test]
    fn option_talk_prints_as_tcpdump_does() {
        // From the telnet capture in pcaps/: synack's greeting, then Linux telnet's reply.
        assert_eq!(decoded(&[255, 251, 3, b's', b'y']), " [telnet WILL SUPPRESS GO AHEAD]");
        assert_eq!(
            decoded(&[255, 253, 38, 255, 251, 38, 255, 253, 3]),
            " [telnet DO ENCRYPT, WILL ENCRYPT, DO SUPPRESS GO AHEAD]"
        );
        assert_eq!(decoded(&[255, 251, 200]), " [telnet WILL 0xc8]");
        assert_eq!(decoded(&[255, 249, 255, 255]), " [telnet GA, IAC IAC]");
        // IAC SB TERMINAL-TYPE IS "vt" IAC SE
        assert_eq!(decoded(&[255, 250, 24, 0, b'v', b't', 255, 240]), " [telnet SB TERMINAL TYPE IS 0x76 0x74 SE]");
        // Text first, an unknown command, a cut-off one: nothing, or what came before.
        assert_eq!(decoded(b"hello"), "");
        assert_eq!(decoded(&[255, 10]), "");
        assert_eq!(decoded(&[255, 251, 1, 255, 250, 24, 1]), " [telnet WILL ECHO]");
        assert_eq!(decoded(&[255]), "");
    }
}
