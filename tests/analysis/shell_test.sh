# Sourced by the shell tests in this folder, with the source tree as its argument: sets src,
# here (this folder), tmp (a temporary folder removed on exit) and fail MESSAGE.
set -uo pipefail
src=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
