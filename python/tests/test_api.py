"""The Python package as a user calls it: every public function, every format, errors with
their place, conditions, checks, generated functions against finite differences, LaTeX
that KaTeX accepts, and time limits that hold."""

import inspect
import json
import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

import bracket

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MLP = """W1: matrix(h, d); b1: vector(h); W2: matrix(k, h); b2: vector(k); x: vector(d); y: vector(k)
z = W1 x + b1
a = tanh(z)
o = W2 a + b2
J = 1/2 ||o - y||^2
grad J wrt W1, b1, W2, b2"""


# ------------------------------------------------------------------------------ formats


def test_grad_gives_every_format():
    g = bracket.grad("x^T A x", "x")
    assert g.unicode == "(A + Aᵀ)x"
    assert g.ascii == "(A + A^T) x"
    assert g.latex == "\\left(A + A^{\\top}\\right) x"
    assert g.bracket == "A_1[Ā_2 x] + A_2[Ā_1 x]"
    assert g.numpy == "((A + A.T) @ x)"
    assert str(g) == g.unicode
    assert len(g.shape) == 1
    assert g.conditions == []
    assert "(A + Aᵀ)x" in repr(g)


def test_format_option_sets_str():
    assert str(bracket.grad("x^T A x", "x", format="ascii")) == "(A + A^T) x"
    assert str(bracket.grad("x^T A x", "x", format="latex")) == "\\left(A + A^{\\top}\\right) x"
    assert str(bracket.grad("x^T A x", "x", format="numpy")) == "((A + A.T) @ x)"
    with pytest.raises(bracket.BracketError) as e:
        bracket.grad("x^T A x", "x", format="html")
    assert e.value.code == "E-usage"


def test_shapes_are_dim_names():
    g = bracket.grad("X: matrix(n, m); a: vector(n); b: vector(m); a^T X b", "X")
    assert g.shape == ("n", "m")
    assert g.unicode == "abᵀ"
    assert bracket.simplify("x: vector(n); x^T x").shape == ()


def test_wrt_as_list_and_as_text():
    for wrt in (["W", "b"], "W, b"):
        g = bracket.grad("X: matrix(n, m); W: matrix(m, k); b: vector(k); Y: matrix(n, k); 1/2 ||X W + 1 b^T - Y||^2", wrt)
        assert len(g) == 2
        assert g["W"].unicode == "Xᵀ(XW + 1bᵀ − Y)"
        assert g["b"].unicode == "(XW − Y)ᵀ1 + nb"
        assert g.unicode.splitlines()[0].startswith("∇_W = ")
        assert [t.label for t in g] == ["∇_W", "∇_b"]


def test_numpy_form_evaluates_to_the_gradient():
    rng = np.random.default_rng(3)
    A, x = rng.normal(size=(4, 4)), rng.normal(size=4)
    g = bracket.grad("x^T A x", "x")
    value = eval(g.numpy, {"np": np, "A": A, "x": x})
    assert np.allclose(value, (A + A.T) @ x)


def test_simplify_d_and_sizes():
    assert str(bracket.simplify('einsum("ij,kj->ik", A, B)')) == "ABᵀ"
    assert str(bracket.d("x^T A x")) == "(A + Aᵀ)x · dx + xxᵀ · dA"
    # With sizes, the form with the fewest operations: (AB)x at n = 1000 is A(Bx).
    assert str(bracket.simplify("A, B: matrix(n, n); x: vector(n); (A B) x", sizes={"n": 1000})) == "A(Bx)"


def test_jacobian_hessian_and_hvp():
    assert str(bracket.jacobian("softmax(a)", "a")) == "diag(softmax(a)) − softmax(a)softmax(a)ᵀ"
    h = bracket.hessian("x^T A x", "x")
    assert str(h) == "A + Aᵀ"
    assert h[0].label == "∇²_x"
    blocks = bracket.hessian("w: vector(m); X: matrix(n, m); y: vector(n); ||X w - y||^2 + ||w||^2", ["w"])
    assert str(blocks) == "2(XᵀX + I)"
    assert str(bracket.hvp("x^T A x", "x", "v")) == "(A + Aᵀ)v"
    vec = bracket.hessian("X: matrix(n, n); tr(X^T X)", "X", layout="vec")
    assert "I" in vec.unicode


def test_backprop_gives_the_equations():
    b = bracket.backprop(MLP)
    assert [t.label for t in b][:3] == ["∇_{o}J", "∇_{a}J", "∇_{z}J"]
    assert b["W1"].unicode == "(∇_{z}J)xᵀ"
    assert b["o"].unicode == "o − y"
    # grad with no wrt is the same thing.
    assert bracket.grad(MLP).unicode == b.unicode
    # NumPy statements name each gradient and run.
    assert "grad_W1J = np.outer(grad_zJ, x)" in b.numpy


# ------------------------------------------------------------------------------ errors


def test_errors_carry_line_column_and_hint():
    with pytest.raises(bracket.BracketError) as e:
        bracket.grad("x: vector(n)\nx^T A x +", "x")
    err = e.value
    assert err.code == "E-syntax"
    assert (err.line, err.column) == (2, 10)
    assert err.hint
    text = str(err)
    assert "2 │ x^T A x +" in text and "^" in text and "hint" in text


def test_shape_and_name_errors():
    with pytest.raises(bracket.BracketError) as e:
        bracket.grad("X^-1 x", "x")
    assert e.value.code == "E-shape"
    assert "jacobian" in e.value.hint
    with pytest.raises(bracket.BracketError) as e:
        bracket.grad("x^T A x", "y")
    assert e.value.code in ("E-unknown", "E-usage")
    with pytest.raises(TypeError):
        bracket.grad(42, "x")


# ------------------------------------------------------------------------------ conditions and checks


def test_conditions():
    g = bracket.grad("ln(det(X))", "X")
    assert g.unicode == "X⁻ᵀ"
    assert g.conditions == ["X is invertible"]


@pytest.mark.parametrize(
    "expr, wrt",
    [
        ("x^T A x", "x"),
        ("||A x - b||^2", "x"),
        ("ln(det(X))", "X"),
        ("tr(A X^-1 B)", "X"),
        ("N: scalar; -1/N ln(s^1(A)) · Y", "A"),
    ],
)
def test_check_verifies(expr, wrt):
    c = bracket.grad(expr, wrt).check()
    assert c.verdict == "verified", c
    assert c and c.ok
    assert c.relative_error < 1e-6


def test_check_of_programs_and_hessians():
    assert bracket.backprop(MLP).check().ok
    assert bracket.hessian("x^T A x", "x").check().ok
    with pytest.raises(bracket.BracketError):
        bracket.simplify("A B").check()


# ------------------------------------------------------------------------------ generated functions


def finite_difference_check(f, args, wrt_names, h=1e-5, seed=0):
    """The gradients of `f(*args)` along random directions against central differences;
    returns the worst relative error."""
    rng = np.random.default_rng(seed)
    names = list(inspect.signature(f).parameters)
    value, grads = f(*args)
    worst = 0.0
    for w in wrt_names:
        k = names.index(w)
        v = rng.normal(size=np.shape(args[k]))
        plus = list(args)
        minus = list(args)
        plus[k] = args[k] + h * v
        minus[k] = args[k] - h * v
        numeric = (f(*plus)[0] - f(*minus)[0]) / (2 * h)
        exact = np.sum(grads[w] * v)
        worst = max(worst, abs(numeric - exact) / max(1.0, abs(exact)))
    return worst


def test_function_matches_finite_differences():
    rng = np.random.default_rng(1)
    f = bracket.grad("||A x - b||^2", "x").function()
    assert list(inspect.signature(f).parameters) == ["A", "x", "b"]
    A, x, b = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5)
    assert finite_difference_check(f, [A, x, b], ["x"]) < 1e-6
    value, grads = f(A, x, b)
    assert np.isclose(value, np.sum((A @ x - b) ** 2))

    f = bracket.grad("tr(A X^-1 B)", "X").function()
    args = {"A": rng.normal(size=(2, 4)), "X": rng.normal(size=(4, 4)) + 4 * np.eye(4), "B": rng.normal(size=(4, 2))}
    ordered = [args[n] for n in inspect.signature(f).parameters]
    assert finite_difference_check(f, ordered, ["X"]) < 1e-6


def test_function_of_a_program():
    f = bracket.backprop(MLP).function()
    data = f.generate_random_data(3)
    args = [data[n] for n in inspect.signature(f).parameters]
    assert finite_difference_check(f, args, ["W1", "b1", "W2", "b2"]) < 1e-6
    f.check_gradient()
    assert "def f_and_grad" in f.source


def test_function_that_is_wrong_is_caught():
    # The check above can fail: a gradient scaled by 1.001 is off by 1e-3.
    f = bracket.grad("x^T A x", "x").function()

    def wrong(A_or_x, *rest):
        value, grads = f(A_or_x, *rest)
        return value, {k: 1.001 * g for k, g in grads.items()}

    wrong.__signature__ = inspect.signature(f)
    rng = np.random.default_rng(2)
    args = [rng.normal(size=(3,)) if n == "x" else rng.normal(size=(3, 3)) for n in inspect.signature(f).parameters]
    assert finite_difference_check(wrong, args, ["x"]) > 1e-5


def test_jax_function_when_jax_is_there():
    jax = pytest.importorskip("jax")
    f = bracket.grad("||A x - b||^2", "x").function(target="jax")
    rng = np.random.default_rng(4)
    A, x, b = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5)
    value, grads = jax.jit(f)(A, x, b)
    assert np.allclose(np.asarray(grads["x"]), 2 * A.T @ (A @ x - b))


def test_source_is_a_module():
    src = bracket.grad("x^T A x", "x").source(with_check=True)
    compile(src, "generated.py", "exec")
    assert "def check_gradient" in src
    least_squares = bracket.grad("||A^-1 b - x||^2", "x")
    assert "np.linalg.solve(A, b)" in least_squares.source()
    assert "np.linalg.inv(A)" in least_squares.source(solve=False)


# ------------------------------------------------------------------------------ derivations


def test_derive_iterates_over_steps():
    dv = bracket.derive("x^T A x", "x")
    whys = [s.why for s in dv]
    assert whys[0] == "product and chain rules"
    assert "in bracket notation" in whys
    assert dv[-1].unicode == "(A + Aᵀ)x · dx"
    assert dv.result.unicode == "(A + Aᵀ)x"
    latex = dv._repr_latex_()
    assert latex.startswith("$$\\begin{align*}") and latex.endswith("\\end{align*}$$")
    assert len(dv) == latex.count("&=")


def test_derive_a_program_and_second_order():
    parts = bracket.derive(MLP).parts
    assert [p.wrt for p in parts][:3] == ["o", "a", "z"]
    two = bracket.derive("x^T A x", "x", order=2)
    assert [p.label for p in two.parts] == ["∇_x", "∇²_x"]
    assert two.parts[1].steps[-1].unicode.startswith("(A + Aᵀ)")


# ------------------------------------------------------------------------------ rendering


def katex_errors(latex_strings):
    """KaTeX's verdict on each string (the project's renderer check, tests/latex/check.js):
    None where it renders."""
    katex = os.path.join(ROOT, "tests", "latex")
    if shutil.which("node") is None or not os.path.isdir(os.path.join(katex, "node_modules", "katex")):
        if os.environ.get("CI"):
            pytest.fail("CI must provide node and KaTeX (scripts/setup.sh installs them)")
        pytest.skip("KaTeX is not installed (run scripts/setup.sh)")
    run = subprocess.run(
        ["node", os.path.join(katex, "check.js")],
        input=json.dumps(latex_strings),
        capture_output=True,
        text=True,
        cwd=katex,
        check=True,
    )
    return json.loads(run.stdout)


def unwrap(block):
    assert block.startswith("$$") and block.endswith("$$")
    return block[2:-2]


def test_repr_latex_renders_in_katex():
    results = [
        bracket.grad("x^T A x", "x"),
        bracket.grad("X: matrix(n, m); W: matrix(m, k); Y: matrix(n, k); 1/(2N) ||X W - Y||^2", ["W", "N"]),
        bracket.backprop(MLP),
        bracket.hessian("w: vector(m); X: matrix(n, m); ||X w||^2 + ||X||^2", ["w", "X"]),
        bracket.hvp("x^T A x", "x", "v"),
        bracket.jacobian("softmax(a)", "a"),
        bracket.d("x^T A x"),
        bracket.simplify("A ⊙ B + [A B]"),
        bracket.derive("x^T A x", "x"),
        bracket.derive("tr(A X^-1 B)", "X"),
        bracket.derive(MLP),
    ]
    blocks = [unwrap(r._repr_latex_()) for r in results]
    errors = katex_errors(blocks)
    assert errors == [None] * len(blocks), list(zip(blocks, errors))
    # KaTeX is a real check: broken LaTeX is refused.
    assert katex_errors(["\\left(A"]) != [None]


def test_markdown_names_the_conditions():
    md = bracket.grad("ln(det(X))", "X")._repr_markdown_()
    assert "X is invertible" in md and md.startswith("$$")


# ------------------------------------------------------------------------------ limits


def test_timeout_holds():
    slow = "X: matrix(n, n); sum(sqrt(1 + X .* X)) + ln(det(X)) + tr(X^-1 X^T X^-1)"
    start = time.perf_counter()
    with pytest.raises(bracket.BracketError) as e:
        bracket.grad(slow, "X", timeout=0.002)
    assert e.value.code == "E-limit"
    assert time.perf_counter() - start < 0.5
    with pytest.raises(bracket.BracketError) as e:
        bracket.grad("x^T A x", "x", timeout=0)
    assert e.value.code == "E-usage"


def test_calls_release_the_gil():
    # While one thread waits for a slow answer, Python code on another keeps running: the
    # longest pause between its ticks is far shorter than the call.
    slow = "S: symmetric(n); x, m: vector(n); -1/2 ln(det(S)) - 1/2 (x - m)^T S^-1 (x - m)"
    ticks = [time.perf_counter()]
    took = []

    def call():
        t = time.perf_counter()
        bracket.grad(slow, "S")
        took.append(time.perf_counter() - t)

    worker = threading.Thread(target=call)
    worker.start()
    while worker.is_alive():
        sum(range(2000))
        ticks.append(time.perf_counter())
    worker.join()
    longest_pause = max(b - a for a, b in zip(ticks, ticks[1:]))
    assert took[0] > 0.01, took
    assert longest_pause < took[0] / 2, (longest_pause, took)


def test_help_has_examples():
    for f in (bracket.grad, bracket.jacobian, bracket.hessian, bracket.simplify, bracket.derive, bracket.backprop, bracket.d):
        assert ">>>" in (f.__doc__ or ""), f.__name__
    assert "timeout" in bracket.__doc__


def test_stubs_name_every_public_function():
    import ast

    stub = os.path.join(os.path.dirname(bracket.__file__), "__init__.pyi")
    tree = ast.parse(open(stub, encoding="utf-8").read())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert set(bracket.__all__) <= names


def test_readme_example_runs(capsys):
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme.split("## Python\n", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "(A + Aᵀ)x verified"
