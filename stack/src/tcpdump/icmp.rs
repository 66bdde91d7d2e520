//! tcpdump's ICMP, ICMPv6 and IGMP lines (print-icmp.c, print-icmp6.c,
//! print-igmp.c).
//!
//! Read first: RFC 792 (ICMP), RFC 4443 and RFC 4861 (ICMPv6, neighbour
//! discovery), RFC 2236 and RFC 3376 (IGMP).

use super::{be16, ipv4_at, ipv6_at};
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
