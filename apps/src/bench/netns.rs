//! Network namespaces the bench makes for itself, and bounded commands.
//!
//! Every namespace is named `synack-b-<pid>-<tag>`, holds only what the
//! bench put there (a TAP, one end of a veth pair, addresses from 10.0.0.0/8
//! that route nowhere else), and is deleted on Drop, also when a row fails
//! or panics, after the processes the bench started in it are killed by
//! PID. A namespace left by a bench that was killed outright (its PID is
//! gone) is deleted by the next run (`sweep_stale`).

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const PREFIX: &str = "synack-b-";

/// What a finished (or timed-out and killed) command left.
pub struct Output {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success()) && !self.timed_out
    }
}

fn reader(r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let _ = io::BufReader::new(r).read_to_string(&mut s);
        s
    })
}

/// Wait for `child` at most `timeout`; kill it (by its PID) if it still runs.
fn wait_bounded(child: &mut Child, timeout: Duration) -> (Option<ExitStatus>, bool) {
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
    let out = reader(child.stdout.take().expect("piped"));
    let err = reader(child.stderr.take().expect("piped"));
    let (status, timed_out) = wait_bounded(&mut child, timeout);
    Ok(Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default(), timed_out })
}

/// Run a command that must succeed (an `ip …` set-up step).
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

/// A network namespace of the bench's own, deleted on Drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// `ip netns add synack-b-<pid>-<tag>`, loopback up.
    pub fn create(tag: &str) -> io::Result<Netns> {
        let name = format!("{PREFIX}{}-{tag}", std::process::id());
        must("ip", &["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
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

    fn pids(&self) -> Vec<i32> {
        let mut c = Command::new("ip");
        c.args(["netns", "pids", &self.name]);
        run_bounded(c, Duration::from_secs(5))
            .map(|o| o.stdout.split_whitespace().filter_map(|p| p.parse().ok()).collect())
            .unwrap_or_default()
    }
}

/// Join a thread that returns an `io::Result`; a panic becomes an error.
pub fn join<T>(h: JoinHandle<io::Result<T>>) -> io::Result<T> {
    h.join().map_err(|_| io::Error::other("a bench thread panicked"))?
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Only processes the bench started live in a namespace it made:
        // end them by PID (bounded), then delete the namespace.
        for _ in 0..3 {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                // SAFETY: kill with a PID from our own namespace; a stale PID just fails.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
        if let Err(e) = must("ip", &["netns", "del", &self.name]) {
            eprintln!("synack-bench: warning: {e}");
        }
    }
}

/// Delete namespaces an earlier bench left behind when it was killed
/// outright: named `synack-b-<pid>-…` with that PID no longer running.
pub fn sweep_stale() {
    let mut c = Command::new("ip");
    c.args(["netns", "list"]);
    let Ok(o) = run_bounded(c, Duration::from_secs(5)) else { return };
    for line in o.stdout.lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        let Some(rest) = name.strip_prefix(PREFIX) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = must("ip", &["netns", "del", name]);
        }
    }
}
