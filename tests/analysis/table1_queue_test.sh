#!/usr/bin/env bash
# scripts/table1-queue.sh (through scripts/reproduce.sh) with the stand-in trainer
# (fake_train.sh, 3 epochs a row): a finished row is passed over with its files untouched,
# an interrupted row stops the queue with its status and continues on the next call, the
# rows run in table1.py's queue order with their own flags (the clean-protocol row's
# --valid-split), each command is recorded with the commit the binary reports, and a call
# with every row finished starts nothing.
. "$(dirname "$0")/shell_test.sh" "$1"
mkdir -p "$tmp/build/examples"
cat > "$tmp/build/examples/asrc-train" <<EOS
#!/usr/bin/env bash
[ "\$1" = --version ] && { echo "asrc-train 0.0.0 commit fake1234"; exit 0; }
echo "\$*" >> "$tmp/calls"
exec "$here/fake_train.sh" "\$@"
EOS
chmod +x "$tmp/build/examples/asrc-train"
q() { BUILD_DIR="$tmp/build" "$src/scripts/table1-queue.sh" --root "$tmp/t1" --dataset-dir /nonexistent "$@"; }

# The first row finished already (3 of 3 epochs).
mkdir -p "$tmp/t1/smnist-src"
printf -- '--epochs 3\n' > "$tmp/t1/smnist-src/config.txt"
printf 'epoch,test_acc\n0,1\n1,2\n2,3\n' > "$tmp/t1/smnist-src/log.csv"
echo "old" > "$tmp/t1/smnist-src/console.txt"

FAKE_INTERRUPT=1 q --threads 1 > "$tmp/log1" 2>&1; rc=$?
[ "$rc" = 130 ] || fail "interrupted row: expected status 130, got $rc: $(cat "$tmp/log1")"
[ "$(cat "$tmp/t1/smnist-src/console.txt")" = old ] || fail "the finished row's console.txt changed"
grep -q "smnist-src: finished (3 of 3 epochs)" "$tmp/log1" || fail "no finished message: $(cat "$tmp/log1")"
[ "$(wc -l < "$tmp/calls")" = 1 ] && grep -q -- "--preset psmnist-asrc --results-dir $tmp/t1/psmnist-asrc" "$tmp/calls" ||
  fail "expected one call, psmnist-asrc: $(cat "$tmp/calls")"
[ ! -e "$tmp/t1/smnist-asrc" ] || fail "the queue went on after an interrupted row"

q --threads 1 > "$tmp/log2" 2>&1 || fail "second call: $(cat "$tmp/log2")"
want="psmnist-asrc smnist-asrc psmnist-src smnist-src-valid5000 smnist-src-212 psmnist-src-212 psmnist-asrc-212"
got=$(tail -n +2 "$tmp/calls" | sed -E 's/.*(--results-dir|--resume) [^ ]*\/([^ /]+) .*/\2/' | tr '\n' ' ')
[ "$got" = "$want " ] || fail "row order: expected '$want', got '$got'"
grep -q -- "--resume $tmp/t1/psmnist-asrc " "$tmp/calls" || fail "psmnist-asrc did not resume: $(cat "$tmp/calls")"
grep -q -- "--preset smnist-src --results-dir $tmp/t1/smnist-src-valid5000 --valid-split 5000 --dataset-dir /nonexistent --threads 1" \
  "$tmp/calls" || fail "clean-protocol row's flags: $(cat "$tmp/calls")"
for r in $want; do [ "$(wc -l < "$tmp/t1/$r/log.csv")" = 4 ] || fail "$r not finished"; done
grep -q "every row is finished" "$tmp/log2" || fail "no closing message: $(cat "$tmp/log2")"
# Each '+' line of console.txt names the commit the binary says it was built from.
[ "$(grep -c '^+ [0-9T:Z-]* fake1234 ' "$tmp/t1/psmnist-asrc/console.txt")" = 2 ] ||
  fail "console.txt '+' lines: $(cat "$tmp/t1/psmnist-asrc/console.txt")"

n=$(wc -l < "$tmp/calls")
q > "$tmp/log3" 2>&1 || fail "third call: $(cat "$tmp/log3")"
[ "$(wc -l < "$tmp/calls")" = "$n" ] || fail "a finished queue started a run"
echo "table1_queue_test: ok"
