"""Busy times from a person's own calendar: unavailable minute by minute (docs/rules.md,
"Busy times"), in burden, slot search, overlap and the planner's notices."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
from hypothesis import event, given, settings
from hypothesis import strategies as st

from app.scheduling.burden import burden_matrix, burden_minutes, forced_burden
from app.scheduling.model import BusyTimes, Person, parse_working_hours
from app.scheduling.search import overlap, search_slots
from tests.scheduling import reference
from tests.scheduling.test_properties import CI, people

HOURS = parse_working_hours(
    [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]
)
MONDAY = datetime(2027, 3, 1, tzinfo=UTC)  # Mon 1 Mar 2027, London is UTC+0


def minute(value: datetime) -> int:
    return reference.to_minute(value)


def at(hour: int, minute_: int = 0, days: int = 0) -> datetime:
    return MONDAY + timedelta(days=days, hours=hour, minutes=minute_)


def london(busy: list[tuple[datetime, datetime]] = (), **kw: object) -> Person:  # type: ignore[assignment]
    return Person(
        "ldn",
        "Europe/London",
        HOURS,
        busy=BusyTimes((minute(a), minute(b)) for a, b in busy),
        **kw,  # type: ignore[arg-type]
    )


def test_busy_times_are_merged_sorted_and_compared_by_their_minutes() -> None:
    busy = BusyTimes([(50, 60), (10, 20), (20, 30), (55, 70), (5, 5), (9, 8)])
    assert busy.intervals() == [(10, 30), (50, 70)]
    assert busy == BusyTimes([(50, 70), (10, 30)]) and hash(busy) == hash(
        BusyTimes([(10, 30), (50, 70)])
    )
    assert busy != BusyTimes([(10, 30), (50, 71)])
    assert [a.tolist() for a in busy.between(30, 50)] == [[], []]  # touching is not meeting
    assert [a.tolist() for a in busy.between(29, 51)] == [[10, 50], [30, 70]]
    assert len(BusyTimes(())) == 0 and not BusyTimes(())


def test_a_meeting_that_meets_a_busy_minute_is_infeasible_and_says_why() -> None:
    person = london([(at(11), at(12))])
    free = london()
    for start, hit in [
        (at(10), False),  # ends as the busy time starts
        (at(10, 1), True),  # its last minute is the busy time's first
        (at(11, 30), True),
        (at(11, 59), True),  # its first minute is the busy time's last
        (at(12), False),  # starts as the busy time ends
    ]:
        got = burden_minutes(person, start, 60)
        if hit:
            assert (got.minutes, got.reason) == (None, "busy (calendar)"), start
        else:
            assert got == burden_minutes(free, start, 60), start


def test_busy_leaves_the_cost_of_other_minutes_alone() -> None:
    # Busy during the working day changes nothing of an early meeting's cost.
    person = london([(at(12), at(13))])
    assert (
        burden_minutes(person, at(7), 60).minutes
        == 120
        == burden_minutes(london(), at(7), 60).minutes
    )
    # ...and busy outside working hours blocks a meeting there too.
    evening = london([(at(18, 30), at(19))])
    assert burden_minutes(evening, at(18), 60).reason == "busy (calendar)"


def test_holidays_and_time_off_give_their_reason_over_busy() -> None:
    person = london([(at(10), at(11))], time_off=((date(2027, 3, 1), date(2027, 3, 1)),))
    assert burden_minutes(person, at(10), 60).reason == "time off"
    xmas = datetime(2026, 12, 25, 10, tzinfo=UTC)
    person = replace(london([(xmas, xmas + timedelta(hours=1))]), holiday_country="GB")
    assert (burden_minutes(person, xmas, 60).reason or "").startswith("public holiday in GB")


def test_busy_is_never_forced() -> None:
    person = london([(at(5), at(6))])
    assert forced_burden(person, at(5), 60).reason == "busy (calendar)"
    # 04:00–05:00, touching the busy time: past the stretch, and forced at 5 a minute.
    assert "max stretch" in (burden_minutes(person, at(4), 60).reason or "")
    assert forced_burden(person, at(4), 60).minutes == 300


def test_search_skips_busy_starts_and_optional_busy_is_a_conflict() -> None:
    busy = london([(at(9), at(16))])
    other = replace(london(), id="other")
    slots = search_slots([busy, other], [], at(0), at(24), 60, 60, 24)
    assert {s.start for s in slots if s.max_burden_minutes == 0} == {at(16)}
    assert all(not (s.start < at(16) and s.end > at(9)) for s in slots)
    [best] = search_slots([other], [busy], at(9), at(10), 60, 60, 1)
    assert [(c.participant_id, c.reason) for c in best.conflicts] == [("ldn", "busy (calendar)")]


def test_overlap_cuts_busy_minutes_out_of_shared_time() -> None:
    person = london([(at(10), at(10, 30)), (at(12), at(13))])
    got = [(w.start, w.end) for w in overlap([person], at(0), at(24))]
    assert got == [(at(9), at(10)), (at(10, 30), at(12)), (at(13), at(17))]


def test_two_people_with_different_calendars_do_not_share_a_row() -> None:
    a = london([(at(10), at(11))])
    b = replace(london([(at(14), at(15))]), id="b")
    m = burden_matrix([a, b], np.array([minute(at(10)), minute(at(14))]), 60)
    assert m.minutes.tolist() == [[-1, 0], [0, -1]]


@st.composite
def busy_near(draw: st.DrawFn, start: int) -> BusyTimes:
    """Busy times within a day of ``start``: single minutes, touching pairs, long blocks."""
    pieces = draw(
        st.lists(
            st.tuples(st.integers(-1440, 1440), st.sampled_from([1, 2, 59, 60, 61, 119, 120, 600])),
            max_size=6,
        )
    )
    return BusyTimes((start + a, start + a + length) for a, length in pieces)


@settings(CI, max_examples=150)
@given(person=people(), start=st.integers(-600, 600), duration=st.integers(1, 300), data=st.data())
def test_busy_burden_equals_the_minute_walk(
    person: Person, start: int, duration: int, data: st.DataObject
) -> None:
    begin = minute(datetime(2027, 3, 28, tzinfo=UTC)) + start  # London's clocks go forward
    person = replace(person, busy=data.draw(busy_near(begin)))
    expected, why = reference.burden(person, begin, duration)
    got = burden_minutes(person, reference.from_minute(begin), duration)
    event(f"reference: {why or 'feasible'}")
    assert got.minutes == expected
    if why == "busy":
        assert got.reason == "busy (calendar)"


@settings(CI, max_examples=40)
@given(team=st.lists(people(), min_size=1, max_size=3), data=st.data())
def test_busy_overlap_equals_the_minute_walk(team: list[Person], data: st.DataObject) -> None:
    lo = minute(datetime(2027, 3, 1, tzinfo=UTC))
    hi = lo + 2 * 1440
    team = [replace(p, id=f"p{i}", busy=data.draw(busy_near(lo + 900))) for i, p in enumerate(team)]
    got = overlap(team, reference.from_minute(lo), reference.from_minute(hi))
    runs = [(minute(w.start), minute(w.end)) for w in got]
    assert runs == reference.shared_minutes(team, lo, hi)
