//! CUBIC (RFC 9438), the algorithm: its curve and the state a socket keeps
//! for it (Linux net/ipv4/tcp_cubic.c, `struct bictcp`). The hooks that run
//! it on a connection (`cong_avoid`, `cong_ssthresh`, `cong_on_rto`) are in
//! cong.rs; this file knows nothing of the TCB.
//!
//! Read first: RFC 9438 §4.1-§4.8 (one clause per region of the curve), §5
//! (the constants).
//!
//! # CUBIC in one picture
//!
//! After a loss at window W_max, cwnd drops to β·W_max (β = 0.7) and then
//! follows `W_cubic(t) = C·(t − K)³ + W_max` (C = 0.4), t seconds since the
//! congestion-avoidance stage began: quickly up at first, flat near W_max
//! (the *concave* region, where the last loss happened), then faster and
//! faster beyond it (the *convex* region, probing for more). K is when the
//! curve is back at W_max: `K = ∛((W_max − cwnd_epoch) / C)`. The growth
//! depends on time, not on the RTT, so flows with different RTTs converge
//! to fair shares; at small windows or short RTTs, where Reno would grow
//! faster, CUBIC follows Reno's estimate W_est instead (*Reno-friendly*).
//!
//! ```text
//!   cwnd
//!    ^                                            /  convex: probing
//!    |                                          /    beyond W_max
//!  W_max  - - - - - - - - - - - - -____________/
//!    |                         __--    plateau around t = K
//!    |                     _--     concave: slowing down near W_max
//!    |                  _-
//!  β·W_max - - - - - - /
//!    |                 |                |
//!    +-----------------+----------------+-------------> t
//!               loss, epoch start    epoch start + K
//! ```
//!
//! # Units
//!
//! The TCB keeps `cwnd` and `ssthresh` in **bytes** (as the rest of the
//! stack counts), and so does Reno here. RFC 9438 §4.1 gives CUBIC's
//! windows in **segments** and its times in **seconds** (C = 0.4 is in
//! segments/s³), so `Bictcp` keeps W_max, W_est, cwnd_epoch as `f64`
//! segments and K as `f64` seconds: the numbers are the RFC's. The two meet
//! at the edges through the MSS: `cwnd / mss` going in, `× mss` coming out,
//! with fractions of a byte carried to the next ACK (Linux counts the same
//! way in `cwnd_cnt`). Time comes from the `now` of the call (the stack is
//! sans-IO) and the RTT from `srtt_us`.

use crate::socket::CongAlgo;
use crate::time::Instant;

/// RFC 9438 §5: C = 0.4, in segments/s³ (Linux `bic_scale` = 41, i.e. 410/1024).
pub const CUBIC_C: f64 = 0.4;
/// RFC 9438 §4.6: β_cubic = 0.7, the window kept at a loss (Linux `beta` 717/1024).
pub const BETA_CUBIC: f64 = 0.7;
/// RFC 9438 §4.3: α_cubic = 3(1 − β)/(1 + β) ≈ 0.529: Reno's average
/// window with β = 0.7 instead of 0.5 grows by that much per RTT.
pub const ALPHA_CUBIC: f64 = 3.0 * (1.0 - BETA_CUBIC) / (1.0 + BETA_CUBIC);

/// RFC 9438 Figure 2: `K = ∛((W_max − cwnd_epoch) / C)`, seconds until the
/// curve that starts at `cwnd_epoch` is back at `w_max` (segments). Zero if
/// the epoch starts at or above W_max.
pub fn cubic_k(w_max: f64, cwnd_epoch: f64) -> f64 {
    ((w_max - cwnd_epoch).max(0.0) / CUBIC_C).cbrt()
}

/// RFC 9438 Figure 1: `W_cubic(t) = C·(t − K)³ + W_max`, segments.
pub fn w_cubic(t: f64, k: f64, w_max: f64) -> f64 {
    CUBIC_C * (t - k).powi(3) + w_max
}

/// Which rule set the last window in congestion avoidance (RFC 9438 §4.2).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum CubicRegion {
    /// §4.3: cwnd < W_est: Reno would be faster; cwnd = W_est.
    RenoFriendly,
    /// §4.4: cwnd < W_max: growing towards the last loss, more slowly as it nears.
    Concave,
    /// §4.5: cwnd ≥ W_max: beyond it, faster and faster.
    Convex,
}

/// CUBIC's per-connection state (Linux `struct bictcp`). Windows in
/// segments, times in seconds (see "Units" above).
#[derive(Clone, Debug, Default)]
pub struct Bictcp {
    /// W_max: the window at the last loss, after fast convergence (§4.7);
    /// 0: none yet, or forgotten at a timeout (§4.8) (Linux `last_max_cwnd`).
    pub last_max_cwnd: f64,
    /// K for this epoch, seconds (Figure 2; Linux `bic_K`).
    pub bic_k: f64,
    /// The plateau of this epoch's curve: W_max, or cwnd_epoch when there
    /// is no W_max above it (K = 0) (Linux `bic_origin_point`).
    pub bic_origin_point: f64,
    /// t_epoch: when this congestion-avoidance stage began; `None` until the
    /// next ACK in congestion avoidance starts one (Linux `epoch_start`, 0).
    pub epoch_start: Option<Instant>,
    /// cwnd_epoch: the window when the epoch began (§4.2).
    pub cwnd_epoch: f64,
    /// W_est: the window Reno would have now (§4.3; Linux `tcp_cwnd`).
    pub w_est: f64,
    /// cwnd_prior: the window before the last reduction (§4.6); once W_est
    /// reaches it, W_est grows by one segment per RTT, as Reno's does.
    pub cwnd_prior: f64,
    /// The region the last ACK grew cwnd in (for tests and `-v`).
    pub region: Option<CubicRegion>,
    /// Fractions of a byte of growth, carried to the next ACK.
    pub carry: f64,
}

impl Bictcp {
    /// A congestion-avoidance stage begins with cwnd `cwnd` (segments) at
    /// `now` (§4.2; Linux `bictcp_update` with `epoch_start == 0`).
    pub fn start_epoch(&mut self, now: Instant, cwnd: f64) {
        self.epoch_start = Some(now);
        self.cwnd_epoch = cwnd;
        if self.last_max_cwnd > cwnd {
            self.bic_k = cubic_k(self.last_max_cwnd, cwnd);
            self.bic_origin_point = self.last_max_cwnd;
        } else {
            // No W_max above us: the first stage after a timeout (§4.8), or
            // a window set by hand. K = 0 and W_max = cwnd_epoch: the
            // curve starts flat and turns convex at once.
            self.bic_k = 0.0;
            self.bic_origin_point = cwnd;
        }
        // §4.3: "W_est is set equal to cwnd_epoch at the start of the
        // congestion avoidance stage".
        self.w_est = cwnd;
        self.carry = 0.0;
    }

    /// One ACK of `segs_acked` segments in congestion avoidance, `t`
    /// seconds into the epoch, with smoothed RTT `rtt` seconds, at window
    /// `cwnd` (segments). Returns the new window and the region that made it.
    pub fn update(&mut self, cwnd: f64, segs_acked: f64, t: f64, rtt: f64) -> (f64, CubicRegion) {
        // §4.2: aim at where the curve will be one RTT from now, but never
        // below cwnd and at most 1.5 × cwnd (no more than half a window of
        // growth per RTT, however far past K).
        let target = w_cubic(t + rtt, self.bic_k, self.bic_origin_point).clamp(cwnd, 1.5 * cwnd);
        // §4.3 (Figure 4): W_est += α · segments_acked / cwnd, with α = 1
        // once W_est has reached the window before the last reduction.
        let alpha = if self.w_est >= self.cwnd_prior { 1.0 } else { ALPHA_CUBIC };
        self.w_est += alpha * segs_acked / cwnd;
        // §4.4, §4.5: "cwnd MUST be incremented by (target − cwnd)/cwnd for
        // each received new ACK" (here per segment acknowledged).
        let cubic = cwnd + (target - cwnd) / cwnd * segs_acked;
        // §4.3: "If cwnd < W_est, CUBIC is in the Reno-friendly region and
        // cwnd SHOULD be set to W_est": whichever grows faster wins (Linux
        // compares `tcp_cwnd` with the cubic window the same way).
        let (next, region) = if self.w_est > cubic {
            (self.w_est, CubicRegion::RenoFriendly)
        } else if cwnd < self.bic_origin_point {
            (cubic, CubicRegion::Concave)
        } else {
            (cubic, CubicRegion::Convex)
        };
        self.region = Some(region);
        (next, region)
    }

    /// A loss at window `cwnd` (segments): the new W_max with fast
    /// convergence (§4.7), cwnd_prior (§4.6), and no epoch until the next
    /// congestion-avoidance ACK. Returns whether fast convergence applied.
    pub fn on_loss(&mut self, cwnd: f64) -> bool {
        self.epoch_start = None;
        // §4.7: a loss below the last W_max means the flow's share is
        // shrinking (someone new arrived): release more, W_max = cwnd·(1+β)/2.
        let fast = cwnd < self.last_max_cwnd;
        self.last_max_cwnd = if fast { cwnd * (1.0 + BETA_CUBIC) / 2.0 } else { cwnd };
        self.cwnd_prior = cwnd;
        fast
    }

    /// The retransmission timer fired (§4.8; Linux `bictcp_state` to
    /// `TCP_CA_Loss` → `bictcp_reset`): forget W_max, so the first epoch
    /// after slow start has K = 0 and W_max = cwnd_epoch.
    pub fn on_rto(&mut self) {
        self.last_max_cwnd = 0.0;
        self.epoch_start = None;
    }
}

/// Per-connection state of the algorithm (`inet_csk_ca`).
#[derive(Clone, Debug, Default)]
pub struct CongState {
    pub algo: CongAlgo,
    /// Reno: bytes acknowledged during congestion avoidance (RFC 5681 eq. 3, byte counting).
    pub bytes_acked: usize,
    /// CUBIC (unused by Reno).
    pub cubic: Bictcp,
}

impl CongState {
    /// Fresh state for `algo` (Linux `tcp_init_congestion_control`).
    pub fn new(algo: CongAlgo) -> CongState {
        CongState { algo, ..CongState::default() }
    }
}
