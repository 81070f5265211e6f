#!/usr/bin/env bash
# ScSr-SNN (with and without BIP) against SRC and ASRC on the 300 GSC clips vendored in
# tests/data/gsc_mini (205 training, 51 test clips, 12 classes): every model with the same
# epochs, batch, seeds and schedule, in docs/results/scsr/gsc-mini/<model>-seed<S>/, and a
# summary table (summary.md) from their logs.
#
#   scripts/scsr-gsc-mini.sh [--epochs N] [--seeds "0 1 2"] [--threads N]
#
# The set is tiny: it shows that each model trains on real speech features and how the
# models compare at equal settings there, not what they reach on the full GSC.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=30
seeds="0 1 2"
threads=1
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "usage: scripts/scsr-gsc-mini.sh [--epochs N] [--seeds \"0 1 2\"] [--threads N]" >&2; exit 2 ;;
  esac
done
source scripts/build-train.sh
ensure_asrc_train
root=docs/results/scsr/gsc-mini
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
mkdir -p "$root"
# model name, then its flags
models=(
  "scsr|--preset scsr-gsc"
  "scsr-nobip|--preset scsr-gsc --learn-decay=false"
  "src|--preset gsc-src"
  "asrc|--preset gsc-asrc"
)
for m in "${models[@]}"; do
  name=${m%%|*}
  read -r -a flags <<< "${m#*|}"
  for s in $seeds; do
    dir="$root/$name-seed$s"
    rm -rf "$dir"
    "$exe" "${flags[@]}" --dataset-dir tests/data/gsc_mini --cache-dir "$cache" --epochs "$epochs" \
      --batch-size 16 --seed "$s" --threads "$threads" --results-dir "$dir" > "$dir.console.txt" 2>&1 ||
      { cat "$dir.console.txt" >&2; exit 1; }
    mv "$dir.console.txt" "$dir/console.txt"
    rm -f "$dir"/*.ckpt  # small runs: the logs are the record
  done
done
/usr/bin/python3 - "$root" "$epochs" "$seeds" <<'EOF'
import json, sys, statistics as st
root, epochs, seeds = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
rows = []
for name in ["scsr", "scsr-nobip", "src", "asrc"]:
    last, tail, params = [], [], None
    for s in seeds:
        log = [json.loads(l) for l in open(f"{root}/{name}-seed{s}/log.jsonl")]
        last.append(log[-1]["test_acc"])
        tail.append(st.mean(e["test_acc"] for e in log[-5:]))
        for line in open(f"{root}/{name}-seed{s}/console.txt"):
            if line.startswith("parameters:"):
                params = line.split()[1]
    f = lambda v: f"{st.mean(v):.1f} ({min(v):.1f}-{max(v):.1f})"
    rows.append(f"| {name} | {params} | {f(last)} | {f(tail)} |")
with open(f"{root}/summary.md", "w") as out:
    out.write(f"Test accuracy (%) on the 51 test clips of tests/data/gsc_mini after {epochs} epochs, "
              f"batch 16, seeds {', '.join(seeds)}: mean (min-max).\n\n")
    out.write("| model | parameters | last epoch | mean of the last 5 epochs |\n|---|---|---|---|\n")
    out.write("\n".join(rows) + "\n")
print(open(f"{root}/summary.md").read())
EOF
