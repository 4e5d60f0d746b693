#!/usr/bin/env bash
# Installs Debian packages the project uses (bubblewrap for the judge sandbox, chromium for the
# browser tests) when they are missing. Without root it only says what is missing: the judge then
# refuses to run programs unless its weaker rlimit mode is chosen (--sandbox rlimit), and the browser
# tests are skipped.
set -euo pipefail
declare -A binary=([bubblewrap]=bwrap [chromium]=chromium)
missing=()
for pkg in "$@"; do
  command -v "${binary[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "note: missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
fi
