//! A script's packets on synack's wire: inbound ones (`<`) built into
//! Ethernet frames for the stack, outbound ones (`>`) read from the frames
//! the stack sent and compared with what the script expects.
//!
//! Both directions go through packetdrill's mapping between *script space*
//! and *live space* (packetdrill's `run_packet.c`, described in its README):
//! - the remote side's sequence numbers are the script's own (its SYN's
//!   sequence number is the remote ISN, and later segments count from it);
//! - synack's side counts from synack's ISN, learned from the first SYN or
//!   SYN-ACK it sends: `> S. 0:0(0)` then `1:1001(1000)` mean ISN and
//!   ISN+1…ISN+1001, and the script's acks and SACK blocks are shifted the
//!   same way;
//! - a timestamp echo (`TS ecr`) in an inbound segment names a `TS val` the
//!   script wrote on an earlier outbound line, and becomes the live value
//!   synack actually sent there. Outbound `TS val`s are not compared.
//!
//! What is compared on an outbound segment (packetdrill's `verify_tcp`):
//! every flag, seq, ack, the window when the script gives `win`, the urgent
//! pointer, the payload length and bytes (the runner writes zeros), the
//! options in order unless the script says `<...>`, and the checksums,
//! always. The addresses are synack's and the script's peer's.
//!
//! Read first: `ast.rs` (the script's packet), `stack::wire` (the headers).

use super::ast::{TcpFlagSpec, TcpOptionSpec, TcpOptionsSpec, TcpSpec};
use stack::checksum;
use stack::wire::ethernet::{EtherType, EthernetFrame, EthernetRepr, MacAddr};
use stack::wire::frame::ipv4_frame;
use stack::wire::ipv4::{Ipv4Packet, PROTO_TCP, PROTO_UDP};
use stack::wire::tcp::{SeqNumber, TcpFlags, TcpOption, TcpPacket};
use stack::wire::udp::UdpPacket;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddrV4};

const OPT_MSS: u8 = 2;
const OPT_WSCALE: u8 = 3;
const OPT_SACK_PERM: u8 = 4;
const OPT_SACK: u8 = 5;
const OPT_TIMESTAMP: u8 = 8;

/// One connection as the script sees it (packetdrill's `struct socket`):
/// its addresses and the offsets between script and live numbers.
#[derive(Clone, Debug)]
pub struct Flow {
    /// synack's side. The port is 0 for an active open until synack's SYN
    /// shows which ephemeral port it chose.
    pub local: SocketAddrV4,
    /// The script's side.
    pub remote: SocketAddrV4,
    /// The script's ISN (the same in script and live space).
    pub remote_isn: u32,
    /// synack's ISN as the script writes it (the seq of its `> S` or `> S.` line).
    pub script_local_isn: u32,
    /// synack's real ISN, once its SYN or SYN-ACK went out.
    pub live_local_isn: Option<u32>,
    /// Script TS val → the live TS val synack sent in that segment.
    ts_vals: HashMap<u32, u32>,
}

impl Flow {
    pub fn new(local: SocketAddrV4, remote: SocketAddrV4, remote_isn: u32) -> Flow {
        Flow { local, remote, remote_isn, script_local_isn: 0, live_local_isn: None, ts_vals: HashMap::new() }
    }

    /// Script → live for synack's sequence space (SYNs carry the ISN as written).
    fn local_offset(&self, syn: bool) -> u32 {
        let live = self.live_local_isn.unwrap_or(self.script_local_isn);
        if syn {
            live.wrapping_sub(self.script_local_isn)
        } else {
            live
        }
    }

    /// Script → live for the remote's sequence space.
    fn remote_offset(&self, syn: bool) -> u32 {
        if syn {
            0
        } else {
            self.remote_isn
        }
    }

    /// Does this frame of synack's belong to the flow? (An active open's
    /// first SYN fixes the local port.)
    fn owns(&self, seen: &SeenTcp) -> bool {
        seen.dst == self.remote
            && (seen.src == self.local || (self.local.port() == 0 && seen.src.ip() == self.local.ip()))
    }
}

/// The link the script's packets travel: the MACs and the addresses.
#[derive(Copy, Clone, Debug)]
pub struct Link {
    pub stack_mac: MacAddr,
    pub peer_mac: MacAddr,
}

/// An inbound TCP segment as the frame the stack receives.
pub fn inbound_tcp(link: &Link, flow: &Flow, spec: &TcpSpec) -> Result<Vec<u8>, String> {
    let syn = spec.flags.syn;
    let seq = spec.seq.wrapping_add(flow.remote_offset(syn));
    let ack_offset = flow.local_offset(syn);
    let ack = if spec.flags.ack { spec.ack.unwrap_or(0).wrapping_add(ack_offset) } else { spec.ack.unwrap_or(0) };
    let win = spec.win.ok_or("an inbound packet needs `win`")?;
    let options = match &spec.options {
        TcpOptionsSpec::Absent => Vec::new(),
        TcpOptionsSpec::Any => return Err("`<...>` is for outbound packets only".into()),
        TcpOptionsSpec::List(list) => inbound_options(flow, list, spec.flags.ack, ack_offset)?,
    };
    if options.len() > 40 {
        return Err(format!("TCP options take {} bytes; at most 40 fit", options.len()));
    }
    let hdr_len = 20 + options.len().next_multiple_of(4);
    let mut seg = vec![0u8; hdr_len + spec.len as usize];
    {
        let mut p = TcpPacket::new_unchecked(&mut seg[..]);
        p.set_src_port(flow.remote.port());
        p.set_dst_port(flow.local.port());
        p.set_seq_number(SeqNumber(seq));
        p.set_ack_number(SeqNumber(ack));
        p.set_header_len(hdr_len);
        p.set_flags(flags_of(spec.flags));
        p.set_window_len(win);
        p.set_urgent_at(spec.urg.unwrap_or(0));
        p.options_mut()[..options.len()].copy_from_slice(&options);
        p.fill_checksum(*flow.remote.ip(), *flow.local.ip());
    }
    Ok(ip_frame(link, *flow.remote.ip(), *flow.local.ip(), PROTO_TCP, &seg))
}

/// The option bytes exactly as the script lists them (no reordering, no
/// padding but the final one), with SACK blocks and TS ecr mapped to live.
fn inbound_options(flow: &Flow, list: &[TcpOptionSpec], ack: bool, ack_offset: u32) -> Result<Vec<u8>, String> {
    let mut b = Vec::new();
    for o in list {
        match o {
            TcpOptionSpec::Eol => b.push(0),
            TcpOptionSpec::Nop => b.push(1),
            TcpOptionSpec::Mss(m) => b.extend([OPT_MSS, 4, (m >> 8) as u8, *m as u8]),
            TcpOptionSpec::WScale(s) => b.extend([OPT_WSCALE, 3, *s]),
            TcpOptionSpec::SackOk => b.extend([OPT_SACK_PERM, 2]),
            TcpOptionSpec::Sack(blocks) => {
                b.extend([OPT_SACK, (2 + 8 * blocks.len()) as u8]);
                for (l, r) in blocks {
                    b.extend(l.wrapping_add(ack_offset).to_be_bytes());
                    b.extend(r.wrapping_add(ack_offset).to_be_bytes());
                }
            }
            TcpOptionSpec::Timestamp { val, ecr } => {
                let ecr = if ack {
                    *flow.ts_vals.get(ecr).ok_or_else(|| {
                        format!("unable to infer live TS ecr for script TS ecr {ecr}; no matching outbound TS val")
                    })?
                } else {
                    *ecr
                };
                b.extend([OPT_TIMESTAMP, 10]);
                b.extend(val.to_be_bytes());
                b.extend(ecr.to_be_bytes());
            }
        }
    }
    Ok(b)
}

/// An inbound UDP datagram of `len` zero bytes.
pub fn inbound_udp(link: &Link, from: SocketAddrV4, to: SocketAddrV4, len: u16) -> Vec<u8> {
    let mut seg = vec![0u8; 8 + len as usize];
    {
        let mut p = UdpPacket::new_unchecked(&mut seg[..]);
        p.set_src_port(from.port());
        p.set_dst_port(to.port());
        p.set_len(8 + len as usize);
        p.set_checksum(0);
        p.fill_checksum(*from.ip(), *to.ip());
    }
    ip_frame(link, *from.ip(), *to.ip(), PROTO_UDP, &seg)
}

fn ip_frame(link: &Link, src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, seg: &[u8]) -> Vec<u8> {
    ipv4_frame(link.peer_mac, link.stack_mac, src, dst, protocol, seg)
}

fn flags_of(f: TcpFlagSpec) -> TcpFlags {
    let mut b = 0u8;
    for (on, bit) in [
        (f.fin, TcpFlags::FIN),
        (f.syn, TcpFlags::SYN),
        (f.rst, TcpFlags::RST),
        (f.psh, TcpFlags::PSH),
        (f.ack, TcpFlags::ACK),
        (f.urg, TcpFlags::URG),
        (f.ece, TcpFlags::ECE),
        (f.cwr, TcpFlags::CWR),
    ] {
        if on {
            b |= bit.0;
        }
    }
    TcpFlags(b)
}

fn spec_of(b: u8) -> TcpFlagSpec {
    let has = |f: TcpFlags| b & f.0 != 0;
    TcpFlagSpec {
        fin: has(TcpFlags::FIN),
        syn: has(TcpFlags::SYN),
        rst: has(TcpFlags::RST),
        psh: has(TcpFlags::PSH),
        ack: has(TcpFlags::ACK),
        urg: has(TcpFlags::URG),
        ece: has(TcpFlags::ECE),
        cwr: has(TcpFlags::CWR),
    }
}

// ------------------------------------------------------------ outbound

/// A TCP segment synack sent, read from its frame.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenTcp {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub flags: TcpFlagSpec,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub urg: u16,
    /// Each option as written; `None` for a kind the script language cannot name.
    pub options: Vec<Option<TcpOptionSpec>>,
    pub len: usize,
    /// Whether every payload byte is zero (what the runner writes).
    pub zero_payload: bool,
}

/// What synack sent, in a form the runner can route.
#[derive(Clone, Debug)]
pub enum Seen {
    Tcp(SeenTcp),
    Udp {
        src: SocketAddrV4,
        dst: SocketAddrV4,
        len: usize,
    },
    Icmp {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        icmp_type: u8,
        code: u8,
    },
    /// An ARP request for `target` (the runner answers it).
    ArpRequest {
        target: Ipv4Addr,
        sender: Ipv4Addr,
        sender_mac: MacAddr,
    },
    /// Anything else: its description.
    Other(String),
}

/// Read a frame synack sent. `partial` says whether the transport checksum
/// was left for the device (`CHECKSUM_PARTIAL`): then the field must hold
/// the pseudo-header sum, which is what a NIC relies on; otherwise the
/// checksum must verify. A bad checksum is an error, always.
pub fn read_frame(frame: &[u8], partial: bool) -> Result<Seen, String> {
    let eth = EthernetFrame::new_checked(frame).map_err(|e| format!("bad Ethernet frame: {e:?}"))?;
    match EthernetRepr::parse(&eth).ethertype {
        EtherType::Arp => {
            let p = stack::wire::arp::ArpPacket::new_checked(eth.payload()).map_err(|e| format!("bad ARP: {e:?}"))?;
            let a = stack::wire::arp::ArpRepr::parse(&p).map_err(|e| format!("bad ARP: {e:?}"))?;
            if a.op == stack::wire::arp::ARPOP_REQUEST {
                return Ok(Seen::ArpRequest { target: a.tpa, sender: a.spa, sender_mac: a.sha });
            }
            return Ok(Seen::Other(format!("ARP op {}", a.op)));
        }
        EtherType::Ipv4 => {}
        other => return Ok(Seen::Other(format!("ethertype {other:?}"))),
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|e| format!("bad IPv4 header: {e:?}"))?;
    if !ip.verify_checksum() {
        return Err("bad outbound IPv4 header checksum".into());
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let seg = ip.payload();
    let l4_ok = |proto: u8| {
        if partial {
            // The field holds the folded pseudo-header sum, not complemented.
            let field = u16::from_be_bytes([seg[csum_field(proto)], seg[csum_field(proto) + 1]]);
            field as u32 == checksum::pseudo_header(src, dst, proto, seg.len())
        } else {
            checksum::transport_checksum(src, dst, proto, seg) == 0
        }
    };
    match ip.protocol() {
        PROTO_TCP => {
            let p = TcpPacket::new_checked(seg).map_err(|e| format!("bad TCP header: {e:?}"))?;
            if !l4_ok(PROTO_TCP) {
                return Err("bad outbound TCP checksum".into());
            }
            let mut options = Vec::new();
            let mut b = p.options();
            while !b.is_empty() {
                let Some((o, rest)) = TcpOption::parse(b) else {
                    options.push(None);
                    break;
                };
                b = rest;
                options.push(option_spec(o));
            }
            let payload = p.payload();
            Ok(Seen::Tcp(SeenTcp {
                src: SocketAddrV4::new(src, p.src_port()),
                dst: SocketAddrV4::new(dst, p.dst_port()),
                flags: spec_of(p.flags_byte()),
                seq: p.seq_number().0,
                ack: p.ack_number().0,
                win: p.window_len(),
                urg: p.urgent_at(),
                options,
                len: payload.len(),
                zero_payload: payload.iter().all(|&b| b == 0),
            }))
        }
        PROTO_UDP => {
            let p = UdpPacket::new_checked(seg).map_err(|e| format!("bad UDP header: {e:?}"))?;
            if p.checksum() != 0 && !l4_ok(PROTO_UDP) {
                return Err("bad outbound UDP checksum".into());
            }
            Ok(Seen::Udp {
                src: SocketAddrV4::new(src, p.src_port()),
                dst: SocketAddrV4::new(dst, p.dst_port()),
                len: seg.len().saturating_sub(8),
            })
        }
        1 => {
            if seg.len() < 4 || checksum::checksum(seg) != 0 {
                return Err("bad outbound ICMP checksum".into());
            }
            Ok(Seen::Icmp { src, dst, icmp_type: seg[0], code: seg[1] })
        }
        p => Ok(Seen::Other(format!("IP protocol {p}"))),
    }
}

fn csum_field(proto: u8) -> usize {
    if proto == PROTO_TCP {
        16
    } else {
        6
    }
}

fn option_spec(o: TcpOption<'_>) -> Option<TcpOptionSpec> {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some(match o {
        TcpOption::EndOfList => TcpOptionSpec::Eol,
        TcpOption::NoOperation => TcpOptionSpec::Nop,
        TcpOption::Other { kind: OPT_MSS, data } if data.len() == 2 => {
            TcpOptionSpec::Mss(u16::from_be_bytes([data[0], data[1]]))
        }
        TcpOption::Other { kind: OPT_WSCALE, data } if data.len() == 1 => TcpOptionSpec::WScale(data[0]),
        TcpOption::Other { kind: OPT_SACK_PERM, data: [] } => TcpOptionSpec::SackOk,
        TcpOption::Other { kind: OPT_SACK, data } if !data.is_empty() && data.len() % 8 == 0 => {
            TcpOptionSpec::Sack(data.chunks_exact(8).map(|c| (be32(&c[..4]), be32(&c[4..]))).collect())
        }
        TcpOption::Other { kind: OPT_TIMESTAMP, data } if data.len() == 8 => {
            TcpOptionSpec::Timestamp { val: be32(&data[..4]), ecr: be32(&data[4..]) }
        }
        TcpOption::Other { .. } => return None,
    })
}

impl Flow {
    /// Is `seen` this flow's? An active open's SYN fixes the local port.
    pub fn claim(&mut self, seen: &SeenTcp) -> bool {
        if !self.owns(seen) {
            return false;
        }
        if self.local.port() == 0 {
            self.local = seen.src;
        }
        true
    }

    /// `seen` in script space (synack's ISN learned from its SYN, TS vals
    /// recorded for later echoes), then compared with `spec`. Returns the
    /// segment in script space either way, and what differs.
    pub fn check_outbound(&mut self, seen: &SeenTcp, spec: &TcpSpec) -> (SeenTcp, Option<String>) {
        if seen.flags.syn {
            self.script_local_isn = spec.seq;
            self.live_local_isn = Some(seen.seq);
        }
        let syn = seen.flags.syn;
        let lo = self.local_offset(syn);
        let ro = self.remote_offset(syn);
        let mut s = seen.clone();
        s.seq = seen.seq.wrapping_sub(lo);
        if s.flags.ack {
            s.ack = seen.ack.wrapping_sub(ro);
        }
        for o in s.options.iter_mut().flatten() {
            match o {
                TcpOptionSpec::Sack(blocks) => {
                    for b in blocks.iter_mut() {
                        *b = (b.0.wrapping_sub(ro), b.1.wrapping_sub(ro));
                    }
                }
                TcpOptionSpec::Timestamp { val, .. } => {
                    // packetdrill: remember which live TS val the script's stands for.
                    if let Some(TcpOptionSpec::Timestamp { val: script_val, .. }) = spec_ts(spec) {
                        self.ts_vals.insert(script_val, *val);
                    }
                }
                _ => {}
            }
        }
        let diff = compare(&s, spec);
        (s, diff)
    }
}

fn spec_ts(spec: &TcpSpec) -> Option<TcpOptionSpec> {
    match &spec.options {
        TcpOptionsSpec::List(l) => l.iter().find(|o| matches!(o, TcpOptionSpec::Timestamp { .. })).cloned(),
        _ => None,
    }
}

/// What differs between a segment in script space and the script's line,
/// in packetdrill's words; `None` when it matches.
fn compare(s: &SeenTcp, spec: &TcpSpec) -> Option<String> {
    let field = |name: &str, want: u64, got: u64| {
        (want != got)
            .then(|| format!("live packet field {name}: expected: {want} (0x{want:x}) vs actual: {got} (0x{got:x})"))
    };
    let f = |b: bool| b as u64;
    let (w, a) = (spec.flags, s.flags);
    let checks = [
        field("tcp_fin", f(w.fin), f(a.fin)),
        field("tcp_syn", f(w.syn), f(a.syn)),
        field("tcp_rst", f(w.rst), f(a.rst)),
        field("tcp_psh", f(w.psh), f(a.psh)),
        field("tcp_ack", f(w.ack), f(a.ack)),
        field("tcp_urg", f(w.urg), f(a.urg)),
        field("tcp_ece", f(w.ece), f(a.ece)),
        field("tcp_cwr", f(w.cwr), f(a.cwr)),
        field("tcp_payload_len", spec.len as u64, s.len as u64),
        field("tcp_seq", spec.seq as u64, s.seq as u64),
        if w.ack { field("tcp_ack_seq", spec.ack.unwrap_or(0) as u64, s.ack as u64) } else { None },
        spec.win.and_then(|win| field("tcp_window", win as u64, s.win as u64)),
        field("tcp_urg_ptr", spec.urg.unwrap_or(0) as u64, s.urg as u64),
    ];
    if let Some(d) = checks.into_iter().flatten().next() {
        return Some(d);
    }
    if let Some(d) = compare_options(&s.options, &spec.options) {
        return Some(d);
    }
    (!s.zero_payload).then(|| "incorrect outbound data payload".to_string())
}

fn compare_options(got: &[Option<TcpOptionSpec>], want: &TcpOptionsSpec) -> Option<String> {
    let want: &[TcpOptionSpec] = match want {
        TcpOptionsSpec::Any => return None,
        TcpOptionsSpec::Absent => &[],
        TcpOptionsSpec::List(l) => l,
    };
    if got.len() != want.len() {
        return Some("bad outbound TCP options".into());
    }
    for (g, w) in got.iter().zip(want) {
        let ok = match (g, w) {
            // TS val and ecr are not compared (packetdrill compares a val
            // only with --tcp_ts_tick_usecs, which synack drill has not).
            (Some(TcpOptionSpec::Timestamp { .. }), TcpOptionSpec::Timestamp { .. }) => true,
            (Some(g), w) => g == w,
            (None, _) => false,
        };
        if !ok {
            let g = g.as_ref().map_or("an option the script language has no name for".to_string(), option_text);
            return Some(format!("bad outbound TCP option: expected: {} actual: {g}", option_text(w)));
        }
    }
    None
}

pub fn option_text(o: &TcpOptionSpec) -> String {
    match o {
        TcpOptionSpec::Eol => "eol".into(),
        TcpOptionSpec::Nop => "nop".into(),
        TcpOptionSpec::Mss(m) => format!("mss {m}"),
        TcpOptionSpec::WScale(s) => format!("wscale {s}"),
        TcpOptionSpec::SackOk => "sackOK".into(),
        TcpOptionSpec::Sack(b) => {
            let mut t = "sack".to_string();
            for (l, r) in b {
                let _ = write!(t, " {l}:{r}");
            }
            t
        }
        TcpOptionSpec::Timestamp { val, ecr } => format!("TS val {val} ecr {ecr}"),
    }
}

pub fn flags_text(f: TcpFlagSpec) -> String {
    let mut t = String::new();
    for (on, c) in [(f.syn, 'S'), (f.fin, 'F'), (f.rst, 'R'), (f.psh, 'P'), (f.urg, 'U'), (f.ece, 'E'), (f.cwr, 'W')] {
        if on {
            t.push(c);
        }
    }
    if f.ack {
        t.push('.');
    }
    if t.is_empty() {
        t.push('-');
    }
    t
}

/// A script's TCP line as packetdrill prints it: `S. 0:0(0) ack 1 win 65535 <mss 1460,…>`.
pub struct SpecText<'a>(pub &'a TcpSpec);

impl fmt::Display for SpecText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        write!(f, "{} {}:{}({})", flags_text(s.flags), s.seq, s.seq.wrapping_add(s.len as u32), s.len)?;
        if let Some(a) = s.ack.filter(|_| s.flags.ack) {
            write!(f, " ack {a}")?;
        }
        if let Some(w) = s.win {
            write!(f, " win {w}")?;
        }
        if let Some(u) = s.urg {
            write!(f, " urg {u}")?;
        }
        match &s.options {
            TcpOptionsSpec::Absent => Ok(()),
            TcpOptionsSpec::Any => write!(f, " <...>"),
            TcpOptionsSpec::List(l) => write!(f, " <{}>", l.iter().map(option_text).collect::<Vec<_>>().join(",")),
        }
    }
}

/// A segment synack sent, in script space, printed the same way.
pub struct SeenText<'a>(pub &'a SeenTcp);

impl fmt::Display for SeenText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        write!(f, "{} {}:{}({})", flags_text(s.flags), s.seq, s.seq.wrapping_add(s.len as u32), s.len)?;
        if s.flags.ack {
            write!(f, " ack {}", s.ack)?;
        }
        write!(f, " win {}", s.win)?;
        if s.urg != 0 {
            write!(f, " urg {}", s.urg)?;
        }
        if !s.options.is_empty() {
            let o: Vec<String> = s.options.iter().map(|o| o.as_ref().map_or("?".into(), option_text)).collect();
            write!(f, " <{}>", o.join(","))?;
        }
        Ok(())
    }
}
