//! `stack::tcpdump` against the real tcpdump on live traffic: two
//! namespaces joined by a veth pair, Linux on both ends (ping, a 4000-byte
//! ping in fragments, arping, UDP, a closed UDP port, a TCP connection with
//! data and FIN, a refused TCP connection). tcpdump captures it; then every
//! frame of the capture must print, with our `Printer`, exactly as
//! `tcpdump -n -r` prints it (relative sequence numbers) and as
//! `tcpdump -n -S -r` does (absolute).

use device::PcapReader;
use stack::tcpdump::Printer;
use std::process::Command;
use std::time::Duration;
use synack_tests::{interop_allowed, require_tool, run_bounded, Netns, Synack};

const T: Duration = Duration::from_secs(20);

fn ok(ns: &Netns, prog: &str, args: &[&str]) {
    let out = ns.exec(prog, args, T);
    assert!(out.success(), "{prog} {args:?} in {}:\n{}", ns.name(), out.text());
}

fn tcpdump_read(file: &str, extra: &[&str]) -> Vec<String> {
    let mut c = Command::new("tcpdump");
    c.args(["-n", "-r", file]).args(extra);
    let out = run_bounded(c, T).expect("tcpdump -r");
    assert!(out.success(), "{}", out.text());
    // Drop the timestamp; keep the rest of the line as it is.
    out.stdout.lines().map(|l| l.split_once(' ').map_or(String::new(), |(_, r)| r.to_string())).collect()
}

#[test]
fn printer_matches_tcpdump_on_a_live_capture() {
    if !interop_allowed("printer_matches_tcpdump_on_a_live_capture") {
        return;
    }
    for tool in ["ip", "tcpdump", "ping", "arping", "nc"] {
        require_tool(tool);
    }
    let a = Netns::create();
    let b = Netns::create();
    ok(&a, "ip", &["link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b.name()]);
    ok(&a, "ip", &["addr", "add", "10.0.0.1/24", "dev", "va"]);
    ok(&b, "ip", &["addr", "add", "10.0.0.2/24", "dev", "vb"]);
    ok(&a, "ip", &["link", "set", "va", "up"]);
    ok(&b, "ip", &["link", "set", "vb", "up"]);

    let dir = std::env::temp_dir().join(format!("{}-live", a.name()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("live.pcap");
    let file_s = file.to_str().expect("utf-8 path").to_string();
    let cleanup = scopeguard(dir.clone());

    let mut cap =
        Synack::spawn_command(a.command("tcpdump", &["-n", "-U", "--immediate-mode", "-i", "va", "-w", &file_s]));
    assert!(cap.wait_for(0, T, |l| l.contains("listening on")).is_some(), "tcpdump did not start:\n{}", cap.output());

    ok(&a, "ping", &["-c", "2", "-i", "0.2", "-W", "2", "10.0.0.2"]);
    ok(&a, "ping", &["-c", "1", "-W", "2", "-s", "4000", "10.0.0.2"]);
    ok(&a, "arping", &["-c", "1", "-w", "5", "-I", "va", "10.0.0.2"]);
    // UDP to a listener, and to a closed port (port unreachable back).
    let mut udp_srv = Synack::spawn_command(b.command("nc", &["-u", "-l", "-p", "7"]));
    let mut tcp_srv = Synack::spawn_command(b.command("nc", &["-l", "-p", "23"]));
    std::thread::sleep(Duration::from_millis(300));
    ok(&a, "sh", &["-c", "printf 'hello\\n' | nc -u -w1 10.0.0.2 7"]);
    let _ = a.exec("sh", &["-c", "printf 'hello\\n' | nc -u -w1 10.0.0.2 9999"], T);
    // TCP: handshake, data, FIN both ways; then a refused connection (RST).
    ok(&a, "sh", &["-c", "printf 'hello\\n' | nc -N -w2 10.0.0.2 23"]);
    let _ = a.exec("nc", &["-w1", "10.0.0.2", "24"], T);
    std::thread::sleep(Duration::from_millis(300));
    cap.stop();
    udp_srv.stop();
    tcp_srv.stop();

    let frames: Vec<Vec<u8>> =
        PcapReader::open(&file).expect("read the capture").map(|f| f.expect("a frame").data).collect();
    let relative = tcpdump_read(&file_s, &[]);
    let absolute = tcpdump_read(&file_s, &["-S"]);
    assert_eq!(frames.len(), relative.len(), "one tcpdump line per frame");
    let has = |what: &str| relative.iter().any(|l| l.contains(what));
    for what in [
        "ICMP echo reply",
        "ip-proto-1",
        "ARP, Reply",
        "UDP, length 6",
        "udp port 9999 unreachable",
        "Flags [S.]",
        "Flags [P.]",
        "Flags [F.]",
        "Flags [R.]",
    ] {
        assert!(has(what), "the capture lacks {what:?}:\n{}", relative.join("\n"));
    }
    // Relative numbers differ from absolute ones on this capture.
    assert_ne!(relative, absolute);

    let mut p_rel = Printer::new();
    let mut p_abs = Printer::absolute();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(p_rel.format(f), relative[i], "frame {} (relative)", i + 1);
        assert_eq!(p_abs.format(f), absolute[i], "frame {} (-S)", i + 1);
        assert_eq!(stack::tcpdump::format_frame(f), absolute[i], "frame {} (format_frame)", i + 1);
    }
    drop(cleanup);
}

/// Removes a directory on Drop (also when the test panics).
struct DirGuard(std::path::PathBuf);
impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
fn scopeguard(dir: std::path::PathBuf) -> DirGuard {
    DirGuard(dir)
}
