#!/usr/bin/env bash
# A bad data file on one rank only ends the run on every rank, with the file named, and
# does not hang the others (ctest's timeout fails a hang).
# Usage: mpi_bad_file.sh ASRC_TRAIN WORKDIR MPIEXEC [MPIEXEC FLAGS...]
set -u
train=$1 dir=$2
shift 2
rm -rf "$dir"
mkdir -p "$dir/good" "$dir/bad"
be32() { printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
for split in train t10k; do
  n=64
  { printf '\x00\x00\x08\x03'; be32 $n; be32 28; be32 28; head -c $((n * 784)) /dev/urandom; } > "$dir/good/$split-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01'; be32 $n; head -c $n /dev/zero; } > "$dir/good/$split-labels-idx1-ubyte"
done
cp "$dir"/good/* "$dir/bad/"
head -c 1000 "$dir/good/train-images-idx3-ubyte" > "$dir/bad/train-images-idx3-ubyte"  # truncated

args=(--preset smnist-src --epochs 1 --threads 1 --batch-size 32 --results-dir "$dir/results")
# Rank 0 reads the good copy and goes on to train (and waits for rank 1 in the first
# collective); rank 1 reads the truncated one.
out=$("$@" -np 1 "$train" "${args[@]}" --dataset-dir "$dir/good" : -np 1 "$train" "${args[@]}" --dataset-dir "$dir/bad" 2>&1)
rc=$?
echo "$out"
echo "exit status: $rc"
[ $rc -ne 0 ] || { echo "FAIL: the run succeeded despite a truncated file"; exit 1; }
grep -q "error on rank 1 of 2: .*$dir/bad/train-images-idx3-ubyte" <<<"$out" ||
  { echo "FAIL: rank 1's message naming the bad file is missing"; exit 1; }
echo PASS
