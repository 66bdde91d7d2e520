//! Ethernet II framing.
//!
//! Read first: IEEE 802.3 §3.2 (the frame), RFC 894 (IP over Ethernet),
//! RFC 1122 §2.3.3. We accept frames for our MAC and for broadcast, drop the
//! rest with a reason, and on transmit push a 14-byte header.
//!
//! `eth_rcv` and `eth_push` work on an `SkBuff`; the stack's transmit,
//! `eth_xmit` on `Stack` at the end of this file (Linux `dev_queue_xmit`),
//! pushes the header and queues the frame for `Stack::poll_transmit`.

use crate::skbuff::SkBuff;
use crate::stats::DropReason;
use core::fmt;
use core::str::FromStr;

pub const ETH_HLEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;

/// A 48-bit MAC address.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    pub fn is_broadcast(&self) -> bool {
        *self == MacAddr::BROADCAST
    }
    /// Group bit set (broadcast or multicast).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MacAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6 {
            return Err(format!("bad MAC address {s:?}: want six hex bytes like 02:00:00:00:00:02"));
        }
        let mut m = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            m[i] = u8::from_str_radix(p, 16).map_err(|_| format!("bad MAC address {s:?}"))?;
        }
        Ok(MacAddr(m))
    }
}

/// The EtherType field, as an enum with an arm for everything else.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum EtherType {
    Ipv4,
    Arp,
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            ETHERTYPE_IPV4 => EtherType::Ipv4,
            ETHERTYPE_ARP => EtherType::Arp,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(t: EtherType) -> u16 {
        match t {
            EtherType::Ipv4 => ETHERTYPE_IPV4,
            EtherType::Arp => ETHERTYPE_ARP,
            EtherType::Unknown(v) => v,
        }
    }
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct EthHeader {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub ethertype: EtherType,
}

/// Parse and pull the Ethernet header (`eth_type_trans`). Frames not for
/// `us` (nor broadcast) are dropped: we are not in promiscuous mode.
pub fn eth_rcv(skb: &mut SkBuff, us: MacAddr) -> Result<EthHeader, DropReason> {
    skb.reset_mac_header();
    let (h, _) = etherparse::Ethernet2Header::from_slice(skb.data()).map_err(|_| DropReason::EthTooShort)?;
    let hdr =
        EthHeader { dst: MacAddr(h.destination), src: MacAddr(h.source), ethertype: EtherType::from(h.ether_type.0) };
    if hdr.dst != us && !hdr.dst.is_broadcast() {
        return Err(DropReason::EthNotForUs);
    }
    skb.pull(ETH_HLEN);
    Ok(hdr)
}

/// Push the Ethernet header in front of the packet (`eth_header`).
pub fn eth_push(skb: &mut SkBuff, dst: MacAddr, src: MacAddr, ethertype: EtherType) {
    let h = skb.push(ETH_HLEN);
    h[0..6].copy_from_slice(&dst.0);
    h[6..12].copy_from_slice(&src.0);
    h[12..14].copy_from_slice(&u16::from(ethertype).to_be_bytes());
    skb.reset_mac_header();
}

// --------------------------------------------------------- Ethernet path
//
// The stack's Ethernet transmit, on `Stack` (Linux `dev_queue_xmit`): push
// the header and queue the frame for `Stack::poll_transmit`.

use crate::stack::Stack;

impl Stack {
    /// `dev_queue_xmit`: push the Ethernet header; the frame is ready.
    pub(crate) fn eth_xmit(&mut self, dst: MacAddr, ethertype: EtherType, mut skb: SkBuff) {
        eth_push(&mut skb, dst, self.config.mac, ethertype);
        self.txq.push_back(skb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The first 14 bytes of an ARP request captured from `arping` on a TAP.
    const ARP_FRAME_HDR: [u8; 14] =
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06];

    #[test]
    fn parse_and_emit_round_trip() {
        let mut skb = SkBuff::from_frame(&ARP_FRAME_HDR);
        let h = eth_rcv(&mut skb, MacAddr([2, 0, 0, 0, 0, 2])).unwrap();
        assert_eq!(h.dst, MacAddr::BROADCAST);
        assert_eq!(h.src, "52:54:00:12:34:56".parse().unwrap());
        assert_eq!(h.ethertype, EtherType::Arp);
        assert!(skb.is_empty());

        let mut out = SkBuff::with_capacity(14);
        out.reserve(14);
        out.push(0); // nothing yet
        let mut buf = SkBuff::with_capacity(14);
        buf.reserve(14);
        buf.tailroom_mut().fill(0xa5);
        eth_push(&mut buf, h.dst, h.src, h.ethertype);
        assert_eq!(buf.data(), &ARP_FRAME_HDR);
    }

    #[test]
    fn drops_short_and_foreign() {
        let mut skb = SkBuff::from_frame(&ARP_FRAME_HDR[..13]);
        assert_eq!(eth_rcv(&mut skb, MacAddr::ZERO), Err(DropReason::EthTooShort));
        let mut f = ARP_FRAME_HDR;
        f[0] = 0x02; // unicast to someone else
        let mut skb = SkBuff::from_frame(&f);
        assert_eq!(eth_rcv(&mut skb, MacAddr([2, 0, 0, 0, 0, 2])), Err(DropReason::EthNotForUs));
    }
}
