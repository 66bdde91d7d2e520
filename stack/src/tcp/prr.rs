//! Proportional Rate Reduction (RFC 6937): how cwnd comes down during
//! recovery. Linux: net/ipv4/tcp_input.c `tcp_init_cwnd_reduction`,
//! `tcp_cwnd_reduction`, `tcp_end_cwnd_reduction`.
//!
//! **Why.** RFC 5681/6675 set cwnd = ssthresh the moment recovery starts.
//! With a window of losses and SACKs in flight, `pipe` is then often far
//! above ssthresh, and nothing may be sent for half a round trip; then
//! everything at once. Or, when many segments are lost, pipe falls far
//! below ssthresh and the sender bursts. PRR spreads the reduction over the
//! round trip of recovery: for each segment the receiver reports delivered
//! (`prr_delivered`), send ssthresh/prior_cwnd of a segment (with CUBIC,
//! 0.7), so that when recovery ends the segments in flight are ssthresh.
//!
//! **The rules** (RFC 6937 §3, in segments as Linux counts them):
//!
//! ```text
//! on recovery start:  prior_cwnd = cwnd; ssthresh = CongCtrlAlg();
//!                     prr_delivered = prr_out = 0
//! on every ACK:       prr_delivered += DeliveredData
//!   if pipe > ssthresh:                       (proportional rate reduction)
//!       sndcnt = CEIL(prr_delivered * ssthresh / prior_cwnd) - prr_out
//!   else:                                     (slow start reduction bound, SSRB)
//!       sndcnt = MIN(ssthresh - pipe, MAX(prr_delivered - prr_out, DeliveredData) + 1)
//!   cwnd = pipe + sndcnt
//! on each transmission: prr_out += segments sent
//! on recovery end:    cwnd = ssthresh
//! ```
//!
//! Linux adds the "+ 1" of SSRB only when the ACK advanced SND.UNA and
//! found no new loss (RFC 6937's "conservative" choice otherwise), and
//! forces one segment out on the first ACK of recovery (the fast
//! retransmit) even when sndcnt would be zero. synack does the same.
//! PRR runs with RACK (`TcpConfig::recovery_rack`); with it off synack
//! keeps its RFC 6675 behaviour (cwnd = ssthresh at once).

use super::sock::TcpSock;
use crate::cx::Cx;
use crate::stats::Counter;
use crate::time::Duration;
use crate::trace::EventKind;

impl TcpSock {
    /// `tcp_init_cwnd_reduction`: recovery (or a TLP-detected loss)
    /// begins. The congestion control algorithm picks ssthresh (cong.rs);
    /// cwnd itself is left to `tcp_cwnd_reduction`.
    pub fn tcp_init_cwnd_reduction(&mut self, cx: &mut Cx) {
        self.rack.tlp_high_seq = None;
        self.rack.prior_cwnd = self.cong.cwnd;
        self.rack.prr_delivered = 0;
        self.rack.prr_out = 0;
        self.rack.prr_traced = None;
        self.cong.ssthresh = self.cong_ssthresh(cx);
    }

    /// `tcp_cwnd_reduction`: RFC 6937 §3 on one ACK that reported
    /// `newly_acked_sacked` segments delivered and `newly_lost` deemed lost.
    pub fn tcp_cwnd_reduction(
        &mut self,
        cx: &mut Cx,
        newly_acked_sacked: usize,
        newly_lost: usize,
        una_advanced: bool,
    ) {
        let mss = self.snd.mss.max(1);
        if newly_acked_sacked == 0 || self.rack.prior_cwnd == 0 {
            return;
        }
        let ssthresh = (self.cong.ssthresh / mss) as i64;
        let prior_cwnd = (self.rack.prior_cwnd / mss).max(1) as i64;
        let in_flight = self.rack_pipe().div_ceil(mss) as i64;
        self.rack.prr_delivered += newly_acked_sacked;
        let (delivered, out) = (self.rack.prr_delivered as i64, self.rack.prr_out as i64);
        let delta = ssthresh - in_flight;
        let ssrb = delta >= 0;
        let mut sndcnt = if !ssrb {
            // "pipe > ssthresh": proportional, CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
            (ssthresh * delivered + prior_cwnd - 1) / prior_cwnd - out
        } else {
            // Slow start reduction bound: no faster than slow start would
            // grow, and never above ssthresh.
            let mut n = (delivered - out).max(newly_acked_sacked as i64);
            if una_advanced && newly_lost == 0 {
                n += 1;
            }
            n.min(delta)
        };
        // "Force a fast retransmit upon entering fast recovery."
        sndcnt = sndcnt.max(if out == 0 { 1 } else { 0 });
        let old = self.cong.cwnd;
        self.cong.cwnd = ((in_flight + sndcnt.max(0)) as usize * mss).max(mss);
        cx.stats.inc(if ssrb { Counter::TcpPrrSsrb } else { Counter::TcpPrrProportional });
        // One trace line per round trip, and always the first.
        let now = cx.now;
        let rtt = Duration::from_micros(self.rtt.srtt_us.max(1));
        if self.rack.prr_traced.is_none_or(|t| now.saturating_since(t) >= rtt) {
            self.rack.prr_traced = Some(now);
            let (l, r, cwnd) = (self.local, self.remote, self.cong.cwnd);
            cx.trace.emit(now, EventKind::TcpWindow, if ssrb { "RFC 6937 §3 (SSRB)" } else { "RFC 6937 §3 (PRR)" }, || {
                format!(
                    "{l} {r}: PRR: delivered {delivered}, out {out}, pipe {in_flight}, ssthresh {ssthresh}, prior_cwnd {prior_cwnd} segs: \
                     sndcnt {sndcnt}, cwnd {old} -> {cwnd}{}",
                    if ssrb { " (slow start reduction bound)" } else { "" }
                )
            });
        }
    }

    /// `tcp_end_cwnd_reduction`: recovery over, cwnd = ssthresh (Linux, not
    /// RFC 6937's "cwnd = ssthresh" only if pipe is below it).
    pub fn tcp_end_cwnd_reduction(&mut self, _cx: &mut Cx) {
        if self.cong.ssthresh < usize::MAX / 2 {
            self.cong.cwnd = self.cong.ssthresh.max(self.snd.mss);
        }
    }

    /// A segment sent during the reduction counts in `prr_out`.
    pub fn prr_on_xmit(&mut self, len: usize) {
        self.rack.prr_out += len.div_ceil(self.snd.mss.max(1)).max(1);
    }
}
