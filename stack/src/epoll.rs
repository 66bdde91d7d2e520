//! epoll(7) over synack sockets: an interest list, and a ready list fed by
//! the sockets themselves as their state changes.
//!
//! Read first: epoll(7) and epoll_ctl(2) (the Linux man pages), "The Linux
//! Programming Interface" §63.4 (epoll, level- vs edge-triggered, EPOLLONESHOT,
//! §63.4.5 its performance against poll/select). Linux: fs/eventpoll.c
//! (`struct eventpoll`, `struct epitem`, `ep_insert`, `ep_modify`,
//! `ep_poll_callback`, `ep_send_events`), and the socket wake-ups that feed
//! it: `sk_data_ready`, `sk_write_space`, `sk_state_change`, `sk_error_report`.
//!
//! `poll` (`Stack::poll`) is the scan: every call hands the whole set over
//! and every socket in it is asked for its readiness, O(registered). epoll
//! splits that in two:
//!
//! ```text
//!   epoll_ctl(ADD, sock, interest, token)   once: the interest list remembers
//!                                           the socket (Linux: a red-black
//!                                           tree, `ep->rbr`; a hash map here)
//!   the socket changes (data in, space freed, FIN, RST, a child on the
//!   accept queue): TCP/UDP record "socket H may have changed" with what
//!   changed (the wake-up's *key*) in a `WakeQueue` (socket.rs); one flag per socket,
//!   so the queue holds each socket at most once: bounded by the table
//!   epoll_wait                              drain the wake queue: each woken
//!                                           socket goes on the ready list of
//!                                           every epoll that watches it for
//!                                           that key (`ep_poll_callback`);
//!                                           then report from the ready list
//!                                           only: O(ready), not O(registered)
//! ```
//!
//! The three modes, as `ep_send_events` does them: each ready-list entry is
//! polled again when reported (so a socket read dry since its wake-up is
//! dropped, never reported stale). Then a level-triggered entry goes back
//! on the ready list (it is reported again while the condition holds); an
//! edge-triggered one leaves it (reported again only after the next wake-up,
//! i.e. new data); a one-shot one leaves it *and* is disarmed: no event
//! until `epoll_ctl(MOD)` arms it again.

use crate::errno::Errno;
use crate::socket::{PollFlags, SocketHandle};
use std::collections::{HashMap, VecDeque};

/// `epoll_event.events` bits, with Linux's values (the low ones are poll's).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct EpollFlags(pub u32);

impl EpollFlags {
    pub const NONE: EpollFlags = EpollFlags(0);
    /// Data to read, a connection to accept, or the peer's FIN.
    pub const EPOLLIN: EpollFlags = EpollFlags(0x001);
    /// Urgent data to read with `MSG_OOB` (tcp/urgent.rs).
    pub const EPOLLPRI: EpollFlags = EpollFlags(0x002);
    /// Room in the send buffer (at least the low-water mark).
    pub const EPOLLOUT: EpollFlags = EpollFlags(0x004);
    /// A pending error; always reported, need not be asked for.
    pub const EPOLLERR: EpollFlags = EpollFlags(0x008);
    /// Both directions closed (reset, or FIN both ways); always reported.
    pub const EPOLLHUP: EpollFlags = EpollFlags(0x010);
    /// The peer shut down its writing half (sent FIN).
    pub const EPOLLRDHUP: EpollFlags = EpollFlags(0x2000);
    /// Report a socket once per readiness change, after which it stays
    /// disarmed until `epoll_ctl(MOD)`.
    pub const EPOLLONESHOT: EpollFlags = EpollFlags(1 << 30);
    /// Edge-triggered: report a change once, not a condition while it lasts.
    pub const EPOLLET: EpollFlags = EpollFlags(1 << 31);

    /// The mode bits (not events).
    const MODES: u32 = Self::EPOLLONESHOT.0 | Self::EPOLLET.0;

    pub fn contains(self, other: EpollFlags) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
    pub fn intersects(self, other: EpollFlags) -> bool {
        self.0 & other.0 != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The event bits, as poll(2) readiness.
    pub fn poll_flags(self) -> PollFlags {
        PollFlags((self.0 & !Self::MODES & 0xffff) as u16)
    }
    fn modes_only(self) -> EpollFlags {
        EpollFlags(self.0 & Self::MODES)
    }
}

impl From<PollFlags> for EpollFlags {
    fn from(p: PollFlags) -> EpollFlags {
        EpollFlags(p.0 as u32)
    }
}

impl core::ops::BitOr for EpollFlags {
    type Output = EpollFlags;
    fn bitor(self, o: EpollFlags) -> EpollFlags {
        EpollFlags(self.0 | o.0)
    }
}
impl core::ops::BitOrAssign for EpollFlags {
    fn bitor_assign(&mut self, o: EpollFlags) {
        self.0 |= o.0;
    }
}
impl core::ops::BitAnd for EpollFlags {
    type Output = EpollFlags;
    fn bitand(self, o: EpollFlags) -> EpollFlags {
        EpollFlags(self.0 & o.0)
    }
}

impl core::fmt::Debug for EpollFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names = [
            (Self::EPOLLIN, "EPOLLIN"),
            (Self::EPOLLPRI, "EPOLLPRI"),
            (Self::EPOLLOUT, "EPOLLOUT"),
            (Self::EPOLLERR, "EPOLLERR"),
            (Self::EPOLLHUP, "EPOLLHUP"),
            (Self::EPOLLRDHUP, "EPOLLRDHUP"),
            (Self::EPOLLONESHOT, "EPOLLONESHOT"),
            (Self::EPOLLET, "EPOLLET"),
        ];
        let set: Vec<&str> = names.iter().filter(|(b, _)| self.contains(*b)).map(|(_, n)| *n).collect();
        if set.is_empty() {
            write!(f, "{:#x}", self.0)
        } else {
            f.write_str(&set.join("|"))
        }
    }
}

/// An epoll instance, like the descriptor `epoll_create1(2)` returns.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct EpollHandle(pub usize);

/// `epoll_ctl(2)`'s `op`.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum EpollOp {
    /// EPOLL_CTL_ADD: watch a socket (`EEXIST` if it already is).
    Add,
    /// EPOLL_CTL_MOD: change the interest and token; re-arms a one-shot (`ENOENT` if not watched).
    Mod,
    /// EPOLL_CTL_DEL: stop watching (`ENOENT` if not watched).
    Del,
}

/// One `struct epoll_event` out of `epoll_wait`: what is ready, and the
/// token given to `epoll_ctl` (the kernel's `epoll_data`, here a `u64`).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct EpollEvent {
    pub events: EpollFlags,
    pub token: u64,
}

/// One watched socket (the kernel's `struct epitem`).
#[derive(Debug)]
struct Epitem {
    /// The interest plus EPOLLERR|EPOLLHUP (always watched, as on Linux)
    /// plus the mode bits. A one-shot entry that fired keeps only its mode
    /// bits: disarmed.
    events: EpollFlags,
    token: u64,
    /// On the ready list (`ep_is_linked`).
    linked: bool,
    /// Which registration this is: ready-list entries from an earlier one
    /// (before a DEL and a new ADD) are stale and skipped.
    gen: u64,
}

/// One epoll instance (the kernel's `struct eventpoll`).
#[derive(Debug, Default)]
struct Eventpoll {
    /// The interest list.
    items: HashMap<SocketHandle, Epitem>,
    /// The ready list (`rdllist`): sockets that were woken with a key they
    /// are watched for, in the order they were woken.
    rdllist: VecDeque<(SocketHandle, u64)>,
}

/// Every epoll instance of a stack, and which instances watch each socket
/// (the socket's wait queue, where `ep_insert` hangs `ep_poll_callback`).
#[derive(Debug, Default)]
pub struct EpollTable {
    eps: Vec<Option<Eventpoll>>,
    watchers: HashMap<SocketHandle, Vec<usize>>,
    next_gen: u64,
}

impl EpollTable {
    /// `epoll_create1(0)`.
    pub fn create(&mut self) -> EpollHandle {
        if let Some(i) = self.eps.iter().position(|e| e.is_none()) {
            self.eps[i] = Some(Eventpoll::default());
            return EpollHandle(i);
        }
        self.eps.push(Some(Eventpoll::default()));
        EpollHandle(self.eps.len() - 1)
    }

    /// `close(epfd)`: forget the instance and its interest list.
    pub fn close(&mut self, ep: EpollHandle) -> Result<(), Errno> {
        let e = self.eps.get_mut(ep.0).and_then(|e| e.take()).ok_or(Errno::EBADF)?;
        for h in e.items.keys() {
            self.unwatch(*h, ep.0);
        }
        Ok(())
    }

    fn ep(&mut self, ep: EpollHandle) -> Result<&mut Eventpoll, Errno> {
        self.eps.get_mut(ep.0).and_then(|e| e.as_mut()).ok_or(Errno::EBADF)
    }

    fn unwatch(&mut self, h: SocketHandle, ep: usize) {
        if let Some(w) = self.watchers.get_mut(&h) {
            w.retain(|&e| e != ep);
            if w.is_empty() {
                self.watchers.remove(&h);
            }
        }
    }

    /// `epoll_ctl(2)`. `readiness` is the socket's poll mask now: ADD and
    /// MOD look at the socket at once (`ep_insert`/`ep_modify` call
    /// `ep_item_poll`), so a socket already ready is reported by the next wait.
    pub fn ctl(
        &mut self,
        ep: EpollHandle,
        op: EpollOp,
        h: SocketHandle,
        events: EpollFlags,
        token: u64,
        readiness: PollFlags,
    ) -> Result<(), Errno> {
        if readiness.contains(PollFlags::POLLNVAL) {
            return Err(Errno::EBADF);
        }
        let events = events | EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP;
        let gen = self.next_gen;
        let e = self.ep(ep)?;
        let item = match op {
            EpollOp::Add => {
                if e.items.contains_key(&h) {
                    return Err(Errno::EEXIST);
                }
                e.items.insert(h, Epitem { events, token, linked: false, gen });
                self.next_gen += 1;
                self.watchers.entry(h).or_default().push(ep.0);
                self.ep(ep)?.items.get_mut(&h).expect("just inserted")
            }
            EpollOp::Mod => {
                let it = e.items.get_mut(&h).ok_or(Errno::ENOENT)?;
                it.events = events;
                it.token = token;
                it
            }
            EpollOp::Del => {
                e.items.remove(&h).ok_or(Errno::ENOENT)?;
                self.unwatch(h, ep.0);
                return Ok(());
            }
        };
        if !item.linked && readiness.intersects(item.events.poll_flags()) {
            item.linked = true;
            let entry = (h, item.gen);
            self.ep(ep)?.rdllist.push_back(entry);
        }
        Ok(())
    }

    /// The socket was closed: it leaves every interest list (Linux's
    /// `eventpoll_release` on the last close of a file).
    pub fn forget(&mut self, h: SocketHandle) {
        for ep in self.watchers.remove(&h).unwrap_or_default() {
            if let Some(Some(e)) = self.eps.get_mut(ep) {
                e.items.remove(&h);
            }
        }
    }

    /// `ep_poll_callback`: socket `h` was woken with `key`. Every instance
    /// that watches it for an event in `key`, and is armed, puts it on its
    /// ready list (once).
    pub fn wake(&mut self, h: SocketHandle, key: PollFlags) {
        let Some(eps) = self.watchers.get(&h) else { return };
        for &ep in eps {
            let Some(Some(e)) = self.eps.get_mut(ep) else { continue };
            let Some(it) = e.items.get_mut(&h) else { continue };
            // A disarmed one-shot (no events left) and a key it does not
            // watch (say, send space for an EPOLLIN-only entry) change nothing.
            if it.linked || !key.intersects(it.events.poll_flags()) {
                continue;
            }
            it.linked = true;
            e.rdllist.push_back((h, it.gen));
        }
    }

    /// `epoll_wait(2)` without the waiting: fill `out` with at most `max`
    /// events from the ready list, asking `poll` for each entry's readiness
    /// now. Costs O(entries on the ready list).
    pub fn wait(
        &mut self,
        ep: EpollHandle,
        out: &mut Vec<EpollEvent>,
        max: usize,
        poll: impl Fn(SocketHandle) -> PollFlags,
    ) -> Result<usize, Errno> {
        if max == 0 {
            return Err(Errno::EINVAL);
        }
        out.clear();
        let e = self.ep(ep)?;
        // Each entry present now is looked at once; level-triggered ones
        // go back to the tail, so a long ready list is served round-robin.
        for _ in 0..e.rdllist.len() {
            if out.len() >= max {
                break;
            }
            let Some((h, gen)) = e.rdllist.pop_front() else { break };
            let Some(it) = e.items.get_mut(&h) else { continue };
            if it.gen != gen || !it.linked {
                continue;
            }
            let revents = poll(h) & it.events.poll_flags();
            if revents.is_empty() {
                // Woken, but not ready for anything watched (read dry since).
                it.linked = false;
                continue;
            }
            out.push(EpollEvent { events: revents.into(), token: it.token });
            if it.events.contains(EpollFlags::EPOLLONESHOT) {
                it.events = it.events.modes_only();
                it.linked = false;
            } else if it.events.contains(EpollFlags::EPOLLET) {
                it.linked = false;
            } else {
                e.rdllist.push_back((h, gen));
            }
        }
        Ok(out.len())
    }

    /// Sockets in `ep`'s interest list.
    pub fn watched(&self, ep: EpollHandle) -> usize {
        self.eps.get(ep.0).and_then(|e| e.as_ref()).map_or(0, |e| e.items.len())
    }

    /// Entries on `ep`'s ready list (some may turn out no longer ready).
    pub fn ready_len(&self, ep: EpollHandle) -> usize {
        self.eps.get(ep.0).and_then(|e| e.as_ref()).map_or(0, |e| e.rdllist.len())
    }

    /// The interest `ep` has in `h`, without EPOLLERR|EPOLLHUP (none for a
    /// disarmed one-shot).
    pub fn interest(&self, ep: EpollHandle, h: SocketHandle) -> Option<EpollFlags> {
        let it = self.eps.get(ep.0)?.as_ref()?.items.get(&h)?;
        let always = EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP;
        Some(EpollFlags(it.events.0 & !always.0))
    }
}

#[cfg(test)]
mod tests {
    //! The ready list alone, with readiness set by hand; the rules against
    //! real TCP and UDP sockets are tested in stack.rs.
    use super::*;
    use crate::socket::WakeQueue;

    const A: SocketHandle = SocketHandle::Tcp(1);
    const B: SocketHandle = SocketHandle::Tcp(2);
    const IN: PollFlags = PollFlags::POLLIN;

    fn wait(t: &mut EpollTable, ep: EpollHandle, ready: &HashMap<SocketHandle, PollFlags>) -> Vec<EpollEvent> {
        let mut v = Vec::new();
        t.wait(ep, &mut v, 64, |h| ready.get(&h).copied().unwrap_or_default()).unwrap();
        v
    }

    #[test]
    fn wake_queue_holds_each_socket_once_and_merges_keys() {
        let mut q = WakeQueue::default();
        for _ in 0..1000 {
            q.wake(7, IN);
            q.wake(7, PollFlags::POLLOUT);
        }
        q.wake(3, PollFlags::NONE); // no key: nothing happened
        assert_eq!(q.len(), 1);
        let mut got = Vec::new();
        q.drain(|i, k| got.push((i, k)));
        assert_eq!(got, vec![(7, IN | PollFlags::POLLOUT)]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_key_not_watched_does_not_link() {
        let mut t = EpollTable::default();
        let ep = t.create();
        t.ctl(ep, EpollOp::Add, A, EpollFlags::EPOLLIN | EpollFlags::EPOLLET, 1, PollFlags::NONE).unwrap();
        t.wake(A, PollFlags::POLLOUT);
        assert_eq!(t.ready_len(ep), 0, "send space is no news to an EPOLLIN watcher");
        t.wake(A, IN);
        t.wake(A, IN);
        assert_eq!(t.ready_len(ep), 1, "linked once");
    }

    #[test]
    fn del_then_add_skips_the_stale_entry() {
        let mut t = EpollTable::default();
        let ep = t.create();
        let ready: HashMap<_, _> = [(A, IN)].into();
        t.ctl(ep, EpollOp::Add, A, EpollFlags::EPOLLIN, 1, IN).unwrap();
        t.ctl(ep, EpollOp::Del, A, EpollFlags::NONE, 0, IN).unwrap();
        t.ctl(ep, EpollOp::Add, A, EpollFlags::EPOLLIN, 2, IN).unwrap();
        assert_eq!(wait(&mut t, ep, &ready), vec![EpollEvent { events: EpollFlags::EPOLLIN, token: 2 }]);
        assert_eq!(t.ctl(ep, EpollOp::Add, A, EpollFlags::EPOLLIN, 2, IN), Err(Errno::EEXIST));
        assert_eq!(t.ctl(ep, EpollOp::Mod, B, EpollFlags::EPOLLIN, 2, IN), Err(Errno::ENOENT));
        assert_eq!(t.ctl(ep, EpollOp::Del, B, EpollFlags::NONE, 0, IN), Err(Errno::ENOENT));
        assert_eq!(t.ctl(ep, EpollOp::Add, B, EpollFlags::EPOLLIN, 2, PollFlags::POLLNVAL), Err(Errno::EBADF));
        assert_eq!(t.ctl(EpollHandle(9), EpollOp::Add, B, EpollFlags::EPOLLIN, 2, IN), Err(Errno::EBADF));
    }

    #[test]
    fn level_triggered_entries_are_served_round_robin() {
        let mut t = EpollTable::default();
        let ep = t.create();
        let socks: Vec<SocketHandle> = (0..5).map(SocketHandle::Tcp).collect();
        let ready: HashMap<_, _> = socks.iter().map(|&h| (h, IN)).collect();
        for (k, &h) in socks.iter().enumerate() {
            t.ctl(ep, EpollOp::Add, h, EpollFlags::EPOLLIN, k as u64, IN).unwrap();
        }
        let mut v = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..5 {
            t.wait(ep, &mut v, 2, |h| ready[&h]).unwrap();
            seen.extend(v.iter().map(|e| e.token));
        }
        assert_eq!(seen, vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
        assert_eq!(t.wait(ep, &mut v, 0, |h| ready[&h]), Err(Errno::EINVAL));
    }

    /// `wait` looks at the ready list only: with 10,000 sockets watched and
    /// three woken, it polls three sockets, not 10,000.
    #[test]
    fn wait_polls_the_woken_sockets_only() {
        let mut t = EpollTable::default();
        let ep = t.create();
        for i in 0..10_000 {
            t.ctl(ep, EpollOp::Add, SocketHandle::Tcp(i), EpollFlags::EPOLLIN, i as u64, PollFlags::NONE).unwrap();
        }
        for i in [5, 500, 5000] {
            t.wake(SocketHandle::Tcp(i), IN);
        }
        let polled = std::cell::Cell::new(0);
        let mut v = Vec::new();
        t.wait(ep, &mut v, 64, |_| {
            polled.set(polled.get() + 1);
            IN
        })
        .unwrap();
        assert_eq!(v.iter().map(|e| e.token).collect::<Vec<_>>(), vec![5, 500, 5000]);
        assert_eq!(polled.get(), 3);
    }

    #[test]
    fn closing_forgets_the_socket_and_the_instance() {
        let mut t = EpollTable::default();
        let ep = t.create();
        let ep2 = t.create();
        t.ctl(ep, EpollOp::Add, A, EpollFlags::EPOLLIN, 1, IN).unwrap();
        t.ctl(ep2, EpollOp::Add, A, EpollFlags::EPOLLIN, 1, IN).unwrap();
        t.forget(A);
        assert_eq!((t.watched(ep), t.watched(ep2)), (0, 0));
        let ready: HashMap<_, _> = [(A, IN)].into();
        assert!(wait(&mut t, ep, &ready).is_empty(), "the stale ready entry is skipped");
        t.ctl(ep, EpollOp::Add, B, EpollFlags::EPOLLIN, 1, IN).unwrap();
        t.close(ep).unwrap();
        assert_eq!(t.close(ep), Err(Errno::EBADF));
        t.wake(B, IN); // no watcher left: nothing to do
        assert!(t.watchers.is_empty());
        assert_eq!(t.create(), ep, "the slot is reused");
    }
}
