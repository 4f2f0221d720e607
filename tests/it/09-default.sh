#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 9, no network files: netd runs the built-in network `default`
# (nat, bridge netd0, a private /24 that overlaps no existing route, DHCP and
# DNS on), and a guest on netd0 gets a lease.  Run twice: with an empty
# CONFIG_DIR/networks, then (after SIGTERM) with no networks dir at all.
. "$(dirname "$0")/lib.sh"

it_init
it_topology
# Routes the default network must avoid: libvirt's usual subnet and a /16
# of the 10/8 space.
must ip -n "$IT_HOST" link add avoid0 type veth peer name avoid1
must ip -n "$IT_HOST" addr add 192.168.122.1/24 dev avoid0
must ip -n "$IT_HOST" addr add 10.212.0.1/16 dev avoid0
must ip -n "$IT_HOST" link set avoid0 up
must ip -n "$IT_HOST" link set avoid1 up
ip -n "$IT_HOST" -4 route show >"$IT_TMP/routes.before"

netd_start
expect_bridge default netd0
expect_dnsmasq default
PFX=$(link_addrs4 "$IT_HOST" netd0)
[ "$(printf '%s\n' "$PFX" | grep -c .)" = 1 ] || fail "netd0 has IPv4 addresses '$PFX', expected one"
"$IT_PY" - "$PFX" "$IT_TMP/routes.before" <<'PY' || fail "netd0's address $PFX is not a private /24 clear of existing routes"
import ipaddress, sys
iface = ipaddress.ip_interface(sys.argv[1])
net = iface.network
ok = net.prefixlen == 24 and net.is_private and iface.ip != net.network_address
for line in open(sys.argv[2]):
    dst = line.split()[0]
    if dst == "default":
        continue
    if net.overlaps(ipaddress.ip_network(dst, strict=False)):
        print("overlaps existing route", line.strip(), file=sys.stderr)
        ok = False
sys.exit(0 if ok else 1)
PY
ok "netd0 has $PFX: a private /24 overlapping no existing route"
[ "$(host_forwarding)" = 1 ] || fail "net.ipv4.ip_forward is $(host_forwarding) with the nat default network running"

GW=${PFX%/*}
guest_add g1 netd0
guests_dhcp g1:dflt
it_setup_done
[ "$(lease_get g1 router)" = "$GW" ] || fail "DHCP router '$(lease_get g1 router)', expected $GW"
[ "$(lease_get g1 dns)" = "$GW" ] || fail "DHCP DNS server '$(lease_get g1 dns)', expected $GW"
"$IT_PY" -c 'import ipaddress,sys; sys.exit(0 if ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_interface(sys.argv[2]).network else 1)' \
	"$(guest_ip g1)" "$PFX" || fail "guest leased $(guest_ip g1), outside $PFX"
ok "guest on netd0 leased $(guest_ip g1) with router and DNS $GW"
tcp_server out 7000
expect_tcp g1 "$UPLINK_OUT" 7000 "$UPLINK_HOST" "guest on the default network reaches outside (masqueraded)"
expect_dns g1 "$GW" dflt "$(guest_ip g1)"

# Again with no networks directory at all.
netd_stop
rmdir "$IT_CONF/networks" || fail "rmdir networks"
IDX=$(link_ifindex "$IT_HOST" netd0)
netd_start
expect_bridge default netd0
[ "$(link_addrs4 "$IT_HOST" netd0)" = "$PFX" ] ||
	fail "with no networks dir, netd0 has '$(link_addrs4 "$IT_HOST" netd0)', expected $PFX as before"
[ "$(link_ifindex "$IT_HOST" netd0)" = "$IDX" ] || fail "netd0 was re-created (ifindex $IDX -> $(link_ifindex "$IT_HOST" netd0))"
ok "missing networks dir: default network still up on netd0 with $PFX"
expect_tcp g1 "$UPLINK_OUT" 7000 "$UPLINK_HOST" "guest still reaches outside"
