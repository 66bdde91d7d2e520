//! `TcpConfig`: TCP's tunables, the kernel's `net.ipv4.tcp_*` sysctls of
//! one stack (Linux keeps them per network namespace, `struct netns_ipv4`),
//! with Linux's defaults unless a comment says otherwise.
//!
//! Read first: mod.rs (who reads them: `Tcp::config`, `Tcp::set_config`).

use crate::socket::CongAlgo;
use crate::time::Duration;

/// TCP tunables (the kernel's `net.ipv4.tcp_*` sysctls, per stack).
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Our MSS; `Stack::new` caps it at MTU - 40.
    pub mss: u16,
    /// Maximum segment lifetime; TIME_WAIT lasts 2 × MSL.
    pub msl: Duration,
    /// The send buffer of new sockets (Linux `tcp_wmem[1]`, `sk_sndbuf`):
    /// bytes of payload queued, acknowledged or not. Once established, a
    /// socket whose application did not set SO_SNDBUF grows it to hold two
    /// initial windows (`TcpSock::init_buffer_space`).
    pub sndbuf: usize,
    /// The most that growth may reach (Linux `tcp_wmem[2]`).
    pub sndbuf_max: usize,
    /// The receive buffer of new sockets, as the payload it holds: the
    /// most window we offer (Linux `tcp_full_space`, half of `tcp_rmem[1]`
    /// with the default scaling ratio; getsockopt(SO_RCVBUF) reports twice it).
    pub rcvbuf: usize,
    /// The largest receive buffer a connection may grow to (Linux
    /// `tcp_rmem[2]`, as it is): the window scale offered on a SYN covers
    /// it, as Linux's `tcp_select_initial_window` does, unless the
    /// application set SO_RCVBUF.
    pub rcvbuf_max: usize,
    /// `tcp_moderate_rcvbuf`: receive-buffer autotuning (rcvbuf.rs) grows
    /// `rcvbuf` toward `rcvbuf_max` for a reader that keeps up. Off: every
    /// buffer keeps the size it started with.
    pub moderate_rcvbuf: bool,
    /// `tcp_syn_retries`: SYN retransmissions before connect fails with ETIMEDOUT.
    pub syn_retries: u32,
    /// `tcp_synack_retries`: SYN-ACK retransmissions before a half-open child is dropped.
    pub synack_retries: u32,
    /// `tcp_syn_linear_timeouts` (Linux 6.5+, default 4): the first this
    /// many SYN retransmissions keep the initial RTO (1 s apart) before the
    /// exponential backoff starts, and connect() gives up after
    /// `syn_retries + syn_linear_timeouts` of them. Not for SYN-ACKs.
    pub syn_linear_timeouts: u32,
    /// `tcp_retries2`: data retransmissions (or unanswered probes) before ETIMEDOUT.
    pub retries2: u32,
    /// RFC 6298 (2.4): Linux's `TCP_RTO_MIN`, 200 ms.
    pub rto_min: Duration,
    /// RFC 6298 (2.5): Linux's `TCP_RTO_MAX`, 120 s.
    pub rto_max: Duration,
    /// RFC 6298 (2.1): 1 s before any RTT sample.
    pub rto_initial: Duration,
    /// RFC 1122 §4.2.3.2 delayed ACKs; off = ACK every segment at once.
    pub delayed_ack: bool,
    /// Delayed-ACK timeout (Linux `TCP_DELACK_MIN`, 40 ms; RFC limit 500 ms).
    pub delayed_ack_timeout: Duration,
    /// Nagle's algorithm on new sockets (TCP_NODELAY turns it off per socket).
    pub nagle: bool,
    /// TCP_CORK holds a partial segment at most this long.
    pub cork_timeout: Duration,
    /// `tcp_max_syn_backlog`: a cap on each listener's SYN queue.
    pub max_syn_backlog: usize,
    /// Sockets in the table (user sockets, children, closing connections).
    pub max_sockets: usize,
    /// Bytes held in one connection's out-of-order queue (also bounded by SO_RCVBUF).
    pub max_ofo_bytes: usize,
    /// RFC 7323 window scaling offered on SYNs.
    pub window_scaling: bool,
    /// RFC 7323 timestamps offered on SYNs (Linux `tcp_timestamps`).
    pub timestamps: bool,
    /// RFC 2018 SACK offered on SYNs (Linux `tcp_sack`).
    pub sack: bool,
    /// Initial congestion window in segments (RFC 6928: 10).
    pub init_cwnd_segs: usize,
    /// `tcp_congestion_control`: the algorithm of new sockets (a passive
    /// connection takes its listener's); TCP_CONGESTION changes one socket.
    pub congestion: CongAlgo,
    /// `tcp_slow_start_after_idle`: RFC 5681 §4.1, after an idle period
    /// longer than the RTO, cwnd restarts from the initial window.
    pub slow_start_after_idle: bool,
    /// `tcp_early_retrans` 3 (Linux's default): RFC 8985 tail loss probes;
    /// 0: none.
    pub tlp: bool,
    /// `tcp_recovery` 1 (Linux's default): RACK loss detection (RFC 8985,
    /// rack.rs) with PRR (RFC 6937, prr.rs) when SACK is agreed, and TLP
    /// as Linux schedules it; 0: RFC 6675's duplicate-ACK threshold and
    /// `IsLost`, cwnd = ssthresh at once in recovery.
    pub recovery_rack: bool,
    /// `tcp_fin_timeout`: an orphaned FIN_WAIT_2 lasts this long.
    pub fin_timeout: Duration,
    /// `tcp_keepalive_time`, `tcp_keepalive_intvl`, `tcp_keepalive_probes` (RFC 1122 §4.2.3.6).
    pub keepalive_time: Duration,
    pub keepalive_intvl: Duration,
    pub keepalive_probes: u32,
    /// `tcp_syncookies = 1`: answer a SYN with a SYN cookie when the SYN
    /// queue is full (RFC 4987 §3.6); off: drop it.
    pub syncookies: bool,
    /// `tcp_syncookies = 2`: answer every SYN with a cookie, the SYN queue
    /// full or not (for tests and labs: nothing is kept per SYN).
    pub syncookies_always: bool,
    /// `tcp_challenge_ack_limit`: challenge ACKs per second, stack-wide (RFC 5961 §7).
    pub challenge_ack_limit: u32,
    /// The device finishes checksums: segments leave `CHECKSUM_PARTIAL`.
    /// Set by `Stack` from `Config::offloads`, not a tunable.
    pub csum_offload: bool,
    /// TSO: segments of up to this many bytes of IP packet, cut per MSS by
    /// the device (`gso::tcp_size_goal`); 0: one MSS. Set by `Stack` from
    /// `Config::offloads`, not a tunable.
    pub gso_max_size: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            msl: Duration::from_secs(30),
            sndbuf: 212_992,
            sndbuf_max: 4 << 20,
            rcvbuf: 65_536,
            rcvbuf_max: 6 << 20,
            moderate_rcvbuf: true,
            syn_retries: 6,
            synack_retries: 5,
            syn_linear_timeouts: 4,
            retries2: 15,
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            rto_initial: Duration::from_secs(1),
            delayed_ack: true,
            delayed_ack_timeout: Duration::from_millis(40),
            nagle: true,
            cork_timeout: Duration::from_millis(200),
            max_syn_backlog: 256,
            max_sockets: 65_536,
            max_ofo_bytes: 4 << 20,
            window_scaling: true,
            timestamps: true,
            sack: true,
            init_cwnd_segs: 10,
            congestion: CongAlgo::Cubic,
            slow_start_after_idle: false,
            tlp: true,
            recovery_rack: true,
            fin_timeout: Duration::from_secs(60),
            keepalive_time: Duration::from_secs(7200),
            keepalive_intvl: Duration::from_secs(75),
            keepalive_probes: 9,
            syncookies: true,
            syncookies_always: false,
            challenge_ack_limit: 1000,
            csum_offload: false,
            gso_max_size: 0,
        }
    }
}
