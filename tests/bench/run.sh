#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# run.sh: netd's benchmarks (see tests/bench/README.md).  Runs as root,
# everything in throwaway network namespaces named netdb-PID-ROLE (never
# the root namespace), and writes tests/bench/results/REPORT.md,
# results/port-open.png and the raw samples under results/raw/.
#
#   tests/bench/run.sh [--quick] [--build DIR] [--only "1 2 ..."] [--networks N]
#                      [--inotify-instances N]
#
# --inotify-instances N: set the HOST-WIDE sysctl fs.inotify.max_user_instances
#   to N for the run (restored at exit).  Not needed any more: netd's
#   dnsmasqs take no inotify instance (no-resolv, servers-file), so 1,000
#   networks run with the default 128.  Kept for comparing with older
#   netd builds, whose dnsmasqs each took one.
# --build DIR: a meson build directory of netd that includes tests/bench
#   (default: build/ of this checkout); netd, netdctl and the bench-*
#   programs are taken from it.  BENCH_BIN=DIR overrides where the bench-*
#   programs are.
# --quick: fewer iterations and at most 1,000 ports (a few minutes);
#   without it, the full run (10,000 ports; see README.md for how long).
# --only: the benchmarks to run (numbers 1-7; 5 rides along with 1 and 4).
#
# Stages (each in namespaces of its own, all deleted at the end):
#   A  netd with a few networks; ports populated to 10, 1,000 (10,000):
#      benchmarks 1 (port.open), 5 (netd RSS/fds), 6 (status during
#      deletions), 7 (port up to lease).
#   B  netd with N AutoStart=no networks (default 1,000), started one by
#      one: benchmarks 2 (start to DHCP answer), 3 (iperf3 through NAT with
#      1 and N networks), 5 (dnsmasq RSS), 4 (restart adoption with N
#      networks and 10,000 ports (1,000 with --quick)).
#   C  the floor of benchmark 2, without netd, in namespaces of its own:
#      run inside stage B right after netd's figure for 1 and N networks.
#   D  the baseline of benchmark 3: a hand-written nft masquerade, no netd
#      (measured in stage B, right after each netd measurement, when
#      stage B runs).
set -u
set -o pipefail

# ---------------------------------------------------------------- cleanup

our_namespaces() { ip netns list 2>/dev/null | awk -v p="$PREFIX" 'index($1, p) == 1 { print $1 }'; }

kill_ns_procs()
{
	local ns pids i sig=TERM
	for i in $(seq 1 100); do
		pids=""
		for ns in "$@"; do
			pids="$pids $(ip netns pids "$ns" 2>/dev/null)"
		done
		[ -z "${pids// /}" ] && return 0
		[ "$i" -gt 40 ] && sig=KILL
		# shellcheck disable=SC2086
		kill -s "$sig" $pids 2>/dev/null
		sleep 0.05
	done
	echo "cleanup: processes still alive in $*: $pids" >&2
	return 1
}

remove_all()
{
	local nss ns
	nss=$(our_namespaces)
	if [ -n "$nss" ]; then
		# shellcheck disable=SC2086
		kill_ns_procs $nss
		for ns in $nss; do
			ip netns del "$ns" 2>/dev/null
		done
	fi
	[ -n "$TMP" ] && rm -rf "$TMP"
}

# bench_guard MAIN_PID PREFIX TMP: once run.sh is gone, however it ended,
# remove what it left (run in a session of its own).
bench_guard()
{
	trap 'exit 0' TERM
	trap '' INT HUP
	while [ -d "/proc/$1" ]; do
		sleep 0.5 &
		wait $!
	done
	PREFIX=$2 TMP=$3
	remove_all
}

cleanup()
{
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [ "$rc" != 0 ] && [ -n "$TMP" ] && [ -d "$TMP" ]; then
		mkdir -p "$RESULTS/logs"
		for f in "$TMP"/*/netd.log; do
			[ -f "$f" ] && cp "$f" "$RESULTS/logs/netd-$(basename "$(dirname "$f")").log"
		done
		log "failed: netd logs copied to $RESULTS/logs/"
	fi
	log "cleaning up: deleting namespaces $PREFIX* (the kernel frees their links in the background)"
	remove_all
	if [ -n "$INOTIFY_OLD" ]; then
		sysctl -qw fs.inotify.max_user_instances="$INOTIFY_OLD" &&
			log "fs.inotify.max_user_instances restored to $INOTIFY_OLD"
	fi
	# shellcheck disable=SC2046
	kill $(jobs -p) 2>/dev/null
	exit "$rc"
}

if [ "${1:-}" = __guard ]; then
	bench_guard "$2" "$3" "$4"
	exit 0
fi
PREFIX="netdb-$$-"
TMP=""

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=$REPO/build
QUICK=0
ONLY="1 2 3 4 5 6 7"
NETS=1000
INOTIFY=""
INOTIFY_OLD=""

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--build) BUILD=$(cd "$2" && pwd) || exit 2; shift ;;
	--only) ONLY=$2; shift ;;
	--networks) NETS=$2; shift ;;
	--inotify-instances) INOTIFY=$2; shift ;;
	-h|--help) sed -n '3,30p' "$0"; exit 0 ;;
	*) echo "usage: $0 [--quick] [--build DIR] [--only \"1 2 ...\"] [--networks N]" >&2; exit 2 ;;
	esac
	shift
done

if [ "$QUICK" = 1 ]; then
	PORT_LEVELS="10 1000"
	B1_ROUNDS=40
	B2_REPEAT=3
	B4_PORTS=1000
	B4_RESTARTS=2
	IPERF_TIME=3
	IPERF_REPS=4
	PERF_REPS=2
	B7_ITER=15
	B6_IDLE=100
else
	PORT_LEVELS="10 1000 10000"
	B1_ROUNDS=200
	B2_REPEAT=20
	B4_PORTS=10000
	B4_RESTARTS=3
	IPERF_TIME=3
	IPERF_REPS=10
	PERF_REPS=5
	B7_ITER=50
	B6_IDLE=400
fi
MAX_PORTS=${PORT_LEVELS##* }
PORTS_PER_FILL=1000	# a Linux bridge takes at most 1,024 ports

NETD=$BUILD/netd/netd
NETDCTL=$BUILD/netd/netdctl
BIN=${BENCH_BIN:-$BUILD/tests/bench}
PY=$(command -v python3)
RESULTS=$BENCH_DIR/results
RAW=$RESULTS/raw
T_START=$(date +%s)

log() { printf '[%4ds] %s\n' $(($(date +%s) - T_START)) "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
must() { "$@" || die "command failed: $*"; }
want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
fact() { printf '%s\t%s\n' "$1" "$2" >>"$RAW/facts.tsv"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for t in ip nft dnsmasq iperf3 tcpdump gnuplot ss setsid taskset "$PY"; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install iproute2 nftables dnsmasq-base iperf3 tcpdump gnuplot-nox)"
done
# perf (Debian: linux-perf) measures what netfilter costs per run
# (benchmark 3); without it that part is left out.
PERF=$(command -v perf 2>/dev/null || true)
if [ -n "$PERF" ] && ! perf record -q -a -o /dev/null -- true >/dev/null 2>&1; then
	PERF=""
fi
if [ -x /usr/sbin/udhcpc ]; then UDHCPC=/usr/sbin/udhcpc; else UDHCPC=$(command -v udhcpc) || die "udhcpc not found (apt-get install udhcpc)"; fi
for f in "$NETD" "$NETDCTL" "$BIN/bench-port" "$BIN/bench-net" "$BIN/bench-status"; do
	[ -x "$f" ] || die "$f not found: build with tests/bench included (meson), or set --build / BENCH_BIN"
done

TMP=$(mktemp -d "/tmp/${PREFIX}XXXXXX") || die "mktemp"
chmod 755 "$TMP"
trap cleanup EXIT
trap 'echo "FAIL: interrupted" >&2; exit 130' INT
trap 'echo "FAIL: terminated" >&2; exit 143' TERM
setsid bash "$0" __guard "$$" "$PREFIX" "$TMP" </dev/null >/dev/null 2>&1 &

if [ -n "$INOTIFY" ]; then
	INOTIFY_OLD=$(sysctl -n fs.inotify.max_user_instances) || die "cannot read fs.inotify.max_user_instances"
	sysctl -qw fs.inotify.max_user_instances="$INOTIFY" || die "cannot set fs.inotify.max_user_instances"
fi
mkdir -p "$RAW" || die "mkdir $RAW"
rm -f "$RAW"/*.txt "$RAW"/facts.tsv "$RESULTS"/REPORT.md "$RESULTS"/port-open.png "$RESULTS"/logs/*
exec > >(tee "$RESULTS/run.log") 2>&1

# ---------------------------------------------------------------- helpers

ns_add()
{
	must ip netns add "$PREFIX$1"
	must ip -n "$PREFIX$1" link set lo up
}

# veth_guest HOSTNS HOSTIF GUESTNS: HOSTIF in HOSTNS <-> eth0 in GUESTNS, both up.
veth_guest()
{
	must ip -n "$1" link add "$2" type veth peer name eth0 netns "$3"
	must ip -n "$1" link set "$2" up
	must ip -n "$3" link set eth0 up
}

# uplink HOSTNS OUTNS: up0 203.0.113.1/24 <-> eth0 203.0.113.2/24.
uplink()
{
	must ip -n "$1" link add up0 type veth peer name eth0 netns "$2"
	must ip -n "$1" addr add 203.0.113.1/24 dev up0
	must ip -n "$1" link set up0 up
	must ip -n "$2" addr add 203.0.113.2/24 dev eth0
	must ip -n "$2" link set eth0 up
}

# net_conf DIR NAME BRIDGE ADDR AUTOSTART [EXTRA...]
net_conf()
{
	local dir=$1 name=$2 br=$3 addr=$4 auto=$5
	shift 5
	{
		printf '[Network]\nMode=nat\nBridge=%s\nAddress=%s\nAutoStart=%s\n' "$br" "$addr" "$auto"
		printf '%s\n' "$@"
	} >"$dir/networks/$name.conf" || die "cannot write $name.conf"
}

# netd_start NS DIR: netd with DIR/{conf,state,run}, log DIR/netd.log; waits
# for RUN_DIR/netd.pid; sets NETD_PID and READY_MS (exec to ready).
netd_start()
{
	local ns=$1 dir=$2 t0 end
	mkdir -p "$dir/conf/networks" "$dir/state" "$dir/run"
	t0=$(now_ms)
	ip netns exec "$ns" "$NETD" --config-dir "$dir/conf" --state-dir "$dir/state" \
		--run-dir "$dir/run" </dev/null >>"$dir/netd.log" 2>&1 &
	NETD_PID=$!
	end=$((t0 + 900000))
	while [ "$(cat "$dir/run/netd.pid" 2>/dev/null)" != "$NETD_PID" ]; do
		[ -d "/proc/$NETD_PID" ] || { tail -20 "$dir/netd.log" >&2; die "netd exited before it was ready"; }
		[ "$(now_ms)" -lt "$end" ] || die "netd not ready after 900 s"
		sleep 0.01
	done
	READY_MS=$(($(now_ms) - t0))
}

# mem_facts KEY PID: RSS, PSS and fd count of a process.
mem_facts()
{
	local rss pss fds
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$2/status")
	pss=$(awk '/^Pss:/ { print $2 }' "/proc/$2/smaps_rollup" 2>/dev/null)
	fds=$(find "/proc/$2/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	fact "$1.rss_kb" "$rss"
	fact "$1.pss_kb" "${pss:-}"
	fact "$1.fds" "$fds"
	log "$1: RSS $rss kB, PSS ${pss:-?} kB, $fds fds"
}

ctl() { local ns=$1 sock=$2; shift 2; ip netns exec "$ns" "$NETDCTL" --socket "$sock" "$@"; }

# ---------------------------------------------------------------- iperf3

# iperf_server OUTNS: an iperf3 server on 203.0.113.2:5201; its pid in SPID.
iperf_server()
{
	local end
	# Server on CPU 1, client on CPU 0 (iperf_once): on 2 cores, letting
	# the scheduler move them made runs differ by 20%.
	ip netns exec "$1" taskset -c 1 iperf3 -s -p 5201 </dev/null >/dev/null 2>&1 &
	SPID=$!
	end=$(($(now_ms) + 5000))
	until [ -n "$(ip netns exec "$1" ss -Hltn 'sport = :5201' 2>/dev/null)" ]; do
		[ "$(now_ms)" -lt "$end" ] || die "iperf3 server did not start"
		sleep 0.05
	done
}

# iperf_once GUESTNS LABEL DIR R: one iperf3 run, guest -> outside (up) or
# back (down); Gbit/s appended to RAW/b3-iperf-LABEL-DIR.txt.
iperf_once()
{
	local g=$1 label=$2 dir=$3 r=$4 bps f=$RAW/b3-iperf-$2-$3.txt
	touch "$f"
	# A failed run is recorded, not fatal: it is a result too.
	if ! bps=$(timeout $((IPERF_TIME + 30)) ip netns exec "$g" taskset -c 0 iperf3 -c 203.0.113.2 -p 5201 \
		-t "$IPERF_TIME" -J $([ "$dir" = down ] && echo -R) </dev/null |
		"$PY" -c 'import json,sys; d = json.load(sys.stdin); print(d["end"]["sum_received"]["bits_per_second"]) if "sum_received" in d.get("end", {}) else sys.exit(d.get("error", "no result"))' 2>"$TMP/iperf.err"); then
		log "iperf3 $label $dir run $r FAILED: $(tr '\n' ' ' <"$TMP/iperf.err")"
		fact "b3.$label.$dir.failed_runs" "$r: $(tr '\n' ' ' <"$TMP/iperf.err")"
		return
	fi
	"$PY" -c "print('%.6f' % ($bps / 1e9))" >>"$f"
}

# iperf_perf GUESTNS LABEL DIR: one more iperf3 run, under `perf record -a`
# (kernel samples, both CPUs): what share of the busy CPU went to nf_tables
# and to all of netfilter (nfshare.py), appended to
# RAW/b3-nftshare-LABEL-DIR.txt and RAW/b3-nfshare-LABEL-DIR.txt.  Not
# the throughput runs themselves: perf costs CPU too.
iperf_perf()
{
	local g=$1 label=$2 dir=$3 shares
	if ! timeout $((IPERF_TIME + 30)) perf record -q -a -F 1999 -o "$TMP/perf.data" -- \
		ip netns exec "$g" taskset -c 0 iperf3 -c 203.0.113.2 -p 5201 -t "$IPERF_TIME" \
		$([ "$dir" = down ] && echo -R) </dev/null >/dev/null 2>"$TMP/perf.err" ||
		! shares=$("$PY" "$BENCH_DIR/nfshare.py" "$TMP/perf.data" 2>>"$TMP/perf.err"); then
		log "perf $label $dir FAILED: $(tail -3 "$TMP/perf.err" | tr '\n' ' ')"
		return
	fi
	echo "${shares% *}" >>"$RAW/b3-nftshare-$label-$dir.txt"
	echo "${shares#* }" >>"$RAW/b3-nfshare-$label-$dir.txt"
	rm -f "$TMP/perf.data"
}

# log_b3 WHAT KIND LABEL UNIT: the samples of RAW/b3-KIND-{netd,baseline}-LABEL-{up,down}.txt.
log_b3()
{
	local dir who
	for dir in up down; do
		for who in netd baseline; do
			log "$1 $who-$3 $dir $4: $(tr '\n' ' ' <"$RAW/b3-$2-$who-$3-$dir.txt" 2>/dev/null)"
		done
	done
}

# iperf_pair LABEL: netd (B's guest) and the baseline take turns, run by
# run, so both see the same machine: netd-LABEL and baseline-LABEL.  Then,
# if perf is there, PERF_REPS runs of each under perf (iperf_perf).
iperf_pair()
{
	local label=$1 r dir s1 s2
	iperf_server "$O_NS"
	s1=$SPID
	iperf_server "$BASE_O"
	s2=$SPID
	for r in $(seq 1 "$IPERF_REPS"); do
		for dir in up down; do
			iperf_once "$G_NS" "netd-$label" "$dir" "$r"
			iperf_once "$BASE_G" "baseline-$label" "$dir" "$r"
		done
	done
	log_b3 "iperf3" iperf "$label" "(Gbit/s)"
	if [ -n "$PERF" ]; then
		for r in $(seq 1 "$PERF_REPS"); do
			for dir in up down; do
				iperf_perf "$G_NS" "netd-$label" "$dir"
				iperf_perf "$BASE_G" "baseline-$label" "$dir"
			done
		done
		log_b3 "netfilter share of the CPU," nfshare "$label" "(%)"
	fi
	kill "$s1" "$s2" 2>/dev/null
	wait "$s1" "$s2" 2>/dev/null
}

# iperf_alone LABEL: the baseline only (stage D without stage B).
iperf_alone()
{
	local r dir
	iperf_server "$BASE_O"
	for r in $(seq 1 "$IPERF_REPS"); do
		for dir in up down; do
			iperf_once "$BASE_G" "$1" "$dir" "$r"
		done
	done
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
}

# ---------------------------------------------------------------- stage A

FILL_COUNT=()
PORTS_NOW=0

# populate_to A_SOCK TARGET: port.create until TARGET ports exist, filling
# fill1, fill2, ... up to PORTS_PER_FILL each.
populate_to()
{
	local sock=$1 target=$2 j=1 k t0
	t0=$(now_ms)
	while [ "$PORTS_NOW" -lt "$target" ]; do
		while [ "${FILL_COUNT[$j]}" -ge "$PORTS_PER_FILL" ]; do j=$((j + 1)); done
		k=$((PORTS_PER_FILL - FILL_COUNT[j]))
		[ $((target - PORTS_NOW)) -lt "$k" ] && k=$((target - PORTS_NOW))
		ip netns exec "$A" "$BIN/bench-port" populate --socket "$sock" --network "fill$j" \
			--count "$k" --first "$PORTS_NOW" --samples "$RAW/b1-create-curve.txt" >/dev/null ||
			die "populating fill$j failed"
		FILL_COUNT[j]=$((FILL_COUNT[j] + k))
		PORTS_NOW=$((PORTS_NOW + k))
	done
	POP_MS=$(($(now_ms) - t0))
}

stage_a()
{
	local dir=$TMP/a sock n_fill i p
	A=${PREFIX}a
	log "stage A: netd with a port.open network and fill networks (ports up to $MAX_PORTS)"
	ns_add a
	mkdir -p "$dir/conf/networks"
	n_fill=$(((MAX_PORTS + PORTS_PER_FILL - 1) / PORTS_PER_FILL))
	[ "$n_fill" -lt 2 ] && n_fill=2
	net_conf "$dir/conf" bench nb-bench 10.99.0.1/24 yes
	for i in $(seq 1 "$n_fill"); do
		net_conf "$dir/conf" "fill$i" "nbf$i" "10.98.$i.1/24" yes
		FILL_COUNT[i]=0
	done
	netd_start "$A" "$dir"
	sock=$dir/run/netd.sock
	log "netd ready with $((n_fill + 1)) networks in $READY_MS ms (pid $NETD_PID)"
	fact a.netd_ready_ms "$READY_MS"
	for p in $PORT_LEVELS; do
		populate_to "$sock" "$p"
		log "ports on the host: $PORTS_NOW (populating took $POP_MS ms)"
		fact "a.populate_to_$p.ms" "$POP_MS"
		mem_facts "b5.netd.ports$p" "$NETD_PID"
		if want 1; then
			ip netns exec "$A" "$BIN/bench-port" open --socket "$sock" --network bench \
				--bridge nb-bench --rounds "$B1_ROUNDS" --label "P$p" --out "$RAW" ||
				die "bench-port open at $p ports failed"
		fi
		if want 7 && [ "$p" = "${PORT_LEVELS%% *}" ]; then
			log "benchmark 7: port up to lease ($B7_ITER fresh MACs)"
			ns_add lg
			veth_guest "$A" vlease "${PREFIX}lg"
			must ip -n "$A" link set vlease down
			must ip -n "$A" link set vlease up
			"$PY" "$BENCH_DIR/bench-lease.py" --host "$A" --guest "${PREFIX}lg" --socket "$sock" \
				--network bench --bridge nb-bench --veth vlease --iterations "$B7_ITER" \
				--udhcpc "$UDHCPC" --raw "$RAW" || die "bench-lease failed"
		fi
	done
	if want 6; then
		log "benchmark 6: status latency while 1,000 ports are deleted"
		while [ "${FILL_COUNT[2]}" -lt "$PORTS_PER_FILL" ]; do
			ip netns exec "$A" "$BIN/bench-port" populate --socket "$sock" --network fill2 \
				--count $((PORTS_PER_FILL - FILL_COUNT[2])) --first 900000 >/dev/null ||
				die "populating fill2 failed"
			FILL_COUNT[2]=$PORTS_PER_FILL
		done
		ctl "$A" "$sock" --json ports fill2 |
			"$PY" -c 'import json,sys
d = json.load(sys.stdin)
for p in (d["ports"] if isinstance(d, dict) else d):
    print(p["ifname"])' >"$TMP/detach.txt" || die "cannot list fill2's ports"
		ip netns exec "$A" "$BIN/bench-status" --socket "$sock" --label detach1000 --out "$RAW" \
			--idle "$B6_IDLE" --detach-file "$TMP/detach.txt" --expect-gone "$(wc -l <"$TMP/detach.txt")" ||
			die "bench-status (detach) failed"
		ip netns exec "$A" "$BIN/bench-status" --socket "$sock" --label stop1000 --out "$RAW" \
			--idle "$B6_IDLE" --stop fill1 --expect-gone "${FILL_COUNT[1]}" ||
			die "bench-status (stop) failed"
	fi
	kill_ns_procs "$A" "${PREFIX}lg" 2>/dev/null
	log "stage A done"
}

# ---------------------------------------------------------------- stage B

net_addr() { echo "10.$((100 + $1 / 250)).$(($1 % 250)).1/24"; }

stage_b()
{
	local dir=$TMP/b i sock g=${PREFIX}g o=${PREFIX}o p t0 t1
	B=${PREFIX}b
	log "stage B: netd with $NETS AutoStart=no networks"
	ns_add b
	ns_add g
	ns_add o
	uplink "$B" "$o"
	veth_guest "$B" bprobe "$g"
	mkdir -p "$dir/conf/networks"
	: >"$TMP/names-all"
	for i in $(seq 1 "$NETS"); do
		net_conf "$dir/conf" "net$i" "nb$i" "$(net_addr "$i")" no
		echo "net$i nb$i" >>"$TMP/names-all"
	done
	head -n 1 "$TMP/names-all" >"$TMP/names-first"
	tail -n +2 "$TMP/names-all" >"$TMP/names-rest"
	netd_start "$B" "$dir"
	sock=$dir/run/netd.sock
	log "netd ready with $NETS networks configured, none running, in $READY_MS ms"
	fact b.netd_ready_configured_ms "$READY_MS"

	t0=$(now_ms)
	ip netns exec "$B" "$BIN/bench-net" netd --socket "$sock" --names "$TMP/names-first" \
		--guest-ns "$g" --veth bprobe --probe-at 1 --repeat "$B2_REPEAT" --out "$RAW" ||
		die "bench-net (network 1) failed"
	t1=$(($(now_ms) - t0))
	want 2 && floor_at N1 0
	must ip -n "$g" addr add 10.100.1.50/24 dev eth0
	must ip -n "$g" route add default via 10.100.1.1
	if want 3; then
		baseline_up
		G_NS=$g O_NS=$o iperf_pair 1net
	fi
	t0=$(now_ms)
	ip netns exec "$B" "$BIN/bench-net" netd --socket "$sock" --names "$TMP/names-rest" \
		--guest-ns "$g" --veth bprobe --probe-at "$NETS" --repeat "$B2_REPEAT" --out "$RAW" \
		--index-base 1 || die "bench-net (networks 2..$NETS) failed"
	fact b.start_all_ms $((t1 + $(now_ms) - t0))
	want 2 && floor_at "N$NETS" $((NETS - 1)) --prefill-dnsmasq
	must ip -n "$B" link set bprobe master nb1
	if want 3; then
		G_NS=$g O_NS=$o iperf_pair "${NETS}nets"
	fi

	mem_facts "b5.netd.nets$NETS" "$NETD_PID"
	: >"$RAW/b5-dnsmasq-rss-kb.txt"
	: >"$RAW/b5-dnsmasq-pss-kb.txt"
	for p in $(ip netns pids "$B"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = dnsmasq ] || continue
		awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" >>"$RAW/b5-dnsmasq-rss-kb.txt"
		awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" >>"$RAW/b5-dnsmasq-pss-kb.txt"
	done
	log "dnsmasq processes: $(wc -l <"$RAW/b5-dnsmasq-rss-kb.txt"), RSS sum $(awk '{ s += $1 } END { print s }' "$RAW/b5-dnsmasq-rss-kb.txt") kB, PSS sum $(awk '{ s += $1 } END { print s }' "$RAW/b5-dnsmasq-pss-kb.txt") kB"

	if want 4; then
		log "benchmark 4: $B4_PORTS ports over $NETS networks, then $B4_RESTARTS restarts"
		t0=$(now_ms)
		ip netns exec "$B" "$BIN/bench-port" populate --socket "$sock" --names "$TMP/names-all" \
			--count $((B4_PORTS / NETS)) --samples "$RAW/b4-create-curve.txt" ||
			die "populating stage B failed"
		fact b.populate_ms $(($(now_ms) - t0))
		mem_facts "b5.netd.nets${NETS}_ports$B4_PORTS" "$NETD_PID"
		"$PY" "$BENCH_DIR/bench-restart.py" --ns "$B" --netd "$NETD" --config-dir "$dir/conf" \
			--state-dir "$dir/state" --run-dir "$dir/run" --log "$dir/netd.log" \
			--restarts "$B4_RESTARTS" --raw "$RAW" --label "nets${NETS}_ports$B4_PORTS" ||
			die "bench-restart failed"
	fi
	kill_ns_procs "$B" "$g" "$o" 2>/dev/null
	log "stage B done"
}

# ---------------------------------------------------------------- stage C

# floor_at LABEL PREFILL [--prefill-dnsmasq]: the floor of benchmark 2 in
# namespaces of its own (no netd), run inside stage B right after netd's
# figure for the same network count, so both see the same machine.
floor_at()
{
	local label=$1 prefill=$2 f=${PREFIX}f$1 fg=${PREFIX}fg$1 dir=$TMP/c$1
	shift 2
	log "stage C: the floor of benchmark 2 for $label (no netd)"
	ns_add "f$label"
	ns_add "fg$label"
	veth_guest "$f" bprobe "$fg"
	mkdir -p "$dir/run" "$dir/state"
	ip netns exec "$f" "$BIN/bench-net" floor --guest-ns "$fg" --veth bprobe --run-dir "$dir/run" \
		--state-dir "$dir/state" --prefill "$prefill" "$@" --repeat "$B2_REPEAT" --label "$label" \
		--out "$RAW" || die "bench-net floor ($label) failed"
	kill_ns_procs "$f" "$fg" 2>/dev/null
}

# ---------------------------------------------------------------- stage D

# baseline_up: the baseline's namespaces (BASE_H, BASE_G, BASE_O), once.
# Stage B measures the baseline right after each netd measurement, under
# the same load (its namespaces and dnsmasq processes exist meanwhile):
# the ratio compares netd with the baseline, not one moment with another.
BASE_H=""
baseline_up()
{
	local h=${PREFIX}h g=${PREFIX}hg o=${PREFIX}ho
	[ -n "$BASE_H" ] && return 0
	ns_add h
	ns_add hg
	ns_add ho
	uplink "$h" "$o"
	must ip -n "$h" link add br0 type bridge stp_state 0 forward_delay 0
	must ip -n "$h" addr add 10.100.1.1/24 dev br0
	must ip -n "$h" link set br0 up
	veth_guest "$h" vg "$g"
	must ip -n "$h" link set vg master br0
	must ip -n "$g" addr add 10.100.1.50/24 dev eth0
	must ip -n "$g" route add default via 10.100.1.1
	must ip netns exec "$h" sysctl -qw net.ipv4.ip_forward=1
	cat >"$TMP/masq.nft" <<'NFT'
table ip bench {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.100.1.0/24 oifname "up0" masquerade
	}
}
NFT
	must ip netns exec "$h" nft -f "$TMP/masq.nft"
	BASE_H=$h BASE_G=$g BASE_O=$o
}

stage_d()
{
	log "stage D: iperf3 baseline, a hand-written masquerade ruleset (no netd)"
	if [ -z "$BASE_H" ]; then
		baseline_up
		iperf_alone baseline
	else
		log "measured in stage B, next to netd"
	fi
	kill_ns_procs "$BASE_H" "$BASE_G" "$BASE_O" 2>/dev/null
	log "stage D done"
}

# ---------------------------------------------------------------- main

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "mode: $([ "$QUICK" = 1 ] && echo quick || echo full)"
	echo "nproc: $(nproc)"
	echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "kernel: $(uname -r)"
	echo "memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "netd: $NETD ($("$NETD" --version 2>/dev/null | head -n 1))"
	echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "unknown (not a git checkout)")$(git -C "$REPO" diff --quiet HEAD -- netd netlink firewall dhcp 2>/dev/null || echo ' (netd sources modified)')"
	echo "dnsmasq: $(dnsmasq --version | head -n 1)"
	echo "iperf3: $(iperf3 --version | head -n 1)"
	echo "perf: $([ -n "$PERF" ] && perf --version || echo "not installed or not allowed: netfilter CPU shares not measured")"
	echo "fs.inotify.max_user_instances: $(sysctl -n fs.inotify.max_user_instances)$([ -n "$INOTIFY_OLD" ] && echo " (raised by --inotify-instances from $INOTIFY_OLD)")"
	echo "port levels: $PORT_LEVELS; networks: $NETS; rounds: $B1_ROUNDS; start repeats: $B2_REPEAT"
} >"$RAW/machine.txt"
cat "$RAW/machine.txt"

if want 1 || want 5 || want 6 || want 7; then stage_a; fi
if want 2 || want 3 || want 4 || want 5; then stage_b; fi
want 3 && stage_d
fact total_s $(($(date +%s) - T_START))
log "writing $RESULTS/REPORT.md and port-open.png"
"$PY" "$BENCH_DIR/report.py" --raw "$RAW" --out "$RESULTS" || die "report.py failed"
log "done in $(($(date +%s) - T_START)) s"
