//! The `synack` command's library part: services and protocols that
//! tests reuse.

pub mod ladder;
pub mod services;
pub mod telnet;
