#!/usr/bin/env bash
# Figs. 2-4 of the paper on PS-MNIST with a schedule shortened to fit a 2-core CPU:
#   Fig. 2  SRC   lambda   in {1, 2, 4, 8, 12, 16, 24, 32}      (psmnist-src)
#   Fig. 3  ASRC  T_lambda in {6, 11, 21, 31, 41, 51}           (psmnist-asrc)
#   Fig. 4  ASRC  alpha    in {0.2, 0.3, 0.5, 0.7, 0.9}          (psmnist-asrc, --decay-para)
# The paper trained each point for 200 epochs on all 60,000 images. Here: EPOCHS epochs
# (default 5) of the first LIMIT_TRAIN training images (default 20000), the full test set,
# and the ASRC temperature decay shortened with it (de_tau^EPOCHS = 0.96^200, so training
# ends as hard as the published schedule). Resumable (scripts/sweep.sh); the results land
# in OUT (default results/paper-sweeps/; TRAIN names the asrc-train binary) and are
# copied to docs/figures/data/sweep-*.csv, from which scripts/figures.py draws
# lambda-sweep.png, tlambda-sweep.png and decay-sweep.png.
# Expect roughly an hour per sweep on 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-5}
LIMIT_TRAIN=${LIMIT_TRAIN:-20000}
THREADS=${THREADS:-2}
DATA=${DATA:-data/mnist}
OUT=${OUT:-results/paper-sweeps}
TRAIN=${TRAIN:-build/examples/asrc-train}
DE_TAU=$(awk -v e="$EPOCHS" 'BEGIN { printf "%.6g", exp(200 * log(0.96) / e) }')
common=(--epochs "$EPOCHS" --limit-train "$LIMIT_TRAIN" --dataset-dir "$DATA" --threads "$THREADS")
which=${1:-all}
run() {  # name flag values preset [extra flags]
  local name=$1 flag=$2 values=$3 preset=$4; shift 4
  [ "$which" = all ] || [ "$which" = "$name" ] || return 0
  scripts/sweep.sh --flag "$flag" --values "$values" --out "$OUT/$name" --train "$TRAIN" -- --preset "$preset" "${common[@]}" "$@"
  cp "$OUT/$name/results.csv" "docs/figures/data/sweep-$name.csv"
}
run lambda-src skip 1,2,4,8,12,16,24,32 psmnist-src
run tlambda-asrc skip 6,11,21,31,41,51 psmnist-asrc --de-tau "$DE_TAU"
run decay-asrc decay-para 0.2,0.3,0.5,0.7,0.9 psmnist-asrc --de-tau "$DE_TAU"
scripts/figures.py
