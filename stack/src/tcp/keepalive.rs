//! Per-socket keepalive: TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT.
//!
//! Read first: RFC 1122 §4.2.3.6 (keep-alives), tcp(7) (the three options).
//! Linux: net/ipv4/tcp.c `do_tcp_setsockopt` → `tcp_sock_set_keepidle_locked`,
//! `tcp_sock_set_keepintvl`, `tcp_sock_set_keepcnt`, `do_tcp_getsockopt`;
//! include/net/tcp.h `keepalive_time_when`, `keepalive_intvl_when`,
//! `keepalive_probes`, `keepalive_time_elapsed`.
//!
//! Each option overrides, for one socket, the stack's setting
//! (`TcpConfig::keepalive_time`, `keepalive_intvl`, `keepalive_probes`:
//! Linux's `tcp_keepalive_*` sysctls); `getsockopt` says the value in
//! force, the stack's until the socket sets its own. Values are seconds
//! (probes for TCP_KEEPCNT) and out of Linux's range give `EINVAL`. A
//! listener's values pass to the connections it accepts. The timer itself
//! is timer.rs's `keepalive_timer`, which asks these functions.

use super::sock::{TcpSock, TcpState, TimerKind};
use super::TcpConfig;
use crate::cx::Cx;
use crate::errno::Errno;
use crate::time::Duration;

/// Linux `MAX_TCP_KEEPIDLE`, `MAX_TCP_KEEPINTVL` (seconds), `MAX_TCP_KEEPCNT`.
pub const MAX_TCP_KEEPIDLE: u32 = 32767;
pub const MAX_TCP_KEEPINTVL: u32 = 32767;
pub const MAX_TCP_KEEPCNT: u32 = 127;

impl TcpSock {
    /// Linux `keepalive_time_when`: idle time before the first probe.
    pub(super) fn keepalive_time_when(&self, cfg: &TcpConfig) -> Duration {
        self.opt.keepidle.unwrap_or(cfg.keepalive_time)
    }

    /// Linux `keepalive_intvl_when`: time between probes.
    pub(super) fn keepalive_intvl_when(&self, cfg: &TcpConfig) -> Duration {
        self.opt.keepintvl.unwrap_or(cfg.keepalive_intvl)
    }

    /// Linux `keepalive_probes`: unanswered probes before giving up.
    pub(super) fn keepalive_probes_when(&self, cfg: &TcpConfig) -> u32 {
        self.opt.keepcnt.map_or(cfg.keepalive_probes, u32::from)
    }

    /// TCP_KEEPIDLE (Linux `tcp_sock_set_keepidle_locked`): 1 to 32767 s.
    /// With SO_KEEPALIVE on a live connection, the timer is re-armed for
    /// what is left of the new idle time since the peer was last heard
    /// (`keepalive_time_elapsed`), at once if that is already past.
    pub(super) fn tcp_sock_set_keepidle(&mut self, cx: &mut Cx, secs: u32) -> Result<(), Errno> {
        if !(1..=MAX_TCP_KEEPIDLE).contains(&secs) {
            return Err(Errno::EINVAL);
        }
        let t = Duration::from_secs(u64::from(secs));
        self.opt.keepidle = Some(t);
        if self.opt.keepalive && !matches!(self.state, TcpState::Closed | TcpState::Listen) {
            let elapsed = cx.now.saturating_since(self.last_rcv);
            self.timer_set(cx, TimerKind::Keepalive, t.saturating_sub(elapsed));
        }
        Ok(())
    }

    /// TCP_KEEPINTVL (Linux `tcp_sock_set_keepintvl`): 1 to 32767 s.
    pub(super) fn tcp_sock_set_keepintvl(&mut self, secs: u32) -> Result<(), Errno> {
        if !(1..=MAX_TCP_KEEPINTVL).contains(&secs) {
            return Err(Errno::EINVAL);
        }
        self.opt.keepintvl = Some(Duration::from_secs(u64::from(secs)));
        Ok(())
    }

    /// TCP_KEEPCNT (Linux `tcp_sock_set_keepcnt`): 1 to 127 probes.
    pub(super) fn tcp_sock_set_keepcnt(&mut self, n: u32) -> Result<(), Errno> {
        if !(1..=MAX_TCP_KEEPCNT).contains(&n) {
            return Err(Errno::EINVAL);
        }
        self.opt.keepcnt = Some(n as u8);
        Ok(())
    }
}
