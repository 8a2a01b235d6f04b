#!/usr/bin/env python3
"""`bracket` side by side with SymPy on the same matrix derivatives.

    python3 benches/compare_sympy.py [--reps 7] [--out docs/performance]

The script makes its own virtual environment (`<target>/sympy-venv`, where `<target>`
is `$CARGO_TARGET_DIR` or `target/`), pip-installs the pinned SymPy and NumPy into it and
re-runs itself there. It builds the release binary with cargo if it is missing
(`$BRACKET_BIN` overrides the binary).

Cases: Matrix-Cookbook cases of tests/cookbook.rs that SymPy can express (traces,
determinants, inverses, scalar forms, norms, least-squares losses), and the worked
examples of examples/derivatives and examples/programs (those SymPy cannot express are
marked n/a and count as unsolved for SymPy).

For each case:
- SymPy: the expression is built from `MatrixSymbol`s (sizes n=3, m=4, k=2, p=5) and
  differentiated with `.diff(X)`, in-process; the time (build + diff, SymPy's cache
  cleared before each run) is the median over `--reps` runs. The answer is checked
  numerically: the expression and its derivative are lambdified to NumPy and the
  derivative is compared with central finite differences at a random point (relative
  error below 1e-5 counts as solved).
- bracket, in-process: the same query `--reps` times in one `bracket batch` process
  (after a warm-up query), median of `elapsed_us`. Solved means no error and bracket's own
  check (five-point differences at 3 random points, `"check": true`) below 1e-6; that
  check runs in a separate, untimed batch. Programs are timed as `bracket grad PROGRAM`
  (backpropagation) and checked through the direct gradient by every parameter.
- bracket, CLI: the wall time of one `bracket grad …` process (start-up, rule loading,
  the answer and printing), median over `--reps` runs.
- Simpler output: both tools print NumPy code (bracket's `numpy` rendering, SymPy's
  `NumPyPrinter`); the size is the number of nodes of its Python syntax tree (`ast`),
  counting a dotted module path such as `numpy.linalg.inv` and a size such as
  `X.shape[0]` as one node each, and not counting load contexts and operator tokens;
  summed over the derivatives of a case. Fewer nodes is simpler. SymPy's printer is
  taught `numpy.trace` and `numpy.linalg.det`, which it lacks.

Writes `<out>/sympy.md` (the table and the summary, also printed) and `<out>/sympy.json`.
"""

import argparse
import ast
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYMPY_VERSION = "1.14.0"
NUMPY_VERSION = "2.4.6"


def target_dir():
    t = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return t if os.path.isabs(t) else os.path.join(ROOT, t)


def ensure_venv():
    """Re-runs this script inside its own venv, with the pinned SymPy and NumPy."""
    venv = os.path.join(target_dir(), "sympy-venv")
    python = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        import numpy
        import sympy

        if sympy.__version__ != SYMPY_VERSION or numpy.__version__ != NUMPY_VERSION:
            sys.exit(f"{venv} has SymPy {sympy.__version__}, NumPy {numpy.__version__}; remove it and run again")
        return
    if not os.path.exists(python):
        print(f"creating {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run(
        [python, "-m", "pip", "install", "-q", f"sympy=={SYMPY_VERSION}", f"numpy=={NUMPY_VERSION}"], check=True
    )
    os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


def binary():
    if os.environ.get("BRACKET_BIN"):
        return os.environ["BRACKET_BIN"]
    path = os.path.join(target_dir(), "release", "bracket")
    if not os.path.exists(path):
        print(f"building {path} (cargo build --release) ...", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--bin", "bracket"], cwd=ROOT, check=True)
    return path


# ---------------------------------------------------------------------- cases
#
# (id, source, bracket declarations, bracket function, wrt, SymPy expression or None,
#  kind) with kind "grad", "jacobian" or "program". The SymPy expression is Python over
#  the declared names (λ is `lam`), MatrixSymbols of sizes n=3, m=4, k=2, p=5 (`2` is 2).

SQ = "A, B, C, X: matrix(n, n)"

COOKBOOK = [
    ("cb-99", "eq. 99", "X: matrix(n, n)", "tr(X)", "X", "Trace(X)"),
    ("cb-100", "eq. 100", "X: matrix(n, m); A: matrix(m, n)", "tr(X A)", "X", "Trace(X*A)"),
    ("cb-101", "eq. 101", "A: matrix(k, n); X: matrix(n, m); B: matrix(m, k)", "tr(A X B)", "X", "Trace(A*X*B)"),
    ("cb-102", "eq. 102", "A: matrix(k, m); X: matrix(n, m); B: matrix(n, k)", "tr(A X^T B)", "X", "Trace(A*X.T*B)"),
    ("cb-103", "eq. 103", "X, A: matrix(n, m)", "tr(X^T A)", "X", "Trace(X.T*A)"),
    ("cb-106", "eq. 106", "X: matrix(n, n)", "tr(X^2)", "X", "Trace(X**2)"),
    ("cb-107", "eq. 107", "X, B: matrix(n, n)", "tr(X^2 B)", "X", "Trace(X**2*B)"),
    ("cb-108", "eq. 108", "X: matrix(n, m); B: matrix(n, n)", "tr(X^T B X)", "X", "Trace(X.T*B*X)"),
    ("cb-111", "eq. 111", "X: matrix(n, m); B: matrix(m, m)", "tr(X B X^T)", "X", "Trace(X*B*X.T)"),
    ("cb-114", "eq. 114", SQ, "tr(A X B X)", "X", "Trace(A*X*B*X)"),
    ("cb-115", "eq. 115", "X: matrix(n, m)", "tr(X^T X)", "X", "Trace(X.T*X)"),
    (
        "cb-116",
        "eq. 116",
        "X: matrix(n, m); B: matrix(m, k); C: matrix(n, n)",
        "tr(B^T X^T C X B)",
        "X",
        "Trace(B.T*X.T*C*X*B)",
    ),
    (
        "cb-118",
        "eq. 118",
        "X: matrix(n, m); A: matrix(k, n); B: matrix(m, m); C: matrix(n, k)",
        "tr(A X B X^T C)",
        "X",
        "Trace(A*X*B*X.T*C)",
    ),
    (
        "cb-119",
        "eq. 119",
        "A: matrix(k, n); X: matrix(n, m); B: matrix(m, p); C: matrix(k, p)",
        "tr((A X B + C) (A X B + C)^T)",
        "X",
        "Trace((A*X*B + C)*(A*X*B + C).T)",
    ),
    ("cb-120", "eq. 120", "X: matrix(n, n)", "tr(X)^2", "X", "Trace(X)**2"),
    ("cb-121", "eq. 121, k = 3", "X: matrix(n, n)", "tr(X^3)", "X", "Trace(X**3)"),
    ("cb-122", "eq. 122, k = 3", SQ, "tr(A X^3)", "X", "Trace(A*X**3)"),
    (
        "cb-124",
        "eq. 124",
        "A: matrix(k, n); X: matrix(n, n); B: matrix(n, k)",
        "tr(A X^-1 B)",
        "X",
        "Trace(A*X.inv()*B)",
    ),
    ("cb-124i", "eq. 124 with A = B = I", "X: matrix(n, n)", "tr(X^-1)", "X", "Trace(X.inv())"),
    ("cb-121m3", "eq. 121 with k = −3", "X: matrix(n, n)", "tr(X^-3)", "X", "Trace(X**-3)"),
    ("cb-49", "eq. 49", "X: matrix(n, n)", "det(X)", "X", "Determinant(X)"),
    ("cb-51", "eq. 51", SQ, "det(A X B)", "X", "Determinant(A*X*B)"),
    ("cb-55", "eq. 55", "X: matrix(n, 2)", "ln(det(X^T X))", "X", "log(Determinant(X.T*X))"),
    ("cb-57", "eq. 57", "X: matrix(n, n)", "ln(abs(det(X)))", "X", "log(Abs(Determinant(X)))"),
    ("cb-61", "eq. 61", "X: matrix(n, n); a, b: vector(n)", "a^T X^-1 b", "X", "a.T*X.inv()*b"),
    ("cb-63", "eq. 63 with B = I", "X, A: matrix(n, n)", "tr(X^-1 A)", "X", "Trace(X.inv()*A)"),
    ("cb-64", "eq. 64", "X, A: matrix(n, n)", "tr((X + A)^-1)", "X", "Trace((X + A).inv())"),
    ("cb-81A", "eq. 81 and 61, by A", "A: matrix(n, n); x: vector(n)", "x^T A^-1 x", "A", "x.T*A.inv()*x"),
    (
        "cb-61S",
        "eq. 61: Mahalanobis distance by the covariance",
        "S: matrix(n, n); x, m: vector(n)",
        "(x - m)^T S^-1 (x - m)",
        "S",
        "(x - m).T*S.inv()*(x - m)",
    ),
    ("cb-69", "eq. 69", "x, a: vector(n)", "x^T a", "x", "x.T*a"),
    ("cb-70", "eq. 70", "a: vector(n); X: matrix(n, m); b: vector(m)", "a^T X b", "X", "a.T*X*b"),
    ("cb-71", "eq. 71", "a: vector(m); X: matrix(n, m); b: vector(n)", "a^T X^T b", "X", "a.T*X.T*b"),
    ("cb-72", "eq. 72", "a: vector(n); X: matrix(n, n)", "a^T X a", "X", "a.T*X*a"),
    ("cb-77", "eq. 77", "b, c: vector(m); X: matrix(n, m)", "b^T X^T X c", "X", "b.T*X.T*X*c"),
    (
        "cb-78",
        "eq. 78",
        "B: matrix(k, n); b: vector(k); C: matrix(k, p); D: matrix(p, n); d: vector(p); x: vector(n)",
        "(B x + b)^T C (D x + d)",
        "x",
        "(B*x + b).T*C*(D*x + d)",
    ),
    ("cb-81", "eq. 81", "B: matrix(n, n); x: vector(n)", "x^T B x", "x", "x.T*B*x"),
    (
        "cb-82",
        "eq. 82",
        "b, c: vector(m); X: matrix(n, m); D: matrix(n, n)",
        "b^T X^T D X c",
        "X",
        "b.T*X.T*D*X*c",
    ),
    (
        "cb-83",
        "eq. 83",
        "X: matrix(n, m); b: vector(m); c: vector(n); D: matrix(n, n)",
        "(X b + c)^T D (X b + c)",
        "X",
        "(X*b + c).T*D*(X*b + c)",
    ),
    ("cb-72A", "eq. 72, by A", "x: vector(n); A: matrix(n, n)", "x^T A x", "A", "x.T*A*x"),
    ("cb-xx", "§2.4.2: xᵀx", "x: vector(n)", "x^T x", "x", "x.T*x"),
    ("cb-cubic", "§2.4.3 cubic: (xᵀx)(aᵀx)", "x, a: vector(n)", "(x^T x) (a^T x)", "x", "(x.T*x)*(a.T*x)"),
    (
        "cb-242A",
        "§2.4.2, by A",
        "x: vector(m); b: vector(n); A: matrix(n, m)",
        "(A x + b)^T (A x + b)",
        "A",
        "(A*x + b).T*(A*x + b)",
    ),
    ("cb-131", "eq. 131", "x: vector(n)", "||x||^2", "x", "x.T*x"),
    ("cb-132", "eq. 132", "X: matrix(n, m)", "||X||^2", "X", "Trace(X.T*X)"),
    ("cb-129", "eq. 129", "x, a: vector(n)", "||x - a||", "x", "sqrt(Trace((x - a).T*(x - a)))"),
    (
        "cb-ls",
        "eq. 131 with eq. 78 (least squares)",
        "A: matrix(n, m); x: vector(m); b: vector(n)",
        "||A x - b||^2",
        "x",
        "(A*x - b).T*(A*x - b)",
    ),
    (
        "cb-ls-W",
        "eq. 132 with eq. 119, by W",
        "X: matrix(n, m); W: matrix(m, k); Y: matrix(n, k)",
        "||X W - Y||^2",
        "W",
        "Trace((X*W - Y).T*(X*W - Y))",
    ),
    (
        "cb-AXB",
        "eq. 119 with C = 0",
        "A: matrix(k, n); X: matrix(n, m); B: matrix(m, p)",
        "||A X B||^2",
        "X",
        "Trace((A*X*B).T*(A*X*B))",
    ),
    (
        "ml-ridge",
        "ridge regression",
        "X: matrix(n, m); w: vector(m); y: vector(n); λ: scalar",
        "||X w - y||^2 + λ w^T w",
        "w",
        "(X*w - y).T*(X*w - y) + lam*w.T*w",
    ),
    (
        "ml-mf",
        "matrix factorisation, by U",
        "X: matrix(n, m); U: matrix(n, k); V: matrix(m, k)",
        "||X - U V^T||^2",
        "U",
        "Trace((X - U*V.T).T*(X - U*V.T))",
    ),
    (
        "ml-gauss",
        "Gaussian log-likelihood, by the mean",
        "L: matrix(n, n); x, m: vector(n)",
        "S = L L^T + I; -1/2 ln(det(S)) - 1/2 (x - m)^T S^-1 (x - m)",
        "m",
        "-log(Determinant(L*L.T + Identity(3)))/2 - Trace((x - m).T*(L*L.T + Identity(3)).inv()*(x - m))/2",
    ),
]

# The worked examples: (file, id suffix, declarations, function, wrt, SymPy, kind); for
# undeclared names the SymPy sizes come from SHAPES.
EXAMPLES = [
    ("derivatives/4_1_elementwise", "", "f: elementwise", "sum(f(X))", "X", None, "grad"),
    ("derivatives/4_3_5_softmax", "", "", "softmax(a)", "a", None, "jacobian"),
    ("derivatives/4_4a_trace", "", "", "tr(X)", "X", "Trace(X)", "grad"),
    ("derivatives/4_4b_inverse", "", "", "X^-1", "X", "X.inv()", "jacobian"),
    ("derivatives/4_4c_determinant", "", "", "|X|", "X", "Determinant(X)", "grad"),
    ("derivatives/5_1_linear", "", "", "a^T x", "x", "a.T*x", "grad"),
    ("derivatives/5_2_quadratic", "", "", "x^T A x", "x", "x.T*A*x", "grad"),
    ("derivatives/5_3_bilinear", "", "", "a^T X b", "X", "a.T*X*b", "grad"),
    ("derivatives/5_4_quartic", "", "", "a^T X X^T a", "X", "a.T*X*X.T*a", "grad"),
    ("derivatives/5_5_trace_inverse", "", "", "tr(A X^-1 B)", "X", "Trace(A*X.inv()*B)", "grad"),
    ("derivatives/5_6_outer", "", "", "x x^T", "x", "x*x.T", "jacobian"),
    ("derivatives/6_1_single_layer", "", "", None, "W, b", None, "program"),
    (
        "derivatives/6_2_local_steps",
        " (1/2)",
        "P, Q: matrix(n, m)",
        "P · Q ⊙ (R S)",
        "R, S",
        "Trace(P.T*HadamardProduct(Q, R*S))",
        "grad",
    ),
    (
        "derivatives/6_2_local_steps",
        " (2/2)",
        "P, Q: matrix(n, m)",
        "P · Q ⊙ (1 d^T)",
        "d",
        "Trace(P.T*HadamardProduct(Q, OneMatrix(3, 1)*d.T))",
        "grad",
    ),
    ("derivatives/6_4_eq48", " (1/3)", "", "G · ((B .* D) W)", "D", "Trace(G.T*(HadamardProduct(B, D)*W))", "grad"),
    ("derivatives/6_4_eq48", " (2/3)", "", "A · (B D)", "D", "Trace(A.T*B*D)", "grad"),
    ("derivatives/6_4_eq48", " (3/3)", "", "A · (1 d^T)", "d", "Trace(A.T*OneMatrix(3, 1)*d.T)", "grad"),
    ("programs/6_2_two_layer_mlp", "", "", None, "", None, "program"),
    ("programs/6_3_softmax_classifier", "", "", None, "", None, "program"),
    ("programs/6_4_rnn_three_steps", "", "", None, "", None, "program"),
]

# SymPy sizes of undeclared names, per example (rows, cols).
SHAPES = {
    "derivatives/4_4a_trace": {"X": ("n", "n")},
    "derivatives/4_4b_inverse": {"X": ("n", "n")},
    "derivatives/4_4c_determinant": {"X": ("n", "n")},
    "derivatives/5_1_linear": {"a": ("n", 1), "x": ("n", 1)},
    "derivatives/5_2_quadratic": {"x": ("n", 1), "A": ("n", "n")},
    "derivatives/5_3_bilinear": {"a": ("n", 1), "X": ("n", "m"), "b": ("m", 1)},
    "derivatives/5_4_quartic": {"a": ("n", 1), "X": ("n", "m")},
    "derivatives/5_5_trace_inverse": {"A": ("k", "n"), "X": ("n", "n"), "B": ("n", "k")},
    "derivatives/5_6_outer": {"x": ("n", 1)},
    "derivatives/6_2_local_steps (1/2)": {"R": ("n", "k"), "S": ("k", "m")},
    "derivatives/6_2_local_steps (2/2)": {"d": ("m", 1)},
    "derivatives/6_4_eq48 (1/3)": {"G": ("n", "p"), "B": ("n", "m"), "D": ("n", "m"), "W": ("m", "p")},
    "derivatives/6_4_eq48 (2/3)": {"A": ("n", "m"), "B": ("n", "k"), "D": ("k", "m")},
    "derivatives/6_4_eq48 (3/3)": {"A": ("n", "m"), "d": ("m", 1)},
}

SIZES = {"n": 3, "m": 4, "k": 2, "p": 5}


def py_name(name):
    return "lam" if name == "λ" else name


def parse_decls(decls):
    """`X: matrix(n, m); a, b: vector(n); λ: scalar` → {name: (rows, cols) or 'scalar'}."""
    out = {}
    for part in decls.split(";"):
        part = part.strip()
        if not part or ":" not in part:
            continue
        names, kind = part.split(":", 1)
        kind = kind.strip()
        if kind.startswith("matrix(") or kind.startswith("symmetric("):
            dims = [d.strip() for d in kind[kind.index("(") + 1 : -1].split(",")]
            shape = (dims[0], dims[-1])
        elif kind.startswith("vector("):
            shape = (kind[7:-1].strip(), 1)
        elif kind == "scalar":
            shape = "scalar"
        else:
            continue
        for n in names.split(","):
            out[n.strip()] = shape
    return out


def size(d):
    return SIZES[d] if isinstance(d, str) and d in SIZES else int(d)


# --------------------------------------------------------------------- SymPy


def sympy_case(case, reps, rng):
    """Times SymPy on the case and checks its answer; gives a dict."""
    import numpy as np
    import sympy
    from sympy.core.cache import clear_cache
    shapes = dict(parse_decls(case["decls"]))
    shapes.update(case.get("shapes", {}))
    ns = {k: getattr(sympy, k) for k in ("Trace", "Determinant", "HadamardProduct", "OneMatrix", "Identity")}
    ns.update({"log": sympy.log, "sqrt": sympy.sqrt, "Abs": sympy.Abs})
    symbols = {}
    for name, shape in shapes.items():
        if shape == "scalar":
            symbols[py_name(name)] = sympy.Symbol(py_name(name))
        else:
            symbols[py_name(name)] = sympy.MatrixSymbol(py_name(name), size(shape[0]), size(shape[1]))
    ns.update(symbols)
    wrts = [py_name(w.strip()) for w in case["wrt"].split(",")]
    for w in wrts:
        if w not in symbols:
            return {"status": "n/a", "note": f"no size for {w}"}

    def run():
        f = eval(case["sympy"], dict(ns))
        return f, [f.diff(symbols[w]) for w in wrts]

    times = []
    result = None
    try:
        run()  # warm-up (imports, first-call set-up)
        for _ in range(reps):
            clear_cache()
            t = time.perf_counter()
            result = run()
            times.append(time.perf_counter() - t)
    except Exception as e:  # SymPy raises on what it cannot do
        return {"status": "error", "note": f"{type(e).__name__}: {str(e)[:80]}", "time_us": None}
    f, ds = result
    out = {"time_us": statistics.median(times) * 1e6, "answers": [str(d) for d in ds]}
    try:
        out["size"] = sum(numpy_size(printer().doprint(d)) for d in ds)
    except Exception as e:
        out["size"] = None
        out["note"] = f"cannot print: {type(e).__name__}"
    # Numeric check: lambdify, central differences at one random point.
    try:
        args = list(symbols.values())
        values = {}
        for name, s in symbols.items():
            if isinstance(s, sympy.MatrixSymbol):
                values[name] = rng.standard_normal((s.shape[0], s.shape[1]))
            else:
                values[name] = float(rng.standard_normal())
        fnum = sympy.lambdify(args, f, "numpy", printer=printer())
        worst = 0.0
        for w, d in zip(wrts, ds):
            if d.has(sympy.Derivative):
                out.update(status="unevaluated", note="SymPy left the derivative unevaluated")
                return out
            dnum = sympy.lambdify(args, d, "numpy", printer=printer())
            got = np.asarray(dnum(*[values[n] for n in symbols]), dtype=float)
            fd = finite_differences(fnum, symbols, values, w)
            worst = max(worst, compare(got, fd))
        out["error"] = worst
        out["status"] = "ok" if worst < 1e-5 else "wrong"
        if worst >= 1e-5:
            out["note"] = f"relative error {worst:.1e} against finite differences"
    except Exception as e:
        out["status"] = "unchecked"
        out["note"] = f"{type(e).__name__}: {str(e)[:80]}"
    return out


def printer():
    """SymPy's NumPy printer, taught the trace and the determinant of a matrix
    expression (SymPy 1.14's has neither; without them nothing with `Trace` evaluates)."""
    from sympy.printing.numpy import NumPyPrinter

    class Printer(NumPyPrinter):
        def _print_Trace(self, e):
            return f"numpy.trace({self._print(e.arg)})"

        def _print_Determinant(self, e):
            return f"numpy.linalg.det({self._print(e.arg)})"

    return Printer({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": True})


def finite_differences(fnum, symbols, values, w):
    """d f / d w entry by entry: shape f's shape + w's shape."""
    import numpy as np

    base = values[w]
    scalar = not isinstance(base, np.ndarray)
    x = np.atleast_1d(np.array(base, dtype=float))
    f0 = np.asarray(fnum(*[values[n] for n in symbols]), dtype=float)
    out = np.zeros(f0.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        h = 1e-6 * max(1.0, abs(x[idx]))
        vals = []
        for s in (1, -1):
            y = x.copy()
            y[idx] += s * h
            v = dict(values)
            v[w] = float(y[0]) if scalar else y
            vals.append(np.asarray(fnum(*[v[n] for n in symbols]), dtype=float))
        out[(Ellipsis,) + idx] = (vals[0] - vals[1]) / (2 * h)
    return out


def compare(got, fd):
    """Relative error of a derivative against differences (shape f + X); SymPy may put
    X's dims first for a Jacobian, and 1×1 results may be squeezed, so both orders are
    tried after squeezing."""
    import numpy as np

    fd_s, got_s = np.squeeze(fd), np.squeeze(got)
    scale = max(np.linalg.norm(fd_s), 1e-8)
    best = np.inf
    if got_s.shape == fd_s.shape:
        best = np.linalg.norm(got_s - fd_s) / scale
    # A Jacobian with X's dims first, then f's: move them to the back.
    if got.ndim == 4 and fd.ndim == 4:
        alt = np.transpose(got, (2, 3, 0, 1))
        if alt.shape == fd.shape:
            best = min(best, np.linalg.norm(alt - fd) / scale)
    return best


def numpy_size(code):
    """Nodes of the Python syntax tree of a NumPy expression, a dotted module path
    (`numpy.linalg.inv`, `np.outer`) counting as one, load contexts and operator tokens
    not counted."""
    tree = ast.parse(code.strip(), mode="eval")

    def dotted(node):
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id in ("np", "numpy")

    def count(node):
        if isinstance(node, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)):
            return 0
        if isinstance(node, ast.Attribute) and dotted(node):
            return 1
        # A size read off an array (`X.shape[0]`) is one leaf, like SymPy's literal `3`.
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
            return 1
        return 1 + sum(count(c) for c in ast.iter_child_nodes(node))

    return count(tree.body)


# ------------------------------------------------------------------- bracket


def bracket_text(case):
    return f"{case['decls']}; {case['f']}" if case["decls"] else case["f"]


def bracket_query(case, check=False):
    if case["kind"] == "program":
        if check:
            return {"command": "grad", "expr": case["direct"], "wrt": case["params"], "check": True}
        return {"command": "grad", "expr": case["program"]}
    wrt = [w.strip() for w in case["wrt"].split(",")]
    return {"command": case["kind"], "expr": bracket_text(case), "wrt": wrt, "check": check}


def bracket_cli(case):
    b = binary()
    if case["kind"] == "program":
        return [b, "grad", case["program"]]
    args = [b, case["kind"], bracket_text(case)]
    for w in case["wrt"].split(","):
        args += ["--wrt", w.strip()]
    return args


def run_batch(queries, timeout=3600):
    text = "".join(json.dumps(q) + "\n" for q in queries)
    p = subprocess.run(
        [binary(), "batch", "--threads", "1", "--timeout", str(timeout)], input=text.encode(), stdout=subprocess.PIPE, cwd=ROOT
    )
    answers = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
    if len(answers) != len(queries):
        raise RuntimeError(f"bracket batch gave {len(answers)} answers to {len(queries)} queries (exit {p.returncode})")
    return answers


def bracket_all(cases, reps):
    """In-process medians, checks, output sizes and CLI wall times for every case."""
    warm = {"command": "grad", "expr": "x^T A x", "wrt": ["x"]}
    timed = run_batch([warm] + [bracket_query(c) for c in cases for _ in range(reps)])[1:]
    checked = run_batch([bracket_query(c, check=True) for c in cases])
    results = []
    for i, c in enumerate(cases):
        answers = timed[i * reps : (i + 1) * reps]
        first = answers[0]
        r = {"time_us": statistics.median(a["elapsed_us"] for a in answers)}
        if "error" in first:
            r.update(status="error", note=first["error"].get("message", "")[:80])
        else:
            items = first.get("derivatives") or first.get("equations") or []
            if c["kind"] == "program":
                items = [i for i in items if i.get("parameter")]
            r["answers"] = [i["unicode"] for i in items]
            try:
                r["size"] = sum(numpy_size(i["numpy"]) for i in items)
            except SyntaxError:
                r["size"] = None
            limited = [i["egraph"]["stop"] for i in items if i.get("egraph") and i["egraph"].get("limited")]
            ck = checked[i]
            if "error" in ck:
                r.update(status="unchecked", note="check: " + ck["error"].get("message", "")[:70])
            else:
                errs = [d.get("check", {}).get("relative_error") for d in ck["derivatives"]]
                worst = max((e if e is not None else float("inf")) for e in errs)
                r["error"] = worst
                r["status"] = "ok" if worst < 1e-6 else "wrong"
                if worst >= 1e-6:
                    r["note"] = f"check: relative error {worst:.1e}"
            if limited:
                r["note"] = (r.get("note", "") + f" e-graph limit ({', '.join(sorted(set(limited)))})").strip()
        # The whole CLI process.
        walls = []
        for _ in range(reps):
            t = time.perf_counter()
            subprocess.run(bracket_cli(c), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
            walls.append(time.perf_counter() - t)
        r["cli_us"] = statistics.median(walls) * 1e6
        results.append(r)
    return results


# ---------------------------------------------------------------------- main


def load_cases():
    cases = []
    for cid, source, decls, f, wrt, sym in COOKBOOK:
        cases.append(
            {"id": cid, "source": "Cookbook " + source, "decls": decls, "f": f, "wrt": wrt, "sympy": sym, "kind": "grad"}
        )
    for path, suffix, decls, f, wrt, sym, kind in EXAMPLES:
        full = os.path.join(ROOT, "examples", path + ".txt")
        if not os.path.exists(full):
            print(f"warning: {full} is gone; skipping", file=sys.stderr)
            continue
        case = {"id": path.split("/")[1] + suffix, "source": "example " + path, "decls": decls, "f": f, "wrt": wrt}
        case.update(sympy=sym, kind=kind, shapes=SHAPES.get(path + suffix, {}))
        if kind == "program":
            text = "\n".join(line for line in open(full).read().splitlines() if not line.startswith("#"))
            query = [line for line in text.splitlines() if line.strip().startswith("grad ")][-1]
            params = [p.strip() for p in query.strip()[len("grad ") :].split(" wrt ", 1)[1].split(",")]
            loss = query.strip()[len("grad ") :].split(" wrt ", 1)[0].strip()
            case["program"] = text
            case["direct"] = text.replace(query, loss)
            case["params"] = params
            case["wrt"] = ", ".join(params)
        cases.append(case)
    return cases


def ratio_text(r):
    return f"{r:.2g}×" if r < 10 else f"{r:.0f}×"


def fmt_us(us):
    if us is None:
        return "–"
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.0f} µs"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=7, help="runs per case and tool (median), default 7")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "performance"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", default="", help="only the cases whose id starts with one of these (comma-separated)")
    args = ap.parse_args()
    ensure_venv()
    import numpy as np
    import sympy

    rng = np.random.default_rng(args.seed)
    cases = load_cases()
    if args.cases:
        cases = [c for c in cases if c["id"].startswith(tuple(args.cases.split(",")))]
    print(f"{len(cases)} cases; bracket {binary()}; SymPy {sympy.__version__}, NumPy {np.__version__}", file=sys.stderr)
    br = bracket_all(cases, args.reps)
    rows = []
    for c, b in zip(cases, br):
        s = sympy_case(c, args.reps, rng) if c["sympy"] else {"status": "n/a", "note": "SymPy cannot express it"}
        ratio = s["time_us"] / b["time_us"] if s.get("status") == "ok" and b.get("status") == "ok" else None
        if s.get("size") is not None and b.get("size") is not None and s["status"] == "ok" and b["status"] == "ok":
            simpler = "bracket" if b["size"] < s["size"] else "SymPy" if s["size"] < b["size"] else "same"
        else:
            simpler = "–"
        rows.append({"case": c, "sympy": s, "bracket": b, "ratio": ratio, "simpler": simpler})
        print(
            f"{c['id']:28} sympy {s['status']:9} {fmt_us(s.get('time_us')):>9}  bracket {b.get('status'):9} "
            f"{fmt_us(b['time_us']):>9}  cli {fmt_us(b['cli_us']):>9}  ratio {ratio and round(ratio)}  {simpler}",
            file=sys.stderr,
            flush=True,
        )
    report = markdown(rows, args, sympy.__version__, np.__version__)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "sympy.md"), "w") as f:
        f.write(report)
    with open(os.path.join(args.out, "sympy.json"), "w") as f:
        json.dump(
            {
                "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
                "sympy": sympy.__version__,
                "numpy": np.__version__,
                "reps": args.reps,
                "rows": [
                    {"id": r["case"]["id"], "source": r["case"]["source"], "sympy": r["sympy"], "bracket": r["bracket"],
                     "ratio": r["ratio"], "simpler": r["simpler"]}
                    for r in rows
                ],
            },
            f,
            indent=1,
            ensure_ascii=False,
            default=str,
        )
    print(report)


def markdown(rows, args, sympy_version, numpy_version):
    def cell(s):
        return str(s).replace("|", "\\|")

    out = [
        f"SymPy {sympy_version} (NumPy {numpy_version}), {args.reps} runs per case and tool, medians.",
        "",
        "| case | source | SymPy | SymPy time | bracket | bracket in-process | bracket CLI | SymPy / bracket | "
        "size SymPy / bracket | simpler | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, s, b = r["case"], r["sympy"], r["bracket"]
        ratio = ratio_text(r["ratio"]) if r["ratio"] else "–"
        sizes = f"{s.get('size', '–') if s.get('size') is not None else '–'} / {b.get('size') if b.get('size') is not None else '–'}"
        notes = "; ".join(x for x in (("SymPy: " + s["note"]) if s.get("note") else "", ("bracket: " + b["note"]) if b.get("note") else "") if x)
        out.append(
            f"| {cell(c['id'])} | {cell(c['source'])} | {s['status']} | {fmt_us(s.get('time_us'))} | {b.get('status')} "
            f"| {fmt_us(b['time_us'])} | {fmt_us(b['cli_us'])} | {ratio} | {sizes} | {r['simpler']} | {cell(notes)} |"
        )
    n = len(rows)
    s_ok = sum(1 for r in rows if r["sympy"]["status"] == "ok")
    b_ok = sum(1 for r in rows if r["bracket"].get("status") == "ok")
    both = [r for r in rows if r["ratio"]]
    ratios = [r["ratio"] for r in both]
    cli_ratios = [r["sympy"]["time_us"] / r["bracket"]["cli_us"] for r in both]
    simpler = {k: sum(1 for r in rows if r["simpler"] == k) for k in ("bracket", "SymPy", "same")}
    cookbook = [r for r in rows if r["case"]["id"].startswith(("cb-", "ml-"))]
    out += [
        "",
        f"**Summary.** {n} cases ({len(cookbook)} Cookbook-style, {n - len(cookbook)} from the worked examples). "
        f"Solved (answer checked numerically): bracket {b_ok}/{n}, SymPy {s_ok}/{n} "
        f"(Cookbook-style only: bracket {sum(1 for r in cookbook if r['bracket'].get('status') == 'ok')}/{len(cookbook)}, "
        f"SymPy {sum(1 for r in cookbook if r['sympy']['status'] == 'ok')}/{len(cookbook)}).",
        "",
        f"On the {len(both)} cases both solved: median time ratio SymPy / bracket in-process "
        f"**{ratio_text(statistics.median(ratios))}** (min {ratio_text(min(ratios))}, max {ratio_text(max(ratios))}); "
        f"bracket faster on {sum(1 for x in ratios if x > 1)}, at least 20× faster on {sum(1 for x in ratios if x >= 20)}, "
        f"at least 100× faster on {sum(1 for x in ratios if x >= 100)}."
        if ratios
        else "No case was solved by both.",
        "",
        f"SymPy in-process against a whole bracket CLI process (start-up included): median ratio "
        f"{ratio_text(statistics.median(cli_ratios))}." if cli_ratios else "",
        "",
        f"Simpler output (NumPy syntax-tree nodes) where both solved: bracket {simpler['bracket']}, "
        f"SymPy {simpler['SymPy']}, same size {simpler['same']}.",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    main()
