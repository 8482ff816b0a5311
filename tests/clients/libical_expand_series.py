"""Read .ics files with libical (Evolution's parser) and print every occurrence it expands.

Runs under Debian's own interpreter, which has the GObject bindings (python3-gi) and the
ICalGLib 3.0 typelib (gir1.2-ical-3.0):
``/usr/bin/python3 libical_expand_series.py FILE.ics [FILE.ics ...]``.

A master VEVENT is expanded by ``i_cal_component_foreach_recurrence`` (RRULE, RDATE and
EXDATE, times through the file's VTIMEZONEs); libical leaves RECURRENCE-ID overrides to the
application, so this does what Evolution does: an override replaces the instance whose
start is its RECURRENCE-ID, and a STATUS:CANCELLED override cancels it. An override without
its master (a CANCEL of one occurrence) is read as that occurrence.

Prints one list per file: ``[[{uid, recurrence_id_utc, start_utc, end_utc, status, summary,
sequence}, ...], ...]`` sorted by (start_utc, uid). X-LIC-ERROR properties (libical's
record of what it could not parse), a floating time, an unknown TZID or an override that
matches no instance make this exit 1 with a message.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib  # noqa: E402

Kind = ICalGLib.PropertyKind
VEVENT = ICalGLib.ComponentKind.VEVENT_COMPONENT
EXPAND_FROM, EXPAND_TO = "19700101T000000Z", "22000101T000000Z"
MAX_OCCURRENCES = 10000


def parse_errors(component: Any) -> list[str]:
    """Every X-LIC-ERROR libical attached while parsing, in document order."""
    errors = []
    prop = component.get_first_property(Kind.XLICERROR_PROPERTY)
    while prop is not None:
        errors.append(prop.as_ical_string().strip())
        prop = component.get_next_property(Kind.XLICERROR_PROPERTY)
    child = component.get_first_component(ICalGLib.ComponentKind.ANY_COMPONENT)
    while child is not None:
        errors.extend(parse_errors(child))
        child = component.get_next_component(ICalGLib.ComponentKind.ANY_COMPONENT)
    return errors


def seconds(time: Any, what: str, uid: str) -> int:
    """A DATE-TIME as seconds since the epoch, read through its zone."""
    if time is None or time.is_null_time():
        raise ValueError(f"{uid}: no {what}")
    if time.is_date():
        raise ValueError(f"{uid}: {what} is a DATE, not a DATE-TIME")
    if time.is_utc():
        zone = ICalGLib.Timezone.get_utc_timezone()
    else:
        zone = time.get_timezone()  # set from the TZID's VTIMEZONE in this calendar
        if zone is None:
            raise ValueError(f"{uid}: {what} is a floating time or names an unknown TZID")
    return int(time.as_timet_with_zone(zone))


def iso(value: int) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def recurrence_id(vevent: Any, uid: str) -> int | None:
    prop = vevent.get_first_property(Kind.RECURRENCEID_PROPERTY)
    if prop is None:
        return None
    # get_recurrenceid() drops the TZID; this reads it through the calendar's VTIMEZONE.
    return seconds(
        ICalGLib.Property.get_datetime_with_component(prop, vevent), "RECURRENCE-ID", uid
    )


def occurrence(vevent: Any, rid: int | None, start: int, end: int) -> dict[str, Any]:
    status = vevent.get_first_property(Kind.STATUS_PROPERTY)
    return {
        "uid": vevent.get_uid(),
        "recurrence_id_utc": None if rid is None else iso(rid),
        "start_utc": iso(start),
        "end_utc": iso(end),
        "status": None if status is None else status.get_value_as_string(),
        "summary": vevent.get_summary(),
        "sequence": vevent.get_sequence(),
    }


def own_times(vevent: Any, uid: str) -> tuple[int, int]:
    start = seconds(vevent.get_dtstart(), "DTSTART", uid)
    return start, seconds(vevent.get_dtend(), "DTEND", uid)  # get_dtend adds a DURATION


def is_recurring(vevent: Any) -> bool:
    return any(
        vevent.get_first_property(kind) is not None
        for kind in (Kind.RRULE_PROPERTY, Kind.RDATE_PROPERTY)
    )


def expand(master: Any, overrides: dict[int, Any], uid: str) -> list[dict[str, Any]]:
    spans: list[tuple[int, int]] = []

    def collect(component: Any, span: Any, data: Any) -> None:
        spans.append((int(span.get_start()), int(span.get_end())))

    start = ICalGLib.Time.new_from_string(EXPAND_FROM)
    end = ICalGLib.Time.new_from_string(EXPAND_TO)
    master.foreach_recurrence(start, end, collect, None)
    if len(spans) > MAX_OCCURRENCES:
        raise ValueError(f"{uid}: more than {MAX_OCCURRENCES} occurrences")
    found = []
    unused = dict(overrides)
    for begin, finish in spans:
        override = unused.pop(begin, None)
        if override is None:
            found.append(occurrence(master, begin, begin, finish))
        else:
            found.append(occurrence(override, begin, *own_times(override, uid)))
    if unused:
        missing = ", ".join(iso(rid) for rid in sorted(unused))
        raise ValueError(f"{uid}: RECURRENCE-ID {missing} matches no occurrence")
    return found


def read_events(text: str) -> list[dict[str, Any]]:
    calendar = ICalGLib.Component.new_from_string(text)
    if calendar is None or calendar.isa() != ICalGLib.ComponentKind.VCALENDAR_COMPONENT:
        raise ValueError("not a VCALENDAR")
    errors = parse_errors(calendar)
    if errors:
        raise ValueError("libical parse errors:\n" + "\n".join(errors))
    masters: dict[str, list[Any]] = {}
    overrides: dict[str, dict[int, Any]] = {}
    vevent = calendar.get_first_component(VEVENT)
    while vevent is not None:
        uid = vevent.get_uid()
        rid = recurrence_id(vevent, uid)
        if rid is None:
            masters.setdefault(uid, []).append(vevent)
        elif rid in overrides.setdefault(uid, {}):
            raise ValueError(f"{uid}: two overrides of {iso(rid)}")
        else:
            overrides[uid][rid] = vevent
        vevent = calendar.get_next_component(VEVENT)
    events: list[dict[str, Any]] = []
    for uid in sorted(set(masters) | set(overrides)):
        found = masters.get(uid, [])
        if len(found) > 1:
            raise ValueError(f"{uid}: {len(found)} VEVENTs without RECURRENCE-ID")
        if not found:
            events.extend(
                occurrence(o, rid, *own_times(o, uid)) for rid, o in overrides[uid].items()
            )
        elif is_recurring(found[0]):
            events.extend(expand(found[0], overrides.get(uid, {}), uid))
        else:
            events.append(occurrence(found[0], None, *own_times(found[0], uid)))
    return sorted(events, key=lambda event: (event["start_utc"], event["uid"]))


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: /usr/bin/python3 libical_expand_series.py FILE.ics [FILE.ics ...]")
    results = []
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8", newline="") as ics:
            text = ics.read()
        try:
            results.append(read_events(text))
        except ValueError as error:
            sys.exit(f"libical_expand_series: {path}: {error}")
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
