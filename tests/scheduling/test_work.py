"""The measured work estimate that bounds a plan (app.scheduling.work), the unschedulable
reasons of a big plan and the planner's overall time budget."""

from __future__ import annotations

from datetime import date

import pytest

from app.scheduling.model import InvalidInput, Person, parse_working_hours
from app.scheduling.planner import SeriesSpec, plan_series
from app.scheduling.work import PlanWork, check_listing, check_plan_work

WEEKDAYS = parse_working_hours(
    [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]
)


def test_the_estimate_is_dates_times_starts_times_people() -> None:
    work = PlanWork(dates=520, step_minutes=5, required=180, optional=20)
    assert work.starts_per_day == 288
    assert work.cells == 520 * 288 * 180
    assert work.participant_occurrences == 520 * 200
    assert work.cpu_seconds > PlanWork(52, 15, 30).cpu_seconds * 50


@pytest.mark.parametrize(
    ("work", "names"),
    [
        (PlanWork(520, 5, 200), ["count or until", "fewer required participants"]),
        (PlanWork(200, 5, 80), ["step_minutes (10 fits)"]),
        (PlanWork(520, 60, 60), ["participant-occurrences", "at most 433"]),
    ],
)
def test_over_a_limit_the_refusal_says_what_to_shrink(work: PlanWork, names: list[str]) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_plan_work(work)
    for name in names:
        assert name in str(refused.value)


def test_at_the_limits_a_plan_is_accepted() -> None:
    check_plan_work(PlanWork(520, 15, 40))  # 2.0 million cells, 20,800 occurrences
    check_plan_work(PlanWork(130, 60, 200))  # 0.6 million cells, 26,000 occurrences
    check_plan_work(PlanWork(520, 10, 50))  # 3.7 million cells, 26,000 occurrences
    check_listing(50, 200)
    with pytest.raises(InvalidInput):
        check_listing(51, 200)


def _spec(people: tuple[Person, ...], count: int = 8) -> SeriesSpec:
    return SeriesSpec(
        "FREQ=WEEKLY;BYDAY=TU,SA",
        date(2027, 1, 5),
        count,
        None,
        "America/New_York",
        60,
        30,
        "rotate",
        people,
    )


def test_a_plan_whose_time_budget_runs_out_says_so_and_is_complete() -> None:
    people = (
        Person("ny", "America/New_York", WEEKDAYS, max_stretch_minutes=240),
        Person("ph", "Asia/Manila", WEEKDAYS, max_stretch_minutes=240),
    )
    proven = plan_series(_spec(people))
    assert proven.optimal and proven.optimal_reason is None
    cut = plan_series(_spec(people), time_budget_seconds=0.0)
    assert cut.optimal is False
    assert cut.optimal_reason is not None and "time budget (0 s" in cut.optimal_reason
    assert [o.date for o in cut.occurrences] == [o.date for o in proven.occurrences]


def test_unschedulable_reasons_name_each_cause_once_in_order() -> None:
    # Saturdays: nobody works, every start fails for the same reason, once per zone.
    people = tuple(
        Person(f"p{i}", ("America/New_York", "Europe/London")[i % 2], WEEKDAYS) for i in range(6)
    )
    plan = plan_series(_spec(people, count=4))
    saturdays = [u for u in plan.unschedulable if u.date.weekday() == 5]
    assert len(saturdays) == 2
    for u in saturdays:
        assert u.reason.count("or more outside working hours (max stretch)") == 2
        assert u.reason.index("America/New_York") < u.reason.index("Europe/London")
