//! The C examples of `examples/c/` (issue 14, item 5), built with `cc`
//! into a scratch directory and run on synack through `synack run`, each
//! test in a network namespace it creates and deletes:
//!
//! 1. every echo server (`echo_iterative`, `echo_select`, `echo_epoll_et`,
//!    `echo_fork`, `echo_threads`) serves the host's `nc`, byte for byte;
//! 2. the select, epoll, fork and thread servers serve 200 host clients
//!    at once (all connected first), every echo byte-exact, and a client
//!    that sends 8 MB and reads its echo only a second later (the
//!    server's writes fill the socket: partial writes, `EAGAIN`);
//!    synack's `tcp_passive_opens` counted them all;
//! 3. `echo_select`, started with fds 10 to 1030 taken, refuses (closes)
//!    the clients whose fd would be past `FD_SETSIZE` and serves the
//!    others;
//! 4. `client_nonblock_connect` on synack prints what it prints on Linux's
//!    own TCP (run first): against a host echo server (`EINPROGRESS`,
//!    `POLLOUT`, `SO_ERROR` 0, the echo) and against a closed port
//!    (`ECONNREFUSED`, exit status 1);
//! 5. `echo_fork`: the parent closed its copy of the connection (its fds
//!    are what they were before the client came), the connection lives
//!    on in the child, and ends (FIN) when the child closes; the child is
//!    reaped (no zombie).
//!
//! Needs `cc` and `libsynack_preload.so` next to the `synack` binary
//! (`cargo build --release --workspace --bins --lib`). Run as root;
//! without root each test prints a loud SKIPPED message (under `CI=true`,
//! a failure).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use synack_tests::{assert_alive, interop_allowed, pseudo_random, require_tool, synack_bin, Netns, Scratch, Synack};

const T: Duration = Duration::from_secs(20);
const BULK: Duration = Duration::from_secs(60);
/// Concurrent host clients for the select, epoll, fork and thread servers.
const CLIENTS: u32 = 200;

/// The slow reader's bytes: far more than the socketpair, the stack's
/// send buffer and the host's receive window hold together.
const BIG: usize = 8 * 1024 * 1024;
/// How long the slow reader lets the echo pile up before it reads.
const READER_DELAY: Duration = Duration::from_secs(1);

/// The examples, as `examples/c/Makefile` lists them.
const PROGRAMS: &[&str] =
    &["echo_iterative", "echo_select", "echo_epoll_et", "echo_fork", "echo_threads", "client_nonblock_connect"];

/// The built program `name` in `scratch`.
fn prog(scratch: &Scratch, name: &str) -> String {
    scratch.path().join(name).to_str().unwrap().to_string()
}

/// Build every example with the Makefile's flags into `scratch`; a
/// warning is a failure (the examples are what students copy).
fn build(scratch: &Scratch) {
    // Rust's own linking needs it, so it is there wherever the tests build.
    if synack_tests::tool_path("cc").is_err() {
        panic!("cc is not installed: the C examples need a C compiler (Debian: apt-get install gcc)");
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/c");
    for p in PROGRAMS {
        let c_file = src.join(format!("{p}.c"));
        let mut c = Command::new("cc");
        c.args(["-Wall", "-Wextra", "-Werror", "-O2", "-pthread", "-o", &prog(scratch, p)]).arg(&c_file);
        let out = synack_tests::run_bounded(c, BULK).unwrap();
        assert!(out.success(), "cc {}: {}", c_file.display(), out.text());
    }
}

/// A namespace with `synack up -q` whose control socket is in `scratch`,
/// and the examples built there.
fn up(scratch: &Scratch) -> (Netns, Synack) {
    let lib = synack_bin().with_file_name("libsynack_preload.so");
    assert!(lib.is_file(), "{} not found: `cargo build --release --workspace --bins --lib`", lib.display());
    build(scratch);
    let ns = Netns::without_ipv6();
    let mut c = ns.command(synack_bin(), &["up", "--quiet"]);
    c.env("SYNACK_RUN_DIR", scratch.run_dir());
    let s = Synack::spawn_command(c);
    assert!(s.wait_for_line("synack is up:", T).is_some(), "synack did not come up:\n{}", s.output());
    (ns, s)
}

/// `synack run -- ARGS…` in the namespace.
fn run_cmd(ns: &Netns, scratch: &Scratch, args: &[&str]) -> Command {
    let mut all = vec!["run", "--"];
    all.extend_from_slice(args);
    let mut c = ns.command(synack_bin(), &all);
    c.env("SYNACK_RUN_DIR", scratch.run_dir()).current_dir(scratch.path());
    c
}

/// Start example `name` on synack on `port`; wait for its `listening` line.
fn serve_on_synack(ns: &Netns, scratch: &Scratch, name: &str, port: u16) -> Synack {
    let port = port.to_string();
    let server = Synack::spawn_command(run_cmd(ns, scratch, &[&prog(scratch, name), &port]));
    assert!(
        server.wait_for_line("listening on port", T).is_some(),
        "{name} did not start listening:\n{}",
        server.output()
    );
    server
}

/// The host's `nc` sends a line and half-closes (`-N`); the server echoes
/// it and closes; `nc` prints what came back.
fn nc_echo(ns: &Netns, port: u16, line: &str) -> String {
    let sh = format!("printf '%s\\n' \"$1\" | nc -N -w 10 10.0.0.2 {port}");
    let out = ns.exec("sh", &["-c", &sh, "sh", line], T);
    assert!(out.success(), "nc: {}", out.text());
    out.stdout
}

/// CLIENTS host clients, all connected before any sends, then each on a
/// thread of its own writes a message of its own and reads it back.
/// Returns how many echoes came back byte-exact, and the first failure.
fn many_clients(ns: &Netns, port: u16) -> (usize, Option<String>) {
    let results = ns
        .run_in(move || {
            let addr = format!("10.0.0.2:{port}").parse().unwrap();
            let mut conns = Vec::new();
            for i in 0..CLIENTS {
                let c = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
                c.set_read_timeout(Some(T))?;
                c.set_write_timeout(Some(T))?;
                conns.push((i, c));
            }
            let threads: Vec<_> = conns
                .into_iter()
                .map(|(i, mut c)| {
                    std::thread::spawn(move || -> Result<(), String> {
                        let msg = pseudo_random(10_000 + 37 * i as usize, 1000 + i as u64);
                        c.write_all(&msg).map_err(|e| format!("client {i} write: {e}"))?;
                        c.shutdown(Shutdown::Write).map_err(|e| format!("client {i} shutdown: {e}"))?;
                        let mut got = Vec::new();
                        c.read_to_end(&mut got).map_err(|e| format!("client {i} read: {e}"))?;
                        if got != msg {
                            return Err(format!(
                                "client {i}: sent {} bytes, got {} back, differing",
                                msg.len(),
                                got.len()
                            ));
                        }
                        Ok(())
                    })
                })
                .collect();
            Ok(threads.into_iter().map(|t| t.join().unwrap_or_else(|_| Err("panicked".into()))).collect::<Vec<_>>())
        })
        .unwrap_or_else(|e| panic!("the clients: {e}"));
    let good = results.iter().filter(|r| r.is_ok()).count();
    (good, results.into_iter().find_map(|r| r.err()))
}

/// A client that sends BIG bytes and starts reading its echo only after
/// READER_DELAY: the server's writes meet a full socket (a partial write,
/// then `EAGAIN` for the non-blocking server), it must keep what it could
/// not write and stop reading, and the echo still comes back byte-exact.
fn slow_reader(ns: &Netns, port: u16) -> Result<(), String> {
    ns.run_in(move || {
        let addr = format!("10.0.0.2:{port}").parse().unwrap();
        let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        c.set_read_timeout(Some(T))?;
        c.set_write_timeout(Some(BULK))?;
        let msg = pseudo_random(BIG, 77);
        let mut w = c.try_clone()?;
        let sent = msg.clone();
        let writer = std::thread::spawn(move || -> std::io::Result<()> {
            w.write_all(&sent)?;
            w.shutdown(Shutdown::Write)
        });
        std::thread::sleep(READER_DELAY);
        let mut got = Vec::new();
        let r = c.read_to_end(&mut got);
        let wr = writer.join().unwrap_or_else(|_| Err(std::io::Error::other("writer panicked")));
        Ok(match (r, wr) {
            (Err(e), _) => Err(format!("read: {e} after {} bytes", got.len())),
            (_, Err(e)) => Err(format!("write: {e}")),
            _ if got != msg => Err(format!("sent {} bytes, got {} back, differing", msg.len(), got.len())),
            _ => Ok(()),
        })
    })
    .unwrap_or_else(|e| Err(format!("connect: {e}")))
}

/// One server: the host's `nc` (three in turn), then, if `concurrent`,
/// CLIENTS clients at once and a slow reader of BIG bytes.
fn echo_server_test(test: &str, name: &str, port: u16, concurrent: bool) {
    if !interop_allowed(test) {
        return;
    }
    require_tool("nc");
    let scratch = Scratch::new(&format!("cex-{name}"));
    let (ns, s) = up(&scratch);
    let server = serve_on_synack(&ns, &scratch, name, port);
    for i in 0..3 {
        let line = format!("hello {i} from the host's nc to {name} on synack");
        let got = nc_echo(&ns, port, &line);
        assert_eq!(
            got,
            format!("{line}\n"),
            "{name}'s echo\n--- server:\n{}\n--- synack:\n{}",
            server.output(),
            s.output()
        );
    }
    if concurrent {
        let t0 = Instant::now();
        let (good, fail) = many_clients(&ns, port);
        assert_eq!(good, CLIENTS as usize, "{fail:?}\n--- server:\n{}\n--- synack:\n{}", server.output(), s.output());
        println!("{name} on synack: {CLIENTS} concurrent clients echoed in {:?}", t0.elapsed());
        let r = slow_reader(&ns, port);
        assert!(
            r.is_ok(),
            "{name}, a slow reader: {r:?}\n--- server:\n{}\n--- synack:\n{}",
            server.output(),
            s.output()
        );
    }
    // They were synack's connections: its TCP accepted every one.
    let want = 3 + if concurrent { CLIENTS as u64 + 1 } else { 0 };
    let opens = s.stats().counter("tcp_passive_opens");
    assert!(opens >= want, "synack's tcp_passive_opens is {opens}, want at least {want}");
    assert_alive(&ns, &s, &format!("after {name}"));
}

#[test]
fn echo_iterative_serves_the_hosts_nc() {
    echo_server_test("echo_iterative_serves_the_hosts_nc", "echo_iterative", 7001, false);
}

#[test]
fn echo_select_serves_nc_and_200_clients_at_once() {
    echo_server_test("echo_select_serves_nc_and_200_clients_at_once", "echo_select", 7002, true);
}

#[test]
fn echo_epoll_et_serves_nc_and_200_clients_at_once() {
    echo_server_test("echo_epoll_et_serves_nc_and_200_clients_at_once", "echo_epoll_et", 7003, true);
}

#[test]
fn echo_fork_serves_nc_and_200_clients_at_once() {
    echo_server_test("echo_fork_serves_nc_and_200_clients_at_once", "echo_fork", 7004, true);
}

#[test]
fn echo_threads_serves_nc_and_200_clients_at_once() {
    echo_server_test("echo_threads_serves_nc_and_200_clients_at_once", "echo_threads", 7005, true);
}

/// `echo_select` started with fds 10 to 1030 taken (bash's `exec {fd}<`):
/// its listener and first clients get the free fds below 10, later ones an
/// fd past `FD_SETSIZE` (1024), which the program must refuse (close)
/// instead of writing past its `fd_set`.
const HIGH_FDS: &str = "ulimit -n 4096 && for i in $(seq 1021); do exec {fd}</dev/null; done; exec \"$0\" \"$@\"";

#[test]
fn echo_select_refuses_a_client_past_fd_setsize() {
    if !interop_allowed("echo_select_refuses_a_client_past_fd_setsize") {
        return;
    }
    require_tool("bash");
    let scratch = Scratch::new("cex-fdsetsize");
    let (ns, s) = up(&scratch);
    let prog = prog(&scratch, "echo_select");
    let server = Synack::spawn_command(run_cmd(&ns, &scratch, &["bash", "-c", HIGH_FDS, &prog, "7006"]));
    assert!(server.wait_for_line("listening on port", T).is_some(), "echo_select:\n{}", server.output());
    // Clients one after another, each kept open: an echo while there are
    // fds below 10, then refusals.
    let (echoed, refused, first) = ns
        .run_in(|| {
            let (mut echoed, mut refused) = (0, 0);
            let mut open = Vec::new();
            for i in 0..12 {
                let mut c = TcpStream::connect("10.0.0.2:7006")?;
                c.set_read_timeout(Some(T))?;
                let line = format!("client {i}\n");
                let mut got = vec![0u8; line.len()];
                // A refused client reads the end (FIN) or a reset (our
                // line arrived before its close).
                let r = c.write_all(line.as_bytes()).and_then(|()| c.read_exact(&mut got));
                match r {
                    Ok(()) if got == line.as_bytes() => echoed += 1,
                    Ok(()) => return Err(std::io::Error::other(format!("client {i}: {got:?}"))),
                    Err(_) => refused += 1,
                }
                open.push(c);
            }
            // The first client, still served after the refusals.
            let line = b"still here\n";
            open[0].write_all(line)?;
            let mut got = [0u8; 11];
            open[0].read_exact(&mut got)?;
            Ok((echoed, refused, got == *line))
        })
        .unwrap_or_else(|e| panic!("{e}\n--- server:\n{}\n--- synack:\n{}", server.output(), s.output()));
    println!("echo_select with fds 10..1030 taken: {echoed} clients echoed, {refused} refused");
    assert!(echoed >= 1 && refused >= 1 && echoed + refused == 12, "{echoed} echoed, {refused} refused");
    assert!(first, "the first client is no longer served");
    assert!(
        server.wait_for(0, T, |l| l.starts_with("stderr: fd 10") && l.ends_with(">= FD_SETSIZE: refused")).is_some(),
        "no refusal in the program's output:\n{}",
        server.output()
    );
    assert_alive(&ns, &s, "after the refusals");
}

/// A threaded echo server on the host's TCP (Linux's), for the client.
const HOST_ECHO: &str = "import socketserver,sys
class H(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            b=self.request.recv(65536)
            if not b: return
            self.request.sendall(b)
socketserver.ThreadingTCPServer.allow_reuse_address=True
socketserver.ThreadingTCPServer.daemon_threads=True
s=socketserver.ThreadingTCPServer(('10.0.0.1',int(sys.argv[1])),H)
print('listening',flush=True)
s.serve_forever()
";

#[test]
fn the_nonblocking_client_says_on_synack_what_it_says_on_linux() {
    if !interop_allowed("the_nonblocking_client_says_on_synack_what_it_says_on_linux") {
        return;
    }
    require_tool("python3");
    let scratch = Scratch::new("cex-client");
    let (ns, s) = up(&scratch);
    let echo = Synack::spawn_command(ns.command("python3", &["-c", HOST_ECHO, "7010"]));
    assert!(echo.wait_for_line("listening", T).is_some(), "the host's echo server:\n{}", echo.output());
    let client = prog(&scratch, "client_nonblock_connect");
    // (port, what the client must end with, its exit status)
    let cases = [("7010", "echo: hello from a non-blocking connect\n", 0), ("7011", "connect: ECONNREFUSED\n", 1)];
    for (port, tail, code) in cases {
        // Linux first: the same program on the host's own TCP.
        let mut c = ns.command(&client, &[port, "10.0.0.1"]);
        c.current_dir(scratch.path());
        let linux = synack_tests::run_bounded(c, T).unwrap();
        assert_eq!(linux.status.and_then(|s| s.code()), Some(code), "on Linux: {}", linux.text());
        assert!(linux.stdout.starts_with("connect: EINPROGRESS"), "on Linux: {}", linux.text());
        assert!(linux.stdout.ends_with(tail), "on Linux: {}", linux.text());
        // Then on synack: the same words, the same status.
        let t0 = Instant::now();
        let out = synack_tests::run_bounded(run_cmd(&ns, &scratch, &[&client, port, "10.0.0.1"]), T).unwrap();
        assert_eq!(
            (out.status.and_then(|s| s.code()), out.stdout.as_str()),
            (linux.status.and_then(|s| s.code()), linux.stdout.as_str()),
            "port {port}: synack differs from Linux: {}\n--- synack:\n{}",
            out.text(),
            s.output()
        );
        // A refused connect ends with the SYN's RST, not a timeout.
        assert!(t0.elapsed() < Duration::from_secs(4), "port {port}: {:?}", t0.elapsed());
        println!("port {port}, Linux and synack both say:\n{}", out.stdout);
    }
    assert_alive(&ns, &s, "after the client");
}

/// The descriptors process `pid` holds, as `readlink` shows them
/// (`socket:[1234]`, `pipe:[…]`, `/dev/null`).
fn fds(pid: u32) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten().filter_map(|e| std::fs::read_link(e.path()).ok()).map(|p| p.display().to_string()).collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The children of process `pid` (its main thread's).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect()
}

#[test]
fn echo_fork_parent_closes_its_copy_and_the_child_ends_the_connection() {
    if !interop_allowed("echo_fork_parent_closes_its_copy_and_the_child_ends_the_connection") {
        return;
    }
    let scratch = Scratch::new("cex-fork");
    let (ns, s) = up(&scratch);
    let server = serve_on_synack(&ns, &scratch, "echo_fork", 7020);
    // `ip netns exec` and `synack run` exec: this pid is the parent's.
    let parent = server.pid();
    let before = fds(parent);
    let mut c = ns.run_in(|| TcpStream::connect("10.0.0.2:7020")).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    let echo = |c: &mut TcpStream, line: &[u8]| {
        c.write_all(line).unwrap();
        let mut got = vec![0u8; line.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, line);
    };
    echo(&mut c, b"one\n");
    // The child serves; the parent holds what it held before the client.
    let deadline = Instant::now() + T;
    let child = loop {
        if let [child] = children(parent)[..] {
            break child;
        }
        assert!(Instant::now() < deadline, "no child of {parent}: {:?}", children(parent));
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(fds(parent), before, "the parent did not close its copy of the connection");
    let child_sockets = fds(child).iter().filter(|f| f.starts_with("socket:")).count();
    assert!(child_sockets >= 1, "the child holds no socket: {:?}", fds(child));
    // The parent's close did not end the connection: it lives in the child.
    std::thread::sleep(Duration::from_millis(300));
    echo(&mut c, b"two, after the parent's close\n");
    // Our end of file: the child reads 0, closes its (last) copy: FIN.
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).expect("the end (FIN) after the child's close, not an error");
    assert!(rest.is_empty(), "unexpected bytes: {rest:?}");
    // And the parent reaped it (SIGCHLD, waitpid): no zombie left.
    let deadline = Instant::now() + T;
    while !children(parent).is_empty() {
        assert!(Instant::now() < deadline, "child {child} not reaped: {:?}", children(parent));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(fds(parent), before, "the parent's fds after the child's end");
    // The parent still serves.
    assert_eq!(nc_echo(&ns, 7020, "again"), "again\n", "{}", server.output());
    assert_alive(&ns, &s, "after the fork server");
}
