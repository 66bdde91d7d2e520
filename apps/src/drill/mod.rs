//! `synack drill`: packetdrill scripts run against synack on a virtual clock.

pub mod ast;
pub mod lexer;
pub mod parse;
