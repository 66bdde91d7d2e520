//! `tcp_probe`: a snapshot of a connection's inside state (cwnd, ssthresh,
//! pipe, SRTT, RTO, windows, queues) at every segment received or sent, at
//! every retransmission timeout and every state change, for plots of what
//! the wire cannot show (`synack plot`, the web view).
//!
//! Linux: the `tcp:tcp_probe` tracepoint (include/trace/events/tcp.h,
//! called from `tcp_rcv_established`; it replaced the old `tcp_probe`
//! module, net/ipv4/tcp_probe.c), which `perf trace -e tcp:tcp_probe`
//! reads. Ours is the same idea as a sans-IO queue like `trace.rs`: off by
//! default, one branch when off; when on, each sample is pushed on a
//! bounded queue (`MAX_PROBES`) that the caller drains with
//! `Stack::poll_probe`; if nobody drains it, the oldest are dropped and
//! counted. No RFC: this is instrumentation; the fields are RFC 9293's
//! (SND.UNA, RCV.NXT …), RFC 6298's (SRTT, RTTVAR, RTO), RFC 5681's (cwnd,
//! ssthresh), RFC 6675's (pipe) and RFC 9438's (W_max, K).
//!
//! This file has the sample and the queue (`Cx::probe` carries it); the
//! snapshot of a TCB is `TcpSock::tcp_probe_rx`, `TcpSock::tcp_probe_tx` and
//! `TcpSock::tcp_probe_event` at the end of sock.rs. The
//! hooks, one per kind: `Rx` in the dispatcher (input.rs `conn_rcv`, after
//! the segment was processed; handshake.rs `listen_rcv` for a SYN that
//! makes a child), `Tx` in `transmit` (output.rs, Linux `tcp_transmit_skb`),
//! `Rto` in `retransmit_timer` (timer.rs), `State` in `set_state` (sock.rs,
//! Linux `tcp_set_state`). Sampling never changes what the connection does.

use super::state::{CaState, TcpState};
use crate::time::Instant;
use std::collections::VecDeque;
use std::net::SocketAddrV4;

/// Samples kept until drained: at most this many (2^16, a few seconds of a
/// fast transfer); the oldest go first, counted in `ProbeQueue::dropped`.
pub const MAX_PROBES: usize = 65_536;

/// What the sample was taken for.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum ProbeKind {
    /// A segment arrived and was processed (the fields after it).
    Rx,
    /// A segment was sent (`seq`, `len`, `flags` are that segment's).
    Tx,
    /// The retransmission timer fired (RFC 6298 (5.4)-(5.6)); `backoff`
    /// counts the timeouts of this episode, `rto_us` is backed off.
    Rto,
    /// The connection changed state (`state` is the new one).
    State,
}

impl ProbeKind {
    /// Lowercase name, as CSV and JSON spell it: `rx`, `tx`, `rto`, `state`.
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Rx => "rx",
            ProbeKind::Tx => "tx",
            ProbeKind::Rto => "rto",
            ProbeKind::State => "state",
        }
    }
}

/// One sample. Sequence numbers are absolute (the consumer makes them
/// relative to `iss` or `irs`); windows and queues in bytes, times in µs.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpProbe {
    pub at: Instant,
    pub kind: ProbeKind,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub iss: u32,
    pub irs: u32,
    pub state: TcpState,
    /// Tx: the segment sent; Rx: the segment that arrived; else 0.
    pub seq: u32,
    /// Payload bytes (SYN and FIN not counted).
    pub len: u32,
    /// TCP flags byte (FIN 0x01 … CWR 0x80).
    pub flags: u8,
    /// Tx: a retransmission (it starts below SND.MAX).
    pub retrans: bool,
    /// Tx: a zero-window probe (`tcp_xmit_probe_skb` into a zero window).
    pub zero_window_probe: bool,
    /// The segment's acknowledgment number and window (scaled, bytes).
    pub ack: u32,
    pub win: u32,
    /// The segment's SACK blocks, `nsack` of them.
    pub sack: [(u32, u32); 4],
    pub nsack: u8,
    pub snd_una: u32,
    pub snd_nxt: u32,
    pub rcv_nxt: u32,
    pub cwnd: u32,
    /// `u32::MAX` capped: "infinite" before the first loss.
    pub ssthresh: u32,
    /// Bytes in the network: RFC 6675 pipe with a SACK scoreboard, else the flight size.
    pub in_flight: u32,
    /// Linux's `icsk_ca_state`: `open`, `disorder`, `cwr`, `recovery`, `loss`.
    pub ca_state: CaState,
    /// CUBIC's W_max (bytes) and K (seconds) when CUBIC has them.
    pub w_max: Option<f64>,
    pub k: Option<f64>,
    /// When CUBIC's epoch began (K counts from it).
    pub epoch_start: Option<Instant>,
    pub srtt_us: u32,
    pub rttvar_us: u32,
    pub rto_us: u32,
    /// Rx: the RTT measured from this ACK, if it gave one.
    pub rtt_sample_us: Option<u32>,
    /// Consecutive timeouts (Linux `icsk_retransmits`), capped at 255.
    pub backoff: u8,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    pub recv_q: u32,
    pub send_q: u32,
    pub ofo_bytes: u32,
}

/// The queue of samples, off by default.
#[derive(Debug, Default)]
pub struct ProbeQueue {
    enabled: bool,
    samples: VecDeque<TcpProbe>,
    dropped: u64,
}

impl ProbeQueue {
    /// Turn sampling on or off; off empties the queue.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
        if !on {
            self.samples = VecDeque::new();
        }
    }
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// Samples discarded because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
    /// Samples waiting.
    pub fn len(&self) -> usize {
        self.samples.len()
    }
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
    pub fn push(&mut self, p: TcpProbe) {
        if self.samples.len() >= MAX_PROBES {
            self.samples.pop_front();
            self.dropped += 1;
        }
        self.samples.push_back(p);
    }
    pub fn pop(&mut self) -> Option<TcpProbe> {
        self.samples.pop_front()
    }
    /// Stop sampling for a moment without losing what is queued; returns
    /// whether it was on, for `resume`. (A SYN cookie's SYN-ACK comes from
    /// a throwaway TCB that is no connection: handshake.rs `cookie_synack`.)
    pub(crate) fn suspend(&mut self) -> bool {
        std::mem::replace(&mut self.enabled, false)
    }
    pub(crate) fn resume(&mut self, was_on: bool) {
        self.enabled = was_on;
    }
}
