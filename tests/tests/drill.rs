//! `synack drill` itself: a script that is wrong must fail at its line with
//! packetdrill's kind of message, a script that is right must pass, and a
//! script synack drill cannot run must be skipped, never passed. (The suite
//! in tests/drill/ runs in tests/run.sh: `synack drill tests/drill`.)

use apps::drill::{run_text, Options, Status};
use std::path::Path;

/// A passive open with the options Linux and synack both send.
const OPEN: &str = "\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 7>
+.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
";

fn run(text: &str) -> Status {
    run_text(text, Path::new("."), &Options::default(), &mut Vec::new())
}

fn failure(text: &str) -> String {
    match run(text) {
        Status::Fail(m) => m,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
/// Checked against Linux 6.18 with packetdrill (with tests/drill/defaults.sh):
/// after a 100 ms handshake, TSO packets of 2 segments (`tcp_tso_autosize`).
fn a_right_script_passes() {
    let text =
        format!("{OPEN}+0 write(4, ..., 3000) = 3000\n+0 > P. 1:2001(2000) ack 1\n+0 > P. 2001:3001(1000) ack 1\n");
    assert_eq!(run(&text), Status::Ok);
}

#[test]
fn a_wrong_option_fails_at_its_line_with_both_packets() {
    let text = OPEN.replace("sackOK,nop,wscale 7>\n+.1", "sackOK,nop,wscale 6>\n+.1");
    let m = failure(&text);
    assert!(m.starts_with("6: bad outbound TCP option: expected: wscale 6 actual: wscale 7"), "{m}");
    assert!(m.contains("script packet:") && m.contains("actual packet:"), "{m}");
}

#[test]
fn a_wrong_sequence_number_names_the_field() {
    let text = format!("{OPEN}+0 write(4, ..., 1000) = 1000\n+0 > P. 2:1002(1000) ack 1\n");
    let m = failure(&text);
    assert!(m.starts_with("10: live packet field tcp_seq: expected: 2 (0x2) vs actual: 1 (0x1)"), "{m}");
}

#[test]
fn a_wrong_result_or_errno_fails_at_the_call() {
    let m = failure(&format!("{OPEN}+0 read(4, ..., 1000) = 1000\n"));
    assert!(m.starts_with("9: read blocked and nothing could release it"), "{m}");
    let m = failure(&format!("{OPEN}+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 read(4, ..., 1000) = 0\n"));
    assert_eq!(m, "10: Expected result 0 but got -1 with errno EAGAIN (Resource temporarily unavailable)");
}

#[test]
fn a_late_packet_is_a_timing_error() {
    // The SYN-ACK goes out at once, not 0.1 s later.
    let text = OPEN.replace("+0 > S.", "+.1 > S.");
    let m = failure(&text);
    assert!(
        m.starts_with("6: timing error: expected outbound packet at 0.100000 sec but happened at 0.000000 sec"),
        "{m}"
    );
}

#[test]
fn a_missing_packet_times_out() {
    let m = failure(&format!("{OPEN}+0 > P. 1:101(100) ack 1\n"));
    assert!(m.starts_with("9: timed out waiting for outbound packet"), "{m}");
}

#[test]
fn a_blocking_read_returns_when_the_data_comes() {
    let text = format!("{OPEN}+0...0.2 read(4, ..., 1000) = 100\n+.2 < P. 1:101(100) ack 1 win 257\n");
    assert_eq!(run(&text), Status::Ok);
    // Expected back at 0.1 s: it came at 0.2.
    let text = format!("{OPEN}+0...0.1 read(4, ..., 1000) = 100\n+.2 < P. 1:101(100) ack 1 win 257\n");
    let m = failure(&text);
    assert!(
        m.starts_with("9: timing error: expected system call return at 0.200000 sec but happened at 0.300000 sec"),
        "{m}"
    );
}

#[test]
fn a_parse_error_names_its_line() {
    let m = failure(&format!("{OPEN}+0 > P. 1:101(99) ack 1\n"));
    assert!(m.starts_with("9:"), "{m}");
}

#[test]
fn what_synack_drill_cannot_run_is_skipped_with_the_reason() {
    match run(&format!("`sysctl -q net.ipv4.tcp_ecn=1`\n{OPEN}")) {
        Status::Skip(reason) => assert!(reason.contains("tcp_ecn"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match run(&format!("{OPEN}+0 `echo hello`\n")) {
        Status::Skip(reason) => assert!(reason.contains("runs no shell"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match run(&format!("{OPEN}+0 %{{ print(tcpi_rto) }}%\n")) {
        Status::Skip(reason) => assert!(reason.starts_with("9:"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tcp_info_assertions_are_evaluated() {
    let ok = format!("{OPEN}+0 %{{ assert tcpi_state == TCP_ESTABLISHED\nassert tcpi_snd_cwnd == 10 }}%\n");
    assert_eq!(run(&ok), Status::Ok);
    let m = failure(&format!("{OPEN}+0 %{{ assert tcpi_snd_cwnd == 3 }}%\n"));
    assert_eq!(m, "9: assertion failed: tcpi_snd_cwnd == 3 (tcpi_snd_cwnd is 10, 3 is 3)");
}

#[test]
fn a_differs_note_that_no_longer_holds_is_a_failure() {
    let text = format!("// synack-differs: a reason\n{OPEN}");
    let m = failure(&text);
    assert!(m.contains("remove the note"), "{m}");
    let text = format!("// synack-differs: a reason\n{}", OPEN.replace("wscale 7>\n+.1", "wscale 6>\n+.1"));
    match run(&text) {
        Status::Differs { note, detail } => {
            assert_eq!(note, "a reason");
            assert!(detail.starts_with("7: bad outbound TCP option"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_run_is_a_pure_function_of_the_script() {
    let text =
        format!("{OPEN}+0 write(4, ..., 3000) = 3000\n+0 > P. 1:2001(2000) ack 1\n+0 > P. 2001:3001(1000) ack 1\n");
    let opts = Options { verbose: true, ..Options::default() };
    let once = |_| {
        let mut out = Vec::new();
        run_text(&text, Path::new("."), &opts, &mut out);
        out
    };
    assert_eq!(once(0), once(1));
}
