"""What a plan tells people (docs/rules.md, "Planning a series"): each occurrence's notices
and why a date cannot be scheduled, as sentences naming who and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from app.scheduling.burden import BurdenMatrix, profile_key
from app.scheduling.clock import LocalClock, utc_datetime
from app.scheduling.model import Person, format_hhmm
from app.scheduling.windows import BUSY, unavailable_dates
from app.scheduling.wording import city, clock_change, join_names


def _display(names: Mapping[str, str] | None, person: Person) -> str:
    return names.get(person.id, person.id) if names else person.id


# ---------------------------------------------------------------------------------------
# Dates that cannot be scheduled.
# ---------------------------------------------------------------------------------------


def _sentences(groups: Mapping[tuple[str, str, tuple[str, ...]], list[str]]) -> list[str]:
    """One sentence per (zone, verb, reasons): "Ana and Ben (Europe/London) are away: …"."""
    return [
        f"{join_names(who)} ({tz}) {'is' if len(who) == 1 else 'are'} {verb}: {'; '.join(why)}."
        for (tz, verb, why), who in groups.items()
    ]


@dataclass(frozen=True)
class QuorumRows:
    """A quorum rule as the notices see it: the party's name, how many must attend, and the
    rows of its members in the burden matrix."""

    party: str
    min_attendees: int
    rows: range


def _quorum_short(q: QuorumRows, minutes: npt.NDArray[np.int64]) -> str:
    """ "Manila team's quorum of 2 cannot be met: at most 1 of its 3 quorum members can
    attend." for the columns of ``minutes`` (counted people × starts)."""
    attending = (minutes[q.rows.start : q.rows.stop] >= 0).sum(axis=0)
    best = int(attending.max()) if attending.size else 0
    return (
        f"{q.party}'s quorum of {q.min_attendees} cannot be met: at most {best} of its "
        f"{len(q.rows)} quorum members can attend."
    )


def _quorums_short(
    quorums: Sequence[QuorumRows], minutes: npt.NDArray[np.int64], everywhere: bool
) -> list[QuorumRows]:
    """The quorums short at every column of ``minutes`` (``everywhere``) or at its only one."""
    short = []
    for q in quorums:
        attending = (minutes[q.rows.start : q.rows.stop] >= 0).sum(axis=0)
        if (attending < q.min_attendees).all() if everywhere else attending[0] < q.min_attendees:
            short.append(q)
    return short


def unschedulable_reason(
    burdens: BurdenMatrix,
    columns: range,
    truncated: bool,
    counted: Sequence[Person],
    names: Mapping[str, str] | None,
    quorums: Sequence[QuorumRows] = (),
) -> str:
    """Who cannot meet on a date and why: the required people infeasible at every start of
    the date and the quorums that cannot be met at any (its ``columns`` of the ``counted``
    people's ``burdens``: required, then quorum members; ``truncated``: ``not_before``
    removed some of its starts), or else a general sentence plus whoever is away for part of
    it. People of one zone with the same reasons share a sentence.

    e.g. "Ana (America/New_York) is unavailable: public holiday in US: Thanksgiving Day."
    """
    cols = columns
    n_required = len(counted) - sum(len(q.rows) for q in quorums)
    everything = burdens.minutes[:, cols.start : cols.stop]
    short = _quorums_short(quorums, everything, everywhere=True)
    rows = everything[:n_required]
    span_start = int(burdens.starts[cols.start])
    span_end = int(burdens.starts[cols.stop - 1]) + burdens.duration_minutes

    def away(person: Person) -> tuple[str, ...]:
        """Why the person is unavailable somewhere in the span: holidays, time off, busy."""
        first = utc_datetime(span_start).astimezone(person.zone).date()
        last = utc_datetime(span_end - 1).astimezone(person.zone).date()
        reasons = dict.fromkeys(unavailable_dates(person, first, last).values())
        if len(person.busy.between(span_start, span_end)[0]):
            reasons[BUSY] = None
        return tuple(reasons)

    groups: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    blocked = np.flatnonzero((rows < 0).all(axis=1)).tolist()
    if short:  # the members of a short quorum who cannot attend at all are named too
        blocked += [
            p
            for q in short
            for p in q.rows
            if (burdens.minutes[p, cols.start : cols.stop] < 0).all()
        ]
    if blocked or short:
        by_profile: dict[tuple[object, ...], tuple[str, tuple[str, ...]]] = {}
        for p in blocked:
            person = counted[p]
            key = profile_key(person)
            if key not in by_profile:  # same profile, same reasons: ask once
                reasons = burdens.reasons(p, cols)
                off = set(away(person))
                verb = "unavailable" if all(r in off for r in reasons) else "unable to meet"
                by_profile[key] = (verb, tuple(reasons))
            verb, why_all = by_profile[key]
            groups.setdefault((person.timezone, verb, why_all), []).append(_display(names, person))
        said = " ".join([*(_quorum_short(q, everything) for q in short), *_sentences(groups)])
        return f"In what is left of the day: {said}" if truncated else said
    text = "No time fits every required participant's working hours within their max stretch"
    if truncated:
        text += " in what is left of the day"
    sentences = [text + "."]
    for p in np.flatnonzero((everything < 0).any(axis=1)).tolist():
        person = counted[p]
        off_reasons = away(person)
        if off_reasons:
            key2 = (person.timezone, "unavailable part of the day", off_reasons)
            groups.setdefault(key2, []).append(_display(names, person))
    sentences += _sentences(groups)
    return " ".join(sentences)


# ---------------------------------------------------------------------------------------
# Notices of one occurrence.
# ---------------------------------------------------------------------------------------


def fallback_notice(
    burdens: BurdenMatrix,
    wanted: int,
    fixed_time: int,
    planned_time: int,
    counted: Sequence[Person],
    anchor: str,
    names: Mapping[str, str] | None,
    quorums: Sequence[QuorumRows] = (),
) -> str:
    """Why a date of a fixed-time series is not at the fixed time: ``fixed_time`` and
    ``planned_time`` are anchor-local minutes of day, ``wanted`` the column of the counted
    people's ``burdens`` at the fixed time (-1 where that time is not a start)."""
    planned_hhmm = format_hhmm(planned_time)
    fixed_hhmm = format_hhmm(fixed_time)
    head = f"Fell back from {fixed_hhmm} to {planned_hhmm} {city(anchor)} time"
    if wanted < 0:
        return f"{head}: {fixed_hhmm} is not an available start on this date."
    n_required = len(counted) - sum(len(q.rows) for q in quorums)
    at = burdens.minutes[:, wanted : wanted + 1]
    short = _quorums_short(quorums, at, everywhere=False)
    rows = [*range(n_required), *(p for q in short for p in q.rows)]
    why = [
        f"{_display(names, counted[p])} ({counted[p].timezone}): "
        f"{burdens.reason(p, wanted) or 'unavailable'}"
        for p in rows
        if burdens.minutes[p, wanted] < 0
    ]
    said = "; ".join(why)
    if short:
        said = " ".join(_quorum_short(q, at) for q in short) + (f" {said}" if said else "")
    return f"{head}: at {fixed_hhmm} {said}."


def absent_notice(person: Person, reason: str, names: Mapping[str, str] | None) -> str:
    """ "Maria (quorum) is absent: time off." for a quorum member who cannot attend."""
    return f"{_display(names, person)} (quorum) is absent: {reason}."


def _why_local_time_moved(
    tz: str, anchor: str, previous_start: int, start: int, clock: LocalClock
) -> str:
    """Why the local start in ``tz`` moved between two occurrences of an ``anchor`` series."""
    own = clock_change(tz, clock(tz, previous_start), clock(tz, start))
    theirs = clock_change(anchor, clock(anchor, previous_start), clock(anchor, start))
    anchor_before, anchor_after = clock.hhmm(anchor, previous_start), clock.hhmm(anchor, start)
    if anchor_before != anchor_after:
        why = f"the meeting moves from {anchor_before} to {anchor_after} {city(anchor)} time"
        changes = [c for c in (theirs, own if tz != anchor else None) if c]
        if changes:
            why += "; " + " and ".join(changes)
        return why
    if own and not theirs:
        return f"{own} but {city(anchor)} did not"
    if theirs and not own:
        return f"{theirs} but {city(tz)} did not"
    return f"{city(anchor)} and {city(tz)} changed clocks by different amounts"


def local_time_notices(
    people: Sequence[Person],
    previous: Mapping[str, str],
    previous_start: int | None,
    start: int,
    anchor: str,
    clock: LocalClock,
    names: Mapping[str, str] | None,
) -> list[str]:
    """One notice per (zone, old time, new time) naming who and why.

    "Local start moves from 14:00 to 13:00 for Ana (London): London changed clocks
    (BST→GMT) but New York did not."
    """
    groups: dict[tuple[str, str, str], list[str]] = {}
    for person in people:
        old = previous.get(person.id)
        if old is None:
            continue
        new = clock.hhmm(person.timezone, start)
        if old != new:
            groups.setdefault((person.timezone, old, new), []).append(_display(names, person))
    notices: list[str] = []
    for (tz, old, new), who in groups.items():
        head = f"Local start moves from {old} to {new} for {join_names(who)} ({city(tz)})"
        if previous_start is None:
            notices.append(f"{head} since the last held occurrence.")
            continue
        why = _why_local_time_moved(tz, anchor, previous_start, start, clock)
        notices.append(f"{head}: {why}.")
    return notices


def away_notice(
    person: Person,
    away: Mapping[date, str],
    local_start: datetime,
    local_end: datetime,
    names: Mapping[str, str] | None,
) -> str | None:
    """The notice for an optional participant who is ``away`` (local date → reason) on a
    local date the meeting ``[local_start, local_end)`` touches, else None."""
    day, last = local_start.date(), (local_end - timedelta(minutes=1)).date()
    reasons: list[str] = []
    while day <= last:
        if day in away and away[day] not in reasons:
            reasons.append(away[day])
        day += timedelta(days=1)
    if not reasons:
        return None
    return f"{_display(names, person)} (optional) is unavailable: {'; '.join(reasons)}."
