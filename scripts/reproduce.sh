#!/usr/bin/env bash
# Run one Table 1 row at the paper's protocol (the preset as it is: 200 epochs on
# (PS-)MNIST, seed 0), or continue it, in docs/results/table1/<row>/.
#
#   scripts/reproduce.sh PRESET [asrc-train flags...]
#   scripts/reproduce.sh smnist-src --threads 1 --time-limit 170
#   scripts/reproduce.sh smnist-src --valid-split 5000 --row smnist-src-valid5000
#   scripts/reproduce.sh zeng-smnist-7 --root docs/results/zeng --epochs 20
#
# The folder keeps config.txt, log.csv, log.jsonl, console.txt (appended), last.ckpt and
# best.ckpt: commit it and anyone can continue the run with the same command. When
# last.ckpt is there the run resumes from it (only run-time flags such as --threads,
# --dataset-dir, --time-limit apply then). --row NAME names the folder (default: PRESET);
# --root DIR puts it under DIR instead of docs/results/table1 (other studies than Table 1).
# Exit status: asrc-train's (0 done, 75 --time-limit reached, 130 interrupted).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [[ "$1" == -* ]]; then
  echo "usage: scripts/reproduce.sh PRESET [--row NAME] [asrc-train flags...]" >&2
  exit 2
fi
preset=$1
shift
row=$preset
root=docs/results/table1
flags=()
while [ $# -gt 0 ]; do
  if [ "$1" == "--row" ]; then
    [ $# -ge 2 ] || { echo "reproduce.sh: --row needs a name" >&2; exit 2; }
    row=$2
    shift 2
  elif [ "$1" == "--root" ]; then
    [ $# -ge 2 ] || { echo "reproduce.sh: --root needs a folder" >&2; exit 2; }
    root=$2
    shift 2
  else
    flags+=("$1")
    shift
  fi
done
case "$row" in */* | .* | "") echo "reproduce.sh: a plain folder name for --row, got '$row'" >&2; exit 2 ;; esac
dir="$root/$row"
source scripts/run-folder.sh
if is_done "$dir"; then  # leaves a finished row's files as they are
  echo "reproduce.sh: $dir: finished ($(logged "$dir") of $(planned "$dir") epochs)"
  exit 0
fi

source scripts/build-train.sh
ensure_asrc_train
# MNIST rows read data/mnist unless --dataset-dir says otherwise.
data=(--dataset-dir data/mnist)
for f in "${flags[@]}"; do [[ "$f" == --dataset-dir* ]] && data=(); done
if [ ${#data[@]} -gt 0 ] && [[ "$preset" == *mnist* ]] && [ ! -e data/mnist/t10k-labels-idx1-ubyte ]; then
  ./scripts/get_mnist.sh data/mnist
fi

mkdir -p "$dir"
if [ -f "$dir/last.ckpt" ]; then
  cmd=("$exe" --resume "$dir" "${data[@]}" "${flags[@]}")
else
  cmd=("$exe" --preset "$preset" --results-dir "$dir" "${data[@]}" "${flags[@]}")
fi
record_command "$dir" "${cmd[@]}"
# tee -i: a Ctrl-C reaches asrc-train, which finishes its batch and writes last.ckpt;
# tee must keep reading until then.
set +e
"${cmd[@]}" 2>&1 | tee -i -a "$dir/console.txt"
status=${PIPESTATUS[0]}
set -e
exit "$status"
