//! Every TCP timer: arming, stopping, and every handler (Linux: net/ipv4/tcp_timer.c).
//!
//! Read first: RFC 6298 §5 (retransmission timer, backoff), RFC 9293 §3.8.1
//! (retransmission, giving up: R2), §3.8.6.1 (zero-window probing), §3.6.1
//! (TIME_WAIT, 2 × MSL), RFC 1122 §4.2.3.2 (delayed ACK), §4.2.3.5 (R1/R2
//! give-up thresholds), §4.2.3.6 (keepalive), RFC 8985 §7 (the tail loss
//! probe, which runs on the retransmission timer, as in Linux).
//!
//! The timers themselves are data: plain deadlines in each socket (`Timers`,
//! one per `TimerKind`, in sock.rs beside the rest of the TCB), set and
//! stopped with `TcpSock::timer_set` and `TcpSock::timer_cancel` (here);
//! `Tcp::poll_timeout` is their minimum and `Tcp::handle_timeout` runs the
//! expired ones.

use super::sock::{Owner, TcpSock, TcpState, TimerKind};
use super::{Tcp, TcpConfig};
use crate::cx::Cx;
use crate::errno::Errno;
use crate::time::Duration;
use crate::trace::EventKind;

/// RFC 8985 §7.2 WCDelAckT: the longest a peer may delay its ACK (RFC 1122's
/// 500 ms bound is the RFC's example; Linux and we use 200 ms).
const WC_DEL_ACK_T: Duration = Duration::from_millis(200);

/// Linux `tcp_model_timeout`: how long `boundary` retransmissions take
/// with the RTO doubling from `rto_min`: `(2^(boundary+1) - 1) · rto_min`,
/// and `rto_max` for each one after the RTO reaches it.
fn tcp_model_timeout(cfg: &TcpConfig, boundary: u32) -> Duration {
    let base = cfg.rto_min.max(Duration::from_millis(1));
    let ratio = (cfg.rto_max.as_micros() / base.as_micros()).max(1);
    let thresh = ratio.ilog2();
    if boundary <= thresh {
        base * ((2u32 << boundary) - 1)
    } else {
        base * ((2u32 << thresh) - 1) + cfg.rto_max * (boundary - thresh)
    }
}

impl Tcp {
    /// Run every timer whose deadline has passed.
    pub fn handle_timeout(&mut self, cx: &mut Cx) {
        for i in 0..self.socks.len() {
            let due = self.socks[i].as_ref().and_then(|s| s.timers.next()).is_some_and(|t| t <= cx.now);
            if !due {
                continue;
            }
            let Some(mut sk) = self.socks[i].take() else { continue };
            let before = sk.state;
            for kind in TimerKind::ALL {
                if sk.state == TcpState::Closed {
                    break;
                }
                if sk.timers.get(kind).is_some_and(|t| t <= cx.now) {
                    sk.timers.clear(kind);
                    let (l, r) = (sk.local, sk.remote);
                    let now = cx.now;
                    cx.trace.emit(now, EventKind::TcpTimer, kind.rfc_fired(), || {
                        format!("{l} {r}: {} timer fired", kind.name())
                    });
                    sk.on_timer(cx, &self.config, kind);
                }
            }
            self.finish(cx, i, sk, before);
        }
    }
}

impl TcpSock {
    fn on_timer(&mut self, cx: &mut Cx, cfg: &TcpConfig, kind: TimerKind) {
        match kind {
            TimerKind::Retransmit => self.retransmit_timer(cx, cfg),
            // RFC 1122 §4.2.3.2: the delayed ACK is due (delack.rs).
            TimerKind::DelayedAck => self.tcp_delack_timer_handler(cx, cfg),
            TimerKind::Persist => self.persist_timer(cx, cfg),
            TimerKind::Keepalive => self.keepalive_timer(cx, cfg),
            TimerKind::Cork => {
                // TCP_CORK's ceiling: send the held partial segment.
                self.tcp_write_xmit(cx, cfg, true);
            }
            TimerKind::FinWait2 => {
                // Linux `tcp_fin_timeout`: an orphan waits no longer for the peer's FIN.
                if self.state == TcpState::FinWait2 && self.owner == Owner::Orphan {
                    self.tcp_done_because(cx, None, TimerKind::FinWait2.rfc_fired());
                }
            }
            TimerKind::TimeWait => {
                // RFC 9293 §3.10.8: "If the time-wait timeout expires on a
                // connection, delete the TCB, enter the CLOSED state".
                self.tcp_done_because(cx, None, "RFC 9293 §3.10.8");
            }
        }
    }

    /// Give up: RFC 9293 §3.8.3 / RFC 1122 §4.2.3.5 R2, the connection is
    /// closed and the application sees ETIMEDOUT (or the last ICMP soft error).
    fn give_up(&mut self, cx: &mut Cx, why: &'static str) {
        let (l, r, n) = (self.local, self.remote, self.rtt.retransmits);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpTimer, "RFC 1122 §4.2.3.5", || {
            format!("{l} {r}: giving up after {n} {why}: ETIMEDOUT")
        });
        let err = match self.soft_error {
            Some(e) if self.state == TcpState::SynSent => e,
            _ => Errno::ETIMEDOUT,
        };
        self.tcp_done_because(cx, Some(err), "RFC 9293 §3.8.3");
    }

    /// `tcp_retransmit_timer`: RFC 6298 (5.4)-(5.6). Retransmit the earliest
    /// unacknowledged segment, double the RTO (Karn's backoff), restart the timer.
    fn retransmit_timer(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        // The one timer also runs as RACK's reorder timer and as TLP's
        // probe timeout (Linux `icsk_pending`: ICSK_TIME_REO_TIMEOUT,
        // ICSK_TIME_LOSS_PROBE, ICSK_TIME_RETRANS).
        if std::mem::take(&mut self.rack.reo_armed) {
            return self.tcp_rack_reo_timeout(cx, cfg);
        }
        if std::mem::take(&mut self.tlp_armed) {
            return self.tcp_send_loss_probe(cx, cfg);
        }
        let limit = match self.state {
            // Linux `tcp_write_timeout`: in SYN_SENT the linear
            // retransmissions come on top of `tcp_syn_retries`.
            TcpState::SynSent => cfg.syn_retries + cfg.syn_linear_timeouts,
            TcpState::SynReceived => cfg.synack_retries,
            TcpState::Closed | TcpState::Listen | TcpState::TimeWait => return,
            _ => cfg.retries2,
        };
        if self.state.is_synchronized() && self.snd.una == self.snd.max {
            return; // nothing outstanding
        }
        let expired = match self.state {
            // Linux `tcp_write_timeout` → `retransmits_timed_out`: the
            // budget is the time `tcp_retries2` doublings from TCP_RTO_MIN
            // would take, counted from the first retransmission.
            s if s.is_synchronized() => self.retransmits_timed_out(cx.now, cfg, limit),
            // A SYN: the count, or the time `tcp_syn_retries` doublings from
            // the initial RTO would take since the first SYN, whichever
            // comes first (with syn_retries 1, the third second ends it,
            // linear timeouts or not).
            TcpState::SynSent => {
                let budget = cfg.rto_initial * ((2u32 << cfg.syn_retries.min(30)) - 1);
                self.rtt.retransmits >= limit
                    || (self.rtt.retransmits > 0
                        && self.rtt.retrans_stamp.is_some_and(|t| cx.now.saturating_since(t) >= budget))
            }
            _ => self.rtt.retransmits >= limit,
        };
        if expired {
            if self.state == TcpState::SynReceived && matches!(self.owner, Owner::Child { .. }) {
                // A half-open child whose SYN-ACKs all went unanswered leaves the SYN queue.
                let (l, r) = (self.local, self.remote);
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpQueue, "RFC 9293 §3.8.3", || {
                    format!("{l} {r}: no ACK after {limit} SYN-ACK retransmissions: dropped from the SYN queue")
                });
                self.tcp_done_because(cx, None, "RFC 9293 §3.8.3");
            } else {
                self.give_up(cx, "retransmissions");
            }
            return;
        }
        self.rtt.retransmits += 1;
        if self.rtt.retrans_stamp.is_none() && self.state.is_synchronized() {
            self.rtt.retrans_stamp = Some(cx.now);
        }
        // (5.5) back off the timer; (5.6) restart it below. Linux 6.5+
        // (`tcp_retransmit_timer`, `tcp_syn_linear_timeouts`): a SYN's first
        // retransmissions keep the initial RTO, in case only one SYN was
        // lost; the doubling starts after them.
        if self.state != TcpState::SynSent || self.rtt.retransmits > cfg.syn_linear_timeouts {
            self.rtt.rto = (self.rtt.rto * 2).min(cfg.rto_max);
        }
        let (l, r, n, rto) = (self.local, self.remote, self.rtt.retransmits, self.rtt.rto);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 6298 §5.4", || {
            format!("{l} {r}: RTO: retransmission #{n}, RTO backed off to {} ms", rto.as_millis())
        });
        self.tcp_probe_event(cx, super::ProbeKind::Rto);
        match self.state {
            TcpState::SynSent | TcpState::SynReceived => {
                // RFC 6298 (5.7): the SYN/SYN-ACK is retransmitted; Karn: no sample from it.
                self.rtt.timed = None;
                self.total_retrans += 1;
                cx.stats.inc(crate::stats::Counter::TcpRetransmits);
                self.send_syn(cx, cfg);
            }
            _ => {
                // RFC 5681 §3.1 (4): on a timeout, ssthresh = max(FlightSize/2, 2·SMSS)
                // and cwnd = 1 segment (the loss window); RFC 6582 §4: recover = highest sent.
                let mss = self.snd.mss;
                if self.rtt.retransmits == 1 {
                    self.undo_mark(cx.now, true);
                    self.cong.ssthresh = self.cong_ssthresh(cx);
                }
                self.cong.cwnd = mss;
                // The algorithm's own reaction to a timeout (cong.rs; RFC 9438 §4.8).
                self.cong_on_rto(cx);
                self.cong.in_recovery = false;
                self.cong.dupacks = 0;
                self.cong.recover = self.snd.max;
                self.sack.high_rxt = self.snd.una;
                if self.rack_active(cfg) {
                    // Linux `tcp_enter_loss`: all not SACKed is lost (rack.rs).
                    self.rack_enter_loss();
                }
                cx.stats.inc(crate::stats::Counter::TcpRtoRecovery);
                // Go back N (skipping what the peer SACKed, RFC 6675 §5.1): resend from SND.UNA as ACKs return.
                self.snd.nxt = self.snd.una;
                self.retransmit_head(cx, cfg, "RFC 6298 §5.4");
            }
        }
        if !self.timers.is_set(TimerKind::Retransmit) {
            let rto = self.rtt.rto;
            self.timer_set(cx, TimerKind::Retransmit, rto);
        }
    }

    /// Linux `retransmits_timed_out`: R2 of RFC 1122 §4.2.3.5 as a time,
    /// not a count. `boundary` retransmissions with the RTO doubling from
    /// `rto_min` (capped at `rto_max`) take `tcp_model_timeout`; once that
    /// long has passed since the first retransmission, give up. A short RTO
    /// thus gets more tries than `boundary`, a long one fewer.
    fn retransmits_timed_out(&self, now: crate::time::Instant, cfg: &TcpConfig, boundary: u32) -> bool {
        let Some(start) = self.rtt.retrans_stamp else { return false };
        if self.rtt.retransmits == 0 {
            return false;
        }
        now.saturating_since(start) >= tcp_model_timeout(cfg, boundary)
    }

    /// RFC 8985 §7.2 (Linux `tcp_schedule_loss_probe`): after new data goes
    /// out or new data is acknowledged (`advancing`), outside recovery and
    /// with SACK, run the retransmission timer as a probe timeout. A tail
    /// lost with no ACK to follow it is then found in a few RTTs by SACK
    /// rather than after a timeout.
    ///
    /// With RACK (`recovery_rack`, Linux's default) it is Linux's: only in
    /// the Open state (nothing SACKed, no recovery, no timeout), one probe
    /// per episode (`tlp_high_seq`); PTO = 2·SRTT plus `tcp_rto_min` when
    /// one segment is in flight (the peer's delayed ACK) or plus 2 ms
    /// (`TCP_TIMEOUT_MIN`) otherwise, and no later than the RTO would fire
    /// (then the probe goes in the RTO's place). With RACK off, the RFC's
    /// looser rule below.
    pub fn schedule_loss_probe(&mut self, cx: &mut Cx, cfg: &TcpConfig, advancing: bool) {
        let open_state = matches!(self.state, TcpState::Established | TcpState::CloseWait);
        if self.rack_active(cfg) {
            let states = open_state || matches!(self.state, TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck);
            let eligible = cfg.tlp
                && states
                && !self.cong.in_recovery
                && self.rtt.retransmits == 0
                && self.sack.sacked.is_empty()
                && self.rack.tlp_high_seq.is_none()
                && !self.rack.reo_armed
                && self.snd.una != self.snd.max
                && self.snd.una.after_eq(self.cong.recover);
            if !eligible {
                return;
            }
            let mss = self.snd.mss.max(1);
            let pto = if self.rtt.srtt_us > 0 {
                let extra =
                    if self.flight_size().div_ceil(mss) <= 1 { cfg.rto_min } else { super::rack::TCP_TIMEOUT_MIN };
                Duration::from_micros(2 * self.rtt.srtt_us) + extra
            } else {
                cfg.rto_initial
            };
            // "If the RTO formula yields an earlier time, then use that time."
            let rto_at = if advancing { cx.now + self.rtt.rto } else { self.rack_rto_at(cx.now) };
            let at = (cx.now + pto).min(rto_at);
            self.timers.set(TimerKind::Retransmit, at);
            self.tlp_armed = true;
            return;
        }
        // RFC 8985 §7.2: not in fast recovery or RTO recovery (a hole SACKs
        // have shown but not yet deemed lost does not stop it). Linux asks
        // for more, the Open state: nothing SACKed at all. Measured on the
        // issue's lossy link (tcp_sim `issue_link_eight_seeds`) the RFC's
        // rule moves 2 MB in 27.3 s, Linux's in 29.5 s: without RACK our
        // probes are what finds a tail lost behind SACKed data.
        let eligible = cfg.tlp
            && self.sack.ok
            && !self.cong.in_recovery
            && self.rtt.retransmits == 0
            && !self.tlp_out
            && self.rtt.srtt_us > 0
            && self.snd.una != self.snd.max
            && open_state;
        if !eligible {
            return;
        }
        let mut pto = Duration::from_micros(2 * self.rtt.srtt_us).max(Duration::from_millis(10));
        if self.flight_size() <= self.snd.mss {
            pto += WC_DEL_ACK_T;
        }
        let at = cx.now + pto;
        let rto_at = self.timers.get(TimerKind::Retransmit).unwrap_or(cx.now + self.rtt.rto);
        if at < rto_at {
            self.timers.set(TimerKind::Retransmit, at);
            self.tlp_armed = true;
        }
    }

    /// RFC 8985 §7.3 (Linux `tcp_send_loss_probe`): the PTO fired. Send one
    /// new segment if the peer's window takes it (cwnd or not), else the
    /// last segment again; its ACK carries SACK news that starts recovery.
    /// Then the RTO takes over.
    fn tcp_send_loss_probe(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        if self.snd.una == self.snd.max || !self.state.is_synchronized() {
            return;
        }
        if self.rack_active(cfg) {
            return self.tcp_send_loss_probe_rack(cx, cfg);
        }
        self.tlp_out = true;
        cx.stats.inc(crate::stats::Counter::TcpLossProbes);
        let (l, r, flight) = (self.local, self.remote, self.flight_size());
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 8985 §7.3", || {
            format!("{l} {r}: probe timeout with {flight} bytes unacknowledged: tail loss probe")
        });
        let rwnd_room = (self.snd.una + self.snd.wnd).since(self.snd.nxt);
        let unsent = self.snd_end().since(self.snd.nxt);
        if unsent > 0 && rwnd_room > 0 && self.snd.nxt == self.snd.max {
            let len = unsent.min(rwnd_room).min(self.mss_now());
            let seq = self.snd.nxt;
            let fin = self.fin_queued && len == unsent && rwnd_room > len;
            self.xmit_probe_data(cx, cfg, seq, len, fin);
        } else {
            // The last segment again (with our FIN if it was sent).
            let data_end = self.snd_end();
            // (SND.UNA past the data: only the FIN is out, and goes alone.)
            let start = (data_end - self.mss_now()).max_seq(self.snd.una);
            self.retransmit_range(cx, cfg, start, self.snd.max, "RFC 8985 §7.3");
        }
        let rto = self.rtt.rto;
        self.timers.set(TimerKind::Retransmit, cx.now + rto);
    }

    /// Linux `tcp_send_loss_probe`, with RACK: at most one probe
    /// outstanding (`tlp_high_seq`); new data if the peer's window takes
    /// its first segment (`tcp_snd_wnd_test`), sent whatever cwnd says;
    /// else the last MSS of the last packet sent (`tcp_fragment` of the
    /// last skb to its last segment). `tlp_high_seq` = SND.NXT after it.
    fn tcp_send_loss_probe_rack(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        let (l, r, flight) = (self.local, self.remote, self.flight_size());
        let now = cx.now;
        if self.rack.tlp_high_seq.is_some() {
            // "At most one outstanding TLP": the RTO, from the head's last transmission.
            let at = self.rack_rto_at(cx.now);
            self.timers.set(TimerKind::Retransmit, at);
            return;
        }
        let mss = self.mss_now();
        let rwnd_room = (self.snd.una + self.snd.wnd).since(self.snd.nxt);
        let unsent = self.snd_end().since(self.snd.nxt);
        let fin_unsent = self.fin_queued && !self.fin_sent();
        let sent_new = if (unsent > 0 || fin_unsent) && self.snd.nxt == self.snd.max && rwnd_room >= unsent.min(mss) {
            let len = unsent.min(mss);
            let seq = self.snd.nxt;
            let fin = fin_unsent && len == unsent && rwnd_room > len;
            self.xmit_probe_data(cx, cfg, seq, len, fin);
            true
        } else {
            // The last packet's last segment (Linux fragments a TSO skb of
            // n segments at (n - 1)·MSS: what is left past it goes).
            let data_end = self.snd_end();
            let last = self.rack.txq.back().copied();
            let start = match last {
                Some(e) if e.start.before(data_end) => {
                    let len = e.end.min_seq(data_end).since(e.start);
                    let tail = (len - 1) % self.snd.mss.max(1) + 1;
                    data_end - tail
                }
                // Only the FIN is out: it goes alone.
                _ => data_end.max_seq(self.snd.una),
            };
            let start = start.max_seq(self.snd.una);
            self.retransmit_range(cx, cfg, start, self.snd.max, "RFC 8985 §7.3");
            false
        };
        self.rack.tlp_retrans = !sent_new;
        self.rack.tlp_high_seq = Some(self.snd.max);
        cx.stats.inc(crate::stats::Counter::TcpLossProbes);
        let high = self.snd.max;
        cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 8985 §7.3", || {
            format!(
                "{l} {r}: probe timeout with {flight} bytes unacknowledged: tail loss probe of {}, tlp_high_seq {high}",
                if sent_new { "new data" } else { "the last segment" }
            )
        });
        let rto = self.rtt.rto;
        self.timers.set(TimerKind::Retransmit, cx.now + rto);
        self.tlp_armed = false;
    }

    /// `tcp_probe_timer`: RFC 9293 §3.8.6.1, the peer's window is zero and
    /// nothing is in flight. Send what the window allows now, or a probe.
    fn persist_timer(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        if !self.state.is_synchronized() || self.unsent() == 0 || self.snd.una != self.snd.max {
            self.persist_backoff = 0;
            return;
        }
        let usable = (self.snd.una + self.snd.wnd.min(self.cong.cwnd)).since(self.snd.nxt);
        if usable > 0 {
            // The window is open but SWS avoidance (or MSG_MORE) held a
            // runt: the override timeout. Linux `tcp_write_wakeup` sends it
            // with PSH.
            if self.unsent() <= usable {
                self.mark_push();
            }
            self.tcp_write_xmit(cx, cfg, true);
            return;
        }
        // Probes the peer answers keep the connection alive however long its
        // window stays shut; only silence counts toward giving up (as Linux).
        if self.probes_out >= cfg.retries2 {
            self.give_up(cx, "unanswered window probes");
            return;
        }
        self.probes_out += 1;
        self.persist_backoff += 1;
        let (l, r, n) = (self.local, self.remote, self.persist_backoff);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpWindow, "RFC 9293 §3.8.6.1", || format!("{l} {r}: zero window: probe #{n}"));
        self.send_probe(cx, cfg);
        let t = self.persist_interval(cfg);
        self.timer_set(cx, TimerKind::Persist, t);
    }

    /// `tcp_keepalive_timer`: RFC 1122 §4.2.3.6.
    fn keepalive_timer(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        if !self.opt.keepalive || !matches!(self.state, TcpState::Established | TcpState::CloseWait) {
            return;
        }
        // This socket's times (TCP_KEEPIDLE, …) or the stack's (keepalive.rs).
        let (time, intvl) = (self.keepalive_time_when(cfg), self.keepalive_intvl_when(cfg));
        let idle = cx.now.saturating_since(self.last_rcv);
        if idle < time {
            self.timer_set(cx, TimerKind::Keepalive, time - idle);
            return;
        }
        // Linux counts the probes sent without an answer (`icsk_probes_out`,
        // which any ACK resets), so a changed TCP_KEEPINTVL changes no count.
        if self.probes_out >= self.keepalive_probes_when(cfg) {
            // Linux `tcp_keepalive_timer`: tell the peer, should it still
            // be there (`tcp_send_active_reset`), then ETIMEDOUT.
            self.send_active_reset(cx, cfg);
            self.give_up(cx, "unanswered keepalives");
            return;
        }
        let (l, r) = (self.local, self.remote);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpTimer, "RFC 1122 §4.2.3.6", || format!("{l} {r}: keepalive probe"));
        self.send_probe(cx, cfg);
        self.probes_out += 1;
        self.timer_set(cx, TimerKind::Keepalive, intvl);
    }
}

/// Arming and stopping timers, and the timers a state brings.
impl TcpSock {
    /// Set a timer and trace it.
    pub fn timer_set(&mut self, cx: &mut Cx, kind: TimerKind, after: crate::time::Duration) {
        let at = cx.now + after;
        self.timers.set(kind, at);
        let (l, r) = (self.local, self.remote);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpTimer, kind.rfc_set(), || {
            format!("{l} {r}: {} timer set for {} ms", kind.name(), after.as_millis())
        });
    }

    /// Stop a timer; traced if it was running (`why`: the clause and the reason).
    pub fn timer_cancel(&mut self, cx: &mut Cx, kind: TimerKind, rfc: &'static str, why: &'static str) {
        if !self.timers.is_set(kind) {
            return;
        }
        self.timers.clear(kind);
        let (l, r) = (self.local, self.remote);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpTimer, rfc, || format!("{l} {r}: {} timer cancelled: {why}", kind.name()));
    }

    /// TIME_WAIT for 2 × MSL (RFC 9293 §3.6.1), (re)started.
    pub fn enter_time_wait(&mut self, cx: &mut Cx, cfg: &TcpConfig, rfc: &'static str) {
        self.set_state(cx, TcpState::TimeWait, rfc);
        self.timers.clear_all();
        self.q.snd_buf = Default::default();
        self.timer_set(cx, TimerKind::TimeWait, cfg.msl * 2);
    }

    /// Arm keepalive on a newly established connection if SO_KEEPALIVE is on.
    pub fn start_keepalive(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        if self.opt.keepalive {
            let t = self.keepalive_time_when(cfg);
            self.timer_set(cx, TimerKind::Keepalive, t);
        }
    }

    /// Start the retransmission timer if it is not running (RFC 6298 (5.1)).
    pub fn arm_rto_if_idle(&mut self, cx: &mut Cx) {
        if !self.timers.is_set(TimerKind::Retransmit) {
            let rto = self.rtt.rto;
            self.timer_set(cx, TimerKind::Retransmit, rto);
        }
    }

    /// The persist interval: the RTO, backed off per probe, capped.
    pub fn persist_interval(&self, cfg: &TcpConfig) -> crate::time::Duration {
        let base = self.rtt.compute_rto(cfg).max(cfg.rto_min);
        base.saturating_mul(1u32 << self.persist_backoff.min(16)).min(cfg.rto_max)
    }
}
