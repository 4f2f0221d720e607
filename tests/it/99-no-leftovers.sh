#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 12, the suite leaves nothing behind.  Runs 01-nat.sh with an
# injected failure right after its setup (NETD_IT_INJECT_FAIL=1) and
# 06-two-nat.sh killed after its setup, once by SIGTERM to its shell and once
# the way meson's timeout does it (SIGTERM to the process group, SIGKILL
# 0.5 s later), then checks: no namespace
# with their prefixes, no process of theirs (netd, dnsmasq, udhcpc, servers:
# anything whose command line names their temp dirs), no temp dir, and the
# root namespace's links, addresses, routes, rules and nft ruleset exactly
# as before.
. "$(dirname "$0")/lib.sh"

it_init

# Root namespace snapshot.  Only values that change by themselves are
# normalised: address lifetimes, route expiry timers, nft counters.
snapshot_root()
{
	echo "== links"
	ip -d link show
	echo "== addresses"
	ip addr show | sed -E 's/(valid_lft|preferred_lft) [^ ]+/\1 X/g'
	echo "== routes"
	ip -4 route show table all
	ip -6 route show table all | sed -E 's/expires [0-9]+sec/expires X/g'
	echo "== rules"
	ip -4 rule show
	ip -6 rule show
	echo "== nft"
	nft list ruleset | sed -E 's/packets [0-9]+ bytes [0-9]+/packets X bytes X/g'
}

# leftovers PID: report what the scenario run as PID left; 1 if anything.
leftovers()
{
	local pfx="netdt-$1-" found=0 ns p cmd
	for ns in $(ip netns list | awk -v p="$pfx" 'index($1, p) == 1 { print $1 }'); do
		echo "left namespace: $ns" >&2
		found=1
	done
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		case "$cmd" in
		*"$pfx"*)
			echo "left process ${p#/proc/}: $cmd" >&2
			found=1
			;;
		esac
	done
	for p in "${TMPDIR:-/tmp}/$pfx"*; do
		[ -e "$p" ] || continue
		echo "left temp dir: $p" >&2
		found=1
	done
	return $found
}

child_done() { ! proc_alive "$1"; }

# show_child a|b|c: the child's progress lines (its state dump is left out).
show_child()
{
	grep -E '^(ok|FAIL|PASS|SKIP|# \[)' "$IT_TMP/$1.log" | sed "s/^/#   $1| /"
}

snapshot_root >"$IT_TMP/root.before" 2>&1

# 1. A scenario failing right after its setup.
NETD_IT_INJECT_FAIL=1 bash "$IT_DIR/01-nat.sh" >"$IT_TMP/a.log" 2>&1 </dev/null &
A=$!
wait_for 120 "01-nat.sh (pid $A) to finish" child_done "$A"
wait "$A"
rc=$?
[ "$rc" = 77 ] && skip "01-nat.sh skipped: $(tail -n 1 "$IT_TMP/a.log")"
show_child a
[ "$rc" = 1 ] || fail "01-nat.sh with NETD_IT_INJECT_FAIL=1 exited $rc, expected 1"
grep -q 'injected failure' "$IT_TMP/a.log" || fail "01-nat.sh failed, but not at the injected failure"
ok "01-nat.sh failed at the injected failure (exit 1)"

# run_and_kill TAG MODE: start 06-two-nat.sh in a session of its own and,
# once its setup is complete (while it checks), kill it:
#   shell: SIGTERM to its shell only; it must exit 143 (its trap cleans up)
#   group: like meson's timeout, SIGTERM to its process group, SIGKILL 0.5 s
#          later (its guard cleans up whatever the trap could not)
# Sets CHILD to its pid.
run_and_kill()
{
	local tag=$1 mode=$2 rc
	setsid bash "$IT_DIR/06-two-nat.sh" >"$IT_TMP/$tag.log" 2>&1 </dev/null &
	CHILD=$!
	wait_for 120 "06-two-nat.sh (pid $CHILD) to complete its setup" child_setup_done "$tag" "$CHILD"
	if child_done "$CHILD"; then
		cat "$IT_TMP/$tag.log"
		fail "06-two-nat.sh ended before it could be killed"
	fi
	[ -n "$(ip netns pids "netdt-$CHILD-host" 2>/dev/null)" ] ||
		fail "06-two-nat.sh's HOST namespace has no process (netd, dnsmasq) at kill time"
	if [ "$mode" = shell ]; then
		kill -TERM "$CHILD"
	else
		kill -TERM -- "-$CHILD"
		sleep 0.5
		kill -KILL -- "-$CHILD" 2>/dev/null
	fi
	wait_for 60 "06-two-nat.sh (pid $CHILD) to exit after the kill" child_done "$CHILD"
	wait "$CHILD"
	rc=$?
	show_child "$tag"
	case "$mode.$rc" in
	shell.143) ;;
	group.143|group.137) ;;
	*) fail "06-two-nat.sh exited $rc after the $mode kill" ;;
	esac
	ok "06-two-nat.sh killed ($mode) after its setup, exit $rc"
}

child_setup_done()
{
	grep -q 'setup complete' "$IT_TMP/$1.log" || child_done "$2"
}

# expect_nothing_left PID WHAT: within 10 s, nothing of that run remains.
expect_nothing_left()
{
	local end=$((SECONDS + 10))
	until leftovers "$1" 2>/dev/null; do
		if [ "$SECONDS" -ge "$end" ]; then
			leftovers "$1"
			fail "$2 left things behind (above)"
		fi
		sleep 0.1
	done
	ok "nothing left by $2"
}

# 2. Killed while checking: SIGTERM to the shell, then meson-style.
run_and_kill b shell
B=$CHILD
run_and_kill c group
C=$CHILD

# 3. Nothing left.
expect_nothing_left "$A" "01-nat.sh (injected failure)"
expect_nothing_left "$B" "06-two-nat.sh (SIGTERM to its shell)"
expect_nothing_left "$C" "06-two-nat.sh (SIGTERM+SIGKILL to its process group)"
snapshot_root >"$IT_TMP/root.after" 2>&1
diff -u "$IT_TMP/root.before" "$IT_TMP/root.after" ||
	fail "the root namespace changed (diff above)"
ok "root namespace links, addresses, routes, rules and nft ruleset unchanged"
