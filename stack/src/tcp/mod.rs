//! TCP (placeholder: the interface `stack.rs` calls; the TCP helper replaces
//! this file and adds the rest of `tcp/`).
//!
//! Read first: RFC 9293, RFC 6298, RFC 5681, RFC 1122 §4.2, RFC 6528.

use crate::socket::{MsgFlags, PollFlags, Shutdown, SockOpt, SockOptName};
use crate::time::{Duration, Instant};
use crate::{Cx, Errno, SkBuff};
use rand::rngs::StdRng;
use std::net::{Ipv4Addr, SocketAddrV4};

/// TCP tunables (the kernel's `net.ipv4.tcp_*` sysctls, per stack).
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Our MSS; `Stack::new` caps it at MTU - 40.
    pub mss: u16,
    /// Maximum segment lifetime; TIME_WAIT lasts 2 × MSL.
    pub msl: Duration,
    pub sndbuf: usize,
    pub rcvbuf: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig { mss: 1460, msl: Duration::from_secs(30), sndbuf: 212_992, rcvbuf: 131_072 }
    }
}

/// One row of `netstat -tan` plus the `ss -ti` details.
#[derive(Clone, Debug)]
pub struct TcpInfo {
    pub handle: Option<usize>,
    pub state: &'static str,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// Bytes received and not yet read by the application (listener: accept-queue length).
    pub recv_q: usize,
    /// Bytes sent and not yet acknowledged (listener: backlog).
    pub send_q: usize,
}

pub struct Tcp {
    _config: TcpConfig,
}

impl Tcp {
    pub fn new(config: TcpConfig, _rng: &mut StdRng) -> Tcp {
        Tcp { _config: config }
    }
    pub fn socket(&mut self) -> Result<usize, Errno> {
        Err(Errno::EAFNOSUPPORT)
    }
    pub fn bind(&mut self, _h: usize, _addr: SocketAddrV4, _rng: &mut StdRng) -> Result<(), Errno> {
        Err(Errno::EBADF)
    }
    pub fn listen(&mut self, _h: usize, _backlog: usize, _rng: &mut StdRng) -> Result<(), Errno> {
        Err(Errno::EBADF)
    }
    pub fn accept(&mut self, _cx: &mut Cx, _h: usize) -> Result<(usize, SocketAddrV4), Errno> {
        Err(Errno::EBADF)
    }
    pub fn connect(
        &mut self,
        _cx: &mut Cx,
        _h: usize,
        _local_ip: Ipv4Addr,
        _remote: SocketAddrV4,
    ) -> Result<(), Errno> {
        Err(Errno::EBADF)
    }
    pub fn send(&mut self, _cx: &mut Cx, _h: usize, _buf: &[u8], _flags: MsgFlags) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }
    pub fn recv(&mut self, _cx: &mut Cx, _h: usize, _buf: &mut [u8], _flags: MsgFlags) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }
    pub fn shutdown(&mut self, _cx: &mut Cx, _h: usize, _how: Shutdown) -> Result<(), Errno> {
        Err(Errno::EBADF)
    }
    pub fn close(&mut self, _cx: &mut Cx, _h: usize) -> Result<(), Errno> {
        Err(Errno::EBADF)
    }
    pub fn getsockname(&self, _h: usize) -> Result<SocketAddrV4, Errno> {
        Err(Errno::EBADF)
    }
    pub fn getpeername(&self, _h: usize) -> Result<SocketAddrV4, Errno> {
        Err(Errno::EBADF)
    }
    pub fn setsockopt(&mut self, _cx: &mut Cx, _h: usize, _opt: SockOpt) -> Result<(), Errno> {
        Err(Errno::EBADF)
    }
    pub fn getsockopt(&self, _h: usize, _name: SockOptName) -> Result<SockOpt, Errno> {
        Err(Errno::EBADF)
    }
    pub fn poll(&self, _h: usize) -> PollFlags {
        PollFlags::POLLNVAL
    }
    /// A segment for us: `skb.data()` starts at the TCP header. The IP layer
    /// has checked the IP header; the TCP checksum is for TCP to check.
    pub fn tcp_v4_rcv(&mut self, cx: &mut Cx, src: Ipv4Addr, dst: Ipv4Addr, _skb: SkBuff) {
        cx.drop_packet(crate::DropReason::TcpNoSocket, "", || format!("{src} > {dst}: no TCP yet"));
    }
    pub fn handle_timeout(&mut self, _cx: &mut Cx) {}
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    pub fn info(&self, _now: Instant) -> Vec<TcpInfo> {
        Vec::new()
    }
}

impl Tcp {
    /// An ICMP error about a segment we sent from `local_port` to `remote`
    /// (RFC 1122 §4.2.3.9; RFC 5927 for the cautions).
    pub fn icmp_error(&mut self, _cx: &mut Cx, _local_port: u16, _remote: SocketAddrV4, _err: Errno) {}
}
