#!/usr/bin/env bash
# Install what is missing, configure, build and run every test with ctest.
# Usage: scripts/test.sh            (build directory: build/, override with BUILD_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
# The figure and tuning tests (scripts/figures.py, scripts/tune.py) need Debian's Python
# packages; without them ctest reports those two as skipped.
./scripts/deps.sh python3-matplotlib python3-numpy python3-optuna
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DASRC_BUILD_TESTS=ON -DASRC_BUILD_EXAMPLES=ON -DASRC_BUILD_BENCH=ON
cmake --build "$BUILD_DIR" -j "$JOBS"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" "$@"
