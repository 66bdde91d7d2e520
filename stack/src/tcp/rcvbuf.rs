//! Receive-buffer autotuning: Linux's dynamic right-sizing (DRS), under
//! Linux's names (`tcp_rcv_rtt_measure`, `tcp_rcv_rtt_update`,
//! `tcp_rcv_space_adjust`, the growth itself `tcp_rcvbuf_grow` in newer
//! kernels).
//!
//! RFC 7323 §2 lets the window be as large as the scale allows, and
//! RFC 9293 §3.8.6.2 leaves its size to the receiver; what Linux does with
//! that freedom is to start small (`tcp_rmem[1]`: 128 KiB of buffer, a
//! 64 KiB window) and grow the buffer, up to `tcp_rmem[2]`
//! (`TcpConfig::rcvbuf_max`), as long as the application keeps up: once per
//! receiver RTT, if the application read more in the last RTT than in the
//! one before, the buffer is sized for twice that (room for a loss) and
//! more for a sender still in slow start (which doubles per RTT, and the
//! ACK sent now governs the next RTT, not this one). A slow reader never
//! grows it: the bytes must be *read*, not just received. An application
//! that set SO_RCVBUF (`SOCK_RCVBUF_LOCK`) keeps its size, and so does
//! every socket with `tcp_moderate_rcvbuf` off (`TcpConfig::moderate_rcvbuf`;
//! `synack up --rcvbuf N` and `set rcvbuf N` turn it off: they give new
//! sockets a fixed SO_RCVBUF, for labs that need a small window).
//!
//! The receiver's RTT (`rcv_rtt_est`): without data of its own to time, a
//! receiver times how long one window of data takes to arrive
//! (`tcp_rcv_rtt_measure`): from a moment on, until RCV.NXT passes the
//! right edge of the window offered then. It is an upper bound (the sender
//! may not fill the window), so the estimate only ever falls to a lower
//! sample. (Linux also takes samples from timestamps,
//! `tcp_rcv_rtt_measure_ts`; not modelled: the window sample alone moves
//! the same rule, a little later.)
//!
//! In synack's buffer units (sock.rs `full_space`: the payload, half of
//! what getsockopt(SO_RCVBUF) reports, Linux's default scaling ratio),
//! `tcp_space_from_win(rcvwin)` capped by `tcp_rmem[2]` and turned back by
//! `tcp_win_from_space` is `min(rcvwin, rcvbuf_max / 2)`.
//!
//! Linux: net/ipv4/tcp_input.c (`tcp_rcv_rtt_update`, `tcp_rcv_rtt_measure`,
//! `tcp_rcv_space_adjust`, `tcp_init_buffer_space`), net/ipv4/tcp.c
//! (`tcp_recvmsg_locked` calls `tcp_rcv_space_adjust`).

use super::sock::TcpSock;
use super::TcpConfig;
use crate::cx::Cx;
use crate::time::Instant;
use crate::trace::EventKind;

/// `TCP_INIT_CWND`: the first estimate of what a sender sends per RTT.
const TCP_INIT_CWND: usize = 10;

impl TcpSock {
    /// `copied_seq`: the next byte the application will read.
    fn copied_seq(&self) -> super::seq::SeqNumber {
        self.rcv.nxt - self.q.rcv_buf.len()
    }

    /// `tcp_rcv_rtt_update`: fold a sample (µs) into the estimate (kept
    /// times 8). A window sample (`win_dep`) is an upper bound, so it only
    /// lowers the estimate; otherwise an EWMA with gain 1/8.
    fn tcp_rcv_rtt_update(&mut self, sample_us: u64, win_dep: bool) {
        let cur = self.rcvq.rtt_us8;
        self.rcvq.rtt_us8 = if cur == 0 {
            sample_us << 3
        } else if win_dep {
            cur.min(sample_us << 3)
        } else {
            // m -= new_sample >> 3; new_sample += m
            (cur + sample_us).saturating_sub(cur >> 3)
        };
    }

    /// `tcp_rcv_rtt_measure` (from `tcp_event_data_recv`, in-order data
    /// arrived): once RCV.NXT passes the window's right edge as it was when
    /// the measurement began, the time it took is a sample; a new one
    /// begins. The first call also starts the first count of what the
    /// application reads (`tcp_init_buffer_space`'s `rcvq_space`: the
    /// first RTT's guess is the smallest of `rcv_ssthresh`, the window and
    /// ten segments).
    pub(super) fn tcp_rcv_rtt_measure(&mut self, cfg: &TcpConfig, now: Instant, rcv_wnd: usize) {
        match self.rcvq.rtt_time {
            None => {
                // Before the first data: `tcp_init_buffer_space`.
                let first = self.rcv.ssthresh.min(rcv_wnd).min(TCP_INIT_CWND * cfg.mss as usize);
                self.rcvq.space = first.max(1);
                self.rcvq.seq = self.copied_seq();
                self.rcvq.time = now;
            }
            Some(t) => {
                if self.rcv.nxt.before(self.rcvq.rtt_seq) {
                    return;
                }
                let us = now.saturating_since(t).as_micros().max(1) as u64;
                self.tcp_rcv_rtt_update(us, true);
            }
        }
        self.rcvq.rtt_seq = self.rcv.nxt + rcv_wnd;
        self.rcvq.rtt_time = Some(now);
    }

    /// `tcp_rcv_space_adjust` (after the application read): once per
    /// receiver RTT, compare what it read in that RTT (`copied`) with the
    /// RTT before; if more, size the buffer for `2 · copied` plus 16
    /// segments of cushion, plus twice the growth ratio of that (a sender
    /// in slow start doubles), up to `tcp_rmem[2]`; `window_clamp`
    /// follows. `tcp_grow_window` then opens the offered window into the
    /// new room segment by segment, as data arrives.
    pub fn tcp_rcv_space_adjust(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        let now = cx.now;
        if self.rcvq.rtt_us8 == 0 || self.rcvq.space == 0 {
            return;
        }
        let time = now.saturating_since(self.rcvq.time).as_micros() as u64;
        if time < self.rcvq.rtt_us8 >> 3 {
            return;
        }
        // Number of bytes copied to user in last RTT.
        let copied = self.copied_seq().since(self.rcvq.seq);
        if copied > self.rcvq.space {
            if cfg.moderate_rcvbuf && !self.opt.rcvbuf_lock {
                let advmss = cfg.mss as usize;
                let old = self.rcvq.space;
                // Minimal window to cope with packet losses, assuming steady
                // state, with some cushion for small variations.
                let mut rcvwin = 2 * copied + 16 * advmss;
                // Accommodate for sender rate increase (e.g. slow start).
                let grow = (rcvwin as u64 * (copied - old) as u64 / old as u64) as usize;
                rcvwin = rcvwin.saturating_add(2 * grow);
                let rcvbuf = rcvwin.min(cfg.rcvbuf_max / 2);
                if rcvbuf > self.q.rcvbuf {
                    let (l, r, was, rtt) = (self.local, self.remote, self.q.rcvbuf, self.rcvq.rtt_us8 >> 3);
                    cx.trace.emit(now, EventKind::TcpWindow, "RFC 7323 §2", || {
                        format!(
                            "{l} {r}: receive buffer {was} -> {rcvbuf} bytes: the application read {copied} bytes \
                             in the last RTT ({rtt} us), {old} in the one before (Linux tcp_rcv_space_adjust)"
                        )
                    });
                    self.q.rcvbuf = rcvbuf;
                    // Make the window clamp follow along.
                    self.rcv.window_clamp = rcvbuf;
                }
            }
            self.rcvq.space = copied;
        }
        // new_measure:
        self.rcvq.seq = self.copied_seq();
        self.rcvq.time = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stats;
    use crate::time::Duration;
    use crate::trace::Trace;
    use rand::SeedableRng;

    /// An established socket with the default 64 KiB buffer, RCV.NXT 0.
    fn sock(cfg: &TcpConfig) -> TcpSock {
        let mut sk = TcpSock::new(cfg);
        sk.state = super::super::TcpState::Established;
        sk.rcv.window_clamp = sk.q.rcvbuf;
        sk.rcv.ssthresh = sk.q.rcvbuf;
        sk
    }

    /// `n` bytes arrive in order at `now` (as `tcp_data_queue` queues them).
    fn arrive(sk: &mut TcpSock, cfg: &TcpConfig, now: Instant, n: usize) {
        sk.q.rcv_buf.extend(std::iter::repeat_n(0u8, n));
        sk.rcv.nxt += n;
        let wnd = sk.q.rcvbuf;
        sk.tcp_rcv_rtt_measure(cfg, now, wnd);
    }

    /// The application reads everything at `now`.
    fn read_all(sk: &mut TcpSock, cfg: &TcpConfig, now: Instant) {
        sk.q.rcv_buf.clear();
        let (mut stats, mut trace, mut rng, mut out) =
            (Stats::default(), Trace::default(), rand::rngs::StdRng::seed_from_u64(1), Default::default());
        let mut cx = Cx { now, stats: &mut stats, trace: &mut trace, rng: &mut rng, out: &mut out };
        sk.tcp_rcv_space_adjust(&mut cx, cfg);
    }

    fn ms(n: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(n)
    }

    /// A sender that doubles what it sends every 10 ms RTT, read at once.
    fn slow_start(sk: &mut TcpSock, cfg: &TcpConfig, rtts: u64) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut burst = 14_600;
        for r in 0..rtts {
            // The burst in 10 segments over the RTT, read as it comes.
            for i in 0..10 {
                let t = ms(10 * r) + Duration::from_micros(1000 * i);
                arrive(sk, cfg, t, burst / 10);
                read_all(sk, cfg, t);
            }
            sizes.push(sk.q.rcvbuf);
            burst = (burst * 2).min(sk.q.rcvbuf);
        }
        sizes
    }

    #[test]
    fn a_fast_reader_grows_the_buffer_to_rmem2() {
        let cfg = TcpConfig::default();
        let mut sk = sock(&cfg);
        let start = sk.q.rcvbuf;
        let sizes = slow_start(&mut sk, &cfg, 20);
        assert!(sizes.windows(2).all(|w| w[1] >= w[0]), "never shrinks: {sizes:?}");
        assert!(sizes[4] > start, "grows within a few RTTs: {sizes:?}");
        assert_eq!(*sizes.last().unwrap(), cfg.rcvbuf_max / 2, "up to tcp_rmem[2]: {sizes:?}");
        assert_eq!(sk.rcv.window_clamp, sk.q.rcvbuf, "the clamp follows");
        assert!(sk.rcvq.rtt_us8 >> 3 <= 10_000, "an RTT of at most 10 ms: {}", sk.rcvq.rtt_us8 >> 3);
    }

    #[test]
    fn a_steady_reader_stops_growing_it() {
        let cfg = TcpConfig::default();
        let mut sk = sock(&cfg);
        // 64 KiB per 10 ms, steadily, read as it comes: the buffer grows
        // while what is read per RTT does, then stays.
        let mut sizes = Vec::new();
        for r in 0..40u64 {
            for i in 0..10 {
                let t = ms(10 * r) + Duration::from_micros(1000 * i);
                arrive(&mut sk, &cfg, t, 6554);
                read_all(&mut sk, &cfg, t);
            }
            sizes.push(sk.q.rcvbuf);
        }
        assert!(sizes[10..].windows(2).all(|w| w[0] == w[1]), "{sizes:?}");
        assert!(sizes[39] < cfg.rcvbuf_max / 2, "{sizes:?}");
    }

    #[test]
    fn tcp_moderate_rcvbuf_off_keeps_the_size() {
        let cfg = TcpConfig { moderate_rcvbuf: false, ..TcpConfig::default() };
        let mut sk = sock(&cfg);
        let start = sk.q.rcvbuf;
        slow_start(&mut sk, &cfg, 10);
        assert_eq!(sk.q.rcvbuf, start);
    }

    #[test]
    fn so_rcvbuf_locks_the_size() {
        let cfg = TcpConfig::default();
        let mut sk = sock(&cfg);
        sk.opt.rcvbuf_lock = true;
        let start = sk.q.rcvbuf;
        slow_start(&mut sk, &cfg, 10);
        assert_eq!(sk.q.rcvbuf, start);
    }
}
