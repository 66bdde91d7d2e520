//! Step mode's segments and breakpoints: the TCP header fields a step looks
//! at (`Seg`), and the filters `b FILTER` sets (`Filter`), with the state
//! names they accept (`state_name`).
//!
//! Read first: RFC 9293 §3.1 (the header: ports, flags) and §3.3.2 (the
//! state names), and gdb's `break` / `condition` for what a breakpoint is.

use crate::ladder::parse_tcp;
use device::Direction;
use stack::tcp::TcpState;
use stack::wire::TcpFlags;
use std::net::{Ipv4Addr, SocketAddrV4};

// ----------------------------------------------------------------- segments

/// The TCP header fields step mode looks at.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub flags: TcpFlags,
    pub len: u32,
}

impl Seg {
    pub fn parse(frame: &[u8]) -> Option<Seg> {
        let t = parse_tcp(frame)?;
        Some(Seg { src: t.src, dst: t.dst, flags: t.flags, len: t.len })
    }
    /// (local, remote) as the stack sees the connection.
    pub fn ends(&self, dir: Direction) -> (SocketAddrV4, SocketAddrV4) {
        match dir {
            Direction::In => (self.dst, self.src),
            Direction::Out => (self.src, self.dst),
        }
    }
}

// -------------------------------------------------------------- breakpoints

/// One breakpoint: what `b FILTER` parses into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Either end's port.
    Port(u16),
    /// Any of these flag bits set (`syn`, `fin`, `rst`, `ack`, `psh`).
    Flag(TcpFlags),
    /// Carries payload.
    Data,
    /// Either end's address.
    Host(Ipv4Addr),
    /// The connection is in this state (RFC 9293 spelling), or the segment
    /// moves it there.
    State(&'static str),
}

/// A state name in RFC 9293's or netstat's spelling (`time-wait`,
/// `SYN_RECV`, `fin_wait1`…) to RFC 9293's.
pub fn state_name(s: &str) -> Option<&'static str> {
    TcpState::parse(s).map(TcpState::rfc_name)
}

impl Filter {
    /// `port 23`, `syn`, `fin`, `rst`, `ack`, `psh`, `data`, `host 10.0.0.1`, `state TIME_WAIT`.
    pub fn parse(words: &[&str]) -> Result<Filter, String> {
        let flag = |f| Ok(Filter::Flag(f));
        use TcpFlags as F;
        match words {
            ["port", p] => p.parse().map(Filter::Port).map_err(|_| format!("bad port {p:?}")),
            ["syn"] => flag(F::SYN),
            ["fin"] => flag(F::FIN),
            ["rst"] => flag(F::RST),
            ["ack"] => flag(F::ACK),
            ["psh"] => flag(F::PSH),
            ["data"] => Ok(Filter::Data),
            ["host", h] => h.parse().map(Filter::Host).map_err(|_| format!("bad address {h:?}")),
            ["state", s] => state_name(s)
                .map(Filter::State)
                .ok_or(format!("unknown state {s:?} (one of {})", TcpState::ALL.map(TcpState::rfc_name).join(" "))),
            _ => Err(format!("unknown filter {:?}", words.join(" "))),
        }
    }

    /// Does the segment match, given its connection's state before and
    /// (for an inbound segment already processed) after?
    pub fn matches(&self, seg: &Seg, before: &str, after: Option<&str>) -> bool {
        match *self {
            Filter::Port(p) => seg.src.port() == p || seg.dst.port() == p,
            Filter::Flag(f) => seg.flags.intersects(f),
            Filter::Data => seg.len > 0,
            Filter::Host(h) => *seg.src.ip() == h || *seg.dst.ip() == h,
            Filter::State(s) => before == s || after == Some(s),
        }
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Filter::Port(p) => write!(f, "port {p}"),
            Filter::Flag(b) => {
                use TcpFlags as F;
                let name = [(F::SYN, "syn"), (F::FIN, "fin"), (F::RST, "rst"), (F::ACK, "ack"), (F::PSH, "psh")]
                    .iter()
                    .find(|(bit, _)| bit == b)
                    .map_or("flag", |x| x.1);
                f.write_str(name)
            }
            Filter::Data => f.write_str("data"),
            Filter::Host(h) => write!(f, "host {h}"),
            Filter::State(s) => write!(f, "state {s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use stack::wire::tcp::flags::{ACK, FIN, PSH, RST, SYN};

    fn seg(flags: TcpFlags, len: u32) -> Seg {
        Seg { src: "10.0.0.1:40000".parse().unwrap(), dst: "10.0.0.2:23".parse().unwrap(), flags, len }
    }

    #[test]
    fn filters_parse_print_and_refuse_nonsense() {
        let p = |s: &str| Filter::parse(&s.split_whitespace().collect::<Vec<_>>());
        assert_eq!(p("port 23"), Ok(Filter::Port(23)));
        assert_eq!(p("syn"), Ok(Filter::Flag(SYN)));
        assert_eq!(p("fin"), Ok(Filter::Flag(FIN)));
        assert_eq!(p("rst"), Ok(Filter::Flag(RST)));
        assert_eq!(p("data"), Ok(Filter::Data));
        assert_eq!(p("host 10.0.0.1"), Ok(Filter::Host([10, 0, 0, 1].into())));
        assert_eq!(p("state TIME_WAIT"), Ok(Filter::State("TIME_WAIT")));
        assert_eq!(p("state time-wait"), Ok(Filter::State("TIME_WAIT")));
        assert_eq!(p("state SYN_RECV"), Ok(Filter::State("SYN_RECEIVED")));
        assert_eq!(p("state fin_wait1"), Ok(Filter::State("FIN_WAIT_1")));
        assert!(p("state NAPPING").unwrap_err().contains("unknown state"));
        assert!(p("port http").is_err());
        assert!(p("port 70000").is_err());
        assert!(p("urg").is_err());
        assert!(p("").is_err());
        for s in ["port 23", "syn", "fin", "rst", "ack", "data", "host 10.0.0.1", "state TIME_WAIT"] {
            assert_eq!(p(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn filters_match_ports_flags_data_and_states() {
        let syn = seg(SYN, 0);
        let data = seg(ACK | PSH, 10);
        assert!(Filter::Port(23).matches(&syn, "LISTEN", None));
        assert!(Filter::Port(40000).matches(&syn, "LISTEN", None));
        assert!(!Filter::Port(7).matches(&syn, "LISTEN", None));
        assert!(Filter::Flag(SYN).matches(&syn, "LISTEN", None));
        assert!(!Filter::Flag(FIN).matches(&syn, "LISTEN", None));
        assert!(!Filter::Data.matches(&syn, "LISTEN", None));
        assert!(Filter::Data.matches(&data, "ESTABLISHED", None));
        assert!(Filter::Host([10, 0, 0, 1].into()).matches(&syn, "LISTEN", None));
        assert!(!Filter::Host([10, 0, 0, 9].into()).matches(&syn, "LISTEN", None));
        // In that state, or moved into it.
        let tw = Filter::State("TIME_WAIT");
        assert!(tw.matches(&data, "TIME_WAIT", None));
        assert!(tw.matches(&data, "FIN_WAIT_2", Some("TIME_WAIT")));
        assert!(!tw.matches(&data, "FIN_WAIT_2", Some("FIN_WAIT_2")));
    }
}
