# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# lib.sh: boot a real QEMU guest (TCG) on a network, for netd's tests.
# Source it from a bash test script that runs as root:
#
#   . tests/qemu/lib.sh
#   qemu_guest_build || exit $?          # 77: QEMU/kernel not obtainable
#   QEMU_GUEST_MAC=52:54:00:12:34:56 \
#   QEMU_GUEST_PARAMS="netd.hostname=g1 netd.tcp=10.0.0.1:8080" \
#       qemu_guest_start NS "$T/g1.log" \
#           -netdev tap,id=n0,ifname=tap0,script=no,downscript=no >/dev/null
#   pid=$QEMU_GUEST_PID
#   qemu_guest_wait_marker "$T/g1.log" 'lease [0-9.]+' 120 "$pid"
#   qemu_guest_wait_marker "$T/g1.log" 'tcp-(ok|failed)' 60 "$pid"
#   qemu_guest_stop "$pid"
#
# The guest (tests/qemu/guest-init.sh) reports on its serial console with
# lines "NETD-GUEST: ..." (lease IP, dhcp-failed, tcp-ok LINE, tcp-failed,
# ready, done, ...); its parameters are netd.* words on the kernel command
# line (netd.hostname, netd.tcp, netd.http, netd.ping, netd.listen,
# netd.stay, netd.dhcp_timeout, netd.timeout): see guest-init.sh.
#
# Environment:
#   NETD_QEMU_CACHE   where the kernel and initrd are built and cached
#                     (default /var/tmp/netd-qemu-guest)
#   QEMU_GUEST_PARAMS netd.* words added to the kernel command line
#   QEMU_GUEST_MAC    guest MAC (default: random 52:54:00:xx:xx:xx); the
#                     MAC used is left in QEMU_GUEST_MAC_USED
#   QEMU_AS_USER      run QEMU as this user (setpriv, no capabilities)
#   QEMU_GUEST_MEM    guest memory in MiB (default 256)
#   QEMU_GUEST_EXTRA  more QEMU arguments (word-split)
#
# No function sleeps for a fixed time to synchronise: waits are bounded
# polls that fail with a message and the log's tail.

QEMU_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QEMU_GUEST_DIR=${NETD_QEMU_CACHE:-/var/tmp/netd-qemu-guest}
export QEMU_GUEST_PID=""
export QEMU_GUEST_MAC_USED=""
export QEMU_GUEST_MARKER=""

# qemu_guest_build: builds (or finds cached) QEMU_GUEST_DIR/{vmlinuz,initrd.img}
# and makes sure qemu-system-x86_64 is installed.
# Returns 0, 77 (QEMU or the kernel cannot be installed: skip) or 1.
qemu_guest_build()
{
	QEMU_GUEST_DIR=${NETD_QEMU_CACHE:-/var/tmp/netd-qemu-guest}
	bash "$QEMU_LIB_DIR/build-guest.sh" "$QEMU_GUEST_DIR"
}

# Prints a random locally administered MAC in QEMU's 52:54:00 range.
qemu_guest_random_mac()
{
	local b
	b=$(od -An -N3 -tx1 /dev/urandom | tr -s ' ' ':')
	echo "52:54:00${b%:}"
}

# qemu_guest_start NS LOGFILE NETDEV_ARGS...
#   Starts qemu-system-x86_64 (-accel tcg) in network namespace NS ("-":
#   the current one) in the background, its serial console and its own
#   messages written to LOGFILE (truncated). NETDEV_ARGS are QEMU arguments
#   defining the netdev with id n0, e.g.
#     -netdev tap,id=n0,ifname=tap0,script=no,downscript=no
#     -netdev bridge,id=n0,br=BR,helper=PATH
#   (a single argument not starting with '-' is taken as -netdev's value).
#   The guest NIC is -device virtio-net-pci,netdev=n0,mac=$QEMU_GUEST_MAC.
#   Prints QEMU's pid and sets QEMU_GUEST_PID and QEMU_GUEST_MAC_USED.
qemu_guest_start()
{
	local ns=$1 log=$2 mac run=() netdev=() args=() user
	shift 2

	if [ $# -eq 0 ]; then
		echo "qemu_guest_start: no netdev arguments" >&2
		return 1
	fi
	if [ ! -r "$QEMU_GUEST_DIR/vmlinuz" ] || [ ! -r "$QEMU_GUEST_DIR/initrd.img" ]; then
		echo "qemu_guest_start: no guest in $QEMU_GUEST_DIR (call qemu_guest_build)" >&2
		return 1
	fi
	if [ $# -eq 1 ] && [ "${1#-}" = "$1" ]; then
		netdev=(-netdev "$1")
	else
		netdev=("$@")
	fi
	mac=${QEMU_GUEST_MAC:-$(qemu_guest_random_mac)}
	QEMU_GUEST_MAC_USED=$mac

	[ "$ns" = - ] || run+=(ip netns exec "$ns")
	user=${QEMU_AS_USER:-}
	if [ -n "$user" ]; then
		id -u "$user" >/dev/null 2>&1 || {
			echo "qemu_guest_start: no user $user" >&2; return 1; }
		run+=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")"
		      --clear-groups --inh-caps=-all --)
	fi
	args=(qemu-system-x86_64 -accel tcg -m "${QEMU_GUEST_MEM:-256}"
	      -nodefaults -nographic -no-reboot -serial stdio
	      -kernel "$QEMU_GUEST_DIR/vmlinuz" -initrd "$QEMU_GUEST_DIR/initrd.img"
	      -append "console=ttyS0 quiet panic=-1 ${QEMU_GUEST_PARAMS:-}"
	      "${netdev[@]}" -device "virtio-net-pci,netdev=n0,mac=$mac,romfile=")
	# shellcheck disable=SC2206
	[ -n "${QEMU_GUEST_EXTRA:-}" ] && args+=(${QEMU_GUEST_EXTRA})

	# The shell (root) opens LOGFILE, so an unprivileged QEMU needs no
	# write access to it. `ip netns exec` and setpriv exec, so $! is QEMU.
	: >"$log" || return 1
	"${run[@]}" "${args[@]}" </dev/null >>"$log" 2>&1 &
	QEMU_GUEST_PID=$!
	echo "$QEMU_GUEST_PID"
}

# True while process $1 exists and is not a zombie.
qemu_guest_alive()
{
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# qemu_guest_wait_marker LOGFILE REGEX TIMEOUT [PID]
#   Waits up to TIMEOUT seconds for a "NETD-GUEST: " line of LOGFILE whose
#   rest matches REGEX (grep -E; the \r of console lines is removed).
#   Prints the first matching line (without "NETD-GUEST: "), also left in
#   QEMU_GUEST_MARKER, and returns 0. (Called without $(...), a trap of the
#   caller runs within 0.1 s of a signal instead of after the wait.)
#   Fails early if QEMU (PID, when given) exited or the guest powered off;
#   on failure prints why and the log's tail on stderr and returns 1.
qemu_guest_wait_marker()
{
	local log=$1 re=$2 timeout=$3 pid=${4:-} deadline line why=""

	QEMU_GUEST_MARKER=""

	deadline=$(( $(date +%s%N) / 1000000 + timeout * 1000 ))
	while :; do
		line=$(tr -d '\r' <"$log" 2>/dev/null \
			| sed -n 's/^.*NETD-GUEST: //p' | grep -E -m1 -e "$re")
		if [ -n "$line" ]; then
			QEMU_GUEST_MARKER=$line
			echo "$line"
			return 0
		fi
		[ -n "$why" ] && break
		if [ -n "$pid" ] && ! qemu_guest_alive "$pid"; then
			why="QEMU (pid $pid) exited"
		elif grep -q -e 'NETD-GUEST: done' -e 'Kernel panic' "$log" 2>/dev/null; then
			why="the guest stopped"
		elif [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
			why="timed out after ${timeout}s"
		else
			sleep 0.1
			continue
		fi
		# One more look: the marker may have landed just before.
	done
	echo "qemu_guest_wait_marker: no '$re' in $log: $why; log tail:" >&2
	tr -d '\r' <"$log" 2>/dev/null | tail -n 25 | sed 's/^/  | /' >&2
	return 1
}

# qemu_guest_stop PID: stops QEMU (TERM, then KILL after 5 s), waits (bounded)
# until it is gone and reaps it if it is our child. Returns 0 once it is
# gone (or was already), 1 if it survived.
qemu_guest_stop()
{
	local pid=$1 i

	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 100); do
		qemu_guest_alive "$pid" || break
		[ "$i" = 50 ] && kill -KILL "$pid" 2>/dev/null
		sleep 0.1
	done
	wait "$pid" 2>/dev/null
	if qemu_guest_alive "$pid"; then
		echo "qemu_guest_stop: QEMU (pid $pid) did not exit" >&2
		return 1
	fi
	return 0
}
