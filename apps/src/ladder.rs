//! Ladder (sequence) diagrams of TCP connections from captured frames.
//!
//! Give it the frames of a capture (ours from `--pcap`, or anyone's from
//! tcpdump) and it draws, per connection, one arrow per segment between the
//! two hosts, labelled with flags, relative seq/ack, length and window, with
//! each side's state (as an observer on the wire infers it from RFC 9293's
//! diagram) at the sides and retransmissions marked. Text for the terminal,
//! SVG for slides.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};

/// One TCP segment seen in the capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Microseconds since the first frame of the capture.
    pub t_us: u64,
    /// True when sent by the connection's initiator (the left column).
    pub from_left: bool,
    pub flags: u8,
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

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// A connection: its two ends and its segments in capture order.
#[derive(Clone, Debug)]
pub struct Connection {
    pub left: SocketAddrV4,
    pub right: SocketAddrV4,
    pub segments: Vec<Segment>,
}

/// tcpdump's flag letters: `S`, `S.`, `P.`, `F.`, `R`, `.`.
pub fn flag_text(flags: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(SYN, 'S'), (FIN, 'F'), (PSH, 'P'), (RST, 'R')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    if flags & ACK != 0 {
        s.push('.');
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

/// Parse an Ethernet/IPv4/TCP frame into (src, dst, flags, seq, ack, len, win).
pub(crate) fn parse_tcp(frame: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4, u8, u32, u32, u32, u16)> {
    if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &frame[14..];
    let ihl = (ip[0] & 0x0f) as usize * 4;
    let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    if ip[0] >> 4 != 4 || ip[9] != 6 || ihl < 20 || total < ihl || total > ip.len() {
        return None;
    }
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0 {
        return None; // a later fragment
    }
    let tcp = &ip[ihl..total];
    if tcp.len() < 20 {
        return None;
    }
    let doff = (tcp[12] >> 4) as usize * 4;
    if doff < 20 || doff > tcp.len() {
        return None;
    }
    let src = SocketAddrV4::new(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]), u16::from_be_bytes([tcp[0], tcp[1]]));
    let dst = SocketAddrV4::new(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]), u16::from_be_bytes([tcp[2], tcp[3]]));
    let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
    let ack = u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]);
    let win = u16::from_be_bytes([tcp[14], tcp[15]]);
    Some((src, dst, tcp[13], seq, ack, (tcp.len() - doff) as u32, win))
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
fn on_send(me: &mut Side, flags: u8) {
    me.state = match (me.state, flags & (SYN | ACK | FIN | RST)) {
        (_, f) if f & RST != 0 => "CLOSED",
        ("CLOSED", SYN) => "SYN_SENT",
        ("LISTEN", f) if f == SYN | ACK => "SYN_RECEIVED",
        ("SYN_SENT", f) if f == SYN | ACK => "SYN_RECEIVED", // simultaneous open
        ("SYN_SENT", ACK) => "ESTABLISHED",
        ("ESTABLISHED", f) if f & FIN != 0 => "FIN_WAIT_1",
        ("CLOSE_WAIT", f) if f & FIN != 0 => "LAST_ACK",
        ("SYN_RECEIVED", f) if f & FIN != 0 => "FIN_WAIT_1",
        (s, _) => s,
    };
}

fn on_receive(me: &mut Side, flags: u8, ack: u32, peer_fin_seen: bool) {
    let acks_my_fin = me.fin_seq.is_some_and(|f| flags & ACK != 0 && ack == f.wrapping_add(1));
    me.state = match me.state {
        _ if flags & RST != 0 => "CLOSED",
        "CLOSED" if flags & SYN != 0 => "LISTEN", // a server we never saw listen
        "SYN_RECEIVED" if flags & ACK != 0 && flags & SYN == 0 => {
            if flags & FIN != 0 {
                "CLOSE_WAIT"
            } else {
                "ESTABLISHED"
            }
        }
        "SYN_SENT" if flags & (SYN | ACK) == SYN | ACK => "SYN_SENT", // becomes ESTABLISHED when it ACKs
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
        let Some((src, dst, flags, seq, ack, len, win)) = parse_tcp(&f.data) else { continue };
        let key = if src <= dst { (src, dst) } else { (dst, src) };
        let starts_new = flags & (SYN | ACK) == SYN
            && index
                .get(&key)
                .is_some_and(|&i| matches!(conns[i].1.state, "CLOSED" | "TIME_WAIT") && conns[i].0.left == src);
        let i = match index.get(&key) {
            Some(&i) if !starts_new => i,
            _ => {
                // The sender of the first segment we see is the left column.
                let right_state = if flags & (SYN | ACK) == SYN { "CLOSED" } else { "ESTABLISHED" };
                let left_state = if flags & (SYN | ACK) == SYN { "CLOSED" } else { "ESTABLISHED" };
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
        if flags & SYN != 0 || me.isn.is_none() {
            me.isn.get_or_insert(seq);
        }
        let end =
            seq.wrapping_add(len).wrapping_add(u32::from(flags & SYN != 0)).wrapping_add(u32::from(flags & FIN != 0));
        let retransmission =
            (len > 0 || flags & (SYN | FIN) != 0) && me.high.is_some_and(|h| (end.wrapping_sub(h) as i32) <= 0);
        // Only what occupies sequence space moves the high mark: a pure ACK
        // that overtook a delayed FIN must not make that FIN look resent.
        let occupies = len > 0 || flags & (SYN | FIN) != 0;
        if occupies && me.high.is_none_or(|h| (end.wrapping_sub(h) as i32) > 0) {
            me.high = Some(end);
        }
        if flags & FIN != 0 {
            me.fin_seq = Some(seq.wrapping_add(len));
        }
        let fin_now = flags & FIN != 0 && !retransmission;
        on_send(me, flags);
        if !lost {
            on_receive(peer, flags, ack, fin_now);
        }
        // The ACK that completes a simultaneous or active open.
        if me.state == "SYN_SENT" && flags & ACK != 0 && flags & SYN == 0 {
            me.state = "ESTABLISHED";
        }
        if me.state == "SYN_RECEIVED" && flags & ACK != 0 && flags & SYN == 0 && peer.state == "ESTABLISHED" {
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
        let rel_ack = if flags & ACK != 0 { ack.wrapping_sub(peer.isn.unwrap_or(ack)) } else { 0 };
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
    if s.flags & ACK != 0 {
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

    /// Build a frame 10.0.0.x:port -> 10.0.0.y:port.
    fn seg(from_client: bool, flags: u8, seq: u32, ack: u32, len: usize) -> Vec<u8> {
        let (s, d, sp, dp) = if from_client { (1, 2, 51234u16, 23u16) } else { (2, 1, 23, 51234) };
        let mut f = vec![0u8; 14];
        f[12] = 8;
        let total = 40 + len;
        let mut ip =
            vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, s, 10, 0, 0, d];
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&sp.to_be_bytes());
        tcp[2..4].copy_from_slice(&dp.to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&ack.to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = flags;
        tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
        ip.extend_from_slice(&tcp);
        ip.extend(std::iter::repeat_n(b'x', len));
        f.extend_from_slice(&ip);
        f
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
