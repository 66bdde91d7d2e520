//! tcpdump's ICMP, ICMPv6 and IGMP lines (print-icmp.c, print-icmp6.c,
//! print-igmp.c).
//!
//! Read first: RFC 792 (ICMP), RFC 4443 and RFC 4861 (ICMPv6, neighbour
//! discovery), RFC 2236 and RFC 3376 (IGMP).

use super::{be16, ipv4_at, ipv6_at};
use crate::wire::icmp::{
    field, CODE_PORT_UNREACH, CODE_PROTO_UNREACH, ICMP_DEST_UNREACH, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_HLEN,
    ICMP_TIME_EXCEEDED,
};
use crate::wire::ipv4::{IPV4_HLEN, PROTO_TCP, PROTO_UDP};
use crate::wire::udp::{self, UdpPacket};
use crate::wire::{IcmpPacket, Ipv4Packet};
use std::fmt::Write;

// ------------------------------------------------------------------ ICMP

/// RFC 792 messages as print-icmp.c names them. `length` is the ICMP
/// message's length from the IP header, not what was captured.
pub(super) fn icmp(m: &[u8], length: usize, out: &mut String) {
    match icmp_text(m) {
        Some(text) => {
            let _ = write!(out, "ICMP {text}, length {length}");
        }
        None => out.push_str(" [|icmp]"),
    }
}

fn icmp_text(m: &[u8]) -> Option<String> {
    if m.len() <= field::CODE {
        return None;
    }
    let p = IcmpPacket::new_unchecked(m);
    let (ty, code) = (p.msg_type(), p.msg_code());
    // The second word (identifier and sequence, MTU, gateway) is there.
    let word2 = || (m.len() >= ICMP_HLEN).then_some(());
    // The quoted packet, for errors (RFC 792: IP header + 8 bytes), when
    // its fixed header is all there.
    let quoted = m.get(ICMP_HLEN..).unwrap_or(&[]);
    let quoted_ip = || (quoted.len() >= IPV4_HLEN).then(|| Ipv4Packet::new_unchecked(quoted));
    let quoted_dst = || quoted_ip().map(|ip| ip.dst_addr());
    Some(match ty {
        ICMP_ECHO_REPLY | ICMP_ECHO_REQUEST => {
            word2()?;
            let (id, seq) = (p.echo_ident(), p.echo_seq_no());
            let what = if ty == ICMP_ECHO_REPLY { "reply" } else { "request" };
            format!("echo {what}, id {id}, seq {seq}")
        }
        ICMP_DEST_UNREACH => {
            let q = quoted_dst()?;
            let qip = quoted_ip()?;
            match code {
                CODE_PROTO_UNREACH => format!("{q} protocol {} unreachable", qip.protocol()),
                CODE_PORT_UNREACH => {
                    // TCP and UDP both put the destination port in bytes 2-3.
                    let l4 = quoted.get(qip.header_len()..).filter(|l| l.len() >= udp::field::DST_PORT.end)?;
                    let dport = UdpPacket::new_unchecked(l4).dst_port();
                    match qip.protocol() {
                        PROTO_TCP => format!("{q} tcp port {dport} unreachable"),
                        PROTO_UDP => format!("{q} udp port {dport} unreachable"),
                        p => format!("{q} protocol {p} port {dport} unreachable"),
                    }
                }
                4 => match p.next_hop_mtu() {
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
            let gw = p.gateway();
            match code {
                0 => format!("redirect {q} to net {gw}"),
                1 => format!("redirect {q} to host {gw}"),
                2 => format!("redirect-tos {q} to net {gw}"),
                3 => format!("redirect-tos {q} to host {gw}"),
                c => format!("redirect-#{c} {q} to {gw}"),
            }
        }
        ICMP_TIME_EXCEEDED => {
            quoted_dst()?;
            match code {
                0 => "time exceeded in-transit".to_string(),
                1 => "ip reassembly time exceeded".to_string(),
                c => format!("time exceeded-#{c}"),
            }
        }
        12 => match code {
            0 if m.len() > field::POINTER => format!("parameter problem - octet {}", p.pointer()),
            0 => return None,
            c => format!("parameter problem - code {c}"),
        },
        // The timestamp request has the echo's identifier and sequence.
        13 => {
            word2()?;
            format!("time stamp query id {} seq {}", p.echo_ident(), p.echo_seq_no())
        }
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
pub(super) fn icmp6(m: &[u8], length: usize, out: &mut String) {
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
pub(super) fn igmp(m: &[u8], out: &mut String) {
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
