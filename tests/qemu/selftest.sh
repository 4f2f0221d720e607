#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# selftest.sh: proves tests/qemu/ (build-guest.sh, guest-init.sh, lib.sh)
# without netd. In a namespace of its own: a bridge 10.123.0.1/24, dnsmasq
# serving DHCP on it, a TCP server on 10.123.0.1:7777 replying "hello", a
# TAP enslaved to the bridge; boots the guest on that TAP (QEMU TCG) and
# checks its markers (lease, tcp-ok hello, ping from the host while it
# stays) and that dnsmasq's lease file has the guest's MAC and hostname.
# Prints how long the build and the boot took.
#
# Exit: 0 pass, 1 fail, 77 skip (not root; QEMU or the kernel cannot be
# installed). Leaves nothing behind (namespace, processes, TAP, temp dir),
# on pass, fail or signal. NETD_QEMU_KEEP=1 keeps the temp dir.

set -u
set -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/qemu/lib.sh
. "$HERE/lib.sh"

NS="netdq-$$-$RANDOM"
T=""
QPID=""
PIDS=()
FAILS=0
HOSTNAME_G="qtest$$"
MAC="52:54:00:7e:$(printf '%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)))"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
ok() { echo "ok $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup()
{
	local p

	trap - EXIT INT TERM
	[ -n "$QPID" ] && qemu_guest_stop "$QPID" >/dev/null 2>&1
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	# Anything else still in the namespace (nothing should be).
	if ip netns pids "$NS" >/dev/null 2>&1; then
		for p in $(ip netns pids "$NS"); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$NS" 2>/dev/null
	fi
	if [ -n "$T" ] && [ -z "${NETD_QEMU_KEEP:-}" ]; then
		rm -rf "$T"
	elif [ -n "$T" ]; then
		echo "kept $T"
	fi
}

# Bounded poll: wait_for SECONDS COMMAND... until COMMAND succeeds.
wait_for()
{
	local end=$(( $(now_ms) + $1 * 1000 ))
	shift
	until "$@"; do
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# shellcheck disable=SC2317 # called through wait_for
qemu_guest_exited()
{
	! qemu_guest_alive "$1"
}

# shellcheck disable=SC2317 # called through wait_for
tcp_listening()
{
	ip netns exec "$NS" ss -Hltn "sport = :7777" 2>/dev/null | grep -q .
}

main()
{
	local t0 t1 t_build t_lease t_tcp line rc ip

	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: must run as root"
		exit 77
	fi
	trap cleanup EXIT
	trap 'exit 1' INT TERM

	t0=$(now_ms)
	qemu_guest_build
	rc=$?
	if [ $rc = 77 ]; then
		echo "SKIP: QEMU or the guest kernel cannot be installed"
		exit 77
	elif [ $rc != 0 ]; then
		fail "build-guest.sh exited $rc"
		exit 1
	fi
	t_build=$(( $(now_ms) - t0 ))
	ok "guest built or cached in ${t_build} ms ($QEMU_GUEST_DIR)"

	T=$(mktemp -d /tmp/netd-qemu-selftest.XXXXXX)
	chmod 755 "$T"
	mkdir "$T/dnsmasq.d"
	ip netns add "$NS" || { fail "ip netns add $NS"; exit 1; }
	ip -n "$NS" link set lo up
	ip -n "$NS" link add br0 type bridge stp_state 0
	ip -n "$NS" addr add 10.123.0.1/24 dev br0
	ip -n "$NS" link set br0 up
	ip -n "$NS" tuntap add dev tap0 mode tap
	ip -n "$NS" link set tap0 master br0 up || { fail "tap setup"; exit 1; }

	ip netns exec "$NS" dnsmasq --keep-in-foreground --no-resolv \
		--conf-file=/dev/null --conf-dir="$T/dnsmasq.d" \
		--interface=br0 --bind-interfaces --except-interface=lo \
		--dhcp-range=10.123.0.100,10.123.0.150 --no-ping \
		--pid-file="$T/dnsmasq.pid" --dhcp-leasefile="$T/leases" \
		--user=root --log-facility="$T/dnsmasq.log" &
	PIDS+=($!)
	# A TCP server that answers every connection with "hello".
	ip netns exec "$NS" busybox nc -ll -p 7777 -e echo hello &
	PIDS+=($!)
	wait_for 10 test -s "$T/dnsmasq.pid" || { fail "dnsmasq did not start"; exit 1; }
	wait_for 10 tcp_listening || { fail "TCP server did not start"; exit 1; }
	ok "bridge, TAP, dnsmasq and TCP server up in $NS"

	QEMU_GUEST_MAC=$MAC \
	QEMU_GUEST_PARAMS="netd.hostname=$HOSTNAME_G netd.tcp=10.123.0.1:7777 netd.stay=4" \
		qemu_guest_start "$NS" "$T/guest.log" \
		-netdev tap,id=n0,ifname=tap0,script=no,downscript=no >/dev/null
	QPID=$QEMU_GUEST_PID
	t1=$(now_ms)

	if qemu_guest_wait_marker "$T/guest.log" '^lease [0-9.]+$' 120 "$QPID" >/dev/null; then
		line=$QEMU_GUEST_MARKER
		t_lease=$(( $(now_ms) - t1 ))
		ip=${line#lease }
		case "$line" in
		"lease 10.123.0."*) ok "guest got $line, ${t_lease} ms after QEMU started" ;;
		*) fail "guest got an unexpected lease: $line" ;;
		esac
	else
		fail "no lease marker"
		exit 1
	fi
	qemu_guest_wait_marker "$T/guest.log" '^lease-info ' 10 "$QPID" >/dev/null \
		&& ok "guest: $QEMU_GUEST_MARKER"
	if qemu_guest_wait_marker "$T/guest.log" '^tcp-(ok|failed)' 60 "$QPID" >/dev/null; then
		line=$QEMU_GUEST_MARKER
		t_tcp=$(( $(now_ms) - t1 ))
		if [ "$line" = "tcp-ok hello" ]; then
			ok "guest: $line (${t_tcp} ms after start)"
		else
			fail "guest: $line"
		fi
	else
		fail "no tcp marker"
	fi

	if qemu_guest_wait_marker "$T/guest.log" '^ready' 30 "$QPID" >/dev/null; then
		if ip netns exec "$NS" busybox ping -c 1 -W 5 "$ip" >/dev/null; then
			ok "the guest answers pings at $ip"
		else
			fail "the guest does not answer pings at $ip"
		fi
	else
		fail "guest never got ready"
	fi

	if grep -qi " $MAC .* $HOSTNAME_G " "$T/leases"; then
		ok "dnsmasq lease: $(grep -i " $MAC " "$T/leases")"
	else
		fail "no lease for $MAC/$HOSTNAME_G in $T/leases:"
		sed 's/^/  | /' "$T/leases"
	fi

	# After netd.stay the guest powers off and QEMU exits by itself.
	if qemu_guest_wait_marker "$T/guest.log" '^done' 30 "$QPID" >/dev/null \
		&& wait_for 20 qemu_guest_exited "$QPID"; then
		ok "the guest powered off and QEMU exited by itself ($(( $(now_ms) - t1 )) ms after start)"
	else
		fail "QEMU did not exit after the guest's stay"
	fi
	qemu_guest_stop "$QPID" && QPID=""

	echo "timings: build ${t_build} ms, QEMU start to lease ${t_lease} ms, to tcp-ok ${t_tcp:-?} ms"
	if [ $FAILS = 0 ]; then
		echo "PASS selftest"
		exit 0
	fi
	echo "FAIL selftest ($FAILS failures); guest log:"
	tr -d '\r' <"$T/guest.log" | tail -n 40 | sed 's/^/  | /'
	exit 1
}

main "$@"
