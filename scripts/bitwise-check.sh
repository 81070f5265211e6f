#!/usr/bin/env bash
# Refactoring check: do the LIF networks compute bitwise what they computed at git
# revision REV? Compiles tests/tools/lif_fingerprint.cpp (hashes of the initial and
# trained parameters, gradients, input gradients, evaluation and stream logits of every
# recurrence kind, both resets, dropout, float and double) against REV's headers and the
# working tree's, with the project's Release flags, and compares the two outputs.
#   scripts/bitwise-check.sh [REV]        (default: HEAD)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-HEAD}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$rev" include | tar -x -C "$tmp"
flags=(-std=c++17 -O3 -DNDEBUG -march=native -fopenmp -DEIGEN_DONT_PARALLELIZE -I/usr/include/eigen3)
g++ "${flags[@]}" -I"$tmp/include" tests/tools/lif_fingerprint.cpp -o "$tmp/old" &
g++ "${flags[@]}" -Iinclude tests/tools/lif_fingerprint.cpp -o "$tmp/new"
wait
"$tmp/old" > "$tmp/old.txt"
"$tmp/new" > "$tmp/new.txt"
if diff "$tmp/old.txt" "$tmp/new.txt"; then
  echo "bitwise-check: identical to $rev ($(wc -l < "$tmp/new.txt") configurations)"
else
  echo "bitwise-check: DIFFERENT from $rev" >&2
  exit 1
fi
