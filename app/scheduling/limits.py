"""The service's limits and the sentences that refuse them, each stated once: the core's
checks and the routers' field bounds both read them from here.
"""

from __future__ import annotations

from datetime import date

# People
MAX_PARTICIPANTS = 200  # required and optional together, in a series or a search
MAX_WORKING_WINDOWS = 100  # weekly working-hour windows of one person

# Meetings
GRID_STEPS: tuple[int, ...] = (5, 10, 15, 30, 60)  # allowed step_minutes of the start grid
MAX_DURATION_MINUTES = 24 * 60
MAX_SEARCH_DAYS = 31  # longest range an ad-hoc search or overlap covers

# Dates (calendar years: app.scheduling.horizon.add_years)
HORIZON_YEARS = 10  # every date a request names lies within this many years of today
MAX_SERIES_YEARS = HORIZON_YEARS  # a series spans at most this long from its start_date
MAX_COUNT = 520  # occurrences a series may be given with count
MAX_INTERVAL = 1000  # an RRULE's INTERVAL
MAX_RULE_LENGTH = 500  # characters of an RRULE, before its spaces are removed

# Refusals (the field each belongs to is named where it is raised).
STEP_MINUTES_REFUSAL = f"step_minutes must be one of {', '.join(map(str, GRID_STEPS))}."
DURATION_NOT_WHOLE_REFUSAL = "duration_minutes must be a whole number."
DURATION_RANGE_REFUSAL = f"duration_minutes must be from 1 to {MAX_DURATION_MINUTES}."
DURATION_REFUSAL = f"duration_minutes must be a whole number from 1 to {MAX_DURATION_MINUTES}."
TOO_MANY_PARTICIPANTS = f"At most {MAX_PARTICIPANTS} participants."
NO_REQUIRED_PARTICIPANT = (
    "Mark at least one participant as required, or give a party a quorum rule."
)
PARTICIPANT_LISTED_TWICE = "A participant is listed twice; list each once."
COUNT_REFUSAL = f"count must be from 1 to {MAX_COUNT}."
RULE_TOO_LONG = f"The recurrence rule is too long; keep it under {MAX_RULE_LENGTH} characters."
TOO_MANY_WORKING_WINDOWS = f"At most {MAX_WORKING_WINDOWS} working-hour windows are allowed."


def participant_count_refusal(got: int) -> str:
    """
    >>> participant_count_refusal(0)
    'Give 1 to 200 participants (got 0).'
    """
    return f"Give 1 to {MAX_PARTICIPANTS} participants (got {got})."


def search_range_refusal(days: float) -> str:
    """
    >>> search_range_refusal(59)
    'The search range is 59 days; at most 31 days are allowed.'
    """
    return f"The search range is {days:g} days; at most {MAX_SEARCH_DAYS} days are allowed."


def until_refusal(until: date, latest: date) -> str:
    """``until`` lies more than :data:`MAX_SERIES_YEARS` after the start date; ``latest``
    is the last date it may be.

    >>> until_refusal(date(2037, 1, 5), date(2036, 12, 3))
    'until 2037-01-05 is more than 10 years after start_date; use a date up to 2036-12-03.'
    """
    return (
        f"until {until} is more than {MAX_SERIES_YEARS} years after start_date; "
        f"use a date up to {latest}."
    )


def quorum_refusal(party: str, members: int) -> str:
    """The quorum rule of a party whose ``min_attendees`` is out of range.

    >>> quorum_refusal("Manila team", 3)
    "Manila team's quorum rule needs min_attendees from 1 to 3, its number of quorum members."
    >>> quorum_refusal("Manila team", 0)[:49]
    'Manila team has no quorum members in this series;'
    """
    if members == 0:
        return (
            f"{party} has no quorum members in this series; mark some members "
            'attendance "quorum" or drop the rule.'
        )
    return (
        f"{party}'s quorum rule needs min_attendees from 1 to {members}, "
        "its number of quorum members."
    )


__all__ = [
    "COUNT_REFUSAL",
    "DURATION_NOT_WHOLE_REFUSAL",
    "DURATION_RANGE_REFUSAL",
    "DURATION_REFUSAL",
    "GRID_STEPS",
    "HORIZON_YEARS",
    "MAX_COUNT",
    "MAX_DURATION_MINUTES",
    "MAX_INTERVAL",
    "MAX_PARTICIPANTS",
    "MAX_RULE_LENGTH",
    "MAX_SEARCH_DAYS",
    "MAX_SERIES_YEARS",
    "MAX_WORKING_WINDOWS",
    "NO_REQUIRED_PARTICIPANT",
    "PARTICIPANT_LISTED_TWICE",
    "RULE_TOO_LONG",
    "STEP_MINUTES_REFUSAL",
    "TOO_MANY_PARTICIPANTS",
    "TOO_MANY_WORKING_WINDOWS",
    "participant_count_refusal",
    "quorum_refusal",
    "search_range_refusal",
    "until_refusal",
]
