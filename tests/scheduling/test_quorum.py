"""Quorum per party (docs/rules.md, "Quorum"): a date is feasible when every required person
can attend and at least ``min_attendees`` of each quorum's members can; a quorum member who
cannot is absent and carries nothing, one who can attends and counts like a required person.

The exact tests compare the planner with exhaustive search over costs from the naive
reference of ``test_planner_exact`` (which shares no code with the core).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from app.scheduling.model import InvalidInput, Person
from app.scheduling.planner import Plan, Quorum, SeriesSpec, plan_series
from app.scheduling.recurrence import series_dates
from tests.scheduling.test_planner import EVERY_DAY, hours
from tests.scheduling.test_planner_exact import (
    RULES,
    STARTS,
    ZONES,
    Reference,
    _minute,
    exhaustive_rotation,
    random_person,
    reference_candidates,
)

NEW_YORK, MANILA = "America/New_York", "Asia/Manila"
Table = dict[date, dict[int, list[int | None]]]


def reference_table(spec: SeriesSpec, dates: list[date]) -> Table:
    """date → {feasible start: cost per counted person, None for an absent quorum member}."""
    counted = list(spec.counted)
    ref = Reference(counted, dates[0], dates[-1])
    n = len(spec.required)
    groups, at = [], n
    for q in spec.quorums:
        groups.append((range(at, at + len(q.members)), q.min_attendees))
        at += len(q.members)
    table: Table = {}
    for d in dates:
        table[d] = {}
        for s in reference_candidates(d, spec.anchor_timezone, spec.step_minutes):
            costs = [ref.cost(p, s, spec.duration_minutes) for p in range(len(counted))]
            if any(c is None for c in costs[:n]):
                continue
            if all(sum(costs[p] is not None for p in rows) >= k for rows, k in groups):
                table[d][s] = costs
    return table


def vectors(table: Table, dates: list[date]) -> list[list[list[int]]]:
    return [[[c or 0 for c in v] for v in table[d].values()] for d in dates if table[d]]


def random_quorum_spec(seed: int, policy: str) -> tuple[SeriesSpec, dict[str, int]]:
    rng = random.Random(seed)
    people = [random_person(rng, f"p{i}") for i in range(rng.randint(3, 5))]
    n_required = rng.randint(0, 1)
    rest = people[n_required:]
    split = rng.randint(1, len(rest))
    groups = [tuple(rest[:split]), tuple(rest[split:])]
    quorums = tuple(
        Quorum(f"party {i}", members, rng.randint(1, len(members)))
        for i, members in enumerate(groups)
        if members
    )
    spec = SeriesSpec(
        recurrence=rng.choice(RULES),
        start_date=rng.choice(STARTS),
        count=rng.randint(2, 5),
        until=None,
        anchor_timezone=rng.choice(ZONES),
        duration_minutes=rng.choice([30, 60, 90]),
        step_minutes=rng.choice([30, 60]),
        policy=policy,  # type: ignore[arg-type]
        required=tuple(people[:n_required]),
        quorums=quorums,
    )
    prior = {p.id: rng.choice([0, 0, 60, 240]) for p in people}
    return spec, prior


def check_occurrences(spec: SeriesSpec, plan: Plan, table: Table) -> None:
    """Each planned start is feasible in the reference with its burdens; absent members are
    exactly the quorum members the reference finds unable to attend, and carry nothing."""
    counted = [p.id for p in spec.counted]
    for occ in plan.occurrences:
        start = _minute(occ.start)
        assert start in table[occ.date], f"{occ.date} {occ.start} is infeasible"
        expected = table[occ.date][start]
        shown = [p.burden_minutes for p in occ.participants[: len(counted)]]
        assert shown == [-1 if c is None else c for c in expected]
        absent = [counted[i] for i, c in enumerate(expected) if c is None]
        assert [a.participant_id for a in occ.absent] == absent
        assert all(a.reason for a in occ.absent)


@pytest.mark.parametrize("seed", range(24))
def test_rotate_with_quorums_matches_exhaustive_search(seed: int) -> None:
    spec, prior = random_quorum_spec(seed, "rotate")
    plan = plan_series(spec, prior=prior)
    dates = series_dates(spec.recurrence, spec.start_date, spec.anchor_timezone, spec.count)
    table = reference_table(spec, dates)
    assert [u.date for u in plan.unschedulable] == [d for d in dates if not table[d]]
    check_occurrences(spec, plan, table)
    prior_list = [prior[p.id] for p in spec.counted]
    if any(table[d] for d in dates):
        best = exhaustive_rotation(vectors(table, dates), prior_list)
        assert (plan.max_burden_minutes, plan.total_burden_minutes) == best
    planned = {b.participant_id: b.planned_minutes for b in plan.burden}
    for i, person in enumerate(spec.counted):
        carried = sum(max(o.participants[i].burden_minutes, 0) for o in plan.occurrences)
        assert planned[person.id] == carried


@pytest.mark.parametrize("seed", range(40, 56))
def test_fixed_with_quorums_matches_exhaustive_search(seed: int) -> None:
    spec, prior = random_quorum_spec(seed, "fixed")
    plan = plan_series(spec, prior=prior)
    dates = series_dates(spec.recurrence, spec.start_date, spec.anchor_timezone, spec.count)
    table = reference_table(spec, dates)
    check_occurrences(spec, plan, table)
    usable = [d for d in dates if table[d]]
    if not usable:
        return
    tz = ZoneInfo(spec.anchor_timezone)
    prior_list = np.array([prior[p.id] for p in spec.counted])

    def cost(d: date, s: int) -> list[int]:
        return [c or 0 for c in table[d][s]]

    def best_of(d: date) -> int:
        return min(table[d], key=lambda s: (max(cost(d, s)), sum(cost(d, s)), s))

    def objective(time_of_day: int) -> tuple[int, int, int]:
        missed, sums = 0, prior_list.copy()
        for d in usable:
            wall = datetime(d.year, d.month, d.day, tzinfo=tz) + timedelta(0)
            s = _minute(wall.replace(hour=time_of_day // 60, minute=time_of_day % 60))
            if s not in table[d]:
                missed, s = missed + 1, best_of(d)
            sums += cost(d, s)
        return missed, int(sums.max()), int(sums.sum() - prior_list.sum())

    best = min(objective(t) for t in range(0, 1440, 15))
    fell_back = sum(any(n.startswith("Fell back") for n in o.notices) for o in plan.occurrences)
    assert (fell_back, plan.max_burden_minutes, plan.total_burden_minutes) == best


# --- one case worked by hand -----------------------------------------------------------------

ANA = Person("ana", NEW_YORK, hours("09:00", "17:00", EVERY_DAY))
# Manila's two members work Manila days; Jun is on time off for the second meeting.
MARIA = Person("maria", MANILA, hours("09:00", "17:00", EVERY_DAY))
JUN = Person(
    "jun",
    MANILA,
    hours("09:00", "17:00", EVERY_DAY),
    time_off=((date(2026, 10, 13), date(2026, 10, 14)),),
)
WEEKLY = SeriesSpec(
    recurrence="FREQ=WEEKLY;BYDAY=TU",
    start_date=date(2026, 10, 6),
    count=4,
    until=None,
    anchor_timezone=NEW_YORK,
    duration_minutes=60,
    step_minutes=60,
    policy="rotate",
    required=(ANA,),
)
NAMES = {"ana": "Ana", "maria": "Maria", "jun": "Jun"}


def test_quorum_differs_from_both_required_and_optional() -> None:
    """Treated as required, Jun's time off makes 13 Oct (14 Oct in Manila) unschedulable.
    Treated as optional, Manila's burden does not count and Ana pays nothing. With a quorum
    of one, the date is held without Jun, and Manila's burden counts: the plan is neither."""
    quorum = plan_series(
        replace(WEEKLY, quorums=(Quorum("Manila team", (MARIA, JUN), 1),)), names=NAMES
    )
    as_required = plan_series(replace(WEEKLY, required=(ANA, MARIA, JUN)), names=NAMES)
    as_optional = plan_series(replace(WEEKLY, optional=(MARIA, JUN)), names=NAMES)

    assert [u.date for u in as_required.unschedulable] == [date(2026, 10, 13)]
    assert quorum.unschedulable == [] and len(quorum.occurrences) == 4
    assert {b.participant_id: b.total_minutes for b in as_optional.burden}["ana"] == 0

    totals = {b.participant_id: b.total_minutes for b in quorum.burden}
    assert totals["ana"] > 0 and totals["maria"] > 0
    starts = [o.start for o in quorum.occurrences]
    assert starts != [o.start for o in as_optional.occurrences]
    assert date(2026, 10, 13) not in [o.date for o in as_required.occurrences]
    # Rotation shares the night: nobody carries more than the others need to.
    assert max(totals.values()) == quorum.max_burden_minutes
    assert max(totals.values()) - min(totals.values()) <= 240

    [held_without_jun] = [o for o in quorum.occurrences if o.date == date(2026, 10, 13)]
    assert [(a.participant_id, a.reason) for a in held_without_jun.absent] == [("jun", "time off")]
    jun = next(p for p in held_without_jun.participants if p.participant_id == "jun")
    assert jun.burden_minutes == -1 and not jun.inside_hours
    assert "Jun (quorum) is absent: time off." in held_without_jun.notices
    others = [o for o in quorum.occurrences if o is not held_without_jun]
    assert all(o.absent == [] for o in others)
    assert [(b.participant_id, b.attendance) for b in quorum.burden] == [
        ("ana", "required"),
        ("maria", "quorum"),
        ("jun", "quorum"),
    ]
    jun_planned = next(b for b in quorum.burden if b.participant_id == "jun")
    assert jun_planned.attendance == "quorum" and jun_planned.counted
    assert jun_planned.planned_minutes == sum(
        p.burden_minutes for o in others for p in o.participants if p.participant_id == "jun"
    )


def test_a_quorum_nobody_can_reach_makes_the_date_unschedulable_and_says_why() -> None:
    both_off = replace(MARIA, time_off=((date(2026, 10, 13), date(2026, 10, 14)),))
    plan = plan_series(
        replace(WEEKLY, quorums=(Quorum("Manila team", (both_off, JUN), 1),)), names=NAMES
    )
    [gone] = plan.unschedulable
    assert gone.date == date(2026, 10, 13)
    assert gone.reason.startswith(
        "Manila team's quorum of 1 cannot be met: at most 0 of its 2 quorum members can attend."
    )
    assert "Maria and Jun (Asia/Manila) are unavailable: time off." in gone.reason


def test_quorum_of_two_of_three_skips_the_date_where_two_are_away() -> None:
    lea = Person("lea", MANILA, hours("09:00", "17:00", EVERY_DAY))
    maria_off = replace(MARIA, time_off=((date(2026, 10, 20), date(2026, 10, 21)),))
    plan = plan_series(
        replace(WEEKLY, quorums=(Quorum("Manila team", (maria_off, JUN, lea), 2),)),
        names={**NAMES, "lea": "Lea"},
    )
    assert plan.unschedulable == []
    absent = {o.date: [a.participant_id for a in o.absent] for o in plan.occurrences}
    assert absent[date(2026, 10, 13)] == ["jun"] and absent[date(2026, 10, 20)] == ["maria"]
    three_away = replace(lea, time_off=((date(2026, 10, 13), date(2026, 10, 14)),))
    plan = plan_series(
        replace(WEEKLY, quorums=(Quorum("Manila team", (maria_off, JUN, three_away), 2),)),
        names={**NAMES, "lea": "Lea"},
    )
    assert [u.date for u in plan.unschedulable] == [date(2026, 10, 13)]
    assert "at most 1 of its 3 quorum members can attend" in plan.unschedulable[0].reason


def test_fixed_falls_back_when_the_quorum_is_short_at_the_fixed_time() -> None:
    """A quorum of one of Jun and Lea, who never overlap (a max stretch of one hour each):
    Lea is around only in the week Jun is off. The fixed New York time suits Jun's weeks, so
    Jun's week off falls back, and the notice says that the quorum was short and why."""
    ana = replace(ANA, max_stretch_minutes=300)
    jun = replace(JUN, max_stretch_minutes=60)
    lea = Person(
        "lea",
        MANILA,
        hours("21:00", "23:00", EVERY_DAY),
        time_off=(
            (date(2026, 10, 5), date(2026, 10, 12)),
            (date(2026, 10, 15), date(2026, 11, 30)),
        ),
        max_stretch_minutes=60,
    )
    plan = plan_series(
        replace(
            WEEKLY, policy="fixed", required=(ana,), quorums=(Quorum("Manila team", (jun, lea), 1),)
        ),
        names={**NAMES, "lea": "Lea"},
    )
    assert plan.unschedulable == []
    fell_back = {
        o.date: o.notices[0]
        for o in plan.occurrences
        if o.notices[:1] and o.notices[0].startswith("Fell back")
    }
    assert list(fell_back) == [date(2026, 10, 13)]
    notice = fell_back[date(2026, 10, 13)]
    assert "Manila team's quorum of 1 cannot be met: at most 0 of its 2 quorum members" in notice
    assert "Jun (Asia/Manila): time off" in notice
    assert "Lea (Asia/Manila): " in notice and "(max stretch)" in notice
    [held] = [o for o in plan.occurrences if o.date == date(2026, 10, 13)]
    assert [a.participant_id for a in held.absent] == ["jun"]


def test_quorum_rules_are_checked() -> None:
    with pytest.raises(InvalidInput, match="min_attendees from 1 to 2"):
        plan_series(replace(WEEKLY, quorums=(Quorum("Manila team", (MARIA, JUN), 3),)))
    with pytest.raises(InvalidInput, match="min_attendees from 1 to 2"):
        plan_series(replace(WEEKLY, quorums=(Quorum("Manila team", (MARIA, JUN), 0),)))
    with pytest.raises(InvalidInput, match="no quorum members"):
        plan_series(replace(WEEKLY, quorums=(Quorum("Manila team", (), 1),)))
    with pytest.raises(InvalidInput, match="listed twice"):
        plan_series(replace(WEEKLY, quorums=(Quorum("Manila team", (ANA, JUN), 1),)))
    # Quorum members alone make a series: no required participant is needed.
    plan = plan_series(
        replace(WEEKLY, required=(), quorums=(Quorum("Manila team", (MARIA, JUN), 1),))
    )
    assert len(plan.occurrences) == 4
    with pytest.raises(InvalidInput, match="at least one participant as required"):
        plan_series(replace(WEEKLY, required=()))
