#!/usr/bin/env bash
# A stand-in for asrc-train in the sweep.sh test: writes config.txt, log.csv (test_acc =
# 10 * skip + epoch) and last.ckpt like the trainer. With FAKE_INTERRUPT=<skip> it stops
# after one epoch with status 130 (as SIGINT would) the first time; FAKE_FAIL=<skip> exits 3;
# FAKE_SLEEP=<seconds> waits after each epoch (so that a pruner can stop it).
set -euo pipefail
dir="" epochs=3 skip=1 resume=""
while [ $# -gt 0 ]; do
  case "$1" in
    --results-dir) dir=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    --resume) resume=$2; shift 2 ;;
    --valid-split|--*) shift 2 ;;
    *) echo "fake_train: unexpected $1" >&2; exit 2 ;;
  esac
done
if [ -n "$resume" ]; then
  dir=$resume
  epochs=$(awk '$1 == "--epochs" { print $2 }' "$dir/config.txt")
  skip=$(awk '$1 == "--skip" { print $2 }' "$dir/config.txt")
  echo "resumed" >> "$dir/resumed.txt"
else
  mkdir -p "$dir"
  printf -- '--epochs %s\n--skip %s\n' "$epochs" "$skip" > "$dir/config.txt"
  echo "epoch,lr,test_acc,valid_acc,best_acc,best_epoch,seconds" > "$dir/log.csv"
fi
[ "${FAKE_FAIL:-}" = "$skip" ] && { echo "fake_train: failing as asked" >&2; exit 3; }
start=$(( $(wc -l < "$dir/log.csv") - 1 ))
for ((e = start; e < epochs; e++)); do
  acc=$((10 * skip + e))
  echo "$e,0.001,$acc,$((acc - 5)),$acc,$e,1.0" >> "$dir/log.csv"
  touch "$dir/last.ckpt"
  if [ "${FAKE_INTERRUPT:-}" = "$skip" ] && [ ! -f "$dir/resumed.txt" ]; then exit 130; fi
  sleep "${FAKE_SLEEP:-0}"
done
