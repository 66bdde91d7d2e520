//! Record a live run, replay it on a virtual clock, and say what changed.
//!
//! Read first: `pcap.rs` (the capture) and `poll_loop.rs` (a turn of the loop).
//!
//! A *recording* is a directory (`synack up --record DIR`):
//!
//! ```text
//!   DIR/capture.pcap   every frame on the wire, in (host -> synack) and out
//!   DIR/replay.txt     what else the run depended on, in plain text:
//!                        description  one line for people
//!                        arg          the `synack up` arguments, one a line
//!                        ifname       the TAP's name (the telnet greeting shows it)
//!                        epoch_us     wall-clock time of the stack's Instant::ZERO
//!                        start_us     when the stack was made (its gratuitous ARP)
//!                        ident        the prompt's ping identifier
//!                        turn T       the poll loop ran a turn at T
//!                        line T TEXT  TEXT was typed at the prompt during turn T
//!                        close T      synack shut down at T
//! ```
//!
//! The stack is a pure function of its inputs (sans-IO, a seeded RNG), so
//! the same inputs at the same instants give the same frames, byte for byte.
//! The inputs are the frames the host sent (their capture timestamps are
//! the instants the stack saw them: `PcapWriter` stamps them with the
//! turn's `now`), the turns (timers fire in the turn that finds them due,
//! and the applications run after every turn), and the prompt lines.
//! `synack replay DIR --check` rebuilds the stack from the recorded
//! arguments, feeds the host's frames through a [`ReplayDevice`] at their
//! timestamps, runs every recorded turn on a virtual clock, collects what
//! the stack sends, and [`compare`]s it with the frames the capture holds
//! from synack: byte-equal, or a readable diff naming the frame and the
//! field (`tcp.win: recorded 63, replayed 64`).
//!
//! A capture from elsewhere (tcpdump -w) has no `replay.txt`: it replays
//! with the default arguments, a turn at each frame and at each deadline.

use crate::Device;
use stack::wire::ethernet::{self, ETHERTYPE_ARP, ETHERTYPE_IPV4};
use stack::wire::ipv4::{IPV4_HLEN, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use stack::wire::tcp::TCP_HLEN;
use stack::wire::udp::UDP_HLEN;
use stack::wire::{Ipv4Packet, TcpPacket};
use stack::{Duration, Instant, MacAddr, SkBuff};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The capture's file name inside a recording directory.
pub const CAPTURE: &str = "capture.pcap";
/// The sidecar's file name inside a recording directory.
pub const SIDECAR: &str = "replay.txt";

/// One input of a recorded run besides the host's frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The poll loop ran a turn: frames in, timers, frames out, then the
    /// applications.
    Turn(Instant),
    /// A line typed at the prompt, run after that turn's applications.
    Line(Instant, String),
    /// synack shut down: sockets closed, last frames sent.
    Close(Instant),
}

impl Event {
    pub fn at(&self) -> Instant {
        match self {
            Event::Turn(t) | Event::Line(t, _) | Event::Close(t) => *t,
        }
    }
}

/// `replay.txt`: the arguments and the events of a recorded run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recording {
    pub description: String,
    /// The `synack up` arguments (without `--record` and its directory).
    pub args: Vec<String>,
    pub ifname: String,
    /// Wall-clock time (since 1970) at the stack's `Instant::ZERO`.
    pub epoch: Duration,
    /// The `now` the stack was made with.
    pub start: Instant,
    /// The prompt's ping identifier (the process id when live).
    pub ident: u16,
    pub events: Vec<Event>,
}

impl Recording {
    /// The header lines of `replay.txt` (everything but the events).
    pub fn header(&self) -> String {
        let mut s = String::from("# synack recording: `synack replay DIR --check` replays it\n");
        let _ = writeln!(s, "description {}", self.description.replace('\n', " "));
        for a in &self.args {
            let _ = writeln!(s, "arg {}", a.replace('\n', " "));
        }
        let _ = writeln!(s, "ifname {}", self.ifname);
        let _ = writeln!(s, "epoch_us {}", self.epoch.as_micros());
        let _ = writeln!(s, "start_us {}", self.start.total_micros());
        let _ = writeln!(s, "ident {}", self.ident);
        s
    }

    pub fn event_line(ev: &Event) -> String {
        match ev {
            Event::Turn(t) => format!("turn {}", t.total_micros()),
            Event::Line(t, text) => format!("line {} {}", t.total_micros(), text.replace('\n', " ")),
            Event::Close(t) => format!("close {}", t.total_micros()),
        }
    }

    /// The whole file.
    pub fn to_text(&self) -> String {
        let mut s = self.header();
        for ev in &self.events {
            s.push_str(&Recording::event_line(ev));
            s.push('\n');
        }
        s
    }

    /// Parse `replay.txt`. Unknown keys are an error (a newer format).
    pub fn parse(text: &str) -> Result<Recording, String> {
        let mut r = Recording::default();
        let mut last = Instant::ZERO;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            let bad = |what: &str| format!("replay.txt line {}: {what}: {line:?}", n + 1);
            let micros = |s: &str| s.parse::<u64>().map_err(|_| bad("want microseconds"));
            let ev = match key {
                "description" => {
                    r.description = rest.to_string();
                    None
                }
                "arg" => {
                    r.args.push(rest.to_string());
                    None
                }
                "ifname" => {
                    r.ifname = rest.to_string();
                    None
                }
                "epoch_us" => {
                    r.epoch = Duration::from_micros(micros(rest)?);
                    None
                }
                "start_us" => {
                    r.start = Instant::from_micros(micros(rest)?);
                    None
                }
                "ident" => {
                    r.ident = rest.parse().map_err(|_| bad("want a 16-bit identifier"))?;
                    None
                }
                "turn" => Some(Event::Turn(Instant::from_micros(micros(rest)?))),
                "close" => Some(Event::Close(Instant::from_micros(micros(rest)?))),
                "line" => {
                    let (t, text) = rest.split_once(' ').unwrap_or((rest, ""));
                    Some(Event::Line(Instant::from_micros(micros(t)?), text.to_string()))
                }
                _ => return Err(bad("unknown key")),
            };
            if let Some(ev) = ev {
                if ev.at() < last {
                    return Err(bad("time goes backwards"));
                }
                last = ev.at();
                r.events.push(ev);
            }
        }
        Ok(r)
    }

    pub fn load(dir: &Path) -> io::Result<Recording> {
        let text = std::fs::read_to_string(dir.join(SIDECAR))?;
        Recording::parse(&text).map_err(io::Error::other)
    }
}

/// Writes `replay.txt` as the run goes: the header at once, then a line per
/// event, flushed each time (the file is complete even if synack is killed).
pub struct Recorder {
    out: BufWriter<File>,
}

impl Recorder {
    /// Create `dir` (and parents) and `dir/replay.txt`; the capture goes to
    /// [`Recorder::capture_path`].
    pub fn create(dir: &Path, header: &Recording) -> io::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        let mut out = BufWriter::new(File::create(dir.join(SIDECAR))?);
        out.write_all(header.header().as_bytes())?;
        out.flush()?;
        Ok(Recorder { out })
    }

    pub fn capture_path(dir: &Path) -> PathBuf {
        dir.join(CAPTURE)
    }

    pub fn event(&mut self, ev: &Event) -> io::Result<()> {
        writeln!(self.out, "{}", Recording::event_line(ev))?;
        self.out.flush()
    }
}

/// A recorded frame, seen from the stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub at: Instant,
    pub data: Vec<u8>,
}

/// A capture split by direction: frames whose Ethernet source is the
/// stack's MAC came out of the stack, every other frame went into it.
/// Timestamps become stack instants (`pcap time − epoch`); a frame from
/// before the epoch arrives at `Instant::ZERO`.
pub fn split_capture(path: &Path, mac: MacAddr, epoch: Duration) -> io::Result<(Vec<Frame>, Vec<Frame>)> {
    let (mut inbound, mut outbound) = (Vec::new(), Vec::new());
    for f in crate::PcapReader::open(path)? {
        let f = f?;
        let at = Instant::from_micros(f.timestamp.saturating_sub(epoch).as_micros() as u64);
        let out = f.data.get(ethernet::field::SOURCE) == Some(&mac.0[..]);
        let frame = Frame { at, data: f.data };
        if out {
            outbound.push(frame);
        } else {
            inbound.push(frame);
        }
    }
    Ok((inbound, outbound))
}

/// The host's side of a replay: hands the stack each recorded inbound
/// frame once its time has come, and keeps every frame the stack sends.
pub struct ReplayDevice {
    inbound: VecDeque<Frame>,
    sent: Rc<RefCell<Vec<Frame>>>,
}

impl ReplayDevice {
    pub fn new(inbound: Vec<Frame>) -> ReplayDevice {
        ReplayDevice { inbound: inbound.into(), sent: Rc::default() }
    }
    /// What the stack has sent so far (shared: the device itself usually
    /// sits inside a `NetLoop`).
    pub fn sent(&self) -> Rc<RefCell<Vec<Frame>>> {
        self.sent.clone()
    }
    /// Inbound frames not yet handed over.
    pub fn pending(&self) -> usize {
        self.inbound.len()
    }
}

impl Device for ReplayDevice {
    fn recv(&mut self, now: Instant) -> io::Result<Option<SkBuff>> {
        if self.inbound.front().is_some_and(|f| f.at <= now) {
            let f = self.inbound.pop_front().expect("front exists");
            return Ok(Some(SkBuff::from_frame(&f.data)));
        }
        Ok(None)
    }
    fn send(&mut self, now: Instant, skb: &SkBuff) -> io::Result<()> {
        self.sent.borrow_mut().push(Frame { at: now, data: skb.data().to_vec() });
        Ok(())
    }
    fn poll_at(&self) -> Option<Instant> {
        self.inbound.front().map(|f| f.at)
    }
}

// ------------------------------------------------------------- comparing

/// One way a replay differs from its recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// Frame `index` (counting the stack's frames from 0) differs in these fields.
    Differs { index: usize, recorded: Frame, replayed: Frame, fields: Vec<FieldDiff> },
    /// The recording has a frame the replay never sent.
    Missing { index: usize, recorded: Frame },
    /// The replay sent a frame the recording does not have.
    Extra { index: usize, replayed: Frame },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDiff {
    pub field: &'static str,
    pub recorded: String,
    pub replayed: String,
}

/// Compare the stack's frames, in order. Times are not compared (a live
/// timer fires a little after its deadline); bytes are.
pub fn compare(recorded: &[Frame], replayed: &[Frame]) -> Vec<Mismatch> {
    let mut v = Vec::new();
    for i in 0..recorded.len().max(replayed.len()) {
        match (recorded.get(i), replayed.get(i)) {
            (Some(a), Some(b)) if a.data != b.data => v.push(Mismatch::Differs {
                index: i,
                recorded: a.clone(),
                replayed: b.clone(),
                fields: diff_fields(&a.data, &b.data),
            }),
            (Some(_), Some(_)) => {}
            (Some(a), None) => v.push(Mismatch::Missing { index: i, recorded: a.clone() }),
            (None, Some(b)) => v.push(Mismatch::Extra { index: i, replayed: b.clone() }),
            (None, None) => unreachable!(),
        }
    }
    v
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |fr: &Frame| format!("{:>11} > {}", fr.at.to_string(), stack::tcpdump::format_frame(&fr.data));
        match self {
            Mismatch::Differs { index, recorded, replayed, fields } => {
                writeln!(f, "frame {} out of synack differs:", index + 1)?;
                writeln!(f, "  recorded {}", line(recorded))?;
                writeln!(f, "  replayed {}", line(replayed))?;
                for d in fields {
                    writeln!(f, "    {}: recorded {}, replayed {}", d.field, d.recorded, d.replayed)?;
                }
                Ok(())
            }
            Mismatch::Missing { index, recorded } => {
                writeln!(f, "frame {} out of synack is missing from the replay:", index + 1)?;
                writeln!(f, "  recorded {}", line(recorded))
            }
            Mismatch::Extra { index, replayed } => {
                writeln!(f, "frame {} out of synack is new in the replay:", index + 1)?;
                writeln!(f, "  replayed {}", line(replayed))
            }
        }
    }
}

/// The fields in which two frames differ, by name, outermost first.
pub fn diff_fields(a: &[u8], b: &[u8]) -> Vec<FieldDiff> {
    let (fa, fb) = (fields(a), fields(b));
    let mut v = Vec::new();
    for (x, y) in fa.iter().zip(fb.iter()) {
        if x.0 != y.0 {
            // The frames parse differently from here on: say so once.
            v.push(FieldDiff { field: "layout", recorded: x.0.to_string(), replayed: y.0.to_string() });
            return v;
        }
        if x.1 != y.1 {
            v.push(FieldDiff { field: x.0, recorded: x.1.clone(), replayed: y.1.clone() });
        }
    }
    if fa.len() != fb.len() {
        v.push(FieldDiff { field: "fields", recorded: fa.len().to_string(), replayed: fb.len().to_string() });
    }
    if v.is_empty() && a != b {
        let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        v.push(FieldDiff { field: "bytes", recorded: format!("differ at offset {at}"), replayed: String::new() });
    }
    v
}

fn be16(d: &[u8], r: Range<usize>) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(r)?.try_into().ok()?))
}
fn be32(d: &[u8], r: Range<usize>) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(r)?.try_into().ok()?))
}
fn ip4(d: &[u8], r: Range<usize>) -> Option<String> {
    let b: [u8; 4] = d.get(r)?.try_into().ok()?;
    Some(Ipv4Addr::from(b).to_string())
}
fn mac(d: &[u8], r: Range<usize>) -> Option<String> {
    Some(MacAddr::from_bytes(d.get(r)?).to_string())
}
fn hex(d: &[u8]) -> String {
    d.iter().map(|x| format!("{x:02x}")).collect()
}
/// Payload shown as text when it is text, else as its length and hex start.
fn payload(d: &[u8]) -> String {
    if d.iter().all(|&c| c == b'\n' || c == b'\r' || c == b'\t' || (0x20..0x7f).contains(&c)) {
        format!("{:?}", String::from_utf8_lossy(d))
    } else {
        format!("{} bytes {}{}", d.len(), hex(&d[..d.len().min(16)]), if d.len() > 16 { "…" } else { "" })
    }
}

/// A frame as (field, value) pairs, in wire order: Ethernet, then ARP or
/// IPv4, then ICMP, UDP or TCP and the payload. Parsing stops quietly
/// where the bytes run out.
pub fn fields(d: &[u8]) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    let mut push = |name: &'static str, val: Option<String>| -> bool {
        match val {
            Some(x) => {
                v.push((name, x));
                true
            }
            None => false,
        }
    };
    let _ = (|| -> Option<()> {
        use stack::wire::{arp::field as arp, icmp::field as icmp, ipv4::field as ip, tcp::field as tcp};
        push("eth.dst", mac(d, ethernet::field::DESTINATION)).then_some(())?;
        push("eth.src", mac(d, ethernet::field::SOURCE)).then_some(())?;
        let ty = be16(d, ethernet::field::ETHERTYPE)?;
        push("eth.type", Some(format!("0x{ty:04x}")));
        let p = &d[ethernet::field::PAYLOAD];
        if ty == ETHERTYPE_ARP {
            push("arp.op", be16(p, arp::OPER).map(|x| x.to_string()));
            push("arp.sha", mac(p, arp::SHA));
            push("arp.spa", ip4(p, arp::SPA));
            push("arp.tha", mac(p, arp::THA));
            push("arp.tpa", ip4(p, arp::TPA));
            return Some(());
        }
        if ty != ETHERTYPE_IPV4 {
            push("eth.payload", Some(payload(p)));
            return Some(());
        }
        // The view's accessors read only the bytes checked present before them.
        let view = Ipv4Packet::new_unchecked(p);
        push("ip.ver_ihl", Some(format!("0x{:02x}", p.get(ip::VER_IHL)?)));
        let ihl = view.header_len();
        push("ip.tos", p.get(ip::TOS).map(|x| x.to_string()));
        let total = be16(p, ip::LENGTH)? as usize;
        push("ip.len", Some(total.to_string()));
        push("ip.id", be16(p, ip::IDENT).map(|x| x.to_string()));
        be16(p, ip::FLG_OFF)?;
        let (df, mf) = (if view.dont_frag() { "DF" } else { "" }, if view.more_frags() { "MF" } else { "" });
        push("ip.flags", Some(format!("{df}{mf}")));
        push("ip.frag_off", Some(view.frag_offset().to_string()));
        push("ip.ttl", p.get(ip::TTL).map(|x| x.to_string()));
        let proto = *p.get(ip::PROTOCOL)?;
        push("ip.proto", Some(proto.to_string()));
        push("ip.checksum", be16(p, ip::CHECKSUM).map(|x| format!("0x{x:04x}")));
        push("ip.src", ip4(p, ip::SRC_ADDR));
        push("ip.dst", ip4(p, ip::DST_ADDR));
        if ihl > IPV4_HLEN {
            push("ip.options", p.get(ip::OPTIONS_START..ihl).map(hex));
        }
        let l4 = p.get(ihl..total.min(p.len()).max(ihl))?;
        if view.frag_offset() != 0 {
            push("ip.payload", Some(payload(l4)));
            return Some(());
        }
        match proto {
            PROTO_ICMP => {
                push("icmp.type", l4.get(icmp::TYPE).map(|x| x.to_string()));
                push("icmp.code", l4.get(icmp::CODE).map(|x| x.to_string()));
                push("icmp.checksum", be16(l4, icmp::CHECKSUM).map(|x| format!("0x{x:04x}")));
                let rest = icmp::ECHO_IDENT.start..icmp::ECHO_SEQNO.end;
                push("icmp.rest", be32(l4, rest).map(|x| format!("0x{x:08x}")));
                push("icmp.payload", l4.get(icmp::DATA).map(payload));
            }
            PROTO_UDP => {
                use stack::wire::udp::field as udp;
                push("udp.sport", be16(l4, udp::SRC_PORT).map(|x| x.to_string()));
                push("udp.dport", be16(l4, udp::DST_PORT).map(|x| x.to_string()));
                push("udp.len", be16(l4, udp::LENGTH).map(|x| x.to_string()));
                push("udp.checksum", be16(l4, udp::CHECKSUM).map(|x| format!("0x{x:04x}")));
                push("udp.payload", l4.get(UDP_HLEN..).map(payload));
            }
            PROTO_TCP => {
                push("tcp.sport", be16(l4, tcp::SRC_PORT).map(|x| x.to_string()));
                push("tcp.dport", be16(l4, tcp::DST_PORT).map(|x| x.to_string()));
                push("tcp.seq", be32(l4, tcp::SEQ_NUM).map(|x| x.to_string()));
                push("tcp.ack", be32(l4, tcp::ACK_NUM).map(|x| x.to_string()));
                l4.get(tcp::DATA_OFFSET)?;
                let off = TcpPacket::new_unchecked(l4).header_len();
                push("tcp.doff", Some(off.to_string()));
                push("tcp.flags", l4.get(tcp::FLAGS).map(|&x| tcp_flags(x)));
                push("tcp.win", be16(l4, tcp::WINDOW).map(|x| x.to_string()));
                push("tcp.checksum", be16(l4, tcp::CHECKSUM).map(|x| format!("0x{x:04x}")));
                push("tcp.urg", be16(l4, tcp::URGENT).map(|x| x.to_string()));
                push("tcp.options", l4.get(tcp::OPTIONS_START..off.max(TCP_HLEN)).map(hex));
                push("tcp.payload", l4.get(off.max(TCP_HLEN)..).map(payload));
            }
            _ => {
                push("ip.payload", Some(payload(l4)));
            }
        }
        Some(())
    })();
    v
}

/// TCP flags in tcpdump's letters: `S`, `S.`, `P.`, `F.`, `R`…
fn tcp_flags(f: u8) -> String {
    use stack::wire::TcpFlags as F;
    let f = F(f);
    let mut s = String::new();
    for (bit, c) in
        [(F::SYN, 'S'), (F::FIN, 'F'), (F::PSH, 'P'), (F::RST, 'R'), (F::URG, 'U'), (F::ECE, 'E'), (F::CWR, 'W')]
    {
        if f.has(bit) {
            s.push(c);
        }
    }
    if f.has(F::ACK) {
        s.push('.');
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::tcp::SeqNumber;

    fn sample() -> Recording {
        Recording {
            description: "ping 10.0.0.2 three times".into(),
            args: vec!["--tap".into(), "tap0".into(), "--faults".into(), "drop out tcp data #2".into()],
            ifname: "tap0".into(),
            epoch: Duration::from_micros(1_764_000_000_123_456),
            start: Instant::from_micros(97),
            ident: 7622,
            events: vec![
                Event::Turn(Instant::from_micros(1_502_713)),
                Event::Line(Instant::from_micros(1_502_713), "set nagle off".into()),
                Event::Close(Instant::from_micros(2_000_000)),
            ],
        }
    }

    #[test]
    fn the_sidecar_round_trips() {
        let r = sample();
        let text = r.to_text();
        assert!(text.contains("\narg drop out tcp data #2\n"), "{text}");
        assert!(text.contains("\nline 1502713 set nagle off\n"), "{text}");
        assert_eq!(Recording::parse(&text).unwrap(), r);
    }

    #[test]
    fn a_bad_sidecar_says_which_line() {
        let e = Recording::parse("ifname tap0\nturn 5\nturn 4\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("backwards"), "{e}");
        let e = Recording::parse("frobnicate 1\n").unwrap_err();
        assert!(e.contains("unknown key"), "{e}");
        let e = Recording::parse("turn soon\n").unwrap_err();
        assert!(e.contains("microseconds"), "{e}");
    }

    /// An Ethernet/IPv4/TCP frame: 10.0.0.2:23 > 10.0.0.1:5000.
    fn tcp_frame(seq: u32, win: u16, payload: &[u8]) -> Vec<u8> {
        use stack::wire::{TcpFlags, TcpRepr};
        let t = TcpRepr::new(0, 0, SeqNumber(seq), Some(SeqNumber(1)), TcpFlags::PSH | TcpFlags::ACK, win);
        stack::wire::frame::tcp_frame("10.0.0.2:23".parse().unwrap(), "10.0.0.1:5000".parse().unwrap(), &t, payload)
    }

    #[test]
    fn a_diff_names_the_field() {
        let a = Frame { at: Instant::from_millis(5), data: tcp_frame(1000, 64, b"hello") };
        let b = Frame { at: Instant::from_millis(6), data: tcp_frame(1000, 63, b"hello") };
        let m = compare(std::slice::from_ref(&a), std::slice::from_ref(&b));
        assert_eq!(m.len(), 1);
        let Mismatch::Differs { fields, .. } = &m[0] else { panic!("{m:?}") };
        assert_eq!(fields, &[FieldDiff { field: "tcp.win", recorded: "64".into(), replayed: "63".into() }]);
        let text = m[0].to_string();
        assert!(text.contains("frame 1 out of synack differs"), "{text}");
        assert!(text.contains("tcp.win: recorded 64, replayed 63"), "{text}");
        assert!(text.contains("Flags [P.]"), "the tcpdump line of each: {text}");

        let c = Frame { at: Instant::ZERO, data: tcp_frame(1000, 64, b"hellO") };
        let d = diff_fields(&a.data, &c.data);
        assert_eq!(d[0].field, "tcp.payload");
        assert!(d[0].replayed.contains("hellO"), "{d:?}");
    }

    #[test]
    fn equal_frames_at_other_times_are_no_mismatch_but_counts_are() {
        let a = Frame { at: Instant::from_millis(5), data: tcp_frame(1, 64, b"") };
        let b = Frame { at: Instant::from_millis(9), data: a.data.clone() };
        assert!(compare(std::slice::from_ref(&a), std::slice::from_ref(&b)).is_empty());
        let m = compare(&[a.clone(), a.clone()], std::slice::from_ref(&b));
        assert!(matches!(m[..], [Mismatch::Missing { index: 1, .. }]), "{m:?}");
        let m = compare(&[], std::slice::from_ref(&b));
        assert!(matches!(m[..], [Mismatch::Extra { index: 0, .. }]), "{m:?}");
    }

    #[test]
    fn fields_of_garbage_never_panic() {
        for len in 0..80 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = fields(&junk);
            let mut ip = tcp_frame(1, 1, b"xyz");
            ip.truncate(len.min(ip.len()));
            let _ = fields(&ip);
        }
    }

    #[test]
    fn the_device_hands_frames_over_when_their_time_comes() {
        let mut dev = ReplayDevice::new(vec![
            Frame { at: Instant::from_millis(10), data: tcp_frame(1, 1, b"") },
            Frame { at: Instant::from_millis(20), data: tcp_frame(2, 1, b"") },
        ]);
        assert_eq!(dev.poll_at(), Some(Instant::from_millis(10)));
        assert!(dev.recv(Instant::from_millis(9)).unwrap().is_none());
        assert!(dev.recv(Instant::from_millis(10)).unwrap().is_some());
        assert!(dev.recv(Instant::from_millis(10)).unwrap().is_none());
        assert_eq!(dev.pending(), 1);
        let sent = dev.sent();
        dev.send(Instant::from_millis(11), &SkBuff::from_frame(&[1, 2, 3])).unwrap();
        assert_eq!(sent.borrow()[0], Frame { at: Instant::from_millis(11), data: vec![1, 2, 3] });
    }
}
