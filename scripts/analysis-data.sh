#!/usr/bin/env bash
# Recreate docs/figures/data/ (the gradient-flow and Eq. 5-7 CSVs, the kernel CSV) from
# MNIST and the committed checkpoints, then every figure (scripts/figures.py). About a
# minute on 2 cores once asrc-analyze is built.
#   scripts/analysis-data.sh [MNIST_DIR]        (default data/mnist)
set -euo pipefail
cd "$(dirname "$0")/.."
mnist=${1:-data/mnist}
A=build/examples/asrc-analyze
[ -x "$A" ] || cmake --build build -j1 --target asrc-analyze
D=docs/figures/data
mkdir -p "$D"
flow() {  # name, then asrc-analyze gradient-flow flags
  local name=$1; shift
  "$A" gradient-flow "$@" --dataset-dir "$mnist" --threads "${THREADS:-1}" \
    --out "$D/gradflow-smnist-$name.csv" --factors "$D/factors-smnist-$name.csv" 2> "$D/gradflow-smnist-$name.txt"
  cat "$D/gradflow-smnist-$name.txt"
}
flow rsnn-init --preset smnist-src --model-version RSNN
flow src-init --preset smnist-src
flow asrc-init --preset smnist-asrc
flow rsnn-trained --checkpoint docs/results/smnist-rsnn-3ep/last.ckpt
flow src-trained --checkpoint docs/results/smnist-src-15ep/best.ckpt
flow src-table1 --checkpoint docs/results/table1/smnist-src/best.ckpt
flow asrc-trained --checkpoint docs/results/smnist-asrc-7ep/best.ckpt
"$A" kernels docs/results/smnist-asrc-7ep/log.jsonl --out "$D/kernels-smnist-asrc-7ep.csv"
scripts/figures.py
