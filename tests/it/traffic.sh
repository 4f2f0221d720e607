# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# traffic.sh: continuous traffic probes shared by scenarios that check
# "nothing lost" (40-restart-live, 43-reload).  Source it after it_init:
# it writes pinger.py and stream.py (a TCP line exchange with gap and
# retransmission accounting) into the scenario's temp dir.


# ---------------------------------------------------------------- traffic
# pinger.py DEST INTERVAL LOG: busybox ping, each line of its output
# prefixed with a monotonic time stamp; on SIGTERM ping gets SIGINT and
# prints its statistics.
cat >"$IT_TMP/pinger.py" <<'PY'
import signal, subprocess, sys, time

dest, interval, log = sys.argv[1:4]
p = subprocess.Popen(["busybox", "ping", "-i", interval, dest], stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT)
signal.signal(signal.SIGTERM, lambda *_: p.send_signal(signal.SIGINT))
with open(log, "w", buffering=1) as f:
    for line in p.stdout:
        f.write("%.6f %s" % (time.monotonic(), line.decode(errors="replace")))
    f.write("%.6f exit %d\n" % (time.monotonic(), p.wait()))
PY
# pingcheck.py LOG: every sequence number up to the last answered one was
# answered; transmitted - received <= 1 (the one in flight at the stop).
cat >"$IT_TMP/pingcheck.py" <<'PY'
import re, sys

seqs, times, sent, got = [], [], None, None
for line in open(sys.argv[1]):
    m = re.match(r"^(\S+) \d+ bytes from .*: seq=(\d+) ", line)
    if m:
        times.append(float(m.group(1)))
        seqs.append(int(m.group(2)))
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", line)
    if m:
        sent, got = int(m.group(1)), int(m.group(2))
if sent is None or not seqs:
    sys.exit("no ping statistics or no reply in %s" % sys.argv[1])
uniq = set(seqs)
missing = sorted(set(range(max(uniq) + 1)) - uniq)
gap = max((b - a for a, b in zip(times, times[1:])), default=0)
print("sent %d, received %d, last seq %d, %d missing %s, largest gap between replies %.0f ms"
      % (sent, got, max(uniq), len(missing), missing[:20], gap * 1000))
sys.exit(1 if missing or sent - len(uniq) > 1 else 0)
PY
# stream.py serve PORT | client HOST PORT STATUS: one TCP connection that
# exchanges a numbered line every 50 ms.  The client rewrites STATUS after
# every exchange ("COUNT MAX_GAP_MS RETRANS ok") and on the first error or
# at SIGTERM ("... error: ..." / "... done"); RETRANS: the segments its
# kernel retransmitted (tcp_info total_retrans).  The server prints
# "retrans N" for each connection when it ends.
cat >"$IT_TMP/stream.py" <<'PY'
import os, signal, socket, struct, sys, threading, time

def retrans(s):
    # struct tcp_info: total_retrans is the u32 at offset 100.
    return struct.unpack_from("I", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104), 100)[0]

def echo(c):
    try:
        for line in c.makefile("rb"):
            c.sendall(line)
        print("retrans %d" % retrans(c), flush=True)
    except OSError as e:
        print("error %s" % e, flush=True)
    c.close()

def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(8)
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()

def client(host, port, status):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    n, maxgap, err, s = 0, 0.0, None, None

    def put(state):
        with open(status + ".tmp", "w") as f:
            f.write("%d %.0f %d %s\n" % (n, maxgap * 1000, retrans(s) if s else -1, state))
        os.rename(status + ".tmp", status)
    try:
        s = socket.create_connection((host, port), timeout=5)
        f = s.makefile("rb")
        last = time.monotonic()
        while not stop:
            t = time.monotonic()
            s.sendall(b"%d\n" % (n + 1))
            line = f.readline()
            if line != b"%d\n" % (n + 1):
                raise OSError("reply %r to line %d" % (line, n + 1))
            now = time.monotonic()
            maxgap = max(maxgap, now - last)
            last = now
            n += 1
            put("ok")
            time.sleep(max(0.0, 0.05 - (time.monotonic() - t)))
    except OSError as e:
        err = str(e) or type(e).__name__
    put("error: " + err if err else "done")
    s and s.close()

if sys.argv[1] == "serve":
    serve(int(sys.argv[2]))
else:
    client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
PY

# Reading stream.py's status file: "EXCHANGES GAP_MS RETRANS STATE".
stream_field() { awk -v f="$1" '{ print $f }' "$IT_TMP/stream.status" 2>/dev/null; }
stream_state() { cut -d' ' -f4- "$IT_TMP/stream.status" 2>/dev/null; }
stream_past() { [ "$(stream_field 1)" -gt "$1" ] 2>/dev/null; }
stream_alive()
{
	[ "$(stream_state)" = ok ] || fail "TCP stream broke: $(cat "$IT_TMP/stream.status" 2>&1)"
}
# stream_moves DESC: the connection makes 5 more exchanges within 3 s.
stream_moves()
{
	local c0
	stream_alive
	c0=$(stream_field 1)
	wait_for 3 "TCP stream to make progress ($1)" stream_past $((c0 + 5))
	stream_alive
	ok "TCP stream alive $1 ($(stream_field 1) exchanges, largest gap $(stream_field 2) ms, $(stream_field 3) retransmissions)"
}
