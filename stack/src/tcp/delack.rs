//! When to acknowledge: Linux's delayed-ACK engine (`icsk_ack`, sock.rs
//! `IcskAck`), under Linux's names so that the kernel source reads alongside.
//!
//! RFC 1122 §4.2.3.2 lets a receiver delay an ACK ("a TCP SHOULD implement a
//! delayed ACK, but an ACK should not be excessively delayed; in particular,
//! the delay MUST be less than 0.5 seconds, and in a stream of full-sized
//! segments there SHOULD be an ACK for at least every second segment");
//! RFC 5681 §4.2 asks for an immediate ACK for out-of-order data and for a
//! segment that fills a hole. Within that, Linux decides like this:
//!
//! - **Quick ACKs.** The first data segment of a connection arms a budget
//!   of quick ACKs, `rcv_wnd / (2 · rcv_mss)` of them, 2 to
//!   `TCP_MAX_QUICKACKS` = 16 (`tcp_event_data_recv` → `tcp_incr_quickack`):
//!   while it lasts, every data segment is ACKed at once, so that the
//!   sender's slow start is not held back. Each ACK spends one
//!   (`tcp_dec_quickack_mode`). A duplicate or out-of-window segment, and a
//!   gap longer than the RTO, re-arm it (`tcp_enter_quickack_mode`).
//! - **Interactive (pingpong) mode.** Data we send within `ato` of the last
//!   data received looks like a reply (`tcp_event_data_sent` →
//!   `inet_csk_inc_pingpong_cnt`): from then on ACKs wait for the next reply
//!   to carry them, quick ACKs or not. A delayed ACK that had to go alone
//!   ends the mode (`tcp_delack_timer_handler`). A FIN in ESTABLISHED enters
//!   it: its ACK waits for our own FIN (`tcp_fin`).
//! - **The decision** after each segment (`__tcp_ack_snd_check`): ACK now if
//!   more than one full segment is unacknowledged and the window would not
//!   shrink, in quick-ACK mode, when asked to (`ICSK_ACK_NOW`: a hole just
//!   filled), or with data waiting out of order; else arm the delayed-ACK
//!   timer (`tcp_send_delayed_ack`) for `ato`, an estimate of the gap
//!   between segments (40 ms up, at most 200 ms, or one SRTT).
//! - **After a read** (`tcp_cleanup_rbuf`): a scheduled ACK goes if more than
//!   one full segment is unacknowledged, or the read emptied the queue of a
//!   pushed segment and the connection is not interactive.
//!
//! Any segment carrying an ACK clears it all (`tcp_event_ack_sent`).
//!
//! Linux: net/ipv4/tcp_input.c (`tcp_measure_rcv_mss`, `tcp_incr_quickack`,
//! `tcp_enter_quickack_mode`, `tcp_event_data_recv`, `__tcp_ack_snd_check`),
//! net/ipv4/tcp_output.c (`tcp_event_data_sent`, `tcp_event_ack_sent`,
//! `tcp_send_delayed_ack`), net/ipv4/tcp_timer.c (`tcp_delack_timer_handler`),
//! net/ipv4/tcp.c (`tcp_cleanup_rbuf`), include/net/inet_connection_sock.h.

use super::sock::{TcpSock, TcpState, TimerKind};
use super::TcpConfig;
use crate::cx::Cx;
use crate::time::{Duration, Instant};
use crate::trace::EventKind;
use crate::wire::tcp::{TcpFlags, TS_OPT_LEN};

/// `icsk_ack.pending` bits (`enum inet_csk_ack_state_t`).
/// An ACK is owed.
pub const ICSK_ACK_SCHED: u8 = 1;
/// The delayed-ACK timer runs.
pub const ICSK_ACK_TIMER: u8 = 2;
/// A pushed (or short) segment arrived: a read that empties the queue ACKs it.
pub const ICSK_ACK_PUSHED: u8 = 4;
/// Two of them: ACK on the read even when interactive.
pub const ICSK_ACK_PUSHED2: u8 = 8;
/// Send the next ACK immediately (once).
pub const ICSK_ACK_NOW: u8 = 16;

/// `TCP_MAX_QUICKACKS`: the most quick ACKs one budget holds.
pub const TCP_MAX_QUICKACKS: u32 = 16;
/// `TCP_DELACK_MAX` (`icsk_delack_max`): the longest an ACK is delayed.
pub const TCP_DELACK_MAX: Duration = Duration::from_millis(200);
/// The longest delay for a connection that is neither interactive nor
/// pushing (`HZ / 2`), within RFC 1122's 0.5 s.
const ATO_MAX_BULK: Duration = Duration::from_millis(500);
/// `tcp_pingpong_thresh` (Linux's default, 1): replies before a connection
/// counts as interactive.
pub const TCP_PINGPONG_THRESH: u8 = 1;
/// `TCP_MSS_DEFAULT`, `TCP_MIN_MSS`: bounds of the first `rcv_mss` guess.
const TCP_MSS_DEFAULT: usize = 536;
const TCP_MIN_MSS: usize = 88;
const TCP_HDR: usize = 20;

/// `TCP_ATO_MIN` (= `TCP_DELACK_MIN`): the delayed-ACK timeout to start
/// with, `TcpConfig::delayed_ack_timeout` (Linux 40 ms).
fn ato_min(cfg: &TcpConfig) -> Duration {
    cfg.delayed_ack_timeout
}

impl TcpSock {
    /// `inet_csk_schedule_ack`: an ACK is owed.
    pub fn inet_csk_schedule_ack(&mut self) {
        self.icsk_ack.pending |= ICSK_ACK_SCHED;
    }

    /// `inet_csk_ack_scheduled`.
    pub fn inet_csk_ack_scheduled(&self) -> bool {
        self.icsk_ack.pending & ICSK_ACK_SCHED != 0
    }

    /// `inet_csk_in_pingpong_mode`.
    pub fn inet_csk_in_pingpong_mode(&self) -> bool {
        self.icsk_ack.pingpong >= TCP_PINGPONG_THRESH
    }

    /// `inet_csk_enter_pingpong_mode`.
    pub fn inet_csk_enter_pingpong_mode(&mut self) {
        self.icsk_ack.pingpong = TCP_PINGPONG_THRESH;
    }

    /// The window we last offered (Linux `rcv_wnd`).
    fn rcv_wnd_offered(&self) -> usize {
        self.rcv.adv.since(self.rcv.wup)
    }

    /// `tcp_initialize_rcv_mss`: before any data, guess the peer's segment
    /// size low: at most 536 (and half the window), at least 88.
    pub fn tcp_initialize_rcv_mss(&mut self, cfg: &TcpConfig, rcv_wnd: usize) {
        let hint = self.advmss(cfg).min(self.snd.mss).min(rcv_wnd / 2).min(TCP_MSS_DEFAULT);
        self.rcv.mss = hint.max(TCP_MIN_MSS);
    }

    /// `tcp_measure_rcv_mss`: learn the peer's segment size from what
    /// arrives. A segment at least as large as the guess sets it (capped by
    /// our MSS); a smaller one sets it only when two in a row have the same
    /// size and look full (no PSH). `hdr_len`: the TCP header with options.
    fn tcp_measure_rcv_mss(&mut self, cfg: &TcpConfig, len: usize, hdr_len: usize, flags: TcpFlags) {
        let lss = std::mem::take(&mut self.icsk_ack.last_seg_size);
        if len >= self.rcv.mss {
            self.rcv.mss = len.min(self.advmss(cfg));
            if flags.has(TcpFlags::PSH) {
                self.icsk_ack.pending |= ICSK_ACK_PUSHED;
            }
            return;
        }
        // "len" is invariant segment length, including TCP header.
        let full = len + hdr_len;
        let remnant = flags.intersects(TcpFlags::FIN | TcpFlags::URG | TcpFlags::SYN | TcpFlags::PSH);
        if full >= TCP_MSS_DEFAULT + TCP_HDR || (full >= TCP_MIN_MSS + TCP_HDR && !remnant) {
            // Less the fixed header (with timestamps, 32 bytes): free of SACK jitter.
            let fixed = if self.ts.ok { TCP_HDR + TS_OPT_LEN } else { TCP_HDR };
            let l = full.saturating_sub(fixed);
            self.icsk_ack.last_seg_size = l;
            if l == lss {
                self.rcv.mss = l.max(1);
                return;
            }
        }
        if self.icsk_ack.pending & ICSK_ACK_PUSHED != 0 {
            self.icsk_ack.pending |= ICSK_ACK_PUSHED2;
        }
        self.icsk_ack.pending |= ICSK_ACK_PUSHED;
    }

    /// `tcp_incr_quickack`: a budget of `rcv_wnd / (2 · rcv_mss)` quick ACKs
    /// (at least 2, at most `max`), never lowering the one in hand.
    pub fn tcp_incr_quickack(&mut self, max: u32) {
        let mut quickacks = (self.rcv_wnd_offered() / (2 * self.rcv.mss.max(1))) as u32;
        if quickacks == 0 {
            quickacks = 2;
        }
        let quickacks = quickacks.min(max);
        if quickacks > self.icsk_ack.quick {
            self.icsk_ack.quick = quickacks;
        }
    }

    /// `tcp_enter_quickack_mode`: quick ACKs again, not interactive, `ato`
    /// back to its minimum.
    pub fn tcp_enter_quickack_mode(&mut self, cfg: &TcpConfig, max: u32) {
        self.tcp_incr_quickack(max);
        self.icsk_ack.pingpong = 0;
        self.icsk_ack.ato = ato_min(cfg);
    }

    /// `tcp_in_quickack_mode`: ACK every segment (delayed ACKs switched
    /// off, or quick ACKs left and the connection not interactive).
    fn tcp_in_quickack_mode(&self, cfg: &TcpConfig) -> bool {
        !cfg.delayed_ack || (self.icsk_ack.quick > 0 && !self.inet_csk_in_pingpong_mode())
    }

    /// `tcp_event_data_recv`: in-order data arrived (`len` bytes). Owe an
    /// ACK, learn the segment size, and estimate `ato` from the gap since
    /// the last data: the first data segment arms the quick ACKs; gaps
    /// shorter than `ato` pull it down toward them; a gap longer than the
    /// RTO (the sender stalled) re-arms the quick ACKs.
    pub fn tcp_event_data_recv(&mut self, cx: &Cx, cfg: &TcpConfig, len: usize, hdr_len: usize, flags: TcpFlags) {
        self.inet_csk_schedule_ack();
        self.tcp_measure_rcv_mss(cfg, len, hdr_len, flags);
        let now = cx.now;
        // The receiver's RTT, for receive-buffer autotuning (rcvbuf.rs).
        let rcv_wnd = self.rcv_wnd_offered();
        self.tcp_rcv_rtt_measure(cfg, now, rcv_wnd);
        let min = ato_min(cfg);
        if self.icsk_ack.ato.is_zero() {
            // The _first_ data packet received, initialize delayed ACK engine.
            self.tcp_incr_quickack(TCP_MAX_QUICKACKS);
            self.icsk_ack.ato = min;
        } else {
            let m = now.saturating_since(self.icsk_ack.lrcvtime);
            let rto = self.rtt.rto;
            if m <= min / 2 {
                // The fastest case is the first.
                self.icsk_ack.ato = self.icsk_ack.ato / 2 + min / 2;
            } else if m < self.icsk_ack.ato {
                self.icsk_ack.ato = (self.icsk_ack.ato / 2 + m).min(rto);
            } else if m > rto {
                // Too long gap. Apparently sender failed to restart window,
                // so that we send ACKs quickly.
                self.tcp_incr_quickack(TCP_MAX_QUICKACKS);
            }
        }
        self.icsk_ack.lrcvtime = now;
    }

    /// `tcp_event_data_sent`: data went out; if it answers data received
    /// within `ato`, the connection looks interactive (`inet_csk_inc_pingpong_cnt`).
    pub fn tcp_event_data_sent(&mut self, now: Instant) {
        self.lsndtime = now;
        if now.saturating_since(self.icsk_ack.lrcvtime) < self.icsk_ack.ato {
            self.icsk_ack.pingpong = self.icsk_ack.pingpong.saturating_add(1);
        }
    }

    /// `tcp_event_ack_sent`: a segment carrying our ACK went out. It spends
    /// a quick ACK if one was owed (`tcp_dec_quickack_mode`), and nothing
    /// is owed any more (`inet_csk_clear_xmit_timer(ICSK_TIME_DACK)`).
    pub fn tcp_event_ack_sent(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        self.rcv.ack_now = false;
        // `tcp_select_window`: the window just offered counts from here.
        self.rcv.wup = self.rcv.nxt;
        // `tcp_dec_quickack_mode`: how many ACKs S/ACKing new data have we sent?
        if self.icsk_ack.quick > 0 && self.inet_csk_ack_scheduled() {
            self.icsk_ack.quick -= 1;
            if self.icsk_ack.quick == 0 {
                // Leaving quickack mode we deflate ATO (to TCP_ATO_MIN).
                self.icsk_ack.ato = ato_min(cfg);
            }
        }
        self.icsk_ack.pending = 0;
        self.timer_cancel(cx, TimerKind::DelayedAck, "RFC 1122 §4.2.3.2", "an ACK went out");
    }

    /// `tcp_ack_snd_check`: after a segment was processed and whatever data
    /// could go went (carrying the ACK), is a pure ACK owed now, later, or not at all?
    pub fn tcp_ack_snd_check(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        if self.rcv.ack_now {
            // A duplicate or challenge ACK: `tcp_send_ack` at once.
            self.send_ack(cx, cfg);
            return;
        }
        if !self.inet_csk_ack_scheduled() {
            // We sent a data segment already.
            return;
        }
        self.__tcp_ack_snd_check(cx, cfg);
    }

    /// `__tcp_ack_snd_check`: RFC 1122 §4.2.3.2 / RFC 5681 §4.2 as Linux reads them.
    #[allow(non_snake_case)]
    fn __tcp_ack_snd_check(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        const RFC: &str = "RFC 1122 §4.2.3.2";
        // More than one full frame received, and the right edge of the
        // window advances far enough (`tcp_recvmsg` will send the ACK
        // otherwise) or nothing is left to read…
        let unacked = self.rcv.nxt.since(self.rcv.wup);
        let two_segments = unacked > self.rcv.mss
            && (self.q.rcv_buf.is_empty() || self.tcp_select_window_peek() >= self.rcv_wnd_offered());
        // …or we ACK each frame, or the protocol state asks for one
        // immediate ACK, or there is out-of-order data (RFC 5681 §4.2;
        // Linux would compress the fourth and later SACKs for one hole by
        // up to 1 ms, `tcp_sack_compress_send_ack`: not modelled).
        let why = if two_segments {
            Some("RFC 1122 §4.2.3.2: more than one full segment unacknowledged")
        } else if self.tcp_in_quickack_mode(cfg) {
            Some("quick ACK (Linux tcp_in_quickack_mode)")
        } else if self.icsk_ack.pending & ICSK_ACK_NOW != 0 {
            Some("RFC 5681 §4.2: the hole is filled")
        } else if !self.q.out_of_order_queue.is_empty() {
            Some("RFC 5681 §4.2: out-of-order data")
        } else {
            None
        };
        if let Some(why) = why {
            let (l, r, nxt) = (self.local, self.remote, self.rcv.nxt);
            let now = cx.now;
            cx.trace.emit(now, EventKind::Tcp, RFC, || format!("{l} {r}: ACK {nxt} now: {why}"));
            self.send_ack(cx, cfg);
            return;
        }
        self.tcp_send_delayed_ack(cx, cfg);
    }

    /// The window `transmit` would offer now (`__tcp_select_window`),
    /// without offering it.
    fn tcp_select_window_peek(&mut self) -> usize {
        let adv = self.rcv.adv;
        let wnd = (self.select_window() as usize) << self.rcv.wscale;
        self.rcv.adv = adv;
        wnd
    }

    /// `tcp_send_delayed_ack`: arm the delayed-ACK timer for `ato`, bounded
    /// by 200 ms when interactive or pushed (else 500 ms), by one SRTT, and
    /// by `TCP_DELACK_MAX`; an earlier deadline already set stands, and one
    /// about to expire is taken as now.
    pub fn tcp_send_delayed_ack(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        let mut ato = self.icsk_ack.ato;
        let min = ato_min(cfg);
        if ato > min {
            let mut max_ato = ATO_MAX_BULK;
            if self.inet_csk_in_pingpong_mode() || self.icsk_ack.pending & ICSK_ACK_PUSHED != 0 {
                max_ato = TCP_DELACK_MAX;
            }
            // Slow path, intersegment interval is "high": if some RTT
            // estimate is known, use it to bound the delayed ACK.
            if self.rtt.srtt_us > 0 {
                let rtt = Duration::from_micros(self.rtt.srtt_us).max(min);
                max_ato = max_ato.min(rtt);
            }
            ato = ato.min(max_ato);
        }
        ato = ato.min(TCP_DELACK_MAX);
        let now = cx.now;
        let mut timeout = now + ato;
        // Use the new timeout only if there was no earlier one.
        if self.icsk_ack.pending & ICSK_ACK_TIMER != 0 {
            // If the delayed-ACK timer is about to expire, send the ACK now.
            if self.icsk_ack.timeout <= now + ato / 4 {
                self.send_ack(cx, cfg);
                return;
            }
            if timeout >= self.icsk_ack.timeout {
                timeout = self.icsk_ack.timeout;
            }
        }
        self.icsk_ack.pending |= ICSK_ACK_SCHED | ICSK_ACK_TIMER;
        self.icsk_ack.timeout = timeout;
        if self.timers.get(TimerKind::DelayedAck) != Some(timeout) {
            self.timer_set(cx, TimerKind::DelayedAck, timeout - now);
        }
    }

    /// `tcp_delack_timer_handler`: the delayed ACK is due. Not
    /// interactive: the ACK was late for the next segment, so `ato` grows
    /// (up to the RTO); interactive: no reply came to carry it, so the
    /// connection is interactive no more.
    pub fn tcp_delack_timer_handler(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        if !self.state.is_synchronized() || self.state == TcpState::TimeWait {
            return;
        }
        if self.icsk_ack.pending & ICSK_ACK_TIMER == 0 {
            return;
        }
        self.icsk_ack.pending &= !ICSK_ACK_TIMER;
        if !self.inet_csk_ack_scheduled() {
            return;
        }
        if !self.inet_csk_in_pingpong_mode() {
            // Delayed ACK missed: inflate ATO.
            self.icsk_ack.ato = (self.icsk_ack.ato * 2).min(self.rtt.rto);
        } else {
            // Delayed ACK missed: leave pingpong mode and deflate ATO.
            self.icsk_ack.pingpong = 0;
            self.icsk_ack.ato = ato_min(cfg);
        }
        self.send_ack(cx, cfg);
    }

    /// `tcp_cleanup_rbuf` (its ACK half; the window update after a read
    /// is `window_update_after_read`): the application read `copied`
    /// bytes. A scheduled ACK goes now if more than one full segment is
    /// unacknowledged (the input path left it for the read), or the read
    /// emptied the queue of a pushed segment and the connection is not
    /// interactive (or two such segments came). Returns whether it went.
    pub fn tcp_cleanup_rbuf(&mut self, cx: &mut Cx, cfg: &TcpConfig, copied: usize) -> bool {
        if !self.inet_csk_ack_scheduled() || !self.state.is_synchronized() || self.state == TcpState::TimeWait {
            return false;
        }
        let pending = self.icsk_ack.pending;
        let pushed =
            pending & ICSK_ACK_PUSHED2 != 0 || (pending & ICSK_ACK_PUSHED != 0 && !self.inet_csk_in_pingpong_mode());
        let drained = self.q.rcv_buf.is_empty() && self.q.out_of_order_queue.is_empty();
        let time_to_ack = self.rcv.nxt.since(self.rcv.wup) > self.rcv.mss || (copied > 0 && pushed && drained);
        if time_to_ack {
            let (l, r, nxt) = (self.local, self.remote, self.rcv.nxt);
            let now = cx.now;
            cx.trace.emit(now, EventKind::Tcp, "RFC 1122 §4.2.3.2", || {
                format!("{l} {r}: ACK {nxt} after the read (Linux tcp_cleanup_rbuf)")
            });
            self.send_ack(cx, cfg);
        }
        time_to_ack
    }

    /// `tcp_send_dupack`: an unacceptable segment is answered at once; if
    /// it repeats data we have (a retransmission whose ACK was lost),
    /// quick ACKs again, and with SACK a D-SACK for it (RFC 2883 §4).
    /// `seg_len` counts SYN and FIN, as Linux's `end_seq` does.
    pub fn tcp_send_dupack(&mut self, cfg: &TcpConfig, seq: super::seq::SeqNumber, seg_len: usize) {
        if seg_len > 0 && seq.before(self.rcv.nxt) {
            self.tcp_enter_quickack_mode(cfg, TCP_MAX_QUICKACKS);
            // (Not from TIME_WAIT or a half-open child: Linux answers those
            // from its mini sockets, with no SACK option.)
            if self.sack.ok && !matches!(self.state, TcpState::TimeWait | TcpState::SynReceived) {
                self.sack.dsack = Some((seq, (seq + seg_len).min_seq(self.rcv.nxt)));
            }
        }
        self.rcv.ack_now = true;
    }
}
