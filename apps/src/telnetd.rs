//! The telnet server on port 23: the synack prompt over TCP. The reactor
//! (reactor.rs, `Reactor::add_telnet`) accepts the connections and runs
//! `telnetd.rs::serve` for a session whenever its socket is ready.
//!
//! Each connection gets a `TelnetSession` (the RFC 854 protocol engine in
//! telnet.rs) and its own `Shell` (the same interpreter the console uses), so
//! `netstat` typed over telnet shows the very connection it was typed on.
//! Sockets are non-blocking; output that does not fit the send buffer waits
//! in a bounded per-session buffer, and while it is over the bound we stop
//! reading the session's input (backpressure instead of unbounded memory).

use crate::ping::PingJob;
use crate::services::send_pending;
use crate::shell::{Action, Shell, PROMPT};
use crate::step::{StepCtl, Style, Who};
use crate::telnet::{to_nvt, TelnetSession};
use stack::{Errno, Instant, MsgFlags, SockOpt, SocketHandle, Stack};

pub const TELNET_PORT: u16 = 23;
/// Sessions served at once; more wait in the accept queue.
pub const MAX_SESSIONS: usize = 32;
/// Unsent output above which a session's input is not read.
const OUT_HIGH_WATER: usize = 256 * 1024;

/// One telnet session (served by the reactor, reactor.rs, `TelnetHandler`).
pub(crate) struct Session {
    sock: SocketHandle,
    telnet: TelnetSession,
    shell: Shell,
    out: Vec<u8>,
    sent: usize,
    ping: Option<PingJob>,
    /// `quit` typed or the peer closed: flush, then close.
    closing: bool,
}

impl Session {
    /// A session on an accepted socket, its greeting and first prompt queued.
    pub(crate) fn new(stack: &mut Stack, now: Instant, sock: SocketHandle, ifname: &str, ident: u16) -> Session {
        let _ = stack.setsockopt(now, sock, SockOpt::NonBlocking(true));
        let _ = stack.setsockopt(now, sock, SockOpt::NoDelay(true));
        let mut telnet = TelnetSession::new();
        let mut out = telnet.greeting();
        out.extend(to_nvt(&format!(
            "synack on {} ({}): the prompt of a userspace TCP/IP stack.\nType help for commands, quit to leave.\n{PROMPT}",
            ifname,
            stack.iface().addr
        )));
        let shell = Shell::new(ifname, ident);
        Session { sock, telnet, shell, out, sent: 0, ping: None, closing: false }
    }
    /// Let this session drive step mode (`step on`).
    pub(crate) fn set_step(&mut self, ctl: StepCtl) {
        self.shell.set_step(ctl, Who::Telnet(self.sock), true, Style::Plain);
    }
    pub(crate) fn sock(&self) -> SocketHandle {
        self.sock
    }
    /// Output not yet sent.
    pub(crate) fn unsent(&self) -> usize {
        self.out.len() - self.sent
    }
    /// Whether `serve` reads input now (not while a ping runs, the output
    /// is over its bound, or the session is closing).
    pub(crate) fn reading(&self) -> bool {
        self.ping.is_none() && !self.closing && self.unsent() <= OUT_HIGH_WATER
    }
    /// When the session's ping next wants to run.
    pub(crate) fn ping_poll_at(&self) -> Option<Instant> {
        self.ping.as_ref().and_then(|p| p.poll_at())
    }
    pub(crate) fn ping_running(&self) -> bool {
        self.ping.is_some()
    }
}

/// One session as far as it goes. `Err` ends the session.
pub(crate) fn serve(stack: &mut Stack, now: Instant, s: &mut Session, buf: &mut [u8]) -> Result<bool, Errno> {
    let mut did = false;
    if let Some(job) = s.ping.as_mut() {
        job.poll(stack, now);
        for l in job.take_lines() {
            s.out.extend(to_nvt(&(l + "\n")));
            did = true;
        }
        if job.is_done() {
            s.ping = None;
            s.out.extend_from_slice(PROMPT.as_bytes());
        }
    }
    let stepped = s.shell.take_step_output();
    if !stepped.is_empty() {
        s.out.extend(to_nvt(&stepped));
        did = true;
    }
    loop {
        did |= flush(stack, now, s)?;
        if s.closing {
            return if s.sent < s.out.len() { Ok(did) } else { Err(Errno::ESHUTDOWN) };
        }
        if s.out.len() - s.sent > OUT_HIGH_WATER || s.ping.is_some() {
            return Ok(did);
        }
        let n = match stack.recv(now, s.sock, buf, MsgFlags::NONE) {
            Ok(0) => {
                s.closing = true;
                continue;
            }
            Ok(n) => n,
            Err(Errno::EAGAIN) => return Ok(did),
            Err(e) => return Err(e),
        };
        did = true;
        let input = s.telnet.input(&buf[..n]);
        s.out.extend_from_slice(&input.reply);
        if input.interrupted {
            s.out.extend(to_nvt(&format!("^C\n{PROMPT}")));
        }
        for line in input.lines {
            if s.ping.is_some() || s.closing {
                break; // one command at a time; the rest of the burst is dropped
            }
            let r = s.shell.execute(&line, stack, now);
            s.out.extend(to_nvt(&r.text));
            match r.action {
                Action::None => s.out.extend_from_slice(s.shell.prompt().as_bytes()),
                Action::Step => {}
                Action::Quit => {
                    s.out.extend(to_nvt("bye\n"));
                    s.closing = true;
                }
                Action::Ping(mut job) => {
                    for l in job.take_lines() {
                        s.out.extend(to_nvt(&(l + "\n")));
                    }
                    s.ping = Some(job);
                }
            }
        }
    }
}

/// Send pending output; compact the buffer when it is all gone.
fn flush(stack: &mut Stack, now: Instant, s: &mut Session) -> Result<bool, Errno> {
    let did = send_pending(stack, now, s.sock, &s.out, &mut s.sent)?;
    if s.sent == s.out.len() {
        s.out.clear();
        s.sent = 0;
    }
    Ok(did)
}
