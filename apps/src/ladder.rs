//! Ladder (sequence) diagrams of TCP connections from captured frames.
//!
//! Give it the frames of a capture (ours from `--pcap`, or anyone's from
//! tcpdump) and it draws, per connection, one arrow per segment between the
//! two hosts, labelled with flags, relative seq/ack, length and window, with
//! each side's state (as an observer on the wire infers it from RFC 9293's
//! diagram) at the sides and retransmissions marked. Text for the terminal,
//! SVG for slides.

use stack::wire::ethernet::ETHERTYPE_IPV4;
use stack::wire::ipv4::PROTO_TCP;
use stack::wire::tcp::TCP_HLEN;
use stack::wire::{EthernetFrame, Ipv4Packet, TcpFlags, TcpPacket};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddrV4;

/// One TCP segment seen in the capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Microseconds since the first frame of the capture.
    pub t_us: u64,
    /// True when sent by the connection's initiator (the left column).
    pub from_left: bool,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub len: u32,
    pub win: u16,
    /// Sequence numbers relative to each sender's initial sequence number.
    pub rel_seq: u32,
    pub rel_ack: u32,
    pub retransmission: bool,
    /// Sent, but never arrived (a fault script dropped it).
    pub lost: bool,
    /// Each side's inferred state after this segment: (left, right).
    pub states: (&'static str, &'static str),
}

use stack::wire::tcp::flags::{ACK, FIN, PSH, RST, SYN};

/// A connection: its two ends and its segments in capture order.
#[derive(Clone, Debug)]
pub struct Connection {
    pub left: SocketAddrV4,
    pub right: SocketAddrV4,
    pub segments: Vec<Segment>,
}

/// tcpdump's flag letters: `S`, `S.`, `P.`, `F.`, `R`, `.`.
pub fn flag_text(flags: TcpFlags) -> String {
    let mut s = String::new();
    for (bit, c) in [(SYN, 'S'), (FIN, 'F'), (PSH, 'P'), (RST, 'R')] {
        if flags.has(bit) {
            s.push(c);
        }
    }
    if flags.has(ACK) {
        s.push('.');
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

/// The TCP header fields of one frame, as an observer on the wire reads
/// them: no checksum is checked and any flags go (a scanner's SYN+FIN is
/// drawn too).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TcpSeen {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    /// Payload bytes (inside the IP total length: no Ethernet padding).
    pub len: u32,
    pub win: u16,
}

/// Read an Ethernet/IPv4/TCP frame through `stack::wire`'s views: `None`
/// unless it is IPv4 with a whole header and a total length that fits,
/// carries TCP, is a first fragment, and its data offset fits the segment.
pub fn parse_tcp(frame: &[u8]) -> Option<TcpSeen> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != ETHERTYPE_IPV4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let (hl, total) = (ip.header_len(), ip.total_len());
    if ip.protocol() != PROTO_TCP || total < hl || total > eth.payload().len() {
        return None;
    }
    if ip.frag_offset() != 0 {
        return None; // a later fragment
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    let doff = tcp.header_len();
    if doff < TCP_HLEN || doff > ip.payload().len() {
        return None;
    }
    Some(TcpSeen {
        src: SocketAddrV4::new(ip.src_addr(), tcp.src_port()),
        dst: SocketAddrV4::new(ip.dst_addr(), tcp.dst_port()),
        flags: tcp.flags(),
        seq: tcp.seq_number().0,
        ack: tcp.ack_number().0,
        len: tcp.payload().len() as u32,
        win: tcp.window_len(),
    })
}

/// What an observer on the wire can tell of one side's state.
#[derive(Clone, Copy)]
struct Side {
    state: &'static str,
    isn: Option<u32>,
    /// Highest sequence number sent so far (end of data + SYN/FIN).
    high: Option<u32>,
    fin_seq: Option<u32>,
}

impl Side {
    fn new(state: &'static str) -> Side {
        Side { state, isn: None, high: None, fin_seq: None }
    }
}

/// RFC 9293 §3.3.2 as seen from outside: `me` sent (or received) `flags`.
fn on_send(me: &mut Side, flags: TcpFlags) {
    me.state = match (me.state, flags & (SYN | ACK | FIN | RST)) {
        (_, f) if f.has(RST) => "CLOSED",
        ("CLOSED", SYN) => "SYN_SENT",
        ("LISTEN", f) if f == SYN | ACK => "SYN_RECEIVED",
        ("SYN_SENT", f) if f == SYN | ACK => "SYN_RECEIVED", // simultaneous open
        ("SYN_SENT", ACK) => "ESTABLISHED",
        ("ESTABLISHED", f) if f.has(FIN) => "FIN_WAIT_1",
        ("CLOSE_WAIT", f) if f.has(FIN) => "LAST_ACK",
        ("SYN_RECEIVED", f) if f.has(FIN) => "FIN_WAIT_1",
        (s, _) => s,
    };
}

fn on_receive(me: &mut Side, flags: TcpFlags, ack: u32, peer_fin_seen: bool) {
    let acks_my_fin = me.fin_seq.is_some_and(|f| flags.has(ACK) && ack == f.wrapping_add(1));
    me.state = match me.state {
        _ if flags.has(RST) => "CLOSED",
        "CLOSED" if flags.has(SYN) => "LISTEN", // a server we never saw listen
        "SYN_RECEIVED" if flags.has(ACK) && !flags.has(SYN) => {
            if flags.has(FIN) {
                "CLOSE_WAIT"
            } else {
                "ESTABLISHED"
            }
        }
        "SYN_SENT" if flags.has(SYN | ACK) => "SYN_SENT", // becomes ESTABLISHED when it ACKs
        "ESTABLISHED" if peer_fin_seen => "CLOSE_WAIT",
        "FIN_WAIT_1" if peer_fin_seen && acks_my_fin => "TIME_WAIT",
        "FIN_WAIT_1" if peer_fin_seen => "CLOSING",
        "FIN_WAIT_1" if acks_my_fin => "FIN_WAIT_2",
        "FIN_WAIT_2" if peer_fin_seen => "TIME_WAIT",
        "CLOSING" if acks_my_fin => "TIME_WAIT",
        "LAST_ACK" if acks_my_fin => "CLOSED",
        s => s,
    };
}

/// A frame for a ladder, with what a replay knows beyond the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LadderFrame {
    /// Microseconds (any epoch: the first frame is time 0).
    pub t_us: u64,
    /// The Ethernet frame.
    pub data: Vec<u8>,
    /// Sent, but never arrived: drawn as an arrow that stops short, and the
    /// receiver's state does not move.
    pub lost: bool,
    /// The state of the stack's own end after this frame, from the stack
    /// itself (a replay's trace) rather than inferred from the wire.
    pub stack_state: Option<&'static str>,
    /// The stack sent this frame (else it is the peer's).
    pub stack_sent: bool,
}

/// Group the TCP segments of a capture into connections. `frames` are
/// (timestamp in microseconds, Ethernet frame).
pub fn connections(frames: &[(u64, Vec<u8>)]) -> Vec<Connection> {
    let frames: Vec<LadderFrame> =
        frames.iter().map(|(t, f)| LadderFrame { t_us: *t, data: f.clone(), ..LadderFrame::default() }).collect();
    connections_marked(&frames)
}

/// `connections`, with losses marked and, where known, the stack's own
/// states instead of inferred ones for its end.
pub fn connections_marked(frames: &[LadderFrame]) -> Vec<Connection> {
    let t0 = frames.first().map_or(0, |f| f.t_us);
    let mut conns: Vec<(Connection, Side, Side)> = Vec::new();
    let mut index: HashMap<(SocketAddrV4, SocketAddrV4), usize> = HashMap::new();
    for f in frames {
        let (ts, lost) = (&f.t_us, f.lost);
        let Some(TcpSeen { src, dst, flags, seq, ack, len, win }) = parse_tcp(&f.data) else { continue };
        let key = if src <= dst { (src, dst) } else { (dst, src) };
        let starts_new = (flags & (SYN | ACK)) == SYN
            && index
                .get(&key)
                .is_some_and(|&i| matches!(conns[i].1.state, "CLOSED" | "TIME_WAIT") && conns[i].0.left == src);
        let i = match index.get(&key) {
            Some(&i) if !starts_new => i,
            _ => {
                // The sender of the first segment we see is the left column.
                let right_state = if (flags & (SYN | ACK)) == SYN { "CLOSED" } else { "ESTABLISHED" };
                let left_state = if (flags & (SYN | ACK)) == SYN { "CLOSED" } else { "ESTABLISHED" };
                conns.push((
                    Connection { left: src, right: dst, segments: Vec::new() },
                    Side::new(left_state),
                    Side::new(right_state),
                ));
                index.insert(key, conns.len() - 1);
                conns.len() - 1
            }
        };
        let (conn, left, right) = &mut conns[i];
        let from_left = src == conn.left;
        let (me, peer) = if from_left { (left, right) } else { (right, left) };
        if flags.has(SYN) || me.isn.is_none() {
            me.isn.get_or_insert(seq);
        }
        let end = seq.wrapping_add(len).wrapping_add(u32::from(flags.has(SYN))).wrapping_add(u32::from(flags.has(FIN)));
        let retransmission =
            (len > 0 || flags.intersects(SYN | FIN)) && me.high.is_some_and(|h| (end.wrapping_sub(h) as i32) <= 0);
        // Only what occupies sequence space moves the high mark: a pure ACK
        // that overtook a delayed FIN must not make that FIN look resent.
        let occupies = len > 0 || flags.intersects(SYN | FIN);
        if occupies && me.high.is_none_or(|h| (end.wrapping_sub(h) as i32) > 0) {
            me.high = Some(end);
        }
        if flags.has(FIN) {
            me.fin_seq = Some(seq.wrapping_add(len));
        }
        let fin_now = flags.has(FIN) && !retransmission;
        on_send(me, flags);
        if !lost {
            on_receive(peer, flags, ack, fin_now);
        }
        // The ACK that completes a simultaneous or active open.
        if me.state == "SYN_SENT" && flags.has(ACK) && !flags.has(SYN) {
            me.state = "ESTABLISHED";
        }
        if me.state == "SYN_RECEIVED" && flags.has(ACK) && !flags.has(SYN) && peer.state == "ESTABLISHED" {
            me.state = "ESTABLISHED";
        }
        // The stack's end: the sender of a frame it sent (source MAC), the
        // receiver of one it got; its own word beats the inference.
        if let Some(st) = f.stack_state {
            if f.stack_sent {
                me.state = st;
            } else {
                peer.state = st;
            }
        }
        let rel_seq = seq.wrapping_sub(me.isn.unwrap_or(seq));
        let rel_ack = if flags.has(ACK) { ack.wrapping_sub(peer.isn.unwrap_or(ack)) } else { 0 };
        let states = if from_left { (me.state, peer.state) } else { (peer.state, me.state) };
        conn.segments.push(Segment {
            t_us: ts.saturating_sub(t0),
            from_left,
            flags,
            seq,
            ack,
            len,
            win,
            rel_seq,
            rel_ack,
            retransmission,
            lost,
            states,
        });
    }
    conns.into_iter().map(|(c, _, _)| c).collect()
}

/// The label on an arrow, tcpdump's words: `[S.] seq 0 ack 1 win 64240 len 0`.
pub fn label(s: &Segment) -> String {
    let mut l = format!("[{}] seq {}", flag_text(s.flags), s.rel_seq);
    if s.flags.has(ACK) {
        let _ = write!(l, " ack {}", s.rel_ack);
    }
    let _ = write!(l, " win {}", s.win);
    if s.len > 0 {
        let _ = write!(l, " len {}", s.len);
    }
    if s.retransmission {
        l.push_str(" (retransmission)");
    }
    if s.lost {
        l.push_str(" (lost)");
    }
    l
}

/// A ladder for the terminal.
pub fn render_text(c: &Connection) -> String {
    const MID: usize = 60;
    let mut out = String::new();
    let left = c.left.to_string();
    let right = c.right.to_string();
    let _ = writeln!(out, "{:>12} {:<14}{}{:>w$}", "time", "", left, right, w = MID + 14 - left.len());
    let mut prev = ("", "");
    for s in &c.segments {
        let text = label(s);
        // A lost segment's arrow stops short of the other side: `--X |`.
        let dashes = MID.saturating_sub(text.len() + 6).max(2);
        let body = match (s.from_left, s.lost) {
            (true, false) => format!("|-- {} {}>|", text, "-".repeat(dashes)),
            (true, true) => format!("|-- {} {}X |", text, "-".repeat(dashes.saturating_sub(2))),
            (false, false) => format!("|<{} {} --|", "-".repeat(dashes), text),
            (false, true) => format!("| X{} {} --|", "-".repeat(dashes.saturating_sub(2)), text),
        };
        let lstate = if s.states.0 != prev.0 { s.states.0 } else { "" };
        let rstate = if s.states.1 != prev.1 { s.states.1 } else { "" };
        let _ =
            writeln!(out, "{:>9}.{:03} {:<13} {} {}", s.t_us / 1_000_000, (s.t_us / 1000) % 1000, lstate, body, rstate);
        prev = s.states;
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// All connections, one below the other, as one SVG.
pub fn render_svg(conns: &[Connection]) -> String {
    let (w, row, top) = (760.0_f64, 34.0_f64, 70.0_f64);
    let (xl, xr) = (170.0_f64, 590.0_f64);
    let rows: usize = conns.iter().map(|c| c.segments.len() + 3).sum();
    let h = top + row * rows.saturating_sub(2) as f64;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="monospace" font-size="12">"#
    );
    let _ = writeln!(
        o,
        r##"<defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="black"/></marker><marker id="arrowred" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#c00"/></marker></defs>"##
    );
    let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let mut y = top;
    for c in conns {
        let y0 = y - 30.0;
        let _ = writeln!(o, r#"<text x="{xl}" y="{y0}" text-anchor="middle" font-weight="bold">{}</text>"#, c.left);
        let _ = writeln!(o, r#"<text x="{xr}" y="{y0}" text-anchor="middle" font-weight="bold">{}</text>"#, c.right);
        let y_end = y + row * (c.segments.len() as f64 + 0.5);
        for x in [xl, xr] {
            let _ = writeln!(o, r##"<line x1="{x}" y1="{}" x2="{x}" y2="{y_end}" stroke="#888"/>"##, y0 + 8.0);
        }
        let mut prev = ("", "");
        for s in &c.segments {
            let (x1, x2) = if s.from_left { (xl, xr) } else { (xr, xl) };
            let (color, marker) = if s.retransmission || s.lost { ("#c00", "arrowred") } else { ("black", "arrow") };
            let dy = row * 0.6;
            if s.lost {
                // Dashed, stopping at three quarters of the way, with an X.
                let (xe, ye) = (x1 + (x2 - x1) * 0.75, y + dy * 0.75);
                let _ = writeln!(
                    o,
                    r#"<line x1="{x1}" y1="{y}" x2="{xe}" y2="{ye}" stroke="{color}" stroke-width="1.3" stroke-dasharray="6,4"/>"#
                );
                let _ = writeln!(
                    o,
                    r#"<path d="M{},{} l12,12 M{},{} l-12,12" stroke="{color}" stroke-width="2"/>"#,
                    xe - 6.0,
                    ye - 6.0,
                    xe + 6.0,
                    ye - 6.0
                );
            } else {
                let _ = writeln!(
                    o,
                    r#"<line x1="{x1}" y1="{y}" x2="{x2}" y2="{}" stroke="{color}" stroke-width="1.3" marker-end="url(#{marker})"/>"#,
                    y + dy
                );
            }
            let angle = (dy / (x2 - x1)).atan().to_degrees();
            let (mx, my) = ((xl + xr) / 2.0, y + dy / 2.0 - 4.0);
            let _ = writeln!(
                o,
                r#"<text x="{mx}" y="{my}" text-anchor="middle" fill="{color}" transform="rotate({angle:.2} {mx} {my})">{}</text>"#,
                xml_escape(&label(s))
            );
            let _ = writeln!(
                o,
                r##"<text x="8" y="{}" fill="#666">{}.{:06}</text>"##,
                y + dy,
                s.t_us / 1_000_000,
                s.t_us % 1_000_000
            );
            if s.states.0 != prev.0 {
                let _ = writeln!(
                    o,
                    r##"<text x="{}" y="{}" text-anchor="end" fill="#036">{}</text>"##,
                    xl - 6.0,
                    y + dy,
                    s.states.0
                );
            }
            if s.states.1 != prev.1 {
                let _ = writeln!(o, r##"<text x="{}" y="{}" fill="#036">{}</text>"##, xr + 6.0, y + dy, s.states.1);
            }
            prev = s.states;
            y += row;
        }
        y += row * 3.0;
    }
    o.push_str("</svg>\n");
    o
}

// -------------------------------------------------------- live recording

/// Bytes of frames a `Recorder` keeps at most; later frames are not
/// recorded: a long run must not eat memory.
pub const RECORD_LIMIT: usize = 64 * 1024 * 1024;

/// `synack up --ladder FILE.svg`: keeps the TCP frames in and out of a live
/// run (a `Tracer` on the loop's device) and draws them at exit.
#[derive(Clone, Default)]
pub struct Recorder {
    frames: std::rc::Rc<std::cell::RefCell<Recorded>>,
}

/// (timestamp in microseconds, frame) in order, and their total bytes.
type Recorded = (Vec<(u64, Vec<u8>)>, usize);

impl Recorder {
    /// Wrap `dev` in a tracer that records its TCP frames.
    pub fn install(dev: &mut Box<dyn device::Device>) -> Recorder {
        let rec = Recorder::default();
        let r = rec.clone();
        device::wrap_device(dev, move |inner| {
            Box::new(device::Tracer::new(inner, move |_dir, now: stack::Instant, frame: &[u8]| r.record(now, frame)))
        });
        rec
    }

    /// Keep one frame if it is TCP and the limit allows.
    pub fn record(&self, now: stack::Instant, frame: &[u8]) {
        if parse_tcp(frame).is_none() {
            return;
        }
        let mut f = self.frames.borrow_mut();
        if f.1 + frame.len() > RECORD_LIMIT {
            return;
        }
        f.1 += frame.len();
        f.0.push((now.total_micros(), frame.to_vec()));
    }

    pub fn connections(&self) -> Vec<Connection> {
        connections(&self.frames.borrow().0)
    }

    /// Draw what was recorded; returns the number of connections.
    pub fn write_svg(&self, path: &std::path::Path) -> std::io::Result<usize> {
        let conns = self.connections();
        std::fs::write(path, render_svg(&conns))?;
        Ok(conns.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::tcp::SeqNumber;
    use stack::wire::TcpRepr;

    /// Build a frame 10.0.0.x:port -> 10.0.0.y:port.
    fn seg(from_client: bool, flags: TcpFlags, seq: u32, ack: u32, len: usize) -> Vec<u8> {
        let (c, s): (SocketAddrV4, SocketAddrV4) = ("10.0.0.1:51234".parse().unwrap(), "10.0.0.2:23".parse().unwrap());
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        let tcp = TcpRepr::new(0, 0, SeqNumber(seq), Some(SeqNumber(ack)), flags, 64240);
        stack::wire::frame::tcp_frame(src, dst, &tcp, &vec![b'x'; len])
    }

    #[test]
    fn handshake_data_retransmission_close() {
        let c = 0xffff_fff0u32; // crosses 2^32
        let s = 1000u32;
        let frames: Vec<(u64, Vec<u8>)> = vec![
            seg(true, SYN, c, 0, 0),
            seg(false, SYN | ACK, s, c.wrapping_add(1), 0),
            seg(true, ACK, c.wrapping_add(1), s + 1, 0),
            seg(true, PSH | ACK, c.wrapping_add(1), s + 1, 5),
            seg(true, PSH | ACK, c.wrapping_add(1), s + 1, 5),
            seg(false, ACK, s + 1, c.wrapping_add(6), 0),
            seg(true, FIN | ACK, c.wrapping_add(6), s + 1, 0),
            seg(false, FIN | ACK, s + 1, c.wrapping_add(7), 0),
            seg(true, ACK, c.wrapping_add(7), s + 2, 0),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, f)| (1_000_000 + i as u64 * 1000, f))
        .collect();
        let conns = connections(&frames);
        assert_eq!(conns.len(), 1);
        let segs = &conns[0].segments;
        assert_eq!(label(&segs[0]), "[S] seq 0 win 64240");
        assert_eq!(label(&segs[1]), "[S.] seq 0 ack 1 win 64240");
        assert_eq!(label(&segs[3]), "[P.] seq 1 ack 1 win 64240 len 5");
        assert!(segs[4].retransmission && !segs[3].retransmission);
        let states: Vec<_> = segs.iter().map(|s| s.states).collect();
        assert_eq!(states[0], ("SYN_SENT", "LISTEN"));
        assert_eq!(states[1], ("SYN_SENT", "SYN_RECEIVED"));
        assert_eq!(states[2], ("ESTABLISHED", "ESTABLISHED"));
        assert_eq!(states[6], ("FIN_WAIT_1", "CLOSE_WAIT"));
        assert_eq!(states[7], ("TIME_WAIT", "LAST_ACK"));
        assert_eq!(states[8], ("TIME_WAIT", "CLOSED"));
        let text = render_text(&conns[0]);
        assert!(text.contains("10.0.0.1:51234") && text.contains("(retransmission)"), "{text}");
        let svg = render_svg(&conns);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("marker-end").count(), 9);
    }

    /// A lost segment stops short and moves no state; the stack's own
    /// state beats the inference; a pure ACK that overtook a FIN does not
    /// make the FIN a retransmission.
    #[test]
    fn losses_and_the_stacks_own_states() {
        let (c, s) = (100u32, 5000u32);
        let f = |from_client: bool, flags, seq, ack, len, lost, state: Option<&'static str>| LadderFrame {
            t_us: 0,
            data: seg(from_client, flags, seq, ack, len),
            lost,
            stack_state: state,
            stack_sent: !from_client,
        };
        let frames = vec![
            f(true, SYN, c, 0, 0, false, Some("SYN_RECEIVED")),
            f(false, SYN | ACK, s, c + 1, 0, false, Some("SYN_RECEIVED")),
            f(true, ACK, c + 1, s + 1, 0, false, Some("ESTABLISHED")),
            f(false, PSH | ACK, s + 1, c + 1, 5, true, Some("ESTABLISHED")),
            f(false, PSH | ACK, s + 1, c + 1, 5, false, Some("ESTABLISHED")),
            // The client's ACK after its FIN arrives before the FIN.
            f(true, ACK, c + 2, s + 6, 0, false, Some("ESTABLISHED")),
            f(true, FIN | ACK, c + 1, s + 6, 0, false, Some("CLOSE_WAIT")),
        ];
        let conns = connections_marked(&frames);
        let segs = &conns[0].segments;
        assert_eq!(segs[0].states.1, "SYN_RECEIVED", "the stack's word, not LISTEN");
        assert!(segs[3].lost && !segs[3].retransmission);
        assert!(segs[4].retransmission && !segs[4].lost);
        assert!(!segs[6].retransmission, "a delayed FIN is not a retransmission");
        assert_eq!(segs[6].states.1, "CLOSE_WAIT");
        let text = render_text(&conns[0]);
        assert!(text.contains("(lost) ") && text.contains("| X"), "{text}");
        let svg = render_svg(&conns);
        assert!(svg.contains("stroke-dasharray") && svg.contains("(lost)"), "{svg}");
    }

    #[test]
    fn garbage_is_ignored() {
        let frames = vec![(0, vec![]), (1, vec![0xff; 13]), (2, vec![0; 60])];
        assert!(connections(&frames).is_empty());
    }
}
