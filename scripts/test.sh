#!/usr/bin/env bash
# Install what is missing, configure, build and run every test with ctest.
# Usage: scripts/test.sh            (build directory: build/, override with BUILD_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DASRC_BUILD_TESTS=ON -DASRC_BUILD_EXAMPLES=ON -DASRC_BUILD_BENCH=ON
cmake --build "$BUILD_DIR" -j "$JOBS"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" "$@"
