#!/usr/bin/env bash
# The whole suite at other dates: every process it starts (pytest, uvicorn workers, node,
# libical, Chromium) reads a wall clock moved to each date given, then running normally from
# there, with libfaketime preloaded. Green only if no test depends on today's date.
#
# Usage: scripts/test-any-date.sh PYTHON DATE... [-- PYTEST_ARGS...]  (UTC dates, as date -d reads)
#
# The library is upstream libfaketime as the `libfaketime` package (dev extra) ships it.
# Debian bookworm's faketime 0.9.10 cannot run this suite under Python 3.11: with the monotonic
# clock faked, lock and queue timeouts never fire (sem_clockwait is not intercepted), and with
# it left real (--exclude-monotonic) every time.sleep fails with EINVAL (libfaketime #426).
# Here the monotonic clock stays real, so timeouts and rate limits keep working.
set -euo pipefail
PY=$1
shift
dates=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do dates+=("$1"); shift; done
[ $# -gt 0 ] && shift
lib=$("$PY" -c 'import importlib.util as u, pathlib
spec = u.find_spec("libfaketime")
assert spec and spec.origin, "the libfaketime package is missing: make venv"
print(pathlib.Path(spec.origin).parent / "vendor/libfaketime/src/libfaketime.so.1")')
[ -f "$lib" ] || { echo "test-any-date: $lib not found (make venv)" >&2; exit 2; }
for when in "${dates[@]}"; do
  # An offset from the real clock, not a start-at date: every child process sees the same
  # clock, however late it starts.
  offset=$(( $(date -ud "$when" +%s) - $(date -u +%s) ))
  echo "test-any-date: the suite at $(date -ud "$when" '+%F %T UTC') (FAKETIME=$(printf '%+d' "$offset"))"
  LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" FAKETIME="$(printf '%+d' "$offset")" \
    FAKETIME_DONT_FAKE_MONOTONIC=1 "$PY" -m pytest "$@"
done
