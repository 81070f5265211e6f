#!/usr/bin/env bash
# scripts/tune.py on a stand-in trainer (fake_train.sh: accuracy 10 * skip + epoch): a
# 2-trial study in SQLite, its results table and best command line; the same command
# again continues the study; a pruner stops a trial from its per-epoch log; bad spaces
# are refused. Exit 77 (skipped) without Debian's python3-optuna.
set -uo pipefail
src=$1
py=${ASRC_PYTHON:-/usr/bin/python3}
"$py" -c "import optuna" 2>/dev/null || { echo "python3-optuna missing: skipped"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
tune() { "$py" "$src/scripts/tune.py" --train "$here/fake_train.sh" --poll 0.05 "$@"; }

echo '{"skip": {"type": "int", "low": 1, "high": 4}, "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": true}}' > "$tmp/space.json"
tune --space "$tmp/space.json" --out "$tmp/s" --trials 2 --pruner none -- --epochs 3 > "$tmp/log1" 2>&1 || fail "2-trial study: $(cat "$tmp/log1")"
[ -f "$tmp/s/study.db" ] || fail "no study.db"
[ "$(grep -c ',COMPLETE,' "$tmp/s/trials.csv")" = 2 ] || fail "expected 2 complete trials: $(cat "$tmp/s/trials.csv")"
# The objective is the last epoch's test accuracy: 10 * skip + 2 (no --valid-split).
"$py" - "$tmp/s/trials.csv" <<'PY' || fail "trial values do not match the logs: $(cat "$tmp/s/trials.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert all(float(r["value"]) == 10 * int(r["skip"]) + 2 and r["epochs"] == "3" for r in rows), rows
PY
grep -q -- '^build/examples/asrc-train --epochs 3 .*--lr 0\.0' "$tmp/s/best_command.txt" || fail "best command: $(cat "$tmp/s/best_command.txt")"
best=$("$py" -c "import csv,sys; r=max(csv.DictReader(open(sys.argv[1])), key=lambda r: float(r['value'])); print(r['skip'])" "$tmp/s/trials.csv")
grep -qE -- "--skip $best( |\$)" "$tmp/s/best_command.txt" || fail "best command is not the best trial's (skip $best)"

tune --space "$tmp/space.json" --out "$tmp/s" --trials 3 --pruner none -- --epochs 3 > "$tmp/log2" 2>&1 || fail "resume: $(cat "$tmp/log2")"
[ "$(grep -c ',COMPLETE,' "$tmp/s/trials.csv")" = 3 ] || fail "resumed study should have 3 trials: $(cat "$tmp/s/trials.csv")"
[ "$(grep -c 'tune.py: trial' "$tmp/log2")" = 1 ] || fail "resume ran more than the one missing trial"

# With --valid-split the objective is valid_acc (test - 5 in the stand-in); a threshold
# pruner stops every trial after its first epoch (the stand-in would take 10 s per trial).
echo '{"skip": {"type": "categorical", "choices": [1]}}' > "$tmp/one.json"
FAKE_SLEEP=0.5 tune --space "$tmp/one.json" --out "$tmp/p" --trials 1 --pruner threshold:50 -- --epochs 20 --valid-split 8 > "$tmp/log3" 2>&1 \
  || fail "pruned study: $(cat "$tmp/log3")"
grep -q '^0,PRUNED,5\.0,1,' "$tmp/p/trials.csv" || fail "expected trial 0 pruned at epoch 0 with value 5: $(cat "$tmp/p/trials.csv")"
[ "$(wc -l < "$tmp/p/trial-0000/log.csv")" -lt 5 ] || fail "the pruned trainer was not stopped"

echo '{"skip": {"type": "int", "low": 4, "high": 1}}' > "$tmp/bad.json"
out=$(tune --space "$tmp/bad.json" --out "$tmp/b" --trials 1 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "expected low < high for skip" || fail "bad space accepted: $out"
out=$(tune --space "$tmp/space.json" --out "$tmp/b" --trials 1 -- --skip 3 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "expected the searched flags" || fail "searched flag among fixed accepted: $out"
echo "tune_test: ok"
