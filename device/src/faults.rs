//! `Scripted<D>`: deterministic, scripted faults on any device, for labs.
//!
//! The seeded faults of `Wire` make a lossy network; a fault *script* makes
//! one precise accident happen, every run the same way, so a lab can say
//! "drop the third data segment and watch the retransmission":
//!
//! ```text
//! synack up --faults "drop out tcp data #3; delay in syn 500ms; reorder out 5,6; dup in synack"
//! ```
//!
//! # The language
//!
//! ```text
//! script    = rule { (";" | newline) rule }          empty rules are ignored
//! rule      = action direction { word }
//! action    = "drop"                   the frame vanishes
//!           | "delay" DURATION         the frame is held back that long
//!           | "dup"                    the frame goes twice
//!           | "reorder" [DURATION]     the frame is held until the next frame
//!                                      this rule matches has gone, then follows
//!                                      it (a swap); given up after DURATION
//!                                      (default 1s) if no such frame comes
//!           | "corrupt"                one bit flips (the last byte of the IP
//!                                      packet or ARP body: a checksum catches
//!                                      it, except in ARP, which has none)
//! direction = "in"                     frames from the network to the stack
//!           | "out"                    frames from the stack to the network
//! word      = selector | count | DURATION (only after delay and reorder)
//! selector  = "any" | "arp" | "ip" | "icmp" | "udp" | "tcp"
//!           | "syn"                    SYN without ACK
//!           | "synack"                 SYN with ACK
//!           | "ack"                    a pure ACK: no data, no SYN/FIN/RST
//!           | "fin" | "rst"            the flag is set
//!           | "data"                   a TCP segment with payload
//!           | "port" N                 TCP or UDP, either port N
//! count     = ["#"] item { "," item }  item = N | N "-" M  (frames from #1)
//! DURATION  = number unit              unit = "us" | "ms" | "s", e.g. 500ms, 1.5s
//! ```
//!
//! Several selectors must all match (`tcp data`, `syn port 23`); none means
//! every frame. Each rule counts the frames it matches in its direction,
//! from 1, and acts on the ones its count lists (no count: on every match).
//! So `drop out tcp data #3` drops the third data segment the stack sends,
//! and the retransmission of it (the fourth or fifth) passes. Rules count
//! independently, and every rule that fires on a frame applies: a drop wins;
//! otherwise a corrupt, then the delays (added up), then a dup, then a
//! reorder. Frames a rule made (a duplicate, a delayed or swapped frame on
//! its way out) are not counted again.
//!
//! Nothing here is random: the same script and the same traffic give the
//! same faults. Every fault that happens is reported (`on_fault`, `log`),
//! in words a student can match against the trace:
//! `fault: drop out tcp data #3 (10.0.0.2.7 > 10.0.0.1.40000 [.] seq 2921:4381)`.

use crate::{Device, Direction};
use stack::time::earliest;
use stack::wire::ethernet::ETH_HLEN;
use stack::{Duration, Instant, SkBuff};
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::io;
use std::os::unix::io::RawFd;
use std::rc::Rc;

/// The grammar in short, for `synack up --help`.
pub const HELP: &str = "\
Scripted faults, applied to the frames in and out of the stack, the same way every run.
Rules are separated by ';' (or newlines); each is ACTION DIRECTION [SELECTORS] [COUNT]:
  actions:    drop | delay DURATION | dup | reorder [DURATION] | corrupt
              (reorder sends the frame after the next one the rule matches;
              corrupt flips one bit, which a checksum should catch)
  direction:  in (to the stack) | out (from the stack)
  selectors:  any arp ip icmp udp tcp syn synack ack fin rst data, port N
              (all must match; ack = pure ACK; data = TCP with payload)
  count:      #3, #5,6, #2-4: the Nth frame this rule matches in that
              direction (none: every match)
  durations:  250us, 500ms, 1.5s
Example: --faults \"drop out tcp data #3; delay in syn 500ms; reorder out 5,6; dup in synack\"
Every fault applied prints a line: fault: drop out tcp data #3 (… seq 2921:4381)";

/// How long `reorder` holds a frame when the script names no duration.
pub const REORDER_HOLD: Duration = Duration::from_secs(1);
/// The longest delay a script may ask for.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// What a rule does to the frames it picks.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum FaultAction {
    Drop,
    Delay(Duration),
    Dup,
    /// Hold until the next matching frame has gone, at most this long.
    Reorder(Duration),
    Corrupt,
}

/// One selector word.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Selector {
    Any,
    Arp,
    Ip,
    Icmp,
    Udp,
    Tcp,
    Syn,
    SynAck,
    Ack,
    Fin,
    Rst,
    Data,
    Port(u16),
}

const SELECTOR_WORDS: &str = "any arp ip icmp udp tcp syn synack ack fin rst data port N";

impl Selector {
    fn word(w: &str) -> Option<Selector> {
        Some(match w {
            "any" => Selector::Any,
            "arp" => Selector::Arp,
            "ip" => Selector::Ip,
            "icmp" => Selector::Icmp,
            "udp" => Selector::Udp,
            "tcp" => Selector::Tcp,
            "syn" => Selector::Syn,
            "synack" => Selector::SynAck,
            "ack" => Selector::Ack,
            "fin" => Selector::Fin,
            "rst" => Selector::Rst,
            "data" => Selector::Data,
            _ => return None,
        })
    }

    fn matches(self, f: &FrameInfo) -> bool {
        let tcp = |p: fn(&TcpInfo) -> bool| f.tcp.as_ref().is_some_and(p);
        match self {
            Selector::Any => true,
            Selector::Arp => f.arp,
            Selector::Ip => f.ip_proto.is_some(),
            Selector::Icmp => f.ip_proto == Some(1),
            Selector::Udp => f.ip_proto == Some(17),
            Selector::Tcp => f.ip_proto == Some(6),
            Selector::Syn => tcp(|t| t.flags & SYN != 0 && t.flags & ACK == 0),
            Selector::SynAck => tcp(|t| t.flags & SYN != 0 && t.flags & ACK != 0),
            Selector::Ack => tcp(|t| t.flags & (SYN | FIN | RST) == 0 && t.flags & ACK != 0 && t.len == 0),
            Selector::Fin => tcp(|t| t.flags & FIN != 0),
            Selector::Rst => tcp(|t| t.flags & RST != 0),
            Selector::Data => tcp(|t| t.len > 0),
            Selector::Port(p) => f.ports.is_some_and(|(s, d)| s == p || d == p),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = match self {
            Selector::Any => "any",
            Selector::Arp => "arp",
            Selector::Ip => "ip",
            Selector::Icmp => "icmp",
            Selector::Udp => "udp",
            Selector::Tcp => "tcp",
            Selector::Syn => "syn",
            Selector::SynAck => "synack",
            Selector::Ack => "ack",
            Selector::Fin => "fin",
            Selector::Rst => "rst",
            Selector::Data => "data",
            Selector::Port(p) => return write!(f, "port {p}"),
        };
        f.write_str(w)
    }
}

/// One rule of a script: `drop out tcp data #3`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FaultRule {
    pub action: FaultAction,
    pub dir: Direction,
    pub selectors: Vec<Selector>,
    /// Inclusive ranges of match numbers (from 1); `None`: every match.
    pub counts: Option<Vec<(u64, u64)>>,
}

impl FaultRule {
    fn matches(&self, dir: Direction, f: &FrameInfo) -> bool {
        self.dir == dir && self.selectors.iter().all(|s| s.matches(f))
    }
    fn picks(&self, n: u64) -> bool {
        self.counts.as_ref().is_none_or(|c| c.iter().any(|&(lo, hi)| (lo..=hi).contains(&n)))
    }
    /// `drop out tcp data` (the rule without its count), for reports.
    fn head(&self) -> String {
        let mut s = String::from(match self.action {
            FaultAction::Drop => "drop",
            FaultAction::Delay(_) => "delay",
            FaultAction::Dup => "dup",
            FaultAction::Reorder(_) => "reorder",
            FaultAction::Corrupt => "corrupt",
        });
        s.push_str(if self.dir == Direction::In { " in" } else { " out" });
        for sel in &self.selectors {
            s.push(' ');
            s.push_str(&sel.to_string());
        }
        s
    }
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.head())?;
        if let Some(c) = &self.counts {
            let items: Vec<String> =
                c.iter().map(|&(lo, hi)| if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") }).collect();
            write!(f, " #{}", items.join(","))?;
        }
        match self.action {
            FaultAction::Delay(d) => write!(f, " {}", fmt_dur(d)),
            FaultAction::Reorder(d) if d != REORDER_HOLD => write!(f, " {}", fmt_dur(d)),
            _ => Ok(()),
        }
    }
}

/// A parsed fault script: rules in the order written.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct FaultScript {
    pub rules: Vec<FaultRule>,
}

impl fmt::Display for FaultScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<String> = self.rules.iter().map(|r| r.to_string()).collect();
        f.write_str(&rules.join("; "))
    }
}

impl std::str::FromStr for FaultScript {
    type Err = String;
    fn from_str(s: &str) -> Result<FaultScript, String> {
        FaultScript::parse(s)
    }
}

impl FaultScript {
    /// Parse a script (see the module comment for the grammar). Errors name
    /// the rule and the word that is wrong, and say what was expected.
    pub fn parse(s: &str) -> Result<FaultScript, String> {
        let mut rules = Vec::new();
        for (i, text) in s.split([';', '\n']).enumerate() {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let rule = parse_rule(text).map_err(|e| format!("fault rule {} ({text:?}): {e}", i + 1))?;
            rules.push(rule);
        }
        Ok(FaultScript { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// `5, 6` and `5 ,6` are one count: glue the commas to their neighbours.
fn words(rule: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for w in rule.split_whitespace() {
        match v.last_mut() {
            Some(last) if last.ends_with(',') || w.starts_with(',') => last.push_str(w),
            _ => v.push(w.to_string()),
        }
    }
    v
}

fn parse_rule(text: &str) -> Result<FaultRule, String> {
    let words = words(&text.to_ascii_lowercase());
    let mut it = words.iter().map(String::as_str).peekable();
    let action = match it.next() {
        Some("drop") => FaultAction::Drop,
        Some("delay") => FaultAction::Delay(Duration::ZERO),
        Some("dup") | Some("duplicate") => FaultAction::Dup,
        Some("reorder") | Some("swap") => FaultAction::Reorder(REORDER_HOLD),
        Some("corrupt") => FaultAction::Corrupt,
        Some(w) => return Err(format!("unknown action {w:?}: want drop, delay, dup, reorder or corrupt")),
        None => return Err("empty rule".into()),
    };
    let dir = match it.next() {
        Some("in") => Direction::In,
        Some("out") => Direction::Out,
        Some(w) => return Err(format!("want a direction (in or out) after the action, found {w:?}")),
        None => return Err("want a direction (in or out) after the action".into()),
    };
    let mut selectors = Vec::new();
    let mut counts: Option<Vec<(u64, u64)>> = None;
    let mut duration: Option<Duration> = None;
    while let Some(w) = it.next() {
        if let Some(sel) = Selector::word(w) {
            selectors.push(sel);
        } else if w == "port" {
            let p = it.next().ok_or("\"port\" wants a number, like port 23")?;
            let p = p.parse::<u16>().map_err(|_| format!("{p:?} is not a port number"))?;
            selectors.push(Selector::Port(p));
        } else if w.starts_with('#') || w.starts_with(|c: char| c.is_ascii_digit()) && !has_unit(w) {
            if counts.is_some() {
                return Err(format!("a second count {w:?}: list them in one, like #3,5"));
            }
            counts = Some(parse_counts(w)?);
        } else if w.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            let d = parse_duration(w)?;
            if !matches!(action, FaultAction::Delay(_) | FaultAction::Reorder(_)) {
                return Err(format!("a duration ({w}) only goes with delay or reorder"));
            }
            if duration.replace(d).is_some() {
                return Err(format!("a second duration {w:?}"));
            }
        } else {
            return Err(format!("unknown word {w:?} (selectors: {SELECTOR_WORDS}; counts: #3 or #5,6)"));
        }
    }
    let action = match (action, duration) {
        (FaultAction::Delay(_), Some(d)) => FaultAction::Delay(d),
        (FaultAction::Delay(_), None) => return Err("delay wants a duration, like delay in syn 500ms".into()),
        (FaultAction::Reorder(_), Some(d)) => FaultAction::Reorder(d),
        (a, _) => a,
    };
    Ok(FaultRule { action, dir, selectors, counts })
}

fn has_unit(w: &str) -> bool {
    w.ends_with('s')
}

/// `#3`, `3`, `5,6`, `#2-4,9`.
fn parse_counts(w: &str) -> Result<Vec<(u64, u64)>, String> {
    let body = w.strip_prefix('#').unwrap_or(w);
    if body.is_empty() {
        return Err("\"#\" wants a frame number, like #3".into());
    }
    let num = |s: &str| -> Result<u64, String> {
        let n = s.parse::<u64>().map_err(|_| format!("{s:?} in {w:?} is not a frame number"))?;
        if n == 0 {
            return Err(format!("frames are counted from #1, not #0 (in {w:?})"));
        }
        Ok(n)
    };
    let mut v = Vec::new();
    for item in body.split(',') {
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(item)?, num(item)?),
        };
        if hi < lo {
            return Err(format!("the range {item:?} runs backwards"));
        }
        v.push((lo, hi));
    }
    Ok(v)
}

/// `500ms`, `1s`, `1.5s`, `250us`, `2m`, at most `MAX_DELAY`.
pub fn parse_duration(w: &str) -> Result<Duration, String> {
    parse_duration_upto(w, MAX_DELAY)
}

/// A duration with its unit (`us`, `ms`, `s`, `m`), from 0 to `max`.
pub fn parse_duration_upto(w: &str, max: Duration) -> Result<Duration, String> {
    let (num, scale) = if let Some(n) = w.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = w.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = w.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = w.strip_suffix('m') {
        (n, 60.0)
    } else {
        return Err(format!("{w:?}: a duration wants a unit, like 500ms, 2s or 250us"));
    };
    let v = num.parse::<f64>().map_err(|_| format!("{w:?} is not a duration (like 500ms, 2s or 250us)"))?;
    let secs = v * scale;
    if !(0.0..=max.as_secs_f64()).contains(&secs) {
        return Err(format!("{w:?}: durations go from 0 to {}s", max.as_secs()));
    }
    Ok(Duration::from_micros((secs * 1e6).round() as u64))
}

/// A duration the way a script writes it.
pub fn fmt_dur(d: Duration) -> String {
    let us = d.as_micros();
    if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

// ------------------------------------------------------------- the matcher

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

#[derive(Clone, Debug)]
struct TcpInfo {
    flags: u8,
    seq: u32,
    len: usize,
}

/// What the selectors look at, read from the frame's bytes (a malformed
/// frame is simply "not TCP", "not IP"…; nothing here can fail).
#[derive(Clone, Debug, Default)]
struct FrameInfo {
    arp: bool,
    ip_proto: Option<u8>,
    src: [u8; 4],
    dst: [u8; 4],
    /// TCP/UDP ports of a first fragment.
    ports: Option<(u16, u16)>,
    tcp: Option<TcpInfo>,
    /// Where the frame's real content ends (IP total length; no padding).
    end: usize,
}

fn classify(f: &[u8]) -> FrameInfo {
    let mut info = FrameInfo { end: f.len(), ..FrameInfo::default() };
    if f.len() < ETH_HLEN {
        return info;
    }
    let be16 = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    match be16(f, 12) {
        0x0806 => {
            info.arp = true;
            info.end = f.len().min(ETH_HLEN + 28);
        }
        0x0800 => {
            let ip = &f[ETH_HLEN..];
            if ip.len() < 20 || ip[0] >> 4 != 4 {
                return info;
            }
            let ihl = (ip[0] & 0x0f) as usize * 4;
            let total = (be16(ip, 2) as usize).min(ip.len());
            if ihl < 20 || total < ihl {
                return info;
            }
            info.ip_proto = Some(ip[9]);
            info.src.copy_from_slice(&ip[12..16]);
            info.dst.copy_from_slice(&ip[16..20]);
            info.end = ETH_HLEN + total;
            let first_fragment = be16(ip, 6) & 0x1fff == 0;
            let l4 = &ip[ihl..total];
            if first_fragment && matches!(ip[9], 6 | 17) && l4.len() >= 4 {
                info.ports = Some((be16(l4, 0), be16(l4, 2)));
            }
            if first_fragment && ip[9] == 6 && l4.len() >= 20 {
                let doff = (l4[12] >> 4) as usize * 4;
                info.tcp = Some(TcpInfo {
                    flags: l4[13],
                    seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
                    len: l4.len().saturating_sub(doff),
                });
            }
        }
        _ => {}
    }
    info
}

// ------------------------------------------------------------- the reports

/// One fault that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultEvent {
    pub at: Instant,
    pub dir: Direction,
    /// Index of the rule in the script.
    pub rule: usize,
    /// `drop out tcp data #3 (10.0.0.2.7 > 10.0.0.1.40000 [.] seq 2921:4381)`.
    pub text: String,
}

impl fmt::Display for FaultEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault: {}", self.text)
    }
}

/// Every fault a `Scripted` device applied, shared (clone it freely): keep
/// one to read the faults after the device has gone into a `Sim` or a loop.
#[derive(Clone, Default, Debug)]
pub struct FaultLog(Rc<RefCell<Vec<FaultEvent>>>);

impl FaultLog {
    pub fn events(&self) -> Vec<FaultEvent> {
        self.0.borrow().clone()
    }
    /// The reports as lines: `fault: drop out …`.
    pub fn lines(&self) -> Vec<String> {
        self.0.borrow().iter().map(|e| e.to_string()).collect()
    }
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
    fn push(&self, e: FaultEvent) {
        let mut v = self.0.borrow_mut();
        // Bounded like the stack's trace: the oldest go first.
        if v.len() >= 10_000 {
            v.remove(0);
        }
        v.push(e);
    }
}

// ------------------------------------------------------------ the device

/// A frame on hold: due at `at`, in the order it was queued.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    at: Instant,
    seq: u64,
    frame: Vec<u8>,
}

/// A frame a `reorder` rule holds until the next frame it matches.
struct Swap {
    deadline: Instant,
    n: u64,
    frame: Vec<u8>,
    what: String,
}

/// Where a fault report goes as it happens.
pub type FaultSink = Box<dyn FnMut(&FaultEvent)>;

/// A device middleware that applies a `FaultScript` to the frames going
/// in and out of `inner` (a TAP, a wire port, anything).
pub struct Scripted<D> {
    inner: D,
    script: FaultScript,
    /// Frames each rule has matched so far.
    matched: Vec<u64>,
    swaps: Vec<Option<Swap>>,
    /// Frames waiting to go to the stack (`In`) and to `inner` (`Out`).
    in_q: BinaryHeap<Reverse<Held>>,
    out_q: BinaryHeap<Reverse<Held>>,
    seq: u64,
    log: FaultLog,
    on_fault: Option<FaultSink>,
    /// ISNs seen in SYNs, for relative sequence numbers in the reports.
    isn: HashMap<([u8; 4], u16, [u8; 4], u16), u32>,
}

impl<D: Device> Scripted<D> {
    pub fn new(inner: D, script: FaultScript) -> Scripted<D> {
        let n = script.rules.len();
        Scripted {
            inner,
            matched: vec![0; n],
            swaps: (0..n).map(|_| None).collect(),
            script,
            in_q: BinaryHeap::new(),
            out_q: BinaryHeap::new(),
            seq: 0,
            log: FaultLog::default(),
            on_fault: None,
            isn: HashMap::new(),
        }
    }
    /// Call `f` for each fault as it happens (`synack up` prints it).
    pub fn on_fault(mut self, f: impl FnMut(&FaultEvent) + 'static) -> Scripted<D> {
        self.on_fault = Some(Box::new(f));
        self
    }
    /// A handle on the faults applied so far.
    pub fn log(&self) -> FaultLog {
        self.log.clone()
    }
    pub fn script(&self) -> &FaultScript {
        &self.script
    }
    pub fn inner(&self) -> &D {
        &self.inner
    }
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    fn report(&mut self, at: Instant, dir: Direction, rule: usize, text: String) {
        let e = FaultEvent { at, dir, rule, text };
        if let Some(f) = self.on_fault.as_mut() {
            f(&e);
        }
        self.log.push(e);
    }

    fn queue(&mut self, dir: Direction, at: Instant, frame: Vec<u8>) {
        self.seq += 1;
        let h = Reverse(Held { at, seq: self.seq, frame });
        match dir {
            Direction::In => self.in_q.push(h),
            Direction::Out => self.out_q.push(h),
        }
    }

    /// `10.0.0.2.7 > 10.0.0.1.40000 [S.] seq 0:0`, relative to the SYN when seen.
    fn summary(&mut self, info: &FrameInfo) -> String {
        let ip = |a: [u8; 4]| std::net::Ipv4Addr::from(a);
        if info.arp {
            return "ARP".into();
        }
        let Some(proto) = info.ip_proto else { return "not IP".into() };
        let Some((sp, dp)) = info.ports else {
            let name = if proto == 1 { "ICMP" } else { "IP" };
            return format!("{} > {} {name}", ip(info.src), ip(info.dst));
        };
        let mut s = format!("{}.{sp} > {}.{dp}", ip(info.src), ip(info.dst));
        if let Some(t) = &info.tcp {
            let key = (info.src, sp, info.dst, dp);
            if t.flags & SYN != 0 {
                if self.isn.len() >= 4096 {
                    self.isn.clear();
                }
                self.isn.insert(key, t.seq);
            }
            let base = self.isn.get(&key).copied().unwrap_or(0);
            let rel = t.seq.wrapping_sub(base);
            let mut fl = String::new();
            for (bit, c) in [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (PSH, 'P'), (ACK, '.')] {
                if t.flags & bit != 0 {
                    fl.push(c);
                }
            }
            s += &format!(" [{fl}] seq {rel}:{}", rel.wrapping_add(t.len as u32));
        } else {
            s += " UDP";
        }
        s
    }

    /// Run one frame through the script. `Ok(frame)`: untouched, send it on
    /// now; `Err(())`: the script took it (dropped, or queued for later).
    fn process(&mut self, dir: Direction, now: Instant, frame: &[u8]) -> Result<(), ()> {
        if !self.script.rules.iter().any(|r| r.dir == dir) {
            return Ok(());
        }
        let info = classify(frame);
        let summary = self.summary(&info);
        let mut fired: Vec<(usize, u64)> = Vec::new();
        let mut partners: Vec<usize> = Vec::new();
        for (i, rule) in self.script.rules.iter().enumerate() {
            if !rule.matches(dir, &info) {
                continue;
            }
            self.matched[i] += 1;
            let n = self.matched[i];
            if self.swaps[i].is_some() {
                // The frame a held one waits for: it goes first, then the held one.
                partners.push(i);
            } else if rule.picks(n) {
                fired.push((i, n));
            }
        }
        let releases = |me: &mut Self, after: Instant| {
            for i in partners.iter().copied() {
                let Some(s) = me.swaps[i].take() else { continue };
                let n = me.matched[i];
                let head = me.script.rules[i].head();
                me.report(now, dir, i, format!("{head} #{}: sent after #{n} ({})", s.n, s.what));
                me.queue(dir, after, s.frame);
            }
        };
        if fired.is_empty() {
            if partners.is_empty() {
                return Ok(());
            }
            // Untouched, but a held frame follows it: queue both, in order.
            self.queue(dir, now, frame.to_vec());
            releases(self, now);
            return Err(());
        }
        let rules: Vec<(usize, u64, FaultRule)> =
            fired.iter().map(|&(i, n)| (i, n, self.script.rules[i].clone())).collect();
        if let Some((i, n, r)) = rules.iter().find(|(_, _, r)| r.action == FaultAction::Drop) {
            self.report(now, dir, *i, format!("{} #{n} ({summary})", r.head()));
            releases(self, now);
            return Err(());
        }
        let mut frame = frame.to_vec();
        let mut delay = Duration::ZERO;
        let mut copies = 1;
        let mut swap: Option<(usize, u64, Duration)> = None;
        for (i, n, r) in &rules {
            let head = format!("{} #{n}", r.head());
            match r.action {
                FaultAction::Corrupt => {
                    let at = info.end.clamp(ETH_HLEN + 1, frame.len().max(ETH_HLEN + 1)) - 1;
                    if let Some(b) = frame.get_mut(at) {
                        *b ^= 0x01;
                    }
                    self.report(now, dir, *i, format!("{head}: bit 0 of byte {at} flipped ({summary})"));
                }
                FaultAction::Delay(d) => {
                    delay += d;
                    self.report(now, dir, *i, format!("{head}: held {} ({summary})", fmt_dur(d)));
                }
                FaultAction::Dup => {
                    copies = 2;
                    self.report(now, dir, *i, format!("{head}: sent twice ({summary})"));
                }
                FaultAction::Reorder(hold) => {
                    if swap.is_none() {
                        swap = Some((*i, *n, hold));
                    }
                }
                FaultAction::Drop => {}
            }
        }
        if let Some((i, n, hold)) = swap {
            let head = self.script.rules[i].head();
            self.report(now, dir, i, format!("{head} #{n}: held for the next matching frame ({summary})"));
            for _ in 1..copies {
                self.queue(dir, now + delay, frame.clone());
            }
            self.swaps[i] = Some(Swap { deadline: now + hold, n, frame, what: summary });
        } else {
            for _ in 0..copies {
                self.queue(dir, now + delay, frame.clone());
            }
        }
        releases(self, now + delay);
        Err(())
    }

    /// Held `reorder` frames whose partner never came go on their own.
    fn expire_swaps(&mut self, now: Instant) {
        for i in 0..self.swaps.len() {
            if self.swaps[i].as_ref().is_some_and(|s| s.deadline <= now) {
                let s = self.swaps[i].take().expect("checked");
                let r = &self.script.rules[i];
                let (dir, head) = (r.dir, r.head());
                self.report(now, dir, i, format!("{head} #{}: no frame to swap with, sent alone ({})", s.n, s.what));
                self.queue(dir, now, s.frame);
            }
        }
    }

    /// Send every held outgoing frame that is due.
    fn flush_out(&mut self, now: Instant) -> io::Result<()> {
        self.expire_swaps(now);
        while self.out_q.peek().is_some_and(|Reverse(h)| h.at <= now) {
            let Reverse(h) = self.out_q.pop().expect("peeked");
            self.inner.send(now, &SkBuff::from_frame(&h.frame))?;
        }
        Ok(())
    }
}

impl<D: Device> Device for Scripted<D> {
    fn recv(&mut self, now: Instant) -> io::Result<Option<SkBuff>> {
        self.flush_out(now)?;
        loop {
            if self.in_q.peek().is_some_and(|Reverse(h)| h.at <= now) {
                let Reverse(h) = self.in_q.pop().expect("peeked");
                return Ok(Some(SkBuff::from_frame(&h.frame)));
            }
            let Some(skb) = self.inner.recv(now)? else { return Ok(None) };
            if self.process(Direction::In, now, skb.data()).is_ok() {
                return Ok(Some(skb));
            }
        }
    }

    fn send(&mut self, now: Instant, skb: &SkBuff) -> io::Result<()> {
        self.flush_out(now)?;
        if self.process(Direction::Out, now, skb.data()).is_ok() {
            return self.inner.send(now, skb);
        }
        self.flush_out(now)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }

    fn poll_at(&self) -> Option<Instant> {
        let mut t = self.inner.poll_at();
        t = earliest(t, self.in_q.peek().map(|Reverse(h)| h.at));
        t = earliest(t, self.out_q.peek().map(|Reverse(h)| h.at));
        for s in self.swaps.iter().flatten() {
            t = earliest(t, Some(s.deadline));
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Faults, Side, Wire};

    #[test]
    fn parses_the_issue_example() {
        let s = FaultScript::parse("drop out tcp data #3; delay in syn 500ms; reorder out 5,6; dup in synack").unwrap();
        assert_eq!(s.rules.len(), 4);
        assert_eq!(
            s.rules[0],
            FaultRule {
                action: FaultAction::Drop,
                dir: Direction::Out,
                selectors: vec![Selector::Tcp, Selector::Data],
                counts: Some(vec![(3, 3)]),
            }
        );
        assert_eq!(s.rules[1].action, FaultAction::Delay(Duration::from_millis(500)));
        assert_eq!(s.rules[1].dir, Direction::In);
        assert_eq!(s.rules[1].counts, None);
        assert_eq!(s.rules[2].action, FaultAction::Reorder(REORDER_HOLD));
        assert!(s.rules[2].selectors.is_empty());
        assert_eq!(s.rules[2].counts, Some(vec![(5, 5), (6, 6)]));
        assert_eq!(s.rules[3].selectors, vec![Selector::SynAck]);
        // Printing gives the script back, normalized.
        assert_eq!(s.to_string(), "drop out tcp data #3; delay in syn 500ms; reorder out #5,6; dup in synack");
        assert_eq!(FaultScript::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn parses_the_corners() {
        let s = FaultScript::parse(
            "\n DROP in tcp port 23 #2-4, 9 ;; corrupt out udp\nreorder in data 1 50ms\ndelay out 1.5s #1\n",
        )
        .unwrap();
        assert_eq!(s.rules.len(), 4);
        assert_eq!(s.rules[0].selectors, vec![Selector::Tcp, Selector::Port(23)]);
        assert_eq!(s.rules[0].counts, Some(vec![(2, 4), (9, 9)]));
        assert_eq!(s.rules[1].action, FaultAction::Corrupt);
        assert_eq!(s.rules[2].action, FaultAction::Reorder(Duration::from_millis(50)));
        assert_eq!(s.rules[2].counts, Some(vec![(1, 1)]));
        assert_eq!(s.rules[3].action, FaultAction::Delay(Duration::from_millis(1500)));
        assert_eq!(FaultScript::parse("").unwrap(), FaultScript::default());
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn bad_scripts_say_what_is_wrong() {
        let err = |s: &str| FaultScript::parse(s).unwrap_err();
        let cases = [
            ("drop out tcp #3; explode in tcp", "fault rule 2 (\"explode in tcp\"): unknown action \"explode\""),
            ("drop tcp #3", "want a direction (in or out) after the action, found \"tcp\""),
            ("drop", "want a direction"),
            ("drop out tcpp #3", "unknown word \"tcpp\" (selectors: any arp"),
            ("delay in syn", "delay wants a duration, like delay in syn 500ms"),
            ("delay in syn 500", "delay wants a duration"),
            ("delay in syn 500 ms", "unknown word \"ms\""),
            ("drop out tcp 500ms", "a duration (500ms) only goes with delay or reorder"),
            ("drop out #0", "frames are counted from #1, not #0"),
            ("drop out #", "\"#\" wants a frame number"),
            ("drop out #4-2", "the range \"4-2\" runs backwards"),
            ("drop out #x", "\"x\" in \"#x\" is not a frame number"),
            ("drop out #1 #2", "a second count \"#2\""),
            ("delay in 1s 2s", "a second duration \"2s\""),
            ("delay in 5000s", "durations go from 0 to 3600s"),
            ("drop in port", "\"port\" wants a number"),
            ("drop in port http", "\"http\" is not a port number"),
            ("delay in 1.x5s", "is not a duration"),
        ];
        for (script, want) in cases {
            let e = err(script);
            assert!(e.contains(want), "{script:?}: {e:?} should contain {want:?}");
        }
    }

    /// An Ethernet + IPv4 + TCP frame (checksums left zero: the matcher does not care).
    fn tcp_frame(flags: u8, seq: u32, payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; ETH_HLEN + 20 + 20 + payload];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[ETH_HLEN..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((40 + payload) as u16).to_be_bytes());
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[10, 0, 0, 2]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 1]);
        let tcp = &mut ip[20..];
        tcp[0..2].copy_from_slice(&7u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&40000u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        f
    }

    #[test]
    fn selectors_match_what_they_say() {
        let syn = classify(&tcp_frame(SYN, 1, 0));
        let synack = classify(&tcp_frame(SYN | ACK, 1, 0));
        let ack = classify(&tcp_frame(ACK, 1, 0));
        let data = classify(&tcp_frame(ACK | PSH, 1, 100));
        let fin = classify(&tcp_frame(ACK | FIN, 1, 0));
        let mut arp = vec![0u8; 60];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let arp = classify(&arp);
        use Selector::*;
        let m = |s: Selector, f: &FrameInfo| s.matches(f);
        assert!(m(Syn, &syn) && !m(Syn, &synack) && m(SynAck, &synack) && !m(SynAck, &syn));
        assert!(m(Ack, &ack) && !m(Ack, &data) && !m(Ack, &fin) && !m(Ack, &synack));
        assert!(m(Data, &data) && !m(Data, &ack) && m(Fin, &fin) && !m(Rst, &fin));
        assert!(m(Tcp, &data) && m(Ip, &data) && !m(Udp, &data) && !m(Arp, &data));
        assert!(m(Port(7), &data) && m(Port(40000), &data) && !m(Port(8), &data));
        assert!(m(Arp, &arp) && !m(Ip, &arp) && !m(Tcp, &arp) && m(Any, &arp));
        // Padding does not count as payload.
        let mut padded = tcp_frame(ACK, 1, 0);
        padded.resize(60, 0);
        assert!(m(Ack, &classify(&padded)));
    }

    /// Send frames from A through a `Scripted` port; what arrives at B, when.
    fn through(script: &str, frames: &[Vec<u8>]) -> (Vec<(Instant, u32)>, Vec<String>) {
        let wire = Wire::new(Faults::default());
        let mut a = Scripted::new(wire.port(Side::A), FaultScript::parse(script).unwrap());
        let log = a.log();
        let mut b = wire.port(Side::B);
        for (i, f) in frames.iter().enumerate() {
            a.send(Instant::from_millis(i as u64), &SkBuff::from_frame(f)).unwrap();
        }
        let mut got = Vec::new();
        let mut now = Instant::from_millis(frames.len() as u64);
        for _ in 0..100 {
            a.recv(now).unwrap(); // lets the device send what it holds
            while let Some(skb) = b.recv(now).unwrap() {
                let d = skb.data();
                got.push((now, u32::from_be_bytes([d[38], d[39], d[40], d[41]])));
            }
            match earliest(a.poll_at(), b.poll_at()) {
                Some(t) => now = t.max(now),
                None => break,
            }
        }
        (got, log.lines())
    }

    fn data_frames(n: u32) -> Vec<Vec<u8>> {
        (1..=n).map(|i| tcp_frame(ACK, i, 10)).collect()
    }

    #[test]
    fn drop_dup_reorder_delay_on_a_wire() {
        let seqs = |g: &[(Instant, u32)]| g.iter().map(|x| x.1).collect::<Vec<_>>();
        let (got, log) = through("drop out data #3", &data_frames(5));
        assert_eq!(seqs(&got), vec![1, 2, 4, 5]);
        assert_eq!(log.len(), 1);
        assert!(log[0].starts_with("fault: drop out data #3 (10.0.0.2.7 > 10.0.0.1.40000 [.] seq 3:13)"), "{log:?}");

        let (got, log) = through("dup out #2", &data_frames(3));
        assert_eq!(seqs(&got), vec![1, 2, 2, 3]);
        assert!(log[0].contains("dup out #2: sent twice"), "{log:?}");

        let (got, log) = through("reorder out 2,3", &data_frames(4));
        assert_eq!(seqs(&got), vec![1, 3, 2, 4]);
        assert_eq!(log.len(), 2, "{log:?}");
        assert!(log[1].contains("reorder out #2: sent after #3"), "{log:?}");

        // Nothing follows: the held frame goes alone after the hold time.
        let (got, log) = through("reorder out #2 20ms", &data_frames(2));
        assert_eq!(got, vec![(Instant::from_millis(2), 1), (Instant::from_millis(21), 2)]);
        assert!(log[1].contains("no frame to swap with"), "{log:?}");

        let (got, _) = through("delay out data 100ms #2", &data_frames(3));
        assert_eq!(got[2], (Instant::from_millis(101), 2), "{got:?}");
        assert_eq!(seqs(&got), vec![1, 3, 2]);
    }

    #[test]
    fn corrupt_flips_the_last_byte_of_the_ip_packet() {
        let wire = Wire::new(Faults::default());
        let mut a = Scripted::new(wire.port(Side::A), FaultScript::parse("corrupt out tcp").unwrap());
        let mut b = wire.port(Side::B);
        let mut f = tcp_frame(ACK, 1, 4);
        f.resize(70, 0); // padding after the IP packet
        a.send(Instant::ZERO, &SkBuff::from_frame(&f)).unwrap();
        let got = b.recv(Instant::ZERO).unwrap().unwrap();
        let diff: Vec<usize> = (0..f.len()).filter(|&i| f[i] != got.data()[i]).collect();
        assert_eq!(diff, vec![ETH_HLEN + 44 - 1]);
    }

    #[test]
    fn no_rule_for_a_direction_passes_frames_untouched() {
        let wire = Wire::new(Faults::default());
        let mut a = Scripted::new(wire.port(Side::A), FaultScript::parse("drop in tcp").unwrap());
        let mut b = wire.port(Side::B);
        a.send(Instant::ZERO, &SkBuff::from_frame(&tcp_frame(ACK, 9, 0))).unwrap();
        assert!(b.recv(Instant::ZERO).unwrap().is_some());
        b.send(Instant::ZERO, &SkBuff::from_frame(&tcp_frame(ACK, 9, 0))).unwrap();
        assert!(a.recv(Instant::ZERO).unwrap().is_none(), "dropped on the way in");
        assert_eq!(a.log().len(), 1);
        assert_eq!(a.log().events()[0].dir, Direction::In);
    }
}
