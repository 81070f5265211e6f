# Sourced by the scripts that start or continue asrc-train runs (sweep.sh, reproduce.sh):
# what a results folder says about its run, and the line that records a command run in it.
#   planned DIR   the epochs its config.txt asks for (empty when there is no config.txt)
#   logged DIR    the epochs its log.csv holds (0 without one)
#   is_done DIR   true when it has logged every planned epoch
planned() { awk '$1 == "--epochs" { print $2 }' "$1/config.txt" 2>/dev/null || true; }
logged() { [ -f "$1/log.csv" ] && echo $(( $(wc -l < "$1/log.csv") - 1 )) || echo 0; }
is_done() { local p; p=$(planned "$1"); [ -n "$p" ] && [ "$(logged "$1")" -ge "$p" ]; }
#   record_command DIR TRAINER ARGS...   appends the command's '+' line to DIR/console.txt:
#                 when (UTC), the commit TRAINER was built from (`asrc-train --version`; for
#                 a binary older than that flag "checkout-" and the checkout's commit, which
#                 it may not match), and the command
record_command() {
  local dir=$1 built
  shift
  built=$("$1" --version 2>/dev/null | awk '{ print $NF }') || built=""
  [ -n "$built" ] || built="checkout-$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "+ $(date -u +%Y-%m-%dT%H:%M:%SZ) $built $*" >> "$dir/console.txt"
}
