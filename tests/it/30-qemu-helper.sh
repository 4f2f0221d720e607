#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 30, unprivileged QEMU through netd-bridge-helper: a real QEMU
# (TCG) guest started by user nobody with
#   -netdev bridge,id=n0,br=NET,helper=$NETD_BRIDGE_HELPER
# on a nat network whose [Access] lists nobody.  QEMU never opens
# /dev/net/tun (mode 0600 here): netd hands the helper the TAP's fd.
#
# First boot (br=NETWORK NAME): the guest gets a lease and reaches a TCP
# server in OUTSIDE (masqueraded); while it runs `netdctl ports` lists its
# port (owner nobody, the guest's MAC learned by the bridge) and `netdctl
# leases` its MAC, address and hostname; QEMU is stopped, and within 1 s
# the port is gone from `netdctl ports` and no TAP is left.
# Second boot (br=BRIDGE DEVICE): same network, the guest powers off by
# itself, and again the port goes away within 1 s.
# A `netdctl monitor` started before QEMU prints port.added, lease.added
# and port.removed for each guest, in that order.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/qemu/lib.sh
. "$IT_DIR/../qemu/lib.sh"

it_init
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
NETD_BRIDGE_HELPER=${NETD_BRIDGE_HELPER:-$IT_DIR/../../build/netd/netd-bridge-helper}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
[ -x "$NETD_BRIDGE_HELPER" ] || skip "netd-bridge-helper not found at $NETD_BRIDGE_HELPER"
it_need setpriv
qemu_guest_build >"$IT_TMP/build-guest.log" 2>&1
case $? in
0) ;;
77) skip "QEMU or the guest kernel cannot be installed: $(tail -n 1 "$IT_TMP/build-guest.log")" ;;
*) cat "$IT_TMP/build-guest.log" >&2; fail "tests/qemu/build-guest.sh failed" ;;
esac
runuser -u nobody -- test -x "$NETD_BRIDGE_HELPER" ||
	skip "user nobody cannot execute $NETD_BRIDGE_HELPER (build dir not world-readable)"
runuser -u nobody -- test -r "$QEMU_GUEST_DIR/vmlinuz" ||
	skip "user nobody cannot read $QEMU_GUEST_DIR/vmlinuz"

it_topology
NET=web
BR=itqh0
GW=10.230.0.1
PORT=7030
net_conf "$NET" <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=$GW/24

[DHCP]
Range=10.230.0.100-10.230.0.149

[Access]
User=nobody
CONF

SOCK=$IT_RUN/netd.sock
ctl() { hx "$NETDCTL" --socket "$SOCK" "$@"; }

netd_start
expect_bridge "$NET" "$BR"
expect_dnsmasq "$NET"
tcp_server out "$PORT"

# netdctl monitor, subscribed before any QEMU: a sentinel port proves it.
hx "$NETDCTL" --socket "$SOCK" monitor >"$IT_TMP/monitor.log" 2>"$IT_TMP/monitor.err" </dev/null &
MON_PID=$!
mon_has() { grep -qE "$1" "$IT_TMP/monitor.log"; }
mon_sentinel()
{
	mon_has " port\.removed $NET itmon0( |$)" && return 0
	proc_alive "$MON_PID" || fail "netdctl monitor exited: $(cat "$IT_TMP/monitor.err")"
	# Not subscribed yet when the sentinel came and went: try again.
	if ! mon_has " port\.added $NET itmon0( |$)"; then
		ctl attach "$NET" --ifname itmon0 >/dev/null 2>&1 && ctl detach itmon0 >/dev/null 2>&1
	fi
	return 1
}
wait_for 5 "netdctl monitor to report a sentinel port" mon_sentinel
ok "netdctl monitor follows events: $(grep -c . "$IT_TMP/monitor.log") line(s) so far"
it_setup_done

now_ms() { echo $(($(date +%s%N) / 1000000)); }
no_taps() { ! ip -n "$IT_HOST" -o link show type tun | grep -q .; }

# ports_row OWNER: the `netdctl ports` line of the one port OWNER holds.
ports_rows() { ctl ports | awk -v u="$1" 'NR > 1 && $4 == u'; }

# port_listed IFNAME: `netdctl ports` has a line for IFNAME.
port_listed() { ctl ports | awk -v i="$1" 'NR > 1 && $1 == i { f = 1 } END { exit !f }'; }
port_gone() { ! port_listed "$1"; }

# lease_row MAC: `netdctl leases` line of MAC (lower case).
lease_row() { ctl leases | awk -v m="$1" 'NR > 1 && tolower($1) == m'; }
lease_listed() { [ -n "$(lease_row "$1")" ]; }

port_has_mac() { [ "$(ports_rows nobody | awk '{ print tolower($3) }')" = "$1" ]; }

# boot NAME BR_ARG MAC HOSTNAME STAY: QEMU as nobody with the helper.
boot()
{
	local name=$1 br=$2 mac=$3 host=$4 stay=$5
	MON_BASE=$(wc -l <"$IT_TMP/monitor.log")
	QEMU_AS_USER=nobody QEMU_GUEST_MAC=$mac \
	QEMU_GUEST_PARAMS="netd.hostname=$host netd.tcp=$UPLINK_OUT:$PORT netd.stay=$stay" \
	NETD_SOCKET=$SOCK \
		qemu_guest_start "$IT_HOST" "$IT_TMP/$name.log" \
		-netdev "bridge,id=n0,br=$br,helper=$NETD_BRIDGE_HELPER" >/dev/null ||
		fail "cannot start QEMU"
	QPID=$QEMU_GUEST_PID
	log "$name: QEMU pid $QPID as nobody, -netdev bridge,br=$br, MAC $mac"
}

# guest_checks NAME MAC HOSTNAME: lease, TCP to OUTSIDE, ports and leases.
# Sets TAP (the port's ifname) and GIP.
guest_checks()
{
	local name=$1 mac=$2 host=$3 t0 rows row
	t0=$(now_ms)
	qemu_guest_wait_marker "$IT_TMP/$name.log" '^(lease [0-9.]+|dhcp-failed)$' 60 "$QPID" >/dev/null ||
		fail "$name: no lease marker (QEMU log: $(tr -d '\r' <"$IT_TMP/$name.log" | grep -m3 -iE 'helper|error|netd'))"
	case "$QEMU_GUEST_MARKER" in
	"lease 10.230.0."*) GIP=${QEMU_GUEST_MARKER#lease } ;;
	*) fail "$name: guest reported '$QEMU_GUEST_MARKER'" ;;
	esac
	ok "$name: guest leased $GIP ($(($(now_ms) - t0)) ms after QEMU started)"
	qemu_guest_wait_marker "$IT_TMP/$name.log" '^tcp-(ok|failed)' 30 "$QPID" >/dev/null ||
		fail "$name: no tcp marker"
	[ "$QEMU_GUEST_MARKER" = "tcp-ok $UPLINK_HOST" ] ||
		fail "$name: guest's TCP to $UPLINK_OUT:$PORT gave '$QEMU_GUEST_MARKER', expected 'tcp-ok $UPLINK_HOST' (masqueraded)"
	ok "$name: guest reached $UPLINK_OUT:$PORT, seen as $UPLINK_HOST"

	rows=$(ports_rows nobody)
	[ "$(printf '%s\n' "$rows" | grep -c .)" = 1 ] ||
		fail "$name: expected one port owned by nobody, netdctl ports says:
$(ctl ports)"
	TAP=$(awk '{ print $1 }' <<<"$rows")
	[ "$(awk '{ print $2 }' <<<"$rows")" = "$NET" ] || fail "$name: port $TAP not on $NET: $rows"
	[ "$(awk '{ print $5 }' <<<"$rows")" = up ] || fail "$name: port $TAP not up: $rows"
	ip -n "$IT_HOST" -o link show dev "$TAP" | grep -q " master $BR " ||
		fail "$name: $TAP is not enslaved to $BR"
	# The helper cannot tell netd the MAC; the bridge learns it from the guest's frames.
	wait_for 3 "$name: netdctl ports shows MAC $mac for $TAP" port_has_mac "$mac"
	ok "$name: netdctl ports: $(ports_rows nobody)"

	wait_for 5 "$name: netdctl leases lists $mac" lease_listed "$mac"
	row=$(lease_row "$mac")
	[ "$(awk '{ print $2 }' <<<"$row")" = "$GIP" ] ||
		fail "$name: netdctl leases has '$row' for $mac, expected IP $GIP"
	[ "$(awk '{ print $3 }' <<<"$row")" = "$host" ] ||
		fail "$name: netdctl leases has '$row' for $mac, expected hostname $host"
	[ "$(awk '{ print $NF }' <<<"$row")" = "$NET" ] ||
		fail "$name: netdctl leases has '$row' for $mac, expected network $NET"
	ok "$name: netdctl leases: $row"
}

# port_gone_after_exit NAME: QEMU is gone; the port must follow within 1 s.
port_gone_after_exit()
{
	local name=$1 t0 dt
	t0=$(now_ms)
	wait_for 3 "$name: port $TAP to leave netdctl ports" port_gone "$TAP"
	dt=$(($(now_ms) - t0))
	[ "$dt" -le 1000 ] || fail "$name: port $TAP left netdctl ports ${dt} ms after QEMU exited (limit 1000 ms)"
	ok "$name: port $TAP gone from netdctl ports ${dt} ms after QEMU exited"
	no_taps || fail "$name: TAP left behind: $(ip -n "$IT_HOST" -o link show type tun)"
	ok "$name: no TAP left in HOST"
}

# monitor_order NAME MAC HOSTNAME: in the monitor's lines since the boot
# (TAP names are reused), port.added TAP < lease.added GIP (MAC, HOSTNAME)
# < port.removed TAP.
monitor_order()
{
	local name=$1 mac=$2 host=$3 a l r line
	mon_since() { tail -n +"$((MON_BASE + 1))" "$IT_TMP/monitor.log"; }
	mon_removed() { mon_since | grep -qE " port\.removed $NET $TAP( |\$)"; }
	wait_for 3 "$name: monitor to print port.removed for $TAP" mon_removed
	a=$(mon_since | grep -nE " port\.added $NET $TAP( |\$)" | head -n 1 | cut -d: -f1)
	l=$(mon_since | grep -niE " lease\.added $NET $GIP .*mac=$mac( |\$)" | head -n 1 | cut -d: -f1)
	r=$(mon_since | grep -nE " port\.removed $NET $TAP( |\$)" | head -n 1 | cut -d: -f1)
	[ -n "$a" ] || fail "$name: monitor printed no port.added for $TAP: $(mon_since)"
	[ -n "$l" ] || fail "$name: monitor printed no lease.added $GIP mac=$mac: $(mon_since)"
	[ "$a" -lt "$l" ] && [ "$l" -lt "$r" ] ||
		fail "$name: monitor order is port.added@$a lease.added@$l port.removed@$r, expected ascending:
$(mon_since)"
	line=$(mon_since | sed -n "${a}p")
	grep -q ' owner=nobody' <<<"$line" && grep -q ' kind=open' <<<"$line" ||
		fail "$name: port.added line lacks owner=nobody kind=open: $line"
	line=$(mon_since | sed -n "${l}p")
	grep -qE " hostname=$host( |\$)" <<<"$line" ||
		fail "$name: lease.added line lacks hostname=$host: $line"
	line=$(mon_since | sed -n "${r}p")
	grep -qiE " mac=$mac( |\$)" <<<"$line" && grep -q ' owner=nobody' <<<"$line" ||
		fail "$name: port.removed line lacks mac=$mac owner=nobody: $line"
	ok "$name: monitor printed port.added, lease.added, port.removed in order"
}

# wait_qemu_exit SECONDS WHY: a tight poll (20 ms), so the 1 s budget of
# port_gone_after_exit starts when QEMU is really gone.
wait_qemu_exit()
{
	local end=$(($(now_ms) + $1 * 1000))
	while qemu_guest_alive "$QPID"; do
		[ "$(now_ms)" -lt "$end" ] || fail "QEMU (pid $QPID) still running ${1}s after $2"
		sleep 0.02
	done
}

# Boot 1: br= the network's name; QEMU stopped from outside.
MAC1=52:54:00:30:00:01
boot g1 "$NET" "$MAC1" qhelper1 60
guest_checks g1 "$MAC1" qhelper1
kill -TERM "$QPID"
wait_qemu_exit 10 "SIGTERM"
port_gone_after_exit g1
qemu_guest_stop "$QPID"
monitor_order g1 "$MAC1" qhelper1

# Boot 2: br= the bridge device; the guest powers off by itself.
MAC2=52:54:00:30:00:02
boot g2 "$BR" "$MAC2" qhelper2 3
guest_checks g2 "$MAC2" qhelper2
qemu_guest_wait_marker "$IT_TMP/g2.log" '^done' 30 "$QPID" >/dev/null || fail "g2: guest did not power off"
wait_qemu_exit 20 "the guest powered off"
port_gone_after_exit g2
qemu_guest_stop "$QPID"
monitor_order g2 "$MAC2" qhelper2

proc_alive "$MON_PID" || fail "netdctl monitor exited early: $(cat "$IT_TMP/monitor.err")"
log "monitor log:"
sed 's/^/#   /' "$IT_TMP/monitor.log"
netd_stop
