//! RFC 9293 §3.3.2: the eleven states of a connection, `TcpState` (the
//! only place that names them), with RFC 9293's spelling and netstat's
//! (Linux include/net/tcp_states.h, `tcp_state_name`). `TcpSock::set_state`
//! (sock.rs) moves between them. Also `CaState`, where congestion control
//! stands (Linux `enum tcp_ca_state`), which `TcpSock::ca_state` (sock.rs)
//! says for `TCP_INFO` and `tcp_probe` alike.
//!
//! Read first: RFC 9293 §3.3.2 and its Figure 5 (the state diagram).

/// RFC 9293 §3.3.2: the eleven states of a connection.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    /// The eleven, in RFC 9293 §3.3.2's order.
    pub const ALL: [TcpState; 11] = [
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];
    /// The RFC's name, used in traces: `LISTEN -> SYN_RECEIVED`.
    pub fn rfc_name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
        }
    }
    /// Linux's number for it (include/net/tcp_states.h `TCP_ESTABLISHED` =
    /// 1 … `TCP_CLOSING` = 11), as `TCP_INFO`'s `tcpi_state` and
    /// /proc/net/tcp show it.
    pub fn linux_number(self) -> u8 {
        match self {
            TcpState::Established => 1,
            TcpState::SynSent => 2,
            TcpState::SynReceived => 3,
            TcpState::FinWait1 => 4,
            TcpState::FinWait2 => 5,
            TcpState::TimeWait => 6,
            TcpState::Closed => 7,
            TcpState::CloseWait => 8,
            TcpState::LastAck => 9,
            TcpState::Listen => 10,
            TcpState::Closing => 11,
        }
    }
    /// The name `netstat -tan` prints (Linux's `tcp_state` strings).
    pub fn netstat_name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSE",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
        }
    }
    /// A state from its name in RFC 9293's or netstat's spelling, in any
    /// case, `-` or `_`: `time-wait`, `SYN_RECV`, `fin_wait1`, `CLOSE`…
    pub fn parse(name: &str) -> Option<TcpState> {
        let name = name.to_ascii_uppercase().replace('-', "_");
        TcpState::ALL.into_iter().find(|s| s.rfc_name() == name || s.netstat_name() == name)
    }
    /// RFC 9293 §3.3.2: the states after the handshake completed.
    pub fn is_synchronized(self) -> bool {
        !matches!(self, TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::SynReceived)
    }
}

/// The RFC's name (`rfc_name`).
impl std::fmt::Display for TcpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.rfc_name())
    }
}

/// Linux `enum tcp_ca_state` (include/net/tcp.h: `icsk_ca_state`, what
/// `TCP_INFO`'s `tcpi_ca_state` and the plots show): where congestion
/// control stands. synack has no ECN, so never `Cwr`.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum CaState {
    #[default]
    Open = 0,
    Disorder = 1,
    Cwr = 2,
    Recovery = 3,
    Loss = 4,
}

impl CaState {
    /// Linux's names, lower case (`ss` has none; the plots' CSV uses these).
    pub fn name(self) -> &'static str {
        match self {
            CaState::Open => "open",
            CaState::Disorder => "disorder",
            CaState::Cwr => "cwr",
            CaState::Recovery => "recovery",
            CaState::Loss => "loss",
        }
    }
}
