#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 10, SIGTERM then netd again: netd exits 0 and leaves the network
# running (guests notice nothing); the next netd adopts it: same bridge
# ifindex, same dnsmasq pid, which keeps serving (a second guest gets a
# lease), the lease file still has the first guest's lease, and the first
# guest's address still works.  A network with AutoStart=no that netdctl
# started is adopted the same way (same bridge, same dnsmasq); once
# stopped, a restarted netd leaves it stopped and removes a bridge and TAP
# of it that a killed netd left.
. "$(dirname "$0")/lib.sh"

it_init
it_topology
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
ctl() { hx "$NETDCTL" --socket "$IT_RUN/netd.sock" "$@"; }

BR=itrs0
GW=10.210.0.1
net_conf web <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=$GW/24

[DHCP]
Range=10.210.0.100-10.210.0.149

[DNS]
Domain=rs.internal
CONF

net_conf lab <<CONF
[Network]
Mode=nat
Bridge=itrs1
Address=10.211.0.1/24
AutoStart=no
CONF

netd_start
expect_bridge web "$BR"
expect_dnsmasq web
link_exists "$IT_HOST" itrs1 && fail "lab (AutoStart=no) started with netd"
ctl start lab >/dev/null || fail "netdctl start lab failed"
expect_bridge lab itrs1
expect_dnsmasq lab
LAB_IDX=$(link_ifindex "$IT_HOST" itrs1)
LAB_DPID=$(dnsmasq_pid lab)
IDX=$(link_ifindex "$IT_HOST" "$BR")
DPID=$(dnsmasq_pid web)
guest_add g1 "$BR" 52:54:00:10:00:01
guests_dhcp g1:first
G1=$(guest_ip g1)
tcp_server out 7000
it_setup_done
hx nft list table inet netd >"$IT_TMP/nft.before" || fail "no table inet netd"

netd_stop
link_exists "$IT_HOST" "$BR" || fail "bridge $BR gone after netd's SIGTERM"
dnsmasq_running web || fail "dnsmasq $DPID gone after netd's SIGTERM"
hx nft list table inet netd >/dev/null 2>&1 || fail "table inet netd gone after netd's SIGTERM"
ok "bridge, dnsmasq and nft table survive netd's exit"
expect_tcp g1 "$UPLINK_OUT" 7000 "$UPLINK_HOST" "guest reaches outside while netd is down"
expect_ping g1 "$GW" "guest pings its gateway while netd is down"

netd_start
[ "$(link_ifindex "$IT_HOST" "$BR")" = "$IDX" ] ||
	fail "bridge $BR re-created: ifindex $IDX before, $(link_ifindex "$IT_HOST" "$BR") after"
ok "bridge $BR kept ifindex $IDX"
[ "$(dnsmasq_pid web)" = "$DPID" ] && dnsmasq_running web ||
	fail "dnsmasq replaced: pid $DPID before, '$(dnsmasq_pid web)' after (alive: $(proc_alive "$DPID" && echo yes || echo no))"
ok "dnsmasq kept pid $DPID"
hx nft list table inet netd >"$IT_TMP/nft.after" || fail "no table inet netd after restart"
diff -u "$IT_TMP/nft.before" "$IT_TMP/nft.after" || fail "nft table changed across the restart (diff above)"
ok "nft table identical after restart"

grep -qiE "^[0-9]+ 52:54:00:10:00:01 $G1 " "$IT_STATE/web.leases" ||
	fail "lease file lost the first guest's lease ($G1): $(cat "$IT_STATE/web.leases" 2>&1)"
ok "lease file still has 52:54:00:10:00:01 $G1"

guest_add g2 "$BR" 52:54:00:10:00:02
guests_dhcp g2:second
[ "$(guest_ip g2)" != "$G1" ] || fail "second guest got the first guest's address $G1"
ok "adopted dnsmasq serves a new lease"
expect_ping g1 "$GW" "first guest's address still works (ping gateway)"
expect_dns g2 "$GW" first.rs.internal "$G1"
expect_tcp g1 "$UPLINK_OUT" 7000 "$UPLINK_HOST" "first guest reaches outside after the restart"

[ "$(link_ifindex "$IT_HOST" itrs1)" = "$LAB_IDX" ] && [ "$(dnsmasq_pid lab)" = "$LAB_DPID" ] &&
	dnsmasq_running lab ||
	fail "lab (AutoStart=no, started by request) not adopted: ifindex $LAB_IDX -> '$(link_ifindex "$IT_HOST" itrs1)', dnsmasq $LAB_DPID -> '$(dnsmasq_pid lab)'"
ctl show lab | grep -qw running || fail "lab is not running after the restart: $(ctl show lab 2>&1)"
ok "lab (AutoStart=no, started by request) adopted: ifindex $LAB_IDX, dnsmasq $LAB_DPID"
ctl stop lab >/dev/null || fail "netdctl stop lab failed"
netd_stop
netd_start
link_exists "$IT_HOST" itrs1 && fail "lab was stopped, but the restarted netd brought it up again"
ok "lab, stopped by request, stays stopped across a restart"

# What a netd killed while its reaper deleted lab's links would leave.
netd_stop
must ip -n "$IT_HOST" link add itrs1 type bridge
must ip -n "$IT_HOST" link set itrs1 alias "netd:lab"
must ip -n "$IT_HOST" tuntap add dev netd-t77 mode tap
must ip -n "$IT_HOST" link set netd-t77 alias "netd:lab:port:0:persistent" master itrs1
netd_start
link_exists "$IT_HOST" itrs1 && fail "the stopped lab's leftover bridge itrs1 survived the start-up"
link_exists "$IT_HOST" netd-t77 && fail "the stopped lab's leftover TAP netd-t77 survived the start-up"
[ "$(link_ifindex "$IT_HOST" "$BR")" = "$IDX" ] || fail "web's bridge $BR was touched"
ok "a stopped network's leftover bridge and TAP are removed at start-up; web untouched"
