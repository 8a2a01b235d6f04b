#!/usr/bin/env python3
"""`derive` against `grad` on the same queries, in one process: issue 16 asks that a
derivation cost at most 1.3x the gradient it ends at.

    python3 benches/derive_vs_grad.py [BINARY] [--reps 7]

Runs each `grad` query of benches/compare_binaries.py as `grad` and as `derive`
through one `bracket batch --threads 1` (after a warm-up query), and prints the
medians of `elapsed_us` and their ratio as a Markdown table. Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_binaries import QUERIES, WARM_UP  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", nargs="?", default="target/release/bracket")
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    # derive takes one variable: the chain (by all its factors) is left out.
    queries = [(name, q) for name, q in QUERIES if q.get("command") == "grad" and len(q.get("wrt", [])) <= 1]
    lines = [json.dumps(WARM_UP)]
    for _, q in queries:
        for command in ("grad", "derive"):
            lines += [json.dumps(dict(q, command=command))] * args.reps
    run = subprocess.run(
        [args.binary, "batch", "--threads", "1"], input="\n".join(lines) + "\n", capture_output=True, text=True
    )
    rows = [json.loads(line) for line in run.stdout.splitlines()[1:]]
    print("| query | grad | derive | derive / grad |\n|---|---|---|---|")
    k = 0
    for name, _ in queries:
        grad = statistics.median(r["elapsed_us"] for r in rows[k : k + args.reps])
        k += args.reps
        derive = statistics.median(r["elapsed_us"] for r in rows[k : k + args.reps])
        k += args.reps
        print(f"| {name} | {grad / 1000:.2f} ms | {derive / 1000:.2f} ms | {derive / grad:.2f} |")


if __name__ == "__main__":
    main()
