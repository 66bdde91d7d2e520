//! Urgent data (`MSG_OOB`), Linux's way: one out-of-band byte.
//!
//! Read first: RFC 9293 §3.8.5 (the urgent pointer), RFC 6093 (urgent
//! data in practice: "the urgent pointer points to the byte following the
//! urgent data", §4; new applications should not use it, §6), RFC 1122
//! §4.2.2.4; socket(7) (SO_OOBINLINE), tcp(7) ("Sockets API": urgent
//! data, SIOCATMARK). Linux: net/ipv4/tcp.c `tcp_mark_urg` (in `tcp_push`),
//! `tcp_recv_urg`, the urgent steps of `tcp_recvmsg_locked`, `tcp_poll`
//! (EPOLLPRI), `tcp_ioctl` (SIOCATMARK), include/net/tcp.h `tcp_inq`;
//! net/ipv4/tcp_input.c `tcp_check_urg`, `tcp_urg`; net/ipv4/tcp_output.c
//! `__tcp_transmit_skb` (the URG flag and pointer), `tcp_nagle_test`.
//!
//! - **Sending.** `send(MSG_OOB)` marks the end of what it queued as the
//!   urgent point (`snd_up`): every segment sent from before it carries URG
//!   and a pointer to the byte just past the urgent one (BSD's and Linux's
//!   reading, RFC 6093 §4). Urgent mode bypasses Nagle and TCP_CORK and
//!   ends once SND.UNA reaches the point.
//! - **Receiving.** A segment with URG names the urgent byte (pointer - 1).
//!   Unless SO_OOBINLINE, that one byte is taken out of the stream: a read
//!   stops just before it (the "mark"), `recv(MSG_OOB)` returns it once
//!   (again: `EINVAL`; not arrived yet: `EAGAIN`, never blocking), the next
//!   read skips it, and once reads pass it it is forgotten. `poll` says
//!   POLLPRI while it can be read; SIOCATMARK says whether the next read
//!   starts at the mark; FIONREAD counts only up to the mark.
//!   A newer urgent pointer replaces an older one: only one byte is ever
//!   out of band.

use super::sock::{TcpSock, TcpState, UrgData};
use super::{SeqNumber, TcpFlags, TcpRepr};
use crate::cx::Cx;
use crate::errno::Errno;
use crate::socket::{MsgFlags, PollFlags};
use crate::trace::EventKind;

impl TcpSock {
    /// `copied_seq`: the next byte the application reads (RCV.NXT counts
    /// the peer's FIN once it came, and the FIN is no byte to read).
    fn urg_copied_seq(&self) -> SeqNumber {
        let fin =
            matches!(self.state, TcpState::CloseWait | TcpState::Closing | TcpState::LastAck | TcpState::TimeWait);
        self.rcv.nxt - (self.q.rcv_buf.len() + usize::from(fin))
    }

    // ------------------------------------------------------------ receiving

    /// RFC 9293 §3.10.7.4 "sixth, check the URG bit" (Linux `tcp_urg`): a
    /// new urgent pointer (`tcp_check_urg`), then, if the byte it names is
    /// in this segment, keep it for `recv(MSG_OOB)` and wake the reader.
    pub(super) fn tcp_urg(&mut self, cx: &mut Cx, h: &TcpRepr, payload: &[u8]) {
        if h.flags.has(TcpFlags::URG) {
            self.tcp_check_urg(cx, h);
        }
        if self.urg.data == UrgData::NotYet {
            let at = self.urg.seq.since(h.seq + usize::from(h.syn()));
            if self.urg.seq.after_eq(h.seq) && at < payload.len() {
                self.urg.data = UrgData::Valid(payload[at]);
                // `sk_data_ready`: the byte is news for POLLPRI.
                self.wake |= PollFlags::POLLIN | PollFlags::POLLPRI;
            }
        }
    }

    /// Linux `tcp_check_urg`: the pointer names the byte before it (BSD's
    /// reading; `tcp_stdurg` = 0). Old or replayed pointers are ignored;
    /// a newer one replaces the byte we had (dropped from the stream if the
    /// application stands just before it).
    fn tcp_check_urg(&mut self, cx: &mut Cx, h: &TcpRepr) {
        let ptr = h.seq + usize::from(h.urgent).saturating_sub(1);
        let copied = self.urg_copied_seq();
        // "Ignore urgent data that we've already seen and read", and do
        // not replay an urgent pointer for bytes already received.
        if copied.after(ptr) || ptr.before(self.rcv.nxt) {
            return;
        }
        // "Do we already have a newer (or duplicate) urgent pointer?"
        if self.urg.data != UrgData::None && !ptr.after(self.urg.seq) {
            return;
        }
        // The application stands at the old urgent byte, not inline: it is
        // skipped now, since only the new one will be out of band.
        if self.urg.data != UrgData::None && self.urg.seq == copied && !self.opt.oobinline && copied != self.rcv.nxt {
            self.q.rcv_buf.pop_front();
        }
        let (l, r) = (self.local, self.remote);
        let now = cx.now;
        cx.trace.emit(now, EventKind::Tcp, "RFC 6093 §4", || {
            format!("{l} {r}: urgent pointer {}: urgent byte at {}", h.urgent, ptr.0)
        });
        self.urg.data = UrgData::NotYet;
        self.urg.seq = ptr;
    }

    /// The part of the receive queue a read of `len` bytes may take, from
    /// its front: `(skip, n)`, skipping the urgent byte when the read
    /// starts at it (not inline), stopping before it otherwise (the
    /// urgent steps of `tcp_recvmsg_locked`).
    pub(super) fn urg_read_span(&self, len: usize) -> (usize, usize) {
        let avail = self.q.rcv_buf.len();
        let n = avail.min(len);
        if self.urg.data == UrgData::None {
            return (0, n);
        }
        let copied = self.urg_copied_seq();
        if self.urg.seq.before(copied) {
            return (0, n);
        }
        let off = self.urg.seq.since(copied);
        match off {
            0 if self.opt.oobinline => (0, n),
            0 => (1.min(avail), (avail.saturating_sub(1)).min(len)),
            off => (0, n.min(off)),
        }
    }

    /// After a read consumed bytes: past the urgent byte, it is forgotten
    /// (`tcp_recvmsg_locked`: "urg_data = 0" once `copied_seq` passes it).
    pub(super) fn urg_after_read(&mut self) {
        if self.urg.data != UrgData::None && self.urg_copied_seq().after(self.urg.seq) {
            self.urg.data = UrgData::None;
        }
    }

    /// Linux `tcp_recv_urg`: `recv(MSG_OOB)`. Never blocks.
    pub(super) fn tcp_recv_urg(&mut self, buf: &mut [u8], flags: MsgFlags) -> Result<usize, Errno> {
        // "No URG data to read": EINVAL ("Yes this is right !").
        if self.opt.oobinline || matches!(self.urg.data, UrgData::None | UrgData::Read) {
            return Err(Errno::EINVAL);
        }
        if self.state == TcpState::Closed && !self.was_connected {
            return Err(Errno::ENOTCONN);
        }
        if let UrgData::Valid(c) = self.urg.data {
            if !flags.contains(MsgFlags::MSG_PEEK) {
                self.urg.data = UrgData::Read;
            }
            // A zero-length buffer gets 0 (Linux sets MSG_TRUNC).
            let Some(b) = buf.first_mut() else { return Ok(0) };
            *b = c;
            return Ok(1);
        }
        if self.state == TcpState::Closed || self.shut_rcv {
            return Ok(0);
        }
        Err(Errno::EAGAIN)
    }

    /// SIOCATMARK (`tcp_ioctl`): the next read starts at the urgent byte.
    pub(super) fn sockatmark(&self) -> bool {
        self.urg.data != UrgData::None && self.urg.seq == self.urg_copied_seq()
    }

    /// `tcp_poll`'s readable target is one more when the only thing ahead
    /// is the out-of-band byte (not inline).
    pub(super) fn urg_at_mark_oob(&self) -> bool {
        !self.opt.oobinline && self.sockatmark()
    }

    /// POLLPRI of `tcp_poll`: an urgent byte to read.
    pub(super) fn urg_poll(&self) -> PollFlags {
        match self.urg.data {
            UrgData::Valid(_) => PollFlags::POLLPRI,
            _ => PollFlags::NONE,
        }
    }

    /// FIONREAD / SIOCINQ (Linux `tcp_inq`): bytes to read, only up to an
    /// urgent byte still ahead (not inline).
    pub(super) fn tcp_inq(&self) -> usize {
        if matches!(self.state, TcpState::SynSent | TcpState::SynReceived) {
            return 0;
        }
        let copied = self.urg_copied_seq();
        let ahead = self.urg.data != UrgData::None
            && !self.opt.oobinline
            && self.urg.seq.after_eq(copied)
            && self.urg.seq.before(copied + self.q.rcv_buf.len());
        if ahead {
            self.urg.seq.since(copied)
        } else {
            self.q.rcv_buf.len()
        }
    }

    // ------------------------------------------------------------ sending

    /// Linux `tcp_mark_urg`: `send(MSG_OOB)` makes the end of the queue the
    /// urgent point.
    pub(super) fn tcp_mark_urg(&mut self) {
        self.urg.snd_up = Some(self.snd_end());
    }

    /// Linux `tcp_urg_mode`: our urgent point is not yet acknowledged.
    pub(super) fn tcp_urg_mode(&self) -> bool {
        self.urg.snd_up.is_some_and(|up| up.after(self.snd.una))
    }

    /// `__tcp_transmit_skb`: a segment starting before the urgent point
    /// carries URG and the pointer to it (0xFFFF if it is farther than the
    /// field reaches). Past urgent mode, the point is dropped.
    pub(super) fn urg_header(&mut self, h: &mut TcpRepr) {
        if !self.tcp_urg_mode() {
            self.urg.snd_up = None;
            return;
        }
        let Some(up) = self.urg.snd_up else { return };
        if !h.seq.before(up) {
            return;
        }
        let dist = up.since(h.seq);
        if dist < 0x10000 {
            h.urgent = dist as u16;
            h.flags = h.flags | TcpFlags::URG;
        } else if (h.seq + 0xFFFFusize).after(self.snd.nxt) {
            h.urgent = 0xFFFF;
            h.flags = h.flags | TcpFlags::URG;
        }
    }
}
