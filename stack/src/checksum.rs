//! The Internet checksum (RFC 1071) and the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1).

use std::net::Ipv4Addr;

/// Add `data` to a running 32-bit one's-complement accumulator, 16 bits at a
/// time in network byte order; an odd final byte is padded with zero.
pub fn add(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u16::from_be_bytes([c[0], c[1]]) as u32);
        if sum >= 0xffff_0000 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let [b] = chunks.remainder() {
        sum = sum.wrapping_add((*b as u32) << 8);
    }
    sum
}

/// Fold the accumulator to 16 bits and complement it.
pub fn finish(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Checksum of one buffer (IPv4 header, ICMP message).
pub fn checksum(data: &[u8]) -> u16 {
    finish(add(0, data))
}

/// The accumulator primed with the IPv4 pseudo-header.
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: usize) -> u32 {
    let mut sum = add(0, &src.octets());
    sum = add(sum, &dst.octets());
    sum += protocol as u32;
    sum += len as u32;
    sum
}

/// Checksum of a UDP or TCP segment (`segment` includes its header, with the
/// checksum field as it stands: zero when computing, as received when verifying).
/// A received segment verifies when this returns 0.
pub fn transport_checksum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, segment: &[u8]) -> u16 {
    finish(add(pseudo_header(src, dst, protocol, segment.len()), segment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2, checksum 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn ipv4_header_verifies_to_zero() {
        // A real header captured from `ping`.
        let hdr = [
            0x45, 0x00, 0x00, 0x24, 0xe4, 0x52, 0x40, 0x00, 0x40, 0x01, 0x42, 0x84, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00,
            0x00, 0x02,
        ];
        assert_eq!(checksum(&hdr), 0);
    }
}
