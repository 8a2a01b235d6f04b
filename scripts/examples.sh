#!/usr/bin/env bash
# The main job (README): builds bracket and regenerates the worked examples in
# docs/examples/ from their inputs in examples/: the Markdown pages, then the notebook
# docs/examples/bracket.ipynb through the Python package (built into the environment
# that scripts/setup.sh makes).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -- examples
venv="${CARGO_TARGET_DIR:-target}/python-venv"
if ! "$venv/bin/python" -c 'import maturin, nbclient' >/dev/null 2>&1; then
  scripts/setup.sh
fi
export VIRTUAL_ENV="$PWD/$venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
(cd python && maturin develop --release --quiet)
python python/make_notebook.py
