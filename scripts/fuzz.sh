#!/usr/bin/env bash
# Build the libFuzzer targets of fuzz/ (clang, ASan + UBSan) into build-fuzz/ and run each.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]        (default 600)
#   FUZZ_TARGETS="fuzz_idx fuzz_wav"  run only these (default: all five)
#   CXX=clang++-15                     another clang (default: clang++-14, else clang++)
#   FUZZ_STRICT=1                      also fail on inputs that crash inside libhdf5 itself
#
# Corpora live in build-fuzz/corpus/<target>/ (kept between runs, never committed),
# seeded from fuzz/seeds/<target>/ (committed), the seeds that fuzz/make_seeds.cpp
# writes with the library's own writers, and fuzz/regressions/<target>/. Crash,
# leak, timeout and out-of-memory inputs go to build-fuzz/artifacts/<target>/, logs
# to build-fuzz/logs/. Prints executions, executions/s and corpus size per target;
# exits 1 if any target found something in asrc's code (copy the input to
# fuzz/regressions/<target>/ once it is fixed: tests/fuzz/test_fuzz_regressions.cpp
# replays that folder). fuzz_hdf5 runs in fork mode and goes on after a crash; inputs
# that crash or hang inside libhdf5 are listed but do not fail (fuzz/README.md).
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
rm -rf "$OUT/tmp"
mkdir -p "$OUT"/logs "$OUT"/artifacts "$OUT"/corpus "$OUT"/seeds "$OUT"/tmp
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

# malloc() of more than 1 GiB returns NULL (C libraries such as HDF5 and zlib then fail
# cleanly) while operator new of more than 1 GiB -- asrc's own buffers -- is still
# reported. LSan: memory HDF5 itself loses on a hostile file is suppressed
# (tests/lsan.supp); leaks of asrc's own allocations are not.
# Temporary files (the inputs written for the readers, fork-mode job dirs) go to
# build-fuzz/tmp/, so what a crashed run leaves behind stays there.
run_target() {
  TMPDIR="$PWD/$OUT/tmp" \
  ASAN_OPTIONS="allocator_may_return_null=1:max_allocation_size_mb=1024:${ASAN_OPTIONS:-}" \
  LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1" \
    "./$@"
}

# Replay one found input and name the first stack frame that is neither the fuzzing /
# sanitizer runtime nor libc / libstdc++: "third-party (libhdf5 ...)" or "asrc (...)".
blame() {
  local out frame rc=0
  out=$(run_target "$1" -timeout=10 -rss_limit_mb=2048 "$2" 2>&1) || rc=$?
  if [ $rc -eq 0 ]; then
    echo "asrc?: does not reproduce when replayed alone (load-dependent timeout, or state of earlier inputs)"
    return
  fi
  frame=$(printf '%s\n' "$out" | awk '/^ *#[0-9]+ 0x/ {
      if ($0 ~ /__sanitizer|__asan|__lsan|__ubsan|__interceptor|fuzzer::|LLVMFuzzer|sysdeps\/| in __mem(cpy|move|set|cmp)| in (malloc|calloc|realloc|free|operator new|operator delete)|libc\.so|libstdc\+\+|libgcc_s/) next
      print; exit }')
  local what
  what=$(printf '%s\n' "$out" | grep -m1 -oE "throwing an instance of '[^']*'|ERROR: [A-Za-z]+: [A-Za-z0-9 -]+|runtime error: .*|timeout after [0-9]+ seconds|out-of-memory \\([^)]*\\)" || echo "?")
  frame=$(printf '%s' "$frame" | sed -E 's/^ *#[0-9]+ 0x[0-9a-f]+ //; s/ \(BuildId.*//' | cut -c1-140)
  case $frame in
    *libhdf5*|*libz.so*) echo "third-party: $what at $frame" ;;
    *) echo "asrc: $what at ${frame:-?}" ;;
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
  marker="$OUT/.started-$t"
  touch "$marker"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  # HDF5 itself crashes and hangs on some hostile files (fuzz/README.md). So that one
  # such input does not end the run, fuzz_hdf5 runs in fork mode and goes on after
  # crashes; every input found is replayed and blamed below.
  mode=()
  [ "$t" = fuzz_hdf5 ] && mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  log="$OUT/logs/$t.log"
  echo "fuzz.sh: running $t for ${SECS}s (log: $log)"
  t0=$SECONDS
  set +e
  run_target "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
    -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "${mode[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$((SECONDS - t0))
  execs=$(awk '/stat::number_of_executed_units/ {s += $2} END {print s + 0}' "$log")
  if [ "$execs" = 0 ]; then  # fork mode, or a crash before the final stats: last status line
    execs=$(awk '/^#[0-9]+/ {n = substr($1, 2); sub(/:$/, "", n)} END {print n + 0}' "$log")
  fi
  rate=$(( ${execs:-0} / (elapsed > 0 ? elapsed : 1) ))
  size=$(find "$corpus" -type f | wc -l)
  ours=0 theirs=0 blame=()
  while IFS= read -r a; do
    where=$(blame "$bin" "$a")
    blame+=("    $(basename "$a"): $where")
    case $where in third-party*) theirs=$((theirs + 1)) ;; *) ours=$((ours + 1)) ;; esac
  done < <(find "$art" -type f -newer "$marker" | sort)
  verdict=ok
  if [ $ours -gt 0 ] || { [ $rc -ne 0 ] && [ ${#mode[@]} -eq 0 ]; }; then
    verdict="FOUND: $ours input(s) in $art (log $log)"
    status=1
  fi
  if [ $theirs -gt 0 ]; then
    verdict="$verdict; $theirs input(s) crash or hang inside a third-party library"
    [ "${FUZZ_STRICT:-0}" = 1 ] && status=1
  fi
  summary+=("$(printf '%-16s %9s execs %6s exec/s  corpus %5s files  %s' "$t" "${execs:-?}" "$rate" "$size" "$verdict")")
  summary+=("${blame[@]}")
done

echo
echo "fuzz.sh: ${SECS}s per target, $CXX, ASan + UBSan"
printf '%s\n' "${summary[@]}"
exit $status
