#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 45, someone else wipes netd's ruleset.  A guest pings a host
# outside (203.0.113.2) every 20 ms through NAT.
#  - `nft flush ruleset` in HOST: the pings resume within 1 s (the gap is
#    measured from the ping log's time stamps and printed), `nft list
#    table inet netd` is back exactly as before, firewall_repairs grew;
#  - `nft delete table inet netd`: the same;
#  - a foreign table with a FORWARD chain whose policy is drop (what Docker
#    does): `netdctl status` names it (human line, and --json
#    firewall_conflicts with family, table, chain, hook); netd leaves that
#    table alone and does not count it as a repair of its own; once it is
#    gone, no conflict is reported.
. "$(dirname "$0")/lib.sh"

it_init
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
it_topology
SOCK=$IT_RUN/netd.sock
ctl() { hx "$NETDCTL" --socket "$SOCK" "$@"; }

NET=fl
BR=itfl0
net_conf "$NET" <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=10.245.0.1/24

[DHCP]
Range=10.245.0.100-10.245.0.149
CONF

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
# pinggap.py LOG T WINDOW: around time T (monotonic), the largest gap
# between two consecutive echo replies, from the last reply before T to
# T + WINDOW s; prints "GAP_MS LOST REPLIES_AFTER".
cat >"$IT_TMP/pinggap.py" <<'PY'
import re, sys

log, t, window = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rep = []
for line in open(log):
    m = re.match(r"^(\S+) \d+ bytes from .*: seq=(\d+) ", line)
    if m:
        rep.append((float(m.group(1)), int(m.group(2))))
before = [r for r in rep if r[0] <= t]
after = [r for r in rep if t < r[0] <= t + window]
if not before or not after:
    print("-1 -1 %d" % len(after))
    sys.exit(0)
seq = [before[-1]] + after
gap = max(b[0] - a[0] for a, b in zip(seq, seq[1:]))
lost = sum(b[1] - a[1] - 1 for a, b in zip(seq, seq[1:]))
print("%.0f %d %d" % (gap * 1000, lost, len(after)))
PY
# event.py CMD...: print CLOCK_MONOTONIC right before running CMD.
cat >"$IT_TMP/event.py" <<'PY'
import subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:])
print("%.6f" % t)
sys.exit(r.returncode)
PY

status_json() { ctl --json status | "$IT_PY" -c "import json, sys; o = json.load(sys.stdin); print($1)"; }
table_is() { hx nft list table inet netd 2>/dev/null | cmp -s - "$IT_TMP/nft.before"; }

# wipe DESC CMD...: run CMD in HOST; netd restores its table within 1 s,
# and the pings resume within 1 s.
wipe()
{
	local desc=$1 t r0 gap lost after
	shift
	r0=$(status_json 'o["firewall_repairs"]')
	t=$(hx "$IT_PY" "$IT_TMP/event.py" "$@") || fail "$desc: $* failed"
	wait_for 1 "table inet netd restored after $desc" table_is
	ok "$desc: table inet netd back exactly as before"
	sleep 1.5
	read -r gap lost after <<<"$("$IT_PY" "$IT_TMP/pinggap.py" "$IT_TMP/ping.log" "$t" 1.5)"
	[ "$after" -ge 20 ] || fail "$desc: only $after echo replies in the 1.5 s after it (gap $gap ms)"
	[ "$gap" -ge 0 ] && [ "$gap" -lt 1000 ] || fail "$desc: pings stopped for $gap ms (limit 1000)"
	ok "$desc: pings resumed: largest gap $gap ms, $lost echo requests unanswered"
	hx nft list table inet netd | diff -u "$IT_TMP/nft.before" - || fail "$desc: table differs now"
	[ "$(status_json 'o["firewall_repairs"]')" -gt "$r0" ] || fail "$desc: firewall_repairs did not grow from $r0"
	ok "$desc: firewall_repairs $r0 -> $(status_json 'o["firewall_repairs"]')"
}

netd_start
expect_bridge "$NET" "$BR"
guest_add g1 "$BR" 52:54:00:45:00:01
guests_dhcp g1
ip netns exec "${IT_PREFIX}g1" "$IT_PY" "$IT_TMP/pinger.py" "$UPLINK_OUT" 0.02 "$IT_TMP/ping.log" \
	</dev/null >/dev/null 2>&1 &
PINGER=$!
ping_going() { [ "$(grep -c ' seq=' "$IT_TMP/ping.log" 2>/dev/null)" -ge 10 ] 2>/dev/null; }
wait_for 5 "the guest's pings to $UPLINK_OUT to be answered" ping_going
hx nft list table inet netd >"$IT_TMP/nft.before" || fail "no table inet netd"
[ "$(status_json 'len(o["firewall_conflicts"])')" = 0 ] || fail "conflicts reported before any: $(ctl status)"
it_setup_done

wipe "nft flush ruleset" nft flush ruleset
wipe "nft delete table inet netd" nft delete table inet netd

# ---------------------------------------------------------------- foreign drop
R0=$(status_json 'o["firewall_repairs"]')
must hx nft add table ip filter
must hx nft add chain ip filter FORWARD '{ type filter hook forward priority 0; policy drop; }'
hx nft list table ip filter >"$IT_TMP/filter.before"
line=$(ctl status | grep -E '^firewall_conflicts:')
grep -q "table ip filter" <<<"$line" && grep -q "chain FORWARD" <<<"$line" ||
	fail "netdctl status does not name table ip filter, chain FORWARD: $(ctl status)"
ok "netdctl status: $line"
got=$(status_json '" ".join("%s/%s/%s/%s" % (c["family"], c["table"], c["chain"], c["hook"]) for c in o["firewall_conflicts"])')
[ "$got" = "ip/filter/FORWARD/forward" ] || fail "netdctl --json status firewall_conflicts: '$got', expected ip/filter/FORWARD/forward"
ok "netdctl --json status: firewall_conflicts $got"
sleep 0.5
hx nft list table ip filter | diff -u "$IT_TMP/filter.before" - || fail "netd changed table ip filter"
[ "$(status_json 'o["firewall_repairs"]')" = "$R0" ] ||
	fail "adding another table counted as a repair of netd's ($R0 -> $(status_json 'o["firewall_repairs"]'))"
hx nft list table inet netd | diff -u "$IT_TMP/nft.before" - || fail "table inet netd changed"
ok "netd left table ip filter alone, no repair counted"
must hx nft delete table ip filter
[ "$(status_json 'len(o["firewall_conflicts"])')" = 0 ] || fail "conflict still reported after the table went: $(ctl status)"
ok "no conflict reported once table ip filter is gone"

kill -TERM "$PINGER"
wait "$PINGER"
netd_stop
