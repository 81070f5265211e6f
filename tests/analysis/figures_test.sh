#!/usr/bin/env bash
# scripts/figures.py on tiny inputs (a 3-epoch log, two short gradient-flow CSVs, a sweep
# table), then every figure from the committed data into a temporary folder. Exit 77
# (skipped) without Debian's python3-matplotlib and python3-numpy.
set -uo pipefail
src=$1
py=${ASRC_PYTHON:-/usr/bin/python3}
"$py" -c "import matplotlib, numpy" 2>/dev/null || { echo "python3-matplotlib/numpy missing: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
fig() { "$py" "$src/scripts/figures.py" "$@"; }
is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && [ "$(wc -c < "$1")" -gt 5000 ]; }

for e in 0 1 2; do
  echo "{\"epoch\": $e, \"tau\": 1, \"test_acc\": $((20 * e + 10)), \"lags\": [$((e + 1)), 2], \"skip_kernels\": [[0.1, 0.2, 0.3, 0.4], [0.25, 0.5, 0.125, 0.125]]}"
done > "$tmp/log.jsonl"
printf 'epoch,train_acc,test_acc,best_acc\n0,11,10,10\n1,31,30,30\n2,52,50,50\n' > "$tmp/log.csv"
for m in rsnn src; do
  echo "layer,t,k,grad_norm,grad_norm_last_step" > "$tmp/$m.csv"
  for l in 0 1; do for t in $(seq 0 49); do
    k=$((49 - t))
    if [ $m = rsnn ]; then v=$(awk -v k=$k 'BEGIN { printf "%.6e", (k > 40 ? 0 : 0.5 ^ k) }'); else v=$(awk -v k=$k 'BEGIN { printf "%.6e", 0.9 ^ k }'); fi
    echo "$l,$t,$k,$v,$v" >> "$tmp/$m.csv"
  done; done
done
printf 'value,status,epochs_done,epochs,best_acc,best_epoch,last_acc,dir\n1,done,3,3,80,2,79,x\n4,done,3,3,90,1,88,y\n8,failed (exit 3),1,3,50,0,50,z\n' > "$tmp/sweep.csv"

fig kernels --log "$tmp/log.jsonl" --out "$tmp/k.png" || fail "kernels"
is_png "$tmp/k.png" || fail "kernels.png is not a PNG"
fig accuracy --log "ASRC=$tmp/log.csv" --out "$tmp/a.png" || fail "accuracy"
is_png "$tmp/a.png" || fail "accuracy.png is not a PNG"
fig gradient-flow --init "RSNN=$tmp/rsnn.csv" "SRC=$tmp/src.csv" --trained "SRC=$tmp/src.csv" --out "$tmp/g.png" || fail "gradient-flow"
is_png "$tmp/g.png" || fail "gradient-flow.png is not a PNG"
fig sweep --csv "SRC=$tmp/sweep.csv" --param lambda --out "$tmp/s.png" || fail "sweep"
is_png "$tmp/s.png" || fail "sweep png is not a PNG"
fig sweep --csv "SRC=$tmp/sweep.csv" --param lambda --reference "best SRC=85.5" --out "$tmp/r.png" || fail "sweep --reference"
is_png "$tmp/r.png" || fail "sweep --reference png is not a PNG"
cmp -s "$tmp/s.png" "$tmp/r.png" && fail "--reference drew nothing"
out=$(fig sweep --csv "$tmp/sweep.csv" --param x --reference "best=abc" --out "$tmp/x.png" 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "expected LABEL=ACCURACY" || fail "bad --reference accepted: $out"
out=$(fig sweep --csv "$tmp/sweep.csv" --param x --reference "best=200" --out "$tmp/x.png" 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "accuracy in \[0, 100\]" || fail "--reference above 100 % accepted: $out"

printf 'layer,t\n0,1\n' > "$tmp/bad.csv"
out=$(fig gradient-flow --init "RSNN=$tmp/bad.csv" --out "$tmp/x.png" 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "expected layer,t,k,grad_norm,grad_norm_last_step" || fail "bad CSV accepted: $out"
out=$(fig kernels --log "$tmp/log.csv" --out "$tmp/x.png" 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "expected JSON" || fail "a CSV taken for a JSON log: $out"
[ ! -e "$tmp/x.png" ] || fail "a figure was drawn from bad data"

# Every figure from the committed data (the README's command), into a scratch folder.
fig all --out "$tmp/all" > "$tmp/all.log" 2>&1 || fail "figures.py all: $(cat "$tmp/all.log")"
for f in gradient-flow kernels accuracy; do is_png "$tmp/all/$f.png" || fail "all: $f.png missing"; done
echo "figures_test: ok"
