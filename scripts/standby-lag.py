#!/usr/bin/env python3
"""How far a hot standby trails its primary under order load.

Starts a primary (`bourse serve`, PostgreSQL journal in a fresh schema) and a standby
(`bourse serve --standby`) from the release build, offers `--rate` orders/s to the primary
with `bourse bench orders` over WebSocket for `--duration` seconds, and samples both every
100 ms: the primary's durable seq (`/healthz` journal.durable_seq) and the standby's applied
seq and lag. Prints the distribution (p50/p99/max) of the standby's lag in commands and in
milliseconds (its own `lag_ms`: age of the newest applied command while more were waiting),
and the bench's own report line.

    scripts/standby-lag.py [--rate 50000] [--duration 20]
"""
import argparse, json, os, subprocess, sys, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "bourse")
TOKEN = "standby-lag-operator"


def start(args, env):
    p = subprocess.Popen([BIN, "serve", *args], env=env, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    base = line.split(" on ", 1)[1].split()[0]
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, base


def health(base):
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # a standby answers 503
        return json.load(e)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=50000)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-standby", action="store_true",
                    help="the primary alone, for comparison in the same sitting")
    a = ap.parse_args()
    schema = f"bench_standby_{os.getpid()}"
    env = dict(os.environ,
               BOURSE__JOURNAL__BACKEND="postgres", BOURSE__JOURNAL__DATABASE_URL=a.url,
               BOURSE__JOURNAL__SCHEMA=schema, BOURSE__SERVER__LISTEN="127.0.0.1:0",
               BOURSE__SERVER__OPERATOR_TOKEN=TOKEN, BOURSE__LOG__LEVEL="warn",
               BOURSE__SERVER__RATE_PER_CREDENTIAL="1000000", BOURSE__SERVER__RATE_PER_IP="1000000")
    primary, pbase = start([], env)
    standby, sbase = (None, None) if a.no_standby else start(["--standby"], env)
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            ph = health(pbase)
            sh = health(sbase) if sbase else {}
            sb = sh.get("standby", {})
            samples.append((ph["journal"]["durable_seq"], sb.get("applied_seq", 0),
                            sb.get("lag_commands", 0), sb.get("lag_ms", 0)))
            time.sleep(0.1)

    t = threading.Thread(target=sample)
    t.start()
    bench = subprocess.run([BIN, "bench", "orders", "--url", pbase, "--operator-token", TOKEN,
                            "--rate", str(a.rate), "--duration", str(a.duration)],
                           env=env, capture_output=True, text=True)
    stop.set()
    t.join()
    # Catch-up after the load: how long until the standby holds everything.
    end = health(pbase)["journal"]["durable_seq"]
    t0 = time.time()
    while sbase and health(sbase)["standby"]["applied_seq"] < end and time.time() - t0 < 60:
        time.sleep(0.02)
    caught = time.time() - t0
    for p in (standby, primary):
        if p:
            p.terminate()
            p.wait()
    subprocess.run(["psql", a.url, "-qc", f"DROP SCHEMA IF EXISTS {schema} CASCADE"],
                   capture_output=True)
    print("\n".join(bench.stdout.strip().splitlines()[-8:]))
    if bench.returncode != 0:
        print(bench.stderr, file=sys.stderr)
    busy = [s for s in samples if s[0] > 0]
    lag_cmd = [max(0, d - ap_) for d, ap_, _, _ in busy]
    lag_ms = [s[3] for s in busy]
    print(f"samples={len(busy)} journal end={end}")
    if not sbase:
        return
    print(f"standby lag behind the primary's durable seq (commands): p50={pct(lag_cmd,50)} "
          f"p99={pct(lag_cmd,99)} max={max(lag_cmd, default=0)}")
    print(f"standby lag_ms (age of newest applied while behind): p50={pct(lag_ms,50)} "
          f"p99={pct(lag_ms,99)} max={max(lag_ms, default=0)}")
    print(f"standby caught up {caught*1000:.0f} ms after the load stopped")


if __name__ == "__main__":
    main()
