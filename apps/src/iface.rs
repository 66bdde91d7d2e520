//! The interface `synack up` runs on: the TAP, the host's side of it
//! (address, MTU, `txqueuelen`, link up, as `ip` does it), the device
//! middleware (pcap, lossy link, scripted faults, frame tracer), the stack
//! and its poll loop. `synack up`, `synack ping` and `synack connect` use
//! `bring_up`, and so does a Rust program of one's own on a TAP through the
//! front door (device/src/net/, apps/examples/echo_tap.rs).
//!
//! Read first: ip-link(8), ip-address(8), and the kernel's
//! Documentation/networking/tuntap.rst.

use clap::Args;
use device::{Clock, Device, Direction, NetLoop, PcapWriter, Tap, Tracer};
use stack::{Config, Duration, Instant, MacAddr, Stack, TraceEvent};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::process::Command;

/// The poll loop over the device stack `build_device` makes.
pub type Iface = NetLoop<Box<dyn Device>>;

/// What `bring_up` prints as the stack runs: a line per frame, per trace
/// event, per scripted fault (`synack up` passes its printers; a quiet
/// program passes `Show::default()`).
#[derive(Default, Clone, Copy)]
pub struct Show {
    pub frames: Option<fn(Direction, Instant, &[u8])>,
    pub events: Option<fn(&TraceEvent)>,
    pub faults: Option<fn(&device::FaultEvent)>,
}

/// One line on standard output, flushed (tests read it through a pipe).
fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The interface: the TAP device, the host's side of it, and the stack's.
#[derive(Args, Clone, Debug)]
pub struct IfaceArgs {
    /// TAP device to create (or attach to).
    #[arg(long, default_value = "tap0")]
    pub tap: String,
    /// Address given to the host's side of the TAP.
    #[arg(long, default_value = "10.0.0.1/24", value_parser = parse_cidr)]
    pub host_addr: (Ipv4Addr, u8),
    /// The stack's own address.
    #[arg(long, default_value = "10.0.0.2/24", value_parser = parse_cidr)]
    pub addr: (Ipv4Addr, u8),
    /// The stack's default gateway [default: the host address].
    #[arg(long)]
    pub gateway: Option<Ipv4Addr>,
    /// The stack's MAC address.
    #[arg(long, default_value = "02:00:00:00:00:02")]
    pub mac: MacAddr,
    /// Link MTU (also set on the TAP).
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u16).range(576..=9000))]
    pub mtu: u16,
    /// Seed of the stack's RNG (ISN secret, ephemeral ports, IP ids).
    #[arg(long, default_value_t = 0x5eed_cafe)]
    pub seed: u64,
    /// Write every frame in and out to this pcap file.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<std::path::PathBuf>,
    /// Print TCP sequence numbers as they are, not relative to the
    /// connection's first (tcpdump's -S).
    #[arg(short = 'S', long = "absolute-tcp-sequence-numbers")]
    pub absolute: bool,
    /// Scripted faults, e.g. "drop out tcp data #3; delay in syn 500ms".
    #[arg(long, value_name = "SCRIPT", value_parser = device::FaultScript::parse, long_help = device::faults::HELP)]
    pub faults: Option<device::FaultScript>,
    /// A randomly bad link, both ways (device/src/link.rs), e.g.
    /// "loss 10%, reorder 25%, dup 5%, delay 20ms±10ms, blackout 10s+30s, seed 7".
    #[arg(long, value_name = "SPEC", value_parser = device::LinkSpec::parse)]
    pub link: Option<device::LinkSpec>,
    /// Open the TAP with a virtio-net header and the host's offloads:
    /// checksums left to the host, TCP segments of up to 64 KiB both ways
    /// (device/src/tap.rs, docs/performance.md). Frames above the MTU then
    /// show in the trace and the capture.
    #[arg(long)]
    pub offload: bool,
    /// Busy polling: before sleeping, ask the TAP again without sleeping for
    /// up to USEC microseconds (Linux's net.core.busy_poll). Lower latency
    /// for frames that come within that time; a core spins meanwhile.
    #[arg(long, value_name = "USEC")]
    pub busy_poll: Option<u64>,
    /// GRO (stack/src/gro.rs, as Linux's): a flow's in-order TCP segments
    /// read in one wake-up are glued into one before TCP sees them, so TCP
    /// ACKs them once. On by default when frames are not printed (`up -q`);
    /// while every frame is printed, TCP sees each one on its own, so what
    /// the trace shows is what TCP did. --gro turns it on regardless.
    #[arg(long, conflicts_with = "no_gro")]
    pub gro: bool,
    /// No GRO, even with -q: TCP sees (and may ACK) every frame on its own.
    #[arg(long)]
    pub no_gro: bool,
}

impl IfaceArgs {
    /// Whether the stack glues segments (GRO): asked for, or by default
    /// when frames are not printed one by one (`frames_shown`).
    pub fn gro_on(&self, frames_shown: bool) -> bool {
        self.gro || (!self.no_gro && !frames_shown)
    }
}

fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (ip, len) = s.split_once('/').ok_or(format!("{s:?}: want ADDRESS/PREFIX, like 10.0.0.1/24"))?;
    let ip = ip.parse::<Ipv4Addr>().map_err(|e| format!("{ip:?}: {e}"))?;
    let len = len.parse::<u8>().ok().filter(|&l| (1..=30).contains(&l)).ok_or(format!("{len:?}: prefix 1..=30"))?;
    Ok((ip, len))
}

/// The stack's `Config` for the interface arguments (the rest stays default).
pub fn stack_config(a: &IfaceArgs) -> Config {
    Config {
        mac: a.mac,
        addr: a.addr.0,
        prefix_len: a.addr.1,
        gateway: Some(a.gateway.unwrap_or(a.host_addr.0)),
        mtu: a.mtu as usize,
        seed: a.seed,
        gro: !a.no_gro,
        ..Config::default()
    }
}

impl IfaceArgs {
    /// The arguments `synack up` has when given none: TAP `tap0`, host
    /// 10.0.0.1/24, synack 10.0.0.2/24.
    pub fn defaults() -> IfaceArgs {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            iface: IfaceArgs,
        }
        <Only as clap::Parser>::parse_from(["synack"]).iface
    }
}

/// Run a command, printing it first, as a tutorial would.
fn run_cmd(cmd: &[&str]) -> io::Result<()> {
    // Like `set -x`: on standard error, so that standard output carries
    // only what the command is for (trace lines, or `connect`'s data).
    eprintln!("+ {}", cmd.join(" "));
    let status = Command::new(cmd[0]).args(&cmd[1..]).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("`{}` failed ({status})", cmd.join(" "))))
    }
}

/// Create the TAP and configure the host's side of it.
pub fn open_tap(a: &IfaceArgs) -> io::Result<Tap> {
    if a.offload && (a.link.is_some() || a.faults.is_some()) {
        // A corrupted frame would carry a checksum the host computes after
        // the damage (or one nobody checks): nothing would catch it.
        return Err(io::Error::other("--offload leaves checksums to the host: leave out --link and --faults"));
    }
    let open = if a.offload { Tap::open_offload } else { Tap::open };
    let tap = open(&a.tap, a.mtu as usize)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open TAP {:?}: {e} (are you root?)", a.tap)))?;
    let name = tap.name().to_string();
    let host = format!("{}/{}", a.host_addr.0, a.host_addr.1);
    run_cmd(&["ip", "addr", "add", &host, "dev", &name])?;
    if a.mtu != 1500 {
        run_cmd(&["ip", "link", "set", "dev", &name, "mtu", &a.mtu.to_string()])?;
    }
    // A deeper queue on the host's side than the TAP's default: a burst of
    // frames (a SYN flood) waits for synack instead of being dropped, the
    // host's own SYN with it (`crate::TAP_TXQUEUELEN`).
    let qlen = crate::TAP_TXQUEUELEN.to_string();
    run_cmd(&["ip", "link", "set", "dev", &name, "txqueuelen", &qlen])?;
    run_cmd(&["ip", "link", "set", &name, "up"])?;
    Ok(tap)
}

/// The device stack: `Tracer<Scripted<Lossy<PcapWriter<Tap>>>>`, each layer
/// optional. The capture sees the wire (a frame the script drops on the way
/// in was on the wire; one it drops on the way out never was); the tracer
/// sees what the stack sends and receives.
pub fn build_device(tap: Tap, a: &IfaceArgs, clock: &Clock, show: &Show) -> io::Result<Box<dyn Device>> {
    let mut dev: Box<dyn Device> = Box::new(tap);
    if let Some(path) = &a.pcap {
        dev = Box::new(PcapWriter::create(dev, path, clock.wall_epoch())?);
    }
    if let Some(spec) = a.link.clone() {
        eprintln!("link: {spec}");
        dev = Box::new(device::Lossy::new(dev, spec));
    }
    if let Some(script) = a.faults.clone().filter(|s| !s.is_empty()) {
        say(&format!("faults: {script}"));
        let mut scripted = device::Scripted::new(dev, script);
        if let Some(f) = show.faults {
            scripted = scripted.on_fault(f);
        }
        dev = Box::new(scripted);
    }
    if let Some(f) = show.frames {
        dev = Box::new(Tracer::new(dev, f));
    }
    Ok(dev)
}

/// Open, configure, and start the stack: everything `up`, `ping` and a
/// front-door program on a TAP (`device::net::Net::spawn_loop`) share.
/// Returns the loop, the TAP's name, and the instant the stack was made at.
pub fn bring_up(a: &IfaceArgs, show: Show) -> io::Result<(Iface, String, Instant)> {
    crate::frames::set_absolute(a.absolute);
    let trace_frames = show.frames.is_some();
    let trace_events = show.events.is_some();
    let tap = open_tap(a)?;
    let name = tap.name().to_string();
    // What the TAP does for the stack (--offload): checksums, 64 KiB segments.
    // GRO unless every frame is printed (args.rs `gro_on`).
    let config = Config { offloads: tap.offloads(), gro: a.gro_on(trace_frames), ..stack_config(a) };
    let clock = Clock::new();
    let dev = build_device(tap, a, &clock, &show)?;
    // The stack is made after the link is up: its gratuitous ARP must not
    // meet a TAP that is still down (EIO).
    let t0 = clock.now();
    let mut stack = Stack::new(config, t0);
    stack.trace_mut().set_enabled(trace_events);
    let mut net = NetLoop::with_stack(dev, stack, clock);
    net.set_busy_poll(a.busy_poll.map(Duration::from_micros));
    if let Some(f) = show.events {
        net.on_event(f);
    }
    Ok((net, name, t0))
}
