#!/usr/bin/env python3
"""Scaling series of `bracket`, measured through `bracket batch` (in-process times).

    python3 benches/scaling.py [--reps 5] [--quick] [--out docs/performance]

For every point of every series it runs one `bracket batch` process that answers a
warm-up query (so that the one-time rule loading is not counted) and then the point's
query `--reps` times, and records the median of the `elapsed_us` fields, the e-graph
sizes (nodes and classes: the largest over the point's derivatives, and their sum) and
why saturation stopped. A point whose first run takes longer than `--slow` seconds is
run once only, and a series stops after a point slower than `--give-up` seconds.

Per series it fits the exponent k of `time ~ c n^k` by least squares on log-log (over
all points, and over the upper half where constant overheads matter less), and writes:

- `<out>/examples.md`: every worked example of examples/ (its main calls: simplify,
  jacobian/grad, or backpropagation for a program), median in-process time, and the
  whole set as one `bracket batch` process (wall time);
- `<out>/scaling.md`: the table (also printed);
- `<out>/scaling.json`: every measurement;
- `<out>/<series>.svg`: log-log plots of time against n, with the fitted line.

Standard library only. The release binary is built with cargo if it is missing
(`$CARGO_TARGET_DIR/release/bracket`, else `target/release/bracket`; `$BRACKET_BIN`
overrides both).
"""

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------ the binary


def binary():
    """The release binary, built if missing."""
    if os.environ.get("BRACKET_BIN"):
        return os.environ["BRACKET_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    if not os.path.isabs(target):
        target = os.path.join(ROOT, target)
    path = os.path.join(target, "release", "bracket")
    if not os.path.exists(path):
        print(f"building {path} (cargo build --release) ...", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--bin", "bracket"], cwd=ROOT, check=True)
    return path


WARM_UP = {"command": "grad", "expr": "x^T A x", "wrt": ["x"]}
LAST_CPU = 0.0
LAST_PEAK_KB = 0


def run_batch(queries, timeout=3600):
    """Runs `bracket batch` on the queries; gives the answers (one dict per query) and
    the process's wall time in seconds."""
    text = "".join(json.dumps(q) + "\n" for q in queries)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(
        [binary(), "batch", "--threads", "1", "--timeout", str(timeout)],
        input=text.encode(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    global LAST_CPU, LAST_PEAK_KB
    LAST_CPU = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    LAST_PEAK_KB = after.ru_maxrss  # the largest child so far (Linux: KB)
    answers = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
    if p.returncode != 0 or len(answers) != len(queries):
        raise RuntimeError(f"bracket batch failed (exit {p.returncode}): {p.stderr.decode()[-500:]}")
    return answers, wall


# --------------------------------------------------------------------- series


def chain(n):
    xs = [f"X{i}" for i in range(1, n + 1)]
    return {"command": "grad", "expr": "a^T " + " ".join(xs) + " b", "wrt": xs}


def mlp_lines(layers):
    lines = ["N: scalar", "A1 = X W1 + 1 b1^T", "Z1 = tanh(A1)"]
    for l in range(2, layers + 1):
        lines += [f"A{l} = Z{l - 1} W{l} + 1 b{l}^T", f"Z{l} = tanh(A{l})"]
    lines.append(f"J = 1/(2N) (Z{layers} - Y) · (Z{layers} - Y)")
    params = [p for l in range(1, layers + 1) for p in (f"W{l}", f"b{l}")]
    return lines, params


def mlp(layers):
    """The program, answered by backpropagation (`bracket grad PROGRAM`)."""
    lines, params = mlp_lines(layers)
    return {"command": "grad", "expr": "\n".join(lines + ["grad J wrt " + ", ".join(params)])}


def mlp_direct(layers):
    """The same loss, each parameter's gradient directly (through the e-graph)."""
    lines, params = mlp_lines(layers)
    return {"command": "grad", "expr": "\n".join(lines + ["J"]), "wrt": params}


def rnn_lines(steps):
    lines = ["N: scalar"]
    for t in range(1, steps + 1):
        lines += [f"A{t} = Z{t - 1} W + X{t} U + 1 b^T", f"Z{t} = tanh(A{t})", f"O{t} = Z{t} V + 1 c^T"]
    lines.append("J = -1/N (" + " + ".join(f"ln(s^1(O{t})) · Y{t}" for t in range(1, steps + 1)) + ")")
    return lines, ["W", "U", "b", "V", "c"]


def rnn(steps):
    lines, params = rnn_lines(steps)
    return {"command": "grad", "expr": "\n".join(lines + ["grad J wrt " + ", ".join(params)])}


def rnn_direct(steps):
    lines, params = rnn_lines(steps)
    return {"command": "grad", "expr": "\n".join(lines + ["J"]), "wrt": params}


def quadratic_forms(k):
    return {"command": "grad", "expr": " + ".join(f"x^T A{i} x" for i in range(1, k + 1)), "wrt": ["x"]}


def sum_of_terms(k):
    return {"command": "grad", "expr": " + ".join(f"a{i}^T X X^T b{i}" for i in range(1, k + 1)), "wrt": ["X"]}


SERIES = [
    # name, what n is, generator, sizes, description
    ("chain", "n", chain, [2, 4, 8, 16, 32, 64], "aᵀX₁X₂…X_nb by every X_i (n gradients)"),
    ("mlp", "L", mlp, [1, 2, 4, 8, 16, 32], "L-layer tanh MLP program, backpropagation by every W_l, b_l"),
    ("rnn", "τ", rnn, [1, 2, 4, 8, 16, 32], "RNN unrolled τ steps, backpropagation by W, U, b, V, c"),
    ("quadratic_forms", "k", quadratic_forms, [1, 4, 16, 64, 256], "xᵀA₁x + … + xᵀA_kx by x"),
    ("sum_of_terms", "k", sum_of_terms, [16, 64, 256, 1024], "a₁ᵀXXᵀb₁ + … + a_kᵀXXᵀb_k by X (compared with its terms)"),
    ("mlp_direct", "L", mlp_direct, [1, 2, 4, 8, 16, 32], "the MLP loss, grad by every parameter directly (e-graph)"),
    ("rnn_direct", "τ", rnn_direct, [1, 2, 4, 8, 16, 32], "the RNN loss, grad by W, U, b, V, c directly (e-graph)"),
]


# ---------------------------------------------------------- worked examples


def is_declaration(line):
    names, colon, _ = line.partition(":")
    return bool(colon) and all(n.strip() and n.strip().replace("_", "").isalnum() for n in names.split(","))


def example_queries():
    """The main calls of every worked example in examples/ as batch queries: each
    expression of a notation example simplified (after its declarations), each
    `grad … wrt …` of a derivative example (`jacobian`, which gives the gradient of a
    scalar), and a program (definitions and a query) answered by backpropagation."""
    root = os.path.join(ROOT, "examples")
    out = []
    for section in sorted(os.listdir(root)):
        folder = os.path.join(root, section)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".txt"):
                continue
            lines = [l.strip() for l in open(os.path.join(folder, name)) if l.strip() and not l.startswith("#")]
            decls = [l for l in lines if is_declaration(l)]
            rest = [l for l in lines if not is_declaration(l)]
            queries = [l for l in rest if l.startswith("grad ")]
            defs = [l for l in rest if not l.startswith("grad ") and "=" in l.split("(")[0]]
            if queries and defs:
                qs = [{"command": "grad", "expr": "\n".join(lines)}]
            elif queries:
                qs = []
                for q in queries:
                    f, _, wrt = q[len("grad ") :].rpartition(" wrt ")
                    qs.append(
                        {
                            "command": "jacobian",
                            "expr": "\n".join(decls + [f]),
                            "wrt": [w.strip() for w in wrt.split(",")],
                        }
                    )
            else:
                qs = [{"command": "simplify", "expr": "\n".join(decls + [e])} for e in rest]
            out.append((f"{section}/{name[:-4]}", qs))
    return out


def measure_examples(reps):
    """Per-example in-process medians, and the whole set as one process (wall time)."""
    examples = example_queries()
    flat = [q for _, qs in examples for q in qs]
    rows = []
    answers, _ = run_batch([WARM_UP] + flat * reps)
    answers = answers[1:]
    at = 0
    for name, qs in examples:
        per_rep = []
        errors = []
        for r in range(reps):
            chunk = answers[r * len(flat) + at : r * len(flat) + at + len(qs)]
            per_rep.append(sum(a["elapsed_us"] for a in chunk))
            errors += [a["error"]["message"] for a in chunk if "error" in a]
        at += len(qs)
        first = answers[at - len(qs) : at]
        reports = []
        for a in first:
            items = a.get("derivatives") or a.get("equations") or [a]
            reports += [i["egraph"] for i in items if i.get("egraph")]
        rows.append(
            {
                "example": name,
                "queries": len(qs),
                "median_us": statistics.median(per_rep),
                "nodes_max": max((r["nodes"] for r in reports), default=None),
                "stops": sorted({r["stop"] for r in reports}),
                "errors": sorted(set(errors)),
            }
        )
    walls, cpus = [], []
    for _ in range(reps):
        _, wall = run_batch(flat)
        walls.append(wall)
        cpus.append(LAST_CPU)
    return {
        "rows": rows,
        "queries": len(flat),
        "runs": reps,
        "one_process_wall_s": statistics.median(walls),
        "one_process_cpu_s": statistics.median(cpus),
        "sum_in_process_us": sum(r["median_us"] for r in rows),
    }


def examples_markdown(ex):
    out = [
        "| example | queries | median in-process time | e-graph nodes (max) | stop reasons | errors |",
        "|---|---|---|---|---|---|",
    ]
    for r in ex["rows"]:
        out.append(
            f"| {r['example']} | {r['queries']} | {fmt_time(round(r['median_us']))} | {r['nodes_max'] or ''} "
            f"| {', '.join(r['stops'])} | {'; '.join(r['errors'])} |"
        )
    out.append(
        f"\nAll {len(ex['rows'])} examples ({ex['queries']} queries): {fmt_time(round(ex['sum_in_process_us']))} in-process "
        f"in total; as one `bracket batch` process (start-up, rule loading, every answer, JSON output): "
        f"**{ex['one_process_wall_s'] * 1e3:.0f} ms** wall time, {ex.get('one_process_cpu_s', 0) * 1e3:.0f} ms CPU "
        f"(user + system; medians of {ex.get('runs', 'the')} runs).\n"
    )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- measurement


def summarise(answer):
    """E-graph sizes and stop reasons of one answer."""
    if "error" in answer:
        return {"error": answer["error"].get("message")}
    items = answer.get("derivatives") or answer.get("equations") or []
    reports = [i["egraph"] for i in items if i.get("egraph")]
    stops = {}
    for r in reports:
        stops[r["stop"]] = stops.get(r["stop"], 0) + 1
    return {
        "answers": len(items),
        "egraph_runs": len(reports),
        "nodes_max": max((r["nodes"] for r in reports), default=None),
        "nodes_sum": sum(r["nodes"] for r in reports) if reports else None,
        "classes_max": max((r["classes"] for r in reports), default=None),
        "classes_sum": sum(r["classes"] for r in reports) if reports else None,
        "iterations_max": max((r["iterations"] for r in reports), default=None),
        "stops": stops,
        "limited": sum(1 for r in reports if r.get("limited")),
    }


def measure(query, reps, slow):
    """Median in-process time (µs) over reps runs, after a warm-up query."""
    answers, _ = run_batch([WARM_UP, query])
    first = answers[1]
    times = [first["elapsed_us"]]
    if "error" not in first and first["elapsed_us"] / 1e6 <= slow and reps > 1:
        more, _ = run_batch([WARM_UP] + [query] * (reps - 1))
        times += [a["elapsed_us"] for a in more[1:]]
    point = {"median_us": statistics.median(times), "runs": len(times), "times_us": times}
    point.update(summarise(first))
    return point


def fit(points):
    """Least-squares slope of log(time) on log(n)."""
    pts = [(math.log(n), math.log(t)) for n, t in points if t > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    k = sum((x - mx) * (y - my) for x, y in pts) / sxx
    return k, math.exp(my - k * mx)


# ------------------------------------------------------------------------ SVG


def nice_ticks(lo, hi):
    """Powers of ten (and 2, 5 times them when few) between lo and hi."""
    ticks = []
    e = math.floor(math.log10(lo))
    while 10**e <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10**e
            if lo / 1.0001 <= v <= hi * 1.0001:
                ticks.append(v)
        e += 1
    if len([t for t in ticks if math.log10(t).is_integer()]) >= 3:
        ticks = [t for t in ticks if math.log10(t).is_integer()]
    return ticks


def fmt_time(us):
    if us >= 1e6:
        return f"{us / 1e6:.3g} s"
    if us >= 1e3:
        return f"{us / 1e3:.3g} ms"
    return f"{us:.3g} µs"


def svg_plot(title, xlabel, points, fitted, path, limited=()):
    """A log-log plot of the points (n, µs) with the fitted power law; the n in
    `limited` (an e-graph limit cut the search) are drawn as open red circles."""
    w, h, ml, mr, mt, mb = 560, 360, 70, 20, 40, 50
    xs = [n for n, _ in points]
    ys = [t for _, t in points]
    x0, x1 = min(xs) / 1.3, max(xs) * 1.3
    y0, y1 = min(ys) / 2, max(ys) * 2
    lx0, lx1, ly0, ly1 = map(math.log10, (x0, x1, y0, y1))

    def px(x):
        return ml + (math.log10(x) - lx0) / (lx1 - lx0) * (w - ml - mr)

    def py(y):
        return h - mb - (math.log10(y) - ly0) / (ly1 - ly0) * (h - mt - mb)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="14">{esc(title)}</text>',
        f'<line x1="{ml}" y1="{h - mb}" x2="{w - mr}" y2="{h - mb}" stroke="black"/>',
        f'<line x1="{ml}" y1="{mt}" x2="{ml}" y2="{h - mb}" stroke="black"/>',
    ]
    for x in sorted(set(xs)):
        out.append(f'<line x1="{px(x):.1f}" y1="{h - mb}" x2="{px(x):.1f}" y2="{h - mb + 5}" stroke="black"/>')
        out.append(f'<text x="{px(x):.1f}" y="{h - mb + 18}" text-anchor="middle">{x}</text>')
    for y in nice_ticks(y0, y1):
        out.append(f'<line x1="{ml}" y1="{py(y):.1f}" x2="{w - mr}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{ml - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{fmt_time(y)}</text>')
    out.append(f'<text x="{(ml + w - mr) / 2}" y="{h - 12}" text-anchor="middle">{esc(xlabel)} (log scale)</text>')
    out.append(
        f'<text x="16" y="{(mt + h - mb) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(mt + h - mb) / 2})">median in-process time (log scale)</text>'
    )
    if fitted:
        k, c = fitted
        a, b = min(xs), max(xs)
        out.append(
            f'<line x1="{px(a):.1f}" y1="{py(c * a**k):.1f}" x2="{px(b):.1f}" y2="{py(c * b**k):.1f}" '
            'stroke="#d62728" stroke-dasharray="5,4"/>'
        )
        out.append(f'<text x="{ml + 10}" y="{mt + 14}" fill="#d62728">fit: time ∝ {esc(xlabel)}^{k:.2f}</text>')
    line = " ".join(f"{px(n):.1f},{py(t):.1f}" for n, t in points)
    out.append(f'<polyline points="{line}" fill="none" stroke="#1f77b4"/>')
    for n, t in points:
        style = 'fill="white" stroke="#d62728" stroke-width="2"' if n in limited else 'fill="#1f77b4"'
        out.append(f'<circle cx="{px(n):.1f}" cy="{py(t):.1f}" r="3.5" {style}><title>{n}: {fmt_time(t)}</title></circle>')
    if limited:
        out.append(f'<circle cx="{ml + 16}" cy="{mt + 30}" r="3.5" fill="white" stroke="#d62728" stroke-width="2"/>')
        out.append(f'<text x="{ml + 26}" y="{mt + 34}">an e-graph limit cut the search (time bounded by the limits)</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----------------------------------------------------------------------- main


def finish(name, var, desc, rows, sizes, out):
    """Fits, plot and summary of one series."""
    ok = [(r["n"], r["median_us"]) for r in rows if "error" not in r]
    limited = {r["n"] for r in rows if r.get("limited")}
    whole = fit(ok)
    free = fit([p for p in ok if p[0] not in limited])
    upper = fit([p for p in ok if p[0] >= statistics.median([n for n, _ in ok])]) if len(ok) >= 4 else None
    if ok:
        svg_plot(f"{name}: {desc}", var, ok, whole, os.path.join(out, f"{name}.svg"), limited)
    return {
        "var": var,
        "description": desc,
        "points": rows,
        "exponent": whole[0] if whole else None,
        "exponent_upper_half": upper[0] if upper else None,
        "exponent_unlimited": free[0] if free else None,
        "limited_points": sorted(limited),
        "complete": len(rows) == len(sizes) and all("error" not in r for r in rows),
    }


def replot(out):
    """Tables and plots again from `<out>/scaling.json`, without measuring."""
    with open(os.path.join(out, "scaling.json")) as f:
        results = json.load(f)
    for name, var, _, sizes, desc in SERIES:
        if name in results["series"]:
            results["series"][name] = finish(name, var, desc, results["series"][name]["points"], sizes, out)
    with open(os.path.join(out, "scaling.json"), "w") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
    if "examples" in results:
        with open(os.path.join(out, "examples.md"), "w") as f:
            f.write(examples_markdown(results["examples"]))
    with open(os.path.join(out, "scaling.md"), "w") as f:
        f.write(markdown(results))
    print(markdown(results))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5, help="runs per point (median), default 5")
    ap.add_argument("--slow", type=float, default=5.0, help="a point slower than this (s) runs once")
    ap.add_argument("--give-up", type=float, default=60.0, help="stop a series after a point slower than this (s)")
    ap.add_argument("--series", default="", help="comma-separated series to run, `examples` among them (default: all)")
    ap.add_argument("--quick", action="store_true", help="3 runs per point, smaller give-up (20 s)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "performance"))
    ap.add_argument("--replot", action="store_true", help="only redo the tables and plots from <out>/scaling.json")
    args = ap.parse_args()
    if args.replot:
        return replot(args.out)
    if args.quick:
        args.reps, args.give_up = 3, 20.0
    os.makedirs(args.out, exist_ok=True)
    wanted = [s for s in args.series.split(",") if s]
    results = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "binary": binary(),
        "reps": args.reps,
        "series": {},
    }
    if not wanted or "examples" in wanted:
        ex = measure_examples(args.reps)
        results["examples"] = ex
        table = examples_markdown(ex)
        with open(os.path.join(args.out, "examples.md"), "w") as f:
            f.write(table)
        print(table)
    for name, var, gen, sizes, desc in SERIES:
        if wanted and name not in wanted:
            continue
        rows = []
        for n in sizes:
            point = measure(gen(n), args.reps, args.slow)
            point["n"] = n
            rows.append(point)
            print(
                f"{name:16} {var}={n:<4} {fmt_time(point['median_us']):>10}  nodes≤{point.get('nodes_max')} "
                f"classes≤{point.get('classes_max')} stops={point.get('stops')} {point.get('error') or ''}",
                file=sys.stderr,
                flush=True,
            )
            if point["median_us"] / 1e6 > args.give_up:
                print(f"{name}: stopping the series after {var}={n}", file=sys.stderr)
                break
        results["series"][name] = finish(name, var, desc, rows, sizes, args.out)
    with open(os.path.join(args.out, "scaling.json"), "w") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
    table = markdown(results)
    with open(os.path.join(args.out, "scaling.md"), "w") as f:
        f.write(table)
    print(table)


def markdown(results, plots=""):
    """The tables; `plots` is the path from the Markdown file to the SVGs."""
    out = [
        "| series | n | median time | runs | answers | e-graph nodes (max / sum) | classes (max / sum) | stop reasons |",
        "|---|---|---|---|---|---|---|---|",
    ]
    fits = [
        "",
        "| series | what | fitted exponent (all points) | (upper half) | (points no limit cut) | limited points | plot |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in results["series"].items():
        for r in s["points"]:
            if "error" in r:
                out.append(f"| {name} | {s['var']}={r['n']} | error: {r['error']} | | | | | |")
                continue
            nodes = "no e-graph" if r["nodes_max"] is None else f"{r['nodes_max']} / {r['nodes_sum']}"
            classes = "" if r["classes_max"] is None else f"{r['classes_max']} / {r['classes_sum']}"
            stops = ", ".join(f"{k} ×{v}" for k, v in r["stops"].items()) or "n/a"
            out.append(
                f"| {name} | {s['var']}={r['n']} | {fmt_time(round(r['median_us']))} | {r['runs']} | {r['answers']} "
                f"| {nodes} | {classes} | {stops} |"
            )
        k = "n/a" if s["exponent"] is None else f"{s['exponent']:.2f}"
        ku = "n/a" if s["exponent_upper_half"] is None else f"{s['exponent_upper_half']:.2f}"
        done = "" if s["complete"] else " (not every point answered)"
        kf = "n/a" if s["exponent_unlimited"] is None else f"{s['exponent_unlimited']:.2f}"
        lim = ", ".join(str(n) for n in s["limited_points"]) or "none"
        fits.append(
            f"| {name} | {s['description']}{done} | {k} | {ku} | {kf} | {lim} | [{name}.svg]({plots}{name}.svg) |"
        )
    return "\n".join(out + fits) + "\n"


if __name__ == "__main__":
    main()
