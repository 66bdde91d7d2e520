//! What a protocol handler is handed on every call (`Cx`), and what a
//! transport protocol hands down to IP (`L4Xmit`).
//!
//! A module of its own, below every protocol: TCP's calls (`Stack::with_tcp`),
//! `Icmp::icmp_rcv` and `Udp::udp_rcv` (from `ipv4.rs::ip_local_deliver`)
//! are handed a `Cx`; they queue `L4Xmit`s through `Cx::out`, and
//! `Stack::flush` (stack.rs) sends each through `ipv4.rs::ip_output`. No RFC: this is synack's plumbing (the
//! kernel passes `struct sock`, `struct net` and the skb instead).

use crate::skbuff::SkBuff;
use crate::stats::{DropReason, Stats};
use crate::tcp::probe::ProbeQueue;
use crate::time::Instant;
use crate::trace::{EventKind, Trace};
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
    /// The socket's IP_TTL (`None`: the stack's, `ip_default_ttl`) and
    /// IP_TOS, for the IP header (`ipv4.rs` `ip_output`).
    pub ttl: Option<u8>,
    pub tos: u8,
}

/// The context a protocol handler gets on every call: the time, the shared
/// counters and trace, the `tcp_probe` queue, the seeded RNG, and a queue
/// for packets to send.
pub struct Cx<'a> {
    pub now: Instant,
    pub stats: &'a mut Stats,
    pub trace: &'a mut Trace,
    /// TCP's inside-state samples (tcp/probe.rs), off unless enabled.
    pub probe: &'a mut ProbeQueue,
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
