#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root:
# installs what the build and the tests need, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer, runs every test (unit, kernel, integration) and
# checks that the root network namespace was left as it was.
# Ends with one line: "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."

BUILD=${NETD_CI_BUILD:-build-ci}
DEPS=(gcc meson ninja-build pkg-config libmnl-dev libnftnl-dev libinih-dev
      libjson-c-dev nftables dnsmasq-base iproute2 busybox-static udhcpc
      python3 procps qemu-system-x86 cpio util-linux)

if [ "$(id -u)" != 0 ]; then
	echo "tests/ci.sh: run as root (the tests make network namespaces)" >&2
	exit 2
fi

missing=()
for p in "${DEPS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "== installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
		|| { echo "tests/ci.sh: apt-get install failed" >&2; echo "0 passed, 1 failed"; exit 1; }
fi

echo "== build ($BUILD, ASan+UBSan)"
if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null \
		|| { echo "0 passed, 1 failed"; exit 1; }
fi
ninja -C "$BUILD" || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

snapshot() {
	{
		ip -o link show | sed 's/ state [A-Z]*.*//'
		ip -o addr show
		ip route show table all
		nft list ruleset 2>/dev/null
		ip netns list
		# Running dnsmasq processes (a zombie a moment before init reaps it is not one).
		ps -C dnsmasq -o stat=,pid=,args= | awk '$1 !~ /^Z/'
	} 2>&1
}
before=$(snapshot)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "== meson test"
meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@"

# Fuzzing: each libFuzzer target for a bounded time (NETD_CI_FUZZ_SECONDS,
# default 30), in a clang build of its own.  One counted test per target.
echo "== fuzz"
fuzz_out=$(./tests/fuzz/run.sh "${BUILD}-fuzz" "${NETD_CI_FUZZ_SECONDS:-30}" 2>&1)
fuzz_rc=$?
echo "$fuzz_out" | tail -20
fuzz_pass=$(echo "$fuzz_out" | grep -c '^ok fuzz-')
fuzz_fail=$(echo "$fuzz_out" | grep -c '^FAIL fuzz-')
if [ "$fuzz_rc" -ne 0 ] && [ "$fuzz_fail" -eq 0 ]; then
	echo "FAIL fuzz: tests/fuzz/run.sh exited $fuzz_rc"
	fuzz_fail=1
fi

after=$(snapshot)
root_ok=1
if [ "$before" != "$after" ]; then
	root_ok=0
	echo "FAIL root-namespace-untouched: the root namespace changed during the tests:"
	diff <(echo "$before") <(echo "$after") | head -40
else
	echo "ok root-namespace-untouched"
fi

# Count from meson's own log, plus the root namespace check.
read -r pass fail skip < <(python3 - "$BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"): p += 1
        elif r == "SKIP": s += 1
        else: f += 1
except FileNotFoundError:
    f += 1
print(p, f, s)
PY
)
pass=$((pass + root_ok + fuzz_pass))
fail=$((fail + 1 - root_ok + fuzz_fail))
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
