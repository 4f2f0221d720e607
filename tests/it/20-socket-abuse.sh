#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 20, abuse of the control socket: garbage bytes, a 10 MB line
# without a newline, truncated JSON, valid JSON of the wrong shape, 200
# clients that connect and hang, a client that disconnects between request
# and reply (port.open, whose reply carries an fd).  Throughout, a normal
# client gets its answers; afterwards netd's fd count is back where it was,
# no TAP is left, and netd is alive (and, under ASan, reported nothing).
. "$(dirname "$0")/lib.sh"

it_init
ns_add host

net_conf web <<CONF
[Network]
Mode=nat
Bridge=itab0
Address=10.220.0.1/24
CONF

netd_start
it_setup_done

fdcount() { ls "/proc/$IT_NETD_PID/fd" | wc -l; }
FD0=$(fdcount)
log "netd holds $FD0 fds"

cat >"$IT_TMP/abuse.py" <<'PY'
import json, os, socket, sys, time

path = sys.argv[1]
failures = 0

def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures += 1

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)        # blocking: waits while the backlog is full
    s.settimeout(5)
    return s

def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf

def ask(s, op, args=None, rid=1):
    s.sendall((json.dumps({"id": rid, "op": op, "args": args or {}}) + "\n").encode())
    return json.loads(read_line(s))

normal = conn()

def normal_ok(when):
    t = time.monotonic()
    r = ask(normal, "status")
    check(r.get("ok") is True and r["id"] == 1, "normal client answered %s (%.1f ms)" % (when, (time.monotonic() - t) * 1000))

normal_ok("at the start")

# Garbage bytes: an error reply, the connection may stay.
s = conn()
s.sendall(os.urandom(2000).replace(b"\n", b"x") + b"\n")
r = json.loads(read_line(s))
check(r["ok"] is False and r["error"]["code"] == "bad-request", "garbage gets bad-request")
s.close()

# Truncated JSON, then valid JSON of the wrong shape, on one connection.
s = conn()
for line, code in [(b'{"id": 3, "op": "status", "args": {', "bad-request"),
                   (b'[1, 2, 3]', "bad-request"),
                   (b'{"id": 4, "op": 17}', "bad-request"),
                   (b'{"id": 5, "op": "status", "args": []}', "bad-request"),
                   (b'{"id": 6, "op": "port.open", "args": {"network": 5}}', "invalid-argument"),
                   (b'{"id": 7, "op": "port.open", "args": {"network": "web", "queues": "x"}}', "invalid-argument"),
                   (b'{"id": 8, "op": "network.show", "args": {"name": "web", "extra": 1}}', "invalid-argument"),
                   (b'{"id": 9, "op": "no.such.op"}', "unknown-op"),
                   (b'{"id": {"x": 1}, "op": "status"}', "bad-request")]:
    s.sendall(line + b"\n")
    r = json.loads(read_line(s))
    check(r["ok"] is False and r["error"]["code"] == code,
          "%r -> %s (%s)" % (line[:40], code, r.get("error", {}).get("message")))
r = ask(s, "status", rid=10)
check(r["ok"] is True and r["id"] == 10, "same connection still served after errors")
s.close()

# A 10 MB line without a newline: too-large, then the connection is closed.
s = conn()
s.settimeout(20)
sent = 0
reply = b""
try:
    chunk = b"x" * 65536
    while sent < 10 * 1024 * 1024:
        s.sendall(chunk)
        sent += len(chunk)
except (BrokenPipeError, ConnectionResetError):
    pass
try:
    reply = read_line(s)
except (ConnectionResetError, socket.timeout):
    pass
check(b"too-large" in reply or sent < 10 * 1024 * 1024,
      "10 MB line refused (sent %d bytes before the close; reply %r)" % (sent, reply[:80]))
try:
    rest = s.recv(100)
except ConnectionResetError:
    rest = b""
check(rest == b"", "connection closed after too-large")
s.close()
normal_ok("after the 10 MB line")

# 200 clients that connect and hang, some with half a request.
hang = []
for i in range(200):
    c = conn()
    if i % 2:
        c.sendall(b'{"id": 1, "op": "sta')
    hang.append(c)
normal_ok("with 200 hanging clients")

# Clients that disconnect between request and reply, also for port.open.
for i in range(20):
    c = conn()
    c.sendall(b'{"id": 1, "op": "port.open", "args": {"network": "web"}}\n{"id": 2, "op": "status"}\n')
    c.close()
normal_ok("after clients vanished mid-request")
for c in hang:
    c.close()
normal_ok("after the hanging clients left")
normal.close()
sys.exit(1 if failures else 0)
PY

hx "$IT_PY" "$IT_TMP/abuse.py" "$IT_RUN/netd.sock" || fail "abuse checks failed (see above)"
proc_alive "$IT_NETD_PID" || fail "netd died"

fds_back() { [ "$(fdcount)" -le "$FD0" ]; }
wait_for 5 "netd's fd count back to $FD0 (now $(fdcount))" fds_back
ok "netd's fd count is back to $FD0"

no_taps() { ! ip -n "$IT_HOST" -o link show type tun | grep -q .; }
wait_for 5 "no TAP left from vanished port.open clients" no_taps
ok "no TAP left behind"

netd_stop
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$IT_NETD_LOG"; then
	fail "sanitizer report in netd's log"
fi
ok "socket abuse survived"
