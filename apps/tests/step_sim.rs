//! Step mode on two real loops without a TAP: A (10.0.0.1) and B (10.0.0.2,
//! stepped) on the two ends of a `UnixDgram` cable, driven turn by turn
//! from this one thread, so the order of everything is fixed.
//!
//! A connects to B's listener; the handshake is stepped segment by segment
//! (SYN in, SYN-ACK out, ACK in) with B's states `LISTEN -> SYN_RECEIVED ->
//! ESTABLISHED`; while the SYN-ACK waits, B's clock is frozen for longer
//! than its retransmission timeout, and no retransmission happens, then or
//! after. Then `c` runs to a breakpoint on `data`, and to one on
//! `state CLOSE_WAIT`, which stops after A's FIN has moved B there.

use device::{Device, NetLoop, UnixDgram};
use stack::{Config, Duration, Errno, MacAddr, MsgFlags, SockType, SocketHandle, Stack};
use std::net::{Ipv4Addr, SocketAddrV4};
use synack_apps::step::{Cmd, StepCtl, Style, Who};

type Loop = NetLoop<Box<dyn Device>>;

fn config(last: u8) -> Config {
    Config {
        addr: Ipv4Addr::new(10, 0, 0, last),
        mac: MacAddr([2, 0, 0, 0, 0, last]),
        gratuitous_arp: false,
        seed: last as u64,
        ..Config::default()
    }
}

struct Lab {
    a: Loop,
    b: Loop,
    ctl: StepCtl,
    out: String,
}

impl Lab {
    fn new() -> Lab {
        let (da, db) = UnixDgram::pair().unwrap();
        let a = NetLoop::new(Box::new(da) as Box<dyn Device>, config(1));
        let mut b = NetLoop::new(Box::new(db) as Box<dyn Device>, config(2));
        // A short initial RTO: a clock that ran during the pause would
        // retransmit the SYN-ACK well within it.
        let mut tcp = b.stack.tcp_config().clone();
        tcp.rto_initial = Duration::from_millis(100);
        b.stack.set_tcp_config(tcp);
        let ctl = StepCtl::new();
        ctl.install(&mut b.dev);
        Lab { a, b, ctl, out: String::new() }
    }

    /// One turn of each loop (at most a few ms of sleep), then B's stepper.
    fn turn(&mut self) {
        let t = self.a.now() + Duration::from_millis(2);
        self.a.poll_once(&[], Some(t)).unwrap();
        let t = self.b.now() + Duration::from_millis(2);
        self.b.poll_once(&[], Some(t)).unwrap();
        self.ctl.run(&mut self.b);
        self.out.push_str(&self.ctl.take_output().1);
    }

    /// Turn until a segment waits for a key (bounded).
    fn until_pending(&mut self) -> String {
        let from = self.out.len();
        for _ in 0..500 {
            if self.ctl.pending() {
                return self.out[from..].to_string();
            }
            self.turn();
        }
        panic!("no segment waits; output so far:\n{}", self.out);
    }

    /// Press a key; what it printed up to the next pending segment (or the
    /// end of what there is to do).
    fn key(&mut self, cmd: Cmd) -> String {
        let from = self.out.len();
        self.ctl.command(cmd);
        self.ctl.run(&mut self.b);
        self.out.push_str(&self.ctl.take_output().1);
        self.out[from..].to_string()
    }

    fn retransmissions(&self) -> u64 {
        let now = self.b.now();
        self.b.stack.tcp_info(now).iter().map(|i| i.total_retrans).sum()
    }
}

fn listen(st: &mut Stack, port: u16) -> SocketHandle {
    let l = st.socket(SockType::Stream).unwrap();
    st.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).unwrap();
    st.listen(l, 4).unwrap();
    l
}

#[test]
fn a_stepped_handshake_with_time_frozen_while_paused() {
    let mut lab = Lab::new();
    listen(&mut lab.b.stack, 23);
    let text = lab.ctl.start(Who::Console, None, None, Style::Plain, &mut lab.b.stack);
    assert!(text.starts_with("step mode on"), "{text}");
    let now = lab.a.now();
    let c = lab.a.stack.socket(SockType::Stream).unwrap();
    match lab.a.stack.connect(now, c, SocketAddrV4::new([10, 0, 0, 2].into(), 23)) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(e) => panic!("connect: {e:?}"),
    }

    // 1: the SYN, against the listener.
    let step1 = lab.until_pending();
    assert!(step1.contains("step 1  < IP 10.0.0.1."), "{step1}");
    assert!(step1.contains("> 10.0.0.2.23: Flags [S],"), "{step1}");
    assert!(step1.contains("    before: state LISTEN\n"), "{step1}");
    assert!(!step1.contains("after:"), "shown before it is processed:\n{step1}");
    assert!(lab.b.clock().is_frozen(), "paused: the clock stands still");

    // Enter: the stack takes it; the SYN-ACK it answers waits next.
    let after1 = lab.key(Cmd::Next);
    assert!(after1.contains("LISTEN -> SYN_RECEIVED  [RFC 9293 §3.10.7.2]"), "{after1}");
    assert!(after1.contains("    after:  *state LISTEN->SYN_RECEIVED\n"), "{after1}");
    assert!(after1.contains("*syn_queue 0->1"), "{after1}");
    assert!(after1.contains("step 2  > IP 10.0.0.2.23 > 10.0.0.1."), "{after1}");
    assert!(after1.contains("Flags [S.]"), "{after1}");
    assert!(after1.contains("    now:    state SYN_RECEIVED\n"), "{after1}");
    assert!(lab.ctl.pending());

    // A long pause with the SYN-ACK held: 4 RTOs of wall time. The loops
    // keep turning; B's clock does not move, so its retransmit timer never
    // comes due (A's own 1 s SYN timer is not reached either).
    let frozen = lab.b.now();
    let wall = std::time::Instant::now();
    while wall.elapsed() < std::time::Duration::from_millis(400) {
        lab.turn();
    }
    assert_eq!(lab.retransmissions(), 0, "a timer fired during the pause:\n{}", lab.out);
    assert_eq!(lab.ctl.held(), 0, "nothing new to step (no retransmitted SYN-ACK):\n{}", lab.out);
    assert_eq!(lab.b.now(), frozen, "time moved while paused");

    // Enter: the SYN-ACK goes out; A answers with the ACK.
    lab.key(Cmd::Next);
    assert!(!lab.b.clock().is_frozen(), "nothing waits: time runs");
    let step3 = lab.until_pending();
    assert!(step3.contains("step 3  < IP 10.0.0.1."), "{step3}");
    assert!(step3.contains("Flags [.], ack"), "{step3}");
    assert!(step3.contains("    before: state SYN_RECEIVED\n"), "{step3}");
    let after3 = lab.key(Cmd::Next);
    assert!(after3.contains("SYN_RECEIVED -> ESTABLISHED"), "{after3}");
    assert!(after3.contains("    after:  *state SYN_RECEIVED->ESTABLISHED\n"), "{after3}");
    assert!(after3.contains("*accept_queue 0->1"), "{after3}");
    // Resumed without a jump: no burst of timers once time runs again.
    for _ in 0..20 {
        lab.turn();
    }
    assert_eq!(lab.retransmissions(), 0, "{}", lab.out);
    let order: Vec<usize> = ["state LISTEN\n", "->SYN_RECEIVED\n", "->ESTABLISHED\n"]
        .iter()
        .map(|s| lab.out.find(s).unwrap_or_else(|| panic!("{s:?} missing:\n{}", lab.out)))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{}", lab.out);

    // Continue to a breakpoint on data: stops before the stack sees it.
    assert_eq!(lab.ctl.intercept(Who::Console, "b data").as_deref(), Some("breakpoint 1: data\n"));
    let cont = lab.key(Cmd::Continue);
    assert!(cont.starts_with("continuing (1 breakpoint(s))"), "{cont}");
    for _ in 0..20 {
        lab.turn();
    }
    assert!(!lab.ctl.pending(), "nothing matches yet:\n{}", lab.out);
    let now = lab.a.now();
    assert_eq!(lab.a.stack.send(now, c, b"hello", MsgFlags::NONE), Ok(5));
    let data = lab.until_pending();
    assert!(data.starts_with("breakpoint 1 (data)\nstep 4  < IP 10.0.0.1."), "{data}");
    assert!(data.contains("length 5"), "{data}");
    assert!(data.contains("    before: state ESTABLISHED\n"), "{data}");
    let after = lab.key(Cmd::Next);
    assert!(after.contains("*rcv_nxt ") && after.contains("*recv_q 0->5"), "{after}");

    // A state breakpoint stops *after* the segment that moved the
    // connection there: A's FIN passes unshown until it makes CLOSE_WAIT.
    lab.ctl.intercept(Who::Console, "b clear");
    lab.ctl.intercept(Who::Console, "b state close-wait");
    lab.key(Cmd::Continue);
    let now = lab.a.now();
    lab.a.stack.close(now, c).unwrap();
    let fin = lab.until_pending();
    // (B's quick ACK of the data went by unshown: the step numbers count it.)
    let at = fin.find("breakpoint 1 (state CLOSE_WAIT)\nstep ").unwrap_or_else(|| panic!("{fin}"));
    let n: usize = fin[at..].split_whitespace().nth(5).and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("{fin}"));
    assert!(fin.contains(&format!("step {n}  < IP 10.0.0.1.")), "{fin}");
    assert!(fin.contains("Flags [F.]"), "{fin}");
    assert!(fin.contains("ESTABLISHED -> CLOSE_WAIT"), "{fin}");
    assert!(fin.contains("    after:  *state ESTABLISHED->CLOSE_WAIT\n"), "{fin}");
    // ... and pauses at the next segment: B's ACK of the FIN (delayed, as
    // Linux delays it: the FIN put B in pingpong mode).
    assert!(fin.contains(&format!("step {}  > IP 10.0.0.2.23 > 10.0.0.1.", n + 1)), "{fin}");

    // step off: whatever is held goes on; the clock runs.
    lab.ctl.stop(&mut lab.b.stack);
    lab.turn();
    assert!(!lab.ctl.pending() && lab.ctl.held() == 0);
    assert!(!lab.b.clock().is_frozen());
}
