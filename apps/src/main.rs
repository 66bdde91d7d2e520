//! `synack`: run the stack on a TAP device.
//!
//! `synack up` creates the TAP, gives the host side an address, and runs
//! the stack behind it with its services and a prompt. `synack ping HOST`
//! does the same setup and pings with the stack's own ICMP client.
//!
//! The command's own files: main.rs (the subcommands and `up`'s loop),
//! args.rs (the arguments `up` and `replay` share), output.rs (what it
//! prints), replay_cmd.rs (`synack replay`); the rest is the library
//! (lib.rs; the TAP set-up is apps/src/iface.rs's `bring_up`).

use clap::{Args, Parser, Subcommand};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use stack::{Duration, Instant};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use synack_apps::ping::{PingJob, PingOptions};
use synack_apps::reactor::Reactor;
use synack_apps::run::RunServer;
use synack_apps::shell::{self, Action, Shell};
use synack_apps::step;

mod args;
mod drill_cmd;
mod output;
mod replay_cmd;

use args::{IfaceArgs, UpArgs};
use output::{print_event, print_fault, print_frame, say, say_text, FRAMES_TO_STDERR};

#[derive(Parser)]
#[command(name = "synack", version, about = "An educational userspace TCP/IP stack on a TAP device")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the TAP, configure the host side, and run the stack with its
    /// services (ping replies, UDP echo on port 7) and a prompt.
    Up(UpArgs),
    /// Set up like `up`, then ping HOST with the stack's own ICMP client.
    Ping(PingArgs),
    /// Set up like `up`, then open a TCP connection from the stack to
    /// HOST:PORT (like `nc`): standard input goes to the connection, the
    /// connection to standard output. The end of standard input is a
    /// half-close (FIN); after the peer's FIN, the rest of standard input
    /// still goes out. It exits once both are done and its FIN is
    /// acknowledged, or with the error that ended the connection
    /// (`--keepalive`, the retry limit: `Connection timed out`).
    Connect(ConnectArgs),
    /// Draw the ladder (sequence) diagram of every TCP connection in a
    /// capture: text on the terminal, or SVG with `-o FILE.svg`.
    Ladder(LadderArgs),
    /// Replay a recording (`up --record DIR`) or a capture on a virtual
    /// clock: the host's frames go into a fresh stack at their timestamps;
    /// with `--check`, what the stack sends must equal what it sent then.
    Replay(replay_cmd::ReplayArgs),
    /// Plot what the wire cannot show for each TCP connection of a
    /// recording (`up --record DIR`), replayed with the stack's tcp_probe
    /// on: time-sequence graph, cwnd/ssthresh/pipe, RTT/RTO, windows and
    /// queues, as DIR/conn-N-{tseq,cwnd,rtt,buffers}.svg, and conn-N.csv.
    Plot(synack_apps::plot::cmd::PlotArgs),
    /// Run packetdrill scripts (the Linux TCP test language) against a
    /// fresh synack on a virtual clock: `ok`, or `FAIL` with the line and
    /// what synack did instead; `N passed, M failed` at the end.
    Drill(drill_cmd::DrillArgs),
    /// Run an unmodified program with its IPv4 TCP sockets on a running
    /// `synack up` (an LD_PRELOAD library: apps/preload/, apps/src/run/):
    /// `synack run -- python3 -m http.server 8000 --bind 0.0.0.0`.
    Run(RunArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The TAP of the `synack up` to use [default: the only one running].
    #[arg(long)]
    tap: Option<String>,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    cmd: Vec<std::ffi::OsString>,
}

#[derive(Args)]
struct LadderArgs {
    /// An Ethernet pcap file (from `synack up --pcap`, tcpdump -w, …), or a
    /// recording directory (`up --record`): then the frames its fault
    /// script dropped are drawn too, as lost.
    pcap: std::path::PathBuf,
    /// Write an SVG here instead of printing text.
    #[arg(short = 'o', long, value_name = "FILE.svg")]
    output: Option<std::path::PathBuf>,
}

#[derive(Args)]
struct ConnectArgs {
    /// The address to connect to (e.g. the host, 10.0.0.1).
    host: Ipv4Addr,
    /// The port to connect to.
    port: u16,
    #[command(flatten)]
    iface: IfaceArgs,
    /// Print a line per frame in and out (to standard error).
    #[arg(long)]
    frames: bool,
    #[command(flatten)]
    tcp: synack_apps::tunables::TcpFlags,
}

#[derive(Args)]
struct PingArgs {
    /// The address to ping.
    host: Ipv4Addr,
    /// Echo requests to send.
    #[arg(short = 'c', long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: u32,
    /// Data bytes per request.
    #[arg(short = 's', long, default_value_t = 56, value_parser = clap::value_parser!(u16).range(0..=65_507))]
    size: u16,
    /// Seconds between requests.
    #[arg(short = 'i', long, default_value_t = 1.0)]
    interval: f64,
    /// Seconds to wait for replies after the last request.
    #[arg(short = 'W', long, default_value_t = 2.0)]
    wait: f64,
    #[command(flatten)]
    iface: IfaceArgs,
    /// Print a line per frame in and out.
    #[arg(long)]
    frames: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Up(a) => up(a),
        Cmd::Ping(a) => ping(a),
        Cmd::Connect(a) => connect(a),
        Cmd::Ladder(a) => ladder(a),
        Cmd::Replay(a) => replay_cmd::replay(a),
        Cmd::Plot(a) => synack_apps::plot::cmd::plot(a, replay_cmd::probes),
        Cmd::Drill(a) => drill_cmd::drill(a),
        Cmd::Run(a) => synack_apps::run::cmd::run(a.tap.as_deref(), &a.cmd),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("synack: {e}");
            ExitCode::FAILURE
        }
    }
}

// --------------------------------------------------------------- signals

/// SIGINT/SIGTERM (stop) and SIGUSR1 (print stats): each sets a flag and
/// writes a byte to a pipe whose read end sits in the poll set, so the loop
/// wakes at once (the self-pipe trick).
struct Signals {
    rd: UnixStream,
    stop: Arc<AtomicBool>,
    usr1: Arc<AtomicBool>,
}

impl Signals {
    fn install() -> io::Result<Signals> {
        let (rd, wr) = UnixStream::pair()?;
        rd.set_nonblocking(true)?;
        wr.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let usr1 = Arc::new(AtomicBool::new(false));
        for (sig, flag) in [(SIGINT, &stop), (SIGTERM, &stop), (SIGUSR1, &usr1)] {
            // The flag first, then the wake-up: the loop sees the flag set.
            signal_hook::flag::register(sig, flag.clone())?;
            signal_hook::low_level::pipe::register(sig, wr.try_clone()?)?;
        }
        Ok(Signals { rd, stop, usr1 })
    }
    fn fd(&self) -> RawFd {
        self.rd.as_raw_fd()
    }
    /// Empty the pipe (the flags say what happened).
    fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.rd).read(&mut buf), Ok(n) if n > 0) {}
    }
    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
    fn take_usr1(&self) -> bool {
        self.usr1.swap(false, Ordering::Relaxed)
    }
}

// ----------------------------------------------------------------- setup

/// The poll loop on the TAP (`synack_apps::iface::bring_up`).
type Net = synack_apps::iface::Iface;

/// Open, configure, and start the stack (`iface::bring_up`), printing
/// frames, events and faults as `up`'s trace does.
fn start(a: &IfaceArgs, trace_frames: bool, trace_events: bool) -> io::Result<(Net, String, Instant)> {
    let show = synack_apps::iface::Show {
        frames: trace_frames.then_some(print_frame as fn(device::Direction, Instant, &[u8])),
        events: trace_events.then_some(print_event as fn(&stack::TraceEvent)),
        faults: Some(print_fault),
    };
    synack_apps::iface::bring_up(a, show)
}

fn stdin_is_terminal() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(0) == 1 }
}

// -------------------------------------------------------------------- up

fn up(mut a: UpArgs) -> io::Result<ExitCode> {
    let signals = Signals::install()?;
    if let Some(dir) = &a.record {
        if a.step || a.web.is_some() {
            return Err(io::Error::other("--record goes with neither --step nor --web: their runs do not replay"));
        }
        if a.iface.pcap.is_some() {
            return Err(io::Error::other("--record DIR writes DIR/capture.pcap: leave out --pcap"));
        }
        if a.iface.offload {
            // A capture holds no virtio-net headers: a replay could not
            // tell which checksums the host left undone.
            return Err(io::Error::other("--record and --offload do not go together: the capture cannot replay"));
        }
        std::fs::create_dir_all(dir)?;
        a.iface.pcap = Some(device::replay::Recorder::capture_path(dir));
    }
    let (mut net, name, now) = start(&a.iface, !a.quiet, a.verbose)?;
    let ident = std::process::id() as u16;
    let mut recorder = match &a.record {
        Some(dir) => {
            let header = device::replay::Recording {
                description: String::new(),
                args: recorded_args(),
                ifname: name.clone(),
                epoch: net.clock().wall_epoch(),
                start: now,
                ident,
                events: Vec::new(),
            };
            Some(device::replay::Recorder::create(dir, &header)?)
        }
        None => None,
    };
    // The services (echo, discard, chargen, UDP echo, telnet) run on one
    // epoll reactor (apps/src/reactor.rs, docs/reactor.md).
    let (mut reactor, errors) = Reactor::with_services(&mut net.stack, now, &name);
    for e in errors {
        eprintln!("synack: service not started: {e}");
    }
    // After the listeners exist, so that --backlog reaches them.
    a.tcp.apply(&mut net.stack).map_err(io::Error::other)?;
    // The ladder recorder sees the wire; the stepper sits above it.
    let ladder = a.ladder.as_ref().map(|_| synack_apps::ladder::Recorder::install(&mut net.dev));
    let live_ladder = a.web.map(|_| synack_apps::web::LiveLadder::install(&mut net.dev)); // --web's
    let step = reactor.step();
    // A recording replays only what the loop did by itself: no stepping
    // while recording (`step on` then says it is not available here, as
    // it does in the replay).
    if a.record.is_none() {
        step.install(&mut net.dev);
    }
    // Programs on synack (`synack run`): their control socket.
    let mut programs = match RunServer::start(&mut net.stack, synack_apps::run::socket_path(&name)) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("synack: synack run not available: {e}");
            None
        }
    };
    let i = net.stack.iface();
    say(format!("synack is up: {name} {}/{} {}", i.addr, i.prefix_len, i.mac));
    // `--web`: the live view, on this reactor (apps/src/web/, docs/web.md).
    let web_opts = a.web.map(|port| synack_apps::web::WebOptions { port, control: a.web_control });
    let mut web = synack_apps::web::Web::up(web_opts, &mut reactor, &mut net.stack, now, &name, live_ladder)?;
    if let Some(w) = &web {
        say(format!("web: {}", w.url(&net.stack)));
    }

    // Prompt lines come from standard input: a terminal (with a prompt
    // printed), or a pipe or file (a script, a test, a recording). The end
    // of a terminal's input quits; the end of a script's only stops reading.
    let interactive = stdin_is_terminal();
    let mut stdin_open = true;
    let mut shell = Shell::new(&name, ident);
    shell.set_step(step.clone(), step::Who::Console, interactive, step::stdout_style());
    if a.step {
        say_text(&shell.step_on(&mut net.stack));
    }
    let mut ping: Option<PingJob> = None;
    let mut line_buf: Vec<u8> = Vec::new();
    if interactive {
        say("type help for commands");
        prompt();
    }

    let mut tx_error_reported = false;
    loop {
        let mut fds = vec![signals.fd()];
        if stdin_open {
            fds.push(0); // a terminal, or a pipe of prompt lines (or --step's keys)
        }
        if let Some(p) = &programs {
            fds.push(p.fd()); // programs' calls and their sockets' data
        }
        // Softirq: sleep until a frame, a timer or an fd; then frames in,
        // timers, frames out.
        let wake_at = stack::time::earliest(ping.as_ref().and_then(|p| p.poll_at()), reactor.poll_at());
        let wake_at = stack::time::earliest(wake_at, programs.as_ref().and_then(|p| p.poll_at()));
        let woke = net.poll_once(&fds, wake_at)?;
        // Everything after the turn runs at the turn's `now`, which is what
        // a replay of the recording reproduces.
        let now = woke.now;
        if let Some(r) = recorder.as_mut() {
            r.event(&device::replay::Event::Turn(now))?;
        }
        if let Some(e) = net.take_tx_error() {
            if !tx_error_reported {
                eprintln!("synack: the device refused a frame: {e} (frames dropped, counting on)");
                tx_error_reported = true;
            }
        }

        // Signals.
        if woke.readable.contains(&signals.fd()) || woke.interrupted {
            signals.drain();
        }
        if signals.take_usr1() {
            say_text(&shell::stats_text(net.stack.stats()));
        }
        if signals.stop_requested() {
            break;
        }

        // Process context: the reactor's handlers for the ready sockets,
        // then the prompt's ping.
        reactor.run_once(&mut net.stack, now);
        if let Some(p) = programs.as_mut() {
            p.turn(&mut net.stack, now);
            for l in p.take_lines() {
                say(l);
            }
        }
        if let Some(job) = ping.as_mut() {
            job.poll(&mut net.stack, now);
            for l in job.take_lines() {
                say(l);
            }
            if job.is_done() {
                ping = None;
                if interactive {
                    prompt();
                }
            }
        }

        // The prompt.
        if woke.readable.contains(&0) {
            match read_lines(&mut line_buf) {
                None if interactive => break, // end of input (Ctrl-D)
                None => stdin_open = false,
                Some(lines) => {
                    let mut quit = false;
                    let mut step_key = false;
                    for line in lines {
                        if let Some(r) = recorder.as_mut() {
                            r.event(&device::replay::Event::Line(now, line.clone()))?;
                        }
                        if let Some(p) = &programs {
                            shell.set_programs(p.owners(), p.stats_line());
                        }
                        let r = shell.execute(&line, &mut net.stack, now);
                        say_text(&r.text);
                        match r.action {
                            Action::None => {}
                            Action::Step => step_key = true,
                            Action::Quit => quit = true,
                            Action::Ping(mut job) => {
                                for l in job.take_lines() {
                                    say(l);
                                }
                                ping = Some(job);
                            }
                        }
                    }
                    if quit {
                        break;
                    }
                    if ping.is_none() && interactive && !step_key {
                        prompt();
                    }
                }
            }
        }
        // Step mode: the keys just typed, the segments held (step/ctl.rs).
        say_text(&step.turn(&mut net, &mut reactor));
        if let Some(w) = web.as_mut() {
            w.turn(&mut net.stack, &mut reactor, now);
        }
    }

    // Clean shutdown: close the sockets, send what is queued, print the
    // stats once. Dropping the loop closes the TAP, which removes it.
    let now = net.now();
    if let Some(r) = recorder.as_mut() {
        r.event(&device::replay::Event::Close(now))?;
    }
    step.stop(&mut net.stack);
    step.run(&mut net); // what is held goes on
    let run_line = programs.as_ref().map(|p| p.stats_line());
    if let Some(p) = programs.take() {
        p.close(&mut net.stack, now);
    }
    reactor.close(&mut net.stack, now);
    net.transmit(now);
    say_text(&shell::stats_text(net.stack.stats()));
    if let Some(l) = run_line {
        say_text(&l);
    }
    if let (Some(rec), Some(path)) = (ladder, &a.ladder) {
        match rec.write_svg(path) {
            Ok(n) => say(format!("ladder: {n} connection(s) drawn to {}", path.display())),
            Err(e) => eprintln!("synack: ladder {}: {e}", path.display()),
        }
    }
    drop(net);
    say(format!("synack is down: {name} closed"));
    Ok(ExitCode::SUCCESS)
}

/// The arguments of `up` as given, less `--record DIR`: what a replay
/// parses again to rebuild the same stack.
fn recorded_args() -> Vec<String> {
    let mut out = Vec::new();
    let mut it = std::env::args().skip_while(|a| a != "up").skip(1);
    while let Some(a) = it.next() {
        if a == "--record" {
            it.next();
        } else if !a.starts_with("--record=") {
            out.push(a);
        }
    }
    out
}

fn prompt() {
    let mut out = io::stdout().lock();
    let _ = out.write_all(shell::PROMPT.as_bytes());
    let _ = out.flush();
}

/// Read what stdin has (it polled readable) and return the complete lines;
/// `None` at end of input.
fn read_lines(buf: &mut Vec<u8>) -> Option<Vec<String>> {
    let mut chunk = [0u8; 4096];
    // SAFETY: reading into a buffer we own, from fd 0.
    let n = unsafe { libc::read(0, chunk.as_mut_ptr().cast(), chunk.len()) };
    if n == 0 {
        return None;
    }
    if n < 0 {
        let e = io::Error::last_os_error();
        return if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) {
            Some(Vec::new())
        } else {
            None
        };
    }
    buf.extend_from_slice(&chunk[..n as usize]);
    let mut lines = Vec::new();
    while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=pos).collect();
        lines.push(String::from_utf8_lossy(&line).trim_end().to_string());
    }
    if buf.len() > 4096 {
        buf.clear(); // a line that long is not a command
    }
    Some(lines)
}

// ---------------------------------------------------------------- ladder

fn ladder(a: LadderArgs) -> io::Result<ExitCode> {
    // A recording is replayed, so that frames its fault script dropped are
    // drawn as lost; a capture is drawn as the wire saw it.
    let frames = if a.pcap.is_dir() {
        replay_cmd::ladder_frames(&a.pcap)?
    } else {
        let mut frames = Vec::new();
        for f in device::PcapReader::open(&a.pcap)? {
            let f = f?;
            frames.push(synack_apps::ladder::LadderFrame {
                t_us: f.timestamp.as_micros() as u64,
                data: f.data,
                ..Default::default()
            });
        }
        frames
    };
    let conns = synack_apps::ladder::connections_marked(&frames);
    if conns.is_empty() {
        eprintln!("synack ladder: no TCP segments in {}", a.pcap.display());
        return Ok(ExitCode::FAILURE);
    }
    match a.output {
        Some(path) => {
            std::fs::write(&path, synack_apps::ladder::render_svg(&conns))?;
            eprintln!("synack ladder: {} connection(s) drawn to {}", conns.len(), path.display());
        }
        None => {
            for c in &conns {
                say_text(&synack_apps::ladder::render_text(c));
                say("");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

// --------------------------------------------------------------- connect

fn connect(a: ConnectArgs) -> io::Result<ExitCode> {
    use stack::{Errno, MsgFlags, PollFlags, Shutdown, SockType};
    let signals = Signals::install()?;
    FRAMES_TO_STDERR.store(true, Ordering::Relaxed);
    let (mut net, name, _) = start(&a.iface, a.frames, false)?;
    let i = net.stack.iface();
    eprintln!("synack is up: {name} {}/{} {}", i.addr, i.prefix_len, i.mac);
    let now = net.now();
    a.tcp.apply(&mut net.stack).map_err(io::Error::other)?;
    let sock = net.stack.socket(SockType::Stream).map_err(io::Error::other)?;
    if a.tcp.keepalive.is_some() {
        net.stack.setsockopt(now, sock, stack::SockOpt::KeepAlive(true)).map_err(io::Error::other)?;
    }
    let remote = std::net::SocketAddrV4::new(a.host, a.port);
    match net.stack.connect(now, sock, remote) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(e) => return fail(&format!("connect to {remote}"), e),
    }
    let mut connected = false;
    let mut stdin_open = true;
    // The peer's FIN came: nothing more to read, but what standard input
    // still has goes out before we close (a half-close, like nc -N's).
    let mut peer_done = false;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = now + Duration::from_secs(60);
    loop {
        // Read standard input only when its last chunk has gone into the send buffer.
        let mut fds = vec![signals.fd()];
        if connected && stdin_open && pending.is_empty() {
            fds.push(0);
        }
        let woke = net.poll_once(&fds, (!connected).then_some(deadline))?;
        if woke.readable.contains(&signals.fd()) || woke.interrupted {
            signals.drain();
        }
        if signals.stop_requested() {
            break;
        }
        let now = net.now();
        let ready = net.stack.poll_socket(sock);
        if !connected {
            if let Some(e) = net.stack.take_error(sock) {
                return fail(&format!("connect to {remote}"), e);
            }
            if ready.contains(PollFlags::POLLOUT) {
                connected = true;
                eprintln!(
                    "synack: connected to {remote} from {}",
                    net.stack.getsockname(sock).map_err(io::Error::other)?
                );
            } else if now >= deadline {
                return fail(&format!("connect to {remote}"), Errno::ETIMEDOUT);
            }
            continue;
        }
        if woke.readable.contains(&0) {
            match io::stdin().lock().read(&mut buf) {
                Ok(0) => {
                    stdin_open = false;
                    let _ = net.stack.shutdown(now, sock, Shutdown::Write); // half-close: keep reading
                }
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if !pending.is_empty() {
            match net.stack.send(now, sock, &pending, MsgFlags::NONE) {
                Ok(n) => {
                    pending.drain(..n);
                }
                Err(Errno::EAGAIN) => {}
                Err(e) => return fail("send", e),
            }
        }
        while !peer_done {
            match net.stack.recv(now, sock, &mut buf, MsgFlags::NONE) {
                Ok(0) => peer_done = true,
                Ok(n) => {
                    let mut out = io::stdout().lock();
                    out.write_all(&buf[..n])?;
                    out.flush()?;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => return fail("recv", e),
            }
        }
        if peer_done && !stdin_open && pending.is_empty() {
            break;
        }
        if let Some(e) = net.stack.take_error(sock) {
            return fail("connection", e);
        }
    }
    let (local, now) = (net.stack.getsockname(sock).ok(), net.now());
    let _ = net.stack.close(now, sock);
    linger(&mut net, &signals, local, remote)
}

/// After `close`: run the stack until what was queued and the FIN are
/// acknowledged (the connection reaches TIME_WAIT or is gone), at most a
/// minute or until a signal: the stack lives in this process, so exiting
/// at once would lose a FIN or data that a lossy link makes us retransmit.
fn linger(
    net: &mut Net,
    signals: &Signals,
    local: Option<std::net::SocketAddrV4>,
    remote: std::net::SocketAddrV4,
) -> io::Result<ExitCode> {
    let deadline = net.now() + Duration::from_secs(60);
    loop {
        let now = net.now();
        let alive = net.stack.tcp_info(now).into_iter().any(|i| {
            Some(i.local) == local
                && i.remote == remote
                && !matches!(i.state, stack::tcp::TcpState::TimeWait | stack::tcp::TcpState::Closed)
        });
        if !alive || now >= deadline || signals.stop_requested() {
            net.transmit(now);
            return Ok(ExitCode::SUCCESS);
        }
        let woke = net.poll_once(&[signals.fd()], Some(deadline))?;
        if woke.readable.contains(&signals.fd()) || woke.interrupted {
            signals.drain();
        }
    }
}

fn fail(what: &str, e: stack::Errno) -> io::Result<ExitCode> {
    eprintln!("synack: {what}: {}", e.text());
    Ok(ExitCode::FAILURE)
}

// ------------------------------------------------------------------ ping

fn ping(a: PingArgs) -> io::Result<ExitCode> {
    if !(0.01..=60.0).contains(&a.interval) || !(0.0..=60.0).contains(&a.wait) {
        return Err(io::Error::other("interval must be in 0.01..=60 s and wait in 0..=60 s"));
    }
    let signals = Signals::install()?;
    let (mut net, name, _) = start(&a.iface, a.frames, false)?;
    let i = net.stack.iface();
    say(format!("synack is up: {name} {}/{} {}", i.addr, i.prefix_len, i.mac));
    let opts = PingOptions {
        count: a.count,
        size: a.size as usize,
        interval: Duration::from_secs_f64(a.interval),
        wait: Duration::from_secs_f64(a.wait),
        ident: std::process::id() as u16,
        ..PingOptions::new(a.host)
    };
    let mut job = PingJob::new(opts, net.now());
    loop {
        let now = net.now();
        job.poll(&mut net.stack, now);
        for l in job.take_lines() {
            say(l);
        }
        if job.is_done() {
            break;
        }
        let woke = net.poll_once(&[signals.fd()], job.poll_at())?;
        if woke.readable.contains(&signals.fd()) || woke.interrupted {
            signals.drain();
        }
        if signals.take_usr1() {
            say_text(&shell::stats_text(net.stack.stats()));
        }
        if signals.stop_requested() {
            // Like ping(8) on Ctrl-C: the statistics, then exit.
            job.finish(net.now());
        }
    }
    Ok(if job.received() > 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
