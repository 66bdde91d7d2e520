//! TCP tunables for labs: the prompt's `set` and `synack up`'s flags, so a
//! lab can compare before and after (Nagle on and off, delayed ACKs on and
//! off, a short MSL, a long initial RTO, small buffers, a tiny backlog,
//! CUBIC or Reno).
//!
//! ```text
//! set                      show every knob with its value
//! set nagle on|off         Nagle's algorithm on new sockets (RFC 9293 §3.7.4, RFC 896)
//! set delack on|off        delayed ACKs (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2), at once
//! set msl 5s               maximum segment lifetime: TIME_WAIT lasts 2 × MSL
//! set rto 3s               initial RTO, before any RTT sample (RFC 6298 §2.1)
//! set sndbuf 65536         send buffer of new sockets (SO_SNDBUF; 64k works too)
//! set rcvbuf 4096          receive buffer of new sockets (SO_RCVBUF)
//! set backlog 2            listen(2) backlog of every listener, now
//! set congestion reno      congestion control of new sockets: cubic (RFC 9438) or reno
//! ```
//!
//! The values live in the stack (`Stack::tcp_config`, `Stack::set_tcp_config`);
//! `Tcp::set_config` says which knobs reach existing connections. The
//! backlog is not a stack-wide value: like calling `listen(2)` again, `set
//! backlog` changes the backlog of every listening socket there is (the
//! services and the telnet server), and `--backlog` does it at start.

use device::faults::{fmt_dur, parse_duration};
use stack::tcp::{CongAlgo, MAX_BUF, MIN_BUF, SOMAXCONN};
use stack::{Duration, Instant, SocketHandle, Stack};
use std::fmt::Write;

/// The knobs, in the order `set` shows them.
pub const KNOBS: [&str; 8] = ["nagle", "delack", "msl", "rto", "sndbuf", "rcvbuf", "backlog", "congestion"];

pub const USAGE: &str = "usage: set [nagle on|off | delack on|off | msl 5s | rto 1s | sndbuf BYTES | rcvbuf BYTES \
                         | backlog N | congestion cubic|reno]\n";

/// `on`/`off` (also yes/no, true/false, 1/0).
pub fn parse_on_off(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => Err(format!("{s:?}: want on or off")),
    }
}

/// A buffer size: `65536`, `64k`, `1m` (k and m are 1024 and 1024²).
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let l = s.to_ascii_lowercase();
    let (num, mult) = match l.strip_suffix('k') {
        Some(n) => (n, 1024),
        None => match l.strip_suffix('m') {
            Some(n) => (n, 1024 * 1024),
            None => (l.as_str(), 1),
        },
    };
    let n = num.parse::<usize>().map_err(|_| format!("{s:?}: want a size in bytes, like 65536 or 64k"))?;
    let n = n.checked_mul(mult).ok_or(format!("{s:?}: too large"))?;
    if !(MIN_BUF..=MAX_BUF).contains(&n) {
        return Err(format!("{s:?}: buffers go from {MIN_BUF} to {MAX_BUF} bytes"));
    }
    Ok(n)
}

/// MSL: 0 (TIME_WAIT ends at once) to 10 minutes.
pub fn parse_msl(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > Duration::from_secs(600) {
        return Err(format!("{s:?}: the MSL goes from 0 to 600s"));
    }
    Ok(d)
}

/// Initial RTO: 10 ms to 60 s.
pub fn parse_rto(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(10) || d > Duration::from_secs(60) {
        return Err(format!("{s:?}: the initial RTO goes from 10ms to 60s"));
    }
    Ok(d)
}

/// The RTO's ceiling (Linux `TCP_RTO_MAX`, 120 s): 200 ms to 120 s.
pub fn parse_rto_max(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(200) || d > Duration::from_secs(120) {
        return Err(format!("{s:?}: the RTO ceiling goes from 200ms to 120s"));
    }
    Ok(d)
}

/// Keepalive: `IDLE,INTERVAL,COUNT` (Linux `tcp_keepalive_time`,
/// `tcp_keepalive_intvl`, `tcp_keepalive_probes`), e.g. `5s,1s,3`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Keepalive {
    pub idle: Duration,
    pub intvl: Duration,
    pub probes: u32,
}

pub fn parse_keepalive(s: &str) -> Result<Keepalive, String> {
    let want = || format!("{s:?}: want IDLE,INTERVAL,COUNT like 5s,1s,3");
    let [idle, intvl, n] = s.split(',').map(str::trim).collect::<Vec<_>>()[..] else { return Err(want()) };
    let (idle, intvl) = (parse_duration(idle)?, parse_duration(intvl)?);
    let probes = n.parse::<u32>().ok().filter(|n| (1..=127).contains(n)).ok_or_else(want)?;
    if idle < Duration::from_secs(1) || intvl < Duration::from_secs(1) {
        return Err(format!("{s:?}: idle and interval are at least 1s"));
    }
    Ok(Keepalive { idle, intvl, probes })
}

/// A congestion control algorithm by its Linux name: `cubic`, `reno`.
pub fn parse_congestion(s: &str) -> Result<CongAlgo, String> {
    CongAlgo::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = CongAlgo::ALL.iter().map(|a| a.name()).collect();
        format!("{s:?}: want a congestion control algorithm: {}", names.join(", "))
    })
}

pub fn parse_backlog(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n <= SOMAXCONN => Ok(n),
        _ => Err(format!("{s:?}: want a backlog from 0 to {SOMAXCONN}")),
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// The listening sockets the application holds: (handle, port, backlog).
fn listeners(stack: &Stack) -> Vec<(SocketHandle, u16, usize)> {
    let mut v: Vec<_> = stack
        .tcp_info(Instant::ZERO)
        .into_iter()
        .filter(|i| i.state == stack::tcp::TcpState::Listen)
        .filter_map(|i| i.handle.map(|h| (SocketHandle::Tcp(h), i.local.port(), i.backlog)))
        .collect();
    v.sort_by_key(|l| l.1);
    v
}

/// `listen(2)` again on every listener with backlog `n`; how many changed.
pub fn apply_backlog(stack: &mut Stack, n: usize) -> usize {
    let ls = listeners(stack);
    ls.iter().filter(|(h, _, _)| stack.listen(*h, n).is_ok()).count()
}

/// `synack up`'s flags for the same knobs (unset: the stack's defaults).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TcpFlags {
    /// Nagle's algorithm on new sockets (RFC 9293 §3.7.4).
    #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
    pub nagle: Option<bool>,
    /// Delayed ACKs (RFC 9293 §3.8.6.3).
    #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
    pub delack: Option<bool>,
    /// Maximum segment lifetime; TIME_WAIT lasts twice that [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_msl)]
    pub msl: Option<Duration>,
    /// Initial retransmission timeout (RFC 6298 §2.1) [default: 1s].
    #[arg(long, value_name = "DURATION", value_parser = parse_rto)]
    pub rto: Option<Duration>,
    /// SO_SNDBUF of new sockets, bytes (64k works).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub sndbuf: Option<usize>,
    /// SO_RCVBUF of new sockets, bytes: fixed (no receive-buffer autotuning).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub rcvbuf: Option<usize>,
    /// listen(2) backlog of the services' and telnet's listeners.
    #[arg(long, value_name = "N", value_parser = parse_backlog)]
    pub backlog: Option<usize>,
    /// The RTO's ceiling: retransmissions back off up to this [default: 120s].
    #[arg(long, value_name = "DURATION", value_parser = parse_rto_max)]
    pub rto_max: Option<Duration>,
    /// Keepalive times, IDLE,INTERVAL,COUNT (RFC 1122 §4.2.3.6); `synack
    /// connect` also turns SO_KEEPALIVE on for its connection.
    #[arg(long, value_name = "IDLE,INTVL,COUNT", value_parser = parse_keepalive)]
    pub keepalive: Option<Keepalive>,
    /// Congestion control of new sockets (TCP_CONGESTION): cubic (RFC 9438)
    /// or reno (RFC 5681) [default: cubic].
    #[arg(long, value_name = "cubic|reno", value_parser = parse_congestion)]
    pub congestion: Option<CongAlgo>,
}

impl TcpFlags {
    /// Put the flags into the stack; call it once the listeners exist, so
    /// `--backlog` reaches them.
    pub fn apply(&self, stack: &mut Stack) -> Result<(), String> {
        let mut c = stack.tcp_config().clone();
        c.nagle = self.nagle.unwrap_or(c.nagle);
        c.delayed_ack = self.delack.unwrap_or(c.delayed_ack);
        c.msl = self.msl.unwrap_or(c.msl);
        c.rto_initial = self.rto.unwrap_or(c.rto_initial);
        c.sndbuf = self.sndbuf.unwrap_or(c.sndbuf);
        c.rcvbuf = self.rcvbuf.unwrap_or(c.rcvbuf);
        // A receive buffer given as SO_RCVBUF of every new socket is fixed,
        // as SO_RCVBUF is (no autotuning: tcp/rcvbuf.rs).
        c.moderate_rcvbuf &= self.rcvbuf.is_none();
        c.rto_max = self.rto_max.unwrap_or(c.rto_max);
        c.congestion = self.congestion.unwrap_or(c.congestion);
        if let Some(k) = self.keepalive {
            (c.keepalive_time, c.keepalive_intvl, c.keepalive_probes) = (k.idle, k.intvl, k.probes);
        }
        stack.set_tcp_config(c);
        if let Some(n) = self.backlog {
            apply_backlog(stack, n);
        }
        Ok(())
    }
}

/// What `set` shows: each knob, its value, what it does.
pub fn show(stack: &Stack) -> String {
    let c = stack.tcp_config();
    let ls = listeners(stack);
    let backlog = if ls.is_empty() {
        "-".to_string()
    } else if ls.iter().all(|l| l.2 == ls[0].2) {
        ls[0].2.to_string()
    } else {
        "mixed".to_string()
    };
    let ports: Vec<String> = ls.iter().map(|l| format!("{}:{}", l.1, l.2)).collect();
    let mut s = String::from("TCP tunables (set KNOB VALUE changes one):\n");
    let rows = [
        (
            "nagle",
            on_off(c.nagle).to_string(),
            "Nagle's algorithm on new sockets (RFC 9293 §3.7.4, RFC 896)".to_string(),
        ),
        (
            "delack",
            on_off(c.delayed_ack).to_string(),
            format!("delayed ACKs, {} (RFC 9293 §3.8.6.3); all connections, at once", fmt_dur(c.delayed_ack_timeout)),
        ),
        ("msl", fmt_dur(c.msl), format!("TIME_WAIT lasts 2 x MSL = {} (RFC 9293 §3.4.2)", fmt_dur(c.msl * 2))),
        ("rto", fmt_dur(c.rto_initial), "initial RTO, before an RTT sample (RFC 6298 §2.1); new sockets".into()),
        ("sndbuf", c.sndbuf.to_string(), "SO_SNDBUF of new sockets, bytes".into()),
        ("rcvbuf", c.rcvbuf.to_string(), "SO_RCVBUF of new sockets, bytes (the window we offer)".into()),
        ("backlog", backlog, format!("listen(2) backlog of the listeners (port:backlog {})", ports.join(" "))),
        (
            "congestion",
            c.congestion.name().to_string(),
            "congestion control of new sockets and listeners: cubic (RFC 9438) or reno (RFC 5681)".into(),
        ),
    ];
    for (k, v, what) in rows {
        let _ = writeln!(s, "  {k:<10} {v:<8} {what}");
    }
    s
}

/// Run `set` with its arguments: show, or change one knob and say so.
pub fn set(stack: &mut Stack, args: &[&str]) -> Result<String, String> {
    let (knob, value) = match args {
        [] => return Ok(show(stack)),
        [k] => return Err(format!("{k}: which value?\n{USAGE}")),
        [k, v] => (*k, *v),
        _ => return Err(USAGE.to_string()),
    };
    let mut c = stack.tcp_config().clone();
    let what = match knob {
        "nagle" => {
            c.nagle = parse_on_off(value)?;
            format!(
                "nagle {}: new sockets {} small segments while one is unacknowledged",
                on_off(c.nagle),
                if c.nagle { "hold" } else { "do not hold" }
            )
        }
        "delack" => {
            c.delayed_ack = parse_on_off(value)?;
            if c.delayed_ack {
                format!("delack on: ACK every second full segment, or after {}", fmt_dur(c.delayed_ack_timeout))
            } else {
                "delack off: every segment is ACKed at once".to_string()
            }
        }
        "msl" => {
            c.msl = parse_msl(value)?;
            format!("msl {}: connections entering TIME_WAIT stay {}", fmt_dur(c.msl), fmt_dur(c.msl * 2))
        }
        "rto" => {
            c.rto_initial = parse_rto(value)?;
            format!("rto {}: new connections wait that long before the first retransmission", fmt_dur(c.rto_initial))
        }
        "sndbuf" => {
            c.sndbuf = parse_bytes(value)?;
            format!("sndbuf {}: for new sockets", c.sndbuf)
        }
        "rcvbuf" => {
            c.rcvbuf = parse_bytes(value)?;
            // Fixed, as SO_RCVBUF is: no autotuning (tcp/rcvbuf.rs).
            c.moderate_rcvbuf = false;
            format!("rcvbuf {}: for new sockets", c.rcvbuf)
        }
        "congestion" => {
            c.congestion = parse_congestion(value)?;
            format!(
                "congestion {}: new sockets, and listeners still on the old default (their new connections)",
                c.congestion
            )
        }
        "backlog" => {
            let n = parse_backlog(value)?;
            let changed = apply_backlog(stack, n);
            return Ok(format!("backlog {n}: {changed} listener(s), accept queue holds {}\n", n + 1));
        }
        other => return Err(format!("unknown knob {other:?} (knobs: {})\n{USAGE}", KNOBS.join(", "))),
    };
    stack.set_tcp_config(c);
    Ok(what + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::{Config, SockType};

    fn stack_with_listener() -> (Stack, SocketHandle) {
        let mut s = Stack::new(Config::default(), Instant::ZERO);
        let l = s.socket(SockType::Stream).unwrap();
        s.bind(l, "0.0.0.0:23".parse().unwrap()).unwrap();
        s.listen(l, 16).unwrap();
        (s, l)
    }

    #[test]
    fn keepalive_and_rto_max_flags_parse_and_apply() {
        let k = parse_keepalive("5s,1s,3").unwrap();
        assert_eq!(k, Keepalive { idle: Duration::from_secs(5), intvl: Duration::from_secs(1), probes: 3 });
        for bad in ["5s,1s", "5s,1s,0", "500ms,1s,3", "5s,1s,x", "5,1,3"] {
            assert!(parse_keepalive(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_rto_max("5s").unwrap(), Duration::from_secs(5));
        assert!(parse_rto_max("100ms").is_err() && parse_rto_max("121s").is_err());
        let (mut s, _) = stack_with_listener();
        let flags = TcpFlags {
            keepalive: Some(k),
            rto_max: Some(Duration::from_secs(5)),
            congestion: Some(CongAlgo::Reno),
            ..TcpFlags::default()
        };
        flags.apply(&mut s).unwrap();
        let c = s.tcp_config();
        assert_eq!(c.congestion, CongAlgo::Reno);
        assert_eq!(parse_congestion("CUBIC"), Ok(CongAlgo::Cubic));
        assert_eq!((c.keepalive_time, c.keepalive_intvl, c.keepalive_probes), (k.idle, k.intvl, 3));
        assert_eq!(c.rto_max, Duration::from_secs(5));
    }

    #[test]
    fn set_shows_and_changes_every_knob() {
        let (mut s, _) = stack_with_listener();
        let shown = set(&mut s, &[]).unwrap();
        for k in KNOBS {
            assert!(shown.lines().any(|l| l.trim_start().starts_with(k)), "{k} in {shown}");
        }
        assert!(shown.contains("  nagle      on "), "{shown}");
        assert!(shown.contains("  msl        30s "), "{shown}");
        assert!(shown.contains("  backlog    16 "), "{shown}");

        assert_eq!(
            set(&mut s, &["nagle", "off"]).unwrap(),
            "nagle off: new sockets do not hold small segments while one is unacknowledged\n"
        );
        assert!(!s.tcp_config().nagle);
        assert!(set(&mut s, &["delack", "off"]).unwrap().starts_with("delack off"));
        assert!(!s.tcp_config().delayed_ack);
        assert_eq!(set(&mut s, &["msl", "5s"]).unwrap(), "msl 5s: connections entering TIME_WAIT stay 10s\n");
        assert_eq!(s.tcp_config().msl, Duration::from_secs(5));
        set(&mut s, &["rto", "3s"]).unwrap();
        assert_eq!(s.tcp_config().rto_initial, Duration::from_secs(3));
        set(&mut s, &["sndbuf", "64k"]).unwrap();
        assert_eq!(s.tcp_config().sndbuf, 65536);
        set(&mut s, &["rcvbuf", "4096"]).unwrap();
        assert_eq!(s.tcp_config().rcvbuf, 4096);
        assert_eq!(set(&mut s, &["backlog", "2"]).unwrap(), "backlog 2: 1 listener(s), accept queue holds 3\n");
        assert!(shown.contains("  congestion cubic "), "{shown}");
        assert!(set(&mut s, &["congestion", "reno"]).unwrap().starts_with("congestion reno: new sockets"));
        assert_eq!(s.tcp_config().congestion, CongAlgo::Reno);

        let shown = set(&mut s, &[]).unwrap();
        for want in [
            "nagle      off",
            "delack     off",
            "msl        5s ",
            "rto        3s ",
            "sndbuf     65536",
            "rcvbuf     4096",
            "backlog    2 ",
            "congestion reno ",
            "23:2",
        ] {
            assert!(shown.contains(want), "{want:?} in {shown}");
        }
    }

    #[test]
    fn bad_values_are_refused_and_change_nothing() {
        let (mut s, _) = stack_with_listener();
        let before = format!("{:?}", s.tcp_config());
        for (args, want) in [
            (&["nagle", "maybe"][..], "want on or off"),
            (&["msl", "5"], "wants a unit"),
            (&["msl", "1h"], "wants a unit"),
            (&["msl", "700s"], "from 0 to 600s"),
            (&["rto", "1ms"], "from 10ms to 60s"),
            (&["sndbuf", "12"], "buffers go from 256"),
            (&["rcvbuf", "lots"], "want a size in bytes"),
            (&["backlog", "-1"], "want a backlog from 0"),
            (&["congestion", "bbr"], "want a congestion control algorithm: reno, cubic"),
            (&["mss", "1000"], "unknown knob \"mss\""),
            (&["nagle"], "which value?"),
            (&["nagle", "on", "now"], "usage: set"),
        ] {
            let e = set(&mut s, args).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e:?}");
        }
        assert_eq!(format!("{:?}", s.tcp_config()), before);
    }
}
