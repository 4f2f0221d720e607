#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 3, Mode=routed: no masquerade.  The outside host (with a route to
# the guest subnet via 203.0.113.1) sees the guest's own address as the
# source, and can connect to the guest.  Both ways through Uplink=up0, the
# host's uplink.  A second routed network, with Uplink= naming another
# interface, cannot send out of up0 at all (the outside has a route back
# to it too: only the forward rules stop it).
. "$(dirname "$0")/lib.sh"

it_init
it_topology

BR=itrt0
GW=10.203.0.1
net_conf lab <<CONF
[Network]
Mode=routed
Bridge=$BR
Address=$GW/24
Uplink=up0

[DHCP]
Range=10.203.0.100-10.203.0.149
CONF
net_conf other <<CONF
[Network]
Mode=routed
Bridge=itrt1
Address=10.204.0.1/24
Uplink=itnone0

[DHCP]
Range=10.204.0.100-10.204.0.149
CONF

netd_start
expect_bridge lab "$BR"
[ "$(host_forwarding)" = 1 ] || fail "net.ipv4.ip_forward is $(host_forwarding) in HOST with a routed network running"
guest_add g1 "$BR"
guest_add g2 itrt1
guests_dhcp g1 g2
G1=$(guest_ip g1)
must ip -n "$IT_OUT" route add 10.203.0.0/24 via "$UPLINK_HOST"
must ip -n "$IT_OUT" route add 10.204.0.0/24 via "$UPLINK_HOST"
tcp_server out 7000
tcp_server g1 7001
it_setup_done

expect_tcp g1 "$UPLINK_OUT" 7000 "$G1" "guest reaches outside with its own address as source"
expect_tcp out "$G1" 7001 "$UPLINK_OUT" "outside connects to the routed guest"
expect_ping out "$G1" "outside pings the routed guest"
expect_no_tcp g2 "$UPLINK_OUT" 7000 "a guest of a network with Uplink=itnone0 cannot leave through up0"
