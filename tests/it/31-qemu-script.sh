#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 31, QEMU with its own TAP and the shipped hooks: a real QEMU
# (TCG) guest, QEMU running as root, with
#   -netdev tap,id=n0,[ifname=IF,]script=examples/qemu/qemu-ifup,downscript=examples/qemu/qemu-ifdown
# QEMU creates the TAP; qemu-ifup runs `netdctl attach NET --ifname IF`
# (netdctl found through PATH, NETD_SOCKET and NETD_NETWORK set in QEMU's
# environment, which QEMU passes on to its hooks).
#
# Boot 1 (ifname=itqs0, QEMU stopped with SIGTERM so the downscript runs):
# the guest gets a lease and reaches OUTSIDE over TCP; `netdctl ports`
# lists the port as attached, owned by root, with the guest's MAC; once
# QEMU is gone the port is gone too (within 1 s), netd's log says it was
# detached (the downscript), and no TAP is left.
# Boot 2 (QEMU picks tapN, killed with SIGKILL: no downscript): the same,
# except that netd must notice the TAP's deletion on its own.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/qemu/lib.sh
. "$IT_DIR/../qemu/lib.sh"

it_init
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
qemu_guest_build >"$IT_TMP/build-guest.log" 2>&1
case $? in
0) ;;
77) skip "QEMU or the guest kernel cannot be installed: $(tail -n 1 "$IT_TMP/build-guest.log")" ;;
*) cat "$IT_TMP/build-guest.log" >&2; fail "tests/qemu/build-guest.sh failed" ;;
esac
IFUP=$(cd "$IT_DIR/../../examples/qemu" && pwd)/qemu-ifup
IFDOWN=$(dirname "$IFUP")/qemu-ifdown
[ -x "$IFUP" ] && [ -x "$IFDOWN" ] || fail "$IFUP or $IFDOWN missing or not executable"

it_topology
NET=lab
BR=itqs0br
GW=10.231.0.1
PORT=7031
net_conf "$NET" <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=$GW/24

[DHCP]
Range=10.231.0.100-10.231.0.149
CONF

SOCK=$IT_RUN/netd.sock
ctl() { hx "$NETDCTL" --socket "$SOCK" "$@"; }

netd_start
expect_bridge "$NET" "$BR"
expect_dnsmasq "$NET"
tcp_server out "$PORT"
it_setup_done

now_ms() { echo $(($(date +%s%N) / 1000000)); }
no_taps() { ! ip -n "$IT_HOST" -o link show type tun | grep -q .; }

# port_json IFNAME: the port's object from `netdctl --json ports`, one line.
port_json()
{
	ctl --json ports | "$IT_PY" -c '
import json, sys
for p in json.load(sys.stdin)["ports"]:
    if p["ifname"] == sys.argv[1]:
        print(json.dumps(p, sort_keys=True))' "$1"
}
port_listed() { [ -n "$(port_json "$1")" ]; }
port_gone() { ! port_listed "$1"; }
port_field() { "$IT_PY" -c 'import json, sys; v = json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
port_has_mac() { [ "$(port_field "$(port_json "$1")" mac)" = "$2" ]; }
lease_row() { ctl leases | awk -v m="$1" 'NR > 1 && tolower($1) == m'; }
lease_listed() { [ -n "$(lease_row "$1")" ]; }

# boot NAME MAC HOSTNAME [IFNAME]: QEMU as root, TAP made by QEMU, hooks attach it.
boot()
{
	local name=$1 mac=$2 host=$3 ifname=${4:-} nd
	nd="tap,id=n0,script=$IFUP,downscript=$IFDOWN"
	[ -n "$ifname" ] && nd="tap,id=n0,ifname=$ifname,script=$IFUP,downscript=$IFDOWN"
	PATH="$(dirname "$NETDCTL"):$PATH" NETD_SOCKET=$SOCK NETD_NETWORK=$NET \
	QEMU_GUEST_MAC=$mac \
	QEMU_GUEST_PARAMS="netd.hostname=$host netd.tcp=$UPLINK_OUT:$PORT netd.stay=60" \
		qemu_guest_start "$IT_HOST" "$IT_TMP/$name.log" -netdev "$nd" >/dev/null ||
		fail "cannot start QEMU"
	QPID=$QEMU_GUEST_PID
	log "$name: QEMU pid $QPID as root, -netdev $nd"
}

# guest_checks NAME MAC HOSTNAME: lease, TCP, the attached port; sets TAP.
guest_checks()
{
	local name=$1 mac=$2 host=$3 t0 p row gip
	t0=$(now_ms)
	qemu_guest_wait_marker "$IT_TMP/$name.log" '^(lease [0-9.]+|dhcp-failed)$' 60 "$QPID" >/dev/null ||
		fail "$name: no lease marker"
	case "$QEMU_GUEST_MARKER" in
	"lease 10.231.0."*) gip=${QEMU_GUEST_MARKER#lease } ;;
	*) fail "$name: guest reported '$QEMU_GUEST_MARKER'" ;;
	esac
	ok "$name: guest leased $gip ($(($(now_ms) - t0)) ms after QEMU started)"
	qemu_guest_wait_marker "$IT_TMP/$name.log" '^tcp-(ok|failed)' 30 "$QPID" >/dev/null ||
		fail "$name: no tcp marker"
	[ "$QEMU_GUEST_MARKER" = "tcp-ok $UPLINK_HOST" ] ||
		fail "$name: guest's TCP to $UPLINK_OUT:$PORT gave '$QEMU_GUEST_MARKER', expected 'tcp-ok $UPLINK_HOST'"
	ok "$name: guest reached $UPLINK_OUT:$PORT, seen as $UPLINK_HOST"

	# The TAP QEMU made: the one tun link in HOST.
	TAP=$(ip -n "$IT_HOST" -o link show type tun | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')
	[ "$(printf '%s\n' "$TAP" | grep -c .)" = 1 ] || fail "$name: expected one TAP in HOST, found '$TAP'"
	[ -z "${4:-}" ] || [ "$TAP" = "$4" ] || fail "$name: QEMU's TAP is $TAP, expected $4"
	ip -n "$IT_HOST" -o link show dev "$TAP" | grep -q " master $BR " ||
		fail "$name: $TAP is not enslaved to $BR: $(ip -n "$IT_HOST" -o link show dev "$TAP")"
	p=$(port_json "$TAP")
	[ -n "$p" ] || fail "$name: netdctl ports does not list $TAP: $(ctl ports)"
	[ "$(port_field "$p" kind)" = attached ] && [ "$(port_field "$p" network)" = "$NET" ] &&
		[ "$(port_field "$p" owner_name)" = root ] && [ "$(port_field "$p" state)" = up ] ||
		fail "$name: port $TAP: $p, expected kind attached, network $NET, owner root, state up"
	wait_for 3 "$name: netdctl ports shows MAC $mac for $TAP" port_has_mac "$TAP" "$mac"
	ok "$name: netdctl ports: $(ctl ports | awk -v i="$TAP" '$1 == i') (kind attached)"
	wait_for 5 "$name: netdctl leases lists $mac" lease_listed "$mac"
	row=$(lease_row "$mac")
	[ "$(awk '{ print $2 }' <<<"$row")" = "$gip" ] && [ "$(awk '{ print $3 }' <<<"$row")" = "$host" ] ||
		fail "$name: netdctl leases has '$row' for $mac, expected $gip $host"
	ok "$name: netdctl leases: $row"
}

# stop_qemu SIGNAL WHY: signal QEMU, tight poll until it is gone.
stop_qemu()
{
	local end=$(($(now_ms) + 10000))
	kill -s "$1" "$QPID" || fail "cannot signal QEMU ($QPID)"
	while qemu_guest_alive "$QPID"; do
		[ "$(now_ms)" -lt "$end" ] || fail "QEMU (pid $QPID) still running 10 s after SIG$1"
		sleep 0.02
	done
}

# port_gone_after_exit NAME WHY: within 1 s, and netd's log says WHY.
port_gone_after_exit()
{
	local name=$1 why=$2 t0 dt
	t0=$(now_ms)
	wait_for 3 "$name: port $TAP to leave netdctl ports" port_gone "$TAP"
	dt=$(($(now_ms) - t0))
	[ "$dt" -le 1000 ] || fail "$name: port $TAP left netdctl ports ${dt} ms after QEMU exited (limit 1000 ms)"
	ok "$name: port $TAP gone from netdctl ports ${dt} ms after QEMU exited"
	grep -qE "port $TAP removed: $why" "$IT_NETD_LOG" ||
		fail "$name: netd's log does not say 'port $TAP removed: $why': $(grep "port $TAP" "$IT_NETD_LOG")"
	ok "$name: netd: $(grep -E "port $TAP removed" "$IT_NETD_LOG" | tail -n 1)"
	wait_for 2 "$name: no TAP left in HOST" no_taps
	ok "$name: no TAP left in HOST"
	qemu_guest_stop "$QPID"
}

MAC1=52:54:00:31:00:01
boot g1 "$MAC1" qscript1 itqs0
guest_checks g1 "$MAC1" qscript1 itqs0
stop_qemu TERM
port_gone_after_exit g1 detached

MAC2=52:54:00:31:00:02
boot g2 "$MAC2" qscript2
guest_checks g2 "$MAC2" qscript2
stop_qemu KILL
port_gone_after_exit g2 "link deleted"
netd_stop
