#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 8, configuration errors.
# a) `netd --check` on a directory of broken files, one problem per file:
#    one `FILE:LINE: message` line per problem, right file and line, exit 1.
#    Run in HOST, which has a route the "route" file overlaps.
# b) `netd --check` on a good directory: exit 0, no output.
# c) netd started on one broken and one good file brings up the good network
#    and logs the broken file's error.
. "$(dirname "$0")/lib.sh"

it_init
it_topology
# A route on the host for the "subnet overlaps an existing route" case.
must ip -n "$IT_HOST" link add ckdum0 type veth peer name ckdum1
must ip -n "$IT_HOST" addr add 10.230.0.1/24 dev ckdum0
must ip -n "$IT_HOST" link set ckdum0 up
must ip -n "$IT_HOST" link set ckdum1 up

BAD=$IT_TMP/bad
mkdir -p "$BAD/networks"
declare -A WANT=()	# file -> accepted line numbers (space separated)
declare -A WHAT=()	# file -> the problem, for messages

# bad FILE PROBLEM PATTERN [PATTERN2]: write stdin to FILE; the problem is
# expected on the line matching PATTERN (grep -x; the first match), or on
# PATTERN2's line (for problems with two defensible lines).
bad()
{
	local f=$BAD/networks/$1 p n lines=""
	cat >"$f"
	shift
	WHAT[$(basename "$f")]=$1
	shift
	for p in "$@"; do
		n=$(grep -nx -m1 -e "$p" "$f" | cut -d: -f1)
		[ -n "$n" ] || fail "test bug: pattern '$p' not in $f"
		lines="$lines $n"
	done
	WANT[$(basename "$f")]=${lines# }
}

bad bad-mode.conf "bad Mode" 'Mode=bogus' <<'CONF'
# Mode is not one of nat, routed, isolated, bridge.
[Network]
Mode=bogus
Bridge=ck-mode
Address=10.210.1.1/24
CONF
bad addr-noprefix.conf "address without prefix" 'Address=10.210.3.1' <<'CONF'
[Network]
Mode=nat
Bridge=ck-noprefix
Address=10.210.2.1/24
Address=10.210.3.1
CONF
bad range-outside.conf "range outside the subnet" 'Range=.*' <<'CONF'
[Network]
Mode=nat
Bridge=ck-rout
Address=10.210.4.1/24

[DHCP]
Range=10.211.4.100-10.211.4.150
CONF
bad range-host.conf "range contains the host address" 'Range=.*' <<'CONF'
[Network]
Mode=nat
Bridge=ck-rhost
Address=10.210.5.1/24

[DHCP]
Range=10.210.5.1-10.210.5.50
CONF
bad resv-outside.conf "reservation outside the subnet" 'Reservation=.*' <<'CONF'
[Network]
Mode=nat
Bridge=ck-resout
Address=10.210.6.1/24

[DHCP]
Range=10.210.6.100-10.210.6.150
Reservation=52:54:00:08:00:06,10.99.6.10,h6
CONF
bad resv-dup.conf "duplicate reservation IP" 'Reservation=52:54:00:08:00:17,.*' <<'CONF'
[Network]
Mode=nat
Bridge=ck-resdup
Address=10.210.7.1/24

[DHCP]
Range=10.210.7.100-10.210.7.150
Reservation=52:54:00:08:00:07,10.210.7.10,first
Reservation=52:54:00:08:00:17,10.210.7.10,second
CONF
bad bad-mac.conf "bad MAC in a reservation" 'Reservation=.*' <<'CONF'
[Network]
Mode=nat
Bridge=ck-mac
Address=10.210.8.1/24

[DHCP]
Range=10.210.8.100-10.210.8.150
Reservation=52:54:00:zz:00:08,10.210.8.10,h8
CONF
bad long-bridge.conf "bridge name longer than 15" 'Bridge=.*' <<'CONF'
[Network]
Mode=nat
Bridge=ck-name-is-far-too-long
Address=10.210.9.1/24
CONF
bad unknown-section.conf "unknown section" '\[Bogus\]' 'Colour=blue' <<'CONF'
[Network]
Mode=nat
Bridge=ck-section
Address=10.210.10.1/24

[Bogus]
Colour=blue
CONF
bad unknown-key.conf "unknown key" 'Colour=blue' <<'CONF'
[Network]
Mode=nat
Bridge=ck-key
Colour=blue
Address=10.210.11.1/24
CONF
bad route.conf "subnet overlaps a route on the host" 'Address=.*' <<'CONF'
[Network]
Mode=nat
Bridge=ck-route
Address=10.230.128.1/16

[DHCP]
Range=10.230.128.100-10.230.128.150
CONF
bad bad-forward.conf "bad port forward" 'Port=.*' <<'CONF'
[Network]
Mode=nat
Bridge=ck-fwd
Address=10.210.13.1/24

[Forward]
Port=tcp/99999=10.210.13.10:80
CONF
bad syntax.conf "syntax error" 'this line is not ini' <<'CONF'
[Network]
Mode=nat
Bridge=ck-syntax
this line is not ini
Address=10.210.14.1/24
CONF
# A problem that belongs to no single line still gets FILE:LINE: (any line).
cat >"$BAD/networks/no-address.conf" <<'CONF'
[Network]
Mode=nat
Bridge=ck-noaddr
CONF
WANT[no-address.conf]=any
WHAT[no-address.conf]="nat network without Address="

# Two files, valid alone, whose subnets overlap: the problem may be
# reported on either file's (or both files') Address line.
cat >"$BAD/networks/overlap-a.conf" <<'CONF'
[Network]
Mode=nat
Bridge=ck-ova
Address=10.220.0.1/24
CONF
cat >"$BAD/networks/overlap-b.conf" <<'CONF'
[Network]
Mode=isolated
Bridge=ck-ovb
Address=10.220.0.129/25

[DHCP]
Range=10.220.0.200-10.220.0.250
CONF

it_setup_done

# a) the broken directory.
netd_cmd --check --config-dir "$BAD" >"$IT_TMP/check.out" 2>"$IT_TMP/check.err"
rc=$?
log "netd --check output (stdout, then stderr):"
sed 's/^/#   /' "$IT_TMP/check.out" "$IT_TMP/check.err"
cat "$IT_TMP/check.out" "$IT_TMP/check.err" >"$IT_TMP/check.all"
[ "$rc" = 1 ] || fail "netd --check on broken files exited $rc, expected 1"
ok "netd --check on broken files exits 1"

errors=0
# check_file FILE ACCEPTED_LINES MIN MAX: FILE has MIN..MAX output lines,
# each at one of ACCEPTED_LINES.
check_file()
{
	local f=$1 accepted=$2 min=$3 max=$4 re n l got bad_line="" seen=""
	re="^(.*/)?${f//./\\.}:([0-9]+): .+"
	n=$(grep -cE "$re" "$IT_TMP/check.all")
	for l in $(grep -E "$re" "$IT_TMP/check.all" | sed -E "s|$re|\\2|"); do
		got=" $l "
		seen="$seen $l"
		[ "$accepted" = any ] || [[ " $accepted " == *"$got"* ]] || bad_line="$bad_line $l"
	done
	if [ "$n" -lt "$min" ] || [ "$n" -gt "$max" ]; then
		echo "FAIL: $f (${WHAT[$f]:-overlapping subnets}): $n lines reported, expected $min..$max, on line(s) $accepted" >&2
		errors=$((errors + 1))
	elif [ -n "$bad_line" ]; then
		echo "FAIL: $f (${WHAT[$f]:-overlapping subnets}): reported on line(s)$bad_line, expected line(s) $accepted" >&2
		errors=$((errors + 1))
	else
		ok "$f: ${WHAT[$f]:-overlapping subnets}: reported at line${seen:- (none)}"
	fi
}

for f in "${!WANT[@]}"; do
	check_file "$f" "${WANT[$f]}" 1 1
done
ova=$(grep -n -m1 '^Address=' "$BAD/networks/overlap-a.conf" | cut -d: -f1)
ovb=$(grep -n -m1 '^Address=' "$BAD/networks/overlap-b.conf" | cut -d: -f1)
na=$(grep -cE '^(.*/)?overlap-a\.conf:' "$IT_TMP/check.all")
nb=$(grep -cE '^(.*/)?overlap-b\.conf:' "$IT_TMP/check.all")
check_file overlap-a.conf "$ova" 0 1
check_file overlap-b.conf "$ovb" 0 1
if [ $((na + nb)) -lt 1 ]; then
	echo "FAIL: overlap-a.conf/overlap-b.conf: overlapping subnets not reported" >&2
	errors=$((errors + 1))
fi
# Nothing but FILE:LINE: lines.
others=$(grep -vE '^(.*/)?[a-z-]+\.conf:[0-9]+: .+' "$IT_TMP/check.all")
if [ -n "$others" ]; then
	echo "FAIL: netd --check printed lines not of the form FILE:LINE: message:" >&2
	printf '%s\n' "$others" >&2
	errors=$((errors + 1))
fi
# (a)'s verdict comes at the end, so that (b) and (c) run in any case.

# b) a good directory.
GOOD=$IT_TMP/good
mkdir -p "$GOOD/networks"
cat >"$GOOD/networks/web.conf" <<'CONF'
# A nat network with everything.
[Network]
Mode=nat
Bridge=ck-web
Address=10.240.1.1/24
MTU=1500
AutoStart=yes

[DHCP]
Enable=yes
Range=10.240.1.100-10.240.1.199
LeaseTime=1h
Reservation=52:54:00:00:00:10,10.240.1.10,web

[DNS]
Enable=yes
Domain=web.internal
Record=outside.test,203.0.113.2

[Forward]
Port=tcp/8080=10.240.1.10:80
CONF
cat >"$GOOD/networks/iso.conf" <<'CONF'
[Network]
Mode=isolated
Bridge=ck-iso
Address=10.240.2.1/24
CONF
netd_cmd --check --config-dir "$GOOD" >"$IT_TMP/good.out" 2>&1
rc=$?
[ "$rc" = 0 ] || { cat "$IT_TMP/good.out" >&2; fail "netd --check on good files exited $rc, expected 0"; }
[ ! -s "$IT_TMP/good.out" ] || { cat "$IT_TMP/good.out" >&2; fail "netd --check on good files printed something (above)"; }
ok "netd --check on good files: exit 0, no output"

# c) netd with one broken and one good network.
cp "$BAD/networks/bad-mode.conf" "$IT_CONF/networks/broken.conf"
cp "$GOOD/networks/web.conf" "$IT_CONF/networks/web.conf"
netd_start
expect_bridge web ck-web
expect_dnsmasq web
link_exists "$IT_HOST" ck-mode && fail "bridge ck-mode of the broken network exists"
line=$(grep -nx -m1 'Mode=bogus' "$IT_CONF/networks/broken.conf" | cut -d: -f1)
grep -qE "broken\\.conf:$line:" "$IT_NETD_LOG" ||
	fail "netd's log does not name broken.conf:$line (the bad Mode)"
ok "netd brought up the good network and logged broken.conf:$line"

[ "$errors" = 0 ] || fail "$errors problem(s) with netd --check's report on broken files (see FAIL lines above)"
