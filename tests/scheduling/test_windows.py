"""Working windows in UTC: DST gaps and folds, overnight shifts, 24:00, holidays, merging."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pytest

from app.scheduling import windows
from app.scheduling.burden import burden_minutes
from app.scheduling.clock import day_number, utc_minute
from app.scheduling.model import InvalidInput, Person, parse_working_hours
from app.scheduling.windows import (
    merge_intervals,
    timeline_dates,
    unavailable_dates,
    working_timeline,
    working_windows,
)


def person(tz: str, *windows: tuple[list[str], str, str], **kw: object) -> Person:
    hours = parse_working_hours([{"days": d, "start": s, "end": e} for d, s, e in windows])
    return Person("p", tz, hours, **kw)  # type: ignore[arg-type]


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def windows_on(p: Person, first: datetime, days: int = 1) -> list[tuple[datetime, datetime]]:
    return working_windows(p, first, first + timedelta(days=days))


def test_spring_forward_gap_time_reads_the_offset_before_the_gap() -> None:
    # 02:30 on 2026-03-08 does not exist in New York; fold=0 reads it as EST: 07:30Z.
    p = person("America/New_York", (["sun"], "02:30", "04:00"))
    assert windows_on(p, z(2026, 3, 8)) == [(z(2026, 3, 8, 7, 30), z(2026, 3, 8, 8, 0))]


def test_window_wholly_inside_the_gap_vanishes() -> None:
    # 02:30 → 07:30Z but 03:00 EDT → 07:00Z: end before start, nothing to work.
    p = person("America/New_York", (["sun"], "02:30", "03:00"))
    assert windows_on(p, z(2026, 3, 8)) == []


def test_window_exactly_filling_the_gap_vanishes() -> None:
    # 02:00-03:00 on 2026-03-08 is New York's skipped hour: 02:00 reads as EST (07:00Z) and
    # 03:00 EDT is 07:00Z too. The window has no minute, so it is no window at all: not
    # listed, and not a working edge that the burden's distances are measured to.
    p = person("America/New_York", (["sun"], "02:00", "03:00"))
    assert windows_on(p, z(2026, 3, 8)) == []
    timeline = working_timeline(p, utc_minute(z(2026, 3, 8)), utc_minute(z(2026, 3, 9)))
    assert timeline.starts.tolist() == timeline.ends.tolist() == []
    # The nearest real windows are a week away either side: 07:00Z is beyond any stretch.
    got = burden_minutes(p, z(2026, 3, 8, 7), 30)
    assert (got.minutes, got.reason) == (None, "3 h or more outside working hours (max stretch)")
    # A week later the same hour exists: 02:00-03:00 EDT is 06:00Z-07:00Z.
    assert windows_on(p, z(2026, 3, 15)) == [(z(2026, 3, 15, 6), z(2026, 3, 15, 7))]


def test_fall_back_ambiguous_time_takes_the_earlier_instant() -> None:
    # 01:30 on 2026-11-01 happens twice in New York; fold=0 is the EDT one, 05:30Z.
    p = person("America/New_York", (["sun"], "01:30", "03:00"))
    assert windows_on(p, z(2026, 11, 1)) == [(z(2026, 11, 1, 5, 30), z(2026, 11, 1, 8, 0))]


def test_overnight_shift_across_fall_back_is_an_hour_longer() -> None:
    p = person("America/New_York", (["sat"], "22:00", "06:00"))
    # Sat 22:00 EDT = 02:00Z Sun; Sun 06:00 EST = 11:00Z: nine hours.
    assert windows_on(p, z(2026, 10, 31), 2) == [(z(2026, 11, 1, 2), z(2026, 11, 1, 11))]


def test_manila_night_shift_and_end_at_or_before_start() -> None:
    p = person("Asia/Manila", (["sun", "mon"], "21:00", "06:00"))
    got = windows_on(p, z(2026, 10, 4), 3)  # Sun 4 Oct → Wed 7 Oct (UTC)
    # Sun 21:00+08 = 13:00Z Sun → Mon 06:00+08 = 22:00Z Sun, and the Monday one.
    assert got == [
        (z(2026, 10, 4, 13), z(2026, 10, 4, 22)),
        (z(2026, 10, 5, 13), z(2026, 10, 5, 22)),
    ]


def test_end_2400_and_whole_day_window() -> None:
    late = person("Europe/London", (["mon"], "18:00", "24:00"))
    assert windows_on(late, z(2026, 6, 1)) == [(z(2026, 6, 1, 17), z(2026, 6, 1, 23))]
    whole = person("Europe/London", (["mon"], "00:00", "24:00"))
    assert windows_on(whole, z(2026, 5, 31, 12), 2) == [(z(2026, 5, 31, 23), z(2026, 6, 1, 23))]


def test_consecutive_whole_days_merge_into_one_window() -> None:
    p = person("Asia/Tokyo", (["mon", "tue", "wed"], "00:00", "24:00"))
    # Mon 00:00 JST = Sun 15:00Z; Wed 24:00 JST = Wed 15:00Z.
    assert windows_on(p, z(2026, 6, 7), 5) == [(z(2026, 6, 7, 15), z(2026, 6, 10, 15))]


def test_overlapping_windows_merge() -> None:
    p = person("UTC", (["mon"], "09:00", "13:00"), (["mon"], "12:00", "17:00"))
    assert windows_on(p, z(2026, 6, 1)) == [(z(2026, 6, 1, 9), z(2026, 6, 1, 17))]


def test_kathmandu_quarter_hour_offset() -> None:
    p = person("Asia/Kathmandu", (["mon"], "09:00", "17:00"))
    assert windows_on(p, z(2026, 6, 1)) == [(z(2026, 6, 1, 3, 15), z(2026, 6, 1, 11, 15))]


def test_lord_howe_half_hour_dst() -> None:
    # Lord Howe is +11 in (southern) summer and +10:30 in winter; DST ends 2026-04-05 02:00.
    p = person("Australia/Lord_Howe", (["sat", "sun"], "09:00", "17:00"))
    assert windows_on(p, z(2026, 4, 3, 12), 2) == [
        (z(2026, 4, 3, 22), z(2026, 4, 4, 6)),  # Sat, +11
        (z(2026, 4, 4, 22, 30), z(2026, 4, 5, 6, 30)),  # Sun, +10:30
    ]


def test_clipped_to_the_requested_range() -> None:
    p = person("UTC", (["mon"], "09:00", "17:00"))
    got = working_windows(p, z(2026, 6, 1, 10, 0, 30), z(2026, 6, 1, 12))
    assert got == [(datetime(2026, 6, 1, 10, 0, 30, tzinfo=UTC), z(2026, 6, 1, 12))]
    assert working_windows(p, z(2026, 6, 1, 12), z(2026, 6, 1, 12)) == []


def test_window_dropped_when_its_start_date_is_a_holiday() -> None:
    # Thanksgiving 2026 is Thursday 26 November.
    p = person("America/New_York", (["wed", "thu"], "21:00", "06:00"), holiday_country="US")
    got = windows_on(p, z(2026, 11, 25), 3)
    # Wed night shift starts before the holiday and is kept; Thursday's is dropped.
    assert got == [(z(2026, 11, 26, 2), z(2026, 11, 26, 11))]


def test_window_dropped_on_time_off() -> None:
    p = person(
        "Europe/Berlin",
        (["mon", "tue", "wed"], "09:00", "17:00"),
        time_off=((date(2026, 6, 2), date(2026, 6, 2)),),
    )
    got = windows_on(p, z(2026, 6, 1), 3)
    assert got == [(z(2026, 6, 1, 7), z(2026, 6, 1, 15)), (z(2026, 6, 3, 7), z(2026, 6, 3, 15))]


def test_empty_working_hours_never_work() -> None:
    assert windows_on(Person("p", "UTC", ()), z(2026, 6, 1), 7) == []


def test_naive_datetimes_are_refused() -> None:
    p = person("UTC", (["mon"], "09:00", "17:00"))
    with pytest.raises(InvalidInput) as err:
        working_windows(p, datetime(2026, 6, 1), z(2026, 6, 2))
    assert err.value.loc == ("start",)
    # A naive end is refused too, located at the end.
    with pytest.raises(InvalidInput) as err:
        working_windows(p, z(2026, 6, 1), datetime(2026, 6, 2))
    assert err.value.loc == ("end",)


def test_unavailable_dates_reasons_and_subdivision_label() -> None:
    p = Person(
        "p",
        "America/Los_Angeles",
        (),
        holiday_country="US",
        holiday_subdivision="CA",
        time_off=((date(2026, 3, 30), date(2026, 4, 1)),),
    )
    got = unavailable_dates(p, date(2026, 3, 28), date(2026, 3, 31))
    assert got == {
        date(2026, 3, 30): "time off",
        date(2026, 3, 31): "public holiday in US-CA: Cesar Chavez Day",
    }


def test_unknown_holiday_country_is_invalid_input() -> None:
    p = Person("p", "UTC", (), holiday_country="XX")
    with pytest.raises(InvalidInput) as err:
        unavailable_dates(p, date(2026, 1, 1), date(2026, 1, 2))
    assert err.value.loc == ("holiday_country",)
    # Without a subdivision the message names the country code alone.
    assert err.value.msg == (
        "No holiday calendar for 'XX'; use an ISO 3166 country code such as 'PH' "
        "and, optionally, one of its subdivisions."
    )


def test_clipping_one_minute_either_side_of_each_edge() -> None:
    p = person("UTC", (["mon"], "09:00", "17:00"))
    one = timedelta(minutes=1)
    nine, five = z(2026, 6, 1, 9), z(2026, 6, 1, 17)
    assert working_windows(p, five, five + one) == []
    assert working_windows(p, nine - one, nine) == []
    assert working_windows(p, five - one, five + one) == [(five - one, five)]
    assert working_windows(p, nine - one, nine + one) == [(nine, nine + one)]
    assert working_windows(p, nine + one, five - one) == [(nine + one, five - one)]
    assert working_windows(p, five, nine) == []  # end before start
    # Aware input in any zone comes back in UTC.
    manila = ZoneInfo("Asia/Manila")
    got = working_windows(
        p, datetime(2026, 6, 1, 0, tzinfo=manila), datetime(2026, 6, 2, tzinfo=manila)
    )
    assert got == [(nine, z(2026, 6, 1, 16))]
    assert all(a.tzinfo is UTC for pair in got for a in pair)


def test_windows_on_both_sides_of_new_year_and_a_year_boundary_zone() -> None:
    # São Tomé moved from UTC+0 to UTC+1 at 01:00Z on 1 January 2018 and back a year later.
    p = person(
        "Africa/Sao_Tome", (["sun", "mon", "tue", "wed", "thu", "fri", "sat"], "09:00", "17:00")
    )
    got = windows_on(p, z(2017, 12, 31), 2)
    assert got == [(z(2017, 12, 31, 9), z(2017, 12, 31, 17)), (z(2018, 1, 1, 8), z(2018, 1, 1, 16))]
    got = windows_on(p, z(2018, 12, 31), 2)
    assert got == [(z(2018, 12, 31, 8), z(2018, 12, 31, 16)), (z(2019, 1, 1, 9), z(2019, 1, 1, 17))]
    # A New York night shift from 31 Dec into 1 Jan, and a holiday on 1 Jan in the next year.
    ny = person("America/New_York", (["thu", "fri"], "22:00", "06:00"), holiday_country="US")
    got = windows_on(ny, z(2026, 12, 31), 3)
    assert got == [(z(2027, 1, 1, 3), z(2027, 1, 1, 11))]  # Friday 1 Jan's shift is dropped


def test_unavailable_dates_edges() -> None:
    p = Person(
        "p",
        "UTC",
        (),
        holiday_country="US",
        time_off=((date(2026, 12, 30), date(2027, 1, 2)), (date(2027, 3, 1), date(2027, 3, 1))),
    )
    assert unavailable_dates(p, date(2027, 1, 2), date(2027, 1, 1)) == {}
    got = unavailable_dates(p, date(2026, 12, 31), date(2027, 1, 1))
    assert got == {
        date(2026, 12, 31): "time off",
        date(2027, 1, 1): "public holiday in US: New Year's Day",
    }
    assert list(unavailable_dates(p, date(2027, 1, 2), date(2027, 3, 1))) == [
        date(2027, 1, 2),
        date(2027, 1, 18),  # Martin Luther King Jr. Day
        date(2027, 2, 15),  # Washington's Birthday
        date(2027, 3, 1),
    ]
    assert unavailable_dates(p, date(2027, 3, 1), date(2027, 3, 1)) == {
        date(2027, 3, 1): "time off"
    }


def test_unknown_subdivision_is_invalid_input_naming_it() -> None:
    p = Person("p", "UTC", (), holiday_country="US", holiday_subdivision="XX")
    with pytest.raises(InvalidInput) as err:
        unavailable_dates(p, date(2026, 1, 1), date(2026, 1, 2))
    assert err.value.loc == ("holiday_country",)
    assert "'US-XX'" in err.value.msg


def test_merge_intervals_joins_touching_and_keeps_gaps() -> None:
    def merged(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        starts, ends = merge_intervals(
            np.array([a for a, _ in pairs], dtype=np.int64),
            np.array([b for _, b in pairs], dtype=np.int64),
        )
        return list(zip(starts.tolist(), ends.tolist(), strict=True))

    assert merged([]) == []
    assert merged([(10, 20), (0, 10)]) == [(0, 20)]  # touching, unsorted
    assert merged([(0, 10), (11, 20)]) == [(0, 10), (11, 20)]  # a one-minute gap stays
    assert merged([(0, 30), (5, 10), (12, 40), (41, 42)]) == [(0, 40), (41, 42)]
    assert merged([(5, 6), (0, 100), (50, 60)]) == [(0, 100)]


def test_timeline_dates_reach_two_days_either_side() -> None:
    lo = utc_minute(z(2026, 6, 10, 12))
    assert timeline_dates(lo, lo + 60) == (date(2026, 6, 8), date(2026, 6, 12))
    assert timeline_dates(lo, utc_minute(z(2026, 6, 12))) == (date(2026, 6, 8), date(2026, 6, 14))


def test_time_off_on_a_dst_day_covers_its_23_or_25_hours() -> None:
    # 2026-03-08 in New York runs 05:00Z → 04:00Z next day (23 h); 2026-11-01 04:00Z → 05:00Z.
    allday = (["sun"], "00:00", "24:00")
    for day, first, last in [
        (date(2026, 3, 8), z(2026, 3, 8, 5), z(2026, 3, 9, 4)),
        (date(2026, 11, 1), z(2026, 11, 1, 4), z(2026, 11, 2, 5)),
    ]:
        p = person("America/New_York", allday, time_off=((day, day),))
        timeline = working_timeline(p, utc_minute(first) - 1440, utc_minute(last) + 1440)
        # One piece per stretch of constant offset, end to end.
        starts, ends = timeline.off_starts.tolist(), timeline.off_ends.tolist()
        assert (starts[0], ends[-1]) == (utc_minute(first), utc_minute(last))
        assert starts[1:] == ends[:-1] and len(starts) == 2
        assert timeline.off_days.tolist() == [day_number(day)] * 2
        assert timeline.off_reasons == {day_number(day): "time off"}
        assert timeline.starts.tolist() == timeline.ends.tolist() == []


def test_lord_howe_time_off_across_its_half_hour_change() -> None:
    # 2026-04-05 on Lord Howe: 00:00 +11 = 4 Apr 13:00Z, 24:00 +10:30 = 5 Apr 13:30Z.
    p = person(
        "Australia/Lord_Howe",
        (["mon"], "09:00", "17:00"),
        time_off=((date(2026, 4, 5), date(2026, 4, 5)),),
    )
    timeline = working_timeline(p, utc_minute(z(2026, 4, 3)), utc_minute(z(2026, 4, 7)))
    starts, ends = timeline.off_starts.tolist(), timeline.off_ends.tolist()
    assert (starts[0], ends[-1]) == (
        utc_minute(z(2026, 4, 4, 13)),
        utc_minute(z(2026, 4, 5, 13, 30)),
    )
    assert starts[1:] == ends[:-1] == [utc_minute(z(2026, 4, 4, 15))]


def test_lunar_holidays_past_the_tabulated_years_are_simply_missing() -> None:
    # The package tabulates India's Hindu (lunar) holidays for 2001–2035 and warns outside
    # that range. The rules: such holidays are simply missing, the fixed-date ones still
    # apply, and the lookup neither fails nor warns.
    p = Person("p", "Asia/Kolkata", (), holiday_country="IN")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        in_range = unavailable_dates(p, date(2035, 10, 1), date(2035, 10, 31))
        past = unavailable_dates(p, date(2036, 10, 1), date(2036, 10, 31))
    assert in_range == {
        date(2035, 10, 2): "public holiday in IN: Mahatma Gandhi's Birthday",
        date(2035, 10, 11): "public holiday in IN: Dussehra",
        date(2035, 10, 30): "public holiday in IN: Diwali",
    }
    assert past == {date(2036, 10, 2): "public holiday in IN: Mahatma Gandhi's Birthday"}


def test_only_the_calendars_user_warning_is_silenced(monkeypatch: pytest.MonkeyPatch) -> None:
    # The out-of-range notice above is a UserWarning and is expected; anything else the
    # package says (a deprecation, say) must still reach whoever runs the service.
    def calendar(country: str, subdiv: str | None, years: int) -> dict[date, str]:
        notice = "Requested Holidays are available only from 2001 to 2035."
        warnings.warn(notice, UserWarning, stacklevel=2)
        warnings.warn("This subdivision is deprecated.", DeprecationWarning, stacklevel=2)
        return {date(years, 7, 1): "Founders' Day"}

    monkeypatch.setattr(holidays, "country_holidays", calendar)
    monkeypatch.setattr(windows, "_public_holidays", windows._load_public_holidays)  # no cache
    p = Person("p", "UTC", (), holiday_country="ZZ")
    with pytest.warns(DeprecationWarning) as record:
        got = unavailable_dates(p, date(2026, 6, 30), date(2026, 7, 2))
    assert {w.category for w in record} == {DeprecationWarning}
    assert got == {date(2026, 7, 1): "public holiday in ZZ: Founders' Day"}


def test_windows_either_side_of_the_day_samoa_skipped() -> None:
    # Samoa went from UTC-10 to UTC+14 at the end of Thursday 29 December 2011 (10:00Z on the
    # 30th): Friday 30 December never happened there. Thursday's 09:00-17:00 is read at -10
    # (19:00Z-03:00Z), Saturday's at +14 (09:00+14 = 19:00Z on the 30th).
    p = person("Pacific/Apia", (["thu", "sat"], "09:00", "17:00"))
    assert windows_on(p, z(2011, 12, 30), 2) == [
        (z(2011, 12, 30, 0), z(2011, 12, 30, 3)),  # the tail of Thursday's window
        (z(2011, 12, 30, 19), z(2011, 12, 31, 3)),  # Saturday 31 December
    ]


def test_timeline_lays_out_exactly_the_dates_timeline_dates_names() -> None:
    # burden.py keys a shared timeline by the time off inside timeline_dates(lo, hi) only,
    # so the timeline must not depend on (or reach) any date outside them: with every day
    # 09:00-17:00 UTC, a one-hour range on 10 June has the windows of 8-12 June, and a day
    # off on 13 June changes nothing.
    every_day = (["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "09:00", "17:00")
    lo = utc_minute(z(2026, 6, 10, 12))
    plain = working_timeline(person("UTC", every_day), lo, lo + 60)
    away = working_timeline(
        person("UTC", every_day, time_off=((date(2026, 6, 13), date(2026, 6, 13)),)), lo, lo + 60
    )
    expected = [(utc_minute(z(2026, 6, d, 9)), utc_minute(z(2026, 6, d, 17))) for d in range(8, 13)]
    for timeline in (plain, away):
        got = list(zip(timeline.starts.tolist(), timeline.ends.tolist(), strict=True))
        assert got == expected
        assert timeline.off_starts.tolist() == [] and timeline.off_reasons == {}


def test_time_off_when_clocks_change_at_midnight_is_one_piece() -> None:
    # Chile changes clocks at local midnight. At 03:00Z on 2026-04-05 Sunday 00:00 -03
    # becomes Saturday 23:00 -04, so Sunday runs 04:00Z to 04:00Z (24 h, all at -04). At
    # 04:00Z on 2026-09-06 Saturday 24:00 -04 becomes Sunday 01:00 -03, so Sunday runs
    # 04:00Z to 03:00Z (23 h, all at -03). Either day lies in one offset: one stretch, and
    # nothing (not even an empty piece) at the change.
    for day, first, last in [
        (date(2026, 4, 5), z(2026, 4, 5, 4), z(2026, 4, 6, 4)),
        (date(2026, 9, 6), z(2026, 9, 6, 4), z(2026, 9, 7, 3)),
    ]:
        p = person("America/Santiago", (["mon"], "09:00", "17:00"), time_off=((day, day),))
        timeline = working_timeline(p, utc_minute(first) - 1440, utc_minute(last) + 1440)
        assert timeline.off_starts.tolist() == [utc_minute(first)]
        assert timeline.off_ends.tolist() == [utc_minute(last)]
        assert timeline.off_days.tolist() == [day_number(day)]
