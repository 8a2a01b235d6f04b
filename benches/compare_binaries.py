#!/usr/bin/env python3
"""Two builds of `bracket` on the same queries, in one run: in-process medians and the
ratio new / old per query (the baseline measured alongside, as the performance notes
require).

    python3 benches/compare_binaries.py OLD_BINARY NEW_BINARY [--reps 7] [--rounds 2]

To build a baseline from an earlier commit:

    git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release)
    python3 benches/compare_binaries.py /tmp/old/target/release/bracket target/release/bracket

Each round runs every query `--reps` times through one `bracket batch` process per
binary (after a warm-up query, so rule loading is not counted), old then new, and
prints the medians of `elapsed_us`. Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scaling  # noqa: E402  (the series generators)

QUERIES = [
    ("5.2 xᵀAx", {"command": "grad", "expr": "x^T A x", "wrt": ["x"]}),
    ("5.4 aᵀXXᵀa", {"command": "grad", "expr": "a^T X X^T a", "wrt": ["X"]}),
    ("5.5 tr(AX⁻¹B)", {"command": "grad", "expr": "tr(A X^-1 B)", "wrt": ["X"]}),
    ("(Bx + b)ᵀC(Dx + d)", {"command": "grad", "expr": "(B x + b)^T C (D x + d)", "wrt": ["x"]}),
    ("‖Ax − b‖²", {"command": "grad", "expr": "||A x - b||^2", "wrt": ["x"]}),
    (
        "Gaussian by S",
        {
            "command": "grad",
            "expr": "S: symmetric(n); x, m: vector(n); -1/2 ln(det(S)) - 1/2 (x - m)^T S^-1 (x - m)",
            "wrt": ["S"],
        },
    ),
    ("det(X⁻ᵀ)", {"command": "grad", "expr": "det(X^-T)", "wrt": ["X"]}),
    ("sum(sqrt(1 + X ⊙ X))", {"command": "grad", "expr": "sum(sqrt(1 + X .* X))", "wrt": ["X"]}),
    ("6.3 softmax loss", {"command": "grad", "expr": "N: scalar; J = -1/N ln(s^1(A)) · Y; J", "wrt": ["A"]}),
    ("chain n = 16", scaling.chain(16)),
    ("MLP L = 8 (backprop)", scaling.mlp(8)),
    ("RNN τ = 8 (backprop)", scaling.rnn(8)),
]

WARM_UP = {"command": "grad", "expr": "x^T A x", "wrt": ["x"]}



def batch_command(binary):
    """`bracket batch` answering one query at a time (per-query times, not throughput),
    for builds that answer on several threads (`--threads`) and for those before."""
    help_text = subprocess.run([binary, "batch", "--help"], capture_output=True, text=True).stdout
    return [binary, "batch", "--threads", "1"] if "--threads" in help_text else [binary, "batch"]

def medians(binary, reps):
    lines = [json.dumps(WARM_UP)] + [json.dumps(q) for _, q in QUERIES for _ in range(reps)]
    run = subprocess.run(batch_command(binary), input="\n".join(lines) + "\n", capture_output=True, text=True)
    answers = [json.loads(line) for line in run.stdout.splitlines()[1:]]
    out = []
    for k in range(len(QUERIES)):
        times = [a.get("elapsed_us") for a in answers[k * reps : (k + 1) * reps]]
        out.append(statistics.median(times) if all(t is not None for t in times) else None)
    return out


def show(us):
    if us is None:
        return "error"
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    for r in range(args.rounds):
        old, new = medians(args.old, args.reps), medians(args.new, args.reps)
        print(f"round {r + 1}\n\n| query | old | new | new / old |\n|---|---|---|---|")
        for (name, _), o, n in zip(QUERIES, old, new):
            ratio = f"{n / o:.2f}" if o and n else "n/a"
            print(f"| {name} | {show(o)} | {show(n)} | {ratio} |")
        print()


if __name__ == "__main__":
    main()
