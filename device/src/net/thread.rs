//! The stack thread: owns the stack and runs the poll loop, unchanged, for
//! the front door's sockets (the kernel's softirq, `net_rx_action`, beside
//! the program's threads in process context).
//!
//! One turn: take every call that came over the channel and try it (the
//! eventfd `Shared::wake` woke the loop's ppoll(2)); run the network once
//! (`NetLoop::poll_once` on a TAP, the `Sim` caught up to real time), sleep
//! until a frame, a timer, a call or the earliest parked call's timeout;
//! then try every parked call again. A call the stack answered `EAGAIN`
//! stays parked; readiness can change only when the network moved, so the
//! retry after each turn is the kernel's wake-up on `sk_data_ready`, not a
//! busy loop.
//!
//! Bounds: at most `MAX_PARKED` calls wait at once (each is one blocked
//! program thread); one more ends at once as if its timeout had passed.

use crate::poll_loop::ppoll;
use crate::sim::Sim;
use crate::{Device, NetLoop};
use stack::time::earliest;
use stack::{Config, Duration, Instant, Stack};
use std::io;
use std::os::unix::io::RawFd;
use std::sync::{mpsc, Mutex};
use std::thread::JoinHandle;

/// Calls that may wait at once: a program with more blocked threads than
/// this sees the next blocking call time out at once.
pub const MAX_PARKED: usize = 4096;

/// One attempt of a call: `(stack, now, timed_out) -> done`. With
/// `timed_out` it must answer (its timeout) and return true.
pub(crate) type Step = Box<dyn FnMut(&mut Stack, Instant, bool) -> bool + Send>;

/// A socket call sent to the stack thread.
pub(crate) struct Call {
    pub side: usize,
    pub step: Step,
    pub timeout: Option<Duration>,
}

enum Msg {
    Call(Call),
    Stop,
}

/// What the program's side holds: the channel to the stack thread and the
/// eventfd that wakes it. The last `Net` dropped stops the thread.
pub(crate) struct Shared {
    tx: Mutex<mpsc::Sender<Msg>>,
    wake: RawFd,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Shared {
    pub fn submit(&self, call: Call) -> io::Result<()> {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        tx.send(Msg::Call(call))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the stack thread has stopped"))?;
        drop(tx);
        eventfd_signal(self.wake);
        Ok(())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send(Msg::Stop);
        }
        eventfd_signal(self.wake);
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
        // SAFETY: the fd is ours, and the thread that polled it has ended.
        unsafe { libc::close(self.wake) };
    }
}

/// What the stack thread drives: a real `NetLoop` or a `Sim` in real time.
trait Engine {
    fn stack(&mut self, side: usize) -> Option<&mut Stack>;
    fn now(&mut self) -> Instant;
    /// Run the network once: sleep until a frame, a timer, `wake` readable
    /// or `wake_at`, and handle what came.
    fn turn(&mut self, wake: RawFd, wake_at: Option<Instant>) -> io::Result<()>;
    /// Send what the last calls queued (the FINs of the sockets closed
    /// just before the last `Net` went), before the thread ends.
    fn flush(&mut self);
}

impl Engine for NetLoop<Box<dyn Device>> {
    fn stack(&mut self, side: usize) -> Option<&mut Stack> {
        (side == 0).then_some(&mut self.stack)
    }
    fn now(&mut self) -> Instant {
        NetLoop::now(self)
    }
    fn turn(&mut self, wake: RawFd, wake_at: Option<Instant>) -> io::Result<()> {
        match self.poll_once(&[wake], wake_at) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        }
    }
    fn flush(&mut self) {
        let now = NetLoop::now(self);
        self.transmit(now);
    }
}

/// A `Sim` whose virtual clock follows the real one from its start.
struct RealTimeSim {
    sim: Sim,
    start: std::time::Instant,
}

impl RealTimeSim {
    fn real_now(&self) -> Instant {
        Instant::ZERO + self.start.elapsed()
    }
    fn catch_up(&mut self) -> io::Result<()> {
        let target = self.real_now();
        let r = if target > self.sim.now() { self.sim.run_for(target - self.sim.now()) } else { self.sim.poll() };
        r.map_err(io::Error::other)
    }
}

impl Engine for RealTimeSim {
    fn stack(&mut self, side: usize) -> Option<&mut Stack> {
        let side = match side {
            0 => crate::Side::A,
            1 => crate::Side::B,
            _ => return None,
        };
        Some(self.sim.stack(side))
    }
    fn now(&mut self) -> Instant {
        self.sim.now()
    }
    /// Frames moved while catching up (the other stack answered at once,
    /// on a wire without latency): return so parked calls are tried before
    /// any sleep; else sleep until the next deadline, a call or `wake_at`.
    fn turn(&mut self, wake: RawFd, wake_at: Option<Instant>) -> io::Result<()> {
        let before = self.sim.wire().map(|w| w.stats());
        self.catch_up()?;
        if self.sim.wire().map(|w| w.stats()) != before {
            return Ok(());
        }
        let next = earliest(self.sim.next_deadline(), wake_at);
        let sleep = next.map(|t| t.saturating_since(self.real_now()));
        let mut fds = [libc::pollfd { fd: wake, events: libc::POLLIN, revents: 0 }];
        match ppoll(&mut fds, sleep) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        self.catch_up()
    }
    fn flush(&mut self) {
        let _ = self.catch_up();
    }
}

/// A parked call and when it times out (stack time).
struct Parked {
    call: Call,
    deadline: Option<Instant>,
}

/// The stack thread's loop.
fn run(engine: &mut dyn Engine, rx: mpsc::Receiver<Msg>, wake: RawFd) {
    let mut parked: Vec<Parked> = Vec::new();
    loop {
        eventfd_drain(wake);
        loop {
            match rx.try_recv() {
                Ok(Msg::Call(mut call)) => {
                    let now = engine.now();
                    let Some(stack) = engine.stack(call.side) else { continue };
                    if (call.step)(stack, now, false) {
                        continue;
                    }
                    if parked.len() >= MAX_PARKED {
                        refuse(&mut call, stack, now);
                        continue;
                    }
                    let deadline = call.timeout.map(|t| now + t);
                    parked.push(Parked { call, deadline });
                }
                Ok(Msg::Stop) | Err(mpsc::TryRecvError::Disconnected) => {
                    engine.flush();
                    return;
                }
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        let wake_at = parked.iter().filter_map(|p| p.deadline).min();
        if let Err(e) = engine.turn(wake, wake_at) {
            eprintln!("synack stack thread: {e}");
            return; // the reply channels drop: every waiting call fails
        }
        let now = engine.now();
        parked.retain_mut(|p| {
            let timed_out = p.deadline.is_some_and(|d| now >= d);
            match engine.stack(p.call.side) {
                Some(stack) => !(p.call.step)(stack, now, timed_out),
                None => false,
            }
        });
    }
}

/// Too many calls waiting: end this one with its timeout answer (the
/// caller sees it time out at once rather than wait unboundedly queued).
fn refuse(call: &mut Call, stack: &mut Stack, now: Instant) {
    (call.step)(stack, now, true);
}

fn start(make: impl FnOnce() -> io::Result<Box<dyn Engine>> + Send + 'static) -> io::Result<std::sync::Arc<Shared>> {
    // SAFETY: eventfd makes a new descriptor; we check the result.
    let wake = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if wake < 0 {
        return Err(io::Error::last_os_error());
    }
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let thread = std::thread::Builder::new().name("synack-stack".into()).spawn(move || {
        let mut engine = match make() {
            Ok(e) => {
                let _ = ready_tx.send(Ok(()));
                e
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        run(engine.as_mut(), rx, wake);
    })?;
    let shared = Shared { tx: Mutex::new(tx), wake, thread: Mutex::new(Some(thread)) };
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(std::sync::Arc::new(shared)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other("the stack thread failed to start")),
    }
}

pub(crate) fn spawn_loop<F>(make: F) -> io::Result<std::sync::Arc<Shared>>
where
    F: FnOnce() -> io::Result<NetLoop<Box<dyn Device>>> + Send + 'static,
{
    start(move || Ok(Box::new(make()?) as Box<dyn Engine>))
}

pub(crate) fn spawn_sim(a: Config, b: Config) -> io::Result<std::sync::Arc<Shared>> {
    start(move || {
        let sim = Sim::new(a, b, crate::Faults::default());
        Ok(Box::new(RealTimeSim { sim, start: std::time::Instant::now() }) as Box<dyn Engine>)
    })
}

fn eventfd_signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a valid u64 to our eventfd. A full
    // counter (EAGAIN) still leaves it readable, which is all we need.
    unsafe { libc::write(fd, &one as *const u64 as *const libc::c_void, 8) };
}

fn eventfd_drain(fd: RawFd) {
    let mut n: u64 = 0;
    // SAFETY: reads 8 bytes into a valid u64 from our non-blocking eventfd.
    unsafe { libc::read(fd, &mut n as *mut u64 as *mut libc::c_void, 8) };
}
