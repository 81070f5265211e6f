#!/usr/bin/env bash
# PROGRAM --version (asrc-train, asrc-analyze, asrc-stream): "NAME VERSION commit C", where C
# is a commit of this repository (12 hex digits, "+modified" when the code had uncommitted
# changes) or "unknown" outside a git checkout.   version_test.sh SOURCE_DIR PROGRAM VERSION
set -uo pipefail
src=$1 exe=$2 version=$3 name=$(basename "$2")
out=$("$exe" --version) || { echo "FAIL: --version exited $?: $out" >&2; exit 1; }
[[ "$out" =~ ^$name\ ${version//./\\.}\ commit\ (([0-9a-f]{12})(\+modified)?|unknown)$ ]] ||
  { echo "FAIL: expected '$name $version commit <commit>', got '$out'" >&2; exit 1; }
commit=${BASH_REMATCH[2]}
if git -C "$src" rev-parse --verify -q HEAD > /dev/null 2>&1; then
  [ -n "$commit" ] || { echo "FAIL: built in a git checkout, but the commit is unknown: '$out'" >&2; exit 1; }
  git -C "$src" cat-file -e "$commit^{commit}" 2> /dev/null ||
    { echo "FAIL: $commit is not a commit of $src" >&2; exit 1; }
fi
echo "version_test: ok ($out)"
