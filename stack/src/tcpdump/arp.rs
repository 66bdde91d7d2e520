//! tcpdump's ARP line (print-arp.c).
//!
//! Read first: RFC 826 (ARP), RFC 903 (RARP), RFC 2390 (InARP).

use super::{ipv4_at, link_addr};
use crate::wire::arp::{field, ArpPacket, ARPOP_REPLY, ARPOP_REQUEST};
use crate::wire::ethernet::ETHERTYPE_IPV4;
use std::fmt::Write;
use std::net::Ipv4Addr;

// ------------------------------------------------------------------- ARP

/// RFC 826 (and RFC 903 RARP, RFC 2390 InARP) as print-arp.c shows them.
pub(super) fn arp(a: &[u8], out: &mut String) {
    if a.len() < field::OPER.end {
        return out.push_str(" [|arp]");
    }
    // The fixed part is where `ArpPacket` reads it; the addresses after it
    // are as long as hln and pln say (`ArpPacket` knows only 6 and 4).
    let p = ArpPacket::new_unchecked(a);
    let (hrd, pro, op) = (p.hardware_type(), p.protocol_type(), p.operation());
    let (hln, pln) = (usize::from(p.hardware_len()), usize::from(p.protocol_len()));
    let (sha, spa) = (field::SHA.start, field::SHA.start + hln);
    let (tha, tpa) = (field::SHA.start + hln + pln, field::SHA.start + 2 * hln + pln);
    if a.len() < tpa + pln {
        return out.push_str(" [|arp]");
    }
    out.push_str("ARP, ");
    let length = a.len();
    if pro != ETHERTYPE_IPV4 || pln != 4 || hln == 0 {
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
        ARPOP_REQUEST => {
            let _ = write!(out, "Request who-has {}", ip(tpa));
            if a[tha..tha + hln].iter().any(|&b| b != 0) {
                let _ = write!(out, " ({})", hw(tha));
            }
            write!(out, " tell {}", ip(spa))
        }
        ARPOP_REPLY => write!(out, "Reply {} is-at {}", ip(spa), hw(sha)),
        3 => write!(out, "Reverse Request who-is {} tell {}", hw(tha), hw(sha)),
        4 => write!(out, "Reverse Reply {} at {}", hw(tha), ip(tpa)),
        8 => write!(out, "Inverse Request who-is {} tell {}", hw(tha), hw(sha)),
        9 => write!(out, "Inverse Reply {} at {}", hw(sha), ip(spa)),
        o => return write!(out, "Unknown ({o}) ").unwrap_or(()),
    };
    let _ = write!(out, ", length {length}");
}
