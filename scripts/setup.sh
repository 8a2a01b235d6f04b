#!/usr/bin/env bash
# Installs what bracket's build and tests need on a fresh machine: the Rust toolchain is
# the machine's; python3 with numpy checks the NumPy printer (tests/numpy.rs), ruff and
# jax check generated modules (tests/codegen.rs); a virtual environment with maturin,
# pytest and nbclient builds and tests the Python package (scripts/python.sh); selenium
# and Chromium test the web page.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import numpy' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check numpy
fi
# Generated modules (bracket codegen) are linted with ruff and run on JAX's CPU backend
# (tests/codegen.rs).
if ! python3 -m ruff --version >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check ruff
fi
if ! python3 -c 'import jax' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "jax[cpu]"
fi
# KaTeX checks that the LaTeX printer's output renders (tests/latex.rs); MathJax and resvg
# draw a derivation to a PNG (tests/render_png.rs). Reinstall when any of them is missing.
m=tests/latex/node_modules
if command -v npm >/dev/null 2>&1 && ! { [ -d $m/katex ] && [ -d $m/mathjax-full ] && [ -d $m/@resvg/resvg-js ]; }; then
  (cd tests/latex && npm ci --silent --no-audit --no-fund)
fi
# The Python package's environment: it sees the packages above (numpy, jax) and adds the
# build and test tools. Remade when any of them is missing.
venv="${CARGO_TARGET_DIR:-target}/python-venv"
if ! "$venv/bin/python" -c 'import maturin, pytest, nbclient, nbformat, ipykernel, selenium' >/dev/null 2>&1; then
  python3 -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin pytest nbclient nbformat ipykernel selenium
fi
# The page of `bracket serve` is tested in headless Chromium through its WebDriver
# (web/tests): Debian's chromium and chromium-driver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi
