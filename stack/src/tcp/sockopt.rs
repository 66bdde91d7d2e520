//! TCP's socket options: `setsockopt` / `getsockopt` on a TCP socket, and
//! the receive low-water mark they set.
//!
//! Read first: socket(7) (SO_RCVLOWAT, SO_SNDLOWAT, SO_LINGER, SO_TYPE,
//! SO_ACCEPTCONN, SO_DOMAIN), tcp(7) (TCP_NODELAY, TCP_CORK,
//! TCP_CONGESTION). Linux: net/core/sock.c `sk_setsockopt`,
//! `sk_getsockopt`, `sock_rcvlowat`; net/ipv4/tcp.c `do_tcp_setsockopt`,
//! `do_tcp_getsockopt`, `tcp_set_rcvlowat`, `tcp_poll`,
//! `tcp_stream_is_readable`; include/net/tcp.h `tcp_epollin_ready`,
//! `tcp_rmem_pressure`.
//!
//! SO_RCVLOWAT in one paragraph: a stream socket with `rcvlowat = n` is
//! readable (POLLIN, EPOLLIN) only when `n` bytes are queued, or the peer
//! closed, or an error is pending, or holding the bytes would stall the
//! connection (the window we offered is down to one segment, or the
//! buffer is nearly full: `tcp_epollin_ready`). A blocking `recv` of `len`
//! bytes waits for `min(n, len)` (`sock_rcvlowat`), which the blocking
//! adapter does with `Tcp::sock_rcvlowat`; a non-blocking one returns what is
//! there, as Linux's `tcp_recvmsg` does with no time to wait.
//!
//! TCP_MAXSEG in one sentence: a value set before the handshake clamps the
//! MSS the SYN or SYN-ACK announces and the one we send with (`advmss`,
//! Linux `tcp_mss_clamp` of `rx_opt.user_mss`).
//!
//! SO_LINGER's effect on `close` is in linger.rs, SO_OOBINLINE's on urgent
//! data in urgent.rs.

use super::sock::{TcpSock, TcpState, TimerKind};
use super::{Owner, Tcp, TcpConfig, RMEM_MAX, SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF, WMEM_MAX};
use crate::cx::Cx;
use crate::errno::Errno;
use crate::socket::{ip_ttl_value, PollFlags, SockOpt, SockOptName, SockType, AF_INET, INET_ECN_MASK, IP_DEFAULT_TTL};

impl Tcp {
    /// `setsockopt(2)` on a TCP socket (Linux `sk_setsockopt` for the
    /// SOL_SOCKET ones, `do_tcp_setsockopt` for the SOL_TCP ones).
    pub fn setsockopt(&mut self, cx: &mut Cx, h: usize, opt: SockOpt) -> Result<(), Errno> {
        let cfg = &self.config;
        let sk = match self.socks.get_mut(h) {
            Some(Some(s)) if s.owner == Owner::User => s,
            _ => return Err(Errno::EBADF),
        };
        match opt {
            SockOpt::ReuseAddr(b) => sk.opt.reuse_addr = b,
            // Linux `sk_setsockopt`: the value, capped by `wmem_max`, is
            // doubled for the kernel's overhead and locks autotuning.
            SockOpt::SndBuf(n) => {
                sk.q.sndbuf = (2 * n.min(WMEM_MAX)).max(SOCK_MIN_SNDBUF);
                sk.opt.sndbuf_lock = true;
                // Linux calls `sk_write_space` here: the mark may have moved.
                if sk.sk_stream_is_writeable() {
                    self.wakeups.wake(h, PollFlags::POLLOUT);
                }
            }
            // The same doubling: the window's share of it (`full_space`)
            // is half, the value asked for. Locked, the window scale of the
            // next SYN is sized to it.
            SockOpt::RcvBuf(n) => {
                sk.q.rcvbuf = (2 * n.min(RMEM_MAX)).max(SOCK_MIN_RCVBUF) / 2;
                sk.opt.rcvbuf_lock = true;
            }
            SockOpt::KeepAlive(b) => {
                sk.opt.keepalive = b;
                if b && sk.state.is_synchronized() {
                    let t = sk.keepalive_time_when(cfg);
                    sk.timer_set(cx, TimerKind::Keepalive, t);
                } else if !b {
                    sk.timers.clear(TimerKind::Keepalive);
                }
            }
            SockOpt::NoDelay(b) => {
                sk.opt.nodelay = b;
                if b {
                    sk.tcp_write_xmit(cx, cfg, false);
                }
            }
            SockOpt::Cork(b) => {
                sk.opt.cork = b;
                if !b {
                    // Uncorking pushes the partial segment out (Linux `tcp_push_pending_frames`).
                    sk.timers.clear(TimerKind::Cork);
                    sk.tcp_write_xmit(cx, cfg, true);
                }
            }
            SockOpt::NonBlocking(b) => sk.opt.nonblocking = b,
            // Linux `tcp_set_congestion_control`: fresh state, same cwnd.
            SockOpt::Congestion(a) => sk.set_congestion(a),
            SockOpt::RcvLowat(n) => {
                sk.tcp_set_rcvlowat(cfg, n);
                // Linux `tcp_set_rcvlowat` → `tcp_data_ready`: readers wake
                // if the new mark is already met.
                if sk.tcp_poll_readable() {
                    self.wakeups.wake(h, PollFlags::POLLIN);
                }
            }
            // Linux `sk_setsockopt`: "SO_SNDLOWAT: we don't support it".
            SockOpt::SndLowat(_) => return Err(Errno::ENOPROTOOPT),
            // `sk_setsockopt` SO_LINGER: off keeps the time; the time is in
            // seconds (`sk_lingertime`, here kept as seconds).
            SockOpt::Linger(l) => {
                sk.opt.linger.onoff = l.onoff;
                if l.onoff {
                    sk.opt.linger.secs = l.secs;
                }
            }
            // `sock_valbool_flag(sk, SOCK_URGINLINE, …)` (urgent.rs).
            SockOpt::OobInline(b) => sk.opt.oobinline = b,
            SockOpt::KeepIdle(s) => sk.tcp_sock_set_keepidle(cx, s)?,
            SockOpt::KeepIntvl(s) => sk.tcp_sock_set_keepintvl(s)?,
            SockOpt::KeepCnt(n) => sk.tcp_sock_set_keepcnt(n)?,
            // Linux `do_tcp_setsockopt` TCP_MAXSEG: 0, or TCP_MIN_MSS to
            // MAX_TCP_WINDOW; it takes effect at the next handshake.
            SockOpt::Ttl(v) => sk.opt.ttl = ip_ttl_value(v)?,
            // `ip_sock_set_tos`: on a stream socket the ECN bits stay TCP's.
            SockOpt::Tos(t) => sk.opt.tos = (t & !INET_ECN_MASK) | (sk.opt.tos & INET_ECN_MASK),
            SockOpt::MaxSeg(v) => {
                if v != 0 && !(TCP_MIN_MSS..=MAX_TCP_WINDOW).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                sk.opt.user_mss = v as u16;
            }
            // Read-only: `sk_setsockopt`'s default case.
            SockOpt::Type(_) | SockOpt::AcceptConn(_) | SockOpt::Domain(_) => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// `getsockopt(2)`. `SockOptName::Error` is SO_ERROR: the pending error
    /// comes back as `Err(e)` and is cleared (no error: `Ok(NonBlocking(_))`,
    /// as udp.rs does).
    pub fn getsockopt(&mut self, h: usize, name: SockOptName) -> Result<SockOpt, Errno> {
        let cfg = &self.config;
        let sk = match self.socks.get_mut(h) {
            Some(Some(s)) if s.owner == Owner::User => s,
            _ => return Err(Errno::EBADF),
        };
        Ok(match name {
            SockOptName::ReuseAddr => SockOpt::ReuseAddr(sk.opt.reuse_addr),
            SockOptName::SndBuf => SockOpt::SndBuf(sk.q.sndbuf),
            SockOptName::RcvBuf => SockOpt::RcvBuf(2 * sk.q.rcvbuf),
            SockOptName::KeepAlive => SockOpt::KeepAlive(sk.opt.keepalive),
            SockOptName::NoDelay => SockOpt::NoDelay(sk.opt.nodelay),
            SockOptName::Cork => SockOpt::Cork(sk.opt.cork),
            SockOptName::NonBlocking => SockOpt::NonBlocking(sk.opt.nonblocking),
            SockOptName::Congestion => SockOpt::Congestion(sk.cong.cc.algo),
            SockOptName::Error => return sk.error.take().map_or(Ok(SockOpt::NonBlocking(sk.opt.nonblocking)), Err),
            SockOptName::RcvLowat => SockOpt::RcvLowat(sk.opt.rcvlowat),
            SockOptName::SndLowat => SockOpt::SndLowat(1),
            SockOptName::Linger => SockOpt::Linger(sk.opt.linger),
            SockOptName::Type => SockOpt::Type(SockType::Stream),
            SockOptName::AcceptConn => SockOpt::AcceptConn(sk.state == TcpState::Listen),
            SockOptName::Domain => SockOpt::Domain(AF_INET),
            SockOptName::OobInline => SockOpt::OobInline(sk.opt.oobinline),
            // The values in force (Linux `keepalive_time_when(tp) / HZ`, …).
            SockOptName::KeepIdle => SockOpt::KeepIdle(sk.keepalive_time_when(cfg).as_secs() as u32),
            SockOptName::KeepIntvl => SockOpt::KeepIntvl(sk.keepalive_intvl_when(cfg).as_secs() as u32),
            SockOptName::KeepCnt => SockOpt::KeepCnt(sk.keepalive_probes_when(cfg)),
            // Linux: `mss_cache` (536 before a handshake), or the value set
            // while CLOSED or LISTEN.
            SockOptName::Ttl => SockOpt::Ttl(i32::from(sk.opt.ttl.unwrap_or(IP_DEFAULT_TTL))),
            SockOptName::Tos => SockOpt::Tos(sk.opt.tos),
            SockOptName::MaxSeg => SockOpt::MaxSeg(match sk.state {
                TcpState::Closed | TcpState::Listen if sk.opt.user_mss != 0 => u32::from(sk.opt.user_mss),
                TcpState::Closed | TcpState::Listen | TcpState::SynSent => TCP_MSS_DEFAULT,
                _ => sk.mss_now() as u32,
            }),
        })
    }

    /// SIOCATMARK (Linux `tcp_ioctl`): the next read starts at the urgent
    /// byte (urgent.rs).
    pub fn sockatmark(&self, h: usize) -> Result<bool, Errno> {
        Ok(self.user(h)?.sockatmark())
    }

    /// FIONREAD / SIOCINQ (Linux `tcp_ioctl` → `tcp_inq`): bytes to read, up
    /// to an urgent byte still ahead; `EINVAL` on a listener.
    pub fn tcp_inq(&self, h: usize) -> Result<usize, Errno> {
        let sk = self.user(h)?;
        if sk.state == TcpState::Listen {
            return Err(Errno::EINVAL);
        }
        Ok(sk.tcp_inq())
    }

    /// The bytes a blocking `recv` of `len` bytes waits for (Linux
    /// `sock_rcvlowat`: `MSG_WAITALL` waits for all of `len`, otherwise
    /// `min(SO_RCVLOWAT, len)`, at least 1).
    pub fn sock_rcvlowat(&self, h: usize, waitall: bool, len: usize) -> Result<usize, Errno> {
        let sk = self.user(h)?;
        Ok(if waitall { len } else { sk.opt.rcvlowat.min(len) }.max(1))
    }
}

/// Linux `TCP_MIN_MSS`, `MAX_TCP_WINDOW`: TCP_MAXSEG's range.
pub const TCP_MIN_MSS: u32 = 88;
pub const MAX_TCP_WINDOW: u32 = 32767;
/// Linux `TCP_MSS_DEFAULT`: `mss_cache` before a handshake (RFC 9293 §3.7.1's 536).
const TCP_MSS_DEFAULT: u32 = 536;

impl TcpSock {
    /// Linux `tcp_mss_clamp`: our MSS (`TcpConfig::mss`, the device's)
    /// clamped by TCP_MAXSEG. It is what our SYN or SYN-ACK announces, the
    /// most we send with, and the segment size the receive window is
    /// reckoned in (Linux `advmss`).
    pub(super) fn advmss(&self, cfg: &TcpConfig) -> usize {
        match self.opt.user_mss {
            0 => usize::from(cfg.mss),
            u => usize::from(cfg.mss.min(u)),
        }
    }

    /// Linux `tcp_set_rcvlowat`: the mark is capped at half the buffer the
    /// socket may have (its own if SO_RCVBUF locked it, else `tcp_rmem[2]`);
    /// 0 means 1. Unless locked, the buffer grows to hold the mark, so that
    /// the window can ever reach it.
    fn tcp_set_rcvlowat(&mut self, cfg: &TcpConfig, val: usize) {
        // `q.rcvbuf` is the window's half of Linux's `sk_rcvbuf`.
        let cap = if self.opt.rcvbuf_lock { self.q.rcvbuf } else { cfg.rcvbuf_max / 2 };
        let val = val.min(cap);
        self.opt.rcvlowat = val.max(1);
        if self.opt.rcvbuf_lock {
            return;
        }
        // `tcp_space_from_win(val) > sk_rcvbuf`: in synack's units, the mark
        // is more than the window's share.
        if val > self.q.rcvbuf {
            self.q.rcvbuf = val;
            if self.state.is_synchronized() {
                // `tcp_set_window_clamp(sk, val)`.
                let clamp = val.max(SOCK_MIN_RCVBUF / 2);
                if clamp > self.rcv.window_clamp {
                    self.rcv.ssthresh = self.rcv.ssthresh.max(self.rcv.last_wnd.min(clamp));
                }
                self.rcv.window_clamp = clamp;
                self.rcv.ssthresh = self.rcv.ssthresh.min(clamp);
            }
        }
    }

    /// Linux `tcp_epollin_ready(sk, sk_rcvlowat)`: bytes to read, and
    /// either the mark is met, or holding them would stall the sender: what
    /// is left of the window we offered is at most one segment, or the
    /// buffer is under pressure (`tcp_rmem_pressure`: over 7/8 full, here
    /// counted in payload bytes against the window's share).
    pub(super) fn tcp_epollin_ready(&self) -> bool {
        let avail = self.q.rcv_buf.len();
        if avail == 0 {
            return false;
        }
        let held = avail + self.q.ofo_bytes;
        // `tcp_poll`: one more when the out-of-band byte is next (urgent.rs).
        let target = self.opt.rcvlowat + usize::from(self.urg_at_mark_oob());
        avail >= target || held > self.q.rcvbuf - self.q.rcvbuf / 8 || self.rcv.wnd() <= self.rcv.mss
    }

    /// POLLIN of `tcp_poll`: the mark is met, or the peer's FIN or SHUT_RD
    /// (read returns 0).
    pub(super) fn tcp_poll_readable(&self) -> bool {
        self.shut_rcv || self.tcp_epollin_ready()
    }
}
