#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 2, Mode=nat with [Forward] Port=tcp/8080=GUESTIP:80: the outside
# host and a process in the HOST namespace both reach the guest's service
# at the uplink address 203.0.113.1:8080.
. "$(dirname "$0")/lib.sh"

it_init
it_topology

BR=itfwd0
GW=10.202.0.1
MAC=52:54:00:02:00:10
GUEST=10.202.0.10
net_conf web <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=$GW/24

[DHCP]
Range=10.202.0.100-10.202.0.149
Reservation=$MAC,$GUEST,web

[Forward]
Port=tcp/8080=$GUEST:80
CONF

netd_start
expect_bridge web "$BR"
guest_add g1 "$BR" "$MAC"
guests_dhcp g1
[ "$(guest_ip g1)" = "$GUEST" ] || fail "guest with MAC $MAC leased $(guest_ip g1), expected reserved $GUEST"
tcp_server g1 80
tcp_server out 7000
it_setup_done

expect_tcp out "$UPLINK_HOST" 8080 "" "outside reaches the guest's port 80 via $UPLINK_HOST:8080"
expect_tcp host "$UPLINK_HOST" 8080 "" "a process in HOST reaches the guest via $UPLINK_HOST:8080"
# The forward is for TCP 8080 only.
expect_no_tcp out "$UPLINK_HOST" 8081 "no forward on port 8081"
# Outbound NAT still works next to the forward.
expect_tcp g1 "$UPLINK_OUT" 7000 "$UPLINK_HOST" "guest reaches outside, source masqueraded"
