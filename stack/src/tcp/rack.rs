//! RACK-TLP: loss detection by time (RFC 8985), and the per-segment
//! transmit log it needs. Linux: net/ipv4/tcp_recovery.c
//! (`tcp_rack_advance`, `tcp_rack_detect_loss`, `tcp_rack_mark_lost`,
//! `tcp_rack_reo_wnd`, `tcp_rack_update_reo_wnd`, `tcp_rack_reo_timeout`),
//! net/ipv4/tcp_input.c (`tcp_fastretrans_alert`, `tcp_time_to_recover`,
//! `tcp_process_tlp_ack`, `tcp_check_sack_reordering`, `tcp_dsack_seen`),
//! net/ipv4/tcp_output.c (`tcp_xmit_retransmit_queue`, `tcp_schedule_loss_probe`,
//! `tcp_send_loss_probe`: the probe itself lives in timer.rs).
//!
//! **The transmit log.** RFC 6675 counts SACKed segments above a hole;
//! RACK asks instead *when* each segment was sent. So every segment that
//! leaves is noted in `RackVars::txq` (Linux keeps it on the skb of the
//! retransmission queue: `tcp_skb_timestamp_us`, and the `TCPCB_SACKED_ACKED`,
//! `TCPCB_LOST`, `TCPCB_SACKED_RETRANS` bits): its range, when it last
//! left, and whether it is SACKed, deemed lost, or retransmitted since it
//! was deemed lost. A retransmission moves the segment's time to now.
//!
//! **RACK (RFC 8985 §6).** Each ACK delivers segments (cumulatively or by
//! SACK). The most recently *sent* of them sets RACK.xmit_ts and
//! RACK.end_seq, and its round trip sets RACK.rtt (`tcp_rack_advance`,
//! §6.2 step 2; a retransmission whose ACK comes back sooner than the
//! smallest RTT ever seen is ambiguous and ignored). Then any segment sent
//! *before* that one and still neither acknowledged nor SACKed has been
//! overtaken: it is lost once RACK.rtt + reo_wnd has passed since it was
//! sent (§6.2 step 5, `tcp_rack_detect_loss`). If that time has not come,
//! the reorder timer is set for it (§6.3, `ICSK_TIME_REO_TIMEOUT`, which in
//! Linux and here runs on the retransmission timer).
//!
//! **The reordering window (§6.2 step 4, `tcp_rack_reo_wnd`).** Until
//! reordering has been seen on the connection (a segment never
//! retransmitted delivered below one SACKed before it), the window is zero
//! in recovery or once three segments are SACKed: RACK then behaves like
//! the three duplicate ACKs of old. Otherwise it is min_rtt/4 times
//! `reo_wnd_steps`, at most SRTT. A D-SACK (a retransmission was not
//! needed: the original was only late) adds a step, at most once per
//! round trip, and the widened window persists for 16 recoveries
//! (`tcp_rack_update_reo_wnd`, §6.2 step 4's adaptation).
//!
//! **Recovery (`tcp_time_to_recover`).** With SACK and RACK on (Linux's
//! `tcp_recovery=1`, the default), recovery starts when RACK has deemed a
//! segment lost: no duplicate-ACK count. In it, `tcp_xmit_retransmit_queue`
//! sends the lost segments first, then new data, while the segments in
//! flight (`tcp_packets_in_flight`: sent − SACKed − lost + retransmitted)
//! stay below cwnd, which PRR sets (prr.rs). A retransmission that is lost
//! again is found the same way: later segments are delivered and its time
//! has passed.
//!
//! **Undo (Linux `tcp_try_undo_dsack`, RFC 2883 §5).** Reordering makes
//! RACK retransmit what was only late; the receiver then reports the copy
//! as a D-SACK. Once D-SACKs cover every retransmission of a recovery
//! (`undo_retrans` back to 0) none was needed, and cwnd and ssthresh are
//! restored, in the recovery or after it. (Eifel, timestamps.rs, is the
//! other undo: the echoed TSval of the original.)
//!
//! **Sent before or after?** RFC 8985 compares transmission times, and
//! the sequence number when they tie (the segments of one TSO packet).
//! Linux's clock has microseconds; synack's `now` is one instant for all
//! that one event sends, so each transmission also gets an order number
//! (`TxSeg::order`): a retransmission sent just after new data in the same
//! `now` is then not mistaken for one sent before it.
//!
//! **TLP's acknowledgement (§7.4, `tcp_process_tlp_ack`).** A probe leaves
//! `tlp_high_seq` = SND.NXT. If the probe sent new data, its ACK ends the
//! episode. If it repeated the last segment: a D-SACK for it, or a pure
//! duplicate ACK, means both copies arrived (no loss); an ACK beyond
//! `tlp_high_seq` means the probe repaired a loss: cwnd is cut once
//! (`tcp_init_cwnd_reduction` + `tcp_end_cwnd_reduction`).

use super::sack::SackUpdate;
use super::seq::SeqNumber;
use super::sock::{TcpSock, TimerKind, TxSeg};
use super::TcpConfig;
use crate::cx::Cx;
use crate::stats::Counter;
use crate::time::{Duration, Instant};
use crate::trace::EventKind;
use crate::wire::tcp::SackBlock;
use std::collections::VecDeque;

/// Entries the transmit log keeps; beyond it new segments merge into the
/// last entry and SACK edges stop splitting entries (precision lost, never memory).
pub const MAX_TXQ: usize = 16_384;

/// Linux `TCP_TIMEOUT_MIN` (2 jiffies): added to the reorder timeout.
pub const TCP_TIMEOUT_MIN: Duration = Duration::from_millis(2);

/// Linux `TCP_RACK_RECOVERY_THRESH`: recoveries a widened window lasts.
const TCP_RACK_RECOVERY_THRESH: u32 = 16;

/// Loss traces per detection before the rest are summed up in one line.
const TRACE_LOST_MAX: usize = 3;

impl TxSeg {
    /// Sequence numbers it covers (a FIN counts one).
    pub fn len(&self) -> usize {
        self.end.since(self.start)
    }
}

/// RFC 8985 §6.2 `RACK_sent_after`: was segment 1 (time, transmission
/// order, end) sent after segment 2? Linux's µs clock tells apart what
/// leaves in one burst; our `now` does not, so the order counter does
/// (else a retransmission sent just after new data, in the same `now`,
/// would look sent before it, and be deemed lost when that data is SACKed).
/// The sequence number breaks the tie within one TSO packet, as in the RFC.
fn rack_sent_after(a: (Instant, u64, SeqNumber), b: (Instant, u64, SeqNumber)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && (a.1 > b.1 || (a.1 == b.1 && a.2.after(b.2))))
}

impl TcpSock {
    /// RACK runs on this connection: configured, and SACK agreed (Linux
    /// `tcp_is_rack`; without SACK, NewReno's duplicate ACKs remain).
    pub fn rack_active(&self, cfg: &TcpConfig) -> bool {
        cfg.recovery_rack && self.sack.ok
    }

    // ------------------------------------------------------------ the log

    /// Split the entry that holds `at` strictly inside it, so that `at`
    /// starts an entry (`tcp_fragment`). Nothing if the log is full.
    fn txq_split(&mut self, at: SeqNumber) {
        let q = &mut self.rack.txq;
        let i = q.partition_point(|e| e.end.before_eq(at));
        if let Some(e) = q.get(i).copied() {
            if e.start.before(at) && at.before(e.end) && q.len() < MAX_TXQ {
                q[i].end = at;
                q.insert(i + 1, TxSeg { start: at, ..e });
            }
        }
    }

    /// `tcp_event_new_data_sent` / `tcp_retransmit_skb`: note `[seq, end)`
    /// leaving now. Below SND.MAX the entries are stamped again and marked
    /// retransmitted; above it a new entry is added.
    pub fn rack_on_xmit(&mut self, now: Instant, seq: SeqNumber, end: SeqNumber) {
        if !seq.before(end) {
            return;
        }
        let max = self.snd.max;
        let order = self.rack.next_order;
        self.rack.next_order += 1;
        if seq.before(max) {
            let top = end.min_seq(max);
            if self.rack.undo_marker.is_some() {
                // `tcp_retransmit_skb`: undo_retrans counts this episode's retransmissions.
                self.rack.undo_retrans =
                    self.rack.undo_retrans.max(0) + top.since(seq).div_ceil(self.snd.mss.max(1)) as i64;
            }
            self.txq_split(seq);
            self.txq_split(top);
            let delivered = self.rack.delivered;
            let q = &mut self.rack.txq;
            let mut i = q.partition_point(|e| e.end.before_eq(seq));
            while let Some(e) = q.get_mut(i) {
                if !e.start.before(top) {
                    break;
                }
                if !e.sacked {
                    e.xmit = now;
                    e.order = order;
                    e.delivered = delivered;
                    e.retrans = true;
                    e.ever_retrans = true;
                }
                i += 1;
            }
        }
        if end.after(max) {
            let start = seq.max_seq(max);
            let delivered = self.rack.delivered;
            let q = &mut self.rack.txq;
            if q.len() >= MAX_TXQ {
                if let Some(last) = q.back_mut() {
                    last.end = end;
                    (last.xmit, last.order) = (now, order);
                    return;
                }
            }
            q.push_back(TxSeg {
                start,
                end,
                xmit: now,
                order,
                delivered,
                sacked: false,
                lost: false,
                retrans: false,
                ever_retrans: false,
            });
        }
    }

    /// RFC 8985 §6.2 step 2 (`tcp_rack_advance`): a segment was delivered.
    fn tcp_rack_advance(&mut self, now: Instant, e: &TxSeg) {
        let rtt_us = now.saturating_since(e.xmit).as_micros() as u64;
        if e.ever_retrans && rtt_us < self.rack.min_rtt_us {
            // "If the sacked packet was retransmitted, it's ambiguous whether
            // the retransmission or the original (or the prior
            // retransmission) was sacked": too quick to be the copy just sent.
            return;
        }
        if !e.ever_retrans && (self.rack.min_rtt_us == 0 || rtt_us < self.rack.min_rtt_us) {
            self.rack.min_rtt_us = rtt_us.max(1);
        }
        self.rack.advanced = true;
        self.rack.rtt_us = rtt_us;
        let newer = match self.rack.xmit_ts {
            None => true,
            Some(t) => rack_sent_after((e.xmit, e.order, e.end), (t, self.rack.order, self.rack.end_seq)),
        };
        if newer {
            self.rack.xmit_ts = Some(e.xmit);
            self.rack.end_seq = e.end;
            self.rack.order = e.order;
        }
    }

    /// `tcp_check_sack_reordering`: a segment never retransmitted arrived
    /// below the highest SACKed one: the path reorders.
    fn rack_check_reordering(&mut self, cx: &mut Cx, e: &TxSeg, prior_fack: SeqNumber) {
        if !e.ever_retrans && e.start.before(prior_fack) && !self.rack.reord_seen {
            self.rack.reord_seen = true;
            let (l, r, s) = (self.local, self.remote, e.start);
            let now = cx.now;
            cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 8985 §6.2 step 4", || {
                format!("{l} {r}: seq {s} delivered below a SACKed segment, never retransmitted: the path reorders, RACK's reo_wnd no longer 0")
            });
        }
    }

    /// A delivered entry: counted, and RACK advanced. Returns its segments.
    fn rack_delivered(
        &mut self,
        cx: &mut Cx,
        e: &TxSeg,
        prior_fack: SeqNumber,
        newest: &mut Option<(Instant, u64, u32)>,
    ) -> usize {
        let segs = e.len().div_ceil(self.snd.mss.max(1));
        self.rack.delivered = self.rack.delivered.wrapping_add(segs as u32);
        self.rack_check_reordering(cx, e, prior_fack);
        self.tcp_rack_advance(cx.now, e);
        if newest.is_none_or(|(t, o, _)| (e.xmit, e.order) >= (t, o)) {
            *newest = Some((e.xmit, e.order, e.delivered));
        }
        segs
    }

    /// RFC 8985 §6.2 step 4 (`tcp_rack_reo_wnd`), µs.
    pub fn tcp_rack_reo_wnd(&self) -> u64 {
        if !self.rack.reord_seen {
            // "If reordering has not been observed, be aggressive during the
            // recovery or starting the recovery by DUPACK threshold."
            if self.cong.in_recovery {
                return 0;
            }
            let mss = self.snd.mss.max(1);
            let sacked_out: usize = self.sack.sacked.iter().map(|r| r.1.since(r.0).div_ceil(mss)).sum();
            if sacked_out >= super::sack::DUP_THRESH {
                return 0;
            }
        }
        let srtt = self.rtt.srtt_us;
        let min_rtt = if self.rack.min_rtt_us > 0 { self.rack.min_rtt_us } else { srtt };
        ((min_rtt / 4) * u64::from(self.rack.reo_wnd_steps.max(1))).min(srtt)
    }

    /// Mark one entry lost (`tcp_mark_skb_lost`): a retransmission deemed
    /// lost again is owed once more.
    fn rack_mark_entry_lost(&mut self, cx: &mut Cx, i: usize) -> bool {
        let e = &mut self.rack.txq[i];
        if e.lost && e.retrans {
            e.retrans = false;
            cx.stats.inc(Counter::TcpLostRetransmit);
            true
        } else if !e.lost {
            e.lost = true;
            true
        } else {
            false
        }
    }

    /// RFC 8985 §6.2 step 5 (`tcp_rack_detect_loss`): every segment sent
    /// before RACK.xmit_ts and not delivered is lost once RACK.rtt +
    /// reo_wnd has passed since it left. Returns the segments newly deemed
    /// lost and the longest wait of those not yet (µs, 0: none).
    fn tcp_rack_detect_loss(&mut self, cx: &mut Cx) -> (usize, u64) {
        let Some(rack_ts) = self.rack.xmit_ts else { return (0, 0) };
        let reo_wnd = self.tcp_rack_reo_wnd();
        let (rack_rtt, rack_end, rack_order) = (self.rack.rtt_us, self.rack.end_seq, self.rack.order);
        let mss = self.snd.mss.max(1);
        let now = cx.now;
        let (mut lost, mut timeout, mut traced, mut first_seq) = (0usize, 0u64, 0usize, None);
        for i in 0..self.rack.txq.len() {
            let e = self.rack.txq[i];
            if e.sacked || (e.lost && !e.retrans) {
                continue;
            }
            if !rack_sent_after((rack_ts, rack_order, rack_end), (e.xmit, e.order, e.end)) {
                continue;
            }
            let waited = now.saturating_since(e.xmit).as_micros() as i64;
            let remaining = rack_rtt as i64 + reo_wnd as i64 - waited;
            if remaining <= 0 {
                let again = e.lost;
                if self.rack_mark_entry_lost(cx, i) {
                    lost += e.len().div_ceil(mss);
                    cx.stats.inc(Counter::TcpRackLost);
                    first_seq.get_or_insert(e.start);
                    if traced < TRACE_LOST_MAX {
                        traced += 1;
                        let (l, r) = (self.local, self.remote);
                        let before_ms = rack_ts.saturating_since(e.xmit).as_micros() as f64 / 1000.0;
                        cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 8985 §6.2 step 5", || {
                            format!(
                                "{l} {r}: RACK: {} bytes at seq {} sent {before_ms:.1} ms before the last delivered, \
                                 RACK.rtt {:.1} ms + reo_wnd {:.1} ms passed: {}lost",
                                e.len(),
                                e.start,
                                rack_rtt as f64 / 1000.0,
                                reo_wnd as f64 / 1000.0,
                                if again { "retransmission " } else { "" }
                            )
                        });
                    }
                }
            } else {
                timeout = timeout.max(remaining as u64);
            }
        }
        if traced == TRACE_LOST_MAX && lost > traced {
            let (l, r, more) = (self.local, self.remote, lost - traced);
            cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 8985 §6.2 step 5", || {
                format!("{l} {r}: RACK: and {more} more segment(s) lost")
            });
        }
        (lost, timeout)
    }

    /// `tcp_rack_mark_lost`: detection after an ACK that delivered
    /// something; arms the reorder timer (RFC 8985 §6.3) for segments
    /// overtaken but still within their window. Returns the segments newly
    /// lost and whether the timer was armed.
    fn tcp_rack_mark_lost(&mut self, cx: &mut Cx) -> (usize, bool) {
        if !std::mem::take(&mut self.rack.advanced) {
            return (0, false);
        }
        let (lost, timeout) = self.tcp_rack_detect_loss(cx);
        if timeout > 0 {
            let after = Duration::from_micros(timeout) + TCP_TIMEOUT_MIN;
            self.rack_arm_reo_timer(cx, after);
        }
        (lost, timeout > 0)
    }

    /// The retransmission timer as the reorder timer (never past the RTO).
    fn rack_arm_reo_timer(&mut self, cx: &mut Cx, after: Duration) {
        let after = after.min(self.rtt.rto);
        self.timers.set(TimerKind::Retransmit, cx.now + after);
        self.rack.reo_armed = true;
        self.tlp_armed = false;
        let (l, r) = (self.local, self.remote);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpTimer, "RFC 8985 §6.3", || {
            format!("{l} {r}: reorder timer set for {:.1} ms", after.as_micros() as f64 / 1000.0)
        });
    }

    /// RFC 8985 §6.3 (`tcp_rack_reo_timeout`): the reorder timer fired.
    /// Whatever is now past its window is lost; recovery starts if it had
    /// not, and the lost segments go.
    pub fn tcp_rack_reo_timeout(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        cx.stats.inc(Counter::TcpRackReoTimeout);
        let (lost, timeout) = self.tcp_rack_detect_loss(cx);
        if lost > 0 {
            if !self.cong.in_recovery && !self.rack.in_loss {
                self.rack_enter_recovery(cx, "reorder timer");
                // Linux: `tcp_cwnd_reduction(sk, 1, 0)`, one segment delivered.
                self.tcp_cwnd_reduction(cx, 1, 0, false);
            }
            self.tcp_write_xmit(cx, cfg, false);
        }
        if timeout > 0 {
            self.rack_arm_reo_timer(cx, Duration::from_micros(timeout) + TCP_TIMEOUT_MIN);
        } else if !self.timers.is_set(TimerKind::Retransmit) && self.snd.una != self.snd.max {
            // `tcp_rearm_rto`: the RTO counts from the head's last transmission.
            let at = self.rack_rto_at(cx.now);
            self.timers.set(TimerKind::Retransmit, at);
        }
    }

    /// When the RTO fires for the head (`tcp_rto_delta_us`): its last
    /// transmission plus the RTO, not before now.
    pub fn rack_rto_at(&self, now: Instant) -> Instant {
        match self.rack.txq.front() {
            Some(e) => (e.xmit + self.rtt.rto).max(now + Duration::from_micros(1)),
            None => now + self.rtt.rto,
        }
    }

    /// RFC 8985 §6.2 step 4's adaptation (`tcp_rack_update_reo_wnd`).
    /// `prior_delivered`: `delivered` when the newest segment this ACK
    /// delivered was sent.
    fn tcp_rack_update_reo_wnd(&mut self, cx: &mut Cx, prior_delivered: Option<u32>) {
        let Some(pd) = prior_delivered.filter(|&d| d != 0) else { return };
        // "Disregard DSACK if a rtt has not passed since we adjusted reo_wnd."
        if (pd.wrapping_sub(self.rack.last_delivered) as i32) < 0 {
            self.rack.dsack_seen = false;
        }
        if self.rack.dsack_seen {
            self.rack.reo_wnd_steps = (self.rack.reo_wnd_steps.max(1) + 1).min(0xff);
            self.rack.dsack_seen = false;
            self.rack.last_delivered = self.rack.delivered;
            self.rack.reo_wnd_persist = TCP_RACK_RECOVERY_THRESH;
            cx.stats.inc(Counter::TcpRackReoWndUp);
            let (l, r, steps, w) = (self.local, self.remote, self.rack.reo_wnd_steps, self.tcp_rack_reo_wnd());
            let now = cx.now;
            cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 8985 §6.2 step 4", || {
                format!(
                    "{l} {r}: D-SACK: a retransmission was spurious, reo_wnd widened to {steps} × min_rtt/4 = {:.1} ms",
                    w as f64 / 1000.0
                )
            });
        } else if self.rack.reo_wnd_persist == 0 {
            self.rack.reo_wnd_steps = 1;
        }
    }

    /// `tcp_packets_in_flight` in bytes: sent, not SACKed, not lost; plus
    /// what was retransmitted (RFC 6675's pipe with RACK's notion of lost).
    pub fn rack_pipe(&self) -> usize {
        let mut pipe = 0;
        for e in &self.rack.txq {
            if e.sacked {
                continue;
            }
            let start = e.start.max_seq(self.snd.una);
            if !start.before(e.end) {
                continue;
            }
            let n = e.end.since(start);
            if !e.lost {
                pipe += n;
            }
            if e.retrans {
                pipe += n;
            }
        }
        pipe
    }

    /// Segments deemed lost and not yet retransmitted.
    fn rack_lost_out(&self) -> bool {
        self.rack.txq.iter().any(|e| e.lost && !e.retrans && !e.sacked)
    }

    /// `tcp_enter_loss` for the log: on a timeout everything not SACKed is
    /// lost, and no probe is out any more.
    pub fn rack_enter_loss(&mut self) {
        for e in self.rack.txq.iter_mut() {
            if !e.sacked {
                e.lost = true;
                e.retrans = false;
            }
        }
        self.rack.tlp_high_seq = None;
        self.rack.reo_armed = false;
        self.rack.in_loss = true;
    }

    /// `tcp_check_sack_reneging`: the scoreboard was dropped, so are the marks.
    pub fn rack_sack_reneged(&mut self) {
        for e in self.rack.txq.iter_mut() {
            e.sacked = false;
        }
    }

    /// Before `tcp_ack` moves SND.UNA and folds in the SACK blocks: the
    /// highest SACKed byte (Linux `tcp_highest_sack_seq`, `prior_fack`, for
    /// the reordering test) and the data `acked` bytes acknowledge: our
    /// SYN's sequence number is none (Linux sets cwnd after the handshake's
    /// ACK, `tcp_init_transfer`, so that ACK grows nothing, with RACK or
    /// without: `tcp_ack` hands this count to every recovery path).
    pub(super) fn rack_prior(&self, acked: usize) -> (SeqNumber, usize) {
        let prior_fack = self.sack.sacked.last().map_or(self.snd.una, |r| r.1);
        let syn = usize::from(acked > 0 && self.snd.una == self.snd.iss);
        (prior_fack, acked - syn)
    }

    /// `tcp_enter_recovery`: RFC 6675 §5 (4.1) the recovery point, and
    /// PRR's start (prr.rs).
    fn rack_enter_recovery(&mut self, cx: &mut Cx, why: &'static str) {
        self.undo_mark(cx.now, false);
        // `tcp_init_undo`.
        self.rack.undo_marker = Some(self.snd.una);
        self.rack.undo_retrans = -1;
        (self.rack.undo_cwnd, self.rack.undo_ssthresh) = (self.cong.cwnd, self.cong.ssthresh);
        self.cong.recover = self.snd.max;
        self.tcp_init_cwnd_reduction(cx);
        self.cong.in_recovery = true;
        cx.stats.inc(Counter::TcpSackRecovery);
        let (l, r, una, ss, cwnd) = (self.local, self.remote, self.snd.una, self.cong.ssthresh, self.cong.cwnd);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 8985 §6.1 (Linux tcp_time_to_recover)", || {
            format!("{l} {r}: RACK deemed data lost ({why}) at SND.UNA {una}: recovery, ssthresh {ss}, cwnd {cwnd} to fall by PRR")
        });
    }

    /// `tcp_fastretrans_alert` with RACK (Linux `tcp_recovery=1`), from
    /// `tcp_ack` after the SACK blocks are in the scoreboard: the log
    /// learns what was delivered, RACK advances and detects loss, TLP's
    /// ACK is judged, recovery starts or ends, and cwnd follows PRR in it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn tcp_rack_ack(
        &mut self,
        cx: &mut Cx,
        ack: SeqNumber,
        prior_fack: SeqNumber,
        acked: usize,
        sack: &SackUpdate,
        blocks: &[SackBlock],
        dupack: bool,
        pure_dup: bool,
    ) {
        let mut newest = None;
        let mut delivered = 0usize;
        // (1) The cumulative ACK (`tcp_clean_rtx_queue`).
        let una = self.snd.una;
        while let Some(e) = self.rack.txq.front().copied() {
            if !e.start.before(una) {
                break;
            }
            let part = TxSeg { end: e.end.min_seq(una), ..e };
            if !e.sacked {
                delivered += self.rack_delivered(cx, &part, prior_fack, &mut newest);
            }
            if e.end.before_eq(una) {
                self.rack.txq.pop_front();
            } else {
                self.rack.txq[0].start = una;
                break;
            }
        }
        // An emptied log keeps its allocation (a bulk sender drains it at
        // every flight: freeing it then cost 20 % of the in-memory bench),
        // unless it grew large (past 4096 entries, 128 KB).
        if self.rack.txq.is_empty() && self.rack.txq.capacity() > 4096 {
            self.rack.txq = VecDeque::new();
        }
        // (2) The SACK blocks (`tcp_sacktag_write_queue`): entries split at
        // their edges, and those now wholly SACKed marked.
        let mut dsack_dups = 0;
        if sack.dsack {
            if let Some(&(s, e)) = blocks.first() {
                dsack_dups = e.since(s).div_ceil(self.snd.mss.max(1));
            }
        }
        if sack.newly_sacked > 0 {
            for &(s, e) in blocks {
                if !s.before(e) || s.before(self.snd.una) || e.after(self.snd.max) {
                    continue;
                }
                self.txq_split(s);
                self.txq_split(e);
                let mut i = self.rack.txq.partition_point(|x| x.end.before_eq(s));
                while i < self.rack.txq.len() {
                    let x = self.rack.txq[i];
                    if !x.start.before(e) {
                        break;
                    }
                    if !x.sacked && self.sacked_end_at(x.start).is_some_and(|end| end.after_eq(x.end)) {
                        let q = &mut self.rack.txq[i];
                        q.sacked = true;
                        q.lost = false;
                        q.retrans = false;
                        delivered += self.rack_delivered(cx, &x, prior_fack, &mut newest);
                    }
                    i += 1;
                }
            }
        }
        // (3) D-SACK (`tcp_dsack_seen`): counted only while the duplicates
        // are no more than we retransmitted (a path that duplicates
        // packets proves nothing), and only once reordering was seen.
        // A D-SACK of the probe's copy (Linux FLAG_DSACK_TLP).
        let tlp_dsack = dsack_dups > 0
            && self.rack.tlp_retrans
            && blocks.first().is_some_and(|b| Some(b.1) == self.rack.tlp_high_seq.map(|h| h.min_seq(b.1)));
        if dsack_dups > 0 {
            self.rack.dsack_dups += dsack_dups as u64;
            if self.rack.dsack_dups <= self.total_retrans && self.rack.reord_seen && !tlp_dsack {
                self.rack.dsack_seen = true;
            }
        }
        if dsack_dups > 0 && self.rack.dsack_dups <= self.total_retrans {
            self.tcp_try_undo_dsack(cx, blocks[0].1, dsack_dups);
        }
        self.tcp_rack_update_reo_wnd(cx, newest.map(|(_, _, d)| d));
        // (4) RFC 8985 §7.4: the probe's ACK.
        if self.rack.tlp_high_seq.is_some() {
            // Linux's pure duplicate: no data, FIN, window update, ACKed or SACKed bytes.
            let pure_dup = pure_dup && acked == 0 && sack.newly_sacked == 0;
            self.tcp_process_tlp_ack(cx, ack, acked > 0, tlp_dsack, pure_dup);
        }
        // (5) RACK loss detection, when this ACK says anything but "all in order".
        let dubious = self.cong.in_recovery || !self.sack.sacked.is_empty() || sack.newly_sacked > 0 || sack.dsack;
        let (newly_lost, _) = if dubious { self.tcp_rack_mark_lost(cx) } else { (0, false) };
        // (6) The state machine.
        if self.cong.in_recovery {
            if ack.after_eq(self.cong.recover) {
                // The recovery point is acknowledged (RFC 6675 §5 (4.1)
                // ends; RFC 6937: cwnd = ssthresh, `tcp_end_cwnd_reduction`).
                self.tcp_end_cwnd_reduction(cx);
                self.cong.in_recovery = false;
                self.cong.dupacks = 0;
                self.rack.reo_wnd_persist = self.rack.reo_wnd_persist.saturating_sub(1);
                let (l, r, cwnd) = (self.local, self.remote, self.cong.cwnd);
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpWindow, "RFC 6937 §3", || {
                    format!("{l} {r}: recovery point acknowledged, recovery ends, cwnd = ssthresh = {cwnd}")
                });
                self.cong_avoid(cx, acked);
            } else {
                self.tcp_cwnd_reduction(cx, delivered, newly_lost, acked > 0);
            }
            return;
        }
        if dupack {
            self.cong.dupacks += 1;
        }
        if acked > 0 {
            self.cong.dupacks = 0;
        }
        // `tcp_time_to_recover`: something is lost. Not for losses from
        // before the last timeout (RFC 6675 §5.1: Linux's CA_Loss lasts
        // until its recovery point).
        if self.rack.in_loss && self.snd.una.after_eq(self.cong.recover) {
            self.rack.in_loss = false;
        }
        // (Lost segments appear only where this ACK was dubious or RACK
        // marked some: an in-order ACK costs no walk of the log.)
        if !self.rack.in_loss && (dubious || newly_lost > 0) && self.snd.una != self.snd.max && self.rack_lost_out() {
            self.rack_enter_recovery(cx, "RACK");
            self.tcp_cwnd_reduction(cx, delivered, newly_lost, acked > 0);
            return;
        }
        if acked > 0 {
            self.cong_avoid(cx, acked);
        }
    }

    /// Linux `tcp_check_dsack` + `tcp_try_undo_dsack`: a D-SACK ending at
    /// `end` reports `dups` segments received twice. Once every
    /// retransmission of the recovery has been reported so, none was
    /// needed (the originals were only late: reordering): the cwnd
    /// reduction is undone (RFC 2883 §5, Linux `tcp_undo_cwnd_reduction`),
    /// in recovery or after it.
    fn tcp_try_undo_dsack(&mut self, cx: &mut Cx, end: SeqNumber, dups: usize) {
        let Some(marker) = self.rack.undo_marker else { return };
        if self.rack.undo_retrans > 0 && end.after(marker) {
            self.rack.undo_retrans = (self.rack.undo_retrans - dups as i64).max(0);
        }
        // (In recovery with lost segments still to send, later: PRR runs on.)
        if self.rack.undo_retrans != 0 || (self.cong.in_recovery && self.rack_lost_out()) {
            return;
        }
        self.rack.undo_marker = None;
        self.cong.cwnd = self.cong.cwnd.max(self.rack.undo_cwnd);
        self.cong.ssthresh = self.cong.ssthresh.max(self.rack.undo_ssthresh);
        self.ts.undo = None;
        let was = std::mem::replace(&mut self.cong.in_recovery, false);
        cx.stats.inc(Counter::TcpDsackUndo);
        let (l, r, cwnd) = (self.local, self.remote, self.cong.cwnd);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpWindow, "RFC 2883 §5 (Linux tcp_try_undo_dsack)", || {
            format!(
                "{l} {r}: D-SACKs cover every retransmission of the recovery: none was needed, cwnd back to {cwnd}{}",
                if was { ", recovery ends" } else { "" }
            )
        });
    }

    /// RFC 8985 §7.4 (`tcp_process_tlp_ack`): what the probe's ACK says.
    /// In Linux's order: a D-SACK of the probe ends the episode with no
    /// loss, then an ACK past `tlp_high_seq` proves one; an ACK that only
    /// reaches it, or brings data, a FIN or a window update, says nothing
    /// yet; a pure duplicate ACK means both copies arrived.
    fn tcp_process_tlp_ack(
        &mut self,
        cx: &mut Cx,
        ack: SeqNumber,
        una_advanced: bool,
        tlp_dsack: bool,
        pure_dup: bool,
    ) {
        let Some(high) = self.rack.tlp_high_seq else { return };
        if ack.before(high) {
            return;
        }
        let (l, r) = (self.local, self.remote);
        let now = cx.now;
        if !self.rack.tlp_retrans {
            // The probe was new data, now acknowledged: the episode ends.
            self.rack.tlp_high_seq = None;
        } else if tlp_dsack {
            // A D-SACK of the probe: the original had arrived too.
            self.rack.tlp_high_seq = None;
            cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 8985 §7.4.1", || {
                format!("{l} {r}: a D-SACK of the loss probe: the original arrived too, no loss")
            });
        } else if ack.after(high) {
            // The ACK goes past the probe: it repaired a loss. Reduce cwnd once.
            self.tcp_init_cwnd_reduction(cx);
            self.tcp_end_cwnd_reduction(cx);
            cx.stats.inc(Counter::TcpLossProbeRecovery);
            let cwnd = self.cong.cwnd;
            cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 8985 §7.4.2", || {
                format!(
                    "{l} {r}: the loss probe repaired a tail loss (ACK {ack} past {high}): cwnd = ssthresh = {cwnd}"
                )
            });
        } else if !una_advanced && pure_dup {
            // A pure duplicate ACK: both copies arrived.
            self.rack.tlp_high_seq = None;
            cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 8985 §7.4.1", || {
                format!("{l} {r}: the loss probe and the original both arrived: no loss")
            });
        }
    }

    /// `tcp_xmit_retransmit_queue` then new data, in recovery with RACK:
    /// the lost segments, lowest first, then new data, while the segments
    /// in flight stay below cwnd (which PRR sets).
    pub fn rack_recovery_xmit(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        const RFC: &str = "RFC 8985 §6.2 (Linux tcp_xmit_retransmit_queue)";
        for _ in 0..4096 {
            let mss = self.mss_now();
            if self.rack_pipe() + mss > self.cong.cwnd {
                break;
            }
            let lost = self.rack.txq.iter().find(|e| e.lost && !e.retrans && !e.sacked).map(|e| (e.start, e.end));
            if let Some((s, e)) = lost {
                let s = s.max_seq(self.snd.una);
                let end = self.retransmit_range(cx, cfg, s, e, RFC);
                if end == s {
                    break;
                }
                continue;
            }
            // New data, up to an MSS the peer's window takes.
            if self.recovery_xmit_new_data(cx, cfg, mss, RFC) {
                continue;
            }
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(s: u32, e: u32, t: u64) -> TxSeg {
        TxSeg {
            start: SeqNumber(s),
            end: SeqNumber(e),
            xmit: Instant::from_millis(t),
            order: 0,
            delivered: 0,
            sacked: false,
            lost: false,
            retrans: false,
            ever_retrans: false,
        }
    }

    #[test]
    fn sent_after_breaks_ties_by_sequence() {
        let t = Instant::from_millis(5);
        let (s0, s9, s10) = (SeqNumber(0), SeqNumber(9), SeqNumber(10));
        assert!(rack_sent_after((t + Duration::from_millis(1), 0, s0), (t, 5, s9)));
        assert!(rack_sent_after((t, 6, s0), (t, 5, s9)), "same now: the later transmission");
        assert!(rack_sent_after((t, 5, s10), (t, 5, s9)), "one TSO packet: the higher sequence");
        assert!(!rack_sent_after((t, 5, s9), (t, 5, s9)));
    }

    #[test]
    fn the_log_splits_and_restamps_a_retransmission() {
        let mut sk = TcpSock::new(&TcpConfig::default());
        sk.snd.mss = 1000;
        sk.rack.txq.push_back(seg(0, 3000, 10));
        sk.snd.max = SeqNumber(3000);
        sk.rack_on_xmit(Instant::from_millis(50), SeqNumber(1000), SeqNumber(2000));
        let q: Vec<_> = sk.rack.txq.iter().map(|e| (e.start.0, e.end.0, e.xmit.total_millis(), e.retrans)).collect();
        assert_eq!(q, vec![(0, 1000, 10, false), (1000, 2000, 50, true), (2000, 3000, 10, false)]);
        // New data past SND.MAX is a new entry.
        sk.rack_on_xmit(Instant::from_millis(60), SeqNumber(2500), SeqNumber(4000));
        assert_eq!(sk.rack.txq.back().map(|e| (e.start.0, e.end.0)), Some((3000, 4000)));
    }
}
