#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 4, Mode=isolated: two guests get DHCP and DNS from the host and
# reach each other; they reach nothing outside and no other address or port
# of the host, while DNS on the bridge works; the outside cannot reach them.
# The test switches IPv4 forwarding on in HOST itself (as on a host that
# routes for other reasons) and gives the guests a default route via the
# bridge, so every "cannot reach" below is netd's firewall at work, not a
# missing route.  A routed network next to it (its guest g3 can reach the
# outside) reaches no isolated guest, and no isolated guest reaches it.
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
net_conf lab <<CONF
[Network]
Mode=routed
Bridge=itiso1
Address=10.205.0.1/24

[DHCP]
Range=10.205.0.100-10.205.0.149
CONF

netd_start
expect_bridge iso "$BR"
expect_dnsmasq iso
guest_add g1 "$BR"
guest_add g2 "$BR"
guest_add g3 itiso1
guests_dhcp g1:alpha g2:beta g3
G1=$(guest_ip g1)
G2=$(guest_ip g2)
G3=$(guest_ip g3)
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
tcp_server g3 7003
must ip -n "$IT_OUT" route add 10.205.0.0/24 via "$UPLINK_HOST"
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

# Next to a routed network: g3 reaches the outside (control), not the
# isolated guests, and they do not reach it.
expect_tcp g3 "$UPLINK_OUT" 7000 "$G3" "routed guest g3 reaches outside (control)"
expect_no_tcp g3 "$G1" 7001 "routed guest g3 cannot reach isolated guest g1"
expect_no_tcp g1 "$G3" 7003 "isolated guest g1 cannot reach routed guest g3"
# One way too: what g1 sends never reaches g3, answer or not.
expect_udp out g3 "$G3" 7004 "outside's UDP reaches routed guest g3 (control)"
expect_no_udp g1 g3 "$G3" 7004 "isolated guest g1's UDP does not reach routed guest g3"
expect_no_udp g3 g1 "$G1" 7004 "routed guest g3's UDP does not reach isolated guest g1"

# The forward rules know netd's bridges by their link group: each bridge
# is in its mode's, and one moved out of it is put back.
bridge_in_group "$BR" 7234915 || fail "isolated bridge $BR in link group $(link_group "$IT_HOST" "$BR"), expected 7234915"
bridge_in_group itiso1 7234914 || fail "routed bridge itiso1 in link group $(link_group "$IT_HOST" itiso1), expected 7234914"
ok "bridges in their modes' link groups ($BR 7234915, itiso1 7234914)"
must ip -n "$IT_HOST" link set "$BR" group 7234914
must ip -n "$IT_HOST" link set itiso1 group default
wait_for 3 "netd to put $BR back in link group 7234915" bridge_in_group "$BR" 7234915
wait_for 3 "netd to put itiso1 back in link group 7234914" bridge_in_group itiso1 7234914
ok "bridges moved to other link groups are put back"
expect_no_udp g3 g1 "$G1" 7004 "after that, routed guest g3's UDP still does not reach isolated guest g1"
