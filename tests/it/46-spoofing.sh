#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 46, port protection against spoofing (table bridge netd).
#
# Network "guarded" (nat, AntiSpoofing default yes) has three guests, each a
# namespace on a veth pair whose HOST end is attached with
#   netdctl attach guarded --ifname HOSTEND --mac GUESTMAC
# the attacker A, the victim and observer V, the honest guest H; all three
# lease an address by DHCP.  Once `nft -j list table bridge netd` has the
# three ports in set guarded with their MAC in port_mac and their lease in
# port_ip4, A sends raw frames (AF_PACKET) with markers in them:
#   1. IPv4 UDP to V and to the host from a foreign source MAC
#   2. IPv4 UDP to V and to the host from H's address (A's own MAC)
#   3. gratuitous ARP replies to broadcast claiming the gateway's and H's
#      address with A's MAC, and an ARP whose sender MAC is foreign
#   4. a DHCPOFFER (udp 67 -> 68, A's own MAC and address) to broadcast
#   5. an IPv6 router advertisement with a SLAAC prefix (if IPv6 is on)
#   6. IPv6 UDP from a global address outside the network's prefixes
#   7. IPv4 UDP to V in an 802.1Q tag
# Sniffers (AF_PACKET) on V's eth0 and on the host's bridge record every
# marker they see.  After each attack A sends honest sentinels (own MAC,
# own leased address, same marker format) along the same paths: frames
# from one port are delivered in order (the sender is pinned to one CPU),
# so once a sentinel is seen the spoof would have been seen before it.
# The sentinels are also the control that honest traffic from A arrives.
# Checked: no spoof marker reaches V or the host, the matching drop
# counter of table bridge netd grew by at least the frames sent, the bridge
# did not learn the foreign MAC, V's and H's ARP entries for the gateway
# still hold the bridge's MAC, the host's entry for H still holds H's MAC,
# V took no address from the rogue RA; at the end every drop counter holds
# exactly the frames sent (no honest frame was dropped); H pings the
# gateway and V without loss all through the attack.
#
# Network "open" (nat, AntiSpoofing=no) has an attacker A2 and an observer
# V2, attached the same way: its ports are not in set guarded, and the
# same attacks arrive at V2 and take effect (V2's and the host's ARP
# entries poisoned, V2 configures an address from the RA): the observers
# can see what the guard stops, and the switch works.
. "$(dirname "$0")/lib.sh"

it_init
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
it_need bridge

ns_add host
BR=itsp0
GW=10.246.0.1
BR2=itsp1
GW2=10.246.1.1
A_MAC=52:54:00:46:00:0a
V_MAC=52:54:00:46:00:0b
H_MAC=52:54:00:46:00:0c
A2_MAC=52:54:00:46:01:0a
V2_MAC=52:54:00:46:01:0b
FOREIGN_MAC=52:54:00:46:ee:01
RA_PREFIX=2001:db8:46::
net_conf guarded <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=$GW/24

[DHCP]
Range=10.246.0.100-10.246.0.149
CONF
net_conf open <<CONF
[Network]
Mode=nat
Bridge=$BR2
Address=$GW2/24
AntiSpoofing=no

[DHCP]
Range=10.246.1.100-10.246.1.149
CONF

SOCK=$IT_RUN/netd.sock
ctl() { hx "$NETDCTL" --socket "$SOCK" "$@"; }

# The raw-frame tool: sniff, send, ping.
cat >"$IT_TMP/spoof.py" <<'PY'
import os, re, select, socket, struct, sys, time

MARK = re.compile(rb"NETDT46:([A-Za-z0-9_.-]+);")
ETH_P_ALL, PACKET_OUTGOING = 3, 4


def mac(s):
    return bytes.fromhex(s.replace(":", ""))


def marker(tok):
    return b"NETDT46:" + tok.encode() + b";"


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, etype, payload):
    return mac(dst) + mac(src) + struct.pack("!H", etype) + payload


def ip4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x4646, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp4(smac, dmac, sip, dip, tok, sport=4646, dport=4646):
    data = marker(tok)
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    return eth(dmac, smac, 0x0800, ip4(sip, dip, 17, u))


def arp(smac, dmac, op, sha, spa, tha, tpa, tok):
    a = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, mac(sha), socket.inet_aton(spa),
                    mac(tha), socket.inet_aton(tpa))
    # The marker rides in the Ethernet padding after the ARP packet.
    return eth(dmac, smac, 0x0806, a + marker(tok))


def garp(smac, spa, tok):
    """Gratuitous ARP reply to broadcast: SPA is at SMAC."""
    return arp(smac, "ff:ff:ff:ff:ff:ff", 2, smac, spa, smac, spa, tok)


def offer(smac, sip, chaddr, yiaddr, tok):
    b = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 2, 1, 6, 0, 0x46464646, 0, 0x8000,
                    bytes(4), socket.inet_aton(yiaddr), socket.inet_aton(sip), bytes(4),
                    mac(chaddr), marker(tok), b"")
    srv = socket.inet_aton(sip)
    b += bytes([99, 130, 83, 99, 53, 1, 2, 54, 4]) + srv + bytes([51, 4, 0, 0, 14, 16])
    b += bytes([1, 4, 255, 255, 255, 0, 3, 4]) + srv + bytes([6, 4]) + srv + bytes([255])
    u = struct.pack("!HHHH", 67, 68, 8 + len(b), 0) + b
    return eth("ff:ff:ff:ff:ff:ff", smac, 0x0800, ip4(sip, "255.255.255.255", 17, u))


def lladdr(smac):
    m = bytearray(mac(smac))
    m[0] ^= 2
    return b"\xfe\x80" + bytes(6) + bytes(m[:3]) + b"\xff\xfe" + bytes(m[3:])


def ip6(src, dst, nh, payload, hlim=255):
    pseudo = src + dst + struct.pack("!I3xB", len(payload), nh)
    off = 2 if nh == 58 else 6
    payload = payload[:off] + struct.pack("!H", csum(pseudo + payload)) + payload[off + 2:]
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, hlim) + src + dst + payload


ALL_NODES = socket.inet_pton(socket.AF_INET6, "ff02::1")


def ra(smac, prefix, tok):
    body = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
    body += bytes([1, 1]) + mac(smac)
    body += struct.pack("!BBBBIII16s", 3, 4, 64, 0xC0, 86400, 14400, 0,
                        socket.inet_pton(socket.AF_INET6, prefix))
    m = marker(tok)
    m += bytes(-(len(m) + 2) % 8)
    body += bytes([253, (len(m) + 2) // 8]) + m
    return eth("33:33:00:00:00:01", smac, 0x86DD, ip6(lladdr(smac), ALL_NODES, 58, body))


def udp6(smac, tok, src=None):
    """UDP to ff02::1 from SRC, by default SMAC's link-local address."""
    data = marker(tok)
    u = struct.pack("!HHHH", 4646, 4646, 8 + len(data), 0) + data
    src = socket.inet_pton(socket.AF_INET6, src) if src else lladdr(smac)
    return eth("33:33:00:00:00:01", smac, 0x86DD, ip6(src, ALL_NODES, 17, u, 1))


def vlan(smac, dmac, sip, dip, tok):
    """udp4() inside an 802.1Q tag (VLAN 46)."""
    f = udp4(smac, dmac, sip, dip, tok)
    return f[:12] + struct.pack("!HH", 0x8100, 46) + f[12:]


BUILD = {"udp4": udp4, "garp": garp, "arp": lambda *a: arp(*a[:2], int(a[2]), *a[3:]),
         "offer": offer, "ra": ra, "udp6": udp6, "vlan": vlan}


def send(ifname, specs):
    # One CPU: every frame takes the same backlog queue, so they stay in order.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    for spec in specs:
        kind, *args = spec.split("/")
        s.send(BUILD[kind](*args))
    s.close()


def sniff(ifname, out, ready, lifetime):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind((ifname, ETH_P_ALL))
    f = open(out, "a", buffering=1)
    open(ready, "w").close()
    end = time.monotonic() + lifetime
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], 1)
        if not r:
            continue
        pkt, addr = s.recvfrom(65536)
        if addr[2] == PACKET_OUTGOING:
            continue
        for m in MARK.finditer(pkt):
            f.write("%s %s\n" % (m.group(1).decode(), pkt[6:12].hex(":")))


def ping(out, stop, targets):
    """Echo requests to each target in turn until STOP exists, each
    waiting up to 1 s for its reply; prints per target: sent lost."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    stats = {t: [0, 0] for t in targets}
    seq = 0
    while not os.path.exists(stop):
        for t in targets:
            seq = (seq + 1) & 0xFFFF
            h = struct.pack("!BBHHH", 8, 0, 0, 0x4646, seq) + b"netd-46"
            h = h[:2] + struct.pack("!H", csum(h)) + h[4:]
            s.sendto(h, (t, 0))
            stats[t][0] += 1
            end = time.monotonic() + 1
            while True:
                left = end - time.monotonic()
                r = select.select([s], [], [], left)[0] if left > 0 else []
                if not r:
                    stats[t][1] += 1
                    break
                pkt, peer = s.recvfrom(2048)
                icmp = pkt[(pkt[0] & 15) * 4:]
                if peer[0] == t and icmp[0] == 0 and struct.unpack("!HH", icmp[4:8]) == (0x4646, seq):
                    break
        time.sleep(0.02)
    with open(out, "w") as f:
        for t in targets:
            f.write("%s %d %d\n" % (t, *stats[t]))


cmd = sys.argv[1]
if cmd == "send":
    send(sys.argv[2], sys.argv[3:])
elif cmd == "sniff":
    sniff(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
elif cmd == "ping":
    ping(sys.argv[2], sys.argv[3], sys.argv[4:])
else:
    sys.exit(2)
PY

# The state of table bridge netd, from `nft -j` in HOST.
cat >"$IT_TMP/nftstate.py" <<'PY'
import json, sys

doc = json.load(sys.stdin)["nftables"]
cmd = sys.argv[1]
if cmd == "counters":
    # packets<TAB>comment for every rule of chain guard with a counter
    for o in doc:
        r = o.get("rule")
        if not r or r.get("chain") != "guard" or "comment" not in r:
            continue
        for e in r["expr"]:
            if "counter" in e:
                print("%d\t%s" % (e["counter"]["packets"], r["comment"]))
elif cmd == "elems":
    # the elements of set ARGV[2], concatenations joined by " . "
    for o in doc:
        s = o.get("set")
        if not s or s.get("name") != sys.argv[2]:
            continue
        for e in s.get("elem", []):
            if isinstance(e, dict) and "concat" in e:
                print(" . ".join(str(x) for x in e["concat"]))
            else:
                print(e)
PY
nft_json() { hx nft -j list table bridge netd 2>/dev/null; }
set_elems() { nft_json | "$IT_PY" "$IT_TMP/nftstate.py" elems "$1"; }
# (Output is captured before grep -q looks at it: with pipefail, a writer
# that grep -q left behind would fail the pipeline on SIGPIPE.)
has_elem() { grep -qixF -- "$2" <<<"$(set_elems "$1")"; }
# counter COMMENT: packets counted by the guard's drop rule COMMENT.
counter()
{
	local v
	v=$(nft_json | "$IT_PY" "$IT_TMP/nftstate.py" counters | awk -F '\t' -v c="$1" '$2 == c { print $1 }')
	[ -n "$v" ] || fail "no counted rule with comment \"$1\" in table bridge netd: $(hx nft list table bridge netd)"
	echo "$v"
}

netd_start
expect_bridge guarded "$BR"
expect_bridge open "$BR2"
expect_dnsmasq guarded
expect_dnsmasq open
BR_MAC=$(hx cat "/sys/class/net/$BR/address")
BR2_MAC=$(hx cat "/sys/class/net/$BR2/address")
bridge_table() { hx nft list table bridge netd >/dev/null 2>&1; }
! bridge_table || fail "table bridge netd exists with no port guarded"
ok "no port guarded yet: no table bridge netd (no hook on the host's bridges)"

# guest_attach ROLE HOSTEND NET MAC: namespace ROLE with eth0 (MAC) on a
# veth pair whose HOST end netd attaches to NET with the guest's MAC.
guest_attach()
{
	local role=$1 port=$2 net=$3 mac=$4 ns="${IT_PREFIX}$1" out
	ns_add "$role"
	must ip -n "$IT_HOST" link add "$port" type veth peer name eth0 netns "$ns"
	must ip -n "$ns" link set eth0 address "$mac"
	must ip -n "$ns" link set eth0 up
	out=$(ctl attach "$net" --ifname "$port" --mac "$mac" 2>&1) ||
		fail "netdctl attach $net --ifname $port --mac $mac: $out"
	[ "$out" = "$port" ] || fail "netdctl attach $net --ifname $port printed '$out'"
}
guest_attach a sp-a guarded "$A_MAC"
bridge_table || fail "no table bridge netd once sp-a is guarded"
ok "the first guarded port brought table bridge netd"
guest_attach v sp-v guarded "$V_MAC"
guest_attach h sp-h guarded "$H_MAC"
guest_attach a2 op-a open "$A2_MAC"
guest_attach v2 op-v open "$V2_MAC"
ok "five guests attached with netdctl attach --ifname --mac"
guests_dhcp a v h a2 v2
A_IP=$(guest_ip a)
V_IP=$(guest_ip v)
H_IP=$(guest_ip h)
A2_IP=$(guest_ip a2)
V2_IP=$(guest_ip v2)

# netd has the guards in place once the leases are in port_ip4.
guards_ready()
{
	local e m i
	e=$(set_elems guarded) && m=$(set_elems port_mac) && i=$(set_elems port_ip4) || return 1
	grep -qx sp-a <<<"$e" && grep -qx sp-v <<<"$e" && grep -qx sp-h <<<"$e" &&
		grep -qixF "sp-a . $A_MAC" <<<"$m" && grep -qixF "sp-v . $V_MAC" <<<"$m" &&
		grep -qixF "sp-h . $H_MAC" <<<"$m" &&
		grep -qxF "sp-a . $A_IP" <<<"$i" && grep -qxF "sp-v . $V_IP" <<<"$i" &&
		grep -qxF "sp-h . $H_IP" <<<"$i"
}
wait_for 5 "sp-a, sp-v, sp-h guarded with their MAC and leased IPv4 in table bridge netd" guards_ready
ok "guarded: sp-a $A_MAC $A_IP, sp-v $V_MAC $V_IP, sp-h $H_MAC $H_IP"
for p in op-a op-v; do
	! has_elem guarded "$p" || fail "port $p of network open (AntiSpoofing=no) is in set guarded"
	! grep -q "^$p " <<<"$(set_elems port_mac)" || fail "port $p of network open has an element in port_mac"
done
ok "ports op-a, op-v of network open (AntiSpoofing=no) are not guarded"

# Sniffers: V's eth0, the host's bridges, V2's eth0.
sniffer()
{
	local ns=$1 ifname=$2 name=$3
	: >"$IT_TMP/sniff-$name.log"
	ip netns exec "$ns" "$IT_PY" "$IT_TMP/spoof.py" sniff "$ifname" "$IT_TMP/sniff-$name.log" \
		"$IT_TMP/sniff-$name.ready" 170 </dev/null >>"$IT_TMP/sniff.err" 2>&1 &
}
sniffer "${IT_PREFIX}v" eth0 v
sniffer "$IT_HOST" "$BR" host
sniffer "${IT_PREFIX}v2" eth0 v2
sniffers_ready() { [ -e "$IT_TMP/sniff-v.ready" ] && [ -e "$IT_TMP/sniff-host.ready" ] && [ -e "$IT_TMP/sniff-v2.ready" ]; }
wait_for 5 "the sniffers to bind" sniffers_ready
seen() { grep -q "^$2 " "$IT_TMP/sniff-$1.log"; }

# ARP entries the attacks go for: V's and H's for the gateway, the
# host's for H; the same on the open network.
expect_ping v "$GW" "V pings the gateway"
expect_ping h "$GW" "H pings the gateway"
expect_ping v2 "$GW2" "V2 pings its gateway"
neigh_mac() { ip -n "$1" neigh show "$2" dev "$3" | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }'; }
expect_neigh()
{
	local got
	got=$(neigh_mac "$1" "$2" "$3")
	[ "$got" = "$4" ] || fail "$5: ${1#"$IT_PREFIX"} has $2 at '$got' ($(ip -n "$1" neigh show "$2" dev "$3")), expected $4"
}
expect_neigh "${IT_PREFIX}v" "$GW" eth0 "$BR_MAC" "before the attack"
expect_neigh "${IT_PREFIX}h" "$GW" eth0 "$BR_MAC" "before the attack"
expect_neigh "$IT_HOST" "$H_IP" "$BR" "$H_MAC" "before the attack"
expect_neigh "${IT_PREFIX}v2" "$GW2" eth0 "$BR2_MAC" "before the attack"
expect_neigh "$IT_HOST" "$V2_IP" "$BR2" "$V2_MAC" "before the attack"
ok "ARP entries: V and H have $GW at $BR_MAC, the host has $H_IP at $H_MAC; V2 and the host likewise on open"

HAVE_V6=1
for ns in a v a2 v2; do
	gx "$ns" test -e /proc/sys/net/ipv6/conf/eth0/accept_ra || HAVE_V6=0
done
ll_ready()
{
	local a
	a=$(ip -n "$1" -6 addr show dev eth0 scope link) && [ -n "$a" ] && ! grep -q tentative <<<"$a"
}
if [ "$HAVE_V6" = 1 ]; then
	for ns in v v2; do
		[ "$(gx "$ns" cat /proc/sys/net/ipv6/conf/eth0/accept_ra)" != 0 ] || must gx "$ns" sysctl -qw net.ipv6.conf.eth0.accept_ra=1
		wait_for 5 "a link-local IPv6 address on $ns's eth0 past DAD" ll_ready "${IT_PREFIX}$ns"
	done
fi
it_setup_done

# H pings the gateway and V all through the attack.
rm -f "$IT_TMP/ping.stop"
gx h "$IT_PY" "$IT_TMP/spoof.py" ping "$IT_TMP/ping.out" "$IT_TMP/ping.stop" "$GW" "$V_IP" \
	</dev/null >"$IT_TMP/ping.err" 2>&1 &
PING_PID=$!

# A's honest sentinels for step N: unicast to V and to the gateway,
# broadcast, and (with IPv6) multicast from A's link-local address.
STEP=0
declare -A SENT
sentinels()
{
	echo "udp4/$A_MAC/$V_MAC/$A_IP/$V_IP/sent$STEP-v"
	echo "udp4/$A_MAC/$BR_MAC/$A_IP/$GW/sent$STEP-g"
	echo "udp4/$A_MAC/ff:ff:ff:ff:ff:ff/$A_IP/10.246.0.255/sent$STEP-b"
	[ "$HAVE_V6" = 1 ] && echo "udp6/$A_MAC/sent$STEP-6"
}
# attack DESC COMMENT FRAME...: send the spoofed frames from A (markers
# spoofSTEP-*), then the sentinels; once V and the host saw every sentinel
# meant for them, no spoof marker may be in their logs, and the drop
# counter COMMENT must have grown by the number of frames.
attack()
{
	local desc=$1 comment=$2 before after t0 obs s
	shift 2
	STEP=$((STEP + 1))
	before=$(counter "$comment")
	t0=$(date +%s%N)
	mapfile -t s < <(sentinels)
	gx a "$IT_PY" "$IT_TMP/spoof.py" send eth0 "$@" "${s[@]}" ||
		fail "step $STEP ($desc): sending from A failed"
	sentinels_seen()
	{
		seen v "sent$STEP-v" && seen v "sent$STEP-b" && seen host "sent$STEP-g" && seen host "sent$STEP-b" &&
			{ [ "$HAVE_V6" = 0 ] || { seen v "sent$STEP-6" && seen host "sent$STEP-6"; }; }
	}
	wait_for 5 "step $STEP ($desc): A's honest sentinels at V and at the host" sentinels_seen
	for obs in v host; do
		if grep -q "^spoof$STEP-" "$IT_TMP/sniff-$obs.log"; then
			fail "step $STEP ($desc): the spoofed frame reached $obs: $(grep "^spoof$STEP-" "$IT_TMP/sniff-$obs.log" | tr '\n' ' ')"
		fi
	done
	after=$(counter "$comment")
	[ "$after" -ge $((before + $#)) ] ||
		fail "step $STEP ($desc): counter \"$comment\" went from $before to $after, expected +$#"
	SENT[$comment]=$((${SENT[$comment]:-0} + $#))
	ok "step $STEP, $desc: stopped; honest sentinels arrived, \"$comment\" $before -> $after ($((($(date +%s%N) - t0) / 1000000)) ms)"
}

attack "IPv4 from a foreign source MAC" "foreign source MAC" \
	"udp4/$FOREIGN_MAC/$V_MAC/$A_IP/$V_IP/spoof1-v" \
	"udp4/$FOREIGN_MAC/$BR_MAC/$A_IP/$GW/spoof1-g"
fdb_has() { grep -qi "^$2 " <<<"$(bridge -n "$IT_HOST" fdb show br "$1")"; }
! fdb_has "$BR" "$FOREIGN_MAC" || fail "the bridge learned the foreign MAC: $(bridge -n "$IT_HOST" fdb show br "$BR" | grep -i "$FOREIGN_MAC")"
ok "the bridge did not learn $FOREIGN_MAC"

attack "IPv4 from H's address $H_IP" "foreign IPv4 source" \
	"udp4/$A_MAC/$V_MAC/$H_IP/$V_IP/spoof2-v" \
	"udp4/$A_MAC/$BR_MAC/$H_IP/$GW/spoof2-g"

attack "forged ARP: the gateway and H are at A's MAC, a foreign sender MAC" "ARP with a foreign sender" \
	"garp/$A_MAC/$GW/spoof3-gw" \
	"garp/$A_MAC/$H_IP/spoof3-h" \
	"arp/$A_MAC/ff:ff:ff:ff:ff:ff/2/$FOREIGN_MAC/$A_IP/$FOREIGN_MAC/$A_IP/spoof3-sha"
expect_neigh "${IT_PREFIX}v" "$GW" eth0 "$BR_MAC" "after the forged ARP"
expect_neigh "${IT_PREFIX}h" "$GW" eth0 "$BR_MAC" "after the forged ARP"
expect_neigh "$IT_HOST" "$H_IP" "$BR" "$H_MAC" "after the forged ARP"
ok "V and H still have $GW at $BR_MAC, the host still has $H_IP at $H_MAC"

attack "DHCPOFFER from A's own MAC and address" "DHCP server" \
	"offer/$A_MAC/$A_IP/$V_MAC/10.246.0.200/spoof4-offer"

v6_prefix_addr() { grep -q "inet6 ${RA_PREFIX%::}:" <<<"$(ip -n "$1" -6 addr show dev eth0)"; }
if [ "$HAVE_V6" = 1 ]; then
	attack "IPv6 router advertisement of $RA_PREFIX/64" "router advertisement" \
		"ra/$A_MAC/$RA_PREFIX/spoof5-ra"
	! v6_prefix_addr "${IT_PREFIX}v" || fail "V configured an address from the rogue RA: $(ip -n "${IT_PREFIX}v" -6 addr show dev eth0)"
	ok "V has no address in $RA_PREFIX/64"
	attack "IPv6 from ${RA_PREFIX}a, outside the network's prefixes" "foreign IPv6 source" \
		"udp6/$A_MAC/spoof6-ip6/${RA_PREFIX}a"
else
	log "IPv6 is off in the guests: no router advertisement and IPv6 source steps"
fi
attack "IPv4 to V in an 802.1Q tag" "802.1Q tag" \
	"vlan/$A_MAC/$V_MAC/$A_IP/$V_IP/spoof7-vlan"

# No honest frame was dropped: each drop counter holds exactly the frames
# the attacks sent.
while IFS=$'\t' read -r n c; do
	[ "$n" = "${SENT[$c]:-0}" ] ||
		fail "drop counter \"$c\" is $n, but the attacks sent ${SENT[$c]:-0} such frames: honest frames dropped?"
done < <(nft_json | "$IT_PY" "$IT_TMP/nftstate.py" counters)
ok "every drop counter equals the frames the attacks sent ($(for c in "${!SENT[@]}"; do printf '"%s" %s, ' "$c" "${SENT[$c]}"; done | sed 's/, $//'))"

# H was unaffected: every echo request answered.
touch "$IT_TMP/ping.stop"
wait "$PING_PID" || fail "H's pinger failed: $(cat "$IT_TMP/ping.err")"
while read -r t sent lost; do
	if [ "$sent" -lt 1 ] || [ "$lost" != 0 ]; then
		fail "H pinging $t during the attack: $lost of $sent lost"
	fi
	ok "H pinged $t during the attack: $sent sent, none lost"
done <"$IT_TMP/ping.out"
[ "$(grep -c . "$IT_TMP/ping.out")" = 2 ] || fail "H's pinger reported: $(cat "$IT_TMP/ping.out")"
expect_ping h "$V_IP" "H pings V after the attack"
# Nothing arrived late either: the last step's sentinels came after all.
for obs in v host; do
	! grep -q "^spoof" "$IT_TMP/sniff-$obs.log" || fail "spoofed frames reached $obs: $(grep "^spoof" "$IT_TMP/sniff-$obs.log" | tr '\n' ' ')"
done

# The open network: the same attacks from A2 arrive at V2 and take effect.
t0=$(date +%s%N)
frames=(
	"udp4/$FOREIGN_MAC/$V2_MAC/$A2_IP/$V2_IP/open1"
	"udp4/$A2_MAC/$V2_MAC/10.246.1.77/$V2_IP/open2"
	"garp/$A2_MAC/$GW2/open3-gw"
	"garp/$A2_MAC/$V2_IP/open3-v"
	"arp/$A2_MAC/ff:ff:ff:ff:ff:ff/2/$FOREIGN_MAC/$A2_IP/$FOREIGN_MAC/$A2_IP/open3-sha"
	"offer/$A2_MAC/$A2_IP/$V2_MAC/10.246.1.200/open4"
)
frames+=("vlan/$A2_MAC/$V2_MAC/$A2_IP/$V2_IP/open7")
[ "$HAVE_V6" = 1 ] && frames+=("ra/$A2_MAC/$RA_PREFIX/open5" "udp6/$A2_MAC/open6/${RA_PREFIX}a")
gx a2 "$IT_PY" "$IT_TMP/spoof.py" send eth0 "${frames[@]}" || fail "sending from A2 failed"
open_all_seen()
{
	local f p parts
	for f in "${frames[@]}"; do
		IFS=/ read -ra parts <<<"$f"
		for p in "${parts[@]}"; do
			case "$p" in
			open*) seen v2 "$p" || return 1 ;;
			esac
		done
	done
}
wait_for 5 "every spoofed frame from A2 at V2 (network open, AntiSpoofing=no)" open_all_seen
ok "open: all ${#frames[@]} spoofed frames reached V2 ($((($(date +%s%N) - t0) / 1000000)) ms)"
fdb_has "$BR2" "$FOREIGN_MAC" || fail "open: the bridge did not learn $FOREIGN_MAC from A2's spoofed frame"
neigh_poisoned() { [ "$(neigh_mac "$1" "$2" "$3")" = "$A2_MAC" ]; }
wait_for 3 "V2's ARP entry for $GW2 to follow the forged ARP (A2's MAC)" neigh_poisoned "${IT_PREFIX}v2" "$GW2" eth0
wait_for 3 "the host's ARP entry for $V2_IP to follow the forged ARP (A2's MAC)" neigh_poisoned "$IT_HOST" "$V2_IP" "$BR2"
ok "open: the forged ARP took effect (V2: $GW2 at $A2_MAC, host: $V2_IP at $A2_MAC)"
if [ "$HAVE_V6" = 1 ]; then
	wait_for 3 "V2 to configure an address in $RA_PREFIX/64 from A2's RA" v6_prefix_addr "${IT_PREFIX}v2"
	ok "open: V2 configured an address from the rogue RA"
fi
! has_elem guarded op-a || fail "op-a is in set guarded after the attack"

# Nothing reached V or the host on the guarded network meanwhile.
for obs in v host; do
	! grep -q "^spoof" "$IT_TMP/sniff-$obs.log" || fail "spoofed frames reached $obs: $(grep "^spoof" "$IT_TMP/sniff-$obs.log" | tr '\n' ' ')"
done
# The last guarded port gone, the table goes too.
for port in sp-a sp-v sp-h; do
	out=$(ctl detach "$port" 2>&1) || fail "netdctl detach $port: $out"
	if [ "$port" != sp-h ]; then
		bridge_table || fail "table bridge netd gone while a port is still guarded (after $port)"
	fi
done
wait_for 3 "table bridge netd to go with the last guarded port" eval '! bridge_table'
ok "the last guarded port detached: table bridge netd deleted"
netd_stop
