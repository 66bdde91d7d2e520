//! SO_LINGER: what `close` does with a connection that still has data to
//! send, and how a caller waits for a lingering close.
//!
//! Read first: socket(7) (SO_LINGER), RFC 9293 §3.10.4 (CLOSE and ABORT).
//! Linux: net/ipv4/tcp.c `tcp_close` (`__tcp_close`), `tcp_disconnect`,
//! `tcp_need_reset`; net/core/stream.c `sk_stream_wait_close`,
//! `sk_stream_closing`; net/ipv4/af_inet.c `inet_release` (the timeout is
//! `sk_lingertime` when SOCK_LINGER is set).
//!
//! - Off (the default): `close` queues our FIN after the data and returns;
//!   the connection finishes closing on its own, orphaned.
//! - On with 0 seconds: `close` aborts. Checked after unread data (which
//!   sends a RST anyway, RFC 2525 §2.17): Linux calls `tcp_disconnect`,
//!   which sends a RST from the states where the peer must learn of it
//!   (`tcp_need_reset`: ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, FIN_WAIT_2,
//!   SYN_RECEIVED; CLOSING and LAST_ACK while data or our FIN is still
//!   unsent), throws the send queue away and frees the socket: no FIN, no
//!   TIME_WAIT.
//! - On with `t` seconds: `close` closes as by default, then the caller
//!   waits until our FIN is acknowledged (`sk_stream_closing` is false:
//!   the state left FIN_WAIT_1, CLOSING and LAST_ACK) or `t` passes, then
//!   returns 0 either way: the connection goes on closing. The stack never
//!   waits: `Tcp::close` returns `Close::Lingering` and the caller asks
//!   `Tcp::lingering` until it is false or the deadline passes
//!   (device/src/socket.rs `BlockingSocket::close` does; Linux waits even
//!   on a non-blocking socket).

use super::sock::{TcpSock, TcpState};
use super::{SeqNumber, Tcp, TcpConfig};
use crate::cx::Cx;
use crate::stats::Counter;
use crate::time::{Duration, Instant};
use crate::trace::EventKind;
use std::net::SocketAddrV4;

/// Linux `MAX_SCHEDULE_TIMEOUT / HZ`, in effect: SO_LINGER times at or above
/// this are "forever". Here a day bounds the wait (a bounded `close`).
pub const MAX_LINGER_SECS: u32 = 86_400;

/// What `close` did.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Close {
    /// Done: the caller may return.
    Closed,
    /// SO_LINGER with a time: the caller's `close` should wait while
    /// `Stack::lingering` says so, until `Lingering::until`.
    Lingering(Lingering),
}

/// A connection whose `close` lingers: the deadline and who it is (the
/// handle is gone; the orphan is found by its slot and checked by its
/// addresses and ISS, so a reused slot is never mistaken for it).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Lingering {
    pub until: Instant,
    slot: usize,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    iss: SeqNumber,
}

impl Tcp {
    /// Linux `sk_stream_closing` for a lingering close: the connection is
    /// still waiting for our FIN to be acknowledged (FIN_WAIT_1, CLOSING,
    /// LAST_ACK). False once it is, once the connection is gone, or past
    /// the deadline.
    pub fn lingering(&self, l: &Lingering, now: Instant) -> bool {
        if now >= l.until {
            return false;
        }
        match self.socks.get(l.slot) {
            Some(Some(sk)) if sk.local == l.local && sk.remote == l.remote && sk.snd.iss == l.iss => {
                sk_stream_closing(sk.state)
            }
            _ => false,
        }
    }
}

/// Linux `sk_stream_closing`.
fn sk_stream_closing(s: TcpState) -> bool {
    matches!(s, TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck)
}

impl TcpSock {
    /// SO_LINGER on with time 0 (Linux `sock_flag(sk, SOCK_LINGER) &&
    /// !sk->sk_lingertime`). TIME_WAIT is excluded: Linux's socket there is
    /// already CLOSED, the timewait socket lives on.
    pub(super) fn linger_abort(&self) -> bool {
        self.opt.linger.onoff && self.opt.linger.secs == 0 && self.state != TcpState::TimeWait
    }

    /// `tcp_disconnect` from `tcp_close` (SO_LINGER 0): a RST if the peer
    /// must learn of it (`tcp_need_reset`, or data or FIN unsent in CLOSING
    /// or LAST_ACK), then CLOSED with the queues thrown away.
    pub(super) fn tcp_disconnect(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        const WHY: &str = "socket(7) SO_LINGER";
        let need_reset = matches!(
            self.state,
            TcpState::Established
                | TcpState::CloseWait
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::SynReceived
        ) || (matches!(self.state, TcpState::Closing | TcpState::LastAck) && !self.fin_sent());
        let unsent = self.snd_end().since(self.snd.una);
        let (l, r) = (self.local, self.remote);
        let now = cx.now;
        cx.trace.emit(now, EventKind::Tcp, WHY, || {
            let rst = if need_reset { "RST" } else { "no RST" };
            format!("{l} {r}: close with SO_LINGER 0: {unsent} bytes discarded, {rst}")
        });
        if need_reset {
            self.send_active_reset(cx, cfg);
        }
        // Linux counts it as TCPAbortOnData.
        cx.stats.inc(Counter::TcpAbortOnData);
        self.tcp_done_because(cx, None, WHY);
    }

    /// After a graceful `close`: linger if SO_LINGER asks for a time and our
    /// FIN is still unacknowledged.
    pub(super) fn linger_after_close(&self, now: Instant, slot: usize) -> Close {
        let l = self.opt.linger;
        if !l.onoff || l.secs == 0 || !sk_stream_closing(self.state) {
            return Close::Closed;
        }
        let secs = l.secs.min(MAX_LINGER_SECS);
        Close::Lingering(Lingering {
            until: now + Duration::from_secs(secs as u64),
            slot,
            local: self.local,
            remote: self.remote,
            iss: self.snd.iss,
        })
    }
}
