"""Property tests: the fast core agrees with the naive minute-by-minute reference.

Dates cluster around every 2026–2027 DST transition of the US, the EU, Australia (incl.
Lord Howe's 30-minute shift) and New Zealand (incl. Chatham), plus a few public holidays.
Runs are derandomized so CI sees the same examples every time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.scheduling.burden import burden_matrix, burden_minutes
from app.scheduling.model import WEEKDAYS, BusyTimes, Person, format_hhmm, parse_working_hours
from app.scheduling.search import overlap, search_slots
from app.scheduling.windows import working_windows
from tests.scheduling import reference

ZONES = [
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "America/New_York",
    "Europe/London",
    "Asia/Manila",
    "Australia/Sydney",
    "Europe/Berlin",
    "Asia/Kolkata",
]
# Published transition dates (timeanddate.com) and a few holidays.
DATES = [
    *(date(2026, 3, 8), date(2026, 11, 1), date(2027, 3, 14), date(2027, 11, 7)),  # US
    *(date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)),  # EU
    *(date(2026, 4, 5), date(2026, 10, 4), date(2027, 4, 4), date(2027, 10, 3)),  # AU
    *(date(2026, 9, 27), date(2027, 9, 26)),  # NZ (April dates as AU)
    *(date(2026, 11, 26), date(2026, 12, 25), date(2027, 1, 1)),  # holidays
]
CALENDARS: list[tuple[str | None, str | None]] = [
    (None, None),
    ("US", None),
    ("US", "CA"),
    ("GB", "SCT"),
    ("AU", "NSW"),
    ("NZ", None),
    ("PH", None),
]

CI = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def weekly_windows(draw: st.DrawFn) -> list[dict[str, Any]]:
    raw: list[dict[str, Any]] = []
    count = draw(st.sampled_from([1, 1, 2, 2, 3, 0]))  # rarely nobody-works
    for _ in range(count):
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
        start = draw(st.integers(0, 1439).map(lambda m: m - m % 5))
        end = draw(st.integers(1, 1440).filter(start.__ne__))
        raw.append({"days": days, "start": format_hhmm(start), "end": format_hhmm(end)})
    return raw


@st.composite
def people(draw: st.DrawFn, pid: str = "p") -> Person:
    country, subdivision = draw(st.sampled_from(CALENDARS))
    near = draw(st.sampled_from(DATES))
    time_off = tuple(
        (near + timedelta(days=a), near + timedelta(days=a + length))
        for a, length in draw(
            st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 2)), max_size=1)
        )
    )
    # Busy times near the same date: single minutes, hours, and ones that touch or overlap.
    base = reference.to_minute(datetime(near.year, near.month, near.day, tzinfo=UTC))
    busy = [
        (base + a, base + a + length)
        for a, length in draw(
            st.lists(
                st.tuples(st.integers(-3 * 1440, 3 * 1440), st.sampled_from([1, 30, 60, 61, 600])),
                max_size=3,
            )
        )
    ]
    return Person(
        id=pid,
        busy=BusyTimes(busy),
        timezone=draw(st.sampled_from(ZONES)),
        working_hours=parse_working_hours(draw(weekly_windows())),
        holiday_country=country,
        holiday_subdivision=subdivision,
        time_off=time_off,
        max_stretch_minutes=draw(st.sampled_from([180, 60, 300, 600, 1440, 0])),
    )


@st.composite
def instants(draw: st.DrawFn) -> int:
    """A UTC minute within two days of a transition date (or holiday)."""
    day = draw(st.sampled_from(DATES))
    base = reference.to_minute(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return base + draw(st.integers(-2 * 1440, 2 * 1440))


@settings(CI, max_examples=200)
@given(person=people(), start=instants(), duration=st.integers(1, 600))
def test_burden_equals_reference(person: Person, start: int, duration: int) -> None:
    expected, why = reference.burden(person, start, duration)
    got = burden_minutes(person, reference.from_minute(start), duration)
    event("inside" if expected == 0 else "outside" if expected else f"infeasible: {why}")
    assert got.minutes == expected
    assert got.inside_hours == (expected == 0)
    if why is None:
        assert got.reason is None
    elif why == "holiday":
        assert got.reason is not None and got.reason.startswith("public holiday in ")
    elif why == "time off":
        assert got.reason == "time off"
    elif why == "busy":
        assert got.reason == "busy (calendar)"
    elif why == "none":
        assert got.reason == "has no working hours"
    else:
        assert got.reason is not None and "outside working hours" in got.reason


@CI
@given(
    person=people(),
    starts=st.lists(instants(), min_size=1, max_size=6),
    duration=st.integers(1, 240),
)
def test_burden_matrix_equals_reference_on_scattered_starts(
    person: Person, starts: list[int], duration: int
) -> None:
    other = Person(
        "fixed",
        "Asia/Manila",
        parse_working_hours(
            [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "21:00", "end": "06:00"}]
        ),
    )
    # Same calendar, other stretch: shares the timeline, not the row.
    stricter = replace(person, id="q", max_stretch_minutes=max(0, person.max_stretch_minutes - 60))
    team = [person, other, stricter, person]
    matrix = burden_matrix(team, np.array(starts, dtype=np.int64), duration)
    for n, s in enumerate(starts):
        for p, who in enumerate(team):
            expected, _ = reference.burden(who, s, duration)
            assert matrix.minutes[p, n] == (-1 if expected is None else expected)
            assert (matrix.reason(p, n) is None) == (expected is not None)
    event(f"{np.count_nonzero(matrix.minutes[0] > 0)}+ outside-hours cells")


@CI
@given(person=people(), start=instants(), days=st.integers(1, 3))
def test_working_windows_equal_reference(person: Person, start: int, days: int) -> None:
    end = start + days * 1440
    expected = [
        (max(a, start), min(b, end))
        for a, b in reference.merged(reference.windows(person, start, end))
        if b > start and a < end
    ]
    got = working_windows(person, reference.from_minute(start), reference.from_minute(end))
    assert [(reference.to_minute(a), reference.to_minute(b)) for a, b in got] == expected
    assert all(a.tzinfo is UTC and b.tzinfo is UTC for a, b in got)


@settings(CI, max_examples=40)
@given(
    team=st.lists(people(), min_size=1, max_size=3),
    start=instants(),
)
def test_overlap_equals_reference_and_is_symmetric(team: list[Person], start: int) -> None:
    team = [replace(p, id=f"p{i}") for i, p in enumerate(team)]
    end = start + 2 * 1440
    lo, hi = reference.from_minute(start), reference.from_minute(end)
    got = overlap(team, lo, hi)
    runs = [(reference.to_minute(w.start), reference.to_minute(w.end)) for w in got]
    assert runs == reference.shared_minutes(team, start, end)
    event(f"{len(team)} people, {min(len(runs), 3)}+ shared runs")
    assert [(w.start, w.end) for w in overlap(team[::-1], lo, hi)] == [
        (w.start, w.end) for w in got
    ]
    for w in got:  # contained in every person's windows
        for p in team:
            assert any(a <= w.start and w.end <= b for a, b in working_windows(p, lo, hi))
            local_start, local_end, tz = w.local[p.id]
            assert tz == p.timezone and getattr(local_start.tzinfo, "key", None) == tz
            # Via UTC: PEP 495 makes an inter-zone == False when one side is in a fold.
            assert (local_start.astimezone(UTC), local_end.astimezone(UTC)) == (w.start, w.end)


@settings(CI, max_examples=40)
@given(
    team=st.lists(people(), min_size=1, max_size=3),
    start=instants(),
    duration=st.sampled_from([15, 30, 60, 90]),
    step=st.sampled_from([15, 30, 60]),
)
def test_zero_burden_slots_are_exactly_those_inside_the_overlap(
    team: list[Person], start: int, duration: int, step: int
) -> None:
    team = [replace(p, id=f"p{i}") for i, p in enumerate(team)]
    lo, hi = reference.from_minute(start), reference.from_minute(start + 2 * 1440)
    slots = search_slots(team, [], lo, hi, duration, step, limit=10_000)
    free = {reference.to_minute(s.start) for s in slots if s.max_burden_minutes == 0}
    inside = set()
    for w in overlap(team, lo, hi):
        a, b = reference.to_minute(w.start), reference.to_minute(w.end)
        inside |= {s for s in range(a + (-a % step), b - duration + 1, step)}
    assert free == inside
    event(f"{min(len(free), 1)}+ free, {min(len(slots), 1)}+ feasible slots")
    for s in slots:
        assert (s.max_burden_minutes == 0) == all(t.inside_hours for t in s.participants)


GAPS = [1, 60, 119, 120, 121, 240]
NUDGES = [-121, -120, -119, -61, -60, -59, -2, -1, 0, 1, 2, 59, 60, 61, 119, 120, 121]


@st.composite
def split_shift_people(draw: st.DrawFn) -> Person:
    """A split shift: two windows a day with an adversarial gap between them; either may
    cross midnight, and the day may be a DST day of the zone."""
    first_start = draw(st.integers(0, 1439))
    first_length = draw(st.integers(1, 720))
    gap = draw(st.sampled_from(GAPS))
    second_start = (first_start + first_length + gap) % 1440
    second_length = draw(st.integers(1, max(1, 1440 - first_length - gap - 1)))
    days = list(draw(st.sampled_from([WEEKDAYS, WEEKDAYS[:5], ("sat", "sun"), ("sun",)])))
    raw = [
        {"days": days, "start": format_hhmm(start), "end": format_hhmm((start + length) % 1440)}
        for start, length in ((first_start, first_length), (second_start, second_length))
    ]
    return Person(
        id="p",
        timezone=draw(st.sampled_from(ZONES)),
        working_hours=parse_working_hours(raw),
        max_stretch_minutes=draw(st.sampled_from([180, 60, 300, 1440])),
    )


@settings(CI, max_examples=250)
@given(
    person=split_shift_people(),
    day=st.sampled_from(DATES),
    edge=st.integers(0, 11),
    nudge=st.sampled_from(NUDGES),
    duration=st.sampled_from([1, 2, 59, 60, 61, 119, 120, 121, 180, 241]),
)
def test_split_shift_burden_equals_the_minute_walk_near_every_edge(
    person: Person, day: date, edge: int, nudge: int, duration: int
) -> None:
    # Meetings start near a window edge (the reference's windows, merged): where an
    # off-by-one in the tent, the midpoint or the DST arithmetic would show.
    base = reference.to_minute(datetime(day.year, day.month, day.day, tzinfo=UTC))
    windows = reference.merged(reference.windows(person, base - 1440, base + 1440))
    edges = sorted({x for w in windows for x in w if base - 1440 <= x <= base + 2 * 1440})
    start = (edges[edge % len(edges)] if edges else base) + nudge
    expected, why = reference.burden(person, start, duration)
    got = burden_minutes(person, reference.from_minute(start), duration)
    event("inside" if expected == 0 else "outside" if expected else f"infeasible: {why}")
    assert got.minutes == expected
