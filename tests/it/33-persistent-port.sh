#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 33, a persistent port for launchers that take a TAP by name
# (Firecracker, cloud-hypervisor): root runs
#   netdctl attach NET --owner nobody --mac MAC
# which prints a TAP name T.  T exists, is persistent (IFF_PERSIST), owned
# by nobody's uid, enslaved to the network's bridge, and `netdctl ports`
# shows it (kind persistent, owner nobody, the MAC given).
# Then user nobody opens T by name the way Firecracker's jailer has it: a
# private tun node (mknod c 10 200 in the test's temp dir, chowned to
# nobody; the host's /dev/net/tun stays 0600), TUNSETIFF name=T with
# IFF_TAP|IFF_NO_PI|IFF_VNET_HDR.  The carrier goes up, and an ARP request
# for the bridge's address written to the fd gets the bridge's ARP reply
# back on the fd: traffic flows.  User daemon cannot take T (not its
# owner).  When nobody closes the fd, T stays (persistent).
# `netdctl detach T` removes the link and the port; `netdctl monitor`
# shows port.added then port.removed for T, and nothing for T afterwards.
. "$(dirname "$0")/lib.sh"

it_init
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
it_need setpriv mknod
for u in nobody daemon; do
	id -u "$u" >/dev/null 2>&1 || skip "no user $u"
done

ns_add host
NET=fcnet
BR=itpp0
GW=10.233.0.1
MAC=52:54:00:33:00:01
net_conf "$NET" <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=$GW/24

[DHCP]
# The "guest" below speaks from 10.233.0.50 without DHCP: port protection
# lets a guest use an IPv4 address only once it is leased or reserved.
Reservation=$MAC,10.233.0.50

[Access]
User=nobody
CONF

SOCK=$IT_RUN/netd.sock
ctl() { hx "$NETDCTL" --socket "$SOCK" "$@"; }
as()
{
	local u=$1
	shift
	hx setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups \
		--inh-caps=-all -- "$@"
}

# Private tun nodes, one per user, like Firecracker's jailer makes in its chroot.
for u in nobody daemon; do
	must mknod "$IT_TMP/tun-$u" c 10 200
	must chown "$u:" "$IT_TMP/tun-$u"
	must chmod 600 "$IT_TMP/tun-$u"
done
as nobody "$IT_PY" -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_RDWR))' "$IT_TMP/tun-nobody" \
	2>"$IT_TMP/node.err" || skip "cannot open a device node in $IT_TMP (nodev?): $(cat "$IT_TMP/node.err")"

netd_start
expect_bridge "$NET" "$BR"
hx "$NETDCTL" --socket "$SOCK" monitor >"$IT_TMP/monitor.log" 2>"$IT_TMP/monitor.err" </dev/null &
MON_PID=$!
mon_has() { grep -qE "$1" "$IT_TMP/monitor.log"; }
# sync_monitor TAG: a sentinel port TAG comes and goes; once the monitor
# printed its removal, it has printed every event netd sent before.
sync_monitor()
{
	local tag=$1
	mon_synced()
	{
		mon_has " port\.removed $NET $tag( |\$)" && return 0
		proc_alive "$MON_PID" || fail "netdctl monitor exited: $(cat "$IT_TMP/monitor.err")"
		if ! mon_has " port\.added $NET $tag( |\$)"; then
			ctl attach "$NET" --ifname "$tag" >/dev/null 2>&1 && ctl detach "$tag" >/dev/null 2>&1
		fi
		return 1
	}
	wait_for 5 "netdctl monitor to report sentinel port $tag" mon_synced
}
sync_monitor itsync0
it_setup_done

T=$(ctl attach "$NET" --owner nobody --mac "$MAC" 2>"$IT_TMP/ctl.err") ||
	fail "netdctl attach $NET --owner nobody --mac $MAC: $(cat "$IT_TMP/ctl.err")"
[ "$(grep -c . <<<"$T")" = 1 ] || fail "netdctl attach printed '$T', expected one interface name"
link_exists "$IT_HOST" "$T" || fail "netdctl attach printed $T, but there is no such link in HOST"
ok "netdctl attach $NET --owner nobody --mac $MAC printed $T"

sysfs() { hx cat "/sys/class/net/$T/$1" 2>/dev/null; }
[ "$(sysfs owner)" = "$(id -u nobody)" ] || fail "$T owner is '$(sysfs owner)', expected $(id -u nobody)"
FL=$(sysfs tun_flags)
(( FL & 0x0800 )) || fail "$T tun_flags $FL: not persistent (IFF_PERSIST 0x800)"
(( FL & 0x0002 )) || fail "$T tun_flags $FL: not a TAP"
ip -n "$IT_HOST" -o link show dev "$T" | grep -q " master $BR " ||
	fail "$T is not enslaved to $BR: $(ip -n "$IT_HOST" -o link show dev "$T")"
[ "$(sysfs carrier)" != 1 ] || fail "$T has carrier before anyone opened it"
ok "$T: persistent TAP (tun_flags $FL), owner uid $(sysfs owner), enslaved to $BR, no carrier yet"

port_json()
{
	ctl --json ports | "$IT_PY" -c '
import json, sys
for p in json.load(sys.stdin)["ports"]:
    if p["ifname"] == sys.argv[1]:
        print(" ".join(str(p.get(k)) for k in ("network", "kind", "owner", "owner_name", "mac")))' "$1"
}
want="$NET persistent $(id -u nobody) nobody $MAC"
[ "$(port_json "$T")" = "$want" ] || fail "netdctl --json ports: '$(port_json "$T")' for $T, expected '$want'"
row=$(ctl ports | awk -v i="$T" 'NR > 1 && $1 == i')
[ "$(awk '{ print $2, $3, $4 }' <<<"$row")" = "$NET $MAC nobody" ] ||
	fail "netdctl ports: '$row', expected $T $NET $MAC nobody"
ok "netdctl ports: $row (kind persistent)"

# The "guest": opens T through its private node, ARPs for the bridge.
cat >"$IT_TMP/tapguest.py" <<'PY'
import fcntl, os, select, socket, struct, sys, time

node, ifname, mac, gw, release = sys.argv[1:6]
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, TUNSETIFF = 0x0002, 0x1000, 0x4000, 0x400454ca
VNET_HDR = 10        # struct virtio_net_hdr, the default size
try:
    fd = os.open(node, os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", ifname.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
except OSError as e:
    print("open-failed %s" % e, flush=True)
    sys.exit(3)
print("opened", flush=True)
me = bytes.fromhex(mac.replace(":", ""))
my_ip = socket.inet_aton("10.233.0.50")
gw_ip = socket.inet_aton(gw)
arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, me, my_ip, b"\0" * 6, gw_ip)
frame = b"\xff" * 6 + me + b"\x08\x06" + arp
end = time.monotonic() + 8
next_send = 0
while time.monotonic() < end:
    if time.monotonic() >= next_send:
        os.write(fd, b"\0" * VNET_HDR + frame)
        next_send = time.monotonic() + 1
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        continue
    pkt = os.read(fd, 65536)[VNET_HDR:]
    if len(pkt) < 42 or pkt[12:14] != b"\x08\x06":
        continue
    op, sha, spa, tha, tpa = struct.unpack("!6x H 6s4s6s4s", pkt[14:42])
    if op == 2 and spa == gw_ip and tha == me and pkt[0:6] == me:
        print("arp-reply %s is-at %s" % (gw, ":".join("%02x" % b for b in sha)), flush=True)
        break
else:
    print("no-arp-reply", flush=True)
end = time.monotonic() + 30
while not os.path.exists(release) and time.monotonic() < end:
    time.sleep(0.05)
os.close(fd)
PY

# daemon is not T's owner: TUNSETIFF on T fails even through its own node.
out=$(as daemon "$IT_PY" "$IT_TMP/tapguest.py" "$IT_TMP/tun-daemon" "$T" "$MAC" "$GW" /nonexistent 2>&1)
case "$out" in
"open-failed "*) ok "daemon cannot take $T: $out" ;;
*) fail "daemon opened nobody's $T: $out" ;;
esac

as nobody "$IT_PY" "$IT_TMP/tapguest.py" "$IT_TMP/tun-nobody" "$T" "$MAC" "$GW" "$IT_TMP/release" \
	>"$IT_TMP/guest.out" 2>&1 </dev/null &
GPID=$!
guest_said() { grep -qE "$1" "$IT_TMP/guest.out" || ! proc_alive "$GPID"; }
wait_for 5 "nobody to open $T" guest_said '^(opened|open-failed)'
grep -q '^opened' "$IT_TMP/guest.out" || fail "nobody could not open $T: $(cat "$IT_TMP/guest.out")"
ok "nobody opened $T through $IT_TMP/tun-nobody (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR)"
carrier_up() { [ "$(sysfs carrier)" = 1 ]; }
wait_for 3 "$T carrier up once nobody holds it" carrier_up
ok "$T has carrier"
wait_for 10 "an ARP reply through $T" guest_said '^(arp-reply|no-arp-reply)'
BRMAC=$(hx cat "/sys/class/net/$BR/address")
grep -qx "arp-reply $GW is-at $BRMAC" "$IT_TMP/guest.out" ||
	fail "no ARP reply from the bridge ($BRMAC) through $T: $(cat "$IT_TMP/guest.out")"
ok "traffic flows: $(grep '^arp-reply' "$IT_TMP/guest.out")"
row=$(ctl ports | awk -v i="$T" 'NR > 1 && $1 == i')
[ "$(awk '{ print $5 }' <<<"$row")" = up ] || fail "netdctl ports: '$row', expected state up"

touch "$IT_TMP/release"
wait "$GPID"
link_exists "$IT_HOST" "$T" || fail "$T vanished when nobody closed it (should be persistent)"
[ -n "$(ctl ports | awk -v i="$T" 'NR > 1 && $1 == i')" ] || fail "port $T left netdctl ports when nobody closed it"
ok "$T persists after nobody closed it"

out=$(ctl detach "$T" 2>&1) || fail "netdctl detach $T: $out"
link_exists "$IT_HOST" "$T" && fail "$T still exists after netdctl detach"
[ -z "$(ctl ports | awk -v i="$T" 'NR > 1 && $1 == i')" ] || fail "netdctl ports still lists $T after detach"
ok "netdctl detach $T: link and port gone"

# Every event for T has reached the monitor once a later sentinel's did.
sync_monitor itsync1
ev=$(grep -E " port\.(added|removed) $NET $T( |$)" "$IT_TMP/monitor.log" | awk '{ print $3 }' | tr '\n' ' ')
[ "$ev" = "port.added port.removed " ] ||
	fail "netdctl monitor events for $T: '$ev', expected 'port.added port.removed ':
$(cat "$IT_TMP/monitor.log")"
ok "netdctl monitor: port.added then port.removed for $T, nothing after"
[ -z "$(ctl ports | awk -v i="$T" 'NR > 1 && $1 == i')" ] || fail "netdctl ports lists $T again after detach"
netd_stop
