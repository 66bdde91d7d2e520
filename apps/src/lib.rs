//! The `synack` command's library part: services, the ping client, the
//! prompt's command interpreter, ladder diagrams and protocols, which the
//! binary, the telnet server and tests share.

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
