"""One rule for every date: within ten years of today, either way."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.scheduling.horizon import Horizon, add_years
from app.scheduling.limits import HORIZON_YEARS
from app.scheduling.model import InvalidInput
from app.scheduling.recurrence import series_dates

TODAY = date(2026, 12, 3)
H = Horizon.around(TODAY)


def test_the_horizon_is_ten_years_either_way_inclusive() -> None:
    assert (H.first, H.last) == (date(2016, 12, 3), date(2036, 12, 3))
    assert H.check_date(H.first, ("d",)) == H.first
    assert H.check_date(H.last, ("d",)) == H.last
    for outside in (H.first - timedelta(days=1), H.last + timedelta(days=1)):
        with pytest.raises(InvalidInput) as caught:
            H.check_date(outside, ("start_date",))
        assert caught.value.loc == ("start_date",)
        assert caught.value.msg == (
            f"{outside} is more than 10 years from today (2026-12-03); "
            "give a date from 2016-12-03 to 2036-12-03."
        )


def test_a_leap_day_today_ends_on_28_february() -> None:
    h = Horizon.around(date(2028, 2, 29))
    assert (h.first, h.last) == (date(2018, 2, 28), date(2038, 2, 28))
    assert add_years(date(2028, 2, 29), -HORIZON_YEARS) == date(2018, 2, 28)


def test_instants_are_judged_by_their_utc_date() -> None:
    late = datetime(2036, 12, 3, 20, 0, tzinfo=timezone(timedelta(hours=-5)))  # 4 Dec UTC
    with pytest.raises(InvalidInput):
        H.check_instant(late, ("end",))
    early = datetime(2036, 12, 4, 3, 0, tzinfo=timezone(timedelta(hours=5)))  # 3 Dec UTC
    assert H.check_instant(early, ("end",)) == early


@pytest.mark.parametrize(
    "instant",
    [
        datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))),
    ],
)
def test_instants_at_the_ends_of_datetime_are_refused_not_overflowed(instant: datetime) -> None:
    with pytest.raises(InvalidInput) as caught:
        H.check_instant(instant, ("start",))
    assert "10 years from today" in caught.value.msg


def test_count_cannot_carry_a_series_past_the_horizon() -> None:
    # 2999-12-31 with count=100 reached 3008 while until=3009 was refused: one rule now.
    weekly = "FREQ=WEEKLY;BYDAY=TU"
    unlimited = series_dates(weekly, date(2036, 6, 1), "UTC", count=100)
    assert len(unlimited) == 100 and unlimited[-1].year == 2038
    with pytest.raises(InvalidInput) as caught:
        series_dates(weekly, date(2036, 6, 1), "UTC", count=100, limit=H)
    inside = [d for d in unlimited if d <= H.last]
    assert caught.value.loc == ("count",)
    assert caught.value.msg == (
        f"Only {len(inside)} dates of this rule fall by 2036-12-03, 10 years from today; "
        f"lower count to at most {len(inside)} or start earlier."
    )
    assert series_dates(weekly, date(2036, 6, 1), "UTC", count=len(inside), limit=H) == inside


def test_until_past_the_horizon_stops_there_only_when_named() -> None:
    # A series being changed keeps its stored start_date even once it is older than the
    # horizon: only the dates it generates must end inside.
    old_start = date(2015, 1, 6)
    days = series_dates("FREQ=YEARLY", old_start, "UTC", until=date(2024, 1, 6), limit=H)
    assert days[0] == old_start and days[-1] == date(2024, 1, 6)


def test_the_clock_decides_not_the_calendar_year() -> None:
    later = Horizon.around(datetime(2031, 5, 1, tzinfo=UTC).date())
    assert later.check_date(date(2040, 1, 1), ("until",)) == date(2040, 1, 1)
    with pytest.raises(InvalidInput):
        H.check_date(date(2040, 1, 1), ("until",))
