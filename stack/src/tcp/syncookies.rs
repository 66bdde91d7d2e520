//! SYN cookies: answer a SYN without keeping any state, and rebuild the
//! connection from the ACK that comes back.
//!
//! Read first: RFC 4987 §3.6 (SYN cookies), D. J. Bernstein's
//! <https://cr.yp.to/syncookies.html>. Linux: net/ipv4/syncookies.c
//! (`secure_tcp_syn_cookie`, `check_tcp_syn_cookie`, `msstab`,
//! `cookie_v4_check`) and `tcp_syncookies = 1`: cookies are used only when
//! the SYN queue is full.
//!
//! The cookie is our ISS. Like Linux's, it is
//!
//! ```text
//!   ISS = H(4-tuple, 0) + SEG.SEQ + (count << 24) + ((H(4-tuple, count) + mss_index) mod 2^24)
//! ```
//!
//! where `H` is SipHash-2-4 keyed with a secret derived from the stack's
//! seeded ISN key, `count` a counter of minutes of `now`, and `mss_index`
//! picks the peer's MSS from `MSSTAB`. The ACK of the SYN-ACK carries ISS + 1:
//! subtracting the first hash and the peer's ISN (SEG.SEQ - 1) leaves
//! `count` in the top 8 bits (a cookie older than `MAX_AGE` minutes is
//! refused) and, after the second hash, the MSS index in the low 24 bits.
//! A forged cookie passes only if those 24 bits land on one of the 4
//! indexes: 1 in 4 million. Without TCP timestamps a cookie has no room
//! for window scaling (Linux keeps it in the timestamp), so a connection
//! made from a cookie runs unscaled.

use super::seq::{siphash24, SeqNumber};
use crate::time::Instant;
use std::net::SocketAddrV4;

/// Linux `msstab`: the MSS values a cookie can carry (2 bits).
pub const MSSTAB: [u16; 4] = [536, 1300, 1440, 1460];
/// Linux `COOKIEBITS`: the low bits carry the MSS index (and hash).
const COOKIEBITS: u32 = 24;
const COOKIEMASK: u32 = (1 << COOKIEBITS) - 1;
/// Linux `MAX_SYNCOOKIE_AGE`: a cookie is good for this many counter ticks.
pub const MAX_AGE: u32 = 2;
/// Linux `TCP_SYNCOOKIE_PERIOD`: the counter ticks once a minute.
const PERIOD_SECS: u64 = 60;

/// The cookie secret, derived from the ISN key so the seeded RNG's stream
/// (and with it every port and ISN of a recorded run) stays as it was.
pub fn cookie_key(isn_key: &[u64; 2]) -> [u64; 2] {
    [siphash24(isn_key, b"syncookie key 0"), siphash24(isn_key, b"syncookie key 1")]
}

/// Linux `tcp_cookie_time`: the minute counter.
pub fn cookie_time(now: Instant) -> u32 {
    (now.total_micros() / 1_000_000 / PERIOD_SECS) as u32
}

fn hash(key: &[u64; 2], local: SocketAddrV4, remote: SocketAddrV4, count: u32, c: u8) -> u32 {
    let mut msg = [0u8; 17];
    msg[0..4].copy_from_slice(&local.ip().octets());
    msg[4..6].copy_from_slice(&local.port().to_be_bytes());
    msg[6..10].copy_from_slice(&remote.ip().octets());
    msg[10..12].copy_from_slice(&remote.port().to_be_bytes());
    msg[12..16].copy_from_slice(&count.to_be_bytes());
    msg[16] = c;
    siphash24(key, &msg) as u32
}

/// The index into `MSSTAB` for a peer that announced `mss`: the largest
/// entry not above it (Linux `__cookie_v4_init_sequence`).
pub fn mss_index(mss: u16) -> u32 {
    MSSTAB.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32
}

/// Linux `secure_tcp_syn_cookie`: the ISS for a SYN with sequence number `seq`.
pub fn make(
    key: &[u64; 2],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    seq: SeqNumber,
    count: u32,
    data: u32,
) -> SeqNumber {
    let v = hash(key, local, remote, 0, 0)
        .wrapping_add(seq.0)
        .wrapping_add(count << COOKIEBITS)
        .wrapping_add(hash(key, local, remote, count, 1).wrapping_add(data) & COOKIEMASK);
    SeqNumber(v)
}

/// Linux `check_tcp_syn_cookie`: `cookie` is SEG.ACK - 1 of the returning
/// ACK and `seq` its SEG.SEQ - 1 (the peer's ISN). The MSS index if valid.
pub fn check(
    key: &[u64; 2],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    cookie: SeqNumber,
    seq: SeqNumber,
    count: u32,
) -> Option<u32> {
    let c = cookie.0.wrapping_sub(hash(key, local, remote, 0, 0)).wrapping_sub(seq.0);
    // How many minutes ago it was made, from its top 8 bits.
    let diff = count.wrapping_sub(c >> COOKIEBITS) & (u32::MAX >> COOKIEBITS);
    if diff >= MAX_AGE {
        return None;
    }
    let data = c.wrapping_sub(hash(key, local, remote, count.wrapping_sub(diff), 1)) & COOKIEMASK;
    ((data as usize) < MSSTAB.len()).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_checks_for_two_minutes_and_only_for_its_tuple() {
        let key = cookie_key(&[1, 2]);
        let l: SocketAddrV4 = "10.0.0.2:80".parse().unwrap();
        let r: SocketAddrV4 = "192.0.2.7:40000".parse().unwrap();
        let r2: SocketAddrV4 = "192.0.2.7:40001".parse().unwrap();
        let seq = SeqNumber(0xffff_fff0);
        for idx in 0..4 {
            let c = make(&key, l, r, seq, 1000, idx);
            assert_eq!(check(&key, l, r, c, seq, 1000), Some(idx));
            assert_eq!(check(&key, l, r, c, seq, 1001), Some(idx));
            assert_eq!(check(&key, l, r, c, seq, 1002), None, "too old");
            assert_eq!(check(&key, l, r2, c, seq, 1000), None, "another port");
            // (Like Linux, the ISN is only subtracted: an ISN off by less than 4
            // shifts the index; any real peer echoes its own.)
            assert_eq!(check(&key, l, r, c, seq + 4096usize, 1000), None, "another ISN");
            assert_eq!(check(&cookie_key(&[1, 3]), l, r, c, seq, 1000), None, "another key");
        }
        assert_eq!(mss_index(1460), 3);
        assert_eq!(mss_index(1400), 1);
        assert_eq!(mss_index(100), 0);
        assert_eq!(mss_index(9000), 3);
    }

    #[test]
    fn guessed_cookies_almost_never_pass() {
        let key = cookie_key(&[5, 6]);
        let l: SocketAddrV4 = "10.0.0.2:80".parse().unwrap();
        let r: SocketAddrV4 = "192.0.2.7:40000".parse().unwrap();
        let passed = (0..1_000_000u32)
            .filter(|&i| check(&key, l, r, SeqNumber(i.wrapping_mul(0x9e37_79b9)), SeqNumber(7), 5).is_some())
            .count();
        // Expected 1e6 * 2 ages * 4 / 2^24 ≈ 0.5 (of the guesses whose top
        // bits name a live minute).
        assert!(passed <= 3, "{passed} guesses passed");
    }
}

/// Linux's `TSBITS`: the low bits of a cookie SYN-ACK's TSval that carry
/// the SYN's options (`cookie_init_timestamp`).
const TS_BITS: u32 = 6;
const TS_OPT_WSCALE_MASK: u32 = 0xf;
const TS_OPT_SACK: u32 = 1 << 4;

/// The options of a SYN as a cookie keeps them in a TSval: the peer's
/// window scale (0xf: none) and SACK-Permitted.
pub fn ts_options(wscale: Option<u8>, sack: bool) -> u32 {
    let mut o = wscale.map_or(TS_OPT_WSCALE_MASK, |w| u32::from(w) & TS_OPT_WSCALE_MASK);
    if sack {
        o |= TS_OPT_SACK;
    }
    o
}

/// `now` with its low bits replaced by `options`, never later than `now`.
pub fn ts_with_options(now: u32, options: u32) -> u32 {
    let ts = (now >> TS_BITS << TS_BITS) | options;
    if ts > now {
        ts.wrapping_sub(1 << TS_BITS)
    } else {
        ts
    }
}

/// `cookie_timestamp_decode`: the window scale and SACK-Permitted a cookie
/// ACK's TSecr carries back.
pub fn ts_options_decode(tsecr: u32) -> (Option<u8>, bool) {
    let o = tsecr & ((1 << TS_BITS) - 1);
    let wscale = o & TS_OPT_WSCALE_MASK;
    ((wscale != TS_OPT_WSCALE_MASK).then_some(wscale as u8), o & TS_OPT_SACK != 0)
}

#[cfg(test)]
mod ts_tests {
    use super::*;

    #[test]
    fn a_cookie_tsval_carries_the_options_and_never_runs_ahead() {
        for now in [0u32, 5, 63, 64, 1000, u32::MAX] {
            for (ws, sack) in [(Some(7), true), (None, false), (Some(0), false), (Some(14), true)] {
                let ts = ts_with_options(now, ts_options(ws, sack));
                assert!(now.wrapping_sub(ts) < 64, "{now} {ts}");
                assert_eq!(ts_options_decode(ts), (ws, sack));
            }
        }
    }
}
