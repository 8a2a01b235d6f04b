"""The native half of `bracket` (python/src/lib.rs): JSON in the shape of `bracket batch`."""

from typing import Dict, List, Optional

__version__: str

def query(
    command: str,
    expr: str,
    wrt: List[str] = ...,
    check: bool = False,
    layout: str = "tensor",
    order: int = 1,
    dir: Optional[str] = None,
    sizes: Optional[Dict[str, float]] = None,
    timeout: float = 30.0,
) -> str: ...
def codegen(
    expr: str,
    wrt: List[str] = ...,
    target: str = "numpy",
    with_check: bool = False,
    solve: bool = True,
    statements: bool = False,
    timeout: float = 30.0,
) -> str: ...
