//! Programs on synack: `synack run -- CMD` runs an unmodified, dynamically
//! linked program with its IPv4 TCP sockets on a running `synack up`.
//!
//! ```text
//!   synack run -- CMD            LD_PRELOAD=libsynack_preload.so SYNACK_CTL=…/TAP.sock
//!     CMD ── socket/bind/listen/accept/connect/…sockopt ──> control socket ─┐
//!     CMD ── read/write/poll/epoll/close: its fd is a socketpair end ═══╗    │
//!                                                                         ║    │
//!   synack up: server.rs (the control socket, the sockets) <═════════════╝<───┘
//!              relay.rs (pair end <-> Stack::send/recv)
//! ```
//!
//! Files: proto.rs (the control messages, shared with the library in
//! apps/preload/), server.rs (`synack up`'s side), relay.rs (one socket),
//! sys.rs (the kernel calls they make), cmd.rs (`synack run`).
//!
//! The control socket lives in the run directory of the network namespace,
//! `/run/synack/net-INODE/TAP.sock` (`/run/synack` or `$SYNACK_RUN_DIR`;
//! INODE names the namespace, as `ls -l /proc/self/ns/net` shows it, so a
//! `tap0` in each of two namespaces has its own), the directory mode 0700,
//! the socket 0600: only the user who started `synack up` (and root) can
//! use it. Under `sudo`, the user who ran sudo (`SUDO_UID`) owns both, so
//! `synack run` needs no sudo.

pub mod cmd;
pub mod proto;
mod relay;
pub mod server;
mod sys;

pub use server::{RunServer, RunStats};

use std::path::PathBuf;

/// Where the control sockets of this network namespace are:
/// `$SYNACK_RUN_DIR` (else `/run/synack`), then `net-INODE`.
pub fn run_dir() -> PathBuf {
    let base = std::env::var_os("SYNACK_RUN_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/run/synack"));
    use std::os::unix::fs::MetadataExt;
    let ns = std::fs::metadata("/proc/self/ns/net").map(|m| m.ino()).unwrap_or(0);
    base.join(format!("net-{ns}"))
}

/// The control socket of the `synack up` on `tap`.
pub fn socket_path(tap: &str) -> PathBuf {
    run_dir().join(format!("{tap}.sock"))
}
