#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 32, who may do what: a nat network whose [Access] lists
# User=nobody; user daemon is not listed.
#
#  - netd-bridge-helper run the way QEMU runs it (--use-vnet --fd=N --br=NET,
#    N one end of a socketpair) as daemon: exit 1, one line on stderr naming
#    the network and [Access], no fd on the socket; the same with br= the
#    bridge device.  As nobody: exit 0 and exactly one fd arrives, a TAP
#    with a vnet header, listed by `netdctl ports` as nobody's while the fd
#    is held and gone once it is closed.
#  - a real QEMU started as daemon with the helper fails to start (non-zero
#    exit) and its output carries the refusal.
#  - `netdctl attach NET` (port.create) as daemon: exit 1, the message names
#    the network and [Access]; as nobody it works; nobody may not create a
#    port for another user (--owner daemon).
#  - nobody cannot detach a root-owned port; root lists every port, nobody
#    only its own, daemon none.
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/qemu/lib.sh
. "$IT_DIR/../qemu/lib.sh"

it_init
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
NETD_BRIDGE_HELPER=${NETD_BRIDGE_HELPER:-$IT_DIR/../../build/netd/netd-bridge-helper}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
[ -x "$NETD_BRIDGE_HELPER" ] || skip "netd-bridge-helper not found at $NETD_BRIDGE_HELPER"
it_need setpriv runuser
for u in nobody daemon; do
	id -u "$u" >/dev/null 2>&1 || skip "no user $u"
	runuser -u "$u" -- test -x "$NETD_BRIDGE_HELPER" ||
		skip "user $u cannot execute $NETD_BRIDGE_HELPER (build dir not world-readable)"
done
HAVE_QEMU=1
qemu_guest_build >"$IT_TMP/build-guest.log" 2>&1
case $? in
0) ;;
77) HAVE_QEMU=0 ;;
*) cat "$IT_TMP/build-guest.log" >&2; fail "tests/qemu/build-guest.sh failed" ;;
esac

ns_add host
NET=web
BR=itac0
net_conf "$NET" <<CONF
[Network]
Mode=nat
Bridge=$BR
Address=10.232.0.1/24

[Access]
User=nobody
CONF

SOCK=$IT_RUN/netd.sock
ctl() { hx "$NETDCTL" --socket "$SOCK" "$@"; }
# as USER CMD...: run CMD in HOST as USER (no groups, no capabilities).
as()
{
	local u=$1
	shift
	hx setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups \
		--inh-caps=-all -- "$@"
}
ctl_as() { local u=$1; shift; as "$u" "$NETDCTL" --socket "$SOCK" "$@"; }

netd_start
expect_bridge "$NET" "$BR"
it_setup_done

# helper_try.py USER HELPER BR [RELEASE_FILE]: run HELPER as USER like QEMU
# does; print "exit=N fds=K" and per fd "tap=NAME flags=0xF".  With
# RELEASE_FILE, keep the fds until that file exists (bounded: 30 s).
cat >"$IT_TMP/helper_try.py" <<'PY'
import array, fcntl, os, pwd, socket, struct, subprocess, sys, time

user, helper, br = sys.argv[1:4]
release = sys.argv[4] if len(sys.argv) > 4 else None
pw = pwd.getpwnam(user)
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
cmd = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--clear-groups",
       "--inh-caps=-all", "--", helper, "--use-vnet", "--fd=%d" % theirs.fileno(), "--br=" + br]
p = subprocess.Popen(cmd, pass_fds=(theirs.fileno(),), stderr=subprocess.PIPE)
theirs.close()
try:
    _, err = p.communicate(timeout=15)
except subprocess.TimeoutExpired:
    p.kill()
    print("exit=timeout fds=0")
    sys.exit(0)
sys.stderr.write(err.decode(errors="replace"))
fds = []
ours.setblocking(False)
try:
    msg, anc, _, _ = ours.recvmsg(16, socket.CMSG_SPACE(16 * 4))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            a = array.array("i")
            a.frombytes(data[:len(data) - len(data) % a.itemsize])
            fds.extend(a)
except BlockingIOError:
    msg = b""
print("exit=%d fds=%d bytes=%d" % (p.returncode, len(fds), len(msg)))
TUNGETIFF = 0x800454d2
for fd in fds:
    try:
        ifr = fcntl.ioctl(fd, TUNGETIFF, b"\0" * 40)
        name = ifr[:16].split(b"\0")[0].decode()
        flags = struct.unpack("H", ifr[16:18])[0]
        print("tap=%s flags=0x%x" % (name, flags))
    except OSError as e:
        print("tap=? error=%s" % e)
sys.stdout.flush()
if release:
    end = time.monotonic() + 30
    while not os.path.exists(release) and time.monotonic() < end:
        time.sleep(0.05)
for fd in fds:
    os.close(fd)
PY

helper_try() { NETD_SOCKET=$SOCK hx "$IT_PY" "$IT_TMP/helper_try.py" "$@"; }

# One refused helper run: USER BR.
helper_refused()
{
	local u=$1 br=$2 out err
	out=$(helper_try "$u" "$NETD_BRIDGE_HELPER" "$br" 2>"$IT_TMP/helper.err")
	err=$(cat "$IT_TMP/helper.err")
	[ "$(head -n 1 <<<"$out")" = "exit=1 fds=0 bytes=0" ] ||
		fail "helper as $u, --br=$br: got '$out' (stderr: $err), expected exit 1 and nothing on the socket"
	[ "$(grep -c . <<<"$err")" = 1 ] || fail "helper as $u: expected one line on stderr, got: $err"
	grep -q "network $NET" <<<"$err" && grep -qF "[Access]" <<<"$err" ||
		fail "helper as $u: stderr does not name network $NET and [Access]: $err"
	ok "helper as $u, --br=$br: exit 1, no fd; stderr: $err"
}
helper_refused daemon "$NET"
helper_refused daemon "$BR"
[ -z "$(ctl ports | tail -n +2)" ] || fail "a refused helper left a port: $(ctl ports)"
ok "no port left by the refused helper"

# nobody: one TAP fd arrives; the port lives while it is held.
port_row() { ctl ports | awk -v i="$1" 'NR > 1 && $1 == i'; }
port_gone() { [ -z "$(port_row "$1")" ]; }
helper_out_ready() { grep -q '^exit=' "$IT_TMP/helper.out" 2>/dev/null; }
NETD_SOCKET=$SOCK hx "$IT_PY" "$IT_TMP/helper_try.py" nobody "$NETD_BRIDGE_HELPER" "$NET" \
	"$IT_TMP/release" >"$IT_TMP/helper.out" 2>"$IT_TMP/helper.err" </dev/null &
HPID=$!
wait_for 15 "helper as nobody to finish" helper_out_ready
[ "$(head -n 1 "$IT_TMP/helper.out")" = "exit=0 fds=1 bytes=1" ] ||
	fail "helper as nobody: $(cat "$IT_TMP/helper.out") (stderr: $(cat "$IT_TMP/helper.err")), expected exit 0, one fd in a 1-byte message"
read -r TAPLINE <<<"$(grep '^tap=' "$IT_TMP/helper.out")"
TAP=${TAPLINE#tap=}
TAP=${TAP%% *}
FLAGS=${TAPLINE##*flags=}
[ "$TAP" != "?" ] || fail "the fd the helper passed is not a TAP: $TAPLINE"
(( FLAGS & 0x0002 )) && (( FLAGS & 0x1000 )) && (( FLAGS & 0x4000 )) ||
	fail "TAP $TAP flags $FLAGS: expected IFF_TAP (0x2), IFF_NO_PI (0x1000), IFF_VNET_HDR (0x4000)"
ok "helper as nobody: exit 0, one fd: TAP $TAP, flags $FLAGS"
row=$(port_row "$TAP")
[ "$(awk '{ print $2, $4 }' <<<"$row")" = "$NET nobody" ] ||
	fail "netdctl ports: '$row' for $TAP, expected network $NET owner nobody"
ok "netdctl ports: $row"
touch "$IT_TMP/release"
wait "$HPID"
wait_for 2 "port $TAP to go once nobody's fd is closed" port_gone "$TAP"
ok "port $TAP gone once the fd was closed"

# A real QEMU as daemon with the helper does not start.
if [ "$HAVE_QEMU" = 1 ]; then
	QEMU_AS_USER=daemon NETD_SOCKET=$SOCK \
		qemu_guest_start "$IT_HOST" "$IT_TMP/qemu-daemon.log" \
		-netdev "bridge,id=n0,br=$NET,helper=$NETD_BRIDGE_HELPER" >/dev/null || fail "cannot run QEMU"
	QPID=$QEMU_GUEST_PID
	qemu_exited() { ! qemu_guest_alive "$QPID"; }
	wait_for 15 "QEMU as daemon to give up" qemu_exited
	wait "$QPID"
	rc=$?
	[ "$rc" != 0 ] || fail "QEMU as daemon exited 0"
	grep -q "may not use network $NET" "$IT_TMP/qemu-daemon.log" &&
		grep -qF "[Access]" "$IT_TMP/qemu-daemon.log" ||
		fail "QEMU's output lacks the refusal: $(cat "$IT_TMP/qemu-daemon.log")"
	ok "QEMU as daemon exited $rc: $(tr -d '\r' <"$IT_TMP/qemu-daemon.log" | grep -m1 'may not use')"
	[ -z "$(ctl ports | tail -n +2)" ] || fail "QEMU as daemon left a port: $(ctl ports)"
else
	log "QEMU not installable: skipping the QEMU-as-daemon check"
fi

# port.create through netdctl attach.
out=$(ctl_as daemon attach "$NET" 2>"$IT_TMP/ctl.err")
rc=$?
err=$(cat "$IT_TMP/ctl.err")
[ "$rc" = 1 ] && [ -z "$out" ] || fail "netdctl attach $NET as daemon: exit $rc, stdout '$out', expected exit 1"
[ "$(grep -c . <<<"$err")" = 1 ] && grep -q "network $NET" <<<"$err" && grep -qF "[Access]" <<<"$err" ||
	fail "netdctl attach $NET as daemon: stderr should be one line naming $NET and [Access]: $err"
ok "netdctl attach $NET as daemon: exit 1: $err"

NTAP=$(ctl_as nobody attach "$NET" 2>"$IT_TMP/ctl.err") ||
	fail "netdctl attach $NET as nobody failed: $(cat "$IT_TMP/ctl.err")"
[ -n "$NTAP" ] && link_exists "$IT_HOST" "$NTAP" || fail "netdctl attach as nobody printed '$NTAP', no such link"
[ "$(hx cat "/sys/class/net/$NTAP/owner")" = "$(id -u nobody)" ] ||
	fail "$NTAP owner is $(hx cat "/sys/class/net/$NTAP/owner"), expected $(id -u nobody)"
ok "netdctl attach $NET as nobody: $NTAP, owned by nobody"

out=$(ctl_as nobody attach "$NET" --owner daemon 2>"$IT_TMP/ctl.err")
rc=$?
[ "$rc" = 1 ] || fail "netdctl attach --owner daemon as nobody: exit $rc ($out), expected 1"
ok "nobody may not create a port for daemon: $(cat "$IT_TMP/ctl.err")"

RTAP=itroot0
[ "$(ctl attach "$NET" --ifname "$RTAP")" = "$RTAP" ] || fail "netdctl attach --ifname $RTAP as root"
out=$(ctl_as nobody detach "$RTAP" 2>"$IT_TMP/ctl.err")
rc=$?
[ "$rc" = 1 ] || fail "netdctl detach $RTAP as nobody: exit $rc, expected 1"
link_exists "$IT_HOST" "$RTAP" && [ -n "$(port_row "$RTAP")" ] ||
	fail "root's port $RTAP gone after nobody's detach"
ok "nobody cannot detach root's $RTAP: $(cat "$IT_TMP/ctl.err")"

# Listing: root all, nobody its own, daemon nothing.
names() { awk 'NR > 1 { print $1 }' | sort | tr '\n' ' '; }
want_root=$(printf '%s\n' "$NTAP" "$RTAP" | sort | tr '\n' ' ')
got=$(ctl ports | names)
[ "$got" = "$want_root" ] || fail "netdctl ports as root: '$got', expected '$want_root'"
got=$(ctl_as nobody ports | names)
[ "$got" = "$NTAP " ] || fail "netdctl ports as nobody: '$got', expected '$NTAP '"
got=$(ctl_as daemon ports | names)
[ -z "$got" ] || fail "netdctl ports as daemon: '$got', expected none"
ok "ports: root sees $want_root, nobody sees $NTAP, daemon none"

# nobody may detach its own.
ctl_as nobody detach "$NTAP" >/dev/null || fail "nobody cannot detach its own $NTAP"
link_exists "$IT_HOST" "$NTAP" && fail "$NTAP still exists after nobody detached it"
ok "nobody detached its own $NTAP"
ctl detach "$RTAP" >/dev/null || fail "root cannot detach $RTAP"
netd_stop
