"""A plan whose dates have partly passed says how many it skipped and where it starts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.scheduling.model import Person, parse_working_hours
from app.scheduling.planner import SeriesSpec, SkippedPast, plan_series

HOURS = parse_working_hours(
    [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]
)
ANA = Person("ana", "America/New_York", HOURS)
BEN = Person("ben", "Europe/London", HOURS)
# Tuesdays from 1 December 2026; planned on Wednesday 16 December at noon UTC.
SPEC = SeriesSpec(
    "FREQ=WEEKLY;BYDAY=TU",
    date(2026, 12, 1),
    6,
    None,
    "America/New_York",
    60,
    15,
    "rotate",
    (ANA, BEN),
)
WEDNESDAY = datetime(2026, 12, 16, 12, 0, tzinfo=UTC)


def test_passed_dates_are_counted_with_the_first_date_kept() -> None:
    plan = plan_series(SPEC, not_before=WEDNESDAY)
    assert plan.skipped_past == SkippedPast(3, date(2026, 12, 22))
    assert [o.date for o in plan.occurrences] == [
        date(2026, 12, 22),
        date(2026, 12, 29),
        date(2027, 1, 5),
    ]
    assert plan.skipped_past.sentence() == (
        "3 dates of this series have passed and are not planned; the plan starts on 2026-12-22."
    )


def test_dates_already_held_are_not_skipped() -> None:
    # 1 and 8 December happened (kept occurrences): only 15 December was dropped.
    held = {date(2026, 12, 1), date(2026, 12, 8)}
    plan = plan_series(SPEC, not_before=WEDNESDAY, exclude_dates=held)
    assert plan.skipped_past == SkippedPast(1, date(2026, 12, 22))
    assert plan.skipped_past.sentence() == (
        "1 date of this series has passed and is not planned; the plan starts on 2026-12-22."
    )


def test_a_series_wholly_in_the_past_keeps_nothing() -> None:
    plan = plan_series(SPEC, not_before=datetime(2027, 3, 1, tzinfo=UTC))
    assert plan.occurrences == [] and plan.unschedulable == []
    assert plan.skipped_past == SkippedPast(6, None)
    assert plan.skipped_past.sentence() == (
        "6 dates of this series have passed and are not planned; no date is left to plan."
    )


@pytest.mark.parametrize("not_before", [None, datetime(2026, 11, 1, tzinfo=UTC)])
def test_nothing_skipped_still_names_the_first_date(not_before: datetime | None) -> None:
    plan = plan_series(SPEC, not_before=not_before)
    assert plan.skipped_past == SkippedPast(0, date(2026, 12, 1))
    assert plan.skipped_past.sentence() is None


def test_today_with_starts_left_is_kept_not_skipped() -> None:
    # Tuesday 22 December at 15:00 UTC: New York's working day (14:00–22:00 UTC) still has
    # starts left that day, so the date stays in the plan.
    plan = plan_series(SPEC, not_before=datetime(2026, 12, 22, 15, 0, tzinfo=UTC))
    assert plan.skipped_past == SkippedPast(3, date(2026, 12, 22))
    assert plan.occurrences[0].start >= datetime(2026, 12, 22, 15, 0, tzinfo=UTC)
