//! Virtual time for a sans-IO stack.
//!
//! The stack never reads a clock. Every entry point takes `now: Instant`, and
//! the stack answers with the next `Instant` it wants to be woken at
//! (`Stack::poll_timeout`). The poll loop in `device` maps the OS clock onto
//! this type; tests and pcap replay jump it forward by hand, so a two-minute
//! TIME_WAIT runs in microseconds.

use core::ops::{Add, AddAssign, Sub};
pub use core::time::Duration;

/// Microseconds since an arbitrary epoch chosen by whoever drives the stack.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Instant {
    micros: u64,
}

impl Instant {
    pub const ZERO: Instant = Instant { micros: 0 };

    pub const fn from_micros(micros: u64) -> Instant {
        Instant { micros }
    }
    pub const fn from_millis(millis: u64) -> Instant {
        Instant { micros: millis * 1000 }
    }
    pub const fn from_secs(secs: u64) -> Instant {
        Instant { micros: secs * 1_000_000 }
    }
    pub const fn total_micros(self) -> u64 {
        self.micros
    }
    pub const fn total_millis(self) -> u64 {
        self.micros / 1000
    }
    /// Time elapsed since `earlier`, zero if `earlier` is in the future.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.micros.saturating_sub(earlier.micros))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant { micros: self.micros.saturating_add(d.as_micros().min(u64::MAX as u128) as u64) }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant { micros: self.micros.saturating_sub(d.as_micros().min(u64::MAX as u128) as u64) }
    }
}

/// `a - b` saturates at zero: time never runs backwards in the stack.
impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, other: Instant) -> Duration {
        self.saturating_since(other)
    }
}

impl core::fmt::Display for Instant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.pad(&format!("{}.{:06}", self.micros / 1_000_000, self.micros % 1_000_000))
    }
}

/// The earliest of two optional deadlines.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(5);
        assert_eq!(t + Duration::from_millis(1), Instant::from_millis(6));
        assert_eq!(t - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(earliest(Some(t), None), Some(t));
        assert_eq!(earliest(Some(t), Some(Instant::ZERO)), Some(Instant::ZERO));
        assert_eq!(format!("{}", Instant::from_micros(1_500_000)), "1.500000");
        assert_eq!(format!("{:>10}", Instant::from_micros(1_500_000)), "  1.500000");
    }
}
