//! Packet captures: `PcapWriter<D>` records every frame a device carries,
//! `PcapReader` reads a capture back, and `replay` feeds one to a stack.
//!
//! Read first: the libpcap file format (the classic `.pcap`, not pcapng):
//! a 24-byte global header (magic, version 2.4, snaplen, link type 1 =
//! Ethernet), then for each frame a 16-byte record header (seconds,
//! microseconds, captured length, original length) and the bytes. Wireshark,
//! `tshark -r` and `tcpdump -r` all read it.

use crate::Device;
use pcap_file::pcap as pf;
use pcap_file::{DataLink, Endianness, TsResolution};
use stack::{Instant, SkBuff, Stack};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::io::RawFd;
use std::path::Path;
use std::time::Duration;

/// Frames longer than this are cut in the capture (tcpdump's default snaplen).
pub const SNAPLEN: u32 = 262_144;

fn pcap_err(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// A device middleware that writes each frame in and out to a pcap file,
/// stamped with the time the stack saw it (plus `epoch`, so a capture from
/// the real clock shows real dates; a simulation's capture starts in 1970).
///
/// The global header is written with pcap-file's `PcapHeader`; each record
/// header is four native-endian `u32`s, written here in plain sight.
pub struct PcapWriter<D, W: Write = BufWriter<File>> {
    inner: D,
    out: W,
    epoch: Duration,
    frames: u64,
}

impl<D: Device> PcapWriter<D> {
    /// Create (truncate) `path` and record `inner`'s frames into it.
    pub fn create(inner: D, path: impl AsRef<Path>, epoch: Duration) -> io::Result<PcapWriter<D>> {
        PcapWriter::new(inner, BufWriter::new(File::create(path)?), epoch)
    }
}

impl<D: Device, W: Write> PcapWriter<D, W> {
    /// Write the global header to `out` and record `inner`'s frames after it.
    pub fn new(inner: D, mut out: W, epoch: Duration) -> io::Result<PcapWriter<D, W>> {
        let header = pf::PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::native(),
        };
        header.write_to(&mut out).map_err(pcap_err)?;
        out.flush()?;
        Ok(PcapWriter { inner, out, epoch, frames: 0 })
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }
    pub fn inner(&self) -> &D {
        &self.inner
    }
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }
    /// Flush and give back the device and the writer.
    pub fn into_parts(mut self) -> io::Result<(D, W)> {
        self.out.flush()?;
        Ok((self.inner, self.out))
    }

    /// One record: `ts_sec, ts_usec, incl_len, orig_len`, then the bytes.
    fn record(&mut self, now: Instant, frame: &[u8]) -> io::Result<()> {
        let ts = self.epoch + Duration::from_micros(now.total_micros());
        let caplen = frame.len().min(SNAPLEN as usize);
        let mut hdr = [0u8; 16];
        hdr[0..4].copy_from_slice(&(ts.as_secs() as u32).to_ne_bytes());
        hdr[4..8].copy_from_slice(&ts.subsec_micros().to_ne_bytes());
        hdr[8..12].copy_from_slice(&(caplen as u32).to_ne_bytes());
        hdr[12..16].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        self.out.write_all(&hdr)?;
        self.out.write_all(&frame[..caplen])?;
        self.frames += 1;
        // Flush each frame: the file stays readable while synack runs (and
        // complete if it is killed), for one write(2) per frame, as the TAP.
        self.out.flush()
    }
}

impl<D: Device, W: Write> Device for PcapWriter<D, W> {
    fn recv(&mut self, now: Instant) -> io::Result<Option<SkBuff>> {
        let r = self.inner.recv(now)?;
        if let Some(skb) = &r {
            self.record(now, skb.data())?;
        }
        Ok(r)
    }
    fn send(&mut self, now: Instant, skb: &SkBuff) -> io::Result<()> {
        self.record(now, skb.data())?;
        self.inner.send(now, skb)
    }
    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }
    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }
}

/// One frame read from a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapFrame {
    /// The record's timestamp (since 1970, or since the start of a simulation).
    pub timestamp: Duration,
    /// The length on the wire; `data` may be shorter if the capture cut it.
    pub orig_len: u32,
    pub data: Vec<u8>,
}

/// Reads a classic pcap file with Ethernet link type, frame by frame.
pub struct PcapReader<R: Read = BufReader<File>> {
    inner: pf::PcapReader<R>,
}

impl PcapReader {
    pub fn open(path: impl AsRef<Path>) -> io::Result<PcapReader> {
        PcapReader::new(BufReader::new(File::open(path)?))
    }
}

impl<R: Read> PcapReader<R> {
    /// Read the global header; only Ethernet captures are accepted.
    pub fn new(r: R) -> io::Result<PcapReader<R>> {
        let inner = pf::PcapReader::new(r).map_err(pcap_err)?;
        let link = inner.header().datalink;
        if link != DataLink::ETHERNET {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("pcap link type {link:?}: synack reads Ethernet captures only"),
            ));
        }
        Ok(PcapReader { inner })
    }
}

impl<R: Read> Iterator for PcapReader<R> {
    type Item = io::Result<PcapFrame>;
    fn next(&mut self) -> Option<io::Result<PcapFrame>> {
        let p = self.inner.next_packet()?;
        Some(
            p.map(|p| PcapFrame { timestamp: p.timestamp, orig_len: p.orig_len, data: p.data.into_owned() })
                .map_err(pcap_err),
        )
    }
}

/// Replay a capture into `stack` on a virtual clock: the first frame arrives
/// at `start`, each next one as much later as in the capture; the stack's
/// timers run at their deadlines in between. Returns every frame the stack
/// sent, with the time it sent it.
pub fn replay(
    stack: &mut Stack,
    frames: impl IntoIterator<Item = io::Result<PcapFrame>>,
    start: Instant,
) -> io::Result<Vec<(Instant, SkBuff)>> {
    let mut sent = Vec::new();
    let mut first: Option<Duration> = None;
    let drain = |stack: &mut Stack, now: Instant, sent: &mut Vec<(Instant, SkBuff)>| {
        while let Some(skb) = stack.poll_transmit(now) {
            sent.push((now, skb));
        }
    };
    drain(stack, start, &mut sent);
    for f in frames {
        let f = f?;
        let t0 = *first.get_or_insert(f.timestamp);
        let at = start + f.timestamp.saturating_sub(t0);
        // Timers that fall before this frame fire first, at their own time.
        // Bounded: a stack whose deadline does not move on is a bug, not a hang.
        for _ in 0..100_000 {
            match stack.poll_timeout() {
                Some(d) if d <= at => {
                    stack.handle_timeout(d);
                    drain(stack, d, &mut sent);
                }
                _ => break,
            }
        }
        stack.handle_frame(at, SkBuff::from_frame(&f.data));
        drain(stack, at, &mut sent);
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Faults, Wire};
    use crate::NullDevice;
    use stack::Config;

    #[test]
    fn writer_output_reads_back() {
        let epoch = Duration::from_secs(1_700_000_000);
        let mut w = PcapWriter::new(NullDevice, Vec::new(), epoch).unwrap();
        let a = SkBuff::from_frame(&[0xff; 42]);
        let b = SkBuff::from_frame(&[0x11; 60]);
        w.send(Instant::from_micros(1_500_001), &a).unwrap();
        w.send(Instant::from_micros(2_000_000), &b).unwrap();
        assert_eq!(w.frames(), 2);
        let (_, bytes) = w.into_parts().unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 42 + 16 + 60);
        let frames: Vec<PcapFrame> = PcapReader::new(&bytes[..]).unwrap().map(|f| f.unwrap()).collect();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].timestamp, epoch + Duration::from_micros(1_500_001));
        assert_eq!(frames[0].data, vec![0xff; 42]);
        assert_eq!(frames[0].orig_len, 42);
        assert_eq!(frames[1].timestamp, epoch + Duration::from_secs(2));
        assert_eq!(frames[1].data, vec![0x11; 60]);
    }

    #[test]
    fn reader_rejects_garbage() {
        assert!(PcapReader::new(&b"not a pcap file at all, no"[..]).is_err());
    }

    /// A writer the test can read while the device still holds it.
    #[derive(Clone, Default)]
    struct SharedBuf(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl Write for SharedBuf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn src_mac(f: &PcapFrame) -> stack::MacAddr {
        stack::wire::EthernetFrame::new_checked(&f.data[..]).unwrap().src_addr()
    }

    /// Record a ping on a simulated wire at B's side, then replay what B
    /// received into a fresh copy of B: it sends the same frames at the same
    /// times.
    #[test]
    fn replay_a_recorded_capture() {
        use crate::{Side, Sim};
        let a_mac = stack::MacAddr([2, 0, 0, 0, 0, 1]);
        let a_cfg = Config { addr: [10, 0, 0, 1].into(), mac: a_mac, ..Config::default() };
        let b_cfg = Config::default();
        let b_mac = b_cfg.mac;
        let wire = Wire::new(Faults { latency: Duration::from_millis(3), ..Faults::default() });
        let buf = SharedBuf::default();
        let rec_b = PcapWriter::new(wire.port(Side::B), buf.clone(), Duration::ZERO).unwrap();
        let mut sim =
            Sim::with_devices(a_cfg, Box::new(wire.port(Side::A)), b_cfg.clone(), Box::new(rec_b), Instant::ZERO);
        sim.run_for(Duration::from_millis(10)).unwrap();
        let now = sim.now();
        sim.stack(Side::A).ping_send(now, [10, 0, 0, 2].into(), 7, 1, 56).unwrap();
        sim.run_until(|s| s.stack(Side::A).ping_recv().is_some(), Duration::from_secs(5)).unwrap();
        sim.run_for(Duration::from_millis(10)).unwrap();

        let bytes = buf.0.borrow().clone();
        let frames: Vec<PcapFrame> = PcapReader::new(&bytes[..]).unwrap().map(|f| f.unwrap()).collect();
        let (received, sent): (Vec<PcapFrame>, Vec<PcapFrame>) = frames.into_iter().partition(|f| src_mac(f) == a_mac);
        // A's gratuitous ARP, ARP request, echo request; B's gratuitous ARP, ARP reply, echo reply.
        assert_eq!(received.len(), 3);
        assert_eq!(sent.len(), 3);
        assert!(sent.iter().all(|f| src_mac(f) == b_mac));

        let mut b = Stack::new(b_cfg, Instant::ZERO);
        let out = replay(&mut b, received.iter().cloned().map(Ok), Instant::from_millis(3)).unwrap();
        assert_eq!(out.len(), 3);
        for (want, (_, skb)) in sent.iter().zip(&out) {
            assert_eq!(skb.data(), &want.data[..]);
        }
        // The gratuitous ARP was queued before any input: it goes out at
        // `start`. The answers go out when their questions arrived.
        for (want, (at, _)) in sent.iter().zip(&out).skip(1) {
            assert_eq!(Duration::from_micros(at.total_micros()), want.timestamp);
        }
    }
}
