"""A deliberately naive, minute-by-minute model of docs/rules.md's rules, for property tests.

It shares nothing with ``app.scheduling`` except the ``Person``/``WeeklyWindow`` vocabulary:
windows are expanded day by day with ``datetime.combine(..., tzinfo=ZoneInfo)`` (fold=0),
holidays come straight from the ``holidays`` package, and every minute is looked at.
Slow by design; use it on short ranges only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from app.scheduling.model import Person

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_minute(value: datetime) -> int:
    return int((value - EPOCH).total_seconds()) // 60


def from_minute(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


def local_date(person: Person, minute: int) -> date:
    return from_minute(minute).astimezone(ZoneInfo(person.timezone)).date()


@cache
def holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def away_dates(person: Person, first: date, last: date) -> dict[date, str]:
    """Holiday or time-off local dates in [first, last] → "holiday" / "time off"."""
    found: dict[date, str] = {}
    if person.holiday_country:
        for year in range(first.year, last.year + 1):
            for day in holiday_dates(person.holiday_country, person.holiday_subdivision, year):
                if first <= day <= last:
                    found[day] = "holiday"
    for a, b in person.time_off:
        day = a
        while day <= b:
            if first <= day <= last:
                found.setdefault(day, "time off")
            day += timedelta(days=1)
    return found


def windows(person: Person, lo: int, hi: int) -> list[tuple[int, int]]:
    """Unmerged windows (UTC minutes) of every local date from 3 days before lo's date to
    3 days after hi's, dropping those whose start date is a holiday or time off."""
    tz = ZoneInfo(person.timezone)
    first = from_minute(lo).date() - timedelta(days=3)
    last = from_minute(hi).date() + timedelta(days=3)
    away = away_dates(person, first, last)
    found: list[tuple[int, int]] = []
    day = first
    while day <= last:
        for w in person.working_hours:
            if day.weekday() not in w.days or day in away:
                continue
            start = datetime.combine(day, time(w.start_minute // 60, w.start_minute % 60), tz)
            end_day = day + timedelta(days=1) if w.end_minute <= w.start_minute else day
            end_minute = w.end_minute
            if end_minute == 1440:
                end_day, end_minute = end_day + timedelta(days=1), 0
            end = datetime.combine(end_day, time(end_minute // 60, end_minute % 60), tz)
            a, b = to_minute(start.astimezone(UTC)), to_minute(end.astimezone(UTC))
            if b > a:
                found.append((a, b))
        day += timedelta(days=1)
    return found


def merged(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def is_busy(person: Person, t: int) -> bool:
    """Minute t is inside one of the person's busy intervals (as given, unmerged)."""
    return any(a <= t < b for a, b in person.busy.intervals())


def burden(person: Person, start: int, duration: int) -> tuple[int | None, str | None]:
    """(weighted minutes, None) or (None, "none" | "holiday" | "time off" | "busy" | "far")."""
    if not person.working_hours:
        return None, "none"
    stretch = person.max_stretch_minutes
    first = local_date(person, start - 1440)
    last = local_date(person, start + duration + 1440)
    away = away_dates(person, first, last)
    for t in range(start, start + duration):
        why = away.get(local_date(person, t))
        if why:
            return None, why
    for t in range(start, start + duration):
        if is_busy(person, t):
            return None, "busy"
    ws = windows(person, start - stretch - 2 * 1440, start + duration + stretch + 2 * 1440)
    total = 0
    for t in range(start, start + duration):
        if any(a <= t < b for a, b in ws):
            continue
        distances = [a - (t + 1) for a, _ in ws if a >= t + 1]
        distances += [t - b for _, b in ws if b <= t]
        d = min(distances, default=10**9)
        if d >= stretch:
            return None, "far"
        total += 1 + d // 60
    return total, None


def shared_minutes(people: list[Person], lo: int, hi: int) -> list[tuple[int, int]]:
    """Maximal runs of minutes in [lo, hi) where everyone is in a window and available."""
    per_person = []
    for p in people:
        ws = windows(p, lo, hi)
        away = away_dates(
            p, local_date(p, lo) - timedelta(days=1), local_date(p, hi) + timedelta(1)
        )
        per_person.append((p, ws, away))
    runs: list[tuple[int, int]] = []
    for t in range(lo, hi):
        ok = all(
            any(a <= t < b for a, b in ws) and local_date(p, t) not in away and not is_busy(p, t)
            for p, ws, away in per_person
        )
        if ok:
            if runs and runs[-1][1] == t:
                runs[-1] = (runs[-1][0], t + 1)
            else:
                runs.append((t, t + 1))
    return runs
