#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 5, Mode=bridge: the bridge ("LAN", with its own address and a LAN
# host on it) is made by the test.  netd must create nothing for it and
# change nothing on it: no nft chain or rule mentioning it, no dnsmasq, no
# address, no alias, same ifindex; a guest port on it reaches the LAN host.
# A nat network runs next to it so that netd's table exists.  Finally
# `netd --cleanup` must leave the LAN bridge alone too.
. "$(dirname "$0")/lib.sh"

it_init
it_topology

LAN=itlan0
must ip -n "$IT_HOST" link add "$LAN" type bridge stp_state 0
must ip -n "$IT_HOST" addr add 192.168.77.1/24 dev "$LAN"
must ip -n "$IT_HOST" link set "$LAN" up
ns_add lanhost
must ip -n "$IT_HOST" link add vlan1 type veth peer name eth0 netns "${IT_PREFIX}lanhost"
must ip -n "$IT_HOST" link set vlan1 master "$LAN" up
must ip -n "${IT_PREFIX}lanhost" addr add 192.168.77.10/24 dev eth0
must ip -n "${IT_PREFIX}lanhost" link set eth0 up

snapshot_lan()
{
	printf 'ifindex=%s\n' "$(link_ifindex "$IT_HOST" "$LAN")"
	printf 'alias=%s\n' "$(link_alias "$IT_HOST" "$LAN")"
	printf 'master=%s\n' "$(ip -n "$IT_HOST" -o link show dev "$LAN" | grep -o 'master [^ ]*')"
	ip -n "$IT_HOST" -o addr show dev "$LAN" | awk '{ print $3, $4 }' | grep -v '^inet6 fe80:' | sort
	ip -n "$IT_HOST" route show dev "$LAN" | sort
}
snapshot_lan >"$IT_TMP/lan.before"

net_conf lan <<CONF
[Network]
Mode=bridge
Bridge=$LAN
CONF
net_conf web <<CONF
[Network]
Mode=nat
Bridge=itnat5
Address=10.205.0.1/24

[DHCP]
Range=10.205.0.100-10.205.0.149
CONF

netd_start
expect_bridge web itnat5
snapshot_lan >"$IT_TMP/lan.after"
diff -u "$IT_TMP/lan.before" "$IT_TMP/lan.after" ||
	fail "netd changed the existing bridge $LAN (ifindex/alias/addresses/routes, diff above)"
ok "bridge $LAN unchanged: same ifindex, alias, addresses and routes"

hx nft list ruleset >"$IT_TMP/ruleset" || fail "nft list ruleset in HOST failed"
hx nft list table inet netd >/dev/null 2>&1 || fail "table inet netd missing with a nat network running"
if grep -n "$LAN" "$IT_TMP/ruleset"; then
	fail "the nft ruleset mentions bridge $LAN (lines above)"
fi
ok "no nft chain or rule mentions $LAN"

[ ! -e "$IT_RUN/dnsmasq/lan.pid" ] && [ ! -e "$IT_RUN/dnsmasq/lan.conf" ] ||
	fail "netd wrote dnsmasq files for the bridge network: $(ls "$IT_RUN/dnsmasq")"
for p in $(ns_procs "$IT_HOST" dnsmasq); do
	cmdl=$(tr '\0' ' ' <"/proc/$p/cmdline")
	conf=$(printf '%s\n' "$cmdl" | sed -n 's/.*--conf-file=\([^ ]*\).*/\1/p')
	if printf '%s\n' "$cmdl" | grep -q "$LAN" || { [ -n "$conf" ] && grep -q "$LAN" "$conf"; }; then
		fail "dnsmasq $p serves $LAN: $cmdl"
	fi
done
[ "$(ns_procs "$IT_HOST" dnsmasq | wc -l)" = 1 ] ||
	fail "expected exactly one dnsmasq (for web) in HOST, found: $(ns_procs "$IT_HOST" dnsmasq | tr '\n' ' ')"
ok "no dnsmasq for $LAN"

guest_add g1 "$LAN"
must gx g1 ip addr add 192.168.77.20/24 dev eth0
tcp_server lanhost 7003
it_setup_done
expect_tcp g1 192.168.77.10 7003 192.168.77.20 "guest on $LAN reaches the LAN host"
expect_ping g1 192.168.77.1 "guest on $LAN pings the LAN's own address"

netd_stop
netd_cmd --cleanup --config-dir "$IT_CONF" --state-dir "$IT_STATE" --run-dir "$IT_RUN" \
	>>"$IT_NETD_LOG" 2>&1 || fail "netd --cleanup exited $?"
link_exists "$IT_HOST" itnat5 && fail "netd --cleanup left bridge itnat5"
link_exists "$IT_HOST" "$LAN" || fail "netd --cleanup deleted the existing bridge $LAN"
snapshot_lan >"$IT_TMP/lan.cleanup"
diff -u "$IT_TMP/lan.before" "$IT_TMP/lan.cleanup" ||
	fail "netd --cleanup changed the existing bridge $LAN (diff above)"
[ "$(ip -n "$IT_HOST" -o link show master "$LAN" | wc -l)" = 2 ] ||
	fail "ports of $LAN changed by --cleanup: $(ip -n "$IT_HOST" -o link show master "$LAN")"
ok "netd --cleanup left $LAN, its address and its ports alone"
expect_tcp g1 192.168.77.10 7003 192.168.77.20 "guest on $LAN still reaches the LAN host after --cleanup"
