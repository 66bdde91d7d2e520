//! The four plots as standalone SVG, written by hand (no crate, no
//! script, no external asset): a frame with axes, ticks at 1-2-5 steps
//! labelled in ms/s and B/KB/MB, a title naming the connection, a legend,
//! and the data clipped to the plot area.
//!
//! - **tseq**: tcptrace's time-sequence graph (Shepard 1991; Stevens, TCP/IP
//!   Illustrated vol. 1): each data segment a vertical bar from its first
//!   to its last byte (retransmissions red, marked R), the ACK line and the
//!   receive window's edge (ACK + window) as steps, SACK blocks as short
//!   bars beside them, zero-window probes as diamonds (P). The direction
//!   drawn is synack's sending, or the peer's when synack sent no data.
//! - **cwnd**: cwnd, ssthresh (dashed, hidden while "infinite") and pipe
//!   (RFC 6675; bytes in flight), fast recovery and loss (RTO) episodes
//!   shaded (Linux's `icsk_ca_state`), CUBIC's W_max as a horizontal mark
//!   and epoch start + K as a vertical one (RFC 9438 §4.2).
//! - **rtt**: RTT samples (dots), SRTT, RTTVAR, RTO (steps), each
//!   retransmission timeout marked (RFC 6298 §5).
//! - **buffers**: the receive window we offer, Recv-Q, Send-Q, the
//!   out-of-order queue and the peer's window (RFC 9293 §3.8.6).

use super::{CaState, ConnHistory, PlotKind, Point};
use stack::tcp::ProbeKind;
use std::fmt::Write;

/// The picture's size and margins (user units; the SVG scales).
const WIDTH: f64 = 1180.0;
const HEIGHT: f64 = 540.0;
const LEFT: f64 = 96.0;
/// The legend sits in the right margin, clear of the data.
const RIGHT: f64 = 244.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 52.0;
/// Marks with a text label (R, P, W_max, K, RTO) drawn at most: beyond
/// it the marks stay and their labels go, so a plot stays readable.
const MAX_LABELS: usize = 60;

/// What a y axis counts.
#[derive(Copy, Clone, PartialEq)]
enum Unit {
    Bytes,
    Millis,
}

/// A chart being drawn: the frame's scales and the SVG so far.
struct Chart {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    unit: Unit,
    body: String,
    legend: Vec<(String, &'static str, &'static str)>,
    labels: usize,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A tick step of 1, 2 or 5 times a power of ten giving about `n` ticks.
fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let f = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    f * mag
}

/// `v` with at most 3 decimals, trailing zeros cut.
fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A time axis label: seconds given, ms below 2 s of span.
fn time_label(s: f64, span: f64) -> String {
    if span < 2.0 {
        format!("{} ms", num(s * 1000.0))
    } else {
        format!("{} s", num(s))
    }
}

/// A byte count label in B, KB or MB (1024s) by the axis's span.
fn bytes_label(v: f64, span: f64) -> String {
    if span >= 4.0 * 1024.0 * 1024.0 {
        format!("{} MB", num(v / (1024.0 * 1024.0)))
    } else if span >= 4.0 * 1024.0 {
        format!("{} KB", num(v / 1024.0))
    } else {
        format!("{} B", num(v))
    }
}

fn millis_label(v: f64, span: f64) -> String {
    if span >= 4000.0 {
        format!("{} s", num(v / 1000.0))
    } else {
        format!("{} ms", num(v))
    }
}

impl Chart {
    /// A chart of `x0` to `x1` seconds and y from `y0` to `y1`.
    fn new(x0: f64, x1: f64, y0: f64, y1: f64, unit: Unit) -> Chart {
        let x1 = if x1 > x0 { x1 } else { x0 + 0.001 };
        let y1 = if y1 > y0 { y1 } else { y0 + 1.0 };
        Chart { x0, x1, y0, y1, unit, body: String::new(), legend: Vec::new(), labels: 0 }
    }
    fn x(&self, v: f64) -> f64 {
        LEFT + (v - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)
    }
    fn y(&self, v: f64) -> f64 {
        HEIGHT - BOTTOM - (v - self.y0) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)
    }
    fn legend(&mut self, name: &str, color: &'static str, dash: &'static str) {
        self.legend.push((name.into(), color, dash));
    }
    /// May another label be drawn?
    fn label_ok(&mut self) -> bool {
        self.labels += 1;
        self.labels <= MAX_LABELS
    }

    /// A polyline through `pts` (x in s, y in the axis unit); a NaN y
    /// breaks it.
    fn line(&mut self, pts: &[(f64, f64)], color: &str, width: f64, dash: &str) {
        let mut d = String::new();
        let mut pen_up = true;
        for &(x, y) in pts {
            if y.is_nan() {
                pen_up = true;
                continue;
            }
            let _ = write!(d, "{}{:.1},{:.1}", if pen_up { "M" } else { "L" }, self.x(x), self.y(y));
            pen_up = false;
        }
        if d.is_empty() {
            return;
        }
        let dash = if dash.is_empty() { String::new() } else { format!(" stroke-dasharray=\"{dash}\"") };
        let _ = writeln!(
            self.body,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\"{dash} stroke-linejoin=\"round\"/>"
        );
    }

    /// A step line: each value holds until the next point.
    fn step(&mut self, pts: &[(f64, f64)], color: &str, width: f64, dash: &str) {
        let mut v = Vec::with_capacity(pts.len() * 2);
        for (i, &(x, y)) in pts.iter().enumerate() {
            if i > 0 {
                let prev = pts[i - 1].1;
                if !prev.is_nan() && !y.is_nan() {
                    v.push((x, prev));
                } else {
                    v.push((x, f64::NAN));
                }
            }
            v.push((x, y));
        }
        self.line(&v, color, width, dash);
    }

    fn vline(&mut self, x: f64, y0: f64, y1: f64, color: &str, width: f64) {
        let _ = writeln!(
            self.body,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"{width}\"/>",
            self.x(x),
            self.y(y0),
            self.x(x),
            self.y(y1)
        );
    }

    /// A vertical mark over the whole height, dashed.
    fn vmark(&mut self, x: f64, color: &str, label: &str) {
        let px = self.x(x);
        let _ = writeln!(
            self.body,
            "<line x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"1\" stroke-dasharray=\"4 3\"/>",
            HEIGHT - BOTTOM
        );
        if !label.is_empty() && self.label_ok() {
            self.text(px + 3.0, TOP + 12.0, label, color, "start");
        }
    }

    /// A band over the whole height from `xa` to `xb`.
    fn band(&mut self, xa: f64, xb: f64, color: &str) {
        let (a, b) = (self.x(xa), self.x(xb));
        let _ = writeln!(
            self.body,
            "<rect x=\"{a:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\" fill-opacity=\"0.45\"/>",
            (b - a).max(0.5),
            HEIGHT - TOP - BOTTOM
        );
    }

    fn dot(&mut self, x: f64, y: f64, color: &str, r: f64) {
        let _ =
            writeln!(self.body, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" fill=\"{color}\"/>", self.x(x), self.y(y));
    }

    fn diamond(&mut self, x: f64, y: f64, color: &str) {
        let (px, py) = (self.x(x), self.y(y));
        let _ = writeln!(
            self.body,
            "<path d=\"M{:.1},{py:.1}L{px:.1},{:.1}L{:.1},{py:.1}L{px:.1},{:.1}Z\" fill=\"{color}\"/>",
            px - 4.0,
            py - 4.0,
            px + 4.0,
            py + 4.0
        );
    }

    /// Text at picture coordinates.
    fn text(&mut self, px: f64, py: f64, s: &str, color: &str, anchor: &str) {
        let _ = writeln!(
            self.body,
            "<text x=\"{px:.1}\" y=\"{py:.1}\" fill=\"{color}\" text-anchor=\"{anchor}\" font-size=\"11\">{}</text>",
            esc(s)
        );
    }

    /// Text at data coordinates, above the point.
    fn label_at(&mut self, x: f64, y: f64, s: &str, color: &str) {
        if self.label_ok() {
            let (px, py) = (self.x(x), self.y(y) - 4.0);
            self.text(px, py, s, color, "middle");
        }
    }

    /// The whole picture: frame, grid, ticks, titles, data, legend.
    fn finish(self, title: &str, xtitle: &str, ytitle: &str, clip: &str) -> String {
        let mut s = String::with_capacity(self.body.len() + 4096);
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\">"
        );
        let _ = writeln!(s, "<title>{}</title>", esc(title));
        let _ = writeln!(s, "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\"/>");
        let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let _ = writeln!(
            s,
            "<defs><clipPath id=\"{clip}\"><rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\"/></clipPath></defs>"
        );
        // Grid and ticks.
        let xspan = self.x1 - self.x0;
        let xstep = nice_step(xspan, 8.0);
        let mut t = (self.x0 / xstep).ceil() * xstep;
        while t <= self.x1 + xspan * 0.0001 {
            let px = self.x(t);
            let _ = writeln!(
                s,
                "<line x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#e4e4e4\"/>",
                HEIGHT - BOTTOM + 4.0
            );
            let _ = writeln!(
                s,
                "<text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                HEIGHT - BOTTOM + 17.0,
                time_label(t, xspan)
            );
            t += xstep;
        }
        let span = self.y1 - self.y0;
        // Steps of 1-2-5 in the unit the labels use (KB: 256 KB, not 195.3).
        let div = match self.unit {
            Unit::Bytes if span >= 4.0 * 1024.0 * 1024.0 => 1024.0 * 1024.0,
            Unit::Bytes if span >= 4.0 * 1024.0 => 1024.0,
            Unit::Millis if span >= 4000.0 => 1000.0,
            _ => 1.0,
        };
        let ystep = nice_step(span / div, 6.0) * div;
        let mut v = (self.y0 / ystep).ceil() * ystep;
        while v <= self.y1 * 1.0001 + f64::EPSILON {
            let py = self.y(v);
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"#e4e4e4\"/>",
                LEFT - 4.0,
                WIDTH - RIGHT
            );
            let label = match self.unit {
                Unit::Bytes => bytes_label(v, span),
                Unit::Millis => millis_label(v, span),
            };
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\">{label}</text>",
                LEFT - 7.0,
                py + 4.0
            );
            v += ystep;
        }
        let _ = writeln!(
            s,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#444\"/>"
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{}</text>",
            LEFT + pw / 2.0,
            esc(title)
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\">{}</text>",
            LEFT + pw / 2.0,
            HEIGHT - 12.0,
            esc(xtitle)
        );
        let _ = writeln!(
            s,
            "<text x=\"16\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 16 {:.1})\">{}</text>",
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            esc(ytitle)
        );
        let _ = writeln!(s, "<g clip-path=\"url(#{clip})\">");
        s.push_str(&self.body);
        s.push_str("</g>\n");
        // The legend, in the right margin.
        if !self.legend.is_empty() {
            let x0 = WIDTH - RIGHT + 12.0;
            let w = RIGHT - 20.0;
            let h = 8.0 + 16.0 * self.legend.len() as f64;
            let _ = writeln!(
                s,
                "<g class=\"legend\"><rect x=\"{x0:.1}\" y=\"{TOP}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"white\" stroke=\"#999\"/>"
            );
            for (i, (name, color, dash)) in self.legend.iter().enumerate() {
                let y = TOP + 16.0 + 16.0 * i as f64;
                let dash = if dash.is_empty() { String::new() } else { format!(" stroke-dasharray=\"{dash}\"") };
                let _ = writeln!(
                    s,
                    "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"3\"{dash}/>",
                    x0 + 6.0,
                    y - 4.0,
                    x0 + 30.0,
                    y - 4.0
                );
                let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{y:.1}\" font-size=\"11\">{}</text>", x0 + 36.0, esc(name));
            }
            s.push_str("</g>\n");
        }
        s.push_str("</svg>\n");
        s
    }
}

/// Seconds since the connection's first point.
fn secs(h: &ConnHistory, p: &Point) -> f64 {
    let t0 = h.first().map_or(0, |t| t.total_micros());
    p.at.total_micros().saturating_sub(t0) as f64 / 1e6
}

/// The span of the whole history in seconds.
fn span(h: &ConnHistory) -> f64 {
    match (h.first(), h.last()) {
        (Some(a), Some(b)) => b.total_micros().saturating_sub(a.total_micros()) as f64 / 1e6,
        _ => 0.0,
    }
}

/// What one picture shows: a time window (seconds since the connection's
/// first point) and its points, with the one before it, so that step lines
/// come in from the left edge.
struct View<'a> {
    h: &'a ConnHistory,
    pts: &'a [Point],
    x0: f64,
    x1: f64,
}

impl View<'_> {
    fn width(&self) -> f64 {
        self.x1 - self.x0
    }
}

/// Draw one plot of one connection as a standalone SVG document.
pub fn render_svg(kind: PlotKind, h: &ConnHistory) -> String {
    render_svg_window(kind, h, None)
}

/// `render_svg` of the time window `from`..`to` (seconds since the
/// connection's first point; clamped to the history): a zoom, as
/// `synack plot --from --to` draws it.
pub fn render_svg_window(kind: PlotKind, h: &ConnHistory, window: Option<(f64, f64)>) -> String {
    let all = h.points();
    let (x0, x1) = match window {
        Some((a, b)) if b > a => (a.max(0.0), b.min(span(h)).max(a.max(0.0) + 0.001)),
        _ => (0.0, span(h)),
    };
    let start = all.partition_point(|p| secs(h, p) < x0).saturating_sub(1);
    let end = all.partition_point(|p| secs(h, p) <= x1);
    let v = View { h, pts: &all[start..end.max(start)], x0, x1 };
    let what = match kind {
        PlotKind::TimeSeq => "time-sequence graph",
        PlotKind::Cwnd => "cwnd, ssthresh and pipe",
        PlotKind::Rtt => "RTT, SRTT, RTTVAR and RTO",
        PlotKind::Buffers => "windows and queues",
    };
    let title = format!("conn {}  {} \u{2194} {}: {what}", h.id, h.local, h.remote);
    let clip = format!("plot-{}-{}", kind.name(), h.id);
    let (chart, ytitle) = match kind {
        PlotKind::TimeSeq => tseq(&v),
        PlotKind::Cwnd => cwnd(&v),
        PlotKind::Rtt => rtt(&v),
        PlotKind::Buffers => buffers(&v),
    };
    chart.finish(&title, "time since the connection's first segment", &ytitle, &clip)
}

fn tseq(v: &View) -> (Chart, String) {
    let (h, pts) = (v.h, v.pts);
    // The direction from the whole history, whatever the window.
    let sent: u64 = h.points().iter().filter(|p| p.kind == ProbeKind::Tx).map(|p| u64::from(p.len)).sum();
    let rcvd: u64 = h.points().iter().filter(|p| p.kind == ProbeKind::Rx).map(|p| u64::from(p.len)).sum();
    // The direction drawn: synack's data, as the other plots are about
    // its sending; the peer's only when synack sent none (a discard server).
    let (data, acks, base_data) = if sent > 0 || rcvd == 0 {
        (ProbeKind::Tx, ProbeKind::Rx, h.iss)
    } else {
        (ProbeKind::Rx, ProbeKind::Tx, h.irs)
    };
    let rel = |s: u32| s.wrapping_sub(base_data) as i32 as f64;
    let (mut ymin, mut ymax): (f64, f64) = (f64::MAX, 1.0);
    let mut segs = Vec::new();
    let mut high = f64::MIN;
    for p in pts.iter().filter(|p| p.kind == data) {
        let syn_fin = p.flags & 0x03 != 0;
        if p.len == 0 && !syn_fin && !p.zero_window_probe {
            continue;
        }
        let s = rel(p.seq);
        let e = s + f64::from(p.len) + if syn_fin { 1.0 } else { 0.0 };
        // Our retransmissions the stack marks; the peer's, those below
        // what it had already sent.
        let rtx = if data == ProbeKind::Tx { p.retrans } else { e <= high && p.len > 0 };
        high = high.max(e);
        ymax = ymax.max(e);
        ymin = ymin.min(s);
        segs.push((secs(h, p), s, e, rtx, p.zero_window_probe));
    }
    let mut ack_line = Vec::new();
    let mut win_line = Vec::new();
    let mut sacks = Vec::new();
    let mut wmax: f64 = 0.0;
    for p in pts.iter().filter(|p| p.kind == acks && p.flags & 0x10 != 0) {
        let t = secs(h, p);
        let a = rel(p.ack);
        if a < 0.0 {
            continue;
        }
        ack_line.push((t, a));
        win_line.push((t, a + f64::from(p.win)));
        ymax = ymax.max(a);
        ymin = ymin.min(a);
        wmax = wmax.max(a + f64::from(p.win));
        for b in &p.sack[..p.nsack as usize] {
            sacks.push((t, rel(b.0), rel(b.1)));
        }
    }
    // The whole run starts at 0; a zoom at the lowest sequence number in it.
    let ymin = if v.x0 > 0.0 && ymin < ymax { ymin } else { 0.0 };
    // The window's edge may run far above the data (a large receive
    // buffer): the axis follows the data then, and the edge leaves the top.
    let d = ymax - ymin;
    let ymax = if wmax - ymin <= 1.5 * d { ymax.max(wmax) } else { ymax + 0.25 * d };
    let mut c = Chart::new(v.x0, v.x1, ymin, ymax + 0.04 * (ymax - ymin), Unit::Bytes);
    c.step(&win_line, "#d9a400", 1.2, "");
    c.step(&ack_line, "#2a9d3a", 1.5, "");
    let dx = v.width() * 0.002;
    for &(t, s, e) in &sacks {
        c.vline(t + dx, s, e, "#8e44ad", 2.5);
    }
    for &(t, s, e, rtx, zwp) in &segs {
        if zwp {
            c.diamond(t, s, "#8e44ad");
            c.label_at(t, s + 0.0, "P", "#8e44ad");
            continue;
        }
        c.vline(t, s, e, if rtx { "#d62728" } else { "#1f3f99" }, if rtx { 2.0 } else { 1.2 });
        if rtx {
            c.label_at(t, e, "R", "#d62728");
        }
    }
    let who = if data == ProbeKind::Tx { "sent by synack" } else { "received by synack" };
    c.legend(&format!("segments {who}"), "#1f3f99", "");
    c.legend("retransmissions (R)", "#d62728", "");
    c.legend("ACK", "#2a9d3a", "");
    c.legend("window edge (ACK + window)", "#d9a400", "");
    c.legend("SACK blocks", "#8e44ad", "");
    if segs.iter().any(|s| s.4) {
        c.legend("zero-window probes (P)", "#8e44ad", "2 2");
    }
    let base = if data == ProbeKind::Tx { "ISS" } else { "IRS" };
    (c, format!("sequence number (relative to {base})"))
}

fn cwnd(v: &View) -> (Chart, String) {
    let (h, pts) = (v.h, v.pts);
    let t0 = h.first().map_or(0, |t| t.total_micros());
    let w = v.width();
    let mut ymax: f64 = 1.0;
    let (mut cw, mut ss, mut fl) = (Vec::new(), Vec::new(), Vec::new());
    for p in pts {
        let t = secs(h, p);
        cw.push((t, f64::from(p.cwnd)));
        fl.push((t, f64::from(p.in_flight)));
        let s = p.ssthresh_known().map_or(f64::NAN, f64::from);
        ss.push((t, s));
        ymax = ymax.max(f64::from(p.cwnd)).max(f64::from(p.in_flight));
        if !s.is_nan() {
            ymax = ymax.max(s);
        }
        if let Some(w) = p.w_max {
            ymax = ymax.max(f64::from(w));
        }
    }
    let mut c = Chart::new(v.x0, v.x1, 0.0, ymax * 1.08, Unit::Bytes);
    // Episodes: runs of recovery or loss.
    let mut i = 0;
    while i < pts.len() {
        let st = pts[i].ca;
        if matches!(st, CaState::Recovery | CaState::Loss) {
            let mut j = i;
            while j + 1 < pts.len() && pts[j + 1].ca == st {
                j += 1;
            }
            let end = pts.get(j + 1).map_or(secs(h, &pts[j]), |p| secs(h, p));
            c.band(secs(h, &pts[i]), end, if st == CaState::Loss { "#f4a6a6" } else { "#fdd9a0" });
            i = j + 1;
        } else {
            i += 1;
        }
    }
    // W_max: a horizontal mark over each run of one value.
    let mut i = 0;
    while i < pts.len() {
        if let Some(wm) = pts[i].w_max {
            let mut j = i;
            while j + 1 < pts.len() && pts[j + 1].w_max == Some(wm) {
                j += 1;
            }
            let (a, b) = (secs(h, &pts[i]).max(v.x0), secs(h, &pts[j]));
            c.line(&[(a, f64::from(wm)), (b.max(a + w * 0.01), f64::from(wm))], "#555", 1.5, "6 3");
            c.label_at(a + w * 0.02, f64::from(wm), "W_max", "#555");
            i = j + 1;
        } else {
            i += 1;
        }
    }
    // K: where each epoch's curve is back at W_max.
    let mut last_epoch = None;
    for p in pts {
        if let (Some(e), Some(k)) = (p.epoch_start, p.k) {
            if last_epoch == Some(e) {
                continue;
            }
            last_epoch = Some(e);
            let x = (e.total_micros() as f64 - t0 as f64) / 1e6 + f64::from(k);
            if k > 0.0 && (v.x0..=v.x1).contains(&x) {
                c.vmark(x, "#555", "K");
            }
        }
    }
    c.step(&fl, "#2a9d3a", 1.2, "");
    c.step(&ss, "#d62728", 1.5, "6 4");
    c.step(&cw, "#1f3f99", 2.0, "");
    c.legend("cwnd", "#1f3f99", "");
    c.legend("ssthresh", "#d62728", "6 4");
    c.legend("pipe (bytes in flight)", "#2a9d3a", "");
    if pts.iter().any(|p| p.ca == CaState::Recovery) {
        c.legend("fast recovery (shaded)", "#f0b050", "");
    }
    if pts.iter().any(|p| p.ca == CaState::Loss) {
        c.legend("loss after RTO (shaded)", "#e07070", "");
    }
    if pts.iter().any(|p| p.w_max.is_some()) {
        c.legend("CUBIC W_max, epoch start + K", "#555", "6 3");
    }
    (c, "bytes".into())
}

fn rtt(v: &View) -> (Chart, String) {
    let (h, pts) = (v.h, v.pts);
    let ms = |us: u32| f64::from(us) / 1000.0;
    let mut ymax: f64 = 1.0;
    let (mut srtt, mut var, mut rto, mut samples, mut rtos) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in pts {
        let t = secs(h, p);
        if p.srtt_us > 0 {
            srtt.push((t, ms(p.srtt_us)));
            var.push((t, ms(p.rttvar_us)));
            ymax = ymax.max(ms(p.srtt_us));
        }
        rto.push((t, ms(p.rto_us)));
        ymax = ymax.max(ms(p.rto_us));
        if let Some(r) = p.rtt_sample_us {
            samples.push((t, ms(r)));
            ymax = ymax.max(ms(r));
        }
        if p.kind == ProbeKind::Rto {
            rtos.push((t, p.backoff));
        }
    }
    let mut c = Chart::new(v.x0, v.x1, 0.0, ymax * 1.08, Unit::Millis);
    for &(t, n) in &rtos {
        c.vmark(t, "#d62728", &format!("RTO #{n}"));
    }
    c.step(&rto, "#d62728", 1.5, "");
    c.line(&var, "#d9a400", 1.2, "");
    c.line(&srtt, "#1f3f99", 2.0, "");
    for &(t, r) in &samples {
        c.dot(t, r, "#2a9d3a", 2.2);
    }
    c.legend("RTT samples", "#2a9d3a", "");
    c.legend("SRTT", "#1f3f99", "");
    c.legend("RTTVAR", "#d9a400", "");
    c.legend("RTO", "#d62728", "");
    if !rtos.is_empty() {
        c.legend("retransmission timeout fired", "#d62728", "4 3");
    }
    (c, "time".into())
}

/// A line of the buffers plot: its name, colour and value.
type Series = (&'static str, &'static str, fn(&Point) -> u32);

fn buffers(v: &View) -> (Chart, String) {
    let (h, pts) = (v.h, v.pts);
    let mut ymax: f64 = 1.0;
    let series: [Series; 5] = [
        ("rcv_wnd (window we offer)", "#1f3f99", |p| p.rcv_wnd),
        ("Recv-Q (unread)", "#2a9d3a", |p| p.recv_q),
        ("Send-Q (unacked + unsent)", "#d62728", |p| p.send_q),
        ("out-of-order bytes", "#8e44ad", |p| p.ofo_bytes),
        ("snd_wnd (peer's window)", "#d9a400", |p| p.snd_wnd),
    ];
    for p in pts {
        for s in &series {
            ymax = ymax.max(f64::from((s.2)(p)));
        }
    }
    let mut c = Chart::new(v.x0, v.x1, 0.0, ymax * 1.08, Unit::Bytes);
    for (name, color, f) in series {
        let v: Vec<(f64, f64)> = pts.iter().map(|p| (secs(h, p), f64::from(f(p)))).collect();
        c.step(&v, color, 1.6, "");
        c.legend(name, color, "");
    }
    (c, "bytes".into())
}
