#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 7, Reservation=MAC,IP,HOST: a guest with that MAC gets exactly IP
# (outside Range=), and HOST (bare and HOST.DOMAIN) resolves to IP; a guest
# with another MAC gets an address from the range, not the reserved one.
. "$(dirname "$0")/lib.sh"

it_init
it_topology

BR=itres0
GW=10.207.0.1
MAC=52:54:00:07:00:50
RIP=10.207.0.50
net_conf res <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=$GW/24

[DHCP]
Range=10.207.0.100-10.207.0.149
Reservation=$MAC,$RIP,resv-host
Reservation=52:54:00:07:00:51,10.207.0.51,other-host

[DNS]
Domain=res.internal
CONF

netd_start
expect_bridge res "$BR"
guest_add g1 "$BR" "$MAC"
guest_add g2 "$BR"
guests_dhcp g1 g2
[ "$(guest_ip g1)" = "$RIP" ] || fail "guest with MAC $MAC leased $(guest_ip g1), expected $RIP"
ok "guest with MAC $MAC got the reserved $RIP"
ip_in_range "$(guest_ip g2)" 10.207.0.100 10.207.0.149 ||
	fail "guest without reservation leased $(guest_ip g2), outside Range="
it_setup_done

expect_dns g2 "$GW" resv-host "$RIP"
expect_dns g2 "$GW" resv-host.res.internal "$RIP"
expect_ping host "$RIP" "the reserved address is live on the guest (ping from HOST)"
