"""The vocabulary's rules (docs/rules.md, "How times and burden are worded")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from app.scheduling.wording import (
    CLEAR_ABBREVIATIONS,
    NOBODY_PAYS,
    answers,
    city,
    clock_change,
    clock_changes,
    day_label,
    hard_turn,
    hours,
    join_names,
    local_range,
    offset_label,
    place,
    zone_label,
)

JANUARY = datetime(2026, 1, 15, 12, tzinfo=UTC)
JULY = datetime(2026, 7, 15, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, "0 h"), (30, "0.5 h"), (60, "1 h"), (90, "1.5 h"), (120, "2 h"), (225, "3.8 h"),
     (675, "11.3 h"), (50, "0.8 h"), (10, "0.2 h"), (1, "0 h"), (3, "0.1 h"), (600, "10 h")],
)  # fmt: skip
def test_hours_round_halves_up_and_drop_a_trailing_zero(minutes: int, text: str) -> None:
    assert hours(minutes) == text


def test_city_and_join() -> None:
    assert city("America/Argentina/Buenos_Aires") == "Buenos Aires"
    assert city("UTC") == city("Etc/UTC") == "UTC"
    assert city("Etc/GMT-2") == "UTC+2" and city("Etc/GMT+5") == "UTC-5"
    assert [join_names(n) for n in ([], ["A"], ["A", "B"], ["A", "B", "C"])] == [
        "",
        "A",
        "A and B",
        "A, B and C",
    ]


@pytest.mark.parametrize(
    ("timezone", "january", "july"),
    [
        ("America/New_York", "New York, EST", "New York, EDT"),
        ("America/Los_Angeles", "Los Angeles, PST", "Los Angeles, PDT"),
        ("Asia/Manila", "Manila, UTC+8", "Manila, UTC+8"),  # tzdata says "PST"
        ("Asia/Shanghai", "Shanghai, UTC+8", "Shanghai, UTC+8"),  # tzdata says "CST"
        ("America/Havana", "Havana, UTC-5", "Havana, UTC-4"),  # tzdata says "CST"/"CDT"
        ("Asia/Kolkata", "Kolkata, UTC+5:30", "Kolkata, UTC+5:30"),  # "IST", thrice over
        ("Europe/Dublin", "Dublin, GMT", "Dublin, UTC+1"),  # Irish "IST" in summer
        ("Europe/London", "London, GMT", "London, BST"),
        ("Europe/Paris", "Paris, CET", "Paris, CEST"),
        ("Asia/Kathmandu", "Kathmandu, UTC+5:45", "Kathmandu, UTC+5:45"),  # "+0545"
        ("America/Santiago", "Santiago, UTC-3", "Santiago, UTC-4"),  # "-03", "-04"
        ("Australia/Sydney", "Sydney, AEDT", "Sydney, AEST"),
        ("UTC", "UTC", "UTC"),
        ("Etc/GMT-2", "UTC+2", "UTC+2"),
    ],
)
def test_places_name_an_abbreviation_only_where_it_is_clear(
    timezone: str, january: str, july: str
) -> None:
    assert (place(timezone, JANUARY), place(timezone, JULY)) == (january, july)


def test_every_zone_label_is_a_clear_abbreviation_at_its_offset_or_the_offset() -> None:
    for name in available_timezones():
        for moment in (JANUARY, JULY):
            local = moment.astimezone(ZoneInfo(name))
            label = zone_label(local)
            if label != offset_label(local):
                offset = local.utcoffset()
                assert offset is not None
                assert CLEAR_ABBREVIATIONS[label] == offset // timedelta(minutes=1), name
                assert label == local.tzname()


def test_local_range() -> None:
    tz = ZoneInfo("Asia/Manila")
    start, end = JULY.astimezone(tz), (JULY + timedelta(hours=5)).astimezone(tz)
    assert local_range(start, end) == "Wed 20:00–Thu 01:00 UTC+8"
    assert local_range(start, end, weekday=False, timezone="Asia/Manila") == (
        "20:00–Thu 01:00 Manila, UTC+8"
    )


def test_hard_turn() -> None:
    assert hard_turn([("Maria", 60), ("Dana", 120)]) == "Dana (2 h)"
    assert hard_turn([("Maria", 60), ("Dana", 60)], lambda n: f"*{n}*") == "*Dana and Maria* (1 h)"
    assert hard_turn([("Maria", 0), ("Dana", -1)]) is None
    assert NOBODY_PAYS == "inside everyone's working hours"


def test_clock_changes_come_from_the_core_and_read_like_the_notices() -> None:
    changes = clock_changes(
        ["America/New_York", "Asia/Manila", "Europe/London", "Australia/Lord_Howe"],
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 11, 30, tzinfo=UTC),
    )
    assert [(c.timezone, c.moment) for c in changes] == [
        ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),
        ("Europe/London", datetime(2026, 10, 25, 1, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 11, 1, 6, tzinfo=UTC)),
    ]
    lord_howe, london, new_york = changes
    assert lord_howe.text.startswith(
        "Clocks in Lord Howe go forward 0.5 hours on Sun 4 Oct 2026 (UTC+10:30→UTC+11)"
    )
    assert london.text.startswith("Clocks in London go back 1 hour on Sun 25 Oct 2026 (BST→GMT)")
    assert clock_change("America/New_York", new_york.before, new_york.after) == (
        "New York changed clocks (EDT→EST)"
    )
    assert clock_change("Asia/Manila", JANUARY, JULY) is None
    # A range's end is open: a change at exactly `end` is the next range's.
    at = new_york.moment
    assert clock_changes(["America/New_York"], at - timedelta(days=1), at) == []
    assert len(clock_changes(["America/New_York"], at, at + timedelta(minutes=1))) == 1


@pytest.mark.parametrize(
    ("moment", "label"),
    [
        (JANUARY, "UTC"),
        (datetime(2026, 1, 15, 12), "UTC"),  # naive: no offset
        (JANUARY.astimezone(ZoneInfo("Asia/Manila")), "UTC+8"),
        (JANUARY.astimezone(ZoneInfo("America/St_Johns")), "UTC-3:30"),
        (JULY.astimezone(ZoneInfo("America/Santiago")), "UTC-4"),
        (JANUARY.astimezone(ZoneInfo("Asia/Kathmandu")), "UTC+5:45"),
    ],
)
def test_offset_labels(moment: datetime, label: str) -> None:
    assert offset_label(moment) == label


def test_local_range_on_one_day_names_one_weekday() -> None:
    tz = ZoneInfo("Asia/Manila")
    start, end = JULY.astimezone(tz), (JULY + timedelta(hours=1)).astimezone(tz)
    assert local_range(start, end) == "Wed 20:00–21:00 UTC+8"
    assert local_range(start, end, weekday=False) == "20:00–21:00 UTC+8"


def test_day_labels() -> None:
    assert day_label(date(2026, 11, 24)) == "Tue 24 Nov 2026"
    assert day_label(date(2026, 11, 24), year=False) == "Tue 24 Nov"


@pytest.mark.parametrize(
    ("burdens", "text"),
    [
        ([("Dana", 1), ("Bo", 0)], "Dana (0 h)"),  # one minute outside hours pays
        ([("Cy", 60), ("Al", 60), ("Bo", 60)], "Al, Bo and 1 other (1 h)"),
        ([("Cy", 60), ("Al", 60), ("Bo", 60), ("Di", 60), ("Ed", 30)], "Al, Bo and 2 others (1 h)"),
        ([], None),
    ],
)
def test_hard_turn_names_two_then_counts_the_others(
    burdens: list[tuple[str, int]], text: str | None
) -> None:
    assert hard_turn(burdens) == text


def test_answers_are_none_until_somebody_answers() -> None:
    assert answers([]) is None
    assert answers([("Bo", None), ("Ana", None)]) is None
    assert answers([("Bo", "accepted"), ("Ana", None), ("Cy", "declined")]) == (
        "Answers: Bo accepted; Cy declined."
    )


def test_a_clock_change_reads_the_minute_before_it_and_its_first_minute() -> None:
    first_minute = datetime(2026, 11, 1, 6, tzinfo=UTC)  # 02:00 EDT becomes 01:00 EST
    [change] = clock_changes(["America/New_York"], first_minute, first_minute + timedelta(hours=1))
    assert change.moment == first_minute
    # 01:59 EDT is an ambiguous wall time, which never compares equal across zones.
    assert change.before.astimezone(UTC) == first_minute - timedelta(minutes=1)
    assert f"{change.before:%H:%M %Z}" == "01:59 EDT"
    assert f"{change.after:%H:%M %Z}" == "01:00 EST"
