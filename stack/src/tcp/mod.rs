//! TCP: the socket table, the BSD-socket-like API, and the module map.
//!
//! Read first: RFC 9293 (the protocol; §3.10 the event processing this code
//! follows), RFC 6298 (retransmission timer), RFC 5681 and RFC 6582
//! (congestion control, NewReno fast recovery), RFC 1122 §4.2 (host
//! requirements: delayed ACK, Nagle, silly window avoidance, keepalive),
//! RFC 9438 (CUBIC congestion control),
//! RFC 6528 (initial sequence numbers), RFC 5961 (blind in-window attacks),
//! RFC 7323 (window scale, timestamps), RFC 2018 and RFC 6675 (SACK).
//!
//! Where things live (Linux file in brackets):
//!
//! | file         | what                                                              |
//! |--------------|-------------------------------------------------------------------|
//! | `mod.rs`     | `Tcp`: socket table, demux tables, API calls (net/ipv4/tcp.c, af_inet.c, inet_connection_sock.c) |
//! | `sock.rs`    | the TCB (`struct tcp_sock`) grouped as RFC 9293 §3.3.1, `TcpState`, timers as data (`Timers`, `TimerKind`), RTO math |
//! | `handshake.rs` | CLOSED, LISTEN (SYN queue, SYN cookies), SYN_SENT: RFC 9293 §3.10.7.1-3 (tcp_ipv4.c `tcp_v4_conn_request`, tcp_minisocks.c) |
//! | `input.rs`   | `tcp_v4_rcv` (the demux) → `tcp_rcv_state_process`, `tcp_ack`, `tcp_data_queue`, `out_of_order_queue` (tcp_ipv4.c, tcp_input.c) |
//! | `output.rs`  | `tcp_write_xmit`, segment building, ACK/RST/probes (tcp_output.c) |
//! | `timer.rs`   | every timer handler (tcp_timer.c)                                 |
//! | `sack.rs`    | SACK blocks we send, the scoreboard of those we receive, RFC 6675 recovery's `pipe` and `NextSeg` (tcp_input.c `tcp_sacktag_write_queue`) |
//! | `timestamps.rs` | RFC 7323 timestamps: TSval clock, TS.Recent, PAWS, RTT from the echo, Eifel undo (RFC 3522) |
//! | `cong.rs`    | congestion control hooks: `cong_avoid`, `cong_ssthresh`, `cong_on_rto` for Reno and CUBIC (tcp_cong.c) |
//! | `cubic.rs`   | CUBIC's curve and state, `Bictcp` (tcp_cubic.c)                   |
//! | `opts.rs`    | `SockOpts` and `UrgVars`: the options and urgent state a TCB carries (data only) |
//! | `probe.rs`   | `tcp_probe`: samples of the inside state for plots (the `tcp:tcp_probe` tracepoint) |
//! | `seq.rs`     | RFC 6528 ISNs (secure_seq.c)                                      |
//! | `syncookies.rs` | SYN cookies: the stateless SYN-ACK and its check (syncookies.c) |
//! | `sockopt.rs` | `setsockopt`/`getsockopt`, SO_RCVLOWAT's readiness (sock.c `sk_setsockopt`, tcp.c `do_tcp_setsockopt`) |
//! | `keepalive.rs` | per-socket TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT (tcp.c `tcp_sock_set_keepidle_locked`, tcp.h `keepalive_time_when`) |
//! | `urgent.rs`  | `MSG_OOB`: the urgent pointer sent and received, the one out-of-band byte (tcp.c `tcp_recv_urg`, tcp_input.c `tcp_urg`) |
//! | `tcp_info.rs` | TCP_INFO: `struct tcp_info` of one socket and its Linux byte layout (tcp.c `tcp_get_info`) |
//! | `linger.rs`  | SO_LINGER in `close`: abort with RST, or a lingering close (tcp.c `tcp_close`, `tcp_disconnect`) |
//!
//! The header and its options, parsed and written, are `stack/src/wire/tcp.rs`
//! (`TcpRepr`; `TcpOptions::parse` is Linux's `tcp_parse_options`), with the
//! `SeqNumber` type of its sequence fields.
//!
//! A socket is a `usize` handle into one table. Passive-open children live
//! in the same table from the SYN on: first on their listener's SYN queue
//! (SYN_RECEIVED), then on its accept queue (ESTABLISHED), and `accept`
//! hands out their index. A closed socket stays in the table, owned by no
//! one (`Owner::Orphan`), until the connection has finished closing.

mod config;
mod cong;
mod cubic;
mod delack;
mod handshake;
mod input;
mod keepalive;
mod linger;
mod opts;
mod output;
pub(crate) mod probe;
mod prr;
mod rack;
mod rcvbuf;
mod sack;
mod seq;
mod sock;
mod sockopt;
mod state;
mod syncookies;
mod tcp_info;
mod timer;
mod timestamps;
mod urgent;

#[cfg(test)]
mod tests;

pub use crate::socket::CongAlgo;
pub use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
pub use config::TcpConfig;
pub use cubic::CubicRegion;
pub use keepalive::{MAX_TCP_KEEPCNT, MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL};
pub use linger::{Close, Lingering, MAX_LINGER_SECS};
pub use probe::{ProbeKind, ProbeQueue, TcpProbe, MAX_PROBES};
pub use seq::SeqNumber;
pub use sock::TcpState;
pub use state::CaState;
pub use tcp_info::{LinuxTcpInfo, TCPI_OPT_SACK, TCPI_OPT_TIMESTAMPS, TCPI_OPT_WSCALE, TCP_INFO_LEN};

use crate::cx::Cx;
use crate::errno::Errno;
use crate::hash::FlowHash;
use crate::socket::{MsgFlags, PollFlags, Shutdown, WakeQueue};
use crate::stats::Counter;
use crate::time::{Duration, Instant};
use crate::trace::EventKind;
use output::copy_from_deque;
use rand::rngs::StdRng;
use rand::Rng;
use sock::TimerKind;
use sock::{release_if_empty, Listener, Owner, TcpSock};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};

/// RFC 9293 §3.7.1: a peer that sends no MSS option gets 536 (576 - 40).
pub const DEFAULT_PEER_MSS: usize = 536;
/// Linux `ip_local_port_range`.
pub const EPHEMERAL_PORTS: core::ops::RangeInclusive<u16> = 32768..=60999;
/// Linux `net.core.somaxconn`: `listen(backlog)` is capped here.
pub const SOMAXCONN: usize = 4096;
/// Out-of-order queue entries per connection (the byte bound is the window).
pub const MAX_OFO_SEGMENTS: usize = 1024;
/// Bounds on the configured buffers (`TcpConfig::sndbuf`, `rcvbuf`).
pub const MIN_BUF: usize = 256;
pub const MAX_BUF: usize = 16 << 20;
/// Linux `net.core.rmem_max`, `wmem_max` (their defaults): the most
/// SO_RCVBUF / SO_SNDBUF may ask for, before the kernel doubles it.
pub const RMEM_MAX: usize = 212_992;
pub const WMEM_MAX: usize = 212_992;
/// Linux `SOCK_MIN_SNDBUF` (two minimal skbs, `TCP_SKB_MIN_TRUESIZE`) and
/// `SOCK_MIN_RCVBUF` (one): the least a doubled SO_SNDBUF / SO_RCVBUF gives.
pub const SOCK_MIN_SNDBUF: usize = 4608;
pub const SOCK_MIN_RCVBUF: usize = 2304;

/// One row of `netstat -tan` plus the `ss -ti` details.
#[derive(Clone, Debug)]
pub struct TcpInfo {
    /// The application's handle, `None` for children not yet accepted and
    /// closed (orphaned) connections.
    pub handle: Option<usize>,
    /// `state.netstat_name()` is netstat's spelling (SYN_RECV), `rfc_name()`
    /// RFC 9293's (SYN_RECEIVED).
    pub state: TcpState,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// Bytes received and not yet read by the application (listener: accept-queue length).
    pub recv_q: usize,
    /// Bytes sent and not yet acknowledged plus bytes not yet sent (listener: 0).
    pub send_q: usize,
    /// Listener: `listen(backlog)`, which netstat and ss show as its Send-Q.
    pub backlog: usize,
    /// Listener: half-open children in SYN_RECEIVED.
    pub syn_queue: usize,
    /// Listener: established children waiting for `accept`.
    pub accept_queue: usize,
    pub iss: u32,
    pub irs: u32,
    pub snd_una: u32,
    pub snd_nxt: u32,
    /// Peer's window in bytes (scaled).
    pub snd_wnd: usize,
    pub rcv_nxt: u32,
    /// What is left of the window we advertised.
    pub rcv_wnd: usize,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub mss: usize,
    pub srtt: Duration,
    pub rttvar: Duration,
    pub rto: Duration,
    pub cwnd: usize,
    pub ssthresh: usize,
    /// The congestion control algorithm (`ss -i` prints it first: `cubic`, `reno`).
    pub congestion: &'static str,
    /// Consecutive retransmission timeouts (`ss`'s `retrans:x/...` first number).
    pub retransmits: u32,
    /// Segments retransmitted over the life of the connection.
    pub total_retrans: u64,
    pub in_recovery: bool,
    /// RFC 7323 timestamps and RFC 2018 SACK agreed (`ss` prints `ts sack`).
    pub ts_ok: bool,
    pub sack_ok: bool,
    /// Bytes the peer has SACKed above SND.UNA (the scoreboard).
    pub sacked: usize,
    /// Bytes waiting in the out-of-order queue.
    pub ofo_bytes: usize,
    /// The next timer to fire, as `netstat -o` shows it: (name, time left).
    pub timer: Option<(&'static str, Duration)>,
}

/// The TCP layer: every socket and the tables to find them.
pub struct Tcp {
    config: TcpConfig,
    /// RFC 6528's secret key, from the seeded RNG.
    isn_key: [u64; 2],
    /// The SYN cookie secret (RFC 4987 §3.6), derived from `isn_key`.
    cookie_key: [u64; 2],
    /// RFC 5961 §7: challenge ACKs sent this second, stack-wide.
    challenge_acks: input::ChallengeAckLimit,
    socks: Vec<Option<TcpSock>>,
    /// The free slots of `socks`, lowest first (a min-heap): `alloc` takes
    /// the lowest free index, as a scan from the start would, without the
    /// scan (it cost 63 % of a handshake with 20,000 sockets in TIME_WAIT).
    free_slots: BinaryHeap<Reverse<usize>>,
    /// Established-table demux on the 4-tuple (local, remote) (`inet_ehash`).
    conns: HashMap<(SocketAddrV4, SocketAddrV4), usize, FlowHash>,
    /// Listening sockets by port (`inet_lhash`).
    listeners: HashMap<u16, usize, FlowHash>,
    /// Sockets holding each local port (`inet_bind_bucket` owners).
    ports: HashMap<u16, usize, FlowHash>,
    /// Application sockets whose readiness may have changed, for epoll.
    wakeups: WakeQueue,
}

impl Tcp {
    pub fn new(config: TcpConfig, rng: &mut StdRng) -> Tcp {
        let isn_key = [rng.gen(), rng.gen()];
        Tcp {
            config,
            cookie_key: syncookies::cookie_key(&isn_key),
            challenge_acks: Default::default(),
            isn_key,
            socks: Vec::new(),
            free_slots: BinaryHeap::new(),
            conns: HashMap::default(),
            listeners: HashMap::default(),
            ports: HashMap::default(),
            wakeups: WakeQueue::default(),
        }
    }

    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    /// Sockets in the table: the application's, passive children on a
    /// listener's queues, and connections still closing.
    pub fn sockets_in_use(&self) -> usize {
        self.socks.iter().flatten().count()
    }

    /// Change the tunables at run time (the prompt's `set`, like writing a
    /// `net.ipv4.tcp_*` sysctl). Each knob takes effect where it is read:
    ///
    /// - at once, on every connection: `delayed_ack` and its timeout,
    ///   `rto_min`/`rto_max`, the retry limits, keepalive times, `cork_timeout`;
    /// - on connections that *enter* TIME_WAIT (or FIN_WAIT_2) from now on:
    ///   `msl`, `fin_timeout`;
    /// - on new sockets only: `nagle` (an existing socket keeps its
    ///   TCP_NODELAY), `congestion` (an existing one keeps its
    ///   TCP_CONGESTION), `rto_initial`, `sndbuf`, `rcvbuf`, and on the next
    ///   SYN: `mss`, `window_scaling`, `init_cwnd_segs`.
    ///
    /// A passive connection is made from its listener (it inherits the
    /// listener's buffers, Nagle setting and congestion control, as in
    /// Linux): listeners that still have the old defaults take the new
    /// ones, so the connections they accept from now on get them too. A
    /// listener whose SO_SNDBUF, SO_RCVBUF, TCP_NODELAY or TCP_CONGESTION
    /// the application set to something else keeps it.
    pub fn set_config(&mut self, config: TcpConfig) {
        let mut config = config;
        config.sndbuf = config.sndbuf.clamp(MIN_BUF, MAX_BUF);
        config.rcvbuf = config.rcvbuf.clamp(MIN_BUF, MAX_BUF);
        let old = std::mem::replace(&mut self.config, config);
        let new = &self.config;
        for sk in self.socks.iter_mut().flatten().filter(|s| s.listen.is_some()) {
            if !sk.opt.sndbuf_lock {
                sk.q.sndbuf = new.sndbuf;
            }
            if !sk.opt.rcvbuf_lock {
                sk.q.rcvbuf = new.rcvbuf;
            }
            // nodelay is the opposite of nagle: still the old default?
            if sk.opt.nodelay != old.nagle {
                sk.opt.nodelay = !new.nagle;
            }
            if sk.cong.cc.algo == old.congestion {
                sk.set_congestion(new.congestion);
            }
        }
    }

    // ------------------------------------------------------------ the table

    fn user(&self, h: usize) -> Result<&TcpSock, Errno> {
        match self.socks.get(h) {
            Some(Some(s)) if s.owner == Owner::User => Ok(s),
            _ => Err(Errno::EBADF),
        }
    }

    fn user_mut(&mut self, h: usize) -> Result<&mut TcpSock, Errno> {
        match self.socks.get_mut(h) {
            Some(Some(s)) if s.owner == Owner::User => Ok(s),
            _ => Err(Errno::EBADF),
        }
    }

    /// A free slot for a new socket, or `None` at `max_sockets`.
    fn alloc(&mut self, sk: TcpSock) -> Option<usize> {
        while let Some(Reverse(i)) = self.free_slots.pop() {
            // Only `free` lists a slot, after emptying it; a slot is empty
            // in passing elsewhere (a socket taken out while it is worked
            // on), never listed then.
            if self.socks.get(i).is_some_and(|s| s.is_none()) {
                self.socks[i] = Some(sk);
                return Some(i);
            }
        }
        if self.socks.len() >= self.config.max_sockets {
            return None;
        }
        self.socks.push(Some(sk));
        Some(self.socks.len() - 1)
    }

    fn port_ref(&mut self, port: u16) {
        *self.ports.entry(port).or_insert(0) += 1;
    }

    fn port_unref(&mut self, port: u16) {
        if let Some(n) = self.ports.get_mut(&port) {
            *n -= 1;
            if *n == 0 {
                self.ports.remove(&port);
            }
        }
    }

    /// `inet_csk_bind_conflict`: may socket `me` (with SO_REUSEADDR `reuse`)
    /// bind `port`? Without SO_REUSEADDR any holder of the port conflicts,
    /// TIME_WAIT included. With it, only a listener (or a bound socket that
    /// did not set SO_REUSEADDR) does, so a server restarts over its old
    /// connections in TIME_WAIT.
    fn bind_conflict(&self, me: usize, port: u16, reuse: bool) -> bool {
        if !self.ports.contains_key(&port) {
            return false;
        }
        self.socks.iter().enumerate().any(|(i, s)| {
            let Some(s) = s else { return false };
            if i == me || !s.bound || s.local.port() != port {
                return false;
            }
            !reuse || s.state == TcpState::Listen || (s.state == TcpState::Closed && !s.opt.reuse_addr)
        })
    }

    /// A random free ephemeral port (RFC 6056 algorithm 1: random start, then probe).
    fn ephemeral_port(&self, rng: &mut StdRng) -> Result<u16, Errno> {
        let (lo, hi) = (*EPHEMERAL_PORTS.start(), *EPHEMERAL_PORTS.end());
        let n = (hi - lo) as u32 + 1;
        let start = rng.gen_range(0..n);
        (0..n).map(|k| lo + ((start + k) % n) as u16).find(|p| !self.ports.contains_key(p)).ok_or(Errno::EADDRNOTAVAIL)
    }

    /// Put a socket back after processing, and do the table work its new
    /// state asks for: a child that completed the handshake moves from the
    /// SYN queue to the accept queue; a connection that reached CLOSED
    /// leaves the 4-tuple table, and is freed if no application holds it.
    fn finish(&mut self, cx: &mut Cx, i: usize, mut sk: TcpSock, before: TcpState) {
        // Readiness news goes to the wake queue for epoll: the application's
        // sockets only (a child is watched once `accept` has handed it out).
        let key = std::mem::take(&mut sk.wake);
        if sk.owner == Owner::User {
            self.wakeups.wake(i, key);
        }
        if sk.state == TcpState::Closed {
            let mut sk = sk;
            if sk.hashed {
                self.conns.remove(&(sk.local, sk.remote));
                sk.hashed = false;
            }
            // A child reset while it waits in the accept queue stays there,
            // closed with its error: Linux's `inet_csk_accept` returns it all
            // the same, and the first read reports the reset.
            let queued = match sk.owner {
                Owner::Child { listener } => self
                    .socks
                    .get(listener)
                    .and_then(|l| l.as_ref())
                    .and_then(|l| l.listen.as_ref())
                    .is_some_and(|q| q.accept_queue.contains(&i)),
                _ => false,
            };
            let keep = sk.owner == Owner::User || queued;
            self.socks[i] = Some(sk);
            if !keep {
                self.free(cx, i);
            }
            return;
        }
        let owner = sk.owner;
        self.socks[i] = Some(sk);
        if let Owner::Child { listener } = owner {
            if before == TcpState::SynReceived && self.socks[i].as_ref().is_some_and(|s| s.state.is_synchronized()) {
                self.child_established(cx, listener, i);
            }
        }
    }

    /// SYN queue -> accept queue (`inet_csk_complete_hashdance` + `inet_csk_reqsk_queue_add`).
    fn child_established(&mut self, cx: &mut Cx, li: usize, child: usize) {
        let Some(Some(l)) = self.socks.get_mut(li) else { return };
        let Some(q) = l.listen.as_mut() else { return };
        q.syn_queue.retain(|&c| c != child);
        q.accept_queue.push_back(child);
        // The listener is readable now (`sk_data_ready` on the listener).
        self.wakeups.wake(li, PollFlags::POLLIN);
        let (sq, aq, bl) = (q.syn_queue.len(), q.accept_queue.len(), q.backlog);
        let local = l.local;
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpQueue, "RFC 9293 §3.10.7.4 step 5", || {
            format!("{local}: child {child} SYN queue -> accept queue (syn {sq}, accept {aq}/{})", bl + 1)
        });
    }

    /// Remove a socket from every table and free its slot.
    fn free(&mut self, cx: &mut Cx, i: usize) {
        let Some(sk) = self.socks.get_mut(i).and_then(|s| s.take()) else { return };
        self.free_slots.push(Reverse(i));
        if sk.hashed {
            self.conns.remove(&(sk.local, sk.remote));
        }
        if sk.listen.is_some() && self.listeners.get(&sk.local.port()) == Some(&i) {
            self.listeners.remove(&sk.local.port());
        }
        if sk.bound {
            self.port_unref(sk.local.port());
        }
        if let Owner::Child { listener } = sk.owner {
            if let Some(Some(l)) = self.socks.get_mut(listener) {
                if let Some(q) = l.listen.as_mut() {
                    let before = q.syn_queue.len() + q.accept_queue.len();
                    q.syn_queue.retain(|&c| c != i);
                    q.accept_queue.retain(|&c| c != i);
                    if q.syn_queue.len() + q.accept_queue.len() != before {
                        let (local, sq) = (l.local, q.syn_queue.len());
                        let now = cx.now;
                        cx.trace.emit(now, EventKind::TcpQueue, "RFC 9293 §3.10.7.4", || {
                            format!("{local}: child {i} removed from the queues (syn {sq})")
                        });
                    }
                }
            }
        }
    }

    fn isn(&self, local: SocketAddrV4, remote: SocketAddrV4, now: Instant) -> SeqNumber {
        seq::isn(&self.isn_key, local, remote, now)
    }

    // ------------------------------------------------------------ socket API

    /// `socket(AF_INET, SOCK_STREAM, 0)`.
    pub fn socket(&mut self) -> Result<usize, Errno> {
        let sk = TcpSock::new(&self.config);
        self.alloc(sk).ok_or(Errno::EMFILE)
    }

    /// `bind(2)`. Port 0 picks a free ephemeral port.
    pub fn bind(&mut self, h: usize, addr: SocketAddrV4, rng: &mut StdRng) -> Result<(), Errno> {
        let sk = self.user(h)?;
        if sk.bound || sk.state != TcpState::Closed {
            return Err(Errno::EINVAL);
        }
        let port = match addr.port() {
            0 => self.ephemeral_port(rng)?,
            p if self.bind_conflict(h, p, sk.opt.reuse_addr) => return Err(Errno::EADDRINUSE),
            p => p,
        };
        self.port_ref(port);
        let sk = self.user_mut(h)?;
        sk.local = SocketAddrV4::new(*addr.ip(), port);
        sk.bound = true;
        Ok(())
    }

    /// `listen(2)`: LISTEN with a SYN queue and an accept queue of `backlog`
    /// (capped at SOMAXCONN). Calling it again changes the backlog.
    pub fn listen(&mut self, h: usize, backlog: usize, rng: &mut StdRng) -> Result<(), Errno> {
        let backlog = backlog.min(SOMAXCONN);
        let sk = self.user(h)?;
        match sk.state {
            TcpState::Listen => {
                if let Some(l) = self.user_mut(h)?.listen.as_mut() {
                    l.backlog = backlog;
                }
                return Ok(());
            }
            TcpState::Closed if !sk.was_connected => {}
            _ => return Err(Errno::EINVAL),
        }
        if !sk.bound {
            self.bind(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0), rng)?;
        }
        let port = self.user(h)?.local.port();
        if self.listeners.contains_key(&port) {
            return Err(Errno::EADDRINUSE);
        }
        let sk = self.user_mut(h)?;
        sk.listen = Some(Listener { backlog, ..Listener::default() });
        sk.state = TcpState::Listen;
        self.listeners.insert(port, h);
        Ok(())
    }

    /// `accept(2)`, non-blocking: the oldest established child, or `EAGAIN`.
    pub fn accept(&mut self, cx: &mut Cx, h: usize) -> Result<(usize, SocketAddrV4), Errno> {
        let sk = self.user_mut(h)?;
        let local = sk.local;
        let q = sk.listen.as_mut().ok_or(Errno::EINVAL)?;
        let child = q.accept_queue.pop_front().ok_or(Errno::EAGAIN)?;
        let left = q.accept_queue.len();
        let c = self.socks[child].as_mut().ok_or(Errno::EAGAIN)?;
        c.owner = Owner::User;
        let peer = c.remote;
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpQueue, "RFC 9293 §3.10.1", || {
            format!("{local}: accept queue -> accepted: handle {child} from {peer} ({left} left)")
        });
        Ok((child, peer))
    }

    /// `connect(2)`, non-blocking: sends the SYN and returns `EINPROGRESS`;
    /// `poll` later says POLLOUT (connected) or POLLERR (see SO_ERROR).
    pub fn connect(&mut self, cx: &mut Cx, h: usize, local_ip: Ipv4Addr, remote: SocketAddrV4) -> Result<(), Errno> {
        let sk = self.user(h)?;
        match sk.state {
            TcpState::Closed if !sk.hashed => {}
            TcpState::SynSent | TcpState::SynReceived => return Err(Errno::EALREADY),
            TcpState::Listen => return Err(Errno::EINVAL),
            _ => return Err(Errno::EISCONN),
        }
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(Errno::EINVAL);
        }
        if !sk.bound {
            self.bind(h, SocketAddrV4::new(local_ip, 0), cx.rng)?;
        }
        let local = SocketAddrV4::new(local_ip, self.user(h)?.local.port());
        if self.conns.contains_key(&(local, remote)) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let iss = self.isn(local, remote, cx.now);
        let cfg = self.config.clone();
        let ts_offset = timestamps::ts_offset(&self.isn_key, local, remote);
        let sk = self.user_mut(h)?;
        sk.local = local;
        sk.remote = remote;
        sk.ts.offset = ts_offset;
        sk.error = None;
        sk.shut_rcv = false;
        sk.shut_snd = false;
        sk.init_send_seq(iss);
        // `tcp_connect_init`: no timestamp is known yet, the whole MSS counts.
        let advmss = sk.advmss(&cfg);
        sk.select_initial_window(&cfg, advmss, cfg.window_scaling);
        sk.rcv.mss = advmss;
        sk.hashed = true;
        sk.set_state(cx, TcpState::SynSent, "RFC 9293 §3.10.1");
        sk.send_syn(cx, &cfg);
        sk.rtt.timed = Some((iss + 1usize, cx.now));
        sk.arm_rto_if_idle(cx);
        self.conns.insert((local, remote), h);
        cx.stats.inc(Counter::TcpActiveOpens);
        Err(Errno::EINPROGRESS)
    }

    /// `send(2)`: copy as much as fits in the send buffer, then `tcp_write_xmit`.
    /// `MSG_OOB` makes the last byte urgent (urgent.rs).
    pub fn send(&mut self, cx: &mut Cx, h: usize, buf: &[u8], flags: MsgFlags) -> Result<usize, Errno> {
        let cfg = &self.config;
        let sk = match self.socks.get_mut(h) {
            Some(Some(s)) if s.owner == Owner::User => s,
            _ => return Err(Errno::EBADF),
        };
        if let Some(e) = sk.error.take() {
            return Err(e);
        }
        if sk.shut_snd {
            return Err(Errno::EPIPE);
        }
        match sk.state {
            TcpState::Established | TcpState::CloseWait => {}
            TcpState::SynSent | TcpState::SynReceived => return Err(Errno::EAGAIN),
            _ if sk.was_connected => return Err(Errno::EPIPE),
            _ => return Err(Errno::ENOTCONN),
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = sk.snd_space().min(buf.len());
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        // Linux `tcp_skb_entail` → `tcp_slow_start_after_idle_check`.
        if cfg.slow_start_after_idle && sk.flight_size() == 0 && sk.unsent() == 0 {
            sk.cwnd_restart(cx, cfg);
        }
        sk.sendmsg(cx, cfg, &buf[..n], flags);
        Ok(n)
    }

    /// `recv(2)`: in-order bytes; `Ok(0)` at end of stream; `EAGAIN` if none yet.
    pub fn recv(&mut self, cx: &mut Cx, h: usize, buf: &mut [u8], flags: MsgFlags) -> Result<usize, Errno> {
        let cfg = &self.config;
        let sk = match self.socks.get_mut(h) {
            Some(Some(s)) if s.owner == Owner::User => s,
            _ => return Err(Errno::EBADF),
        };
        if sk.state == TcpState::Listen {
            return Err(Errno::ENOTCONN);
        }
        if flags.contains(MsgFlags::MSG_OOB) {
            return sk.tcp_recv_urg(buf, flags);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        // The urgent byte: skipped, or the read stops before it (urgent.rs).
        let (skip, n) = sk.urg_read_span(buf.len());
        if skip > 0 && n == 0 && !flags.contains(MsgFlags::MSG_PEEK) {
            // Only the out-of-band byte was there: consumed, nothing read.
            sk.q.rcv_buf.drain(..skip);
            sk.urg_after_read();
        }
        if n > 0 {
            copy_from_deque(&sk.q.rcv_buf, skip, &mut buf[..n]);
            if !flags.contains(MsgFlags::MSG_PEEK) {
                sk.q.rcv_buf.drain(..skip + n);
                sk.urg_after_read();
                release_if_empty(&mut sk.q.rcv_buf);
                // `tcp_rcv_space_adjust`: grow the buffer if the
                // application reads faster than the window (rcvbuf.rs).
                sk.tcp_rcv_space_adjust(cx, cfg);
            }
            // `tcp_cleanup_rbuf` (a peek too): an ACK left for the read
            // (delack.rs), else perhaps a window update.
            if !sk.tcp_cleanup_rbuf(cx, cfg, n) && !flags.contains(MsgFlags::MSG_PEEK) {
                sk.window_update_after_read(cx, cfg);
            }
            return Ok(n);
        }
        if let Some(e) = sk.error.take() {
            return Err(e);
        }
        if sk.shut_rcv {
            return Ok(0);
        }
        match sk.state {
            TcpState::Closed if sk.was_connected => Ok(0),
            TcpState::Closed => Err(Errno::ENOTCONN),
            _ => Err(Errno::EAGAIN),
        }
    }

    /// `shutdown(2)`. SHUT_WR queues our FIN after the data (half-close:
    /// we keep receiving); SHUT_RD makes `recv` return 0.
    pub fn shutdown(&mut self, cx: &mut Cx, h: usize, how: Shutdown) -> Result<(), Errno> {
        let cfg = self.config.clone();
        let sk = self.user_mut(h)?;
        if matches!(sk.state, TcpState::Closed | TcpState::Listen) {
            return Err(Errno::ENOTCONN);
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            sk.shut_rcv = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            let before = sk.state;
            sk.close_send_side(cx, &cfg);
            self.after_api(cx, h, before);
        }
        Ok(())
    }

    /// `close(2)`: the handle is invalid afterwards. A listener drops its
    /// queues (resetting established children); a connection with unread
    /// data is reset (RFC 2525 §2.17, as Linux does); otherwise our FIN
    /// goes after the queued data and the connection finishes on its own.
    /// SO_LINGER (linger.rs) may abort instead, or ask the caller to wait.
    pub fn close(&mut self, cx: &mut Cx, h: usize) -> Result<Close, Errno> {
        self.tcp_close(cx, h, false)
    }

    /// `close(2)` when the owner lost data it never read in a queue outside
    /// the stack (`synack run`'s relay, apps/src/run/relay.rs: a program
    /// exited with bytes unread in its socketpair): a RST, as for unread
    /// data in our own receive queue.
    pub fn close_reset(&mut self, cx: &mut Cx, h: usize) -> Result<Close, Errno> {
        self.tcp_close(cx, h, true)
    }

    fn tcp_close(&mut self, cx: &mut Cx, h: usize, unread_outside: bool) -> Result<Close, Errno> {
        let cfg = self.config.clone();
        self.user(h)?;
        let Some(mut sk) = self.socks[h].take() else { return Err(Errno::EBADF) };
        let before = sk.state;
        match sk.state {
            TcpState::Listen => {
                let q = sk.listen.take().unwrap_or_default();
                self.listeners.remove(&sk.local.port());
                sk.set_state(cx, TcpState::Closed, "RFC 9293 §3.10.4");
                self.socks[h] = Some(sk);
                for c in q.syn_queue.into_iter().chain(q.accept_queue) {
                    if let Some(Some(child)) = self.socks.get_mut(c) {
                        if child.state.is_synchronized() {
                            // Linux `inet_csk_listen_stop`: unaccepted children are reset.
                            child.send_active_reset(cx, &cfg);
                        }
                        child.owner = Owner::Orphan;
                        child.tcp_done(cx, None);
                    }
                    self.free(cx, c);
                }
                self.free(cx, h);
                return Ok(Close::Closed);
            }
            TcpState::Closed | TcpState::SynSent => {
                if sk.state == TcpState::SynSent {
                    sk.tcp_done(cx, None);
                }
                self.socks[h] = Some(sk);
                self.free(cx, h);
                return Ok(Close::Closed);
            }
            _ => {}
        }
        sk.owner = Owner::Orphan;
        sk.shut_rcv = true;
        if (unread_outside || !sk.q.rcv_buf.is_empty()) && sk.state != TcpState::TimeWait {
            // RFC 2525 §2.17 / Linux `tcp_close`: unread data was lost, say so with a RST.
            let unread = sk.q.rcv_buf.len();
            let (l, r) = (sk.local, sk.remote);
            let now = cx.now;
            cx.trace.emit(now, EventKind::Tcp, "RFC 2525 §2.17", || {
                let outside = if unread_outside { " (and more outside the stack)" } else { "" };
                format!("{l} {r}: close with {unread} unread bytes{outside}: RST")
            });
            sk.send_active_reset(cx, &cfg);
            cx.stats.inc(Counter::TcpAbortOnClose);
            sk.tcp_done_because(cx, None, "RFC 2525 §2.17");
        } else if sk.linger_abort() {
            sk.tcp_disconnect(cx, &cfg);
        } else {
            sk.close_send_side(cx, &cfg);
            if sk.state == TcpState::FinWait2 {
                let t = cfg.fin_timeout;
                sk.timer_set(cx, TimerKind::FinWait2, t);
            }
        }
        let r = sk.linger_after_close(cx.now, h);
        self.finish(cx, h, sk, before);
        Ok(r)
    }

    /// Table work after an API call changed a socket's state.
    fn after_api(&mut self, cx: &mut Cx, h: usize, before: TcpState) {
        if let Some(sk) = self.socks.get_mut(h).and_then(|s| s.take()) {
            self.finish(cx, h, sk, before);
        }
    }

    pub fn getsockname(&self, h: usize) -> Result<SocketAddrV4, Errno> {
        Ok(self.user(h)?.local)
    }

    pub fn getpeername(&self, h: usize) -> Result<SocketAddrV4, Errno> {
        let sk = self.user(h)?;
        match sk.state {
            TcpState::Closed | TcpState::Listen | TcpState::SynSent => Err(Errno::ENOTCONN),
            _ => Ok(sk.remote),
        }
    }

    /// `tcp_poll`, with Linux's meanings.
    pub fn poll(&self, h: usize) -> PollFlags {
        let Ok(sk) = self.user(h) else { return PollFlags::POLLNVAL };
        if let Some(l) = &sk.listen {
            return if l.accept_queue.is_empty() { PollFlags::NONE } else { PollFlags::POLLIN };
        }
        let mut m = PollFlags::NONE;
        if sk.error.is_some() {
            m |= PollFlags::POLLERR;
        }
        if (sk.shut_rcv && sk.shut_snd) || sk.state == TcpState::Closed {
            m |= PollFlags::POLLHUP;
        }
        if sk.shut_rcv {
            m |= PollFlags::POLLIN | PollFlags::POLLRDHUP;
        }
        if !matches!(sk.state, TcpState::SynSent | TcpState::SynReceived) {
            // `tcp_stream_is_readable`: SO_RCVLOWAT's mark (sockopt.rs).
            if sk.tcp_epollin_ready() {
                m |= PollFlags::POLLIN;
            }
            // An urgent byte to read with MSG_OOB (urgent.rs).
            m |= sk.urg_poll();
            // Linux `sk_stream_is_writeable`: free space at least half of what is queued.
            if sk.shut_snd || sk.sk_stream_is_writeable() {
                m |= PollFlags::POLLOUT;
            }
        }
        m
    }

    /// Hand every (socket, key) woken since the last call to `f` (epoll's
    /// `ep_poll_callback`), emptying the wake queue.
    pub fn drain_wakeups(&mut self, f: impl FnMut(usize, PollFlags)) {
        self.wakeups.drain(f);
    }

    /// The next deadline over every connection's timers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.socks.iter().flatten().filter_map(|s| s.timers.next()).min()
    }

    /// Connections and listeners, as `netstat -tan` and `ss -ti` show them.
    pub fn info(&self, now: Instant) -> Vec<TcpInfo> {
        let mut v = Vec::new();
        for (i, s) in self.socks.iter().enumerate() {
            let Some(s) = s else { continue };
            if s.state == TcpState::Closed {
                continue;
            }
            let (recv_q, send_q, backlog, syn_queue, accept_queue) = match &s.listen {
                Some(l) => (l.accept_queue.len(), 0, l.backlog, l.syn_queue.len(), l.accept_queue.len()),
                None => (s.q.rcv_buf.len(), s.q.snd_buf.len(), 0, 0, 0),
            };
            let timer = TimerKind::ALL
                .iter()
                .filter_map(|&k| s.timers.get(k).map(|t| (k.name(), t.saturating_since(now), t)))
                .min_by_key(|x| x.2)
                .map(|(n, d, _)| (n, d));
            v.push(TcpInfo {
                handle: (s.owner == Owner::User).then_some(i),
                state: s.state,
                local: s.local,
                remote: s.remote,
                recv_q,
                send_q,
                backlog,
                syn_queue,
                accept_queue,
                iss: s.snd.iss.0,
                irs: s.rcv.irs.0,
                snd_una: s.snd.una.0,
                snd_nxt: s.snd.nxt.0,
                snd_wnd: s.snd.wnd,
                rcv_nxt: s.rcv.nxt.0,
                rcv_wnd: s.rcv.wnd(),
                snd_wscale: s.snd.wscale,
                rcv_wscale: s.rcv.wscale,
                mss: s.snd.mss,
                srtt: Duration::from_micros(s.rtt.srtt_us),
                rttvar: Duration::from_micros(s.rtt.rttvar_us),
                rto: s.rtt.rto,
                cwnd: s.cong.cwnd,
                ssthresh: s.cong.ssthresh,
                congestion: s.cong.cc.algo.name(),
                retransmits: s.rtt.retransmits,
                total_retrans: s.total_retrans,
                in_recovery: s.cong.in_recovery,
                ts_ok: s.ts.ok,
                sack_ok: s.sack.ok,
                sacked: s.sack.sacked.iter().map(|r| r.1.since(r.0)).sum(),
                ofo_bytes: s.q.ofo_bytes,
                timer,
            });
        }
        v
    }

    /// An ICMP error about a segment we sent from `local_port` to `remote`
    /// (RFC 1122 §4.2.3.9; RFC 5927 for the cautions). Port or protocol
    /// unreachable aborts a connect in SYN_SENT; anything else is a soft
    /// error, reported only if the connection later times out.
    pub fn icmp_error(&mut self, cx: &mut Cx, local_port: u16, remote: SocketAddrV4, err: Errno) {
        let Some(&i) = self.conns.iter().find(|((l, r), _)| l.port() == local_port && *r == remote).map(|(_, i)| i)
        else {
            return;
        };
        let Some(mut sk) = self.socks[i].take() else { return };
        let before = sk.state;
        let now = cx.now;
        let (l, r) = (sk.local, sk.remote);
        // Linux `tcp_v4_err`: any unreachable aborts a connection still in
        // SYN_SENT (nothing is lost yet, and the application is waiting in
        // connect); later they are soft errors, reported only if the
        // connection times out (RFC 1122 §4.2.3.9). "Fragmentation needed"
        // is path-MTU news, never fatal.
        let hard = matches!(err, Errno::ECONNREFUSED | Errno::EHOSTUNREACH | Errno::ENETUNREACH);
        if sk.state == TcpState::SynSent && hard {
            cx.trace.emit(now, EventKind::Tcp, "RFC 1122 §4.2.3.9", || {
                format!("{l} {r}: ICMP unreachable in SYN_SENT: {}", err.text())
            });
            sk.tcp_done_because(cx, Some(err), "RFC 1122 §4.2.3.9");
        } else {
            cx.trace.emit(now, EventKind::Tcp, "RFC 1122 §4.2.3.9", || format!("{l} {r}: soft error {}", err.name()));
            sk.soft_error = Some(err);
        }
        self.finish(cx, i, sk, before);
    }
}
