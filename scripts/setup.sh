#!/usr/bin/env bash
# Installs what bracket's build and tests need on a fresh machine: the Rust toolchain is
# the machine's; python3 with numpy checks the NumPy printer (tests/numpy.rs).
set -euo pipefail
if ! python3 -c 'import numpy' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check numpy
fi
