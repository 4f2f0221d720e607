#!/usr/bin/env bash
# tests/fuzz/run.sh BUILDDIR SECONDS
#
# Fuzzes netd for a bounded time: builds the libFuzzer targets of tests/fuzz
# in BUILDDIR (clang, -Dfuzz=true: libFuzzer + ASan + UBSan, the libraries
# they link instrumented too), then runs each target for SECONDS on a copy
# of its seed corpus, two processes at a time (-jobs=2), one target after
# the other: about 3 * SECONDS of wall time plus the build.  Installs clang
# and the libFuzzer runtime with apt-get when they are missing.
#
# Prints one line per target, "ok fuzz-NAME (N runs)" or
# "FAIL fuzz-NAME: ... INPUT", and exits 1 when any target found a crash, a
# leak, a timeout (-timeout=10) or an out-of-memory (-rss_limit_mb=2048),
# 2 when it could not build or run at all.
#
#   fuzz-config   a network file: config_parse_buffer + config_validate_set
#   fuzz-request  control socket lines: proto_parse_request + ops_dispatch
#   fuzz-leases   a dnsmasq lease file: dhcp_leases_parse
#
# Reproducing a failure
#   The FAIL line names the input that did it, kept with the run's logs in
#   BUILDDIR/fuzz-run/NAME/ (artifacts/crash-SHA1, or leak-, timeout-, oom-;
#   the fuzzers' own output is in fuzz-0.log and fuzz-1.log there).
#   Run the target on that one file: it executes it once and prints the
#   sanitizer's report with a stack:
#       BUILDDIR/tests/fuzz/fuzz-NAME BUILDDIR/fuzz-run/NAME/artifacts/crash-SHA1
#   fuzz-request shows every reply (and netd's debug log) with
#   NETD_FUZZ_VERBOSE=1 in the environment.  A smaller input that fails the
#   same way:
#       BUILDDIR/tests/fuzz/fuzz-NAME -minimize_crash=1 -runs=20000 \
#           -exact_artifact_path=/tmp/min CRASH
#   In a debugger: gdb --args BUILDDIR/tests/fuzz/fuzz-NAME CRASH, with a
#   breakpoint on __sanitizer::Die (ASan/UBSan) or abort (a broken contract
#   check of the target).  Once it is fixed, keep the input as a regression
#   test: copy it to tests/fuzz/corpus/NAME/crash-WHAT.  Every later run
#   starts from the corpus, and `meson test -C BUILDDIR --suite fuzz` replays
#   the whole corpus once.
set -u
cd "$(dirname "$0")/../.." || exit 2

TARGETS=(config request leases)
JOBS=2

if [ $# -ne 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: tests/fuzz/run.sh BUILDDIR SECONDS" >&2
	exit 2
fi
BUILD=$1
SECS=$2

# apt-get install the packages given, once the list is up to date.
apt_install() {
	[ $# -gt 0 ] || return 0
	if [ "$(id -u)" != 0 ]; then
		echo "tests/fuzz/run.sh: missing $*; run as root to install them" >&2
		return 1
	fi
	echo "== installing: $*"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_fuzzer_rt() {
	local lib
	lib=$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null) && [ -f "$lib" ]
}

install_tools() {
	local missing=() p
	for p in clang meson ninja-build pkg-config libmnl-dev libnftnl-dev libinih-dev \
		 libjson-c-dev; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	apt_install "${missing[@]}" || return 1
	if ! have_fuzzer_rt; then
		apt_install libclang-rt-dev || apt_install libclang-rt-14-dev || return 1
	fi
	have_fuzzer_rt || { echo "tests/fuzz/run.sh: clang has no libFuzzer runtime" >&2; return 1; }
}

configure() {
	if ! grep -q "subdir('fuzz')" tests/meson.build; then
		echo "tests/fuzz/run.sh: tests/meson.build does not include tests/fuzz" \
		     "(if get_option('fuzz') subdir('fuzz') endif)" >&2
		return 1
	fi
	if [ ! -f "$BUILD/build.ninja" ]; then
		local log
		log=$(mktemp) || return 1
		CC=clang meson setup "$BUILD" -Dfuzz=true >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; return 1; }
		rm -f "$log"
		return 0
	fi
	if ! grep -qE '^ command = (\S*/)?clang(-[0-9]+)? ' "$BUILD/build.ninja"; then
		echo "tests/fuzz/run.sh: $BUILD was not set up with clang; remove it or name another" >&2
		return 1
	fi
	meson configure "$BUILD" -Dfuzz=true >/dev/null
}

# Sum over the jobs' logs of the executions each reached.
count_runs() {
	local total=0 log n
	for log in "$1"/fuzz-*.log; do
		[ -f "$log" ] || continue
		n=$(grep -aoE '^(#[0-9]+|Done [0-9]+ runs)' "$log" | grep -oE '[0-9]+' | tail -n 1)
		total=$((total + ${n:-0}))
	done
	echo "$total"
}

# Run one target; prints its ok/FAIL line, returns 1 when it found something.
fuzz_one() {
	local name=$1 exe out dict=() rc arts first summary
	exe=$(realpath "$BUILD/tests/fuzz/fuzz-$name")
	out=$(realpath -m "$BUILD/fuzz-run/$name")
	rm -rf "$out"
	mkdir -p "$out/corpus" "$out/artifacts"
	cp tests/fuzz/corpus/"$name"/* "$out/corpus/"
	[ -f "tests/fuzz/$name.dict" ] && dict=(-dict="$(realpath "tests/fuzz/$name.dict")")
	(
		cd "$out" &&
		ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
		timeout --kill-after=30 $((SECS + 120)) "$exe" -jobs=$JOBS -workers=$JOBS \
			-max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$out/artifacts/" "${dict[@]}" corpus >run.log 2>&1
	)
	rc=$?
	mapfile -t arts < <(find "$out/artifacts" -type f \
		\( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
	if [ ${#arts[@]} -eq 0 ] && [ $rc -eq 0 ]; then
		echo "ok fuzz-$name ($(count_runs "$out") runs)"
		return 0
	fi
	summary=$(cat "$out"/fuzz-*.log "$out/run.log" 2>/dev/null |
		grep -aE -m1 '^SUMMARY: |broken contract|ERROR: libFuzzer' | cut -c1-160)
	if [ ${#arts[@]} -eq 0 ]; then
		echo "FAIL fuzz-$name: exit status $rc${summary:+ ($summary)}, no input saved; logs in $out"
		return 1
	fi
	first=${arts[0]}
	echo "FAIL fuzz-$name: ${summary:-$(basename "$first" | cut -d- -f1)}: input $first" \
	     "($((${#arts[@]} - 1)) more, logs in $out)"
	return 1
}

install_tools || exit 2
configure || exit 2
ninja -C "$BUILD" "${TARGETS[@]/#/tests/fuzz/fuzz-}" >"$BUILD/fuzz-build.log" 2>&1 ||
	{ cat "$BUILD/fuzz-build.log" >&2; echo "tests/fuzz/run.sh: build failed" >&2; exit 2; }

failed=0
for t in "${TARGETS[@]}"; do
	fuzz_one "$t" || failed=1
done
exit $failed
