#!/usr/bin/env python3
"""A long order-entry run that watches the spawned server's memory from outside.

Runs `bourse bench orders --spawn ...` (every order with its own client order id) and, at
each of the bench's progress lines, reads the server's resident set size from /proc. Prints
one line per progress line and, at the end, the RSS when the orders sent first reached each
mark (default 1M, 5M, 10M). It also prints the allocator's own account from the server's
/metrics (jemalloc's allocated and resident bytes), so growth in RSS can be told apart from
growth in what the server holds.

    scripts/memory-run.py --bourse target/release/bourse --rate 50000 --orders 10000000 \
        [--marks 1000000,5000000,10000000] [--smaps] [-- extra bench flags]

With --smaps it also reads /proc/PID/smaps at each mark and prints, per mapping, its
size and resident part at every mark: which regions grow, and whether they grow only up
to their size (a pre-sized table being touched) or beyond it (something still growing).
"""

import argparse
import os
import re
import subprocess
import sys
import time
import urllib.request

PROGRESS = re.compile(r"^\s*([\d.]+)s\s+sent (\d+)")


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(d))
        except OSError:
            continue
    return out


def server_pid(bench_pid):
    for c in children(bench_pid):
        try:
            with open(f"/proc/{c}/cmdline", "rb") as f:
                if b"serve" in f.read().split(b"\0"):
                    return c
        except OSError:
            continue
    return None


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def listen_port(pid):
    """The TCP port the process listens on (the spawned server binds port 0)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:
                return int(cols[1].split(":")[1], 16)
    return None


def allocator_mib(port):
    """(allocated, resident) MiB from the server's /metrics, or NaNs."""
    got = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            for line in r.read().decode().splitlines():
                for k in ("allocated", "resident"):
                    if line.startswith(f"bourse_allocator_{k}_bytes "):
                        got[k] = float(line.split()[1]) / 2**20
    except (OSError, ValueError):
        pass
    return got.get("allocated", float("nan")), got.get("resident", float("nan"))


def smaps(pid):
    """Resident KiB per anonymous or heap mapping keyed by its start address: (size, rss)."""
    maps = {}
    key = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and not head[0].endswith(":"):
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                named = len(head) >= 6 and head[5] != "[heap]"
                key = None if named else head[0].split("-")[0]
                if key:
                    maps[key] = [(hi - lo) // 1024, 0]
            elif key and head[0] == "Rss:":
                maps[key][1] = int(head[1])
    return maps


def print_smaps(marks, taken):
    keys = set()
    for m in taken.values():
        keys.update(k for k, (size, rss) in m.items() if rss >= 4096)
    order = sorted(keys, key=lambda k: -max(taken[m].get(k, (0, 0))[1] for m in taken))
    print("mappings with >= 4 MiB resident (MiB: size, then resident at each mark):")
    print("  " + "start".ljust(14) + "size".rjust(8) + "".join(f"{m // 1000}k".rjust(9) for m in marks if m in taken))
    for k in order:
        size = max(taken[m].get(k, (0, 0))[0] for m in taken)
        cells = "".join(f"{taken[m].get(k, (0, 0))[1] / 1024:9.1f}" for m in marks if m in taken)
        print(f"  {k[-12:]:<14}{size / 1024:8.1f}{cells}")
    tot = "".join(f"{sum(r for _, r in taken[m].values()) / 1024:9.1f}" for m in marks if m in taken)
    print(f"  {'anon total':<14}{'':8}{tot}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bourse", default="target/release/bourse")
    ap.add_argument("--rate", type=int, default=50000)
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--marks", default="1000000,5000000,10000000")
    ap.add_argument("--smaps", action="store_true", help="per-mapping resident set at each mark")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    marks = [int(m) for m in a.marks.split(",")]
    duration = a.orders / a.rate
    cmd = [a.bourse, "bench", "orders", "--spawn", "--rate", str(a.rate),
           "--duration", f"{duration:.0f}", "--warmup", "0", *a.extra]
    print("running:", " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    spid = None
    port = None
    hit = {}
    taken = {}
    peak = 0.0
    for line in p.stderr:
        m = PROGRESS.match(line)
        if not m:
            if line.startswith("bench:") or "error" in line.lower():
                sys.stdout.write(line)
            continue
        if spid is None:
            spid = server_pid(p.pid)
        sent = int(m.group(2))
        try:
            rss = rss_mib(spid) if spid else float("nan")
        except OSError:
            rss = float("nan")
        peak = max(peak, rss)
        if spid and port is None:
            try:
                port = listen_port(spid)
            except OSError:
                pass
        alloc, resident = allocator_mib(port) if port else (float("nan"), float("nan"))
        print(f"t={m.group(1):>7}s sent={sent:>10} server_rss={rss:8.1f} MiB"
              f" allocated={alloc:8.1f} resident={resident:8.1f}", flush=True)
        for mark in marks:
            if mark not in hit and sent >= mark:
                hit[mark] = (sent, rss, alloc)
                if a.smaps and spid:
                    try:
                        taken[mark] = smaps(spid)
                    except OSError:
                        pass
    p.wait()
    print("summary:")
    for mark in marks:
        if mark in hit:
            sent, rss, alloc = hit[mark]
            print(f"  at {mark:>10} orders (sent {sent}): server RSS {rss:.1f} MiB,"
                  f" allocated {alloc:.1f} MiB")
        else:
            print(f"  {mark} orders not reached")
    print(f"  peak RSS {peak:.1f} MiB; bench exit {p.returncode}")
    if taken:
        print_smaps(marks, taken)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
