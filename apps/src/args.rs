//! The `synack` command's arguments shared by its subcommands: the
//! interface (`IfaceArgs`: the TAP, the addresses, the device middleware),
//! `up`'s (`UpArgs`, which `replay` parses again from a recording), and the
//! stack's `Config` they make (`synack_apps::iface::stack_config`; the interface's arguments live
//! in the library, apps/src/iface.rs, for the front door's TAP set-up).

use clap::Args;
pub(crate) use synack_apps::iface::{stack_config, IfaceArgs};

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
