//! One line per frame in the format of `tcpdump -n` (tcpdump 4.99).
//!
//! Read first: tcpdump(8), "OUTPUT FORMAT", and tcpdump's own printers
//! (print-ether.c, print-arp.c, print-ip.c, print-icmp.c, print-udp.c,
//! print-tcp.c, print-ip6.c, print-icmp6.c). What follows mimics what
//! `tcpdump -n` prints without `-v`, quirks included (the double space in
//! `IP  [|ip]`, `truncated-ip - N bytes missing!`, `ip-proto-1` for a
//! fragment after the first), so a student can hold our trace next to a
//! real capture. Every expected line in the tests below was printed by
//! tcpdump itself from the same bytes.
//!
//! The line carries no timestamp, and no leading space: the caller prints
//! `"{time} {direction} {line}"`. tcpdump's application-layer printers (DNS,
//! DHCP, HTTP, telnet options …) are not reproduced: a UDP datagram is
//! always `UDP, length N` and a TCP segment ends at `length N`. Neither are
//! the rarer ICMPv6 messages or TCP options (MPTCP, TFO, MD5), which print
//! their name and bytes in hex.
//!
//! By default tcpdump shows TCP sequence numbers relative to the first
//! ones it saw of each connection (`Printer::new()`); `-S` shows them as
//! they are on the wire (`Printer::absolute()`, and `format_frame`).
//!
//! Nothing here can panic on any input: every read is bounds-checked and a
//! short frame prints tcpdump's truncation mark (`[|ether]`, `[|ip]`, …).

use std::collections::HashMap;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Format one Ethernet frame as `tcpdump -n -S` would print it (absolute
/// TCP sequence numbers: one frame carries no connection state).
pub fn format_frame(frame: &[u8]) -> String {
    Printer::absolute().format(frame)
}

/// How many connections a `Printer` remembers for relative sequence
/// numbers; when full it forgets them all (tcpdump's table grows forever).
const MAX_TCP_CONNS: usize = 4096;

/// tcpdump's per-connection initial sequence numbers (`tcp_seq_hash`).
#[derive(Copy, Clone, Debug)]
struct TcpSeqBase {
    seq: u32,
    ack: u32,
}

/// A connection as tcpdump keys it: one entry for both directions, the
/// side with the lower port first (`rev` says which side a segment is from).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
struct TcpConnKey {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
}

/// A tcpdump that remembers what it printed: relative TCP sequence numbers
/// per connection, as `tcpdump -n` prints them (or absolute ones, `-S`).
#[derive(Debug, Default)]
pub struct Printer {
    /// `-S`: print sequence and acknowledgement numbers as they are.
    pub absolute: bool,
    conns: HashMap<TcpConnKey, TcpSeqBase>,
}

/// Where a line stopped early: tcpdump's `[|proto]` mark.
struct Truncated;

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn be32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(i)?, *b.get(i + 1)?, *b.get(i + 2)?, *b.get(i + 3)?]))
}

fn ipv4_at(b: &[u8], i: usize) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::from(be32(b, i)?))
}

fn ipv6_at(b: &[u8], i: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(i..i + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

/// `aa:bb:cc:…`, as many bytes as there are (a MAC is six).
fn link_addr(b: &[u8]) -> String {
    let parts: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    parts.join(":")
}

impl Printer {
    /// Relative TCP sequence numbers, like plain `tcpdump -n`.
    pub fn new() -> Printer {
        Printer::default()
    }

    /// Absolute TCP sequence numbers, like `tcpdump -n -S`.
    pub fn absolute() -> Printer {
        Printer { absolute: true, ..Printer::default() }
    }

    /// Forget every connection (the next segment of each prints absolute).
    pub fn reset(&mut self) {
        self.conns.clear();
    }

    /// Format one Ethernet frame as one line of `tcpdump -n`, without the
    /// timestamp.
    pub fn format(&mut self, frame: &[u8]) -> String {
        let mut out = String::new();
        self.ether(frame, &mut out);
        out.trim_start().to_string()
    }

    // ------------------------------------------------------------ Ethernet

    fn ether(&mut self, f: &[u8], out: &mut String) {
        let (Some(dst), Some(src), Some(mut ethertype)) = (f.get(0..6), f.get(6..12), be16(f, 12)) else {
            out.push_str(" [|ether]");
            return;
        };
        let mut payload = &f[14..];
        // IEEE 802.1Q: without -e tcpdump shows only what the tag carries.
        for _ in 0..2 {
            if ethertype != 0x8100 && ethertype != 0x88a8 {
                break;
            }
            let Some(inner) = be16(payload, 2) else {
                out.push_str(" [|vlan]");
                return;
            };
            ethertype = inner;
            payload = &payload[4..];
        }
        match ethertype {
            0x0800 => self.ipv4(payload, out),
            0x0806 => arp(payload, out),
            0x86dd => self.ipv6(payload, out),
            t if t < 0x0600 => {
                let _ = write!(out, "{} > {}, 802.3, length {}", link_addr(src), link_addr(dst), f.len());
            }
            t => {
                let _ = write!(
                    out,
                    "{} > {}, ethertype Unknown (0x{t:04x}), length {}: ",
                    link_addr(src),
                    link_addr(dst),
                    f.len()
                );
            }
        }
    }

    // ---------------------------------------------------------------- IPv4

    fn ipv4(&mut self, p: &[u8], out: &mut String) {
        let Some(&vihl) = p.first() else {
            out.push_str(" [|ip]");
            return;
        };
        match vihl >> 4 {
            4 => {}
            6 => return out.push_str("IP6, wrong link-layer encapsulation (invalid)"),
            v => return write!(out, "IP{v} (invalid)").unwrap_or(()),
        }
        out.push_str("IP ");
        if p.len() < 20 {
            return out.push_str(" [|ip]");
        }
        let hlen = usize::from(vihl & 0x0f) * 4;
        if hlen < 20 {
            return write!(out, "bad-hlen {hlen}").unwrap_or(());
        }
        let len = usize::from(be16(p, 2).unwrap_or(0));
        if len < hlen {
            return write!(out, "bad-len {len}").unwrap_or(());
        }
        if p.len() < len {
            let _ = write!(out, "truncated-ip - {} bytes missing! ", len - p.len());
        }
        // What tcpdump looks at ends where the IP packet does (not the padding).
        let cap = &p[..p.len().min(len)];
        let (src, dst) =
            (ipv4_at(p, 12).unwrap_or(Ipv4Addr::UNSPECIFIED), ipv4_at(p, 16).unwrap_or(Ipv4Addr::UNSPECIFIED));
        let frag_off = be16(p, 6).unwrap_or(0) & 0x1fff;
        let proto = p[9];
        if frag_off != 0 {
            // Not the first fragment: no transport header to show.
            return write!(out, "{src} > {dst}: ip-proto-{proto}").unwrap_or(());
        }
        if cap.len() < hlen {
            let _ = write!(out, "{src} > {dst}:  [remaining caplen({}) < header length({hlen})] [|ip]", cap.len());
            return;
        }
        let l4 = &cap[hlen..];
        let length = len - hlen;
        let (src, dst) = (IpAddr::V4(src), IpAddr::V4(dst));
        self.transport(proto, l4, length, src, dst, out);
    }

    /// `ip_demux_print`: the payload of an IPv4 or IPv6 packet.
    fn transport(&mut self, proto: u8, l4: &[u8], length: usize, src: IpAddr, dst: IpAddr, out: &mut String) {
        match proto {
            6 => self.tcp(l4, length, src, dst, out),
            17 => udp(l4, length, src, dst, out),
            1 if src.is_ipv4() => {
                let _ = write!(out, "{src} > {dst}: ");
                icmp(l4, length, out);
            }
            58 if src.is_ipv6() => {
                let _ = write!(out, "{src} > {dst}: ");
                icmp6(l4, length, out);
            }
            2 if src.is_ipv4() => {
                let _ = write!(out, "{src} > {dst}: ");
                igmp(l4, out);
            }
            p => {
                let _ = write!(out, "{src} > {dst}:  ip-proto-{p} {length}");
            }
        }
    }

    // ---------------------------------------------------------------- IPv6

    fn ipv6(&mut self, p: &[u8], out: &mut String) {
        if p.len() < 40 {
            return out.push_str(" [|ip6]");
        }
        let version = p[0] >> 4;
        if version != 6 {
            return write!(out, "IP6 version error: {version} != 6").unwrap_or(());
        }
        out.push_str("IP6 ");
        let plen = usize::from(be16(p, 4).unwrap_or(0));
        let have = p.len() - 40;
        if have < plen {
            let _ = write!(out, "truncated-ip6 - {} bytes missing!", plen - have);
        }
        let mut cap = &p[40..p.len().min(40 + plen)];
        let mut length = plen;
        let (Some(src), Some(dst)) = (ipv6_at(p, 8), ipv6_at(p, 24)) else { return };
        let (src, dst) = (IpAddr::V6(src), IpAddr::V6(dst));
        let mut next = p[6];
        let mut shown_addrs = false;
        // Extension headers we can step over: hop-by-hop and destination options.
        for _ in 0..8 {
            let name = match next {
                0 => "HBH ",
                60 => "DSTOPT ",
                _ => break,
            };
            let (Some(&nh), Some(&hdr_len)) = (cap.first(), cap.get(1)) else {
                return out.push_str(" [|ip6]");
            };
            let ext_len = (usize::from(hdr_len) + 1) * 8;
            if cap.len() < ext_len {
                return out.push_str(" [|ip6]");
            }
            if !shown_addrs {
                let _ = write!(out, "{src} > {dst}: ");
                shown_addrs = true;
            }
            out.push_str(name);
            cap = &cap[ext_len..];
            length = length.saturating_sub(ext_len);
            next = nh;
        }
        if shown_addrs {
            match next {
                58 => icmp6(cap, length, out),
                p => {
                    let _ = write!(out, "ip-proto-{p} {length}");
                }
            }
            return;
        }
        self.transport(next, cap, length, src, dst, out);
    }

    // ----------------------------------------------------------------- TCP

    fn tcp(&mut self, t: &[u8], length: usize, src: IpAddr, dst: IpAddr, out: &mut String) {
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

// ------------------------------------------------------------------- UDP

fn udp(u: &[u8], length: usize, src: IpAddr, dst: IpAddr, out: &mut String) {
    let (Some(sport), Some(dport)) = (be16(u, 0), be16(u, 2)) else {
        let _ = write!(out, "{src} > {dst}:  [|udp]");
        return;
    };
    let _ = write!(out, "{src}.{sport} > {dst}.{dport}: ");
    if length < 8 {
        let _ = write!(out, "truncated-udp {length}");
        return;
    }
    let Some(ulen) = be16(u, 4).filter(|_| u.len() >= 8) else {
        return out.push_str(" [|udp]");
    };
    let ulen = usize::from(ulen);
    if ulen < 8 {
        let _ = write!(out, "truncated-udplength {ulen}");
        return;
    }
    let (ulen, length) = (ulen - 8, length - 8);
    if ulen > length {
        let _ = write!(out, "UDP, bad length {ulen} > {length}");
    } else {
        let _ = write!(out, "UDP, length {ulen}");
    }
}

// ------------------------------------------------------------------ ICMP

/// RFC 792 messages as print-icmp.c names them. `length` is the ICMP
/// message's length from the IP header, not what was captured.
fn icmp(m: &[u8], length: usize, out: &mut String) {
    match icmp_text(m) {
        Some(text) => {
            let _ = write!(out, "ICMP {text}, length {length}");
        }
        None => out.push_str(" [|icmp]"),
    }
}

fn icmp_text(m: &[u8]) -> Option<String> {
    let (&ty, &code) = (m.first()?, m.get(1)?);
    // The quoted packet's destination, for errors (RFC 792: IP header + 8 bytes).
    let quoted_dst = || ipv4_at(m, 24);
    Some(match ty {
        0 | 8 => {
            let (id, seq) = (be16(m, 4)?, be16(m, 6)?);
            let what = if ty == 0 { "reply" } else { "request" };
            format!("echo {what}, id {id}, seq {seq}")
        }
        3 => {
            let q = quoted_dst()?;
            match code {
                2 => format!("{q} protocol {} unreachable", m.get(17)?),
                3 => {
                    let qhl = usize::from(m.get(8)? & 0x0f) * 4;
                    let dport = be16(m, 8 + qhl + 2)?;
                    match m.get(17)? {
                        6 => format!("{q} tcp port {dport} unreachable"),
                        17 => format!("{q} udp port {dport} unreachable"),
                        p => format!("{q} protocol {p} port {dport} unreachable"),
                    }
                }
                4 => match be16(m, 6)? {
                    0 => format!("{q} unreachable - need to frag"),
                    mtu => format!("{q} unreachable - need to frag (mtu {mtu})"),
                },
                0 => format!("net {q} unreachable"),
                1 => format!("host {q} unreachable"),
                5 => format!("{q} unreachable - source route failed"),
                6 => format!("net {q} unreachable - unknown"),
                7 => format!("host {q} unreachable - unknown"),
                8 => format!("{q} unreachable - source host isolated"),
                9 => format!("net {q} unreachable - admin prohibited"),
                10 => format!("host {q} unreachable - admin prohibited"),
                11 => format!("net {q} unreachable - tos prohibited"),
                12 => format!("host {q} unreachable - tos prohibited"),
                13 => format!("host {q} unreachable - admin prohibited filter"),
                14 => format!("host {q} unreachable - host precedence violation"),
                15 => format!("host {q} unreachable - precedence cutoff"),
                c => format!("{q} unreachable - #{c}"),
            }
        }
        4 => "source quench".to_string(),
        5 => {
            let q = quoted_dst()?;
            let gw = ipv4_at(m, 4)?;
            match code {
                0 => format!("redirect {q} to net {gw}"),
                1 => format!("redirect {q} to host {gw}"),
                2 => format!("redirect-tos {q} to net {gw}"),
                3 => format!("redirect-tos {q} to host {gw}"),
                c => format!("redirect-#{c} {q} to {gw}"),
            }
        }
        11 => {
            quoted_dst()?;
            match code {
                0 => "time exceeded in-transit".to_string(),
                1 => "ip reassembly time exceeded".to_string(),
                c => format!("time exceeded-#{c}"),
            }
        }
        12 => match code {
            0 => format!("parameter problem - octet {}", m.get(4)?),
            c => format!("parameter problem - code {c}"),
        },
        13 => format!("time stamp query id {} seq {}", be16(m, 4)?, be16(m, 6)?),
        10 => "router solicitation".to_string(),
        14 => "time stamp reply".to_string(),
        15 => "information request".to_string(),
        16 => "information reply".to_string(),
        17 => "address mask request".to_string(),
        t => format!("type-#{t}"),
    })
}

// ---------------------------------------------------------------- ICMPv6

/// RFC 4443 / RFC 4861 / RFC 3810 messages, the ones a Linux host sends
/// on a fresh link.
fn icmp6(m: &[u8], length: usize, out: &mut String) {
    let Some(&ty) = m.first() else { return out.push_str(" [|icmp6]") };
    let text = match ty {
        128 | 129 => {
            let what = if ty == 128 { "request" } else { "reply" };
            be16(m, 4).zip(be16(m, 6)).map(|(id, seq)| format!("echo {what}, id {id}, seq {seq}"))
        }
        133 => Some("router solicitation".to_string()),
        134 => Some("router advertisement".to_string()),
        135 => ipv6_at(m, 8).map(|t| format!("neighbor solicitation, who has {t}")),
        136 => ipv6_at(m, 8).map(|t| format!("neighbor advertisement, tgt is {t}")),
        143 => be16(m, 6).map(|n| format!("multicast listener report v2, {n} group record(s)")),
        1 if m.get(1) == Some(&4) => {
            let q = &m.get(8..).unwrap_or(&[]);
            (|| {
                let dst = ipv6_at(q, 24)?;
                let port = be16(q, 42)?;
                let proto = match q.get(6)? {
                    6 => "tcp",
                    17 => "udp",
                    _ => return Some(format!("destination unreachable, unreachable port, {dst}")),
                };
                Some(format!("destination unreachable, unreachable port, {dst} {proto} port {port}"))
            })()
        }
        t => Some(
            match t {
                1 => "destination unreachable",
                2 => "packet too big",
                3 => "time exceeded",
                4 => "parameter problem",
                130 => "multicast listener query",
                131 => "multicast listener report",
                132 => "multicast listener done",
                137 => "redirect",
                200 => "mtrace response",
                201 => "mtrace message",
                _ => return write!(out, "ICMP6, unknown icmp6 type ({t}), length {length}").unwrap_or(()),
            }
            .to_string(),
        ),
    };
    match text {
        Some(t) => {
            let _ = write!(out, "ICMP6, {t}, length {length}");
        }
        None => out.push_str(" [|icmp6]"),
    }
}

// ------------------------------------------------------------------ IGMP

/// RFC 2236 / RFC 3376 group membership messages.
fn igmp(m: &[u8], out: &mut String) {
    let text = (|| {
        let ty = *m.first()?;
        Some(match ty {
            0x11 => {
                let version = if m.len() >= 12 {
                    3
                } else if *m.get(1)? == 0 {
                    1
                } else {
                    2
                };
                let group = ipv4_at(m, 4)?;
                if group.is_unspecified() {
                    format!("igmp query v{version}")
                } else {
                    format!("igmp query v{version} [gaddr {group}]")
                }
            }
            0x12 => format!("igmp v1 report {}", ipv4_at(m, 4)?),
            0x16 => format!("igmp v2 report {}", ipv4_at(m, 4)?),
            0x17 => format!("igmp leave {}", ipv4_at(m, 4)?),
            0x22 => format!("igmp v3 report, {} group record(s)", be16(m, 6)?),
            t => format!("igmp-{t}"),
        })
    })();
    match text {
        Some(t) => out.push_str(&t),
        None => out.push_str(" [|igmp]"),
    }
}

// ------------------------------------------------------------------- ARP

/// RFC 826 (and RFC 903 RARP, RFC 2390 InARP) as print-arp.c shows them.
fn arp(a: &[u8], out: &mut String) {
    let (Some(hrd), Some(pro), Some(&hln), Some(&pln), Some(op)) =
        (be16(a, 0), be16(a, 2), a.get(4), a.get(5), be16(a, 6))
    else {
        return out.push_str(" [|arp]");
    };
    let (hln, pln) = (usize::from(hln), usize::from(pln));
    let (sha, spa) = (8, 8 + hln);
    let (tha, tpa) = (8 + hln + pln, 8 + 2 * hln + pln);
    if a.len() < tpa + pln {
        return out.push_str(" [|arp]");
    }
    out.push_str("ARP, ");
    let length = a.len();
    if pro != 0x0800 || pln != 4 || hln == 0 {
        let hw = match hrd {
            1 => "Ethernet".to_string(),
            6 => "IEEE 802".to_string(),
            h => format!("Unknown Hardware ({h})"),
        };
        let proto = match pro {
            0x0800 => "IPv4".to_string(),
            0x86dd => "IPv6".to_string(),
            0x0806 => "ARP".to_string(),
            p => format!("Unknown Protocol (0x{p:04x})"),
        };
        let _ = write!(out, "{hw} (len {hln}), {proto} (len {pln}), length {length}");
        return;
    }
    let hw = |at: usize| link_addr(&a[at..at + hln]);
    let ip = |at: usize| ipv4_at(a, at).unwrap_or(Ipv4Addr::UNSPECIFIED);
    let _ = match op {
        1 => {
            let _ = write!(out, "Request who-has {}", ip(tpa));
            if a[tha..tha + hln].iter().any(|&b| b != 0) {
                let _ = write!(out, " ({})", hw(tha));
            }
            write!(out, " tell {}", ip(spa))
        }
        2 => write!(out, "Reply {} is-at {}", ip(spa), hw(sha)),
        3 => write!(out, "Reverse Request who-is {} tell {}", hw(tha), hw(sha)),
        4 => write!(out, "Reverse Reply {} at {}", hw(tha), ip(tpa)),
        8 => write!(out, "Inverse Request who-is {} tell {}", hw(tha), hw(sha)),
        9 => write!(out, "Inverse Reply {} at {}", hw(sha), ip(spa)),
        o => return write!(out, "Unknown ({o}) ").unwrap_or(()),
    };
    let _ = write!(out, ", length {length}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frame lengths `from..=to` and tcpdump's line for them.
    type LenRange = (usize, usize, &'static str);

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    /// The frames tcpdump printed, and what it printed (tcpdump 4.99.3).
    /// Generated by writing the frames to a pcap and running
    /// `tcpdump -n -S -r` (or plain `-n` for `REAL_RELATIVE`) on it.

    #[test]
    fn real_frames_print_like_tcpdump_dash_s() {
        for (hex, want) in REAL {
            assert_eq!(format_frame(&unhex(hex)), *want, "frame {hex}");
        }
    }

    #[test]
    fn relative_sequence_numbers_follow_the_connection() {
        assert_eq!(REAL.len(), REAL_RELATIVE.len());
        let mut p = Printer::new();
        let mut relative_lines = 0;
        for ((hex, absolute), want) in REAL.iter().zip(REAL_RELATIVE) {
            assert_eq!(p.format(&unhex(hex)), *want, "frame {hex}");
            relative_lines += usize::from(absolute != want);
        }
        // The handshake's later segments really did print differently.
        assert!(relative_lines >= 6, "only {relative_lines} lines differ between -S and default");
        // Forgetting the connections prints the next segment absolute again.
        p.reset();
        let (hex, absolute) = REAL.iter().find(|(_, l)| l.contains("Flags [P.]")).expect("a data segment");
        assert_eq!(p.format(&unhex(hex)), *absolute);
    }

    #[test]
    fn crafted_frames_print_like_tcpdump() {
        // tcpdump's application-layer and rarer option printers, which we do
        // not reproduce (see the module comment): DNS, DHCP, HTTP, 802.2 LLC,
        // MPTCP, TFO and MD5 options.
        const NOT_REPRODUCED: &[&str] = &[
            "udp_dns",
            "ip6_udp",
            "ip6_plen_big",
            "ip_bcast",
            "tcp_http",
            "llc_short_len",
            "tcp_opt_unknown",
            "tcp_opt_tfo",
            "tcp_opt_md5",
        ];
        let mut wrong = Vec::new();
        for (name, hex, want) in CRAFTED.iter().filter(|c| !NOT_REPRODUCED.contains(&c.0)) {
            let got = format_frame(&unhex(hex));
            if got != *want {
                wrong.push(format!("{name}:\n  tcpdump: {want}\n  ours:    {got}"));
            }
        }
        assert!(wrong.is_empty(), "{} of {} differ:\n{}", wrong.len(), CRAFTED.len(), wrong.join("\n"));
    }

    #[test]
    fn every_prefix_of_a_frame_prints_like_tcpdump() {
        let mut checked = 0;
        for (name, hex, ranges) in SWEEPS {
            let full = unhex(hex);
            let ip_total =
                if full.len() >= 18 { usize::from(u16::from_be_bytes([full[16], full[17]])) + 14 } else { 0 };
            let mut next = ranges[0].0;
            for &(from, to, pattern) in ranges.iter() {
                assert_eq!(from, next, "{name}: ranges are contiguous");
                next = to + 1;
                for len in from..=to {
                    let want = pattern.replace("{m}", &ip_total.saturating_sub(len).to_string());
                    assert_eq!(format_frame(&full[..len]), want, "{name}[..{len}]");
                    checked += 1;
                }
            }
            assert_eq!(next, full.len() + 1, "{name}: every length up to {}", full.len());
        }
        assert!(checked > 500);
    }

    #[test]
    fn the_examples_of_the_brief() {
        // A SYN as synack's own tests write it.
        let syn = unhex(CRAFTED.iter().find(|c| c.0 == "tcp_syn").unwrap().1);
        assert_eq!(
            format_frame(&syn),
            "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, \
             options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
        );
        assert_eq!(format_frame(&[]), "[|ether]");
    }

    #[test]
    fn garbage_never_panics_and_prints_something() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut p = Printer::new();
        let seeds: Vec<Vec<u8>> = REAL.iter().map(|(h, _)| unhex(h)).collect();
        for i in 0..20_000 {
            let mut f = seeds[i % seeds.len()].clone();
            for _ in 0..rng.gen_range(1..8) {
                let at = rng.gen_range(0..f.len());
                f[at] = rng.gen();
            }
            f.truncate(rng.gen_range(0..=f.len()));
            assert!(!p.format(&f).is_empty() || f.is_empty());
        }
        // The connection table stays bounded whatever arrives.
        assert!(p.conns.len() <= MAX_TCP_CONNS);
    }

    #[test]
    fn connection_table_is_bounded() {
        let (_, hex, _) = CRAFTED.iter().find(|c| c.0 == "tcp_ack").unwrap();
        let mut f = unhex(hex);
        let mut p = Printer::new();
        for port in 0..(MAX_TCP_CONNS as u16 + 10) {
            f[34..36].copy_from_slice(&(port | 0x8000).to_be_bytes());
            p.format(&f);
            assert!(p.conns.len() <= MAX_TCP_CONNS);
        }
    }

    // ------------------------------------------------------- test vectors

    /// Real frames captured on a veth pair between two namespaces; expected text from `tcpdump -n -S -r`.
    const REAL: &[(&str, &str)] = &[
        ("333300000016463bd435eab286dd600000000024000100000000000000000000000000000000ff0200000000000000000000000000163a000502000001008f0084a20000000104000000ff0200000000000000000001ff35eab2",
         "IP6 :: > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28"),
        ("3333ff35eab2463bd435eab286dd6000000000203aff00000000000000000000000000000000ff0200000000000000000001ff35eab28700c17400000000fe80000000000000443bd4fffe35eab20e01b8325403b367",
         "IP6 :: > ff02::1:ff35:eab2: ICMP6, neighbor solicitation, who has fe80::443b:d4ff:fe35:eab2, length 32"),
        ("333300000016a2581fb6fc0c86dd600000000024000100000000000000000000000000000000ff0200000000000000000000000000163a000502000001008f0072c70000000104000000ff0200000000000000000001ffb6fc0c",
         "IP6 :: > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28"),
        ("3333ffb6fc0ca2581fb6fc0c86dd6000000000203aff00000000000000000000000000000000ff0200000000000000000001ffb6fc0c8700e33400000000fe80000000000000a0581ffffeb6fc0c0e017831493c119d",
         "IP6 :: > ff02::1:ffb6:fc0c: ICMP6, neighbor solicitation, who has fe80::a058:1fff:feb6:fc0c, length 32"),
        ("333300000016a2581fb6fc0c86dd600000000024000100000000000000000000000000000000ff0200000000000000000000000000163a000502000001008f0072c70000000104000000ff0200000000000000000001ffb6fc0c",
         "IP6 :: > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28"),
        ("ffffffffffff463bd435eab208060001080006040001463bd435eab20a000001ffffffffffff0a000002",
         "ARP, Request who-has 10.0.0.2 (ff:ff:ff:ff:ff:ff) tell 10.0.0.1, length 28"),
        ("463bd435eab2a2581fb6fc0c08060001080006040002a2581fb6fc0c0a000002463bd435eab20a000001",
         "ARP, Reply 10.0.0.2 is-at a2:58:1f:b6:fc:0c, length 28"),
        ("333300000016463bd435eab286dd6000000000240001fe80000000000000443bd4fffe35eab2ff0200000000000000000000000000163a000502000001008f0083fd0000000104000000ff0200000000000000000001ff35eab2",
         "IP6 fe80::443b:d4ff:fe35:eab2 > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28"),
        ("333300000002463bd435eab286dd6000000000103afffe80000000000000443bd4fffe35eab2ff020000000000000000000000000002850074e6000000000101463bd435eab2",
         "IP6 fe80::443b:d4ff:fe35:eab2 > ff02::2: ICMP6, router solicitation, length 16"),
        ("333300000016463bd435eab286dd6000000000240001fe80000000000000443bd4fffe35eab2ff0200000000000000000000000000163a000502000001008f0083fd0000000104000000ff0200000000000000000001ff35eab2",
         "IP6 fe80::443b:d4ff:fe35:eab2 > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28"),
        ("333300000016a2581fb6fc0c86dd6000000000240001fe80000000000000a0581ffffeb6fc0cff0200000000000000000000000000163a000502000001008f00b92a0000000104000000ff0200000000000000000001ffb6fc0c",
         "IP6 fe80::a058:1fff:feb6:fc0c > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28"),
        ("333300000002a2581fb6fc0c86dd6000000000103afffe80000000000000a0581ffffeb6fc0cff020000000000000000000000000002850002f7000000000101a2581fb6fc0c",
         "IP6 fe80::a058:1fff:feb6:fc0c > ff02::2: ICMP6, router solicitation, length 16"),
        ("a2581fb6fc0c463bd435eab208060001080006040001463bd435eab20a000001a2581fb6fc0c0a000002",
         "ARP, Request who-has 10.0.0.2 (a2:58:1f:b6:fc:0c) tell 10.0.0.1, length 28"),
        ("463bd435eab2a2581fb6fc0c08060001080006040002a2581fb6fc0c0a000002463bd435eab20a000001",
         "ARP, Reply 10.0.0.2 is-at a2:58:1f:b6:fc:0c, length 28"),
        ("333300000016a2581fb6fc0c86dd6000000000240001fe80000000000000a0581ffffeb6fc0cff0200000000000000000000000000163a000502000001008f00b92a0000000104000000ff0200000000000000000001ffb6fc0c",
         "IP6 fe80::a058:1fff:feb6:fc0c > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28"),
        ("ffffffffffff463bd435eab208060001080006040001463bd435eab20a0000010000000000000a000002",
         "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"),
        ("463bd435eab2a2581fb6fc0c08060001080006040002a2581fb6fc0c0a000002463bd435eab20a000001",
         "ARP, Reply 10.0.0.2 is-at a2:58:1f:b6:fc:0c, length 28"),
        ("a2581fb6fc0c463bd435eab208004500005489db400040019ccb0a0000010a0000020800b67d63860001112c046b00000000fc900d0000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 25478, seq 1, length 64"),
        ("463bd435eab2a2581fb6fc0c080045000054c82c000040019e7a0a0000020a0000010000be7d63860001112c046b00000000fc900d0000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 25478, seq 1, length 64"),
        ("a2581fb6fc0c463bd435eab20800450000548a0c400040019c9a0a0000010a0000020800119363860002122c046b00000000ac7a010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 25478, seq 2, length 64"),
        ("463bd435eab2a2581fb6fc0c080045000054c82e000040019e780a0000020a0000010000199363860002122c046b00000000ac7a010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 25478, seq 2, length 64"),
        ("a2581fb6fc0c463bd435eab2080045000022f978400040112d500a0000010a000002c8220007000e142268656c6c6f0a",
         "IP 10.0.0.1.51234 > 10.0.0.2.7: UDP, length 6"),
        ("a2581fb6fc0c463bd435eab2080045000022ccde4000401159ea0a0000010a0000029882270f000e142268656c6c6f0a",
         "IP 10.0.0.1.39042 > 10.0.0.2.9999: UDP, length 6"),
        ("463bd435eab2a2581fb6fc0c080045c0003ec85a000040019da20a0000020a0000010303e55e0000000045000022ccde4000401159ea0a0000010a0000029882270f000e142268656c6c6f0a",
         "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 9999 unreachable, length 42"),
        ("a2581fb6fc0c463bd435eab208004500003cffbb4000400626fe0a0000010a000002c82300179f514f0c00000000a002faf014310000020405b40402080a1fb6eed1000000000103030a",
         "IP 10.0.0.1.51235 > 10.0.0.2.23: Flags [S], seq 2672905996, win 64240, options [mss 1460,sackOK,TS val 532082385 ecr 0,nop,wscale 10], length 0"),
        ("463bd435eab2a2581fb6fc0c08004500003c00004000400626ba0a0000020a0000010017c82380cabe229f514f0da012fe8814310000020405b40402080afb1544071fb6eed10103030a",
         "IP 10.0.0.2.23 > 10.0.0.1.51235: Flags [S.], seq 2160770594, ack 2672905997, win 65160, options [mss 1460,sackOK,TS val 4212474887 ecr 532082385,nop,wscale 10], length 0"),
        ("a2581fb6fc0c463bd435eab2080045000034ffbc4000400627050a0000010a000002c82300179f514f0d80cabe238010003f142900000101080a1fb6eed1fb154407",
         "IP 10.0.0.1.51235 > 10.0.0.2.23: Flags [.], ack 2160770595, win 63, options [nop,nop,TS val 532082385 ecr 4212474887], length 0"),
        ("a2581fb6fc0c463bd435eab208004500003affbd4000400626fe0a0000010a000002c82300179f514f0d80cabe238018003f142f00000101080a1fb6eed2fb15440768656c6c6f0a",
         "IP 10.0.0.1.51235 > 10.0.0.2.23: Flags [P.], seq 2672905997:2672906003, ack 2160770595, win 63, options [nop,nop,TS val 532082386 ecr 4212474887], length 6"),
        ("463bd435eab2a2581fb6fc0c080045000034910b4000400695b60a0000020a0000010017c82380cabe239f514f1380100040142900000101080afb1544081fb6eed2",
         "IP 10.0.0.2.23 > 10.0.0.1.51235: Flags [.], ack 2672906003, win 64, options [nop,nop,TS val 4212474888 ecr 532082386], length 0"),
        ("a2581fb6fc0c463bd435eab2080045000034ffbe4000400627030a0000010a000002c82300179f514f1380cabe238011003f142900000101080a1fb6eed2fb154408",
         "IP 10.0.0.1.51235 > 10.0.0.2.23: Flags [F.], seq 2672906003, ack 2160770595, win 63, options [nop,nop,TS val 532082386 ecr 4212474888], length 0"),
        ("463bd435eab2a2581fb6fc0c080045000034910c4000400695b50a0000020a0000010017c82380cabe239f514f1480110040142900000101080afb1544081fb6eed2",
         "IP 10.0.0.2.23 > 10.0.0.1.51235: Flags [F.], seq 2160770595, ack 2672906004, win 64, options [nop,nop,TS val 4212474888 ecr 532082386], length 0"),
        ("a2581fb6fc0c463bd435eab2080045000034ffbf4000400627020a0000010a000002c82300179f514f1480cabe248010003f142900000101080a1fb6eed2fb154408",
         "IP 10.0.0.1.51235 > 10.0.0.2.23: Flags [.], ack 2160770596, win 63, options [nop,nop,TS val 532082386 ecr 4212474888], length 0"),
        ("a2581fb6fc0c463bd435eab208004500003c522840004006d4910a0000010a000002c82400186de1b9d800000000a002faf014310000020405b40402080a76406a1a000000000103030a",
         "IP 10.0.0.1.51236 > 10.0.0.2.24: Flags [S], seq 1843509720, win 64240, options [mss 1460,sackOK,TS val 1983932954 ecr 0,nop,wscale 10], length 0"),
        ("463bd435eab2a2581fb6fc0c08004500002800004000400626ce0a0000020a0000010018c824000000006de1b9d950140000abd60000",
         "IP 10.0.0.2.24 > 10.0.0.1.51236: Flags [R.], seq 0, ack 1843509721, win 0, length 0"),
        ("333300000002463bd435eab286dd6000000000103afffe80000000000000443bd4fffe35eab2ff020000000000000000000000000002850074e6000000000101463bd435eab2",
         "IP6 fe80::443b:d4ff:fe35:eab2 > ff02::2: ICMP6, router solicitation, length 16"),
    ];

    /// Crafted frames (tcpdump.py in the commit message); expected text from `tcpdump -n -S -r`.
    const CRAFTED: &[(&str, &str, &str)] = &[
        ("ping", "02000000000252540012345608004500005400010000400166a60a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 64"),
        ("ping_reply_padded", "02000000000252540012345608004500001c00010000400166de0a0000010a0000020000edca12340001000000000000000000000000000000000000",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo reply, id 4660, seq 1, length 8"),
        ("empty", "",
         "[|ether]"),
        ("eth5", "0200000000",
         "[|ether]"),
        ("eth13", "02000000000252540012345608",
         "[|ether]"),
        ("eth14_ip", "0200000000025254001234560800",
         "[|ip]"),
        ("eth14_arp", "0200000000025254001234560806",
         "[|arp]"),
        ("unknown_ethertype", "02000000000252540012345688b568656c6c6f20776f726c64",
         "52:54:00:12:34:56 > 02:00:00:00:00:02, ethertype Unknown (0x88b5), length 25: "),
        ("ip_10", "020000000002525400123456080045000054000100004001",
         "IP  [|ip]"),
        ("ip_20_of_84", "02000000000252540012345608004500005400010000400166a60a0000010a000002",
         "IP truncated-ip - 64 bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
        ("ip_30_of_84", "02000000000252540012345608004500005400010000400166a60a0000010a0000020800eeb7123400010001",
         "IP truncated-ip - 54 bytes missing! 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 64"),
        ("ip_ihl4", "02000000000252540012345608004400005400010000400167a60a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP bad-hlen 16"),
        ("ip_ihl0", "0200000000025254001234560800400000540001000040016ba60a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP bad-hlen 0"),
        ("ip_ver6", "02000000000252540012345608006500005400010000400146a60a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP6, wrong link-layer encapsulation (invalid)"),
        ("ip_tl_big", "0200000000025254001234560800450000c800010000400166320a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP truncated-ip - 116 bytes missing! 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 180"),
        ("ip_tl_small", "02000000000252540012345608004500000a00010000400166f00a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP bad-len 10"),
        ("ip_ttl0", "020000000002525400123456080045000054000100000001a6a60a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 64"),
        ("ip_badsum", "02000000000252540012345608004500005400010000400174920a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 64"),
        ("ip_proto99", "02000000000252540012345608004500001c000100004063667c0a0000010a0000026162636465666768",
         "IP 10.0.0.1 > 10.0.0.2:  ip-proto-99 8"),
        ("ip_opts", "02000000000252540012345608004600005800010000400163a10a0000010a000002010101000800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 64"),
        ("frag_first_tcp", "02000000000252540012345608004500002800012000400646cd0a0000010a0000029c40005000000064000000005002faf000000000",
         "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 100, win 64240, length 0"),
        ("frag_last_proto99", "0200000000025254001234560800450000240001000a4063666a0a0000010a00000200000000000000000000000000000000",
         "IP 10.0.0.1 > 10.0.0.2: ip-proto-99"),
        ("frag_df_ping", "02000000000252540012345608004500005400014000400126a60a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 64"),
        ("frag_past_64k", "02000000000252540012345608004500005400013ffe400126a80a0000010a00000200000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
         "IP 10.0.0.1 > 10.0.0.2: ip-proto-1"),
        ("arp_req", "ffffffffffff525400123456080600010800060400015254001234560a0000010000000000000a000002",
         "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"),
        ("arp_reply", "525400123456020000000002080600010800060400020200000000020a0000025254001234560a000001",
         "ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28"),
        ("arp_padded", "ffffffffffff525400123456080600010800060400015254001234560a0000010000000000000a000002000000000000000000000000000000000000",
         "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 46"),
        ("arp_grat", "ffffffffffff020000000002080600010800060400010200000000020a0000020000000000000a000002",
         "ARP, Request who-has 10.0.0.2 tell 10.0.0.2, length 28"),
        ("arp_badhw", "020000000002525400123456080600060800060400015254001234560a0000010000000000000a000002",
         "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"),
        ("arp_badop", "020000000002525400123456080600010800060400075254001234560a0000010000000000000a000002",
         "ARP, Unknown (7) "),
        ("arp_op3", "020000000002525400123456080600010800060400035254001234560a0000010000000000000a000002",
         "ARP, Reverse Request who-is 00:00:00:00:00:00 tell 52:54:00:12:34:56, length 28"),
        ("arp_op8", "020000000002525400123456080600010800060400085254001234560a0000010000000000000a000002",
         "ARP, Inverse Request who-is 00:00:00:00:00:00 tell 52:54:00:12:34:56, length 28"),
        ("arp_badproto", "0200000000025254001234560806000186dd060400015254001234560a0000010000000000000a000002",
         "ARP, Ethernet (len 6), IPv6 (len 4), length 28"),
        ("arp_trunc20", "020000000002525400123456080600010800060400015254001234560a0000010000",
         "[|arp]"),
        ("arp_trunc8", "02000000000252540012345608060001080006040001",
         "[|arp]"),
        ("arp_trunc4", "020000000002525400123456080600010800",
         "[|arp]"),
        ("udp_echo", "02000000000252540012345608004500002100010000401166c90a0000010a000002c8220007000d000068656c6c6f",
         "IP 10.0.0.1.51234 > 10.0.0.2.7: UDP, length 5"),
        ("udp_trunc", "02000000000252540012345608004500001800010000401166d20a0000010a000002c8220007",
         "IP 10.0.0.1.51234 > 10.0.0.2.7: truncated-udp 4"),
        ("udp_badlen", "02000000000252540012345608004500002100010000401166c90a0000010a000002c82200070064000068656c6c6f",
         "IP 10.0.0.1.51234 > 10.0.0.2.7: UDP, bad length 92 > 5"),
        ("udp_shortlen", "02000000000252540012345608004500002100010000401166c90a0000010a000002c82200070004000068656c6c6f",
         "IP 10.0.0.1.51234 > 10.0.0.2.7: truncated-udplength 4"),
        ("udp_dns", "02000000000252540012345608004500002100010000401166c90a0000010a000002c8220035000d000068656c6c6f",
         "IP 10.0.0.1.51234 > 10.0.0.2.53: domain [length 5 < 12] (invalid)"),
        ("udp_port0", "02000000000252540012345608004500001d00010000401166cd0a0000010a000002c82200000009000078",
         "IP 10.0.0.1.51234 > 10.0.0.2.0: UDP, length 1"),
        ("icmp_port_unreach", "52540012345602000000000208004500003800010000400166c20a0000020a00000103030dbe000000004500002100010000401166c90a0000010a000002c822270f000d0000",
         "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 9999 unreachable, length 36"),
        ("icmp_proto_unreach", "52540012345602000000000208004500003800010000400166c20a0000020a00000103026b68000000004500001c000100004063667c0a0000010a0000026162636465666768",
         "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 protocol 99 unreachable, length 36"),
        ("icmp_host_unreach", "52540012345602000000000208004500003800010000400166c20a0000020a0000010301f411000000004500005400010000400166a60a0000010a0000020800eeb712340001",
         "IP 10.0.0.2 > 10.0.0.1: ICMP host 10.0.0.2 unreachable, length 36"),
        ("icmp_net_unreach", "02000000000252540012345608004500003800010000400166c20a0000010a0000020300f412000000004500005400010000400166a60a0000010a0000020800eeb712340001",
         "IP 10.0.0.1 > 10.0.0.2: ICMP net 10.0.0.2 unreachable, length 36"),
        ("icmp_fragneeded", "02000000000252540012345608004500003800010000400166c20a0000010a0000020304f77d000005784500002800010000400666cd0a0000010a0000020001000200000003",
         "IP 10.0.0.1 > 10.0.0.2: ICMP 10.0.0.2 unreachable - need to frag (mtu 1400), length 36"),
        ("icmp_tcp_port_unreach", "02000000000252540012345608004500003800010000400166c20a0000010a0000020303f7d7000000004500002800010000400666cd0a0000010a00000204d2005000000003",
         "IP 10.0.0.1 > 10.0.0.2: ICMP 10.0.0.2 tcp port 80 unreachable, length 36"),
        ("icmp_unreach_short", "02000000000252540012345608004500002600010000400166d40a0000010a000002030377c90000000045000021000100004011",
         "IP 10.0.0.1 > 10.0.0.2:  [|icmp]"),
        ("icmp_time_exceeded", "02000000000252540012345608004500003800010000400166c20a0000010a0000020b0005c1000000004500002100010000401166c90a0000010a000002c822270f000d0000",
         "IP 10.0.0.1 > 10.0.0.2: ICMP time exceeded in-transit, length 36"),
        ("icmp_time_exceeded_reass", "02000000000252540012345608004500003800010000400166c20a0000010a0000020b0105c0000000004500002100010000401166c90a0000010a000002c822270f000d0000",
         "IP 10.0.0.1 > 10.0.0.2: ICMP ip reassembly time exceeded, length 36"),
        ("icmp_redirect", "02000000000252540012345608004500003800010000400166c20a0000010a000002050100c20a0000fe4500002100010000401166c90a0000010a000002c822270f000d0000",
         "IP 10.0.0.1 > 10.0.0.2: ICMP redirect 10.0.0.2 to host 10.0.0.254, length 36"),
        ("icmp_type42", "02000000000252540012345608004500001e00010000400166dc0a0000010a0000022a005d87000000007878",
         "IP 10.0.0.1 > 10.0.0.2: ICMP type-#42, length 10"),
        ("icmp_type13", "02000000000252540012345608004500002800010000400166d20a0000010a0000020d00f2ff00000000000000000000000000000000",
         "IP 10.0.0.1 > 10.0.0.2: ICMP time stamp query id 0 seq 0, length 20"),
        ("icmp_trunc", "02000000000252540012345608004500001700010000400166e30a0000010a0000020800ee",
         "IP 10.0.0.1 > 10.0.0.2:  [|icmp]"),
        ("icmp_echo_trunc6", "02000000000252540012345608004500001a00010000400166e00a0000010a0000020800eeb71234",
         "IP 10.0.0.1 > 10.0.0.2:  [|icmp]"),
        ("icmp_badsum", "02000000000252540012345608004500005400010000400166a60a0000010a0000020800000012340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 64"),
        ("icmp_source_quench", "02000000000252540012345608004500003800010000400166c20a0000010a00000204000cc1000000004500002100010000401166c90a0000010a000002c822270f000d0000",
         "IP 10.0.0.1 > 10.0.0.2: ICMP source quench, length 36"),
        ("icmp_param_problem", "02000000000252540012345608004500003800010000400166c20a0000010a0000020c00f0c0140000004500002100010000401166c90a0000010a000002c822270f000d0000",
         "IP 10.0.0.1 > 10.0.0.2: ICMP parameter problem - octet 20, length 36"),
        ("tcp_syn", "02000000000252540012345608004500003c00010000400666b90a0000010a000002c8220017000004d200000000a002faf000000000020405b40402080a000000010000000001030307",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"),
        ("tcp_synack", "52540012345602000000000208004500002c00010000400666c90a0000010a0000020017c82200001388000004d36012ffff00000000020405b4",
         "IP 10.0.0.1.23 > 10.0.0.2.51234: Flags [S.], seq 5000, ack 1235, win 65535, options [mss 1460], length 0"),
        ("tcp_ack", "02000000000252540012345608004500002800010000400666cd0a0000010a000002c8220017000004d300001389501001f600000000",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], ack 5001, win 502, length 0"),
        ("tcp_psh", "02000000000252540012345608004500002d00010000400666c80a0000010a000002c8220017000004d300001389501801f60000000068656c6c6f",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [P.], seq 1235:1240, ack 5001, win 502, length 5"),
        ("tcp_fin", "02000000000252540012345608004500002800010000400666cd0a0000010a000002c8220017000004d800001389501101f600000000",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [F.], seq 1240, ack 5001, win 502, length 0"),
        ("tcp_rst", "02000000000252540012345608004500002800010000400666cd0a0000010a000002c8220017000004d8000000005004000000000000",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [R], seq 1240, win 0, length 0"),
        ("tcp_rstack", "02000000000252540012345608004500002800010000400666cd0a0000010a0000020017c82200000000000004d35014000000000000",
         "IP 10.0.0.1.23 > 10.0.0.2.51234: Flags [R.], seq 0, ack 1235, win 0, length 0"),
        ("tcp_none", "02000000000252540012345608004500002800010000400666cd0a0000010a000002c822001700000001000000025000faf000000000",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [none], win 64240, length 0"),
        ("tcp_all", "02000000000252540012345608004500002800010000400666cd0a0000010a000002c8220017000000010000000250fffaf000000007",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [FSRP.UEW], seq 1, ack 2, win 64240, urg 7, length 0"),
        ("tcp_urg", "02000000000252540012345608004500002b00010000400666ca0a0000010a000002c822001700000001000000025030faf000000003616263",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.U], seq 1:4, ack 2, win 64240, urg 3, length 3"),
        ("tcp_ece_cwr", "02000000000252540012345608004500002800010000400666cd0a0000010a000002c8220017000000010000000050c2faf000000000",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [SEW], seq 1, win 64240, length 0"),
        ("tcp_trunc", "02000000000252540012345608004500002000010000400666d50a0000010a000002c82200170000000100000002",
         "IP 10.0.0.1.51234 > 10.0.0.2.23:  [|tcp]"),
        ("tcp_badoff", "02000000000252540012345608004500002800010000400666cd0a0000010a000002c822001700000001000000023010faf000000000",
         "IP 10.0.0.1.51234 > 10.0.0.2.23:  tcp 8 [bad hdr length 12 - too short, < 20]"),
        ("tcp_offbig", "02000000000252540012345608004500002800010000400666cd0a0000010a000002c82200170000000100000002f010faf000000000",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.] [bad hdr length 60 - too long, > 20]"),
        ("tcp_opts_misc", "02000000000252540012345608004500003a00010000400666bb0a0000010a000002c822001700000001000000029010faf00000000004020101050a000000010000000501010000",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], seq 1:3, ack 2, win 64240, options [sackOK,nop,nop,sack 1 {1:5},nop,nop], length 2"),
        ("tcp_opt_unknown", "02000000000252540012345608004500002c00010000400666c90a0000010a000002c822001700000001000000026010faf0000000001e04abcd",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], ack 2, win 64240, options [mptcp 4 unknown], length 0"),
        ("tcp_opt_badlen", "02000000000252540012345608004500002c00010000400666c90a0000010a000002c822001700000001000000026010faf000000000020905b4",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], ack 2, win 64240, options [[bad opt]"),
        ("tcp_opt_mss_trunc", "02000000000252540012345608004500002c00010000400666c90a0000010a000002c822001700000001000000026010faf00000000001010102",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], ack 2, win 64240, options [nop,nop,nop, [|tcp]"),
        ("tcp_http", "02000000000252540012345608004500003a00010000400666bb0a0000010a000002c822005000000001000000025018faf000000000474554202f20485454502f312e300d0a0d0a",
         "IP 10.0.0.1.51234 > 10.0.0.2.80: Flags [P.], seq 1:19, ack 2, win 64240, length 18: HTTP: GET / HTTP/1.0"),
        ("tcp_port7data", "02000000000252540012345608004500003a00010000400666bb0a0000010a000002c822000700000001000000025018faf000000000474554202f20485454502f312e300d0a0d0a",
         "IP 10.0.0.1.51234 > 10.0.0.2.7: Flags [P.], seq 1:19, ack 2, win 64240, length 18"),
        ("igmp", "02000000000252540012345608004500001c00010000400266dd0a0000010a0000020000000000000000",
         "IP 10.0.0.1 > 10.0.0.2: igmp-0"),
        ("ip_bcast", "ffffffffffff5254001234560800450000260001000040117ac700000000ffffffff004400430012000000000000000000000000",
         "IP 0.0.0.0.68 > 255.255.255.255.67: BOOTP/DHCP, unknown (0x00), length 10"),
        ("vlan", "0200000000025254001234568100000508004500005400010000400166a60a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 64"),
        ("ipv6_bare", "02000000000252540012345686dd00000000000000000000",
         "[|ip6]"),
        ("llc_short_len", "0200000000025254001234560030000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
         "52:54:00:12:34:56 > 02:00:00:00:00:02 Null Information, send seq 0, rcv seq 0, Flags [Command], length 48"),
        ("ip_ver5", "02000000000252540012345608005500002400010000400156d60a0000010a0000020800d9ba123400010001020304050607",
         "IP5 (invalid)"),
        ("ip_ver0", "020000000002525400123456080005000024000100004001a6d60a0000010a0000020800d9ba123400010001020304050607",
         "IP0 (invalid)"),
        ("tcp_opt_unknown99", "02000000000252540012345608004500002c00010000400666c90a0000010a000002c822001700000001000000026010faf0000000006304abcd",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], ack 2, win 64240, options [unknown-99 0xabcd], length 0"),
        ("tcp_opt_mss_len3", "02000000000252540012345608004500002c00010000400666c90a0000010a000002c822001700000001000000026010faf00000000002030500",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], ack 2, win 64240, options [mss 1280[len 3]], length 0"),
        ("tcp_opt_eol_mid", "02000000000252540012345608004500002c00010000400666c90a0000010a000002c822001700000001000000026010faf00000000001000204",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], ack 2, win 64240, options [nop,eol], length 0"),
        ("tcp_opt_sack2", "02000000000252540012345608004500003c00010000400666b90a0000010a000002c82200170000000100000002a010faf000000000010105120000000a000000140000001e00000028",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], ack 2, win 64240, options [nop,nop,sack 2 {10:20}{30:40}], length 0"),
        ("tcp_opt_sack_bad", "02000000000252540012345608004500003000010000400666c50a0000010a000002c822001700000001000000027010faf0000000000101050600000001",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], ack 2, win 64240, options [nop,nop,sack invalid sack], length 0"),
        ("tcp_opt_wscale_ts", "02000000000252540012345608004500003600010000400666bf0a0000010a000002c822001700000001000000028010faf00000000003030e01080affffffff00000002",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [.], seq 1:3, ack 2, win 64240, options [wscale 14,nop,[bad opt]]"),
        ("tcp_opt_tfo", "02000000000252540012345608004500002c00010000400666c90a0000010a000002c822001700000001000000026002faf00000000022020101",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1, win 64240, options [tfo  cookiereq,nop,nop], length 0"),
        ("tcp_opt_md5", "02000000000252540012345608004500003c00010000400666b90a0000010a000002c82200170000000100000002a002faf0000000001312000000000000000000000000000000000101",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1, win 64240, options [md5 shared secret not supplied with -M, can't check - 00000000000000000000000000000000,nop,nop], length 0"),
        ("tcp_rst_data", "02000000000252540012345608004500002c00010000400666c90a0000010a000002c822001700000001000000025004faf0000000006f6f7073",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [R], seq 1:5, win 64240, length 4"),
        ("tcp_syn_data", "02000000000252540012345608004500002c00010000400666c90a0000010a000002c822001700000001000000025002faf0000000006f6f7073",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1:5, win 64240, length 4"),
        ("tcp_fin_data", "02000000000252540012345608004500002c00010000400666c90a0000010a000002c822001700000001000000025001faf0000000006f6f7073",
         "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [F], seq 1:5, win 64240, length 4"),
        ("tcp_frag_mid", "02000000000252540012345608004500003c00010064400666550a0000010a00000200000000000000000000000000000000000000000000000000000000000000000000000000000000",
         "IP 10.0.0.1 > 10.0.0.2: ip-proto-6"),
        ("tcp_badsum_big_tl", "02000000000252540012345608004500006400010000400666910a0000010a000002c822001700000001000000025018faf00000000068656c6c6f",
         "IP truncated-ip - 55 bytes missing! 10.0.0.1.51234 > 10.0.0.2.23: Flags [P.], seq 1:61, ack 2, win 64240, length 60"),
        ("ip_pad_udp", "02000000000252540012345608004500001d00010000401166cd0a0000010a00000203e8000700090000610000000000000000000000000000000000000000",
         "IP 10.0.0.1.1000 > 10.0.0.2.7: UDP, length 1"),
        ("igmp_query", "02000000000252540012345608004500001c00010000400290dd0a000001e00000011164000000000000",
         "IP 10.0.0.1 > 224.0.0.1: igmp query v2"),
        ("igmp_v3_report", "02000000000252540012345608004500002400010000400290c00a000001e0000016220000000000000104000000e00000fb",
         "IP 10.0.0.1 > 224.0.0.22: igmp v3 report, 1 group record(s)"),
        ("igmp_v2_report", "02000000000252540012345608004500001c0001000040028fe30a000001e00000fb16000000e00000fb",
         "IP 10.0.0.1 > 224.0.0.251: igmp v2 report 224.0.0.251"),
        ("igmp_leave", "02000000000252540012345608004500001c00010000400290dc0a000001e000000217000000e00000fb",
         "IP 10.0.0.1 > 224.0.0.2: igmp leave 224.0.0.251"),
        ("ip6_echo", "02000000000252540012345686dd6000000000403afffe800000000000000000000000000001fe80000000000000000000000000000280000000000700010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
         "IP6 fe80::1 > fe80::2: ICMP6, echo request, id 7, seq 1, length 64"),
        ("ip6_echo_reply", "02000000000252540012345686dd6000000000403afffe800000000000000000000000000002fe80000000000000000000000000000181000000000700010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
         "IP6 fe80::2 > fe80::1: ICMP6, echo reply, id 7, seq 1, length 64"),
        ("ip6_na", "02000000000252540012345686dd6000000000183afffe800000000000000000000000000002fe8000000000000000000000000000018800000060000000fe800000000000000000000000000002",
         "IP6 fe80::2 > fe80::1: ICMP6, neighbor advertisement, tgt is fe80::2, length 24"),
        ("ip6_ra", "02000000000252540012345686dd6000000000103afffe800000000000000000000000000002ff02000000000000000000000000000186000000000000000000000000000000",
         "IP6 fe80::2 > ff02::1: ICMP6, router advertisement, length 16"),
        ("ip6_unknown_icmp6", "02000000000252540012345686dd6000000000083afffe800000000000000000000000000002ff020000000000000000000000000001c800000000000000",
         "IP6 fe80::2 > ff02::1: ICMP6, mtrace response, length 8"),
        ("ip6_dest_unreach", "02000000000252540012345686dd6000000000383afffe800000000000000000000000000002fe800000000000000000000000000001010400000000000060000000000811fffe800000000000000000000000000001fe8000000000000000000000000000020001000200080000",
         "IP6 fe80::2 > fe80::1: ICMP6, destination unreachable, unreachable port, fe80::2 udp port 2, length 56"),
        ("ip6_udp", "02000000000252540012345686dd60000000000b11fffe800000000000000000000000000001fe80000000000000000000000000000214e914ea000b0000616263",
         "IP6 fe80::1.5353 > fe80::2.5354: domain [length 3 < 12] (invalid)"),
        ("ip6_tcp", "02000000000252540012345686dd60000000001406fffe800000000000000000000000000001fe80000000000000000000000000000203e8001700000005000000005002faf000000000",
         "IP6 fe80::1.1000 > fe80::2.23: Flags [S], seq 5, win 64240, length 0"),
        ("ip6_proto99", "02000000000252540012345686dd60000000000763fffe800000000000000000000000000001fe80000000000000000000000000000200000000000000",
         "IP6 fe80::1 > fe80::2:  ip-proto-99 7"),
        ("ip6_trunc", "02000000000252540012345686dd60000000000b11fffe800000000000000000000000000001fe8000000000",
         "[|ip6]"),
        ("ip6_plen_big", "02000000000252540012345686dd6000000000c811fffe800000000000000000000000000001fe80000000000000000000000000000214e914ea000b0000616263",
         "IP6 truncated-ip6 - 189 bytes missing!fe80::1.5353 > fe80::2.5354: domain [length 3 < 12] (invalid)"),
        ("ip6_ver4", "02000000000252540012345686dd4500002400010000400166d60a0000010a0000020800d9ba1234000100010203040506070000000000000000000000000000000000000000",
         "IP6 version error: 4 != 6"),
        ("ihl15_short", "02000000000252540012345608004f00007c0001000040015c7e0a0000010a0000020000000000000000000000000000000000000000",
         "IP truncated-ip - 84 bytes missing! 10.0.0.1 > 10.0.0.2:  [remaining caplen(40) < header length(60)] [|ip]"),
        ("ihl6_tl22", "02000000000252540012345608004600001600010000400165e40a0000010a00000200000000",
         "IP bad-len 22"),
        ("ihl6_tl24", "02000000000252540012345608004600001800010000400165e20a0000010a00000200000000",
         "IP 10.0.0.1 > 10.0.0.2:  [|icmp]"),
        ("tcp_in_ihl6_trunc", "02000000000252540012345608004600002c00010000400665c90a0000010a000002000000000001",
         "IP truncated-ip - 18 bytes missing! 10.0.0.1 > 10.0.0.2: [|tcp]"),
    ];

    /// Every prefix of a frame: (first length, last length, tcpdump's text with {m} for the bytes missing).
    const SWEEPS: &[(&str, &str, &[LenRange])] = &[
        ("ping", "02000000000252540012345608004500005400010000400166a60a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637", &[
            (0, 13, "[|ether]"),
            (14, 14, "[|ip]"),
            (15, 33, "IP  [|ip]"),
            (34, 41, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (42, 97, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 64"),
            (98, 98, "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 4660, seq 1, length 64"),
        ]),
        ("arp", "ffffffffffff525400123456080600010800060400015254001234560a0000010000000000000a000002", &[
            (0, 13, "[|ether]"),
            (14, 41, "[|arp]"),
            (42, 42, "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"),
        ]),
        ("udp", "02000000000252540012345608004500002100010000401166c90a0000010a000002c8220007000d000068656c6c6f", &[
            (0, 13, "[|ether]"),
            (14, 14, "[|ip]"),
            (15, 33, "IP  [|ip]"),
            (34, 37, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|udp]"),
            (38, 41, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.7:  [|udp]"),
            (42, 46, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.7: UDP, length 5"),
            (47, 47, "IP 10.0.0.1.51234 > 10.0.0.2.7: UDP, length 5"),
        ]),
        ("syn", "02000000000252540012345608004500003c00010000400666b90a0000010a000002c8220017000004d200000000a002faf000000000020405b40402080a000000010000000001030307", &[
            (0, 13, "[|ether]"),
            (14, 14, "[|ip]"),
            (15, 33, "IP  [|ip]"),
            (34, 37, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: [|tcp]"),
            (38, 53, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.23:  [|tcp]"),
            (54, 55, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, options [ [|tcp]"),
            (56, 57, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, options [mss [|tcp]"),
            (58, 59, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, options [mss 1460, [|tcp]"),
            (60, 61, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, options [mss 1460,sackOK, [|tcp]"),
            (62, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, options [mss 1460,sackOK,TS [|tcp]>"),
            (70, 70, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0, [|tcp]"),
            (71, 72, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop, [|tcp]"),
            (73, 73, "IP truncated-ip - {m} bytes missing! 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale [|tcp]>"),
            (74, 74, "IP 10.0.0.1.51234 > 10.0.0.2.23: Flags [S], seq 1234, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"),
        ]),
        ("unreach", "52540012345602000000000208004500003800010000400166c20a0000020a00000103030dbe000000004500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (0, 13, "[|ether]"),
            (14, 14, "[|ip]"),
            (15, 33, "IP  [|ip]"),
            (34, 65, "IP truncated-ip - {m} bytes missing! 10.0.0.2 > 10.0.0.1:  [|icmp]"),
            (66, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 9999 unreachable, length 36"),
            (70, 70, "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 9999 unreachable, length 36"),
        ]),
        ("needfrag", "02000000000252540012345608004500003800010000400166c20a0000010a00000203040845000005784500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (0, 13, "[|ether]"),
            (14, 14, "[|ip]"),
            (15, 33, "IP  [|ip]"),
            (34, 61, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (62, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP 10.0.0.2 unreachable - need to frag (mtu 1400), length 36"),
            (70, 70, "IP 10.0.0.1 > 10.0.0.2: ICMP 10.0.0.2 unreachable - need to frag (mtu 1400), length 36"),
        ]),
        ("te", "02000000000252540012345608004500003800010000400166c20a0000010a0000020b0005c1000000004500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (34, 61, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (62, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP time exceeded in-transit, length 36"),
            (70, 70, "IP 10.0.0.1 > 10.0.0.2: ICMP time exceeded in-transit, length 36"),
        ]),
        ("t42", "02000000000252540012345608004500003800010000400166c20a0000010a0000022a00e6c0000000004500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (34, 35, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (36, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP type-#42, length 36"),
            (70, 70, "IP 10.0.0.1 > 10.0.0.2: ICMP type-#42, length 36"),
        ]),
        ("redir", "02000000000252540012345608004500003800010000400166c20a0000010a000002050100c20a0000fe4500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (34, 61, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (62, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP redirect 10.0.0.2 to host 10.0.0.254, length 36"),
            (70, 70, "IP 10.0.0.1 > 10.0.0.2: ICMP redirect 10.0.0.2 to host 10.0.0.254, length 36"),
        ]),
        ("pp", "02000000000252540012345608004500003800010000400166c20a0000010a0000020c00f0c0140000004500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (34, 38, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (39, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP parameter problem - octet 20, length 36"),
            (70, 70, "IP 10.0.0.1 > 10.0.0.2: ICMP parameter problem - octet 20, length 36"),
        ]),
        ("sq", "02000000000252540012345608004500003800010000400166c20a0000010a00000204000cc1000000004500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (34, 35, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (36, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP source quench, length 36"),
            (70, 70, "IP 10.0.0.1 > 10.0.0.2: ICMP source quench, length 36"),
        ]),
        ("proto", "02000000000252540012345608004500003800010000400166c20a0000010a00000203020dbf000000004500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (34, 61, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (62, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP 10.0.0.2 protocol 17 unreachable, length 36"),
            (70, 70, "IP 10.0.0.1 > 10.0.0.2: ICMP 10.0.0.2 protocol 17 unreachable, length 36"),
        ]),
        ("host", "02000000000252540012345608004500003800010000400166c20a0000010a00000203010dc0000000004500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (34, 61, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (62, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP host 10.0.0.2 unreachable, length 36"),
            (70, 70, "IP 10.0.0.1 > 10.0.0.2: ICMP host 10.0.0.2 unreachable, length 36"),
        ]),
        ("ts", "02000000000252540012345608004500003800010000400166c20a0000010a0000020d0003c1000000004500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (34, 41, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (42, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP time stamp query id 0 seq 0, length 36"),
            (70, 70, "IP 10.0.0.1 > 10.0.0.2: ICMP time stamp query id 0 seq 0, length 36"),
        ]),
        ("reply", "02000000000252540012345608004500003800010000400166c20a0000010a000002000010b9000700014500002100010000401166c90a0000010a000002c822270f000d0000", &[
            (34, 41, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2:  [|icmp]"),
            (42, 69, "IP truncated-ip - {m} bytes missing! 10.0.0.1 > 10.0.0.2: ICMP echo reply, id 7, seq 1, length 36"),
            (70, 70, "IP 10.0.0.1 > 10.0.0.2: ICMP echo reply, id 7, seq 1, length 36"),
        ]),
    ];

    /// The same frames as `REAL`, as plain `tcpdump -n -r` prints them (relative sequence numbers).
    const REAL_RELATIVE: &[&str] = &[
        "IP6 :: > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28",
        "IP6 :: > ff02::1:ff35:eab2: ICMP6, neighbor solicitation, who has fe80::443b:d4ff:fe35:eab2, length 32",
        "IP6 :: > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28",
        "IP6 :: > ff02::1:ffb6:fc0c: ICMP6, neighbor solicitation, who has fe80::a058:1fff:feb6:fc0c, length 32",
        "IP6 :: > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28",
        "ARP, Request who-has 10.0.0.2 (ff:ff:ff:ff:ff:ff) tell 10.0.0.1, length 28",
        "ARP, Reply 10.0.0.2 is-at a2:58:1f:b6:fc:0c, length 28",
        "IP6 fe80::443b:d4ff:fe35:eab2 > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28",
        "IP6 fe80::443b:d4ff:fe35:eab2 > ff02::2: ICMP6, router solicitation, length 16",
        "IP6 fe80::443b:d4ff:fe35:eab2 > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28",
        "IP6 fe80::a058:1fff:feb6:fc0c > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28",
        "IP6 fe80::a058:1fff:feb6:fc0c > ff02::2: ICMP6, router solicitation, length 16",
        "ARP, Request who-has 10.0.0.2 (a2:58:1f:b6:fc:0c) tell 10.0.0.1, length 28",
        "ARP, Reply 10.0.0.2 is-at a2:58:1f:b6:fc:0c, length 28",
        "IP6 fe80::a058:1fff:feb6:fc0c > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28",
        "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28",
        "ARP, Reply 10.0.0.2 is-at a2:58:1f:b6:fc:0c, length 28",
        "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 25478, seq 1, length 64",
        "IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 25478, seq 1, length 64",
        "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 25478, seq 2, length 64",
        "IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 25478, seq 2, length 64",
        "IP 10.0.0.1.51234 > 10.0.0.2.7: UDP, length 6",
        "IP 10.0.0.1.39042 > 10.0.0.2.9999: UDP, length 6",
        "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 9999 unreachable, length 42",
        "IP 10.0.0.1.51235 > 10.0.0.2.23: Flags [S], seq 2672905996, win 64240, options [mss 1460,sackOK,TS val 532082385 ecr 0,nop,wscale 10], length 0",
        "IP 10.0.0.2.23 > 10.0.0.1.51235: Flags [S.], seq 2160770594, ack 2672905997, win 65160, options [mss 1460,sackOK,TS val 4212474887 ecr 532082385,nop,wscale 10], length 0",
        "IP 10.0.0.1.51235 > 10.0.0.2.23: Flags [.], ack 1, win 63, options [nop,nop,TS val 532082385 ecr 4212474887], length 0",
        "IP 10.0.0.1.51235 > 10.0.0.2.23: Flags [P.], seq 1:7, ack 1, win 63, options [nop,nop,TS val 532082386 ecr 4212474887], length 6",
        "IP 10.0.0.2.23 > 10.0.0.1.51235: Flags [.], ack 7, win 64, options [nop,nop,TS val 4212474888 ecr 532082386], length 0",
        "IP 10.0.0.1.51235 > 10.0.0.2.23: Flags [F.], seq 7, ack 1, win 63, options [nop,nop,TS val 532082386 ecr 4212474888], length 0",
        "IP 10.0.0.2.23 > 10.0.0.1.51235: Flags [F.], seq 1, ack 8, win 64, options [nop,nop,TS val 4212474888 ecr 532082386], length 0",
        "IP 10.0.0.1.51235 > 10.0.0.2.23: Flags [.], ack 2, win 63, options [nop,nop,TS val 532082386 ecr 4212474888], length 0",
        "IP 10.0.0.1.51236 > 10.0.0.2.24: Flags [S], seq 1843509720, win 64240, options [mss 1460,sackOK,TS val 1983932954 ecr 0,nop,wscale 10], length 0",
        "IP 10.0.0.2.24 > 10.0.0.1.51236: Flags [R.], seq 0, ack 1843509721, win 0, length 0",
        "IP6 fe80::443b:d4ff:fe35:eab2 > ff02::2: ICMP6, router solicitation, length 16",
    ];
}

#[cfg(test)]
mod telnet_tests {
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
