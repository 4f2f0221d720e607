#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 40, restarts under live traffic: a guest pings its gateway every
# 20 ms (busybox ping, counted) and holds one TCP connection through NAT to
# a server outside that exchanges a line every 50 ms.  netd is SIGTERMed
# and started again, then SIGKILLed and started again, while the traffic
# goes on.  Afterwards:
#  - no echo reply is missing (every sequence number up to the last one
#    answered; at most the one in flight when ping was stopped unanswered);
#  - the TCP connection never failed, still exchanges lines, and its
#    largest gap between two exchanges is printed (and under 1 s);
#  - the guest's lease line in STATE_DIR is unchanged, and so is its address;
#  - every link in HOST kept its ifindex, name, master, alias and MAC: the
#    bridge, a persistent port (netdctl attach --owner nobody), whose owner
#    and `netdctl ports` row are unchanged too, and a port.open TAP whose fd
#    a client holds throughout; once that client closes it, the restarted
#    netd drops the port;
#  - dnsmasq kept its pid, and `nft list table inet netd` is identical.
. "$(dirname "$0")/lib.sh"

it_init
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
id -u nobody >/dev/null 2>&1 || skip "no user nobody"
it_topology

NET=live
BR=itlv0
GW=10.241.0.1
MAC=52:54:00:40:00:01
SOCK=$IT_RUN/netd.sock
net_conf "$NET" <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=$GW/24

[DHCP]
Range=10.241.0.100-10.241.0.149
CONF

ctl() { hx "$NETDCTL" --socket "$SOCK" "$@"; }
. "$IT_DIR/traffic.sh"
# holder.py SOCK NET RELEASE: port.open on NET; print the TAP's name, hold
# its fd until RELEASE exists (at most 120 s), then close it.
cat >"$IT_TMP/holder.py" <<'PY'
import array, json, os, socket, sys, time

sock, net, release = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
s.sendall((json.dumps({"id": 1, "op": "port.open", "args": {"network": net}}) + "\n").encode())
buf, fds = b"", []
while not buf.endswith(b"\n"):
    msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(8 * 4))
    if not msg:
        break
    buf += msg
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            a = array.array("i")
            a.frombytes(data[:len(data) - len(data) % a.itemsize])
            fds.extend(a)
r = json.loads(buf)
if not r.get("ok") or len(fds) != 1:
    print("error %s fds=%d" % (buf.decode().strip(), len(fds)), flush=True)
    sys.exit(1)
s.close()
print(r["result"]["ifname"], flush=True)
end = time.monotonic() + 120
while not os.path.exists(release) and time.monotonic() < end:
    time.sleep(0.05)
os.close(fds[0])
PY


# ---------------------------------------------------------------- snapshot
# links.py: every link in HOST as "ifindex name master alias mac".
links_snapshot()
{
	ip -n "$IT_HOST" -j -d link show | "$IT_PY" -c '
import json, sys
for l in sorted(json.load(sys.stdin), key=lambda l: l["ifindex"]):
    print(l["ifindex"], l["ifname"], l.get("master", "-"), repr(l.get("ifalias", "")), l.get("address", "-"))'
}
port_row()
{
	ctl --json ports | "$IT_PY" -c '
import json, sys
for p in json.load(sys.stdin)["ports"]:
    if p["ifname"] == sys.argv[1]:
        print(" ".join(str(p.get(k)) for k in ("ifname", "network", "kind", "owner", "owner_name", "mac")))' "$1"
}
guest_addr() { ip -n "${IT_PREFIX}g1" -4 -o addr show dev eth0 | awk '{ print $4 }'; }
lease_line() { grep -i " $MAC " "$IT_STATE/$NET.leases"; }

snapshot()
{
	local d=$IT_TMP/snap.$1
	mkdir -p "$d"
	links_snapshot >"$d/links" || fail "cannot list HOST links"
	hx nft list table inet netd >"$d/nft" 2>&1 || fail "no table inet netd: $(cat "$d/nft")"
	dnsmasq_pid "$NET" >"$d/dnsmasq"
	lease_line >"$d/lease" || fail "lease of $MAC missing from $IT_STATE/$NET.leases"
	guest_addr >"$d/addr"
	hx cat "/sys/class/net/$T/owner" >"$d/owner" 2>&1
	port_row "$T" >"$d/port.$T"
	port_row "$H" >"$d/port.$H"
}

# same_as_before LABEL: compare snapshot LABEL with "before".
same_as_before()
{
	local a=$IT_TMP/snap.before b=$IT_TMP/snap.$1 f
	snapshot "$1"
	diff -u "$a/links" "$b/links" || fail "$1: links changed (ifindex name master alias mac; diff above)"
	ok "$1: every HOST link kept ifindex, master, alias and MAC ($(grep -c . "$b/links") links: $BR, $T, $H, ...)"
	diff -u "$a/nft" "$b/nft" || fail "$1: table inet netd changed (diff above)"
	ok "$1: table inet netd identical"
	[ "$(cat "$b/dnsmasq")" = "$(cat "$a/dnsmasq")" ] && dnsmasq_running "$NET" ||
		fail "$1: dnsmasq pid $(cat "$a/dnsmasq") before, '$(cat "$b/dnsmasq")' now"
	ok "$1: dnsmasq kept pid $(cat "$b/dnsmasq")"
	diff -u "$a/lease" "$b/lease" || fail "$1: the guest's lease line changed"
	[ "$(cat "$b/addr")" = "$(cat "$a/addr")" ] || fail "$1: guest address $(cat "$a/addr") -> $(cat "$b/addr")"
	ok "$1: lease line unchanged ($(cat "$b/lease")), guest address $(cat "$b/addr")"
	for f in owner "port.$T" "port.$H"; do
		diff -u "$a/$f" "$b/$f" || fail "$1: $f changed (diff above)"
	done
	ok "$1: ports unchanged in netdctl ports: $(cat "$b/port.$T"); $(cat "$b/port.$H")"
}

# ---------------------------------------------------------------- setup
netd_start
expect_bridge "$NET" "$BR"
expect_dnsmasq "$NET"
guest_add g1 "$BR" "$MAC"
guests_dhcp g1
G1=$(guest_ip g1)

T=$(ctl attach "$NET" --owner nobody 2>"$IT_TMP/ctl.err") || fail "netdctl attach --owner nobody: $(cat "$IT_TMP/ctl.err")"
link_exists "$IT_HOST" "$T" || fail "netdctl attach printed '$T', no such link"
ip netns exec "$IT_HOST" "$IT_PY" "$IT_TMP/holder.py" "$SOCK" "$NET" "$IT_TMP/release" >"$IT_TMP/holder.out" 2>&1 </dev/null &
HOLDER=$!
holder_said() { [ -s "$IT_TMP/holder.out" ] || ! proc_alive "$HOLDER"; }
wait_for 5 "port.open client to report its TAP" holder_said
H=$(head -n 1 "$IT_TMP/holder.out")
link_exists "$IT_HOST" "$H" || fail "port.open client: '$(cat "$IT_TMP/holder.out")', no such link"
[ -n "$(port_row "$T")" ] && [ -n "$(port_row "$H")" ] || fail "netdctl ports lacks $T or $H: $(ctl ports)"
ok "persistent port $T (owner nobody), open port $H (fd held by pid $HOLDER)"

ip netns exec "$IT_OUT" "$IT_PY" "$IT_TMP/stream.py" serve 7100 </dev/null >>"$IT_TMP/stream-server.log" 2>&1 &
wait_for 5 "stream server" tcp_listening "$IT_OUT" 7100
ip netns exec "${IT_PREFIX}g1" "$IT_PY" "$IT_TMP/stream.py" client "$UPLINK_OUT" 7100 "$IT_TMP/stream.status" </dev/null \
	>>"$IT_TMP/stream.log" 2>&1 &
STREAM=$!
ip netns exec "${IT_PREFIX}g1" "$IT_PY" "$IT_TMP/pinger.py" "$GW" 0.02 "$IT_TMP/ping.log" </dev/null >/dev/null 2>&1 &
PINGER=$!
ping_going() { [ "$(grep -c ' seq=' "$IT_TMP/ping.log" 2>/dev/null)" -ge 10 ] 2>/dev/null; }
wait_for 5 "guest's pings to be answered" ping_going
stream_moves "before the restarts"
snapshot before
log "guest $G1, bridge ifindex $(link_ifindex "$IT_HOST" "$BR"), dnsmasq $(cat "$IT_TMP/snap.before/dnsmasq")"
it_setup_done

# ---------------------------------------------------------------- SIGTERM
sleep 0.5
netd_stop
sleep 0.5
stream_alive
netd_start
sleep 0.5
same_as_before "after SIGTERM and restart"
stream_moves "after SIGTERM and restart"

# ---------------------------------------------------------------- SIGKILL
kill -KILL "$IT_NETD_PID"
wait_for 5 "netd to die of SIGKILL" netd_gone
{ wait "$IT_NETD_PID"; rc=$?; } 2>/dev/null
[ "$rc" = 137 ] || fail "netd exited $rc after SIGKILL, expected 137"
IT_NETD_PID=""
ok "netd killed with SIGKILL"
sleep 0.5
stream_alive
netd_start
sleep 1
same_as_before "after SIGKILL and restart"
stream_moves "after SIGKILL and restart"

# ---------------------------------------------------------------- results
kill -TERM "$PINGER"
wait "$PINGER"
res=$("$IT_PY" "$IT_TMP/pingcheck.py" "$IT_TMP/ping.log") ||
	fail "pings to the gateway were lost across the restarts: $res"
ok "no ping lost across both restarts: $res"
kill -TERM "$STREAM"
wait "$STREAM"
read -r n gap rtx state <"$IT_TMP/stream.status"
[ "$state" = "done" ] || fail "TCP stream: $n exchanges, then $state"
server_done() { grep -qE '^(retrans|error) ' "$IT_TMP/stream-server.log"; }
wait_for 5 "the stream server to report on the connection" server_done
srtx=$(sed -n 's/^retrans //p' "$IT_TMP/stream-server.log")
[ -n "$srtx" ] || fail "stream server: $(cat "$IT_TMP/stream-server.log")"
# A lost segment is retransmitted: none may be.  The largest gap between
# two exchanges is mostly scheduling (it is printed); only a stall of
# seconds fails.
[ "$rtx" = 0 ] && [ "$srtx" = 0 ] ||
	fail "TCP segments were retransmitted (lost): $rtx by the guest, $srtx by the server; largest gap $gap ms"
[ "$gap" -lt 5000 ] || fail "TCP stream stalled for $gap ms"
ok "TCP connection through NAT never broke: $n exchanges, no retransmission, largest gap $gap ms"

# The restarted netd follows the port.open TAP it adopted.
touch "$IT_TMP/release"
wait "$HOLDER" || fail "port.open client failed: $(cat "$IT_TMP/holder.out")"
h_gone() { ! link_exists "$IT_HOST" "$H" && [ -z "$(port_row "$H")" ]; }
wait_for 5 "$H to vanish from HOST and from netdctl ports once its fd is closed" h_gone
ok "$H gone with its fd, and netd forgot it"
[ -n "$(port_row "$T")" ] || fail "persistent port $T left netdctl ports"
netd_stop
