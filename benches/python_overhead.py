#!/usr/bin/env python3
"""The time of one `bracket.grad("x^T A x", "x")` from Python, next to the CLI's (one
process per call) and the Rust library's (in-process, through `bracket batch`).

    target/python-venv/bin/python benches/python_overhead.py [--reps 200]

Run with the virtual environment of scripts/setup.sh after scripts/python.sh has built
the package. Prints medians.
"""

import argparse
import json
import os
import statistics
import subprocess
import time

import bracket

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("BRACKET_BIN", os.path.join(ROOT, "target", "release", "bracket"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    bracket.grad("x^T A x", "x")
    py = []
    for _ in range(args.reps):
        t = time.perf_counter()
        bracket.grad("x^T A x", "x")
        py.append(time.perf_counter() - t)
    cli = []
    for _ in range(max(11, args.reps // 10)):
        t = time.perf_counter()
        subprocess.run([BINARY, "grad", "x^T A x", "--wrt", "x"], capture_output=True, check=True)
        cli.append(time.perf_counter() - t)
    query = json.dumps({"command": "grad", "expr": "x^T A x", "wrt": ["x"]})
    run = subprocess.run(
        [BINARY, "batch", "--threads", "1"], input="\n".join([query] * (args.reps + 1)) + "\n", capture_output=True, text=True
    )
    lib = [json.loads(line)["elapsed_us"] / 1e6 for line in run.stdout.splitlines()[1:]]
    print("| caller | median per call |\n|---|---|")
    print(f"| Python `bracket.grad` in a loop ({len(py)} calls) | {statistics.median(py) * 1e3:.3f} ms |")
    print(f"| CLI `bracket grad`, one process per call ({len(cli)} calls) | {statistics.median(cli) * 1e3:.3f} ms |")
    print(f"| Rust library in-process (`bracket batch`, {len(lib)} queries) | {statistics.median(lib) * 1e3:.3f} ms |")


if __name__ == "__main__":
    main()
