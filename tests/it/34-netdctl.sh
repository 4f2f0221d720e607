#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 34, netdctl as a user and a script sees it:
#  - every command's --json output parses (python3 json) and carries every
#    column of its human output, value for value: status, list, show,
#    leases, ports (also a lease without hostname, a port without MAC),
#    start/stop, attach/detach, reload; monitor --json is one object a line.
#  - exit status: 0 on success; 1 on an error netd reported (show NOSUCH,
#    detach NOSUCH, stop as a non-root user) with exactly one line on
#    stderr and nothing on stdout; 2 on usage errors (first stderr line
#    "netdctl: ...", nothing on stdout) and when netd cannot be reached
#    (`--socket /nonexistent status`: exactly one line on stderr).
#    NETD_SOCKET works instead of --socket.
#  - stop NET removes the bridge (and the network's ports), start NET
#    brings it back.
#  - reload after editing files reports each network's outcome: changed,
#    unchanged, added, removed, and error (with FILE:LINE lines) for a
#    broken file, whose network keeps running.
. "$(dirname "$0")/lib.sh"

it_init
NETDCTL=${NETDCTL:-$IT_DIR/../../build/netd/netdctl}
[ -x "$NETDCTL" ] || skip "netdctl not found at $NETDCTL (set NETDCTL)"
it_need setpriv
id -u nobody >/dev/null 2>&1 || skip "no user nobody"

ns_add host
net_conf alpha <<CONF
[Network]
Mode=nat
Bridge=itca0
Address=10.234.1.1/24

[DHCP]
Range=10.234.1.100-10.234.1.149

[DNS]
Domain=alpha.internal

[Access]
User=nobody
CONF
net_conf beta <<CONF
[Network]
Mode=isolated
Bridge=itcb0
Address=10.234.2.1/24
CONF
net_conf gamma <<CONF
[Network]
Mode=nat
Bridge=itcg0
Address=10.234.3.1/24
CONF
net_conf epsilon <<CONF
[Network]
Mode=routed
Bridge=itce0
Address=10.234.5.1/24
CONF

SOCK=$IT_RUN/netd.sock
ctl() { hx "$NETDCTL" --socket "$SOCK" "$@"; }

netd_start
for n in alpha:itca0 beta:itcb0 gamma:itcg0 epsilon:itce0; do
	expect_bridge "${n%%:*}" "${n#*:}"
done
expect_dnsmasq alpha
guest_add g1 itca0 52:54:00:34:00:01
guest_add g2 itca0 52:54:00:34:00:02
guests_dhcp g1:host34 g2
lease_count() { [ "$(ctl --json leases alpha | "$IT_PY" -c 'import json,sys; print(len(json.load(sys.stdin)["leases"]))')" = 2 ]; }
wait_for 5 "netd to know both leases" lease_count
P1=$(ctl attach alpha --mac 52:54:00:34:00:11 --owner nobody) || fail "attach alpha --mac --owner nobody"
P2=$(ctl attach alpha --ifname itcport2) || fail "attach alpha --ifname itcport2"
P3=$(ctl attach gamma) || fail "attach gamma"
ok "ports $P1 (MAC, owner nobody), $P2 (no MAC), $P3 (on gamma)"
it_setup_done

# ---------------------------------------------------------------- compare
cat >"$IT_TMP/compare.py" <<'PY'
# compare.py KIND HUMAN_FILE JSON_FILE: the human output of a netdctl
# command against its --json output, cell by cell.
import json, re, sys, time

kind, hfile, jfile = sys.argv[1:4]
human = open(hfile).read().splitlines()
try:
    data = json.load(open(jfile))
except ValueError as e:
    sys.exit("%s: --json output does not parse: %s" % (kind, e))
errors = []

def text(v, sep=","):
    """A JSON value as netdctl prints it in a cell."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return re.sub(r"[\x00-\x1f\x7f]", "?", v) or "-"
    if isinstance(v, list):
        return sep.join(text(x, sep) for x in v) or "-"
    if isinstance(v, dict):
        return sep.join("%s=%s" % (k, text(x, sep)) for k, x in v.items() if x is not None) or "-"
    return str(v)

def when(v):
    if isinstance(v, int) and not isinstance(v, bool):
        return "never" if v == 0 else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v))
    return text(v)

def dnsmasq(v):
    """DNSMASQ column: the state of the dnsmasq object (or a plain string)."""
    return text(v.get("state")) if isinstance(v, dict) else text(v)

def owner(o):
    return text(o["owner_name"]) if isinstance(o.get("owner_name"), str) else text(o.get("owner"))

def table(lines, head):
    """Rows of an aligned table as dicts, columns found from the header."""
    if not lines:
        errors.append("no header line")
        return []
    h = lines[0]
    if h.split() != head:
        errors.append("header %r, expected %s" % (h, head))
        return []
    starts = [h.index(c) for c in head]
    rows = []
    for line in lines[1:]:
        cells = [line[s:(starts[i + 1] if i + 1 < len(starts) else None)].strip()
                 for i, s in enumerate(starts)]
        rows.append(dict(zip(head, cells)))
    return rows

COLS = {
    "list": (["NAME", "MODE", "BRIDGE", "STATE", "ADDRESSES", "PORTS", "LEASES", "DNSMASQ"],
             lambda o: [text(o[k]) for k in ("name", "mode", "bridge", "state", "addresses",
                                              "ports", "leases")] + [dnsmasq(o["dnsmasq"])],
             "networks"),
    "leases": (["MAC", "IP", "HOSTNAME", "EXPIRES", "NETWORK"],
               lambda o: [text(o["mac"]), text(o["ip"]), text(o["hostname"]), when(o["expires"]),
                          text(o["network"])], "leases"),
    "ports": (["IFNAME", "NETWORK", "MAC", "OWNER", "STATE"],
              lambda o: [text(o["ifname"]), text(o["network"]), text(o["mac"]), owner(o),
                         text(o["state"])], "ports"),
}
NEEDED = {"list": ("name", "mode", "bridge", "state", "addresses", "ports", "leases", "dnsmasq"),
          "leases": ("mac", "ip", "hostname", "expires", "network"),
          "ports": ("ifname", "network", "mac", "owner", "owner_name", "state")}

def compare_table(kind, lines, objs, key=None):
    head, render, _ = COLS[kind]
    for o in objs:
        missing = [k for k in NEEDED[kind] if k not in o]
        if missing:
            errors.append("%s: JSON object lacks %s: %s" % (kind, missing, o))
            return 0
    rows = table(lines, head)
    if len(rows) != len(objs):
        errors.append("%s: %d human rows, %d JSON objects" % (kind, len(rows), len(objs)))
        return 0
    if key:    # ports are sorted by netdctl: match them by ifname
        by = {r[head[0]]: r for r in rows}
        pairs = [(by.get(text(o[key])), o) for o in objs]
    else:
        pairs = list(zip(rows, objs))
    for r, o in pairs:
        want = render(o)
        got = [r.get(c) for c in head] if r else None
        if got != want:
            errors.append("%s: human row %s, JSON says %s" % (kind, got, want))
    return len(pairs)

def kv(lines):
    out = {}
    for line in lines:
        m = re.match(r"^([a-z_]+):\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out

def uptime(s):
    m = re.match(r"^(?:(\d+)d )?(\d+):(\d\d):(\d\d)$", s)
    return None if not m else int(m.group(1) or 0) * 86400 + int(m.group(2)) * 3600 + \
        int(m.group(3)) * 60 + int(m.group(4))

n = 0
if kind in ("list", "leases", "ports"):
    n = compare_table(kind, human, data[COLS[kind][2]], "ifname" if kind == "ports" else None)
elif kind == "status":
    h = kv(human)
    if set(h) != set(data):
        errors.append("status: human keys %s, JSON keys %s" % (sorted(h), sorted(data)))
    for k, v in data.items():
        if k == "uptime":
            u = uptime(h.get(k, ""))
            if u is None or abs(u - v) > 2:
                errors.append("status: uptime %r vs %r" % (h.get(k), v))
        elif k in h and h[k] != text(v, ", "):
            errors.append("status: %s is %r, JSON %r" % (k, h[k], v))
        n += 1
elif kind == "show":
    net = data["network"]
    # Section headings: a line "ports:" / "leases:" alone (any case).
    low = [l.strip().lower() for l in human]
    i_ports = low.index("ports:") if "ports:" in low else None
    i_leases = low.index("leases:") if "leases:" in low else None
    if i_ports is None or i_leases is None:
        errors.append("show: no ports:/leases: sections")
    else:
        h = kv(human[:i_ports])
        want = [k for k in net if k not in ("port_list", "lease_list")]
        if set(h) != set(want):
            errors.append("show: human keys %s, JSON keys %s" % (sorted(h), sorted(want)))
        for k in want:
            v = net[k]
            if k == "dnsmasq" and isinstance(v, dict):
                ok = h.get(k, "").split(" ")[0] == text(v.get("state")) and \
                    (v.get("pid") is None or ("pid %d" % v["pid"]) in h.get(k, ""))
            else:
                ok = h.get(k) == text(v, ", ")
            if not ok:
                errors.append("show: %s is %r, JSON %r" % (k, h.get(k), v))
            n += 1
        tl = [l for l in human[i_ports + 1:i_leases] if l]
        n += compare_table("ports", tl, net["port_list"], "ifname")
        tl = [l for l in human[i_leases + 1:] if l]
        n += compare_table("leases", tl, net["lease_list"])
elif kind == "state":          # start / stop
    if human != ["%s: %s" % (text(data["name"]), text(data["state"]))]:
        errors.append("start/stop: human %r, JSON %r" % (human, data))
    n = 1
elif kind == "reload":
    want = []
    for o in data["networks"]:
        want.append("%s: %s" % (o["name"], o["outcome"]))
        want.extend("  " + e for e in o.get("errors") or [])
    if human != want:
        errors.append("reload: human %r, JSON gives %r" % (human, want))
    n = len(data["networks"])
elif kind == "attach":
    if human != [data.get("ifname")]:
        errors.append("attach: human %r, JSON ifname %r" % (human, data.get("ifname")))
    n = 1
if errors:
    sys.exit("\n".join(errors))
print("%d items match" % n)
PY

# same_output KIND ARGS...: run `netdctl ARGS` and `netdctl --json ARGS`, compare.
same_output()
{
	local kind=$1 res
	shift
	ctl "$@" >"$IT_TMP/h.out" 2>"$IT_TMP/h.err" || fail "netdctl $*: exit $?: $(cat "$IT_TMP/h.err")"
	ctl --json "$@" >"$IT_TMP/j.out" 2>"$IT_TMP/j.err" || fail "netdctl --json $*: exit $?: $(cat "$IT_TMP/j.err")"
	[ -s "$IT_TMP/h.err" ] || [ -s "$IT_TMP/j.err" ] && fail "netdctl $*: wrote to stderr on success"
	res=$("$IT_PY" "$IT_TMP/compare.py" "$kind" "$IT_TMP/h.out" "$IT_TMP/j.out" 2>&1) ||
		fail "netdctl $* vs --json:
$res
---- human ----
$(cat "$IT_TMP/h.out")
---- json ----
$(cat "$IT_TMP/j.out")"
	ok "netdctl [--json] $*: $res"
}

same_output status status
same_output list list
same_output show show alpha
same_output show show gamma
same_output leases leases
same_output leases leases alpha
same_output leases leases beta
same_output ports ports
same_output ports ports alpha
# One lease without a hostname, one port without a MAC, rendered as "-".
ctl leases | grep -qiE '^52:54:00:34:00:02 +10\.234\.1\.[0-9]+ +- ' ||
	fail "lease of g2 (no hostname) not shown with '-': $(ctl leases)"
ctl ports | grep -qE "^$P2 +alpha +- +root +" || fail "port $P2 (no MAC) not shown with '-': $(ctl ports)"
ok "null cells print as '-'"

# attach/detach --json.
out=$(ctl --json attach alpha --ifname itcport4) || fail "netdctl --json attach"
"$IT_PY" -c 'import json, sys; o = json.loads(sys.argv[1]); assert o["ifname"] == "itcport4" and o["network"] == "alpha", o' "$out" ||
	fail "netdctl --json attach printed: $out"
out=$(ctl --json detach itcport4) || fail "netdctl --json detach"
"$IT_PY" -c 'import json, sys; o = json.loads(sys.argv[1]); assert o["ifname"] == "itcport4", o' "$out" ||
	fail "netdctl --json detach printed: $out"
out=$(ctl detach itcport2) || fail "netdctl detach $P2"
[ -z "$out" ] || fail "netdctl detach printed '$out', expected nothing"
ok "attach/detach: --json gives the port object, detach prints nothing"

# monitor --json: one JSON object per line.
hx "$NETDCTL" --socket "$SOCK" --json monitor >"$IT_TMP/monitor.json" 2>"$IT_TMP/monitor.err" </dev/null &
MON_PID=$!
mon_sentinel()
{
	grep -q '"event":"port.removed".*"ifname":"itcmon0"\|"ifname":"itcmon0".*"event":"port.removed"' \
		"$IT_TMP/monitor.json" && return 0
	proc_alive "$MON_PID" || fail "netdctl --json monitor exited: $(cat "$IT_TMP/monitor.err")"
	if ! grep -q '"itcmon0"' "$IT_TMP/monitor.json"; then
		ctl attach alpha --ifname itcmon0 >/dev/null 2>&1 && ctl detach itcmon0 >/dev/null 2>&1
	fi
	return 1
}
wait_for 5 "netdctl --json monitor to report a sentinel port" mon_sentinel
kill "$MON_PID"
wait "$MON_PID" 2>/dev/null
"$IT_PY" - "$IT_TMP/monitor.json" <<'PY' || fail "netdctl --json monitor output: $(cat "$IT_TMP/monitor.json")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no lines"
for l in lines:
    o = json.loads(l)
    assert isinstance(o, dict) and isinstance(o.get("event"), str), l
    assert o["event"] in ("port.added", "port.removed", "lease.added", "lease.removed",
                          "lease.expired", "network.started", "network.stopped"), l
print("ok - %d event lines parse" % len(lines))
PY

# ---------------------------------------------------------------- exit codes
# expect_exit WANT STDERR_LINES DESC CMD...: exit status, stdout empty,
# STDERR_LINES lines on stderr ("1+": at least one, the first "netdctl: ").
expect_exit()
{
	local want=$1 lines=$2 desc=$3 rc n
	shift 3
	"$@" >"$IT_TMP/x.out" 2>"$IT_TMP/x.err"
	rc=$?
	[ "$rc" = "$want" ] || fail "$desc: exit $rc, expected $want (stderr: $(cat "$IT_TMP/x.err"))"
	[ ! -s "$IT_TMP/x.out" ] || fail "$desc: printed on stdout: $(cat "$IT_TMP/x.out")"
	n=$(grep -c '' "$IT_TMP/x.err")
	case "$lines" in
	1) [ "$n" = 1 ] || fail "$desc: $n lines on stderr, expected exactly 1:
$(cat "$IT_TMP/x.err")" ;;
	1+) [ "$n" -ge 1 ] || fail "$desc: nothing on stderr" ;;
	esac
	head -n 1 "$IT_TMP/x.err" | grep -q '^netdctl: .' || fail "$desc: stderr does not start with 'netdctl: ': $(cat "$IT_TMP/x.err")"
	ok "$desc: exit $rc: $(head -n 1 "$IT_TMP/x.err")"
}
as_nobody()
{
	hx setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups --inh-caps=-all -- "$@"
}

expect_exit 1 1 "show NOSUCH" ctl show NOSUCH
expect_exit 1 1 "--json show NOSUCH" ctl --json show NOSUCH
expect_exit 1 1 "detach NOSUCH" ctl detach nosuch0
expect_exit 1 1 "leases NOSUCH" ctl leases NOSUCH
expect_exit 1 1 "stop gamma as nobody" as_nobody "$NETDCTL" --socket "$SOCK" stop gamma
expect_exit 2 1 "--socket /nonexistent status" hx "$NETDCTL" --socket /nonexistent status
expect_exit 2 1 "--json --socket /nonexistent list" hx "$NETDCTL" --json --socket /nonexistent list
expect_exit 2 1+ "no command" ctl
expect_exit 2 1+ "unknown command" ctl frobnicate
expect_exit 2 1+ "show without NET" ctl show
expect_exit 2 1+ "stop with two networks" ctl stop alpha beta
expect_exit 2 1+ "unknown option" ctl --frob status
expect_exit 2 1+ "--socket without a value" hx "$NETDCTL" status --socket
expect_exit 2 1+ "--ifname with ports" ctl ports --ifname x
hx "$NETDCTL" --help >"$IT_TMP/help.out" 2>&1 || fail "netdctl --help: exit $?"
grep -q 'Usage: netdctl' "$IT_TMP/help.out" || fail "netdctl --help: $(cat "$IT_TMP/help.out")"
ok "netdctl --help: exit 0, usage on stdout"
out=$(NETD_SOCKET=$SOCK hx "$NETDCTL" status) || fail "NETD_SOCKET=$SOCK netdctl status: exit $?"
grep -q '^version:' <<<"$out" || fail "NETD_SOCKET netdctl status printed: $out"
ok "NETD_SOCKET selects the socket"

# ---------------------------------------------------------------- start/stop
state_of() { ctl --json show "$1" | "$IT_PY" -c 'import json, sys; print(json.load(sys.stdin)["network"]["state"])'; }
same_output state stop gamma
link_exists "$IT_HOST" itcg0 && fail "bridge itcg0 still there after netdctl stop gamma"
link_exists "$IT_HOST" "$P3" && fail "port $P3 of gamma still there after netdctl stop gamma"
[ "$(state_of gamma)" = stopped ] || fail "gamma's state after stop: $(state_of gamma)"
ctl ports | awk 'NR > 1 { print $2 }' | grep -qx gamma && fail "netdctl ports lists a gamma port after stop"
ok "stop gamma: bridge itcg0 and port $P3 gone, state stopped"
out=$(ctl stop gamma) || fail "stopping a stopped network: exit $?"
[ "$out" = "gamma: stopped" ] || fail "stop gamma again printed '$out'"
same_output list list
same_output state start gamma
expect_bridge gamma itcg0
[ "$(state_of gamma)" = running ] || fail "gamma's state after start: $(state_of gamma)"
ok "start gamma: bridge back, state running"

# ---------------------------------------------------------------- reload
sed -i 's/^Range=.*/Range=10.234.1.100-10.234.1.179/' "$IT_CONF/networks/alpha.conf"
printf '[Network]\nMode=sideways\nBridge=itcb0\n' >"$IT_CONF/networks/beta.conf"
rm -f "$IT_CONF/networks/epsilon.conf"
net_conf delta <<CONF
[Network]
Mode=isolated
Bridge=itcd0
Address=10.234.4.1/24
CONF
ctl reload >"$IT_TMP/h.out" 2>"$IT_TMP/h.err"
rc=$?
log "netdctl reload (exit $rc):"
sed 's/^/#   /' "$IT_TMP/h.out"
# A network whose file has errors is an error netd reported: exit 1, one line.
[ "$rc" = 1 ] || fail "netdctl reload with a broken beta.conf: exit $rc, expected 1"
[ "$(grep -c '' "$IT_TMP/h.err")" = 1 ] && grep -q '^netdctl: ' "$IT_TMP/h.err" ||
	fail "netdctl reload with a broken file: stderr should be one 'netdctl: ' line: $(cat "$IT_TMP/h.err")"
for want in "alpha: changed" "beta: error" "gamma: unchanged" "delta: added" "epsilon: removed"; do
	grep -qx "$want" "$IT_TMP/h.out" || fail "netdctl reload: no line '$want'"
done
grep -qE "^  .*beta\.conf:[0-9]+: " "$IT_TMP/h.out" || fail "netdctl reload: no FILE:LINE error line for beta.conf"
ok "reload reports changed, error (with FILE:LINE), unchanged, added, removed; exit 1: $(cat "$IT_TMP/h.err")"
# The same again (nothing changed since), human and --json, both exit 1.
ctl reload >"$IT_TMP/h.out" 2>/dev/null
rc=$?
ctl --json reload >"$IT_TMP/j.out" 2>/dev/null
[ "$rc/$?" = 1/1 ] || fail "second reload with a broken beta.conf: exit $rc (human), expected 1 for both"
res=$("$IT_PY" "$IT_TMP/compare.py" reload "$IT_TMP/h.out" "$IT_TMP/j.out" 2>&1) ||
	fail "netdctl reload vs --json: $res
$(cat "$IT_TMP/h.out")
$(cat "$IT_TMP/j.out")"
ok "netdctl [--json] reload: $res"
grep -qx "alpha: unchanged" "$IT_TMP/h.out" || fail "second reload: alpha not unchanged: $(cat "$IT_TMP/h.out")"
grep -qx "beta: error" "$IT_TMP/h.out" || fail "second reload: beta not error: $(cat "$IT_TMP/h.out")"
expect_bridge beta itcb0
ok "beta keeps running with a broken file"
expect_bridge delta itcd0
link_exists "$IT_HOST" itce0 && fail "epsilon's bridge itce0 still there after its file was removed"
ok "delta's bridge up, epsilon's gone"
link_exists "$IT_HOST" "$P1" && ctl ports | grep -q "^$P1 " || fail "port $P1 of alpha lost by an in-place change"
ok "alpha's port $P1 survived the in-place change"
# beta's file fixed (and changed): exit 0 again.
net_conf beta <<CONF
[Network]
Mode=isolated
Bridge=itcb0
Address=10.234.2.1/24
MTU=1400
CONF
out=$(ctl reload 2>"$IT_TMP/h.err") || fail "netdctl reload with beta.conf fixed: exit $?: $(cat "$IT_TMP/h.err")"
grep -qx "beta: changed" <<<"$out" || fail "reload with beta.conf fixed: $out"
ok "beta.conf fixed: reload exits 0, beta: changed"
same_output reload reload
same_output list list
same_output ports ports
netd_stop
