"""The sentences a plan tells people (app.scheduling.notices; docs/rules.md, "Planning a
series"): why a date cannot be scheduled, why a fixed time fell back, who optional is away.

Each case is a handful of people whose burden at each start follows from their hours by
hand: with a 60-minute stretch, a meeting inside the hours costs 0 and one hours away from
them is infeasible ("1 h or more outside working hours (max stretch)").
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from app.scheduling.burden import BurdenMatrix, burden_matrix
from app.scheduling.clock import utc_minute
from app.scheduling.model import NOT_BUSY, BusyTimes, Person, WeeklyWindow, parse_working_hours
from app.scheduling.notices import (
    QuorumRows,
    absent_notice,
    away_notice,
    fallback_notice,
    unschedulable_reason,
)

WED = date(2026, 2, 4)  # no clock change near it anywhere
THANKSGIVING_EVE = date(2026, 11, 25)  # the Wednesday before Thanksgiving (US)
NEW_YORK, MANILA = "America/New_York", "Asia/Manila"
TOO_FAR = "1 h or more outside working hours (max stretch)"
NO_FIT = "No time fits every required participant's working hours within their max stretch"


def wed(start: str, end: str) -> tuple[WeeklyWindow, ...]:
    return parse_working_hours([{"days": ["wed"], "start": start, "end": end}])


def minute(hhmm: str, day: date = WED, timezone: str = "UTC") -> int:
    return utc_minute(datetime.combine(day, time.fromisoformat(hhmm), ZoneInfo(timezone)))


def busy(start: str, end: str) -> BusyTimes:
    return BusyTimes([(minute(start), minute(end))])


def person(
    pid: str,
    hours: tuple[WeeklyWindow, ...],
    *,
    timezone: str = "UTC",
    holiday_country: str | None = None,
    time_off: tuple[tuple[date, date], ...] = (),
    busy: BusyTimes = NOT_BUSY,
) -> Person:
    return Person(pid, timezone, hours, holiday_country, None, time_off, 60, busy)


# Meetings at 09:00 and 15:00 UTC: ANA can only take the first, BEN only the second.
ANA = person("ana", wed("08:00", "10:00"))
BEN = person("ben", wed("14:00", "16:00"))
CY = person("cy", wed("08:00", "17:00"), busy=busy("12:00", "13:00"))  # busy between them
DEE = person("dee", wed("08:00", "17:00"), busy=busy("15:30", "16:00"))  # busy at the second
RAY = person("ray", wed("08:00", "17:00"))  # takes both
OFF = person("off", wed("08:00", "17:00"), time_off=((WED, WED),))
NONE = person("none", ())
LATE = person("late", wed("14:00", "16:00"))  # BEN's profile
STARTS = [minute("09:00"), minute("15:00")]


def burdens(people: list[Person], starts: list[int] = STARTS, duration: int = 60) -> BurdenMatrix:
    return burden_matrix(people, np.array(starts, dtype=np.int64), duration)


def reason(
    people: list[Person],
    *,
    truncated: bool = False,
    quorums: tuple[QuorumRows, ...] = (),
    starts: list[int] = STARTS,
    duration: int = 60,
    names: dict[str, str] | None = None,
) -> str:
    matrix = burdens(people, starts, duration)
    return unschedulable_reason(matrix, range(len(starts)), truncated, people, names, quorums)


def test_the_burdens_the_cases_rest_on() -> None:
    people = [ANA, BEN, CY, DEE, RAY, OFF, NONE]
    assert burdens(people).minutes.tolist() == [
        [0, -1],
        [-1, 0],
        [0, 0],
        [0, -1],
        [0, 0],
        [-1, -1],
        [-1, -1],
    ]


# ---------------------------------------------------------------------------------------
# Unschedulable dates: nobody blocked at every start.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("people", "truncated", "text"),
    [
        ([ANA, BEN], False, f"{NO_FIT}."),
        ([ANA, BEN], True, f"{NO_FIT} in what is left of the day."),
        # CY is busy between the meetings, never at one: not named.
        ([ANA, BEN, CY], False, f"{NO_FIT}."),
        # DEE is busy during the last meeting: away for part of the day.
        (
            [ANA, BEN, CY, DEE],
            False,
            f"{NO_FIT}. Dee (UTC) is unavailable part of the day: busy (calendar).",
        ),
        (
            [ANA, BEN, DEE],
            True,
            f"{NO_FIT} in what is left of the day. Dee (UTC) is unavailable part of the day: "
            "busy (calendar).",
        ),
    ],
)
def test_when_nobody_is_blocked_all_day_the_reason_is_general(
    people: list[Person], truncated: bool, text: str
) -> None:
    assert reason(people, truncated=truncated, names={"dee": "Dee"}) == text


def test_a_quorum_met_somewhere_and_its_member_blocked_all_day_are_not_the_reason() -> None:
    # LATE can attend at 15:00, so the quorum of 1 is met there; NONE never can.
    quorum = QuorumRows("Manila team", 1, range(2, 4))
    assert reason([ANA, BEN, NONE, LATE], quorums=(quorum,)) == f"{NO_FIT}."


# People in New York on the eve of Thanksgiving: EVE takes the 09:00 start, NIGHT the 20:00
# one (01:00Z on Thanksgiving Day). EVE's own dates are Wednesday's only.
EVE = person("eve", wed("08:00", "10:00"), timezone=NEW_YORK, holiday_country="US")
NIGHT = person("night", wed("19:00", "21:00"), timezone=NEW_YORK)


def test_the_day_someone_is_away_is_read_in_their_own_zone() -> None:
    starts = [minute(t, THANKSGIVING_EVE, NEW_YORK) for t in ("09:00", "20:00")]
    assert reason([EVE, NIGHT], starts=starts) == f"{NO_FIT}."
    # Blocked by time off on Wednesday at 20:00 and 21:00 New York (Thursday in UTC).
    away = person(
        "away",
        wed("19:00", "23:00"),
        timezone=NEW_YORK,
        time_off=((THANKSGIVING_EVE, THANKSGIVING_EVE),),
    )
    starts = [minute(t, THANKSGIVING_EVE, NEW_YORK) for t in ("20:00", "21:00")]
    assert reason([away], starts=starts) == "away (America/New_York) is unavailable: time off."


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (60, f"{NO_FIT}."),  # the 23:00 meeting ends at midnight: Thursday is not touched
        (61, f"{NO_FIT}. eve (America/New_York) is unavailable part of the day: time off."),
    ],
)
def test_a_meeting_ending_at_midnight_does_not_touch_the_next_day(duration: int, text: str) -> None:
    thursday = date(2026, 2, 5)
    eve = person("eve", wed("08:00", "10:00"), timezone=NEW_YORK, time_off=((thursday, thursday),))
    night = person("night", wed("22:00", "24:00"), timezone=NEW_YORK)
    starts = [minute("09:00", WED, NEW_YORK), minute("23:00", WED, NEW_YORK)]
    assert reason([eve, night], starts=starts, duration=duration) == text


# ---------------------------------------------------------------------------------------
# Unschedulable dates: who is blocked, and short quorums.
# ---------------------------------------------------------------------------------------


def test_a_blocked_person_with_several_reasons_is_unable_to_meet() -> None:
    ray = person("ray", wed("14:00", "17:00"), busy=busy("15:00", "15:30"))
    assert reason([ray]) == f"ray (UTC) is unable to meet: {TOO_FAR}; busy (calendar)."


@pytest.mark.parametrize("truncated", [False, True])
def test_a_short_quorum_names_its_best_and_everyone_blocked_grouped_by_profile(
    truncated: bool,
) -> None:
    # Required RAY can come, OFF cannot. Of the four quorum members only LATE can ever
    # attend (at 15:00, inside their hours): at most 1 of 4, 2 needed.
    off_too = person("off too", wed("08:00", "17:00"), time_off=((WED, WED),))
    none_too = person("none too", ())
    people = [RAY, OFF, NONE, LATE, off_too, none_too]
    quorum = QuorumRows("Manila team", 2, range(2, 6))
    said = (
        "Manila team's quorum of 2 cannot be met: at most 1 of its 4 quorum members can "
        "attend. off and off too (UTC) are unavailable: time off. none and none too (UTC) "
        "are unable to meet: has no working hours."
    )
    text = f"In what is left of the day: {said}" if truncated else said
    assert reason(people, truncated=truncated, quorums=(quorum,)) == text


# ---------------------------------------------------------------------------------------
# A fixed time that fell back.
# ---------------------------------------------------------------------------------------


def fallback(
    people: list[Person],
    wanted: int,
    fixed: str,
    planned: str,
    quorums: tuple[QuorumRows, ...] = (),
) -> str:
    def of_day(hhmm: str) -> int:
        return minute(hhmm) - minute("00:00")

    return fallback_notice(
        burdens(people),
        wanted,
        of_day(fixed),
        of_day(planned),
        people,
        "Europe/London",
        {"dee": "Dee"},
        quorums,
    )


def test_a_fallback_names_who_cannot_come_at_the_fixed_time() -> None:
    assert fallback([ANA, BEN], 0, "09:00", "15:00") == (
        f"Fell back from 09:00 to 15:00 London time: at 09:00 ben (UTC): {TOO_FAR}."
    )
    assert fallback([ANA, BEN, DEE], 1, "15:00", "09:00") == (
        f"Fell back from 15:00 to 09:00 London time: at 15:00 ana (UTC): {TOO_FAR}; "
        "Dee (UTC): busy (calendar)."
    )
    assert fallback([ANA, BEN], -1, "18:00", "09:00") == (
        "Fell back from 18:00 to 09:00 London time: 18:00 is not an available start on this date."
    )


def test_a_fallback_names_each_quorum_short_at_the_fixed_time_and_its_missing_members() -> None:
    # At 09:00 LATE (Manila team) and NONE (Lagos team) cannot come; CY (Paris team) can.
    people = [RAY, LATE, NONE, CY]
    quorums = (
        QuorumRows("Manila team", 1, range(1, 2)),
        QuorumRows("Lagos team", 1, range(2, 3)),
        QuorumRows("Paris team", 1, range(3, 4)),
    )
    assert fallback(people, 0, "09:00", "15:00", quorums) == (
        "Fell back from 09:00 to 15:00 London time: at 09:00 Manila team's quorum of 1 cannot "
        "be met: at most 0 of its 1 quorum members can attend. Lagos team's quorum of 1 cannot "
        f"be met: at most 0 of its 1 quorum members can attend. late (UTC): {TOO_FAR}; "
        "none (UTC): has no working hours."
    )


# ---------------------------------------------------------------------------------------
# Optional and quorum members who are away.
# ---------------------------------------------------------------------------------------

JUN = Person("jun", MANILA, ())
CHRISTMAS = "public holiday in PH: Christmas Day"


def manila(day: int, hhmm: str) -> datetime:
    return datetime.combine(date(2026, 12, day), time.fromisoformat(hhmm), ZoneInfo(MANILA))


@pytest.mark.parametrize(
    ("start", "end", "away", "text"),
    [
        (manila(24, "22:00"), manila(24, "23:00"), {24: "time off"}, "time off"),
        (manila(24, "22:00"), manila(24, "23:00"), {23: "time off", 25: CHRISTMAS}, None),
        (manila(24, "23:00"), manila(25, "00:00"), {25: CHRISTMAS}, None),  # ends at midnight
        (manila(24, "23:30"), manila(25, "00:01"), {25: CHRISTMAS}, CHRISTMAS),
        (manila(24, "23:00"), manila(25, "01:00"), {24: "time off", 25: CHRISTMAS},
         f"time off; {CHRISTMAS}"),
        (manila(24, "23:00"), manila(25, "01:00"), {24: "time off", 25: "time off"}, "time off"),
        (manila(24, "22:00"), manila(24, "23:00"), {}, None),
    ],
)  # fmt: skip
def test_an_optional_participant_away_on_a_date_the_meeting_touches(
    start: datetime, end: datetime, away: dict[int, str], text: str | None
) -> None:
    dates = {date(2026, 12, day): why for day, why in away.items()}
    expected = None if text is None else f"jun (optional) is unavailable: {text}."
    assert away_notice(JUN, dates, start, end, None) == expected


def test_away_and_absent_notices_use_display_names() -> None:
    away = {date(2026, 12, 24): "time off"}
    assert away_notice(JUN, away, manila(24, "09:00"), manila(24, "10:00"), {"jun": "Jun"}) == (
        "Jun (optional) is unavailable: time off."
    )
    assert absent_notice(JUN, "time off", {"jun": "Jun"}) == "Jun (quorum) is absent: time off."
    assert absent_notice(JUN, "time off", {"ana": "Ana"}) == "jun (quorum) is absent: time off."
