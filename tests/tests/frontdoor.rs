//! The Rust front door's examples (apps/examples/): the ones on the
//! in-memory wire run as any user and must print their echoes; `echo_tap`
//! serves the host's `nc` from a network namespace this test makes and
//! deletes (root: `tests/run.sh`; without root it prints SKIPPED, except
//! under `CI=true`). The examples are built by
//! `cargo build --release --workspace --bins --lib --examples`.

use std::path::PathBuf;
use std::time::Duration;
use synack_tests::{interop_allowed, pseudo_random, require_tool, run_bounded, Netns, Synack};

const T: Duration = Duration::from_secs(30);

/// `target/<profile>/examples/NAME`, next to this test's binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test binary has a directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("examples").join(name);
    assert!(
        bin.is_file(),
        "{} not found: build the examples first (`cargo build --release --workspace --bins --lib --examples`)",
        bin.display()
    );
    bin
}

fn run_example(name: &str) -> String {
    let out = run_bounded(std::process::Command::new(example(name)), T).expect("run example");
    assert!(out.success(), "{name} failed:\n{}", out.text());
    out.stdout
}

#[test]
fn echo_sim_prints_its_echoes() {
    let out = run_example("echo_sim");
    assert!(out.contains("connected from 10.0.0.2:"), "{out}");
    for w in ["hello", "synack", "bye"] {
        assert!(out.contains(&format!("echo: {w}\n")), "{out}");
    }
}

#[test]
fn echo_epoll_serves_three_clients() {
    let out = run_example("echo_epoll");
    assert_eq!(out.matches("accepted 10.0.0.2:").count(), 3, "{out}");
    for i in 0..3 {
        assert!(out.contains(&format!("client {i} got back: client {i}\n")), "{out}");
    }
}

#[test]
fn udp_echo_round_trips() {
    let out = run_example("udp_echo");
    assert_eq!(out, "one -> one\ntwo -> two\nthree -> three\n");
}

#[test]
fn echo_tap_serves_host_nc() {
    if !interop_allowed("echo_tap_serves_host_nc") {
        return;
    }
    require_tool("nc");
    let ns = Netns::without_ipv6();
    // Synack's guard collects the lines and kills the example (by pid) on drop.
    let server = Synack::spawn_command(ns.command(example("echo_tap"), &["tap0", "7000"]));
    if server.wait_for_line("echo on 10.0.0.2:7000", Duration::from_secs(15)).is_none() {
        panic!("echo_tap did not start:\n{}", server.output());
    }
    // 300 kB through the echo and back, exactly: `nc -N` shuts down its
    // sending side at the end of the file; the server reads EOF, drops the
    // stream (FIN), and nc exits.
    let dir = std::env::temp_dir().join(format!("synack-frontdoor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (input, output) = (dir.join("in"), dir.join("out"));
    let data = pseudo_random(300_000, 14);
    std::fs::write(&input, &data).unwrap();
    let line = format!("nc -N 10.0.0.2 7000 < '{}' > '{}'", input.display(), output.display());
    let out = ns.exec("sh", &["-c", &line], T);
    assert!(out.success(), "nc failed:\n{}\n--- echo_tap:\n{}", out.text(), server.output());
    let got = std::fs::read(&output).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(got.len(), data.len(), "echo_tap:\n{}", server.output());
    assert!(got == data, "the echo differs from what was sent");
    assert!(server.output().contains("connection from 10.0.0.1:"), "{}", server.output());
}

#[test]
fn http_example_serves_host_curl() {
    if !interop_allowed("http_example_serves_host_curl") {
        return;
    }
    require_tool("curl");
    let ns = Netns::without_ipv6();
    let server = Synack::spawn_command(ns.command(example("http"), &["tap0"]));
    if server.wait_for_line("serving on http://10.0.0.2:8080/", Duration::from_secs(15)).is_none() {
        panic!("http did not start:\n{}", server.output());
    }
    let out = ns.exec("curl", &["-sS", "--max-time", "10", "http://10.0.0.2:8080/hello"], T);
    assert!(out.success(), "curl failed:\n{}\n--- http:\n{}", out.text(), server.output());
    assert_eq!(out.stdout, "hello from synack's TCP: you asked for /hello\n");
}
