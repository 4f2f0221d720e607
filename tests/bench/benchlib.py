# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared code of the Python benchmark drivers in tests/bench/.

Statistics use the same definitions as bench-util.c: the median (mean of the
two middle samples for an even count) and p99 by nearest rank.  Samples are
milliseconds, written one per line to RAW/NAME.txt.
"""
import json
import math
import os
import socket


def median(v):
    s = sorted(v)
    n = len(s)
    if not n:
        return 0.0
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def p99(v):
    s = sorted(v)
    if not s:
        return 0.0
    k = math.ceil(0.99 * len(s))
    return s[max(k, 1) - 1]


def summary(label, v, unit="ms"):
    if not v:
        return "%s: n=0" % label
    return "%s: n=%d median=%.3f %s p99=%.3f %s min=%.3f max=%.3f" % (
        label, len(v), median(v), unit, p99(v), unit, min(v), max(v))


def write_samples(raw, name, v):
    with open(os.path.join(raw, name + ".txt"), "w") as f:
        for x in v:
            f.write("%.6f\n" % x)


def read_samples(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.split()
            if line:
                out.append(float(line[-1]))
    return out


def fact(raw, key, value):
    """One measured fact for the report: RAW/facts.tsv gets KEY<TAB>VALUE."""
    with open(os.path.join(raw, "facts.tsv"), "a") as f:
        f.write("%s\t%s\n" % (key, value))


class Netd:
    """A minimal control-socket client (no fd passing)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""
        self.next_id = 1

    def call(self, op, **args):
        rid = self.next_id
        self.next_id += 1
        self.s.sendall((json.dumps({"id": rid, "op": op, "args": args}) + "\n").encode())
        while True:
            while b"\n" not in self.buf:
                chunk = self.s.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("netd closed the connection")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            if "event" in msg:
                continue
            if not msg.get("ok"):
                raise RuntimeError("%s: %s" % (op, msg.get("error")))
            return msg.get("result")

    def close(self):
        self.s.close()


def proc_mem(pid):
    """(RSS kB, PSS kB) of a process."""
    rss = pss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))
