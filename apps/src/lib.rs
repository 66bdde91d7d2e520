//! The `synack` command's library part: services, the ping client, the
//! prompt's command interpreter, ladder diagrams and protocols, which the
//! binary, the telnet server and tests share.
//!
//! Who uses whom (no cycles):
//!
//! ```text
//!   reactor   -> services, telnetd, step
//!   telnetd   -> shell, telnet, step, ping, services
//!   shell     -> step, netstat, tunables, ping
//!   drill     -> step                     (the TCB view of `-v`)
//!   step      -> ladder, frames, netstat  (it wakes the reactor through
//!                                         `step::Waker`, which the reactor
//!                                         implements)
//!   the rest  -> none of these
//! ```

pub mod drill;
pub mod frames;
pub mod ladder;
pub mod netstat;
pub mod ping;
pub mod reactor;
pub mod services;
pub mod shell;
pub mod step;
pub mod telnet;
pub mod telnetd;
pub mod tunables;
