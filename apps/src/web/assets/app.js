// synack's live page: every table is filled from the JSON API that synack
// serves on its own TCP (docs/web.md), and kept live by the Server-Sent
// Events of /api/events (`event: conns`, `event: step`). If the stream
// breaks, the page polls /api/conns every second and tries the stream
// again now and then. Plain JavaScript, no framework, nothing fetched from
// anywhere but synack itself.
//
// The views are picked by the address's fragment (the part after #):
//   #/            the connections (like `ss -tni`), listeners, closed ones, UDP
//   #/arp  #/routes  #/stats  #/step
//   #/conn/ID     one connection: its TCB live, its ladder, its four plots
//
// Text from the server is always put in the page as text (textContent),
// never as HTML.

"use strict";

// ------------------------------------------------------------ constants

/** Polling period of /api/conns while the event stream is down. */
const POLL_MS = 1000;
/** How long to wait before trying the event stream again after it broke. */
const STREAM_RETRY_MS = 10000;
/** Refresh period of the interface, ARP, routes and counters. */
const TABLES_MS = 5000;
/** Refresh period of a connection's TCB, ladder and plots while it lives. */
const CONN_REFRESH_MS = 1000;
/** The shortest time between two drawings of a connection's ladder and plots. */
const PICTURES_MS = 950;
/** Steps of the step log shown: the one just processed, the one waiting. */
const STEPS_SHOWN = 2;
/** How long a value that changed stays marked. */
const CHANGED_MS = 2000;

// ------------------------------------------------------------- helpers

const $ = (id) => document.getElementById(id);

/** GET `url` as JSON; throws on an HTTP error (the error has `.status`). */
async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) {
    const e = new Error(`${url}: HTTP ${r.status}`);
    e.status = r.status;
    throw e;
  }
  return r.json();
}

/** POST `body` (text) to `url`; returns the response's text, throws on an HTTP error. */
async function post(url, body) {
  const r = await fetch(url, { method: "POST", body: body || "", headers: { "Content-Type": "text/plain" } });
  const text = await r.text();
  if (!r.ok) throw new Error(`${r.status}: ${text.trim() || r.statusText}`);
  return text;
}

/** 14480 → "14,480"; anything not a number as it is ("" for null). */
function num(v) {
  if (v === null || v === undefined) return "";
  return typeof v === "number" ? v.toLocaleString("en-US") : String(v);
}

/** Milliseconds as ss prints them: "4.79 ms", "200 ms". */
function ms(v) {
  if (v === null || v === undefined || v === "") return "";
  if (typeof v !== "number") return String(v);
  const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ms`;
}

/** ssthresh: "-" until a loss sets it (the API sends null), like step mode. */
function ssthresh(v) {
  return v === null || v === undefined ? "-" : num(v);
}

/** The next timer, {"name": "retransmit", "left_ms": 198.2} from the API,
 * as `netstat -o` shows it: "retransmit 198 ms"; "" for none (null). */
function timer(t) {
  if (!t) return "";
  return `${t.name} ${Math.round(t.left_ms)} ms`;
}

/** A value of the TCB as text. */
function show(v) {
  if (v === null || v === undefined) return "-";
  if (typeof v === "object") return JSON.stringify(v);
  return typeof v === "number" ? num(v) : String(v);
}

/** 24 → "255.255.255.0". */
function netmask(prefix) {
  const bits = prefix <= 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join(".");
}

/** A cell whose changes are not marked (a timer counts down all the time). */
function quiet(text) {
  return { quiet: text };
}

/** Set a cell's content; mark it when it changed (not on the first fill). */
function setCell(td, value, fresh) {
  if (value !== null && typeof value === "object" && "quiet" in value) {
    td.dataset.value = value.quiet;
    td.textContent = value.quiet;
    return;
  }
  if (value !== null && typeof value === "object" && "len" in value) {
    const key = `${value.len}/${value.max}`;
    if (td.dataset.value === key) return;
    if (!fresh && td.dataset.value !== undefined) markChanged(td);
    td.dataset.value = key;
    td.replaceChildren(bar(value.len, value.max));
    return;
  }
  const text = String(value);
  if (td.textContent === text && td.dataset.value !== undefined) return;
  if (!fresh && td.dataset.value !== undefined) markChanged(td);
  td.dataset.value = text;
  td.textContent = text;
}

/** Mark an element as just changed; `sweepChanged` unmarks it later. */
function markChanged(node) {
  node.classList.add("changed");
  node.dataset.changedAt = String(Date.now());
}

function sweepChanged() {
  const now = Date.now();
  for (const node of document.querySelectorAll(".changed")) {
    if (now - Number(node.dataset.changedAt || 0) > CHANGED_MS) node.classList.remove("changed");
  }
}

/** A queue drawn as a bar: `len` of `max`, red when full. */
function bar(len, max) {
  const div = document.createElement("div");
  div.className = "bar";
  div.dataset.len = String(len);
  div.dataset.max = String(max);
  if (max > 0 && len >= max) div.classList.add("full");
  const fill = document.createElement("div");
  fill.className = "fill";
  fill.style.width = `${max > 0 ? Math.min(100, (100 * len) / max) : 0}%`;
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = `${len} / ${max}`;
  div.append(fill, label);
  return div;
}

/**
 * Make `tbody` show `items`, one row each, keyed by `key(item)`: rows are
 * kept (so changes can be marked), added and removed. `fill(tr, item)`
 * sets the row's data- attributes and returns its cells' values: text,
 * {len, max} for a bar, or quiet(text) for a value never marked.
 */
function syncRows(tbody, items, key, fill) {
  const old = new Map([...tbody.rows].map((tr) => [tr.dataset.key, tr]));
  const rows = [];
  for (const item of items) {
    const k = key(item);
    let tr = old.get(k);
    const fresh = !tr;
    if (fresh) {
      tr = document.createElement("tr");
      tr.dataset.key = k;
    }
    old.delete(k);
    const cells = fill(tr, item);
    while (tr.cells.length < cells.length) tr.insertCell();
    cells.forEach((v, i) => setCell(tr.cells[i], v, fresh));
    rows.push(tr);
  }
  for (const tr of old.values()) tr.remove();
  rows.forEach((tr) => tbody.appendChild(tr)); // in the server's order
}

// -------------------------------------------------------------- the header

async function refreshIface() {
  try {
    const i = await getJSON("/api/iface");
    const st = i.stats || {};
    const lines = [
      `${i.name}: flags=UP,BROADCAST,RUNNING  mtu ${i.mtu}`,
      `        inet ${i.addr}  netmask ${netmask(i.prefix_len)}  gateway ${i.gateway ?? "-"}`,
      `        ether ${i.mac}`,
    ];
    if ("frames_rx" in st || "frames_tx" in st) {
      lines.push(`        RX packets ${st.frames_rx ?? "?"}  TX packets ${st.frames_tx ?? "?"}`);
    }
    $("iface").textContent = lines.join("\n");
    $("iface").dataset.addr = i.addr;
    // The counters, then the drops by reason (kfree_skb_reason's), as the prompt's `stats`.
    const drops = i.drops || {};
    const rows = [
      ...Object.keys(st).sort().map((n) => ({ key: n, name: n, n: st[n] })),
      ...Object.keys(drops).sort().map((n) => ({ key: `drop ${n}`, name: `dropped: ${n}`, n: drops[n], drop: n })),
    ];
    syncRows($("stats").tBodies[0], rows, (r) => r.key, (tr, r) => {
      if (r.drop) tr.dataset.drop = r.drop;
      else tr.dataset.counter = r.name;
      return [r.name, num(r.n)];
    });
  } catch (e) {
    $("iface").textContent = `cannot read /api/iface: ${e.message}`;
  }
}

async function refreshArpRoutes() {
  try {
    const arp = await getJSON("/api/arp");
    syncRows($("arp").tBodies[0], arp, (a) => a.ip, (tr, a) => {
      tr.dataset.ip = a.ip;
      return [a.ip, a.mac ?? "(incomplete)", a.state];
    });
    const routes = await getJSON("/api/routes");
    syncRows($("routes").tBodies[0], routes, (r) => `${r.dest}/${r.prefix_len}`, (tr, r) => {
      tr.dataset.dest = `${r.dest}/${r.prefix_len}`;
      const dest = r.prefix_len === 0 ? "default" : `${r.dest}/${r.prefix_len}`;
      return [dest, r.gateway ?? "-", r.dev ?? ""];
    });
  } catch (e) {
    console.warn(e);
  }
}

// ------------------------------------------------------- the connections

/** The last /api/conns seen, from the stream or a poll. */
let lastConns = null;

function renderConns(data) {
  lastConns = data;
  const conns = data.conns || [];
  syncRows($("conns").tBodies[0], conns, (c) => `${c.id ?? ""} ${c.local} ${c.remote}`, (tr, c) => {
    tr.dataset.local = c.local;
    tr.dataset.remote = c.remote;
    tr.dataset.state = c.state;
    tr.dataset.id = c.id ?? "";
    tr.classList.toggle("link", c.id !== null && c.id !== undefined);
    tr.title = tr.dataset.id ? `open connection ${c.id}` : "no history for this one";
    return [
      c.state,
      num(c.recv_q),
      num(c.send_q),
      c.local,
      c.remote,
      num(c.cwnd),
      ssthresh(c.ssthresh),
      ms(c.srtt_ms),
      ms(c.rto_ms),
      quiet(timer(c.timer)),
    ];
  });
  $("conns-empty").hidden = conns.length > 0;
  // Connections the history keeps that the stack no longer has.
  const live = new Set(conns.map((c) => String(c.id)));
  const closed = (data.history || []).filter((h) => !live.has(String(h.id))).reverse();
  syncRows($("history").tBodies[0], closed, (h) => String(h.id), (tr, h) => {
    tr.dataset.id = String(h.id);
    tr.dataset.local = h.local;
    tr.dataset.remote = h.remote;
    tr.classList.add("link");
    const s = (v) => (typeof v === "number" ? `${(v / 1000).toFixed(1)} s` : "");
    return [String(h.id), h.local, h.remote, quiet(s(h.first_ms)), quiet(s(h.last_ms)), num(h.points)];
  });
  $("history-empty").hidden = closed.length > 0;
  $("history").hidden = closed.length === 0;
  syncRows($("listeners").tBodies[0], data.listeners || [], (l) => l.local, (tr, l) => {
    tr.dataset.local = l.local;
    tr.dataset.synQueue = String(l.syn_queue);
    tr.dataset.acceptQueue = String(l.accept_queue);
    return [l.local, { len: l.syn_queue, max: l.backlog }, { len: l.accept_queue, max: l.backlog }, num(l.backlog)];
  });
  syncRows($("udp").tBodies[0], data.udp || [], (u) => `${u.local} ${u.remote ?? ""}`, (tr, u) => {
    tr.dataset.local = u.local;
    return [u.local, u.remote ?? "*", num(u.recv_q)];
  });
  connEvent();
}

for (const table of ["conns", "history"]) {
  $(table).tBodies[0].addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr");
    if (tr && tr.dataset.id) location.hash = `#/conn/${tr.dataset.id}`;
  });
}

// ------------------------------------------- the stream, and the fallback

const live = { source: null, pollTimer: null, retryTimer: null, events: 0 };

/** Show how the page is kept up to date: stream, poll or offline. */
function setLive(mode, text) {
  const el = $("live");
  el.dataset.mode = mode;
  el.textContent = text;
}

async function pollConns() {
  try {
    renderConns(await getJSON("/api/conns"));
    if (!live.source) setLive("poll", "polling every second");
  } catch (e) {
    setLive("offline", `synack does not answer (${e.message})`);
  }
}

function startPolling() {
  if (live.pollTimer === null) live.pollTimer = setInterval(pollConns, POLL_MS);
}

function stopPolling() {
  if (live.pollTimer !== null) clearInterval(live.pollTimer);
  live.pollTimer = null;
}

function startStream() {
  live.retryTimer = null;
  if (!window.EventSource) {
    startPolling();
    return;
  }
  const es = new EventSource("/api/events");
  live.source = es;
  es.addEventListener("open", () => {
    stopPolling();
    setLive("stream", "live");
  });
  es.addEventListener("conns", (e) => {
    live.events += 1;
    $("live").dataset.events = String(live.events);
    try {
      renderConns(JSON.parse(e.data));
    } catch (err) {
      console.warn("bad conns event", err);
    }
  });
  // The event carries the latest step; /api/step has the one before too.
  es.addEventListener("step", () => refreshStep());
  es.addEventListener("error", () => {
    // The stream broke (or never opened): poll, and try it again later.
    es.close();
    live.source = null;
    setLive("poll", "stream lost: polling every second");
    startPolling();
    if (live.retryTimer === null) live.retryTimer = setTimeout(startStream, STREAM_RETRY_MS);
  });
}

// ------------------------------------------------------- one connection

// The open connection: its id, refresh timer, last TCB, and the number of
// history points its pictures were last drawn from.
const conn = {
  id: null,
  timer: null,
  tcb: null,
  points: null,
  gone: false,
  lastRefresh: 0,
  lastPictures: 0,
  finalDone: false,
};

/** The conns entry of connection `id`, if the stack still has it. */
function connEntry(id) {
  return (lastConns?.conns || []).find((c) => String(c.id) === String(id));
}

function openConn(id) {
  if (conn.id !== id) {
    conn.id = id;
    conn.tcb = null;
    conn.points = null;
    conn.gone = false;
    conn.finalDone = false;
    conn.lastPictures = 0;
    $("tcb").tBodies[0].replaceChildren();
    for (const img of document.querySelectorAll("#view-conn img")) {
      img.removeAttribute("src");
      delete img.dataset.loaded;
      delete img.dataset.want;
      img.dataset.loading = "0";
    }
  }
  const base = `/api/conns/${encodeURIComponent(id)}`;
  $("view-conn").dataset.id = id;
  $("conn-json").href = base;
  $("conn-history").href = `${base}/history`;
  $("conn-csv").href = `${base}/history.csv`;
  for (const fig of document.querySelectorAll("#plots figure")) {
    const name = fig.dataset.plot;
    let a = fig.querySelector("a.csv");
    if (!a) {
      a = document.createElement("a");
      a.className = "csv";
      a.textContent = "CSV";
      fig.querySelector("figcaption").append(" — ", a);
    }
    a.href = `${base}/history.csv`;
    const svg = fig.querySelector("a.svg") || document.createElement("a");
    svg.className = "svg";
    svg.textContent = "SVG";
    svg.href = `${base}/plot/${name}.svg`;
    if (!svg.parentNode) fig.querySelector("figcaption").append(" ", svg);
  }
  if (conn.timer === null) conn.timer = setInterval(refreshConn, CONN_REFRESH_MS);
  refreshConn();
}

function closeConn() {
  if (conn.timer !== null) clearInterval(conn.timer);
  conn.timer = null;
  conn.id = null;
}

/** A conns event: refresh the open connection now (at most twice a second). */
function connEvent() {
  if (conn.id !== null && Date.now() - conn.lastRefresh > CONN_REFRESH_MS / 2) refreshConn();
}

/** Load `src` into `img` without a blank in between: the new picture
 * replaces the old one once it has loaded. */
function reloadImage(img, src) {
  if (img.dataset.loading === "1") return;
  img.dataset.loading = "1";
  img.dataset.want = src;
  const next = new Image();
  next.onload = () => {
    if (img.dataset.want !== src) return; // another connection was opened meanwhile
    const box = img.parentElement;
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
    img.src = next.src;
    img.dataset.loaded = String(Number(img.dataset.loaded || 0) + 1);
    img.dataset.loading = "0";
    img.classList.remove("broken");
    if (atBottom) box.scrollTop = box.scrollHeight; // a growing ladder stays in view
  };
  next.onerror = () => {
    if (img.dataset.want !== src) return;
    img.dataset.loading = "0";
    img.classList.add("broken");
  };
  next.src = src;
}

async function refreshConn() {
  const id = conn.id;
  if (id === null) return;
  const entry = connEntry(id);
  // A connection the stack no longer has is drawn once more, then left alone.
  if (!entry && conn.finalDone) return;
  conn.lastRefresh = Date.now();
  const base = `/api/conns/${encodeURIComponent(id)}`;
  let points = null;
  try {
    const tcb = await getJSON(base);
    if (conn.id !== id) return;
    renderTcb(tcb);
    points = tcb.history_points ?? null;
  } catch (e) {
    if (e.status === 404) conn.gone = true;
  }
  $("conn-gone").hidden = !(conn.gone || (lastConns && !entry));
  if (entry) $("conn-state").textContent = entry.state;
  // No new sample since the pictures were drawn: nothing new to draw. And
  // at most once a period: on a fast transfer the five pictures are about
  // a megabyte, carried by the very stack they show.
  const drawn = $("ladder").dataset.loaded !== undefined;
  if (drawn && points !== null && points === conn.points) return;
  if (drawn && Date.now() - conn.lastPictures < PICTURES_MS) return;
  conn.points = points;
  conn.lastPictures = Date.now();
  const t = Date.now();
  reloadImage($("ladder"), `${base}/ladder.svg?t=${t}`);
  for (const fig of document.querySelectorAll("#plots figure")) {
    reloadImage(fig.querySelector("img"), `${base}/plot/${fig.dataset.plot}.svg?t=${t}`);
  }
  if (!entry && lastConns) conn.finalDone = true;
}

/** The TCB's fields in the order a student reads them: the state, RFC 9293
 * §3.3.1's send then receive variables, congestion control, RFC 6298's
 * timer, the queues. Fields the server adds later go at the end. */
const TCB_ORDER = [
  "state", "rfc_state",
  "iss", "snd_una", "snd_nxt", "snd_wnd", "snd_wscale",
  "irs", "rcv_nxt", "rcv_wnd", "rcv_wscale", "mss",
  "congestion", "cwnd", "ssthresh", "in_recovery", "sacked",
  "srtt_ms", "rttvar_ms", "rto_ms", "retransmits", "total_retrans", "timer",
  "recv_q", "send_q", "ofo_bytes", "ts_ok", "sack_ok", "history_points", "id",
];

/** Sequence numbers are shown as they are and, like tcpdump, relative to
 * the initial one: which side's ISN each is counted from. */
const RELATIVE_TO = { snd_una: "iss", snd_nxt: "iss", rcv_nxt: "irs" };

function tcbValue(tcb, k) {
  const v = tcb[k];
  if (k === "timer") return quiet(timer(v) || "-");
  if (k === "iss" || k === "irs") return String(v);
  const base = RELATIVE_TO[k];
  if (base && typeof v === "number" && typeof tcb[base] === "number") {
    return `${v} (${base}+${(v - tcb[base]) >>> 0})`;
  }
  return show(v);
}

/** The TCB as a table of fields, each changed one marked. */
function renderTcb(tcb) {
  $("conn-title").textContent = `${tcb.local ?? ""} → ${tcb.remote ?? ""}`;
  if (tcb.state) $("conn-state").textContent = tcb.state;
  const rank = (k) => (TCB_ORDER.includes(k) ? TCB_ORDER.indexOf(k) : TCB_ORDER.length);
  const fields = Object.keys(tcb)
    .filter((k) => k !== "local" && k !== "remote")
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  // syncRows marks each value that differs from the last refresh.
  syncRows($("tcb").tBodies[0], fields, (k) => k, (tr, k) => {
    tr.dataset.field = k;
    return [k, tcbValue(tcb, k)];
  });
  conn.tcb = tcb;
}

// ------------------------------------------------------------ step mode

let stepControl = false;

/** The step view text, changed fields (`*name value`) marked. */
function renderStepView(text) {
  const pre = $("step-view");
  pre.replaceChildren();
  for (const line of String(text).split("\n")) {
    const div = document.createElement("div");
    if (line.trimStart().startsWith("↳")) div.className = "event";
    if (/^step \d+/.test(line)) div.className = "segment";
    // "*state LISTEN->SYN_RECEIVED": the field and its change.
    for (const part of line.split(/(\*[A-Za-z_]\w* \S+)/)) {
      if (part.startsWith("*")) {
        const mark = document.createElement("mark");
        mark.textContent = part;
        div.append(mark);
      } else if (part) {
        div.append(part);
      }
    }
    if (!line) div.append("\u00a0");
    pre.append(div);
  }
}

/** The end of the step log from its `n`th last `step N` line: the step
 * just processed (with its "after:") and the one waiting now. */
function lastSteps(log, n) {
  const starts = [...log.matchAll(/^step \d+ /gm)].map((m) => m.index);
  return starts.length === 0 ? log : log.slice(starts[Math.max(0, starts.length - n)]);
}

async function refreshStep() {
  try {
    const s = await getJSON("/api/step");
    stepControl = Boolean(s.control);
    // pending: a segment is shown and waits for Next; controller: who
    // drives step mode (console, telnet or web); only the web's is ours.
    const waiting = Boolean(s.pending ?? s.held);
    const ours = !s.controller || s.controller === "web";
    const state = $("step-state");
    state.dataset.active = String(Boolean(s.active));
    state.dataset.pending = String(waiting);
    state.dataset.controller = s.controller ?? "";
    state.textContent = !s.active
      ? "(off)"
      : !ours
        ? `(driven from the ${s.controller}: step on here to take it)`
        : waiting
          ? "(a segment waits: Next)"
          : "(on, waiting for a segment)";
    $("step-readonly").hidden = stepControl;
    for (const b of document.querySelectorAll("#step-controls button, #step-controls input")) {
      b.disabled = !stepControl;
    }
    $("step-next").disabled = !stepControl || !ours || !waiting;
    $("step-continue").disabled = !stepControl || !ours || !waiting;
    $("step-on").disabled = !stepControl || (s.active && ours);
    $("step-off").disabled = !stepControl || !s.active;
    const bps = s.breakpoints || [];
    $("step-breakpoints").textContent = bps.length ? bps.join(", ") : "none";
    const text = s.log ? lastSteps(s.log, STEPS_SHOWN) : s.view;
    if (text) renderStepView(text);
    else if (!s.active) renderStepView("step mode is off");
    $("tabs").querySelector('[data-tab="step"]').classList.toggle("alert", waiting);
  } catch (e) {
    $("step-view").textContent = `cannot read /api/step: ${e.message}`;
  }
}

/** POST a step command, then show the new state. */
async function stepCommand(what, body) {
  $("step-error").textContent = "";
  try {
    await post(`/api/step/${what}`, body);
  } catch (e) {
    $("step-error").textContent = e.message;
  }
  refreshStep();
}

$("step-next").addEventListener("click", () => stepCommand("next"));
$("step-continue").addEventListener("click", () => stepCommand("continue"));
$("step-on").addEventListener("click", () => stepCommand("on"));
$("step-off").addEventListener("click", () => stepCommand("off"));
$("step-break-clear").addEventListener("click", () => stepCommand("break/clear"));
$("step-break-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  // "b port 23" as at the console, or just "port 23".
  const filter = $("step-break").value.trim().replace(/^b\s+/, "");
  if (filter) stepCommand("break", filter);
});
// The console's keys: Enter = next, c = continue (not while typing a breakpoint).
document.addEventListener("keydown", (ev) => {
  const typing = ["INPUT", "BUTTON"].includes(ev.target.tagName); // a focused button clicks itself
  if ($("view-step").hidden || !stepControl || typing) return;
  if (ev.key === "Enter" && !$("step-next").disabled) stepCommand("next");
  if (ev.key === "c" && !$("step-continue").disabled) stepCommand("continue");
});

// ---------------------------------------------------------------- routes

/** Show the view the fragment names. */
function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const m = /^conn\/([^/]+)$/.exec(hash);
  const view = m ? "conn" : ["arp", "routes", "stats", "step"].includes(hash) ? hash : "conns";
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${view}`;
  for (const a of document.querySelectorAll("#tabs [data-tab]")) {
    a.classList.toggle("active", a.dataset.tab === view);
  }
  document.body.dataset.view = view;
  if (m) openConn(decodeURIComponent(m[1]));
  else closeConn();
  if (view === "arp" || view === "routes") refreshArpRoutes();
  if (view === "step") refreshStep();
}

window.addEventListener("hashchange", route);

// ----------------------------------------------------------------- start

route();
refreshIface();
refreshArpRoutes();
refreshStep();
pollConns().then(startStream); // the first paint at once, then live
setInterval(refreshIface, TABLES_MS);
setInterval(refreshArpRoutes, TABLES_MS);
setInterval(sweepChanged, 250);
