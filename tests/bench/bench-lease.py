#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Benchmark 7: from a new port coming up to its guest holding a lease.

The guest is namespace GUEST with eth0, whose veth peer VETH lives in the
host namespace HOST.  N times, with a fresh MAC on the guest's eth0 each
time: port.attach VETH to NETWORK (netd enslaves it, sets it up and guards
it for that MAC); from its reply ("port up"), busybox udhcpc runs in the
guest (-f -q: exits once bound) with a script whose first act on "bound" is
to write the wall-clock time ("lease held").  port.detach afterwards
(untimed).  tcpdump on the bridge records the DHCP exchange; from its
kernel time stamps, DISCOVER -> ACK of each MAC is the wire's share.

Samples (RAW/): b7-lease-total.txt (port up -> lease held), b7-lease-wire.txt
(first DISCOVER -> ACK), b7-lease-client-start.txt (port up -> first
DISCOVER), b7-lease-client-end.txt (ACK -> lease held), b7-attach.txt
(port.attach request -> reply).
"""
import argparse
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time

import benchlib

SCRIPT = """#!/bin/sh
# udhcpc event script of bench-lease.py: note when the lease is held.
case "$1" in
bound|renew)
	date +%s%N >"$BENCH_BOUND.tmp" && mv "$BENCH_BOUND.tmp" "$BENCH_BOUND"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	;;
esac
exit 0
"""


def sh(*cmd):
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)


def parse_pcap(path):
    """[(ts_ns, msgtype, chaddr)] of the DHCP packets in a pcap file."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xa1b2c3d4:
        scale = 1000
    elif magic == 0xa1b23c4d:
        scale = 1
    else:
        raise RuntimeError("%s: not a little-endian pcap file" % path)
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 14 + 20 + 8 + 240 or pkt[12:14] != b"\x08\x00" or pkt[14 + 9] != 17:
            continue
        ihl = (pkt[14] & 0xf) * 4
        d = pkt[14 + ihl + 8:]
        if len(d) < 240 or d[236:240] != b"\x63\x82\x53\x63":
            continue
        chaddr = d[28:34].hex(":")
        i, mtype = 240, None
        while i + 1 < len(d) and d[i] != 255:
            if d[i] == 0:
                i += 1
                continue
            if d[i] == 53:
                mtype = d[i + 2]
                break
            i += 2 + d[i + 1]
        out.append((sec * 1000000000 + frac * scale, mtype, chaddr))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--network", required=True)
    ap.add_argument("--bridge", required=True)
    ap.add_argument("--veth", required=True)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--udhcpc", default="udhcpc")
    ap.add_argument("--raw", required=True)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench-lease-")
    script = os.path.join(tmp, "udhcpc.sh")
    with open(script, "w") as f:
        f.write(SCRIPT)
    os.chmod(script, 0o755)
    os.chmod(tmp, 0o755)
    pcap = os.path.join(tmp, "dhcp.pcap")
    tcpdump = subprocess.Popen(["ip", "netns", "exec", a.host, "tcpdump", "-i", a.bridge, "-n", "-U",
                                "--immediate-mode",
                                "-s", "600", "--time-stamp-precision=nano", "-w", pcap,
                                "udp and (port 67 or port 68)"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    # tcpdump says "listening on" once its capture is open.
    line = tcpdump.stderr.readline().decode(errors="replace")
    if "listening" not in line:
        sys.exit("tcpdump did not start: %s" % line)

    n = benchlib.Netd(a.socket)
    rnd = random.Random(os.getpid())
    runs = []
    try:
        for i in range(a.iterations):
            mac = "52:54:cc:%02x:%02x:%02x" % (rnd.randrange(256), rnd.randrange(256), i & 0xff)
            bound = os.path.join(tmp, "bound-%d" % i)
            sh("ip", "-n", a.guest, "addr", "flush", "dev", "eth0")
            sh("ip", "-n", a.guest, "link", "set", "eth0", "down")
            sh("ip", "-n", a.guest, "link", "set", "eth0", "address", mac, "up")
            t0 = time.time_ns()
            n.call("port.attach", network=a.network, ifname=a.veth, mac=mac)
            t_up = time.time_ns()
            r = subprocess.run(["ip", "netns", "exec", a.guest, "env", "BENCH_BOUND=" + bound,
                                a.udhcpc, "-i", "eth0", "-f", "-q", "-n", "-t", "20", "-T", "1",
                                "-s", script], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode != 0 or not os.path.exists(bound):
                sys.exit("iteration %d: udhcpc got no lease (exit %d)" % (i, r.returncode))
            with open(bound) as f:
                t_bound = int(f.read())
            runs.append((mac, t0, t_up, t_bound))
            n.call("port.detach", ifname=a.veth)
    finally:
        time.sleep(0.5)
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)
        n.close()

    pkts = parse_pcap(pcap)
    total, wire, start, end, attach = [], [], [], [], []
    for mac, t0, t_up, t_bound in runs:
        disc = [t for t, m, c in pkts if c == mac and m == 1]
        ack = [t for t, m, c in pkts if c == mac and m == 5]
        if not disc or not ack:
            sys.exit("no DISCOVER or ACK captured for %s" % mac)
        total.append((t_bound - t_up) / 1e6)
        wire.append((ack[0] - disc[0]) / 1e6)
        start.append((disc[0] - t_up) / 1e6)
        end.append((t_bound - ack[0]) / 1e6)
        attach.append((t_up - t0) / 1e6)
    for name, v, label in (("b7-lease-total", total, "port up -> guest holds lease (udhcpc)"),
                           ("b7-lease-wire", wire, "first DISCOVER -> ACK on the wire"),
                           ("b7-lease-client-start", start, "port up -> first DISCOVER"),
                           ("b7-lease-client-end", end, "ACK -> lease held (udhcpc script)"),
                           ("b7-attach", attach, "port.attach request -> reply")):
        print(benchlib.summary(label, v))
        benchlib.write_samples(a.raw, name, v)
    w = benchlib.median(wire)
    print("port up -> lease / DISCOVER -> ACK: median ratio %.2f" % (benchlib.median(total) / w if w else 0))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
