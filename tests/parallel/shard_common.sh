# Shared by mpi_shard_read.sh (IDX) and mpi_shard_read_data.sh (SHD, GSC); sourced, not run.
# The caller sets np, dir, valid, ltrain, ltest, train and args (asrc-train's flags, ending
# with --dataset-dir DIR) and defines write_set DIR TRAIN_A TRAIN_B TEST_A TEST_B.

# rank_chunks(N, r, P) of communicator.hpp: "first last"
shard() { local n=$1 r=$2 p=$3 q=$(($1 / $3)) m=$(($1 % $3)); local a=$((r * q + (r < m ? r : m))); echo "$a $((a + q + (r < m ? 1 : 0)))"; }

# Each rank's damaged copy of the data set, and the mpirun app contexts that read them
# (into the array mpmd): rank 0's copy sits where the one-process run read (the path is
# part of last.ckpt).
rank_copies() {
  mpmd=()
  local r d
  for ((r = 0; r < np; r++)); do
    d="$dir/data_r$r"
    [ $r -eq 0 ] && d="$dir/data"
    mkdir -p "$d"
    if [ "$valid" -gt 0 ]; then
      write_set "$d" 0 $ltrain 0 $ltest
    else
      write_set "$d" $(shard $ltrain $r $np) $(shard $ltest $r $np)
    fi
    [ $r -gt 0 ] && mpmd+=(:)
    mpmd+=(-np 1 "$train" "${args[@]:0:${#args[@]}-1}" "$d")
    [ "$valid" -gt 0 ] && echo "rank $r of $np: rows past the limits damaged in $d" ||
    echo "rank $r of $np: training rows [$(shard $ltrain $r $np | tr ' ' ,)) and test rows [$(shard $ltest $r $np | tr ' ' ,)) intact in $d"
  done
}

# log.csv (without its timing columns) and every byte of last.ckpt equal the one-process run's.
compare_with_one_process() {
  strip() { cut -d, -f1-13,16- "$1"; }  # without seconds and samples_per_s
  if ! diff <(strip "$dir/one/log.csv") <(strip "$dir/run/log.csv"); then
    echo "FAIL: log.csv of $np ranks differs from one process"; exit 1
  fi
  cmp "$dir/one/last.ckpt" "$dir/run/last.ckpt" || { echo "FAIL: last.ckpt of $np ranks differs from one process"; exit 1; }
  echo "log.csv ($(($(wc -l < "$dir/run/log.csv") - 1)) epochs) and last.ckpt ($(wc -c < "$dir/run/last.ckpt") bytes) equal one process"
  echo PASS
}
