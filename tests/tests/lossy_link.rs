//! A real peer over a bad link: `synack connect --link SPEC` (the seeded
//! random-fault middleware of device/src/link.rs, on both directions of the
//! TAP) to the host's `nc -l`, data both ways at once.
//!
//! 1. `lossy_link_both_ways`: `loss 10%, reorder 25%, dup 5%, delay
//!    20ms±10ms, seed 7`; `SYNACK_LOSSY_MB` MB each way (default 2 for CI;
//!    100 for the issue's full run: `SYNACK_LOSSY_MB=100 cargo test
//!    --release -p synack-tests --test lossy_link -- --nocapture lossy`);
//!    `SYNACK_LOSSY_HOST_CC=cubic` makes the host's side use that
//!    congestion control (its default here is bbr, which a namespace
//!    cannot change; synack runs cubic);
//!    SHA-256 equal each way, progress sampled every second (the longest
//!    gap is reported; both RTOs are capped at 5 s, and at 10 % loss a
//!    retransmission can be lost more than once, so gaps of a few seconds
//!    happen: a stall is 20 s without a byte), both ends exit 0.
//! 2. `a_30s_blackout_mid_transfer_resumes`: a mild link with `blackout
//!    3s+30s`; the transfer resumes when the link comes back (synack's RTO
//!    capped with `--rto-max 5s`), both sides complete, SHA-256 equal.
//! 3. `a_blackout_past_the_retry_limit_reports_etimedout`: the link dies
//!    for good while synack sends; after its retries (`--rto-max 1s`)
//!    `synack connect` reports `Connection timed out` and exits 1.
//! 4. `keepalive_detects_a_vanished_peer`: an idle connection with
//!    `--keepalive 2s,1s,3`; the host's side of the TAP is set down (the
//!    peer vanishes); synack's unanswered probes end it with ETIMEDOUT,
//!    which `synack connect` prints.
//! 5. `a_lossy_transfer_reads_clean_in_tshark`: 256 KB each way through
//!    the link of (1), captured with `--pcap`; tshark finds no malformed
//!    frame, no bad checksum, no expert error, and only the notes and
//!    warnings that loss, reordering and duplication explain.
//!
//! Times and link figures are printed (`--nocapture`).

use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};
use synack_tests::{interop_allowed, pseudo_random, require_tool, run_bounded, synack_bin, Netns, Synack};

const T: Duration = Duration::from_secs(20);

fn report(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// A temporary directory, removed on Drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("synack-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sha256_file(p: &Path) -> String {
    let data = std::fs::read(p).unwrap_or_default();
    Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect()
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// A namespace in which the host may bind 10.0.0.1 before synack's TAP
/// gives it that address; IPv6 off.
/// A namespace for one transfer; the host's RTO ceiling is `rto_max_ms`.
fn connect_ns(rto_max_ms: u32) -> Netns {
    require_tool("nc");
    let ns = synack_tests::connect_ns();
    // The host's RTO ceiling, 5 s like synack's `--rto-max 5s` (Linux 6.15+
    // has it per namespace; an older kernel keeps its 120 s). Before synack
    // had timestamps, every ACK after a timeout covered retransmitted data
    // and gave no RTT sample (Karn), and at 10 % loss both sides' backoff
    // ratcheted up to the ceiling; RTTM (RFC 7323 §4) now ends a backoff
    // at the first echo, and the ceiling is kept as a second guard.
    let _ = ns.exec("sysctl", &["-qw", &format!("net.ipv4.tcp_rto_max_ms={rto_max_ms}")], T);
    ns
}

/// Poll (bounded) until `ss -tln` in `ns` shows `what`.
fn wait_listening(ns: &Netns, what: &str) {
    let deadline = Instant::now() + T;
    while Instant::now() < deadline {
        if ns.exec("ss", &["-tln"], T).stdout.contains(what) {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on {what}");
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display())
}

/// What `Transfer::watch` saw: when each direction completed (synack to
/// the host, the host to synack), the longest time either went without
/// progress while incomplete (in whole seconds: samples without progress),
/// and the samples (host got, synack got).
struct Watched {
    up: Option<Duration>,
    down: Option<Duration>,
    worst: Duration,
    samples: Vec<(u64, u64)>,
}

/// One transfer: the host's `nc -N -l` sends `to_synack` and keeps what it
/// gets; `synack connect ARGS` sends `to_host` and keeps what it gets.
struct Transfer {
    dir: TempDir,
    host: Synack,
    synack: Synack,
    len: u64,
    t0: Instant,
}

impl Transfer {
    /// With `hold_fin`, synack's standard input stays open (so its FIN
    /// waits) until it has received all of the host's bytes: netcat-openbsd
    /// stops sending what is left of its input when it reads the peer's FIN
    /// (`nc -l` reads EOF and exits), so whichever direction ends first,
    /// the host's must end first. Bounded: an hour at most.
    fn start(ns: &Netns, tag: &str, len: usize, port: u16, synack_args: &[&str], hold_fin: bool) -> Transfer {
        let dir = TempDir::new(tag);
        std::fs::write(dir.path("to_synack"), pseudo_random(len, 0x1234_5678)).expect("write data");
        std::fs::write(dir.path("to_host"), pseudo_random(len, 0x8765_4321)).expect("write data");
        let host_cmd = match host_cc() {
            // The host's default algorithm (a namespace inherits it and may
            // not change it: bbr on the machine these figures come from).
            None => format!(
                "exec nc -N -l 10.0.0.1 {port} < {} > {}",
                quote(&dir.path("to_synack")),
                quote(&dir.path("host_got"))
            ),
            // `nc` with TCP_CONGESTION set on its socket (Python's socket module).
            Some(cc) => {
                std::fs::write(dir.path("host.py"), HOST_PY).expect("write host.py");
                format!(
                    "exec python3 {} {port} {cc} {} {}",
                    quote(&dir.path("host.py")),
                    quote(&dir.path("to_synack")),
                    quote(&dir.path("host_got"))
                )
            }
        };
        let host = Synack::spawn_command(ns.command("sh", &["-c", &host_cmd]));
        wait_listening(ns, &format!("10.0.0.1:{port}"));
        let args = synack_args.join(" ");
        let (to_host, got) = (quote(&dir.path("to_host")), quote(&dir.path("synack_got")));
        let synack = format!("{} connect 10.0.0.1 {port} {args}", synack_bin().display());
        let synack_cmd = if hold_fin {
            format!(
                "{{ cat {to_host}; i=0; while [ $(stat -c %s {got}) -lt {len} ] && [ $i -lt 36000 ]; do \
                 sleep 0.1; i=$((i+1)); done; }} | {synack} > {got}"
            )
        } else {
            format!("exec {synack} < {to_host} > {got}")
        };
        let t0 = Instant::now();
        let synack = Synack::spawn_command(ns.command("sh", &["-c", &synack_cmd]));
        Transfer { dir, host, synack, len: len as u64, t0 }
    }

    fn got(&self) -> (u64, u64) {
        (size(&self.dir.path("host_got")), size(&self.dir.path("synack_got")))
    }

    /// Sample the two received sizes every second until both are complete
    /// and both processes have exited, at most `timeout`.
    fn watch(&mut self, timeout: Duration) -> Watched {
        let mut samples = Vec::new();
        let (mut done_up, mut done_down) = (None, None);
        let mut last = (0u64, 0u64);
        // Seconds without progress, counted in samples: a stall of three
        // one-second samples is 3 s, whatever each `sleep` overshot by
        // (measured with `Instant`, three sleeps of 1 s come to 3.0005 s).
        let mut stalled = [0u64; 2];
        let mut worst = Duration::ZERO;
        while self.t0.elapsed() < timeout {
            thread::sleep(Duration::from_secs(1));
            let now = self.got();
            samples.push(now);
            for (i, (&n, &l)) in [now.0, now.1].iter().zip(&[last.0, last.1]).enumerate() {
                if n >= self.len || n > l {
                    stalled[i] = 0;
                } else {
                    stalled[i] += 1;
                    worst = worst.max(Duration::from_secs(stalled[i]));
                }
            }
            if now.0 >= self.len && done_up.is_none() {
                done_up = Some(self.t0.elapsed());
            }
            if now.1 >= self.len && done_down.is_none() {
                done_down = Some(self.t0.elapsed());
            }
            last = now;
            if self.host.exited() && self.synack.exited() {
                break;
            }
        }
        Watched { up: done_up, down: done_down, worst, samples }
    }

    /// Both exited with status 0 (bounded), and each side got exactly what
    /// the other sent.
    fn assert_clean(&mut self, what: &str) {
        let (hs, _) = self.host.wait_exit(Duration::from_secs(10));
        let (ss, _) = self.synack.wait_exit(Duration::from_secs(10));
        let ctx = format!("--- synack:\n{}\n--- host nc:\n{}", self.synack.output(), self.host.output());
        assert!(ss.is_some_and(|s| s.success()), "{what}: synack connect: {ss:?}\n{ctx}");
        assert!(hs.is_some_and(|s| s.success()), "{what}: host nc: {hs:?}\n{ctx}");
        for (got, sent) in [("host_got", "to_host"), ("synack_got", "to_synack")] {
            let (g, s) = (self.dir.path(got), self.dir.path(sent));
            assert_eq!(size(&g), size(&s), "{what}: {got} has {} of {} bytes\n{ctx}", size(&g), size(&s));
            assert_eq!(sha256_file(&g), sha256_file(&s), "{what}: {got}: SHA-256 differs\n{ctx}");
        }
    }
}

/// `SYNACK_LOSSY_HOST_CC=cubic`: the host's side sets this congestion
/// control on its socket (else it runs the namespace's default, which on
/// this machine is bbr: Linux's rate to synack is then BBR's, not CUBIC's).
fn host_cc() -> Option<String> {
    std::env::var("SYNACK_LOSSY_HOST_CC").ok().filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// `nc -N -l` with a congestion control: listen, send the file and shut
/// the sending side, keep what arrives until EOF.
const HOST_PY: &str = r#"import socket, sys, threading
port, cc, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
s.bind(("10.0.0.1", port))
s.listen(1)
c, _ = s.accept()
def rx():
    with open(dst, "wb") as f:
        while True:
            b = c.recv(65536)
            if not b:
                break
            f.write(b)
            f.flush()
t = threading.Thread(target=rx)
t.start()
with open(src, "rb") as f:
    c.sendall(f.read())
c.shutdown(socket.SHUT_WR)
t.join()
c.close()
"#;

fn kb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1024.0 / d.as_secs_f64().max(1e-9)
}

#[test]
fn lossy_link_both_ways() {
    if !interop_allowed("lossy_link_both_ways") {
        return;
    }
    let mb: usize = std::env::var("SYNACK_LOSSY_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let len = mb * 1024 * 1024;
    // About 115 kB/s synack -> host, 250 kB/s the other way (synack's
    // sending is the slower way); give it 25 s a megabyte.
    let timeout = Duration::from_secs(120 + 25 * mb as u64);
    // Both RTO ceilings at 1 s (Linux's lowest `tcp_rto_max_ms`): a lost
    // retransmission then costs a second, not five, and the transfer makes
    // progress every few seconds at worst, as the issue asks.
    let ns = connect_ns(1000);
    let spec = "loss 10%, reorder 25%, dup 5%, delay 20ms±10ms, seed 7";
    let mut tr = Transfer::start(&ns, "lossy", len, 5555, &["--rto-max", "1s", "--link", &format!("\"{spec}\"")], true);
    let Watched { up, down, worst, samples } = tr.watch(timeout);
    let total = tr.t0.elapsed();
    report(&format!(
        "lossy link ({spec}): {mb} MB each way; synack->host done in {}, host->synack in {}, \
         all closed in {:.1} s; longest time without progress {:.1} s",
        up.map_or("-".into(), |d| format!("{:.1} s ({:.0} kB/s)", d.as_secs_f64(), kb_per_s(tr.len, d))),
        down.map_or("-".into(), |d| format!("{:.1} s ({:.0} kB/s)", d.as_secs_f64(), kb_per_s(tr.len, d))),
        total.as_secs_f64(),
        worst.as_secs_f64()
    ));
    assert!(up.is_some() && down.is_some(), "incomplete after {timeout:?}: {:?}", samples.last());
    tr.assert_clean("lossy link");
    // Floors at about half the rates measured with RACK-TLP and PRR
    // (4 MB each way, this machine, Linux 6.18 as the host): synack sending
    // 114-124 kB/s; Linux sending to synack 227-256 kB/s with its default
    // bbr, 64 kB/s with cubic (SYNACK_LOSSY_HOST_CC=cubic: no floor then).
    let (up_rate, down_rate) = (kb_per_s(tr.len, up.unwrap_or(timeout)), kb_per_s(tr.len, down.unwrap_or(timeout)));
    assert!(up_rate >= 55.0, "synack -> host {up_rate:.0} kB/s, under the floor of 55");
    if host_cc().is_none() {
        assert!(down_rate >= 120.0, "host -> synack {down_rate:.0} kB/s, under the floor of 120");
    }
    // "No stall (progress every second)": sampled each second, both
    // directions; a few seconds of slack for a retransmission lost twice.
    assert!(worst <= Duration::from_secs(3), "stalled {worst:?}: samples {samples:?}");
    let link = tr.synack.lines().into_iter().find(|l| l.contains("link: ")).unwrap_or_default();
    assert!(link.contains("loss 10%"), "synack did not report its link: {}", tr.synack.output());
}

/// What tshark's experts may say about a capture of a lossy transfer: the
/// loss, reordering and duplication are the point of it (a summary ending
/// in `(#` stands for all its numbers: `Duplicate ACK (#1)`, `(#2)`, …).
/// Anything else, and any error, fails; how many of each depends on the
/// run.
const LOSSY_EXPERT: &[&str] = &[
    // Lost segments sent again, by RTO, fast retransmit, or needlessly
    // (the original was only late: reordering); D-SACK says so.
    "Note: This frame is a (suspected) retransmission",
    "Note: This frame is a (suspected) fast retransmission",
    "Note: This frame is a (suspected) spurious retransmission",
    "Warning: D-SACK Sequence",
    // Reordering and loss on synack's side of the link: holes, late
    // segments, the duplicate ACKs they draw.
    "Warning: This frame is a (suspected) out-of-order segment",
    "Warning: Previous segment(s) not captured (common at capture start)",
    "Warning: ACKed segment that wasn't captured (common at capture start)",
    "Note: Duplicate ACK (#",
    // Data up to the window's edge while a hole waits to be filled.
    "Warning: TCP window specified by the receiver is now completely full",
    // The end: both FINs.
    "Note: This frame initiates the connection closing",
    "Note: This frame undergoes the connection closing",
];

fn lossy_expert(summary: &str) -> bool {
    LOSSY_EXPERT.iter().any(|&p| summary == p || (p.ends_with("(#") && summary.starts_with(p)))
}

/// A short transfer through the lossy link, captured on synack's side of
/// it (`--pcap`: the wire as synack sends and receives it), read by tshark:
/// no malformed frame, no bad checksum, no expert error, and only the notes
/// and warnings of `LOSSY_EXPERT`, retransmissions among them.
#[test]
fn a_lossy_transfer_reads_clean_in_tshark() {
    if !interop_allowed("a_lossy_transfer_reads_clean_in_tshark") {
        return;
    }
    require_tool("tshark");
    let ns = connect_ns(1000);
    let cap = TempDir::new("lossy-capture");
    let pcap = cap.path("capture.pcap");
    let spec = "loss 10%, reorder 25%, dup 5%, delay 20ms±10ms, seed 7";
    let pcap_arg = quote(&pcap);
    let args = ["--rto-max", "1s", "--pcap", &pcap_arg, "--link", &format!("\"{spec}\"")];
    let mut tr = Transfer::start(&ns, "lossy-tshark", 256 * 1024, 5559, &args, true);
    let w = tr.watch(Duration::from_secs(120));
    assert!(w.up.is_some() && w.down.is_some(), "incomplete: {:?}", w.samples.last());
    tr.assert_clean("lossy transfer for tshark");
    let r = synack_tests::tshark::report(&pcap);
    report(&format!("lossy transfer in tshark: {} frames, expert infos {:?}", r.frames, r.expert));
    let unexpected: Vec<&String> = r.expert.keys().filter(|k| !lossy_expert(k)).collect();
    assert!(unexpected.is_empty(), "tshark's experts say what a lossy transfer does not explain: {unexpected:?}");
    let seen: Vec<(&str, u64)> = r.expert.iter().map(|(k, &n)| (k.as_str(), n)).collect();
    r.assert_clean("the lossy transfer's capture", &seen);
    assert!(r.expert.contains_key(LOSSY_EXPERT[0]), "no retransmission in a lossy capture: {:?}", r.expert);
}

#[test]
fn a_30s_blackout_mid_transfer_resumes() {
    if !interop_allowed("a_30s_blackout_mid_transfer_resumes") {
        return;
    }
    // With SACK the host moves 1 to 3 MB/s through 3 % loss (more since
    // synack's receive buffer grows, tcp/rcvbuf.rs): 12 MB and a blackout
    // 2 s in leave most of both directions for after it.
    let len = 12 * 1024 * 1024;
    let ns = connect_ns(5000);
    let spec = "loss 3%, delay 20ms±5ms, blackout 2s+30s, seed 11";
    let mut tr =
        Transfer::start(&ns, "blackout", len, 5556, &["--rto-max", "5s", "--link", &format!("\"{spec}\"")], true);
    let Watched { up, down, worst, samples } = tr.watch(Duration::from_secs(150));
    // The blackout must have hit the transfer: neither direction was
    // complete when it began (the sample 2 s after the transfer started,
    // which is later than 2 s after the link did).
    let at2 = samples.get(1).copied().unwrap_or_default();
    report(&format!(
        "blackout 30 s: {} MB each way; at 2 s {:?} of {len}; synack->host done in {}, host->synack in {}; \
         longest time without progress {:.1} s",
        len >> 20,
        at2,
        up.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64())),
        down.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64())),
        worst.as_secs_f64()
    ));
    assert!(at2.0 < tr.len && at2.1 < tr.len, "the transfer was over before the blackout: {samples:?}");
    assert!(up.is_some() && down.is_some(), "no resume after the blackout: {samples:?}");
    assert!(worst >= Duration::from_secs(25), "the blackout did not stop the transfer? {samples:?}");
    tr.assert_clean("after a blackout");
}

#[test]
fn a_blackout_past_the_retry_limit_reports_etimedout() {
    if !interop_allowed("a_blackout_past_the_retry_limit_reports_etimedout") {
        return;
    }
    let ns = connect_ns(5000);
    let spec = "delay 5ms, blackout 2s+1000s, seed 5";
    let mut tr = Transfer::start(
        &ns,
        "etimedout",
        64 << 20,
        5557,
        &["--rto-max", "1s", "--link", &format!("\"{spec}\"")],
        false,
    );
    let (st, timed_out) = tr.synack.wait_exit(Duration::from_secs(90));
    let took = tr.t0.elapsed();
    let out = tr.synack.output();
    report(&format!(
        "retry limit: synack connect exited {st:?} after {:.1} s ({:?} received before the link died)",
        took.as_secs_f64(),
        tr.got()
    ));
    assert!(!timed_out, "synack connect never gave up:\n{out}");
    assert_eq!(st.and_then(|s| s.code()), Some(1), "{out}");
    assert!(out.contains("Connection timed out"), "no ETIMEDOUT report:\n{out}");
}

#[test]
fn keepalive_detects_a_vanished_peer() {
    if !interop_allowed("keepalive_detects_a_vanished_peer") {
        return;
    }
    let ns = connect_ns(5000);
    let host = Synack::spawn_command(ns.command("nc", &["-l", "10.0.0.1", "5558"]));
    wait_listening(&ns, "10.0.0.1:5558");
    // An idle connection: standard input a pipe that stays open.
    let mut synack =
        Synack::spawn_with_stdin(ns.command(synack_bin(), &["connect", "10.0.0.1", "5558", "--keepalive", "2s,1s,3"]));
    assert!(
        synack.wait_for(0, T, |l| l.contains("synack: connected to")).is_some(),
        "no connection:\n{}",
        synack.output()
    );
    synack.send_line("hello");
    let deadline = Instant::now() + T;
    while !host.output().contains("hello") && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(host.output().contains("hello"), "no data across:\n{}", host.output());
    // Idle 4 s: keepalives answered by the host's kernel, still connected.
    thread::sleep(Duration::from_secs(4));
    assert!(!synack.exited(), "keepalive killed a live connection:\n{}", synack.output());
    // The peer vanishes: the host's side of the TAP goes down.
    let t0 = Instant::now();
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns.name(), "ip", "link", "set", "tap0", "down"]);
    let down = run_bounded(c, T).expect("ip link set down");
    assert!(down.success(), "{}", down.text());
    let (st, timed_out) = synack.wait_exit(Duration::from_secs(30));
    let took = t0.elapsed();
    let out = synack.output();
    report(&format!(
        "keepalive 2s,1s,3: the vanished peer was detected {:.1} s after its link went down; exit {st:?}",
        took.as_secs_f64()
    ));
    assert!(!timed_out, "keepalive never gave up:\n{out}");
    assert!(out.contains("Connection timed out"), "no ETIMEDOUT report:\n{out}");
    assert_eq!(st.and_then(|s| s.code()), Some(1), "{out}");
    // Idle 2 s, then 3 probes 1 s apart: about 5 s; never before 3 s.
    assert!(took >= Duration::from_secs(3) && took <= Duration::from_secs(15), "detected after {took:?}");
}
