//! The `synack` command's library part: services, the ping client and the
//! prompt's command interpreter, which the binary, the telnet server and
//! tests share.

pub mod ping;
pub mod services;
pub mod shell;
pub mod telnet;
