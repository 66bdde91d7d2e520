//! Ethernet II framing.
//!
//! Read first: IEEE 802.3 §3.2 (the frame), RFC 894 (IP over Ethernet),
//! RFC 1122 §2.3.3. We accept frames for our MAC and for broadcast, drop the
//! rest with a reason, and on transmit push a 14-byte header. The header's
//! bytes are read and written by `wire/ethernet.rs` (`EthernetFrame`,
//! `EthernetRepr`), which also defines `MacAddr` and `EtherType`.
//!
//! `eth_rcv` and `eth_push` work on an `SkBuff`; `eth_xmit` (Linux
//! `dev_queue_xmit`) pushes the header and queues the frame on the transmit
//! queue that `Stack::poll_transmit` drains. Nothing here names `Stack`:
//! stack.rs calls `ethernet.rs::eth_rcv`, arp.rs calls `ethernet.rs::eth_xmit`
//! with the stack's queue and MAC.

use crate::skbuff::SkBuff;
use crate::stats::DropReason;
use crate::wire::ethernet::{EtherType, MacAddr, ETH_HLEN};
use crate::wire::{EthernetFrame, EthernetRepr};
use std::collections::VecDeque;

/// Parse and pull the Ethernet header (`eth_type_trans`). Frames not for
/// `us` (nor broadcast) are dropped: we are not in promiscuous mode.
pub fn eth_rcv(skb: &mut SkBuff, us: MacAddr) -> Result<EthernetRepr, DropReason> {
    skb.reset_mac_header();
    let hdr = EthernetRepr::parse(&EthernetFrame::new_checked(skb.data())?);
    if hdr.dst != us && !hdr.dst.is_broadcast() {
        return Err(DropReason::EthNotForUs);
    }
    skb.pull(ETH_HLEN);
    Ok(hdr)
}

/// Push the Ethernet header in front of the packet (`eth_header`).
pub fn eth_push(skb: &mut SkBuff, dst: MacAddr, src: MacAddr, ethertype: EtherType) {
    let h = skb.push(ETH_HLEN);
    EthernetRepr { dst, src, ethertype }.emit(&mut EthernetFrame::new_unchecked(h));
    skb.reset_mac_header();
}

/// `dev_queue_xmit`: push the Ethernet header (from `src` to `dst`) and
/// queue the finished frame on `txq` for the device.
pub fn eth_xmit(txq: &mut VecDeque<SkBuff>, src: MacAddr, dst: MacAddr, ethertype: EtherType, mut skb: SkBuff) {
    eth_push(&mut skb, dst, src, ethertype);
    txq.push_back(skb);
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
