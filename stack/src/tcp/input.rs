//! Receiving: `tcp_v4_rcv` checks the segment and finds its socket, then
//! RFC 9293 §3.10.7 "SEGMENT ARRIVES" runs in the RFC's order:
//! §3.10.7.1 CLOSED (no socket: reset), §3.10.7.2 LISTEN and §3.10.7.3
//! SYN_SENT are in handshake.rs (`Tcp::closed_rcv`, `Tcp::listen_rcv`,
//! `TcpSock::rcv_synsent`); here, `Tcp::conn_rcv` and §3.10.7.4 every other
//! state (`TcpSock::tcp_rcv_state_process`: first check sequence number …
//! eighth, check the FIN bit), with `tcp_ack` and `tcp_data_queue`.
//!
//! Read first: RFC 9293 §3.10.7, RFC 5961 (RST and SYN in window, challenge
//! ACKs), RFC 5681 §2-§4 (duplicate ACKs, cwnd), RFC 6582 (NewReno),
//! RFC 6298 §3 (RTT samples, Karn), RFC 1122 §4.2.2.20-21, §4.2.3.2 (ACK
//! generation). Linux: net/ipv4/tcp_ipv4.c `tcp_v4_rcv`,
//! net/ipv4/tcp_input.c `tcp_rcv_state_process`, `tcp_rcv_established`,
//! `tcp_ack`, `tcp_data_queue`, `tcp_data_queue_ofo`, `tcp_fin`.

use super::delack::TCP_MAX_QUICKACKS;
use super::sack::SackUpdate;
use super::seq::SeqNumber;
use super::sock::{release_if_empty, OfoSeg, Owner, TcpSock, TcpState, TimerKind};
use super::{Tcp, TcpConfig, MAX_OFO_SEGMENTS};
use crate::cx::Cx;
use crate::errno::Errno;
use crate::skbuff::SkBuff;
use crate::socket::PollFlags;
use crate::stats::{Counter, DropReason};
use crate::trace::EventKind;
use crate::wire::tcp::{tcp_parse_skb, TcpFlags, TcpPacket, TcpRepr};
use std::net::{Ipv4Addr, SocketAddrV4};

/// What the socket table knows that the connection needs while it processes a segment.
pub struct RcvEnv<'a> {
    /// A passive child's listener has a full accept queue (the final ACK of
    /// the handshake is then dropped, as Linux does without `tcp_abort_on_overflow`).
    pub accept_queue_full: bool,
    /// The stack-wide challenge ACK budget (RFC 5961 §7).
    pub challenge_acks: &'a mut ChallengeAckLimit,
}

/// RFC 5961 §7: "limit the number of challenge ACKs sent" — Linux's global
/// `tcp_challenge_ack_limit` per second. The second is read from `now`, so
/// the limit is deterministic.
#[derive(Debug, Default)]
pub struct ChallengeAckLimit {
    /// The second (of `now`) the count is for.
    second: u64,
    /// Challenge ACKs sent in that second.
    count: u32,
}

impl ChallengeAckLimit {
    /// May one more challenge ACK go out at `now`, with `limit` per second?
    pub fn allow(&mut self, now: crate::time::Instant, limit: u32) -> bool {
        let second = now.total_micros() / 1_000_000;
        if second != self.second {
            self.second = second;
            self.count = 0;
        }
        if self.count >= limit {
            return false;
        }
        self.count += 1;
        true
    }
}

impl Tcp {
    /// A segment for us: `skb.data()` starts at the TCP header. The IP layer
    /// has checked the IP header; the TCP checksum is for TCP to check.
    pub fn tcp_v4_rcv(&mut self, cx: &mut Cx, src: Ipv4Addr, dst: Ipv4Addr, skb: SkBuff) {
        let h = match tcp_parse_skb(src, dst, &skb) {
            Ok(h) => h,
            Err(reason) => {
                return cx.drop_packet(reason, reason.rfc(), || format!("{src} > {dst}: bad TCP header"));
            }
        };
        let payload = &skb.data()[TcpPacket::new_unchecked(skb.data()).header_len()..];
        if h.syn() {
            // Options read only on a SYN, answered as the RFCs say rather than
            // dropped; counted so `stats` shows them.
            if h.options.mss_zero {
                cx.stats.inc(Counter::TcpOptMssZero);
                let now = cx.now;
                cx.trace.emit(now, EventKind::Tcp, "RFC 9293 §3.7.1", || {
                    format!("{src}:{} > {dst}:{}: MSS option 0 ignored, default 536", h.src_port, h.dst_port)
                });
            }
            if h.options.wscale_clamped {
                cx.stats.inc(Counter::TcpOptWscaleClamped);
                let now = cx.now;
                cx.trace.emit(now, EventKind::Tcp, "RFC 7323 §2.3", || {
                    format!("{src}:{} > {dst}:{}: window scale above 14, 14 used", h.src_port, h.dst_port)
                });
            }
        }
        let local = SocketAddrV4::new(dst, h.dst_port);
        let remote = SocketAddrV4::new(src, h.src_port);

        // Demux: the 4-tuple table first (`__inet_lookup_established`), then listeners.
        if let Some(&i) = self.conns.get(&(local, remote)) {
            if self.time_wait_reuse(cx, i, &h) {
                // RFC 6191 / Linux `tcp_timewait_state_process`: a new SYN
                // above the old RCV.NXT ends TIME_WAIT; the listener takes it.
            } else {
                return self.conn_rcv(cx, i, &h, payload);
            }
        }
        if let Some(&li) = self.listeners.get(&local.port()) {
            let lip = self.socks[li].as_ref().map(|s| *s.local.ip());
            if lip.is_some_and(|ip| ip.is_unspecified() || ip == dst) {
                return self.listen_rcv(cx, li, local, remote, &h, payload);
            }
        }
        self.closed_rcv(cx, local, remote, &h, payload.len());
    }

    /// A segment for a connection (any state but LISTEN).
    pub(super) fn conn_rcv(&mut self, cx: &mut Cx, i: usize, h: &TcpRepr, payload: &[u8]) {
        let Some(mut sk) = self.socks[i].take() else { return };
        let accept_queue_full = match sk.owner {
            Owner::Child { listener } => self
                .socks
                .get(listener)
                .and_then(|l| l.as_ref())
                .is_some_and(|l| l.listen.as_ref().is_some_and(|q| q.accept_queue_full())),
            _ => false,
        };
        let mut env = RcvEnv { accept_queue_full, challenge_acks: &mut self.challenge_acks };
        let before = sk.state;
        let cfg = &self.config;
        let r = match sk.state {
            TcpState::SynSent => sk.rcv_synsent(cx, cfg, h, payload),
            TcpState::Established => sk.tcp_rcv_established(cx, cfg, h, payload, &mut env),
            _ => sk.tcp_rcv_state_process(cx, cfg, h, payload, &mut env),
        };
        if let Err((reason, rfc)) = r {
            let (l, rm) = (sk.local, sk.remote);
            cx.drop_packet(reason, rfc, || {
                format!(
                    "{rm} > {l}: {:?} seq {} ack {} len {} in {}",
                    h.flags,
                    h.seq,
                    fmt_ack(h),
                    payload.len(),
                    before.rfc_name()
                )
            });
        }
        sk.tcp_probe_rx(cx, h, payload.len());
        // Whatever happened, send what can go now and any ACK that is owed.
        if sk.state != TcpState::Closed {
            sk.output_after_input(cx, cfg);
        }
        self.finish(cx, i, sk, before);
    }
}

fn fmt_ack(h: &TcpRepr) -> String {
    h.ack.map_or("-".into(), |a| a.to_string())
}

/// A drop, with the RFC clause that decided it.
pub(super) type Drop = (DropReason, &'static str);

impl TcpSock {
    /// `tcp_rcv_established`: Linux's fast path guesses the next segment
    /// (header prediction); synack runs the same steps as every other state,
    /// so this is the general path, kept under the kernel's name.
    pub fn tcp_rcv_established(
        &mut self,
        cx: &mut Cx,
        cfg: &TcpConfig,
        h: &TcpRepr,
        payload: &[u8],
        env: &mut RcvEnv,
    ) -> Result<(), Drop> {
        self.tcp_rcv_state_process(cx, cfg, h, payload, env)
    }

    /// RFC 9293 §3.10.7.4 "Otherwise" (SYN_RECEIVED … TIME_WAIT), step by step.
    pub fn tcp_rcv_state_process(
        &mut self,
        cx: &mut Cx,
        cfg: &TcpConfig,
        h: &TcpRepr,
        payload: &[u8],
        env: &mut RcvEnv,
    ) -> Result<(), Drop> {
        const STEP1: &str = "RFC 9293 §3.10.7.4 step 1";
        const STEP2: &str = "RFC 9293 §3.10.7.4 step 2";
        const STEP5: &str = "RFC 9293 §3.10.7.4 step 5";
        const STEP7: &str = "RFC 9293 §3.10.7.4 step 7";

        // RFC 9293 Figure 8, line 6 (simultaneous open): in SYN_RECEIVED the
        // peer's SYN-ACK repeats the SYN we took in SYN_SENT and acknowledges
        // ours. Its SYN is old news and its ACK completes the handshake, so
        // read it as the ACK at IRS+1; the letter of the acceptability test
        // below would reject it and cost the handshake one more crossing.
        // Linux (`tcp_rcv_state_process`, "handle simultaneous open SYN-ACK
        // in SYN_RECV") lets it pass on an active socket when it carries
        // nothing else and acknowledges exactly our SYN; its SYN then reaches
        // `tcp_data_queue` as a duplicate: D-SACK and a quick ACK (below).
        let trimmed;
        let dup_syn = self.state == TcpState::SynReceived
            && !matches!(self.owner, Owner::Child { .. })
            && h.syn()
            && !h.rst()
            && !h.fin()
            && payload.is_empty()
            && h.seq == self.rcv.irs
            && h.seq + 1usize == self.rcv.nxt
            && h.ack == Some(self.snd.nxt);
        let h = if dup_syn {
            trimmed = TcpRepr { seq: h.seq + 1, flags: TcpFlags(h.flags.0 & !TcpFlags::SYN.0), ..*h };
            &trimmed
        } else {
            h
        };
        let seg_len = payload.len() + usize::from(h.syn()) + usize::from(h.fin());

        // A retransmitted SYN while we are in SYN_RECEIVED: our SYN-ACK was
        // lost, send it again (Linux `tcp_check_req`).
        if self.state == TcpState::SynReceived && h.syn() && h.ack.is_none() && !h.rst() && h.seq == self.rcv.irs {
            // RFC 9293 §3.10.7.4 would answer the old SYN with a bare ACK;
            // Linux resends the whole SYN-ACK, the answer the peer lacks.
            let (l, r) = (self.local, self.remote);
            let now = cx.now;
            cx.trace.emit(now, EventKind::Tcp, "RFC 9293 §3.10.7.4", || {
                format!("{l} {r}: the peer's SYN again: our SYN-ACK was lost, sent again (Linux tcp_check_req)")
            });
            self.send_syn(cx, cfg);
            return Ok(());
        }

        // ---- First, check sequence number. RFC 7323 §5.3 R1 puts PAWS
        // before it: an old duplicate, known by its old timestamp, is
        // acknowledged and dropped whatever its sequence number says.
        if let Some((tsval, _)) = h.options.timestamp {
            if self.paws_reject(cx.now, tsval, h.rst()) {
                if !h.rst() {
                    self.tcp_send_dupack(cfg, h.seq, seg_len);
                }
                return Err((DropReason::TcpPawsRejected, "RFC 7323 §5.3"));
            }
        }
        // Then the four acceptability cases.
        let wnd = self.rcv.wnd();
        let wnd_end = self.rcv.nxt + wnd;
        let mut acceptable = match (seg_len, wnd) {
            (0, 0) => h.seq == self.rcv.nxt,
            (0, _) => h.seq.in_range(self.rcv.nxt, wnd_end),
            (_, 0) => false,
            // "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND or RCV.NXT =< SEG.SEQ+SEG.LEN-1 <
            // RCV.NXT+RCV.WND", widened to any overlap with the window: the
            // RFC's test misses a segment that starts before the window and
            // ends after it, whose middle is new data (Linux `tcp_sequence`
            // accepts it too).
            (_, _) => h.seq.before(wnd_end) && (h.seq + seg_len).after(self.rcv.nxt),
        };
        // "If the RCV.WND is zero, no segments will be acceptable, but special
        // allowance should be made to accept valid ACKs, URGs, and RSTs": a
        // segment at RCV.NXT is processed for its ACK, its text dropped.
        let mut zero_window_text = false;
        if !acceptable && wnd == 0 && h.seq == self.rcv.nxt {
            acceptable = true;
            zero_window_text = true;
        }
        if !acceptable {
            // "If an incoming segment is not acceptable, an acknowledgment
            // should be sent in reply (unless the RST bit is set)".
            if h.syn() && !h.rst() && self.state.is_synchronized() && self.state != TcpState::TimeWait {
                // RFC 5961 §4.2: "If the SYN bit is set, irrespective of the
                // sequence number, TCP MUST send an ACK (also referred to as
                // challenge ACK)" (Linux `tcp_validate_incoming`: syn_challenge),
                // rate limited as every challenge ACK is.
                self.challenge_ack(cx, cfg, env, "RFC 5961 §4.2");
                return Err((DropReason::TcpNotAcceptable, "RFC 5961 §4.2"));
            }
            if !h.rst() {
                // A duplicate of what we have (a retransmission whose ACK was
                // lost) also brings back quick ACKs and, with SACK, an RFC
                // 2883 §4 D-SACK for it (Linux `tcp_send_dupack`, delack.rs).
                self.tcp_send_dupack(cfg, h.seq, seg_len);
            }
            if self.state == TcpState::TimeWait && h.fin() {
                // A retransmitted FIN in TIME_WAIT: ACK it and restart the 2 MSL
                // timeout (step 8, TIME-WAIT STATE).
                self.enter_time_wait(cx, cfg, "RFC 9293 §3.10.7.4 step 8");
            }
            return Err((DropReason::TcpNotAcceptable, STEP1));
        }
        self.last_rcv = cx.now;
        self.probes_out = 0;
        // RFC 7323 §5.3 R3: remember the TSval to echo.
        if let (true, Some((tsval, _))) = (self.ts.ok, h.options.timestamp) {
            self.ts_recent_update(cx.now, tsval, h.seq);
        }

        // ---- Second, check the RST bit (RFC 5961 §3.2: only an exact match resets).
        if h.rst() {
            if h.seq != self.rcv.nxt {
                // In the window but not exact: a challenge ACK, and drop.
                self.challenge_ack(cx, cfg, env, "RFC 5961 §3.2");
                return Err((DropReason::TcpRstInvalid, "RFC 5961 §3.2"));
            }
            let (l, r) = (self.local, self.remote);
            let now = cx.now;
            cx.trace.emit(now, EventKind::Tcp, STEP2, || format!("{l} {r}: RST in {}", self.state.rfc_name()));
            match self.state {
                // Passive open: "return this connection to LISTEN state" — the
                // listener still listens; the child just goes away.
                TcpState::SynReceived if matches!(self.owner, Owner::Child { .. }) => {
                    self.tcp_done_because(cx, None, STEP2)
                }
                // Active open (simultaneous): "connection refused", says the
                // RFC; Linux's `tcp_reset` refuses only in SYN_SENT and
                // reports ECONNRESET here.
                TcpState::SynReceived => self.tcp_done_because(cx, Some(Errno::ECONNRESET), STEP2),
                // Linux `tcp_reset`: in CLOSE_WAIT the peer had already said
                // it was done; the reset only tells us it will not read, and
                // the error is EPIPE.
                TcpState::CloseWait => self.tcp_done_because(cx, Some(Errno::EPIPE), STEP2),
                TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2 => {
                    // "Any outstanding RECEIVEs and SEND should receive 'reset' responses."
                    self.tcp_done_because(cx, Some(Errno::ECONNRESET), STEP2)
                }
                _ => self.tcp_done_because(cx, None, STEP2),
            }
            return Ok(());
        }

        // ---- Third, check security: no IP security options here (nothing to do).

        // ---- Fourth, check the SYN bit: in a synchronized state, RFC 5961 §4.2
        // answers a SYN with a challenge ACK and drops it.
        if h.syn() {
            self.challenge_ack(cx, cfg, env, "RFC 5961 §4.2");
            return Err((DropReason::TcpSynInWindow, "RFC 5961 §4.2"));
        }

        // ---- Fifth, check the ACK field: "if the ACK bit is off, drop the segment".
        let Some(ack) = h.ack else {
            return Err((DropReason::TcpNoAck, STEP5));
        };
        if self.state == TcpState::SynReceived {
            // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state".
            if !(ack.after(self.snd.una) && ack.before_eq(self.snd.max)) {
                // "If the segment acknowledgment is not acceptable, form a reset
                // segment <SEQ=SEG.ACK><CTL=RST>".
                self.transmit(cx, cfg, ack, TcpFlags::RST, 0);
                return Err((DropReason::TcpAckUnsent, STEP5));
            }
            if env.accept_queue_full {
                // Linux: the handshake cannot complete, the ACK is dropped and the
                // SYN-ACK timer keeps running; a later ACK may find room.
                return Err((DropReason::TcpAcceptQueueFull, "RFC 9293 §3.10.7.4 step 5 (Linux: accept queue full)"));
            }
            self.snd.wnd = (h.window as usize) << self.snd.wscale;
            self.snd.max_wnd = self.snd.max_wnd.max(self.snd.wnd);
            self.snd.wl1 = h.seq;
            self.snd.wl2 = ack;
            self.set_state(cx, TcpState::Established, STEP5);
            self.init_buffer_space(cfg);
            self.start_keepalive(cx, cfg);
            if self.fin_queued {
                // The application closed during the handshake (RFC 9293 §3.10.4).
                self.set_state(cx, TcpState::FinWait1, "RFC 9293 §3.10.4");
            }
        }
        if self.state != TcpState::TimeWait {
            self.tcp_ack(cx, cfg, h, ack, payload.len(), env)?;
        }
        match self.state {
            // "In addition to the processing for the ESTABLISHED state, if the
            // FIN segment is now acknowledged, then enter FIN-WAIT-2".
            TcpState::FinWait1 if self.fin_acked() => {
                self.set_state(cx, TcpState::FinWait2, STEP5);
                if self.owner == Owner::Orphan {
                    self.timer_set(cx, TimerKind::FinWait2, cfg.fin_timeout);
                }
            }
            // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state".
            TcpState::Closing if self.fin_acked() => self.enter_time_wait(cx, cfg, STEP5),
            // "The only thing that can arrive in this state is an acknowledgment
            // of our FIN. If our FIN is now acknowledged, delete the TCB".
            TcpState::LastAck if self.fin_acked() => {
                self.tcp_done_because(cx, None, STEP5);
                return Ok(());
            }
            _ => {}
        }

        // ---- Sixth, check the URG bit (urgent.rs, Linux `tcp_urg`).
        self.tcp_urg(cx, h, payload);

        // ---- Seventh, process the segment text.
        let mut fin = h.fin();
        let mut text = payload;
        if zero_window_text && !text.is_empty() {
            // Linux `tcp_data_queue` (out_of_window): quick ACKs again and
            // an ACK now, which repeats the zero window. A bare FIN is taken
            // all the same (it needs no buffer).
            self.tcp_enter_quickack_mode(cfg, TCP_MAX_QUICKACKS);
            self.inet_csk_schedule_ack();
            let n = text.len();
            cx.drop_packet(DropReason::TcpRcvBufFull, "RFC 9293 §3.10.7.4 step 1", || {
                format!("{n} bytes against a zero window: ACK kept, text dropped")
            });
            text = &[];
            fin = false;
        }
        let mut fin_in_order = false;
        match self.state {
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2 => {
                if self.owner == Owner::Orphan && h.seq.after_eq(self.rcv.nxt) && !text.is_empty() {
                    // Linux `tcp_rcv_state_process` (TCPAbortOnData): new data
                    // for a socket the application closed cannot be delivered:
                    // reset, answering the segment as RFC 9293 §3.10.7.1 does
                    // (`tcp_v4_send_reset`: SEQ = its ACK, no ACK bit).
                    match h.ack {
                        Some(a) => super::output::send_reset(cx, self.local, self.remote, a, None, STEP7),
                        None => {
                            let end = h.seq + (text.len() + usize::from(fin));
                            super::output::send_reset(cx, self.local, self.remote, SeqNumber(0), Some(end), STEP7)
                        }
                    }
                    self.tcp_done_because(cx, None, STEP7);
                    return Err((DropReason::TcpClosed, STEP7));
                }
                fin_in_order = self.tcp_data_queue(cx, cfg, h, text, fin);
            }
            // CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: "This should not occur
            // since a FIN has been received from the remote side. Ignore the
            // segment text."
            _ => {}
        }

        // ---- Eighth, check the FIN bit (only once it is in sequence).
        if fin_in_order {
            self.tcp_fin(cx, cfg);
        }
        if dup_syn {
            // The SYN of the simultaneous open's SYN-ACK, already had: Linux
            // `tcp_data_queue` sees a segment wholly below RCV.NXT and answers
            // at once with a D-SACK for it (RFC 2883 §4: `sack IRS:IRS+1`).
            self.tcp_send_dupack(cfg, self.rcv.irs, 1);
        }
        Ok(())
    }

    /// `tcp_send_challenge_ack`: owe the peer an ACK (RFC 5961 §3.2, §4.2,
    /// §5.2) unless this second's budget is spent (§7, Linux
    /// `tcp_challenge_ack_limit`); either way the segment is dropped by the caller.
    fn challenge_ack(&mut self, cx: &mut Cx, cfg: &TcpConfig, env: &mut RcvEnv, rfc: &'static str) {
        if env.challenge_acks.allow(cx.now, cfg.challenge_ack_limit) {
            self.rcv.ack_now = true;
            cx.stats.inc(Counter::TcpChallengeAcks);
            return;
        }
        cx.stats.inc(Counter::TcpChallengeAckLimited);
        let (l, r, limit) = (self.local, self.remote, cfg.challenge_ack_limit);
        let now = cx.now;
        cx.trace.emit(now, EventKind::Tcp, "RFC 5961 §7", || {
            format!("{l} {r}: challenge ACK not sent ({rfc}): {limit} this second already")
        });
    }

    /// `tcp_ack`: RFC 9293 §3.10.7.4 fifth step for the synchronized states,
    /// with RTT sampling, the window update and congestion control.
    fn tcp_ack(
        &mut self,
        cx: &mut Cx,
        cfg: &TcpConfig,
        h: &TcpRepr,
        ack: SeqNumber,
        text: usize,
        env: &mut RcvEnv,
    ) -> Result<(), Drop> {
        const RFC: &str = "RFC 9293 §3.10.7.4 step 5";
        // RFC 5961 §5.2: the acceptable ACKs are
        // SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT; "all incoming segments
        // whose ACK value doesn't satisfy the above condition MUST be
        // discarded and an ACK sent back" (a challenge ACK, rate limited).
        // Above SND.NXT is RFC 9293's own case: "If the ACK acks something
        // not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the
        // segment, and return."
        if ack.after(self.snd.max) {
            self.challenge_ack(cx, cfg, env, RFC);
            return Err((DropReason::TcpAckUnsent, RFC));
        }
        // Below SND.UNA - MAX.SND.WND: from long ago, or a blind guess.
        if ack.before(self.snd.una - self.snd.max_wnd.max(1)) {
            self.challenge_ack(cx, cfg, env, "RFC 5961 §5.2");
            return Err((DropReason::TcpOldAck, "RFC 5961 §5.2"));
        }
        let acked = ack.since(self.snd.una);
        let old_wnd = self.snd.wnd;
        // RACK needs the highest SACKed byte before this ACK; every path, the data it acknowledges (not our SYN).
        let (prior_fack, acked_no_syn) = self.rack_prior(acked);

        // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated.
        // If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK))".
        if ack.after_eq(self.snd.una)
            && (self.snd.wl1.before(h.seq) || (self.snd.wl1 == h.seq && self.snd.wl2.before_eq(ack)))
        {
            let wnd = (h.window as usize) << self.snd.wscale;
            self.snd.wl1 = h.seq;
            self.snd.wl2 = ack;
            if wnd != self.snd.wnd {
                let (l, r, old) = (self.local, self.remote, self.snd.wnd);
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpWindow, RFC, || format!("{l} {r}: peer window {old} -> {wnd}"));
                self.snd.wnd = wnd;
                self.snd.max_wnd = self.snd.max_wnd.max(wnd);
            }
        }

        if acked > 0 {
            // "SND.UNA < SEG.ACK =< SND.NXT": new data acknowledged; drop it
            // from the retransmission queue (the front of the send buffer).
            let prior_una = self.snd.una;
            let was_writeable = self.sk_stream_is_writeable();
            let data_acked = ack.since(self.q.snd_buf_seq).min(self.q.snd_buf.len());
            self.q.snd_buf.drain(..data_acked);
            release_if_empty(&mut self.q.snd_buf);
            self.q.snd_buf_seq += data_acked;
            if !was_writeable && self.sk_stream_is_writeable() {
                // `sk_write_space`: the send buffer is back above the low-water mark.
                self.wake |= PollFlags::POLLOUT;
            }
            self.snd.una = ack;
            if self.snd.nxt.before(ack) {
                self.snd.nxt = ack;
            }
            // RFC 6298 §3 with Karn's rule: only an ACK of the timed,
            // never-retransmitted segment gives a sample, and only if it does
            // not also cover retransmitted data (the timed segment's ACK was
            // then held up behind a hole, so it would measure the repair).
            let covers_retransmission = prior_una.before(self.rtt.retrans_high);
            let mut sampled = false;
            if let Some((end, t)) = self.rtt.timed {
                if ack.after_eq(end) {
                    if !covers_retransmission {
                        self.rtt.sample(cfg, cx.now - t);
                        sampled = true;
                    }
                    self.rtt.timed = None;
                }
            }
            // RFC 7323 §4 RTTM: where Karn's rule leaves us without a sample
            // (retransmitted data acknowledged), the echoed timestamp still
            // gives one: it names the copy that arrived. Only an echo of our
            // latest retransmission or later counts: an older echo is the
            // answer to a copy whose ACK was lost, and would time the
            // whole backoff (`rtx_tsval`, timestamps.rs).
            if covers_retransmission && !sampled {
                let echo = h
                    .options
                    .timestamp
                    .map(|(_, ecr)| ecr)
                    .filter(|&ecr| (ecr.wrapping_sub(self.ts.rtx_tsval) as i32) >= 0);
                if let Some(r) = echo.and_then(|ecr| self.ts_rtt_sample(cx.now, ecr)) {
                    self.rtt.sample(cfg, r);
                }
            }
            if self.rtt.retransmits > 0 {
                // Progress: reset the give-up count and drop the backoff
                // (RFC 6298 (5.7) keeps it until a new sample; Linux, which
                // samples every ACK with timestamps, drops it here too).
                self.rtt.retransmits = 0;
                self.rtt.retrans_stamp = None;
                self.rtt.rto = if self.rtt.srtt_us > 0 { self.rtt.compute_rto(cfg) } else { cfg.rto_initial };
            }
            // RFC 3522: was the episode's first retransmission needed?
            if self.ts.undo.is_some() {
                self.eifel_check(cx, h.options.timestamp.map(|t| t.1));
            }
            // RFC 6298 (5.2) all acked: stop the timer; (5.3) else restart it.
            if self.snd.una == self.snd.max {
                self.timer_cancel(cx, TimerKind::Retransmit, "RFC 6298 §5.2", "all data acknowledged");
                (self.tlp_armed, self.tlp_out, self.rack.reo_armed) = (false, false, false);
            } else {
                self.timers.set(TimerKind::Retransmit, cx.now + self.rtt.rto);
                (self.tlp_armed, self.rack.reo_armed) = (false, false);
                // RFC 8985 §7.2: new data acknowledged; probe again if quiet.
                self.tlp_out = false;
                self.schedule_loss_probe(cx, cfg, true);
            }
        }
        // RFC 2018 §5 / RFC 6675 §4 Update(): the SACK blocks into the scoreboard.
        let mut sack = SackUpdate::default();
        if self.sack.ok {
            if self.sacked_prune() {
                self.rack_sack_reneged();
                cx.stats.inc(Counter::TcpSackReneging);
                let (l, r, una) = (self.local, self.remote, self.snd.una);
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 2018 §8", || {
                    format!("{l} {r}: ACK stops at SACKed data ({una}): the peer reneged, scoreboard cleared")
                });
            }
            sack = self.sack_update(ack, h.options.sack_blocks());
            if sack.dsack {
                cx.stats.inc(Counter::TcpDsackRecv);
            }
        }
        // RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT": outstanding data, no text,
        // no SYN/FIN, same ACK, same window; with SACK (RFC 6675 §2), an ACK
        // at or above SND.UNA that carries new SACK information.
        let outstanding = self.snd.max != self.snd.una;
        let pure_dup = acked == 0 && ack == self.snd.una && self.snd.wnd == old_wnd && text == 0 && !h.fin();
        let dupack = outstanding && (pure_dup || (text == 0 && !h.fin() && sack.newly_sacked > 0));
        if self.rack_active(cfg) {
            self.tcp_rack_ack(cx, ack, prior_fack, acked_no_syn, &sack, h.options.sack_blocks(), dupack, pure_dup);
        } else if self.sack.ok {
            self.sack_cong_control(cx, cfg, ack, acked_no_syn, dupack);
        } else if acked_no_syn > 0 {
            self.cong_on_ack(cx, cfg, ack, acked_no_syn);
        } else if dupack {
            self.cong.dupacks += 1;
            self.cong_on_dupack(cx, cfg);
        }
        if self.snd.wnd > 0 && self.unsent() == 0 {
            self.timer_cancel(cx, TimerKind::Persist, "RFC 9293 §3.8.6.1", "the window opened");
        }
        Ok(())
    }

    /// RFC 5681 §3.1 slow start and congestion avoidance, and RFC 6582
    /// NewReno's partial and full ACKs in fast recovery.
    fn cong_on_ack(&mut self, cx: &mut Cx, cfg: &TcpConfig, ack: SeqNumber, acked: usize) {
        let mss = self.snd.mss;
        if self.cong.in_recovery {
            if ack.before(self.cong.recover) {
                // RFC 6582 §3.2 step 5, partial ACK: retransmit the next hole,
                // deflate by the amount acked, add back one MSS.
                self.retransmit_head(cx, cfg, "RFC 6582 §3.2");
                self.cong.cwnd = self.cong.cwnd.saturating_sub(acked) + if acked >= mss { mss } else { 0 };
                self.cong.cwnd = self.cong.cwnd.max(mss);
                return;
            }
            // Full ACK: leave fast recovery. RFC 6582 §3.2 step 3 offers
            // min(ssthresh, max(FlightSize, SMSS) + SMSS) or ssthresh; Linux
            // takes ssthresh (`tcp_end_cwnd_reduction`), and so do we
            // (tests/drill/recovery/fast-retransmit-newreno.pkt).
            self.cong.cwnd = self.cong.ssthresh.max(mss);
            self.cong.in_recovery = false;
            self.cong.dupacks = 0;
            let (l, r, cwnd) = (self.local, self.remote, self.cong.cwnd);
            let now = cx.now;
            cx.trace.emit(now, EventKind::TcpWindow, "RFC 6582 §3.2", || {
                format!("{l} {r}: full ACK, fast recovery ends, cwnd {cwnd}")
            });
            return;
        }
        self.cong.dupacks = 0;
        self.cong_avoid(cx, acked);
    }

    /// RFC 5681 §3.2 fast retransmit / fast recovery on duplicate ACKs.
    fn cong_on_dupack(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        let mss = self.snd.mss;
        if self.cong.in_recovery {
            // (4) each further duplicate ACK: inflate cwnd by one MSS.
            self.cong.cwnd += mss;
            return;
        }
        // RFC 6582 §3.2 step 2: not again for losses from before the last recovery.
        if self.cong.dupacks == 3 && self.snd.una.after_eq(self.cong.recover) {
            self.undo_mark(cx.now, false);
            // (2) ssthresh = max(FlightSize / 2, 2·SMSS) for Reno, 0.7 × cwnd for CUBIC (cong.rs)
            self.cong.ssthresh = self.cong_ssthresh(cx);
            self.cong.recover = self.snd.max;
            self.cong.in_recovery = true;
            let (l, r, una) = (self.local, self.remote, self.snd.una);
            let ss = self.cong.ssthresh;
            let now = cx.now;
            cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 5681 §3.2", || {
                format!("{l} {r}: 3 duplicate ACKs for {una}: fast retransmit, ssthresh {ss}")
            });
            cx.stats.inc(Counter::TcpRenoRecovery);
            // (3) retransmit the lost segment, cwnd = ssthresh + 3·SMSS.
            self.retransmit_head(cx, cfg, "RFC 5681 §3.2");
            self.cong.cwnd = self.cong.ssthresh + 3 * mss;
        }
    }

    /// Loss recovery with SACK (RFC 6675 §5; Linux `tcp_fastretrans_alert`).
    /// Outside recovery: grow cwnd on new data, count duplicate ACKs, and
    /// enter recovery on the third, or as soon as the first unacknowledged
    /// segment is deemed lost. In recovery: nothing changes cwnd until the
    /// cumulative ACK reaches the recovery point; `tcp_write_xmit` sends
    /// what `pipe` allows.
    fn sack_cong_control(&mut self, cx: &mut Cx, cfg: &TcpConfig, ack: SeqNumber, acked: usize, dupack: bool) {
        let mss = self.snd.mss;
        if self.cong.in_recovery {
            let relost = self.sack_detect_lost_retrans();
            if relost > 0 {
                cx.stats.inc_by(Counter::TcpLostRetransmit, relost as u64);
                let (l, r) = (self.local, self.remote);
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 6675 §4 (Linux tcp_mark_lost_retrans)", || {
                    format!("{l} {r}: {relost} retransmission(s) lost too: data sent after them was SACKed")
                });
            }
            if ack.after_eq(self.cong.recover) {
                // The recovery point is acknowledged: recovery ends (RFC 6675
                // §5 step (4.1)), cwnd = ssthresh (RFC 5681 §3.2 (6); Linux
                // `tcp_end_cwnd_reduction`).
                self.cong.cwnd = self.cong.ssthresh.max(mss);
                self.cong.in_recovery = false;
                self.cong.dupacks = 0;
                let (l, r, cwnd) = (self.local, self.remote, self.cong.cwnd);
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpWindow, "RFC 6675 §5", || {
                    format!("{l} {r}: recovery point acknowledged, SACK recovery ends, cwnd {cwnd}")
                });
                // Linux: the ACK that ends SACK recovery also counts in
                // congestion avoidance (`tcp_ack` → `tcp_cong_avoid` after
                // `tcp_fastretrans_alert`; tests/drill/recovery/fast-retransmit-sack.pkt).
                self.cong_avoid(cx, acked);
            }
            return;
        }
        if acked > 0 {
            // RFC 6675 §5: "If the incoming ACK is a cumulative acknowledgment,
            // the TCP MUST reset DupAcks to zero."
            self.cong.dupacks = 0;
            self.cong_avoid(cx, acked);
        }
        if dupack {
            self.cong.dupacks += 1;
        }
        // Not again for losses from before the last recovery or timeout (RFC 6675 §5.1).
        if !self.snd.una.after_eq(self.cong.recover) || self.snd.una == self.snd.max {
            return;
        }
        // (1) DupAcks >= DupThresh, or (2) IsLost(HighACK + 1).
        let lost = self.head_lost();
        if (self.cong.dupacks as usize) < super::sack::DUP_THRESH && !lost {
            return;
        }
        // (4.1) RecoveryPoint = HighData; (4.2) ssthresh = cwnd = the algorithm's cut.
        self.undo_mark(cx.now, false);
        self.cong.recover = self.snd.max;
        self.cong.ssthresh = self.cong_ssthresh(cx);
        self.cong.cwnd = self.cong.ssthresh;
        self.cong.in_recovery = true;
        cx.stats.inc(Counter::TcpSackRecovery);
        let (l, r, una, n, ss) = (self.local, self.remote, self.snd.una, self.cong.dupacks, self.cong.ssthresh);
        let holes = self.sack.sacked.len();
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 6675 §5", || {
            format!(
                "{l} {r}: {} at {una} ({n} duplicate ACKs, {holes} SACKed ranges): SACK recovery, cwnd = ssthresh = {ss}",
                if lost { "segment deemed lost" } else { "duplicate ACKs" }
            )
        });
        // (4.3) Retransmit the first segment presumed dropped; HighRxt follows it.
        self.sack.high_rxt = self.snd.una;
        let hole_end = self.sacked_next_after(self.snd.una).unwrap_or(self.snd.max);
        self.sack.rtx_marks.clear();
        self.sack.relost.clear();
        let end = self.retransmit_range(cx, cfg, self.snd.una, hole_end, "RFC 6675 §5 (4.3)");
        self.sack.high_rxt = end;
        self.sack_note_retransmit(self.snd.una, end);
    }

    /// `tcp_data_queue`: RFC 9293 §3.10.7.4 seventh step for ESTABLISHED,
    /// FIN_WAIT_1 and FIN_WAIT_2. In-order bytes go to the receive buffer,
    /// and pull whatever the out-of-order queue now continues; bytes beyond
    /// RCV.NXT wait in the out-of-order queue. Returns true when a FIN is
    /// now in sequence.
    fn tcp_data_queue(&mut self, cx: &mut Cx, cfg: &TcpConfig, h: &TcpRepr, data: &[u8], fin: bool) -> bool {
        let (mut seq, mut data, mut fin) = (h.seq, data, fin);
        let had_text = !data.is_empty() || fin;
        // Trim what we already have off the front ("segments with higher
        // beginning sequence numbers may be held"; old bytes are duplicates).
        if seq.before(self.rcv.nxt) {
            let skip = self.rcv.nxt.since(seq);
            if self.sack.ok && !data.is_empty() {
                // RFC 2883 §4: report the duplicate bytes in the next ACK's first block.
                self.sack.dsack = Some((seq, (seq + data.len()).min_seq(self.rcv.nxt)));
            }
            if skip > data.len() {
                // Everything, FIN included, is old: a retransmission we already
                // have; ACK at once so the sender learns (RFC 9293 §3.10.7.4;
                // Linux `tcp_data_queue`: quick ACKs again).
                if had_text {
                    self.tcp_enter_quickack_mode(cfg, TCP_MAX_QUICKACKS);
                    self.inet_csk_schedule_ack();
                }
                return false;
            }
            data = &data[skip..];
            seq = self.rcv.nxt;
        }
        // Trim what lies beyond the window's right edge (and the FIN with it).
        let room = self.rcv.adv.since(seq);
        if data.len() > room {
            data = &data[..room];
            fin = false;
        }
        if data.is_empty() && !fin {
            if had_text {
                // Beyond the window (Linux `tcp_data_queue` out_of_window).
                self.tcp_enter_quickack_mode(cfg, TCP_MAX_QUICKACKS);
                self.inet_csk_schedule_ack();
            }
            return false;
        }
        // Linux `tcp_try_rmem_schedule`: a buffer already past its size
        // (SO_RCVBUF as getsockopt says it, twice the window's share: the
        // window's rounding up to the scale may promise more than the
        // share) takes no more text; the ACK says so.
        if !data.is_empty() && self.q.rcv_buf.len() > 2 * self.q.rcvbuf {
            let n = data.len();
            self.rcv.ack_now = true;
            cx.drop_packet(DropReason::TcpRcvBufFull, "RFC 9293 §3.10.7.4 step 7", || {
                format!("{n} bytes in the window, the receive buffer full: dropped")
            });
            return false;
        }
        if seq != self.rcv.nxt {
            self.out_of_order(cx, cfg, seq, data, fin);
            return false;
        }
        // In order: deliver, and wake the reader (`sk_data_ready`).
        self.q.rcv_buf.extend(data);
        self.wake |= PollFlags::POLLIN;
        self.rcv.nxt += data.len();
        if !data.is_empty() {
            // RFC 1122 §4.2.3.2: an ACK is owed, now or within the
            // delayed-ACK timeout; `tcp_ack_snd_check` decides which after
            // the segment is processed (delack.rs).
            self.tcp_event_data_recv(cx, cfg, data.len(), h.hdr_len(), h.flags);
            // `tcp_event_data_recv` ends with `tcp_grow_window`.
            self.grow_window(cfg, data.len());
        }
        let mut fin_now = fin;
        if !self.q.out_of_order_queue.is_empty() {
            fin_now |= self.ofo_pull(cx);
            // RFC 5681 §4.2: "an immediate ACK SHOULD be generated when a
            // segment arrives that fills in all or part of a gap". Linux
            // asks for it when the queue empties (ICSK_ACK_NOW); while some
            // remains, out-of-order data makes the ACK immediate anyway.
            if self.q.out_of_order_queue.is_empty() {
                self.icsk_ack.pending |= super::delack::ICSK_ACK_NOW;
            }
        }
        fin_now
    }

    /// `tcp_data_queue_ofo`: keep a segment beyond RCV.NXT in the sorted
    /// out-of-order queue, merging overlaps and neighbours, bounded by the
    /// window (bytes) and `MAX_OFO_SEGMENTS` (entries). Sends a duplicate ACK.
    fn out_of_order(&mut self, cx: &mut Cx, cfg: &TcpConfig, seq: SeqNumber, data: &[u8], fin: bool) {
        // RFC 5681 §4.2: "an immediate duplicate ACK when an out-of-order
        // segment arrives": owed here, sent at once by `__tcp_ack_snd_check`
        // while the out-of-order queue holds data (delack.rs).
        self.inet_csk_schedule_ack();
        let end = seq + data.len();
        let q = &mut self.q.out_of_order_queue;
        // First entry that ends at or after our start (it may touch or overlap us).
        let i = q.iter().position(|e| e.end().after_eq(seq)).unwrap_or(q.len());
        // Entries from i that start at or before our end: merge them all.
        let mut j = i;
        while j < q.len() && q[j].seq.before_eq(end) {
            j += 1;
        }
        self.q.ofo_tick = self.q.ofo_tick.wrapping_add(1);
        let touched = self.q.ofo_tick;
        let new_bytes;
        let mut duplicate = false;
        if i == j {
            if q.len() >= MAX_OFO_SEGMENTS || self.q.ofo_bytes + data.len() > cfg.max_ofo_bytes {
                let (l, r) = (self.local, self.remote);
                return cx.drop_packet(DropReason::TcpOfoQueueFull, "RFC 9293 §3.10.7.4 step 7", || {
                    format!("{r} > {l}: out-of-order seq {seq} len {} dropped", data.len())
                });
            }
            q.insert(i, OfoSeg { seq, data: data.to_vec(), fin, touched });
            new_bytes = data.len();
        } else {
            let old: usize = q.range(i..j).map(|e| e.data.len()).sum();
            let mut merged = q.remove(i).expect("i < j <= len");
            if seq.before(merged.seq) {
                // We start earlier: our bytes, then whatever of the entry is past us.
                let mut v = Vec::with_capacity(merged.end().since(seq).max(data.len()));
                v.extend_from_slice(data);
                let skip = end.since(merged.seq);
                if skip < merged.data.len() {
                    v.extend_from_slice(&merged.data[skip..]);
                }
                merged.fin |= fin && merged.end().before_eq(end);
                merged.data = v;
                merged.seq = seq;
            } else {
                // We start inside or right after the entry: append what is new.
                let have = merged.end().since(seq);
                if have < data.len() {
                    merged.data.extend_from_slice(&data[have..]);
                    merged.fin = fin;
                } else {
                    merged.fin |= fin && merged.end() == end;
                }
            }
            // Fold in the following entries we now reach.
            for _ in i + 1..j {
                let next = q.remove(i).expect("entries to merge");
                let have = merged.end().since(next.seq);
                if have < next.data.len() {
                    merged.data.extend_from_slice(&next.data[have..]);
                    merged.fin = next.fin;
                } else {
                    merged.fin |= next.fin && next.end() == merged.end();
                }
            }
            new_bytes = merged.data.len();
            duplicate = new_bytes == old && !data.is_empty();
            merged.touched = touched;
            self.q.ofo_bytes -= old;
            q.insert(i, merged);
        }
        self.q.ofo_bytes += new_bytes;
        if duplicate && self.sack.ok {
            // RFC 2883 §4: bytes we already held out of order.
            self.sack.dsack = Some((seq, end));
        }
        let (l, r, n, b) = (self.local, self.remote, self.q.out_of_order_queue.len(), self.q.ofo_bytes);
        let now = cx.now;
        let rcv_nxt = self.rcv.nxt;
        cx.trace.emit(now, EventKind::TcpQueue, "RFC 9293 §3.10.7.4 step 7", || {
            format!("{r} > {l}: out-of-order {seq}:{end} (RCV.NXT {rcv_nxt}), queue {n} entries {b} bytes")
        });
    }

    /// Move what the out-of-order queue now continues into the receive
    /// buffer. Returns true if a FIN became in sequence.
    fn ofo_pull(&mut self, cx: &mut Cx) -> bool {
        let mut fin = false;
        while let Some(front) = self.q.out_of_order_queue.front() {
            if front.seq.after(self.rcv.nxt) {
                break;
            }
            let e = self.q.out_of_order_queue.pop_front().expect("front exists");
            self.q.ofo_bytes -= e.data.len();
            let skip = self.rcv.nxt.since(e.seq);
            if skip < e.data.len() {
                self.q.rcv_buf.extend(&e.data[skip..]);
                self.rcv.nxt = e.end();
            }
            if e.fin && e.end() == self.rcv.nxt {
                fin = true;
            }
        }
        release_if_empty(&mut self.q.out_of_order_queue);
        let (l, r, rcv_nxt, left) = (self.local, self.remote, self.rcv.nxt, self.q.out_of_order_queue.len());
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpQueue, "RFC 9293 §3.10.7.4 step 7", || {
            format!("{r} > {l}: hole filled, RCV.NXT now {rcv_nxt}, {left} out-of-order entries left")
        });
        fin
    }

    /// `tcp_fin`: RFC 9293 §3.10.7.4 eighth step.
    fn tcp_fin(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        const RFC: &str = "RFC 9293 §3.10.7.4 step 8";
        // "advance RCV.NXT over the FIN, and send an acknowledgment for the FIN".
        self.rcv.nxt += 1usize;
        self.shut_rcv = true;
        self.inet_csk_schedule_ack();
        // Readers see end of stream (POLLIN|POLLRDHUP) even where the state stays.
        self.wake |= crate::socket::WAKE_ALL;
        match self.state {
            TcpState::SynReceived | TcpState::Established => {
                self.set_state(cx, TcpState::CloseWait, RFC);
                // Linux `tcp_fin`: the connection turns interactive, so the
                // ACK of the FIN waits (delayed ACK) for our own FIN to
                // carry it, should the application close soon.
                self.inet_csk_enter_pingpong_mode();
            }
            // "If our FIN has been ACKed … enter TIME-WAIT … otherwise, enter
            // CLOSING": Linux ACKs these FINs at once (`tcp_send_ack`).
            TcpState::FinWait1 if self.fin_acked() => {
                self.rcv.ack_now = true;
                self.enter_time_wait(cx, cfg, RFC)
            }
            TcpState::FinWait1 => {
                self.rcv.ack_now = true;
                self.set_state(cx, TcpState::Closing, RFC)
            }
            TcpState::FinWait2 | TcpState::TimeWait => {
                self.rcv.ack_now = true;
                self.enter_time_wait(cx, cfg, RFC)
            }
            _ => {}
        }
    }
}
