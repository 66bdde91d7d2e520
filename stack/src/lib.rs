//! synack's protocol stack: Ethernet, ARP, IPv4, ICMP, UDP and TCP, sans-IO.
//!
//! Nothing in this crate reads a clock, sleeps, spawns a thread, opens a file
//! or a socket. The driver (the poll loop in `device`, a test, or pcap replay)
//! does all of that and talks to the stack through five calls:
//!
//! ```text
//!   stack.handle_frame(now, skb)      a frame arrived from the wire
//!   stack.handle_timeout(now)         the deadline from poll_timeout passed
//!   stack.poll_transmit(now)          a frame to put on the wire, if any
//!   stack.poll_timeout()              when to call handle_timeout next
//!   stack.socket()/bind()/sendto()…   the BSD-socket-like API
//! ```
//!
//! Randomness (TCP's ISN secret, ephemeral ports) comes from a seeded RNG in
//! `Config`, so a run is a pure function of its inputs: every test is
//! deterministic, and a capture can be replayed frame by frame.
//!
//! The path of a frame in: `ethernet::eth_rcv` → `arp::arp_rcv` or
//! `ipv4::ip_rcv` → (`ip_frag` reassembly) → `icmp::icmp_rcv`, `udp::udp_rcv`
//! or `tcp::Tcp::tcp_v4_rcv`. The path out: a socket builds an `SkBuff` with
//! room for every header, `ipv4::ip_output` pushes the IP header after
//! `route::RouteTable::route_lookup`, `arp` resolves the next hop (or queues
//! the packet), and `ethernet::eth_xmit` pushes the Ethernet header onto the
//! transmit queue that `poll_transmit` drains.

pub mod arp;
pub mod checksum;
pub mod epoll;
pub mod errno;
pub mod ethernet;
pub mod gso;
pub mod hash;
pub mod icmp;
pub mod ip_frag;
pub mod ipv4;
pub mod route;
pub mod skbuff;
pub mod socket;
pub mod stats;
pub mod tcp;
pub mod tcpdump;
pub mod time;
pub mod trace;
pub mod udp;
pub mod wire;

mod stack;

pub use epoll::{EpollEvent, EpollFlags, EpollHandle, EpollOp};
pub use errno::Errno;
pub use ethernet::MacAddr;
pub use skbuff::{GsoType, IpSummed, SkBuff};
pub use socket::{MsgFlags, PollFlags, Shutdown, SockOpt, SockOptName, SockType, SocketHandle};
pub use stack::{Config, IfaceInfo, Offloads, PingReply, Stack};
pub use stats::{Counter, DropReason, Stats};
pub use time::{Duration, Instant};
pub use trace::{EventKind, Trace, TraceEvent};

use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// A transport-layer packet on its way down to IP: the `SkBuff`'s data starts
/// at the transport header (checksum already written), with headroom left for
/// IP and Ethernet.
#[derive(Debug)]
pub struct L4Xmit {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// IP protocol number (1 ICMP, 6 TCP, 17 UDP).
    pub protocol: u8,
    pub skb: SkBuff,
}

/// The context a protocol handler gets on every call: the time, the shared
/// counters and trace, the seeded RNG, and a queue for packets to send.
pub struct Cx<'a> {
    pub now: Instant,
    pub stats: &'a mut Stats,
    pub trace: &'a mut Trace,
    pub rng: &'a mut rand::rngs::StdRng,
    pub out: &'a mut VecDeque<L4Xmit>,
}

impl Cx<'_> {
    /// Count and trace a dropped packet (the kernel's `kfree_skb_reason`).
    /// `rfc` is the clause that decided it; empty: the reason's own
    /// (`DropReason::rfc`).
    pub fn drop_packet(&mut self, reason: DropReason, rfc: &'static str, what: impl FnOnce() -> String) {
        self.stats.count_drop(reason);
        let rfc = if rfc.is_empty() { reason.rfc() } else { rfc };
        let now = self.now;
        self.trace.emit(now, EventKind::Drop(reason), rfc, || format!("drop {}: {}", reason.name(), what()));
    }
}
