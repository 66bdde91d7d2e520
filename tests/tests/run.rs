//! `synack run`: unmodified Linux programs on synack's TCP through the
//! LD_PRELOAD library (apps/preload/, apps/src/run/), each test in a
//! network namespace it creates and deletes, against `synack up` on its TAP:
//!
//! 1. the host's `curl` downloads 20 MB from `synack run -- python3 -m
//!    http.server`: SHA-256 equal;
//! 2. `synack run -- curl` downloads 20 MB from `python3 -m http.server`
//!    on the host; a `curl` to a closed port fails at once with
//!    `Couldn't connect` (a non-blocking connect's `SO_ERROR`);
//! 3. `synack run -- nc -l` and `synack run -- nc 10.0.0.1 PORT`: 50 MB
//!    each way, SHA-256 equal;
//! 4. a program killed with `-9` with data unread: its peer sees a RST,
//!    exactly as from the same program on Linux's own TCP; one killed
//!    while sending: its peer sees the data, then the end; synack goes on;
//! 5. `synack run` with no `synack up`: one line, exit status 1;
//! 6. an idle program on synack and `synack up` use under 2 % of a core
//!    over 5 s (no busy polling on either side);
//! 7. the socket calls a course teaches, from one Python program
//!    (run/exercise.py), first on Linux's TCP, then on synack's;
//! 8. `netstat -p` and `ss -p` name the owning program; `stats` counts
//!    the sockets a killed program left;
//! 9. 1,000 programs started and killed leave no fd, socket or memory
//!    behind in `synack up`;
//! 10. a threaded Python echo server on synack serves 200 host clients at
//!     once (the accept queue's readiness byte, 400 relays);
//! 11. under `sudo synack up`, the user who ran sudo may `synack run`
//!     without sudo, and another user may not.
//!
//! Needs `libsynack_preload.so` next to the `synack` binary (`cargo build
//! --release --workspace --bins --lib`). Run as root; without root each
//! test prints a loud SKIPPED message (under `CI=true`, a failure).

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use synack_tests::{assert_alive, interop_allowed, pseudo_random, require_tool, synack_bin, Netns, Scratch, Synack};

const T: Duration = Duration::from_secs(20);
const BULK: Duration = Duration::from_secs(60);
const MB20: usize = 20 * 1024 * 1024;
const MB50: usize = 50 * 1024 * 1024;

fn sha(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn preload_built() {
    let lib = synack_bin().with_file_name("libsynack_preload.so");
    assert!(
        lib.is_file(),
        "{} not found: build it (`cargo build --release --workspace --bins --lib`, as tests/run.sh does)",
        lib.display()
    );
}

/// A namespace with `synack up -q` whose control socket is in `scratch`.
fn up(scratch: &Scratch) -> (Netns, Synack) {
    preload_built();
    let ns = Netns::without_ipv6();
    let mut c = ns.command(synack_bin(), &["up", "--quiet"]);
    c.env("SYNACK_RUN_DIR", scratch.run_dir());
    let s = Synack::spawn_command(c);
    assert!(s.wait_for_line("synack is up:", T).is_some(), "synack did not come up:\n{}", s.output());
    (ns, s)
}

/// `synack run -- ARGS…` in the namespace, from `dir`.
fn run_cmd(ns: &Netns, scratch: &Scratch, dir: &Path, args: &[&str]) -> Command {
    let mut all = vec!["run", "--"];
    all.extend_from_slice(args);
    let mut c = ns.command(synack_bin(), &all);
    c.env("SYNACK_RUN_DIR", scratch.run_dir()).current_dir(dir);
    c
}

/// Wait until `addr` accepts a connection from the host (a server came up).
fn wait_listening(ns: &Netns, addr: &'static str) {
    let deadline = Instant::now() + T;
    loop {
        let ok = ns
            .run_in(move || Ok(TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)).is_ok()))
            .unwrap_or(false);
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// CPU seconds (user + system) a process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime), counted from the state (field 3).
    let ticks: f64 = [11, 12].iter().filter_map(|&i| f.get(i)?.parse::<f64>().ok()).sum();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// The inode naming the calling thread's network namespace (the run
/// directory's `net-INODE`).
fn netns_inode() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino()
}

fn kill9(pid: u32) {
    // SAFETY: a signal to a process this test started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}

#[test]
fn host_curl_downloads_20mb_from_python_http_server_on_synack() {
    if !interop_allowed("host_curl_downloads_20mb_from_python_http_server_on_synack") {
        return;
    }
    require_tool("curl");
    require_tool("python3");
    let scratch = Scratch::new("run-httpd");
    let (ns, s) = up(&scratch);
    let www = scratch.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let data = pseudo_random(MB20, 14);
    std::fs::write(www.join("big"), &data).unwrap();
    let py = run_cmd(&ns, &scratch, &www, &["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"]);
    let py = Synack::spawn_command(py);
    wait_listening(&ns, "10.0.0.2:8000");
    let got = scratch.path().join("got");
    let t0 = Instant::now();
    let out =
        ns.exec("curl", &["-sS", "--max-time", "60", "-o", got.to_str().unwrap(), "http://10.0.0.2:8000/big"], BULK);
    assert!(out.success(), "curl: {}\n--- python:\n{}\n--- synack:\n{}", out.text(), py.output(), s.output());
    let got = std::fs::read(&got).unwrap();
    assert_eq!(got.len(), data.len());
    assert_eq!(sha(&got), sha(&data), "the download differs");
    println!("20 MB from python on synack in {:?}", t0.elapsed());
    assert!(py.output().contains("\"GET /big HTTP/1.1\" 200"), "python's log:\n{}", py.output());
    assert_alive(&ns, &s, "after the download");
}

#[test]
fn curl_on_synack_downloads_20mb_from_the_host() {
    if !interop_allowed("curl_on_synack_downloads_20mb_from_the_host") {
        return;
    }
    require_tool("curl");
    require_tool("python3");
    let scratch = Scratch::new("run-curl");
    let (ns, s) = up(&scratch);
    let www = scratch.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let data = pseudo_random(MB20, 41);
    std::fs::write(www.join("big"), &data).unwrap();
    let mut py = ns.command("python3", &["-m", "http.server", "8001", "--bind", "10.0.0.1"]);
    py.current_dir(&www);
    let _py = Synack::spawn_command(py);
    wait_listening(&ns, "10.0.0.1:8001");
    let got = scratch.path().join("got");
    let curl = ["curl", "-sS", "--max-time", "60", "-o", got.to_str().unwrap(), "http://10.0.0.1:8001/big"];
    let out = synack_tests::run_bounded(run_cmd(&ns, &scratch, scratch.path(), &curl), BULK).unwrap();
    assert!(out.success(), "synack run -- curl: {}\n--- synack:\n{}", out.text(), s.output());
    let got = std::fs::read(&got).unwrap();
    assert_eq!(sha(&got), sha(&data), "the download differs");
    // It went through synack: synack's TCP table saw the connection.
    // A closed port: the SYN's RST ends a non-blocking connect at once
    // (poll(POLLOUT), then SO_ERROR = ECONNREFUSED), as on Linux.
    let t0 = Instant::now();
    let refused = ["curl", "-sS", "--max-time", "10", "http://10.0.0.1:8009/"];
    let out = synack_tests::run_bounded(run_cmd(&ns, &scratch, scratch.path(), &refused), T).unwrap();
    assert_eq!(out.status.and_then(|s| s.code()), Some(7), "curl's exit for a refused connect: {}", out.text());
    assert!(out.stderr.contains("Couldn't connect to server"), "{}", out.text());
    assert!(t0.elapsed() < Duration::from_secs(5), "refused after {:?}", t0.elapsed());
    assert_alive(&ns, &s, "after curl");
}

#[test]
fn nc_on_synack_moves_50mb_each_way() {
    if !interop_allowed("nc_on_synack_moves_50mb_each_way") {
        return;
    }
    require_tool("nc");
    let scratch = Scratch::new("run-nc");
    let (ns, s) = up(&scratch);
    let data = pseudo_random(MB50, 50);
    let file = scratch.path().join("m50");
    std::fs::write(&file, &data).unwrap();

    // Host -> `synack run -- nc -l`.
    let out_path = scratch.path().join("in");
    let sh = format!("exec nc -l 9000 > {}", out_path.display());
    let mut server = Synack::spawn_command(run_cmd(&ns, &scratch, scratch.path(), &["sh", "-c", &sh]));
    wait_listening_once(&ns, None);
    let sh = format!("exec nc -N 10.0.0.2 9000 < {}", file.display());
    let out = ns.exec("sh", &["-c", &sh], BULK);
    assert!(out.success(), "host nc: {}\n--- synack:\n{}", out.text(), s.output());
    let (status, killed) = server.wait_exit(BULK);
    assert!(!killed && status.is_some(), "nc -l on synack did not end:\n{}", server.output());
    assert_eq!(sha(&std::fs::read(&out_path).unwrap()), sha(&data), "host -> nc -l on synack differs");

    // `synack run -- nc 10.0.0.1 PORT` -> the host's nc -l.
    let back = scratch.path().join("back");
    let sh = format!("exec nc -l 10.0.0.1 9001 > {}", back.display());
    let mut host = Synack::spawn_command(ns.command("sh", &["-c", &sh]));
    wait_listening_once(&ns, Some(9001));
    let sh = format!("exec nc -N 10.0.0.1 9001 < {}", file.display());
    let out = synack_tests::run_bounded(run_cmd(&ns, &scratch, scratch.path(), &["sh", "-c", &sh]), BULK).unwrap();
    assert!(out.success(), "nc on synack: {}\n--- synack:\n{}", out.text(), s.output());
    let (_, killed) = host.wait_exit(BULK);
    assert!(!killed, "the host's nc -l did not end");
    assert_eq!(sha(&std::fs::read(&back).unwrap()), sha(&data), "nc on synack -> host differs");
    assert_alive(&ns, &s, "after nc");
}

/// A one-connection server (`nc -l`) cannot be probed with a connection
/// (the probe would be its one): on the host, `ss` shows its listener; on
/// synack, give it a second to make it.
fn wait_listening_once(ns: &Netns, port: Option<u16>) {
    let Some(port) = port else {
        std::thread::sleep(Duration::from_secs(1));
        return;
    };
    let deadline = Instant::now() + T;
    while Instant::now() < deadline {
        let out = ns.exec("ss", &["-Hltn", &format!("sport = :{port}")], T);
        if !out.stdout.trim().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on port {port} on the host");
}

/// Python that accepts one connection on PORT (at ADDR), says so, and
/// never reads: a program that will die with data unread.
const NO_READER: &str = "import socket,sys,time
s=socket.socket()
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind((sys.argv[1],int(sys.argv[2])))
s.listen(1)
c,_=s.accept()
print('accepted',flush=True)
time.sleep(60)
";

fn wait_for_listen(server: &Synack) {
    assert!(
        server.wait_for_line("listening", T).is_some(),
        "the program did not start listening:\n{}",
        server.output()
    );
}

#[test]
fn a_program_killed_with_unread_data_resets_its_connection_as_on_linux() {
    if !interop_allowed("a_program_killed_with_unread_data_resets_its_connection_as_on_linux") {
        return;
    }
    require_tool("python3");
    let scratch = Scratch::new("run-kill");
    let (ns, s) = up(&scratch);
    // The same program twice: on Linux's TCP (10.0.0.1), then on synack's.
    let linux = kill_mid_read(&ns, ns.command("python3", &["-c", NO_READER, "10.0.0.1", "9100"]), "10.0.0.1:9100");
    let prog = ["python3", "-c", NO_READER, "0.0.0.0", "9100"];
    let synack = kill_mid_read(&ns, run_cmd(&ns, &scratch, scratch.path(), &prog), "10.0.0.2:9100");
    assert_eq!(linux, "ConnectionReset", "Linux's answer");
    assert_eq!(synack, linux, "synack's answer differs from Linux's\n--- synack:\n{}", s.output());
    assert_alive(&ns, &s, "after the kill");
}

/// Connect, send 200 kB the program never reads, kill it with -9 once it
/// accepted, and say what the next read gets.
fn kill_mid_read(ns: &Netns, prog: Command, addr: &'static str) -> String {
    let server = Synack::spawn_command(prog);
    let pid = server.pid();
    let deadline = Instant::now() + T;
    let mut c = loop {
        let r = ns.run_in(move || TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)));
        match r {
            Ok(c) => break c,
            Err(e) => {
                assert!(Instant::now() < deadline, "connect {addr}: {e}\n{}", server.output());
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    c.write_all(&vec![7u8; 200_000]).unwrap();
    assert!(server.wait_for_line("accepted", T).is_some(), "not accepted:\n{}", server.output());
    std::thread::sleep(Duration::from_millis(300));
    kill9(pid);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut b = [0u8; 100];
    match c.read(&mut b) {
        Ok(0) => "end of file (FIN)".to_string(),
        Ok(n) => format!("{n} bytes"),
        Err(e) => format!("{:?}", e.kind()),
    }
}

#[test]
fn a_program_killed_while_sending_ends_with_its_data_and_a_fin() {
    if !interop_allowed("a_program_killed_while_sending_ends_with_its_data_and_a_fin") {
        return;
    }
    require_tool("python3");
    let scratch = Scratch::new("run-killsend");
    let (ns, s) = up(&scratch);
    // Writes 1000 lines, then sleeps: killed, its lines are all in flight
    // or delivered, and nothing was left unread: a FIN, as on Linux.
    let prog = "import socket,time
s=socket.socket()
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(('0.0.0.0',9200))
s.listen(1)
c,_=s.accept()
for i in range(1000):
    c.sendall(b'line %d\\n' % i)
print('sent',flush=True)
time.sleep(60)
";
    let server = Synack::spawn_command(run_cmd(&ns, &scratch, scratch.path(), &["python3", "-c", prog]));
    let pid = server.pid();
    let deadline = Instant::now() + T;
    let mut c = loop {
        match ns.run_in(|| TcpStream::connect_timeout(&"10.0.0.2:9200".parse().unwrap(), Duration::from_secs(2))) {
            Ok(c) => break c,
            Err(e) => {
                assert!(Instant::now() < deadline, "connect: {e}\n{}", server.output());
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert!(server.wait_for_line("sent", T).is_some(), "{}", server.output());
    kill9(pid);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("the data, then the end, not an error");
    let want: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&got), want);
    let _ = c.shutdown(Shutdown::Both);
    assert_alive(&ns, &s, "after the kill");
}

#[test]
fn synack_run_without_synack_up_says_so_in_one_line() {
    let scratch = Scratch::new("run-noup");
    preload_built();
    let mut c = Command::new(synack_bin());
    c.args(["run", "--", "true"]).env("SYNACK_RUN_DIR", scratch.run_dir());
    let out = synack_tests::run_bounded(c, T).unwrap();
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{}", out.text());
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.text());
    assert!(out.stderr.contains("no synack up is running"), "{}", out.text());
    assert!(out.stdout.is_empty(), "{}", out.text());
    // A stale socket file (a crashed synack up) says the same, at once.
    let dir = scratch.run_dir().join(format!("net-{}", netns_inode()));
    std::fs::create_dir_all(&dir).unwrap();
    let stale = std::os::unix::net::UnixListener::bind(dir.join("tap9.sock")).unwrap();
    drop(stale);
    let mut c = Command::new(synack_bin());
    c.args(["run", "--tap", "tap9", "--", "true"]).env("SYNACK_RUN_DIR", scratch.run_dir());
    let out = synack_tests::run_bounded(c, T).unwrap();
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{}", out.text());
    assert!(out.stderr.contains("no synack up is running"), "{}", out.text());
}

#[test]
fn an_idle_program_and_synack_up_use_no_cpu() {
    if !interop_allowed("an_idle_program_and_synack_up_use_no_cpu") {
        return;
    }
    require_tool("python3");
    let scratch = Scratch::new("run-idle");
    let (ns, s) = up(&scratch);
    // A listener, an accepted connection and a connecting socket's
    // completion, all idle: blocked in the kernel, as is synack.
    let prog = "import socket,time
s=socket.socket()
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(('0.0.0.0',9300))
s.listen(8)
print('listening',flush=True)
c,_=s.accept()
c.recv(1)
";
    let server = Synack::spawn_command(run_cmd(&ns, &scratch, scratch.path(), &["python3", "-c", prog]));
    wait_for_listen(&server);
    let c = ns.run_in(|| TcpStream::connect("10.0.0.2:9300")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (p0, s0) = (cpu_seconds(server.pid()), cpu_seconds(s.pid()));
    std::thread::sleep(Duration::from_secs(5));
    let (p1, s1) = (cpu_seconds(server.pid()), cpu_seconds(s.pid()));
    let (prog_cpu, up_cpu) = ((p1 - p0) / 5.0, (s1 - s0) / 5.0);
    println!("idle: program {:.2} %, synack up {:.2} % of a core", prog_cpu * 100.0, up_cpu * 100.0);
    assert!(prog_cpu < 0.02 && up_cpu < 0.02, "busy while idle: program {prog_cpu}, synack up {up_cpu}");
    drop(c);
    assert_alive(&ns, &s, "after idling");
}

/// A threaded echo server on the host's TCP, for programs on synack.
const HOST_ECHO: &str = "import socket,socketserver,struct,sys,threading
class H(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            b=self.request.recv(65536)
            if not b: return
            self.request.sendall(b)
class R(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(1)
        self.request.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,0))
        self.request.close()
socketserver.ThreadingTCPServer.allow_reuse_address=True
socketserver.ThreadingTCPServer.daemon_threads=True
p=int(sys.argv[1])
r=socketserver.ThreadingTCPServer(('10.0.0.1',p+1),R)
threading.Thread(target=r.serve_forever,daemon=True).start()
s=socketserver.ThreadingTCPServer(('10.0.0.1',p),H)
print('listening',flush=True)
s.serve_forever()
";

#[test]
fn socket_calls_of_the_course_work_on_synack() {
    if !interop_allowed("socket_calls_of_the_course_work_on_synack") {
        return;
    }
    require_tool("python3");
    let scratch = Scratch::new("run-calls");
    let (ns, s) = up(&scratch);
    let echo = Synack::spawn_command(ns.command("python3", &["-c", HOST_ECHO, "7007"]));
    wait_for_listen(&echo);
    let script = scratch.path().join("exercise.py");
    std::fs::write(&script, include_str!("run/exercise.py")).unwrap();
    // Linux first: every answer the script expects is Linux's.
    let linux = ns.exec("python3", &[script.to_str().unwrap(), "7007", "10.0.0.1"], BULK);
    assert!(linux.success() && linux.stdout.contains("ALL OK"), "on Linux's TCP:\n{}", linux.text());
    let prog = ["python3", script.to_str().unwrap(), "7007", "10.0.0.2"];
    let out = synack_tests::run_bounded(run_cmd(&ns, &scratch, scratch.path(), &prog), BULK).unwrap();
    assert!(out.success() && out.stdout.contains("ALL OK"), "{}\n--- synack:\n{}", out.text(), s.output());
    for check in
        ["nonblocking-connect", "refused", "sockopts", "reset", "epoll-poll-mixed", "threads", "fork", "exec", "dup"]
    {
        assert!(out.stdout.contains(&format!("ok {check}\n")), "{check} missing:\n{}", out.text());
    }
    // The unsupported option left its trace line.
    assert!(s.output().contains("is not supported on synack's sockets: ENOPROTOOPT"), "{}", s.output());
    assert!(s.output().contains("send(MSG_OOB) is not supported on synack's sockets: EOPNOTSUPP"), "{}", s.output());
    assert_alive(&ns, &s, "after the calls");
}

#[test]
fn netstat_and_ss_name_the_program_and_stats_count_its_exit() {
    if !interop_allowed("netstat_and_ss_name_the_program_and_stats_count_its_exit") {
        return;
    }
    require_tool("python3");
    let scratch = Scratch::new("run-owners");
    preload_built();
    let ns = Netns::without_ipv6();
    let mut c = ns.command(synack_bin(), &["up", "--quiet"]);
    c.env("SYNACK_RUN_DIR", scratch.run_dir());
    let mut s = Synack::spawn_with_stdin(c);
    assert!(s.wait_for_line("synack is up:", T).is_some(), "{}", s.output());
    let prog = "import socket,time
s=socket.socket()
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(('0.0.0.0',9500))
s.listen(8)
print('listening',flush=True)
c,_=s.accept()
print('accepted',flush=True)
time.sleep(60)
";
    let server = Synack::spawn_command(run_cmd(&ns, &scratch, scratch.path(), &["python3", "-c", prog]));
    wait_for_listen(&server);
    let client = ns.run_in(|| TcpStream::connect("10.0.0.2:9500")).unwrap();
    assert!(server.wait_for_line("accepted", T).is_some(), "{}", server.output());
    let pid = server.pid();
    let owner = format!("{pid}/python3");
    let from = s.lines().len();
    s.send_line("netstat -ap");
    let want = |l: &str| l.starts_with("tcp") && l.contains("10.0.0.2:9500") && l.contains("ESTABLISHED");
    let at = s.wait_for(from, T, want).unwrap_or_else(|| panic!("no connection in netstat:\n{}", s.output()));
    let lines = s.lines();
    assert!(lines[at].ends_with(&owner), "netstat -p: {}", lines[at]);
    assert!(
        lines[from..].iter().any(|l| l.contains("LISTEN") && l.contains(":9500") && l.ends_with(&owner)),
        "the listener's owner:\n{}",
        lines[from..].join("\n")
    );
    let from = s.lines().len();
    s.send_line("ss -p");
    let users = format!("users:((\"python3\",pid={pid}))");
    assert!(s.wait_for(from, T, |l| l.contains(":9500") && l.contains(&users)).is_some(), "ss -p:\n{}", s.output());
    // Killed: its two sockets close as an exiting process's do; stats says so.
    kill9(pid);
    let mut c = client;
    c.set_read_timeout(Some(T)).unwrap();
    let mut b = [0u8; 10];
    assert_eq!(c.read(&mut b).unwrap(), 0, "the host sees the end (FIN: nothing was left unread)");
    // The host saw the connection's end; the listener's and the control
    // connection's hang-ups may come a turn later: ask until they show.
    let closed = |l: &str| l.starts_with("synack run:") && l.contains(", 2 closed by their program's close or exit");
    let deadline = Instant::now() + T;
    loop {
        let from = s.lines().len();
        s.send_line("stats");
        let at = s.wait_for(from, T, |l| l.starts_with("synack run:")).expect("a stats line");
        if closed(&s.lines()[at]) {
            break;
        }
        assert!(Instant::now() < deadline, "stats:\n{}", s.output());
        std::thread::sleep(Duration::from_millis(100));
    }
    let from = s.lines().len();
    s.send_line("netstat -ap");
    assert!(s.wait_for(from, T, |l| l.starts_with("Proto")).is_some());
    std::thread::sleep(Duration::from_millis(200));
    assert!(!s.lines()[from..].iter().any(|l| l.contains(&owner)), "still owned after the kill:\n{}", s.output());
}

/// The fds a process holds now.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Resident memory in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

#[test]
fn a_thousand_programs_killed_leave_nothing_behind() {
    if !interop_allowed("a_thousand_programs_killed_leave_nothing_behind") {
        return;
    }
    require_tool("python3");
    require_tool("bash");
    let scratch = Scratch::new("run-thousand");
    preload_built();
    let ns = Netns::without_ipv6();
    let mut c = ns.command(synack_bin(), &["up", "--quiet"]);
    c.env("SYNACK_RUN_DIR", scratch.run_dir());
    let mut s = Synack::spawn_with_stdin(c);
    assert!(s.wait_for_line("synack is up:", T).is_some(), "{}", s.output());
    let echo = Synack::spawn_command(ns.command("python3", &["-c", HOST_ECHO, "7007"]));
    wait_for_listen(&echo);
    // Each program: a connection (bash's /dev/tcp: socket and connect
    // through the library), a line sent, then killed with -9 (`$$` is
    // the program: `synack run` execs it).
    let one = "exec 3<>/dev/tcp/10.0.0.1/7007; echo hi >&3; kill -9 $$";
    let lp = |n: usize| format!("for i in $(seq {n}); do \"$0\" run -- bash -c '{one}'; done; echo done");
    let run = |n: usize| {
        let mut c = ns.command("bash", &["-c", &lp(n), synack_bin().to_str().unwrap()]);
        c.env("SYNACK_RUN_DIR", scratch.run_dir());
        synack_tests::run_bounded(c, Duration::from_secs(300)).unwrap()
    };
    // A warm-up, then the baseline.
    let out = run(10);
    assert!(out.stdout.contains("done") && !out.timed_out, "{}", out.text());
    std::thread::sleep(Duration::from_millis(500));
    let (fds0, rss0) = (fd_count(s.pid()), rss_kb(s.pid()));
    let t0 = Instant::now();
    let out = run(1000);
    assert!(out.stdout.contains("done") && !out.timed_out, "{}", out.text());
    println!("1000 programs in {:?}", t0.elapsed());
    std::thread::sleep(Duration::from_secs(1));
    let (fds1, rss1) = (fd_count(s.pid()), rss_kb(s.pid()));
    assert_eq!(fds1, fds0, "synack up's fds grew");
    let from = s.lines().len();
    s.send_line("stats");
    let line = |l: &str| l.starts_with("synack run:");
    let at = s.wait_for(from, T, line).unwrap_or_else(|| panic!("{}", s.output()));
    let l = s.lines()[at].clone();
    assert!(l.contains("(0 now), 1010 sockets (0 now), 1010 closed"), "{l}");
    // Memory: some growth is the allocator's; a leak of a socket per
    // program (64 KiB relay buffers and more) would be far above this.
    assert!(rss1 < rss0 + 8 * 1024, "synack up's RSS grew from {rss0} kB to {rss1} kB");
    assert_alive(&ns, &s, "after a thousand programs");
}

#[test]
fn a_threaded_echo_server_on_synack_serves_200_clients_at_once() {
    if !interop_allowed("a_threaded_echo_server_on_synack_serves_200_clients_at_once") {
        return;
    }
    require_tool("python3");
    let scratch = Scratch::new("run-c200");
    let (ns, s) = up(&scratch);
    // The host's echo server script, bound to synack's address instead,
    // with a backlog for 200 (socketserver's is 5: the rest would wait
    // for SYN retransmissions, as on Linux).
    let prog = HOST_ECHO
        .replace("'10.0.0.1'", "'0.0.0.0'")
        .replace("daemon_threads=True", "daemon_threads=True\nsocketserver.ThreadingTCPServer.request_queue_size=256");
    let server = Synack::spawn_command(run_cmd(&ns, &scratch, scratch.path(), &["python3", "-c", &prog, "7100"]));
    wait_for_listen(&server);
    let results = ns
        .run_in(|| {
            // All connected first (the accept queue fills, and drains as
            // the server accepts), then every one echoes its own message.
            let mut conns = Vec::new();
            for i in 0..200u32 {
                let c = TcpStream::connect_timeout(&"10.0.0.2:7100".parse().unwrap(), Duration::from_secs(10))?;
                c.set_read_timeout(Some(Duration::from_secs(20)))?;
                conns.push((i, c));
            }
            let handles: Vec<_> = conns
                .into_iter()
                .map(|(i, mut c)| {
                    std::thread::spawn(move || -> std::io::Result<bool> {
                        let msg = pseudo_random(10_000 + i as usize, i as u64);
                        c.write_all(&msg)?;
                        let mut got = vec![0u8; msg.len()];
                        c.read_exact(&mut got)?;
                        Ok(got == msg)
                    })
                })
                .collect();
            Ok(handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>())
        })
        .unwrap();
    let good = results.iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(good, 200, "{:?}\n--- server:\n{}", results.iter().find(|r| !matches!(r, Ok(true))), server.output());
    assert_alive(&ns, &s, "after 200 clients");
}

#[test]
fn under_sudo_the_user_who_ran_it_may_synack_run_and_no_other() {
    if !interop_allowed("under_sudo_the_user_who_ran_it_may_synack_run_and_no_other") {
        return;
    }
    require_tool("setpriv");
    let scratch = Scratch::new("run-sudo");
    preload_built();
    let ns = Netns::without_ipv6();
    // `sudo synack up` as user 65534 (nobody) would set these.
    let mut c = ns.command(synack_bin(), &["up", "--quiet"]);
    c.env("SYNACK_RUN_DIR", scratch.run_dir()).env("SUDO_UID", "65534").env("SUDO_GID", "65534");
    let s = Synack::spawn_command(c);
    assert!(s.wait_for_line("synack is up:", T).is_some(), "{}", s.output());
    let bin = synack_bin();
    let as_user = |uid: &str, args: &[&str]| {
        let mut all = vec!["--reuid", uid, "--regid", uid, "--clear-groups", bin.to_str().unwrap(), "run"];
        all.extend_from_slice(args);
        let mut c = ns.command("setpriv", &all);
        c.env("SYNACK_RUN_DIR", scratch.run_dir()).current_dir("/");
        synack_tests::run_bounded(c, T).unwrap()
    };
    // nobody: a socket on synack (bash's /dev/tcp to synack's discard
    // service, through the library).
    let out = as_user("65534", &["--", "bash", "-c", "exec 3<>/dev/tcp/10.0.0.2/9; echo hi >&3; echo connected"]);
    assert!(out.success() && out.stdout.contains("connected"), "{}\n--- synack:\n{}", out.text(), s.output());
    // Another user: refused, in one line.
    let out = as_user("65533", &["--", "true"]);
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{}", out.text());
    assert!(out.stderr.contains("no synack up is running"), "{}", out.text());
    assert_alive(&ns, &s, "after the users");
}

#[test]
fn a_stale_control_socket_is_replaced() {
    if !interop_allowed("a_stale_control_socket_is_replaced") {
        return;
    }
    require_tool("bash");
    let scratch = Scratch::new("run-stale");
    preload_built();
    let ns = Netns::without_ipv6();
    // A crashed synack up's socket file: there, and nobody answers.
    let dir = scratch.run_dir().join(format!("net-{}", ns.run_in(|| Ok(netns_inode())).unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    drop(std::os::unix::net::UnixListener::bind(dir.join("tap0.sock")).unwrap());
    let mut c = ns.command(synack_bin(), &["up", "--quiet"]);
    c.env("SYNACK_RUN_DIR", scratch.run_dir());
    let s = Synack::spawn_command(c);
    assert!(s.wait_for_line("synack is up:", T).is_some(), "{}", s.output());
    assert!(!s.output().contains("synack run not available"), "{}", s.output());
    let prog = ["bash", "-c", "exec 3<>/dev/tcp/10.0.0.2/9; echo hi >&3; echo connected"];
    let out = synack_tests::run_bounded(run_cmd(&ns, &scratch, scratch.path(), &prog), T).unwrap();
    assert!(out.success() && out.stdout.contains("connected"), "{}\n--- synack:\n{}", out.text(), s.output());
}
