"""Slot search and overlap: grid, ranking, optional participants, limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from app.scheduling.model import InvalidInput, Person, parse_working_hours
from app.scheduling.search import check_search_limits, grid_starts, overlap, search_slots

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
MONDAY = datetime(2026, 6, 1, tzinfo=UTC)


def worker(pid: str, tz: str, start: str = "09:00", end: str = "17:00", **kw: object) -> Person:
    hours = parse_working_hours([{"days": WEEKDAYS, "start": start, "end": end}])
    return Person(pid, tz, hours, **kw)  # type: ignore[arg-type]


def test_grid_is_counted_from_the_epoch_and_slots_fit_in_the_range() -> None:
    p = worker("a", "Asia/Kathmandu", "00:00", "24:00")
    start = MONDAY + timedelta(minutes=7)
    slots = search_slots([p], [], start, start + timedelta(hours=2), 30, step_minutes=15, limit=99)
    starts = sorted(s.start for s in slots)
    assert starts[0] == MONDAY + timedelta(minutes=15)
    assert starts[-1] == start + timedelta(hours=2) - timedelta(minutes=37)  # 01:30Z ends 02:00
    assert all(s.start.minute % 15 == 0 and s.end - s.start == timedelta(minutes=30) for s in slots)
    # Kathmandu +05:45 sees :00/:15/:30/:45 local starts too.
    assert {s.participants[0].local_start.minute for s in slots} <= {0, 15, 30, 45}


def test_ranking_and_limit() -> None:
    london = worker("ldn", "Europe/London")
    new_york = worker("ny", "America/New_York")
    slots = search_slots([london, new_york], [], MONDAY, MONDAY + timedelta(days=1), 60, 30, 5)
    assert len(slots) == 5
    keys = [(s.max_burden_minutes, s.total_burden_minutes, s.start) for s in slots]
    assert keys == sorted(keys)
    # Shared hours 13:00–16:00Z (09:00–17:00 BST and EDT): zero-cost slots come first.
    assert [s.start.hour * 60 + s.start.minute for s in slots[:5]] == [780, 810, 840, 870, 900]
    for s in slots:
        assert s.max_burden_minutes == max(t.burden_minutes for t in s.participants)
        assert s.total_burden_minutes == sum(t.burden_minutes for t in s.participants)


def test_participants_carry_local_times_in_their_zone() -> None:
    people = [
        worker("a", "Asia/Manila", "00:00", "24:00"),
        worker("b", "America/St_Johns", "00:00", "24:00"),
    ]
    at = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    [slot] = search_slots(people, [], at, at + timedelta(minutes=45), 45, 15)
    manila, st_johns = slot.participants
    assert (manila.participant_id, manila.timezone) == ("a", "Asia/Manila")
    assert manila.local_start == at and manila.local_start.tzinfo == ZoneInfo("Asia/Manila")
    assert f"{manila.local_start:%H:%M}–{manila.local_end:%H:%M}" == "20:00–20:45"
    assert f"{st_johns.local_start:%H:%M}" == "09:30"  # NDT is UTC-02:30


def test_optional_participants_never_block_and_never_count() -> None:
    ny = worker("ny", "America/New_York")
    off = worker("off", "America/New_York", time_off=((date(2026, 6, 1), date(2026, 6, 1)),))
    far = worker("far", "Asia/Tokyo")
    slots = search_slots([ny], [off, far], MONDAY, MONDAY + timedelta(days=1), 60, 60, 3)
    best = slots[0]
    assert (best.max_burden_minutes, best.total_burden_minutes) == (0, 0)
    assert [t.participant_id for t in best.participants] == ["ny", "off", "far"]
    assert [(c.participant_id, c.reason) for c in best.conflicts] == [
        ("off", "time off"),
        ("far", "3 h or more outside working hours (max stretch)"),
    ]
    shown = {t.participant_id: t for t in best.participants}
    assert shown["off"].burden_minutes == -1 and not shown["off"].inside_hours
    assert f"{shown['far'].local_start:%H:%M}" == "22:00"


def test_optional_participant_burden_is_shown_but_not_ranked() -> None:
    ny = worker("ny", "America/New_York")
    ldn = worker("ldn", "Europe/London")
    [slot] = search_slots(
        [ny], [ldn], MONDAY + timedelta(hours=21), MONDAY + timedelta(hours=22), 60, 60
    )  # 17:00 NY, 22:00 London
    assert (slot.max_burden_minutes, slot.total_burden_minutes) == (60, 60)
    assert [t.burden_minutes for t in slot.participants] == [60, -1]
    assert slot.conflicts[0].participant_id == "ldn"


def test_required_holiday_blocks() -> None:
    us = worker("us", "America/New_York", holiday_country="US")
    thanksgiving = datetime(2026, 11, 26, tzinfo=ZoneInfo("America/New_York"))
    assert search_slots([us], [], thanksgiving, thanksgiving + timedelta(days=1), 60) == []


def test_overlap_cuts_at_unavailable_dates_and_carries_local_views() -> None:
    night = Person(
        "n",
        "America/New_York",
        parse_working_hours([{"days": ["wed"], "start": "21:00", "end": "06:00"}]),
        holiday_country="US",
    )
    allday = Person(
        "u",
        "UTC",
        parse_working_hours(
            [
                {
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "start": "00:00",
                    "end": "24:00",
                }
            ]
        ),
    )
    start = datetime(2026, 11, 25, tzinfo=UTC)
    [shared] = overlap([night, allday], start, start + timedelta(days=2))
    # Wed 21:00 EST = Thu 02:00Z; Thanksgiving begins at Thu 00:00 EST = 05:00Z.
    assert (shared.start, shared.end) == (
        datetime(2026, 11, 26, 2, tzinfo=UTC),
        datetime(2026, 11, 26, 5, tzinfo=UTC),
    )
    local_start, local_end, tz = shared.local["n"]
    assert (f"{local_start:%a %H:%M}", f"{local_end:%a %H:%M}", tz) == (
        "Wed 21:00",
        "Thu 00:00",
        "America/New_York",
    )


def test_overlap_of_someone_without_hours_is_empty() -> None:
    assert overlap([Person("p", "UTC", ())], MONDAY, MONDAY + timedelta(days=7)) == []


@pytest.mark.parametrize(
    ("kwargs", "loc"),
    [
        ({"end": MONDAY}, ("end",)),
        ({"end": MONDAY + timedelta(days=31, minutes=1)}, ("end",)),
        ({"start": datetime(2026, 6, 1)}, ("start",)),
        ({"end": datetime(2026, 6, 2)}, ("end",)),
        ({"duration_minutes": 0}, ("duration_minutes",)),
        ({"duration_minutes": 1441}, ("duration_minutes",)),
        ({"step_minutes": 20}, ("step_minutes",)),
        ({"participants": 201}, ("participants",)),
        ({"participants": 0}, ("participants",)),
        ({"limit": 0}, ("limit",)),
    ],
)
def test_limits(kwargs: dict[str, object], loc: tuple[str, ...]) -> None:
    args: dict[str, object] = {
        "start": MONDAY,
        "end": MONDAY + timedelta(days=1),
        "duration_minutes": 60,
        "step_minutes": 15,
        "participants": 2,
        "limit": 10,
    }
    args.update(kwargs)
    with pytest.raises(InvalidInput) as err:
        check_search_limits(**args)  # type: ignore[arg-type]
    assert err.value.loc == loc


def test_limits_at_their_edges_are_allowed() -> None:
    check_search_limits(MONDAY, MONDAY + timedelta(days=31), 1440, 60, 200, 1)


def test_search_enforces_limits_and_inputs() -> None:
    a = worker("a", "UTC")
    with pytest.raises(InvalidInput):
        search_slots([a], [], MONDAY, MONDAY + timedelta(days=32), 60)
    with pytest.raises(InvalidInput):
        search_slots([a], [], MONDAY, MONDAY + timedelta(days=1), 60, step_minutes=7)
    with pytest.raises(InvalidInput) as err:
        search_slots([], [a], MONDAY, MONDAY + timedelta(days=1), 60)
    assert err.value.loc == ("required",)
    with pytest.raises(InvalidInput) as err:
        search_slots([a], [a], MONDAY, MONDAY + timedelta(days=1), 60)
    assert err.value.loc == ("participants",)
    with pytest.raises(InvalidInput):
        search_slots(
            [worker(str(i), "UTC") for i in range(201)], [], MONDAY, MONDAY + timedelta(days=1), 60
        )
    assert search_slots([a], [], MONDAY, MONDAY + timedelta(minutes=30), 60) == []


@pytest.mark.parametrize(
    ("kwargs", "loc", "msg"),
    [
        ({"duration_minutes": 30.5}, ("duration_minutes",), "from 1 to 1440."),
        ({"duration_minutes": True}, ("duration_minutes",), "from 1 to 1440."),
        ({"step_minutes": True}, ("step_minutes",), "must be one of 5, 10, 15, 30, 60."),
        ({"step_minutes": 15.0}, ("step_minutes",), "must be one of 5, 10, 15, 30, 60."),
        ({"limit": True}, ("limit",), "limit must be a whole number of at least 1."),
        ({"limit": 0}, ("limit",), "limit must be a whole number of at least 1."),
        ({"limit": 2.0}, ("limit",), "limit must be a whole number of at least 1."),
    ],
)
def test_search_refuses_each_bad_argument(
    kwargs: dict[str, object], loc: tuple[str, ...], msg: str
) -> None:
    args: dict[str, object] = {"duration_minutes": 60, "step_minutes": 15, "limit": 10} | kwargs
    with pytest.raises(InvalidInput) as err:
        search_slots([worker("a", "UTC")], [], MONDAY, MONDAY + timedelta(days=1), **args)  # type: ignore[arg-type]
    assert err.value.loc == loc
    assert err.value.msg.endswith(msg)


def test_limit_messages_say_what_to_change() -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"end": MONDAY}, "end must be after start."),
        (
            {"end": MONDAY + timedelta(days=31, hours=12)},
            "The search range is 31.5 days; at most 31 days are allowed.",
        ),
        ({"duration_minutes": 0}, "duration_minutes must be a whole number from 1 to 1440."),
        ({"participants": 201}, "Give 1 to 200 participants (got 201)."),
    ]
    for kwargs, msg in cases:
        args: dict[str, object] = {"start": MONDAY, "end": MONDAY + timedelta(days=1)} | kwargs
        with pytest.raises(InvalidInput) as err:
            check_search_limits(**args)  # type: ignore[arg-type]
        assert err.value.msg == msg
    with pytest.raises(InvalidInput) as err:
        search_slots([], [], MONDAY, MONDAY + timedelta(days=1), 60)
    assert (err.value.loc, err.value.msg) == (
        ("participants",),
        "Give 1 to 200 participants (got 0).",
    )
    a = worker("a", "UTC")
    with pytest.raises(InvalidInput) as err:
        overlap([a, worker("b", "UTC"), a], MONDAY, MONDAY + timedelta(days=1))
    assert (err.value.loc, err.value.msg) == (("participants",), "Participant 'a' is listed twice.")


def test_overlap_of_nobody_is_a_domain_error() -> None:
    with pytest.raises(InvalidInput) as err:
        overlap([], MONDAY, MONDAY + timedelta(days=1))
    assert err.value.loc == ("participants",)


def test_overlap_edges_one_minute_either_side() -> None:
    p = worker("a", "UTC")  # 09:00–17:00
    nine, five = MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=17)
    one = timedelta(minutes=1)
    # A range that starts exactly at a window's end shares nothing (no empty [17:00, 17:00)).
    assert overlap([p], five, five + timedelta(hours=1)) == []
    assert overlap([p], nine - timedelta(hours=1), nine) == []
    for start, end, expected in [
        (five - one, five + one, (five - one, five)),
        (nine - one, nine + one, (nine, nine + one)),
        (nine + one, five - one, (nine + one, five - one)),
        (MONDAY, MONDAY + timedelta(days=1), (nine, five)),
    ]:
        [window] = overlap([p], start, end)
        assert (window.start, window.end) == expected
        assert window.local["a"] == (window.start, window.end, "UTC")


def test_overlap_of_two_zones_with_local_views() -> None:
    ny, ldn = worker("ny", "America/New_York"), worker("ldn", "Europe/London")
    [window] = overlap([ny, ldn], MONDAY, MONDAY + timedelta(days=1))
    assert (window.start, window.end) == (
        MONDAY + timedelta(hours=13),
        MONDAY + timedelta(hours=16),
    )
    assert [f"{window.local[k][0]:%H:%M}–{window.local[k][1]:%H:%M}" for k in ("ny", "ldn")] == [
        "09:00–12:00",
        "14:00–17:00",
    ]
    # Same profile twice: still one window, each id with its local view.
    twin = worker("twin", "America/New_York")
    [again] = overlap([ny, twin, ldn], MONDAY, MONDAY + timedelta(days=1))
    assert (again.start, again.end) == (window.start, window.end)
    assert set(again.local) == {"ny", "twin", "ldn"}


def test_grid_fits_the_range_to_the_minute() -> None:
    p = worker("a", "UTC", "00:00", "24:00")
    end = MONDAY + timedelta(hours=2)
    for tail, last in [(0, 90), (1, 90), (14, 90), (15, 105), (-1, 75)]:
        slots = search_slots(
            [p], [], MONDAY, end + timedelta(minutes=tail), 30, step_minutes=15, limit=99
        )
        starts = sorted(int((s.start - MONDAY) / timedelta(minutes=1)) for s in slots)
        assert starts == list(range(0, last + 1, 15)), tail
    # Seconds in the range: the first start is the next whole grid minute, the last slot ends
    # by `end` even when `end` has seconds.
    slots = search_slots(
        [p],
        [],
        MONDAY + timedelta(seconds=1),
        MONDAY + timedelta(minutes=60, seconds=59),
        30,
        step_minutes=15,
        limit=99,
    )
    assert sorted(s.start for s in slots) == [MONDAY + timedelta(minutes=m) for m in (15, 30)]
    assert search_slots([p], [], MONDAY, MONDAY + timedelta(minutes=29), 30, 15) == []
    [only] = search_slots([p], [], MONDAY, MONDAY + timedelta(minutes=30), 30, 15)
    assert (only.start, only.end) == (MONDAY, MONDAY + timedelta(minutes=30))


def test_ranking_breaks_ties_by_total_then_start() -> None:
    # a: 09–17 UTC; b and c: 10–18. 09:00 costs (0, 60, 60), 17:00 costs (60, 0, 0): the same
    # worst burden, and the smaller total (17:00) wins although it starts later.
    a, b, c = (
        worker("a", "UTC"),
        worker("b", "UTC", "10:00", "18:00"),
        worker("c", "UTC", "10:00", "18:00"),
    )
    slots = search_slots([a, b, c], [], MONDAY, MONDAY + timedelta(days=1), 60, 60, limit=20)
    keys = [(s.max_burden_minutes, s.total_burden_minutes, s.start.hour) for s in slots]
    assert keys[:11] == [
        *((0, 0, h) for h in range(10, 16 + 1)),
        (60, 60, 17),
        (60, 120, 9),
        (120, 240, 18),
        (120, 300, 8),
    ]
    assert keys == sorted(keys)
    assert [t.burden_minutes for t in slots[8].participants] == [0, 60, 60]
    assert [t.inside_hours for t in slots[8].participants] == [True, False, False]
    # Equal keys: the earlier start first.
    twins = search_slots([a], [], MONDAY, MONDAY + timedelta(days=1), 60, 60, limit=3)
    assert [s.start.hour for s in twins] == [9, 10, 11]


def test_the_shortest_meeting_and_the_smallest_limit_are_allowed() -> None:
    check_search_limits(MONDAY, MONDAY + timedelta(minutes=1), 1, 5, 1, 1)
    p = worker("a", "UTC", "00:00", "24:00")
    # A 5-minute range on a 5-minute grid holds one start for a 1-minute meeting: 00:00.
    [only] = search_slots([p], [], MONDAY, MONDAY + timedelta(minutes=5), 1, step_minutes=5)
    assert (only.start, only.end) == (MONDAY, MONDAY + timedelta(minutes=1))


def test_ten_slots_by_default() -> None:
    p = worker("a", "UTC", "00:00", "24:00")
    # 24 free hours on an hourly grid, all costing 0: the ten earliest, in start order.
    slots = search_slots([p], [], MONDAY, MONDAY + timedelta(days=1), 60, step_minutes=60)
    assert [s.start for s in slots] == [MONDAY + timedelta(hours=h) for h in range(10)]


def test_no_required_participant_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidInput) as err:
        search_slots([], [worker("a", "UTC")], MONDAY, MONDAY + timedelta(days=1), 60)
    assert (err.value.loc, err.value.msg) == (
        ("required",),
        "Give at least one required participant.",
    )


def test_grid_starts_are_int64_minutes_even_when_none_fit() -> None:
    monday = (MONDAY - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(minutes=1)
    none_fit = grid_starts(MONDAY, MONDAY + timedelta(minutes=29), 30, 15)
    one_fits = grid_starts(MONDAY, MONDAY + timedelta(minutes=30), 30, 15)
    assert (none_fit.tolist(), none_fit.dtype) == ([], np.dtype(np.int64))
    assert (one_fits.tolist(), one_fits.dtype) == ([monday], np.dtype(np.int64))


@pytest.fixture
def server_in_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's own zone (what ``astimezone()`` without an argument uses) is UTC+9."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("server_in_tokyo")
def test_overlap_is_in_utc_whatever_the_zones_of_the_range_and_the_server() -> None:
    p = worker("a", "UTC")  # 09:00–17:00Z; the range cuts the window at both ends
    start = datetime(2026, 6, 1, 6, tzinfo=ZoneInfo("America/New_York"))  # 10:00Z
    end = datetime(2026, 6, 2, 0, tzinfo=ZoneInfo("Asia/Manila"))  # 16:00Z
    [window] = overlap([p], start, end)
    assert (window.start, window.end) == (
        MONDAY + timedelta(hours=10),
        MONDAY + timedelta(hours=16),
    )
    # Not merely the same instants: UTC datetimes, as the API prints them ("+00:00").
    assert (window.start.tzinfo, window.end.tzinfo) == (UTC, UTC)
