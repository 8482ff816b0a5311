"""Real calendar clients reading a feed, each reduced to the same plain shape.

Every reader returns ``[{uid, start_utc, end_utc, status, summary, sequence}, ...]`` sorted
by (start_utc, uid), with instants as ``2026-03-10T13:00:00Z``. Two clients run outside
this interpreter: Mozilla's ical.js under node (``tests/clients/icaljs_expand.mjs``) and
libical through GObject introspection under Debian's ``/usr/bin/python3``
(``tests/clients/libical_expand.py``). A missing tool fails the test, pointing at
``make test-tools``; it is never a skip.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
import recurring_ical_events
import vobject

CLIENTS_DIR = Path(__file__).resolve().parents[1] / "clients"
SYSTEM_PYTHON = "/usr/bin/python3"
INSTALL_HINT = "run `make test-tools` (scripts/install-test-tools.sh) to install it"
# Far enough apart to hold any feed we write.
EXPAND_FROM, EXPAND_TO = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)

ClientEvent = dict[str, Any]


def read_with_all_clients(ics: bytes) -> dict[str, list[ClientEvent]]:
    """What each of the four clients reads from ``ics``, by client name."""
    return {name: read(ics) for name, read in CLIENTS.items()}


def read_with_icaljs(ics: bytes) -> list[ClientEvent]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not installed: {INSTALL_HINT}")
    if not (CLIENTS_DIR / "node_modules" / "ical.js" / "package.json").is_file():
        pytest.fail(f"ical.js is not installed in {CLIENTS_DIR}/node_modules: {INSTALL_HINT}")
    return _run_reader([node, str(CLIENTS_DIR / "icaljs_expand.mjs")], ics, "ical.js")


def read_with_libical(ics: bytes) -> list[ClientEvent]:
    _require_libical()
    return _run_reader([SYSTEM_PYTHON, str(CLIENTS_DIR / "libical_expand.py")], ics, "libical")


def read_with_recurring_ical_events(ics: bytes) -> list[ClientEvent]:
    calendar = icalendar.Calendar.from_ical(ics)
    events = recurring_ical_events.of(calendar).between(EXPAND_FROM, EXPAND_TO)
    return _sorted(
        {
            "uid": str(event["UID"]),
            "start_utc": _iso_utc(event["DTSTART"].dt),
            "end_utc": _iso_utc(event["DTEND"].dt),
            "status": str(event["STATUS"]) if "STATUS" in event else None,
            "summary": str(event["SUMMARY"]),
            "sequence": int(event["SEQUENCE"]) if "SEQUENCE" in event else None,
        }
        for event in events
    )


def read_with_vobject(ics: bytes) -> list[ClientEvent]:
    calendar = vobject.readOne(ics.decode("utf-8"))
    events = []
    for vevent in calendar.contents.get("vevent", []):
        for name in ("rrule", "rdate", "exdate", "recurrence_id"):
            if name in vevent.contents:
                raise AssertionError(f"unexpected {name} in {vevent.uid.value}")
        events.append(
            {
                "uid": vevent.uid.value,
                "start_utc": _iso_utc(vevent.dtstart.value),
                "end_utc": _iso_utc(vevent.dtend.value),
                "status": vevent.status.value if "status" in vevent.contents else None,
                "summary": vevent.summary.value,
                "sequence": int(vevent.sequence.value) if "sequence" in vevent.contents else None,
            }
        )
    return _sorted(events)


CLIENTS: dict[str, Callable[[bytes], list[ClientEvent]]] = {
    "ical.js": read_with_icaljs,
    "libical": read_with_libical,
    "recurring-ical-events": read_with_recurring_ical_events,
    "vobject": read_with_vobject,
}


@functools.cache
def _require_libical() -> None:
    probe = "import gi; gi.require_version('ICalGLib', '3.0'); from gi.repository import ICalGLib"
    if not Path(SYSTEM_PYTHON).is_file():
        pytest.fail(f"{SYSTEM_PYTHON} is missing (libical is reached through it): {INSTALL_HINT}")
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            "libical's Python bindings (python3-gi, gir1.2-ical-3.0) are not usable from "
            f"{SYSTEM_PYTHON}: {result.stderr.strip()}\n{INSTALL_HINT}"
        )


def _run_reader(command: list[str], ics: bytes, client: str) -> list[ClientEvent]:
    with tempfile.TemporaryDirectory(prefix="feed-client-") as tmp:
        path = Path(tmp) / "feed.ics"
        path.write_bytes(ics)
        result = subprocess.run(
            [*command, str(path)], capture_output=True, timeout=120, check=False, cwd=CLIENTS_DIR
        )
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        raise AssertionError(
            f"{client} could not read the feed (exit {result.returncode}):\n{stderr}"
        )
    events: list[ClientEvent] = json.loads(result.stdout.decode("utf-8"))
    return events


def _iso_utc(value: datetime) -> str:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise AssertionError(f"expected an aware DATE-TIME, got {value!r}")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sorted(events: Any) -> list[ClientEvent]:
    return sorted(events, key=lambda event: (event["start_utc"], event["uid"]))
