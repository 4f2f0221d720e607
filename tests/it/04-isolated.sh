#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 4, Mode=isolated: two guests get DHCP and DNS from the host and
# reach each other; they reach nothing outside and no other address or port
# of the host, while DNS on the bridge works; the outside cannot reach them.
# The test switches IPv4 forwarding on in HOST itself (as on a host that
# routes for other reasons) and gives the guests a default route via the
# bridge, so every "cannot reach" below is netd's firewall at work, not a
# missing route.
. "$(dirname "$0")/lib.sh"

it_init
it_topology

BR=itiso0
GW=10.204.0.1
net_conf iso <<CONF
[Network]
Mode=isolated
Bridge=$BR
Address=$GW/24

[DHCP]
Range=10.204.0.100-10.204.0.149

[DNS]
Domain=iso.internal
CONF

netd_start
expect_bridge iso "$BR"
expect_dnsmasq iso
guest_add g1 "$BR"
guest_add g2 "$BR"
guests_dhcp g1:alpha g2:beta
G1=$(guest_ip g1)
G2=$(guest_ip g2)
for g in g1 g2; do
	ip_in_range "$(guest_ip $g)" 10.204.0.100 10.204.0.149 ||
		fail "$g leased $(guest_ip $g), outside Range="
	[ "$(lease_get $g dns)" = "$GW" ] || fail "$g: DHCP DNS server '$(lease_get $g dns)', expected $GW"
	log "$g: DHCP router option '$(lease_get $g router)'"
	must gx $g ip route replace default via "$GW" dev eth0
done
must hx sysctl -q -w net.ipv4.ip_forward=1
must ip -n "$IT_OUT" route add 10.204.0.0/24 via "$UPLINK_HOST"
tcp_server out 7000
tcp_server host 7002
tcp_server g1 7001
tcp_server g2 7001
it_setup_done

# Inside the network: DNS from the bridge, guest to guest.
expect_dns g1 "$GW" beta "$G2"
expect_dns g2 "$GW" alpha.iso.internal "$G1"
expect_tcp g1 "$G2" 7001 "$G1" "guest g1 reaches guest g2"
expect_tcp g2 "$G1" 7001 "$G2" "guest g2 reaches guest g1"
expect_ping g1 "$G2" "guest g1 pings guest g2"

# Controls: the servers answer where they should.
expect_tcp out "$UPLINK_HOST" 7002 "$UPLINK_OUT" "outside reaches HOST's server (control)"
expect_tcp host "$UPLINK_OUT" 7000 "$UPLINK_HOST" "HOST reaches outside's server (control)"

# Nothing else.
expect_no_tcp g1 "$UPLINK_OUT" 7000 "isolated guest cannot reach the outside host"
expect_no_ping g1 "$UPLINK_OUT" "isolated guest cannot ping the outside host"
expect_no_tcp g1 "$UPLINK_HOST" 7002 "isolated guest cannot reach HOST's uplink address"
expect_no_tcp g1 "$GW" 7002 "isolated guest cannot reach a non-DHCP/DNS port on the bridge address"
expect_no_tcp out "$G1" 7001 "outside cannot reach an isolated guest"
