"""The cost model of docs/rules.md, checked against its worked examples and edge cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling import burden
from app.scheduling.burden import Burden, burden_matrix, burden_minutes
from app.scheduling.model import BusyTimes, InvalidInput, Person, parse_working_hours
from tests.scheduling import reference
from tests.scheduling.test_properties import CI

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def worker(tz: str = "UTC", start: str = "09:00", end: str = "17:00", **kw: object) -> Person:
    hours = parse_working_hours([{"days": WEEKDAYS, "start": start, "end": end}])
    return Person("w", tz, hours, **kw)  # type: ignore[arg-type]


def at(hour: int, minute: int = 0, day: int = 3) -> datetime:
    """A time on Wednesday 2026-06-03 (UTC)."""
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        (at(8), 60, 60),  # docs/rules.md: 08:00–09:00 costs 60
        (at(7), 60, 120),  # 07:00–08:00 costs 120
        (at(6), 60, 180),  # 06:00–07:00 costs 180
        (at(7), 120, 180),  # 07:00–09:00 costs 180
        (at(9), 60, 0),
        (at(16, 30), 60, 30),  # half in, half just after
        (at(17), 180, 360),  # 17:00–20:00: 60 + 120 + 180
        (at(8, 30), 540, 30 + 30),  # 08:30–17:30: 30 before, 30 after
    ],
)
def test_worked_examples(start: datetime, duration: int, expected: int) -> None:
    got = burden_minutes(worker(), start, duration)
    assert got == Burden(expected, None, expected == 0)


def test_default_stretch_allows_exactly_0600_to_2000() -> None:
    p = worker()
    assert burden_minutes(p, at(6), 15).minutes == 45
    assert burden_minutes(p, at(5, 59), 1).minutes is None
    assert burden_minutes(p, at(19, 59), 1).minutes == 3
    late = burden_minutes(p, at(20), 1)
    assert late.minutes is None
    assert late.reason == "3 h or more outside working hours (max stretch)"


def test_custom_stretch() -> None:
    p = worker(max_stretch_minutes=90)
    assert burden_minutes(p, at(7, 30), 90).minutes == 30 * 2 + 60
    assert (
        burden_minutes(p, at(7, 29), 1).reason
        == "1 h 30 min or more outside working hours (max stretch)"
    )
    strict = worker(max_stretch_minutes=0)
    assert burden_minutes(strict, at(9), 480).minutes == 0
    assert burden_minutes(strict, at(8, 59), 2).minutes is None


def test_short_gap_cost_is_a_tent() -> None:
    # Two windows 2 h apart: every minute is within 60 of one of them.
    hours = parse_working_hours(
        [
            {"days": WEEKDAYS, "start": "09:00", "end": "12:00"},
            {"days": WEEKDAYS, "start": "14:00", "end": "18:00"},
        ]
    )
    p = Person("w", "UTC", hours)
    assert burden_minutes(p, at(12), 120).minutes == 120
    # A 3 h lunch: from each side 60 minutes at 1 and 30 at 2, twice: 2 × 120 = 240.
    hours = parse_working_hours(
        [
            {"days": WEEKDAYS, "start": "09:00", "end": "12:00"},
            {"days": WEEKDAYS, "start": "15:00", "end": "18:00"},
        ]
    )
    assert burden_minutes(Person("w", "UTC", hours), at(12), 180).minutes == 240


def test_cost_is_against_the_persons_own_shift() -> None:
    night = Person(
        "agent",
        "Asia/Manila",
        parse_working_hours([{"days": WEEKDAYS, "start": "21:00", "end": "06:00"}]),
    )
    # 02:00 Manila on Thursday = 18:00Z Wednesday: inside the shift.
    assert burden_minutes(night, at(18), 60) == Burden(0, None, True)
    # 14:00 Manila = 06:00Z: 7 h from either end of the shift: infeasible.
    assert burden_minutes(night, at(6), 60).minutes is None


def test_no_working_hours_is_always_infeasible() -> None:
    got = burden_minutes(Person("p", "UTC", ()), at(9), 60)
    assert got == Burden(None, "has no working hours", False)


def test_holiday_makes_a_participant_unavailable_even_inside_hours() -> None:
    p = worker("America/New_York", holiday_country="US")
    thanksgiving = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # 10:00 in New York
    assert burden_minutes(p, thanksgiving, 60) == Burden(
        None, "public holiday in US: Thanksgiving Day", False
    )


def test_any_minute_on_a_holiday_local_date_counts() -> None:
    # Wednesday 23:30–Thursday 00:30 in New York touches Thanksgiving.
    p = Person(
        "p",
        "America/New_York",
        parse_working_hours([{"days": ["wed"], "start": "21:00", "end": "06:00"}]),
        holiday_country="US",
    )
    wednesday_late = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)  # 23:30 EST Wed
    assert burden_minutes(p, wednesday_late, 30).minutes == 0
    assert burden_minutes(p, wednesday_late, 31).reason == "public holiday in US: Thanksgiving Day"


def test_time_off_reason() -> None:
    p = worker("Europe/Berlin", time_off=((date(2026, 6, 3), date(2026, 6, 5)),))
    assert burden_minutes(p, at(9), 60) == Burden(None, "time off", False)
    assert burden_minutes(p, at(9, day=8), 60).minutes == 0  # Monday after: 11:00 Berlin


def test_matrix_matches_single_burdens_and_reference() -> None:
    people = [
        worker("America/New_York", holiday_country="US"),
        worker("Asia/Kathmandu"),
        Person(
            "n",
            "Asia/Manila",
            parse_working_hours(
                [{"days": ["sun", "mon", "tue", "wed", "thu"], "start": "21:00", "end": "06:00"}]
            ),
        ),
        Person("none", "UTC", ()),
    ]
    base = reference.to_minute(datetime(2026, 11, 24, tzinfo=UTC))
    starts = np.array([base + 15 * k for k in range(0, 4 * 96, 7)][::-1], dtype=np.int64)
    matrix = burden_matrix(people, starts, 45)
    assert matrix.minutes.shape == (4, len(starts)) and matrix.minutes.dtype == np.int64
    for p, person in enumerate(people):
        for n, s in enumerate(starts.tolist()):
            expected, _ = reference.burden(person, s, 45)
            assert matrix.minutes[p, n] == (-1 if expected is None else expected)
            single = burden_minutes(person, reference.from_minute(s), 45)
            assert single.reason == matrix.reason(p, n)
    assert (matrix.minutes[3] == -1).all() and matrix.reason(3, 0) == "has no working hours"
    assert (matrix.inside_hours == (matrix.minutes == 0)).all()


def test_matrix_with_starts_scattered_over_ten_years() -> None:
    p = worker("Europe/London", holiday_country="GB")
    first = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    days = [first + timedelta(weeks=52 * k + 7 * (k % 5)) for k in range(10)]
    starts = np.array([reference.to_minute(d) for d in days], dtype=np.int64)
    matrix = burden_matrix([p], starts, 60)
    assert matrix.minutes[0].tolist() == [
        burden_minutes(p, d, 60).minutes if burden_minutes(p, d, 60).minutes is not None else -1
        for d in days
    ]
    assert [reference.burden(p, int(s), 60)[0] for s in starts] == [
        None if m < 0 else m for m in matrix.minutes[0].tolist()
    ]


def test_matrix_edge_cases() -> None:
    p = worker()
    empty = burden_matrix([p], np.zeros(0, dtype=np.int64), 60)
    assert empty.minutes.shape == (1, 0)
    with pytest.raises(InvalidInput):
        burden_matrix([p], np.array([0]), 0)
    with pytest.raises(InvalidInput):
        burden_matrix([p], np.array([0.5]), 30)
    with pytest.raises(InvalidInput):
        burden_minutes(p, datetime(2026, 6, 3, 9, 0, 30, tzinfo=UTC), 30)
    with pytest.raises(InvalidInput):
        burden_minutes(p, datetime(2026, 6, 3, 9), 30)


def test_people_differing_only_in_time_off_elsewhere_agree() -> None:
    base = worker("Europe/Berlin")
    away_now = worker("Europe/Berlin", time_off=((date(2026, 6, 3), date(2026, 6, 3)),))
    away_later = worker("Europe/Berlin", time_off=((date(2027, 1, 4), date(2027, 1, 8)),))
    starts = np.array([reference.to_minute(at(h)) for h in (7, 8, 9)], dtype=np.int64)
    matrix = burden_matrix([base, away_now, away_later], starts, 60)
    assert matrix.minutes.tolist() == [[0, 0, 0], [-1, -1, -1], [0, 0, 0]]
    assert matrix.reason(1, 2) == "time off" and matrix.reason(2, 2) is None


def split_shift(gap: int) -> Person:
    """UTC 09:00–12:00 and a second window ``gap`` minutes after noon, to 20:00."""
    second = 12 * 60 + gap
    hours = parse_working_hours(
        [
            {"days": WEEKDAYS, "start": "09:00", "end": "12:00"},
            {"days": WEEKDAYS, "start": f"{second // 60:02d}:{second % 60:02d}", "end": "20:00"},
        ]
    )
    return Person("w", "UTC", hours)


@pytest.mark.parametrize("gap", [1, 2, 59, 60, 61, 119, 120, 121, 239, 240, 241, 360, 361])
def test_split_shift_costs_equal_the_minute_walk_at_every_edge_and_midpoint(gap: int) -> None:
    # Every minute of a gap costs 1 + d // 60 with d the distance to the nearer window: a tent
    # that peaks at the midpoint. Meetings start and end one minute before, at and one minute
    # after each window edge and each candidate midpoint, for gaps of 120·k minutes and their
    # neighbours (where an off-by-one in the midpoint shows).
    person = split_shift(gap)
    noon = reference.to_minute(at(12))
    marks = [noon - 180, noon, noon + gap // 2, noon + (gap + 1) // 2, noon + gap]
    points = sorted({m + e for m in marks for e in (-1, 0, 1)})
    starts = np.array(points, dtype=np.int64)
    for duration in sorted({1, 2, 59, 60, 61, gap, gap + 1, gap + 2, (gap + 1) // 2}):
        matrix = burden_matrix([person], starts, duration)
        for n, s in enumerate(points):
            expected, _ = reference.burden(person, s, duration)
            assert matrix.minutes[0, n] == (-1 if expected is None else expected), (s, duration)


def test_gaps_of_two_hours_cost_one_per_minute() -> None:
    # Windows Mon 08–10, 12–14 and 16–18: each minute of a 120-minute gap is within 59 of a
    # window (d = 0 … 59 … 0), so 11:00–17:00 costs 60 + 120 = 180.
    hours = parse_working_hours(
        [
            {"days": ["mon"], "start": s, "end": e}
            for s, e in [("08:00", "10:00"), ("12:00", "14:00"), ("16:00", "18:00")]
        ]
    )
    monday = datetime(2026, 6, 1, tzinfo=UTC)
    p = Person("w", "UTC", hours)
    assert burden_minutes(p, monday + timedelta(hours=11), 360).minutes == 180
    # Windows 09–12 and 14–17: 13:01–14:01 is 59 minutes at d = 58 … 0, then one inside.
    p = split_shift(120)
    assert burden_minutes(p, at(13, 1), 60).minutes == 59
    assert burden_minutes(p, at(12, 59), 2).minutes == 2  # the peak: d = 59 on both sides
    # A 121-minute gap has one minute at d = 60 (cost 2) in the middle: 12:00–14:01 = 122.
    assert burden_minutes(split_shift(121), at(12), 121).minutes == 122


def test_edges_of_a_single_window_minute_by_minute() -> None:
    p = worker()  # 09:00–17:00, stretch 180
    cases = {
        (8, 59, 1): 1,
        (8, 59, 2): 1,
        (9, 0, 1): 0,
        (9, 1, 1): 0,
        (16, 59, 1): 0,
        (16, 59, 2): 1,
        (17, 0, 1): 1,
        (17, 1, 1): 1,
        (17, 59, 2): 1 + 2,
        (7, 59, 2): 2 + 1,
        (6, 0, 1): 3,
        (6, 1, 1): 3,
        (19, 59, 1): 3,
    }
    for (hour, minute, duration), expected in cases.items():
        assert burden_minutes(p, at(hour, minute), duration).minutes == expected, (hour, minute)
    for hour, minute, duration in [(5, 59, 1), (5, 59, 2), (20, 0, 1), (19, 59, 2), (19, 0, 61)]:
        got = burden_minutes(p, at(hour, minute), duration)
        assert got == Burden(None, "3 h or more outside working hours (max stretch)", False)


@pytest.mark.parametrize(
    ("stretch", "text"),
    [
        (0, "0 min"),
        (1, "1 min"),
        (59, "59 min"),
        (60, "1 h"),
        (90, "1 h 30 min"),
        (600, "10 h"),
        (1081, "18 h 1 min"),
    ],
)
def test_stretch_reason_names_the_limit(stretch: int, text: str) -> None:
    got = burden_minutes(worker(max_stretch_minutes=stretch), at(12, day=6), 1)  # Saturday
    assert got.reason == f"{text} or more outside working hours (max stretch)"


def test_a_very_long_stretch_agrees_with_the_minute_walk() -> None:
    # Stretches past the lookup table (2^14 minutes) fall back to arithmetic.
    p = worker(max_stretch_minutes=20_000)
    saturday = reference.to_minute(datetime(2026, 6, 6, 12, tzinfo=UTC))
    starts = np.array([saturday, saturday + 1440], dtype=np.int64)
    matrix = burden_matrix([p], starts, 30)
    assert matrix.minutes[0].tolist() == [reference.burden(p, int(s), 30)[0] for s in starts]


@pytest.mark.parametrize("duration", [30.5, 30.0, True, "30", None, 0, -1])
def test_duration_must_be_a_positive_whole_number(duration: object) -> None:
    with pytest.raises(InvalidInput) as err:
        burden_matrix([worker()], np.array([0]), duration)  # type: ignore[arg-type]
    assert err.value.loc == ("duration_minutes",)
    whole = isinstance(duration, int) and not isinstance(duration, bool)
    assert err.value.msg == (
        "duration_minutes must be at least 1."
        if whole
        else "duration_minutes must be a whole number."
    )


def test_numpy_integers_are_whole_numbers() -> None:
    start = np.array([reference.to_minute(at(8))], dtype=np.int32)
    # Deliberately not an int, the only type the annotation admits: what this test is about.
    matrix = burden_matrix([worker()], start, np.int64(60))  # type: ignore[arg-type]
    assert matrix.minutes.tolist() == [[60]]
    assert burden_matrix([worker()], np.zeros(0), 60).minutes.shape == (1, 0)


@pytest.mark.parametrize("starts", [np.array([[0]]), np.array([0.0]), np.array(["x"])])
def test_starts_must_be_a_flat_array_of_whole_minutes(starts: np.ndarray) -> None:
    with pytest.raises(InvalidInput) as err:
        burden_matrix([worker()], starts, 30)
    assert (err.value.loc, err.value.msg) == (
        ("starts",),
        "starts must be a 1-D array of whole UTC minutes.",
    )


def test_negative_stretch_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        burden_matrix([worker(), worker(max_stretch_minutes=-1)], np.array([0]), 30)
    assert (err.value.loc, err.value.msg) == (
        ("max_stretch_minutes",),
        "max_stretch_minutes cannot be negative.",
    )


def test_reasons_follow_their_columns_when_starts_are_unsorted() -> None:
    p = worker(
        "Europe/Berlin", holiday_country="DE", time_off=((date(2026, 6, 4), date(2026, 6, 4)),)
    )
    # Wed 03 06:00Z (08:00 Berlin), Thu 04 (time off), Wed 03 00:00Z (02:00: too far),
    # Fri 05 07:00Z (09:00 Berlin, fine); unsorted on purpose.
    starts = [at(6), at(9, day=4), at(0), at(7, day=5)]
    matrix = burden_matrix([p], np.array([reference.to_minute(s) for s in starts]), 60)
    assert matrix.minutes[0].tolist() == [60, -1, -1, 0]
    assert [matrix.reason(0, n) for n in range(4)] == [
        None,
        "time off",
        "3 h or more outside working hours (max stretch)",
        None,
    ]
    assert matrix.inside_hours.tolist() == [[False, False, False, True]]
    assert matrix.starts.tolist() == [reference.to_minute(s) for s in starts]
    assert matrix.duration_minutes == 60


def test_unavailable_wins_over_too_far() -> None:
    # 02:00 Berlin on the day of time off: both too far and away; the away reason is shown.
    p = worker("Europe/Berlin", time_off=((date(2026, 6, 3), date(2026, 6, 3)),))
    assert burden_minutes(p, at(0), 60) == Burden(None, "time off", False)
    # A meeting ending exactly when the time-off date begins is not affected by it.
    night = Person(
        "n",
        "UTC",
        parse_working_hours([{"days": ["tue"], "start": "20:00", "end": "24:00"}]),
        time_off=((date(2026, 6, 3), date(2026, 6, 3)),),
    )
    assert burden_minutes(night, at(23, day=2), 60) == Burden(0, None, True)
    assert burden_minutes(night, at(23, 1, day=2), 60).reason == "time off"


def test_start_must_be_aware_and_on_a_whole_minute() -> None:
    cases = [
        (
            datetime(2026, 6, 3, 9),
            "start has no time zone; give an aware datetime such as 2026-10-06T13:00Z.",
        ),
        ("2026-06-03T09:00Z", "start must be a datetime with a UTC offset."),
        (at(9).replace(second=1), "start must be on a whole minute."),
        (at(9).replace(microsecond=1), "start must be on a whole minute."),
    ]
    for start, msg in cases:
        with pytest.raises(InvalidInput) as err:
            burden_minutes(worker(), start, 30)  # type: ignore[arg-type]
        assert (err.value.loc, err.value.msg) == (("start",), msg)


def nyz(day: int, hour: int, minute: int = 0) -> int:
    """A UTC minute in late November 2026, when New York is UTC−5."""
    return reference.to_minute(datetime(2026, 11, day, hour, minute, tzinfo=UTC))


# Mon–Fri 09:00–17:00 in New York with every cause of infeasibility in one week: busy on
# Wednesday 10:00–11:00, Thanksgiving on Thursday, time off on Friday, the weekend and the
# small hours past the 3-hour stretch.
NY_WEEK = worker(
    "America/New_York",
    holiday_country="US",
    time_off=((date(2026, 11, 27), date(2026, 11, 27)),),
    busy=BusyTimes([(nyz(25, 15), nyz(25, 16))]),
)
NOBODY = Person("none", "UTC", ())
STRETCH = "3 h or more outside working hours (max stretch)"
BUSY = "busy (calendar)"
THANKSGIVING = "public holiday in US: Thanksgiving Day"


def test_reasons_lists_each_cause_once_in_column_order() -> None:
    starts = [
        nyz(24, 14),  # 0: Tue 09:00, inside hours
        nyz(24, 8),  # 1: Tue 03:00, too far
        nyz(25, 15),  # 2: Wed 10:00, busy
        nyz(25, 15, 30),  # 3: Wed 10:30, busy
        nyz(26, 15),  # 4: Thanksgiving
        nyz(27, 15),  # 5: time off
        nyz(28, 15),  # 6: Saturday, too far
        nyz(24, 12),  # 7: Tue 07:00, 120 weighted minutes
    ]
    matrix = burden_matrix([NY_WEEK, NOBODY], np.array(starts, dtype=np.int64), 60)
    assert matrix.minutes[0].tolist() == [0, -1, -1, -1, -1, -1, -1, 120]
    expected = {
        (0, 8): ["unavailable", STRETCH, BUSY, THANKSGIVING, "time off"],
        (0, 1): ["unavailable"],
        (1, 2): [STRETCH],
        (2, 4): [BUSY],
        (3, 6): [BUSY, THANKSGIVING, "time off"],
        (4, 6): [THANKSGIVING, "time off"],
        (5, 8): ["time off", STRETCH, "unavailable"],
        (6, 8): [STRETCH, "unavailable"],
        (7, 8): ["unavailable"],
        (2, 2): [],
        (8, 8): [],
    }
    for (first, stop), why in expected.items():
        assert matrix.reasons(0, range(first, stop)) == why, (first, stop)
    assert (
        matrix.reasons(1, range(0, 8)) == matrix.reasons(1, range(3, 4)) == ["has no working hours"]
    )
    empty = burden_matrix([NY_WEEK], np.zeros(0, dtype=np.int64), 60)
    assert empty.reasons(0, range(0)) == []


# Starts around each cause and its edges: inside, partly outside, touching and meeting the
# busy hour, the late evening before Thanksgiving (too far and a holiday: the holiday wins).
NY_STARTS = [
    nyz(24, 14),
    nyz(24, 12),
    nyz(24, 8),
    nyz(24, 21, 30),
    nyz(25, 14),
    nyz(25, 14, 1),
    nyz(25, 15, 30),
    nyz(25, 15, 59),
    nyz(26, 4, 30),
    nyz(26, 15),
    nyz(27, 15),
    nyz(28, 15),
    nyz(30, 14),
]


@settings(CI, max_examples=40)
@given(
    starts=st.lists(st.sampled_from(NY_STARTS), min_size=1, max_size=10),
    duration=st.sampled_from([1, 60, 241]),
)
def test_reasons_equal_the_per_start_reasons_without_repeats(
    starts: list[int], duration: int
) -> None:
    strict = replace(NY_WEEK, id="strict", max_stretch_minutes=0)
    team = [NY_WEEK, strict, NOBODY]
    matrix = burden_matrix(team, np.array(starts, dtype=np.int64), duration)
    for p in range(len(team)):
        for first in range(len(starts) + 1):
            for stop in range(first, len(starts) + 1):
                naive: list[str] = []
                for n in range(first, stop):
                    why = matrix.reason(p, n) or "unavailable"
                    if why not in naive:
                        naive.append(why)
                assert matrix.reasons(p, range(first, stop)) == naive, (p, first, stop)


def test_costs_far_past_the_lookup_table_follow_the_rule() -> None:
    # Mondays 09:00–17:00 UTC with four Mondays off: a gap from Mon 1 June 17:00 to Mon 6
    # July 09:00, g = 35 days − 8 h = 49,920 minutes, peaking at i = 24,959 from its start.
    monday = Person(
        "m",
        "UTC",
        parse_working_hours([{"days": ["mon"], "start": "09:00", "end": "17:00"}]),
        time_off=tuple((date(2026, 6, d), date(2026, 6, d)) for d in (8, 15, 22, 29)),
        max_stretch_minutes=30_000,
    )
    end = datetime(2026, 6, 1, 17, tzinfo=UTC)
    cases = [
        # i = 16,384 (= 2^14, the lookup table's length) … 16,413: 1 + i // 60 = 274 each.
        (16_384, 30 * 274),
        # i = 24,945 … 24,974 around the peak: min(i, g − 1 − i) in 24,945 … 24,959, so
        # 1 + 415 = 416 each.
        (24_945, 30 * 416),
    ]
    for past, expected in cases:
        start = end + timedelta(minutes=past)
        assert burden_minutes(monday, start, 30) == Burden(expected, None, False), past
        assert reference.burden(monday, reference.to_minute(start), 30) == (expected, None)


def test_a_matrix_of_nobody_or_no_starts_keeps_its_shape_and_fields() -> None:
    nobody = burden_matrix([], np.array([5, 3], dtype=np.int64), 30)
    assert nobody.minutes.shape == (0, 2)
    assert (nobody.starts.tolist(), nobody.duration_minutes) == ([5, 3], 30)
    empty = burden_matrix([worker()], np.zeros(0, dtype=np.int64), 60)
    assert empty.minutes.shape == (1, 0)
    assert (empty.starts.tolist(), empty.duration_minutes) == ([], 60)


@pytest.mark.parametrize(
    ("busy_from", "expected"),
    [
        (at(8, 59), Burden(0, None, True)),  # ends as the meeting starts
        (at(9), Burden(None, "busy (calendar)", False)),  # the meeting's first minute
        (at(16, 59), Burden(None, "busy (calendar)", False)),  # its last minute
        (at(17), Burden(0, None, True)),  # starts as the meeting ends
    ],
)
def test_a_busy_minute_at_either_end_counts_without_any_stretch(
    busy_from: datetime, expected: Burden
) -> None:
    minute = reference.to_minute(busy_from)
    p = worker(max_stretch_minutes=0, busy=BusyTimes([(minute, minute + 1)]))
    assert burden_minutes(p, at(9), 480) == expected


def test_starts_out_of_order_only_after_the_first_keep_their_columns() -> None:
    # 06:00, 08:00, 07:00 against 09:00–17:00: 180, 60 and 120 (docs/rules.md), on Monday,
    # Wednesday and Tuesday; none is earlier than the first, but they are out of order.
    starts = [at(6, day=1), at(8, day=3), at(7, day=2), at(9, day=4), at(8, 30, day=2)]
    matrix = burden_matrix([worker()], np.array([reference.to_minute(s) for s in starts]), 60)
    assert matrix.minutes.tolist() == [[180, 60, 120, 0, 30]]


def test_the_shared_cost_table_is_read_only() -> None:
    # One table serves every call: a caller writing into it would change later costs, so
    # writing must fail.
    table = burden._cost_table(burden._TABLE_SIZE)
    assert table[:3].tolist() == [0, 1, 2] and table[61].tolist() == 60 + 2
    assert len(table) == 1 << 14  # the boundary that test_costs_far_past_the_lookup_table uses
    with pytest.raises(ValueError, match="read-only"):
        table[1] = 0


def test_a_feasible_start_has_no_reason_and_reads_unavailable_among_reasons() -> None:
    """09:00–17:00 New York: 10:00 (15:00Z) is inside hours, 03:00 (08:00Z) is six hours
    out, past the 3-hour stretch."""
    inside, far = nyz(24, 15), nyz(24, 8)
    matrix = burden_matrix([NY_WEEK], np.array([inside, far]), 60)
    assert matrix.minutes.tolist() == [[0, -1]]
    assert matrix.reason(0, 0) is None
    assert matrix.reason(0, 1) == "3 h or more outside working hours (max stretch)"
    assert matrix.reasons(0, range(0, 2)) == [
        "unavailable",
        "3 h or more outside working hours (max stretch)",
    ]


def test_people_with_one_profile_share_one_row() -> None:
    """burden_matrix works once per distinct profile: equal profiles, and profiles that
    differ only in time off far from the starts, share a row; a different stretch or time
    off that touches the starts gets its own."""
    base = worker("Europe/Berlin")
    same = replace(base, id="same")
    away_later = worker("Europe/Berlin", time_off=((date(2027, 1, 4), date(2027, 1, 8)),))
    away_before = worker("Europe/Berlin", time_off=((date(2025, 12, 1), date(2025, 12, 5)),))
    away_now = worker("Europe/Berlin", time_off=((date(2026, 6, 3), date(2026, 6, 3)),))
    wider = worker("Europe/Berlin", max_stretch_minutes=240)
    team = [base, same, away_later, away_before, away_now, wider]
    starts = np.array([reference.to_minute(at(h)) for h in (3, 9)], dtype=np.int64)
    matrix = burden_matrix(team, starts, 60)
    assert matrix.minutes.tolist() == [[-1, 0]] * 4 + [[-1, -1], [240, 0]]
    shared = matrix.rows[0]
    assert [row is shared for row in matrix.rows] == [True, True, True, True, False, False]


def test_the_matrix_keeps_its_own_copy_of_the_starts() -> None:
    starts = np.array([reference.to_minute(at(8))], dtype=np.int64)
    matrix = burden_matrix([worker()], starts, 60)
    starts[0] += 60
    assert matrix.starts.tolist() == [reference.to_minute(at(8))]
    assert matrix.minutes.tolist() == [[60]]
