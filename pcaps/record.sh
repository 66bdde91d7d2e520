#!/usr/bin/env bash
# Record the curated captures in pcaps/ again (as root), each from a real
# run: `synack up --record pcaps/NAME` in a network namespace of its own,
# driven by the host's own tools (ping, nc, telnet, python3) and by lines
# typed at synack's prompt. Each recording then replays green with
# `synack replay pcaps/NAME --check` (tests/run.sh replays every one).
#
#   pcaps/record.sh            all of them
#   pcaps/record.sh ping tcp-retransmit
#
# A recording is a pure function of what it holds, so re-recording is only
# needed when synack's behaviour changes on purpose: the replay test then
# fails with a diff naming the frame and the field, and this script makes
# the new reference. Review the new captures (`synack ladder`, tcpdump -r)
# before committing them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SYNACK_BIN:-target/release/synack}
[[ -x $BIN ]] || { echo "build first: cargo build --release --workspace --bins" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "pcaps/record.sh needs root (namespaces, TAP)" >&2; exit 1; }

NS=synack-rec-$$
WORK=$(mktemp -d)
SYN_PID=
cleanup() {
    exec 3>&- 2>/dev/null || true
    if [[ -n $SYN_PID ]] && kill -0 "$SYN_PID" 2>/dev/null; then kill "$SYN_PID" 2>/dev/null || true; fi
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

in_ns() { ip netns exec "$NS" "$@"; }
prompt() { echo "$*" >&3; }

# record NAME "DESCRIPTION" [synack up flags...]: start synack, run
# scenario_NAME, quit at the prompt, write the description.
record() {
    local name=$1 desc=$2
    shift 2
    echo "=== $name: $desc"
    ip netns add "$NS"
    # No IPv6 chatter from the host's kernel in the captures.
    in_ns sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    rm -rf "pcaps/$name"
    mkfifo "$WORK/stdin"
    in_ns "$BIN" up --record "pcaps/$name" "$@" <"$WORK/stdin" >"$WORK/$name.log" 2>&1 &
    SYN_PID=$!
    exec 3>"$WORK/stdin"
    for _ in $(seq 50); do
        grep -q '^synack is up' "$WORK/$name.log" && break
        sleep 0.1
    done
    grep -q '^synack is up' "$WORK/$name.log" || { cat "$WORK/$name.log"; exit 1; }
    sleep 0.2
    "scenario_$name"
    sleep 0.3
    prompt quit
    for _ in $(seq 50); do kill -0 "$SYN_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SYN_PID" 2>/dev/null; then kill "$SYN_PID"; fi
    wait "$SYN_PID" || true
    SYN_PID=
    exec 3>&-
    rm -f "$WORK/stdin"
    ip netns del "$NS"
    sed -i "s|^description.*|description $desc|" "pcaps/$name/replay.txt"
    "$BIN" replay "pcaps/$name" --check
}

scenario_ping() { in_ns ping -c 3 -i 0.2 10.0.0.2; }

scenario_arp() {
    prompt ping 10.0.0.1 -c 2 -i 0.2
    sleep 1
}

scenario_ping-fragmented() { in_ns ping -c 2 -i 0.2 -s 3000 10.0.0.2; }

scenario_telnet() {
    { sleep 0.5; printf 'ifconfig\n'; sleep 0.3; printf 'quit\n'; sleep 0.5; } | in_ns telnet 10.0.0.2 || true
}

scenario_closed-port() { in_ns nc -z -w 1 10.0.0.2 4444 || true; }

scenario_tcp-retransmit() {
    { printf 'hello\n'; sleep 0.5; printf 'world\n'; sleep 1.5; } | in_ns nc -w 3 10.0.0.2 7 || true
}

scenario_zero-window() {
    in_ns python3 - <<'PY'
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect(("10.0.0.2", 7))
s.setblocking(False)
sent, end = 0, time.time() + 1.5
while time.time() < end:
    try:
        sent += s.send(b"0123456789" * 100)
    except BlockingIOError:
        time.sleep(0.01)
s.setblocking(True)
s.settimeout(5)
s.shutdown(socket.SHUT_WR)
got = 0
while True:
    b = s.recv(65536)
    if not b:
        break
    got += len(b)
print("sent", sent, "echoed", got)
assert got == sent
PY
}

scenario_cwnd-loss() {
    in_ns python3 - <<'PY'
import socket
s = socket.create_connection(("10.0.0.2", 19), timeout=20)
got = 0
while got < 600000:
    b = s.recv(65536)
    if not b:
        break
    got += len(b)
s.close()
print("got", got)
assert got >= 600000
PY
    sleep 1
}

scenario_simultaneous-close() { printf 'quit\r\n' | in_ns nc -N -w 3 10.0.0.2 23 || true; }

scenario_time-wait-reuse() {
    printf 'quit\r\n' | in_ns nc -w 3 -p 40000 10.0.0.2 23 || true
    prompt netstat
    sleep 0.3
    printf 'quit\r\n' | in_ns nc -w 3 -p 40000 10.0.0.2 23 || true
}

scenario_backlog-overflow() {
    prompt listen 5000 1
    sleep 0.2
    # Two SYNs back to back, then, once their handshakes have filled the
    # accept queue, two more: non-blocking connects from one python3, so
    # that the order does not depend on how fast processes start. (The
    # host answers a SYN-ACK within microseconds, so the second SYN finds
    # the one place of the SYN queue free again: no cookie here.)
    in_ns python3 - <<'PY' &
import socket, time
def burst():
    out = []
    for _ in range(2):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("10.0.0.2", 5000))
        out.append(s)
    return out
held = burst()
time.sleep(0.1)
held += burst()
time.sleep(2)
for s in held:
    s.close()
PY
    sleep 0.5
    prompt netstat -l
    sleep 2.5
}

all=(
    "ping|ping 10.0.0.2 three times from the host: ARP resolution of synack, then echo request and reply"
    "arp|synack pings the host: synack's own ARP request and the host's reply, then two echoes"
    "ping-fragmented|a 3000-byte ping from the host: three fragments in, reassembled, and a fragmented reply out"
    "telnet|telnet from the host: handshake, the greeting, ifconfig at the prompt, quit closes from synack's side"
    "closed-port|the host connects to a port nobody listens on: SYN answered by RST (RFC 9293 §3.10.7.1)"
    "tcp-retransmit|echo with a fault script dropping synack's second data segment: the RTO fires and it is sent again (one segment in flight, so no tail loss probe first)|--faults|drop out tcp data #2"
    "zero-window|echo with 4 KiB buffers and a host that does not read: zero window, persist probes, recovery|--rcvbuf|4096|--sndbuf|4096"
    "simultaneous-close|both sides send FIN before they see the other's (each FIN held 300 ms): CLOSING, then TIME_WAIT; the timestamps show synack's FIN retransmission spurious (Eifel undo) and PAWS drops the host's late FIN|--faults|delay in fin 300ms; delay out fin 300ms"
    "time-wait-reuse|two connections from the same host port: the second SYN meets the first in TIME_WAIT and reopens it (RFC 6191)"
    "cwnd-loss|600 KB from chargen to the host over a 200 ms round trip, synack's 20th data segment dropped: slow start, the loss, fast recovery (PRR) and CUBIC's climb back towards W_max; the book's plots (docs/book/plots/) are made from it|--link|delay 100ms, seed 1|--faults|drop out tcp data #20"
    "backlog-overflow|a listener with backlog 1 that never accepts, four clients, two back to back and two 0.1 s later: the first two handshakes pass through the SYN queue (one place) into the accept queue, which is then full, and the last two SYNs are dropped (for a SYN cookie see tests/drill/listen/syn-queue-full-sends-cookie.pkt)"
)

want=("$@")
for entry in "${all[@]}"; do
    IFS='|' read -r -a f <<<"$entry"
    name=${f[0]}
    if ((${#want[@]})) && [[ ! " ${want[*]} " == *" $name "* ]]; then continue; fi
    record "$name" "${f[1]}" "${f[@]:2}"
done
