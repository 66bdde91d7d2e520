//! The web server's reactor handlers (reactor.rs): `WebAcceptor` on the
//! listener, one `WebConn` per connection. Sockets are synack's own,
//! non-blocking; a handler does what its socket allows now and tells the
//! reactor what to wait for (readable, writable, a timer).
//!
//! Read first: RFC 9112 §9 (connection management: persistence,
//! pipelining, closing), the WHATWG HTML standard §9.2 (Server-Sent
//! Events), and how nginx defends itself (`client_header_timeout`,
//! `keepalive_timeout`, `send_timeout`, `limit_conn`, `lingering_close`):
//! every limit below is one of those, a named constant.
//!
//! A connection's life:
//!
//! ```text
//!   accept ─► Requests: read (at most one request's worth), parse
//!             (http.rs), answer (api.rs), in order, pipelined or not;
//!             idle IDLE_TIMEOUT ─► closed; a request not whole within
//!             REQUEST_TIMEOUT of its first byte ─► 408
//!   GET /api/events ─► Events: a stream, one `event: conns` on change at
//!             most every EVENT_INTERVAL and at least every EVENT_KEEPALIVE,
//!             `event: step` when step output comes
//!   an error, `Connection: close` ─► Closing: send the rest, FIN, read and
//!             discard until the peer's FIN or LINGER (so our close does
//!             not reset a response the peer has not read yet)
//! ```
//!
//! Nothing waits on a client: output waits in the connection's buffer and
//! goes as the socket drains; a peer that reads nothing for SEND_TIMEOUT
//! is closed; input is read only when the previous answers are under
//! OUT_HIGH_WATER (backpressure), and at most one request's worth at a time.

use super::api::{self, Reply};
use super::http::{self, parse_request, Method, Parsed, Response, Status, MAX_BODY, MAX_HEAD};
use super::Shared;
use crate::reactor::{Ctx, Handler, Next, Reactor};
use crate::services::send_pending;
use stack::{Duration, EpollFlags, Errno, Instant, MsgFlags, SockOpt, SockType, SocketHandle, Stack};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Web connections served at once from one client address (nginx's
/// `limit_conn`); more are answered 503 and closed.
pub const MAX_PER_CLIENT: usize = 16;
/// Web connections served at once in all; more are answered 503 and closed.
pub const MAX_WEB_CONNS: usize = 256;
/// A request must be whole this long after its first byte, or 408
/// (nginx's `client_header_timeout`: the slowloris defence).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A kept-alive connection with no request this long is closed (nginx's
/// `keepalive_timeout`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// A peer that takes less than `SEND_MIN_PROGRESS` of our output in this
/// long is closed (nginx's `send_timeout`, with a minimum, as Apache's
/// `mod_reqtimeout` has a `MinRate`: a few bytes a window that a zero
/// window probe lets through must not keep a connection forever).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes a peer must take per `SEND_TIMEOUT` while output waits.
pub const SEND_MIN_PROGRESS: usize = 1024;
/// After our FIN, how long we read and discard what the peer still sends
/// before closing (nginx's `lingering_timeout`).
pub const LINGER: Duration = Duration::from_secs(2);
/// Unsent output above which a connection reads no more requests (and a
/// stream skips an event: the next one carries the news).
pub const OUT_HIGH_WATER: usize = 256 * 1024;
/// Answers waiting unsent on all web connections together, at most: an
/// answer that would pass it is a 503 instead (256 clients each asking
/// for a 2 MB history and reading nothing must not hold 512 MB).
pub const OUT_TOTAL_LIMIT: usize = 64 * 1024 * 1024;
/// An event stream's `conns` events are at least this far apart.
pub const EVENT_INTERVAL: Duration = Duration::from_millis(250);
/// ... and at most this far apart (a comment for proxies and the page's
/// "connected" light).
pub const EVENT_KEEPALIVE: Duration = Duration::from_secs(5);
/// Requests one connection gets answered per turn of the loop, at most;
/// the rest wait for the next turn (a client pipelining thousands of
/// requests must not hold the loop while the others wait).
pub const ANSWERS_PER_TURN: usize = 16;
/// The listener's backlog.
const BACKLOG: usize = 128;

/// Bytes held from the peer at most: one whole request of the largest kind.
const READ_LIMIT: usize = MAX_HEAD + MAX_BODY;

const IN: EpollFlags = EpollFlags::EPOLLIN;
const OUT: EpollFlags = EpollFlags::EPOLLOUT;
const RDHUP: EpollFlags = EpollFlags::EPOLLRDHUP;

/// `socket`, `bind` to the stack's own address (never 0.0.0.0) and the
/// web port, `listen`, and the acceptor on the reactor.
pub fn listen(reactor: &mut Reactor, stack: &mut Stack, now: Instant, web: Shared) -> Result<(), Errno> {
    let port = web.borrow().opts.port;
    let h = stack.socket(SockType::Stream)?;
    let r = (|| {
        stack.setsockopt(now, h, SockOpt::ReuseAddr(true))?;
        stack.setsockopt(now, h, SockOpt::NonBlocking(true))?;
        stack.bind(h, SocketAddrV4::new(stack.iface().addr, port))?;
        stack.listen(h, BACKLOG)
    })();
    if let Err(e) = r {
        let _ = stack.close(now, h);
        return Err(e);
    }
    reactor.register(stack, Box::new(WebAcceptor { listener: h, web })).map(|_| ()).inspect_err(|_| {
        let _ = stack.close(now, h);
    })
}

/// Accepts until `EAGAIN`; a connection over a limit gets a 503 and is closed.
struct WebAcceptor {
    listener: SocketHandle,
    web: Shared,
}

impl Handler for WebAcceptor {
    fn socket(&self) -> SocketHandle {
        self.listener
    }
    fn interest(&self) -> EpollFlags {
        IN
    }
    fn on_ready(&mut self, cx: &mut Ctx, _events: EpollFlags) -> Next {
        while let Ok((sock, peer)) = cx.stack.accept(cx.now, self.listener) {
            let _ = cx.stack.setsockopt(cx.now, sock, SockOpt::NonBlocking(true));
            let _ = cx.stack.setsockopt(cx.now, sock, SockOpt::NoDelay(true));
            let ip = *peer.ip();
            let mut st = self.web.borrow_mut();
            st.stats.accepted += 1;
            let mine = st.clients.get(&ip).copied().unwrap_or(0);
            let (max_conns, max_per_client) = st.conn_limits;
            if st.open >= max_conns || mine >= max_per_client {
                // Refused: the answer fits any send buffer; then closed.
                st.stats.refused += 1;
                let why = if mine >= max_per_client { "too many connections from you" } else { "too many connections" };
                let r = Response::error(Status::SERVICE_UNAVAILABLE, why);
                let _ = cx.stack.send(cx.now, sock, &r.to_bytes(false, false), MsgFlags::NONE);
                // A request already here is read and dropped: closing with
                // unread data would reset the connection (RFC 2525 §2.17)
                // and the 503 with it.
                let mut dropped = 0;
                while dropped < READ_LIMIT {
                    match cx.stack.recv(cx.now, sock, cx.buf, MsgFlags::NONE) {
                        Ok(n) if n > 0 => dropped += n,
                        _ => break,
                    }
                }
                let _ = cx.stack.close(cx.now, sock);
                continue;
            }
            st.open += 1;
            *st.clients.entry(ip).or_insert(0) += 1;
            drop(st);
            cx.spawn(Box::new(WebConn::new(sock, ip, self.web.clone(), cx.now)));
        }
        Next::on(IN)
    }
}

/// What a connection is doing.
enum Mode {
    /// Reading requests and answering them.
    Requests,
    /// An event stream: the `conns` JSON last sent (less its time) and
    /// when, when to look again, and the step output's sequence number
    /// last sent.
    Events { last: String, sent_at: Option<Instant>, check_at: Instant, step_seq: u64 },
    /// Sending the rest, then FIN, then discarding input until the peer's
    /// FIN or `until`.
    Closing { until: Option<Instant> },
}

/// One web connection.
struct WebConn {
    sock: SocketHandle,
    peer: Ipv4Addr,
    web: Shared,
    mode: Mode,
    /// Received and not yet parsed (at most `READ_LIMIT`).
    inbuf: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
    /// When the first byte of the request being read came.
    request_since: Option<Instant>,
    /// The last time anything came or went.
    active_at: Instant,
    /// The last time `SEND_MIN_PROGRESS` of output went, or it was empty.
    drained_at: Instant,
    /// `sent` at `drained_at`.
    drained_mark: usize,
    /// The peer's FIN came.
    peer_eof: bool,
    /// Unsent bytes this connection counts in `WebState::out_total`.
    counted: usize,
    /// `ANSWERS_PER_TURN` were given and requests may be left: run again
    /// next turn.
    more: bool,
}

impl WebConn {
    fn new(sock: SocketHandle, peer: Ipv4Addr, web: Shared, now: Instant) -> WebConn {
        WebConn {
            sock,
            peer,
            web,
            mode: Mode::Requests,
            inbuf: Vec::new(),
            out: Vec::new(),
            sent: 0,
            request_since: None,
            active_at: now,
            drained_at: now,
            drained_mark: 0,
            peer_eof: false,
            counted: 0,
            more: false,
        }
    }

    fn unsent(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Send what the socket takes; compact when all has gone.
    fn flush(&mut self, stack: &mut Stack, now: Instant) -> Result<(), Errno> {
        if send_pending(stack, now, self.sock, &self.out, &mut self.sent)? {
            self.active_at = now;
        }
        if self.sent >= self.drained_mark + SEND_MIN_PROGRESS {
            self.drained_mark = self.sent;
            self.drained_at = now;
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
            self.drained_mark = 0;
            self.drained_at = now;
        }
        Ok(())
    }

    /// Read what is there, at most up to `READ_LIMIT` held. `Ok(false)`:
    /// nothing more now (EAGAIN, the limit, or the peer's FIN).
    fn read_some(&mut self, stack: &mut Stack, now: Instant, buf: &mut [u8]) -> Result<bool, Errno> {
        let room = READ_LIMIT.saturating_sub(self.inbuf.len()).min(buf.len());
        if room == 0 || self.peer_eof {
            return Ok(false);
        }
        match stack.recv(now, self.sock, &mut buf[..room], MsgFlags::NONE) {
            Ok(0) => {
                self.peer_eof = true;
                Ok(false)
            }
            Ok(n) => {
                if self.inbuf.is_empty() {
                    self.request_since = Some(now);
                }
                self.inbuf.extend_from_slice(&buf[..n]);
                self.active_at = now;
                Ok(true)
            }
            Err(Errno::EAGAIN) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Answer with `r` and close (an error, or a timeout).
    fn fail(&mut self, r: Response) {
        self.web.borrow_mut().stats.errors += 1;
        self.out.extend_from_slice(&r.to_bytes(false, false));
        self.inbuf.clear();
        self.mode = Mode::Closing { until: None };
    }

    /// Do what can be done now; what to wait for next.
    fn drive(&mut self, cx: &mut Ctx) -> Result<Next, Errno> {
        let now = cx.now;
        let mut answers = 0;
        self.more = false;
        loop {
            self.flush(cx.stack, now)?;
            if self.unsent() > 0 && now >= self.drained_at + SEND_TIMEOUT {
                self.web.borrow_mut().stats.timeouts += 1;
                return Ok(Next::Close); // it reads nothing: give up on it
            }
            let unsent = self.unsent();
            match &mut self.mode {
                Mode::Requests => {
                    if self.unsent() > OUT_HIGH_WATER {
                        break; // backpressure: answer no more until this has gone
                    }
                    if answers == ANSWERS_PER_TURN {
                        self.more = true;
                        break;
                    }
                    match parse_request(&self.inbuf) {
                        Parsed::Done(req, n) => {
                            answers += 1;
                            self.inbuf.drain(..n);
                            self.request_since = (!self.inbuf.is_empty()).then_some(now);
                            self.answer(cx, &req);
                        }
                        Parsed::Error(status) => self.fail(Response::error(status, status.reason())),
                        Parsed::Partial => {
                            if self.read_some(cx.stack, now, cx.buf)? {
                                continue;
                            }
                            if self.peer_eof {
                                // Half-closed: a request cut short is not answered.
                                self.inbuf.clear();
                                self.mode = Mode::Closing { until: None };
                                continue;
                            }
                            if self.request_since.is_some_and(|t| now >= t + REQUEST_TIMEOUT) {
                                self.web.borrow_mut().stats.timeouts += 1;
                                self.fail(Response::error(Status::REQUEST_TIMEOUT, "the request came too slowly"));
                                continue;
                            }
                            if self.inbuf.is_empty() && self.unsent() == 0 && now >= self.active_at + IDLE_TIMEOUT {
                                return Ok(Next::Close); // idle: closed without a word
                            }
                            break;
                        }
                    }
                }
                Mode::Events { .. } => {
                    // What the peer sends on a stream is read and dropped.
                    while !self.peer_eof {
                        match cx.stack.recv(now, self.sock, cx.buf, MsgFlags::NONE) {
                            Ok(0) => self.peer_eof = true,
                            Ok(_) => {}
                            Err(Errno::EAGAIN) => break,
                            Err(e) => return Err(e),
                        }
                    }
                    if self.peer_eof {
                        return Ok(Next::Close);
                    }
                    self.stream_events(cx);
                    self.flush(cx.stack, now)?;
                    break;
                }
                Mode::Closing { until } => {
                    if unsent > 0 {
                        break;
                    }
                    if until.is_none() {
                        let _ = cx.stack.shutdown(now, self.sock, stack::Shutdown::Write);
                        *until = Some(now + LINGER);
                    }
                    let deadline = until.unwrap_or(now);
                    while !self.peer_eof {
                        match cx.stack.recv(now, self.sock, cx.buf, MsgFlags::NONE) {
                            Ok(0) => self.peer_eof = true,
                            Ok(_) => {}
                            Err(Errno::EAGAIN) => break,
                            Err(_) => return Ok(Next::Close),
                        }
                    }
                    if self.peer_eof || now >= deadline {
                        return Ok(Next::Close);
                    }
                    break;
                }
            }
        }
        Ok(self.next(now))
    }

    /// One request: route it, queue the answer, set the mode.
    fn answer(&mut self, cx: &mut Ctx, req: &http::Request) {
        let reply = {
            let mut st = self.web.borrow_mut();
            st.stats.requests += 1;
            api::handle(req, cx.stack, cx.now, &mut st)
        };
        match reply {
            Reply::Page(mut r) => {
                let (total, limit) = (self.web.borrow().out_total, self.web.borrow().out_limit);
                if total + r.body.len() > limit {
                    r = Response::error(Status::SERVICE_UNAVAILABLE, "busy: too many answers waiting; try again");
                }
                if r.status.0 >= 400 {
                    self.web.borrow_mut().stats.errors += 1;
                }
                self.out.extend_from_slice(&r.to_bytes(req.keep_alive, req.method == Method::Head));
                self.account();
                if !req.keep_alive {
                    self.mode = Mode::Closing { until: None };
                }
            }
            Reply::Events => {
                // What was pipelined after it is dropped: the stream is the
                // rest of this connection.
                self.inbuf.clear();
                self.request_since = None;
                self.out.extend_from_slice(&http::event_stream_head());
                self.web.borrow_mut().streams.push(self.sock);
                self.mode = Mode::Events { last: String::new(), sent_at: None, check_at: cx.now, step_seq: 0 };
                self.stream_events(cx);
            }
        }
    }

    /// An event stream's turn: the step view if new, the connections if
    /// changed (or quiet too long), unless the peer is behind.
    fn stream_events(&mut self, cx: &mut Ctx) {
        let now = cx.now;
        let behind = self.out.len() - self.sent > OUT_HIGH_WATER;
        let Mode::Events { last, sent_at, check_at, step_seq } = &mut self.mode else { return };
        if behind {
            return; // the next turn after it drains sends what is new then
        }
        let mut st = self.web.borrow_mut();
        if st.step_seq != *step_seq {
            *step_seq = st.step_seq;
            let view = api::step(&st);
            self.out.extend_from_slice(&http::event("step", &view.to_string()));
        }
        if now < *check_at {
            return;
        }
        *check_at = now + EVENT_INTERVAL;
        st.drain_probes(cx.stack);
        let body = api::conns_without_time(cx.stack, now, &st);
        let text = body.to_string();
        let quiet_too_long = sent_at.is_none_or(|t| now >= t + EVENT_KEEPALIVE);
        if text != *last || quiet_too_long {
            let json = api::conns(cx.stack, now, &st);
            self.out.extend_from_slice(&http::event("conns", &json.to_string()));
            *last = text;
            *sent_at = Some(now);
        }
    }

    /// Bring `WebState::out_total` up to date with this connection's unsent bytes.
    fn account(&mut self) {
        let unsent = self.unsent();
        let mut st = self.web.borrow_mut();
        st.out_total = st.out_total + unsent - self.counted;
        self.counted = unsent;
    }

    /// What to wait for: the socket, and the earliest deadline.
    fn next(&self, now: Instant) -> Next {
        let mut interest = EpollFlags::NONE;
        let mut timer: Option<Instant> = None;
        let mut at = |t: Instant| timer = Some(timer.map_or(t, |x| x.min(t)));
        if self.more {
            at(now); // the reactor runs a timer set for now at its next turn
        }
        if self.unsent() > 0 {
            interest |= OUT;
            at(self.drained_at + SEND_TIMEOUT);
        }
        let reading = !self.peer_eof;
        match &self.mode {
            Mode::Requests => {
                if reading && self.unsent() <= OUT_HIGH_WATER && self.inbuf.len() < READ_LIMIT {
                    interest |= IN | RDHUP;
                }
                match self.request_since {
                    Some(t) => at(t + REQUEST_TIMEOUT),
                    None if self.unsent() == 0 => at(self.active_at + IDLE_TIMEOUT),
                    None => {}
                }
            }
            Mode::Events { check_at, .. } => {
                if reading {
                    interest |= IN | RDHUP;
                }
                at((*check_at).max(now + Duration::from_millis(1)));
            }
            Mode::Closing { until } => {
                if reading && self.unsent() == 0 {
                    interest |= IN | RDHUP;
                }
                if let Some(t) = until {
                    at(*t);
                }
            }
        }
        Next::Wait { interest, timer }
    }
}

impl Handler for WebConn {
    fn socket(&self) -> SocketHandle {
        self.sock
    }
    fn interest(&self) -> EpollFlags {
        // A new socket is writable at once: the handler runs as soon as it
        // is registered and sets its idle timer (a client that never sends
        // a byte is closed at IDLE_TIMEOUT too).
        IN | RDHUP | OUT
    }
    fn on_ready(&mut self, cx: &mut Ctx, _events: EpollFlags) -> Next {
        let next = self.drive(cx).unwrap_or(Next::Close);
        self.account();
        next
    }
}

impl Drop for WebConn {
    /// The reactor drops a handler when it closes its socket: the counts
    /// the limits read go down here, whatever the path to the close.
    fn drop(&mut self) {
        let mut st = self.web.borrow_mut();
        st.open = st.open.saturating_sub(1);
        st.out_total -= self.counted;
        if let Some(n) = st.clients.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                st.clients.remove(&self.peer);
            }
        }
        let sock = self.sock;
        st.streams.retain(|&s| s != sock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::{Web, WebOptions};
    use device::{BlockingSocket, Faults, Side, Sim};
    use stack::{Config, MacAddr};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// The reactor and the web on B, as `synack up --web` runs them.
    struct Up(Rc<RefCell<Reactor>>, Rc<RefCell<Web>>);

    impl device::Service for Up {
        fn poll(&mut self, stack: &mut Stack, now: Instant) {
            let mut r = self.0.borrow_mut();
            r.run_once(stack, now);
            self.1.borrow_mut().turn(stack, &mut r, now);
        }
        fn poll_at(&self) -> Option<Instant> {
            self.0.borrow().poll_at()
        }
    }

    /// A simulated host (A, its receive buffer `rcvbuf_a` if given) and
    /// synack with the web (B, its send buffer `sndbuf`).
    fn sim(sndbuf: usize, rcvbuf_a: Option<usize>) -> (Sim, Rc<RefCell<Web>>) {
        let mut a = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() };
        if let Some(r) = rcvbuf_a {
            a.tcp.rcvbuf = r;
            a.tcp.rcvbuf_max = r;
            a.tcp.moderate_rcvbuf = false;
        }
        let mut b = Config::default();
        b.tcp.sndbuf = sndbuf;
        b.tcp.sndbuf_max = sndbuf;
        let mut sim = Sim::new(a, b, Faults::default());
        let now = sim.now();
        let mut r = Reactor::new(sim.stack(Side::B));
        let opts = WebOptions { port: 80, control: false };
        let web = Web::start(&mut r, sim.stack(Side::B), now, opts, "tap0", None).unwrap();
        let web = Rc::new(RefCell::new(web));
        sim.add_service(Side::B, Up(Rc::new(RefCell::new(r)), web.clone()));
        (sim, web)
    }

    fn get(host: &mut device::SimHost, s: &mut BlockingSocket) -> Vec<u8> {
        s.set_read_timeout(Some(Duration::from_secs(60)));
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.recv(host, &mut buf, MsgFlags::NONE) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) => panic!("recv: {e} after {} bytes", all.len()),
            }
        }
    }

    /// (status, body) of each response in `bytes`, by Content-Length.
    fn responses(mut bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut r = httparse::Response::new(&mut headers);
            let Ok(httparse::Status::Complete(head)) = r.parse(bytes) else { panic!("{:?}", &bytes[..40]) };
            let len = r.headers.iter().find(|h| h.name == "Content-Length").unwrap().value;
            let len: usize = std::str::from_utf8(len).unwrap().parse().unwrap();
            out.push((r.code.unwrap(), bytes[head..head + len].to_vec()));
            bytes = &bytes[head + len..];
        }
        out
    }

    /// Read `s` until its text holds `needle`; the text and when.
    fn read_until(host: &mut device::SimHost, s: &mut BlockingSocket, text: &mut String, needle: &str) -> Instant {
        use device::Net;
        s.set_read_timeout(Some(Duration::from_secs(10)));
        let mut buf = [0u8; 4096];
        while !text.contains(needle) {
            let n = s.recv(host, &mut buf, MsgFlags::NONE).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert!(n > 0, "EOF before {needle:?}: {text}");
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        host.now()
    }

    /// The event stream on the virtual clock: the connections at once, a
    /// new connection within EVENT_INTERVAL (plus the round trip) of its
    /// handshake, events never closer than EVENT_INTERVAL, and step output
    /// as it comes (`Web::turn` wakes the stream).
    #[test]
    fn the_event_stream_on_a_virtual_clock() {
        use device::Net;
        let (mut sim, web) = sim(212_992, None);
        let mut host = sim.host(Side::A);
        let to = SocketAddrV4::new([10, 0, 0, 2].into(), 80);
        let mut ev = BlockingSocket::socket(&mut host, SockType::Stream).unwrap();
        ev.connect(&mut host, to).unwrap();
        ev.send(&mut host, b"GET /api/events HTTP/1.1\r\nHost: a\r\n\r\n", MsgFlags::NONE).unwrap();
        let mut text = String::new();
        read_until(&mut host, &mut ev, &mut text, "event: conns\ndata: ");
        read_until(&mut host, &mut ev, &mut text, "\n\n");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("text/event-stream"), "{text}");
        // A new connection: in the stream within an interval and a bit.
        let other = BlockingSocket::socket(&mut host, SockType::Stream).unwrap();
        other.connect(&mut host, to).unwrap();
        let handshake = host.now();
        let me = format!("\"remote\":\"{}\"", other.local_addr(&mut host).unwrap());
        let seen = read_until(&mut host, &mut ev, &mut text, &me);
        assert!(seen - handshake <= EVENT_INTERVAL + Duration::from_millis(5), "{:?}", seen - handshake);
        // Events at least EVENT_INTERVAL apart, over a few seconds (the
        // stream's own connection changes with every event it carries).
        let mut times = Vec::new();
        let mut buf = [0u8; 4096];
        ev.set_read_timeout(Some(Duration::from_secs(10)));
        while times.len() < 8 {
            let n = ev.recv(&mut host, &mut buf, MsgFlags::NONE).unwrap();
            assert!(n > 0);
            let chunk = String::from_utf8_lossy(&buf[..n]);
            for _ in chunk.matches("event: conns") {
                times.push(host.now());
            }
        }
        for w in times.windows(2) {
            assert!(w[1] - w[0] >= EVENT_INTERVAL, "{:?}", w[1] - w[0]);
        }
        // Step output for the web goes out as an `event: step` at once.
        let state = web.borrow().state();
        let who = state.borrow().who();
        // (This loop has no stepping device: `step on` says so, and that
        // answer is the step output the page gets, as api.rs passes it on.)
        let answer = state.borrow().step.start(who, None, None, crate::step::Style::Plain, host.stack());
        let text_on = "step: not available here";
        assert!(answer.starts_with(text_on), "{answer}");
        state.borrow_mut().push_step(&answer);
        let t0 = host.now();
        let mut text = String::new();
        let t = read_until(&mut host, &mut ev, &mut text, "event: step\ndata: ");
        assert!(t - t0 < Duration::from_millis(10), "woken at once, not at the next tick: {:?}", t - t0);
        read_until(&mut host, &mut ev, &mut text, "\n\n");
        assert!(text.contains(text_on), "{text}");
    }

    /// A response many times the send buffer goes out as the socket
    /// drains, whole and in order, with the pipelined request after it.
    #[test]
    fn a_response_larger_than_the_send_buffer_goes_as_it_drains() {
        let (mut sim, web) = sim(4096, None);
        let line = "x".repeat(99) + "\n";
        for _ in 0..600 {
            web.borrow().state().borrow_mut().push_step(&line);
        }
        let mut host = sim.host(Side::A);
        let mut s = BlockingSocket::socket(&mut host, SockType::Stream).unwrap();
        s.connect(&mut host, SocketAddrV4::new([10, 0, 0, 2].into(), 80)).unwrap();
        let reqs =
            b"GET /api/step HTTP/1.1\r\nHost: a\r\n\r\nGET /api HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        s.send(&mut host, reqs, MsgFlags::NONE).unwrap();
        let all = get(&mut host, &mut s);
        let rs = responses(&all);
        assert_eq!(rs.iter().map(|r| r.0).collect::<Vec<_>>(), [200, 200]);
        let step: serde_json::Value = serde_json::from_slice(&rs[0].1).unwrap();
        assert!(rs[0].1.len() > 100_000, "{} bytes", rs[0].1.len());
        assert_eq!(step["log"].as_str().unwrap().len(), 60_000);
        let api: serde_json::Value = serde_json::from_slice(&rs[1].1).unwrap();
        assert_eq!(api["server"]["requests"], 2);
        sim.run_for(LINGER + Duration::from_secs(1)).unwrap();
        assert_eq!(web.borrow().state().borrow().open, 0, "closed after the lingering close");
        assert_eq!(web.borrow().state().borrow().out_total, 0);
    }

    /// Over the per-client limit, and over the total: 503 with the reason,
    /// then closed; a slot freed is served again.
    #[test]
    fn the_connection_limits_answer_503() {
        let (mut sim, web) = sim(212_992, None);
        let state = web.borrow().state();
        let to = SocketAddrV4::new([10, 0, 0, 2].into(), 80);
        let mut host = sim.host(Side::A);
        let open = |host: &mut device::SimHost| {
            let s = BlockingSocket::socket(host, SockType::Stream).unwrap();
            s.connect(host, to).unwrap();
            s
        };
        let refused = |host: &mut device::SimHost, s: &mut BlockingSocket| {
            let all = String::from_utf8(get(host, s)).unwrap();
            assert!(all.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{all}");
            serde_json::from_str::<serde_json::Value>(all.split("\r\n\r\n").nth(1).unwrap()).unwrap()["error"]
                .as_str()
                .unwrap()
                .to_string()
        };
        state.borrow_mut().conn_limits = (10, 2);
        let a = open(&mut host);
        let _b = open(&mut host);
        let mut c = open(&mut host);
        assert_eq!(refused(&mut host, &mut c), "too many connections from you");
        state.borrow_mut().conn_limits = (2, 10);
        let mut d = open(&mut host);
        assert_eq!(refused(&mut host, &mut d), "too many connections");
        assert_eq!((state.borrow().open, state.borrow().stats.refused), (2, 2));
        // One closes: the next is served.
        a.close(&mut host).unwrap();
        let mut e = open(&mut host);
        e.send(&mut host, b"GET /api HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", MsgFlags::NONE).unwrap();
        assert_eq!(responses(&get(&mut host, &mut e))[0].0, 200);
    }

    /// 100 pipelined requests in one segment: answered in order,
    /// ANSWERS_PER_TURN a turn (the rest on the reactor's timer, with no
    /// socket event to say they are there).
    #[test]
    fn pipelined_requests_are_answered_a_few_per_turn() {
        let (mut sim, web) = sim(212_992, None);
        let mut host = sim.host(Side::A);
        let mut s = BlockingSocket::socket(&mut host, SockType::Stream).unwrap();
        s.connect(&mut host, SocketAddrV4::new([10, 0, 0, 2].into(), 80)).unwrap();
        let mut reqs = Vec::new();
        for i in 0..100 {
            let path = if i % 10 == 9 { "/nope" } else { "/api/iface" };
            let close = if i == 99 { "Connection: close\r\n" } else { "" };
            reqs.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: a\r\n{close}\r\n").as_bytes());
        }
        assert!(reqs.len() < READ_LIMIT);
        s.send(&mut host, &reqs, MsgFlags::NONE).unwrap();
        let start = device::Net::now(&mut host);
        let rs = responses(&get(&mut host, &mut s));
        let took = device::Net::now(&mut host) - start;
        assert!(took < Duration::from_millis(100), "{took:?}: not at the next turns");
        let want: Vec<u16> = (0..100).map(|i| if i % 10 == 9 { 404 } else { 200 }).collect();
        assert_eq!(rs.iter().map(|r| r.0).collect::<Vec<_>>(), want);
        assert_eq!(web.borrow().state().borrow().stats.requests, 100);
    }

    /// A peer that sends a request and reads nothing holds its answer in
    /// our buffer until SEND_TIMEOUT, then is closed: nothing waits on it.
    #[test]
    fn a_peer_that_reads_nothing_is_closed_at_the_send_timeout() {
        let (mut sim, web) = sim(4096, Some(4096));
        for _ in 0..600 {
            web.borrow().state().borrow_mut().push_step(&("y".repeat(99) + "\n"));
        }
        let mut host = sim.host(Side::A);
        let s = BlockingSocket::socket(&mut host, SockType::Stream).unwrap();
        s.connect(&mut host, SocketAddrV4::new([10, 0, 0, 2].into(), 80)).unwrap();
        s.send(&mut host, b"GET /api/step HTTP/1.1\r\nHost: a\r\n\r\n", MsgFlags::NONE).unwrap();
        sim.run_for(SEND_TIMEOUT - Duration::from_secs(5)).unwrap();
        assert_eq!(web.borrow().state().borrow().open, 1, "still trying");
        let waiting = web.borrow().state().borrow().out_total;
        assert!(waiting > 100_000, "{waiting}");
        // Over the total budget of waiting answers, the next big one is 503.
        web.borrow().state().borrow_mut().out_limit = waiting + 8000;
        let mut host = sim.host(Side::A);
        let mut t = BlockingSocket::socket(&mut host, SockType::Stream).unwrap();
        t.connect(&mut host, SocketAddrV4::new([10, 0, 0, 2].into(), 80)).unwrap();
        let two = b"GET /api/step HTTP/1.1\r\nHost: a\r\n\r\nGET /api HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        t.send(&mut host, two, MsgFlags::NONE).unwrap();
        let rs = responses(&get(&mut host, &mut t));
        assert_eq!(rs.iter().map(|r| r.0).collect::<Vec<_>>(), [503, 200], "small answers still go");
        sim.run_for(Duration::from_secs(10)).unwrap();
        let st = web.borrow().state();
        let st = st.borrow();
        assert_eq!((st.open, st.stats.timeouts, st.out_total), (0, 1, 0), "{:?}", st.stats);
    }
}
