#!/usr/bin/env bash
# The soak (not part of CI): as root, `tests/soak.sh [SECONDS]` (default 600).
#
# In a network namespace of its own, `synack up --quiet` runs for SECONDS
# while the host side keeps it busy with a mix of traffic, all at once:
#   - ping every 20 ms (and a 1400-byte ping every 100 ms);
#   - UDP: datagrams of random sizes to the echo on port 7, each checked;
#   - TCP: 16 client threads opening connections to echo (7), discard (9)
#     and chargen (19), each carrying a random amount (up to 256 kB) and
#     closing, some with a reset (SO_LINGER 0), some half-closed first;
#     echoed bytes are checked.
# synack's VmRSS (/proc/PID/status) is sampled every 10 s. Passes when synack
# is still running at the end, every check held, and its RSS at the end is
# within 10 % of its RSS after the first minute (the warm-up). Prints the
# samples and the totals. Everything it starts is ended by PID, and the
# namespace deleted, on any exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-600}
WARMUP=$((SECS < 120 ? SECS / 4 : 60))
[[ $(id -u) -eq 0 ]] || { echo "soak.sh: run as root (network namespaces, TAP)" >&2; exit 2; }
for t in ip ping python3; do
    command -v "$t" >/dev/null || { echo "soak.sh: $t is missing (tests/run.sh installs it)" >&2; exit 2; }
done
[[ -x target/release/synack ]] || cargo build --release -p synack-apps --bin synack

NS="synack-soak-$$"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
ip netns exec "$NS" target/release/synack up --quiet </dev/null >"$WORK/synack.out" 2>&1 &
SYNACK=$!
PIDS+=("$SYNACK")
for _ in $(seq 100); do grep -q "synack is up" "$WORK/synack.out" && break; sleep 0.1; done
grep -q "synack is up" "$WORK/synack.out" || { cat "$WORK/synack.out"; exit 1; }

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$SYNACK/status"; }

ip netns exec "$NS" ping -q -i 0.02 -w "$SECS" 10.0.0.2 >"$WORK/ping.out" 2>&1 &
PIDS+=($!)
ip netns exec "$NS" ping -q -s 1400 -i 0.1 -w "$SECS" 10.0.0.2 >"$WORK/ping-big.out" 2>&1 &
PIDS+=($!)

cat >"$WORK/clients.py" <<'EOF'
import os, random, socket, struct, sys, threading, time
secs = float(sys.argv[1])
end = time.time() + secs
stats = {"tcp_conns": 0, "tcp_bytes": 0, "tcp_resets_sent": 0, "udp_ok": 0, "udp_lost": 0, "errors": 0}
lock = threading.Lock()
def count(k, n=1):
    with lock:
        stats[k] += n
def recv_exact(s, n):
    b = bytearray()
    while len(b) < n:
        c = s.recv(min(65536, n - len(b)))
        if not c:
            break
        b += c
    return bytes(b)
def tcp_worker(i):
    rng = random.Random(i)
    while time.time() < end:
        port = rng.choice([7, 7, 9, 19])
        try:
            s = socket.create_connection(("10.0.0.2", port), timeout=10)
            s.settimeout(10)
            n = rng.randint(1, 256 * 1024)
            if port == 7:
                data = rng.randbytes(n)
                t = threading.Thread(target=s.sendall, args=(data,))
                t.start()
                got = recv_exact(s, n)
                t.join(10)
                if got != data:
                    raise RuntimeError("echo mismatch on %d bytes" % n)
            elif port == 9:
                s.sendall(rng.randbytes(n))
            else:
                got = recv_exact(s, n)
                if len(got) != n:
                    raise RuntimeError("chargen short")
            count("tcp_bytes", n)
            if rng.random() < 0.2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                count("tcp_resets_sent")
            elif rng.random() < 0.5:
                s.shutdown(socket.SHUT_WR)
                s.settimeout(10)
                while s.recv(65536):
                    pass
            s.close()
            count("tcp_conns")
        except Exception as e:
            count("errors")
            print("tcp error:", port, repr(e), flush=True)
            time.sleep(0.5)
def udp_worker():
    rng = random.Random(99)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    while time.time() < end:
        d = rng.randbytes(rng.randint(1, 1400))
        s.sendto(d, ("10.0.0.2", 7))
        try:
            g, _ = s.recvfrom(2048)
            count("udp_ok" if g == d else "errors")
        except socket.timeout:
            count("udp_lost")
        time.sleep(0.005)
ts = [threading.Thread(target=tcp_worker, args=(i,)) for i in range(16)] + [threading.Thread(target=udp_worker)]
for t in ts:
    t.start()
for t in ts:
    t.join(secs + 60)
print("clients:", " ".join("%s=%d" % kv for kv in sorted(stats.items())), flush=True)
sys.exit(1 if stats["errors"] or stats["tcp_conns"] == 0 else 0)
EOF
ip netns exec "$NS" timeout $((SECS + 90)) python3 "$WORK/clients.py" "$SECS" >"$WORK/clients.out" 2>&1 &
CLIENTS=$!
PIDS+=("$CLIENTS")

echo "soak: $SECS s of ping, UDP and TCP against synack (pid $SYNACK) in $NS"
start=$(date +%s)
base=""
samples=()
while :; do
    sleep 10
    now=$(($(date +%s) - start))
    kill -0 "$SYNACK" 2>/dev/null || { echo "soak: synack exited"; cat "$WORK/synack.out"; exit 1; }
    r=$(rss)
    samples+=("${now}s:${r}kB")
    echo "  t=${now}s VmRSS ${r} kB"
    if [[ -z $base && $now -ge $WARMUP ]]; then base=$r; echo "  (baseline after warm-up: $base kB)"; fi
    ((now >= SECS)) && break
done
rc=0
wait "$CLIENTS" || rc=$?
end_rss=$(rss)
kill -USR1 "$SYNACK"
sleep 0.5
cat "$WORK/clients.out"
grep -h -E "packets transmitted|rtt" "$WORK/ping.out" "$WORK/ping-big.out" || true
echo "synack stats:"
sed -n '/^counters:/,$p' "$WORK/synack.out" | head -80
limit=$((base + base / 10))
echo "soak: VmRSS after warm-up ${base} kB, at the end ${end_rss} kB (limit ${limit} kB)"
if ((rc != 0)); then echo "soak: FAILED: the clients saw errors"; exit 1; fi
if ((end_rss > limit)); then echo "soak: FAILED: RSS grew more than 10 %"; exit 1; fi
for f in ping.out ping-big.out; do
    grep -q " 0% packet loss\| 0.0% packet loss" "$WORK/$f" || echo "soak: note: $f lost pings: $(grep 'packet loss' "$WORK/$f")"
done
echo "soak: passed"
