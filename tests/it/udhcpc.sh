#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Event script for busybox udhcpc in a guest namespace (see lib.sh,
# guest_dhcp).  It configures the interface from the lease and records the
# lease for the test:
#   IT_LEASE_FILE   key=value lines: ip, mask, router, dns, domain, lease, serverid
#   IT_RESOLV_FILE  the guest's resolv.conf (the test never writes /etc)
# Both are written atomically (temporary file, then rename).
# udhcpc passes the lease in the environment (interface, ip, mask, ...).
# shellcheck disable=SC2154

: "${IT_LEASE_FILE:?}"
: "${IT_RESOLV_FILE:?}"

case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface" || exit 1
	if [ -n "${router:-}" ]; then
		# shellcheck disable=SC2086
		set -- $router
		ip route replace default via "$1" dev "$interface" || exit 1
	fi
	{
		echo "ip=$ip"
		echo "mask=${mask:-}"
		echo "router=${router:-}"
		echo "dns=${dns:-}"
		echo "domain=${domain:-}"
		echo "lease=${lease:-}"
		echo "serverid=${serverid:-}"
	} >"$IT_LEASE_FILE.tmp" && mv "$IT_LEASE_FILE.tmp" "$IT_LEASE_FILE"
	{
		[ -n "${domain:-}" ] && echo "search $domain"
		for s in ${dns:-}; do
			echo "nameserver $s"
		done
	} >"$IT_RESOLV_FILE.tmp" && mv "$IT_RESOLV_FILE.tmp" "$IT_RESOLV_FILE"
	;;
leasefail|nak)
	echo "udhcpc: $1 ${message:-}" >&2
	;;
esac
exit 0
