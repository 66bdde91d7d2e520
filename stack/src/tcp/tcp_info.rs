//! TCP_INFO: one socket's `struct tcp_info`, the fields synack keeps, and
//! Linux's byte layout of it for a program's `getsockopt`.
//!
//! Read first: tcp(7) (TCP_INFO), include/uapi/linux/tcp.h (`struct
//! tcp_info`, `TCPI_OPT_*`, `enum tcp_ca_state`). Linux:
//! net/ipv4/tcp.c `tcp_get_info`.
//!
//! Units are Linux's: times in microseconds (`rto`, `ato`, `rtt`,
//! `rttvar`, `rcv_rtt`) or milliseconds ago (`last_*`), windows and
//! thresholds of the congestion control in segments (`snd_cwnd`,
//! `snd_ssthresh`, with `TCP_INFINITE_SSTHRESH` before any loss), queue
//! counts in segments (`unacked`, `sacked`), the rest in bytes.
//!
//! What synack does not keep is 0: `lost`, `retrans` (segments now lost or
//! retransmitted in flight), `fackets`, `last_ack_sent` (Linux keeps none
//! either), the pacing rates, the byte and segment counters
//! (`bytes_acked`, `segs_out`, …), `min_rtt`, the delivery and busy-time
//! fields, `dsack_dups`, `reord_seen`, `rcv_ooopack`, `rehash`, the RTO
//! statistics and the ECN counters. Where synack keeps a field differently,
//! its doc says so. `tcp_info_bytes` lays the struct out as Linux 6.18 does
//! (`TCP_INFO_LEN` bytes, native byte order); a program that asks for fewer
//! gets the first `optlen` (Linux copies `min(len, sizeof)`).

use super::sock::TcpSock;
pub use super::state::CaState;
use super::{Owner, Tcp};
use crate::errno::Errno;
use crate::time::Instant;

/// `sizeof(struct tcp_info)` on Linux 6.18 (what `getsockopt(TCP_INFO)`
/// returns at most).
pub const TCP_INFO_LEN: usize = 280;

/// `TCPI_OPT_TIMESTAMPS`, `TCPI_OPT_SACK`, `TCPI_OPT_WSCALE` (`tcpi_options`).
pub const TCPI_OPT_TIMESTAMPS: u8 = 1;
pub const TCPI_OPT_SACK: u8 = 2;
pub const TCPI_OPT_WSCALE: u8 = 4;

/// Linux `TCP_INFINITE_SSTHRESH`.
pub const TCP_INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// `struct tcp_info`: the fields synack keeps (the rest are 0 in the bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxTcpInfo {
    /// Linux's state number (`TCP_ESTABLISHED` = 1 … `TCP_CLOSING` = 11).
    pub state: u8,
    /// Open, Recovery (fast recovery) or Loss (after an RTO, until the
    /// retransmission is acknowledged); synack has no Disorder or CWR.
    pub ca_state: CaState,
    /// RTOs since the last forward progress (`icsk_retransmits`).
    pub retransmits: u8,
    /// Window or keepalive probes unanswered (`icsk_probes_out`).
    pub probes: u8,
    /// RTO backoffs (`icsk_backoff`): synack backs off once per RTO, so the
    /// same count as `retransmits`.
    pub backoff: u8,
    pub options: u8,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub rto: u32,
    pub ato: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    /// Segments in flight (bytes sent and unacknowledged over the MSS).
    pub unacked: u32,
    /// Segments SACKed (SACKed bytes over the MSS).
    pub sacked: u32,
    pub last_data_sent: u32,
    /// synack keeps when any segment last came (Linux: data; and, for
    /// `last_ack_recv`, an ACK): both say that.
    pub last_data_recv: u32,
    pub last_ack_recv: u32,
    /// Our MSS plus 40: the device's MTU as synack knows it.
    pub pmtu: u32,
    pub rcv_ssthresh: u32,
    pub rtt: u32,
    pub rttvar: u32,
    pub snd_ssthresh: u32,
    pub snd_cwnd: u32,
    pub advmss: u32,
    /// Linux's `tcp_reordering` default, 3: synack does not adapt it.
    pub reordering: u32,
    pub rcv_rtt: u32,
    pub rcv_space: u32,
    pub total_retrans: u32,
    pub notsent_bytes: u32,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Tcp {
    /// `getsockopt(TCP_INFO)` (Linux `tcp_get_info`) on the application's
    /// socket `h` at `now`.
    pub fn tcp_get_info(&self, h: usize, now: Instant) -> Result<LinuxTcpInfo, Errno> {
        let sk = match self.socks.get(h) {
            Some(Some(s)) if s.owner == Owner::User => s,
            _ => return Err(Errno::EBADF),
        };
        Ok(sk.tcp_get_info(&self.config, now))
    }
}

impl TcpSock {
    fn tcp_get_info(&self, cfg: &super::TcpConfig, now: Instant) -> LinuxTcpInfo {
        let mss = self.snd.mss.max(1);
        let ms_ago = |t: Instant| u32::try_from(now.saturating_since(t).as_millis()).unwrap_or(u32::MAX);
        let ca_state = self.ca_state();
        let mut options = 0;
        if self.ts.ok {
            options |= TCPI_OPT_TIMESTAMPS;
        }
        if self.sack.ok {
            options |= TCPI_OPT_SACK;
        }
        if self.snd.wscale_ok {
            options |= TCPI_OPT_WSCALE;
        }
        let sacked: usize = self.sack.sacked.iter().map(|r| r.1.since(r.0)).sum();
        let snd_ssthresh =
            if self.cong.ssthresh >= usize::MAX / 2 { TCP_INFINITE_SSTHRESH } else { u32_of(self.cong.ssthresh / mss) };
        LinuxTcpInfo {
            state: self.state.linux_number(),
            ca_state,
            retransmits: u8::try_from(self.rtt.retransmits).unwrap_or(u8::MAX),
            probes: u8::try_from(self.probes_out).unwrap_or(u8::MAX),
            backoff: u8::try_from(self.rtt.retransmits).unwrap_or(u8::MAX),
            options,
            snd_wscale: if self.snd.wscale_ok { self.snd.wscale } else { 0 },
            rcv_wscale: if self.snd.wscale_ok { self.rcv.wscale } else { 0 },
            rto: u32_of(self.rtt.rto.as_micros() as usize),
            ato: u32_of(self.icsk_ack.ato.as_micros() as usize),
            snd_mss: u32_of(self.snd.mss),
            rcv_mss: u32_of(self.rcv.mss),
            unacked: u32_of(self.flight_size().div_ceil(mss)),
            sacked: u32_of(sacked.div_ceil(mss)),
            last_data_sent: ms_ago(self.lsndtime),
            last_data_recv: ms_ago(self.last_rcv),
            last_ack_recv: ms_ago(self.last_rcv),
            pmtu: u32::from(cfg.mss) + 40,
            rcv_ssthresh: u32_of(self.rcv.ssthresh),
            rtt: u32_of(self.rtt.srtt_us as usize),
            rttvar: u32_of(self.rtt.rttvar_us as usize),
            snd_ssthresh,
            snd_cwnd: u32_of(self.cong.cwnd / mss),
            advmss: u32_of(self.advmss(cfg)),
            reordering: 3,
            rcv_rtt: u32_of((self.rcvq.rtt_us8 >> 3) as usize),
            rcv_space: u32_of(self.rcvq.space),
            total_retrans: u32::try_from(self.total_retrans).unwrap_or(u32::MAX),
            notsent_bytes: u32_of(self.unsent()),
            snd_wnd: u32_of(self.snd.wnd),
            rcv_wnd: u32_of(self.rcv.last_wnd),
        }
    }
}

impl LinuxTcpInfo {
    /// The struct in Linux 6.18's layout and the host's byte order, the
    /// fields synack does not keep zero (include/uapi/linux/tcp.h: the
    /// offsets below are its).
    pub fn tcp_info_bytes(&self) -> [u8; TCP_INFO_LEN] {
        let mut b = [0u8; TCP_INFO_LEN];
        b[0] = self.state;
        b[1] = self.ca_state as u8;
        b[2] = self.retransmits;
        b[3] = self.probes;
        b[4] = self.backoff;
        b[5] = self.options;
        // `tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4`: the first bit-field
        // in the low bits (x86-64 and arm64 are little-endian).
        b[6] = (self.snd_wscale & 0xf) | (self.rcv_wscale << 4);
        let words: &[(usize, u32)] = &[
            (8, self.rto),
            (12, self.ato),
            (16, self.snd_mss),
            (20, self.rcv_mss),
            (24, self.unacked),
            (28, self.sacked),
            // 32 lost, 36 retrans, 40 fackets: 0.
            (44, self.last_data_sent),
            // 48 last_ack_sent: 0 (Linux: "Not remembered, sorry.").
            (52, self.last_data_recv),
            (56, self.last_ack_recv),
            (60, self.pmtu),
            (64, self.rcv_ssthresh),
            (68, self.rtt),
            (72, self.rttvar),
            (76, self.snd_ssthresh),
            (80, self.snd_cwnd),
            (84, self.advmss),
            (88, self.reordering),
            (92, self.rcv_rtt),
            (96, self.rcv_space),
            (100, self.total_retrans),
            // 104..144: pacing rates, byte and segment counters: 0.
            (144, self.notsent_bytes),
            // 148..228: min_rtt … rcv_ooopack: 0.
            (228, self.snd_wnd),
            (232, self.rcv_wnd),
            // 236 onwards (rehash, RTO statistics, ECN counters): 0.
        ];
        for &(off, v) in words {
            b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        }
        b
    }
}
