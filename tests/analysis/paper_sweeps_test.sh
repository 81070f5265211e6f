#!/usr/bin/env bash
# scripts/paper-sweeps.sh with the stand-in trainer (fake_train.sh): a budget gets its own
# folder (<EPOCHS>ep-<N>k or <EPOCHS>ep-<N>), the sweep's results.csv is copied to FIGDATA
# under the budget's name, a second budget does not touch the first, --collect-only
# collects an interrupted budget without training, and a bad sweep name is refused.
# FIGURES=0: figures.py, which draws into docs/figures, is not run.
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

# An interrupted sweep, then --collect-only: no trainer runs, results.csv says where each
# value stands, and every sweep of the budget is collected although the first is unfinished.
EPOCHS=2 LIMIT_TRAIN=2000 FAKE_INTERRUPT=1 ps lambda-src > "$tmp/log3" 2>&1
[ $? = 130 ] || fail "interrupted sweep: $(cat "$tmp/log3")"
rm "$tmp/fig/sweep-lambda-src-2ep-2k.csv"
EPOCHS=2 LIMIT_TRAIN=2000 ps --collect-only > "$tmp/log4" 2>&1 || true
c=$tmp/fig/sweep-lambda-src-2ep-2k.csv
grep -q '^1,incomplete,1,2,' "$c" && grep -q '^2,not run,0,' "$c" || fail "collected lambda: $(cat "$c" "$tmp/log4")"
[ -f "$tmp/fig/sweep-decay-asrc-2ep-2k.csv" ] || fail "collect stopped before decay-asrc: $(cat "$tmp/log4")"
[ ! -e "$tmp/out/2ep-2k/lambda-src/skip-2" ] || fail "--collect-only ran a value"

out=$(ps bogus 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "expected all, lambda-src, tlambda-asrc or decay-asrc, got 'bogus'" || fail "bad name: $rc $out"
echo "paper_sweeps_test: ok"
