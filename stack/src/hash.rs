//! `FlowHash`: the hash of the lookups every packet makes (the 4-tuple to a
//! connection, an address to a neighbour), cheaper than the standard
//! library's SipHash.
//!
//! Read first: Linux's `inet_ehashfn` (net/ipv4/inet_hashtables.c): the
//! established table hashes the 4-tuple with jhash and a secret chosen at
//! boot (`net_secret`), so that a peer who picks its addresses and ports
//! cannot aim them all at one bucket without knowing the secret.
//!
//! synack does the same with a folded multiply (the 128-bit product of two
//! 64-bit words, its halves XORed, as in foldhash and wyhash) keyed with two
//! secret words taken, like `HashMap::new` takes its own, from the
//! standard library's per-process random keys. SipHash-1-3, the standard
//! library's hash, was 4-6% of the in-memory bulk transfer's time
//! (docs/performance.md), most of it in the many small `write` calls a
//! `(SocketAddrV4, SocketAddrV4)` makes; this one costs a multiply per field.
//! It is not a cryptographic PRF: the key makes collisions a guess, as
//! jhash's secret does for Linux.

use std::hash::{BuildHasher, Hasher};

/// Odd constants (the fractional digits of pi), mixed into the key.
const P0: u64 = 0x243f_6a88_85a3_08d3;
const P1: u64 = 0x1319_8a2e_0370_7344;

#[inline]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let full = (x as u128).wrapping_mul(y as u128);
    (full as u64) ^ ((full >> 64) as u64)
}

/// The `BuildHasher` for the stack's per-packet tables, with a secret key.
#[derive(Clone, Debug)]
pub struct FlowHash {
    k0: u64,
    k1: u64,
}

impl FlowHash {
    /// A key from the standard library's random keys (the same source
    /// `HashMap::new` draws from; the stack's own seeded RNG is left alone,
    /// so that a run stays a pure function of its inputs).
    pub fn new() -> FlowHash {
        let r = std::collections::hash_map::RandomState::new();
        FlowHash::with_key(r.hash_one(P0), r.hash_one(P1))
    }

    /// A fixed key (tests).
    pub fn with_key(k0: u64, k1: u64) -> FlowHash {
        FlowHash { k0: k0 ^ P0, k1: k1 | 1 }
    }
}

impl Default for FlowHash {
    fn default() -> Self {
        FlowHash::new()
    }
}

impl BuildHasher for FlowHash {
    type Hasher = FlowHasher;
    fn build_hasher(&self) -> FlowHasher {
        FlowHasher { acc: self.k0, k: self.k1 }
    }
}

/// One hash computation: each field is folded into the accumulator with a
/// keyed multiply.
pub struct FlowHasher {
    acc: u64,
    k: u64,
}

impl FlowHasher {
    #[inline]
    fn mix(&mut self, v: u64) {
        self.acc = folded_multiply(self.acc ^ v, self.k ^ P1);
    }
}

impl Hasher for FlowHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" + "" apart from "a" + "b".
            self.mix(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.mix(v as u64);
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.mix(v as u64);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.mix(v as u64);
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.mix(v as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        folded_multiply(self.acc, self.k ^ P0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn tuple(i: u32) -> (SocketAddrV4, SocketAddrV4) {
        (
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80),
            SocketAddrV4::new(Ipv4Addr::from(0x0a01_0000 + (i >> 16)), i as u16),
        )
    }

    /// The 4-tuples a SYN flood from a /16 with every source port would use
    /// spread over the buckets: no bucket of 4096 gets far more than its share.
    #[test]
    fn four_tuples_spread_over_buckets() {
        let h = FlowHash::with_key(1, 2);
        let mut buckets = vec![0u32; 4096];
        let n = 1 << 20;
        for i in 0..n {
            buckets[(h.hash_one(tuple(i)) & 4095) as usize] += 1;
        }
        let (min, max) = (*buckets.iter().min().unwrap(), *buckets.iter().max().unwrap());
        assert!(min > 256 - 80 && max < 256 + 80, "bucket loads {min}..{max}, mean 256");
        // And the top bits (hashbrown's control bytes) vary too.
        let tops: HashSet<u64> = (0..4096).map(|i| h.hash_one(tuple(i)) >> 57).collect();
        assert_eq!(tops.len(), 128);
    }

    #[test]
    fn the_key_changes_the_hash() {
        let (a, b) = (FlowHash::with_key(1, 2), FlowHash::with_key(3, 4));
        let same = (0..1000).filter(|&i| a.hash_one(tuple(i)) == b.hash_one(tuple(i))).count();
        assert_eq!(same, 0);
        assert_ne!(FlowHash::new().hash_one(tuple(7)), FlowHash::new().hash_one(tuple(7)), "random keys");
        // Slices of different splits differ.
        let mut x = a.build_hasher();
        x.write(b"ab");
        x.write(b"");
        let mut y = a.build_hasher();
        y.write(b"a");
        y.write(b"b");
        assert_ne!(x.finish(), y.finish());
    }
}
