//! IP_TTL and IP_TOS: a socket's values are in the IP header of what it
//! sends (Linux `ip_select_ttl`, `inet->tos`; `ip_sock_set_tos` keeps the
//! ECN bits TCP's own). A stack A (10.0.0.1) sends to B (10.0.0.2); the
//! test reads A's frames on the wire.

use stack::socket::IP_DEFAULT_TTL;
use stack::{Config, Errno, Instant, MacAddr, SkBuff, SockOpt, SockOptName, SockType, Stack};

/// Ethernet (14) + IPv4: TOS is byte 1 of the IP header, TTL byte 8.
const TOS_AT: usize = 14 + 1;
const TTL_AT: usize = 14 + 8;

fn pair() -> (Stack, Stack) {
    let a_cfg = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), seed: 1, ..Config::default() };
    let mut a = Stack::new(a_cfg, Instant::ZERO);
    let mut b = Stack::new(Config::default(), Instant::ZERO);
    // A ping, so each side knows the other's MAC.
    a.ping_send(Instant::ZERO, [10, 0, 0, 2].into(), 1, 1, 8).unwrap();
    for _ in 0..4 {
        while let Some(f) = a.poll_transmit(Instant::ZERO) {
            b.handle_frame(Instant::ZERO, SkBuff::from_frame(f.data()));
        }
        while let Some(f) = b.poll_transmit(Instant::ZERO) {
            a.handle_frame(Instant::ZERO, SkBuff::from_frame(f.data()));
        }
    }
    assert!(a.ping_recv().is_some());
    (a, b)
}

/// The IPv4 frames A sends now: (TOS, TTL) of each.
fn headers(a: &mut Stack) -> Vec<(u8, u8)> {
    std::iter::from_fn(|| a.poll_transmit(Instant::ZERO)).map(|f| (f.data()[TOS_AT], f.data()[TTL_AT])).collect()
}

#[test]
fn tcp_syn_carries_the_sockets_ttl_and_tos() {
    let (mut a, _b) = pair();
    let s = a.socket(SockType::Stream).unwrap();
    assert_eq!(a.getsockopt(s, SockOptName::Ttl), Ok(SockOpt::Ttl(i32::from(IP_DEFAULT_TTL))));
    for bad in [0, 256, -2] {
        assert_eq!(a.setsockopt(Instant::ZERO, s, SockOpt::Ttl(bad)), Err(Errno::EINVAL), "{bad}");
    }
    a.setsockopt(Instant::ZERO, s, SockOpt::Ttl(7)).unwrap();
    // The ECN bits (0x03) stay TCP's: 0x13 is kept as 0x10.
    a.setsockopt(Instant::ZERO, s, SockOpt::Tos(0x13)).unwrap();
    assert_eq!(a.getsockopt(s, SockOptName::Tos), Ok(SockOpt::Tos(0x10)));
    let _ = a.connect(Instant::ZERO, s, "10.0.0.2:7".parse().unwrap());
    assert_eq!(headers(&mut a), vec![(0x10, 7)]);
    // -1: back to the default.
    a.setsockopt(Instant::ZERO, s, SockOpt::Ttl(-1)).unwrap();
    assert_eq!(a.getsockopt(s, SockOptName::Ttl), Ok(SockOpt::Ttl(64)));
}

#[test]
fn udp_datagrams_carry_the_sockets_ttl_and_tos() {
    let (mut a, _b) = pair();
    let u = a.socket(SockType::Dgram).unwrap();
    let to = Some("10.0.0.2:9".parse().unwrap());
    a.sendto(Instant::ZERO, u, b"x", to).unwrap();
    assert_eq!(headers(&mut a), vec![(0, 64)], "the defaults");
    a.setsockopt(Instant::ZERO, u, SockOpt::Ttl(200)).unwrap();
    a.setsockopt(Instant::ZERO, u, SockOpt::Tos(0xb9)).unwrap();
    a.sendto(Instant::ZERO, u, b"y", to).unwrap();
    assert_eq!(headers(&mut a), vec![(0xb9, 200)], "UDP keeps the whole byte");
}
