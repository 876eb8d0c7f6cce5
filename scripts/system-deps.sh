#!/usr/bin/env bash
# System packages Scout's tests and exports need beyond Python and make:
# npm (for buf), Pango (WeasyPrint's PDF export), poppler-utils (pdftoppm) and
# Chromium (the HTML export test). Installs what is missing when run as root
# on Debian/Ubuntu; otherwise says what to install.
# Usage: scripts/system-deps.sh demo|test  (the demo needs only the PDF libraries)
set -euo pipefail
missing=()
if [ "${1:-test}" = test ]; then
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' || missing+=(libpango-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so' || missing+=(libpangoft2-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so' || missing+=(libharfbuzz-subset0)
fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "please install these system packages first: ${missing[*]}" >&2
  exit 1
fi
