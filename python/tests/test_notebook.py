"""docs/examples/bracket.ipynb: up to date with examples/, and every cell runs and shows
its answer as LaTeX."""

import os
import subprocess
import sys

import nbformat
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOK = os.path.join(ROOT, "docs", "examples", "bracket.ipynb")


def test_notebook_is_up_to_date():
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, "python", "make_notebook.py"), "--check"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_notebook_executes_and_renders_latex():
    with open(NOTEBOOK, encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": ROOT}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) > 50
    for cell in code[1:]:
        kinds = [k for o in cell.outputs for k in o.get("data", {})]
        assert "text/latex" in kinds, (cell.source, cell.outputs)
        assert all(o.output_type != "error" for o in cell.outputs)
    # The answers are the library's: §5.2 renders (A + Aᵀ)x.
    latex = [o["data"]["text/latex"] for c in code for o in c.outputs if "text/latex" in o.get("data", {})]
    assert any("\\left(A + A^{\\top}\\right) x" in t for t in latex)
