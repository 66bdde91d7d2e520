//! Step mode and the live ladder against the host's real TCP, each test in
//! a network namespace of its own:
//!
//! 1. `synack up --step`, keys on a pipe: the host's `nc` connects to echo;
//!    the SYN is shown with the listener `LISTEN` before, Enter processes
//!    it (`SYN_RECEIVED` after, with the RFC clause), `c` lets the rest
//!    through and `nc` gets its echo.
//! 2. `step on` typed over telnet: that session gets the step output and
//!    drives it with Enter, while its own connection is not stepped.
//! 3. `synack up --ladder FILE.svg`: after an `nc` session and SIGINT the
//!    SVG holds the connection.
//!
//! Run as root (`tests/run.sh`); without root each test prints a loud
//! SKIPPED message, except under `CI=true`, where that is a failure.

use std::time::Duration;
use synack_tests::{interop_allowed, require_tool, Netns, Synack};

const T: Duration = Duration::from_secs(20);

/// The host's `nc` sends `hello`, half-closes, and prints the echo.
fn nc_echo(ns: &Netns) -> Synack {
    require_tool("nc");
    Synack::spawn_command(ns.command("sh", &["-c", "printf 'hello\\n' | timeout 30 nc -N 10.0.0.2 7"]))
}

/// Index of the first line at or after `from` containing `needle`.
fn wait_contains(s: &Synack, from: usize, needle: &str) -> usize {
    s.wait_for(from, T, |l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} after line {from}:\n{}", s.output()))
}

#[test]
fn step_shows_the_syn_before_and_after_then_continues() {
    if !interop_allowed("step_shows_the_syn_before_and_after_then_continues") {
        return;
    }
    let ns = Netns::without_ipv6();
    let mut s = Synack::up_with_stdin(&ns, &["--step", "--quiet"]);
    wait_contains(&s, 0, "step mode on");
    let mut nc = nc_echo(&ns);

    // The SYN waits, shown against the listener.
    let at = wait_contains(&s, 0, "step 1  < IP 10.0.0.1.");
    let lines = s.lines();
    assert!(lines[at].contains("> 10.0.0.2.7: Flags [S],"), "{}", lines[at]);
    let before = wait_contains(&s, at, "before:");
    assert_eq!(s.lines()[before].trim(), "before: state LISTEN", "{}", s.output());
    std::thread::sleep(Duration::from_millis(300));
    assert!(!s.output().contains("after:"), "processed without a key:\n{}", s.output());
    assert!(nc.lines().iter().all(|l| !l.contains("hello")), "the echo came through a paused stack");

    // Enter: the stack processes it.
    s.send_line("");
    let ev = wait_contains(&s, at, "LISTEN -> SYN_RECEIVED");
    assert!(s.lines()[ev].contains("[RFC 9293 §3.10.7.2]"), "{}", s.lines()[ev]);
    let after = wait_contains(&s, at, "after:");
    assert_eq!(s.lines()[after].trim(), "after:  *state LISTEN->SYN_RECEIVED", "{}", s.output());
    // Its SYN-ACK is the next step, out.
    let step2 = wait_contains(&s, at, "step 2  > IP 10.0.0.2.7 > 10.0.0.1.");
    assert!(s.lines()[step2].contains("Flags [S.]"), "{}", s.lines()[step2]);

    // c: everything else goes through; nc gets its echo and exits.
    s.send_line("c");
    wait_contains(&s, step2, "continuing");
    assert!(nc.wait_for(0, T, |l| l == "hello").is_some(), "no echo:\n{}\n--- synack:\n{}", nc.output(), s.output());
    let (status, killed) = nc.wait_exit(T);
    assert!(status.is_some_and(|st| st.success()) && !killed, "nc: {status:?}\n{}", nc.output());
    // No more steps were shown after `c` (no breakpoint).
    assert!(!s.output().contains("step 3 "), "{}", s.output());
    assert!(s.stop().is_some(), "synack did not stop:\n{}", s.output());
}

#[test]
fn step_over_telnet_is_driven_by_that_session() {
    if !interop_allowed("step_over_telnet_is_driven_by_that_session") {
        return;
    }
    require_tool("telnet");
    let ns = Netns::without_ipv6();
    let s = Synack::up(&ns, &["--quiet"]);
    let mut telnet = Synack::spawn_with_stdin(ns.command("telnet", &["10.0.0.2"]));
    wait_contains(&telnet, 0, "Type help for commands");
    telnet.send_line("step on");
    wait_contains(&telnet, 0, "this session's own connection is not stepped");
    // The session still answers while stepping: its connection is exempt.
    telnet.send_line("b");
    wait_contains(&telnet, 0, "no breakpoints");

    let mut nc = nc_echo(&ns);
    let at = wait_contains(&telnet, 0, "step 1  < IP 10.0.0.1.");
    assert!(telnet.lines()[at].contains("> 10.0.0.2.7: Flags [S],"), "{}", telnet.output());
    wait_contains(&telnet, at, "before: state LISTEN");
    assert!(!s.output().contains("step 1"), "the console is not the controller:\n{}", s.output());
    telnet.send_line("");
    wait_contains(&telnet, at, "after:  *state LISTEN->SYN_RECEIVED");
    wait_contains(&telnet, at, "step 2  > IP 10.0.0.2.7");
    // Commands still work while a segment waits.
    telnet.send_line("ss");
    wait_contains(&telnet, at, "SYN_RECV");
    telnet.send_line("step off");
    wait_contains(&telnet, at, "step mode off: ");
    assert!(
        nc.wait_for(0, T, |l| l == "hello").is_some(),
        "no echo:\n{}\n--- telnet:\n{}",
        nc.output(),
        telnet.output()
    );
    assert!(nc.wait_exit(T).0.is_some_and(|st| st.success()), "{}", nc.output());
    telnet.send_line("quit");
    wait_contains(&telnet, at, "bye");
}

#[test]
fn ladder_of_a_live_run_is_drawn_at_exit() {
    if !interop_allowed("ladder_of_a_live_run_is_drawn_at_exit") {
        return;
    }
    let ns = Netns::without_ipv6();
    let dir = std::env::temp_dir().join(format!("synack-ladder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("live.svg");
    let _ = std::fs::remove_file(&svg);
    let svg_arg = svg.to_str().unwrap().to_string();
    let mut s = Synack::up(&ns, &["--quiet", "--ladder", &svg_arg]);
    let mut nc = nc_echo(&ns);
    assert!(nc.wait_for(0, T, |l| l == "hello").is_some(), "no echo:\n{}", nc.output());
    assert!(nc.wait_exit(T).0.is_some_and(|st| st.success()), "{}", nc.output());
    std::thread::sleep(Duration::from_millis(300)); // the last ACK of the close

    // SIGINT, as Ctrl-C: synack closes down and draws.
    // SAFETY: a signal to the process this test started, by its PID.
    unsafe {
        libc::kill(s.pid() as libc::pid_t, libc::SIGINT);
    }
    let (status, killed) = s.wait_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|st| st.success()) && !killed, "{status:?}\n{}", s.output());
    assert!(s.output().contains("ladder: 1 connection(s) drawn to"), "{}", s.output());
    let text = std::fs::read_to_string(&svg).unwrap_or_else(|e| panic!("{}: {e}\n{}", svg.display(), s.output()));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(text.starts_with("<svg "), "{text}");
    assert!(text.contains(">10.0.0.2:7</text>"), "the server's column:\n{text}");
    assert!(text.contains(">10.0.0.1:"), "the client's column:\n{text}");
    for label in ["[S] seq 0", "[S.] seq 0 ack 1", "[P.] seq 1 ack 1", "len 6", "[F.]"] {
        assert!(text.contains(label), "no {label:?} in the ladder:\n{text}");
    }
    assert!(text.contains("ESTABLISHED"), "{text}");
}
