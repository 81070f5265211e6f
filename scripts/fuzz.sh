#!/usr/bin/env bash
# Build the libFuzzer targets of fuzz/ (clang, ASan + UBSan) into build-fuzz/ and run each.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]        (default 600)
#   FUZZ_TARGETS="fuzz_idx fuzz_wav"  run only these (default: all five)
#   CXX=clang++-15                     another clang (default: clang++-14, else clang++)
#
# Corpora live in build-fuzz/corpus/<target>/ (kept between runs, never committed),
# seeded from fuzz/seeds/<target>/ (committed), the seeds that fuzz/make_seeds.cpp
# writes with the library's own writers, and fuzz/regressions/<target>/. Crash,
# leak, timeout and out-of-memory inputs go to build-fuzz/artifacts/<target>/, logs
# to build-fuzz/logs/. Prints executions, executions/s and corpus size per target;
# exits 1 if any target found something (copy the input to fuzz/regressions/<target>/
# once it is fixed: tests/fuzz/test_fuzz_regressions.cpp replays that folder).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}
OUT=build-fuzz
TARGETS=${FUZZ_TARGETS:-"fuzz_idx fuzz_wav fuzz_checkpoint fuzz_hdf5 fuzz_cli"}

# --- tools -------------------------------------------------------------------
./scripts/deps.sh clang libclang-rt-14-dev pkg-config
if [ -z "${CXX:-}" ]; then
  if command -v clang++-14 >/dev/null; then CXX=clang++-14; else CXX=clang++; fi
fi
mkdir -p "$OUT"/logs "$OUT"/artifacts "$OUT"/corpus "$OUT"/seeds
probe="$OUT/.probe.cpp"
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe"
if ! "$CXX" -fsanitize=fuzzer,address,undefined "$probe" -o "$OUT/.probe" 2>"$OUT/logs/probe.log"; then
  echo "fuzz.sh: $CXX cannot link -fsanitize=fuzzer (see $OUT/logs/probe.log);" \
    "install the clang runtime matching $($CXX --version | head -1), e.g. libclang-rt-14-dev" >&2
  exit 2
fi

EIGEN_CFLAGS=$(pkg-config --cflags eigen3 2>/dev/null || echo -I/usr/include/eigen3)
HDF5_CFLAGS=$(pkg-config --cflags hdf5 2>/dev/null || true)
HDF5_LIBS=$(pkg-config --libs hdf5 2>/dev/null || true)
if [ -z "$HDF5_LIBS" ] && [ -f /usr/include/hdf5/serial/hdf5.h ]; then
  HDF5_CFLAGS=-I/usr/include/hdf5/serial
  HDF5_LIBS="-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5"
fi
BASE=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fopenmp -Iinclude $EIGEN_CFLAGS
      -DEIGEN_DONT_PARALLELIZE -DASRC_HAVE_ZLIB=1 -Wall -Wextra -Wno-unused-parameter)
SAN=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

# Rebuild a binary when it is missing or older than any source it depends on.
stale() { [ ! -x "$1" ] || [ -n "$(find include fuzz -newer "$1" \( -name '*.hpp' -o -name '*.cpp' \) -print -quit)" ]; }

# --- seeds ---------------------------------------------------------------------
have_hdf5=1
[ -n "$HDF5_LIBS" ] || have_hdf5=0
HDF5_FLAGS=()
[ $have_hdf5 = 1 ] && HDF5_FLAGS=(-DASRC_HAVE_HDF5=1 $HDF5_CFLAGS)
if stale "$OUT/make_seeds"; then
  echo "fuzz.sh: building make_seeds"
  "$CXX" "${BASE[@]}" "${HDF5_FLAGS[@]}" fuzz/make_seeds.cpp -o "$OUT/make_seeds" $HDF5_LIBS -lz
fi
rm -rf "$OUT/seeds" && "$OUT/make_seeds" "$OUT/seeds"

# --- targets -------------------------------------------------------------------
max_len() {
  case $1 in
    fuzz_hdf5) echo 16384 ;;  # the seeds are 3-9 KB: HDF5's fixed overhead
    fuzz_cli) echo 1024 ;;
    *) echo 4096 ;;
  esac
}

status=0
summary=()
for t in $TARGETS; do
  extra=()
  libs=(-lz)
  if [ "$t" = fuzz_hdf5 ]; then
    if [ $have_hdf5 = 0 ]; then
      summary+=("$(printf '%-16s skipped: HDF5 not found' "$t")")
      continue
    fi
    extra=("${HDF5_FLAGS[@]}")
    libs+=($HDF5_LIBS)
  fi
  bin="$OUT/$t"
  if stale "$bin"; then
    echo "fuzz.sh: building $t"
    "$CXX" "${BASE[@]}" "${SAN[@]}" "${extra[@]}" "fuzz/$t.cpp" -o "$bin" "${libs[@]}"
  fi
  corpus="$OUT/corpus/$t"
  art="$OUT/artifacts/$t"
  mkdir -p "$corpus" "$art"
  for d in "fuzz/seeds/$t" "$OUT/seeds/$t" "fuzz/regressions/$t"; do
    [ -d "$d" ] && find "$d" -maxdepth 1 -type f ! -name '*.md' -exec cp -n {} "$corpus/" \;
  done
  before=$(find "$art" -type f | wc -l)
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  log="$OUT/logs/$t.log"
  echo "fuzz.sh: running $t for ${SECS}s (log: $log)"
  # LSan: HDF5's own allocations after an error on a hostile file are its business
  # (tests/lsan.supp); asrc's code has no such suppression.
  set +e
  LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "./$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
      -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
  rate=$(grep -h 'stat::average_exec_per_sec' "$log" | awk '{s += $2} END {print s + 0}')
  if [ "$execs" = 0 ]; then  # no final stats (a crash): take the last status line
    execs=$(grep -ho '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    rate=$(grep -ho 'exec/s: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  fi
  size=$(find "$corpus" -type f | wc -l)
  found=$(($(find "$art" -type f | wc -l) - before))
  verdict=ok
  if [ $rc -ne 0 ] || [ $found -gt 0 ]; then
    verdict="FOUND (rc $rc, $found new artifact(s) in $art; see $log)"
    status=1
  fi
  summary+=("$(printf '%-16s %10s execs %7s exec/s  corpus %5s files  %s' "$t" "${execs:-?}" "${rate:-?}" "$size" "$verdict")")
done

echo
echo "fuzz.sh: ${SECS}s per target, $CXX, ASan + UBSan"
printf '%s\n' "${summary[@]}"
exit $status
