"""Planning a series (app.scheduling.planner): fairness, DST, holidays, notices, determinism."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from app.scheduling.burden import burden_minutes
from app.scheduling.model import InvalidInput, Person, WeeklyWindow, parse_working_hours
from app.scheduling.planner import (
    Plan,
    Quorum,
    SeriesSpec,
    _candidates,
    check_spec,
    plan_series,
)
from app.scheduling.rotation import DayCandidates, plan_rotation

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
EVERY_DAY = [*WEEKDAYS, "sat", "sun"]
NAMES = {"ana": "Ana", "ben": "Ben", "maria": "Maria", "west": "West", "east": "East"}


def hours(start: str, end: str, days: list[str] = WEEKDAYS) -> tuple[WeeklyWindow, ...]:
    return parse_working_hours([{"days": days, "start": start, "end": end}])


ANA = Person("ana", "America/New_York", hours("09:00", "17:00"), holiday_country="US")
BEN = Person("ben", "Europe/London", hours("09:00", "17:00"))
MARIA = Person("maria", "Asia/Manila", hours("21:00", "06:00", ["sun", "mon", "tue", "wed", "thu"]))


def spec(**changes: object) -> SeriesSpec:
    base: dict[str, object] = {
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "start_date": date(2026, 10, 6),
        "count": 4,
        "until": None,
        "anchor_timezone": "America/New_York",
        "duration_minutes": 60,
        "step_minutes": 15,
        "policy": "rotate",
        "required": (ANA, MARIA),
    }
    base.update(changes)
    return SeriesSpec(**base)  # type: ignore[arg-type]


def local_times(plan: Plan, pid: str) -> list[str]:
    return [
        next(p.local_start.strftime("%H:%M") for p in o.participants if p.participant_id == pid)
        for o in plan.occurrences
    ]


def prefix_spreads(plan: Plan) -> list[int]:
    running = np.array([b.prior_minutes for b in plan.burden if b.counted])
    spreads = []
    for occ in plan.occurrences:
        running = running + [p.burden_minutes for p in occ.participants[: len(running)]]
        spreads.append(int(running.max() - running.min()))
    return spreads


# --- fairness -----------------------------------------------------------------------------


@pytest.mark.parametrize("step", [15, 60])
@pytest.mark.parametrize("count", [2, 6])
def test_symmetric_parties_end_with_equal_totals(step: int, count: int) -> None:
    """Zones exactly 12 h apart, mirrored hours: every option (x, y) has its mirror (y, x)."""
    west = Person("west", "Etc/GMT+6", hours("09:00", "17:00", EVERY_DAY))
    east = Person("east", "Etc/GMT-6", hours("09:00", "17:00", EVERY_DAY))
    plan = plan_series(
        spec(required=(west, east), anchor_timezone="UTC", step_minutes=step, count=count)
    )
    totals = [b.total_minutes for b in plan.burden]
    assert totals[0] == totals[1] > 0
    assert plan.max_burden_minutes * 2 == plan.total_burden_minutes
    # Nobody takes two hard turns in a row while the other takes none.
    assert max(prefix_spreads(plan)) <= 60


def test_spec_example_meets_halfway_at_one_time() -> None:
    """docs/rules.md: New York and Manila in October 2026, step 30: six feasible starts, among them
    06:30 New York / 18:30 Manila at 150 minutes each, which rotate keeps every week."""
    ny = Person("ana", "America/New_York", hours("09:00", "17:00"))
    ph = Person("maria", "Asia/Manila", hours("09:00", "17:00"))
    plan = plan_series(spec(required=(ny, ph), step_minutes=30))
    assert local_times(plan, "ana") == ["06:30"] * 4
    assert local_times(plan, "maria") == ["18:30"] * 4
    assert [b.total_minutes for b in plan.burden] == [600, 600]
    assert all(o.notices == [] for o in plan.occurrences)


def test_prior_burden_is_paid_back_first() -> None:
    ny = Person("ana", "America/New_York", hours("09:00", "17:00"))
    ph = Person("maria", "Asia/Manila", hours("09:00", "17:00"))
    plan = plan_series(spec(required=(ny, ph), step_minutes=60, count=2), prior={"ana": 600})
    by_id = {b.participant_id: b for b in plan.burden}
    assert by_id["ana"].prior_minutes == 600
    assert by_id["ana"].planned_minutes == 240  # the easier side both weeks
    assert by_id["maria"].planned_minutes == 360
    assert plan.max_burden_minutes == 840
    assert plan.total_burden_minutes == 600


def test_rotation_takes_turns() -> None:
    """Three people, each date offers one hard turn for one of them: in every prefix of the
    plan nobody is more than one turn ahead of anyone else."""
    turns = np.array([[120, 0, 0], [0, 120, 0], [0, 0, 120]], dtype=np.int64)
    starts = np.array([360, 720, 1080], dtype=np.int64)
    days = [DayCandidates(turns, starts + k * 1440, starts) for k in range(9)]
    picks = plan_rotation(days, [0, 0, 0]).picks
    running = np.zeros(3, dtype=np.int64)
    for day, pick in zip(days, picks, strict=True):
        running += day.costs[:, pick]
        assert running.max() - running.min() <= 120
    assert running.tolist() == [360, 360, 360]


@pytest.mark.parametrize("seed", range(40))
def test_rotation_order_has_the_least_worst_prefix_spread(seed: int) -> None:
    """Dates offering the same options: among all orders of the options the plan uses, none
    has a smaller worst prefix spread (max_k max_p S_p(k) − min_p S_p(k)) than the plan's."""
    rng = random.Random(seed)
    people, dates = rng.randint(2, 3), rng.randint(3, 7)
    options = list(
        dict.fromkeys(
            tuple(rng.choice([0, 0, 30, 60, 90, 120]) for _ in range(people))
            for _ in range(rng.randint(2, 4))
        )
    )
    costs = np.array(options, dtype=np.int64).T
    starts = np.arange(len(options), dtype=np.int64) * 15
    days = [DayCandidates(costs, starts + k * 1440, starts) for k in range(dates)]
    prior = [rng.choice([0, 0, 30]) for _ in range(people)]
    chosen = [tuple(costs[:, pick].tolist()) for pick in plan_rotation(days, prior).picks]

    def worst_spread(order: tuple[tuple[int, ...], ...]) -> int:
        running, worst = np.array(prior), 0
        for option in order:
            running = running + option
            worst = max(worst, int(running.max() - running.min()))
        return worst

    best = min(worst_spread(order) for order in set(itertools.permutations(chosen)))
    assert worst_spread(tuple(chosen)) == best


def test_a_plan_out_of_time_is_complete_and_says_why() -> None:
    """With no time at all the rotation is the deterministic greedy plan: every date planned,
    the plan flagged as not proven, with the sentence naming the configured budget."""
    ny = Person("ana", "America/New_York", hours("09:00", "17:00"))
    ph = Person("maria", "Asia/Manila", hours("09:00", "17:00"))
    plan = plan_series(spec(required=(ny, ph), step_minutes=60), time_budget_seconds=0)
    assert len(plan.occurrences) == 4 and plan.unschedulable == []
    assert plan.optimal is False
    assert plan.optimal_reason == (
        "The solver's time budget (0 s for the whole plan) ran out, so this is a quick "
        "deterministic plan, not proven fairest; fewer dates or participants plan exactly."
    )
    assert plan_series(spec(required=(ny, ph), step_minutes=60)).optimal_reason is None


@pytest.mark.slow
def test_a_pathological_instance_is_bounded_and_flagged() -> None:
    """52 dates that share no options, 30 people with unrelated costs: min-max with no
    structure to exploit. The work budget bounds the run and the plan says it is not
    proven optimal, yet it is a complete, feasible plan."""
    rng = np.random.default_rng(0)
    steps = np.arange(10)[None, :]
    days = []
    for k in range(52):
        centre = rng.integers(0, 10, size=(30, 1))
        slope = rng.integers(20, 60, size=(30, 1))
        costs = (np.abs(steps - centre) * slope + rng.integers(0, 30, size=(30, 10))).astype(
            np.int64
        )
        starts = np.arange(10, dtype=np.int64) * 15
        days.append(DayCandidates(costs, starts + k * 1440, starts))
    began = time.perf_counter()
    rotation = plan_rotation(days, np.zeros(30, dtype=np.int64))
    assert time.perf_counter() - began < 30
    assert rotation.optimal is False
    assert len(rotation.picks) == 52
    assert all(0 <= pick < 10 for pick in rotation.picks)


# --- DST --------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["fixed", "rotate"])
def test_local_time_notices_exactly_in_the_dst_mismatch_weeks(policy: str) -> None:
    """New York anchor, London and Manila: New York springs forward 2026-03-08 and London
    2026-03-29; London falls back 2026-10-25 and New York 2026-11-01. Manila never changes."""
    plan = plan_series(
        spec(
            policy=policy,
            required=(ANA, BEN, MARIA),
            start_date=date(2026, 2, 24),
            count=None,
            until=date(2026, 12, 1),
        ),
        names=NAMES,
    )
    assert local_times(plan, "ana") == ["09:00"] * len(plan.occurrences)
    noticed = {o.date: o.notices for o in plan.occurrences if o.notices}
    assert sorted(noticed) == [
        date(2026, 3, 10),
        date(2026, 3, 31),
        date(2026, 10, 27),
        date(2026, 11, 3),
    ]
    assert noticed[date(2026, 3, 10)] == [
        "Local start moves from 14:00 to 13:00 for Ben (London): New York changed clocks "
        "(EST→EDT) but London did not.",
        "Local start moves from 22:00 to 21:00 for Maria (Manila): New York changed clocks "
        "(EST→EDT) but Manila did not.",
    ]
    assert noticed[date(2026, 3, 31)] == [
        "Local start moves from 13:00 to 14:00 for Ben (London): London changed clocks "
        "(GMT→BST) but New York did not."
    ]
    assert noticed[date(2026, 10, 27)] == [
        "Local start moves from 14:00 to 13:00 for Ben (London): London changed clocks "
        "(BST→GMT) but New York did not."
    ]
    assert len(noticed[date(2026, 11, 3)]) == 2
    assert "New York changed clocks (EDT→EST) but Manila did not" in noticed[date(2026, 11, 3)][1]


def test_clock_change_notices_name_offsets_where_the_abbreviation_misleads() -> None:
    """Santiago's abbreviations are bare numbers ("-03", "-04") and Dublin's summer "IST" is
    also India's: the notice says the UTC offsets instead, as every surface does."""
    sofia = Person("sofia", "America/Santiago", hours("00:00", "23:59", EVERY_DAY))
    niamh = Person("niamh", "Europe/Dublin", hours("00:00", "23:59", EVERY_DAY))
    plan = plan_series(
        spec(
            policy="fixed",
            required=(ANA, sofia, niamh),
            start_date=date(2026, 3, 24),
            count=3,
        ),
        names={"ana": "Ana", "sofia": "Sofia", "niamh": "Niamh"},
    )
    notices = [n for o in plan.occurrences for n in o.notices]
    assert (
        "Local start moves from 13:00 to 14:00 for Niamh (Dublin): Dublin changed clocks "
        "(GMT→UTC+1) but New York did not." in notices
    )
    assert (
        "Local start moves from 10:00 to 09:00 for Sofia (Santiago): Santiago changed clocks "
        "(UTC-3→UTC-4) but New York did not." in notices
    )
    assert not any("IST" in n or "-03" in n for n in notices)


def test_fixed_time_in_the_spring_forward_gap_is_read_with_fold_0() -> None:
    """The fixed time 02:00 New York does not exist on 2026-03-08: read with the offset
    before the gap it is 07:00Z (03:00 EDT), a start like any other, not a fallback."""
    person = Person("utc", "UTC", hours("06:00", "09:00", EVERY_DAY), max_stretch_minutes=0)
    plan = plan_series(
        spec(
            policy="fixed",
            recurrence="FREQ=DAILY",
            start_date=date(2026, 3, 7),
            count=3,
            required=(person,),
        )
    )
    assert [o.start.strftime("%d %H:%M") for o in plan.occurrences] == [
        "07 07:00",
        "08 07:00",
        "09 06:00",
    ]
    assert plan.occurrences[1].notices == []
    assert plan.occurrences[2].notices == [
        "Local start moves from 07:00 to 06:00 for utc (UTC): the meeting moves from 03:00 "
        "to 02:00 New York time."
    ]


@pytest.mark.parametrize(
    ("anchor", "day", "count", "first_local"),
    [
        ("America/New_York", date(2026, 3, 8), 92, "00:00"),  # 23-hour day
        ("America/New_York", date(2026, 11, 1), 100, "00:00"),  # 25-hour day
        ("America/New_York", date(2026, 3, 9), 96, "00:00"),
        ("America/Santiago", date(2026, 9, 6), 92, "01:00"),  # the clocks skip midnight
        ("Asia/Kathmandu", date(2026, 6, 1), 96, "00:00"),  # +05:45
        ("Australia/Lord_Howe", date(2026, 4, 5), 98, "00:00"),  # a 30-minute change
        # São Tomé: UTC+0 to UTC+1 at 01:00Z on 1 January 2018, and back a year later.
        ("Africa/Sao_Tome", date(2017, 12, 31), 96, "00:00"),
        ("Africa/Sao_Tome", date(2018, 1, 1), 92, "00:00"),
        ("Africa/Sao_Tome", date(2018, 12, 31), 96, "00:00"),
        ("Africa/Sao_Tome", date(2019, 1, 1), 100, "00:00"),
    ],
)
def test_candidates_are_the_grid_starts_of_the_anchor_local_date(
    anchor: str, day: date, count: int, first_local: str
) -> None:
    cal = _candidates(spec(anchor_timezone=anchor), [day], None)
    tz = ZoneInfo(anchor)
    local = [datetime.fromtimestamp(int(s) * 60, tz) for s in cal.starts]
    assert len(local) == count
    assert {t.date() for t in local} == {day}
    assert local[0].strftime("%H:%M") == first_local
    assert all(int(s) % 15 == 0 for s in cal.starts)
    assert (np.diff(cal.starts) == 15).all()


def test_not_before_cuts_a_date_at_the_next_grid_start() -> None:
    """Starts before ``not_before`` go; the first one left is the next 15-minute grid start
    (13:07Z gives 13:15Z), and the date counts as cut short. ``not_before`` exactly at the
    date's first start (midnight in New York, 04:00Z) cuts nothing."""
    day = date(2026, 10, 6)
    whole = _candidates(spec(), [day], None)
    minute = int(datetime(2026, 10, 6, 13, 15, tzinfo=UTC).timestamp()) // 60
    cut = _candidates(spec(), [day], datetime(2026, 10, 6, 13, 7, 30, tzinfo=UTC))
    assert cut.starts.tolist() == [int(s) for s in whole.starts if s >= minute]
    assert cut.truncated.tolist() == [True]
    midnight = datetime(2026, 10, 6, 0, 0, tzinfo=ZoneInfo("America/New_York"))
    uncut = _candidates(spec(), [day], midnight)
    assert uncut.starts.tolist() == whole.starts.tolist()
    assert uncut.truncated.tolist() == whole.truncated.tolist() == [False]


# --- holidays, conflicts, fallbacks ----------------------------------------------------------


@pytest.mark.parametrize("policy", ["rotate", "fixed"])
def test_thanksgiving_is_unschedulable_with_the_reason(policy: str) -> None:
    plan = plan_series(
        spec(
            policy=policy,
            recurrence="FREQ=WEEKLY;BYDAY=TH",
            start_date=date(2026, 11, 12),
            required=(ANA, BEN),
        ),
        names=NAMES,
    )
    assert [(u.date, u.reason) for u in plan.unschedulable] == [
        (
            date(2026, 11, 26),
            "Ana (America/New_York) is unavailable: public holiday in US: Thanksgiving Day.",
        )
    ]
    assert [(o.index, o.date) for o in plan.occurrences] == [
        (0, date(2026, 11, 12)),
        (1, date(2026, 11, 19)),
        (3, date(2026, 12, 3)),
    ]


def test_people_of_one_zone_share_a_reason_and_partial_days_are_named() -> None:
    ana2 = Person("ana2", "America/New_York", ANA.working_hours, holiday_country="US")
    plan = plan_series(
        spec(
            recurrence="FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
            start_date=date(2026, 1, 1),
            count=1,
            required=(ANA, ana2, BEN),
        ),
        names={**NAMES, "ana2": "Al"},
    )
    assert plan.unschedulable[0].reason == (
        "Ana and Al (America/New_York) are unavailable: public holiday in US: Thanksgiving Day."
    )
    # 2026-12-08 is a holiday in Manila. The New York date also covers Manila's morning of
    # 12-09, but with these stretches no hour of it fits both (Manila from 08:00 = New York
    # 19:00, past Ana's reach): nobody is out all day, so the reason is general plus who is
    # away for part of it.
    ny = Person("ana", "America/New_York", ANA.working_hours, max_stretch_minutes=120)
    ph = Person(
        "maria",
        "Asia/Manila",
        hours("09:00", "17:00"),
        holiday_country="PH",
        max_stretch_minutes=60,
    )
    plan = plan_series(spec(start_date=date(2026, 12, 8), count=1, required=(ny, ph)), names=NAMES)
    (gone,) = plan.unschedulable
    assert gone.reason.startswith("No time fits every required participant's working hours")
    assert "Maria (Asia/Manila) is unavailable part of the day: public holiday in PH" in gone.reason


def test_optional_burden_is_what_their_planned_times_cost_them_on_top_of_their_prior() -> None:
    """Two optional people beside Ana and Ben: their burden never steers the plan, but the
    plan reports it, priced by the rule one meeting at a time (burden_minutes), with a date
    they cannot make (Culture Day in Tokyo, Tuesday 3 November) costing nothing."""
    kenji = Person(
        "kenji",
        "Asia/Tokyo",
        hours("09:00", "17:00"),
        holiday_country="JP",
        max_stretch_minutes=600,
    )
    rosa = Person("rosa", "Asia/Manila", hours("09:00", "17:00"), max_stretch_minutes=600)
    prior = {"ana": 30, "kenji": 45}
    plan = plan_series(
        spec(count=6, required=(ANA, BEN), optional=(kenji, rosa)), prior=prior, names=NAMES
    )
    assert plan.policy == "rotate" and len(plan.occurrences) == 6 and plan.unschedulable == []
    expected = []
    for p, person in enumerate((ANA, BEN, kenji, rosa)):
        costs = [burden_minutes(person, o.start, 60).minutes for o in plan.occurrences]
        assert [o.participants[p].burden_minutes for o in plan.occurrences] == [
            -1 if c is None else c for c in costs
        ]
        mine = sum(c or 0 for c in costs)
        before = prior.get(person.id, 0)
        attendance = "optional" if p >= 2 else "required"
        expected.append((person.id, before, mine, before + mine, attendance))
    assert [
        (b.participant_id, b.prior_minutes, b.planned_minutes, b.total_minutes, b.attendance)
        for b in plan.burden
    ] == expected
    assert burden_minutes(kenji, plan.occurrences[4].start, 60).minutes is None
    # Ana and Ben overlap every Tuesday: the plan is free for them, not for the optionals.
    assert plan.max_burden_minutes == 30 and plan.total_burden_minutes == 0
    assert expected[2][2] > 0 and expected[3][2] > 0 and expected[2][2] != expected[3][2]
    fixed = plan_series(spec(count=6, required=(ANA, BEN), policy="fixed"))
    assert fixed.policy == "fixed"
    assert [o.start for o in fixed.occurrences] == [o.start for o in plan.occurrences]


def test_optional_participant_on_holiday_is_a_conflict_and_a_notice() -> None:
    optional = Person("maria", "Asia/Manila", MARIA.working_hours, holiday_country="PH")
    plan = plan_series(
        spec(start_date=date(2026, 12, 1), count=2, required=(ANA, BEN), optional=(optional,)),
        names=NAMES,
    )
    assert plan.unschedulable == []
    first, second = plan.occurrences
    assert first.conflicts == [] and first.notices == []
    # Tuesday 2026-12-08 is the Feast of the Immaculate Conception in the Philippines.
    assert [c.participant_id for c in second.conflicts] == ["maria"]
    assert "public holiday in PH" in second.conflicts[0].reason
    assert any(
        n.startswith("Maria (optional) is unavailable: public holiday in PH")
        for n in second.notices
    )
    maria_time = second.participants[2]
    assert maria_time.burden_minutes == -1 and not maria_time.inside_hours
    assert plan.burden[2].attendance == "optional" and not plan.burden[2].counted
    assert plan.max_burden_minutes == max(b.total_minutes for b in plan.burden[:2])


def test_fixed_falls_back_with_a_notice() -> None:
    """Tuesdays 09:00–11:00, Thursdays 14:00–17:00, one hour of stretch: no single time
    fits both, so the earlier best time (09:00) holds on Tuesdays and Thursdays fall back."""
    shifts = parse_working_hours(
        [
            {"days": ["tue"], "start": "09:00", "end": "11:00"},
            {"days": ["thu"], "start": "14:00", "end": "17:00"},
        ]
    )
    person = Person("ana", "America/New_York", shifts, max_stretch_minutes=60)
    plan = plan_series(
        spec(policy="fixed", recurrence="FREQ=WEEKLY;BYDAY=TU,TH", required=(person,)),
        names=NAMES,
    )
    assert local_times(plan, "ana") == ["09:00", "14:00", "09:00", "14:00"]
    assert plan.occurrences[0].notices == []
    assert plan.occurrences[1].notices[0] == (
        "Fell back from 09:00 to 14:00 New York time: at 09:00 Ana (America/New_York): "
        "1 h or more outside working hours (max stretch)."
    )
    assert plan.max_burden_minutes == 0


ALWAYS = Person("utc", "UTC", hours("00:00", "24:00", EVERY_DAY))


def test_fixed_time_after_not_before_serves_every_date() -> None:
    """Starts before not_before are no starts: 09:00 and 10:00 are not starts on 1 June (cut
    at 10:30), so they would fall back there; 11:00 is the earliest time that fits all three
    dates and is kept every day."""
    person = Person("ana", "UTC", hours("09:00", "17:00", EVERY_DAY), max_stretch_minutes=0)
    plan = plan_series(
        spec(
            policy="fixed",
            recurrence="FREQ=DAILY",
            start_date=date(2026, 6, 1),
            count=3,
            anchor_timezone="UTC",
            step_minutes=60,
            required=(person,),
        ),
        not_before=datetime(2026, 6, 1, 10, 30, tzinfo=UTC),
    )
    assert [o.start for o in plan.occurrences] == [
        datetime(2026, 6, d, 11, tzinfo=UTC) for d in (1, 2, 3)
    ]
    assert [o.notices for o in plan.occurrences] == [[], [], []]


def test_fixed_time_cut_off_by_not_before_falls_back_on_that_date() -> None:
    """Monday 09:00-17:00, Tuesday and Wednesday 09:00-11:00, no stretch; planned on Monday
    at 12:30. 09:00 misses only Monday (no start there any more), 13:00 misses Tuesday and
    Wednesday: 09:00 holds, and Monday takes its best start, the earliest (13:00)."""
    shifts = parse_working_hours(
        [
            {"days": ["mon"], "start": "09:00", "end": "17:00"},
            {"days": ["tue", "wed"], "start": "09:00", "end": "11:00"},
        ]
    )
    person = Person("ana", "UTC", shifts, max_stretch_minutes=0)
    plan = plan_series(
        spec(
            policy="fixed",
            recurrence="FREQ=DAILY",
            start_date=date(2026, 6, 1),
            count=3,
            anchor_timezone="UTC",
            step_minutes=60,
            required=(person,),
        ),
        not_before=datetime(2026, 6, 1, 12, 30, tzinfo=UTC),
        names=NAMES,
    )
    assert [o.start for o in plan.occurrences] == [
        datetime(2026, 6, 1, 13, tzinfo=UTC),
        datetime(2026, 6, 2, 9, tzinfo=UTC),
        datetime(2026, 6, 3, 9, tzinfo=UTC),
    ]
    assert plan.occurrences[0].notices == [
        "Fell back from 09:00 to 13:00 UTC time: 09:00 is not an available start on this date."
    ]
    assert not any(n.startswith("Fell back") for o in plan.occurrences[1:] for n in o.notices)
    assert (plan.optimal, plan.max_burden_minutes, plan.total_burden_minutes) == (True, 0, 0)


def test_fixed_time_across_a_half_hour_clock_change() -> None:
    """Lord Howe moves from +10:30 to +11 at 02:00 on 2026-10-04, so hourly UTC starts are at
    :30 local before and at :00 after. Each time of day is a start on at most two of 3, 4 and
    5 October (00:30 and 01:30 on the 3rd and 4th, 03:00-23:00 on the 4th and 5th; 02:00 is
    in the gap and reads as 02:30, no start): the earliest, 00:30, holds and the 5th falls
    back to its earliest start, 00:00."""
    plan = plan_series(
        spec(
            policy="fixed",
            recurrence="FREQ=DAILY",
            start_date=date(2026, 10, 3),
            count=3,
            anchor_timezone="Australia/Lord_Howe",
            step_minutes=60,
            required=(ALWAYS,),
        )
    )
    assert [o.start for o in plan.occurrences] == [
        datetime(2026, 10, 2, 14, tzinfo=UTC),
        datetime(2026, 10, 3, 14, tzinfo=UTC),
        datetime(2026, 10, 4, 13, tzinfo=UTC),
    ]
    assert [o.notices[:1] for o in plan.occurrences] == [
        [],
        [],
        [
            "Fell back from 00:30 to 00:00 Lord Howe time: 00:30 is not an available start "
            "on this date."
        ],
    ]


def test_fixed_time_in_a_gap_at_the_end_of_the_day_is_no_start_of_that_date() -> None:
    """Nuuk springs forward at 23:00 on Saturday 2026-03-28 (-02 to -01): 23:00 read with
    fold=0 that day is 00:00 on the 29th, a start of the next date, not of the 28th. 23:00
    holds on the other dates, so the 28th falls back to its only start, 10:00."""
    shifts = parse_working_hours(
        [
            {"days": EVERY_DAY, "start": "23:00", "end": "24:00"},
            {"days": ["sat"], "start": "10:00", "end": "11:00"},
        ]
    )
    person = Person("ana", "America/Nuuk", shifts, max_stretch_minutes=0)
    plan = plan_series(
        spec(
            policy="fixed",
            recurrence="FREQ=DAILY",
            start_date=date(2026, 3, 27),
            count=4,
            anchor_timezone="America/Nuuk",
            step_minutes=60,
            required=(person,),
        ),
        names=NAMES,
    )
    assert [o.start for o in plan.occurrences] == [
        datetime(2026, 3, 28, 1, tzinfo=UTC),
        datetime(2026, 3, 28, 12, tzinfo=UTC),
        datetime(2026, 3, 30, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 0, tzinfo=UTC),
    ]
    assert plan.occurrences[1].notices[:1] == [
        "Fell back from 23:00 to 10:00 Nuuk time: 23:00 is not an available start on this date."
    ]


# --- re-scheduling ---------------------------------------------------------------------------


def test_kept_dates_past_dates_and_previous_local_time() -> None:
    person = Person("ana", "UTC", hours("09:00", "17:00", EVERY_DAY), max_stretch_minutes=0)
    base = spec(
        recurrence="FREQ=DAILY",
        start_date=date(2026, 6, 1),
        count=6,
        anchor_timezone="UTC",
        step_minutes=60,
        required=(person,),
    )
    plan = plan_series(
        base,
        exclude_dates=[date(2026, 6, 1), date(2026, 6, 2)],
        not_before=datetime(2026, 6, 5, 10, 30, tzinfo=UTC),  # 06-03, 06-04 are past
        previous_local={"ana": "08:00"},
        names=NAMES,
        prior={"ana": 45},
    )
    # 06-05 has starts from 11:00 only; 06-06 could start at 09:00 too, but one time of day
    # for both (fewer distinct local times) comes before earlier starts.
    assert [(o.index, o.date, o.start.hour) for o in plan.occurrences] == [
        (4, date(2026, 6, 5), 11),
        (5, date(2026, 6, 6), 11),
    ]
    assert plan.occurrences[0].notices == [
        "Local start moves from 08:00 to 11:00 for Ana (UTC) since the last held occurrence."
    ]
    assert plan.max_burden_minutes == 45 and plan.total_burden_minutes == 0

    late = plan_series(base, not_before=datetime(2026, 6, 5, 16, 30, tzinfo=UTC))
    assert [u.date for u in late.unschedulable] == [date(2026, 6, 5)]
    assert late.unschedulable[0].reason == (
        "In what is left of the day: ana (UTC) is unable to meet: "
        "0 min or more outside working hours (max stretch)."
    )
    assert [o.date for o in late.occurrences] == [date(2026, 6, 6)]

    nothing = plan_series(base, exclude_dates=set(base_dates(base)))
    assert nothing.occurrences == [] and nothing.unschedulable == []


def base_dates(s: SeriesSpec) -> list[date]:
    return [s.start_date + timedelta(days=i) for i in range(s.count or 0)]


# --- determinism, feasibility, validation ----------------------------------------------------

_BIG = spec(
    required=(
        ANA,
        BEN,
        MARIA,
        Person("kolkata", "Asia/Kolkata", hours("18:00", "03:00"), holiday_country="IN"),
        Person("berlin", "Europe/Berlin", hours("08:00", "16:00"), holiday_country="DE"),
    ),
    optional=(Person("sydney", "Australia/Sydney", hours("09:00", "17:00"), holiday_country="AU"),),
    start_date=date(2026, 9, 1),
    count=30,
)


def test_every_planned_slot_is_feasible_with_the_burdens_shown() -> None:
    plan = plan_series(_BIG)
    assert plan.occurrences
    for occ in plan.occurrences:
        for person, shown in zip(_BIG.required, occ.participants, strict=False):
            again = burden_minutes(person, occ.start, _BIG.duration_minutes)
            assert again.minutes is not None and again.minutes == shown.burden_minutes >= 0


def test_same_inputs_give_the_same_plan() -> None:
    first = plan_series(_BIG, prior={"ana": 30, "ben": 90}, exclude_dates={date(2026, 9, 8)})
    again = plan_series(_BIG, prior={"ben": 90, "ana": 30}, exclude_dates=[date(2026, 9, 8)])
    assert first == again


def test_plan_is_independent_of_hash_seed_and_imports_no_web_or_db_code() -> None:
    """Another interpreter with another string-hash seed plans the same; the core loads no
    web or database package."""
    script = (
        "import json, sys\n"
        "from tests.scheduling.test_planner import _BIG\n"
        "from app.scheduling.planner import plan_series\n"
        "plan = plan_series(_BIG)\n"
        "heavy = sorted(m for m in ('fastapi', 'sqlmodel', 'sqlalchemy', 'httpx', 'starlette')"
        " if m in sys.modules)\n"
        "print(json.dumps([[str(o.start) for o in plan.occurrences], heavy]))\n"
    )
    root = Path(__file__).resolve().parents[2]
    seed = "4242" if os.environ.get("PYTHONHASHSEED") != "4242" else "17"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env={**os.environ, "PYTHONHASHSEED": seed},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    starts, heavy = json.loads(done.stdout)
    assert heavy == []
    assert starts == [str(o.start) for o in plan_series(_BIG).occurrences]


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"policy": "weekly"}, "policy"),
        ({"step_minutes": 7}, "step_minutes"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 1441}, "duration_minutes"),
        ({"anchor_timezone": "Europe/Lndon"}, "anchor_timezone"),
        ({"required": ()}, "participants"),
        ({"required": (ANA,), "optional": (ANA,)}, "participants"),
        ({"recurrence": "FREQ=HOURLY"}, "recurrence"),
        ({"count": None}, "count"),
    ],
)
def test_bad_series_raise_invalid_input(changes: dict[str, object], loc: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        plan_series(spec(**changes))
    assert caught.value.loc == (loc,)


CROWD = tuple(Person(f"p{i}", "UTC", hours("09:00", "17:00")) for i in range(201))


@pytest.mark.parametrize(
    ("changes", "loc", "msg"),
    [
        ({"policy": "weekly"}, "policy", "policy must be 'rotate' or 'fixed'."),
        ({"step_minutes": 45}, "step_minutes", "step_minutes must be one of 5, 10, 15, 30, 60."),
        (
            {"duration_minutes": True},
            "duration_minutes",
            "duration_minutes must be a whole number.",
        ),
        (
            {"duration_minutes": 30.5},
            "duration_minutes",
            "duration_minutes must be a whole number.",
        ),
        ({"duration_minutes": 0}, "duration_minutes", "duration_minutes must be from 1 to 1440."),
        (
            {"duration_minutes": 1441},
            "duration_minutes",
            "duration_minutes must be from 1 to 1440.",
        ),
        (
            {"required": ()},
            "participants",
            "Mark at least one participant as required, or give a party a quorum rule.",
        ),
        (
            {"required": CROWD[:150], "optional": CROWD[150:]},
            "participants",
            "At most 200 participants.",
        ),
        (
            {"required": (ANA, BEN), "optional": (BEN,)},
            "participants",
            "A participant is listed twice; list each once.",
        ),
        (
            {"quorums": (Quorum("London team", (BEN,), 2),)},
            "quorum",
            "London team's quorum rule needs min_attendees from 1 to 1, its number of quorum "
            "members.",
        ),
    ],
)
def test_bad_series_are_refused_with_the_sentence(
    changes: dict[str, object], loc: str, msg: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_spec(spec(**changes))
    assert (caught.value.loc, caught.value.msg) == ((loc,), msg)


@pytest.mark.parametrize(
    "changes",
    [
        {"step_minutes": 5},
        {"step_minutes": 60},
        {"duration_minutes": 1},
        {"duration_minutes": 1440},
        {"required": CROWD[:120], "optional": CROWD[120:200]},
        {"required": (), "quorums": (Quorum("team", (MARIA, BEN), 1),)},
        {"required": (ANA,), "quorums": (Quorum("team", (MARIA, BEN), 2),)},
    ],
)
def test_series_at_the_limits_are_accepted(changes: dict[str, object]) -> None:
    check_spec(spec(**changes))


def test_not_before_must_be_aware() -> None:
    with pytest.raises(InvalidInput) as caught:
        plan_series(spec(), not_before=datetime(2026, 1, 1))
    assert caught.value.loc == ("not_before",)
