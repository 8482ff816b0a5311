"""RRULE validation and expansion (app.scheduling.recurrence)."""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling.model import InvalidInput
from app.scheduling.recurrence import _twin_shift, parse_recurrence, series_dates

_SUPPORTED = "FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, BYYEARDAY, BYWEEKNO, WKST"
_PLAIN_DAY = (
    "is not a weekday (MO, TU, WE, TH, FR, SA, SU), optionally with an ordinal such as 1WE or -1FR."
)
_ORDINAL = (
    "has an ordinal, which only works with FREQ=MONTHLY or FREQ=YEARLY (without BYWEEKNO); "
    "use a plain weekday such as"
)
_IN_A_MONTH = "a month has at most 5 of each weekday; use an ordinal from 1 to 5 or -1 to -5."
_IN_A_YEAR = "a year has at most 53 of each weekday; use an ordinal from 1 to 53 or -1 to -53."
_TIME_PART = "is not supported: the rule picks dates and the planner picks the time of day."
_GIVE_A_RULE = "Give a recurrence rule such as 'FREQ=WEEKLY;BYDAY=TU'."
_NO_FREQ = "FREQ is missing; start the rule with FREQ=DAILY, WEEKLY, MONTHLY or YEARLY."


@pytest.mark.parametrize(
    ("rule", "normalised"),
    [
        ("FREQ=WEEKLY;BYDAY=TU", "FREQ=WEEKLY;BYDAY=TU"),
        ("RRULE:FREQ=WEEKLY;BYDAY=TU", "FREQ=WEEKLY;BYDAY=TU"),
        ("rrule:freq=monthly;byday=1we", "FREQ=MONTHLY;BYDAY=1WE"),
        (" FREQ=MONTHLY ; BYDAY=-1FR ;", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("BYDAY=2TH;INTERVAL=3;FREQ=MONTHLY", "FREQ=MONTHLY;INTERVAL=3;BYDAY=2TH"),
        (
            "WKST=MO;BYSETPOS=1;BYDAY=MO,TU;BYMONTHDAY=1,2;BYYEARDAY=1;BYWEEKNO=1;BYMONTH=1;"
            "INTERVAL=2;FREQ=YEARLY",
            "FREQ=YEARLY;INTERVAL=2;BYMONTH=1;BYWEEKNO=1;BYYEARDAY=1;BYMONTHDAY=1,2;BYDAY=MO,TU;"
            "BYSETPOS=1;WKST=MO",
        ),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", None),
        ("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", None),
        ("FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO", None),
        ("FREQ=YEARLY;BYYEARDAY=100", None),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;WKST=SU", None),
        ("FREQ=DAILY", None),
        # The edges of every range are inside it, in comma lists too.
        ("FREQ=DAILY;INTERVAL=1", None),
        ("FREQ=DAILY;INTERVAL=1000", None),
        ("FREQ=YEARLY;BYMONTH=1,12", None),
        ("FREQ=MONTHLY;BYMONTHDAY=1,31,-1,-31", None),
        ("FREQ=MONTHLY;BYDAY=5MO,-5FR", None),
        ("FREQ=YEARLY;BYMONTH=1;BYDAY=5MO,-5MO", None),
        ("FREQ=YEARLY;BYDAY=53MO,-53MO", None),
        ("FREQ=YEARLY;BYYEARDAY=1,366,-1,-366", None),
        ("FREQ=YEARLY;BYWEEKNO=1,53,-1,-53", None),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1,366,-1,-366", None),
        ("FREQ=YEARLY;BYMONTH=2;BYSETPOS=-1", None),  # BYMONTH is a BY… part to pick from
        ("FREQ=DAILY" + " " * 490, "FREQ=DAILY"),  # 500 characters with its spaces
    ],
)
def test_valid_rules_are_normalised(rule: str, normalised: str | None) -> None:
    assert parse_recurrence(rule) == (normalised or rule)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", _GIVE_A_RULE),
        (" \n\t", _GIVE_A_RULE),
        (
            "FREQ=DAILY" + " " * 491,
            "The recurrence rule is too long; keep it under 500 characters.",
        ),
        ("FREQ=HOURLY", "FREQ=HOURLY is not supported; use DAILY, WEEKLY, MONTHLY or YEARLY."),
        (
            "FREQ=MINUTELY;INTERVAL=5",
            "FREQ=MINUTELY is not supported; use DAILY, WEEKLY, MONTHLY or YEARLY.",
        ),
        ("FREQ=SECONDLY", "FREQ=SECONDLY is not supported; use DAILY, WEEKLY, MONTHLY or YEARLY."),
        (
            "FREQ=FORTNIGHTLY",
            "FREQ=FORTNIGHTLY is not a frequency; use DAILY, WEEKLY, MONTHLY or YEARLY.",
        ),
        ("BYDAY=TU", _NO_FREQ),
        (";", _NO_FREQ),
        ("FREQ=WEEKLY;BYDAY=XX", f"BYDAY value 'XX' {_PLAIN_DAY}"),
        ("FREQ=WEEKLY;BYDAY=TU,TUESDAY", f"BYDAY value 'TUESDAY' {_PLAIN_DAY}"),
        ("FREQ=WEEKLY;BYDAY=TU=WE", f"BYDAY value 'TU=WE' {_PLAIN_DAY}"),  # split at the first =
        ("FREQ=WEEKLY;BYDAY=1MO", f"BYDAY value '1MO' {_ORDINAL} MO."),
        ("FREQ=DAILY;BYDAY=-1FR", f"BYDAY value '-1FR' {_ORDINAL} FR."),
        ("FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO", f"BYDAY value '1MO' {_ORDINAL} MO."),
        ("FREQ=MONTHLY;BYDAY=6WE", f"BYDAY value '6WE': {_IN_A_MONTH}"),
        ("FREQ=MONTHLY;BYDAY=-6WE", f"BYDAY value '-6WE': {_IN_A_MONTH}"),
        ("FREQ=MONTHLY;BYDAY=0WE", f"BYDAY value '0WE': {_IN_A_MONTH}"),
        ("FREQ=YEARLY;BYMONTH=11;BYDAY=6TH", f"BYDAY value '6TH': {_IN_A_MONTH}"),
        ("FREQ=YEARLY;BYDAY=54MO", f"BYDAY value '54MO': {_IN_A_YEAR}"),
        ("FREQ=YEARLY;BYDAY=-54MO", f"BYDAY value '-54MO': {_IN_A_YEAR}"),
        ("FREQ=WEEKLY;COUNT=10", "COUNT belongs in the count field, not in the rule."),
        (
            "FREQ=WEEKLY;UNTIL=20270101T000000Z",
            "UNTIL belongs in the until field, not in the rule.",
        ),
        (
            "DTSTART:20261124T000000Z\nRRULE:FREQ=WEEKLY",
            "DTSTART belongs in the start_date field, not in the rule.",
        ),
        (
            "FREQ=WEEKLY;DTSTART=20261124",
            "DTSTART belongs in the start_date field, not in the rule.",
        ),
        (
            "RRULE:FREQ=WEEKLY\nEXDATE:20261201T000000Z",
            "Give one RRULE (e.g. 'FREQ=WEEKLY;BYDAY=TU'), not a calendar property list.",
        ),
        ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL=0 must be a whole number from 1 to 1000."),
        ("FREQ=WEEKLY;INTERVAL=1001", "INTERVAL=1001 must be a whole number from 1 to 1000."),
        ("FREQ=WEEKLY;INTERVAL=-1", "INTERVAL=-1 must be a whole number from 1 to 1000."),
        ("FREQ=WEEKLY;INTERVAL=two", "INTERVAL=TWO must be a whole number from 1 to 1000."),
        (
            "FREQ=MONTHLY;BYMONTHDAY=32",
            "BYMONTHDAY value '32' is out of range; use 1 to 31 or -1 to -31.",
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=-32",
            "BYMONTHDAY value '-32' is out of range; use 1 to 31 or -1 to -31.",
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=1,0",
            "BYMONTHDAY value '0' is out of range; use 1 to 31 or -1 to -31.",
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=1,last",
            "BYMONTHDAY value 'LAST' is not a whole number; use 1 to 31 or -1 to -31.",
        ),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY cannot be used with FREQ=WEEKLY; use BYDAY."),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH value '13' is not a month; use 1 (January) to 12."),
        ("FREQ=YEARLY;BYMONTH=0", "BYMONTH value '0' is not a month; use 1 (January) to 12."),
        ("FREQ=YEARLY;BYMONTH=12,-1", "BYMONTH value '-1' is not a month; use 1 (January) to 12."),
        (
            "FREQ=MONTHLY;BYSETPOS=1",
            "BYSETPOS needs another BY… part to pick from, e.g. "
            "'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1'.",
        ),
        (
            "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0",
            "BYSETPOS value '0' is out of range; use 1 to 366 or -1 to -366.",
        ),
        (
            "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=367",
            "BYSETPOS value '367' is out of range; use 1 to 366 or -1 to -366.",
        ),
        (
            "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-367",
            "BYSETPOS value '-367' is out of range; use 1 to 366 or -1 to -366.",
        ),
        ("FREQ=MONTHLY;BYWEEKNO=3", "BYWEEKNO only works with FREQ=YEARLY."),
        ("FREQ=WEEKLY;BYYEARDAY=3", "BYYEARDAY only works with FREQ=YEARLY."),
        (
            "FREQ=YEARLY;BYWEEKNO=54",
            "BYWEEKNO value '54' is out of range; use 1 to 53 or -1 to -53.",
        ),
        (
            "FREQ=YEARLY;BYWEEKNO=1,-54",
            "BYWEEKNO value '-54' is out of range; use 1 to 53 or -1 to -53.",
        ),
        ("FREQ=YEARLY;BYWEEKNO=0", "BYWEEKNO value '0' is out of range; use 1 to 53 or -1 to -53."),
        (
            "FREQ=YEARLY;BYWEEKNO=W1",
            "BYWEEKNO value 'W1' is not a whole number; use 1 to 53 or -1 to -53.",
        ),
        (
            "FREQ=YEARLY;BYYEARDAY=367",
            "BYYEARDAY value '367' is out of range; use 1 to 366 or -1 to -366.",
        ),
        (
            "FREQ=YEARLY;BYYEARDAY=-367",
            "BYYEARDAY value '-367' is out of range; use 1 to 366 or -1 to -366.",
        ),
        (
            "FREQ=YEARLY;BYYEARDAY=1,0",
            "BYYEARDAY value '0' is out of range; use 1 to 366 or -1 to -366.",
        ),
        (
            "FREQ=YEARLY;BYYEARDAY=first",
            "BYYEARDAY value 'FIRST' is not a whole number; use 1 to 366 or -1 to -366.",
        ),
        ("FREQ=WEEKLY;BYHOUR=9", f"BYHOUR {_TIME_PART}"),
        ("FREQ=WEEKLY;BYMINUTE=30", f"BYMINUTE {_TIME_PART}"),
        ("FREQ=WEEKLY;BYSECOND=0", f"BYSECOND {_TIME_PART}"),
        ("FREQ=WEEKLY;BYEASTER=0", f"BYEASTER is not a supported RRULE part; use {_SUPPORTED}."),
        ("FREQ=WEEKLY;WKST=XX", "WKST value 'XX' is not a weekday (MO, TU, …, SU)."),
        ("FREQ=WEEKLY;FREQ=DAILY", "FREQ appears more than once."),
        ("FREQ=WEEKLY;BYDAY=", "BYDAY has no value."),
        (
            "FREQ=WEEKLY;TUESDAYS",
            "'TUESDAYS' is not NAME=VALUE; write e.g. 'FREQ=WEEKLY;BYDAY=TU'.",
        ),
        ("FREQ=WEEKLY;=TU", "'=TU' is not NAME=VALUE; write e.g. 'FREQ=WEEKLY;BYDAY=TU'."),
    ],
)
def test_bad_rules_name_the_wrong_part(rule: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_recurrence(rule)
    assert caught.value.loc == ("recurrence",)
    assert caught.value.msg == message


def test_a_rule_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_recurrence(None)  # type: ignore[arg-type]
    assert (caught.value.loc, caught.value.msg) == (("recurrence",), _GIVE_A_RULE)


def test_what_only_dateutil_refuses_is_a_rule_error_too() -> None:
    # An Arabic-Indic digit passes the ordinal pattern but not dateutil's BYDAY parser.
    with pytest.raises(InvalidInput) as caught:
        parse_recurrence("FREQ=MONTHLY;BYDAY=\u0663MO")
    assert caught.value.loc == ("recurrence",)
    assert caught.value.msg.startswith("The rule 'FREQ=MONTHLY;BYDAY=\u0663MO' is not valid: ")


def test_first_wednesday_monthly() -> None:
    days = series_dates("FREQ=MONTHLY;BYDAY=1WE", date(2026, 11, 1), "Asia/Manila", count=4)
    assert days == [date(2026, 11, 4), date(2026, 12, 2), date(2027, 1, 6), date(2027, 2, 3)]


def test_last_friday_monthly() -> None:
    days = series_dates("FREQ=MONTHLY;BYDAY=-1FR", date(2026, 1, 1), "UTC", count=3)
    assert days == [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)]


def test_bysetpos_last_weekday_of_month() -> None:
    rule = "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    days = series_dates(rule, date(2026, 1, 1), "Europe/London", count=3)
    assert days == [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 31)]


def test_quarterly_second_thursday() -> None:
    rule = "FREQ=MONTHLY;INTERVAL=3;BYDAY=2TH"
    days = series_dates(rule, date(2026, 1, 1), "America/New_York", until=date(2026, 12, 31))
    assert days == [date(2026, 1, 8), date(2026, 4, 9), date(2026, 7, 9), date(2026, 10, 8)]


def test_until_is_inclusive_and_a_start_date_off_the_rule_is_skipped() -> None:
    # 2026-11-23 is a Monday: the first Tuesday follows it; until lands on a Tuesday.
    days = series_dates(
        "FREQ=WEEKLY;BYDAY=TU", date(2026, 11, 23), "America/New_York", until=date(2026, 12, 8)
    )
    assert days == [date(2026, 11, 24), date(2026, 12, 1), date(2026, 12, 8)]


def test_count_and_interval() -> None:
    days = series_dates("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", date(2026, 6, 1), "UTC", count=5)
    assert days == [
        date(2026, 6, 1),
        date(2026, 6, 4),
        date(2026, 6, 15),
        date(2026, 6, 18),
        date(2026, 6, 29),
    ]


def test_leap_day_rule_meets_only_in_leap_years() -> None:
    rule = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"
    days = series_dates(rule, date(2026, 1, 1), "UTC", until=date(2036, 1, 1))
    assert days == [date(2028, 2, 29), date(2032, 2, 29)]


def test_anchor_zone_with_a_midnight_dst_change_gives_the_same_dates() -> None:
    # Santiago moves its clocks at midnight; the dates of the rule do not depend on it.
    rule = "FREQ=WEEKLY;BYDAY=SU"
    assert series_dates(rule, date(2026, 9, 1), "America/Santiago", count=4) == series_dates(
        rule, date(2026, 9, 1), "UTC", count=4
    )


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;INTERVAL=7;BYDAY=MO",  # from a Tuesday: every 7 days is never a Monday
        "FREQ=MONTHLY;INTERVAL=12;BYMONTH=2",  # from January: always January
        "FREQ=MONTHLY;BYDAY=5MO;BYMONTH=2;BYMONTHDAY=1",
    ],
)
@pytest.mark.parametrize("bound", [{"count": 10}, {"until": date(2036, 1, 5)}])
def test_rules_that_never_match_fail_fast(rule: str, bound: dict[str, object]) -> None:
    began = time.perf_counter()
    with pytest.raises(InvalidInput) as caught:
        series_dates(rule, date(2026, 1, 6), "UTC", **bound)  # type: ignore[arg-type]
    assert time.perf_counter() - began < 1.0
    last = bound.get("until", date(2036, 1, 6))
    assert caught.value.loc == ("recurrence",)
    assert caught.value.msg == (
        f"The rule produces no dates from 2026-01-06 to {last}; check that its BY… parts can "
        "all hold on one date (e.g. BYMONTHDAY=31 never falls in BYMONTH=2)."
    )


@pytest.mark.parametrize(
    ("rule", "count", "fit"),
    [("FREQ=YEARLY", 12, 11), ("FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO", 3, 2)],
)
def test_count_beyond_ten_years_is_refused(rule: str, count: int, fit: int) -> None:
    # 2026-01-01 … 2036-01-01: eleven New Year's Days, two Mondays of a week 53.
    with pytest.raises(InvalidInput) as caught:
        series_dates(rule, date(2026, 1, 1), "UTC", count=count)
    assert caught.value.loc == ("count",)
    assert caught.value.msg == (
        f"Only {fit} dates of this rule fall within 10 years of start_date (up to 2036-01-01); "
        f"lower count to at most {fit}."
    )


@pytest.mark.parametrize(
    ("start", "kwargs", "loc", "message"),
    [
        (date(2026, 1, 1), {}, "count", "Give either count or until to end the series."),
        (date(2026, 1, 1), {"count": 0}, "count", "count must be from 1 to 520."),
        (date(2026, 1, 1), {"count": 521}, "count", "count must be from 1 to 520."),
        (
            date(2026, 1, 1),
            {"until": date(2025, 12, 31)},
            "until",
            "until 2025-12-31 is before start_date 2026-01-01.",
        ),
        (
            date(2026, 1, 1),
            {"until": date(2036, 1, 2)},
            "until",
            "until 2036-01-02 is more than 10 years after start_date; use a date up to 2036-01-01.",
        ),
        (
            date(2028, 2, 29),
            {"until": date(2038, 3, 1)},
            "until",
            "until 2038-03-01 is more than 10 years after start_date; use a date up to 2038-02-28.",
        ),
        (date(1899, 12, 31), {"count": 1}, "start_date", "start_date 1899-12-31 is out of range."),
        (date(9001, 1, 1), {"count": 1}, "start_date", "start_date 9001-01-01 is out of range."),
    ],
)
def test_bounds_of_the_series(
    start: date, kwargs: dict[str, object], loc: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        series_dates("FREQ=DAILY", start, "UTC", **kwargs)  # type: ignore[arg-type]
    assert (caught.value.loc, caught.value.msg) == ((loc,), message)


@pytest.mark.parametrize(
    ("rule", "start", "kwargs", "days"),
    [
        ("FREQ=DAILY", date(2026, 1, 1), {"until": date(2026, 1, 1)}, [date(2026, 1, 1)]),
        ("FREQ=WEEKLY;BYDAY=TU", date(2026, 11, 23), {"count": 1}, [date(2026, 11, 24)]),
        (
            "FREQ=DAILY",
            date(1900, 1, 1),
            {"count": 2},
            [date(1900, 1, 1), date(1900, 1, 2)],
        ),
        (
            "FREQ=DAILY",
            date(9000, 12, 31),
            {"count": 2},
            [date(9000, 12, 31), date(9001, 1, 1)],
        ),
        # 1900 is no leap year; until on the last day of the 10 years is inside.
        (
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
            date(1900, 1, 1),
            {"until": date(1910, 1, 1)},
            [date(1904, 2, 29), date(1908, 2, 29)],
        ),
        (
            "FREQ=YEARLY",
            date(2028, 2, 29),
            {"until": date(2038, 2, 28)},
            [date(2028, 2, 29), date(2032, 2, 29), date(2036, 2, 29)],
        ),
        # Week 1 of 2030, 2031 and 2032 starts on the last Monday of the year before.
        (
            "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO",
            date(2029, 1, 2),
            {"until": date(2031, 12, 29)},
            [date(2029, 12, 31), date(2030, 12, 30), date(2031, 12, 29)],
        ),
        # Week 53 exists in years that start on a Thursday (2026) or leap years that
        # start on a Wednesday or Thursday (2032).
        (
            "FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO",
            date(2026, 1, 1),
            {"count": 2},
            [date(2026, 12, 28), date(2032, 12, 27)],
        ),
    ],
)
def test_edges_of_the_series_are_inside(
    rule: str, start: date, kwargs: dict[str, object], days: list[date]
) -> None:
    assert series_dates(rule, start, "UTC", **kwargs) == days  # type: ignore[arg-type]


def test_until_on_the_tenth_anniversary_is_inside() -> None:
    days = series_dates("FREQ=YEARLY", date(2026, 1, 1), "UTC", until=date(2036, 1, 1))
    assert days == [date(year, 1, 1) for year in range(2026, 2037)]


def test_520_weekly_dates_fit_and_unknown_anchor_zone_is_refused() -> None:
    assert len(series_dates("FREQ=WEEKLY", date(2026, 1, 1), "UTC", count=520)) == 520
    with pytest.raises(InvalidInput) as caught:
        series_dates("FREQ=WEEKLY", date(2026, 1, 1), "Mars/Olympus", count=2)
    assert caught.value.loc == ("anchor_timezone",)


_RULES = st.sampled_from(
    [
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=WEEKLY;BYDAY=TU",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;WKST=SU",
        "FREQ=MONTHLY;BYDAY=1WE",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;BYMONTHDAY=31",
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "FREQ=MONTHLY;INTERVAL=3;BYDAY=2TH",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO",
        "FREQ=YEARLY;BYYEARDAY=-1",
        "FREQ=YEARLY;INTERVAL=2;BYMONTH=1,7;BYDAY=1MO",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    rule=_RULES,
    start=st.dates(min_value=date(1990, 1, 1), max_value=date(2120, 12, 31)),
    count=st.integers(min_value=1, max_value=40),
)
def test_expansion_matches_plain_dateutil(rule: str, start: date, count: int) -> None:
    """The bounded expansion (in calendar-identical years near 9999) gives dateutil's dates."""
    expected = [
        d.date()
        for d in rrulestr(rule, dtstart=datetime(start.year, start.month, start.day)).xafter(
            datetime(start.year, start.month, start.day), count=count, inc=True
        )
    ]
    limit = date(start.year + 10, start.month, min(start.day, 28))
    expected = [d for d in expected if d <= limit]
    got = series_dates(rule, start, "UTC", until=limit)[:count]
    assert got == expected[: len(got)]
    assert len(got) == len(expected)


def _same_calendar(a: int, b: int) -> bool:
    """Years ``a`` and ``b`` have the same calendar: every month starts on the same weekday
    (a reference for the shift below, month by month rather than by 1 January and leap)."""
    return all(date(a, m, 1).weekday() == date(b, m, 1).weekday() for m in range(1, 13)) and (
        (date(a, 3, 1) - date(a, 2, 1)) == (date(b, 3, 1) - date(b, 2, 1))
    )


@pytest.mark.parametrize(
    ("first", "last"), [(2026, 2026), (2026, 2027), (2027, 2028), (2028, 2036), (1999, 2001)]
)
def test_twin_years_are_the_latest_identical_calendars_ending_by_9998(
    first: int, last: int
) -> None:
    """The shift lands every year of the span on an identical calendar, the span's last
    year by 9998 (so that dateutil can overshoot into 9999), and no later shift would."""
    shift = _twin_shift(first, last)
    assert shift > 0 and last + shift <= 9998
    assert all(_same_calendar(y, y + shift) for y in range(first, last + 1))
    later = range(shift + 1, 9998 - last + 1)
    assert not any(all(_same_calendar(y, y + k) for y in range(first, last + 1)) for k in later)


def test_no_twin_years_above_the_span_means_no_shift() -> None:
    assert _twin_shift(9998, 9998) == 0
    assert _twin_shift(9990, 9998) == 0
