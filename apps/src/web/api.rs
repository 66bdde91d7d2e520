//! The routes of `synack up --web` (docs/web.md lists them with their
//! fields): the page's files, and the JSON API a student can `curl` into a
//! notebook — the interface, the ARP and route tables, the sockets as `ss`
//! shows them, one connection's TCB, the ladder of a connection, and step
//! mode (read-only unless `--web-control`).
//!
//! Read first: apps/src/netstat.rs (the columns of `ss` and `netstat`,
//! which `/api/conns` carries as fields), stack/src/tcp/mod.rs `TcpInfo`
//! (Linux's `struct tcp_info`, what `ss -ti` reads with `INET_DIAG_INFO`),
//! and apps/src/step/ (the step controller the POSTs drive).

use super::http::{Method, Request, Response, Status, JSON};
use super::WebState;
use crate::plot::{render_svg, ConnHistory, PlotKind};
use crate::step::Who;
use serde_json::{json, Value};
use stack::tcp::{TcpInfo, TcpState};
use stack::{Duration, Instant, Stack};

/// The page's files, built into the binary (no CDN, no file system).
const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// Segments of one connection drawn in its ladder at most: the first and
/// the last half of that (a long transfer's ladder would be megabytes).
pub const MAX_LADDER_SEGMENTS: usize = 400;

/// What a request gets: a response, or (GET /api/events) an event stream
/// the server keeps open.
#[derive(Debug)]
pub enum Reply {
    Page(Response),
    Events,
}

/// Every route, for `/api` (an index a student reads first).
const ROUTES: &[(&str, &str)] = &[
    ("GET /", "the page (index.html, /app.js, /style.css)"),
    ("GET /api", "this list"),
    ("GET /api/iface", "the interface, as ifconfig shows it, with the stack's counters"),
    ("GET /api/arp", "the neighbour (ARP) cache, as arp -n"),
    ("GET /api/routes", "the routing table, as ip route"),
    ("GET /api/conns", "TCP connections, listeners and UDP sockets, as ss"),
    ("GET /api/conns/{id}", "one connection's TCB (every tcp_info field)"),
    ("GET /api/conns/{id}/history", "its tcp_probe samples as JSON (?since_ms=T: from T on)"),
    ("GET /api/conns/{id}/history.csv", "the same as CSV"),
    ("GET /api/conns/{id}/plot/{tseq|cwnd|rtt|buffers}.svg", "its plots"),
    ("GET /api/conns/{id}/ladder.svg", "its ladder diagram so far"),
    ("GET /api/events", "Server-Sent Events: conns (on change, >= 250 ms apart, and every 5 s), step"),
    ("GET /api/step", "step mode: active, the segment waiting, the view, breakpoints"),
    ("POST /api/step/on|off|next|continue", "drive step mode (--web-control)"),
    ("POST /api/step/break", "add a breakpoint, the body a filter as after `b` (--web-control)"),
    ("POST /api/step/break/clear", "clear the breakpoints (--web-control)"),
];

/// Answer one request. GET and HEAD read; POST only drives step mode.
pub fn handle(req: &Request, stack: &mut Stack, now: Instant, web: &mut WebState) -> Reply {
    let path = req.path.as_str();
    if path == "/api/events" {
        return match req.method {
            Method::Get => Reply::Events,
            _ => Reply::Page(Response::error(Status::METHOD_NOT_ALLOWED, "an event stream: GET it")),
        };
    }
    if let Some(cmd) = path.strip_prefix("/api/step/") {
        if req.method != Method::Post {
            return Reply::Page(Response::error(Status::METHOD_NOT_ALLOWED, "step commands are POSTs"));
        }
        // A browser sends Origin with a POST: one from another site's page
        // (cross-site request forgery) does not drive step mode.
        if let Some(origin) = &req.origin {
            if req.host.as_ref().map(|h| format!("http://{h}")).as_ref() != Some(origin) {
                return Reply::Page(Response::error(Status::FORBIDDEN, "a POST from another site's page"));
            }
        }
        return Reply::Page(step_command(cmd, &req.body, stack, web));
    }
    if req.method == Method::Post {
        return Reply::Page(match route_exists(path) {
            true => Response::error(Status::METHOD_NOT_ALLOWED, "this route is read-only: GET it"),
            false => Response::error(Status::NOT_FOUND, "no such route"),
        });
    }
    web.drain_probes(stack);
    Reply::Page(get(req, stack, now, web))
}

fn route_exists(path: &str) -> bool {
    matches!(path, "/" | "/index.html" | "/app.js" | "/style.css" | "/api" | "/api/events" | "/api/step")
        || path.starts_with("/api/")
}

fn get(req: &Request, stack: &Stack, now: Instant, web: &WebState) -> Response {
    let path = req.path.as_str();
    match path {
        "/" | "/index.html" => Response::ok("text/html; charset=utf-8", INDEX_HTML),
        "/app.js" => Response::ok("text/javascript; charset=utf-8", APP_JS),
        "/style.css" => Response::ok("text/css; charset=utf-8", STYLE_CSS),
        "/api" => {
            let routes: Vec<Value> = ROUTES.iter().map(|(r, what)| json!({ "route": r, "what": what })).collect();
            let s = web.stats;
            let stats = json!({
                "accepted": s.accepted, "refused": s.refused, "requests": s.requests,
                "errors": s.errors, "timeouts": s.timeouts, "open": web.open,
            });
            Response::json(Status::OK, &json!({ "routes": routes, "server": stats }))
        }
        "/api/iface" => Response::json(Status::OK, &iface(stack, &web.ifname)),
        "/api/arp" => Response::json(Status::OK, &arp(stack, now)),
        "/api/routes" => Response::json(Status::OK, &routes(stack, &web.ifname)),
        "/api/conns" => Response::json(Status::OK, &conns(stack, now, web)),
        "/api/step" => Response::json(Status::OK, &step(web)),
        _ => match path.strip_prefix("/api/conns/") {
            Some(rest) => conn_route(rest, req.query_param("since_ms"), stack, now, web),
            None => Response::error(Status::NOT_FOUND, "no such route"),
        },
    }
}

/// `/api/conns/{id}…`: one connection by its id (the history's: live or
/// not, as long as the history keeps it).
fn conn_route(rest: &str, since_ms: Option<&str>, stack: &Stack, now: Instant, web: &WebState) -> Response {
    let (id, what) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(h) = id.parse::<u64>().ok().and_then(|id| web.history.get(id)) else {
        return Response::error(Status::NOT_FOUND, "no connection with this id (the ids are /api/conns's)");
    };
    let infos = stack.tcp_info(now);
    let live = infos.iter().find(|i| i.local == h.local && i.remote == h.remote && i.iss == h.iss);
    let plot = what.strip_prefix("plot/").and_then(|f| f.strip_suffix(".svg")).map(PlotKind::parse);
    match (what, plot) {
        ("", _) => Response::json(Status::OK, &tcb(live, h)),
        ("history", _) => match since_ms.map(parse_ms) {
            None => Response::ok(JSON, h.to_json(None)),
            Some(Some(since)) => Response::ok(JSON, h.to_json(Some(since))),
            Some(None) => Response::error(Status::BAD_REQUEST, "since_ms is milliseconds, like 1500.25"),
        },
        ("history.csv", _) => Response::ok("text/csv; charset=utf-8", h.to_csv()),
        (_, Some(Some(kind))) => Response::ok("image/svg+xml", render_svg(kind, h)),
        ("ladder.svg", _) => match &web.ladder {
            Some(rec) => Response::ok("image/svg+xml", ladder_svg(rec, h)),
            None => Response::error(Status::NOT_FOUND, "no ladder recorder on this run"),
        },
        _ => Response::error(Status::NOT_FOUND, "no such route"),
    }
}

/// `since_ms=1500.25`: an instant on the stack's clock (the API's `_ms`).
fn parse_ms(v: &str) -> Option<Instant> {
    let ms: f64 = v.parse().ok().filter(|m: &f64| m.is_finite() && *m >= 0.0 && *m < 1e12)?;
    Some(Instant::from_micros((ms * 1000.0) as u64))
}

/// The history id of a live connection: its 4-tuple's newest incarnation,
/// if that is this one (same ISS).
fn history_id(web: &WebState, i: &TcpInfo) -> Option<u64> {
    let id = web.history.id_of(i.local, i.remote)?;
    web.history.get(id).filter(|h| h.iss == i.iss).map(|h| h.id)
}

// ------------------------------------------------------------ the tables

/// `/api/iface`: ifconfig's fields and every non-zero counter and drop.
pub fn iface(stack: &Stack, ifname: &str) -> Value {
    let i = stack.iface();
    let mut stats = serde_json::Map::new();
    for (c, n) in stack.stats().nonzero_counters() {
        stats.insert(c.name().to_string(), json!(n));
    }
    let mut drops = serde_json::Map::new();
    for (r, n) in stack.stats().nonzero_drops() {
        drops.insert(r.name().to_string(), json!(n));
    }
    json!({
        "name": ifname,
        "addr": i.addr.to_string(),
        "prefix_len": i.prefix_len,
        "broadcast": i.broadcast.to_string(),
        "mac": i.mac.to_string(),
        "mtu": i.mtu,
        "gateway": stack.config().gateway.map(|g| g.to_string()),
        "stats": stats,
        "drops": drops,
    })
}

/// `/api/arp`: as `arp -n`.
pub fn arp(stack: &Stack, now: Instant) -> Value {
    let mut entries = stack.arp_entries(now);
    entries.sort_by_key(|e| e.ip);
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "ip": e.ip.to_string(),
                "mac": e.mac.map(|m| m.to_string()),
                "state": e.state.name(),
                "age_ms": e.age.as_millis(),
                "queued": e.pending,
            })
        })
        .collect();
    Value::Array(rows)
}

/// `/api/routes`: as `ip route`.
pub fn routes(stack: &Stack, ifname: &str) -> Value {
    let rows: Vec<Value> = stack
        .routes()
        .iter()
        .map(|r| {
            json!({
                "dest": r.dest.to_string(),
                "prefix_len": r.prefix_len,
                "gateway": r.gateway.map(|g| g.to_string()),
                "dev": ifname,
            })
        })
        .collect();
    Value::Array(rows)
}

fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// ssthresh before the first loss is "infinite" (ss prints none): null.
fn ssthresh(i: &TcpInfo) -> Option<usize> {
    (i.ssthresh < usize::MAX / 2).then_some(i.ssthresh)
}

fn timer(i: &TcpInfo) -> Value {
    match i.timer {
        Some((name, left)) => json!({ "name": name, "left_ms": ms(left) }),
        None => Value::Null,
    }
}

/// `/api/conns`: what `ss -tan` and `ss -uan` list, with the columns of
/// `ss -ti` a table needs.
pub fn conns(stack: &Stack, now: Instant, web: &WebState) -> Value {
    let mut v = conns_without_time(stack, now, web);
    v["now_ms"] = json!(now.total_micros() as f64 / 1000.0);
    v
}

/// `/api/conns` less `now_ms`: what an event stream compares to tell a change.
pub fn conns_without_time(stack: &Stack, now: Instant, web: &WebState) -> Value {
    let infos = stack.tcp_info(now);
    let conns: Vec<Value> = infos
        .iter()
        .filter(|i| i.state != TcpState::Listen)
        .map(|i| {
            json!({
                "id": history_id(web, i),
                "state": i.state.netstat_name(),
                "local": i.local.to_string(),
                "remote": i.remote.to_string(),
                "recv_q": i.recv_q,
                "send_q": i.send_q,
                "cwnd": i.cwnd,
                "ssthresh": ssthresh(i),
                "srtt_ms": ms(i.srtt),
                "rto_ms": ms(i.rto),
                "timer": timer(i),
            })
        })
        .collect();
    let listeners: Vec<Value> = infos
        .iter()
        .filter(|i| i.state == TcpState::Listen)
        .map(|i| {
            json!({
                "local": i.local.to_string(),
                "backlog": i.backlog,
                "syn_queue": i.syn_queue,
                "accept_queue": i.accept_queue,
            })
        })
        .collect();
    let udp: Vec<Value> = stack
        .udp_info()
        .into_iter()
        .map(|(local, remote, queued)| {
            json!({ "local": local.to_string(), "remote": remote.map(|r| r.to_string()), "recv_q": queued })
        })
        .collect();
    let history: Vec<Value> = web
        .history
        .conns()
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "local": c.local.to_string(),
                "remote": c.remote.to_string(),
                "first_ms": c.first.total_micros() as f64 / 1000.0,
                "last_ms": c.last.total_micros() as f64 / 1000.0,
                "points": c.points,
            })
        })
        .collect();
    json!({ "conns": conns, "listeners": listeners, "udp": udp, "history": history })
}

/// `/api/conns/{id}`: every field of the connection's `TcpInfo`, and the
/// points its history holds; only the history's fields once it is gone.
pub fn tcb(live: Option<&TcpInfo>, h: &ConnHistory) -> Value {
    let Some(i) = live else {
        return json!({
            "id": h.id,
            "live": false,
            "local": h.local.to_string(),
            "remote": h.remote.to_string(),
            "iss": h.iss,
            "irs": h.irs,
            "history_points": h.points().len(),
        });
    };
    json!({
        "id": h.id,
        "live": true,
        "history_points": h.points().len(),
        "state": i.state.netstat_name(),
        "rfc_state": i.state.rfc_name(),
        "local": i.local.to_string(),
        "remote": i.remote.to_string(),
        "recv_q": i.recv_q,
        "send_q": i.send_q,
        "iss": i.iss,
        "irs": i.irs,
        "snd_una": i.snd_una,
        "snd_nxt": i.snd_nxt,
        "snd_wnd": i.snd_wnd,
        "rcv_nxt": i.rcv_nxt,
        "rcv_wnd": i.rcv_wnd,
        "snd_wscale": i.snd_wscale,
        "rcv_wscale": i.rcv_wscale,
        "mss": i.mss,
        "srtt_ms": ms(i.srtt),
        "rttvar_ms": ms(i.rttvar),
        "rto_ms": ms(i.rto),
        "cwnd": i.cwnd,
        "ssthresh": ssthresh(i),
        "congestion": i.congestion,
        "retransmits": i.retransmits,
        "total_retrans": i.total_retrans,
        "in_recovery": i.in_recovery,
        "ts_ok": i.ts_ok,
        "sack_ok": i.sack_ok,
        "sacked": i.sacked,
        "ofo_bytes": i.ofo_bytes,
        "timer": timer(i),
    })
}

/// The ladder of the connection `h`, as far as the recorder has it (its
/// first and last segments when long).
fn ladder_svg(rec: &crate::ladder::Recorder, h: &ConnHistory) -> String {
    let mut conns: Vec<_> = rec
        .connections()
        .into_iter()
        .filter(|c| (c.left == h.local && c.right == h.remote) || (c.left == h.remote && c.right == h.local))
        .collect();
    // This incarnation: the one whose first segment (the SYN) carries our
    // ISS or the peer's; else the newest of the 4-tuple.
    let mine = conns
        .iter()
        .rposition(|c| c.segments.first().is_some_and(|s| s.seq == if c.left == h.local { h.iss } else { h.irs }));
    let mut c = match mine.or(conns.len().checked_sub(1)) {
        Some(i) => conns.swap_remove(i),
        None => return crate::ladder::render_svg(&[]),
    };
    if c.segments.len() > MAX_LADDER_SEGMENTS {
        let half = MAX_LADDER_SEGMENTS / 2;
        let n = c.segments.len();
        c.segments.drain(half..n - half);
    }
    crate::ladder::render_svg(&[c])
}

// ------------------------------------------------------------ step mode

/// `/api/step`: where step mode is, and the view of the latest step.
pub fn step(web: &WebState) -> Value {
    let ctl = &web.step;
    let controller = match ctl.controller() {
        Some(Who::Console) => json!("console"),
        Some(Who::Telnet(_)) => json!("telnet"),
        Some(Who::Web(_)) => json!("web"),
        None => Value::Null,
    };
    let breakpoints: Vec<String> = ctl.breakpoints().iter().map(|b| b.to_string()).collect();
    json!({
        "control": web.opts.control,
        "active": ctl.active(),
        "controller": controller,
        "pending": ctl.pending(),
        "held": ctl.held(),
        "seq": web.step_seq,
        "view": web.step_view(),
        "log": web.step_log,
        "breakpoints": breakpoints,
    })
}

/// `POST /api/step/{on|off|next|continue|break|break/clear}`.
fn step_command(cmd: &str, body: &[u8], stack: &mut Stack, web: &mut WebState) -> Response {
    if !web.opts.control {
        return Response::error(Status::FORBIDDEN, "read-only: start synack up with --web-control to step from here");
    }
    let who = web.who();
    let ctl = web.step.clone();
    let line = match cmd {
        "on" => {
            let text = ctl.start(who, None, None, crate::step::Style::Plain, stack);
            return answer(web, text, ctl.active());
        }
        "off" => {
            let text = ctl.stop(stack);
            return answer(web, text, true);
        }
        "next" => "n".to_string(),
        "continue" => "c".to_string(),
        "break/clear" => "b clear".to_string(),
        "break" => match std::str::from_utf8(body) {
            Ok(f) if !f.trim().is_empty() && !f.contains(['\n', '\r']) => format!("b {}", f.trim()),
            _ => return Response::error(Status::BAD_REQUEST, "the body is one filter, e.g. port 7"),
        },
        _ => return Response::error(Status::NOT_FOUND, "no such step command"),
    };
    match ctl.intercept(who, &line) {
        Some(text) => {
            let ok = !text.starts_with("b: ");
            answer(web, text, ok)
        }
        None if !ctl.active() => Response::error(Status::CONFLICT, "step mode is off: POST /api/step/on first"),
        None if ctl.controller() != Some(who) => {
            Response::error(Status::CONFLICT, "step mode is driven from elsewhere: POST /api/step/on to take it")
        }
        None => Response::error(Status::CONFLICT, "no segment is waiting"),
    }
}

/// A step command's answer: its text (also in the step log), 200 or 400.
fn answer(web: &mut WebState, text: String, ok: bool) -> Response {
    web.push_step(&text);
    let status = if ok { Status::OK } else { Status::BAD_REQUEST };
    Response::new(status, JSON, json!({ "ok": ok, "text": text }).to_string())
}
