//! The Timestamps option: a clock in every segment, echoed back.
//!
//! Read first: RFC 7323 §3 (the option; TSval and TSecr), §4 (RTTM:
//! round-trip time measurement from the echo, which a retransmission cannot
//! confuse), §5 (PAWS: protection against wrapped sequence numbers, an old
//! duplicate recognised by its old timestamp), §5.4 (a per-connection random
//! offset on the clock), Appendix D (the pseudo-code this file follows).
//! RFC 6191 (a TIME_WAIT ended by a SYN with a newer timestamp). RFC 3522
//! (Eifel detection: an ACK that echoes a timestamp from before our
//! retransmission was caused by the original, so the retransmission was
//! spurious) and RFC 4015 (the response: undo the cwnd cut). Linux:
//! `tcp_replace_ts_recent`, `tcp_paws_discard`, `tcp_rtt_tsopt_us` in
//! net/ipv4/tcp_input.c, `tcp_time_stamp_ts`, `secure_tcp_ts_off`.
//!
//! Our timestamp clock ticks once a millisecond (Linux's `TCP_TS_HZ`, 1000),
//! read from the `now` every entry point is given, plus `ts_offset`, a
//! keyed hash of the addresses, so TSval says nothing about our uptime.

use super::seq::{siphash24, SeqNumber};
use super::sock::{TcpSock, UndoMark};
use crate::cx::Cx;
use crate::stats::Counter;
use crate::time::{Duration, Instant};
use crate::trace::EventKind;
use std::net::SocketAddrV4;

/// RFC 7323 §5.5: a TS.Recent unused for 24 days may be too old to compare
/// with (the peer's clock may have wrapped its sign bit); it is then not used.
pub const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// RFC 7323 §5.4 / Linux `secure_tcp_ts_off`: a per-address-pair offset for
/// the TSval clock. A different message than the ISN's hash, so that a
/// TSval reveals nothing about our ISNs.
pub fn ts_offset(key: &[u64; 2], local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
    let mut msg = [0u8; 9];
    msg[0..4].copy_from_slice(&local.ip().octets());
    msg[4..8].copy_from_slice(&remote.ip().octets());
    msg[8] = b'T';
    siphash24(key, &msg) as u32
}

/// The timestamp clock in ms at `now` (without offset).
pub fn ts_clock(now: Instant) -> u32 {
    (now.total_micros() / 1000) as u32
}

impl TcpSock {
    /// TSval for a segment sent at `now`.
    pub fn ts_val(&self, now: Instant) -> u32 {
        ts_clock(now).wrapping_add(self.ts.offset)
    }

    /// RFC 7323 §5.3 R1 (PAWS): with timestamps in use, a segment (not a
    /// RST) whose TSval is older than TS.Recent is an old duplicate, unless
    /// TS.Recent has sat unused for 24 days.
    pub fn paws_reject(&self, now: Instant, tsval: u32, rst: bool) -> bool {
        self.ts.ok
            && !rst
            && (tsval.wrapping_sub(self.ts.recent) as i32) < 0
            && now.saturating_since(self.ts.recent_stamp) < PAWS_IDLE
    }

    /// RFC 7323 §4.3 (and §5.3 R3): "If SEG.TSval >= TS.Recent and SEG.SEQ
    /// =< Last.ACK.sent then SEG.TSval is copied to TS.Recent": only a
    /// segment that reaches the left edge of the window updates it, so
    /// TSecr echoes the segment that made us advance, and the peer's RTT
    /// sample includes our delayed ACK as it should.
    pub fn ts_recent_update(&mut self, now: Instant, tsval: u32, seq: SeqNumber) {
        if (tsval.wrapping_sub(self.ts.recent) as i32) >= 0 && seq.before_eq(self.ts.last_ack_sent) {
            self.ts.recent = tsval;
            self.ts.recent_stamp = now;
        }
    }

    /// RFC 7323 §4.1 RTTM: an ACK of new data echoes the TSval of a segment
    /// we sent; now minus that is an RTT sample, even after a
    /// retransmission (the echo says which copy arrived). In µs, at least
    /// one tick (Linux `tcp_rtt_tsopt_us`). `None` if the echo is zero or
    /// from the future (a broken or lying peer).
    pub fn ts_rtt_sample(&self, now: Instant, tsecr: u32) -> Option<Duration> {
        if !self.ts.ok || tsecr == 0 {
            return None;
        }
        let delta = self.ts_val(now).wrapping_sub(tsecr) as i32;
        if delta < 0 {
            return None;
        }
        Some(Duration::from_micros(1000 * delta.max(1) as u64))
    }
}

impl TcpSock {
    /// A loss episode starts (fast retransmit or timeout), before cwnd and
    /// ssthresh are cut: remember them, with the TSval the retransmission
    /// will carry. Only with timestamps (RFC 3522 needs the echo).
    pub fn undo_mark(&mut self, now: Instant, rto: bool) {
        self.ts.undo = self.ts.ok.then(|| UndoMark {
            cwnd: self.cong.cwnd,
            ssthresh: self.cong.ssthresh,
            tsval: self.ts_val(now),
            rto,
        });
    }

    /// RFC 3522 §3.2 on the first ACK of new data after the episode's
    /// first retransmission: "if the value of the Timestamp Echo Reply
    /// field is smaller than the value of the timestamp stored … then
    /// proceed to step (DET_SPURIOUS)". The original arrived: undo the cut
    /// (RFC 4015 §4.2, as Linux `tcp_try_undo_recovery`), end the episode,
    /// and after a timeout carry on from SND.MAX rather than go back N.
    /// Either way the mark is used up.
    pub fn eifel_check(&mut self, cx: &mut Cx, tsecr: Option<u32>) {
        let Some(mark) = self.ts.undo.take() else { return };
        let Some(ecr) = tsecr else { return };
        if ecr == 0 || (ecr.wrapping_sub(mark.tsval) as i32) >= 0 {
            return;
        }
        self.cong.cwnd = self.cong.cwnd.max(mark.cwnd);
        self.cong.ssthresh = self.cong.ssthresh.max(mark.ssthresh);
        self.cong.in_recovery = false;
        self.cong.dupacks = 0;
        if mark.rto {
            self.snd.nxt = self.snd.max;
        }
        cx.stats.inc(Counter::TcpSpuriousUndo);
        let (l, r, cwnd, what) =
            (self.local, self.remote, self.cong.cwnd, if mark.rto { "timeout" } else { "fast retransmit" });
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpWindow, "RFC 3522 §3.2", || {
            format!("{l} {r}: ACK echoes TSval {ecr} from before the retransmission ({}): spurious {what}, cwnd back to {cwnd}", mark.tsval)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::TcpConfig;

    #[test]
    fn paws_and_ts_recent() {
        let mut sk = TcpSock::new(&TcpConfig::default());
        sk.ts.ok = true;
        sk.ts.recent = 1000;
        sk.ts.recent_stamp = Instant::from_secs(10);
        sk.ts.last_ack_sent = SeqNumber(500);
        let now = Instant::from_secs(11);
        assert!(sk.paws_reject(now, 999, false));
        assert!(!sk.paws_reject(now, 999, true), "RST exempt (R1)");
        assert!(!sk.paws_reject(now, 1000, false));
        // Wrapping: 0x8000_0000 ticks ahead is "older".
        assert!(sk.paws_reject(now, 1000u32.wrapping_add(0x8000_0001), false));
        // TS.Recent idle for 24 days is not trusted.
        assert!(!sk.paws_reject(Instant::from_secs(10) + PAWS_IDLE, 999, false));
        // Updated only by a segment at or left of Last.ACK.sent.
        sk.ts_recent_update(now, 2000, SeqNumber(600));
        assert_eq!(sk.ts.recent, 1000);
        sk.ts_recent_update(now, 2000, SeqNumber(500));
        assert_eq!(sk.ts.recent, 2000);
        sk.ts_recent_update(now, 1500, SeqNumber(400));
        assert_eq!(sk.ts.recent, 2000, "never moves back");
    }

    #[test]
    fn rtt_from_the_echo() {
        let mut sk = TcpSock::new(&TcpConfig::default());
        sk.ts.ok = true;
        sk.ts.offset = 0xffff_fff0; // the clock wraps during the test
        let sent = Instant::from_secs(5);
        let tsval = sk.ts_val(sent);
        let d = sk.ts_rtt_sample(sent + Duration::from_millis(37), tsval).unwrap();
        assert_eq!(d, Duration::from_millis(37));
        // Same tick: one tick, not zero.
        assert_eq!(sk.ts_rtt_sample(sent, tsval), Some(Duration::from_millis(1)));
        assert_eq!(sk.ts_rtt_sample(sent, 0), None);
        assert_eq!(sk.ts_rtt_sample(sent, tsval.wrapping_add(50)), None, "from the future");
    }
}
