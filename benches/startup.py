#!/usr/bin/env python3
"""One-shot process time of `bracket`, for one or two builds in the same run: the
median wall time of whole processes (start, rule loading, the query, exit) and, with
two builds, the ratio new / old.

    python3 benches/startup.py [OLD_BINARY] NEW_BINARY [--reps 41]

Each round runs every command once per binary, alternating, so that both see the same
machine state. `--version` is the floor: a process that loads no rules. Standard
library only.
"""

import argparse
import statistics
import subprocess
import time

COMMANDS = [
    ("--version", ["--version"]),
    ("grad xᵀAx", ["grad", "x^T A x", "--wrt", "x"]),
    ("simplify ABᵀ einsum", ["simplify", 'einsum("ij,kj->ik", A, B)']),
    ("grad ‖Ax − b‖²", ["grad", "||A x - b||^2", "--wrt", "x"]),
]


def wall(binary, args):
    start = time.perf_counter()
    subprocess.run([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--reps", type=int, default=41)
    args = parser.parse_args()
    times = {(b, name): [] for b in args.binaries for name, _ in COMMANDS}
    for _ in range(args.reps):
        for name, cmd in COMMANDS:
            for b in args.binaries:
                times[(b, name)].append(wall(b, cmd))
    header = "| command | " + " | ".join(f"median ms ({'old' if k == 0 and len(args.binaries) > 1 else 'new'})" for k in range(len(args.binaries)))
    if len(args.binaries) == 2:
        header += " | new / old |"
    else:
        header += " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, _ in COMMANDS:
        meds = [statistics.median(times[(b, name)]) * 1000 for b in args.binaries]
        row = f"| {name} | " + " | ".join(f"{m:.2f}" for m in meds)
        if len(meds) == 2:
            row += f" | {meds[1] / meds[0]:.2f}"
        print(row + " |")


if __name__ == "__main__":
    main()
