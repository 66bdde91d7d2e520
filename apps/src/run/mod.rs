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
//! The control socket lives in the run directory, `/run/synack` (or
//! `$SYNACK_RUN_DIR`), mode 0700, as `TAP.sock`, mode 0600: only the user
//! who started `synack up` (and root) can use it: under `sudo`, the user
//! who ran sudo (`SUDO_UID`) owns both, so `synack run` needs no sudo.

pub mod cmd;
pub mod proto;
mod relay;
pub mod server;
mod sys;

pub use server::{RunServer, RunStats};

use std::path::PathBuf;

/// Where the control sockets are: `$SYNACK_RUN_DIR`, else `/run/synack`.
pub fn run_dir() -> PathBuf {
    std::env::var_os("SYNACK_RUN_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/run/synack"))
}

/// The control socket of the `synack up` on `tap`.
pub fn socket_path(tap: &str) -> PathBuf {
    run_dir().join(format!("{tap}.sock"))
}
