//! The headers on the wire: for each one, a view over its bytes and a
//! parsed representation, after smoltcp's `wire` module.
//!
//! Read first: the RFC each file opens with (RFC 894 and IEEE 802.3 for
//! Ethernet, RFC 826 ARP, RFC 791 IPv4, RFC 792 ICMP, RFC 768 UDP, RFC 9293,
//! RFC 7323 and RFC 2018 TCP), and smoltcp's `wire` module, whose design
//! this copies.
//!
//! Every header has two types:
//!
//! - a view, `EthernetFrame<T>`, `ArpPacket<T>`, `Ipv4Packet<T>`,
//!   `IcmpPacket<T>`, `UdpPacket<T>`, `TcpPacket<T>`: the bytes themselves
//!   (`T: AsRef<[u8]>`, read-only over `&[u8]`, read-write over `&mut [u8]`),
//!   with a getter and a setter per field and each field's byte range named
//!   in the file's `field` module. `new_checked` makes sure the getters can
//!   not read past the buffer, and says why not with the `DropReason` the
//!   stack counts; `new_unchecked` trusts the caller.
//! - a representation, `EthernetRepr`, `ArpRepr`, `Ipv4Repr`, `IcmpRepr`,
//!   `UdpRepr`, `TcpRepr` (with `TcpOptions`): the header's fields as
//!   values. `parse` reads one from a view, making the rest of the checks the
//!   stack makes, in the same order (each failure is a `DropReason`);
//!   `emit` writes one into a view. The same type goes both ways.
//!
//! `frame.rs`'s `tcp_frame` and `arp_frame` emit a whole Ethernet/IPv4/TCP
//! or Ethernet/ARP frame from the reprs, for the tests and tools outside
//! the stack that make frames.
//!
//! This is the only code in the `stack` crate that knows where a field sits
//! in a header: the layers (`ethernet.rs`, `arp.rs`, `ipv4.rs`, `icmp.rs`,
//! `udp.rs`, `tcp/`, `gso.rs`) parse and emit through it. Outside the stack,
//! the device's fault matcher (`faults/frame.rs`), replay diff
//! (`replay.rs::fields`) and virtio-net header (`tap.rs`), and the apps'
//! ladder (`ladder.rs::parse_tcp`, which step mode and `synack replay` use
//! too) read frames through it as well. synack's own code
//! does not use the `etherparse` crate: it is a dev-dependency only, the
//! independent oracle this module's tests parse the same bytes with.
//!
//! Tests and the fuzzer's frame builders (`fuzz/src/lib.rs`) may still
//! write bytes by hand: they make malformed frames on purpose (options of
//! odd lengths, wrong checksums, clamped lengths), which a representation
//! cannot express. In synack's own code, one exception remains: what
//! tcpdump prints byte by byte as tcpdump does
//! (TCP option bodies, truncated ones included; ARP with other address
//! lengths). Headers not here (802.1Q tags, IPv6, ICMPv6, IGMP) only
//! tcpdump reads.

pub mod arp;
pub mod ethernet;
pub mod frame;
pub mod icmp;
pub mod ipv4;
pub mod tcp;
pub mod udp;

pub use arp::{ArpPacket, ArpRepr};
pub use ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr};
pub use icmp::{IcmpPacket, IcmpRepr};
pub use ipv4::{IpProto, Ipv4Packet, Ipv4Repr};
pub use tcp::{TcpFlags, TcpOption, TcpOptions, TcpPacket, TcpRepr};
pub use udp::{UdpPacket, UdpRepr};

#[cfg(test)]
mod tests;
