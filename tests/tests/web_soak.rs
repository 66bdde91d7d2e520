//! The web view left open on a long transfer: synack's memory stays bounded.
//!
//! Issue 17 ("safe to leave running in a classroom"): the history each
//! connection keeps for its plots is a ring whose older half is decimated
//! (apps/src/plot/), so a page left open on a transfer that runs for five
//! minutes must not make `synack up` grow. In a namespace: `synack up
//! --web`, the host pulls from chargen (port 19) for the whole run, a live
//! stream (`/api/events`) stays open, and every two seconds the host fetches
//! the connection's plots and history as the page does. synack's resident
//! size (`VmRSS`) is read every ten seconds. It may never pass
//! `RSS_LIMIT_KB`, and in the second half of the run (the history has
//! reached its budget, 16 MiB, and the allocator has settled: each plot
//! request is a connection whose own samples go into the history) it may
//! not grow by more than `GROWTH_LIMIT_KB`.
//!
//! `SYNACK_WEB_SOAK_SECS` shortens the run (default 300 s, the five
//! minutes).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use synack_tests::{interop_allowed, require_tool, synack_ns, Netns, Synack};

/// What synack's resident size may grow by in the second half of the run.
const GROWTH_LIMIT_KB: u64 = 8 * 1024;
/// What it may never pass: the history's budget, the live ladder's, the
/// stack's buffers, and room to spare.
const RSS_LIMIT_KB: u64 = 64 * 1024;

fn soak_secs() -> u64 {
    std::env::var("SYNACK_WEB_SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("synack's /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

fn curl(ns: &Netns, path: &str) -> String {
    let url = format!("http://10.0.0.2{path}");
    let out = ns.exec("curl", &["-sS", "--fail", "--max-time", "5", &url], Duration::from_secs(10));
    assert!(out.success(), "curl {url}: {}", out.text());
    out.stdout
}

/// The history id of the connection to chargen, from `/api/conns`.
fn chargen_id(ns: &Netns) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(&curl(ns, "/api/conns")).ok()?;
    v["conns"].as_array()?.iter().find(|c| c["local"] == "10.0.0.2:19").and_then(|c| c["id"].as_u64())
}

#[test]
fn memory_stays_bounded_with_the_page_open() {
    if !interop_allowed("memory_stays_bounded_with_the_page_open") {
        return;
    }
    require_tool("curl");
    let secs = soak_secs();
    let (ns, s) = synack_ns(&["--web"]);
    s.wait_for_line("web: http://10.0.0.2/", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no web line from synack up --web:\n{}", s.output()));

    // The live stream the page keeps open, for the whole run.
    let mut events =
        ns.command("curl", &["-sS", "-N", "--max-time", &(secs + 30).to_string(), "http://10.0.0.2/api/events"]);
    events.stdout(std::process::Stdio::null());
    let stream = Synack::spawn_command(events);

    // The transfer: the host reads chargen as fast as it comes.
    let to: SocketAddr = "10.0.0.2:19".parse().unwrap();
    let mut conn =
        ns.run_in(move || TcpStream::connect_timeout(&to, Duration::from_secs(5))).expect("connect to chargen");
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let reader = {
        let (stop, received) = (stop.clone(), received.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            while !stop.load(Ordering::Relaxed) {
                match conn.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        received.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(e) => panic!("reading chargen: {e}"),
                }
            }
        })
    };

    let start = Instant::now();
    let id = loop {
        if let Some(id) = chargen_id(&ns) {
            break id;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no chargen connection in /api/conns");
        std::thread::sleep(Duration::from_millis(100));
    };

    let mut at_half_time = None;
    let mut samples = Vec::new();
    let mut next_sample = start;
    while start.elapsed() < Duration::from_secs(secs) {
        // What the page fetches while a connection's page is open.
        for plot in ["tseq", "cwnd", "rtt", "buffers"] {
            let svg = curl(&ns, &format!("/api/conns/{id}/plot/{plot}.svg"));
            assert!(svg.contains("<svg"), "/api/conns/{id}/plot/{plot}.svg is not SVG: {svg:.200}");
        }
        curl(&ns, &format!("/api/conns/{id}"));
        if Instant::now() >= next_sample {
            let kb = rss_kb(s.pid());
            samples.push((start.elapsed().as_secs(), kb, received.load(Ordering::Relaxed)));
            if at_half_time.is_none() && start.elapsed() >= Duration::from_secs(secs / 2) {
                at_half_time = Some(kb);
            }
            next_sample += Duration::from_secs(10);
        }
        assert!(synack_tests::running(s.pid()), "synack exited:\n{}", s.output());
        std::thread::sleep(Duration::from_secs(2));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    drop(stream);

    let table: Vec<String> =
        samples.iter().map(|(t, kb, b)| format!("{t:>4} s  {kb:>7} kB  {:>6} MB moved", b >> 20)).collect();
    // Straight to the stderr handle: libtest captures eprintln! of passing
    // tests, and the figures are what the run is for.
    let _ = writeln!(std::io::stderr(), "synack's VmRSS with the page open:\n{}", table.join("\n"));
    let moved = received.load(Ordering::Relaxed);
    assert!(moved > 10 << 20, "the transfer moved only {moved} bytes in {secs} s");
    let base = at_half_time.expect("a sample in the second half");
    let peak = samples.iter().map(|s| s.1).max().unwrap();
    assert!(peak <= RSS_LIMIT_KB, "synack reached {peak} kB with the page open:\n{}", table.join("\n"));
    assert!(
        peak <= base + GROWTH_LIMIT_KB,
        "synack grew from {base} kB at half time to {peak} kB with the page open:\n{}",
        table.join("\n")
    );
}
