# Run by tests/tests/run.rs as `synack run -- python3 exercise.py PORT
# LOCAL`, and first as plain `python3 exercise.py PORT LOCAL` on Linux's
# own TCP, so that every answer expected here is Linux's: socket calls a
# course teaches, against a threaded echo server on the host
# (10.0.0.1:PORT; PORT+1 resets each connection). LOCAL is the address
# the program's connections come from. Each check prints `ok NAME`; the
# first wrong answer raises (and the test shows the traceback).
import errno, os, select, socket, sys, threading

HOST, PORT, LOCAL = "10.0.0.1", int(sys.argv[1]), sys.argv[2]
ON_SYNACK = "SYNACK_CTL" in os.environ


def echo(s, msg):
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        chunk = s.recv(65536)
        assert chunk, "end of file before the echo"
        got += chunk
    assert got == msg, (got[:40], msg[:40])


def ok(name):
    print("ok", name, flush=True)


# Non-blocking connect: EINPROGRESS, unwritable until the handshake ends,
# then SO_ERROR 0 (Linux's __inet_stream_connect).
s = socket.socket()
s.setblocking(False)
assert s.connect_ex((HOST, PORT)) == errno.EINPROGRESS
_, w, _ = select.select([], [s], [], 10)
assert w == [s]
assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
s.setblocking(True)
echo(s, b"non-blocking connect")
assert s.getpeername() == (HOST, PORT)
assert s.getsockname()[0] == LOCAL
ok("nonblocking-connect")

# A refused one: writable at once with SO_ERROR = ECONNREFUSED.
r = socket.socket()
r.setblocking(False)
assert r.connect_ex((HOST, 1)) == errno.EINPROGRESS
_, w, _ = select.select([], [r], [], 10)
assert w == [r]
assert r.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED
r.close()
try:
    socket.create_connection((HOST, 1), timeout=10)
    raise AssertionError("connected to a closed port")
except ConnectionRefusedError:
    pass
ok("refused")

# Options: what synack has, Linux's answers; one it lacks: ENOPROTOOPT.
assert s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
assert s.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN) == socket.AF_INET
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
# Options with int values reach the stack's own (tcp/sockopt.rs).
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 10)
assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) == 10
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 30)
assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 17)
assert s.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == 17
try:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 0)
    raise AssertionError("TCP_KEEPCNT 0 accepted")
except OSError as e:
    assert e.errno == errno.EINVAL, e
if ON_SYNACK:
    # Not synack's yet (Linux has it): the errno for an unknown option.
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        raise AssertionError("TCP_QUICKACK accepted")
    except OSError as e:
        assert e.errno == errno.ENOPROTOOPT, e
ok("sockopts")

# sendto with an address on a connected TCP socket: the address is ignored.
assert s.sendto(b"to", (HOST, PORT)) == 2
assert s.recv(10) == b"to"
if ON_SYNACK:
    # Urgent data is not synack's yet: EOPNOTSUPP, and a trace line.
    try:
        s.send(b"!", socket.MSG_OOB)
        raise AssertionError("MSG_OOB accepted")
    except OSError as e:
        assert e.errno == errno.EOPNOTSUPP, e
ok("sendto")

# A RST from the peer: the next read says ECONNRESET, once; then 0.
c = socket.create_connection((HOST, PORT + 1), timeout=10)
c.setblocking(True)
c.sendall(b"x")
try:
    got = c.recv(100)
    raise AssertionError("read %r after a RST" % got)
except ConnectionResetError:
    pass
assert c.recv(100) == b""
c.close()
ok("reset")

# poll and epoll (level- and edge-triggered) over a pipe and a synack socket.
rp, wp = os.pipe()
ep = select.epoll()
ep.register(rp, select.EPOLLIN)
ep.register(s.fileno(), select.EPOLLIN | select.EPOLLET)
assert ep.poll(0.2) == []
os.write(wp, b"x")
assert ep.poll(5) == [(rp, select.EPOLLIN)]
os.read(rp, 1)
s.sendall(b"ping")
ev = ep.poll(5)
assert ev == [(s.fileno(), select.EPOLLIN)], ev
# Edge-triggered: not again until more arrives, though unread.
assert ep.poll(0.3) == []
p = select.poll()
p.register(s.fileno(), select.POLLIN)
p.register(rp, select.POLLIN)
assert p.poll(1000) == [(s.fileno(), select.POLLIN)]
assert s.recv(100) == b"ping"
ep.close()
ok("epoll-poll-mixed")

# A thread blocked in accept() on a synack listener does not hold up the
# other threads' calls.
lst = socket.socket()
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(("0.0.0.0", 9400))
lst.listen(4)
assert lst.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
threading.Thread(target=lst.accept, daemon=True).start()
for i in range(5):
    c = socket.create_connection((HOST, PORT), timeout=10)
    echo(c, b"while another thread waits in accept %d" % i)
    c.close()
ok("threads")

# fork: the child shares the socket; the parent closes its copy first;
# the connection lives on until the child closes.
pid = os.fork()
if pid == 0:
    try:
        echo(s, b"from the child" * 1000)
        os._exit(0)
    except BaseException as e:
        print("child:", repr(e), flush=True)
        os._exit(1)
s.close()
_, status = os.waitpid(pid, 0)
assert status == 0, status
ok("fork")

# exec: an inherited fd is still a synack socket in the new program.
c = socket.create_connection((HOST, PORT), timeout=10)
c.setblocking(True)  # a timeout is O_NONBLOCK on the fd: the child would see it
os.set_inheritable(c.fileno(), True)
child = (
    "import socket,sys; s=socket.socket(fileno=int(sys.argv[1])); "
    "assert s.getpeername()==(sys.argv[2],int(sys.argv[3])); "
    "s.sendall(b'after exec'); assert s.recv(100)==b'after exec'"
)
pid = os.fork()
if pid == 0:
    os.execvp(sys.executable, [sys.executable, "-c", child, str(c.fileno()), HOST, str(PORT)])
c.close()
_, status = os.waitpid(pid, 0)
assert status == 0, status
ok("exec")

# dup: the copy is the same socket.
c = socket.create_connection((HOST, PORT), timeout=10)
c.setblocking(True)
d = socket.socket(fileno=os.dup(c.fileno()))
assert d.getpeername() == c.getpeername()
c.close()
echo(d, b"through the dup")
d.close()
ok("dup")

print("ALL OK", flush=True)
