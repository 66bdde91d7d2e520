//! Socket options as packet dialogues, with Linux's semantics (the drill
//! scripts tests/drill/sockopt/so-rcvlowat.pkt, so-sndlowat-type-domain.pkt
//! and tests/drill/close/so-linger-*.pkt show the same against Linux):
//! SO_RCVLOWAT (tcp/sockopt.rs), SO_SNDLOWAT, SO_TYPE, SO_DOMAIN,
//! SO_ACCEPTCONN, SO_LINGER (tcp/linger.rs).

use super::*;
use crate::socket::{Linger, SockType, AF_INET};
use crate::tcp::tcp_info::{CaState, TCP_INFINITE_SSTHRESH, TCP_INFO_LEN};

impl Lab {
    fn getopt(&mut self, h: usize, n: SockOptName) -> Result<SockOpt, Errno> {
        self.tcp.getsockopt(h, n)
    }
    fn try_setopt(&mut self, h: usize, o: SockOpt) -> Result<(), Errno> {
        let (tcp, mut cx) = self.parts();
        tcp.setsockopt(&mut cx, h, o)
    }
    fn close_r(&mut self, h: usize) -> Close {
        let (tcp, mut cx) = self.parts();
        tcp.close(&mut cx, h).unwrap()
    }
    fn readable(&self, h: usize) -> bool {
        self.tcp.poll(h).contains(PollFlags::POLLIN)
    }
}

#[test]
fn rcvlowat_holds_pollin_until_the_mark() {
    let mut lab = Lab::new();
    let (_, mut p) = established_passive(&mut lab);
    assert_eq!(lab.getopt(p.h, SockOptName::RcvLowat), Ok(SockOpt::RcvLowat(1)));
    lab.setopt(p.h, SockOpt::RcvLowat(1000));
    assert_eq!(lab.getopt(p.h, SockOptName::RcvLowat), Ok(SockOpt::RcvLowat(1000)));

    lab.send(&p.seg(&lab).data(&[1; 500]));
    p.snd = p.snd.wrapping_add(500);
    lab.drain();
    assert!(!lab.readable(p.h), "500 bytes are below the mark");
    lab.send(&p.seg(&lab).data(&[2; 500]));
    p.snd = p.snd.wrapping_add(500);
    lab.drain();
    assert!(lab.readable(p.h), "1000 bytes meet it");
    // A non-blocking read takes what there is; the mark is for waiting.
    assert_eq!(lab.recv(p.h, 300).unwrap().len(), 300);
    assert!(!lab.readable(p.h), "700 left: below the mark again");
    // The blocking adapter waits for min(mark, len) (Linux `sock_rcvlowat`).
    assert_eq!(lab.tcp.sock_rcvlowat(p.h, false, 2000), Ok(1000));
    assert_eq!(lab.tcp.sock_rcvlowat(p.h, false, 10), Ok(10));
    assert_eq!(lab.tcp.sock_rcvlowat(p.h, true, 2000), Ok(2000));

    // The peer's FIN makes it readable whatever is queued.
    lab.send(&p.seg(&lab).flags(FIN | ACK));
    assert!(lab.readable(p.h));
}

#[test]
fn rcvlowat_lowered_to_what_is_queued_wakes_readers() {
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.setopt(p.h, SockOpt::RcvLowat(1000));
    lab.send(&p.seg(&lab).data(&[1; 500]));
    lab.drain();
    let mut woken = Vec::new();
    lab.tcp.drain_wakeups(|i, k| woken.push((i, k)));
    assert!(!lab.readable(p.h));
    // Linux `tcp_set_rcvlowat` -> `tcp_data_ready`.
    lab.setopt(p.h, SockOpt::RcvLowat(500));
    lab.tcp.drain_wakeups(|i, k| woken.push((i, k)));
    assert!(woken.iter().any(|&(i, k)| i == p.h && k.contains(PollFlags::POLLIN)), "{woken:?}");
    assert!(lab.readable(p.h));
}

#[test]
fn rcvlowat_zero_is_one_and_the_mark_is_capped() {
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.setopt(p.h, SockOpt::RcvLowat(0));
    assert_eq!(lab.getopt(p.h, SockOptName::RcvLowat), Ok(SockOpt::RcvLowat(1)));
    // Unlocked: capped at tcp_rmem[2] / 2, and the buffer grows to hold it.
    let max = lab.tcp.config().rcvbuf_max / 2;
    lab.setopt(p.h, SockOpt::RcvLowat(usize::MAX));
    assert_eq!(lab.getopt(p.h, SockOptName::RcvLowat), Ok(SockOpt::RcvLowat(max)));
    assert!(lab.sock(p.h).q.rcvbuf >= max);
    // Locked by SO_RCVBUF: capped at half of the (doubled) buffer.
    let h = lab.socket();
    lab.setopt(h, SockOpt::RcvBuf(4096));
    lab.setopt(h, SockOpt::RcvLowat(100_000));
    assert_eq!(lab.getopt(h, SockOptName::RcvLowat), Ok(SockOpt::RcvLowat(4096)));
    assert_eq!(lab.getopt(h, SockOptName::RcvBuf), Ok(SockOpt::RcvBuf(8192)), "a locked buffer stays");
}

#[test]
fn rcvlowat_gives_way_when_the_window_is_nearly_gone() {
    // Holding bytes the window cannot add to would stall the sender
    // forever: Linux `tcp_epollin_ready` says readable when what is left
    // of the offered window is at most one segment.
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.setopt(p.h, SockOpt::RcvLowat(30_000));
    lab.send(&p.seg(&lab).data(&[1; 100]));
    lab.drain();
    assert!(!lab.readable(p.h));
    let sk = lab.tcp.socks[p.h].as_mut().unwrap();
    sk.rcv.adv = sk.rcv.nxt + 100usize;
    assert!(lab.readable(p.h));
}

#[test]
fn listener_children_inherit_rcvlowat_and_linger() {
    let mut lab = Lab::new();
    let l = lab.socket();
    lab.setopt(l, SockOpt::RcvLowat(700));
    lab.setopt(l, SockOpt::Linger(Linger { onoff: true, secs: 3 }));
    lab.tcp.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), &mut lab.rng).unwrap();
    lab.tcp.listen(l, 8, &mut lab.rng).unwrap();
    lab.send(&lab.seg(40000, 80).flags(SYN).mss(Some(1460)));
    let synack = lab.expect();
    lab.send(&lab.seg(40000, 80).seq(RISS.wrapping_add(1)).ack(synack.seq().wrapping_add(1)));
    let (h, _) = lab.accept(l).unwrap();
    assert_eq!(lab.getopt(h, SockOptName::RcvLowat), Ok(SockOpt::RcvLowat(700)));
    assert_eq!(lab.getopt(h, SockOptName::Linger), Ok(SockOpt::Linger(Linger { onoff: true, secs: 3 })));
}

#[test]
fn sndlowat_type_domain_acceptconn_only_answer() {
    let mut lab = Lab::new();
    let h = lab.socket();
    assert_eq!(lab.getopt(h, SockOptName::SndLowat), Ok(SockOpt::SndLowat(1)));
    assert_eq!(lab.try_setopt(h, SockOpt::SndLowat(100)), Err(Errno::ENOPROTOOPT));
    assert_eq!(lab.getopt(h, SockOptName::Type), Ok(SockOpt::Type(SockType::Stream)));
    assert_eq!(lab.try_setopt(h, SockOpt::Type(SockType::Dgram)), Err(Errno::ENOPROTOOPT));
    assert_eq!(lab.getopt(h, SockOptName::Domain), Ok(SockOpt::Domain(AF_INET)));
    assert_eq!(lab.try_setopt(h, SockOpt::AcceptConn(true)), Err(Errno::ENOPROTOOPT));
    assert_eq!(lab.getopt(h, SockOptName::AcceptConn), Ok(SockOpt::AcceptConn(false)));
    let l = lab.listen(80, 4);
    assert_eq!(lab.getopt(l, SockOptName::AcceptConn), Ok(SockOpt::AcceptConn(true)));
}

#[test]
fn linger_off_keeps_its_time_for_getsockopt() {
    let mut lab = Lab::new();
    let h = lab.socket();
    assert_eq!(lab.getopt(h, SockOptName::Linger), Ok(SockOpt::Linger(Linger { onoff: false, secs: 0 })));
    lab.setopt(h, SockOpt::Linger(Linger { onoff: true, secs: 7 }));
    // Linux `sk_setsockopt`: turning it off leaves `sk_lingertime` alone.
    lab.setopt(h, SockOpt::Linger(Linger { onoff: false, secs: 0 }));
    assert_eq!(lab.getopt(h, SockOptName::Linger), Ok(SockOpt::Linger(Linger { onoff: false, secs: 7 })));
}

#[test]
fn linger_zero_close_sends_rst_and_discards_unsent_data() {
    let mut lab = Lab::new();
    let p = established_active(&mut lab);
    // The peer offers 1000 bytes of window: 1000 go out, 2000 wait.
    lab.send(&p.seg(&lab).window(1000));
    lab.setopt(p.h, SockOpt::Linger(Linger { onoff: true, secs: 0 }));
    assert_eq!(lab.send_data(p.h, &[7; 3000]), Ok(3000));
    let sent: usize = lab.drain().iter().map(|o| o.data.len()).sum();
    assert!(sent <= 1000, "{sent}");
    assert_eq!(lab.close_r(p.h), Close::Closed);
    let out = lab.drain();
    assert_eq!(out.len(), 1, "one RST, no FIN, no data: {out:?}");
    assert!(out[0].is(RST | ACK));
    assert_eq!(out[0].seq(), p.rcv.wrapping_add(sent as u32), "RST at SND.NXT");
    assert_eq!(lab.state_of(p.lport, p.rport), None, "no FIN_WAIT, no TIME_WAIT");
    assert_eq!(lab.count(Counter::TcpAbortOnData), 1);
    // Nothing is left to send: time passes, nothing goes out.
    lab.advance(ms(10_000));
    lab.expect_none();
    // The peer's late segment finds no connection: RST.
    lab.send(&p.seg(&lab).ack(p.rcv.wrapping_add(sent as u32)));
    assert!(lab.expect().h.rst());
}

#[test]
fn linger_zero_in_last_ack_with_our_fin_out_sends_no_rst() {
    // `tcp_disconnect`: CLOSING and LAST_ACK reset only while data or our
    // FIN is unsent; here the FIN is out, the connection just goes.
    let mut lab = Lab::new();
    let p = last_ack(&mut lab);
    lab.setopt(p.h, SockOpt::Linger(Linger { onoff: true, secs: 0 }));
    assert_eq!(lab.close_r(p.h), Close::Closed);
    lab.expect_none();
    assert_eq!(lab.state_of(p.lport, p.rport), None);
}

#[test]
fn linger_zero_after_unread_data_is_the_unread_data_rst() {
    // Unread data is checked first (Linux `tcp_close`): one RST, counted
    // as TCPAbortOnClose, not as SO_LINGER's TCPAbortOnData.
    let mut lab = Lab::new();
    let (_, p) = established_passive(&mut lab);
    lab.setopt(p.h, SockOpt::Linger(Linger { onoff: true, secs: 0 }));
    lab.send(&p.seg(&lab).data(b"unread"));
    lab.drain();
    assert_eq!(lab.close_r(p.h), Close::Closed);
    let out = lab.drain();
    assert_eq!(out.len(), 1);
    assert!(out[0].h.rst());
    assert_eq!((lab.count(Counter::TcpAbortOnClose), lab.count(Counter::TcpAbortOnData)), (1, 0));
}

#[test]
fn linger_time_close_waits_for_the_ack_of_our_fin() {
    let mut lab = Lab::new();
    let mut p = established_active(&mut lab);
    lab.setopt(p.h, SockOpt::Linger(Linger { onoff: true, secs: 5 }));
    assert_eq!(lab.send_data(p.h, &[1; 100]), Ok(100));
    lab.drain();
    let Close::Lingering(l) = lab.close_r(p.h) else { panic!("SO_LINGER 5 lingers") };
    assert_eq!(l.until, lab.now + Duration::from_secs(5));
    let fin = lab.expect();
    assert!(fin.is(FIN | ACK), "the close is graceful: FIN after the data");
    assert!(lab.tcp.lingering(&l, lab.now));
    // The data is acknowledged, not yet our FIN: still lingering.
    p.rcv = p.rcv.wrapping_add(100);
    lab.send(&p.seg(&lab));
    assert!(lab.tcp.lingering(&l, lab.now));
    // The FIN is: FIN_WAIT_2, close returns.
    p.rcv = p.rcv.wrapping_add(1);
    lab.send(&p.seg(&lab));
    assert_eq!(lab.state_of(p.lport, p.rport), Some("FIN_WAIT_2"));
    assert!(!lab.tcp.lingering(&l, lab.now));
}

#[test]
fn linger_time_runs_out_and_the_connection_closes_on_its_own() {
    let mut lab = Lab::new();
    let p = established_active(&mut lab);
    lab.setopt(p.h, SockOpt::Linger(Linger { onoff: true, secs: 1 }));
    let Close::Lingering(l) = lab.close_r(p.h) else { panic!("lingers") };
    assert!(lab.expect().is(FIN | ACK));
    lab.advance(ms(999));
    assert!(lab.tcp.lingering(&l, lab.now));
    lab.advance(ms(1));
    assert!(!lab.tcp.lingering(&l, lab.now), "the time is up");
    assert_eq!(lab.state_of(p.lport, p.rport), Some("FIN_WAIT_1"), "orphaned, still closing");
}

#[test]
fn linger_time_with_nothing_to_wait_for_returns_at_once() {
    // No FIN outstanding after close (the peer's socket reset us before):
    // `sk_stream_closing` is false, no wait.
    let mut lab = Lab::new();
    let p = established_active(&mut lab);
    lab.setopt(p.h, SockOpt::Linger(Linger { onoff: true, secs: 5 }));
    lab.send(&p.seg(&lab).flags(RST | ACK));
    assert_eq!(lab.close_r(p.h), Close::Closed);
    // A lingering close whose slot was reused is not mistaken for another.
    let mut lab = Lab::new();
    let p = established_active(&mut lab);
    lab.setopt(p.h, SockOpt::Linger(Linger { onoff: true, secs: 5 }));
    let Close::Lingering(l) = lab.close_r(p.h) else { panic!("lingers") };
    lab.send(&p.seg(&lab).flags(RST | ACK));
    assert!(!lab.tcp.lingering(&l, lab.now), "reset: gone");
}

#[test]
fn msg_more_corks_one_write() {
    let mut lab = Lab::new();
    let p = established_active(&mut lab);
    let (tcp, mut cx) = lab.parts();
    assert_eq!(tcp.send(&mut cx, p.h, &[1; 100], MsgFlags::MSG_MORE), Ok(100));
    lab.expect_none();
    // The next write without it pushes both, as one segment with PSH.
    assert_eq!(lab.send_data(p.h, &[2; 100]), Ok(100));
    let o = lab.expect();
    assert_eq!((o.seq(), o.data.len()), (p.rcv, 200));
    assert!(o.h.flags.has(PSH));
    lab.expect_none();
    // MSG_MORE is not sticky: the socket is not corked afterwards.
    assert_eq!(lab.getopt(p.h, SockOptName::Cork), Ok(SockOpt::Cork(false)));
}

#[test]
fn msg_more_tail_goes_on_the_probe_timer_with_psh() {
    let mut lab = Lab::new();
    let p = established_active(&mut lab);
    let (tcp, mut cx) = lab.parts();
    assert_eq!(tcp.send(&mut cx, p.h, &[1; 100], MsgFlags::MSG_MORE), Ok(100));
    lab.expect_none();
    let waited = lab.next_timer();
    assert_eq!(waited, lab.sock(p.h).rtt.rto, "the persist (probe0) timer at the RTO");
    let o = lab.expect();
    assert_eq!(o.data.len(), 100);
    assert!(o.h.flags.has(PSH), "tcp_write_wakeup sets PSH");
}

#[test]
fn sigpipe_is_due_for_epipe_on_a_stream_without_msg_nosignal() {
    use crate::socket::sigpipe_due;
    let mut lab = Lab::new();
    let p = established_active(&mut lab);
    lab.shutdown(p.h, Shutdown::Write);
    let (tcp, mut cx) = lab.parts();
    let err = tcp.send(&mut cx, p.h, b"x", MsgFlags::MSG_NOSIGNAL).unwrap_err();
    assert_eq!(err, Errno::EPIPE, "the stack says EPIPE either way");
    assert!(sigpipe_due(SockType::Stream, MsgFlags::NONE, err));
    assert!(!sigpipe_due(SockType::Stream, MsgFlags::MSG_NOSIGNAL, err));
    assert!(!sigpipe_due(SockType::Dgram, MsgFlags::NONE, err));
    assert!(!sigpipe_due(SockType::Stream, MsgFlags::NONE, Errno::ECONNRESET));
}

#[test]
fn keepidle_on_a_live_connection_rearms_from_the_last_segment_heard() {
    let mut lab = Lab::new();
    let p = established_active(&mut lab);
    lab.setopt(p.h, SockOpt::KeepAlive(true));
    lab.advance(ms(10_000));
    lab.expect_none();
    // 10 s of silence already: a 4 s idle time is past, the probe goes now.
    lab.setopt(p.h, SockOpt::KeepIdle(4));
    lab.advance(Duration::ZERO);
    let probe = lab.expect();
    assert_eq!((probe.seq(), probe.data.len()), (p.rcv.wrapping_sub(1), 0), "seq SND.UNA - 1");
    // Per-socket interval: the next probe 75 s later by default, 2 s here.
    lab.setopt(p.h, SockOpt::KeepIntvl(2));
    assert_eq!(lab.next_timer(), ms(75_000), "the interval in force when the probe left");
    lab.expect();
    assert_eq!(lab.next_timer(), ms(2000));
    assert_eq!(lab.getopt(p.h, SockOptName::KeepIntvl), Ok(SockOpt::KeepIntvl(2)));
    assert_eq!(lab.try_setopt(p.h, SockOpt::KeepCnt(0)), Err(Errno::EINVAL));
    assert_eq!(lab.try_setopt(p.h, SockOpt::KeepIdle(MAX_TCP_KEEPIDLE + 1)), Err(Errno::EINVAL));
}

#[test]
fn tcp_maxseg_clamps_the_syn_and_the_sending_mss() {
    let mut lab = Lab::new();
    let h = lab.socket();
    assert_eq!(lab.try_setopt(h, SockOpt::MaxSeg(87)), Err(Errno::EINVAL));
    assert_eq!(lab.try_setopt(h, SockOpt::MaxSeg(32768)), Err(Errno::EINVAL));
    assert_eq!(lab.getopt(h, SockOptName::MaxSeg), Ok(SockOpt::MaxSeg(536)));
    lab.setopt(h, SockOpt::MaxSeg(600));
    assert_eq!(lab.connect(h, 7000), Err(Errno::EINPROGRESS));
    let syn = lab.expect();
    assert_eq!(syn.h.options.mss, Some(600), "the SYN announces the clamp");
    let lport = lab.tcp.getsockname(h).unwrap().port();
    lab.send(&lab.seg(7000, lport).flags(SYN | ACK).ack(syn.seq().wrapping_add(1)).mss(Some(1460)));
    lab.drain();
    assert_eq!(lab.getopt(h, SockOptName::MaxSeg), Ok(SockOpt::MaxSeg(600)), "the MSS in use");
    assert_eq!(lab.sock(h).snd.mss, 600, "we send with at most the clamp");
}

#[test]
fn tcp_info_fields_and_linux_layout() {
    let mut lab = Lab::with(TcpConfig { window_scaling: true, ..TcpConfig::default() });
    let mut p = established_active(&mut lab);
    lab.advance(ms(30));
    assert_eq!(lab.send_data(p.h, &[0; 3000]), Ok(3000));
    lab.drain();
    let i = lab.tcp.tcp_get_info(p.h, lab.now).unwrap();
    assert_eq!((i.state, i.ca_state, i.retransmits), (1, CaState::Open, 0), "ESTABLISHED, Open");
    assert_eq!(i.snd_mss, lab.sock(p.h).snd.mss as u32);
    assert_eq!(i.unacked, 3000u32.div_ceil(i.snd_mss), "segments in flight");
    assert_eq!(i.snd_ssthresh, TCP_INFINITE_SSTHRESH, "no loss yet");
    assert_eq!(i.snd_cwnd, 10, "RFC 6928 initial window");
    assert_eq!(i.notsent_bytes, 0);
    assert_eq!(i.last_data_sent, 0);
    assert_eq!(i.last_data_recv, 30, "ms since the SYN-ACK");
    let b = i.tcp_info_bytes();
    assert_eq!(b.len(), TCP_INFO_LEN);
    let word = |off: usize| u32::from_ne_bytes(b[off..off + 4].try_into().unwrap());
    assert_eq!((b[0], b[1], b[2]), (1, 0, 0));
    assert_eq!(
        (word(8), word(16), word(24), word(80), word(76)),
        (i.rto, i.snd_mss, i.unacked, 10, TCP_INFINITE_SSTHRESH)
    );
    assert_eq!(b[6] & 0xf, i.snd_wscale);
    assert_eq!(b[6] >> 4, i.rcv_wscale);
    assert!(b[236..].iter().all(|&x| x == 0), "fields synack does not keep are 0");
    // An RTO: CA_Loss, one retransmission, one backoff, ssthresh in segments.
    lab.advance(lab.sock(p.h).rtt.rto);
    lab.drain();
    let i = lab.tcp.tcp_get_info(p.h, lab.now).unwrap();
    assert_eq!((i.ca_state, i.retransmits, i.backoff, i.total_retrans), (CaState::Loss, 1, 1, 1));
    assert_ne!(i.snd_ssthresh, TCP_INFINITE_SSTHRESH);
    // Acknowledged: Open again.
    p.rcv = p.rcv.wrapping_add(3000);
    lab.send(&p.seg(&lab));
    assert_eq!(lab.tcp.tcp_get_info(p.h, lab.now).unwrap().ca_state, CaState::Open);
    assert_eq!(lab.tcp.tcp_get_info(99, lab.now), Err(Errno::EBADF));
}
