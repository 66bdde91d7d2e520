//! The blocking `epoll_wait(2)`: the stack's `epoll_wait` never waits; this
//! one runs the network (the poll loop, or a simulation in virtual time)
//! until the ready list has something, or the timeout passes. It is the
//! same split as the blocking socket calls in socket.rs: the caller is in
//! process context, the loop plays the softirq whose wake-ups fill the
//! ready list.

use crate::socket::{Net, Result};
use stack::{Duration, EpollEvent, EpollHandle};

/// Wait at most `timeout` (`None`: without limit; `Some(Duration::ZERO)`:
/// just look) for events on `ep`; fills `events` with at most `max` and
/// returns how many (0 when the timeout passed). A signal during the wait
/// ends it with `EINTR`, as on Linux (epoll_wait is never restarted).
pub fn epoll_wait<N: Net + ?Sized>(
    net: &mut N,
    ep: EpollHandle,
    events: &mut Vec<EpollEvent>,
    max: usize,
    timeout: Option<Duration>,
) -> Result<usize> {
    let deadline = timeout.map(|t| net.now() + t);
    loop {
        let n = net.stack().epoll_wait(ep, events, max)?;
        if n > 0 {
            return Ok(n);
        }
        if deadline.is_some_and(|d| net.now() >= d) {
            return Ok(0);
        }
        if let Err(e) = net.wait(deadline) {
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Err(stack::Errno::EINTR.into());
            }
            return Err(e.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Faults, Side, Sim};
    use stack::{Config, EpollFlags, EpollOp, MacAddr, SockType};

    #[test]
    fn waits_in_virtual_time_until_a_datagram_arrives_or_the_timeout() {
        let a = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() };
        let faults = Faults { latency: Duration::from_millis(30), ..Faults::default() };
        let mut sim = Sim::new(a, Config::default(), faults);
        let b = sim.stack(Side::B);
        let u = b.socket(SockType::Dgram).unwrap();
        b.bind(u, "0.0.0.0:7".parse().unwrap()).unwrap();
        let ep = b.epoll_create();
        b.epoll_ctl(ep, EpollOp::Add, u, EpollFlags::EPOLLIN, 42).unwrap();
        let mut events = Vec::new();
        // Nothing sent: the wait ends at its timeout.
        let t0 = sim.now();
        let n = epoll_wait(&mut sim.host(Side::B), ep, &mut events, 8, Some(Duration::from_millis(500))).unwrap();
        assert_eq!(n, 0);
        assert_eq!(sim.now(), t0 + Duration::from_millis(500));
        // A datagram is on its way: the wait ends when it arrives.
        let c = sim.stack(Side::A).socket(SockType::Dgram).unwrap();
        let now = sim.now();
        sim.stack(Side::A).sendto(now, c, b"hi", Some("10.0.0.2:7".parse().unwrap())).unwrap();
        let n = epoll_wait(&mut sim.host(Side::B), ep, &mut events, 8, None).unwrap();
        assert_eq!(n, 1);
        assert_eq!((events[0].token, events[0].events), (42, EpollFlags::EPOLLIN));
        assert!(sim.now() > now && sim.now() < now + Duration::from_secs(1), "woke at {}", sim.now());
        // A zero timeout only looks.
        assert_eq!(epoll_wait(&mut sim.host(Side::B), ep, &mut events, 8, Some(Duration::ZERO)).unwrap(), 1);
    }
}
