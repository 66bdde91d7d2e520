//! Step mode's view of a connection: its control block as named fields
//! (`Tcb::of`), what changed from one to the next (`changed`), and how both
//! are printed (`render_tcb`, `event_line`), marked in the terminal's style
//! (`stdout_style`).
//!
//! Read first: RFC 9293 §3.3.1 (the send and receive sequence variables),
//! RFC 6298 (srtt, rttvar, rto), RFC 5681 (cwnd, ssthresh), and ss(8)'s
//! `-i` output, which this resembles.

use stack::tcp::{TcpInfo, TcpState};
use stack::{Duration, TraceEvent};
use std::fmt::Write as _;
use std::net::SocketAddrV4;

// ---------------------------------------------------------------- the TCB

/// A connection's control block as step mode shows it: named fields in
/// lines, so that two of them can be compared field by field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tcb {
    /// RFC 9293's state name; `CLOSED` when there is no socket.
    pub state: &'static str,
    /// Lines of (name, value).
    pub lines: Vec<Vec<(&'static str, String)>>,
}

/// `200ms`, `1.500ms`.
fn ms(d: Duration) -> String {
    format!("{}ms", crate::netstat::ms(d))
}

impl Tcb {
    /// The connection `(local, remote)` in `infos`, with the queues of the
    /// listener on its local port; the listener alone if the connection
    /// does not exist (yet).
    pub fn of(infos: &[TcpInfo], local: SocketAddrV4, remote: SocketAddrV4) -> Tcb {
        let conn = infos.iter().find(|i| i.local == local && i.remote == remote && i.state != TcpState::Listen);
        let listener = infos.iter().find(|i| i.state == TcpState::Listen && i.local.port() == local.port());
        let mut lines = Vec::new();
        let state = match (conn, listener) {
            (Some(c), _) => c.state.rfc_name(),
            (None, Some(_)) => "LISTEN",
            (None, None) => "CLOSED",
        };
        lines.push(vec![("state", state.to_string())]);
        if let Some(i) = conn {
            let n = |v: u32| v.to_string();
            lines.push(vec![
                ("iss", n(i.iss)),
                ("snd_una", n(i.snd_una)),
                ("snd_nxt", n(i.snd_nxt)),
                ("snd_wnd", i.snd_wnd.to_string()),
            ]);
            lines.push(vec![("irs", n(i.irs)), ("rcv_nxt", n(i.rcv_nxt)), ("rcv_wnd", i.rcv_wnd.to_string())]);
            // Like ss: no ssthresh until the first loss sets one.
            let ssthresh = if i.ssthresh < usize::MAX / 2 { i.ssthresh.to_string() } else { "-".to_string() };
            lines.push(vec![
                ("cc", i.congestion.to_string()),
                ("cwnd", i.cwnd.to_string()),
                ("ssthresh", ssthresh),
                ("srtt", ms(i.srtt)),
                ("rttvar", ms(i.rttvar)),
                ("rto", ms(i.rto)),
            ]);
            lines.push(vec![
                ("recv_q", i.recv_q.to_string()),
                ("send_q", i.send_q.to_string()),
                ("ofo", i.ofo_bytes.to_string()),
            ]);
        }
        if let Some(l) = listener {
            lines.push(vec![
                ("listener", l.local.to_string()),
                ("syn_queue", l.syn_queue.to_string()),
                ("accept_queue", l.accept_queue.to_string()),
                ("backlog", l.backlog.to_string()),
            ]);
        }
        Tcb { state, lines }
    }

    /// Whether a connection (not just its listener) is shown.
    pub fn has_conn(&self) -> bool {
        self.get("iss").is_some()
    }

    /// The connection is gone (freed at CLOSED): say so, keep the listener.
    pub fn closed(&mut self) {
        self.state = "CLOSED";
        self.lines[0] = vec![("state", "CLOSED".to_string())];
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.lines.iter().flatten().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// How changed fields are marked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Style {
    /// Bold inverse video (a terminal).
    Ansi,
    /// `*name old->new` (a pipe, telnet).
    Plain,
}

/// The TCB as indented lines under `label` (`before:`, `after:`, `tcb:`);
/// with `prev`, the fields that differ from it are marked.
pub fn render_tcb(label: &str, tcb: &Tcb, prev: Option<&Tcb>, style: Style) -> String {
    let mut s = String::new();
    for (k, line) in tcb.lines.iter().enumerate() {
        let _ = write!(s, "    {:<8}", if k == 0 { label } else { "" });
        for (j, (name, value)) in line.iter().enumerate() {
            if j > 0 {
                s.push_str("  ");
            }
            let old = prev.map(|p| p.get(name));
            match old {
                Some(old) if old != Some(value.as_str()) => match (style, old) {
                    (Style::Ansi, _) => {
                        let _ = write!(s, "\x1b[1;7m{name} {value}\x1b[0m");
                    }
                    (Style::Plain, Some(old)) => {
                        let _ = write!(s, "*{name} {old}->{value}");
                    }
                    (Style::Plain, None) => {
                        let _ = write!(s, "*{name} {value}");
                    }
                },
                _ => {
                    let _ = write!(s, "{name} {value}");
                }
            }
        }
        s.push('\n');
    }
    s
}

/// Names of the fields that differ (or appeared) from `a` to `b`.
pub fn changed(a: &Tcb, b: &Tcb) -> Vec<&'static str> {
    b.lines.iter().flatten().filter(|(n, v)| a.get(n) != Some(v.as_str())).map(|(n, _)| *n).collect()
}

/// A trace event as `-v` prints it: `↳ text  [clause]`.
pub fn event_line(ev: &TraceEvent) -> String {
    if ev.rfc.is_empty() {
        format!("    ↳ {}\n", ev.text)
    } else {
        format!("    ↳ {}  [{}]\n", ev.text, ev.rfc)
    }
}

/// Is standard output a terminal (ANSI highlighting)?
pub fn stdout_style() -> Style {
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(1) } == 1 {
        Style::Ansi
    } else {
        Style::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: &'static str, local: &str, remote: &str) -> TcpInfo {
        TcpInfo {
            handle: None,
            state: TcpState::parse(state).unwrap(),
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            recv_q: 0,
            send_q: 16,
            backlog: 16,
            syn_queue: 0,
            accept_queue: 0,
            iss: 100,
            irs: 0,
            snd_una: 100,
            snd_nxt: 101,
            snd_wnd: 0,
            rcv_nxt: 0,
            rcv_wnd: 65535,
            snd_wscale: 0,
            rcv_wscale: 0,
            mss: 1460,
            srtt: Duration::ZERO,
            rttvar: Duration::ZERO,
            rto: Duration::from_secs(1),
            cwnd: 14600,
            ssthresh: usize::MAX,
            congestion: "cubic",
            retransmits: 0,
            total_retrans: 0,
            in_recovery: false,
            ts_ok: false,
            sack_ok: false,
            sacked: 0,
            ofo_bytes: 0,
            timer: None,
        }
    }

    #[test]
    fn a_tcb_is_the_connection_or_its_listener() {
        let l = info("LISTEN", "0.0.0.0:23", "0.0.0.0:0");
        let c = info("SYN_RECEIVED", "10.0.0.2:23", "10.0.0.1:40000");
        let (local, remote) = ("10.0.0.2:23".parse().unwrap(), "10.0.0.1:40000".parse().unwrap());
        let before = Tcb::of(std::slice::from_ref(&l), local, remote);
        assert_eq!(before.state, "LISTEN");
        assert_eq!(before.get("iss"), None);
        assert_eq!(before.get("backlog"), Some("16"));
        let mut l2 = l.clone();
        l2.syn_queue = 1;
        let after = Tcb::of(&[l2, c], local, remote);
        assert_eq!(after.state, "SYN_RECEIVED");
        assert_eq!(after.get("ssthresh"), Some("-"));
        assert_eq!(after.get("cc"), Some("cubic"));
        assert_eq!(after.get("rto"), Some("1000ms"));
        let ch = changed(&before, &after);
        assert!(ch.contains(&"state") && ch.contains(&"syn_queue") && ch.contains(&"iss"), "{ch:?}");
        assert!(!ch.contains(&"backlog") && !ch.contains(&"accept_queue"), "{ch:?}");
        assert_eq!(Tcb::of(&[], local, remote).state, "CLOSED");
        // A connection freed by the step is CLOSED, not its listener's LISTEN.
        let mut gone = before.clone();
        assert!(after.has_conn() && !gone.has_conn());
        gone.closed();
        assert_eq!(gone.state, "CLOSED");
        assert!(render_tcb("after:", &gone, Some(&after), Style::Plain)
            .starts_with("    after:  *state SYN_RECEIVED->CLOSED\n"));
    }

    #[test]
    fn changed_fields_are_marked_in_either_style() {
        let (local, remote) = ("10.0.0.2:23".parse().unwrap(), "10.0.0.1:40000".parse().unwrap());
        let a = info("SYN_RECEIVED", "10.0.0.2:23", "10.0.0.1:40000");
        let mut b = a.clone();
        b.state = TcpState::Established;
        b.snd_una = 101;
        let (ta, tb) = (Tcb::of(&[a], local, remote), Tcb::of(&[b], local, remote));
        let plain = render_tcb("after:", &tb, Some(&ta), Style::Plain);
        assert!(plain.starts_with("    after:  *state SYN_RECEIVED->ESTABLISHED\n"), "{plain}");
        assert!(plain.contains("iss 100  *snd_una 100->101  snd_nxt 101"), "{plain}");
        assert_eq!(plain.matches('*').count(), 2, "only what changed: {plain}");
        let ansi = render_tcb("after:", &tb, Some(&ta), Style::Ansi);
        assert!(ansi.contains("\x1b[1;7mstate ESTABLISHED\x1b[0m"), "{ansi:?}");
        assert!(ansi.contains("\x1b[1;7msnd_una 101\x1b[0m"), "{ansi:?}");
        assert!(!ansi.contains("\x1b[1;7miss"), "{ansi:?}");
        // Without a previous TCB nothing is marked.
        let unmarked = render_tcb("before:", &ta, None, Style::Plain);
        assert!(!unmarked.contains('*') && unmarked.starts_with("    before: state SYN_RECEIVED\n"), "{unmarked}");
    }
}
