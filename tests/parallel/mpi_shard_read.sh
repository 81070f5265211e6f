#!/usr/bin/env bash
# asrc-train under mpirun reads only each rank's rows of the IDX files and trains bitwise as
# one process: log.csv (without its timing columns) and last.ckpt (every byte: parameters,
# optimizer state, generators, configuration) equal those of a one-process run.
# Each rank r > 0 gets its own copy of the data set in which every row outside its shards of
# the (limited) training and test sets is damaged: its label is 255 (a whole read refuses
# it: "labels in 0..9") and its pixels differ. Rank 0 gets such a copy too, at the path the
# one-process run used (the path is part of last.ckpt). A rank that read outside its rows
# fails, or trains on other pixels and gives a different log.
# With VALID > 0 (--valid-split VALID: the held-out rows are a seeded random choice, which
# this script does not recompute), only the rows past --limit-train / --limit-test are
# damaged, in every rank's copy: a rank that loaded a whole file would refuse them.
# Usage: mpi_shard_read.sh NP TASK GZIP(0|1) VALID ASRC_TRAIN WORKDIR MPIEXEC [MPIEXEC FLAGS...]
set -u
np=$1 task=$2 gz=$3 valid=$4 train=$5 dir=$6
shift 6
rm -rf "$dir"
mkdir -p "$dir"
ntrain=70 ntest=30 ltrain=61 ltest=25  # --limit-train/--limit-test: shards of the first rows

# write_set DIR TRAIN_A TRAIN_B TEST_A TEST_B: the data set, rows outside [A, B) damaged.
write_set() {
  perl -e '
    my ($out, $gz, @keep) = @ARGV;
    my %n = (train => '$ntrain', t10k => '$ntest');
    my %k = (train => [@keep[0, 1]], t10k => [@keep[2, 3]]);
    for my $s ("train", "t10k") {
      my $n = $n{$s};
      my ($a, $b) = @{$k{$s}};
      my ($img, $lab) = (pack("CCCCNNN", 0, 0, 8, 3, $n, 28, 28), pack("CCCCN", 0, 0, 8, 1, $n));
      my $x = ($s eq "train") ? 12345 : 678;
      for my $i (0 .. $n - 1) {
        my $bad = $i < $a || $i >= $b;
        for my $p (0 .. 783) {
          $x = ($x * 1103515245 + 12345) % 2147483648;
          my $v = ($x >> 16) % 256;
          $v = ($v < 128) ? 0 : $v;                     # sparse, like digits
          $img .= chr($bad ? (($v + 97) % 256) : $v);
        }
        $x = ($x * 1103515245 + 12345) % 2147483648;
        $lab .= chr($bad ? 255 : ($x >> 16) % 10);
      }
      for (["$s-images-idx3-ubyte", $img], ["$s-labels-idx1-ubyte", $lab]) {
        open(my $f, ">:raw", "$out/$_->[0]") or die "$out/$_->[0]: $!";
        print $f $_->[1];
        close $f;
        system("gzip", "-n", "$out/$_->[0]") == 0 or die "gzip" if $gz;
      }
    }' "$1" "$gz" "$2" "$3" "$4" "$5" || { echo "FAIL: writing $1"; exit 1; }
}
. "$(dirname "$0")/shard_common.sh"

args=(--preset "$task-src" --task "$task" --layers 12,12 --epochs 2 --batch-size 16 --chunk-size 4 --threads 1
      --limit-train $ltrain --limit-test $ltest --valid-split $valid --results-dir "$dir/run" --dataset-dir "$dir/data")
mkdir -p "$dir/data"
write_set "$dir/data" 0 $ntrain 0 $ntest
"$train" "${args[@]}" > "$dir/one.out" 2>&1 || { cat "$dir/one.out"; echo "FAIL: one process"; exit 1; }
mv "$dir/run" "$dir/one"
mv "$dir/data" "$dir/whole"

# The damaged copies; the control: a whole read of rank 1's copy is refused.
rank_copies
ctl=$("$train" "${args[@]:0:${#args[@]}-1}" "$dir/data_r1" --results-dir "$dir/control" 2>&1)
grep -q "labels in 0..9 in file '$dir/data_r1/train-labels-idx1-ubyte" <<<"$ctl" ||
  { echo "$ctl"; echo "FAIL: control: one process reading the whole of rank 1's copy was not refused"; exit 1; }
echo "control: a whole read of rank 1's copy is refused: $(grep -o "expected labels.*" <<<"$ctl")"

out=$("$@" "${mpmd[@]}" 2>&1)
rc=$?
echo "$out" | grep -v "^$" | tail -n 12
[ $rc -eq 0 ] || { echo "FAIL: mpirun -np $np exited with $rc"; exit 1; }
if [ "$valid" -gt 0 ]; then
  want="training split ($(($(shard $((ltrain - valid)) 0 $np | cut -d' ' -f2))) chosen rows from row [0-9]*), shard 0\.\..* of $((ltrain - valid)) on rank 0"
else
  want="rows 0\.\.$(($(shard $ltrain 0 $np | cut -d' ' -f2) - 1)) .*shard 0\.\..* of $ltrain on rank 0"
fi
grep -q "$want" <<<"$out" || { echo "FAIL: rank 0 does not describe its training shard ($want)"; exit 1; }
if [ "$valid" -gt 0 ]; then
  grep -q "valid: S-MNIST validation split\|valid: PS-MNIST validation split" <<<"$out" &&
    grep -q "shard 0\.\..* of $valid on rank 0" <<<"$out" || { echo "FAIL: rank 0 does not describe its validation shard"; exit 1; }
fi
compare_with_one_process
