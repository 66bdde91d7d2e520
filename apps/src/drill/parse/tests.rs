//! The parser against every construct of the grammar, a whole script,
//! errors with their lines, and a few thousand mangled scripts that must
//! come back as errors, never as panics.

use super::*;

fn script(text: &str) -> Script {
    parse(text).unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"))
}

/// The only event of `text`.
fn event(text: &str) -> Event {
    let s = script(text);
    assert_eq!(s.events.len(), 1, "{text:?}: {:?}", s.events);
    s.events.into_iter().next().expect("one event")
}

fn packet(text: &str) -> PacketSpec {
    match event(text).action {
        Action::Packet(p) => p,
        other => panic!("{text:?} is not a packet: {other:?}"),
    }
}

fn tcp(text: &str) -> TcpSpec {
    match packet(text).body {
        PacketBody::Tcp(t) => t,
        other => panic!("{text:?} is not TCP: {other:?}"),
    }
}

fn syscall(text: &str) -> SyscallSpec {
    match event(text).action {
        Action::Syscall(s) => s,
        other => panic!("{text:?} is not a system call: {other:?}"),
    }
}

/// The error of `text`, which must be on `line` and contain `needle`.
fn error(text: &str, line: usize, needle: &str) {
    let e = parse(text).expect_err(text);
    assert_eq!(e.line, line, "{text:?}: {e}");
    assert!(e.message.contains(needle), "{text:?}: {e:?} does not say {needle:?}");
}

fn flags(letters: &str) -> TcpFlagSpec {
    let mut f = TcpFlagSpec::default();
    for c in letters.chars() {
        match c {
            'S' => f.syn = true,
            'F' => f.fin = true,
            'R' => f.rst = true,
            'P' => f.psh = true,
            '.' => f.ack = true,
            'U' => f.urg = true,
            'E' => f.ece = true,
            'W' => f.cwr = true,
            _ => panic!("no flag {c}"),
        }
    }
    f
}

fn word(s: &str) -> Expr {
    Expr::Word(s.to_string())
}

// --- Layout: comments, options, commands, lines ----------------------

#[test]
fn comments_and_blank_lines_are_skipped_and_lines_still_count() {
    let s = script("// first\n\n/* a\n   b */\n+0 close(3) = 0 // trailing\n/**/ +1 close(4) = 0\n");
    let lines: Vec<usize> = s.events.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![5, 6]);
    assert_eq!(s.events[1].time, EventTime::Relative(1_000_000));
}

#[test]
fn header_options_in_every_form() {
    let s = script(concat!(
        "--tolerance_usecs=10000\n",
        "--dry_run\n",
        "--congestion_control=reno\n",
        "--local_ip=192.168.0.2\n",
        "--ipv6_prefix=fd00::1\n",
        "--name=\"a b\"\n",
        "--define=PROTO=IPPROTO_TCP\n",
        "--define=CC=\"reno\"\n",
        "--define=CLEAN=`rm -f x`\n",
        "--offset=-5 --hex=0x10\n",
        "0 close(3) = 0\n",
    ));
    let got: Vec<(usize, &str, Option<&str>)> =
        s.options.iter().map(|o| (o.line, o.name.as_str(), o.value.as_deref())).collect();
    assert_eq!(
        got,
        vec![
            (1, "tolerance_usecs", Some("10000")),
            (2, "dry_run", None),
            (3, "congestion_control", Some("reno")),
            (4, "local_ip", Some("192.168.0.2")),
            (5, "ipv6_prefix", Some("fd00::1")),
            (6, "name", Some("a b")),
            (7, "define", Some("PROTO=IPPROTO_TCP")),
            (8, "define", Some("CC=\"reno\"")),
            (9, "define", Some("CLEAN=`rm -f x`")),
            (10, "offset", Some("-5")),
            (10, "hex", Some("0x10")),
        ]
    );
    assert_eq!(s.events.len(), 1);
}

#[test]
fn options_go_before_the_first_event() {
    error("0 close(3) = 0\n--late=1\n", 2, "after the first event");
    error("--x=\n0 close(3) = 0\n", 1, "a value after `--x=` on its line");
    error("--x=a=<\n0 close(3) = 0\n", 1, "after `a=`");
}

#[test]
fn the_first_and_last_commands_need_no_time() {
    let s = script(
        "// setup\n`../defaults.sh\n sysctl -q x=1`\n0 close(3) = 0\n+0 `sysctl -q net.ipv4.tcp_sack=0`\n`cleanup`\n",
    );
    let got: Vec<(usize, EventTime, Action)> = s.events.into_iter().map(|e| (e.line, e.time, e.action)).collect();
    assert_eq!(
        got,
        vec![
            (2, EventTime::Absolute(0), Action::Command("../defaults.sh\n sysctl -q x=1".into())),
            (4, EventTime::Absolute(0), Action::Syscall(syscall("0 close(3) = 0"))),
            (5, EventTime::Relative(0), Action::Command("sysctl -q net.ipv4.tcp_sack=0".into())),
            (6, EventTime::Relative(0), Action::Command("cleanup".into())),
        ]
    );
    error("0 close(3) = 0\n`middle`\n+0 close(4) = 0\n", 2, "a command needs a time");
}

#[test]
fn code_blocks_with_and_without_a_time() {
    let s = script("0 close(3) = 0\n+0.1 %{ assert tcpi_snd_cwnd == 10 }%\n%{\nx = 1\ny = 2\n}%\n+0 close(4) = 0\n");
    assert_eq!(s.events[1].time, EventTime::Relative(100_000));
    assert_eq!(s.events[1].action, Action::Code("assert tcpi_snd_cwnd == 10".into()));
    assert_eq!((s.events[2].line, s.events[2].time), (3, EventTime::Relative(0)));
    assert_eq!(s.events[2].action, Action::Code("\nx = 1\ny = 2\n".into()));
    assert_eq!(s.events[3].line, 7);
    error("0 close(3) = 0\n\n+0 %{ never closed\n", 3, "unterminated code block");
}

#[test]
fn a_script_needs_an_event() {
    error("", 1, "no events");
    error("// only a comment\n--opt=1\n", 2, "no events");
}

#[test]
fn errors_print_their_line() {
    let e = parse("\n\n+0 < S 0:0(0) <bogus>\n").expect_err("bogus option");
    assert_eq!(e.to_string(), format!("line 3: {}", e.message));
}

// --- Times ---------------------------------------------------------

#[test]
fn every_kind_of_event_time() {
    let time = |t: &str| event(&format!("{t} > S 0:0(0)")).time;
    assert_eq!(time("1.5"), EventTime::Absolute(1_500_000));
    assert_eq!(time("0"), EventTime::Absolute(0));
    assert_eq!(time(".1"), EventTime::Absolute(100_000));
    assert_eq!(time("+0.1"), EventTime::Relative(100_000));
    assert_eq!(time("+.1"), EventTime::Relative(100_000));
    assert_eq!(time("+1"), EventTime::Relative(1_000_000));
    assert_eq!(time("*"), EventTime::Any);
    assert_eq!(time("0.1~0.2"), EventTime::AbsoluteRange(100_000, 200_000));
    assert_eq!(time("+.3~+.303"), EventTime::RelativeRange(300_000, 303_000));
    // packetdrill truncates seconds * 1e6: 1.005 s is 1004999 µs.
    assert_eq!(time("1.005"), EventTime::Absolute(1_004_999));
}

#[test]
fn bad_times() {
    error("-1 close(3) = 0", 1, "negative time");
    error("+-0.5 close(3) = 0", 1, "negative time");
    error("0.2~0.1 > S 0:0(0)", 1, "backwards");
    error("+.1~.2 > S 0:0(0)", 1, "relative range");
    error("0.1~+0.2 > S 0:0(0)", 1, "without `+`");
    error("99999999999999 close(3) = 0", 1, "out of range");
    error("+ close(3) = 0", 1, "a time in seconds");
    error("close(3) = 0", 1, "expected an event time");
}

#[test]
fn any_time_and_ranges_are_for_outbound_packets_only() {
    error("* close(3) = 0", 1, "`*` can only be used with outbound packets");
    error("0\n~1 close(3) = 0", 2, "time range");
    error("+0~+1 close(3) = 0", 1, "time range");
    error("* < S 0:0(0)", 1, "outbound packets");
    error("* `ls`", 1, "outbound packets");
    error("+0~+1 %{ x }%", 1, "outbound packets");
}

// --- TCP packets ---------------------------------------------------

#[test]
fn tcp_flags_in_every_form() {
    for (text, want) in [
        ("S", "S"),
        ("S.", "S."),
        ("P.", "P."),
        ("F.", "F."),
        ("R", "R"),
        ("R.", "R."),
        (".", "."),
        ("-", ""),
        ("FP.", "FP."),
        ("SEW", "SEW"),
        ("SE.", "SE."),
        ("U.", "U."),
        ("E.", "E."),
        ("W", "W"),
    ] {
        assert_eq!(tcp(&format!("+0 < {text} 0:0(0)")).flags, flags(want), "{text}");
    }
}

#[test]
fn bad_tcp_flags() {
    error("+0 < SX 0:0(0)", 1, "bad TCP flags `SX`");
    error("+0 < SS 0:0(0)", 1, "`S` twice");
    error("+0 < s 0:0(0)", 1, "bad TCP flags");
    error("+0 > SEWA 0:0(0)", 1, "unsupported: AccECN");
    error("+0 > P.5 1:1(0)", 1, "unsupported: AccECN");
    error("+0 < 0:0(0)", 1, "expected TCP flags");
    error("+0 <\n", 1, "expected TCP flags");
}

#[test]
fn a_full_tcp_segment() {
    let t = tcp("+0 < P. 1:1001(1000) ack 4294967295 win 65535 urg 7 <nop,nop,TS val 100 ecr 0>");
    assert_eq!(
        t,
        TcpSpec {
            flags: flags("P."),
            seq: 1,
            len: 1000,
            ack: Some(u32::MAX),
            win: Some(65535),
            urg: Some(7),
            options: TcpOptionsSpec::List(vec![
                TcpOptionSpec::Nop,
                TcpOptionSpec::Nop,
                TcpOptionSpec::Timestamp { val: 100, ecr: 0 }
            ]),
        }
    );
    let bare = tcp("+0 > . 1:1(0)");
    assert_eq!((bare.ack, bare.win, bare.urg, bare.options), (None, None, None, TcpOptionsSpec::Absent));
    // In any order, each once.
    let t = tcp("+0 < . 1:1(0) win 10 ack 5");
    assert_eq!((t.ack, t.win), (Some(5), Some(10)));
    error("+0 < . 1:1(0) ack 1 ack 2", 1, "`ack` given twice");
    error("+0 < . 1:1(0) win 1 win 2", 1, "`win` given twice");
}

#[test]
fn sequence_ranges_are_checked() {
    error("+0 < . 1:1000(1000)", 1, "inconsistent TCP sequence numbers");
    error("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < P. 1:11(9)\n", 2, "1 + 9 != 11");
    error("+0 < . 4294967296:4294967296(0)", 1, "TCP start sequence number out of range");
    error("+0 < . 0:65536(65536)", 1, "TCP payload size out of range");
    error("+0 < . 4294967295:4294967295(1)", 1, "inconsistent");
    error("+0 < . -1:0(1)", 1, "out of range");
    error("+0 < . 1:1(0) ack 4294967296", 1, "TCP ack sequence number out of range");
    error("+0 < . 1:1(0) win 65536", 1, "TCP window out of range");
    error("+0 < . 1:1(0) urg -1", 1, "TCP urgent pointer out of range");
    assert_eq!(tcp("+0 < . 4294967295:4294967295(0)").seq, u32::MAX);
}

#[test]
fn tcp_options() {
    let t = tcp("+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7,eol>");
    use TcpOptionSpec::*;
    assert_eq!(t.options, TcpOptionsSpec::List(vec![Mss(1000), SackOk, Nop, Nop, Nop, WScale(7), Eol]));
    let t = tcp("+0 < . 1:1(0) ack 1001 <sack 2001:3001 4001:5001,nop,nop>");
    assert_eq!(t.options, TcpOptionsSpec::List(vec![Sack(vec![(2001, 3001), (4001, 5001)]), Nop, Nop]));
    // Options may span lines.
    let t = tcp("+0 > S 0:0(0) <mss 1460,\n  TS val 4294967295 ecr 1>");
    assert_eq!(t.options, TcpOptionsSpec::List(vec![Mss(1460), Timestamp { val: u32::MAX, ecr: 1 }]));
    assert_eq!(tcp("+0 > S. 0:0(0) ack 1 <...>").options, TcpOptionsSpec::Any);
}

#[test]
fn bad_tcp_options() {
    error("+0 < S 0:0(0) <...>", 1, "<...> for TCP options can only be used with outbound packets");
    error("+0 > S 0:0(0)\n+0 < S. 0:0(0) ack 1\n  <...>", 3, "outbound packets");
    error("+0 < S 0:0(0) <mss 1460,bogus>", 1, "unknown TCP option `bogus`");
    error("+0 < S 0:0(0) <>", 1, "expected a TCP option");
    error("+0 < S 0:0(0) <mss 65536>", 1, "mss value out of range");
    error("+0 < S 0:0(0) <wscale 256>", 1, "window scale shift count out of range");
    error("+0 < S 0:0(0) <sack>", 1, "TCP SACK left edge");
    error("+0 < S 0:0(0) <sack 1>", 1, "`:` in a SACK block");
    error("+0 < S 0:0(0) <TS 1 ecr 2>", 1, "`val`");
    error("+0 < S 0:0(0) <TS val 1 2>", 1, "`ecr`");
    error("+0 < S 0:0(0) <mss 1460", 1, "`>` or `,`");
    error("+0 < S 0:0(0) <mss 1460,FO abcd1234>", 1, "unsupported: the TCP option `FO`");
    error("+0 < S 0:0(0) <FOEXP>", 1, "unsupported: the TCP option `FOEXP`");
    error("+0 < S 0:0(0) <md5 00>", 1, "unsupported: the TCP option `md5`");
    error("+0 < S 0:0(0) <ECN e0b 1>", 1, "unsupported: the TCP option `ECN`");
}

// --- UDP and ICMP --------------------------------------------------

#[test]
fn udp_packets() {
    assert_eq!(
        packet("+0 < udp (100)"),
        PacketSpec { direction: Direction::Inbound, body: PacketBody::Udp { len: 100 } }
    );
    assert_eq!(packet("+0 > udp (0)").direction, Direction::Outbound);
    error("+0 < udp (65536)", 1, "UDP payload size out of range");
    error("+0 < udp 100", 1, "ports");
    error("+0 < udp", 1, "`(` after `udp`");
}

#[test]
fn icmp_packets() {
    let icmp = |text: &str| match packet(text).body {
        PacketBody::Icmp(i) => i,
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(
        icmp("+0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]"),
        IcmpSpec {
            icmp_type: "unreachable".into(),
            code: Some("frag_needed".into()),
            mtu: Some(1200),
            quoted_seq: Some((1, 1460)),
        }
    );
    assert_eq!(
        icmp("+0 < icmp unreachable port_unreachable"),
        IcmpSpec {
            icmp_type: "unreachable".into(),
            code: Some("port_unreachable".into()),
            mtu: None,
            quoted_seq: None
        }
    );
    assert_eq!(icmp("+0 > icmp echo_reply").icmp_type, "echo_reply");
    assert_eq!(icmp("+0 < icmp unreachable [S 0:0(0)]").quoted_seq, Some((0, 0)));
    assert_eq!(icmp("+0 < icmp unreachable [P. 5000:6000(1000)]").quoted_seq, Some((5000, 1000)));
    error("+0 < icmp", 1, "an ICMP type");
    error("+0 < icmp unreachable [1:2(3)]", 1, "inconsistent");
    error("+0 < icmp unreachable frag_needed mtu 70000", 1, "ICMP mtu out of range");
    error("+0 < icmp unreachable [1:2(1)", 1, "`]` after the quoted segment");
    error("+0 < icmp unreachable [udp (10)]", 1, "unsupported: a quoted");
    error("+0 > icmp echo_reply id 7", 1, "unsupported: an ICMP echo id");
}

#[test]
fn what_synack_does_not_model_on_a_packet_line_is_unsupported() {
    for (text, needle) in [
        ("+0 < [ect0] . 1:1(0) ack 1", "IP header fields `[ect0]`"),
        ("+0 < (tos 0x1) . 1:1(0) ack 1", "IP header fields `(tos 0x1)`"),
        ("+0 > [noecn] S 0:0(0)", "IP header fields `[noecn]`"),
        ("+0 < ipv4 2.2.2.2 > 1.1.1.1: gre: . 1:1001(1000) ack 1", "an IP header"),
        ("+0 < gre: . 1:1(0)", "GRE"),
        ("+0 < mpls (label 1, tc 0, ttl 1): . 1:1(0)", "MPLS"),
        ("+0 < encap psp spi 1 . 1:1(0)", "PSP"),
        ("+0 < 8080 > 80 S 0:0(0)", "ports"),
        ("+0 < 192.0.2.1:8080 > 192.0.2.2:80 S 0:0(0)", "an address"),
        ("+0 < fd00::1 > fd00::2 S 0:0(0)", "an address"),
    ] {
        error(text, 1, &format!("unsupported: {needle}"));
    }
}

// --- System calls --------------------------------------------------

#[test]
fn a_plain_system_call() {
    assert_eq!(
        syscall("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3"),
        SyscallSpec {
            end: None,
            name: "socket".into(),
            args: vec![Expr::Ellipsis, word("SOCK_STREAM"), word("IPPROTO_TCP")],
            result: Expr::Int(3),
            errno: None,
            note: None,
        }
    );
    assert_eq!(syscall("+0 getpid() = ...").args, vec![]);
    assert_eq!(syscall("+0 getpid() = ...").result, Expr::Ellipsis);
}

#[test]
fn a_blocking_call_ends_at_a_plain_time() {
    let e = event("+0...0.010 read(4, ..., 1000) = 1000");
    assert_eq!(e.time, EventTime::Relative(0));
    let Action::Syscall(s) = e.action else { panic!("not a syscall") };
    assert_eq!((s.end, s.name.as_str(), s.args.len()), (Some(10_000), "read", 3));
    assert_eq!(syscall("+.002 ... 0.052 connect(4, ..., ...) = 0").end, Some(52_000));
    assert_eq!(syscall("0...1 accept(3, ..., ...) = 4").end, Some(1_000_000));
    error("+0...+0.1 read(4, ..., 1) = 1", 1, "without `+`");
    error("+0...-1 read(4, ..., 1) = 1", 1, "negative time");
    error("+0... read(4, ..., 1) = 1", 1, "a time in seconds");
    error("+0...1 = 1", 1, "a system call name");
}

#[test]
fn results_errnos_and_notes() {
    let s = syscall("+0 read(4, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)");
    assert_eq!(
        (s.result, s.errno.as_deref(), s.note.as_deref()),
        (Expr::Int(-1), Some("EAGAIN"), Some("Resource temporarily unavailable"))
    );
    let s = syscall("+0 connect(3, ..., ...) = -1 ETIMEDOUT");
    assert_eq!((s.errno.as_deref(), s.note), (Some("ETIMEDOUT"), None));
    let s = syscall("+0 read(4, ..., 512) = -1 EHOSTUNREACH(No route to host)");
    assert_eq!((s.errno.as_deref(), s.note.as_deref()), (Some("EHOSTUNREACH"), Some("No route to host")));
    let s = syscall("+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN_KEY, \"\", 0) = -1 (Invalid   Argument)");
    assert_eq!((s.errno, s.note.as_deref()), (None, Some("Invalid Argument")));
    // A word result with a space before `(` is a word and a note, not a call.
    let s = syscall("+0 fcntl(3, F_GETFL) = O_RDWR (flags)");
    assert_eq!((s.result, s.note.as_deref()), (word("O_RDWR"), Some("flags")));
    let s = syscall("+0 f() = htons(80)");
    assert_eq!(s.result, Expr::Call("htons".into(), vec![Expr::Int(80)]));
    let s = syscall("+0 fcntl(3, F_GETFL) = O_RDWR|O_NONBLOCK");
    assert_eq!(s.result, Expr::BitOr(vec![word("O_RDWR"), word("O_NONBLOCK")]));
    error("+0 read(4, ..., 1) = -1 EAGAIN (never closed", 1, "unterminated note");
}

#[test]
fn expressions() {
    let args = |text: &str| syscall(&format!("+0 f({text}) = 0")).args;
    assert_eq!(
        args("0x1f, -1, 0, 9223372036854775807"),
        vec![Expr::Int(31), Expr::Int(-1), Expr::Int(0), Expr::Int(i64::MAX)]
    );
    assert_eq!(args("\"reno\", \"a\" \"b\""), vec![Expr::Str("reno".into()), Expr::Str("ab".into())]);
    assert_eq!(args("\"\\x01\\\"\""), vec![Expr::Str("\\x01\\\"".into())]);
    assert_eq!(
        args("O_RDWR|O_NONBLOCK|0x4"),
        vec![Expr::BitOr(vec![word("O_RDWR"), word("O_NONBLOCK"), Expr::Int(4)])]
    );
    assert_eq!(
        args("[], [1], [0xffffffff]"),
        vec![Expr::List(vec![]), Expr::List(vec![Expr::Int(1)]), Expr::List(vec![Expr::Int(0xffff_ffff)])]
    );
    assert_eq!(
        args("{l_onoff=1, l_linger=0}"),
        vec![Expr::Struct(vec![(Some("l_onoff".into()), Expr::Int(1)), (Some("l_linger".into()), Expr::Int(0))])]
    );
    assert_eq!(args("{..., 1000}"), vec![Expr::Struct(vec![(None, Expr::Ellipsis), (None, Expr::Int(1000))])]);
    assert_eq!(args("{}"), vec![Expr::Struct(vec![])]);
    assert_eq!(
        args("[{fd=4, events=POLLIN|POLLOUT, revents=POLLIN}]"),
        vec![Expr::List(vec![Expr::Struct(vec![
            (Some("fd".into()), Expr::Int(4)),
            (Some("events".into()), Expr::BitOr(vec![word("POLLIN"), word("POLLOUT")])),
            (Some("revents".into()), word("POLLIN")),
        ])])]
    );
    assert_eq!(
        args("{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.0.2.1\")}"),
        vec![Expr::Struct(vec![
            (Some("sa_family".into()), word("AF_INET")),
            (Some("sin_port".into()), Expr::Call("htons".into(), vec![Expr::Int(8080)])),
            (Some("sin_addr".into()), Expr::Call("inet_addr".into(), vec![Expr::Str("192.0.2.1".into())])),
        ])]
    );
}

#[test]
fn epoll_poll_and_msghdr_structs_across_lines() {
    let s = syscall("+0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLOUT|EPOLLIN|EPOLLET, fd=4}) = 0");
    assert_eq!(
        s.args[3],
        Expr::Struct(vec![
            (Some("events".into()), Expr::BitOr(vec![word("EPOLLOUT"), word("EPOLLIN"), word("EPOLLET")])),
            (Some("fd".into()), Expr::Int(4)),
        ])
    );
    let e = event("\n +.01...0.020 poll([{fd=4,\n   events=POLLIN|POLLERR,\n   revents=POLLOUT}], 1, 100) = 1\n");
    assert_eq!(e.line, 2);
    let s = syscall("+0 recvmsg(4, {msg_name(...)=...,\n msg_iov(1)=[{..., 2000}],\n msg_flags=0}, 0) = 2000");
    assert_eq!(
        s.args[1],
        Expr::Struct(vec![
            (Some("msg_name(...)".into()), Expr::Ellipsis),
            (
                Some("msg_iov(1)".into()),
                Expr::List(vec![Expr::Struct(vec![(None, Expr::Ellipsis), (None, Expr::Int(2000))])])
            ),
            (Some("msg_flags".into()), Expr::Int(0)),
        ])
    );
}

#[test]
fn bad_system_calls() {
    error("+0 close 3 = 0", 1, "`(` after `close`");
    error("+0 close(3) 0", 1, "`=` after `close(…)`");
    error("+0 close(3,) = 0", 1, "expected an expression");
    error("+0 close(3\n = 0", 2, "`,` or `)`");
    error("+0 f([1, 2) = 0", 1, "`,` or `]`");
    error("+0 f({a=1 b=2}) = 0", 1, "`,` or `}`");
    error("+0 f(a=1) = 0", 1, "inside `{ }`");
    error("+0 f(1.5) = 0", 1, "expected an expression");
    error("+0 f(\"abc\"...) = 0", 1, "unsupported: a string prefix");
    error("+0 close(3) =", 1, "expected an expression");
    error("+0 close(3) = 0 EAGAIN (x) extra", 1, "expected an event time");
}

#[test]
fn nesting_is_bounded() {
    let deep = |n: usize| format!("+0 f({}1{}) = 0", "[".repeat(n), "]".repeat(n));
    assert!(parse(&deep(MAX_DEPTH - 1)).is_ok());
    error(&deep(MAX_DEPTH), 1, "nested more than 32 deep");
    error(&deep(100_000), 1, "nested more than 32 deep");
    let calls = format!("+0 f({}0{}) = 0", "g(".repeat(1000), ")".repeat(1000));
    error(&calls, 1, "nested");
    let structs = format!("+0 f({}0{}) = 0", "{a=".repeat(1000), "}".repeat(1000));
    error(&structs, 1, "nested");
}

// --- Lexical errors and garbage -----------------------------------

#[test]
fn unterminated_tokens_and_garbage() {
    error("0 close(3) = 0\n/* open\n\n", 2, "unterminated comment");
    error("0 f(\"open) = 0\n", 1, "unterminated string");
    error("0 close(3) = 0\n+0 `open\n", 2, "unterminated command");
    error("+0 @@@", 1, "expected a packet");
    error("hello world", 1, "expected an event time");
    error("0 close(3) = 0\n+0 < S 0:0(0) garbage\n", 2, "found `garbage`");
    error("0 close(3) = 0\n\n\u{e9}", 3, "found `\u{e9}`");
    error("+0 f(99999999999999999999) = 0", 1, "integer out of range");
    error("+0 f(0xfffffffffffffffff) = 0", 1, "integer out of range");
}

#[test]
fn long_inputs_parse_in_linear_time() {
    let started = std::time::Instant::now();
    for text in [
        "1:".repeat(100_000),
        "1.".repeat(100_000),
        "a".repeat(200_000),
        "+0 f(".to_string() + &"1, ".repeat(100_000),
        "+0 < S 0:0(0) <".to_string() + &"nop,".repeat(50_000),
        "/*".repeat(100_000),
        "+0 read(4, ..., 1) = -1 E (".to_string() + &"x ".repeat(100_000),
        "0 close(3) = 0\n".repeat(20_000),
    ] {
        let _ = parse(&text);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}

// --- A whole script -----------------------------------------------

#[test]
fn a_realistic_script() {
    let text = "\
// A passive open, a write, a FIN from the peer.
--tolerance_usecs=10000

`../defaults.sh`

0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0    setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0    bind(3, ..., ...) = 0
+0    listen(3, 1) = 0

+0    < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0    > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 7>
+.1   < . 1:1(0) ack 1 win 257
+0    accept(3, ..., ...) = 4

+0    write(4, ..., 1000) = 1000
+0    > P. 1:1001(1000) ack 1
+.3~+.31 > P. 1:1001(1000) ack 1   // the retransmission
+.1   < F. 1:1(0) ack 1001 win 257
+0    > . 1001:1001(0) ack 2
+0    read(4, ..., 100) = 0
+0    %{ assert tcpi_state == 8 }%
";
    let s = script(text);
    assert_eq!(s.options, vec![ScriptOption { line: 2, name: "tolerance_usecs".into(), value: Some("10000".into()) }]);
    let seg = |direction, f: &str, seq, len, ack, win, options| {
        Action::Packet(PacketSpec {
            direction,
            body: PacketBody::Tcp(TcpSpec { flags: flags(f), seq, len, ack, win, urg: None, options }),
        })
    };
    let call = |name: &str, args: Vec<Expr>, result| {
        Action::Syscall(SyscallSpec {
            end: None,
            name: name.into(),
            args,
            result: Expr::Int(result),
            errno: None,
            note: None,
        })
    };
    use Direction::*;
    use EventTime::*;
    use TcpOptionSpec::*;
    let opts = |v: Vec<TcpOptionSpec>| TcpOptionsSpec::List(v);
    let expected = vec![
        (4, Absolute(0), Action::Command("../defaults.sh".into())),
        (6, Absolute(0), call("socket", vec![Expr::Ellipsis, word("SOCK_STREAM"), word("IPPROTO_TCP")], 3)),
        (
            7,
            Relative(0),
            call(
                "setsockopt",
                vec![
                    Expr::Int(3),
                    word("SOL_SOCKET"),
                    word("SO_REUSEADDR"),
                    Expr::List(vec![Expr::Int(1)]),
                    Expr::Int(4),
                ],
                0,
            ),
        ),
        (8, Relative(0), call("bind", vec![Expr::Int(3), Expr::Ellipsis, Expr::Ellipsis], 0)),
        (9, Relative(0), call("listen", vec![Expr::Int(3), Expr::Int(1)], 0)),
        (
            11,
            Relative(0),
            seg(Inbound, "S", 0, 0, None, Some(32792), opts(vec![Mss(1000), SackOk, Nop, Nop, Nop, WScale(7)])),
        ),
        (
            12,
            Relative(0),
            seg(Outbound, "S.", 0, 0, Some(1), None, opts(vec![Mss(1460), Nop, Nop, SackOk, Nop, WScale(7)])),
        ),
        (13, Relative(100_000), seg(Inbound, ".", 1, 0, Some(1), Some(257), TcpOptionsSpec::Absent)),
        (14, Relative(0), call("accept", vec![Expr::Int(3), Expr::Ellipsis, Expr::Ellipsis], 4)),
        (16, Relative(0), call("write", vec![Expr::Int(4), Expr::Ellipsis, Expr::Int(1000)], 1000)),
        (17, Relative(0), seg(Outbound, "P.", 1, 1000, Some(1), None, TcpOptionsSpec::Absent)),
        (18, RelativeRange(300_000, 310_000), seg(Outbound, "P.", 1, 1000, Some(1), None, TcpOptionsSpec::Absent)),
        (19, Relative(100_000), seg(Inbound, "F.", 1, 0, Some(1001), Some(257), TcpOptionsSpec::Absent)),
        (20, Relative(0), seg(Outbound, ".", 1001, 0, Some(2), None, TcpOptionsSpec::Absent)),
        (21, Relative(0), call("read", vec![Expr::Int(4), Expr::Ellipsis, Expr::Int(100)], 0)),
        (22, Relative(0), Action::Code("assert tcpi_state == 8".into())),
    ];
    let got: Vec<(usize, EventTime, Action)> = s.events.into_iter().map(|e| (e.line, e.time, e.action)).collect();
    assert_eq!(got, expected);
}

// --- Never a panic -------------------------------------------------

/// A small xorshift generator: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEED_SCRIPT: &str = "--tolerance_usecs=10000\n`../defaults.sh`\n\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0\n\
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 1 ecr 0,nop,wscale 7>\n\
+0 > S. 0:0(0) ack 1 <...>\n\
+.1 < . 1:1(0) ack 1 win 257 <sack 1:2 3:4,nop,nop>\n\
+0...0.2 poll([{fd=4, events=POLLIN, revents=POLLIN}], 1, 100) = 1\n\
* > P. 1:1001(1000) ack 1\n\
0.1~0.2 > F. 1001:1001(0) ack 1\n\
+0 read(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n\
+0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]\n\
+0 < udp (100)\n\
/* a\ncomment */ +0 %{ x = 1 }%\n\
`cleanup`\n";

/// Pieces a mutation splices in: the grammar's own tokens, so mutants
/// get past the lexer and deep into the parser.
const PIECES: &[&str] = &[
    "<",
    ">",
    "...",
    "+",
    "*",
    "~",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    ",",
    "=",
    "|",
    ":",
    ".",
    "-",
    "%{",
    "}%",
    "/*",
    "*/",
    "//",
    "\"",
    "`",
    "\n",
    " ",
    "0",
    "-1",
    "0x",
    "1.5",
    ".1",
    "4294967296",
    "S",
    "ack",
    "win",
    "<...>",
    "sack",
    "TS val",
    "icmp",
    "udp",
    "ipv4",
    "[ect0]",
    "--x=",
    "fd00::1",
    "10.0.0.1",
    "\u{e9}",
    "\0",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 => {
                if at < bytes.len() {
                    bytes[at] = rng.next() as u8;
                }
            }
            1 => {
                let end = (at + rng.below(16)).min(bytes.len());
                bytes.drain(at..end);
            }
            2 => {
                let piece = PIECES[rng.below(PIECES.len())];
                bytes.splice(at..at, piece.bytes());
            }
            3 => {
                let from = rng.below(bytes.len());
                let end = (from + rng.below(40)).min(bytes.len());
                let copy = bytes[from..end].to_vec();
                bytes.splice(at..at, copy);
            }
            4 => bytes.truncate(at),
            _ => {
                let piece = PIECES[rng.below(PIECES.len())].repeat(1 + rng.below(64));
                bytes.splice(at..at, piece.bytes());
            }
        }
    }
    bytes
}

#[test]
fn mangled_scripts_give_errors_not_panics() {
    assert!(parse(SEED_SCRIPT).is_ok(), "{:?}", parse(SEED_SCRIPT));
    let mut rng = Rng(0x5eed_d411);
    let mut errors = 0;
    for round in 0..4000 {
        let bytes = if round % 4 == 3 {
            (0..rng.below(200)).map(|_| rng.next() as u8).collect()
        } else {
            mutate(&mut rng, SEED_SCRIPT.as_bytes())
        };
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = parse(&text) {
            errors += 1;
            let lines = text.lines().count().max(1);
            assert!(e.line >= 1 && e.line <= lines + 1, "line {} of {lines} for {text:?}: {e}", e.line);
            assert!(!e.message.is_empty());
        }
    }
    // The mutations must bite: most mutants are errors, some still parse.
    assert!(errors > 2000 && errors < 4000, "{errors} errors");
}
