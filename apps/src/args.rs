//! The `synack` command's arguments shared by its subcommands: the
//! interface (`IfaceArgs`: the TAP, the addresses, the device middleware),
//! `up`'s (`UpArgs`, which `replay` parses again from a recording), and the
//! stack's `Config` they make (`args.rs::stack_config`).

use clap::Args;
use stack::{Config, MacAddr};
use std::net::Ipv4Addr;

/// The interface: the TAP device, the host's side of it, and the stack's.
#[derive(Args, Clone, Debug)]
pub(crate) struct IfaceArgs {
    /// TAP device to create (or attach to).
    #[arg(long, default_value = "tap0")]
    pub(crate) tap: String,
    /// Address given to the host's side of the TAP.
    #[arg(long, default_value = "10.0.0.1/24", value_parser = parse_cidr)]
    pub(crate) host_addr: (Ipv4Addr, u8),
    /// The stack's own address.
    #[arg(long, default_value = "10.0.0.2/24", value_parser = parse_cidr)]
    pub(crate) addr: (Ipv4Addr, u8),
    /// The stack's default gateway [default: the host address].
    #[arg(long)]
    pub(crate) gateway: Option<Ipv4Addr>,
    /// The stack's MAC address.
    #[arg(long, default_value = "02:00:00:00:00:02")]
    pub(crate) mac: MacAddr,
    /// Link MTU (also set on the TAP).
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u16).range(576..=9000))]
    pub(crate) mtu: u16,
    /// Seed of the stack's RNG (ISN secret, ephemeral ports, IP ids).
    #[arg(long, default_value_t = 0x5eed_cafe)]
    pub(crate) seed: u64,
    /// Write every frame in and out to this pcap file.
    #[arg(long, value_name = "FILE")]
    pub(crate) pcap: Option<std::path::PathBuf>,
    /// Print TCP sequence numbers as they are, not relative to the
    /// connection's first (tcpdump's -S).
    #[arg(short = 'S', long = "absolute-tcp-sequence-numbers")]
    pub(crate) absolute: bool,
    /// Scripted faults, e.g. "drop out tcp data #3; delay in syn 500ms".
    #[arg(long, value_name = "SCRIPT", value_parser = device::FaultScript::parse, long_help = device::faults::HELP)]
    pub(crate) faults: Option<device::FaultScript>,
    /// A randomly bad link, both ways (device/src/link.rs), e.g.
    /// "loss 10%, reorder 25%, dup 5%, delay 20ms±10ms, blackout 10s+30s, seed 7".
    #[arg(long, value_name = "SPEC", value_parser = device::LinkSpec::parse)]
    pub(crate) link: Option<device::LinkSpec>,
    /// Open the TAP with a virtio-net header and the host's offloads:
    /// checksums left to the host, TCP segments of up to 64 KiB both ways
    /// (device/src/tap.rs, docs/performance.md). Frames above the MTU then
    /// show in the trace and the capture.
    #[arg(long)]
    pub(crate) offload: bool,
    /// Busy polling: before sleeping, ask the TAP again without sleeping for
    /// up to USEC microseconds (Linux's net.core.busy_poll). Lower latency
    /// for frames that come within that time; a core spins meanwhile.
    #[arg(long, value_name = "USEC")]
    pub(crate) busy_poll: Option<u64>,
    /// GRO (stack/src/gro.rs, as Linux's): a flow's in-order TCP segments
    /// read in one wake-up are glued into one before TCP sees them, so TCP
    /// ACKs them once. On by default when frames are not printed (`up -q`);
    /// while every frame is printed, TCP sees each one on its own, so what
    /// the trace shows is what TCP did. --gro turns it on regardless.
    #[arg(long, conflicts_with = "no_gro")]
    pub(crate) gro: bool,
    /// No GRO, even with -q: TCP sees (and may ACK) every frame on its own.
    #[arg(long)]
    pub(crate) no_gro: bool,
}

impl IfaceArgs {
    /// Whether the stack glues segments (GRO): asked for, or by default
    /// when frames are not printed one by one (`frames_shown`).
    pub(crate) fn gro_on(&self, frames_shown: bool) -> bool {
        self.gro || (!self.no_gro && !frames_shown)
    }
}

#[derive(Args)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    pub(crate) iface: IfaceArgs,
    /// Do not print a line per frame.
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Also print the stack's trace events under the frames.
    #[arg(short, long)]
    pub(crate) verbose: bool,
    #[command(flatten)]
    pub(crate) tcp: synack_apps::tunables::TcpFlags,
    /// Record the run into DIR (capture.pcap and replay.txt) so that
    /// `synack replay DIR --check` can replay it as a regression test.
    #[arg(long, value_name = "DIR")]
    pub(crate) record: Option<std::path::PathBuf>,
    /// Step mode: each TCP segment waits for Enter, shown with the TCB
    /// before and after (also `step on|off` at the prompt; see apps/src/step/).
    #[arg(long)]
    pub(crate) step: bool,
    /// At exit, draw the ladder diagram of the run's TCP connections here.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) ladder: Option<std::path::PathBuf>,
    /// Serve the live web view on the stack's own address, over its own
    /// TCP: http://10.0.0.2/ (PORT 80 unless given; docs/web.md).
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "80")]
    pub(crate) web: Option<u16>,
    /// Let the web page drive step mode (POST /api/step/...); without it
    /// the page is read-only.
    #[arg(long, requires = "web")]
    pub(crate) web_control: bool,
}

fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (ip, len) = s.split_once('/').ok_or(format!("{s:?}: want ADDRESS/PREFIX, like 10.0.0.1/24"))?;
    let ip = ip.parse::<Ipv4Addr>().map_err(|e| format!("{ip:?}: {e}"))?;
    let len = len.parse::<u8>().ok().filter(|&l| (1..=30).contains(&l)).ok_or(format!("{len:?}: prefix 1..=30"))?;
    Ok((ip, len))
}

/// The stack's `Config` for the interface arguments (the rest stays default).
pub(crate) fn stack_config(a: &IfaceArgs) -> Config {
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
