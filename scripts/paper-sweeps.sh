#!/usr/bin/env bash
# Figs. 2-4 of the paper on PS-MNIST with a schedule shortened to fit a 2-core CPU:
#   Fig. 2  SRC   lambda   in {1, 2, 4, 8, 12, 16, 24, 32}      (psmnist-src)
#   Fig. 3  ASRC  T_lambda in {6, 11, 21, 31, 41, 51}           (psmnist-asrc)
#   Fig. 4  ASRC  alpha    in {0.2, 0.3, 0.5, 0.7, 0.9}          (psmnist-asrc, --decay-para)
#
#   scripts/paper-sweeps.sh [--collect-only] [all|lambda-src|tlambda-asrc|decay-asrc]
#
# The paper trained each point for 200 epochs on all 60,000 images. Here: EPOCHS epochs
# (default 15) of the first LIMIT_TRAIN training images (default 30000), the full test set,
# seed 0, and the ASRC temperature decay shortened with it (de_tau^EPOCHS = 0.96^200, so
# training ends as hard as the published schedule). A budget is a folder of its own,
# OUT/<EPOCHS>ep-<LIMIT_TRAIN/1000>k/<sweep>/ (OUT defaults to results/paper-sweeps; TRAIN
# names the asrc-train binary), so runs of different budgets never mix. Resumable
# (scripts/sweep.sh: the same command skips finished values and continues a stopped one).
# Each sweep's results.csv is copied to FIGDATA/sweep-<sweep>-<budget>.csv (FIGDATA defaults
# to docs/figures/data), from
# which scripts/figures.py draws lambda-sweep.png, tlambda-sweep.png and decay-sweep.png
# (one line per budget); FIGURES=0 leaves the figures alone. --collect-only runs nothing:
# it rewrites each sweep's results.csv from its folders (after a stop), copies it and draws.
# Cost on one thread of a 2-core AMD EPYC beside a second run: an epoch of 20,000 images
# and the test pass took about 80 s for SRC.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-15}
LIMIT_TRAIN=${LIMIT_TRAIN:-30000}
THREADS=${THREADS:-2}
DATA=${DATA:-data/mnist}
OUT=${OUT:-results/paper-sweeps}
TRAIN=${TRAIN:-build/examples/asrc-train}
FIGDATA=${FIGDATA:-docs/figures/data}
if [ $((LIMIT_TRAIN % 1000)) = 0 ] && [ "$LIMIT_TRAIN" != 0 ]; then
  BUDGET="${EPOCHS}ep-$((LIMIT_TRAIN / 1000))k"
else
  BUDGET="${EPOCHS}ep-${LIMIT_TRAIN}"
fi
DE_TAU=$(awk -v e="$EPOCHS" 'BEGIN { printf "%.6g", exp(200 * log(0.96) / e) }')
common=(--epochs "$EPOCHS" --limit-train "$LIMIT_TRAIN" --dataset-dir "$DATA" --threads "$THREADS")
collect=()
if [ "${1:-}" = --collect-only ]; then collect=(--collect-only); shift; fi
which=${1:-all}
case "$which" in all|lambda-src|tlambda-asrc|decay-asrc) ;;
  *) echo "paper-sweeps.sh: error: expected all, lambda-src, tlambda-asrc or decay-asrc, got '$which'" >&2; exit 2 ;;
esac
run() {  # name flag values preset [extra flags]
  local name=$1 flag=$2 values=$3 preset=$4; shift 4
  [ "$which" = all ] || [ "$which" = "$name" ] || return 0
  local rc=0
  scripts/sweep.sh "${collect[@]}" --flag "$flag" --values "$values" --out "$OUT/$BUDGET/$name" \
    --train "$TRAIN" -- --preset "$preset" "${common[@]}" "$@" || rc=$?
  # Partial results too: figures.py draws the finished values.
  cp "$OUT/$BUDGET/$name/results.csv" "$FIGDATA/sweep-$name-$BUDGET.csv"
  # Collecting, an unfinished sweep is no reason to stop: the next one is collected too.
  [ "$rc" = 0 ] || [ ${#collect[@]} -gt 0 ] || exit "$rc"
}
run lambda-src skip 1,2,4,8,12,16,24,32 psmnist-src
run tlambda-asrc skip 6,11,21,31,41,51 psmnist-asrc --de-tau "$DE_TAU"
run decay-asrc decay-para 0.2,0.3,0.5,0.7,0.9 psmnist-asrc --de-tau "$DE_TAU"
# Redraw every figure from docs/figures/data (FIGURES=0: leave them, as the tests do).
[ "${FIGURES:-1}" = 0 ] || /usr/bin/python3 scripts/figures.py
