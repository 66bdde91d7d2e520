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
//! Each layer's path is in its protocol's file: an `impl Stack` block where
//! it needs the whole stack (arp.rs, ipv4.rs), a method of the layer's own
//! state with a `Cx` (cx.rs) where it does not (icmp.rs, udp.rs, tcp/), a
//! free function where it needs only a buffer (ethernet.rs). The path of a
//! frame in:
//!
//! ```text
//!   stack.rs::handle_frame        length check, then
//!   ethernet.rs::eth_rcv          our MAC or broadcast; by EtherType to
//!   arp.rs::arp_rcv               learn the sender (neighbour.rs's table),
//!                                 answer a request, or
//!   ipv4.rs::ip_rcv               checks, reassembly (ip_frag.rs), then
//!   ipv4.rs::ip_local_deliver     by protocol to
//!     icmp.rs::icmp_rcv           echo, replies, unreachables (`Icmp::icmp_rcv`;
//!                                 an error about our packet goes to
//!                                 stack.rs::transport_error)
//!     udp.rs::udp_rcv             to a socket (`Udp::udp_rcv`), or back for
//!                                 icmp.rs::icmp_send_unreach: port unreachable
//!     tcp/input.rs::tcp_v4_rcv    (`Tcp::tcp_v4_rcv`)
//! ```
//!
//! The path out: a socket call (stack.rs) or TCP builds an `SkBuff` with room
//! for every header and queues it as an `L4Xmit` (cx.rs);
//!
//! ```text
//!   stack.rs::flush               each queued L4Xmit to
//!   ipv4.rs::ip_output            route.rs::route_lookup, the IP header,
//!                                 fragments above the MTU, then
//!   arp.rs::neigh_output          the next hop's MAC (neighbour.rs), or
//!                                 queue the packet and send
//!                                 arp.rs::arp_request, then
//!   ethernet.rs::eth_xmit         the Ethernet header, onto the queue that
//!   stack.rs::poll_transmit       drains
//! ```
//!
//! At the bottom of the modules is the vocabulary, which imports no
//! protocol: socket.rs (handles, flags, options, `CongAlgo`, the wake queue),
//! cx.rs (`Cx`, `L4Xmit`), skbuff.rs, checksum.rs, stats.rs, trace.rs,
//! time.rs, errno.rs; and wire/, every header's bytes, which every file
//! imports header names from. Above it the layers that need no `Stack`:
//! each one's state, with its path where it needs nothing else (neighbour.rs,
//! ip_frag.rs, route.rs, icmp.rs, udp.rs, tcp/, epoll.rs), and ethernet.rs's
//! free functions; then stack.rs, which holds their state (like Linux's
//! `struct net`) and imports nothing from a file that names `Stack`; and on
//! top arp.rs and ipv4.rs, whose `impl Stack` blocks reach every layer
//! through it.

pub mod arp;
pub mod checksum;
pub mod cx;
pub mod epoll;
pub mod errno;
pub mod ethernet;
pub mod gro;
pub mod gso;
pub mod hash;
pub mod icmp;
pub mod ip_frag;
pub mod ipv4;
pub mod neighbour;
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

pub use cx::{Cx, L4Xmit};
pub use epoll::{EpollEvent, EpollFlags, EpollHandle, EpollOp};
pub use errno::Errno;
pub use icmp::PingReply;
pub use skbuff::{GsoType, IpSummed, SkBuff};
pub use socket::{sigpipe_due, Linger, MsgFlags, PollFlags, Shutdown, SockOpt, SockOptName, SockType, SocketHandle};
pub use stack::{Config, IfaceInfo, Offloads, Stack};
pub use stats::{Counter, DropReason, Stats};
pub use tcp::{Close, Lingering};
pub use time::{Duration, Instant};
pub use trace::{EventKind, Trace, TraceEvent};
pub use wire::MacAddr;
