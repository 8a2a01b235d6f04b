#!/usr/bin/env bash
# Builds the Python package (python/, PyO3 and maturin) into the virtual environment that
# scripts/setup.sh made, and runs the pytest suites: the package's API and the notebook
# docs/examples/bracket.ipynb (python/tests), and `bracket serve`'s API and page in
# headless Chromium (web/tests, against target/release/bracket, which cargo builds first).
# Run by scripts/test.sh; on its own after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CARGO_TARGET_DIR:-target}/python-venv"
if [ ! -x "$venv/bin/maturin" ]; then
  scripts/setup.sh
fi
# maturin develop installs into the environment named by VIRTUAL_ENV.
export VIRTUAL_ENV="$PWD/$venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
(cd python && maturin develop --release --quiet)
cargo build --release --quiet
python -m pytest -q python/tests web/tests
