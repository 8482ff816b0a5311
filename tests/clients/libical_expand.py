"""Read an .ics file with libical (Evolution's parser) and print its events as JSON.

Runs under Debian's own interpreter, which has the GObject bindings (python3-gi) and the
ICalGLib 3.0 typelib (gir1.2-ical-3.0): ``/usr/bin/python3 libical_expand.py FILE.ics``.
Prints ``[{uid, start_utc, end_utc, status, summary, sequence}, ...]`` sorted by
(start_utc, uid). libical keeps going on bad input and records X-LIC-ERROR properties
instead; any of those, a floating time or a recurrence makes this exit 1 with a message.
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
RECURRENCE = {
    Kind.RRULE_PROPERTY: "RRULE",
    Kind.RDATE_PROPERTY: "RDATE",
    Kind.EXDATE_PROPERTY: "EXDATE",
    Kind.RECURRENCEID_PROPERTY: "RECURRENCE-ID",
}


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


def utc(time: Any, what: str, uid: str) -> str:
    if time is None or time.is_null_time():
        raise ValueError(f"{uid}: no {what}")
    if time.is_date():
        raise ValueError(f"{uid}: {what} is a DATE, not a DATE-TIME")
    if time.is_utc():
        zone = ICalGLib.Timezone.get_utc_timezone()
    else:
        zone = time.get_timezone()  # set from the TZID's VTIMEZONE in this calendar
        if zone is None:
            raise ValueError(f"{uid}: {what} is a floating time or has an unknown TZID")
    seconds = time.as_timet_with_zone(zone)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_events(text: str) -> list[dict[str, Any]]:
    calendar = ICalGLib.Component.new_from_string(text)
    if calendar is None or calendar.isa() != ICalGLib.ComponentKind.VCALENDAR_COMPONENT:
        raise ValueError("not a VCALENDAR")
    errors = parse_errors(calendar)
    if errors:
        raise ValueError("libical parse errors:\n" + "\n".join(errors))
    events = []
    vevent = calendar.get_first_component(ICalGLib.ComponentKind.VEVENT_COMPONENT)
    while vevent is not None:
        uid = vevent.get_uid()
        for kind, name in RECURRENCE.items():
            if vevent.get_first_property(kind) is not None:
                raise ValueError(f"{uid}: unexpected {name}")
        status = vevent.get_first_property(Kind.STATUS_PROPERTY)
        events.append(
            {
                "uid": uid,
                "start_utc": utc(vevent.get_dtstart(), "DTSTART", uid),
                "end_utc": utc(vevent.get_dtend(), "DTEND", uid),
                "status": None if status is None else status.get_value_as_string(),
                "summary": vevent.get_summary(),
                "sequence": vevent.get_sequence(),
            }
        )
        vevent = calendar.get_next_component(ICalGLib.ComponentKind.VEVENT_COMPONENT)
    return sorted(events, key=lambda event: (event["start_utc"], event["uid"]))


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: /usr/bin/python3 libical_expand.py FILE.ics")
    with open(sys.argv[1], encoding="utf-8", newline="") as ics:
        text = ics.read()
    try:
        events = read_events(text)
    except ValueError as error:
        sys.exit(f"libical_expand: {error}")
    json.dump(events, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
