//! `Stack`: one network interface with its protocols, driven from outside.
//!
//! This file is the dispatcher: it owns every layer's state and routes a
//! frame up through the layers (`handle_frame`), a packet down through them
//! (`dispatch_l4`), and the socket calls to udp.rs or tcp/. The protocol
//! logic itself lives in one file per protocol.

use crate::arp::{ArpCache, ArpConfig, NeighbourView};
use crate::ethernet::{self, EtherType, MacAddr};
use crate::icmp::{Icmp, IcmpConfig};
use crate::ip_frag::Reassembly;
use crate::ipv4;
use crate::route::{Route, RouteTable};
use crate::skbuff::SkBuff;
use crate::socket::*;
use crate::stats::{Counter, DropReason, Stats};
use crate::tcp::{Tcp, TcpConfig, TcpInfo};
use crate::time::{earliest, Duration, Instant};
use crate::trace::{EventKind, Trace, TraceEvent};
use crate::udp::Udp;
use crate::{Cx, Errno, L4Xmit};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

pub use crate::icmp::PingReply;

/// Everything that configures a stack. `Config::default()` is synack's
/// classroom setup: 10.0.0.2/24, MAC 02:00:00:00:00:02, gateway 10.0.0.1.
#[derive(Clone, Debug)]
pub struct Config {
    pub mac: MacAddr,
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    /// Link MTU: the largest IP packet we send without fragmenting.
    pub mtu: usize,
    /// Seed of the stack's RNG (ISN secret, ephemeral ports, IP ids).
    pub seed: u64,
    /// Announce ourselves with a gratuitous ARP at start.
    pub gratuitous_arp: bool,
    pub arp: ArpConfig,
    /// RFC 791 / Linux `ipfrag_time`: give up on an incomplete datagram.
    pub frag_timeout: Duration,
    /// Linux `ipfrag_high_thresh`: memory for all datagrams being reassembled.
    pub frag_mem_limit: usize,
    pub icmp: IcmpConfig,
    /// Receive queue of a UDP socket, in bytes of payload (SO_RCVBUF).
    pub udp_rcvbuf: usize,
    /// The most UDP sockets at once.
    pub max_udp_sockets: usize,
    pub tcp: TcpConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mac: MacAddr([0x02, 0, 0, 0, 0, 0x02]),
            addr: Ipv4Addr::new(10, 0, 0, 2),
            prefix_len: 24,
            gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
            mtu: 1500,
            seed: 0x5eed_cafe,
            gratuitous_arp: true,
            arp: ArpConfig::default(),
            frag_timeout: Duration::from_secs(30),
            frag_mem_limit: 4 << 20,
            icmp: IcmpConfig::default(),
            udp_rcvbuf: 212_992,
            max_udp_sockets: 1024,
            tcp: TcpConfig::default(),
        }
    }
}

/// What `ifconfig` shows.
#[derive(Clone, Debug)]
pub struct IfaceInfo {
    pub mac: MacAddr,
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    pub broadcast: Ipv4Addr,
    pub mtu: usize,
}

pub struct Stack {
    config: Config,
    stats: Stats,
    trace: Trace,
    rng: StdRng,
    arp: ArpCache,
    routes: RouteTable,
    frags: Reassembly,
    icmp: Icmp,
    udp: Udp,
    tcp: Tcp,
    /// Transport packets waiting to go down through IP (filled through `Cx`).
    l4_out: VecDeque<L4Xmit>,
    /// Finished Ethernet frames waiting for `poll_transmit`.
    txq: VecDeque<SkBuff>,
    ip_ident: u16,
}

impl Stack {
    /// A new stack. It queues its gratuitous ARP, so call `poll_transmit`.
    pub fn new(config: Config, now: Instant) -> Stack {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let mut tcp_config = config.tcp.clone();
        tcp_config.mss = tcp_config.mss.min(config.mtu.saturating_sub(40).max(88) as u16);
        let tcp = Tcp::new(tcp_config, &mut rng);
        let ip_ident = rand::Rng::gen(&mut rng);
        let mut routes = RouteTable::default();
        routes.add_connected(config.addr, config.prefix_len);
        if let Some(gw) = config.gateway {
            routes.add(Route::default_via(gw));
        }
        let mut stack = Stack {
            arp: ArpCache::new(config.arp.clone()),
            frags: Reassembly::new(config.frag_timeout, config.frag_mem_limit),
            icmp: Icmp::new(config.icmp.clone()),
            udp: Udp::new(config.udp_rcvbuf, config.max_udp_sockets),
            tcp,
            routes,
            stats: Stats::default(),
            trace: Trace::default(),
            rng,
            l4_out: VecDeque::new(),
            txq: VecDeque::new(),
            ip_ident,
            config,
        };
        if stack.config.gratuitous_arp {
            stack.send_gratuitous_arp(now);
        }
        stack
    }

    // ---------------------------------------------------------------- driver

    /// A frame arrived from the device (`netif_receive_skb`).
    pub fn handle_frame(&mut self, now: Instant, mut skb: SkBuff) {
        self.stats.inc(Counter::FramesRx);
        let hdr = match ethernet::eth_rcv(&mut skb, self.config.mac) {
            Ok(h) => h,
            Err(reason) => return self.drop_packet(now, reason, "ethernet"),
        };
        match hdr.ethertype {
            EtherType::Arp => self.arp_rcv(now, hdr.src, skb),
            EtherType::Ipv4 => self.ip_rcv(now, skb),
            EtherType::Unknown(t) => {
                self.drop_packet(now, DropReason::EthUnknownType, &format!("ethertype 0x{t:04x}"));
            }
        }
        self.flush(now);
    }

    /// The deadline reported by `poll_timeout` has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.arp_timers(now);
        for reason in self.frags.expire(now) {
            self.drop_packet(now, reason, "reassembly timer (RFC 791: 30 s)");
        }
        let mut cx = Cx { now, stats: &mut self.stats, trace: &mut self.trace, rng: &mut self.rng, out: &mut self.l4_out };
        self.tcp.handle_timeout(&mut cx);
        self.flush(now);
    }

    /// The next finished frame to write to the device.
    pub fn poll_transmit(&mut self, _now: Instant) -> Option<SkBuff> {
        let skb = self.txq.pop_front()?;
        self.stats.inc(Counter::FramesTx);
        Some(skb)
    }

    /// When `handle_timeout` wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = earliest(self.arp.poll_timeout(), self.frags.poll_timeout());
        earliest(t, self.tcp.poll_timeout())
    }

    /// Frames queued for transmit.
    pub fn tx_pending(&self) -> usize {
        self.txq.len()
    }

    // ---------------------------------------------------------- introspection

    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn iface(&self) -> IfaceInfo {
        let mask = prefix_mask(self.config.prefix_len);
        IfaceInfo {
            mac: self.config.mac,
            addr: self.config.addr,
            prefix_len: self.config.prefix_len,
            broadcast: Ipv4Addr::from(u32::from(self.config.addr) | !mask),
            mtu: self.config.mtu,
        }
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    pub fn trace_mut(&mut self) -> &mut Trace {
        &mut self.trace
    }
    /// The next trace event, when tracing is on (`trace_mut().set_enabled(true)`).
    pub fn poll_event(&mut self) -> Option<TraceEvent> {
        self.trace.pop()
    }
    /// The neighbour (ARP) cache, as `arp -n` shows it.
    pub fn arp_entries(&self, now: Instant) -> Vec<NeighbourView> {
        self.arp.entries(now)
    }
    pub fn routes(&self) -> &[Route] {
        self.routes.routes()
    }
    pub fn route_add(&mut self, route: Route) -> Result<(), Errno> {
        self.routes.add(route)
    }
    pub fn route_del(&mut self, dest: Ipv4Addr, prefix_len: u8) -> Result<(), Errno> {
        self.routes.del(dest, prefix_len)
    }
    /// Connections and listeners, as `netstat -tan` / `ss -ti` show them.
    pub fn tcp_info(&self, now: Instant) -> Vec<TcpInfo> {
        self.tcp.info(now)
    }
    /// UDP sockets: (local, remote if connected, bytes queued).
    pub fn udp_info(&self) -> Vec<(SocketAddrV4, Option<SocketAddrV4>, usize)> {
        self.udp.info()
    }
    /// Direct access to the TCP layer (tests, step mode).
    pub fn tcp(&self) -> &Tcp {
        &self.tcp
    }

    // -------------------------------------------------------------- ICMP echo

    /// Send one ICMP echo request (the stack's own `ping`).
    pub fn ping_send(&mut self, now: Instant, dst: Ipv4Addr, ident: u16, seq: u16, payload_len: usize) -> Result<(), Errno> {
        let src = self.source_for(dst)?;
        let skb = self.icmp.echo_request(now, ident, seq, payload_len);
        self.l4_out.push_back(L4Xmit { src, dst, protocol: ipv4::PROTO_ICMP, skb });
        self.flush(now);
        Ok(())
    }

    /// The next echo reply received for `ping_send`.
    pub fn ping_recv(&mut self) -> Option<PingReply> {
        self.icmp.pop_reply()
    }

    // ------------------------------------------------------------- socket API

    /// `socket(AF_INET, ty, 0)`.
    pub fn socket(&mut self, ty: SockType) -> Result<SocketHandle, Errno> {
        match ty {
            SockType::Dgram => self.udp.socket().map(SocketHandle::Udp),
            SockType::Stream => self.tcp.socket().map(SocketHandle::Tcp),
        }
    }

    /// `bind(2)`. Port 0 picks an ephemeral port.
    pub fn bind(&mut self, h: SocketHandle, addr: SocketAddrV4) -> Result<(), Errno> {
        self.check_local(*addr.ip())?;
        match h {
            SocketHandle::Udp(i) => self.udp.bind(i, addr, &mut self.rng),
            SocketHandle::Tcp(i) => self.tcp.bind(i, addr, &mut self.rng),
        }
    }

    /// `listen(2)`: TCP only.
    pub fn listen(&mut self, h: SocketHandle, backlog: usize) -> Result<(), Errno> {
        match h {
            SocketHandle::Udp(_) => Err(Errno::EOPNOTSUPP),
            SocketHandle::Tcp(i) => self.tcp.listen(i, backlog, &mut self.rng),
        }
    }

    /// `accept(2)`, non-blocking: `EAGAIN` when the accept queue is empty.
    pub fn accept(&mut self, now: Instant, h: SocketHandle) -> Result<(SocketHandle, SocketAddrV4), Errno> {
        match h {
            SocketHandle::Udp(_) => Err(Errno::EOPNOTSUPP),
            SocketHandle::Tcp(i) => {
                let mut cx = Cx { now, stats: &mut self.stats, trace: &mut self.trace, rng: &mut self.rng, out: &mut self.l4_out };
                let r = self.tcp.accept(&mut cx, i).map(|(c, peer)| (SocketHandle::Tcp(c), peer));
                self.flush(now);
                r
            }
        }
    }

    /// `connect(2)`. TCP: returns `EINPROGRESS`; poll for POLLOUT, then
    /// `take_error` tells success or failure. UDP: sets the default peer.
    pub fn connect(&mut self, now: Instant, h: SocketHandle, remote: SocketAddrV4) -> Result<(), Errno> {
        let local_ip = self.source_for(*remote.ip())?;
        let r = match h {
            SocketHandle::Udp(i) => self.udp.connect(i, local_ip, remote, &mut self.rng),
            SocketHandle::Tcp(i) => {
                let mut cx = Cx { now, stats: &mut self.stats, trace: &mut self.trace, rng: &mut self.rng, out: &mut self.l4_out };
                self.tcp.connect(&mut cx, i, local_ip, remote)
            }
        };
        self.flush(now);
        r
    }

    /// `send(2)` on a connected socket.
    pub fn send(&mut self, now: Instant, h: SocketHandle, buf: &[u8], flags: MsgFlags) -> Result<usize, Errno> {
        match h {
            SocketHandle::Udp(_) => self.sendto(now, h, buf, None),
            SocketHandle::Tcp(i) => {
                let mut cx = Cx { now, stats: &mut self.stats, trace: &mut self.trace, rng: &mut self.rng, out: &mut self.l4_out };
                let r = self.tcp.send(&mut cx, i, buf, flags);
                self.flush(now);
                r
            }
        }
    }

    /// `sendto(2)`: UDP with an explicit destination (or the connected peer).
    pub fn sendto(&mut self, now: Instant, h: SocketHandle, buf: &[u8], to: Option<SocketAddrV4>) -> Result<usize, Errno> {
        match h {
            SocketHandle::Udp(i) => {
                let dst = match to.or_else(|| self.udp.peer(i)) {
                    Some(d) => d,
                    None => return Err(Errno::EDESTADDRREQ),
                };
                let src = self.source_for(*dst.ip())?;
                if buf.len() > 65_507 {
                    return Err(Errno::EMSGSIZE);
                }
                let x = self.udp.sendto(i, src, dst, buf, &mut self.rng)?;
                self.stats.inc(Counter::UdpTx);
                self.l4_out.push_back(x);
                self.flush(now);
                Ok(buf.len())
            }
            SocketHandle::Tcp(_) => match to {
                None => self.send(now, h, buf, MsgFlags::NONE),
                Some(_) => Err(Errno::EISCONN),
            },
        }
    }

    /// `recv(2)`: `EAGAIN` when nothing is queued; `Ok(0)` at TCP end of stream.
    pub fn recv(&mut self, now: Instant, h: SocketHandle, buf: &mut [u8], flags: MsgFlags) -> Result<usize, Errno> {
        match h {
            SocketHandle::Udp(_) => self.recvfrom(now, h, buf, flags).map(|(n, _)| n),
            SocketHandle::Tcp(i) => {
                let mut cx = Cx { now, stats: &mut self.stats, trace: &mut self.trace, rng: &mut self.rng, out: &mut self.l4_out };
                let r = self.tcp.recv(&mut cx, i, buf, flags);
                self.flush(now);
                r
            }
        }
    }

    /// `recvfrom(2)`. A UDP datagram longer than `buf` is truncated, as on Linux.
    pub fn recvfrom(&mut self, now: Instant, h: SocketHandle, buf: &mut [u8], flags: MsgFlags) -> Result<(usize, SocketAddrV4), Errno> {
        match h {
            SocketHandle::Udp(i) => self.udp.recvfrom(i, buf, flags),
            SocketHandle::Tcp(i) => {
                let peer = self.tcp.getpeername(i)?;
                self.recv(now, h, buf, flags).map(|n| (n, peer))
            }
        }
    }

    /// `shutdown(2)`.
    pub fn shutdown(&mut self, now: Instant, h: SocketHandle, how: Shutdown) -> Result<(), Errno> {
        match h {
            SocketHandle::Udp(i) => self.udp.shutdown(i, how),
            SocketHandle::Tcp(i) => {
                let mut cx = Cx { now, stats: &mut self.stats, trace: &mut self.trace, rng: &mut self.rng, out: &mut self.l4_out };
                let r = self.tcp.shutdown(&mut cx, i, how);
                self.flush(now);
                r
            }
        }
    }

    /// `close(2)`. The handle is invalid afterwards; a TCP connection goes on
    /// closing (FIN, TIME_WAIT) without it.
    pub fn close(&mut self, now: Instant, h: SocketHandle) -> Result<(), Errno> {
        match h {
            SocketHandle::Udp(i) => self.udp.close(i),
            SocketHandle::Tcp(i) => {
                let mut cx = Cx { now, stats: &mut self.stats, trace: &mut self.trace, rng: &mut self.rng, out: &mut self.l4_out };
                let r = self.tcp.close(&mut cx, i);
                self.flush(now);
                r
            }
        }
    }

    pub fn getsockname(&self, h: SocketHandle) -> Result<SocketAddrV4, Errno> {
        match h {
            SocketHandle::Udp(i) => self.udp.getsockname(i),
            SocketHandle::Tcp(i) => self.tcp.getsockname(i),
        }
    }

    pub fn getpeername(&self, h: SocketHandle) -> Result<SocketAddrV4, Errno> {
        match h {
            SocketHandle::Udp(i) => self.udp.peer(i).ok_or(Errno::ENOTCONN),
            SocketHandle::Tcp(i) => self.tcp.getpeername(i),
        }
    }

    pub fn setsockopt(&mut self, now: Instant, h: SocketHandle, opt: SockOpt) -> Result<(), Errno> {
        match h {
            SocketHandle::Udp(i) => self.udp.setsockopt(i, opt),
            SocketHandle::Tcp(i) => {
                let mut cx = Cx { now, stats: &mut self.stats, trace: &mut self.trace, rng: &mut self.rng, out: &mut self.l4_out };
                let r = self.tcp.setsockopt(&mut cx, i, opt);
                self.flush(now);
                r
            }
        }
    }

    pub fn getsockopt(&mut self, h: SocketHandle, name: SockOptName) -> Result<SockOpt, Errno> {
        match h {
            SocketHandle::Udp(i) => self.udp.getsockopt(i, name),
            SocketHandle::Tcp(i) => self.tcp.getsockopt(i, name),
        }
    }

    /// SO_ERROR: the pending error, cleared by reading it.
    pub fn take_error(&mut self, h: SocketHandle) -> Option<Errno> {
        match self.getsockopt(h, SockOptName::Error) {
            Err(e) => Some(e),
            Ok(_) => None,
        }
    }

    /// Readiness of one socket, as `poll(2)` reports it in `revents`.
    pub fn poll_socket(&self, h: SocketHandle) -> PollFlags {
        match h {
            SocketHandle::Udp(i) => self.udp.poll(i),
            SocketHandle::Tcp(i) => self.tcp.poll(i),
        }
    }

    /// `poll(2)` over a set: fills `revents` for each `(socket, events)` and
    /// returns how many are ready. POLLERR, POLLHUP and POLLNVAL are always
    /// reported, as on Linux.
    pub fn poll(&self, fds: &[(SocketHandle, PollFlags)], revents: &mut [PollFlags]) -> usize {
        let always = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
        let mut ready = 0;
        for (i, &(h, events)) in fds.iter().enumerate() {
            let r = self.poll_socket(h) & (events | always);
            revents[i] = r;
            if !r.is_empty() {
                ready += 1;
            }
        }
        ready
    }

    // -------------------------------------------------------------- internals

    fn drop_packet(&mut self, now: Instant, reason: DropReason, what: &str) {
        self.stats.count_drop(reason);
        self.trace.emit(now, EventKind::Drop(reason), "", || format!("drop {}: {}", reason.name(), what));
    }

    fn check_local(&self, ip: Ipv4Addr) -> Result<(), Errno> {
        if ip.is_unspecified() || ip == self.config.addr {
            Ok(())
        } else {
            Err(Errno::EADDRNOTAVAIL)
        }
    }

    /// The source address for packets to `dst` (`inet_select_addr`): we have
    /// one interface, so it is ours if a route exists.
    fn source_for(&self, dst: Ipv4Addr) -> Result<Ipv4Addr, Errno> {
        if dst == self.config.addr || dst.is_loopback() {
            return Err(Errno::ENETUNREACH);
        }
        self.routes.route_lookup(dst).map(|_| self.config.addr).ok_or(Errno::ENETUNREACH)
    }
}

pub(crate) fn prefix_mask(prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - prefix_len.min(32) as u32)
    }
}
