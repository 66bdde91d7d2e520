//! `%{ … }%` blocks: packetdrill hands them to Python with the socket's
//! `tcp_info` as `tcpi_*` variables. synack drill evaluates the simple form
//! itself, one assertion per line:
//!
//! ```text
//! %{
//! assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd
//! assert tcpi_rto >= 1000000
//! }%
//! ```
//!
//! A name is a `tcpi_` field synack keeps (`TCPI_FIELDS`), a `TCP_*` state
//! name, or an integer; the operators are `==`, `!=`, `<`, `<=`, `>`, `>=`;
//! text after a comma is Python's assertion message and is ignored. Any
//! other Python makes the script skipped, with the line.

use stack::tcp::TcpInfo;

/// The `tcpi_` fields synack can give, as Linux's `struct tcp_info` counts them.
pub const TCPI_FIELDS: &[&str] = &[
    "tcpi_state",
    "tcpi_snd_cwnd",
    "tcpi_snd_ssthresh",
    "tcpi_rto",
    "tcpi_rtt",
    "tcpi_rttvar",
    "tcpi_snd_mss",
    "tcpi_snd_wscale",
    "tcpi_rcv_wscale",
    "tcpi_retransmits",
    "tcpi_total_retrans",
    "tcpi_unacked",
];

/// What a block said.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Holds,
    /// The assertion that failed, with the values it saw.
    Fails(String),
    /// Python synack drill does not evaluate: the reason to skip.
    Unsupported(String),
}

const STATE_NAMES: &[(&str, i64)] = &[
    ("TCP_ESTABLISHED", 1),
    ("TCP_SYN_SENT", 2),
    ("TCP_SYN_RECV", 3),
    ("TCP_FIN_WAIT1", 4),
    ("TCP_FIN_WAIT2", 5),
    ("TCP_TIME_WAIT", 6),
    ("TCP_CLOSE", 7),
    ("TCP_CLOSE_WAIT", 8),
    ("TCP_LAST_ACK", 9),
    ("TCP_LISTEN", 10),
    ("TCP_CLOSING", 11),
];

/// Linux's `TCP_INFINITE_SSTHRESH`, what `tcpi_snd_ssthresh` says before any loss.
const INFINITE_SSTHRESH: i64 = 0x7fff_ffff;

fn field(info: &TcpInfo, name: &str) -> Option<i64> {
    let mss = info.mss.max(1);
    let us = |d: stack::Duration| d.as_micros() as i64;
    Some(match name {
        "tcpi_state" => i64::from(info.state.linux_number()),
        "tcpi_snd_cwnd" => (info.cwnd / mss) as i64,
        "tcpi_snd_ssthresh" if info.ssthresh >= usize::MAX / 2 => INFINITE_SSTHRESH,
        "tcpi_snd_ssthresh" => (info.ssthresh / mss) as i64,
        "tcpi_rto" => us(info.rto),
        "tcpi_rtt" => us(info.srtt),
        "tcpi_rttvar" => us(info.rttvar),
        "tcpi_snd_mss" => info.mss as i64,
        "tcpi_snd_wscale" => info.snd_wscale as i64,
        "tcpi_rcv_wscale" => info.rcv_wscale as i64,
        "tcpi_retransmits" => info.retransmits as i64,
        "tcpi_total_retrans" => info.total_retrans as i64,
        "tcpi_unacked" => (info.snd_nxt.wrapping_sub(info.snd_una) as usize).div_ceil(mss) as i64,
        _ => return None,
    })
}

fn value(info: &TcpInfo, token: &str) -> Result<i64, String> {
    if let Some(v) = field(info, token) {
        return Ok(v);
    }
    if let Some((_, v)) = STATE_NAMES.iter().find(|(n, _)| *n == token) {
        return Ok(*v);
    }
    token.parse::<i64>().map_err(|_| {
        format!(
            "`{token}` is not a number, a TCP_* state or a tcp_info field synack keeps ({})",
            TCPI_FIELDS.join(", ")
        )
    })
}

/// Evaluate a block against the connection's `tcp_info`.
pub fn evaluate(code: &str, info: &TcpInfo) -> Outcome {
    for line in code.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(expr) = line.strip_prefix("assert ") else {
            return Outcome::Unsupported(format!("`{line}`: only `assert A OP B` lines are evaluated"));
        };
        // Python's `assert cond, message`: the message is not evaluated.
        let cond = expr.split(',').next().unwrap_or(expr).trim();
        let Some((lhs, op, rhs)) = ["==", "!=", "<=", ">=", "<", ">"]
            .iter()
            .find_map(|op| cond.split_once(op).map(|(l, r)| (l.trim(), *op, r.trim())))
        else {
            return Outcome::Unsupported(format!("`{line}`: no comparison"));
        };
        let (a, b) = match (value(info, lhs), value(info, rhs)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return Outcome::Unsupported(format!("`{line}`: {e}")),
        };
        let holds = match op {
            "==" => a == b,
            "!=" => a != b,
            "<=" => a <= b,
            ">=" => a >= b,
            "<" => a < b,
            _ => a > b,
        };
        if !holds {
            return Outcome::Fails(format!("assertion failed: {cond} ({lhs} is {a}, {rhs} is {b})"));
        }
    }
    Outcome::Holds
}
