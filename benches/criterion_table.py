#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench` run as a Markdown table.

    python3 benches/criterion_table.py [GROUP ...]

Reads criterion's results under `$CARGO_TARGET_DIR/criterion` (else `target/criterion`):
for each benchmark, `new/benchmark.json` (its name) and `new/estimates.json` (the median
and its 95% confidence interval). GROUP limits the table to those groups (`examples`,
`stages`, `chain`, `mlp`, `rnn`, `quadratic_forms`). Standard library only.
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fmt(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.3g} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.3g} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.3g} µs"
    return f"{ns:.3g} ns"


def main():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    base = os.path.join(target, "criterion")
    groups = sys.argv[1:]
    rows = []
    for dirpath, _, files in os.walk(base):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        if groups and bench["group_id"] not in groups:
            continue
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median = json.load(f)["median"]
        ci = median["confidence_interval"]
        name = bench.get("function_id") or ""
        if bench.get("value_str"):
            name = f"{name}/{bench['value_str']}" if name else bench["value_str"]
        rows.append((bench["group_id"], name, median["point_estimate"], ci["lower_bound"], ci["upper_bound"]))
    if not rows:
        sys.exit(f"no criterion results under {base}; run `cargo bench` first")
    print("| group | benchmark | median | 95% interval of the median |")
    print("|---|---|---|---|")
    for g, n, m, lo, hi in sorted(rows, key=lambda r: (r[0], natural(r[1]))):
        print(f"| {g} | {n} | {fmt(m)} | {fmt(lo)} – {fmt(hi)} |")


def natural(s):
    """Sort key with numbers compared as numbers (`chain/8` before `chain/16`)."""
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


if __name__ == "__main__":
    main()
