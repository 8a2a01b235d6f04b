#!/usr/bin/env python3
"""`bracket serve` under load on loopback: latency and throughput of POST /api/query.

    python3 benches/serve_load.py [--seconds 30] [--clients 4] [--slots 4]

Starts the release binary on a free loopback port, runs `--clients` threads that each
send queries one after another (a fixed mix: xᵀAx, ‖Ax − b‖², tr(AX⁻¹B), an MLP
program) until `--seconds` have passed, then stops the server. Every request goes to
127.0.0.1 only, and the loop ends by itself. Prints answered and refused counts, the
median and 95th-percentile latency, and answers per second. Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("BRACKET_BIN", os.path.join(ROOT, "target", "release", "bracket"))
MIX = [
    {"command": "grad", "expr": "x^T A x", "wrt": ["x"]},
    {"command": "grad", "expr": "||A x - b||^2", "wrt": ["x"]},
    {"command": "grad", "expr": "tr(A X^-1 B)", "wrt": ["X"]},
    {
        "command": "grad",
        "expr": "W: matrix(k, d); b: vector(k); x: vector(d); y: vector(k)\n"
        "z = tanh(W x + b)\nJ = 1/2 ||z - y||^2\ngrad J wrt W, b",
    },
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--slots", type=int, default=4)
    args = ap.parse_args()
    proc = subprocess.Popen(
        [BINARY, "serve", "--port", "0", "--slots", str(args.slots)], stdout=subprocess.PIPE, text=True
    )
    url = proc.stdout.readline().split()[2] + "api/query"
    bodies = [json.dumps(q).encode() for q in MIX]
    latencies, statuses, lock = [], {}, threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def client(k):
        i = k
        while time.perf_counter() < deadline:
            body = bodies[i % len(bodies)]
            i += 1
            start = time.perf_counter()
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as r:
                    r.read()
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            took = time.perf_counter() - start
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(took)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    proc.terminate()
    proc.wait(timeout=10)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    print(f"{args.clients} clients, {args.slots} slots, {elapsed:.1f} s: statuses {statuses}")
    print(f"latency median {statistics.median(latencies) * 1e3:.2f} ms, p95 {p95 * 1e3:.2f} ms")
    print(f"throughput {len(latencies) / elapsed:.0f} answers/s")


if __name__ == "__main__":
    main()
