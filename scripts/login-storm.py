#!/usr/bin/env python3
"""Log-in storms against a running bourse server, from outside, with the standard library.

  login-storm.py parallel BASE PID [N]   N log-ins at once (default 200), half for a real
                                          user with a wrong password and half for unknown
                                          users: answers by status, latency p50/p99/max,
                                          and the server's RSS before, at its peak, after.
  login-storm.py bursts BASE [BEARER]    240 log-ins in bursts of 6 (as a password guesser
                                          would), optionally each with
                                          `Authorization: Bearer BEARER`: 429s counted.

The server's own rate limit per IP should be raised for `parallel` (BOURSE__SERVER__RATE_PER_IP)
so that the hashing, not the limit, is what is measured.
"""

import json
import sys
import threading
import time
import urllib.error
import urllib.request


def log_in(base, user, password, bearer=None):
    body = json.dumps({"username": user, "password": password}).encode()
    req = urllib.request.Request(
        base + "/v1/sessions", data=body, method="POST",
        headers={"content-type": "application/json"})
    if bearer:
        req.add_header("authorization", "Bearer " + bearer)
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception:  # a refused or reset connection
        status = 0
    return status, time.monotonic() - t0


def register(base, user, password):
    body = json.dumps({"username": user, "password": password}).encode()
    req = urllib.request.Request(base + "/v1/users", data=body, method="POST",
                                 headers={"content-type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=60).read()
    except urllib.error.HTTPError as e:
        if e.code != 409:
            raise


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def parallel(base, pid, n):
    register(base, "storm-user", "storm-password-9431")
    before = rss_kib(pid)
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    results = []
    lock = threading.Lock()
    go = threading.Event()

    def one(i):
        user = "storm-user" if i % 2 == 0 else f"nobody-{i}"
        go.wait()
        r = log_in(base, user, f"wrong-guess-{i}")
        with lock:
            results.append(r)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    go.set()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    time.sleep(1.0)
    stop.set()
    sampler.join()
    after = rss_kib(pid)
    by = {}
    for s, _ in results:
        by[s] = by.get(s, 0) + 1
    answered = [d for s, d in results if s == 401]
    refused = [d for s, d in results if s == 503]
    print(json.dumps({
        "logins": n, "wall_s": round(wall, 2), "status": by,
        "rss_kib": {"before": before, "peak": peak[0], "after_1s": after},
        "checked_401_ms": {"p50": round(pct(answered, .5) * 1e3, 1),
                           "p99": round(pct(answered, .99) * 1e3, 1),
                           "max": round(max(answered, default=float("nan")) * 1e3, 1)},
        "refused_503_ms": {"p99": round(pct(refused, .99) * 1e3, 1)} if refused else None,
    }))


def bursts(base, bearer):
    limited = 0
    by = {}
    for b in range(40):
        out = []
        ts = [threading.Thread(target=lambda i=i: out.append(
            log_in(base, "storm-user", f"guess-{b}-{i}", bearer))) for i in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for s, _ in out:
            by[s] = by.get(s, 0) + 1
            limited += s == 429
    print(json.dumps({"logins": 240, "bearer": bool(bearer), "status": by, "limited_429": limited}))


if __name__ == "__main__":
    mode, base = sys.argv[1], sys.argv[2].rstrip("/")
    if mode == "parallel":
        parallel(base, int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 200)
    elif mode == "bursts":
        bursts(base, sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        sys.exit(__doc__)
