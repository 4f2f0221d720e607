#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 11, `netd --cleanup` after a run with a nat and an isolated
# network and a guest lease: no bridge with alias netd:*, no table inet netd
# (nor table bridge netd), no dnsmasq in HOST, no file left in RUN_DIR.
# What netd did not make stays: the uplink, a guest's veth (un-enslaved),
# and another nft table.
. "$(dirname "$0")/lib.sh"

it_init
it_topology
must hx nft add table inet keepme
must hx nft add chain inet keepme c '{ type filter hook forward priority 10; policy accept; }'
hx nft list table inet keepme >"$IT_TMP/keepme.before"

net_conf web <<CONF
[Network]
Mode=nat
Bridge=itcl0
Address=10.211.1.1/24

[DHCP]
Range=10.211.1.100-10.211.1.149
CONF
net_conf iso <<CONF
[Network]
Mode=isolated
Bridge=itcl1
Address=10.211.2.1/24

[DHCP]
Range=10.211.2.100-10.211.2.149
CONF

netd_start
expect_bridge web itcl0
expect_bridge iso itcl1
expect_dnsmasq web
expect_dnsmasq iso
guest_add g1 itcl0
guests_dhcp g1
it_setup_done
netd_stop

netd_cmd --cleanup --config-dir "$IT_CONF" --state-dir "$IT_STATE" --run-dir "$IT_RUN" \
	>>"$IT_NETD_LOG" 2>&1
rc=$?
[ "$rc" = 0 ] || fail "netd --cleanup exited $rc, expected 0"
ok "netd --cleanup exited 0"

left=$(ip -n "$IT_HOST" -o -d link show | grep -E 'alias netd:' || true)
[ -z "$left" ] || fail "links with a netd: alias left: $left"
for br in itcl0 itcl1; do
	link_exists "$IT_HOST" "$br" && fail "bridge $br left behind"
done
ok "no netd bridge left"
hx nft list table inet netd >/dev/null 2>&1 && fail "table inet netd left: $(hx nft list table inet netd)"
hx nft list table bridge netd >/dev/null 2>&1 && fail "table bridge netd left"
ok "no netd nft table left"
procs=$(ns_procs "$IT_HOST" dnsmasq)
[ -z "$procs" ] || fail "dnsmasq left running in HOST: $procs"
ok "no dnsmasq left in HOST"
files=$(find "$IT_RUN" -type f)
[ -z "$files" ] || fail "files left in RUN_DIR: $files"
ok "RUN_DIR has no files left"

link_exists "$IT_HOST" up0 || fail "--cleanup deleted up0, which netd did not make"
link_exists "$IT_HOST" vg1 || fail "--cleanup deleted the guest's veth vg1, which netd did not make"
hx nft list table inet keepme >"$IT_TMP/keepme.after" 2>&1 || fail "--cleanup deleted table inet keepme"
diff -u "$IT_TMP/keepme.before" "$IT_TMP/keepme.after" || fail "--cleanup changed table inet keepme"
ok "--cleanup left the uplink, the guest veth and another table alone"

# A second --cleanup has nothing to do and still succeeds.
netd_cmd --cleanup --config-dir "$IT_CONF" --state-dir "$IT_STATE" --run-dir "$IT_RUN" \
	>>"$IT_NETD_LOG" 2>&1 || fail "second netd --cleanup exited $?"
ok "second --cleanup exits 0"
