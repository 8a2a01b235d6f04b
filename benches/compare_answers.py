#!/usr/bin/env python3
"""Two builds of `bracket` on every query the tests hold: which answers changed, and the
in-process times, in one run.

    python3 benches/compare_answers.py OLD_BINARY NEW_BINARY [--runs 3] [--slowest 15]
    python3 benches/compare_answers.py --list          # the queries, as batch JSON lines
    python3 benches/compare_answers.py OLD NEW --queries benches/queries/survey10.jsonl [--only]

The queries are read from the test sources, so they grow with the tests:
tests/cookbook.rs (`case(…)`: gradients and Jacobians), tests/hessian.rs (each Hessian
case, as `hessian` and as `hvp` along `V`), tests/simplest.rs (the worked examples),
and every `grad(…)` or `hessian(…)` call with a literal text, or a `let` of one, in
tests/classic_answers.rs, programs.rs, derivatives.rs and hessian.rs.

Every query runs `--runs` times through one `bracket batch` process per binary; an
answer is each derivative's Unicode form with its conditions (or the error). It prints
each changed answer, old then new, the total and median of the medians, and the
slowest queries. A change of answer is for a person to judge: smaller, equal, larger.
Standard library only.
"""

import argparse
import json
import os
import re
import statistics
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
STRING = r'("(?:[^"\\]|\\.)*"|[A-Z_]+)'


def constants(text):
    """`const NAME: &str = "…";` of a test file."""
    return {
        m.group(1): json.loads(m.group(2))
        for m in re.finditer(r'const ([A-Z_]+): &str = ("(?:[^"\\]|\\.)*");', text)
    }


def value(token, consts):
    return json.loads(token) if token.startswith('"') else consts[token]


def read(name):
    with open(os.path.join(TESTS, name), encoding="utf-8") as f:
        return f.read()


def queries():
    out = []
    text = read("cookbook.rs")
    consts = constants(text)
    pattern = r"case\(\s*(\w+),\s*" + r",\s*".join([STRING] * 4)
    for m in re.finditer(pattern, text, re.DOTALL):
        family, _, decls, f, wrt = m.groups()
        decls, f, wrt = value(decls, consts), value(f, consts), value(wrt, consts)
        command = "jacobian" if family == "Jacobians" else "grad"
        out.append(
            {"command": command, "expr": f"{decls}; {f}" if decls else f, "wrt": [wrt]}
        )
    body = read("hessian.rs").split("const CASES")[1].split("];")[0]
    for decls, f, wrt in re.findall(r'\(\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)",', body):
        out.append({"command": "hessian", "expr": f"{decls}; {f}", "wrt": [wrt]})
        out.append(
            {"command": "hvp", "expr": f"{decls}; {f}", "wrt": [wrt], "dir": "V"}
        )
    text = read("simplest.rs")
    consts = constants(text)
    for m in re.finditer(r'case\("[^"]*",\s*' + STRING + r',\s*"([^"]*)"', text):
        out.append(
            {"command": "grad", "expr": value(m.group(1), consts), "wrt": [m.group(2)]}
        )
    call = r'\b(grad|hessian)\(\s*(?:"((?:[^"\\]|\\.)*)"|&?(\w+)),\s*&?\[?([^)\]]*)'
    for name in ["classic_answers.rs", "programs.rs", "derivatives.rs", "hessian.rs"]:
        # Rust's line continuations (`\` then the next line's indent) join the text.
        text = re.sub(r"\\\n\s*", "", read(name))
        lets = {
            m.group(1): m.group(2)
            for m in re.finditer(r'let (\w+) =\s*"((?:[^"\\]|\\.)*)";', text, re.DOTALL)
        }
        for m in re.finditer(call, text):
            source = m.group(2) if m.group(2) is not None else lets.get(m.group(3))
            wrt = re.findall(r'"([^"]*)"', m.group(4))
            if source and wrt:
                out.append(
                    {
                        "command": m.group(1),
                        "expr": re.sub(r"\s+", " ", source),
                        "wrt": wrt,
                    }
                )
    return out


def run(binary, qs, runs):
    """Per query: (answer, median µs)."""
    text = "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in qs * runs)
    lines = subprocess.run(
        [binary, "batch", "--threads", "1"],
        check=False,
        input=text,
        capture_output=True,
        text=True,
    ).stdout
    lines = lines.splitlines()
    if len(lines) != len(qs) * runs:
        raise SystemExit(
            f"{binary}: {len(lines)} answers for {len(qs) * runs} queries (did it crash?)"
        )
    out = []
    for k in range(len(qs)):
        rs = [json.loads(lines[k + r * len(qs)]) for r in range(runs)]
        first = rs[0]
        if "derivatives" in first:
            answer = " | ".join(
                d.get("unicode", "")
                + " {"
                + ", ".join(map(str, d.get("conditions", [])))
                + "}"
                for d in first["derivatives"]
            )
        else:
            answer = json.dumps(
                {k: v for k, v in first.items() if k != "elapsed_us"},
                ensure_ascii=False,
            )[:400]
        out.append((answer, statistics.median(r.get("elapsed_us", 0) for r in rs)))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("old", nargs="?")
    parser.add_argument("new", nargs="?")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slowest", type=int, default=15)
    parser.add_argument(
        "--list", action="store_true", help="print the queries and stop"
    )
    parser.add_argument(
        "--queries",
        action="append",
        default=[],
        metavar="FILE",
        help="also every query of FILE (batch JSON lines, such as benches/queries/*.jsonl)",
    )
    parser.add_argument(
        "--only", action="store_true", help="only the --queries files, not the tests' queries"
    )
    args = parser.parse_args()
    qs = [] if args.only else queries()
    for path in args.queries:
        with open(path, encoding="utf-8") as f:
            qs += [json.loads(line) for line in f if line.strip()]
    if args.list:
        for q in qs:
            print(json.dumps(q, ensure_ascii=False))
        return
    if not (args.old and args.new):
        parser.error("two binaries, or --list")
    old, new = run(args.old, qs, args.runs), run(args.new, qs, args.runs)
    changed = 0
    for q, (a, _), (b, _) in zip(qs, old, new):
        if a != b:
            changed += 1
            print("CHANGED", json.dumps(q, ensure_ascii=False))
            print("   old:", a)
            print("   new:", b)
    ta, tb = [t for _, t in old], [t for _, t in new]
    print(
        f"{changed} of {len(qs)} answers changed; total {sum(ta) / 1000:.1f} -> {sum(tb) / 1000:.1f} ms; "
        f"median {statistics.median(ta):.0f} -> {statistics.median(tb):.0f} µs"
    )
    print("\nslowest (old ms, new ms):")
    for q, a, b in sorted(zip(qs, ta, tb), key=lambda r: -max(r[1], r[2]))[
        : args.slowest
    ]:
        print(
            f"{a / 1000:8.2f} {b / 1000:8.2f}  {q['command']} {q['expr'][-70:]} by {', '.join(q['wrt'])}"
        )


if __name__ == "__main__":
    main()
