//! Receiving: `tcp_v4_rcv` checks the segment and finds its socket, then
//! RFC 9293 §3.10.7 "SEGMENT ARRIVES" runs in the RFC's order:
//! §3.10.7.1 CLOSED (no socket: reset), §3.10.7.2 LISTEN, §3.10.7.3 SYN_SENT,
//! §3.10.7.4 every other state (first check sequence number … eighth, check
//! the FIN bit).
//!
//! Read first: RFC 9293 §3.10.7, RFC 5961 (RST and SYN in window, challenge
//! ACKs), RFC 5681 §2-§4 (duplicate ACKs, cwnd), RFC 6582 (NewReno),
//! RFC 6298 §3 (RTT samples, Karn), RFC 1122 §4.2.2.20-21, §4.2.3.2 (ACK
//! generation). Linux: net/ipv4/tcp_ipv4.c `tcp_v4_rcv`,
//! net/ipv4/tcp_input.c `tcp_rcv_state_process`, `tcp_rcv_established`,
//! `tcp_ack`, `tcp_data_queue`, `tcp_data_queue_ofo`, `tcp_fin`.

use super::output::send_reset;
use super::sack::SackUpdate;
use super::seq::SeqNumber;
use super::sock::{release_if_empty, OfoSeg, Owner, TcpSock, TcpState, TimerKind};
use super::syncookies;
use super::timestamps;
use super::{wscale_for, Tcp, TcpConfig, DEFAULT_PEER_MSS, MAX_OFO_SEGMENTS};
use crate::errno::Errno;
use crate::socket::PollFlags;
use crate::stats::{Counter, DropReason};
use crate::time::{Duration, Instant};
use crate::trace::EventKind;
use crate::wire::tcp::{tcp_parse_skb, TcpFlags, TcpOptions, TcpPacket, TcpRepr, TS_OPT_LEN};
use crate::{Cx, SkBuff};
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

    /// RFC 9293 §3.10.7.1 CLOSED: "all data in the incoming segment is
    /// discarded. An incoming segment containing a RST is discarded. An
    /// incoming segment not containing a RST causes a RST to be sent."
    fn closed_rcv(&mut self, cx: &mut Cx, local: SocketAddrV4, remote: SocketAddrV4, h: &TcpRepr, len: usize) {
        cx.drop_packet(DropReason::TcpNoSocket, "RFC 9293 §3.10.7.1", || {
            format!("{remote} > {local}: {:?} to no socket", h.flags)
        });
        if h.rst() {
            return;
        }
        match h.ack {
            // <SEQ=SEG.ACK><CTL=RST>
            Some(ack) => send_reset(cx, local, remote, ack, None, "RFC 9293 §3.10.7.1"),
            // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
            None => {
                let seg_len = len + usize::from(h.syn()) + usize::from(h.fin());
                send_reset(cx, local, remote, SeqNumber(0), Some(h.seq + seg_len), "RFC 9293 §3.10.7.1");
            }
        }
    }

    /// A SYN for a 4-tuple in TIME_WAIT with a sequence number above the old
    /// connection's may start a new incarnation (RFC 6191 §2, RFC 1122
    /// §4.2.2.13). Returns true if the TIME_WAIT socket was recycled.
    fn time_wait_reuse(&mut self, cx: &mut Cx, i: usize, h: &TcpRepr) -> bool {
        let Some(sk) = self.socks[i].as_ref() else { return false };
        if sk.state != TcpState::TimeWait || !h.syn() || h.ack.is_some() {
            return false;
        }
        // RFC 6191 §2: a SYN is new if its sequence number is above the old
        // RCV.NXT, or, with timestamps in use, its TSval above TS.Recent
        // (which tells old from new even when the sequence numbers do not).
        let newer_ts = sk.ts_ok && h.options.timestamp.is_some_and(|(v, _)| (v.wrapping_sub(sk.ts_recent) as i32) > 0);
        if !h.seq.after(sk.rcv_nxt) && !newer_ts {
            return false;
        }
        if !self.listeners.contains_key(&sk.local.port()) {
            return false;
        }
        let Some(mut sk) = self.socks[i].take() else { return false };
        let (l, r, rcv_nxt) = (sk.local, sk.remote, sk.rcv_nxt);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpState, "RFC 6191 §2", || {
            if newer_ts && !h.seq.after(rcv_nxt) {
                format!("{l} {r}: new SYN with a newer TSval ends TIME_WAIT early")
            } else {
                format!("{l} {r}: new SYN above RCV.NXT ends TIME_WAIT early")
            }
        });
        sk.tcp_done_because(cx, None, "RFC 6191 §2");
        self.finish(cx, i, sk, TcpState::TimeWait);
        true
    }

    /// RFC 9293 §3.10.7.2 LISTEN.
    fn listen_rcv(
        &mut self,
        cx: &mut Cx,
        li: usize,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        h: &TcpRepr,
        payload: &[u8],
    ) {
        const RFC: &str = "RFC 9293 §3.10.7.2";
        // First, check for a RST: "An incoming RST segment could not be valid
        // since it could not have been sent in response to anything sent by
        // this incarnation of the connection. An incoming RST should be ignored."
        if h.rst() {
            return cx.drop_packet(DropReason::TcpRstInvalid, RFC, || format!("{remote} > {local}: RST to a listener"));
        }
        // Second, check for an ACK: <SEQ=SEG.ACK><CTL=RST>. After a recent
        // SYN queue overflow it may first be the return of a SYN cookie
        // (RFC 4987 §3.6, Linux `cookie_v4_check`).
        if let Some(ack) = h.ack {
            if !h.syn() && self.cookie_check_due(li, cx.now) {
                return self.cookie_ack_rcv(cx, li, local, remote, h, ack, payload);
            }
            cx.drop_packet(DropReason::TcpListenNoSyn, RFC, || format!("{remote} > {local}: ACK to a listener"));
            return send_reset(cx, local, remote, ack, None, RFC);
        }
        // Third, check for a SYN.
        if !h.syn() {
            return cx.drop_packet(DropReason::TcpListenNoSyn, RFC, || format!("{remote} > {local}: {:?}", h.flags));
        }
        let cfg = self.config.clone();
        let Some(Some(lsk)) = self.socks.get(li) else { return };
        let Some(q) = lsk.listen.as_ref() else { return };
        // Linux `tcp_conn_request`: with the accept queue full the SYN is
        // dropped (LISTENOVERFLOWS); the client's SYN retransmission tries again.
        if q.accept_queue_full() {
            return cx.drop_packet(DropReason::TcpAcceptQueueFull, RFC, || {
                format!("{remote} > {local}: SYN dropped, accept queue full ({})", q.backlog + 1)
            });
        }
        let syn_cap = q.backlog.max(1).min(cfg.max_syn_backlog);
        if q.syn_queue.len() >= syn_cap {
            if cfg.syncookies {
                return self.cookie_synack(cx, li, local, remote, h, syn_cap);
            }
            return cx.drop_packet(DropReason::TcpSynQueueFull, RFC, || {
                format!("{remote} > {local}: SYN dropped, SYN queue full ({syn_cap})")
            });
        }
        let mut child = new_child(&cfg, lsk, li, local, remote);
        // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ … ISS should be selected".
        child.irs = h.seq;
        child.rcv_nxt = h.seq + 1usize;
        child.rcv_adv = child.rcv_nxt;
        child.init_send_seq(self.isn(local, remote, cx.now));
        child.syn_options(&cfg, &h.options, cx.now);
        child.ts_offset = timestamps::ts_offset(&self.isn_key, local, remote);
        child.snd_wnd = h.window as usize;
        child.max_snd_wnd = child.snd_wnd;
        child.snd_wl1 = h.seq;
        child.snd_wl2 = child.iss;
        child.last_rcv = cx.now;
        // Data in a SYN would be queued for after ESTABLISHED (RFC 9293); like
        // Linux without TCP Fast Open we ignore it and the peer resends it.
        let Some(ci) = self.alloc(child) else {
            return cx.drop_packet(DropReason::TcpTooManySockets, RFC, || {
                format!("{remote} > {local}: SYN dropped, socket table full")
            });
        };
        self.port_ref(local.port());
        self.conns.insert((local, remote), ci);
        let Some(Some(child)) = self.socks.get_mut(ci) else { return };
        child.set_state(cx, TcpState::SynReceived, RFC);
        // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
        child.send_syn(cx, &cfg);
        child.rtt_seq = Some((child.iss + 1usize, cx.now));
        child.arm_rto_if_idle(cx);
        cx.stats.inc(Counter::TcpPassiveOpens);
        if let Some(Some(l)) = self.socks.get_mut(li) {
            if let Some(q) = l.listen.as_mut() {
                q.syn_queue.push(ci);
                let n = q.syn_queue.len();
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpQueue, RFC, || {
                    format!("{local}: SYN from {remote}: child {ci} on the SYN queue ({n}/{syn_cap})")
                });
            }
        }
    }

    /// Is an ACK to listener `li` worth checking as a SYN cookie? Only if
    /// its SYN queue overflowed (and cookies went out) in the last
    /// `MAX_AGE` minutes (Linux `tcp_synq_no_recent_overflow`).
    fn cookie_check_due(&self, li: usize, now: Instant) -> bool {
        let window = Duration::from_secs(60 * u64::from(syncookies::MAX_AGE));
        let last = self.socks.get(li).and_then(|s| s.as_ref()).and_then(|s| s.listen.as_ref()?.last_overflow);
        self.config.syncookies && last.is_some_and(|t| now.saturating_since(t) <= window)
    }

    /// The SYN queue is full: answer the SYN with a SYN-ACK whose ISS is a
    /// cookie and keep nothing (RFC 4987 §3.6, Linux `tcp_conn_request` with
    /// `want_cookie`). The SYN-ACK offers our MSS and no window scale:
    /// there is nowhere to keep an agreement about it.
    fn cookie_synack(
        &mut self,
        cx: &mut Cx,
        li: usize,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        h: &TcpRepr,
        syn_cap: usize,
    ) {
        const RFC: &str = "RFC 4987 §3.6";
        let cfg = &self.config;
        let Some(Some(lsk)) = self.socks.get(li) else { return };
        let peer_mss = h.options.mss.unwrap_or(DEFAULT_PEER_MSS as u16);
        let idx = syncookies::mss_index(peer_mss);
        let count = syncookies::cookie_time(cx.now);
        let iss = syncookies::make(&self.cookie_key, local, remote, h.seq, count, idx);
        // A throwaway TCB only to build the segment: it never enters the table.
        let mut req = new_child(cfg, lsk, li, local, remote);
        req.state = TcpState::SynReceived;
        req.irs = h.seq;
        req.rcv_nxt = h.seq + 1usize;
        req.rcv_adv = req.rcv_nxt;
        req.init_send_seq(iss);
        // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, MSS only.
        req.send_syn(cx, cfg);
        cx.stats.inc(Counter::SyncookiesSent);
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpQueue, RFC, || {
            format!(
                "{local}: SYN queue full ({syn_cap}): SYN from {remote} answered with a SYN cookie (MSS {})",
                syncookies::MSSTAB[idx as usize]
            )
        });
        if let Some(Some(l)) = self.socks.get_mut(li) {
            if let Some(q) = l.listen.as_mut() {
                q.last_overflow = Some(now);
            }
        }
    }

    /// An ACK to a listener that may return a SYN cookie (Linux
    /// `cookie_v4_check`): a valid one rebuilds the connection, which goes
    /// straight to the accept queue; a bad one is counted and answered as
    /// any ACK to a listener is, with a RST.
    #[allow(clippy::too_many_arguments)]
    fn cookie_ack_rcv(
        &mut self,
        cx: &mut Cx,
        li: usize,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        h: &TcpRepr,
        ack: SeqNumber,
        payload: &[u8],
    ) {
        const RFC: &str = "RFC 4987 §3.6";
        let count = syncookies::cookie_time(cx.now);
        let irs = h.seq - 1usize;
        let iss = ack - 1usize;
        let Some(idx) = syncookies::check(&self.cookie_key, local, remote, iss, irs, count) else {
            cx.stats.inc(Counter::SyncookiesFailed);
            cx.drop_packet(DropReason::TcpSyncookieBad, RFC, || {
                format!("{remote} > {local}: ACK {ack} to a listener is no SYN cookie of ours")
            });
            return send_reset(cx, local, remote, ack, None, "RFC 9293 §3.10.7.2");
        };
        cx.stats.inc(Counter::SyncookiesRecv);
        let cfg = self.config.clone();
        let Some(Some(lsk)) = self.socks.get(li) else { return };
        let Some(q) = lsk.listen.as_ref() else { return };
        // Linux `tcp_v4_syn_recv_sock`: no room in the accept queue, no
        // connection; the ACK is dropped and a later one may find room.
        if q.accept_queue_full() {
            return cx.drop_packet(DropReason::TcpAcceptQueueFull, RFC, || {
                format!("{remote} > {local}: valid SYN cookie, accept queue full ({})", q.backlog + 1)
            });
        }
        // The TCB the SYN would have made: ISS from the cookie, the peer's
        // MSS from its index, no window scale (RFC 7323 §2.2 needs both SYNs).
        let mut child = new_child(&cfg, lsk, li, local, remote);
        child.irs = irs;
        child.rcv_nxt = h.seq;
        child.init_send_seq(iss);
        child.snd_nxt = ack;
        child.snd_max = ack;
        let mss = syncookies::MSSTAB[idx as usize];
        child.syn_options(&cfg, &TcpOptions { mss: Some(mss), ..TcpOptions::default() }, cx.now);
        // The window our cookie SYN-ACK offered (`syn_window`).
        child.rcv_adv = child.rcv_nxt + child.rcv_space().min(65535);
        child.snd_wl1 = irs;
        child.snd_wl2 = iss;
        child.last_rcv = cx.now;
        child.state = TcpState::SynReceived;
        let Some(ci) = self.alloc(child) else {
            return cx.drop_packet(DropReason::TcpTooManySockets, RFC, || {
                format!("{remote} > {local}: valid SYN cookie, socket table full")
            });
        };
        self.port_ref(local.port());
        self.conns.insert((local, remote), ci);
        cx.stats.inc(Counter::TcpPassiveOpens);
        if let Some(Some(l)) = self.socks.get_mut(li) {
            if let Some(q) = l.listen.as_mut() {
                q.syn_queue.push(ci);
            }
        }
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpQueue, RFC, || {
            format!("{local}: valid SYN cookie from {remote} (MSS {mss}): child {ci} rebuilt")
        });
        // Now the ACK is the third segment of an ordinary handshake: step 5
        // takes the child to ESTABLISHED and `finish` to the accept queue;
        // any data or FIN with it is processed too.
        self.conn_rcv(cx, ci, h, payload);
        if let Some(Some(c)) = self.socks.get(ci) {
            if c.state == TcpState::SynReceived && c.owner == (Owner::Child { listener: li }) {
                self.free(cx, ci);
            }
        }
    }

    /// A segment for a connection (any state but LISTEN).
    fn conn_rcv(&mut self, cx: &mut Cx, i: usize, h: &TcpRepr, payload: &[u8]) {
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

/// A passive child of listener `lsk` (index `li`) for `local`/`remote`: it
/// inherits the listener's options (`inet_csk_clone_lock`).
pub fn new_child(cfg: &TcpConfig, lsk: &TcpSock, li: usize, local: SocketAddrV4, remote: SocketAddrV4) -> TcpSock {
    let mut child = TcpSock::new(cfg);
    child.state = TcpState::Listen;
    child.owner = Owner::Child { listener: li };
    child.local = local;
    child.remote = remote;
    child.sndbuf = lsk.sndbuf;
    child.rcvbuf = lsk.rcvbuf;
    child.nodelay = lsk.nodelay;
    child.cork = lsk.cork;
    child.keepalive = lsk.keepalive;
    child.reuse_addr = lsk.reuse_addr;
    // TCP_CONGESTION: the listener's algorithm, fresh state (cong.rs).
    child.set_congestion(lsk.cc.algo);
    child.bound = true;
    child.hashed = true;
    child
}

/// A drop, with the RFC clause that decided it.
type Drop = (DropReason, &'static str);

impl TcpSock {
    /// Set the send sequence variables for a new ISS.
    pub fn init_send_seq(&mut self, iss: SeqNumber) {
        self.iss = iss;
        self.snd_una = iss;
        self.snd_nxt = iss;
        self.snd_max = iss;
        self.snd_buf_seq = iss + 1usize;
        self.recover = iss;
        self.retrans_high = iss;
    }

    /// The options of the peer's SYN: MSS (RFC 9293 §3.7.1, default 536),
    /// window scale (RFC 7323 §2.2), timestamps (RFC 7323 §3.2) and SACK
    /// (RFC 2018 §2), each used only if both SYNs carry it. Our SYN carried
    /// all we have turned on; a SYN-ACK echoes only what the SYN had.
    pub fn syn_options(&mut self, cfg: &TcpConfig, o: &TcpOptions, now: Instant) {
        let peer_mss = o.mss.map_or(DEFAULT_PEER_MSS, |m| m as usize);
        // RFC 9293 §3.7.1: an MSS too small to carry data would stall us; 64 is a floor.
        self.mss = peer_mss.clamp(64, cfg.mss as usize);
        self.ts_ok = cfg.timestamps && o.timestamp.is_some();
        if let (true, Some((tsval, _))) = (self.ts_ok, o.timestamp) {
            self.ts_recent = tsval;
            self.ts_recent_stamp = now;
            // RFC 7323 §3.2 / Linux `tcp_mss_cache`: the option rides on every
            // segment, so a segment carries 12 bytes less payload.
            self.mss -= TS_OPT_LEN;
        }
        self.sack_ok = cfg.sack && o.sack_permitted;
        self.rcv_mss = self.mss;
        match o.wscale {
            Some(ws) if cfg.window_scaling => {
                self.wscale_ok = true;
                self.snd_wscale = ws;
                if self.state != TcpState::SynSent {
                    self.rcv_wscale = wscale_for(self.rcvbuf.max(cfg.rcvbuf));
                }
            }
            _ => {
                self.wscale_ok = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        self.cwnd = self.initial_cwnd(cfg);
    }

    /// The end of a connection (`tcp_done`): CLOSED, both directions shut,
    /// timers stopped, and `err` left for the application.
    pub fn tcp_done(&mut self, cx: &mut Cx, err: Option<Errno>) {
        self.tcp_done_because(cx, err, "RFC 9293 §3.10.4");
    }

    /// `tcp_done`, traced with the clause that ends the connection.
    pub fn tcp_done_because(&mut self, cx: &mut Cx, err: Option<Errno>, rfc: &'static str) {
        self.set_state(cx, TcpState::Closed, rfc);
        if let Some(e) = err {
            self.error = Some(e);
        }
        self.shut_rcv = true;
        self.shut_snd = true;
        self.timers.clear_all();
        self.snd_buf = Default::default();
        self.out_of_order_queue = Default::default();
        self.ofo_bytes = 0;
        self.sacked = Vec::new();
        self.ack_now = false;
    }

    /// RFC 9293 §3.10.7.3 SYN_SENT.
    pub fn rcv_synsent(&mut self, cx: &mut Cx, cfg: &TcpConfig, h: &TcpRepr, payload: &[u8]) -> Result<(), Drop> {
        const RFC: &str = "RFC 9293 §3.10.7.3";
        // First, check the ACK bit: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT,
        // send a reset (unless the RST bit is set, if so drop the segment)".
        if let Some(ack) = h.ack {
            if ack.before_eq(self.iss) || ack.after(self.snd_max) {
                if !h.rst() {
                    self.transmit(cx, cfg, ack, TcpFlags::RST, 0);
                }
                return Err((DropReason::TcpAckUnsent, RFC));
            }
        }
        // Second, check the RST bit: with an acceptable ACK, "connection reset".
        if h.rst() {
            if h.ack.is_some() {
                let (l, r) = (self.local, self.remote);
                let now = cx.now;
                cx.trace.emit(now, EventKind::Tcp, RFC, || format!("{l} {r}: RST in SYN_SENT: connection refused"));
                self.tcp_done_because(cx, Some(Errno::ECONNREFUSED), RFC);
                return Ok(());
            }
            return Err((DropReason::TcpRstInvalid, RFC));
        }
        // Third, check security: no IP security options here (RFC 9293 §3.10.7.3 third).
        // Fourth, check the SYN bit.
        if !h.syn() {
            return Err((DropReason::TcpSynSentNoSyn, RFC));
        }
        self.irs = h.seq;
        self.rcv_nxt = h.seq + 1usize;
        self.rcv_adv = self.rcv_nxt;
        self.syn_options(cfg, &h.options, cx.now);
        self.last_rcv = cx.now;
        // RFC 7323 §2.2: the window in a SYN is never scaled.
        self.snd_wnd = h.window as usize;
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = h.seq;
        if let Some(ack) = h.ack {
            // "If SND.UNA > ISS (our SYN has been ACKed), change the connection
            // state to ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>".
            self.snd_una = ack;
            self.snd_wl2 = ack;
            if let Some((end, t)) = self.rtt_seq.take() {
                if ack.after_eq(end) {
                    self.rtt_sample(cfg, cx.now - t);
                }
            }
            self.retransmits = 0;
            self.timer_cancel(cx, TimerKind::Retransmit, "RFC 6298 §5.2", "our SYN is acknowledged");
            self.set_state(cx, TcpState::Established, RFC);
            self.start_keepalive(cx, cfg);
            self.ack_now = true;
            // Data in the SYN-ACK (TCP Fast Open) is not supported: ignored, and
            // ACKing RCV.NXT makes the peer resend it.
            let _ = payload;
        } else {
            // Simultaneous open: "enter SYN-RECEIVED, form a SYN,ACK segment
            // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it".
            self.snd_wl2 = self.iss;
            self.set_state(cx, TcpState::SynReceived, RFC);
            self.rtt_seq = None;
            self.send_syn(cx, cfg);
        }
        Ok(())
    }

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
        // read it as the ACK at IRS+1 (Linux accepts it the same way); the
        // letter of the acceptability test below would reject it and cost
        // the handshake one more crossing.
        let trimmed;
        let h = if self.state == TcpState::SynReceived && h.syn() && h.ack.is_some() && !h.rst() && h.seq == self.irs {
            trimmed = TcpRepr { seq: h.seq + 1, flags: TcpFlags(h.flags.0 & !TcpFlags::SYN.0), ..*h };
            &trimmed
        } else {
            h
        };
        let seg_len = payload.len() + usize::from(h.syn()) + usize::from(h.fin());

        // A retransmitted SYN while we are in SYN_RECEIVED: our SYN-ACK was
        // lost, send it again (Linux `tcp_check_req`).
        if self.state == TcpState::SynReceived && h.syn() && h.ack.is_none() && !h.rst() && h.seq == self.irs {
            self.send_syn(cx, cfg);
            return Ok(());
        }

        // ---- First, check sequence number. RFC 7323 §5.3 R1 puts PAWS
        // before it: an old duplicate, known by its old timestamp, is
        // acknowledged and dropped whatever its sequence number says.
        if let Some((tsval, _)) = h.options.timestamp {
            if self.paws_reject(cx.now, tsval, h.rst()) {
                self.ack_now = true;
                return Err((DropReason::TcpPawsRejected, "RFC 7323 §5.3"));
            }
        }
        // Then the four acceptability cases.
        let wnd = self.rcv_wnd();
        let wnd_end = self.rcv_nxt + wnd;
        let mut acceptable = match (seg_len, wnd) {
            (0, 0) => h.seq == self.rcv_nxt,
            (0, _) => h.seq.in_range(self.rcv_nxt, wnd_end),
            (_, 0) => false,
            // "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND or RCV.NXT =< SEG.SEQ+SEG.LEN-1 <
            // RCV.NXT+RCV.WND", widened to any overlap with the window: the
            // RFC's test misses a segment that starts before the window and
            // ends after it, whose middle is new data (Linux `tcp_sequence`
            // accepts it too).
            (_, _) => h.seq.before(wnd_end) && (h.seq + seg_len).after(self.rcv_nxt),
        };
        // "If the RCV.WND is zero, no segments will be acceptable, but special
        // allowance should be made to accept valid ACKs, URGs, and RSTs": a
        // segment at RCV.NXT is processed for its ACK, its text dropped.
        let mut zero_window_text = false;
        if !acceptable && wnd == 0 && h.seq == self.rcv_nxt {
            acceptable = true;
            zero_window_text = true;
        }
        if !acceptable {
            // "If an incoming segment is not acceptable, an acknowledgment
            // should be sent in reply (unless the RST bit is set)".
            if !h.rst() {
                self.ack_now = true;
                if self.sack_ok && !payload.is_empty() && h.seq.before(self.rcv_nxt) {
                    // A duplicate of what we have: RFC 2883 §4 D-SACK (Linux
                    // `tcp_send_dupack` → `tcp_dsack_set`).
                    self.dsack = Some((h.seq, (h.seq + payload.len()).min_seq(self.rcv_nxt)));
                }
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
        if let (true, Some((tsval, _))) = (self.ts_ok, h.options.timestamp) {
            self.ts_recent_update(cx.now, tsval, h.seq);
        }

        // ---- Second, check the RST bit (RFC 5961 §3.2: only an exact match resets).
        if h.rst() {
            if h.seq != self.rcv_nxt {
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
                // Active open (simultaneous): "connection refused".
                TcpState::SynReceived => self.tcp_done_because(cx, Some(Errno::ECONNREFUSED), STEP2),
                TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2 | TcpState::CloseWait => {
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
            if !(ack.after(self.snd_una) && ack.before_eq(self.snd_max)) {
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
            self.snd_wnd = (h.window as usize) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = h.seq;
            self.snd_wl2 = ack;
            self.set_state(cx, TcpState::Established, STEP5);
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

        // ---- Sixth, check the URG bit: urgent data is not supported (RFC 6093
        // advises against it); the urgent pointer is ignored and the bytes
        // arrive inline.

        // ---- Seventh, process the segment text.
        let mut fin = h.fin();
        let mut text = payload;
        if zero_window_text {
            if !text.is_empty() || fin {
                self.ack_now = true;
            }
            if !text.is_empty() {
                let n = text.len();
                cx.drop_packet(DropReason::TcpRcvBufFull, "RFC 9293 §3.10.7.4 step 1", || {
                    format!("{n} bytes against a zero window: ACK kept, text dropped")
                });
            }
            text = &[];
            fin = false;
        }
        let mut fin_in_order = false;
        match self.state {
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2 => {
                if self.owner == Owner::Orphan && h.seq.after_eq(self.rcv_nxt) && !text.is_empty() {
                    // Linux `tcp_rcv_state_process`: new data for a socket the
                    // application closed cannot be delivered: reset.
                    self.send_active_reset(cx, cfg);
                    self.tcp_done_because(cx, None, STEP7);
                    return Err((DropReason::TcpClosed, STEP7));
                }
                fin_in_order = self.tcp_data_queue(cx, cfg, h.seq, text, fin);
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
        Ok(())
    }

    /// `tcp_send_challenge_ack`: owe the peer an ACK (RFC 5961 §3.2, §4.2,
    /// §5.2) unless this second's budget is spent (§7, Linux
    /// `tcp_challenge_ack_limit`); either way the segment is dropped by the caller.
    fn challenge_ack(&mut self, cx: &mut Cx, cfg: &TcpConfig, env: &mut RcvEnv, rfc: &'static str) {
        if env.challenge_acks.allow(cx.now, cfg.challenge_ack_limit) {
            self.ack_now = true;
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
        if ack.after(self.snd_max) {
            self.challenge_ack(cx, cfg, env, RFC);
            return Err((DropReason::TcpAckUnsent, RFC));
        }
        // Below SND.UNA - MAX.SND.WND: from long ago, or a blind guess.
        if ack.before(self.snd_una - self.max_snd_wnd.max(1)) {
            self.challenge_ack(cx, cfg, env, "RFC 5961 §5.2");
            return Err((DropReason::TcpOldAck, "RFC 5961 §5.2"));
        }
        let acked = ack.since(self.snd_una);
        let old_wnd = self.snd_wnd;

        // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated.
        // If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK))".
        if ack.after_eq(self.snd_una)
            && (self.snd_wl1.before(h.seq) || (self.snd_wl1 == h.seq && self.snd_wl2.before_eq(ack)))
        {
            let wnd = (h.window as usize) << self.snd_wscale;
            self.snd_wl1 = h.seq;
            self.snd_wl2 = ack;
            if wnd != self.snd_wnd {
                let (l, r, old) = (self.local, self.remote, self.snd_wnd);
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpWindow, RFC, || format!("{l} {r}: peer window {old} -> {wnd}"));
                self.snd_wnd = wnd;
                self.max_snd_wnd = self.max_snd_wnd.max(wnd);
            }
        }

        if acked > 0 {
            // "SND.UNA < SEG.ACK =< SND.NXT": new data acknowledged; drop it
            // from the retransmission queue (the front of the send buffer).
            let prior_una = self.snd_una;
            let was_writeable = self.sk_stream_is_writeable();
            let data_acked = ack.since(self.snd_buf_seq).min(self.snd_buf.len());
            self.snd_buf.drain(..data_acked);
            release_if_empty(&mut self.snd_buf);
            self.snd_buf_seq += data_acked;
            if !was_writeable && self.sk_stream_is_writeable() {
                // `sk_write_space`: the send buffer is back above the low-water mark.
                self.wake |= PollFlags::POLLOUT;
            }
            self.snd_una = ack;
            if self.snd_nxt.before(ack) {
                self.snd_nxt = ack;
            }
            // RFC 6298 §3 with Karn's rule: only an ACK of the timed,
            // never-retransmitted segment gives a sample, and only if it does
            // not also cover retransmitted data (the timed segment's ACK was
            // then held up behind a hole, so it would measure the repair).
            let covers_retransmission = prior_una.before(self.retrans_high);
            let mut sampled = false;
            if let Some((end, t)) = self.rtt_seq {
                if ack.after_eq(end) {
                    if !covers_retransmission {
                        self.rtt_sample(cfg, cx.now - t);
                        sampled = true;
                    }
                    self.rtt_seq = None;
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
                    .filter(|&ecr| (ecr.wrapping_sub(self.rtx_tsval) as i32) >= 0);
                if let Some(r) = echo.and_then(|ecr| self.ts_rtt_sample(cx.now, ecr)) {
                    self.rtt_sample(cfg, r);
                }
            }
            if self.retransmits > 0 {
                // Progress: reset the give-up count and drop the backoff
                // (RFC 6298 (5.7) keeps it until a new sample; Linux, which
                // samples every ACK with timestamps, drops it here too).
                self.retransmits = 0;
                self.rto = if self.srtt_us > 0 { self.compute_rto(cfg) } else { cfg.rto_initial };
            }
            // RFC 3522: was the episode's first retransmission needed?
            if self.undo.is_some() {
                self.eifel_check(cx, h.options.timestamp.map(|t| t.1));
            }
            // RFC 6298 (5.2) all acked: stop the timer; (5.3) else restart it.
            if self.snd_una == self.snd_max {
                self.timer_cancel(cx, TimerKind::Retransmit, "RFC 6298 §5.2", "all data acknowledged");
                (self.tlp_armed, self.tlp_out) = (false, false);
            } else {
                self.timers.set(TimerKind::Retransmit, cx.now + self.rto);
                self.tlp_armed = false;
                // RFC 8985 §7.2: new data acknowledged; probe again if quiet.
                self.tlp_out = false;
                self.schedule_loss_probe(cx);
            }
        }
        // RFC 2018 §5 / RFC 6675 §4 Update(): the SACK blocks into the scoreboard.
        let mut sack = SackUpdate::default();
        if self.sack_ok {
            if self.sacked_prune() {
                cx.stats.inc(Counter::TcpSackReneging);
                let (l, r, una) = (self.local, self.remote, self.snd_una);
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
        let outstanding = self.snd_max != self.snd_una;
        let classic_dup = acked == 0 && ack == self.snd_una && self.snd_wnd == old_wnd;
        let dupack = outstanding && text == 0 && !h.fin() && (classic_dup || sack.newly_sacked > 0);
        if self.sack_ok {
            self.sack_cong_control(cx, cfg, ack, acked, dupack);
        } else if acked > 0 {
            self.cong_on_ack(cx, cfg, ack, acked);
        } else if dupack {
            self.dupacks += 1;
            self.cong_on_dupack(cx, cfg);
        }
        if self.snd_wnd > 0 && self.unsent() == 0 {
            self.timer_cancel(cx, TimerKind::Persist, "RFC 9293 §3.8.6.1", "the window opened");
        }
        Ok(())
    }

    /// RFC 5681 §3.1 slow start and congestion avoidance, and RFC 6582
    /// NewReno's partial and full ACKs in fast recovery.
    fn cong_on_ack(&mut self, cx: &mut Cx, cfg: &TcpConfig, ack: SeqNumber, acked: usize) {
        let mss = self.mss;
        if self.in_recovery {
            if ack.before(self.recover) {
                // RFC 6582 §3.2 step 5, partial ACK: retransmit the next hole,
                // deflate by the amount acked, add back one MSS.
                self.retransmit_head(cx, cfg, "RFC 6582 §3.2");
                self.cwnd = self.cwnd.saturating_sub(acked) + if acked >= mss { mss } else { 0 };
                self.cwnd = self.cwnd.max(mss);
                return;
            }
            // Full ACK: leave fast recovery with cwnd = min(ssthresh, FlightSize + MSS).
            self.cwnd = self.ssthresh.min(self.flight_size().max(mss) + mss);
            self.in_recovery = false;
            self.dupacks = 0;
            let (l, r, cwnd) = (self.local, self.remote, self.cwnd);
            let now = cx.now;
            cx.trace.emit(now, EventKind::TcpWindow, "RFC 6582 §3.2", || {
                format!("{l} {r}: full ACK, fast recovery ends, cwnd {cwnd}")
            });
            return;
        }
        self.dupacks = 0;
        self.cong_avoid(cx, acked);
    }

    /// RFC 5681 §3.2 fast retransmit / fast recovery on duplicate ACKs.
    fn cong_on_dupack(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        let mss = self.mss;
        if self.in_recovery {
            // (4) each further duplicate ACK: inflate cwnd by one MSS.
            self.cwnd += mss;
            return;
        }
        // RFC 6582 §3.2 step 2: not again for losses from before the last recovery.
        if self.dupacks == 3 && self.snd_una.after_eq(self.recover) {
            self.undo_mark(cx.now, false);
            // (2) ssthresh = max(FlightSize / 2, 2·SMSS) for Reno, 0.7 × cwnd for CUBIC (cong.rs)
            self.ssthresh = self.cong_ssthresh(cx);
            self.recover = self.snd_max;
            self.in_recovery = true;
            let (l, r, una) = (self.local, self.remote, self.snd_una);
            let ss = self.ssthresh;
            let now = cx.now;
            cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 5681 §3.2", || {
                format!("{l} {r}: 3 duplicate ACKs for {una}: fast retransmit, ssthresh {ss}")
            });
            cx.stats.inc(Counter::TcpRenoRecovery);
            // (3) retransmit the lost segment, cwnd = ssthresh + 3·SMSS.
            self.retransmit_head(cx, cfg, "RFC 5681 §3.2");
            self.cwnd = self.ssthresh + 3 * mss;
        }
    }

    /// Loss recovery with SACK (RFC 6675 §5; Linux `tcp_fastretrans_alert`).
    /// Outside recovery: grow cwnd on new data, count duplicate ACKs, and
    /// enter recovery on the third, or as soon as the first unacknowledged
    /// segment is deemed lost. In recovery: nothing changes cwnd until the
    /// cumulative ACK reaches the recovery point; `tcp_write_xmit` sends
    /// what `pipe` allows.
    fn sack_cong_control(&mut self, cx: &mut Cx, cfg: &TcpConfig, ack: SeqNumber, acked: usize, dupack: bool) {
        let mss = self.mss;
        if self.in_recovery {
            let relost = self.sack_detect_lost_retrans();
            if relost > 0 {
                cx.stats.inc_by(Counter::TcpLostRetransmit, relost as u64);
                let (l, r) = (self.local, self.remote);
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 6675 §4 (Linux tcp_mark_lost_retrans)", || {
                    format!("{l} {r}: {relost} retransmission(s) lost too: data sent after them was SACKed")
                });
            }
            if ack.after_eq(self.recover) {
                // The recovery point is acknowledged: recovery ends (RFC 6675
                // §5 step (4.1)), cwnd = ssthresh (RFC 5681 §3.2 (6); Linux
                // `tcp_end_cwnd_reduction`).
                self.cwnd = self.ssthresh.max(mss);
                self.in_recovery = false;
                self.dupacks = 0;
                let (l, r, cwnd) = (self.local, self.remote, self.cwnd);
                let now = cx.now;
                cx.trace.emit(now, EventKind::TcpWindow, "RFC 6675 §5", || {
                    format!("{l} {r}: recovery point acknowledged, SACK recovery ends, cwnd {cwnd}")
                });
            }
            return;
        }
        if acked > 0 {
            // RFC 6675 §5: "If the incoming ACK is a cumulative acknowledgment,
            // the TCP MUST reset DupAcks to zero."
            self.dupacks = 0;
            self.cong_avoid(cx, acked);
        }
        if dupack {
            self.dupacks += 1;
        }
        // Not again for losses from before the last recovery or timeout (RFC 6675 §5.1).
        if !self.snd_una.after_eq(self.recover) || self.snd_una == self.snd_max {
            return;
        }
        // (1) DupAcks >= DupThresh, or (2) IsLost(HighACK + 1).
        let lost = self.head_lost();
        if (self.dupacks as usize) < super::sack::DUP_THRESH && !lost {
            return;
        }
        // (4.1) RecoveryPoint = HighData; (4.2) ssthresh = cwnd = the algorithm's cut.
        self.undo_mark(cx.now, false);
        self.recover = self.snd_max;
        self.ssthresh = self.cong_ssthresh(cx);
        self.cwnd = self.ssthresh;
        self.in_recovery = true;
        cx.stats.inc(Counter::TcpSackRecovery);
        let (l, r, una, n, ss) = (self.local, self.remote, self.snd_una, self.dupacks, self.ssthresh);
        let holes = self.sacked.len();
        let now = cx.now;
        cx.trace.emit(now, EventKind::TcpRetransmit, "RFC 6675 §5", || {
            format!(
                "{l} {r}: {} at {una} ({n} duplicate ACKs, {holes} SACKed ranges): SACK recovery, cwnd = ssthresh = {ss}",
                if lost { "segment deemed lost" } else { "duplicate ACKs" }
            )
        });
        // (4.3) Retransmit the first segment presumed dropped; HighRxt follows it.
        self.high_rxt = self.snd_una;
        let hole_end = self.sacked_next_after(self.snd_una).unwrap_or(self.snd_max);
        self.rtx_marks.clear();
        self.relost.clear();
        let end = self.retransmit_range(cx, cfg, self.snd_una, hole_end, "RFC 6675 §5 (4.3)");
        self.high_rxt = end;
        self.sack_note_retransmit(self.snd_una, end);
    }

    /// `tcp_data_queue`: RFC 9293 §3.10.7.4 seventh step for ESTABLISHED,
    /// FIN_WAIT_1 and FIN_WAIT_2. In-order bytes go to the receive buffer,
    /// and pull whatever the out-of-order queue now continues; bytes beyond
    /// RCV.NXT wait in the out-of-order queue. Returns true when a FIN is
    /// now in sequence.
    fn tcp_data_queue(&mut self, cx: &mut Cx, cfg: &TcpConfig, seq: SeqNumber, data: &[u8], fin: bool) -> bool {
        let (mut seq, mut data, mut fin) = (seq, data, fin);
        let had_text = !data.is_empty() || fin;
        // Trim what we already have off the front ("segments with higher
        // beginning sequence numbers may be held"; old bytes are duplicates).
        if seq.before(self.rcv_nxt) {
            let skip = self.rcv_nxt.since(seq);
            if self.sack_ok && !data.is_empty() {
                // RFC 2883 §4: report the duplicate bytes in the next ACK's first block.
                self.dsack = Some((seq, (seq + data.len()).min_seq(self.rcv_nxt)));
            }
            if skip > data.len() {
                // Everything, FIN included, is old: a retransmission we already
                // have; ACK at once so the sender learns (RFC 9293 §3.10.7.4).
                if had_text {
                    self.ack_now = true;
                }
                return false;
            }
            data = &data[skip..];
            seq = self.rcv_nxt;
        }
        // Trim what lies beyond the window's right edge (and the FIN with it).
        let room = self.rcv_adv.since(seq);
        if data.len() > room {
            data = &data[..room];
            fin = false;
        }
        if data.is_empty() && !fin {
            if had_text {
                self.ack_now = true;
            }
            return false;
        }
        if seq != self.rcv_nxt {
            self.out_of_order(cx, cfg, seq, data, fin);
            return false;
        }
        // In order: deliver, and wake the reader (`sk_data_ready`).
        self.rcv_buf.extend(data);
        self.wake |= PollFlags::POLLIN;
        self.rcv_nxt += data.len();
        self.rcv_mss = self.rcv_mss.max(data.len().min(cfg.mss as usize));
        let mut fin_now = fin;
        if !self.out_of_order_queue.is_empty() {
            // RFC 5681 §4.2: a segment that fills (part of) a hole is ACKed at once.
            self.ack_now = true;
            fin_now |= self.ofo_pull(cx);
        }
        // RFC 1122 §4.2.3.2 / RFC 5681 §4.2: ACK at least every second
        // full-sized segment, otherwise within the delayed-ACK timeout. An
        // in-order FIN is ACKed at once (step 8): no timer for it.
        self.rcv_unacked += data.len();
        if !cfg.delayed_ack || self.rcv_unacked >= 2 * self.rcv_mss {
            self.ack_now = true;
        } else if !self.ack_now && !fin_now && !self.timers.is_set(TimerKind::DelayedAck) {
            self.timer_set(cx, TimerKind::DelayedAck, cfg.delayed_ack_timeout);
        }
        fin_now
    }

    /// `tcp_data_queue_ofo`: keep a segment beyond RCV.NXT in the sorted
    /// out-of-order queue, merging overlaps and neighbours, bounded by the
    /// window (bytes) and `MAX_OFO_SEGMENTS` (entries). Sends a duplicate ACK.
    fn out_of_order(&mut self, cx: &mut Cx, cfg: &TcpConfig, seq: SeqNumber, data: &[u8], fin: bool) {
        // RFC 5681 §4.2: "an immediate duplicate ACK when an out-of-order segment arrives".
        self.ack_now = true;
        let end = seq + data.len();
        let q = &mut self.out_of_order_queue;
        // First entry that ends at or after our start (it may touch or overlap us).
        let i = q.iter().position(|e| e.end().after_eq(seq)).unwrap_or(q.len());
        // Entries from i that start at or before our end: merge them all.
        let mut j = i;
        while j < q.len() && q[j].seq.before_eq(end) {
            j += 1;
        }
        self.ofo_tick = self.ofo_tick.wrapping_add(1);
        let touched = self.ofo_tick;
        let new_bytes;
        let mut duplicate = false;
        if i == j {
            if q.len() >= MAX_OFO_SEGMENTS || self.ofo_bytes + data.len() > cfg.max_ofo_bytes {
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
            self.ofo_bytes -= old;
            q.insert(i, merged);
        }
        self.ofo_bytes += new_bytes;
        if duplicate && self.sack_ok {
            // RFC 2883 §4: bytes we already held out of order.
            self.dsack = Some((seq, end));
        }
        let (l, r, n, b) = (self.local, self.remote, self.out_of_order_queue.len(), self.ofo_bytes);
        let now = cx.now;
        let rcv_nxt = self.rcv_nxt;
        cx.trace.emit(now, EventKind::TcpQueue, "RFC 9293 §3.10.7.4 step 7", || {
            format!("{r} > {l}: out-of-order {seq}:{end} (RCV.NXT {rcv_nxt}), queue {n} entries {b} bytes")
        });
    }

    /// Move what the out-of-order queue now continues into the receive
    /// buffer. Returns true if a FIN became in sequence.
    fn ofo_pull(&mut self, cx: &mut Cx) -> bool {
        let mut fin = false;
        while let Some(front) = self.out_of_order_queue.front() {
            if front.seq.after(self.rcv_nxt) {
                break;
            }
            let e = self.out_of_order_queue.pop_front().expect("front exists");
            self.ofo_bytes -= e.data.len();
            let skip = self.rcv_nxt.since(e.seq);
            if skip < e.data.len() {
                self.rcv_buf.extend(&e.data[skip..]);
                self.rcv_nxt = e.end();
            }
            if e.fin && e.end() == self.rcv_nxt {
                fin = true;
            }
        }
        release_if_empty(&mut self.out_of_order_queue);
        let (l, r, rcv_nxt, left) = (self.local, self.remote, self.rcv_nxt, self.out_of_order_queue.len());
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
        self.rcv_nxt += 1usize;
        self.shut_rcv = true;
        self.ack_now = true;
        // Readers see end of stream (POLLIN|POLLRDHUP) even where the state stays.
        self.wake |= crate::epoll::WAKE_ALL;
        match self.state {
            TcpState::SynReceived | TcpState::Established => self.set_state(cx, TcpState::CloseWait, RFC),
            // "If our FIN has been ACKed … enter TIME-WAIT … otherwise, enter CLOSING".
            TcpState::FinWait1 if self.fin_acked() => self.enter_time_wait(cx, cfg, RFC),
            TcpState::FinWait1 => self.set_state(cx, TcpState::Closing, RFC),
            TcpState::FinWait2 => self.enter_time_wait(cx, cfg, RFC),
            TcpState::TimeWait => self.enter_time_wait(cx, cfg, RFC),
            _ => {}
        }
    }

    /// TIME_WAIT for 2 × MSL (RFC 9293 §3.6.1), (re)started.
    pub fn enter_time_wait(&mut self, cx: &mut Cx, cfg: &TcpConfig, rfc: &'static str) {
        self.set_state(cx, TcpState::TimeWait, rfc);
        self.timers.clear_all();
        self.snd_buf = Default::default();
        self.timer_set(cx, TimerKind::TimeWait, cfg.msl * 2);
    }

    /// Arm keepalive on a newly established connection if SO_KEEPALIVE is on.
    pub fn start_keepalive(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        if self.keepalive {
            self.timer_set(cx, TimerKind::Keepalive, cfg.keepalive_time);
        }
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
    /// enough to matter (Linux `__tcp_cleanup_rbuf`: the remaining window
    /// is at most half the buffer and the new one at least twice it).
    pub fn window_update_after_read(&mut self, cx: &mut Cx, cfg: &TcpConfig) {
        if !matches!(self.state, TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2) {
            return;
        }
        let cur = self.rcv_wnd();
        let free = self.rcv_space().min(self.max_rcv_wnd());
        let threshold = (self.rcvbuf / 2).min(self.rcv_mss).max(1);
        if 2 * cur <= self.rcvbuf && free >= 2 * cur && free >= cur + threshold {
            let (l, r) = (self.local, self.remote);
            let now = cx.now;
            cx.trace.emit(now, EventKind::TcpWindow, "RFC 1122 §4.2.3.3", || {
                format!("{l} {r}: window update {cur} -> {free} after read")
            });
            self.send_ack(cx, cfg);
        }
    }
}
