//! The interop harness: real Linux tools against synack, each test in a
//! network namespace of its own.
//!
//! - [`Netns`]: a namespace with a unique name (`synack-t-<pid>-<n>`); run
//!   commands inside with `ip netns exec`, bounded in time; deleted on Drop
//!   (also when a test panics), after killing, by PID, whatever still runs
//!   in it (only processes this test started can live there).
//! - [`Synack`]: a `synack up` (or `synack ping`) process inside a namespace,
//!   its stdout collected line by line by a reader thread; `wait_for_line`,
//!   `stats()` (SIGUSR1, then parse the block it prints); killed on Drop.
//!   [`Synack::spawn_at_terminal`] gives it a terminal (a pty) for standard
//!   input, so that `type_line` can type at its prompt as a student does.
//! - [`RawSocket`]: an AF_PACKET socket on the host side of `tap0`, opened
//!   from a thread that `setns()`ed into the namespace, to inject frames.
//! - [`interop_allowed`]: skip loudly when not root; under `CI=true` a
//!   missing capability is a failure, never a skip.
//! - [`require_tool`] / [`tool_path`]: the tools the tests drive, in the
//!   implementation they are written for ([`IMPLEMENTATIONS`]).
//! - [`tshark`]: what Wireshark's dissectors say about a capture.
//!
//! Nothing here touches the default namespace's interfaces, and every wait
//! is bounded in count and time.

pub mod tree;
pub mod tshark;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

// ------------------------------------------------------------ privileges

/// True when running under CI (`CI=true`): nothing may be skipped there.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether an interop test may run. Not root: print a loud skip message
/// and return false, except under CI, where it panics (CI runs as root; a
/// skip there would hide every interop test).
pub fn interop_allowed(test: &str) -> bool {
    if is_root() {
        return true;
    }
    let msg = format!("interop test {test} needs root (network namespaces, TAP devices): run `sudo tests/run.sh`");
    if in_ci() {
        panic!("{msg} (CI=true: refusing to skip)");
    }
    // Straight to the stderr handle: libtest captures eprintln! of passing tests.
    let bar = "!".repeat(72);
    let _ = writeln!(io::stderr(), "\n{bar}\n!!! SKIPPED: {msg}\n{bar}\n");
    false
}

// ------------------------------------------------------------- tools

/// A tool whose options or output differ between implementations, and the
/// one the tests are written for. Debian alone has two `arping`s (iputils'
/// and Thomas Habets'), two `ping`s (iputils, inetutils), three `nc`s
/// (OpenBSD's, the traditional one, nmap's `ncat`) and two `telnet`s: the
/// tests read one implementation's wording and pass its options.
pub struct Implementation {
    /// The command the tests (and the book's labs) type.
    pub tool: &'static str,
    /// Where to look for it, in order: an implementation-specific name
    /// first (`nc.openbsd`), then the plain command.
    pub names: &'static [&'static str],
    /// Arguments that make it say who it is, and what it must say.
    pub probe: &'static [&'static str],
    pub marker: &'static str,
    /// The Debian package that installs it (`tests/run.sh` installs it).
    pub package: &'static str,
}

/// The tools the tests drive, with the implementation each one expects.
/// `tests/run.sh` has the same table (`TOOLS`, `PROBE`, `NAMES`): keep them
/// together.
pub const IMPLEMENTATIONS: &[Implementation] = &[
    // `Unicast reply from`, `-w` as a deadline.
    Implementation { tool: "arping", names: &["arping"], probe: &["-V"], marker: "iputils", package: "iputils-arping" },
    // `N received` in the summary, `-W` as the reply timeout, `-i 0.04`.
    Implementation { tool: "ping", names: &["ping"], probe: &["-V"], marker: "iputils", package: "iputils-ping" },
    // `-N` (shutdown on EOF), `-l ADDR PORT`, `-z`.
    Implementation {
        tool: "nc",
        names: &["nc.openbsd", "nc"],
        probe: &["-h"],
        marker: "OpenBSD netcat",
        package: "netcat-openbsd",
    },
    // `Connection closed by foreign host.` on stderr.
    Implementation {
        tool: "telnet",
        names: &["inetutils-telnet", "telnet"],
        probe: &["--version"],
        marker: "GNU inetutils",
        package: "inetutils-telnet",
    },
    Implementation { tool: "ip", names: &["ip"], probe: &["-V"], marker: "iproute2", package: "iproute2" },
    Implementation { tool: "ss", names: &["ss"], probe: &["-V"], marker: "iproute2", package: "iproute2" },
];

/// Every `name` in the folders of `path` (a PATH), first first.
fn on_path<'a>(path: &'a std::ffi::OsStr, name: &'a str) -> impl Iterator<Item = PathBuf> + 'a {
    std::env::split_paths(path).map(move |d| d.join(name)).filter(|p| p.is_file())
}

/// The path of the implementation of `tool` the tests expect, or why there
/// is none. Tools without an entry in [`IMPLEMENTATIONS`] only need to be on
/// the PATH.
pub fn tool_path(tool: &str) -> Result<PathBuf, String> {
    static FOUND: Mutex<BTreeMap<String, Result<PathBuf, String>>> = Mutex::new(BTreeMap::new());
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    let path = std::env::var_os("PATH").unwrap_or_default();
    found.entry(tool.to_string()).or_insert_with(|| find_implementation(tool, &path)).clone()
}

/// [`tool_path`] on the PATH `path`.
fn find_implementation(tool: &str, path: &std::ffi::OsStr) -> Result<PathBuf, String> {
    let Some(imp) = IMPLEMENTATIONS.iter().find(|i| i.tool == tool) else {
        return on_path(path, tool).next().ok_or_else(|| {
            format!("{tool} is not installed: run tests/run.sh as root (it installs what the tests need)")
        });
    };
    let mut seen = Vec::new();
    for found in imp.names.iter().flat_map(|n| on_path(path, n)) {
        let mut c = Command::new(&found);
        c.args(imp.probe);
        let said = run_bounded(c, Duration::from_secs(5)).map(|o| o.stdout + &o.stderr).unwrap_or_default();
        if said.contains(imp.marker) {
            return Ok(found);
        }
        seen.push(format!(
            "{} ({})",
            found.display(),
            said.lines().find(|l| !l.trim().is_empty()).unwrap_or("says nothing").trim()
        ));
    }
    Err(format!(
        "the tests need {}'s {tool} (`{tool} {}` says {:?}), from the package {}; found {}: \
         run tests/run.sh as root (it installs it)",
        imp.package,
        imp.probe.join(" "),
        imp.marker,
        imp.package,
        if seen.is_empty() { "none".to_string() } else { seen.join(", ") }
    ))
}

/// Is `tool` installed, in the implementation the tests expect? Interop
/// tests need iproute2, ping, arping, nc, telnet, tshark, tcpdump;
/// `tests/run.sh` installs them. Missing is a failure.
pub fn require_tool(tool: &str) {
    if let Err(e) = tool_path(tool) {
        panic!("{e}");
    }
}

/// A folder of links, one per tool of [`IMPLEMENTATIONS`] found, to the
/// implementation the tests expect (`nc` → `/usr/bin/nc.openbsd`). Commands
/// run in a namespace see it first on their PATH, so `nc` in a test (or in
/// a lab's shell line) is OpenBSD's even where `nc` is another netcat.
fn tool_links() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        // One folder per test process; those of processes that are gone go.
        let tmp = std::env::temp_dir();
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name();
            let pid = name.to_str().and_then(|n| n.strip_prefix("synack-tools-")).and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| p != std::process::id() && !std::path::Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = tmp.join(format!("synack-tools-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        for imp in IMPLEMENTATIONS {
            if let Ok(path) = tool_path(imp.tool) {
                let link = dir.join(imp.tool);
                let _ = std::fs::remove_file(&link);
                let _ = std::os::unix::fs::symlink(path, link);
            }
        }
        dir
    })
}

/// PATH with [`tool_links`] first.
fn tools_path() -> std::ffi::OsString {
    let mut dirs = vec![tool_links().to_path_buf()];
    dirs.extend(std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default());
    std::env::join_paths(dirs).unwrap_or_default()
}

/// `tool`, ready to run outside any namespace: the implementation the
/// tests expect (see [`tool_path`]; panics when it is missing).
pub fn tool_command(tool: &str) -> Command {
    Command::new(tool_path(tool).unwrap_or_else(|e| panic!("{e}")))
}

/// Is process `pid` running (present and not a zombie)?
pub fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S …`: the state follows the last ')'.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Deterministic, incompressible-looking bytes (xorshift64*): test payloads.
pub fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        v.extend_from_slice(&seed.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(len);
    v
}

// --------------------------------------------------------- the binary

/// The `synack` binary: `$SYNACK_BIN`, or next to the test executable
/// (`target/<profile>/deps/<test>` → `target/<profile>/synack`).
pub fn synack_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SYNACK_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test binary has a directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("synack");
    assert!(
        bin.is_file(),
        "{} not found: build it first (`cargo build --release --workspace --bins`, as tests/run.sh does) \
         or set SYNACK_BIN",
        bin.display()
    );
    bin
}

// ------------------------------------------------------------ Scratch

/// A scratch directory of a test's own (`$TMPDIR/synack-<what>-<pid>`: the
/// programs it builds, the files it serves), removed on Drop (also when
/// the test panics).
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("synack-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        Scratch(d)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// `synack run`'s run directory (`SYNACK_RUN_DIR`): each test its own,
    /// so tests in parallel namespaces, each with a `tap0`, never share a
    /// control socket.
    pub fn run_dir(&self) -> PathBuf {
        self.0.join("run")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ------------------------------------------------------ bounded commands

pub use device::netns::{run_bounded, Output};
use device::netns::{signal, wait_bounded};

// ------------------------------------------------------------- Netns

static NETNS_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A network namespace of our own (`device::netns::Netns`, which the bench
/// uses too), deleted on Drop. Its commands see the tools the tests expect
/// first on their PATH ([`IMPLEMENTATIONS`]); a failure to set it up or to
/// run a command in it fails the test.
pub struct Netns(device::netns::Netns);

impl Netns {
    /// `ip netns add synack-t-<pid>-<n>`, with its loopback up.
    pub fn create() -> Netns {
        let n = NETNS_SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("synack-t-{}-{n}", std::process::id());
        let ns = device::netns::Netns::create(&name).unwrap_or_else(|e| panic!("ip netns add {name}: {e}"));
        Netns(ns.with_path(tools_path()))
    }

    /// A namespace with IPv6 off: the host's router solicitations and MLD
    /// reports do not mix into counts and captures.
    pub fn without_ipv6() -> Netns {
        require_tool("ip");
        let ns = Netns::create();
        ns.sysctl("net.ipv6.conf.default.disable_ipv6=1");
        ns
    }

    /// `sysctl -qw SETTING` inside, which must succeed.
    pub fn sysctl(&self, setting: &str) {
        let out = self.exec("sysctl", &["-qw", setting], Duration::from_secs(10));
        assert!(out.success(), "sysctl {setting} in {}: {}", self.name(), out.text());
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// `ip netns exec NAME prog args…`, not yet started. `prog` is looked
    /// up on a PATH that has the implementations the tests expect first
    /// ([`IMPLEMENTATIONS`]), for `sh -c` lines too.
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
        self.0.command(prog, args)
    }

    /// Run a command inside, at most `timeout`, and return its output.
    pub fn exec(&self, prog: &str, args: &[&str], timeout: Duration) -> Output {
        self.0.exec(prog, args, timeout).unwrap_or_else(|e| panic!("run {prog} in {}: {e}", self.name()))
    }

    /// Run `f` on a thread that has joined this namespace (`setns`): sockets
    /// it creates live in the namespace, whichever thread uses them later.
    pub fn run_in<T: Send + 'static>(&self, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
        self.0.run(f)
    }
}

/// A namespace (IPv6 off) with `synack up --quiet EXTRA…` on its tap0.
pub fn synack_ns(extra: &[&str]) -> (Netns, Synack) {
    let ns = Netns::without_ipv6();
    let s = Synack::up(&ns, &[&["--quiet"], extra].concat());
    (ns, s)
}

/// A namespace without synack (a `synack connect` makes its own TAP), IPv6
/// off, in which the host may bind 10.0.0.1 before the TAP gives it that
/// address.
pub fn connect_ns() -> Netns {
    let ns = Netns::without_ipv6();
    ns.sysctl("net.ipv4.ip_nonlocal_bind=1");
    ns
}

/// `synack_ns`, with synack's standard input a pipe (`Synack::send_line`).
pub fn synack_ns_with_stdin(extra: &[&str]) -> (Netns, Synack) {
    let ns = Netns::without_ipv6();
    let s = Synack::up_with_stdin(&ns, &[&["--quiet"], extra].concat());
    (ns, s)
}

/// synack still runs and answers the host's ping.
pub fn assert_alive(ns: &Netns, s: &Synack, what: &str) {
    assert!(running(s.pid()), "{what}: synack (pid {}) is no longer running:\n{}", s.pid(), s.output());
    let out = ns.exec("ping", &["-c", "1", "-W", "2", "10.0.0.2"], Duration::from_secs(20));
    assert!(
        out.success(),
        "{what}: synack does not answer ping afterwards:\n{}\n--- synack:\n{}",
        out.text(),
        s.output()
    );
}

// ------------------------------------------------------------- Synack

/// synack's `stats` block: counters and drops by name (absent means 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub counters: BTreeMap<String, u64>,
    pub drops: BTreeMap<String, u64>,
}

impl StatsSnapshot {
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
    pub fn dropped(&self, reason: &str) -> u64 {
        self.drops.get(reason).copied().unwrap_or(0)
    }
    pub fn total_drops(&self) -> u64 {
        self.drops.values().sum()
    }
    /// Drops that no counter explains: a duplicate segment below RCV.NXT
    /// is dropped as not acceptable but answered with a D-SACK (RFC 2883),
    /// which Linux's tail loss probe makes happen on a clean link too;
    /// those are subtracted.
    pub fn unexplained_drops(&self) -> u64 {
        let dups = self.dropped("tcp_seq_not_acceptable").min(self.counter("tcp_dsack_sent"));
        self.total_drops() - dups
    }

    /// Parse the block synack prints on SIGUSR1 and at exit:
    /// `counters:` / `  name: n` … / `drops:` / `  name: n` ….
    /// Returns None if `lines` holds no complete block.
    pub fn parse(lines: &[String]) -> Option<StatsSnapshot> {
        let start = lines.iter().position(|l| l == "counters:")?;
        let mut snap = StatsSnapshot::default();
        let mut in_drops = false;
        let mut saw_drops = false;
        for l in &lines[start + 1..] {
            if l == "drops:" && !in_drops {
                in_drops = true;
                saw_drops = true;
                continue;
            }
            let Some((name, n)) = parse_stat_line(l) else { break };
            let map = if in_drops { &mut snap.drops } else { &mut snap.counters };
            map.insert(name.to_string(), n);
        }
        saw_drops.then_some(snap)
    }
}

/// `  name: 12` → ("name", 12); anything else (a frame line, an event) → None.
fn parse_stat_line(l: &str) -> Option<(&str, u64)> {
    let rest = l.strip_prefix("  ")?;
    let (name, n) = rest.split_once(": ")?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return None;
    }
    Some((name, n.parse().ok()?))
}

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    closed: bool,
}

/// A synack process inside a namespace; killed (by PID) on Drop.
pub struct Synack {
    child: Child,
    shared: Arc<(Mutex<Lines>, Condvar)>,
    readers: Vec<JoinHandle<()>>,
    /// The master side of the pty that is the process's standard input.
    terminal: Option<File>,
    /// Standard input, when started with `up_with_stdin`/`spawn_with_stdin`.
    stdin: Option<ChildStdin>,
}

/// A pty pair with echo off: (master, slave). The slave becomes a
/// process's standard input, so `isatty(0)` holds and it shows its prompt;
/// what is written to the master arrives there as typed lines.
fn open_pty() -> io::Result<(File, OwnedFd)> {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors we then own; tcgetattr and
    // tcsetattr read and write a termios struct we own.
    unsafe {
        let (name, t, w) = (std::ptr::null_mut(), std::ptr::null(), std::ptr::null());
        if libc::openpty(&mut master, &mut slave, name, t, w) != 0 {
            return Err(io::Error::last_os_error());
        }
        let (master, slave) = (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave));
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut t) != 0 {
            return Err(io::Error::last_os_error());
        }
        // The harness records what it types itself; the terminal's echo
        // would only fill the master's buffer.
        t.c_lflag &= !(libc::ECHO | libc::ECHONL);
        if libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((master, slave))
    }
}

impl Synack {
    /// `synack up --quiet ARGS…` in `ns`, waiting for `synack is up:`.
    pub fn up(ns: &Netns, args: &[&str]) -> Synack {
        let mut all = vec!["up"];
        all.extend_from_slice(args);
        let s = Synack::spawn(ns, &all);
        if s.wait_for_line("synack is up:", Duration::from_secs(15)).is_none() {
            panic!("synack did not come up in {}:\n{}", ns.name(), s.output());
        }
        s
    }

    /// Start `synack ARGS…` in `ns`, stdout and stderr collected as lines
    /// (stderr lines start with `stderr: `).
    pub fn spawn(ns: &Netns, args: &[&str]) -> Synack {
        // `ip netns exec` execs synack itself: the PID we get is synack's.
        Synack::spawn_command(ns.command(synack_bin(), args))
    }

    /// Any long-running process whose output a test watches (tcpdump, a
    /// `nc -l`), with the same line collection and kill-on-Drop guard.
    pub fn spawn_command(mut cmd: Command) -> Synack {
        cmd.stdin(Stdio::null());
        Synack::spawn_collected(cmd, None)
    }

    /// Like [`Synack::spawn_command`], with a terminal for standard input:
    /// `synack up` then shows its prompt and reads what [`Synack::type_line`]
    /// types. Standard output and error are collected as one stream, in
    /// the order written, as the terminal would show them.
    pub fn spawn_at_terminal(mut cmd: Command) -> Synack {
        let (master, slave) = open_pty().unwrap_or_else(|e| panic!("openpty: {e}"));
        cmd.stdin(Stdio::from(slave));
        // `cmd` keeps the slave until it is dropped: after the spawn, so the
        // master is the only end left with the harness.
        Synack::spawn_collected(cmd, Some(master))
    }

    /// Type `line` and Enter at the process's terminal. The line is also
    /// recorded in the output as the terminal would show it,
    /// `synack> LINE`, where it was typed.
    pub fn type_line(&mut self, line: &str) {
        self.type_shown(line, &format!("synack> {line}"));
    }

    /// Type `line` and Enter where there is no prompt (`synack connect`'s
    /// input): recorded as typed.
    pub fn type_input(&mut self, line: &str) {
        self.type_shown(line, line);
    }

    fn type_shown(&mut self, line: &str, shown: &str) {
        // Recorded first: a terminal echoes a line before the program can
        // read it, so nothing it prints in answer may come before it.
        let (m, cv) = &*self.shared;
        m.lock().expect("lines").lines.push(shown.to_string());
        cv.notify_all();
        let t = self.terminal.as_mut().expect("typing needs spawn_at_terminal");
        let w = t.write_all(format!("{line}\n").as_bytes()).and_then(|()| t.flush());
        if let Err(e) = w {
            panic!("typing {line:?}: {e}\n{}", self.output());
        }
    }

    /// Ctrl-D at the process's terminal: end of input (`read` returns 0).
    pub fn end_of_input(&mut self) {
        let t = self.terminal.as_mut().expect("end_of_input needs spawn_at_terminal");
        if let Err(e) = t.write_all(b"\x04").and_then(|()| t.flush()) {
            panic!("typing Ctrl-D: {e}\n{}", self.output());
        }
    }

    /// Like `up`, with synack's standard input a pipe the test writes to
    /// (`send_line`): step mode's keys, the prompt's commands (no terminal:
    /// no prompt is printed, and step mode marks changes in plain text).
    pub fn up_with_stdin(ns: &Netns, args: &[&str]) -> Synack {
        let mut all = vec!["up"];
        all.extend_from_slice(args);
        let s = Synack::spawn_with_stdin(ns.command(synack_bin(), &all));
        if s.wait_for_line("synack is up:", Duration::from_secs(15)).is_none() {
            panic!("synack did not come up in {}:\n{}", ns.name(), s.output());
        }
        s
    }

    /// `spawn_command`, with standard input a pipe (`send_line`).
    pub fn spawn_with_stdin(mut cmd: Command) -> Synack {
        cmd.stdin(Stdio::piped());
        Synack::spawn_collected(cmd, None)
    }

    /// Write `line` and a newline to the process's standard input pipe.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("started with a stdin pipe");
        let r = stdin.write_all(format!("{line}\n").as_bytes()).and_then(|()| stdin.flush());
        r.unwrap_or_else(|e| panic!("write to stdin: {e}"));
    }

    fn spawn_collected(mut cmd: Command, terminal: Option<File>) -> Synack {
        // At a terminal, standard output and standard error are one stream,
        // in the order written, as a terminal shows them; otherwise two,
        // stderr's lines marked `stderr: `.
        let mut streams: Vec<(Box<dyn Read + Send>, &'static str)> = Vec::new();
        let mut child = if terminal.is_some() {
            let (r, w) = io::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
            let w2 = w.try_clone().unwrap_or_else(|e| panic!("pipe: {e}"));
            cmd.stdout(w).stderr(w2);
            let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
            streams.push((Box::new(r), ""));
            child
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
            streams.push((Box::new(child.stdout.take().expect("piped")), ""));
            streams.push((Box::new(child.stderr.take().expect("piped")), "stderr: "));
            child
        };
        // `cmd` holds the child's ends (the write end of the pipe, the
        // pty's slave): close them, or the reader never sees the end.
        drop(cmd);
        let shared = Arc::new((Mutex::new(Lines::default()), Condvar::new()));
        let mut readers = Vec::new();
        for (r, prefix) in streams {
            let shared = shared.clone();
            readers.push(thread::spawn(move || {
                for line in BufReader::new(r).lines() {
                    let Ok(line) = line else { break };
                    let (m, cv) = &*shared;
                    m.lock().expect("lines").lines.push(format!("{prefix}{line}"));
                    cv.notify_all();
                }
                let (m, cv) = &*shared;
                m.lock().expect("lines").closed = true;
                cv.notify_all();
            }));
        }
        let stdin = child.stdin.take();
        Synack { child, shared, readers, terminal, stdin }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.shared.0.lock().expect("lines").lines.clone()
    }

    /// Everything printed so far, as one text (for failure messages).
    pub fn output(&self) -> String {
        self.lines().join("\n")
    }

    /// Wait until a line matching `pred` appears at index `from` or later;
    /// returns its index. None on timeout or when the output closed.
    pub fn wait_for(&self, from: usize, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.shared;
        let mut g = m.lock().expect("lines");
        let mut next = from;
        loop {
            if let Some(i) = g.lines.iter().skip(next).position(|l| pred(l)) {
                return Some(next + i);
            }
            next = next.max(g.lines.len());
            let now = Instant::now();
            if g.closed || now >= deadline {
                return None;
            }
            g = cv.wait_timeout(g, deadline - now).expect("lines").0;
        }
    }

    /// The first line starting with `prefix`, waiting at most `timeout`.
    pub fn wait_for_line(&self, prefix: &str, timeout: Duration) -> Option<String> {
        let i = self.wait_for(0, timeout, |l| l.starts_with(prefix))?;
        Some(self.lines()[i].clone())
    }

    /// SIGUSR1, then the stats block synack prints in answer.
    pub fn stats(&self) -> StatsSnapshot {
        let from = self.lines().len();
        signal(self.pid(), libc::SIGUSR1);
        let Some(start) = self.wait_for(from, Duration::from_secs(5), |l| l == "counters:") else {
            panic!("no stats after SIGUSR1:\n{}", self.output());
        };
        // The block is written in one write; wait for its `drops:` line and
        // give the reader a moment to push the lines after it.
        if self.wait_for(start, Duration::from_secs(5), |l| l == "drops:").is_none() {
            panic!("incomplete stats block:\n{}", self.output());
        }
        thread::sleep(Duration::from_millis(100));
        let lines = self.lines();
        StatsSnapshot::parse(&lines[start..])
            .unwrap_or_else(|| panic!("unparsable stats:\n{}", lines[start..].join("\n")))
    }

    /// Wait for the process to exit by itself, at most `timeout` (killed after).
    pub fn wait_exit(&mut self, timeout: Duration) -> (Option<ExitStatus>, bool) {
        let r = wait_bounded(&mut self.child, timeout);
        self.join_readers();
        r
    }

    /// Has the process exited (by itself)? Never waits.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGTERM, and wait (bounded) for a clean exit.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        signal(self.pid(), libc::SIGTERM);
        self.wait_exit(Duration::from_secs(5)).0
    }

    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Synack {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            signal(self.pid(), libc::SIGTERM);
            let (_, killed) = wait_bounded(&mut self.child, Duration::from_secs(3));
            if killed {
                eprintln!("synack {} did not stop on SIGTERM; killed", self.pid());
            }
        }
        self.join_readers();
    }
}

// -------------------------------------------------------- frame injector

/// An AF_PACKET raw socket bound to an interface inside a namespace: what
/// it sends goes out of that interface (for `tap0`: into synack).
pub struct RawSocket {
    fd: OwnedFd,
    ifindex: i32,
}

impl RawSocket {
    pub fn open(ns: &Netns, ifname: &str) -> io::Result<RawSocket> {
        let ifname = CString::new(ifname).map_err(io::Error::other)?;
        ns.run_in(move || {
            // SAFETY: plain socket/if_nametoindex/bind calls with valid arguments.
            unsafe {
                let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
                let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let fd = OwnedFd::from_raw_fd(fd);
                let ifindex = libc::if_nametoindex(ifname.as_ptr()) as i32;
                if ifindex == 0 {
                    return Err(io::Error::last_os_error());
                }
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                sll.sll_family = libc::AF_PACKET as u16;
                sll.sll_protocol = proto as u16;
                sll.sll_ifindex = ifindex;
                let r = libc::bind(
                    fd.as_raw_fd(),
                    &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                );
                if r != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(RawSocket { fd, ifindex })
            }
        })
    }

    /// Send one whole Ethernet frame. The kernel refuses frames shorter
    /// than the link header (`dev_validate_header`: EINVAL below 14 bytes).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; the buffer outlives the call.
        unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_ifindex = self.ifindex;
            sll.sll_halen = 6;
            let n = libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n as usize != frame.len() {
                return Err(io::Error::other(format!("sent {n} of {} bytes", frame.len())));
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------- frame builders

/// Frames for injection from the host (10.0.0.1, `host_mac`) to synack.
pub mod frames {
    use stack::checksum::checksum;

    pub const SYNACK_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    pub const HOST_IP: [u8; 4] = [10, 0, 0, 1];
    pub const SYNACK_IP: [u8; 4] = [10, 0, 0, 2];

    pub fn eth(host_mac: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = SYNACK_MAC.to_vec();
        f.extend_from_slice(&host_mac);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// An IPv4 header with a correct checksum, then `payload`.
    pub fn ipv4(protocol: u8, ident: u16, flags_frag: u16, ttl: u8, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&ident.to_be_bytes());
        h.extend_from_slice(&flags_frag.to_be_bytes());
        h.extend_from_slice(&[ttl, protocol, 0, 0]);
        h.extend_from_slice(&HOST_IP);
        h.extend_from_slice(&SYNACK_IP);
        fix_ip_checksum(&mut h);
        h.extend_from_slice(payload);
        h
    }

    /// Recompute the checksum of the IPv4 header at the start of `ip`.
    pub fn fix_ip_checksum(ip: &mut [u8]) {
        let hl = (usize::from(ip[0] & 0x0f) * 4).clamp(20, ip.len());
        ip[10] = 0;
        ip[11] = 0;
        let c = checksum(&ip[..hl]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
    }

    /// An ICMP echo request with `data_len` bytes of data.
    pub fn echo_request(ident: u16, seq: u16, data_len: usize) -> Vec<u8> {
        let mut m = vec![8, 0, 0, 0];
        m.extend_from_slice(&ident.to_be_bytes());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend((0..data_len).map(|i| i as u8));
        let c = checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        m
    }

    /// A whole ping frame from the host to synack (98 bytes for 56 of data).
    pub fn ping_frame(host_mac: [u8; 6], seq: u16) -> Vec<u8> {
        eth(host_mac, 0x0800, &ipv4(1, 0x4000 + seq, 0, 64, &echo_request(0x5a5a, seq, 56)))
    }

    /// An ARP request for synack's address (28 bytes).
    pub fn arp_request(host_mac: [u8; 6]) -> Vec<u8> {
        let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
        a.extend_from_slice(&host_mac);
        a.extend_from_slice(&HOST_IP);
        a.extend_from_slice(&[0; 6]);
        a.extend_from_slice(&SYNACK_IP);
        a
    }
}

/// The MAC address of `ifname` inside `ns` (from `ip -o link show`).
pub fn mac_of(ns: &Netns, ifname: &str) -> [u8; 6] {
    let out = ns.exec("ip", &["-o", "link", "show", "dev", ifname], Duration::from_secs(5));
    assert!(out.success(), "ip link show {ifname}: {}", out.text());
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "link/ether").expect("link/ether in ip link output");
    let mac: Vec<u8> = words[at + 1].split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
    mac.try_into().unwrap_or_else(|_| panic!("bad MAC in {}", out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_block_parses_and_stops_at_the_next_line() {
        let text = "   1.000000 < ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28\n\
                    counters:\n  frames_rx: 12\n  ip_rx: 3\ndrops:\n  ip_bad_checksum: 1\n\
                    \x20   2.000000 < IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64\n  not_a: stat line";
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let s = StatsSnapshot::parse(&lines).expect("a block");
        assert_eq!(s.counter("frames_rx"), 12);
        assert_eq!(s.counter("ip_rx"), 3);
        assert_eq!(s.dropped("ip_bad_checksum"), 1);
        assert_eq!(s.dropped("ip_ttl_zero"), 0);
        assert_eq!(s.counters.len() + s.drops.len(), 3);
        // No `drops:` line yet: not a complete block.
        assert_eq!(StatsSnapshot::parse(&lines[..3]), None);
        // Empty sections are fine (only non-zero entries are printed).
        let empty: Vec<String> = ["counters:", "drops:"].iter().map(|s| s.to_string()).collect();
        assert_eq!(StatsSnapshot::parse(&empty), Some(StatsSnapshot::default()));
    }

    /// Debian's two arpings: Habets' is refused with the package to
    /// install; iputils' is found. OpenBSD's netcat under `nc.openbsd` is
    /// found before another `nc`.
    #[test]
    fn the_implementation_the_tests_expect_is_told_apart() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("synack-tools-test-{}", std::process::id()));
        // A folder `dir` with a script `name` that prints `says`.
        let fake = |dir: &str, name: &str, says: &str| {
            let d = root.join(dir);
            std::fs::create_dir_all(&d).unwrap();
            let p = d.join(name);
            std::fs::write(&p, format!("#!/bin/sh\necho '{says}'\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            d
        };
        let habets = fake("habets", "arping", "ARPing 2.23, by Thomas Habets <thomas@habets.se>");
        let e = find_implementation("arping", habets.as_os_str()).unwrap_err();
        assert!(e.contains("iputils-arping") && e.contains("Thomas Habets"), "{e}");
        let iputils = fake("iputils", "arping", "arping from iputils 20221126");
        let both = std::env::join_paths([&habets, &iputils]).unwrap();
        assert_eq!(find_implementation("arping", &both), Ok(iputils.join("arping")));
        let nc = fake("netcat", "nc", "[v1.10-47]");
        assert!(find_implementation("nc", nc.as_os_str()).unwrap_err().contains("netcat-openbsd"));
        fake("netcat", "nc.openbsd", "OpenBSD netcat (Debian patchlevel 1.219-1)");
        assert_eq!(find_implementation("nc", nc.as_os_str()), Ok(nc.join("nc.openbsd")));
        assert!(find_implementation("no-such-tool-anywhere", nc.as_os_str()).is_err());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn ping_frame_is_well_formed() {
        let f = frames::ping_frame([0x52, 0x54, 0, 0x12, 0x34, 0x56], 1);
        assert_eq!(f.len(), 98);
        assert_eq!(stack::checksum::checksum(&f[14..34]), 0);
        assert_eq!(stack::checksum::checksum(&f[34..]), 0);
        assert_eq!(
            stack::tcpdump::format_frame(&f),
            "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 23130, seq 1, length 64"
        );
    }
}
