//! tcpdump's ARP line (print-arp.c).
//!
//! Read first: RFC 826 (ARP), RFC 903 (RARP), RFC 2390 (InARP).

use super::{be16, ipv4_at, link_addr};
use std::fmt::Write;
use std::net::Ipv4Addr;

// ------------------------------------------------------------------- ARP

/// RFC 826 (and RFC 903 RARP, RFC 2390 InARP) as print-arp.c shows them.
pub(super) fn arp(a: &[u8], out: &mut String) {
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
