"""Matrix and tensor differential calculus in the bracket notation, from Python.

    >>> import bracket
    >>> g = bracket.grad("x^T A x", "x")
    >>> print(g)
    (A + Aᵀ)x
    >>> g.latex
    '\\\\left(A + A^{\\\\top}\\\\right) x'
    >>> g.check().verdict
    'verified'

Every function takes the input as `bracket` reads it (declarations, definitions and the
expression, or a whole program) and returns a :class:`Result` (or a :class:`Derivation`
for :func:`derive`). In Jupyter both render as mathematics. Errors raise
:class:`BracketError`, with the line and column of the input they are about.

Keyword options of every function:

- ``sizes``: sizes of named dims, such as ``{"n": 1000, "m": 10}``; the answer is then
  the form with the fewest floating-point operations at those sizes;
- ``timeout``: the most seconds to wait for an answer (default 30); past it the call
  raises :class:`BracketError` with code ``E-limit``;
- ``format``: what ``str()`` of the result gives: ``"unicode"`` (default), ``"ascii"``,
  ``"latex"``, ``"bracket"`` or ``"numpy"``.
"""

from __future__ import annotations

import json
import math
import re
import types
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import _native

__all__ = [
    "BracketError",
    "Check",
    "Derivation",
    "Result",
    "Step",
    "backprop",
    "d",
    "derive",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "simplify",
]

__version__ = _native.__version__

FORMATS = ("unicode", "ascii", "latex", "bracket", "numpy")
DEFAULT_TIMEOUT = 30.0

Wrt = Union[str, Sequence[str], None]


class BracketError(Exception):
    """An input `bracket` cannot answer: what went wrong, where, and a hint.

    ``str(error)`` is the message with a caret under the place in the input, as the CLI
    prints it.

    Attributes:
        code: the error's code, such as ``"E-syntax"``, ``"E-shape"`` or ``"E-limit"``.
        message: what went wrong, in one sentence.
        line: the 1-based line of the input, or ``None``.
        column: the 1-based column (in characters), or ``None``.
        hint: how to fix it, or ``None``.
    """

    def __init__(self, error: Dict[str, Any]):
        self.code: str = error.get("code", "E-usage")
        self.message: str = error.get("message", "")
        self.line: Optional[int] = error.get("line")
        self.column: Optional[int] = error.get("column")
        self.hint: Optional[str] = error.get("hint")
        rendered = error.get("rendered") or f"error[{self.code}]: {self.message}"
        if self.hint and self.hint not in rendered:
            rendered = f"{rendered.rstrip()}\n  = hint: {self.hint}"
        self.rendered: str = rendered.rstrip()
        super().__init__(self.rendered)

    def __str__(self) -> str:
        return self.rendered


class Check:
    """The verdict of a numeric check: the answer against finite differences.

    Attributes:
        verdict: ``"verified"``, ``"failed"`` or ``"not possible"``.
        relative_error: the largest relative error seen, or ``None``.
        details: every field of the check as `bracket` reported it.

    ``bool(check)`` is true when the answer was verified.
    """

    def __init__(self, details: Dict[str, Any]):
        self.details = dict(details)
        self.verdict: str = details.get("verdict", "not possible")
        self.relative_error: Optional[float] = details.get("relative_error")

    @property
    def ok(self) -> bool:
        """True when the answer was verified."""
        return self.verdict == "verified"

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"Check(verdict={self.verdict!r}, relative_error={self.relative_error!r})"

    def _repr_latex_(self) -> str:
        mark = "\\checkmark" if self.ok else "\\times"
        err = self.relative_error
        if isinstance(err, (int, float)) and math.isfinite(err) and err > 0:
            mantissa, exponent = f"{err:.1e}".split("e")
            err_tex = f", relative error {mantissa} \\times 10^{{{int(exponent)}}}"
        else:
            err_tex = ""
        return f"${mark}\\ \\text{{{self.verdict}}}{err_tex}$"


def _names(wrt: Wrt) -> List[str]:
    if wrt is None:
        return []
    if isinstance(wrt, str):
        return [w.strip() for w in wrt.split(",") if w.strip()]
    return [str(w) for w in wrt]


def _check_format(format: str) -> str:
    if format not in FORMATS:
        raise BracketError(
            {"code": "E-usage", "message": f"unknown format `{format}`", "hint": "use one of " + ", ".join(FORMATS)}
        )
    return format


def _call(command: str, expr: str, wrt: Wrt = None, **kw: Any) -> Dict[str, Any]:
    if not isinstance(expr, str):
        raise TypeError(f"bracket.{command}: the input must be a str, not {type(expr).__name__}")
    sizes = kw.pop("sizes", None)
    timeout = kw.pop("timeout", DEFAULT_TIMEOUT)
    answer = json.loads(
        _native.query(
            command,
            expr,
            wrt=_names(wrt),
            sizes=None if sizes is None else {str(k): float(v) for k, v in sizes.items()},
            timeout=float(timeout),
            **kw,
        )
    )
    if isinstance(answer, dict) and "error" in answer:
        raise BracketError(answer["error"])
    return answer


def _shape(text: str) -> Tuple[str, ...]:
    inner = text.strip().strip("[]").strip()
    return tuple(p.strip() for p in inner.split(",")) if inner else ()


class Term:
    """One expression of an answer in every notation: ``unicode``, ``ascii``, ``latex``,
    ``bracket`` (the tutorial's bracket notation) and ``numpy``, with its ``shape`` (a
    tuple of dim names; ``()`` for a scalar) and ``conditions`` (where it holds, such as
    ``"X is invertible"``). ``label`` names it (``∇_x``, ``∇²_x``, ``∇_{W1}J``)."""

    def __init__(self, data: Dict[str, Any], label: str, latex_label: str):
        self.data = data
        self.label = label
        self.latex_label = latex_label
        self.unicode: str = data.get("unicode", "")
        self.ascii: str = data.get("ascii", "")
        self.latex: str = data.get("latex", "")
        self.bracket: str = data.get("bracket", "")
        self.numpy: str = data.get("numpy", "")
        self.shape: Tuple[str, ...] = _shape(data.get("shape", "[]"))
        self.conditions: List[str] = list(data.get("conditions", []))

    def __repr__(self) -> str:
        return f"<{self.label} = {self.unicode}>"


class Result:
    """An answer of `bracket`: one expression, or one for each variable (or each
    equation of a program).

    The notations of the answer are attributes: ``unicode``, ``ascii``, ``latex``,
    ``bracket``, ``numpy``, with ``shape`` and ``conditions``. When the answer has
    several parts (``grad(f, ["W", "b"])``, a program's equations, a Hessian's blocks),
    each of those holds every part, one a line, labelled (``∇_W = …``), and
    ``result["W"]`` or iterating gives the parts as :class:`Term`.

    ``check()`` verifies the answer numerically, ``function()`` returns it as Python code
    to run, ``source()`` that code as text. ``str()`` is the Unicode form (or the
    ``format=`` given); in Jupyter the result renders as LaTeX.
    """

    def __init__(self, command: str, expr: str, wrt: List[str], answer: Dict[str, Any], options: Dict[str, Any]):
        self.command = command
        self.input = expr
        self.wrt = wrt
        self.raw = answer
        self.notes: List[str] = list(answer.get("notes", []))
        self._options = options
        self.terms: List[Term] = _terms(command, answer, wrt)

    # -- parts
    def __iter__(self) -> Iterator[Term]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __getitem__(self, key: Union[int, str]) -> Term:
        if isinstance(key, int):
            return self.terms[key]
        for t in self.terms:
            if key in (t.data.get("wrt"), t.data.get("target"), t.data.get("by"), t.label):
                return t
        raise KeyError(key)

    def _joined(self, field: str) -> str:
        if len(self.terms) == 1:
            return getattr(self.terms[0], field)
        return "\n".join(f"{t.label} = {getattr(t, field)}" for t in self.terms)

    @property
    def unicode(self) -> str:
        """The answer in Unicode mathematics, as the CLI prints it."""
        return self._joined("unicode")

    @property
    def ascii(self) -> str:
        """The answer in the ASCII syntax `bracket` reads."""
        return self._joined("ascii")

    @property
    def latex(self) -> str:
        """The answer in LaTeX (several parts: an ``aligned`` block)."""
        if len(self.terms) == 1:
            return self.terms[0].latex
        rows = " \\\\\n".join(f"{t.latex_label} &= {t.latex}" for t in self.terms)
        return "\\begin{aligned}\n" + rows + "\n\\end{aligned}"

    @property
    def bracket(self) -> str:
        """The answer in the tutorial's bracket notation."""
        return self._joined("bracket")

    @property
    def numpy(self) -> str:
        """The answer as a NumPy expression (a program: one statement a line)."""
        if self.raw.get("equations") is not None:
            timeout = float(self._options.get("timeout", DEFAULT_TIMEOUT))
            answer = json.loads(_native.codegen(self.input, [], statements=True, timeout=timeout))
            if "error" in answer:
                raise BracketError(answer["error"])
            return "\n".join(answer["lines"])
        return self._joined("numpy")

    @property
    def shape(self) -> Union[Tuple[str, ...], List[Tuple[str, ...]]]:
        """The shape (a tuple of dim names, ``()`` for a scalar); with several parts, one
        shape each."""
        shapes = [t.shape for t in self.terms]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def conditions(self) -> List[str]:
        """Where the answer holds (``X is invertible``), over every part."""
        out: List[str] = []
        for t in self.terms:
            out.extend(c for c in t.conditions if c not in out)
        return out

    # -- checking and code
    def check(self) -> Check:
        """Checks the answer against finite differences at random points (five-point
        central differences, as ``bracket --check``); with several parts, the worst.

        >>> bracket.grad("ln(det(X))", "X").check().ok
        True
        """
        if self.command not in ("grad", "jacobian", "hessian", "hvp", "backprop"):
            raise BracketError(
                {
                    "code": "E-usage",
                    "message": f"`{self.command}` has nothing to check",
                    "hint": "check the result of grad, jacobian, hessian, hvp or backprop",
                }
            )
        opts = {k: v for k, v in self._options.items() if k in ("sizes", "timeout", "layout")}
        answer = _call(self.command, self.input, self.wrt, check=True, **opts)
        checks: List[Dict[str, Any]] = []
        for part in answer.get("derivatives") or []:
            if "check" in part:
                checks.append(part["check"])
        if isinstance(answer.get("checks"), dict):
            checks.extend(answer["checks"].values())
        elif isinstance(answer.get("checks"), list):
            checks.extend(answer["checks"])
        for part in answer.get("equations") or []:
            if "check" in part:
                checks.append(part["check"])
        if not checks:
            return Check({"verdict": "not possible", "reason": "no check came back"})

        def badness(c: Dict[str, Any]) -> Tuple[int, float]:
            rank = {"verified": 0, "not possible": 1}.get(c.get("verdict", ""), 2)
            err = c.get("relative_error")
            return rank, err if isinstance(err, (int, float)) and math.isfinite(err) else 0.0

        return Check(max(checks, key=badness))

    def source(self, target: str = "numpy", with_check: bool = False, solve: bool = True) -> str:
        """The Python module ``bracket codegen`` writes for this function: it defines
        ``f_and_grad(...)``, returning the value and a dict of gradients (Jacobians for
        a non-scalar function). ``target`` is ``"numpy"`` or ``"jax"``; ``with_check``
        adds ``generate_random_data`` and ``check_gradient``; ``solve=False`` keeps
        ``inv(A) @ b`` instead of ``solve(A, b)``."""
        if self.command not in ("grad", "jacobian", "backprop"):
            raise BracketError(
                {
                    "code": "E-usage",
                    "message": f"no code is generated for `{self.command}`",
                    "hint": "generate code from the result of grad, jacobian or backprop",
                }
            )
        timeout = float(self._options.get("timeout", DEFAULT_TIMEOUT))
        answer = json.loads(
            _native.codegen(self.input, self.wrt, target=target, with_check=with_check, solve=solve, timeout=timeout)
        )
        if "error" in answer:
            raise BracketError(answer["error"])
        return answer["source"]

    def function(self, target: str = "numpy") -> Callable[..., Any]:
        """The answer as a Python function: ``f_and_grad(*inputs)`` of the generated
        module, returning ``(value, gradients)`` with ``gradients`` a dict keyed by
        variable. The module's other names (``generate_random_data``, ``check_gradient``)
        are attributes of the function, and ``.source`` is its code.

        >>> f = bracket.grad("x^T A x", "x").function()
        >>> value, grads = f(A, x)
        """
        source = self.source(target=target, with_check=True)
        module = types.ModuleType("bracket_generated")
        exec(compile(source, "<bracket codegen>", "exec"), module.__dict__)
        f = module.__dict__["f_and_grad"]
        f.source = source
        f.module = module
        f.generate_random_data = module.__dict__.get("generate_random_data")
        f.check_gradient = module.__dict__.get("check_gradient")
        return f

    # -- display
    def __str__(self) -> str:
        fmt = self._options.get("format", "unicode")
        return self.numpy if fmt == "numpy" else getattr(self, fmt)

    def __repr__(self) -> str:
        what = f"{self.command}({self.input!r}" + (f", {self.wrt!r}" if self.wrt else "") + ")"
        return f"<bracket.Result {what}: {self.unicode}>"

    def _repr_latex_(self) -> str:
        if len(self.terms) == 1 and self.command in ("simplify", "d"):
            return "$$" + self.latex + "$$"
        rows = " \\\\\n".join(f"{t.latex_label} &= {t.latex}" for t in self.terms)
        return "$$\\begin{aligned}\n" + rows + "\n\\end{aligned}$$"

    def _repr_markdown_(self) -> str:
        lines = [self._repr_latex_()]
        if self.conditions:
            lines.append("where " + "; ".join(self.conditions))
        return "\n\n".join(lines)


def _latex_name(name: str) -> str:
    return name if len(name) == 1 else f"{{{name}}}"


def _terms(command: str, answer: Dict[str, Any], wrt: List[str]) -> List[Term]:
    if "equations" in answer:
        loss = answer.get("loss", "J")
        out = []
        for eq in answer["equations"]:
            target = eq.get("target", "")
            out.append(Term(eq, f"∇_{{{target}}}{loss}", f"\\nabla_{{{target}}}{_latex_name(loss)}"))
        return out
    if "tangents" in answer:
        return [Term(t, t.get("target", ""), _latex_of_label(t.get("target", ""))) for t in answer["tangents"]]
    if "derivatives" in answer:
        out = []
        for part in answer["derivatives"]:
            label = part.get("label") or f"∇_{part.get('wrt', '')}"
            out.append(Term(part, label, _latex_of_label(label)))
        return out
    if "blocks" in answer:
        return [Term(b, b.get("label", ""), _latex_of_label(b.get("label", ""))) for b in answer["blocks"]]
    label = {"d": "d", "simplify": "="}.get(command, command)
    return [Term(answer, label, "d" if command == "d" else "")]


def _latex_of_label(label: str) -> str:
    """``∇_W1`` → ``\\nabla_{W1}``, ``∇²_x[v]`` → ``\\nabla^2_{x}[v]``."""
    out = label.replace("∇²", "\\nabla^2").replace("∇", "\\nabla")
    return re.sub(r"_([A-Za-z0-9]+)", r"_{\1}", out)


def _result(command: str, expr: str, wrt: Wrt, options: Dict[str, Any], **kw: Any) -> Result:
    fmt = _check_format(options.get("format", "unicode"))
    call_opts = {k: options[k] for k in ("sizes", "timeout") if k in options}
    answer = _call(command, expr, wrt, **call_opts, **kw)
    return Result(command, expr, _names(wrt), answer, dict(options, format=fmt, **kw))


def _options(sizes: Any, timeout: float, format: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {"timeout": timeout, "format": format}
    if sizes is not None:
        out["sizes"] = sizes
    return out


def simplify(
    expr: str, *, sizes: Optional[Dict[str, float]] = None, timeout: float = DEFAULT_TIMEOUT, format: str = "unicode"
) -> Result:
    """The simplest classic form of an expression.

    >>> str(bracket.simplify('einsum("ij,kj->ik", A, B)'))
    'ABᵀ'
    """
    return _result("simplify", expr, None, _options(sizes, timeout, format))


def grad(
    expr: str,
    wrt: Wrt = None,
    *,
    sizes: Optional[Dict[str, float]] = None,
    timeout: float = DEFAULT_TIMEOUT,
    format: str = "unicode",
    layout: str = "tensor",
) -> Result:
    """The gradient of a scalar function by each variable in ``wrt`` (a name, a list of
    names, or ``"W, b"``). With no ``wrt``, a program's backpropagation equations (its
    ``grad J wrt …`` line says by what).

    >>> str(bracket.grad("x^T A x", "x"))
    '(A + Aᵀ)x'
    >>> g = bracket.grad("1/(2N) ||X W - Y||^2", ["W"])
    >>> g.latex
    '\\\\frac{1}{N} X^{\\\\top} \\\\left(X W - Y\\\\right)'

    ``layout="vec"`` gives a derivative by a matrix in the vec/Kronecker layout.
    """
    if not _names(wrt):
        return backprop(expr, sizes=sizes, timeout=timeout, format=format)
    return _result("grad", expr, wrt, _options(sizes, timeout, format), layout=layout)


def jacobian(
    expr: str,
    wrt: Wrt,
    *,
    sizes: Optional[Dict[str, float]] = None,
    timeout: float = DEFAULT_TIMEOUT,
    format: str = "unicode",
    layout: str = "tensor",
) -> Result:
    """The Jacobian of a function of any shape by each variable, in the tutorial's
    tensor layout (output indices first), or ``layout="vec"``.

    >>> str(bracket.jacobian("softmax(a)", "a"))
    'diag(softmax(a)) − softmax(a)softmax(a)ᵀ'
    """
    return _result("jacobian", expr, wrt, _options(sizes, timeout, format), layout=layout)


def hessian(
    expr: str,
    wrt: Wrt,
    *,
    sizes: Optional[Dict[str, float]] = None,
    timeout: float = DEFAULT_TIMEOUT,
    format: str = "unicode",
    layout: str = "tensor",
) -> Result:
    """The Hessian of a scalar function: a block for each pair of variables in ``wrt``
    (``∇²_x``, ``∇_X∇_w``, …), in the tensor layout or ``layout="vec"``.

    >>> str(bracket.hessian("x^T A x", "x"))
    'A + Aᵀ'
    """
    return _result("hessian", expr, wrt, _options(sizes, timeout, format), layout=layout)


def hvp(
    expr: str,
    wrt: Optional[str] = None,
    dir: Optional[str] = None,
    *,
    sizes: Optional[Dict[str, float]] = None,
    timeout: float = DEFAULT_TIMEOUT,
    format: str = "unicode",
) -> Result:
    """The Hessian-vector product of a scalar function by ``wrt`` along ``dir`` (a name
    of the variable's shape), without forming the Hessian. For a program (no ``wrt``),
    its tangent pass: forward over reverse along every parameter's ``dW``.

    >>> str(bracket.hvp("x^T A x", "x", "v"))
    '(A + Aᵀ)v'
    """
    return _result("hvp", expr, [wrt] if wrt else [], _options(sizes, timeout, format), dir=dir or "")


def d(
    expr: str, *, sizes: Optional[Dict[str, float]] = None, timeout: float = DEFAULT_TIMEOUT, format: str = "unicode"
) -> Result:
    """The differential of an expression in all its variables, each ``dX`` taken out.

    >>> str(bracket.d("x^T A x"))
    '(A + Aᵀ)x · dx + xxᵀ · dA'
    """
    return _result("d", expr, None, _options(sizes, timeout, format))


def backprop(
    program: str, *, sizes: Optional[Dict[str, float]] = None, timeout: float = DEFAULT_TIMEOUT, format: str = "unicode"
) -> Result:
    """A program's backpropagation equations, one for each definition and parameter its
    ``grad J wrt …`` line needs; ``result["W1"]`` is the equation of ``∇_{W1}J``.

    >>> program = '''W: matrix(k, d); x: vector(d); y: vector(k)
    ... z = W x
    ... J = 1/2 ||z - y||^2
    ... grad J wrt W'''
    >>> print(bracket.backprop(program))
    ∇_zJ = z − y
    ∇_WJ = (∇_{z}J)xᵀ
    """
    return _result("backprop", program, None, _options(sizes, timeout, format))


class Step:
    """One step of a derivation: ``why`` (the rule or the stage) and the expression after
    it, as ``unicode``, ``ascii`` and ``latex``."""

    def __init__(self, data: Dict[str, Any]):
        self.why: str = data.get("why", "")
        self.unicode: str = data.get("unicode", "")
        self.ascii: str = data.get("ascii", "")
        self.latex: str = data.get("latex", "")

    def __repr__(self) -> str:
        return f"<Step {self.why}: {self.unicode}>"


class Derivation:
    """A derivation step by step, in the tutorial's notation: the differential, its
    bracket form, ``dX`` taken out, then each rewrite to the classic form with its rule.

    Iterating gives the :class:`Step` objects; ``result`` is the answer as a
    :class:`Term`; in Jupyter it renders as an ``align*`` block. A program with no
    ``wrt`` gives one derivation per equation: iterate ``parts``.
    """

    def __init__(self, data: Dict[str, Any], label: str = ""):
        self.raw = data
        self.wrt: str = data.get("wrt", "")
        self.steps: List[Step] = [Step(s) for s in data.get("steps", [])]
        self.label = label
        result = data.get("result") or {}
        self.result = Term(result, f"∇_{self.wrt}", f"\\nabla_{{{self.wrt}}}")
        self.parts: List["Derivation"] = [self]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, k: int) -> Step:
        return self.steps[k]

    @property
    def latex(self) -> str:
        """The derivation as the rows of an ``align*`` block, each with its reason."""
        rows = []
        for k, s in enumerate(self.steps):
            lhs = "" if k else "df"
            rows.append(f"{lhs} &= {s.latex} && \\text{{{_tex_text(s.why)}}}")
        return " \\\\\n".join(rows)

    @property
    def unicode(self) -> str:
        """The steps, one a line, each with its reason."""
        return "\n".join(f"  = {s.unicode}    ({s.why})" for s in self.steps)

    def __str__(self) -> str:
        return self.unicode

    def __repr__(self) -> str:
        return f"<bracket.Derivation by {self.wrt}: {len(self.steps)} steps>"

    def _repr_latex_(self) -> str:
        return "$$\\begin{align*}\n" + self.latex + "\n\\end{align*}$$"

    def _repr_markdown_(self) -> str:
        return self._repr_latex_()


def _tex_text(s: str) -> str:
    out = []
    for ch in s:
        if ch in "\\{}$&#^_%~":
            out.append({"\\": "\\textbackslash{}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}"}.get(ch, "\\" + ch))
        elif ord(ch) > 127:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out).strip()


class Derivations(Derivation):
    """The derivations of a program's backpropagation equations, one each."""

    def __init__(self, parts: List[Dict[str, Any]], labels: Sequence[str] = ()):
        super().__init__(parts[0] if parts else {})
        labels = list(labels) + [f"∇_{p.get('wrt', '')}" for p in parts[len(labels) :]]
        self.parts = [Derivation(p, label) for p, label in zip(parts, labels)]
        self.steps = [s for p in self.parts for s in p.steps]

    @property
    def latex(self) -> str:
        return " \\\\\n".join(p.latex for p in self.parts)

    @property
    def unicode(self) -> str:
        return "\n\n".join(f"{p.label}:\n{p.unicode}" for p in self.parts)

    def __repr__(self) -> str:
        return f"<bracket.Derivations: {len(self.parts)} equations>"


def derive(
    expr: str,
    wrt: Optional[str] = None,
    *,
    order: int = 1,
    sizes: Optional[Dict[str, float]] = None,
    timeout: float = DEFAULT_TIMEOUT,
    format: str = "unicode",
) -> Derivation:
    """The derivation of the gradient by ``wrt``, step by step, each step with its rule.
    ``order=2`` derives the Hessian from the gradient as well. A program with no ``wrt``
    gives the derivation of each backpropagation equation.

    >>> for step in bracket.derive("x^T A x", "x"):
    ...     print(step.why, "|", step.unicode)
    product and chain rules | dxᵀAx + xᵀAdx
    ...
    """
    _check_format(format)
    if order not in (1, 2):
        raise BracketError({"code": "E-usage", "message": f"order must be 1 or 2, not {order}"})
    opts = _options(sizes, timeout, format)
    call_opts = {k: opts[k] for k in ("sizes", "timeout") if k in opts}
    names = _names(wrt)
    if len(names) > 1:
        raise BracketError({"code": "E-usage", "message": "derive takes one variable", "hint": "call derive once per variable"})
    answer = _call("derive", expr, names, order=order, **call_opts)
    if "derivations" in answer:
        answer = answer["derivations"]
    if isinstance(answer, list):
        labels = [f"∇_{names[0]}", f"∇²_{names[0]}"] if names else []
        return Derivations(answer, labels)
    return Derivation(answer, f"∇_{answer.get('wrt', '')}")
