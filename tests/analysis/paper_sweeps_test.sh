#!/usr/bin/env bash
# scripts/paper-sweeps.sh with the stand-in trainer (fake_train.sh): a budget gets its own
# folder (<EPOCHS>ep-<N>k or <EPOCHS>ep-<N>), the sweep's results.csv is copied to FIGDATA
# under the budget's name, a second budget does not touch the first, and a bad sweep name
# is refused. FIGURES=0: figures.py, which draws into docs/figures, is not run.
. "$(dirname "$0")/shell_test.sh" "$1"
ps() { FIGURES=0 OUT="$tmp/out" FIGDATA="$tmp/fig" TRAIN="$here/fake_train.sh" THREADS=1 DATA=/nonexistent "$src/scripts/paper-sweeps.sh" "$@"; }
mkdir -p "$tmp/fig"

EPOCHS=2 LIMIT_TRAIN=3000 ps lambda-src > "$tmp/log1" 2>&1 || fail "first budget: $(cat "$tmp/log1")"
csv=$tmp/out/2ep-3k/lambda-src/results.csv
[ -f "$csv" ] || fail "no $csv"
[ "$(grep -c ',done,2,2,' "$csv")" = 8 ] || fail "expected 8 finished lambdas: $(cat "$csv")"
grep -q '^16,done,2,2,161,1,161,' "$csv" || fail "lambda 16: $(cat "$csv")"
cmp -s "$csv" "$tmp/fig/sweep-lambda-src-2ep-3k.csv" || fail "results.csv not copied to FIGDATA"
[ ! -e "$tmp/out/2ep-3k/tlambda-asrc" ] || fail "lambda-src alone ran tlambda-asrc"

EPOCHS=3 LIMIT_TRAIN=1500 ps lambda-src > "$tmp/log2" 2>&1 || fail "second budget: $(cat "$tmp/log2")"
[ "$(grep -c ',done,3,3,' "$tmp/out/3ep-1500/lambda-src/results.csv")" = 8 ] || fail "second budget not finished"
[ "$(grep -c ',done,2,2,' "$csv")" = 8 ] || fail "the second budget changed the first"
[ -f "$tmp/fig/sweep-lambda-src-3ep-1500.csv" ] || fail "second budget's CSV missing"

out=$(ps bogus 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "expected all, lambda-src, tlambda-asrc or decay-asrc, got 'bogus'" || fail "bad name: $rc $out"
echo "paper_sweeps_test: ok"
