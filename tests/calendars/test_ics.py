"""app.calendars.ics on files shaped the way each provider writes them (tests/calendars/data).

Expected instants are written by hand (UTC, or a wall time in a named zone read by
zoneinfo), never computed by the code under test. Every window is explicit.
"""

from __future__ import annotations

import doctest
import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar.error import GloballyUniqueTZIDGuessed

from app.calendars import ics as ics_module
from app.calendars.ics import MAX_INSTANCES, MAX_REPETITIONS, Unreadable, busy_intervals
from app.scheduling.model import InvalidInput

DATA = Path(__file__).parent / "data"
START = datetime(2027, 1, 1, tzinfo=UTC)
END = datetime(2027, 12, 1, tzinfo=UTC)
Interval = tuple[int, int]


def minute(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


def utc(year: int, month: int, day: int, hour: int = 0, minutes: int = 0) -> int:
    return minute(datetime(year, month, day, hour, minutes, tzinfo=UTC))


def wall(zone: str, year: int, month: int, day: int, hour: int = 0, minutes: int = 0) -> int:
    """A wall time in ``zone``, read by zoneinfo (fold=0)."""
    return minute(datetime(year, month, day, hour, minutes, tzinfo=ZoneInfo(zone)))


def read(
    documents: list[bytes],
    timezone: str,
    emails: tuple[str, ...] = (),
    start: datetime = START,
    end: datetime = END,
) -> list[Interval]:
    return busy_intervals(documents, timezone=timezone, emails=emails, start=start, end=end)


def file(name: str) -> bytes:
    return (DATA / name).read_bytes()


def touches(busy: list[Interval], a: int, b: int) -> bool:
    return any(x < b and a < y for x, y in busy)


def ics(*events: str, head: str = "") -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nPRODID:-//test//EN\r\n{head}{body}END:VCALENDAR\r\n".encode()


# --- Google ----------------------------------------------------------------------------------

GOOGLE = ("maria.santos@gmail.com",)
BERLIN = "Europe/Berlin"
NY = "America/New_York"


def test_google_calendar_as_a_whole() -> None:
    tuesday = [(1, 5), (1, 12), (2, 16), (2, 23), (3, 2), (3, 9), (3, 16), (3, 23)]
    assert read([file("google.ics")], BERLIN, GOOGLE) == sorted(
        [
            *((utc(2027, m, d, 9), utc(2027, m, d, 9, 30)) for m, d in tuesday),
            (utc(2027, 3, 30, 8), utc(2027, 3, 30, 8, 30)),  # CEST from 28 March
            (utc(2027, 1, 26, 13), utc(2027, 1, 26, 13, 30)),  # the moved instance
            (utc(2027, 1, 11, 9), utc(2027, 1, 11, 10)),
            (utc(2027, 1, 14, 13), utc(2027, 1, 14, 14)),
            (utc(2027, 1, 20, 11), utc(2027, 1, 20, 12)),
            (wall(BERLIN, 2027, 2, 8), wall(BERLIN, 2027, 2, 11)),  # holds 9 Feb's instance
            (utc(2027, 3, 18, 8), utc(2027, 3, 18, 9)),
            (utc(2027, 3, 25, 8), utc(2027, 3, 25, 9)),
            (utc(2027, 4, 1, 7), utc(2027, 4, 1, 8)),
        ]
    )


def test_google_series_with_exdate_moved_and_cancelled_instances() -> None:
    busy = read([file("google.ics")], BERLIN, GOOGLE)

    def at_ten(month: int, day: int) -> tuple[int, int]:  # the series' own time, in Berlin
        return wall(BERLIN, 2027, month, day, 10), wall(BERLIN, 2027, month, day, 10, 30)

    assert at_ten(1, 12) in busy
    assert not touches(busy, *at_ten(1, 19))  # EXDATE
    assert not touches(busy, *at_ten(1, 26))  # moved to 14:00
    assert (wall(BERLIN, 2027, 1, 26, 14), wall(BERLIN, 2027, 1, 26, 14, 30)) in busy
    assert not touches(busy, *at_ten(2, 2))  # a cancelled override
    assert at_ten(3, 30) in busy  # summer time
    assert not touches(busy, *at_ten(4, 6))  # after UNTIL


def test_google_declined_is_not_busy_but_a_guest_declining_is_irrelevant() -> None:
    busy = read([file("google.ics")], BERLIN, GOOGLE)
    assert not touches(busy, utc(2027, 1, 13, 15), utc(2027, 1, 13, 16))
    assert (utc(2027, 1, 14, 13), utc(2027, 1, 14, 14)) in busy
    # Without the participant's address, nothing is known to be declined.
    assert touches(read([file("google.ics")], BERLIN), utc(2027, 1, 13, 15), utc(2027, 1, 13, 16))


def test_google_all_day_events_cover_the_participants_local_days() -> None:
    berlin = read([file("google.ics")], BERLIN, GOOGLE)
    assert not touches(berlin, wall(BERLIN, 2027, 1, 15), wall(BERLIN, 2027, 1, 16))  # free
    assert (wall(BERLIN, 2027, 2, 8), wall(BERLIN, 2027, 2, 11)) in berlin
    new_york = read([file("google.ics")], NY, GOOGLE)
    assert (wall(NY, 2027, 2, 8), wall(NY, 2027, 2, 11)) in new_york


def test_google_own_meetings_are_never_busy() -> None:
    busy = read([file("google.ics")], BERLIN, GOOGLE)
    assert not touches(busy, utc(2027, 1, 12, 13), utc(2027, 1, 12, 14))


def test_google_x_wr_timezone_repairs_utc_series_and_floating_times() -> None:
    for participant in (BERLIN, NY):
        busy = read([file("google.ics")], participant, GOOGLE)
        # Written as 08:00Z, meant as 09:00 in Berlin: 07:00Z once summer time starts.
        assert (utc(2027, 4, 1, 7), utc(2027, 4, 1, 8)) in busy
        assert not touches(busy, utc(2027, 4, 1, 8), utc(2027, 4, 1, 9))
        # Floating 12:00 is read in the calendar's X-WR-TIMEZONE, whoever reads it.
        assert (wall(BERLIN, 2027, 1, 20, 12), wall(BERLIN, 2027, 1, 20, 13)) in busy


def test_the_window_clips_and_nothing_outside_it_is_read() -> None:
    start, end = datetime(2027, 2, 9, 12, tzinfo=UTC), datetime(2027, 2, 20, tzinfo=UTC)
    busy = read([file("google.ics")], BERLIN, GOOGLE, start=start, end=end)
    assert busy == [
        (minute(start), wall(BERLIN, 2027, 2, 11)),
        (utc(2027, 2, 16, 9), utc(2027, 2, 16, 9, 30)),
    ]
    assert read([file("google.ics")], BERLIN, GOOGLE, start=end, end=end) == []


# --- Outlook / Microsoft 365 -----------------------------------------------------------------

CONTOSO = ("maria.santos@contoso.com",)


def test_outlook_windows_zone_names_with_and_without_vtimezone() -> None:
    busy = read([file("outlook.ics")], BERLIN, CONTOSO)
    # "W. Europe Standard Time" series (VTIMEZONE), with an EXDATE and a moved instance.
    assert (utc(2027, 1, 4, 8), utc(2027, 1, 4, 9)) in busy
    assert not touches(busy, utc(2027, 1, 18, 8), utc(2027, 1, 18, 9))
    assert (utc(2027, 1, 25, 10), utc(2027, 1, 25, 11)) in busy
    assert (utc(2027, 3, 29, 7), utc(2027, 3, 29, 8)) in busy  # summer time, last by UNTIL
    la = "America/Los_Angeles"
    assert (wall(la, 2027, 1, 20, 8), wall(la, 2027, 1, 20, 9)) in busy
    sg = "Asia/Singapore"  # "Singapore Standard Time", no VTIMEZONE in the file
    assert (wall(sg, 2027, 1, 21, 9), wall(sg, 2027, 1, 21, 10)) in busy
    # "Eastern Standard Time 1" (Outlook numbers variants), no VTIMEZONE
    assert (wall(NY, 2027, 2, 12, 9), wall(NY, 2027, 2, 12, 10)) in busy
    assert (utc(2027, 2, 11, 15), utc(2027, 2, 11, 16)) in busy  # "tzone://Microsoft/Utc"


def test_outlook_customized_time_zone_is_read_from_its_own_vtimezone() -> None:
    busy = read([file("outlook.ics")], BERLIN, CONTOSO)
    assert (utc(2027, 1, 22, 12, 30), utc(2027, 1, 22, 13, 30)) in busy  # UTC−3:30
    assert (utc(2027, 3, 15, 11, 30), utc(2027, 3, 15, 12, 30)) in busy  # UTC−2:30
    # 02:30 falls in that zone's spring-forward gap: read with the offset before it (−3:30).
    assert (utc(2027, 3, 14, 6), utc(2027, 3, 14, 6, 30)) in busy


def test_outlook_busy_status() -> None:
    busy = read([file("outlook.ics")], BERLIN, CONTOSO)
    assert (utc(2027, 1, 25, 14), utc(2027, 1, 25, 15)) in busy  # STATUS:TENTATIVE is busy
    assert not touches(busy, utc(2027, 1, 26, 14), utc(2027, 1, 26, 15))  # TRANSPARENT
    assert not touches(busy, utc(2027, 1, 27, 14), utc(2027, 1, 27, 15))  # CANCELLED
    assert not touches(busy, utc(2027, 1, 28, 14), utc(2027, 1, 28, 15))  # BUSYSTATUS:FREE
    assert (wall(BERLIN, 2027, 2, 22), wall(BERLIN, 2027, 2, 27)) in busy  # all-day OOF


def test_outlook_unknown_tzid_is_read_in_the_participants_zone() -> None:
    for participant in (BERLIN, "Asia/Manila"):
        busy = read([file("outlook.ics")], participant, CONTOSO)
        start = wall(participant, 2027, 2, 10, 15)
        assert (start, start + 60) in busy  # "Mars Standard Time"


def test_outlook_desktop_export_quoted_tzid_and_tab_folding() -> None:
    busy = read([file("outlook-desktop.ics")], "Asia/Manila", CONTOSO)
    assert busy == [(utc(2027, 3, 29, 8, 30), utc(2027, 3, 29, 9, 30))]


# --- iCloud ----------------------------------------------------------------------------------

LA = "America/Los_Angeles"
ICLOUD = ("maria@icloud.com",)


def test_icloud_calendar_as_a_whole() -> None:
    assert read([file("icloud.ics")], LA, ICLOUD) == [
        (wall(LA, 2027, 1, 12, 10), wall(LA, 2027, 1, 12, 11)),
        (wall(LA, 2027, 1, 14, 9), wall(LA, 2027, 1, 14, 10)),  # STATUS:TENTATIVE
        (wall(LA, 2027, 3, 1), wall(LA, 2027, 3, 5)),
        (utc(2027, 3, 14, 10, 30), utc(2027, 3, 14, 11)),
        (utc(2027, 11, 7, 8, 30), utc(2027, 11, 7, 10, 30)),
    ]


def test_icloud_floating_times_in_the_participants_zone_with_fold_0() -> None:
    busy = read([file("icloud.ics")], LA, ICLOUD)
    # 02:30 on 14 March does not exist in Los Angeles: read with PST (before the gap).
    assert (utc(2027, 3, 14, 10, 30), utc(2027, 3, 14, 11)) in busy
    # 01:30 on 7 November happens twice: the earlier (PDT); 02:30 is PST.
    assert (utc(2027, 11, 7, 8, 30), utc(2027, 11, 7, 10, 30)) in busy
    manila = read([file("icloud.ics")], "Asia/Manila", ICLOUD)
    assert (utc(2027, 3, 13, 18, 30), utc(2027, 3, 13, 20)) in manila


def test_icloud_declined_through_the_email_parameter() -> None:
    start, end = wall(LA, 2027, 1, 13, 17), wall(LA, 2027, 1, 13, 18)
    assert not touches(read([file("icloud.ics")], LA, ICLOUD), start, end)
    assert not touches(read([file("icloud.ics")], LA, ("MAILTO:Maria@iCloud.com ",)), start, end)
    assert (start, end) in read([file("icloud.ics")], LA, ("someone@else.example",))


def test_icloud_todos_are_ignored() -> None:
    busy = read([file("icloud.ics")], LA, ICLOUD)
    assert not touches(busy, wall(LA, 2027, 1, 15), wall(LA, 2027, 1, 16))


# --- Nextcloud (CalDAV: one document per resource) -------------------------------------------

NEXTCLOUD = ("maria@cloud.example.org",)


def nextcloud() -> list[bytes]:
    return [path.read_bytes() for path in sorted((DATA / "nextcloud").glob("*.ics"))]


def test_nextcloud_resources_as_a_whole() -> None:
    days = [4, 5, 7, 11, 12, 13, 14, 15]  # 6 January cancelled, 8 January moved
    assert read(nextcloud(), BERLIN, NEXTCLOUD) == sorted(
        [
            *((wall(BERLIN, 2027, 1, d, 9, 30), wall(BERLIN, 2027, 1, d, 9, 45)) for d in days),
            (wall(BERLIN, 2027, 1, 8, 13), wall(BERLIN, 2027, 1, 8, 13, 15)),
            (wall(BERLIN, 2027, 1, 20, 16), wall(BERLIN, 2027, 1, 20, 16, 45)),  # DURATION
            (wall(BERLIN, 2027, 1, 27, 11), wall(BERLIN, 2027, 1, 27, 12)),  # Thunderbird TZID
            (wall(BERLIN, 2027, 1, 29), wall(BERLIN, 2027, 1, 30)),  # DATE, no DTEND: one day
            (utc(2027, 3, 28, 0, 30), utc(2027, 3, 28, 2, 30)),
        ]
    )


def test_nextcloud_duration_hours_are_elapsed_time_across_a_clock_change() -> None:
    # 01:30 CET plus PT2H is 04:30 CEST on the wall clock: two hours, not one.
    busy = read(nextcloud(), BERLIN, NEXTCLOUD)
    assert (utc(2027, 3, 28, 0, 30), utc(2027, 3, 28, 2, 30)) in busy


def test_nextcloud_todos_and_journals_are_ignored() -> None:
    busy = read(nextcloud(), BERLIN, NEXTCLOUD)
    assert not touches(busy, wall(BERLIN, 2027, 1, 21), wall(BERLIN, 2027, 1, 23))


# --- Fastmail --------------------------------------------------------------------------------

FASTMAIL = ("maria@fastmail.com", "Maria.Santos@example.org")


def test_fastmail_calendar_as_a_whole() -> None:
    assert read([file("fastmail.ics")], NY, FASTMAIL) == [
        # A rule that never matches (30 February): its DTSTART alone.
        (wall(NY, 2027, 1, 6, 18), wall(NY, 2027, 1, 6, 19)),
        (wall(NY, 2027, 1, 29, 16), wall(NY, 2027, 1, 29, 17)),
        (wall(NY, 2027, 2, 1, 12), wall(NY, 2027, 2, 1, 13)),
        (wall(NY, 2027, 2, 4, 9), wall(NY, 2027, 2, 4, 10)),  # accepted at the other address
        (wall(NY, 2027, 2, 15, 12), wall(NY, 2027, 2, 15, 13)),
        (wall(NY, 2027, 2, 26, 16), wall(NY, 2027, 2, 26, 17)),
        (wall(NY, 2027, 3, 1, 12), wall(NY, 2027, 3, 1, 13)),
        (utc(2027, 3, 14, 7, 30), utc(2027, 3, 14, 8)),
        (wall(NY, 2027, 3, 20), wall(NY, 2027, 3, 22)),  # DATE with DURATION:P2D
        (wall(NY, 2027, 3, 31, 16), wall(NY, 2027, 3, 31, 17)),
        (utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 7)),
    ]


def test_fastmail_gap_and_fold_follow_fold_0() -> None:
    busy = read([file("fastmail.ics")], NY, FASTMAIL)
    # Floating 02:30 on 14 March: read with EST, the offset before the gap; 04:00 is EDT.
    assert (utc(2027, 3, 14, 7, 30), utc(2027, 3, 14, 8)) in busy
    # TZID 01:30 on 7 November happens twice: the earlier, EDT; 02:00 is EST.
    assert (utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 7)) in busy


def test_fastmail_declined_at_every_address_is_not_busy() -> None:
    busy = read([file("fastmail.ics")], NY, FASTMAIL)
    assert not touches(busy, wall(NY, 2027, 2, 5, 9), wall(NY, 2027, 2, 5, 10))
    only_home = read([file("fastmail.ics")], NY, FASTMAIL[:1])
    assert not touches(only_home, wall(NY, 2027, 2, 4, 9), wall(NY, 2027, 2, 4, 10))


def test_fastmail_no_end_and_no_duration_is_not_busy_and_freebusy_is_ignored() -> None:
    busy = read([file("fastmail.ics")], NY, FASTMAIL)
    assert not touches(busy, wall(NY, 2027, 2, 3, 9), wall(NY, 2027, 2, 3, 10))
    assert not touches(busy, utc(2027, 1, 20, 15), utc(2027, 1, 20, 16))


# --- Time zones across documents -------------------------------------------------------------


def custom_zone(tzid: str, offset: str, day: int) -> bytes:
    zone = (
        f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
        f"TZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    return ics(
        f"UID:{tzid}-{offset}\r\nDTSTART;TZID={tzid}:202702{day:02d}T090000\r\n"
        f"DTEND;TZID={tzid}:202702{day:02d}T100000",
        head=zone,
    )


def test_each_document_is_read_with_its_own_vtimezones() -> None:
    # icalendar keeps the first VTIMEZONE it parses under a TZID for the whole process.
    first = custom_zone("Customized Time Zone", "+0530", 1)
    second = custom_zone("Customized Time Zone", "-0300", 2)
    assert read([first], BERLIN) == [(utc(2027, 2, 1, 3, 30), utc(2027, 2, 1, 4, 30))]
    assert read([second], BERLIN) == [(utc(2027, 2, 2, 12), utc(2027, 2, 2, 13))]
    assert read([first, second], BERLIN) == [
        (utc(2027, 2, 1, 3, 30), utc(2027, 2, 1, 4, 30)),
        (utc(2027, 2, 2, 12), utc(2027, 2, 2, 13)),
    ]


def test_a_windows_name_is_its_iana_zone_whatever_a_vtimezone_once_said() -> None:
    bogus = custom_zone("Tokyo Standard Time", "-1100", 3)
    plain = ics(
        "UID:plain\r\nDTSTART;TZID=Tokyo Standard Time:20270204T090000\r\n"
        "DTEND;TZID=Tokyo Standard Time:20270204T100000"
    )
    tokyo = "Asia/Tokyo"
    assert read([bogus], BERLIN) == [(wall(tokyo, 2027, 2, 3, 9), wall(tokyo, 2027, 2, 3, 10))]
    assert read([plain], BERLIN) == [(wall(tokyo, 2027, 2, 4, 9), wall(tokyo, 2027, 2, 4, 10))]


def test_the_servers_own_zone_is_never_a_tzid() -> None:
    event = (
        "UID:x\r\nDTSTART;TZID=localtime:20270204T090000\r\nDTEND;TZID=localtime:20270204T100000"
    )
    manila = "Asia/Manila"
    assert read([ics(event)], manila) == [
        (wall(manila, 2027, 2, 4, 9), wall(manila, 2027, 2, 4, 10))
    ]


NEW_YORK_RULES = """BEGIN:VTIMEZONE\r
TZID:{tzid}\r
BEGIN:STANDARD\r
DTSTART:16010101T020000\r
TZOFFSETFROM:-0400\r
TZOFFSETTO:-0500\r
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010101T020000\r
TZOFFSETFROM:-0500\r
TZOFFSETTO:-0400\r
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r
END:DAYLIGHT\r
END:VTIMEZONE\r
"""


def test_a_defined_zone_reads_wall_times_as_zoneinfo_does() -> None:
    # New York's rules under a name no table knows: each of 01:00-02:30 and 09:00 on every
    # day of 2027 must be New York's instant (in the gap, the offset before it; in the
    # overlap, the earlier instant).
    tzid = "Customized Time Zone 7"
    new_york = ZoneInfo(NY)
    moment, events, expected = datetime(2027, 1, 1), list[str](), set[int]()
    while moment.year == 2027:
        if moment.hour in (1, 2, 9):
            start = f"DTSTART;TZID={tzid}:{moment:%Y%m%dT%H%M%S}"
            events.append(f"UID:{len(events)}\r\n{start}\r\nDURATION:PT1M")
            expected.add(minute(moment.replace(tzinfo=new_york)))
        moment += timedelta(minutes=30)
    document = ics(*events, head=NEW_YORK_RULES.format(tzid=tzid))
    busy = read([document], BERLIN, end=datetime(2028, 1, 1, tzinfo=UTC))
    assert {a for a, _ in busy} == expected
    # A series written in UTC and meant in that zone (X-WR-TIMEZONE) keeps its wall time.
    weekly = "UID:w\r\nDTSTART:20270305T140000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=3"
    head = f"X-WR-TIMEZONE:{tzid}\r\n" + NEW_YORK_RULES.format(tzid=tzid)
    assert [a for a, _ in read([ics(weekly, head=head)], BERLIN)] == [
        wall(NY, 2027, 3, d, 9) for d in (5, 12, 19)
    ]


def test_x_wr_timezone_that_names_no_zone_leaves_floating_times_to_the_participant() -> None:
    document = ics(
        "UID:a\r\nDTSTART:20270204T090000\r\nDTEND:20270204T100000",
        head="X-WR-TIMEZONE:Mars/Olympus_Mons\r\n",
    )
    manila = "Asia/Manila"
    assert read([document], manila) == [(wall(manila, 2027, 2, 4, 9), wall(manila, 2027, 2, 4, 10))]
    windows = document.replace(b"Mars/Olympus_Mons", b"Tokyo Standard Time")
    tokyo = "Asia/Tokyo"
    assert read([windows], manila) == [(wall(tokyo, 2027, 2, 4, 9), wall(tokyo, 2027, 2, 4, 10))]


def test_a_globally_unique_tzid_without_vtimezone_is_its_iana_zone() -> None:
    tzid = "/freeassociation.sourceforge.net/Tzfile/Europe/Berlin"
    document = ics(
        f"UID:a\r\nDTSTART;TZID={tzid}:20270204T090000\r\nDTEND;TZID={tzid}:20270204T100000"
    )
    # icalendar guesses the same and says so: a warning, an error under this test config.
    with pytest.warns(GloballyUniqueTZIDGuessed):
        busy = read([document], "Asia/Manila")
    assert busy == [(wall(BERLIN, 2027, 2, 4, 9), wall(BERLIN, 2027, 2, 4, 10))]


# --- Unreadable data and bounded work --------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"", "The calendar is empty"),
        (b"  \r\n\r\n", "The calendar is empty"),
        (b"<!DOCTYPE html>\n<html><body>Sign in</body></html>", "starts with '<!DOCTYPE html>'"),
        (b'{"error": "not found"}', "not iCalendar data"),
        (b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Maria\r\nEND:VCARD\r\n", "not BEGIN:VCALENDAR"),
        (bytes(range(256)) * 4, "not iCalendar data"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270101T090000Z\r\n", "cut off"),
        (b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nDTSTART:20270101T090000Z\r\n", "not iCalendar"),
        (b"BEGIN:VCALENDAR\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "not iCalendar data"),
    ],
)
def test_unreadable_data_says_why(document: bytes, reason: str) -> None:
    with pytest.raises(Unreadable) as caught:
        read([document], BERLIN)
    assert reason in caught.value.reason
    assert caught.value.reason == str(caught.value)


def test_broken_events_are_skipped_and_the_rest_is_read() -> None:
    document = ics(
        "UID:a\r\nDTSTART:2027-02-01 09:00\r\nDTEND:20270201T100000Z",
        "UID:b\r\nDTEND:20270201T100000Z",
        "UID:c\r\nDTSTART:20270201T090000Z\r\nRRULE:FREQ=SOMETIMES\r\nDTEND:20270201T100000Z",
        "UID:d\r\nDTSTART:20270201T090000Z\r\nRRULE:FREQ=HOURLY;BYHOUR=25",
        "UID:e\r\nDTSTART:00010101T090000Z\r\nDTEND:99991231T100000Z",
        "UID:f\r\nDTSTART:20270202T090000Z\r\nDTEND:20270202T100000Z",
    )
    assert read([document], BERLIN) == [(utc(2027, 2, 2, 9), utc(2027, 2, 2, 10))]


def test_more_than_the_instance_limit_is_unreadable() -> None:
    start = datetime(2026, 12, 6, tzinfo=UTC)
    every_ten_minutes = ics(
        "UID:x\r\nDTSTART:20261206T000000Z\r\nDURATION:PT5M\r\nRRULE:FREQ=MINUTELY;INTERVAL=10"
    )
    with pytest.raises(Unreadable) as caught:
        read([every_ten_minutes], BERLIN, start=start, end=start + timedelta(days=400))
    assert f"more than {MAX_INSTANCES:,} events in the next 400 days" in caught.value.reason
    hourly = every_ten_minutes.replace(b"MINUTELY;INTERVAL=10", b"HOURLY")
    assert len(read([hourly], BERLIN, start=start, end=start + timedelta(days=400))) == 400 * 24


def test_years_of_history_are_not_read_and_do_not_count() -> None:
    past = [
        f"UID:{n}\r\nDTSTART:{2015 + n // 8000}0{1 + n % 9}{10 + n % 17}T0900{n % 60:02d}Z\r\n"
        f"DTEND:{2015 + n // 8000}0{1 + n % 9}{10 + n % 17}T1000{n % 60:02d}Z\r\nSUMMARY:Old"
        for n in range(MAX_INSTANCES + 10_000)
    ]
    now = "UID:now\r\nDTSTART:20270204T090000Z\r\nDTEND:20270204T100000Z"
    begun = time.process_time()
    assert read([ics(*past, now)], BERLIN) == [(utc(2027, 2, 4, 9), utc(2027, 2, 4, 10))]
    print(f"{len(past):,} past events: {time.process_time() - begun:.2f} s CPU")


def test_a_rule_too_long_to_expand_is_refused_before_expanding_it() -> None:
    since_1990 = ics("UID:x\r\nDTSTART:19900101T000000Z\r\nDURATION:PT1M\r\nRRULE:FREQ=MINUTELY")
    begun = time.process_time()
    with pytest.raises(Unreadable) as caught:
        read([since_1990], BERLIN)
    print(f"refused in {time.process_time() - begun:.3f} s CPU")
    assert f"more than {MAX_REPETITIONS:,} times" in caught.value.reason
    assert "FREQ=MINUTELY" in caught.value.reason and "1990-01-01" in caught.value.reason


def test_count_rules_end_with_the_window() -> None:
    daily = "UID:{uid}\r\nDTSTART:20270105T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT={n}"
    start, end = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)
    few = read([ics(daily.format(uid="a", n=3))], BERLIN, start=start, end=end)
    assert few == [(utc(2027, 1, d, 9), utc(2027, 1, d, 10)) for d in (5, 6, 7)]
    many = read([ics(daily.format(uid="b", n=100_000))], BERLIN, start=start, end=end)
    assert many == [(utc(2027, 1, d, 9), utc(2027, 1, d, 10)) for d in range(5, 32)]
    never = "UID:c\r\nDTSTART:20270105T090000Z\r\nDURATION:PT1H\r\n"
    never += "RRULE:FREQ=DAILY;COUNT=5;BYMONTH=2;BYMONTHDAY=30"
    begun = time.process_time()
    assert read([ics(never)], BERLIN, start=start, end=end) == [
        (utc(2027, 1, 5, 9), utc(2027, 1, 5, 10))
    ]
    print(f"a rule that never matches: {time.process_time() - begun:.3f} s CPU")


def test_touching_and_overlapping_events_are_merged() -> None:
    document = ics(
        "UID:a\r\nDTSTART:20270201T090000Z\r\nDTEND:20270201T100000Z",
        "UID:b\r\nDTSTART:20270201T100000Z\r\nDTEND:20270201T103000Z",
        "UID:c\r\nDTSTART:20270201T092000Z\r\nDTEND:20270201T093000Z",
        "UID:d\r\nDTSTART:20270201T110000Z\r\nDTEND:20270201T103000Z",  # reversed: 10:30-11:00
        "UID:e\r\nDTSTART:20270201T120000Z\r\nDTEND:20270201T120030Z",  # 30 s: the whole minute
    )
    assert read([document], BERLIN) == [
        (utc(2027, 2, 1, 9), utc(2027, 2, 1, 11)),
        (utc(2027, 2, 1, 12), utc(2027, 2, 1, 12, 1)),
    ]


def test_the_docstring_example() -> None:
    result = doctest.testmod(ics_module)
    assert result.attempted > 0 and result.failed == 0


def test_arguments() -> None:
    with pytest.raises(TypeError):
        busy_intervals(b"BEGIN:VCALENDAR", timezone=BERLIN, emails=(), start=START, end=END)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        read([file("google.ics")], BERLIN, start=datetime(2027, 1, 1))
    assert read([], BERLIN) == []
    assert read([file("google.ics")], BERLIN, start=END, end=START) == []


# --- Property: the same minutes as a naive minute set ----------------------------------------

BASE = datetime(2027, 3, 26, tzinfo=UTC)  # spans Berlin's spring-forward night (28 March)
event_kinds = st.sampled_from(["utc", "floating", "transparent", "all-day", "daily"])
events = st.lists(
    st.tuples(event_kinds, st.integers(0, 4 * 1440), st.integers(0, 300), st.integers(1, 3)),
    max_size=10,
)


@settings(max_examples=60, deadline=None)
@given(events=events, offset=st.integers(0, 4 * 1440), length=st.integers(0, 4 * 1440))
def test_matches_a_naive_minute_set(
    events: list[tuple[str, int, int, int]], offset: int, length: int
) -> None:
    berlin = ZoneInfo(BERLIN)
    start, end = BASE + timedelta(minutes=offset), BASE + timedelta(minutes=offset + length)
    lines, expected = [], set()
    for n, (kind, at, duration, count) in enumerate(events):
        first = BASE + timedelta(minutes=at)
        last = first + timedelta(minutes=duration)
        if kind == "all-day":
            day = first.date()
            lines.append(f"UID:{n}\r\nDTSTART;VALUE=DATE:{day:%Y%m%d}")
            midnight = datetime(day.year, day.month, day.day, tzinfo=berlin)
            spans = [(midnight, (midnight + timedelta(days=1)).replace(tzinfo=berlin))]
        elif kind == "floating":  # the same wall times, read in Berlin
            wall_start, wall_end = first.replace(tzinfo=None), last.replace(tzinfo=None)
            lines.append(
                f"UID:{n}\r\nDTSTART:{wall_start:%Y%m%dT%H%M%S}\r\nDTEND:{wall_end:%Y%m%dT%H%M%S}"
            )
            spans = [(wall_start.replace(tzinfo=berlin), wall_end.replace(tzinfo=berlin))]
        elif kind == "daily":
            rule = f"DURATION:PT{duration}M\r\nRRULE:FREQ=DAILY;COUNT={count}"
            lines.append(f"UID:{n}\r\nDTSTART:{first:%Y%m%dT%H%M%SZ}\r\n{rule}")
            spans = [(first + timedelta(days=k), last + timedelta(days=k)) for k in range(count)]
        else:
            transparent = kind == "transparent"
            transp = "TRANSP:TRANSPARENT\r\n" if transparent else ""
            lines.append(
                f"UID:{n}\r\n{transp}DTSTART:{first:%Y%m%dT%H%M%SZ}\r\nDTEND:{last:%Y%m%dT%H%M%SZ}"
            )
            spans = [] if transparent else [(first, last)]
        for begin, finish in spans:
            a, b = minute(begin), -(-int(finish.timestamp()) // 60)
            expected |= set(range(max(a, minute(start)), min(b, minute(end))))
    busy = read([ics(*lines)], BERLIN, start=start, end=end)
    assert {m for a, b in busy for m in range(a, b)} == expected
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(busy))
    assert all(a < b for a, b in busy)
