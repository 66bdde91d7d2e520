//! The bench's network namespaces: `device::netns` (shared with the interop
//! tests), named for the bench.
//!
//! Every namespace is named `synack-b-<pid>-<tag>`, holds only what the
//! bench put there (a TAP, one end of a veth pair, addresses from 10.0.0.0/8
//! that route nowhere else), and is deleted on Drop, also when a row fails
//! or panics, after the processes the bench started in it are killed by
//! PID. A namespace left by a bench that was killed outright (its PID is
//! gone) is deleted by the next run (`sweep_stale`).

pub use device::netns::{join, must, run_bounded, Netns};
use std::io;

const PREFIX: &str = "synack-b-";

/// `ip netns add synack-b-<pid>-<tag>`, loopback up.
pub fn create(tag: &str) -> io::Result<Netns> {
    Netns::create(&format!("{PREFIX}{}-{tag}", std::process::id()))
}

/// Delete the namespaces of benches that were killed outright.
pub fn sweep_stale() {
    device::netns::sweep_stale(PREFIX);
}
