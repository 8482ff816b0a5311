"""Real calendar clients expanding a series (RRULE, EXDATE, RECURRENCE-ID overrides), each
reduced to the same plain shape.

Every reader takes several calendars at once (the two outside this interpreter are one
subprocess per call) and returns, per calendar, ``[{uid, recurrence_id_utc, start_utc,
end_utc, status, summary, sequence}, ...]`` sorted by (start_utc, uid), instants as
``2027-03-09T14:00:00Z``. Cancelled occurrences (STATUS:CANCELLED) are included with their
status; EXDATE'd ones are not there at all. ical.js runs under node
(``tests/clients/icaljs_expand_series.mjs``), libical under Debian's ``/usr/bin/python3``
(``tests/clients/libical_expand_series.py``); both read times through the calendar's own
VTIMEZONE, recurring-ical-events through ``zoneinfo``. A missing tool fails, never skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import icalendar
import pytest
import recurring_ical_events

from tests.feeds.clients import (
    CLIENTS_DIR,
    EXPAND_FROM,
    EXPAND_TO,
    INSTALL_HINT,
    SYSTEM_PYTHON,
    _iso_utc,
    _require_libical,
)

Occurrence = dict[str, Any]


def read_with_all_clients(calendars: Sequence[bytes]) -> dict[str, list[list[Occurrence]]]:
    """What each of the three clients expands from each calendar, by client name."""
    return {name: read(calendars) for name, read in CLIENTS.items()}


def read_with_icaljs(calendars: Sequence[bytes]) -> list[list[Occurrence]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not installed: {INSTALL_HINT}")
    if not (CLIENTS_DIR / "node_modules" / "ical.js" / "package.json").is_file():
        pytest.fail(f"ical.js is not installed in {CLIENTS_DIR}/node_modules: {INSTALL_HINT}")
    return _run([node, str(CLIENTS_DIR / "icaljs_expand_series.mjs")], calendars, "ical.js")


def read_with_libical(calendars: Sequence[bytes]) -> list[list[Occurrence]]:
    _require_libical()
    script = str(CLIENTS_DIR / "libical_expand_series.py")
    return _run([SYSTEM_PYTHON, script], calendars, "libical")


def read_with_recurring_ical_events(calendars: Sequence[bytes]) -> list[list[Occurrence]]:
    return [_expand_with_rie(ics) for ics in calendars]


CLIENTS: dict[str, Callable[[Sequence[bytes]], list[list[Occurrence]]]] = {
    "ical.js": read_with_icaljs,
    "libical": read_with_libical,
    "recurring-ical-events": read_with_recurring_ical_events,
}


def scheduled(occurrences: Sequence[Occurrence]) -> list[tuple[str, str]]:
    """(start_utc, end_utc) of every occurrence that is not cancelled, in order."""
    return [(o["start_utc"], o["end_utc"]) for o in occurrences if o["status"] != "CANCELLED"]


def _expand_with_rie(ics: bytes) -> list[Occurrence]:
    calendar = icalendar.Calendar.from_ical(ics)
    found = []
    for event in recurring_ical_events.of(calendar).between(EXPAND_FROM, EXPAND_TO):
        start = event["DTSTART"].dt
        end = event["DTEND"].dt if "DTEND" in event else start + event["DURATION"].dt
        rid = event.get("RECURRENCE-ID")
        found.append(
            {
                "uid": str(event["UID"]),
                "recurrence_id_utc": None if rid is None else _iso_utc(rid.dt),
                "start_utc": _iso_utc(start),
                "end_utc": _iso_utc(end),
                "status": str(event["STATUS"]) if "STATUS" in event else None,
                "summary": str(event["SUMMARY"]),
                "sequence": int(event["SEQUENCE"]) if "SEQUENCE" in event else None,
            }
        )
    return sorted(found, key=lambda o: (o["start_utc"], o["uid"]))


def _run(command: list[str], calendars: Sequence[bytes], client: str) -> list[list[Occurrence]]:
    with tempfile.TemporaryDirectory(prefix="series-client-") as tmp:
        paths = []
        for i, ics in enumerate(calendars):
            path = Path(tmp) / f"calendar-{i}.ics"
            path.write_bytes(ics)
            paths.append(str(path))
        result = subprocess.run(
            [*command, *paths], capture_output=True, timeout=300, check=False, cwd=CLIENTS_DIR
        )
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        raise AssertionError(
            f"{client} could not read a calendar (exit {result.returncode}):\n{stderr}"
        )
    found: list[list[Occurrence]] = json.loads(result.stdout.decode("utf-8"))
    assert len(found) == len(calendars), f"{client} answered for {len(found)} calendars"
    return found
