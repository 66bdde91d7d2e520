//! Sending: segment building, `tcp_write_xmit`, ACKs, resets and probes; the
//! FIN of a CLOSE (`close_send_side`) and the window update after a read.
//!
//! Read first: RFC 9293 §3.8.6 (managing the window), RFC 1122 §4.2.3.4
//! (sender silly-window avoidance, Nagle), RFC 896 (Nagle's algorithm),
//! RFC 5681 §3 (the congestion window limits what is sent), RFC 6298 §5
//! (arming the retransmission timer). Linux: net/ipv4/tcp_output.c
//! (`tcp_write_xmit`, `tcp_transmit_skb`, `tcp_send_ack`, `tcp_send_active_reset`,
//! `tcp_xmit_probe_skb`, `tcp_nagle_test`).
//!
//! Every segment is built the same way: `SkBuff::for_xmit(payload)` reserves
//! the headroom once, the payload is copied in from the send buffer (the one
//! copy on the way out), and the TCP header is pushed in front of it with its
//! checksum. IP and Ethernet push theirs below.

use super::seq::SeqNumber;
use super::sock::TimerKind;
use super::sock::{TcpSock, TcpState};
use super::TcpConfig;
use crate::cx::{Cx, L4Xmit};
use crate::skbuff::{self, SkBuff};
use crate::socket::MsgFlags;
use crate::stats::Counter;
use crate::trace::EventKind;
use crate::wire::ipv4::PROTO_TCP;
use crate::wire::tcp::{field, finish_checksum, TcpFlags, TcpOptions, TcpRepr, MAX_SACK_BLOCKS, TS_OPT_LEN};
use std::collections::VecDeque;
use std::net::SocketAddrV4;

/// Copy `dst.len()` bytes starting at `off` out of a ring buffer (two slices at most).
pub fn copy_from_deque(dq: &VecDeque<u8>, off: usize, dst: &mut [u8]) {
    let (a, b) = dq.as_slices();
    let n = dst.len();
    if off < a.len() {
        let k = (a.len() - off).min(n);
        dst[..k].copy_from_slice(&a[off..off + k]);
        if k < n {
            dst[k..].copy_from_slice(&b[..n - k]);
        }
    } else {
        let o = off - a.len();
        dst.copy_from_slice(&b[o..o + n]);
    }
}

/// Build a segment with no socket behind it (a RST for a closed port, RFC
/// 9293 §3.10.7.1, or for an ACK to a listener, §3.10.7.2: `rfc` says which).
pub fn send_reset(
    cx: &mut Cx,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    seq: SeqNumber,
    ack: Option<SeqNumber>,
    rfc: &'static str,
) {
    let flags = if ack.is_some() { TcpFlags::RST | TcpFlags::ACK } else { TcpFlags::RST };
    let h = TcpRepr::new(local.port(), remote.port(), seq, ack, flags, 0);
    let mut skb = SkBuff::for_xmit(0);
    h.write(skb.push(h.hdr_len()));
    finish_checksum(*local.ip(), *remote.ip(), skb.data_mut());
    cx.stats.inc(Counter::TcpRstTx);
    let now = cx.now;
    cx.trace.emit(now, EventKind::Tcp, rfc, || {
        format!("{local} > {remote}: RST seq {seq} ack {}", ack.map_or("-".into(), |a| a.to_string()))
    });
    cx.out.push_back(L4Xmit { src: *local.ip(), dst: *remote.ip(), protocol: PROTO_TCP, skb, ttl: None, tos: 0 });
}

impl TcpSock {
    /// `tcp_transmit_skb`: build one segment from `seq` carrying `len` bytes
    /// of the send buffer (at `seq`) and queue it for IP.
    pub fn transmit(&mut self, cx: &mut Cx, cfg: &TcpConfig, seq: SeqNumber, flags: TcpFlags, len: usize) {
        let syn = flags.has(TcpFlags::SYN);
        let window = if syn { self.syn_window() } else { self.select_window() };
        // RFC 7323 §1.3, RFC 2018 §2: options offered in a SYN; in a SYN-ACK
        // only if the SYN had them (`syn_options` recorded that).
        let offering = syn && self.state == TcpState::SynSent;
        let advmss = self.advmss(cfg) as u16;
        let mut h = TcpRepr {
            options: TcpOptions {
                mss: syn.then_some(advmss),
                wscale: (syn && cfg.window_scaling && (offering || self.snd_wscale_ok())).then_some(self.rcv.wscale),
                sack_permitted: syn && cfg.sack && (offering || self.sack.ok),
                // RFC 7323 §3.2: TSval on every segment once agreed; TSecr is
                // TS.Recent (zero in our SYN, which echoes nothing).
                timestamp: ((syn && cfg.timestamps && offering) || self.ts.ok)
                    .then(|| (self.ts_val(cx.now), if offering { 0 } else { self.ts.recent })),
                ..TcpOptions::default()
            },
            ..TcpRepr::new(
                self.local.port(),
                self.remote.port(),
                seq,
                flags.has(TcpFlags::ACK).then_some(self.rcv.nxt),
                flags,
                window,
            )
        };
        if !syn && flags.has(TcpFlags::ACK) && !flags.has(TcpFlags::RST) {
            // RFC 2018 §4: SACK blocks on every ACK while we hold data out of
            // order, as many as the option space holds and, beside a payload,
            // as fit within the MSS (RFC 6691: options count against it).
            let mut room = if h.options.timestamp.is_some() { MAX_SACK_BLOCKS - 1 } else { MAX_SACK_BLOCKS };
            if len > 0 {
                // A TSO packet is cut into segments that each carry the
                // blocks: up to the MSS less their room (Linux `tcp_current_mss`).
                let seg = if len > self.snd.mss { self.snd.mss - (4 + 8 * room).min(self.snd.mss / 2) } else { len };
                room = room.min(self.snd.mss.saturating_sub(seg).saturating_sub(4) / 8);
            }
            (h.options.sack, h.options.sack_n) = self.sack_blocks_for_ack(room);
            if h.options.sack_n > 0 && self.sack.dsack.take().is_some() {
                cx.stats.inc(Counter::TcpDsackSent);
            }
        }
        if !syn && !flags.has(TcpFlags::RST) {
            // Urgent mode: URG and the pointer (urgent.rs).
            self.urg_header(&mut h);
        }
        let off = seq.since(self.q.snd_buf_seq);
        debug_assert!(len == 0 || (seq.after_eq(self.q.snd_buf_seq) && off + len <= self.q.snd_buf.len()));
        let len = len.min(self.q.snd_buf.len().saturating_sub(off));
        let mut skb = SkBuff::for_xmit(len);
        if len > 0 {
            copy_from_deque(&self.q.snd_buf, off, skb.put(len));
        }
        h.write(skb.push(h.hdr_len()));
        if cfg.csum_offload {
            // The device sums the segment; we give it the pseudo-header.
            skbuff::set_partial(&mut skb, *self.local.ip(), *self.remote.ip(), PROTO_TCP, field::CHECKSUM.start as u16);
        } else {
            finish_checksum(*self.local.ip(), *self.remote.ip(), skb.data_mut());
        }
        if len > self.snd.mss {
            // TSO: the device cuts it into MSS-sized segments, less the room
            // SACK blocks take, since each piece carries them.
            let blocks = if h.options.sack_n > 0 { 4 + 8 * h.options.sack_n as usize } else { 0 };
            skb.set_gso_tcpv4((self.snd.mss - blocks) as u16);
        }
        self.tcp_probe_tx(cx, &h, len);
        if flags.has(TcpFlags::ACK) {
            self.ts.last_ack_sent = self.rcv.nxt;
            // Any ACK we send carries the latest RCV.NXT: nothing left to
            // delay (`tcp_event_ack_sent`, delack.rs).
            self.tcp_event_ack_sent(cx, cfg);
        }
        if flags.has(TcpFlags::RST) {
            cx.stats.inc(Counter::TcpRstTx);
        }
        if len > 0 {
            // `tcp_event_data_sent` (delack.rs): a reply may make the connection interactive.
            self.tcp_event_data_sent(cx.now);
        }
        let (ttl, tos) = (self.opt.ttl, self.opt.tos);
        cx.out.push_back(L4Xmit { src: *self.local.ip(), dst: *self.remote.ip(), protocol: PROTO_TCP, skb, ttl, tos });
    }

    /// Whether window scaling was agreed: set while processing the peer's SYN.
    fn snd_wscale_ok(&self) -> bool {
        self.snd.wscale_ok
    }

    /// Send (or resend) our SYN (SYN_SENT) or SYN-ACK (SYN_RECEIVED).
    pub fn send_syn(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        let flags = if self.state == TcpState::SynSent { TcpFlags::SYN } else { TcpFlags::SYN | TcpFlags::ACK };
        if self.state == TcpState::SynSent && self.rtt.retrans_stamp.is_none() {
            // Linux `tcp_connect`: connect's time budget counts from the first SYN.
            self.rtt.retrans_stamp = Some(cx.now);
        }
        self.transmit(cx, cfg, self.snd.iss, flags, 0);
        self.snd.nxt = self.snd.iss + 1usize;
        self.snd.max = self.snd.max.max_seq(self.snd.nxt);
    }

    /// `tcp_send_ack`: a pure ACK `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`.
    /// RFC 9293's SND.NXT never moves back; ours does after an RTO (go back
    /// N), so the RFC's value is our `snd_max`. An ACK sent with a rewound
    /// sequence number would fall left of the peer's window and be dropped
    /// unread (Linux `tcp_acceptable_seq` makes the same choice).
    pub fn send_ack(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        self.transmit(cx, cfg, self.snd.max, TcpFlags::ACK, 0);
    }

    /// `tcp_send_active_reset`: abort with `<SEQ=SND.NXT><CTL=RST>` (RFC 9293 §3.10.4 ABORT).
    pub fn send_active_reset(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        self.transmit(cx, cfg, self.snd.max, TcpFlags::RST | TcpFlags::ACK, 0);
    }

    /// `tcp_xmit_probe_skb`: a zero-window or keepalive probe. An old
    /// sequence number (SND.UNA - 1) makes the peer answer with an ACK that
    /// carries its current window (RFC 9293 §3.8.6.1, RFC 1122 §4.2.3.6).
    pub fn send_probe(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        self.transmit(cx, cfg, self.snd.una - 1usize, TcpFlags::ACK, 0);
    }

    /// Send `len` bytes from `seq` (plus FIN if it is the last of the stream),
    /// updating SND.NXT/SND.MAX, Karn's timing and the RTO timer.
    /// `rfc`: the clause that asks for it, should it be a retransmission.
    pub(super) fn xmit_data(
        &mut self,
        cx: &mut Cx,
        cfg: &TcpConfig,
        seq: SeqNumber,
        len: usize,
        fin: bool,
        rfc: &'static str,
    ) {
        let mut flags = TcpFlags::ACK;
        if len > 0 {
            let mss = self.mss_now();
            if self.psh_for(seq, len, mss) {
                flags = flags | TcpFlags::PSH;
            }
            if !len.is_multiple_of(mss) && !seq.before(self.snd.max) {
                // Linux `tcp_minshall_update`: a segment short of whole MSSs.
                self.snd.sml = seq + len;
            }
        }
        if fin {
            flags = flags | TcpFlags::FIN;
        }
        let end = seq + len + usize::from(fin);
        let retransmission = seq.before(self.snd.max);
        if retransmission {
            // Karn's rule (RFC 6298 §3): never time a retransmitted segment.
            self.rtt.timed = None;
            self.rtt.retrans_high = self.rtt.retrans_high.max_seq(end);
            self.ts.rtx_tsval = self.ts_val(cx.now);
            self.total_retrans += 1;
            cx.stats.inc(Counter::TcpRetransmits);
            let (l, r) = (self.local, self.remote);
            let now = cx.now;
            cx.trace.emit(now, EventKind::TcpRetransmit, rfc, || {
                format!("{l} {r}: retransmit seq {seq}:{end} ({len} bytes{})", if fin { " + FIN" } else { "" })
            });
        } else if self.rtt.timed.is_none() {
            self.rtt.timed = Some((end, cx.now));
        }
        self.transmit(cx, cfg, seq, flags, len);
        if self.rack_active(cfg) {
            // RFC 8985 §6.1: when each segment left (rack.rs), and PRR's
            // count of what went during the reduction (prr.rs).
            self.rack_on_xmit(cx.now, seq, end);
            if self.cong.in_recovery {
                self.prr_on_xmit(len);
            }
        }
        if end.after(self.snd.nxt) {
            self.snd.nxt = end;
        }
        if end.after(self.snd.max) {
            self.snd.max = end;
        }
        self.arm_rto_if_idle(cx);
        if !retransmission {
            self.schedule_loss_probe(cx, cfg, false);
        }
    }

    /// New data sent as a tail loss probe (RFC 8985 §7.3): not itself a
    /// reason to schedule another probe.
    pub fn xmit_probe_data(&mut self, cx: &mut Cx, cfg: &TcpConfig, seq: SeqNumber, len: usize, fin: bool) {
        self.xmit_data(cx, cfg, seq, len, fin, "RFC 8985 §7.3");
        self.tlp_armed = false;
    }

    /// Retransmit the first unacknowledged segment (fast retransmit, RTO),
    /// whatever the windows say. `rfc`: the clause that asks for it.
    pub fn retransmit_head(&mut self, cx: &mut Cx, cfg: &TcpConfig, rfc: &'static str) {
        let hole_end = self.sacked_next_after(self.snd.una).unwrap_or(self.snd.max);
        self.retransmit_range(cx, cfg, self.snd.una, hole_end, rfc);
    }

    /// Retransmit one segment from `seq`, no further than `hole_end` (the
    /// next SACKed byte, or SND.MAX), with the FIN if it lies in the range.
    /// Returns the end of what went (`seq` if nothing did).
    pub fn retransmit_range(
        &mut self,
        cx: &mut Cx,
        cfg: &TcpConfig,
        seq: SeqNumber,
        hole_end: SeqNumber,
        rfc: &'static str,
    ) -> SeqNumber {
        let data_end = self.snd_end();
        // A whole MSS: the segment being repaired was at most that, and
        // `transmit` leaves out SACK blocks that would not fit beside it
        // (sized to `mss_now`, a hole could need a second, tiny segment).
        let len = data_end.since(seq).min(hole_end.since(seq)).min(self.snd.mss);
        let fin = self.fin_sent() && seq + len == data_end && hole_end.after(data_end);
        if len == 0 && !fin {
            return seq;
        }
        self.xmit_data(cx, cfg, seq, len, fin, rfc);
        // (Linux leaves a reorder timer running: `tcp_xmit_retransmit_queue`.)
        if seq == self.snd.una && self.state.is_synchronized() && !self.rack.reo_armed {
            // The head went again: its RTO counts from now (Linux
            // `tcp_xmit_retransmit_queue` re-arms it so), else a timer set
            // by an older ACK fires in the middle of a repair under way.
            let rto = self.rtt.rto;
            self.timers.set(TimerKind::Retransmit, cx.now + rto);
            self.tlp_armed = false;
        }
        seq + len + usize::from(fin)
    }

    /// Whether this socket may send data now (any synchronized state before
    /// our FIN went, or when retransmitting after it).
    fn can_send_data(&self) -> bool {
        matches!(
            self.state,
            TcpState::Established | TcpState::CloseWait | TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
        )
    }

    /// Payload bytes one segment carries now: the MSS (timestamps already
    /// taken off, `syn_options`) less the SACK blocks an ACK would carry,
    /// and no more than half the largest window the peer offered (Linux
    /// `tcp_bound_to_half_wnd` in `tcp_sync_mss`: RFC 1122 §4.2.3.4's
    /// sender SWS avoidance, Fs = 1/2, made the segment size).
    pub fn mss_now(&self) -> usize {
        let room = if self.ts.ok { MAX_SACK_BLOCKS - 1 } else { MAX_SACK_BLOCKS };
        let max_wnd = self.snd.max_wnd;
        let cutoff = if max_wnd > super::DEFAULT_PEER_MSS { max_wnd / 2 } else { max_wnd };
        let mut mss = self.snd.mss;
        if cutoff > 0 && mss > cutoff {
            // At least 68 bytes of segment (RFC 791) less the TCP header.
            let hdr = 20 + if self.ts.ok { TS_OPT_LEN } else { 0 };
            mss = cutoff.max(68 - hdr);
        }
        mss.saturating_sub(self.sack_opt_len(room)).max(8)
    }

    /// Whether a data segment from `seq` carrying `len` bytes carries PSH,
    /// taking the push marks it reaches. Linux sets PSH on the skb that
    /// ends a write (`tcp_push` → `tcp_mark_push`) or is pushed because half
    /// the window went unpushed (`forced_push`); a segment cut from the
    /// front of it carries none. And (observed on Linux 6.18, packetdrill on
    /// a TSO device) every TSO packet of more than one MSS carries PSH.
    fn psh_for(&mut self, seq: SeqNumber, len: usize, mss: usize) -> bool {
        let end = seq + len;
        let mut psh = len > mss;
        if seq.before(self.snd.max) {
            // Sent before: its marks are gone; the end of the data had one.
            return psh || end == self.snd_end();
        }
        while let Some(&m) = self.snd.push_marks.front() {
            if m.after(end) {
                break;
            }
            psh |= m.after(seq);
            self.snd.push_marks.pop_front();
        }
        // An idle connection keeps no allocation (`release_if_empty`).
        super::sock::release_if_empty(&mut self.snd.push_marks);
        psh
    }

    /// Linux `tcp_tso_autosize` (`tcp_tso_segs`): segments per TSO packet,
    /// about a millisecond of the pacing rate (`tcp_update_pacing_rate`:
    /// 200 % of cwnd per SRTT in slow start, 120 % after), at least
    /// `tcp_min_tso_segs` (2). Without TSO, one.
    fn tso_segs(&self, cfg: &TcpConfig, mss: usize) -> usize {
        if cfg.gso_max_size == 0 {
            return 1;
        }
        let ratio: u64 = if self.cong.cwnd < self.cong.ssthresh / 2 { 200 } else { 120 };
        let segs = (self.cong.cwnd / self.snd.mss.max(1)).max(1) as u64;
        // Bytes per second times SRTT in µs; no SRTT yet: unlimited.
        let rate = (mss as u64).saturating_mul(10_000 * ratio).saturating_mul(segs);
        let rate = rate.checked_div(self.rtt.srtt_us).unwrap_or(u64::MAX);
        // `sk_pacing_shift` 10: about 1 ms of it, below the GSO limit.
        let bytes = (rate >> 10).min(cfg.gso_max_size.saturating_sub(1 + 320) as u64) as usize;
        (bytes / mss.max(1)).max(2)
    }

    /// Bytes between SND.UNA and `upto` still in the network as far as we
    /// know: sent, and neither acknowledged nor SACKed.
    fn in_flight_upto(&self, upto: SeqNumber) -> usize {
        let mut n = upto.since(self.snd.una);
        for &(s, e) in &self.sack.sacked {
            if !s.before(upto) {
                break;
            }
            n -= e.min_seq(upto).since(s.max_seq(self.snd.una));
        }
        n
    }

    /// `tcp_write_xmit`: send what the peer's window, the congestion window,
    /// Nagle, TCP_CORK and sender SWS avoidance allow. `force` sends one
    /// segment that the window allows even if SWS/Nagle/cork would hold it
    /// (the persist and cork timers, uncorking: Linux `TCP_NAGLE_PUSH`).
    pub fn tcp_write_xmit(&mut self, cx: &mut Cx, cfg: &TcpConfig, force: bool) {
        self.write_xmit(cx, cfg, force, false);
    }

    /// `tcp_write_xmit` proper; `push_one`: at most one packet (Linux
    /// `tcp_push_one`, as a write fills a chunk). When new data went out,
    /// `tcp_cwnd_validate` (cong.rs) notes whether cwnd was what stopped
    /// it: segments in flight reached cwnd (in bytes: less than an MSS of
    /// room left). Retransmissions do not count, as in Linux, where they
    /// leave by `tcp_xmit_retransmit_queue`.
    fn write_xmit(&mut self, cx: &mut Cx, cfg: &TcpConfig, force: bool, push_one: bool) {
        let prior_max = self.snd.max;
        self.write_xmit_queue(cx, cfg, force, push_one);
        if self.snd.max.after(prior_max) {
            // Linux `tcp_packets_in_flight`, as the path that sent measures it.
            let in_flight = if self.cong.in_recovery && self.rack_active(cfg) {
                self.rack_pipe()
            } else if self.cong.in_recovery && self.sack.ok {
                self.sack_pipe(&self.sack_holes())
            } else {
                self.in_flight_upto(self.snd.nxt)
            };
            let is_cwnd_limited = in_flight + self.snd.mss > self.cong.cwnd;
            self.tcp_cwnd_validate(cx, is_cwnd_limited);
        }
    }

    /// The sending loop of `tcp_write_xmit`.
    fn write_xmit_queue(&mut self, cx: &mut Cx, cfg: &TcpConfig, mut force: bool, push_one: bool) {
        if !self.can_send_data() {
            return;
        }
        if self.cong.in_recovery && self.rack_active(cfg) {
            self.rack_recovery_xmit(cx, cfg);
            return;
        }
        if self.cong.in_recovery && self.sack.ok {
            self.sack_recovery_xmit(cx, cfg);
            return;
        }
        let mut sent_any = false;
        loop {
            // Going back N after a timeout: what the peer SACKed is not sent
            // again (RFC 6675 §5.1).
            let retransmitting = self.snd.nxt.before(self.snd.max);
            if retransmitting {
                if let Some(e) = self.sacked_end_at(self.snd.nxt) {
                    self.snd.nxt = e;
                    continue;
                }
            }
            let end = self.snd_end();
            let unsent = end.since(self.snd.nxt);
            let fin_pending = self.fin_queued && self.snd.nxt.before_eq(end);
            if unsent == 0 && !fin_pending {
                break;
            }
            // RFC 5681 §3: never more than cwnd in flight (SACKed bytes are
            // not in flight), nor past the peer's window.
            let cwnd_room = self.cong.cwnd.saturating_sub(self.in_flight_upto(self.snd.nxt));
            let rwnd_room = (self.snd.una + self.snd.wnd).since(self.snd.nxt);
            let mss = self.mss_now();
            let len;
            if retransmitting {
                let goal = crate::gso::tcp_size_goal(mss, cfg.gso_max_size, self.snd.max_wnd);
                let mut l = unsent.min(cwnd_room).min(rwnd_room).min(goal);
                if let Some(next) = self.sacked_next_after(self.snd.nxt) {
                    l = l.min(next.since(self.snd.nxt));
                }
                len = l;
            } else {
                // Linux `tcp_snd_wnd_test`: the first segment must fit the
                // peer's window; a smaller piece goes only as a window
                // probe (the persist timer, `tcp_write_wakeup`).
                let first = unsent.min(mss);
                if cwnd_room == 0 || (rwnd_room < first && !(force && rwnd_room > 0)) {
                    break;
                }
                if rwnd_room < first {
                    len = rwnd_room.min(cwnd_room);
                } else if unsent <= mss {
                    // One segment: Linux `tcp_nagle_test`. A FIN riding on
                    // it is never held.
                    let fin_with_it = fin_pending && unsent < rwnd_room.min(cwnd_room);
                    if unsent < mss && !force && !fin_with_it && self.nagle_check() {
                        self.hold_partial(cx, cfg);
                        break;
                    }
                    len = unsent.min(cwnd_room);
                } else {
                    // Linux `tcp_mss_split_point`: whole MSSs up to the
                    // congestion quota (`tcp_cwnd_test`: at most half of
                    // cwnd in one packet, so that two are in flight) and the
                    // TSO size (`tcp_tso_autosize`); the window's end; and a
                    // partial last segment only if Nagle or TCP_CORK would
                    // not hold it.
                    // (The write's chunks, `sendmsg`, are bounded by half
                    // the window; a packet may span several: `tcp_grow_skb`.)
                    let goal = crate::gso::tcp_size_goal(mss, cfg.gso_max_size, usize::MAX);
                    let cwnd_segs = self.cong.cwnd / self.snd.mss.max(1);
                    let quota = (cwnd_segs / 2).max(1).min(self.tso_segs(cfg, mss));
                    let max_len = (quota * mss).min(goal).min(cwnd_room);
                    let needed = unsent.min(rwnd_room);
                    let partial = needed % mss;
                    len = if max_len <= needed {
                        max_len
                    } else if partial > 0 && !force && !(fin_pending && needed == unsent) && self.nagle_check() {
                        if needed == unsent {
                            self.hold_partial(cx, cfg);
                        }
                        needed - partial
                    } else {
                        needed
                    };
                }
            }
            // The FIN rides on the last data segment, or alone; it needs one
            // sequence number of window like a data byte.
            let usable = cwnd_room.min(rwnd_room);
            let fin = fin_pending && len == unsent && usable > len;
            if len == 0 && !fin {
                break;
            }
            let seq = self.snd.nxt;
            // Below SND.MAX after an RTO: go back N, in slow start (RFC 5681 §3.1).
            self.xmit_data(cx, cfg, seq, len, fin, "RFC 5681 §3.1");
            sent_any = true;
            force = false;
            self.persist_backoff = 0;
            self.timer_cancel(cx, TimerKind::Persist, "RFC 9293 §3.8.6.1", "data went out");
            if self.snd.nxt == self.snd_end() {
                self.timers.clear(TimerKind::Cork);
            }
            if push_one {
                break;
            }
        }
        // Data waits and nothing is in flight to bring an ACK: the persist
        // timer probes the window (RFC 9293 §3.8.6.1) or overrides SWS.
        if !sent_any && self.unsent() > 0 && self.snd.una == self.snd.max && !self.timers.is_set(TimerKind::Persist) {
            let t = self.persist_interval(cfg);
            self.timer_set(cx, TimerKind::Persist, t);
        }
    }

    /// Linux `tcp_nagle_check` for a partial segment: TCP_CORK holds it;
    /// Nagle (RFC 896, RFC 1122 §4.2.3.4) holds it while a segment smaller
    /// than the MSS is unacknowledged (Minshall's variant, `tcp_minshall_check`).
    /// Urgent data is never held (`tcp_nagle_test`, urgent.rs).
    fn nagle_check(&self) -> bool {
        if self.tcp_urg_mode() {
            return false;
        }
        self.opt.cork
            || self.opt.more
            || (!self.opt.nodelay
                && self.snd.max != self.snd.una
                && self.snd.sml.after(self.snd.una)
                && !self.snd.sml.after(self.snd.nxt))
    }

    /// A partial segment held: under TCP_CORK, at most `cork_timeout`.
    fn hold_partial(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        if self.opt.cork && !self.timers.is_set(TimerKind::Cork) {
            self.timer_set(cx, TimerKind::Cork, cfg.cork_timeout);
        }
    }

    /// Linux `tcp_sendmsg_locked` for `data` the send buffer has room for:
    /// appended to the unsent tail while it is under the size goal
    /// (`tcp_xmit_size_goal`), then in chunks of the goal. As each chunk
    /// fills it is pushed: marked PSH if half the peer's largest window has
    /// gone unpushed (`forced_push`), else sent on its own if it is the
    /// next to go (`tcp_push_one`). The write's end is marked PSH and
    /// pushed (`tcp_push`).
    /// With `MSG_OOB` the end of the write is the urgent point (`tcp_push`
    /// → `tcp_mark_urg`); with `MSG_MORE` a partial last segment waits.
    pub fn sendmsg(&mut self, cx: &mut Cx, cfg: &TcpConfig, data: &[u8], flags: MsgFlags) {
        let goal = crate::gso::tcp_size_goal(self.mss_now(), cfg.gso_max_size, self.snd.max_wnd).max(1);
        let mut rest = data;
        let mut first = true;
        loop {
            let end = self.snd_end();
            let mut tail = end.since(self.snd.tail_start);
            if self.snd.tail_start.before(self.snd.nxt) || tail >= goal || end.before(self.snd.tail_start) {
                self.snd.tail_start = end;
                tail = 0;
            } else if first && tail > 0 && self.snd.push_marks.back() == Some(&end) {
                // Appending to an skb clears its PSH; the write's end gets it.
                self.snd.push_marks.pop_back();
            }
            first = false;
            let take = (goal - tail).min(rest.len());
            self.q.snd_buf.extend(&rest[..take]);
            rest = &rest[take..];
            if rest.is_empty() {
                break;
            }
            let end = self.snd_end();
            if end.after(self.snd.pushed_seq + self.snd.max_wnd / 2) {
                self.mark_push();
                self.write_xmit(cx, cfg, false, false);
            } else if self.snd.tail_start == self.snd.nxt {
                self.write_xmit(cx, cfg, false, true);
            }
        }
        if flags.contains(MsgFlags::MSG_OOB) {
            self.tcp_mark_urg();
        }
        // `tcp_push`: MSG_MORE leaves the tail unpushed (no PSH) and corks
        // it for this push only.
        let more = flags.contains(MsgFlags::MSG_MORE);
        if !more {
            self.mark_push();
        }
        self.opt.more = more;
        self.tcp_write_xmit(cx, cfg, false);
        self.opt.more = false;
    }

    /// Linux `tcp_mark_push`: the data queued so far ends with PSH.
    pub(super) fn mark_push(&mut self) {
        let end = self.snd_end();
        if self.snd.push_marks.back() != Some(&end) {
            self.snd.push_marks.push_back(end);
        }
        self.snd.pushed_seq = end;
    }

    /// Recovery's new-data step, shared by RFC 6675's NextSeg (2) and
    /// RACK's recovery (rack.rs `rack_recovery_xmit`): one segment of up to
    /// an MSS the peer's window takes, with the FIN if it is next and fits.
    /// Returns whether a segment went.
    pub(super) fn recovery_xmit_new_data(
        &mut self,
        cx: &mut Cx,
        cfg: &TcpConfig,
        mss: usize,
        rfc: &'static str,
    ) -> bool {
        let end = self.snd_end();
        let unsent = end.since(self.snd.nxt);
        let fin_pending = self.fin_queued && self.snd.nxt.before_eq(end);
        let rwnd_room = (self.snd.una + self.snd.wnd).since(self.snd.nxt);
        let len = unsent.min(rwnd_room).min(mss);
        let fin = fin_pending && len == unsent && rwnd_room > len;
        if len > 0 || fin {
            let seq = self.snd.nxt;
            self.xmit_data(cx, cfg, seq, len, fin, rfc);
            return true;
        }
        false
    }

    /// RFC 6675 §5 (C): in SACK recovery, send while `cwnd - pipe` is at
    /// least one segment, each time the segment `NextSeg()` picks: (1) a
    /// hole deemed lost, above HighRxt; (2) new data the peer's window
    /// allows; (3) any other hole below the highest SACK.
    fn sack_recovery_xmit(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        const RFC: &str = "RFC 6675 §5";
        // Each round sends one segment, which raises `pipe` or moves HighRxt
        // or SND.NXT: a cwnd's worth of rounds at most; the bound is a backstop.
        for _ in 0..4096 {
            let mss = self.mss_now();
            let holes = self.sack_holes();
            if self.sack_pipe(&holes) + mss > self.cong.cwnd {
                break;
            }
            // (0) a retransmission found lost (sack.rs `sack_detect_lost_retrans`).
            if let Some((seq, n)) = self.sack_next_relost() {
                let end = self.retransmit_range(cx, cfg, seq, seq + n, "RFC 6675 §4 NextSeg (1), lost retransmission");
                if end == seq {
                    break;
                }
                self.relost_trim(end);
                self.sack_note_retransmit(seq, end);
                continue;
            }
            if let Some((seq, n)) = self.sack_next_retransmit(&holes, 1) {
                let end = self.retransmit_range(cx, cfg, seq, seq + n, "RFC 6675 §4 NextSeg (1)");
                self.sack.high_rxt = self.sack.high_rxt.max_seq(end);
                self.sack_note_retransmit(seq, end);
                if end == seq {
                    break;
                }
                continue;
            }
            // (2) new data: up to an MSS the peer's window takes.
            if self.recovery_xmit_new_data(cx, cfg, mss, RFC) {
                continue;
            }
            if let Some((seq, n)) = self.sack_next_retransmit(&holes, 3) {
                let end = self.retransmit_range(cx, cfg, seq, seq + n, "RFC 6675 §4 NextSeg (3)");
                self.sack.high_rxt = self.sack.high_rxt.max_seq(end);
                self.sack_note_retransmit(seq, end);
                if end == seq {
                    break;
                }
                continue;
            }
            break;
        }
    }

    /// After receiving: send what can go, and the ACK if one is owed and
    /// no data segment carried it.
    pub fn output_after_input(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        self.tcp_write_xmit(cx, cfg, false);
        // `tcp_ack_snd_check` (delack.rs): now, later or not at all.
        self.tcp_ack_snd_check(cx, cfg);
    }

    /// Shut the sending side (SHUT_WR or close): queue our FIN after the data
    /// (RFC 9293 §3.10.4 CLOSE) and move ESTABLISHED -> FIN_WAIT_1 or
    /// CLOSE_WAIT -> LAST_ACK. A connect still in SYN_SENT is abandoned.
    pub fn close_send_side(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        const RFC: &str = "RFC 9293 §3.10.4";
        if self.shut_snd {
            return;
        }
        self.shut_snd = true;
        match self.state {
            TcpState::SynSent => {
                self.tcp_done(cx, None);
                return;
            }
            // "If no SENDs have been issued … form a FIN segment … otherwise,
            // queue for processing after entering ESTABLISHED state": the FIN
            // waits until our SYN is acknowledged.
            TcpState::SynReceived => {
                self.fin_queued = true;
                return;
            }
            TcpState::Established => self.set_state(cx, TcpState::FinWait1, RFC),
            TcpState::CloseWait => self.set_state(cx, TcpState::LastAck, RFC),
            _ => return,
        }
        self.fin_queued = true;
        // The FIN goes now if all data is out (Nagle and cork do not hold a FIN).
        self.tcp_write_xmit(cx, cfg, false);
    }

    /// After the application read: tell the peer if the window opened
    /// enough to matter (Linux `__tcp_cleanup_rbuf`: what is left of the
    /// window is at most half the clamp, and the new one at least twice it).
    pub fn window_update_after_read(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        if !matches!(self.state, TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2) {
            return;
        }
        let cur = self.rcv.wnd();
        if 2 * cur > self.rcv.window_clamp {
            return;
        }
        let new = self.compute_window();
        if new != 0 && new >= 2 * cur {
            let (l, r) = (self.local, self.remote);
            let now = cx.now;
            cx.trace.emit(now, EventKind::TcpWindow, "RFC 1122 §4.2.3.3", || {
                format!("{l} {r}: window update {cur} -> {new} after read")
            });
            self.send_ack(cx, cfg);
        }
    }
}
