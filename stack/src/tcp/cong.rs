//! Congestion control: how a connection grows its congestion window as
//! ACKs arrive and how far it cuts it when a loss is detected (Linux
//! `struct tcp_congestion_ops`: `cong_avoid`, `ssthresh`; net/ipv4/tcp_cong.c).
//!
//! Read first: RFC 5681 §3.1 (slow start, congestion avoidance, the
//! ssthresh after a loss), RFC 3465 (byte counting).
//!
//! Loss *detection* and *recovery* (which segment to resend, when recovery
//! ends) live in input.rs and output.rs; this file only answers two
//! questions, one per hook, whichever algorithm the socket uses:
//! - `cong_avoid`: new data was acknowledged outside recovery; grow cwnd.
//! - `cong_ssthresh`: a loss was detected; what is the new ssthresh?

use super::sock::TcpSock;
use crate::time::Instant;

/// The algorithms a socket can use (`TCP_CONGESTION`), with Linux's names.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum CongAlgo {
    /// RFC 5681 slow start and congestion avoidance (Linux `reno`; with
    /// fast recovery by RFC 6582 NewReno or RFC 6675 SACK).
    #[default]
    Reno,
}

impl CongAlgo {
    /// The name `ss -i` prints and `TCP_CONGESTION` takes.
    pub fn name(self) -> &'static str {
        match self {
            CongAlgo::Reno => "reno",
        }
    }
    pub fn from_name(s: &str) -> Option<CongAlgo> {
        match s {
            "reno" | "newreno" => Some(CongAlgo::Reno),
            _ => None,
        }
    }
}

/// Per-connection state of the algorithm (`inet_csk_ca`).
#[derive(Clone, Debug, Default)]
pub struct CongState {
    pub algo: CongAlgo,
    /// Bytes acknowledged during congestion avoidance (RFC 5681 eq. 3, byte counting).
    pub bytes_acked: usize,
}

impl TcpSock {
    /// `tcp_cong_avoid`: `acked` bytes of new data acknowledged at `now`,
    /// not in recovery. Slow start below ssthresh, else the algorithm's
    /// congestion avoidance.
    pub fn cong_avoid(&mut self, _now: Instant, acked: usize) {
        let mss = self.mss;
        if self.cwnd < self.ssthresh {
            // Slow start (RFC 5681 (2)), with RFC 3465's L = 2·SMSS.
            self.cwnd += acked.min(2 * mss);
        } else {
            match self.cc.algo {
                CongAlgo::Reno => {
                    // Congestion avoidance: one MSS per cwnd of data acknowledged.
                    self.cc.bytes_acked += acked;
                    if self.cc.bytes_acked >= self.cwnd {
                        self.cc.bytes_acked -= self.cwnd;
                        self.cwnd += mss;
                    }
                }
            }
        }
        self.cwnd = self.cwnd.min(1 << 30);
    }

    /// `ssthresh` hook: a loss was detected at `now` (three duplicate ACKs,
    /// SACK, or a timeout). Returns the new slow-start threshold.
    pub fn cong_ssthresh(&mut self, _now: Instant) -> usize {
        let mss = self.mss;
        self.cc.bytes_acked = 0;
        match self.cc.algo {
            // RFC 5681 (4): ssthresh = max(FlightSize / 2, 2·SMSS).
            CongAlgo::Reno => (self.flight_size() / 2).max(2 * mss),
        }
    }
}
