//! The one place synack reads the operating system's clock.
//!
//! The stack counts time in `stack::Instant` (microseconds since an epoch of
//! the driver's choosing). `Clock` chooses the moment it was created as that
//! epoch and maps `CLOCK_MONOTONIC` (Rust's `std::time::Instant`) onto it, so
//! time never jumps backwards when someone sets the wall clock. It also
//! remembers the wall-clock time of its epoch, for pcap timestamps that
//! Wireshark shows as real dates.
//!
//! Step mode (`synack up --step`) *freezes* the clock while a segment waits
//! for the user: `now()` stays put, so no timer of the stack comes due
//! during the pause. `thaw()` adds the pause to an offset, so time resumes
//! from where it stopped instead of jumping forward (which would fire every
//! timer at once). Like a debugger stopping a guest, the stack never sees
//! the pause; only the wall clock does (pcap timestamps are the stack's
//! time plus `wall_epoch`, so a pause does not show in a capture either).

use stack::Instant;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Copy, Clone, Debug)]
pub struct Clock {
    start: std::time::Instant,
    wall_start: Duration,
    /// Time spent frozen, before the current freeze: taken off `elapsed`.
    paused: Duration,
    /// Set while frozen: the OS instant the freeze began.
    frozen_at: Option<std::time::Instant>,
}

impl Clock {
    /// A clock whose `now()` is `Instant::ZERO` at this moment.
    pub fn new() -> Clock {
        let start = std::time::Instant::now();
        let wall_start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Clock { start, wall_start, paused: Duration::ZERO, frozen_at: None }
    }

    /// The stack's time now: microseconds since the clock was made, less
    /// the time spent frozen. While frozen, the instant of the freeze.
    pub fn now(&self) -> Instant {
        let os_now = self.frozen_at.unwrap_or_else(std::time::Instant::now);
        let running = os_now.saturating_duration_since(self.start).saturating_sub(self.paused);
        Instant::from_micros(running.as_micros() as u64)
    }

    /// Stop time for the stack: `now()` returns the same instant until
    /// `thaw`. Freezing a frozen clock does nothing.
    pub fn freeze(&mut self) {
        if self.frozen_at.is_none() {
            self.frozen_at = Some(std::time::Instant::now());
        }
    }

    /// Let time run again from where it stopped: the pause is not counted.
    pub fn thaw(&mut self) {
        if let Some(at) = self.frozen_at.take() {
            self.paused += at.elapsed();
        }
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen_at.is_some()
    }

    /// Total time spent frozen so far (the current freeze included).
    pub fn paused(&self) -> Duration {
        self.paused + self.frozen_at.map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// Wall-clock time (since 1970) at `Instant::ZERO`: add it to a stack
    /// instant to get a Unix timestamp.
    pub fn wall_epoch(&self) -> Duration {
        self.wall_start
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_near_zero_and_never_goes_back() {
        let c = Clock::new();
        let a = c.now();
        let b = c.now();
        assert!(a < Instant::from_secs(1));
        assert!(b >= a);
        assert!(c.wall_epoch() > Duration::from_secs(1_500_000_000));
    }

    #[test]
    fn a_frozen_clock_stands_still_and_resumes_without_a_jump() {
        let mut c = Clock::new();
        std::thread::sleep(Duration::from_millis(5));
        c.freeze();
        let frozen = c.now();
        assert!(frozen >= Instant::from_micros(5_000));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.now(), frozen, "time moved while frozen");
        c.freeze(); // a second freeze changes nothing
        assert_eq!(c.now(), frozen);
        assert!(c.is_frozen() && c.paused() >= Duration::from_millis(60));
        c.thaw();
        assert!(!c.is_frozen());
        let after = c.now();
        // It goes on from the frozen instant: not 60 ms later.
        assert!(after >= frozen);
        assert!(after.saturating_since(frozen) < stack::Duration::from_millis(30), "jumped: {frozen} -> {after}");
        std::thread::sleep(Duration::from_millis(10));
        assert!(c.now().saturating_since(after) >= stack::Duration::from_millis(10), "runs again after thaw");
        c.thaw(); // thawing a running clock changes nothing
        assert!(c.paused() >= Duration::from_millis(60) && c.paused() < Duration::from_millis(200));
    }
}
