#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 42, dnsmasq dies under netd:
#  - a guest has a lease; kill -9 the network's dnsmasq: a new guest (fresh
#    MAC) gets a lease within 2 s of the kill (the time is printed), the
#    dnsmasq pid changed, and the first guest's lease is still in the lease
#    file and in `netdctl leases`;
#  - kill it again as soon as each new one is up, 6 times: netd backs off
#    (`netdctl show --json` reports state "restarting", the error of the
#    last death and a growing "restarts"; the delays between a death and
#    the next start grow), then recovers: dnsmasq running again, a third
#    guest gets a lease, the old leases are still known;
#  - a fresh netd with NETD_DNSMASQ=/nonexistent/dnsmasq (after --cleanup):
#    the networks that need dnsmasq report a clear error in `netdctl show`
#    (human and --json) and in the log; a Mode=bridge network (no dnsmasq)
#    is fine and takes a port; netd keeps running and answers.
. "$(dirname "$0")/lib.sh"

it_init
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
ns_add host

NET=dk
BR=itdk0
net_conf "$NET" <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=10.243.0.1/24

[DHCP]
Range=10.243.0.100-10.243.0.149
CONF
SOCK=$IT_RUN/netd.sock
ctl() { hx "$NETDCTL" --socket "$SOCK" "$@"; }

# dm FIELD [NET]: a field of the dnsmasq object in `netdctl show --json NET`.
dm()
{
	ctl --json show "${2:-$NET}" | "$IT_PY" -c '
import json, sys
v = json.load(sys.stdin)["network"]["dnsmasq"].get(sys.argv[1])
print("-" if v is None else v)' "$1"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# new_dnsmasq OLD: the pid file names a live dnsmasq other than OLD.
new_dnsmasq() { [ "$(dnsmasq_pid "$NET")" != "$1" ] && dnsmasq_running "$NET"; }
lease_known()
{
	grep -qiE "^[0-9]+ $1 $2 " "$IT_STATE/$NET.leases" ||
		fail "lease file lost $1 $2: $(cat "$IT_STATE/$NET.leases")"
	ctl leases "$NET" | grep -qiE "^$1 +$2 " || fail "netdctl leases lacks $1 $2: $(ctl leases "$NET")"
}

netd_start
expect_bridge "$NET" "$BR"
expect_dnsmasq "$NET"
guest_add g1 "$BR" 52:54:00:42:00:01
guest_add g2 "$BR" 52:54:00:42:00:02
guest_add g3 "$BR" 52:54:00:42:00:03
guests_dhcp g1
G1=$(guest_ip g1)
it_setup_done

# ---------------------------------------------------------------- one kill
D0=$(dnsmasq_pid "$NET")
t0=$(now_ms)
kill -KILL "$D0" || fail "cannot kill dnsmasq $D0"
guest_dhcp_cmd g2 &
DH=$!
g2_leased() { [ -s "$IT_TMP/guest/g2.lease" ] || ! proc_alive "$DH"; }
wait_for 5 "guest g2's lease after the kill" g2_leased
t1=$(now_ms)
wait "$DH" || fail "guest g2 got no lease after dnsmasq was killed: $(cat "$IT_TMP/guest/g2.udhcpc.log")"
[ $((t1 - t0)) -le 2000 ] || fail "guest g2 leased $(guest_ip g2) $((t1 - t0)) ms after the kill (limit 2000 ms)"
ok "new guest g2 leased $(guest_ip g2) $((t1 - t0)) ms after kill -9 of dnsmasq $D0"
wait_for 3 "a new dnsmasq" new_dnsmasq "$D0"
D1=$(dnsmasq_pid "$NET")
ok "dnsmasq pid changed: $D0 -> $D1"
lease_known 52:54:00:42:00:01 "$G1"
ok "first guest's lease ($G1) still in the lease file and netdctl leases"
R0=$(dm restarts)
[ "$R0" -ge 1 ] 2>/dev/null || fail "netdctl show: dnsmasq restarts is '$R0' after a kill, expected >= 1"
grep -q "dnsmasq (pid $D0) killed by signal 9" "$IT_NETD_LOG" ||
	fail "netd's log does not say dnsmasq $D0 was killed by signal 9"
ok "restarts $R0; log: $(grep -m1 "dnsmasq (pid $D0) killed" "$IT_NETD_LOG")"

# ---------------------------------------------------------------- crash loop
# Kill each new dnsmasq as soon as it is up.  After each kill `restarts`
# grows by one; while netd waits, show says "restarting" (looked for after
# the kills netd waits 800 ms or more for: a shorter wait may be over
# before netdctl looks).
prev=$D1
for k in 1 2 3 4 5 6; do
	kill -KILL "$prev" || fail "cannot kill dnsmasq $prev"
	tk=$(now_ms)
	restarts_is() { [ "$(dm restarts)" = "$1" ]; }
	wait_for 2 "restarts to reach $((R0 + k)) after kill $k" restarts_is $((R0 + k))
	st=$(dm state)
	if [ "$k" -ge 3 ]; then
		[ "$st" = restarting ] && [ "$(dm pid)" = - ] ||
			fail "kill $k: netdctl show says dnsmasq '$st', pid $(dm pid), expected restarting and no pid"
	fi
	wait_for 15 "dnsmasq restart $k" new_dnsmasq "$prev"
	prev=$(dnsmasq_pid "$NET")
	log "kill $k: restarts $((R0 + k)), state '$st', next dnsmasq $prev $(($(now_ms) - tk)) ms after the kill"
done
ok "netdctl show: restarts grew by one per kill, state 'restarting' while netd waited"
R1=$(dm restarts)
[ "$R1" -ge $((R0 + 6)) ] 2>/dev/null || fail "dnsmasq restarts went $R0 -> $R1 after 6 kills"
err=$(dm error)
grep -q "killed by signal 9" <<<"$err" || fail "netdctl show: dnsmasq error '$err' does not say how it died"
ok "restarts $R0 -> $R1; error: $err"
# Back-off: each delay at least the one before (100 ms doubling).
delays=$(grep -oE "$NET: restarting dnsmasq in [0-9]+ ms" "$IT_NETD_LOG" | awk '{ print $5 }' | tail -n 7 | tr '\n' ' ')
# shellcheck disable=SC2086
"$IT_PY" - $delays <<'PY' || fail "restart delays do not back off: $delays"
import sys
d = [int(x) for x in sys.argv[1:]]
sys.exit(0 if len(d) == 7 and all(b >= 2 * a or b >= 30000 for a, b in zip(d, d[1:])) else 1)
PY
ok "netd backed off: restart delays $delays ms"
show=$(ctl show "$NET")
grep -qE "^dnsmasq: +[a-z]+ .*restarts" <<<"$show" || fail "netdctl show: no dnsmasq restarts line: $show"
ok "netdctl show: $(grep -E '^dnsmasq:' <<<"$show" | cut -c1-160)"

# Recovery: the last one stays up.
dm_running() { [ "$(dm state)" = running ] && [ "$(dm pid)" = "$(dnsmasq_pid "$NET")" ]; }
wait_for 5 "netdctl show to report dnsmasq running" dm_running
guests_dhcp g3
lease_known 52:54:00:42:00:01 "$G1"
lease_known 52:54:00:42:00:02 "$(guest_ip g2)"
ok "recovered: dnsmasq $(dm pid) running, g3 leased $(guest_ip g3), old leases kept"
proc_alive "$IT_NETD_PID" || fail "netd died"

# ---------------------------------------------------------------- no dnsmasq
netd_stop
netd_cmd --cleanup --config-dir "$IT_CONF" --state-dir "$IT_STATE" --run-dir "$IT_RUN" \
	>>"$IT_NETD_LOG" 2>&1 || fail "netd --cleanup exited $?"
must ip -n "$IT_HOST" link add itlan0 type bridge
must ip -n "$IT_HOST" link set itlan0 up
net_conf lan <<CONF
[Network]
Mode=bridge
Bridge=itlan0
CONF
net_conf iso <<CONF
[Network]
Mode=isolated
Bridge=itdk1
Address=10.243.1.1/24
CONF
export NETD_DNSMASQ=/nonexistent/dnsmasq
netd_start
unset NETD_DNSMASQ
for n in "$NET" iso; do
	st=$(dm state "$n")
	err=$(dm error "$n")
	[ "$st" != running ] && [ "$st" != starting ] || fail "$n: dnsmasq state '$st' with NETD_DNSMASQ=/nonexistent/dnsmasq"
	grep -qi dnsmasq <<<"$err" && [ "$err" != - ] || fail "$n: no dnsmasq error in netdctl show --json: '$err'"
	ctl show "$n" | grep -qE "^dnsmasq: .*error: .*dnsmasq" || fail "$n: netdctl show has no dnsmasq error: $(ctl show "$n")"
	ok "$n: dnsmasq state '$st', error: $err"
	grep -qF -- "/nonexistent/dnsmasq" <<<"$err" ||
		log "NOTE: $n's dnsmasq error does not name the binary it tried (/nonexistent/dnsmasq)"
done
grep -E "(^|: )($NET|iso): .*(cannot start dnsmasq|dnsmasq)" "$IT_NETD_LOG" | tail -n 4 | grep -q . ||
	fail "netd's log has no dnsmasq error for the networks"
ok "log: $(grep -E "iso: .*dnsmasq" "$IT_NETD_LOG" | tail -n 1)"
expect_bridge "$NET" "$BR"
st=$(dm state lan)
err=$(dm error lan)
[ "$st" = not-needed ] && [ "$err" = - ] || fail "lan (Mode=bridge): dnsmasq state '$st', error '$err'"
[ "$(ctl --json show lan | "$IT_PY" -c 'import json, sys; print(json.load(sys.stdin)["network"]["state"])')" = running ] ||
	fail "lan (Mode=bridge) is not running: $(ctl show lan)"
P=$(ctl attach lan 2>&1) || fail "netdctl attach lan: $P"
ip -n "$IT_HOST" -o link show dev "$P" | grep -q " master itlan0 " || fail "port $P not on itlan0"
ok "Mode=bridge network lan is fine: running, dnsmasq not-needed, port $P on itlan0"
sleep 1
proc_alive "$IT_NETD_PID" || fail "netd died without dnsmasq"
ctl status >/dev/null || fail "netd does not answer"
ok "netd keeps running without a dnsmasq binary"
netd_stop
