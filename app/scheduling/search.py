"""Shared working hours and ad-hoc slot search (docs/rules.md, "Candidate slots" and
"Overlap and ad-hoc search").

* **Overlap** of people in ``[start, end)``: the maximal UTC intervals in which every one of
  them is inside a working window and available (not on a holiday or time-off local date).
* **Slot search**: starts on a grid of ``step_minutes`` counted from 1970-01-01T00:00Z
  (``start_minute % step == 0``), whole meeting inside ``[start, end)``. A slot is feasible
  when every required participant is; it is ranked by (max burden over required, total
  burden over required, start). Optional participants never block a slot and never count in
  the ranking; when infeasible they are listed in ``conflicts`` with the reason.

Every result carries each participant's local start and end (aware, in their own zone) and
the zone name, so "18:00 in Manila" is never recomputed at the edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from app.scheduling.burden import burden_matrix, profile_key
from app.scheduling.clock import (
    LocalClock,
    Minutes,
    require_aware,
    utc_datetime,
    utc_minute,
    utc_minute_ceil,
)
from app.scheduling.limits import (
    DURATION_REFUSAL,
    GRID_STEPS,
    MAX_DURATION_MINUTES,
    MAX_PARTICIPANTS,
    MAX_SEARCH_DAYS,
    STEP_MINUTES_REFUSAL,
    participant_count_refusal,
    search_range_refusal,
)
from app.scheduling.model import InvalidInput, Person, zone
from app.scheduling.windows import working_timeline


@dataclass
class ParticipantTime:
    """One participant's view of a slot. ``burden_minutes`` is ``-1`` (and ``inside_hours``
    false) for an optional participant who cannot attend; the reason is in the slot's
    ``conflicts``."""

    participant_id: str
    local_start: datetime
    local_end: datetime
    timezone: str
    burden_minutes: int
    inside_hours: bool


@dataclass
class Conflict:
    participant_id: str
    reason: str


@dataclass
class Slot:
    """A feasible meeting. ``participants`` lists every required participant, then every
    optional one, in the order given; ``conflicts`` the optional ones who cannot attend."""

    start: datetime
    end: datetime
    max_burden_minutes: int
    total_burden_minutes: int
    participants: list[ParticipantTime]
    conflicts: list[Conflict]


@dataclass
class OverlapWindow:
    """A maximal interval of shared working time, with each participant's local view:
    ``local[participant_id] = (local start, local end, zone name)``."""

    start: datetime
    end: datetime
    local: dict[str, tuple[datetime, datetime, str]]


def _is_whole(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_search_limits(
    start: datetime,
    end: datetime,
    duration_minutes: int | None = None,
    step_minutes: int | None = None,
    participants: int | None = None,
    limit: int | None = None,
) -> None:
    """Raise :class:`InvalidInput` (with ``loc`` naming the field) unless the request is within
    the service limits: aware datetimes, ``start < end``, at most 31 days, a duration of 1 to
    1440 minutes, a step in {5, 10, 15, 30, 60}, 1 to 200 participants, a positive limit.
    Arguments left as ``None`` are not checked.

    >>> from datetime import UTC
    >>> check_search_limits(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    Traceback (most recent call last):
    ...
    app.scheduling.model.InvalidInput: The search range is 59 days; at most 31 days are allowed.
    """
    require_aware(start, "start")
    require_aware(end, "end")
    if end <= start:
        raise InvalidInput(("end",), "end must be after start.")
    if end - start > timedelta(days=MAX_SEARCH_DAYS):
        days = (end - start) / timedelta(days=1)
        raise InvalidInput(("end",), search_range_refusal(days))
    if duration_minutes is not None and (
        not _is_whole(duration_minutes) or not 0 < duration_minutes <= MAX_DURATION_MINUTES
    ):
        raise InvalidInput(("duration_minutes",), DURATION_REFUSAL)
    if step_minutes is not None and (not _is_whole(step_minutes) or step_minutes not in GRID_STEPS):
        raise InvalidInput(("step_minutes",), STEP_MINUTES_REFUSAL)
    if participants is not None and not 0 < participants <= MAX_PARTICIPANTS:
        raise InvalidInput(("participants",), participant_count_refusal(participants))
    if limit is not None and (not _is_whole(limit) or limit < 1):
        raise InvalidInput(("limit",), "limit must be a whole number of at least 1.")


def _check_unique(people: Sequence[Person]) -> None:
    seen: set[str] = set()
    for person in people:
        if person.id in seen:
            raise InvalidInput(("participants",), f"Participant {person.id!r} is listed twice.")
        seen.add(person.id)


def overlap(people: Sequence[Person], start: datetime, end: datetime) -> list[OverlapWindow]:
    """Maximal UTC intervals in ``[start, end)`` where everyone works and is available.

    Exercism's "global meeting": UTC+2, +8 and +10 all working 08:00–17:00 share only
    06:00–07:00Z (``Etc/GMT-2`` is UTC+2: the Etc names invert the sign).

    >>> from datetime import UTC
    >>> from app.scheduling.model import parse_working_hours
    >>> every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    >>> hours = parse_working_hours([{"days": every_day, "start": "08:00", "end": "17:00"}])
    >>> team = [Person(f"p{h}", f"Etc/GMT-{h}", hours) for h in (2, 8, 10)]
    >>> [(f"{w.start:%H:%M}", f"{w.end:%H:%M}", f"{w.local['p10'][0]:%H:%M}")
    ...  for w in overlap(team, datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC))]
    [('06:00', '07:00', '16:00')]
    """
    check_search_limits(start, end, participants=len(people))
    _check_unique(people)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    lo, hi = utc_minute(start), utc_minute_ceil(end)

    profiles: dict[tuple[object, ...], Person] = {}
    for person in people:
        profiles.setdefault(profile_key(person), person)
    # Sweep over boundaries: +1/-1 working windows, +1/-1 unavailable stretches.
    positions: list[Minutes] = []
    working: list[Minutes] = []
    away: list[Minutes] = []
    for person in profiles.values():
        timeline = working_timeline(person, lo, hi)
        for edges, work_step, away_step in (
            (timeline.starts, 1, 0),
            (timeline.ends, -1, 0),
            (timeline.off_starts, 0, 1),
            (timeline.off_ends, 0, -1),
            (timeline.busy_starts, 0, 1),
            (timeline.busy_ends, 0, -1),
        ):
            positions.append(edges)
            working.append(np.full(len(edges), work_step, dtype=np.int64))
            away.append(np.full(len(edges), away_step, dtype=np.int64))
    at = np.concatenate(positions)
    if len(at) == 0:
        return []
    points, inverse = np.unique(at, return_inverse=True)
    working_count = np.zeros(len(points), dtype=np.int64)
    away_count = np.zeros(len(points), dtype=np.int64)
    np.add.at(working_count, inverse, np.concatenate(working))
    np.add.at(away_count, inverse, np.concatenate(away))
    # Segment i is [points[i], points[i+1]); counts hold after every edge at points[i].
    working_count, away_count = np.cumsum(working_count), np.cumsum(away_count)
    shared = (working_count[:-1] == len(profiles)) & (away_count[:-1] == 0)
    edges = np.diff(np.concatenate(([0], shared.astype(np.int8), [0])))
    run_starts = points[np.flatnonzero(edges == 1)]
    run_ends = points[np.flatnonzero(edges == -1)]

    found: list[OverlapWindow] = []
    for a, b in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
        window_start, window_end = max(utc_datetime(a), start), min(utc_datetime(b), end)
        if window_start >= window_end:
            continue
        local = {
            p.id: (
                window_start.astimezone(zone(p.timezone)),
                window_end.astimezone(zone(p.timezone)),
                p.timezone,
            )
            for p in people
        }
        found.append(OverlapWindow(window_start, window_end, local))
    return found


def grid_starts(
    start: datetime, end: datetime, duration_minutes: int, step_minutes: int
) -> Minutes:
    """UTC minutes ``s`` with ``s % step == 0`` and ``[s, s + duration)`` inside
    ``[start, end)``."""
    first = utc_minute_ceil(start)
    first += -first % step_minutes
    last = utc_minute(end) - duration_minutes  # floor: the meeting must end by `end`
    if last < first:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first, last + 1, step_minutes, dtype=np.int64)


def search_slots(
    required: Sequence[Person],
    optional: Sequence[Person],
    start: datetime,
    end: datetime,
    duration_minutes: int,
    step_minutes: int = 15,
    limit: int = 10,
) -> list[Slot]:
    """The best ``limit`` feasible slots, ranked by (max, total) burden over the required
    participants, then start.

    New York and Manila, both 09:00–17:00 Mon–Fri, on Tuesday 2026-10-06 in New York
    (12 hours apart): the best hour is 06:30 in New York, 18:30 in Manila, 150 minutes each.

    >>> from datetime import UTC
    >>> from zoneinfo import ZoneInfo
    >>> from app.scheduling.model import parse_working_hours
    >>> hours = parse_working_hours([{"days": ["mon", "tue", "wed", "thu", "fri"],
    ...                               "start": "09:00", "end": "17:00"}])
    >>> ny, ph = Person("ny", "America/New_York", hours), Person("ph", "Asia/Manila", hours)
    >>> day = datetime(2026, 10, 6, tzinfo=ZoneInfo("America/New_York"))
    >>> best = search_slots([ny, ph], [], day, day + timedelta(days=1), 60, step_minutes=30)[0]
    >>> [(f"{t.local_start:%H:%M}", t.burden_minutes) for t in best.participants]
    [('06:30', 150), ('18:30', 150)]
    """
    people = [*required, *optional]
    check_search_limits(start, end, duration_minutes, step_minutes, len(people), limit)
    if not required:
        raise InvalidInput(("required",), "Give at least one required participant.")
    _check_unique(people)
    starts = grid_starts(start, end, duration_minutes, step_minutes)
    if len(starts) == 0:
        return []
    matrix = burden_matrix(people, starts, duration_minutes)
    needed = matrix.minutes[: len(required)]
    feasible = np.flatnonzero((needed >= 0).all(axis=0))
    if len(feasible) == 0:
        return []
    worst = needed[:, feasible].max(axis=0)
    total = needed[:, feasible].sum(axis=0)
    best = feasible[np.lexsort((starts[feasible], total, worst))[:limit]]

    clock = LocalClock()
    slots: list[Slot] = []
    for n in best.tolist():
        s = int(starts[n])
        e = s + duration_minutes
        shown: list[ParticipantTime] = []
        conflicts: list[Conflict] = []
        column: list[Any] = matrix.minutes[:, n].tolist()
        for p, person in enumerate(people):
            cost = int(column[p])
            shown.append(
                ParticipantTime(
                    person.id,
                    clock(person.timezone, s),
                    clock(person.timezone, e),
                    person.timezone,
                    cost,
                    cost == 0,
                )
            )
            if cost < 0:
                conflicts.append(Conflict(person.id, matrix.reason(p, n) or "unavailable"))
        required_costs = column[: len(required)]
        slots.append(
            Slot(
                utc_datetime(s),
                utc_datetime(e),
                max(required_costs),
                sum(required_costs),
                shown,
                conflicts,
            )
        )
    return slots
