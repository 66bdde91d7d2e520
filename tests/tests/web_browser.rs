//! The page of `synack up --web` in a real browser: Debian's `chromium`,
//! headless, in the test's network namespace, loads `http://10.0.0.2/`
//! (served by synack's own TCP) and runs the page's JavaScript; the test
//! reads the page back through the Chrome DevTools Protocol, over
//! `--remote-debugging-pipe` (JSON messages ending in a NUL byte on file
//! descriptors 3 and 4: no WebSocket needed).
//!
//! 1. The host's own connection (a chargen transfer from a fixed port, one
//!    segment dropped by `--faults` so the plots have a loss in them) is a
//!    row of the connections table, filled by the event stream
//!    (`/api/events`), with its state and addresses.
//! 2. Its page (`#/conn/ID`) shows the TCB, updating live, the ladder and
//!    the four plots, each `<img>` loaded from synack.
//! 3. Without `--web-control` the step panel says it is read-only and its
//!    buttons are disabled; with it, a breakpoint is set and cleared, and
//!    a handshake is stepped from the page: `step on`, the host's SYN waits (its echo does not come), Next
//!    processes it (`LISTEN->SYN_RECEIVED` in the view), Continue lets the
//!    rest through and the host gets its echo; the connection, closed,
//!    moves to the closed ones, and its page still draws its plots.
//! 4. When the event stream fails (here: the page's `EventSource` is
//!    pointed at a route that does not exist, so the real error path
//!    runs), the page says it polls and still follows the connections.
//! 5. Screenshots of the page and of the connection's plots are written
//!    to `$SYNACK_WEB_TEST_OUT` (default `target/web-test/`) as
//!    `web-page.png` and `web-plots.png`, and must be PNGs of some size
//!    (`docs/screenshots.sh` runs this test to remake README's images).
//!
//! Run as root (`tests/run.sh`); without root the test prints a loud
//! SKIPPED message, except under `CI=true`, where that is a failure.

use device::netns::wait_bounded;
use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};
use synack_tests::tree::workspace_root;
use synack_tests::{interop_allowed, require_tool, Netns, Synack};

/// The longest any one DevTools call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest the page may take to show what a check waits for.
const PAGE_TIMEOUT: Duration = Duration::from_secs(20);
/// The window the screenshots are taken at.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;
/// The host's end of the test's connection (`nc -p`), so its row is known.
const CLIENT_PORT: u16 = 40119;

// ------------------------------------------------------------ the browser

/// Chromium, headless, driven over the DevTools protocol on a pipe;
/// closed (then killed by its PID if need be) on Drop.
struct Browser {
    child: Child,
    /// Our end of its fd 3: commands.
    commands: std::io::PipeWriter,
    /// Messages from its fd 4, one JSON value each, read by a thread.
    messages: Receiver<Value>,
    next_id: u64,
    /// The page's session (`Target.attachToTarget`, flat mode).
    session: Option<String>,
    profile: PathBuf,
}

impl Browser {
    /// `chromium --headless --remote-debugging-pipe` in `ns`, with a fresh
    /// profile in a temporary folder.
    fn launch(ns: &Netns) -> Browser {
        require_tool("chromium");
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let profile = std::env::temp_dir().join(format!("synack-chromium-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let (cmd_r, cmd_w) = std::io::pipe().expect("pipe");
        let (msg_r, msg_w) = std::io::pipe().expect("pipe");
        let user_data = format!("--user-data-dir={}", profile.display());
        let size = format!("--window-size={WIDTH},{HEIGHT}");
        let mut cmd = ns.command(
            "chromium",
            &[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                &user_data,
                &size,
                "--remote-debugging-pipe",
                "about:blank",
            ],
        );
        let log = File::create(profile.join("chromium.log")).expect("log file");
        cmd.stdin(Stdio::null()).stdout(log.try_clone().expect("log")).stderr(log);
        let (fd_in, fd_out) = (cmd_r.as_raw_fd(), msg_w.as_raw_fd());
        // SAFETY: between fork and exec only async-signal-safe calls
        // (fcntl, dup2) on descriptors this process owns. The first copies
        // go above 10 so that neither is already 3 or 4; dup2 leaves the
        // copies at 3 and 4 open across exec, the pipe's originals close.
        unsafe {
            cmd.pre_exec(move || {
                let a = libc::fcntl(fd_in, libc::F_DUPFD_CLOEXEC, 10);
                let b = libc::fcntl(fd_out, libc::F_DUPFD_CLOEXEC, 10);
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn chromium: {e}"));
        // Only chromium holds these ends now: its exit is our end of file.
        drop((cmd_r, msg_w));
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(msg_r);
            let mut buf = Vec::new();
            while r.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
                buf.clear();
            }
        });
        Browser { child, commands: cmd_w, messages, next_id: 1, session: None, profile }
    }

    /// Chromium's own log, for failure messages.
    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.profile.join("chromium.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.contains("dbus")).collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// One DevTools call, on the page's session if there is one; its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        if let Err(e) = self.commands.write_all(&bytes) {
            panic!("{method}: write to chromium: {e}\n{}", self.log());
        }
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = match self.messages.recv_timeout(left) {
                Ok(v) => v,
                Err(e) => panic!("{method}: no answer from chromium ({e})\n{}", self.log()),
            };
            // Events (no id) and answers to other calls are not ours.
            if reply["id"] != json!(id) {
                continue;
            }
            if let Some(err) = reply.get("error") {
                panic!("{method}: {err}\n{}", self.log());
            }
            return reply["result"].clone();
        }
    }

    /// A new tab at `url`, and the session to it that later calls use.
    fn open(&mut self, url: &str) {
        self.open_with(url, None);
    }

    /// Like `open`, with `script` run in the page before its own scripts.
    fn open_with(&mut self, url: &str, script: Option<&str>) {
        self.session = None;
        let target = self.call("Target.createTarget", json!({ "url": "about:blank" }));
        let id = target["targetId"].clone();
        let s = self.call("Target.attachToTarget", json!({ "targetId": id, "flatten": true }));
        self.session = Some(s["sessionId"].as_str().expect("a session id").to_string());
        // The screenshots' size, set before the page lays itself out.
        let metrics = json!({ "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": false });
        self.call("Emulation.setDeviceMetricsOverride", metrics);
        if let Some(source) = script {
            self.call("Page.enable", json!({}));
            self.call("Page.addScriptToEvaluateOnNewDocument", json!({ "source": source }));
        }
        let nav = self.call("Page.navigate", json!({ "url": url }));
        if let Some(e) = nav.get("errorText") {
            panic!("{url}: {e}\n{}", self.log());
        }
        let loaded = format!("location.href.startsWith({url:?}) && document.readyState === 'complete'");
        self.wait_for(&format!("{url} loaded"), &loaded);
    }

    /// The value of a JavaScript expression in the page (JSON-able), or
    /// the exception it threw.
    fn try_eval(&mut self, expr: &str) -> Result<Value, String> {
        let r = self.call("Runtime.evaluate", json!({ "expression": expr, "returnByValue": true }));
        match r.get("exceptionDetails") {
            Some(ex) => Err(ex["exception"]["description"].as_str().unwrap_or("an exception").to_string()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// The value of a JavaScript expression in the page, which must not throw.
    fn eval(&mut self, expr: &str) -> Value {
        self.try_eval(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// Evaluate `expr` every 200 ms until it is neither null, false nor
    /// empty (nor throws: the page may not be there yet); its value, or a
    /// failure naming `what` after `PAGE_TIMEOUT`.
    fn wait_for(&mut self, what: &str, expr: &str) -> Value {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let v = self.try_eval(expr);
            let empty = |v: &Value| matches!(v, Value::Null | Value::Bool(false)) || v.as_str() == Some("");
            match &v {
                Ok(v) if !empty(v) => return v.clone(),
                _ if Instant::now() >= deadline => {
                    let body = self.try_eval("document.querySelector('main').innerText");
                    panic!(
                        "{what}: not on the page after {PAGE_TIMEOUT:?} ({expr} gave {v:?})\n{body:?}\n--- chromium:\n{}",
                        self.log()
                    );
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// A screenshot of the tab as it is, written to `path` as PNG.
    fn screenshot(&mut self, path: &Path) {
        let r = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64_decode(r["data"].as_str().expect("base64 PNG data"));
        std::fs::write(path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask it to quit; kill it by its PID if it does not.
        self.session = None;
        let _ = self.commands.write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0");
        let (_, killed) = wait_bounded(&mut self.child, Duration::from_secs(5));
        if killed {
            eprintln!("chromium {} did not close; killed", self.child.id());
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Standard base64 (RFC 4648 §4), as DevTools sends screenshots.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &d)| n | (u32::from(d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// A PNG file of some size: its signature and a plausible length.
fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());
    assert!(bytes.len() > 10_000, "{}: only {} bytes", path.display(), bytes.len());
}

/// Where the screenshots go: `$SYNACK_WEB_TEST_OUT` or `target/web-test/`.
fn out_dir() -> PathBuf {
    let dir = std::env::var_os("SYNACK_WEB_TEST_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/web-test"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

// ------------------------------------------------------------------ test

#[test]
fn chromium_shows_the_tests_connection_its_tcb_and_plots() {
    if !interop_allowed("chromium_shows_the_tests_connection_its_tcb_and_plots") {
        return;
    }
    require_tool("python3");
    let ns = Netns::without_ipv6();
    // The 200th data segment synack sends is lost: a loss and its repair in
    // the plots; 10 ms each way, so that RTTs and slow start's rounds show.
    let args = ["--quiet", "--link", "delay 10ms", "--faults", "drop out tcp data #200", "--web"];
    let s = Synack::up(&ns, &args);

    // The host reads 4 MB of chargen fast, then slowly (its receive buffer,
    // 1 MB, fills and the window closes and opens again) until the test ends.
    let client = format!(
        "import socket,time\n\
         s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,1048576)\n\
         s.bind(('10.0.0.1',{CLIENT_PORT})); s.connect(('10.0.0.2',19))\n\
         n=0\n\
         while n<4000000: n+=len(s.recv(65536))\n\
         print('fast part read',flush=True)\n\
         end=time.time()+90\n\
         while time.time()<end: s.recv(2048); time.sleep(0.05)\n"
    );
    let reader = Synack::spawn_command(ns.command("python3", &["-c", &client]));
    let read = reader.wait_for(0, PAGE_TIMEOUT, |l| l == "fast part read");
    assert!(read.is_some(), "the chargen client:\n{}\n--- synack:\n{}", reader.output(), s.output());
    let (local, remote) = ("10.0.0.2:19".to_string(), format!("10.0.0.1:{CLIENT_PORT}"));

    let mut b = Browser::launch(&ns);
    b.open("http://10.0.0.2/");

    // 1. The connection's row, from the event stream.
    let row = format!("#conns tbody tr[data-local='{local}'][data-remote='{remote}']");
    b.wait_for("the event stream", "document.getElementById('live').dataset.mode === 'stream'");
    b.wait_for("a conns event", "Number(document.getElementById('live').dataset.events || 0) >= 1");
    let id = b.wait_for("the test's connection in #conns", &format!("document.querySelector(\"{row}\")?.dataset.id"));
    let id = id.as_str().expect("an id").to_string();
    assert!(id.parse::<u64>().is_ok(), "connection id {id:?}");
    let cells = b.eval(&format!("[...document.querySelector(\"{row}\").cells].map(c => c.textContent)"));
    assert_eq!(cells[0], json!("ESTABLISHED"), "{cells}");
    assert_eq!((cells[3].as_str(), cells[4].as_str()), (Some(&*local), Some(&*remote)), "{cells}");
    let cwnd: u64 = cells[5].as_str().unwrap_or("").replace(',', "").parse().unwrap_or(0);
    assert!(cwnd > 0, "cwnd {cells}");
    // The listeners' queues, as bars.
    let bars = b.eval("document.querySelectorAll('#listeners .bar').length");
    assert!(bars.as_u64().is_some_and(|n| n >= 2), "listener bars: {bars}");
    let iface = b.eval("document.getElementById('iface').textContent");
    assert!(iface.as_str().is_some_and(|t| t.contains("inet 10.0.0.2")), "{iface}");
    // The counters tab: the stack's own, as the prompt's `stats`.
    let rx =
        b.wait_for("frames_rx", "document.querySelector('#stats tr[data-counter=frames_rx]')?.cells[1].textContent");
    assert!(rx.as_str().is_some_and(|n| n.replace(',', "").parse::<u64>().is_ok_and(|n| n > 100)), "frames_rx {rx}");
    let page = out_dir().join("web-page.png");
    b.screenshot(&page);

    // 3. Read-only step panel.
    b.eval("location.hash = '#/step'");
    b.wait_for("the read-only note", "!document.getElementById('step-readonly').hidden");
    let disabled =
        b.eval("document.getElementById('step-next').disabled && document.getElementById('step-on').disabled");
    assert_eq!(disabled, json!(true), "step buttons enabled without --web-control");

    // 2. Its page: the TCB, live; the ladder and the four plots, loaded.
    b.eval(&format!("location.hash = '#/conn/{id}'"));
    let una = "document.querySelector('#tcb tr[data-field=snd_una]')?.cells[1]?.textContent";
    let first = b.wait_for("the TCB's snd_una", una);
    b.wait_for(
        "snd_una moving on the live TCB",
        &format!("(({una}) !== {first}) && ({una})", first = serde_json::to_string(&first).unwrap()),
    );
    b.wait_for("the ladder", "document.getElementById('ladder').naturalWidth > 0");
    for plot in ["tseq", "cwnd", "rtt", "buffers"] {
        let img = format!("document.querySelector('#plots figure[data-plot={plot}] img')");
        b.wait_for(&format!("the {plot} plot"), &format!("{img}.dataset.loaded >= 1 && {img}.naturalWidth > 0"));
        let src = b.eval(&format!("{img}.getAttribute('src')"));
        let want = format!("/api/conns/{id}/plot/{plot}.svg");
        assert!(src.as_str().is_some_and(|s| s.contains(&want)), "{plot}: src {src}, want {want}");
        let csv = b.eval(&format!("document.querySelector('#plots figure[data-plot={plot}] a.csv').href"));
        assert!(csv.as_str().is_some_and(|h| h.ends_with(&format!("/api/conns/{id}/history.csv"))), "{csv}");
    }
    b.eval("document.getElementById('plots').previousElementSibling.scrollIntoView()");
    std::thread::sleep(Duration::from_millis(300));
    let plots = out_dir().join("web-plots.png");
    b.screenshot(&plots);
    drop(b);

    assert_png(&page);
    assert_png(&plots);
    // synack served all that and still answers; the dropped segment was
    // sent again (the loss the plots show).
    let stats = s.stats();
    assert!(stats.counter("tcp_retransmits") >= 1, "no retransmission:\n{}", s.output());
}

/// Click the button `id` (which must be enabled).
fn click(b: &mut Browser, id: &str) {
    b.wait_for(&format!("#{id} enabled"), &format!("!document.getElementById('{id}').disabled"));
    b.eval(&format!("document.getElementById('{id}').click()"));
}

#[test]
fn chromium_steps_a_handshake_from_the_page() {
    if !interop_allowed("chromium_steps_a_handshake_from_the_page") {
        return;
    }
    require_tool("nc");
    let ns = Netns::without_ipv6();
    let s = Synack::up(&ns, &["--quiet", "--web", "--web-control"]);
    let mut b = Browser::launch(&ns);
    b.open("http://10.0.0.2/#/step");
    b.wait_for("the step panel", "!document.getElementById('view-step').hidden");
    assert_eq!(b.eval("document.getElementById('step-readonly').hidden"), json!(true), "read-only with --web-control");

    click(&mut b, "step-on");
    b.wait_for("step mode on", "document.getElementById('step-state').dataset.active === 'true'");
    // A breakpoint typed as at the console, then cleared.
    let bps = "document.getElementById('step-breakpoints').textContent";
    b.eval("document.getElementById('step-break').value = 'b port 7'");
    click(&mut b, "step-break-set");
    b.wait_for("the breakpoint listed", &format!("{bps} === 'port 7'"));
    click(&mut b, "step-break-clear");
    b.wait_for("no breakpoints", &format!("{bps} === 'none'"));
    let view = "document.getElementById('step-view').textContent";
    // The host's nc connects to echo: its SYN waits on the page.
    let nc = Synack::spawn_command(ns.command("sh", &["-c", "printf 'hello\\n' | timeout 30 nc -N 10.0.0.2 7"]));
    b.wait_for("the SYN, waiting", &format!("{view}.includes('> 10.0.0.2.7: Flags [S],') && {view}"));
    b.wait_for("Next enabled", "document.getElementById('step-state').dataset.pending === 'true'");
    std::thread::sleep(Duration::from_millis(300));
    assert!(nc.lines().iter().all(|l| l != "hello"), "the echo came through a paused stack");
    let marked = b.eval("document.querySelectorAll('#step-view mark').length");

    // Next: the stack processes the SYN.
    click(&mut b, "step-next");
    b.wait_for("LISTEN->SYN_RECEIVED in the view", &format!("{view}.includes('*state LISTEN->SYN_RECEIVED')"));
    let marks = b.wait_for(
        "the changes marked",
        &format!("document.querySelectorAll('#step-view mark').length > {marked} && [...document.querySelectorAll('#step-view mark')].map(m => m.textContent)"),
    );
    assert!(marks.to_string().contains("*state LISTEN->SYN_RECEIVED"), "{marks}");
    let shot = out_dir().join("web-step.png");
    b.screenshot(&shot);
    assert_png(&shot);

    // Continue: the rest goes through, the host gets its echo.
    click(&mut b, "step-continue");
    let echoed = nc.wait_for(0, PAGE_TIMEOUT, |l| l == "hello");
    assert!(echoed.is_some(), "no echo after Continue:\n{}\n--- synack:\n{}", nc.output(), s.output());
    click(&mut b, "step-off");
    b.wait_for("step mode off", "document.getElementById('step-state').dataset.active === 'false'");

    // The connection closed: it goes from the table to the closed ones,
    // whose page still has its plots.
    let closed = "document.querySelector(\"#history tbody tr[data-local='10.0.0.2:7']\")";
    let id = b.wait_for("the echo connection among the closed ones", &format!("{closed}?.dataset.id"));
    let open = "document.querySelector(\"#conns tbody tr[data-local='10.0.0.2:7']\")";
    assert_eq!(b.eval(&format!("{open} === null")), json!(true), "still in the connections table");
    b.eval(&format!("location.hash = '#/conn/{}'", id.as_str().unwrap_or("")));
    let img = "document.querySelector('#plots figure[data-plot=tseq] img')";
    b.wait_for("a closed connection's plot", &format!("{img}.dataset.loaded >= 1 && {img}.naturalWidth > 0"));
    b.wait_for("the note that it is gone", "!document.getElementById('conn-gone').hidden");
}

#[test]
fn chromium_polls_when_the_stream_fails() {
    if !interop_allowed("chromium_polls_when_the_stream_fails") {
        return;
    }
    require_tool("nc");
    let ns = Netns::without_ipv6();
    let _s = Synack::up(&ns, &["--quiet", "--web"]);
    let mut b = Browser::launch(&ns);
    // Every EventSource the page makes asks for a route that is not there:
    // a real 404, the browser's real `error` event.
    let broken = "const Real = window.EventSource; \
                  window.EventSource = function () { return new Real('/api/no-such-stream'); };";
    b.open_with("http://10.0.0.2/", Some(broken));
    b.wait_for("polling", "document.getElementById('live').dataset.mode === 'poll'");
    assert_eq!(b.eval("document.getElementById('live').dataset.events === undefined"), json!(true));

    // A connection opened now shows up by polling, and goes when it closes.
    let mut nc = Synack::spawn_with_stdin(ns.command("nc", &["-p", "40123", "10.0.0.2", "7"]));
    let row = "document.querySelector(\"#conns tbody tr[data-remote='10.0.0.1:40123']\")";
    b.wait_for("the new connection, by polling", &format!("{row}?.dataset.state === 'ESTABLISHED'"));
    nc.send_line("hello");
    assert!(nc.wait_for(0, PAGE_TIMEOUT, |l| l == "hello").is_some(), "no echo: {}", nc.output());
    drop(nc); // killed: its connection closes
    b.wait_for("the connection gone from the table, by polling", &format!("{row} === null"));
    let mode = b.eval("document.getElementById('live').dataset.mode");
    assert_eq!(mode, json!("poll"), "the page should still be polling");
}
