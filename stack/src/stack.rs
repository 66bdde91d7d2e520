//! `Stack`: one network interface with its protocols, driven from outside.
//!
//! This file is the dispatcher: it owns every layer's state and routes a
//! frame up through the layers (`handle_frame`), a packet down through them
//! (`dispatch_l4`), and the socket calls to udp.rs or tcp/. The protocol
//! logic itself lives in one file per protocol.

use crate::arp::{
    ArpCache, ArpConfig, ArpRepr, GcEvent, GcKind, NeighbourView, Resolve, ARPOP_REPLY, ARPOP_REQUEST, ARP_LEN,
};
#[cfg(test)]
use crate::checksum;
use crate::epoll::{EpollEvent, EpollFlags, EpollHandle, EpollOp, EpollTable};
use crate::ethernet::{self, EtherType, MacAddr};
use crate::icmp::{self, Icmp, IcmpConfig};
use crate::ip_frag::{FragResult, Reassembly};
use crate::ipv4::{self, IpOut, IpProto, Ipv4Repr};
use crate::route::{Route, RouteTable};
use crate::skbuff::{SkBuff, MAX_FRAME};
use crate::socket::*;
use crate::stats::{Counter, DropReason, Stats};
use crate::tcp::{Tcp, TcpConfig, TcpInfo};
use crate::time::{earliest, Duration, Instant};
use crate::trace::{EventKind, Trace, TraceEvent};
use crate::udp::{self, Udp};
use crate::wire::{ArpPacket, IcmpPacket};
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
    /// What the device under the stack does for it (off by default: the
    /// plain 1500-byte path, every checksum in software).
    pub offloads: Offloads,
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
        Offloads { tx_csum: true, gso_max_size: ipv4::MAX_DATAGRAM }
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
    /// epoll instances and their interest and ready lists (epoll.rs).
    epolls: EpollTable,
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
            rng,
            l4_out: VecDeque::new(),
            txq: VecDeque::new(),
            ip_ident,
            epolls: EpollTable::default(),
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
        let max = if skb.is_gso() { MAX_FRAME } else { self.config.mtu + ethernet::ETH_HLEN + 4 };
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
        cfg.gso_max_size = if o.tx_csum { o.gso_max_size.min(ipv4::MAX_DATAGRAM) } else { 0 };
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
        self.l4_out.push_back(L4Xmit { src, dst, protocol: ipv4::PROTO_ICMP, skb });
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
    /// closing (FIN, TIME_WAIT) without it.
    pub fn close(&mut self, now: Instant, h: SocketHandle) -> Result<(), Errno> {
        self.epolls.forget(h);
        match h {
            SocketHandle::Udp(i) => self.udp.close(i),
            SocketHandle::Tcp(i) => self.with_tcp(now, |tcp, cx| tcp.close(cx, i)),
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
    fn with_tcp<R>(&mut self, now: Instant, f: impl FnOnce(&mut Tcp, &mut Cx) -> R) -> R {
        let mut cx =
            Cx { now, stats: &mut self.stats, trace: &mut self.trace, rng: &mut self.rng, out: &mut self.l4_out };
        let r = f(&mut self.tcp, &mut cx);
        self.flush(now);
        r
    }

    /// Count and trace a drop; `what` only runs when tracing is on.
    fn drop_packet(&mut self, now: Instant, reason: DropReason, what: impl FnOnce() -> String) {
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
}

pub(crate) fn prefix_mask(prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - prefix_len.min(32) as u32)
    }
}

// ------------------------------------------------------------------ layers

impl Stack {
    /// RFC 826 "Packet Reception", then answer requests for our address.
    fn arp_rcv(&mut self, now: Instant, skb: SkBuff) {
        self.stats.inc(Counter::ArpRx);
        let pkt = match ArpPacket::new_checked(skb.data()).and_then(|p| ArpRepr::parse(&p)) {
            Ok(p) => p,
            Err(reason) => return self.drop_packet(now, reason, || "arp".into()),
        };
        if pkt.sha.is_multicast() || pkt.sha == MacAddr::ZERO {
            return self.drop_packet(now, DropReason::ArpBadSender, || format!("sender MAC {}", pkt.sha));
        }
        if pkt.spa == self.config.addr && pkt.sha != self.config.mac {
            // RFC 5227 §2.4: someone else claims our address; keep it, say so.
            return self.drop_packet(now, DropReason::ArpBadSender, || {
                format!("address conflict: {} claims {}", pkt.sha, pkt.spa)
            });
        }
        let for_us = pkt.tpa == self.config.addr;
        if !pkt.spa.is_unspecified() {
            let (released, change) = self.arp.learn(now, pkt.spa, pkt.sha, for_us);
            if let Some((old, new)) = change {
                let old = old.map_or("(none)", |s| s.name());
                self.trace.emit(now, EventKind::Arp, "RFC 826", || {
                    format!("neigh {} {} -> {} ({})", pkt.spa, old, new.name(), pkt.sha)
                });
            }
            for skb in released {
                self.eth_xmit(pkt.sha, EtherType::Ipv4, skb);
            }
            self.arp_gc_events(now);
        }
        if !for_us {
            return self.drop_packet(now, DropReason::ArpNotForUs, || format!("who-has {}", pkt.tpa));
        }
        if pkt.op == ARPOP_REQUEST {
            let reply =
                ArpRepr { op: ARPOP_REPLY, sha: self.config.mac, spa: self.config.addr, tha: pkt.sha, tpa: pkt.spa };
            self.arp_xmit(reply, pkt.sha);
            self.stats.inc(Counter::ArpRepliesTx);
        }
    }

    fn arp_xmit(&mut self, pkt: ArpRepr, dst: MacAddr) {
        let mut skb = SkBuff::for_xmit(ARP_LEN);
        pkt.emit(&mut ArpPacket::new_unchecked(skb.put(ARP_LEN)));
        self.stats.inc(Counter::ArpTx);
        self.eth_xmit(dst, EtherType::Arp, skb);
    }

    fn arp_request(&mut self, target: Ipv4Addr) {
        let req =
            ArpRepr { op: ARPOP_REQUEST, sha: self.config.mac, spa: self.config.addr, tha: MacAddr::ZERO, tpa: target };
        self.stats.inc(Counter::ArpRequestsTx);
        self.arp_xmit(req, MacAddr::BROADCAST);
    }

    /// RFC 5227 §3: an announcement, sender and target both our address.
    fn send_gratuitous_arp(&mut self, now: Instant) {
        let addr = self.config.addr;
        self.trace.emit(now, EventKind::Arp, "RFC 5227 §3", || format!("gratuitous ARP for {addr}"));
        self.arp_request(addr);
    }

    fn arp_timers(&mut self, now: Instant) {
        let t = self.arp.handle_timeout(now);
        for ip in t.requests {
            self.arp_request(ip);
        }
        for skb in t.unresolved {
            self.drop_packet(now, DropReason::ArpUnresolved, || "no ARP reply after 3 requests".into());
            self.neigh_link_failure(now, &skb);
        }
        for (ip, old, new) in t.changes {
            let new = new.map_or("(removed)", |s| s.name());
            self.trace
                .emit(now, EventKind::Arp, "RFC 1122 §2.3.2.1", || format!("neigh {ip} {} -> {new}", old.name()));
        }
    }

    /// `ip_rcv` → `ip_local_deliver`: checks, reassembly, then the protocol.
    fn ip_rcv(&mut self, now: Instant, mut skb: SkBuff) {
        self.stats.inc(Counter::IpRx);
        let hdr = match ipv4::ip_rcv_parse(&mut skb) {
            Ok(h) => h,
            Err(reason) => return self.drop_packet(now, reason, || "ip".into()),
        };
        let bcast = self.iface().broadcast;
        let to_us = hdr.dst == self.config.addr;
        if !to_us && !hdr.dst.is_broadcast() && hdr.dst != bcast {
            // A host does not forward (RFC 1122 §3.3.1.5 makes it optional).
            return self.drop_packet(now, DropReason::IpNotForUs, || format!("to {}", hdr.dst));
        }
        if hdr.is_fragment() {
            self.stats.inc(Counter::FragsRx);
            match self.frags.insert(now, &hdr, skb.data()) {
                Ok(FragResult::Queued) => return,
                Ok(FragResult::Complete(full, payload)) => {
                    self.stats.inc(Counter::FragsReassembled);
                    let mut whole = SkBuff::for_xmit(payload.len());
                    whole.put_slice(&payload);
                    whole.reset_transport_header();
                    return self.ip_local_deliver(now, full, whole, to_us);
                }
                Err(reason) => {
                    return self.drop_packet(now, reason, || format!("fragment id {} from {}", hdr.ident, hdr.src))
                }
            }
        }
        self.ip_local_deliver(now, hdr, skb, to_us);
    }

    /// Hand the payload to ICMP, UDP or TCP. `skb.data()` is the transport
    /// header; for unreassembled packets the IP header is still in the buffer
    /// (`network_header`) for ICMP errors to quote.
    fn ip_local_deliver(&mut self, now: Instant, hdr: Ipv4Repr, skb: SkBuff, to_us: bool) {
        self.stats.inc(Counter::IpDelivered);
        match IpProto::from(hdr.protocol) {
            IpProto::Icmp => self.icmp_rcv(now, &hdr, skb),
            IpProto::Udp => self.udp_rcv(now, &hdr, skb, to_us),
            IpProto::Tcp if to_us => {
                self.stats.inc(Counter::TcpRx);
                self.with_tcp(now, |tcp, cx| tcp.tcp_v4_rcv(cx, hdr.src, hdr.dst, skb));
            }
            IpProto::Tcp => self.drop_packet(now, DropReason::IpNotForUs, || "TCP to a broadcast address".into()),
            IpProto::Unknown(p) => {
                self.drop_packet(now, DropReason::IpUnknownProtocol, || format!("protocol {p}"));
                if to_us {
                    self.icmp_send_unreach(now, &hdr, &skb, icmp::CODE_PROTO_UNREACH);
                }
            }
        }
    }

    fn icmp_rcv(&mut self, now: Instant, ip: &Ipv4Repr, mut skb: SkBuff) {
        self.stats.inc(Counter::IcmpRx);
        let h = match IcmpPacket::new_checked(skb.data()).and_then(|p| icmp::IcmpRepr::parse(&p)) {
            Ok(h) => h,
            Err(reason) => return self.drop_packet(now, reason, || "icmp".into()),
        };
        match h.icmp_type {
            icmp::ICMP_ECHO_REQUEST if ip.dst == self.config.addr => {
                // `icmp_echo`: turn the request into the reply in place and send it back.
                self.stats.inc(Counter::IcmpEchoRequestsRx);
                self.stats.inc(Counter::IcmpEchoRepliesTx);
                icmp::echo_request_to_reply(skb.data_mut());
                // What the device said about the request is not true of the
                // reply (its checksum is whole, written just now).
                skb.set_ip_summed(crate::skbuff::IpSummed::None);
                skb.set_gso_tcpv4(0);
                self.l4_out.push_back(L4Xmit { src: ip.dst, dst: ip.src, protocol: ipv4::PROTO_ICMP, skb });
            }
            icmp::ICMP_ECHO_REPLY => {
                if let Err(reason) = self.icmp.echo_reply_rcv(now, ip.src, ip.ttl, &h, skb.len()) {
                    self.drop_packet(now, reason, || format!("echo reply id {} seq {}", h.ident, h.seq));
                }
            }
            icmp::ICMP_DEST_UNREACH => self.icmp_unreach_rcv(now, &h, skb.data()),
            t => self.drop_packet(now, DropReason::IcmpUnhandledType, || format!("type {t} code {}", h.code)),
        }
    }

    /// RFC 1122 §4.1.3.3 / §4.2.3.9: pass an unreachable up to the socket
    /// it is about (quoted IP header + 8 bytes of its transport header).
    fn icmp_unreach_rcv(&mut self, now: Instant, h: &icmp::IcmpRepr, msg: &[u8]) {
        let quoted = &msg[icmp::ICMP_HLEN..];
        if quoted.len() < 28 || quoted[0] >> 4 != 4 {
            return self.drop_packet(now, DropReason::IcmpTooShort, || "unreachable quotes too little".into());
        }
        let ihl = (quoted[0] & 0x0f) as usize * 4;
        if ihl < 20 || quoted.len() < ihl + 8 {
            return self.drop_packet(now, DropReason::IcmpTooShort, || "unreachable quotes too little".into());
        }
        let err = match h.code {
            icmp::CODE_PORT_UNREACH | icmp::CODE_PROTO_UNREACH => Errno::ECONNREFUSED,
            0 => Errno::ENETUNREACH,
            4 => Errno::EMSGSIZE,
            _ => Errno::EHOSTUNREACH,
        };
        let code = h.code;
        self.trace.emit(now, EventKind::Icmp, "RFC 1122 §4.1.3.3", || format!("unreachable code {code} received"));
        self.transport_error(now, quoted, err);
    }

    /// Tell the socket that sent `packet` (an IP header and at least 8 bytes
    /// of its transport header) that it failed with `err`: UDP keeps it for
    /// the next call, TCP decides (RFC 1122 §4.1.3.3, §4.2.3.9).
    fn transport_error(&mut self, now: Instant, packet: &[u8], err: Errno) {
        let ihl = (packet[0] & 0x0f) as usize * 4;
        if packet.len() < 20 || ihl < 20 || packet.len() < ihl + 8 {
            return;
        }
        let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
        let l4 = &packet[ihl..];
        let sport = u16::from_be_bytes([l4[0], l4[1]]);
        let remote = SocketAddrV4::new(dst, u16::from_be_bytes([l4[2], l4[3]]));
        match packet[9] {
            ipv4::PROTO_UDP => self.udp.icmp_error(sport, remote, err),
            ipv4::PROTO_TCP => self.with_tcp(now, |tcp, cx| tcp.icmp_error(cx, sport, remote, err)),
            _ => {}
        }
    }

    /// The neighbour never answered: like Linux (`arp_error_report` →
    /// `ipv4_link_failure`), report "host unreachable" to the packet's
    /// sender, so a `connect` to a silent on-link host fails with
    /// `EHOSTUNREACH` after the ARP retries instead of waiting out its SYN
    /// retries.
    fn neigh_link_failure(&mut self, now: Instant, skb: &SkBuff) {
        let dst = skb.data().get(16..20).map(|d| Ipv4Addr::new(d[0], d[1], d[2], d[3]));
        self.trace.emit(now, EventKind::Arp, "RFC 1122 §2.3.2.2", || {
            format!("neighbour for {} failed: host unreachable", dst.unwrap_or(Ipv4Addr::UNSPECIFIED))
        });
        self.transport_error(now, skb.data(), Errno::EHOSTUNREACH);
    }

    /// `icmp_send(ICMP_DEST_UNREACH)`, with RFC 1122 §3.2.2's exceptions and a rate limit.
    fn icmp_send_unreach(&mut self, now: Instant, hdr: &Ipv4Repr, skb: &SkBuff, code: u8) {
        if hdr.dst != self.config.addr || hdr.frag_offset != 0 {
            return;
        }
        let Some(offending) = skb.network_header() else { return };
        if hdr.protocol == ipv4::PROTO_ICMP && skb.data().first().is_some_and(|&t| icmp::is_error_type(t)) {
            return;
        }
        if !self.icmp.error_allowed(now) {
            return self.drop_packet(now, DropReason::IcmpRateLimited, || "dest unreachable not sent".into());
        }
        let msg = Icmp::dest_unreach(code, offending);
        self.stats.inc(Counter::IcmpUnreachTx);
        self.l4_out.push_back(L4Xmit { src: hdr.dst, dst: hdr.src, protocol: ipv4::PROTO_ICMP, skb: msg });
    }

    fn udp_rcv(&mut self, now: Instant, ip: &Ipv4Repr, mut skb: SkBuff, to_us: bool) {
        self.stats.inc(Counter::UdpRx);
        let h = match udp::udp_parse(ip.src, ip.dst, &mut skb) {
            Ok(h) => h,
            Err(reason) => return self.drop_packet(now, reason, || "udp".into()),
        };
        let src = SocketAddrV4::new(ip.src, h.src_port);
        let dst = SocketAddrV4::new(ip.dst, h.dst_port);
        match self.udp.deliver(src, dst, skb) {
            Ok(()) => {}
            Err((DropReason::UdpNoSocket, skb)) => {
                self.drop_packet(now, DropReason::UdpNoSocket, || format!("{src} > {dst}"));
                if to_us {
                    self.icmp_send_unreach(now, ip, &skb, icmp::CODE_PORT_UNREACH);
                }
            }
            Err((reason, _)) => self.drop_packet(now, reason, || format!("{src} > {dst}")),
        }
    }

    /// Send everything the transport layers queued: `ip_output` for each.
    fn flush(&mut self, now: Instant) {
        while let Some(x) = self.l4_out.pop_front() {
            self.ip_output(now, x);
        }
    }

    /// `ip_queue_xmit`: route, push the header (fragmenting above the MTU),
    /// then resolve the next hop.
    fn ip_output(&mut self, now: Instant, x: L4Xmit) {
        let Some(route) = self.routes.route_lookup(x.dst).copied() else {
            return self.drop_packet(now, DropReason::IpNoRoute, || format!("to {}", x.dst));
        };
        let next_hop = if x.dst.is_broadcast() { x.dst } else { route.next_hop(x.dst) };
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let o = IpOut {
            src: x.src,
            dst: x.dst,
            protocol: x.protocol,
            ttl: ipv4::DEFAULT_TTL,
            ident: self.ip_ident,
            // TCP does path-MTU discovery (RFC 1191): DF on its segments.
            dont_fragment: x.protocol == ipv4::PROTO_TCP,
        };
        match x.protocol {
            ipv4::PROTO_ICMP => self.stats.inc(Counter::IcmpTx),
            ipv4::PROTO_TCP => self.stats.inc(Counter::TcpTx),
            _ => {}
        }
        let mtu = self.config.mtu;
        // A GSO segment goes whole: the device cuts it to the MTU.
        if x.skb.len() + ipv4::IPV4_HLEN <= mtu || x.skb.is_gso() {
            let mut skb = x.skb;
            ipv4::ip_push_header(&mut skb, &o, false, 0);
            self.stats.inc(Counter::IpTx);
            return self.neigh_output(now, next_hop, skb);
        }
        if o.dont_fragment {
            return self
                .drop_packet(now, DropReason::IpFragNeeded, || format!("{} bytes, MTU {mtu}", x.skb.len() + 20));
        }
        // A fragment cannot carry a partial checksum (`ip_fragment`
        // finishes it first).
        let mut skb = x.skb;
        skb.checksum_help();
        for skb in ipv4::ip_fragment(skb, &o, mtu) {
            self.stats.inc(Counter::FragsTx);
            self.stats.inc(Counter::IpTx);
            self.neigh_output(now, next_hop, skb);
        }
    }

    /// `neigh_output`: a known MAC sends now; an unknown one queues the
    /// packet and sends an ARP request.
    fn neigh_output(&mut self, now: Instant, next_hop: Ipv4Addr, skb: SkBuff) {
        if next_hop.is_broadcast() || next_hop == self.iface().broadcast {
            return self.eth_xmit(MacAddr::BROADCAST, EtherType::Ipv4, skb);
        }
        match self.arp.resolve(now, next_hop, skb) {
            Resolve::Ready { mac, skb, revalidate } => {
                self.eth_xmit(mac, EtherType::Ipv4, skb);
                if revalidate {
                    self.arp_request(next_hop);
                }
            }
            Resolve::Queued { request } => {
                if request {
                    self.trace.emit(now, EventKind::Arp, "RFC 826", || {
                        format!("neigh {next_hop} (none) -> INCOMPLETE, who-has sent")
                    });
                    self.arp_request(next_hop);
                }
            }
            Resolve::Dropped(reason) => self.drop_packet(now, reason, || format!("next hop {next_hop}")),
        }
        self.arp_gc_events(now);
    }

    /// Count what a full neighbour table did. An evicted unresolved
    /// neighbour's waiting packets are dropped, as if it had never answered.
    fn arp_gc_events(&mut self, now: Instant) {
        for event in self.arp.take_gc_events() {
            match event {
                GcEvent::Evicted { ip, state, kind, pending } => {
                    self.stats.inc(match kind {
                        GcKind::Unused => Counter::ArpEvictedUnused,
                        GcKind::Unresolved => Counter::ArpEvictedUnresolved,
                        GcKind::Idle => Counter::ArpEvictedIdle,
                    });
                    self.trace.emit(now, EventKind::Arp, "RFC 1122 §2.3.2.2", || {
                        format!(
                            "neigh {ip} {} -> (evicted: table full, {}), {} packet(s) dropped",
                            state.name(),
                            kind.name(),
                            pending.len()
                        )
                    });
                    for _ in pending {
                        self.drop_packet(now, DropReason::ArpUnresolved, || {
                            format!("neigh {ip} evicted before it answered")
                        });
                    }
                }
                GcEvent::NotCached { ip } => {
                    self.stats.inc(Counter::ArpSenderNotCached);
                    self.trace.emit(now, EventKind::Arp, "RFC 826", || {
                        format!("neigh {ip} not remembered: table full of neighbours in use")
                    });
                }
            }
        }
    }

    /// `dev_queue_xmit`: push the Ethernet header; the frame is ready.
    fn eth_xmit(&mut self, dst: MacAddr, ethertype: EtherType, mut skb: SkBuff) {
        ethernet::eth_push(&mut skb, dst, self.config.mac, ethertype);
        self.txq.push_back(skb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
