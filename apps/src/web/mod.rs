//! `synack up --web [PORT]`: a live web view of the stack, served over the
//! stack's own TCP (docs/web.md). The host's browser opens
//! `http://10.0.0.2/`; the page (assets/, the page's own files) reads the
//! JSON API and an event stream, both answered here.
//!
//! Read first: docs/web.md (the routes, the limits), RFC 9112 (HTTP/1.1),
//! the WHATWG HTML standard's Server-Sent Events (§9.2).
//!
//! The files, one job each:
//!
//! ```text
//!   http.rs    the HTTP/1.1 messages, sans-IO: parse a request from bytes
//!              (httparse, plus the limits), write a response
//!   server.rs  the reactor's handlers: the acceptor (per-client and total
//!              limits) and one handler per connection (keep-alive,
//!              pipelining, timeouts, event streams), non-blocking
//!   api.rs     the routes: JSON from the stack, the step controller, the
//!              ladder recorder
//!   mod.rs     WebState, shared by the loop and the handlers, and `Web`,
//!              the wiring `synack up` calls
//! ```
//!
//! Nothing here blocks: a handler does what its socket allows and waits
//! for the reactor to call it again, so a slow or hostile client costs its
//! own connection's buffers and nothing else.

pub mod api;
pub mod http;
pub mod server;

use crate::ladder::Recorder;
use crate::plot::{History, HistoryLimits};
use crate::reactor::Reactor;
use crate::step::{StepCtl, Who};
use stack::{Errno, Instant, SocketHandle, Stack};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::rc::Rc;

/// `synack up --web`'s default port.
pub const WEB_PORT: u16 = 80;
/// Bytes of step output the web keeps (the oldest lines go first).
pub const STEP_LOG_LIMIT: usize = 64 * 1024;

/// What `synack up --web [PORT] [--web-control]` asked for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct WebOptions {
    pub port: u16,
    /// `--web-control`: the page may drive step mode (POST /api/step/...).
    pub control: bool,
}

/// What the up loop and the web handlers share (`Shared`).
pub struct WebState {
    pub opts: WebOptions,
    pub ifname: String,
    /// Every connection's `tcp_probe` samples (apps/src/plot/): its id is
    /// the API's connection id; the history, CSV and plot routes read it.
    pub history: History,
    pub step: StepCtl,
    /// The TCP frames of the run, for the ladder of a connection.
    pub ladder: Option<Recorder>,
    /// Step output for the web (`Who::Web`), bounded by `STEP_LOG_LIMIT`.
    pub step_log: String,
    /// Bumped whenever `step_log` grows: an event stream sends the view
    /// when it differs from the one it sent.
    pub step_seq: u64,
    /// Web connections open, per client address and in all (server.rs).
    pub clients: HashMap<Ipv4Addr, usize>,
    pub open: usize,
    /// (in all, per client): server.rs `MAX_WEB_CONNS`, `MAX_PER_CLIENT`.
    pub conn_limits: (usize, usize),
    /// Answers waiting unsent on every web connection (server.rs
    /// `OUT_TOTAL_LIMIT`), and that limit.
    pub out_total: usize,
    pub out_limit: usize,
    /// The sockets of the open event streams, to wake on step output.
    pub streams: Vec<SocketHandle>,
    pub stats: WebStats,
}

/// What the server has done (`/api`).
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq)]
pub struct WebStats {
    pub accepted: u64,
    /// Refused at a limit (503, then closed).
    pub refused: u64,
    pub requests: u64,
    /// Requests answered with a 4xx or 5xx.
    pub errors: u64,
    /// Connections closed for a request too slow (408) or a peer that
    /// stopped reading.
    pub timeouts: u64,
}

/// The web's state, shared by the loop and every handler (one thread).
pub type Shared = Rc<RefCell<WebState>>;

impl WebState {
    pub fn new(opts: WebOptions, ifname: &str, step: StepCtl, ladder: Option<Recorder>) -> WebState {
        WebState {
            opts,
            ifname: ifname.to_string(),
            history: History::new(HistoryLimits::default()),
            step,
            ladder,
            step_log: String::new(),
            step_seq: 0,
            clients: HashMap::new(),
            open: 0,
            conn_limits: (server::MAX_WEB_CONNS, server::MAX_PER_CLIENT),
            out_total: 0,
            out_limit: server::OUT_TOTAL_LIMIT,
            streams: Vec::new(),
            stats: WebStats::default(),
        }
    }

    /// The stack's `tcp_probe` samples into the history (every turn, and
    /// before an answer, so that it holds the connection just accepted).
    pub fn drain_probes(&mut self, stack: &mut Stack) {
        while let Some(p) = stack.poll_probe() {
            self.history.record(&p);
        }
    }

    /// Who the web is, to the step controller.
    pub fn who(&self) -> Who {
        Who::Web(self.opts.port)
    }

    /// Add step output to the log, dropping its oldest lines over the limit.
    pub fn push_step(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.step_log.push_str(text);
        if self.step_log.len() > STEP_LOG_LIMIT {
            let mut cut = self.step_log.len() - STEP_LOG_LIMIT;
            while !self.step_log.is_char_boundary(cut) {
                cut += 1; // the clauses carry `§`: two bytes
            }
            cut = self.step_log[cut..].find('\n').map_or(self.step_log.len(), |i| cut + i + 1);
            self.step_log.drain(..cut);
        }
        self.step_seq += 1;
    }

    /// The latest step: the log from its last `step N` (or the breakpoint
    /// line above it) to the end; the whole log when no step was shown.
    pub fn step_view(&self) -> &str {
        let log = &self.step_log;
        let (mut start, mut at) = (0, 0);
        // A `breakpoint 1 (port 7)` line directly above a step heads it.
        let mut breakpoint_at: Option<usize> = None;
        for line in log.split_inclusive('\n') {
            if line.starts_with("step ") && line.as_bytes().get(5).is_some_and(u8::is_ascii_digit) {
                start = breakpoint_at.unwrap_or(at);
            }
            breakpoint_at = (line.starts_with("breakpoint ") && line.contains(" (")).then_some(at);
            at += line.len();
        }
        &log[start..]
    }
}

/// `synack up --web`: the state, the listener on the reactor, and what the
/// loop calls every turn (`Web::turn`).
pub struct Web {
    state: Shared,
    seq_woken: u64,
}

impl Web {
    /// Listen on the stack's own address (never 0.0.0.0) at `opts.port`,
    /// on the reactor beside telnet and echo, and turn the stack's
    /// `tcp_probe` on (stack/src/tcp/probe.rs: off, it costs nothing).
    pub fn start(
        reactor: &mut Reactor,
        stack: &mut Stack,
        now: Instant,
        opts: WebOptions,
        ifname: &str,
        ladder: Option<Recorder>,
    ) -> Result<Web, Errno> {
        let state = Rc::new(RefCell::new(WebState::new(opts, ifname, reactor.step(), ladder)));
        server::listen(reactor, stack, now, state.clone())?;
        stack.tcp_probe_mut().set_enabled(true);
        Ok(Web { state, seq_woken: 0 })
    }

    /// `synack up`'s wiring: `Web::start` if `--web` was given, its error
    /// as the command's (`web on port 80: Address already in use`).
    pub fn up(
        opts: Option<WebOptions>,
        reactor: &mut Reactor,
        stack: &mut Stack,
        now: Instant,
        ifname: &str,
        ladder: Option<Recorder>,
    ) -> std::io::Result<Option<Web>> {
        let Some(opts) = opts else { return Ok(None) };
        Web::start(reactor, stack, now, opts, ifname, ladder)
            .map(Some)
            .map_err(|e| std::io::Error::other(format!("web on port {}: {}", opts.port, e.text())))
    }

    pub fn state(&self) -> Shared {
        self.state.clone()
    }

    /// Where the page is: `http://10.0.0.2/` (the port when not 80).
    pub fn url(&self, stack: &Stack) -> String {
        let port = self.state.borrow().opts.port;
        match port {
            80 => format!("http://{}/", stack.iface().addr),
            p => format!("http://{}:{p}/", stack.iface().addr),
        }
    }

    /// Once per turn of the loop, after step mode's turn: the `tcp_probe`
    /// samples into the history, the step output meant for the web, and a
    /// wake-up for the event streams if there is new step output.
    pub fn turn(&mut self, stack: &mut Stack, reactor: &mut Reactor, now: Instant) {
        let streams = {
            let mut st = self.state.borrow_mut();
            st.drain_probes(stack);
            let who = st.who();
            let text = st.step.take_output_for(who);
            st.push_step(&text);
            if st.step_seq == self.seq_woken {
                return;
            }
            self.seq_woken = st.step_seq;
            st.streams.clone()
        };
        for sock in streams {
            reactor.wake_socket(stack, now, sock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> WebState {
        WebState::new(WebOptions { port: 80, control: true }, "tap0", StepCtl::new(), None)
    }

    #[test]
    fn the_step_view_is_the_last_step_with_its_breakpoint() {
        let mut st = state();
        st.push_step("step mode on: ...\nkeys\n");
        assert_eq!(st.step_view(), "step mode on: ...\nkeys\n", "no step yet: all of it");
        st.push_step("step 1  < IP a > b\n    before: state LISTEN\n");
        st.push_step("    after:  *state LISTEN->SYN_RECEIVED\nbreakpoint 1 (port 7)\nstep 2  > IP b > a\n");
        assert_eq!(st.step_view(), "breakpoint 1 (port 7)\nstep 2  > IP b > a\n");
        assert_eq!(st.step_seq, 3);
    }

    #[test]
    fn the_step_log_is_bounded() {
        let mut st = state();
        for i in 0..10_000 {
            st.push_step(&format!("step {i}  < IP 10.0.0.1.40000 > 10.0.0.2.7: Flags [S]\n"));
            // Lines of odd lengths with two-byte characters: the cut falls
            // inside one, now and then.
            st.push_step(&format!("{}[RFC 9293 §3.10.7.2]\n", " ".repeat(i % 7)));
        }
        assert!(st.step_log.len() <= STEP_LOG_LIMIT, "{}", st.step_log.len());
        assert!(st.step_log.starts_with("step "), "whole lines only");
        assert_eq!(st.step_view(), "step 9999  < IP 10.0.0.1.40000 > 10.0.0.2.7: Flags [S]\n   [RFC 9293 §3.10.7.2]\n");
    }
}
