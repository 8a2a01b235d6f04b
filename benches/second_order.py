#!/usr/bin/env python3
"""Times every Hessian case of tests/hessian.rs in-process: each query runs through
`bracket batch --threads 1` several times and the median of its `elapsed_us` (time spent
inside the library, no process start) is reported, with the HVP of the same function.

    python3 benches/second_order.py [--binary target/release/bracket] [--reps 7]
"""

import argparse
import json
import re
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cases():
    """(declarations, function, variable) of each case in tests/hessian.rs's CASES."""
    text = (ROOT / "tests" / "hessian.rs").read_text()
    body = text.split("const CASES")[1].split("];")[0]
    found = re.findall(r'\(\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)",', body)
    # A Rust string's `\` at a line's end drops the line break and the next line's indent.
    return [tuple(re.sub(r"\\\n\s*", "", part) for part in case) for case in found]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "bracket"))
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    queries = []
    for decls, f, wrt in cases():
        expr = f"{decls}; {f}"
        queries.append({"command": "hessian", "expr": expr, "wrt": [wrt]})
        queries.append({"command": "hvp", "expr": expr, "wrt": [wrt], "dir": "V"})
    lines = "\n".join(json.dumps(q) for q in queries * args.reps) + "\n"
    out = subprocess.run(
        [args.binary, "batch", "--threads", "1"], input=lines, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    times = {}
    for k, line in enumerate(out):
        answer = json.loads(line)
        q = queries[k % len(queries)]
        times.setdefault((q["command"], q["expr"], q["wrt"][0]), []).append(answer.get("elapsed_us", 0))
    print(f"| command | function | by | median ms ({args.reps} runs) |")
    print("|---|---|---|---|")
    medians = []
    for (command, expr, wrt), ts in times.items():
        m = statistics.median(ts) / 1000
        medians.append((command, m))
        print(f"| {command} | `{expr.split('; ')[-1]}` | {wrt} | {m:.2f} |")
    for command in ("hessian", "hvp"):
        ms = [m for c, m in medians if c == command]
        print(f"\n{command}: {len(ms)} cases, median {statistics.median(ms):.2f} ms, max {max(ms):.2f} ms")


if __name__ == "__main__":
    main()
