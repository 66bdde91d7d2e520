//! The transmission control block (`struct tcp_sock`): connection state,
//! the send and receive sequence variables, buffers, RTT and congestion
//! state, timers, and socket options.
//!
//! Read first: RFC 9293 §3.3.1 (the TCB and its variables), §3.3.2 (the
//! eleven states), RFC 6298 (RTO), RFC 5681 (cwnd/ssthresh).

use super::seq::SeqNumber;
use super::TcpConfig;
use crate::errno::Errno;
use crate::socket::PollFlags;
use crate::time::{Duration, Instant};
use crate::wire::tcp::SackBlock;
use std::collections::VecDeque;
use std::net::SocketAddrV4;

/// RFC 9293 §3.3.2: the eleven states of a connection.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    /// The RFC's name, used in traces: `LISTEN -> SYN_RECEIVED`.
    pub fn rfc_name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
        }
    }
    /// The name `netstat -tan` prints (Linux's `tcp_state` strings).
    pub fn netstat_name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSE",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
        }
    }
    /// RFC 9293 §3.3.2: the states after the handshake completed.
    pub fn is_synchronized(self) -> bool {
        !matches!(self, TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::SynReceived)
    }
}

/// Who holds the socket.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Owner {
    /// The application holds a handle to it.
    User,
    /// A passive-open child still on its listener's SYN or accept queue.
    Child { listener: usize },
    /// The application closed it; it finishes closing on its own (`SOCK_DEAD`).
    Orphan,
}

/// A listener's two queues (the kernel's `icsk_accept_queue`).
#[derive(Debug, Default)]
pub struct Listener {
    /// `listen(backlog)`: the accept queue holds `backlog + 1`, as Linux's
    /// `sk_acceptq_is_full` counts.
    pub backlog: usize,
    /// Half-open children in SYN_RECEIVED (the kernel's request socks).
    pub syn_queue: Vec<usize>,
    /// Established children waiting for `accept`.
    pub accept_queue: VecDeque<usize>,
    /// When the SYN queue last overflowed and a SYN cookie went out: only
    /// within `syncookies::MAX_AGE` minutes of it is an ACK to the listener
    /// checked as a cookie (Linux `tcp_synq_no_recent_overflow`).
    pub last_overflow: Option<Instant>,
}

impl Listener {
    pub fn accept_queue_full(&self) -> bool {
        self.accept_queue.len() > self.backlog
    }
}

/// The connection timers (RFC 9293 §3.8, RFC 6298, RFC 1122 §4.2.3.2, §4.2.2.17).
/// Timers are data: each is an optional deadline, the stack's next wake-up
/// is their minimum, and the handlers live together in timer.rs.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum TimerKind {
    /// SYN, SYN-ACK, data and FIN retransmission (RFC 6298).
    Retransmit,
    /// RFC 1122 §4.2.3.2: ACK within 500 ms (Linux: 40 ms).
    DelayedAck,
    /// RFC 9293 §3.8.6.1: probe a zero window.
    Persist,
    /// RFC 1122 §4.2.3.6.
    Keepalive,
    /// TCP_CORK's 200 ms ceiling.
    Cork,
    /// An orphaned FIN_WAIT_2 waits at most `fin_timeout` (Linux `tcp_fin_timeout`).
    FinWait2,
    /// 2 × MSL in TIME_WAIT.
    TimeWait,
}

impl TimerKind {
    pub const ALL: [TimerKind; 7] = [
        TimerKind::Retransmit,
        TimerKind::DelayedAck,
        TimerKind::Persist,
        TimerKind::Keepalive,
        TimerKind::Cork,
        TimerKind::FinWait2,
        TimerKind::TimeWait,
    ];
    /// The clause that arms this timer (for the trace).
    pub fn rfc_set(self) -> &'static str {
        match self {
            TimerKind::Retransmit => "RFC 6298 §5.1",
            TimerKind::DelayedAck => "RFC 1122 §4.2.3.2",
            TimerKind::Persist => "RFC 9293 §3.8.6.1",
            TimerKind::Keepalive => "RFC 1122 §4.2.3.6",
            TimerKind::Cork => "RFC 1122 §4.2.3.4 (Linux TCP_CORK)",
            TimerKind::FinWait2 => "RFC 9293 §3.6 (Linux tcp_fin_timeout)",
            TimerKind::TimeWait => "RFC 9293 §3.10.7.4 step 8",
        }
    }
    /// The clause that says what to do when it fires.
    pub fn rfc_fired(self) -> &'static str {
        match self {
            TimerKind::Retransmit => "RFC 6298 §5.4",
            TimerKind::TimeWait => "RFC 9293 §3.10.8",
            k => k.rfc_set(),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            TimerKind::Retransmit => "retransmit",
            TimerKind::DelayedAck => "delayed-ack",
            TimerKind::Persist => "persist",
            TimerKind::Keepalive => "keepalive",
            TimerKind::Cork => "cork",
            TimerKind::FinWait2 => "fin-wait-2",
            TimerKind::TimeWait => "time-wait",
        }
    }
}

#[derive(Copy, Clone, Default, Debug)]
pub struct Timers {
    at: [Option<Instant>; 7],
}

impl Timers {
    pub fn get(&self, k: TimerKind) -> Option<Instant> {
        self.at[k as usize]
    }
    pub fn set(&mut self, k: TimerKind, at: Instant) {
        self.at[k as usize] = Some(at);
    }
    pub fn clear(&mut self, k: TimerKind) {
        self.at[k as usize] = None;
    }
    pub fn is_set(&self, k: TimerKind) -> bool {
        self.at[k as usize].is_some()
    }
    pub fn clear_all(&mut self) {
        self.at = [None; 7];
    }
    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }
}

/// Give a queue's memory back once it is empty. Buffers grow on demand as
/// bytes arrive (the kernel allocates skbs as they come, too) and are freed
/// when drained, so an idle connection that carried a few messages holds
/// its control block and nothing else: what lets 10,000 idle connections
/// fit in a few megabytes.
///
/// A buffer that has grown past `KEEP_ABOVE` is kept: that connection moves
/// bulk data, and freeing it at every drain made each refill fault in fresh
/// pages (18 % of a bulk transfer in memory, docs/performance.md). It is
/// bounded by SO_SNDBUF/SO_RCVBUF all the same, and goes with the socket.
pub fn release_if_empty<T>(q: &mut VecDeque<T>) {
    if q.is_empty() && q.capacity() > 0 && q.capacity() * std::mem::size_of::<T>() <= KEEP_ABOVE {
        *q = VecDeque::new();
    }
}

/// Bytes of buffer above which an empty queue keeps its allocation.
pub const KEEP_ABOVE: usize = 64 * 1024;

/// One out-of-order segment (or several merged): bytes from `seq`, and
/// whether a FIN follows the last byte.
#[derive(Clone, Debug)]
pub struct OfoSeg {
    pub seq: SeqNumber,
    pub data: Vec<u8>,
    pub fin: bool,
    /// When a segment last landed in this entry (`TcpSock::ofo_tick`): the
    /// most recent goes first in our SACK blocks (RFC 2018 §4).
    pub touched: u32,
}

impl OfoSeg {
    pub fn end(&self) -> SeqNumber {
        self.seq + self.data.len()
    }
}

/// The TCB.
#[derive(Debug)]
pub struct TcpSock {
    pub state: TcpState,
    pub owner: Owner,
    /// Local address; the IP is unspecified until connected (or for a wildcard listener).
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// Holds a reference on `local.port()` in the port table.
    pub bound: bool,
    /// Listed in the 4-tuple table.
    pub hashed: bool,
    pub listen: Option<Listener>,

    // ----- Send sequence variables (RFC 9293 §3.3.1)
    pub iss: SeqNumber,
    /// Oldest unacknowledged sequence number.
    pub snd_una: SeqNumber,
    /// Next sequence number to send (moves back to `snd_una` after an RTO).
    pub snd_nxt: SeqNumber,
    /// Highest sequence number sent so far (the kernel's `snd_nxt` before a
    /// go-back-N; RFC 9293 only has SND.NXT).
    pub snd_max: SeqNumber,
    /// Peer's window, already scaled.
    pub snd_wnd: usize,
    /// Largest window the peer ever offered (RFC 1122 §4.2.3.4 "Max(SND.WND)").
    pub max_snd_wnd: usize,
    pub snd_wl1: SeqNumber,
    pub snd_wl2: SeqNumber,
    /// Shift for the peer's window field (RFC 7323), 0 if not agreed.
    pub snd_wscale: u8,
    /// Both SYNs carried the Window Scale option.
    pub wscale_ok: bool,
    /// Unacknowledged and unsent bytes; `snd_buf[0]` has sequence number `snd_buf_seq`.
    pub snd_buf: VecDeque<u8>,
    pub snd_buf_seq: SeqNumber,
    /// SO_SNDBUF.
    pub sndbuf: usize,
    /// The application shut down the sending side: a FIN follows the last byte.
    pub fin_queued: bool,
    /// Effective send MSS (the peer's MSS option, capped by ours).
    pub mss: usize,

    // ----- Receive sequence variables
    pub irs: SeqNumber,
    pub rcv_nxt: SeqNumber,
    /// Right edge of the window we last advertised (`rcv_nxt + rcv_wnd` then).
    pub rcv_adv: SeqNumber,
    /// Shift for our window field (RFC 7323), 0 if not agreed.
    pub rcv_wscale: u8,
    /// In-order bytes not yet read by the application.
    pub rcv_buf: VecDeque<u8>,
    /// SO_RCVBUF.
    pub rcvbuf: usize,
    /// Segments beyond `rcv_nxt`, sorted and merged (the kernel's `out_of_order_queue`).
    pub out_of_order_queue: VecDeque<OfoSeg>,
    pub ofo_bytes: usize,
    /// The peer's MSS as a receiver sees it (for the every-second-segment ACK rule).
    pub rcv_mss: usize,
    /// Counts segments queued out of order (for `OfoSeg::touched`).
    pub ofo_tick: u32,
    /// A duplicate segment to report in the next ACK's first SACK block (RFC 2883).
    pub dsack: Option<SackBlock>,

    // ----- Timestamps (RFC 7323 §3-§5; timestamps.rs)
    /// Both SYNs carried the Timestamps option: every segment carries it.
    pub ts_ok: bool,
    /// TS.Recent: the TSval to echo, and when it was last updated.
    pub ts_recent: u32,
    pub ts_recent_stamp: Instant,
    /// Added to our millisecond clock (RFC 7323 §5.4).
    pub ts_offset: u32,
    /// Last.ACK.sent: RCV.NXT in the last ACK we sent (RFC 7323 §4.3).
    pub last_ack_sent: SeqNumber,
    /// TSval of our latest retransmission: an echo older than it gives no RTT sample.
    pub rtx_tsval: u32,
    /// The loss episode that may yet prove spurious (RFC 3522).
    pub undo: Option<super::timestamps::UndoMark>,

    // ----- Selective acknowledgements (RFC 2018, RFC 6675; sack.rs)
    /// Both SYNs carried SACK-Permitted.
    pub sack_ok: bool,
    /// The scoreboard: ranges above SND.UNA the peer has SACKed, sorted, disjoint.
    pub sacked: Vec<SackBlock>,
    /// RFC 6675 HighRxt: end of the highest byte retransmitted in this recovery.
    pub high_rxt: SeqNumber,
    /// Retransmissions of this recovery, watched for loss (sack.rs).
    pub rtx_marks: VecDeque<super::sack::RtxMark>,
    /// Retransmissions found lost: sent again before anything else.
    pub relost: Vec<SackBlock>,
    /// RFC 8985 §7: the retransmission timer is running as a loss probe
    /// timeout (PTO), not an RTO; and a probe is out, unanswered.
    pub tlp_armed: bool,
    pub tlp_out: bool,

    // ----- Acknowledgement scheduling (RFC 1122 §4.2.3.2, RFC 5681 §4.2)
    /// Bytes received in order since our last ACK (ACK every second full-sized segment).
    pub rcv_unacked: usize,
    /// An ACK must go out now (piggybacked if data goes, else pure).
    pub ack_now: bool,

    // ----- RTT (RFC 6298), microseconds
    pub srtt_us: u64,
    pub rttvar_us: u64,
    pub rto: Duration,
    /// The one segment being timed: its last sequence number and when it left.
    pub rtt_seq: Option<(SeqNumber, Instant)>,
    /// End of the highest retransmitted segment: an ACK covering it gives no
    /// RTT sample (Karn; Linux's FLAG_RETRANS_DATA_ACKED).
    pub retrans_high: SeqNumber,
    /// Consecutive timeouts (retransmit or probe) without progress.
    pub retransmits: u32,
    pub total_retrans: u64,
    /// Zero-window probes (or keepalives) sent without an answer; any ACK resets it.
    pub probes_out: u32,
    /// Backoff of the persist timer: grows per probe, reset when the window opens.
    pub persist_backoff: u32,

    // ----- Congestion control (RFC 5681, RFC 6582 NewReno)
    pub cwnd: usize,
    pub ssthresh: usize,
    pub dupacks: u32,
    pub recover: SeqNumber,
    pub in_recovery: bool,
    /// The congestion control algorithm and its state (cong.rs).
    pub cc: super::cong::CongState,

    // ----- Socket state
    pub error: Option<Errno>,
    /// The last soft error (ICMP) for SO_ERROR on timeout (RFC 1122 §4.2.3.9).
    pub soft_error: Option<Errno>,
    /// RCV_SHUTDOWN: the peer's FIN arrived, or SHUT_RD.
    pub shut_rcv: bool,
    /// SEND_SHUTDOWN: SHUT_WR, close, or the connection is gone.
    pub shut_snd: bool,
    /// The connection was established once (so `ENOTCONN` vs `EPIPE`, `Ok(0)`).
    pub was_connected: bool,
    pub last_rcv: Instant,
    pub timers: Timers,
    /// Readiness news for epoll since the socket was last put back in the
    /// table (the key of the kernel's `sk_data_ready` / `sk_write_space` /
    /// `sk_state_change` wake-ups); `Tcp::finish` hands it to the wake queue.
    pub wake: PollFlags,

    // ----- Options
    pub reuse_addr: bool,
    pub keepalive: bool,
    pub nodelay: bool,
    pub cork: bool,
    pub nonblocking: bool,
}

impl TcpSock {
    pub fn new(cfg: &TcpConfig) -> TcpSock {
        let z = SeqNumber(0);
        let unspec = SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0);
        TcpSock {
            state: TcpState::Closed,
            owner: Owner::User,
            local: unspec,
            remote: unspec,
            bound: false,
            hashed: false,
            listen: None,
            iss: z,
            snd_una: z,
            snd_nxt: z,
            snd_max: z,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: z,
            snd_wl2: z,
            snd_wscale: 0,
            wscale_ok: false,
            snd_buf: VecDeque::new(),
            snd_buf_seq: z,
            sndbuf: cfg.sndbuf,
            fin_queued: false,
            mss: super::DEFAULT_PEER_MSS,
            irs: z,
            rcv_nxt: z,
            rcv_adv: z,
            rcv_wscale: 0,
            rcv_buf: VecDeque::new(),
            rcvbuf: cfg.rcvbuf,
            out_of_order_queue: VecDeque::new(),
            ofo_bytes: 0,
            rcv_mss: super::DEFAULT_PEER_MSS,
            ofo_tick: 0,
            dsack: None,
            ts_ok: false,
            ts_recent: 0,
            ts_recent_stamp: Instant::ZERO,
            ts_offset: 0,
            last_ack_sent: z,
            rtx_tsval: 0,
            undo: None,
            sack_ok: false,
            sacked: Vec::new(),
            high_rxt: z,
            rtx_marks: VecDeque::new(),
            relost: Vec::new(),
            tlp_armed: false,
            tlp_out: false,
            rcv_unacked: 0,
            ack_now: false,
            srtt_us: 0,
            rttvar_us: 0,
            rto: cfg.rto_initial,
            rtt_seq: None,
            retransmits: 0,
            retrans_high: z,
            total_retrans: 0,
            probes_out: 0,
            persist_backoff: 0,
            cwnd: 0,
            ssthresh: usize::MAX / 2,
            dupacks: 0,
            recover: z,
            in_recovery: false,
            cc: super::cong::CongState::new(cfg.congestion),
            error: None,
            soft_error: None,
            shut_rcv: false,
            shut_snd: false,
            was_connected: false,
            last_rcv: Instant::ZERO,
            timers: Timers::default(),
            wake: PollFlags::NONE,
            reuse_addr: false,
            keepalive: false,
            nodelay: !cfg.nagle,
            cork: false,
            nonblocking: false,
        }
    }

    /// Sequence number just past the last byte queued to send (where our FIN goes).
    pub fn snd_end(&self) -> SeqNumber {
        self.snd_buf_seq + self.snd_buf.len()
    }
    /// Our FIN has been sent (it sits at `snd_end`).
    pub fn fin_sent(&self) -> bool {
        self.fin_queued && self.snd_max.after(self.snd_end())
    }
    /// Our FIN has been acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_queued && self.snd_una.after(self.snd_end())
    }
    /// Bytes in flight (RFC 5681 FlightSize).
    pub fn flight_size(&self) -> usize {
        self.snd_max.since(self.snd_una)
    }
    /// Bytes queued but never sent.
    pub fn unsent(&self) -> usize {
        self.snd_end().since(self.snd_nxt)
    }
    /// Free space in the send buffer.
    pub fn snd_space(&self) -> usize {
        self.sndbuf.saturating_sub(self.snd_buf.len())
    }
    /// Linux `sk_stream_is_writeable`: POLLOUT's low-water mark, free space
    /// at least half of what is queued (and some).
    pub fn sk_stream_is_writeable(&self) -> bool {
        self.snd_space() > 0 && self.snd_space() >= self.snd_buf.len() / 2
    }
    /// The receive window we can offer now: free buffer space (the bytes of
    /// the out-of-order queue sit inside the window already offered).
    pub fn rcv_space(&self) -> usize {
        self.rcvbuf.saturating_sub(self.rcv_buf.len())
    }
    /// What is left of the window we last advertised.
    pub fn rcv_wnd(&self) -> usize {
        self.rcv_adv.since(self.rcv_nxt)
    }
    /// Largest window our window field can carry.
    pub fn max_rcv_wnd(&self) -> usize {
        (65535usize) << self.rcv_wscale
    }

    /// RFC 6298 (2.2)/(2.3): fold one RTT measurement into SRTT and RTTVAR,
    /// then (2.4)/(2.5) RTO = SRTT + max(G, 4·RTTVAR), clamped.
    pub fn rtt_sample(&mut self, cfg: &TcpConfig, r: Duration) {
        let r = r.as_micros().min(u64::MAX as u128) as u64;
        if self.srtt_us == 0 {
            // (2.2) first measurement: SRTT = R, RTTVAR = R/2. R may be 0 on an
            // in-memory link; keep SRTT non-zero so "no sample yet" stays distinct.
            self.srtt_us = r.max(1);
            self.rttvar_us = r / 2;
        } else {
            // (2.3) beta = 1/4, alpha = 1/8.
            let diff = self.srtt_us.abs_diff(r);
            self.rttvar_us = (self.rttvar_us.saturating_mul(3).saturating_add(diff)) / 4;
            self.srtt_us = (self.srtt_us.saturating_mul(7).saturating_add(r) / 8).max(1);
        }
        self.rto = self.compute_rto(cfg);
    }

    pub fn compute_rto(&self, cfg: &TcpConfig) -> Duration {
        // G, the clock granularity: our clock ticks in µs, call it 1 ms.
        let var = self.rttvar_us.saturating_mul(4).max(1000);
        let rto = Duration::from_micros(self.srtt_us.saturating_add(var));
        // (2.4) "rounded up to 1 second" is Linux's 200 ms here (RFC 6298 allows
        // a smaller minimum); (2.5) a maximum of at least 60 s.
        rto.clamp(cfg.rto_min, cfg.rto_max)
    }

    /// RFC 5681 §3.1 / RFC 6928: the initial window.
    pub fn initial_cwnd(&self, cfg: &TcpConfig) -> usize {
        cfg.init_cwnd_segs.max(1) * self.mss
    }

    /// The window field for the next segment we send, with receiver-side
    /// silly window avoidance (RFC 1122 §4.2.3.3): the right edge moves
    /// right only by at least min(RCV.BUFF / 2, MSS), and never moves left
    /// (RFC 9293 §3.8.6.2.2 "shrinking the window" is discouraged).
    pub fn select_window(&mut self) -> u16 {
        let cur = self.rcv_wnd();
        let free = self.rcv_space().min(self.max_rcv_wnd());
        let threshold = (self.rcvbuf / 2).min(self.rcv_mss).max(1);
        let mut wnd = if free >= cur + threshold || (free > cur && free == self.rcvbuf.min(self.max_rcv_wnd())) {
            free
        } else {
            cur
        };
        // The field carries wnd >> rcv_wscale: round down to that granularity,
        // but never below what is already promised.
        let g = (1usize << self.rcv_wscale) - 1;
        if wnd & g != 0 {
            let down = wnd & !g;
            wnd = if down >= cur { down } else { (cur + g) & !g };
        }
        let edge = self.rcv_nxt + wnd;
        if edge.after(self.rcv_adv) {
            self.rcv_adv = edge;
        }
        (wnd >> self.rcv_wscale).min(65535) as u16
    }

    /// Window to put in a SYN or SYN-ACK: never scaled (RFC 7323 §2.2).
    pub fn syn_window(&mut self) -> u16 {
        let wnd = self.rcv_space().min(65535);
        self.rcv_adv = self.rcv_nxt + wnd;
        wnd as u16
    }
}
