"""Type stubs of the Python package `bracket` (see __init__.py for the docs)."""

from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

__version__: str
FORMATS: Tuple[str, ...]
DEFAULT_TIMEOUT: float

Wrt = Union[str, Sequence[str], None]
Sizes = Optional[Dict[str, float]]

class BracketError(Exception):
    code: str
    message: str
    line: Optional[int]
    column: Optional[int]
    hint: Optional[str]
    rendered: str
    def __init__(self, error: Dict[str, Any]) -> None: ...

class Check:
    details: Dict[str, Any]
    verdict: str
    relative_error: Optional[float]
    @property
    def ok(self) -> bool: ...
    def __bool__(self) -> bool: ...

class Term:
    data: Dict[str, Any]
    label: str
    latex_label: str
    unicode: str
    ascii: str
    latex: str
    bracket: str
    numpy: str
    shape: Tuple[str, ...]
    conditions: List[str]

class Result:
    command: str
    input: str
    wrt: List[str]
    raw: Dict[str, Any]
    notes: List[str]
    terms: List[Term]
    def __iter__(self) -> Iterator[Term]: ...
    def __len__(self) -> int: ...
    def __getitem__(self, key: Union[int, str]) -> Term: ...
    @property
    def unicode(self) -> str: ...
    @property
    def ascii(self) -> str: ...
    @property
    def latex(self) -> str: ...
    @property
    def bracket(self) -> str: ...
    @property
    def numpy(self) -> str: ...
    @property
    def shape(self) -> Union[Tuple[str, ...], List[Tuple[str, ...]]]: ...
    @property
    def conditions(self) -> List[str]: ...
    def check(self) -> Check: ...
    def source(self, target: str = "numpy", with_check: bool = False, solve: bool = True) -> str: ...
    def function(self, target: str = "numpy") -> Callable[..., Tuple[Any, Dict[str, Any]]]: ...
    def _repr_latex_(self) -> str: ...
    def _repr_markdown_(self) -> str: ...

class Step:
    why: str
    unicode: str
    ascii: str
    latex: str

class Derivation:
    raw: Dict[str, Any]
    wrt: str
    label: str
    steps: List[Step]
    result: Term
    parts: List["Derivation"]
    def __iter__(self) -> Iterator[Step]: ...
    def __len__(self) -> int: ...
    def __getitem__(self, k: int) -> Step: ...
    @property
    def latex(self) -> str: ...
    @property
    def unicode(self) -> str: ...
    def _repr_latex_(self) -> str: ...
    def _repr_markdown_(self) -> str: ...

class Derivations(Derivation): ...

def simplify(expr: str, *, sizes: Sizes = None, timeout: float = 30.0, format: str = "unicode") -> Result: ...
def grad(
    expr: str, wrt: Wrt = None, *, sizes: Sizes = None, timeout: float = 30.0, format: str = "unicode", layout: str = "tensor"
) -> Result: ...
def jacobian(
    expr: str, wrt: Wrt, *, sizes: Sizes = None, timeout: float = 30.0, format: str = "unicode", layout: str = "tensor"
) -> Result: ...
def hessian(
    expr: str, wrt: Wrt, *, sizes: Sizes = None, timeout: float = 30.0, format: str = "unicode", layout: str = "tensor"
) -> Result: ...
def hvp(
    expr: str, wrt: Optional[str] = None, dir: Optional[str] = None, *, sizes: Sizes = None, timeout: float = 30.0, format: str = "unicode"
) -> Result: ...
def d(expr: str, *, sizes: Sizes = None, timeout: float = 30.0, format: str = "unicode") -> Result: ...
def backprop(program: str, *, sizes: Sizes = None, timeout: float = 30.0, format: str = "unicode") -> Result: ...
def derive(
    expr: str,
    wrt: Optional[str] = None,
    *,
    order: int = 1,
    sizes: Sizes = None,
    timeout: float = 30.0,
    format: str = "unicode",
) -> Derivation: ...
