//! Interop over TCP: the host's real Linux TCP and its real clients
//! (`telnet`, `nc` from netcat-openbsd, std's `TcpStream`) against synack's
//! services on a TAP device, each test in a network namespace it creates and
//! deletes (issue 3's list):
//!
//! 1. telnet to port 23: banner, prompt, `netstat` shows this very
//!    connection ESTABLISHED, `quit` closes cleanly;
//! 2. 50 MB into discard (port 9) with `nc -N`;
//! 3. 50 MB out of chargen (port 19), byte for byte the RFC 864 pattern;
//! 4. 5 MB of random bytes through echo (port 7), SHA-256 equal;
//! 5. `synack connect` to the host's `nc -l`: both directions exactly, and
//!    its end of stdin is a half-close (a host socket keeps sending after
//!    synack's FIN, and synack still reads it);
//! 6. a closed port answers with RST: `Connection refused` at once;
//! 7. 100 connections to echo open at once, each echoing its own message.
//!
//! Every test against `synack up` ends by checking that synack is still
//! running and answers `ping -c 1` (a `synack connect` must instead exit 0). Throughputs are printed (run with `--nocapture` to see
//! them), never asserted: speed lives in benchmarks.
//!
//! Run as root (`tests/run.sh`); without root every test here prints a loud
//! SKIPPED message, except under `CI=true`, where that is a failure.

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use synack_tests::{
    assert_alive, connect_ns, interop_allowed, pseudo_random, require_tool, synack_ns, tshark, Netns, StatsSnapshot,
};

const T: Duration = Duration::from_secs(20);
/// The bulk transfers (50 MB) must finish within this.
const BULK_TIMEOUT: Duration = Duration::from_secs(60);
const MB50: usize = 50 * 1024 * 1024;

// ------------------------------------------------------------- helpers

/// Counter and drop growth between two snapshots, for failure messages.
fn growth(before: &StatsSnapshot, after: &StatsSnapshot) -> String {
    let mut s = String::new();
    for (k, &v) in &after.counters {
        let d = v - before.counter(k);
        if d > 0 {
            s.push_str(&format!("  {k}: +{d}\n"));
        }
    }
    for (k, &v) in &after.drops {
        let d = v - before.dropped(k);
        if d > 0 {
            s.push_str(&format!("  drop {k}: +{d}\n"));
        }
    }
    s
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Where two byte strings first differ (for failure messages).
fn first_difference(a: &[u8], b: &[u8]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => {
            let lo = i.saturating_sub(16);
            let show = |v: &[u8]| String::from_utf8_lossy(&v[lo..(i + 16).min(v.len())]).into_owned();
            format!("first difference at byte {i}: got {:?}, want {:?}", show(a), show(b))
        }
        None if a.len() != b.len() => format!("same prefix, lengths differ: got {}, want {}", a.len(), b.len()),
        None => "equal".to_string(),
    }
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Straight to the stderr handle, so the figures show with `--nocapture`
/// and in the output of a failing test.
fn report(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// A TCP connection made from inside the namespace (the host's kernel TCP).
fn host_connect(ns: &Netns, to: &str, timeout: Duration) -> io::Result<TcpStream> {
    let to: SocketAddr = to.parse().expect("socket address");
    ns.run_in(move || TcpStream::connect_timeout(&to, timeout))
}

/// RFC 864 as `apps/src/services.rs::chargen_line` writes it: line k holds
/// the 72 printable characters (of 95, from ' ') starting at k mod 95, then
/// CR LF; the lines follow each other from k = 0. The first `len` bytes.
fn chargen_pattern(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 74);
    let mut k = 0usize;
    while v.len() < len {
        v.extend((0..72).map(|i| b' ' + ((k + i) % 95) as u8));
        v.extend_from_slice(b"\r\n");
        k = (k + 1) % 95;
    }
    v.truncate(len);
    v
}

/// Checks a chargen stream as it arrives, against [`chargen_pattern`]
/// (which repeats every 95 lines of 74 bytes).
struct ChargenCheck {
    period: Vec<u8>,
    n: usize,
    got: Sha256,
    want: Sha256,
    first_bad: Option<(usize, Vec<u8>, Vec<u8>)>,
}

impl ChargenCheck {
    fn new() -> ChargenCheck {
        ChargenCheck {
            period: chargen_pattern(95 * 74),
            n: 0,
            got: Sha256::new(),
            want: Sha256::new(),
            first_bad: None,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        let p = self.period.len();
        let want: Vec<u8> = (self.n..self.n + bytes.len()).map(|o| self.period[o % p]).collect();
        self.got.update(bytes);
        self.want.update(&want);
        if self.first_bad.is_none() {
            if let Some(i) = bytes.iter().zip(&want).position(|(a, b)| a != b) {
                let end = (i + 32).min(bytes.len());
                self.first_bad = Some((self.n + i, bytes[i..end].to_vec(), want[i..end].to_vec()));
            }
        }
        self.n += bytes.len();
    }

    /// SHA-256 (hex) of what came so far and of the pattern's bytes as far.
    fn sums(&self) -> (String, String) {
        let hex = |h: &Sha256| h.clone().finalize().iter().map(|b| format!("{b:02x}")).collect::<String>();
        (hex(&self.got), hex(&self.want))
    }

    fn mismatch(&self) -> String {
        match &self.first_bad {
            Some((at, got, want)) => format!(
                "first difference at byte {at} (line {}, column {}): got {:?}, want {:?}",
                at / 74,
                at % 74,
                String::from_utf8_lossy(got),
                String::from_utf8_lossy(want)
            ),
            None => "no difference".to_string(),
        }
    }
}

/// Removes a temporary directory on Drop.
struct RemoveDir(std::path::PathBuf);
impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes a process wrote, collected by a reader thread.
#[derive(Default)]
struct Collected {
    bytes: Vec<u8>,
    closed: bool,
}

type Shared = Arc<(Mutex<Collected>, Condvar)>;

fn collect(r: impl Read + Send + 'static) -> (Shared, JoinHandle<()>) {
    let shared: Shared = Arc::default();
    let s = shared.clone();
    let h = thread::spawn(move || {
        let mut r = r;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            };
            let (m, cv) = &*s;
            let mut g = m.lock().expect("collected");
            if n == 0 {
                g.closed = true;
                cv.notify_all();
                return;
            }
            g.bytes.extend_from_slice(&buf[..n]);
            cv.notify_all();
        }
    });
    (shared, h)
}

/// Wait (bounded) until `pred` holds for what was collected, or the stream
/// closed; returns whether `pred` held.
fn wait_collected(s: &Shared, timeout: Duration, pred: impl Fn(&Collected) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let (m, cv) = &**s;
    let mut g = m.lock().expect("collected");
    loop {
        if pred(&g) {
            return true;
        }
        let now = Instant::now();
        if g.closed || now >= deadline {
            return false;
        }
        g = cv.wait_timeout(g, deadline - now).expect("collected").0;
    }
}

fn snapshot(s: &Shared) -> (Vec<u8>, bool) {
    let g = s.0.lock().expect("collected");
    (g.bytes.clone(), g.closed)
}

/// A process (started through `ip netns exec`, which execs it: the PID is
/// its own) with piped stdin, stdout and stderr; killed by PID on Drop.
struct Piped {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Shared,
    err: Shared,
    readers: Vec<JoinHandle<()>>,
}

impl Piped {
    fn spawn(mut cmd: Command) -> Piped {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let stdin = child.stdin.take();
        let (out, h1) = collect(child.stdout.take().expect("piped"));
        let (err, h2) = collect(child.stderr.take().expect("piped"));
        Piped { child, stdin, out, err, readers: vec![h1, h2] }
    }

    fn write(&mut self, data: &[u8]) {
        let w = self.stdin.as_mut().expect("stdin still open");
        w.write_all(data).and_then(|()| w.flush()).unwrap_or_else(|e| panic!("write to stdin: {e}"));
    }

    /// Close stdin (the process reads end of file).
    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn out_text(&self) -> String {
        String::from_utf8_lossy(&snapshot(&self.out).0).into_owned()
    }

    fn text(&self) -> String {
        let err = String::from_utf8_lossy(&snapshot(&self.err).0).into_owned();
        format!("--- stdout\n{}\n--- stderr\n{err}", self.out_text())
    }

    /// Wait for the process to exit, at most `timeout`; None if it did not.
    fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => return Some(s),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => return None,
            }
        }
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        self.stdin = None;
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill(); // SIGKILL to this child's PID
        }
        let _ = self.child.wait();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

/// Poll (bounded) until `ss -tn…` inside `ns` shows a line with all `words`.
fn ss_until(ns: &Netns, args: &[&str], words: &[&str], timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let out = ns.exec("ss", args, T);
        if let Some(l) = out.stdout.lines().find(|l| words.iter().all(|w| l.contains(w))) {
            return Some(l.to_string());
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// --------------------------------------------------------------- tests

#[test]
fn telnet_runs_netstat_and_quits() {
    if !interop_allowed("telnet_runs_netstat_and_quits") {
        return;
    }
    require_tool("telnet");
    require_tool("ss");
    require_tool("tshark");
    // The session's frames go to a capture that tshark reads at the end.
    let pcap = std::env::temp_dir().join(format!("synack-telnet-{}.pcap", std::process::id()));
    let _remove = RemoveFile(pcap.clone());
    let (ns, mut s) = synack_ns(&["--pcap", pcap.to_str().expect("utf-8 path")]);
    let before = s.stats();
    let t0 = Instant::now();
    let mut telnet = Piped::spawn(ns.command("telnet", &["10.0.0.2"]));

    // The banner, then the prompt.
    let prompt_seen = wait_collected(&telnet.out, T, |c| c.bytes.windows(8).any(|w| w == b"synack> "));
    assert!(prompt_seen, "no prompt from synack's telnetd:\n{}\n--- synack:\n{}", telnet.text(), s.output());
    let banner = telnet.out_text();
    assert!(banner.contains("Connected to 10.0.0.2."), "{banner}");
    assert!(banner.contains("the prompt of a userspace TCP/IP stack"), "no banner:\n{banner}");
    assert!(banner.contains("Type help for commands, quit to leave."), "{banner}");
    assert_eq!(banner.matches("synack> ").count(), 1, "{banner}");

    // The client's port, from the host's side of the connection.
    let ss_line = ss_until(&ns, &["-tn", "state", "established"], &["10.0.0.2:23"], T)
        .unwrap_or_else(|| panic!("ss shows no established connection to 10.0.0.2:23"));
    let client = ss_line
        .split_whitespace()
        .find(|w| w.starts_with("10.0.0.1:"))
        .unwrap_or_else(|| panic!("no local address in {ss_line:?}"))
        .to_string();

    // `netstat` over telnet shows the very connection it was typed on.
    let mark = snapshot(&telnet.out).0.len();
    // A line as typed: telnet sends it as NVT `netstat` CR LF.
    telnet.write(b"netstat\n");
    let done = wait_collected(&telnet.out, T, |c| {
        c.bytes.len() > mark && c.bytes[mark..].windows(8).any(|w| w == b"synack> ")
    });
    thread::sleep(Duration::from_millis(200)); // room for a stray second prompt to show
    let answer = String::from_utf8_lossy(&snapshot(&telnet.out).0[mark..]).into_owned();
    assert!(done, "no netstat answer and prompt:\n{answer}\n{}", telnet.text());
    assert!(answer.contains("Active Internet connections (w/o servers)"), "{answer}");
    let line = answer
        .lines()
        .find(|l| l.contains("10.0.0.2:23") && l.contains(&client))
        .unwrap_or_else(|| panic!("netstat does not show 10.0.0.2:23 <-> {client}:\n{answer}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols.len(), 6, "{line:?}");
    assert_eq!(cols[0], "tcp", "{line:?}");
    assert_eq!(cols[3], "10.0.0.2:23", "{line:?}");
    assert_eq!(cols[4], client, "{line:?}");
    assert_eq!(cols[5], "ESTABLISHED", "{line:?}");
    // `netstat` (w/o servers) does not list the listeners; one prompt after.
    assert!(!answer.contains("LISTEN"), "{answer}");
    assert!(answer.ends_with("\nsynack> "), "{answer:?}");
    assert_eq!(answer.matches("synack> ").count(), 1, "{answer:?}");

    // `quit`: synack says bye and closes; telnet reports it and exits.
    let mark = snapshot(&telnet.out).0.len();
    telnet.write(b"quit\n");
    // telnet reports the peer's close on its stderr.
    let closed = wait_collected(&telnet.err, T, |c| {
        String::from_utf8_lossy(&c.bytes).contains("Connection closed by foreign host.")
    });
    assert!(closed, "telnet did not see the close:\n{}\n--- synack:\n{}", telnet.text(), s.output());
    let status = telnet.wait_exit(Duration::from_secs(5));
    assert!(status.is_some(), "telnet did not exit after the close:\n{}", telnet.text());
    // Everything it wrote, read to the end.
    assert!(wait_collected(&telnet.out, T, |c| c.closed) && wait_collected(&telnet.err, T, |c| c.closed));
    let tail = String::from_utf8_lossy(&snapshot(&telnet.out).0[mark..]).into_owned();
    assert_eq!(tail.trim_end(), "bye", "after quit:\n{}", telnet.text());
    let err = String::from_utf8_lossy(&snapshot(&telnet.err).0).into_owned();
    assert_eq!(err.trim_end(), "Connection closed by foreign host.", "{}", telnet.text());
    let elapsed = t0.elapsed();

    // Cleanly: FIN, not RST; and the host's side leaves ESTABLISHED.
    let after = s.stats();
    assert_eq!(
        after.counter("tcp_rst_tx"),
        before.counter("tcp_rst_tx"),
        "synack sent a RST:\n{}",
        growth(&before, &after)
    );
    assert_eq!(after.unexplained_drops(), before.unexplained_drops(), "drops:\n{}", growth(&before, &after));
    assert_eq!(after.counter("tcp_passive_opens") - before.counter("tcp_passive_opens"), 1);
    let est = ns.exec("ss", &["-tn", "state", "established"], T);
    assert!(!est.stdout.contains("10.0.0.2:23"), "still established:\n{}", est.stdout);
    report(&format!(
        "telnet: banner, netstat and quit in {:.2} s (client {client}, exit {status:?})",
        elapsed.as_secs_f64()
    ));
    assert_alive(&ns, &s, "telnet");

    // The live capture in tshark: ARP, the handshake, the banner, netstat,
    // synack's close after `quit`, the ping of assert_alive; every frame
    // well formed, every checksum right, and nothing for tshark's experts
    // but the close.
    assert!(s.stop().is_some_and(|st| st.success()), "synack did not exit cleanly:\n{}", s.output());
    tshark::report(&pcap).assert_clean(
        "the telnet session's capture",
        &[
            ("Note: This frame initiates the connection closing", 1),
            ("Note: This frame undergoes the connection closing", 1),
        ],
    );
}

/// Removes a file on Drop (also when the test panics).
struct RemoveFile(std::path::PathBuf);
impl Drop for RemoveFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn fifty_megabytes_into_discard() {
    if !interop_allowed("fifty_megabytes_into_discard") {
        return;
    }
    require_tool("nc");
    let (ns, s) = synack_ns(&[]);
    let dir = std::env::temp_dir().join(format!("{}-discard", ns.name()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let _cleanup = RemoveDir(dir.clone());
    let file = dir.join("50MB");
    std::fs::write(&file, pseudo_random(MB50, 0x9e37_79b9_7f4a_7c15)).expect("write the 50 MB file");
    let file = file.to_str().expect("utf-8 path").to_string();

    let before = s.stats();
    let t0 = Instant::now();
    let out = ns.exec("sh", &["-c", &format!("nc -N 10.0.0.2 9 < '{file}'")], BULK_TIMEOUT);
    let elapsed = t0.elapsed();
    assert!(out.success(), "nc into discard failed:\n{}\n--- synack:\n{}", out.text(), s.output());
    assert!(out.stdout.is_empty(), "discard sent something back: {:?}", out.stdout);
    let after = s.stats();

    // At most an MSS (1460 at MTU 1500) per segment: 50 MB is at least
    // 35,911 segments, and a clean transfer needs not many more.
    let segs = after.counter("tcp_rx") - before.counter("tcp_rx");
    let min = MB50.div_ceil(1460) as u64;
    assert!(segs >= min, "tcp_rx grew by {segs}, want >= {min}:\n{}", growth(&before, &after));
    assert!(segs <= 2 * min, "tcp_rx grew by {segs} for {min} segments' worth:\n{}", growth(&before, &after));
    assert_eq!(after.counter("tcp_passive_opens") - before.counter("tcp_passive_opens"), 1);
    assert_eq!(after.counter("tcp_rst_tx"), before.counter("tcp_rst_tx"), "{}", growth(&before, &after));
    assert_eq!(after.unexplained_drops(), before.unexplained_drops(), "unexpected drops:\n{}", growth(&before, &after));
    report(&format!(
        "discard: 50 MB in {:.2} s = {:.1} MB/s ({segs} segments in, {} acks out)",
        elapsed.as_secs_f64(),
        mb_per_s(MB50, elapsed),
        after.counter("tcp_tx") - before.counter("tcp_tx")
    ));
    assert_alive(&ns, &s, "discard");
}

#[test]
fn fifty_megabytes_out_of_chargen() {
    if !interop_allowed("fifty_megabytes_out_of_chargen") {
        return;
    }
    let (ns, s) = synack_ns(&[]);
    let before = s.stats();
    let mut c = host_connect(&ns, "10.0.0.2:19", Duration::from_secs(5)).expect("connect to chargen");
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
    let t0 = Instant::now();
    let deadline = t0 + BULK_TIMEOUT;
    // Checked as it streams in: SHA-256 of what came against SHA-256 of
    // the pattern computed here, and the first differing offset.
    let mut check = ChargenCheck::new();
    let mut buf = vec![0u8; 256 * 1024];
    while check.n < MB50 {
        let n = check.n;
        assert!(
            Instant::now() < deadline,
            "only {n} bytes from chargen in {BULK_TIMEOUT:?}\n--- synack:\n{}",
            s.output()
        );
        let want = buf.len().min(MB50 - n);
        match c.read(&mut buf[..want]) {
            Ok(0) => panic!("chargen closed after {n} bytes"),
            Ok(k) => check.update(&buf[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read from chargen after {n} bytes: {e}\n--- synack:\n{}", s.output()),
        }
    }
    let elapsed = t0.elapsed();
    let (got_sum, want_sum) = check.sums();
    assert_eq!(check.n, MB50);
    assert_eq!(got_sum, want_sum, "chargen's 50 MB differ from RFC 864's pattern: {}", check.mismatch());

    // Our FIN: chargen stops and closes; what was in flight drains (still
    // the pattern), then EOF.
    c.shutdown(Shutdown::Write).expect("shutdown");
    let drain_deadline = Instant::now() + T;
    loop {
        let rest = check.n - MB50;
        assert!(Instant::now() < drain_deadline, "no EOF from chargen after our FIN ({rest} more bytes)");
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => check.update(&buf[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("draining chargen after our FIN ({rest} bytes): {e}\n--- synack:\n{}", s.output()),
        }
    }
    let rest = check.n - MB50;
    let (tail_got, tail_want) = check.sums();
    assert_eq!(tail_got, tail_want, "after our FIN: {}", check.mismatch());
    // Bounded: at most what fits in flight and queued (a few MB).
    assert!(rest < 16 * 1024 * 1024, "chargen went on for {rest} bytes after our FIN");
    drop(c);
    let after = s.stats();
    assert_eq!(after.counter("tcp_rst_tx"), before.counter("tcp_rst_tx"), "{}", growth(&before, &after));
    assert_eq!(after.unexplained_drops(), before.unexplained_drops(), "unexpected drops:\n{}", growth(&before, &after));
    let segs = after.counter("tcp_tx") - before.counter("tcp_tx");
    assert!(segs >= MB50.div_ceil(1460) as u64, "tcp_tx grew by only {segs}");
    report(&format!(
        "chargen: 50 MB in {:.2} s = {:.1} MB/s, sha256 {}…, {segs} segments out, {} retransmits, {rest} bytes after our FIN",
        elapsed.as_secs_f64(),
        mb_per_s(MB50, elapsed),
        &got_sum[..16],
        after.counter("tcp_retransmits") - before.counter("tcp_retransmits"),
    ));
    assert_alive(&ns, &s, "chargen");
}

#[test]
fn echo_returns_five_random_megabytes() {
    if !interop_allowed("echo_returns_five_random_megabytes") {
        return;
    }
    const LEN: usize = 5 * 1024 * 1024;
    let (ns, s) = synack_ns(&[]);
    let before = s.stats();
    let data = Arc::new(pseudo_random(LEN, rand::random::<u64>() | 1));
    let c = host_connect(&ns, "10.0.0.2:7", Duration::from_secs(5)).expect("connect to echo");
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
    c.set_write_timeout(Some(Duration::from_secs(10))).expect("write timeout");
    let t0 = Instant::now();
    // Write from a thread (echo writes back while we write), then FIN.
    let mut w = c.try_clone().expect("clone");
    let to_send = data.clone();
    let writer = thread::spawn(move || -> io::Result<()> {
        for chunk in to_send.chunks(64 * 1024) {
            w.write_all(chunk)?;
        }
        w.shutdown(Shutdown::Write)
    });
    let mut got = Vec::with_capacity(LEN);
    let mut r = &c;
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = t0 + BULK_TIMEOUT;
    let eof = loop {
        if Instant::now() >= deadline || got.len() > LEN {
            break false;
        }
        match r.read(&mut buf) {
            Ok(0) => break true,
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read from echo after {} bytes: {e}\n--- synack:\n{}", got.len(), s.output()),
        }
    };
    let elapsed = t0.elapsed();
    let wrote = writer.join().expect("writer thread");
    assert!(wrote.is_ok(), "writing to echo: {wrote:?}");
    assert!(eof, "no EOF from echo after our FIN ({} of {LEN} bytes back)", got.len());
    assert_eq!(got.len(), LEN, "{}", first_difference(&got, &data));
    assert_eq!(sha256_hex(&got), sha256_hex(&data), "{}", first_difference(&got, &data));
    let after = s.stats();
    assert_eq!(after.counter("tcp_rst_tx"), before.counter("tcp_rst_tx"), "{}", growth(&before, &after));
    assert_eq!(after.unexplained_drops(), before.unexplained_drops(), "unexpected drops:\n{}", growth(&before, &after));
    report(&format!(
        "echo: 5 MB there and back in {:.2} s = {:.1} MB/s each way",
        elapsed.as_secs_f64(),
        mb_per_s(LEN, elapsed)
    ));
    assert_alive(&ns, &s, "echo");
}

/// `synack connect 10.0.0.1 PORT` in `ns`, waiting for its `connected to` line.
fn synack_connect(ns: &Netns, port: u16) -> (Piped, String) {
    let p = Piped::spawn(ns.command(synack_tests::synack_bin(), &["connect", "10.0.0.1", &port.to_string()]));
    // The whole line: stderr is unbuffered, a line may come in pieces.
    let connected = wait_collected(&p.err, T, |c| {
        String::from_utf8_lossy(&c.bytes)
            .split_inclusive('\n')
            .any(|l| l.starts_with("synack: connected to") && l.ends_with('\n'))
    });
    let err = String::from_utf8_lossy(&snapshot(&p.err).0).into_owned();
    assert!(connected, "synack connect did not connect:\n{}", p.text());
    assert!(err.contains("synack is up: tap0 10.0.0.2/24"), "{err}");
    let line = err.lines().find(|l| l.contains("synack: connected to")).expect("the line").to_string();
    let want = format!("synack: connected to 10.0.0.1:{port} from 10.0.0.2:");
    assert!(line.starts_with(&want), "{line:?}");
    (p, line)
}

/// `synack connect`'s stdout should carry the connection's bytes and
/// nothing else. Split off leading setup lines (`+ ip addr add …`) so the
/// data can still be checked; `synack_connect_talks_to_host_nc` fails on them.
fn split_setup(out: &[u8]) -> (Vec<String>, &[u8]) {
    let mut rest = out;
    let mut lines = Vec::new();
    while rest.starts_with(b"+ ip ") {
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else { break };
        lines.push(String::from_utf8_lossy(&rest[..nl]).into_owned());
        rest = &rest[nl + 1..];
    }
    (lines, rest)
}

/// Write `data` to the process's stdin on a thread, then close it (EOF).
fn feed_and_close(p: &mut Piped, data: Vec<u8>) -> JoinHandle<io::Result<()>> {
    let mut w = p.stdin.take().expect("stdin still open");
    thread::spawn(move || {
        w.write_all(&data)?;
        w.flush()
    })
}

/// Write `data` to the process's stdin on a thread, keeping it open; the
/// thread hands stdin back.
fn feed(p: &mut Piped, data: Vec<u8>) -> JoinHandle<io::Result<ChildStdin>> {
    let mut w = p.stdin.take().expect("stdin still open");
    thread::spawn(move || {
        w.write_all(&data)?;
        w.flush()?;
        Ok(w)
    })
}

/// Join a feeding thread, at most `timeout` (it ends when its write does).
fn join_bounded<R>(h: JoinHandle<io::Result<R>>, timeout: Duration, what: &str) -> R {
    let deadline = Instant::now() + timeout;
    while !h.is_finished() {
        assert!(Instant::now() < deadline, "{what}: the write to stdin did not finish in {timeout:?}");
        thread::sleep(Duration::from_millis(10));
    }
    h.join().expect("feeding thread").unwrap_or_else(|e| panic!("{what}: write to stdin: {e}"))
}

#[test]
fn synack_connect_talks_to_host_nc() {
    if !interop_allowed("synack_connect_talks_to_host_nc") {
        return;
    }
    require_tool("nc");
    require_tool("ss");
    const LEN: usize = 1024 * 1024;
    let ns = connect_ns();
    let mut nc = Piped::spawn(ns.command("nc", &["-N", "-l", "10.0.0.1", "5555"]));
    let listening = ss_until(&ns, &["-tln"], &["10.0.0.1:5555"], T);
    assert!(listening.is_some(), "nc -l is not listening:\n{}", nc.text());
    let t0 = Instant::now();
    let (mut sk, line) = synack_connect(&ns, 5555);
    let synack_port = line.rsplit(':').next().expect("port").trim().to_string();
    let est =
        ss_until(&ns, &["-tn", "state", "established"], &["10.0.0.1:5555", &format!("10.0.0.2:{synack_port}")], T);
    assert!(est.is_some(), "the host does not see the connection from 10.0.0.2:{synack_port}");

    // Host nc stdin → synack stdout, both stdins still open.
    let to_synack = pseudo_random(LEN, 0x1111_2222_3333_4445);
    let h = feed(&mut nc, to_synack.clone());
    let ok = wait_collected(&sk.out, T, |c| split_setup(&c.bytes).1.len() >= LEN);
    nc.stdin = Some(join_bounded(h, T, "nc"));
    let (out, closed) = snapshot(&sk.out);
    let got = split_setup(&out).1;
    assert!(ok, "synack's stdout got {} of {LEN} bytes (closed: {closed}):\n{}", got.len(), sk.text());
    assert!(got == to_synack, "host → synack: {}", first_difference(got, &to_synack));

    // synack stdin → host nc stdout.
    let to_host = pseudo_random(LEN, 0x5555_6666_7777_8889);
    let h = feed(&mut sk, to_host.clone());
    let ok = wait_collected(&nc.out, T, |c| c.bytes.len() >= LEN);
    sk.stdin = Some(join_bounded(h, T, "synack"));
    let (got, closed) = snapshot(&nc.out);
    assert!(ok, "nc's stdout got {} of {LEN} bytes (closed: {closed}):\n{}", got.len(), nc.text());
    assert!(got == to_host, "synack → host: {}", first_difference(&got, &to_host));
    let elapsed = t0.elapsed();

    // End of synack's stdin: it half-closes (FIN). The host's nc reads EOF
    // and (netcat-openbsd's way) exits, closing its side; synack reads that
    // EOF and exits too. Nothing more arrives either way.
    sk.close_stdin();
    let nc_status = nc.wait_exit(T);
    assert!(nc_status.is_some(), "nc did not see EOF from synack's half-close:\n{}\n{}", nc.text(), sk.text());
    assert!(nc_status.is_some_and(|s| s.success()), "nc: {nc_status:?}\n{}", nc.text());
    let sk_status = sk.wait_exit(T);
    assert!(sk_status.is_some_and(|s| s.success()), "synack connect: {sk_status:?}\n{}", sk.text());
    assert!(wait_collected(&nc.out, T, |c| c.closed), "nc's stdout did not close");
    assert!(wait_collected(&sk.out, T, |c| c.closed), "synack's stdout did not close");
    assert_eq!(snapshot(&nc.out).0.len(), LEN, "extra bytes at the host");
    let out = snapshot(&sk.out).0;
    let (setup, data) = split_setup(&out);
    assert_eq!(data.len(), LEN, "extra bytes at synack");
    let err = String::from_utf8_lossy(&snapshot(&sk.err).0).into_owned();
    assert!(!err.contains("synack: send") && !err.contains("synack: recv"), "{err}");
    report(&format!(
        "synack connect ↔ nc -l: 1 MB each way in {:.2} s (synack port {synack_port})",
        elapsed.as_secs_f64()
    ));
    // Like nc, stdout is the connection and nothing else: `synack connect
    // HOST PORT > file` must write exactly what the host sent.
    assert!(
        setup.is_empty(),
        "synack connect's stdout carries its setup commands before the connection's data: {setup:?}\n\
         (apps/src/main.rs: connect → start → open_tap → run() prints them with say(), to stdout; \
         `synack is up:` already goes to stderr for connect)"
    );
}

#[test]
fn synack_connect_half_close_keeps_receiving() {
    if !interop_allowed("synack_connect_half_close_keeps_receiving") {
        return;
    }
    let ns = connect_ns();
    let listener = ns
        .run_in(|| {
            let l = std::net::TcpListener::bind("10.0.0.1:5556")?;
            l.set_nonblocking(true)?;
            Ok(l)
        })
        .expect("listen on 10.0.0.1:5556 in the namespace");
    let (mut sk, _line) = synack_connect(&ns, 5556);
    let deadline = Instant::now() + T;
    let mut c = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("accept: {e}\n{}", sk.text()),
        }
    };
    c.set_nonblocking(false).expect("blocking");
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");

    // synack's stdin: a message, then end of file → FIN.
    let msg = b"hello from synack, then end of file\n".to_vec();
    let h = feed_and_close(&mut sk, msg.clone());
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if got.len() + n <= 1 << 20 => got.extend_from_slice(&buf[..n]),
            Ok(_) => panic!("too much from synack"),
            Err(e) => panic!("no EOF from synack's half-close ({} bytes): {e}\n{}", got.len(), sk.text()),
        }
    }
    join_bounded(h, T, "synack");
    assert_eq!(got, msg, "{}", first_difference(&got, &msg));

    // Half-closed, not closed: synack still reads what the host sends.
    let late = pseudo_random(256 * 1024, 0xabcd_ef01_2345_6789);
    let written = c.write_all(&late);
    assert!(written.is_ok(), "write after synack's FIN: {written:?} (synack closed instead of half-closing?)");
    c.shutdown(Shutdown::Write).expect("shutdown");
    let ok = wait_collected(&sk.out, T, |c| split_setup(&c.bytes).1.len() >= late.len());
    let (out, _) = snapshot(&sk.out);
    let out = split_setup(&out).1; // the setup lines are synack_connect_talks_to_host_nc's to report
    assert!(ok, "synack's stdout got {} of {} bytes after its half-close:\n{}", out.len(), late.len(), sk.text());
    assert!(out == late, "after the half-close: {}", first_difference(out, &late));
    let status = sk.wait_exit(T);
    assert!(status.is_some_and(|s| s.success()), "synack connect after the host's FIN: {status:?}\n{}", sk.text());
    // The host's socket reads EOF, not a reset: synack closed in order.
    let mut buf = [0u8; 16];
    let end = c.read(&mut buf);
    assert!(matches!(end, Ok(0)), "after both FINs: {end:?}");
}

#[test]
fn closed_port_is_refused_at_once() {
    if !interop_allowed("closed_port_is_refused_at_once") {
        return;
    }
    require_tool("nc");
    let (ns, s) = synack_ns(&[]);
    let before = s.stats();

    let t0 = Instant::now();
    let r = host_connect(&ns, "10.0.0.2:4444", Duration::from_secs(2));
    let took = t0.elapsed();
    match r {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}"),
        Ok(c) => panic!("connected to closed port 4444: {c:?}"),
    }
    assert!(took < Duration::from_millis(500), "refused only after {took:?}");

    let t1 = Instant::now();
    let out = ns.exec("nc", &["-v", "-z", "-w2", "10.0.0.2", "4444"], T);
    let nc_took = t1.elapsed();
    assert!(!out.success() && !out.timed_out, "{}", out.text());
    assert!(out.stderr.contains("connect to 10.0.0.2 port 4444 (tcp) failed: Connection refused"), "{}", out.text());
    assert!(nc_took < Duration::from_secs(1), "nc refused only after {nc_took:?}");

    let after = s.stats();
    assert_eq!(after.counter("tcp_rst_tx") - before.counter("tcp_rst_tx"), 2, "{}", growth(&before, &after));
    assert_eq!(after.dropped("tcp_no_socket") - before.dropped("tcp_no_socket"), 2, "{}", growth(&before, &after));
    report(&format!("closed port: refused in {:.1} ms (TcpStream), {:.1} ms (nc -z)", ms(took), ms(nc_took)));
    assert_alive(&ns, &s, "closed port");
}

#[test]
fn hundred_connections_to_echo_at_once() {
    if !interop_allowed("hundred_connections_to_echo_at_once") {
        return;
    }
    require_tool("ss");
    const N: usize = 100;
    let (ns, s) = synack_ns(&[]);
    let before = s.stats();
    let t0 = Instant::now();
    let conns = ns
        .run_in(|| {
            let to: SocketAddr = "10.0.0.2:7".parse().expect("address");
            (0..N).map(|_| TcpStream::connect_timeout(&to, Duration::from_secs(5))).collect::<io::Result<Vec<_>>>()
        })
        .unwrap_or_else(|e| panic!("opening {N} connections: {e}\n--- synack:\n{}", s.output()));
    let opened = t0.elapsed();
    // All 100 established at the host at once, nothing sent yet.
    let est = ns.exec("ss", &["-Htn", "state", "established", "dst", "10.0.0.2:7"], T);
    assert_eq!(est.stdout.lines().count(), N, "{}", est.stdout);
    let mut ports: Vec<u16> = conns.iter().map(|c| c.local_addr().expect("local").port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), N);

    for (i, mut c) in conns.iter().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let msg = format!("connection {i:03}: {}\n", "x".repeat(i * 7));
        c.write_all(msg.as_bytes()).unwrap_or_else(|e| panic!("send on connection {i}: {e}"));
    }
    for (i, mut c) in conns.iter().enumerate() {
        let msg = format!("connection {i:03}: {}\n", "x".repeat(i * 7));
        let mut got = vec![0u8; msg.len()];
        c.read_exact(&mut got).unwrap_or_else(|e| panic!("echo on connection {i}: {e}\n--- synack:\n{}", s.output()));
        assert_eq!(String::from_utf8_lossy(&got), msg, "connection {i}");
    }
    // Close: our FIN, echo's FIN back (EOF, no extra bytes), for each.
    for (i, c) in conns.iter().enumerate() {
        c.shutdown(Shutdown::Write).unwrap_or_else(|e| panic!("shutdown {i}: {e}"));
    }
    for (i, mut c) in conns.iter().enumerate() {
        let mut b = [0u8; 16];
        let r = c.read(&mut b);
        assert!(matches!(r, Ok(0)), "connection {i}: after our FIN {r:?}");
    }
    let elapsed = t0.elapsed();
    drop(conns);
    let after = s.stats();
    assert_eq!(after.counter("tcp_passive_opens") - before.counter("tcp_passive_opens"), N as u64);
    assert_eq!(after.counter("tcp_rst_tx"), before.counter("tcp_rst_tx"), "{}", growth(&before, &after));
    assert_eq!(after.unexplained_drops(), before.unexplained_drops(), "unexpected drops:\n{}", growth(&before, &after));
    report(&format!("100 connections: opened in {:.1} ms, all echoed and closed in {:.1} ms", ms(opened), ms(elapsed)));
    assert_alive(&ns, &s, "100 connections");
}
