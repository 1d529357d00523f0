#!/usr/bin/env bash
# Install the Debian packages listed in $1 that are missing. Idempotent; needs root (or sudo) only
# when something is actually missing.
set -euo pipefail
list=${1:-requirements/apt.txt}
mapfile -t pkgs < <(grep -vE '^\s*(#|$)' "$list" | awk '{print $1}')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "==> apt-get install ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
