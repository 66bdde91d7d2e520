//! Trace events: what the stack decided and why, for the `-v` lines under
//! each tcpdump-style frame line and for step mode.
//!
//! Events are built only when tracing is on (the text is a closure), and the
//! queue is bounded: if nobody drains it, the oldest events are discarded.

use crate::stats::DropReason;
use crate::time::Instant;
use std::collections::VecDeque;

/// What kind of thing happened.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum EventKind {
    Drop(DropReason),
    Arp,
    Route,
    Ip,
    Icmp,
    Udp,
    /// A TCP state change, e.g. `LISTEN -> SYN_RECEIVED`.
    TcpState,
    /// SYN queue -> accept queue -> accepted.
    TcpQueue,
    /// A timer set, fired or cancelled.
    TcpTimer,
    TcpRetransmit,
    TcpWindow,
    Tcp,
}

#[derive(Clone, Debug)]
pub struct TraceEvent {
    pub at: Instant,
    pub kind: EventKind,
    /// The clause behind the decision, e.g. `"RFC 9293 §3.10.7.4"`; may be empty.
    pub rfc: &'static str,
    pub text: String,
}

#[derive(Debug)]
pub struct Trace {
    enabled: bool,
    cap: usize,
    events: VecDeque<TraceEvent>,
}

impl Default for Trace {
    fn default() -> Self {
        Trace { enabled: false, cap: 4096, events: VecDeque::new() }
    }
}

impl Trace {
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
        if !on {
            self.events.clear();
        }
    }
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// Record an event; `text` runs only when tracing is on.
    pub fn emit(&mut self, at: Instant, kind: EventKind, rfc: &'static str, text: impl FnOnce() -> String) {
        if !self.enabled {
            return;
        }
        if self.events.len() >= self.cap {
            self.events.pop_front();
        }
        self.events.push_back(TraceEvent { at, kind, rfc, text: text() });
    }
    pub fn pop(&mut self) -> Option<TraceEvent> {
        self.events.pop_front()
    }
}
