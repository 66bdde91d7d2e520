//! Initial sequence numbers.
//!
//! Read first: RFC 6528 (ISN = M + F(4-tuple, secret)). Linux:
//! `secure_tcp_seq()` in net/core/secure_seq.c. The sequence number itself,
//! `SeqNumber` with its wrapping comparisons (RFC 9293 §3.4, RFC 1982), is
//! a field of the header: `wire/tcp.rs`.

use crate::time::Instant;
use std::net::SocketAddrV4;

pub use crate::wire::tcp::SeqNumber;

/// RFC 6528 §3: `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`,
/// where M is a timer ticking every 4 µs and F a keyed hash (SipHash-2-4
/// here, as in Linux). The key comes from the seeded RNG when `Tcp` starts.
pub fn isn(key: &[u64; 2], local: SocketAddrV4, remote: SocketAddrV4, now: Instant) -> SeqNumber {
    let mut msg = [0u8; 12];
    msg[0..4].copy_from_slice(&local.ip().octets());
    msg[4..6].copy_from_slice(&local.port().to_be_bytes());
    msg[6..10].copy_from_slice(&remote.ip().octets());
    msg[10..12].copy_from_slice(&remote.port().to_be_bytes());
    let f = siphash24(key, &msg) as u32;
    // M: the 4 µs clock of RFC 793 §3.3, wrapping every ~4.77 hours.
    let m = (now.total_micros() / 4) as u32;
    SeqNumber(f.wrapping_add(m))
}

/// SipHash-2-4 (Aumasson & Bernstein), the keyed hash Linux uses for ISNs.
pub fn siphash24(key: &[u64; 2], data: &[u8]) -> u64 {
    let mut v = [
        key[0] ^ 0x736f_6d65_7073_6575,
        key[1] ^ 0x646f_7261_6e64_6f6d,
        key[0] ^ 0x6c79_6765_6e65_7261,
        key[1] ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    last[7] = data.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    round(&mut v);
    round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_reference_vector() {
        // The SipHash paper, Appendix A: key 00..0f, message 00..0e.
        let key = [u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]), u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15])];
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(&key, &msg), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn isn_depends_on_tuple_key_and_clock() {
        let k = [1, 2];
        let l: SocketAddrV4 = "10.0.0.2:80".parse().unwrap();
        let r: SocketAddrV4 = "10.0.0.1:40000".parse().unwrap();
        let r2: SocketAddrV4 = "10.0.0.1:40001".parse().unwrap();
        let t = Instant::from_secs(1);
        assert_eq!(isn(&k, l, r, t), isn(&k, l, r, t));
        assert_ne!(isn(&k, l, r, t), isn(&k, l, r2, t));
        assert_ne!(isn(&k, l, r, t), isn(&[3, 4], l, r, t));
        // The clock part: 4 µs per tick.
        assert_eq!(isn(&k, l, r, t + core::time::Duration::from_micros(40)) - isn(&k, l, r, t), 10);
    }
}
