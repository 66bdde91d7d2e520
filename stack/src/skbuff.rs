//! `SkBuff`: one packet buffer that moves through every layer without copies.
//!
//! Read first: the Linux `struct sk_buff` (include/linux/skbuff.h). A buffer
//! has four offsets, `head <= data <= tail <= end`:
//!
//! ```text
//!  head          data                 tail            end
//!   |  headroom   |   packet bytes     |   tailroom    |
//! ```
//!
//! On transmit a socket allocates the buffer once with `reserve(MAX_HEADER)`,
//! copies the payload in with `put`, and each layer below *pushes* its header
//! into the headroom (TCP, then IP, then Ethernet). On receive the device
//! fills the buffer and each layer *pulls* its header off the front. The
//! payload bytes never move. Misuse (pushing past the headroom, putting past
//! the tailroom) is a bug in synack, not bad input, so it panics loudly, like
//! the kernel's `skb_under_panic` / `skb_over_panic`.
//!
//! Two pieces of metadata travel with the bytes, as in the kernel, for the
//! offloads (docs/performance.md):
//!
//! - `ip_summed` (`IpSummed`): who has checked, or still has to compute, the
//!   TCP/UDP checksum. A device that verified it (a TAP whose virtio-net
//!   header says `DATA_VALID`) marks the buffer `Unnecessary` and TCP skips
//!   its own check; TCP on a device with checksum offload leaves `Partial`
//!   (only the pseudo-header sum in the field, written by `set_partial`)
//!   for the device, or `SkBuff::checksum_help`, to finish.
//! - `gso_size`: a TCP segment longer than one MSS that the device cuts into
//!   `gso_size`-byte segments on the wire (TSO/GSO), or that arrived as many
//!   wire segments glued together (GRO).
//!
//! Buffers come from a small per-thread pool (`pool`): a frame read from a
//! device or a segment built by TCP reuses the memory of one freed earlier,
//! instead of `malloc` and zeroing it anew for every packet.

use crate::checksum;
use std::cell::RefCell;
use std::net::Ipv4Addr;

/// Room for the largest headers we ever push: Ethernet (14) + IPv4 with
/// options (60) + TCP with options (60), rounded up.
pub const MAX_HEADER: usize = 14 + 60 + 60 + 2;

/// Largest Ethernet frame we handle without VLAN tags (MTU 1500 + 14), with
/// slack so a device can read oversized frames and we can drop them by reason.
pub const MAX_FRAME: usize = 65536 + 14;

/// Who vouches for a packet's transport (TCP, UDP) checksum: Linux
/// `skb->ip_summed`.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum IpSummed {
    /// `CHECKSUM_NONE`. In: nobody has checked it, software must. Out: the
    /// checksum in the packet is complete.
    #[default]
    None,
    /// `CHECKSUM_UNNECESSARY` (in): the device checked it, it is good.
    Unnecessary,
    /// `CHECKSUM_PARTIAL`: the checksum field (`csum_start + csum_offset`)
    /// holds only the pseudo-header sum; the one's-complement sum of the
    /// bytes from `csum_start` to the end is still to be added. Out: the
    /// device does it. In: the packet comes from a sender on this machine
    /// that left it so (a virtio-net `NEEDS_CSUM`, two stacks in memory);
    /// it never crossed a wire, so it is trusted like `Unnecessary`.
    Partial,
}

/// What kind of large segment a GSO buffer is (`skb_shinfo(skb)->gso_type`).
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum GsoType {
    #[default]
    None,
    /// `SKB_GSO_TCPV4`: a TCP/IPv4 segment to cut (or glued) at `gso_size`.
    TcpV4,
}

///
/// 64 bytes: it is moved from queue to queue several times per packet, so
/// the header offsets are `u32` (`NO_HEADER` for none) rather than
/// `Option<usize>`, and the memory a `Box<[u8]>`.
pub struct SkBuff {
    /// The memory; `buf.len()` may exceed `end` (a pooled buffer).
    buf: Box<[u8]>,
    end: usize,
    data: usize,
    tail: usize,
    mac_header: u32,
    network_header: u32,
    transport_header: u32,
    /// With `IpSummed::Partial`: where the checksummed bytes start (from
    /// `head`, so pushing headers does not move it) and where the checksum
    /// field is, from there (16 for TCP, 6 for UDP).
    csum_start: u32,
    csum_offset: u16,
    gso_size: u16,
    ip_summed: IpSummed,
    gso_type: GsoType,
}

/// A header offset that was never set.
const NO_HEADER: u32 = u32::MAX;

fn header(o: u32) -> Option<usize> {
    (o != NO_HEADER).then_some(o as usize)
}

impl SkBuff {
    /// An empty buffer of `size` bytes; `data == tail == head`. Its bytes
    /// are whatever the pooled memory held: `put` hands out bytes to be
    /// written, and every caller writes all of them.
    pub fn with_capacity(size: usize) -> SkBuff {
        SkBuff {
            buf: pool::take(size),
            end: size,
            data: 0,
            tail: 0,
            mac_header: NO_HEADER,
            network_header: NO_HEADER,
            transport_header: NO_HEADER,
            ip_summed: IpSummed::None,
            csum_start: 0,
            csum_offset: 0,
            gso_size: 0,
            gso_type: GsoType::None,
        }
    }

    /// A transmit buffer for `payload_len` bytes with `MAX_HEADER` of headroom
    /// reserved once: each layer below pushes its own header into it.
    pub fn for_xmit(payload_len: usize) -> SkBuff {
        let mut skb = SkBuff::with_capacity(MAX_HEADER + payload_len);
        skb.reserve(MAX_HEADER);
        skb
    }

    /// A receive buffer holding a copy of a frame that arrived from a device.
    pub fn from_frame(frame: &[u8]) -> SkBuff {
        let mut skb = SkBuff::with_capacity(frame.len());
        skb.put_slice(frame);
        skb
    }

    /// `skb_reserve`: move `data` and `tail` forward on an empty buffer.
    pub fn reserve(&mut self, len: usize) {
        assert!(self.data == self.tail, "skb_reserve on a non-empty SkBuff");
        assert!(self.tail + len <= self.end, "skb_reserve past end: {} + {} > {}", self.tail, len, self.end);
        self.data += len;
        self.tail += len;
    }

    /// `skb_push`: grow the packet at the front by `len` bytes (a header).
    pub fn push(&mut self, len: usize) -> &mut [u8] {
        assert!(len <= self.data, "skb_under_panic: push {} with headroom {}", len, self.data);
        self.data -= len;
        &mut self.buf[self.data..self.data + len]
    }

    /// `skb_pull`: remove `len` bytes from the front and return them.
    pub fn pull(&mut self, len: usize) -> &[u8] {
        assert!(len <= self.len(), "skb_pull of {} from a {}-byte SkBuff", len, self.len());
        self.data += len;
        &self.buf[self.data - len..self.data]
    }

    /// `skb_put`: grow the packet at the end by `len` bytes and return them.
    pub fn put(&mut self, len: usize) -> &mut [u8] {
        assert!(len <= self.tailroom(), "skb_over_panic: put {} with tailroom {}", len, self.tailroom());
        self.tail += len;
        &mut self.buf[self.tail - len..self.tail]
    }

    pub fn put_slice(&mut self, bytes: &[u8]) {
        self.put(bytes.len()).copy_from_slice(bytes);
    }

    /// `skb_trim`: cut the packet down to `len` bytes (e.g. Ethernet padding).
    pub fn trim(&mut self, len: usize) {
        if len < self.len() {
            self.tail = self.data + len;
        }
    }

    pub fn headroom(&self) -> usize {
        self.data
    }
    pub fn tailroom(&self) -> usize {
        self.end - self.tail
    }
    pub fn len(&self) -> usize {
        self.tail - self.data
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The packet bytes, `data..tail`.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.data..self.tail]
    }
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.data..self.tail]
    }
    /// The unused bytes after `tail`, for a device to read a frame into
    /// (then `put(n)` with the count it read).
    pub fn tailroom_mut(&mut self) -> &mut [u8] {
        let (tail, end) = (self.tail, self.end);
        &mut self.buf[tail..end]
    }

    /// Fill the whole underlying buffer with `byte` (tests use 0xa5 so that a
    /// header field we forgot to write shows up).
    pub fn buf_fill_for_test(&mut self, byte: u8) {
        self.buf[..self.end].fill(byte);
    }

    /// Empty the buffer for reuse, keeping its allocation.
    pub fn clear(&mut self) {
        self.data = 0;
        self.tail = 0;
        self.mac_header = NO_HEADER;
        self.network_header = NO_HEADER;
        self.transport_header = NO_HEADER;
        self.ip_summed = IpSummed::None;
        self.gso_size = 0;
        self.gso_type = GsoType::None;
    }

    // ------------------------------------------------ checksum offload

    /// `skb->ip_summed`.
    pub fn ip_summed(&self) -> IpSummed {
        self.ip_summed
    }
    /// Set by a device on receive (`Unnecessary` for a checksum it verified).
    pub fn set_ip_summed(&mut self, s: IpSummed) {
        self.ip_summed = s;
    }
    /// `skb_csum_unnecessary`: the transport checksum need not be verified
    /// in software (the device did, or the packet never left this machine).
    pub fn csum_unnecessary(&self) -> bool {
        self.ip_summed != IpSummed::None
    }
    /// `skb_partial_csum_set`: mark `CHECKSUM_PARTIAL`; the checksummed
    /// bytes start `start` bytes after `data`, the field is `offset` bytes
    /// into them. The caller has put the pseudo-header sum in the field.
    pub fn set_csum_partial(&mut self, start: usize, offset: u16) {
        assert!(
            start + offset as usize + 2 <= self.len(),
            "csum_start {start} + csum_offset {offset} past a {}-byte packet",
            self.len()
        );
        self.ip_summed = IpSummed::Partial;
        self.csum_start = (self.data + start) as u32;
        self.csum_offset = offset;
    }
    /// With `Partial`: (start, offset) of the checksum, `start` counted from
    /// `data` as it is now (the Ethernet header, at a device).
    pub fn csum_partial(&self) -> Option<(usize, u16)> {
        let start = self.csum_start as usize;
        (self.ip_summed == IpSummed::Partial && start >= self.data).then(|| (start - self.data, self.csum_offset))
    }
    /// `skb_checksum_help`: finish a `Partial` checksum in software (for a
    /// device that cannot), leaving `None`: the packet is complete. A sum
    /// of zero goes out as 0xffff, the same value in one's complement
    /// (Linux's `CSUM_MANGLED_0`).
    pub fn checksum_help(&mut self) {
        let Some((start, offset)) = self.csum_partial() else { return };
        let field = start + offset as usize;
        let b = self.data_mut();
        let c = checksum::finish(checksum::add(0, &b[start..]));
        let c = if c == 0 { 0xffff } else { c };
        b[field..field + 2].copy_from_slice(&c.to_be_bytes());
        self.ip_summed = IpSummed::None;
    }

    // ------------------------------------------------------------- GSO

    /// Mark a TCP/IPv4 segment longer than one MSS: it leaves as segments
    /// of `gso_size` bytes of payload (`skb_shinfo(skb)->gso_size`).
    pub fn set_gso_tcpv4(&mut self, gso_size: u16) {
        self.gso_size = gso_size;
        self.gso_type = if gso_size == 0 { GsoType::None } else { GsoType::TcpV4 };
    }
    /// `skb_is_gso`.
    pub fn is_gso(&self) -> bool {
        self.gso_type != GsoType::None
    }
    pub fn gso_size(&self) -> usize {
        self.gso_size as usize
    }
    pub fn gso_type(&self) -> GsoType {
        self.gso_type
    }

    // Header offsets: `skb_reset_*_header` records where `data` is now; the
    // getters return the bytes from that header to `tail`.
    pub fn reset_mac_header(&mut self) {
        self.mac_header = self.data as u32;
    }
    pub fn reset_network_header(&mut self) {
        self.network_header = self.data as u32;
    }
    pub fn reset_transport_header(&mut self) {
        self.transport_header = self.data as u32;
    }
    pub fn mac_header(&self) -> Option<&[u8]> {
        header(self.mac_header).map(|o| &self.buf[o..self.tail])
    }
    pub fn network_header(&self) -> Option<&[u8]> {
        header(self.network_header).map(|o| &self.buf[o..self.tail])
    }
    pub fn transport_header(&self) -> Option<&[u8]> {
        header(self.transport_header).map(|o| &self.buf[o..self.tail])
    }
    /// Offset of the network header from `data` (for in-place rewrites).
    pub fn network_offset(&self) -> Option<usize> {
        header(self.network_header).and_then(|o| o.checked_sub(self.data))
    }
}

impl Clone for SkBuff {
    fn clone(&self) -> SkBuff {
        let mut c = SkBuff::with_capacity(self.end);
        c.buf[..self.end].copy_from_slice(&self.buf[..self.end]);
        c.data = self.data;
        c.tail = self.tail;
        c.mac_header = self.mac_header;
        c.network_header = self.network_header;
        c.transport_header = self.transport_header;
        c.ip_summed = self.ip_summed;
        c.csum_start = self.csum_start;
        c.csum_offset = self.csum_offset;
        c.gso_size = self.gso_size;
        c.gso_type = self.gso_type;
        c
    }
}

/// Equal: the same bytes at the same offsets with the same metadata.
impl PartialEq for SkBuff {
    fn eq(&self, o: &SkBuff) -> bool {
        self.buf[..self.end] == o.buf[..o.end]
            && (self.data, self.tail) == (o.data, o.tail)
            && (self.mac_header, self.network_header, self.transport_header)
                == (o.mac_header, o.network_header, o.transport_header)
            && (self.ip_summed, self.csum_start, self.csum_offset) == (o.ip_summed, o.csum_start, o.csum_offset)
            && (self.gso_size, self.gso_type) == (o.gso_size, o.gso_type)
    }
}
impl Eq for SkBuff {}

impl Drop for SkBuff {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.buf));
    }
}

// The size the comment on `SkBuff` promises.
const _: () = assert!(std::mem::size_of::<SkBuff>() <= 64);

/// The per-thread buffer pool: two size classes, an MTU-sized frame and a
/// 64 KiB GSO frame, each with room for the headers. A buffer of another
/// size is allocated and freed as usual. No zeroing on reuse: the bytes a
/// layer hands out with `put` or `push` are written before anyone reads
/// them (the 0xa5-fill tests check that for every header).
pub mod pool {
    use super::RefCell;

    /// A 1514-byte frame read with a virtio-net header, or an MSS segment
    /// with `MAX_HEADER` of headroom.
    pub const SMALL: usize = 2048;
    /// A 64 KiB GSO segment with its headers, or a GSO frame read whole.
    pub const LARGE: usize = 65536 + 1024;
    /// Buffers kept per class; more than this are freed. A 1 MiB window
    /// is about 720 MSS-sized segments in flight at once, or 16 GSO ones.
    const KEEP: [usize; 2] = [1024, 64];

    struct Pool {
        free: [Vec<Box<[u8]>>; 2],
        taken: u64,
        reused: u64,
    }

    thread_local! {
        static POOL: RefCell<Pool> =
            const { RefCell::new(Pool { free: [Vec::new(), Vec::new()], taken: 0, reused: 0 }) };
    }

    fn class(len: usize) -> Option<usize> {
        match len {
            SMALL => Some(0),
            LARGE => Some(1),
            _ => None,
        }
    }

    /// A buffer of at least `size` bytes.
    pub(super) fn take(size: usize) -> Box<[u8]> {
        let cls = if size <= SMALL {
            SMALL
        } else if size <= LARGE {
            LARGE
        } else {
            return vec![0; size].into_boxed_slice();
        };
        let reused = POOL
            .try_with(|p| {
                let mut p = p.borrow_mut();
                p.taken += 1;
                let v = p.free[class(cls).expect("a class")].pop();
                p.reused += v.is_some() as u64;
                v
            })
            .ok()
            .flatten();
        reused.unwrap_or_else(|| vec![0; cls].into_boxed_slice())
    }

    pub(super) fn give(buf: Box<[u8]>) {
        let Some(c) = class(buf.len()) else { return };
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.free[c].len() < KEEP[c] {
                p.free[c].push(buf);
            }
        });
    }

    /// Bytes the pool holds on this thread: a fixed reserve (at most
    /// `KEEP` buffers per class), not any connection's.
    pub fn held_bytes() -> usize {
        POOL.try_with(|p| {
            let p = p.borrow();
            p.free[0].len() * SMALL + p.free[1].len() * LARGE
        })
        .unwrap_or(0)
    }

    /// (buffers taken, of them reused from the pool) on this thread so far.
    pub fn stats() -> (u64, u64) {
        POOL.try_with(|p| {
            let p = p.borrow();
            (p.taken, p.reused)
        })
        .unwrap_or((0, 0))
    }
}

impl core::fmt::Debug for SkBuff {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SkBuff{{headroom: {}, len: {}, tailroom: {}}}", self.headroom(), self.len(), self.tailroom())
    }
}

/// `CHECKSUM_PARTIAL` on the way out (Linux `__tcp_v4_send_check`,
/// `udp4_hwcsum`): put the pseudo-header sum, folded and *not*
/// complemented, in the checksum field `csum_offset` bytes into the
/// segment at `skb.data()`, and leave the sum over the segment itself to
/// the device (or to `SkBuff::checksum_help`). The length in the
/// pseudo-header is the whole segment's, also for a GSO segment: the
/// device (the kernel's `tcp_gso_segment`) swaps it for each piece's.
pub fn set_partial(skb: &mut SkBuff, src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, csum_offset: u16) {
    let field = checksum::pseudo_header(src, dst, protocol, skb.len()) as u16;
    let o = csum_offset as usize;
    skb.data_mut()[o..o + 2].copy_from_slice(&field.to_be_bytes());
    skb.set_csum_partial(0, csum_offset);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::transport_checksum;

    #[test]
    fn push_pull_put_trim() {
        let mut skb = SkBuff::for_xmit(5);
        assert_eq!(skb.headroom(), MAX_HEADER);
        skb.put_slice(b"hello");
        skb.push(2).copy_from_slice(b"H2");
        skb.push(1).copy_from_slice(b"H");
        assert_eq!(skb.data(), b"HH2hello");
        assert_eq!(skb.pull(3), b"HH2");
        assert_eq!(skb.data(), b"hello");
        skb.trim(2);
        assert_eq!(skb.data(), b"he");
        assert_eq!(skb.tailroom(), 3);
    }

    #[test]
    fn header_offsets() {
        let mut skb = SkBuff::from_frame(b"EEIIITTpayload");
        skb.reset_mac_header();
        skb.pull(2);
        skb.reset_network_header();
        skb.pull(3);
        skb.reset_transport_header();
        assert_eq!(skb.mac_header().unwrap(), b"EEIIITTpayload");
        assert_eq!(skb.network_header().unwrap(), b"IIITTpayload");
        assert_eq!(skb.transport_header().unwrap(), b"TTpayload");
        assert_eq!(skb.network_offset(), None); // data moved past it
    }

    /// A freed buffer is the next one handed out (no malloc, no zeroing),
    /// with its size and metadata those of the new packet.
    #[test]
    fn buffers_come_back_from_the_pool() {
        let mut a = SkBuff::for_xmit(1460);
        a.put(1460).fill(7);
        a.set_gso_tcpv4(1460);
        a.set_ip_summed(IpSummed::Unnecessary);
        let addr = a.buf.as_ptr();
        drop(a);
        let (taken, reused) = pool::stats();
        let mut b = SkBuff::for_xmit(100);
        assert_eq!(b.buf.as_ptr(), addr, "the same memory");
        assert_eq!(pool::stats(), (taken + 1, reused + 1));
        assert_eq!((b.headroom(), b.len(), b.tailroom()), (MAX_HEADER, 0, 100), "sized for the new packet");
        assert!(!b.is_gso() && b.ip_summed() == IpSummed::None, "fresh metadata");
        b.put_slice(&[1; 100]);
        assert_eq!(b.clone(), b);
        // A 64 KiB buffer has its own class; an odd size is not pooled.
        let big = SkBuff::with_capacity(60_000);
        assert_eq!(big.buf.len(), pool::LARGE);
        let odd = SkBuff::with_capacity(pool::LARGE + 1);
        assert_eq!(odd.buf.len(), pool::LARGE + 1);
    }

    #[test]
    #[should_panic(expected = "skb_under_panic")]
    fn push_past_headroom_panics() {
        let mut skb = SkBuff::with_capacity(4);
        skb.push(1);
    }

    #[test]
    #[should_panic(expected = "skb_over_panic")]
    fn put_past_tailroom_panics() {
        let mut skb = SkBuff::for_xmit(2);
        skb.put(3);
    }

    /// A partial checksum finished by `checksum_help` equals the one
    /// computed in software at once, and verifies.
    #[test]
    fn partial_then_help_equals_full() {
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        for len in [20usize, 21, 1480, 9001] {
            let seg: Vec<u8> = (0..len as u32).map(|i| (i * 7 + 3) as u8).collect();
            let mut full = seg.clone();
            full[16..18].copy_from_slice(&[0, 0]);
            let c = transport_checksum(src, dst, 6, &full);
            full[16..18].copy_from_slice(&c.to_be_bytes());

            let mut skb = SkBuff::for_xmit(len);
            skb.put_slice(&seg);
            set_partial(&mut skb, src, dst, 6, 16);
            assert_eq!(skb.ip_summed(), IpSummed::Partial);
            assert_ne!(skb.data(), &full[..], "not finished yet");
            skb.push(34); // IP and Ethernet in front: csum_start stays put
            assert_eq!(skb.csum_partial(), Some((34, 16)));
            skb.checksum_help();
            assert_eq!(skb.ip_summed(), IpSummed::None);
            let out = &skb.data()[34..];
            let want = if c == 0 { 0xffff } else { c };
            assert_eq!(u16::from_be_bytes([out[16], out[17]]), want, "len {len}");
            assert_eq!(transport_checksum(src, dst, 6, out), 0);
        }
    }
}
