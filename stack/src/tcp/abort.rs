//! `close(2)` when the owner lost data it never read: the connection is
//! reset rather than closed, as Linux's `tcp_close` does when the receive
//! queue is not empty (RFC 2525 §2.17), for a reader that is not the
//! stack's receive queue: `synack run`'s relay (apps/src/run/relay.rs)
//! learns that a program exited with bytes unread in its own socketpair.

use super::sock::{Owner, TcpState};
use super::Tcp;
use crate::cx::Cx;
use crate::errno::Errno;
use crate::trace::EventKind;

impl Tcp {
    /// Close `h` with a RST (`tcp_send_active_reset`) if it is
    /// synchronized; anything else closes as `close` does.
    pub fn close_reset(&mut self, cx: &mut Cx, h: usize) -> Result<(), Errno> {
        let st = self.user(h)?.state;
        if !st.is_synchronized() || matches!(st, TcpState::TimeWait | TcpState::Listen) {
            return self.close(cx, h);
        }
        let cfg = self.config.clone();
        let Some(mut sk) = self.socks[h].take() else { return Err(Errno::EBADF) };
        let before = sk.state;
        sk.owner = Owner::Orphan;
        sk.shut_rcv = true;
        let (l, r, now) = (sk.local, sk.remote, cx.now);
        cx.trace.emit(now, EventKind::Tcp, "RFC 2525 §2.17", || format!("{l} {r}: close with data unread: RST"));
        sk.send_active_reset(cx, &cfg);
        sk.tcp_done_because(cx, None, "RFC 2525 §2.17");
        self.finish(cx, h, sk, before);
        Ok(())
    }
}
