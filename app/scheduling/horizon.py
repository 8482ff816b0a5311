"""How far from today a date may lie: one rule for every date a request names or a series
generates.

Every date — a series' ``start_date`` and ``until``, each date a series generates with
``count``, time-off dates, search and overlap ranges, a moved occurrence's start, the
``from``/``to`` filters — lies within :data:`HORIZON_YEARS` years of *today*, either way.
Today is the service clock's date in UTC when the request is answered. Dates already
stored are not checked again as the clock moves on: a series that started eleven years ago
still plans and can still be edited; only the dates a request names, and the dates that a
change makes a series generate, must be inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.scheduling.limits import HORIZON_YEARS
from app.scheduling.model import InvalidInput


def add_years(day: date, years: int) -> date:
    """``day`` moved by whole years; 29 February becomes 28 February in common years.

    >>> add_years(date(2028, 2, 29), 10)
    datetime.date(2038, 2, 28)
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True, slots=True)
class Horizon:
    """The dates a request may name, from ``first`` to ``last`` inclusive.

    >>> h = Horizon.around(date(2026, 12, 3))
    >>> h.first, h.last
    (datetime.date(2016, 12, 3), datetime.date(2036, 12, 3))
    >>> h.check_date(date(2037, 1, 5), ("start_date",))
    Traceback (most recent call last):
    ...
    app.scheduling.model.InvalidInput: 2037-01-05 is more than 10 years from today (...); ...
    """

    today: date
    first: date
    last: date

    @classmethod
    def around(cls, today: date) -> Horizon:
        return cls(today, add_years(today, -HORIZON_YEARS), add_years(today, HORIZON_YEARS))

    def _refusal(self, what: str) -> str:
        return (
            f"{what} is more than {HORIZON_YEARS} years from today ({self.today}); "
            f"give a date from {self.first} to {self.last}."
        )

    def check_date(self, day: date, loc: Sequence[str | int]) -> date:
        """``day`` if it is inside; otherwise :class:`InvalidInput` saying which dates are."""
        if not self.first <= day <= self.last:
            raise InvalidInput(loc, self._refusal(day.isoformat()))
        return day

    def check_instant(self, instant: datetime, loc: Sequence[str | int]) -> datetime:
        """An aware ``instant`` if its UTC date is inside (years 1 and 9999 included)."""
        try:
            day = instant.astimezone(UTC).date()
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC instant
            day = date.min if instant.year == 1 else date.max
        if not self.first <= day <= self.last:
            raise InvalidInput(loc, self._refusal(instant.isoformat()))
        return instant


__all__ = ["Horizon", "add_years"]
