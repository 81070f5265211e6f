#!/usr/bin/env bash
# asrc-train under mpirun reads only each rank's rows of the SHD HDF5 files (--task shd) or
# only the clips of each rank's shard of the GSC split lists (--task gsc), and trains bitwise
# as one process: log.csv (without its timing columns) and last.ckpt equal those of a
# one-process run. The counterpart of mpi_shard_read.sh (IDX files).
# Each rank r > 0 gets its own copy of the data set in which every row outside its shards of
# the (limited) training and test sets is damaged: SHD rows get label 99 (a read refuses it:
# "labels in [0, 20)") and other units; GSC clips are replaced by garbage (not a WAV file).
# Rank 0 gets such a copy too, at the path the one-process run used (the path is part of
# last.ckpt). A rank that read outside its rows fails, or trains on other data and gives a
# different log.
# With VALID > 0 (--valid-split VALID: a seeded random choice this script does not
# recompute), only the rows past --limit-train / --limit-test are damaged, in every copy.
# Usage: mpi_shard_read_data.sh NP TASK(shd|gsc) VALID ASRC_TRAIN WORKDIR WRITE_SPIKE_SET GSC_MINI MPIEXEC [FLAGS...]
set -u
np=$1 task=$2 valid=$3 train=$4 dir=$5 writer=$6 gsc=$7
shift 7
rm -rf "$dir"
mkdir -p "$dir"
ltrain=61 ltest=25  # --limit-train/--limit-test: shards of the first rows

. "$(dirname "$0")/shard_common.sh"

# GSC: the clips of a split's list in its order (word folders, then files, sorted bytewise;
# gsc_mini has no _background_noise_).
gsc_list() {
  (cd "$1" && LC_ALL=C ls -d [!_.]*/*.wav) | if [ "$2" = train ]; then
    grep -vxFf "$1/testing_list.txt" | grep -vxFf "$1/validation_list.txt"
  else
    grep -xFf "$1/testing_list.txt"
  fi
}

# write_set DIR TRAIN_A TRAIN_B TEST_A TEST_B: the data set, rows outside [A, B) damaged.
write_set() {
  mkdir -p "$1"
  if [ "$task" = shd ]; then
    "$writer" "$1/shd_train.h5" 70 "$2" "$3" 12345 && "$writer" "$1/shd_test.h5" 30 "$4" "$5" 678 ||
      { echo "FAIL: writing $1"; exit 1; }
  else
    cp -r "$gsc"/. "$1"/ && rm -rf "$1/.asrc-cache" || { echo "FAIL: copying $gsc to $1"; exit 1; }
    local split a b i f
    for split in train test; do
      [ $split = train ] && a=$2 b=$3 || a=$4 b=$5
      i=0
      while read -r f; do
        if [ $i -lt "$a" ] || [ $i -ge "$b" ]; then
          rm -f "$1/$f" && printf 'garbage, not a RIFF file' > "$1/$f"
        fi
        i=$((i + 1))
      done < <(gsc_list "$gsc" $split)
    done
  fi
}

args=(--preset "$task-src" --layers 12,12 --epochs 2 --batch-size 16 --chunk-size 4 --threads 1
      --limit-train $ltrain --limit-test $ltest --valid-split $valid --results-dir "$dir/run" --dataset-dir "$dir/data")
write_set "$dir/data" 0 100000 0 100000
"$train" "${args[@]}" > "$dir/one.out" 2>&1 || { cat "$dir/one.out"; echo "FAIL: one process"; exit 1; }
mv "$dir/run" "$dir/one"
mv "$dir/data" "$dir/whole"

rank_copies
# The control: one process reading the whole of rank 1's copy is refused. With VALID, whose
# copies are damaged only past the limits, without them (a limited SHD read stops there).
nolimit=()
[ "$valid" -gt 0 ] && nolimit=(--limit-train 0 --limit-test 0)
ctl=$("$train" "${args[@]:0:${#args[@]}-1}" "$dir/data_r1" --results-dir "$dir/control" "${nolimit[@]}" 2>&1)
if [ "$task" = shd ]; then
  want="labels in \[0, 20) in dataset 'labels' of file '$dir/data_r1/shd_train.h5'"
else
  want="$dir/data_r1/[a-z]*/[^ ]*\.wav"
fi
grep -q "$want" <<<"$ctl" ||
  { echo "$ctl"; echo "FAIL: control: one process reading the whole of rank 1's copy was not refused"; exit 1; }
echo "control: a whole read of rank 1's copy is refused: $(grep -o "expected.*" <<<"$ctl" | head -1)"

out=$("$@" "${mpmd[@]}" 2>&1)
rc=$?
echo "$out" | grep -v "^$" | tail -n 12
[ $rc -eq 0 ] || { echo "FAIL: mpirun -np $np exited with $rc"; exit 1; }
if [ "$valid" -gt 0 ]; then
  want="train: .*shard 0\.\..* of $((ltrain - valid)) on rank 0.*valid: .*shard 0\.\..* of $valid on rank 0"
else
  b=$(shard $ltrain 0 $np | cut -d' ' -f2)
  want="train: .*rows 0\.\.$((b - 1))[ ,].*shard 0\.\.$((b - 1)) of $ltrain on rank 0"
fi
grep -q "$want" <<<"$out" || { echo "FAIL: rank 0 does not describe its shards ($want)"; exit 1; }
grep -q "^data: " <<<"$out" && ! diff <(grep "^data: " "$dir/one.out") <(grep "^data: " <<<"$out") &&
  { echo "FAIL: the data notes (dropped spikes, silence samples) differ from one process"; exit 1; }
compare_with_one_process
