//! The transmission control block (`struct tcp_sock`), its variables in the
//! groups of RFC 9293 §3.3.1: `SndVars` (send sequence variables), `RcvVars`
//! (receive sequence variables), `RttVars` (the RFC 6298 estimator:
//! `RttVars::sample`, `RttVars::compute_rto`), `CongVars`, `SackVars`,
//! `TsVars`, `Queues` (buffers), `SockOpts` (opts.rs); the timers are in timer.rs.
//! `TcpState` (state.rs) names the eleven states, and
//! `TcpSock::set_state` and `TcpSock::tcp_done` move between them; the
//! TCB's `tcp_probe` snapshot (`TcpSock::tcp_probe_rx` …, probe.rs) is at
//! the end.
//!
//! Read first: RFC 9293 §3.3.1 (the TCB and its variables), §3.3.2 (the
//! eleven states), RFC 6298 (RTO), RFC 5681 (cwnd/ssthresh).

pub use super::opts::{SockOpts, UrgData, UrgVars};
use super::probe::{ProbeKind, TcpProbe};
use super::seq::SeqNumber;
pub use super::state::{CaState, TcpState};
use super::TcpConfig;
use crate::cx::Cx;
use crate::errno::Errno;
use crate::socket::PollFlags;
use crate::time::{Duration, Instant};
use crate::trace::EventKind;
use crate::wire::tcp::{SackBlock, TcpRepr};
use std::collections::VecDeque;
use std::net::SocketAddrV4;

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
    pub(super) backlog: usize,
    /// Half-open children in SYN_RECEIVED (the kernel's request socks).
    pub(super) syn_queue: Vec<usize>,
    /// Established children waiting for `accept`.
    pub(super) accept_queue: VecDeque<usize>,
    /// When the SYN queue last overflowed and a SYN cookie went out: only
    /// within `syncookies::MAX_AGE` minutes of it is an ACK to the listener
    /// checked as a cookie (Linux `tcp_synq_no_recent_overflow`).
    pub(super) last_overflow: Option<Instant>,
}

impl Listener {
    pub fn accept_queue_full(&self) -> bool {
        self.accept_queue.len() > self.backlog
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
    pub(super) seq: SeqNumber,
    pub(super) data: Vec<u8>,
    pub(super) fin: bool,
    /// When a segment last landed in this entry (`Queues::ofo_tick`): the
    /// most recent goes first in our SACK blocks (RFC 2018 §4).
    pub(super) touched: u32,
}

impl OfoSeg {
    pub fn end(&self) -> SeqNumber {
        self.seq + self.data.len()
    }
}

/// RFC 9293 §3.3.1 "Send Sequence Variables" (Linux: `tcp_sock`'s
/// `snd_una`, `snd_nxt`, `snd_wnd`, `snd_wl1`, `max_window`, `rx_opt.snd_wscale`).
#[derive(Debug)]
pub struct SndVars {
    /// ISS: initial send sequence number.
    pub(super) iss: SeqNumber,
    /// SND.UNA: oldest unacknowledged sequence number.
    pub(super) una: SeqNumber,
    /// SND.NXT: next sequence number to send (moves back to `una` after an RTO).
    pub(super) nxt: SeqNumber,
    /// Highest sequence number sent so far (the kernel's `snd_nxt` before a
    /// go-back-N; RFC 9293 only has SND.NXT).
    pub(super) max: SeqNumber,
    /// SND.WND: the peer's window, already scaled.
    pub(super) wnd: usize,
    /// Largest window the peer ever offered (RFC 1122 §4.2.3.4 "Max(SND.WND)").
    pub(super) max_wnd: usize,
    /// SND.WL1, SND.WL2: segment sequence and acknowledgment numbers of the
    /// last window update.
    pub(super) wl1: SeqNumber,
    pub(super) wl2: SeqNumber,
    /// Snd.Wind.Shift: shift for the peer's window field (RFC 7323), 0 if not agreed.
    pub(super) wscale: u8,
    /// Both SYNs carried the Window Scale option.
    pub(super) wscale_ok: bool,
    /// Effective send MSS (the peer's MSS option, capped by ours).
    pub(super) mss: usize,
    /// End of the last segment sent smaller than the MSS (Linux `snd_sml`,
    /// for Minshall's variant of Nagle).
    pub(super) sml: SeqNumber,
    /// Where the last push mark was set (Linux `pushed_seq`, for `forced_push`).
    pub(super) pushed_seq: SeqNumber,
    /// Start of the unsent data a write may still append to (Linux's tail
    /// skb of the write queue); once any of it has gone, the next write
    /// starts afresh.
    pub(super) tail_start: SeqNumber,
    /// Push marks on data not yet sent, in order (Linux: the PSH flag of
    /// the skbs of the write queue): the end of each write, or of a chunk
    /// pushed because half the window went unpushed. A segment that
    /// reaches one carries PSH.
    pub(super) push_marks: VecDeque<SeqNumber>,
}

/// RFC 9293 §3.3.1 "Receive Sequence Variables" and the ACK schedule
/// (RFC 1122 §4.2.3.2, RFC 5681 §4.2). RCV.WND is `RcvVars::wnd`,
/// computed from `adv`.
#[derive(Debug)]
pub struct RcvVars {
    /// IRS: initial receive sequence number.
    pub(super) irs: SeqNumber,
    /// RCV.NXT: next sequence number expected.
    pub(super) nxt: SeqNumber,
    /// Right edge of the window we last advertised (`nxt + rcv_wnd` then; Linux `rcv_wup + rcv_wnd`).
    pub(super) adv: SeqNumber,
    /// Rcv.Wind.Shift: shift for our window field (RFC 7323), 0 if not agreed.
    pub(super) wscale: u8,
    /// The peer's MSS as a receiver sees it (Linux `icsk_ack.rcv_mss`):
    /// `tcp_initialize_rcv_mss` at the handshake, then `tcp_measure_rcv_mss`
    /// on each data segment (delack.rs). The every-second-segment rule and
    /// receiver SWS avoidance count in it.
    pub(super) mss: usize,
    /// RCV.NXT when we last sent an ACK (Linux `rcv_wup`, set where the
    /// window is chosen): `nxt - wup` is what the peer has not yet seen
    /// acknowledged, and `adv - wup` the window we last offered (`rcv_wnd`).
    pub(super) wup: SeqNumber,
    /// An ACK must go out now (piggybacked if data goes, else pure): a
    /// challenge ACK, a duplicate ACK for an unacceptable segment (Linux
    /// calls `tcp_send_ack` for those at once). Data ACKs go through the
    /// delayed-ACK engine (`TcpSock::icsk_ack`, delack.rs).
    pub(super) ack_now: bool,
    /// The window we last advertised, counted from the RCV.NXT of then
    /// (Linux `rcv_wnd`; `adv` is its right edge).
    pub(super) last_wnd: usize,
    /// The most the window may offer now: raised per segment received
    /// (`grow_window`) up to `window_clamp` (Linux `rcv_ssthresh`).
    pub(super) ssthresh: usize,
    /// The largest window we will ever offer (Linux `window_clamp`).
    pub(super) window_clamp: usize,
}

/// Linux's delayed-ACK engine, `inet_connection_sock.icsk_ack` (RFC 1122
/// §4.2.3.2: "a TCP SHOULD implement a delayed ACK, but an ACK should not
/// be excessively delayed"; RFC 5681 §4.2). The rules are in delack.rs.
#[derive(Debug, Default)]
pub struct IcskAck {
    /// `ICSK_ACK_SCHED | ICSK_ACK_TIMER | ICSK_ACK_PUSHED | ICSK_ACK_PUSHED2 |
    /// ICSK_ACK_NOW` (delack.rs); cleared when any ACK goes out.
    pub(super) pending: u8,
    /// Quick-ACK budget: while non-zero (and not interactive) every data
    /// segment is ACKed at once (`tcp_incr_quickack`, at most `TCP_MAX_QUICKACKS`).
    pub(super) quick: u32,
    /// Interactive count (`inet_csk_inc_pingpong_cnt`): in pingpong mode
    /// ACKs wait for a reply to ride on.
    pub(super) pingpong: u8,
    /// The ACK timeout estimate (`ato`): zero until the first data segment,
    /// then from `TCP_ATO_MIN` up, from the gaps between segments.
    pub(super) ato: Duration,
    /// When the delayed ACK is due (`timeout`; the `DelayedAck` timer).
    pub(super) timeout: Instant,
    /// When the last data segment arrived (`lrcvtime`).
    pub(super) lrcvtime: Instant,
    /// Size of the last small segment, for `tcp_measure_rcv_mss` (`last_seg_size`).
    pub(super) last_seg_size: usize,
}

/// Receive-buffer autotuning's state (rcvbuf.rs): Linux's `rcv_rtt_est`
/// (the receiver's RTT estimate) and `rcvq_space` (what the application
/// read in the last RTT).
#[derive(Debug, Default)]
pub struct RcvSpace {
    /// `rcv_rtt_est.rtt_us`: the receiver's RTT estimate, times 8 (as
    /// Linux keeps it); 0: none yet.
    pub(super) rtt_us8: u64,
    /// `rcv_rtt_est.seq`, `.time`: the measurement running, if any: it
    /// ends when RCV.NXT passes `seq`.
    pub(super) rtt_seq: SeqNumber,
    pub(super) rtt_time: Option<Instant>,
    /// `rcvq_space.space`: bytes read in the last measured RTT (0: not started).
    pub(super) space: usize,
    /// `rcvq_space.seq`, `.time`: `copied_seq` and the time when this RTT's count began.
    pub(super) seq: SeqNumber,
    pub(super) time: Instant,
}

/// The RTT estimator and retransmission timeout (RFC 6298), microseconds.
#[derive(Debug)]
pub struct RttVars {
    /// SRTT and RTTVAR (Linux `srtt_us`, `mdev_us`); 0: no sample yet.
    pub(super) srtt_us: u64,
    pub(super) rttvar_us: u64,
    /// RTO.
    pub(super) rto: Duration,
    /// The one segment being timed: its last sequence number and when it left.
    pub(super) timed: Option<(SeqNumber, Instant)>,
    /// End of the highest retransmitted segment: an ACK covering it gives no
    /// RTT sample (Karn; Linux's FLAG_RETRANS_DATA_ACKED).
    pub(super) retrans_high: SeqNumber,
    /// The backoff: consecutive timeouts (retransmit or probe) without
    /// progress (Linux `icsk_retransmits`).
    pub(super) retransmits: u32,
    /// When the first retransmission by timeout of this episode went out
    /// (Linux `retrans_stamp`): `tcp_retries2` is a time budget counted
    /// from it (`retransmits_timed_out`, timer.rs).
    pub(super) retrans_stamp: Option<Instant>,
    /// The last measurement `sample` folded in (µs), for `tcp_probe`'s Rx
    /// sample to take (probe.rs); only read there.
    pub(super) last_sample_us: Option<u64>,
}

impl RcvVars {
    /// What is left of the window we last advertised.
    pub fn wnd(&self) -> usize {
        self.adv.since(self.nxt)
    }
}

impl RttVars {
    /// RFC 6298 (2.2)/(2.3): fold one RTT measurement into SRTT and RTTVAR,
    /// then (2.4)/(2.5) RTO = SRTT + max(G, 4·RTTVAR), clamped.
    pub fn sample(&mut self, cfg: &TcpConfig, r: Duration) {
        let r = r.as_micros().min(u64::MAX as u128) as u64;
        self.last_sample_us = Some(r);
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
        // RFC 6298 (2.3): RTO = SRTT + max(G, K·RTTVAR). Linux's floor
        // (`tcp_rto_min`, 200 ms) is on the variance term, not on the sum
        // (`tcp_rtt_estimator` keeps `rttvar_us` at least `tcp_rto_min_us`):
        // an RTT of 100 ms gives 300 ms, never 250. (2.4)'s "rounded up to
        // 1 second" is that 200 ms here (RFC 6298 allows a smaller
        // minimum); (2.5) a maximum of at least 60 s.
        let min_us = cfg.rto_min.as_micros() as u64;
        let var = self.rttvar_us.saturating_mul(4).max(min_us);
        let rto = Duration::from_micros(self.srtt_us.saturating_add(var));
        rto.clamp(cfg.rto_min, cfg.rto_max)
    }
}

/// Congestion control (RFC 5681, RFC 6582 NewReno; the algorithm in cong.rs).
#[derive(Debug)]
pub struct CongVars {
    pub(super) cwnd: usize,
    pub(super) ssthresh: usize,
    pub(super) dupacks: u32,
    /// RFC 6582 `recover`: SND.MAX when the loss episode began.
    pub(super) recover: SeqNumber,
    pub(super) in_recovery: bool,
    /// The congestion control algorithm and its state (cong.rs).
    pub(super) cc: super::cubic::CongState,
    /// Linux `tcp_cwnd_validate`'s record of this window (cong.rs):
    /// cwnd was full when data last went out (`is_cwnd_limited`), the most
    /// segments in flight (`max_packets_out`), and where the window ends
    /// (`cwnd_usage_seq`, SND.MAX then).
    pub(super) is_cwnd_limited: bool,
    pub(super) max_packets_out: u32,
    pub(super) cwnd_usage_seq: SeqNumber,
    /// What the trace last said of `tcp_is_cwnd_limited` (not Linux state).
    pub(super) cwnd_limited_traced: bool,
}

/// Selective acknowledgements both ways (RFC 2018, RFC 2883, RFC 6675; sack.rs).
#[derive(Debug)]
pub struct SackVars {
    /// Both SYNs carried SACK-Permitted.
    pub(super) ok: bool,
    /// The scoreboard: ranges above SND.UNA the peer has SACKed, sorted, disjoint.
    pub(super) sacked: Vec<SackBlock>,
    /// RFC 6675 HighRxt: end of the highest byte retransmitted in this recovery.
    pub(super) high_rxt: SeqNumber,
    /// Retransmissions of this recovery, watched for loss (sack.rs).
    pub(super) rtx_marks: VecDeque<RtxMark>,
    /// Retransmissions found lost: sent again before anything else.
    pub(super) relost: Vec<SackBlock>,
    /// A duplicate segment to report in the next ACK's first SACK block (RFC 2883).
    pub(super) dsack: Option<SackBlock>,
}

/// One transmitted segment in RACK's log (rack.rs; a TSO packet is one
/// entry, as it is one skb): `[start, end)` (a FIN counts one), when it last
/// left (`tcp_skb_timestamp_us`), segments delivered then (`tx.delivered`),
/// and the skb's `TCPCB_SACKED_ACKED`, `TCPCB_LOST`, `TCPCB_SACKED_RETRANS`
/// (retransmitted, not known lost since) and `TCPCB_EVER_RETRANS` bits.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TxSeg {
    pub start: SeqNumber,
    pub end: SeqNumber,
    pub xmit: Instant,
    /// Transmission order: what a µs clock would tell apart within one `now`.
    pub order: u64,
    pub delivered: u32,
    pub sacked: bool,
    pub lost: bool,
    pub retrans: bool,
    pub ever_retrans: bool,
}

/// RACK-TLP and PRR (RFC 8985, RFC 6937; the rules in rack.rs, prr.rs):
/// Linux's `tp->rack`, `tlp_high_seq`, `prr_*`, `undo_*`.
#[derive(Debug, Default)]
pub struct RackVars {
    /// The transmit log, SND.UNA to SND.MAX, in sequence order.
    pub(super) txq: VecDeque<TxSeg>,
    /// RACK.xmit_ts, .end_seq, .rtt (µs); `advanced`: delivery since the last detection.
    pub(super) xmit_ts: Option<Instant>,
    pub(super) end_seq: SeqNumber,
    pub(super) order: u64,
    pub(super) next_order: u64,
    pub(super) rtt_us: u64,
    pub(super) advanced: bool,
    /// The smallest RTT seen (µs; 0: none yet; Linux's is a 5-minute windowed minimum).
    pub(super) min_rtt_us: u64,
    /// §6.2 step 4: reo_wnd in min_rtt/4 steps (0 is 1), its persistence, a D-SACK seen, when it grew.
    pub(super) reo_wnd_steps: u32,
    pub(super) reo_wnd_persist: u32,
    pub(super) dsack_seen: bool,
    pub(super) last_delivered: u32,
    /// `tp->reord_seen`, `tp->delivered` (segments), `tp->dsack_dups`.
    pub(super) reord_seen: bool,
    pub(super) delivered: u32,
    pub(super) dsack_dups: u64,
    /// The retransmission timer runs as the reorder timer (`ICSK_TIME_REO_TIMEOUT`).
    pub(super) reo_armed: bool,
    /// §7: SND.NXT after the outstanding probe (`tlp_high_seq`); it repeated old data.
    pub(super) tlp_high_seq: Option<SeqNumber>,
    pub(super) tlp_retrans: bool,
    /// RFC 6937: cwnd at the start, segments delivered and sent since; the last PRR trace.
    pub(super) prior_cwnd: usize,
    pub(super) prr_delivered: usize,
    pub(super) prr_out: usize,
    pub(super) prr_traced: Option<Instant>,
    /// Linux `undo_marker`, `undo_retrans`, `prior_cwnd`, `prior_ssthresh` (D-SACK undo).
    pub(super) undo_marker: Option<SeqNumber>,
    pub(super) undo_retrans: i64,
    pub(super) undo_cwnd: usize,
    pub(super) undo_ssthresh: usize,
    /// After a timeout until the recovery point (`TCP_CA_Loss`): no fast recovery.
    pub(super) in_loss: bool,
}

/// Timestamps (RFC 7323 §3-§5) and Eifel undo (RFC 3522; timestamps.rs).
#[derive(Debug)]
pub struct TsVars {
    /// Both SYNs carried the Timestamps option: every segment carries it.
    pub(super) ok: bool,
    /// TS.Recent: the TSval to echo, and when it was last updated.
    pub(super) recent: u32,
    pub(super) recent_stamp: Instant,
    /// Added to our millisecond clock (RFC 7323 §5.4).
    pub(super) offset: u32,
    /// Last.ACK.sent: RCV.NXT in the last ACK we sent (RFC 7323 §4.3).
    pub(super) last_ack_sent: SeqNumber,
    /// TSval of our latest retransmission: an echo older than it gives no RTT sample.
    pub(super) rtx_tsval: u32,
    /// The loss episode that may yet prove spurious (RFC 3522).
    pub(super) undo: Option<UndoMark>,
}

/// The buffers and queues (Linux `sk_write_queue`, `sk_receive_queue`,
/// `out_of_order_queue`, `sk_sndbuf`, `sk_rcvbuf`).
#[derive(Debug)]
pub struct Queues {
    /// Unacknowledged and unsent bytes; `snd_buf[0]` has sequence number `snd_buf_seq`.
    pub(super) snd_buf: VecDeque<u8>,
    pub(super) snd_buf_seq: SeqNumber,
    /// SO_SNDBUF.
    pub(super) sndbuf: usize,
    /// In-order bytes not yet read by the application.
    pub(super) rcv_buf: VecDeque<u8>,
    /// SO_RCVBUF.
    pub(super) rcvbuf: usize,
    /// Segments beyond RCV.NXT, sorted and merged.
    pub(super) out_of_order_queue: VecDeque<OfoSeg>,
    pub(super) ofo_bytes: usize,
    /// Counts segments queued out of order (for `OfoSeg::touched`).
    pub(super) ofo_tick: u32,
}

/// A retransmission made during recovery: its range, and SND.MAX when it left.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RtxMark {
    pub start: SeqNumber,
    pub end: SeqNumber,
    pub snd_max: SeqNumber,
}

/// What a loss episode changed, kept to be undone if it proves spurious
/// (Linux `undo_marker`, `prior_cwnd`, `prior_ssthresh`, `retrans_stamp`).
#[derive(Copy, Clone, Debug, Default)]
pub struct UndoMark {
    pub cwnd: usize,
    pub ssthresh: usize,
    /// TSval of the episode's first retransmission.
    pub tsval: u32,
    /// The episode began with a timeout (else fast retransmit).
    pub rto: bool,
}

/// The connection timers (RFC 9293 §3.8, RFC 6298, RFC 1122 §4.2.3.2, §4.2.2.17).
/// Timers are data: each is an optional deadline, the stack's next wake-up
/// is their minimum, and the handlers live together in timer.rs.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum TimerKind {
    /// SYN, SYN-ACK, data and FIN retransmission (RFC 6298).
    Retransmit,
    /// RFC 1122 §4.2.3.2: ACK within 500 ms (Linux: the `ato` estimate,
    /// 40 ms to 200 ms; delack.rs).
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

/// The TCB, grouped as RFC 9293 §3.3.1 groups its variables: `sk.snd.una`,
/// `sk.rcv.nxt`, `sk.rtt.srtt_us`, `sk.cong.cwnd`, `sk.sack.sacked`,
/// `sk.ts.recent`, `sk.timers`, `sk.q.snd_buf`, `sk.opt.nodelay`; the
/// socket-level state (state, addresses, flags, errors) at the top.
#[derive(Debug)]
pub struct TcpSock {
    pub(super) state: TcpState,
    pub(super) owner: Owner,
    /// Local address; the IP is unspecified until connected (or for a wildcard listener).
    pub(super) local: SocketAddrV4,
    pub(super) remote: SocketAddrV4,
    /// Holds a reference on `local.port()` in the port table.
    pub(super) bound: bool,
    /// Listed in the 4-tuple table.
    pub(super) hashed: bool,
    pub(super) listen: Option<Listener>,

    pub(super) snd: SndVars,
    pub(super) rcv: RcvVars,
    /// The delayed-ACK engine (Linux `icsk_ack`; delack.rs).
    pub(super) icsk_ack: IcskAck,
    /// Receive-buffer autotuning (rcvbuf.rs, Linux `tcp_rcv_space_adjust`).
    pub(super) rcvq: RcvSpace,
    pub(super) rtt: RttVars,
    pub(super) cong: CongVars,
    pub(super) sack: SackVars,
    pub(super) ts: TsVars,
    pub(super) q: Queues,
    pub(super) opt: SockOpts,
    /// Urgent data both ways (urgent.rs).
    pub(super) urg: UrgVars,

    /// The application shut down the sending side: a FIN follows the last byte.
    pub(super) fin_queued: bool,
    /// RFC 8985 §7: the retransmission timer is running as a loss probe
    /// timeout (PTO), not an RTO; and a probe is out, unanswered.
    pub(super) tlp_armed: bool,
    pub(super) tlp_out: bool,
    /// RACK-TLP and PRR (rack.rs, prr.rs): the transmit log, RACK's
    /// variables, the probe episode, PRR's counts.
    pub(super) rack: Box<RackVars>,
    /// Segments retransmitted over the life of the connection.
    pub(super) total_retrans: u64,
    /// Zero-window probes (or keepalives) sent without an answer; any ACK resets it.
    pub(super) probes_out: u32,
    /// Backoff of the persist timer: grows per probe, reset when the window opens.
    pub(super) persist_backoff: u32,

    // ----- Socket state
    pub(super) error: Option<Errno>,
    /// The last soft error (ICMP) for SO_ERROR on timeout (RFC 1122 §4.2.3.9).
    pub(super) soft_error: Option<Errno>,
    /// RCV_SHUTDOWN: the peer's FIN arrived, or SHUT_RD.
    pub(super) shut_rcv: bool,
    /// SEND_SHUTDOWN: SHUT_WR, close, or the connection is gone.
    pub(super) shut_snd: bool,
    /// The connection was established once (so `ENOTCONN` vs `EPIPE`, `Ok(0)`).
    pub(super) was_connected: bool,
    pub(super) last_rcv: Instant,
    /// When data last went out (Linux `lsndtime`): how long the connection
    /// has been idle, for RFC 5681 §4.1's restart (`cwnd_restart`).
    pub(super) lsndtime: Instant,
    /// The timers (timer.rs): timers are data.
    pub(super) timers: Timers,
    /// Readiness news for epoll since the socket was last put back in the
    /// table (the key of the kernel's `sk_data_ready` / `sk_write_space` /
    /// `sk_state_change` wake-ups); `Tcp::finish` hands it to the wake queue.
    pub(super) wake: PollFlags,
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
            snd: SndVars {
                iss: z,
                una: z,
                nxt: z,
                max: z,
                wnd: 0,
                max_wnd: 0,
                wl1: z,
                wl2: z,
                wscale: 0,
                wscale_ok: false,
                mss: super::DEFAULT_PEER_MSS,
                sml: z,
                pushed_seq: z,
                tail_start: z,
                push_marks: VecDeque::new(),
            },
            rcv: RcvVars {
                irs: z,
                nxt: z,
                adv: z,
                wscale: 0,
                mss: super::DEFAULT_PEER_MSS,
                wup: z,
                ack_now: false,
                last_wnd: 0,
                ssthresh: 0,
                window_clamp: 0,
            },
            icsk_ack: IcskAck::default(),
            rcvq: RcvSpace::default(),
            rtt: RttVars {
                srtt_us: 0,
                rttvar_us: 0,
                rto: cfg.rto_initial,
                timed: None,
                retrans_high: z,
                retransmits: 0,
                retrans_stamp: None,
                last_sample_us: None,
            },
            cong: CongVars {
                cwnd: 0,
                ssthresh: usize::MAX / 2,
                dupacks: 0,
                recover: z,
                in_recovery: false,
                cc: super::cubic::CongState::new(cfg.congestion),
                is_cwnd_limited: false,
                max_packets_out: 0,
                cwnd_usage_seq: z,
                cwnd_limited_traced: true,
            },
            sack: SackVars {
                ok: false,
                sacked: Vec::new(),
                high_rxt: z,
                rtx_marks: VecDeque::new(),
                relost: Vec::new(),
                dsack: None,
            },
            ts: TsVars {
                ok: false,
                recent: 0,
                recent_stamp: Instant::ZERO,
                offset: 0,
                last_ack_sent: z,
                rtx_tsval: 0,
                undo: None,
            },
            q: Queues {
                snd_buf: VecDeque::new(),
                snd_buf_seq: z,
                sndbuf: cfg.sndbuf,
                rcv_buf: VecDeque::new(),
                rcvbuf: cfg.rcvbuf,
                out_of_order_queue: VecDeque::new(),
                ofo_bytes: 0,
                ofo_tick: 0,
            },
            opt: SockOpts {
                reuse_addr: false,
                keepalive: false,
                nodelay: !cfg.nagle,
                cork: false,
                nonblocking: false,
                sndbuf_lock: false,
                rcvbuf_lock: false,
                rcvlowat: 1,
                linger: crate::socket::Linger::default(),
                oobinline: false,
                more: false,
                keepidle: None,
                keepintvl: None,
                keepcnt: None,
                user_mss: 0,
                ttl: None,
                tos: 0,
            },
            urg: Default::default(),
            fin_queued: false,
            tlp_armed: false,
            tlp_out: false,
            rack: Default::default(),
            total_retrans: 0,
            probes_out: 0,
            persist_backoff: 0,
            error: None,
            soft_error: None,
            shut_rcv: false,
            shut_snd: false,
            was_connected: false,
            last_rcv: Instant::ZERO,
            lsndtime: Instant::ZERO,
            timers: Timers::default(),
            wake: PollFlags::NONE,
        }
    }

    /// Sequence number just past the last byte queued to send (where our FIN goes).
    pub fn snd_end(&self) -> SeqNumber {
        self.q.snd_buf_seq + self.q.snd_buf.len()
    }
    /// Our FIN has been sent (it sits at `snd_end`).
    pub fn fin_sent(&self) -> bool {
        self.fin_queued && self.snd.max.after(self.snd_end())
    }
    /// Our FIN has been acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_queued && self.snd.una.after(self.snd_end())
    }
    /// Bytes in flight (RFC 5681 FlightSize).
    pub fn flight_size(&self) -> usize {
        self.snd.max.since(self.snd.una)
    }
    /// Bytes queued but never sent.
    pub fn unsent(&self) -> usize {
        self.snd_end().since(self.snd.nxt)
    }
    /// Free space in the send buffer.
    pub fn snd_space(&self) -> usize {
        self.q.sndbuf.saturating_sub(self.q.snd_buf.len())
    }
    /// Linux `sk_stream_is_writeable`: POLLOUT's low-water mark, free space
    /// at least half of what is queued (and some).
    pub fn sk_stream_is_writeable(&self) -> bool {
        self.snd_space() > 0 && self.snd_space() >= self.q.snd_buf.len() / 2
    }
    /// The most payload the receive buffer holds (Linux `tcp_full_space`,
    /// `tcp_win_from_space(sk_rcvbuf)`): `q.rcvbuf`, half of the SO_RCVBUF
    /// that getsockopt reports, as Linux's default scaling ratio counts
    /// half of each skb's memory as payload.
    pub fn full_space(&self) -> usize {
        self.q.rcvbuf
    }
    /// What is free of it (Linux `tcp_space`): bytes in order not yet read
    /// and bytes held out of order both take room.
    pub fn rcv_space(&self) -> usize {
        self.q.rcvbuf.saturating_sub(self.q.rcv_buf.len() + self.q.ofo_bytes)
    }
    /// RFC 5681 §3.1 / RFC 6928: the initial window.
    pub fn initial_cwnd(&self, cfg: &TcpConfig) -> usize {
        cfg.init_cwnd_segs.max(1) * self.snd.mss
    }

    /// `tcp_set_state`, traced with the RFC's names.
    pub fn set_state(&mut self, cx: &mut Cx, new: TcpState, rfc: &'static str) {
        let old = self.state;
        if old == new {
            return;
        }
        self.state = new;
        if new == TcpState::Established {
            self.was_connected = true;
        }
        // `sk_state_change`: any watcher may care.
        self.wake |= crate::socket::WAKE_ALL;
        let (l, r) = (self.local, self.remote);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpState, rfc, || format!("{l} {r}: {} -> {}", old.rfc_name(), new.rfc_name()));
        self.tcp_probe_event(cx, super::ProbeKind::State);
    }

    /// The end of a connection (`tcp_done`): CLOSED, both directions shut,
    /// timers stopped, and `err` left for the application.
    pub fn tcp_done(&mut self, cx: &mut Cx, err: Option<Errno>) {
        self.tcp_done_because(cx, err, "RFC 9293 §3.10.4");
    }

    /// `tcp_done`, traced with the clause that ends the connection.
    pub fn tcp_done_because(&mut self, cx: &mut Cx, err: Option<Errno>, rfc: &'static str) {
        self.set_state(cx, TcpState::Closed, rfc);
        if let Some(e) = err {
            self.error = Some(e);
        }
        self.shut_rcv = true;
        self.shut_snd = true;
        self.timers.clear_all();
        self.q.snd_buf = Default::default();
        self.q.out_of_order_queue = Default::default();
        self.q.ofo_bytes = 0;
        self.sack.sacked = Vec::new();
        self.rcv.ack_now = false;
    }
}

fn probe_sat32(n: usize) -> u32 {
    n.min(u32::MAX as usize) as u32
}

/// `tcp_probe` (probe.rs): the TCB as a sample.
impl TcpSock {
    /// Linux `icsk_ca_state`, from what we keep, for `TCP_INFO` and
    /// `tcp_probe` alike: after a timeout until the recovery point `Loss`
    /// (RACK's `in_loss`; without RACK, while timeouts are unanswered), in
    /// fast recovery `Recovery`, with duplicate ACKs or SACKed data but no
    /// recovery yet `Disorder`, else `Open` (no ECN, so never `Cwr`).
    pub(super) fn ca_state(&self) -> CaState {
        if self.rack.in_loss || (self.rtt.retransmits > 0 && self.state.is_synchronized()) {
            CaState::Loss
        } else if self.cong.in_recovery {
            CaState::Recovery
        } else if self.cong.dupacks > 0 || !self.sack.sacked.is_empty() {
            CaState::Disorder
        } else {
            CaState::Open
        }
    }

    /// Bytes in the network: RFC 6675 SetPipe() when the peer has SACKed
    /// something, else the flight size (Linux `tcp_packets_in_flight`).
    fn probe_in_flight(&self) -> usize {
        if self.sack.sacked.is_empty() {
            self.flight_size()
        } else {
            self.sack_pipe(&self.sack_holes())
        }
    }

    /// The sample, with the segment fields left empty. Not inlined: the
    /// hooks (`#[inline]`) cost one branch where they are called when off.
    #[inline(never)]
    fn probe_sample(&self, at: Instant, kind: ProbeKind) -> TcpProbe {
        let cubic = &self.cong.cc.cubic;
        let mss = self.snd.mss.max(1) as f64;
        let is_cubic = self.cong.cc.algo == crate::socket::CongAlgo::Cubic;
        let (w_max, k) = if is_cubic && cubic.last_max_cwnd > 0.0 {
            (Some(cubic.last_max_cwnd * mss), cubic.epoch_start.map(|_| cubic.bic_k))
        } else {
            (None, None)
        };
        TcpProbe {
            at,
            kind,
            local: self.local,
            remote: self.remote,
            iss: self.snd.iss.0,
            irs: self.rcv.irs.0,
            state: self.state,
            seq: 0,
            len: 0,
            flags: 0,
            retrans: false,
            zero_window_probe: false,
            ack: 0,
            win: 0,
            sack: [(0, 0); 4],
            nsack: 0,
            snd_una: self.snd.una.0,
            snd_nxt: self.snd.nxt.0,
            rcv_nxt: self.rcv.nxt.0,
            cwnd: probe_sat32(self.cong.cwnd),
            ssthresh: probe_sat32(self.cong.ssthresh),
            in_flight: probe_sat32(self.probe_in_flight()),
            ca_state: self.ca_state(),
            w_max,
            k,
            epoch_start: if is_cubic { cubic.epoch_start } else { None },
            srtt_us: self.rtt.srtt_us.min(u32::MAX as u64) as u32,
            rttvar_us: self.rtt.rttvar_us.min(u32::MAX as u64) as u32,
            rto_us: self.rtt.rto.as_micros().min(u32::MAX as u128) as u32,
            rtt_sample_us: None,
            backoff: self.rtt.retransmits.min(255) as u8,
            snd_wnd: probe_sat32(self.snd.wnd),
            rcv_wnd: probe_sat32(self.rcv.wnd()),
            recv_q: probe_sat32(self.q.rcv_buf.len()),
            send_q: probe_sat32(self.q.snd_buf.len()),
            ofo_bytes: probe_sat32(self.q.ofo_bytes),
        }
    }

    /// The segment fields of a sample from header `h` with `len` payload
    /// bytes; its window scaled by `shift` (RFC 7323 §2.3: never a SYN's).
    fn probe_segment(p: &mut TcpProbe, h: &TcpRepr, len: usize, shift: u8) {
        p.seq = h.seq.0;
        p.len = probe_sat32(len);
        p.flags = h.flags.0;
        p.ack = h.ack.map_or(0, |a| a.0);
        let shift = if h.syn() { 0 } else { shift.min(14) };
        p.win = u32::from(h.window) << shift;
        let blocks = h.options.sack_blocks();
        for (i, b) in blocks.iter().take(p.sack.len()).enumerate() {
            p.sack[i] = (b.0 .0, b.1 .0);
        }
        p.nsack = blocks.len().min(p.sack.len()) as u8;
    }

    /// `Rx` sample: segment `h` with `len` payload bytes has been processed.
    /// Takes the RTT measurement that processing left (`RttVars::last_sample_us`).
    #[inline]
    pub(super) fn tcp_probe_rx(&mut self, cx: &mut Cx, h: &TcpRepr, len: usize) {
        if !cx.probe.enabled() {
            return;
        }
        let rtt = self.rtt.last_sample_us.take();
        let mut p = self.probe_sample(cx.now, ProbeKind::Rx);
        Self::probe_segment(&mut p, h, len, self.snd.wscale);
        p.rtt_sample_us = rtt.map(|r| r.min(u32::MAX as u64) as u32);
        cx.probe.push(p);
    }

    /// `Tx` sample: segment `h` with `len` payload bytes, which `transmit`
    /// is about to queue (before SND.NXT and SND.MAX move past it).
    #[inline]
    pub(super) fn tcp_probe_tx(&self, cx: &mut Cx, h: &TcpRepr, len: usize) {
        if !cx.probe.enabled() {
            return;
        }
        let mut p = self.probe_sample(cx.now, ProbeKind::Tx);
        Self::probe_segment(&mut p, h, len, self.rcv.wscale);
        let syn_or_fin = h.syn() || h.flags.has(super::TcpFlags::FIN);
        p.retrans = (len > 0 || syn_or_fin) && h.seq.before(self.snd.max);
        // `tcp_xmit_probe_skb`: SND.UNA − 1, no data, into a closed window
        // (with the window open it is a keepalive).
        p.zero_window_probe = len == 0 && h.seq.before(self.snd.una) && self.snd.wnd == 0;
        cx.probe.push(p);
    }

    /// `Rto` or `State` sample: no segment.
    #[inline]
    pub(super) fn tcp_probe_event(&self, cx: &mut Cx, kind: ProbeKind) {
        if !cx.probe.enabled() {
            return;
        }
        let p = self.probe_sample(cx.now, kind);
        cx.probe.push(p);
    }
}
