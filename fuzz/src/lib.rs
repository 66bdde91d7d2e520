//! The fuzz targets' shared harness: a `Stack` brought into an interesting
//! state (listening; established with data in flight; fragments pending),
//! frames decoded from the fuzzer's bytes, and the checks run after each
//! input (the stack answers a ping; every frame it sent has right checksums).
//!
//! Input format of the frame targets, records until the bytes run out:
//! `[ctl, dt, len_hi, len_lo, frame…]`. `dt` advances the clock by `dt*8`
//! ms (timers fire). `ctl` bits repair what a random mutation rarely gets
//! right, so the fuzzer reaches past the first checks:
//! - `FIX_MAC` (1): Ethernet destination = synack's MAC;
//! - `FIX_ADDR` (2): IPv4 source/destination = the host / synack;
//! - `FIX_IPSUM` (4): IPv4 header checksum;
//! - `FIX_L4SUM` (8): TCP/UDP/ICMP checksum (unfragmented datagrams);
//! - `FIX_PORTS` (16): TCP ports = the connection's (its peer's port, ours);
//! - `REL_SEQ` (32): TCP seq and ack are offsets from the connection's
//!   RCV.NXT and SND.UNA.
//!
//! The `tcp_segments` target's records are structured instead (see
//! [`Lab::run_segments`]): always-valid segments of one connection, with
//! the application's calls in between. The `drill_parse` target needs no
//! lab: its bytes are a packetdrill script for `synack drill`'s parser.

use stack::checksum;
use stack::{Config, Instant, MsgFlags, SkBuff, SockType, SocketHandle, Stack};
use std::net::SocketAddrV4;

pub const HOST_MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
pub const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
pub const HOST_IP: [u8; 4] = [10, 0, 0, 1];
pub const OUR_IP: [u8; 4] = [10, 0, 0, 2];

pub const FIX_MAC: u8 = 1;
pub const FIX_ADDR: u8 = 2;
pub const FIX_IPSUM: u8 = 4;
pub const FIX_L4SUM: u8 = 8;
pub const FIX_PORTS: u8 = 16;
pub const REL_SEQ: u8 = 32;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

pub fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = OUR_MAC.to_vec();
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

pub fn arp_request() -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend_from_slice(&HOST_MAC);
    a.extend_from_slice(&HOST_IP);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&OUR_IP);
    eth(0x0806, &a)
}

pub fn ipv4(protocol: u8, ident: u16, flags_frag: u16, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut h = vec![0x45, 0, (total >> 8) as u8, total as u8];
    h.extend_from_slice(&ident.to_be_bytes());
    h.extend_from_slice(&flags_frag.to_be_bytes());
    h.extend_from_slice(&[64, protocol, 0, 0]);
    h.extend_from_slice(&HOST_IP);
    h.extend_from_slice(&OUR_IP);
    let c = checksum::checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

pub fn echo_request(ident: u16, seq: u16, data_len: usize) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0];
    m.extend_from_slice(&ident.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend((0..data_len).map(|i| i as u8));
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// A TCP segment from the host to us, checksum right.
#[allow(clippy::too_many_arguments)]
pub fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, win: u16, opts: &[u8], data: &[u8]) -> Vec<u8> {
    let doff = (20 + opts.len()) / 4;
    let mut t = sport.to_be_bytes().to_vec();
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push((doff as u8) << 4);
    t.push(flags);
    t.extend_from_slice(&win.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(opts);
    t.extend_from_slice(data);
    let c = checksum::transport_checksum(HOST_IP.into(), OUR_IP.into(), 6, &t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// The outgoing-frame oracle: every IPv4 frame the stack sends has a right
/// header checksum, a total length within the frame, and (unfragmented) a
/// right TCP/UDP/ICMP checksum. Panics otherwise.
pub fn check_outgoing(frame: &[u8]) {
    assert!(frame.len() >= 14, "runt frame out: {frame:02x?}");
    assert!(frame.len() <= 1514, "frame out longer than the MTU: {} bytes", frame.len());
    if frame[12..14] != [8, 0] {
        return;
    }
    let ip = &frame[14..];
    assert!(ip.len() >= 20, "short IPv4 out: {frame:02x?}");
    let hl = usize::from(ip[0] & 0x0f) * 4;
    assert_eq!(ip[0] >> 4, 4, "IP version out: {frame:02x?}");
    assert!(hl >= 20 && hl <= ip.len(), "IHL out: {frame:02x?}");
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    assert!(total >= hl && total <= ip.len(), "IP total length out: {frame:02x?}");
    assert_eq!(checksum::checksum(&ip[..hl]), 0, "IP header checksum out: {frame:02x?}");
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    if frag & 0x3fff != 0 {
        return; // a fragment: the L4 checksum covers the whole datagram
    }
    let l4 = &ip[hl..total];
    let (src, dst) = ([ip[12], ip[13], ip[14], ip[15]], [ip[16], ip[17], ip[18], ip[19]]);
    match ip[9] {
        1 => assert_eq!(checksum::checksum(l4), 0, "ICMP checksum out: {frame:02x?}"),
        6 => {
            assert!(l4.len() >= 20, "short TCP out: {frame:02x?}");
            let c = checksum::transport_checksum(src.into(), dst.into(), 6, l4);
            assert_eq!(c, 0, "TCP checksum out: {frame:02x?}");
        }
        17 => {
            assert!(l4.len() >= 8, "short UDP out: {frame:02x?}");
            let c = checksum::transport_checksum(src.into(), dst.into(), 17, l4);
            assert!(c == 0 || l4[6..8] == [0, 0], "UDP checksum out: {frame:02x?}");
        }
        _ => {}
    }
}

/// One connection from the host (its port `sport`) to our port 80.
#[derive(Copy, Clone, Debug)]
pub struct Conn {
    pub sport: u16,
    pub h: SocketHandle,
}

pub struct Lab {
    pub stack: Stack,
    pub now: Instant,
    pub listener: SocketHandle,
    pub udp: SocketHandle,
    pub conn: Option<Conn>,
    ping_seq: u16,
}

impl Default for Lab {
    fn default() -> Self {
        Lab::listening()
    }
}

impl Lab {
    /// A stack with a TCP listener on 80 and a UDP socket on 7, the host's
    /// MAC known.
    pub fn listening() -> Lab {
        let mut stack = Stack::new(Config::default(), Instant::ZERO);
        while stack.poll_transmit(Instant::ZERO).is_some() {}
        let listener = stack.socket(SockType::Stream).unwrap();
        stack.bind(listener, SocketAddrV4::new([0, 0, 0, 0].into(), 80)).unwrap();
        stack.listen(listener, 8).unwrap();
        let udp = stack.socket(SockType::Dgram).unwrap();
        stack.bind(udp, SocketAddrV4::new([0, 0, 0, 0].into(), 7)).unwrap();
        let mut lab = Lab { stack, now: Instant::from_millis(1), listener, udp, conn: None, ping_seq: 0 };
        lab.feed(&arp_request());
        lab.drain();
        lab
    }

    /// `listening`, plus one accepted connection from the host's port
    /// 40000 with 20 kB of ours in flight (unacknowledged) and 3 bytes of
    /// the host's out of order.
    pub fn established() -> Lab {
        let mut lab = Lab::listening();
        let sport = 40000;
        let iss = 0x1000_0000u32;
        // MSS 536, window scale 2, SACK permitted, timestamps.
        let opts = [2, 4, 2, 0x18, 1, 3, 3, 2, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1];
        let opts = {
            let mut o = opts.to_vec();
            o.extend_from_slice(&[1, 1]);
            o
        };
        lab.feed(&eth(0x0800, &ipv4(6, 1, 0, &tcp(sport, 80, iss, 0, SYN, 65535, &opts, &[]))));
        lab.drain();
        let info = lab.info_of(sport).expect("a SYN_RECV child");
        let ours = info.iss.wrapping_add(1);
        lab.feed(&eth(0x0800, &ipv4(6, 2, 0, &tcp(sport, 80, iss + 1, ours, ACK, 65535, &[], &[]))));
        lab.drain();
        let (h, _) = lab.stack.accept(lab.now, lab.listener).expect("handshake completed");
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let _ = lab.stack.send(lab.now, h, &data, MsgFlags::MSG_DONTWAIT);
        lab.drain();
        // Out of order: a hole of 10 bytes, then 3.
        lab.feed(&eth(0x0800, &ipv4(6, 3, 0, &tcp(sport, 80, iss + 11, ours, ACK, 65535, &[], b"ofo"))));
        lab.drain();
        lab.conn = Some(Conn { sport, h });
        lab
    }

    /// `established`, plus two datagrams waiting in reassembly: the first
    /// 8-byte fragment of an ICMP echo, and the last fragment of a UDP one.
    pub fn fragments() -> Lab {
        let mut lab = Lab::established();
        let echo = echo_request(0x77, 1, 64);
        lab.feed(&eth(0x0800, &ipv4(1, 0x0abc, 0x2000, &echo[..8])));
        let mut udp = vec![0x9c, 0x40, 0, 7, 0, 72, 0, 0];
        udp.extend(std::iter::repeat_n(b'u', 64));
        lab.feed(&eth(0x0800, &ipv4(17, 0x0abd, 5, &udp[40..])));
        lab.drain();
        lab
    }

    pub fn info_of(&self, sport: u16) -> Option<stack::tcp::TcpInfo> {
        self.stack.tcp_info(self.now).into_iter().find(|i| i.remote.port() == sport && i.local.port() == 80)
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += stack::Duration::from_millis(ms);
        // Bounded: each round must move the deadline or we are done.
        for _ in 0..64 {
            match self.stack.poll_timeout() {
                Some(t) if t <= self.now => self.stack.handle_timeout(self.now),
                _ => break,
            }
        }
        self.drain();
    }

    pub fn feed(&mut self, frame: &[u8]) {
        self.now += stack::Duration::from_micros(100);
        self.stack.handle_frame(self.now, SkBuff::from_frame(frame));
        if self.stack.poll_timeout().is_some_and(|t| t <= self.now) {
            self.stack.handle_timeout(self.now);
        }
    }

    /// Everything the stack sends, each checked by [`check_outgoing`].
    pub fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let Some(skb) = self.stack.poll_transmit(self.now) else { break };
            check_outgoing(skb.data());
            out.push(skb.data().to_vec());
        }
        out
    }

    /// Apply the `ctl` repairs to a fuzzer's frame.
    pub fn fix_up(&self, ctl: u8, frame: &mut [u8]) {
        if ctl & FIX_MAC != 0 && frame.len() >= 6 {
            frame[..6].copy_from_slice(&OUR_MAC);
        }
        if frame.len() < 34 || frame[12..14] != [8, 0] {
            return;
        }
        let ip_len = frame.len() - 14;
        let ip = &mut frame[14..];
        let hl = (usize::from(ip[0] & 0x0f) * 4).clamp(20, ip_len);
        if ctl & FIX_ADDR != 0 {
            ip[12..16].copy_from_slice(&HOST_IP);
            ip[16..20].copy_from_slice(&OUR_IP);
        }
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).clamp(hl, ip_len);
        let unfragmented = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff == 0;
        let (src, dst) = ([ip[12], ip[13], ip[14], ip[15]], [ip[16], ip[17], ip[18], ip[19]]);
        let proto = ip[9];
        if proto == 6 && total - hl >= 20 {
            let l4 = &mut ip[hl..total];
            if let (true, Some(c)) = (ctl & FIX_PORTS != 0, self.conn) {
                l4[0..2].copy_from_slice(&c.sport.to_be_bytes());
                l4[2..4].copy_from_slice(&80u16.to_be_bytes());
            }
            if let (true, Some(c)) = (ctl & REL_SEQ != 0, self.conn) {
                if let Some(info) = self.info_of(c.sport) {
                    let seq = u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]).wrapping_add(info.rcv_nxt);
                    let ack = u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]).wrapping_add(info.snd_una);
                    l4[4..8].copy_from_slice(&seq.to_be_bytes());
                    l4[8..12].copy_from_slice(&ack.to_be_bytes());
                }
            }
        }
        if ctl & FIX_L4SUM != 0 && unfragmented {
            let l4 = &mut ip[hl..total];
            match proto {
                1 if l4.len() >= 4 => {
                    l4[2..4].copy_from_slice(&[0, 0]);
                    let c = checksum::checksum(l4);
                    l4[2..4].copy_from_slice(&c.to_be_bytes());
                }
                6 if l4.len() >= 20 => {
                    l4[16..18].copy_from_slice(&[0, 0]);
                    let c = checksum::transport_checksum(src.into(), dst.into(), 6, l4);
                    l4[16..18].copy_from_slice(&c.to_be_bytes());
                }
                17 if l4.len() >= 8 => {
                    l4[6..8].copy_from_slice(&[0, 0]);
                    let c = checksum::transport_checksum(src.into(), dst.into(), 17, l4);
                    l4[6..8].copy_from_slice(&c.to_be_bytes());
                }
                _ => {}
            }
        }
        if ctl & FIX_IPSUM != 0 {
            ip[10..12].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&ip[..hl]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
    }

    /// Run the frame-record input (module docs) against this lab, then
    /// check it is alive. At most 64 records.
    pub fn run_frames(&mut self, mut data: &[u8]) {
        for _ in 0..64 {
            if data.len() < 4 {
                break;
            }
            let (ctl, dt) = (data[0], data[1]);
            let len = usize::from(u16::from_be_bytes([data[2], data[3]])) % 1600;
            let len = len.min(data.len() - 4);
            let mut frame = data[4..4 + len].to_vec();
            data = &data[4 + len..];
            self.fix_up(ctl, &mut frame);
            self.feed(&frame);
            self.drain();
            if dt != 0 {
                self.advance(u64::from(dt) * 8);
            }
            self.app_reads();
        }
        self.assert_alive();
    }

    /// The application reads what arrived and accepts what completed, as
    /// `synack up`'s services do (bounded).
    pub fn app_reads(&mut self) {
        let mut buf = [0u8; 4096];
        if let Some(c) = self.conn {
            for _ in 0..16 {
                match self.stack.recv(self.now, c.h, &mut buf, MsgFlags::MSG_DONTWAIT) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
        for _ in 0..16 {
            if self.stack.recvfrom(self.now, self.udp, &mut buf, MsgFlags::MSG_DONTWAIT).is_err() {
                break;
            }
        }
        for _ in 0..16 {
            match self.stack.accept(self.now, self.listener) {
                Ok((h, _)) => {
                    let _ = self.stack.close(self.now, h);
                }
                Err(_) => break,
            }
        }
        self.drain();
    }

    /// The stack still answers a ping from the host (after the host says
    /// who it is again: the fuzzer may have rewritten the ARP entry).
    pub fn assert_alive(&mut self) {
        self.feed(&arp_request());
        self.drain();
        self.ping_seq = self.ping_seq.wrapping_add(1);
        let seq = self.ping_seq;
        // A fresh IP id, so it cannot join a fuzzer's pending fragments.
        self.feed(&eth(0x0800, &ipv4(1, 0xf000 ^ seq, 0, &echo_request(0x5151, seq, 16))));
        let out = self.drain();
        assert!(
            out.iter().any(|f| f.len() >= 42 && f[23] == 1 && f[34] == 0 && f[40..42] == seq.to_be_bytes()),
            "the stack stopped answering ping: {out:02x?}"
        );
    }

    /// The `tcp_segments` target: records until the bytes run out (at most
    /// 128). Record kind `k = b[0] % 8`:
    /// 0–4 a segment of the connection: `[k, flags, seq_off i16, ack_off i16,
    /// win u16, optlen, opts…, datalen, data…]` (offsets from RCV.NXT and
    /// SND.UNA); 5 the application sends `b[1]*64` bytes; 6 it shuts down or
    /// closes (`b[1]`); 7 the clock advances `b[1]*16` ms.
    pub fn run_segments(&mut self, mut data: &[u8]) {
        let c = self.conn.expect("an established lab");
        for _ in 0..128 {
            let Some((&kind, rest)) = data.split_first() else { break };
            data = rest;
            match kind % 8 {
                0..=4 => {
                    if data.len() < 8 {
                        break;
                    }
                    let flags = data[0];
                    let seq_off = i16::from_be_bytes([data[1], data[2]]) as i32;
                    let ack_off = i16::from_be_bytes([data[3], data[4]]) as i32;
                    let win = u16::from_be_bytes([data[5], data[6]]);
                    let optlen = usize::from(data[7] % 41).min(data.len() - 8);
                    let mut opts = data[8..8 + optlen].to_vec();
                    data = &data[8 + optlen..];
                    while !opts.len().is_multiple_of(4) {
                        opts.push(0);
                    }
                    let Some((&dlen, rest)) = data.split_first() else { break };
                    let dlen = usize::from(dlen).min(rest.len());
                    let payload = rest[..dlen].to_vec();
                    data = &rest[dlen..];
                    let (rcv_nxt, snd_una) =
                        self.info_of(c.sport).map(|i| (i.rcv_nxt, i.snd_una)).unwrap_or((0x1000_0001, 0));
                    let seq = rcv_nxt.wrapping_add(seq_off as u32);
                    let ack = snd_una.wrapping_add(ack_off as u32);
                    let seg = tcp(c.sport, 80, seq, ack, flags, win, &opts, &payload);
                    self.feed(&eth(0x0800, &ipv4(6, 9, 0, &seg)));
                    self.drain();
                }
                5 => {
                    let Some((&n, rest)) = data.split_first() else { break };
                    data = rest;
                    let buf = vec![b'x'; usize::from(n) * 64];
                    let _ = self.stack.send(self.now, c.h, &buf, MsgFlags::MSG_DONTWAIT);
                    self.drain();
                }
                6 => {
                    let Some((&how, rest)) = data.split_first() else { break };
                    data = rest;
                    let _ = match how % 4 {
                        0 => self.stack.shutdown(self.now, c.h, stack::Shutdown::Write),
                        1 => self.stack.shutdown(self.now, c.h, stack::Shutdown::Read),
                        2 => self.stack.close(self.now, c.h).map(|_| ()),
                        _ => Ok(()),
                    };
                    self.drain();
                }
                _ => {
                    let Some((&dt, rest)) = data.split_first() else { break };
                    data = rest;
                    self.advance(u64::from(dt) * 16);
                }
            }
            self.app_reads();
        }
        self.assert_alive();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labs_come_up_alive() {
        Lab::listening().assert_alive();
        Lab::established().assert_alive();
        Lab::fragments().assert_alive();
    }

    fn record(ctl: u8, dt: u8, frame: &[u8]) -> Vec<u8> {
        let mut r = vec![ctl, dt];
        r.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        r.extend_from_slice(frame);
        r
    }

    /// `SYNACK_FUZZ_WRITE_CORPUS=1 cargo test` writes the seed corpus
    /// (`fuzz/run.sh` does it when `corpus/` is missing).
    #[test]
    fn write_seed_corpus() {
        if std::env::var_os("SYNACK_FUZZ_WRITE_CORPUS").is_none() {
            return;
        }
        let all = FIX_MAC | FIX_ADDR | FIX_IPSUM | FIX_L4SUM;
        let conn = all | FIX_PORTS | REL_SEQ;
        let ping = eth(0x0800, &ipv4(1, 7, 0, &echo_request(1, 1, 56)));
        let mut udp = vec![0x9c, 0x40, 0, 7, 0, 13, 0, 0, b'h', b'e', b'l', b'l', b'o'];
        let c = checksum::transport_checksum(HOST_IP.into(), OUR_IP.into(), 17, &udp);
        udp[6..8].copy_from_slice(&c.to_be_bytes());
        let udp = eth(0x0800, &ipv4(17, 8, 0, &udp));
        let syn = eth(0x0800, &ipv4(6, 9, 0, &tcp(5555, 80, 1000, 0, SYN, 65535, &[2, 4, 5, 0xb4, 1, 3, 3, 7], &[])));
        let ack = eth(0x0800, &ipv4(6, 9, 0, &tcp(5555, 80, 1001, 0, ACK, 65535, &[], &[])));
        let data = eth(0x0800, &ipv4(6, 9, 0, &tcp(1, 1, 0, 0, ACK | PSH, 65535, &[], b"0123456789")));
        let ack_all = eth(0x0800, &ipv4(6, 9, 0, &tcp(1, 1, 0, 20_000, ACK, 65535, &[], &[])));
        let fin = eth(0x0800, &ipv4(6, 9, 0, &tcp(1, 1, 0, 0, ACK | FIN, 65535, &[], &[])));
        let rst = eth(0x0800, &ipv4(6, 9, 0, &tcp(1, 1, 5, 0, RST, 0, &[], &[])));
        let sack =
            eth(0x0800, &ipv4(6, 9, 0, &tcp(1, 1, 0, 0, ACK, 65535, &[1, 1, 5, 10, 0, 0, 2, 0, 0, 0, 4, 0], &[])));
        let echo = echo_request(0x77, 1, 64);
        let frag1 = eth(0x0800, &ipv4(1, 0x0abc, 0x2000 | 1, &echo[8..16]));
        let frag2 = eth(0x0800, &ipv4(1, 0x0abc, 2, &echo[16..]));
        let frag_overlap = eth(0x0800, &ipv4(1, 0x0abc, 0x2000, &echo[..16]));
        let mut udp_head = vec![0x9c, 0x40, 0, 7, 0, 72, 0, 0];
        udp_head.extend(std::iter::repeat_n(b'u', 32));
        let udp_frag = eth(0x0800, &ipv4(17, 0x0abd, 0x2000, &udp_head));
        let arp = arp_request();
        let seeds: Vec<(&str, Vec<Vec<u8>>)> = vec![
            ("frame_listening", vec![record(all, 0, &ping), record(all, 1, &udp), record(0, 0, &arp)]),
            ("frame_listening", vec![record(all, 0, &syn), record(all, 0, &ack), record(all, 10, &rst)]),
            ("frame_listening", vec![record(all, 200, &syn)]),
            ("frame_established", vec![record(conn, 0, &data), record(conn, 1, &ack_all), record(conn, 0, &fin)]),
            ("frame_established", vec![record(conn, 0, &sack), record(conn, 100, &rst)]),
            ("frame_established", vec![record(conn, 250, &data), record(all, 250, &ping)]),
            ("frame_fragments", vec![record(all, 0, &frag1), record(all, 0, &frag2)]),
            ("frame_fragments", vec![record(all, 0, &frag_overlap), record(all, 0, &udp_frag)]),
            ("frame_fragments", vec![record(all, 255, &frag2), record(conn, 0, &data)]),
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for (i, (target, records)) in seeds.into_iter().enumerate() {
            std::fs::create_dir_all(dir.join(target)).unwrap();
            std::fs::write(dir.join(target).join(format!("seed-{i}")), records.concat()).unwrap();
        }
        // tcp_segments: [kind, flags, seq_off, ack_off, win, optlen, opts, dlen, data].
        let seg = |flags: u8, seq: i16, ack: i16, data: &[u8]| {
            let mut r = vec![0, flags];
            r.extend_from_slice(&seq.to_be_bytes());
            r.extend_from_slice(&ack.to_be_bytes());
            r.extend_from_slice(&[0xff, 0xff, 0, data.len() as u8]);
            r.extend_from_slice(data);
            r
        };
        let segs: Vec<Vec<Vec<u8>>> = vec![
            vec![seg(ACK, 0, 1000, b"hello"), vec![5, 10], seg(ACK, 5, 2000, &[]), vec![7, 20]],
            vec![seg(ACK, 10, 0, b"later"), seg(ACK, 0, 0, b"0123456789"), vec![6, 0], seg(ACK | FIN, 18, 30000, &[])],
            vec![seg(RST, 100, 0, &[]), seg(SYN, 0, 0, &[]), seg(ACK, -5, -5, b"old"), vec![7, 255]],
            vec![vec![6, 2], seg(ACK | FIN, 0, 20000, &[]), vec![7, 100], vec![7, 255]],
        ];
        std::fs::create_dir_all(dir.join("tcp_segments")).unwrap();
        for (i, s) in segs.into_iter().enumerate() {
            std::fs::write(dir.join("tcp_segments").join(format!("seed-{i}")), s.concat()).unwrap();
        }
    }

    /// Every input of the committed corpus (`corpus/TARGET`, in git) runs
    /// without a panic. A missing or empty folder is a failure, not a pass:
    /// the corpus is the fuzzers' memory, and `tests/run.sh` runs this test.
    #[test]
    fn every_seed_of_the_corpus_runs() {
        for dir in ["frame_listening", "frame_established", "frame_fragments", "tcp_segments", "drill_parse"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(dir);
            let entries = std::fs::read_dir(&path)
                .unwrap_or_else(|e| panic!("the corpus folder {} cannot be read: {e}", path.display()));
            let files: Vec<_> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
            assert!(!files.is_empty(), "the corpus folder {} is empty", path.display());
            for f in files {
                let data = std::fs::read(f).unwrap();
                match dir {
                    "frame_listening" => Lab::listening().run_frames(&data),
                    "frame_established" => Lab::established().run_frames(&data),
                    "frame_fragments" => Lab::fragments().run_frames(&data),
                    "drill_parse" => {
                        let _ = apps::drill::parse::parse(&String::from_utf8_lossy(&data));
                    }
                    _ => Lab::established().run_segments(&data),
                }
            }
        }
    }
}
