#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 12, upstream DNS: a network's dnsmasq forwards names it does not
# know to the servers of the host's resolv.conf (NETD_RESOLV_CONF here),
# through RUN_DIR/dnsmasq/servers, without an inotify instance of its own.
# When resolv.conf is replaced (rename, as resolvconf and systemd-resolved
# do), netd rewrites the servers file and dnsmasq follows after a SIGHUP:
# same pid, new upstream.
. "$(dirname "$0")/lib.sh"

it_init
it_topology

BR=itup0
GW=10.212.0.1
UP1=$UPLINK_OUT
UP2=203.0.113.3
net_conf web <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=$GW/24

[DHCP]
Range=10.212.0.100-10.212.0.149
CONF

# Two upstream resolvers in OUTSIDE, each with its own answer for one name.
must ip -n "$IT_OUT" addr add "$UP2/24" dev eth0
upstream()
{
	ip netns exec "$IT_OUT" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
		--bind-interfaces --listen-address="$1" --except-interface=lo \
		--address="/svc.upstream.test/$2" --pid-file="$IT_TMP/up-$1.pid" \
		--log-facility="$IT_TMP/up-$1.log" </dev/null >/dev/null 2>&1 &
}
upstream "$UP1" 198.51.100.1
upstream "$UP2" 198.51.100.2

RESOLV=$IT_TMP/resolv.conf
printf '# written by the test\nsearch example.org\nnameserver %s\n' "$UP1" >"$RESOLV"
export NETD_RESOLV_CONF=$RESOLV
netd_start
expect_dnsmasq web
PID=$(dnsmasq_pid web)
grep -qx "server=$UP1" "$IT_RUN/dnsmasq/servers" ||
	fail "RUN_DIR/dnsmasq/servers does not name $UP1: $(cat "$IT_RUN/dnsmasq/servers")"
ok "servers file holds the nameserver of $RESOLV"
for fd in /proc/"$PID"/fd/*; do
	[ "$(readlink "$fd")" != "anon_inode:inotify" ] ||
		fail "dnsmasq (pid $PID) holds an inotify instance ($fd)"
done
ok "dnsmasq holds no inotify instance"

guest_add g1 "$BR"
guests_dhcp g1
it_setup_done

expect_dns g1 "$GW" svc.upstream.test 198.51.100.1

# Replace resolv.conf by a rename: netd must notice and dnsmasq follow.
printf 'nameserver %s\n' "$UP2" >"$RESOLV.new"
mv "$RESOLV.new" "$RESOLV"
new_upstream()
{
	[ "$(dns_query g1 "$GW" svc.upstream.test 2>/dev/null)" = 198.51.100.2 ]
}
wait_for 10 "svc.upstream.test to resolve through the new upstream $UP2" new_upstream
ok "after resolv.conf was replaced, names resolve through $UP2"
[ "$(dnsmasq_pid web)" = "$PID" ] || fail "dnsmasq was restarted (pid $PID -> $(dnsmasq_pid web)), expected a SIGHUP"
ok "same dnsmasq (pid $PID): it re-read its servers on SIGHUP"

# An in-place rewrite too (an editor or a script that truncates).
printf 'nameserver %s\n' "$UP1" >"$RESOLV"
old_upstream()
{
	[ "$(dns_query g1 "$GW" svc.upstream.test 2>/dev/null)" = 198.51.100.1 ]
}
wait_for 10 "svc.upstream.test to resolve through $UP1 again" old_upstream
ok "after an in-place rewrite, names resolve through $UP1 again"

# A restarted netd adopts dnsmasq as it is: the servers file is unchanged.
netd_stop
netd_start
expect_dnsmasq web
[ "$(dnsmasq_pid web)" = "$PID" ] || fail "dnsmasq replaced across a netd restart (pid $PID -> $(dnsmasq_pid web))"
expect_dns g1 "$GW" svc.upstream.test 198.51.100.1
ok "netd restart: dnsmasq adopted (pid $PID), upstream unchanged"
