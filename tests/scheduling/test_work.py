"""The measured work estimate that bounds a plan (app.scheduling.work), the unschedulable
reasons of a big plan and the planner's overall time budget."""

from __future__ import annotations

from datetime import date

import pytest

from app.scheduling.model import InvalidInput, Person, parse_working_hours
from app.scheduling.planner import SeriesSpec, plan_series
from app.scheduling.work import PlanWork, check_listing, check_plan_work, search_cpu_seconds

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


def _refusal(work: PlanWork, **limits: int) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        check_plan_work(work, **limits)
    return refused.value


def test_too_many_participant_occurrences_count_optional_people_too() -> None:
    # 520 x (40 + 20) = 31,200 > 26,000; 26,000 // 60 = 433 dates, 26,000 // 520 = 50 people.
    refused = _refusal(PlanWork(dates=520, step_minutes=60, required=40, optional=20))
    assert refused.loc == ("count",)
    assert str(refused) == (
        "This plan is too big to compute in one request: 520 dates x 60 participants = "
        "31,200 participant-occurrences, at most 26,000. Plan fewer dates at a time (count "
        "or until: at most 433 dates with these participants), or fewer participants "
        "(at most 50)."
    )


def test_a_coarser_step_is_offered_when_the_occurrences_are_exactly_at_their_limit() -> None:
    # 520 x 50 = 26,000 occurrences fit; cells 520 x 288 x 50 = 7,488,000 do not, at step 10
    # 3,744,000 do. 4,000,000 // (288 x 50) = 277 dates, 4,000,000 // (520 x 288) = 26 people.
    refused = _refusal(PlanWork(dates=520, step_minutes=5, required=50))
    assert refused.loc == ("count",)
    assert str(refused) == (
        "This plan is too big to compute in one request: 520 dates x 288 starts a day x 50 "
        "required participants = 7,488,000 burden cells, at most 4,000,000. Plan fewer dates "
        "at a time (count or until: at most 277 dates with these participants and step), or "
        "fewer required participants (at most 26), or a coarser step_minutes (10 fits)."
    )


def test_exactly_max_cells_fit_at_the_current_step_and_at_the_offered_one() -> None:
    check_plan_work(PlanWork(dates=10, step_minutes=60, required=5), max_cells=1200)
    # At step 30: 10 x 48 x 5 = 2,400 cells; at step 60 exactly 1,200.
    refused = _refusal(PlanWork(dates=10, step_minutes=30, required=5), max_cells=1200)
    assert str(refused) == (
        "This plan is too big to compute in one request: 10 dates x 48 starts a day x 5 "
        "required participants = 2,400 burden cells, at most 1,200. Plan fewer dates at a "
        "time (count or until: at most 5 dates with these participants and step), or fewer "
        "required participants (at most 2), or a coarser step_minutes (60 fits)."
    )


@pytest.mark.parametrize(
    ("work", "max_cells", "hint"),
    [
        # 100 x 100 people: 2,880,000 cells at step 5, 1,440,000 at 10, 960,000 at 15.
        (PlanWork(dates=100, step_minutes=5, required=100), 1_000_000, "15 fits"),
        (PlanWork(dates=100, step_minutes=10, required=100), 1_000_000, "15 fits"),
        # 50 x 50 people: 60,000 cells even at step 60, over 28,800.
        (PlanWork(dates=50, step_minutes=5, required=50), 28_800, None),
    ],
)
def test_the_offered_step_is_the_finest_coarser_one_that_fits(
    work: PlanWork, max_cells: int, hint: str | None
) -> None:
    text = str(_refusal(work, max_cells=max_cells))
    if hint is None:
        assert "coarser" not in text and text.endswith("(at most 2).")
    else:
        assert text.endswith(f", or a coarser step_minutes ({hint}).")


def test_a_listing_refusal_names_the_page_that_fits() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_listing(51, 200)
    assert refused.value.loc == ("limit",)
    assert str(refused.value) == (
        "This answer would list 10,200 participant times (51 occurrences x 200 participants), "
        "at most 10,000 in one answer. Ask for view=compact (occurrences without their "
        "participants' times) or for pages of at most 50 occurrences (limit=50, then offset)."
    )


@pytest.mark.parametrize(
    ("occurrences", "participants", "page"),
    [(7, 1, 5), (3, 2, 2), (1, 6, 1), (1, 100, 1)],  # max_listed 5: page = 5 // participants
)
def test_a_listing_page_is_the_most_occurrences_that_fit_and_at_least_one(
    occurrences: int, participants: int, page: int
) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_listing(occurrences, participants, max_listed=5)
    assert str(refused.value).endswith(
        f"pages of at most {page} occurrences (limit={page}, then offset)."
    )


def test_a_search_estimate_counts_whole_steps_of_its_range() -> None:
    # 31 days at step 5: 8,928 starts x 200 people = 1,785,600 cells of 100 ns.
    assert search_cpu_seconds(31 * 1440, 5, 200) == pytest.approx(0.17856)
    assert search_cpu_seconds(31 * 1440 + 4, 5, 200) == search_cpu_seconds(31 * 1440, 5, 200)
    assert search_cpu_seconds(59, 60, 1000) == 0
