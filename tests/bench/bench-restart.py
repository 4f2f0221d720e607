#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Benchmark 4: restart adoption time.

With netd running in namespace NS (its pid in RUN_DIR/netd.pid): R times,
snapshot every link's ifindex and every dnsmasq's pid, SIGTERM netd, wait
for it to exit, start it again (`ip netns exec NS netd ...`) and time from
that exec to RUN_DIR/netd.pid holding the new pid (polled every 0.5 ms).
Then check that nothing was recreated: every link has the ifindex it had,
no link is new or missing, and every dnsmasq kept its pid.  Also records
the new netd's RSS and fd count.

Samples: RAW/b4-adopt-LABEL.txt (exec to ready), RAW/b4-exit-LABEL.txt
(SIGTERM to exit); facts in RAW/facts.tsv.
"""
import argparse
import glob
import json
import os
import signal
import subprocess
import sys
import time

import benchlib


def links(ns):
    out = subprocess.run(["ip", "-n", ns, "-j", "link", "show"], check=True,
                         capture_output=True, text=True).stdout
    return {l["ifname"]: l["ifindex"] for l in json.loads(out)}


def dnsmasq_pids(run_dir):
    pids = {}
    for p in glob.glob(os.path.join(run_dir, "dnsmasq", "*.pid")):
        try:
            with open(p) as f:
                pids[os.path.basename(p)] = f.read().strip()
        except OSError:
            pass
    return pids


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pidfile(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", required=True)
    ap.add_argument("--netd", required=True)
    ap.add_argument("--config-dir", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()

    pidfile = os.path.join(a.run_dir, "netd.pid")
    adopt, exits = [], []
    child = None
    for i in range(a.restarts):
        pid = int(read_pidfile(pidfile))
        before, dm_before = links(a.ns), dnsmasq_pids(a.run_dir)
        t = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        if child is not None:
            child.wait(timeout=a.timeout)
        while alive(pid):
            if time.monotonic() - t > a.timeout:
                sys.exit("netd (pid %d) did not exit after SIGTERM" % pid)
            time.sleep(0.0005)
        exits.append((time.monotonic() - t) * 1000)
        with open(a.log, "a") as log:
            log.write("==== bench-restart: start %d ====\n" % (i + 1))
            log.flush()
            t0 = time.monotonic()
            child = subprocess.Popen(["ip", "netns", "exec", a.ns, a.netd, "--config-dir", a.config_dir,
                                      "--state-dir", a.state_dir, "--run-dir", a.run_dir],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True)
        want = str(child.pid)
        while read_pidfile(pidfile) != want:
            if child.poll() is not None:
                sys.exit("netd exited (status %d) before it was ready" % child.returncode)
            if time.monotonic() - t0 > a.timeout:
                sys.exit("netd not ready after %.0f s" % a.timeout)
            time.sleep(0.0005)
        adopt.append((time.monotonic() - t0) * 1000)
        after, dm_after = links(a.ns), dnsmasq_pids(a.run_dir)
        changed = sum(1 for n, k in before.items() if after.get(n) != k)
        new = sum(1 for n in after if n not in before)
        dm_changed = sum(1 for n, p in dm_before.items() if dm_after.get(n) != p)
        rss, pss = benchlib.proc_mem(child.pid)
        fds = benchlib.fd_count(child.pid)
        print("restart %d: exit after SIGTERM %.1f ms, exec to ready %.1f ms; %d links: %d ifindexes "
              "changed or gone, %d new; %d dnsmasq: %d pids changed; netd RSS %d kB, PSS %d kB, %d fds"
              % (i + 1, exits[-1], adopt[-1], len(before), changed, new, len(dm_before), dm_changed,
                 rss, pss, fds), flush=True)
        benchlib.fact(a.raw, "b4.%s.restart%d.links" % (a.label, i + 1), len(before))
        benchlib.fact(a.raw, "b4.%s.restart%d.ifindex_changed" % (a.label, i + 1), changed)
        benchlib.fact(a.raw, "b4.%s.restart%d.links_new" % (a.label, i + 1), new)
        benchlib.fact(a.raw, "b4.%s.restart%d.dnsmasq" % (a.label, i + 1), len(dm_before))
        benchlib.fact(a.raw, "b4.%s.restart%d.dnsmasq_changed" % (a.label, i + 1), dm_changed)
        benchlib.fact(a.raw, "b5.%s.after_restart.netd_rss_kb" % a.label, rss)
        benchlib.fact(a.raw, "b5.%s.after_restart.netd_fds" % a.label, fds)
    print(benchlib.summary("netd SIGTERM to exit (%s)" % a.label, exits))
    print(benchlib.summary("netd exec to RUN_DIR/netd.pid (%s)" % a.label, adopt))
    benchlib.write_samples(a.raw, "b4-adopt-%s" % a.label, adopt)
    benchlib.write_samples(a.raw, "b4-exit-%s" % a.label, exits)


if __name__ == "__main__":
    main()
