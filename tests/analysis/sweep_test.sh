#!/usr/bin/env bash
# scripts/sweep.sh with a stand-in trainer (fake_train.sh): results per value, an
# interrupted value resumed and finished ones skipped on the second call, each command
# recorded in console.txt, a failing value reported, usage errors refused.
. "$(dirname "$0")/shell_test.sh" "$1"
sweep() { "$src/scripts/sweep.sh" --train "$here/fake_train.sh" "$@"; }

FAKE_INTERRUPT=2 sweep --flag skip --values 1,2,3 --out "$tmp/s" -- --epochs 3 > "$tmp/log1" 2>&1
rc=$?
[ "$rc" = 130 ] || fail "interrupted sweep: expected exit 130, got $rc"
grep -q '^1,done,3,3,12,2,12,' "$tmp/s/results.csv" || fail "value 1 not done: $(cat "$tmp/s/results.csv")"
grep -q '^2,incomplete,1,3,' "$tmp/s/results.csv" || fail "value 2 not incomplete: $(cat "$tmp/s/results.csv")"
grep -q '^3,not run,0,' "$tmp/s/results.csv" || fail "value 3 should not have run: $(cat "$tmp/s/results.csv")"

FAKE_INTERRUPT=2 sweep --flag skip --values 1,2,3 --out "$tmp/s" -- --epochs 3 > "$tmp/log2" 2>&1
rc=$?
[ "$rc" = 0 ] || fail "resumed sweep: expected exit 0, got $rc: $(cat "$tmp/log2")"
grep -q -- '--skip 1: done already' "$tmp/log2" || fail "value 1 was not skipped"
grep -q -- '--skip 2: resuming' "$tmp/log2" || fail "value 2 was not resumed"
[ "$(wc -l < "$tmp/s/skip-2/log.csv")" = 4 ] || fail "value 2 should have 3 epochs after resuming"
# Its console.txt has a '+' line per command: the stand-in has no --version, so the checkout's
# commit stands in, marked as such.
[ "$(grep -c -- "^+ [0-9T:Z-]* checkout-[0-9a-f?]* $here/fake_train.sh --resume $tmp/s/skip-2\$" "$tmp/s/skip-2/console.txt")" = 1 ] ||
  fail "value 2's console.txt: $(cat "$tmp/s/skip-2/console.txt")"
for v in 1 2 3; do
  grep -q "^$v,done,3,3,$((10 * v + 2)),2,$((10 * v + 2))," "$tmp/s/results.csv" || fail "value $v: $(cat "$tmp/s/results.csv")"
done

FAKE_FAIL=5 sweep --flag skip --values 4,5 --out "$tmp/f" -- --epochs 2 > "$tmp/log3" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "failing value: expected exit 1, got $rc"
grep -q '^4,done,2,2,41,1,41,' "$tmp/f/results.csv" || fail "value 4: $(cat "$tmp/f/results.csv")"
grep -q '^5,failed (exit 3),' "$tmp/f/results.csv" || fail "value 5 not failed: $(cat "$tmp/f/results.csv")"

out=$(sweep --flag skip --values 1 --out "$tmp/u" -- --skip 3 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "expected the swept flag --skip" || fail "swept flag among the fixed flags accepted: $out"
out=$(sweep --values 1 --out "$tmp/u" 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "expected --flag NAME" || fail "missing --flag accepted: $out"
echo "sweep_test: ok"
