//! Plots of what the wire cannot show: the history of every connection's
//! inside state, from the stack's `tcp_probe` samples
//! (stack/src/tcp/probe.rs), kept in bounded rings and drawn as SVG
//! (svg.rs) or exported as CSV and JSON.
//!
//! `History` is what `synack up` keeps (the web view reads it) and what
//! `synack plot` (cmd.rs) fills from a replayed recording. Each
//! connection — each incarnation of a 4-tuple, told apart by its ISS — gets
//! an id, 1, 2, 3 … in the order of its first sample, and a ring of at most
//! `HistoryLimits::points_per_conn` points: when it is full the older half
//! of its recent points is decimated into an archive that keeps one sample
//! in `stride` (retransmissions, timeouts and state changes always), and
//! when the archive passes half the ring every other point of it goes and
//! the stride doubles (`ConnHistory::make_room`). A long run keeps its
//! shape at an even density in bounded memory; the last moments keep
//! every sample.
//! At most `HistoryLimits::conns` connections are kept; the least recently
//! updated closed one is forgotten first.
//!
//! The plots follow tcptrace's time-sequence graph (Shepard, "TCP Packet
//! Trace Analysis", MIT/LCS TR-494, 1991; W. R. Stevens, TCP/IP Illustrated
//! vol. 1) and the cwnd/RTT plots of Linux's `tcp_probe` users; the
//! variables are RFC 9293's, RFC 6298's, RFC 5681's and RFC 9438's.

pub mod cmd;
mod svg;

pub use svg::{render_svg, render_svg_window};

use stack::tcp::{ProbeKind, TcpProbe, TcpState};
use stack::Instant;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::net::SocketAddrV4;

/// Points kept per connection by default (a 4096-point ring: 10 MB of
/// 1448-byte segments is ~14,500 samples, decimated about twice).
pub const DEFAULT_POINTS_PER_CONN: usize = 4096;
/// Connections kept by default.
pub const DEFAULT_CONNS: usize = 256;
/// Memory all the rings may hold by default: 16 MiB, about 100,000
/// points. Without it the bound would be `conns × points_per_conn` points
/// (~170 MB), which a page left open reaches: each of its requests for a
/// plot is a connection of its own that sends a megabyte and leaves a
/// thousand points behind.
pub const DEFAULT_BUDGET: usize = 16 << 20;
/// The ACK bit of `Point::flags` (RFC 9293 §3.1).
const ACK: u8 = 0x10;
/// Linux's `TCP_INFINITE_SSTHRESH`: an ssthresh at or above it means "no
/// loss yet" and is not drawn.
pub const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// How much a `History` keeps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Points in each connection's ring (at least 16).
    pub points_per_conn: usize,
    /// Connections kept (at least 1).
    pub conns: usize,
    /// Bytes all the connections' points may hold (`History::bytes`): past
    /// it the least recently updated connections are forgotten, closed
    /// ones first (never the one being updated).
    pub budget: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits { points_per_conn: DEFAULT_POINTS_PER_CONN, conns: DEFAULT_CONNS, budget: DEFAULT_BUDGET }
    }
}

/// Linux's `icsk_ca_state` (include/net/tcp.h `enum tcp_ca_state`), the
/// stack's own (tcp/state.rs), one byte in a `Point`.
pub use stack::tcp::CaState;

/// One sample of a connection, without what the connection already says
/// (addresses, ISS, IRS). Sequence numbers are absolute, as sampled.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub at: Instant,
    pub kind: ProbeKind,
    pub state: TcpState,
    pub seq: u32,
    pub len: u32,
    pub flags: u8,
    pub retrans: bool,
    pub zero_window_probe: bool,
    pub ack: u32,
    pub win: u32,
    pub nsack: u8,
    pub sack: [(u32, u32); 4],
    pub snd_una: u32,
    pub snd_nxt: u32,
    pub rcv_nxt: u32,
    pub cwnd: u32,
    pub ssthresh: u32,
    pub in_flight: u32,
    /// Linux's `icsk_ca_state`, one byte here (`TcpProbe::ca_state`'s name).
    pub ca: CaState,
    /// CUBIC's W_max (bytes) and K (s); f32 is plenty for a plot.
    pub w_max: Option<f32>,
    pub k: Option<f32>,
    pub epoch_start: Option<Instant>,
    pub srtt_us: u32,
    pub rttvar_us: u32,
    pub rto_us: u32,
    pub rtt_sample_us: Option<u32>,
    pub backoff: u8,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    pub recv_q: u32,
    pub send_q: u32,
    pub ofo_bytes: u32,
}

impl Point {
    fn from_probe(p: &TcpProbe) -> Point {
        Point {
            at: p.at,
            kind: p.kind,
            state: p.state,
            seq: p.seq,
            len: p.len,
            flags: p.flags,
            retrans: p.retrans,
            zero_window_probe: p.zero_window_probe,
            ack: p.ack,
            win: p.win,
            nsack: p.nsack,
            sack: p.sack,
            snd_una: p.snd_una,
            snd_nxt: p.snd_nxt,
            rcv_nxt: p.rcv_nxt,
            cwnd: p.cwnd,
            ssthresh: p.ssthresh,
            in_flight: p.in_flight,
            ca: p.ca_state,
            w_max: p.w_max.map(|w| w as f32),
            k: p.k.map(|k| k as f32),
            epoch_start: p.epoch_start,
            srtt_us: p.srtt_us,
            rttvar_us: p.rttvar_us,
            rto_us: p.rto_us,
            rtt_sample_us: p.rtt_sample_us,
            backoff: p.backoff,
            snd_wnd: p.snd_wnd,
            rcv_wnd: p.rcv_wnd,
            recv_q: p.recv_q,
            send_q: p.send_q,
            ofo_bytes: p.ofo_bytes,
        }
    }

    /// Kept whatever decimation does: what a plot marks one by one.
    fn precious(&self) -> bool {
        self.retrans || self.zero_window_probe || matches!(self.kind, ProbeKind::Rto | ProbeKind::State)
    }

    /// Milliseconds since the stack started.
    pub fn t_ms(&self) -> f64 {
        self.at.total_micros() as f64 / 1000.0
    }

    /// The ssthresh, `None` while it is "infinite" (no loss yet).
    pub fn ssthresh_known(&self) -> Option<u32> {
        (self.ssthresh < INFINITE_SSTHRESH).then_some(self.ssthresh)
    }
}

/// One connection's history.
#[derive(Clone, Debug)]
pub struct ConnHistory {
    pub id: u64,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// Our initial send sequence number and the peer's (0 until known).
    pub iss: u32,
    pub irs: u32,
    points: Vec<Point>,
    cap: usize,
    /// Points thrown away by decimation so far.
    pub decimated: u64,
    /// `points[..archive]` is the decimated past, one sample in `stride`
    /// kept; `seen` counts the samples moved into it (see `make_room`).
    archive: usize,
    stride: u64,
    seen: u64,
    /// The last sample said CLOSED or TIME_WAIT.
    pub closed: bool,
    /// Stamp of the last update (a `History`-wide counter), for eviction.
    touched: u64,
}

/// One line of `History::conns`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnSummary {
    pub id: u64,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub iss: u32,
    pub first: Instant,
    pub last: Instant,
    pub points: usize,
}

impl ConnHistory {
    fn new(id: u64, p: &TcpProbe, cap: usize) -> ConnHistory {
        ConnHistory {
            id,
            local: p.local,
            remote: p.remote,
            iss: p.iss,
            irs: p.irs,
            points: Vec::new(),
            cap,
            decimated: 0,
            archive: 0,
            stride: 2,
            seen: 0,
            closed: false,
            touched: 0,
        }
    }

    /// The points, oldest first.
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    pub fn first(&self) -> Option<Instant> {
        self.points.first().map(|p| p.at)
    }
    pub fn last(&self) -> Option<Instant> {
        self.points.last().map(|p| p.at)
    }

    fn push(&mut self, p: Point) {
        if self.points.len() >= self.cap {
            self.make_room();
        }
        self.points.push(p);
    }

    /// The ring is full. The points are an archive (oldest, one sample in
    /// `stride` kept) and the recent ones (every sample): the older half
    /// of the recent points moves into the archive, one in `stride` and
    /// every precious one; when the archive passes half the ring, every
    /// other point of it goes and `stride` doubles. So the old part of a
    /// long run keeps an even density (its shape) and the last moments
    /// every detail. Should precious points alone fill it (a storm of
    /// retransmissions), they are thinned too: the bound holds.
    fn make_room(&mut self) {
        let before = self.points.len();
        let recent = self.points.len() - self.archive;
        let moved: Vec<Point> = self.points.drain(self.archive..self.archive + recent / 2).collect();
        let mut kept = Vec::with_capacity(moved.len() / 2 + 1);
        for p in moved {
            if self.seen.is_multiple_of(self.stride) || p.precious() {
                kept.push(p);
            }
            self.seen += 1;
        }
        let n = kept.len();
        self.points.splice(self.archive..self.archive, kept);
        self.archive += n;
        while self.archive > self.cap / 2 || self.points.len() >= self.cap - self.cap / 8 {
            let a = self.archive;
            if a < 2 {
                // Nothing left to thin in the archive (precious points
                // only, all recent): the oldest recent point goes.
                self.points.remove(a);
                continue;
            }
            let precious = self.points[..a].iter().enumerate().filter(|(i, p)| i % 2 == 1 && p.precious()).count();
            let with_precious = precious <= a / 4;
            let (mut i, mut removed) = (0, 0);
            self.points.retain(|p| {
                let keep = i >= a || i % 2 == 0 || (with_precious && p.precious());
                i += 1;
                removed += usize::from(!keep);
                keep
            });
            self.archive = a - removed;
            self.stride = self.stride.saturating_mul(2);
        }
        self.decimated += (before - self.points.len()) as u64;
    }

    /// Sequence numbers relative to where each side began: our send side
    /// counts from ISS, the peer's from IRS (tcptrace's relative numbers).
    fn rel_snd(&self, s: u32) -> i64 {
        s.wrapping_sub(self.iss) as i32 as i64
    }
    fn rel_rcv(&self, s: u32) -> i64 {
        if self.irs == 0 {
            return 0;
        }
        s.wrapping_sub(self.irs) as i32 as i64
    }

    /// A point's segment fields made relative: (seq, ack, sack blocks).
    /// Tx: seq from ISS, ack and the SACK blocks (of the peer's data) from
    /// IRS; Rx the other way round; 0 for an ack without the ACK bit.
    fn rel_segment(&self, p: &Point) -> (i64, i64, Vec<(i64, i64)>) {
        let blocks = &p.sack[..p.nsack as usize];
        match p.kind {
            ProbeKind::Tx => (
                self.rel_snd(p.seq),
                if p.flags & ACK != 0 { self.rel_rcv(p.ack) } else { 0 },
                blocks.iter().map(|b| (self.rel_rcv(b.0), self.rel_rcv(b.1))).collect(),
            ),
            ProbeKind::Rx => (
                self.rel_rcv(p.seq),
                if p.flags & ACK != 0 { self.rel_snd(p.ack) } else { 0 },
                blocks.iter().map(|b| (self.rel_snd(b.0), self.rel_snd(b.1))).collect(),
            ),
            _ => (0, 0, Vec::new()),
        }
    }

    /// The history as JSON: `{"id", "local", "remote", "iss", "irs",
    /// "t0_ms", "decimated", "points": [{"t_ms", "kind": "tx"|"rx"|"rto"|"state", …}]}`,
    /// the points at or after `since` only. Times are milliseconds since the
    /// stack started; sequence numbers relative (see `rel_segment`);
    /// `ssthresh` is null while infinite; `sack` a list of [start, end].
    pub fn to_json(&self, since: Option<Instant>) -> String {
        let points: Vec<serde_json::Value> = self
            .points
            .iter()
            .filter(|p| since.is_none_or(|s| p.at >= s))
            .map(|p| {
                let (seq, ack, sack) = self.rel_segment(p);
                serde_json::json!({
                    "t_ms": p.t_ms(),
                    "kind": p.kind.name(),
                    "state": p.state.netstat_name(),
                    "seq": seq, "len": p.len, "flags": p.flags, "retrans": p.retrans,
                    "zero_window_probe": p.zero_window_probe,
                    "ack": ack, "win": p.win,
                    "sack": sack.iter().map(|b| [b.0, b.1]).collect::<Vec<_>>(),
                    "snd_una": self.rel_snd(p.snd_una), "snd_nxt": self.rel_snd(p.snd_nxt),
                    "rcv_nxt": self.rel_rcv(p.rcv_nxt),
                    "cwnd": p.cwnd, "ssthresh": p.ssthresh_known(), "in_flight": p.in_flight,
                    "ca_state": p.ca.name(), "w_max": p.w_max, "k": p.k,
                    "epoch_start_ms": p.epoch_start.map(|e| e.total_micros() as f64 / 1000.0),
                    "srtt_us": p.srtt_us, "rttvar_us": p.rttvar_us, "rto_us": p.rto_us,
                    "rtt_us": p.rtt_sample_us, "backoff": p.backoff,
                    "snd_wnd": p.snd_wnd, "rcv_wnd": p.rcv_wnd, "recv_q": p.recv_q, "send_q": p.send_q,
                    "ofo_bytes": p.ofo_bytes,
                })
            })
            .collect();
        serde_json::json!({
            "id": self.id,
            "local": self.local.to_string(),
            "remote": self.remote.to_string(),
            "iss": self.iss,
            "irs": self.irs,
            "t0_ms": self.points.first().map_or(0.0, Point::t_ms),
            "decimated": self.decimated,
            "points": points,
        })
        .to_string()
    }

    /// The CSV header line of `to_csv`.
    pub const CSV_HEADER: &'static str = "t_ms,kind,state,seq,len,flags,retrans,zero_window_probe,ack,win,sack,\
snd_una,snd_nxt,rcv_nxt,cwnd,ssthresh,in_flight,ca_state,w_max,k,epoch_start_ms,srtt_us,rttvar_us,rto_us,rtt_us,\
backoff,snd_wnd,rcv_wnd,recv_q,send_q,ofo_bytes";

    /// One header line, then one row per point, the columns of `to_json`'s
    /// points (`CSV_HEADER`); booleans 0/1, unknown values empty, SACK
    /// blocks as `start-end` separated by spaces.
    pub fn to_csv(&self) -> String {
        let mut s = String::with_capacity(64 + self.points.len() * 120);
        s.push_str(Self::CSV_HEADER);
        s.push('\n');
        let opt = |v: Option<String>| v.unwrap_or_default();
        for p in &self.points {
            let (seq, ack, sack) = self.rel_segment(p);
            let sack: Vec<String> = sack.iter().map(|b| format!("{}-{}", b.0, b.1)).collect();
            let _ = writeln!(
                s,
                "{:.3},{},{},{seq},{},{},{},{},{ack},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                p.t_ms(),
                p.kind.name(),
                p.state.netstat_name(),
                p.len,
                p.flags,
                u8::from(p.retrans),
                u8::from(p.zero_window_probe),
                p.win,
                sack.join(" "),
                self.rel_snd(p.snd_una),
                self.rel_snd(p.snd_nxt),
                self.rel_rcv(p.rcv_nxt),
                p.cwnd,
                opt(p.ssthresh_known().map(|v| v.to_string())),
                p.in_flight,
                p.ca.name(),
                opt(p.w_max.map(|v| format!("{v:.0}"))),
                opt(p.k.map(|v| format!("{v:.4}"))),
                opt(p.epoch_start.map(|e| format!("{:.3}", e.total_micros() as f64 / 1000.0))),
                p.srtt_us,
                p.rttvar_us,
                p.rto_us,
                opt(p.rtt_sample_us.map(|v| v.to_string())),
                p.backoff,
                p.snd_wnd,
                p.rcv_wnd,
                p.recv_q,
                p.send_q,
                p.ofo_bytes,
            );
        }
        s
    }

    /// Memory held (approximately: the ring's capacity and the struct).
    fn bytes(&self) -> usize {
        std::mem::size_of::<ConnHistory>() + self.points.capacity() * std::mem::size_of::<Point>()
    }
}

/// Every connection's history.
#[derive(Debug)]
pub struct History {
    limits: HistoryLimits,
    conns: BTreeMap<u64, ConnHistory>,
    /// The newest incarnation of each 4-tuple.
    by_tuple: HashMap<(SocketAddrV4, SocketAddrV4), u64>,
    next_id: u64,
    clock: u64,
    /// The sum of every connection's `ConnHistory::bytes`, kept as they change.
    held: usize,
}

impl History {
    pub fn new(limits: HistoryLimits) -> History {
        let limits = HistoryLimits {
            points_per_conn: limits.points_per_conn.max(16),
            conns: limits.conns.max(1),
            budget: limits.budget,
        };
        History { limits, conns: BTreeMap::new(), by_tuple: HashMap::new(), next_id: 1, clock: 0, held: 0 }
    }

    pub fn limits(&self) -> HistoryLimits {
        self.limits
    }

    /// Add one sample. Listeners' samples (no remote yet) are not kept.
    pub fn record(&mut self, p: &TcpProbe) {
        if p.state == TcpState::Listen || p.remote.port() == 0 {
            return;
        }
        let key = (p.local, p.remote);
        let id = match self.by_tuple.get(&key) {
            // The same incarnation: the same ISS (a new connection on the
            // same 4-tuple, after TIME_WAIT, has another).
            Some(&id) if self.conns.get(&id).is_some_and(|c| c.iss == p.iss) => id,
            _ => self.new_conn(p),
        };
        self.clock += 1;
        let cap = self.limits.points_per_conn;
        let c = self.conns.entry(id).or_insert_with(|| ConnHistory::new(id, p, cap));
        if p.irs != 0 {
            c.irs = p.irs;
        }
        c.closed = matches!(p.state, TcpState::Closed | TcpState::TimeWait);
        c.touched = self.clock;
        let before = c.bytes();
        c.push(Point::from_probe(p));
        self.held = self.held + c.bytes() - before;
        while self.held > self.limits.budget && self.forget_one(Some(id)) {}
    }

    /// Forget the least recently updated closed connection, else the least
    /// recently updated one, never `keep`. False when there is none.
    fn forget_one(&mut self, keep: Option<u64>) -> bool {
        let victim = self
            .conns
            .values()
            .filter(|c| c.closed && Some(c.id) != keep)
            .min_by_key(|c| c.touched)
            .or_else(|| self.conns.values().filter(|c| Some(c.id) != keep).min_by_key(|c| c.touched))
            .map(|c| (c.id, c.local, c.remote));
        let Some((id, l, r)) = victim else { return false };
        if let Some(c) = self.conns.remove(&id) {
            self.held -= c.bytes();
        }
        if self.by_tuple.get(&(l, r)) == Some(&id) {
            self.by_tuple.remove(&(l, r));
        }
        true
    }

    fn new_conn(&mut self, p: &TcpProbe) -> u64 {
        if self.conns.len() >= self.limits.conns {
            self.forget_one(None);
        }
        let id = self.next_id;
        self.next_id += 1;
        let c = ConnHistory::new(id, p, self.limits.points_per_conn);
        self.held += c.bytes();
        self.conns.insert(id, c);
        self.by_tuple.insert((p.local, p.remote), id);
        id
    }

    /// The connections kept, by id.
    pub fn conns(&self) -> Vec<ConnSummary> {
        self.conns
            .values()
            .map(|c| ConnSummary {
                id: c.id,
                local: c.local,
                remote: c.remote,
                iss: c.iss,
                first: c.first().unwrap_or(Instant::ZERO),
                last: c.last().unwrap_or(Instant::ZERO),
                points: c.points.len(),
            })
            .collect()
    }

    /// The newest incarnation of (local, remote).
    pub fn id_of(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<u64> {
        self.by_tuple.get(&(local, remote)).copied()
    }

    pub fn get(&self, id: u64) -> Option<&ConnHistory> {
        self.conns.get(&id)
    }

    /// Memory held, approximately: what the memory-bound tests read. At
    /// most about `budget` plus one connection's ring (a Point is 160
    /// bytes: with the defaults ~650 KB per long connection; without the
    /// budget, 256 long connections would hold ~170 MB).
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<History>()
            + self.conns.values().map(ConnHistory::bytes).sum::<usize>()
            + self.by_tuple.capacity() * std::mem::size_of::<((SocketAddrV4, SocketAddrV4), u64)>()
    }
}

/// Which plot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PlotKind {
    /// tcptrace's time-sequence graph.
    TimeSeq,
    /// cwnd, ssthresh and pipe.
    Cwnd,
    /// RTT samples, SRTT, RTTVAR and RTO.
    Rtt,
    /// Windows and queues.
    Buffers,
}

impl PlotKind {
    pub const ALL: [PlotKind; 4] = [PlotKind::TimeSeq, PlotKind::Cwnd, PlotKind::Rtt, PlotKind::Buffers];

    /// The file name's stem: `tseq`, `cwnd`, `rtt`, `buffers`.
    pub fn name(&self) -> &'static str {
        match self {
            PlotKind::TimeSeq => "tseq",
            PlotKind::Cwnd => "cwnd",
            PlotKind::Rtt => "rtt",
            PlotKind::Buffers => "buffers",
        }
    }

    /// `tseq`, `cwnd`, `rtt`, `buffers`, with or without `.svg`.
    pub fn parse(s: &str) -> Option<PlotKind> {
        let s = s.strip_suffix(".svg").unwrap_or(s);
        PlotKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

#[cfg(test)]
mod tests;
