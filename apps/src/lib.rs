//! The `synack` command's library part: services, the ping client, the
//! prompt's command interpreter, ladder diagrams and protocols, which the
//! binary, the telnet server and tests share.
//!
//! Who uses whom (no cycles):
//!
//! ```text
//!   web       -> reactor, services, step, ladder, plot
//!   reactor   -> services, telnetd, step
//!   telnetd   -> shell, telnet, step, ping, services
//!   shell     -> step, netstat, tunables, ping
//!   drill     -> step                     (the TCB view of `-v`)
//!   plot      -> none of these            (History, SVG plots, `synack plot`)
//!   iface     -> frames                 (the TAP set-up of `up`)
//!   step      -> ladder, frames, netstat  (it wakes the reactor through
//!                                         `step::Waker`, which the reactor
//!                                         implements)
//!   the rest  -> none of these
//! ```

/// The `txqueuelen` `synack up` gives the host's side of its TAP (Linux's
/// default for a TAP is 1000 frames): the kernel's queue of frames for
/// synack, which `tun_net_xmit` drops from when it is full. Deeper, so that
/// a burst (a SYN flood while synack's thread is off its core for a few
/// milliseconds) waits instead of being dropped with the host's own SYN in
/// it, whose retransmission comes 1 s later; not much deeper, because under
/// a flood that synack cannot keep up with the queue stays full, and every
/// frame waits for all of it: 4096 frames at the ~150,000 SYNs a second
/// synack answers on a shared core is ~27 ms.
pub const TAP_TXQUEUELEN: u32 = 4096;

pub mod drill;
pub mod frames;
pub mod iface;
pub mod ladder;
pub mod netstat;
pub mod ping;
pub mod plot;
pub mod reactor;
pub mod run;
pub mod services;
pub mod shell;
pub mod step;
pub mod telnet;
pub mod telnetd;
pub mod tunables;
pub mod web;
