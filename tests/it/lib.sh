# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# lib.sh: shared code for netd's integration scenarios (tests/it/NN-*.sh).
# A scenario sources this file, calls it_init, builds its topology, starts
# netd and checks behaviour from the outside, like a user would.
#
# Topology.  Every scenario makes its own network namespaces, named
# ${IT_PREFIX}ROLE with IT_PREFIX="netdt-PID-" (PID: the scenario's shell),
# and never changes the root namespace (no link, address, route or nft rule
# there; only `ip netns add/del` names under /run/netns).
#
#                             uplink 203.0.113.0/24
#   +------------------------+  up0 .1    eth0 .2  +--------------------+
#   | HOST  ${IT_PREFIX}host |=====================| OUTSIDE ..out      |
#   |                        |        veth         | TCP servers/clients|
#   |  netd (foreground),    |                     | (route to guest    |
#   |  dnsmasq per network   |                     |  subnets via .1    |
#   |                        |                     |  only when a test  |
#   |  [bridge of network]   |                     |  adds it)          |
#   |     |          |       |                     +--------------------+
#   +-----|----------|-------+
#      v<g1>       v<g2>          HOST ends of veth pairs, enslaved to the
#         \\          \\          bridge by the test (ip link set .. master)
#        eth0        eth0
#   +-----------+ +-----------+
#   | GUEST g1  | | GUEST g2  |   ${IT_PREFIX}g1 ...: busybox udhcpc with
#   | ..g1      | | ..g2      |   tests/it/udhcpc.sh, python3 TCP servers
#   +-----------+ +-----------+   and clients, DNS queries to the bridge
#
# netd runs as `ip netns exec HOST $NETD --config-dir T/conf --state-dir
# T/state --run-dir T/run --log-level debug` (T: the scenario's temp dir);
# readiness is RUN_DIR/netd.pid holding netd's pid.
#
# Rules: every wait is a bounded poll that fails with a message; a trap on
# EXIT (and INT/TERM) kills every process in the scenario's namespaces,
# deletes the namespaces and the temp dir, on pass, fail or signal.
# Exit status: 0 pass, 1 fail, 77 skip (not root, a tool is missing).
#
# Hooks: NETD (path of the netd executable; meson sets it), NETD_IT_INJECT_FAIL=1
# (fail right after setup, see it_setup_done; used by 99-no-leftovers.sh),
# NETD_IT_KEEP=1 (keep the temp dir, for debugging).

set -u
set -o pipefail

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_NAME=$(basename "$0" .sh)
IT_PREFIX="netdt-$$-"
IT_HOST="${IT_PREFIX}host"
IT_OUT="${IT_PREFIX}out"
IT_TMP=""
IT_CONF=""
IT_STATE=""
IT_RUN=""
IT_NETD_PID=""
IT_NETD_LOG=""
IT_PY=""
IT_UDHCPC=()

UPLINK_HOST=203.0.113.1
UPLINK_OUT=203.0.113.2

# Bounds (seconds) for waits.
IT_READY_TIMEOUT=${IT_READY_TIMEOUT:-10}
IT_TCP_TIMEOUT=3
IT_NEG_TIMEOUT=2

IT_T0=$(date +%s%N)

# it_elapsed: seconds since the scenario started, e.g. "12.3".
it_elapsed()
{
	local ms=$((($(date +%s%N) - IT_T0) / 1000000))
	printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

log()  { printf '# [%ss] %s\n' "$(it_elapsed)" "$*"; }
ok()   { printf 'ok - [%ss] %s\n' "$(it_elapsed)" "$*"; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }

# fail MESSAGE: the scenario fails; the EXIT trap dumps state and cleans up.
# Only call it from the scenario's main shell (not inside $(...)).
fail()
{
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# must CMD...: run a setup command; fail if it fails.
must()
{
	"$@" || fail "command failed: $*"
}

# ---------------------------------------------------------------- setup

it_need()
{
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "$t not found"
	done
}

it_init()
{
	[ "$(id -u)" = 0 ] || skip "needs root"
	it_need ip nft dnsmasq busybox ss sysctl mktemp find setsid
	if [ -x /usr/bin/python3 ]; then
		IT_PY=/usr/bin/python3
	else
		IT_PY=$(command -v python3) || skip "python3 not found"
	fi
	if [ -x /usr/sbin/udhcpc ]; then
		IT_UDHCPC=(/usr/sbin/udhcpc)
	else
		busybox udhcpc --help >/dev/null 2>&1 || skip "no udhcpc"
		IT_UDHCPC=(busybox udhcpc)
	fi
	NETD=${NETD:-$IT_DIR/../../build/netd/netd}
	[ -x "$NETD" ] || skip "netd executable not found at $NETD (set NETD)"

	IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/${IT_PREFIX}XXXXXX") || fail "mktemp"
	# Like /run and /var/lib: dnsmasq drops privileges and must still be
	# able to reach its files under RUN_DIR.
	chmod 755 "$IT_TMP" || fail "chmod $IT_TMP"
	trap it_cleanup EXIT
	trap 'printf "FAIL: interrupted by SIGINT\n" >&2; exit 130' INT
	trap 'printf "FAIL: terminated by SIGTERM\n" >&2; exit 143' TERM

	# meson's timeout sends SIGTERM to the test's process group and SIGKILL
	# 0.5 s later, possibly before it_cleanup is done: a guard in a session
	# of its own finishes the job once this shell is gone.
	setsid bash -c '. "$1" && it_guard "$2" "$3" "$4"' netdt-guard \
		"$IT_DIR/lib.sh" "$$" "$IT_PREFIX" "$IT_TMP" </dev/null >/dev/null 2>&1 &

	IT_CONF=$IT_TMP/conf
	IT_STATE=$IT_TMP/state
	IT_RUN=$IT_TMP/run
	IT_NETD_LOG=$IT_TMP/netd.log
	mkdir -p "$IT_CONF/networks" "$IT_STATE" "$IT_RUN" "$IT_TMP/guest" || fail "mkdir"
	cp "$IT_DIR/udhcpc.sh" "$IT_TMP/udhcpc.sh" && chmod 755 "$IT_TMP/udhcpc.sh" ||
		fail "cannot install udhcpc script"
	it_write_nettool
	log "$IT_NAME: prefix $IT_PREFIX, temp dir $IT_TMP, netd $NETD"
}

# it_setup_done: call once the scenario's setup is complete (netd ready,
# guests configured).  NETD_IT_INJECT_FAIL=1 makes the scenario fail here.
it_setup_done()
{
	if [ "${NETD_IT_INJECT_FAIL:-0}" = 1 ]; then
		fail "injected failure (NETD_IT_INJECT_FAIL=1)"
	fi
	log "setup complete"
}

# Namespaces -----------------------------------------------------------

# ns_add ROLE: create ${IT_PREFIX}ROLE with lo up.
ns_add()
{
	local ns="${IT_PREFIX}$1"
	must ip netns add "$ns"
	must ip -n "$ns" link set lo up
}

it_our_namespaces()
{
	ip netns list 2>/dev/null | awk -v p="$IT_PREFIX" 'index($1, p) == 1 { print $1 }'
}

# it_topology: HOST and OUTSIDE joined by the uplink veth (up0 <-> eth0).
it_topology()
{
	ns_add host
	ns_add out
	must ip -n "$IT_HOST" link add up0 type veth peer name eth0 netns "$IT_OUT"
	must ip -n "$IT_HOST" addr add "$UPLINK_HOST/24" dev up0
	must ip -n "$IT_HOST" link set up0 up
	must ip -n "$IT_OUT" addr add "$UPLINK_OUT/24" dev eth0
	must ip -n "$IT_OUT" link set eth0 up
}

# nsn ROLE: full namespace name for a role (g1, out, host) or a full name.
nsn()
{
	case "$1" in
	"$IT_PREFIX"*) echo "$1" ;;
	*) echo "$IT_PREFIX$1" ;;
	esac
}

# hx CMD...: run CMD in the HOST namespace.
hx()
{
	ip netns exec "$IT_HOST" "$@"
}

# ---------------------------------------------------------------- cleanup

it_dump_state()
{
	local f
	printf '\n==== %s: state at failure ====\n' "$IT_NAME" >&2
	if [ -n "$IT_NETD_LOG" ] && [ -s "$IT_NETD_LOG" ]; then
		printf -- '---- netd log (last 120 lines) ----\n' >&2
		tail -n 120 "$IT_NETD_LOG" >&2
	fi
	if [ -n "$IT_RUN" ] && [ -d "$IT_RUN/dnsmasq" ]; then
		for f in "$IT_RUN"/dnsmasq/*.log "$IT_RUN"/dnsmasq/*.conf "$IT_RUN"/dnsmasq/*.hosts "$IT_RUN"/dnsmasq/*.addn "$IT_STATE"/*.leases; do
			[ -s "$f" ] || continue
			printf -- '---- %s ----\n' "$f" >&2
			tail -n 40 "$f" >&2
		done
	fi
	if ip netns list 2>/dev/null | grep -q "^$IT_HOST\b"; then
		printf -- '---- HOST links and addresses ----\n' >&2
		ip -n "$IT_HOST" -br addr >&2
		printf -- '---- HOST routes ----\n' >&2
		ip -n "$IT_HOST" route >&2
		printf -- '---- HOST nft ruleset ----\n' >&2
		hx nft list ruleset >&2
		printf -- '---- HOST processes ----\n' >&2
		for f in $(ip netns pids "$IT_HOST" 2>/dev/null); do
			printf '%s: %s\n' "$f" "$(tr '\0' ' ' </proc/"$f"/cmdline 2>/dev/null)" >&2
		done
	fi
	printf '==== end of state ====\n' >&2
}

# it_kill_ns_procs NS...: TERM, then KILL after 1 s, every process in them.
it_kill_ns_procs()
{
	local ns pids i sig=TERM
	for i in $(seq 1 60); do
		pids=""
		for ns in "$@"; do
			pids="$pids $(ip netns pids "$ns" 2>/dev/null)"
		done
		[ -z "${pids// /}" ] && return 0
		[ "$i" -gt 20 ] && sig=KILL
		# shellcheck disable=SC2086
		kill -s "$sig" $pids 2>/dev/null
		sleep 0.05
	done
	echo "cleanup: processes still alive in $*: $pids" >&2
	return 1
}

# it_guard MAIN_PID PREFIX TMP (run by it_init, in a session of its own):
# once the scenario's shell is gone, however it ended, remove what it left.
it_guard()
{
	local main=$1 nss ns
	IT_PREFIX=$2
	trap 'exit 0' TERM
	trap '' INT HUP
	while proc_alive "$main"; do
		sleep 0.5 &
		wait $!
	done
	nss=$(it_our_namespaces)
	if [ -n "$nss" ]; then
		# shellcheck disable=SC2086
		it_kill_ns_procs $nss
		for ns in $nss; do
			ip netns del "$ns" 2>/dev/null
		done
	fi
	if [ "${NETD_IT_KEEP:-0}" != 1 ]; then
		rm -rf "$3"
	fi
}

it_cleanup()
{
	local rc=$? nss ns
	trap - EXIT INT TERM
	trap "" PIPE
	set +e
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		it_dump_state
	fi
	nss=$(it_our_namespaces)
	if [ -n "$nss" ]; then
		# shellcheck disable=SC2086
		it_kill_ns_procs $nss || rc=1
		for ns in $nss; do
			ip netns del "$ns" || rc=1
		done
	fi
	# A netd built with -Db_sanitize reports to its log, often only at exit.
	if [ -n "$IT_NETD_LOG" ] &&
	   grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$IT_NETD_LOG" 2>/dev/null; then
		echo "FAIL: sanitizer report in netd's log:" >&2
		grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$IT_NETD_LOG" | head -n 80 >&2
		rc=1
	fi
	if [ -n "$IT_TMP" ] && [ -d "$IT_TMP" ]; then
		if [ "${NETD_IT_KEEP:-0}" = 1 ]; then
			echo "kept $IT_TMP" >&2
		else
			rm -rf "$IT_TMP"
		fi
	fi
	# Our own background jobs left in the root namespace, and the guard
	# (last: it is there for the case this function does not finish).
	# shellcheck disable=SC2046
	kill $(jobs -p) 2>/dev/null
	case "$rc" in
	0) echo "PASS: $IT_NAME" ;;
	77) ;;
	*) echo "FAIL: $IT_NAME (exit $rc)" >&2 ;;
	esac
	exit "$rc"
}

# ---------------------------------------------------------------- waits

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.1 s; fail on timeout.
wait_for()
{
	local secs=$1 desc=$2 end
	shift 2
	end=$(($(date +%s%N) + secs * 1000000000))
	while ! "$@"; do
		if [ "$(date +%s%N)" -ge "$end" ]; then
			fail "timed out after ${secs}s waiting for: $desc"
		fi
		sleep 0.1
	done
}

# proc_alive PID: the process exists and is not a zombie.
proc_alive()
{
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# ---------------------------------------------------------------- config

# net_conf NAME: write stdin to CONFIG_DIR/networks/NAME.conf.
net_conf()
{
	cat >"$IT_CONF/networks/$1.conf" || fail "cannot write $1.conf"
}

# ---------------------------------------------------------------- netd

netd_pidfile_ok()
{
	[ -s "$IT_RUN/netd.pid" ] && [ "$(tr -d ' \n' <"$IT_RUN/netd.pid")" = "$IT_NETD_PID" ]
}

netd_ready_or_dead()
{
	netd_pidfile_ok || ! proc_alive "$IT_NETD_PID"
}

# netd_start: start netd in HOST; wait until RUN_DIR/netd.pid
# holds its pid.  netd's stderr goes to $IT_NETD_LOG.
netd_start()
{
	[ -z "$IT_NETD_PID" ] || fail "netd_start: netd already running ($IT_NETD_PID)"
	echo "==== netd start $(date +%T.%N) ====" >>"$IT_NETD_LOG"
	if [ -r /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
		log "HOST: br_netfilter loaded, bridge-nf-call-iptables=$(hx cat /proc/sys/net/bridge/bridge-nf-call-iptables)"
	fi
	ip netns exec "$IT_HOST" "$NETD" --config-dir "$IT_CONF" --state-dir "$IT_STATE" \
		--run-dir "$IT_RUN" --log-level debug </dev/null >>"$IT_NETD_LOG" 2>&1 &
	IT_NETD_PID=$!
	wait_for "$IT_READY_TIMEOUT" "netd ready (RUN_DIR/netd.pid = $IT_NETD_PID)" netd_ready_or_dead
	if ! netd_pidfile_ok; then
		wait "$IT_NETD_PID"
		fail "netd exited (status $?) before it was ready; see its log"
	fi
	ok "netd ready (pid $IT_NETD_PID)"
}

netd_gone()
{
	! proc_alive "$IT_NETD_PID"
}

# netd_stop: SIGTERM; netd must exit 0 within 10 s and remove its pid file.
netd_stop()
{
	local rc
	[ -n "$IT_NETD_PID" ] || fail "netd_stop: netd not running"
	kill -TERM "$IT_NETD_PID" || fail "cannot signal netd ($IT_NETD_PID)"
	wait_for 10 "netd (pid $IT_NETD_PID) to exit after SIGTERM" netd_gone
	wait "$IT_NETD_PID"
	rc=$?
	IT_NETD_PID=""
	[ "$rc" = 0 ] || fail "netd exited with status $rc after SIGTERM (expected 0)"
	[ ! -e "$IT_RUN/netd.pid" ] || fail "netd left RUN_DIR/netd.pid behind after exiting"
	ok "netd exited 0 on SIGTERM and removed its pid file"
}

# netd_cmd ARGS...: run a one-shot netd (--check, --cleanup) in HOST.
netd_cmd()
{
	ip netns exec "$IT_HOST" "$NETD" "$@"
}

# ---------------------------------------------------------------- links

link_exists()   { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }
link_ifindex()  { ip netns exec "$1" cat "/sys/class/net/$2/ifindex" 2>/dev/null; }
link_alias()    { ip netns exec "$1" cat "/sys/class/net/$2/ifalias" 2>/dev/null; }
link_addrs4()   { ip -n "$1" -4 -o addr show dev "$2" | awk '{ print $4 }' | sort; }

# expect_bridge NET BRIDGE: the bridge exists, is up (admin), carries netd:NET.
expect_bridge()
{
	local a
	link_exists "$IT_HOST" "$2" || fail "bridge $2 of network $1 does not exist"
	ip -n "$IT_HOST" -d link show dev "$2" | grep -q ' bridge ' ||
		fail "$2 is not a bridge: $(ip -n "$IT_HOST" -d link show dev "$2")"
	ip -n "$IT_HOST" -o link show dev "$2" | grep -qE '<([^>]*,)?UP[,>]' ||
		fail "bridge $2 is not up: $(ip -n "$IT_HOST" -o link show dev "$2")"
	a=$(link_alias "$IT_HOST" "$2")
	[ "$a" = "netd:$1" ] || fail "bridge $2 has ifalias '$a', expected 'netd:$1'"
	ok "bridge $2 exists with alias netd:$1"
}

# link_group NS DEV: the link group of DEV (decimal).
link_group() { ip netns exec "$1" cat "/sys/class/net/$2/netdev_group" 2>/dev/null; }

# bridge_in_group BR GROUP: netd's forward rules know its bridges by
# their link group (7234914; isolated networks' 7234915).
bridge_in_group() { [ "$(link_group "$IT_HOST" "$1")" = "$2" ]; }

# ---------------------------------------------------------------- dnsmasq

dnsmasq_pid()
{
	tr -d ' \n' <"$IT_RUN/dnsmasq/$1.pid" 2>/dev/null
}

ns_has_pid()
{
	ip netns pids "$1" 2>/dev/null | grep -qx "$2"
}

proc_comm() { cat "/proc/$1/comm" 2>/dev/null; }

dnsmasq_running()
{
	local p
	p=$(dnsmasq_pid "$1")
	[ -n "$p" ] && proc_alive "$p" && [ "$(proc_comm "$p")" = dnsmasq ] &&
		ns_has_pid "$IT_HOST" "$p"
}

# expect_dnsmasq NET: its pid file names a live dnsmasq in HOST.
expect_dnsmasq()
{
	wait_for 5 "dnsmasq of network $1 (RUN_DIR/dnsmasq/$1.pid)" dnsmasq_running "$1"
	ok "dnsmasq for $1 running (pid $(dnsmasq_pid "$1"))"
}

# ns_procs NS COMM: pids of processes named COMM in NS.
ns_procs()
{
	local p
	for p in $(ip netns pids "$1" 2>/dev/null); do
		[ "$(proc_comm "$p")" = "$2" ] && echo "$p"
	done
}

# ---------------------------------------------------------------- guests

# guest_add NAME BRIDGE [MAC]: namespace ${IT_PREFIX}NAME with eth0, the
# other end (v<NAME> in HOST) enslaved to BRIDGE.
guest_add()
{
	local name=$1 br=$2 mac=${3:-} ns="${IT_PREFIX}$1"
	ns_add "$name"
	must ip -n "$IT_HOST" link add "v$name" type veth peer name eth0 netns "$ns"
	if [ -n "$mac" ]; then
		must ip -n "$ns" link set eth0 address "$mac"
	fi
	must ip -n "$IT_HOST" link set "v$name" master "$br" up
	must ip -n "$ns" link set eth0 up
}

gx()
{
	local ns="${IT_PREFIX}$1"
	shift
	ip netns exec "$ns" "$@"
}

# guest_dhcp_cmd NAME [HOSTNAME]: run udhcpc in the guest (foreground,
# at most 10 discovers 1 s apart, exit after lease or failure).
guest_dhcp_cmd()
{
	local name=$1 host=${2:-} args=()
	[ -n "$host" ] && args=(-x "hostname:$host")
	rm -f "$IT_TMP/guest/$name.lease"
	ip netns exec "${IT_PREFIX}$name" env IT_LEASE_FILE="$IT_TMP/guest/$name.lease" \
		IT_RESOLV_FILE="$IT_TMP/guest/$name.resolv" \
		"${IT_UDHCPC[@]}" -i eth0 -f -q -n -t 10 -T 1 -s "$IT_TMP/udhcpc.sh" "${args[@]}" \
		>"$IT_TMP/guest/$name.udhcpc.log" 2>&1
}

# guests_dhcp NAME[:HOSTNAME]...: DHCP in all these guests in parallel;
# fail unless every one gets a lease.
guests_dhcp()
{
	local spec pids=() names=() i rc t0 t1
	t0=$(date +%s%N)
	for spec in "$@"; do
		if [ "${spec#*:}" != "$spec" ]; then
			guest_dhcp_cmd "${spec%%:*}" "${spec#*:}" &
		else
			guest_dhcp_cmd "$spec" &
		fi
		pids+=($!)
		names+=("${spec%%:*}")
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}"
		rc=$?
		if [ "$rc" != 0 ] || [ ! -s "$IT_TMP/guest/${names[$i]}.lease" ]; then
			cat "$IT_TMP/guest/${names[$i]}.udhcpc.log" >&2
			fail "guest ${names[$i]} got no DHCP lease (udhcpc exit $rc)"
		fi
	done
	t1=$(date +%s%N)
	for i in "${names[@]}"; do
		ok "guest $i leased $(guest_ip "$i") ($(((t1 - t0) / 1000000)) ms for all)"
	done
}

# lease_get NAME KEY: a value from the guest's last lease.
lease_get()
{
	sed -n "s/^$2=//p" "$IT_TMP/guest/$1.lease" 2>/dev/null
}

guest_ip() { lease_get "$1" ip; }

# ip_in_range IP LOW HIGH
ip_in_range()
{
	"$IT_PY" - "$@" <<'EOF'
import ipaddress, sys
a, lo, hi = (ipaddress.ip_address(x) for x in sys.argv[1:4])
sys.exit(0 if lo <= a <= hi else 1)
EOF
}

# ---------------------------------------------------------------- traffic

# nettool: a python3 helper written to the temp dir.
#   serve PORT [BIND]            TCP server: sends the peer's address + "\n"
#   connect HOST PORT TIMEOUT    prints the line the server sent
#   dns SERVER NAME TIMEOUT      A query over UDP; prints the addresses
it_write_nettool()
{
	cat >"$IT_TMP/nettool.py" <<'EOF'
import random, socket, struct, sys

def serve(port, bind):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, port))
    s.listen(64)
    while True:
        c, peer = s.accept()
        try:
            c.sendall((peer[0] + "\n").encode())
        except OSError:
            pass
        c.close()

def connect(host, port, timeout):
    try:
        s = socket.create_connection((host, port), timeout=timeout)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        print("connect %s:%d: %s" % (host, port, e), file=sys.stderr)
        return 1
    if not data:
        print("connect %s:%d: no data" % (host, port), file=sys.stderr)
        return 1
    print(data.decode().strip())
    return 0

def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n

def dns(server, name, timeout):
    qid = random.randrange(65536)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack("!HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    for attempt in range(2):
        try:
            s.sendto(q, (server, 53))
            while True:
                msg, _ = s.recvfrom(4096)
                if len(msg) >= 12 and struct.unpack("!H", msg[:2])[0] == qid:
                    break
            break
        except OSError as e:
            err = e
    else:
        print("dns %s @%s: %s" % (name, server, err), file=sys.stderr)
        return 1
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    if flags & 0xF:
        print("dns %s @%s: rcode %d" % (name, server, flags & 0xF), file=sys.stderr)
        return 1
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    addrs = []
    for _ in range(an):
        off = skip_name(msg, off)
        typ, cls, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if typ == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(msg[off:off + 4]))
        off += rdlen
    if not addrs:
        print("dns %s @%s: no A record" % (name, server), file=sys.stderr)
        return 1
    print("\n".join(addrs))
    return 0

def udp_recv(port, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.settimeout(timeout)
    try:
        _, peer = s.recvfrom(2048)
    except OSError as e:
        print("udp :%d: %s" % (port, e), file=sys.stderr)
        return 1
    print(peer[0])
    return 0

def udp_send(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(5):
        s.sendto(b"netd-it\n", (host, port))
    return 0

cmd = sys.argv[1]
if cmd == "serve":
    serve(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0")
elif cmd == "connect":
    sys.exit(connect(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
elif cmd == "dns":
    sys.exit(dns(sys.argv[2], sys.argv[3], float(sys.argv[4])))
elif cmd == "udprecv":
    sys.exit(udp_recv(int(sys.argv[2]), float(sys.argv[3])))
elif cmd == "udpsend":
    sys.exit(udp_send(sys.argv[2], int(sys.argv[3])))
sys.exit(2)
EOF
}

tcp_listening()
{
	[ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null)" ]
}

# tcp_server NS PORT [BIND]: start a peer-address server in NS (full name).
tcp_server()
{
	local ns port=$2 bind=${3:-0.0.0.0}
	ns=$(nsn "$1")
	ip netns exec "$ns" "$IT_PY" "$IT_TMP/nettool.py" serve "$port" "$bind" \
		</dev/null >>"$IT_TMP/server.log" 2>&1 &
	wait_for 5 "TCP server on $ns port $port" tcp_listening "$ns" "$port"
}

# tcp_peer NS ADDR PORT [TIMEOUT]: connect from NS; prints what the server
# saw as our address.
tcp_peer()
{
	ip netns exec "$(nsn "$1")" "$IT_PY" "$IT_TMP/nettool.py" connect "$2" "$3" "${4:-$IT_TCP_TIMEOUT}"
}

# expect_tcp NS ADDR PORT WANT_PEER DESC: connection works and the server
# sees WANT_PEER as the source ("" = any).
expect_tcp()
{
	local got
	got=$(tcp_peer "$1" "$2" "$3" 2>"$IT_TMP/tcp.err") ||
		fail "$5: TCP $2:$3 from ${1#"$IT_PREFIX"} failed: $(cat "$IT_TMP/tcp.err")"
	if [ -n "$4" ] && [ "$got" != "$4" ]; then
		fail "$5: server at $2:$3 saw source $got, expected $4"
	fi
	ok "$5 (server saw $got)"
}

udp_bound()
{
	[ -n "$(ip netns exec "$1" ss -Hlun "sport = :$2" 2>/dev/null)" ]
}

# udp_peer FROM TO ADDR PORT TIMEOUT: a receiver on PORT in TO, five
# datagrams from FROM to ADDR:PORT; prints the source the receiver saw,
# fails when none arrived within TIMEOUT.  One way only: unlike TCP, a
# packet that gets through is seen even when nothing can answer it.
udp_peer()
{
	local to pid rc
	to=$(nsn "$2")
	ip netns exec "$to" "$IT_PY" "$IT_TMP/nettool.py" udprecv "$4" "$5" \
		</dev/null >"$IT_TMP/udp.out" 2>"$IT_TMP/udp.err" &
	pid=$!
	wait_for 5 "UDP receiver on $to port $4" udp_bound "$to" "$4"
	if ! ip netns exec "$(nsn "$1")" "$IT_PY" "$IT_TMP/nettool.py" udpsend "$3" "$4"; then
		kill "$pid" 2>/dev/null
		wait "$pid"
		fail "udp_peer: could not even send from ${1#"$IT_PREFIX"} to $3:$4"
	fi
	wait "$pid"
	rc=$?
	cat "$IT_TMP/udp.out" "$IT_TMP/udp.err"
	return "$rc"
}

# expect_udp FROM TO ADDR PORT DESC / expect_no_udp ...: the datagrams do
# (do not) arrive.
expect_udp()
{
	local got
	got=$(udp_peer "$1" "$2" "$3" "$4" "$IT_TCP_TIMEOUT") ||
		fail "$5: no UDP datagram from ${1#"$IT_PREFIX"} to $3:$4 arrived ($got)"
	ok "$5 (receiver saw $got)"
}

expect_no_udp()
{
	local got
	if got=$(udp_peer "$1" "$2" "$3" "$4" "$IT_NEG_TIMEOUT"); then
		fail "$5: a UDP datagram from ${1#"$IT_PREFIX"} to $3:$4 arrived (from $got), expected none"
	fi
	ok "$5 ($got)"
}

# expect_no_tcp NS ADDR PORT DESC: the connection must fail.
expect_no_tcp()
{
	local got
	if got=$(tcp_peer "$1" "$2" "$3" "$IT_NEG_TIMEOUT" 2>"$IT_TMP/tcp.err"); then
		fail "$4: TCP $2:$3 from ${1#"$IT_PREFIX"} succeeded (server saw $got), expected failure"
	fi
	ok "$4 ($(cat "$IT_TMP/tcp.err"))"
}

# expect_ping NS ADDR DESC: a reply within 3 tries of 1 s.
expect_ping()
{
	local i
	for i in 1 2 3; do
		if ip netns exec "$(nsn "$1")" busybox ping -c 1 -W 1 "$2" >/dev/null 2>&1; then
			ok "$3"
			return 0
		fi
	done
	fail "$3: ping $2 from ${1#"$IT_PREFIX"} got no reply"
}

# expect_no_ping NS ADDR DESC: no reply to 2 echo requests within 2 s.
expect_no_ping()
{
	if ip netns exec "$(nsn "$1")" busybox ping -c 2 -i 1 -W 1 -w 2 "$2" >/dev/null 2>&1; then
		fail "$3: ping $2 from ${1#"$IT_PREFIX"} got a reply, expected none"
	fi
	ok "$3"
}

# dns_query NS SERVER NAME: prints the A records.
dns_query()
{
	ip netns exec "$(nsn "$1")" "$IT_PY" "$IT_TMP/nettool.py" dns "$2" "$3" 2
}

# expect_dns NS SERVER NAME WANT: NAME resolves to (at least) WANT.
expect_dns()
{
	local got
	got=$(dns_query "$1" "$2" "$3" 2>"$IT_TMP/dns.err") ||
		fail "DNS $3 @$2 from ${1#"$IT_PREFIX"}: $(cat "$IT_TMP/dns.err")"
	printf '%s\n' "$got" | grep -qx "$4" ||
		fail "DNS $3 @$2 from ${1#"$IT_PREFIX"} gave '${got//$'\n'/ }', expected $4"
	ok "DNS $3 @$2 -> $4"
}

# host_forwarding: value of net.ipv4.ip_forward in HOST.
host_forwarding()
{
	hx sysctl -n net.ipv4.ip_forward
}
