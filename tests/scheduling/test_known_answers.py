"""Published answers, reproduced through the public API.

* Exercism's "global meeting" exercise (exercism/python,
  exercises/practice/global-meeting): one-hour meetings starting on the hour in UTC,
  employees given as UTC offsets with 9-hour days. Their answers are the zero-burden
  (overlap) starts. Fixed offsets are modelled with ``Etc/GMT±N`` zones, whose sign is
  inverted by POSIX convention: ``Etc/GMT-2`` is UTC+02:00. UTC+05:30 is ``Asia/Kolkata``.
* The OpenTelemetry meeting-rotation table for February 2023:
  00:00 PST = 03:00 EST = 09:00 CET = 16:00 Shanghai = 19:00 Sydney.
* docs/rules.md's New York / Manila example (checked by hand, numbers below).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.scheduling.model import WEEKDAYS, Person, parse_working_hours
from app.scheduling.search import overlap, search_slots

NEW_YORK = ZoneInfo("America/New_York")


def employee(pid: str, zone_name: str, start: str, end: str) -> Person:
    hours = parse_working_hours([{"days": list(WEEKDAYS), "start": start, "end": end}])
    return Person(pid, zone_name, hours)


def zero_burden_hours(team: list[Person], day: datetime) -> list[int]:
    slots = search_slots(team, [], day, day + timedelta(days=1), 60, step_minutes=60, limit=100)
    return sorted(s.start.hour for s in slots if s.max_burden_minutes == 0)


DAY = datetime(2026, 6, 10, tzinfo=UTC)


def test_exercism_same_working_times() -> None:
    team = [
        employee("111", "Etc/GMT-2", "08:00", "17:00"),  # UTC+2
        employee("112", "Etc/GMT-8", "08:00", "17:00"),  # UTC+8
        employee("113", "Etc/GMT-10", "08:00", "17:00"),  # UTC+10
    ]
    assert zero_burden_hours(team, DAY) == [6]
    [shared] = overlap(team, DAY, DAY + timedelta(days=1))
    assert (shared.start, shared.end) == (DAY.replace(hour=6), DAY.replace(hour=7))
    assert [shared.local[p][0].hour for p in ("111", "112", "113")] == [8, 14, 16]


@pytest.mark.parametrize("midnight", ["00:00", "24:00"])
def test_exercism_different_working_times(midnight: str) -> None:
    team = [
        employee("201", "Asia/Kolkata", "08:00", "17:00"),  # UTC+05:30
        employee("202", "Etc/GMT+4", "15:00", midnight),  # UTC-4, ends at midnight
        employee("203", "Etc/GMT+10", "12:00", "21:00"),  # UTC-10
        employee("204", "Etc/GMT-3", "04:00", "13:00"),  # UTC+3
    ]
    assert zero_burden_hours(team, DAY) == [3]
    [shared] = overlap(team, DAY, DAY + timedelta(days=1))  # 02:30Z–04:00Z
    assert (shared.start, shared.end) == (DAY.replace(hour=2, minute=30), DAY.replace(hour=4))


def test_exercism_impossible() -> None:
    team = [
        employee("201", "Etc/GMT-2", "13:00", "22:00"),  # 11:00Z–20:00Z
        employee("202", "Etc/GMT-5", "05:00", "14:00"),  # 00:00Z–09:00Z
    ]
    assert zero_burden_hours(team, DAY) == []
    assert overlap(team, DAY, DAY + timedelta(days=1)) == []


def test_opentelemetry_rotation_table_february_2023() -> None:
    zones = {
        "pst": ("America/Los_Angeles", 0),
        "est": ("America/New_York", 3),
        "cet": ("Europe/Berlin", 9),
        "shanghai": ("Asia/Shanghai", 16),
        "sydney": ("Australia/Sydney", 19),
    }
    team = [employee(pid, tz, "00:00", "24:00") for pid, (tz, _) in zones.items()]
    at = datetime(2023, 2, 14, 8, 0, tzinfo=UTC)  # 00:00 PST
    [slot] = search_slots(team, [], at, at + timedelta(hours=1), 60, step_minutes=60)
    assert slot.start == at
    for shown in slot.participants:
        tz, hour = zones[shown.participant_id]
        assert shown.timezone == tz
        assert (shown.local_start.hour, shown.local_start.minute) == (hour, 0)
        assert getattr(shown.local_start.tzinfo, "key", None) == tz  # in their own zone
        assert shown.local_start.astimezone(UTC) == at
        assert shown.local_end - shown.local_start == timedelta(hours=1)
        assert shown.burden_minutes == 0 and shown.inside_hours
    # The same instants through overlap: one shared window covering the hour.
    [shared] = overlap(team, at, at + timedelta(hours=1))
    assert {p: v[0].hour for p, v in shared.local.items()} == {
        p: hour for p, (_, hour) in zones.items()
    }


WEEKDAY_HOURS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


def new_york_manila(day: datetime) -> list[tuple[str, str, int, int]]:
    ny = Person("ny", "America/New_York", parse_working_hours(WEEKDAY_HOURS))
    mnl = Person("mnl", "Asia/Manila", parse_working_hours(WEEKDAY_HOURS))
    slots = search_slots([ny, mnl], [], day, day + timedelta(days=1), 60, step_minutes=30, limit=50)
    return [
        (
            f"{s.participants[0].local_start:%a %H:%M}",
            f"{s.participants[1].local_start:%a %H:%M}",
            s.participants[0].burden_minutes,
            s.participants[1].burden_minutes,
        )
        for s in sorted(slots, key=lambda s: s.start)
    ]


def test_spec_new_york_manila_october_2026() -> None:
    # 12 h apart. New York can take 06:00–20:00; Manila 06:00–20:00 of its own day.
    assert new_york_manila(datetime(2026, 10, 6, tzinfo=NEW_YORK)) == [
        ("Tue 06:00", "Tue 18:00", 180, 120),
        ("Tue 06:30", "Tue 18:30", 150, 150),
        ("Tue 07:00", "Tue 19:00", 120, 180),
        ("Tue 18:00", "Wed 06:00", 120, 180),
        ("Tue 18:30", "Wed 06:30", 150, 150),
        ("Tue 19:00", "Wed 07:00", 180, 120),
    ]


def test_spec_new_york_manila_after_new_york_leaves_dst() -> None:
    # From 2026-11-01 New York is UTC-5: 13 h apart, so the evening band moves an hour
    # earlier in New York and the morning band shrinks to its 06:00 edge.
    assert new_york_manila(datetime(2026, 11, 3, tzinfo=NEW_YORK)) == [
        ("Tue 06:00", "Tue 19:00", 180, 180),
        ("Tue 17:00", "Wed 06:00", 60, 180),
        ("Tue 17:30", "Wed 06:30", 90, 150),
        ("Tue 18:00", "Wed 07:00", 120, 120),
        ("Tue 18:30", "Wed 07:30", 150, 90),
        ("Tue 19:00", "Wed 08:00", 180, 60),
    ]


def test_spec_new_york_manila_ranking() -> None:
    ny = Person("ny", "America/New_York", parse_working_hours(WEEKDAY_HOURS))
    mnl = Person("mnl", "Asia/Manila", parse_working_hours(WEEKDAY_HOURS))
    day = datetime(2026, 10, 6, tzinfo=NEW_YORK)
    ranked = search_slots([ny, mnl], [], day, day + timedelta(days=1), 60, step_minutes=30)
    # (max, total, start): the two 150/150 hours first, earlier first.
    assert [(s.max_burden_minutes, s.total_burden_minutes) for s in ranked] == [
        (150, 300),
        (150, 300),
        (180, 300),
        (180, 300),
        (180, 300),
        (180, 300),
    ]
    assert [s.start.astimezone(NEW_YORK).strftime("%H:%M") for s in ranked] == [
        "06:30",
        "18:30",
        "06:00",
        "07:00",
        "18:00",
        "19:00",
    ]
