#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, checks formatting,
# and runs every test (unit, integration, property, snapshot, CLI and doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo test --release
