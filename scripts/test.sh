#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, checks formatting,
# and runs every test (unit, integration, property, snapshot, CLI and doc tests), then
# builds the Python package and runs its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
# Property tests draw from a fixed seed here so that CI is reproducible; run them with
# PROPTEST_RNG_SEED unset (and PROPTEST_CASES / FUZZ_CASES raised) to explore.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261126}"
cargo test --release
scripts/python.sh
