#!/usr/bin/env bash
# Chromium and its WebDriver from Debian, for the operator console's browser test (CI runs this;
# a developer without root skips it and that one test is skipped with the reason).
set -euo pipefail
pkgs="chromium chromium-driver"
missing=""
for p in $pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install_browser: need root and apt-get to install:$missing" >&2
  exit 1
fi
echo "install_browser: installing$missing" >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
