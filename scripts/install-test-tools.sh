#!/usr/bin/env bash
# Installs what the tests need beyond PyPI: Mozilla's ical.js (npm, run by node), libical
# through GObject introspection (Debian), headless Chromium (Debian) and Playwright's driver.
# Idempotent and quiet when everything is already there.
set -euo pipefail
PY=${1:-.venv/bin/python}
here=$(cd "$(dirname "$0")/.." && pwd)

need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
/usr/bin/python3 -c 'import gi; gi.require_version("ICalGLib", "3.0"); from gi.repository import ICalGLib' \
  >/dev/null 2>&1 || need_apt+=(python3-gi gir1.2-ical-3.0)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-test-tools: installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# ical.js pinned in tests/clients/package.json (lock file committed); reinstalled when the pin
# and the installed copy differ.
clients="$here/tests/clients"
want=$(node -p "require('$clients/package.json').dependencies['ical.js']")
have=$(node -p "require('$clients/node_modules/ical.js/package.json').version" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  echo "install-test-tools: npm ci in tests/clients (ical.js ${have:-missing} -> $want)"
  (cd "$here/tests/clients" && npm ci --silent --no-audit --no-fund)
fi
