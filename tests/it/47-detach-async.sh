#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 47, port.detach off the event loop.  Deleting a TAP costs the
# kernel an RCU grace period, so netd hands its TAPs to the reaper thread
# and answers port.detach once the link is gone.  On one isolated network:
#  1. 200 port.create, then 200 port.detach written at once on connection A
#     followed by a `status` on A, and a `status` on connection B right
#     after: both status replies arrive before the last detach reply (on A
#     that is out of request order: the detaches wait, the status does not);
#     every detach reply is ok, names its TAP, and when it arrives the TAP
#     is gone (by ifindex and by name); no port is left.
#  2. A client writes 100 port.detach and a status, and disconnects once the
#     status reply came (so netd took all 100), before their replies: all
#     100 TAPs are still deleted, netd answers, no port is left.
#  3. Deletion failing: with HOST's lo moved into the reaper's link group,
#     the kernel refuses the group delete (lo cannot be deleted).  Two
#     pipelined port.detach of one TAP (the second joins the first) both get
#     a `failed` error naming the TAP and the reason; the TAP still exists,
#     back in netd's port group and in port.list.  With lo back in group 0,
#     port.detach of it succeeds and the TAP is gone.
#  4. A link netd only attached (a TAP made with ip tuntap): port.detach
#     releases it (no master, no alias) and does not delete it.
#  4b. network.stop of the network with 300 TAPs: its reply and a status on
#     another connection come while TAPs are still there; all of them and
#     the bridge go; port.create on the stopped network fails; after
#     network.stop of 50 ports, network.start at once makes a new bridge.
#  5. 150 ports, 100 port.detach, SIGTERM once the first reply came: netd
#     exits 0; every ok reply it sent was for a TAP that is gone; no link is
#     left in the reaper's group (it finished its queue before netd exited).
#  6. `netd --cleanup` with 50+ netd TAPs left and an attached link: no
#     link with a netd: alias is left, no link in netd's port group; the
#     attached TAP still exists, released.
. "$(dirname "$0")/lib.sh"

it_init
ns_add host

NET=da
BR=itda0
REAP_GROUP=1852138616	# 0x6e656478, netd/reaper.c
PORT_GROUP=7234916	# 0x6e6564, NETD_PORT_GROUP
net_conf "$NET" <<CONF
[Network]
Mode=isolated
Bridge=$BR
Address=10.247.0.1/24

[DHCP]
Enable=no

[DNS]
Enable=no
CONF
SOCK=$IT_RUN/netd.sock

cat >"$IT_TMP/detach.py" <<'PY'
import json, os, selectors, signal, socket, sys, time

sock, net, phase = sys.argv[1], sys.argv[2], sys.argv[3]
failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures += 1
    return cond


class Client:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(sock)
        self.s.settimeout(60)
        self.buf = b""

    def write(self, reqs):
        self.s.sendall(b"".join((json.dumps(r) + "\n").encode() for r in reqs))

    def lines(self):
        """Replies already complete in the buffer after one recv (may be [] at EOF)."""
        data = self.s.recv(1 << 16)
        if not data:
            raise EOFError
        self.buf += data
        *done, self.buf = self.buf.split(b"\n")
        return [json.loads(x) for x in done]

    def reply(self):
        while b"\n" not in self.buf:
            data = self.s.recv(1 << 16)
            if not data:
                raise EOFError("netd closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, op, args=None, rid=1):
        self.write([{"id": rid, "op": op, "args": args or {}}])
        return self.reply()


def gone(name, idx):
    """Neither the ifindex nor the name designates a link any more."""
    try:
        socket.if_indextoname(idx)
        return False
    except OSError:
        pass
    try:
        socket.if_nametoindex(name)
        return False
    except OSError:
        return True


def create(c, n):
    c.write([{"id": i, "op": "port.create", "args": {"network": net}} for i in range(n)])
    names, bad = {}, []
    for _ in range(n):
        r = c.reply()
        if r.get("ok") is True:
            names[r["id"]] = r["result"]["ifname"]
        else:
            bad.append(r)
    check(not bad, "%d port.create: %d failed %s" % (n, len(bad), bad[:2]))
    return [(names[i], socket.if_nametoindex(names[i])) for i in sorted(names)]


def ports(c):
    r = c.ask("port.list", {"network": net}, rid=99999)
    return [p["ifname"] for p in r["result"]["ports"]]


def detaches(taps, first_id=1):
    return [{"id": first_id + i, "op": "port.detach", "args": {"ifname": name}}
            for i, (name, _) in enumerate(taps)]


def phase_async():
    c = Client()
    taps = create(c, 200)
    check(len(taps) == 200 and len(ports(c)) == 200, "200 ports created and listed")
    a, b = Client(), Client()
    a.write(detaches(taps) + [{"id": 1000, "op": "status", "args": {}}])
    b.write([{"id": 1, "op": "status", "args": {}}])
    sel = selectors.DefaultSelector()
    sel.register(a.s, selectors.EVENT_READ, "a")
    sel.register(b.s, selectors.EVENT_READ, "b")
    seq, done, not_gone, bad = 0, 0, [], []
    status_a = status_b = None
    while done < 200 or status_a is None or status_b is None:
        events = sel.select(30)
        if not events:
            check(False, "replies stopped coming: %d detaches answered" % done)
            return
        for key, _ in events:
            for r in (a if key.data == "a" else b).lines():
                seq += 1
                if key.data == "b":
                    status_b = (seq, done, r.get("ok"))
                elif r.get("id") == 1000:
                    status_a = (seq, done, r.get("ok"))
                else:
                    done += 1
                    name, idx = taps[r["id"] - 1]
                    if r.get("ok") is not True or r["result"].get("ifname") != name:
                        bad.append(r)
                    elif not gone(name, idx):
                        not_gone.append(name)
    check(status_b[2] is True and status_a[2] is True, "both status requests answered ok")
    check(status_b[1] < 200, "status on a second connection answered before the last detach reply "
          "(after %d of 200)" % status_b[1])
    check(status_a[1] < 200, "status pipelined after the 200 detaches on the same connection answered "
          "before the last detach reply (after %d of 200)" % status_a[1])
    check(not bad, "every detach reply is ok and names its TAP (%d bad: %s)" % (len(bad), bad[:2]))
    check(not not_gone, "every TAP was gone when its reply arrived (%d were not: %s)"
          % (len(not_gone), not_gone[:5]))
    check(ports(c) == [], "port.list is empty")
    st = c.ask("status", rid=5)
    check(st["result"]["ports"] == 0, "status counts 0 ports")


def phase_disconnect():
    c = Client()
    taps = create(c, 100)
    d = Client()
    # The status reply, after the detaches in request order, tells they were
    # all taken; the client leaves before (most of) their replies.
    d.write(detaches(taps) + [{"id": 1000, "op": "status", "args": {}}])
    early = 0
    while d.reply().get("id") != 1000:
        early += 1
    d.s.close()
    print(" ".join(str(idx) for _, idx in taps), file=open(sys.argv[4], "w"))
    check(len(taps) == 100, "100 detaches taken from a client that left with %d of them answered"
          % early)


def phase_fail():
    c = Client()
    (name, idx), = create(c, 1)
    c.write(detaches([(name, idx), (name, idx)]))
    rs = [c.reply(), c.reply()]
    for r in rs:
        e = r.get("error", {})
        check(r.get("ok") is False and e.get("code") == "failed" and name in e.get("message", "")
              and "not supported" in e.get("message", ""),
              "detach %d of %s while the kernel refuses: %s" % (r["id"], name, json.dumps(r)))
    check(not gone(name, idx), "%s still exists" % name)
    group = open("/sys/class/net/%s/netdev_group" % name).read().strip()
    check(group == sys.argv[4], "%s is back in netd's port group (%s)" % (name, group))
    check(name in ports(c), "%s is listed by port.list again" % name)
    print(name, file=open(sys.argv[5], "w"))


def phase_retry():
    c = Client()
    name = open(sys.argv[4]).read().strip()
    idx = socket.if_nametoindex(name)
    r = c.ask("port.detach", {"ifname": name})
    check(r.get("ok") is True and gone(name, idx), "detach of %s once the kernel agrees: %s" % (name, r))


def phase_attached():
    c = Client()
    r = c.ask("port.attach", {"network": net, "ifname": sys.argv[4]})
    check(r.get("ok") is True, "port.attach %s: %s" % (sys.argv[4], r))
    r = c.ask("port.detach", {"ifname": sys.argv[4]})
    check(r.get("ok") is True, "port.detach of the attached %s: %s" % (sys.argv[4], r))
    name = sys.argv[4]
    alias = open("/sys/class/net/%s/ifalias" % name).read().strip()
    check(not os.path.exists("/sys/class/net/%s/master" % name) and alias == "",
          "%s still exists, released (no master, alias %r)" % (name, alias))
    r = c.ask("port.attach", {"network": net, "ifname": sys.argv[4]})
    check(r.get("ok") is True, "port.attach %s again (for --cleanup)" % sys.argv[4])


def phase_shutdown():
    c = Client()
    taps = create(c, 150)[:100]	# 50 stay for --cleanup
    d = Client()
    d.write(detaches(taps))
    answered, not_gone, killed = 0, [], False
    try:
        while True:
            for r in d.lines():
                name, idx = taps[r["id"] - 1]
                if r.get("ok"):
                    answered += 1
                    if not gone(name, idx):
                        not_gone.append(name)
            # The first deletion is done: others are queued behind it.
            if not killed:
                os.kill(int(sys.argv[4]), signal.SIGTERM)
                killed = True
    except (EOFError, ConnectionResetError):
        pass
    check(answered > 0 and not not_gone, "SIGTERM after the first detach reply: %d answered, each TAP "
          "gone (not: %s)" % (answered, not_gone[:5]))
    print(answered, file=open(sys.argv[5], "w"))


def phase_stop():
    """network.stop of a network with 300 TAPs: the reply and a status on another
    connection come while the TAPs and the bridge are still being deleted; all of
    them go; a network.start right after makes a new bridge."""
    c, b = Client(), Client()
    taps = create(c, 300)
    br_idx = socket.if_nametoindex(sys.argv[4])
    t0 = time.monotonic()
    r = c.ask("network.stop", {"name": net})
    t_stop = time.monotonic() - t0
    check(r.get("ok") is True, "network.stop with 300 ports: %s" % r)
    t1 = time.monotonic()
    st = b.ask("status")
    t_status = time.monotonic() - t1
    left = sum(not gone(name, idx) for name, idx in taps)
    check(st.get("ok") is True and left > 0,
          "status answered in %.1f ms after network.stop (%.0f ms) while %d of its 300 TAPs "
          "were still there" % (t_status * 1000, t_stop * 1000, left))
    end = time.monotonic() + 30
    while time.monotonic() < end and (any(not gone(n, i) for n, i in taps) or
                                      not gone(sys.argv[4], br_idx)):
        time.sleep(0.01)
    check(all(gone(n, i) for n, i in taps) and gone(sys.argv[4], br_idx),
          "the 300 TAPs and bridge %s are gone (%.0f ms after network.stop)" %
          (sys.argv[4], (time.monotonic() - t0) * 1000))
    c.write([{"id": 1, "op": "port.create", "args": {"network": net}}])
    check(c.reply().get("ok") is False, "port.create on the stopped network is refused")
    check(c.ask("network.start", {"name": net}).get("ok") is True, "network.start again")
    br_idx = socket.if_nametoindex(sys.argv[4])
    taps = create(Client(), 50)
    r = c.ask("network.stop", {"name": net})
    r = c.ask("network.start", {"name": net})
    check(r.get("ok") is True, "network.start right after network.stop of 50 ports: %s" % r)
    idx = socket.if_nametoindex(sys.argv[4])
    check(idx != br_idx and all(gone(n, i) for n, i in taps) and ports(c) == [],
          "a new bridge %s (ifindex %d), no port, none of the 50 TAPs left" % (sys.argv[4], idx))
    r = c.ask("port.attach", {"network": net, "ifname": "itatt0"})
    check(r.get("ok") is True, "port.attach itatt0 again (for --cleanup): %s" % r)


{"async": phase_async, "disconnect": phase_disconnect, "fail": phase_fail, "retry": phase_retry,
 "attached": phase_attached, "shutdown": phase_shutdown, "stop": phase_stop}[phase]()
sys.exit(1 if failures else 0)
PY

dx() { hx "$IT_PY" "$IT_TMP/detach.py" "$SOCK" "$NET" "$@"; }
taps_n() { ip -n "$IT_HOST" -o link show type tun | grep -c .; }
in_group() { ip -n "$IT_HOST" -o link show group "$1" 2>/dev/null | grep -c .; }
netd_answers()
{
	hx "$IT_PY" -c 'import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"{\"id\": 1, \"op\": \"status\"}\n")
sys.exit(0 if json.loads(s.makefile().readline())["ok"] else 1)' "$SOCK"
}

netd_start
expect_bridge "$NET" "$BR"
it_setup_done

# ---------------------------------------------------------------- 1
dx async || fail "200 pipelined detaches (above)"
[ "$(taps_n)" = 0 ] || fail "$(taps_n) TAPs left after the 200 detaches"
ok "no TAP left in HOST"

# ---------------------------------------------------------------- 2
dx disconnect "$IT_TMP/idx" || fail "disconnecting client (above)"
all_gone()
{
	local i
	for i in $(cat "$IT_TMP/idx"); do
		ip -n "$IT_HOST" link show | grep -q "^$i:" && return 1
	done
	return 0
}
wait_for 20 "the 100 TAPs of the client that left to be deleted" all_gone
proc_alive "$IT_NETD_PID" || fail "netd died"
[ "$(taps_n)" = 0 ] || fail "$(taps_n) TAPs left after the client that left"
netd_answers || fail "netd does not answer"
ok "all 100 TAPs deleted, netd answers"

# ---------------------------------------------------------------- 3
must ip -n "$IT_HOST" link set lo group "$REAP_GROUP"
dx fail "$PORT_GROUP" "$IT_TMP/failed" || fail "detach while the kernel refuses (above)"
must ip -n "$IT_HOST" link set lo group 0
dx retry "$IT_TMP/failed" || fail "detach after the kernel agrees (above)"
[ "$(in_group "$REAP_GROUP")" = 0 ] || fail "links left in the reaper's group: $(ip -n "$IT_HOST" -o link show group "$REAP_GROUP")"
ok "nothing left in the reaper's group"

# ---------------------------------------------------------------- 4
must ip -n "$IT_HOST" tuntap add dev itatt0 mode tap
dx attached itatt0 || fail "attached link (above)"
ok "attached TAP released by port.detach, not deleted"

# ---------------------------------------------------------------- 4b
dx stop "$BR" || fail "network.stop with 300 ports (above)"
ok "network.stop hands its TAPs and bridge to the reaper; start right after waits for them"
per_port=$(grep -c 'removed: network stopped' "$IT_NETD_LOG")
summary=$(grep -c 'port(s) removed: network stopped' "$IT_NETD_LOG")
[ "$summary" -ge 1 ] && [ "$per_port" = "$summary" ] ||
	fail "network.stop logged $per_port 'removed: network stopped' lines, $summary of them summaries (want one line per stop)"
ok "network.stop logged one line for its ports, not one per port: $(grep -o '[0-9]* port(s) removed: network stopped' "$IT_NETD_LOG" | tail -1)"

# ---------------------------------------------------------------- 5
before=$(in_group "$PORT_GROUP")
dx shutdown "$IT_NETD_PID" "$IT_TMP/answered" || fail "SIGTERM with detaches pending (above)"
wait_for 10 "netd (pid $IT_NETD_PID) to exit after SIGTERM" netd_gone
wait "$IT_NETD_PID"
rc=$?
IT_NETD_PID=""
[ "$rc" = 0 ] || fail "netd exited with status $rc after SIGTERM with detaches pending"
[ "$(in_group "$REAP_GROUP")" = 0 ] || fail "links left in the reaper's group after SIGTERM"
left=$(in_group "$PORT_GROUP")
ok "netd exited 0; of 100 detached TAPs, $(cat "$IT_TMP/answered") answered, $((before + 150 - left)) deleted; $left netd TAPs left"

# ---------------------------------------------------------------- 6
[ "$left" -gt 0 ] || fail "no netd TAP left for --cleanup to delete"
netd_cmd --cleanup --config-dir "$IT_CONF" --state-dir "$IT_STATE" --run-dir "$IT_RUN" \
	>>"$IT_NETD_LOG" 2>&1 || fail "netd --cleanup exited $?"
rest=$(ip -n "$IT_HOST" -o -d link show | grep -E 'alias netd' || true)
[ -z "$rest" ] || fail "links with a netd alias left after --cleanup: $rest"
[ "$(in_group "$PORT_GROUP")" = 0 ] || fail "links left in netd's port group after --cleanup"
link_exists "$IT_HOST" itatt0 || fail "--cleanup deleted the attached TAP itatt0"
ip -n "$IT_HOST" -o link show dev itatt0 | grep -q ' master ' &&
	fail "--cleanup left itatt0 enslaved: $(ip -n "$IT_HOST" -o link show dev itatt0)"
link_exists "$IT_HOST" "$BR" && fail "--cleanup left the bridge $BR"
grep -E 'deleted [0-9]+ TAPs' "$IT_NETD_LOG" | tail -n 1 | sed 's/^/# /'
ok "--cleanup deleted the $left netd TAPs and released itatt0"
