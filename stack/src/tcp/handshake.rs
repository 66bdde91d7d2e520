//! The handshake: what arrives for no connection or for a connection still
//! opening. RFC 9293 §3.10.7.1 CLOSED (`handshake.rs::Tcp::closed_rcv`:
//! a reset), §3.10.7.2 LISTEN (`Tcp::listen_rcv`: a SYN makes a child in
//! SYN_RECEIVED, or a SYN cookie when the SYN queue is full; the ACK of a
//! cookie makes an ESTABLISHED child, `Tcp::cookie_ack_rcv`), §3.10.7.3
//! SYN_SENT (`TcpSock::rcv_synsent`), and a new SYN ending TIME_WAIT early
//! (`Tcp::time_wait_reuse`, RFC 6191). A child in SYN_RECEIVED, and every
//! later state, is §3.10.7.4 "Otherwise", in input.rs.
//!
//! Read first: RFC 9293 §3.10.7.1-3, §3.5 (the three-way handshake), RFC 7323
//! §2-§3 and RFC 2018 §2 (options on the SYN), RFC 4987 §3.6 (SYN cookies),
//! RFC 6191. Linux: net/ipv4/tcp_ipv4.c `tcp_v4_send_reset`,
//! `tcp_v4_conn_request`, net/ipv4/tcp_minisocks.c `tcp_check_req`,
//! `tcp_timewait_state_process`, `inet_csk_clone_lock`,
//! net/ipv4/tcp_input.c `tcp_rcv_synsent_state_process`.

use super::input::Drop;
use super::output::send_reset;
use super::seq::SeqNumber;
use super::sock::TimerKind;
use super::sock::{Owner, TcpSock, TcpState};
use super::syncookies;
use super::timestamps;
use super::{Tcp, TcpConfig, DEFAULT_PEER_MSS};
use crate::cx::Cx;
use crate::errno::Errno;
use crate::stats::{Counter, DropReason};
use crate::time::{Duration, Instant};
use crate::trace::EventKind;
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr, TS_OPT_LEN};
use std::net::SocketAddrV4;

/// Linux `TCP_TIMEOUT_MIN` (2 jiffies): the soonest a SYN is resent after
/// an unacceptable ACK in SYN_SENT.
const TCP_TIMEOUT_MIN: Duration = Duration::from_millis(2);

impl Tcp {
    /// RFC 9293 §3.10.7.1 CLOSED: "all data in the incoming segment is
    /// discarded. An incoming segment containing a RST is discarded. An
    /// incoming segment not containing a RST causes a RST to be sent."
    pub(super) fn closed_rcv(
        &mut self,
        cx: &mut Cx,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        h: &TcpRepr,
        len: usize,
    ) {
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
    pub(super) fn time_wait_reuse(&mut self, cx: &mut Cx, i: usize, h: &TcpRepr) -> bool {
        let Some(sk) = self.socks[i].as_ref() else { return false };
        if sk.state != TcpState::TimeWait || !h.syn() || h.ack.is_some() {
            return false;
        }
        // RFC 6191 §2: a SYN is new if its sequence number is above the old
        // RCV.NXT, or, with timestamps in use, its TSval above TS.Recent
        // (which tells old from new even when the sequence numbers do not).
        let newer_ts = sk.ts.ok && h.options.timestamp.is_some_and(|(v, _)| (v.wrapping_sub(sk.ts.recent) as i32) > 0);
        if !h.seq.after(sk.rcv.nxt) && !newer_ts {
            return false;
        }
        if !self.listeners.contains_key(&sk.local.port()) {
            return false;
        }
        let Some(mut sk) = self.socks[i].take() else { return false };
        let (l, r, rcv_nxt) = (sk.local, sk.remote, sk.rcv.nxt);
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
    pub(super) fn listen_rcv(
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
        // `tcp_syncookies = 2`: a cookie for every SYN, queue full or not.
        if q.syn_queue.len() >= syn_cap || cfg.syncookies_always {
            if cfg.syncookies || cfg.syncookies_always {
                return self.cookie_synack(cx, li, local, remote, h, syn_cap);
            }
            return cx.drop_packet(DropReason::TcpSynQueueFull, RFC, || {
                format!("{remote} > {local}: SYN dropped, SYN queue full ({syn_cap})")
            });
        }
        let mut child = new_child(&cfg, lsk, li, local, remote);
        // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ … ISS should be selected".
        child.rcv.irs = h.seq;
        child.rcv.nxt = h.seq + 1usize;
        child.rcv.adv = child.rcv.nxt;
        child.init_send_seq(self.isn(local, remote, cx.now));
        child.syn_options(&cfg, &h.options, cx.now);
        child.ts.offset = timestamps::ts_offset(&self.isn_key, local, remote);
        child.snd.wnd = h.window as usize;
        child.snd.max_wnd = child.snd.wnd;
        child.snd.wl1 = h.seq;
        child.snd.wl2 = child.snd.iss;
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
        child.tcp_probe_rx(cx, h, payload.len());
        // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
        child.send_syn(cx, &cfg);
        child.rtt.timed = Some((child.snd.iss + 1usize, cx.now));
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
        self.config.syncookies_always
            || (self.config.syncookies && last.is_some_and(|t| now.saturating_since(t) <= window))
    }

    /// The SYN queue is full: answer the SYN with a SYN-ACK whose ISS is a
    /// cookie and keep nothing (RFC 4987 §3.6, Linux `tcp_conn_request` with
    /// `want_cookie`). The ISS keeps the peer's MSS (an index in `MSSTAB`);
    /// when the SYN had timestamps, the SYN-ACK's TSval keeps the rest of
    /// what the SYN offered in its low 6 bits, as Linux's
    /// `cookie_init_timestamp` does (`syncookies::ts_options`), and the
    /// SYN-ACK offers SACK and window scaling as usual; without timestamps,
    /// our MSS only: there is nowhere to keep an agreement about them.
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
        req.rcv.irs = h.seq;
        req.rcv.nxt = h.seq + 1usize;
        req.rcv.adv = req.rcv.nxt;
        req.init_send_seq(iss);
        if cfg.timestamps && h.options.timestamp.is_some() {
            // The options the SYN offered, as a full SYN queue would have kept them.
            req.syn_options(cfg, &h.options, cx.now);
            req.ts.offset = timestamps::ts_offset(&self.isn_key, local, remote);
            let bits = syncookies::ts_options(req.snd.wscale_ok.then_some(req.snd.wscale), req.sack.ok);
            let now_ts = req.ts_val(cx.now);
            req.ts.offset = req.ts.offset.wrapping_sub(now_ts.wrapping_sub(syncookies::ts_with_options(now_ts, bits)));
        } else {
            // The peer's MSS only: nothing else can be kept (and the window
            // is chosen as for any SYN-ACK, `syn_options`).
            req.syn_options(cfg, &TcpOptions { mss: h.options.mss, ..TcpOptions::default() }, cx.now);
        }
        // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>; not a `tcp_probe` sample:
        // no connection exists (a flood must not fill the plots' history).
        let probing = cx.probe.suspend();
        req.send_syn(cx, cfg);
        cx.probe.resume(probing);
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
        // MSS from its index; with timestamps, window scale and SACK from the
        // low bits of the TSecr, our cookie TSval echoed (Linux
        // `cookie_timestamp_decode`); without, neither (RFC 7323 §2.2 needs
        // both SYNs).
        let mut child = new_child(&cfg, lsk, li, local, remote);
        child.rcv.irs = irs;
        child.rcv.nxt = h.seq;
        child.init_send_seq(iss);
        child.snd.nxt = ack;
        child.snd.max = ack;
        let mss = syncookies::MSSTAB[idx as usize];
        let mut opts = TcpOptions { mss: Some(mss), ..TcpOptions::default() };
        if let (true, Some((tsval, tsecr))) = (cfg.timestamps, h.options.timestamp) {
            let (wscale, sack) = syncookies::ts_options_decode(tsecr);
            opts.timestamp = Some((tsval, tsecr));
            opts.wscale = wscale;
            opts.sack_permitted = sack;
        }
        child.syn_options(&cfg, &opts, cx.now);
        child.ts.offset = timestamps::ts_offset(&self.isn_key, local, remote);
        // The window our cookie SYN-ACK offered (`syn_window`).
        child.rcv.adv = child.rcv.nxt + child.rcv.last_wnd.min(65535);
        child.snd.wl1 = irs;
        child.snd.wl2 = iss;
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
}

/// A passive child of listener `lsk` (index `li`) for `local`/`remote`: it
/// inherits the listener's options (`inet_csk_clone_lock`).
pub fn new_child(cfg: &TcpConfig, lsk: &TcpSock, li: usize, local: SocketAddrV4, remote: SocketAddrV4) -> TcpSock {
    let mut child = TcpSock::new(cfg);
    child.state = TcpState::Listen;
    child.owner = Owner::Child { listener: li };
    child.local = local;
    child.remote = remote;
    child.q.sndbuf = lsk.q.sndbuf;
    child.q.rcvbuf = lsk.q.rcvbuf;
    child.opt.sndbuf_lock = lsk.opt.sndbuf_lock;
    child.opt.rcvbuf_lock = lsk.opt.rcvbuf_lock;
    child.opt.nodelay = lsk.opt.nodelay;
    child.opt.cork = lsk.opt.cork;
    child.opt.keepalive = lsk.opt.keepalive;
    child.opt.reuse_addr = lsk.opt.reuse_addr;
    // `sk_clone_lock` copies the socket: SO_RCVLOWAT and SO_LINGER too.
    child.opt.rcvlowat = lsk.opt.rcvlowat;
    child.opt.linger = lsk.opt.linger;
    child.opt.oobinline = lsk.opt.oobinline;
    child.opt.user_mss = lsk.opt.user_mss;
    (child.opt.ttl, child.opt.tos) = (lsk.opt.ttl, lsk.opt.tos);
    (child.opt.keepidle, child.opt.keepintvl, child.opt.keepcnt) =
        (lsk.opt.keepidle, lsk.opt.keepintvl, lsk.opt.keepcnt);
    // TCP_CONGESTION: the listener's algorithm, fresh state (cong.rs).
    child.set_congestion(lsk.cong.cc.algo);
    child.bound = true;
    child.hashed = true;
    child
}

impl TcpSock {
    /// Set the send sequence variables for a new ISS.
    pub fn init_send_seq(&mut self, iss: SeqNumber) {
        self.snd.iss = iss;
        self.snd.una = iss;
        self.snd.nxt = iss;
        self.snd.max = iss;
        self.q.snd_buf_seq = iss + 1usize;
        self.snd.sml = iss + 1usize;
        self.snd.pushed_seq = iss + 1usize;
        self.snd.tail_start = iss + 1usize;
        self.cong.recover = iss;
        self.rtt.retrans_high = iss;
    }

    /// The options of the peer's SYN: MSS (RFC 9293 §3.7.1, default 536),
    /// window scale (RFC 7323 §2.2), timestamps (RFC 7323 §3.2) and SACK
    /// (RFC 2018 §2), each used only if both SYNs carry it. Our SYN carried
    /// all we have turned on; a SYN-ACK echoes only what the SYN had.
    pub fn syn_options(&mut self, cfg: &TcpConfig, o: &TcpOptions, now: Instant) {
        let peer_mss = o.mss.map_or(DEFAULT_PEER_MSS, |m| m as usize);
        // RFC 9293 §3.7.1: an MSS too small to carry data would stall us; 64 is a floor.
        self.snd.mss = peer_mss.clamp(64, self.advmss(cfg));
        self.ts.ok = cfg.timestamps && o.timestamp.is_some();
        if let (true, Some((tsval, _))) = (self.ts.ok, o.timestamp) {
            self.ts.recent = tsval;
            self.ts.recent_stamp = now;
            // RFC 7323 §3.2 / Linux `tcp_mss_cache`: the option rides on every
            // segment, so a segment carries 12 bytes less payload.
            self.snd.mss -= TS_OPT_LEN;
        }
        self.sack.ok = cfg.sack && o.sack_permitted;
        // The first guess at the peer's segment size, against the window
        // our SYN or SYN-ACK offers (delack.rs).
        let syn_wnd = self.rcv_space().min(65535);
        self.tcp_initialize_rcv_mss(cfg, syn_wnd);
        match o.wscale {
            Some(ws) if cfg.window_scaling => {
                self.snd.wscale_ok = true;
                self.snd.wscale = ws;
            }
            _ => {
                self.snd.wscale_ok = false;
                self.snd.wscale = 0;
            }
        }
        if self.state == TcpState::SynSent {
            // Our SYN offered a scale (`connect`); unanswered, none is used
            // (Linux `tcp_rcv_synsent_state_process`).
            if !self.snd.wscale_ok {
                self.rcv.wscale = 0;
                self.rcv.window_clamp = self.rcv.window_clamp.min(65535);
            }
        } else {
            // The SYN-ACK's window (Linux `tcp_openreq_init_rwin`): whole
            // segments of what will ride in each, timestamps known now.
            let ts = if self.ts.ok { TS_OPT_LEN } else { 0 };
            self.select_initial_window(cfg, self.advmss(cfg).saturating_sub(ts), self.snd.wscale_ok);
        }
        self.cong.cwnd = self.initial_cwnd(cfg);
    }

    /// RFC 9293 §3.10.7.3 SYN_SENT.
    pub fn rcv_synsent(&mut self, cx: &mut Cx, cfg: &TcpConfig, h: &TcpRepr, payload: &[u8]) -> Result<(), Drop> {
        const RFC: &str = "RFC 9293 §3.10.7.3";
        // First, check the ACK bit: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT,
        // send a reset (unless the RST bit is set, if so drop the segment)".
        if let Some(ack) = h.ack {
            if ack.before_eq(self.snd.iss) || ack.after(self.snd.max) {
                // Linux: "Previous FIN/ACK or RST/ACK might be ignored": the
                // peer may hold an old connection, so the SYN goes again
                // almost at once (`TCP_TIMEOUT_MIN`), if it has not yet been
                // retransmitted.
                if self.rtt.retransmits == 0 {
                    self.timers.set(TimerKind::Retransmit, cx.now + TCP_TIMEOUT_MIN);
                }
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
        self.rcv.irs = h.seq;
        self.rcv.nxt = h.seq + 1usize;
        // The window our SYN offered now starts at RCV.NXT (Linux `rcv_wup`).
        self.rcv.adv = self.rcv.nxt + self.rcv.last_wnd.min(65535);
        self.syn_options(cfg, &h.options, cx.now);
        self.last_rcv = cx.now;
        // RFC 7323 §2.2: the window in a SYN is never scaled.
        self.snd.wnd = h.window as usize;
        self.snd.max_wnd = self.snd.wnd;
        self.snd.wl1 = h.seq;
        if let Some(ack) = h.ack {
            // "If SND.UNA > ISS (our SYN has been ACKed), change the connection
            // state to ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>".
            self.snd.una = ack;
            self.snd.wl2 = ack;
            if let Some((end, t)) = self.rtt.timed.take() {
                if ack.after_eq(end) {
                    self.rtt.sample(cfg, cx.now - t);
                }
            }
            self.rtt.retransmits = 0;
            self.rtt.retrans_stamp = None;
            self.timer_cancel(cx, TimerKind::Retransmit, "RFC 6298 §5.2", "our SYN is acknowledged");
            self.set_state(cx, TcpState::Established, RFC);
            self.init_buffer_space(cfg);
            self.start_keepalive(cx, cfg);
            self.rcv.ack_now = true;
            // Data in the SYN-ACK (TCP Fast Open) is not supported: ignored, and
            // ACKing RCV.NXT makes the peer resend it.
            let _ = payload;
        } else {
            // Simultaneous open: "enter SYN-RECEIVED, form a SYN,ACK segment
            // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it".
            self.snd.wl2 = self.snd.iss;
            self.set_state(cx, TcpState::SynReceived, RFC);
            self.rtt.timed = None;
            self.send_syn(cx, cfg);
        }
        Ok(())
    }
}
