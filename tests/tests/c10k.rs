//! C10K: 10,000 concurrent TCP connections from the host's Linux TCP to
//! synack's echo (port 7), served by `synack up`'s epoll reactor.
//!
//! The host side is std's `TcpStream` on worker threads that joined the
//! test's network namespace (its file limit raised for 10,000 sockets).
//! All 10,000 connections are opened and held at once; then each sends its
//! own message and reads it back, checked byte for byte; every connection
//! stays open until all have been checked.
//!
//! Memory is measured from outside: the resident set (VmRSS in
//! /proc/PID/status) of the synack process before the connections, with
//! all of them open and idle, and again after every connection has carried
//! its message and gone idle. The difference divided by the number of
//! connections is everything synack holds per connection: the TCP control
//! block, the socket table and 4-tuple hash entries, the epoll item, the
//! reactor's handler, and whatever the allocator keeps around them (so it
//! is an upper bound; no data is in flight at the time of measuring).
//!
//! Printed (run with `--nocapture` to see it): connections, times, memory
//! per connection. Asserted: every echo correct, ≤ 8 KiB per idle connection.
//!
//! A second test has the reactor serve a telnet session while 1,000 echo
//! connections keep it busy: the prompt answers `netstat` with all of them.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};
use synack_tests::{interop_allowed, require_tool, Netns, Synack};

const N: usize = 10_000;
/// Host threads; each opens and serves N / THREADS connections.
const THREADS: usize = 16;
/// Messages in flight per thread at once (a wave): bounds the burst the
/// TAP device's queue (1,000 frames) sees.
const WAVE: usize = 50;
const MAX_BYTES_PER_CONN: f64 = 8192.0;
/// Quiet time before each measurement: synack accepts the last connections,
/// delayed ACKs go out.
const IDLE_WAIT: Duration = Duration::from_millis(1500);
const T: Duration = Duration::from_secs(20);

/// VmRSS of `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS line");
    kb * 1024
}

/// RLIMIT_NOFILE up to `want` (raising the hard limit too if need be: we are root).
fn raise_nofile(want: u64) {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct we own.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        if r.rlim_cur >= want {
            return;
        }
        r.rlim_max = r.rlim_max.max(want);
        r.rlim_cur = want;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
            panic!("cannot raise RLIMIT_NOFILE to {want}: {}", io::Error::last_os_error());
        }
    }
}

fn message(i: usize) -> Vec<u8> {
    format!("connection {i:05} of {N}: hello, synack (C10K)\n").into_bytes()
}

/// What the host side saw.
struct Run {
    connect_time: Duration,
    echo_time: Duration,
    rss_open: u64,
    rss_after: u64,
}

/// Runs inside the namespace: open all, measure, echo on all, measure.
fn host_side(pid: u32) -> io::Result<Run> {
    let to: SocketAddr = "10.0.0.2:7".parse().expect("address");
    let t0 = Instant::now();
    // Open: THREADS threads, each its share, sequential blocking connects.
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            thread::spawn(move || -> io::Result<Vec<(usize, TcpStream)>> {
                let mut v = Vec::new();
                for i in (t..N).step_by(THREADS) {
                    let s = TcpStream::connect_timeout(&to, Duration::from_secs(10))
                        .map_err(|e| io::Error::new(e.kind(), format!("connection {i}: {e}")))?;
                    s.set_read_timeout(Some(T))?;
                    s.set_write_timeout(Some(T))?;
                    s.set_nodelay(true)?;
                    v.push((i, s));
                }
                Ok(v)
            })
        })
        .collect();
    let mut shares = Vec::new();
    for w in workers {
        shares.push(w.join().map_err(|_| io::Error::other("connect thread panicked"))??);
    }
    let connect_time = t0.elapsed();
    let open: usize = shares.iter().map(|s| s.len()).sum();
    assert_eq!(open, N);
    // All open and idle: let synack accept the last ones, then measure.
    thread::sleep(IDLE_WAIT);
    let rss_open = rss(pid);

    // Echo: each connection sends its message and reads it back.
    let t1 = Instant::now();
    let workers: Vec<_> = shares
        .into_iter()
        .map(|mut share| {
            thread::spawn(move || -> io::Result<Vec<(usize, TcpStream)>> {
                for wave in share.chunks_mut(WAVE) {
                    for (i, s) in wave.iter_mut() {
                        s.write_all(&message(*i))?;
                    }
                    for (i, s) in wave.iter_mut() {
                        let want = message(*i);
                        let mut got = vec![0u8; want.len()];
                        s.read_exact(&mut got)
                            .map_err(|e| io::Error::new(e.kind(), format!("echo on connection {i}: {e}")))?;
                        assert_eq!(got, want, "connection {i} echoed other bytes");
                    }
                }
                Ok(share)
            })
        })
        .collect();
    let mut shares = Vec::new();
    for w in workers {
        shares.push(w.join().map_err(|_| io::Error::other("echo thread panicked"))??);
    }
    let echo_time = t1.elapsed();
    // Every connection still open, idle again.
    thread::sleep(IDLE_WAIT);
    let rss_after = rss(pid);
    drop(shares);
    Ok(Run { connect_time, echo_time, rss_open, rss_after })
}

#[test]
fn c10k_ten_thousand_concurrent_connections_to_echo() {
    if !interop_allowed("c10k_ten_thousand_concurrent_connections_to_echo") {
        return;
    }
    require_tool("ip");
    raise_nofile(N as u64 + 1024);
    let ns = Netns::without_ipv6();
    ns.sysctl("net.ipv4.ip_local_port_range=1024 65000");
    let mut synack = Synack::up(&ns, &["--quiet"]);
    let pid = synack.pid();
    // Warm up (ARP, the first connection's allocations), then the baseline.
    let warm = ns.run_in(|| {
        let mut s = TcpStream::connect_timeout(&"10.0.0.2:7".parse().expect("address"), T)?;
        s.set_read_timeout(Some(T))?;
        s.write_all(b"warm up\n")?;
        let mut b = [0u8; 8];
        s.read_exact(&mut b)?;
        Ok(b)
    });
    assert_eq!(&warm.expect("warm-up echo"), b"warm up\n");
    thread::sleep(Duration::from_millis(300));
    let rss_before = rss(pid);

    let t0 = Instant::now();
    let run = ns.run_in(move || host_side(pid));
    let run = run.unwrap_or_else(|e| panic!("C10K run: {e}\n--- synack:\n{}", synack.output()));
    let total = t0.elapsed();

    let per_open = run.rss_open.saturating_sub(rss_before) as f64 / N as f64;
    let per_after = run.rss_after.saturating_sub(rss_before) as f64 / N as f64;
    let stats = synack.stats();
    let report = format!(
        "C10K: {N} concurrent connections to synack's echo, each echoed its message: all correct\n\
         C10K: opened in {:.2} s, echoed in {:.2} s, {:.2} s in all (with {:.1} s of idle waits)\n\
         C10K: synack RSS {:.1} MiB before, {:.1} MiB with {N} idle connections, {:.1} MiB after the echoes\n\
         C10K: memory per idle established connection: {:.0} bytes (open), {:.0} bytes (after carrying a message)\n\
         C10K: synack counters: tcp_passive_opens {}, tcp_retransmits {}, drops {}",
        run.connect_time.as_secs_f64(),
        run.echo_time.as_secs_f64(),
        total.as_secs_f64(),
        2.0 * IDLE_WAIT.as_secs_f64(),
        rss_before as f64 / 1048576.0,
        run.rss_open as f64 / 1048576.0,
        run.rss_after as f64 / 1048576.0,
        per_open,
        per_after,
        stats.counter("tcp_passive_opens"),
        stats.counter("tcp_retransmits"),
        stats.total_drops(),
    );
    // Straight to stderr's handle, so the figures show in the test log.
    let _ = writeln!(io::stderr(), "\n{report}\n");
    assert!(per_open <= MAX_BYTES_PER_CONN, "{per_open} bytes per idle connection (open)\n{report}");
    assert!(per_after <= MAX_BYTES_PER_CONN, "{per_after} bytes per idle connection (after)\n{report}");
    // synack is still there and answers (a deadline, not a latency test:
    // on a loaded machine it may still be reading the 10,000 closes).
    let ping = ns.exec("ping", &["-c", "1", "-w", "10", "10.0.0.2"], T);
    assert!(ping.success(), "synack does not answer ping after C10K:\n{}", ping.text());
    assert!(synack.stop().is_some_and(|s| s.success()), "synack did not stop cleanly:\n{}", synack.output());
}

/// Read from a telnet connection until the text holds `needle`; telnet
/// option negotiation (IAC …) is left in and ignored.
fn read_until(s: &mut TcpStream, needle: &str) -> io::Result<String> {
    let mut text = Vec::new();
    let mut buf = [0u8; 8192];
    while !String::from_utf8_lossy(&text).contains(needle) {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, String::from_utf8_lossy(&text).into_owned()));
        }
        text.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

#[test]
fn reactor_serves_telnet_while_a_thousand_echo_connections_run() {
    if !interop_allowed("reactor_serves_telnet_while_a_thousand_echo_connections_run") {
        return;
    }
    require_tool("ip");
    const CONNS: usize = 1000;
    raise_nofile(CONNS as u64 + 1024);
    let ns = Netns::without_ipv6();
    let mut synack = Synack::up(&ns, &["--quiet"]);
    let r = ns.run_in(|| {
        let mut telnet = TcpStream::connect_timeout(&"10.0.0.2:23".parse().expect("address"), T)?;
        telnet.set_read_timeout(Some(T))?;
        read_until(&mut telnet, "synack> ")?;
        // Echo traffic on 1,000 connections, on its own thread, while the
        // telnet session types commands.
        let echo = thread::spawn(|| -> io::Result<usize> {
            let to: SocketAddr = "10.0.0.2:7".parse().expect("address");
            let mut conns = Vec::new();
            for i in 0..CONNS {
                let s = TcpStream::connect_timeout(&to, T)?;
                s.set_read_timeout(Some(T))?;
                conns.push((i, s));
            }
            for round in 0..3 {
                for wave in conns.chunks_mut(WAVE) {
                    for (i, s) in wave.iter_mut() {
                        s.write_all(format!("round {round} conn {i}\n").as_bytes())?;
                    }
                    for (i, s) in wave.iter_mut() {
                        let want = format!("round {round} conn {i}\n");
                        let mut got = vec![0u8; want.len()];
                        s.read_exact(&mut got)?;
                        assert_eq!(got, want.as_bytes());
                    }
                }
            }
            Ok(conns.len())
        });
        let mut prompts = 0;
        while !echo.is_finished() && prompts < 200 {
            telnet.write_all(b"stats\r\n")?;
            read_until(&mut telnet, "synack> ")?;
            prompts += 1;
        }
        let echoed = echo.join().map_err(|_| io::Error::other("echo thread panicked"))??;
        telnet.write_all(b"netstat\r\n")?;
        let netstat = read_until(&mut telnet, "synack> ")?;
        telnet.write_all(b"quit\r\n")?;
        read_until(&mut telnet, "bye")?;
        Ok((echoed, prompts, netstat))
    });
    let (echoed, prompts, netstat) = r.unwrap_or_else(|e| panic!("{e}\n--- synack:\n{}", synack.output()));
    assert_eq!(echoed, CONNS);
    assert!(prompts >= 1, "the telnet session got no answer while echo ran");
    // The echo connections were closed as the thread ended; netstat (typed
    // after) shows the telnet session itself.
    let est = netstat.lines().filter(|l| l.contains("10.0.0.2:23") && l.contains("ESTABLISHED")).count();
    assert_eq!(est, 1, "{netstat}");
    let _ = writeln!(
        io::stderr(),
        "\nreactor: telnet answered {prompts} commands while {CONNS} connections echoed 3 rounds\n"
    );
    assert!(synack.stop().is_some_and(|s| s.success()), "synack did not stop cleanly:\n{}", synack.output());
}
