"""One rule for every date: within ten years of today, either way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.scheduling.horizon import Horizon, add_years
from app.scheduling.limits import HORIZON_YEARS
from app.scheduling.model import InvalidInput
from app.scheduling.recurrence import series_dates

TODAY = date(2026, 12, 3)
REFUSAL = (
    "is more than 10 years from today (2026-12-03); give a date from 2016-12-03 to 2036-12-03."
)


def horizon() -> Horizon:
    # Built inside each test, not at import: mutmut ties a call made at import to whichever
    # test happens to run first.
    return Horizon.around(TODAY)


def test_the_horizon_is_ten_years_either_way_inclusive() -> None:
    h = horizon()
    assert (h.today, h.first, h.last) == (TODAY, date(2016, 12, 3), date(2036, 12, 3))
    assert h.check_date(h.first, ("d",)) == h.first
    assert h.check_date(h.last, ("d",)) == h.last
    for outside in (h.first - timedelta(days=1), h.last + timedelta(days=1)):
        with pytest.raises(InvalidInput) as caught:
            h.check_date(outside, ("start_date",))
        assert caught.value.loc == ("start_date",)
        assert caught.value.msg == f"{outside} {REFUSAL}"


def test_a_leap_day_today_ends_on_28_february() -> None:
    h = Horizon.around(date(2028, 2, 29))
    assert (h.first, h.last) == (date(2018, 2, 28), date(2038, 2, 28))
    assert add_years(date(2028, 2, 29), -HORIZON_YEARS) == date(2018, 2, 28)


def test_instants_are_judged_by_their_utc_date() -> None:
    h = horizon()
    late = datetime(2036, 12, 3, 20, 0, tzinfo=timezone(timedelta(hours=-5)))  # 4 Dec UTC
    with pytest.raises(InvalidInput) as caught:
        h.check_instant(late, ("end",))
    assert caught.value.loc == ("end",)
    assert caught.value.msg == f"2036-12-03T20:00:00-05:00 {REFUSAL}"
    early = datetime(2036, 12, 4, 3, 0, tzinfo=timezone(timedelta(hours=5)))  # 3 Dec UTC
    assert h.check_instant(early, ("end",)) == early


@pytest.mark.parametrize(
    ("instant", "inside"),
    [
        (datetime(2016, 12, 3, 0, 0, tzinfo=UTC), True),
        (datetime(2016, 12, 2, 23, 59, tzinfo=UTC), False),
        (datetime(2016, 12, 3, 1, 0, tzinfo=timezone(timedelta(hours=2))), False),  # 2 Dec UTC
        (datetime(2036, 12, 3, 23, 59, tzinfo=UTC), True),
        (datetime(2036, 12, 4, 0, 0, tzinfo=UTC), False),
    ],
)
def test_an_instant_is_inside_from_the_first_minute_to_the_last(
    instant: datetime, inside: bool
) -> None:
    h = horizon()
    if inside:
        assert h.check_instant(instant, ("start",)) == instant
    else:
        with pytest.raises(InvalidInput) as caught:
            h.check_instant(instant, ("start",))
        assert caught.value.msg == f"{instant.isoformat()} {REFUSAL}"


@pytest.fixture
def server_in_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's own zone (what ``astimezone()`` without an argument uses) is UTC+9."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("server_in_tokyo")
def test_the_server_zone_does_not_move_an_instant_to_another_date() -> None:
    last_evening = datetime(2036, 12, 3, 18, 0, tzinfo=UTC)  # already 4 Dec in Tokyo
    assert horizon().check_instant(last_evening, ("end",)) == last_evening


@pytest.mark.parametrize(
    "instant",
    [
        datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))),
    ],
)
def test_instants_at_the_ends_of_datetime_are_refused_not_overflowed(instant: datetime) -> None:
    with pytest.raises(InvalidInput) as caught:
        horizon().check_instant(instant, ("start",))
    assert caught.value.msg == f"{instant.isoformat()} {REFUSAL}"


@pytest.mark.parametrize(
    ("instant", "inside", "outside"),
    [
        (
            datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=1))),  # before 0001-01-01Z
            Horizon(date.min, date.min, date(1, 1, 10)),
            Horizon(date.max, date(9999, 12, 20), date.max),
        ),
        (
            datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))),  # after 9999
            Horizon(date.max, date(9999, 12, 20), date.max),
            Horizon(date.min, date.min, date(1, 1, 10)),
        ),
    ],
)
def test_an_instant_past_an_end_of_datetime_counts_as_that_ends_date(
    instant: datetime, inside: Horizon, outside: Horizon
) -> None:
    assert inside.check_instant(instant, ("start",)) == instant
    with pytest.raises(InvalidInput):
        outside.check_instant(instant, ("start",))


def test_count_cannot_carry_a_series_past_the_horizon() -> None:
    h = horizon()
    # 2999-12-31 with count=100 reached 3008 while until=3009 was refused: one rule now.
    weekly = "FREQ=WEEKLY;BYDAY=TU"
    unlimited = series_dates(weekly, date(2036, 6, 1), "UTC", count=100)
    assert len(unlimited) == 100 and unlimited[-1].year == 2038
    with pytest.raises(InvalidInput) as caught:
        series_dates(weekly, date(2036, 6, 1), "UTC", count=100, limit=h)
    inside = [d for d in unlimited if d <= h.last]
    assert caught.value.loc == ("count",)
    assert caught.value.msg == (
        f"Only {len(inside)} dates of this rule fall by 2036-12-03, 10 years from today; "
        f"lower count to at most {len(inside)} or start earlier."
    )
    assert series_dates(weekly, date(2036, 6, 1), "UTC", count=len(inside), limit=h) == inside


def test_until_past_the_horizon_stops_there_only_when_named() -> None:
    h = horizon()
    # A series being changed keeps its stored start_date even once it is older than the
    # horizon: only the dates it generates must end inside.
    old_start = date(2015, 1, 6)
    days = series_dates("FREQ=YEARLY", old_start, "UTC", until=date(2024, 1, 6), limit=h)
    assert days[0] == old_start and days[-1] == date(2024, 1, 6)


def test_the_clock_decides_not_the_calendar_year() -> None:
    later = Horizon.around(datetime(2031, 5, 1, tzinfo=UTC).date())
    assert later.check_date(date(2040, 1, 1), ("until",)) == date(2040, 1, 1)
    with pytest.raises(InvalidInput):
        horizon().check_date(date(2040, 1, 1), ("until",))


def test_a_series_may_start_on_the_last_day_of_the_horizon_but_not_after() -> None:
    h = horizon()
    assert series_dates("FREQ=DAILY", h.last, "UTC", count=1, limit=h) == [h.last]
    with pytest.raises(InvalidInput) as caught:
        series_dates("FREQ=DAILY", h.last + timedelta(days=1), "UTC", count=1, limit=h)
    assert (caught.value.loc, caught.value.msg) == (("start_date",), f"2036-12-04 {REFUSAL}")


def test_an_old_series_is_held_to_its_own_ten_years_before_the_horizon() -> None:
    # Started in 2020: its ten years end in 2030, well before the horizon's end in 2036.
    with pytest.raises(InvalidInput) as caught:
        series_dates("FREQ=YEARLY", date(2020, 1, 1), "UTC", count=12, limit=horizon())
    assert (caught.value.loc, caught.value.msg) == (
        ("count",),
        "Only 11 dates of this rule fall within 10 years of start_date (up to 2030-01-01); "
        "lower count to at most 11.",
    )
