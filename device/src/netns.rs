//! Network namespaces, and commands bounded in time: where synack's TAP and
//! its peer (the host's own stack, `ping`, `nc`, a veth pair) are set up
//! away from the machine's interfaces. The interop tests
//! (`tests/src/lib.rs`) and the benchmark (`apps/src/bench/netns.rs`) both
//! build on this one module.
//!
//! - [`Netns`]: `ip netns add NAME` with its loopback up; commands inside
//!   with `ip netns exec` ([`Netns::command`], [`Netns::exec`], `ip -n`:
//!   [`Netns::ip`]); a thread that joined it with `setns(2)`
//!   ([`Netns::spawn`], [`Netns::run`]), so that sockets and TAPs it opens
//!   live there. Deleted on Drop, also when a caller panics, after killing
//!   by PID whatever still runs in it (only processes its owner started
//!   can live there).
//! - [`run_bounded`]: run a command to its end, at most a timeout, its
//!   output captured; killed (by its PID) if it overstays.
//! - [`sweep_stale`]: delete namespaces an earlier run left behind when it
//!   was killed outright.
//!
//! Every wait is bounded in count and time. Needs root (`CAP_SYS_ADMIN`)
//! and iproute2's `ip`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What a finished (or timed-out and killed) command left.
#[derive(Debug)]
pub struct Output {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Output {
    /// Exited with status 0, in time.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success()) && !self.timed_out
    }
    /// stdout and stderr together, for failure messages.
    pub fn text(&self) -> String {
        format!(
            "status {:?}{}\n--- stdout\n{}--- stderr\n{}",
            self.status,
            if self.timed_out { " (TIMED OUT)" } else { "" },
            self.stdout,
            self.stderr
        )
    }
}

fn reader_thread(r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let _ = io::BufReader::new(r).read_to_string(&mut s);
        s
    })
}

/// Send `sig` to a process the caller started, by its PID.
pub fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill with a PID the caller owns; a stale PID just fails.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Wait for `child` at most `timeout`; kill it (by its PID) if it still
/// runs. The exit status, and whether it had to be killed.
pub fn wait_bounded(child: &mut Child, timeout: Duration) -> (Option<ExitStatus>, bool) {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return (Some(s), false),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            _ => break,
        }
    }
    let _ = child.kill();
    (child.wait().ok(), true)
}

/// Run `cmd` to completion, at most `timeout`, capturing its output.
pub fn run_bounded(mut cmd: Command, timeout: Duration) -> io::Result<Output> {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let out = reader_thread(child.stdout.take().expect("piped"));
    let err = reader_thread(child.stderr.take().expect("piped"));
    let (status, timed_out) = wait_bounded(&mut child, timeout);
    Ok(Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default(), timed_out })
}

/// Run a command that must succeed (an `ip …` set-up step), at most 10 s.
pub fn must(prog: &str, args: &[&str]) -> io::Result<()> {
    let mut c = Command::new(prog);
    c.args(args);
    let o = run_bounded(c, Duration::from_secs(10))
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {prog}: {e}")))?;
    if o.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("`{prog} {}` failed: {}", args.join(" "), o.stderr.trim())))
    }
}

/// A network namespace of the caller's own, deleted on Drop.
pub struct Netns {
    name: String,
    /// PATH for the commands run inside (None: the caller's).
    path: Option<OsString>,
}

impl Netns {
    /// `ip netns add NAME`, loopback up.
    pub fn create(name: &str) -> io::Result<Netns> {
        must("ip", &["netns", "add", name])?;
        let ns = Netns { name: name.to_string(), path: None };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Commands run inside look programs up on `path` (a PATH).
    pub fn with_path(mut self, path: OsString) -> Netns {
        self.path = Some(path);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec NAME prog args…`, not yet started.
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        if let Some(path) = &self.path {
            c.env("PATH", path);
        }
        c.args(["netns", "exec", &self.name]).arg(prog).args(args);
        c
    }

    /// Run a command inside, at most `timeout`, and return its output.
    pub fn exec(&self, prog: &str, args: &[&str], timeout: Duration) -> io::Result<Output> {
        run_bounded(self.command(prog, args), timeout)
    }

    /// `ip -n NAME args…`, which must succeed.
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        must("ip", &all)
    }

    /// Start `f` on a thread that has joined this namespace (`setns`):
    /// sockets and TAPs it opens live in the namespace, whichever thread
    /// uses them afterwards.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> JoinHandle<io::Result<T>> {
        let path = format!("/run/netns/{}", self.name);
        thread::spawn(move || {
            let ns = File::open(&path)?;
            // SAFETY: setns on this thread only, with a namespace fd we opened.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            f()
        })
    }

    /// `spawn`, then wait for it.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
        join(self.spawn(f))
    }

    /// PIDs of the processes running in this namespace (`ip netns pids`).
    pub fn pids(&self) -> Vec<u32> {
        let mut c = Command::new("ip");
        c.args(["netns", "pids", &self.name]);
        run_bounded(c, Duration::from_secs(5))
            .map(|o| o.stdout.split_whitespace().filter_map(|p| p.parse().ok()).collect())
            .unwrap_or_default()
    }
}

/// Join a thread that returns an `io::Result`; a panic becomes an error.
pub fn join<T>(h: JoinHandle<io::Result<T>>) -> io::Result<T> {
    h.join().map_err(|_| io::Error::other("a thread in a namespace panicked"))?
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Only processes the owner started live in a namespace it made:
        // end them by PID (bounded retries), then delete the namespace.
        for _ in 0..3 {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                signal(pid, libc::SIGKILL);
            }
            thread::sleep(Duration::from_millis(50));
        }
        if let Err(e) = must("ip", &["netns", "del", &self.name]) {
            eprintln!("warning: {e}");
        }
    }
}

/// Delete namespaces an earlier run left behind when it was killed
/// outright: named `PREFIX<pid>-…` with that PID no longer running.
pub fn sweep_stale(prefix: &str) {
    let mut c = Command::new("ip");
    c.args(["netns", "list"]);
    let Ok(o) = run_bounded(c, Duration::from_secs(5)) else { return };
    for line in o.stdout.lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        let Some(rest) = name.strip_prefix(prefix) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = must("ip", &["netns", "del", name]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_bounded_kills_what_overstays() {
        let mut c = Command::new("sleep");
        c.arg("30");
        let t = Instant::now();
        let out = run_bounded(c, Duration::from_millis(200)).expect("sleep runs");
        assert!(out.timed_out);
        assert!(!out.success());
        assert!(t.elapsed() < Duration::from_secs(5));
        let mut c = Command::new("echo");
        c.arg("hi");
        let out = run_bounded(c, Duration::from_secs(5)).expect("echo runs");
        assert!(out.success() && !out.timed_out);
        assert_eq!(out.stdout, "hi\n");
    }
}
