"""The core's vocabulary: HH:MM times, weekly windows, busy times and validation errors."""

from __future__ import annotations

import numpy as np
import pytest

from app.scheduling.model import (
    BusyTimes,
    InvalidInput,
    WeeklyWindow,
    format_hhmm,
    parse_hhmm,
    parse_working_hours,
)


@pytest.mark.parametrize(
    ("text", "minute"),
    [("00:00", 0), ("09:30", 570), ("19:59", 1199), ("23:59", 1439), ("24:00", 1440)],
)
def test_hhmm_round_trips(text: str, minute: int) -> None:
    assert parse_hhmm(text, ("start",)) == minute
    assert format_hhmm(minute) == text


@pytest.mark.parametrize(
    ("value", "msg"),
    [
        ("9:30", "'9:30' is not a time of day; use HH:MM from 00:00 to 24:00."),
        ("25:00", "'25:00' is not a time of day; use HH:MM from 00:00 to 24:00."),
        ("12:60", "'12:60' is not a time of day; use HH:MM from 00:00 to 24:00."),
        (930, "930 is not a time of day; use HH:MM from 00:00 to 24:00."),
        ("24:01", "'24:01' is past 24:00; use HH:MM from 00:00 to 24:00."),
    ],
)
def test_bad_times_of_day(value: object, msg: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_hhmm(value, ("working_hours", 0, "end"))
    assert (err.value.loc, err.value.msg, str(err.value)) == (("working_hours", 0, "end"), msg, msg)


def test_windows_lengths_and_json() -> None:
    day, night, late = parse_working_hours(
        [
            {"days": ["tue", "MON"], "start": "09:00", "end": "17:30"},
            {"days": ["sun"], "start": "21:00", "end": "06:00"},
            {"days": ["fri"], "start": "18:00", "end": "24:00"},
        ]
    )
    assert day == WeeklyWindow(frozenset({0, 1}), 540, 1050)
    assert (day.overnight, day.length_minutes) == (False, 510)
    assert (night.overnight, night.length_minutes) == (True, 540)
    assert (late.overnight, late.length_minutes) == (False, 360)
    assert day.to_json() == {"days": ["mon", "tue"], "start": "09:00", "end": "17:30"}
    assert late.to_json() == {"days": ["fri"], "start": "18:00", "end": "24:00"}
    midnight = parse_working_hours([{"days": ["sat"], "start": "20:00", "end": "00:00"}])[0]
    assert (midnight.overnight, midnight.length_minutes) == (True, 240)
    assert parse_working_hours([]) == ()


@pytest.mark.parametrize(
    ("raw", "loc", "msg"),
    [
        ({}, ("working_hours",), "Working hours must be a list of {days, start, end} windows."),
        (
            [{"days": ["mon"], "start": "09:00", "end": "10:00"}] * 101,
            ("working_hours",),
            "At most 100 working-hour windows are allowed.",
        ),
        (
            ["09-17"],
            ("working_hours", 0),
            "Each window must be an object with days, start and end.",
        ),
        (
            [{"days": ["mon"], "start": "09:00", "end": "10:00", "tz": "UTC"}],
            ("working_hours", 0),
            "Unknown key(s) ['tz']; use days, start and end.",
        ),
        (
            [{"days": [], "start": "09:00", "end": "10:00"}],
            ("working_hours", 0, "days"),
            'List at least one weekday, e.g. ["mon", "tue"].',
        ),
        (
            [{"days": "mon", "start": "09:00", "end": "10:00"}],
            ("working_hours", 0, "days"),
            'List at least one weekday, e.g. ["mon", "tue"].',
        ),
        (
            [{"days": ["mon", "funday"], "start": "09:00", "end": "10:00"}],
            ("working_hours", 0, "days", 1),
            "'funday' is not a weekday; use one of mon, tue, wed, thu, fri, sat, sun.",
        ),
        (
            [{"days": ["mon", 3], "start": "09:00", "end": "10:00"}],
            ("working_hours", 0, "days", 1),
            "3 is not a weekday; use one of mon, tue, wed, thu, fri, sat, sun.",
        ),
        (
            [{"days": ["mon"], "start": "24:00", "end": "10:00"}],
            ("working_hours", 0, "start"),
            "A window cannot start at 24:00; use 00:00.",
        ),
        (
            [{"days": ["mon"], "start": "09:00", "end": "09:00"}],
            ("working_hours", 0, "end"),
            "start and end are equal; a whole day is 00:00 to 24:00.",
        ),
        (
            [{"days": ["mon"], "start": "00:00", "end": "00:00"}],
            ("working_hours", 0, "end"),
            "start and end are equal; a whole day is 00:00 to 24:00.",
        ),
        (
            [
                {"days": ["mon"], "start": "09:00", "end": "10:00"},
                {"days": ["mon"], "start": "09:00"},
            ],
            ("working_hours", 1, "end"),
            "None is not a time of day; use HH:MM from 00:00 to 24:00.",
        ),
    ],
)
def test_bad_working_hours_name_the_field(raw: object, loc: tuple[object, ...], msg: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_working_hours(raw)
    assert (err.value.loc, err.value.msg) == (loc, msg)


def test_a_custom_location_prefixes_every_error() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_working_hours(
            [{"days": ["mon"], "start": "x", "end": "10:00"}], ("people", 2, "hours")
        )
    assert err.value.loc == ("people", 2, "hours", 0, "start")
    exactly_100 = [{"days": ["mon"], "start": "09:00", "end": "10:00"}] * 100
    assert len(parse_working_hours(exactly_100)) == 100


@pytest.mark.parametrize(
    ("start", "end", "length"),
    [
        ("00:01", "00:00", 1439),
        ("23:59", "00:00", 1),
        ("00:00", "00:01", 1),
        ("00:00", "24:00", 1440),
    ],
)
def test_windows_one_minute_from_empty_are_accepted(start: str, end: str, length: int) -> None:
    [window] = parse_working_hours([{"days": ["mon"], "start": start, "end": end}])
    assert window.length_minutes == length


def test_busy_times_nested_in_a_longer_one_merge_into_it() -> None:
    # Sorted by start, not by end: (0, 100) swallows (10, 20) and (30, 40) ends inside it.
    busy = BusyTimes([(10, 20), (0, 100), (30, 40), (200, 300), (210, 220)])
    assert busy.intervals() == [(0, 100), (200, 300)]


@pytest.mark.parametrize("given", [[], [(5, 5)], [(0, 10), (20, 30)]])
def test_busy_minutes_are_read_only_int64_arrays(given: list[tuple[int, int]]) -> None:
    # Busy times are hashed by a digest taken once: writing into them would desync it.
    busy = BusyTimes(given)
    assert (busy.starts.dtype, busy.ends.dtype) == (np.dtype(np.int64),) * 2
    assert not busy.starts.flags.writeable and not busy.ends.flags.writeable
    if len(busy):
        with pytest.raises(ValueError, match="read-only"):
            busy.starts[0] = 1
        with pytest.raises(ValueError, match="read-only"):
            busy.ends[0] = 1


def test_distinct_busy_times_hash_apart_and_their_digest_fits_its_column() -> None:
    calendars = [BusyTimes([(i, i + 1)]) for i in range(50)]
    assert len({hash(b) for b in calendars}) == 50  # a usable cache key, not one bucket
    # app.db.models.CalendarSource.busy_digest stores busy.digest.hex() in 64 characters.
    assert all(len(b.digest.hex()) <= 64 for b in calendars)
