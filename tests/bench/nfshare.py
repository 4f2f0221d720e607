#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Where a forwarding run spent the CPU: nf_tables and all of netfilter.

    nfshare.py PERF_DATA

Reads the samples of a `perf record -a` (kernel symbols) through
`perf report` and prints two percentages of the non-idle samples:

    NFT NETFILTER

NFT: nf_tables itself (rule evaluation, set lookups: nft_*, nf_tables_*).
NETFILTER: that plus the hooks, conntrack, NAT and br_netfilter (nf_*,
ipv4_conntrack_*, br_nf_*), which a minimal masquerade ruleset pays too.

iperf3 through a bridge and NAT is CPU bound on these machines, so the
throughput a ruleset leaves is (100 - NETFILTER) / (100 - NETFILTER of the
baseline) of the baseline's, other costs being equal; unlike the
throughput itself, shares measured within one run do not move with the
speed the VM gets from its host.
"""
import re
import subprocess
import sys

IDLE = re.compile(r"(safe_halt|default_idle|cpu_idle_poll|poll_idle|acpi_idle|mwait_idle|intel_idle)")
NFT = re.compile(r"^(nft_|nf_tables_|__nft_)")
NETFILTER = re.compile(r"^(nft_|nf_|__nft_|__nf_|ipv[46]_conntrack|ipv[46]_confirm|br_nf_)")
ROW = re.compile(r"\s*([\d.]+)%\s+\[[k.]\]\s+(\S+)")


def shares(path):
    out = subprocess.run(["perf", "report", "-i", path, "--sort", "sym", "--stdio", "-q",
                          "--percent-limit", "0"], capture_output=True, text=True, check=True).stdout
    idle = nft = nf = 0.0
    rows = 0
    for line in out.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        rows += 1
        pct, sym = float(m.group(1)), m.group(2)
        if IDLE.search(sym):
            idle += pct
        if NFT.match(sym):
            nft += pct
        if NETFILTER.match(sym):
            nf += pct
    busy = 100.0 - idle
    if rows == 0 or busy <= 0:
        raise SystemExit("nfshare: no samples in %s" % path)
    return 100.0 * nft / busy, 100.0 * nf / busy


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: nfshare.py PERF_DATA")
    nft, nf = shares(sys.argv[1])
    print("%.3f %.3f" % (nft, nf))


if __name__ == "__main__":
    main()
