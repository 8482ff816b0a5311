"""RRULE validation and expansion (app.scheduling.recurrence)."""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling.model import InvalidInput
from app.scheduling.recurrence import parse_recurrence, series_dates


@pytest.mark.parametrize(
    ("rule", "normalised"),
    [
        ("FREQ=WEEKLY;BYDAY=TU", "FREQ=WEEKLY;BYDAY=TU"),
        ("RRULE:FREQ=WEEKLY;BYDAY=TU", "FREQ=WEEKLY;BYDAY=TU"),
        ("rrule:freq=monthly;byday=1we", "FREQ=MONTHLY;BYDAY=1WE"),
        (" FREQ=MONTHLY ; BYDAY=-1FR ;", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("BYDAY=2TH;INTERVAL=3;FREQ=MONTHLY", "FREQ=MONTHLY;INTERVAL=3;BYDAY=2TH"),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", None),
        ("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", None),
        ("FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO", None),
        ("FREQ=YEARLY;BYYEARDAY=100", None),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;WKST=SU", None),
        ("FREQ=DAILY", None),
    ],
)
def test_valid_rules_are_normalised(rule: str, normalised: str | None) -> None:
    assert parse_recurrence(rule) == (normalised or rule)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "Give a recurrence rule"),
        ("FREQ=HOURLY", "FREQ=HOURLY is not supported; use DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=MINUTELY;INTERVAL=5", "FREQ=MINUTELY is not supported"),
        ("FREQ=FORTNIGHTLY", "FREQ=FORTNIGHTLY is not a frequency"),
        ("BYDAY=TU", "FREQ is missing"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY value 'XX' is not a weekday (MO, TU, WE, TH, FR, SA, SU)"),
        ("FREQ=WEEKLY;BYDAY=TU,TUESDAY", "BYDAY value 'TUESDAY' is not a weekday"),
        ("FREQ=WEEKLY;BYDAY=1MO", "BYDAY value '1MO' has an ordinal"),
        ("FREQ=MONTHLY;BYDAY=6WE", "BYDAY value '6WE': a month has at most 5"),
        ("FREQ=MONTHLY;BYDAY=0WE", "BYDAY value '0WE'"),
        ("FREQ=YEARLY;BYDAY=54MO", "a year has at most 53"),
        ("FREQ=WEEKLY;COUNT=10", "COUNT belongs in the count field"),
        ("FREQ=WEEKLY;UNTIL=20270101T000000Z", "UNTIL belongs in the until field"),
        ("DTSTART:20261124T000000Z\nRRULE:FREQ=WEEKLY", "DTSTART belongs in the start_date field"),
        ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL=0 must be a whole number"),
        ("FREQ=WEEKLY;INTERVAL=two", "INTERVAL=TWO must be a whole number"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY value '32' is out of range"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY value '0' is out of range"),
        ("FREQ=MONTHLY;BYMONTHDAY=last", "BYMONTHDAY value 'LAST' is not a whole number"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY cannot be used with FREQ=WEEKLY"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH value '13' is not a month"),
        ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs another BY"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0", "BYSETPOS value '0' is out of range"),
        ("FREQ=MONTHLY;BYWEEKNO=3", "BYWEEKNO only works with FREQ=YEARLY"),
        ("FREQ=MONTHLY;BYYEARDAY=3", "BYYEARDAY only works with FREQ=YEARLY"),
        ("FREQ=WEEKLY;BYHOUR=9", "BYHOUR is not supported"),
        ("FREQ=WEEKLY;BYEASTER=0", "BYEASTER is not a supported RRULE part"),
        ("FREQ=WEEKLY;WKST=XX", "WKST value 'XX' is not a weekday"),
        ("FREQ=WEEKLY;FREQ=DAILY", "FREQ appears more than once"),
        ("FREQ=WEEKLY;BYDAY=", "BYDAY has no value"),
        ("FREQ=WEEKLY;TUESDAYS", "'TUESDAYS' is not NAME=VALUE"),
    ],
)
def test_bad_rules_name_the_wrong_part(rule: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_recurrence(rule)
    assert caught.value.loc == ("recurrence",)
    assert message in caught.value.msg


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
    assert caught.value.loc == ("recurrence",)
    assert "the rule produces no dates" in caught.value.msg.lower()


def test_count_beyond_ten_years_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        series_dates("FREQ=YEARLY", date(2026, 1, 1), "UTC", count=12)
    assert caught.value.loc == ("count",)
    assert "lower count to at most 11" in caught.value.msg  # 2026 … 2036 inclusive


@pytest.mark.parametrize(
    ("kwargs", "loc"),
    [
        ({}, "count"),
        ({"count": 0}, "count"),
        ({"count": 521}, "count"),
        ({"until": date(2025, 12, 31)}, "until"),
        ({"until": date(2036, 1, 2)}, "until"),
    ],
)
def test_bounds_of_the_series(kwargs: dict[str, object], loc: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        series_dates("FREQ=DAILY", date(2026, 1, 1), "UTC", **kwargs)  # type: ignore[arg-type]
    assert caught.value.loc == (loc,)


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
