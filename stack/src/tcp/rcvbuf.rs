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
use super::{TcpConfig, RMEM_MAX};
use crate::cx::Cx;
use crate::time::Instant;
use crate::trace::EventKind;
use crate::wire::tcp::MAX_WSCALE;

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
                let first = self.rcv.ssthresh.min(rcv_wnd).min(TCP_INIT_CWND * self.advmss(cfg));
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
                let advmss = self.advmss(cfg);
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

/// The window itself, from the buffer (moved here from sock.rs beside the
/// autotuning that grows the buffer it is made from): Linux
/// `tcp_select_initial_window` (SYN), `tcp_init_buffer_space`,
/// `tcp_grow_window` (rcv_ssthresh), `__tcp_select_window` (every segment).
impl TcpSock {
    /// Linux `tcp_select_initial_window`: the window of our SYN or SYN-ACK,
    /// our window scale and `window_clamp`. `mss`: the MSS we advertise,
    /// less the timestamp option when it will ride on every segment (the
    /// passive side knows; `tcp_openreq_init_rwin`). The window is the
    /// buffer's space rounded down to whole segments, at most 65535; the
    /// scale covers the largest buffer autotuning could grow to
    /// (`tcp_rmem[2]`, `rmem_max`), or the buffer itself if the application
    /// set SO_RCVBUF.
    pub fn select_initial_window(&mut self, cfg: &TcpConfig, mss: usize, wscale_ok: bool) {
        let full = self.full_space();
        let clamp = if self.opt.rcvbuf_lock { full } else { 65535 << MAX_WSCALE };
        let mut space = full.min(clamp);
        if space > mss && mss > 0 {
            space -= space % mss;
        }
        self.rcv.last_wnd = space.min(65535);
        self.rcv.wscale = 0;
        if wscale_ok {
            let s = space.max(cfg.rcvbuf_max).max(RMEM_MAX).min(clamp).max(1);
            self.rcv.wscale = (s.ilog2() as u8).saturating_sub(15).min(MAX_WSCALE);
        }
        self.rcv.window_clamp = clamp.min(65535 << self.rcv.wscale);
        self.rcv.ssthresh = self.rcv.last_wnd;
    }

    /// Linux `tcp_init_buffer_space`, when the connection is established:
    /// the window is clamped one segment short of the buffer
    /// (`tcp_app_win` = 31), and `rcv_ssthresh` to that; an unlocked send
    /// buffer grows to hold two initial windows of segments
    /// (`tcp_sndbuf_expand`).
    pub fn init_buffer_space(&mut self, cfg: &TcpConfig) {
        let advmss = self.advmss(cfg);
        let maxwin = self.full_space();
        if self.rcv.window_clamp >= maxwin {
            // `maxwin - (maxwin >> 31)`, at least 4 segments.
            self.rcv.window_clamp = if maxwin > 4 * advmss { maxwin } else { self.rcv.window_clamp.min(maxwin) };
        }
        if self.rcv.window_clamp > 2 * advmss && self.rcv.window_clamp + advmss > maxwin {
            self.rcv.window_clamp = (2 * advmss).max(maxwin.saturating_sub(advmss));
        }
        self.rcv.ssthresh = self.rcv.ssthresh.min(self.rcv.window_clamp);
        if !self.opt.sndbuf_lock {
            // Each segment as Linux counts it without TSO: its skb head
            // (payload, MAX_TCP_HEADER 320, skb_shared_info 320) rounded up
            // to a power of two, plus the sk_buff (256); twice a window of
            // max(10, cwnd) segments, as cubic asks.
            let per_mss = (self.snd.mss.max(1) + 320 + 320).next_power_of_two() + 256;
            let segs = (self.cong.cwnd / self.snd.mss.max(1)).max(10);
            let sndmem = 2 * segs * per_mss;
            if self.q.sndbuf < sndmem {
                self.q.sndbuf = sndmem.min(cfg.sndbuf_max.max(self.q.sndbuf));
            }
        }
    }

    /// Linux `tcp_grow_window`, for `len` bytes received in order: raise
    /// `rcv_ssthresh` by two segments (or twice the segment) toward the
    /// clamp and the free space. (Linux first checks the skb's memory
    /// cost; counted as twice its payload, as here, it always passes.)
    pub fn grow_window(&mut self, cfg: &TcpConfig, len: usize) {
        let limit = self.rcv.window_clamp.min(self.rcv_space());
        if limit > self.rcv.ssthresh {
            let incr = (2 * self.advmss(cfg)).max(2 * len);
            self.rcv.ssthresh += (limit - self.rcv.ssthresh).min(incr);
        }
    }

    /// Linux `__tcp_select_window`: the window we could offer now, before
    /// the rule that it never shrinks. Receiver-side silly window
    /// avoidance (RFC 1122 §4.2.3.3): below half the buffer, a window under
    /// one segment (or 1/16 of the buffer) is offered as zero; without
    /// window scaling the window is a multiple of the peer's MSS, kept as
    /// it is while within one segment of the free space.
    pub fn compute_window(&self) -> usize {
        let ws = self.rcv.wscale;
        let mut mss = self.rcv.mss as isize;
        let mut free = self.rcv_space() as isize;
        let allowed = self.full_space() as isize;
        let full = (self.rcv.window_clamp as isize).min(allowed);
        if mss > full {
            mss = full;
            if mss <= 0 {
                return 0;
            }
        }
        if free < full >> 1 {
            free &= !((1isize << ws) - 1);
            if free < allowed >> 4 || free < mss {
                return 0;
            }
        }
        free = free.min(self.rcv.ssthresh as isize);
        if ws > 0 {
            // Up to the scale's granularity, so that it is not scaled away.
            return ((free + (1 << ws) - 1) & !((1isize << ws) - 1)) as usize;
        }
        let mut window = self.rcv.last_wnd as isize;
        if window <= free - mss || window > free {
            window = free / mss * mss;
        } else if mss == full && free > window + (full >> 1) {
            window = free;
        }
        window.max(0) as usize
    }

    /// Linux `tcp_select_window`: the window field for the next segment we
    /// send. The right edge never moves left (RFC 9293 §3.8.6.2.2: shrinking
    /// the window is discouraged): what is left of the last window, rounded
    /// up to the scale, if the new one would be less.
    pub fn select_window(&mut self) -> u16 {
        let ws = self.rcv.wscale;
        let cur = self.rcv.wnd();
        let mut wnd = self.compute_window();
        if wnd < cur {
            let g = (1usize << ws) - 1;
            wnd = (cur + g) & !g;
        }
        self.rcv.last_wnd = wnd;
        self.rcv.adv = self.rcv.nxt + wnd;
        (wnd.min(65535 << ws) >> ws) as u16
    }

    /// Window to put in a SYN or SYN-ACK: never scaled (RFC 7323 §2.2), the
    /// one `select_initial_window` chose.
    pub fn syn_window(&mut self) -> u16 {
        let wnd = self.rcv.last_wnd.min(65535);
        self.rcv.adv = self.rcv.nxt + wnd;
        wnd as u16
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
        let mut probe = crate::tcp::ProbeQueue::default();
        let mut cx = Cx { now, stats: &mut stats, trace: &mut trace, probe: &mut probe, rng: &mut rng, out: &mut out };
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
