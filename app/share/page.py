"""What the share page shows, as plain data: :mod:`app.share.routes` gathers a
:class:`SharePage` from the tables, :mod:`app.share.render` lays it out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.scheduling.model import Person, zone
from app.scheduling.wording import length


@dataclass(frozen=True)
class Member:
    """A participant of the series with the core's view of them (effective values)."""

    id: str
    name: str
    party_id: str
    party_name: str
    party_role: str
    attendance: str  # "required", "quorum" or "optional"
    person: Person

    @property
    def required(self) -> bool:
        return self.attendance == "required"

    @property
    def counted(self) -> bool:
        """Their burden counts in fairness (required, or a quorum member who attends)."""
        return self.attendance != "optional"


@dataclass(frozen=True)
class LocalSlot:
    """One participant's side of one meeting, as the API reports it."""

    local_start: datetime
    local_end: datetime
    timezone: str
    burden_minutes: int


@dataclass(frozen=True)
class Meeting:
    """One occurrence. ``date`` is the rule's date in the anchor zone; times are aware."""

    date: date
    start: datetime
    end: datetime
    cancelled: bool
    slots: Mapping[str, LocalSlot]
    notices: tuple[str, ...] = ()
    absent: Mapping[str, str] = field(default_factory=dict)  # quorum members: why not


@dataclass(frozen=True)
class Balance:
    """A ledger line: burden minutes of past and of still scheduled occurrences."""

    label: str
    past_minutes: int
    scheduled_minutes: int
    opening_minutes: int = 0  # carried from before the service
    detail: str | None = None  # e.g. a party's members, mean and largest total

    @property
    def total_minutes(self) -> int:
        return self.opening_minutes + self.past_minutes + self.scheduled_minutes


@dataclass(frozen=True)
class SeriesInfo:
    title: str
    description: str | None
    recurrence: str
    start_date: date
    count: int | None
    until: date | None
    anchor_timezone: str
    policy: str
    duration_minutes: int
    location: str | None

    @property
    def length(self) -> str:
        """The meeting's length in words (``'1 h 30 min'``)."""
        return length(self.duration_minutes)


@dataclass(frozen=True)
class SharePage:
    """Everything the page shows. ``week`` is a Monday (weeks are read in the anchor zone);
    ``meetings`` are every occurrence of the series in start order; ``rule_dates`` the dates
    the rule produces (so a skipped date can be explained); ``first_week``/``last_week``
    bound the navigation."""

    series: SeriesInfo
    members: Sequence[Member]
    meetings: Sequence[Meeting]
    rule_dates: Sequence[date]
    week: date
    first_week: date
    last_week: date
    now: datetime
    people_balance: Sequence[Balance]
    party_balance: Sequence[Balance]
    preview: bool = False


def week_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def default_week(meetings: Sequence[Meeting], now: datetime, anchor_timezone: str) -> date:
    """The week of the next meeting; else of the last one; else this week (anchor zone)."""
    held = [m for m in meetings if not m.cancelled]
    upcoming = [m for m in held if m.end > now]
    if upcoming:
        return week_of(upcoming[0].date)
    if held:
        return week_of(held[-1].date)
    return week_of(now.astimezone(zone(anchor_timezone)).date())
