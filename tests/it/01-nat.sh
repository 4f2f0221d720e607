#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 1, Mode=nat: guests get leases from Range=, resolve each other by
# DHCP hostname (bare and HOST.DOMAIN) and a Record= name through the
# bridge's DNS, reach the outside masqueraded behind the uplink address, and
# cannot be reached from outside (even with a route to their subnet);
# guests on the same bridge reach each other.
. "$(dirname "$0")/lib.sh"

it_init
it_topology

BR=itnat0
GW=10.201.0.1
net_conf web <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=$GW/24

[DHCP]
Range=10.201.0.100-10.201.0.149
LeaseTime=1h

[DNS]
Domain=it.internal
Record=outside.test,$UPLINK_OUT
CONF

netd_start
expect_bridge web "$BR"
expect_dnsmasq web
[ "$(link_addrs4 "$IT_HOST" "$BR")" = "$GW/24" ] ||
	fail "bridge $BR has addresses '$(link_addrs4 "$IT_HOST" "$BR")', expected $GW/24"
[ "$(host_forwarding)" = 1 ] || fail "net.ipv4.ip_forward is $(host_forwarding) in HOST with a nat network running"
ok "bridge address $GW/24, IPv4 forwarding on"

guest_add g1 "$BR"
guest_add g2 "$BR"
guests_dhcp g1:alpha g2:beta
G1=$(guest_ip g1)
G2=$(guest_ip g2)
for g in g1 g2; do
	ip_in_range "$(guest_ip $g)" 10.201.0.100 10.201.0.149 ||
		fail "$g leased $(guest_ip $g), outside Range=10.201.0.100-10.201.0.149"
	[ "$(lease_get $g router)" = "$GW" ] || fail "$g: DHCP router '$(lease_get $g router)', expected $GW"
	[ "$(lease_get $g dns)" = "$GW" ] || fail "$g: DHCP DNS server '$(lease_get $g dns)', expected $GW"
done
[ "$G1" != "$G2" ] || fail "both guests leased $G1"
ok "leases in range, router and DNS server are $GW"
it_setup_done

# DNS through the bridge.
expect_dns g1 "$GW" beta "$G2"
expect_dns g1 "$GW" beta.it.internal "$G2"
expect_dns g2 "$GW" alpha.it.internal "$G1"
expect_dns g1 "$GW" outside.test "$UPLINK_OUT"

# Outbound: masqueraded behind the uplink address.
tcp_server out 7000
expect_tcp g1 "$UPLINK_OUT" 7000 "$UPLINK_HOST" "guest reaches outside, source masqueraded"

# Inbound: refused even with a route to the guest subnet.
tcp_server g1 7001
expect_tcp host "$G1" 7001 "$GW" "HOST reaches the guest's server (control)"
must ip -n "$IT_OUT" route add 10.201.0.0/24 via "$UPLINK_HOST"
expect_no_tcp out "$G1" 7001 "outside cannot connect to a nat guest"
expect_no_ping out "$G1" "outside cannot ping a nat guest"

# Guests of the same network reach each other over the bridge.
expect_tcp g2 "$G1" 7001 "$G2" "guest g2 reaches guest g1"
expect_ping g1 "$G2" "guest g1 pings guest g2"
