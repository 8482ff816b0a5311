"""Synthetic feed data: a weekly review rotating between London, New York, Manila, Kathmandu.

Each week the meeting sits at a friendly local time of the next city in turn; the UTC
instants are computed here with zoneinfo from those local times, so they move with every
DST change of 2026: the US springs forward on 03-08 and the EU on 03-29, the EU falls back
on 10-25 and the US on 11-01; Manila (+08) and Kathmandu (+05:45) never change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypedDict, Unpack
from zoneinfo import ZoneInfo

from app.feeds.render import FeedCalendar, FeedEvent

NOW = datetime(2026, 6, 20, 9, 0, tzinfo=UTC)
CREATED = datetime(2025, 12, 1, 15, 4, 5, tzinfo=UTC)
# (zone, local start) of each turn; 45 minutes long.
ROTATION = (
    ("Europe/London", time(12, 0)),
    ("America/New_York", time(7, 30)),
    ("Asia/Manila", time(21, 0)),
    ("Asia/Kathmandu", time(18, 45)),
)
DURATION = timedelta(minutes=45)
FIRST_TUESDAY = date(2026, 1, 6)
WEEKS = 52
MOVED_WEEK = 11  # 2026-03-24, between the US and EU spring changes
CANCELLED_WEEK = 23  # 2026-06-16, four days before NOW: still listed as cancelled
SUMMARY = "Ops review — Acme ↔ Manila CX; QBR prep, notes\\drafts"


def uid(week: int) -> str:
    return f"ops-review-{week:03d}@scheduler.test"


def local_start(week: int) -> datetime:
    zone, at = ROTATION[week % len(ROTATION)]
    return datetime.combine(FIRST_TUESDAY + timedelta(weeks=week), at, tzinfo=ZoneInfo(zone))


def description(start: datetime) -> str:
    lines = []
    for zone, _ in ROTATION:
        local = start.astimezone(ZoneInfo(zone))
        lines.append(
            f"{zone.split('/')[1].replace('_', ' ')}: {local:%a %d %b %H:%M} (burden 0.5 h)"
        )
    lines.append("Running balance: New York 3.0 h, London 2.5 h, Manila 3.5 h, Kathmandu 3.0 h")
    return "\n".join(lines)


def rotating_series() -> list[FeedEvent]:
    """The 52 occurrences of 2026, week 11 moved a day later (sequence 1), week 23 cancelled."""
    events = []
    for week in range(WEEKS):
        start = local_start(week).astimezone(UTC)
        modified, sequence = CREATED, 0
        if week == MOVED_WEEK:
            start += timedelta(days=1)
            modified, sequence = datetime(2026, 3, 2, 10, 0, tzinfo=UTC), 1
        if week == CANCELLED_WEEK:
            modified, sequence = datetime(2026, 6, 1, 8, 30, tzinfo=UTC), 1
        events.append(
            FeedEvent(
                uid=uid(week),
                start=start,
                end=start + DURATION,
                sequence=sequence,
                status="cancelled" if week == CANCELLED_WEEK else "scheduled",
                summary=SUMMARY,
                description=description(start),
                location="https://meet.example.com/ops-review",
                url=None,
                created=CREATED,
                last_modified=modified,
            )
        )
    return events


def rotating_calendar() -> FeedCalendar:
    return FeedCalendar(
        name="Acme ↔ Manila governance",
        description="Weekly ops review; times rotate so every site shares the early/late turns.",
        events=rotating_series(),
    )


def expected_reading(events: list[FeedEvent]) -> list[dict[str, object]]:
    """What every client should read back for ``events``, in the clients' shape."""
    return sorted(
        (
            {
                "uid": event.uid,
                "start_utc": event.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end_utc": event.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "status": {"scheduled": "CONFIRMED", "cancelled": "CANCELLED"}[event.status],
                "summary": event.summary,
                "sequence": event.sequence,
            }
            for event in events
        ),
        key=lambda item: (item["start_utc"], item["uid"]),
    )


class EventChange(TypedDict, total=False):
    """Fields of a FeedEvent to replace: ``dataclasses.replace(event, **change)``."""

    start: datetime
    end: datetime
    sequence: int
    status: Literal["scheduled", "cancelled"]
    summary: str
    description: str
    location: str | None
    url: str | None
    created: datetime
    last_modified: datetime


def simple_event(n: int, start: datetime, /, **changes: Unpack[EventChange]) -> FeedEvent:
    """A plain one-hour event number ``n`` starting at ``start``."""
    event = FeedEvent(
        uid=f"event-{n:05d}@scheduler.test",
        start=start,
        end=start + timedelta(hours=1),
        sequence=0,
        status="scheduled",
        summary=f"Event {n}",
        description=f"Description of event {n}",
        location=None,
        url=None,
        created=CREATED,
        last_modified=CREATED,
    )
    return replace(event, **changes)
