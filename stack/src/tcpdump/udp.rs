//! tcpdump's UDP line (print-udp.c): ports and `UDP, length N`.
//!
//! Read first: RFC 768.

use crate::wire::udp::{field, UdpPacket, UDP_HLEN};
use std::fmt::Write;
use std::net::IpAddr;

pub(super) fn udp(u: &[u8], length: usize, src: IpAddr, dst: IpAddr, out: &mut String) {
    if u.len() < field::DST_PORT.end {
        let _ = write!(out, "{src} > {dst}:  [|udp]");
        return;
    }
    let up = UdpPacket::new_unchecked(u);
    let (sport, dport) = (up.src_port(), up.dst_port());
    let _ = write!(out, "{src}.{sport} > {dst}.{dport}: ");
    if length < UDP_HLEN {
        let _ = write!(out, "truncated-udp {length}");
        return;
    }
    if u.len() < UDP_HLEN {
        return out.push_str(" [|udp]");
    }
    let ulen = up.len();
    if ulen < UDP_HLEN {
        let _ = write!(out, "truncated-udplength {ulen}");
        return;
    }
    let (ulen, length) = (ulen - UDP_HLEN, length - UDP_HLEN);
    if ulen > length {
        let _ = write!(out, "UDP, bad length {ulen} > {length}");
    } else {
        let _ = write!(out, "UDP, length {ulen}");
    }
}
