#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 6, two nat networks: guests of one cannot reach guests of the
# other (TCP and ping, both directions), while each reaches the outside.
. "$(dirname "$0")/lib.sh"

it_init
it_topology

net_conf red <<CONF
[Network]
Mode=nat
Bridge=itred0
Address=10.206.1.1/24

[DHCP]
Range=10.206.1.100-10.206.1.149
CONF
net_conf blue <<CONF
[Network]
Mode=nat
Bridge=itblue0
Address=10.206.2.1/24

[DHCP]
Range=10.206.2.100-10.206.2.149
CONF

netd_start
expect_bridge red itred0
expect_bridge blue itblue0
expect_dnsmasq red
expect_dnsmasq blue
guest_add ga itred0
guest_add gb itblue0
guests_dhcp ga gb
GA=$(guest_ip ga)
GB=$(guest_ip gb)
ip_in_range "$GA" 10.206.1.100 10.206.1.149 || fail "ga (red) leased $GA, outside red's range"
ip_in_range "$GB" 10.206.2.100 10.206.2.149 || fail "gb (blue) leased $GB, outside blue's range"
tcp_server ga 7001
tcp_server gb 7001
tcp_server out 7000
it_setup_done

expect_tcp ga "$UPLINK_OUT" 7000 "$UPLINK_HOST" "red guest reaches outside (masqueraded)"
expect_tcp gb "$UPLINK_OUT" 7000 "$UPLINK_HOST" "blue guest reaches outside (masqueraded)"
expect_no_tcp ga "$GB" 7001 "red guest cannot connect to blue guest"
expect_no_tcp gb "$GA" 7001 "blue guest cannot connect to red guest"
expect_no_ping ga "$GB" "red guest cannot ping blue guest"
expect_no_ping gb "$GA" "blue guest cannot ping red guest"
