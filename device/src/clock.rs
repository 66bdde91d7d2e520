//! The one place synack reads the operating system's clock.
//!
//! The stack counts time in `stack::Instant` (microseconds since an epoch of
//! the driver's choosing). `Clock` chooses the moment it was created as that
//! epoch and maps `CLOCK_MONOTONIC` (Rust's `std::time::Instant`) onto it, so
//! time never jumps backwards when someone sets the wall clock. It also
//! remembers the wall-clock time of its epoch, for pcap timestamps that
//! Wireshark shows as real dates.

use stack::Instant;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Copy, Clone, Debug)]
pub struct Clock {
    start: std::time::Instant,
    wall_start: Duration,
}

impl Clock {
    /// A clock whose `now()` is `Instant::ZERO` at this moment.
    pub fn new() -> Clock {
        let start = std::time::Instant::now();
        let wall_start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Clock { start, wall_start }
    }

    /// The stack's time now: microseconds since the clock was made.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
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
}
