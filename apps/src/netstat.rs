//! `netstat` and `ss` for synack's sockets, in the columns students know.
//!
//! `netstat` prints what `netstat -tun` prints on Linux (connections, no
//! listeners); `netstat -l` the listeners, with two extra columns for the
//! SYN queue (half-open, SYN_RECV) and the accept queue (established, waiting
//! for `accept`); `netstat -a` both. Recv-Q and Send-Q mean what they mean on
//! Linux: for a connection, bytes not yet read by the application and bytes
//! not yet acknowledged by the peer; for a listener, the accept-queue length
//! and the backlog. `ss` adds the TCP control block, like `ss -tni`, the
//! congestion control algorithm first (`cubic`, `reno`), as ss prints it.
//! With `-p`, both name the program that owns each socket (a program of
//! `synack run`: `Owners`), as `netstat -p`'s `PID/Program name` column and
//! `ss -p`'s `users:(("name",pid=N))`.

use stack::tcp::{TcpInfo, TcpState};
use stack::{Duration, Instant, Stack};
use std::fmt::Write;

/// The programs that hold sockets (`synack run`): TCP socket index
/// (`TcpInfo::handle`) → (pid, program name).
pub type Owners = std::collections::HashMap<usize, (u32, String)>;

#[derive(Copy, Clone, Default, Debug, PartialEq, Eq)]
pub struct NetstatOptions {
    pub listening: bool,
    pub all: bool,
    /// `-p`: the owning program's PID/name.
    pub programs: bool,
}

impl NetstatOptions {
    pub fn parse(args: &[&str]) -> Result<NetstatOptions, String> {
        let mut o = NetstatOptions::default();
        for a in args {
            let Some(flags) = a.strip_prefix('-') else { return Err(format!("unexpected argument {a:?}")) };
            for f in flags.chars() {
                match f {
                    'l' => o.listening = true,
                    'a' => o.all = true,
                    'p' => o.programs = true,
                    // Accepted for muscle memory: we always print numbers, TCP and UDP.
                    'n' | 't' | 'u' => {}
                    other => return Err(format!("unknown option -{other} (use -l, -a)")),
                }
            }
        }
        Ok(o)
    }
}

fn addr(a: std::net::SocketAddrV4) -> String {
    if a.port() == 0 && a.ip().is_unspecified() {
        "0.0.0.0:*".to_string()
    } else {
        a.to_string()
    }
}

/// The `netstat` text.
pub fn netstat(stack: &Stack, now: Instant, o: NetstatOptions) -> String {
    trim_lines(&netstat_padded(stack, now, o, &Owners::new()))
}

/// The `netstat` text, naming the programs that own sockets if `o.programs`.
pub fn netstat_owned(stack: &Stack, now: Instant, o: NetstatOptions, owners: &Owners) -> String {
    trim_lines(&netstat_padded(stack, now, o, owners))
}

/// `PID/name` of a socket's program, or `-` (netstat -p's column).
fn owner_of(owners: &Owners, handle: Option<usize>) -> String {
    match handle.and_then(|h| owners.get(&h)) {
        Some((pid, name)) => format!("{pid}/{name}"),
        None => "-".to_string(),
    }
}

/// Columns are padded to line up; no line ends in spaces.
fn trim_lines(s: &str) -> String {
    s.lines().map(|l| l.trim_end().to_string() + "\n").collect()
}

fn netstat_padded(stack: &Stack, now: Instant, o: NetstatOptions, owners: &Owners) -> String {
    let infos = stack.tcp_info(now);
    let mut s = String::new();
    let show_listen = o.listening || o.all;
    let show_conns = !o.listening || o.all;
    s.push_str(match (show_listen, show_conns) {
        (true, true) => "Active Internet connections (servers and established)\n",
        (true, false) => "Active Internet connections (only servers)\n",
        _ => "Active Internet connections (w/o servers)\n",
    });
    let _ = write!(s, "Proto Recv-Q Send-Q {:<23} {:<23} {:<11}", "Local Address", "Foreign Address", "State");
    if show_listen {
        s.push_str(" SynQ AcceptQ");
    }
    if o.programs {
        s.push_str(" PID/Program name");
    }
    s.push('\n');
    for i in &infos {
        let listening = i.state == TcpState::Listen;
        // Like Linux's netstat and ss: a listener's Send-Q is its backlog.
        let send_q = if listening { i.backlog } else { i.send_q };
        if (listening && !show_listen) || (!listening && !show_conns) {
            continue;
        }
        let _ = write!(
            s,
            "tcp   {:>6} {:>6} {:<23} {:<23} {:<11}",
            i.recv_q,
            send_q,
            addr(i.local),
            addr(i.remote),
            i.state.netstat_name()
        );
        if listening {
            let _ = write!(s, " {:>4} {:>7}", i.syn_queue, i.accept_queue);
        } else if show_listen && o.programs {
            s.push_str("             ");
        }
        if o.programs {
            let _ = write!(s, " {}", owner_of(owners, i.handle));
        }
        s.push('\n');
    }
    for (local, remote, queued) in stack.udp_info() {
        let connected = remote.is_some();
        // netstat lists unconnected UDP sockets among the servers.
        if (!connected && !show_listen) || (connected && !show_conns) {
            continue;
        }
        let remote = remote.map_or("0.0.0.0:*".to_string(), addr);
        let _ = writeln!(s, "udp   {:>6} {:>6} {:<23} {:<23}", queued, 0, addr(local), remote);
    }
    s
}

/// Milliseconds as ss prints them: `200`, `1.500`.
pub(crate) fn ms(d: Duration) -> String {
    let us = d.as_micros();
    if us.is_multiple_of(1000) {
        format!("{}", us / 1000)
    } else {
        format!("{:.3}", us as f64 / 1000.0)
    }
}

/// One connection's control block, like `ss -tni`.
pub fn ss_detail(i: &TcpInfo) -> String {
    let mut s = format!(
        "\t rfc_state:{} iss:{} irs:{} snd_una:{} snd_nxt:{} snd_wnd:{} rcv_nxt:{} rcv_wnd:{}\n",
        i.state, i.iss, i.irs, i.snd_una, i.snd_nxt, i.snd_wnd, i.rcv_nxt, i.rcv_wnd
    );
    // Like ss: `ts` and `sack` when the options were agreed.
    let opts = match (i.ts_ok, i.sack_ok) {
        (true, true) => "ts sack ",
        (true, false) => "ts ",
        (false, true) => "sack ",
        (false, false) => "",
    };
    let _ = write!(
        s,
        "\t {opts}{} mss:{} wscale:{},{} rto:{} rtt:{}/{} cwnd:{} retrans:{}/{}",
        i.congestion,
        i.mss,
        i.snd_wscale,
        i.rcv_wscale,
        ms(i.rto),
        ms(i.srtt),
        ms(i.rttvar),
        i.cwnd,
        i.retransmits,
        i.total_retrans
    );
    // Like ss: no ssthresh until the first loss sets one.
    if i.ssthresh < usize::MAX / 2 {
        let _ = write!(s, " ssthresh:{}", i.ssthresh);
    }
    if i.sacked > 0 {
        let _ = write!(s, " sacked:{}", i.sacked);
    }
    if i.ofo_bytes > 0 {
        let _ = write!(s, " ofo:{}", i.ofo_bytes);
    }
    if i.in_recovery {
        s.push_str(" recovery");
    }
    if let Some((name, left)) = i.timer {
        let _ = write!(s, " timer:({name},{}ms)", ms(left));
    }
    s.push('\n');
    s
}

/// The `ss` text: every TCP socket with its details.
pub fn ss(stack: &Stack, now: Instant) -> String {
    trim_lines(&ss_padded(stack, now, None))
}

/// `ss -p`: with `users:(("name",pid=N))` for the sockets a program owns.
pub fn ss_owned(stack: &Stack, now: Instant, owners: &Owners) -> String {
    trim_lines(&ss_padded(stack, now, Some(owners)))
}

fn ss_padded(stack: &Stack, now: Instant, owners: Option<&Owners>) -> String {
    let mut s = format!(
        "{:<11} {:>6} {:>6} {:<23} {:<23}\n",
        "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"
    );
    for i in stack.tcp_info(now) {
        let listening = i.state == TcpState::Listen;
        let send_q = if listening { i.backlog } else { i.send_q };
        let (state, local, remote) = (i.state.netstat_name(), addr(i.local), addr(i.remote));
        let _ = write!(s, "{state:<11} {:>6} {send_q:>6} {local:<23} {remote:<23}", i.recv_q);
        if let Some((pid, name)) = owners.and_then(|o| i.handle.and_then(|h| o.get(&h))) {
            let _ = write!(s, " users:((\"{name}\",pid={pid}))");
        }
        s.push('\n');
        if listening {
            let _ = writeln!(
                s,
                "\t {} syn_queue:{} accept_queue:{} backlog:{}",
                i.congestion, i.syn_queue, i.accept_queue, i.backlog
            );
        } else {
            s.push_str(&ss_detail(&i));
        }
    }
    s
}
