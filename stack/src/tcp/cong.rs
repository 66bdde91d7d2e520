//! Congestion control: how a connection grows its congestion window as
//! ACKs arrive and how far it cuts it when a loss is detected (Linux
//! `struct tcp_congestion_ops`: `cong_avoid`, `ssthresh`, `set_state`;
//! net/ipv4/tcp_cong.c for Reno, net/ipv4/tcp_cubic.c for CUBIC).
//!
//! Read first: RFC 5681 §3.1 (slow start, congestion avoidance, the
//! ssthresh after a loss), RFC 3465 (byte counting), RFC 9438 (CUBIC:
//! §4.1-§4.8 are the algorithm, one clause per region of the curve).
//!
//! Loss *detection* and *recovery* (which segment to resend, when recovery
//! ends) live in input.rs and output.rs; this file only answers three
//! questions, one per hook, whichever algorithm the socket uses:
//! - `cong_avoid`: new data was acknowledged outside recovery; grow cwnd.
//! - `cong_ssthresh`: a loss was detected; what is the new ssthresh?
//! - `cong_on_rto`: the retransmission timer fired (Linux's `set_state`
//!   to `TCP_CA_Loss`): CUBIC forgets its W_max (RFC 9438 §4.8).
//!
//! Both algorithms share slow start (RFC 5681 (2) with RFC 3465's byte
//! counting, without its limit L, as Linux's `tcp_slow_start`);
//! Linux's CUBIC adds HyStart, which synack does not have.
//!
//! Both grow cwnd only while cwnd is what limits the sender (Linux
//! `tcp_is_cwnd_limited`, kept up to date by `tcp_cwnd_validate` each time
//! new data goes out): an application that keeps fewer segments in flight
//! than cwnd allows teaches nothing about the path, and a cwnd grown on
//! its ACKs would be unvalidated. RFC 7661 (new CWV) addresses the same
//! problem differently; synack follows Linux's rule.
//!
//! The CUBIC algorithm itself (its curve, `Bictcp`, the state a socket
//! keeps, `CongState`) is in cubic.rs; here are the hooks that apply it
//! (or Reno) to the TCB.

use super::cubic::CongState;
use super::sock::TcpSock;
use super::TcpConfig;
use crate::cx::Cx;
use crate::socket::CongAlgo;
use crate::trace::EventKind;

impl TcpSock {
    /// `TCP_CONGESTION` (Linux `tcp_set_congestion_control` →
    /// `tcp_reinit_congestion_control`): the new algorithm starts from
    /// fresh state; cwnd and ssthresh stay as they are, so a live
    /// connection carries on from its current window.
    pub fn set_congestion(&mut self, algo: CongAlgo) {
        self.cong.cc = CongState::new(algo);
    }

    /// `tcp_cong_avoid`: `acked` bytes of new data acknowledged at `cx.now`,
    /// not in recovery. Slow start below ssthresh, else the algorithm's
    /// congestion avoidance.
    pub fn cong_avoid(&mut self, cx: &mut Cx, acked: usize) {
        // Reno's and CUBIC's `cong_avoid` both begin so: no growth unless
        // cwnd limited the sender in this window.
        if !self.tcp_is_cwnd_limited() {
            return;
        }
        let mss = self.snd.mss;
        if self.cong.cwnd < self.cong.ssthresh {
            // Slow start as Linux's `tcp_slow_start`: every byte an ACK
            // covers (RFC 3465 without its limit L), up to ssthresh.
            self.cong.cwnd = (self.cong.cwnd + acked).min(self.cong.ssthresh.max(self.cong.cwnd));
        } else {
            match self.cong.cc.algo {
                CongAlgo::Reno => {
                    // Congestion avoidance: one MSS per cwnd of data acknowledged.
                    self.cong.cc.bytes_acked += acked;
                    if self.cong.cc.bytes_acked >= self.cong.cwnd {
                        self.cong.cc.bytes_acked -= self.cong.cwnd;
                        self.cong.cwnd += mss;
                    }
                }
                CongAlgo::Cubic => self.bictcp_cong_avoid(cx, acked),
            }
        }
        self.cong.cwnd = self.cong.cwnd.min(1 << 30);
    }

    /// Linux `tcp_is_cwnd_limited`: may cwnd grow? Yes if cwnd was full
    /// when data went out in this window (`tcp_cwnd_validate`); in slow
    /// start also while cwnd is below twice the most segments in flight,
    /// so that cwnd can double what the last window ACKed.
    pub(super) fn tcp_is_cwnd_limited(&self) -> bool {
        if self.cong.is_cwnd_limited {
            return true;
        }
        // `tcp_in_slow_start`. In segments, cwnd < 2 · max_packets_out.
        self.cong.cwnd < self.cong.ssthresh && self.cong.cwnd < 2 * self.cong.max_packets_out as usize * self.snd.mss
    }

    /// Linux `tcp_cwnd_validate`, after `tcp_write_xmit` sent new data:
    /// `is_cwnd_limited` says cwnd stopped it (segments in flight reached
    /// cwnd). Per window (until SND.UNA passes `cwnd_usage_seq`) it keeps
    /// the strongest sign of cwnd in use: cwnd-limited once is
    /// cwnd-limited for the window; otherwise the most segments in flight.
    /// (Its RFC 2861 part, `tcp_cwnd_application_limited`, synack does not
    /// have.) The trace says when the answer of `tcp_is_cwnd_limited` changes.
    pub(super) fn tcp_cwnd_validate(&mut self, cx: &mut Cx, is_cwnd_limited: bool) {
        // Linux `packets_out`: segments sent and not cumulatively ACKed.
        let packets_out = u32::try_from(self.flight_size().div_ceil(self.snd.mss.max(1))).unwrap_or(u32::MAX);
        let c = &mut self.cong;
        if !self.snd.una.before(c.cwnd_usage_seq)
            || is_cwnd_limited
            || (!c.is_cwnd_limited && packets_out > c.max_packets_out)
        {
            c.is_cwnd_limited = is_cwnd_limited;
            c.max_packets_out = packets_out;
            c.cwnd_usage_seq = self.snd.max;
        }
        // Said when it changes (a fresh connection counts as cwnd-limited).
        let now = self.tcp_is_cwnd_limited();
        if now != self.cong.cwnd_limited_traced {
            self.cong.cwnd_limited_traced = now;
            let (l, r, cwnd, mss) = (self.local, self.remote, self.cong.cwnd, self.snd.mss.max(1));
            let max = self.cong.max_packets_out;
            cx.trace.emit(cx.now, EventKind::TcpWindow, "RFC 7661", || {
                if now {
                    format!(
                        "{l} {r}: cwnd-limited ({packets_out} segments in flight, cwnd {}): ACKs may grow cwnd",
                        cwnd / mss
                    )
                } else {
                    format!(
                        "{l} {r}: application-limited (at most {max} segments in flight, cwnd {}): cwnd does not grow",
                        cwnd / mss
                    )
                }
            });
        }
    }

    /// CUBIC's congestion avoidance (Linux `cubictcp_cong_avoid`,
    /// `bictcp_update`), RFC 9438 §4.2-§4.5.
    fn bictcp_cong_avoid(&mut self, cx: &mut Cx, acked: usize) {
        let mss = self.snd.mss as f64;
        let cwnd = self.cong.cwnd as f64 / mss;
        let now = cx.now;
        if self.cong.cc.cubic.epoch_start.is_none() {
            self.cong.cc.cubic.start_epoch(now, cwnd);
            let ca = &self.cong.cc.cubic;
            let (l, r, w_max, k) = (self.local, self.remote, ca.bic_origin_point, ca.bic_k);
            cx.trace.emit(now, EventKind::TcpWindow, "RFC 9438 §4.2", || {
                format!(
                    "{l} {r}: cubic: congestion avoidance from cwnd_epoch {cwnd:.1} segments: \
                     W_max {w_max:.1}, K {k:.3} s"
                )
            });
        }
        let ca = &mut self.cong.cc.cubic;
        let t = now.saturating_since(ca.epoch_start.unwrap_or(now)).as_secs_f64();
        let rtt = self.rtt.srtt_us as f64 / 1e6;
        let (next, _) = ca.update(cwnd, acked as f64 / mss, t, rtt);
        // Back to bytes, keeping the fraction for the next ACK; never lower
        // than it was (W_est and the target are at least cwnd).
        let bytes = next * mss + ca.carry;
        let whole = bytes.floor();
        ca.carry = bytes - whole;
        self.cong.cwnd = self.cong.cwnd.max(whole as usize);
    }

    /// `ssthresh` hook: a loss was detected at `cx.now` (three duplicate
    /// ACKs, SACK, or a timeout). Returns the new slow-start threshold.
    pub fn cong_ssthresh(&mut self, cx: &mut Cx) -> usize {
        let mss = self.snd.mss;
        self.cong.cc.bytes_acked = 0;
        match self.cong.cc.algo {
            // RFC 5681 (4): ssthresh = max(FlightSize / 2, 2·SMSS).
            CongAlgo::Reno => (self.flight_size() / 2).max(2 * mss),
            CongAlgo::Cubic => {
                // RFC 9438 §4.6: ssthresh = max(cwnd · β_cubic, 2·SMSS); β = 0.7
                // exactly in integers (Linux: cwnd · 717/1024). The RFC writes
                // flight_size and allows cwnd, as Linux uses, given that
                // cwnd grows only when cwnd-limited (`tcp_is_cwnd_limited`).
                let cwnd = self.cong.cwnd;
                let ssthresh = (cwnd * 7 / 10).max(2 * mss);
                let before = self.cong.cc.cubic.last_max_cwnd;
                let fast = self.cong.cc.cubic.on_loss(cwnd as f64 / mss as f64);
                let w_max = self.cong.cc.cubic.last_max_cwnd;
                let (l, r) = (self.local, self.remote);
                let rfc = if fast { "RFC 9438 §4.7" } else { "RFC 9438 §4.6" };
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpWindow, rfc, || {
                    let why = if fast {
                        format!(" (fast convergence: below the last W_max {before:.1}, so × (1+β)/2)")
                    } else {
                        String::new()
                    };
                    format!("{l} {r}: cubic: loss at cwnd {cwnd}: W_max {w_max:.1} segments{why}, ssthresh {ssthresh} = 0.7 × cwnd")
                });
                ssthresh
            }
        }
    }

    /// RFC 5681 §4.1 (Linux `tcp_cwnd_restart`): new data after an idle
    /// period longer than the RTO restarts from the initial window, or
    /// rather (as Linux does, after RFC 2861) halves cwnd once per RTO of
    /// idleness, down to the initial window at most; ssthresh keeps 3/4 of
    /// the old cwnd (`tcp_current_ssthresh`).
    pub fn cwnd_restart(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        let idle = cx.now.saturating_since(self.lsndtime);
        let rto = self.rtt.rto;
        if idle <= rto || rto.is_zero() {
            return;
        }
        let mss = self.snd.mss;
        let restart = cfg.init_cwnd_segs * mss;
        let before = self.cong.cwnd;
        if !self.cong.in_recovery && self.cong.ssthresh < usize::MAX / 2 {
            self.cong.ssthresh = self.cong.ssthresh.max(before / 2 + before / 4);
        }
        let mut cwnd = before;
        let mut left = idle.saturating_sub(rto);
        while !left.is_zero() && cwnd > restart {
            cwnd /= 2;
            left = left.saturating_sub(rto);
        }
        self.cong.cwnd = cwnd.max(restart).min(before.max(restart));
        let (l, r, after) = (self.local, self.remote, self.cong.cwnd);
        cx.trace.emit(cx.now, EventKind::TcpWindow, "RFC 5681 §4.1", || {
            format!("{l} {r}: idle {} ms > RTO {} ms: cwnd {before} -> {after}", idle.as_millis(), rto.as_millis())
        });
    }

    /// The retransmission timer fired on data (Linux `tcp_enter_loss` →
    /// `set_state(TCP_CA_Loss)`); the caller has set ssthresh (on the first
    /// timeout) and cwnd = 1 segment, as RFC 5681 §3.1 says for both.
    pub fn cong_on_rto(&mut self, cx: &mut Cx) {
        self.cong.cc.bytes_acked = 0;
        let ca = &self.cong.cc.cubic;
        // Said once: a backed-off timeout finds nothing left to forget.
        if self.cong.cc.algo == CongAlgo::Cubic && (ca.last_max_cwnd > 0.0 || ca.epoch_start.is_some()) {
            self.cong.cc.cubic.on_rto();
            let (l, r) = (self.local, self.remote);
            let now = cx.now;
            cx.trace.emit(now, EventKind::TcpWindow, "RFC 9438 §4.8", || {
                format!("{l} {r}: cubic: timeout: W_max forgotten, the next epoch starts with K = 0")
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cx::L4Xmit;
    use crate::stats::Stats;
    use crate::tcp::cubic::*;
    use crate::tcp::TcpConfig;
    use crate::time::Instant;
    use crate::trace::Trace;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::VecDeque;

    const MSS: usize = 1000;

    /// One TCB in congestion avoidance, with what a hook call needs.
    struct Fix {
        sk: TcpSock,
        now: Instant,
        stats: Stats,
        trace: Trace,
        probe: crate::tcp::ProbeQueue,
        rng: StdRng,
        out: VecDeque<L4Xmit>,
    }

    impl Fix {
        /// `algo` at `cwnd_segs` segments of 1000 bytes, ssthresh there too
        /// (so in congestion avoidance), a full window in flight.
        fn new(algo: CongAlgo, cwnd_segs: usize) -> Fix {
            let mut sk = TcpSock::new(&TcpConfig::default());
            sk.set_congestion(algo);
            sk.snd.mss = MSS;
            sk.cong.cwnd = cwnd_segs * MSS;
            sk.cong.ssthresh = sk.cong.cwnd;
            sk.rtt.srtt_us = 100_000;
            let mut trace = Trace::default();
            trace.set_enabled(true);
            let mut f = Fix {
                sk,
                now: Instant::from_secs(100),
                stats: Stats::default(),
                trace,
                probe: Default::default(),
                rng: StdRng::seed_from_u64(1),
                out: VecDeque::new(),
            };
            f.fill();
            f
        }
        fn cx(&mut self) -> (&mut TcpSock, Cx<'_>) {
            let cx = Cx {
                now: self.now,
                stats: &mut self.stats,
                trace: &mut self.trace,
                probe: &mut self.probe,
                rng: &mut self.rng,
                out: &mut self.out,
            };
            (&mut self.sk, cx)
        }
        /// A bulk sender: exactly a window in flight, so cwnd-limited
        /// (as `tcp_write_xmit` would find it).
        fn fill(&mut self) {
            self.sk.snd.max = self.sk.snd.una + self.sk.cong.cwnd;
            let (sk, mut cx) = self.cx();
            sk.tcp_cwnd_validate(&mut cx, true);
        }
        fn segs(&self) -> f64 {
            self.sk.cong.cwnd as f64 / MSS as f64
        }
        /// One ACK of `bytes`, window kept full.
        fn ack(&mut self, bytes: usize) {
            self.sk.snd.una += bytes;
            let (sk, mut cx) = self.cx();
            sk.cong_avoid(&mut cx, bytes);
            self.fill();
        }
        /// A loss (three duplicate ACKs) and recovery ending with cwnd = ssthresh.
        fn loss(&mut self) {
            let (sk, mut cx) = self.cx();
            sk.cong.ssthresh = sk.cong_ssthresh(&mut cx);
            sk.cong.cwnd = sk.cong.ssthresh;
            self.fill();
        }
        /// `secs` of bulk transfer, RTT `rtt` s: each RTT a window of
        /// one-segment ACKs, spread evenly over it.
        fn run(&mut self, secs: f64, rtt: f64) {
            self.sk.rtt.srtt_us = (rtt * 1e6) as u64;
            let end = self.now + crate::time::Duration::from_secs_f64(secs);
            while self.now < end {
                let n = (self.sk.cong.cwnd / MSS).max(1);
                let step = crate::time::Duration::from_micros((rtt * 1e6 / n as f64).ceil() as u64);
                for _ in 0..n {
                    self.now += step;
                    self.ack(MSS);
                }
            }
        }
        fn traced(&mut self, needle: &str) -> bool {
            let mut found = false;
            while let Some(e) = self.trace.pop() {
                found |= e.text.contains(needle);
            }
            found
        }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn k_is_the_time_back_to_w_max() {
        // RFC 9438 Figure 2 with C = 0.4 and β = 0.7: K = ∛(0.3·W_max / 0.4).
        assert!(close(cubic_k(100.0, 70.0), 75f64.cbrt(), 1e-12));
        assert!(close(cubic_k(100.0, 70.0), 4.2172, 1e-4));
        assert!(close(cubic_k(10.0, 7.0), 1.9574, 1e-4));
        assert!(close(cubic_k(1000.0, 700.0), 9.0856, 1e-4));
        assert_eq!(cubic_k(50.0, 60.0), 0.0, "no W_max above the epoch: K = 0");
        // The curve starts at cwnd_epoch and is at W_max at t = K.
        let k = cubic_k(100.0, 70.0);
        assert!(close(w_cubic(0.0, k, 100.0), 70.0, 1e-9));
        assert!(close(w_cubic(k, k, 100.0), 100.0, 1e-9));
        // Through the hooks: a loss at 100 segments, then the first ACK in
        // congestion avoidance starts the epoch at 70 with that K.
        let mut f = Fix::new(CongAlgo::Cubic, 100);
        f.loss();
        assert_eq!(f.sk.cong.ssthresh, 70 * MSS);
        f.ack(MSS);
        let ca = &f.sk.cong.cc.cubic;
        assert_eq!((ca.cwnd_epoch, ca.bic_origin_point, ca.last_max_cwnd), (70.0, 100.0, 100.0));
        assert!(close(ca.bic_k, 4.2172, 1e-4), "K {}", ca.bic_k);
        assert!(f.traced("cubic: congestion avoidance from cwnd_epoch 70.0 segments: W_max 100.0, K 4.217 s"));
    }

    #[test]
    fn ssthresh_is_0_7_cwnd_and_at_least_two_segments() {
        let mut f = Fix::new(CongAlgo::Cubic, 20);
        f.sk.snd.max = f.sk.snd.una + 10 * MSS; // half the window in flight: no matter
        let (sk, mut cx) = f.cx();
        assert_eq!(sk.cong_ssthresh(&mut cx), 14 * MSS);
        assert!(f.traced("cubic: loss at cwnd 20000: W_max 20.0 segments, ssthresh 14000 = 0.7 × cwnd"));
        f.sk.cong.cwnd = 14600;
        let (sk, mut cx) = f.cx();
        assert_eq!(sk.cong_ssthresh(&mut cx), 10220);
        f.sk.cong.cwnd = 2 * MSS;
        let (sk, mut cx) = f.cx();
        assert_eq!(sk.cong_ssthresh(&mut cx), 2 * MSS, "floor 2·SMSS");
        // Reno: half the flight size (RFC 5681 (4)), not 0.7 × cwnd.
        let mut f = Fix::new(CongAlgo::Reno, 20);
        f.sk.snd.max = f.sk.snd.una + 10 * MSS;
        let (sk, mut cx) = f.cx();
        assert_eq!(sk.cong_ssthresh(&mut cx), 5 * MSS);
    }

    #[test]
    fn the_curve_is_concave_below_w_max_and_convex_above() {
        // Loss at W_max = 100 segments, RTT 200 ms (long enough for the
        // Reno-friendly estimate to stay below the curve the whole time).
        let mut f = Fix::new(CongAlgo::Cubic, 100);
        f.loss();
        let k = cubic_k(100.0, 70.0);
        let start = f.now;
        let at = |f: &Fix| f.now.saturating_since(start).as_secs_f64();
        // Concave, 2 s in: W_cubic(2) = 0.4·(2 − 4.217)³ + 100 = 95.64.
        f.run(2.0, 0.2);
        let (t, w) = (at(&f), f.segs());
        assert!(close(w, w_cubic(t, k, 100.0), 0.5), "t {t:.3}: cwnd {w:.2}, curve {:.2}", w_cubic(t, k, 100.0));
        assert!((95.0..=96.2).contains(&w), "{w}");
        assert_eq!(f.sk.cong.cc.cubic.region, Some(CubicRegion::Concave));
        // Reno would have 70 + 10 RTTs = 80 here.
        // Around K the window rests near W_max: from 4 s to 4.6 s it barely moves.
        f.run(2.0, 0.2);
        let w4 = f.segs();
        f.run(0.6, 0.2);
        assert!(f.segs() - w4 < 1.0, "plateau: {w4:.2} -> {:.2}", f.segs());
        assert!(close(f.segs(), 100.0, 1.0), "{}", f.segs());
        // Convex, 8 s in: W_cubic(8) = 0.4·(8 − 4.217)³ + 100 = 121.66.
        f.run(8.0 - at(&f), 0.2);
        let (t, w) = (at(&f), f.segs());
        assert!(close(w, w_cubic(t, k, 100.0), 0.5), "t {t:.3}: cwnd {w:.2}, curve {:.2}", w_cubic(t, k, 100.0));
        assert!((121.0..=122.5).contains(&w), "{w}");
        assert_eq!(f.sk.cong.cc.cubic.region, Some(CubicRegion::Convex));
        assert!(f.sk.cong.cc.cubic.w_est < w, "W_est {} stays below", f.sk.cong.cc.cubic.w_est);
    }

    #[test]
    fn reno_friendly_region_takes_over_at_small_windows_and_short_rtt() {
        // W_max = 10 segments and a 10 ms RTT: K = 1.96 s, an age in RTTs;
        // Reno would be at ~100 segments after 1 s while the curve is at 10.
        let mut f = Fix::new(CongAlgo::Cubic, 10);
        let mut reno = Fix::new(CongAlgo::Reno, 10);
        f.loss();
        reno.loss();
        assert_eq!((f.sk.cong.cwnd, reno.sk.cong.cwnd), (7 * MSS, 5 * MSS));
        f.run(1.0, 0.01);
        reno.run(1.0, 0.01);
        let ca = &f.sk.cong.cc.cubic;
        assert_eq!(ca.region, Some(CubicRegion::RenoFriendly));
        let curve = w_cubic(1.0, ca.bic_k, 10.0);
        assert!(curve < 10.0, "{curve}");
        // cwnd follows W_est: α = 0.529 per RTT up to cwnd_prior (10), then 1.
        let w = f.segs();
        assert!(close(w, ca.w_est, 1.0), "cwnd {w} W_est {}", ca.w_est);
        assert!((95.0..=110.0).contains(&w), "{w}");
        // As fast as Reno with β = 0.7 (Reno started lower, from 5).
        let r = reno.segs();
        assert!(w > r - 5.0, "cubic {w} reno {r}");
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        let mut f = Fix::new(CongAlgo::Cubic, 100);
        f.loss();
        assert_eq!(f.sk.cong.cc.cubic.last_max_cwnd, 100.0);
        // The next loss comes at 80 < W_max: W_max = 80 · (1 + 0.7) / 2 = 68.
        f.sk.cong.cwnd = 80 * MSS;
        f.loss();
        assert!(close(f.sk.cong.cc.cubic.last_max_cwnd, 68.0, 1e-9));
        assert_eq!(f.sk.cong.ssthresh, 56 * MSS);
        assert!(f.traced("(fast convergence: below the last W_max 100.0, so × (1+β)/2)"));
        // Above W_max again: W_max = cwnd.
        f.sk.cong.cwnd = 90 * MSS;
        f.loss();
        assert_eq!(f.sk.cong.cc.cubic.last_max_cwnd, 90.0);
        assert_eq!(f.sk.cong.cc.cubic.cwnd_prior, 90.0);
    }

    #[test]
    fn growth_is_at_most_half_a_window_per_rtt() {
        // Far past K the curve is huge; §4.2 clamps the target at 1.5 · cwnd.
        let mut ca = Bictcp { bic_origin_point: 10.0, cwnd_prior: 1e9, w_est: 0.0, ..Default::default() };
        let (next, region) = ca.update(10.0, 1.0, 100.0, 0.1);
        assert_eq!(region, CubicRegion::Convex);
        assert!(close(next, 10.0 + (15.0 - 10.0) / 10.0, 1e-12), "{next}");
        // A whole window of ACKs, one at a time, at most 1.5×.
        let mut f = Fix::new(CongAlgo::Cubic, 10);
        f.loss();
        f.run(0.1, 0.1);
        f.now += crate::time::Duration::from_secs(100);
        let w0 = f.segs();
        f.run(0.1, 0.1);
        assert!(f.segs() <= 1.5 * w0 + 0.01, "{w0} -> {}", f.segs());
        assert!(f.segs() > 1.4 * w0, "{w0} -> {}", f.segs());
    }

    #[test]
    fn a_timeout_forgets_w_max() {
        // RFC 9438 §4.8: after a timeout, K = 0 and W_max = cwnd_epoch.
        let mut f = Fix::new(CongAlgo::Cubic, 100);
        let (sk, mut cx) = f.cx();
        sk.cong.ssthresh = sk.cong_ssthresh(&mut cx);
        sk.cong.cwnd = MSS;
        sk.cong_on_rto(&mut cx);
        assert_eq!(f.sk.cong.ssthresh, 70 * MSS);
        assert_eq!(f.sk.cong.cc.cubic.last_max_cwnd, 0.0);
        assert!(f.traced("cubic: timeout: W_max forgotten"));
        // Slow start back to ssthresh, then the epoch: flat at 70, then up.
        while f.sk.cong.cwnd < f.sk.cong.ssthresh {
            f.ack(MSS);
        }
        f.ack(MSS);
        let ca = &f.sk.cong.cc.cubic;
        assert_eq!(ca.bic_k, 0.0);
        assert_eq!(ca.bic_origin_point, ca.cwnd_epoch);
        assert!(close(ca.w_est, ca.cwnd_epoch, 0.01), "W_est from cwnd_epoch: {} {}", ca.w_est, ca.cwnd_epoch);
        assert!(ca.cwnd_epoch >= 70.0 && ca.cwnd_epoch < 72.0, "{}", ca.cwnd_epoch);
    }

    #[test]
    fn no_growth_while_application_limited() {
        let mut f = Fix::new(CongAlgo::Cubic, 20);
        f.loss();
        f.run(1.0, 0.1);
        // Two segments in flight of a 14-segment window, one more sent per
        // ACK. The window that filled cwnd still counts as cwnd-limited
        // until SND.UNA passes its end (`cwnd_usage_seq`): its ACKs grow cwnd.
        let end = f.sk.cong.cwnd_usage_seq;
        let mut w = f.sk.cong.cwnd;
        let mut grew = false;
        for i in 0..120 {
            f.now += crate::time::Duration::from_millis(10);
            f.sk.snd.una += MSS;
            let (sk, mut cx) = f.cx();
            let limited = sk.tcp_is_cwnd_limited();
            sk.cong_avoid(&mut cx, MSS);
            if limited {
                grew |= sk.cong.cwnd > w;
                w = sk.cong.cwnd;
            } else {
                // Then no window fills it: ACKs do not grow it.
                assert_eq!(sk.cong.cwnd, w, "ACK {i}");
            }
            sk.snd.max = sk.snd.max.max_seq(sk.snd.una + 2 * MSS);
            sk.tcp_cwnd_validate(&mut cx, false);
            assert_eq!(sk.tcp_is_cwnd_limited(), sk.snd.una.before(end), "ACK {i}");
        }
        assert!(grew && f.sk.snd.una.after(end));
        assert!(f.traced("application-limited (at most 2 segments in flight"));
    }

    #[test]
    fn slow_start_grows_to_twice_the_most_in_flight() {
        // Linux `tcp_is_cwnd_limited` in slow start: cwnd < 2 · max_packets_out.
        let mut f = Fix::new(CongAlgo::Reno, 10);
        f.sk.cong.ssthresh = usize::MAX / 2;
        let una = f.sk.snd.una;
        f.sk.snd.una = f.sk.cong.cwnd_usage_seq;
        f.sk.snd.max = f.sk.snd.una + 6 * MSS;
        let (sk, mut cx) = f.cx();
        sk.tcp_cwnd_validate(&mut cx, false);
        assert_eq!(sk.cong.max_packets_out, 6);
        for _ in 0..3 {
            sk.snd.una += 2 * MSS;
            sk.cong_avoid(&mut cx, 2 * MSS);
        }
        assert!(sk.snd.una.after(una));
        assert_eq!(sk.cong.cwnd, 12 * MSS);
    }

    #[test]
    fn switching_algorithm_keeps_the_window_and_resets_the_state() {
        let mut f = Fix::new(CongAlgo::Cubic, 100);
        f.loss();
        f.run(1.0, 0.1);
        let (cwnd, ssthresh) = (f.sk.cong.cwnd, f.sk.cong.ssthresh);
        assert!(f.sk.cong.cc.cubic.epoch_start.is_some());
        f.sk.set_congestion(CongAlgo::Reno);
        assert_eq!((f.sk.cong.cwnd, f.sk.cong.ssthresh, f.sk.cong.cc.algo), (cwnd, ssthresh, CongAlgo::Reno));
        // Reno from here: one MSS once a window's worth is acknowledged.
        let mut acks = 0;
        while f.sk.cong.cwnd == cwnd {
            f.ack(MSS);
            acks += 1;
        }
        assert_eq!((f.sk.cong.cwnd, acks), (cwnd + MSS, cwnd.div_ceil(MSS)));
        f.sk.set_congestion(CongAlgo::Cubic);
        assert!(f.sk.cong.cc.cubic.epoch_start.is_none() && f.sk.cong.cc.cubic.last_max_cwnd == 0.0);
        f.ack(MSS);
        assert_eq!(f.sk.cong.cc.cubic.bic_k, 0.0, "no W_max known: K = 0");
    }

    #[test]
    fn lossy_transfers_complete_under_both_algorithms() {
        // tests.rs's two `Tcp`s on a lossy, reordering, duplicating link,
        // 2 MiB (8 MiB in release) each way at once, with each algorithm;
        // the same seed, so only the algorithm differs.
        let run = |algo| {
            let cfg = TcpConfig { congestion: algo, ..TcpConfig::default() };
            crate::tcp::tests::transfer_both_ways_with(21, 0.02, cfg)
        };
        let (reno, cubic) = (run(CongAlgo::Reno), run(CongAlgo::Cubic));
        assert!(reno.1 > 0 && cubic.1 > 0, "losses were repaired: {reno:?} {cubic:?}");
        assert_ne!(reno, cubic, "the algorithm changed nothing");
    }

    #[test]
    fn tcp_congestion_round_trips_and_passive_children_inherit_it() {
        use crate::socket::{SockOpt, SockOptName};
        use crate::tcp::Tcp;
        use std::net::{Ipv4Addr, SocketAddrV4};
        let mut rng = StdRng::seed_from_u64(3);
        let (mut stats, mut trace, mut out) = (Stats::default(), Trace::default(), VecDeque::new());
        let mut tcp = Tcp::new(TcpConfig::default(), &mut rng);
        let h = tcp.socket().unwrap();
        let get = |tcp: &mut Tcp, h| tcp.getsockopt(h, SockOptName::Congestion);
        assert_eq!(get(&mut tcp, h), Ok(SockOpt::Congestion(CongAlgo::Cubic)));
        let now = Instant::from_secs(1);
        let mut probe = crate::tcp::ProbeQueue::default();
        let mut cx = Cx { now, stats: &mut stats, trace: &mut trace, probe: &mut probe, rng: &mut rng, out: &mut out };
        tcp.setsockopt(&mut cx, h, SockOpt::Congestion(CongAlgo::Reno)).unwrap();
        assert_eq!(get(&mut tcp, h), Ok(SockOpt::Congestion(CongAlgo::Reno)));
        // Two listeners: one set to reno by hand, one left at the default.
        let l2 = tcp.socket().unwrap();
        for (s, port) in [(h, 80), (l2, 81)] {
            tcp.bind(s, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port), cx.rng).unwrap();
            tcp.listen(s, 8, cx.rng).unwrap();
        }
        let shown = |tcp: &Tcp, port: u16| {
            tcp.info(now).into_iter().find(|i| i.local.port() == port).map(|i| i.congestion).unwrap()
        };
        assert_eq!((shown(&tcp, 80), shown(&tcp, 81)), ("reno", "cubic"));
        // A passive connection takes its listener's algorithm, not the default.
        let cfg = tcp.config().clone();
        let (local, remote) = (SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80), "10.0.0.1:4000".parse().unwrap());
        let lsk = tcp.socks[h].as_ref().unwrap();
        let child = crate::tcp::handshake::new_child(&cfg, lsk, h, local, remote);
        assert_eq!(child.cong.cc.algo, CongAlgo::Reno);
        // A new default (`set congestion reno` at the prompt) reaches new
        // sockets and the listeners still on the old default.
        tcp.set_config(TcpConfig { congestion: CongAlgo::Reno, ..cfg });
        assert_eq!(shown(&tcp, 81), "reno");
        let s = tcp.socket().unwrap();
        assert_eq!(get(&mut tcp, s), Ok(SockOpt::Congestion(CongAlgo::Reno)));
        assert_eq!(shown(&tcp, 80), "reno");
        // UDP has no such option (Linux: ENOPROTOOPT at SOL_TCP).
        let mut udp = crate::udp::Udp::new(4096, 4);
        let u = udp.socket().unwrap();
        assert_eq!(udp.setsockopt(u, SockOpt::Congestion(CongAlgo::Reno)), Err(crate::Errno::ENOPROTOOPT));
        assert_eq!(udp.getsockopt(u, SockOptName::Congestion), Err(crate::Errno::ENOPROTOOPT));
    }

    #[test]
    fn names_round_trip() {
        for a in CongAlgo::ALL {
            assert_eq!(CongAlgo::from_name(a.name()), Some(a));
            assert_eq!(a.to_string(), a.name());
        }
        assert_eq!(CongAlgo::from_name("NewReno"), Some(CongAlgo::Reno));
        assert_eq!(CongAlgo::from_name("bbr"), None);
        assert_eq!(CongAlgo::default(), CongAlgo::Cubic, "Linux's default");
        assert_eq!(TcpConfig::default().congestion, CongAlgo::Cubic);
    }
}
