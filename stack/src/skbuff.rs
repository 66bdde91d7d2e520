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

/// Room for the largest headers we ever push: Ethernet (14) + IPv4 with
/// options (60) + TCP with options (60), rounded up.
pub const MAX_HEADER: usize = 14 + 60 + 60 + 2;

/// Largest Ethernet frame we handle without VLAN tags (MTU 1500 + 14), with
/// slack so a device can read oversized frames and we can drop them by reason.
pub const MAX_FRAME: usize = 65536 + 14;

#[derive(Clone, PartialEq, Eq)]
pub struct SkBuff {
    buf: Vec<u8>,
    data: usize,
    tail: usize,
    mac_header: Option<usize>,
    network_header: Option<usize>,
    transport_header: Option<usize>,
}

impl SkBuff {
    /// An empty buffer of `size` bytes; `data == tail == head`.
    pub fn with_capacity(size: usize) -> SkBuff {
        SkBuff { buf: vec![0; size], data: 0, tail: 0, mac_header: None, network_header: None, transport_header: None }
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
        assert!(
            self.tail + len <= self.buf.len(),
            "skb_reserve past end: {} + {} > {}",
            self.tail,
            len,
            self.buf.len()
        );
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
        self.buf.len() - self.tail
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
        let tail = self.tail;
        &mut self.buf[tail..]
    }

    /// Fill the whole underlying buffer with `byte` (tests use 0xa5 so that a
    /// header field we forgot to write shows up).
    pub fn buf_fill_for_test(&mut self, byte: u8) {
        self.buf.fill(byte);
    }

    /// Empty the buffer for reuse, keeping its allocation.
    pub fn clear(&mut self) {
        self.data = 0;
        self.tail = 0;
        self.mac_header = None;
        self.network_header = None;
        self.transport_header = None;
    }

    // Header offsets: `skb_reset_*_header` records where `data` is now; the
    // getters return the bytes from that header to `tail`.
    pub fn reset_mac_header(&mut self) {
        self.mac_header = Some(self.data);
    }
    pub fn reset_network_header(&mut self) {
        self.network_header = Some(self.data);
    }
    pub fn reset_transport_header(&mut self) {
        self.transport_header = Some(self.data);
    }
    pub fn mac_header(&self) -> Option<&[u8]> {
        self.mac_header.map(|o| &self.buf[o..self.tail])
    }
    pub fn network_header(&self) -> Option<&[u8]> {
        self.network_header.map(|o| &self.buf[o..self.tail])
    }
    pub fn transport_header(&self) -> Option<&[u8]> {
        self.transport_header.map(|o| &self.buf[o..self.tail])
    }
    /// Offset of the network header from `data` (for in-place rewrites).
    pub fn network_offset(&self) -> Option<usize> {
        self.network_header.and_then(|o| o.checked_sub(self.data))
    }
}

impl core::fmt::Debug for SkBuff {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SkBuff{{headroom: {}, len: {}, tailroom: {}}}", self.headroom(), self.len(), self.tailroom())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
