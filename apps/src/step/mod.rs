//! Step mode: `synack up --step`, or `step on` at the prompt.
//!
//! Read first: a debugger's single step and breakpoints (gdb's `next`,
//! `continue`, `break`), and the kernel's `tcp_v4_rcv` / `tcp_transmit_skb`.
//! Linux has no such thing: its TCP runs in softirq context and cannot wait
//! for a person. The closest is `perf trace` / `bpftrace` on the tracepoints
//! `tcp:tcp_probe` and `sock:inet_sock_set_state`, which *show* each segment
//! with the socket's `snd_una`, `snd_nxt`, `snd_cwnd`, `srtt`… but never stop
//! it. A userspace stack can stop it.
//!
//! How it works:
//!
//! ```text
//!   wire ──► StepDevice::recv ──► held (a copy) ───────┐  (a TCP segment,
//!                 │ anything else: straight on          │   stepping on,
//!                 ▼                                     │   not exempt)
//!             NetLoop ─► Stack::handle_frame            │
//!                                                       ▼
//!   StepCtl::run, between turns ("process context"):  pop one held frame,
//!     show it: the tcpdump line and the TCB as it is ("before"), freeze
//!     the clock, wait for a key.  Enter: in  → Stack::handle_frame, show
//!     the trace events it caused and the TCB "after" (changes marked);
//!                                        out → on to the wire.
//!   Stack::poll_transmit ─► StepDevice::send ─► held (the stack's replies
//!     are stepped too, in order) or straight on.
//! ```
//!
//! - The clock (`device::Clock::freeze`) stands still while a segment waits
//!   for the user: no timer of the stack comes due during the pause, and
//!   on thaw time resumes from where it stopped (no burst of timers). The
//!   loop keeps running (stdin, the signal pipe and the TAP stay in ppoll),
//!   so the prompt and a controlling telnet session keep working.
//! - Only TCP is stepped: ARP, ICMP, UDP and IP fragments pass untouched
//!   (they would only get in the way of the handshake you came to watch).
//! - `step on` typed over telnet makes that session the controller: it gets
//!   the step output and drives it with the same keys, and its own
//!   connection is exempt (stepping the segments that carry your keys
//!   would wait forever).
//! - An outbound segment is shown with the TCB as it is: the stack counted
//!   it when it built it (`snd_nxt` has moved); the step holds its way out.
//! - At most `MAX_HELD` frames wait; beyond that a frame is dropped and
//!   counted (like a full NIC ring), and TCP retransmits it.
//!
//! Keys while stepping: Enter (or `n`) next, `c` continue until a
//! breakpoint, `b FILTER` break on `port N`, `syn`, `fin`, `rst`, `ack`,
//! `data`, `host A.B.C.D` or `state NAME` (a segment of a connection in that
//! state, or one that moves it there), `b` lists, `b clear`, `step off`.
//! Any other line is a prompt command (`ss`, `netstat -l` while paused).
//!
//! The files: filter.rs (the segment's fields and the breakpoints), tcb.rs
//! (the TCB view, its diff and how it is printed), ctl.rs (the controller,
//! the device that holds the frames, the keys).

mod ctl;
mod filter;
mod tcb;

pub use ctl::{Cmd, StepCtl, StepDevice, Waker, Who, KEYS, MAX_HELD, STEP_PROMPT};
pub use filter::{state_name, Filter, Seg};
pub use tcb::{changed, event_line, render_tcb, stdout_style, Style, Tcb};
