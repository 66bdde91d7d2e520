//! `synack up --web` against the host's `curl` and raw sockets, each test
//! in a network namespace of its own (apps/src/web/, docs/web.md):
//!
//! 1. `page_api_keep_alive_and_404`: `curl` gets `/` (200, text/html),
//!    `/app.js`, `/style.css`, `/api`, `/api/iface`, `/api/arp`,
//!    `/api/routes`, `/api/conns` (JSON, parsed with serde_json, whose
//!    fields say what synack is: its address, its listeners, its own
//!    connection), a TCB; two URLs on one connection (`Re-using existing
//!    connection`, and one connection in synack's stats); 404 for an unknown
//!    path and `/../etc/passwd`; 403 for a step command without
//!    `--web-control`.
//! 2. `the_event_stream_reports_a_new_connection_within_a_second`:
//!    `curl -N /api/events` is open; a connection to echo opens; an
//!    `event: conns` naming it arrives within 1 s of the handshake.
//! 3. `step_mode_from_the_page`: with `--web-control`, POST on (but not
//!    from another site's page: its Origin gets 403); the host's `nc`
//!    connects to echo; its SYN waits (`/api/step` shows it, the event
//!    stream sends an `event: step`); POST next processes it (its SYN-ACK is
//!    the next step); POST continue lets the rest go and `nc` gets its echo.
//! 4. `history_csv_and_plots_of_a_transfer`: 1 MB from the host to
//!    discard; its history (the `tcp_probe` samples) as JSON (all of them,
//!    and those after `since_ms`), as CSV (a row per sample), its four
//!    plots and its ladder as SVG documents (roxmltree parses them).
//! 5. `malformed_and_hostile_requests`: a table of 27 requests, each on a
//!    raw socket from inside the namespace, each with the status expected
//!    (or a close without answer), none hanging; a slowloris trickle gets
//!    408 within the limit; 1,000 idle connections from one client: 16
//!    served, the rest 503 and closed (and `curl` then reads a 503), the served ones closed at the idle
//!    limit; and afterwards synack still serves telnet (the banner), echo
//!    and the page.
//!
//! Figures are printed (`--nocapture`). Run as root (`tests/run.sh`).

use serde_json::Value;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use synack_tests::{assert_alive, interop_allowed, require_tool, synack_ns, Netns, Synack};

const T: Duration = Duration::from_secs(20);
const WEB: &str = "http://10.0.0.2";

/// synack with `--web EXTRA…`, its `web:` line printed.
fn web_ns(extra: &[&str]) -> (Netns, Synack) {
    require_tool("curl");
    let (ns, s) = synack_ns(&[&["--web"], extra].concat());
    let line = s.wait_for_line("web: ", T).unwrap_or_else(|| panic!("no web: line\n{}", s.output()));
    assert_eq!(line, "web: http://10.0.0.2/", "{}", s.output());
    (ns, s)
}

/// `curl -s` URL…, with `-w` after each: (stdout, stderr).
fn curl(ns: &Netns, args: &[&str]) -> (String, String) {
    let mut all = vec!["-s", "-m", "10"];
    all.extend_from_slice(args);
    let out = ns.exec("curl", &all, T);
    assert!(out.success(), "curl {args:?}:\n{}", out.text());
    (out.stdout, out.stderr)
}

/// GET `path`: (status, content type, body).
fn get(ns: &Netns, path: &str) -> (u16, String, String) {
    let url = format!("{WEB}{path}");
    let (out, _) = curl(ns, &["--path-as-is", "-w", "\n%{http_code} %{content_type}", &url]);
    let (body, tail) = out.rsplit_once('\n').unwrap_or(("", &out));
    let (code, ctype) = tail.split_once(' ').unwrap_or((tail, ""));
    (code.parse().unwrap_or(0), ctype.to_string(), body.to_string())
}

fn get_json(ns: &Netns, path: &str) -> Value {
    let (code, ctype, body) = get(ns, path);
    assert_eq!((code, ctype.as_str()), (200, "application/json"), "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// POST `path` with `body`, as the page does (its own Origin): (status,
/// JSON answer).
fn post(ns: &Netns, path: &str, body: &str) -> (u16, Value) {
    let url = format!("{WEB}{path}");
    let origin = ["-H", "Origin: http://10.0.0.2"];
    let (out, _) =
        curl(ns, &[&origin[..], &["-X", "POST", "--data-binary", body, "-w", "\n%{http_code}", &url]].concat());
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    let v = serde_json::from_str(body).unwrap_or_else(|e| panic!("POST {path}: {e}: {body}"));
    (code.parse().unwrap_or(0), v)
}

/// A TCP connection from inside the namespace (the host's kernel TCP).
fn connect(ns: &Netns, port: u16) -> TcpStream {
    let to: SocketAddr = format!("10.0.0.2:{port}").parse().unwrap();
    ns.run_in(move || {
        let s = TcpStream::connect_timeout(&to, Duration::from_secs(10))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(s)
    })
    .unwrap_or_else(|e| panic!("connect to {to}: {e}"))
}

/// Read until EOF, a reset, or `limit` passes: (bytes, how it ended).
fn read_to_end(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, &'static str) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    loop {
        if start.elapsed() > limit {
            return (got, "timeout");
        }
        match s.read(&mut buf) {
            Ok(0) => return (got, "eof"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return (got, "reset"),
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// The status codes of the responses in `bytes`, in order.
fn statuses(bytes: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("HTTP/1.1 ").filter_map(|(i, _)| text[i + 9..].get(..3)?.parse().ok()).collect()
}

#[test]
fn page_api_keep_alive_and_404() {
    if !interop_allowed("page_api_keep_alive_and_404") {
        return;
    }
    let (ns, s) = web_ns(&[]);
    let (code, ctype, body) = get(&ns, "/");
    assert_eq!((code, ctype.as_str()), (200, "text/html; charset=utf-8"), "{body}");
    assert!(body.contains("<html"), "{body}");
    assert_eq!(get(&ns, "/app.js").1, "text/javascript; charset=utf-8");
    assert_eq!(get(&ns, "/style.css").1, "text/css; charset=utf-8");

    let api = get_json(&ns, "/api");
    let routes: Vec<&str> = api["routes"].as_array().unwrap().iter().filter_map(|r| r["route"].as_str()).collect();
    assert!(routes.contains(&"GET /api/conns") && routes.contains(&"GET /api/events"), "{api}");
    let iface = get_json(&ns, "/api/iface");
    assert_eq!(iface["addr"], "10.0.0.2", "{iface}");
    assert_eq!((iface["prefix_len"].as_u64(), iface["mtu"].as_u64()), (Some(24), Some(1500)), "{iface}");
    assert_eq!((iface["mac"].as_str(), iface["gateway"].as_str()), (Some("02:00:00:00:00:02"), Some("10.0.0.1")));
    assert!(iface["stats"]["frames_rx"].as_u64().unwrap() > 0, "{iface}");
    let arp = get_json(&ns, "/api/arp");
    assert!(arp.as_array().unwrap().iter().any(|e| e["ip"] == "10.0.0.1" && e["mac"].is_string()), "{arp}");
    let routes = get_json(&ns, "/api/routes");
    assert!(
        routes.as_array().unwrap().iter().any(|r| r["dest"] == "0.0.0.0" && r["gateway"] == "10.0.0.1"),
        "{routes}"
    );

    // /api/conns: the listeners with their queues, and this very request's
    // connection, ESTABLISHED, as ss shows it.
    let conns = get_json(&ns, "/api/conns");
    let listeners = conns["listeners"].as_array().unwrap();
    let web = listeners.iter().find(|l| l["local"] == "10.0.0.2:80").unwrap_or_else(|| panic!("{conns}"));
    assert_eq!((web["backlog"].as_u64(), web["syn_queue"].as_u64()), (Some(128), Some(0)), "{web}");
    assert!(listeners.iter().any(|l| l["local"] == "0.0.0.0:23"), "{conns}");
    let mine: Vec<&Value> = conns["conns"].as_array().unwrap().iter().filter(|c| c["local"] == "10.0.0.2:80").collect();
    assert_eq!(mine.len(), 1, "{conns}");
    assert_eq!(mine[0]["state"], "ESTABLISHED");
    assert!(mine[0]["cwnd"].as_u64().unwrap() > 0 && mine[0]["rto_ms"].as_f64().unwrap() >= 200.0, "{conns}");
    assert!(conns["now_ms"].as_f64().unwrap() > 0.0 && conns["udp"].as_array().is_some(), "{conns}");

    // A TCB by id: open an echo connection and ask for it.
    let _echo = connect(&ns, 7);
    let conns = get_json(&ns, "/api/conns");
    let echo = conns["conns"].as_array().unwrap().iter().find(|c| c["local"] == "10.0.0.2:7").unwrap().clone();
    let tcb = get_json(&ns, &format!("/api/conns/{}", echo["id"]));
    assert_eq!((tcb["local"].as_str(), tcb["rfc_state"].as_str()), (Some("10.0.0.2:7"), Some("ESTABLISHED")));
    for field in ["iss", "irs", "snd_una", "snd_nxt", "rcv_nxt", "rcv_wnd", "mss", "srtt_ms", "congestion", "sack_ok"] {
        assert!(!tcb[field].is_null(), "{field} missing: {tcb}");
    }
    assert_eq!(tcb["snd_una"], tcb["snd_nxt"], "nothing in flight: {tcb}");
    let (code, _, body) = get(&ns, &format!("/api/conns/{}/ladder.svg", echo["id"]));
    assert_eq!(code, 200);
    roxmltree::Document::parse(&body).unwrap_or_else(|e| panic!("ladder.svg: {e}"));
    assert_eq!(get(&ns, "/api/conns/99999").0, 404);

    // Keep-alive: two URLs on one connection.
    let before = get_json(&ns, "/api")["server"]["accepted"].as_u64().unwrap();
    let (_, stderr) =
        curl(&ns, &["-v", "-o", "/dev/null", "-o", "/dev/null", &format!("{WEB}/api"), &format!("{WEB}/")]);
    assert!(stderr.contains("Re-using existing connection"), "{stderr}");
    let after = get_json(&ns, "/api")["server"]["accepted"].as_u64().unwrap();
    assert_eq!(after - before, 2, "the two-URL curl was one connection (the other is this GET)");

    assert_eq!(get(&ns, "/nope").0, 404);
    assert_eq!(get(&ns, "/../etc/passwd").0, 404);
    assert_eq!(get(&ns, "/api/conns/1/../../../etc/passwd").0, 404);
    // Read-only without --web-control.
    let (code, v) = post(&ns, "/api/step/on", "");
    assert_eq!(code, 403, "{v}");
    assert_eq!(get_json(&ns, "/api/step")["control"], false);
    assert_alive(&ns, &s, "after the API");
}

#[test]
fn the_event_stream_reports_a_new_connection_within_a_second() {
    if !interop_allowed("the_event_stream_reports_a_new_connection_within_a_second") {
        return;
    }
    let (ns, _s) = web_ns(&[]);
    let events = Synack::spawn_command(ns.command("curl", &["-sN", "-m", "30", &format!("{WEB}/api/events")]));
    events.wait_for(0, T, |l| l == "event: conns").unwrap_or_else(|| panic!("no first event:\n{}", events.output()));
    let from = events.lines().len();
    // The handshake completes when connect returns.
    let echo = connect(&ns, 7);
    let handshake = Instant::now();
    let me = echo.local_addr().unwrap().to_string();
    let needle = format!("\"remote\":\"{me}\"");
    let at = events.wait_for(from, Duration::from_secs(5), |l| l.starts_with("data: ") && l.contains(&needle));
    let took = handshake.elapsed();
    let at = at.unwrap_or_else(|| panic!("no event names {me}:\n{}", events.output()));
    println!("event stream: the connection from {me} reported {took:?} after its handshake");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(events.lines()[at - 1], "event: conns");
    let data = events.lines()[at].strip_prefix("data: ").unwrap().to_string();
    let v: Value = serde_json::from_str(&data).unwrap();
    assert!(v["conns"].as_array().unwrap().iter().any(|c| c["remote"] == me.as_str() && c["state"] == "ESTABLISHED"));
    // It goes: the stream says so too.
    drop(echo);
    let from = events.lines().len();
    let live = |l: &str| -> Option<bool> {
        let v: Value = serde_json::from_str(l.strip_prefix("data: ")?).ok()?;
        Some(v["conns"].as_array()?.iter().any(|c| c["remote"] == me.as_str()))
    };
    let gone = events.wait_for(from, Duration::from_secs(5), |l| live(l) == Some(false));
    assert!(gone.is_some(), "the closed connection stays in the stream:\n{}", events.output());
    // Its history stays: the plots of a finished connection can be drawn.
    let data = events.lines()[gone.unwrap()].strip_prefix("data: ").unwrap().to_string();
    let v: Value = serde_json::from_str(&data).unwrap();
    assert!(v["history"].as_array().unwrap().iter().any(|h| h["remote"] == me.as_str()), "{v}");
}

#[test]
fn step_mode_from_the_page() {
    if !interop_allowed("step_mode_from_the_page") {
        return;
    }
    require_tool("nc");
    let (ns, s) = web_ns(&["--web-control"]);
    let events = Synack::spawn_command(ns.command("curl", &["-sN", "-m", "60", &format!("{WEB}/api/events")]));
    events.wait_for(0, T, |l| l == "event: conns").unwrap_or_else(|| panic!("no first event:\n{}", events.output()));
    let (code, v) = post(&ns, "/api/step/next", "");
    assert_eq!(code, 409, "nothing to step yet: {v}");
    // Another site's page (its Origin) may not drive it; this one's may.
    let evil = ["-H", "Origin: http://evil.example", "-X", "POST", "-o", "/dev/null", "-w", "%{http_code}"];
    let (code, _) = curl(&ns, &[&evil[..], &[&format!("{WEB}/api/step/on")]].concat());
    assert_eq!(code, "403");
    assert_eq!(get_json(&ns, "/api/step")["active"], false);
    let (code, v) = post(&ns, "/api/step/on", "");
    assert_eq!(code, 200, "{v}");
    assert!(v["text"].as_str().unwrap().starts_with("step mode on"), "{v}");
    let (code, v) = post(&ns, "/api/step/break", "port 7");
    assert_eq!((code, v["text"].as_str()), (200, Some("breakpoint 1: port 7\n")), "{v}");
    assert_eq!(post(&ns, "/api/step/break", "bogus").0, 400);

    let mut nc = Synack::spawn_command(ns.command("sh", &["-c", "printf 'hello\\n' | timeout 30 nc -N 10.0.0.2 7"]));
    // The SYN waits: /api/step shows it (the page's own requests pass).
    let deadline = Instant::now() + T;
    let step = loop {
        let st = get_json(&ns, "/api/step");
        if st["pending"] == true {
            break st;
        }
        assert!(Instant::now() < deadline, "no segment waits: {st}\n{}", s.output());
        std::thread::sleep(Duration::from_millis(100));
    };
    let view = step["view"].as_str().unwrap();
    assert!(view.starts_with("breakpoint 1 (port 7)\nstep 1  < IP 10.0.0.1."), "{view}");
    assert!(view.contains("> 10.0.0.2.7: Flags [S],") && view.contains("before: state LISTEN"), "{view}");
    assert_eq!((step["controller"].as_str(), step["active"].as_bool()), (Some("web"), Some(true)), "{step}");
    assert_eq!(step["breakpoints"][0], "port 7");
    assert!(nc.lines().is_empty(), "the echo came through a paused stack");
    // ... and the event stream sent it.
    let sent = events.wait_for(0, T, |l| l == "event: step");
    assert!(sent.is_some(), "no event: step\n{}", events.output());

    // next: the SYN is processed; its SYN-ACK is the next step.
    let (code, v) = post(&ns, "/api/step/next", "");
    assert_eq!(code, 200, "{v}");
    let deadline = Instant::now() + T;
    let step = loop {
        let st = get_json(&ns, "/api/step");
        if st["view"].as_str().unwrap().contains("step 2  > IP 10.0.0.2.7 > 10.0.0.1.") {
            break st;
        }
        assert!(Instant::now() < deadline, "no second step: {st}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = step["log"].as_str().unwrap();
    assert!(log.contains("after:  *state LISTEN->SYN_RECEIVED"), "{log}");
    assert!(step["view"].as_str().unwrap().contains("Flags [S.]"), "{step}");

    // clear the breakpoint, continue: nc gets its echo.
    assert_eq!(post(&ns, "/api/step/break/clear", "").0, 200);
    let (code, _) = post(&ns, "/api/step/continue", "");
    assert_eq!(code, 200);
    assert!(nc.wait_for(0, T, |l| l == "hello").is_some(), "no echo:\n{}\n{}", nc.output(), s.output());
    let (status, killed) = nc.wait_exit(T);
    assert!(status.is_some_and(|st| st.success()) && !killed, "nc: {status:?}");
    let (code, v) = post(&ns, "/api/step/off", "");
    assert_eq!(code, 200, "{v}");
    assert_eq!(get_json(&ns, "/api/step")["active"], false);
}

#[test]
fn history_csv_and_plots_of_a_transfer() {
    if !interop_allowed("history_csv_and_plots_of_a_transfer") {
        return;
    }
    require_tool("nc");
    let (ns, _s) = web_ns(&[]);
    // 1 MB from the host's TCP to synack's discard service.
    let out = ns.exec("sh", &["-c", "head -c 1000000 /dev/zero | timeout 20 nc -N 10.0.0.2 9"], T);
    assert!(out.success(), "{}", out.text());
    let conns = get_json(&ns, "/api/conns");
    let h = conns["history"].as_array().unwrap().iter().find(|c| c["local"] == "10.0.0.2:9").cloned();
    let h = h.unwrap_or_else(|| panic!("no history of the transfer: {conns}"));
    let id = h["id"].as_u64().unwrap();
    assert!(h["points"].as_u64().unwrap() > 10, "{h}");
    let tcb = get_json(&ns, &format!("/api/conns/{id}"));
    assert_eq!(tcb["history_points"], h["points"], "{tcb}");

    // The samples: JSON, every one after since_ms, CSV with as many rows.
    let hist = get_json(&ns, &format!("/api/conns/{id}/history"));
    let points = hist["points"].as_array().unwrap();
    assert_eq!(points.len() as u64, h["points"].as_u64().unwrap());
    assert!(points.iter().any(|p| p["kind"] == "rx"), "{hist}");
    let rcv_nxt = points.iter().filter_map(|p| p["rcv_nxt"].as_i64()).max().unwrap();
    assert!(rcv_nxt > 1_000_000, "the megabyte (and the FIN) came in: rcv_nxt {rcv_nxt}");
    let mid = points[points.len() / 2]["t_ms"].as_f64().unwrap();
    let later = get_json(&ns, &format!("/api/conns/{id}/history?since_ms={mid}"));
    let later = later["points"].as_array().unwrap();
    assert!(!later.is_empty() && later.len() < points.len(), "{} of {}", later.len(), points.len());
    assert!(later.iter().all(|p| p["t_ms"].as_f64().unwrap() >= mid));
    assert_eq!(get(&ns, &format!("/api/conns/{id}/history?since_ms=soon")).0, 400);
    let (code, ctype, csv) = get(&ns, &format!("/api/conns/{id}/history.csv"));
    assert_eq!((code, ctype.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(csv.starts_with("t_ms,kind,"), "{}", &csv[..csv.len().min(200)]);
    assert_eq!(csv.lines().count(), points.len() + 1, "a header and a row per point");

    // The plots and the ladder: SVG documents.
    for name in ["tseq", "cwnd", "rtt", "buffers", "bogus"] {
        let (code, ctype, body) = get(&ns, &format!("/api/conns/{id}/plot/{name}.svg"));
        if name == "bogus" {
            assert_eq!(code, 404);
            continue;
        }
        assert_eq!((code, ctype.as_str()), (200, "image/svg+xml"), "{name}");
        let doc = roxmltree::Document::parse(&body).unwrap_or_else(|e| panic!("{name}.svg: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        println!("{name}.svg: {} bytes", body.len());
    }
    let (code, _, body) = get(&ns, &format!("/api/conns/{id}/ladder.svg"));
    assert_eq!(code, 200);
    let doc = roxmltree::Document::parse(&body).unwrap_or_else(|e| panic!("ladder.svg: {e}"));
    assert!(doc.descendants().filter(|n| n.has_tag_name("line")).count() > 3, "arrows in the ladder");
    assert_eq!(get(&ns, "/api/conns/999/history").0, 404);
}

/// What a hostile request should get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// These statuses, in order, then the connection closed.
    Status(&'static [u16]),
    /// Closed without an answer.
    Closed,
}

#[test]
fn malformed_and_hostile_requests() {
    if !interop_allowed("malformed_and_hostile_requests") {
        return;
    }
    require_tool("telnet");
    let (ns, s) = web_ns(&[]);
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(10_000));
    let big_header = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n", "b".repeat(9_000));
    let many_headers =
        format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", (0..100).map(|i| format!("X-{i}: y\r\n")).collect::<String>());
    // (what, bytes, half-close after sending, expected)
    let table: Vec<(&str, Vec<u8>, bool, Want)> = vec![
        ("unknown method", b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), false, Want::Status(&[405])),
        ("method not a token", b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), false, Want::Status(&[400])),
        ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n".to_vec(), false, Want::Status(&[505])),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), false, Want::Status(&[505])),
        ("not HTTP", b"GET / FTP/1.1\r\nHost: a\r\n\r\n".to_vec(), false, Want::Status(&[400])),
        ("1.1 without Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), false, Want::Status(&[400])),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), false, Want::Status(&[400])),
        ("header without colon", b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n".to_vec(), false, Want::Status(&[400])),
        ("request line of 10 kB", long_target.into_bytes(), false, Want::Status(&[414])),
        ("headers of 9 kB", big_header.into_bytes(), false, Want::Status(&[431])),
        ("100 headers", many_headers.into_bytes(), false, Want::Status(&[431])),
        (
            "Content-Length of 20 digits",
            b"POST /api/step/on HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n".to_vec(),
            false,
            Want::Status(&[400]),
        ),
        (
            "Content-Length 1 MB",
            b"POST /api/step/on HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nxxxx".to_vec(),
            false,
            Want::Status(&[413]),
        ),
        ("negative Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n".to_vec(), false, Want::Status(&[400])),
        ("Content-Length not a number", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ten\r\n\r\n".to_vec(), false, Want::Status(&[400])),
        (
            "two Content-Lengths",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            false,
            Want::Status(&[400]),
        ),
        (
            "chunked body",
            b"POST /api/step/break HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nport\r\n0\r\n\r\n".to_vec(),
            false,
            Want::Status(&[501]),
        ),
        ("NUL in the path", b"GET /\0etc HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), false, Want::Status(&[400])),
        ("NUL in a header", b"GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n".to_vec(), false, Want::Status(&[400])),
        ("non-ASCII path", "GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n".as_bytes().to_vec(), false, Want::Status(&[400])),
        (
            "path traversal",
            b"GET /../etc/passwd HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".to_vec(),
            false,
            Want::Status(&[404]),
        ),
        (
            "absolute-form URI",
            b"GET http://10.0.0.2/api/iface HTTP/1.1\r\nHost: 10.0.0.2\r\nConnection: close\r\n\r\n".to_vec(),
            false,
            Want::Status(&[200]),
        ),
        ("asterisk-form with GET", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), false, Want::Status(&[400])),
        ("a TLS ClientHello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03".to_vec(), false, Want::Status(&[400])),
        ("POST to a read-only route", b"POST /api/iface HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(), false, Want::Status(&[405])),
        (
            "pipelined, the last with close",
            b"GET /api HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\nGET /api/iface HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".to_vec(),
            false,
            Want::Status(&[200, 200, 404, 200]),
        ),
        ("HTTP/1.0, closes", b"GET /style.css HTTP/1.0\r\n\r\n".to_vec(), false, Want::Status(&[200])),
        ("complete request, then half-closed", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), true, Want::Status(&[200])),
        ("half-closed mid-request", b"GET / HTTP/1.1\r\nHost: a\r\nAcc".to_vec(), true, Want::Closed),
        ("no final CRLF, then closed", b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec(), true, Want::Closed),
    ];
    assert!(table.len() >= 20);
    for (what, bytes, half_close, want) in &table {
        let mut c = connect(&ns, 80);
        let start = Instant::now();
        c.write_all(bytes).unwrap_or_else(|e| panic!("{what}: write: {e}"));
        if *half_close {
            c.shutdown(Shutdown::Write).unwrap();
        }
        let (got, end) = read_to_end(&mut c, Duration::from_secs(10));
        let took = start.elapsed();
        let codes = statuses(&got);
        println!("{what:<36} -> {codes:?} then {end} ({took:.0?})");
        assert_ne!(end, "timeout", "{what}: the connection stayed open: {:?}", String::from_utf8_lossy(&got));
        match want {
            Want::Status(w) => assert_eq!(&codes, w, "{what}: {:?}", String::from_utf8_lossy(&got)),
            Want::Closed => assert!(got.is_empty(), "{what}: {:?}", String::from_utf8_lossy(&got)),
        }
        assert!(took < Duration::from_secs(3), "{what}: took {took:?}");
    }

    // Slowloris: a byte every 300 ms never makes a whole request; 408 at
    // the request timeout (5 s from the first byte), then closed.
    let mut c = connect(&ns, 80);
    let start = Instant::now();
    let mut answer = Vec::new();
    c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    for b in
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter().cycle()
    {
        if c.write_all(&[*b]).is_err() || start.elapsed() > Duration::from_secs(12) {
            break;
        }
        let mut buf = [0u8; 1024];
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let (rest, _) = read_to_end(&mut c, Duration::from_secs(3));
    answer.extend_from_slice(&rest);
    let took = start.elapsed();
    println!("slowloris: {:?} after {took:.1?}", statuses(&answer));
    assert_eq!(statuses(&answer), [408], "{:?}", String::from_utf8_lossy(&answer));
    assert!(took > Duration::from_millis(4500) && took < Duration::from_secs(8), "{took:?}");
    drop(c);
    // Every connection of the table and the slowloris closed: none is open
    // but the one asking.
    let deadline = Instant::now() + T;
    while get_json(&ns, "/api")["server"]["open"] != 1 {
        assert!(Instant::now() < deadline, "{}", get_json(&ns, "/api"));
        std::thread::sleep(Duration::from_millis(100));
    }

    // 1,000 idle connections from one client: 16 served (they wait for a
    // request), the rest answered 503 and closed.
    let to: SocketAddr = "10.0.0.2:80".parse().unwrap();
    let conns: Vec<TcpStream> = ns
        .run_in(move || (0..1000).map(|_| TcpStream::connect_timeout(&to, Duration::from_secs(10))).collect())
        .unwrap_or_else(|e: io::Error| panic!("1000 connects: {e}"));
    let start = Instant::now();
    let (mut idle, mut refused, mut closed) = (Vec::new(), 0, 0);
    for mut c in conns {
        c.set_read_timeout(Some(Duration::from_millis(if idle.len() < 16 { 300 } else { 50 }))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let end = loop {
            match c.read(&mut buf) {
                Ok(0) => break "eof",
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => break "open",
                Err(_) => break "reset",
            }
        };
        match (end, statuses(&got).as_slice()) {
            ("open", []) => idle.push(c),
            (_, [503]) => refused += 1,
            (_, []) => closed += 1,
            other => panic!("an idle connection got {other:?}: {:?}", String::from_utf8_lossy(&got)),
        }
    }
    println!(
        "1000 idle connections: {} served, {refused} refused 503, {closed} closed ({:.1?})",
        idle.len(),
        start.elapsed()
    );
    assert_eq!(idle.len(), 16);
    assert_eq!(refused + closed, 984);
    assert!(refused >= 900, "{refused}");
    // One more from this client: a 503 it can read, not a reset.
    for _ in 0..5 {
        let (code, _, body) = get(&ns, "/");
        assert_eq!(code, 503, "{body}");
    }
    // synack stays responsive meanwhile: ping, telnet, echo.
    assert_alive(&ns, &s, "with 1000 idle web connections");
    telnet_and_echo(&ns);
    // The served ones are closed at the idle limit (15 s), without a word.
    let start = Instant::now();
    for mut c in idle {
        let (got, end) = read_to_end(&mut c, Duration::from_secs(25));
        assert_eq!((end, got.len()), ("eof", 0), "{:?}", String::from_utf8_lossy(&got));
    }
    println!("the 16 idle connections closed {:.1?} later", start.elapsed());

    // Afterwards: the page, telnet, echo.
    assert_eq!(get(&ns, "/").0, 200);
    telnet_and_echo(&ns);
    let api = get_json(&ns, "/api");
    println!("server stats: {}", api["server"]);
    assert_eq!(api["server"]["open"], 1, "only this request's connection: {api}");
    assert_alive(&ns, &s, "after the hostile requests");
}

/// Telnet's banner on port 23, and a line through echo on port 7.
fn telnet_and_echo(ns: &Netns) {
    let mut t = connect(ns, 23);
    let mut seen = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("synack> ") {
        assert!(start.elapsed() < T, "no telnet prompt: {:?}", String::from_utf8_lossy(&seen));
        match t.read(&mut buf) {
            Ok(0) => panic!("telnet closed: {:?}", String::from_utf8_lossy(&seen)),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("telnet: {e}"),
        }
    }
    let mut e = connect(ns, 7);
    e.write_all(b"still here\n").unwrap();
    let mut got = [0u8; 11];
    e.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"still here\n");
}
