//! Urgent data (`MSG_OOB`, tcp/urgent.rs) as packet dialogues, with Linux's
//! one-byte semantics; tests/drill/urgent/*.pkt show the same against Linux.

use super::*;
use crate::wire::tcp::flags::URG;

impl Seg {
    fn urg(mut self, ptr: u16) -> Seg {
        self.flags = self.flags | URG;
        self.urgent = ptr;
        self
    }
}

impl Lab {
    fn send_flags(&mut self, h: usize, b: &[u8], f: MsgFlags) -> Result<usize, Errno> {
        let (tcp, mut cx) = self.parts();
        tcp.send(&mut cx, h, b, f)
    }
    fn recv_flags(&mut self, h: usize, n: usize, f: MsgFlags) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0; n];
        let (tcp, mut cx) = self.parts();
        let k = tcp.recv(&mut cx, h, &mut buf, f)?;
        buf.truncate(k);
        Ok(buf)
    }
    fn oob(&mut self, h: usize) -> Result<Vec<u8>, Errno> {
        self.recv_flags(h, 8, MsgFlags::MSG_OOB)
    }
    fn atmark(&self, h: usize) -> bool {
        self.tcp.sockatmark(h).unwrap()
    }
}

#[test]
fn send_oob_sets_urg_past_the_last_byte_and_skips_nagle() {
    let mut lab = Lab::new();
    let mut p = established_active(&mut lab);
    assert_eq!(lab.send_data(p.h, &[1; 100]), Ok(100));
    let first = lab.expect();
    assert!(!first.h.flags.has(URG));
    // Nagle would hold a small segment while 100 bytes are unacknowledged:
    // urgent data goes at once.
    assert_eq!(lab.send_flags(p.h, b"abc", MsgFlags::MSG_OOB), Ok(3));
    let u = lab.expect();
    assert!(u.h.flags.has(URG), "{:?}", u.h.flags);
    assert_eq!((u.seq(), u.data.as_slice(), u.h.urgent), (p.rcv.wrapping_add(100), &b"abc"[..], 3));
    // A retransmission of the earlier segment carries the pointer too
    // (it starts before the urgent point: 103 bytes ahead).
    lab.advance(ms(1500));
    let rtx = lab.drain();
    assert!(rtx.iter().all(|o| o.h.flags.has(URG)), "{rtx:?}");
    assert_eq!(rtx[0].h.urgent, 103);
    // Acknowledged: urgent mode is over.
    p.rcv = p.rcv.wrapping_add(103);
    lab.send(&p.seg(&lab));
    lab.drain();
    assert_eq!(lab.send_data(p.h, b"xyz"), Ok(3));
    let after = lab.expect();
    assert!(!after.h.flags.has(URG));
    assert_eq!(after.h.urgent, 0);
}

#[test]
fn recv_stops_at_the_mark_and_the_byte_is_out_of_band() {
    let mut lab = Lab::new();
    let (_, mut p) = established_passive(&mut lab);
    lab.send(&p.seg(&lab).data(b"0123456789"));
    p.snd = p.snd.wrapping_add(10);
    // "ab!" with pointer 3: '!' is urgent.
    lab.send(&p.seg(&lab).data(b"ab!").urg(3));
    p.snd = p.snd.wrapping_add(3);
    lab.drain();
    let m = lab.tcp.poll(p.h);
    assert!(m.contains(PollFlags::POLLIN | PollFlags::POLLPRI), "{m:?}");
    assert_eq!(lab.tcp.tcp_inq(p.h), Ok(12), "FIONREAD counts up to the mark");
    assert!(!lab.atmark(p.h));
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"0123456789ab", "a read stops before the urgent byte");
    assert!(lab.atmark(p.h));
    assert_eq!(lab.tcp.tcp_inq(p.h), Ok(0));
    assert!(!lab.tcp.poll(p.h).contains(PollFlags::POLLIN), "only the out-of-band byte: not readable");
    // MSG_PEEK leaves it; then it is read once.
    assert_eq!(lab.recv_flags(p.h, 8, MsgFlags::MSG_OOB | MsgFlags::MSG_PEEK).unwrap(), b"!");
    assert_eq!(lab.oob(p.h).unwrap(), b"!");
    assert_eq!(lab.oob(p.h), Err(Errno::EINVAL));
    assert!(!lab.tcp.poll(p.h).contains(PollFlags::POLLPRI));
    // More data: the next read skips the urgent byte; the mark is gone.
    lab.send(&p.seg(&lab).data(b"cd"));
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"cd");
    assert!(!lab.atmark(p.h));
    assert_eq!(lab.oob(p.h), Err(Errno::EINVAL));
}

#[test]
fn reading_past_an_unread_urgent_byte_loses_it() {
    // The application never asks for the urgent byte: the read after the
    // mark skips it, and it is forgotten (Linux clears urg_data once
    // copied_seq passes it).
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.send(&p.seg(&lab).data(b"xy!z").urg(3));
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"xy");
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"z");
    assert_eq!(lab.oob(p.h), Err(Errno::EINVAL));
}

#[test]
fn oobinline_keeps_the_byte_in_the_stream() {
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.setopt(p.h, SockOpt::OobInline(true));
    lab.send(&p.seg(&lab).data(b"xy!z").urg(3));
    assert_eq!(lab.oob(p.h), Err(Errno::EINVAL));
    assert_eq!(lab.tcp.tcp_inq(p.h), Ok(4));
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"xy", "the mark still stops a read");
    assert!(lab.atmark(p.h));
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"!z");
}

#[test]
fn urgent_pointer_before_its_byte_says_eagain_until_it_comes() {
    let mut lab = Lab::new();
    let (_, mut p) = established_passive(&mut lab);
    // Pointer 20 on a 10-byte segment: byte 20 is not here yet.
    lab.send(&p.seg(&lab).data(&[b'a'; 10]).urg(20));
    p.snd = p.snd.wrapping_add(10);
    assert_eq!(lab.oob(p.h), Err(Errno::EAGAIN));
    assert!(!lab.tcp.poll(p.h).contains(PollFlags::POLLPRI));
    let mut later = vec![b'b'; 20];
    later[9] = b'!';
    lab.send(&p.seg(&lab).data(&later));
    assert!(lab.tcp.poll(p.h).contains(PollFlags::POLLPRI));
    assert_eq!(lab.recv(p.h, 100).unwrap().len(), 19, "up to the mark");
    assert_eq!(lab.oob(p.h).unwrap(), b"!");
    assert_eq!(lab.recv(p.h, 100).unwrap().len(), 10);
}

#[test]
fn a_newer_urgent_pointer_replaces_the_old_byte() {
    // Only one byte is ever out of band: standing at the old one, the
    // application loses it from the stream when a newer pointer comes.
    let mut lab = Lab::new();
    let (_, mut p) = established_passive(&mut lab);
    lab.send(&p.seg(&lab).data(b"a1").urg(2));
    p.snd = p.snd.wrapping_add(2);
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"a");
    assert!(lab.atmark(p.h));
    lab.send(&p.seg(&lab).data(b"b2").urg(2));
    assert_eq!(lab.oob(p.h).unwrap(), b"2");
    assert_eq!(lab.recv(p.h, 100).unwrap(), b"b", "the old urgent byte '1' is gone");
}

#[test]
fn any_urgent_pointer_is_safe() {
    // Whatever pointer a segment carries (0, past the segment, 0xffff, on
    // old or out-of-order data), nothing panics and the bytes read are the
    // bytes sent less at most the one urgent byte.
    for ptr in [0u16, 1, 2, 5, 6, 7, 100, 0x7fff, 0xffff] {
        for offset in [0u32, 3, 10] {
            let mut lab = Lab::new();
            let (_, p) = established_passive(&mut lab);
            let seg = p.seg(&lab);
            lab.send(&seg.clone().seq(p.snd.wrapping_add(offset)).data(b"hello").urg(ptr));
            lab.send(&seg.data(b"0123456789").urg(ptr));
            let _ = lab.oob(p.h);
            let mut got = 0;
            for _ in 0..4 {
                got += lab.recv(p.h, 100).map_or(0, |v| v.len());
            }
            let sent = 10usize.max(offset as usize + 5);
            assert!(got + 1 >= sent && got <= sent, "ptr {ptr} offset {offset}: read {got} of {sent}");
        }
    }
}
