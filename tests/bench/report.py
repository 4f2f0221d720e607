#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write REPORT.md and port-open.png from the raw results of run.sh.

Every number in the report is computed here from the sample files in RAW/
(one value per line; "INDEX VALUE" lines for curves) and RAW/facts.tsv, with
benchlib's median and p99 (nearest rank).  Ratios are medians divided by the
baseline's median measured in the same run.
"""
import argparse
import glob
import os
import re
import subprocess
import tempfile

import benchlib


def load(raw, name):
    p = os.path.join(raw, name + ".txt")
    return benchlib.read_samples(p) if os.path.exists(p) else None


def load_pairs(raw, name):
    p = os.path.join(raw, name + ".txt")
    out = []
    if os.path.exists(p):
        with open(p) as f:
            for line in f:
                x = line.split()
                if len(x) == 2:
                    out.append((int(x[0]), float(x[1])))
    return out


def facts(raw):
    d = {}
    p = os.path.join(raw, "facts.tsv")
    if os.path.exists(p):
        with open(p) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                d[k] = v
    return d


def fmt(x, unit="ms"):
    if x is None:
        return "-"
    if unit == "ms":
        return "%.3f" % x if x < 10 else "%.1f" % x
    return "%.2f" % x


class Table:
    def __init__(self, unit="ms", base_word="baseline"):
        self.unit = unit
        self.rows = []
        self.base_word = base_word

    def add(self, what, v, base=None, base_name=""):
        if not v:
            return
        ratio = ""
        if base:
            b = benchlib.median(base)
            ratio = "%.2f× %s" % (benchlib.median(v) / b, base_name) if b else ""
        self.rows.append("| %s | %d | %s | %s | %s |" % (what, len(v), fmt(benchlib.median(v), self.unit),
                                                        fmt(benchlib.p99(v), self.unit), ratio))

    def render(self):
        if not self.rows:
            return "(not measured in this run)\n"
        head = "| what | n | median (%s) | p99 (%s) | ratio of medians |\n|---|---|---|---|---|\n" % (
            self.unit, self.unit)
        return head + "\n".join(self.rows) + "\n"


def levels(raw):
    ls = set()
    for p in glob.glob(os.path.join(raw, "b1-open-P*-floor.txt")):
        ls.add(int(re.search(r"-P(\d+)-floor", p).group(1)))
    return sorted(ls)


def b1(raw, fa, out):
    out.append("## 1. port.open latency\n")
    out.append("Request written to the control socket until the TAP's fd is in hand (netd replies once "
               "the TAP is up on the bridge; every call is checked). *netd*: port.open without a MAC "
               "(QEMU bridge helper); *netd-mac*: with a fresh MAC, so the port is also guarded (one "
               "more nft batch). *floor*: the same syscalls in-process (`rtnl_tap_create` with netd's "
               "options: /dev/net/tun, TUNSETIFF with a name of its own, IPv6 off, one RTM_SETLINK with "
               "alias, group, MTU, master, up). "
               "*ip*: `ip tuntap add` + `ip link set … master … up` (two execs). The methods take "
               "turns within each round; each TAP is removed again, untimed, before the next. "
               "\"Ports on the host\" are persistent netd ports (with MACs, guarded) spread over "
               "fill networks of ≤1,000 ports (a bridge takes at most 1,024), none on the measured "
               "bridge.\n")
    for p in levels(raw):
        t = Table()
        base = load(raw, "b1-open-P%d-floor" % p)
        for m in ("netd", "netd-mac", "ip", "floor"):
            t.add("%s, %d ports on the host" % (m, p), load(raw, "b1-open-P%d-%s" % (p, m)),
                  base if m != "floor" else None, "floor")
        out.append("**%d ports on the host**\n\n%s" % (p, t.render()))
    curve = load_pairs(raw, "b1-create-curve")
    if curve:
        out.append("Populating the host (port.create with a MAC, one after the other): %s\n" % ", ".join(
            "%s ms to reach %s ports" % (fa.get("a.populate_to_%d.ms" % p, "?"), p) for p in levels(raw)))
        rows = []
        for lo, hi in ((0, 100), (900, 1000), (4900, 5000), (9900, 10000)):
            v = [ms for k, ms in curve if lo <= k < hi]
            if v:
                rows.append("| %d-%d | %d | %s | %s |" % (lo + 1, hi, len(v), fmt(benchlib.median(v)),
                                                       fmt(benchlib.p99(v))))
        out.append("port.create latency by how many ports already existed:\n\n| ports before | n | median (ms) "
                   "| p99 (ms) |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")


def b2(raw, fa, out):
    out.append("## 2. network start to DHCP answers\n")
    out.append("netd: `network.start` of an AutoStart=no network over the socket; then a veth of a guest "
               "namespace is enslaved to the new bridge and a raw DHCP client sends a DISCOVER every "
               "2 ms (so up to 2 ms of quantisation) until the first OFFER. *reply*: until netd's reply; "
               "*answer*: until the OFFER. Network #1 is started (and stopped, untimed) K times as the only "
               "running network; the last one is started K times with all the others running. "
               "*floor*: the same done directly in a namespace without netd: bridge (rtnetlink), "
               "address, one nft batch of table inet netd with this one network (netd's firewall "
               "library), dnsmasq's files and dnsmasq (netd's dhcp library), then the same probe; for "
               "the last network's floor, as many other bridges with addresses exist first, each with "
               "its dnsmasq running, as netd's other networks have.\n")
    idx = sorted(int(re.search(r"-N(\d+)\.txt$", p).group(1))
                 for p in glob.glob(os.path.join(raw, "b2-answer-netd-N*.txt")))
    t = Table()
    for i in idx:
        fl = "N1" if i == 1 else "N%d" % i
        bs, ba = load(raw, "b2-start-floor-" + fl), load(raw, "b2-answer-floor-" + fl)
        t.add("netd, network #%d: reply" % i, load(raw, "b2-start-netd-N%d" % i), bs, "floor")
        t.add("netd, network #%d: DHCP answer" % i, load(raw, "b2-answer-netd-N%d" % i), ba, "floor")
        t.add("floor, %d network(s): work done" % i, bs)
        t.add("floor, %d network(s): DHCP answer" % i, ba)
    out.append(t.render())
    curve = load_pairs(raw, "b2-curve")
    if curve:
        n = max(k for k, _ in curve)
        rows = []
        edges = [(1, 1), (2, 10), (11, 100), (101, 250), (251, 500), (501, 750), (751, n)]
        for lo, hi in edges:
            v = [ms for k, ms in curve if lo <= k <= hi]
            if v and lo <= n:
                rows.append("| %d-%d | %d | %s | %s |" % (lo, min(hi, n), len(v), fmt(benchlib.median(v)),
                                                       fmt(benchlib.p99(v))))
        out.append("\nnetwork.start reply latency by how many networks were already running (first start "
                   "of each network):\n\n| network # | n | median (ms) | p99 (ms) |\n|---|---|---|---|\n" +
                   "\n".join(rows) + "\n")
        out.append("Starting all %d networks took %s s (DHCP probes and their stop/start repeats "
                   "included); netd was ready with them "
                   "configured (none running) in %s ms.\n" % (n, "%.1f" % (float(fa["b.start_all_ms"]) / 1000)
                                                             if "b.start_all_ms" in fa else "?",
                                                             fa.get("b.netd_ready_configured_ms", "?")))


def b3(raw, fa, out):
    out.append("## 3. forwarding throughput (iperf3 through NAT)\n")
    out.append("A guest namespace on a bridge (veth) sends to an \"outside\" namespace behind the host's "
               "uplink veth, masqueraded (*up*: guest→outside; *down*: `-R`). *baseline*: a bridge, "
               "`ip_forward=1` and `nft -f` of a one-rule masquerade table, no netd. *netd*: netd's "
               "ruleset with 1 network running, and with all networks running (same guest, network #1); "
               "netd and the baseline take turns run by run (iperf3 server pinned to CPU 1, client to "
               "CPU 0), and each netd figure is compared with its own baseline's. "
               "Client, server and forwarding share the 2 cores, so this is noisy.\n")
    t = Table(unit="Gbit/s")
    labels = sorted({re.search(r"b3-iperf-(netd-.+)-(up|down)\.txt$", p).group(1)
                     for p in glob.glob(os.path.join(raw, "b3-iperf-netd-*.txt"))},
                    key=lambda s: (len(s), s))
    for d in ("up", "down"):
        for lab in labels:
            bl = iperf_baseline(raw, lab)
            base = load(raw, "b3-iperf-%s-%s" % (bl, d))
            t.add("%s, %s" % (lab, d), load(raw, "b3-iperf-%s-%s" % (lab, d)), base, bl)
            t.add("%s, %s" % (bl, d), base)
    out.append(t.render())
    out.append("\nWhat netfilter cost, measured apart from the noise of the throughput: more runs of each, "
               "under `perf record -a` (1999 Hz, kernel symbols), and the share of the busy CPU samples "
               "spent in nf_tables (rule evaluation, set lookups) and in all of netfilter (that, hooks, "
               "conntrack, NAT, br_netfilter: the baseline pays those too); `nfshare.py`. Forwarding is "
               "CPU bound here, so the throughput netd leaves is (100 - netfilter) / (100 - the "
               "baseline's netfilter) of the baseline's, other costs being equal: the *estimate* "
               "column. Shares of one run do not move with the speed the VM gets from its host.\n")
    rows = []
    for d in ("up", "down"):
        for lab in labels:
            est = nf_estimate(raw, lab, d)
            if not est:
                continue
            bl, n, nft, nf, bnft, bnf = est
            rows.append("| %s, %s | %d | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.1f%% |" % (
                lab, d, n, nft, nf, bnft, bnf, 100 * (100 - nf) / (100 - bnf)))
    if rows:
        out.append("| what | n | nf_tables | netfilter | baseline nf_tables | baseline netfilter | "
                   "estimate |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    else:
        out.append("(netfilter shares not measured in this run: perf missing)\n")


def nf_estimate(raw, lab, d):
    """Medians of the nf_tables and netfilter shares of netd run lab and of its baseline, in one
    direction; None if not measured."""
    bl = iperf_baseline(raw, lab)
    nft, nf = load(raw, "b3-nftshare-%s-%s" % (lab, d)), load(raw, "b3-nfshare-%s-%s" % (lab, d))
    bnft, bnf = load(raw, "b3-nftshare-%s-%s" % (bl, d)), load(raw, "b3-nfshare-%s-%s" % (bl, d))
    if not (nft and nf and bnft and bnf):
        return None
    m = benchlib.median
    return bl, min(len(nf), len(bnf)), m(nft), m(nf), m(bnft), m(bnf)


def iperf_baseline(raw, lab):
    """The baseline measured right after netd's run lab (baseline-1net after netd-1net), or the
    one of stage D alone."""
    bl = "baseline" + lab[len("netd"):]
    return bl if glob.glob(os.path.join(raw, "b3-iperf-%s-*.txt" % bl)) else "baseline"


def b4(raw, fa, out):
    out.append("## 4. restart adoption\n")
    out.append("SIGTERM netd, wait for it to exit, start it again; time from the exec (of `ip netns exec "
               "… netd`) to RUN_DIR/netd.pid naming the new pid (polled every 0.5 ms). Links and dnsmasq "
               "pids are compared before and after.\n")
    t = Table()
    for p in sorted(glob.glob(os.path.join(raw, "b4-adopt-*.txt"))):
        lab = os.path.basename(p)[len("b4-adopt-"):-4]
        t.add("exec → ready, %s" % lab, benchlib.read_samples(p))
        t.add("SIGTERM → exit, %s" % lab, load(raw, "b4-exit-" + lab))
    out.append(t.render())
    rows = [(k, v) for k, v in sorted(fa.items()) if k.startswith("b4.")]
    if rows:
        out.append("\n| check | value |\n|---|---|\n" + "\n".join("| %s | %s |" % kv for kv in rows) + "\n")
    if "b.populate_ms" in fa:
        out.append("Creating the ports for this (port.create, one after the other, with all networks "
                   "running) took %.1f s.\n" % (float(fa["b.populate_ms"]) / 1000))


def b5(raw, fa, out):
    out.append("## 5. memory and file descriptors\n")
    rows = []
    for k in sorted(fa):
        m = re.match(r"b5\.netd\.(.+)\.rss_kb$", k)
        if m:
            lab = m.group(1)
            rows.append("| netd, %s | %s | %s | %s |" % (lab, fa[k], fa.get("b5.netd.%s.pss_kb" % lab, ""),
                                                        fa.get("b5.netd.%s.fds" % lab, "")))
        m = re.match(r"b5\.(.+)\.after_restart\.netd_rss_kb$", k)
        if m:
            rows.append("| netd after adoption, %s | %s | | %s |" % (
                m.group(1), fa[k], fa.get("b5.%s.after_restart.netd_fds" % m.group(1), "")))
    out.append("| process | RSS (kB) | PSS (kB) | fds |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")
    rss, pss = load(raw, "b5-dnsmasq-rss-kb"), load(raw, "b5-dnsmasq-pss-kb")
    if rss:
        out.append("\ndnsmasq, one per network (%d processes): RSS median %.0f kB (sum %.1f MiB); PSS (shared "
                   "pages split between the processes) median %.0f kB, sum %.1f MiB.\n" % (
                       len(rss), benchlib.median(rss), sum(rss) / 1024, benchlib.median(pss or [0]),
                       sum(pss or [0]) / 1024))


def b6(raw, fa, out):
    out.append("## 6. event-loop responsiveness during deletions\n")
    out.append("One `status` request every 5 ms on its own connection, first on an idle netd, then while "
               "another connection has 1,000 `port.detach` requests in flight (written at once), or one "
               "`network.stop` of a network with 1,000 ports. A status request that waits is sent once "
               "the previous one is answered, so a stall shows as one long sample, and n is small.\n")
    t = Table()
    for lab in ("detach1000", "stop1000"):
        idle = load(raw, "b6-status-idle-" + lab)
        t.add("status, idle (before %s)" % lab, idle)
        t.add("status, during %s" % lab, load(raw, "b6-status-during-" + lab), idle, "idle")
    out.append(t.render())
    rows = [(k, v) for k, v in sorted(fa.items()) if k.startswith("b6.")]
    if rows:
        out.append("\n| fact | value |\n|---|---|\n" + "\n".join("| %s | %s |" % kv for kv in rows) + "\n")


def b7(raw, fa, out):
    out.append("## 7. new port to guest lease\n")
    out.append("A guest namespace's veth gets a fresh MAC, then `port.attach` (netd enslaves it, sets it up "
               "and guards it for that MAC); from the reply, busybox udhcpc starts in the guest (`-f -q`) "
               "and its script notes the time when bound. tcpdump on the bridge (kernel time stamps) gives "
               "the DHCP exchange on the wire.\n")
    t = Table()
    wire = load(raw, "b7-lease-wire")
    t.add("port up → guest holds lease", load(raw, "b7-lease-total"), wire, "wire")
    t.add("first DISCOVER → ACK on the wire", wire)
    t.add("port up → first DISCOVER (udhcpc start)", load(raw, "b7-lease-client-start"))
    t.add("ACK → lease held (udhcpc script)", load(raw, "b7-lease-client-end"))
    t.add("port.attach request → reply", load(raw, "b7-attach"))
    out.append(t.render())


def plot(raw, outdir):
    ls = levels(raw)
    if not ls:
        return None
    tmp = tempfile.mkdtemp(prefix="bench-plot-")
    methods = ("netd", "netd-mac", "floor", "ip")
    for m in methods:
        with open(os.path.join(tmp, m + ".dat"), "w") as f:
            for p in ls:
                v = load(raw, "b1-open-P%d-%s" % (p, m))
                if v:
                    f.write("%d %f %f\n" % (p, benchlib.median(v), benchlib.p99(v)))
    curve = load_pairs(raw, "b1-create-curve")
    with open(os.path.join(tmp, "create.dat"), "w") as f:
        bucket = {}
        for k, ms in curve:
            bucket.setdefault((k // 100) * 100 + 50, []).append(ms)
        for b in sorted(bucket):
            f.write("%d %f\n" % (b, benchlib.median(bucket[b])))
    png = os.path.join(outdir, "port-open.png")
    plots = ["'%s/%s.dat' using 1:2:2:3 with yerrorlines title '%s (median, bar up to p99)'" % (tmp, m, m)
             for m in methods]
    if curve:
        plots.append("'%s/create.dat' using 1:2 with lines dt 2 title 'netd port.create while populating "
                     "(median per 100)'" % tmp)
    script = """set terminal pngcairo size 1000,600
set output '%s'
set logscale x
set logscale y
set xlabel 'ports on the host'
set ylabel 'latency (ms)'
set title 'port.open: request to TAP fd in hand (up on the bridge)'
set key bottom right box opaque
set grid
set xrange [%f:%f]
plot %s
""" % (png, ls[0] / 2, ls[-1] * 2, ", ".join(plots))
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
    subprocess.run(["rm", "-rf", tmp])
    return png


def verdicts(raw, fa, out):
    """The issue's acceptance figures, each computed from this run's samples."""
    rows = []

    def med(name):
        v = load(raw, name)
        return benchlib.median(v) if v else None

    def row(what, figure, ok):
        rows.append("| %s | %s | %s |" % (what, figure, "—" if ok is None else ("yes" if ok else "**no**")))

    ls = levels(raw)
    for p in ls:
        n, f = med("b1-open-P%d-netd" % p), med("b1-open-P%d-floor" % p)
        if n and f:
            row("port.open median ≤ 1.5× the in-process floor, %d ports" % p,
                "%.3f / %.3f ms = %.2f×" % (n, f, n / f), n / f <= 1.5)
    if len(ls) > 1:
        lo, hi = med("b1-open-P%d-netd" % ls[0]), med("b1-open-P%d-netd" % ls[-1])
        if lo and hi:
            row("port.open at %d ports ≤ 1.3× its %d-port figure" % (ls[-1], ls[0]),
                "%.3f / %.3f ms = %.2f×" % (hi, lo, hi / lo), hi / lo <= 1.3)
    idx = sorted(int(re.search(r"-N(\d+)\.txt$", p).group(1))
                 for p in glob.glob(os.path.join(raw, "b2-answer-netd-N*.txt")))
    for i in idx:
        n, f = med("b2-answer-netd-N%d" % i), med("b2-answer-floor-N%d" % i)
        if n is not None and f is not None:
            row("network #%d: start to DHCP answer within 2 ms of the floor (same run)" % i,
                "%.1f ms, floor %.1f ms: %+.1f ms" % (n, f, n - f), n - f <= 2.0)
    if len(idx) > 1:
        a, b = med("b2-answer-netd-N%d" % idx[0]), med("b2-answer-netd-N%d" % idx[-1])
        fa1, fan = med("b2-answer-floor-N%d" % idx[0]), med("b2-answer-floor-N%d" % idx[-1])
        if a and b:
            fl = " (floor: %.2f×)" % (fan / fa1) if fa1 and fan else ""
            row("network #%d no slower than 1.3× network #%d" % (idx[-1], idx[0]),
                "%.1f / %.1f ms = %.2f×%s" % (b, a, b / a, fl), b / a <= 1.3)
    for d in ("up", "down"):
        for p in sorted(glob.glob(os.path.join(raw, "b3-iperf-netd-*-%s.txt" % d)), key=len):
            lab = re.search(r"b3-iperf-(netd-\d+nets?)-", p).group(1)
            bl = iperf_baseline(raw, lab)
            v, base = med("b3-iperf-%s-%s" % (lab, d)), med("b3-iperf-%s-%s" % (bl, d))
            if base and v:
                a, b = load(raw, "b3-iperf-%s-%s" % (lab, d)), load(raw, "b3-iperf-%s-%s" % (bl, d))
                pairs = [x / y for x, y in zip(a, b) if y]
                paired = (", run by run %.1f%% (median of %d)" % (100 * benchlib.median(pairs), len(pairs))
                          if pairs else "")
                spread = ", baseline runs %.1f-%.1f" % (min(b), max(b)) if b else ""
                row("iperf3 %s, %s, ≥ 97%% of the minimal ruleset (%s)" % (d, lab, bl),
                    "%.2f / %.2f Gbit/s = %.1f%%%s%s" % (v, base, 100 * v / base, paired, spread),
                    v / base >= 0.97)
            est = nf_estimate(raw, lab, d)
            if est:
                bl, n, nft, nf, bnft, bnf = est
                e = (100 - nf) / (100 - bnf)
                row("… the same from netfilter's CPU share (perf, %d runs each)" % n,
                    "netfilter %.2f%% (nf_tables %.2f%%) vs %.2f%%: %.1f%% of the baseline's throughput"
                    % (nf, nft, bnf, 100 * e), e >= 0.97)
    for p in sorted(glob.glob(os.path.join(raw, "b4-adopt-*.txt"))):
        lab = os.path.basename(p)[len("b4-adopt-"):-4]
        v = benchlib.read_samples(p)
        changed = sum(int(float(fa[k])) for k in fa if k.startswith("b4.%s." % lab) and
                      (k.endswith(".ifindex_changed") or k.endswith(".links_new") or
                       k.endswith(".dnsmasq_changed")))
        if v:
            m = benchlib.median(v)
            row("restart adoption < 2 s, nothing recreated, %s" % lab,
                "%.0f ms (max %.0f), %d links or dnsmasqs changed" % (m, max(v), changed),
                max(v) < 2000 and changed == 0)
    for k in sorted(fa):
        m = re.match(r"b5\.netd\.(ports\d+)\.rss_kb$", k)
        if m and m.group(1) == "ports%d" % (ls[-1] if ls else 0):
            kb = float(fa[k])
            row("netd RSS < 16 MB at %s" % m.group(1)[5:] + " ports", "%.1f MiB" % (kb / 1024),
                kb < 16 * 1024)
    v = med("b6-status-during-detach1000")
    if v is not None:
        row("status median < 5 ms while 1,000 ports are deleted", "%.2f ms" % v, v < 5)
    v = med("b7-lease-total")
    if v is not None:
        row("new guest holds a lease ≤ 150 ms after its port is up (median)", "%.0f ms" % v, v <= 150)
    out.append("## Summary: the figures the issue asks for\n\n| what | this run | holds |\n|---|---|---|\n" +
               "\n".join(rows) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    fa = facts(a.raw)
    out = ["# netd benchmarks\n"]
    with open(os.path.join(a.raw, "machine.txt")) as f:
        out.append("Machine and run:\n\n```\n" + f.read() + "total: %s s\n```\n" % fa.get("total_s", "?"))
    out.append("Statistics: n samples, median, p99 by nearest rank; ratios are medians over the baseline's "
               "median measured in the same run. Raw samples (ms, one per line) are in `raw/`; the "
               "console output of the run is `run.log`.\n")
    for f in (verdicts, b1, b2, b3, b4, b5, b6, b7):
        f(a.raw, fa, out)
    png = plot(a.raw, a.out)
    if png:
        out.append("## Plot\n\n![port.open latency against ports on the host](port-open.png)\n")
    with open(os.path.join(a.out, "REPORT.md"), "w") as f:
        f.write("\n".join(out))
    print("wrote %s%s" % (os.path.join(a.out, "REPORT.md"), " and " + png if png else ""))


if __name__ == "__main__":
    main()
