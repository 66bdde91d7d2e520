//! `ping`: the stack's own ICMP echo client, written as a service.
//!
//! Read first: RFC 792 (echo and echo reply), and iputils' ping(8) for the
//! output this imitates line for line:
//!
//! ```text
//! PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.
//! 64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=0.210 ms
//!
//! --- 10.0.0.1 ping statistics ---
//! 1 packets transmitted, 1 received, 0% packet loss, time 0ms
//! rtt min/avg/max/mdev = 0.210/0.210/0.210/0.000 ms
//! ```
//!
//! A `PingJob` never blocks: `poll` sends the next request when its interval
//! has passed and collects replies; `poll_at` tells the loop when to come
//! back. It gives up `wait` after the last request.

use stack::{Duration, Instant, PingReply, Stack};
use std::collections::VecDeque;
use std::net::Ipv4Addr;

#[derive(Clone, Debug, PartialEq)]
pub struct PingOptions {
    pub dst: Ipv4Addr,
    /// Requests to send (`-c`).
    pub count: u32,
    /// Data bytes per request (`-s`), 56 by default: 64 bytes of ICMP.
    pub size: usize,
    /// Time between requests (`-i`).
    pub interval: Duration,
    /// How long to wait for replies after the last request (`-W`).
    pub wait: Duration,
    /// The ICMP identifier (ping(8) uses its process id).
    pub ident: u16,
}

impl PingOptions {
    pub fn new(dst: Ipv4Addr) -> PingOptions {
        PingOptions {
            dst,
            count: 4,
            size: 56,
            interval: Duration::from_secs(1),
            wait: Duration::from_secs(2),
            ident: 0x5359,
        }
    }
}

pub struct PingJob {
    opts: PingOptions,
    started: Instant,
    next_send: Instant,
    last_send: Option<Instant>,
    sent: u32,
    received: u32,
    errors: u32,
    rtts: Vec<Duration>,
    /// Lines of output not yet taken.
    lines: VecDeque<String>,
    done: bool,
}

impl PingJob {
    pub fn new(opts: PingOptions, now: Instant) -> PingJob {
        let mut lines = VecDeque::new();
        lines.push_back(format!("PING {0} ({0}) {1}({2}) bytes of data.", opts.dst, opts.size, opts.size + 28));
        PingJob {
            opts,
            started: now,
            next_send: now,
            last_send: None,
            sent: 0,
            received: 0,
            errors: 0,
            rtts: Vec::new(),
            lines,
            done: false,
        }
    }

    pub fn transmitted(&self) -> u32 {
        self.sent
    }
    pub fn received(&self) -> u32 {
        self.received
    }
    pub fn is_done(&self) -> bool {
        self.done
    }
    /// Output lines since the last call.
    pub fn take_lines(&mut self) -> Vec<String> {
        self.lines.drain(..).collect()
    }

    /// When the job next wants to run: the next request, or the end of the wait.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.done {
            None
        } else if self.sent < self.opts.count {
            Some(self.next_send)
        } else {
            self.last_send.map(|t| t + self.opts.wait)
        }
    }

    /// Collect replies, send what is due, finish when all came back or the
    /// wait is over.
    pub fn poll(&mut self, stack: &mut Stack, now: Instant) {
        if self.done {
            return;
        }
        while let Some(r) = stack.ping_recv_for(self.opts.ident) {
            self.on_reply(&r);
        }
        if self.sent < self.opts.count && now >= self.next_send {
            self.sent += 1;
            let seq = self.sent as u16;
            if let Err(e) = stack.ping_send(now, self.opts.dst, self.opts.ident, seq, self.opts.size) {
                self.errors += 1;
                self.lines.push_back(format!("ping: sendmsg: {}", e.text()));
            }
            self.last_send = Some(now);
            self.next_send = now + self.opts.interval;
        }
        let all_back = self.received >= self.opts.count;
        let waited = self.sent >= self.opts.count && self.last_send.is_some_and(|t| now >= t + self.opts.wait);
        if all_back || waited {
            self.finish(now);
        }
    }

    /// A reply for us (others' identifiers are ignored).
    pub fn on_reply(&mut self, r: &PingReply) {
        if r.ident != self.opts.ident || self.done {
            return;
        }
        self.received += 1;
        let time = match r.rtt {
            Some(rtt) => {
                self.rtts.push(rtt);
                format!(" time={} ms", format_ms(rtt))
            }
            None => String::new(),
        };
        self.lines.push_back(format!("{} bytes from {}: icmp_seq={} ttl={}{}", r.bytes, r.from, r.seq, r.ttl, time));
    }

    /// Stop now and print the statistics (also what Ctrl-C does).
    pub fn finish(&mut self, now: Instant) {
        if self.done {
            return;
        }
        self.done = true;
        let elapsed = self.last_send.unwrap_or(now).saturating_since(self.started);
        self.lines.push_back(String::new());
        self.lines.push_back(format!("--- {} ping statistics ---", self.opts.dst));
        let loss = if self.sent == 0 {
            0.0
        } else {
            (self.sent - self.received.min(self.sent)) as f64 * 100.0 / self.sent as f64
        };
        let errors = if self.errors > 0 { format!(", +{} errors", self.errors) } else { String::new() };
        self.lines.push_back(format!(
            "{} packets transmitted, {} received{}, {}% packet loss, time {}ms",
            self.sent,
            self.received,
            errors,
            format_g(loss),
            elapsed.as_millis()
        ));
        if !self.rtts.is_empty() {
            let us: Vec<f64> = self.rtts.iter().map(|d| d.as_micros() as f64).collect();
            let n = us.len() as f64;
            let min = us.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = us.iter().cloned().fold(0.0, f64::max);
            let avg = us.iter().sum::<f64>() / n;
            let mdev = (us.iter().map(|x| x * x).sum::<f64>() / n - avg * avg).max(0.0).sqrt();
            self.lines.push_back(format!(
                "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
                min / 1000.0,
                avg / 1000.0,
                max / 1000.0,
                mdev / 1000.0
            ));
        }
    }
}

impl device::Service for PingJob {
    fn poll(&mut self, stack: &mut Stack, now: Instant) {
        PingJob::poll(self, stack, now)
    }
    fn poll_at(&self) -> Option<Instant> {
        PingJob::poll_at(self)
    }
}

/// ping(8)'s precision: 0.210, 1.23, 12.3, 123.
pub fn format_ms(d: Duration) -> String {
    let us = d.as_micros();
    if us >= 100_000 {
        format!("{}", us / 1000)
    } else if us >= 10_000 {
        format!("{}.{:01}", us / 1000, (us % 1000) / 100)
    } else if us >= 1000 {
        format!("{}.{:02}", us / 1000, (us % 1000) / 10)
    } else {
        format!("{}.{:03}", us / 1000, us % 1000)
    }
}

/// C's `%g`: up to six significant digits, no trailing zeros.
fn format_g(x: f64) -> String {
    if x == x.trunc() {
        return format!("{x:.0}");
    }
    let digits = 6 - (x.abs().log10().floor() as i32 + 1).clamp(0, 6);
    let s = format!("{x:.*}", digits as usize);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use device::{Faults, Side, Sim};
    use stack::{Config, MacAddr};
    use std::cell::RefCell;
    use std::rc::Rc;

    fn host_cfg() -> Config {
        Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() }
    }

    /// The job stays reachable from the test while the simulation runs it.
    struct Shared(Rc<RefCell<PingJob>>);
    impl device::Service for Shared {
        fn poll(&mut self, stack: &mut Stack, now: Instant) {
            self.0.borrow_mut().poll(stack, now)
        }
        fn poll_at(&self) -> Option<Instant> {
            self.0.borrow().poll_at()
        }
    }

    #[test]
    fn formats_like_iputils() {
        assert_eq!(format_ms(Duration::from_micros(210)), "0.210");
        assert_eq!(format_ms(Duration::from_micros(1234)), "1.23");
        assert_eq!(format_ms(Duration::from_micros(12_345)), "12.3");
        assert_eq!(format_ms(Duration::from_micros(123_456)), "123");
        assert_eq!(format_g(0.0), "0");
        assert_eq!(format_g(20.0), "20");
        assert_eq!(format_g(100.0 / 3.0), "33.3333");
    }

    #[test]
    fn pings_the_other_stack() {
        let faults = Faults { latency: Duration::from_micros(105), ..Faults::default() };
        let mut sim = Sim::new(Config::default(), host_cfg(), faults);
        let opts = PingOptions { count: 3, ..PingOptions::new([10, 0, 0, 1].into()) };
        let job = Rc::new(RefCell::new(PingJob::new(opts, sim.now())));
        sim.add_service(Side::A, Shared(job.clone()));
        sim.run_until(|_| job.borrow().is_done(), Duration::from_secs(10)).unwrap();
        let mut job = job.borrow_mut();
        assert!(job.is_done());
        let lines = job.take_lines();
        assert_eq!(lines[0], "PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.");
        assert!(lines[1].starts_with("64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time="), "{lines:?}");
        assert_eq!(lines[2], "64 bytes from 10.0.0.1: icmp_seq=2 ttl=64 time=0.210 ms");
        assert_eq!(lines[3], "64 bytes from 10.0.0.1: icmp_seq=3 ttl=64 time=0.210 ms");
        assert_eq!(lines[5], "--- 10.0.0.1 ping statistics ---");
        assert_eq!(lines[6], "3 packets transmitted, 3 received, 0% packet loss, time 2000ms");
        assert!(lines[7].starts_with("rtt min/avg/max/mdev = "), "{lines:?}");
        assert_eq!(job.received(), 3);
    }

    #[test]
    fn gives_up_when_nobody_answers() {
        let mut sim = Sim::new(Config::default(), host_cfg(), Faults::lossy(1.0, 1));
        let opts = PingOptions { count: 2, ..PingOptions::new([10, 0, 0, 1].into()) };
        let mut job = PingJob::new(opts, sim.now());
        for _ in 0..100 {
            let now = sim.now();
            job.poll(sim.stack(Side::A), now);
            let Some(at) = job.poll_at() else { break };
            sim.run_for(at.saturating_since(now).max(Duration::from_micros(1))).unwrap();
        }
        assert!(job.is_done());
        // Two requests one second apart, then two seconds of waiting.
        assert_eq!(sim.now(), Instant::from_secs(3));
        let lines = job.take_lines();
        assert!(
            lines.contains(&"2 packets transmitted, 0 received, 100% packet loss, time 1000ms".to_string()),
            "{lines:?}"
        );
        assert_eq!(job.received(), 0);
    }
}
