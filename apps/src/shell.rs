//! The synack prompt: one command line in, text out.
//!
//! The interpreter is a function of the line, the stack and the time: it
//! never blocks and never prints. The console (`synack up` on a terminal)
//! and the telnet server print what it returns; a command that takes time
//! (`ping`) comes back as an `Action` that the caller runs as a service.
//!
//! The commands are listed once, in `HELP` (what `help` prints); the
//! prompt is `PROMPT`, or step mode's `step> ` while a segment waits for
//! this prompt's key (`Shell::prompt`).

use crate::ping::{PingJob, PingOptions};
use crate::step::{StepCtl, Style, Who};
use stack::route::Route;
use stack::tcp::CongAlgo;
use stack::{Duration, Instant, SockOpt, SockType, Stack, Stats};
use std::fmt::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The prompt, on the console and over telnet.
pub const PROMPT: &str = "synack> ";

/// What `help` prints: every command of the prompt.
pub const HELP: &str = "\
commands:
  help                                    this list
  ifconfig                                the interface: address, MAC, MTU, packets
  arp                                     the neighbour (ARP) cache
  route                                   the routing table
  route add 192.168.5.0/24 via 10.0.0.1   add a static route (or: route add default via GW)
  route del 192.168.5.0/24                delete a route (or: route del default)
  stats                                   counters and drop reasons
  netstat [-l|-a] [-p]                    TCP/UDP sockets like netstat -tun (-l listeners
                                          with SYN and accept queues, -a all, -p the
                                          program of synack run that owns each)
  ss [-p]                                 every TCP socket with its control block
  ping HOST [-c N] [-s SIZE] [-i SECS]    ping with the stack's own ICMP client
  set                                     TCP tunables: nagle, delack, msl, rto, sndbuf,
                                          rcvbuf, backlog, congestion (set nagle off,
                                          set msl 5s, set congestion reno, …)
  listen PORT [BACKLOG] [cubic|reno]      a TCP listener that never accepts and whose
                                          connections never read (labs: queues, windows;
                                          its connections use that congestion control)
  step on|off                             step mode: each TCP segment waits for Enter, with
                                          the TCB before and after (c continue, b port 23…)
  quit                                    stop synack
";

/// Something the caller must do after printing the text.
pub enum Action {
    None,
    /// Stop synack (`quit`, `exit`, end of input).
    Quit,
    /// Run this ping until it is done, printing its lines.
    Ping(PingJob),
    /// A step key: the stepper answers (with its prompt); print no prompt.
    Step,
}

pub struct Reply {
    /// Text to print, each line ending in '\n' (may be empty).
    pub text: String,
    pub action: Action,
}

impl Reply {
    fn text(text: String) -> Reply {
        Reply { text, action: Action::None }
    }
}

/// The prompt's state: the interface name it shows and the next ping id.
pub struct Shell {
    ifname: String,
    next_ident: u16,
    /// Step mode's controller, who this prompt is to it, and how it prints.
    step: Option<(StepCtl, Who, bool, Style)>,
    /// Who owns which socket (`synack run`'s programs), for `-p`; and a
    /// line about them for `stats`.
    owners: crate::netstat::Owners,
    programs_line: Option<String>,
}

impl Shell {
    /// `ident_base`: the first ICMP identifier for `ping` (ping(8) uses its pid).
    pub fn new(ifname: &str, ident_base: u16) -> Shell {
        Shell {
            ifname: ifname.to_string(),
            next_ident: ident_base,
            step: None,
            owners: Default::default(),
            programs_line: None,
        }
    }

    /// Let this prompt drive step mode as `who` (`interactive`: print the
    /// step prompt; `style`: how changed fields are marked).
    pub fn set_step(&mut self, ctl: StepCtl, who: Who, interactive: bool, style: Style) {
        self.step = Some((ctl, who, interactive, style));
    }

    /// The programs of `synack run` now: their sockets (for `netstat -p`,
    /// `ss -p`) and a line for `stats`.
    pub fn set_programs(&mut self, owners: crate::netstat::Owners, stats_line: String) {
        self.owners = owners;
        self.programs_line = Some(stats_line);
    }

    /// The prompt to show: `step> ` while a segment waits for this prompt's key.
    pub fn prompt(&self) -> &'static str {
        match &self.step {
            Some((ctl, who, ..)) if ctl.pending() && ctl.controller() == Some(*who) => crate::step::STEP_PROMPT,
            _ => PROMPT,
        }
    }

    /// Step output waiting for this prompt, taken.
    pub fn take_step_output(&mut self) -> String {
        self.step.as_ref().map(|(ctl, who, ..)| ctl.take_output_for(*who)).unwrap_or_default()
    }

    /// Run one command line.
    pub fn execute(&mut self, line: &str, stack: &mut Stack, now: Instant) -> Reply {
        if let Some((ctl, who, ..)) = &self.step {
            if let Some(text) = ctl.intercept(*who, line) {
                return Reply { text, action: Action::Step };
            }
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&cmd, args)) = words.split_first() else { return Reply::text(String::new()) };
        match cmd {
            "help" | "?" => Reply::text(HELP.to_string()),
            "ifconfig" => Reply::text(ifconfig(&self.ifname, stack)),
            "arp" => Reply::text(arp(stack, now)),
            "route" => Reply::text(route(stack, args)),
            "stats" => {
                let mut t = stats_text(stack.stats());
                if let Some(l) = &self.programs_line {
                    t.push_str(l);
                }
                Reply::text(t)
            }
            "netstat" => match crate::netstat::NetstatOptions::parse(args) {
                Ok(o) => Reply::text(crate::netstat::netstat_owned(stack, now, o, &self.owners)),
                Err(e) => Reply::text(format!("netstat: {e}\n")),
            },
            "ss" if args == ["-p"] => Reply::text(crate::netstat::ss_owned(stack, now, &self.owners)),
            "ss" => Reply::text(crate::netstat::ss(stack, now)),
            "ping" => match parse_ping(args) {
                Ok(mut opts) => {
                    opts.ident = self.next_ident;
                    self.next_ident = self.next_ident.wrapping_add(1);
                    Reply { text: String::new(), action: Action::Ping(PingJob::new(opts, now)) }
                }
                Err(e) => Reply::text(format!("ping: {e}\nusage: ping HOST [-c COUNT] [-s SIZE] [-i SECONDS]\n")),
            },
            "set" => {
                Reply::text(crate::tunables::set(stack, args).unwrap_or_else(|e| format!("set: {}\n", e.trim_end())))
            }
            "listen" => Reply::text(listen(stack, now, args)),
            "step" => Reply::text(self.step_command(args, stack)),
            "quit" | "exit" => Reply { text: String::new(), action: Action::Quit },
            other => Reply::text(format!("unknown command: {other} (try help)\n")),
        }
    }
}

impl Shell {
    /// `step on` (and `synack up --step`): this prompt starts driving step
    /// mode; the step output ends with this prompt's prompt if interactive.
    pub fn step_on(&self, stack: &mut Stack) -> String {
        let Some((ctl, who, interactive, style)) = &self.step else {
            return "step: not available here\n".to_string();
        };
        // A telnet session's own connection carries its keys: not stepped.
        let exempt = match *who {
            Who::Telnet(sock) => stack.getsockname(sock).ok().zip(stack.getpeername(sock).ok()),
            Who::Console | Who::Web(_) => None,
        };
        ctl.start(*who, exempt, interactive.then_some(PROMPT), *style, stack)
    }

    /// `step on|off`, `step` (status).
    fn step_command(&mut self, args: &[&str], stack: &mut Stack) -> String {
        let Some((ctl, ..)) = &self.step else {
            return "step: not available here\n".to_string();
        };
        match args {
            ["on"] => self.step_on(stack),
            ["off"] => ctl.stop(stack),
            [] => ctl.status(),
            _ => "usage: step on|off\n".to_string(),
        }
    }
}

/// The `stats` text, in the fixed format tests read:
///
/// ```text
/// counters:
///   frames_rx: 12
/// drops:
///   ip_bad_checksum: 1
/// ```
///
/// Only non-zero entries, in declaration order.
pub fn stats_text(stats: &Stats) -> String {
    let mut s = String::from("counters:\n");
    for (c, n) in stats.nonzero_counters() {
        let _ = writeln!(s, "  {}: {n}", c.name());
    }
    s.push_str("drops:\n");
    for (r, n) in stats.nonzero_drops() {
        let _ = writeln!(s, "  {}: {n}", r.name());
    }
    s
}

/// Like Linux `ifconfig`.
pub fn ifconfig(ifname: &str, stack: &Stack) -> String {
    use stack::Counter;
    let i = stack.iface();
    let netmask = Ipv4Addr::from(if i.prefix_len == 0 { 0 } else { u32::MAX << (32 - i.prefix_len as u32) });
    let st = stack.stats();
    format!(
        "{ifname}: flags=UP,BROADCAST,RUNNING  mtu {mtu}\n\
         \x20       inet {addr}  netmask {netmask}  broadcast {bcast}\n\
         \x20       ether {mac}\n\
         \x20       RX packets {rx}  TX packets {tx}  dropped {drops}\n",
        mtu = i.mtu,
        addr = i.addr,
        bcast = i.broadcast,
        mac = i.mac,
        rx = st.get(Counter::FramesRx),
        tx = st.get(Counter::FramesTx),
        drops = st.total_drops(),
    )
}

/// Like `arp -n`, with the neighbour state and queue.
pub fn arp(stack: &Stack, now: Instant) -> String {
    let mut entries = stack.arp_entries(now);
    entries.sort_by_key(|e| e.ip);
    let mut s = format!("{:<16} {:<18} {:<11} {:>8} {:>7}\n", "Address", "HWaddress", "State", "Age", "Queued");
    if entries.is_empty() {
        s.push_str("(empty)\n");
    }
    for e in entries {
        let mac = e.mac.map_or("(incomplete)".to_string(), |m| m.to_string());
        let age = format!("{:.1}s", e.age.as_secs_f64());
        let _ = writeln!(s, "{:<16} {:<18} {:<11} {:>8} {:>7}", e.ip, mac, e.state.name(), age, e.pending);
    }
    s
}

/// `route`, `route add DEST/LEN via GW`, `route add DEST/LEN` (on-link), `route del DEST/LEN`.
pub fn route(stack: &mut Stack, args: &[&str]) -> String {
    let usage = "usage: route [show] | route add DEST/LEN [via GW] | route del DEST/LEN\n";
    match args {
        [] | ["show"] => {
            let mut s = String::new();
            for r in stack.routes() {
                let _ = writeln!(s, "{r}");
            }
            s
        }
        ["add", dest, rest @ ..] => {
            let (net, len) = match parse_prefix(dest) {
                Ok(p) => p,
                Err(e) => return format!("route: {e}\n{usage}"),
            };
            let gw = match rest {
                [] => None,
                ["via", gw] => match gw.parse::<Ipv4Addr>() {
                    Ok(g) => Some(g),
                    Err(_) => return format!("route: bad gateway {gw:?}\n{usage}"),
                },
                _ => return usage.to_string(),
            };
            match stack.route_add(Route::new(net, len, gw)) {
                Ok(()) => String::new(),
                Err(e) => format!("route: {}\n", e.text()),
            }
        }
        ["del", dest] => {
            let (net, len) = match parse_prefix(dest) {
                Ok(p) => p,
                Err(e) => return format!("route: {e}\n{usage}"),
            };
            match stack.route_del(net, len) {
                Ok(()) => String::new(),
                Err(e) => format!("route: {}\n", e.text()),
            }
        }
        _ => usage.to_string(),
    }
}

/// `listen PORT [BACKLOG] [ALGORITHM]`: `socket`, `bind(0.0.0.0:PORT)`,
/// `listen`, and then nothing: no one calls `accept`, so connections
/// complete the handshake and wait in the accept queue, and no one calls
/// `recv`, so their receive buffers fill and their windows close. For labs
/// (the listener's two queues, a zero window); it lives until synack stops.
/// With an algorithm (`cubic`, `reno`) the listener gets TCP_CONGESTION,
/// and its connections inherit it.
pub fn listen(stack: &mut Stack, now: Instant, args: &[&str]) -> String {
    let usage = "usage: listen PORT [BACKLOG] [cubic|reno]\n";
    let (args, algo) = match args.split_last() {
        Some((last, rest)) if last.parse::<usize>().is_err() && !rest.is_empty() => match CongAlgo::from_name(last) {
            Some(a) => (rest, Some(a)),
            None => return usage.to_string(),
        },
        _ => (args, None),
    };
    let (port, backlog) = match args {
        [p] => (p.parse::<u16>().ok(), Some(128)),
        [p, b] => (p.parse::<u16>().ok(), b.parse::<usize>().ok()),
        _ => return usage.to_string(),
    };
    let (Some(port @ 1..), Some(backlog)) = (port, backlog) else { return usage.to_string() };
    let sock = match stack.socket(SockType::Stream) {
        Ok(s) => s,
        Err(e) => return format!("listen: socket: {}\n", e.text()),
    };
    let r = match algo {
        Some(a) => stack.setsockopt(now, sock, SockOpt::Congestion(a)).map_err(|e| ("setsockopt", e)),
        None => Ok(()),
    };
    let r = r.and_then(|()| stack.bind(sock, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).map_err(|e| ("bind", e)));
    match r.and_then(|()| stack.listen(sock, backlog).map_err(|e| ("listen", e))) {
        Ok(()) => format!(
            "listening on 0.0.0.0:{port}, backlog {}{}: nobody accepts, nobody reads\n",
            backlog.min(stack::tcp::SOMAXCONN),
            algo.map_or(String::new(), |a| format!(", {a}"))
        ),
        Err((call, e)) => {
            let _ = stack.close(now, sock);
            format!("listen: {call}: {}\n", e.text())
        }
    }
}

/// `192.168.5.0/24`, `10.1.2.3` (a host, /32) or `default` (0.0.0.0/0).
pub fn parse_prefix(s: &str) -> Result<(Ipv4Addr, u8), String> {
    if s == "default" {
        return Ok((Ipv4Addr::UNSPECIFIED, 0));
    }
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => {
            (ip, len.parse::<u8>().ok().filter(|&l| l <= 32).ok_or(format!("bad prefix length in {s:?}"))?)
        }
        None => (s, 32),
    };
    let ip = ip.parse::<Ipv4Addr>().map_err(|_| format!("bad address {s:?}"))?;
    Ok((ip, len))
}

fn parse_ping(args: &[&str]) -> Result<PingOptions, String> {
    let mut host = None;
    let mut count = None;
    let mut size = None;
    let mut interval = None;
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        let mut value = |name: &str| it.next().copied().ok_or(format!("option {name} needs a value"));
        match a {
            "-c" => count = Some(value("-c")?.parse::<u32>().map_err(|_| "bad count".to_string())?),
            "-s" => size = Some(value("-s")?.parse::<usize>().map_err(|_| "bad size".to_string())?),
            "-i" => interval = Some(value("-i")?.parse::<f64>().map_err(|_| "bad interval".to_string())?),
            h if host.is_none() && !h.starts_with('-') => host = Some(h),
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    let host = host.ok_or("which host?")?;
    let dst = host.parse::<Ipv4Addr>().map_err(|_| format!("{host}: not an IPv4 address (no DNS here)"))?;
    let mut o = PingOptions::new(dst);
    if let Some(c) = count {
        o.count = c.clamp(1, 10_000);
    }
    if let Some(s) = size {
        if s > 65_507 {
            return Err("size too large (at most 65507)".into());
        }
        o.size = s;
    }
    if let Some(i) = interval {
        if !(0.01..=60.0).contains(&i) {
            return Err("interval must be between 0.01 and 60 seconds".into());
        }
        o.interval = Duration::from_secs_f64(i);
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::Config;

    fn stack() -> Stack {
        Stack::new(Config::default(), Instant::ZERO)
    }

    #[test]
    fn stats_format_is_fixed() {
        let mut s = stack();
        while s.poll_transmit(Instant::ZERO).is_some() {}
        s.handle_frame(Instant::ZERO, stack::SkBuff::from_frame(&[0u8; 5]));
        let text = stats_text(s.stats());
        assert_eq!(text, "counters:\n  frames_rx: 1\n  frames_tx: 1\n  arp_tx: 1\n  arp_requests_tx: 1\ndrops:\n  eth_too_short: 1\n");
    }

    #[test]
    fn routes_add_show_del() {
        let mut s = stack();
        let mut sh = Shell::new("tap0", 1);
        let r = sh.execute("route add 192.168.5.0/24 via 10.0.0.1", &mut s, Instant::ZERO);
        assert_eq!(r.text, "");
        let shown = sh.execute("route", &mut s, Instant::ZERO).text;
        assert!(shown.contains("192.168.5.0/24 via 10.0.0.1"), "{shown}");
        assert!(shown.contains("default via 10.0.0.1"), "{shown}");
        assert_eq!(sh.execute("route del 192.168.5.0/24", &mut s, Instant::ZERO).text, "");
        assert!(!sh.execute("route show", &mut s, Instant::ZERO).text.contains("192.168.5.0"));
        assert!(sh.execute("route del 192.168.5.0/24", &mut s, Instant::ZERO).text.starts_with("route: "));
        assert!(sh.execute("route add 1.2.3.0/99 via 10.0.0.1", &mut s, Instant::ZERO).text.contains("bad prefix"));
    }

    #[test]
    fn ifconfig_arp_help_quit_unknown() {
        let mut s = stack();
        let mut sh = Shell::new("tap0", 1);
        let ifc = sh.execute("ifconfig", &mut s, Instant::ZERO).text;
        assert!(ifc.starts_with("tap0: flags="), "{ifc}");
        assert!(ifc.contains("inet 10.0.0.2  netmask 255.255.255.0  broadcast 10.0.0.255"), "{ifc}");
        assert!(ifc.contains("ether 02:00:00:00:00:02"), "{ifc}");
        // Sending to an unknown neighbour makes an INCOMPLETE entry.
        s.ping_send(Instant::ZERO, [10, 0, 0, 7].into(), 1, 1, 8).unwrap();
        let arp = sh.execute("arp", &mut s, Instant::ZERO).text;
        assert!(arp.lines().any(|l| l.starts_with("10.0.0.7") && l.contains("INCOMPLETE")), "{arp}");
        assert!(sh.execute("help", &mut s, Instant::ZERO).text.contains("route add"));
        assert!(matches!(sh.execute("quit", &mut s, Instant::ZERO).action, Action::Quit));
        assert_eq!(sh.execute("  ", &mut s, Instant::ZERO).text, "");
        assert!(sh.execute("frobnicate", &mut s, Instant::ZERO).text.contains("unknown command"));
    }

    #[test]
    fn listen_opens_a_listener_nobody_accepts_from() {
        let mut s = stack();
        let mut sh = Shell::new("tap0", 1);
        assert_eq!(
            sh.execute("listen 8000 1", &mut s, Instant::ZERO).text,
            "listening on 0.0.0.0:8000, backlog 1: nobody accepts, nobody reads\n"
        );
        let l = crate::netstat::netstat(&s, Instant::ZERO, crate::netstat::NetstatOptions::parse(&["-l"]).unwrap());
        assert!(l.lines().any(|l| l.contains("0.0.0.0:8000") && l.contains("LISTEN")), "{l}");
        assert!(sh.execute("listen 8000", &mut s, Instant::ZERO).text.starts_with("listen: bind: "));
        for bad in
            ["listen", "listen 0", "listen http", "listen 8001 -1", "listen 1 2 3", "listen 1 2 bbr", "listen reno"]
        {
            assert_eq!(
                sh.execute(bad, &mut s, Instant::ZERO).text,
                "usage: listen PORT [BACKLOG] [cubic|reno]\n",
                "{bad}"
            );
        }
        // With an algorithm (TCP_CONGESTION on the listener); ss shows it.
        assert_eq!(
            sh.execute("listen 8002 reno", &mut s, Instant::ZERO).text,
            "listening on 0.0.0.0:8002, backlog 128, reno: nobody accepts, nobody reads\n"
        );
        assert!(sh.execute("listen 8003 4 cubic", &mut s, Instant::ZERO).text.contains("backlog 4, cubic"));
        let ss = sh.execute("ss", &mut s, Instant::ZERO).text;
        assert!(ss.contains("\t reno syn_queue:0 accept_queue:0 backlog:128"), "{ss}");
        assert!(ss.contains("\t cubic syn_queue:0 accept_queue:0 backlog:4"), "{ss}");
        // `set congestion` changes the default of new sockets and listeners.
        assert!(sh.execute("set congestion reno", &mut s, Instant::ZERO).text.starts_with("congestion reno"));
        assert!(sh.execute("listen 8004", &mut s, Instant::ZERO).text.contains("backlog 128: nobody"));
        let ss = sh.execute("ss", &mut s, Instant::ZERO).text;
        assert_eq!(ss.matches("\t reno syn_queue:0 accept_queue:0 backlog:128").count(), 2, "8002 and 8004: {ss}");
    }

    #[test]
    fn set_shows_and_changes_tunables() {
        let mut s = stack();
        let mut sh = Shell::new("tap0", 1);
        let shown = sh.execute("set", &mut s, Instant::ZERO).text;
        assert!(shown.starts_with("TCP tunables"), "{shown}");
        assert!(shown.contains("  delack     on "), "{shown}");
        assert_eq!(
            sh.execute("set delack off", &mut s, Instant::ZERO).text,
            "delack off: every segment is ACKed at once\n"
        );
        assert!(!s.tcp_config().delayed_ack);
        assert_eq!(
            sh.execute("set msl 5x", &mut s, Instant::ZERO).text,
            "set: \"5x\": a duration wants a unit, like 500ms, 2s or 250us\n"
        );
        assert!(sh.execute("set frobs 1", &mut s, Instant::ZERO).text.starts_with("set: unknown knob \"frobs\""));
        assert!(sh.execute("help", &mut s, Instant::ZERO).text.contains("set nagle off"));
    }

    #[test]
    fn ping_parses_into_a_job() {
        let mut s = stack();
        let mut sh = Shell::new("tap0", 100);
        match sh.execute("ping 10.0.0.1 -c 2 -s 100 -i 0.5", &mut s, Instant::ZERO).action {
            Action::Ping(mut job) => {
                assert_eq!(job.take_lines(), vec!["PING 10.0.0.1 (10.0.0.1) 100(128) bytes of data."]);
                assert_eq!(job.poll_at(), Some(Instant::ZERO));
            }
            _ => panic!("expected a ping job"),
        }
        assert!(sh.execute("ping", &mut s, Instant::ZERO).text.contains("which host"));
        assert!(sh.execute("ping example.com", &mut s, Instant::ZERO).text.contains("not an IPv4"));
        assert!(sh.execute("ping 10.0.0.1 -c", &mut s, Instant::ZERO).text.contains("needs a value"));
    }
}
