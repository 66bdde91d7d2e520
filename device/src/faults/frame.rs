//! What a fault script's selectors see in a frame (`FrameInfo`, from
//! `classify`), and the words a fault report names a frame with
//! (`Isns::summary`). Every header is read through `stack::wire`'s views.
//!
//! Read first: `faults.rs` (the language); `stack/src/wire/` (the views).

use super::Selector;
use stack::wire::arp::ARP_LEN;
use stack::wire::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HLEN};
use stack::wire::ipv4::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use stack::wire::{tcp, udp, EthernetFrame, Ipv4Packet, TcpFlags, TcpPacket, UdpPacket};
use std::collections::HashMap;
use std::net::Ipv4Addr;

use stack::wire::tcp::flags::{ACK, FIN, PSH, RST, SYN};

#[derive(Clone, Debug)]
pub(super) struct TcpInfo {
    flags: TcpFlags,
    seq: u32,
    len: usize,
}

/// What the selectors look at, read from the frame through `stack::wire`'s
/// views (a malformed frame is simply "not TCP", "not IP"…; nothing here
/// can fail).
#[derive(Clone, Debug, Default)]
pub(super) struct FrameInfo {
    arp: bool,
    /// IPv4's protocol, source and destination.
    ip: Option<(u8, Ipv4Addr, Ipv4Addr)>,
    /// TCP/UDP ports of a first fragment.
    ports: Option<(u16, u16)>,
    tcp: Option<TcpInfo>,
    /// Where the frame's real content ends (IP total length; no padding).
    pub(super) end: usize,
}

impl FrameInfo {
    fn proto(&self) -> Option<u8> {
        self.ip.map(|i| i.0)
    }
}

pub(super) fn classify(f: &[u8]) -> FrameInfo {
    let mut info = FrameInfo { end: f.len(), ..FrameInfo::default() };
    let Ok(eth) = EthernetFrame::new_checked(f) else { return info };
    match eth.ethertype() {
        ETHERTYPE_ARP => {
            info.arp = true;
            info.end = f.len().min(ETH_HLEN + ARP_LEN);
        }
        ETHERTYPE_IPV4 => {
            let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else { return info };
            // A total length past the frame counts to the frame's end.
            let total = ip.total_len().min(eth.payload().len());
            if total < ip.header_len() {
                return info;
            }
            info.ip = Some((ip.protocol(), ip.src_addr(), ip.dst_addr()));
            info.end = ETH_HLEN + total;
            let l4 = ip.payload();
            if ip.frag_offset() != 0 {
                return info;
            }
            info.ports = match ip.protocol() {
                PROTO_TCP if l4.len() >= tcp::field::DST_PORT.end => {
                    let t = TcpPacket::new_unchecked(l4);
                    Some((t.src_port(), t.dst_port()))
                }
                PROTO_UDP if l4.len() >= udp::field::DST_PORT.end => {
                    let u = UdpPacket::new_unchecked(l4);
                    Some((u.src_port(), u.dst_port()))
                }
                _ => None,
            };
            if let Some(t) = TcpPacket::new_checked(l4).ok().filter(|_| ip.protocol() == PROTO_TCP) {
                info.tcp = Some(TcpInfo {
                    flags: t.flags(),
                    seq: t.seq_number().0,
                    len: l4.len().saturating_sub(t.header_len()),
                });
            }
        }
        _ => {}
    }
    info
}

impl Selector {
    pub(super) fn matches(self, f: &FrameInfo) -> bool {
        let tcp = |p: fn(&TcpInfo) -> bool| f.tcp.as_ref().is_some_and(p);
        match self {
            Selector::Any => true,
            Selector::Arp => f.arp,
            Selector::Ip => f.ip.is_some(),
            Selector::Icmp => f.proto() == Some(PROTO_ICMP),
            Selector::Udp => f.proto() == Some(PROTO_UDP),
            Selector::Tcp => f.proto() == Some(PROTO_TCP),
            Selector::Syn => tcp(|t| t.flags.has(SYN) && !t.flags.has(ACK)),
            Selector::SynAck => tcp(|t| t.flags.has(SYN | ACK)),
            Selector::Ack => tcp(|t| !t.flags.intersects(SYN | FIN | RST) && t.flags.has(ACK) && t.len == 0),
            Selector::Fin => tcp(|t| t.flags.has(FIN)),
            Selector::Rst => tcp(|t| t.flags.has(RST)),
            Selector::Data => tcp(|t| t.len > 0),
            Selector::Port(p) => f.ports.is_some_and(|(s, d)| s == p || d == p),
        }
    }
}

/// ISNs seen in SYNs, for relative sequence numbers in the reports.
#[derive(Default)]
pub(super) struct Isns(HashMap<(Ipv4Addr, u16, Ipv4Addr, u16), u32>);

impl Isns {
    /// `10.0.0.2.7 > 10.0.0.1.40000 [S.] seq 0:0`, relative to the SYN when seen.
    pub(super) fn summary(&mut self, info: &FrameInfo) -> String {
        if info.arp {
            return "ARP".into();
        }
        let Some((proto, src, dst)) = info.ip else { return "not IP".into() };
        let Some((sp, dp)) = info.ports else {
            let name = if proto == PROTO_ICMP { "ICMP" } else { "IP" };
            return format!("{src} > {dst} {name}");
        };
        let mut s = format!("{src}.{sp} > {dst}.{dp}");
        if let Some(t) = &info.tcp {
            let key = (src, sp, dst, dp);
            if t.flags.has(SYN) {
                if self.0.len() >= 4096 {
                    self.0.clear();
                }
                self.0.insert(key, t.seq);
            }
            let base = self.0.get(&key).copied().unwrap_or(0);
            let rel = t.seq.wrapping_sub(base);
            let mut fl = String::new();
            for (bit, c) in [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (PSH, 'P'), (ACK, '.')] {
                if t.flags.has(bit) {
                    fl.push(c);
                }
            }
            s += &format!(" [{fl}] seq {rel}:{}", rel.wrapping_add(t.len as u32));
        } else {
            s += " UDP";
        }
        s
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use stack::tcp::SeqNumber;
    use stack::wire::TcpRepr;

    /// An Ethernet + IPv4 + TCP frame (TCP checksum left zero: the matcher does not care).
    pub(in crate::faults) fn tcp_frame(flags: TcpFlags, seq: u32, payload: usize) -> Vec<u8> {
        let (src, dst) = ("10.0.0.2:7".parse().unwrap(), "10.0.0.1:40000".parse().unwrap());
        let t = TcpRepr::new(0, 0, SeqNumber(seq), None, flags, 0);
        stack::wire::frame::tcp_frame(src, dst, &t, &vec![0; payload])
    }

    #[test]
    fn selectors_match_what_they_say() {
        let syn = classify(&tcp_frame(SYN, 1, 0));
        let synack = classify(&tcp_frame(SYN | ACK, 1, 0));
        let ack = classify(&tcp_frame(ACK, 1, 0));
        let data = classify(&tcp_frame(ACK | PSH, 1, 100));
        let fin = classify(&tcp_frame(ACK | FIN, 1, 0));
        let mut arp = vec![0u8; 60];
        EthernetFrame::new_unchecked(&mut arp[..]).set_ethertype(ETHERTYPE_ARP);
        let arp = classify(&arp);
        use Selector::*;
        let m = |s: Selector, f: &FrameInfo| s.matches(f);
        assert!(m(Syn, &syn) && !m(Syn, &synack) && m(SynAck, &synack) && !m(SynAck, &syn));
        assert!(m(Ack, &ack) && !m(Ack, &data) && !m(Ack, &fin) && !m(Ack, &synack));
        assert!(m(Data, &data) && !m(Data, &ack) && m(Fin, &fin) && !m(Rst, &fin));
        assert!(m(Tcp, &data) && m(Ip, &data) && !m(Udp, &data) && !m(Arp, &data));
        assert!(m(Port(7), &data) && m(Port(40000), &data) && !m(Port(8), &data));
        assert!(m(Arp, &arp) && !m(Ip, &arp) && !m(Tcp, &arp) && m(Any, &arp));
        // Padding does not count as payload.
        let mut padded = tcp_frame(ACK, 1, 0);
        padded.resize(60, 0);
        assert!(m(Ack, &classify(&padded)));
    }
}
