#!/usr/bin/env bash
# Install what asrc needs on Debian 12, only where it is missing.
# Usage: scripts/deps.sh [extra Debian packages...]
set -euo pipefail
need=()
for pkg in build-essential cmake libeigen3-dev libomp-dev zlib1g-dev libhdf5-dev doctest-dev libopenmpi-dev openmpi-bin "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "asrc: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
