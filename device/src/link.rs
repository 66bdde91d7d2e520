//! `Lossy`: a device middleware that makes a real link (a TAP) as bad as
//! the in-memory wire can be: seeded random loss, duplication, reordering,
//! corruption and delay, in both directions, plus blackouts (windows of
//! time in which nothing gets through either way).
//!
//! `synack up --link "loss 10%, reorder 25%, dup 5%, delay 20ms±10ms, seed 7"`
//! puts one between the TAP and the stack. Where `--faults` (faults.rs)
//! makes one precise accident happen to one chosen frame, `--link` makes
//! the link bad at random, the same way for the same seed and the same
//! traffic. Each direction draws its faults with the wire's own code
//! (`wire::apply_faults`), from an RNG of its own (seeded `seed` and
//! `seed + 1`), so what the host sends does not change what befalls what
//! synack sends.
//!
//! The grammar: items separated by `,` or `;`:
//! - `loss 10%`, `dup 5%`, `corrupt 1%`: probabilities per frame;
//! - `reorder 25%` or `reorder 25% by 30ms`: hold a frame back (default
//!   10 ms) so that later ones overtake it;
//! - `delay 20ms` or `delay 20ms±10ms` (also `20ms+-10ms`): one-way delay,
//!   uniform in 10..=30 ms there; the link stays FIFO but for `reorder`;
//! - `blackout 10s+30s`: from 10 s after start, for 30 s, drop everything
//!   (more than one may be given);
//! - `queue 10000`: frames in flight per direction before a full queue drops;
//! - `seed 7`.

use crate::wire::{apply_faults, Faults, Lane, WireStats};
use crate::Device;
use rand::rngs::StdRng;
use rand::SeedableRng;
use stack::time::earliest;
use stack::{Duration, Instant, SkBuff};
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::os::unix::io::RawFd;
use std::rc::Rc;

/// What a `--link` spec says.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    /// Applied to each direction (the seed of the way out is `seed + 1`).
    pub faults: Faults,
    /// (start after the device's first use, length): nothing gets through.
    pub blackouts: Vec<(Duration, Duration)>,
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec { faults: Faults { queue_limit: 10_000, ..Faults::default() }, blackouts: Vec::new() }
    }
}

fn parse_pct(w: &str) -> Result<f64, String> {
    let n = w.strip_suffix('%').ok_or(format!("{w:?}: a probability is a percentage, like 10%"))?;
    let v = n.parse::<f64>().map_err(|_| format!("{w:?} is not a percentage"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("{w:?}: percentages go from 0% to 100%"));
    }
    Ok(v / 100.0)
}

/// `500ms`, `30s`, `1.5s`, `250us`, `2m` (up to a day): the fault
/// script's durations, with a longer reach.
fn parse_dur(w: &str) -> Result<Duration, String> {
    crate::faults::parse_duration_upto(w, Duration::from_secs(86_400))
}

impl LinkSpec {
    pub fn parse(s: &str) -> Result<LinkSpec, String> {
        let mut spec = LinkSpec::default();
        for item in s.split([',', ';']).map(str::trim).filter(|i| !i.is_empty()) {
            let words: Vec<&str> = item.split_whitespace().collect();
            let f = &mut spec.faults;
            match words.as_slice() {
                ["loss", p] => f.loss = parse_pct(p)?,
                ["dup" | "duplicate", p] => f.duplicate = parse_pct(p)?,
                ["corrupt", p] => f.corrupt = parse_pct(p)?,
                ["reorder", p] => f.reorder = parse_pct(p)?,
                ["reorder", p, "by", d] => {
                    f.reorder = parse_pct(p)?;
                    f.reorder_delay = parse_dur(d)?;
                }
                ["delay", d] => {
                    let (mid, spread) = match d.split_once('±').or_else(|| d.split_once("+-")) {
                        Some((m, j)) => (parse_dur(m)?, parse_dur(j)?),
                        None => (parse_dur(d)?, Duration::ZERO),
                    };
                    if spread > mid {
                        return Err(format!("{item:?}: the spread is larger than the delay"));
                    }
                    f.latency = mid - spread;
                    f.jitter = spread * 2;
                }
                ["seed", n] => f.seed = n.parse().map_err(|_| format!("{item:?}: the seed is a number"))?,
                ["queue", n] => {
                    f.queue_limit =
                        n.parse().ok().filter(|&n| n > 0).ok_or(format!("{item:?}: the queue is a number > 0"))?
                }
                ["blackout", w] => {
                    let (at, len) = w.split_once('+').ok_or(format!("{item:?}: want blackout START+LENGTH"))?;
                    spec.blackouts.push((parse_dur(at)?, parse_dur(len)?));
                }
                _ => {
                    return Err(format!(
                        "{item:?}: not a link fault (loss P%, dup P%, corrupt P%, reorder P% [by D], \
                         delay D[±J], blackout START+LEN, queue N, seed N)"
                    ))
                }
            }
        }
        Ok(spec)
    }

    /// Is `t` (since the start) inside a blackout?
    pub fn blacked_out(&self, since_start: Duration) -> bool {
        self.blackouts.iter().any(|&(at, len)| since_start >= at && since_start < at + len)
    }
}

impl fmt::Display for LinkSpec {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let f = &self.faults;
        let pct = |p: f64| format!("{}%", (p * 1e4).round() / 1e2);
        let d = |d: Duration| crate::faults::fmt_dur(d);
        let mut items = Vec::new();
        if f.loss > 0.0 {
            items.push(format!("loss {}", pct(f.loss)));
        }
        if f.reorder > 0.0 {
            items.push(format!("reorder {} by {}", pct(f.reorder), d(f.reorder_delay)));
        }
        if f.duplicate > 0.0 {
            items.push(format!("dup {}", pct(f.duplicate)));
        }
        if f.corrupt > 0.0 {
            items.push(format!("corrupt {}", pct(f.corrupt)));
        }
        if f.latency > Duration::ZERO || f.jitter > Duration::ZERO {
            let half = f.jitter / 2;
            items.push(format!("delay {}±{}", d(f.latency + half), d(half)));
        }
        for &(at, len) in &self.blackouts {
            items.push(format!("blackout {}+{}", d(at), d(len)));
        }
        items.push(format!("seed {}", f.seed));
        write!(out, "{}", items.join(", "))
    }
}

/// What the link did: index 0 the way in (to the stack), 1 the way out.
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq)]
pub struct LinkStats {
    pub dir: [WireStats; 2],
    /// Frames dropped by a blackout.
    pub blackout: [u64; 2],
}

impl fmt::Display for LinkStats {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in ["in", "out"].iter().enumerate() {
            let s = self.dir[i];
            writeln!(
                out,
                "link {name}: sent {} delivered {} lost {} duplicated {} reordered {} corrupted {} \
                 overflowed {} blackout {}",
                s.sent, s.delivered, s.lost, s.duplicated, s.reordered, s.corrupted, s.overflowed, self.blackout[i]
            )?;
        }
        Ok(())
    }
}

/// At most this many frames are taken from the inner device per `recv`
/// (the rest stay there, and its descriptor polls readable again).
const RX_BATCH: usize = 256;

/// The middleware: wraps a device; both directions pass a lossy lane.
pub struct Lossy<D> {
    inner: D,
    spec: LinkSpec,
    start: Option<Instant>,
    rng: [StdRng; 2],
    seq: u64,
    lanes: [Lane; 2],
    stats: Rc<RefCell<LinkStats>>,
}

impl<D: Device> Lossy<D> {
    pub fn new(inner: D, spec: LinkSpec) -> Lossy<D> {
        let seed = spec.faults.seed;
        Lossy {
            inner,
            rng: [StdRng::seed_from_u64(seed), StdRng::seed_from_u64(seed.wrapping_add(1))],
            spec,
            start: None,
            seq: 0,
            lanes: [Lane::default(), Lane::default()],
            stats: Rc::default(),
        }
    }

    /// A handle on the statistics (they go on updating).
    pub fn stats_handle(&self) -> Rc<RefCell<LinkStats>> {
        self.stats.clone()
    }
    pub fn stats(&self) -> LinkStats {
        *self.stats.borrow()
    }
    pub fn spec(&self) -> &LinkSpec {
        &self.spec
    }
    pub fn inner(&self) -> &D {
        &self.inner
    }
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    fn since_start(&mut self, now: Instant) -> Duration {
        let start = *self.start.get_or_insert(now);
        now.saturating_since(start)
    }

    /// A frame enters lane `i` (0 in, 1 out) at `now`.
    fn enter(&mut self, i: usize, now: Instant, frame: &[u8]) {
        let since = self.since_start(now);
        let dark = self.spec.blacked_out(since);
        let mut st = self.stats.borrow_mut();
        if dark {
            st.dir[i].sent += 1;
            st.blackout[i] += 1;
            return;
        }
        apply_faults(
            &self.spec.faults,
            &mut self.rng[i],
            &mut self.seq,
            &mut self.lanes[i],
            &mut st.dir[i],
            now,
            frame,
        );
    }

    /// Send what is due on the way out.
    fn flush_out(&mut self, now: Instant) -> io::Result<()> {
        while let Some(f) = self.lanes[1].pop_due(now) {
            self.stats.borrow_mut().dir[1].delivered += 1;
            self.inner.send(now, &SkBuff::from_frame(&f))?;
        }
        Ok(())
    }
}

impl<D: Device> Device for Lossy<D> {
    fn recv(&mut self, now: Instant) -> io::Result<Option<SkBuff>> {
        self.flush_out(now)?;
        for _ in 0..RX_BATCH {
            let Some(skb) = self.inner.recv(now)? else { break };
            self.enter(0, now, skb.data());
        }
        Ok(self.lanes[0].pop_due(now).map(|f| {
            self.stats.borrow_mut().dir[0].delivered += 1;
            SkBuff::from_frame(&f)
        }))
    }

    fn send(&mut self, now: Instant, skb: &SkBuff) -> io::Result<()> {
        self.enter(1, now, skb.data());
        self.flush_out(now)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }

    fn poll_at(&self) -> Option<Instant> {
        earliest(self.inner.poll_at(), earliest(self.lanes[0].next_at(), self.lanes[1].next_at()))
    }
}

/// Frames held in the lanes (both directions).
impl<D> Lossy<D> {
    pub fn in_flight(&self) -> usize {
        self.lanes[0].len() + self.lanes[1].len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Side, Wire};
    use stack::wire::EthernetFrame;

    #[test]
    fn parses_the_issue_example_and_prints_it_back() {
        let s = LinkSpec::parse("loss 10%, reorder 25%, dup 5%, delay 20ms±10ms, seed 7").unwrap();
        assert_eq!(s.faults.loss, 0.1);
        assert_eq!(s.faults.reorder, 0.25);
        assert_eq!(s.faults.duplicate, 0.05);
        assert_eq!(s.faults.latency, Duration::from_millis(10));
        assert_eq!(s.faults.jitter, Duration::from_millis(20));
        assert_eq!(s.faults.seed, 7);
        assert_eq!(s.to_string(), "loss 10%, reorder 25% by 10ms, dup 5%, delay 20ms±10ms, seed 7");
        assert_eq!(LinkSpec::parse(&s.to_string()).unwrap(), s);
        let b = LinkSpec::parse("blackout 10s+30s; delay 5ms+-1ms; queue 50; corrupt 0.5%").unwrap();
        assert_eq!(b.blackouts, vec![(Duration::from_secs(10), Duration::from_secs(30))]);
        assert!(!b.blacked_out(Duration::from_millis(9_999)));
        assert!(b.blacked_out(Duration::from_secs(10)));
        assert!(b.blacked_out(Duration::from_millis(39_999)));
        assert!(!b.blacked_out(Duration::from_secs(40)));
        assert_eq!(b.faults.queue_limit, 50);
        for bad in ["loss 10", "loss 200%", "delay 5ms±10ms", "blackout 10s", "teleport 5%", "seed x"] {
            assert!(LinkSpec::parse(bad).is_err(), "{bad} parsed");
        }
    }

    /// A wire port as the inner device: frames sent from the wire's A end
    /// go through the middleware (on B) to "the stack", and back.
    fn rig(spec: &str) -> (crate::wire::WirePort, Lossy<crate::wire::WirePort>) {
        let wire = Wire::new(Faults::default());
        (wire.port(Side::A), Lossy::new(wire.port(Side::B), LinkSpec::parse(spec).unwrap()))
    }

    fn numbered(i: u32) -> SkBuff {
        let mut f = vec![0u8; 60];
        EthernetFrame::new_unchecked(&mut f[..]).payload_mut()[..4].copy_from_slice(&i.to_be_bytes());
        SkBuff::from_frame(&f)
    }

    /// Run `n` frames each way, one per ms; what arrived at each end.
    fn run(spec: &str, n: u32) -> (Vec<u32>, Vec<u32>, LinkStats) {
        let (mut host, mut lossy) = rig(spec);
        let (mut got_in, mut got_out) = (Vec::new(), Vec::new());
        let num =
            |s: SkBuff| u32::from_be_bytes(EthernetFrame::new_unchecked(s.data()).payload()[..4].try_into().unwrap());
        for ms in 0..(u64::from(n) + 2000) {
            let now = Instant::from_millis(ms);
            if ms < u64::from(n) {
                host.send(now, &numbered(ms as u32)).unwrap();
                lossy.send(now, &numbered(ms as u32)).unwrap();
            }
            while let Some(s) = lossy.recv(now).unwrap() {
                got_in.push(num(s));
            }
            while let Some(s) = host.recv(now).unwrap() {
                got_out.push(num(s));
            }
        }
        (got_in, got_out, lossy.stats())
    }

    #[test]
    fn a_clean_link_passes_everything_in_order() {
        let (i, o, st) = run("seed 1", 100);
        assert_eq!(i, (0..100).collect::<Vec<_>>());
        assert_eq!(o, (0..100).collect::<Vec<_>>());
        assert_eq!(st.dir[0].delivered, 100);
        assert_eq!(st.dir[1].delivered, 100);
    }

    #[test]
    fn faults_at_about_their_rates_each_way_and_the_same_per_seed() {
        let spec = "loss 10%, reorder 25%, dup 5%, delay 20ms±10ms, seed 7";
        let (i, o, st) = run(spec, 4000);
        for d in 0..2 {
            let s = st.dir[d];
            assert_eq!(s.sent, 4000);
            assert!((320..480).contains(&s.lost), "lost {}", s.lost);
            assert!((800..1000).contains(&s.reordered), "reordered {}", s.reordered);
            assert!((120..240).contains(&s.duplicated), "dup {}", s.duplicated);
            assert_eq!(s.delivered, s.sent - s.lost + s.duplicated);
        }
        assert!(i.windows(2).any(|w| w[1] < w[0]), "reordered");
        assert_ne!(i, o, "each direction draws its own faults");
        let (i2, o2, st2) = run(spec, 4000);
        assert_eq!((i, o, st), (i2, o2, st2));
    }

    #[test]
    fn a_blackout_drops_everything_both_ways_then_heals() {
        let (i, o, st) = run("blackout 100ms+200ms, seed 3", 500);
        let expect: Vec<u32> = (0..100).chain(300..500).collect();
        assert_eq!(i, expect);
        assert_eq!(o, expect);
        assert_eq!(st.blackout, [200, 200]);
    }

    #[test]
    fn delay_holds_frames_and_says_when() {
        let (mut host, mut lossy) = rig("delay 20ms, seed 1");
        host.send(Instant::ZERO, &numbered(1)).unwrap();
        assert!(lossy.recv(Instant::ZERO).unwrap().is_none());
        assert_eq!(lossy.poll_at(), Some(Instant::from_millis(20)));
        assert!(lossy.recv(Instant::from_millis(19)).unwrap().is_none());
        assert!(lossy.recv(Instant::from_millis(20)).unwrap().is_some());
        lossy.send(Instant::from_millis(20), &numbered(2)).unwrap();
        assert_eq!(lossy.in_flight(), 1);
        assert!(host.recv(Instant::from_millis(39)).unwrap().is_none());
        // The loop calls recv when poll_at is due: that sends the held frame.
        assert_eq!(lossy.poll_at(), Some(Instant::from_millis(40)));
        assert!(lossy.recv(Instant::from_millis(40)).unwrap().is_none());
        assert!(host.recv(Instant::from_millis(40)).unwrap().is_some());
    }
}
