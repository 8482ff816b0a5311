"""Slot search and overlap: grid, ranking, optional participants, limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.scheduling.model import InvalidInput, Person, parse_working_hours
from app.scheduling.search import check_search_limits, overlap, search_slots

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
