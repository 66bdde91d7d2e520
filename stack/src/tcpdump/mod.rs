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
//!
//! One file per printer: this one has `Printer`, Ethernet, IPv4 and IPv6;
//! `tcp.rs` TCP (and telnet), `udp.rs` UDP, `icmp.rs` ICMP, ICMPv6 and
//! IGMP, `arp.rs` ARP; `tests.rs` holds tcpdump's own lines.

mod arp;
mod icmp;
mod tcp;
#[cfg(test)]
mod tests;
mod udp;

use arp::arp;
use icmp::{icmp, icmp6, igmp};
use std::collections::HashMap;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use udp::udp;

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
}
