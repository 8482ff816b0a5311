"""Minutes and zone offsets: the exact minute of every clock change, both directions.

Expected values are published transition instants (timeanddate.com, tzdata's NEWS); every
minute around each one is also compared with :mod:`zoneinfo` directly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from app.scheduling.clock import (
    NEVER_AFTER,
    NEVER_BEFORE,
    LocalClock,
    day_date,
    day_number,
    require_aware,
    utc_datetime,
    utc_minute,
    utc_minute_ceil,
    wall_minute,
    zone_span,
)
from app.scheduling.model import InvalidInput


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# (zone, UTC instant of the change, offset before, offset after) in minutes, 2026 and 2027.
TRANSITIONS = [
    ("America/New_York", z(2026, 3, 8, 7), -300, -240),
    ("America/New_York", z(2026, 11, 1, 6), -240, -300),
    ("America/New_York", z(2027, 3, 14, 7), -300, -240),
    ("America/New_York", z(2027, 11, 7, 6), -240, -300),
    ("America/St_Johns", z(2026, 3, 8, 5, 30), -210, -150),
    ("America/St_Johns", z(2026, 11, 1, 4, 30), -150, -210),
    ("America/St_Johns", z(2027, 3, 14, 5, 30), -210, -150),
    ("America/St_Johns", z(2027, 11, 7, 4, 30), -150, -210),
    ("Europe/London", z(2026, 3, 29, 1), 0, 60),
    ("Europe/London", z(2026, 10, 25, 1), 60, 0),
    ("Europe/London", z(2027, 3, 28, 1), 0, 60),
    ("Europe/London", z(2027, 10, 31, 1), 60, 0),
    ("Europe/Berlin", z(2026, 3, 29, 1), 60, 120),
    ("Europe/Berlin", z(2026, 10, 25, 1), 120, 60),
    ("Europe/Berlin", z(2027, 3, 28, 1), 60, 120),
    ("Europe/Berlin", z(2027, 10, 31, 1), 120, 60),
    ("Australia/Sydney", z(2026, 4, 4, 16), 660, 600),
    ("Australia/Sydney", z(2026, 10, 3, 16), 600, 660),
    ("Australia/Sydney", z(2027, 4, 3, 16), 660, 600),
    ("Australia/Sydney", z(2027, 10, 2, 16), 600, 660),
    ("Australia/Lord_Howe", z(2026, 4, 4, 15), 660, 630),
    ("Australia/Lord_Howe", z(2026, 10, 3, 15, 30), 630, 660),
    ("Australia/Lord_Howe", z(2027, 4, 3, 15), 660, 630),
    ("Australia/Lord_Howe", z(2027, 10, 2, 15, 30), 630, 660),
    ("Pacific/Chatham", z(2026, 4, 4, 14), 825, 765),
    ("Pacific/Chatham", z(2026, 9, 26, 14), 765, 825),
    ("Pacific/Chatham", z(2027, 4, 3, 14), 825, 765),
    ("Pacific/Chatham", z(2027, 9, 25, 14), 765, 825),
]
ZONES = [*sorted({tz for tz, *_ in TRANSITIONS}), "Asia/Kathmandu", "Asia/Manila", "Asia/Kolkata"]
# Offset changes at a year boundary: Niamey exactly at 1960-01-01T00:00Z; São Tomé at 01:00Z
# on 1 January 2018 and back a year later; Kathmandu at local midnight, 18:30Z on 31 Dec.
YEAR_BOUNDARY = [
    ("Africa/Niamey", z(1960, 1, 1), 0, 60),
    ("Africa/Sao_Tome", z(2018, 1, 1, 1), 0, 60),
    ("Africa/Sao_Tome", z(2019, 1, 1, 1), 60, 0),
    ("Asia/Kathmandu", z(1985, 12, 31, 18, 30), 330, 345),
]


def minute(value: datetime) -> int:
    return utc_minute(value)


def zoneinfo_wall(tz: str, utc: int) -> int:
    return wall_minute(utc_datetime(utc).astimezone(ZoneInfo(tz)))


def zoneinfo_utc(tz: str, wall: int) -> int:
    naive = datetime(1970, 1, 1) + timedelta(minutes=wall)
    return utc_minute(naive.replace(tzinfo=ZoneInfo(tz)))  # fold=0


def test_transitions_of_2026_and_2027_are_exactly_the_published_ones() -> None:
    lo, hi = minute(z(2026, 1, 1)), minute(z(2027, 12, 31, 23, 59))
    for tz in ZONES:
        span = zone_span(tz, lo, hi)
        inside = [int(t) for t in span.transitions if lo <= t <= hi]
        assert inside == [minute(at) for name, at, _, _ in TRANSITIONS if name == tz], tz


@pytest.mark.parametrize(("tz", "at", "before", "after"), TRANSITIONS + YEAR_BOUNDARY)
def test_the_minute_before_and_the_minute_of_each_change(
    tz: str, at: datetime, before: int, after: int
) -> None:
    t = minute(at)
    for lo, hi in ((t - 60, t + 60), (t - 400 * 1440, t), (t, t + 400 * 1440)):
        span = zone_span(tz, lo, hi)
        walls = span.to_wall(np.array([t - 1, t, t + 1], dtype=np.int64)).tolist()
        assert walls == [t - 1 + before, t + after, t + 1 + after]
        assert t in span.transitions.tolist()


def test_new_york_fall_back_reads_as_published() -> None:
    # 05:59Z is 01:59 EDT; 06:00Z is 01:00 EST.
    span = zone_span("America/New_York", minute(z(2026, 11, 1)), minute(z(2026, 11, 2)))
    walls = span.to_wall(np.array([minute(z(2026, 11, 1, 5, 59)), minute(z(2026, 11, 1, 6))]))
    assert walls.tolist() == [
        wall_minute(datetime(2026, 11, 1, 1, 59)),
        wall_minute(datetime(2026, 11, 1, 1, 0)),
    ]
    # Spring forward: 07:00Z is 03:00 EDT, never the nonexistent 02:00.
    span = zone_span("America/New_York", minute(z(2026, 3, 8)), minute(z(2026, 3, 9)))
    assert span.to_wall(np.array([minute(z(2026, 3, 8, 7))]))[0] == wall_minute(
        datetime(2026, 3, 8, 3, 0)
    )


@pytest.mark.parametrize(("tz", "at", "before", "after"), TRANSITIONS + YEAR_BOUNDARY)
def test_every_minute_near_a_change_agrees_with_zoneinfo(
    tz: str, at: datetime, before: int, after: int
) -> None:
    t = minute(at)
    span = zone_span(tz, t - 1440, t + 1440)
    utc = np.arange(t - 120, t + 121, dtype=np.int64)
    assert span.to_wall(utc).tolist() == [zoneinfo_wall(tz, int(u)) for u in utc]
    # Wall minutes around both readings of the change: gap and fold, fold=0 like zoneinfo.
    walls = np.arange(t + min(before, after) - 120, t + max(before, after) + 121, dtype=np.int64)
    assert span.to_utc(walls).tolist() == [zoneinfo_utc(tz, int(w)) for w in walls]


def test_wall_times_in_the_gap_and_the_fold_follow_pep_495_fold_0() -> None:
    span = zone_span("America/New_York", minute(z(2026, 1, 1)), minute(z(2026, 12, 31)))

    def utc_of(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
        wall = wall_minute(datetime(year, month, day, hour, minute))
        return utc_datetime(int(span.to_utc(np.array([wall]))[0]))

    assert utc_of(2026, 3, 8, 1, 59) == z(2026, 3, 8, 6, 59)  # EST
    assert utc_of(2026, 3, 8, 2, 0) == z(2026, 3, 8, 7, 0)  # in the gap: read with EST
    assert utc_of(2026, 3, 8, 2, 59) == z(2026, 3, 8, 7, 59)
    assert utc_of(2026, 3, 8, 3, 0) == z(2026, 3, 8, 7, 0)  # EDT
    assert utc_of(2026, 11, 1, 0, 59) == z(2026, 11, 1, 4, 59)
    assert utc_of(2026, 11, 1, 1, 0) == z(2026, 11, 1, 5, 0)  # ambiguous: the EDT one
    assert utc_of(2026, 11, 1, 1, 59) == z(2026, 11, 1, 5, 59)
    assert utc_of(2026, 11, 1, 2, 0) == z(2026, 11, 1, 7, 0)  # EST


def test_a_range_across_new_year_sees_both_years_changes() -> None:
    span = zone_span("America/New_York", minute(z(2026, 10, 1)), minute(z(2027, 4, 1)))
    assert {minute(z(2026, 11, 1, 6)), minute(z(2027, 3, 14, 7))} <= set(span.transitions.tolist())
    # A range inside one year still covers a change just after it (a day of margin).
    span = zone_span("America/New_York", minute(z(2026, 12, 30)), minute(z(2026, 12, 31, 23)))
    assert span.to_wall(np.array([minute(z(2027, 1, 1, 12))]))[0] == wall_minute(
        datetime(2027, 1, 1, 7)
    )


def test_pieces_cover_all_time() -> None:
    span = zone_span("Europe/London", minute(z(2026, 1, 1)), minute(z(2026, 12, 31)))
    starts, ends, offsets = span.pieces()
    assert starts[0] == NEVER_BEFORE and ends[-1] == NEVER_AFTER
    assert starts[1:].tolist() == ends[:-1].tolist() == span.transitions.tolist()
    assert offsets.tolist()[:3] == [0, 60, 0]


def test_zone_span_refuses_more_than_400_years() -> None:
    zone_span("UTC", minute(z(1902, 6, 1)), minute(z(2302, 6, 1)))  # 1902 to 2302: 400
    with pytest.raises(InvalidInput) as err:
        zone_span("UTC", minute(z(1902, 6, 1)), minute(z(2303, 6, 1)))
    assert err.value.loc == ("start",)
    assert err.value.msg == "The time range spans more than 400 years."


def test_minutes_round_towards_the_right_side() -> None:
    assert utc_minute(z(1970, 1, 1, 0, 1)) == 1
    assert utc_minute(datetime(1970, 1, 1, 0, 1, 59, 999999, tzinfo=UTC)) == 1
    assert utc_minute_ceil(datetime(1970, 1, 1, 0, 1, 0, 1, tzinfo=UTC)) == 2
    assert utc_minute_ceil(z(1970, 1, 1, 0, 1)) == 1
    before_epoch = datetime(1969, 12, 31, 23, 59, 30, tzinfo=UTC)
    assert (utc_minute(before_epoch), utc_minute_ceil(before_epoch)) == (-1, 0)
    assert utc_minute(datetime(2026, 6, 1, 9, tzinfo=timezone(timedelta(hours=2)))) == minute(
        z(2026, 6, 1, 7)
    )
    assert utc_datetime(minute(z(2026, 6, 1, 7, 5))) == z(2026, 6, 1, 7, 5)
    assert wall_minute(datetime(1970, 1, 2, 3, 4, 59)) == 1440 + 3 * 60 + 4
    assert day_number(date(1970, 1, 3)) == 2 and day_date(2) == date(1970, 1, 3)
    assert day_date(day_number(date(2026, 11, 1))) == date(2026, 11, 1)


def test_minutes_are_exact_far_from_the_epoch() -> None:
    # In year 9999 a count of microseconds (~2.5e17) is past float precision (2**53): the
    # last microsecond of 23:59 must still floor to 23:59, the first one of 23:58 ceil to 23:59.
    last_day = (date(9999, 12, 31).toordinal() - date(1970, 1, 1).toordinal()) * 1440
    assert utc_minute(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == last_day + 1439
    assert utc_minute_ceil(datetime(9999, 12, 31, 23, 58, 0, 1, tzinfo=UTC)) == last_day + 1439
    first_day = (date(1, 1, 1).toordinal() - date(1970, 1, 1).toordinal()) * 1440
    assert utc_minute(datetime(1, 1, 1, 0, 0, 59, 999999, tzinfo=UTC)) == first_day


class _NoOffset(tzinfo):
    def utcoffset(self, dt: datetime | None) -> None:
        return None

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> None:
        return None


def test_require_aware_says_what_is_wrong_and_where() -> None:
    require_aware(z(2026, 1, 1), "start")
    for value, msg in [
        ("2026-01-01", "start must be a datetime with a UTC offset."),
        (date(2026, 1, 1), "start must be a datetime with a UTC offset."),
        (
            datetime(2026, 1, 1),
            "start has no time zone; give an aware datetime such as 2026-10-06T13:00Z.",
        ),
        (
            datetime(2026, 1, 1, tzinfo=_NoOffset()),
            "start has no time zone; give an aware datetime such as 2026-10-06T13:00Z.",
        ),
    ]:
        with pytest.raises(InvalidInput) as err:
            require_aware(value, "start")  # type: ignore[arg-type]
        assert (err.value.loc, err.value.msg) == (("start",), msg)


def test_local_clock_memoizes_and_pads() -> None:
    clock = LocalClock()
    at = minute(z(2026, 6, 1, 3, 5))
    local = clock("Asia/Kathmandu", at)
    assert local == z(2026, 6, 1, 3, 5) and local.tzinfo == ZoneInfo("Asia/Kathmandu")
    assert clock("Asia/Kathmandu", at) is local
    assert clock.hhmm("Asia/Kathmandu", at) == "08:50"
    assert clock.hhmm("Asia/Kathmandu", at) is clock.hhmm("Asia/Kathmandu", at)  # memoized
    assert clock.hhmm("UTC", at) == "03:05" == clock.hhmm("UTC", at)
    assert clock("UTC", at).utcoffset() == timedelta(0)


def test_spans_are_shared_read_only_arrays() -> None:
    # zone_span is cached: a caller writing into its arrays would corrupt every later caller.
    span = zone_span("Europe/Berlin", minute(z(2026, 3, 1)), minute(z(2026, 9, 1)))
    assert zone_span("Europe/Berlin", minute(z(2026, 6, 1)), minute(z(2026, 7, 1))) is span
    for array in (span.transitions, span.offsets, span.wall_thresholds):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    assert span.wall_thresholds.tolist() == [
        int(t) + max(a, b)
        for t, a, b in zip(span.transitions, span.offsets[:-1], span.offsets[1:], strict=True)
    ]


def test_far_past_and_far_future_clamp_to_the_supported_years() -> None:
    past = zone_span("America/New_York", NEVER_BEFORE, NEVER_BEFORE)
    assert past.transitions.tolist() == [] and past.offsets.tolist() == [-300]  # 1901: EST
    future = zone_span("America/New_York", NEVER_AFTER, NEVER_AFTER)
    assert len(future.transitions) == 2  # 9998 still follows today's rule
    assert utc_datetime(int(future.transitions[0])) == z(9998, 3, 8, 7)


@pytest.mark.parametrize("tz", ["America/St_Johns", "Europe/Dublin", "Asia/Kathmandu"])
def test_mean_time_offsets_with_seconds_give_the_wall_minute_containing_the_instant(
    tz: str,
) -> None:
    # In 1901 St John's kept -3:30:52 and Dublin -0:25:21: the wall minute is the floor of
    # the local time (zoneinfo's local datetime with its seconds dropped), also below zero.
    t = minute(z(1901, 6, 1, 12))
    span = zone_span(tz, t, t + 60)
    utc = np.arange(t, t + 3, dtype=np.int64)
    assert span.to_wall(utc).tolist() == [zoneinfo_wall(tz, int(u)) for u in utc]


@pytest.mark.parametrize("tz", ["UTC", "Asia/Manila", "America/New_York"])
def test_span_arrays_are_int64_minutes_even_without_changes(tz: str) -> None:
    span = zone_span(tz, minute(z(2026, 1, 1)), minute(z(2026, 12, 31)))
    assert [a.dtype for a in (span.transitions, span.offsets, span.wall_thresholds)] == [
        np.int64
    ] * 3
    assert [a.dtype for a in span.pieces()] == [np.int64] * 3
