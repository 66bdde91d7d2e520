//! tcpdump's UDP line (print-udp.c): ports and `UDP, length N`.
//!
//! Read first: RFC 768.

use super::be16;
use std::fmt::Write;
use std::net::IpAddr;

// ------------------------------------------------------------------- UDP

pub(super) fn udp(u: &[u8], length: usize, src: IpAddr, dst: IpAddr, out: &mut String) {
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
