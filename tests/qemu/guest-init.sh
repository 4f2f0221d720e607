#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# /init of the netd test guest (busybox initramfs built by build-guest.sh).
# Runs as PID 1 under QEMU; reports on the serial console with lines
# "NETD-GUEST: WHAT [DETAILS]" (console lines end in \r\n):
#
#   boot mac=MAC uptime=S      /init started, modules loaded, eth0 up
#   lease IP                   DHCP lease obtained and applied to eth0
#   lease-info ip=IP/PREFIX router=R dns=D hostname=H
#   dhcp-failed                no lease (then skips the network checks)
#   tcp-ok LINE | tcp-failed   netd.tcp: first line the server sent
#   http-ok LINE | http-failed netd.http: HTTP status line
#   ping-ok IP | ping-failed IP
#   ready                      checks done, staying netd.stay seconds
#   done                       about to power off
#   error WHAT                 something in the guest itself broke
#   watchdog                   netd.timeout expired: forced power off
#
# Kernel command line parameters (all optional):
#   netd.hostname=NAME   DHCP hostname (option 12) and guest hostname
#   netd.tcp=IP:PORT     connect, send nothing, print the first line read
#   netd.http=IP:PORT    GET / HTTP/1.0, print the status line
#   netd.ping=IP         3 pings, bounded
#   netd.listen=PORT     during the stay, answer TCP on PORT with
#                        "hello from NAME" and close
#   netd.stay=SECONDS    stay up (answering pings) before powering off
#   netd.dhcp_timeout=S  give up on DHCP after S seconds (default 30)
#   netd.timeout=S       watchdog: power off after S seconds whatever
#                        happens (default stay + 120)
#
# The same file is also the udhcpc script (argv[1] = deconfig, bound, ...)
# and the netd.listen responder (argv[1] = reply), when not PID 1.

PATH=/bin:/sbin
export PATH

say()
{
	echo "NETD-GUEST: $*"
}

# --- udhcpc script mode: apply the lease udhcpc hands us in the env. ---
# shellcheck disable=SC2154 # interface, ip, mask, router, dns: from udhcpc
udhcpc_event()
{
	case "$1" in
	deconfig)
		ip -4 addr flush dev "$interface"
		ip link set "$interface" up
		;;
	bound|renew)
		ip -4 addr flush dev "$interface"
		ip addr add "$ip/${mask:-${subnet:-24}}" dev "$interface"
		for r in $router; do
			ip route replace default via "$r" dev "$interface"
			break
		done
		: >/etc/resolv.conf
		for d in $dns; do
			echo "nameserver $d" >>/etc/resolv.conf
		done
		# Read back by PID 1 once udhcpc exits.
		{
			echo "ip=$ip"
			echo "mask=${mask:-}"
			echo "router=${router%% *}"
			echo "dns=$(echo "$dns" | tr -s ' ' ',')"
			echo "hostname=${hostname:-}"
		} >/run/lease
		;;
	esac
	return 0
}

if [ "$$" != 1 ]; then
	case "$1" in
	reply) echo "hello from $(hostname)"; exit 0 ;;
	*) udhcpc_event "$1"; exit 0 ;;
	esac
fi

# --- PID 1 ---
powerdown()
{
	say "done"
	sync
	poweroff -f
	# Only reached if the ACPI power off did not work.
	echo o >/proc/sysrq-trigger
	sleep 5
	reboot -f
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mkdir -p /run /tmp
echo 1 >/proc/sys/kernel/printk

HOSTNAME=guest TCP='' HTTP='' PING='' LISTEN='' STAY=0 DHCP_TIMEOUT=30 TIMEOUT=''
# shellcheck disable=SC2013 # words, not lines
for w in $(cat /proc/cmdline); do
	case "$w" in
	netd.hostname=*) HOSTNAME=${w#*=} ;;
	netd.tcp=*) TCP=${w#*=} ;;
	netd.http=*) HTTP=${w#*=} ;;
	netd.ping=*) PING=${w#*=} ;;
	netd.listen=*) LISTEN=${w#*=} ;;
	netd.stay=*) STAY=${w#*=} ;;
	netd.dhcp_timeout=*) DHCP_TIMEOUT=${w#*=} ;;
	netd.timeout=*) TIMEOUT=${w#*=} ;;
	esac
done
case "$STAY" in ''|*[!0-9]*) STAY=0 ;; esac
case "$DHCP_TIMEOUT" in ''|*[!0-9]*|0) DHCP_TIMEOUT=30 ;; esac
case "$TIMEOUT" in ''|*[!0-9]*|0) TIMEOUT=$((STAY + DHCP_TIMEOUT + 90)) ;; esac

# Watchdog: whatever hangs below, the guest powers off in the end.
(
	sleep "$TIMEOUT"
	say watchdog
	echo o >/proc/sysrq-trigger
	sleep 5
	echo b >/proc/sysrq-trigger
) &

hostname "$HOSTNAME"
# shellcheck disable=SC2013
for m in $(cat /lib/modules/load.list); do
	insmod "/lib/modules/$m" || say "error insmod $m"
done
ip link set lo up
# virtio-net may take a moment to register after insmod.
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done
if ! ip link set eth0 up; then
	say "error no eth0"
	powerdown
fi
say "boot mac=$(cat /sys/class/net/eth0/address) uptime=$(cut -d' ' -f1 /proc/uptime)"

# udhcpc: one DISCOVER a second, exit when bound (-q) or after the
# attempts (-n); the outer timeout bounds it whatever happens.
tries=$DHCP_TIMEOUT
timeout "$((DHCP_TIMEOUT + 5))" udhcpc -f -q -n -i eth0 -s /init \
	-t "$tries" -T 1 -A 1 -x "hostname:$HOSTNAME" >/tmp/udhcpc.log 2>&1
addr=$(ip -4 -o addr show dev eth0 | awk '{ print $4; exit }')
if [ -n "$addr" ] && [ -f /run/lease ]; then
	# shellcheck disable=SC1091 # written by udhcpc_event
	. /run/lease
	say "lease ${addr%/*}"
	say "lease-info ip=$addr router=${router:-none} dns=${dns:-none} hostname=$HOSTNAME uptime=$(cut -d' ' -f1 /proc/uptime)"
	LEASED=1
else
	say dhcp-failed
	sed 's/^/NETD-GUEST-LOG: /' /tmp/udhcpc.log
	LEASED=0
fi

if [ $LEASED = 1 ] && [ -n "$TCP" ]; then
	line=$(timeout 10 nc -w 5 "${TCP%:*}" "${TCP##*:}" </dev/null 2>/dev/null \
		| head -n 1 | tr -d '\r')
	if [ -n "$line" ]; then
		say "tcp-ok $line"
	else
		say tcp-failed
	fi
fi

if [ $LEASED = 1 ] && [ -n "$HTTP" ]; then
	line=$(printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "${HTTP%:*}" \
		| timeout 10 nc -w 5 "${HTTP%:*}" "${HTTP##*:}" 2>/dev/null \
		| head -n 1 | tr -d '\r')
	case "$line" in
	HTTP/*) say "http-ok $line" ;;
	*) say http-failed ;;
	esac
fi

if [ $LEASED = 1 ] && [ -n "$PING" ]; then
	if timeout 10 ping -c 3 -W 2 "$PING" >/dev/null 2>&1; then
		say "ping-ok $PING"
	else
		say "ping-failed $PING"
	fi
fi

if [ "$STAY" -gt 0 ]; then
	if [ -n "$LISTEN" ]; then
		nc -ll -p "$LISTEN" -e /init reply &
	fi
	say "ready stay=$STAY"
	sleep "$STAY"
else
	say ready
fi
powerdown
