//! The per-socket options a TCB carries (`SockOpts`: what `setsockopt`
//! and `fcntl` set) and its urgent-data state (`UrgVars`): data only, kept
//! out of sock.rs. The rules that read them are in sockopt.rs (Linux
//! `sk_setsockopt`, `do_tcp_setsockopt`), keepalive.rs, linger.rs and
//! urgent.rs (`tcp_urg`, `tcp_recv_urg`).
//!
//! Read first: socket(7), tcp(7), ip(7); RFC 6093 (urgent data).

use super::seq::SeqNumber;
use crate::time::Duration;

/// Linux `tp->urg_data`: where the one urgent byte stands.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum UrgData {
    /// No urgent data (0).
    #[default]
    None,
    /// A pointer came, the byte has not (`TCP_URG_NOTYET`).
    NotYet,
    /// The byte, readable with `MSG_OOB` (`TCP_URG_VALID | byte`).
    Valid(u8),
    /// Read with `MSG_OOB` (`TCP_URG_READ`); the mark still stands.
    Read,
}

/// The urgent state of a connection (Linux `urg_data`, `urg_seq`, `snd_up`;
/// the rules are in urgent.rs).
#[derive(Copy, Clone, Debug, Default)]
pub struct UrgVars {
    pub(super) data: UrgData,
    /// Sequence number of the urgent byte we received.
    pub(super) seq: SeqNumber,
    /// Our urgent point: the sequence number just past our urgent byte,
    /// while urgent mode lasts (Linux `snd_up`, `tcp_urg_mode`).
    pub(super) snd_up: Option<SeqNumber>,
}

/// Socket options set with `setsockopt` and `fcntl`.
#[derive(Debug)]
pub struct SockOpts {
    /// SO_REUSEADDR.
    pub(super) reuse_addr: bool,
    /// SO_KEEPALIVE.
    pub(super) keepalive: bool,
    /// TCP_NODELAY.
    pub(super) nodelay: bool,
    /// TCP_CORK.
    pub(super) cork: bool,
    /// O_NONBLOCK.
    pub(super) nonblocking: bool,
    /// The application set SO_SNDBUF / SO_RCVBUF: no autotuning, and the
    /// window scale is sized to the buffer (Linux `SOCK_SNDBUF_LOCK`,
    /// `SOCK_RCVBUF_LOCK`).
    pub(super) sndbuf_lock: bool,
    pub(super) rcvbuf_lock: bool,
    /// SO_RCVLOWAT (Linux `sk_rcvlowat`, at least 1; sockopt.rs).
    pub(super) rcvlowat: usize,
    /// SO_LINGER (Linux `SOCK_LINGER` and `sk_lingertime`; linger.rs).
    pub(super) linger: crate::socket::Linger,
    /// SO_OOBINLINE (Linux `SOCK_URGINLINE`; urgent.rs).
    pub(super) oobinline: bool,
    /// MSG_MORE, only while the write that carries it is pushed (Linux
    /// passes `TCP_NAGLE_CORK` to `__tcp_push_pending_frames`): a partial
    /// segment is held as under TCP_CORK, until the next push without it
    /// (a write, an ACK, the persist timer).
    pub(super) more: bool,
    /// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT; `None`: the stack's
    /// (keepalive.rs).
    pub(super) keepidle: Option<Duration>,
    pub(super) keepintvl: Option<Duration>,
    /// (At most `MAX_TCP_KEEPCNT`, 127: a byte, as in Linux's `keepalive_probes`.)
    pub(super) keepcnt: Option<u8>,
    /// TCP_MAXSEG (Linux `rx_opt.user_mss`; 0: unset): clamps the MSS we
    /// announce and the one we send with (sockopt.rs `advmss`).
    pub(super) user_mss: u16,
    /// IP_TTL (`None`: the stack's) and IP_TOS, for our IP headers.
    pub(super) ttl: Option<u8>,
    pub(super) tos: u8,
}
