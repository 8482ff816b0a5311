#!/usr/bin/env bash
# Installs what the benchmarks drive load with: wrk (Debian). Idempotent.
set -euo pipefail
if ! command -v wrk >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
