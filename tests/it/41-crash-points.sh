#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 41, netd killed half-way through bringing networks up.  For each
# crash point (NETD_CRASH_AT=bridge|links|firewall|dnsmasq), on a
# configuration with a nat and an isolated network:
#  - netd started with NETD_CRASH_AT=POINT dies of SIGKILL (status 137)
#    after logging the crash point, leaving what that point implies
#    (bridge: one bridge, no table; links: both bridges, no table;
#    firewall: the table, no dnsmasq; dnsmasq: the table and a dnsmasq);
#  - netd started normally completes both networks: bridges with alias
#    netd:NAME and their addresses, table inet netd with both networks'
#    chains, exactly one live dnsmasq per network in HOST (no duplicate,
#    each one's pid file naming it), and a guest gets a lease on each;
#  - after SIGTERM, `netd --cleanup` leaves nothing: no bridge, no table,
#    no dnsmasq in HOST, no file in RUN_DIR.  That is also the reset
#    between points (the guests' namespaces are deleted too).
. "$(dirname "$0")/lib.sh"

it_init
ns_add host

net_conf web <<CONF
[Network]
Mode=nat
Bridge=itcp0
Address=10.242.1.1/24

[DHCP]
Range=10.242.1.100-10.242.1.149
CONF
net_conf iso <<CONF
[Network]
Mode=isolated
Bridge=itcp1
Address=10.242.2.1/24

[DHCP]
Range=10.242.2.100-10.242.2.149
CONF

# Live (not zombie) dnsmasq processes in HOST.
live_dnsmasqs()
{
	local p
	for p in $(ns_procs "$IT_HOST" dnsmasq); do
		proc_alive "$p" && echo "$p"
	done
}
count() { grep -c . <<<"$1"; }
has_table() { hx nft list table inet netd >/dev/null 2>&1; }

# crash_run POINT: netd with NETD_CRASH_AT=POINT must die of SIGKILL.
crash_run()
{
	local point=$1 rc
	echo "==== netd NETD_CRASH_AT=$point $(date +%T.%N) ====" >>"$IT_NETD_LOG"
	# (The braces keep bash's "Killed" notice out of the output.)
	{
		ip netns exec "$IT_HOST" env NETD_CRASH_AT="$point" timeout 20 "$NETD" \
			--config-dir "$IT_CONF" --state-dir "$IT_STATE" --run-dir "$IT_RUN" \
			--log-level debug </dev/null >>"$IT_NETD_LOG" 2>&1
		rc=$?
	} 2>/dev/null
	[ "$rc" = 137 ] || fail "NETD_CRASH_AT=$point: netd exited $rc, expected 137 (SIGKILL; 124: it did not crash)"
	tail -n 5 "$IT_NETD_LOG" | grep -q "NETD_CRASH_AT=$point: killing myself" ||
		fail "NETD_CRASH_AT=$point: netd did not log its crash point"
	ok "NETD_CRASH_AT=$point: netd died of SIGKILL"
}

# what_is_left POINT: what the crash left matches the point.
what_is_left()
{
	local point=$1 nbr=0 br dms
	for br in itcp0 itcp1; do
		link_exists "$IT_HOST" "$br" && nbr=$((nbr + 1))
	done
	dms=$(live_dnsmasqs)
	case "$point" in
	bridge)
		[ "$nbr" = 1 ] && ! has_table || fail "bridge: $nbr bridges, table: $(has_table && echo yes || echo no)" ;;
	links)
		[ "$nbr" = 2 ] && ! has_table || fail "links: $nbr bridges, table: $(has_table && echo yes || echo no)" ;;
	firewall)
		[ "$nbr" = 2 ] && has_table && [ -z "$dms" ] ||
			fail "firewall: $nbr bridges, table: $(has_table && echo yes || echo no), dnsmasq: $dms" ;;
	dnsmasq)
		[ "$nbr" = 2 ] && has_table && [ "$(count "$dms")" = 1 ] ||
			fail "dnsmasq: $nbr bridges, table: $(has_table && echo yes || echo no), dnsmasq: '$dms'" ;;
	esac
	ok "left by the crash at $point: $nbr bridges, table $(has_table && echo yes || echo no), dnsmasq '${dms//$'\n'/ }'"
}

# complete: both networks as a normal start makes them.
complete()
{
	local net n br addr dms p conf c i
	for net in web:itcp0:10.242.1.1/24 iso:itcp1:10.242.2.1/24; do
		IFS=: read -r n br addr <<<"$net"
		expect_bridge "$n" "$br"
		link_addrs4 "$IT_HOST" "$br" | grep -qx "$addr" ||
			fail "$br lacks $addr: $(link_addrs4 "$IT_HOST" "$br" | tr '\n' ' ')"
		hx nft list table inet netd >"$IT_TMP/nft" 2>&1 || fail "no table inet netd"
		grep -qF "\"$n\" : \"$br\"" "$IT_TMP/nft" || fail "map networks lacks $n"
		grep -qF "\"$br\" : \"$n\"" "$IT_TMP/nft" || fail "map bridges lacks $br"
		expect_dnsmasq "$n"
	done
	# A duplicate may take a moment to die (or not): look twice.
	for i in 1 2; do
		dms=$(live_dnsmasqs)
		[ "$(count "$dms")" = 2 ] || fail "$(count "$dms") live dnsmasq processes in HOST, expected 2: $(
			for p in $dms; do printf '\n  %s: %s' "$p" "$(tr '\0' ' ' </proc/"$p"/cmdline)"; done)"
		sleep 0.3
	done
	for n in web iso; do
		p=$(dnsmasq_pid "$n")
		grep -qx "$p" <<<"$dms" || fail "RUN_DIR/dnsmasq/$n.pid names $p, not one of the live ones: $dms"
		conf=$(tr '\0' '\n' </proc/"$p"/cmdline | sed -n 's/^--conf-file=//p')
		[ "$conf" = "$IT_RUN/dnsmasq/$n.conf" ] || fail "dnsmasq $p of $n reads $conf"
	done
	ok "exactly one dnsmasq per network: ${dms//$'\n'/ }"
}

# cleanup_all: SIGTERM, --cleanup, nothing left; guests deleted.
cleanup_all()
{
	local left files ns
	netd_stop
	netd_cmd --cleanup --config-dir "$IT_CONF" --state-dir "$IT_STATE" --run-dir "$IT_RUN" \
		>>"$IT_NETD_LOG" 2>&1 || fail "netd --cleanup exited $?"
	left=$(ip -n "$IT_HOST" -o -d link show | grep -E 'alias netd:|itcp[01]' || true)
	[ -z "$left" ] || fail "--cleanup left links: $left"
	has_table && fail "--cleanup left table inet netd"
	hx nft list table bridge netd >/dev/null 2>&1 && fail "--cleanup left table bridge netd"
	left=$(live_dnsmasqs)
	[ -z "$left" ] || fail "--cleanup left dnsmasq running: $left"
	files=$(find "$IT_RUN" -type f)
	[ -z "$files" ] || fail "--cleanup left files in RUN_DIR: $files"
	ok "--cleanup: no bridge, no table, no dnsmasq, RUN_DIR empty of files"
	for ns in "$@"; do
		must ip netns del "${IT_PREFIX}$ns"
	done
}

it_setup_done
i=0
for point in bridge links firewall dnsmasq; do
	i=$((i + 1))
	log "---- crash point $point ----"
	crash_run "$point"
	what_is_left "$point"
	netd_start
	complete
	guest_add "w$i" itcp0 "52:54:00:41:01:0$i"
	guest_add "i$i" itcp1 "52:54:00:41:02:0$i"
	guests_dhcp "w$i" "i$i"
	ip_in_range "$(guest_ip "w$i")" 10.242.1.100 10.242.1.149 || fail "w$i leased $(guest_ip "w$i")"
	ip_in_range "$(guest_ip "i$i")" 10.242.2.100 10.242.2.149 || fail "i$i leased $(guest_ip "i$i")"
	cleanup_all "w$i" "i$i"
done
