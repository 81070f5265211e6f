# Sourced by the scripts that start or continue asrc-train runs (sweep.sh, reproduce.sh):
# what a results folder says about its run.
#   planned DIR   the epochs its config.txt asks for (empty when there is no config.txt)
#   logged DIR    the epochs its log.csv holds (0 without one)
#   is_done DIR   true when it has logged every planned epoch
planned() { awk '$1 == "--epochs" { print $2 }' "$1/config.txt" 2>/dev/null || true; }
logged() { [ -f "$1/log.csv" ] && echo $(( $(wc -l < "$1/log.csv") - 1 )) || echo 0; }
is_done() { local p; p=$(planned "$1"); [ -n "$p" ] && [ "$(logged "$1")" -ge "$p" ]; }
