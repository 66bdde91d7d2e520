//! Bulk transfer through an impaired link (group `impaired`): synack as the
//! sender and Linux as the sender, through the same userspace link, to the
//! same Linux receiver.
//!
//! The link is `device::Lossy` (device/src/link.rs, what `synack connect
//! --link` and `synack up --link` use) with `SPEC`: 10 % loss, 25 %
//! reordering, 5 % duplication, 20 ± 10 ms of delay, each way, seeded.
//!
//! - **synack → Linux**: synack's stack (defaults, 1 MiB buffers, as the
//!   TAP rows) on `tap0` in a namespace, its device `Lossy<Tap>`; the bench
//!   protocol's server (`proto::SynServer`) sends for the transfer's time;
//!   the Linux client on the host's side receives and checks every byte.
//! - **Linux → Linux**: two namespaces, each with a TAP whose host side is
//!   Linux (10.3.0.1 sends, `proto::serve`; 10.3.0.2 receives,
//!   `proto::client`), and a relay in the bench's main thread that copies
//!   frames between the two TAPs, the second one wrapped in the same
//!   `Lossy` with the same spec and seed. The data goes A → B through the
//!   lane synack's data takes (`Lossy::send`, the "out" lane, seed + 1) and
//!   the ACKs B → A through the lane the host's ACKs to synack take (the
//!   "in" lane, seed): the two senders meet the same link, drawn from the
//!   same random streams, and the same receiver (Linux's TCP). Only the
//!   sender differs, which is what the ratio is about. Linux to synack
//!   would measure synack's receiver too.
//!
//! Linux sends twice each run: with CUBIC (the fair reference: synack's
//! algorithm, and Linux's stock default) and with the namespace's default
//! congestion control, whatever the host set (bbr on the machine of
//! docs/performance.md: a model-based sender that does not take random loss
//! as congestion, 20-60 times faster on this link than either loss-based
//! sender). The ratio row is against CUBIC. Both Linux senders get synack's
//! send buffer (SO_SNDBUF).
//!
//! Each transfer lasts the plan's impaired time (the bench protocol is
//! timed, not sized), then the sender half-closes; throughput is payload
//! bytes over the time from the header to the last byte, in kB/s (1000).
//! The runs alternate: synack, then Linux.

use super::netns::{self, join, Netns};
use super::proto::{self, Dir, SynServer, Transfer};
use super::{check_interrupt, tap_probe, Plan, Results};
use device::poll_loop::ppoll;
use device::{Clock, Device, LinkSpec, Lossy, NetLoop, Tap};
use stack::Config;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The link, both ways.
pub const SPEC: &str = "loss 10%, reorder 25%, dup 5%, delay 20ms±10ms, seed 7";

fn spec() -> io::Result<LinkSpec> {
    LinkSpec::parse(SPEC).map_err(io::Error::other)
}

/// setsockopt(2) on the listener, whose accepted children inherit the option.
fn setsockopt(l: &TcpListener, level: libc::c_int, name: libc::c_int, what: &str, val: &[u8]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid fd and a buffer of the given length.
    let rc = unsafe { libc::setsockopt(l.as_raw_fd(), level, name, val.as_ptr().cast(), val.len() as libc::socklen_t) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

/// `TCP_CONGESTION` on `l` (Linux `tcp_set_congestion_control`).
fn set_congestion(l: &TcpListener, cc: &str) -> io::Result<()> {
    setsockopt(l, libc::IPPROTO_TCP, libc::TCP_CONGESTION, &format!("TCP_CONGESTION {cc}"), cc.as_bytes())
}

/// SO_SNDBUF on `l` (Linux doubles it).
fn set_sndbuf(l: &TcpListener, bytes: usize) -> io::Result<()> {
    let v = bytes as libc::c_int;
    setsockopt(l, libc::SOL_SOCKET, libc::SO_SNDBUF, "SO_SNDBUF", &v.to_ne_bytes())
}

/// The congestion control `l` would give its children.
fn congestion(l: &TcpListener) -> io::Result<String> {
    use std::os::fd::AsRawFd;
    let mut buf = [0u8; 16];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: a valid fd, a buffer and its length.
    let rc = unsafe {
        libc::getsockopt(l.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_CONGESTION, buf.as_mut_ptr().cast(), &mut len)
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let name = &buf[..len as usize];
    Ok(String::from_utf8_lossy(&name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())]).into_owned())
}

/// How long each transfer sends.
fn transfer_time(plan: &Plan) -> Duration {
    if plan.transfer < Duration::from_secs(1) {
        Duration::from_millis(1500)
    } else {
        Duration::from_secs(8)
    }
}

fn kb_s(t: &Transfer) -> f64 {
    t.bytes as f64 / t.secs / 1e3
}

/// A TAP in `ns` with host address `addr`, up.
fn open_tap(ns: &Netns, addr: &str) -> io::Result<Tap> {
    let tap = ns.run(|| {
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
        Tap::open("tap0", 1500)
    })?;
    ns.ip(&["addr", "add", addr, "dev", "tap0"])?;
    ns.ip(&["link", "set", "tap0", "up"])?;
    Ok(tap)
}

/// synack's loop over `Lossy<Tap>` until `worker` finishes and the server
/// has served `want` connections (the client's report crossed the link).
fn drive_synack<T>(
    net: &mut NetLoop<Lossy<Tap>>,
    server: &mut SynServer,
    want: usize,
    worker: JoinHandle<io::Result<T>>,
    limit: Duration,
) -> io::Result<T> {
    let deadline = Instant::now() + limit;
    while !worker.is_finished() || server.served < want {
        check_interrupt()?;
        if Instant::now() > deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the impaired transfer did not finish in time"));
        }
        let now = net.now();
        let wake = server.poll(&mut net.stack, now)?;
        let cap = net.now() + stack::Duration::from_millis(10);
        net.poll_once(&[], Some(wake.map_or(cap, |w| w.min(cap))))?;
    }
    join(worker)
}

/// The relay: frames from `a` go into `b` (the link's out lane), frames
/// from `b` (its in lane) go to `a`, until `worker` and `server` finish
/// (the client's report crossed the link).
fn drive_relay<T>(
    clock: &Clock,
    a: &mut Tap,
    b: &mut Lossy<Tap>,
    worker: JoinHandle<io::Result<T>>,
    server: JoinHandle<io::Result<()>>,
    limit: Duration,
) -> io::Result<T> {
    let deadline = Instant::now() + limit;
    let (fa, fb) = (a.raw_fd().expect("TAP fd"), b.raw_fd().expect("TAP fd"));
    while !worker.is_finished() || !server.is_finished() {
        check_interrupt()?;
        if Instant::now() > deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the relayed transfer did not finish in time"));
        }
        let now = clock.now();
        while let Some(skb) = a.recv(now)? {
            b.send(now, &skb)?;
        }
        while let Some(skb) = b.recv(now)? {
            // A full queue on A's side is a loss like any other.
            let _ = a.send(now, &skb);
        }
        let cap = now + stack::Duration::from_millis(10);
        let until = b.poll_at().map_or(cap, |t| t.min(cap));
        let mut fds = [
            libc::pollfd { fd: fa, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: fb, events: libc::POLLIN, revents: 0 },
        ];
        match ppoll(&mut fds, Some(until.saturating_since(clock.now()))) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let out = join(worker);
    join(server)?;
    out
}

pub fn impaired(plan: &Plan, r: &mut Results) -> io::Result<()> {
    let dur = transfer_time(plan);
    let limit = dur + Duration::from_secs(60);

    // synack -> Linux.
    let ns = netns::create("imp")?;
    let tap = tap_probe::open_synack_tap(&ns, false)?;
    // synack's defaults, as `synack up --link` runs: with a timed transfer,
    // what the send buffer holds when the time is up must still cross the
    // link, and a 1 MiB buffer at ~100 kB/s would be most of the figure.
    let mut net = NetLoop::new(Lossy::new(tap, spec()?), Config::default());
    let mut server = SynServer::listen(&mut net.stack, proto::PORT)?;
    let to_synack: SocketAddr = ([10, 0, 0, 2], proto::PORT).into();

    // Linux -> Linux through the relay.
    let (na, nb) = (netns::create("ia")?, netns::create("ib")?);
    let mut tap_a = open_tap(&na, "10.3.0.1/24")?;
    let mut tap_b = Lossy::new(open_tap(&nb, "10.3.0.2/24")?, spec()?);
    let clock = Clock::new();
    // Two Linux senders: one with CUBIC, synack's algorithm and Linux's stock
    // default (the fair reference: the same loss-based congestion control),
    // one with the namespace's default, which is whatever the host set (bbr
    // on the machine these figures come from; a new namespace inherits it and
    // may not change it, but a socket may: `TCP_CONGESTION`, which accepted
    // children inherit from their listener).
    let listener = na.run(|| TcpListener::bind(("10.3.0.1", proto::PORT)))?;
    let listener_cubic = na.run(|| TcpListener::bind(("10.3.0.1", proto::PORT + 1)))?;
    set_congestion(&listener_cubic, "cubic")?;
    // The same send buffer as synack's (`TcpConfig::sndbuf`, which SO_SNDBUF
    // would double on Linux): what is queued when the time is up must still
    // cross a link of ~100 kB/s, and Linux's autotuned buffer (up to
    // tcp_wmem[2], 4 MiB) would take longer than the bench's I/O timeout.
    let sndbuf = stack::tcp::TcpConfig::default().sndbuf;
    for l in [&listener, &listener_cubic] {
        set_sndbuf(l, sndbuf)?;
    }
    let default_cc = congestion(&listener)?;
    let give_up = Arc::new(AtomicBool::new(false));
    let runs = plan.runs;
    let to_linux: SocketAddr = ([10, 3, 0, 1], proto::PORT).into();
    let to_cubic: SocketAddr = ([10, 3, 0, 1], proto::PORT + 1).into();

    let mut result = Ok(());
    for run in 0..runs {
        if let Err(e) = check_interrupt() {
            result = Err(e);
            break;
        }
        let c = ns.spawn(move || proto::client(to_synack, Dir::Down, dur));
        let s = match drive_synack(&mut net, &mut server, run + 1, c, limit) {
            Ok(t) => t,
            Err(e) => {
                result = Err(io::Error::new(e.kind(), format!("synack -> Linux: {e}")));
                break;
            }
        };
        let mut linux = |l: &TcpListener, to: SocketAddr, cc: &str| -> io::Result<Transfer> {
            let (lc, flag) = (l.try_clone()?, give_up.clone());
            let srv = na.spawn(move || proto::serve(lc, 1, Instant::now() + limit, &flag));
            let c = nb.spawn(move || proto::client(to, Dir::Down, dur));
            drive_relay(&clock, &mut tap_a, &mut tap_b, c, srv, limit)
                .map_err(|e| io::Error::new(e.kind(), format!("Linux ({cc}) -> Linux: {e}")))
        };
        let cubic = match linux(&listener_cubic, to_cubic, "cubic") {
            Ok(t) => t,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        let l = match linux(&listener, to_linux, &default_cc) {
            Ok(t) => t,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        eprintln!(
            "synack-bench: impaired run {run}: synack {} B in {:.2} s = {:.0} kB/s; Linux cubic {} B in {:.2} s = {:.0} kB/s; \
             Linux {default_cc} {} B in {:.2} s = {:.0} kB/s",
            s.bytes,
            s.secs,
            kb_s(&s),
            cubic.bytes,
            cubic.secs,
            kb_s(&cubic),
            l.bytes,
            l.secs,
            kb_s(&l)
        );
        r.push("impaired_synack", kb_s(&s));
        r.push("impaired_linux_cubic", kb_s(&cubic));
        r.push("impaired_ratio", kb_s(&s) / kb_s(&cubic));
        r.push("impaired_linux", kb_s(&l));
        r.push("impaired_ratio_default", kb_s(&s) / kb_s(&l));
    }
    give_up.store(true, Ordering::Relaxed);
    result?;
    let st = net.dev.stats();
    eprintln!("synack-bench: impaired: synack's link {st:?}");
    eprintln!("synack-bench: impaired: the relay's link {:?}", tap_b.stats());
    Ok(())
}
