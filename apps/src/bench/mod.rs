//! The pieces of `synack-bench` (apps/src/bin/bench.rs): namespaces, the
//! transfer protocol, the TAP prober, the in-memory pair, and the groups of
//! rows, each measured `runs` times.

pub mod flood;
pub mod impaired;
pub mod mem;
pub mod netns;
pub mod proto;
pub mod tap_probe;

use device::{NetLoop, Tap};
use netns::join;
use proto::{Dir, SynServer, Transfer};
use stack::tcp::TcpConfig;
use stack::{Config, Offloads};
use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// TCP payload in one full 1514-byte frame: synack sends no TCP options on
/// data segments, and the host uses none with it (synack offers no timestamps).
pub const PAYLOAD_PER_FRAME: f64 = 1460.0;

/// How much of everything one invocation measures.
#[derive(Clone, Debug)]
pub struct Plan {
    pub runs: usize,
    /// One throughput transfer (TAP, veth, memory).
    pub transfer: Duration,
    /// One TAP ceiling measurement.
    pub probe: Duration,
    pub handshakes: usize,
    pub pings: usize,
}

impl Plan {
    pub fn full() -> Plan {
        Plan {
            runs: 5,
            transfer: Duration::from_secs(2),
            probe: Duration::from_secs(1),
            handshakes: 20_000,
            pings: 200,
        }
    }
    pub fn smoke() -> Plan {
        Plan {
            runs: 3,
            transfer: Duration::from_millis(500),
            probe: Duration::from_millis(300),
            handshakes: 2_000,
            pings: 40,
        }
    }
}

/// Row keys, in the order the table prints them: (key, label, unit).
pub const ROWS: &[(&str, &str, &str)] = &[
    ("tap_write_gbps", "TAP write ceiling, 1514-B frames (dropped in ip_rcv)", "Gbit/s"),
    ("tap_write_kfps", "TAP write ceiling, frames", "kframes/s"),
    ("tap_read_gbps", "TAP read ceiling, 1514-B frames (queue drained)", "Gbit/s"),
    ("tap_read_kfps", "TAP read ceiling, frames", "kframes/s"),
    ("synack_tx_def", "synack -> host over TAP, `synack up -q` defaults, payload", "Gbit/s"),
    ("synack_rx_def", "host -> synack over TAP, `synack up -q` defaults, payload", "Gbit/s"),
    ("synack_tx", "synack -> host over TAP (1 MiB sndbuf), payload", "Gbit/s"),
    ("synack_rx", "host -> synack over TAP (1 MiB rcvbuf), payload", "Gbit/s"),
    ("synack_tx_gso_def", "synack -> host over TAP, `synack up -q --offload` defaults, payload", "Gbit/s"),
    ("synack_rx_gso_def", "host -> synack over TAP, `synack up -q --offload` defaults, payload", "Gbit/s"),
    ("synack_tx_gso", "synack -> host over TAP, offloads (virtio-net hdr, TSO), 1 MiB buffers, payload", "Gbit/s"),
    ("synack_rx_gso", "host -> synack over TAP, offloads (GRO), 1 MiB buffers, payload", "Gbit/s"),
    ("veth_up", "Linux -> Linux over veth, payload (client sends)", "Gbit/s"),
    ("veth_down", "Linux -> Linux over veth, payload (server sends)", "Gbit/s"),
    ("mem_bulk", "synack -> synack in memory, 1 core, payload", "Gbit/s"),
    ("mem_bulk_gso", "synack -> synack in memory, 64 KiB segments (TSO/GRO), payload", "Gbit/s"),
    ("mem_handshakes", "handshakes in memory, 1 core (connect+accept+close)", "k/s"),
    ("ping_synack", "ping RTT host -> synack over TAP (median of run)", "us"),
    ("ping_veth", "ping RTT Linux -> Linux over veth (median of run)", "us"),
    ("ping_synack_busy", "ping RTT host -> synack over TAP, busy poll (median of run)", "us"),
    ("cpu_sleep", "synack's CPU while pinged every 5 ms, sleeping in ppoll", "% core"),
    ("cpu_busy", "synack's CPU while pinged every 5 ms, busy polling", "% core"),
    ("impaired_synack", "synack -> Linux through the impaired link (loss 10%, reorder 25%, dup 5%, 20+-10 ms)", "kB/s"),
    ("impaired_linux_cubic", "Linux (CUBIC) -> Linux through the same link (userspace relay)", "kB/s"),
    ("impaired_ratio", "impaired link: synack / Linux CUBIC (same run)", "x"),
    ("impaired_linux", "Linux (the namespace's default CC) -> Linux through the same link", "kB/s"),
    ("impaired_ratio_default", "impaired link: synack / Linux with the default CC (same run)", "x"),
    ("flood_synack_median", "connect to synack during a spoofed SYN flood, median", "ms"),
    ("flood_synack_max", "connect to synack during a spoofed SYN flood, slowest", "ms"),
    ("flood_synack_rate", "the flood at synack's TAP (one thread, AF_PACKET)", "kSYN/s"),
    ("flood_linux_median", "connect to Linux during the same flood over veth, median", "ms"),
    ("flood_linux_max", "connect to Linux during the same flood over veth, slowest", "ms"),
    ("flood_linux_rate", "the flood at Linux's veth (one thread, AF_PACKET)", "kSYN/s"),
];

/// Samples by row key.
#[derive(Default)]
pub struct Results(pub BTreeMap<&'static str, Vec<f64>>);

impl Results {
    pub fn push(&mut self, key: &'static str, v: f64) {
        self.0.entry(key).or_default().push(v);
    }
    /// (median, min, max)
    pub fn summary(&self, key: &str) -> Option<(f64, f64, f64)> {
        let mut v = self.0.get(key)?.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some((median, v[0], v[n - 1]))
    }
    pub fn median(&self, key: &str) -> Option<f64> {
        self.summary(key).map(|s| s.0)
    }
}

// ------------------------------------------------------------ interrupts

fn stop_flag() -> &'static Arc<AtomicBool> {
    static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    STOP.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Ctrl-C or SIGTERM ends the bench between two turns of its loops, so the
/// Drop guards delete the namespaces; a second Ctrl-C exits at once.
pub fn install_interrupts() -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop_flag().clone())?;
        signal_hook::flag::register(sig, stop_flag().clone())?;
    }
    Ok(())
}

pub fn check_interrupt() -> io::Result<()> {
    if stop_flag().load(Ordering::Relaxed) {
        Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"))
    } else {
        Ok(())
    }
}

// --------------------------------------------------------------- groups

/// The TAP ceilings, in a namespace and on a TAP of the prober's own.
pub fn tap(plan: &Plan, r: &mut Results) -> io::Result<()> {
    let ns = netns::create("tap")?;
    let tap = tap_probe::open_probe_tap(&ns)?;
    let inj = tap_probe::host_injector(&ns)?;
    let bits = (tap_probe::FRAME * 8) as f64;
    for _ in 0..plan.runs {
        check_interrupt()?;
        let w = tap_probe::write_ceiling(&tap, plan.probe)?;
        r.push("tap_write_kfps", w.per_sec() / 1e3);
        r.push("tap_write_gbps", w.per_sec() * bits / 1e9);
        let (rd, lost) = tap_probe::read_ceiling(&tap, &inj, plan.probe)?;
        if lost > rd.frames / 100 {
            eprintln!("synack-bench: note: {lost} of the host's frames never reached the TAP's queue");
        }
        r.push("tap_read_kfps", rd.per_sec() / 1e3);
        r.push("tap_read_gbps", rd.per_sec() * bits / 1e9);
    }
    drop(inj);
    drop(tap);
    drop(ns);
    Ok(())
}

/// synack's stack as `synack up` runs it (defaults: 10.0.0.2/24, gateway
/// 10.0.0.1), with 1 MiB send and receive buffers (`mib`) or the defaults
/// (which autotuning grows), and the TAP's offloads (none unless it was
/// opened with them, as `synack up --offload` does).
fn synack_loop(tap: Tap, mib: bool) -> NetLoop<Tap> {
    let tcp =
        if mib { TcpConfig { sndbuf: 1 << 20, rcvbuf: 1 << 20, ..TcpConfig::default() } } else { TcpConfig::default() };
    let offloads = tap.offloads();
    // For experiments (docs/performance.md): SYNACK_NO_GRO=1 runs the
    // stack without GRO, SYNACK_RX_BUDGET=N reads N frames per wake-up.
    let gro = std::env::var_os("SYNACK_NO_GRO").is_none();
    let mut net = NetLoop::new(tap, Config { tcp, offloads, gro, ..Config::default() });
    if let Some(b) = std::env::var("SYNACK_RX_BUDGET").ok().and_then(|v| v.parse().ok()) {
        net.set_rx_budget(b);
    }
    net
}

/// Run synack's poll loop (and `server`, if any) until `worker` finishes,
/// at most `limit`.
fn drive<T>(
    net: &mut NetLoop<Tap>,
    mut server: Option<&mut SynServer>,
    worker: JoinHandle<io::Result<T>>,
    limit: Duration,
) -> io::Result<T> {
    let deadline = Instant::now() + limit;
    while !worker.is_finished() {
        check_interrupt()?;
        if Instant::now() > deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the host side did not finish in time"));
        }
        let now = net.now();
        let wake = match server.as_deref_mut() {
            Some(s) => s.poll(&mut net.stack, now)?,
            None => None,
        };
        // Look at the worker at least every 10 ms.
        let cap = net.now() + Duration::from_millis(10);
        net.poll_once(&[], Some(wake.map_or(cap, |w| w.min(cap))))?;
    }
    join(worker)
}

/// synack on a TAP, the Linux client on the host side: both directions,
/// alternately; with `synack up`'s defaults, then with 1 MiB buffers.
pub fn synack(plan: &Plan, r: &mut Results) -> io::Result<()> {
    synack_rows(plan, r, false, false)?;
    synack_rows(plan, r, false, true)
}

/// The same over a TAP opened with the virtio-net header and offloads
/// (`synack up --offload`): checksums left to the host, 64 KiB segments.
pub fn offload(plan: &Plan, r: &mut Results) -> io::Result<()> {
    synack_rows(plan, r, true, false)?;
    synack_rows(plan, r, true, true)
}

fn synack_rows(plan: &Plan, r: &mut Results, offload: bool, mib: bool) -> io::Result<()> {
    let ns = netns::create(if offload { "offload" } else { "synack" })?;
    let tap = tap_probe::open_synack_tap(&ns, offload)?;
    let mut net = synack_loop(tap, mib);
    let mut server = SynServer::listen(&mut net.stack, proto::PORT)?;
    let (runs, dur) = (plan.runs, plan.transfer);
    let to: SocketAddr = ([10, 0, 0, 2], proto::PORT).into();
    let worker = ns.spawn(move || {
        let mut out = Vec::new();
        for _ in 0..runs {
            check_interrupt()?;
            let down = proto::client(to, Dir::Down, dur)?;
            let up = proto::client(to, Dir::Up, dur)?;
            out.push((down, up));
        }
        Ok(out)
    });
    let limit = (dur + Duration::from_secs(10)) * 2 * runs as u32;
    let out: Vec<(Transfer, Transfer)> = drive(&mut net, Some(&mut server), worker, limit)?;
    let (tx, rx) = match (offload, mib) {
        (true, true) => ("synack_tx_gso", "synack_rx_gso"),
        (true, false) => ("synack_tx_gso_def", "synack_rx_gso_def"),
        (false, true) => ("synack_tx", "synack_rx"),
        (false, false) => ("synack_tx_def", "synack_rx_def"),
    };
    for (down, up) in out {
        r.push(tx, down.gbit_s());
        r.push(rx, up.gbit_s());
    }
    let s = net.stats();
    if std::env::var_os("SYNACK_BENCH_STATS").is_some() {
        use stack::stats::Counter;
        let st = net.stack.stats();
        eprintln!(
            "synack-bench: {rx}: loop {s:?}; stack frames_rx {} frames_tx {} gro_merged_segments {}",
            st.get(Counter::FramesRx),
            st.get(Counter::FramesTx),
            st.get(Counter::GroMergedSegments)
        );
    }
    if s.tx_errors > 0 {
        eprintln!("synack-bench: note: synack's TAP refused {} frames", s.tx_errors);
    }
    Ok(())
}

/// The same client and server code, Linux on both ends of a veth pair.
pub fn veth(plan: &Plan, r: &mut Results) -> io::Result<()> {
    let (a, b) = (netns::create("va")?, netns::create("vb")?);
    tap_probe::veth_pair(&a, &b)?;
    let (runs, dur) = (plan.runs, plan.transfer);
    let limit = (dur + Duration::from_secs(10)) * 2 * runs as u32;
    let l = b.run(|| TcpListener::bind(("10.1.0.2", proto::PORT)))?;
    let give_up = Arc::new(AtomicBool::new(false));
    let flag = give_up.clone();
    let server = b.spawn(move || proto::serve(l, 2 * runs, Instant::now() + limit, &flag));
    let to: SocketAddr = ([10, 1, 0, 2], proto::PORT).into();
    let client = a.spawn(move || {
        let mut out = Vec::new();
        for _ in 0..runs {
            check_interrupt()?;
            out.push((proto::client(to, Dir::Down, dur)?, proto::client(to, Dir::Up, dur)?));
        }
        Ok(out)
    });
    let out = join(client);
    // A client that failed leaves the server waiting: let it go.
    give_up.store(true, Ordering::Relaxed);
    let served = join(server);
    let out = out?;
    served?;
    for (down, up) in out {
        r.push("veth_down", down.gbit_s());
        r.push("veth_up", up.gbit_s());
    }
    Ok(())
}

pub fn mem(plan: &Plan, r: &mut Results) -> io::Result<()> {
    for _ in 0..plan.runs {
        check_interrupt()?;
        r.push("mem_bulk", mem::bulk(plan.transfer, Offloads::memory())?.gbit_s());
        r.push("mem_bulk_gso", mem::bulk(plan.transfer, Offloads::memory_gso())?.gbit_s());
    }
    Ok(())
}

pub fn handshakes(plan: &Plan, r: &mut Results) -> io::Result<()> {
    for _ in 0..plan.runs {
        check_interrupt()?;
        r.push("mem_handshakes", mem::handshakes(plan.handshakes)? / 1e3);
    }
    Ok(())
}

/// The RTTs of one `ping` run (the first reply, which may wait for ARP, left out).
fn ping_run(ns_name: &str, to: &str, count: usize) -> io::Result<Vec<f64>> {
    let mut c = Command::new("ip");
    let count_s = count.to_string();
    c.args(["netns", "exec", ns_name, "ping", "-n", "-c", &count_s, "-i", "0.005", "-W", "1", to]);
    let limit = Duration::from_millis(5 * count as u64) + Duration::from_secs(10);
    let o = netns::run_bounded(c, limit).map_err(|e| io::Error::new(e.kind(), format!("cannot run ping: {e}")))?;
    let mut rtts: Vec<f64> = Vec::new();
    for l in o.stdout.lines() {
        let seq = l.split("icmp_seq=").nth(1).and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok());
        let time = l.split("time=").nth(1).and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok());
        if let (Some(seq), Some(ms)) = (seq, time) {
            if seq > 1 {
                rtts.push(ms * 1000.0);
            }
        }
    }
    if rtts.len() < count / 2 {
        return Err(io::Error::other(format!(
            "ping {to}: {} replies of {count}\n{}{}",
            rtts.len(),
            o.stdout,
            o.stderr
        )));
    }
    Ok(rtts)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// How long synack's loop spins before it sleeps in the busy-poll runs:
/// longer than the 5 ms between pings, so it never sleeps (the worst case
/// for CPU, the best for latency).
pub const BUSY_POLL: Duration = Duration::from_millis(10);

/// CPU time this thread has used (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu() -> Duration {
    // SAFETY: a zeroed timespec is valid; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The host's `ping` to synack over TAP (synack sleeping in ppoll between
/// frames, as `synack up` runs), Linux to Linux over veth, and synack over
/// TAP again with busy polling (`NetLoop::set_busy_poll`), in turn; with
/// the CPU synack's thread used in each of its two modes.
pub fn ping(plan: &Plan, r: &mut Results) -> io::Result<()> {
    let ns = netns::create("ping")?;
    let tap = tap_probe::open_synack_tap(&ns, false)?;
    let mut net = synack_loop(tap, true);
    let (a, b) = (netns::create("pa")?, netns::create("pb")?);
    tap_probe::veth_pair(&a, &b)?;
    let names = (ns.name().to_string(), a.name().to_string());
    let (runs, count) = (plan.runs, plan.pings);
    // The worker says which mode synack's loop is to run in: 0 sleep, 1 busy.
    let mode = Arc::new(std::sync::atomic::AtomicU8::new(0));
    let m = mode.clone();
    let worker = std::thread::spawn(move || {
        let mut out = Vec::new();
        for _ in 0..runs {
            check_interrupt()?;
            m.store(0, Ordering::Relaxed);
            let s = median(ping_run(&names.0, "10.0.0.2", count)?);
            let v = median(ping_run(&names.1, "10.1.0.2", count)?);
            m.store(1, Ordering::Relaxed);
            let busy = median(ping_run(&names.0, "10.0.0.2", count)?);
            m.store(0, Ordering::Relaxed);
            out.push((s, v, busy));
        }
        Ok(out)
    });
    let limit = (Duration::from_millis(20 * count as u64) + Duration::from_secs(30)) * runs as u32;
    // drive(), with the mode switched as the worker asks, and the CPU
    // time and wall time spent in each mode added up.
    let deadline = Instant::now() + limit;
    let (mut cpu, mut wall) = ([Duration::ZERO; 2], [Duration::ZERO; 2]);
    let (mut cur, mut since, mut cpu_since) = (0u8, Instant::now(), thread_cpu());
    while !worker.is_finished() {
        check_interrupt()?;
        if Instant::now() > deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "ping runs did not finish in time"));
        }
        let want = mode.load(Ordering::Relaxed);
        if want != cur {
            let (t, c) = (Instant::now(), thread_cpu());
            wall[cur as usize] += t - since;
            cpu[cur as usize] += c - cpu_since;
            (cur, since, cpu_since) = (want, t, c);
            net.set_busy_poll((want == 1).then_some(BUSY_POLL));
        }
        let cap = net.now() + Duration::from_millis(10);
        net.poll_once(&[], Some(cap))?;
    }
    for (s, v, busy) in join(worker)? {
        r.push("ping_synack", s);
        r.push("ping_veth", v);
        r.push("ping_synack_busy", busy);
    }
    // The sleeping mode's time includes the veth runs, when synack is idle:
    // its share is an upper bound on what answering pings costs.
    for (i, key) in [(0, "cpu_sleep"), (1, "cpu_busy")] {
        if !wall[i].is_zero() {
            r.push(key, 100.0 * cpu[i].as_secs_f64() / wall[i].as_secs_f64());
        }
    }
    Ok(())
}
