#!/usr/bin/env bash
# Install asrc to a temporary prefix and build a consumer with find_package(asrc), then
# build the same consumer with add_subdirectory(asrc). Both must run and print 63114.
set -euo pipefail
src="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$src" -B "$work/asrc-build" -DASRC_BUILD_TESTS=OFF -DASRC_BUILD_EXAMPLES=OFF \
  -DASRC_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --install "$work/asrc-build" >/dev/null
test -f "$work/prefix/include/asrc/asrc.hpp"
for mode in find_package subdirectory; do
  cmake -S "$src/tests/cmake/consumer" -B "$work/$mode" -DASRC_MODE=$mode -DASRC_SOURCE="$src" \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$work/$mode" >/dev/null
  out=$("$work/$mode/consumer")
  echo "$mode: $out"
  [ "$out" = "parameters: 63114" ]
done
