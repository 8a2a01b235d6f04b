#!/usr/bin/env bash
# The main job (README): builds bracket and regenerates the worked examples in
# docs/examples/ from their inputs in examples/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -- examples
