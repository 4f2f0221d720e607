#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 44, port churn: 50 honest clients (python processes) open and
# close NETD_IT_CHURN_PORTS ports in total (default 10000) on one network,
# concurrently: port.open (the TAP's fd in hand, checked with TUNGETIFF,
# then closed), and every tenth a port.create + port.detach; each client
# reconnects every 100 ports.  Meanwhile 5 misbehaving clients are SIGKILLed
# mid-way: one holding 20 open TAP fds, one with 50 port.open requests
# pipelined and no reply read, one that sent half a request, two looping
# port.open/close as fast as they can.
# Checks: the honest clients see no error and get exactly what they asked
# for; afterwards no TAP is left in HOST and `netdctl ports` is empty;
# netd's fd count is what it was at the start; its RSS (VmRSS) is within
# 2 MB of its level after a warm-up of 500 ports (the numbers are printed;
# with a sanitizer build, whose allocator keeps freed memory in
# quarantine, the RSS bound is reported but not enforced); netd is alive.
# The scenario prints how long the churn took.
. "$(dirname "$0")/lib.sh"

it_init
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
ns_add host

NET=ch
BR=itch0
TOTAL=${NETD_IT_CHURN_PORTS:-10000}
CLIENTS=50
net_conf "$NET" <<CONF
[Network]
Mode=isolated
Bridge=$BR
Address=10.246.0.1/24

[DHCP]
Enable=no

[DNS]
Enable=no
CONF
SOCK=$IT_RUN/netd.sock
ctl() { hx "$NETDCTL" --socket "$SOCK" "$@"; }

# churn.py SOCK NET MODE COUNT RESULT: one client.  MODE honest: COUNT
# ports, every tenth by port.create + port.detach, the rest by port.open;
# writes a JSON summary to RESULT.  Modes hold, pipeline, partial, loop:
# the misbehaving clients, which run until killed.
cat >"$IT_TMP/churn.py" <<'PY'
import array, fcntl, json, os, socket, sys, time

sock, net, mode, count, result = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
TUNGETIFF = 0x800454d2


class Client:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(sock)
        self.s.settimeout(60)
        self.buf, self.fds, self.rid = b"", [], 0

    def send(self, op, args):
        self.rid += 1
        self.s.sendall((json.dumps({"id": self.rid, "op": op, "args": args}) + "\n").encode())
        return self.rid

    def reply(self):
        while b"\n" not in self.buf:
            msg, anc, _, _ = self.s.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
            if not msg:
                raise OSError("netd closed the connection")
            self.buf += msg
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(data[:len(data) - len(data) % a.itemsize])
                    self.fds.extend(a)
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, op, args):
        rid = self.send(op, args)
        r = self.reply()
        if r.get("id") != rid:
            raise OSError("reply id %r to request %d" % (r.get("id"), rid))
        fds, self.fds = self.fds, []
        return r, fds


def tap_name(fd):
    return fcntl.ioctl(fd, TUNGETIFF, b"\0" * 40)[:16].split(b"\0")[0].decode()


def open_one(c, errors):
    r, fds = c.ask("port.open", {"network": net})
    if not r.get("ok") or len(fds) != 1:
        errors.append("port.open: %s with %d fds" % (json.dumps(r)[:200], len(fds)))
    elif tap_name(fds[0]) != r["result"].get("ifname"):
        errors.append("port.open: fd is TAP %s, reply says %s" % (tap_name(fds[0]), r["result"].get("ifname")))
    for fd in fds:
        os.close(fd)


def create_detach(c, errors):
    r, fds = c.ask("port.create", {"network": net})
    for fd in fds:
        errors.append("port.create: an fd came with the reply")
        os.close(fd)
    if not r.get("ok"):
        errors.append("port.create: %s" % json.dumps(r)[:200])
        return
    name = r["result"]["ifname"]
    try:
        idx = socket.if_nametoindex(name)
    except OSError:
        errors.append("port.create: reply names %s, no such link" % name)
        return
    r, _ = c.ask("port.detach", {"ifname": name})
    if not r.get("ok"):
        errors.append("port.detach %s: %s" % (name, json.dumps(r)[:200]))
        return
    try:
        still = socket.if_indextoname(idx)
    except OSError:
        return
    errors.append("port.detach %s: ok, but the TAP (ifindex %d, now named %s) is still there" % (name, idx, still))


def honest():
    errors, opened, created = [], 0, 0
    t0 = time.monotonic()
    c = Client()
    try:
        for i in range(count):
            if i and i % 100 == 0:
                c.s.close()
                c = Client()
            if i % 20 == 0:
                with open(result + ".progress", "w") as f:
                    f.write("%d\n" % i)
            if i % 10 == 9:
                create_detach(c, errors)
                created += 1
            else:
                open_one(c, errors)
                opened += 1
    except (OSError, ValueError) as e:
        errors.append("%s: %s" % (type(e).__name__, e))
    with open(result + ".tmp", "w") as f:
        json.dump({"opened": opened, "created": created, "errors": errors[:5],
                   "n_errors": len(errors), "secs": round(time.monotonic() - t0, 1)}, f)
    os.rename(result + ".tmp", result)


def misbehave():
    c = Client()
    held = []
    if mode == "hold":
        while True:
            if len(held) < 20:
                c.send("port.open", {"network": net})
                c.reply()
                held.extend(c.fds)
                c.fds = []
            open(result, "w").write("%d\n" % len(held))
            time.sleep(0.05)
    elif mode == "pipeline":
        c.s.sendall(b"".join((json.dumps({"id": i, "op": "port.open", "args": {"network": net}}) + "\n").encode()
                             for i in range(50)))
        open(result, "w").write("sent\n")
    elif mode == "partial":
        c.s.sendall(b'{"id": 1, "op": "port.open", "args": {"netw')
        open(result, "w").write("sent\n")
    elif mode == "loop":
        n = 0
        while True:
            c.send("port.open", {"network": net})
            c.reply()
            for fd in c.fds:
                os.close(fd)
            c.fds = []
            n += 1
            if n == 1:
                open(result, "w").write("going\n")
    while True:
        time.sleep(1)


honest() if mode == "honest" else misbehave()
PY

fdcount() { find "/proc/$IT_NETD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$IT_NETD_PID/status"; }
taps() { ip -n "$IT_HOST" -o link show type tun | grep -c .; }
ports_n() { ctl --json status | "$IT_PY" -c 'import json, sys; print(json.load(sys.stdin)["ports"])'; }
all_gone() { [ "$(taps)" = 0 ] && [ "$(ports_n)" = 0 ]; }
ms() { echo $(($(date +%s%N) / 1000000)); }
# poll SECS CMD...: CMD succeeds within SECS (checked every 0.1 s).
poll()
{
	local end=$(($(date +%s%N) + $1 * 1000000000))
	shift
	until "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# run_honest N COUNT TAG: N honest clients of COUNT ports each, in HOST.
HPIDS=()
run_honest()
{
	local i
	HPIDS=()
	for i in $(seq 1 "$1"); do
		ip netns exec "$IT_HOST" "$IT_PY" "$IT_TMP/churn.py" "$SOCK" "$NET" honest "$2" \
			"$IT_TMP/$3.$i.json" </dev/null >>"$IT_TMP/clients.log" 2>&1 &
		HPIDS+=($!)
	done
}
# check_honest N COUNT TAG: every honest client finished with no error.
check_honest()
{
	"$IT_PY" - "$IT_TMP" "$1" "$2" "$3" <<'PY' || fail "honest clients saw errors (above)"
import json, sys
tmp, n, count, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
bad, opened, created, secs = 0, 0, 0, []
for i in range(1, n + 1):
    try:
        r = json.load(open("%s/%s.%d.json" % (tmp, tag, i)))
    except (OSError, ValueError) as e:
        print("FAIL: client %d left no result: %s" % (i, e))
        bad += 1
        continue
    opened += r["opened"]
    created += r["created"]
    secs.append(r["secs"])
    if r["n_errors"] or r["opened"] + r["created"] != count:
        print("FAIL: client %d: %d opened, %d created, %d errors: %s"
              % (i, r["opened"], r["created"], r["n_errors"], r["errors"]))
        bad += 1
print("# %s: %d clients, %d port.open, %d port.create+detach, %d clients with errors; slowest client %.1f s"
      % (tag, n, opened, created, bad, max(secs or [0])))
sys.exit(1 if bad else 0)
PY
}

netd_start
expect_bridge "$NET" "$BR"
FD0=$(fdcount)
RSS0=$(rss_kb)
it_setup_done

# left: the first 10 TAPs in HOST with their alias, for a failure message.
left() { ip -n "$IT_HOST" -o -d link show type tun | awk '{ for (i = 1; i < NF; i++) if ($i == "alias") a = $(i + 1); print $2, a }' | head -n 10 | tr '\n' ' '; }

# ---------------------------------------------------------------- warm-up
t0=$(ms)
run_honest 10 50 warm
wait "${HPIDS[@]}"
check_honest 10 50 warm
poll 10 all_gone || fail "after the warm-up, $(taps) TAPs left, $(ports_n) ports in netd: $(left)"
fds_back() { [ "$(fdcount)" = "$FD0" ]; }
wait_for 5 "netd's fd count back to $FD0 after the warm-up" fds_back
RSS1=$(rss_kb)
ok "warm-up, 500 ports in $(($(ms) - t0)) ms: fds $FD0, RSS $RSS0 kB at start, $RSS1 kB after"

# ---------------------------------------------------------------- churn
PER=$((TOTAL / CLIENTS))
VPIDS=()
for m in hold pipeline partial loop loop; do
	ip netns exec "$IT_HOST" "$IT_PY" "$IT_TMP/churn.py" "$SOCK" "$NET" "$m" 0 \
		"$IT_TMP/victim.${#VPIDS[@]}" </dev/null >>"$IT_TMP/clients.log" 2>&1 &
	VPIDS+=($!)
	disown $!	# no "Killed" notice from bash when they go
done
victims_going()
{
	local i
	for i in "${!VPIDS[@]}"; do
		[ -s "$IT_TMP/victim.$i" ] || return 1
	done
	[ "$(head -n 1 "$IT_TMP/victim.0")" = 20 ]
}
wait_for 30 "the misbehaving clients to get going" victims_going
t0=$(ms)
run_honest "$CLIENTS" "$PER" churn
# progress: ports the honest clients have done so far (every 20).
progress() { cat "$IT_TMP"/churn.*.progress 2>/dev/null | awk '{ n += $1 } END { print n + 0 }'; }
quarter() { [ "$(progress)" -ge $((TOTAL / 4)) ]; }
wait_for 120 "the honest clients to do a quarter of the ports" quarter
# Kill the others while the honest clients are at it.
for i in "${!VPIDS[@]}"; do
	kill -KILL "${VPIDS[$i]}"
	sleep 0.3
done
victims_gone()
{
	local p
	for p in "${VPIDS[@]}"; do
		! proc_alive "$p" || return 1
	done
}
wait_for 5 "the misbehaving clients to die" victims_gone
running=0
for p in "${HPIDS[@]}"; do
	proc_alive "$p" && running=$((running + 1))
done
[ "$running" -gt 0 ] || fail "the honest clients were done before the others were killed"
ok "5 misbehaving clients SIGKILLed at $(progress) of $TOTAL ports ($running of $CLIENTS honest clients still running)"
wait "${HPIDS[@]}"
t1=$(ms)
check_honest "$CLIENTS" "$PER" churn
ok "$((PER * CLIENTS)) ports by $CLIENTS clients in $((t1 - t0)) ms"

# ---------------------------------------------------------------- after
proc_alive "$IT_NETD_PID" || fail "netd died"
poll 15 all_gone || fail "after the churn, $(taps) TAPs left, $(ports_n) ports in netd: $(left)"
ok "no TAP left in HOST, netdctl ports empty"
wait_for 5 "netd's fd count back to $FD0 (now $(fdcount))" fds_back
ok "netd's fd count is $FD0, as at the start"
RSS2=$(rss_kb)
log "netd VmRSS: $RSS0 kB at start, $RSS1 kB after the warm-up, $RSS2 kB after the churn ($((RSS2 - RSS1)) kB)"
if grep -q __asan_init "$NETD" 2>/dev/null || ldd "$NETD" 2>/dev/null | grep -q 'libasan'; then
	log "sanitizer build: the RSS bound (+2048 kB) is not enforced (ASan keeps freed memory in quarantine)"
else
	[ "$RSS2" -le $((RSS1 + 2048)) ] || fail "netd's RSS grew from $RSS1 kB to $RSS2 kB (limit +2048 kB)"
	ok "netd's RSS within 2 MB of its level after the warm-up"
fi
ctl status >/dev/null || fail "netd does not answer"
netd_stop
