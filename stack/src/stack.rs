//! `Stack`: one network interface with its protocols, driven from outside.
//!
//! Read first: RFC 1122 §1.1.3 (the layers of a host), then lib.rs (the
//! path of a frame through the files).
//!
//! This file holds the configuration (`Config`, `Offloads`, `IfaceInfo`),
//! `Stack` with every layer's state (like Linux's `struct net`: the
//! neighbour table of neighbour.rs, routes, reassembly, `Icmp`, `Udp`,
//! `Tcp`, the queues), and its entry points: the driver's calls
//! (`handle_frame` hands a frame to `ethernet.rs::eth_rcv`, then
//! `arp.rs::arp_rcv` or `ipv4.rs::ip_rcv`; `handle_timeout`, `poll_transmit`
//! over the transmit queue `txq`, `poll_timeout`), `flush` (each `L4Xmit`
//! the transport layers queued to `ipv4.rs::ip_output`), `with_tcp` (a TCP
//! call with its `Cx`), `transport_error` (an ICMP error to the UDP or TCP
//! socket it is about), the socket calls (`socket`, `bind`, `connect`,
//! `sendto`, … dispatched to udp.rs or tcp/), epoll (epoll.rs) and ping
//! (icmp.rs). Each layer's path is in its own file: arp.rs and ipv4.rs as
//! `impl Stack` blocks, icmp.rs and udp.rs as methods of `Icmp` and `Udp`
//! with a `Cx`, ethernet.rs as free functions. This file imports nothing
//! from arp.rs or ipv4.rs (they name `Stack`), so the files have no import
//! cycle.

mod ioctl;

#[cfg(test)]
use crate::checksum;
use crate::cx::{Cx, L4Xmit};
use crate::epoll::{EpollEvent, EpollFlags, EpollHandle, EpollOp, EpollTable};
use crate::errno::Errno;
use crate::ethernet;
use crate::gro::{Gro, GroSkb};
use crate::icmp::{Icmp, IcmpConfig, PingReply, TransportError};
use crate::ip_frag::Reassembly;
use crate::neighbour::{ArpCache, ArpConfig, NeighbourView};
use crate::route::{prefix_mask, Route, RouteTable};
use crate::skbuff::{SkBuff, MAX_FRAME};
use crate::socket::*;
use crate::stats::{Counter, DropReason, Stats};
use crate::tcp::probe::{ProbeQueue, TcpProbe};
use crate::tcp::{Close, Tcp, TcpConfig, TcpInfo};
use crate::time::{earliest, Duration, Instant};
use crate::trace::{EventKind, Trace, TraceEvent};
use crate::udp::Udp;
use crate::wire::ethernet::{EtherType, MacAddr, ETH_HLEN};
use crate::wire::ipv4::{MAX_DATAGRAM, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

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
    /// What the device under the stack does for it (off by default: the
    /// plain 1500-byte path, every checksum in software).
    pub offloads: Offloads,
    /// GRO in software (gro.rs, Linux `napi_gro_receive`): the frames a
    /// driver hands over in one batch (`napi_gro_receive` ...
    /// `napi_gro_flush`) are glued per TCP flow before TCP sees them. On by
    /// default, as in Linux (`ethtool -K dev gro on`); off (`synack up
    /// --no-gro`), TCP sees, and may ACK, every frame on its own.
    pub gro: bool,
}

/// The device's offloads the stack may count on (Linux `netdev_features_t`
/// as TCP sees them: `NETIF_F_HW_CSUM`, `NETIF_F_TSO`, `gso_max_size`).
/// Receive needs no setting: a device says per frame, in the `SkBuff`,
/// whether it checked the checksum (`IpSummed`) or glued segments (GRO).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Offloads {
    /// The device finishes TCP checksums: TCP leaves `CHECKSUM_PARTIAL`
    /// (the pseudo-header sum) instead of summing every payload byte.
    pub tx_csum: bool,
    /// TSO: the device takes TCP segments of up to this many bytes of IP
    /// packet (at most 65,535) and cuts them per MSS. 0: off, one MSS per
    /// segment. Needs `tx_csum` (as in Linux, no TSO without checksum offload).
    pub gso_max_size: usize,
}

impl Offloads {
    /// A device that moves frames in memory and never corrupts them (the
    /// kernel's loopback): no checksum is needed either way.
    pub fn memory() -> Offloads {
        Offloads { tx_csum: true, gso_max_size: 0 }
    }
    /// The same with 64 KiB segments (loopback's 64 KiB MTU, veth's GSO).
    pub fn memory_gso() -> Offloads {
        Offloads { tx_csum: true, gso_max_size: MAX_DATAGRAM }
    }
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
            gro: true,
            offloads: Offloads::default(),
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
    pub(crate) config: Config,
    pub(crate) stats: Stats,
    pub(crate) trace: Trace,
    /// `tcp_probe` samples (tcp/probe.rs), off by default.
    pub(crate) probe: ProbeQueue,
    pub(crate) rng: StdRng,
    /// The neighbour table (neighbour.rs); ARP (arp.rs) fills it.
    pub(crate) arp: ArpCache,
    pub(crate) routes: RouteTable,
    pub(crate) frags: Reassembly,
    pub(crate) icmp: Icmp,
    pub(crate) udp: Udp,
    pub(crate) tcp: Tcp,
    /// Transport packets waiting to go down through IP (filled through `Cx`).
    pub(crate) l4_out: VecDeque<L4Xmit>,
    /// Finished Ethernet frames waiting for `poll_transmit`.
    pub(crate) txq: VecDeque<SkBuff>,
    pub(crate) ip_ident: u16,
    /// epoll instances and their interest and ready lists (epoll.rs).
    epolls: EpollTable,
    /// Segments held by GRO until the end of the driver's batch (gro.rs).
    gro: Gro,
}

impl Stack {
    /// A new stack. It queues its gratuitous ARP, so call `poll_transmit`.
    pub fn new(config: Config, now: Instant) -> Stack {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let tcp_config = Stack::device_tcp_config(&config, config.tcp.clone());
        let tcp = Tcp::new(tcp_config, &mut rng);
        let ip_ident = rand::Rng::gen(&mut rng);
        let mut routes = RouteTable::default();
        routes.add_connected(config.addr, config.prefix_len);
        if let Some(gw) = config.gateway {
            routes.add(Route::default_via(gw)).expect("empty table");
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
            probe: ProbeQueue::default(),
            rng,
            l4_out: VecDeque::new(),
            txq: VecDeque::new(),
            ip_ident,
            epolls: EpollTable::default(),
            gro: Gro::default(),
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
        // A frame longer than the MTU plus a header (and a VLAN tag's
        // slack), unless the device glued it from wire-sized segments (GRO).
        let max = if skb.is_gso() { MAX_FRAME } else { self.config.mtu + ETH_HLEN + 4 };
        if skb.len() > max {
            let len = skb.len();
            return self.drop_packet(now, DropReason::EthOversize, || format!("{len} bytes"));
        }
        let hdr = match ethernet::eth_rcv(&mut skb, self.config.mac) {
            Ok(h) => h,
            Err(reason) => return self.drop_packet(now, reason, || "ethernet".into()),
        };
        match hdr.ethertype {
            EtherType::Arp => self.arp_rcv(now, skb),
            EtherType::Ipv4 => self.ip_rcv(now, skb),
            EtherType::Unknown(t) => {
                self.drop_packet(now, DropReason::EthUnknownType, || format!("ethertype 0x{t:04x}"));
            }
        }
        self.flush(now);
    }

    /// A frame of a batch from the device (Linux `napi_gro_receive`): with
    /// GRO on (`Config::gro`), a TCP segment may be held to be glued to
    /// the next ones of its flow (gro.rs) and handed up by
    /// `napi_gro_flush`, which the driver must call at the end of the
    /// batch; everything else goes up at once, as `handle_frame`.
    pub fn napi_gro_receive(&mut self, now: Instant, skb: SkBuff) {
        if !self.config.gro {
            return self.handle_frame(now, skb);
        }
        let out = self.gro.receive(skb, self.config.mac);
        if let Some(g) = out.flushed {
            self.gro_complete(now, g);
        }
        if let Some(skb) = out.pass {
            self.handle_frame(now, skb);
        }
    }

    /// The end of a batch (Linux `napi_complete_done` → `napi_gro_flush`):
    /// hand up every segment GRO holds. Without it, a held segment would
    /// wait for the next batch.
    pub fn napi_gro_flush(&mut self, now: Instant) {
        // `handle_frame` never feeds GRO, so the held segments can be
        // handed up straight from its list (kept, with its capacity).
        let mut gro = std::mem::take(&mut self.gro);
        for g in gro.flush() {
            self.gro_complete(now, g);
        }
        self.gro = gro;
    }

    /// `napi_gro_complete`: one (maybe glued) segment up the stack, and
    /// the trace says how many wire segments it holds.
    fn gro_complete(&mut self, now: Instant, g: GroSkb) {
        if g.segs > 1 {
            self.stats.inc_by(Counter::GroMergedSegments, g.segs as u64);
            let (n, len, mss) = (g.segs, g.skb.len(), g.skb.gso_size());
            self.trace.emit(now, EventKind::Ip, "Linux GRO (napi_gro_receive, tcp_gro_receive)", || {
                format!("GRO: {n} in-order segments of one flow merged into one of {len} bytes (gso_size {mss}): TCP sees, and ACKs, them once")
            });
        }
        self.handle_frame(now, g.skb);
    }

    /// The deadline reported by `poll_timeout` has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.arp_timers(now);
        for reason in self.frags.expire(now) {
            self.drop_packet(now, reason, || "reassembly timer (RFC 791: 30 s)".into());
        }
        self.with_tcp(now, |tcp, cx| tcp.handle_timeout(cx));
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
    /// The `tcp_probe` queue (tcp/probe.rs): `set_enabled(true)` to sample.
    pub fn tcp_probe_mut(&mut self) -> &mut ProbeQueue {
        &mut self.probe
    }
    /// The next `tcp_probe` sample, when sampling is on.
    pub fn poll_probe(&mut self) -> Option<TcpProbe> {
        self.probe.pop()
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
    /// The TCP tunables in force (Nagle, delayed ACK, MSL, initial RTO, buffers…).
    pub fn tcp_config(&self) -> &TcpConfig {
        self.tcp.config()
    }
    /// Change the TCP tunables at run time, for a lab's before and after.
    /// New connections take every new value; which knobs also change
    /// existing connections is listed at `Tcp::set_config`.
    pub fn set_tcp_config(&mut self, cfg: TcpConfig) {
        let cfg = Stack::device_tcp_config(&self.config, cfg);
        self.config.tcp = cfg.clone();
        self.tcp.set_config(cfg);
    }

    /// What the link decides in TCP's settings: the MSS at most MTU - 40,
    /// and checksum offload and segment size from the device's offloads.
    fn device_tcp_config(config: &Config, mut cfg: TcpConfig) -> TcpConfig {
        cfg.mss = cfg.mss.min(config.mtu.saturating_sub(40).max(88) as u16);
        let o = config.offloads;
        cfg.csum_offload = o.tx_csum;
        cfg.gso_max_size = if o.tx_csum { o.gso_max_size.min(MAX_DATAGRAM) } else { 0 };
        cfg
    }

    /// The device's offloads this stack was made with.
    pub fn offloads(&self) -> Offloads {
        self.config.offloads
    }

    // -------------------------------------------------------------- ICMP echo

    /// Send one ICMP echo request (the stack's own `ping`).
    pub fn ping_send(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        ident: u16,
        seq: u16,
        payload_len: usize,
    ) -> Result<(), Errno> {
        let src = self.source_for(dst)?;
        let skb = self.icmp.echo_request(now, ident, seq, payload_len);
        self.l4_out.push_back(L4Xmit { src, dst, protocol: PROTO_ICMP, skb, ttl: None, tos: 0 });
        self.flush(now);
        Ok(())
    }

    /// The next echo reply received for `ping_send`.
    pub fn ping_recv(&mut self) -> Option<PingReply> {
        self.icmp.pop_reply()
    }

    /// The next echo reply for the `ping_send`s with this identifier.
    pub fn ping_recv_for(&mut self, ident: u16) -> Option<PingReply> {
        self.icmp.pop_reply_for(ident)
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
                self.with_tcp(now, |tcp, cx| tcp.accept(cx, i)).map(|(c, peer)| (SocketHandle::Tcp(c), peer))
            }
        }
    }

    /// `connect(2)`. TCP: returns `EINPROGRESS`; poll for POLLOUT, then
    /// `take_error` tells success or failure. UDP: sets the default peer.
    pub fn connect(&mut self, now: Instant, h: SocketHandle, remote: SocketAddrV4) -> Result<(), Errno> {
        let local_ip = self.source_for(*remote.ip())?;
        let r = match h {
            SocketHandle::Udp(i) => self.udp.connect(i, local_ip, remote, &mut self.rng),
            SocketHandle::Tcp(i) => self.with_tcp(now, |tcp, cx| tcp.connect(cx, i, local_ip, remote)),
        };
        self.flush(now);
        r
    }

    /// `send(2)` on a connected socket.
    pub fn send(&mut self, now: Instant, h: SocketHandle, buf: &[u8], flags: MsgFlags) -> Result<usize, Errno> {
        match h {
            SocketHandle::Udp(_) => self.sendto(now, h, buf, None),
            SocketHandle::Tcp(i) => self.with_tcp(now, |tcp, cx| tcp.send(cx, i, buf, flags)),
        }
    }

    /// `sendto(2)`: UDP with an explicit destination (or the connected peer).
    pub fn sendto(
        &mut self,
        now: Instant,
        h: SocketHandle,
        buf: &[u8],
        to: Option<SocketAddrV4>,
    ) -> Result<usize, Errno> {
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
            SocketHandle::Tcp(i) => self.with_tcp(now, |tcp, cx| tcp.recv(cx, i, buf, flags)),
        }
    }

    /// `recvfrom(2)`. A UDP datagram longer than `buf` is truncated, as on Linux.
    pub fn recvfrom(
        &mut self,
        now: Instant,
        h: SocketHandle,
        buf: &mut [u8],
        flags: MsgFlags,
    ) -> Result<(usize, SocketAddrV4), Errno> {
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
            SocketHandle::Tcp(i) => self.with_tcp(now, |tcp, cx| tcp.shutdown(cx, i, how)),
        }
    }

    /// `close(2)`. The handle is invalid afterwards; a TCP connection goes on
    /// closing (FIN, TIME_WAIT) without it. With SO_LINGER set to a time,
    /// `Ok(Close::Lingering(l))`: a blocking `close` waits while
    /// `lingering(&l, now)` says so (tcp/linger.rs).
    pub fn close(&mut self, now: Instant, h: SocketHandle) -> Result<Close, Errno> {
        self.epolls.forget(h);
        match h {
            SocketHandle::Udp(i) => self.udp.close(i).map(|()| Close::Closed),
            SocketHandle::Tcp(i) => self.with_tcp(now, |tcp, cx| tcp.close(cx, i)),
        }
    }

    /// `close(2)` after data was lost unread outside the stack (a program
    /// of `synack run` exited with bytes in its socketpair): a RST, as
    /// Linux's `tcp_close` sends for unread data (tcp/mod.rs `Tcp::close_reset`).
    pub fn close_reset(&mut self, now: Instant, h: SocketHandle) -> Result<(), Errno> {
        self.epolls.forget(h);
        match h {
            SocketHandle::Udp(i) => self.udp.close(i),
            SocketHandle::Tcp(i) => self.with_tcp(now, |tcp, cx| tcp.close_reset(cx, i)).map(|_| ()),
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
            SocketHandle::Tcp(i) => self.with_tcp(now, |tcp, cx| tcp.setsockopt(cx, i, opt)),
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
        self.getsockopt(h, SockOptName::Error).err()
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

    // ------------------------------------------------------------------ epoll

    /// `epoll_create1(0)`: a new epoll instance (epoll.rs).
    pub fn epoll_create(&mut self) -> EpollHandle {
        self.epolls.create()
    }

    /// `close(epfd)`.
    pub fn epoll_close(&mut self, ep: EpollHandle) -> Result<(), Errno> {
        self.epolls.close(ep)
    }

    /// `epoll_ctl(2)`: watch `h` for `events` (EPOLLIN, EPOLLOUT, EPOLLRDHUP;
    /// EPOLLERR and EPOLLHUP always), level-triggered unless EPOLLET or
    /// EPOLLONESHOT; `token` comes back with each event.
    pub fn epoll_ctl(
        &mut self,
        ep: EpollHandle,
        op: EpollOp,
        h: SocketHandle,
        events: EpollFlags,
        token: u64,
    ) -> Result<(), Errno> {
        self.epoll_wakeups();
        let readiness = self.poll_socket(h);
        self.epolls.ctl(ep, op, h, events, token, readiness)
    }

    /// `epoll_wait(2)` with a zero timeout: up to `max` ready sockets into
    /// `events` (cleared first); returns how many. Costs O(sockets woken
    /// since the last call + ready), however many are watched. The blocking
    /// form, which runs the network until an event or a timeout, is
    /// `device::epoll_wait`.
    pub fn epoll_wait(&mut self, ep: EpollHandle, events: &mut Vec<EpollEvent>, max: usize) -> Result<usize, Errno> {
        self.epoll_wakeups();
        let (tcp, udp) = (&self.tcp, &self.udp);
        self.epolls.wait(ep, events, max, |h| match h {
            SocketHandle::Udp(i) => udp.poll(i),
            SocketHandle::Tcp(i) => tcp.poll(i),
        })
    }

    /// The epoll instances, for introspection (sizes of the lists).
    pub fn epolls(&self) -> &EpollTable {
        &self.epolls
    }

    /// Move the protocols' wake-ups onto the ready lists (`ep_poll_callback`).
    fn epoll_wakeups(&mut self) {
        let epolls = &mut self.epolls;
        self.tcp.drain_wakeups(|i, key| epolls.wake(SocketHandle::Tcp(i), key));
        self.udp.drain_wakeups(|i, key| epolls.wake(SocketHandle::Udp(i), key));
    }

    // -------------------------------------------------------------- internals

    /// Run one TCP call with its context, then send what it queued.
    pub(crate) fn with_tcp<R>(&mut self, now: Instant, f: impl FnOnce(&mut Tcp, &mut Cx) -> R) -> R {
        let mut cx = Cx {
            now,
            stats: &mut self.stats,
            trace: &mut self.trace,
            probe: &mut self.probe,
            rng: &mut self.rng,
            out: &mut self.l4_out,
        };
        let r = f(&mut self.tcp, &mut cx);
        self.flush(now);
        r
    }

    /// Pass an ICMP error about one of our packets (from `Icmp::icmp_rcv`,
    /// or `arp.rs::neigh_link_failure`) up to the socket that sent it
    /// (Linux `ipprot->err_handler`): UDP keeps it for the next call, TCP
    /// decides (RFC 1122 §4.1.3.3, §4.2.3.9).
    pub(crate) fn transport_error(&mut self, now: Instant, e: TransportError) {
        match e.protocol {
            PROTO_UDP => self.udp.icmp_error(e.local_port, e.remote, e.err),
            PROTO_TCP => self.with_tcp(now, |tcp, cx| tcp.icmp_error(cx, e.local_port, e.remote, e.err)),
            _ => {}
        }
    }

    /// Count and trace a drop; `what` only runs when tracing is on.
    pub(crate) fn drop_packet(&mut self, now: Instant, reason: DropReason, what: impl FnOnce() -> String) {
        self.stats.count_drop(reason);
        self.trace.emit(now, EventKind::Drop(reason), reason.rfc(), || format!("drop {}: {}", reason.name(), what()));
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

    /// Send everything the transport layers queued: `ip_output` for each.
    pub(crate) fn flush(&mut self, now: Instant) {
        while let Some(x) = self.l4_out.pop_front() {
            self.ip_output(now, x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipv4::{self, IpOut};
    use crate::udp;

    /// Frames captured with tcpdump on a veth pair where Linux played both
    /// ends: 10.0.0.1 (52:54:00:12:34:56) and 10.0.0.2 (02:00:00:00:00:02),
    /// the same addresses synack uses by default.
    const ARP_REQUEST: &str = "ffffffffffff525400123456080600010800060400015254001234560a0000010000000000000a000002";
    const ARP_REPLY: &str = "525400123456020000000002080600010800060400020200000000020a0000025254001234560a000001";
    const ECHO_REQUEST: &str =
        "020000000002525400123456080045000024e4524000400142840a0000010a000002080053c412a500016162636465666768";
    const ECHO_REPLY: &str =
        "525400123456020000000002080045000024690500004001fdd10a0000020a00000100005bc412a500016162636465666768";

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn stack() -> Stack {
        let mut s = Stack::new(Config::default(), Instant::ZERO);
        let garp = s.poll_transmit(Instant::ZERO).expect("gratuitous ARP");
        assert_eq!(&garp.data()[..6], &[0xff; 6]);
        assert_eq!(&garp.data()[38..42], &[10, 0, 0, 2], "target = our own address");
        s
    }

    fn frames(s: &mut Stack, now: Instant) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| s.poll_transmit(now)).map(|skb| skb.data().to_vec()).collect()
    }

    #[test]
    fn answers_arp_exactly_like_linux() {
        let mut s = stack();
        let t = Instant::from_millis(5);
        s.handle_frame(t, SkBuff::from_frame(&hex(ARP_REQUEST)));
        assert_eq!(frames(&mut s, t), vec![hex(ARP_REPLY)]);
        let neigh = s.arp_entries(t);
        assert_eq!(neigh.len(), 1);
        assert_eq!(neigh[0].mac, Some("52:54:00:12:34:56".parse().unwrap()));
    }

    #[test]
    fn answers_ping_like_linux() {
        let mut s = stack();
        let t = Instant::from_millis(5);
        s.handle_frame(t, SkBuff::from_frame(&hex(ARP_REQUEST)));
        frames(&mut s, t);
        s.handle_frame(t, SkBuff::from_frame(&hex(ECHO_REQUEST)));
        let out = frames(&mut s, t);
        assert_eq!(out.len(), 1);
        let (ours, linux) = (&out[0], hex(ECHO_REPLY));
        assert_eq!(ours.len(), linux.len());
        // Equal but for the IP identification and so the header checksum.
        assert_eq!(&ours[..18], &linux[..18]);
        assert_eq!(&ours[20..24], &linux[20..24]);
        assert_eq!(&ours[26..], &linux[26..]);
        assert_eq!(checksum::checksum(&ours[14..34]), 0);
        assert_eq!(s.stats().get(Counter::IcmpEchoRepliesTx), 1);
    }

    #[test]
    fn unknown_neighbour_is_resolved_then_reply_sent() {
        let mut s = stack();
        let t = Instant::from_millis(5);
        s.handle_frame(t, SkBuff::from_frame(&hex(ECHO_REQUEST)));
        let out = frames(&mut s, t);
        assert_eq!(out.len(), 1, "only an ARP request while the reply waits");
        assert_eq!(&out[0][12..14], &[0x08, 0x06]);
        assert_eq!(&out[0][38..42], &[10, 0, 0, 1]);
        // The host answers; the queued echo reply goes out.
        let mut reply = hex(ARP_REQUEST);
        reply[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        reply[21] = 2; // op = reply
        reply[32..38].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        s.handle_frame(t, SkBuff::from_frame(&reply));
        let out = frames(&mut s, t);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0][..6], &[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        assert_eq!(out[0][34], 0, "echo reply");
    }

    #[test]
    fn unresolved_neighbour_gives_up_after_three_requests() {
        let mut s = stack();
        let mut t = Instant::from_millis(5);
        s.handle_frame(t, SkBuff::from_frame(&hex(ECHO_REQUEST)));
        let mut requests = frames(&mut s, t).len();
        for _ in 0..10 {
            match s.poll_timeout() {
                Some(d) if d <= Instant::from_secs(5) => t = d,
                _ => break,
            }
            s.handle_timeout(t);
            requests += frames(&mut s, t).len();
        }
        assert_eq!(requests, 3);
        assert_eq!(t, Instant::from_millis(3005), "requests at 0, 1 s, 2 s; given up 1 s after the last");
        assert_eq!(s.stats().drops(DropReason::ArpUnresolved), 1);
        assert!(s.arp_entries(t).is_empty());
    }

    #[test]
    fn udp_to_closed_port_gets_port_unreachable() {
        let mut s = stack();
        let t = Instant::from_millis(5);
        s.handle_frame(t, SkBuff::from_frame(&hex(ARP_REQUEST)));
        frames(&mut s, t);
        let f = udp_frame(9999, b"hi");
        s.handle_frame(t, SkBuff::from_frame(&f));
        let out = frames(&mut s, t);
        assert_eq!(out.len(), 1);
        let icmp = &out[0][34..];
        assert_eq!(&icmp[..2], &[3, 3], "port unreachable");
        assert_eq!(&icmp[8..28], &f[14..34], "quotes the IP header");
        assert_eq!(&icmp[28..36], &f[34..42], "and 8 bytes of UDP");
        assert_eq!(s.stats().drops(DropReason::UdpNoSocket), 1);
    }

    #[test]
    fn udp_socket_receives_and_answers() {
        let mut s = stack();
        let t = Instant::from_millis(5);
        s.handle_frame(t, SkBuff::from_frame(&hex(ARP_REQUEST)));
        frames(&mut s, t);
        let h = s.socket(SockType::Dgram).unwrap();
        s.bind(h, "0.0.0.0:7".parse().unwrap()).unwrap();
        assert_eq!(s.poll_socket(h), PollFlags::POLLOUT);
        s.handle_frame(t, SkBuff::from_frame(&udp_frame(7, b"hello")));
        assert!(s.poll_socket(h).contains(PollFlags::POLLIN));
        let mut buf = [0u8; 64];
        let (n, from) = s.recvfrom(t, h, &mut buf, MsgFlags::NONE).unwrap();
        assert_eq!((&buf[..n], from), (&b"hello"[..], "10.0.0.1:40000".parse().unwrap()));
        s.sendto(t, h, &buf[..n], Some(from)).unwrap();
        let out = frames(&mut s, t);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0][34..36], &7u16.to_be_bytes());
        assert_eq!(&out[0][36..38], &40000u16.to_be_bytes());
        assert_eq!(&out[0][42..], b"hello");
        assert_eq!(checksum::transport_checksum([10, 0, 0, 2].into(), [10, 0, 0, 1].into(), 17, &out[0][34..]), 0);
    }

    #[test]
    fn big_ping_is_reassembled_and_reply_fragmented() {
        let mut s = stack();
        let t = Instant::from_millis(5);
        s.handle_frame(t, SkBuff::from_frame(&hex(ARP_REQUEST)));
        frames(&mut s, t);
        // A 4008-byte ICMP echo request in three fragments, sent last-first.
        let mut icmp_msg = vec![8u8, 0, 0, 0, 0, 9, 0, 1];
        icmp_msg.extend((0..4000).map(|i| i as u8));
        let c = checksum::checksum(&icmp_msg);
        icmp_msg[2..4].copy_from_slice(&c.to_be_bytes());
        let mut frags = Vec::new();
        for (i, chunk) in icmp_msg.chunks(1480).enumerate() {
            let mf = (i + 1) * 1480 < icmp_msg.len();
            frags.push(ip_frame(1, 0x77, i * 1480, mf, chunk));
        }
        for f in frags.iter().rev() {
            s.handle_frame(t, SkBuff::from_frame(f));
        }
        let out = frames(&mut s, t);
        assert_eq!(out.len(), 3, "the reply goes out in three fragments");
        assert!(out.iter().all(|f| f.len() <= 1514));
        let mut payload = Vec::new();
        for f in &out {
            payload.extend_from_slice(&f[34..]);
        }
        assert_eq!(payload.len(), icmp_msg.len());
        assert_eq!(payload[0], 0);
        assert_eq!(&payload[4..], &icmp_msg[4..]);
        assert_eq!(s.stats().get(Counter::FragsReassembled), 1);
    }

    /// The payload is copied once, from the caller's slice into the buffer
    /// `sendto` allocates with `MAX_HEADER` of headroom; UDP, IP and Ethernet
    /// then push their headers into that same buffer, even across an ARP wait.
    /// A copy into a new buffer anywhere on the way would change the headroom
    /// or the address of the payload.
    #[test]
    fn payload_is_never_copied_on_the_way_down() {
        use crate::skbuff::MAX_HEADER;
        let mut s = stack();
        let t = Instant::from_millis(5);
        let h = s.socket(SockType::Dgram).unwrap();
        let payload = vec![7u8; 1000];
        s.sendto(t, h, &payload, Some("10.0.0.1:9".parse().unwrap())).unwrap();
        let arp = s.poll_transmit(t).unwrap(); // who-has 10.0.0.1; the datagram waits
        assert_eq!(&arp.data()[12..14], &[0x08, 0x06]);
        let queued_payload_addr = s.arp.pending_payload_addr_for_test("10.0.0.1".parse().unwrap());
        let mut reply = hex(ARP_REQUEST);
        reply[21] = 2;
        reply[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        reply[32..38].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        s.handle_frame(t, SkBuff::from_frame(&reply));
        let frame = s.poll_transmit(t).unwrap();
        assert_eq!(frame.len(), 14 + 20 + 8 + 1000);
        assert_eq!(frame.headroom(), MAX_HEADER - 14 - 20 - 8, "headers were pushed into the reserved headroom");
        assert_eq!(frame.tailroom(), 0, "the buffer was sized for this payload once");
        assert_eq!(queued_payload_addr, Some(frame.data()[42..].as_ptr() as usize), "same bytes, same address");
    }

    /// An Ethernet + IPv4 frame from the host (10.0.0.1) to us.
    fn ip_frame(protocol: u8, ident: u16, frag_offset: usize, more: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = hex("020000000002525400123456 0800");
        let mut skb = SkBuff::for_xmit(payload.len());
        skb.put_slice(payload);
        let o = IpOut {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            protocol,
            ttl: 64,
            tos: 0,
            ident,
            dont_fragment: false,
        };
        ipv4::ip_push_header(&mut skb, &o, more, frag_offset);
        f.extend_from_slice(skb.data());
        f
    }

    fn udp_frame(dport: u16, data: &[u8]) -> Vec<u8> {
        let mut skb = SkBuff::for_xmit(data.len());
        skb.put_slice(data);
        udp::udp_push_header(
            &mut skb,
            "10.0.0.1:40000".parse().unwrap(),
            SocketAddrV4::new([10, 0, 0, 2].into(), dport),
        );
        ip_frame(17, 1, 0, false, skb.data())
    }
}
