#!/usr/bin/env bash
# One asrc-train flag over a list of values, everything else fixed (Figs. 2-4 of the paper).
#
#   scripts/sweep.sh --flag skip --values 1,2,4,8,12,16,24,32 --out results/sweep-lambda \
#       -- --preset psmnist-src --epochs 10 --dataset-dir data/mnist --threads 2
#
# Each value runs in OUT/<flag>-<value>/ (asrc-train's --results-dir). Resumable: a value
# whose log.csv already has all its epochs is skipped, one with a last.ckpt is continued
# with `asrc-train --resume`, any other starts afresh. After every value, OUT/results.csv
# is rewritten: value,status,epochs_done,epochs,best_acc,best_epoch,last_acc,dir (best_epoch
# counts from 0, as in log.csv)
# (status: done | failed (exit N) | incomplete). Exit status 0 when every value is done.
#
# --train PROGRAM   the trainer (default build/examples/asrc-train)
# --collect-only    only rewrite results.csv from what is in OUT
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "sweep.sh: error: $*" >&2; exit 2; }

here=$(cd "$(dirname "$0")/.." && pwd)
train="$here/build/examples/asrc-train"
flag="" values="" out="" collect_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --flag) flag=${2#--}; shift 2 ;;
    --values) values=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --train) train=$2; shift 2 ;;
    --collect-only) collect_only=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "expected --flag, --values, --out, --train, --collect-only or -- before the asrc-train flags, got '$1'" ;;
  esac
done
[ -n "$flag" ] || die "expected --flag NAME (an asrc-train flag), got none"
[ -n "$values" ] || die "expected --values V1,V2,..., got none"
[ -n "$out" ] || die "expected --out DIR, got none"
fixed=("$@")
for a in "${fixed[@]}"; do
  case "$a" in --$flag|--$flag=*|--results-dir|--results-dir=*|--resume|--resume=*)
    die "expected the swept flag --$flag, --results-dir and --resume to be left to sweep.sh, got '$a' among the fixed flags" ;;
  esac
done
[ "$collect_only" = 1 ] || [ -x "$train" ] || die "expected an executable trainer (build asrc-train or pass --train), got '$train'"
IFS=', ' read -r -a vals <<< "$values"
[ ${#vals[@]} -gt 0 ] || die "expected at least one value, got '$values'"
mkdir -p "$out"

# planned, logged, is_done: what a value's folder says about its run; record_command.
source "$here/scripts/run-folder.sh"

declare -A status
collect() {
  local f="$out/results.csv"
  echo "value,status,epochs_done,epochs,best_acc,best_epoch,last_acc,dir" > "$f.tmp"
  for v in "${vals[@]}"; do
    local d="$out/$flag-$v" st="${status[$v]:-}"
    if [ -z "$st" ]; then
      if is_done "$d"; then st=done; elif [ -d "$d" ]; then st=incomplete; else st="not run"; fi
    fi
    if [ -f "$d/log.csv" ] && [ "$(logged "$d")" -gt 0 ]; then
      # Columns by name, so a new column in log.csv cannot shift them.
      awk -F, -v v="$v" -v st="$st" -v ep="$(planned "$d")" -v dir="$d" '
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { n++; best = $c["best_acc"]; be = $c["best_epoch"]; last = $c["test_acc"] }
        END { printf "%s,%s,%d,%s,%s,%s,%s,%s\n", v, st, n, ep, best, be, last, dir }' "$d/log.csv" >> "$f.tmp"
    else
      echo "$v,$st,0,$(planned "$d"),,,,$d" >> "$f.tmp"
    fi
  done
  mv "$f.tmp" "$f"
}

failed=0
if [ "$collect_only" = 0 ]; then
  for v in "${vals[@]}"; do
    d="$out/$flag-$v"
    if is_done "$d"; then
      echo "sweep.sh: --$flag $v: done already ($d)"
      status[$v]=done
      continue
    fi
    if [ -f "$d/last.ckpt" ]; then
      echo "sweep.sh: --$flag $v: resuming $d"
      cmd=("$train" --resume "$d")
      for ((i = 0; i < ${#fixed[@]}; i++)); do  # run-time settings may follow a resume
        case "${fixed[$i]}" in --threads|--dataset-dir|--cache-dir) cmd+=("${fixed[$i]}" "${fixed[$((i + 1))]}") ;; esac
      done
    else
      echo "sweep.sh: --$flag $v: starting $d"
      cmd=("$train" "${fixed[@]}" "--$flag" "$v" --results-dir "$d")
    fi
    mkdir -p "$d"
    record_command "$d" "${cmd[@]}"
    set +e
    "${cmd[@]}" 2>&1 | tee -a "$d/console.txt"
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" = 0 ] && is_done "$d"; then
      status[$v]=done
    elif [ "$rc" = 130 ]; then
      status[$v]=incomplete; collect; echo "sweep.sh: interrupted; run the same command again to resume" >&2; exit 130
    else
      status[$v]="failed (exit $rc)"; failed=1
    fi
    collect
  done
fi
collect
echo "sweep.sh: wrote $out/results.csv"
column -s, -t < "$out/results.csv" 2>/dev/null || cat "$out/results.csv"
for v in "${vals[@]}"; do is_done "$out/$flag-$v" || failed=1; done
exit $failed
