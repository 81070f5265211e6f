#!/usr/bin/env bash
# Every Table 1 row at the paper's protocol, one after another, in the order that
# `python3 scripts/table1.py --queue` lists (the four 64-128-128 rows, the clean-protocol
# S-MNIST SRC row, the 212-wide rows): finished rows are passed over, a stopped one
# continues from its last.ckpt, the next one starts when it ends.
#
#   scripts/table1-queue.sh [asrc-train flags...]        e.g. --threads 1
#
# The flags go to every row (scripts/reproduce.sh ROW; run-time flags only when a row
# resumes); --root DIR as in reproduce.sh. --time-limit counts from the start of each row's
# asrc-train, not of the queue. Exit status: 0 when every row is finished,
# otherwise that of the row that stopped (75 --time-limit reached, 130 interrupted), which
# the next call continues.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t rows < <(python3 scripts/table1.py --queue)
[ ${#rows[@]} -gt 0 ] || { echo "table1-queue.sh: expected rows from scripts/table1.py --queue, got none" >&2; exit 2; }
for line in "${rows[@]}"; do
  read -r -a words <<< "$line"
  scripts/reproduce.sh "${words[1]}" --row "${words[0]}" "${words[@]:2}" "$@" || exit $?
done
echo "table1-queue.sh: every row is finished"
